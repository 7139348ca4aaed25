/**
 * @file auth.h  Accounts of the HTTP API and consoles (`[user NAME]`):
 * passwords as libsodium's crypto_pwhash_str (Argon2id), HTTP Basic for
 * scripts, a session cookie for the web page.
 *
 * Threads: network thread only.
 */
#ifndef LB_AUTH_H
#define LB_AUTH_H

#include <re.h>
#include "config.h"

#define AUTH_TOKEN_LEN 64             /* hex characters of a session */

enum auth_result {
	AUTH_OK = 0,
	AUTH_NONE,                    /* no credentials given */
	AUTH_BAD,                     /* wrong user, password or session */
	AUTH_LIMITED,                 /* too many failures from there */
};

/** The accounts of cfg (kept by reference: cfg outlives auth). */
int  auth_init(const struct cfg *cfg);
void auth_close(void);
/** Accounts exist: requests must carry credentials. */
bool auth_enabled(void);

/**
 * Who sent the request: its session cookie or its HTTP Basic
 * credentials. Without accounts every request is AUTH_OK with *userp
 * NULL (an anonymous operator).
 */
enum auth_result auth_check(const struct http_msg *msg,
			    const struct sa *peer,
			    const struct cfg_user **userp);

/** Log in with a password; on AUTH_OK a new session token (NUL ended,
 *  AUTH_TOKEN_LEN characters) is written to token. */
enum auth_result auth_login(const char *user, const char *password,
			    const struct sa *peer, char *token,
			    size_t sz, const struct cfg_user **userp);
/** End the session the request carries, if any. */
void auth_logout(const struct http_msg *msg);

/** Hash a password for `password_hash =` (slow on purpose). */
int  auth_hash(const char *password, char *out, size_t sz);

/** @return the session cookie's value in msg, or an empty pl. */
struct pl auth_cookie(const struct http_msg *msg);

#endif
