/**
 * @file wavpitch.c  Duration and pitch of a recording, to tell playback
 * speed (duration) from pitch (which a time-stretcher keeps and plain
 * resampling does not).
 *
 * Usage: wavpitch FILE.wav
 *
 * Pitch: per 40 ms frame whose level is within 25 dB of the loudest,
 * the lag of the highest normalised autocorrelation peak between 2.5
 * and 15 ms (67-400 Hz, the range of voices); f0_hz is the median of
 * the frames whose peak is above 0.5 (voiced). Output (key=value):
 *   dur_s=D f0_hz=F voiced=N
 * Exit status: 0, 1 on errors.
 *
 * Threads: one. Test tool.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sndfile.h>

static int cmp_f(const void *a, const void *b)
{
	const float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[])
{
	SF_INFO info;
	SNDFILE *sf;
	float *x, *f0v, emax = 0;
	size_t n, frame, nf = 0, i, k, nv = 0;
	int lo, hi;

	if (argc != 2) {
		fprintf(stderr, "usage: wavpitch FILE.wav\n");
		return 1;
	}
	memset(&info, 0, sizeof(info));
	sf = sf_open(argv[1], SFM_READ, &info);
	if (!sf || info.channels != 1 || info.frames < 1) {
		fprintf(stderr, "wavpitch: %s: not a mono recording\n",
			argv[1]);
		return 1;
	}
	n = (size_t)info.frames;
	x = calloc(n, sizeof(*x));
	if (!x || sf_readf_float(sf, x, (sf_count_t)n) != (sf_count_t)n) {
		fprintf(stderr, "wavpitch: cannot read %s\n", argv[1]);
		return 1;
	}
	sf_close(sf);
	frame = (size_t)info.samplerate / 25;
	lo = info.samplerate / 400;
	hi = info.samplerate * 15 / 1000;
	nf = n / frame;
	f0v = calloc(nf + 1, sizeof(*f0v));
	for (i = 0; i + 1 < nf; i++) {
		double e = 0;

		for (k = 0; k < frame; k++)
			e += (double)x[i * frame + k] * x[i * frame + k];
		if (e > emax)
			emax = (float)e;
	}
	for (i = 0; i + 1 < nf; i++) {
		const float *p = x + i * frame;
		double e0 = 0, best = 0;
		int bl = 0, l;

		for (k = 0; k < frame; k++)
			e0 += (double)p[k] * p[k];
		if (e0 < emax * pow(10, -2.5) || e0 <= 0)
			continue;
		for (l = lo; l <= hi; l++) {
			double c = 0, e1 = 0;

			for (k = 0; k < frame; k++) {
				const double q = p[k + (size_t)l];

				c += (double)p[k] * q;
				e1 += q * q;
			}
			c /= sqrt(e0 * e1) + 1e-12;
			if (c > best) {
				best = c;
				bl = l;
			}
		}
		if (best > 0.5 && bl)
			f0v[nv++] = (float)info.samplerate / (float)bl;
	}
	qsort(f0v, nv, sizeof(*f0v), cmp_f);
	printf("dur_s=%.3f f0_hz=%.1f voiced=%zu\n",
	       (double)n / info.samplerate, nv ? (double)f0v[nv / 2] : 0.0,
	       nv);
	free(x);
	free(f0v);
	return 0;
}
