/**
 * @file local.c  The local room: the meeting room's own microphones and
 * loudspeakers as one member of the mix, on a device thread of its own.
 *
 * The thread owns up to two devices: the configured one and, when
 * configured, a fallback kept open and running as a warm standby (its
 * capture goes through its own software chain, its playback is
 * silence). Each device has its path to the mixer (pipe.c) with its own
 * clock-drift loop, so a switch needs nothing built: within the loop
 * pass that sees the failure, the standby's frames go to the mixer
 * instead. What runs where (hw/sw) is decided per device from what it
 * offers (profiles) and the configured modes; the device's switches are
 * written on every open and read back, and a feature whose switch does
 * not read back runs in software.
 *
 * Failures: an xrun is recovered in place (snd_pcm_recover; the lost
 * time is the xrun's, the drift loop does not mind). A device that is
 * gone (ENODEV, EBADFD, DISCONNECTED, POLLERR) is closed at once; the
 * standby takes over, or the room is silent with an alarm; the thread
 * tries to open it again every REOPEN_S and, once it has run for
 * BACK_AFTER_S, switches back when the room is quiet (no speech in the
 * last QUIET_MS, or after BACK_LATEST_S anyway).
 *
 * alsa-lib is used directly (it gives the controls, the card and the
 * -ENODEV semantics the offload needs); PortAudio, when configured,
 * only moves the audio, and the controls still go through alsa-lib by
 * the same name.
 *
 * Threads: the control thread starts and stops; everything else here
 * runs on the device thread. Opening and closing devices happen only
 * there, never on the mixer's.
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <portaudio.h>
#include "dsp.h"
#include "hw.h"
#include "hwint.h"

#define REOPEN_S 2.0
#define BACK_AFTER_S 1.0
#define QUIET_MS 600
#define BACK_LATEST_S 10.0
#define POLL_MS 20
#define STALL_S 0.25               /* no capture for this long: gone */
#define PA_POLL_MS 5
#define MAX_PERIOD 4800            /* frames a read or write moves */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { DEV_MAIN = 0, DEV_FALLBACK, DEV_N };

struct dev {
	char name[HW_NAME_MAX];
	bool configured;
	bool open;
	enum hw_api api;
	struct hw_devinfo info;
	enum hw_where where[HW_FEATURES];
	/* ALSA */
	snd_pcm_t *cap, *play;
	/* PortAudio */
	PaStream *pa;
	uint32_t rate, ch_in, ch_out, period;
	int16_t *buf_in, *buf_out;
	struct hw_pipe pipe;
	bool pipe_ok;
	double opened_t;
	double last_try_t;
	double last_speech_t;
	uint64_t last_in;             /* capture progress, for stalls */
	int open_err;
	double last_in_t;
	bool failed_once;
};

struct hw_local {
	struct hw_local_prm prm;
	struct hw_local_io io;
	struct hw_local_stats st;
	pthread_t thread;
	_Atomic bool run;
	bool started;
	struct dev devv[DEV_N];
	int active;                   /* index, or -1: none (silence) */
	double t0;
	bool pa_up;
	uint64_t st_base_in, st_base_out; /* frames of closed devices */
	uint64_t st_base_ns;
	pthread_mutex_t mtx;          /* the two strings below */
	char dev_now[HW_NAME_MAX];
	char alarm[200];
};

static double now_s(const struct hw_local *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9 - l->t0;
}

static void set_alarm(struct hw_local *l, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&l->mtx);
	va_start(ap, fmt);
	vsnprintf(l->alarm, sizeof(l->alarm), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&l->mtx);
	atomic_fetch_add_explicit(&l->st.alarm_seq, 1, memory_order_relaxed);
}

static void set_active(struct hw_local *l, int i)
{
	enum hw_feature f;

	l->active = i;
	pthread_mutex_lock(&l->mtx);
	snprintf(l->dev_now, sizeof(l->dev_now), "%s",
		 i >= 0 ? l->devv[i].name : "");
	pthread_mutex_unlock(&l->mtx);
	atomic_store_explicit(&l->st.state, i < 0 ? HW_LOCAL_SILENT :
			      i == DEV_MAIN ? HW_LOCAL_RUNNING :
			      HW_LOCAL_FALLBACK, memory_order_relaxed);
	for (f = 0; f < HW_FEATURES; f++)
		atomic_store_explicit(&l->st.where[f], i < 0 ? HW_OFF :
				      (int)l->devv[i].where[f],
				      memory_order_relaxed);
	if (i >= 0)
		atomic_store_explicit(&l->st.rate, l->devv[i].rate,
				      memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st.switches, 1, memory_order_relaxed);
}

/* ---- ALSA --------------------------------------------------------------- */

static int alsa_setup(snd_pcm_t *pcm, bool capture, uint32_t period_ms,
		      uint32_t *rate, uint32_t *ch, uint32_t *period)
{
	snd_pcm_hw_params_t *hp;
	snd_pcm_sw_params_t *sp;
	snd_pcm_uframes_t per, buf;
	unsigned r, c;
	int dir = 0, err;

	snd_pcm_hw_params_alloca(&hp);
	snd_pcm_sw_params_alloca(&sp);
	if ((err = snd_pcm_hw_params_any(pcm, hp)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(pcm, hp,
				SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hp,
						SND_PCM_FORMAT_S16_LE)) < 0)
		return err;
	/* the room is mono: one channel if the device has it */
	c = 1;
	if (snd_pcm_hw_params_set_channels(pcm, hp, c) < 0) {
		if ((err = snd_pcm_hw_params_set_channels_first(pcm, hp,
								&c)) < 0)
			return err;
	}
	/* 16 kHz needs no fixed conversion; 48 kHz is what most cards
	 * have; else the nearest */
	r = HW_RATE;
	if (snd_pcm_hw_params_set_rate(pcm, hp, r, 0) < 0) {
		r = 48000;
		if (snd_pcm_hw_params_set_rate(pcm, hp, r, 0) < 0 &&
		    (err = snd_pcm_hw_params_set_rate_near(pcm, hp, &r,
							   &dir)) < 0)
			return err;
	}
	per = (snd_pcm_uframes_t)r * period_ms / 1000;
	if ((err = snd_pcm_hw_params_set_period_size_near(pcm, hp, &per,
							  &dir)) < 0)
		return err;
	buf = per * (capture ? 8 : 4);
	if ((err = snd_pcm_hw_params_set_buffer_size_near(pcm, hp,
							  &buf)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hp)) < 0)
		return err;
	(void)snd_pcm_hw_params_get_period_size(hp, &per, &dir);
	if (per > MAX_PERIOD)
		return -EINVAL;
	if ((err = snd_pcm_sw_params_current(pcm, sp)) < 0 ||
	    (err = snd_pcm_sw_params_set_avail_min(pcm, sp, per)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(pcm, sp,
				capture ? 1 : 2 * per)) < 0 ||
	    (err = snd_pcm_sw_params(pcm, sp)) < 0)
		return err;
	*rate = r;
	*ch = c;
	*period = (uint32_t)per;
	return snd_pcm_prepare(pcm);
}

static void dev_close(struct dev *d)
{
	if (d->cap)
		snd_pcm_close(d->cap);
	if (d->play)
		snd_pcm_close(d->play);
	if (d->pa) {
		Pa_AbortStream(d->pa);
		Pa_CloseStream(d->pa);
	}
	d->cap = d->play = NULL;
	d->pa = NULL;
	if (d->pipe_ok)
		hw_pipe_free(&d->pipe);
	d->pipe_ok = false;
	free(d->buf_in);
	free(d->buf_out);
	d->buf_in = d->buf_out = NULL;
	d->open = false;
}

static int prefill(struct dev *d)
{
	uint32_t i;

	memset(d->buf_out, 0, (size_t)d->period * d->ch_out *
	       sizeof(*d->buf_out));
	for (i = 0; i < 2; i++) {
		snd_pcm_sframes_t w = snd_pcm_writei(d->play, d->buf_out,
						     d->period);

		if (w < 0 && w != -EAGAIN)
			return (int)w;
	}
	return 0;
}

static int alsa_open(struct dev *d, uint32_t period_ms)
{
	uint32_t r2, per2;
	int err;

	err = snd_pcm_open(&d->cap, d->name, SND_PCM_STREAM_CAPTURE,
			   SND_PCM_NONBLOCK);
	if (!err)
		err = snd_pcm_open(&d->play, d->name, SND_PCM_STREAM_PLAYBACK,
				   SND_PCM_NONBLOCK);
	if (!err)
		err = alsa_setup(d->cap, true, period_ms, &d->rate, &d->ch_in,
				 &d->period);
	if (!err)
		err = alsa_setup(d->play, false, period_ms, &r2, &d->ch_out,
				 &per2);
	if (!err && r2 != d->rate)
		err = -EINVAL;   /* one clock, one rate */
	if (err)
		return err;
	d->buf_in = calloc((size_t)MAX_PERIOD * d->ch_in, sizeof(int16_t));
	d->buf_out = calloc((size_t)MAX_PERIOD * d->ch_out, sizeof(int16_t));
	if (!d->buf_in || !d->buf_out)
		return -ENOMEM;
	err = prefill(d);
	if (!err)
		err = snd_pcm_start(d->cap);
	return err;
}

/* ---- PortAudio ---------------------------------------------------------- */

static int pa_open(struct dev *d, uint32_t period_ms)
{
	PaStreamParameters in, out;
	PaDeviceIndex i, n = Pa_GetDeviceCount(), found = paNoDevice;
	static const double rates[] = {HW_RATE, 48000};
	PaError e = paInvalidDevice;
	size_t k;

	for (i = 0; i < n; i++) {
		const PaDeviceInfo *di = Pa_GetDeviceInfo(i);

		if (di && !strcmp(di->name, d->name) &&
		    di->maxInputChannels > 0 && di->maxOutputChannels > 0) {
			found = i;
			break;
		}
	}
	if (found == paNoDevice)
		return -ENODEV;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	in.device = out.device = found;
	in.channelCount = out.channelCount = 1;
	in.sampleFormat = out.sampleFormat = paInt16;
	in.suggestedLatency = out.suggestedLatency = 4.0 * period_ms / 1000;
	for (k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		d->rate = (uint32_t)rates[k];
		d->period = d->rate * period_ms / 1000;
		e = Pa_OpenStream(&d->pa, &in, &out, rates[k], d->period,
				  paClipOff, NULL, NULL);
		if (e == paNoError)
			break;
		d->pa = NULL;
	}
	if (e != paNoError)
		return -ENODEV;
	d->ch_in = d->ch_out = 1;
	d->buf_in = calloc(MAX_PERIOD, sizeof(int16_t));
	d->buf_out = calloc(MAX_PERIOD, sizeof(int16_t));
	if (!d->buf_in || !d->buf_out)
		return -ENOMEM;
	if (Pa_StartStream(d->pa) != paNoError)
		return -EIO;
	/* prime the output: two periods of silence */
	(void)Pa_WriteStream(d->pa, d->buf_out, d->period);
	(void)Pa_WriteStream(d->pa, d->buf_out, d->period);
	return 0;
}

/* ---- a device ----------------------------------------------------------- */

static int dev_open(struct hw_local *l, struct dev *d)
{
	struct hw_pipe_prm pp;
	int err;

	(void)hw_probe(&d->info, d->name, l->prm.profiles);
	hw_decide(&d->info, l->prm.modev, d->where);
	hw_apply_switches(&d->info, d->where);
	err = d->api == HW_API_PORTAUDIO ? pa_open(d, l->prm.period_ms) :
		alsa_open(d, l->prm.period_ms);
	if (!err) {
		memset(&pp, 0, sizeof(pp));
		pp.rate = d->rate;
		pp.ch_in = d->ch_in;
		pp.ch_out = d->ch_out;
		pp.max_frames = MAX_PERIOD;
		pp.shared_clock = true;
		memcpy(pp.where, d->where, sizeof(pp.where));
		err = -hw_pipe_init(&d->pipe, &pp);
		d->pipe_ok = !err;
	}
	hw_devinfo_free_fields(&d->info);
	if (err) {
		dev_close(d);
		return err;
	}
	d->open = true;
	d->opened_t = now_s(l);
	d->last_speech_t = d->opened_t;
	d->last_in = 0;
	d->last_in_t = d->opened_t + 1;  /* time to start */
	return 0;
}

static bool fatal(int err)
{
	return err == -ENODEV || err == -EBADFD || err == -ENXIO ||
		err == -EIO || err == -ENOTTY || err == -ESHUTDOWN;
}

/* An error on one stream: recover in place, or report it fatal. */
static int alsa_recover(struct hw_local *l, struct dev *d, snd_pcm_t *pcm,
			int err)
{
	if (fatal(err) ||
	    snd_pcm_state(pcm) == SND_PCM_STATE_DISCONNECTED)
		return -ENODEV;
	if (snd_pcm_recover(pcm, err, 1) < 0)
		return -ENODEV;
	atomic_fetch_add_explicit(&l->st.xruns, 1, memory_order_relaxed);
	if (pcm == d->cap)
		return snd_pcm_start(d->cap) < 0 ? -ENODEV : 0;
	return prefill(d) < 0 ? -ENODEV : 0;
}

static int alsa_service(struct hw_local *l, struct dev *d, bool live)
{
	snd_pcm_sframes_t avail, got;
	const double t = now_s(l);

	/* an unplugged USB card says so in its state (and POLLERR); its
	 * avail may still read 0 */
	if (snd_pcm_state(d->cap) == SND_PCM_STATE_DISCONNECTED ||
	    snd_pcm_state(d->play) == SND_PCM_STATE_DISCONNECTED)
		return -ENODEV;

	avail = snd_pcm_avail(d->cap);
	if (avail < 0)
		return alsa_recover(l, d, d->cap, (int)avail);
	while (avail > 0) {
		snd_pcm_uframes_t n = avail > MAX_PERIOD ? MAX_PERIOD :
			(snd_pcm_uframes_t)avail;

		got = snd_pcm_readi(d->cap, d->buf_in, n);
		if (got == -EAGAIN)
			break;
		if (got < 0)
			return alsa_recover(l, d, d->cap, (int)got);
		avail -= got;
		hw_pipe_capture(&d->pipe, d->buf_in, (uint32_t)got, t, live,
				&l->io);
	}
	avail = snd_pcm_avail(d->play);
	if (avail < 0)
		return alsa_recover(l, d, d->play, (int)avail);
	while (avail >= (snd_pcm_sframes_t)d->period) {
		snd_pcm_sframes_t w;

		hw_pipe_playback(&d->pipe, d->buf_out, d->period, t, live,
				 &l->io);
		w = snd_pcm_writei(d->play, d->buf_out, d->period);
		if (w == -EAGAIN)
			break;
		if (w < 0)
			return alsa_recover(l, d, d->play, (int)w);
		avail -= w;
	}
	return 0;
}

static int pa_service(struct hw_local *l, struct dev *d, bool live)
{
	const double t = now_s(l);
	signed long n;

	if (Pa_IsStreamActive(d->pa) != 1)
		return -ENODEV;
	n = Pa_GetStreamReadAvailable(d->pa);
	if (n < 0)
		return -ENODEV;
	while (n >= (signed long)d->period) {
		PaError e = Pa_ReadStream(d->pa, d->buf_in, d->period);

		if (e == paInputOverflowed)
			atomic_fetch_add_explicit(&l->st.xruns, 1,
						  memory_order_relaxed);
		else if (e != paNoError)
			return -ENODEV;
		hw_pipe_capture(&d->pipe, d->buf_in, d->period, t, live,
				&l->io);
		n -= d->period;
	}
	n = Pa_GetStreamWriteAvailable(d->pa);
	if (n < 0)
		return -ENODEV;
	while (n >= (signed long)d->period) {
		PaError e;

		hw_pipe_playback(&d->pipe, d->buf_out, d->period, t, live,
				 &l->io);
		e = Pa_WriteStream(d->pa, d->buf_out, d->period);
		if (e == paOutputUnderflowed)
			atomic_fetch_add_explicit(&l->st.xruns, 1,
						  memory_order_relaxed);
		else if (e != paNoError)
			return -ENODEV;
		n -= d->period;
	}
	return 0;
}

static int dev_service(struct hw_local *l, struct dev *d, bool live)
{
	struct dsp_proc_meters m;
	int err;

	err = d->api == HW_API_PORTAUDIO ? pa_service(l, d, live) :
		alsa_service(l, d, live);
	if (err)
		return err;
	/* a device that stopped delivering without saying so (a hung
	 * driver, a plugin that returns nothing) counts as gone */
	if (d->pipe.in_count != d->last_in) {
		d->last_in = d->pipe.in_count;
		d->last_in_t = now_s(l);
	}
	else if (now_s(l) - d->last_in_t > STALL_S) {
		return -ENODEV;
	}
	hw_pipe_meters(&d->pipe, &m);
	if (m.speech)
		d->last_speech_t = now_s(l);
	return 0;
}

/* ---- the thread --------------------------------------------------------- */

static void publish(struct hw_local *l)
{
	const struct dev *d = l->active >= 0 ? &l->devv[l->active] : NULL;
	uint64_t in = 0, out = 0, ns = 0;
	int i;

	for (i = 0; i < DEV_N; i++) {
		if (l->devv[i].pipe_ok) {
			in += l->devv[i].pipe.frames_in;
			out += l->devv[i].pipe.frames_out;
			ns += l->devv[i].pipe.chain_ns;
		}
	}
	atomic_store_explicit(&l->st.chain_ns, l->st_base_ns + ns,
			      memory_order_relaxed);
	atomic_store_explicit(&l->st.frames_in, l->st_base_in + in,
			      memory_order_relaxed);
	atomic_store_explicit(&l->st.frames_out, l->st_base_out + out,
			      memory_order_relaxed);
	if (d && d->pipe_ok) {
		struct dsp_proc_meters m;
		struct dsp_aec_stats as;

		hw_pipe_meters(&d->pipe, &m);
		atomic_store_explicit(&l->st.in_rms_cdb,
				      (int32_t)lrintf(m.in_rms_dbfs * 100),
				      memory_order_relaxed);
		atomic_store_explicit(&l->st.out_rms_cdb,
				      (int32_t)lrintf(m.out_rms_dbfs * 100),
				      memory_order_relaxed);
		atomic_store_explicit(&l->st.agc_gain_cdb,
				      (int32_t)lrintf(m.agc_gain_db * 100),
				      memory_order_relaxed);
		if (hw_pipe_aec_stats(&d->pipe, &as)) {
			const int32_t erle = (int32_t)lrintf(as.erle_db *
							     100);
			const int32_t dly = (int32_t)lrintf(as.delay_ms * 10);

			atomic_store_explicit(&l->st.erle_cdb, erle,
					      memory_order_relaxed);
			atomic_store_explicit(&l->st.echo_delay_ms10, dly,
					      memory_order_relaxed);
			atomic_store_explicit(&l->st.echo_present,
					      as.echo_present,
					      memory_order_relaxed);
			atomic_store_explicit(&l->st.double_talk,
					      as.double_talk,
					      memory_order_relaxed);
		}
		atomic_store_explicit(&l->st.drift_ppm10,
				      (int32_t)lrint(hw_pipe_drift_ppm(
						      &d->pipe) * 10),
				      memory_order_relaxed);
		atomic_store_explicit(&l->st.delay_ms10,
				      (int32_t)lrint(hw_pipe_phase_ms(
						      &d->pipe, true) * 10),
				      memory_order_relaxed);
	}
}

static void dev_lost(struct hw_local *l, int i, int err)
{
	struct dev *d = &l->devv[i];

	/* keep the counters of the frames it moved */
	if (d->pipe_ok) {
		l->st_base_in += d->pipe.frames_in;
		l->st_base_out += d->pipe.frames_out;
		l->st_base_ns += d->pipe.chain_ns;
	}
	dev_close(d);
	d->last_try_t = now_s(l);
	if (l->active != i)
		return;
	if (i == DEV_MAIN && l->devv[DEV_FALLBACK].open) {
		set_active(l, DEV_FALLBACK);
		set_alarm(l, "%s failed (%s): on the fallback %s", d->name,
			  snd_strerror(err), l->devv[DEV_FALLBACK].name);
	}
	else {
		set_active(l, -1);
		set_alarm(l, "%s failed (%s): the room is silent until it "
			  "comes back", d->name, snd_strerror(err));
	}
	atomic_fetch_add_explicit(&l->st.lost_frames, 1,
				  memory_order_relaxed);
}

static void try_reopen(struct hw_local *l)
{
	const double t = now_s(l);
	int i, err;

	for (i = 0; i < DEV_N; i++) {
		struct dev *d = &l->devv[i];

		if (!d->configured || d->open || t - d->last_try_t < REOPEN_S)
			continue;
		d->last_try_t = t;
		err = dev_open(l, d);
		if (err)
			continue;
		if (l->active < 0) {
			set_active(l, i);
			set_alarm(l, "%s is back", d->name);
		}
	}
	/* back to the configured device at a quiet moment */
	if (l->active == DEV_FALLBACK && l->devv[DEV_MAIN].open) {
		const struct dev *m = &l->devv[DEV_MAIN];
		const struct dev *f = &l->devv[DEV_FALLBACK];
		const double up = t - m->opened_t;

		if (up >= BACK_AFTER_S &&
		    ((t - f->last_speech_t) * 1000 >= QUIET_MS ||
		     up >= BACK_LATEST_S)) {
			set_active(l, DEV_MAIN);
			set_alarm(l, "%s is back", m->name);
		}
	}
}

static void *thread_main(void *arg)
{
	struct hw_local *l = arg;
	struct pollfd pfd[16];

	l->t0 = 0;
	l->t0 = now_s(l);
	/* the device's periods are as pressing as the mixer's ticks: at
	 * the mixer's real-time priority, or the mixer would starve it */
	if (l->prm.rt_prio) {
		struct sched_param sp;

		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = (int)l->prm.rt_prio;
		(void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	while (atomic_load_explicit(&l->run, memory_order_relaxed)) {
		int i, n = 0, err;
		bool pa = false;

		for (i = 0; i < DEV_N; i++) {
			struct dev *d = &l->devv[i];
			int c;

			if (!d->open)
				continue;
			if (d->api == HW_API_PORTAUDIO) {
				pa = true;
				continue;
			}
			c = snd_pcm_poll_descriptors(d->cap, pfd + n,
						     ARRAY_LEN(pfd) - n);
			n += c > 0 ? c : 0;
			c = snd_pcm_poll_descriptors(d->play, pfd + n,
						     ARRAY_LEN(pfd) - n);
			n += c > 0 ? c : 0;
		}
		(void)poll(pfd, (nfds_t)n, pa ? PA_POLL_MS : POLL_MS);
		for (i = 0; i < DEV_N; i++) {
			struct dev *d = &l->devv[i];

			if (!d->open)
				continue;
			err = dev_service(l, d, l->active == i);
			if (err)
				dev_lost(l, i, err);
		}
		try_reopen(l);
		publish(l);
	}
	for (int i = 0; i < DEV_N; i++)
		dev_close(&l->devv[i]);
	atomic_store_explicit(&l->st.state, HW_LOCAL_STOPPED,
			      memory_order_relaxed);
	return NULL;
}

int hw_local_start(struct hw_local **lp, const struct hw_local_prm *prm,
		   const struct hw_local_io *io)
{
	struct hw_local *l;
	int i, err;

	if (!lp || !prm || !io || !io->put || !io->get || !prm->device[0])
		return EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->prm = *prm;
	if (!l->prm.period_ms)
		l->prm.period_ms = 10;
	l->io = *io;
	l->active = -1;
	pthread_mutex_init(&l->mtx, NULL);
	snprintf(l->devv[DEV_MAIN].name, HW_NAME_MAX, "%s", prm->device);
	snprintf(l->devv[DEV_FALLBACK].name, HW_NAME_MAX, "%s",
		 prm->fallback);
	for (i = 0; i < DEV_N; i++) {
		l->devv[i].configured = l->devv[i].name[0] != '\0';
		l->devv[i].api = prm->api;
		l->devv[i].last_try_t = -REOPEN_S;
	}
	if (prm->api == HW_API_PORTAUDIO) {
		if (Pa_Initialize() != paNoError) {
			free(l);
			return ENODEV;
		}
		l->pa_up = true;
	}
	/* the first open happens here, on the control thread at start-up
	 * (nothing runs yet), so a wrong name is known at once; later
	 * reopens are the device thread's */
	for (i = 0; i < DEV_N; i++) {
		struct dev *d = &l->devv[i];

		if (!d->configured)
			continue;
		d->last_try_t = 0;
		err = dev_open(l, d);
		if (err) {
			d->open_err = err;
			continue;
		}
		if (l->active < 0)
			set_active(l, i);
	}
	if (l->active < 0) {
		atomic_store_explicit(&l->st.state, HW_LOCAL_SILENT,
				      memory_order_relaxed);
		set_alarm(l, "%s cannot be opened (%s): the room is silent "
			  "until it can", prm->device,
			  snd_strerror(l->devv[DEV_MAIN].open_err));
	}
	else if (l->active == DEV_FALLBACK) {
		set_alarm(l, "%s cannot be opened (%s): on the fallback %s",
			  prm->device,
			  snd_strerror(l->devv[DEV_MAIN].open_err),
			  prm->fallback);
	}
	atomic_store(&l->run, true);
	err = pthread_create(&l->thread, NULL, thread_main, l);
	if (err) {
		for (i = 0; i < DEV_N; i++)
			dev_close(&l->devv[i]);
		if (l->pa_up)
			Pa_Terminate();
		free(l);
		return err;
	}
	l->started = true;
	*lp = l;
	return 0;
}

void hw_local_stop(struct hw_local *l)
{
	if (!l)
		return;
	if (l->started) {
		atomic_store(&l->run, false);
		pthread_join(l->thread, NULL);
	}
	if (l->pa_up)
		Pa_Terminate();
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

const struct hw_local_stats *hw_local_stats(const struct hw_local *l)
{
	return &l->st;
}

void hw_local_status(struct hw_local *l, char *dev, size_t devsz,
		     char *alarm, size_t alarmsz)
{
	pthread_mutex_lock(&l->mtx);
	if (dev)
		snprintf(dev, devsz, "%s", l->dev_now);
	if (alarm)
		snprintf(alarm, alarmsz, "%s", l->alarm);
	pthread_mutex_unlock(&l->mtx);
}
