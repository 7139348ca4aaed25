/**
 * @file echosite.c  A test site with an echoing hall: it calls a room of
 * the bridge over SIP, plays what it receives through a loudspeaker into
 * a synthetic room, and sends back what its microphone picks up. It is
 * the far end that bridge-side echo control must cope with.
 *
 * Usage: echosite --bridge ADDR:PORT [options]   (echosite --help)
 *
 * Signal path, all at 16 kHz mono, one 20 ms frame per tick of the
 * site's own clock (absolute CLOCK_MONOTONIC deadlines):
 *
 *   RTP in -> decode (Opus or PCMU) -> fixed playout buffer (--jb-ms,
 *   placed by RTP timestamp: no adaptation, so the delay is constant)
 *   -> loudspeaker signal, recorded by --rec
 *   -> bulk delay (--delay-ms; with --drift-ppm a delay that shrinks by
 *   that many microseconds per second, read with cubic interpolation:
 *   the clock drift between the bridge and the site's sound card, as an
 *   echo canceller sees it) -> room impulse response -> gain (--echo-db)
 *   -> + pink noise (--noise-dbfs) + near-end speech (--speech from
 *   --speech-at) = microphone, recorded by --mic-rec -> encode -> RTP.
 *
 * Room: h[0] is the direct path; from 3 ms on, a tail of seeded Gaussian
 * noise decaying by 60 dB over --rt60 seconds (and cut there). The tail
 * holds as much energy as the direct path (direct-to-reverberant ratio
 * --drr-db, default 0), and h is scaled to unit energy, so --echo-db is
 * the loudspeaker-to-microphone power gain. The echo in the microphone
 * thus lags the loudspeaker by --delay-ms plus the room; what the bridge
 * sees adds the playout buffer and the network.
 *
 * Both recordings share one timeline (sample n of each is the same
 * tick), starting when the call is established, so the echo's lag in
 * --mic-rec against --rec is exactly the echo path.
 *
 * SIP: libre's sipsess as UAC, INVITE sip:ROOM@bridge with an SDP offer
 * of Opus 48000/2 and PCMU (--codecs), BYE on SIGTERM/SIGINT or after
 * --duration. --move AT:PTIME:KBPS sends a re-INVITE AT seconds into
 * the call asking for PTIME ms packets at KBPS kbit/s (the bridge's
 * sending side changes; ours does not). Only loopback addresses are
 * accepted, for SIP and for RTP (the SDP answer must point at
 * 127.0.0.0/8 too); no sound card.
 *
 * Prints "echosite: established ..." on stderr once the call is up, and
 * a summary line when it ends. Exit status: 0 the call went and ended
 * cleanly (our BYE or the bridge's), 2 the call failed, 1 other errors.
 *
 * Threads: main (libre re_main: SIP, timers, signals through a flag);
 * audio (RTP I/O, codecs, room, recordings: never calls libre, whose
 * mem refcounts are not thread-safe in 1.1.0). The audio thread is
 * started after the call is established and joined before the BYE.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include <re.h>
#define DEBUG_MODULE "echosite"
#define DEBUG_LEVEL 5
#include <re_dbg.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>

#include "codec.h"
#include "rtpio.h"
#include "dsp.h"
#include "dsptest.h"
#include "netimp.h"

enum {
	SRATE = LB_SRATE,                 /* 16 kHz */
	FRAME = LB_FRAME,                 /* 320 samples, 20 ms */
	FRAME_NS = 20000000,
	RING = 1 << 16,                   /* playout ring: 4 s */
	RING_FRAMES = RING / FRAME + 1,
	HIST = 1 << 16,                   /* loudspeaker history: 4 s */
	MAX_DELAY_MS = 3000,
	NOISE_LOOP = SRATE * 10,
	PKT_MAX = 1500,
	REANCHOR_AFTER = 25,              /* packets out of the buffer */
	CATCHUP_MAX_NS = 200000000,       /* later than this: skip ahead */
	PHASE_LEARN = 10,                 /* packets before --tick-phase */
};

#define RT60_MAX_S 1.0
#define MUTE_DB (-120.0)

static struct {
	char bridge[64];
	char local[64];
	char room[64];
	char name[64];
	bool offer_opus, offer_pcmu, pcmu_first;
	double duration_s;
	double delay_ms;
	double jb_ms;
	double rt60_s;
	double drr_db;
	double echo_db;
	double noise_dbfs;
	const char *speech;
	double speech_at_s;
	double speech_db;
	double speech_every_s;            /* 0: once */
	struct netimp_prm tx_imp, rx_imp; /* the line, each way */
	double drift_ppm;
	double clock_ppm;                 /* the site's whole clock */
	double tick_phase_ms;             /* < 0: wherever it starts */
	uint64_t seed;
	const char *rec;
	const char *mic_rec;
	uint32_t bitrate;
	double setup_timeout_s;
	bool mute_send;
	bool usedtx;                      /* ask for DTX (RFC 7587) */
	bool follow_sdp;                  /* send what the bridge asks */
	bool verbose;
	struct {
		double at_s;
		uint32_t ptime_ms, kbps;
	} movev[4];
	uint32_t movec;
	uint32_t ptime_ms, kbps;          /* what our SDP asks for now */
	uint32_t send_ptime_ms;           /* the packets we send */
} opt = {
	.ptime_ms = 20,
	.send_ptime_ms = 20,
	.tick_phase_ms = -1,
	.bridge = "",
	.local = "127.0.0.1",
	.room = "1000",
	.name = "echo",
	.offer_opus = true,
	.offer_pcmu = true,
	.delay_ms = 150,
	.jb_ms = 60,
	.rt60_s = 0.4,
	.drr_db = 0,
	.echo_db = 0,
	.noise_dbfs = -55,
	.speech_db = 0,
	.seed = 1,
	.bitrate = 32000,
	.setup_timeout_s = 15,
};

struct pkt_slot {
	int64_t n0;                       /* first sample it plays */
	uint16_t len;
	bool used;
	uint8_t data[PKT_MAX];
};

/* Everything the audio thread owns; main fills it before the thread
 * starts and reads the counters after it is joined. */
struct audio {
	int fd, rtcp_fd;
	struct sockaddr_in local;
	struct sockaddr_in dst;
	enum codec_id codec;
	uint8_t pt;
	uint32_t ts_per_frame;            /* RTP clock units per 20 ms */
	uint32_t send_frames;             /* 20 ms frames per packet sent */
	uint32_t acc_frames;              /* of them, gathered so far */
	int16_t send_acc[FRAME * (LB_PTIME_MAX_MS / 20)];
	struct codec_dec dec;
	struct codec_enc enc;
	bool dec_ok, enc_ok;

	/* playout: sample index n of the loudspeaker signal is ring[n %
	 * RING]; a packet with extended timestamp T lands at base_n +
	 * (T - base_ts) * SRATE / clock */
	float *ring;
	uint8_t *frame_filled;            /* per frame slot, for stats */
	bool anchored;
	uint32_t rx_ssrc;
	int64_t ext_ts;                   /* extended timestamp of last */
	uint32_t last_ts;
	int64_t base_ts;
	int64_t base_n;
	uint32_t jb_samples;
	uint32_t out_of_buf;              /* consecutive late/early */

	/* room */
	float *hist;                      /* loudspeaker history, HIST */
	float *ir;
	size_t ir_len;
	float *acc;                       /* overlap-add, ir_len + FRAME */
	float echo_gain;
	double delay_samples;
	double drift;                     /* ppm * 1e-6 */
	double drift_max;                 /* |offset| limit, samples */

	float *noise;                     /* NOISE_LOOP, scaled */
	float *speech;
	size_t speech_n;
	int64_t speech_at;
	int64_t speech_every;             /* samples; 0: once */

	/* the line: what we send, what we are sent */
	struct netimp tx, rx;
	/* received packets, decoded in order at playout (in-band FEC and
	 * concealment as a real receiver does) */
	struct pkt_slot *pkts;            /* RING_FRAMES */
	/* RTCP receiver report figures (RFC 3550 A.3, A.8) */
	bool seq_init;
	uint16_t max_seq;
	uint32_t cycles, base_seq, received, expected_prior, received_prior;
	double jitter;                    /* timestamp units */
	int64_t last_transit;
	uint64_t rr_sent;

	/* send */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	SNDFILE *rec, *mic_rec;

	/* counters */
	uint64_t frames, rx_pkts, rx_bytes, rx_foreign, rx_bad, rtcp_rx;
	uint64_t late, early, resyncs, missing, tx_pkts, tx_err, skips;
	uint64_t tx_wire_bytes, rx_wire_bytes; /* with IP/UDP headers */
	uint64_t tx_count;                /* packets made */
	uint64_t fec_frames, concealed;
	uint64_t clipped, dec_err;
	double spk_e, mic_e, echo_e;
	/* how long what we heard sat in the socket before our tick read
	 * it: the phase of our clock against the bridge's (kernel receive
	 * stamps); near 0 or 20 ms, the loop's length flips by a frame */
	double wait_sum_ms, wait_min_ms, wait_max_ms;
	uint64_t wait_n;
	int64_t shift_ns;                 /* --tick-phase-ms: once */
	/* CLOCK_MONOTONIC of sample 0 of what we play and say (after any
	 * --tick-phase-ms shift): two sites' recordings line up on it, for
	 * the delay through the bridge */
	int64_t t0_ns;
	bool phased;

	/* --follow-sdp: what the bridge's last SDP asks us to send, posted
	 * by the SIP thread, taken at the next packet's start */
	struct codec_prm enc_prm;
	atomic_uint want_gen;
	uint32_t have_gen;
	atomic_uint want_bps, want_bw, want_frames, want_cbr;
	uint64_t follows;
};

static struct audio au = {.fd = -1, .rtcp_fd = -1};
static pthread_t audio_tid;
static bool audio_running;
static atomic_int audio_stop;

static struct sip *sip;
static struct sipsess_sock *sess_sock;
static struct sipsess *sess;
static struct sa bridge_sa, answer_sa;
static uint8_t answer_pt;
static enum codec_id answer_codec;
static struct tmr tmr_sig, tmr_dur, tmr_guard;
static struct tmr tmr_move[4];
static volatile sig_atomic_t got_signal;
static bool established, hanging_up;
static int exit_code;

static void logv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logv(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("echosite: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static double db_of(double e, uint64_t n)
{
	return 10 * log10(e / (double)(n ? n : 1) / (32767.0 * 32767.0) +
			  1e-13);
}

/* ---- audio preparation (start-up, main thread) ------------------------ */

/* A WAV file as 16 kHz mono float (int16 scale). */
static int read_wav_16k(const char *path, float **vp, size_t *np)
{
	SF_INFO info;
	SNDFILE *sf;
	float *in = NULL, *mono = NULL, *out = NULL;
	SpeexResamplerState *rs = NULL;
	size_t frames, i, cap;
	int err = 0, serr, c;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		logv("%s: %s\n", path, sf_strerror(NULL));
		return ENOENT;
	}
	if (info.frames <= 0 || info.channels <= 0 ||
	    info.samplerate < 4000 || info.frames > (sf_count_t)48000 * 600) {
		logv("%s: unusable (%lld frames, %d ch, %d Hz)\n", path,
		     (long long)info.frames, info.channels, info.samplerate);
		err = EINVAL;
		goto out;
	}
	frames = (size_t)info.frames;
	cap = frames * SRATE / (size_t)info.samplerate + 64;
	in = malloc(frames * (size_t)info.channels * sizeof(*in));
	mono = malloc(frames * sizeof(*mono));
	out = calloc(cap, sizeof(*out));
	if (!in || !mono || !out) {
		err = ENOMEM;
		goto out;
	}
	frames = (size_t)sf_readf_float(sf, in, (sf_count_t)frames);
	for (i = 0; i < frames; i++) {
		float a = 0;

		for (c = 0; c < info.channels; c++)
			a += in[i * (size_t)info.channels + (size_t)c];
		mono[i] = a / (float)info.channels * 32767.0f;
	}
	if (info.samplerate == SRATE) {
		memcpy(out, mono, frames * sizeof(*out));
		*np = frames;
	}
	else {
		spx_uint32_t il = (spx_uint32_t)frames;
		spx_uint32_t ol = (spx_uint32_t)cap;

		rs = speex_resampler_init(1, (spx_uint32_t)info.samplerate,
					  SRATE, 8, &serr);
		if (!rs) {
			err = EINVAL;
			goto out;
		}
		speex_resampler_skip_zeros(rs);
		speex_resampler_process_float(rs, 0, mono, &il, out, &ol);
		*np = ol;
	}
	*vp = out;
	out = NULL;
 out:
	if (rs)
		speex_resampler_destroy(rs);
	sf_close(sf);
	free(in);
	free(mono);
	free(out);
	return err;
}

/* The room's impulse response: see the file comment. */
static int make_room(struct audio *a)
{
	struct dsp_rng rng;
	double tail_e = 0, e, g_tail, norm;
	size_t k, first = (size_t)(0.003 * SRATE);

	a->ir_len = (size_t)ceil(opt.rt60_s * SRATE);
	if (a->ir_len <= first)
		a->ir_len = 1;
	a->ir = calloc(a->ir_len, sizeof(*a->ir));
	a->acc = calloc(a->ir_len + FRAME, sizeof(*a->acc));
	if (!a->ir || !a->acc)
		return ENOMEM;
	dsp_rng_seed(&rng, opt.seed * 7919 + 1);
	a->ir[0] = 1.0f;
	for (k = first; k < a->ir_len; k++) {
		double t = (double)k / SRATE;
		double env = exp(-6.907755 * t / opt.rt60_s);

		a->ir[k] = (float)(dsp_rng_gauss(&rng) * env);
		tail_e += (double)a->ir[k] * a->ir[k];
	}
	g_tail = tail_e > 0 ? sqrt(pow(10, -opt.drr_db / 10) / tail_e) : 0;
	e = 1.0;
	for (k = first; k < a->ir_len; k++) {
		a->ir[k] = (float)(a->ir[k] * g_tail);
		e += (double)a->ir[k] * a->ir[k];
	}
	norm = 1 / sqrt(e);
	for (k = 0; k < a->ir_len; k++)
		a->ir[k] = (float)(a->ir[k] * norm);
	return 0;
}

static int prepare_audio(struct audio *a)
{
	struct dsp_rng rng;
	float g;
	size_t i;
	int err;

	a->ring = calloc(RING, sizeof(*a->ring));
	a->frame_filled = calloc(RING_FRAMES, 1);
	a->pkts = calloc(RING_FRAMES, sizeof(*a->pkts));
	a->hist = calloc(HIST, sizeof(*a->hist));
	a->noise = calloc(NOISE_LOOP, sizeof(*a->noise));
	if (!a->ring || !a->frame_filled || !a->hist || !a->noise ||
	    !a->pkts)
		return ENOMEM;
	err = make_room(a);
	if (err)
		return err;
	a->echo_gain = opt.echo_db <= MUTE_DB ? 0.0f :
		(float)pow(10, opt.echo_db / 20);
	a->jb_samples = (uint32_t)(opt.jb_ms * SRATE / 1000 / FRAME) * FRAME;
	if (a->jb_samples < FRAME)
		a->jb_samples = FRAME;
	a->drift = opt.drift_ppm * 1e-6;
	opt.tx_imp.seed = opt.seed;
	opt.rx_imp.seed = opt.seed + 7777;
	netimp_init(&a->tx, &opt.tx_imp);
	netimp_init(&a->rx, &opt.rx_imp);
	/* 4 samples of head-room for the interpolator; the drifting part of
	 * the delay may eat into the bulk delay, never past it */
	a->delay_samples = opt.delay_ms * SRATE / 1000 + 4;
	a->drift_max = a->delay_samples - 4;

	dsp_rng_seed(&rng, opt.seed);
	if (opt.noise_dbfs > MUTE_DB) {
		dsp_synth_noise(a->noise, NOISE_LOOP, SRATE, DSP_NOISE_PINK,
				&rng);
		g = (float)(32767.0 * pow(10, opt.noise_dbfs / 20));
		for (i = 0; i < NOISE_LOOP; i++)
			a->noise[i] *= g;
	}
	if (opt.speech) {
		err = read_wav_16k(opt.speech, &a->speech, &a->speech_n);
		if (err)
			return err;
		g = (float)pow(10, opt.speech_db / 20);
		for (i = 0; i < a->speech_n; i++)
			a->speech[i] *= g;
		a->speech_at = (int64_t)llround(opt.speech_at_s * SRATE);
		a->speech_every = (int64_t)llround(opt.speech_every_s *
						   SRATE);
	}
	return 0;
}

static void audio_free(struct audio *a)
{
	if (a->dec_ok)
		codec_dec_close(&a->dec);
	if (a->enc_ok)
		codec_enc_close(&a->enc);
	a->dec_ok = a->enc_ok = false;
	free(a->ring);
	free(a->frame_filled);
	free(a->hist);
	free(a->ir);
	free(a->acc);
	free(a->noise);
	free(a->speech);
	a->ring = a->hist = a->ir = a->acc = a->noise = a->speech = NULL;
	a->frame_filled = NULL;
	free(a->pkts);
	a->pkts = NULL;
	if (a->rec)
		sf_close(a->rec);
	if (a->mic_rec)
		sf_close(a->mic_rec);
	a->rec = a->mic_rec = NULL;
	if (a->fd >= 0)
		close(a->fd);
	if (a->rtcp_fd >= 0)
		close(a->rtcp_fd);
	a->fd = a->rtcp_fd = -1;
}

static SNDFILE *open_rec(const char *path)
{
	SF_INFO info;
	SNDFILE *sf;

	memset(&info, 0, sizeof(info));
	info.samplerate = SRATE;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	sf = sf_open(path, SFM_WRITE, &info);
	if (!sf)
		logv("%s: %s\n", path, sf_strerror(NULL));
	return sf;
}

/* ---- RTP sockets ------------------------------------------------------- */

static bool is_loopback(const struct sa *sa)
{
	return sa_af(sa) == AF_INET && (sa_in(sa) >> 24) == 127;
}

static int udp_bound(uint32_t ip_host, uint16_t port)
{
	struct sockaddr_in a;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(ip_host);
	a.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* An RTP/RTCP pair on an even port. Ports come from 61000-64999, above
 * Linux's ephemeral range and away from the bridge's rtp_ports. */
static int bind_pair(uint32_t ip_host, struct dsp_rng *rng)
{
	int tries;

	for (tries = 0; tries < 400; tries++) {
		uint16_t port = (uint16_t)(61000 + 2 *
					   (dsp_rng_u32(rng) % 2000));

		au.fd = udp_bound(ip_host, port);
		if (au.fd < 0)
			continue;
		au.rtcp_fd = udp_bound(ip_host, (uint16_t)(port + 1));
		if (au.rtcp_fd >= 0) {
			au.local.sin_family = AF_INET;
			au.local.sin_addr.s_addr = htonl(ip_host);
			au.local.sin_port = htons(port);
			return 0;
		}
		close(au.fd);
		au.fd = -1;
	}
	return EADDRINUSE;
}

/* ---- audio thread ------------------------------------------------------ */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000,
			      .tv_nsec = t % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Samples at 16 kHz per RTP timestamp unit is SRATE / clock. */
static int64_t ts_to_samples(const struct audio *a, int64_t dts)
{
	return dts * FRAME / (int64_t)a->ts_per_frame;
}

/* RFC 3550 A.1/A.8: sequence and interarrival jitter of what we hear,
 * for our receiver reports (the bridge adapts what it sends to them). */
static void rx_stats(struct audio *a, const struct rtpio_hdr *h)
{
	const int64_t arrival = now_ns() / 1000 * (int64_t)a->ts_per_frame /
		20000;
	int64_t transit, d;

	if (!a->seq_init) {
		a->seq_init = true;
		a->max_seq = h->seq;
		a->base_seq = h->seq;
		a->cycles = 0;
		a->received = 0;
		a->last_transit = arrival - h->ts;
	}
	else if ((uint16_t)(h->seq - a->max_seq) < 0x8000) {
		if (h->seq < a->max_seq)
			a->cycles += 1u << 16;
		a->max_seq = h->seq;
	}
	++a->received;
	transit = arrival - (int64_t)h->ts;
	d = transit - a->last_transit;
	a->last_transit = transit;
	if (d < 0)
		d = -d;
	a->jitter += ((double)d - a->jitter) / 16;
}

/* One received packet, kept for its turn to play. rd is the index of
 * the next loudspeaker sample to be played. */
static void rx_packet(struct audio *a, const uint8_t *buf, size_t len,
		      int64_t rd)
{
	struct rtpio_hdr h;
	struct pkt_slot *ps;
	int64_t n0;
	int n;

	if (rtpio_parse(&h, buf, len)) {
		a->rx_bad++;
		return;
	}
	if (h.pt != a->pt || !h.payload_len) {
		a->rx_foreign++;       /* comfort noise, events, strangers */
		return;
	}
	a->rx_pkts++;
	a->rx_bytes += len;
	if (a->anchored && h.ssrc != a->rx_ssrc) {
		a->anchored = false;
		a->resyncs++;
		a->seq_init = false;
	}
	if (!a->anchored) {
		a->anchored = true;
		a->rx_ssrc = h.ssrc;
		a->ext_ts = 0;
		a->last_ts = h.ts;
		a->base_ts = 0;
		a->base_n = rd + a->jb_samples;
		a->out_of_buf = 0;
	}
	else {
		a->ext_ts += (int32_t)(h.ts - a->last_ts);
		a->last_ts = h.ts;
	}
	rx_stats(a, &h);
	n0 = a->base_n + ts_to_samples(a, a->ext_ts - a->base_ts);
	n = codec_pkt_samples(a->codec, buf + h.payload_off, h.payload_len);
	if (n <= 0 || h.payload_len > PKT_MAX) {
		a->dec_err++;
		return;
	}
	if (n0 < rd || n0 + n > rd + RING - FRAME) {
		if (n0 < rd)
			a->late++;
		else
			a->early++;
		/* the sender's timeline moved for good: start over */
		if (++a->out_of_buf >= REANCHOR_AFTER) {
			a->anchored = false;
			a->resyncs++;
		}
		return;
	}
	a->out_of_buf = 0;
	ps = &a->pkts[(size_t)(n0 / FRAME) % RING_FRAMES];
	if (ps->used && ps->n0 == n0)
		return;                 /* a duplicate */
	ps->used = true;
	ps->n0 = n0;
	ps->len = (uint16_t)h.payload_len;
	memcpy(ps->data, buf + h.payload_off, h.payload_len);
}

/* The loudspeaker frame [n, n + FRAME): decode its packet, or recover
 * it from the next packet's in-band FEC, or conceal it. In order, so the
 * decoder's state is what a real receiver's would be. */
static void play_frame(struct audio *a, int64_t n)
{
	int16_t pcm[LB_PKT_MAX_SAMPLES];
	const size_t slot = (size_t)(n / FRAME) % RING_FRAMES;
	struct pkt_slot *ps = &a->pkts[slot], *nx = NULL;
	int k, i, f, gap = FRAME;

	if (!a->anchored || n < a->base_n || a->frame_filled[slot])
		return;
	if (ps->used && ps->n0 == n) {
		k = codec_decode(&a->dec, ps->data, ps->len, pcm,
				 LB_PKT_MAX_SAMPLES);
		ps->used = false;
		if (k > 0) {
			for (i = 0; i < k; i++)
				a->ring[(size_t)(n + i) % RING] = pcm[i];
			for (i = 0; i < k; i += FRAME)
				a->frame_filled[(size_t)((n + i) / FRAME) %
						RING_FRAMES] = 1;
			return;
		}
		a->dec_err++;
	}
	/* no packet for this frame: what a receiver would call lost. The
	 * next packet's in-band FEC covers the whole gap before it (a lost
	 * 40 or 60 ms packet is 2 or 3 frames) */
	a->missing++;
	for (f = 1; f <= 3; f++) {
		struct pkt_slot *c = &a->pkts[(slot + (size_t)f) %
					      RING_FRAMES];

		if (c->used && c->n0 == n + (int64_t)f * FRAME) {
			nx = c;
			gap = f * FRAME;
			break;
		}
	}
	if (nx) {
		codec_decode_fec(&a->dec, nx->data, nx->len, pcm,
				 (size_t)gap);
		a->fec_frames += (uint64_t)(gap / FRAME);
	}
	else {
		codec_conceal(&a->dec, pcm, FRAME);
		a->concealed++;
	}
	for (i = 0; i < gap; i++)
		a->ring[(size_t)(n + i) % RING] = pcm[i];
	for (i = 0; i < gap; i += FRAME)
		a->frame_filled[(size_t)((n + i) / FRAME) % RING_FRAMES] = 1;
}

/* Every second: a receiver report on what the bridge sends us. */
static void send_rr(struct audio *a)
{
	uint8_t b[32];
	uint32_t ext_max, expected, lost, exp_int, rec_int, lost_int;
	uint8_t fraction = 0;
	struct sockaddr_in dst = a->dst;

	if (!a->seq_init)
		return;
	ext_max = a->cycles + a->max_seq;
	expected = ext_max - a->base_seq + 1;
	lost = expected > a->received ? expected - a->received : 0;
	exp_int = expected - a->expected_prior;
	rec_int = a->received - a->received_prior;
	a->expected_prior = expected;
	a->received_prior = a->received;
	lost_int = exp_int > rec_int ? exp_int - rec_int : 0;
	if (exp_int && lost_int)
		fraction = (uint8_t)((lost_int << 8) / exp_int);
	b[0] = 0x81;                  /* V=2, one report block */
	b[1] = 201;                   /* RR */
	b[2] = 0;
	b[3] = 7;                     /* 8 words - 1 */
	memcpy(b + 4, &(uint32_t){htonl(a->ssrc)}, 4);
	memcpy(b + 8, &(uint32_t){htonl(a->rx_ssrc)}, 4);
	b[12] = fraction;
	b[13] = (uint8_t)(lost >> 16);
	b[14] = (uint8_t)(lost >> 8);
	b[15] = (uint8_t)lost;
	memcpy(b + 16, &(uint32_t){htonl(ext_max)}, 4);
	memcpy(b + 20, &(uint32_t){htonl((uint32_t)a->jitter)}, 4);
	memset(b + 24, 0, 8);         /* no SR from the bridge kept */
	dst.sin_port = htons((uint16_t)(ntohs(dst.sin_port) + 1));
	if (sendto(a->rtcp_fd, b, sizeof(b), 0,
		   (const struct sockaddr *)&dst, sizeof(dst)) == sizeof(b))
		a->rr_sent++;
}

static void rx_wait(struct audio *a)
{
	struct timespec st, now;
	double ms;

	if (ioctl(a->fd, SIOCGSTAMPNS, &st) ||
	    clock_gettime(CLOCK_REALTIME, &now))
		return;
	ms = (double)(now.tv_sec - st.tv_sec) * 1e3 +
		(double)(now.tv_nsec - st.tv_nsec) / 1e6;
	if (!a->wait_n || ms < a->wait_min_ms)
		a->wait_min_ms = ms;
	if (!a->wait_n || ms > a->wait_max_ms)
		a->wait_max_ms = ms;
	a->wait_sum_ms += ms;
	a->wait_n++;
	/* --tick-phase-ms: once the bridge's cadence is seen, move our
	 * clock (as a sound card started at another moment would be) */
	if (opt.tick_phase_ms >= 0.0 && !a->phased &&
	    a->wait_n == PHASE_LEARN) {
		const double w = a->wait_sum_ms / (double)a->wait_n;

		a->phased = true;
		/* earlier, never later: a later tick would find two
		 * packets waiting and start the playout a frame deep */
		a->shift_ns = (int64_t)((fmod(opt.tick_phase_ms - w + 40.0,
					      20.0) - 20.0) * 1e6);
		a->wait_sum_ms = 0.0;
		a->wait_n = 0;
	}
}

static void rx_drain(struct audio *a, int64_t rd)
{
	uint8_t buf[PKT_MAX];
	ssize_t len;

	const int64_t now = now_ns();
	size_t n;

	for (;;) {
		len = recv(a->fd, buf, sizeof(buf), 0);
		if (len < 0)
			break;
		rx_wait(a);
		a->rx_wire_bytes += (size_t)len + NETIMP_IP_UDP;
		if (netimp_clean(&a->rx))
			rx_packet(a, buf, (size_t)len, rd);
		else
			netimp_put(&a->rx, buf, (size_t)len, now);
	}
	while (netimp_get(&a->rx, now, buf, &n))
		rx_packet(a, buf, n, rd);
	while (recv(a->rtcp_fd, buf, sizeof(buf), 0) >= 0)
		a->rtcp_rx++;
}

/* Catmull-Rom interpolation of the loudspeaker history at position p
 * (in samples, p <= newest - 2). */
static float hist_at(const struct audio *a, double p)
{
	double fl = floor(p);
	float t = (float)(p - fl);
	int64_t i = (int64_t)fl;
	float y0 = a->hist[(size_t)(i - 1) % HIST];
	float y1 = a->hist[(size_t)i % HIST];
	float y2 = a->hist[(size_t)(i + 1) % HIST];
	float y3 = a->hist[(size_t)(i + 2) % HIST];

	return y1 + 0.5f * t * (y2 - y0 + t * (2 * y0 - 5 * y1 + 4 * y2 -
					     y3 + t * (3 * (y1 - y2) +
						       y3 - y0)));
}

/*
 * dst[k] += x h[k], k < n: the room's convolution, 100 M multiply-adds a
 * second with 6400 taps. Not instrumented under ThreadSanitizer (make
 * test-tsan): it only touches the audio thread's own buffers, and
 * instrumented it cannot keep real time (frames get skipped, and the
 * echo path the tests measure breaks).
 */
#ifdef __SANITIZE_THREAD__
__attribute__((no_sanitize_thread))
#endif
static void axpy(float *dst, const float *h, float x, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		dst[k] += x * h[k];
}

/* The microphone frame for loudspeaker samples [n, n + FRAME). */
static void make_mic(struct audio *a, int64_t n, const float *spk,
		     int16_t *mic)
{
	float dl[FRAME], echo[FRAME];
	size_t i, L = a->ir_len;

	for (i = 0; i < FRAME; i++)
		a->hist[(size_t)(n + (int64_t)i) % HIST] = spk[i];
	for (i = 0; i < FRAME; i++) {
		double t = (double)(n + (int64_t)i);
		double off = t * a->drift;

		if (off > a->drift_max)
			off = a->drift_max;
		else if (off < -a->drift_max)
			off = -a->drift_max;
		dl[i] = t - a->delay_samples + off < 1 ? 0.0f :
			hist_at(a, t - a->delay_samples + off);
	}
	/* overlap-add convolution with the room: acc[i + k] += dl[i] h[k],
	 * an axpy per input sample that the compiler vectorises */
	for (i = 0; i < FRAME; i++) {
		const float x = dl[i] * a->echo_gain;

		if (x != 0.0f)
			axpy(a->acc + i, a->ir, x, L);
	}
	memcpy(echo, a->acc, sizeof(echo));
	memmove(a->acc, a->acc + FRAME, L * sizeof(*a->acc));
	memset(a->acc + L, 0, FRAME * sizeof(*a->acc));

	for (i = 0; i < FRAME; i++) {
		int64_t t = n + (int64_t)i;
		float v = echo[i] + a->noise[(size_t)t % NOISE_LOOP];

		if (a->speech && t >= a->speech_at) {
			int64_t k = t - a->speech_at;

			if (a->speech_every > 0)
				k %= a->speech_every;
			if (k < (int64_t)a->speech_n)
				v += a->speech[k];
		}
		a->echo_e += (double)echo[i] * echo[i];
		a->mic_e += (double)v * v;
		if (v > 32767.0f || v < -32768.0f) {
			a->clipped++;
			v = v > 0 ? 32767.0f : -32768.0f;
		}
		mic[i] = (int16_t)lrintf(v);
	}
}

static void tx_send(struct audio *a, const uint8_t *pkt, size_t len)
{
	if (sendto(a->fd, pkt, len, 0, (const struct sockaddr *)&a->dst,
		   sizeof(a->dst)) < 0) {
		a->tx_err++;
		return;
	}
	a->tx_pkts++;
}

/* What the bridge's SDP asks of what we send (RFC 7587 §6.1), as a
 * client that honours it does (baresip re-plans its encoder on a
 * re-INVITE): within our own --bitrate and wideband. */
static void follow_apply(struct audio *a)
{
	struct codec_prm prm = a->enc_prm;
	const uint32_t bps = atomic_load(&a->want_bps);
	const uint32_t bw = atomic_load(&a->want_bw);
	const uint32_t fr = atomic_load(&a->want_frames);

	a->have_gen = atomic_load(&a->want_gen);
	if (a->codec != CODEC_OPUS)
		return;
	prm.bitrate_bps = bps && bps < opt.bitrate ? bps : opt.bitrate;
	prm.max_bw_hz = bw && bw < 16000 ? bw : 16000;
	prm.cbr = atomic_load(&a->want_cbr) != 0;
	if (fr)
		prm.ptime_ms = fr * 20;
	if (codec_enc_set(&a->enc, &prm)) {
		a->tx_err++;
		return;
	}
	a->enc_prm = prm;
	a->send_frames = prm.ptime_ms / 20;
	a->follows++;
}

static void tx_frame(struct audio *a, const int16_t *mic)
{
	static const int16_t zero[FRAME];
	uint8_t pkt[PKT_MAX];
	int len;

	/* --ptime 40/60: a packet carries what the frames since the last
	 * one gathered, stamped with the first frame's time */
	/* --tick-phase-ms: the bridge hears us only once our clock is
	 * where it stays, so its jitter buffer never sees the move */
	if (opt.tick_phase_ms >= 0.0 && !a->phased)
		return;
	if (a->acc_frames == 0 && a->have_gen != atomic_load(&a->want_gen))
		follow_apply(a);
	memcpy(a->send_acc + (size_t)a->acc_frames * FRAME,
	       opt.mute_send ? zero : mic, sizeof(zero));
	if (++a->acc_frames < a->send_frames)
		return;
	a->acc_frames = 0;
	len = codec_encode(&a->enc, a->send_acc, FRAME * a->send_frames,
			   pkt + RTPIO_HDR_SIZE, sizeof(pkt) - RTPIO_HDR_SIZE);
	if (len <= 0) {
		a->ts += a->ts_per_frame * a->send_frames;
		a->tx_err++;
		return;
	}
	rtpio_build(pkt, a->pt, a->tx_count++ == 0, a->seq++, a->ts,
		    a->ssrc);
	a->ts += a->ts_per_frame * a->send_frames;
	/* what we put on the line, before it loses any */
	a->tx_wire_bytes += (size_t)len + RTPIO_HDR_SIZE + NETIMP_IP_UDP;
	if (netimp_clean(&a->tx))
		tx_send(a, pkt, (size_t)len + RTPIO_HDR_SIZE);
	else
		netimp_put(&a->tx, pkt, (size_t)len + RTPIO_HDR_SIZE,
			   now_ns());
}

/* What the line lets through by now. */
static void tx_flush(struct audio *a)
{
	uint8_t pkt[NETIMP_PKT];
	size_t n;

	while (netimp_get(&a->tx, now_ns(), pkt, &n))
		tx_send(a, pkt, n);
}

/* One tick: what arrived, one loudspeaker frame, one microphone frame. */
static void tick(struct audio *a, int64_t n)
{
	float spk[FRAME];
	int16_t spk16[FRAME], mic[FRAME];
	size_t i, slot;

	rx_drain(a, n);
	play_frame(a, n);
	slot = (size_t)(n / FRAME) % RING_FRAMES;
	a->frame_filled[slot] = 0;
	for (i = 0; i < FRAME; i++) {
		float *r = &a->ring[(size_t)(n + (int64_t)i) % RING];

		spk[i] = *r;
		*r = 0.0f;
		spk16[i] = (int16_t)spk[i];
		a->spk_e += (double)spk[i] * spk[i];
	}
	make_mic(a, n, spk, mic);
	tx_frame(a, mic);
	tx_flush(a);
	if (a->frames % 50 == 49)
		send_rr(a);
	if (a->rec)
		sf_writef_short(a->rec, spk16, FRAME);
	if (a->mic_rec)
		sf_writef_short(a->mic_rec, mic, FRAME);
	a->frames++;
}

static void *audio_main(void *arg)
{
	struct audio *a = arg;
	/* a site's sound card is not the bridge's clock: a frame every
	 * 20 ms by its own, P ppm fast */
	const double frame_ns = FRAME_NS / (1.0 + opt.clock_ppm * 1e-6);
	int64_t t0 = now_ns(), deadline = t0, n = 0, late, k = 0;

	a->t0_ns = t0;

	while (!atomic_load(&audio_stop)) {
		tick(a, n);
		n += FRAME;
		if (a->shift_ns) {
			/* the playout buffer starts again on the new clock,
			 * jb-ms from the next packet */
			t0 += a->shift_ns;
			a->t0_ns = t0;
			a->shift_ns = 0;
			a->anchored = false;
		}
		deadline = t0 + (int64_t)((double)++k * frame_ns);
		late = now_ns() - deadline;
		if (late > CATCHUP_MAX_NS) {
			/* stalled (e.g. stopped in a debugger): do not send
			 * a burst; skip the frames and keep the timeline */
			while (deadline < now_ns()) {
				deadline = t0 + (int64_t)((double)++k *
							  frame_ns);
				n += FRAME;
				a->skips++;
			}
		}
		sleep_until(deadline);
	}
	return NULL;
}

/* ---- SIP (main thread) ------------------------------------------------- */

static int parse_answer(const struct sip_msg *msg)
{
	struct pl body, c_ip, m_port, m_pt, name;
	char ip[64], pat[48];

	if (!msg || !msg->mb || !mbuf_get_left(msg->mb))
		return EPROTO;
	pl_set_mbuf(&body, msg->mb);
	if (re_regex(body.p, body.l, "c=IN IP4 [0-9.]+", &c_ip) ||
	    re_regex(body.p, body.l, "m=audio [0-9]+ RTP/AVP [0-9]+",
		     &m_port, &m_pt))
		return EPROTO;
	pl_strcpy(&c_ip, ip, sizeof(ip));
	if (sa_set_str(&answer_sa, ip, (uint16_t)pl_u32(&m_port)))
		return EPROTO;
	answer_pt = (uint8_t)pl_u32(&m_pt);
	if (answer_pt == 0) {
		answer_codec = CODEC_PCMU;
		return 0;
	}
	snprintf(pat, sizeof(pat), "a=rtpmap:%u [^/]+/", answer_pt);
	if (re_regex(body.p, body.l, pat, &name))
		return EPROTO;
	if (!pl_strcasecmp(&name, "opus")) {
		answer_codec = CODEC_OPUS;
		return 0;
	}
	return EPROTO;
}

/* The bridge's SDP: a=ptime, and the Opus fmtp's maxaveragebitrate and
 * maxplaybackrate; posted for the audio thread. */
static void follow_sdp(const struct mbuf *mb, const char *what)
{
	struct pl body, v;
	uint32_t pt = 0, bps = 0, bw = 0, cbr = 0;

	if (!opt.follow_sdp || !mb || !mbuf_get_left(mb))
		return;
	pl_set_mbuf(&body, mb);
	if (!re_regex(body.p, body.l, "a=ptime:[0-9]+", &v))
		pt = pl_u32(&v);
	if (!re_regex(body.p, body.l, "maxaveragebitrate=[0-9]+", &v))
		bps = pl_u32(&v);
	if (!re_regex(body.p, body.l, "maxplaybackrate=[0-9]+", &v))
		bw = pl_u32(&v);
	if (!re_regex(body.p, body.l, "cbr=[0-9]+", &v))
		cbr = pl_u32(&v) == 1;
	pt = pt >= 60 && LB_PTIME_MAX_MS >= 60 ? 60 : pt >= 40 ? 40 : 20;
	atomic_store(&au.want_bps, bps);
	atomic_store(&au.want_bw, bw);
	atomic_store(&au.want_frames, pt / 20);
	atomic_store(&au.want_cbr, cbr);
	atomic_fetch_add(&au.want_gen, 1);
	logv("%s asks for %u ms packets, %u bit/s%s, %u Hz: following\n",
	     what, pt, bps, cbr ? " constant" : "", bw);
}

static struct mbuf *make_sdp(void)
{
	struct mbuf *mb = mbuf_alloc(512);
	char ip[INET_ADDRSTRLEN];
	const char *fmts;

	if (!mb)
		return NULL;
	inet_ntop(AF_INET, &au.local.sin_addr, ip, sizeof(ip));
	if (opt.offer_opus && opt.offer_pcmu)
		fmts = opt.pcmu_first ? "0 111" : "111 0";
	else
		fmts = opt.offer_opus ? "111" : "0";
	mbuf_printf(mb,
		    "v=0\r\n"
		    "o=- %u 1 IN IP4 %s\r\n"
		    "s=lowbridge-echosite\r\n"
		    "c=IN IP4 %s\r\n"
		    "t=0 0\r\n"
		    "m=audio %u RTP/AVP %s\r\n",
		    au.ssrc, ip, ip, ntohs(au.local.sin_port), fmts);
	if (opt.offer_opus) {
		mbuf_printf(mb,
			    "a=rtpmap:111 opus/48000/2\r\n"
			    "a=fmtp:111 useinbandfec=1;maxplaybackrate=16000;"
			    "sprop-maxcapturerate=16000");
		if (opt.kbps)
			mbuf_printf(mb, ";maxaveragebitrate=%u",
				    opt.kbps * 1000);
		if (opt.usedtx)
			mbuf_printf(mb, ";usedtx=1");
		mbuf_printf(mb, "\r\n");
	}
	if (opt.offer_pcmu)
		mbuf_printf(mb, "a=rtpmap:0 PCMU/8000\r\n");
	mbuf_printf(mb, "a=ptime:%u\r\na=sendrecv\r\n", opt.ptime_ms);
	mb->pos = 0;
	return mb;
}

static int offer_handler(struct mbuf **descp, const struct sip_msg *msg,
			 void *arg)
{
	(void)arg;
	follow_sdp(msg->mb, "the bridge's re-INVITE");
	*descp = make_sdp();       /* a re-INVITE: same media, same codec */
	return *descp ? 0 : ENOMEM;
}

static int answer_handler(const struct sip_msg *msg, void *arg)
{
	int err;

	(void)arg;
	err = parse_answer(msg);
	if (!err && !established)
		follow_sdp(msg->mb, "the bridge's answer");
	return err;
}

/* --move: ask the bridge for other packets (a re-INVITE). */
static void move_handler(void *arg)
{
	const uint32_t i = (uint32_t)(uintptr_t)arg;
	struct mbuf *desc;
	int err;

	if (!sess || hanging_up)
		return;
	opt.ptime_ms = opt.movev[i].ptime_ms;
	opt.kbps = opt.movev[i].kbps;
	desc = make_sdp();
	if (!desc)
		return;
	err = sipsess_modify(sess, desc);
	mem_deref(desc);
	logv("move %u: re-INVITE for %u ms at %u kbit/s%s%s\n", i + 1,
	     opt.ptime_ms, opt.kbps, err ? ": " : "",
	     err ? strerror(err) : "");
}

static void exit_handler(void *arg)
{
	(void)arg;
	re_cancel();
}

static void guard_handler(void *arg)
{
	(void)arg;
	logv("SIP did not finish in time\n");
	re_cancel();
}

static void audio_join(void)
{
	if (!audio_running)
		return;
	atomic_store(&audio_stop, 1);
	pthread_join(audio_tid, NULL);
	audio_running = false;
}

static void hangup(const char *why)
{
	if (hanging_up)
		return;
	hanging_up = true;
	tmr_cancel(&tmr_dur);
	for (uint32_t i = 0; i < 4; i++)
		tmr_cancel(&tmr_move[i]);
	audio_join();
	logv("hanging up (%s)\n", why);
	sess = mem_deref(sess);            /* sends BYE (or CANCEL) */
	tmr_start(&tmr_guard, 5000, guard_handler, NULL);
	sip_close(sip, false);
}

static void duration_handler(void *arg)
{
	(void)arg;
	hangup("duration reached");
}

static void setup_timeout(void *arg)
{
	(void)arg;
	if (established)
		return;
	logv("no answer within %.0f s\n", opt.setup_timeout_s);
	exit_code = 2;
	hangup("set-up timeout");
}

static int audio_start(void)
{
	struct codec_prm prm;
	sigset_t all, old;
	char addr[64];
	int err;

	if (!is_loopback(&answer_sa)) {
		re_snprintf(addr, sizeof(addr), "%J", &answer_sa);
		logv("the answer's media address %s is not loopback\n",
		     addr);
		return EPERM;
	}
	memset(&prm, 0, sizeof(prm));
	prm.id = answer_codec;
	prm.pt = answer_pt;
	/* PCMU goes in 20 ms packets whatever we asked for */
	prm.ptime_ms = answer_codec == CODEC_OPUS ? opt.send_ptime_ms : 20;
	if (answer_codec == CODEC_OPUS) {
		prm.clock_hz = 48000;
		prm.bitrate_bps = opt.bitrate;
		prm.max_bw_hz = 16000;
		prm.complexity = 5;
		prm.fec = true;
	}
	else {
		prm.clock_hz = 8000;
	}
	err = codec_dec_init(&au.dec, answer_codec);
	if (err)
		return err;
	au.dec_ok = true;
	err = codec_enc_init(&au.enc, &prm);
	if (err)
		return err;
	au.enc_ok = true;
	au.enc_prm = prm;
	au.codec = answer_codec;
	au.pt = answer_pt;
	au.ts_per_frame = codec_frame_ts(&prm);
	au.send_frames = prm.ptime_ms / 20;
	au.dst.sin_family = AF_INET;
	au.dst.sin_addr.s_addr = htonl(sa_in(&answer_sa));
	au.dst.sin_port = htons(sa_port(&answer_sa));
	if (opt.rec && !(au.rec = open_rec(opt.rec)))
		return EIO;
	if (opt.mic_rec && !(au.mic_rec = open_rec(opt.mic_rec)))
		return EIO;

	/* signals go to the main thread only */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&audio_tid, NULL, audio_main, &au);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	audio_running = true;
	return 0;
}

static void estab_handler(const struct sip_msg *msg, void *arg)
{
	char addr[64];
	int err;

	(void)msg;
	(void)arg;
	if (!sa_isset(&answer_sa, SA_ALL)) {
		logv("200 OK without a usable SDP answer\n");
		exit_code = 2;
		hangup("no SDP answer");
		return;
	}
	established = true;
	tmr_cancel(&tmr_guard);
	err = audio_start();
	if (err) {
		logv("audio start: %s\n", strerror(err));
		exit_code = 1;
		hangup("audio failed");
		return;
	}
	re_snprintf(addr, sizeof(addr), "%J", &answer_sa);
	logv("established: %s pt %u, media to %s, jb %.0f ms, delay %.0f "
	     "ms, rt60 %.2f s (%zu taps), echo %.1f dB, noise %.1f dBFS, "
	     "drift %.1f ppm\n", codec_name(au.codec), au.pt, addr,
	     (double)au.jb_samples * 1000 / SRATE, opt.delay_ms, opt.rt60_s,
	     au.ir_len, opt.echo_db, opt.noise_dbfs, opt.drift_ppm);
	if (opt.duration_s > 0)
		tmr_start(&tmr_dur, (uint64_t)(opt.duration_s * 1000),
			  duration_handler, NULL);
	for (uint32_t i = 0; i < opt.movec; i++)
		tmr_start(&tmr_move[i], (uint64_t)(opt.movev[i].at_s * 1000),
			  move_handler, (void *)(uintptr_t)i);
}

static void close_handler(int err, const struct sip_msg *msg, void *arg)
{
	(void)arg;
	if (!established) {
		logv("call failed: %s%s%u\n", err ? strerror(err) : "",
		     err ? " " : "", msg ? msg->scode : 0);
		exit_code = 2;
	}
	else {
		logv("call closed by the bridge (%s)\n",
		     err ? strerror(err) : "BYE");
	}
	audio_join();
	sess = mem_deref(sess);
	hanging_up = true;
	tmr_cancel(&tmr_dur);
	tmr_start(&tmr_guard, 5000, guard_handler, NULL);
	sip_close(sip, false);
}

static void conn_handler(const struct sip_msg *msg, void *arg)
{
	(void)arg;
	(void)sip_treply(NULL, sip, msg, 603, "Decline");
}

static void on_signal(int sig)
{
	got_signal = sig;
}

static void sig_poll(void *arg)
{
	(void)arg;
	if (got_signal && !hanging_up) {
		hangup(got_signal == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
	tmr_start(&tmr_sig, 50, sig_poll, NULL);
}

static int invite(void)
{
	char to[160], from[160], host[80];
	struct mbuf *desc = make_sdp();
	int err;

	if (!desc)
		return ENOMEM;
	re_snprintf(host, sizeof(host), "%J", &bridge_sa);
	snprintf(to, sizeof(to), "sip:%s@%s", opt.room, host);
	snprintf(from, sizeof(from), "sip:%s@%s", opt.name, opt.local);
	err = sipsess_connect(&sess, sess_sock, to, opt.name, from, opt.name,
			      NULL, 0, "application/sdp", desc, NULL, NULL,
			      false, offer_handler, answer_handler, NULL,
			      estab_handler, NULL, NULL, close_handler, NULL,
			      NULL);
	mem_deref(desc);
	return err;
}

/* ---- options and main -------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: echosite --bridge ADDR:PORT [options]\n"
"A SIP site whose microphone picks up its loudspeaker through a room.\n"
"  --bridge ADDR:PORT   the bridge's SIP address (loopback only)\n"
"  --local ADDR         our SIP and RTP address (127.0.0.1)\n"
"  --room ID            room to call, sip:ID@bridge (1000)\n"
"  --name NAME          our SIP user and display name (echo)\n"
"  --codecs LIST        offer: opus,pcmu (default), pcmu,opus, opus, pcmu\n"
"  --bitrate BPS        Opus bit rate we send (32000)\n"
"  --ptime MS           20, 40 or 60: the Opus packets we send, and\n"
"                       what our offer asks for (a=ptime; 20)\n"
"  --ask-kbps K         offer maxaveragebitrate K kbit/s (none)\n"
"  --duration S         hang up after S seconds of call (0: on signal)\n"
"  --jb-ms MS           fixed playout buffer (60)\n"
"  --delay-ms MS        bulk loudspeaker-to-mic delay on top (150)\n"
"  --rt60 S             reverberation time of the room (0.4, max 1)\n"
"  --drr-db DB          direct-to-reverberant energy ratio (0)\n"
"  --echo-db DB         loudspeaker-to-mic power gain (0; <= -120: none)\n"
"  --noise-dbfs DB      pink noise in the mic (-55; <= -120: none)\n"
"  --speech FILE.wav    near-end speech mixed into the mic\n"
"  --speech-at S        when it starts, seconds into the call (0)\n"
"  --speech-db DB       its gain (0)\n"
"  --speech-every S     say it again every S seconds (0: once)\n"
"  --loss-pct P         drop P %% of the packets we send (= --tx-loss)\n"
"  --tx-loss P, --rx-loss P      the line's loss each way, %%\n"
"  --tx-burst B, --rx-burst B    mean loss burst in packets (> 1:\n"
"                       Gilbert-Elliott; default random)\n"
"  --tx-jitter-ms J, --rx-jitter-ms J  extra delay 0..J ms (reorders)\n"
"  --tx-dup P, --rx-dup P        duplicate P %% of the packets\n"
"  --tx-cap-kbps K, --rx-cap-kbps K  a line of K kbit/s on the wire\n"
"                       (IP/UDP included; 200 ms queue)\n"
"  (seeded by --seed; what is heard is decoded in order with the\n"
"   next packet's in-band FEC or concealment, as a real receiver)\n"
"  --drift-ppm P        the echo path's clock runs P ppm fast (0)\n"
"  --clock-ppm P        the site's own clock (what it sends and plays,\n"
"                       20 ms a frame by it) runs P ppm fast (0)\n"
"  --tick-phase-ms P    our 20 ms clock set so the bridge's packets\n"
"                       arrive P ms before our tick reads them\n"
"                       (0..20; we send once it is, 200 ms in;\n"
"                       default: wherever it started)\n"
"  --seed N             room and noise seed (1)\n"
"  --rec FILE.wav       record what we play (16 kHz mono)\n"
"  --mic-rec FILE.wav   record what we send (16 kHz mono)\n"
"  --setup-timeout S    give up if not answered (15)\n"
"  --mute-send          send silence (still records the mic): a control\n"
"                       run for the analysis of the others' recordings\n"
"  --usedtx             our SDP asks the bridge for DTX (usedtx=1)\n"
"  --follow-sdp         send what the bridge's SDP asks for (a=ptime,\n"
"                       maxaveragebitrate, maxplaybackrate; within\n"
"                       --bitrate), in its answer and re-INVITEs\n"
"  --move AT:PTIME:KBPS re-INVITE AT s into the call asking the bridge\n"
"                       for PTIME ms packets at KBPS kbit/s (up to 4)\n"
"  -v, --verbose        libre's debug output on stderr\n"
"  -h, --help\n"
"Exit: 0 call done, 2 call failed, 1 other errors.\n");
}

static int parse_codecs(const char *s)
{
	if (!strcmp(s, "opus,pcmu") || !strcmp(s, "both"))
		opt.offer_opus = opt.offer_pcmu = true, opt.pcmu_first = false;
	else if (!strcmp(s, "pcmu,opus"))
		opt.offer_opus = opt.offer_pcmu = opt.pcmu_first = true;
	else if (!strcmp(s, "opus"))
		opt.offer_opus = true, opt.offer_pcmu = false;
	else if (!strcmp(s, "pcmu"))
		opt.offer_opus = false, opt.offer_pcmu = true;
	else
		return EINVAL;
	return 0;
}

static int num(const char *s, double lo, double hi, double *v)
{
	char *end;
	double d = strtod(s, &end);

	if (end == s || *end || !(d >= lo && d <= hi))
		return EINVAL;
	*v = d;
	return 0;
}

static int parse_opts(int argc, char *argv[])
{
	enum { O_BRIDGE = 256, O_LOCAL, O_ROOM, O_NAME, O_CODECS, O_BITRATE,
	       O_DUR, O_JB, O_DELAY, O_RT60, O_DRR, O_ECHO, O_NOISE,
	       O_SPEECH, O_SPEECH_AT, O_SPEECH_DB, O_DRIFT, O_CLOCK, O_PHASE,
	       O_SEED,
	       O_REC,
	       O_MIC_REC, O_SETUP, O_MUTE, O_DTX, O_FOLLOW, O_MOVE, O_PTIME,
	       O_ASK,
	       O_EVERY,
	       O_LOSS,
	       O_TXLOSS, O_TXBURST, O_TXJIT, O_TXDUP, O_TXCAP, O_RXLOSS,
	       O_RXBURST, O_RXJIT, O_RXDUP, O_RXCAP };
	static const struct option lo[] = {
		{"bridge", required_argument, NULL, O_BRIDGE},
		{"local", required_argument, NULL, O_LOCAL},
		{"room", required_argument, NULL, O_ROOM},
		{"name", required_argument, NULL, O_NAME},
		{"codecs", required_argument, NULL, O_CODECS},
		{"bitrate", required_argument, NULL, O_BITRATE},
		{"duration", required_argument, NULL, O_DUR},
		{"jb-ms", required_argument, NULL, O_JB},
		{"delay-ms", required_argument, NULL, O_DELAY},
		{"rt60", required_argument, NULL, O_RT60},
		{"drr-db", required_argument, NULL, O_DRR},
		{"echo-db", required_argument, NULL, O_ECHO},
		{"noise-dbfs", required_argument, NULL, O_NOISE},
		{"speech", required_argument, NULL, O_SPEECH},
		{"speech-at", required_argument, NULL, O_SPEECH_AT},
		{"speech-db", required_argument, NULL, O_SPEECH_DB},
		{"speech-every", required_argument, NULL, O_EVERY},
		{"loss-pct", required_argument, NULL, O_LOSS},
		{"tx-loss", required_argument, NULL, O_TXLOSS},
		{"tx-burst", required_argument, NULL, O_TXBURST},
		{"tx-jitter-ms", required_argument, NULL, O_TXJIT},
		{"tx-dup", required_argument, NULL, O_TXDUP},
		{"tx-cap-kbps", required_argument, NULL, O_TXCAP},
		{"rx-loss", required_argument, NULL, O_RXLOSS},
		{"rx-burst", required_argument, NULL, O_RXBURST},
		{"rx-jitter-ms", required_argument, NULL, O_RXJIT},
		{"rx-dup", required_argument, NULL, O_RXDUP},
		{"rx-cap-kbps", required_argument, NULL, O_RXCAP},
		{"drift-ppm", required_argument, NULL, O_DRIFT},
		{"clock-ppm", required_argument, NULL, O_CLOCK},
		{"tick-phase-ms", required_argument, NULL, O_PHASE},
		{"seed", required_argument, NULL, O_SEED},
		{"rec", required_argument, NULL, O_REC},
		{"mic-rec", required_argument, NULL, O_MIC_REC},
		{"setup-timeout", required_argument, NULL, O_SETUP},
		{"mute-send", no_argument, NULL, O_MUTE},
		{"usedtx", no_argument, NULL, O_DTX},
		{"follow-sdp", no_argument, NULL, O_FOLLOW},
		{"move", required_argument, NULL, O_MOVE},
		{"ptime", required_argument, NULL, O_PTIME},
		{"ask-kbps", required_argument, NULL, O_ASK},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double d;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case O_BRIDGE:
			snprintf(opt.bridge, sizeof(opt.bridge), "%s", optarg);
			break;
		case O_LOCAL:
			snprintf(opt.local, sizeof(opt.local), "%s", optarg);
			break;
		case O_ROOM:
			snprintf(opt.room, sizeof(opt.room), "%s", optarg);
			break;
		case O_NAME:
			snprintf(opt.name, sizeof(opt.name), "%s", optarg);
			break;
		case O_CODECS: err = parse_codecs(optarg); break;
		case O_BITRATE:
			err = num(optarg, 6000, 510000, &d);
			opt.bitrate = (uint32_t)d;
			break;
		case O_DUR: err = num(optarg, 0, 86400, &opt.duration_s);
			break;
		case O_JB: err = num(optarg, 20, 1000, &opt.jb_ms); break;
		case O_DELAY:
			err = num(optarg, 0, MAX_DELAY_MS, &opt.delay_ms);
			break;
		case O_RT60:
			err = num(optarg, 0, RT60_MAX_S, &opt.rt60_s);
			break;
		case O_DRR: err = num(optarg, -40, 60, &opt.drr_db); break;
		case O_ECHO: err = num(optarg, -1000, 20, &opt.echo_db);
			break;
		case O_NOISE:
			err = num(optarg, -1000, -6, &opt.noise_dbfs);
			break;
		case O_SPEECH: opt.speech = optarg; break;
		case O_SPEECH_AT:
			err = num(optarg, 0, 86400, &opt.speech_at_s);
			break;
		case O_SPEECH_DB:
			err = num(optarg, -100, 20, &opt.speech_db);
			break;
		case O_EVERY:
			err = num(optarg, 0, 86400, &opt.speech_every_s);
			break;
		case O_LOSS:
		case O_TXLOSS:
			err = num(optarg, 0, 90, &opt.tx_imp.loss_pct);
			break;
		case O_TXBURST:
			err = num(optarg, 1, 100, &opt.tx_imp.burst);
			break;
		case O_TXJIT:
			err = num(optarg, 0, 2000, &opt.tx_imp.jitter_ms);
			break;
		case O_TXDUP:
			err = num(optarg, 0, 90, &opt.tx_imp.dup_pct);
			break;
		case O_TXCAP:
			err = num(optarg, 0, 10000, &opt.tx_imp.cap_kbps);
			break;
		case O_RXLOSS:
			err = num(optarg, 0, 90, &opt.rx_imp.loss_pct);
			break;
		case O_RXBURST:
			err = num(optarg, 1, 100, &opt.rx_imp.burst);
			break;
		case O_RXJIT:
			err = num(optarg, 0, 2000, &opt.rx_imp.jitter_ms);
			break;
		case O_RXDUP:
			err = num(optarg, 0, 90, &opt.rx_imp.dup_pct);
			break;
		case O_RXCAP:
			err = num(optarg, 0, 10000, &opt.rx_imp.cap_kbps);
			break;
		case O_DRIFT:
			err = num(optarg, -10000, 10000, &opt.drift_ppm);
			break;
		case O_CLOCK:
			err = num(optarg, -10000, 10000, &opt.clock_ppm);
			break;
		case O_PHASE:
			err = num(optarg, 0, 20, &opt.tick_phase_ms);
			break;
		case O_SEED:
			err = num(optarg, 0, 4e9, &d);
			opt.seed = (uint64_t)d;
			break;
		case O_REC: opt.rec = optarg; break;
		case O_MIC_REC: opt.mic_rec = optarg; break;
		case O_SETUP:
			err = num(optarg, 1, 600, &opt.setup_timeout_s);
			break;
		case O_MUTE: opt.mute_send = true; break;
		case O_DTX: opt.usedtx = true; break;
		case O_FOLLOW: opt.follow_sdp = true; break;
		case O_PTIME:
			err = num(optarg, 20, LB_PTIME_MAX_MS, &d);
			if (!err && (uint32_t)d % 20)
				err = EINVAL;
			opt.ptime_ms = opt.send_ptime_ms = (uint32_t)d;
			break;
		case O_ASK:
			err = num(optarg, 6, 510, &d);
			opt.kbps = (uint32_t)d;
			break;
		case O_MOVE: {
			double at;
			unsigned pt, kb;

			if (opt.movec >= 4 ||
			    sscanf(optarg, "%lf:%u:%u", &at, &pt, &kb) != 3 ||
			    at < 0 || (pt != 20 && pt != 40 && pt != 60) ||
			    kb < 6 || kb > 510) {
				err = EINVAL;
				break;
			}
			opt.movev[opt.movec].at_s = at;
			opt.movev[opt.movec].ptime_ms = pt;
			opt.movev[opt.movec++].kbps = kb;
			break;
		}
		case 'v': opt.verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: return EINVAL;
		}
		if (err) {
			logv("bad value '%s' for --%s\n", optarg,
			     lo[c - O_BRIDGE].name);
			return EINVAL;
		}
	}
	if (optind != argc || !opt.bridge[0]) {
		logv("%s\n", optind != argc ? "unexpected arguments" :
		     "--bridge ADDR:PORT is required");
		return EINVAL;
	}
	return 0;
}

static void print_summary(void)
{
	const struct audio *a = &au;

	logv("summary: %llu frames, rx %llu pkts (late %llu, early %llu, "
	     "missing %llu frames, resyncs %llu, bad %llu, other pt %llu, "
	     "rtcp %llu, decode errors %llu), tx %llu pkts (errors %llu, "
	     "dropped %llu, skipped %llu frames), heard %.1f dBFS, "
	     "mic %.1f dBFS, echo %.1f dBFS, clipped %llu\n",
	     (unsigned long long)a->frames, (unsigned long long)a->rx_pkts,
	     (unsigned long long)a->late, (unsigned long long)a->early,
	     (unsigned long long)a->missing, (unsigned long long)a->resyncs,
	     (unsigned long long)a->rx_bad,
	     (unsigned long long)a->rx_foreign,
	     (unsigned long long)a->rtcp_rx, (unsigned long long)a->dec_err,
	     (unsigned long long)a->tx_pkts, (unsigned long long)a->tx_err,
	     (unsigned long long)(a->tx.lost + a->tx.capped),
	     (unsigned long long)a->skips,
	     db_of(a->spk_e, a->frames * FRAME),
	     db_of(a->mic_e, a->frames * FRAME),
	     db_of(a->echo_e, a->frames * FRAME),
	     (unsigned long long)a->clipped);
	if (a->follows)
		logv("followed the bridge's SDP %llu times: last %u ms, %u "
		     "bit/s%s, %u Hz\n", (unsigned long long)a->follows,
		     a->enc_prm.ptime_ms, a->enc_prm.bitrate_bps,
		     a->enc_prm.cbr ? " constant" : "",
		     a->enc_prm.max_bw_hz);
	logv("clock: t0_ns=%lld send_ptime_ms=%u jb_ms=%.0f\n",
	     (long long)a->t0_ns, a->send_frames * 20, opt.jb_ms);
	if (a->wait_n)
		logv("phase: heard packets waited %.1f ms for our tick "
		     "(%.1f..%.1f)\n", a->wait_sum_ms / (double)a->wait_n,
		     a->wait_min_ms, a->wait_max_ms);
	/* the line, on the wire (IP/UDP headers counted) */
	logv("network: tx_kbps=%.1f rx_kbps=%.1f tx_lost=%llu "
	     "tx_capped=%llu rx_lost=%llu rx_capped=%llu fec_frames=%llu "
	     "concealed=%llu rr_sent=%llu\n",
	     a->frames ? a->tx_wire_bytes * 8.0 / (a->frames * 0.020) /
	     1000 : 0, a->frames ? a->rx_wire_bytes * 8.0 /
	     (a->frames * 0.020) / 1000 : 0,
	     (unsigned long long)a->tx.lost,
	     (unsigned long long)a->tx.capped,
	     (unsigned long long)a->rx.lost,
	     (unsigned long long)a->rx.capped,
	     (unsigned long long)a->fec_frames,
	     (unsigned long long)a->concealed,
	     (unsigned long long)a->rr_sent);
}

int main(int argc, char *argv[])
{
	struct sigaction sa_sig;
	struct sa laddr;
	struct dsp_rng rng;
	char host[64];
	unsigned port;
	int err;

	if (parse_opts(argc, argv)) {
		usage(stderr);
		return 1;
	}
	if (sscanf(opt.bridge, "%63[^:]:%u", host, &port) != 2 ||
	    port == 0 || port > 65535 ||
	    sa_set_str(&bridge_sa, host, (uint16_t)port) ||
	    !is_loopback(&bridge_sa)) {
		logv("--bridge %s: want a loopback IPv4 ADDR:PORT\n",
		     opt.bridge);
		return 1;
	}
	if (sa_set_str(&laddr, opt.local, 0) || !is_loopback(&laddr)) {
		logv("--local %s: want a loopback IPv4 address\n", opt.local);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa_sig, 0, sizeof(sa_sig));
	sa_sig.sa_handler = on_signal;
	sigemptyset(&sa_sig.sa_mask);
	sigaction(SIGINT, &sa_sig, NULL);
	sigaction(SIGTERM, &sa_sig, NULL);

	/* RTP identifiers differ per process; the audio does not */
	dsp_rng_seed(&rng, (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL));
	au.ssrc = dsp_rng_u32(&rng);
	au.seq = (uint16_t)dsp_rng_u32(&rng);
	au.ts = dsp_rng_u32(&rng);
	err = prepare_audio(&au);
	if (!err)
		err = bind_pair(sa_in(&laddr), &rng);
	if (err) {
		logv("set-up: %s\n", strerror(err));
		audio_free(&au);
		return 1;
	}

	err = libre_init();
	if (err) {
		audio_free(&au);
		return 1;
	}
	if (opt.verbose)
		dbg_init(DBG_DEBUG, DBG_ALL);
	err = sip_alloc(&sip, NULL, 32, 32, 32, "lowbridge-echosite",
			exit_handler, NULL);
	if (!err)
		err = sip_transp_add(sip, SIP_TRANSP_UDP, &laddr);
	if (!err)
		err = sipsess_listen(&sess_sock, sip, 32, conn_handler, NULL);
	if (!err)
		err = invite();
	if (err) {
		logv("SIP: %s\n", strerror(err));
		exit_code = 1;
		goto out;
	}
	tmr_init(&tmr_sig);
	tmr_init(&tmr_dur);
	for (uint32_t i = 0; i < 4; i++)
		tmr_init(&tmr_move[i]);
	tmr_init(&tmr_guard);
	tmr_start(&tmr_sig, 50, sig_poll, NULL);
	tmr_start(&tmr_guard, (uint64_t)(opt.setup_timeout_s * 1000),
		  setup_timeout, NULL);
	re_main(NULL);

 out:
	audio_join();
	tmr_cancel(&tmr_sig);
	tmr_cancel(&tmr_dur);
	tmr_cancel(&tmr_guard);
	if (established)
		print_summary();
	sess = mem_deref(sess);
	sess_sock = mem_deref(sess_sock);
	if (sip)
		sip_close(sip, true);
	sip = mem_deref(sip);
	audio_free(&au);
	libre_close();
	return exit_code;
}
