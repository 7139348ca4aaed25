/**
 * @file bench_dsp.c  Cost of the dsp/ functions per 20 ms frame at 16 kHz.
 *
 * Prints a table: ns per call on one 20 ms frame (320 samples), for every
 * per-frame function of dsp/, next to speex_preprocess_run() with denoise
 * and AGC on (the per-site DSP the bridge would otherwise run), in the
 * same run and on the same input, with the ratio to that baseline. The
 * offline quality measures are timed per 20 ms of signal analysed. Then,
 * if espeak-ng is installed, ESTOI is checked on real synthetic speech
 * against white noise, for comparison with published figures.
 *
 * Never passes or fails (house style 2.7): it only prints.
 *
 * Usage: bench_dsp [seconds of signal per measurement, default 10]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sndfile.h>
#include <speex/speex_preprocess.h>
#include "dsp.h"
#include "dsptest.h"

#define SR 16000
#define FR 320
#define RUNS 5

static int16_t *pcm;          /* talk + pink noise, int16 */
static float *pcmf;           /* the same, float */
static float *talk, *noise;
static size_t nframes;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median over RUNS passes of ns per frame; 'op' runs frame f. */
typedef void (frame_op_h)(size_t f, void *arg);

static double time_frames(frame_op_h *op, void *arg)
{
	double v[RUNS];
	size_t f;
	int r;

	for (r = 0; r < RUNS; r++) {
		double t0 = now_ns();

		for (f = 0; f < nframes; f++)
			op(f, arg);
		v[r] = (now_ns() - t0) / (double)nframes;
	}
	qsort(v, RUNS, sizeof(v[0]), cmp_double);
	return v[RUNS / 2];
}

static volatile float sink;

static void op_rms(size_t f, void *arg)
{
	(void)arg;
	sink = dsp_rms_dbfs(pcm + f * FR, FR);
}

static void op_peak(size_t f, void *arg)
{
	(void)arg;
	sink = dsp_peak_dbfs(pcm + f * FR, FR);
}

static float acc[FR], mm[FR];

static void op_mix_add(size_t f, void *arg)
{
	(void)arg;
	dsp_mix_add(acc, pcm + f * FR, 0.5f, FR);
}

static void op_mix_minus(size_t f, void *arg)
{
	(void)arg;
	dsp_mix_minus(mm, acc, pcm + f * FR, 0.5f, FR);
	sink = mm[f % FR];
}

static void op_s16_to_float(size_t f, void *arg)
{
	(void)arg;
	dsp_s16_to_float(mm, pcm + f * FR, FR);
	sink = mm[f % FR];
}

struct lim_arg {
	struct dsp_limiter lim;
	float gain;
	float buf[FR];
	int16_t out[FR];
};

static void op_limiter(size_t f, void *arg)
{
	struct lim_arg *a = arg;
	size_t i;

	/* scaling is part of the mixer's work anyway (its gain) */
	for (i = 0; i < FR; i++)
		a->buf[i] = a->gain * pcmf[f * FR + i];
	dsp_limiter_process(&a->lim, a->buf, a->out, FR);
}

static void op_vad(size_t f, void *arg)
{
	sink = dsp_vad_process(arg, pcm + f * FR, FR);
}

static void op_speex(size_t f, void *arg)
{
	int16_t fr[FR];

	memcpy(fr, pcm + f * FR, sizeof(fr));
	speex_preprocess_run(arg, fr);
	sink = fr[f % FR];
}

static void row(const char *name, double ns, double base, const char *note)
{
	printf("%-34s %10.1f %9.4f  %s\n", name, ns, ns / base, note);
}

/* Offline measures: ns per 20 ms of signal analysed. */
static void quality_rows(double base, size_t n)
{
	const double frames = (double)n / FR;
	float s;
	int32_t lag;
	double t0;

	t0 = now_ns();
	dsp_estoi(talk, pcmf, n, SR, &s);
	row("dsp_estoi (per 20 ms analysed)", (now_ns() - t0) / frames,
	    base, "offline");
	t0 = now_ns();
	dsp_stoi(talk, pcmf, n, SR, &s);
	row("dsp_stoi", (now_ns() - t0) / frames, base, "offline");
	t0 = now_ns();
	dsp_segsnr_db(talk, pcmf, n, FR, &s);
	row("dsp_segsnr_db", (now_ns() - t0) / frames, base, "offline");
	t0 = now_ns();
	dsp_erle_db(pcmf, talk, n, FR, -50.0f, &s);
	row("dsp_erle_db", (now_ns() - t0) / frames, base, "offline");
	t0 = now_ns();
	dsp_delay_estimate(talk, n, pcmf, n, -SR / 2, SR / 2, &lag, &s);
	row("dsp_delay_estimate (+-0.5 s)", (now_ns() - t0) / frames, base,
	    "offline, FFT of 2x the signal");
	t0 = now_ns();
	dsp_presence_db(talk, n, pcmf, n, -SR / 2, SR / 2, 17, &s, &lag);
	row("dsp_presence_db (17 taps)", (now_ns() - t0) / frames, base,
	    "offline");
}

/* ESTOI of espeak-ng speech with white noise: a check of the measure
 * on real (synthetic) speech, for comparison with published curves. */
static void espeak_check(void)
{
	static const char *const text =
		"Good morning everyone, thanks for joining the call today. "
		"I want to go through the budget numbers first, and then we "
		"can talk about the schedule for next quarter.";
	char path[] = "/tmp/bench_dsp_XXXXXX";
	char cmd[512];
	SF_INFO info;
	SNDFILE *sf;
	float *x = NULL, *y = NULL, *w = NULL;
	struct dsp_rng r;
	double ex = 0.0, ew = 0.0;
	size_t n, i;
	int fd, snr;

	fd = mkstemp(path);
	if (fd < 0)
		return;
	close(fd);
	snprintf(cmd, sizeof(cmd), "espeak-ng -w %s \"%s\" 2>/dev/null",
		 path, text);
	if (system(cmd) != 0) {
		printf("\n(espeak-ng not available: no speech check)\n");
		goto out;
	}
	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf)
		goto out;
	n = (size_t)info.frames;
	x = malloc(n * sizeof(*x));
	y = malloc(n * sizeof(*y));
	w = malloc(n * sizeof(*w));
	if (!x || !y || !w || info.channels != 1) {
		sf_close(sf);
		goto out;
	}
	n = (size_t)sf_readf_float(sf, x, (sf_count_t)n);
	sf_close(sf);

	dsp_rng_seed(&r, 1);
	dsp_synth_noise(w, n, (uint32_t)info.samplerate, DSP_NOISE_WHITE,
			&r);
	for (i = 0; i < n; i++) {
		ex += (double)x[i] * x[i];
		ew += (double)w[i] * w[i];
	}
	printf("\nESTOI / STOI of espeak-ng speech (%.1f s at %d Hz) + white "
	       "noise:\n", (double)n / info.samplerate, info.samplerate);
	for (snr = -10; snr <= 20; snr += 5) {
		const float g = (float)sqrt(ex / ew * pow(10.0, -snr / 10.0));
		float e = 0.0f, s = 0.0f;

		for (i = 0; i < n; i++)
			y[i] = x[i] + g * w[i];
		dsp_estoi(x, y, n, (uint32_t)info.samplerate, &e);
		dsp_stoi(x, y, n, (uint32_t)info.samplerate, &s);
		printf("  SNR %3d dB: ESTOI %.3f  STOI %.3f\n", snr,
		       (double)e, (double)s);
	}
 out:
	unlink(path);
	free(x);
	free(y);
	free(w);
}

int main(int argc, char *argv[])
{
	const double secs = argc > 1 ? atof(argv[1]) : 10.0;
	const float nrms = 32767.0f * powf(10.0f, -50.0f / 20.0f);
	const float srms = 32767.0f * powf(10.0f, -26.0f / 20.0f);
	SpeexPreprocessState *pp;
	struct lim_arg la;
	struct dsp_vad vad;
	struct dsp_rng r;
	double base, ns;
	size_t n, i, t;
	int on = 1;

	n = (size_t)(secs * SR) / FR * FR;
	if (n < SR)
		n = SR;
	nframes = n / FR;
	pcm = malloc(n * sizeof(*pcm));
	pcmf = malloc(n * sizeof(*pcmf));
	talk = calloc(n, sizeof(*talk));
	noise = malloc(n * sizeof(*noise));
	if (!pcm || !pcmf || !talk || !noise)
		return 1;

	/* talk spurts of 2 s with 1 s pauses, -26 dBFS, over -50 dBFS pink
	 * noise: a site with a talker, the common case for the mixer */
	dsp_rng_seed(&r, 42);
	dsp_synth_noise(noise, n, SR, DSP_NOISE_PINK, &r);
	for (t = 0; t + 2 * SR <= n; t += 3 * SR)
		dsp_synth_talk(talk + t, 2 * SR, SR, &r);
	for (i = 0; i < n; i++) {
		float v = srms * talk[i] + nrms * noise[i];

		v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
		pcm[i] = (int16_t)lrintf(v);
		pcmf[i] = pcm[i];
		talk[i] *= srms;
	}

	pp = speex_preprocess_state_init(FR, SR);
	if (!pp)
		return 1;
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_DENOISE, &on);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_AGC, &on);
	base = time_frames(op_speex, pp);

	printf("lowbridge dsp/ cost per 20 ms frame at 16 kHz (%zu frames, "
	       "median of %d runs)\n\n", nframes, RUNS);
	printf("%-34s %10s %9s  %s\n", "function", "ns/frame", "x speex",
	       "note");
	row("speex_preprocess_run (dn+agc)", base, base, "baseline");
	row("dsp_rms_dbfs", time_frames(op_rms, NULL), base, "RT");
	row("dsp_peak_dbfs", time_frames(op_peak, NULL), base, "RT");
	row("dsp_s16_to_float", time_frames(op_s16_to_float, NULL), base,
	    "RT");
	memset(acc, 0, sizeof(acc));
	row("dsp_mix_add", time_frames(op_mix_add, NULL), base,
	    "RT, per source");
	row("dsp_mix_minus", time_frames(op_mix_minus, NULL), base,
	    "RT, per talker");

	dsp_limiter_init(&la.lim, SR, -1.0f);
	la.gain = 1.0f;
	ns = time_frames(op_limiter, &la);
	row("dsp_limiter_process (under)", ns, base,
	    "RT, below ceiling, incl. scaling");
	dsp_limiter_init(&la.lim, SR, -1.0f);
	la.gain = 8.0f;
	ns = time_frames(op_limiter, &la);
	row("dsp_limiter_process (+18 dB)", ns, base,
	    "RT, overloaded, incl. scaling");

	dsp_vad_init(&vad, SR);
	row("dsp_vad_process", time_frames(op_vad, &vad), base, "RT");

	printf("\n");
	quality_rows(base, n);
	speex_preprocess_state_destroy(pp);

	espeak_check();

	free(pcm);
	free(pcmf);
	free(talk);
	free(noise);
	return 0;
}
