/**
 * @file profile.c  The table of rules that tells which speech processing
 * a device does (hw/profiles.conf explains the syntax and why it is a
 * table), and the per-feature decision hardware / software / off.
 *
 * Threads: any (a loaded table is read-only).
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hw.h"
#include "hwint.h"

#define RULES_MAX 128

const char *hw_feature_name(enum hw_feature f)
{
	static const char *const n[HW_FEATURES] = {"aec", "ns", "agc"};

	return (unsigned)f < HW_FEATURES ? n[f] : "?";
}

const char *hw_where_name(enum hw_where w)
{
	switch (w) {
	case HW_SW: return "software";
	case HW_HW: return "hardware";
	default:    return "off";
	}
}

int hw_mode_parse(const char *s, enum hw_mode *mode)
{
	if (!strcasecmp(s, "auto"))
		*mode = HW_MODE_AUTO;
	else if (!strcasecmp(s, "hw"))
		*mode = HW_MODE_HW;
	else if (!strcasecmp(s, "sw"))
		*mode = HW_MODE_SW;
	else if (!strcasecmp(s, "off"))
		*mode = HW_MODE_OFF;
	else
		return EINVAL;
	return 0;
}

static void rules_free(struct hw_profiles *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->v[i].has_re)
			regfree(&p->v[i].re);
	}
	free(p->v);
}

void hw_profiles_free(struct hw_profiles *p)
{
	if (!p)
		return;
	rules_free(p);
	free(p);
}

static int parse_features(const char *s, unsigned *mask)
{
	char buf[64], *tok, *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		enum hw_feature f;

		for (f = 0; f < HW_FEATURES; f++) {
			if (!strcasecmp(tok, hw_feature_name(f)))
				break;
		}
		if (f == HW_FEATURES)
			return EINVAL;
		*mask |= 1u << f;
	}
	return *mask ? 0 : EINVAL;
}

/* "/REGEX/" -> compiled, case-insensitive */
static int parse_re(struct hw_rule *r, const char *s, char *why, size_t sz)
{
	size_t n = strlen(s);
	char *pat;
	int rc;

	if (n < 2 || s[0] != '/' || s[n - 1] != '/') {
		snprintf(why, sz, "a pattern is written /REGEX/");
		return EINVAL;
	}
	pat = strndup(s + 1, n - 2);
	if (!pat)
		return ENOMEM;
	rc = regcomp(&r->re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(pat);
	if (rc) {
		regerror(rc, &r->re, why, sz);
		return EINVAL;
	}
	r->has_re = true;
	return 0;
}

static int parse_key(struct hw_rule *r, const char *s, char *why, size_t sz)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s || !eq[1]) {
		snprintf(why, sz, "expected id=, driver=, usb= or name=");
		return EINVAL;
	}
	if (!strncmp(s, "id=", 3))
		r->key = HW_KEY_ID;
	else if (!strncmp(s, "driver=", 7))
		r->key = HW_KEY_DRIVER;
	else if (!strncmp(s, "usb=", 4))
		r->key = HW_KEY_USB;
	else if (!strncmp(s, "name=", 5))
		return r->key = HW_KEY_NAME, parse_re(r, eq + 1, why, sz);
	else {
		snprintf(why, sz, "unknown key '%.*s'", (int)(eq - s), s);
		return EINVAL;
	}
	snprintf(r->value, sizeof(r->value), "%s", eq + 1);
	return 0;
}

int hw_profiles_load(struct hw_profiles **pp, const char *text,
		     char *err, size_t errsz)
{
	struct hw_profiles *p;
	const char *line = text ? text : hw_profiles_builtin();
	unsigned lineno = 0;
	int e = 0;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->v = calloc(RULES_MAX, sizeof(*p->v));
	if (!p->v) {
		free(p);
		return ENOMEM;
	}
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512], kind[16], feat[64], arg[400], why[160] = "";
		struct hw_rule *r;
		int n;

		++lineno;
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl ? nl + 1 : NULL;
		if (strchr(buf, '#') && buf[strspn(buf, " \t")] == '#')
			continue;
		n = sscanf(buf, "%15s %63s %399[^\n]", kind, feat, arg);
		if (n <= 0)
			continue;
		/* trailing blanks of the pattern */
		if (n == 3) {
			size_t al = strlen(arg);

			while (al && (arg[al - 1] == ' ' ||
				      arg[al - 1] == '\t'))
				arg[--al] = '\0';
		}
		if (p->n == RULES_MAX) {
			snprintf(why, sizeof(why), "more than %u rules",
				 RULES_MAX);
			e = EINVAL;
		}
		else if (n != 3) {
			snprintf(why, sizeof(why), "expected KIND FEATURES "
				 "PATTERN");
			e = EINVAL;
		}
		r = &p->v[p->n];
		memset(r, 0, sizeof(*r));
		if (!e && parse_features(feat, &r->features)) {
			snprintf(why, sizeof(why), "features are aec, ns, "
				 "agc: '%s'", feat);
			e = EINVAL;
		}
		if (!e && !strcmp(kind, "ctl")) {
			r->kind = HW_RULE_CTL;
			if (r->features & (r->features - 1)) {
				snprintf(why, sizeof(why), "a control turns "
					 "one feature on");
				e = EINVAL;
			}
			else
				e = parse_re(r, arg, why, sizeof(why));
		}
		else if (!e && !strcmp(kind, "pcm")) {
			r->kind = HW_RULE_PCM;
			e = parse_re(r, arg, why, sizeof(why));
		}
		else if (!e && (!strcmp(kind, "card") ||
				!strcmp(kind, "pool"))) {
			r->kind = kind[0] == 'c' ? HW_RULE_CARD :
				HW_RULE_POOL;
			e = parse_key(r, arg, why, sizeof(why));
		}
		else if (!e) {
			snprintf(why, sizeof(why), "unknown kind '%s' (ctl, "
				 "card, pcm, pool)", kind);
			e = EINVAL;
		}
		if (e) {
			if (r->has_re)
				regfree(&r->re);
			if (err)
				snprintf(err, errsz, "line %u: %s", lineno,
					 why[0] ? why : strerror(e));
			hw_profiles_free(p);
			return e;
		}
		r->line = lineno;
		++p->n;
	}
	*pp = p;
	return 0;
}

int hw_profiles_load_file(struct hw_profiles **pp, const char *path,
			  char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char *text;
	long n;
	int e;

	if (!f) {
		e = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		return e;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > 1 << 20 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		snprintf(err, errsz, "%s: unreadable or too large", path);
		return EINVAL;
	}
	text = malloc((size_t)n + 1);
	if (!text) {
		fclose(f);
		return ENOMEM;
	}
	text[fread(text, 1, (size_t)n, f)] = '\0';
	fclose(f);
	e = hw_profiles_load(pp, text, err, errsz);
	free(text);
	if (e && err) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errsz, "%s", tmp);
	}
	return e;
}

static bool key_matches(const struct hw_rule *r, const struct hw_devinfo *d)
{
	size_t n;

	switch (r->key) {

	case HW_KEY_ID:
		return d->card_id[0] && !strcasecmp(r->value, d->card_id);

	case HW_KEY_DRIVER:
		return d->driver[0] && !strcasecmp(r->value, d->driver);

	case HW_KEY_USB:
		/* "0b0e:*" is every product of the vendor */
		n = strlen(r->value);
		if (!d->usb_id[0])
			return false;
		if (n && r->value[n - 1] == '*')
			return !strncasecmp(r->value, d->usb_id, n - 1);
		return !strcasecmp(r->value, d->usb_id);

	case HW_KEY_NAME:
	default:
		return d->card_name[0] &&
			!regexec(&r->re, d->card_name, 0, NULL, 0);
	}
}

static void set_feat(struct hw_devinfo *d, unsigned mask, enum hw_cap cap,
		     const char *ctl, const struct hw_rule *r)
{
	static const char *const kinds[] = {"", "ctl", "card", "pcm",
					    "pool"};
	enum hw_feature f;

	for (f = 0; f < HW_FEATURES; f++) {
		if (!(mask & (1u << f)) || d->feat[f].cap != HW_CAP_NONE)
			continue;
		d->feat[f].cap = cap;
		snprintf(d->feat[f].ctl, sizeof(d->feat[f].ctl), "%s",
			 ctl ? ctl : "");
		snprintf(d->feat[f].why, sizeof(d->feat[f].why),
			 "profile line %u (%s)", r->line, kinds[r->kind]);
	}
}

void hw_profiles_apply(const struct hw_profiles *p, struct hw_devinfo *d)
{
	size_t i, k;

	for (i = 0; p && i < p->n; i++) {
		const struct hw_rule *r = &p->v[i];

		switch (r->kind) {

		case HW_RULE_CTL:
			for (k = 0; k < d->ctlc; k++) {
				if (!regexec(&r->re, d->ctlv[k], 0, NULL, 0)) {
					set_feat(d, r->features,
						 HW_CAP_SWITCH, d->ctlv[k], r);
					break;
				}
			}
			break;

		case HW_RULE_CARD:
			if (key_matches(r, d))
				set_feat(d, r->features, HW_CAP_ALWAYS, NULL,
					 r);
			break;

		case HW_RULE_PCM:
			if (!regexec(&r->re, d->name, 0, NULL, 0) ||
			    (d->desc[0] &&
			     !regexec(&r->re, d->desc, 0, NULL, 0)))
				set_feat(d, r->features, HW_CAP_ALWAYS, NULL,
					 r);
			break;

		case HW_RULE_POOL:
			if (key_matches(r, d) && !d->pool) {
				d->pool = 1;   /* channels: from the PCM */
				d->pool_features = r->features;
			}
			break;
		}
	}
}

void hw_decide(const struct hw_devinfo *di, const enum hw_mode *modev,
	       enum hw_where *wherev)
{
	enum hw_feature f;

	for (f = 0; f < HW_FEATURES; f++) {
		const bool has = di && di->feat[f].cap != HW_CAP_NONE;
		const enum hw_mode m = modev ? modev[f] : HW_MODE_AUTO;

		switch (m) {
		case HW_MODE_OFF:
			/* an always-on DSP cannot be turned off */
			wherev[f] = has && di->feat[f].cap == HW_CAP_ALWAYS ?
				HW_HW : HW_OFF;
			break;
		case HW_MODE_SW:
			/* never both for echo: an always-on canceller
			 * stays, and software echo control would only
			 * fight it */
			wherev[f] = has && di->feat[f].cap == HW_CAP_ALWAYS ?
				(f == HW_AEC ? HW_HW : HW_SW) : HW_SW;
			break;
		default:
			wherev[f] = has ? HW_HW : HW_SW;
			break;
		}
	}
}
