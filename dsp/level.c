/**
 * @file level.c  Level meters: RMS and peak of a block in dBFS.
 *
 * Called by the mixer for every site on every 20 ms frame, so both are a
 * single pass over the block with no division per sample. The reference
 * is a full-scale square wave: RMS 32767 reads 0 dBFS and a full-scale
 * sine reads -3.01 dBFS (the AES17 convention would read the sine at
 * 0 dB; we follow the square-wave one because that is what the limiter's
 * ceiling and the codec's clipping point are measured against).
 *
 * Threads: any. RT-safe.
 */
#include <math.h>
#include "dsp.h"

#define FULL_SCALE 32767.0

static float to_dbfs(double amp)
{
	double db;

	if (amp <= 0.0)
		return DSP_SILENCE_DBFS;
	db = 20.0 * log10(amp / FULL_SCALE);
	return db < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : (float)db;
}

float dsp_rms_dbfs(const int16_t *sampv, size_t sampc)
{
	uint64_t acc = 0;
	size_t i;

	if (!sampv || !sampc)
		return DSP_SILENCE_DBFS;

	/* Exact in 64 bits: 2^30 per sample leaves room for 2^33 samples;
	 * the int32 products vectorise (pmaddwd cannot: two -32768
	 * squares overflow its int32 pair sum). */
	for (i = 0; i < sampc; i++) {
		int32_t s = sampv[i];

		acc += (uint64_t)(s * s);
	}

	return to_dbfs(sqrt((double)acc / (double)sampc));
}

float dsp_peak_dbfs(const int16_t *sampv, size_t sampc)
{
	int32_t peak = 0;
	size_t i;

	if (!sampv || !sampc)
		return DSP_SILENCE_DBFS;

	/* |-32768| = 32768 fits int32, so no abs() overflow; a block
	 * holding -32768 reads +0.0003 dBFS, which is the truth. */
	for (i = 0; i < sampc; i++) {
		int32_t a = sampv[i] < 0 ? -(int32_t)sampv[i] : sampv[i];

		peak = a > peak ? a : peak;
	}

	return to_dbfs((double)peak);
}
