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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_split_match),
	cmocka_unit_test(test_query),
};

LBTEST_GROUP(route, tests)
