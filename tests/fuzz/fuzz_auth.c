/**
 * @file fuzz_auth.c  HTTP requests from the network through libre's
 * parser and our session-cookie reader (bridge/auth.c): the value found
 * must lie inside the request and be a run of hex digits.
 */
#include <re.h>
#include <stdint.h>
#include <string.h>
#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbuf *mb = mbuf_alloc(size + 1);
	struct http_msg *msg = NULL;
	struct pl v;
	size_t i;

	if (!mb)
		return 0;
	(void)mbuf_write_mem(mb, data, size);
	mb->pos = 0;
	if (!http_msg_decode(&msg, mb, true)) {
		v = auth_cookie(msg);
		if (v.l) {
			if (v.p < (const char *)mb->buf ||
			    v.p + v.l > (const char *)mb->buf + mb->end)
				__builtin_trap();
			for (i = 0; i < v.l; i++) {
				if (!strchr("0123456789abcdef", v.p[i]) ||
				    !v.p[i])
					__builtin_trap();
			}
		}
	}
	mem_deref(msg);
	mem_deref(mb);
	return 0;
}
