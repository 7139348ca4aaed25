/**
 * @file bsctl.c  Drives one baresip instance through its ctrl_tcp socket.
 *
 * baresip 1.0.0's ctrl_tcp accepts a single connection (a new one drops
 * the old), so one bsctl runs per baresip for the whole test: it holds
 * the connection, appends every message baresip sends (command responses
 * and events, netstring JSON) as one line to LOG, and forwards commands
 * written as lines "COMMAND [PARAMS]" into FIFO, e.g.
 *
 *   bsctl 4444 /tmp/x/ctl.fifo /tmp/x/events.log &
 *   echo "dial sip:1000@127.0.0.1:5060" > /tmp/x/ctl.fifo
 *   grep -q '"CALL_ESTABLISHED"' /tmp/x/events.log
 *
 * It retries the connect for up to 10 s (baresip starting), and exits 0
 * when baresip closes the connection, 1 on errors.
 *
 * Threads: one; poll() over the socket and the FIFO.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_MAX 65536

static int connect_retry(int port)
{
	struct sockaddr_in sin;
	int i, fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	for (i = 0; i < 200; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
		close(fd);
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* JSON-escape src into dst (always terminated). */
static void json_esc(char *dst, size_t sz, const char *src)
{
	size_t n = 0;

	for (; *src && n + 7 < sz; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		}
		else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, sz - n, "\\u%04x", c);
		}
		else {
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
}

static int send_command(int fd, char *line, unsigned token)
{
	char cmd[256], prm[1024], json[1600], ns[1700];
	char *sp;
	int n;

	line[strcspn(line, "\r\n")] = '\0';
	while (*line == ' ')
		line++;
	if (!*line)
		return 0;
	sp = strchr(line, ' ');
	if (sp)
		*sp++ = '\0';
	json_esc(cmd, sizeof(cmd), line);
	json_esc(prm, sizeof(prm), sp ? sp : "");
	if (sp)
		snprintf(json, sizeof(json),
			 "{\"command\":\"%s\",\"params\":\"%s\","
			 "\"token\":\"%u\"}", cmd, prm, token);
	else
		snprintf(json, sizeof(json),
			 "{\"command\":\"%s\",\"token\":\"%u\"}", cmd, token);
	n = snprintf(ns, sizeof(ns), "%zu:%s,", strlen(json), json);
	if (n < 0 || (size_t)n >= sizeof(ns))
		return -1;
	return send_all(fd, ns, (size_t)n);
}

/* Consume complete netstrings from buf; write each as a line to log. */
static size_t drain_netstrings(char *buf, size_t len, FILE *log)
{
	size_t pos = 0;

	for (;;) {
		size_t i = pos, plen = 0;
		char *p;

		while (i < len && buf[i] >= '0' && buf[i] <= '9') {
			plen = plen * 10 + (size_t)(buf[i] - '0');
			i++;
		}
		if (i >= len)
			break;
		if (buf[i] != ':' || i == pos) {
			/* desynchronised: skip one byte */
			pos++;
			continue;
		}
		if (i + 1 + plen + 1 > len)
			break;
		p = buf + i + 1;
		for (size_t k = 0; k < plen; k++)
			if (p[k] == '\n' || p[k] == '\r')
				p[k] = ' ';
		fwrite(p, 1, plen, log);
		fputc('\n', log);
		fflush(log);
		pos = i + 1 + plen + 1;
	}
	memmove(buf, buf + pos, len - pos);
	return len - pos;
}

int main(int argc, char **argv)
{
	static char rx[RX_MAX];
	char line[2048];
	size_t rxlen = 0, llen = 0;
	unsigned token = 0;
	FILE *log;
	int fd, ff;

	if (argc != 4) {
		fprintf(stderr, "usage: bsctl CTRL_PORT FIFO LOG\n");
		return 2;
	}
	log = fopen(argv[3], "a");
	if (!log) {
		perror(argv[3]);
		return 1;
	}
	/* O_RDWR: the FIFO never reports EOF when a writer closes */
	ff = open(argv[2], O_RDWR | O_NONBLOCK);
	if (ff < 0) {
		perror(argv[2]);
		return 1;
	}
	fd = connect_retry(atoi(argv[1]));
	if (fd < 0) {
		fprintf(stderr, "bsctl: cannot connect to 127.0.0.1:%s\n",
			argv[1]);
		return 1;
	}
	fprintf(log, "{\"bsctl\":\"connected\"}\n");
	fflush(log);

	for (;;) {
		struct pollfd pv[2] = {{fd, POLLIN, 0}, {ff, POLLIN, 0}};
		ssize_t n;

		if (poll(pv, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pv[0].revents) {
			n = read(fd, rx + rxlen, sizeof(rx) - rxlen);
			if (n <= 0)
				break;
			rxlen = drain_netstrings(rx, rxlen + (size_t)n, log);
			if (rxlen == sizeof(rx))
				rxlen = 0;
		}
		if (pv[1].revents & POLLIN) {
			n = read(ff, line + llen, sizeof(line) - 1 - llen);
			if (n > 0) {
				char *nl;

				llen += (size_t)n;
				line[llen] = '\0';
				while ((nl = strchr(line, '\n')) != NULL) {
					*nl = '\0';
					if (send_command(fd, line, ++token))
						return 1;
					llen -= (size_t)(nl + 1 - line);
					memmove(line, nl + 1, llen + 1);
				}
				if (llen == sizeof(line) - 1)
					llen = 0;
			}
		}
	}
	fprintf(log, "{\"bsctl\":\"closed\"}\n");
	fclose(log);
	return 0;
}
