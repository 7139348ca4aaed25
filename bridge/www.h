/**
 * @file www.h  The operator's web console (bridge/www/), built into the
 * binary so that the bridge serves it with no files beside it and no
 * network: a meeting room's PC may have neither.
 *
 * Threads: network thread (the table is filled on first use).
 */
#ifndef LB_WWW_H
#define LB_WWW_H

#include <stddef.h>

struct www_file {
	const char *name;            /* "index.html" */
	const char *type;            /* its Content-Type */
	const unsigned char *data;
	size_t size;
};

/** The file called name, or NULL. */
const struct www_file *www_find(const char *name, size_t len);

#endif
