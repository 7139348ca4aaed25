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
};

/** Set up a limiter; ceiling_dbfs e.g. -1.0. Returns 0 or EINVAL. */
int dsp_limiter_init(struct dsp_limiter *lim, uint32_t srate_hz,
		     float ceiling_dbfs);

/** Limit n samples from in to out. RT-safe. */
void dsp_limiter_process(struct dsp_limiter *lim, const float *in,
			 int16_t *out, size_t n);

#endif
