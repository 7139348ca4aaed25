/**
 * @file cli.c  The clerk's subcommands: recordings (list, show, prune),
 * export, replay, minutes, and the readiness history (report). Each
 * takes --data DIR (or --config FILE for
 * its data key; default ./var) and, where it prints, --json.
 *
 * Threads: the command's, one.
 */
#include <re.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"
#include "rec.h"

struct opts {
	const char *data;
	const char *room;
	const char *since;
	const char *site;
	const char *out;
	const char *to_file;
	double from, to;
	double until;
	double speed;
	double older_days, max_gb;
	bool json, mix, dry;
	const char *pos[4];
	int npos;
	struct cfg cfg;
};

static int print_stdout(const char *p, size_t size, void *arg)
{
	(void)arg;
	return fwrite(p, 1, size, stdout) == size ? 0 : EIO;
}

static int num(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end == s || *end ? EINVAL : 0;
}

/* --from/--to take seconds or H:MM:SS / MM:SS */
static int when(const char *s, double *v)
{
	double h = 0, m = 0, sec = 0;

	if (sscanf(s, "%lf:%lf:%lf", &h, &m, &sec) == 3) {
		*v = h * 3600 + m * 60 + sec;
		return 0;
	}
	if (sscanf(s, "%lf:%lf", &m, &sec) == 2 && strchr(s, ':')) {
		*v = m * 60 + sec;
		return 0;
	}
	return num(s, v);
}

static int parse(struct opts *o, int argc, char *argv[])
{
	char err[320];
	int i;

	memset(o, 0, sizeof(*o));
	o->from = 0;
	o->to = -1;
	o->speed = 1.0;
	cfg_defaults(&o->cfg);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int e = 0;

		if (!strcmp(a, "--json")) { o->json = true; continue; }
		if (!strcmp(a, "--mix")) { o->mix = true; continue; }
		if (!strcmp(a, "--dry-run")) { o->dry = true; continue; }
		if (a[0] != '-') {
			if (o->npos < 4)
				o->pos[o->npos++] = a;
			continue;
		}
		if (!v) {
			fprintf(stderr, "lowbridge: %s needs a value\n", a);
			return EINVAL;
		}
		++i;
		if (!strcmp(a, "--data"))
			o->data = v;
		else if (!strcmp(a, "--config")) {
			if (cfg_load(&o->cfg, v, err, sizeof(err))) {
				fprintf(stderr, "lowbridge: %s\n", err);
				return EINVAL;
			}
		}
		else if (!strcmp(a, "--room"))
			o->room = v;
		else if (!strcmp(a, "--since"))
			o->since = v;
		else if (!strcmp(a, "--site"))
			o->site = v;
		else if (!strcmp(a, "-o"))
			o->out = v;
		else if (!strcmp(a, "--to-file") || !strcmp(a, "--out"))
			o->to_file = v;
		else if (!strcmp(a, "--from"))
			e = when(v, &o->from);
		else if (!strcmp(a, "--to"))
			e = when(v, &o->to);
		else if (!strcmp(a, "--until"))
			e = when(v, &o->until);
		else if (!strcmp(a, "--speed"))
			e = num(v, &o->speed);
		else if (!strcmp(a, "--older-than"))
			e = num(v, &o->older_days);
		else if (!strcmp(a, "--max-gb"))
			e = num(v, &o->max_gb);
		else {
			fprintf(stderr, "lowbridge: unknown option '%s' (see "
				"lowbridge help)\n", a);
			return EINVAL;
		}
		if (e) {
			fprintf(stderr, "lowbridge: %s: '%s' is not a "
				"number\n", a, v);
			return EINVAL;
		}
	}
	if (!o->data)
		o->data = o->cfg.data_dir;
	return 0;
}

static int fail(int err, const char *what, const char *msg)
{
	if (msg && *msg)
		fprintf(stderr, "lowbridge: %s\n", msg);
	else
		fprintf(stderr, "lowbridge: %s: %s\n", what,
			err == ENOENT ? "not found" : strerror(err));
	return err == EINVAL ? 2 : 1;
}

int cli_recordings(int argc, char *argv[])
{
	struct re_printf pf = {print_stdout, NULL};
	struct opts o;
	int err;

	if (argc < 1 || parse(&o, argc - 1, argv + 1))
		return 2;
	if (!strcmp(argv[0], "list")) {
		err = rec_cmd_list(&pf, o.data, o.room, o.since, o.json);
		return err ? fail(err, o.data, NULL) : 0;
	}
	if (!strcmp(argv[0], "show")) {
		if (o.npos < 1) {
			fprintf(stderr, "usage: lowbridge recordings show "
				"SESSION [--json]\n");
			return 2;
		}
		err = rec_cmd_show(&pf, o.data, o.pos[0], o.json);
		return err ? fail(err, o.pos[0], NULL) : 0;
	}
	if (!strcmp(argv[0], "prune")) {
		if (!o.older_days && !o.max_gb) {
			o.older_days = o.cfg.retention_days;
			o.max_gb = o.cfg.retention_gb;
		}
		if (!o.older_days && !o.max_gb) {
			fprintf(stderr, "lowbridge: recordings prune: give "
				"--older-than DAYS and/or --max-gb GB (or a "
				"--config with retention_days/_gb)\n");
			return 2;
		}
		err = rec_cmd_prune(&pf, o.data, o.older_days, o.max_gb,
				    o.dry);
		return err ? fail(err, o.data, NULL) : 0;
	}
	fprintf(stderr, "lowbridge: recordings %s: want list, show or "
		"prune\n", argv[0]);
	return 2;
}

int cli_report(int argc, char *argv[])
{
	struct re_printf pf = {print_stdout, NULL};
	struct opts o;
	int err;

	if (argc < 1 || parse(&o, argc - 1, argv + 1))
		return 2;
	if (!strcmp(argv[0], "sites")) {
		err = rec_cmd_report_sites(&pf, o.data, o.room, o.since,
					   o.json);
		return err ? fail(err, o.data, NULL) : 0;
	}
	if (!strcmp(argv[0], "windows")) {
		err = rec_cmd_report_windows(&pf, o.data, o.room, o.since,
					     o.json);
		return err ? fail(err, o.data, NULL) : 0;
	}
	fprintf(stderr, "lowbridge: report %s: want sites or windows\n",
		argv[0]);
	return 2;
}

int cli_export(int argc, char *argv[])
{
	struct opts o;
	char msg[400] = "";
	int err;

	if (parse(&o, argc, argv))
		return 2;
	if (o.npos < 1 || !o.out) {
		fprintf(stderr, "usage: lowbridge export SESSION [--site "
			"ID|NAME | --mix] [--from S] [--to S] -o FILE\n");
		return 2;
	}
	err = rec_cmd_export(o.data, o.pos[0], o.mix ? "mix" : o.site,
			     o.from, o.to, o.out, msg, sizeof(msg));
	if (err)
		return fail(err, o.pos[0], msg);
	printf("%s\n", msg);
	return 0;
}

int cli_minutes(int argc, char *argv[])
{
	struct opts o;
	char msg[400] = "";
	int err;

	if (parse(&o, argc, argv))
		return 2;
	if (o.npos < 1 || !o.out) {
		fprintf(stderr, "usage: lowbridge minutes SESSION -o "
			"FILE.md|FILE.html\n");
		return 2;
	}
	err = rec_cmd_minutes(o.data, o.pos[0], o.out, msg, sizeof(msg));
	if (err)
		return fail(err, o.pos[0], msg);
	printf("%s\n", msg);
	return 0;
}

int cli_replay(int argc, char *argv[])
{
	struct rec_replay_prm rp;
	struct opts o;
	int err;

	if (parse(&o, argc, argv))
		return 2;
	if (o.npos < 1) {
		fprintf(stderr, "usage: lowbridge replay SESSION [--site ID|"
			"NAME] [--from S] [--until S] [--speed 0.5..2] "
			"[--to-file FILE.wav]\n");
		return 2;
	}
	if (o.speed < 0.5 || o.speed > 2.0) {
		fprintf(stderr, "lowbridge: --speed %.2f: between 0.5 and "
			"2\n", o.speed);
		return 2;
	}
	memset(&rp, 0, sizeof(rp));
	rp.data_dir = o.data;
	rp.session = o.pos[0];
	rp.to_file = o.to_file;
	rp.speed = o.speed;
	rp.start_s = o.from;
	rp.until_s = o.until;
	rp.solo = o.site;
	rp.in_fd = STDIN_FILENO;
	rp.out_fd = STDOUT_FILENO;
	err = rec_replay(&rp);
	return err ? 1 : 0;
}
