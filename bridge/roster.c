/**
 * @file roster.c  The sites a room expects, and what became of each in
 * the current meeting: missing, connected, late, left.
 *
 * A meeting starts when the first site joins an empty room and ends
 * when the last one leaves; the roster starts over with the next. A
 * caller is matched to the first expected site it fits that is not
 * connected (by SIP user, From URI, display name or source address, as
 * the configuration says); a caller that fits none is an unknown
 * caller. "late": joined more than ROSTER_LATE_S after the meeting
 * started; "left": was there and is gone while the meeting goes on.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <string.h>
#include "json.h"
#include "lbtime.h"
#include "roster.h"

#define ROSTER_LATE_S 300

struct rentry {
	const struct cfg_expect *e;
	const struct site *site;         /* connected now, or NULL */
	uint64_t first_join_ns;          /* this meeting, 0 = never */
	uint64_t left_ns;                /* last left, 0 = not left */
	bool late;
};

struct roster {
	struct rentry *v;
	uint32_t n;
	uint64_t meeting_ns;             /* 0: no meeting */
	uint32_t present;                /* sites in the room */
};

static void destructor(void *arg)
{
	struct roster *r = arg;

	mem_deref(r->v);
}

int roster_alloc(struct roster **rp, const struct cfg_room *rc)
{
	struct roster *r;
	uint32_t i;

	if (!rp || !rc)
		return EINVAL;
	r = mem_zalloc(sizeof(*r), destructor);
	if (!r)
		return ENOMEM;
	r->n = rc->expc;
	if (r->n) {
		r->v = mem_zalloc(r->n * sizeof(*r->v), NULL);
		if (!r->v) {
			mem_deref(r);
			return ENOMEM;
		}
	}
	for (i = 0; i < r->n; i++)
		r->v[i].e = &rc->expv[i];
	*rp = r;
	return 0;
}

static bool fits(const struct cfg_expect *e, const struct site_info *si)
{
	struct sa a;

	switch (e->match) {

	case CFG_MATCH_USER:
		return !str_casecmp(si->user, e->value);

	case CFG_MATCH_URI:
		return !str_casecmp(si->uri, e->value);

	case CFG_MATCH_ADDR:
		/* IP:PORT matches that exactly; an IP alone any port */
		if (!sa_decode(&a, e->value, strlen(e->value)))
			return sa_cmp(&a, si->sig_addr, SA_ALL);
		if (!sa_set_str(&a, e->value, 0))
			return sa_cmp(&a, si->sig_addr, SA_ADDR);
		return false;

	case CFG_MATCH_NAME:
	default:
		return !str_casecmp(si->name, e->value);
	}
}

int roster_join(struct roster *r, const struct site *site)
{
	const uint64_t now = lb_mono_ns();
	struct site_info si;
	uint32_t i;

	if (!r || !site)
		return -1;
	if (!r->present++) {
		/* a new meeting */
		r->meeting_ns = now;
		for (i = 0; i < r->n; i++) {
			r->v[i].first_join_ns = 0;
			r->v[i].left_ns = 0;
			r->v[i].late = false;
			r->v[i].site = NULL;
		}
	}
	site_info(site, &si);
	for (i = 0; i < r->n; i++) {
		struct rentry *x = &r->v[i];

		if (x->site || !fits(x->e, &si))
			continue;
		x->site = site;
		x->left_ns = 0;
		if (!x->first_join_ns) {
			x->first_join_ns = now;
			x->late = now - r->meeting_ns >
				(uint64_t)ROSTER_LATE_S * 1000000000ull;
		}
		return (int)i;
	}
	return -1;
}

void roster_leave(struct roster *r, const struct site *site)
{
	uint32_t i;

	if (!r || !site)
		return;
	for (i = 0; i < r->n; i++) {
		if (r->v[i].site == site) {
			r->v[i].site = NULL;
			r->v[i].left_ns = lb_mono_ns();
		}
	}
	if (r->present && !--r->present)
		r->meeting_ns = 0;
}

const char *roster_state(const struct roster *r, uint32_t i)
{
	const struct rentry *x = &r->v[i];

	if (x->site)
		return x->late ? "late" : "connected";
	if (x->first_join_ns)
		return "left";
	return "missing";
}

const struct cfg_expect *roster_expected(const struct roster *r,
					 const struct site *site)
{
	uint32_t i;

	for (i = 0; r && i < r->n; i++) {
		if (r->v[i].site == site)
			return r->v[i].e;
	}
	return NULL;
}

uint32_t roster_count(const struct roster *r, const char *state)
{
	uint32_t i, n = 0;

	for (i = 0; r && i < r->n; i++)
		n += !strcmp(roster_state(r, i), state);
	return n;
}

double roster_meeting_s(const struct roster *r)
{
	return r && r->meeting_ns ?
		(double)(lb_mono_ns() - r->meeting_ns) / 1e9 : 0;
}

int roster_print(struct re_printf *pf, const struct roster *r)
{
	const uint64_t now = lb_mono_ns();
	int err = re_hprintf(pf, "[");
	uint32_t i;

	for (i = 0; r && i < r->n; i++) {
		const struct rentry *x = &r->v[i];

		err |= re_hprintf(pf, "%s{\"name\":%H,\"contact\":%H,"
				  "\"phone\":%H,\"state\":\"%s\",\"site\":",
				  i ? "," : "", json_pstr, x->e->name,
				  json_pstr, x->e->contact, json_pstr,
				  x->e->phone, roster_state(r, i));
		if (x->site)
			err |= re_hprintf(pf, "%H", json_pstr,
					  site_id(x->site));
		else
			err |= re_hprintf(pf, "null");
		if (x->first_join_ns && r->meeting_ns)
			err |= re_hprintf(pf, ",\"joined_s\":%.1f",
					  (double)(x->first_join_ns -
						   r->meeting_ns) / 1e9);
		if (x->left_ns)
			err |= re_hprintf(pf, ",\"left_ago_s\":%.1f",
					  (double)(now - x->left_ns) / 1e9);
		err |= re_hprintf(pf, "}");
	}
	return err | re_hprintf(pf, "]");
}
