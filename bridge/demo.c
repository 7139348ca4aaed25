/**
 * @file demo.c  `lowbridge demo`: the bridge with simulated sites, so a
 * newcomer sees the console work with no phone at hand.
 *
 * The sites are the project's test site (build/tools/echosite, found
 * beside the binary): each calls the room over SIP and sends real Opus
 * RTP over loopback, as a commune office would. Their speech is made
 * once with espeak-ng (Vietnamese and English) and repeats; one hall is
 * noisy, one echoes the room back through its loudspeaker, one is on a
 * line that loses 12 % of its packets, one has a quiet microphone, two
 * only listen, and one expected commune never calls, so the roster and
 * the alarms have something to show. The room records, so the
 * recordings tab fills too.
 *
 * Each site is a child process that dies with us (PR_SET_PDEATHSIG), and
 * is sent SIGTERM (it hangs up) when the bridge stops.
 *
 * Threads: main, before and after the bridge's loop.
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "demo.h"

#define DEMO_EVERY_S "48"

struct demo_site {
	const char *user;            /* SIP user: the roster matches it */
	const char *label;           /* the roster's name */
	const char *speech;          /* index into texts, or NULL */
	const char *at_s;
	const char *args[8];         /* what makes it this kind of hall */
};

static const char *const texts[][2] = {
	{"vi", "Kính thưa các đồng chí, hôm nay chúng ta họp "
	 "để bàn về kế hoạch phòng chống bão lũ của "
	 "huyện trong tháng tới. Đề nghị các xã báo cáo "
	 "tình hình đê điều và lực lượng ứng cứu tại "
	 "chỗ."},
	{"vi", "Xã An Phú xin báo cáo: đê bao đã được gia cố "
	 "xong ba cây số, còn hai điểm sạt lở nhỏ, chúng "
	 "tôi đã huy động dân quân và bà con khắc phục trong "
	 "tuần này."},
	{"vi", "Xã Tân Lập báo cáo: đường truyền ở xã còn "
	 "yếu, chúng tôi đã chuẩn bị đủ áo phao, xuồng "
	 "máy và lương thực dự trữ cho năm ngày."},
	{"en", "Hoa Binh commune reporting. The pumping station is working "
	 "again, and the school is ready to shelter two hundred people if "
	 "the water rises."},
};

static const struct demo_site sites[] = {
	{"huyen", "Hội trường huyện (chủ trì)", "0", "2",
	 {"--noise-dbfs", "-62", "--echo-db", "-200", NULL}},
	{"xa-an-phu", "Xã An Phú", "1", "14",
	 {"--noise-dbfs", "-36", "--echo-db", "-200", NULL}},
	{"xa-binh-minh", "Xã Bình Minh", NULL, NULL,
	 {"--echo-db", "-4", "--rt60", "0.7", "--noise-dbfs", "-55", NULL}},
	{"xa-tan-lap", "Xã Tân Lập", "2", "26",
	 {"--loss-pct", "12", "--echo-db", "-200", NULL}},
	{"xa-hoa-binh", "Xã Hòa Bình", "3", "37",
	 {"--speech-db", "-18", "--echo-db", "-200", NULL}},
	{"xa-dong-tien", "Xã Đồng Tiến", NULL, NULL,
	 {"--noise-dbfs", "-66", "--echo-db", "-200", NULL}},
	{"phuong-3", "Phường 3", NULL, NULL,
	 {"--noise-dbfs", "-60", "--echo-db", "-30", NULL}},
};

static struct {
	pid_t pidv[ARRAY_SIZE(sites)];
	char dir[PATH_MAX];
	char site_bin[PATH_MAX];
	char sip[64];
} demo;

static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return errno;
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : ENOENT;
}

int demo_prepare(const char *dir, const char *sip, const char *http,
		 char *cfg_path, size_t sz)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;
	FILE *f;
	size_t i;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return errno ? errno : ENOENT;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	re_snprintf(demo.site_bin, sizeof(demo.site_bin), "%s/tools/echosite",
		    exe);
	if (access(demo.site_bin, X_OK)) {
		fprintf(stderr, "lowbridge demo: the simulated sites are %s, "
			"which is not built: run `make demo`\n",
			demo.site_bin);
		return ENOENT;
	}
	str_ncpy(demo.dir, dir, sizeof(demo.dir));
	str_ncpy(demo.sip, sip, sizeof(demo.sip));
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "lowbridge demo: %s: %s\n", dir,
			strerror(errno));
		return errno;
	}
	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		char wav[PATH_MAX + 16];
		char *argv[] = {"espeak-ng", "-v", (char *)texts[i][0], "-s",
			"150", "-w", wav, (char *)texts[i][1], NULL};

		re_snprintf(wav, sizeof(wav), "%s/speech%zu.wav", dir, i);
		if (run_wait(argv)) {
			fprintf(stderr, "lowbridge demo: espeak-ng makes the "
				"sites' speech and is missing: run `make "
				"demo` (it installs it)\n");
			return ENOENT;
		}
	}
	re_snprintf(cfg_path, sz, "%s/demo.ini", dir);
	f = fopen(cfg_path, "w");
	if (!f)
		return errno;
	re_fprintf(f, "# written by lowbridge demo\n[bridge]\nsip = %s\n"
		   "http = %s\ndata = %s/data\nrtp_ports = 42000-42099\n"
		   "log_level = info\n\n[room 1000]\n"
		   "name = Họp trực tuyến phòng chống "
		   "bão lũ (demo)\n"
		   "record = on\nmax_talkers = 3\n", sip, http, dir);
	for (i = 0; i < ARRAY_SIZE(sites); i++)
		re_fprintf(f, "expect = %s; user=%s; contact=Cán bộ văn "
			   "phòng; phone=0912 000 %03zu\n", sites[i].label,
			   sites[i].user, 100 + i);
	re_fprintf(f, "expect = Xã Phú Mỹ; user=xa-phu-my; contact=Anh "
		   "Tuấn; phone=0912 000 199\n");
	fclose(f);
	return 0;
}

static pid_t start_site(const struct demo_site *s, size_t i)
{
	char speech[PATH_MAX + 16], seed[16], log[PATH_MAX + 32];
	const char *argv[32];
	size_t n = 0, k;
	pid_t pid;

	re_snprintf(seed, sizeof(seed), "%zu", i + 1);
	argv[n++] = demo.site_bin;
	argv[n++] = "--bridge";
	argv[n++] = demo.sip;
	argv[n++] = "--name";
	argv[n++] = s->user;
	argv[n++] = "--seed";
	argv[n++] = seed;
	argv[n++] = "--bitrate";
	argv[n++] = "16000";
	if (s->speech) {
		re_snprintf(speech, sizeof(speech), "%s/speech%s.wav",
			    demo.dir, s->speech);
		argv[n++] = "--speech";
		argv[n++] = speech;
		argv[n++] = "--speech-at";
		argv[n++] = s->at_s;
		argv[n++] = "--speech-every";
		argv[n++] = DEMO_EVERY_S;
	}
	for (k = 0; s->args[k] && n < ARRAY_SIZE(argv) - 1; k++)
		argv[n++] = s->args[k];
	argv[n] = NULL;
	re_snprintf(log, sizeof(log), "%s/site-%s.log", demo.dir, s->user);

	pid = fork();
	if (pid)
		return pid;
	/* the child: gone when the demo is, whatever kills it */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	{
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

void demo_start_sites(const char *http)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sites); i++)
		demo.pidv[i] = start_site(&sites[i], i);
	printf("\nlowbridge demo: %zu simulated sites are calling room 1000."
	       "\n  Open the console:  http://%s/\n"
	       "  Terminal console:  lowbridge top --http %s\n"
	       "  Files and logs:    %s\n  Stop with Ctrl-C.\n\n",
	       ARRAY_SIZE(sites), http, http, demo.dir);
	fflush(stdout);
}

void demo_stop_sites(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sites); i++) {
		if (demo.pidv[i] > 0)
			(void)kill(demo.pidv[i], SIGTERM);
	}
	/* they hang up and exit at once; a stuck one is not waited for
	 * long */
	for (int tries = 0; tries < 30; tries++) {
		bool left = false;

		for (i = 0; i < ARRAY_SIZE(sites); i++) {
			if (demo.pidv[i] <= 0)
				continue;
			if (waitpid(demo.pidv[i], NULL, WNOHANG) ==
			    demo.pidv[i])
				demo.pidv[i] = 0;
			else
				left = true;
		}
		if (!left)
			return;
		usleep(100000);
	}
	for (i = 0; i < ARRAY_SIZE(sites); i++) {
		if (demo.pidv[i] > 0) {
			(void)kill(demo.pidv[i], SIGKILL);
			(void)waitpid(demo.pidv[i], NULL, 0);
			demo.pidv[i] = 0;
		}
	}
}
