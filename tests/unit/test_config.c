/**
 * @file test_config.c  Configuration loading, errors, generated docs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lbtest.h"
#include "config.h"
#include "dsp.h"

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	strcpy(path, "/tmp/lbcfgXXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(struct cfg *cfg, const char *text, char *err, size_t sz)
{
	const char *p = write_tmp(text);
	int r;

	cfg_defaults(cfg);
	err[0] = '\0';
	r = cfg_load(cfg, p, err, sz);
	unlink(p);
	return r;
}

static void test_defaults(void **state)
{
	struct cfg cfg;
	(void)state;

	cfg_defaults(&cfg);
	assert_int_equal(cfg.roomc, 1);
	assert_string_equal(cfg.roomv[0].id, "1000");
	assert_int_equal(sa_port(&cfg.sip_addr), 5060);
	assert_int_equal(sa_port(&cfg.http_addr), 8080);
	assert_int_equal(cfg.rtp_timeout_s, 30);
	assert_int_equal(cfg.roomv[0].max_talkers, 3);
}

/* The processing defaults of the table and of dsp/ are one set. */
static void test_dsp_defaults(void **state)
{
	struct dsp_proc_prm d;
	const struct cfg_room *r;
	struct cfg cfg;
	(void)state;

	cfg_defaults(&cfg);
	r = &cfg.roomv[0];
	dsp_proc_defaults(&d);
	assert_int_equal(r->ns, d.ns);
	assert_int_equal(r->ns_db, d.ns_db);
	assert_int_equal(r->agc, d.agc);
	assert_int_equal(r->agc_target_dbfs, (int32_t)d.agc_target_dbfs);
	assert_int_equal(r->agc_max_gain_db, (int32_t)d.agc_max_gain_db);
	assert_int_equal(r->aec, d.aec);
}

static void test_rooms(void **state)
{
	struct cfg cfg;
	char err[256];
	(void)state;

	assert_int_equal(load(&cfg, "[bridge]\nsip = 127.0.0.1:5070\n"
			      "rtp_ports = 30000-30099 ; comment\n\n"
			      "[room 2000]\nname = Health\nmax_sites=50\n"
			      "[room hall-3]\n", err, sizeof(err)), 0);
	assert_int_equal(cfg.roomc, 2);
	assert_string_equal(cfg.roomv[0].id, "2000");
	assert_string_equal(cfg.roomv[0].name, "Health");
	assert_int_equal(cfg.roomv[0].max_sites, 50);
	/* a section with no keys still declares a room, with defaults */
	assert_string_equal(cfg.roomv[1].id, "hall-3");
	assert_int_equal(cfg.roomv[1].max_sites, 500);
	assert_int_equal(cfg.rtp_port_min, 30000);
	assert_int_equal(sa_port(&cfg.sip_addr), 5070);
	assert_non_null(cfg_room_find(&cfg, "hall-3"));
	assert_null(cfg_room_find(&cfg, "1000"));
}

static void expect_err(const char *text, const char *needle)
{
	struct cfg cfg;
	char err[256];

	assert_int_not_equal(load(&cfg, text, err, sizeof(err)), 0);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_errors(void **state)
{
	(void)state;

	expect_err("[bridge]\nrtp_timeout_s = 0\n",
		   ":2: rtp_timeout_s: 0 out of range [1,3600]");
	expect_err("[bridge]\n\nsip = nowhere\n", ":3: sip: 'nowhere'");
	expect_err("[room 1]\nmax_sites = -4\n", ":2: max_sites:");
	expect_err("[room 1]\nmax_sites = 12abc\n", "not a whole number");
	expect_err("[room 1]\ncolour = red\n", ":2: colour: unknown key");
	expect_err("[room 1]\n[room 1]\n", ":2: [room 1]: room declared");
	expect_err("[rooms]\n", ":1: [rooms]: unknown section");
	expect_err("[room a b/c]\n", "unknown section");
	expect_err("[room a/b]\n", "room id");
	expect_err("name = x\n", ":1: name: key outside");
	expect_err("[bridge]\nlog_level = loud\n", "log_level: 'loud'");
	expect_err("[bridge]\nrtp_ports = 5000\n", "not MIN-MAX");
	expect_err("[bridge]\nrtp_ports = 5000-5000\n", "no RTP/RTCP");
	expect_err("[bridge]\njunk line\n", ":2: syntax error");
}

/* test_window: daily or dated, repeatable, nonsense refused */
static void test_windows(void **state)
{
	struct cfg cfg;
	char err[256];
	(void)state;

	assert_int_equal(load(&cfg, "[room 1]\ntest_window = 07:30-08:00\n"
			      "test_window = 2026-12-09 13:30-14:15\n"
			      "ready_max_loss_pct = 5\n", err, sizeof(err)),
			 0);
	assert_int_equal(cfg.roomv[0].winc, 2);
	assert_int_equal(cfg.roomv[0].winv[0].date, 0);
	assert_int_equal(cfg.roomv[0].winv[0].start_min, 450);
	assert_int_equal(cfg.roomv[0].winv[0].end_min, 480);
	assert_int_equal(cfg.roomv[0].winv[1].date, 20261209);
	assert_int_equal(cfg.roomv[0].winv[1].end_min, 855);
	assert_int_equal(cfg.roomv[0].ready_max_loss_pct, 5);
	assert_int_equal(cfg.roomv[0].ready_probe_dbfs, -30);
	cfg_free(&cfg);
	expect_err("[room 1]\ntest_window = 08:00-07:30\n", "end after start");
	expect_err("[room 1]\ntest_window = 25:00-26:00\n", "test_window:");
	expect_err("[room 1]\ntest_window = 7h30\n", "HH:MM-HH:MM");
	expect_err("[room 1]\ntest_window = 2026-13-01 07:00-08:00\n",
		   "test_window:");
	expect_err("[room 1]\ntest_window = 07:00-08:00 daily\n",
		   "test_window:");
	expect_err("[room 1]\nready_probe_dbfs = 0\n", "out of range");
	expect_err("[room 1]\ntest_window = 01:00-02:00\n"
		   "test_window = 02:00-03:00\ntest_window = 03:00-04:00\n"
		   "test_window = 04:00-05:00\ntest_window = 05:00-06:00\n"
		   "test_window = 06:00-07:00\ntest_window = 07:00-08:00\n"
		   "test_window = 08:00-09:00\ntest_window = 09:00-10:00\n",
		   "more than 8");
}

static void test_bridge_only(void **state)
{
	struct cfg cfg;
	char err[256];
	(void)state;

	/* no room declared: the embedded room 1000 stays */
	assert_int_equal(load(&cfg, "[bridge]\nsip = 127.0.0.1:5999\n", err,
			      sizeof(err)), 0);
	assert_int_equal(cfg.roomc, 1);
	assert_string_equal(cfg.roomv[0].id, "1000");
}

static void test_flags(void **state)
{
	struct cfg cfg;
	char err[256];
	(void)state;

	cfg_defaults(&cfg);
	assert_int_equal(cfg_set_bridge(&cfg, "http", "[::1]:9000", err,
					sizeof(err)), 0);
	assert_int_equal(sa_port(&cfg.http_addr), 9000);
	assert_int_not_equal(cfg_set_bridge(&cfg, "http", "1.2.3.4:0", err,
					    sizeof(err)), 0);
	assert_non_null(strstr(err, "port 0"));
}

static int buf_print(const char *p, size_t size, void *arg)
{
	struct mbuf *mb = arg;

	return mbuf_write_mem(mb, (const uint8_t *)p, size);
}

/* docs/config.md is generated from the table: keep them in step */
static void test_doc_in_sync(void **state)
{
	struct mbuf *mb = mbuf_alloc(8192);
	struct re_printf pf = {buf_print, mb};
	char *file = NULL;
	size_t n = 0;
	FILE *f;
	(void)state;

	assert_int_equal(cfg_print_doc(&pf, NULL), 0);
	f = fopen("docs/config.md", "r");
	if (!f)
		fail_msg("docs/config.md missing: run build/lowbridge "
			 "config-doc > docs/config.md");
	file = malloc(mb->end + 2);
	n = fread(file, 1, mb->end + 1, f);
	fclose(f);
	if (n != mb->end || memcmp(file, mb->buf, n))
		fail_msg("docs/config.md is stale: run build/lowbridge "
			 "config-doc > docs/config.md");
	free(file);
	mem_deref(mb);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_dsp_defaults),
	cmocka_unit_test(test_rooms),
	cmocka_unit_test(test_errors),
	cmocka_unit_test(test_windows),
	cmocka_unit_test(test_bridge_only),
	cmocka_unit_test(test_flags),
	cmocka_unit_test(test_doc_in_sync),
};

LBTEST_GROUP(config, tests)
