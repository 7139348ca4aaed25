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
#define BLK 8                   /* vectorisable block, as in mix.c */

static float to_dbfs(double amp)
{
	double db;

	if (amp <= 0.0)
		return DSP_SILENCE_DBFS;
	db = 20.0 * log10(amp / FULL_SCALE);
	return db < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : (float)db;
}

/**
 * RMS level of a block.
 *
 * @param sampv  Samples
 * @param sampc  Number of samples
 *
 * @return RMS in dBFS (0 dBFS = RMS 32767), DSP_SILENCE_DBFS for silence,
 *         an empty block or a level below it
 *
 * RT-safe.
 */
float dsp_rms_dbfs(const int16_t *sampv, size_t sampc)
{
	uint64_t acc = 0;
	size_t i = 0, j;

	if (!sampv || !sampc)
		return DSP_SILENCE_DBFS;

	/* Exact: a square is at most 2^30, which fits uint32, and 64-bit
	 * sums leave room for 2^33 samples. Blocks of BLK let gcc -O2
	 * vectorise (pmaddwd could not: two -32768 squares overflow its
	 * int32 pair sum). */
	for (; i + BLK <= sampc; i += BLK) {
		uint64_t b = 0;

		for (j = 0; j < BLK; j++) {
			int32_t v = sampv[i + j];

			b += (uint32_t)(v * v);
		}
		acc += b;
	}
	for (; i < sampc; i++) {
		int32_t v = sampv[i];

		acc += (uint32_t)(v * v);
	}

	return to_dbfs(sqrt((double)acc / (double)sampc));
}

/**
 * Peak level of a block.
 *
 * @param sampv  Samples
 * @param sampc  Number of samples
 *
 * @return peak in dBFS (0 dBFS = 32767; -32768 reads +0.0003 dBFS, which
 *         is the truth), DSP_SILENCE_DBFS for silence or an empty block
 *
 * RT-safe.
 */
float dsp_peak_dbfs(const int16_t *sampv, size_t sampc)
{
	int16_t mx = 0, mn = 0;
	size_t i = 0, j;
	int32_t peak;

	if (!sampv || !sampc)
		return DSP_SILENCE_DBFS;

	/* max and min separately: |x| of -32768 does not fit int16 */
	for (; i + BLK <= sampc; i += BLK) {
		for (j = 0; j < BLK; j++) {
			int16_t v = sampv[i + j];

			mx = v > mx ? v : mx;
			mn = v < mn ? v : mn;
		}
	}
	for (; i < sampc; i++) {
		int16_t v = sampv[i];

		mx = v > mx ? v : mx;
		mn = v < mn ? v : mn;
	}
	peak = mx > -(int32_t)mn ? mx : -(int32_t)mn;

	return to_dbfs((double)peak);
}
