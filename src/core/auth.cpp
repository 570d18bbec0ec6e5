/* auth.cpp: user accounts, PBKDF2-HMAC-SHA256 password hashes, login
 * checks with failed-login limits, and session tokens (see auth.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sha2.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "store_internal.h"

#define SALT_LEN 16
#define HASH_LEN SHA256_DIGEST_LENGTH
#define INITIAL_PASS_LEN 20

/* ---- checks ---- */

/* Names are compared byte for byte: "Alice" and "alice" are two users.
 * The ASCII-only alphabet keeps look-alike names out without needing
 * Unicode case folding. */
const char *auth_check_name(const char *name)
{
	size_t len = strlen(name);
	if (len < 1 || len > CB_USER_NAME_MAX)
		return "user name must be 1 to 32 characters";
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != len)
		return "user name may contain only letters, digits, '.', '_' and '-'";
	if (name[0] == '.' || name[0] == '_' || name[0] == '-')
		return "user name must start with a letter or digit";
	return NULL;
}

const char *auth_check_password(const char *pass)
{
	size_t len = strlen(pass);
	if (len == 0)
		return "password must not be empty";
	if (len > CB_PASS_MAX)
		return "password is too long";
	return NULL;
}

/* ---- PBKDF2-HMAC-SHA256 ---- */

/* HMAC-SHA256 with the key's padded blocks already compressed: each MAC
 * then costs one compression per side for a short message. */
struct hmac_key {
	SHA2_CTX inner, outer;
};

static void hmac_init(hmac_key *h, const void *key, size_t keylen)
{
	uint8_t k[SHA256_BLOCK_LENGTH], pad[SHA256_BLOCK_LENGTH];
	memset(k, 0, sizeof(k));
	if (keylen > SHA256_BLOCK_LENGTH) {
		SHA2_CTX c;
		SHA256Init(&c);
		SHA256Update(&c, (const uint8_t *)key, keylen);
		SHA256Final(k, &c);
	} else if (keylen) {
		memcpy(k, key, keylen);
	}
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256Init(&h->inner);
	SHA256Update(&h->inner, pad, sizeof(pad));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256Init(&h->outer);
	SHA256Update(&h->outer, pad, sizeof(pad));
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
}

/* HMAC over the message a || b (b may be empty). */
static void hmac(const hmac_key *h, const uint8_t *a, size_t alen, const uint8_t *b,
		 size_t blen, uint8_t out[HASH_LEN])
{
	SHA2_CTX c = h->inner;
	SHA256Update(&c, a, alen);
	if (blen)
		SHA256Update(&c, b, blen);
	SHA256Final(out, &c);
	c = h->outer;
	SHA256Update(&c, out, HASH_LEN);
	SHA256Final(out, &c);
}

void pbkdf2_hmac_sha256(const void *pass, size_t passlen, const void *salt,
			size_t saltlen, unsigned iterations, uint8_t *out,
			size_t outlen)
{
	hmac_key h;
	hmac_init(&h, pass, passlen);
	for (uint32_t block = 1; outlen > 0; block++) {
		uint8_t be[4] = {(uint8_t)(block >> 24), (uint8_t)(block >> 16),
				 (uint8_t)(block >> 8), (uint8_t)block};
		uint8_t u[HASH_LEN], t[HASH_LEN];
		hmac(&h, (const uint8_t *)salt, saltlen, be, sizeof(be), u);
		memcpy(t, u, sizeof(t));
		for (unsigned i = 1; i < iterations; i++) {
			hmac(&h, u, sizeof(u), NULL, 0, u);
			for (size_t j = 0; j < HASH_LEN; j++)
				t[j] ^= u[j];
		}
		size_t n = outlen < HASH_LEN ? outlen : HASH_LEN;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
		explicit_bzero(u, sizeof(u));
		explicit_bzero(t, sizeof(t));
	}
	explicit_bzero(&h, sizeof(h));
}

/* Timing must not tell how many leading bytes of a guess were right. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;
	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* ---- user records ---- */

static void user_from_json(const cJSON *j, cb_user *out)
{
	json_copy_str(j, "id", out->id, sizeof(out->id));
	json_copy_str(j, "name", out->name, sizeof(out->name));
	out->admin = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "admin"));
	out->created = json_int(j, "created");
}

/* Loads the record of `name`; a name that could never have been created
 * is CB_ERR_NOTFOUND without asking LMDB (which refuses long keys). */
static cb_status user_load_txn(MDB_txn *t, cb_store *st, const char *name, cJSON **out)
{
	if (auth_check_name(name))
		return CB_ERR_NOTFOUND;
	return db_get_json(t, st->users, name, strlen(name), out);
}

/* A password as the record keeps it: fresh salt, hash, and the iteration
 * count of the config at the time. Made outside any transaction: PBKDF2
 * is slow and must not hold the write lock. */
struct secret {
	char salt[2 * SALT_LEN + 1];
	char hash[2 * HASH_LEN + 1];
	unsigned iterations;
};

static cb_status secret_make(cb_store *st, const char *pass, secret *s)
{
	uint8_t salt[SALT_LEN], hash[HASH_LEN];
	if (id_random(salt, sizeof(salt)))
		return CB_ERR_IO;
	s->iterations = st->cfg->pbkdf2_iterations;
	pbkdf2_hmac_sha256(pass, strlen(pass), salt, sizeof(salt), s->iterations, hash,
			   sizeof(hash));
	hex_encode(salt, sizeof(salt), s->salt);
	hex_encode(hash, sizeof(hash), s->hash);
	explicit_bzero(hash, sizeof(hash));
	return CB_OK;
}

static void json_set(cJSON *o, const char *name, cJSON *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, name);
	cJSON_AddItemToObject(o, name, v);
}

static cb_status secret_put(cJSON *rec, const secret *s)
{
	cJSON *salt = cJSON_CreateString(s->salt), *hash = cJSON_CreateString(s->hash),
	      *iter = cJSON_CreateNumber(s->iterations);
	if (!salt || !hash || !iter) {
		cJSON_Delete(salt);
		cJSON_Delete(hash);
		cJSON_Delete(iter);
		return CB_ERR_NOMEM;
	}
	json_set(rec, "salt", salt);
	json_set(rec, "hash", hash);
	json_set(rec, "iterations", iter);
	return CB_OK;
}

cb_status auth_user_create(cb_store *st, const char *name, const char *pass,
			   bool admin, cb_user *out)
{
	cb_user u;
	secret sec;
	cb_status s;
	if (auth_check_name(name) || auth_check_password(pass))
		return CB_ERR_INVAL;
	memset(&u, 0, sizeof(u));
	if (id_uuid4(u.id))
		return CB_ERR_IO;
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.admin = admin;
	u.created = cb_now_ms();
	if ((s = secret_make(st, pass, &sec)))
		return s;

	cJSON *rec = cJSON_CreateObject();
	if (!rec)
		return CB_ERR_NOMEM;
	cJSON_AddStringToObject(rec, "id", u.id);
	cJSON_AddStringToObject(rec, "name", u.name);
	cJSON_AddBoolToObject(rec, "admin", admin);
	cJSON_AddNumberToObject(rec, "created", (double)u.created);
	s = secret_put(rec, &sec);

	store_txn txn;
	if (!s)
		s = txn.begin(st, true);
	if (!s) {
		MDB_val k = {strlen(name), (void *)name}, v;
		int rc = mdb_get(txn.t, st->users, &k, &v);
		s = rc == 0 ? CB_ERR_EXISTS : rc == MDB_NOTFOUND ? CB_OK : store_mdb_status(rc);
	}
	if (!s)
		s = db_put_json(txn.t, st->users, name, strlen(name), rec);
	if (!s) {
		MDB_val k = {strlen(u.id), u.id}, v = {strlen(name), (void *)name};
		s = store_mdb_status(mdb_put(txn.t, st->users_by_id, &k, &v, 0));
	}
	cJSON_Delete(rec);
	if (!s)
		s = txn.commit();
	if (!s && out)
		*out = u;
	return s;
}

/* The record of user id, through users_by_id. */
static cb_status user_by_id_txn(MDB_txn *t, cb_store *st, const char *id, cJSON **out)
{
	char name[CB_USER_NAME_MAX + 1];
	size_t len = strlen(id);
	if (len == 0 || len > CB_ID_LEN)
		return CB_ERR_NOTFOUND;
	MDB_val k = {len, (void *)id}, v;
	int rc = mdb_get(t, st->users_by_id, &k, &v);
	if (rc)
		return store_mdb_status(rc);
	if (v.mv_size > CB_USER_NAME_MAX)
		return CB_ERR_IO;
	memcpy(name, v.mv_data, v.mv_size);
	name[v.mv_size] = 0;
	return user_load_txn(t, st, name, out);
}

/* Reads one user record with `lookup` (by name or by id) into out. */
static cb_status user_read(cb_store *st, const char *key,
			   cb_status (*lookup)(MDB_txn *, cb_store *, const char *, cJSON **),
			   cb_user *out)
{
	store_txn txn;
	cJSON *j;
	cb_status s = txn.begin(st, false);
	if (!s)
		s = lookup(txn.t, st, key, &j);
	if (s)
		return s;
	user_from_json(j, out);
	cJSON_Delete(j);
	return CB_OK;
}

cb_status auth_user_get(cb_store *st, const char *name, cb_user *out)
{
	return user_read(st, name, user_load_txn, out);
}

cb_status auth_user_by_id(cb_store *st, const char *id, cb_user *out)
{
	return user_read(st, id, user_by_id_txn, out);
}

/* Deletes the sessions whose record `gone` picks (it may get NULL for an
 * unreadable record) and counts them: a full scan, as sessions are keyed
 * by token hash. */
template <typename F>
static cb_status sessions_drop(MDB_txn *t, cb_store *st, F gone, size_t *count)
{
	int rc = 0;
	cb_status s = db_scan(t, st->sessions, NULL, 0, [&](MDB_cursor *c, MDB_val &, MDB_val &v) {
		cJSON *j = cJSON_ParseWithLength((const char *)v.mv_data, v.mv_size);
		bool drop = gone(j);
		cJSON_Delete(j);
		if (!drop)
			return 0;
		if ((rc = mdb_cursor_del(c, 0)))
			return 1;
		(*count)++;
		return 0;
	});
	return s ? s : store_mdb_status(rc);
}

/* Deletes every session of user id. */
static cb_status sessions_drop_user(MDB_txn *t, cb_store *st, const char *id)
{
	size_t dropped = 0;
	return sessions_drop(
		t, st, [&](const cJSON *j) { return j && !strcmp(json_str(j, "user"), id); },
		&dropped);
}

cb_status auth_set_password(cb_store *st, const char *name, const char *pass)
{
	secret sec;
	cJSON *rec = NULL;
	cb_status s;
	if (auth_check_password(pass))
		return CB_ERR_INVAL;
	if ((s = secret_make(st, pass, &sec)))
		return s;
	/* The new password and the end of every session made with the old
	 * one commit together. */
	char id[CB_ID_LEN + 1];
	store_txn txn;
	if (!(s = txn.begin(st, true)) && !(s = user_load_txn(txn.t, st, name, &rec))) {
		json_copy_str(rec, "id", id, sizeof(id));
		if (!(s = secret_put(rec, &sec)) &&
		    !(s = db_put_json(txn.t, st->users, name, strlen(name), rec)) &&
		    !(s = sessions_drop_user(txn.t, st, id)))
			s = txn.commit();
	}
	cJSON_Delete(rec);
	return s;
}

struct upload_ids {
	id_list ids;
	cb_status err;
};

static int upload_collect(const cb_upload_info *u, void *ctx)
{
	upload_ids *c = (upload_ids *)ctx;
	return (c->err = id_list_add(&c->ids, u->id)) != CB_OK;
}

/* Deletes the stored uploads of owner. One open in this process (being
 * written right now) stays: the blob module refuses to commit an upload
 * whose owner is gone, and it expires after partial_ttl. */
static cb_status uploads_discard(cb_store *st, const char *owner)
{
	/* collected first: blob_discard writes, blob_list reads */
	upload_ids c;
	c.err = CB_OK;
	cb_status s = blob_list(st, owner, upload_collect, &c);
	if (c.err)
		return c.err;
	for (size_t i = 0; !s && i < c.ids.n; i++) {
		s = blob_discard(st, NULL, c.ids.ids[i]);
		if (s == CB_ERR_STATE || s == CB_ERR_NOTFOUND) /* open; gone meanwhile */
			s = CB_OK;
	}
	return s;
}

cb_status auth_user_delete(cb_store *st, const char *name)
{
	cb_user u;
	cb_status s = auth_user_get(st, name, &u);
	if (s)
		return s;
	/* Nodes and uploads first: should either fail half way, the account
	 * remains and the deletion can be retried. */
	if ((s = store_purge_owner(st, u.id)) || (s = uploads_discard(st, u.id)))
		return s;
	store_txn txn;
	id_list shared; /* nodes of others it had grants on */
	if (!(s = txn.begin(st, true)) && !(s = db_del(txn.t, st->users, name, strlen(name))) &&
	    !(s = db_del(txn.t, st->users_by_id, u.id, strlen(u.id))) &&
	    !(s = sessions_drop_user(txn.t, st, u.id)) &&
	    !(s = grants_list(txn.t, st->grants_by_user, u.id, &shared)) &&
	    !(s = grants_drop_user(txn.t, st, u.id))) {
		s = db_del(txn.t, st->usage, u.id, strlen(u.id));
		if (s == CB_ERR_NOTFOUND)
			s = CB_OK;
	}
	if (!s && !(s = txn.commit()))
		grants_announce_removed(st, u.id, &shared);
	return s;
}

/* ---- failed logins ---- */

/* Failures are counted in memory per "u:NAME" (only names of existing
 * users, so junk names cannot fill the table) and "a:ADDR" (an IPv6
 * address by its /64, which one client usually has whole): a restart
 * forgets them, which is fine for slowing down guessing. A window opens
 * at the first failure and lasts login_window. A full table gives up the
 * oldest window still below the limit, never a locked one: should every
 * slot be locked, a new key goes uncounted rather than setting one free.
 * Keys longer than the buffer are cut: only implausible addresses are
 * that long. The table has no lock: logins are checked on the one
 * event-loop thread. */
#define RATE_SLOTS 512
#define RATE_KEY_MAX 72

struct rate_entry {
	char key[RATE_KEY_MAX]; /* "" = free */
	unsigned failures;
	int64_t start;          /* ms, first failure of the window */
};

static rate_entry g_rate[RATE_SLOTS];

static bool rate_live(const rate_entry *e, const cb_config *cfg, int64_t now)
{
	return e->key[0] && now - e->start < cfg->login_window * 1000;
}

static rate_entry *rate_find(const char *key)
{
	for (rate_entry &e : g_rate)
		if (e.key[0] && !strcmp(e.key, key))
			return &e;
	return NULL;
}

/* The failures a key may have within the window. An address gets
 * ADDR_FAILURES_FACTOR times a user's: many people may log in from one
 * address (a NAS's LAN behind one router), and the per-user count
 * already stops guessing at one account. */
#define ADDR_FAILURES_FACTOR 10
static unsigned rate_allowance(const cb_config *cfg, const char *key)
{
	unsigned n = cfg->login_max_failures;
	return key[0] == 'a' ? n * ADDR_FAILURES_FACTOR : n;
}

static bool rate_limited(const cb_config *cfg, const char *key, int64_t now)
{
	const rate_entry *e = rate_find(key);
	return e && rate_live(e, cfg, now) && e->failures >= rate_allowance(cfg, key);
}

static void rate_fail(const cb_config *cfg, const char *key, int64_t now)
{
	rate_entry *e = rate_find(key);
	if (e && rate_live(e, cfg, now)) {
		e->failures++;
		return;
	}
	if (!e) {
		for (rate_entry &c : g_rate) {
			if (!rate_live(&c, cfg, now)) {
				e = &c;
				break;
			}
			if (c.failures < rate_allowance(cfg, c.key) && (!e || c.start < e->start))
				e = &c;
		}
		if (!e)
			return; /* every slot is locked: those stay, this one is not counted */
		snprintf(e->key, sizeof(e->key), "%s", key);
	}
	e->failures = 1;
	e->start = now;
}

static void rate_clear(const char *key)
{
	rate_entry *e = rate_find(key);
	if (e)
		e->key[0] = 0;
}

/* The address key: "a:" and an IPv4 address as given; an IPv6 one by its
 * first four 16-bit groups (/64) in hex, so that rotating addresses within
 * the /64 every client gets share a count; an IPv4-mapped one as its IPv4
 * address (else all of IPv4 would be one /64). Anything else as given. */
static void rate_addr_key(const char *addr, char key[RATE_KEY_MAX])
{
	uint8_t a6[16];
	if (strchr(addr, ':') && inet_pton(AF_INET6, addr, a6) == 1) {
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(a6, v4mapped, sizeof(v4mapped))) {
			snprintf(key, RATE_KEY_MAX, "a:%u.%u.%u.%u", a6[12], a6[13], a6[14], a6[15]);
		} else {
			memcpy(key, "a:", 2);
			hex_encode(a6, 8, key + 2);
			strcat(key, "/64");
		}
		return;
	}
	snprintf(key, RATE_KEY_MAX, "a:%s", addr);
}

cb_status auth_verify(cb_store *st, const char *name, const char *pass,
		      const char *addr, int64_t now, cb_user *out)
{
	const cb_config *cfg = st->cfg;
	char ukey[RATE_KEY_MAX], akey[RATE_KEY_MAX];
	bool by_addr = addr && *addr;
	snprintf(ukey, sizeof(ukey), "u:%s", name);
	rate_addr_key(by_addr ? addr : "", akey);
	if (rate_limited(cfg, ukey, now) || (by_addr && rate_limited(cfg, akey, now)))
		return CB_ERR_RATE;

	uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	unsigned iterations = cfg->pbkdf2_iterations;
	bool known = false;
	cb_user u;
	memset(&u, 0, sizeof(u));
	memset(salt, 0, sizeof(salt));
	memset(want, 0, sizeof(want));
	{
		store_txn txn;
		cJSON *j = NULL;
		cb_status s = txn.begin(st, false);
		if (!s)
			s = user_load_txn(txn.t, st, name, &j);
		if (s && s != CB_ERR_NOTFOUND)
			return s;
		if (!s) {
			user_from_json(j, &u);
			int64_t it = json_int(j, "iterations");
			bool ok = it >= 1 && it <= UINT32_MAX &&
				  !hex_decode(json_str(j, "salt"), salt, sizeof(salt)) &&
				  !hex_decode(json_str(j, "hash"), want, sizeof(want));
			cJSON_Delete(j);
			if (!ok) {
				log_error("auth: user '%s': unreadable password record", u.name);
				return CB_ERR_IO;
			}
			iterations = (unsigned)it;
			known = true;
		}
	}
	/* An unknown user costs one PBKDF2 over the zero salt all the same,
	 * so the answer's timing does not tell which names exist. */
	size_t passlen = strnlen(pass, CB_PASS_MAX + 1);
	pbkdf2_hmac_sha256(pass, passlen, salt, sizeof(salt), iterations, got, sizeof(got));
	bool match = equal_ct(got, want, sizeof(got));
	explicit_bzero(got, sizeof(got));
	if (known && match && passlen >= 1 && passlen <= CB_PASS_MAX) {
		/* a right password clears its address too: the address's
		 * earlier failures were typing, not guessing */
		rate_clear(ukey);
		if (by_addr)
			rate_clear(akey);
		*out = u;
		return CB_OK;
	}
	/* Only an existing user's name is counted: unknown ones count for the
	 * address alone, so made-up names cannot flood the table. */
	if (known)
		rate_fail(cfg, ukey, now);
	if (by_addr)
		rate_fail(cfg, akey, now);
	return CB_ERR_AUTH;
}

/* ---- sessions ---- */

/* Sessions are keyed by the token's SHA-256: a copy of the database does
 * not hand out live tokens, and the B-tree lookup's timing depends on the
 * hash, not on the token. */
static bool token_key(const char *token, uint8_t key[HASH_LEN])
{
	if (strnlen(token, CB_TOKEN_LEN + 1) != CB_TOKEN_LEN)
		return false;
	SHA2_CTX c;
	SHA256Init(&c);
	SHA256Update(&c, (const uint8_t *)token, CB_TOKEN_LEN);
	SHA256Final(key, &c);
	return true;
}

static cb_status session_del(cb_store *st, const uint8_t key[HASH_LEN])
{
	store_txn txn;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = db_del(txn.t, st->sessions, key, HASH_LEN);
	return s ? s : txn.commit();
}

cb_status auth_session_create(cb_store *st, const cb_user *u, int64_t now,
			      char token[CB_TOKEN_LEN + 1])
{
	uint8_t raw[CB_TOKEN_LEN / 2], key[HASH_LEN];
	token[0] = 0;
	if (id_random(raw, sizeof(raw)))
		return CB_ERR_IO;
	char tok[CB_TOKEN_LEN + 1];
	hex_encode(raw, sizeof(raw), tok);
	explicit_bzero(raw, sizeof(raw));
	token_key(tok, key);

	cJSON *j = cJSON_CreateObject();
	if (!j)
		return CB_ERR_NOMEM;
	cJSON_AddStringToObject(j, "user", u->id);
	cJSON_AddNumberToObject(j, "created", (double)now);
	cJSON_AddNumberToObject(j, "expires", (double)(now + st->cfg->session_ttl * 1000));
	store_txn txn;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = db_put_json(txn.t, st->sessions, key, sizeof(key), j);
	cJSON_Delete(j);
	if (!s)
		s = txn.commit();
	if (!s)
		memcpy(token, tok, sizeof(tok));
	return s;
}

cb_status auth_session_check(cb_store *st, const char *token, int64_t now, cb_user *out)
{
	uint8_t key[HASH_LEN];
	if (!token_key(token, key))
		return CB_ERR_AUTH;
	store_txn txn;
	cJSON *sess, *rec;
	cb_status s = txn.begin(st, false);
	if (!s)
		s = db_get_json(txn.t, st->sessions, key, sizeof(key), &sess);
	if (s)
		return s == CB_ERR_NOTFOUND ? CB_ERR_AUTH : s;
	char uid[CB_ID_LEN + 1];
	json_copy_str(sess, "user", uid, sizeof(uid));
	bool expired = now >= json_int(sess, "expires");
	cJSON_Delete(sess);
	if (expired) {
		txn.abort();
		s = session_del(st, key);
		return s && s != CB_ERR_NOTFOUND ? s : CB_ERR_AUTH;
	}
	s = user_by_id_txn(txn.t, st, uid, &rec);
	if (s)
		return s == CB_ERR_NOTFOUND ? CB_ERR_AUTH : s;
	user_from_json(rec, out);
	cJSON_Delete(rec);
	return CB_OK;
}

cb_status auth_session_delete(cb_store *st, const char *token)
{
	uint8_t key[HASH_LEN];
	if (!token_key(token, key))
		return CB_ERR_NOTFOUND;
	return session_del(st, key);
}

size_t auth_sessions_expire(cb_store *st, int64_t now)
{
	store_txn txn;
	size_t count = 0;
	/* an unreadable record has no "expires" (0): it goes too */
	if (txn.begin(st, true) ||
	    sessions_drop(txn.t, st, [&](const cJSON *j) { return now >= json_int(j, "expires"); },
			  &count) ||
	    txn.commit())
		return 0;
	return count;
}

/* ---- first start ---- */

/* No look-alikes (l 1 I, o 0 O): the password is read off a log or a
 * file and typed in. */
static const char pass_alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

static int random_password(char out[INITIAL_PASS_LEN + 1])
{
	const unsigned n = sizeof(pass_alphabet) - 1;
	/* bytes at or above the last whole multiple of n would favour the
	 * first letters: draw again instead */
	const unsigned limit = 256 / n * n;
	uint8_t buf[32];
	size_t len = 0, used = sizeof(buf);
	while (len < INITIAL_PASS_LEN) {
		if (used == sizeof(buf)) {
			if (id_random(buf, sizeof(buf)))
				return -1;
			used = 0;
		}
		uint8_t b = buf[used++];
		if (b < limit)
			out[len++] = pass_alphabet[b % n];
	}
	out[len] = 0;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int write_private_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("auth: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	/* an existing file keeps its old mode through O_CREAT */
	int rc = fchmod(fd, 0600);
	size_t len = strlen(text), off = 0;
	while (!rc && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n >= 0)
			off += (size_t)n;
		else if (errno != EINTR)
			rc = -1;
	}
	if (!rc)
		rc = fsync(fd);
	if (close(fd))
		rc = -1;
	if (rc)
		log_error("auth: cannot write %s: %s", path, strerror(errno));
	return rc;
}

cb_status auth_first_start(cb_store *st, char *password, size_t passsz)
{
	if (passsz < INITIAL_PASS_LEN + 1)
		return CB_ERR_INVAL;
	password[0] = 0;
	MDB_stat ms;
	{
		store_txn txn;
		cb_status s = txn.begin(st, false);
		if (s)
			return s;
		int rc = mdb_stat(txn.t, st->users, &ms);
		if (rc)
			return store_mdb_status(rc);
	}
	if (ms.ms_entries)
		return CB_OK;

	char pw[INITIAL_PASS_LEN + 2], path[CB_DATA_PATH_MAX];
	if (random_password(pw))
		return CB_ERR_IO;
	snprintf(path, sizeof(path), "%s/initial-password", st->cfg->data_dir);
	/* The file before the account: an admin whose password was lost
	 * would lock the operator out. */
	strcat(pw, "\n");
	int rc = write_private_file(path, pw);
	pw[INITIAL_PASS_LEN] = 0;
	cb_status s = rc ? CB_ERR_IO : auth_user_create(st, "admin", pw, true, NULL);
	if (s) {
		if (!rc)
			unlink(path);
		explicit_bzero(pw, sizeof(pw));
		return s;
	}
	/* warn, not info: the operator must act on it, and log_level = warn
	 * must still show it */
	log_warn("first start: created user 'admin' with password %s (also in %s)", pw, path);
	memcpy(password, pw, INITIAL_PASS_LEN + 1);
	explicit_bzero(pw, sizeof(pw));
	return CB_OK;
}
