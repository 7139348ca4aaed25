/**
 * @file fuzz_route.c  HTTP request targets from the network through our
 * router (bridge/route.c): "PATH?QUERY" split, matched against the API's
 * patterns, every query pair read and decoded, as http.c does.
 */
#include <re.h>
#include <stdint.h>
#include <string.h>
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *patterns[] = {
	"/api/rooms", "/api/rooms/{}", "/api/rooms/{}/sites/{}",
	"/api/rooms/{}/live", "/api/rooms/{}/test", "/api/rooms/{}/test/{}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *q = memchr(p, '?', size);
	struct pl path, query, key, val, cap[2];
	struct route_path rp;
	char buf[ROUTE_VALUE_MAX];
	size_t i;

	path.p = p;
	path.l = q ? (size_t)(q - p) : size;
	query.p = q ? q : p + size;
	query.l = q ? size - path.l : 0;
	if (!route_split(&rp, &path)) {
		if (rp.segc > ROUTE_MAX_SEGS)
			__builtin_trap();
		for (i = 0; i < rp.segc; i++) {
			if (rp.segv[i].p < p || rp.segv[i].p + rp.segv[i].l >
			    p + size || !rp.segv[i].l)
				__builtin_trap();
		}
		for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
			(void)route_match(&rp, patterns[i], cap, 2);
	}
	{
		struct pl all = {p, size};
		uint64_t a = 0, b = 0;

		if (!route_range(&all, 1000, &a, &b) && (a > b || b >= 1000))
			__builtin_trap();
	}
	for (i = 0; i < 64; i++) {
		int err = route_query_next(&query, &key, &val);

		if (err == ENOENT)
			break;
		if (err)
			continue;
		if (route_decode(&val, buf, sizeof(buf)) == 0 &&
		    strlen(buf) >= sizeof(buf))
			__builtin_trap();
	}
	return 0;
}
