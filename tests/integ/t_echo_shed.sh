#!/bin/sh
# The echoing hall of t_echo_hall.sh with the mixer short of time on
# every tick (shed_tick_us = 1), as at the start of a meeting whose
# 1,500 sites join at once: sites it is still learning are decoded one
# voiceless frame in four. The echo site must still be held out and its
# echo cancelled: the same checks and thresholds, and the mixer checked
# to have been short of time throughout. Found by it: counting only the
# decoded frames, the echo site's canceller woke 1.1 s after its echo
# did, and the echo was mixed (alice heard herself at -7 to -14 dB).
LB_ECHO_SHED=1 LB_ECHO_NAME=echo_shed exec sh "$(dirname "$0")/t_echo_hall.sh"
