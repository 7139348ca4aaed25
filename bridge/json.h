/**
 * @file json.h  JSON output helpers for the HTTP API.
 *
 * Threads: any (pure formatting).
 */
#ifndef LB_JSON_H
#define LB_JSON_H

#include <re.h>

/** %H helper printing a JSON string literal (quotes and escapes). */
int json_pstr(struct re_printf *pf, const char *s);
/** The same, but null for NULL. */
int json_nstr(struct re_printf *pf, const char *s);

/** "true" or "false", for %s. */
static inline const char *json_bool(bool v)
{
	return v ? "true" : "false";
}

#endif
