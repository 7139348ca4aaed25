/**
 * @file tap.c  Tap rings: allocation, the producer's push with counted
 * drops, the consumer's read. See tap.h.
 */
#include <re.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include "ring.h"
#include "tap.h"

#define TAP_CAP_MAX (1u << 20)

struct mix_tap {
	struct mix_tap_prm prm;
	struct ring ring;
	void *buf;
	_Atomic uint64_t drops;
};

static void tap_destructor(void *arg)
{
	struct mix_tap *tap = arg;

	mem_deref(tap->buf);
}

int mix_tap_alloc(struct mix_tap **tapp, const struct mix_tap_prm *prm)
{
	struct mix_tap *tap;
	uint32_t cap = 2, recsz;

	if (!tapp || !prm || !prm->cap || prm->cap > TAP_CAP_MAX)
		return EINVAL;
	switch (prm->kind) {
	case MIX_TAP_MIX:
		recsz = sizeof(struct mix_tap_frame);
		break;
	case MIX_TAP_MEMBER:
		if (!prm->member && !prm->key)
			return EINVAL;
		recsz = sizeof(struct mix_tap_frame);
		break;
	case MIX_TAP_METERS:
		if (!prm->every)
			return EINVAL;
		recsz = sizeof(struct mix_meter);
		break;
	default:
		return EINVAL;
	}
	while (cap < prm->cap)
		cap <<= 1;
	tap = mem_zalloc(sizeof(*tap), tap_destructor);
	if (!tap)
		return ENOMEM;
	tap->prm = *prm;
	tap->buf = mem_zalloc((size_t)cap * recsz, NULL);
	if (!tap->buf) {
		mem_deref(tap);
		return ENOMEM;
	}
	ring_init(&tap->ring, tap->buf, cap, recsz);
	atomic_init(&tap->drops, 0);
	*tapp = tap;
	return 0;
}

bool mix_tap_push(struct mix_tap *tap, const void *rec)
{
	if (ring_push(&tap->ring, rec))
		return true;
	atomic_fetch_add_explicit(&tap->drops, 1, memory_order_relaxed);
	return false;
}

bool mix_tap_push_silent(struct mix_tap *tap,
			 const struct mix_tap_frame *rec)
{
	if (ring_push_part(&tap->ring, rec,
			   offsetof(struct mix_tap_frame, pcm)))
		return true;
	atomic_fetch_add_explicit(&tap->drops, 1, memory_order_relaxed);
	return false;
}

bool mix_tap_read(struct mix_tap *tap, void *rec)
{
	return tap && rec && ring_pop(&tap->ring, rec);
}

uint64_t mix_tap_drops(const struct mix_tap *tap)
{
	return tap ? atomic_load_explicit(&tap->drops,
					  memory_order_relaxed) : 0;
}

enum mix_tap_kind mix_tap_kind(const struct mix_tap *tap)
{
	return tap->prm.kind;
}

const struct mix_tap_prm *mix_tap_prm(const struct mix_tap *tap)
{
	return &tap->prm;
}
