/**
 * @file wavgap.c  Drop-outs at given moments of a recording: what a
 * listener hears where something changed (a profile move, a codec
 * switch).
 *
 * Usage: wavgap [-w WIN_MS] RECORDING.wav T1_S [T2_S ...]
 *
 * For each moment T, over [T - 50 ms, T + WIN_MS] (default 400):
 *  - zero_ms: the longest run of exact digital silence (nothing to
 *    play: a playout buffer that ran dry, a stream that stopped; a
 *    decoder never outputs long runs of exact zeros within speech).
 * The same figure at T + 2 * WIN_MS (no change there) is printed as a
 * control. Output, one line per moment, key=value:
 *   t=T zero_ms=Z ctl_zero_ms=Z2
 * Exit status: 0, 1 on errors (unreadable file, moment outside it).
 *
 * (Clicks are measured where they can be told from speech: on decoded
 * streams against references, in tests/unit/test_mixcore.c.)
 *
 * Threads: one. Test tool: allocates freely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>

static void window(const short *x, size_t n, size_t a, size_t b,
		   size_t *zeros)
{
	size_t i, run = 0;

	*zeros = 0;
	if (b > n)
		b = n;
	for (i = a; i < b; i++) {
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
	size_t n, w, pre, a, z, zc;
	int c, k;

	while ((c = getopt(argc, argv, "w:")) != -1) {
		if (c != 'w' || (win_ms = atof(optarg)) <= 0)
			goto usage;
	}
	if (argc - optind < 2)
		goto usage;
	memset(&info, 0, sizeof(info));
	sf = sf_open(argv[optind], SFM_READ, &info);
	if (!sf || info.channels != 1 || info.frames < 2) {
		fprintf(stderr, "wavgap: %s: not a mono recording\n",
			argv[optind]);
		return 1;
	}
	n = (size_t)info.frames;
	x = calloc(n, sizeof(*x));
	if (!x || sf_readf_short(sf, x, (sf_count_t)n) != (sf_count_t)n) {
		fprintf(stderr, "wavgap: cannot read %s\n", argv[optind]);
		return 1;
	}
	sf_close(sf);
	w = (size_t)(win_ms * info.samplerate / 1000);
	pre = (size_t)(0.05 * info.samplerate);
	for (k = optind + 1; k < argc; k++) {
		const double t = atof(argv[k]);

		a = (size_t)(t * info.samplerate);
		if (t < 0 || a >= n) {
			fprintf(stderr, "wavgap: %s s is outside the "
				"recording (%.2f s)\n", argv[k],
				(double)n / info.samplerate);
			return 1;
		}
		a = a > pre ? a - pre : 0;
		window(x, n, a, a + pre + w, &z);
		window(x, n, a + 2 * w, a + 3 * w + pre, &zc);
		printf("t=%s zero_ms=%.1f ctl_zero_ms=%.1f\n", argv[k],
		       z * 1000.0 / info.samplerate,
		       zc * 1000.0 / info.samplerate);
	}
	free(x);
	return 0;
 usage:
	fprintf(stderr, "usage: wavgap [-w WIN_MS] REC.wav T1_S [T2_S ...]\n");
	return 1;
}
