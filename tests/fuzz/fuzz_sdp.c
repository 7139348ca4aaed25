/**
 * @file fuzz_sdp.c  SDP offers from the network through libre's parser
 * and our codec choice (lbsdp_probe_offer), as an INVITE would.
 */
#include <re.h>
#include <stdint.h>
#include <string.h>
#include "lbsdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static struct cfg cfg;
	struct codec_prm prm;
	struct mbuf *mb;
	struct sa laddr;
	char name[32];
	int tel_pt;

	if (!init) {
		(void)libre_init();
		cfg_defaults(&cfg);
		init = true;
	}
	mb = mbuf_alloc(size + 1);
	if (!mb)
		return 0;
	(void)mbuf_write_mem(mb, data, size);
	mb->pos = 0;
	sa_set_str(&laddr, "127.0.0.1", 20000);
	if (!lbsdp_probe_offer(mb, &laddr, &cfg.roomv[0], &prm, name,
			       sizeof(name), &tel_pt)) {
		if (prm.ptime_ms != 20 && prm.ptime_ms != 40 &&
		    prm.ptime_ms != 60)
			__builtin_trap();
		if (prm.id == CODEC_NONE)
			__builtin_trap();
	}
	mem_deref(mb);
	return 0;
}
