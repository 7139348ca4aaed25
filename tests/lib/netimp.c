/**
 * @file netimp.c  User-space network impairment (see netimp.h).
 *
 * Gilbert-Elliott with average loss p and mean burst b: the bad state
 * loses every packet, the good one none; leaving bad has probability
 * 1/b per packet, entering it p / (b (1 - p)), so the long-run loss is
 * p and bursts last b packets on average.
 */
#include <string.h>
#include "netimp.h"

static double uniform(struct netimp *n)
{
	/* xorshift64*: fast, seeded, good enough for test traffic */
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return (double)((n->rng * 2685821657736338717ull) >> 11) *
		(1.0 / 9007199254740992.0);
}

void netimp_init(struct netimp *n, const struct netimp_prm *prm)
{
	memset(n, 0, sizeof(*n));
	n->prm = *prm;
	if (n->prm.cap_queue_ms <= 0)
		n->prm.cap_queue_ms = 200;
	n->rng = prm->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!n->rng)
		n->rng = 1;
}

bool netimp_clean(const struct netimp *n)
{
	return n->prm.loss_pct <= 0 && n->prm.jitter_ms <= 0 &&
		n->prm.dup_pct <= 0 && n->prm.cap_kbps <= 0;
}

static bool lose(struct netimp *n)
{
	const double p = n->prm.loss_pct / 100;

	if (p <= 0)
		return false;
	if (n->prm.burst <= 1)
		return uniform(n) < p;
	if (n->bad) {
		if (uniform(n) < 1 / n->prm.burst)
			n->bad = false;
	}
	else if (uniform(n) < p / (n->prm.burst * (1 - p))) {
		n->bad = true;
	}
	return n->bad;
}

static void enqueue(struct netimp *n, const uint8_t *pkt, size_t len,
		    int64_t due)
{
	struct netimp_pkt *q;

	if (n->qn == NETIMP_QUEUE || len > NETIMP_PKT) {
		++n->overflow;
		return;
	}
	q = &n->q[n->qn++];
	q->due_ns = due;
	q->order = n->order++;
	q->len = (uint16_t)len;
	memcpy(q->data, pkt, len);
}

void netimp_put(struct netimp *n, const uint8_t *pkt, size_t len,
		int64_t now_ns)
{
	int64_t depart = now_ns;
	int copies = 1, i;

	++n->in;
	n->wire_bytes_in += len + NETIMP_IP_UDP;
	if (lose(n)) {
		++n->lost;
		return;
	}
	if (n->prm.cap_kbps > 0) {
		/* a shaper: the packet waits for the line; a queue longer
		 * than the line's buffer drops it */
		const int64_t tx = (int64_t)((len + NETIMP_IP_UDP) * 8.0 /
					     (n->prm.cap_kbps * 1000) * 1e9);
		const int64_t start = n->line_free_ns > now_ns ?
			n->line_free_ns : now_ns;

		if (start - now_ns > (int64_t)(n->prm.cap_queue_ms * 1e6)) {
			++n->capped;
			return;
		}
		n->line_free_ns = start + tx;
		depart = start + tx;
	}
	if (n->prm.dup_pct > 0 && uniform(n) * 100 < n->prm.dup_pct) {
		copies = 2;
		++n->dups;
	}
	for (i = 0; i < copies; i++) {
		int64_t due = depart;

		if (n->prm.jitter_ms > 0)
			due += (int64_t)(uniform(n) * n->prm.jitter_ms * 1e6);
		enqueue(n, pkt, len, due);
	}
}

bool netimp_get(struct netimp *n, int64_t now_ns, uint8_t *buf,
		size_t *len)
{
	uint32_t i, best = UINT32_MAX;

	for (i = 0; i < n->qn; i++) {
		if (n->q[i].due_ns > now_ns)
			continue;
		if (best == UINT32_MAX ||
		    n->q[i].due_ns < n->q[best].due_ns ||
		    (n->q[i].due_ns == n->q[best].due_ns &&
		     n->q[i].order < n->q[best].order))
			best = i;
	}
	if (best == UINT32_MAX)
		return false;
	memcpy(buf, n->q[best].data, n->q[best].len);
	*len = n->q[best].len;
	n->q[best] = n->q[--n->qn];
	++n->out;
	return true;
}
