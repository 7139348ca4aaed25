/**
 * @file log.c  Logging to stderr with levels and module prefixes.
 *
 * One write(2) per line so lines from different threads never interleave
 * mid-line. libre's own debug output is routed here (dbg_handler_set) so
 * the whole process speaks with one voice.
 */
#include <re.h>
#define DEBUG_MODULE "log"
#define DEBUG_LEVEL 0
#include <re_dbg.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

enum log_level lb_log_level = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void lb_log(enum log_level lvl, const char *module, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = re_snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld %s%s: ",
			tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000,
			lvl == LOG_LVL_ERR ? "ERROR " :
			lvl == LOG_LVL_WARN ? "WARN " : "",
			module);
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	m = re_vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

int lb_log_level_parse(enum log_level *lvl, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(name, level_names[i])) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *lb_log_level_name(enum log_level lvl)
{
	return (size_t)lvl < ARRAY_SIZE(level_names) ?
		level_names[lvl] : "?";
}

static void libre_dbg_handler(int level, const char *p, size_t len,
			      void *arg)
{
	enum log_level lvl;
	(void)arg;

	switch (level) {
	case DBG_EMERG: case DBG_ALERT: case DBG_CRIT: case DBG_ERR:
		lvl = LOG_LVL_ERR;
		break;
	case DBG_WARNING:
		lvl = LOG_LVL_WARN;
		break;
	case DBG_NOTICE: case DBG_INFO:
		lvl = LOG_LVL_INFO;
		break;
	default:
		lvl = LOG_LVL_DEBUG;
		break;
	}
	if (lb_log_level < lvl)
		return;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		--len;
	lb_log(lvl, "libre", "%b", p, len);
}

void lb_log_route_libre(void)
{
	dbg_init(DBG_DEBUG, DBG_NONE);
	dbg_handler_set(libre_dbg_handler, NULL);
}
