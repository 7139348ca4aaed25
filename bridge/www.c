/**
 * @file www.c  The console's files, embedded with the assembler's
 * .incbin: the bytes of bridge/www/ go into the binary as they are, with
 * no generator to build first and nothing to escape. The Makefile makes
 * this object depend on every file there (the compiler's dependency
 * files do not see .incbin).
 */
#include <string.h>
#include "www.h"

#define EMBED(sym, path)						\
	__asm__(".section .rodata\n"					\
		".global " #sym "_start\n"				\
		".global " #sym "_end\n"				\
		".balign 16\n"						\
		#sym "_start:\n"					\
		".incbin \"" path "\"\n"				\
		#sym "_end:\n"						\
		".byte 0\n"						\
		".previous\n");						\
	extern const unsigned char sym##_start[], sym##_end[]

EMBED(www_index, "bridge/www/index.html");
EMBED(www_app, "bridge/www/app.js");
EMBED(www_style, "bridge/www/style.css");

const struct www_file *www_find(const char *name, size_t len)
{
	static struct www_file files[3];
	size_t i;

	if (!files[0].name) {
		files[0] = (struct www_file){"index.html",
			"text/html; charset=utf-8", www_index_start,
			(size_t)(www_index_end - www_index_start)};
		files[1] = (struct www_file){"app.js",
			"text/javascript; charset=utf-8", www_app_start,
			(size_t)(www_app_end - www_app_start)};
		files[2] = (struct www_file){"style.css",
			"text/css; charset=utf-8", www_style_start,
			(size_t)(www_style_end - www_style_start)};
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strlen(files[i].name) == len &&
		    !memcmp(files[i].name, name, len))
			return &files[i];
	}
	return NULL;
}
