/**
 * @file asrc.c  Drift-correcting resampler (see dsp.h).
 *
 * The filter is a Blackman-windowed sinc, cut off at 0.92 of Nyquist,
 * DSP_ASRC_TAPS long, tabulated at DSP_ASRC_PHASES fractional offsets
 * plus one (so the last phase interpolates towards the next sample).
 * Between two tabulated phases the two dot products are blended
 * linearly; with 128 phases that error is below -80 dB for speech, far
 * under the 16-bit floor. Each resampler builds its own table (8 kB)
 * at init: dsp/ keeps no global state.
 *
 * Threads: any; one struct dsp_asrc per user. RT-safe after init.
 */
#include <math.h>
#include <string.h>
#include "dsp.h"

#define TAPS DSP_ASRC_TAPS
#define PHASES DSP_ASRC_PHASES
#define CUTOFF 0.92

static void table_build(float (*table)[TAPS])
{
	int p, k;

	for (p = 0; p <= PHASES; p++) {
		const double frac = (double)p / PHASES;
		double sum = 0;

		for (k = 0; k < TAPS; k++) {
			/* tap k weighs input sample (k - TAPS/2 + 1) from
			 * the integer position; the output sits at frac */
			double x = (double)(k - TAPS / 2 + 1) - frac;
			double w = 0.42 + 0.5 * cos(M_PI * x / (TAPS / 2)) +
				0.08 * cos(2 * M_PI * x / (TAPS / 2));
			double s = x == 0 ? CUTOFF :
				sin(M_PI * CUTOFF * x) / (M_PI * x);

			if (fabs(x) >= TAPS / 2)
				w = 0;
			table[p][k] = (float)(s * w);
			sum += s * w;
		}
		/* unity gain at DC for every phase */
		for (k = 0; k < TAPS; k++)
			table[p][k] = (float)(table[p][k] / sum);
	}
}

void dsp_asrc_init(struct dsp_asrc *a)
{
	memset(a, 0, sizeof(*a));
	table_build(a->table);
	a->ratio = 1.0;
	/* the first output is centred on the first real sample */
	a->n = TAPS / 2 - 1;
	a->pos = TAPS / 2 - 1;
}

void dsp_asrc_set_ratio(struct dsp_asrc *a, double ratio)
{
	if (ratio > 0.9 && ratio < 1.1)
		a->ratio = ratio;
}

size_t dsp_asrc_push(struct dsp_asrc *a, const int16_t *in, size_t n)
{
	size_t i;

	/* drop what no output can reach any more */
	if (a->n + n > DSP_ASRC_HIST) {
		size_t keep_from = (size_t)a->pos - (TAPS / 2 - 1);

		if (keep_from > a->n)
			keep_from = a->n;
		memmove(a->hist, a->hist + keep_from,
			(a->n - keep_from) * sizeof(*a->hist));
		a->n -= (uint32_t)keep_from;
		a->pos -= (double)keep_from;
	}
	if (n > DSP_ASRC_HIST - a->n)
		n = DSP_ASRC_HIST - a->n;
	for (i = 0; i < n; i++)
		a->hist[a->n + i] = in[i];
	a->n += (uint32_t)n;
	return n;
}

size_t dsp_asrc_ready(const struct dsp_asrc *a)
{
	/* output at pos needs hist up to floor(pos) + TAPS/2 */
	double last = (double)a->n - TAPS / 2 - 1;

	if (last < a->pos)
		return 0;
	return (size_t)((last - a->pos) / a->ratio) + 1;
}

size_t dsp_asrc_pull(struct dsp_asrc *a, int16_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const size_t ip = (size_t)a->pos;
		const double fp = (a->pos - (double)ip) * PHASES;
		const size_t ph = (size_t)fp;
		const float f = (float)(fp - (double)ph);
		const float *x, *t0, *t1;
		float y0 = 0, y1 = 0, y;
		int k;

		if (ip + TAPS / 2 >= a->n)
			break;
		x = a->hist + ip - (TAPS / 2 - 1);
		t0 = a->table[ph];
		t1 = a->table[ph + 1];
		for (k = 0; k < TAPS; k++) {
			y0 += x[k] * t0[k];
			y1 += x[k] * t1[k];
		}
		y = y0 + f * (y1 - y0);
		out[i] = (int16_t)lrintf(y > 32767.0f ? 32767.0f :
					 y < -32768.0f ? -32768.0f : y);
		a->pos += a->ratio;
	}
	return i;
}
