#!/bin/sh
# Speech material for `make bench-quality`: six talkers from espeak-ng.
#
# Usage: sh tests/bench/speech.sh DIR
# Writes DIR/<talker>.wav (16 kHz, mono, 16 bit) and prints their paths,
# one a line, in a fixed order: the quality benchmark uses the first two
# as its main talkers (one English, one Vietnamese) and the others for
# turn-taking, babble noise and the VAD.
#
# Nothing is downloaded: espeak-ng synthesises the text and sox resamples
# its 22.05 kHz output. If sox is missing the 22.05 kHz file is kept and
# quality_mix resamples it with SpeexDSP. The same espeak-ng version
# gives the same files, so every figure is reproducible.
#
# Voices differ in language, sex, pitch (-p) and speed (-s); -g adds a
# little gap between words. The text has several sentences, so that the
# material has pauses where a turn can start or end.
# Exit status: 0, or 1 if espeak-ng is missing or failed.

dir=$1
if [ -z "$dir" ]; then
	echo "usage: speech.sh DIR" >&2
	exit 1
fi
if ! command -v espeak-ng >/dev/null 2>&1; then
	echo "speech: espeak-ng is not installed (run make deps)" >&2
	exit 1
fi
mkdir -p "$dir" || exit 1

EN1="Good morning everyone, and thank you for joining the call. Let us \
start with the status of the first item on the list. The new release went \
out on Tuesday, and so far we have seen only two small problems. Both were \
fixed the same evening. Next, the budget. We are slightly under plan for \
the quarter, mostly because the hardware order was delayed."

EN2="I have a question about the schedule. If the hardware arrives late \
again, can we still test the new rooms before the end of the month? The \
team in the north office needs at least two weeks. Otherwise we should \
move the training to June. Please send me the numbers by Friday, and I \
will check them with finance."

EN3="The water level in the river rose again last night. Three villages \
asked for more sandbags and one more pump. The road to the bridge is \
still open, but trucks should use the eastern route. We will meet again \
at six in the evening to decide about the school."

VI1="Xin chào tất cả mọi người. Hôm nay chúng ta sẽ nói về kế hoạch cho \
mùa mưa sắp tới. Nước sông đã lên cao ở ba xã phía bắc. Chúng tôi cần \
thêm bao cát và hai máy bơm nước. Đường lên cầu vẫn còn đi được, nhưng \
xe tải nên đi đường phía đông. Cuộc họp tiếp theo sẽ vào sáu giờ chiều."

VI2="Cảm ơn anh đã cho biết tình hình. Ở huyện chúng tôi, trường học đã \
đóng cửa từ sáng nay. Các gia đình ở gần bờ sông đã được đưa lên nhà văn \
hóa. Chúng tôi còn thiếu nước sạch và thuốc men. Xin gửi thêm người giúp \
đỡ vào ngày mai, nếu có thể."

VI3="Tôi xin báo cáo ngắn gọn. Điện thoại ở xã bên kia vẫn chưa liên lạc \
được. Đội cứu hộ đã đến nơi lúc bốn giờ. Mọi người đều an toàn. Ngày mai \
chúng tôi sẽ kiểm tra lại con đê và báo cáo kết quả cho ủy ban."

tmp=$(mktemp -d /tmp/lbspeech.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# name voice pitch speed text-variable
say() {
	eval "text=\$$5"
	if ! espeak-ng -v "$2" -p "$3" -s "$4" -g 2 -w "$tmp/$1.wav" \
		"$text" 2>"$tmp/err"; then
		echo "speech: espeak-ng failed for $1:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	if command -v sox >/dev/null 2>&1; then
		# sox's default rate effect is its high-quality resampler;
		# -G guards against clipping, -D leaves out the dither (noise
		# the benchmark would measure, and a warning when it clips)
		sox -G -D "$tmp/$1.wav" -r 16000 -c 1 -b 16 "$dir/$1.wav" ||
			exit 1
	else
		cp "$tmp/$1.wav" "$dir/$1.wav" || exit 1
	fi
	echo "$dir/$1.wav"
}

say en_f3 en+f3 55 150 EN1
say vi_m3 vi+m3 45 140 VI1
say en_m1 en+m1 40 165 EN2
say vi_f2 vi+f2 65 135 VI2
say en_us_f4 en-us+f4 70 175 EN3
say vi_south_m1 vi-vn-x-south+m1 35 155 VI3
exit 0
