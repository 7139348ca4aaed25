#!/bin/sh
# Mixed codecs: one PCMU site (8 kHz source, baresip with only PCMU) and
# two Opus sites talk at once; each hears the others and not itself.
. "$(dirname "$0")/lib.sh"
lb_init mix_pcmu
lb_mix_test dave:pcmu:en-us:EN3 erin:opus:en+f3:EN2 fred:opus:vi:VI
lb_done
