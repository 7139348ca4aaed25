#!/bin/sh
# Three Opus sites talk at once in room 1000; each must hear the other
# two and not itself (mix-minus), and the API must show them.
. "$(dirname "$0")/lib.sh"
lb_init mix_opus
lb_mix_test alice:opus:en-us:EN1 bob:opus:en+f3:EN2 carol:opus:vi:VI
lb_done
