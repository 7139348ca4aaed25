/**
 * @file test_route.c  HTTP routing: path splitting, pattern matching,
 * query reading and decoding, on good and hostile input.
 */
#include <re.h>
#include <errno.h>
#include <string.h>
#include "lbtest.h"
#include "route.h"

static int split(struct route_path *rp, const char *s)
{
	struct pl p;

	pl_set_str(&p, s);
	return route_split(rp, &p);
}

static void test_split_match(void **state)
{
	static const char *bad[] = {
		"", "api", "//", "/api//rooms", "/api/../etc", "/./x",
		"/a b", "/a\x7f", "/1/2/3/4/5/6/7/8/9",
	};
	struct route_path rp;
	struct pl cap[2];
	size_t i;
	(void)state;

	assert_int_equal(split(&rp, "/api/rooms/1000/sites/s1/"), 0);
	assert_int_equal(rp.segc, 5);
	assert_true(route_match(&rp, "/api/rooms/{}/sites/{}", cap, 2));
	assert_int_equal(pl_strcmp(&cap[0], "1000"), 0);
	assert_int_equal(pl_strcmp(&cap[1], "s1"), 0);
	assert_false(route_match(&rp, "/api/rooms/{}", cap, 2));
	assert_int_equal(split(&rp, "/"), 0);
	assert_int_equal(rp.segc, 0);
	assert_int_equal(split(&rp, "/api/rooms"), 0);
	assert_true(route_match(&rp, "/api/rooms", NULL, 0));
	assert_false(route_match(&rp, "/api/room", NULL, 0));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(split(&rp, bad[i]), EBADMSG);
}

static void test_query(void **state)
{
	struct pl q, k, v;
	char buf[16];
	(void)state;

	/* "xagc" must not be taken for "agc" (a regex once did) */
	pl_set_str(&q, "?xagc=on&agc=off&chair=%6Fn&bitrate=8+k");
	assert_int_equal(route_query_next(&q, &k, &v), 0);
	assert_int_equal(pl_strcmp(&k, "xagc"), 0);
	assert_int_equal(route_query_next(&q, &k, &v), 0);
	assert_int_equal(pl_strcmp(&k, "agc"), 0);
	assert_int_equal(pl_strcmp(&v, "off"), 0);
	assert_int_equal(route_query_next(&q, &k, &v), 0);
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "on");
	assert_int_equal(route_query_next(&q, &k, &v), 0);
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "8 k");
	assert_int_equal(route_query_next(&q, &k, &v), ENOENT);

	pl_set_str(&q, "=x");
	assert_int_equal(route_query_next(&q, &k, &v), EBADMSG);
	pl_set_str(&v, "%4");
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), EBADMSG);
	pl_set_str(&v, "%zz");
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), EBADMSG);
	pl_set_str(&v, "a%00b");
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), EBADMSG);
	pl_set_str(&v, "0123456789abcdef");
	assert_int_equal(route_decode(&v, buf, sizeof(buf)), EOVERFLOW);
}

static void test_range(void **state)
{
	static const struct {
		const char *v;
		uint64_t n;
		int err;
		uint64_t a, b;
	} c[] = {
		{"bytes=0-99", 1000, 0, 0, 99},
		{"bytes=900-", 1000, 0, 900, 999},
		{"bytes=-100", 1000, 0, 900, 999},
		{"bytes=-5000", 1000, 0, 0, 999},
		{"bytes=990-5000", 1000, 0, 990, 999},
		{"bytes=1000-", 1000, EINVAL, 0, 0},
		{"bytes=5-4", 1000, EINVAL, 0, 0},
		{"bytes=-0", 1000, EINVAL, 0, 0},
		{"bytes=-", 1000, EINVAL, 0, 0},
		{"bytes=0-1,5-6", 1000, EINVAL, 0, 0},
		{"items=0-1", 1000, EINVAL, 0, 0},
		{"bytes=99999999999999999999999-", 1000, EINVAL, 0, 0},
		{"bytes=0-0", 0, EINVAL, 0, 0},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct pl v;
		uint64_t a = 0, b = 0;

		pl_set_str(&v, c[i].v);
		assert_int_equal(route_range(&v, c[i].n, &a, &b), c[i].err);
		if (c[i].err)
			continue;
		assert_int_equal(a, c[i].a);
		assert_int_equal(b, c[i].b);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_range),
	cmocka_unit_test(test_split_match),
	cmocka_unit_test(test_query),
};

LBTEST_GROUP(route, tests)
