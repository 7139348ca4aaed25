/**
 * @file tap.h  Taps: what the mixer hands to consumers on other threads
 * (the recorder, the live console), through preallocated
 * single-producer/single-consumer rings.
 *
 * Kinds:
 *  - MIX_TAP_MIX: the room mix after the limiter (what a listener who
 *    is not mixed hears), one struct mix_tap_frame per tick;
 *  - MIX_TAP_MEMBER: one member's processed voice (after echo control,
 *    noise suppression and AGC), one struct mix_tap_frame per tick.
 *    The chain runs in full only where it counts (the member speaks or
 *    is mixed); on other frames the record is silence flagged without
 *    MIX_TAP_AUDIO (and pcm left undefined: not copied), which is what
 *    a recorder wants (an idle site's noise is not worth keeping, and
 *    costs nothing to skip). With
 *    `full` set the chain runs in full on every frame instead, at the
 *    cost of noise suppression for an idle member (about 18 us a
 *    frame);
 *  - MIX_TAP_METERS: every `every` ticks, one struct mix_meter per
 *    member, the last of a snapshot flagged MIX_METER_LAST (an empty
 *    room gives one record with key 0 and that flag).
 *
 * The mixer never waits for a consumer: when a ring is full the record
 * is dropped and counted (mix_tap_drops(), and the room's tap_drops).
 * Every frame record carries the mixer's tick, so a consumer that lost
 * records knows how many 20 ms are missing and where.
 *
 * Life: the control side allocates a tap (mix_tap_alloc), attaches it
 * (mixer_tap_attach), and detaches it (mixer_tap_detach); the mixer
 * confirms with MIX_EV_TAP_DETACHED, and only then may the tap be freed
 * (mem_deref). The consumer may read until it is freed. A member tap
 * follows its member's key (mix_member_prm.key), not the member: when a
 * site's media is rebuilt (a codec change attaches a new member with the
 * same key, then detaches the old one) the tap goes on with the new
 * one; while no member with the key is attached it produces nothing.
 *
 * Threads: alloc/free on the control side; mix_tap_read() on exactly one
 * consumer thread; the mixer thread produces.
 */
#ifndef LB_TAP_H
#define LB_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include "codec.h"

enum mix_tap_kind {
	MIX_TAP_MIX = 1,
	MIX_TAP_MEMBER,
	MIX_TAP_METERS,
};

enum {
	MIX_TAP_HEARD   = 1 << 0,   /* audio arrived (not filler) */
	MIX_TAP_TALKING = 1 << 1,   /* selected: in the mix */
	MIX_TAP_VOICE   = 1 << 2,   /* voice detected */
	MIX_TAP_MUTED   = 1 << 3,   /* may not speak (hold, mute) */
	MIX_TAP_AUDIO   = 1 << 4,   /* pcm holds processed audio (else
				       silence, for member taps pcm is
				       undefined) */
};

struct mix_tap_frame {
	uint64_t tick;               /* the mixer's tick: 20 ms each */
	uint32_t key;                /* member key; 0 for the mix */
	uint32_t flags;              /* MIX_TAP_* */
	int16_t pcm[LB_FRAME];       /* 16 kHz mono */
};

enum {
	MIX_METER_TALKING   = 1 << 0,
	MIX_METER_VOICE     = 1 << 1,
	MIX_METER_HEARD     = 1 << 2,
	MIX_METER_ECHO_ONLY = 1 << 3,
	MIX_METER_OWN       = 1 << 4,   /* own stream (mix-minus) */
	MIX_METER_MUTED     = 1 << 5,
	MIX_METER_LAST      = 1 << 15,  /* ends a snapshot */
};

/** One member's meters at one tick (levels in dBFS, gains in dB). */
struct mix_meter {
	uint64_t tick;
	uint32_t key;
	uint32_t flags;              /* MIX_METER_* */
	float in_rms_dbfs, in_peak_dbfs;     /* as received */
	float out_rms_dbfs, out_peak_dbfs;   /* after its chain */
	float sent_dbfs;                     /* what it is sent */
	float noise_dbfs;
	float agc_gain_db;
	float speech_prob;                   /* 0..1 */
	float echo_corr;                     /* 0..1 */
};

struct mix_tap_prm {
	enum mix_tap_kind kind;
	struct mix_member *member;   /* MIX_TAP_MEMBER: its member, or */
	uint32_t key;                /* the key of the members it follows
					(when member is NULL) */
	uint32_t cap;                /* records the ring holds; rounded up
					to a power of two (frames: 50 = 1 s;
					meters: members x snapshots) */
	uint32_t every;              /* MIX_TAP_METERS: ticks, >= 1 */
	bool full;                   /* MIX_TAP_MEMBER: chain in full on
					every frame (see above) */
};

struct mix_tap;

int  mix_tap_alloc(struct mix_tap **tapp, const struct mix_tap_prm *prm);

/** Take the oldest record into rec (a struct mix_tap_frame or a struct
 *  mix_meter, by kind). @return false when there is none. Consumer
 *  thread. */
bool mix_tap_read(struct mix_tap *tap, void *rec);

/** Records dropped because the ring was full. Any thread. */
uint64_t mix_tap_drops(const struct mix_tap *tap);
enum mix_tap_kind mix_tap_kind(const struct mix_tap *tap);
const struct mix_tap_prm *mix_tap_prm(const struct mix_tap *tap);

/** Producer (the mixer thread): add a record, or drop and count it.
 *  @return false when dropped. RT-safe. */
bool mix_tap_push(struct mix_tap *tap, const void *rec);
/** The same for a frame record without audio: its pcm is not copied
 *  (the consumer reads silence for it). RT-safe. */
bool mix_tap_push_silent(struct mix_tap *tap,
			 const struct mix_tap_frame *rec);

#endif
