/**
 * @file log.h  Logging: levels, module prefixes, stderr.
 *
 * Each .c file defines LOG_MODULE before including this header; lines come
 * out as "module: text". The level is checked before anything is
 * formatted. Formatting is libre's (re_vsnprintf), so %m (errno text),
 * %j (struct sa address), %J (address:port) and %r (struct pl) work.
 *
 * Threads: any non-real-time thread. The mixer thread never logs; it posts
 * events that the network thread logs.
 */
#ifndef LB_LOG_H
#define LB_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

extern enum log_level lb_log_level;

void lb_log(enum log_level lvl, const char *module, const char *fmt, ...);
int  lb_log_level_parse(enum log_level *lvl, const char *name);
const char *lb_log_level_name(enum log_level lvl);
void lb_log_route_libre(void);

#ifndef LOG_MODULE
#define LOG_MODULE "lowbridge"
#endif

#define LB_LOG_(lvl, ...)						\
	do {								\
		if (lb_log_level >= (lvl))				\
			lb_log((lvl), LOG_MODULE, __VA_ARGS__);		\
	} while (0)

#define log_err(...)   LB_LOG_(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  LB_LOG_(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  LB_LOG_(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) LB_LOG_(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
