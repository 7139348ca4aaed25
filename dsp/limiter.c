/**
 * @file limiter.c  Look-ahead peak limiter for outgoing mixes.
 *
 * Method. Every input sample x needs the gain r = min(1, ceiling / |x|)
 * by the time it leaves the delay line, lookahead samples later. The
 * gain moves in straight lines: at each output step it may fall no
 * faster than needed to reach, for every sample still in the delay line,
 * that sample's r exactly when it is output (the steepest of those
 * slopes wins), and it rises by a one-pole release towards 1. Because
 * the line to every pending r is respected at every step, no output
 * sample ever exceeds the ceiling; because a sample enters the line
 * lookahead + 1 steps before it is output, the gain never changes by
 * more than 1 / (lookahead + 1) per sample, so overload does not click.
 * The release waits 20 ms after the last sample that needed a cut (the
 * hold: one period of the lowest pitch or mains hum, so that the gain
 * does not ripple between the peaks of a steady overloaded tone), then
 * rises with a 60 ms time constant: slow enough not to modulate, fast
 * enough that a quiet talker after a loud one is not ducked for long.
 * Unlike the common min-hold + moving-average design, the straight-line
 * attack needs no third buffer, so the state stays a small plain struct.
 *
 * State (struct dsp_limiter in dsp.h): delay[] holds the delayed input,
 * peakv[] the required gain r of the same samples, both rings of
 * lookahead entries with delay[pos] the oldest; hold counts down the
 * samples before the release may start. Below the ceiling the
 * gain is exactly 1.0 and the output is the input delayed by lookahead
 * samples, bit-exact for integer-valued input.
 *
 * Threads: any; one limiter per output stream, no locking. RT-safe.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "dsp.h"

#define BLK 8                   /* vectorisable block, as in mix.c */
#define RELEASE_S 0.060f
#define HOLD_S 0.020f
/* The release aims slightly above 1 so that it reaches 1.0 in finite
 * time: an exponential aimed at 1 itself stalls below it in float. */
#define RELEASE_TARGET 1.001f
/* Larger magnitudes (and NaN, inf) are treated as silence, not as a
 * reason to drop the gain to zero for the next 60 ms. */
#define INPUT_MAX 1e30f

static const float inv_dist[DSP_LIMITER_MAX_LOOKAHEAD + 2] = {
	0.0f,
	1.0f / 1,  1.0f / 2,  1.0f / 3,  1.0f / 4,  1.0f / 5,  1.0f / 6,
	1.0f / 7,  1.0f / 8,  1.0f / 9,  1.0f / 10, 1.0f / 11, 1.0f / 12,
	1.0f / 13, 1.0f / 14, 1.0f / 15, 1.0f / 16, 1.0f / 17, 1.0f / 18,
	1.0f / 19, 1.0f / 20, 1.0f / 21, 1.0f / 22, 1.0f / 23, 1.0f / 24,
	1.0f / 25, 1.0f / 26, 1.0f / 27, 1.0f / 28, 1.0f / 29, 1.0f / 30,
	1.0f / 31, 1.0f / 32, 1.0f / 33, 1.0f / 34, 1.0f / 35, 1.0f / 36,
	1.0f / 37, 1.0f / 38, 1.0f / 39, 1.0f / 40, 1.0f / 41, 1.0f / 42,
	1.0f / 43, 1.0f / 44, 1.0f / 45, 1.0f / 46, 1.0f / 47, 1.0f / 48,
	1.0f / 49,
};

/**
 * Set up a limiter.
 *
 * @param lim           Limiter to initialise (any previous state lost)
 * @param srate_hz      Sample rate, 8000..48000 Hz; look-ahead is 1 ms
 * @param ceiling_dbfs  Highest output level, -40..0 dBFS (e.g. -1.0)
 *
 * @return 0 for success, EINVAL for bad arguments
 */
int dsp_limiter_init(struct dsp_limiter *lim, uint32_t srate_hz,
		     float ceiling_dbfs)
{
	uint32_t la, i;

	if (!lim || srate_hz < 8000 || srate_hz > 48000)
		return EINVAL;
	if (!(ceiling_dbfs <= 0.0f && ceiling_dbfs >= -40.0f))
		return EINVAL;

	memset(lim, 0, sizeof(*lim));
	la = (srate_hz + 500) / 1000;
	if (la > DSP_LIMITER_MAX_LOOKAHEAD)
		la = DSP_LIMITER_MAX_LOOKAHEAD;

	lim->ceiling = 32767.0f * powf(10.0f, ceiling_dbfs / 20.0f);
	lim->gain = 1.0f;
	lim->release_coef = expf(-1.0f / (RELEASE_S * (float)srate_hz));
	lim->lookahead = la;
	lim->pos = 0;
	for (i = 0; i < DSP_LIMITER_MAX_LOOKAHEAD; i++)
		lim->peakv[i] = 1.0f;
	lim->min_gain_seen = 1.0f;

	return 0;
}

/* Largest slope the gain may take this step: the minimum over pending
 * samples of (r - g) / d, d being the steps until that sample is out
 * (1 for the oldest). Split in two runs so the ring needs no modulo. */
static float max_slope(const struct dsp_limiter *lim, float g,
		       float r_new)
{
	const uint32_t la = lim->lookahead, pos = lim->pos;
	float s = (r_new - g) * inv_dist[la + 1];
	uint32_t j, d = 1;

	for (j = pos; j < la; j++, d++) {
		float t = (lim->peakv[j] - g) * inv_dist[d];

		s = t < s ? t : s;
	}
	for (j = 0; j < pos; j++, d++) {
		float t = (lim->peakv[j] - g) * inv_dist[d];

		s = t < s ? t : s;
	}

	return s;
}

/* True if no sample of the block needs limiting (NaN counts as loud, so
 * that it takes the path that sanitises it). Written as an or of flags
 * so that it vectorises. */
static bool quiet_block(const float *in, size_t n, float ceil_lin)
{
	int loud = 0;
	size_t i = 0, j;

	for (; i + BLK <= n; i += BLK) {
		for (j = 0; j < BLK; j++)
			loud |= !(fabsf(in[i + j]) <= ceil_lin);
	}
	for (; i < n; i++)
		loud |= !(fabsf(in[i]) <= ceil_lin);
	return !loud;
}

/* Round to nearest, half away from zero, for |y| <= 32767. lrintf()
 * would be a libm call per sample here (errno semantics). */
static inline int16_t round16(float y)
{
	return (int16_t)(int32_t)(y + copysignf(0.5f, y));
}

/* The common case, a mix below the ceiling with the gain at 1.0 and no
 * cut pending: the output is the delay line, then the input, and the
 * delay line takes the block's last samples. Same result as the
 * per-sample loop (peakv stays all 1.0), at a fraction of the cost. */
static void pass_through(struct dsp_limiter *lim, const float *in,
			 int16_t *out, size_t n)
{
	const uint32_t la = lim->lookahead;
	uint32_t j = lim->pos;
	size_t i;

	for (i = 0; i < n && i < la; i++) {
		out[i] = round16(lim->delay[j]);
		if (++j == la)
			j = 0;
	}
	for (; i + BLK <= n; i += BLK) {
		size_t k;

		for (k = 0; k < BLK; k++)
			out[i + k] = round16(in[i + k - la]);
	}
	for (; i < n; i++)
		out[i] = round16(in[i - la]);

	i = n > la ? n - la : 0;
	j = (uint32_t)((lim->pos + i) % la);
	for (; i < n; i++) {
		lim->delay[j] = in[i];
		if (++j == la)
			j = 0;
	}
	lim->pos = (uint32_t)((lim->pos + n) % la);
}

/**
 * Limit n samples. out[i] is in[i - lookahead] times the current gain,
 * rounded; the first lookahead outputs of a fresh limiter are zeros.
 *
 * @param lim  Limiter
 * @param in   Input, float in int16 scale, any magnitude
 * @param out  Output, never beyond +-ceiling (may not alias in)
 * @param n    Number of samples
 *
 * RT-safe.
 */
void dsp_limiter_process(struct dsp_limiter *lim, const float *in,
			 int16_t *out, size_t n)
{
	const float ceil_lin = lim ? lim->ceiling : 0.0f;
	const float cmax = floorf(ceil_lin);
	uint32_t la, busy = 0, j, d, hold, hold_len;
	float g, rel, gmin;
	size_t i;

	if (!lim || !in || !out || !lim->lookahead ||
	    lim->lookahead > DSP_LIMITER_MAX_LOOKAHEAD)
		return;

	la = lim->lookahead;
	/* lookahead is the rate in kHz (up to 48 kHz); the hold counts
	 * from the moment the sample is output, not when it enters */
	hold_len = (uint32_t)(HOLD_S * (float)la * 1000.0f) + la;
	hold = lim->hold;
	g = lim->gain;
	gmin = lim->min_gain_seen;
	rel = 1.0f - lim->release_coef;

	/* busy: output steps until no pending sample needs a gain < 1.
	 * Kept out of the struct (it follows from peakv), it lets quiet
	 * audio skip the O(lookahead) scan. */
	for (j = lim->pos, d = 1; d <= la; d++) {
		if (lim->peakv[j] < 1.0f)
			busy = d;
		if (++j == la)
			j = 0;
	}

	if (!busy && !hold && g == 1.0f && quiet_block(in, n, ceil_lin)) {
		pass_through(lim, in, out, n);
		return;
	}

	for (i = 0; i < n; i++) {
		float x = in[i], ax = fabsf(x), r = 1.0f, old, y;

		if (!(ax < INPUT_MAX)) {
			x = 0.0f;
			ax = 0.0f;
		}
		if (ax > ceil_lin) {
			r = ceil_lin / ax;
			busy = la + 1;
			hold = hold_len;
		}

		if (busy) {
			/* during the hold the gain may fall, not rise */
			float gr = hold ? g : g + rel * (RELEASE_TARGET - g);
			float gs = g + max_slope(lim, g, r);

			g = gr < gs ? gr : gs;
			--busy;
		}
		else if (g < 1.0f && !hold) {
			g += rel * (RELEASE_TARGET - g);
		}
		if (hold)
			--hold;
		if (g > 1.0f)
			g = 1.0f;
		else if (g < 0.0f)
			g = 0.0f;
		gmin = g < gmin ? g : gmin;

		old = lim->delay[lim->pos];
		lim->delay[lim->pos] = x;
		lim->peakv[lim->pos] = r;
		if (++lim->pos == la)
			lim->pos = 0;

		/* The clamp is a safety net against float rounding of g * old
		 * (at most one LSB); the gain already keeps y in range. */
		y = g * old;
		y = y > cmax ? cmax : y;
		y = y < -cmax ? -cmax : y;
		out[i] = round16(y);
	}

	lim->gain = g;
	lim->hold = hold;
	lim->min_gain_seen = gmin;
}

/**
 * Read and restart the limiter's gain meter.
 *
 * @param lim  Limiter
 *
 * @return lowest gain applied since the previous call, 0..1
 *
 * RT-safe.
 */
float dsp_limiter_take_min_gain(struct dsp_limiter *lim)
{
	float m;

	if (!lim)
		return 1.0f;
	m = lim->min_gain_seen;
	lim->min_gain_seen = lim->gain;
	return m;
}
