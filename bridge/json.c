/**
 * @file json.c  JSON string output for the HTTP API.
 */
#include <re.h>
#include "json.h"

int json_pstr(struct re_printf *pf, const char *s)
{
	int err = re_hprintf(pf, "\"");
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p && !err; p++) {
		switch (*p) {
		case '"':  err = re_hprintf(pf, "\\\""); break;
		case '\\': err = re_hprintf(pf, "\\\\"); break;
		case '\n': err = re_hprintf(pf, "\\n"); break;
		case '\r': err = re_hprintf(pf, "\\r"); break;
		case '\t': err = re_hprintf(pf, "\\t"); break;
		default:
			if (*p < 0x20)
				err = re_hprintf(pf, "\\u%04x", *p);
			else
				err = pf->vph((const char *)p, 1, pf->arg);
			break;
		}
	}
	return err | re_hprintf(pf, "\"");
}

int json_nstr(struct re_printf *pf, const char *s)
{
	return s ? json_pstr(pf, s) : re_hprintf(pf, "null");
}
