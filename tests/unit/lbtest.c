/**
 * @file lbtest.c  Runner main() for all unit-test groups (see lbtest.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"

#define MAX_GROUPS 64

static struct {
	const char *name;
	lbtest_run_h *runh;
} groupv[MAX_GROUPS];
static size_t groupc;

void lbtest_register(const char *name, lbtest_run_h *runh)
{
	if (groupc < MAX_GROUPS) {
		groupv[groupc].name = name;
		groupv[groupc].runh = runh;
		++groupc;
	}
}

uint32_t lbtest_seed(void)
{
	const char *s = getenv("LB_SEED");

	return s ? (uint32_t)strtoul(s, NULL, 0) : 20261124u;
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
