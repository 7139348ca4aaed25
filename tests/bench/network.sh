#!/bin/sh
# `make bench-network`: speech through the real bridge over impaired
# lines. Each meeting is a fresh bridge with two real SIP sites on
# loopback (tests/tools/echosite): alice talks (espeak-ng speech) and
# bob listens. The impairment (tests/lib/netimp inside echosite: seeded,
# user space, both directions) is on bob's line from the bridge ("down")
# or on alice's line to it ("up"). Each row prints what the sender put
# on the impaired line (RTP + 28 bytes of IP/UDP a packet, averaged over
# the call, talk and pauses) and the ESTOI of what bob heard against
# what alice said.
#
# Profiles (what the bridge is allowed to do):
#   adaptive   the room's default: Opus 16 kbit/s, 20 ms, FEC, and the
#              per-site adaptation from RTCP receiver reports
#   low        both sites ask for 60 ms packets at 12 kbit/s in their
#              SDP (a=ptime, maxaveragebitrate); adaptation on
#   low40      the same with 40 ms packets
#   opus16     Opus 16 kbit/s, 20 ms, FEC planned for 10 %, no adaptation
#   opus24     Opus 24 kbit/s, 20 ms, FEC planned for 10 %, no adaptation
#   pcmu       G.711 u-law, 20 ms (what a telephone gateway gets)
# Sites send Opus at 16 kbit/s in 20 ms packets (FEC planned for 10 %)
# unless the profile says otherwise, play out through a 60 ms buffer
# (100 ms on jittery rows, as an adaptive one would grow to), and send
# what the bridge's SDP asks for (--follow-sdp: its answer, and the
# re-INVITE with which it asks a site on a lossy uplink for less).
#
# LB_BENCH_NET_S (26) sets the meeting length, LB_BENCH_NET_PAR (3) how
# many meetings run at once (each is two sites and a bridge: light),
# LB_BENCH_NET_ROWS a file of rows to run instead of the built-in list
# (PROFILE DIR IMPAIRMENT, as below; PROFILE may add room keys after a
# colon: adaptive:opus_complexity=10,noise_suppression=off).
# Builds nothing. A benchmark: exits 0 whatever the figures.
B=${LB_BUILD:-build}
ES=$B/tools/echosite
DUR=${LB_BENCH_NET_S:-26}
PAR=${LB_BENCH_NET_PAR:-3}
SEEDS=${LB_BENCH_NET_SEEDS:-3}
for f in "$B/lowbridge" "$ES" "$B/tools/wavestoi"; do
	[ -x "$f" ] || { echo "bench-network: $f missing (make all)" >&2
		exit 1; }
done
tmp=$(mktemp -d /tmp/lbbenchnet.XXXXXX)
cleanup() {
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "The quick brown fox jumps \
over the lazy dog. Conference bridges mix the speech of every site, minus \
its own voice, and send it back within a few milliseconds. Seven silver \
spoons were found beneath the old oak table in the kitchen, and nobody \
could explain how they got there. Please remember to water the tomato \
plants on Thursday morning, before the delivery truck arrives." \
	2>/dev/null && sox -q "$tmp/raw.wav" -r 16000 -c 1 "$tmp/talk.wav" \
	trim 0 18 norm -3 || { echo "bench-network: espeak-ng/sox missing" >&2
	exit 1; }

# meeting IDX SLOT SEED PROFILE DIR IMPAIRMENT...: one meeting (ports
# from its slot, 1..rows*seeds); its figures
# (kbit/s, ESTOI, steps, first step) into $tmp/IDX.fig, its row's label
# into $tmp/IDX.label
meeting() {
	_i=$1 _slot=$2 _seed=$3 _p=$4 _d=$5
	shift 5
	_imp=$*
	_w=$tmp/m$_i
	mkdir -p "$_w"
	_extra=
	case $_p in *:*) _extra=$(echo "${_p#*:}" | tr ',' '\n'); _p=${_p%%:*} ;; esac
	_port=$((31000 + _slot * 4))
	_rtp=$((36000 + _slot * 20))
	_adapt=on _codecs=opus,pcmu _rate=16000 _site= _alice= _bob=
	case $_p in
	low) _site="--ptime 60 --ask-kbps 12"
	     _alice="--bitrate 12000" ;;
	low40) _site="--ptime 40 --ask-kbps 12"
	     _alice="--bitrate 12000" ;;
	opus16) _adapt=off ;;
	opus24) _adapt=off _rate=24000 ;;
	pcmu) _codecs=pcmu ;;
	alicepcmu) _alice="--codecs pcmu" ;;
	esac
	case $_imp in *jitter*) _bob="--jb-ms 100" ;; esac
	_up= _down=
	for _a in $_imp; do
		case $_a in
		--*) _f=${_a#--} ;;
		*) if [ "$_d" = up ]; then _up="$_up --tx-$_f $_a"
		   else _down="$_down --rx-$_f $_a"; fi ;;
		esac
	done
	cat > "$_w/c.ini" <<EOF
[bridge]
sip = 127.0.0.1:$_port
http = 127.0.0.1:$((_port + 1))
data = $_w/data
rtp_ports = $_rtp-$((_rtp + 19))
log_level = info
[room 1000]
record = off
adapt = $_adapt
opus_bitrate_bps = $_rate
$_extra
EOF
	"$B/lowbridge" serve --config "$_w/c.ini" > "$_w/bridge.log" 2>&1 &
	_bp=$!
	sleep 1
	# shellcheck disable=SC2086
	"$ES" --bridge "127.0.0.1:$_port" --name alice --codecs "$_codecs" \
		--duration "$DUR" --echo-db -200 --noise-dbfs -75 \
		--speech "$tmp/talk.wav" --speech-at 4 --seed $((_seed * 2 + 1)) \
		--bitrate "$_rate" --follow-sdp $_site $_alice $_up \
		--mic-rec "$_w/alice_mic.wav" 2> "$_w/alice.err" &
	_a=$!
	# shellcheck disable=SC2086
	"$ES" --bridge "127.0.0.1:$_port" --name bob --codecs "$_codecs" \
		--duration "$DUR" --echo-db -200 --noise-dbfs -75 \
		--seed $((_seed * 2 + 2)) --bitrate "$_rate" --follow-sdp \
		$_site $_bob $_down \
		--rec "$_w/bob.wav" 2> "$_w/bob.err" &
	_b=$!
	wait "$_a" "$_b"
	kill "$_bp" 2>/dev/null
	wait "$_bp" 2>/dev/null
	_e=$("$B/tools/wavestoi" -l 8000 "$tmp/talk.wav" "$_w/bob.wav" \
		2>/dev/null | sed -n 's/.*estoi=\([^ ]*\).*/\1/p')
	if [ "$_d" = up ]; then
		_kb=$(sed -n 's/.*tx_kbps=\([0-9.]*\).*/\1/p' "$_w/alice.err")
	else
		_kb=$(sed -n 's/.*rx_kbps=\([0-9.]*\).*/\1/p' "$_w/bob.err")
	fi
	# the steps (only one line is impaired; the bridge names sites
	# s1, s2, ...), and how long after the first media the first one:
	# what the bridge sends bob, or what it asks alice to send
	_step=": its line loses"
	[ "$_d" = up ] && _step=": asking it for"
	_ch=$(grep -c "$_step" "$_w/bridge.log")
	_when=$(awk '
		function t(s, a) {
			split(s, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3]
		}
		/site s[0-9]*: (opus|PCMU)/ && !s0 { s0 = t($1) }
		$0 ~ step && s0 && !s1 { s1 = t($1) }
		END { if (s1) printf "%.1f", s1 - s0; else print "-" }' \
		step="$_step" \
		"$_w/bridge.log")
	# the delay the bridge adds from alice's mouth to bob's ear (the
	# sites' own packet and playout buffer taken out; a "down" row's
	# line delay counts as the bridge's)
	_dl=$(sh tests/lib/bridge_delay.sh "$B/tools" "$_w/alice.err" \
		"$_w/alice_mic.wav" "$_w/bob.err" "$_w/bob.wav" |
		sed -n 's/.*bridge_ms=\([-0-9.a-z]*\).*/\1/p')
	echo "${_kb:-nan} ${_e:-nan} $_ch $_when ${_dl:-nan}" > "$tmp/$_i.fig"
	printf '| %s | %s |' "$_d: $(echo "${_imp:-clean}" | sed "s/--//g")" \
		"$_p${_extra:+ ($(echo $_extra))}" > "$tmp/$_i.label"
	rm -rf "$_w"
}

cat > "$tmp/rows" <<EOF
adaptive down
low down
opus24 down
pcmu down
adaptive down --loss 15
low down --loss 15
opus16 down --loss 15
opus24 down --loss 15
pcmu down --loss 15
adaptive down --loss 15 --jitter-ms 60
low down --loss 15 --jitter-ms 60
opus16 down --loss 15 --jitter-ms 60
adaptive down --loss 10 --burst 3
low down --loss 10 --burst 3
opus16 down --loss 10 --burst 3
opus24 down --loss 10 --burst 3
pcmu down --loss 10 --burst 3
adaptive down --loss 20
low down --loss 20
opus16 down --loss 20
opus24 down --loss 20
pcmu down --loss 20
adaptive down --cap-kbps 24
opus16 down --cap-kbps 24
adaptive up --loss 15
adaptive up --loss 15 --jitter-ms 60
adaptive up --loss 10 --burst 3
adaptive up --loss 20
adaptive up --cap-kbps 24
opus16 up --cap-kbps 24
EOF

# each line: PROFILE DIR IMPAIRMENT (netimp options without --rx-/--tx-);
# each row runs once per seed (the line's loss pattern, the rooms'
# noise), meetings numbered row * 100 + seed
i=0 m=0
while read -r p d imp; do
	[ -z "$p" ] && continue
	i=$((i + 1))
	s=1
	while [ "$s" -le "$SEEDS" ]; do
		m=$((m + 1))
		# shellcheck disable=SC2086
		meeting "$((i * 100 + s))" "$m" "$s" "$p" "$d" $imp &
		[ $((m % PAR)) -eq 0 ] && wait
		s=$((s + 1))
	done
done < "${LB_BENCH_NET_ROWS:-$tmp/rows}"
wait

echo "bench-network: ${DUR} s meetings, alice talks from 4 s for 18 s," \
	"$SEEDS seeds a row" >&2
echo
echo "| line (impairment) | profile | kbit/s on that line's wire | ESTOI at bob, mean | worst seed | adaptation steps | first step, s after media | bridge-added delay, ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
j=1
while [ "$j" -le "$i" ]; do
	_l=$(cat "$tmp/$((j * 100 + 1)).label" 2>/dev/null)
	_f= s=1
	while [ "$s" -le "$SEEDS" ]; do
		_f="$_f $tmp/$((j * 100 + s)).fig"
		s=$((s + 1))
	done
	# shellcheck disable=SC2086
	cat $_f \
		2>/dev/null | awk -v l="${_l:-| row $j | failed |}" '
		$2 != "nan" { c++; kb += $1; e += $2; st += $3
			if (!w || $2 < w) w = $2
			if ($4 != "-") { fs += $4; fc++ }
			if ($5 != "nan") { dl += $5; dc++ } }
		END {
			if (!c) { print l " | | | | | | |"; exit }
			printf "%s %.1f | %.3f | %.3f | %.0f | %s | %s |\n", l,
				kb / c, e / c, w, st / c,
				fc ? sprintf("%.1f", fs / fc) : "-",
				dc ? sprintf("%.0f", dl / dc) : "-"
		}'
	j=$((j + 1))
done
