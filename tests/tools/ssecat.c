/**
 * @file ssecat.c  A Server-Sent Events client for the live-stream tests:
 * it reads a stream for a while and reports what came, or (--stuck)
 * connects and never reads, as a console on a frozen laptop would.
 *
 *   ssecat --http ADDR:PORT [--path P] [--seconds S] [--auth USER:PASS]
 *          [--stuck]
 *
 * Reading: prints one line
 *   status=200 events=N levels=N levels_hz=X max_gap_ms=X join=N ...
 *   bytes=N closed=0|1
 * Stuck: shrinks its receive buffer (so the bridge's queue fills
 * quickly), sends the request, reads nothing for S seconds, then drains
 * with a bound of 5 s and prints "closed=1" when the bridge had hung up
 * (end of stream reached), "closed=0" when it still streams.
 *
 * Plain libc sockets (IPv4 loopback only); no libre, so that the client
 * shares nothing with the server it tests.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DRAIN_S 5.0

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char b64c[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const char *in, char *out, size_t sz)
{
	size_t n = strlen(in), i, o = 0;

	for (i = 0; i < n && o + 5 < sz; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = b64c[(v >> 18) & 63];
		out[o++] = b64c[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64c[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64c[v & 63] : '=';
	}
	out[o] = '\0';
}

struct counts {
	unsigned events, levels, join, leave, talk, alarm, other;
	double first_levels, last_levels, max_gap;
	unsigned long long bytes;
	int status;
};

/* Count the events in the complete lines of buf; @return bytes used. */
static size_t parse(struct counts *c, char *buf, size_t len, bool *in_body)
{
	size_t used = 0;

	for (;;) {
		char *nl = memchr(buf + used, '\n', len - used);
		char *line = buf + used;
		size_t ll;

		if (!nl)
			return used;
		ll = nl - line;
		used += ll + 1;
		if (ll && line[ll - 1] == '\r')
			--ll;
		line[ll] = '\0';
		if (!*in_body) {
			if (!strncmp(line, "HTTP/1.", 7) && ll > 12)
				c->status = atoi(line + 9);
			if (!ll)
				*in_body = true;
			continue;
		}
		if (strncmp(line, "event: ", 7))
			continue;
		++c->events;
		if (!strcmp(line + 7, "levels")) {
			double t = now_s();

			if (c->levels && t - c->last_levels > c->max_gap)
				c->max_gap = t - c->last_levels;
			if (!c->levels)
				c->first_levels = t;
			c->last_levels = t;
			++c->levels;
		}
		else if (!strcmp(line + 7, "join"))
			++c->join;
		else if (!strcmp(line + 7, "leave"))
			++c->leave;
		else if (!strcmp(line + 7, "talk"))
			++c->talk;
		else if (!strcmp(line + 7, "alarm"))
			++c->alarm;
		else
			++c->other;
	}
}

int main(int argc, char *argv[])
{
	const char *http = "127.0.0.1:8080", *path = "/api/rooms/1000/live";
	const char *auth = NULL;
	double seconds = 5, t0, end;
	bool stuck = false, in_body = false, closed = false;
	struct sockaddr_in sin;
	struct counts c;
	char host[64], req[1024], hdr[300], buf[65536];
	size_t have = 0;
	char *colon;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--http") && i + 1 < argc)
			http = argv[++i];
		else if (!strcmp(argv[i], "--path") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--auth") && i + 1 < argc)
			auth = argv[++i];
		else if (!strcmp(argv[i], "--stuck"))
			stuck = true;
		else {
			fprintf(stderr, "usage: ssecat --http ADDR:PORT "
				"[--path P] [--seconds S] [--auth U:P] "
				"[--stuck]\n");
			return 2;
		}
	}
	snprintf(host, sizeof(host), "%s", http);
	colon = strrchr(host, ':');
	if (!colon)
		return 2;
	*colon = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "ssecat: loopback IPv4 only\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	if (stuck) {
		int rcv = 4096;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv,
				 sizeof(rcv));
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("ssecat: connect");
		return 1;
	}
	hdr[0] = '\0';
	if (auth) {
		char enc[200];

		b64(auth, enc, sizeof(enc));
		snprintf(hdr, sizeof(hdr), "Authorization: Basic %s\r\n",
			 enc);
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		 "Accept: text/event-stream\r\n%s\r\n", path, http, hdr);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return 1;
	memset(&c, 0, sizeof(c));
	t0 = now_s();
	if (stuck) {
		struct timespec ts = {(time_t)seconds,
			(long)((seconds - (time_t)seconds) * 1e9)};

		nanosleep(&ts, NULL);
	}
	end = stuck ? now_s() + DRAIN_S : t0 + seconds;
	while (now_s() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		int ms = (int)((end - now_s()) * 1000) + 1;
		ssize_t n;
		size_t used;

		if (poll(&p, 1, ms) <= 0)
			continue;
		n = read(fd, buf + have, sizeof(buf) - have - 1);
		if (n <= 0) {
			closed = true;
			break;
		}
		c.bytes += n;
		have += n;
		used = parse(&c, buf, have, &in_body);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (have == sizeof(buf) - 1)
			have = 0;       /* a line too long: not ours */
	}
	close(fd);
	printf("status=%d events=%u levels=%u levels_hz=%.1f "
	       "max_gap_ms=%.0f join=%u leave=%u talk=%u alarm=%u other=%u "
	       "bytes=%llu closed=%d\n", c.status, c.events, c.levels,
	       c.levels > 1 ? (c.levels - 1) /
	       (c.last_levels - c.first_levels) : 0.0, c.max_gap * 1000,
	       c.join, c.leave, c.talk, c.alarm, c.other, c.bytes,
	       closed);
	return 0;
}
