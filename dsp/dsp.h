/**
 * @file dsp.h  lowbridge signal processing: pure functions over arrays.
 *
 * dsp/ depends on libc, libm and SpeexDSP only: no libre, no I/O, no
 * threads, so every function here can be tested on arrays. All state is
 * plain structs without pointers (copyable by assignment) or is allocated
 * in an _init/_alloc call; _process calls never allocate.
 *
 * Threads: any; the functions marked RT-safe are called by the mixer.
 * Units: samples are int16 full scale (32767) unless a name says _f (float
 * in the same scale, i.e. +-32768.0 is full scale); levels in dBFS where
 * 0 dBFS is a full-scale square wave.
 */
#ifndef LB_DSP_H
#define LB_DSP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define DSP_SILENCE_DBFS (-120.0f)

/* ---- level.c: meters ---------------------------------------------------- */

/** RMS level of a block in dBFS, DSP_SILENCE_DBFS for digital silence.
 *  RT-safe. */
float dsp_rms_dbfs(const int16_t *sampv, size_t sampc);

/** Peak level of a block in dBFS. RT-safe. */
float dsp_peak_dbfs(const int16_t *sampv, size_t sampc);

/* ---- mix.c: mixing kernels (float accumulators, never wrap) ------------- */

/** acc[i] += gain * src[i]. RT-safe. */
void dsp_mix_add(float *acc, const int16_t *src, float gain, size_t n);

/** dst[i] = acc[i] - gain * own[i]: the mix-minus of one contributor,
 *  O(n) whatever the number of sites. RT-safe. */
void dsp_mix_minus(float *dst, const float *acc, const int16_t *own,
		   float gain, size_t n);

/** dst[i] = src[i] as float in the same int16 scale (no rescaling).
 *  RT-safe. */
void dsp_s16_to_float(float *dst, const int16_t *src, size_t n);

/* ---- limiter.c: output limiter ------------------------------------------ */

/** Look-ahead in samples at 16 kHz (1 ms); adds this much latency. */
#define DSP_LIMITER_MAX_LOOKAHEAD 48

/**
 * Peak limiter for outgoing mixes: float in (int16 scale, any range) to
 * int16 out that never clips or wraps, with a smooth gain envelope (fast
 * attack over the look-ahead, slow release) so gain changes do not click.
 * Copyable by assignment (the mixer copies a shared stream's limiter into
 * a site's own stream when the site starts talking).
 */
struct dsp_limiter {
	float ceiling;            /* linear, int16 scale */
	float gain;               /* current gain, 0..1 */
	float release_coef;       /* per-sample release smoothing */
	uint32_t lookahead;       /* samples */
	uint32_t pos;             /* delay line write index */
	float delay[DSP_LIMITER_MAX_LOOKAHEAD];
	float peakv[DSP_LIMITER_MAX_LOOKAHEAD];
	float min_gain_seen;      /* lowest gain since last read (meter) */
	uint32_t hold;            /* samples before the release may start */
};

/** Set up a limiter; ceiling_dbfs e.g. -1.0. Returns 0 or EINVAL. */
int dsp_limiter_init(struct dsp_limiter *lim, uint32_t srate_hz,
		     float ceiling_dbfs);

/** Limit n samples from in to out. RT-safe. */
void dsp_limiter_process(struct dsp_limiter *lim, const float *in,
			 int16_t *out, size_t n);

/** Lowest gain the limiter applied since the previous call (1.0 = it did
 *  not limit, 0.5 = it cut 6 dB), and restarts that meter. For the
 *  operator's "mix is overloaded" meter. RT-safe. */
float dsp_limiter_take_min_gain(struct dsp_limiter *lim);

/* ---- vad.c: voice activity detector ------------------------------------- */

#define DSP_VAD_BANDS 3          /* 0.2-1, 1-4 and 4-8 kHz */
#define DSP_VAD_HIST 16          /* frames in the stationarity window */
#define DSP_VAD_SUBWINS 6        /* minimum-statistics sub-windows */

/**
 * Voice activity detector for one site's 20 ms frames. Our own, because
 * SpeexDSP 1.2's VAD is a placeholder that calls -60 dBFS white noise
 * speech. It tracks the noise floor in two speech bands (minimum
 * statistics, and a fast re-estimate when the input is stationary) and
 * calls a frame speech when it stands out of that floor; see vad.c.
 * Plain data, copyable by assignment; the fields are private.
 */
struct dsp_vad {
	uint32_t srate_hz;
	uint32_t frames;                 /* frames seen, saturating */
	float bq[3][5];                  /* hp, lp, split: b0 b1 b2 a1 a2 */
	float z[3][2];                   /* biquad states */
	float smooth[DSP_VAD_BANDS];     /* smoothed frame energy */
	float floor[DSP_VAD_BANDS];      /* noise energy per band */
	float sub_min[DSP_VAD_BANDS];    /* minimum of this sub-window */
	float win_min[DSP_VAD_SUBWINS][DSP_VAD_BANDS];
	uint32_t sub_samples;            /* samples into this sub-window */
	uint32_t sub_idx;
	float hist_e[DSP_VAD_HIST][DSP_VAD_BANDS];  /* recent energies */
	float hist_db[DSP_VAD_HIST];     /* their band total, dB */
	uint32_t hist_idx;
	uint32_t hang_samples;           /* hangover left */
	float prob;                      /* of the last frame */
};

/**
 * Set up a detector. srate_hz 8000..48000. Returns 0 or EINVAL.
 * Not RT-safe only because it calls tan(); cheap.
 */
int dsp_vad_init(struct dsp_vad *v, uint32_t srate_hz);

/**
 * Analyse one frame (10-30 ms; the time constants assume about 20 ms)
 * and return the probability 0..1 that it holds speech. Stationary
 * noise of any level reads < 0.5 after about 0.4 s; speech 10 dB above
 * the noise reads > 0.5. Costs a few microseconds. RT-safe.
 */
float dsp_vad_process(struct dsp_vad *v, const int16_t *frame, size_t n);

/** True while speech is active: since the last frame whose probability
 *  was >= 0.5, plus a 200 ms hangover so that talk spurts are not cut
 *  between words. RT-safe. */
bool dsp_vad_active(const struct dsp_vad *v);

/** The detector's estimate of the noise floor above 200 Hz (up to
 *  8 kHz), dBFS. RT-safe. */
float dsp_vad_noise_dbfs(const struct dsp_vad *v);

/* ---- aec.c: bridge-side echo control ------------------------------------ */

#define DSP_AEC_FRAME 160        /* samples at 16 kHz: 10 ms */

/** Parameters of one site's echo canceller. */
struct dsp_aec_prm {
	uint32_t srate_hz;       /* 16000 */
	uint32_t tail_ms;        /* echo tail after the bulk delay (256) */
	uint32_t max_delay_ms;   /* largest bulk delay searched (800) */
};

/** Figures for the operator and for talker selection. */
struct dsp_aec_stats {
	float delay_ms;          /* estimated bulk delay, < 0: none found */
	float drift_ppm;         /* estimated clock drift being corrected */
	float erl_db;            /* echo return loss: ref over echo in mic */
	float erle_db;           /* echo return loss enhancement (linear) */
	float echo_dbfs;         /* echo estimate in the mic, last frame */
	float residual_dbfs;     /* residual echo expected in the output */
	bool echo_present;       /* the site returns what it is sent */
	bool double_talk;        /* near-end speech over the echo */
	float search_corr;       /* normalised correlation of the delay
				    search's peak, 0..1 (last frame) */
	uint32_t steps;          /* delay steps followed since the lock */
};

struct dsp_aec;

/**
 * Bridge-side echo control for one site: the reference is exactly what
 * the bridge sends the site; the canceller finds the bulk delay (network,
 * jitter buffers, device, room: up to max_delay_ms, moving in steps),
 * tracks and corrects clock drift between the site and the bridge, and
 * cancels the echo with SpeexDSP's MDF canceller behind that alignment.
 * Residual echo suppression is SpeexDSP's, in the preprocessor that
 * dsp_proc attaches to dsp_aec_speex_state(). Not RT-safe: allocates.
 */
int  dsp_aec_alloc(struct dsp_aec **aecp, const struct dsp_aec_prm *prm);
void dsp_aec_free(struct dsp_aec *aec);

/** Forget the echo path (site changed codec, device, or came back from
 *  hold). RT-safe. */
void dsp_aec_reset(struct dsp_aec *aec);

/** Push DSP_AEC_FRAME samples that the bridge sent to the site, in send
 *  order, once per frame and before dsp_aec_capture() of the same frame
 *  time. RT-safe. */
void dsp_aec_playback(struct dsp_aec *aec, const int16_t *ref);

/** A bulk delay measured otherwise (the readiness probe), ms, < 0 for
 *  none: while searching, a correlation peak within 25 ms of it locks
 *  at once instead of after three blocks. Only a hint: a peak elsewhere
 *  still wins the usual way. RT-safe. */
void dsp_aec_hint_delay(struct dsp_aec *aec, float delay_ms);

/** Cancel the echo in DSP_AEC_FRAME samples from the site (mic) into out
 *  (linear stage only; may alias mic). RT-safe. */
void dsp_aec_capture(struct dsp_aec *aec, const int16_t *mic, int16_t *out);

/** The SpeexEchoState for SPEEX_PREPROCESS_SET_ECHO_STATE (residual echo
 *  suppression), as void * so that dsp.h needs no SpeexDSP header. */
void *dsp_aec_speex_state(struct dsp_aec *aec);

/** Current figures. RT-safe. */
void dsp_aec_get_stats(const struct dsp_aec *aec, struct dsp_aec_stats *st);

/* ---- proc.c: one site's processing chain -------------------------------- */

/** Settings of the chain; changeable at run time (dsp_proc_set). */
struct dsp_proc_prm {
	bool ns;                 /* noise suppression (SpeexDSP) */
	int  ns_db;              /* its maximum attenuation, e.g. -18 */
	bool agc;                /* automatic gain control (our own) */
	float agc_target_dbfs;   /* speech level it aims for, e.g. -20 */
	float agc_max_gain_db;   /* e.g. 30 */
	bool aec;                /* bridge-side echo control */
};

/** Meters of one site, refreshed every frame. */
struct dsp_proc_meters {
	float in_peak_dbfs, in_rms_dbfs;     /* as received */
	float out_peak_dbfs, out_rms_dbfs;   /* after the chain */
	float noise_dbfs;                    /* noise floor of the input */
	float agc_gain_db;
	float speech_prob;                   /* 0..1, of the last frame */
	bool speech;                         /* VAD with hangover */
	float speech_db;                     /* smoothed speech level after
						 processing, for ranking */
	bool echo_only;                      /* what it hears is its echo */
	float echo_corr;                     /* its level follows what it
						 is sent, 0..1: echo likely */
	float delay_ms;                      /* processing delay of the
						 chain (what it adds) */
};

struct dsp_proc;

/** The defaults: noise suppression at -18 dB, AGC to -20 dBFS with at
 *  most 30 dB, echo control on. The bridge's configuration table holds
 *  the same values (bridge/config.c; a unit test keeps them equal). */
void dsp_proc_defaults(struct dsp_proc_prm *prm);

/** Allocate one site's chain for 16 kHz, 20 ms frames. Not RT-safe. */
int  dsp_proc_alloc(struct dsp_proc **procp, const struct dsp_proc_prm *prm);

/** Free a chain (and the echo canceller attached to it). */
void dsp_proc_free(struct dsp_proc *proc);

/** Change the settings at run time; prm->aec takes effect only while a
 *  canceller is attached. RT-safe. */
void dsp_proc_configure(struct dsp_proc *proc, const struct dsp_proc_prm *prm);

/** Attach an echo canceller (allocated off the RT thread), or detach
 *  with NULL; returns the one it replaces for the caller to free off
 *  the RT thread. RT-safe. */
struct dsp_aec *dsp_proc_swap_aec(struct dsp_proc *proc, struct dsp_aec *aec);

/** dsp_aec_hint_delay() on the attached canceller, if any. RT-safe. */
void dsp_proc_aec_hint(struct dsp_proc *proc, float delay_ms);

/** The 20 ms (320 samples) the bridge sent this site in this frame
 *  time: the echo reference. Call before dsp_proc_process(). RT-safe. */
void dsp_proc_playback(struct dsp_proc *proc, const int16_t *sent);

/**
 * Run the chain on one 20 ms frame (320 samples) received from the site,
 * in place. heard = false when the frame is filler (nothing received):
 * the meters and the detector see it, adaptation does not. full = the
 * caller will mix this frame (the site is a talker or the chair): noise
 * suppression and AGC run on every frame then. Otherwise they run only
 * while the detector hears speech and on a few frames a second to keep
 * their noise estimate current, so idle sites cost little. The output
 * is valid when full is set or when the meters say speech after this
 * call (so a site selected on this frame's speech can be mixed from
 * it at once); otherwise its contents are undefined. The output lags
 * the input by the delay in dsp_proc_meters.delay_ms (SpeexDSP's
 * overlap-add). The detector
 * and the meters are computed on the input, so decisions made on them
 * lead the output by that delay. RT-safe.
 */
void dsp_proc_process(struct dsp_proc *proc, int16_t *frame, bool heard,
		      bool full);

/** True when the chain may be given dsp_proc_skip() instead of the next
 *  frame: its detector has settled and hears no speech, and no echo
 *  canceller runs or is about to. RT-safe. */
bool dsp_proc_may_skip(const struct dsp_proc *proc);

/** Like dsp_proc_may_skip(), for a host short of time: true also while
 *  the chain is only learning a site that has made no sound yet (its
 *  VAD's noise floor, the echo envelopes' first seconds of the
 *  meeting), which then learns from the frames that are decoded, over
 *  more time. Never once the site's settled VAD has fired, while a
 *  canceller runs or when the site is suspected of echo. RT-safe. */
bool dsp_proc_may_shed(const struct dsp_proc *proc);

/** Account for a frame that was not decoded because the site's encoder
 *  marked it voiceless (see codec_pkt_voice): no speech; the meters
 *  hold the last decoded frame's; no adaptation. Costs next to nothing.
 *  Call dsp_proc_playback() before it as for a frame. RT-safe. */
void dsp_proc_skip(struct dsp_proc *proc);

/** True while the echo canceller runs or will run on the next frame:
 *  then the caller should give the most exact reference it can (what
 *  the site decodes, not what the bridge encoded). RT-safe. */
bool dsp_proc_aec_running(const struct dsp_proc *proc);

/** Meters and detector state after the last frame. RT-safe. */
void dsp_proc_get_meters(const struct dsp_proc *proc,
			 struct dsp_proc_meters *m);

/** The attached echo canceller's figures; false if none. RT-safe. */
bool dsp_proc_get_aec_stats(const struct dsp_proc *proc,
			    struct dsp_aec_stats *st);

/* ---- select.c: talker selection ----------------------------------------- */

/** One site's place in the talker selection, kept by the caller. */
struct dsp_talk {
	/* inputs, every frame */
	bool candidate;          /* speech, not its own echo, audible */
	float score_db;          /* ranking: speech level after processing */
	bool chair;              /* always mixed, outside the K places */
	bool veto;               /* out of the mix now, hold or not: what
				    it sends is its own echo */
	/* output */
	bool selected;
	/* private */
	uint32_t held;           /* frames since it was selected */
	uint32_t quiet;          /* frames since it was last a candidate */
};

struct dsp_select_prm {
	uint32_t max_talkers;    /* K, not counting chairs */
	float displace_db;       /* a newcomer must beat the weakest by */
	uint32_t min_hold;       /* frames a talker keeps its place */
	uint32_t release;        /* frames without speech before it leaves */
};

/** Defaults: K 3, 6 dB, 400 ms hold, 300 ms release (20 ms frames). */
void dsp_select_defaults(struct dsp_select_prm *prm);

/**
 * Update who is mixed after one frame: chairs always; then talkers keep
 * their place until release frames without speech (or until displaced,
 * but never within min_hold); free places go to the strongest
 * candidates; when all K are taken, a candidate displaces the weakest
 * talker past its hold only if displace_db louder. Returns the number
 * of selected sites. O(n K). RT-safe.
 */
uint32_t dsp_select_run(const struct dsp_select_prm *prm,
			struct dsp_talk *const *v, size_t n);

/* ---- asrc.c: drift-correcting resampler --------------------------------- */

#define DSP_ASRC_TAPS 16
#define DSP_ASRC_PHASES 128
#define DSP_ASRC_HIST 4096       /* input samples held */

/**
 * A resampler for ratios within a few thousand ppm of 1: the clock drift
 * between a sound card and the mixer. Each output sample is read at a
 * fractional position of the input through a 16-tap Blackman-windowed
 * sinc (128 phases, linearly interpolated), so changing the ratio every
 * call is free and seamless. (SpeexDSP's resampler does the fixed
 * conversions; changed by a few ppm at a time it leaves its direct mode
 * for an interpolating one that reads out of bounds in 1.2.1.)
 */
struct dsp_asrc {
	float hist[DSP_ASRC_HIST];
	uint32_t n;              /* samples in hist */
	double pos;              /* next output's position in hist */
	double ratio;            /* input samples per output sample */
	float table[DSP_ASRC_PHASES + 1][DSP_ASRC_TAPS];
};

/** Ratio 1, empty history, with DSP_ASRC_TAPS / 2 - 1 samples of zeros
 *  in front (the filter's delay). Not RT-safe (builds the table). */
void dsp_asrc_init(struct dsp_asrc *a);
void dsp_asrc_set_ratio(struct dsp_asrc *a, double ratio);
/** Take up to n input samples; @return how many it took (it holds at
 *  most DSP_ASRC_HIST). RT-safe. */
size_t dsp_asrc_push(struct dsp_asrc *a, const int16_t *in, size_t n);
/** Make up to n output samples from what was pushed; @return how many.
 *  RT-safe. */
size_t dsp_asrc_pull(struct dsp_asrc *a, int16_t *out, size_t n);
/** Output samples that what was pushed can still make. */
size_t dsp_asrc_ready(const struct dsp_asrc *a);

/* ---- fft.c: complex FFT ------------------------------------------------- */

struct dsp_fft;

/**
 * Plan an n-point complex FFT: n a power of two >= 1. The plan holds the
 * twiddles for both precisions and is read-only afterwards (one plan may
 * serve several threads). Not RT-safe: allocates.
 * Returns 0, EINVAL (n not a power of two, or too large) or ENOMEM.
 */
int  dsp_fft_alloc(struct dsp_fft **fftp, size_t n);

/** Free a plan; NULL is fine. */
void dsp_fft_free(struct dsp_fft *fft);

/** Points of the plan (n of dsp_fft_alloc), 0 for NULL. */
size_t dsp_fft_size(const struct dsp_fft *fft);

/**
 * In-place transform of the n points re[] + j im[]. Forward (inverse
 * false): X[k] = sum_t x[t] exp(-2 pi j k t / n). Inverse: the same
 * with exp(+2 pi j k t / n), unscaled (divide by n to invert the
 * forward transform). RT-safe.
 */
void dsp_fft_run(const struct dsp_fft *fft, float *re, float *im,
		 bool inverse);

/** dsp_fft_run() in double precision, with the same plan. RT-safe. */
void dsp_fft_run_d(const struct dsp_fft *fft, double *re, double *im,
		   bool inverse);

/* ---- probe.c: loudspeaker-to-microphone probe, talk check --------------- */

/** The probe: a logarithmic sweep over the speech band. */
struct dsp_probe_prm {
	float level_dbfs;        /* its RMS (-30: quiet beside -20 speech) */
	uint32_t len_ms;         /* 400 */
	float f0_hz, f1_hz;      /* 300 .. 3400 */
};

/** What came back of a probe in a site's microphone. */
struct dsp_probe_result {
	bool found;              /* the probe came back */
	float delay_ms;          /* from the probe's first sample leaving to
				    its direct path arriving */
	float echo_dbfs;         /* the returned probe's level in the mic */
	float erl_db;            /* echo return loss: probe over its echo */
	float margin_db;         /* matched-filter peak over its noise */
	float noise_dbfs;        /* the mic before the probe */
	float peak_dbfs;         /* the mic's peak over the capture */
	uint32_t clipped;        /* mic samples at full scale */
};

/** Defaults: -30 dBFS, 400 ms, 300-3400 Hz. */
void dsp_probe_defaults(struct dsp_probe_prm *prm);

/** Samples of the probe at 16 kHz. */
size_t dsp_probe_len(const struct dsp_probe_prm *prm);

/** Write the probe (16 kHz, dsp_probe_len() samples, 10 ms fades) into
 *  out. Returns the samples written or 0 if max is too small. */
size_t dsp_probe_make(const struct dsp_probe_prm *prm, int16_t *out,
		      size_t max);

/**
 * Find the probe in a microphone capture: mic[probe_at] is the sample
 * that arrived when the probe's first sample left (both on the caller's
 * clock, 16 kHz); echoes up to max_delay_ms later are searched. The
 * capture before probe_at (at least 100 ms) gives the noise. Matched
 * filter by FFT; the echo level sums the room's response over 400 ms
 * after the direct path, less the noise. Not RT-safe: allocates.
 * Returns 0, EINVAL or ENOMEM.
 */
int  dsp_probe_analyse(const int16_t *probe, size_t probe_n,
		       const int16_t *mic, size_t mic_n, size_t probe_at,
		       uint32_t max_delay_ms, struct dsp_probe_result *res);

/** A site's microphone while its people were asked to speak. */
struct dsp_talk_result {
	float speech_s;          /* seconds of speech heard */
	float speech_dbfs;       /* active speech level (RMS of its frames) */
	float noise_dbfs;        /* level of the frames without speech */
	float snr_db;
	float peak_dbfs;
	float clip_pct;          /* of speech frames with a clipped sample */
};

enum dsp_talk_verdict {
	DSP_TALK_GOOD = 0,
	DSP_TALK_SILENT,         /* no speech heard */
	DSP_TALK_QUIET,          /* speech below -42 dBFS */
	DSP_TALK_LOUD,           /* clipping on more than 2 % of it */
	DSP_TALK_NOISY,          /* less than 15 dB above the noise */
};

/** Measure n samples (16 kHz) with the voice detector. Cheap, no
 *  allocation. */
void dsp_talk_analyse(const int16_t *mic, size_t n,
		      struct dsp_talk_result *res);
enum dsp_talk_verdict dsp_talk_judge(const struct dsp_talk_result *res);
/** good, silent, quiet, loud, noisy */
const char *dsp_talk_verdict_name(enum dsp_talk_verdict v);

#endif
