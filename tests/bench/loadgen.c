/**
 * @file loadgen.c  Load generator for `make bench`: N simulated sites join
 * a room of the real bridge through SIP and exchange real Opus RTP with
 * it over loopback, while the bridge's CPU, its mixer statistics and the
 * packets it sends back are measured over a fixed window.
 *
 * Method (docs/bench.md has the long form):
 *  - Audio is encoded once at start-up: a speech loop (espeak-ng, or
 *    --speech FILE.wav) and a loop of low-level pink room noise, both
 *    with libopus VOIP 16 kHz mono, 16 kbit/s, 20 ms, in-band FEC, no
 *    DTX. Sending then costs no codec work: the generator only writes
 *    12 header bytes per packet.
 *  - K sites (--talkers, default 3) send the speech loop, each from a
 *    different offset; the other N-K send the noise loop. Every site
 *    sends 50 packets/s with its own SSRC, seq and 48 kHz timestamps.
 *  - Addressing (--addr-mode): "ips" (default) gives site i the address
 *    127.1.(i/250).(i%250+1) and one shared UDP port, so ONE socket bound
 *    to 0.0.0.0:port sends for every site (sendmmsg, source chosen per
 *    packet with IP_PKTINFO) and receives for every site (recvmmsg, the
 *    destination address tells the site). "ports" gives every site its
 *    own socket on 127.0.0.1 (costlier for the generator; a fallback).
 *  - Sites are split into --phases groups (default 4) sending 5 ms
 *    apart, as real sites are not phase-aligned.
 *  - The bridge's CPU is utime+stime of /proc/PID/stat (all threads)
 *    over the window; the mixer's tick counters and per-site packets_in
 *    come from GET /api/rooms/ID before and after the window.
 *  - Received packets are counted per site (with seq-gap loss), and the
 *    audio of the first talker and of the last listener is decoded to
 *    check that it carries sound (RMS in dBFS over the window).
 *
 * Threads: main (libre re_main: SIP, phase timers, HTTP and /proc reads),
 * rtp (all RTP I/O; never calls libre, whose mem refcounts are not
 * thread-safe in 1.1.0), watchdog (hard timeout, _exit only).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <re.h>
#include <opus.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>

extern char **environ;

enum {
	SRATE_HZ = 16000,
	FRAME_SAMPLES = 320,            /* 20 ms at 16 kHz */
	FRAME_NS = 20000000,
	TS_STEP = 960,                  /* 20 ms at the 48 kHz RTP clock */
	MAX_PKT_BYTES = 400,
	BATCH = 256,                    /* sendmmsg/recvmmsg batch */
	RX_BYTES = 1500,
	MAX_SITES = 16000,
	SITES_PER_NET = 250,
	MAX_THREADS = 64,
};

enum addr_mode { ADDR_IPS, ADDR_PORTS };
enum sip_state { SS_IDLE, SS_INVITING, SS_JOINED, SS_FAILED, SS_CLOSED };

/* Options, with their defaults. */
static struct {
	unsigned n;
	unsigned talkers;
	char sip_addr[64];
	char http_addr[64];
	char room[32];
	double warmup_s;
	double measure_s;
	long pid;
	const char *speech;
	unsigned inflight;
	enum addr_mode mode;
	unsigned phases;
	double timeout_s;
	double join_timeout_s;
	bool md_header;
	bool probe;
	bool dtx;
} opt = {
	.n = 10,
	.talkers = 3,
	.sip_addr = "127.0.0.1:5060",
	.http_addr = "127.0.0.1:8080",
	.room = "1000",
	.warmup_s = 3.0,
	.measure_s = 10.0,
	.pid = 0,
	.speech = NULL,
	.inflight = 50,
	.mode = ADDR_IPS,
	.phases = 4,
	.timeout_s = 0,
	.join_timeout_s = 30.0,
	.md_header = false,
};

/* A loop of pre-encoded Opus packets. */
struct pktloop {
	uint8_t *data;
	uint32_t *off;
	uint16_t *len;
	size_t n;
	double bytes_avg;
};

/* Counters the rtp thread copies out when asked (one per snapshot). */
struct site_snap {
	uint64_t tx;
	uint64_t rx;
	uint64_t rx_expected;
};

struct site {
	unsigned idx;
	/* set by main before the rtp thread starts, then read-only */
	struct sockaddr_in src;         /* our RTP address, as announced */
	struct sockaddr_in dst;         /* bridge RTP address (SDP answer) */
	int fd;
	int rtcp_fd;
	uint8_t pt;
	bool talker;
	uint32_t ssrc;
	uint16_t seq0;
	uint64_t sent;                  /* packets, for the sequence */
	uint32_t ts0;
	uint32_t loop_off;
	bool active;                    /* joined: the rtp thread serves it */
	OpusDecoder *dec;               /* only for the sampled sites */

	/* rtp thread only */
	uint64_t frames;
	uint64_t rx;
	bool rx_started;
	uint32_t rx_ssrc;
	uint32_t rx_base;               /* extended seq of the first packet */
	uint32_t rx_max;                /* highest extended seq */
	uint64_t rx_expected_done;      /* expected of earlier streams */
	uint32_t rx_resync;
	double dec_sumsq;
	uint64_t dec_samples;
	struct site_snap snap[2];

	/* main thread only */
	struct sipsess *sess;
	enum sip_state state;
	uint16_t scode;
	struct sa answer_addr;
};

static struct site *sitev;
static struct pktloop speech_loop, noise_loop;
static int shared_fd = -1, shared_rtcp_fd = -1;

/* rtp thread control */
static pthread_t rtp_tid;
static bool rtp_running;
static atomic_int rtp_stop;
static atomic_int snap_req;             /* 0 none, 1 = snap[0], 2 = snap[1] */
static atomic_int snap_done;
static atomic_int decode_on;
static struct timespec snap_time[2];
static uint64_t gen_late_wakeups, gen_skips, gen_max_late_ns;
static uint64_t tx_errors, rx_foreign, rtcp_rx;
static bool rtp_fifo;

/* main thread state */
static struct sip *sip;
static struct sipsess_sock *sess_sock;
static struct sa bridge_sip;
static unsigned next_invite, inflight, n_joined, n_failed, n_bye_rx;
static struct tmr tmr_phase, tmr_guard;
static struct timespec t_join0, t_join1;
static int exit_code;

/* ---- small helpers ---- */

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
		(double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

static void now_mono(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static void ts_add_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec += ns % 1000000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static uint32_t rnd32(void)
{
	static uint64_t s;

	if (!s)
		s = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^
			(uint64_t)time(NULL) << 20;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)(s >> 16);
}

static void logv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logv(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- audio preparation (start-up only) ---- */

static int read_wav_16k(const char *path, int16_t **sampvp, size_t *sampcp)
{
	SF_INFO info;
	SNDFILE *sf;
	float *in = NULL;
	int16_t *mono = NULL, *out = NULL;
	size_t frames, i;
	spx_uint32_t in_len, out_len;
	SpeexResamplerState *rs = NULL;
	int err = 0, serr;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		logv("cannot read %s: %s\n", path, sf_strerror(NULL));
		return ENOENT;
	}
	if (info.frames <= 0 || info.channels <= 0 ||
	    info.frames > 48000 * 600) {
		err = EINVAL;
		goto out;
	}
	frames = (size_t)info.frames;
	in = malloc(frames * (size_t)info.channels * sizeof(*in));
	mono = malloc(frames * sizeof(*mono));
	out = malloc((frames * SRATE_HZ / (size_t)info.samplerate + 16) *
		     sizeof(*out));
	if (!in || !mono || !out) {
		err = ENOMEM;
		goto out;
	}
	frames = (size_t)sf_readf_float(sf, in, (sf_count_t)frames);
	for (i = 0; i < frames; i++) {
		float acc = 0;
		int c;

		for (c = 0; c < info.channels; c++)
			acc += in[i * (size_t)info.channels + (size_t)c];
		acc /= (float)info.channels;
		acc = acc > 1.f ? 1.f : acc < -1.f ? -1.f : acc;
		mono[i] = (int16_t)lrintf(acc * 32767.f);
	}
	if (info.samplerate == SRATE_HZ) {
		memcpy(out, mono, frames * sizeof(*out));
		*sampcp = frames;
	}
	else {
		rs = speex_resampler_init(1, (spx_uint32_t)info.samplerate,
					  SRATE_HZ, 5, &serr);
		if (!rs) {
			err = EINVAL;
			goto out;
		}
		speex_resampler_skip_zeros(rs);
		in_len = (spx_uint32_t)frames;
		out_len = (spx_uint32_t)(frames * SRATE_HZ /
					 (size_t)info.samplerate + 16);
		speex_resampler_process_int(rs, 0, mono, &in_len, out,
					    &out_len);
		*sampcp = out_len;
	}
	*sampvp = out;
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

/* espeak-ng into a temp WAV when no --speech file is given. */
static int make_speech(int16_t **sampvp, size_t *sampcp)
{
	static const char text[] =
		"Good morning everyone, and thank you for joining the call. "
		"Let us start with the status of the first item on the list. "
		"The new release went out on Tuesday, and so far we have "
		"seen only two small problems, both fixed the same evening. "
		"Next, the budget. We are slightly under plan for the "
		"quarter, mostly because the hardware order was delayed. "
		"Are there any questions about that? No? Then let us move "
		"on to the schedule for the next three weeks.";
	char path[] = "/tmp/lbench-speech-XXXXXX";
	char *argv[] = {"espeak-ng", "-v", "en-us", "-s", "150", "-w", path,
			(char *)text, NULL};
	pid_t child;
	int fd, st = 0, err;

	fd = mkstemp(path);
	if (fd < 0)
		return errno;
	close(fd);
	err = posix_spawnp(&child, "espeak-ng", NULL, NULL, argv, environ);
	if (err) {
		unlink(path);
		return err;
	}
	waitpid(child, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		unlink(path);
		return ECHILD;
	}
	err = read_wav_16k(path, sampvp, sampcp);
	unlink(path);
	return err;
}

/* Fallback speech-like signal: voiced harmonics with a syllable rhythm. */
static void synth_speech(int16_t **sampvp, size_t *sampcp)
{
	size_t n = SRATE_HZ * 20, i;
	int16_t *v = malloc(n * sizeof(*v));
	double ph = 0;

	if (!v) {
		*sampvp = NULL;
		*sampcp = 0;
		return;
	}
	for (i = 0; i < n; i++) {
		double t = (double)i / SRATE_HZ;
		double f0 = 120 + 30 * sin(2 * M_PI * 0.7 * t);
		double env = sin(M_PI * fmod(t * 4.0, 1.0));
		double s = 0;
		int h;

		ph += 2 * M_PI * f0 / SRATE_HZ;
		for (h = 1; h <= 12; h++)
			s += sin(ph * h) / h;
		if (fmod(t, 5.0) > 4.2)
			env = 0;
		v[i] = (int16_t)lrint(3000 * env * env * s);
	}
	*sampvp = v;
	*sampcp = n;
}

/* Low-level pink noise (Paul Kellet's economy filter), seeded. */
static void synth_noise(int16_t *v, size_t n, double rms_dbfs)
{
	double b0 = 0, b1 = 0, b2 = 0, sumsq = 0, g;
	double *tmp = malloc(n * sizeof(*tmp));
	uint32_t s = 12345;
	size_t i;

	if (!tmp)
		return;
	for (i = 0; i < n; i++) {
		double w;

		s = s * 1664525u + 1013904223u;
		w = (double)(int32_t)s / 2147483648.0;
		b0 = 0.99765 * b0 + w * 0.0990460;
		b1 = 0.96300 * b1 + w * 0.2965164;
		b2 = 0.57000 * b2 + w * 1.0526913;
		tmp[i] = b0 + b1 + b2 + w * 0.1848;
		sumsq += tmp[i] * tmp[i];
	}
	g = 32768.0 * pow(10, rms_dbfs / 20) / sqrt(sumsq / (double)n);
	for (i = 0; i < n; i++)
		v[i] = (int16_t)lrint(tmp[i] * g);
	free(tmp);
}

static int encode_loop(struct pktloop *pl, const int16_t *sampv,
		       size_t sampc, bool dtx)
{
	OpusEncoder *enc;
	size_t frames = sampc / FRAME_SAMPLES, i, total = 0;
	int oerr, ret;

	enc = opus_encoder_create(SRATE_HZ, 1, OPUS_APPLICATION_VOIP, &oerr);
	if (!enc)
		return ENOMEM;
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(16000));
	opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(5));
	opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(10));
	opus_encoder_ctl(enc, OPUS_SET_DTX(dtx));
	opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	pl->data = malloc(frames * MAX_PKT_BYTES);
	pl->off = malloc(frames * sizeof(*pl->off));
	pl->len = malloc(frames * sizeof(*pl->len));
	if (!pl->data || !pl->off || !pl->len || !frames) {
		opus_encoder_destroy(enc);
		return ENOMEM;
	}
	for (i = 0; i < frames; i++) {
		ret = opus_encode(enc, sampv + i * FRAME_SAMPLES,
				  FRAME_SAMPLES, pl->data + total,
				  MAX_PKT_BYTES);
		if (ret <= 0) {
			opus_encoder_destroy(enc);
			return EPROTO;
		}
		pl->off[i] = (uint32_t)total;
		pl->len[i] = (uint16_t)ret;
		total += (size_t)ret;
	}
	pl->n = frames;
	pl->bytes_avg = (double)total / (double)frames;
	opus_encoder_destroy(enc);
	return 0;
}

static double level_dbfs(const int16_t *v, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	return 10 * log10(s / (double)(n ? n : 1) / (32768.0 * 32768.0) +
			  1e-12);
}

static int prepare_audio(void)
{
	int16_t *speech = NULL, *noise;
	size_t speechc = 0, noisec = SRATE_HZ * 10;
	const char *src;
	int err;

	if (opt.speech) {
		err = read_wav_16k(opt.speech, &speech, &speechc);
		src = opt.speech;
	}
	else {
		err = make_speech(&speech, &speechc);
		src = "espeak-ng";
	}
	if (err || speechc < SRATE_HZ) {
		logv("no speech (%s), using a synthetic voice-like signal\n",
		     strerror(err ? err : EINVAL));
		free(speech);
		synth_speech(&speech, &speechc);
		src = "synthetic";
	}
	if (!speech)
		return ENOMEM;
	noise = malloc(noisec * sizeof(*noise));
	if (!noise) {
		free(speech);
		return ENOMEM;
	}
	synth_noise(noise, noisec, -55.0);
	err = encode_loop(&speech_loop, speech, speechc, false);
	if (!err)
		err = encode_loop(&noise_loop, noise, noisec, opt.dtx);
	if (!err)
		logv("speech loop: %s, %.1f s, %.1f dBFS, %.1f B/pkt; "
		     "noise loop: %.1f s, %.1f dBFS, %.1f B/pkt\n", src,
		     (double)speechc / SRATE_HZ,
		     level_dbfs(speech, speechc), speech_loop.bytes_avg,
		     (double)noisec / SRATE_HZ, level_dbfs(noise, noisec),
		     noise_loop.bytes_avg);
	free(speech);
	free(noise);
	return err;
}

/* ---- RTP sockets ---- */

static int udp_socket_bound(uint32_t ip_host, uint16_t port, bool pktinfo)
{
	struct sockaddr_in a;
	int fd, one = 1, buf = 8 << 20;

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
	if (pktinfo)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	/* Large buffers: as root beyond rmem_max, else best effort. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

static uint16_t fd_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l))
		return 0;
	return ntohs(a.sin_port);
}

/* An RTP/RTCP pair of sockets on an even port; 0 or errno. The ports
 * come from 61000-64999: above Linux's ephemeral range (ends at 60999)
 * and away from the bridge's default rtp_ports (20000-29999). */
static int bind_pair(uint32_t ip_host, bool pktinfo, int *rtp, int *rtcp)
{
	int tries;

	for (tries = 0; tries < 400; tries++) {
		uint16_t port = (uint16_t)(61000 + 2 * (rnd32() % 2000));

		*rtp = udp_socket_bound(ip_host, port, pktinfo);
		if (*rtp < 0)
			continue;
		*rtcp = udp_socket_bound(ip_host, port + 1, false);
		if (*rtcp >= 0)
			return 0;
		close(*rtp);
	}
	return EADDRINUSE;
}

static uint32_t site_ip(unsigned i)
{
	return (127u << 24) | (1u << 16) | ((i / SITES_PER_NET) << 8) |
		(i % SITES_PER_NET + 1);
}

static int setup_sites(void)
{
	unsigned i;
	int err;
	uint16_t port = 0;

	sitev = calloc(opt.n, sizeof(*sitev));
	if (!sitev)
		return ENOMEM;
	if (opt.mode == ADDR_IPS) {
		err = bind_pair(INADDR_ANY, true, &shared_fd, &shared_rtcp_fd);
		if (err)
			return err;
		port = fd_port(shared_fd);
	}
	for (i = 0; i < opt.n; i++) {
		struct site *s = &sitev[i];

		s->idx = i;
		s->src.sin_family = AF_INET;
		if (opt.mode == ADDR_IPS) {
			s->fd = shared_fd;
			s->rtcp_fd = -1;
			s->src.sin_addr.s_addr = htonl(site_ip(i));
			s->src.sin_port = htons(port);
		}
		else {
			err = bind_pair(INADDR_LOOPBACK, false, &s->fd,
					&s->rtcp_fd);
			if (err) {
				logv("site %u: no port pair: %s\n", i,
				     strerror(err));
				return err;
			}
			s->src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s->src.sin_port = htons(fd_port(s->fd));
		}
		s->talker = i < opt.talkers;
		s->ssrc = rnd32();
		s->seq0 = (uint16_t)rnd32();
		s->ts0 = rnd32();
		s->pt = 111;
		if (s->talker)
			s->loop_off = (uint32_t)(speech_loop.n * i /
						 (opt.talkers ? opt.talkers :
						  1));
		else
			s->loop_off = rnd32() % (uint32_t)noise_loop.n;
	}
	return 0;
}

/* Decode what the first talker and the last joined listener hear. */
static unsigned lis_idx;

static void pick_sampled_sites(void)
{
	unsigned i;
	int oerr;

	lis_idx = 0;
	for (i = opt.n; i-- > 1;) {
		if (sitev[i].active && (!sitev[i].talker || !lis_idx))
			lis_idx = i;
		if (lis_idx && !sitev[lis_idx].talker)
			break;
	}
	if (sitev[0].active)
		sitev[0].dec = opus_decoder_create(SRATE_HZ, 1, &oerr);
	if (lis_idx)
		sitev[lis_idx].dec = opus_decoder_create(SRATE_HZ, 1, &oerr);
}

/* ---- RTP thread ---- */

static void rx_packet(struct site *s, const uint8_t *p, size_t len)
{
	uint16_t seq;
	uint32_t ssrc, ext;
	size_t hl;

	if (len < 12 || (p[0] >> 6) != 2)
		return;
	if (p[1] >= 200 && p[1] <= 204) {       /* RTCP on the RTP port */
		rtcp_rx++;
		return;
	}
	s->rx++;
	seq = (uint16_t)(p[2] << 8 | p[3]);
	ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
		(uint32_t)p[10] << 8 | p[11];
	if (!s->rx_started || ssrc != s->rx_ssrc) {
		if (s->rx_started) {
			s->rx_expected_done += s->rx_max - s->rx_base + 1;
			s->rx_resync++;
		}
		s->rx_started = true;
		s->rx_ssrc = ssrc;
		s->rx_base = seq;
		s->rx_max = seq;
	}
	else {
		uint16_t d = (uint16_t)(seq - (uint16_t)s->rx_max);

		if (d != 0 && d < 3000) {
			ext = s->rx_max + d;
			s->rx_max = ext;
		}
		else if (d >= 3000 && d < 65536 - 100) {
			/* A jump: a new stream under the same SSRC. */
			s->rx_expected_done += s->rx_max - s->rx_base + 1;
			s->rx_resync++;
			s->rx_base = seq;
			s->rx_max = seq;
		}
	}
	if (!s->dec || !atomic_load_explicit(&decode_on, memory_order_relaxed))
		return;
	hl = 12 + 4u * (p[0] & 0x0f);
	if ((p[0] & 0x10) && len >= hl + 4)
		hl += 4 + 4u * (size_t)(p[hl + 2] << 8 | p[hl + 3]);
	if (len > hl) {
		int16_t pcm[FRAME_SAMPLES * 6];
		int n, k;
		size_t plen = len - hl;

		if (p[0] & 0x20)
			plen -= p[len - 1] < plen ? p[len - 1] : plen;
		n = opus_decode(s->dec, p + hl, (opus_int32)plen, pcm,
				FRAME_SAMPLES * 6, 0);
		for (k = 0; k < n; k++)
			s->dec_sumsq += (double)pcm[k] * pcm[k];
		if (n > 0)
			s->dec_samples += (uint64_t)n;
	}
}

static struct site *site_by_addr(const struct in_addr *a)
{
	uint32_t ip = ntohl(a->s_addr);
	unsigned hi = (ip >> 8) & 0xff, lo = ip & 0xff, i;

	if ((ip >> 16) != ((127u << 8) | 1u) || lo == 0 ||
	    lo > SITES_PER_NET)
		return NULL;
	i = hi * SITES_PER_NET + lo - 1;
	return i < opt.n ? &sitev[i] : NULL;
}

static uint8_t rx_buf[BATCH][RX_BYTES];
static char rx_ctl[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];

static void rx_drain_fd(int fd, struct site *own)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in from[BATCH];
	int n, k;

	for (;;) {
		for (k = 0; k < BATCH; k++) {
			iov[k].iov_base = rx_buf[k];
			iov[k].iov_len = RX_BYTES;
			memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			msgs[k].msg_hdr.msg_name = &from[k];
			msgs[k].msg_hdr.msg_namelen = sizeof(from[k]);
			if (!own) {
				msgs[k].msg_hdr.msg_control = rx_ctl[k];
				msgs[k].msg_hdr.msg_controllen =
					sizeof(rx_ctl[k]);
			}
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (k = 0; k < n; k++) {
			struct site *s = own;
			struct cmsghdr *c;

			if (!s) {
				for (c = CMSG_FIRSTHDR(&msgs[k].msg_hdr); c;
				     c = CMSG_NXTHDR(&msgs[k].msg_hdr, c)) {
					struct in_pktinfo pi;

					if (c->cmsg_level != IPPROTO_IP ||
					    c->cmsg_type != IP_PKTINFO)
						continue;
					memcpy(&pi, CMSG_DATA(c), sizeof(pi));
					s = site_by_addr(&pi.ipi_addr);
				}
			}
			if (!s || !s->active) {
				rx_foreign++;
				continue;
			}
			rx_packet(s, rx_buf[k], msgs[k].msg_len);
		}
		if (n < BATCH)
			return;
	}
}

static void rtcp_drain(int fd)
{
	uint8_t b[RX_BYTES];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		rtcp_rx++;
}

static void build_hdr(uint8_t *h, const struct site *s, uint64_t f)
{
	/* frames left out by DTX take no sequence number (RFC 7587 3.1.3:
	 * the receiver sees a timestamp jump, not a loss) */
	uint16_t seq = (uint16_t)(s->seq0 + s->sent);
	uint32_t ts = s->ts0 + (uint32_t)(f * TS_STEP);

	h[0] = 0x80;
	h[1] = (uint8_t)((f == 0 ? 0x80 : 0) | (s->pt & 0x7f));
	h[2] = (uint8_t)(seq >> 8);
	h[3] = (uint8_t)seq;
	h[4] = (uint8_t)(ts >> 24);
	h[5] = (uint8_t)(ts >> 16);
	h[6] = (uint8_t)(ts >> 8);
	h[7] = (uint8_t)ts;
	h[8] = (uint8_t)(s->ssrc >> 24);
	h[9] = (uint8_t)(s->ssrc >> 16);
	h[10] = (uint8_t)(s->ssrc >> 8);
	h[11] = (uint8_t)s->ssrc;
}

static void payload_of(const struct site *s, uint64_t f, const uint8_t **p,
		       size_t *len)
{
	const struct pktloop *pl = s->talker ? &speech_loop : &noise_loop;
	size_t k = (size_t)((s->loop_off + f) % pl->n);

	*p = pl->data + pl->off[k];
	*len = pl->len[k];
}

static uint8_t tx_hdr[BATCH][12];
static char tx_ctl[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];

static void tx_flush(int fd, struct mmsghdr *msgs, int n)
{
	int done = 0, r;

	while (done < n) {
		r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			tx_errors += (uint64_t)(n - done);
			return;
		}
		done += r;
	}
}

/* Send one frame for every active site of phase group g. */
static void tx_group(unsigned g)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH][2];
	unsigned i;
	int n = 0;

	for (i = g; i < opt.n; i += opt.phases) {
		struct site *s = &sitev[i];
		const uint8_t *p;
		size_t len;
		uint64_t f = s->frames++;

		if (!s->active)
			continue;
		payload_of(s, f, &p, &len);
		/* DTX: what the encoder made 2 bytes or less stays home */
		if (len <= 2)
			continue;
		if (opt.mode == ADDR_PORTS) {
			uint8_t h[12 + MAX_PKT_BYTES];

			build_hdr(h, s, f);
			s->sent++;
			memcpy(h + 12, p, len);
			if (sendto(s->fd, h, 12 + len, 0,
				   (struct sockaddr *)&s->dst,
				   sizeof(s->dst)) < 0)
				tx_errors++;
			continue;
		}
		build_hdr(tx_hdr[n], s, f);
		s->sent++;
		iov[n][0].iov_base = tx_hdr[n];
		iov[n][0].iov_len = 12;
		iov[n][1].iov_base = (void *)(uintptr_t)p;
		iov[n][1].iov_len = len;
		memset(&msgs[n].msg_hdr, 0, sizeof(msgs[n].msg_hdr));
		msgs[n].msg_hdr.msg_name = &s->dst;
		msgs[n].msg_hdr.msg_namelen = sizeof(s->dst);
		msgs[n].msg_hdr.msg_iov = iov[n];
		msgs[n].msg_hdr.msg_iovlen = 2;
		{
			struct cmsghdr *c;
			struct in_pktinfo pi;

			msgs[n].msg_hdr.msg_control = tx_ctl[n];
			msgs[n].msg_hdr.msg_controllen = sizeof(tx_ctl[n]);
			c = CMSG_FIRSTHDR(&msgs[n].msg_hdr);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memset(&pi, 0, sizeof(pi));
			pi.ipi_spec_dst = s->src.sin_addr;
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
		if (++n == BATCH) {
			tx_flush(shared_fd, msgs, n);
			n = 0;
		}
	}
	if (n)
		tx_flush(shared_fd, msgs, n);
}

static void rx_all(bool with_rtcp)
{
	unsigned i;

	if (opt.mode == ADDR_IPS) {
		rx_drain_fd(shared_fd, NULL);
		if (with_rtcp)
			rtcp_drain(shared_rtcp_fd);
		return;
	}
	for (i = 0; i < opt.n; i++) {
		if (sitev[i].fd < 0)
			continue;
		rx_drain_fd(sitev[i].fd, &sitev[i]);
		if (with_rtcp)
			rtcp_drain(sitev[i].rtcp_fd);
	}
}

static void take_snap(int k)
{
	unsigned i;

	now_mono(&snap_time[k]);
	if (k == 0)
		gen_max_late_ns = 0;
	for (i = 0; i < opt.n; i++) {
		struct site *s = &sitev[i];

		s->snap[k].tx = s->frames;
		s->snap[k].rx = s->rx;
		s->snap[k].rx_expected = s->rx_expected_done +
			(s->rx_started ? s->rx_max - s->rx_base + 1 : 0);
	}
}

static void *rtp_main(void *arg)
{
	const int64_t phase_ns = FRAME_NS / (int64_t)opt.phases;
	struct timespec next, now;
	uint64_t j;

	(void)arg;
	/* The lowest real-time priority keeps the sending clock honest when
	 * the bridge saturates the cores; the generator's own CPU is small
	 * and bounded (it is reported). Without the privilege: best effort. */
	{
		struct sched_param sp = {.sched_priority = 1};

		rtp_fifo = !pthread_setschedparam(pthread_self(), SCHED_FIFO,
						  &sp);
	}
	now_mono(&next);
	for (j = 0; !atomic_load(&rtp_stop); j++) {
		unsigned g = (unsigned)(j % opt.phases);
		int64_t late;
		int req;

		ts_add_ns(&next, phase_ns);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		now_mono(&now);
		late = (int64_t)(ts_diff(&next, &now) * 1e9);
		if (late > 5000000)
			gen_late_wakeups++;
		if (late > 0 && (uint64_t)late > gen_max_late_ns)
			gen_max_late_ns = (uint64_t)late;
		if (late > 200000000 && g == 0) {
			/* Far behind: skip ahead rather than burst. */
			uint64_t skip = (uint64_t)late / FRAME_NS;
			unsigned i;

			for (i = 0; i < opt.n; i++)
				sitev[i].frames += skip;
			ts_add_ns(&next, (int64_t)skip * FRAME_NS);
			gen_skips += skip;
		}
		req = atomic_load(&snap_req);
		if (req && atomic_load(&snap_done) != req) {
			rx_all(false);
			take_snap(req - 1);
			atomic_store(&decode_on, req == 1);
			atomic_store(&snap_done, req);
		}
		if (opt.mode == ADDR_IPS || g == 0)
			rx_all(g == 0);
		tx_group(g);
	}
	return NULL;
}

/* ---- measurement helpers (main thread) ---- */

static int proc_cpu_ticks(long pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return EINVAL;
	*ticks = ut + st;
	return 0;
}

struct thr_cpu {
	int tid;
	char comm[32];
	uint64_t ticks;
};

static size_t proc_threads(long pid, struct thr_cpu *tv, size_t max)
{
	char path[320], buf[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		unsigned long ut, st;
		char *p, *q;
		FILE *f;
		size_t r;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/stat", pid,
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		r = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[r] = 0;
		p = strchr(buf, '(');
		q = strrchr(buf, ')');
		if (!p || !q || q < p ||
		    sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			   "%*u %lu %lu", &ut, &st) != 2)
			continue;
		tv[n].tid = atoi(de->d_name);
		snprintf(tv[n].comm, sizeof(tv[n].comm), "%.*s",
			 (int)(q - p - 1), p + 1);
		tv[n].ticks = ut + st;
		n++;
	}
	closedir(d);
	return n;
}

static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000 +
		(uint64_t)ru.ru_utime.tv_usec +
		(uint64_t)ru.ru_stime.tv_sec * 1000000 +
		(uint64_t)ru.ru_stime.tv_usec;
}

static void host_cpu(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

struct api_stats {
	bool ok;
	uint64_t ticks;
	uint64_t late;
	uint64_t shed;
	uint64_t pkts_in;
	uint64_t pkts_out;
	unsigned sites;
	/* shown on stderr only; 0 when the bridge does not report them */
	uint64_t encodes;
	uint64_t unknown_src;
	uint64_t talkers;
	uint64_t max_tick_us;
	/* the mixer's tick phases (room JSON mixer.phases): average since
	 * the bridge started and the worst of the last 5 s, in us */
	unsigned nph;
	char ph_name[12][16];
	double ph_avg[12], ph_max[12];
	struct timespec t;
};

static bool json_u64(const char *from, const char *end, const char *key,
		     uint64_t *v, const char **after)
{
	const char *p = from;
	size_t kl = strlen(key);

	while ((p = strstr(p, key)) && p < end) {
		const char *q = p + kl;
		char *e;

		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q != ':') {
			p += kl;
			continue;
		}
		q++;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		*v = strtoull(q, &e, 10);
		if (e == q)
			return false;
		if (after)
			*after = e;
		return true;
	}
	return false;
}

/* "phases":{"NAME":{"avg_us":A,"max_us":M},...} */
static void phases_parse(struct api_stats *st, const char *from,
			 const char *end)
{
	const char *p = strstr(from, "\"phases\":{");

	st->nph = 0;
	if (!p || p >= end)
		return;
	p += 10;
	while (st->nph < 12 && *p == '"') {
		const char *q = strchr(p + 1, '"');
		size_t l;

		if (!q || q - p - 1 >= 16)
			return;
		l = (size_t)(q - p - 1);
		memcpy(st->ph_name[st->nph], p + 1, l);
		st->ph_name[st->nph][l] = 0;
		if (sscanf(q, "\":{\"avg_us\":%lf,\"max_us\":%lf}",
			   &st->ph_avg[st->nph], &st->ph_max[st->nph]) != 2)
			return;
		st->nph++;
		p = strchr(q, '}');
		if (!p || p[1] != ',')
			return;
		p += 2;
	}
}

/* GET /api/rooms/ID over a blocking socket with 3 s timeouts. */
static int api_get(struct api_stats *st)
{
	struct timeval tv = {3, 0};
	struct sockaddr_in a;
	char host[64], req[256], *buf = NULL, *body, *p;
	size_t cap = 1 << 20, len = 0;
	unsigned port;
	int fd, err = 0;
	ssize_t r;
	const char *mix, *sites, *end;

	memset(st, 0, sizeof(*st));
	if (sscanf(opt.http_addr, "%63[^:]:%u", host, &port) != 2)
		return EINVAL;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = errno;
		goto out;
	}
	snprintf(req, sizeof(req), "GET /api/rooms/%s HTTP/1.1\r\n"
		 "Host: %s\r\nConnection: close\r\n\r\n", opt.room,
		 opt.http_addr);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		err = EIO;
		goto out;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			char *nb = cap < (64u << 20) ?
				realloc(buf, cap * 2 + 1) : NULL;

			if (!nb) {
				err = EMSGSIZE;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = 0;
		body = strstr(buf, "\r\n\r\n");
		if (body) {
			const char *h = strcasestr(buf, "\r\ncontent-length:");

			if (h && h < body &&
			    len >= (size_t)(body + 4 - buf) +
			    strtoull(h + 17, NULL, 10))
				break;
		}
	}
	now_mono(&st->t);
	buf[len] = 0;
	if (strncmp(buf, "HTTP/1.", 7) || atoi(buf + 9) != 200) {
		logv("GET /api/rooms/%s: %.60s\n", opt.room, buf);
		err = EPROTO;
		goto out;
	}
	body = strstr(buf, "\r\n\r\n");
	if (!body) {
		err = EPROTO;
		goto out;
	}
	end = buf + len;
	mix = strstr(body, "\"mixer\"");
	if (!mix || !json_u64(mix, end, "\"ticks\"", &st->ticks, NULL) ||
	    !json_u64(mix, end, "\"late_ticks\"", &st->late, NULL)) {
		logv("API answer has no mixer ticks/late_ticks\n");
		err = EPROTO;
		goto out;
	}
	phases_parse(st, mix, end);
	(void)json_u64(mix, end, "\"shed_ticks\"", &st->shed, NULL);
	(void)json_u64(mix, end, "\"encodes\"", &st->encodes, NULL);
	(void)json_u64(mix, end, "\"talkers\"", &st->talkers, NULL);
	(void)json_u64(mix, end, "\"max_tick_us\"", &st->max_tick_us, NULL);
	(void)json_u64(body, end, "\"unknown_source\"", &st->unknown_src,
		       NULL);
	sites = strstr(body, "\"sites\"");
	p = (char *)sites;
	while (p) {
		uint64_t v;
		const char *after;

		if (!json_u64(p, end, "\"packets_in\"", &v, &after))
			break;
		st->pkts_in += v;
		st->sites++;
		p = (char *)after;
	}
	p = (char *)sites;
	while (p) {
		uint64_t v;
		const char *after;

		if (!json_u64(p, end, "\"packets_out\"", &v, &after))
			break;
		st->pkts_out += v;
		p = (char *)after;
	}
	st->ok = true;
 out:
	free(buf);
	close(fd);
	return err;
}

/* ---- the measurement window ---- */

static struct {
	struct api_stats api[2];
	uint64_t bridge_ticks[2];
	bool bridge_ok[2];
	struct timespec bridge_t[2];
	uint64_t self_us[2];
	struct timespec self_t[2];
	uint64_t host_busy[2], host_total[2];
	struct thr_cpu thr[2][MAX_THREADS];
	size_t thrc[2];
	uint64_t late_wk0, skips0, txerr0;
} win;

static void wait_snap(int k)
{
	struct timespec d = {0, 1000000};
	int i;

	atomic_store(&snap_req, k);
	for (i = 0; i < 2000 && atomic_load(&snap_done) != k; i++)
		nanosleep(&d, NULL);
}

static void measure_point(int k)
{
	if (k == 1)
		wait_snap(2);
	if (api_get(&win.api[k]))
		logv("API stats %s window: unavailable\n",
		     k ? "after" : "before");
	if (opt.pid) {
		win.bridge_ok[k] = !proc_cpu_ticks(opt.pid,
						   &win.bridge_ticks[k]);
		now_mono(&win.bridge_t[k]);
		win.thrc[k] = proc_threads(opt.pid, win.thr[k], MAX_THREADS);
	}
	win.self_us[k] = self_cpu_us();
	now_mono(&win.self_t[k]);
	host_cpu(&win.host_busy[k], &win.host_total[k]);
	if (k == 0) {
		wait_snap(1);
		win.late_wk0 = gen_late_wakeups;
		win.skips0 = gen_skips;
		win.txerr0 = tx_errors;
	}
}

static double pct(double a, double b)
{
	return b > 0 ? 100.0 * a / b : NAN;
}

static void print_threads(double dt, double hz)
{
	size_t i, j;

	for (i = 0; i < win.thrc[1]; i++) {
		uint64_t t0 = 0;

		for (j = 0; j < win.thrc[0]; j++)
			if (win.thr[0][j].tid == win.thr[1][i].tid)
				t0 = win.thr[0][j].ticks;
		if (win.thr[1][i].ticks == t0)
			continue;
		logv("  bridge thread %d %-16s %6.1f%% of a core\n",
		     win.thr[1][i].tid, win.thr[1][i].comm,
		     pct((double)(win.thr[1][i].ticks - t0) / hz, dt));
	}
}

static void report(void)
{
	const double hz = (double)sysconf(_SC_CLK_TCK);
	double dt_rx = ts_diff(&snap_time[0], &snap_time[1]);
	double dt_br = ts_diff(&win.bridge_t[0], &win.bridge_t[1]);
	double dt_self = ts_diff(&win.self_t[0], &win.self_t[1]);
	double dt_api = ts_diff(&win.api[0].t, &win.api[1].t);
	double br_ms = NAN, br_core = NAN, late = NAN, in_pps = NAN;
	double out_pps, out_min = 1e9, loss, gen_core, host_busy;
	double tx_pps, talk_db = NAN, lis_db = NAN, api_out_pps = NAN;
	uint64_t rx = 0, exp = 0, tx = 0;
	unsigned i, active = 0, silent = 0, resyncs = 0;
	unsigned lis = lis_idx;

	for (i = 0; i < opt.n; i++) {
		const struct site *s = &sitev[i];
		uint64_t d;

		if (!s->active)
			continue;
		active++;
		d = s->snap[1].rx - s->snap[0].rx;
		rx += d;
		exp += s->snap[1].rx_expected - s->snap[0].rx_expected;
		tx += s->snap[1].tx - s->snap[0].tx;
		if ((double)d / dt_rx < out_min)
			out_min = (double)d / dt_rx;
		if (!d)
			silent++;
		resyncs += s->rx_resync;
	}
	if (!active)
		active = 1;
	out_pps = (double)rx / dt_rx / active;
	tx_pps = (double)tx / dt_rx / active;
	loss = exp ? pct((double)(exp > rx ? exp - rx : 0), (double)exp) : 0;
	if (win.bridge_ok[0] && win.bridge_ok[1]) {
		double ms = (double)(win.bridge_ticks[1] -
				     win.bridge_ticks[0]) / hz * 1000.0;

		br_ms = ms / dt_br / active;
		br_core = ms / 10.0 / dt_br;
	}
	if (win.api[0].ok && win.api[1].ok) {
		uint64_t dtk = win.api[1].ticks - win.api[0].ticks;

		late = pct((double)(win.api[1].late - win.api[0].late),
			   (double)dtk);
		in_pps = (double)(win.api[1].pkts_in - win.api[0].pkts_in) /
			dt_api / active;
		api_out_pps = (double)(win.api[1].pkts_out -
				       win.api[0].pkts_out) / dt_api / active;
		logv("mixer: %llu ticks in %.2f s (%.1f/s), %llu late, "
		     "%llu short of time, "
		     "%.1f encodes/tick, %llu talkers, longest tick ever "
		     "%llu us; API lists %u sites, %llu packets from "
		     "unknown sources\n",
		     (unsigned long long)dtk, dt_api, (double)dtk / dt_api,
		     (unsigned long long)(win.api[1].late - win.api[0].late),
		     (unsigned long long)(win.api[1].shed - win.api[0].shed),
		     dtk ? (double)(win.api[1].encodes -
				    win.api[0].encodes) / (double)dtk : 0.0,
		     (unsigned long long)win.api[1].talkers,
		     (unsigned long long)win.api[1].max_tick_us,
		     win.api[1].sites,
		     (unsigned long long)win.api[1].unknown_src);
	}
	gen_core = pct((double)(win.self_us[1] - win.self_us[0]) / 1e6,
		       dt_self);
	host_busy = pct((double)(win.host_busy[1] - win.host_busy[0]),
			(double)(win.host_total[1] - win.host_total[0]));
	if (sitev[0].dec && sitev[0].dec_samples)
		talk_db = 10 * log10(sitev[0].dec_sumsq /
				     (double)sitev[0].dec_samples /
				     (32768.0 * 32768.0) + 1e-12);
	if (lis != 0 && sitev[lis].dec && sitev[lis].dec_samples)
		lis_db = 10 * log10(sitev[lis].dec_sumsq /
				    (double)sitev[lis].dec_samples /
				    (32768.0 * 32768.0) + 1e-12);

	logv("window %.2f s, %u sites active (%u joined, %u failed, "
	     "%u hung up by the bridge)\n", dt_rx, active, n_joined, n_failed,
	     n_bye_rx);
	logv("sent %.2f pkt/s/site; bridge sent %.2f pkt/s/site "
	     "(API %.2f), min %.2f, %u sites got nothing; loss %.2f%%, "
	     "stream resyncs %u\n", tx_pps, out_pps, api_out_pps,
	     out_min, silent, loss,
	     resyncs);
	logv("heard: talker 0 %.1f dBFS, listener %u %.1f dBFS "
	     "(decoded at 16 kHz over the window)\n", talk_db, lis, lis_db);
	if (!(talk_db > -45) || !(lis_db > -45))
		logv("WARNING: a sampled site hears no speech (below -45 "
		     "dBFS): the bridge's mix is not reaching the sites\n");
	logv("generator: %.1f%% of a core, %llu late wake-ups (>5 ms), max "
	     "%.1f ms, %llu frames skipped, %llu send errors, %llu rtcp, "
	     "%llu foreign, %s\n", gen_core,
	     (unsigned long long)(gen_late_wakeups - win.late_wk0),
	     (double)gen_max_late_ns / 1e6,
	     (unsigned long long)(gen_skips - win.skips0),
	     (unsigned long long)(tx_errors - win.txerr0),
	     (unsigned long long)rtcp_rx, (unsigned long long)rx_foreign,
	     rtp_fifo ? "SCHED_FIFO 1" : "SCHED_OTHER");
	logv("host: %.1f%% of all cores busy\n", host_busy);
	if (opt.pid)
		print_threads(dt_br, hz);

	if (opt.md_header) {
		printf("| N | bridge CPU ms/s/site | bridge CPU %% of a core "
		       "| late ticks %% | pkts out/site/s | pkts in/site/s "
		       "| loss out %% | loadgen CPU %% | host busy %% |\n");
		printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	}
	printf("| %u | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %.1f | "
	       "%.1f |\n", active, br_ms, br_core, late, out_pps, in_pps,
	       loss, gen_core, host_busy);
	/* the window's share of each phase, from the running averages at
	 * both ends; the maximum is the worst tick of the last 5 s */
	if (win.api[0].ok && win.api[1].ok && win.api[1].nph &&
	    win.api[1].nph == win.api[0].nph &&
	    win.api[1].ticks > win.api[0].ticks) {
		const double t0 = (double)win.api[0].ticks;
		const double t1 = (double)win.api[1].ticks;

		printf("PHASES n=%u", opt.n);
		for (i = 0; i < win.api[1].nph; i++)
			printf(" %s=%.1f/%.0f", win.api[1].ph_name[i],
			       (win.api[1].ph_avg[i] * t1 -
				win.api[0].ph_avg[i] * t0) / (t1 - t0),
			       win.api[1].ph_max[i]);
		printf("\n");
	}
	printf("RESULT n=%u joined=%u failed=%u window_s=%.2f "
	       "bridge_ms_per_site_s=%.3f bridge_core_pct=%.1f late_pct=%.3f "
	       "out_pps=%.2f out_pps_min=%.2f in_pps=%.2f tx_pps=%.2f "
	       "loss_pct=%.3f gen_core_pct=%.1f host_busy_pct=%.1f "
	       "talker_dbfs=%.1f listener_dbfs=%.1f bye_rx=%u\n",
	       opt.n, n_joined, n_failed, dt_rx, br_ms, br_core, late,
	       out_pps, out_min > 1e8 ? 0 : out_min, in_pps, tx_pps, loss,
	       gen_core, host_busy, talk_db, lis_db, n_bye_rx);
	fflush(stdout);
}

/* ---- SIP (main thread, libre) ---- */

static void phase_join_done(void);
static void invite_next(void);

static void join_settle(struct site *s, bool ok, uint16_t scode)
{
	if (s->state != SS_INVITING)
		return;
	inflight--;
	s->scode = scode;
	if (ok) {
		s->state = SS_JOINED;
		n_joined++;
	}
	else {
		s->state = SS_FAILED;
		n_failed++;
		if (n_failed <= 5)
			logv("site %u: join failed (%u)\n", s->idx, scode);
	}
	invite_next();
	if (n_joined + n_failed == opt.n)
		phase_join_done();
}

static int parse_answer(struct site *s, const struct sip_msg *msg)
{
	struct pl body, c_ip, m_port, m_pt;
	char ip[64];

	if (!msg || !msg->mb || !mbuf_get_left(msg->mb))
		return EPROTO;
	pl_set_mbuf(&body, msg->mb);
	if (re_regex(body.p, body.l, "c=IN IP4 [0-9.]+", &c_ip) ||
	    re_regex(body.p, body.l, "m=audio [0-9]+ RTP/AVP [0-9]+",
		     &m_port, &m_pt))
		return EPROTO;
	pl_strcpy(&c_ip, ip, sizeof(ip));
	if (sa_set_str(&s->answer_addr, ip, (uint16_t)pl_u32(&m_port)))
		return EPROTO;
	s->pt = (uint8_t)pl_u32(&m_pt);
	return 0;
}

static int offer_handler(struct mbuf **descp, const struct sip_msg *msg,
			 void *arg);

static struct mbuf *make_sdp(const struct site *s)
{
	struct mbuf *mb = mbuf_alloc(512);
	char ip[INET_ADDRSTRLEN];

	if (!mb)
		return NULL;
	inet_ntop(AF_INET, &s->src.sin_addr, ip, sizeof(ip));
	mbuf_printf(mb,
		    "v=0\r\n"
		    "o=- %u 1 IN IP4 %s\r\n"
		    "s=lowbridge-loadgen\r\n"
		    "c=IN IP4 %s\r\n"
		    "t=0 0\r\n"
		    "m=audio %u RTP/AVP 111\r\n"
		    "a=rtpmap:111 opus/48000/2\r\n"
		    "a=fmtp:111 useinbandfec=1;maxplaybackrate=16000;"
		    "sprop-maxcapturerate=16000\r\n"
		    "a=ptime:20\r\n"
		    "a=sendrecv\r\n",
		    s->ssrc, ip, ip, ntohs(s->src.sin_port));
	mb->pos = 0;
	return mb;
}

static int offer_handler(struct mbuf **descp, const struct sip_msg *msg,
			 void *arg)
{
	struct site *s = arg;

	(void)msg;
	*descp = make_sdp(s);
	return *descp ? 0 : ENOMEM;
}

static int answer_handler(const struct sip_msg *msg, void *arg)
{
	struct site *s = arg;

	return parse_answer(s, msg);
}

static void estab_handler(const struct sip_msg *msg, void *arg)
{
	struct site *s = arg;

	(void)msg;
	if (!sa_isset(&s->answer_addr, SA_ALL)) {
		logv("site %u: 200 OK without a usable SDP answer\n", s->idx);
		join_settle(s, false, 200);
		return;
	}
	join_settle(s, true, 200);
}

static void close_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct site *s = arg;

	if (s->state == SS_INVITING) {
		if (err && n_failed < 5)
			logv("site %u: INVITE: %s\n", s->idx, strerror(err));
		join_settle(s, false, msg ? msg->scode : 0);
	}
	else if (s->state == SS_JOINED) {
		n_bye_rx++;
		if (n_bye_rx <= 5)
			logv("site %u: call closed by the bridge (%s)\n",
			     s->idx, err ? strerror(err) : "BYE");
		s->state = SS_CLOSED;
	}
	s->sess = mem_deref(s->sess);
}

static void conn_handler(const struct sip_msg *msg, void *arg)
{
	(void)arg;
	(void)sip_treply(NULL, sip, msg, 603, "Decline");
}

static void invite_next(void)
{
	char to[128], from[128], cuser[32], host[64];

	while (inflight < opt.inflight && next_invite < opt.n) {
		struct site *s = &sitev[next_invite++];
		struct mbuf *desc = make_sdp(s);
		int err;

		snprintf(cuser, sizeof(cuser), "site%u", s->idx);
		re_snprintf(host, sizeof(host), "%J", &bridge_sip);
		snprintf(to, sizeof(to), "sip:%s@%s", opt.room, host);
		snprintf(from, sizeof(from), "sip:site%u@127.0.0.1", s->idx);
		s->state = SS_INVITING;
		inflight++;
		err = desc ? sipsess_connect(&s->sess, sess_sock, to, cuser,
					     from, cuser, NULL, 0,
					     "application/sdp", desc, NULL,
					     NULL, false, offer_handler,
					     answer_handler, NULL,
					     estab_handler, NULL, NULL,
					     close_handler, s, NULL)
			: ENOMEM;
		mem_deref(desc);
		if (err) {
			logv("site %u: sipsess_connect: %s\n", s->idx,
			     strerror(err));
			join_settle(s, false, 0);
		}
	}
}

static void exit_handler(void *arg)
{
	(void)arg;
	re_cancel();
}

static void guard_handler(void *arg)
{
	(void)arg;
	logv("SIP did not finish in time; stopping\n");
	re_cancel();
}

/* ---- phases ---- */

/* BYEs go out paced (HANGUP_BATCH every 5 ms), as a burst of hundreds
 * of requests overflows a UAS's socket buffer and turns into slow
 * retransmissions. */
enum { HANGUP_BATCH = 25 };
static unsigned hangup_next, hangup_n;

static void hangup_tick(void *arg)
{
	unsigned k = 0;

	(void)arg;
	for (; hangup_next < opt.n && k < HANGUP_BATCH; hangup_next++) {
		struct site *s = &sitev[hangup_next];

		if (!s->sess)
			continue;
		s->sess = mem_deref(s->sess);
		hangup_n++;
		k++;
	}
	if (hangup_next < opt.n) {
		tmr_start(&tmr_phase, 5, hangup_tick, NULL);
		return;
	}
	logv("hung up %u calls\n", hangup_n);
	tmr_start(&tmr_guard, 10000, guard_handler, NULL);
	sip_close(sip, false);
}

static void phase_hangup(void)
{
	if (rtp_running) {
		atomic_store(&rtp_stop, 1);
		pthread_join(rtp_tid, NULL);
		rtp_running = false;
	}
	hangup_next = 0;
	hangup_tick(NULL);
}

static void measure_end(void *arg)
{
	(void)arg;
	measure_point(1);
	report();
	phase_hangup();
}

static void warmup_end(void *arg)
{
	(void)arg;
	measure_point(0);
	tmr_start(&tmr_phase, (uint64_t)(opt.measure_s * 1000), measure_end,
		  NULL);
}

static void phase_join_done(void)
{
	unsigned i;
	int err;

	now_mono(&t_join1);
	tmr_cancel(&tmr_guard);
	logv("%u of %u sites joined in %.2f s (%u failed)\n", n_joined,
	     opt.n, ts_diff(&t_join0, &t_join1), n_failed);
	if (!n_joined) {
		exit_code = 2;
		phase_hangup();
		return;
	}
	if (n_failed)
		exit_code = 2;
	for (i = 0; i < opt.n; i++) {
		struct site *s = &sitev[i];

		if (s->state != SS_JOINED)
			continue;
		s->dst.sin_family = AF_INET;
		s->dst.sin_addr.s_addr = htonl(sa_in(&s->answer_addr));
		s->dst.sin_port = htons(sa_port(&s->answer_addr));
		s->active = true;
	}
	pick_sampled_sites();
	err = pthread_create(&rtp_tid, NULL, rtp_main, NULL);
	if (err) {
		logv("rtp thread: %s\n", strerror(err));
		exit_code = 1;
		phase_hangup();
		return;
	}
	rtp_running = true;
	tmr_start(&tmr_phase, (uint64_t)(opt.warmup_s * 1000), warmup_end,
		  NULL);
}

static void join_timeout(void *arg)
{
	unsigned i;

	(void)arg;
	logv("join timed out after %.0f s: %u joined, %u failed, %u "
	     "pending\n", opt.join_timeout_s, n_joined, n_failed,
	     opt.n - n_joined - n_failed);
	for (i = 0; i < opt.n; i++) {
		if (sitev[i].state == SS_INVITING || sitev[i].state ==
		    SS_IDLE) {
			sitev[i].sess = mem_deref(sitev[i].sess);
			sitev[i].state = SS_FAILED;
			n_failed++;
		}
	}
	inflight = 0;
	next_invite = opt.n;
	phase_join_done();
}

/* ---- watchdog and main ---- */

static void *watchdog(void *arg)
{
	struct timespec d;
	static const char msg[] = "loadgen: hard timeout, exiting\n";

	(void)arg;
	now_mono(&d);
	ts_add_ns(&d, (int64_t)(opt.timeout_s * 1e9));
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL))
		;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(4);
	_exit(3);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen -n N [options]\n"
		"  -n, --sites N        sites to join (default 10)\n"
		"  -k, --talkers K      sites sending speech (default 3)\n"
		"      --sip ADDR:PORT  bridge SIP address (127.0.0.1:5060)\n"
		"      --http ADDR:PORT bridge HTTP address (127.0.0.1:8080)\n"
		"      --room ID        room to join (1000)\n"
		"      --pid PID        bridge process, for its CPU time\n"
		"      --warmup S       seconds of RTP before measuring (3)\n"
		"      --measure S      length of the measured window (10)\n"
		"      --speech WAV     speech to send (default: espeak-ng)\n"
		"      --inflight M     INVITEs in flight at once (50)\n"
		"      --addr-mode ips|ports  site addressing (ips)\n"
		"      --phases P       send groups per 20 ms (4)\n"
		"      --timeout S      hard limit for the whole run\n"
		"      --header         print the markdown table header\n"
		"      --probe          only check that the room API answers\n"
		"      --dtx            idle sites use Opus DTX: no packet\n"
		"                       for what the encoder calls silence\n"
		"Prints one markdown table row and a RESULT line on stdout;\n"
		"details on stderr. Exit 0 ok, 2 some sites failed to join,\n"
		"3 hard timeout, 1 other errors.\n");
}

static int parse_opts(int argc, char *argv[])
{
	static const struct option lo[] = {
		{"sites", required_argument, NULL, 'n'},
		{"talkers", required_argument, NULL, 'k'},
		{"sip", required_argument, NULL, 'S'},
		{"http", required_argument, NULL, 'H'},
		{"room", required_argument, NULL, 'r'},
		{"pid", required_argument, NULL, 'p'},
		{"warmup", required_argument, NULL, 'w'},
		{"measure", required_argument, NULL, 'm'},
		{"speech", required_argument, NULL, 's'},
		{"inflight", required_argument, NULL, 'i'},
		{"addr-mode", required_argument, NULL, 'a'},
		{"phases", required_argument, NULL, 'P'},
		{"timeout", required_argument, NULL, 't'},
		{"header", no_argument, NULL, 'h'},
		{"probe", no_argument, NULL, 'q'},
		{"dtx", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:k:", lo, NULL)) != -1) {
		switch (c) {
		case 'n': opt.n = (unsigned)atoi(optarg); break;
		case 'k': opt.talkers = (unsigned)atoi(optarg); break;
		case 'S': snprintf(opt.sip_addr, sizeof(opt.sip_addr), "%s",
				   optarg); break;
		case 'H': snprintf(opt.http_addr, sizeof(opt.http_addr), "%s",
				   optarg); break;
		case 'r': snprintf(opt.room, sizeof(opt.room), "%s", optarg);
			break;
		case 'p': opt.pid = atol(optarg); break;
		case 'w': opt.warmup_s = atof(optarg); break;
		case 'm': opt.measure_s = atof(optarg); break;
		case 's': opt.speech = optarg; break;
		case 'i': opt.inflight = (unsigned)atoi(optarg); break;
		case 'a':
			if (!strcmp(optarg, "ips"))
				opt.mode = ADDR_IPS;
			else if (!strcmp(optarg, "ports"))
				opt.mode = ADDR_PORTS;
			else
				return EINVAL;
			break;
		case 'P': opt.phases = (unsigned)atoi(optarg); break;
		case 't': opt.timeout_s = atof(optarg); break;
		case 'h': opt.md_header = true; break;
		case 'q': opt.probe = true; break;
		case 'D': opt.dtx = true; break;
		default: return EINVAL;
		}
	}
	if (!opt.n || opt.n > MAX_SITES || !opt.inflight || !opt.phases ||
	    opt.phases > 20 || opt.measure_s <= 0 || opt.warmup_s < 0)
		return EINVAL;
	if (opt.talkers > opt.n)
		opt.talkers = opt.n;
	if (opt.timeout_s <= 0)
		opt.timeout_s = opt.join_timeout_s + opt.warmup_s +
			opt.measure_s + 30;
	return 0;
}

int main(int argc, char *argv[])
{
	struct sa laddr;
	pthread_t wd;
	char host[64];
	unsigned port;
	int err;

	if (parse_opts(argc, argv)) {
		usage();
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (opt.probe) {
		struct api_stats st;

		return api_get(&st) ? 1 : 0;
	}
	if (pthread_create(&wd, NULL, watchdog, NULL) == 0)
		pthread_detach(wd);
	if (sscanf(opt.sip_addr, "%63[^:]:%u", host, &port) != 2 ||
	    sa_set_str(&bridge_sip, host, (uint16_t)port)) {
		logv("bad --sip %s\n", opt.sip_addr);
		return 1;
	}
	err = prepare_audio();
	if (!err)
		err = setup_sites();
	if (err) {
		logv("set-up failed: %s\n", strerror(err));
		return 1;
	}
	err = libre_init();
	if (err)
		return 1;
	err = sip_alloc(&sip, NULL, 256, 256, 256, "lowbridge-loadgen",
			exit_handler, NULL);
	if (!err) {
		sa_set_str(&laddr, "127.0.0.1", 0);
		err = sip_transp_add(sip, SIP_TRANSP_UDP, &laddr);
	}
	if (!err)
		err = sipsess_listen(&sess_sock, sip, 1024, conn_handler,
				     NULL);
	if (err) {
		logv("SIP set-up: %s\n", strerror(err));
		return 1;
	}
	tmr_init(&tmr_phase);
	tmr_init(&tmr_guard);
	logv("joining %u sites (%u talkers) to room %s at %s, %u INVITEs "
	     "in flight, addressing %s\n", opt.n, opt.talkers, opt.room,
	     opt.sip_addr, opt.inflight,
	     opt.mode == ADDR_IPS ? "127.1.x.y:port" : "127.0.0.1:port");
	now_mono(&t_join0);
	tmr_start(&tmr_guard, (uint64_t)(opt.join_timeout_s * 1000),
		  join_timeout, NULL);
	invite_next();
	re_main(NULL);

	if (rtp_running) {
		atomic_store(&rtp_stop, 1);
		pthread_join(rtp_tid, NULL);
	}
	tmr_cancel(&tmr_phase);
	tmr_cancel(&tmr_guard);
	sess_sock = mem_deref(sess_sock);
	sip_close(sip, true);
	sip = mem_deref(sip);
	libre_close();
	return exit_code;
}
