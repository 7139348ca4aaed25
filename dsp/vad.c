/**
 * @file vad.c  Voice activity detector: noise floor tracking + frame SNR.
 *
 * Why our own: SpeexDSP 1.2's VAD was replaced by a placeholder that calls
 * -60 dBFS white noise speech, and talker selection needs a detector
 * that ignores a site's steady fan, hiss or mains hum at any level.
 *
 * Method, per frame (about 20 ms):
 *  1. Band split. A 200 Hz high-pass (removes hum and rumble), a 4 kHz
 *     low-pass (most speech energy, little of white noise's), then a
 *     1 kHz low-pass splits that into a low band (voicing, F1) and a high
 *     band (F2, F3, fricatives). Three biquads, a few flops per sample.
 *  2. Noise floor per band, from two estimators:
 *     - minimum statistics (Martin 2001, simplified): the minimum of the
 *       smoothed band energy over 1.5 s, kept as 6 sub-window minima of
 *       250 ms, times a bias factor, since a minimum sits below the mean.
 *       It follows a falling noise at once and, unlike "update the noise
 *       only in non-speech frames", can never lock onto speech as noise
 *       nor lock out a louder noise for good;
 *     - stationarity: when the level of the last 16 frames (320 ms)
 *       stays within 3.5 dB, no talker is active (speech moves by 10 dB
 *       or more between syllables), so the floor is set to the recent
 *       mean energy at once and the older, lower minima are raised to
 *       it. This is what adapts to a rising noise in ~0.35 s instead of
 *       the 1.5 s of the minimum window.
 *  3. Score: the SNR of the frame against the floor, over the whole
 *     band and per band (a per-band SNR 3 dB higher is needed, as it
 *     doubles the chances a noise frame gets through); a logistic turns
 *     it into a probability centred at 5 dB. Stationary noise frames of
 *     20 ms fluctuate by about +-1 dB in these bands, so they stay well
 *     below that; speech 10 dB above the noise is above it in most
 *     frames, and the 200 ms hangover bridges the weak ones.
 *  4. Frames below -70 dBFS in the band are not speech, whatever their
 *     SNR, so that dither after digital silence is not a talker.
 *
 * Costs about 1-3 us per 20 ms frame at 16 kHz (see tests/bench).
 *
 * Threads: any; one detector per site. RT-safe after dsp_vad_init().
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include "dsp.h"

#define PI_F 3.14159265358979f

#define HP_HZ 200.0f
#define LP_HZ 4000.0f
#define SPLIT_HZ 1000.0f
#define SUBWIN_S 0.25f
#define STAT_DB 3.5f
#define BIAS 1.26f              /* +1 dB: mean over minimum */
#define SMOOTH 0.5f             /* per-frame smoothing for the minimum */
#define RISE_DB_S 3.0f          /* fastest rise of a non-stationary floor */
#define RISE_YOUNG_DB_S 30.0f   /* the same in the first YOUNG_S seconds */
#define YOUNG_S 2u
#define SCORE_DB 5.0f           /* probability 0.5 */
#define SCORE_SLOPE 1.2f        /* per dB */
#define BAND_PENALTY_DB 3.0f
#define HANG_MS 200u
/* energies are mean squares in int16 units: 0 dBFS = 32767^2 */
#define FULL_E (32767.0f * 32767.0f)
#define ABS_MIN_E (FULL_E * 1e-7f)       /* -70 dBFS */
#define FLOOR_MIN_E (FULL_E * 1e-10f)    /* -100 dBFS */

enum { F_HP, F_LP, F_SPLIT };

/* RBJ cookbook biquad, Q = 1/sqrt(2), normalised: b0 b1 b2 a1 a2. */
static void biquad_design(float c[5], float f_hz, float srate, bool hp)
{
	const float w0 = 2.0f * PI_F * f_hz / srate;
	const float cw = cosf(w0), alpha = sinf(w0) / (2.0f * 0.70710678f);
	const float a0 = 1.0f + alpha;

	if (hp) {
		c[0] = (1.0f + cw) / 2.0f / a0;
		c[1] = -(1.0f + cw) / a0;
	}
	else {
		c[0] = (1.0f - cw) / 2.0f / a0;
		c[1] = (1.0f - cw) / a0;
	}
	c[2] = c[0];
	c[3] = -2.0f * cw / a0;
	c[4] = (1.0f - alpha) / a0;
}

/**
 * Set up a voice activity detector.
 *
 * @param v         Detector
 * @param srate_hz  Sample rate, 8000..48000 Hz
 *
 * @return 0 for success, EINVAL for bad arguments
 */
int dsp_vad_init(struct dsp_vad *v, uint32_t srate_hz)
{
	const float fs = (float)srate_hz;
	float lp = LP_HZ;

	if (!v || srate_hz < 8000 || srate_hz > 48000)
		return EINVAL;

	memset(v, 0, sizeof(*v));
	v->srate_hz = srate_hz;
	if (lp > 0.45f * fs)
		lp = 0.45f * fs;
	biquad_design(v->bq[F_HP], HP_HZ, fs, true);
	biquad_design(v->bq[F_LP], lp, fs, false);
	biquad_design(v->bq[F_SPLIT], SPLIT_HZ, fs, false);

	return 0;
}

static inline float biquad(const float c[5], float z[2], float x)
{
	/* transposed direct form II: two states, good float behaviour */
	float y = c[0] * x + z[0];

	z[0] = c[1] * x - c[3] * y + z[1];
	z[1] = c[2] * x - c[4] * y;
	return y;
}

static float db10(float e)
{
	return 10.0f * log10f(e > FLOOR_MIN_E ? e : FLOOR_MIN_E);
}

/* Step 2 of the method, on the band energies of one frame. */
static void track_floor(struct dsp_vad *v, const float e[DSP_VAD_BANDS],
			size_t n)
{
	/* In the first seconds the floor is a guess: let it rise fast
	 * enough to meet any noise that the stationarity test misses. */
	const bool young = (uint64_t)v->frames * n <
		(uint64_t)YOUNG_S * v->srate_hz;
	const float rise = powf(10.0f, (young ? RISE_YOUNG_DB_S : RISE_DB_S) *
				(float)n / (10.0f * (float)v->srate_hz));
	float lo = HUGE_VALF, hi = -HUGE_VALF;
	bool stationary;
	uint32_t b, k;

	if (!v->frames) {
		/* Start from a floor of -100 dBFS rather than from the
		 * first frame: if a talker is already speaking, the first
		 * frame is speech, and would hide the talk until a pause.
		 * If it is noise, it reads as speech until the stationarity
		 * test (320 ms) or the fast young rise catches it. */
		for (b = 0; b < DSP_VAD_BANDS; b++) {
			v->smooth[b] = v->sub_min[b] = e[b];
			v->floor[b] = FLOOR_MIN_E;
			for (k = 0; k < DSP_VAD_SUBWINS; k++)
				v->win_min[k][b] = FLT_MAX;
		}
	}

	for (b = 0; b < DSP_VAD_BANDS; b++)
		v->hist_e[v->hist_idx][b] = e[b];
	v->hist_db[v->hist_idx] = db10(e[0] + e[1] + e[2]);
	if (++v->hist_idx == DSP_VAD_HIST)
		v->hist_idx = 0;
	for (k = 0; k < DSP_VAD_HIST; k++) {
		lo = v->hist_db[k] < lo ? v->hist_db[k] : lo;
		hi = v->hist_db[k] > hi ? v->hist_db[k] : hi;
	}
	stationary = v->frames + 1 >= DSP_VAD_HIST && hi - lo < STAT_DB;

	for (b = 0; b < DSP_VAD_BANDS; b++) {
		float m;

		v->smooth[b] = SMOOTH * v->smooth[b] + (1.0f - SMOOTH) * e[b];
		if (v->smooth[b] < v->sub_min[b])
			v->sub_min[b] = v->smooth[b];

		if (stationary) {
			/* No talker in the last 320 ms: the floor is their
			 * mean, and past minima describe a noise that is
			 * gone, so they may not pull it down later. */
			float mean = 0.0f, raise;

			for (k = 0; k < DSP_VAD_HIST; k++)
				mean += v->hist_e[k][b];
			mean /= (float)DSP_VAD_HIST;
			raise = mean / BIAS;
			for (k = 0; k < DSP_VAD_SUBWINS; k++) {
				if (v->win_min[k][b] < raise)
					v->win_min[k][b] = raise;
			}
			if (v->sub_min[b] < raise)
				v->sub_min[b] = raise;
			v->floor[b] = mean;
		}
		else {
			/* Follow a falling minimum at once, a rising one
			 * slowly: talk without pauses lifts the minimum of
			 * its window, and must not become the floor. */
			m = v->sub_min[b];
			for (k = 0; k < DSP_VAD_SUBWINS; k++) {
				if (v->win_min[k][b] < m)
					m = v->win_min[k][b];
			}
			m *= BIAS;
			if (m < v->floor[b])
				v->floor[b] = m;
			else if (m > v->floor[b] * rise)
				v->floor[b] *= rise;
			else
				v->floor[b] = m;
		}
		if (v->floor[b] < FLOOR_MIN_E)
			v->floor[b] = FLOOR_MIN_E;
	}

	v->sub_samples += (uint32_t)n;
	if (v->sub_samples >= (uint32_t)(SUBWIN_S * (float)v->srate_hz)) {
		for (b = 0; b < DSP_VAD_BANDS; b++) {
			v->win_min[v->sub_idx][b] = v->sub_min[b];
			v->sub_min[b] = v->smooth[b];
		}
		if (++v->sub_idx == DSP_VAD_SUBWINS)
			v->sub_idx = 0;
		v->sub_samples = 0;
	}
}

/**
 * Analyse one frame. See dsp.h.
 *
 * @param v      Detector
 * @param frame  Samples, int16
 * @param n      Number of samples (10-30 ms worth)
 *
 * @return probability 0..1 that the frame holds speech
 *
 * RT-safe.
 */
float dsp_vad_process(struct dsp_vad *v, const int16_t *frame, size_t n)
{
	float acc[DSP_VAD_BANDS] = {0.0f, 0.0f, 0.0f}, e[DSP_VAD_BANDS];
	float snr_tot, snr_band = -HUGE_VALF, score, p;
	uint32_t hang_len;
	size_t i;
	int b, k;

	if (!v || !v->srate_hz || !frame || !n)
		return v ? v->prob : 0.0f;

	for (i = 0; i < n; i++) {
		float x = (float)frame[i];
		float m, lo;

		x = biquad(v->bq[F_HP], v->z[F_HP], x);
		m = biquad(v->bq[F_LP], v->z[F_LP], x);
		lo = biquad(v->bq[F_SPLIT], v->z[F_SPLIT], m);
		acc[0] += lo * lo;
		acc[1] += (m - lo) * (m - lo);
		acc[2] += (x - m) * (x - m);
	}
	/* After long silence the states decay towards denormals, which
	 * cost 100x per operation on x86: flush them. */
	for (k = 0; k < 3; k++) {
		if (fabsf(v->z[k][0]) < 1e-12f && fabsf(v->z[k][1]) < 1e-12f)
			v->z[k][0] = v->z[k][1] = 0.0f;
	}
	for (b = 0; b < DSP_VAD_BANDS; b++)
		e[b] = acc[b] / (float)n;
	/* at 8 kHz the top band is a sliver near Nyquist whose few degrees
	 * of freedom would only add noise to the decision */
	if (v->srate_hz < 16000)
		e[2] = 0.0f;

	track_floor(v, e, n);
	if (v->frames < UINT32_MAX)
		++v->frames;

	snr_tot = db10(e[0] + e[1] + e[2]) -
		db10(v->floor[0] + v->floor[1] + v->floor[2]);
	for (b = 0; b < DSP_VAD_BANDS; b++) {
		float s = db10(e[b]) - db10(v->floor[b]);

		snr_band = s > snr_band ? s : snr_band;
	}
	score = snr_band - BAND_PENALTY_DB;
	score = snr_tot > score ? snr_tot : score;
	p = 1.0f / (1.0f + expf(-SCORE_SLOPE * (score - SCORE_DB)));
	if (e[0] + e[1] + e[2] < ABS_MIN_E)
		p = 0.0f;
	v->prob = p;

	hang_len = (uint32_t)((uint64_t)HANG_MS * v->srate_hz / 1000u);
	if (p >= 0.5f)
		v->hang_samples = hang_len + (uint32_t)n;
	else
		v->hang_samples = v->hang_samples > n ?
			v->hang_samples - (uint32_t)n : 0;

	return p;
}

/**
 * Whether speech is active, with hangover. See dsp.h.
 *
 * @param v  Detector
 *
 * @return true from a frame with probability >= 0.5 until 200 ms of
 *         frames below it have followed
 *
 * RT-safe.
 */
bool dsp_vad_active(const struct dsp_vad *v)
{
	return v && v->hang_samples > 0;
}

/**
 * Noise floor estimate. See dsp.h.
 *
 * @param v  Detector
 *
 * @return floor in the 200-4000 Hz band, dBFS (DSP_SILENCE_DBFS before
 *         the first frame)
 *
 * RT-safe.
 */
float dsp_vad_noise_dbfs(const struct dsp_vad *v)
{
	float db;

	if (!v || !v->frames)
		return DSP_SILENCE_DBFS;
	db = db10(v->floor[0] + v->floor[1] + v->floor[2]) - db10(FULL_E);
	return db < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : db;
}
