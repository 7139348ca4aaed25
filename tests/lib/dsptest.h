/**
 * @file dsptest.h  lowbridge test library: objective quality measures and
 * seeded test signals, for unit tests, benchmarks and test tools only.
 *
 * Built into build/libdsptest.a from tests/lib/ and linked into
 * lbtest, the tools, the benchmarks and the fuzz replays, never into
 * build/lowbridge: nothing in bridge/ or dsp/ may call it. It uses dsp/
 * (the FFT) and SpeexDSP (the resampler), so link libdsptest.a before
 * libdsp.a; it includes dsp.h. The names keep the dsp_ prefix they had
 * in dsp/.
 *
 * Threads: any; nothing here is RT-safe.
 */
#ifndef LB_DSPTEST_H
#define LB_DSPTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "dsp.h"

/* ---- quality.c: objective measures ------------------------------------- */
/*
 * None of these is RT-safe: they allocate and take time proportional to
 * the signal. Inputs are float in any common scale (int16 scale or
 * +-1.0); ESTOI, STOI and the correlations are scale-invariant, segmental
 * SNR and ERLE compare the two signals as given.
 */

/**
 * Extended short-time objective intelligibility (Jensen & Taal 2016) of
 * a processed signal deg against the clean reference ref, both n samples
 * at srate_hz and time-aligned (see dsp_delay_estimate). Result in
 * *score: about 1.0 for identical signals, near 0 for unrelated ones.
 * Needs about 0.5 s of active reference speech or more.
 * Returns 0, EINVAL, ENOMEM, or ERANGE when too little speech remains
 * after silent frames are dropped.
 */
int dsp_estoi(const float *ref, const float *deg, size_t n,
	      uint32_t srate_hz, float *score);

/** Classic STOI (Taal et al. 2011), same inputs and returns as
 *  dsp_estoi(). Insensitive to modulated maskers; prefer ESTOI. */
int dsp_stoi(const float *ref, const float *deg, size_t n,
	     uint32_t srate_hz, float *score);

/**
 * Segmental SNR in dB: per frame_samples non-overlapping frame,
 * 10 log10(ref energy / (ref - deg) energy) limited to [-10, 35] dB,
 * averaged over the frames whose reference energy is within 40 dB of
 * the loudest one. Signals must be aligned and in the same scale.
 * Returns 0, EINVAL, or ERANGE when no frame qualifies.
 */
int dsp_segsnr_db(const float *ref, const float *deg, size_t n,
		  size_t frame_samples, float *snr_db);

/**
 * Echo return loss enhancement in dB: energy of mic over energy of out
 * (the echo canceller's input and output, aligned, same scale), summed
 * over the frame_samples frames where mic is at or above min_mic_dbfs
 * (int16 scale, 0 dBFS = RMS 32767; pass DSP_SILENCE_DBFS for all).
 * Capped at 120 dB. Returns 0, EINVAL, or ERANGE when no frame
 * qualifies.
 */
int dsp_erle_db(const float *mic, const float *out, size_t n,
		size_t frame_samples, float min_mic_dbfs, float *erle_db);

/**
 * Delay of sig against ref: the lag in samples, within
 * [min_lag, max_lag], at which sig[t] best matches a * ref[t - lag]
 * (so lag > 0 means sig comes later), by cross-correlation through an
 * FFT. *corrp (may be NULL) gets the normalised correlation at that lag
 * over the overlapping part, -1..1; |corr| near 1 means sig is a scaled
 * copy of ref, near 0 that ref is absent. Returns 0, EINVAL or ENOMEM.
 */
int dsp_delay_estimate(const float *ref, size_t ref_n,
		       const float *sig, size_t sig_n,
		       int32_t min_lag, int32_t max_lag,
		       int32_t *lagp, float *corrp);

/**
 * How much of reference x is present in signal y: aligns x to y (as
 * dsp_delay_estimate, lag within [min_lag, max_lag]), fits y by x
 * through a least-squares FIR filter of taps taps centred near that lag
 * (1 = a plain gain; 9..33 also absorb the phase and colouring of a
 * codec, a resampler or an echo path), and returns in *share_db the
 * part of y's energy that the fit explains, in dB (0 dB: y is x; -3 dB:
 * y is x plus an equal-energy unrelated signal). When x is absent the
 * result is the chance correlation floor: about -25..-35 dB for 3-10 s
 * of speech with one tap, a few dB higher with many taps or a wide lag
 * range, lower for longer signals. Only the part of y that overlaps the
 * aligned x counts. *lagp (may be NULL) gets the lag of the correlation
 * peak. Returns 0, EINVAL, ENOMEM, or ERANGE if y is silent there.
 */
int dsp_presence_db(const float *x, size_t x_n, const float *y, size_t y_n,
		    int32_t min_lag, int32_t max_lag, uint32_t taps,
		    float *share_db, int32_t *lagp);

/**
 * y[0..n) = the first n samples of x convolved with h (hn taps), by
 * FFT in double precision. For simulated rooms in tests and benchmarks.
 * Returns 0, EINVAL or ENOMEM.
 */
int dsp_convolve(const float *x, size_t n, const float *h, size_t hn,
		 float *y);

/* ---- synth.c: seeded test signals --------------------------------------- */

/** Small seeded random generator (xorshift64*); copyable. */
struct dsp_rng {
	uint64_t s;
};

/** Seed a generator; any seed, 0 included. */
void dsp_rng_seed(struct dsp_rng *r, uint64_t seed);

/** Uniform 32-bit value. */
uint32_t dsp_rng_u32(struct dsp_rng *r);

/** Uniform float in [0, 1). */
float dsp_rng_uniform(struct dsp_rng *r);

/** Standard normal float (mean 0, variance 1). */
float dsp_rng_gauss(struct dsp_rng *r);

enum dsp_noise {
	DSP_NOISE_WHITE,        /* flat spectrum */
	DSP_NOISE_PINK,         /* -3 dB per octave */
	DSP_NOISE_HUM,          /* 50 Hz mains hum with harmonics */
};

/** Stationary noise of the given kind, RMS 1.0, into out[0..n). */
void dsp_synth_noise(float *out, size_t n, uint32_t srate_hz,
		     enum dsp_noise kind, struct dsp_rng *r);

/**
 * Speech-like talk into out[0..n) at srate_hz, for tests that must not
 * depend on a speech synthesiser: voiced syllables (a glottal pulse
 * train at a drifting 90-250 Hz pitch through three formant resonators
 * that move from syllable to syllable), fricative noise bursts, a 3-6 Hz
 * syllable envelope and short gaps between words, but no long pauses.
 * RMS 1.0 over the whole buffer. Different generator states give
 * unrelated talkers.
 */
void dsp_synth_talk(float *out, size_t n, uint32_t srate_hz,
		    struct dsp_rng *r);

/**
 * A synthetic room impulse response into a new buffer (free() it) of
 * *np = 0.75 * RT60 taps (truncated at -45 dB): a direct path, then
 * Gaussian noise decaying by 60 dB per rt60_s from 1 ms on, of the same
 * energy (0 dB direct-to-reverberant ratio); unit energy in all.
 * Returns NULL on a bad argument or no memory.
 */
float *dsp_synth_room(float rt60_s, uint32_t srate_hz, size_t *np,
		      struct dsp_rng *r);

#endif
