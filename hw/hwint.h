/**
 * @file hwint.h  What hw/'s files share and nobody else needs.
 */
#ifndef LB_HWINT_H
#define LB_HWINT_H

#include <regex.h>
#include "hw.h"

enum hw_rule_kind {
	HW_RULE_CTL = 1,
	HW_RULE_CARD,
	HW_RULE_PCM,
	HW_RULE_POOL,
};

enum hw_key {
	HW_KEY_ID = 1,
	HW_KEY_DRIVER,
	HW_KEY_USB,
	HW_KEY_NAME,
};

struct hw_rule {
	enum hw_rule_kind kind;
	unsigned features;            /* 1 << enum hw_feature */
	enum hw_key key;              /* card, pool */
	char value[64];
	regex_t re;
	bool has_re;
	unsigned line;
};

struct hw_profiles {
	struct hw_rule *v;
	size_t n;
};

/* ---- pipe.c: one device's path to and from the mixer ---------------- */

#define HW_REF_FRAMES 64              /* 1.28 s of echo reference */

struct hw_dll {
	bool started;
	double t0, c0, last_t;
	double xf;                    /* smoothed phase error, s */
	double integ;
	double eps;                   /* the card's rate error */
};

struct hw_pipe_prm {
	uint32_t rate;                /* the device's nominal rate */
	uint32_t ch_in, ch_out;
	uint32_t max_frames;          /* the most a call passes at once */
	bool shared_clock;            /* capture and playback: one card */
	enum hw_where where[HW_FEATURES];
};

struct SpeexResamplerState_;
struct dsp_proc;
struct dsp_proc_meters;
struct dsp_asrc;

struct hw_pipe {
	struct hw_pipe_prm prm;
	struct SpeexResamplerState_ *rs_in, *rs_out;   /* NULL at 16 kHz */
	struct dsp_asrc *asrc_in, *asrc_out;
	struct dsp_proc *proc;
	int16_t *mono, *conv;
	size_t conv_cap;
	/* capture */
	int16_t acc[HW_FRAME];
	uint32_t acc_n;
	uint64_t in_count;            /* 16 kHz samples made */
	struct hw_dll dll_in;
	uint64_t cap_frames;
	/* playback, and the echo reference */
	int16_t refv[HW_REF_FRAMES][HW_FRAME];
	uint64_t ref_count;           /* frames handed to playback */
	uint64_t ref_base;
	bool ref_base_set;
	uint64_t pushed;              /* 16 kHz samples into the drift
					 stage */
	int16_t pend[HW_FRAME];       /* for the fixed resampler */
	uint32_t pend_n;
	struct hw_dll dll_out;
	/* counters */
	uint64_t frames_in, frames_out, overruns, underruns;
	uint64_t chain_ns;            /* time in the software chain */
};

int  hw_pipe_init(struct hw_pipe *p, const struct hw_pipe_prm *prm);
void hw_pipe_free(struct hw_pipe *p);
void hw_pipe_set_where(struct hw_pipe *p, const enum hw_where *where);
/** Frames the device captured (interleaved), read at time t (s, the
 *  monotonic clock): to the mixer when deliver, else only through the
 *  chain (a warm standby). */
void hw_pipe_capture(struct hw_pipe *p, const int16_t *in,
		     uint32_t frames, double t, bool deliver,
		     const struct hw_local_io *io);
/** Fill frames for the device to play at time t: the mixer's when
 *  live, else silence (a standby). */
void hw_pipe_playback(struct hw_pipe *p, int16_t *out, uint32_t frames,
		      double t, bool live, const struct hw_local_io *io);
double hw_pipe_drift_ppm(const struct hw_pipe *p);
/** The loop's phase error (smoothed), ms: the delay's wander. */
double hw_pipe_phase_ms(const struct hw_pipe *p, bool capture);
void hw_pipe_meters(const struct hw_pipe *p, struct dsp_proc_meters *m);
struct dsp_aec_stats;
/** The software echo canceller's figures, while it runs. */
bool hw_pipe_aec_stats(const struct hw_pipe *p, struct dsp_aec_stats *st);

/** Set the device's switches for where[] (HW_HW: on), read them back;
 *  a feature whose switch did not stick moves to software (alsa_enum.c;
 *  the local room and the offload pool). */
void hw_apply_switches(const struct hw_devinfo *info, enum hw_where *where);

/** Fill di->feat and di->pool from the rules. */
void hw_profiles_apply(const struct hw_profiles *p, struct hw_devinfo *d);

#endif
