/* auth.h: users, password hashing, sessions and failed-login limits.
 *
 * Passwords are stored as PBKDF2-HMAC-SHA256 (libmd's SHA-256) with a
 * random 16-byte salt and the iteration count of the config at the time;
 * checks compare in constant time. A session token is 32 random bytes in
 * hex; the store keeps only its SHA-256. Failed logins are counted in
 * memory per existing user name and per client address (an IPv6 address
 * by its /64); past login_max_failures within login_window either one is
 * refused with CB_ERR_RATE. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "cubby/status.h"
#include "cubby/ids.h"

struct cb_store;

#define CB_USER_NAME_MAX 32
#define CB_PASS_MAX 1024
#define CB_TOKEN_LEN 64 /* hex characters */

struct cb_user {
	char id[CB_ID_LEN + 1];
	char name[CB_USER_NAME_MAX + 1];
	bool admin;
	int64_t created; /* ms */
};

/* NULL when `name` is a valid user name (1..32 of A-Z a-z 0-9 . _ -,
 * starting with a letter or digit), else a message for the client. */
const char *auth_check_name(const char *name);
/* NULL when `pass` is acceptable (1..CB_PASS_MAX bytes), else a message. */
const char *auth_check_password(const char *pass);

/* PBKDF2-HMAC-SHA256 (RFC 8018) of pass/salt into out (outlen bytes). */
void pbkdf2_hmac_sha256(const void *pass, size_t passlen, const void *salt,
			size_t saltlen, unsigned iterations, uint8_t *out,
			size_t outlen);

cb_status auth_user_create(cb_store *st, const char *name, const char *pass,
			   bool admin, cb_user *out);
/* Removes the user, its sessions, every node it owns (purged), and its
 * stored uploads but those open in this process right now (the blob module
 * will not commit those once the owner is gone). */
cb_status auth_user_delete(cb_store *st, const char *name);
cb_status auth_user_get(cb_store *st, const char *name, cb_user *out);
cb_status auth_user_by_id(cb_store *st, const char *id, cb_user *out);
/* Sets a new password and ends every session of the user, in one
 * transaction: a token obtained with the old password stops working. */
cb_status auth_set_password(cb_store *st, const char *name, const char *pass);

/* First start: when there are no users, creates "admin" with a random
 * password, writes it to <data_dir>/initial-password (mode 0600), logs it
 * once at warn (so that log_level = warn shows it too), and copies it to
 * password (>= 32 bytes). With users present, does nothing and sets
 * password to "". */
cb_status auth_first_start(cb_store *st, char *password, size_t passsz);

/* Checks name/password for a login from `addr` (client address, may be
 * ""): CB_OK with out filled, CB_ERR_AUTH (unknown user or wrong password,
 * the same answer for both, after one PBKDF2 either way), or CB_ERR_RATE. */
cb_status auth_verify(cb_store *st, const char *name, const char *pass,
		      const char *addr, int64_t now, cb_user *out);

/* New session for user, valid session_ttl from now. */
cb_status auth_session_create(cb_store *st, const cb_user *u, int64_t now,
			      char token[CB_TOKEN_LEN + 1]);
/* The user behind a live token; CB_ERR_AUTH when unknown or expired. */
cb_status auth_session_check(cb_store *st, const char *token, int64_t now,
			     cb_user *out);
cb_status auth_session_delete(cb_store *st, const char *token);
/* Deletes expired sessions; returns how many. */
size_t auth_sessions_expire(cb_store *st, int64_t now);
