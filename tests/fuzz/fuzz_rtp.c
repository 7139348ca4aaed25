/**
 * @file fuzz_rtp.c  RTP header parser (runs on every packet from the
 * network, on the mixer thread) and the payload sizing that follows it.
 */
#include <stdint.h>
#include <string.h>
#include "codec.h"
#include "rtpio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtpio_hdr h;

	if (rtpio_parse(&h, data, size))
		return 0;
	/* what the parser promises the mixer */
	if (h.payload_off > size || h.payload_len > size - h.payload_off)
		__builtin_trap();
	(void)codec_pkt_samples(CODEC_OPUS, data + h.payload_off,
				h.payload_len);
	(void)codec_pkt_samples(CODEC_PCMU, data + h.payload_off,
				h.payload_len);
	/* the voice bits are read from every idle site's packets */
	(void)codec_pkt_voice(CODEC_OPUS, data + h.payload_off,
			      h.payload_len);
	return 0;
}
