/**
 * @file test_mixer.c  The mixer driven tick by tick, no thread, over real
 * loopback UDP sockets: mix-minus, shared encoding, malformed input, a
 * PCM member beside RTP sites, taps, profile moves over RTP; and with
 * a real thread and a worker.
 */
#include <re.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "lbtest.h"
#include "mixer.h"

#define NSITES 3
#define TICKS 150
#define RX_MAX (TICKS * 160)

struct tsite {
	int fd;
	struct sa addr;
	struct mix_member *ms;
	double hz;              /* tone it sends, 0 = silence */
	uint16_t seq;
	uint32_t ts;
	int16_t rx[RX_MAX];     /* what it hears, 8 kHz */
	size_t rxn;
};

static struct {
	struct mixer *mix;
	struct mix_profile *prof;
	int fd;
	struct sa addr;
	struct tsite sitev[NSITES];
	uint32_t detached;
} t;

static int udp_sock(struct sa *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	socklen_t len = sizeof(addr->u.in);

	assert_true(fd >= 0);
	sa_set_str(addr, "127.0.0.1", 0);
	assert_int_equal(bind(fd, &addr->u.sa, addr->len), 0);
	assert_int_equal(getsockname(fd, &addr->u.sa, &len), 0);
	return fd;
}

static struct mix_job *job_done;         /* the last MIX_EV_JOB's */
static uint32_t jobs_done;

static void on_ev(const struct mix_ev *ev, void *arg)
{
	(void)arg;
	if (ev->type == MIX_EV_JOB) {
		job_done = ev->ptr;
		++jobs_done;
	}
	else if (ev->type == MIX_EV_DETACHED) {
		mem_deref(ev->member);
		++t.detached;
	}
	else if (ev->type == MIX_EV_PROFILE_GONE ||
		 ev->type == MIX_EV_TAP_DETACHED) {
		mem_deref(ev->ptr);
	}
}

static const struct codec_prm pcmu = {
	.id = CODEC_PCMU, .pt = 0, .clock_hz = 8000, .ptime_ms = 20,
};

/* The full default chain: tones are syllable-modulated below so that
 * the VAD takes them for talk, as it would not a steady tone. */
static const struct mix_dsp dsp = {
	.proc = {.ns = true, .ns_db = -18, .agc = true,
		 .agc_target_dbfs = -20, .agc_max_gain_db = 30},
};

static struct mix_member *rtp_member(struct mix_profile *prof,
				     const struct sa *addr, uint32_t key)
{
	struct mix_member_prm mp = {.kind = MIX_MEMBER_RTP, .key = key,
				    .dsp = dsp, .codec = pcmu,
				    .recv_on = true, .send_on = true};
	struct mix_member *m = NULL;

	mp.raddr = *addr;
	assert_int_equal(mix_member_alloc(&m, &mp, prof), 0);
	return m;
}

static void setup_shed(uint32_t max_talkers, uint32_t shed_on_us)
{
	struct mixer_prm mp = {.max_members = 8, .max_talkers = max_talkers,
			       .shed_on_us = shed_on_us};
	int i;

	memset(&t, 0, sizeof(t));
	assert_int_equal(libre_init(), 0);
	t.fd = udp_sock(&t.addr);
	mp.rtp_fd = t.fd;
	assert_int_equal(mixer_alloc(&t.mix, &mp, on_ev, NULL), 0);
	assert_int_equal(mix_profile_alloc(&t.prof, &pcmu), 0);
	assert_int_equal(mixer_profile_add(t.mix, t.prof), 0);
	for (i = 0; i < NSITES; i++) {
		struct tsite *s = &t.sitev[i];

		s->fd = udp_sock(&s->addr);
		s->ms = rtp_member(t.prof, &s->addr, (uint32_t)i + 1);
		assert_int_equal(mixer_attach(t.mix, s->ms), 0);
	}
}

static void setup(uint32_t max_talkers)
{
	setup_shed(max_talkers, 0);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < NSITES; i++)
		(void)mixer_detach(t.mix, t.sitev[i].ms);
	(void)mixer_profile_del(t.mix, t.prof);
	mixer_tick(t.mix, 0);
	mixer_poll_events(t.mix);
	assert_int_equal(t.detached, NSITES);
	for (i = 0; i < NSITES; i++)
		close(t.sitev[i].fd);
	t.mix = mem_deref(t.mix);
	close(t.fd);
	libre_close();
}

static void site_send(struct tsite *s, int tick)
{
	uint8_t pkt[12 + 160];
	int i;

	rtpio_build(pkt, 0, tick == 0, s->seq++, s->ts, 0x1000 + s->fd);
	for (i = 0; i < 160; i++) {
		double tt = (s->ts + i) / 8000.0;
		double env = 0.5 * (1 - cos(2 * M_PI * 4 * tt));
		double v = s->hz ? 12000 * env *
			sin(2 * M_PI * s->hz * tt) : 0;

		pkt[12 + i] = codec_ulaw_enc((int16_t)v);
	}
	s->ts += 160;
	(void)sendto(t.fd >= 0 ? s->fd : -1, pkt, sizeof(pkt), 0,
		     &t.addr.u.sa, t.addr.len);
}

static void site_drain(struct tsite *s)
{
	uint8_t buf[1500];
	struct rtpio_hdr h;
	ssize_t n;
	size_t i;

	while ((n = recv(s->fd, buf, sizeof(buf), 0)) > 0) {
		if (rtpio_parse(&h, buf, (size_t)n))
			continue;
		assert_int_equal(h.pt, 0);
		for (i = 0; i < h.payload_len && s->rxn < RX_MAX; i++)
			s->rx[s->rxn++] = codec_ulaw_dec(
				buf[h.payload_off + i]);
	}
}

/* Power of one frequency over the last second, in dB (Goertzel). */
static double tone_db(const struct tsite *s, double hz)
{
	const size_t n = 8000;
	const double w = 2 * M_PI * hz / 8000.0, c = 2 * cos(w);
	double s0, s1 = 0, s2 = 0, p;
	size_t i;

	assert_true(s->rxn >= n);
	for (i = s->rxn - n; i < s->rxn; i++) {
		s0 = s->rx[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	p = s1 * s1 + s2 * s2 - c * s1 * s2;
	return 10 * log10(p / ((double)n * n / 4) + 1e-9) -
		20 * log10(32768);
}

static void run(void)
{
	int tick, i;

	for (tick = 0; tick < TICKS; tick++) {
		/* the first site speaks first; the others join after 200 ms */
		for (i = 0; i < NSITES; i++)
			if (i == 0 || tick >= 10)
				site_send(&t.sitev[i], tick);
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		mixer_poll_events(t.mix);
	}
}

static void test_mix_minus(void **state)
{
	struct tsite *a, *b, *c;
	const struct mixer_stats *st;
	(void)state;

	setup(3);
	a = &t.sitev[0];
	b = &t.sitev[1];
	c = &t.sitev[2];
	a->hz = 400;
	b->hz = 1250;
	c->hz = 0;
	run();

	print_message("# A hears 400 %.1f / 1250 %.1f dB; B hears 400 %.1f "
		      "/ 1250 %.1f; C hears 400 %.1f / 1250 %.1f\n",
		      tone_db(a, 400), tone_db(a, 1250), tone_db(b, 400),
		      tone_db(b, 1250), tone_db(c, 400), tone_db(c, 1250));
	/* each talker hears the other and not itself; the listener both */
	assert_true(tone_db(a, 1250) > -25);
	assert_true(tone_db(a, 400) < tone_db(a, 1250) - 30);
	assert_true(tone_db(b, 400) > -25);
	assert_true(tone_db(b, 1250) < tone_db(b, 400) - 30);
	assert_true(tone_db(c, 400) > -25 && tone_db(c, 1250) > -25);

	/* every site got 20 ms packets at 50/s, one decode each */
	assert_true(a->rxn >= (TICKS - 5) * 160);
	assert_int_equal(atomic_load(&mix_member_stats(a->ms)->rtp.pkts_in),
			 TICKS);
	assert_int_equal(atomic_load(&mix_member_stats(b->ms)->rtp.pkts_in),
			 TICKS - 10);
	assert_int_equal(
		atomic_load(&mix_member_stats(c->ms)->rtp.malformed), 0);

	/* shared encoding: the listener C costs no encoder of its own:
	 * 1 shared + 2 talkers per tick */
	st = mixer_stats(t.mix);
	assert_true(atomic_load(&st->encodes) <= 3 * TICKS);
	assert_true(atomic_load(&st->encodes) >= 3 * (TICKS - 35));
	assert_int_equal(atomic_load(&st->talkers), 2);
	teardown();
}

static void test_max_talkers(void **state)
{
	(void)state;

	setup(1);
	t.sitev[0].hz = 400;
	t.sitev[1].hz = 1250;
	t.sitev[2].hz = 2100;
	run();
	/* one talker mixed: the first to speak keeps the floor (the others
	 * are not 6 dB louder); everyone else hears only it, and it hears
	 * nobody */
	assert_int_equal(atomic_load(&mixer_stats(t.mix)->talkers), 1);
	assert_true(tone_db(&t.sitev[1], 400) > -25);
	assert_true(tone_db(&t.sitev[2], 400) > -25);
	assert_true(tone_db(&t.sitev[2], 1250) < -50);
	assert_true(tone_db(&t.sitev[0], 1250) < -50);
	assert_true(tone_db(&t.sitev[0], 2100) < -50);
	teardown();
}

static void test_malformed(void **state)
{
	struct tsite *a;
	struct sa other;
	uint8_t junk[64];
	int fd, i;
	(void)state;

	setup(3);
	a = &t.sitev[0];
	memset(junk, 0x55, sizeof(junk));
	/* from a known site: short, wrong version, absurd CSRC count,
	 * unexpected payload type */
	(void)sendto(a->fd, junk, 5, 0, &t.addr.u.sa, t.addr.len);
	(void)sendto(a->fd, junk, sizeof(junk), 0, &t.addr.u.sa, t.addr.len);
	junk[0] = 0x8f;
	(void)sendto(a->fd, junk, 20, 0, &t.addr.u.sa, t.addr.len);
	rtpio_build(junk, 99, false, 1, 1, 1);
	(void)sendto(a->fd, junk, 40, 0, &t.addr.u.sa, t.addr.len);
	/* from nobody */
	fd = udp_sock(&other);
	(void)sendto(fd, junk, 40, 0, &t.addr.u.sa, t.addr.len);
	close(fd);
	for (i = 0; i < 3; i++)
		mixer_tick(t.mix, (uint64_t)i * 20000000ull);
	assert_int_equal(
		atomic_load(&mix_member_stats(a->ms)->rtp.malformed), 4);
	assert_int_equal(atomic_load(&mixer_rtp_stats(t.mix)->unknown_source),
			 1);
	teardown();
}

/*
 * DTX: a quiet site sends one packet in five with contiguous sequence
 * numbers (what an Opus encoder in DTX does: the frames it leaves out
 * take no number). The bridge must count the frames between as left
 * out, not lost, conceal none of them, and still hear and serve it.
 */
static void test_dtx(void **state)
{
	struct tsite *q;
	const struct rtp_stats *st;
	int tick, i;
	(void)state;

	setup(3);
	t.sitev[0].hz = 400;
	q = &t.sitev[2];
	for (tick = 0; tick < TICKS; tick++) {
		site_send(&t.sitev[0], tick);
		site_send(&t.sitev[1], tick);
		if (tick % 5 == 0) {
			site_send(q, tick);
		}
		else {
			q->ts += 160;   /* left out: time goes on, seq not */
		}
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		mixer_poll_events(t.mix);
	}
	st = &mix_member_stats(q->ms)->rtp;
	print_message("# DTX site: %llu packets, %llu frames left out, "
		      "%llu concealed\n",
		      (unsigned long long)atomic_load(&st->pkts_in),
		      (unsigned long long)atomic_load(&st->dtx_frames),
		      (unsigned long long)atomic_load(&st->concealed));
	assert_int_equal(atomic_load(&st->pkts_in), TICKS / 5);
	assert_true(atomic_load(&st->dtx_frames) >= TICKS * 3 / 5);
	assert_true(atomic_load(&st->concealed) <= 4);
	/* the continuous quiet site: nothing left out, nothing concealed */
	st = &mix_member_stats(t.sitev[1].ms)->rtp;
	assert_int_equal(atomic_load(&st->dtx_frames), 0);
	assert_int_equal(atomic_load(&st->concealed), 0);
	/* the DTX site still hears the talker */
	assert_true(tone_db(q, 400) > -25);
	teardown();
}

/* An Opus site on its own socket: room noise at about -60 dBFS, and
 * syllable-modulated voiced sound over it when it talks. */
struct osite {
	int fd;
	struct mix_profile *prof;
	struct mix_member *m;
	const struct mix_member_stats *ms;
	struct codec_enc enc;
	uint32_t seed, ts;
	uint16_t seq;
};

static const struct codec_prm opus16 = {
	.id = CODEC_OPUS, .pt = 111, .clock_hz = 48000,
	.ptime_ms = 20, .bitrate_bps = 16000, .max_bw_hz = 8000,
	.complexity = 5, .fec = true,
};

static void osite_open(struct osite *o, const struct mix_dsp *d,
		       uint32_t seed)
{
	struct mix_member_prm mp = {.kind = MIX_MEMBER_RTP, .key = 99,
				    .codec = opus16,
				    .recv_on = true, .send_on = true};
	struct sa qa;

	memset(o, 0, sizeof(*o));
	mp.dsp = *d;
	o->seed = seed;
	o->fd = udp_sock(&qa);
	assert_int_equal(mix_profile_alloc(&o->prof, &opus16), 0);
	assert_int_equal(mixer_profile_add(t.mix, o->prof), 0);
	mp.raddr = qa;
	assert_int_equal(mix_member_alloc(&o->m, &mp, o->prof), 0);
	assert_int_equal(mixer_attach(t.mix, o->m), 0);
	assert_int_equal(codec_enc_init(&o->enc, &opus16), 0);
	o->ms = mix_member_stats(o->m);
}

/* Its packet for this tick to the bridge; what the bridge sent it is
 * read and dropped. */
static void osite_send(struct osite *o, int tick, bool talk)
{
	int16_t pcm[LB_FRAME];
	uint8_t pkt[12 + 400];
	int i, len;

	for (i = 0; i < LB_FRAME; i++) {
		const double tt = (double)(tick * LB_FRAME + i) / LB_SRATE;
		double v;

		o->seed = o->seed * 1664525u + 1013904223u;
		v = ((double)(o->seed >> 16) / 65536.0 - 0.5) * 60;
		if (talk)
			v += 0.5 * (1 - cos(2 * M_PI * 4 * tt)) *
				(6000 * sin(2 * M_PI * 140 * tt) +
				 3000 * sin(2 * M_PI * 420 * tt) +
				 1500 * sin(2 * M_PI * 1260 * tt));
		pcm[i] = (int16_t)v;
	}
	len = codec_encode(&o->enc, pcm, LB_FRAME, pkt + 12, sizeof(pkt) - 12);
	assert_true(len > 0);
	rtpio_build(pkt, 111, tick == 0, o->seq++, o->ts, 0x5151);
	o->ts += 960;
	(void)sendto(o->fd, pkt, 12 + (size_t)len, 0, &t.addr.u.sa,
		     t.addr.len);
}

static void osite_drain(struct osite *o)
{
	uint8_t pkt[1500];

	while (recv(o->fd, pkt, sizeof(pkt), 0) > 0)
		;
}

static void osite_close(struct osite *o)
{
	codec_enc_close(&o->enc);
	(void)mixer_detach(t.mix, o->m);
	(void)mixer_profile_del(t.mix, o->prof);
	mixer_tick(t.mix, 0);
	mixer_poll_events(t.mix);
	--t.detached;
	close(o->fd);
}

/*
 * A site whose Opus encoder marks its packets voiceless (room noise at
 * about -60 dBFS) is decoded only now and then while it is idle; the
 * meters still show its noise, and when it speaks it is heard and
 * chosen at once, as if every frame had been decoded.
 */
static void test_voiceless(void **state)
{
	enum { NOISE = 200, TALK = 100 };
	struct osite o;
	uint32_t skipped_noise = 0, first_talk = 0;
	int tick, i;
	int32_t lvl_noise = 0;
	(void)state;

	setup(3);
	osite_open(&o, &dsp, 7);
	for (tick = 0; tick < NOISE + TALK; tick++) {
		const bool talk = tick >= NOISE;

		osite_send(&o, tick, talk);
		for (i = 0; i < NSITES; i++)
			site_send(&t.sitev[i], tick);
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		mixer_poll_events(t.mix);
		osite_drain(&o);
		if (tick == NOISE - 1) {
			skipped_noise = (uint32_t)atomic_load(
				&o.ms->rtp.voiceless_frames);
			lvl_noise = atomic_load(&o.ms->level_in_cdb);
		}
		if (talk && !first_talk && atomic_load(&o.ms->talking))
			first_talk = (uint32_t)(tick - NOISE + 1);
	}
	print_message("# voiceless: %u of %d noise frames not decoded, "
		      "level %.1f dBFS; talking after %u frames\n",
		      skipped_noise, NOISE, lvl_noise / 100.0, first_talk);
	/* after the VAD has settled (0.6 s), 7 in 8 are left */
	assert_true(skipped_noise >= (NOISE - 40) * 6 / 8);
	/* the meter shows the room, not digital silence */
	assert_true(lvl_noise > -7500 && lvl_noise < -5000);
	/* heard at once: the first syllable (talk onset within 0.25 s) */
	assert_true(first_talk > 0 && first_talk <= 12);
	assert_true(atomic_load(&o.ms->rtp.concealed) == 0);
	osite_close(&o);
	teardown();
}

/*
 * One run of test_shed: a talker (site 1) and an Opus site sending room
 * noise, then speech, with echo control on; the mixer short of time on
 * every tick (shed_on_us 1) or never. Returns through the pointers the
 * noise frames left undecoded in its first 2 s and in [LATE, LATE+100),
 * the frames until it was taken as a talker, and the shed ticks.
 */
static void shed_run(uint32_t shed_on_us, uint32_t *early, uint32_t *late,
		     uint32_t *talk_after, uint64_t *shed)
{
	enum { NOISE = 600, TALK = 60, LATE = 500 };
	struct mix_dsp d = dsp;
	struct osite o;
	uint32_t v0 = 0;
	int tick, i;

	*talk_after = 0;
	d.proc.aec = true;
	setup_shed(3, shed_on_us);
	t.sitev[0].hz = 300;
	osite_open(&o, &d, 11);
	for (tick = 0; tick < NOISE + TALK; tick++) {
		const bool talk = tick >= NOISE;

		osite_send(&o, tick, talk);
		/* the talker talks throughout: the Opus site hears the
		 * meeting, so its echo envelopes have something to learn */
		site_send(&t.sitev[0], tick);
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		mixer_poll_events(t.mix);
		osite_drain(&o);
		if (tick == 99)
			*early = (uint32_t)atomic_load(
				&o.ms->rtp.voiceless_frames);
		if (tick == LATE - 1)
			v0 = (uint32_t)atomic_load(
				&o.ms->rtp.voiceless_frames);
		if (tick == LATE + 99)
			*late = (uint32_t)atomic_load(
				&o.ms->rtp.voiceless_frames) - v0;
		if (talk && !*talk_after && atomic_load(&o.ms->talking))
			*talk_after = (uint32_t)(tick - NOISE + 1);
	}
	*shed = atomic_load(&mixer_stats(t.mix)->shed_ticks);
	osite_close(&o);
	teardown();
}

/*
 * A mixer short of time (a meeting whose sites all start at once) lets
 * sites that are only being learnt go undecoded three voiceless frames
 * in four; it does not wait for the learning to end. The learning still
 * ends (such a site is then left as a settled one is, 7 frames in 8),
 * and speech is heard at once either way.
 */
static void test_shed(void **state)
{
	uint32_t early, late, talk, early_s, late_s, talk_s;
	uint64_t shed, shed_s;
	(void)state;

	shed_run(UINT32_MAX, &early, &late, &talk, &shed);
	shed_run(1, &early_s, &late_s, &talk_s, &shed_s);
	print_message("# shed: first 2 s %u vs %u undecoded, at 10 s %u vs "
		      "%u of 100, talking after %u vs %u frames, %llu vs "
		      "%llu ticks short of time\n", early_s, early, late_s,
		      late, talk_s, talk, (unsigned long long)shed_s,
		      (unsigned long long)shed);
	assert_true(shed == 0);
	assert_true(shed_s > 500);
	/* learning: every frame decoded, unless short of time */
	assert_true(early <= 2);
	assert_true(early_s >= 50);
	/* learnt, also under shedding: 7 in 8 left */
	assert_true(late >= 80);
	assert_true(late_s >= 80);
	assert_true(talk > 0 && talk <= 12);
	assert_true(talk_s > 0 && talk_s <= 12);
}

/* The decode + DSP phase split over a worker: a real mixer thread and
 * one worker, 60 sites (above the parallel threshold) sending for 1 s
 * in real time; every packet must be taken in and every site sent the
 * mix, as with one thread. */
static void test_workers(void **state)
{
	enum { N = 60, SEND = 50 };
	struct mixer_prm mp = {.max_members = N, .max_talkers = 3,
			       .workers = 1};
	static struct tsite sv[N];
	struct mixer *mix;
	struct mix_profile *prof;
	struct sa addr;
	uint64_t got = 0, in = 0;
	int fd, i, k;
	(void)state;

	memset(sv, 0, sizeof(sv));
	assert_int_equal(libre_init(), 0);
	fd = udp_sock(&addr);
	mp.rtp_fd = fd;
	t.detached = 0;
	assert_int_equal(mixer_alloc(&mix, &mp, on_ev, NULL), 0);
	assert_int_equal(mix_profile_alloc(&prof, &pcmu), 0);
	assert_int_equal(mixer_profile_add(mix, prof), 0);
	for (i = 0; i < N; i++) {
		sv[i].fd = udp_sock(&sv[i].addr);
		sv[i].hz = i == 0 ? 400 : 0;
		sv[i].ms = rtp_member(prof, &sv[i].addr, (uint32_t)i + 1);
		assert_int_equal(mixer_attach(mix, sv[i].ms), 0);
	}
	assert_int_equal(mixer_start(mix), 0);
	for (k = 0; k < SEND; k++) {
		for (i = 0; i < N; i++) {
			t.fd = fd;
			t.addr = addr;
			site_send(&sv[i], k);
		}
		(void)usleep(20000);
		for (i = 0; i < N; i++)
			site_drain(&sv[i]);
	}
	(void)usleep(100000);
	mixer_stop(mix);
	for (i = 0; i < N; i++) {
		site_drain(&sv[i]);
		got += sv[i].rxn > 0;
		in += atomic_load(&mix_member_stats(sv[i].ms)->rtp.pkts_in);
	}
	print_message("# %d sites, 1 worker: %llu packets in of %d, %llu "
		      "sites heard the mix, %llu ticks\n", N,
		      (unsigned long long)in, N * SEND,
		      (unsigned long long)got, (unsigned long long)
		      atomic_load(&mixer_stats(mix)->ticks));
	assert_int_equal(in, N * SEND);
	assert_int_equal(got, N);
	/* the worker took part in both parallel phases, and the phases
	 * of the tick add up to no more than the ticks took (receive_between
	 * is outside them) */
	{
		const struct mixer_stats *ms = mixer_stats(mix);
		uint64_t sum = 0;

		assert_true(atomic_load(&ms->worker_ns[0]) > 0);
		for (i = 0; i < MIX_PH_RX_IDLE; i++)
			sum += atomic_load(&ms->phase_ns[i]);
		assert_true(atomic_load(&ms->phase_ns[MIX_PH_PROCESS]) > 0);
		assert_true(atomic_load(&ms->phase_ns[MIX_PH_OUT]) > 0);
		assert_true(sum <= atomic_load(&ms->tick_ns_sum) + 1000000);
	}
	for (i = 0; i < N; i++)
		(void)mixer_detach(mix, sv[i].ms);
	(void)mixer_profile_del(mix, prof);
	mixer_tick(mix, 0);
	mixer_poll_events(mix);
	assert_int_equal(t.detached, N);
	for (i = 0; i < N; i++)
		close(sv[i].fd);
	mem_deref(mix);
	close(fd);
	libre_close();
}

/* A syllable-modulated tone, as site_send() makes, at 16 kHz. */
static void pcm_tone(int16_t *f, double hz, uint64_t n0)
{
	int i;

	for (i = 0; i < LB_FRAME; i++) {
		double tt = (double)(n0 + (uint64_t)i) / 16000.0;
		double env = 0.5 * (1 - cos(2 * M_PI * 4 * tt));

		f[i] = (int16_t)(12000 * env * sin(2 * M_PI * hz * tt));
	}
}

static double goertzel_db(const int16_t *x, size_t n, double hz,
			  double srate)
{
	const double w = 2 * M_PI * hz / srate, cf = 2 * cos(w);
	double s0, s1 = 0, s2 = 0, p;
	size_t i;

	for (i = 0; i < n; i++) {
		s0 = x[i] + cf * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	p = s1 * s1 + s2 * s2 - cf * s1 * s2;
	return 10 * log10(p / ((double)n * n / 4) + 1e-9) -
		20 * log10(32768);
}

/*
 * A member that is not an RTP site: a PCM member (a sound card's or a
 * prompt player's place) beside the RTP sites. It speaks 700 Hz through
 * its ring; the RTP sites must hear it, and it must hear site A's
 * 400 Hz and not itself. Taps on the mix, on the PCM member and on the
 * meters give one record per tick (or snapshot) in order, and a tap
 * nobody reads counts its drops.
 */
static void test_pcm_member_taps(void **state)
{
	static const struct codec_prm none = {.id = CODEC_NONE,
					      .ptime_ms = 20};
	const struct mix_member_prm pp = {.kind = MIX_MEMBER_PCM, .key = 99,
					  .dsp = dsp, .pcm_frames = 4};
	static int16_t heard[TICKS * LB_FRAME];
	struct mix_tap_prm tp = {.kind = MIX_TAP_MIX, .cap = 256};
	struct mix_tap *tmix, *tmem, *tmet, *tfull;
	struct mix_profile *pprof;
	struct mix_member *pm;
	struct mix_tap_frame fr;
	struct mix_meter mr;
	int16_t f[LB_FRAME];
	uint64_t last = 0;
	size_t nheard = 0, nmix = 0, nmem = 0, nsnap = 0, nmet = 0, naud = 0;
	int tick, i;
	(void)state;

	setup(3);
	t.sitev[0].hz = 400;
	assert_int_equal(mix_profile_alloc(&pprof, &none), 0);
	assert_int_equal(mixer_profile_add(t.mix, pprof), 0);
	assert_int_equal(mix_member_alloc(&pm, &pp, pprof), 0);
	assert_int_equal(mixer_attach(t.mix, pm), 0);
	assert_int_equal(mix_tap_alloc(&tmix, &tp), 0);
	tp.kind = MIX_TAP_MEMBER;
	tp.member = pm;
	assert_int_equal(mix_tap_alloc(&tmem, &tp), 0);
	tp.kind = MIX_TAP_METERS;
	tp.member = NULL;
	tp.every = 5;
	assert_int_equal(mix_tap_alloc(&tmet, &tp), 0);
	tp.kind = MIX_TAP_MIX;
	tp.cap = 8;                          /* never read: drops */
	assert_int_equal(mix_tap_alloc(&tfull, &tp), 0);
	assert_int_equal(mixer_tap_attach(t.mix, tmix), 0);
	assert_int_equal(mixer_tap_attach(t.mix, tmem), 0);
	assert_int_equal(mixer_tap_attach(t.mix, tmet), 0);
	assert_int_equal(mixer_tap_attach(t.mix, tfull), 0);

	for (tick = 0; tick < TICKS; tick++) {
		for (i = 0; i < NSITES; i++)
			site_send(&t.sitev[i], tick);
		pcm_tone(f, 700, (uint64_t)tick * LB_FRAME);
		assert_true(mix_member_pcm_put(pm, f));
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		while (mix_member_pcm_get(pm, f)) {
			memcpy(heard + nheard, f, sizeof(f));
			nheard += LB_FRAME;
		}
		while (mix_tap_read(tmix, &fr)) {
			assert_int_equal(fr.tick, (uint64_t)nmix);
			++nmix;
		}
		while (mix_tap_read(tmem, &fr)) {
			assert_int_equal(fr.key, 99);
			assert_true(fr.flags & MIX_TAP_HEARD);
			naud += (fr.flags & MIX_TAP_AUDIO) != 0;
			++nmem;
			last = fr.tick;
		}
		while (mix_tap_read(tmet, &mr)) {
			++nmet;
			if (mr.flags & MIX_METER_LAST)
				++nsnap;
		}
		mixer_poll_events(t.mix);
	}
	print_message("# PCM member hears 400 Hz %.1f dB, 700 Hz %.1f dB; "
		      "site B hears 700 Hz %.1f dB; taps: %zu mix frames, "
		      "%zu member frames, %zu meter records in %zu "
		      "snapshots, %llu dropped by the unread tap\n",
		      goertzel_db(heard + nheard - 16000, 16000, 400, 16000),
		      goertzel_db(heard + nheard - 16000, 16000, 700, 16000),
		      tone_db(&t.sitev[1], 700), nmix, nmem, nmet, nsnap,
		      (unsigned long long)mix_tap_drops(tfull));
	assert_int_equal(nheard, (size_t)TICKS * LB_FRAME);
	assert_true(goertzel_db(heard + nheard - 16000, 16000, 400,
				16000) > -25);
	assert_true(goertzel_db(heard + nheard - 16000, 16000, 700,
				16000) < -50);
	assert_true(tone_db(&t.sitev[1], 700) > -25);
	assert_int_equal(nmix, TICKS);
	assert_int_equal(nmem, TICKS);
	assert_int_equal(last, TICKS - 1);
	/* it talks all along: its processed voice once the VAD believes
	 * itself (VAD_SETTLE, 600 ms after the member starts) */
	print_message("# member tap: %zu of %d frames with audio\n", naud,
		      TICKS);
	assert_true(naud >= TICKS - 35);
	assert_int_equal(nsnap, TICKS / 5);
	assert_int_equal(nmet, TICKS / 5 * (NSITES + 1));
	assert_int_equal(mix_tap_drops(tfull), TICKS - 8);
	assert_int_equal(mix_tap_drops(tmix), 0);
	assert_int_equal(atomic_load(&mixer_stats(t.mix)->tap_drops),
			 TICKS - 8);

	/* the member leaves before its tap: the tap stays, silent, until
	 * it is detached itself */
	assert_int_equal(mixer_detach(t.mix, pm), 0);
	mixer_tick(t.mix, 0);
	assert_false(mix_tap_read(tmem, &fr));
	assert_int_equal(mixer_tap_detach(t.mix, tmix), 0);
	assert_int_equal(mixer_tap_detach(t.mix, tmem), 0);
	assert_int_equal(mixer_tap_detach(t.mix, tmet), 0);
	assert_int_equal(mixer_tap_detach(t.mix, tfull), 0);
	(void)mixer_profile_del(t.mix, pprof);
	mixer_tick(t.mix, 0);
	mixer_poll_events(t.mix);
	assert_int_equal(t.detached, 1);
	assert_int_equal(atomic_load(&mixer_stats(t.mix)->taps), 0);
	t.detached = 0;
	teardown();
}

/* A site moved to another profile over RTP: 20 ms PCMU to 40 ms. Its
 * packets then carry 40 ms, with sequence numbers and timestamps that
 * go on without a jump. */
static void test_move_rtp(void **state)
{
	static const struct codec_prm pcmu40 = {
		.id = CODEC_PCMU, .pt = 0, .clock_hz = 8000, .ptime_ms = 40};
	struct mix_profile *p40;
	struct tsite *c;
	uint8_t buf[1500];
	struct rtpio_hdr h;
	uint32_t ts_next = 0, n20 = 0, n40 = 0, bad = 0;
	uint16_t seq_next = 0;
	bool first = true;
	ssize_t r;
	int tick, i;
	(void)state;

	setup(3);
	t.sitev[0].hz = 400;
	c = &t.sitev[2];
	assert_int_equal(mix_profile_alloc(&p40, &pcmu40), 0);
	assert_int_equal(mixer_profile_add(t.mix, p40), 0);
	for (tick = 0; tick < TICKS; tick++) {
		if (tick == 50)
			assert_int_equal(mixer_move(t.mix, c->ms, p40), 0);
		for (i = 0; i < NSITES; i++)
			site_send(&t.sitev[i], tick);
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < 2; i++)
			site_drain(&t.sitev[i]);
		while ((r = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
			assert_int_equal(rtpio_parse(&h, buf, (size_t)r), 0);
			if (!first && (h.seq != seq_next || h.ts != ts_next))
				++bad;
			first = false;
			seq_next = (uint16_t)(h.seq + 1);
			ts_next = h.ts + (uint32_t)h.payload_len;
			n20 += h.payload_len == 160;
			n40 += h.payload_len == 320;
		}
		mixer_poll_events(t.mix);
	}
	print_message("# moved site: %u packets of 20 ms, %u of 40 ms, %u "
		      "discontinuities\n", n20, n40, bad);
	assert_int_equal(bad, 0);
	assert_true(n20 >= 50 && n20 <= 52);
	assert_true(n40 >= (TICKS - 52) / 2 - 1);
	(void)mixer_profile_del(t.mix, p40);
	teardown();
}

/*
 * Readiness jobs (bridge/ready.c's probe and talk check): a PCM member
 * whose far end plays what it hears straight back, D ticks later. Its
 * job plays a 1 kHz clip to it alone and captures what it sends, raw.
 *  - the clip is in the capture at (play_at + 1 + D) frames (plus the
 *    limiter's 1 ms look-ahead): a frame sent in a tick comes back in
 *    a later tick's input at the earliest (ready.c counts that tick as
 *    the bridge's own);
 *  - meanwhile it hears the clip and not site A's 400 Hz (deaf), and
 *    what it sends back is kept out of the mix (exclude): site B never
 *    hears 1 kHz; the same job without exclude lets it through;
 *  - MIX_EV_JOB hands each job back once, aborted when the member
 *    leaves first; a clip for everyone reaches every site.
 */
#define JOB_D 3
#define JOB_TICKS 40

static void job_run(struct mix_member *pm, struct mix_job *job,
		    int16_t *heard, double *b_1k_db)
{
	static int16_t ring[JOB_D + 1][LB_FRAME];
	int16_t f[LB_FRAME];
	uint32_t n0 = jobs_done;
	int tick, i;

	memset(ring, 0, sizeof(ring));
	while (mix_member_pcm_get(pm, f))
		;                       /* what it was sent before */
	assert_int_equal(mixer_job(t.mix, pm, job), 0);
	t.sitev[1].rxn = 0;
	for (tick = 0; tick < JOB_TICKS + 10; tick++) {
		for (i = 0; i < NSITES; i++)
			site_send(&t.sitev[i], tick);
		assert_true(mix_member_pcm_put(pm, ring[tick % (JOB_D + 1)]));
		mixer_tick(t.mix, (uint64_t)tick * 20000000ull);
		for (i = 0; i < NSITES; i++)
			site_drain(&t.sitev[i]);
		memset(f, 0, sizeof(f));
		(void)mix_member_pcm_get(pm, f);
		if (heard && tick < JOB_TICKS)
			memcpy(heard + (size_t)tick * LB_FRAME, f, sizeof(f));
		/* what it heard in tick T is its input of tick T + 1 + D */
		memcpy(ring[(tick + JOB_D + 1) % (JOB_D + 1)], f, sizeof(f));
		mixer_poll_events(t.mix);
	}
	assert_int_equal(jobs_done, n0 + 1);
	assert_ptr_equal(job_done, job);
	*b_1k_db = goertzel_db(t.sitev[1].rx, t.sitev[1].rxn, 1000, 8000);
}

static void test_jobs(void **state)
{
	static const struct codec_prm none = {.id = CODEC_NONE,
					      .ptime_ms = 20};
	const struct mix_member_prm pp = {.kind = MIX_MEMBER_PCM, .key = 77,
					  .dsp = dsp, .pcm_frames = 8};
	static int16_t clip[8 * LB_FRAME], cap[JOB_TICKS * LB_FRAME];
	static int16_t heard[JOB_TICKS * LB_FRAME];
	struct mix_job job;
	struct mix_profile *pprof;
	struct mix_member *pm;
	double b_ex, b_noex, peak = 0;
	size_t i, at = 0;
	(void)state;

	setup(3);
	t.sitev[0].hz = 400;
	for (i = 0; i < sizeof(clip) / sizeof(clip[0]); i++)
		clip[i] = (int16_t)(10000 *
				    sin(2 * M_PI * 1000 * i / 16000.0));
	assert_int_equal(mix_profile_alloc(&pprof, &none), 0);
	assert_int_equal(mixer_profile_add(t.mix, pprof), 0);
	assert_int_equal(mix_member_alloc(&pm, &pp, pprof), 0);
	assert_int_equal(mixer_attach(t.mix, pm), 0);
	run();                                  /* A talks, all settle */

	memset(&job, 0, sizeof(job));
	job.play = clip;
	job.playn = sizeof(clip) / sizeof(clip[0]);
	job.play_at = 5;
	job.cap = cap;
	job.capn = JOB_TICKS * LB_FRAME;
	job.ticks = JOB_TICKS;
	job.exclude = job.deaf = true;
	job_run(pm, &job, heard, &b_ex);
	assert_false(job.aborted);
	for (i = 0; i < JOB_TICKS * LB_FRAME; i++) {
		if (abs(cap[i]) > peak) {
			peak = abs(cap[i]);
			if (!at && peak > 5000)
				at = i;
		}
	}
	print_message("# clip in the capture at sample %zu (want %d), "
		      "site B's 1 kHz %.1f dB; member hears 400 Hz %.1f dB "
		      "during the job\n", at,
		      (5 + 1 + JOB_D) * LB_FRAME, b_ex,
		      goertzel_db(heard + 20 * LB_FRAME, 10 * LB_FRAME, 400,
				  16000));
	/* the limiter's 1 ms look-ahead is all there is beside */
	assert_true(at >= (5 + 1 + JOB_D) * LB_FRAME + 2);
	assert_true(at <= (5 + 1 + JOB_D) * LB_FRAME + 2 + 16);
	assert_int_equal(cap[(5 + 1 + JOB_D) * LB_FRAME - 1], 0);
	assert_true(goertzel_db(heard + 20 * LB_FRAME, 10 * LB_FRAME, 400,
				16000) < -60);
	assert_true(b_ex < -50);

	/* the control: not kept out of the mix, its echo reaches B */
	job.exclude = job.deaf = false;
	job_run(pm, &job, NULL, &b_noex);
	print_message("# without exclude: site B's 1 kHz %.1f dB\n", b_noex);
	assert_true(b_noex > b_ex + 20);

	/* for everyone */
	t.sitev[1].rxn = 0;
	assert_int_equal(mixer_play_all(t.mix, clip, 8 * LB_FRAME), 0);
	for (i = 0; i < 12; i++) {
		site_send(&t.sitev[1], (int)i);
		mixer_tick(t.mix, 0);
		site_drain(&t.sitev[1]);
	}
	assert_true(goertzel_db(t.sitev[1].rx, t.sitev[1].rxn, 1000, 8000) >
		    -30);

	/* the member leaves with a job running: it comes back aborted */
	job.exclude = true;
	assert_int_equal(mixer_job(t.mix, pm, &job), 0);
	mixer_tick(t.mix, 0);
	assert_int_equal(mixer_detach(t.mix, pm), 0);
	mixer_tick(t.mix, 0);
	mixer_poll_events(t.mix);
	assert_ptr_equal(job_done, &job);
	assert_true(job.aborted);
	assert_int_equal(t.detached, 1);
	t.detached = 0;
	assert_int_equal(mixer_job(t.mix, pm, NULL), EINVAL);
	(void)mixer_profile_del(t.mix, pprof);
	teardown();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_mix_minus),
	cmocka_unit_test(test_max_talkers),
	cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_dtx),
	cmocka_unit_test(test_voiceless),
	cmocka_unit_test(test_shed),
	cmocka_unit_test(test_workers),
	cmocka_unit_test(test_pcm_member_taps),
	cmocka_unit_test(test_move_rtp),
	cmocka_unit_test(test_jobs),
};

LBTEST_GROUP(mixer, tests)
