/**
 * @file jb.h  Adaptive jitter buffer of one site: SpeexDSP's JitterBuffer
 * over a fixed pool of packet slots, so the mixer thread never allocates.
 *
 * SpeexDSP copies every packet with malloc unless a destroy callback is
 * set; with one set it stores our slot pointer and gives it back through
 * the callback when it discards a packet. It does not say when it refuses
 * a hopelessly late packet, so jb_put() applies the same test first and
 * never hands such a packet over (see jb.c).
 *
 * Threads: mixer only (after init). All calls RT-safe except init/close.
 */
#ifndef LB_JB_H
#define LB_JB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_SLOTS 32
#define JB_SLOT_BYTES 1280

struct jb_slot {
	uint32_t ts;
	uint32_t span;
	uint16_t len;
	bool used;
	uint8_t data[JB_SLOT_BYTES];
};

struct jb_stats {
	uint64_t put;
	uint64_t late;          /* refused: too late to play */
	uint64_t overflow;      /* refused: pool full */
	uint64_t resets;
	uint64_t missing;       /* 20 ms chunks with no packet */
	uint64_t insertions;    /* buffer growth steps */
};

struct jb {
	struct JitterBuffer_ *sjb;
	uint32_t frame_ts;      /* one 20 ms step in timestamp units */
	bool reset_state;       /* mirrors SpeexDSP's reset_state */
	uint32_t miss_run;      /* consecutive gets with nothing found */
	uint32_t late_run;
	struct jb_stats st;
	struct jb_slot slotv[JB_SLOTS];
};

int  jb_init(struct jb *jb, uint32_t frame_ts);
void jb_close(struct jb *jb);

/** Put a packet (ts, span in timestamp units). @return 0, or ENOSPC /
 *  ETIMEDOUT when it was refused (counted). RT-safe. */
int jb_put(struct jb *jb, uint32_t ts, uint32_t span, const uint8_t *data,
	   size_t len);

enum jb_result {
	JB_OK,          /* *slotp holds a packet: jb_release() it */
	JB_MISSING,     /* conceal *spanp */
	JB_INSERT,      /* buffer grows: conceal *spanp */
	JB_EMPTY,       /* nothing ever arrived (or after reset) */
};

/**
 * Get what plays in the next 20 ms chunk. RT-safe.
 * On JB_MISSING, *nextp is the packet right after the gap if present
 * (for FEC); it stays in the buffer.
 */
enum jb_result jb_get(struct jb *jb, struct jb_slot **slotp,
		      uint32_t *tsp, uint32_t *spanp,
		      const struct jb_slot **nextp);

void jb_release(struct jb *jb, struct jb_slot *slot);

/** Call once per 20 ms mixer tick after the gets of that tick. */
void jb_tick(struct jb *jb);

/** Drop everything (e.g. after hold or a codec change). */
void jb_reset(struct jb *jb);

/** Current buffering target in timestamp units (for the meters). */
uint32_t jb_delay_ts(struct jb *jb);

#endif
