/**
 * @file pool.c  The offload pool: a multichannel conference DSP unit
 * (ALSA) that takes over the echo cancellation (and the noise
 * suppression and AGC it has) of up to N remote sites. Playback channel
 * 2k carries site k's microphone as the bridge received it, channel
 * 2k+1 the echo reference (what the site was sent, delayed by the bulk
 * delay the bridge measured, so that the unit's short canceller sees
 * only the room); capture channel k brings site k back processed.
 *
 * The device thread moves one 20 ms period each way per period the
 * unit captures (the unit's clock paces it; the bridge's rings absorb
 * the drift by a dropped or repeated frame). At every (re)open it first
 * measures the unit's own delay: a probe on channel 0's microphone with
 * a silent reference, found again in channel 0's capture
 * (dsp_probe_analyse). A channel whose site changes is not delivered
 * for that delay plus two periods, so that nothing of the old site's
 * audio still in the unit reaches the new one. A unit that fails
 * (unplugged: ENODEV, or an error that recovery does not cure) is
 * closed and reopened every second; meanwhile the bridge serves its
 * sites from their software chains, which it keeps running.
 *
 * Threads: the device thread calls io->get/put (RT-safe, never
 * blocking); hw_pool_start/stop and the stats from the control side.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <alsa/asoundlib.h>
#include "dsp.h"
#include "hwint.h"

#define PERIOD HW_FRAME                /* 20 ms at 16 kHz */
#define POLL_MS 200
#define RETRY_S 1.0
#define FAILED_RETRY_S 30.0            /* a unit that returned nothing */
#define MEASURE_PERIODS 100            /* 2 s */
#define PROBE_AT 10                    /* periods before the probe */
#define MAX_DELAY_MS 600

struct hw_pool {
	struct hw_pool_prm prm;
	struct hw_pool_io io;
	struct hw_pool_stats st;
	pthread_t thread;
	_Atomic bool run;
	bool started;

	struct hw_devinfo info;
	enum hw_where where[HW_FEATURES];
	snd_pcm_t *cap, *play;
	uint32_t n;                        /* channels (sites) */
	int16_t *buf_in, *buf_out;         /* a period, interleaved */
	int16_t raw[PERIOD], ref[PERIOD];
	uint32_t tag[HW_POOL_MAX];          /* the site each channel serves */
	uint32_t hold[HW_POOL_MAX];         /* periods not to deliver */
	uint32_t lat_periods;

	/* measuring the unit's delay */
	int16_t *probe;
	size_t probe_n;
	int16_t *meas;                     /* channel 0's capture */
	uint32_t meas_i;
	double last_try;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)
#define ADD(f, v) atomic_fetch_add_explicit(&(f), (v), memory_order_relaxed)

static int setup(snd_pcm_t *pcm, bool capture, uint32_t ch)
{
	snd_pcm_hw_params_t *hp;
	snd_pcm_sw_params_t *sp;
	snd_pcm_uframes_t per = PERIOD, buf = PERIOD * (capture ? 8 : 4);
	int err;

	snd_pcm_hw_params_alloca(&hp);
	snd_pcm_sw_params_alloca(&sp);
	if ((err = snd_pcm_hw_params_any(pcm, hp)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(pcm, hp,
				SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hp,
						SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hp, ch)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate(pcm, hp, HW_RATE, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_period_size(pcm, hp, per, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_size_near(pcm, hp,
							  &buf)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hp)) < 0)
		return err;
	if ((err = snd_pcm_sw_params_current(pcm, sp)) < 0 ||
	    (err = snd_pcm_sw_params_set_avail_min(pcm, sp, per)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(pcm, sp,
				capture ? 1 : 2 * per)) < 0 ||
	    (err = snd_pcm_sw_params(pcm, sp)) < 0)
		return err;
	return snd_pcm_prepare(pcm);
}

static void dev_close(struct hw_pool *p)
{
	if (p->cap)
		snd_pcm_close(p->cap);
	if (p->play)
		snd_pcm_close(p->play);
	p->cap = p->play = NULL;
	free(p->buf_in);
	free(p->buf_out);
	p->buf_in = p->buf_out = NULL;
}

static int prefill(struct hw_pool *p)
{
	int i;

	memset(p->buf_out, 0, (size_t)PERIOD * 2 * p->n * sizeof(int16_t));
	for (i = 0; i < 2; i++) {
		const snd_pcm_sframes_t w = snd_pcm_writei(p->play, p->buf_out,
							   PERIOD);

		if (w < 0 && w != -EAGAIN)
			return (int)w;
	}
	return 0;
}

static int dev_open(struct hw_pool *p)
{
	uint32_t k;
	int err;

	hw_devinfo_free_fields(&p->info);
	memset(&p->info, 0, sizeof(p->info));
	err = hw_probe(&p->info, p->prm.device, p->prm.profiles);
	if (err)
		return err > 0 ? -err : err;
	if (!p->info.pool)
		return -ENOTSUP;           /* not a conference DSP unit */
	p->n = p->info.pool < HW_POOL_MAX ? p->info.pool : HW_POOL_MAX;
	hw_decide(&p->info, p->prm.modev, p->where);
	hw_apply_switches(&p->info, p->where);
	/* a pool cancels echo by what it is (it has the reference) */
	if (p->info.pool_features & (1u << HW_AEC))
		p->where[HW_AEC] = HW_HW;

	err = snd_pcm_open(&p->cap, p->prm.device, SND_PCM_STREAM_CAPTURE,
			   SND_PCM_NONBLOCK);
	if (!err)
		err = snd_pcm_open(&p->play, p->prm.device,
				   SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
	if (!err)
		err = setup(p->cap, true, p->n);
	if (!err)
		err = setup(p->play, false, 2 * p->n);
	if (err)
		return err;
	p->buf_in = calloc((size_t)PERIOD * p->n, sizeof(int16_t));
	p->buf_out = calloc((size_t)PERIOD * 2 * p->n, sizeof(int16_t));
	if (!p->buf_in || !p->buf_out)
		return -ENOMEM;
	err = prefill(p);
	if (!err)
		err = snd_pcm_start(p->cap);
	if (err)
		return err;
	for (k = 0; k < HW_POOL_MAX; k++) {
		p->tag[k] = 0;
		p->hold[k] = 0;
	}
	p->meas_i = 0;
	SET(p->st.channels, p->n);
	for (k = 0; k < HW_FEATURES; k++)
		SET(p->st.where[k], (int)p->where[k]);
	SET(p->st.state, HW_POOL_MEASURING);
	return 0;
}

/* The unit's delay from channel 0's capture of the probe. */
static void measure_done(struct hw_pool *p)
{
	struct dsp_probe_result r;
	const size_t n = (size_t)MEASURE_PERIODS * PERIOD;

	if (!dsp_probe_analyse(p->probe, p->probe_n, p->meas, n,
			       (size_t)PROBE_AT * PERIOD, MAX_DELAY_MS, &r) &&
	    r.found) {
		SET(p->st.latency_ms10, (int32_t)(r.delay_ms * 10.0f));
		p->lat_periods = (uint32_t)(r.delay_ms / 20.0f) + 1;
		SET(p->st.state, HW_POOL_RUNNING);
		return;
	}
	/* nothing came back: the unit does not process what it is given
	 * (or is not what its name says); its sites stay in software, and
	 * it is tried again later */
	SET(p->st.latency_ms10, -1);
	SET(p->st.state, HW_POOL_FAILED);
}

/* One period each way. @return 0, or a negative ALSA error. */
static int service(struct hw_pool *p)
{
	const bool measuring = atomic_load_explicit(&p->st.state,
			memory_order_relaxed) == HW_POOL_MEASURING;
	const bool running = atomic_load_explicit(&p->st.state,
			memory_order_relaxed) == HW_POOL_RUNNING;
	snd_pcm_sframes_t got;
	uint32_t k, i;

	got = snd_pcm_readi(p->cap, p->buf_in, PERIOD);
	if (got == -EAGAIN)
		return 0;
	if (got == -EPIPE) {
		ADD(p->st.xruns, 1);
		if (snd_pcm_prepare(p->cap) < 0)
			return -EPIPE;
		return snd_pcm_start(p->cap);
	}
	if (got < 0)
		return (int)got;
	if (got != PERIOD)
		return 0;   /* a part period: the rest comes with the next */

	for (k = 0; k < p->n; k++) {
		for (i = 0; i < PERIOD; i++)
			p->raw[i] = p->buf_in[i * p->n + k];
		if (measuring && k == 0 && p->meas_i < MEASURE_PERIODS)
			memcpy(p->meas + (size_t)p->meas_i * PERIOD, p->raw,
			       sizeof(p->raw));
		if (!running || !p->tag[k])
			continue;
		if (p->hold[k]) {
			--p->hold[k];
			continue;
		}
		p->io.put(p->io.arg, k, p->tag[k], p->raw);
	}

	for (k = 0; k < p->n; k++) {
		uint32_t tag = 0;
		bool have = false;

		if (measuring) {
			const size_t at = ((size_t)p->meas_i - PROBE_AT) *
				PERIOD;

			memset(p->raw, 0, sizeof(p->raw));
			memset(p->ref, 0, sizeof(p->ref));
			if (k == 0 && p->meas_i >= PROBE_AT && at < p->probe_n)
				memcpy(p->raw, p->probe + at,
				       (p->probe_n - at < PERIOD ?
					p->probe_n - at : PERIOD) *
				       sizeof(int16_t));
		}
		else if (running) {
			have = p->io.get(p->io.arg, k, &tag, p->raw, p->ref);
		}
		if (!have && !measuring) {
			memset(p->raw, 0, sizeof(p->raw));
			memset(p->ref, 0, sizeof(p->ref));
		}
		if (have && tag != p->tag[k]) {
			/* a new site on this channel: the unit still holds
			 * the last one's audio for its delay */
			p->tag[k] = tag;
			p->hold[k] = p->lat_periods + 2;
		}
		for (i = 0; i < PERIOD; i++) {
			p->buf_out[(i * p->n + k) * 2] = p->raw[i];
			p->buf_out[(i * p->n + k) * 2 + 1] = p->ref[i];
		}
	}
	got = snd_pcm_writei(p->play, p->buf_out, PERIOD);
	if (got == -EPIPE) {
		ADD(p->st.xruns, 1);
		if (snd_pcm_prepare(p->play) < 0)
			return -EPIPE;
		got = prefill(p);
	}
	if (got < 0 && got != -EAGAIN)
		return (int)got;
	ADD(p->st.frames, 1);
	if (measuring && ++p->meas_i >= MEASURE_PERIODS) {
		measure_done(p);
		if (atomic_load_explicit(&p->st.state, memory_order_relaxed)
		    == HW_POOL_FAILED)
			return -EIO;
	}
	return 0;
}

static void *thread_main(void *arg)
{
	struct hw_pool *p = arg;

	if (p->prm.rt_prio) {
		struct sched_param sp;

		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = (int)p->prm.rt_prio;
		(void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	while (atomic_load_explicit(&p->run, memory_order_relaxed)) {
		struct pollfd pfd[8];
		int n, err;

		if (!p->cap) {
			const double t = now_s();

			if (t - p->last_try < RETRY_S) {
				struct timespec ts = {0, 100 * 1000000L};

				nanosleep(&ts, NULL);
				continue;
			}
			p->last_try = t;
			err = dev_open(p);
			if (err) {
				dev_close(p);
				SET(p->st.state, HW_POOL_LOST);
				SET(p->st.open_err, -err);
				continue;
			}
			ADD(p->st.opens, 1);
		}
		n = snd_pcm_poll_descriptors(p->cap, pfd, 8);
		(void)poll(pfd, n > 0 ? (nfds_t)n : 0, POLL_MS);
		err = service(p);
		if (err) {
			/* unplugged, or worse than an xrun: the bridge's
			 * software chains take the sites at once */
			const bool failed = atomic_load_explicit(&p->st.state,
				memory_order_relaxed) == HW_POOL_FAILED;

			dev_close(p);
			if (!failed)
				SET(p->st.state, HW_POOL_LOST);
			SET(p->st.open_err, -err);
			p->last_try = now_s() + (failed ? FAILED_RETRY_S : 0);
		}
	}
	dev_close(p);
	SET(p->st.state, HW_POOL_STOPPED);
	return NULL;
}

int hw_pool_start(struct hw_pool **pp, const struct hw_pool_prm *prm,
		  const struct hw_pool_io *io)
{
	struct dsp_probe_prm pr;
	struct hw_pool *p;
	int err;

	if (!pp || !prm || !io || !io->get || !io->put || !prm->device[0])
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->prm = *prm;
	p->io = *io;
	dsp_probe_defaults(&pr);
	pr.level_dbfs = -20.0f;
	p->probe_n = dsp_probe_len(&pr);
	p->probe = calloc(p->probe_n, sizeof(int16_t));
	p->meas = calloc((size_t)MEASURE_PERIODS * PERIOD, sizeof(int16_t));
	if (!p->probe || !p->meas ||
	    dsp_probe_make(&pr, p->probe, p->probe_n) != p->probe_n) {
		err = ENOMEM;
		goto fail;
	}
	SET(p->st.state, HW_POOL_OPENING);
	SET(p->st.latency_ms10, -1);
	p->last_try = -RETRY_S;
	atomic_store(&p->run, true);
	err = pthread_create(&p->thread, NULL, thread_main, p);
	if (err)
		goto fail;
	p->started = true;
	*pp = p;
	return 0;
 fail:
	free(p->probe);
	free(p->meas);
	free(p);
	return err;
}

void hw_pool_stop(struct hw_pool *p)
{
	if (!p)
		return;
	if (p->started) {
		atomic_store(&p->run, false);
		pthread_join(p->thread, NULL);
	}
	hw_devinfo_free_fields(&p->info);
	free(p->probe);
	free(p->meas);
	free(p);
}

const struct hw_pool_stats *hw_pool_stats(const struct hw_pool *p)
{
	return p ? &p->st : NULL;
}

const char *hw_pool_state_name(int state)
{
	switch (state) {
	case HW_POOL_OPENING:   return "opening";
	case HW_POOL_MEASURING: return "measuring";
	case HW_POOL_RUNNING:   return "running";
	case HW_POOL_FAILED:    return "failed";
	case HW_POOL_LOST:      return "lost";
	case HW_POOL_STOPPED:   return "stopped";
	}
	return "?";
}
