# lowbridge: plain GNU make driven by pkg-config (see docs/architecture.md).
# `make run` and `make test` are the whole set-up; both install what is
# missing first: `make deps` what the bridge needs to build and run,
# `make deps-test` that plus what the tests use (tests/deps.sh).

PKG_CONFIG ?= pkg-config
BUILD      ?= build
Q          := $(if $(V),,@)

CC         ?= cc
CPPFLAGS   += -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 -D_GNU_SOURCE -Idsp -Ibridge \
	      -Irecordings -Ihw
CFLAGS     ?= -O2 -g
# `override` so that CFLAGS/LDFLAGS given on the command line (test-asan,
# a distribution's hardening flags) add to these instead of replacing
# them: warnings-as-errors and dependency files must always be on.
override CFLAGS  += -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	      -Wmissing-prototypes -Wvla -Werror -MMD -MP -pthread
override LDFLAGS += -pthread
DEPS_OK    := $(BUILD)/.deps-ok
DEPS_TEST_OK := $(BUILD)/.deps-test-ok

# pkg-config packages. Each folder compiles against its layer's list (so
# dsp/ cannot include libre: STYLE.md 2.1) and each binary links only what
# it uses: PKGS_<binary>, or the bridge's list for a tool, bench or fuzz
# target not named here. -lm and -pthread go to every link.
PKGS_DSP    := speexdsp
PKGS_BRIDGE := libre opus speexdsp inih libsodium
PKGS_REC    := libre opus ogg sndfile sqlite3 portaudio-2.0 rubberband
# hw/: devices through alsa-lib or PortAudio; the local room's resampler
# and software chain are SpeexDSP's and dsp/'s
PKGS_HW     := alsa portaudio-2.0 speexdsp
PKGS_TESTS  := $(PKGS_BRIDGE) sndfile cmocka
PKGS_dsp    := $(PKGS_DSP)
PKGS_bridge := $(PKGS_BRIDGE)
PKGS_recordings := $(PKGS_REC)
PKGS_hw     := $(PKGS_HW)
PKGS_tests  := $(PKGS_TESTS)

PKGS_lowbridge   := $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW) ncursesw
PKGS_lbtest      := $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW) cmocka
PKGS_bsctl       :=
PKGS_echosite    := libre opus speexdsp sndfile
PKGS_jsonq       := libre
PKGS_rtpjunk     :=
PKGS_ssecat      :=
PKGS_wavecho     := speexdsp sndfile
PKGS_wavpresence := speexdsp sndfile
PKGS_wavgap      := sndfile
PKGS_wavpitch    := sndfile
PKGS_wavestoi    := speexdsp sndfile
PKGS_bench_aec   := speexdsp sndfile
PKGS_bench_dsp   := speexdsp sndfile
PKGS_loadgen     := libre opus speexdsp sndfile
PKGS_quality_mix := $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW)
PKGS_fuzz_route  := libre opus speexdsp
PKGS_fuzz_auth   := libre libsodium
PKGS_fuzz_rtp    := $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW)
PKGS_fuzz_sdp    := $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW)

# Flags of the pkg-config packages are only known once `make deps` ran,
# hence `=` and a shell call per use.
pkg_cflags = $(if $(1),$(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null))
pkg_libs   = $(if $(1),$(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)) -lm
# packages of binary $(1): its own list, else the bridge's (with the
# recorder's: libbridge.a's config and rooms use librec.a)
pkgs_of    = $(if $(filter undefined,$(origin PKGS_$(1))),$\
	     $(PKGS_BRIDGE) $(PKGS_REC) $(PKGS_HW),$(PKGS_$(1)))
# for a source $<: its top folder's list
PKG_CFLAGS = $(call pkg_cflags,$(PKGS_$(firstword $(subst /, ,$<))))
LINK_LIBS  = $(call pkg_libs,$(call pkgs_of,$(notdir $@)))

DSP_SRCS    := $(wildcard dsp/*.c)
BRIDGE_SRCS := $(filter-out bridge/main.c,$(wildcard bridge/*.c))
REC_SRCS    := $(wildcard recordings/*.c)
HW_SRCS     := $(wildcard hw/*.c)
DSP_OBJS    := $(DSP_SRCS:%.c=$(BUILD)/%.o)
BRIDGE_OBJS := $(BRIDGE_SRCS:%.c=$(BUILD)/%.o)
REC_OBJS    := $(REC_SRCS:%.c=$(BUILD)/%.o)
HW_OBJS     := $(HW_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ    := $(BUILD)/bridge/main.o

TLIB_SRCS   := $(wildcard tests/lib/*.c)
TLIB_OBJS   := $(TLIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(wildcard tests/unit/*.c)
UNIT_OBJS   := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
TOOL_SRCS   := $(wildcard tests/tools/*.c)
TOOLS       := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_SRCS  := $(wildcard tests/bench/*.c)
BENCHES     := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

LIBDSP      := $(BUILD)/libdsp.a
LIBBRIDGE   := $(BUILD)/libbridge.a
LIBREC      := $(BUILD)/librec.a
LIBHW       := $(BUILD)/libhw.a
# libbridge.a and librec.a use each other (rooms record; the recorder
# reads the mixer's taps): linked as a group
GROUP       = -Wl,--start-group $(LIBBRIDGE) $(LIBREC) $(LIBHW) \
	      -Wl,--end-group
LIBDSPTEST  := $(BUILD)/libdsptest.a
BIN         := $(BUILD)/lowbridge

# Code under tests/ sees the test library's header (dsptest.h), and links
# libdsptest.a before libdsp.a (the library uses the FFT). The bridge
# never sees either.
TEST_CPPFLAGS := -Itests/lib

.PHONY: all deps deps-test run demo test test-unit test-integ test-asan \
	test-tsan test-valgrind bench bench-rec bench-hw bench-network bench-quality fuzz check clean \
	tools

# the emulated DSP sound card of the hw/ tests (ALSA plugins); its
# fragment defines targets, so `all` is named the default
.DEFAULT_GOAL := all
include tests/alsaemu/alsaemu.mk

all: $(BIN) $(BUILD)/tests/unit/lbtest tools $(FUZZ_REPLAY) $(BENCHES) \
	$(ALSAEMU)

# The bridge's objects wait for `make deps`, everything under tests/ for
# `make deps-test` (which runs after it: one apt-get at a time).
deps: $(DEPS_OK)
deps-test: $(DEPS_TEST_OK)
$(DEPS_OK): tests/deps.sh
	$(Q)sh tests/deps.sh run
	$(Q)mkdir -p $(@D) && touch $@
$(DEPS_TEST_OK): tests/deps.sh $(DEPS_OK)
	$(Q)sh tests/deps.sh test
	$(Q)mkdir -p $(@D) && touch $@

define compile
	$(Q)mkdir -p $(@D)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CPPFLAGS) $(if $(filter tests/%,$<),$(TEST_CPPFLAGS)) \
		$(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<
endef
$(BUILD)/%.o: %.c | $(DEPS_OK)
	$(compile)
$(BUILD)/tests/%.o: tests/%.c | $(DEPS_TEST_OK)
	$(compile)

# the console's files are assembled into www.o (.incbin): the compiler's
# dependency files do not see them
$(BUILD)/bridge/www.o: $(wildcard bridge/www/*)

$(LIBDSP): $(DSP_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBBRIDGE): $(BRIDGE_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBREC): $(REC_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBHW): $(HW_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
# the built-in profile table is hw/profiles.conf itself (.incbin)
$(BUILD)/hw/profiles_data.o: hw/profiles.conf
$(LIBDSPTEST): $(TLIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBBRIDGE) $(LIBREC) $(LIBHW) $(LIBDSP)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(GROUP) $(LIBDSP) $(LINK_LIBS)

$(BUILD)/tests/unit/lbtest: $(UNIT_OBJS) $(LIBBRIDGE) $(LIBREC) $(LIBHW) $(LIBDSPTEST) \
		$(LIBDSP)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(GROUP) $(LIBDSPTEST) \
		$(LIBDSP) $(LINK_LIBS)

tools: $(TOOLS)
$(BUILD)/tools/%: tests/tools/%.c $(LIBBRIDGE) $(LIBREC) $(LIBHW) $(LIBDSPTEST) $(LIBDSP) \
		| $(DEPS_TEST_OK)
	$(Q)mkdir -p $(@D)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) \
		$(LDFLAGS) -o $@ $< \
		$(GROUP) $(LIBDSPTEST) $(LIBDSP) $(LINK_LIBS)

# Fuzz targets build twice: here with a standalone replay main() that runs
# the committed corpus inside `make test`; `make fuzz` builds libFuzzer.
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBBRIDGE) $(LIBREC) \
		$(LIBDSPTEST) $(LIBDSP) | $(DEPS_TEST_OK)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) \
		$(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(GROUP) $(LIBDSPTEST) $(LIBDSP) $(LINK_LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LIBBRIDGE) $(LIBREC) $(LIBHW) $(LIBDSPTEST) $(LIBDSP) \
		| $(DEPS_TEST_OK)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) \
		$(LDFLAGS) -o $@ $< \
		$(GROUP) $(LIBDSPTEST) $(LIBDSP) $(LINK_LIBS)

run: $(BIN)
	$(BIN) serve

# the console with simulated sites (build/tools/echosite, speech from
# espeak-ng: both come with the test set-up)
demo: deps-test $(BIN) tools
	$(BIN) demo

test: deps-test all
	$(Q)sh tests/run.sh

test-unit: deps-test all
	$(Q)sh tests/run.sh unit

test-integ: deps-test all
	$(Q)sh tests/run.sh integ

# Same suites under AddressSanitizer + UndefinedBehaviorSanitizer (LSan on).
test-asan:
	$(Q)$(MAKE) BUILD=build-asan \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" all
	$(Q)LB_BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh tests/run.sh

# Same suites under ThreadSanitizer: races between the network thread, the
# mixers, the DSP workers and the tools' threads. tests/run.sh collects
# the reports (LB_TSAN) and fails on any.
test-tsan:
	$(Q)$(MAKE) BUILD=build-tsan \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=thread" \
		LDFLAGS="-fsanitize=thread" all
	$(Q)LB_BUILD=build-tsan LB_TSAN=1 sh tests/run.sh

test-valgrind: deps-test all
	$(Q)LB_VALGRIND=1 sh tests/run.sh unit

bench: deps-test all
	$(Q)sh tests/bench/run.sh
	$(Q)sh tests/bench/rec.sh
	$(Q)sh tests/bench/hw.sh

bench-hw: deps-test all
	$(Q)sh tests/bench/hw.sh

bench-network: deps-test all
	$(Q)sh tests/bench/network.sh

bench-rec: deps-test all
	$(Q)sh tests/bench/rec.sh

bench-quality: deps-test all
	$(Q)sh tests/bench/quality.sh

fuzz: deps-test
	$(Q)FUZZ_CPPFLAGS="$(CPPFLAGS)" FUZZ_PKGS="$(call pkgs_of,fuzz)" \
		FUZZ_SRCS="$(DSP_SRCS) $(filter-out bridge/top.c,$(BRIDGE_SRCS)) \
		$(REC_SRCS) $(HW_SRCS)" \
		sh tests/fuzz/build.sh

check: deps-test all
	$(Q)sh tests/check.sh

clean:
	rm -rf build build-asan build-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
