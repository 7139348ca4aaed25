/**
 * @file route.h  HTTP request routing: a request path split into
 * segments and matched against patterns, and the query string read key
 * by key with percent-decoding. Pure functions over libre's struct pl,
 * no allocation; they read untrusted bytes from the network and
 * tests/fuzz/fuzz_route.c fuzzes them.
 *
 * Threads: any.
 */
#ifndef LB_ROUTE_H
#define LB_ROUTE_H

#include <re.h>

#define ROUTE_MAX_SEGS 8
#define ROUTE_VALUE_MAX 256      /* longest decoded query value */

/** A path cut at its slashes: "/api/rooms/1000" -> api, rooms, 1000. */
struct route_path {
	struct pl segv[ROUTE_MAX_SEGS];
	uint32_t segc;
};

/**
 * Split an absolute path. One trailing slash is allowed; an empty
 * segment ("//"), "." or "..", a byte below 0x21 or 0x7f and above, or
 * more than ROUTE_MAX_SEGS segments are not. @return 0 or EBADMSG.
 */
int route_split(struct route_path *rp, const struct pl *path);

/**
 * Match a split path against a pattern such as "/api/rooms/{}/sites/{}",
 * where "{}" matches any one segment; the matched segments go to
 * capv[0..capn) in order. @return true on a match.
 */
bool route_match(const struct route_path *rp, const char *pattern,
		 struct pl *capv, uint32_t capn);

/**
 * The next key=value pair of a query ("a=1&b=on", a leading '?' is
 * skipped); *rest advances past it. Values are left encoded.
 * @return 0, ENOENT at the end, EBADMSG for an empty key.
 */
int route_query_next(struct pl *rest, struct pl *key, struct pl *val);

/**
 * Percent-decode a query value ('+' is a space) into buf (NUL ended).
 * @return 0, EBADMSG (bad %xx, or a NUL byte), or EOVERFLOW.
 */
int route_decode(const struct pl *val, char *buf, size_t sz);

/**
 * An HTTP Range header value for a resource of n bytes: "bytes=A-B",
 * "bytes=A-" or "bytes=-N" (one range) into [*a, *b], clipped to the
 * resource. @return 0, or EINVAL when it cannot be satisfied or is not
 * one such range.
 */
int route_range(const struct pl *v, uint64_t n, uint64_t *a, uint64_t *b);

#endif
