/**
 * @file lbtime.h  The process's monotonic clock in nanoseconds.
 *
 * Threads: any.
 */
#ifndef LB_LBTIME_H
#define LB_LBTIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lb_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define LB_VERSION "0.1.0"

#endif
