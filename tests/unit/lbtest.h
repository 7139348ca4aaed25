/**
 * @file lbtest.h  One cmocka runner for every unit-test group.
 *
 * Each tests/unit/test_<group>.c ends with LBTEST_GROUP(<group>, tests),
 * which registers the group with the runner through a constructor, so no
 * central table has to be edited. `lbtest -l` lists groups, `lbtest NAME`
 * runs one group, `lbtest` runs all.
 *
 * Seeds. A test that draws random inputs takes its seed from
 * lbtest_seed() ($LB_SEED or a fixed default) and derives any others
 * from it. The runner remembers which test asked for a seed: when such a
 * test fails, by any assertion, the output names the seed and the command
 * that reruns it (Opus's "SEED=%u"), e.g.
 *   # test_no_leak_chaos: failed with seed 20261124: rerun with
 *   #   LB_SEED=20261124 build/tests/unit/lbtest jb
 * LB_CHECK() adds the measured figures to a failure and prints the seed
 * at once; a plain assert_*() gets the seed line right after cmocka's
 * own report. Tests with a cmocka setup fixture are run as they are, and
 * lbtest_seed() then prints the seed whenever it is called.
 */
#ifndef LB_LBTEST_H
#define LB_LBTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

typedef int (lbtest_run_h)(void);

void lbtest_register(const char *name, lbtest_run_h *runh);

/** Run a group's tests through cmocka, each wrapped so that a failure
 *  of a seeded test names its seed. Returns the number of failures. */
int lbtest_run_group(const char *group, const struct CMUnitTest *tests,
		     size_t n);

#define LBTEST_GROUP(name, tests)					\
	static int lbtest_run_##name(void)				\
	{								\
		return lbtest_run_group(#name, tests,			\
					sizeof(tests) / sizeof(tests[0])); \
	}								\
	__attribute__((constructor)) static void lbtest_reg_##name(void) \
	{								\
		lbtest_register(#name, lbtest_run_##name);		\
	}

/** Seed for reproducible random inputs: $LB_SEED or a fixed default.
 *  Marks the running test as seeded (see above). */
uint32_t lbtest_seed(void);

/** Print a failed check: the condition, the figures (printf fmt), and
 *  for a seeded test the seed and the rerun command. LB_CHECK's half. */
void lbtest_check_failed(const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * assert_true(cond) that first prints what was measured:
 *   LB_CHECK(erle_db > 20.0f, "ERLE %.1f dB", (double)erle_db);
 * and, in a seeded test, the seed and how to rerun it.
 */
#define LB_CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			lbtest_check_failed(#cond, __VA_ARGS__);	\
			fail();						\
		}							\
	} while (0)

/** LB_CHECK() without figures. */
#define LB_SEED_CHECK(cond) LB_CHECK(cond, "%s", "")

#endif
