/**
 * @file wavglitch.c  Clicks and drop-outs at given moments of a
 * recording: what a listener hears where something changed (a profile
 * move, a codec switch).
 *
 * Usage: wavglitch [-w WIN_MS] RECORDING.wav T1_S [T2_S ...]
 *
 * For each moment T, over [T - 50 ms, T + WIN_MS] (default 400):
 *  - click = the largest sample-to-sample step |x[n] - x[n-1]| in the
 *    window over the 99.9th percentile of the steps of the whole
 *    recording: a discontinuity (a decoder fed a stream that jumped)
 *    is a step far above what the speech itself makes; speech alone
 *    reads about 1 or less;
 *  - zero_ms = the longest run of exact digital silence in the window
 *    (a drop-out: nothing to play).
 * The same figures at T + 2 * WIN_MS (no change there) are printed as a
 * control. Output, one line per moment, key=value:
 *   t=T click=C zero_ms=Z ctl_click=C2 ctl_zero_ms=Z2
 * Exit status: 0, 1 on errors (unreadable file, moment outside it).
 *
 * Threads: one. Test tool: allocates freely.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>

static int cmp_f(const void *a, const void *b)
{
	const float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static void window(const short *x, size_t n, size_t a, size_t b,
		   float *maxstep, size_t *zeros)
{
	size_t i, run = 0;

	*maxstep = 0;
	*zeros = 0;
	if (b > n)
		b = n;
	for (i = a ? a : 1; i < b; i++) {
		const float d = fabsf((float)x[i] - (float)x[i - 1]);

		if (d > *maxstep)
			*maxstep = d;
		run = x[i] == 0 ? run + 1 : 0;
		if (run > *zeros)
			*zeros = run;
	}
}

int main(int argc, char *argv[])
{
	double win_ms = 400;
	SF_INFO info;
	SNDFILE *sf;
	short *x;
	float *steps, p999;
	size_t n, i;
	int c, k;

	while ((c = getopt(argc, argv, "w:")) != -1) {
		if (c != 'w' || (win_ms = atof(optarg)) <= 0) {
			fprintf(stderr, "usage: wavglitch [-w WIN_MS] "
				"REC.wav T1_S [T2_S ...]\n");
			return 1;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: wavglitch [-w WIN_MS] REC.wav "
			"T1_S [T2_S ...]\n");
		return 1;
	}
	memset(&info, 0, sizeof(info));
	sf = sf_open(argv[optind], SFM_READ, &info);
	if (!sf || info.channels != 1 || info.frames < 2) {
		fprintf(stderr, "wavglitch: %s: not a mono recording\n",
			argv[optind]);
		return 1;
	}
	n = (size_t)info.frames;
	x = calloc(n, sizeof(*x));
	steps = calloc(n, sizeof(*steps));
	if (!x || !steps || sf_readf_short(sf, x, (sf_count_t)n) !=
	    (sf_count_t)n) {
		fprintf(stderr, "wavglitch: cannot read %s\n", argv[optind]);
		return 1;
	}
	sf_close(sf);
	for (i = 1; i < n; i++)
		steps[i - 1] = fabsf((float)x[i] - (float)x[i - 1]);
	qsort(steps, n - 1, sizeof(*steps), cmp_f);
	p999 = steps[(size_t)((double)(n - 2) * 0.999)];
	if (p999 < 1)
		p999 = 1;

	for (k = optind + 1; k < argc; k++) {
		const double t = atof(argv[k]);
		const size_t w = (size_t)(win_ms * info.samplerate / 1000);
		const size_t pre = (size_t)(0.05 * info.samplerate);
		size_t a = (size_t)(t * info.samplerate), z, zc;
		float m, mc;

		if (t < 0 || a >= n) {
			fprintf(stderr, "wavglitch: %s s is outside the "
				"recording (%.2f s)\n", argv[k],
				(double)n / info.samplerate);
			return 1;
		}
		a = a > pre ? a - pre : 0;
		window(x, n, a, a + pre + w, &m, &z);
		window(x, n, a + 2 * w, a + 3 * w + pre, &mc, &zc);
		printf("t=%s click=%.2f zero_ms=%.1f ctl_click=%.2f "
		       "ctl_zero_ms=%.1f\n", argv[k], (double)(m / p999),
		       z * 1000.0 / info.samplerate,
		       (double)(mc / p999), zc * 1000.0 / info.samplerate);
	}
	free(x);
	free(steps);
	return 0;
}
