/**
 * @file synth.c  Seeded test signals: random numbers, noise, talk.
 *
 * Unit tests must run without a speech synthesiser, yet the VAD and the
 * intelligibility measures need input that behaves like speech: energy
 * that comes and goes at the syllable rate (3-6 Hz), a spectrum shaped
 * by formants that move from syllable to syllable, voiced and unvoiced
 * parts, and short gaps. dsp_synth_talk() is a small source-filter
 * synthesiser (a Rosenberg glottal pulse, differentiated for lip
 * radiation, through three resonators, after Klatt 1980) driven by
 * random syllables. It is not speech, and tests that need real speech
 * use espeak-ng in benchmarks and integration tests; but its envelope
 * statistics are close enough that ESTOI and the VAD react to it as they
 * do to speech.
 *
 * Everything is driven by struct dsp_rng, so a seed reproduces a signal
 * exactly on any machine with IEEE float.
 *
 * Threads: any. Not RT-safe in spirit (meant for tests), though nothing
 * here allocates.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsptest.h"

#define PI_F 3.14159265358979f
#define PI_D 3.14159265358979323846
#define TILT 0.6f
#define NFMT 5                  /* F1-F3 move, F4-F5 nearly fixed */

/* ---- random numbers ----------------------------------------------------- */

void dsp_rng_seed(struct dsp_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed: nearby seeds give unrelated states, and
	 * xorshift's forbidden all-zero state cannot occur in practice */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	if (!r)
		return;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dull;
}

uint32_t dsp_rng_u32(struct dsp_rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

float dsp_rng_uniform(struct dsp_rng *r)
{
	return (float)(dsp_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float dsp_rng_gauss(struct dsp_rng *r)
{
	/* Box-Muller; the second value is dropped to keep the state one
	 * word (copyable, and no hidden cache to reset) */
	float u1 = ((float)(dsp_rng_u32(r) >> 8) + 0.5f) *
		(1.0f / 16777216.0f);
	float u2 = dsp_rng_uniform(r);

	return sqrtf(-2.0f * logf(u1)) * cosf(2.0f * PI_F * u2);
}

static float uniform_in(struct dsp_rng *r, float lo, float hi)
{
	return lo + (hi - lo) * dsp_rng_uniform(r);
}

static void set_rms(float *out, size_t n, float rms)
{
	double e = 0.0;
	float k;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)out[i] * out[i];
	if (e <= 0.0)
		return;
	k = (float)(rms / sqrt(e / (double)n));
	for (i = 0; i < n; i++)
		out[i] *= k;
}

/* ---- noise -------------------------------------------------------------- */

/**
 * Stationary noise, RMS 1.0 over the buffer.
 *
 * @param out       Output buffer
 * @param n         Samples
 * @param srate_hz  Sample rate (sets the hum frequency)
 * @param kind      White, pink (Kellet's filter) or 50 Hz hum
 * @param r         Random generator
 */
void dsp_synth_noise(float *out, size_t n, uint32_t srate_hz,
		     enum dsp_noise kind, struct dsp_rng *r)
{
	/* mains hum: odd harmonics dominate (transformer saturation),
	 * with a little of the second */
	static const float hum_amp[] = {1.0f, 0.3f, 0.5f, 0.0f, 0.25f,
					0.0f, 0.12f};
	float b[7] = {0};
	float ph[7];
	size_t i, k;

	if (!out || !r || !srate_hz)
		return;

	switch (kind) {

	case DSP_NOISE_WHITE:
		for (i = 0; i < n; i++)
			out[i] = dsp_rng_gauss(r);
		break;

	case DSP_NOISE_PINK:
		/* Paul Kellet's refined pink filter: -3 dB/octave within
		 * 0.5 dB from ~10 Hz to Nyquist at 44.1 kHz, and from a few
		 * Hz up at lower rates. Run-in so the buffer starts in the
		 * filter's steady state. */
		for (i = 0; i < n + 4096; i++) {
			float w = dsp_rng_gauss(r), y;

			b[0] = 0.99886f * b[0] + w * 0.0555179f;
			b[1] = 0.99332f * b[1] + w * 0.0750759f;
			b[2] = 0.96900f * b[2] + w * 0.1538520f;
			b[3] = 0.86650f * b[3] + w * 0.3104856f;
			b[4] = 0.55000f * b[4] + w * 0.5329522f;
			b[5] = -0.7616f * b[5] - w * 0.0168980f;
			y = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] +
			    w * 0.5362f;
			b[6] = w * 0.115926f;
			if (i >= 4096)
				out[i - 4096] = y;
		}
		break;

	case DSP_NOISE_HUM:
		for (k = 0; k < 7; k++)
			ph[k] = uniform_in(r, 0.0f, 2.0f * PI_F);
		for (i = 0; i < n; i++) {
			/* double phase: a float one drifts audibly over
			 * minutes of samples */
			double t = (double)i / srate_hz;
			float y = 0.0f;

			for (k = 0; k < 7; k++) {
				if (hum_amp[k] == 0.0f ||
				    50.0 * (k + 1) >= srate_hz / 2)
					continue;
				y += hum_amp[k] * (float)sin(2.0 * PI_D * 50.0
						* (double)(k + 1) * t + ph[k]);
			}
			out[i] = y;
		}
		break;
	}

	set_rms(out, n, 1.0f);
}

/* ---- talk --------------------------------------------------------------- */

/* Two-pole resonator. Unity gain at DC (Klatt's normalisation for
 * cascaded formants), so a cascade keeps the source's level below F1
 * and adds the formant peaks; the fricative filter instead is scaled
 * afterwards, by measuring its output. */
struct reso {
	float a1, a2, g;
	float y1, y2;
};

static void reso_set(struct reso *rs, float f_hz, float bw_hz,
		     float srate)
{
	float rr = expf(-PI_F * bw_hz / srate);
	float th = 2.0f * PI_F * f_hz / srate;

	rs->a1 = 2.0f * rr * cosf(th);
	rs->a2 = -rr * rr;
	rs->g = 1.0f - rs->a1 - rs->a2;
}

static float reso_run(struct reso *rs, float x)
{
	float y = rs->g * x + rs->a1 * rs->y1 + rs->a2 * rs->y2;

	rs->y2 = rs->y1;
	rs->y1 = y;
	return y;
}

/* Rosenberg glottal pulse over one period, phase 0..1. */
static float glottal(float ph)
{
	const float open = 0.40f, close = 0.10f;

	if (ph < open)
		return 0.5f * (1.0f - cosf(PI_F * ph / open));
	if (ph < open + close)
		return cosf(0.5f * PI_F * (ph - open) / close);
	return 0.0f;
}

/**
 * Speech-like talk, RMS 1.0 over the buffer. See dsptest.h.
 *
 * @param out       Output buffer
 * @param n         Samples
 * @param srate_hz  Sample rate, 8000..48000 Hz
 * @param r         Random generator (advanced)
 */
void dsp_synth_talk(float *out, size_t n, uint32_t srate_hz,
		    struct dsp_rng *r)
{
	const float fs = (float)srate_hz;
	const float nyq = 0.5f * fs;
	float f0_base, fmt[NFMT] = {500.0f, 1500.0f, 2500.0f, 3500.0f,
				     4500.0f};
	float ph = 0.0f, last_g = 0.0f, last_w = 0.0f, last_y = 0.0f;
	struct reso res[NFMT], fric;
	size_t i = 0;

	if (!out || !r || srate_hz < 8000)
		return;
	memset(out, 0, n * sizeof(*out));
	memset(res, 0, sizeof(res));
	memset(&fric, 0, sizeof(fric));

	/* one talker: a pitch anywhere from a low male to a child */
	f0_base = uniform_in(r, 90.0f, 250.0f);

	while (i < n) {
		/* one syllable: optional fricative, then a voiced nucleus
		 * with its own vowel, loudness and pitch movement */
		size_t nv = (size_t)(uniform_in(r, 0.10f, 0.28f) * fs);
		size_t nf = dsp_rng_uniform(r) < 0.4f ?
			(size_t)(uniform_in(r, 0.04f, 0.10f) * fs) : 0;
		size_t ng = (size_t)(uniform_in(r, 0.02f, 0.07f) * fs);
		float amp = powf(10.0f, uniform_in(r, -8.0f, 0.0f) / 20.0f);
		float famp = amp * uniform_in(r, 0.1f, 0.4f);
		float ffc = fminf(uniform_in(r, 3000.0f, 6000.0f),
				  0.8f * nyq);
		float tgt[NFMT], f0a, f0b;
		size_t k;
		int j;

		tgt[0] = uniform_in(r, 280.0f, 800.0f);
		tgt[1] = uniform_in(r, 900.0f, 2300.0f);
		tgt[2] = uniform_in(r, 2400.0f, 3200.0f);
		tgt[3] = uniform_in(r, 3300.0f, 3900.0f);
		tgt[4] = uniform_in(r, 4300.0f, 5000.0f);
		f0a = f0_base * uniform_in(r, 0.85f, 1.2f);
		f0b = f0a * uniform_in(r, 0.8f, 1.1f);
		if (dsp_rng_uniform(r) < 0.15f)  /* pause between phrases */
			ng += (size_t)(uniform_in(r, 0.15f, 0.35f) * fs);

		/* fricative: differentiated noise (no low frequencies) into
		 * a broad resonance at 3-6 kHz */
		reso_set(&fric, ffc, 0.4f * ffc, fs);
		for (k = 0; k < nf && i + k < n; k++) {
			float e = sinf(PI_F * (float)k / (float)nf);
			float w = dsp_rng_gauss(r);

			out[i + k] = e * reso_run(&fric, w - last_w);
			last_w = w;
		}
		set_rms(out + i, k, famp);
		i += k;

		for (k = 0; k < nv && i + k < n; k++) {
			float u = (float)k / (float)nv;
			/* syllable envelope: fast rise, a vowel plateau
			 * falling by 3 dB, then a decay; a plain raised
			 * cosine leaves too many weak frames, and noise then
			 * masks more of it than of real speech */
			float e = u < 0.15f ? sinf(0.5f * PI_F * u / 0.15f) :
				u < 0.7f ? 1.0f - 0.3f * (u - 0.15f) / 0.55f :
				0.35f + 0.35f * cosf(PI_F * (u - 0.7f) / 0.3f);
			float f0 = f0a + (f0b - f0a) * u;
			float g, src, y;

			if ((k & 31) == 0) {
				/* formants glide to the vowel over the first
				 * third, as in a CV transition */
				float w = u < 0.33f ? 0.15f : 0.02f;

				for (j = 0; j < NFMT; j++) {
					fmt[j] += w * (tgt[j] - fmt[j]);
					reso_set(&res[j],
						 fminf(fmt[j], 0.9f * nyq),
						 60.0f + 0.06f * fmt[j], fs);
				}
			}
			ph += f0 * (1.0f + 0.01f * dsp_rng_gauss(r)) / fs;
			if (ph >= 1.0f)
				ph -= 1.0f;
			/* differentiated pulse: lip radiation */
			g = glottal(ph);
			src = g - last_g;
			last_g = g;
			/* a little breath noise keeps the voiced spectrum
			 * from being a pure line spectrum */
			src += 0.002f * dsp_rng_gauss(r);
			y = src;
			for (j = 0; j < NFMT; j++) {
				/* F4, F5 past Nyquist: skipped, not aliased */
				if (fmt[j] < 0.9f * nyq)
					y = reso_run(&res[j], y);
			}
			/* the cascade of three formants alone is darker than
			 * speech above 1 kHz (real speech has higher formants
			 * and a sharper glottal closure): tilt it back */
			out[i + k] = e * (y - TILT * last_y);
			last_y = y;
		}
		/* the vowel's RMS over its envelope is the syllable level */
		set_rms(out + i, k, amp);
		i += k;

		/* gap: silence (out[] is zeroed); the resonators keep their
		 * state, so the next syllable starts from this vowel */
		i += ng < n - i ? ng : n - i;
	}

	set_rms(out, n, 1.0f);
}

/* ---- rooms -------------------------------------------------------------- */

/**
 * A synthetic room impulse response. See dsptest.h.
 *
 * @param rt60_s    Reverberation time, seconds (> 0)
 * @param srate_hz  Sample rate
 * @param np        Where to store the number of taps
 * @param r         Random generator
 *
 * @return the response (free() it), or NULL
 */
float *dsp_synth_room(float rt60_s, uint32_t srate_hz, size_t *np,
		      struct dsp_rng *r)
{
	size_t n, start, i;
	double k, e = 0.0, g;
	float *h;

	if (!(rt60_s > 0.0f) || !srate_hz || !np || !r)
		return NULL;
	n = (size_t)(0.75f * rt60_s * (float)srate_hz);
	start = srate_hz / 1000;
	if (n <= start)
		n = start + 1;
	k = 6.9078 / (rt60_s * (double)srate_hz);   /* ln(1000) per RT60 */
	h = calloc(n, sizeof(*h));
	if (!h)
		return NULL;
	for (i = start; i < n; i++) {
		h[i] = dsp_rng_gauss(r) * (float)exp(-k * (double)i);
		e += (double)h[i] * h[i];
	}
	g = e > 0.0 ? sqrt(0.5 / e) : 0.0;
	for (i = start; i < n; i++)
		h[i] = (float)(h[i] * g);
	h[0] = (float)sqrt(0.5);
	*np = n;
	return h;
}
