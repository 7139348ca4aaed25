/**
 * @file demo.h  `lowbridge demo`: the bridge with simulated sites.
 *
 * Threads: main only.
 */
#ifndef LB_DEMO_H
#define LB_DEMO_H

#include <stddef.h>

/** Make the demo's speech and configuration in dir; its path goes to
 *  cfg_path. @return 0, or an errno after telling the user why. */
int  demo_prepare(const char *dir, const char *sip, const char *http,
		  char *cfg_path, size_t sz);
/** Start the simulated sites (the bridge listens by now). */
void demo_start_sites(const char *http);
/** Hang them up and reap them (bounded: SIGKILL after 3 s). */
void demo_stop_sites(void);

#endif
