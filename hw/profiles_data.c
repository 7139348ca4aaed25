/**
 * @file profiles_data.c  The built-in profile table: hw/profiles.conf
 * itself, assembled into the binary (.incbin, NUL-ended), so the file
 * that documents the rules is the one the bridge uses.
 */
#include "hw.h"

__asm__(".section .rodata\n"
	".global lb_hw_profiles_start\n"
	"lb_hw_profiles_start:\n"
	".incbin \"hw/profiles.conf\"\n"
	".byte 0\n"
	".previous\n");
extern const char lb_hw_profiles_start[];

const char *hw_profiles_builtin(void)
{
	return lb_hw_profiles_start;
}
