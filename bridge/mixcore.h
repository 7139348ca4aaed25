/**
 * @file mixcore.h  The mix core: members' 20 ms frames in, encoded
 * packets and PCM out. No sockets, no clock, no threads.
 *
 * One tick of a room, whoever drives it (the mixer thread, a unit test,
 * the quality benchmark):
 *
 *   for every member: fill mixcore_member_input(), then
 *                     mixcore_member_process()   speech chain (dsp/)
 *   mixcore_select()                             talker selection
 *   mixcore_mix()                                mix, mix-minus, fades,
 *                                                limiter, encodes (or
 *     mixcore_mix_shared(), then for every member, on any thread,
 *     mixcore_member_finish())
 *   for every member: mixcore_member_output()    what it is sent
 *
 * Members are what the room mixes: an RTP site, a local sound card, a
 * prompt player. The core never knows which; it sees a frame in and a
 * stream out. What a member hears is one of the room's *profiles*
 * (struct mix_profile): a codec with its settings, encoded once for all
 * the listeners on it. CODEC_NONE is a PCM profile (nothing encoded, a
 * local sound card's or a test's). A member that is mixed (a talker, a
 * chair) hears the mix without itself, encoded by its own encoder,
 * which takes over the profile encoder's state so the stream goes on
 * without a seam; 1 s after it stops contributing, at a packet boundary
 * of both, it goes back to the shared encoder. A profile move
 * (mixcore_member_move) works the same way: the member takes its own
 * encoder, changes its settings at its next packet boundary (and cuts
 * one packet short if that is what lines it up with the new profile),
 * then joins the new profile's shared encoder. The source side and the
 * speech chain are not touched, so nothing they learnt is lost.
 *
 * Threads: the _alloc functions and mixcore_aec_alloc() are for the
 * control side (they allocate). Everything else belongs to the one
 * thread that drives the core and is RT-safe, except that
 * mixcore_member_process() may run for different members on different
 * threads at once (it touches that member only).
 */
#ifndef LB_MIXCORE_H
#define LB_MIXCORE_H

#include <stdbool.h>
#include <stdint.h>
#include "codec.h"
#include "dsp.h"

#define MIX_PKT_MAX 1500
#define MIX_OWN_IDLE_TICKS 50    /* 1 s without contributing: shared */

struct mixcore;
struct mix_profile;
struct mixcore_member;

/** Processing settings of one member that the operator can change. */
struct mix_dsp {
	struct dsp_proc_prm proc;
	bool chair;                  /* always mixed, outside the K */
};

struct mixcore_prm {
	uint32_t max_members;
	uint32_t max_talkers;        /* K */
};

/** What a member is sent this tick (valid until the next mix). */
struct mixcore_out {
	const uint8_t *pkt;          /* encoded payload, or NULL */
	int len;                     /* > 0: a packet this tick; < 0: the
					encoder failed (keep time) */
	uint32_t samples;            /* 16 kHz samples the packet (or the
					failed one) spans */
	const int16_t *pcm;          /* the 20 ms it hears, LB_FRAME */
	float level_dbfs;            /* of pcm */
};

/* ---- control side ------------------------------------------------------- */

int  mixcore_alloc(struct mixcore **corep, const struct mixcore_prm *prm);

/** A profile: one shared stream for prm (CODEC_NONE: PCM). */
int  mix_profile_alloc(struct mix_profile **profp,
		       const struct codec_prm *prm);
const struct codec_prm *mix_profile_prm(const struct mix_profile *prof);

/** Echo canceller with the bridge's settings (256 ms tail, 800 ms
 *  delay search), to hand over with mixcore_member_set_dsp(). */
int  mixcore_aec_alloc(struct dsp_aec **aecp);

/**
 * A member that will hear prof, processed with dsp (a canceller is
 * allocated when dsp->proc.aec). user is the driver's own pointer,
 * given back by mixcore_member_user(). Freed with mem_deref() once no
 * core holds it.
 */
int  mixcore_member_alloc(struct mixcore_member **mp,
			  const struct mix_dsp *dsp,
			  struct mix_profile *prof, void *user);

/* ---- the driving thread (RT-safe) --------------------------------------- */

/** @return 0 or ENOSPC (max_members or MIXCORE_MAX_PROFILES). */
int  mixcore_add(struct mixcore *core, struct mixcore_member *m);
void mixcore_remove(struct mixcore *core, struct mixcore_member *m);
int  mixcore_profile_add(struct mixcore *core, struct mix_profile *prof);
void mixcore_profile_remove(struct mixcore *core, struct mix_profile *prof);

/** The members, in no particular order (the order changes on remove). */
struct mixcore_member *const *mixcore_members(const struct mixcore *core,
					      uint32_t *np);
void *mixcore_member_user(const struct mixcore_member *m);

/**
 * speak: what it sends may reach the room (off: on hold, muted).
 * hear: it is sent the mix (off: on hold; nothing goes out, and its
 * echo reference is silence). RT-safe.
 */
void mixcore_member_set_io(struct mixcore_member *m, bool speak, bool hear);

/**
 * New processing settings; aec (may be NULL) is a canceller to attach.
 * A canceller once attached stays: turning echo control off bypasses it,
 * so turning it back on finds the path it learnt. *oldp gets a replaced
 * canceller to free off this thread (or NULL). RT-safe.
 */
void mixcore_member_set_dsp(struct mixcore_member *m,
			    const struct mix_dsp *dsp, struct dsp_aec *aec,
			    struct dsp_aec **oldp);

/**
 * Operator's level controls: gain_in scales what the member says into
 * the mix (linear, 1 = as processed), gain_out what it hears; deaf: it
 * hears silence (its stream goes on, so its far end does not time out).
 * A member with deaf or gain_out != 1 has its own stream (an encode a
 * tick). RT-safe.
 */
void mixcore_member_set_levels(struct mixcore_member *m, float gain_in,
			       float gain_out, bool deaf);

/** The member's chain runs in full on every frame, not only when it is
 *  mixed or speaking: a recorder wants its processed voice. RT-safe. */
void mixcore_member_set_full(struct mixcore_member *m, bool full);

/**
 * Play n samples of pcm (16 kHz, the caller's until the clip has ended
 * or is replaced) to this member alone, over what it hears, from this
 * tick's output on: a prompt, the readiness probe. It has its own
 * stream meanwhile; a deaf member hears the clip too. n = 0 stops. The
 * clip's first sample is the first sample of the member's output of the
 * next mix. RT-safe.
 */
void mixcore_member_play(struct mixcore_member *m, const int16_t *pcm,
			 size_t n);
bool mixcore_member_playing(const struct mixcore_member *m);

/** Keep the member out of the talkers (what it sends now is a probe's
 *  echo, not for the room). RT-safe. */
void mixcore_member_exclude(struct mixcore_member *m, bool excluded);

/** The echo path's delay as the readiness probe measured it (from the
 *  member's output to its input, ms): a hint for its canceller's search
 *  (dsp_aec_hint_delay). RT-safe. */
void mixcore_member_aec_hint(struct mixcore_member *m, float delay_ms);

/** The member hears its clip and nothing of the room (a check of its
 *  microphone wants only its own people in it, not the meeting coming
 *  back through its loudspeaker). RT-safe. */
void mixcore_member_clip_only(struct mixcore_member *m, bool on);

/** A clip every member hears (and the room mix holds): an announcement
 *  to the whole room. RT-safe. */
void mixcore_play_all(struct mixcore *core, const int16_t *pcm, size_t n);
bool mixcore_playing_all(const struct mixcore *core);

/**
 * Move the member to profile prof (same codec; other bitrate, FEC,
 * loss hint, bandwidth, ptime) without a seam; see the file comment.
 * prof must be in the core. @return 0 or EINVAL. RT-safe.
 */
int  mixcore_member_move(struct mixcore_member *m, struct mix_profile *prof);
struct mix_profile *mixcore_member_profile(const struct mixcore_member *m);

/** The member's input frame for this tick (LB_FRAME samples) to fill
 *  before mixcore_member_process(). */
int16_t *mixcore_member_input(struct mixcore_member *m);

/**
 * Run the member's speech chain on its input frame. heard = false when
 * the frame is filler (nothing arrived). May run for different members
 * on different threads. RT-safe.
 */
void mixcore_member_process(struct mixcore_member *m, bool heard);

/** True when the member's next frame may go undecoded if its sender
 *  marked it voiceless: not a talker, not the chair, no tap wants its
 *  chain in full, and the chain itself needs nothing (dsp_proc_may_skip).
 *  Called before its input is pulled. RT-safe. */
bool mixcore_member_may_skip(const struct mixcore_member *m);

/** The same for a mixer short of time (dsp_proc_may_shed): also while
 *  the chain is only learning the site. RT-safe. */
bool mixcore_member_may_shed(const struct mixcore_member *m);

/** Instead of mixcore_member_process() for a frame that was received
 *  but not decoded (voiceless): no speech, meters held. RT-safe. */
void mixcore_member_skip(struct mixcore_member *m);

/**
 * The same for a member whose speech processing an external unit does
 * (the offload pool, hw/pool.c): its software chain still runs in full
 * on the input (warm, and its detector and meters decide), and ext,
 * when not NULL, is what is mixed of it. RT-safe.
 */
void mixcore_member_process_ext(struct mixcore_member *m, bool heard,
				const int16_t *ext);
/** What the member heard this tick as its echo canceller's reference
 *  (LB_FRAME samples, after mixcore_member_process). */
const int16_t *mixcore_member_reference(const struct mixcore_member *m);

/** Pick the talkers (dsp_select) among the processed members. */
void mixcore_select(struct mixcore *core);

/** Mix, limit and encode: every profile once, every member that needs
 *  its own stream once. Same as mixcore_mix_shared() followed by
 *  mixcore_member_finish() for every member. */
void mixcore_mix(struct mixcore *core);

/** The shared part of mixcore_mix(): the sum, who needs an own stream,
 *  the profiles' encodes, the room mix. One thread. */
void mixcore_mix_shared(struct mixcore *core);

/**
 * The member's part of mixcore_mix(): its own stream's encode or the
 * profile's packet, and its echo reference. After mixcore_mix_shared();
 * may run for different members on different threads, each with its
 * own scratch frame tmp (LB_FRAME floats). Returns the encodes it did
 * (0 or 1): add them with mixcore_add_encodes() from one thread.
 */
uint32_t mixcore_member_finish(const struct mixcore *core,
			       struct mixcore_member *m, float *tmp);
void mixcore_add_encodes(struct mixcore *core, uint32_t n);

void mixcore_member_output(const struct mixcore_member *m,
			   struct mixcore_out *out);

/** The room mix after the limiter: what a listener who is not mixed
 *  hears, LB_FRAME samples. */
const int16_t *mixcore_mix_pcm(const struct mixcore *core);

/** The member's processed frame (after echo control, noise suppression
 *  and AGC). *validp (may be NULL) says whether it holds the chain's
 *  output: when the chain ran in full (mixed, chair, set_full) or heard
 *  speech on this frame; otherwise its contents are undefined. */
const int16_t *mixcore_member_processed(const struct mixcore_member *m,
					bool *validp);

const struct dsp_proc_meters *
mixcore_member_meters(const struct mixcore_member *m);

/** True while selected as a talker (and speaking is allowed). */
bool mixcore_member_talking(const struct mixcore_member *m);
/** True when it has its own encoder (talker, moving, recently so). */
bool mixcore_member_own_stream(const struct mixcore_member *m);
/** Its canceller runs (is not resting). Mixer thread. */
bool mixcore_member_aec_running(const struct mixcore_member *m);
/** Echo canceller figures; false if it has none. */
bool mixcore_member_aec_stats(const struct mixcore_member *m,
			      struct dsp_aec_stats *st);

uint32_t mixcore_talkers(const struct mixcore *core);
/** Encodes since the core was made (profiles + own streams). */
uint64_t mixcore_encodes(const struct mixcore *core);

#define MIXCORE_MAX_PROFILES 16

#endif
