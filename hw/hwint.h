/**
 * @file hwint.h  What hw/'s files share and nobody else needs.
 */
#ifndef LB_HWINT_H
#define LB_HWINT_H

#include <regex.h>
#include "hw.h"

enum hw_rule_kind {
	HW_RULE_CTL = 1,
	HW_RULE_CARD,
	HW_RULE_PCM,
	HW_RULE_POOL,
};

enum hw_key {
	HW_KEY_ID = 1,
	HW_KEY_DRIVER,
	HW_KEY_USB,
	HW_KEY_NAME,
};

struct hw_rule {
	enum hw_rule_kind kind;
	unsigned features;            /* 1 << enum hw_feature */
	enum hw_key key;              /* card, pool */
	char value[64];
	regex_t re;
	bool has_re;
	unsigned line;
};

struct hw_profiles {
	struct hw_rule *v;
	size_t n;
};

/** Fill di->feat and di->pool from the rules. */
void hw_profiles_apply(const struct hw_profiles *p, struct hw_devinfo *d);

#endif
