/**
 * @file main.c  The lowbridge binary: subcommands and process life.
 *
 *   lowbridge serve [--config FILE] [--sip ADDR:PORT] [--http ADDR:PORT]
 *                   [--data DIR] [--log-level LEVEL]
 *   lowbridge check-config FILE
 *   lowbridge config-doc
 *   lowbridge version | help
 *
 * Threads: main is the network thread (libre's re_main); each room
 * starts its mixer thread.
 */
#include <re.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#define LOG_MODULE "main"
#include "auth.h"
#include "cli.h"
#include "demo.h"
#include "hw.h"
#include "top.h"
#include "http.h"
#include "lbtime.h"
#include "live.h"
#include "room.h"
#include "sipua.h"
#include "log.h"

#define SHUTDOWN_GRACE_MS 1500

static struct {
	struct cfg cfg;
	struct room_set *rooms;
	struct tmr tmr_exit;
	bool stopping;
	bool demo;                   /* lowbridge demo: start its sites */
} g;

static int usage(FILE *f)
{
	fprintf(f,
		"lowbridge %s - audio conference bridge\n\n"
		"usage: lowbridge COMMAND [options]\n\n"
		"commands:\n"
		"  serve          run the bridge (SIP, media, HTTP API)\n"
		"      --config FILE      INI configuration (default: "
		"embedded: room 1000)\n"
		"      --sip ADDR:PORT    SIP over UDP and TCP "
		"(default 127.0.0.1:5060)\n"
		"      --http ADDR:PORT   console and API (default "
		"127.0.0.1:8080)\n"
		"      --data DIR         data directory (default ./var)\n"
		"      --log-level LEVEL  error, warn, info, debug\n"
		"      --local-room DEV   this room's own microphones and "
		"loudspeakers\n"
		"                         (an ALSA device: see lowbridge "
		"devices)\n"
		"  recordings list [--room R] [--since DATE] [--json]\n"
		"                 the recorded sessions (newest last)\n"
		"  recordings show SESSION [--json]\n"
		"                 sites, files and the talk turns\n"
		"  recordings prune [--older-than DAYS] [--max-gb GB] "
		"[--dry-run]\n"
		"  export SESSION [--site ID|NAME | --mix] [--from S] "
		"[--to S] -o FILE\n"
		"                 a clip, .wav .flac .ogg by the extension\n"
		"  replay SESSION [--site ID|NAME] [--from S] [--until S] "
		"[--speed X]\n"
		"                 [--to-file F.wav]\n"
		"                 the clerk's player (keys: see "
		"docs/clerk-guide.md)\n"
		"  minutes SESSION -o FILE.md|FILE.html\n"
		"                 a draft of the minutes\n"
		"  report sites [--since DATE] [--room R] [--json]\n"
		"                 readiness checks per site, most failures "
		"first\n"
		"  report windows [--since DATE] [--room R] [--json]\n"
		"                 the test windows kept\n"
		"      (these take --data DIR or --config FILE)\n"
		"  devices [--json] [--profiles FILE]\n"
		"                 audio devices and the speech processing "
		"each does\n"
		"  top [--http ADDR:PORT] [--room ID] [--user NAME]\n"
		"                 the operator's console in a terminal\n"
		"  demo [--sip A:P] [--http A:P] [--dir DIR]\n"
		"                 the bridge with simulated sites, to see "
		"the console\n"
		"  passwd         read a password on standard input, print "
		"its\n"
		"                 password_hash line for a [user] section\n"
		"  check-config FILE  validate a configuration file and "
		"exit\n"
		"  config-doc     print the configuration reference "
		"(markdown)\n"
		"  version        print the version\n"
		"  help           this text\n\n"
		"See docs/ for the operator guide and "
		"docs/config.md for every key.\n", LB_VERSION);
	return f == stderr ? 2 : 0;
}

static int mkdir_p(const char *path)
{
	char buf[CFG_PATH_MAX];
	char *p;

	str_ncpy(buf, path, sizeof(buf));
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return errno;
	return 0;
}

static void force_exit(void *arg)
{
	(void)arg;
	log_warn("shutdown: sites did not all confirm BYE in time\n");
	re_cancel();
}

static void signal_handler(int sig)
{
	if (g.stopping) {
		re_cancel();
		return;
	}
	g.stopping = true;
	log_info("signal %d: hanging up %u sites and exiting\n", sig,
		 rooms_site_count(g.rooms));
	rooms_hangup_all(g.rooms);
	live_close();
	http_api_close();
	/* sip_close(false) calls re_cancel once every BYE is answered */
	sipua_close(false);
	tmr_start(&g.tmr_exit, SHUTDOWN_GRACE_MS, force_exit, NULL);
}

static int load_config(int argc, char *argv[], struct cfg *cfg)
{
	char err[320];
	int i;

	cfg_defaults(cfg);
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			if (cfg_load(cfg, argv[i + 1], err, sizeof(err))) {
				fprintf(stderr, "lowbridge: %s\n", err);
				return EINVAL;
			}
		}
	}
	for (i = 0; i < argc; i++) {
		const char *key = NULL;

		if (!strcmp(argv[i], "--config")) {
			++i;
			continue;
		}
		if (!strcmp(argv[i], "--local-room") && i + 1 < argc) {
			/* the first room's: the embedded one, or the
			 * file's first */
			str_ncpy(cfg->roomv[0].local_room, argv[++i],
				 sizeof(cfg->roomv[0].local_room));
			continue;
		}
		if (!strcmp(argv[i], "--sip"))
			key = "sip";
		else if (!strcmp(argv[i], "--http"))
			key = "http";
		else if (!strcmp(argv[i], "--data"))
			key = "data";
		else if (!strcmp(argv[i], "--log-level"))
			key = "log_level";
		else {
			fprintf(stderr, "lowbridge: serve: unknown option "
				"'%s' (see lowbridge help)\n", argv[i]);
			return EINVAL;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "lowbridge: %s needs a value\n",
				argv[i]);
			return EINVAL;
		}
		if (cfg_set_bridge(cfg, key, argv[++i], err, sizeof(err))) {
			fprintf(stderr, "lowbridge: %s: %s\n", argv[i - 1],
				err);
			return EINVAL;
		}
	}
	return 0;
}

/* With realtime scheduling, a page fault on the mixing path (a page of
 * a site's state pushed out to swap) would cost a tick: lock what is
 * touched. MCL_ONFAULT locks pages as they are used rather than all the
 * address space at once. Not under the sanitizers: their shadow memory
 * is terabytes of address space. */
/* Each recorded site holds a file open, and libre refuses to poll a
 * descriptor numbered past its table (1,024 by default): a room of
 * 1,500 recorded sites would lose its HTTP and SIP sockets. The table
 * follows the process's limit, raised to the hard one (at most 65,536). */
static void fd_limit_setup(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < 65536 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* libre 1.1.0 takes the count itself (no -1 for the limit) */
	if (rl.rlim_cur > 65536)
		rl.rlim_cur = 65536;
	if (fd_setsize((int)rl.rlim_cur))
		log_warn("main: descriptor table left at libre's "
			 "default\n");
}

static void realtime_setup(const struct cfg *cfg)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	(void)cfg;
#else
	if (!cfg->rt_prio)
		return;
#ifdef MCL_ONFAULT
	if (!mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) {
		log_info("realtime: memory locked; mixer threads ask for "
			 "SCHED_FIFO %u\n", cfg->rt_prio == CFG_AUTO ?
			 LB_RT_PRIO_AUTO : cfg->rt_prio);
		return;
	}
#endif
	if (cfg->rt_prio == CFG_AUTO)
		log_info("realtime: not permitted here (normal "
			 "scheduling; see docs/threads.md)\n");
	else
		log_warn("realtime: memory could not be locked (%m); "
			 "mixer threads still ask for SCHED_FIFO %u\n",
			 errno, cfg->rt_prio);
#endif
}

static int serve(int argc, char *argv[])
{
	struct cfg *cfg = &g.cfg;
	int err;

	err = load_config(argc, argv, cfg);
	if (err) {
		cfg_free(cfg);
		return 2;
	}
	lb_log_level = cfg->log_level;
	/* The console can mute and remove sites: open to the network only
	 * with accounts (an office LAN is not a locked room). */
	if (!cfg->userc && !sa_is_loopback(&cfg->http_addr)) {
		re_fprintf(stderr, "lowbridge: http address %J is not "
			   "loopback and no accounts exist: add [user NAME] "
			   "sections (lowbridge passwd makes the hash) or "
			   "serve on 127.0.0.1\n", &cfg->http_addr);
		cfg_free(cfg);
		return 2;
	}

	err = mkdir_p(cfg->data_dir);
	if (err) {
		fprintf(stderr, "lowbridge: data directory %s: %s\n",
			cfg->data_dir, strerror(err));
		return 1;
	}

	err = libre_init();
	if (err) {
		fprintf(stderr, "lowbridge: libre_init: %s\n", strerror(err));
		return 1;
	}
	lb_log_route_libre();
	fd_limit_setup();
	tmr_init(&g.tmr_exit);
	/* a site that vanishes mid-write must not kill the bridge */
	signal(SIGPIPE, SIG_IGN);

	err = auth_init(cfg);
	if (err)
		goto out;
	realtime_setup(cfg);
	err = rooms_alloc(&g.rooms, cfg);
	if (err)
		goto out;
	err = sipua_init(cfg, g.rooms);
	if (err)
		goto out;
	err = live_init(g.rooms);
	if (err)
		goto out;
	err = http_api_init(&cfg->http_addr, cfg->tls_cert, g.rooms,
			    cfg->data_dir);
	if (err)
		goto out;

	log_info("lowbridge %s ready: dial sip:%s@%J (UDP and TCP); "
		 "console http%s://%J/ (API /api/rooms); data in %s\n",
		 LB_VERSION, cfg->roomv[0].id, &cfg->sip_addr,
		 cfg->tls_cert[0] ? "s" : "", &cfg->http_addr,
		 cfg->data_dir);

	if (g.demo) {
		char http[64];

		re_snprintf(http, sizeof(http), "%J", &cfg->http_addr);
		demo_start_sites(http);
	}
	err = re_main(signal_handler);
	if (err == EINTR || (g.stopping && err))
		err = 0;
 out:
	if (g.demo)
		demo_stop_sites();
	tmr_cancel(&g.tmr_exit);
	live_close();
	http_api_close();
	rooms_hangup_all(g.rooms);
	g.rooms = mem_deref(g.rooms);
	sipua_close(true);
	auth_close();
	libre_close();
	cfg_free(cfg);
	if (err)
		log_err("exiting: %m\n", err);
	else
		log_info("bye\n");
	return err ? 1 : 0;
}

/* `lowbridge devices [--json] [--profiles FILE]` */
static int devices(int argc, char *argv[])
{
	struct hw_profiles *prof = NULL;
	struct hw_devinfo *v = NULL;
	const char *pfile = NULL;
	bool json = false;
	char err[300];
	size_t n = 0;
	int i, e;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--profiles") && i + 1 < argc)
			pfile = argv[++i];
		else {
			fprintf(stderr, "usage: lowbridge devices [--json] "
				"[--profiles FILE]\n");
			return 2;
		}
	}
	e = pfile ? hw_profiles_load_file(&prof, pfile, err, sizeof(err)) :
		hw_profiles_load(&prof, NULL, err, sizeof(err));
	if (e) {
		fprintf(stderr, "lowbridge: profiles: %s\n", err);
		return 2;
	}
	hw_quiet_alsa();
	e = hw_discover(&v, &n, prof);
	if (!e)
		hw_print_devices(stdout, v, n, json);
	hw_devinfo_free(v, n);
	hw_profiles_free(prof);
	if (e) {
		fprintf(stderr, "lowbridge devices: %s\n", strerror(e));
		return 1;
	}
	return 0;
}

/* `lowbridge demo [--sip A:P] [--http A:P] [--dir DIR]` */
static int demo(int argc, char *argv[])
{
	const char *sip = "127.0.0.1:5060", *http = "127.0.0.1:8080";
	char dir[256], cfg_path[300];
	char *sargv[2];
	int i;

	re_snprintf(dir, sizeof(dir), "/tmp/lowbridge-demo-%u",
		    (unsigned)getuid());
	for (i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--sip"))
			sip = argv[i + 1];
		else if (!strcmp(argv[i], "--http"))
			http = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			str_ncpy(dir, argv[i + 1], sizeof(dir));
		else
			break;
	}
	if (i != argc) {
		fprintf(stderr, "usage: lowbridge demo [--sip ADDR:PORT] "
			"[--http ADDR:PORT] [--dir DIR]\n");
		return 2;
	}
	if (demo_prepare(dir, sip, http, cfg_path, sizeof(cfg_path)))
		return 1;
	g.demo = true;
	sargv[0] = "--config";
	sargv[1] = cfg_path;
	return serve(2, sargv);
}

static int check_config(int argc, char *argv[])
{
	struct cfg cfg;
	char err[320];

	if (argc < 1)
		return usage(stderr);
	cfg_defaults(&cfg);
	if (cfg_load(&cfg, argv[0], err, sizeof(err))) {
		fprintf(stderr, "lowbridge: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}
	printf("%s: OK (%zu rooms, %zu accounts)\n", argv[0], cfg.roomc,
	       cfg.userc);
	cfg_free(&cfg);
	return 0;
}

/* `lowbridge passwd`: the password from standard input (a pipe, or
 * typed: the terminal's echo is off while it is), the hash line out. */
static int passwd(void)
{
	const bool tty = isatty(STDIN_FILENO);
	struct termios t0, t;
	char pw[256], hash[256];
	char *got;
	size_t n;

	if (tty) {
		fprintf(stderr, "password (not shown): ");
		(void)tcgetattr(STDIN_FILENO, &t0);
		t = t0;
		t.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	}
	got = fgets(pw, sizeof(pw), stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t0);
		fprintf(stderr, "\n");
	}
	if (!got) {
		fprintf(stderr, "lowbridge passwd: no password on standard "
			"input\n");
		return 2;
	}
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n < 8) {
		fprintf(stderr, "lowbridge passwd: use at least 8 "
			"characters\n");
		return 2;
	}
	if (auth_hash(pw, hash, sizeof(hash))) {
		fprintf(stderr, "lowbridge passwd: cannot hash\n");
		return 1;
	}
	memset(pw, 0, sizeof(pw));
	printf("password_hash = %s\n", hash);
	return 0;
}

static int print_stdout(const char *p, size_t size, void *arg)
{
	(void)arg;
	return fwrite(p, 1, size, stdout) == size ? 0 : EIO;
}

int main(int argc, char *argv[])
{
	struct re_printf pf = {print_stdout, NULL};

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "check-config"))
		return check_config(argc - 2, argv + 2);
	if (!strcmp(argv[1], "recordings"))
		return cli_recordings(argc - 2, argv + 2);
	if (!strcmp(argv[1], "export"))
		return cli_export(argc - 2, argv + 2);
	if (!strcmp(argv[1], "report"))
		return cli_report(argc - 2, argv + 2);
	if (!strcmp(argv[1], "minutes"))
		return cli_minutes(argc - 2, argv + 2);
	if (!strcmp(argv[1], "replay"))
		return cli_replay(argc - 2, argv + 2);
	if (!strcmp(argv[1], "devices"))
		return devices(argc - 2, argv + 2);
	if (!strcmp(argv[1], "top"))
		return cli_top(argc - 2, argv + 2);
	if (!strcmp(argv[1], "demo"))
		return demo(argc - 2, argv + 2);
	if (!strcmp(argv[1], "passwd"))
		return passwd();
	if (!strcmp(argv[1], "config-doc"))
		return cfg_print_doc(&pf, NULL) ? 1 : 0;
	if (!strcmp(argv[1], "version")) {
		printf("lowbridge %s\n", LB_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h"))
		return usage(stdout);
	fprintf(stderr, "lowbridge: unknown command '%s'\n\n", argv[1]);
	return usage(stderr);
}
