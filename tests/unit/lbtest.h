/**
 * @file lbtest.h  One cmocka runner for every unit-test group.
 *
 * Each tests/unit/test_<group>.c ends with LBTEST_GROUP(<group>, tests),
 * which registers the group with the runner through a constructor, so no
 * central table has to be edited. `lbtest -l` lists groups, `lbtest NAME`
 * runs one group, `lbtest` runs all.
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

#define LBTEST_GROUP(name, tests)					\
	static int lbtest_run_##name(void)				\
	{								\
		return cmocka_run_group_tests_name(#name, tests,	\
						   NULL, NULL);		\
	}								\
	__attribute__((constructor)) static void lbtest_reg_##name(void) \
	{								\
		lbtest_register(#name, lbtest_run_##name);		\
	}

/** Seed for reproducible random inputs: $LB_SEED or a fixed default. */
uint32_t lbtest_seed(void);

#endif
