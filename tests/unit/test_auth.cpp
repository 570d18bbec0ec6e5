/* test_auth.cpp: users, PBKDF2, sessions, failed-login limits and the
 * first-start admin, each test on a real store in a fresh directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sha2.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/store.h"
#include "../../src/core/store_internal.h"
#include "store_fixture.h"

typedef t_store fixture;

static int setup(void **state)
{
	fixture *f = (fixture *)calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(t_store_prepare(f, "auth"), 0);
	f->cfg.meta_max_size = 16 << 20;
	assert_int_equal(t_store_start(f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = (fixture *)*state;
	int rc = t_store_close(f);
	free(f);
	return rc;
}

static cb_store *store_of(void **state)
{
	return ((fixture *)*state)->st;
}

static cb_config *cfg_of(void **state)
{
	return &((fixture *)*state)->cfg;
}

/* ---- PBKDF2 ---- */

static void check_pbkdf2(const char *pass, size_t passlen, const char *salt, size_t saltlen,
			 unsigned c, const char *want_hex)
{
	uint8_t out[128];
	char hex[257];
	size_t dklen = strlen(want_hex) / 2;
	assert_true(dklen <= sizeof(out));
	pbkdf2_hmac_sha256(pass, passlen, salt, saltlen, c, out, dklen);
	hex_encode(out, dklen, hex);
	assert_string_equal(hex, want_hex);
}

#define PBKDF2(p, s, c, want) check_pbkdf2(p, sizeof(p) - 1, s, sizeof(s) - 1, c, want)

static void test_pbkdf2_vectors(void **)
{
	/* RFC 7914 §11 */
	PBKDF2("passwd", "salt", 1,
	       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	PBKDF2("Password", "NaCl", 80000,
	       "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	       "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
	/* the widely published RFC 6070-style SHA-256 vectors */
	PBKDF2("password", "salt", 1,
	       "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
	PBKDF2("password", "salt", 2,
	       "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
	PBKDF2("password", "salt", 4096,
	       "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	PBKDF2("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096,
	       "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9");
	PBKDF2("pass\0word", "sa\0lt", 4096, "89b69d0516f829893c696226650a8687");
}

static void test_pbkdf2_key_lengths(void **)
{
	/* values from Python's hashlib.pbkdf2_hmac('sha256', ...) */
	char key[100];
	memset(key, 'k', sizeof(key));
	/* longer than a block: the key is hashed first */
	check_pbkdf2(key, 100, "salt", 4, 3,
		     "219c68bb88f1010f4a763b7c8fd58639c2280baf6820814c6d404891fcd85c3d");
	/* exactly one block: used as it is */
	check_pbkdf2(key, 64, "salt", 4, 3,
		     "59e38449e5b5499366e8ef715d2cb11880bafafa02ff5699caa77948092dc60c");
	check_pbkdf2("", 0, "salt", 4, 2,
		     "62384466264daadc4144018c6bd864648272b34da8980d31521ffcce92ae003b");
}

/* ---- checks ---- */

static void test_check_name_password(void **)
{
	assert_null(auth_check_name("alice"));
	assert_null(auth_check_name("a"));
	assert_null(auth_check_name("0.x_y-Z"));
	assert_null(auth_check_name("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
	assert_non_null(auth_check_name(""));
	assert_non_null(auth_check_name("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
	assert_non_null(auth_check_name("a b"));
	assert_non_null(auth_check_name("../x"));
	assert_non_null(auth_check_name("-x"));
	assert_non_null(auth_check_name(".x"));
	assert_non_null(auth_check_name("_x"));
	assert_non_null(auth_check_name("\xc3\xbcn\xc3\xaf")); /* "ünï" */
	assert_non_null(auth_check_name("a/b"));

	char big[CB_PASS_MAX + 2];
	memset(big, 'p', sizeof(big));
	big[CB_PASS_MAX + 1] = 0;
	assert_non_null(auth_check_password(big));
	big[CB_PASS_MAX] = 0;
	assert_null(auth_check_password(big));
	assert_non_null(auth_check_password(""));
	assert_null(auth_check_password("x"));
}

/* ---- users ---- */

/* The stored record of name, or NULL. */
static cJSON *user_record(cb_store *st, const char *name)
{
	store_txn txn;
	cJSON *j = NULL;
	assert_int_equal(txn.begin(st, false), CB_OK);
	if (db_get_json(txn.t, st->users, name, strlen(name), &j))
		return NULL;
	return j;
}

static void test_user_create_get(void **state)
{
	cb_store *st = store_of(state);
	cb_user u, g;
	int64_t before = cb_now_ms();
	assert_int_equal(auth_user_create(st, "alice", "secret", false, &u), CB_OK);
	assert_true(id_is_uuid(u.id));
	assert_string_equal(u.name, "alice");
	assert_false(u.admin);
	assert_true(u.created >= before && u.created <= cb_now_ms());

	assert_int_equal(auth_user_get(st, "alice", &g), CB_OK);
	assert_string_equal(g.id, u.id);
	assert_string_equal(g.name, "alice");
	assert_false(g.admin);
	assert_int_equal(g.created, u.created);

	memset(&g, 0, sizeof(g));
	assert_int_equal(auth_user_by_id(st, u.id, &g), CB_OK);
	assert_string_equal(g.name, "alice");
	assert_string_equal(g.id, u.id);

	cJSON *j = user_record(st, "alice");
	assert_non_null(j);
	assert_int_equal(json_int(j, "iterations"), 1000);
	assert_int_equal(strlen(json_str(j, "salt")), 32);
	assert_int_equal(strlen(json_str(j, "hash")), 64);
	assert_string_equal(json_str(j, "id"), u.id);
	cJSON_Delete(j);

	/* taken; names are case-sensitive */
	assert_int_equal(auth_user_create(st, "alice", "other", true, NULL), CB_ERR_EXISTS);
	cb_user a2;
	assert_int_equal(auth_user_create(st, "Alice", "other", true, &a2), CB_OK);
	assert_true(a2.admin);
	assert_string_not_equal(a2.id, u.id);

	assert_int_equal(auth_user_get(st, "bob", &g), CB_ERR_NOTFOUND);
	assert_int_equal(auth_user_get(st, "", &g), CB_ERR_NOTFOUND);
	assert_int_equal(auth_user_by_id(st, "00000000-0000-4000-8000-000000000000", &g),
			 CB_ERR_NOTFOUND);
	assert_int_equal(auth_user_by_id(st, "", &g), CB_ERR_NOTFOUND);
}

static void test_user_create_invalid(void **state)
{
	cb_store *st = store_of(state);
	static const char *const bad[] = {
		"", "abcdefghijklmnopqrstuvwxyz0123456", "a b", "../x", "-x", "\xc3\xbcn\xc3\xaf",
	};
	for (const char *name : bad)
		assert_int_equal(auth_user_create(st, name, "pw", false, NULL), CB_ERR_INVAL);

	char big[CB_PASS_MAX + 2];
	memset(big, 'p', sizeof(big));
	big[CB_PASS_MAX + 1] = 0;
	assert_int_equal(auth_user_create(st, "bob", "", false, NULL), CB_ERR_INVAL);
	assert_int_equal(auth_user_create(st, "bob", big, false, NULL), CB_ERR_INVAL);
	cb_user u;
	assert_int_equal(auth_user_get(st, "bob", &u), CB_ERR_NOTFOUND);
	big[CB_PASS_MAX] = 0;
	assert_int_equal(auth_user_create(st, "bob", big, false, NULL), CB_OK);
	assert_int_equal(auth_verify(st, "bob", big, "", cb_now_ms(), &u), CB_OK);
}

static void test_verify(void **state)
{
	cb_store *st = store_of(state);
	cb_user u, v;
	int64_t now = cb_now_ms();
	assert_int_equal(auth_user_create(st, "vera", "right horse", true, &u), CB_OK);
	memset(&v, 0, sizeof(v));
	assert_int_equal(auth_verify(st, "vera", "right horse", "192.0.2.1", now, &v), CB_OK);
	assert_string_equal(v.id, u.id);
	assert_string_equal(v.name, "vera");
	assert_true(v.admin);
	assert_int_equal(auth_verify(st, "vera", "wrong horse", "", now, &v), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "vera", "", "", now, &v), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "nobody-v", "right horse", "", now, &v), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "Vera", "right horse", "", now, &v), CB_ERR_AUTH);
	char longname[600];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(auth_verify(st, longname, "x", "", now, &v), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "vera", "right horse", "", now, &v), CB_OK);
}

/* The stored iteration count is used, not the current config's. */
static void test_iterations_kept(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	assert_int_equal(auth_user_create(st, "iris", "pw1", false, NULL), CB_OK);
	cfg_of(state)->pbkdf2_iterations = 1500;
	assert_int_equal(auth_verify(st, "iris", "pw1", "", cb_now_ms(), &u), CB_OK);
	assert_int_equal(auth_user_create(st, "ivan", "pw2", false, NULL), CB_OK);
	cJSON *j = user_record(st, "ivan");
	assert_int_equal(json_int(j, "iterations"), 1500);
	cJSON_Delete(j);
	assert_int_equal(auth_verify(st, "ivan", "pw2", "", cb_now_ms(), &u), CB_OK);
}

static void test_set_password(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	int64_t now = cb_now_ms();
	cb_user sam, other;
	char tok[CB_TOKEN_LEN + 1], tok_other[CB_TOKEN_LEN + 1];
	assert_int_equal(auth_user_create(st, "sam", "old", false, &sam), CB_OK);
	assert_int_equal(auth_user_create(st, "otto", "pw", false, &other), CB_OK);
	assert_int_equal(auth_session_create(st, &sam, now, tok), CB_OK);
	assert_int_equal(auth_session_create(st, &other, now, tok_other), CB_OK);
	cJSON *j = user_record(st, "sam");
	char salt[33];
	snprintf(salt, sizeof(salt), "%s", json_str(j, "salt"));
	cJSON_Delete(j);

	assert_int_equal(auth_set_password(st, "sam", "new"), CB_OK);
	/* a token from before the change no longer works; others' do */
	assert_int_equal(auth_session_check(st, tok, now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_session_check(st, tok_other, now, &u), CB_OK);
	assert_string_equal(u.id, other.id);
	assert_int_equal(auth_verify(st, "sam", "old", "", now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "sam", "new", "", now, &u), CB_OK);
	assert_string_equal(u.name, "sam");
	j = user_record(st, "sam");
	assert_string_not_equal(json_str(j, "salt"), salt);
	assert_string_equal(json_str(j, "name"), "sam");
	cJSON_Delete(j);

	assert_int_equal(auth_set_password(st, "sam", ""), CB_ERR_INVAL);
	assert_int_equal(auth_set_password(st, "nobody-s", "pw"), CB_ERR_NOTFOUND);
	assert_int_equal(auth_verify(st, "sam", "new", "", now, &u), CB_OK);
}

static bool usage_entry(cb_store *st, const char *user)
{
	store_txn txn;
	assert_int_equal(txn.begin(st, false), CB_OK);
	MDB_val k = {strlen(user), (void *)user}, v;
	return mdb_get(txn.t, st->usage, &k, &v) == 0;
}

static int count_grant(const cb_grant *, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_user_delete(void **state)
{
	cb_store *st = store_of(state);
	cb_user d, keep, u;
	char tok_d[CB_TOKEN_LEN + 1], tok_keep[CB_TOKEN_LEN + 1];
	int64_t now = cb_now_ms();
	assert_int_equal(auth_user_create(st, "dora", "pw", false, &d), CB_OK);
	assert_int_equal(auth_user_create(st, "kim", "pw", false, &keep), CB_OK);
	assert_int_equal(auth_session_create(st, &d, now, tok_d), CB_OK);
	assert_int_equal(auth_session_create(st, &d, now, tok_d), CB_OK);
	assert_int_equal(auth_session_create(st, &keep, now, tok_keep), CB_OK);

	cb_node n, m;
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "notes.txt");
	assert_int_equal(store_node_create(st, d.id, &n, 0), CB_OK);
	char blob[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(blob), 0);
	assert_int_equal(store_node_set_content(st, d.id, n.id, blob, 100,
						"00000000000000000000000000000000", NULL, NULL), CB_OK);
	node_init(&m);
	snprintf(m.name, sizeof(m.name), "kept.txt");
	assert_int_equal(store_node_create(st, keep.id, &m, 0), CB_OK);
	assert_int_equal(store_usage(st, d.id), 100);
	assert_true(usage_entry(st, d.id));
	/* kim shares a node with dora: the grant goes with dora */
	assert_int_equal(store_grant(st, keep.id, m.id, d.id, CB_ROLE_READER), CB_OK);
	int grants = 0;
	assert_int_equal(store_list_grants(st, keep.id, m.id, count_grant, &grants), CB_OK);
	assert_int_equal(grants, 1);

	assert_int_equal(auth_user_delete(st, "dora"), CB_OK);
	assert_int_equal(auth_user_get(st, "dora", &u), CB_ERR_NOTFOUND);
	assert_int_equal(auth_user_by_id(st, d.id, &u), CB_ERR_NOTFOUND);
	assert_int_equal(auth_session_check(st, tok_d, now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "dora", "pw", "", now, &u), CB_ERR_AUTH);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_get(st, NULL, n.id, &g, 0), CB_ERR_NOTFOUND);
	assert_false(usage_entry(st, d.id));

	/* only dora's session went: one left */
	{
		store_txn txn;
		MDB_stat ms;
		assert_int_equal(txn.begin(st, false), CB_OK);
		assert_int_equal(mdb_stat(txn.t, st->sessions, &ms), 0);
		assert_int_equal(ms.ms_entries, 1);
	}
	assert_int_equal(auth_session_check(st, tok_keep, now, &u), CB_OK);
	assert_string_equal(u.id, keep.id);
	assert_int_equal(store_node_get(st, NULL, m.id, &g, 0), CB_OK);
	assert_string_equal(g.name, "kept.txt");
	grants = 0;
	assert_int_equal(store_list_grants(st, keep.id, m.id, count_grant, &grants), CB_OK);
	assert_int_equal(grants, 0);
	{
		store_txn txn;
		MDB_stat ms;
		assert_int_equal(txn.begin(st, false), CB_OK);
		assert_int_equal(mdb_stat(txn.t, st->grants_by_user, &ms), 0);
		assert_int_equal(ms.ms_entries, 0);
	}

	assert_int_equal(auth_user_delete(st, "dora"), CB_ERR_NOTFOUND);
	/* the name is free again */
	assert_int_equal(auth_user_create(st, "dora", "pw2", false, &u), CB_OK);
	assert_string_not_equal(u.id, d.id);

	node_clear(&n);
	node_clear(&m);
	node_clear(&g);
}

static int collect_upload(const cb_upload_info *u, void *ctx)
{
	assert_int_equal(id_list_add((id_list *)ctx, u->id), CB_OK);
	return 0;
}

/* Stored (closed) uploads go with their owner, partial file and all. */
static void test_user_delete_uploads(void **state)
{
	cb_store *st = store_of(state);
	cb_user d, keep;
	assert_int_equal(auth_user_create(st, "uma", "pw", false, &d), CB_OK);
	assert_int_equal(auth_user_create(st, "ulf", "pw", false, &keep), CB_OK);

	cb_node t;
	cb_upload *up;
	char mine[2][CB_ID_LEN + 1], theirs[CB_ID_LEN + 1];
	for (int i = 0; i < 2; i++) {
		node_init(&t);
		snprintf(t.name, sizeof(t.name), "part-%d.bin", i);
		assert_int_equal(blob_begin(st, d.id, &t, CB_UPLOAD_CREATE, CB_SIZE_UNKNOWN, 0, &up),
				 CB_OK);
		node_clear(&t);
		assert_int_equal(blob_write(up, 0, "hello", 5), CB_OK);
		snprintf(mine[i], sizeof(mine[i]), "%s", blob_info(up)->id);
		blob_close(up);
	}
	node_init(&t);
	snprintf(t.name, sizeof(t.name), "other.bin");
	assert_int_equal(blob_begin(st, keep.id, &t, CB_UPLOAD_CREATE, CB_SIZE_UNKNOWN, 0, &up), CB_OK);
	node_clear(&t);
	assert_int_equal(blob_write(up, 0, "abc", 3), CB_OK);
	snprintf(theirs, sizeof(theirs), "%s", blob_info(up)->id);
	blob_close(up);

	char path[CB_DATA_PATH_MAX];
	for (int i = 0; i < 2; i++) {
		store_partial_path(st, mine[i], path, sizeof(path));
		assert_int_equal(access(path, F_OK), 0);
	}
	{
		id_list l;
		assert_int_equal(blob_list(st, d.id, collect_upload, &l), CB_OK);
		assert_int_equal(l.n, 2);
	}

	assert_int_equal(auth_user_delete(st, "uma"), CB_OK);
	{
		id_list l;
		assert_int_equal(blob_list(st, d.id, collect_upload, &l), CB_OK);
		assert_int_equal(l.n, 0);
	}
	for (int i = 0; i < 2; i++) {
		store_partial_path(st, mine[i], path, sizeof(path));
		assert_int_equal(access(path, F_OK), -1);
	}
	/* ulf's upload is untouched */
	{
		id_list l;
		assert_int_equal(blob_list(st, keep.id, collect_upload, &l), CB_OK);
		assert_int_equal(l.n, 1);
		assert_string_equal(l.ids[0], theirs);
	}
	store_partial_path(st, theirs, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
}

/* ---- sessions ---- */

static bool all_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s);
}

static void test_session_create_check_delete(void **state)
{
	cb_store *st = store_of(state);
	cb_user a, u;
	char t1[CB_TOKEN_LEN + 1], t2[CB_TOKEN_LEN + 1];
	int64_t now = cb_now_ms();
	assert_int_equal(auth_user_create(st, "sue", "pw", true, &a), CB_OK);
	assert_int_equal(auth_session_create(st, &a, now, t1), CB_OK);
	assert_int_equal(auth_session_create(st, &a, now, t2), CB_OK);
	assert_int_equal(strlen(t1), CB_TOKEN_LEN);
	assert_true(all_hex(t1));
	assert_int_equal(strlen(t2), CB_TOKEN_LEN);
	assert_string_not_equal(t1, t2);

	memset(&u, 0, sizeof(u));
	assert_int_equal(auth_session_check(st, t1, now + 1000, &u), CB_OK);
	assert_string_equal(u.id, a.id);
	assert_string_equal(u.name, "sue");
	assert_true(u.admin);
	assert_int_equal(u.created, a.created);

	/* only the SHA-256 of the token is a key */
	{
		uint8_t key[SHA256_DIGEST_LENGTH];
		SHA2_CTX c;
		SHA256Init(&c);
		SHA256Update(&c, (const uint8_t *)t1, CB_TOKEN_LEN);
		SHA256Final(key, &c);
		store_txn txn;
		assert_int_equal(txn.begin(st, false), CB_OK);
		MDB_val k = {CB_TOKEN_LEN, t1}, v;
		assert_int_equal(mdb_get(txn.t, st->sessions, &k, &v), MDB_NOTFOUND);
		uint8_t raw[CB_TOKEN_LEN / 2];
		assert_int_equal(hex_decode(t1, raw, sizeof(raw)), 0);
		k = {sizeof(raw), raw};
		assert_int_equal(mdb_get(txn.t, st->sessions, &k, &v), MDB_NOTFOUND);
		cJSON *j;
		assert_int_equal(db_get_json(txn.t, st->sessions, key, sizeof(key), &j), CB_OK);
		assert_string_equal(json_str(j, "user"), a.id);
		assert_int_equal(json_int(j, "created"), now);
		assert_int_equal(json_int(j, "expires"), now + cfg_of(state)->session_ttl * 1000);
		cJSON_Delete(j);
	}

	assert_int_equal(auth_session_delete(st, t1), CB_OK);
	assert_int_equal(auth_session_check(st, t1, now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_session_delete(st, t1), CB_ERR_NOTFOUND);
	assert_int_equal(auth_session_check(st, t2, now, &u), CB_OK);

	/* malformed and unknown tokens */
	assert_int_equal(auth_session_check(st, "", now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_session_check(st, "abc", now, &u), CB_ERR_AUTH);
	assert_int_equal(auth_session_delete(st, "abc"), CB_ERR_NOTFOUND);
	char other[CB_TOKEN_LEN + 1];
	memset(other, '0', CB_TOKEN_LEN);
	other[CB_TOKEN_LEN] = 0;
	assert_int_equal(auth_session_check(st, other, now, &u), CB_ERR_AUTH);
	char longer[CB_TOKEN_LEN + 2];
	snprintf(longer, sizeof(longer), "%sa", t2);
	assert_int_equal(auth_session_check(st, longer, now, &u), CB_ERR_AUTH);
}

static void test_session_expiry(void **state)
{
	cb_store *st = store_of(state);
	cb_user a, u;
	char t[CB_TOKEN_LEN + 1];
	const int64_t now = 1700000000000LL;
	cfg_of(state)->session_ttl = 60;
	assert_int_equal(auth_user_create(st, "eve", "pw", false, &a), CB_OK);
	assert_int_equal(auth_session_create(st, &a, now, t), CB_OK);
	assert_int_equal(auth_session_check(st, t, now + 60000 - 1, &u), CB_OK);
	assert_string_equal(u.id, a.id);
	assert_int_equal(auth_session_check(st, t, now + 60000, &u), CB_ERR_AUTH);
	/* an expired session is deleted on sight */
	assert_int_equal(auth_session_delete(st, t), CB_ERR_NOTFOUND);
	assert_int_equal(auth_session_check(st, t, now, &u), CB_ERR_AUTH);
}

static void test_session_user_gone(void **state)
{
	cb_store *st = store_of(state);
	cb_user ghost, u;
	char t[CB_TOKEN_LEN + 1];
	memset(&ghost, 0, sizeof(ghost));
	snprintf(ghost.id, sizeof(ghost.id), "00000000-0000-4000-8000-000000000000");
	snprintf(ghost.name, sizeof(ghost.name), "ghost");
	int64_t now = cb_now_ms();
	assert_int_equal(auth_session_create(st, &ghost, now, t), CB_OK);
	assert_int_equal(auth_session_check(st, t, now, &u), CB_ERR_AUTH);
}

static void test_sessions_expire(void **state)
{
	cb_store *st = store_of(state);
	cb_user a, u;
	char t1[CB_TOKEN_LEN + 1], t2[CB_TOKEN_LEN + 1], t3[CB_TOKEN_LEN + 1];
	const int64_t now = 1700000000000LL;
	cfg_of(state)->session_ttl = 100;
	assert_int_equal(auth_user_create(st, "exp", "pw", false, &a), CB_OK);
	assert_int_equal(auth_sessions_expire(st, now), 0);
	assert_int_equal(auth_session_create(st, &a, now, t1), CB_OK);
	assert_int_equal(auth_session_create(st, &a, now + 10000, t2), CB_OK);
	assert_int_equal(auth_session_create(st, &a, now + 50000, t3), CB_OK);
	/* t1 expires at now+100s, t2 at now+110s, t3 at now+150s */
	assert_int_equal(auth_sessions_expire(st, now + 99999), 0);
	assert_int_equal(auth_sessions_expire(st, now + 110000), 2);
	assert_int_equal(auth_sessions_expire(st, now + 110000), 0);
	assert_int_equal(auth_session_delete(st, t1), CB_ERR_NOTFOUND);
	assert_int_equal(auth_session_delete(st, t2), CB_ERR_NOTFOUND);
	assert_int_equal(auth_session_check(st, t3, now + 110000, &u), CB_OK);
	assert_int_equal(auth_sessions_expire(st, now + 150000), 1);
	assert_int_equal(auth_session_check(st, t3, now, &u), CB_ERR_AUTH);
}

/* ---- failed logins ---- */

/* The failure table is process-wide: each test uses its own names and
 * addresses. */
static void limits(void **state)
{
	cfg_of(state)->login_max_failures = 3;
	cfg_of(state)->login_window = 60;
}

static void test_rate_per_user(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	limits(state);
	assert_int_equal(auth_user_create(st, "rita", "right", false, NULL), CB_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(auth_verify(st, "rita", "wrong", "", now + i, &u), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "rita", "right", "", now + 10, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "rita", "wrong", "", now + 59999, &u), CB_ERR_RATE);
	/* the other user is not affected */
	assert_int_equal(auth_user_create(st, "rolf", "right", false, NULL), CB_OK);
	assert_int_equal(auth_verify(st, "rolf", "right", "", now + 10, &u), CB_OK);
	/* the window is over */
	assert_int_equal(auth_verify(st, "rita", "right", "", now + 61000, &u), CB_OK);
	assert_string_equal(u.name, "rita");
}

/* An address may fail this often (10 x login_max_failures of limits()). */
#define ADDR_ALLOWANCE 30

/* n failed logins as `name` (unknown, or with a wrong password) from addr. */
static void fail_logins(cb_store *st, const char *name, const char *addr, int n, int64_t now)
{
	cb_user u;
	for (int i = 0; i < n; i++)
		assert_int_equal(auth_verify(st, name, "x", addr, now, &u), CB_ERR_AUTH);
}

static void test_rate_per_address(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	limits(state);
	cfg_of(state)->pbkdf2_iterations = 10; /* many unknown users: keep it quick */
	assert_int_equal(auth_user_create(st, "anna", "right", false, NULL), CB_OK);
	/* unknown users and a wrong password all count for the address */
	fail_logins(st, "nobody-a1", "198.51.100.7", ADDR_ALLOWANCE - 2, now);
	fail_logins(st, "anna", "198.51.100.7", 1, now);
	fail_logins(st, "nobody-a2", "198.51.100.7", 1, now);
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.7", now, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "nobody-a3", "x", "198.51.100.7", now, &u), CB_ERR_RATE);
	/* anna has one failure only: from elsewhere she gets in */
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.8", now, &u), CB_OK);
	assert_int_equal(auth_verify(st, "anna", "right", "", now, &u), CB_OK);
	/* a success elsewhere does not clear the address */
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.7", now + 1, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.7", now + 60000, &u), CB_OK);
	/* one from the address clears its count */
	fail_logins(st, "nobody-a4", "198.51.100.9", ADDR_ALLOWANCE - 1, now);
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.9", now, &u), CB_OK);
	fail_logins(st, "nobody-a4", "198.51.100.9", ADDR_ALLOWANCE, now);
	assert_int_equal(auth_verify(st, "anna", "right", "198.51.100.9", now, &u), CB_ERR_RATE);
}

static void test_rate_success_clears(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	limits(state);
	assert_int_equal(auth_user_create(st, "cleo", "right", false, NULL), CB_OK);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(auth_verify(st, "cleo", "wrong", "", now, &u), CB_ERR_AUTH);
		assert_int_equal(auth_verify(st, "cleo", "wrong", "", now, &u), CB_ERR_AUTH);
		assert_int_equal(auth_verify(st, "cleo", "right", "", now, &u), CB_OK);
	}
}

/* More failing addresses than the table holds: the oldest make way, and
 * the newest are still counted. */
static void test_rate_table_full(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	char addr[32];
	limits(state);
	for (int i = 0; i < 520; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 256, i % 256);
		assert_int_equal(auth_verify(st, "nobody-f", "x", addr, now + i, &u), CB_ERR_AUTH);
	}
	fail_logins(st, "nobody-f", addr, ADDR_ALLOWANCE - 1, now + 600);
	assert_int_equal(auth_verify(st, "nobody-f", "x", addr, now + 602, &u), CB_ERR_RATE);
}

/* Flooding the table with junk names from ever new addresses does not
 * push a locked account out of it. */
static void test_rate_flood_keeps_lock(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	char name[32], addr[32];
	limits(state);
	cfg_of(state)->pbkdf2_iterations = 10; /* unknown users: keep it quick */
	assert_int_equal(auth_user_create(st, "lena", "right", false, NULL), CB_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(auth_verify(st, "lena", "wrong", "", now + i, &u), CB_ERR_AUTH);
	assert_int_equal(auth_verify(st, "lena", "right", "", now + 5, &u), CB_ERR_RATE);
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "junk-%d", i);
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 256, i % 256);
		assert_int_equal(auth_verify(st, name, "x", addr, now + 10 + i, &u), CB_ERR_AUTH);
	}
	assert_int_equal(auth_verify(st, "lena", "right", "", now + 1000, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "lena", "right", "10.3.0.1", now + 1000, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "lena", "right", "", now + 61000, &u), CB_OK);
}

/* A name nobody has is counted for the address only: the account made
 * with it later is not locked by those failures. */
static void test_rate_unknown_name(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	limits(state);
	for (int i = 0; i < 3; i++)
		assert_int_equal(auth_verify(st, "nina", "x", "", now + i, &u), CB_ERR_AUTH);
	assert_int_equal(auth_user_create(st, "nina", "right", false, NULL), CB_OK);
	assert_int_equal(auth_verify(st, "nina", "right", "", now + 10, &u), CB_OK);
}

/* With every slot a locked entry, a new key is not tracked, and the
 * locked ones stay locked. Runs at a time long past, so that its entries
 * are stale for the tests that use the real clock. */
static void test_rate_table_all_locked(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = 1000000;
	char addr[32];
	limits(state);
	cfg_of(state)->pbkdf2_iterations = 1;
	for (int i = 0; i < 600; i++) {
		snprintf(addr, sizeof(addr), "10.4.%d.%d", i / 256, i % 256);
		fail_logins(st, "nobody-l", addr, ADDR_ALLOWANCE, now + i);
	}
	/* the first ones filled the table, less the slots that locked
	 * entries of earlier tests hold (a few) */
	assert_int_equal(auth_verify(st, "nobody-l", "x", "10.4.0.0", now + 700, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "nobody-l", "x", "10.4.1.200", now + 700, &u),
			 CB_ERR_RATE);
	/* the last ones found no room */
	assert_int_equal(auth_verify(st, "nobody-l", "x", "10.4.2.87", now + 700, &u), CB_ERR_AUTH);
}

/* IPv6 clients are counted per /64; IPv4 ones per address, also when
 * they come as IPv4-mapped IPv6. */
static void test_rate_ipv6_prefix(void **state)
{
	cb_store *st = store_of(state);
	cb_user u;
	const int64_t now = cb_now_ms();
	limits(state);
	assert_int_equal(auth_user_create(st, "ivy", "right", false, NULL), CB_OK);
	cfg_of(state)->pbkdf2_iterations = 10;
	fail_logins(st, "nobody-6", "2001:db8:0:1::1", ADDR_ALLOWANCE - 2, now);
	fail_logins(st, "nobody-6", "2001:db8:0:1:ffff:1:2:3", 1, now);
	fail_logins(st, "nobody-6", "2001:0DB8:0000:0001::abcd", 1, now);
	assert_int_equal(auth_verify(st, "ivy", "right", "2001:db8:0:1::99", now, &u), CB_ERR_RATE);
	/* another /64 */
	assert_int_equal(auth_verify(st, "ivy", "right", "2001:db8:0:2::1", now, &u), CB_OK);
	assert_int_equal(auth_verify(st, "ivy", "right", "2001:db8:1:1::1", now, &u), CB_OK);

	fail_logins(st, "nobody-6", "::ffff:192.0.2.10", ADDR_ALLOWANCE, now);
	assert_int_equal(auth_verify(st, "ivy", "right", "::ffff:192.0.2.10", now, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "ivy", "right", "192.0.2.10", now, &u), CB_ERR_RATE);
	assert_int_equal(auth_verify(st, "ivy", "right", "::ffff:192.0.2.11", now, &u), CB_OK);
	/* not an address: taken as it is */
	assert_int_equal(auth_verify(st, "ivy", "right", "fe80::1%eth0", now, &u), CB_OK);
}

/* ---- first start ---- */

static void test_first_start(void **state)
{
	cb_store *st = store_of(state);
	fixture *f = (fixture *)*state;
	char pw[32], path[128], buf[64];
	cb_user u;
	assert_int_equal(auth_first_start(st, pw, sizeof(pw)), CB_OK);
	assert_int_equal(strlen(pw), 20);
	assert_int_equal(strspn(pw, "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 20);

	snprintf(path, sizeof(path), "%s/initial-password", f->dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, 21);
	buf[n] = 0;
	assert_memory_equal(buf, pw, 20);
	assert_int_equal(buf[20], '\n');

	assert_int_equal(auth_verify(st, "admin", pw, "", cb_now_ms(), &u), CB_OK);
	assert_string_equal(u.name, "admin");
	assert_true(u.admin);

	/* users exist: nothing happens */
	assert_int_equal(unlink(path), 0);
	char again[32];
	memset(again, 'x', sizeof(again));
	assert_int_equal(auth_first_start(st, again, sizeof(again)), CB_OK);
	assert_string_equal(again, "");
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(auth_verify(st, "admin", pw, "", cb_now_ms(), &u), CB_OK);
	{
		store_txn txn;
		MDB_stat ms;
		assert_int_equal(txn.begin(st, false), CB_OK);
		assert_int_equal(mdb_stat(txn.t, st->users, &ms), 0);
		assert_int_equal(ms.ms_entries, 1);
	}
}

static void test_first_start_with_users(void **state)
{
	cb_store *st = store_of(state);
	fixture *f = (fixture *)*state;
	char pw[32], path[128];
	cb_user u;
	assert_int_equal(auth_user_create(st, "owner", "pw", true, NULL), CB_OK);
	pw[0] = 'x';
	assert_int_equal(auth_first_start(st, pw, sizeof(pw)), CB_OK);
	assert_string_equal(pw, "");
	snprintf(path, sizeof(path), "%s/initial-password", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(auth_user_get(st, "admin", &u), CB_ERR_NOTFOUND);
}

/* A stale file from an earlier install is replaced, mode and all. */
static void test_first_start_existing_file(void **state)
{
	cb_store *st = store_of(state);
	fixture *f = (fixture *)*state;
	char pw[32], path[128];
	snprintf(path, sizeof(path), "%s/initial-password", f->dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(write(fd, "an old and much longer content\n", 31), 31);
	close(fd);
	assert_int_equal(auth_first_start(st, pw, sizeof(pw)), CB_OK);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 21);
	assert_int_equal(auth_first_start(st, pw, 8), CB_ERR_INVAL);
}

/* The password is logged at warn, so that log_level = warn shows it. */
static void test_first_start_logged(void **state)
{
	cb_store *st = store_of(state);
	fixture *f = (fixture *)*state;
	char pw[32], path[128], buf[4096];
	snprintf(path, sizeof(path), "%s/log", f->dir);
	assert_int_equal(log_open(path, CB_LOG_WARN), 0);
	cb_status s = auth_first_start(st, pw, sizeof(pw));
	assert_int_equal(log_open("stderr", CB_LOG_INFO), 0);
	assert_int_equal(s, CB_OK);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, pw));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pbkdf2_vectors),
		cmocka_unit_test(test_pbkdf2_key_lengths),
		cmocka_unit_test(test_check_name_password),
		T(test_user_create_get),
		T(test_user_create_invalid),
		T(test_verify),
		T(test_iterations_kept),
		T(test_set_password),
		T(test_user_delete),
		T(test_user_delete_uploads),
		T(test_session_create_check_delete),
		T(test_session_expiry),
		T(test_session_user_gone),
		T(test_sessions_expire),
		T(test_rate_per_user),
		T(test_rate_per_address),
		T(test_rate_success_clears),
		T(test_rate_table_full),
		T(test_rate_flood_keeps_lock),
		T(test_rate_unknown_name),
		T(test_rate_table_all_locked),
		T(test_rate_ipv6_prefix),
		T(test_first_start),
		T(test_first_start_with_users),
		T(test_first_start_existing_file),
		T(test_first_start_logged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
