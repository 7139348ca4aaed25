# tests/alsaemu/alsaemu.mk: the emulated DSP sound card (ALSA plugins),
# its fault-injection tool and its self-test. Included by the top
# Makefile, which adds $(ALSAEMU) to `all`; uses its $(BUILD), $(CC),
# $(Q), $(CPPFLAGS), $(CFLAGS) and $(LDFLAGS). The plugins are shared
# objects and must be built with -DPIC (without it the plugin macros
# reference snd_dlsym_start and dlopen fails), and -fPIC.
#
# Try it alone:  make -f tests/alsaemu/alsaemu.mk BUILD=build

BUILD   ?= build
CC      ?= cc
Q       ?= @
PKG_CONFIG ?= pkg-config
CFLAGS  ?= -O2 -g -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wvla -Werror -MMD -MP -pthread

ALSAEMU_DIR  := tests/alsaemu
ALSAEMU_OUT  := $(BUILD)/alsaemu
ALSAEMU_PKGS := alsa speexdsp
ALSAEMU_CFLAGS = -D_GNU_SOURCE -DPIC -fPIC -I$(ALSAEMU_DIR) \
	$(shell $(PKG_CONFIG) --cflags $(ALSAEMU_PKGS) 2>/dev/null)
ALSAEMU_LIBS = $(shell $(PKG_CONFIG) --libs $(ALSAEMU_PKGS) 2>/dev/null) -lm

ALSAEMU := $(ALSAEMU_OUT)/libasound_module_pcm_dspemu.so \
	   $(ALSAEMU_OUT)/libasound_module_ctl_dspemu.so \
	   $(ALSAEMU_OUT)/dspemu-fault \
	   $(ALSAEMU_OUT)/dspemu-selftest

.PHONY: alsaemu
alsaemu: $(ALSAEMU)

# after `make deps` (libasound2-dev, libspeexdsp-dev) when included
$(ALSAEMU_OUT)/%.o: $(ALSAEMU_DIR)/%.c | $(DEPS_OK)
	$(Q)mkdir -p $(@D)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CPPFLAGS) $(ALSAEMU_CFLAGS) $(CFLAGS) -c -o $@ $<

$(ALSAEMU_OUT)/libasound_module_pcm_dspemu.so: \
		$(ALSAEMU_OUT)/pcm_dspemu.o $(ALSAEMU_OUT)/dspemu_state.o
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-z,defs -o $@ $^ $(ALSAEMU_LIBS)

$(ALSAEMU_OUT)/libasound_module_ctl_dspemu.so: \
		$(ALSAEMU_OUT)/ctl_dspemu.o $(ALSAEMU_OUT)/dspemu_state.o
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-z,defs -o $@ $^ $(ALSAEMU_LIBS)

$(ALSAEMU_OUT)/dspemu-fault: $(ALSAEMU_OUT)/dspemu_ctl.o \
		$(ALSAEMU_OUT)/dspemu_state.o
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALSAEMU_LIBS)

$(ALSAEMU_OUT)/dspemu-selftest: $(ALSAEMU_OUT)/selftest.o \
		$(ALSAEMU_OUT)/dspemu_state.o
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALSAEMU_LIBS)

-include $(wildcard $(ALSAEMU_OUT)/*.d)
