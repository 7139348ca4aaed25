/**
 * @file rtpjunk.c  Sends malformed and hostile RTP to a host:port.
 *
 * Usage: rtpjunk [-b LOCAL_PORT] [-n ROUNDS] [-p PT] [-s SSRC]
 *                [-g GAP_US] [-r RANDOM_PER_ROUND] [-S SEED] [-V VALID]
 *                HOST PORT
 *
 * -V first sends VALID well-formed packets (PT, SSRC; a 1-byte Opus
 * frame, or 160 bytes of mu-law silence for PT 0/8), 20 ms apart, e.g. to
 * make a bridge latch onto the sending address before the junk.
 * Each round sends one datagram of every kind below, then RANDOM_PER_ROUND
 * (default 8) datagrams of random length (0..1500) and content; GAP_US
 * (default 500) separates datagrams so a loopback receiver does not
 * overflow its socket buffer. -b binds the sending socket, so the packets
 * can come from the address a site announced in its SDP.
 *
 * Header-invalid kinds (RFC 3550 5.1; a receiver must drop them):
 *   short1      1 byte
 *   short11     11 bytes, version 2
 *   ver0/1/3    version 0, 1, 3 with a 12-byte header and 20 bytes payload
 *   cc15        CSRC count 15 in a 20-byte packet (needs 72)
 *   ext_noroom  X bit, packet ends at the fixed header
 *   ext_long    X bit, extension length 0xffff words, 8 bytes present
 *   pad_long    P bit, padding count 255 in a 40-byte packet
 *   pad_zero    P bit, padding count 0 (RFC 3550: count includes itself)
 * Valid headers with hostile payloads (a receiver must not crash; a
 * decoder may count them as errors):
 *   garbage     PT, random payload of 1..200 bytes
 *   opus_code3  PT, Opus TOC code 3 claiming 63 frames in 3 bytes
 *   opus_vbr    PT, Opus code 3 VBR with frame lengths beyond the packet
 *   empty       PT, header only (no payload)
 *   big9000     PT, 9000-byte payload
 *   big65000    PT, 65000-byte payload (larger than most receive buffers)
 *   badpt       PT 77 (not negotiated), 160 bytes
 * plus one empty (0-byte) datagram per round, counted separately since a
 * socket layer may not deliver it to the application at all.
 *
 * Output (key=value, for the test scripts):
 *   sent=N hdr_bad=B hdr_ok=K hdr_ok_small=M empty=E valid=V seed=S
 * where hdr_bad counts non-empty datagrams whose RTP header is invalid by
 * the rules above (checked here independently of the bridge's parser,
 * random datagrams included), hdr_ok the others (valid ones excluded),
 * hdr_ok_small those of hdr_ok no larger than 1500 bytes.
 *
 * Threads: one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXPKT 65000

static int sock;
static struct sockaddr_in dst;
static long gap_us = 500;
static unsigned n_sent, n_bad, n_ok, n_ok_small, n_empty;
static uint32_t rng_state;
static uint16_t seq;
static uint32_t ts;

static uint32_t rnd(void)
{
	/* xorshift32: reproducible from the printed seed */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Independent RFC 3550 5.1 header check: 1 valid, 0 invalid. */
static int hdr_valid(const uint8_t *p, size_t len)
{
	size_t off;

	if (len < 12 || (p[0] >> 6) != 2)
		return 0;
	off = 12 + (size_t)(p[0] & 0x0f) * 4;
	if (off > len)
		return 0;
	if (p[0] & 0x10) {
		if (off + 4 > len)
			return 0;
		off += 4 + (((size_t)p[off + 2] << 8) | p[off + 3]) * 4;
		if (off > len)
			return 0;
	}
	if (p[0] & 0x20) {
		size_t pad = p[len - 1];

		if (pad == 0 || pad > len - off)
			return 0;
	}
	return 1;
}

static void send_pkt(const uint8_t *p, size_t len)
{
	struct timespec gap = {0, gap_us * 1000};

	if (sendto(sock, p, len, 0, (struct sockaddr *)&dst,
		   sizeof(dst)) < 0) {
		fprintf(stderr, "rtpjunk: sendto %zu bytes: %s\n", len,
			strerror(errno));
		return;
	}
	n_sent++;
	if (len == 0)
		n_empty++;
	else if (hdr_valid(p, len)) {
		n_ok++;
		if (len <= 1500)
			n_ok_small++;
	}
	else
		n_bad++;
	nanosleep(&gap, NULL);
}

static size_t hdr(uint8_t *p, uint8_t b0, uint8_t pt, uint32_t ssrc)
{
	p[0] = b0;
	p[1] = pt & 0x7f;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	seq++;
	ts += 960;
	return 12;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void one_round(uint8_t *b, uint8_t pt, uint32_t ssrc, int nrand)
{
	size_t n, k;

	/* header-invalid */
	b[0] = 0x80;
	send_pkt(b, 1);
	hdr(b, 0x80, pt, ssrc);
	send_pkt(b, 11);
	for (int v = 0; v < 4; v++) {
		if (v == 2)
			continue;
		hdr(b, (uint8_t)(v << 6), pt, ssrc);
		fill(b + 12, 20);
		send_pkt(b, 32);
	}
	hdr(b, 0x8f, pt, ssrc);
	fill(b + 12, 8);
	send_pkt(b, 20);
	hdr(b, 0x90, pt, ssrc);
	send_pkt(b, 12);
	hdr(b, 0x90, pt, ssrc);
	b[12] = 0xbe;
	b[13] = 0xde;
	b[14] = 0xff;
	b[15] = 0xff;
	fill(b + 16, 4);
	send_pkt(b, 20);
	hdr(b, 0xa0, pt, ssrc);
	fill(b + 12, 28);
	b[39] = 255;
	send_pkt(b, 40);
	hdr(b, 0xa0, pt, ssrc);
	fill(b + 12, 28);
	b[39] = 0;
	send_pkt(b, 40);

	/* valid header, hostile payload */
	n = hdr(b, 0x80, pt, ssrc);
	k = 1 + (size_t)(rnd() % 200);
	fill(b + n, k);
	send_pkt(b, n + k);
	n = hdr(b, 0x80, pt, ssrc);
	b[n] = 0xfb;            /* config 31 (CELT FB 20 ms), code 3 */
	b[n + 1] = 0x3f;        /* CBR, 63 frames */
	b[n + 2] = 0x00;
	send_pkt(b, n + 3);
	n = hdr(b, 0x80, pt, ssrc);
	b[n] = 0x7b;
	b[n + 1] = 0xc5;        /* VBR + padding, 5 frames */
	memset(b + n + 2, 0xff, 10);
	send_pkt(b, n + 12);
	n = hdr(b, 0x80, pt, ssrc);
	send_pkt(b, n);
	n = hdr(b, 0x80, pt, ssrc);
	fill(b + n, 9000);
	send_pkt(b, n + 9000);
	n = hdr(b, 0x80, pt, ssrc);
	fill(b + n, MAXPKT - n);
	send_pkt(b, MAXPKT);
	n = hdr(b, 0x80, 77, ssrc);
	fill(b + n, 160);
	send_pkt(b, n + 160);

	/* empty datagram */
	send_pkt(b, 0);

	/* random datagrams; keep them out of the RTCP range (RFC 5761) */
	for (int i = 0; i < nrand; i++) {
		size_t len = rnd() % 1501;

		fill(b, len);
		if (len > 1 && b[1] >= 192 && b[1] <= 223)
			b[1] &= 0x7f;
		send_pkt(b, len);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: rtpjunk [-b LOCAL_PORT] [-n ROUNDS] [-p PT] "
		"[-s SSRC] [-g GAP_US] [-r RANDOM] [-S SEED] [-V VALID] "
		"HOST PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static uint8_t buf[MAXPKT];
	int opt, rounds = 10, nrand = 8, lport = 0, nvalid = 0;
	unsigned pt = 96;
	uint32_t ssrc = 0x4a554e4b, seed = 0;
	int sz = 1 << 20;

	while ((opt = getopt(argc, argv, "b:n:p:s:g:r:S:V:")) != -1) {
		switch (opt) {
		case 'b':
			lport = atoi(optarg);
			break;
		case 'n':
			rounds = atoi(optarg);
			break;
		case 'p':
			pt = (unsigned)atoi(optarg);
			break;
		case 's':
			ssrc = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'g':
			gap_us = atol(optarg);
			break;
		case 'r':
			nrand = atoi(optarg);
			break;
		case 'S':
			seed = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'V':
			nvalid = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || pt > 127 || gap_us < 0 || gap_us > 999999)
		usage();
	if (!seed)
		seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	rng_state = seed ? seed : 1;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1)
		usage();
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0) {
		perror("socket");
		return 1;
	}
	(void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (lport) {
		struct sockaddr_in sin;
		int one = 1;

		(void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)lport);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(sock, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			fprintf(stderr, "rtpjunk: bind 127.0.0.1:%d: %s\n",
				lport, strerror(errno));
			return 1;
		}
	}
	seq = (uint16_t)rnd();
	ts = rnd();
	for (int i = 0; i < nvalid; i++) {
		struct timespec t20 = {0, 20 * 1000 * 1000};
		size_t n = hdr(buf, 0x80, (uint8_t)pt, ssrc), k = 1;

		if (pt == 0 || pt == 8) {
			k = 160;
			memset(buf + n, pt == 0 ? 0xff : 0xd5, k);
			ts = ts - 960 + 160;
		}
		else {
			buf[n] = 0xf8;  /* CELT FB 20 ms, mono, one frame */
		}
		if (sendto(sock, buf, n + k, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) < 0)
			perror("rtpjunk: sendto");
		nanosleep(&t20, NULL);
	}
	for (int r = 0; r < rounds; r++)
		one_round(buf, (uint8_t)pt, ssrc, nrand);
	printf("sent=%u hdr_bad=%u hdr_ok=%u hdr_ok_small=%u empty=%u "
	       "valid=%d seed=%u\n", n_sent, n_bad, n_ok, n_ok_small,
	       n_empty, nvalid, seed);
	return 0;
}
