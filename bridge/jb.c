/**
 * @file jb.c  SpeexDSP jitter buffer over a preallocated slot pool.
 *
 * Why the mirror of SpeexDSP's rules below: with a destroy callback set,
 * jitter_buffer_put() silently refuses a packet when
 *   !reset_state && ts + span + delay_step < pointer_timestamp
 * and neither stores nor destroys it, so its slot would leak. We apply the
 * same test before putting, and we reset the buffer ourselves before
 * SpeexDSP would do it on its own (after 20 failed gets), so we always
 * know its reset_state. tests/unit/test_jb.c checks that no slot leaks
 * under random loss, reordering, late packets and timestamp jumps.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <speex/speex_jitter.h>
#include "jb.h"

#define LE32(a, b) ((int32_t)((a) - (b)) <= 0)
#define LT32(a, b) ((int32_t)((a) - (b)) < 0)
#define GE32(a, b) ((int32_t)((a) - (b)) >= 0)

/* SpeexDSP resets itself once lost_count > 20; we reset first */
#define MISS_RESET 18
/* this many refused-late packets in a row: the sender jumped, resync */
#define LATE_RESET 8

static void slot_destroy(void *data)
{
	struct jb_slot *slot = (struct jb_slot *)
		((uint8_t *)data - offsetof(struct jb_slot, data));

	slot->used = false;
}

int jb_init(struct jb *jb, uint32_t frame_ts)
{
	spx_int32_t v;

	if (!jb || !frame_ts)
		return EINVAL;
	memset(jb, 0, sizeof(*jb));
	jb->frame_ts = frame_ts;
	jb->sjb = jitter_buffer_init((int)frame_ts);
	if (!jb->sjb)
		return ENOMEM;
	jitter_buffer_ctl(jb->sjb, JITTER_BUFFER_SET_DESTROY_CALLBACK,
			  (void *)slot_destroy);
	v = (spx_int32_t)frame_ts;
	jitter_buffer_ctl(jb->sjb, JITTER_BUFFER_SET_DELAY_STEP, &v);
	jitter_buffer_ctl(jb->sjb, JITTER_BUFFER_SET_CONCEALMENT_SIZE, &v);
	/* a 20 ms late packet costs about as much as 20 ms of extra delay
	 * would; SpeexDSP's default (35) buffers rather more eagerly */
	v = 25;
	jitter_buffer_ctl(jb->sjb, JITTER_BUFFER_SET_LATE_COST, &v);
	jb->reset_state = true;
	return 0;
}

void jb_close(struct jb *jb)
{
	if (!jb || !jb->sjb)
		return;
	jitter_buffer_destroy(jb->sjb);   /* destroys held slots */
	jb->sjb = NULL;
}

void jb_reset(struct jb *jb)
{
	size_t i;

	jitter_buffer_reset(jb->sjb);
	/* slots we hold between get and release are never in SpeexDSP;
	 * everything else is free now */
	for (i = 0; i < JB_SLOTS; i++)
		jb->slotv[i].used = false;
	jb->reset_state = true;
	jb->miss_run = 0;
	jb->late_run = 0;
	++jb->st.resets;
}

static struct jb_slot *slot_alloc(struct jb *jb)
{
	size_t i;

	for (i = 0; i < JB_SLOTS; i++) {
		if (!jb->slotv[i].used)
			return &jb->slotv[i];
	}
	return NULL;
}

int jb_put(struct jb *jb, uint32_t ts, uint32_t span, const uint8_t *data,
	   size_t len)
{
	JitterBufferPacket pkt;
	struct jb_slot *slot;
	uint32_t ptr;

	if (!len || len > JB_SLOT_BYTES || !span)
		return EINVAL;

	if (jb->miss_run >= MISS_RESET)
		jb_reset(jb);

	if (!jb->reset_state) {
		ptr = (uint32_t)jitter_buffer_get_pointer_timestamp(jb->sjb);
		if (LT32(ts + span + jb->frame_ts, ptr)) {
			++jb->st.late;
			if (++jb->late_run < LATE_RESET)
				return ETIMEDOUT;
			jb_reset(jb);
		}
	}
	jb->late_run = 0;

	slot = slot_alloc(jb);
	if (!slot) {
		++jb->st.overflow;
		return ENOSPC;
	}

	slot->used = true;
	slot->ts = ts;
	slot->span = span;
	slot->len = (uint16_t)len;
	memcpy(slot->data, data, len);

	memset(&pkt, 0, sizeof(pkt));
	pkt.data = (char *)slot->data;
	pkt.len = (spx_uint32_t)len;
	pkt.timestamp = ts;
	pkt.span = span;
	jitter_buffer_put(jb->sjb, &pkt);
	++jb->st.put;
	return 0;
}

static const struct jb_slot *find_at(const struct jb *jb, uint32_t ts)
{
	size_t i;

	for (i = 0; i < JB_SLOTS; i++) {
		if (jb->slotv[i].used && jb->slotv[i].ts == ts)
			return &jb->slotv[i];
	}
	return NULL;
}

enum jb_result jb_get(struct jb *jb, struct jb_slot **slotp,
		      uint32_t *tsp, uint32_t *spanp,
		      const struct jb_slot **nextp)
{
	JitterBufferPacket pkt;
	spx_int32_t off = 0;
	bool was_reset = jb->reset_state;
	int r;

	*slotp = NULL;
	*nextp = NULL;
	memset(&pkt, 0, sizeof(pkt));

	r = jitter_buffer_get(jb->sjb, &pkt, (spx_int32_t)jb->frame_ts, &off);
	*tsp = pkt.timestamp;
	*spanp = pkt.span;

	switch (r) {

	case JITTER_BUFFER_OK:
		jb->reset_state = false;
		jb->miss_run = 0;
		*slotp = (struct jb_slot *)
			((uint8_t *)pkt.data - offsetof(struct jb_slot, data));
		return JB_OK;

	case JITTER_BUFFER_INSERTION:
		jb->reset_state = false;
		++jb->st.insertions;
		/* a deferred interpolation does not count as a miss inside
		 * SpeexDSP; a forced one does. Counting both is safe: we
		 * only reset a little earlier. */
		++jb->miss_run;
		return JB_INSERT;

	default:
		if (was_reset) {
			/* SpeexDSP found nothing to sync on */
			return JB_EMPTY;
		}
		++jb->miss_run;
		++jb->st.missing;
		*nextp = find_at(jb, pkt.timestamp + pkt.span);
		return JB_MISSING;
	}
}

void jb_release(struct jb *jb, struct jb_slot *slot)
{
	(void)jb;
	if (slot)
		slot->used = false;
}

void jb_tick(struct jb *jb)
{
	jitter_buffer_tick(jb->sjb);
}

uint32_t jb_delay_ts(struct jb *jb)
{
	spx_int32_t n = 0;
	uint32_t ptr = (uint32_t)jitter_buffer_get_pointer_timestamp(jb->sjb);
	uint32_t newest = ptr;
	size_t i;

	(void)n;
	for (i = 0; i < JB_SLOTS; i++) {
		const struct jb_slot *s = &jb->slotv[i];

		if (s->used && GE32(s->ts + s->span, newest))
			newest = s->ts + s->span;
	}
	return jb->reset_state ? 0 : newest - ptr;
}
