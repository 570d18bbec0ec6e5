/* test_files_rest.cpp: the spec 3 REST API (/files) against the real
 * cubbyd ($CUBBYD, else build/cubbyd), written from docs/files-api.md
 * alone: every route's answer (the file, permission and revision objects
 * member by member) and every error of the page's table a client can
 * provoke, with its exact status and message; listings (own and shared,
 * filters, paging); JSON Patch of metadata and of JSON content with
 * reverts that round-trip through the API; content up and down
 * (byte-identical, Range, ETag, HEAD, Expect: 100-continue, size limits);
 * revisions; grants by owner, writer, reader and stranger; the /file
 * alias; sessions. Users alice, bob and carol are made by the admin;
 * every test starts its own server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "support/support.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define PATH_MAX_ 512

#define NOT_FOUND "file not found"
#define NO_CONTENT "file has no content"
#define MAY_NOT "you may not change this file"
#define NAME_TAKEN "a file with this name exists"
#define ID_TAKEN "a file with this id exists"
#define AUTH_REQUIRED "authentication required"
#define BAD_SESSION "invalid or expired session"
#define MD5_EMPTY "d41d8cd98f00b204e9800998ecf8427e"

/* ---- users ---- */

struct people {
	char a[T_AUTH_MAX], b[T_AUTH_MAX], c[T_AUTH_MAX]; /* alice, bob, carol */
	char aid[T_ID_MAX], bid[T_ID_MAX], cid[T_ID_MAX];
};

static void three_users(const t_server *s, people *p)
{
	t_add_user(s, "alice", "alice pass", p->a);
	t_add_user(s, "bob", "bob pass", p->b);
	t_add_user(s, "carol", "carol pass", p->c);
	t_user_id(s, p->a, p->aid);
	t_user_id(s, p->b, p->bid);
	t_user_id(s, p->c, p->cid);
}

/* ---- requests ---- */

/* "/files/<key><suffix>" into buf (PATH_MAX_ bytes). */
static const char *fpath(char *buf, const char *key, const char *suffix)
{
	snprintf(buf, PATH_MAX_, "/files/%s%s", key, suffix ? suffix : "");
	return buf;
}

/* method path as auth (may be NULL) with extra header lines (may be
 * NULL) and a body; the answer into r. */
static void req(const t_server *s, const char *method, const char *path, const char *auth,
		const char *headers, const void *body, size_t len, t_http_response *r)
{
	char h[T_AUTH_MAX + 1024];
	snprintf(h, sizeof(h), "%s%s", auth ? auth : "", headers ? headers : "");
	if (t_http(s->http_port, method, path, h, body, len, r))
		fail_msg("%s %s: no complete answer", method, path);
}

/* The same with a JSON body (may be NULL). */
static void req_json(const t_server *s, const char *method, const char *path, const char *auth,
		     const char *json, t_http_response *r)
{
	req(s, method, path, auth, json ? "Content-Type: application/json\r\n" : NULL, json,
	    json ? strlen(json) : 0, r);
}

static void expect_error(const t_server *s, const char *method, const char *path, const char *auth,
			 const char *json, int code, const char *message)
{
	t_http_response r;
	req_json(s, method, path, auth, json, &r);
	char why[1200];
	int rc = t_check_error(&r, code, message, why, sizeof(why));
	t_http_free(&r);
	if (rc)
		fail_msg("%s %s %.200s: %s", method, path, json ? json : "", why);
}

/* An error whose message starts with prefix ("" for any message). */
static void expect_error_prefix(const t_server *s, const char *method, const char *path,
				const char *auth, const char *json, int code, const char *prefix)
{
	t_http_response r;
	req_json(s, method, path, auth, json, &r);
	char why[1200];
	int rc = t_check_error_prefix(&r, code, prefix, why, sizeof(why));
	t_http_free(&r);
	if (rc)
		fail_msg("%s %s %.200s: %s", method, path, json ? json : "", why);
}

/* ---- JSON ---- */

/* j has exactly the members names[0..n). */
static void check_members(const cJSON *j, const char *const *names, int n, const char *what)
{
	if (!cJSON_IsObject(j))
		fail_msg("%s: not a JSON object", what);
	for (int i = 0; i < n; i++)
		if (!cJSON_GetObjectItemCaseSensitive(j, names[i]))
			fail_msg("%s: no member \"%s\"", what, names[i]);
	if (cJSON_GetArraySize(j) != n) {
		char *t = cJSON_PrintUnformatted(j);
		fprintf(stderr, "%s: %.1000s\n", what, t);
		cJSON_free(t);
		fail_msg("%s: %d members, want exactly %d", what, cJSON_GetArraySize(j), n);
	}
}

static const cJSON *member(const cJSON *j, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(j, name);
}

static double num(const cJSON *j, const char *name, const char *what)
{
	const cJSON *v = member(j, name);
	if (!cJSON_IsNumber(v))
		fail_msg("%s: \"%s\" is not a number", what, name);
	return v->valuedouble;
}

static const char *str(const cJSON *j, const char *name, const char *what)
{
	const char *v = t_json_str(j, name);
	if (!v)
		fail_msg("%s: \"%s\" is not a string", what, name);
	return v;
}

/* A copy of j without the member name. */
static cJSON *without(const cJSON *j, const char *name)
{
	cJSON *c = cJSON_Duplicate(j, true);
	cJSON_DeleteItemFromObjectCaseSensitive(c, name);
	return c;
}

static void set_member(cJSON *j, const char *name, cJSON *value)
{
	if (member(j, name))
		cJSON_ReplaceItemInObjectCaseSensitive(j, name, value);
	else
		cJSON_AddItemToObject(j, name, value);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void md5_hex(const void *p, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	if (!EVP_Digest(p, n, d, &dn, EVP_md5(), NULL))
		fail_msg("EVP_Digest failed");
	for (unsigned i = 0; i < dn; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * dn] = 0;
}

/* ---- the file object ---- */

static const char *const FILE_MEMBERS[] = {"id",   "kind",     "owner",   "name",    "parent",
					   "mime", "size",     "md5",     "tags",    "meta",
					   "created", "modified", "trashed", "permissions"};
#define N_FILE_MEMBERS 14

/* Exactly the members of a file, each of its type. */
static void check_file_shape(const cJSON *f, const char *what)
{
	check_members(f, FILE_MEMBERS, N_FILE_MEMBERS, what);
	static const char *const strings[] = {"id", "kind", "owner", "name", "parent", "mime", "md5"};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		str(f, strings[i], what);
	static const char *const numbers[] = {"size", "created", "modified", "trashed"};
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		num(f, numbers[i], what);
	if (!cJSON_IsArray(member(f, "tags")))
		fail_msg("%s: \"tags\" is not an array", what);
	if (!cJSON_IsObject(member(f, "permissions")))
		fail_msg("%s: \"permissions\" is not an object", what);
}

static cJSON *get_file(const t_server *s, const char *auth, const char *key)
{
	char p[PATH_MAX_];
	cJSON *f = t_api(s, "GET", fpath(p, key, NULL), auth, NULL, 200);
	check_file_shape(f, p);
	return f;
}

/* POST /files json: 201 and the file (checked for shape). */
static cJSON *create(const t_server *s, const char *auth, const char *json)
{
	cJSON *f = t_api(s, "POST", "/files", auth, json, 201);
	check_file_shape(f, "POST /files");
	return f;
}

/* PATCH path with patch: want; the answer. */
static cJSON *patch(const t_server *s, const char *auth, const char *path, const char *patch_text,
		    int want)
{
	return t_api(s, "PATCH", path, auth, patch_text, want);
}

static const char *const PATCH_MEMBERS[] = {"id", "patch", "revert"};

/* A patch answer: exactly {"id":key,"patch":<sent>,"revert":[...]}; the
 * revert as text (caller cJSON_free()s). */
static char *check_patch_answer(const cJSON *ans, const char *key, const char *sent,
				const char *what)
{
	check_members(ans, PATCH_MEMBERS, 3, what);
	if (strcmp(str(ans, "id", what), key))
		fail_msg("%s: \"id\" is %s, want %s", what, t_json_str(ans, "id"), key);
	t_assert_json_text(member(ans, "patch"), sent, what);
	const cJSON *rev = member(ans, "revert");
	if (!cJSON_IsArray(rev))
		fail_msg("%s: \"revert\" is not an array", what);
	return cJSON_PrintUnformatted(rev);
}

/* ---- content ---- */

static void put_media(const t_server *s, const char *auth, const char *key, const void *data,
		      size_t len, t_http_response *r)
{
	char p[PATH_MAX_];
	req(s, "PUT", fpath(p, key, "?alt=media"), auth, NULL, data, len, r);
}

/* PUT ?alt=media: 200, the file with the content's size and md5. */
static cJSON *put_ok(const t_server *s, const char *auth, const char *key, const void *data,
		     size_t len)
{
	t_http_response r;
	put_media(s, auth, key, data, len, &r);
	if (r.status != 200) {
		fprintf(stderr, "PUT answered %d %.500s\n", r.status, r.body);
		t_http_free(&r);
		fail_msg("PUT /files/%s?alt=media of %zu bytes: status %d, want 200", key, len,
			 r.status);
	}
	cJSON *f = t_http_json(&r);
	t_http_free(&r);
	check_file_shape(f, "PUT ?alt=media");
	char md5[33];
	md5_hex(data, len, md5);
	if (num(f, "size", "PUT") != (double)len || strcmp(str(f, "md5", "PUT"), md5))
		fail_msg("PUT answered size %.0f md5 %s, want %zu %s", num(f, "size", "PUT"),
			 t_json_str(f, "md5"), len, md5);
	return f;
}

/* GET ?alt=media: 200 with exactly data. */
static void expect_media(const t_server *s, const char *auth, const char *key, const void *data,
			 size_t len)
{
	char p[PATH_MAX_];
	t_http_response r;
	req(s, "GET", fpath(p, key, "?alt=media"), auth, NULL, NULL, 0, &r);
	bool same = r.status == 200 && r.body_len == len && !memcmp(r.body, data, len);
	int status = r.status;
	size_t got = r.body_len;
	t_http_free(&r);
	if (!same)
		fail_msg("GET %s: %d with %zu bytes, want 200 with the %zu bytes stored", p, status,
			 got, len);
}

/* ---- listings ---- */

/* GET /files<query> as auth: the keys listed, comma-separated, into keys;
 * the cursor into cursor ("" when absent). Each item is a file. */
static void list(const t_server *s, const char *auth, const char *query, char *keys, size_t n,
		 char *cursor)
{
	char p[PATH_MAX_];
	snprintf(p, sizeof(p), "/files%s", query);
	cJSON *j = t_api(s, "GET", p, auth, NULL, 200);
	const cJSON *items = member(j, "items");
	const cJSON *cur = member(j, "cursor");
	if (!cJSON_IsArray(items))
		fail_msg("GET %s: no \"items\" array", p);
	if (cJSON_GetArraySize(j) != (cur ? 2 : 1))
		fail_msg("GET %s: members other than \"items\" and \"cursor\"", p);
	if (cur && (!cJSON_IsString(cur) || !*cur->valuestring || strlen(cur->valuestring) >= T_ID_MAX))
		fail_msg("GET %s: \"cursor\" is not a key", p);
	snprintf(cursor, T_ID_MAX, "%s", cur ? cur->valuestring : "");
	keys[0] = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		check_file_shape(it, p);
		size_t l = strlen(keys);
		snprintf(keys + l, n - l, "%s%s", l ? "," : "", t_json_str(it, "id"));
	}
	cJSON_Delete(j);
}

static void expect_list(const t_server *s, const char *auth, const char *query, const char *want,
			const char *want_cursor)
{
	char keys[2048], cursor[T_ID_MAX];
	list(s, auth, query, keys, sizeof(keys), cursor);
	if (strcmp(keys, want))
		fail_msg("GET /files%s listed [%s], want [%s]", query, keys, want);
	if (want_cursor && strcmp(cursor, want_cursor))
		fail_msg("GET /files%s: cursor \"%s\", want \"%s\"", query, cursor, want_cursor);
}

/* ============================ the tests ============================ */

/* POST /files: 201 with the whole file; members not read are ignored;
 * GET answers the same object. */
static void test_create(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	int64_t before = wall_ms();
	cJSON *f = create(s, u.a,
			  "{\"name\":\"notes.txt\",\"parent\":\"docs\",\"mime\":\"text/plain\","
			  "\"tags\":[\"a\",\"b\"],\"meta\":{\"x\":{\"y\":[1,2]}},\"size\":99,"
			  "\"owner\":\"someone\",\"color\":\"red\"}");
	int64_t after = wall_ms();
	const char *id = str(f, "id", "POST");
	/* a new UUID: 8-4-4-4-12 hex digits */
	bool uuid = strlen(id) == 36;
	for (int i = 0; uuid && i < 36; i++)
		uuid = (i == 8 || i == 13 || i == 18 || i == 23) ? id[i] == '-'
								 : strchr("0123456789abcdefABCDEF", id[i]) != NULL;
	if (!uuid)
		fail_msg("POST /files: id \"%s\" is not a UUID", id);
	cJSON *want = t_json_parse("{\"kind\":\"file\",\"name\":\"notes.txt\",\"parent\":\"docs\","
			    "\"mime\":\"text/plain\",\"size\":0,\"md5\":\"\",\"tags\":[\"a\",\"b\"],"
			    "\"meta\":{\"x\":{\"y\":[1,2]}},\"trashed\":0,\"permissions\":{}}");
	cJSON_AddStringToObject(want, "id", id);
	cJSON_AddStringToObject(want, "owner", u.aid);
	double created = num(f, "created", "POST");
	if (created < before - 2000 || created > after + 2000)
		fail_msg("created %.0f is not the time of the request (%lld..%lld ms)", created,
			 (long long)before, (long long)after);
	cJSON_AddNumberToObject(want, "created", created);
	cJSON_AddNumberToObject(want, "modified", num(f, "modified", "POST"));
	if (num(f, "modified", "POST") < created)
		fail_msg("modified before created");
	t_assert_json(f, want, "POST /files");
	cJSON *g = get_file(s, u.a, id);
	t_assert_json(g, f, "GET after POST");
	cJSON_Delete(g);
	char p[PATH_MAX_];
	t_http_response r;
	req(s, "GET", fpath(p, id, NULL), u.a, NULL, NULL, 0, &r);
	char type[128];
	if (!t_http_header(&r, "content-type", type, sizeof(type)) ||
	    strncasecmp(type, "application/json", 16))
		fail_msg("GET /files/<key>: Content-Type is not application/json");
	t_http_free(&r);
	cJSON_Delete(want);
	cJSON_Delete(f);

	/* defaults: kind file, parent "", meta null; a kind and an id given */
	f = create(s, u.a, "{\"name\":\"plain\"}");
	if (strcmp(str(f, "kind", "POST"), "file") || strcmp(str(f, "parent", "POST"), "") ||
	    !cJSON_IsNull(member(f, "meta")))
		fail_msg("POST {\"name\"}: want kind \"file\", parent \"\" and meta null");
	cJSON_Delete(f);
	f = create(s, u.a, "{\"name\":\"p\",\"kind\":\"Acme#Board\",\"id\":\"my-id_1.x\"}");
	if (strcmp(str(f, "id", "POST"), "my-id_1.x") || strcmp(str(f, "kind", "POST"), "Acme#Board"))
		fail_msg("POST with id and kind: want them kept");
	cJSON_Delete(f);
	f = create(s, u.a, "{\"name\":\"proj\",\"kind\":\"project\",\"id\":\"abcdefghijklmnopqrstuvwxyz0123456789\"}");
	cJSON_Delete(f);
	/* the same name elsewhere: another folder, another user */
	cJSON_Delete(create(s, u.a, "{\"name\":\"notes.txt\"}"));
	cJSON_Delete(create(s, u.b, "{\"name\":\"notes.txt\",\"parent\":\"docs\"}"));
	t_passed(state);
}

/* POST with "media": the content is the minimised JSON text, mime
 * application/json unless given; GET ?alt=media answers it. */
static void test_create_with_media(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	static const char stored[] = "{\"b\":[1,2,{\"c\":null}],\"a\":\"x y\"}";
	char md5[33];
	md5_hex(stored, strlen(stored), md5);
	cJSON *f = create(s, u.a,
			  "{\"name\":\"c.json\",\"media\": { \"b\" : [ 1, 2, {\"c\" : null} ] ,\n"
			  "  \"a\" : \"x y\" } }");
	const char *key = str(f, "id", "POST");
	if (strcmp(str(f, "mime", "POST"), "application/json") ||
	    num(f, "size", "POST") != strlen(stored) || strcmp(str(f, "md5", "POST"), md5))
		fail_msg("POST with media: mime %s size %.0f md5 %s, want application/json %zu %s",
			 t_json_str(f, "mime"), num(f, "size", "POST"), t_json_str(f, "md5"),
			 strlen(stored), md5);
	if (member(f, "media"))
		fail_msg("the file has a \"media\" member");
	char p[PATH_MAX_];
	t_http_response r;
	req(s, "GET", fpath(p, key, "?alt=media"), u.a, NULL, NULL, 0, &r);
	if (r.status != 200 || r.body_len != strlen(stored) || memcmp(r.body, stored, r.body_len))
		fail_msg("GET ?alt=media: %d \"%.300s\", want 200 \"%s\"", r.status, r.body, stored);
	t_assert_header(&r, "content-type", "application/json", "GET ?alt=media");
	t_http_free(&r);
	cJSON_Delete(f);

	/* any JSON value; a mime given is kept */
	f = create(s, u.a, "{\"name\":\"s\",\"mime\":\"text/x-quoted\",\"media\":\"hello\"}");
	if (strcmp(str(f, "mime", "POST"), "text/x-quoted"))
		fail_msg("POST with media and mime: mime %s, want text/x-quoted", t_json_str(f, "mime"));
	expect_media(s, u.a, str(f, "id", "POST"), "\"hello\"", 7);
	cJSON_Delete(f);
	f = create(s, u.a, "{\"name\":\"n\",\"media\":[ 42 , true ]}");
	expect_media(s, u.a, str(f, "id", "POST"), "[42,true]", 9);
	cJSON_Delete(f);
	t_passed(state);
}

/* POST /files: each refusal of the table. */
static void test_create_errors(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 1K\n");
	people u;
	three_users(s, &u);
	char key[T_ID_MAX];
	t_file_create(s, u.a, "{\"name\":\"taken.txt\",\"parent\":\"d\",\"id\":\"taken-id\"}", key);
	expect_error(s, "POST", "/files", u.a, "{\"name\":\"taken.txt\",\"parent\":\"d\"}", 409,
		     NAME_TAKEN);
	expect_error(s, "POST", "/files", u.a, "{\"name\":\"other\",\"id\":\"taken-id\"}", 409, ID_TAKEN);
	/* ids are global: another user cannot take it either */
	expect_error(s, "POST", "/files", u.b, "{\"name\":\"other\",\"id\":\"taken-id\"}", 409, ID_TAKEN);
	static const char *const bad_files[] = {
		"{\"name\":\"..\"}",
		"{\"name\":\".\"}",
		"{\"name\":\"a/../b\"}",
		"{\"name\":\"a/b\"}",
		"{\"name\":\"\"}",
		"{\"name\":\"x\",\"id\":\"a b\"}",
		"{\"name\":\"x\",\"id\":\"abcdefghijklmnopqrstuvwxyz01234567890\"}", /* 37 */
		"{\"name\":\"x\",\"parent\":\"../up\"}",
		"{\"name\":\"x\",\"tags\":\"t\"}",
		"{\"name\":\"x\",\"tags\":[1]}",
		"{\"name\":\"x\",\"kind\":\"\"}",
		"{\"name\":\"x\",\"kind\":5}",
		"{\"name\":5}",
	};
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++)
		expect_error_prefix(s, "POST", "/files", u.a, bad_files[i], 400, "invalid file: ");
	/* not the JSON the route takes */
	static const char *const bad_bodies[] = {"not json", "[1,2]", "\"name\"", "{\"name\":\"x\""};
	for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
		expect_error_prefix(s, "POST", "/files", u.a, bad_bodies[i], 400,
				    "invalid JSON body: expected ");
	t_http_response r;
	req(s, "POST", "/files", u.a, "Content-Type: application/json\r\n", NULL, 0, &r);
	t_assert_error_prefix(&r, 400, "invalid JSON body: expected ");
	/* no name at all: a 400 of the table (which one the page leaves open) */
	expect_error_prefix(s, "POST", "/files", u.a, "{\"kind\":\"file\"}", 400, "invalid ");
	/* a chunked body */
	static const char chunked[] = "e\r\n{\"name\":\"ch\"}\r\n0\r\n\r\n";
	req(s, "POST", "/files", u.a,
	    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", chunked,
	    strlen(chunked), &r);
	t_assert_error(&r, 411, "a request body needs Content-Length");
	/* a JSON body over 64 KiB (max_upload_size is 1K: not that limit) */
	size_t big = 64 * KIB + 100;
	char *body = (char *)malloc(big + 1);
	assert_non_null(body);
	memset(body, 'x', big);
	memcpy(body, "{\"name\":\"big\",\"meta\":\"", 22);
	memcpy(body + big - 2, "\"}", 2);
	body[big] = 0;
	req_json(s, "POST", "/files", u.a, body, &r);
	free(body);
	t_assert_error(&r, 413, "request body too large");
	/* sessions */
	expect_error(s, "POST", "/files", NULL, "{\"name\":\"n\"}", 401, AUTH_REQUIRED);
	expect_error(s, "POST", "/files", "Authorization: Bearer nosuchtoken\r\n", "{\"name\":\"n\"}",
		     401, BAD_SESSION);
	/* nothing of that was made */
	expect_list(s, u.a, "", "taken-id", "");
	expect_list(s, u.b, "", "", "");
	/* a trashed node's name is free again */
	cJSON_Delete(t_api(s, "DELETE", "/files/taken-id", u.a, NULL, 204));
	cJSON_Delete(create(s, u.a, "{\"name\":\"taken.txt\",\"parent\":\"d\"}"));
	t_passed(state);
}

/* GET /files/<key>: the owner, a grantee and anyone for a public node
 * read it; an unknown key and another user's private node are the same
 * 404. */
static void test_get(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char priv[T_ID_MAX], shared[T_ID_MAX], pub[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"private\"}", priv);
	t_file_create(s, u.a, "{\"name\":\"shared\"}", shared);
	t_file_create(s, u.a, "{\"name\":\"public\"}", pub);
	t_file_grant(s, u.a, shared, u.bid, "reader");
	t_file_grant(s, u.a, pub, "anyone", "reader");

	cJSON *mine = get_file(s, u.a, shared);
	cJSON *theirs = get_file(s, u.b, shared);
	t_assert_json(theirs, mine, "a grantee's GET");
	cJSON *perms = cJSON_CreateObject();
	cJSON_AddStringToObject(perms, u.bid, "reader");
	t_assert_json(member(mine, "permissions"), perms, "permissions after a reader grant");
	cJSON_Delete(perms);
	cJSON_Delete(mine);
	cJSON_Delete(theirs);
	cJSON *pf = get_file(s, u.c, pub);
	t_assert_json_text(member(pf, "permissions"), "{\"anyone\":\"reader\"}", "a public node");
	cJSON_Delete(pf);

	/* the two 404s are the same answer */
	t_http_response r1, r2;
	req(s, "GET", fpath(p, priv, NULL), u.b, NULL, NULL, 0, &r1);
	req(s, "GET", "/files/no-such-key", u.b, NULL, NULL, 0, &r2);
	bool same = r1.body_len == r2.body_len && !memcmp(r1.body, r2.body, r1.body_len);
	if (!same)
		fail_msg("another's private node answered \"%s\", an unknown key \"%s\": want the "
			 "same", r1.body, r2.body);
	t_assert_error(&r1, 404, NOT_FOUND);
	t_assert_error(&r2, 404, NOT_FOUND);
	expect_error(s, "GET", fpath(p, shared, NULL), u.c, NULL, 404, NOT_FOUND);
	expect_error(s, "GET", fpath(p, priv, NULL), NULL, NULL, 401, AUTH_REQUIRED);
	t_passed(state);
}

/* GET /files: own and shared live nodes by key, not another's public
 * node; parent and kind filters. */
static void test_list(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char k[T_ID_MAX];
	expect_list(s, u.a, "", "", "");
	t_file_create(s, u.a, "{\"id\":\"L3\",\"name\":\"l3\",\"parent\":\"docs\",\"kind\":\"project\"}", k);
	t_file_create(s, u.a, "{\"id\":\"L1\",\"name\":\"l1\"}", k);
	t_file_create(s, u.a, "{\"id\":\"L4\",\"name\":\"l4\",\"parent\":\"docs/sub\"}", k);
	t_file_create(s, u.a, "{\"id\":\"L2\",\"name\":\"l2\",\"parent\":\"docs\"}", k);
	t_file_create(s, u.a, "{\"id\":\"L5\",\"name\":\"l5\"}", k);
	t_file_create(s, u.b, "{\"id\":\"B1\",\"name\":\"b1\",\"parent\":\"shared-dir\"}", k);
	t_file_create(s, u.b, "{\"id\":\"B2\",\"name\":\"b2\"}", k);
	t_file_create(s, u.b, "{\"id\":\"B3\",\"name\":\"b3\"}", k);
	t_file_create(s, u.b, "{\"id\":\"B4\",\"name\":\"b4\"}", k);
	t_file_create(s, u.c, "{\"id\":\"C1\",\"name\":\"c1\"}", k);
	t_file_grant(s, u.b, "B1", u.aid, "reader");
	t_file_grant(s, u.b, "B4", u.aid, "writer");
	t_file_grant(s, u.b, "B2", "anyone", "reader");
	cJSON_Delete(t_api(s, "DELETE", "/files/L5", u.a, NULL, 204));

	expect_list(s, u.a, "", "B1,B4,L1,L2,L3,L4", "");
	expect_list(s, u.b, "", "B1,B2,B3,B4", "");
	expect_list(s, u.c, "", "C1", "");
	/* each item is the file as GET answers it */
	cJSON *j = t_api(s, "GET", "/files", u.a, NULL, 200);
	const cJSON *it;
	cJSON_ArrayForEach(it, member(j, "items"))
	{
		cJSON *g = get_file(s, u.a, t_json_str(it, "id"));
		t_assert_json(it, g, "a listed file");
		cJSON_Delete(g);
	}
	cJSON_Delete(j);
	/* filters */
	expect_list(s, u.a, "?parent=docs", "L2,L3", "");
	expect_list(s, u.a, "?parent=", "B4,L1", ""); /* B4: the top of bob's space */
	expect_list(s, u.a, "?parent=docs%2Fsub", "L4", "");
	expect_list(s, u.a, "?parent=shared-dir", "B1", "");
	expect_list(s, u.a, "?parent=nowhere", "", "");
	expect_list(s, u.a, "?kind=project", "L3", "");
	expect_list(s, u.a, "?kind=file", "B1,B4,L1,L2,L4", "");
	expect_list(s, u.a, "?kind=file&parent=docs", "L2", "");
	expect_list(s, u.a, "?kind=Acme%23None", "", "");
	/* a grant taken away takes the node out of the listing */
	t_file_grant(s, u.b, "B1", u.aid, NULL);
	expect_list(s, u.a, "", "B4,L1,L2,L3,L4", "");
	expect_error(s, "GET", "/files", NULL, NULL, 401, AUTH_REQUIRED);
	t_passed(state);
}

/* Paging: limit and cursor across three pages; the cursor is the last key
 * of the page and stays right while nodes come and go; bad values. */
static void test_list_paging(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char k[T_ID_MAX], body[128];
	for (int i = 7; i >= 1; i--) {
		snprintf(body, sizeof(body), "{\"id\":\"p%d\",\"name\":\"n%d\"}", i, i);
		t_file_create(s, u.a, body, k);
	}
	t_file_create(s, u.b, "{\"id\":\"p0\",\"name\":\"bobs\"}", k); /* not alice's */
	expect_list(s, u.a, "", "p1,p2,p3,p4,p5,p6,p7", "");
	expect_list(s, u.a, "?limit=3", "p1,p2,p3", "p3");
	expect_list(s, u.a, "?limit=3&cursor=p3", "p4,p5,p6", "p6");
	expect_list(s, u.a, "?cursor=p6&limit=3", "p7", "");
	expect_list(s, u.a, "?limit=1000", "p1,p2,p3,p4,p5,p6,p7", "");
	expect_list(s, u.a, "?limit=1&cursor=p1", "p2", "p2");
	/* nodes come and go between pages */
	t_file_create(s, u.a, "{\"id\":\"p35\",\"name\":\"n35\"}", k);
	cJSON_Delete(t_api(s, "DELETE", "/files/p2", u.a, NULL, 204));
	cJSON_Delete(t_api(s, "DELETE", "/files/p4", u.a, NULL, 204));
	expect_list(s, u.a, "?limit=3&cursor=p3", "p35,p5,p6", "p6");
	expect_list(s, u.a, "?limit=3", "p1,p3,p35", "p35");
	/* with a filter the pages hold only what it keeps */
	t_file_create(s, u.a, "{\"id\":\"p55\",\"name\":\"n55\",\"kind\":\"project\"}", k);
	t_file_create(s, u.a, "{\"id\":\"p65\",\"name\":\"n65\",\"kind\":\"project\"}", k);
	expect_list(s, u.a, "?kind=project&limit=1", "p55", "p55");
	expect_list(s, u.a, "?kind=project&limit=1&cursor=p55", "p65", NULL);
	static const char *const bad_limits[] = {"?limit=0", "?limit=1001", "?limit=abc",
						 "?limit=-1", "?limit=5x", "?limit=3.5"};
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
		char p[PATH_MAX_];
		snprintf(p, sizeof(p), "/files%s", bad_limits[i]);
		expect_error(s, "GET", p, u.a, NULL, 400, "bad limit");
	}
	expect_error(s, "GET", "/files?cursor=%21%21", u.a, NULL, 400, "bad cursor");
	expect_error(s, "GET", "/files?cursor=a%20b", u.a, NULL, 400, "bad cursor");
	expect_error(s, "GET", "/files?limit=2&cursor=abcdefghijklmnopqrstuvwxyz01234567890", u.a,
		     NULL, 400, "bad cursor");
	t_passed(state);
}

/* PATCH /files/<key>: rename, move, mime, tags and a deep meta patch;
 * the answer is {id, patch, revert}; the revert sent back gives the
 * original file again (modified aside). */
static void test_patch_and_revert(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a,
		      "{\"name\":\"orig.txt\",\"parent\":\"docs\",\"mime\":\"text/plain\","
		      "\"tags\":[\"t1\"],\"meta\":{\"a\":{\"b\":1,\"c\":[1,2]},\"d\":\"x\"}}",
		      key);
	cJSON *orig = get_file(s, u.a, key);
	static const char ops[] =
		"[{\"op\":\"test\",\"path\":\"/name\",\"value\":\"orig.txt\"},"
		"{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"renamed.txt\"},"
		"{\"op\":\"replace\",\"path\":\"/parent\",\"value\":\"other/place\"},"
		"{\"op\":\"replace\",\"path\":\"/mime\",\"value\":\"text/markdown\"},"
		"{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"t2\"},"
		"{\"op\":\"add\",\"path\":\"/meta/a/e\",\"value\":{\"deep\":true}},"
		"{\"op\":\"remove\",\"path\":\"/meta/d\"},"
		"{\"op\":\"replace\",\"path\":\"/meta/a/c/0\",\"value\":9},"
		"{\"op\":\"move\",\"from\":\"/meta/a/b\",\"path\":\"/meta/moved\"},"
		"{\"op\":\"copy\",\"from\":\"/meta/moved\",\"path\":\"/meta/copied\"}]";
	cJSON *ans = patch(s, u.a, fpath(p, key, NULL), ops, 200);
	char *revert = check_patch_answer(ans, key, ops, "PATCH /files/<key>");
	cJSON_Delete(ans);
	cJSON *now = get_file(s, u.a, key);
	cJSON *want = cJSON_Duplicate(orig, true);
	set_member(want, "name", cJSON_CreateString("renamed.txt"));
	set_member(want, "parent", cJSON_CreateString("other/place"));
	set_member(want, "mime", cJSON_CreateString("text/markdown"));
	set_member(want, "tags", t_json_parse("[\"t1\",\"t2\"]"));
	set_member(want, "meta",
		   t_json_parse("{\"a\":{\"c\":[9,2],\"e\":{\"deep\":true}},\"moved\":1,\"copied\":1}"));
	cJSON *a = without(now, "modified"), *b = without(want, "modified");
	t_assert_json(a, b, "GET after the patch");
	cJSON_Delete(a);
	cJSON_Delete(b);
	if (num(now, "modified", "GET") < num(orig, "modified", "GET"))
		fail_msg("modified went back");
	cJSON_Delete(want);
	cJSON_Delete(now);
	/* the revert, through the API */
	ans = patch(s, u.a, p, revert, 200);
	char *again = check_patch_answer(ans, key, revert, "PATCH with the revert");
	cJSON_free(again);
	cJSON_Delete(ans);
	now = get_file(s, u.a, key);
	a = without(now, "modified");
	b = without(orig, "modified");
	t_assert_json(a, b, "GET after the revert");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(now);
	cJSON_free(revert);

	/* meta from null, and back */
	char k2[T_ID_MAX], p2[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"m\"}", k2);
	cJSON *o2 = get_file(s, u.a, k2);
	static const char set_meta[] = "[{\"op\":\"replace\",\"path\":\"/meta\",\"value\":{\"k\":[true]}}]";
	ans = patch(s, u.a, fpath(p2, k2, NULL), set_meta, 200);
	revert = check_patch_answer(ans, k2, set_meta, "PATCH /meta");
	cJSON_Delete(ans);
	now = get_file(s, u.a, k2);
	t_assert_json_text(member(now, "meta"), "{\"k\":[true]}", "meta after the patch");
	cJSON_Delete(now);
	cJSON_Delete(patch(s, u.a, p2, revert, 200));
	now = get_file(s, u.a, k2);
	a = without(now, "modified");
	b = without(o2, "modified");
	t_assert_json(a, b, "GET after reverting meta");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(now);
	cJSON_free(revert);
	cJSON_Delete(o2);
	/* an empty patch changes nothing */
	ans = patch(s, u.a, p2, "[]", 200);
	free(check_patch_answer(ans, k2, "[]", "an empty patch"));
	cJSON_Delete(ans);
	cJSON_Delete(orig);
	t_passed(state);
}

/* PATCH /files/<key>: each refusal, and nothing changed by any. */
static void test_patch_errors(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], other[T_ID_MAX], trashed[T_ID_MAX], p[PATH_MAX_], body[256];
	t_file_create(s, u.a, "{\"name\":\"f.txt\",\"meta\":{\"a\":{\"b\":1}}}", key);
	t_file_create(s, u.a, "{\"name\":\"taken.txt\"}", other);
	t_file_create(s, u.a, "{\"name\":\"gone.txt\"}", trashed);
	cJSON_Delete(t_api(s, "DELETE", fpath(p, trashed, NULL), u.a, NULL, 204));
	t_file_grant(s, u.a, key, u.bid, "reader");
	cJSON *before = get_file(s, u.a, key);
	fpath(p, key, NULL);

	/* a test that fails: 412, nothing applied (the rename before it neither) */
	expect_error_prefix(s, "PATCH", p, u.a,
			    "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"zz\"},"
			    "{\"op\":\"test\",\"path\":\"/meta/a/b\",\"value\":2}]",
			    412, "test failed: ");
	expect_error_prefix(s, "PATCH", p, u.a,
			    "[{\"op\":\"test\",\"path\":\"/name\",\"value\":\"F.TXT\"}]", 412,
			    "test failed: ");
	/* fields the server owns */
	static const char *const ro[] = {"id", "kind", "owner", "size", "md5", "created",
					 "modified", "trashed", "permissions"};
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		char msg[64];
		snprintf(body, sizeof(body), "[{\"op\":\"replace\",\"path\":\"/%s\",\"value\":1}]", ro[i]);
		snprintf(msg, sizeof(msg), "read-only field: %s", ro[i]);
		expect_error(s, "PATCH", p, u.a, body, 400, msg);
	}
	expect_error(s, "PATCH", p, u.a,
		     "[{\"op\":\"add\",\"path\":\"/permissions/x\",\"value\":\"reader\"}]", 400,
		     "read-only field: permissions");
	expect_error(s, "PATCH", p, u.a,
		     "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"q\"},"
		     "{\"op\":\"remove\",\"path\":\"/size\"}]",
		     400, "read-only field: size");
	/* another top-level member */
	expect_error(s, "PATCH", p, u.a, "[{\"op\":\"add\",\"path\":\"/color\",\"value\":\"red\"}]",
		     400, "unknown field: color");
	/* malformed, or cannot apply */
	static const char *const invalid[] = {
		"[{\"op\":\"jump\",\"path\":\"/name\"}]",
		"[{\"op\":\"replace\",\"path\":\"name\",\"value\":\"x\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\"}]",
		"[{\"path\":\"/name\",\"value\":\"x\"}]",
		"[{\"op\":\"move\",\"path\":\"/name\"}]",
		"[{\"op\":\"remove\",\"path\":\"/meta/nosuch\"}]",
		"[{\"op\":\"replace\",\"path\":\"/meta/a/zz\",\"value\":1}]",
		"[{\"op\":\"add\",\"path\":\"/tags/5\",\"value\":\"t\"}]",
		"[5]",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		expect_error_prefix(s, "PATCH", p, u.a, invalid[i], 400, "invalid patch: ");
	/* not a patch at all: a 400 (invalid patch or invalid JSON body) */
	expect_error_prefix(s, "PATCH", p, u.a, "not json", 400, "invalid JSON body: expected ");
	expect_error_prefix(s, "PATCH", p, u.a, "{\"op\":\"add\"}", 400, "invalid ");
	/* a bad name, parent, tags, mime */
	static const char *const bad_file[] = {
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"..\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"a/b\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":7}]",
		"[{\"op\":\"replace\",\"path\":\"/parent\",\"value\":\"a/../../b\"}]",
		"[{\"op\":\"replace\",\"path\":\"/tags\",\"value\":\"t\"}]",
		"[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":3}]",
		"[{\"op\":\"replace\",\"path\":\"/mime\",\"value\":5}]",
	};
	for (size_t i = 0; i < sizeof(bad_file) / sizeof(bad_file[0]); i++)
		expect_error_prefix(s, "PATCH", p, u.a, bad_file[i], 400, "invalid file: ");
	/* a rename onto a live name in the same folder */
	expect_error(s, "PATCH", p, u.a,
		     "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"taken.txt\"}]", 409,
		     NAME_TAKEN);
	/* who */
	static const char rename[] = "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"r.txt\"}]";
	expect_error(s, "PATCH", p, u.b, rename, 403, MAY_NOT);
	expect_error(s, "PATCH", p, u.c, rename, 404, NOT_FOUND);
	expect_error(s, "PATCH", "/files/no-such-key", u.a, rename, 404, NOT_FOUND);
	expect_error(s, "PATCH", p, NULL, rename, 401, AUTH_REQUIRED);
	/* a commenter may read it, not change it */
	t_file_grant(s, u.a, key, u.cid, "commenter");
	expect_error(s, "PATCH", p, u.c, rename, 403, MAY_NOT);
	t_file_grant(s, u.a, key, u.cid, NULL);
	/* nothing changed */
	cJSON *after = get_file(s, u.a, key);
	t_assert_json(after, before, "the file after every refused patch");
	cJSON_Delete(after);
	/* a trashed node's name is not live; a writer may rename */
	snprintf(body, sizeof(body), "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"gone.txt\"}]");
	t_file_grant(s, u.a, key, u.bid, "writer");
	cJSON *ans = patch(s, u.b, p, body, 200);
	free(check_patch_answer(ans, key, body, "a writer's rename"));
	cJSON_Delete(ans);
	after = get_file(s, u.a, key);
	if (strcmp(str(after, "name", "GET"), "gone.txt"))
		fail_msg("rename by a writer: name %s, want gone.txt", t_json_str(after, "name"));
	cJSON_Delete(after);
	cJSON_Delete(before);
	t_passed(state);
}

/* DELETE /files/<key>: 204; grantees lose sight of it; the owner still
 * gets it, trashed; a second delete is 404. */
static void test_delete(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], k2[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"doomed\",\"id\":\"doomed\"}", key);
	t_file_create(s, u.a, "{\"name\":\"w\",\"id\":\"w\"}", k2);
	t_file_grant(s, u.a, key, u.bid, "reader");
	t_file_grant(s, u.a, k2, u.bid, "writer");
	fpath(p, key, NULL);
	expect_error(s, "DELETE", p, u.b, NULL, 403, MAY_NOT);
	expect_error(s, "DELETE", p, u.c, NULL, 404, NOT_FOUND);
	expect_error(s, "DELETE", p, NULL, NULL, 401, AUTH_REQUIRED);
	expect_error(s, "DELETE", "/files/no-such-key", u.a, NULL, 404, NOT_FOUND);
	int64_t before = wall_ms();
	t_http_response r;
	req(s, "DELETE", p, u.a, NULL, NULL, 0, &r);
	int64_t after = wall_ms();
	if (r.status != 204 || r.body_len)
		fail_msg("DELETE: %d with %zu bytes, want 204 without a body", r.status, r.body_len);
	t_http_free(&r);
	expect_error(s, "GET", p, u.b, NULL, 404, NOT_FOUND);
	expect_error(s, "GET", "/files/doomed/users", u.b, NULL, 404, NOT_FOUND);
	cJSON *f = get_file(s, u.a, key);
	double t = num(f, "trashed", "GET");
	if (t < before - 2000 || t > after + 2000)
		fail_msg("trashed %.0f, want the time of the delete (%lld..%lld)", t, (long long)before,
			 (long long)after);
	cJSON_Delete(f);
	expect_list(s, u.a, "", "w", "");
	expect_list(s, u.b, "", "w", "");
	expect_error(s, "DELETE", p, u.a, NULL, 404, NOT_FOUND);
	/* a writer may */
	cJSON_Delete(t_api(s, "DELETE", fpath(p, k2, NULL), u.b, NULL, 204));
	expect_error(s, "GET", p, u.b, NULL, 404, NOT_FOUND);
	f = get_file(s, u.a, k2);
	if (num(f, "trashed", "GET") == 0)
		fail_msg("trashed by a writer: trashed is 0");
	cJSON_Delete(f);
	expect_list(s, u.a, "", "", "");
	t_passed(state);
}

/* PUT ?alt=media then GET: byte-identical, with the headers of the page;
 * HEAD; If-None-Match; who may. */
static void test_media_put_get(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_], md5[33], etag[40], v[64];
	t_file_create(s, u.a, "{\"name\":\"data.bin\",\"mime\":\"application/x-test\"}", key);
	t_file_grant(s, u.a, key, u.bid, "reader");
	fpath(p, key, "?alt=media");
	expect_error(s, "GET", p, u.a, NULL, 404, NO_CONTENT);
	const size_t n = 100 * KIB + 7;
	unsigned char *d = t_make_data(n, 11);
	md5_hex(d, n, md5);
	snprintf(etag, sizeof(etag), "\"%s\"", md5);
	cJSON *f = put_ok(s, u.a, key, d, n);
	cJSON *g = get_file(s, u.a, key);
	t_assert_json(f, g, "PUT's answer and GET");
	if (strcmp(str(g, "mime", "GET"), "application/x-test"))
		fail_msg("PUT changed mime to %s", t_json_str(g, "mime"));
	cJSON_Delete(f);
	cJSON_Delete(g);

	t_http_response r;
	req(s, "GET", p, u.a, NULL, NULL, 0, &r);
	if (r.status != 200 || r.body_len != n || memcmp(r.body, d, n))
		fail_msg("GET ?alt=media: %d with %zu bytes, want 200 with the %zu put", r.status,
			 r.body_len, n);
	t_assert_header(&r, "content-type", "application/x-test", "GET");
	t_assert_header(&r, "etag", etag, "GET");
	t_assert_header(&r, "accept-ranges", "bytes", "GET");
	t_assert_header(&r, "content-disposition", "inline; filename=\"data.bin\"", "GET");
	snprintf(v, sizeof(v), "%zu", n);
	t_assert_header(&r, "content-length", v, "GET");
	t_http_free(&r);
	/* HEAD: the same without the body */
	req(s, "HEAD", p, u.a, NULL, NULL, 0, &r);
	if (r.status != 200)
		fail_msg("HEAD ?alt=media: %d, want 200", r.status);
	t_assert_header(&r, "content-length", v, "HEAD");
	t_assert_header(&r, "etag", etag, "HEAD");
	t_assert_header(&r, "content-type", "application/x-test", "HEAD");
	t_http_free(&r);
	/* If-None-Match */
	char inm[80];
	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", etag);
	req(s, "GET", p, u.a, inm, NULL, 0, &r);
	if (r.status != 304 || r.body_len)
		fail_msg("If-None-Match with the ETag: %d with %zu bytes, want 304", r.status,
			 r.body_len);
	t_http_free(&r);
	req(s, "GET", p, u.a, "If-None-Match: \"0123\"\r\n", NULL, 0, &r);
	if (r.status != 200 || r.body_len != n)
		fail_msg("If-None-Match with another ETag: %d, want 200 with the content", r.status);
	t_http_free(&r);
	/* a reader reads, may not write; a stranger sees nothing */
	expect_media(s, u.b, key, d, n);
	put_media(s, u.b, key, "x", 1, &r);
	t_assert_error(&r, 403, MAY_NOT);
	expect_error(s, "GET", p, u.c, NULL, 404, NOT_FOUND);
	put_media(s, u.c, key, "x", 1, &r);
	t_assert_error(&r, 404, NOT_FOUND);
	put_media(s, u.a, "no-such-key", "x", 1, &r);
	t_assert_error(&r, 404, NOT_FOUND);
	expect_error(s, "GET", p, NULL, NULL, 401, AUTH_REQUIRED);
	expect_media(s, u.a, key, d, n);
	/* a writer may; an empty PUT is an empty content */
	t_file_grant(s, u.a, key, u.cid, "writer");
	cJSON_Delete(put_ok(s, u.c, key, "new", 3));
	expect_media(s, u.a, key, "new", 3);
	cJSON_Delete(put_ok(s, u.a, key, "", 0));
	f = get_file(s, u.a, key);
	if (strcmp(str(f, "md5", "GET"), MD5_EMPTY))
		fail_msg("an empty content: md5 %s, want %s", t_json_str(f, "md5"), MD5_EMPTY);
	cJSON_Delete(f);
	free(d);
	t_passed(state);
}

/* Range: a-b, a-, -n, past the end (416 with bytes * / size), lists and
 * garbage ignored. */
static void expect_range(const t_server *s, const char *auth, const char *key, const char *range,
			 const unsigned char *d, size_t n, size_t from, size_t to)
{
	char p[PATH_MAX_], h[128], what[160];
	snprintf(h, sizeof(h), "Range: %s\r\n", range);
	snprintf(what, sizeof(what), "GET with Range: %s", range);
	t_http_response r;
	req(s, "GET", fpath(p, key, "?alt=media"), auth, h, NULL, 0, &r);
	t_assert_range(&r, d, n, from, to, what);
}

static void test_media_ranges(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_], cr[64];
	t_file_create(s, u.a, "{\"name\":\"r.bin\"}", key);
	const size_t n = 1000;
	unsigned char *d = t_make_data(n, 5);
	cJSON_Delete(put_ok(s, u.a, key, d, n));
	expect_range(s, u.a, key, "bytes=10-19", d, n, 10, 19);
	expect_range(s, u.a, key, "bytes=0-0", d, n, 0, 0);
	expect_range(s, u.a, key, "bytes=990-", d, n, 990, 999);
	expect_range(s, u.a, key, "bytes=-7", d, n, 993, 999);
	expect_range(s, u.a, key, "bytes=995-5000", d, n, 995, 999);
	expect_range(s, u.a, key, "bytes=0-999", d, n, 0, 999);
	expect_range(s, u.a, key, "bytes=999-", d, n, 999, 999);
	fpath(p, key, "?alt=media");
	snprintf(cr, sizeof(cr), "bytes */%zu", n);
	static const char *const past[] = {"Range: bytes=1000-\r\n", "Range: bytes=5000-6000\r\n"};
	for (int i = 0; i < 2; i++) {
		t_http_response r;
		req(s, "GET", p, u.a, past[i], NULL, 0, &r);
		t_assert_header(&r, "content-range", cr, past[i]);
		t_assert_error(&r, 416, "range not satisfiable");
	}
	static const char *const ignored[] = {"Range: bytes=0-1,5-6\r\n", "Range: bytes=abc\r\n",
					      "Range: pages=1-2\r\n", "Range: bytes=9-3\r\n"};
	for (int i = 0; i < 4; i++) {
		t_http_response r;
		req(s, "GET", p, u.a, ignored[i], NULL, 0, &r);
		if (r.status != 200 || r.body_len != n || memcmp(r.body, d, n))
			fail_msg("%.30s: %d with %zu bytes, want 200 with the whole content", ignored[i],
				 r.status, r.body_len);
		t_http_free(&r);
	}
	free(d);
	t_passed(state);
}

/* PUT over max_upload_size: 413 before the body is read; nothing
 * changed; Expect: 100-continue; a chunked PUT; an interrupted PUT. */
static void test_media_put_limits(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 1K\n");
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"lim\"}", key);
	unsigned char *d = t_make_data(2 * KIB, 3);
	cJSON_Delete(put_ok(s, u.a, key, d, 1024)); /* exactly the limit */
	cJSON *before = get_file(s, u.a, key);
	t_http_response r;
	put_media(s, u.a, key, d, 1025, &r);
	t_assert_error(&r, 413, "file too large");
	/* told by Content-Length, before any of the body comes */
	fpath(p, key, "?alt=media");
	req(s, "PUT", p, u.a, "Content-Length: 50000000\r\n", NULL, 0, &r);
	t_assert_error(&r, 413, "file too large");
	req(s, "PUT", p, u.a, "Content-Length: 5000\r\nExpect: 100-continue\r\n", NULL, 0, &r);
	t_assert_error(&r, 413, "file too large");
	cJSON *after = get_file(s, u.a, key);
	t_assert_json(after, before, "the file after refused PUTs");
	cJSON_Delete(after);
	expect_media(s, u.a, key, d, 1024);

	/* Expect: 100-continue: the interim answer, then the body, then 200 */
	int fd = t_connect(s->http_port);
	assert_true(fd >= 0);
	char head[1024];
	int hn = snprintf(head, sizeof(head),
			  "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
			  "Content-Length: 10\r\nExpect: 100-continue\r\n\r\n",
			  p, u.a);
	assert_int_equal(t_send_all(fd, head, (size_t)hn), 0);
	char got[4096];
	size_t gl = 0;
	while (!memmem(got, gl, "\r\n\r\n", 4)) {
		ssize_t k = t_recv_some(fd, got + gl, sizeof(got) - 1 - gl, T_TIMEOUT_MS);
		if (k <= 0)
			fail_msg("Expect: 100-continue: no interim answer (got %zu bytes)", gl);
		gl += (size_t)k;
	}
	got[gl] = 0;
	if (strncmp(got, "HTTP/1.1 100", 12))
		fail_msg("Expect: 100-continue answered %.60s, want HTTP/1.1 100 Continue", got);
	assert_int_equal(t_send_all(fd, "0123456789", 10), 0);
	char *end = (char *)memmem(got, gl, "\r\n\r\n", 4) + 4;
	gl -= (size_t)(end - got);
	memmove(got, end, gl);
	for (;;) {
		ssize_t k = t_recv_some(fd, got + gl, sizeof(got) - 1 - gl, T_TIMEOUT_MS);
		if (k <= 0)
			break;
		gl += (size_t)k;
	}
	got[gl] = 0;
	close(fd);
	if (strncmp(got, "HTTP/1.1 200", 12))
		fail_msg("after the body: %.80s, want HTTP/1.1 200", got);
	expect_media(s, u.a, key, "0123456789", 10);

	/* an interrupted PUT changes nothing */
	cJSON_Delete(before);
	before = get_file(s, u.a, key);
	fd = t_connect(s->http_port);
	assert_true(fd >= 0);
	hn = snprintf(head, sizeof(head),
		      "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: 1000\r\n\r\n", p, u.a);
	assert_int_equal(t_send_all(fd, head, (size_t)hn), 0);
	assert_int_equal(t_send_all(fd, d, 600), 0);
	t_sleep_ms(50);
	close(fd);
	t_sleep_ms(50);
	after = get_file(s, u.a, key);
	t_assert_json(after, before, "the file after an interrupted PUT");
	cJSON_Delete(after);
	cJSON_Delete(before);
	expect_media(s, u.a, key, "0123456789", 10);

	/* a chunked body is refused, not stored with its chunk markers */
	static const char chunked[] = "3\r\nabc\r\n0\r\n\r\n";
	snprintf(head, sizeof(head), "%sTransfer-Encoding: chunked\r\n", u.a);
	if (t_http(s->http_port, "PUT", p, head, chunked, strlen(chunked), &r))
		fail_msg("a chunked PUT ?alt=media: no answer, want 411");
	t_assert_error(&r, 411, "a request body needs Content-Length");
	expect_media(s, u.a, key, "0123456789", 10);
	free(d);
	t_passed(state);
}

/* An 8 MiB PUT comes back byte for byte. */
static void test_media_big(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX];
	t_file_create(s, u.a, "{\"name\":\"big.bin\"}", key);
	const size_t n = 8 * MIB + 13;
	unsigned char *d = t_make_data(n, 77);
	cJSON_Delete(put_ok(s, u.a, key, d, n));
	expect_media(s, u.a, key, d, n);
	expect_range(s, u.a, key, "bytes=4194000-4194999", d, n, 4194000, 4194999);
	assert_int_equal(t_blobs_holding(s, d, n), 1);
	free(d);
	t_passed(state);
}

/* PATCH ?alt=media: a JSON Patch of JSON content; the revert round
 * trip; 412 with nothing changed; content that is not JSON; no content
 * counts as null; who may. */
static void test_media_patch(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_], md5[33];
	t_file_create(s, u.a, "{\"name\":\"doc.json\",\"mime\":\"application/json\"}", key);
	t_file_grant(s, u.a, key, u.bid, "reader");
	t_file_grant(s, u.a, key, u.cid, "writer");
	fpath(p, key, "?alt=media");
	/* no content yet: null */
	static const char first[] = "[{\"op\":\"test\",\"path\":\"\",\"value\":null},"
				    "{\"op\":\"add\",\"path\":\"\",\"value\":{\"a\":1,\"b\":[1]}}]";
	cJSON *ans = patch(s, u.a, p, first, 200);
	free(check_patch_answer(ans, key, first, "PATCH ?alt=media of no content"));
	cJSON_Delete(ans);
	static const char c1[] = "{\"a\":1,\"b\":[1]}";
	expect_media(s, u.a, key, c1, strlen(c1));
	/* a patch and its revert */
	static const char ops[] = "[{\"op\":\"add\",\"path\":\"/b/-\",\"value\":2},"
				  "{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"x\"},"
				  "{\"op\":\"add\",\"path\":\"/c\",\"value\":{\"d\":null}}]";
	ans = patch(s, u.c, p, ops, 200); /* a writer */
	char *revert = check_patch_answer(ans, key, ops, "PATCH ?alt=media");
	cJSON_Delete(ans);
	static const char c2[] = "{\"a\":\"x\",\"b\":[1,2],\"c\":{\"d\":null}}";
	expect_media(s, u.a, key, c2, strlen(c2));
	cJSON *f = get_file(s, u.a, key);
	md5_hex(c2, strlen(c2), md5);
	if (num(f, "size", "GET") != strlen(c2) || strcmp(str(f, "md5", "GET"), md5))
		fail_msg("after PATCH ?alt=media the file has size %.0f md5 %s, want %zu %s",
			 num(f, "size", "GET"), t_json_str(f, "md5"), strlen(c2), md5);
	cJSON_Delete(f);
	ans = patch(s, u.a, p, revert, 200);
	free(check_patch_answer(ans, key, revert, "PATCH ?alt=media with the revert"));
	cJSON_Delete(ans);
	cJSON_free(revert);
	expect_media(s, u.a, key, c1, strlen(c1));
	/* refusals: nothing changes */
	expect_error_prefix(s, "PATCH", p, u.a,
			    "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":5},"
			    "{\"op\":\"test\",\"path\":\"/b/0\",\"value\":2}]",
			    412, "test failed: ");
	expect_error_prefix(s, "PATCH", p, u.a, "[{\"op\":\"remove\",\"path\":\"/zz\"}]", 400,
			    "invalid patch: ");
	expect_error_prefix(s, "PATCH", p, u.a, "[{\"op\":\"nope\",\"path\":\"/a\"}]", 400,
			    "invalid patch: ");
	static const char one[] = "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]";
	expect_error(s, "PATCH", p, u.b, one, 403, MAY_NOT);
	t_http_response r;
	req_json(s, "PATCH", p, "Authorization: Bearer nosuchtoken\r\n", one, &r);
	t_assert_error(&r, 401, BAD_SESSION);
	char pk[PATH_MAX_];
	snprintf(pk, sizeof(pk), "/files/%s?alt=media", "no-such-key");
	expect_error(s, "PATCH", pk, u.a, one, 404, NOT_FOUND);
	t_file_grant(s, u.a, key, u.bid, NULL);
	expect_error(s, "PATCH", p, u.b, one, 404, NOT_FOUND);
	expect_media(s, u.a, key, c1, strlen(c1));
	/* content that does not parse */
	cJSON_Delete(put_ok(s, u.a, key, "hello {", 7));
	expect_error(s, "PATCH", p, u.a, one, 400, "content is not JSON");
	expect_media(s, u.a, key, "hello {", 7);
	t_passed(state);
}

/* PATCH ?alt=media of content over max_message_size: 413. */
static void test_media_patch_too_large(void **state)
{
	t_server *s = t_start(state, "max_message_size = 4K\n");
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"large.json\"}", key);
	size_t n = 5000;
	char *big = (char *)malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big, "{\"s\":\"", 6);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = 0;
	cJSON_Delete(put_ok(s, u.a, key, big, n));
	expect_error(s, "PATCH", fpath(p, key, "?alt=media"), u.a,
		     "[{\"op\":\"add\",\"path\":\"/t\",\"value\":1}]", 413, "content too large to patch");
	expect_media(s, u.a, key, big, n);
	free(big);
	t_passed(state);
}

/* DELETE ?alt=media: 204; then no content (404 "file has no content");
 * the node stays, size 0 and md5 "". */
static void test_media_delete(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, u.a, "{\"name\":\"x.txt\",\"media\":{\"k\":1}}", key);
	t_file_grant(s, u.a, key, u.bid, "reader");
	fpath(p, key, "?alt=media");
	expect_error(s, "DELETE", p, u.b, NULL, 403, MAY_NOT);
	expect_error(s, "DELETE", p, u.c, NULL, 404, NOT_FOUND);
	expect_error(s, "DELETE", p, NULL, NULL, 401, AUTH_REQUIRED);
	t_http_response r;
	req(s, "DELETE", p, u.a, NULL, NULL, 0, &r);
	if (r.status != 204 || r.body_len)
		fail_msg("DELETE ?alt=media: %d with %zu bytes, want 204 without a body", r.status,
			 r.body_len);
	t_http_free(&r);
	expect_error(s, "GET", p, u.a, NULL, 404, NO_CONTENT);
	expect_error(s, "GET", p, u.b, NULL, 404, NO_CONTENT);
	expect_error(s, "DELETE", p, u.a, NULL, 404, NO_CONTENT);
	cJSON *f = get_file(s, u.a, key);
	if (num(f, "size", "GET") != 0 || strcmp(str(f, "md5", "GET"), "") ||
	    num(f, "trashed", "GET") != 0)
		fail_msg("after DELETE ?alt=media: size %.0f md5 \"%s\" trashed %.0f, want 0 \"\" 0",
			 num(f, "size", "GET"), t_json_str(f, "md5"), num(f, "trashed", "GET"));
	cJSON_Delete(f);
	/* content again */
	cJSON_Delete(put_ok(s, u.a, key, "back", 4));
	expect_media(s, u.a, key, "back", 4);
	t_passed(state);
}

static const char *const REVISION_MEMBERS[] = {"kind", "key",  "id",  "created",
					       "patch", "size", "md5", "modification"};

/* One revision: its members, kind, node key, the content before (size,
 * md5), patch (text, or NULL for null) and who. */
static void check_revision(const cJSON *rv, const char *key, size_t size, const char *md5,
			   const char *patch_text, const char *user, const char *what)
{
	check_members(rv, REVISION_MEMBERS, 8, what);
	if (strcmp(str(rv, "kind", what), "Core#Revision") || strcmp(str(rv, "id", what), key) ||
	    !*str(rv, "key", what))
		fail_msg("%s: kind %s id %s key %s, want Core#Revision, %s and a key", what,
			 t_json_str(rv, "kind"), t_json_str(rv, "id"), t_json_str(rv, "key"), key);
	num(rv, "created", what);
	if (num(rv, "size", what) != (double)size || strcmp(str(rv, "md5", what), md5))
		fail_msg("%s: size %.0f md5 \"%s\", want %zu \"%s\"", what, num(rv, "size", what),
			 t_json_str(rv, "md5"), size, md5);
	if (patch_text)
		t_assert_json_text(member(rv, "patch"), patch_text, what);
	else if (!cJSON_IsNull(member(rv, "patch")))
		fail_msg("%s: patch is not null", what);
	const cJSON *m = member(rv, "modification");
	static const char *const mod[] = {"time", "user"};
	check_members(m, mod, 2, what);
	num(m, "time", what);
	if (strcmp(str(m, "user", what), user))
		fail_msg("%s: modification.user %s, want %s", what, t_json_str(m, "user"), user);
}

/* GET /files/<key>/revisions: want n items (caller deletes). */
static cJSON *revisions(const t_server *s, const char *auth, const char *key, int n)
{
	char p[PATH_MAX_];
	cJSON *j = t_api(s, "GET", fpath(p, key, "/revisions"), auth, NULL, 200);
	const cJSON *items = member(j, "items");
	if (cJSON_GetArraySize(j) != 1 || !cJSON_IsArray(items))
		fail_msg("GET %s: want exactly {\"items\":[...]}", p);
	if (cJSON_GetArraySize(items) != n) {
		char *t = cJSON_PrintUnformatted(j);
		fprintf(stderr, "GET %s: %.2000s\n", p, t);
		cJSON_free(t);
		fail_msg("GET %s: %d revisions, want %d", p, cJSON_GetArraySize(items), n);
	}
	return j;
}

/* Every content change is a revision keeping the content before it,
 * oldest first, with who made it. */
static void test_revisions(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], p[PATH_MAX_], m1[33], m2[33];
	t_file_create(s, u.a, "{\"name\":\"rev.json\"}", key);
	t_file_grant(s, u.a, key, u.bid, "writer");
	t_file_grant(s, u.a, key, u.cid, "reader");
	cJSON_Delete(revisions(s, u.a, key, 0));
	static const char c1[] = "{\"v\":1}";
	static const char c2[] = "{\"v\":2}";
	static const char ops[] = "[{\"op\":\"replace\",\"path\":\"/v\",\"value\":2}]";
	md5_hex(c1, strlen(c1), m1);
	md5_hex(c2, strlen(c2), m2);
	cJSON_Delete(put_ok(s, u.a, key, c1, strlen(c1)));
	cJSON_Delete(patch(s, u.b, fpath(p, key, "?alt=media"), ops, 200));
	cJSON_Delete(t_api(s, "DELETE", p, u.a, NULL, 204));
	cJSON *j = revisions(s, u.c, key, 3); /* a reader may list them */
	const cJSON *items = member(j, "items");
	check_revision(cJSON_GetArrayItem(items, 0), key, 0, "", NULL, u.aid, "revision 1 (PUT)");
	check_revision(cJSON_GetArrayItem(items, 1), key, strlen(c1), m1, ops, u.bid,
		       "revision 2 (PATCH)");
	check_revision(cJSON_GetArrayItem(items, 2), key, strlen(c2), m2, NULL, u.aid,
		       "revision 3 (DELETE)");
	const char *k0 = t_json_str(cJSON_GetArrayItem(items, 0), "key");
	const char *k1 = t_json_str(cJSON_GetArrayItem(items, 1), "key");
	const char *k2 = t_json_str(cJSON_GetArrayItem(items, 2), "key");
	if (!strcmp(k0, k1) || !strcmp(k1, k2) || !strcmp(k0, k2))
		fail_msg("revision keys are not distinct: %s %s %s", k0, k1, k2);
	double t0 = num(cJSON_GetArrayItem(items, 0), "created", "r0");
	double t2 = num(cJSON_GetArrayItem(items, 2), "created", "r2");
	if (t2 < t0)
		fail_msg("revisions are not oldest first");
	cJSON *again = revisions(s, u.a, key, 3);
	t_assert_json(again, j, "revisions as the owner and as a reader");
	cJSON_Delete(again);
	cJSON_Delete(j);
	expect_error(s, "GET", fpath(p, key, "/revisions"), "Authorization: Bearer x\r\n", NULL, 401,
		     BAD_SESSION);
	t_file_grant(s, u.a, key, u.cid, NULL);
	expect_error(s, "GET", p, u.c, NULL, 404, NOT_FOUND);
	expect_error(s, "GET", "/files/no-such-key/revisions", u.a, NULL, 404, NOT_FOUND);
	t_passed(state);
}

/* Content over the quota: 507 "quota exceeded", nothing changed; a writer's
 * PUT into someone's node counts against the owner's quota. */
static void test_media_quota(void **state)
{
	t_server *s = t_start(state, "quota = 4K\n");
	people u;
	three_users(s, &u);
	char k1[T_ID_MAX], k2[T_ID_MAX], kb[T_ID_MAX];
	t_file_create(s, u.a, "{\"name\":\"q1\"}", k1);
	t_file_create(s, u.a, "{\"name\":\"q2\"}", k2);
	t_file_create(s, u.b, "{\"name\":\"qb\"}", kb);
	t_file_grant(s, u.a, k1, u.bid, "writer");
	t_file_grant(s, u.a, k2, u.bid, "writer");
	unsigned char *d = t_make_data(5000, 9);
	t_http_response r;
	put_media(s, u.a, k1, d, 5000, &r);
	t_assert_error(&r, 507, "quota exceeded");
	char p[PATH_MAX_];
	expect_error(s, "GET", fpath(p, k1, "?alt=media"), u.a, NULL, 404, NO_CONTENT);
	cJSON_Delete(put_ok(s, u.b, k1, d, 3000)); /* bob writes 3000 of alice's 4K */
	put_media(s, u.b, k2, d, 3000, &r);
	t_assert_error(&r, 507, "quota exceeded");
	expect_error(s, "GET", fpath(p, k2, "?alt=media"), u.a, NULL, 404, NO_CONTENT);
	cJSON_Delete(put_ok(s, u.b, kb, d, 3000)); /* bob's own quota is untouched */
	free(d);
	t_passed(state);
}

/* revisions_keep = 2: the newest two are kept. */
static void test_revisions_keep(void **state)
{
	t_server *s = t_start(state, "revisions_keep = 2\n");
	people u;
	three_users(s, &u);
	char key[T_ID_MAX], m2[33], m3[33];
	t_file_create(s, u.a, "{\"name\":\"k\"}", key);
	cJSON_Delete(put_ok(s, u.a, key, "one", 3));
	cJSON_Delete(put_ok(s, u.a, key, "two", 3));
	cJSON_Delete(put_ok(s, u.a, key, "three", 5));
	cJSON_Delete(put_ok(s, u.a, key, "four", 4));
	md5_hex("two", 3, m2);
	md5_hex("three", 5, m3);
	cJSON *j = revisions(s, u.a, key, 2);
	const cJSON *items = member(j, "items");
	check_revision(cJSON_GetArrayItem(items, 0), key, 3, m2, NULL, u.aid, "the older kept");
	check_revision(cJSON_GetArrayItem(items, 1), key, 5, m3, NULL, u.aid, "the newest");
	cJSON_Delete(j);
	t_passed(state);
}

/* ---- permissions ---- */

/* The permission object {kind, key, type, id, role, addingUser}. */
static cJSON *perm(const char *key, const char *id, const char *role, const char *adding)
{
	char k[2 * T_ID_MAX + 2];
	snprintf(k, sizeof(k), "%s:%s", key, id);
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "kind", "Core#Permission");
	cJSON_AddStringToObject(p, "key", k);
	cJSON_AddStringToObject(p, "type", strcmp(id, "anyone") ? "user" : "anyone");
	cJSON_AddStringToObject(p, "id", id);
	cJSON_AddStringToObject(p, "role", role);
	cJSON_AddStringToObject(p, "addingUser", adding);
	return p;
}

/* {"items":[...]} of the perms given (taken). */
static cJSON *perm_list(cJSON *const *perms, int n)
{
	cJSON *items = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(items, perms[i]);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "items", items);
	return j;
}

static void expect_users(const t_server *s, const char *auth, const char *key, cJSON *want,
			 const char *what)
{
	char p[PATH_MAX_];
	cJSON *got = t_api(s, "GET", fpath(p, key, "/users"), auth, NULL, 200);
	t_assert_json(got, want, what);
	cJSON_Delete(got);
}

/* GET/PATCH /files/<key>/users: the owner first, grants by user id, then
 * anyone; who may give what; each refusal. */
static void test_users(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char dave[T_AUTH_MAX], did[T_ID_MAX], key[T_ID_MAX], p[PATH_MAX_], ops[1024];
	t_add_user(s, "dave", "dave pass", dave);
	t_user_id(s, dave, did);
	t_file_create(s, u.a, "{\"name\":\"shared\"}", key);
	fpath(p, key, "/users");

	cJSON *owner_only[] = {perm(key, u.aid, "owner", u.aid)};
	cJSON *want = perm_list(owner_only, 1);
	expect_users(s, u.a, key, want, "GET users of a new node");
	cJSON_Delete(want);
	expect_error(s, "GET", p, u.b, NULL, 404, NOT_FOUND);

	/* the owner gives bob reader, carol writer, anyone reader */
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"anyone\",\"value\":\"reader\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"writer\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"}]",
		 u.cid, u.bid);
	cJSON *ans = t_api(s, "PATCH", p, u.a, ops, 200);
	bool b_first = strcmp(u.bid, u.cid) < 0;
	cJSON *three[] = {perm(key, u.aid, "owner", u.aid),
			  b_first ? perm(key, u.bid, "reader", u.aid) : perm(key, u.cid, "writer", u.aid),
			  b_first ? perm(key, u.cid, "writer", u.aid) : perm(key, u.bid, "reader", u.aid),
			  perm(key, "anyone", "reader", u.aid)};
	want = perm_list(three, 4);
	t_assert_json(ans, want, "PATCH users: the list after");
	cJSON_Delete(ans);
	expect_users(s, u.b, key, want, "GET users as a reader");
	cJSON_Delete(want);
	cJSON *f = get_file(s, u.a, key);
	cJSON *wp = cJSON_CreateObject();
	cJSON_AddStringToObject(wp, u.bid, "reader");
	cJSON_AddStringToObject(wp, u.cid, "writer");
	cJSON_AddStringToObject(wp, "anyone", "reader");
	t_assert_json(member(f, "permissions"), wp, "the file's permissions");
	cJSON_Delete(wp);
	cJSON_Delete(f);

	/* a writer may give and take reader only */
	t_file_grant(s, u.c, key, did, "reader");
	cJSON *got = t_api(s, "GET", p, u.a, NULL, 200);
	const cJSON *it;
	bool found = false;
	cJSON_ArrayForEach(it, member(got, "items"))
	{
		if (!strcmp(t_json_str(it, "id"), did)) {
			cJSON *w = perm(key, did, "reader", u.cid);
			t_assert_json(it, w, "a grant given by a writer");
			cJSON_Delete(w);
			found = true;
		}
	}
	cJSON_Delete(got);
	if (!found)
		fail_msg("dave's grant is not listed");
	char one[512];
	snprintf(one, sizeof(one), "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"writer\"}]",
		 did);
	expect_error(s, "PATCH", p, u.c, one, 403, MAY_NOT);
	snprintf(one, sizeof(one), "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"commenter\"}]",
		 did);
	expect_error(s, "PATCH", p, u.c, one, 403, MAY_NOT);
	snprintf(one, sizeof(one), "[{\"op\":\"remove\",\"type\":\"user\",\"id\":\"%s\"}]", u.cid);
	expect_error(s, "PATCH", p, u.c, one, 403, MAY_NOT); /* a writer's grant */
	t_file_grant(s, u.c, key, did, NULL); /* a reader grant: the writer may take it */
	t_file_grant(s, u.a, key, "anyone", NULL);
	t_file_grant(s, u.c, key, "anyone", "reader"); /* anyone as reader: so may a writer */
	t_file_grant(s, u.c, key, "anyone", NULL);
	snprintf(one, sizeof(one), "[{\"op\":\"add\",\"type\":\"anyone\",\"value\":\"writer\"}]");
	expect_error(s, "PATCH", p, u.c, one, 403, MAY_NOT);
	cJSON *two[] = {perm(key, u.aid, "owner", u.aid),
			b_first ? perm(key, u.bid, "reader", u.aid) : perm(key, u.cid, "writer", u.aid),
			b_first ? perm(key, u.cid, "writer", u.aid) : perm(key, u.bid, "reader", u.aid)};
	want = perm_list(two, 3);
	expect_users(s, u.a, key, want, "GET users after the writer's changes");
	/* a reader may not share; a stranger sees nothing */
	snprintf(one, sizeof(one), "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"}]",
		 did);
	expect_error(s, "PATCH", p, u.b, one, 403, MAY_NOT);
	expect_error(s, "PATCH", p, dave, one, 404, NOT_FOUND);
	expect_error(s, "GET", p, dave, NULL, 404, NOT_FOUND);
	expect_error(s, "PATCH", p, NULL, one, 401, AUTH_REQUIRED);
	expect_error(s, "PATCH", "/files/no-such-key/users", u.a, one, 404, NOT_FOUND);
	/* an unknown user; the owner; all checked before any is applied */
	expect_error(s, "PATCH", p, u.a,
		     "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"nobody\",\"value\":\"reader\"}]",
		     400, "no such user: nobody");
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"nobody\",\"value\":\"reader\"}]",
		 did);
	expect_error(s, "PATCH", p, u.a, ops, 400, "no such user: nobody");
	expect_users(s, u.a, key, want, "GET users after [add dave, add nobody]: checked whole");
	snprintf(one, sizeof(one), "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"}]",
		 u.aid);
	expect_error(s, "PATCH", p, u.a, one, 400, "the owner's permissions cannot change");
	snprintf(one, sizeof(one), "[{\"op\":\"remove\",\"type\":\"user\",\"id\":\"%s\"}]", u.aid);
	expect_error(s, "PATCH", p, u.a, one, 400, "the owner's permissions cannot change");
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"},"
		 "{\"op\":\"remove\",\"type\":\"user\",\"id\":\"%s\"}]",
		 did, u.aid);
	expect_error(s, "PATCH", p, u.a, ops, 400, "the owner's permissions cannot change");
	expect_users(s, u.a, key, want, "GET users after [add dave, remove the owner]: checked whole");
	/* a writer's reader grant before one it may not give */
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"writer\"}]",
		 did, did);
	expect_error(s, "PATCH", p, u.c, ops, 403, MAY_NOT);
	expect_users(s, u.a, key, want, "GET users after a writer's [add reader, add writer]: checked whole");
	static const char *const bad_ops[] = {
		"[{\"op\":\"grant\",\"type\":\"anyone\",\"value\":\"reader\"}]",
		"[{\"op\":\"add\",\"value\":\"reader\"}]",
		"[{\"op\":\"add\",\"type\":\"group\",\"id\":\"x\",\"value\":\"reader\"}]",
		"[{\"op\":\"add\",\"type\":\"user\",\"value\":\"reader\"}]",
		"[{\"op\":\"add\",\"type\":\"anyone\",\"value\":\"admin\"}]",
		"[{\"op\":\"add\",\"type\":\"anyone\",\"value\":\"owner\"}]",
		"[{\"op\":\"add\",\"type\":\"anyone\"}]",
		"[{\"op\":\"remove\",\"type\":\"user\"}]",
		"[{\"type\":\"anyone\",\"value\":\"reader\"}]",
		"[5]",
	};
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++)
		expect_error_prefix(s, "PATCH", p, u.a, bad_ops[i], 400,
				    "invalid permission operation: ");
	expect_error_prefix(s, "PATCH", p, u.a, "{\"op\":\"add\"}", 400, "invalid ");
	expect_error_prefix(s, "PATCH", p, u.a, "nope", 400, "invalid JSON body: expected ");
	/* none of that changed anything; removing what was never given is no error */
	expect_users(s, u.a, key, want, "GET users after the refusals");
	snprintf(one, sizeof(one), "[{\"op\":\"remove\",\"type\":\"user\",\"id\":\"%s\"}]", did);
	ans = t_api(s, "PATCH", p, u.a, one, 200);
	t_assert_json(ans, want, "removing a grant never given");
	cJSON_Delete(ans);
	cJSON_Delete(want);
	/* applied in order; a role changes */
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"writer\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"commenter\"},"
		 "{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"writer\"},"
		 "{\"op\":\"remove\",\"type\":\"user\",\"id\":\"%s\"}]",
		 did, did, u.bid, u.cid);
	cJSON_Delete(t_api(s, "PATCH", p, u.a, ops, 200));
	f = get_file(s, u.a, key);
	wp = cJSON_CreateObject();
	cJSON_AddStringToObject(wp, u.bid, "writer");
	cJSON_AddStringToObject(wp, did, "commenter");
	t_assert_json(member(f, "permissions"), wp, "permissions after the ops in order");
	cJSON_Delete(wp);
	cJSON_Delete(f);
	/* a commenter reads, may not change; carol lost sight of it */
	cJSON_Delete(get_file(s, dave, key));
	expect_error(s, "PATCH", fpath(p, key, NULL), dave,
		     "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"d\"}]", 403, MAY_NOT);
	expect_error(s, "GET", p, u.c, NULL, 404, NOT_FOUND);
	t_passed(state);
}

/* /file/... is /files/... for every route. */
static void test_alias(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	cJSON *f = t_api(s, "POST", "/file", u.a, "{\"name\":\"al.txt\",\"id\":\"al\"}", 201);
	check_file_shape(f, "POST /file");
	cJSON *g = t_api(s, "GET", "/file/al", u.a, NULL, 200);
	t_assert_json(g, f, "GET /file/<key>");
	cJSON_Delete(g);
	cJSON_Delete(f);
	expect_list(s, u.a, "", "al", "");
	g = t_api(s, "GET", "/file?limit=5", u.a, NULL, 200);
	if (cJSON_GetArraySize(member(g, "items")) != 1)
		fail_msg("GET /file: want the one file");
	cJSON_Delete(g);
	static const char ren[] = "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b.txt\"}]";
	cJSON *ans = t_api(s, "PATCH", "/file/al", u.a, ren, 200);
	free(check_patch_answer(ans, "al", ren, "PATCH /file/<key>"));
	cJSON_Delete(ans);
	t_http_response r;
	req(s, "PUT", "/file/al?alt=media", u.a, NULL, "{\"n\":1}", 7, &r);
	if (r.status != 200)
		fail_msg("PUT /file/<key>?alt=media: %d, want 200", r.status);
	t_http_free(&r);
	expect_media(s, u.a, "al", "{\"n\":1}", 7);
	req(s, "GET", "/file/al?alt=media", u.a, NULL, NULL, 0, &r);
	if (r.status != 200 || r.body_len != 7 || memcmp(r.body, "{\"n\":1}", 7))
		fail_msg("GET /file/<key>?alt=media: %d \"%s\", want 200 {\"n\":1}", r.status, r.body);
	t_http_free(&r);
	static const char inc[] = "[{\"op\":\"replace\",\"path\":\"/n\",\"value\":2}]";
	cJSON_Delete(t_api(s, "PATCH", "/file/al?alt=media", u.a, inc, 200));
	expect_media(s, u.a, "al", "{\"n\":2}", 7);
	char ops[256];
	snprintf(ops, sizeof(ops),
		 "[{\"op\":\"add\",\"type\":\"user\",\"id\":\"%s\",\"value\":\"reader\"}]", u.bid);
	cJSON *a1 = t_api(s, "PATCH", "/file/al/users", u.a, ops, 200);
	cJSON *a2 = t_api(s, "GET", "/file/al/users", u.a, NULL, 200);
	t_assert_json(a2, a1, "GET /file/<key>/users");
	if (cJSON_GetArraySize(member(a2, "items")) != 2)
		fail_msg("GET /file/<key>/users: want the owner and bob");
	cJSON_Delete(a1);
	cJSON_Delete(a2);
	cJSON *rv = t_api(s, "GET", "/file/al/revisions", u.b, NULL, 200);
	if (cJSON_GetArraySize(member(rv, "items")) != 2)
		fail_msg("GET /file/<key>/revisions: want 2 revisions (PUT, PATCH)");
	cJSON_Delete(rv);
	cJSON_Delete(t_api(s, "DELETE", "/file/al?alt=media", u.a, NULL, 204));
	expect_error(s, "GET", "/file/al?alt=media", u.a, NULL, 404, NO_CONTENT);
	cJSON_Delete(t_api(s, "DELETE", "/file/al", u.a, NULL, 204));
	expect_error(s, "GET", "/file/al", u.b, NULL, 404, NOT_FOUND);
	expect_error(s, "GET", "/file/al", NULL, NULL, 401, AUTH_REQUIRED);
	t_passed(state);
}

/* Every route needs a session: 401 without one, or with a token that is
 * not a session. */
static void test_needs_session(void **state)
{
	t_server *s = t_start(state, NULL);
	people u;
	three_users(s, &u);
	char key[T_ID_MAX];
	t_file_create(s, u.a, "{\"name\":\"x\",\"media\":{}}", key);
	t_file_grant(s, u.a, key, "anyone", "reader"); /* even a public node */
	struct route {
		const char *method, *suffix, *body;
	};
	static const route routes[] = {
		{"GET", NULL, NULL},
		{"POST", NULL, "{\"name\":\"y\"}"},
		{"GET", "", NULL},
		{"PATCH", "", "[]"},
		{"DELETE", "", NULL},
		{"GET", "?alt=media", NULL},
		{"HEAD", "?alt=media", NULL},
		{"PUT", "?alt=media", "{}"},
		{"PATCH", "?alt=media", "[]"},
		{"DELETE", "?alt=media", NULL},
		{"GET", "/users", NULL},
		{"PATCH", "/users", "[]"},
		{"GET", "/revisions", NULL},
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char p[PATH_MAX_];
		if (routes[i].suffix)
			fpath(p, key, routes[i].suffix);
		else
			snprintf(p, sizeof(p), "/files");
		static const char *const auths[] = {NULL, "Authorization: Bearer not-a-session\r\n"};
		for (int a = 0; a < 2; a++) {
			t_http_response r;
			req_json(s, routes[i].method, p, auths[a], routes[i].body, &r);
			if (!strcmp(routes[i].method, "HEAD")) {
				if (r.status != 401)
					fail_msg("HEAD %s without a session: %d, want 401", p, r.status);
				t_http_free(&r);
				continue;
			}
			char why[1200];
			int rc = t_check_error(&r, 401, a ? BAD_SESSION : AUTH_REQUIRED, why, sizeof(why));
			t_http_free(&r);
			if (rc)
				fail_msg("%s %s: %s", routes[i].method, p, why);
		}
	}
	/* nothing changed */
	expect_list(s, u.a, "", key, "");
	expect_media(s, u.a, key, "{}", 2);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_create),
		T_TEST(test_create_with_media),
		T_TEST(test_create_errors),
		T_TEST(test_get),
		T_TEST(test_list),
		T_TEST(test_list_paging),
		T_TEST(test_patch_and_revert),
		T_TEST(test_patch_errors),
		T_TEST(test_delete),
		T_TEST(test_media_put_get),
		T_TEST(test_media_ranges),
		T_TEST(test_media_put_limits),
		T_TEST(test_media_big),
		T_TEST(test_media_patch),
		T_TEST(test_media_patch_too_large),
		T_TEST(test_media_delete),
		T_TEST(test_revisions),
		T_TEST(test_revisions_keep),
		T_TEST(test_media_quota),
		T_TEST(test_users),
		T_TEST(test_alias),
		T_TEST(test_needs_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
