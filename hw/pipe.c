/**
 * @file pipe.c  One device's audio path between its own clock and the
 * mixer's: what the local room's device thread runs, with no device I/O
 * and no clock of its own, so that tests can drive it with simulated
 * cards through hours of audio in seconds.
 *
 *   capture:  device frames (its rate, 1..N channels) -> mono -> fixed
 *             resampler to 16 kHz (SpeexDSP) -> drift stage (dsp_asrc)
 *             -> 20 ms at 16 kHz -> software chain (echo
 *             control with the exact loudspeaker signal, noise
 *             suppression, AGC: what the device does not do) -> mixer
 *   playback: mixer -> 20 ms at 16 kHz (the echo reference, as is) ->
 *             drift stage -> fixed resampler -> device channels
 *
 * Clock drift. The mixer takes and gives 16 000 samples per second of
 * CLOCK_MONOTONIC; the card runs on its own crystal, ppm away. Each
 * direction counts the 16 kHz samples it produced (capture) or consumed
 * (playback) against monotonic time since it started; that phase error
 * drives a PI loop (natural frequency DLL_W, damping 1) whose output is
 * the card's rate error, applied as the drift stage's exact ratio. In
 * steady state the phase error is zero: the delay through the path does
 * not grow, and nothing is ever dropped or inserted, so there is no
 * click to hear. The card's time is read at its position (frames read
 * or played by the device), so a period's batching is only jitter,
 * smoothed over DLL_SMOOTH_S before the loop sees it.
 *
 * A card plays and records on one crystal: the playback stage then takes
 * the capture loop's estimate (prm.shared_clock), so that the round trip
 * loudspeaker -> microphone through both stages is time-invariant.
 *
 * Echo reference. Capture frame k is cancelled against the k-th frame
 * handed to playback, counted from an offset fixed when capture starts:
 * both streams run at exactly 50 frames per monotonic second once
 * locked, so the echo's delay behind its reference is a constant that
 * the canceller's delay search finds (dsp/aec.c) and keeps.
 *
 * Threads: one pipe belongs to one device thread; RT-safe after init.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <speex/speex_resampler.h>
#include "dsp.h"
#include "hw.h"
#include "hwint.h"

#define DLL_W 0.1                 /* rad/s: settles in ~30 s */
#define DLL_SMOOTH_S 0.5
#define DLL_MAX 2e-3              /* a card 2000 ppm off is broken */
#define RESAMPLE_Q 5
#define REF_LEAD 2                /* frames the reference is given
				     ahead of the capture it matches */

static void dll_init(struct hw_dll *d)
{
	memset(d, 0, sizeof(*d));
}

/* count: 16 kHz samples produced or consumed so far, at time t (s) */
static double dll_update(struct hw_dll *d, double t, double count)
{
	double x, dt, a;

	if (!d->started) {
		d->started = true;
		d->t0 = t;
		d->c0 = count;
		d->last_t = t;
		return d->eps;
	}
	x = (count - d->c0) / HW_RATE - (t - d->t0);
	dt = t - d->last_t;
	d->last_t = t;
	if (dt <= 0)
		return d->eps;
	if (dt > 1)
		dt = 1;
	a = dt / (DLL_SMOOTH_S + dt);
	d->xf += a * (x - d->xf);
	d->integ += DLL_W * DLL_W * d->xf * dt;
	if (d->integ > DLL_MAX)
		d->integ = DLL_MAX;
	if (d->integ < -DLL_MAX)
		d->integ = -DLL_MAX;
	d->eps = 2 * DLL_W * d->xf + d->integ;
	if (d->eps > DLL_MAX)
		d->eps = DLL_MAX;
	if (d->eps < -DLL_MAX)
		d->eps = -DLL_MAX;
	return d->eps;
}

void hw_pipe_free(struct hw_pipe *p)
{
	if (!p)
		return;
	if (p->rs_in)
		speex_resampler_destroy(p->rs_in);
	if (p->rs_out)
		speex_resampler_destroy(p->rs_out);
	dsp_proc_free(p->proc);
	free(p->mono);
	free(p->conv);
	free(p->asrc_in);
	free(p->asrc_out);
	memset(p, 0, sizeof(*p));
}

int hw_pipe_init(struct hw_pipe *p, const struct hw_pipe_prm *prm)
{
	struct dsp_proc_prm pp;
	struct dsp_aec_prm ap = {HW_RATE, 256, 800};
	struct dsp_aec *aec = NULL;
	int err = 0;

	memset(p, 0, sizeof(*p));
	if (!prm->rate || !prm->ch_in || !prm->ch_out || !prm->max_frames)
		return EINVAL;
	p->prm = *prm;
	/* the card's nominal rate to 16 kHz at a fixed ratio (SpeexDSP),
	 * then the drift (asrc); a 16 kHz card needs only the second */
	if (prm->rate != HW_RATE) {
		p->rs_in = speex_resampler_init(1, prm->rate, HW_RATE,
						RESAMPLE_Q, &err);
		p->rs_out = speex_resampler_init(1, HW_RATE, prm->rate,
						 RESAMPLE_Q, &err);
		if (!p->rs_in || !p->rs_out)
			err = ENOMEM;
		else
			(void)speex_resampler_skip_zeros(p->rs_in);
	}
	p->mono = calloc(prm->max_frames, sizeof(*p->mono));
	p->conv_cap = (size_t)prm->max_frames * HW_RATE / prm->rate + 64;
	p->conv = calloc(p->conv_cap, sizeof(*p->conv));
	p->asrc_in = malloc(sizeof(*p->asrc_in));
	p->asrc_out = malloc(sizeof(*p->asrc_out));
	if (err || !p->mono || !p->conv || !p->asrc_in || !p->asrc_out) {
		hw_pipe_free(p);
		return err ? err : ENOMEM;
	}
	dsp_asrc_init(p->asrc_in);
	dsp_asrc_init(p->asrc_out);
	dsp_proc_defaults(&pp);
	pp.ns = prm->where[HW_NS] == HW_SW;
	pp.agc = prm->where[HW_AGC] == HW_SW;
	pp.aec = prm->where[HW_AEC] == HW_SW;
	err = dsp_proc_alloc(&p->proc, &pp);
	/* a canceller always, even while the device cancels: a switch to
	 * software (the device failed) must not allocate on the device
	 * thread */
	if (!err)
		err = dsp_aec_alloc(&aec, &ap);
	if (!err)
		(void)dsp_proc_swap_aec(p->proc, aec);
	if (err) {
		hw_pipe_free(p);
		return err;
	}
	dll_init(&p->dll_in);
	dll_init(&p->dll_out);
	return 0;
}

void hw_pipe_set_where(struct hw_pipe *p, const enum hw_where *where)
{
	struct dsp_proc_prm pp;

	memcpy(p->prm.where, where, sizeof(p->prm.where));
	dsp_proc_defaults(&pp);
	pp.ns = where[HW_NS] == HW_SW;
	pp.agc = where[HW_AGC] == HW_SW;
	pp.aec = where[HW_AEC] == HW_SW;
	dsp_proc_configure(p->proc, &pp);
}

/* One 20 ms frame at 16 kHz is ready: process and deliver it. */
static void capture_frame(struct hw_pipe *p, int16_t *frame, bool deliver,
			  const struct hw_local_io *io)
{
	int16_t ref[HW_FRAME];
	struct timespec t0, t1;
	uint64_t want;

	/* the reference is the frame handed to playback REF_LEAD frames
	 * before the one that matches this capture in time */
	if (!p->ref_base_set) {
		p->ref_base = p->ref_count >= REF_LEAD ?
			p->ref_count - REF_LEAD : 0;
		p->cap_frames = 0;
		p->ref_base_set = true;
	}
	want = p->ref_base + p->cap_frames;
	if (want < p->ref_count && p->ref_count - want <= HW_REF_FRAMES)
		memcpy(ref, p->refv[want % HW_REF_FRAMES], sizeof(ref));
	else
		memset(ref, 0, sizeof(ref));
	++p->cap_frames;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dsp_proc_playback(p->proc, ref);
	dsp_proc_process(p->proc, frame, true, true);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* what the software chain costs: offload is worth this */
	p->chain_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll +
				  (t1.tv_nsec - t0.tv_nsec));
	if (!deliver)
		return;
	if (io->put(io->arg, frame))
		++p->frames_in;
	else
		++p->overruns;
}

/* 16 kHz samples of the card's clock into the drift stage, and every
 * whole frame that comes out of it on to the mixer */
static void capture_16k(struct hw_pipe *p, const int16_t *x, size_t n,
			bool deliver, const struct hw_local_io *io)
{
	while (n) {
		size_t k = dsp_asrc_push(p->asrc_in, x, n), got;

		x += k;
		n -= k;
		do {
			got = dsp_asrc_pull(p->asrc_in, p->acc + p->acc_n,
					    HW_FRAME - p->acc_n);
			p->acc_n += (uint32_t)got;
			p->in_count += got;
			if (p->acc_n == HW_FRAME) {
				capture_frame(p, p->acc, deliver, io);
				p->acc_n = 0;
			}
		} while (got);
		if (!k)
			break;          /* never spin */
	}
}

void hw_pipe_capture(struct hw_pipe *p, const int16_t *in, uint32_t frames,
		     double t, bool deliver, const struct hw_local_io *io)
{
	uint32_t i, c, ch = p->prm.ch_in;
	double eps;

	while (frames) {
		uint32_t n = frames > p->prm.max_frames ? p->prm.max_frames :
			frames;

		/* the room's microphones: the mean of the channels */
		for (i = 0; i < n; i++) {
			int32_t a = 0;

			for (c = 0; c < ch; c++)
				a += in[i * ch + c];
			p->mono[i] = (int16_t)(a / (int32_t)ch);
		}
		if (p->rs_in) {
			spx_uint32_t inlen = n;
			spx_uint32_t outlen = (spx_uint32_t)p->conv_cap;

			speex_resampler_process_int(p->rs_in, 0, p->mono,
						    &inlen, p->conv, &outlen);
			capture_16k(p, p->conv, outlen, deliver, io);
		}
		else {
			capture_16k(p, p->mono, n, deliver, io);
		}
		in += (size_t)n * ch;
		frames -= n;
	}
	/* t is the time of the device position just read: the loop
	 * steers what we made so far to 16 000 per second of it */
	eps = dll_update(&p->dll_in, t, (double)p->in_count);
	dsp_asrc_set_ratio(p->asrc_in, 1 + eps);
}

/* The next 16 kHz frame to play: the mixer's, or silence. It is also
 * the echo reference, kept as it is. */
static void next_play_frame(struct hw_pipe *p, bool live,
			    const struct hw_local_io *io)
{
	int16_t *f = p->refv[p->ref_count % HW_REF_FRAMES];

	if (!live || !io->get(io->arg, f)) {
		memset(f, 0, HW_FRAME * sizeof(*f));
		if (live)
			++p->underruns;
	}
	else {
		++p->frames_out;
	}
	(void)dsp_asrc_push(p->asrc_out, f, HW_FRAME);
	p->pushed += HW_FRAME;
	++p->ref_count;
}

/* n samples at 16 kHz of the card's clock */
static void play_16k(struct hw_pipe *p, int16_t *y, size_t n, bool live,
		     const struct hw_local_io *io)
{
	while (n) {
		size_t got;

		if (dsp_asrc_ready(p->asrc_out) == 0)
			next_play_frame(p, live, io);
		got = dsp_asrc_pull(p->asrc_out, y, n);
		y += got;
		n -= got;
		if (!got && dsp_asrc_ready(p->asrc_out) == 0 &&
		    p->asrc_out->n >= DSP_ASRC_HIST - HW_FRAME)
			break;          /* cannot happen; never spin */
	}
	if (n)
		memset(y, 0, n * sizeof(*y));
}

void hw_pipe_playback(struct hw_pipe *p, int16_t *out, uint32_t frames,
		      double t, bool live, const struct hw_local_io *io)
{
	uint32_t i, c, ch = p->prm.ch_out;
	double eps;

	while (frames) {
		uint32_t n = frames > p->prm.max_frames ? p->prm.max_frames :
			frames;

		if (p->rs_out) {
			spx_uint32_t inlen, outlen = n;

			/* what the fixed conversion needs for n samples;
			 * what it does not take now waits in pend */
			while (p->pend_n < HW_FRAME) {
				play_16k(p, p->pend + p->pend_n,
					 HW_FRAME - p->pend_n, live, io);
				p->pend_n = HW_FRAME;
			}
			inlen = p->pend_n;
			speex_resampler_process_int(p->rs_out, 0, p->pend,
						    &inlen, p->mono, &outlen);
			memmove(p->pend, p->pend + inlen,
				(p->pend_n - inlen) * sizeof(*p->pend));
			p->pend_n -= inlen;
			n = outlen;
		}
		else {
			play_16k(p, p->mono, n, live, io);
		}
		for (i = 0; i < n; i++) {
			for (c = 0; c < ch; c++)
				out[i * ch + c] = p->mono[i];
		}
		out += (size_t)n * ch;
		frames -= n;
		if (!n)
			break;          /* cannot happen; never spin */
	}
	if (frames)
		memset(out, 0, (size_t)frames * ch * sizeof(*out));
	/* consumed: pushed less what waits in the drift stage */
	eps = dll_update(&p->dll_out, t, (double)p->pushed -
			 ((double)p->asrc_out->n - p->asrc_out->pos) -
			 p->pend_n);
	/* one card, one crystal: playback follows the capture loop's
	 * estimate, so the loudspeaker-to-microphone path through both
	 * drift stages stays exactly constant for the echo canceller (two
	 * loops would wander apart by their estimation noise). The
	 * playback loop still runs: it measures, and it drives a card
	 * whose capture has not started yet. */
	if (p->prm.shared_clock && p->dll_in.started)
		eps = p->dll_in.eps;
	dsp_asrc_set_ratio(p->asrc_out, 1 / (1 + eps));
}

double hw_pipe_drift_ppm(const struct hw_pipe *p)
{
	return p->dll_in.started ? p->dll_in.eps * 1e6 :
		p->dll_out.eps * 1e6;
}

double hw_pipe_phase_ms(const struct hw_pipe *p, bool capture)
{
	return (capture ? p->dll_in.xf : p->dll_out.xf) * 1e3;
}

void hw_pipe_meters(const struct hw_pipe *p, struct dsp_proc_meters *m)
{
	dsp_proc_get_meters(p->proc, m);
}

bool hw_pipe_aec_stats(const struct hw_pipe *p, struct dsp_aec_stats *st)
{
	return p->prm.where[HW_AEC] == HW_SW &&
		dsp_proc_get_aec_stats(p->proc, st);
}
