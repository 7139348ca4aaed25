/**
 * @file test_rec.c  recordings/ on its own: the Ogg Opus writer and the
 * other track formats read back with libsndfile, the journal model
 * (including a line cut by a crash), and the catalogue rebuilt from a
 * session folder.
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>
#include <sqlite3.h>
#include "lbtest.h"
#include "recint.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	str_ncpy(tmpdir, "/tmp/lbrec.XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;

	re_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void tone(int16_t *f, uint32_t k, double hz)
{
	for (int i = 0; i < REC_FRAME; i++)
		f[i] = (int16_t)(8000 * sin(2 * M_PI * hz *
					    (k * REC_FRAME + i) / 16000.0));
}

/* 1 s silence, 2 s of a 440 Hz tone, 1 s silence, in every format: the
 * file reads back 4 s long, silent where it should be, the tone where it
 * should be; Ogg Opus silence costs almost nothing. */
static void test_tfile_formats(void **state)
{
	static const enum rec_format fmts[] = {REC_OPUS, REC_FLAC, REC_WAV};
	int16_t f[REC_FRAME];
	(void)state;

	for (size_t j = 0; j < ARRAY_SIZE(fmts); j++) {
		char path[300];
		struct tfile *tf = NULL;
		SF_INFO info;
		SNDFILE *sf;
		static short back[5 * 16000];
		double e_sil = 0, e_tone = 0;
		sf_count_t n;

		re_snprintf(path, sizeof(path), "%s/t.%s", tmpdir,
			    rec_format_ext(fmts[j]));
		assert_int_equal(tfile_open(&tf, path, fmts[j], 24000), 0);
		for (uint32_t k = 0; k < 200; k++) {
			tone(f, k, 440);
			assert_int_equal(tfile_frame(tf, f, k >= 50 &&
						     k < 150), 0);
		}
		assert_int_equal(tfile_sync(tf), 0);
		assert_int_equal(tfile_close(tf), 0);
		/* never overwrite a recording */
		assert_int_equal(tfile_open(&tf, path, fmts[j], 24000),
				 EEXIST);

		memset(&info, 0, sizeof(info));
		sf = sf_open(path, SFM_READ, &info);
		assert_non_null(sf);
		n = sf_readf_short(sf, back, ARRAY_SIZE(back));
		sf_close(sf);
		for (int i = 0; i < 16000 - 400; i++)
			e_sil += (double)back[i] * back[i];
		for (int i = 24000; i < 40000; i++)
			e_tone += (double)back[i] * back[i];
		print_message("# %s: %lld samples at %d Hz, silence rms %.1f, "
			      "tone rms %.0f\n", rec_format_name(fmts[j]),
			      (long long)n, info.samplerate,
			      sqrt(e_sil / 15600), sqrt(e_tone / 16000));
		assert_int_equal(info.samplerate, 16000);
		assert_true(llabs((long long)n - 64000) <= 320);
		assert_true(sqrt(e_sil / 15600) < 10);
		assert_true(sqrt(e_tone / 16000) > 4000);
	}
}

/* The cost of silence in Ogg Opus: an hour of it is tiny. */
static void test_opus_silence_bytes(void **state)
{
	char path[300];
	struct tfile *tf = NULL;
	FILE *f;
	long sz;
	(void)state;

	re_snprintf(path, sizeof(path), "%s/s.opus", tmpdir);
	assert_int_equal(tfile_open(&tf, path, REC_OPUS, 24000), 0);
	for (int k = 0; k < 50 * 60; k++)
		assert_int_equal(tfile_frame(tf, NULL, false), 0);
	assert_int_equal(tfile_close(tf), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fclose(f);
	print_message("# a minute of silence: %ld bytes (%.1f MB an hour)\n",
		      sz, sz * 60 / 1e6);
	assert_true(sz < 60000);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char journal[] =
	"{\"t\":0,\"utc\":\"x\",\"ev\":\"session_start\",\"session\":\"r-1\","
	"\"room\":\"r\",\"room_name\":\"Room\",\"format\":\"opus\","
	"\"unix_ms\":1796515737152,\"file\":\"mix.opus\"}\n"
	"{\"t\":0.5,\"utc\":\"x\",\"ev\":\"join\",\"site\":\"s1\",\"name\":"
	"\"Ha \\\"Noi\\\"\",\"uri\":\"sip:a@h\",\"addr\":\"1.2.3.4:5\","
	"\"file\":\"site-s1.opus\"}\n"
	"{\"t\":9,\"utc\":\"x\",\"ev\":\"talk\",\"site\":\"s1\",\"end\":12}\n"
	"{\"t\":2,\"utc\":\"x\",\"ev\":\"talk\",\"site\":\"s1\",\"end\":4}\n"
	"{\"t\":20,\"utc\":\"x\",\"ev\":\"segment\",\"site\":\"s1\","
	"\"file\":\"site-s1.2.opus\"}\n"
	"{\"t\":21,\"utc\":\"x\",\"ev\":\"bookmark\",\"site\":\"\","
	"\"text\":\"vote\"}\n"
	"{\"t\":30,\"utc\":\"x\",\"ev\":\"leave\",\"site\":\"s1\"}\n"
	"{\"t\":31,\"utc\":\"x\",\"ev\":\"sess";     /* cut by a crash */

/* The journal's story: sites, turns in order of start whatever order
 * they were written in, segments, events; a cut last line ignored. */
static void test_journal_model(void **state)
{
	char path[300];
	struct rmodel m;
	struct rsite *s;
	struct rturn *t;
	(void)state;

	re_snprintf(path, sizeof(path), "%s/journal.jsonl", tmpdir);
	write_file(path, journal);
	rmodel_init(&m);
	assert_int_equal(rmodel_load(&m, tmpdir), 0);
	assert_string_equal(m.id, "r-1");
	assert_false(m.closed);
	s = rmodel_site(&m, "s1", false);
	assert_non_null(s);
	assert_string_equal(s->name, "Ha \"Noi\"");
	assert_true(fabs(s->leave_s - 30) < 1e-9);
	assert_int_equal(list_count(&s->segl), 2);
	assert_string_equal(rmodel_file(&m, "s1"), "site-s1.opus");
	assert_int_equal(list_count(&m.turnl), 2);
	t = list_head(&m.turnl)->data;
	assert_true(fabs(t->start_s - 2) < 1e-9);
	assert_int_equal(list_count(&m.eventl), 1);
	assert_true(fabs(m.duration_s - 30) < 1e-9);
	assert_int_equal(rmodel_write_manifest(&m, tmpdir), 0);
	rmodel_reset(&m);
}

static int print_mbuf(const char *p, size_t size, void *arg)
{
	return mbuf_write_mem(arg, (const uint8_t *)p, size);
}

/* A catalogue rebuilt from the folders finds the session. */
static void test_catalog_rebuild(void **state)
{
	char dir[300], path[320];
	struct sqlite3 *db = NULL;
	struct re_printf pf;
	struct mbuf *mb = mbuf_alloc(1024);
	uint32_t n = 0;
	(void)state;

	re_snprintf(dir, sizeof(dir), "%s/recordings/r/r-1", tmpdir);
	assert_int_equal(rec_mkdir_p(dir), 0);
	re_snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	write_file(path, journal);
	assert_int_equal(cat_open(&db, tmpdir, false), 0);
	assert_int_equal(cat_rebuild(db, tmpdir, &n), 0);
	cat_close(db);
	assert_int_equal(n, 1);
	pf.vph = print_mbuf;
	pf.arg = mb;
	assert_non_null(mb);
	assert_int_equal(rec_cmd_list(&pf, tmpdir, "r", "", true), 0);
	assert_int_equal(mbuf_write_u8(mb, 0), 0);
	assert_non_null(strstr((char *)mb->buf, "\"session\":\"r-1\""));
	mem_deref(mb);
	/* an unknown session is not found, a path is refused */
	assert_int_equal(rec_find_session(tmpdir, "nope", dir, sizeof(dir)),
			 ENOENT);
	assert_int_equal(rec_find_session(tmpdir, "../r-1", dir, sizeof(dir)),
			 EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_tfile_formats, setup, teardown),
	cmocka_unit_test_setup_teardown(test_opus_silence_bytes, setup,
					teardown),
	cmocka_unit_test_setup_teardown(test_journal_model, setup, teardown),
	cmocka_unit_test_setup_teardown(test_catalog_rebuild, setup,
					teardown),
};

LBTEST_GROUP(rec, tests)
