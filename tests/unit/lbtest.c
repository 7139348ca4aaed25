/**
 * @file lbtest.c  Runner main() for all unit-test groups (see lbtest.h).
 *
 * Seed reports. lbtest_run_group() hands cmocka a copy of the group's
 * table in which every test without a setup fixture runs through
 * run_wrapped(): that notes the test's name, runs it, and clears the
 * name when it returns. A failed assertion leaves the test by longjmp,
 * so the name is still set when the next test starts or the group ends;
 * if the test had asked for a seed, the seed line is printed then.
 * Single-threaded, like cmocka.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"

#define MAX_GROUPS 64
#define SEED_DEFAULT 20261124u

static struct {
	const char *name;
	lbtest_run_h *runh;
} groupv[MAX_GROUPS];
static size_t groupc;

/* the test in progress, if it runs through run_wrapped() */
static struct {
	const char *group;
	const char *test;
	bool seeded;             /* it called lbtest_seed() */
	bool reported;           /* its seed line is out */
	uint32_t seed;
} cur;
static const char *prog = "lbtest";

void lbtest_register(const char *name, lbtest_run_h *runh)
{
	if (groupc < MAX_GROUPS) {
		groupv[groupc].name = name;
		groupv[groupc].runh = runh;
		++groupc;
	}
}

static void report_seed(void)
{
	if (cur.test && cur.seeded && !cur.reported) {
		print_message("# %s: failed with seed %u: rerun with\n"
			      "#   LB_SEED=%u %s %s\n", cur.test, cur.seed,
			      cur.seed, prog, cur.group);
	}
	cur.reported = true;
}

uint32_t lbtest_seed(void)
{
	const char *s = getenv("LB_SEED");
	const uint32_t seed = s ? (uint32_t)strtoul(s, NULL, 0) :
		SEED_DEFAULT;

	if (cur.test) {
		cur.seeded = true;
		cur.seed = seed;
	} else {
		/* not wrapped (a fixture test): say it now */
		print_message("# seed %u: rerun with LB_SEED=%u\n", seed,
			      seed);
	}
	return seed;
}

void lbtest_check_failed(const char *cond, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_message("# check failed: %s%s%s\n", cond, msg[0] ? ": " : "",
		      msg);
	report_seed();
}

/* test_func of the wrapped copies; *state is the original entry */
static void run_wrapped(void **state)
{
	const struct CMUnitTest *t = *state;

	/* still set: the previous test left by a failed assertion */
	report_seed();
	cur.test = t->name;
	cur.seeded = false;
	cur.reported = false;
	*state = t->initial_state;
	t->test_func(state);
	cur.test = NULL;
}

int lbtest_run_group(const char *group, const struct CMUnitTest *tests,
		     size_t n)
{
	struct CMUnitTest *v = calloc(n ? n : 1, sizeof(*v));
	size_t i;
	int failed;

	if (!v) {
		fprintf(stderr, "lbtest: %s: out of memory\n", group);
		return 1;
	}
	for (i = 0; i < n; i++) {
		v[i] = tests[i];
		if (tests[i].test_func && !tests[i].setup_func) {
			v[i].test_func = run_wrapped;
			v[i].initial_state = (void *)&tests[i];
		}
	}
	cur.group = group;
	failed = _cmocka_run_group_tests(group, v, n, NULL, NULL);
	report_seed();
	cur.test = NULL;
	free(v);
	return failed;
}

static int cmp_group(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

int main(int argc, char *argv[])
{
	int failed = 0;
	size_t i;
	bool ran = false;

	if (argc > 0 && argv[0])
		prog = argv[0];

	/* constructors register in link order; run in name order */
	qsort(groupv, groupc, sizeof(groupv[0]), cmp_group);

	if (argc > 1 && !strcmp(argv[1], "-l")) {
		for (i = 0; i < groupc; i++)
			printf("%s\n", groupv[i].name);
		return 0;
	}

	for (i = 0; i < groupc; i++) {
		if (argc > 1 && strcmp(argv[1], groupv[i].name))
			continue;
		ran = true;
		failed += groupv[i].runh();
	}
	if (!ran) {
		fprintf(stderr, "lbtest: no group named '%s' (try -l)\n",
			argc > 1 ? argv[1] : "");
		return 2;
	}
	return failed ? 1 : 0;
}
