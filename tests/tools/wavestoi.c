/**
 * @file wavestoi.c  Intelligibility of a talker in a recording: ESTOI
 * (Jensen & Taal 2016, tests/lib) of the recording against the talker's
 * clean speech, after aligning the two.
 *
 * Usage: wavestoi [-l MAXLAG_MS] REF.wav REC.wav
 *
 * Both mono at the same rate (16 kHz for the bridge's recordings). The
 * lag of REC behind REF is found by cross-correlation within
 * +-MAXLAG_MS (default 3000; dsp_delay_estimate), then ESTOI is computed
 * over the overlap. Output: lag_ms=L corr=C estoi=E (key=value).
 * Exit status: 0, 1 on errors (unreadable, rates differ, no speech).
 *
 * Threads: one. Test tool: allocates freely.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>
#include "dsptest.h"

static float *load(const char *path, size_t *n, int *rate)
{
	SF_INFO info;
	SNDFILE *sf;
	float *v;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf || info.channels != 1 || info.frames < 1) {
		fprintf(stderr, "wavestoi: %s: not a mono recording\n", path);
		return NULL;
	}
	*n = (size_t)info.frames;
	*rate = info.samplerate;
	v = calloc(*n, sizeof(*v));
	if (v && sf_readf_float(sf, v, (sf_count_t)*n) != (sf_count_t)*n) {
		free(v);
		v = NULL;
	}
	sf_close(sf);
	return v;
}

int main(int argc, char *argv[])
{
	double maxlag_ms = 3000;
	float *ref, *rec, corr = 0, e = 0;
	size_t nr, nd, n;
	int rr, rd, c;
	int32_t lag = 0;

	while ((c = getopt(argc, argv, "l:")) != -1) {
		if (c != 'l' || (maxlag_ms = atof(optarg)) <= 0)
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	ref = load(argv[optind], &nr, &rr);
	rec = load(argv[optind + 1], &nd, &rd);
	if (!ref || !rec)
		return 1;
	if (rr != rd) {
		fprintf(stderr, "wavestoi: rates differ (%d, %d)\n", rr, rd);
		return 1;
	}
	if (dsp_delay_estimate(ref, nr, rec, nd,
			       -(int32_t)(maxlag_ms * rr / 1000),
			       (int32_t)(maxlag_ms * rr / 1000), &lag,
			       &corr)) {
		fprintf(stderr, "wavestoi: cannot align\n");
		return 1;
	}
	/* rec[t + lag] is ref[t]: compare over the overlap */
	{
		const float *a = ref, *b = rec;

		if (lag >= 0) {
			b += lag;
			n = nd - (size_t)lag < nr ? nd - (size_t)lag : nr;
		}
		else {
			a += -lag;
			n = nr - (size_t)-lag < nd ? nr - (size_t)-lag : nd;
		}
		if (dsp_estoi(a, b, n, (uint32_t)rr, &e)) {
			fprintf(stderr, "wavestoi: too little speech\n");
			return 1;
		}
	}
	printf("lag_ms=%.1f corr=%.3f estoi=%.3f\n", lag * 1000.0 / rr,
	       (double)corr, (double)e);
	free(ref);
	free(rec);
	return 0;
 usage:
	fprintf(stderr, "usage: wavestoi [-l MAXLAG_MS] REF.wav REC.wav\n");
	return 1;
}
