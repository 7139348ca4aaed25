/**
 * @file route.c  Path splitting, pattern matching and query reading for
 * the HTTP API (see route.h). Written by hand because libre's http
 * server hands over the raw path and query and has no router; kept
 * small and fuzzed.
 */
#include <re.h>
#include <errno.h>
#include <string.h>
#include "route.h"

static bool seg_ok(const struct pl *seg)
{
	size_t i;

	if (!seg->l)
		return false;
	if ((seg->l == 1 && seg->p[0] == '.') ||
	    (seg->l == 2 && seg->p[0] == '.' && seg->p[1] == '.'))
		return false;
	for (i = 0; i < seg->l; i++) {
		const unsigned char c = (unsigned char)seg->p[i];

		if (c < 0x21 || c >= 0x7f)
			return false;
	}
	return true;
}

int route_split(struct route_path *rp, const struct pl *path)
{
	const char *p, *end;

	if (!rp || !path || !path->p || !path->l || path->p[0] != '/')
		return EBADMSG;
	memset(rp, 0, sizeof(*rp));
	p = path->p + 1;
	end = path->p + path->l;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		struct pl seg;

		seg.p = p;
		seg.l = (size_t)((slash ? slash : end) - p);
		/* one trailing slash after a segment is allowed */
		if (!seg.l && rp->segc && slash && slash + 1 == end)
			break;
		if (!seg_ok(&seg) || rp->segc >= ROUTE_MAX_SEGS)
			return EBADMSG;
		rp->segv[rp->segc++] = seg;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

bool route_match(const struct route_path *rp, const char *pattern,
		 struct pl *capv, uint32_t capn)
{
	struct route_path pat;
	struct pl pp;
	uint32_t i, ncap = 0;

	if (!rp || !pattern)
		return false;
	pl_set_str(&pp, pattern);
	if (route_split(&pat, &pp) || pat.segc != rp->segc)
		return false;
	for (i = 0; i < pat.segc; i++) {
		if (!pl_strcmp(&pat.segv[i], "{}")) {
			if (ncap < capn && capv)
				capv[ncap] = rp->segv[i];
			++ncap;
			continue;
		}
		if (pl_cmp(&pat.segv[i], &rp->segv[i]))
			return false;
	}
	return true;
}

int route_query_next(struct pl *rest, struct pl *key, struct pl *val)
{
	const char *amp, *eq;
	struct pl item;

	if (!rest || !key || !val)
		return EINVAL;
	while (rest->l && (rest->p[0] == '?' || rest->p[0] == '&')) {
		++rest->p;
		--rest->l;
	}
	if (!rest->l)
		return ENOENT;
	amp = memchr(rest->p, '&', rest->l);
	item.p = rest->p;
	item.l = amp ? (size_t)(amp - rest->p) : rest->l;
	rest->p += item.l;
	rest->l -= item.l;

	eq = memchr(item.p, '=', item.l);
	key->p = item.p;
	key->l = eq ? (size_t)(eq - item.p) : item.l;
	val->p = eq ? eq + 1 : item.p + item.l;
	val->l = eq ? item.l - key->l - 1 : 0;
	return key->l ? 0 : EBADMSG;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int route_decode(const struct pl *val, char *buf, size_t sz)
{
	size_t i, n = 0;

	if (!val || !buf || !sz)
		return EINVAL;
	for (i = 0; i < val->l; i++) {
		char c = val->p[i];

		if (c == '+') {
			c = ' ';
		}
		else if (c == '%') {
			int hi, lo;

			if (i + 2 >= val->l)
				return EBADMSG;
			hi = hexval(val->p[i + 1]);
			lo = hexval(val->p[i + 2]);
			if (hi < 0 || lo < 0)
				return EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return EBADMSG;
		if (n + 1 >= sz)
			return EOVERFLOW;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

int route_range(const struct pl *v, uint64_t n, uint64_t *a, uint64_t *b)
{
	struct pl x, y;

	if (!v || !a || !b || !n || v->l < 7 || memcmp(v->p, "bytes=", 6) ||
	    re_regex(v->p, v->l, "bytes=[0-9]*-[0-9]*", &x, &y))
		return EINVAL;
	/* the whole value, not a range inside something else */
	if (x.p != v->p + 6 || 6 + x.l + 1 + y.l != v->l)
		return EINVAL;
	if (!pl_isset(&x) && !pl_isset(&y))
		return EINVAL;
	if (x.l > 19 || y.l > 19)
		return EINVAL;         /* beyond 64 bits */
	if (!pl_isset(&x)) {
		const uint64_t k = pl_u64(&y);

		if (!k)
			return EINVAL;
		*a = k >= n ? 0 : n - k;
		*b = n - 1;
		return 0;
	}
	*a = pl_u64(&x);
	*b = pl_isset(&y) ? pl_u64(&y) : n - 1;
	if (*b >= n)
		*b = n - 1;
	return *a <= *b ? 0 : EINVAL;
}
