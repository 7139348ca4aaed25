/**
 * @file auth.c  Accounts, sessions and HTTP Basic (see auth.h).
 *
 * Checking a password is slow on purpose (Argon2id, libsodium's
 * interactive limits: tens of ms and 64 MB). It runs on the network
 * thread, so three things keep that rare: a script's Basic credentials,
 * once checked, are remembered for BASIC_TTL_S by a keyed hash of the
 * header (never the password itself); the page logs in once and then
 * shows a session cookie; and an address that fails FAIL_MAX times in
 * FAIL_WINDOW_S gets 429 without any hashing until the window ends.
 * An unknown user name costs the same hash as a wrong password, so the
 * time taken does not tell which names exist.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <sodium.h>
#include <string.h>
#define LOG_MODULE "auth"
#include "auth.h"
#include "lbtime.h"
#include "log.h"

#define SESSION_MAX      256
#define SESSION_IDLE_S   (12 * 3600)  /* a working day of meetings */
#define BASIC_MAX        64
#define BASIC_TTL_S      600
#define FAIL_MAX         5
#define FAIL_WINDOW_S    60
#define FAIL_SLOTS       64

struct session {
	char token[AUTH_TOKEN_LEN + 1];
	const struct cfg_user *user;
	uint64_t used_ns;
};

struct basic {
	uint8_t key[crypto_generichash_BYTES];
	const struct cfg_user *user;
	uint64_t until_ns;
};

struct fail {
	struct sa addr;
	uint32_t count;
	uint64_t since_ns;
};

static struct {
	const struct cfg *cfg;
	struct session sessv[SESSION_MAX];
	struct basic basicv[BASIC_MAX];
	struct fail failv[FAIL_SLOTS];
	uint8_t hkey[crypto_generichash_KEYBYTES];
	char dummy[crypto_pwhash_STRBYTES];
	bool up;
} au;

static const uint64_t NS = 1000000000ull;

int auth_init(const struct cfg *cfg)
{
	if (sodium_init() < 0) {
		log_err("libsodium does not start\n");
		return ENOSYS;
	}
	memset(&au, 0, sizeof(au));
	au.cfg = cfg;
	randombytes_buf(au.hkey, sizeof(au.hkey));
	au.up = true;
	return 0;
}

void auth_close(void)
{
	sodium_memzero(&au, sizeof(au));
}

bool auth_enabled(void)
{
	return au.up && au.cfg->userc > 0;
}

int auth_hash(const char *password, char *out, size_t sz)
{
	if (!password || !out || sz < crypto_pwhash_STRBYTES)
		return EINVAL;
	if (sodium_init() < 0)
		return ENOSYS;
	if (crypto_pwhash_str(out, password, strlen(password),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE))
		return ENOMEM;
	return 0;
}

static const struct cfg_user *user_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < au.cfg->userc; i++) {
		const struct cfg_user *u = &au.cfg->userv[i];

		if (strlen(u->name) == len && !memcmp(u->name, name, len))
			return u;
	}
	return NULL;
}

static struct fail *fail_slot(const struct sa *peer, bool make)
{
	const uint64_t now = lb_mono_ns();
	struct fail *oldest = &au.failv[0];
	size_t i;

	for (i = 0; i < FAIL_SLOTS; i++) {
		struct fail *f = &au.failv[i];

		if (f->count && now - f->since_ns > FAIL_WINDOW_S * NS)
			f->count = 0;
		if (f->count && sa_cmp(&f->addr, peer, SA_ADDR))
			return f;
		if (!f->count || f->since_ns < oldest->since_ns)
			oldest = f;
	}
	if (!make)
		return NULL;
	oldest->addr = *peer;
	oldest->count = 0;
	oldest->since_ns = now;
	return oldest;
}

static bool limited(const struct sa *peer)
{
	const struct fail *f = fail_slot(peer, false);

	return f && f->count >= FAIL_MAX;
}

static void failed(const struct sa *peer, const char *how)
{
	struct fail *f = fail_slot(peer, true);

	if (++f->count == FAIL_MAX)
		log_warn("%j: %u failed logins (%s): refused for %u s\n",
			 peer, f->count, how, FAIL_WINDOW_S);
	else
		log_info("%j: login failed (%s)\n", peer, how);
}

/* The slow check; unknown names are hashed against a dummy. */
static const struct cfg_user *verify(const char *name, size_t nlen,
				     const char *pw, size_t plen)
{
	const struct cfg_user *u = user_find(name, nlen);

	if (!u) {
		if (!au.dummy[0] &&
		    crypto_pwhash_str(au.dummy, "-", 1,
				      crypto_pwhash_OPSLIMIT_INTERACTIVE,
				      crypto_pwhash_MEMLIMIT_INTERACTIVE))
			return NULL;
		/* same cost as a known name; the answer is no anyway */
		if (crypto_pwhash_str_verify(au.dummy, pw, plen))
			return NULL;
		return NULL;
	}
	return crypto_pwhash_str_verify(u->hash, pw, plen) ? NULL : u;
}

struct pl auth_cookie(const struct http_msg *msg)
{
	const struct http_hdr *h = http_msg_xhdr(msg, "Cookie");
	struct pl v = PL_INIT, rest;

	if (!h)
		return v;
	/* "a=1; lb_session=...; b=2": the pair named exactly so */
	rest = h->val;
	while (rest.l) {
		const char *semi = pl_strchr(&rest, ';');
		struct pl pair = rest, name, val;

		if (semi) {
			pair.l = semi - rest.p;
			pl_advance(&rest, pair.l + 1);
		}
		else {
			rest.l = 0;
		}
		/* ours are hex; anything else is no session of ours */
		if (!re_regex(pair.p, pair.l, "[ ]*[^= ]+=[0-9a-f]+[ ]*",
			      NULL, &name, &val, NULL) &&
		    !pl_strcmp(&name, "lb_session"))
			return val;
	}
	return v;
}

static struct session *session_find(const struct pl *tok)
{
	const uint64_t now = lb_mono_ns();
	size_t i;

	if (tok->l != AUTH_TOKEN_LEN)
		return NULL;
	for (i = 0; i < SESSION_MAX; i++) {
		struct session *s = &au.sessv[i];

		if (!s->user)
			continue;
		if (now - s->used_ns > SESSION_IDLE_S * NS) {
			s->user = NULL;
			continue;
		}
		if (!sodium_memcmp(s->token, tok->p, AUTH_TOKEN_LEN))
			return s;
	}
	return NULL;
}

static enum auth_result check_basic(const struct pl *val,
				    const struct sa *peer,
				    const struct cfg_user **userp)
{
	const uint64_t now = lb_mono_ns();
	uint8_t key[crypto_generichash_BYTES];
	struct basic *slot = &au.basicv[0];
	const struct cfg_user *u;
	struct pl b64;
	char dec[256];
	size_t dlen = sizeof(dec) - 1, i;
	char *colon;

	if (re_regex(val->p, val->l, "Basic [A-Za-z0-9+/=]+", &b64))
		return AUTH_NONE;
	crypto_generichash(key, sizeof(key), (const uint8_t *)b64.p, b64.l,
			   au.hkey, sizeof(au.hkey));
	for (i = 0; i < BASIC_MAX; i++) {
		struct basic *b = &au.basicv[i];

		if (b->user && now < b->until_ns &&
		    !sodium_memcmp(b->key, key, sizeof(key))) {
			*userp = b->user;
			return AUTH_OK;
		}
		if (b->until_ns < slot->until_ns)
			slot = b;
	}
	if (limited(peer))
		return AUTH_LIMITED;
	if (base64_decode(b64.p, b64.l, (uint8_t *)dec, &dlen))
		return AUTH_BAD;
	dec[dlen] = '\0';
	colon = memchr(dec, ':', dlen);
	u = colon ? verify(dec, colon - dec, colon + 1,
			   dlen - (colon + 1 - dec)) : NULL;
	sodium_memzero(dec, sizeof(dec));
	if (!u) {
		failed(peer, "HTTP Basic");
		return AUTH_BAD;
	}
	memcpy(slot->key, key, sizeof(key));
	slot->user = u;
	slot->until_ns = now + BASIC_TTL_S * NS;
	*userp = u;
	return AUTH_OK;
}

enum auth_result auth_check(const struct http_msg *msg,
			    const struct sa *peer,
			    const struct cfg_user **userp)
{
	const struct http_hdr *h;
	struct pl tok;

	*userp = NULL;
	if (!auth_enabled())
		return AUTH_OK;
	tok = auth_cookie(msg);
	if (pl_isset(&tok)) {
		struct session *s = session_find(&tok);

		if (s) {
			s->used_ns = lb_mono_ns();
			*userp = s->user;
			return AUTH_OK;
		}
	}
	h = http_msg_hdr(msg, HTTP_HDR_AUTHORIZATION);
	if (h)
		return check_basic(&h->val, peer, userp);
	return pl_isset(&tok) ? AUTH_BAD : AUTH_NONE;
}

enum auth_result auth_login(const char *user, const char *password,
			    const struct sa *peer, char *token,
			    size_t sz, const struct cfg_user **userp)
{
	uint8_t rnd[AUTH_TOKEN_LEN / 2];
	struct session *slot = &au.sessv[0];
	const struct cfg_user *u;
	size_t i;

	*userp = NULL;
	if (!auth_enabled() || sz < AUTH_TOKEN_LEN + 1)
		return AUTH_BAD;
	if (limited(peer))
		return AUTH_LIMITED;
	u = verify(user, strlen(user), password, strlen(password));
	if (!u) {
		failed(peer, "login form");
		return AUTH_BAD;
	}
	/* a free slot, else the session idle the longest */
	for (i = 0; i < SESSION_MAX; i++) {
		if (!au.sessv[i].user) {
			slot = &au.sessv[i];
			break;
		}
		if (au.sessv[i].used_ns < slot->used_ns)
			slot = &au.sessv[i];
	}
	randombytes_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		re_snprintf(slot->token + 2 * i, 3, "%02x", rnd[i]);
	slot->user = u;
	slot->used_ns = lb_mono_ns();
	str_ncpy(token, slot->token, sz);
	*userp = u;
	log_info("%j: %s logged in\n", peer, u->name);
	return AUTH_OK;
}

void auth_logout(const struct http_msg *msg)
{
	struct pl tok = auth_cookie(msg);
	struct session *s = pl_isset(&tok) ? session_find(&tok) : NULL;

	if (s)
		sodium_memzero(s, sizeof(*s));
}
