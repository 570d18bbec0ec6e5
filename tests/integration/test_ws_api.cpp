/* test_ws_api.cpp: the /ws WebSocket of protocol 1 (project and file
 * actions and their broadcasts) against the real cubbyd ($CUBBYD, else
 * build/cubbyd), to the letter of docs/projects-files.md, section "/ws":
 * the answer of each of the sixteen actions in its exact shape; every
 * error of the page's table that a client can provoke, with the
 * document's action name, the uuid rule and the exact message;
 * unsupported events and actions; what one user sees of another's
 * projects and files; and who receives the users, list_update,
 * project_update and file_update broadcasts, also for a file uploaded
 * through /upload. Files are made through /upload, before the /ws
 * clients connect unless the upload's broadcast is what a test checks.
 * Not provoked here: the rows that need a grant or a public node (no
 * endpoint gives one yet), a full quota or disk, or a failing disk.
 * Every test starts its own server; a failing test prints the server's
 * log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "support/support.h"

#define AUTH_MAX 512    /* an "Authorization: ...\r\n" header */
#define TOKEN_MAX 256
#define UUID_MAX 64     /* a uuid of the server (36) or of a test (at most 37) */
#define TEXT_MAX 1024   /* a message quoted in a failure */
#define QUIET_MS 300    /* how long "nothing arrives" waits */
#define UUID_LEN 36     /* file_load_thumbnail's uuid field */
#define TIME_SLACK_MS 2000
#define PASSWORD "secret pass"
/* the longest client uuid (36 bytes) and one byte more */
#define LONGEST_UUID "abcdefghij-ABCDEFGHIJ-0123456789._-Z"
#define TOO_LONG_UUID LONGEST_UUID "9"

/* The smallest valid PNG: one transparent pixel. */
static const unsigned char PNG_1PX[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
	0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
	0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
	0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
	0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* A one-pixel GIF, the thumbnail that file_save sets. */
static const unsigned char GIF_1PX[] = {
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
	0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

/* The uuid actions and the action name of their error form. */
struct named_action {
	const char *action, *error_name;
};
static const named_action PROJECT_UUID_ACTIONS[] = {
	{"project_load", "project_load"},
	{"project_delete", "project_delete"},
	{"project_recover", "project_trash_recover"},
	{"project_trash_delete", "project_trash_delete"},
	{"project_duplicate", "project_duplicate"},
};
static const named_action FILE_UUID_ACTIONS[] = {
	{"file_load_meta", "file_load"},
	{"file_load_thumbnail", "file_load_thumbnail"},
	{"file_delete", "file_delete"},
	{"file_recover", "file_trash_recover"},
	{"file_trash_delete", "file_trash_delete"},
};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Timestamps the server gives must not be older than this (wall clock,
 * ms), set when a test starts its server. */
static int64_t g_started_ms;

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static t_server *start(void **state, const char *extra_conf)
{
	g_started_ms = wall_ms() - TIME_SLACK_MS;
	return t_start(state, extra_conf);
}

/* ---- data and digests ---- */

/* len pseudo-random bytes from seed (xorshift32) into p. */
static void fill(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* Lowercase hex MD5 of p into out (33 bytes). */
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

/* ---- accounts ---- */

/* {"user":user,"pass":PASSWORD} posted to path; the status, the answer
 * in *j. */
static int post_creds(const t_server *s, const char *path, const char *headers, const char *user,
		      cJSON **j)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", user);
	cJSON_AddStringToObject(body, "pass", PASSWORD);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	int status = t_http_post_json(s->http_port, path, headers, text, j);
	cJSON_free(text);
	return status;
}

/* Creates user (password PASSWORD) with the admin's credentials, logs it
 * in and makes the bearer header of that session into auth (AUTH_MAX). */
static void add_user(const t_server *s, const char *user, char *auth)
{
	char basic[AUTH_MAX];
	t_basic_header("admin", s->password, basic, sizeof(basic));
	cJSON *j = NULL;
	int status = post_creds(s, "/api/users", basic, user, &j);
	cJSON_Delete(j);
	if (status != 201)
		fail_msg("creating user %s: status %d, want 201", user, status);
	j = NULL;
	status = post_creds(s, "/api/login", NULL, user, &j);
	const char *token = t_json_str(j, "token");
	if (status != 200 || !token || !*token || strlen(token) >= TOKEN_MAX) {
		cJSON_Delete(j);
		fail_msg("login of %s: status %d, want 200 with a token", user, status);
	}
	t_bearer_header(token, auth, AUTH_MAX);
	cJSON_Delete(j);
}

/* ---- JSON ---- */

/* JSON the test wrote itself; fails on a typo. Caller deletes. */
static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("the test's own JSON does not parse: %s", text);
	return j;
}

static void json_text(const cJSON *j, char *out, size_t n)
{
	char *t = j ? cJSON_PrintUnformatted(j) : NULL;
	snprintf(out, n, "%s", t ? t : "(nothing)");
	cJSON_free(t);
}

static bool is_str(const cJSON *j, const char *key, const char *want)
{
	const char *v = t_json_str(j, key);
	return v && !strcmp(v, want);
}

/* The parsed JSON text with its "uuid" member set to uuid. */
static cJSON *with_uuid(const char *text, const char *uuid)
{
	cJSON *j = parse(text);
	cJSON_DeleteItemFromObjectCaseSensitive(j, "uuid");
	cJSON_AddStringToObject(j, "uuid", uuid);
	return j;
}

/* Fails unless got equals want (member order aside); deletes want. */
static void assert_json_equal(const cJSON *got, cJSON *want, const char *what)
{
	if (cJSON_Compare(got, want, true)) {
		cJSON_Delete(want);
		return;
	}
	char g[TEXT_MAX], w[TEXT_MAX];
	json_text(got, g, sizeof(g));
	json_text(want, w, sizeof(w));
	cJSON_Delete(want);
	fail_msg("%s: got %s, want %s", what, g, w);
}

/* Fails unless uuid is a UUID v4 (8-4-4-4-12 hex digits, version 4,
 * variant 10xx). */
static void assert_uuid_v4(const char *uuid)
{
	bool ok = strlen(uuid) == 36 && uuid[14] == '4' && strchr("89abAB", uuid[19]);
	for (int i = 0; ok && i < 36; i++)
		ok = (i == 8 || i == 13 || i == 18 || i == 23) ? uuid[i] == '-'
							   : isxdigit((unsigned char)uuid[i]) != 0;
	if (!ok)
		fail_msg("\"%s\" is not a UUID v4", uuid);
}

/* ---- /ws clients and their messages ---- */

struct client {
	t_ws ws;
	const char *label; /* names the connection in failure messages */
};

/* Upgrades to path with auth; fails unless 101. */
static void ws_open(const t_server *s, const char *path, const char *auth, const char *label,
		    client *c)
{
	memset(c, 0, sizeof(*c));
	c->label = label;
	if (t_ws_connect(&c->ws, s->http_port, path, auth))
		fail_msg("%s: upgrade to %s answered %d, want 101", label, path, c->ws.status);
}

/* What t_ws_recv() returned, for a failure message. */
static void describe(int op, const char *data, size_t len, int code, char *out, size_t n)
{
	if (op == 1)
		snprintf(out, n, "text %.*s", (int)(len > 600 ? 600 : len), data);
	else if (op == 2)
		snprintf(out, n, "a binary message of %zu bytes", len);
	else if (op == 8)
		snprintf(out, n, "close %d", code);
	else if (op == 0)
		snprintf(out, n, "the end of the connection");
	else
		snprintf(out, n, "nothing (timeout)");
}

/* The next message of c if it is a text message holding a JSON object
 * (caller deletes), else NULL and what came instead in why. */
static cJSON *try_recv_json(client *c, char *why, size_t n)
{
	char *data = NULL;
	size_t len = 0;
	int code = 0;
	int op = t_ws_recv(&c->ws, &data, &len, &code, T_TIMEOUT_MS);
	cJSON *j = op == 1 ? cJSON_ParseWithLength(data, len) : NULL;
	if (!cJSON_IsObject(j)) {
		describe(op, data, len, code, why, n);
		cJSON_Delete(j);
		j = NULL;
	}
	free(data);
	return j;
}

/* The next message of c, which must be a text message holding a JSON
 * object. Caller deletes. */
static cJSON *recv_json(client *c)
{
	char why[TEXT_MAX];
	cJSON *j = try_recv_json(c, why, sizeof(why));
	if (!j)
		fail_msg("%s: want a JSON object, got %s", c->label, why);
	return j;
}

/* Fails the test with what was wanted and the message j (deleted). */
static void fail_json(const client *c, cJSON *j, const char *fmt, ...)
{
	char what[512], text[TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	json_text(j, text, sizeof(text));
	cJSON_Delete(j);
	fail_msg("%s: want %s, got %s", c->label, what, text);
}

/* The next message of c is exactly the JSON text want. */
static void expect_exact(client *c, const char *want)
{
	cJSON *j = recv_json(c);
	cJSON *w = parse(want);
	bool same = cJSON_Compare(j, w, true);
	cJSON_Delete(w);
	if (!same)
		fail_json(c, j, "%s", want);
	cJSON_Delete(j);
}

static void expect_next_users(client *c, int n)
{
	char want[64];
	snprintf(want, sizeof(want), "{\"type\":\"users\",\"value\":%d}", n);
	expect_exact(c, want);
}

/* Reads c's messages until {"type":"users","value":n}. Users messages
 * with another count (connects and disconnects still being announced)
 * are skipped; anything else fails. */
static void expect_users(client *c, int n)
{
	for (;;) {
		cJSON *j = recv_json(c);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
		if (!is_str(j, "type", "users") || !cJSON_IsNumber(v) || cJSON_GetArraySize(j) != 2)
			fail_json(c, j, "{\"type\":\"users\",\"value\":%d}", n);
		bool done = v->valuedouble == n;
		cJSON_Delete(j);
		if (done)
			return;
	}
}

/* The next message of c must be {"type":type,"value":...} (those two
 * members); returns it (caller deletes). */
static cJSON *expect_type(client *c, const char *type)
{
	cJSON *j = recv_json(c);
	if (!is_str(j, "type", type) || !cJSON_HasObjectItem(j, "value") || cJSON_GetArraySize(j) != 2)
		fail_json(c, j, "{\"type\":\"%s\",\"value\":...}", type);
	return j;
}

/* expect_type()'s value, detached (caller deletes). */
static cJSON *answer_value(client *c, const char *type)
{
	cJSON *j = expect_type(c, type);
	cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(j, "value");
	cJSON_Delete(j);
	return v;
}

/* The next message of c must be {"type":type,"value":value}. */
static void expect_answer(client *c, const char *type, const char *value)
{
	cJSON *j = expect_type(c, type);
	if (!is_str(j, "value", value))
		fail_json(c, j, "{\"type\":\"%s\",\"value\":\"%s\"}", type, value);
	cJSON_Delete(j);
}

/* The next message of c must be exactly {"type":"error","action":action,
 * "uuid":uuid,"value":message}, without "uuid" when uuid is NULL. */
static void expect_error(client *c, const char *action, const char *uuid, const char *message)
{
	cJSON *j = recv_json(c);
	bool ok = is_str(j, "type", "error") && is_str(j, "action", action) &&
		  is_str(j, "value", message) &&
		  (uuid ? is_str(j, "uuid", uuid) : !cJSON_HasObjectItem(j, "uuid")) &&
		  cJSON_GetArraySize(j) == (uuid ? 4 : 3);
	if (!ok)
		fail_json(c, j, "{\"type\":\"error\",\"action\":\"%s\",%s%s%s\"value\":\"%s\"}", action,
			  uuid ? "\"uuid\":\"" : "", uuid ? uuid : "", uuid ? "\"," : "", message);
	cJSON_Delete(j);
}

/* The next message of c must be exactly {"type":"error","value":message}. */
static void expect_event_error(client *c, const char *message)
{
	cJSON *j = recv_json(c);
	if (!is_str(j, "type", "error") || !is_str(j, "value", message) || cJSON_GetArraySize(j) != 2)
		fail_json(c, j, "{\"type\":\"error\",\"value\":\"%s\"}", message);
	cJSON_Delete(j);
}

/* No message arrives on c within ms. */
static void expect_nothing(client *c, int ms)
{
	char *data = NULL, why[TEXT_MAX];
	size_t len = 0;
	int code = 0;
	int op = t_ws_recv(&c->ws, &data, &len, &code, ms);
	if (op != -1) {
		describe(op, data, len, code, why, sizeof(why));
		free(data);
		fail_msg("%s: want no message, got %s", c->label, why);
	}
}

/* After QUIET_MS, none of the n clients has received anything. */
static void expect_quiet(client *const *cs, int n)
{
	t_sleep_ms(QUIET_MS);
	for (int i = 0; i < n; i++)
		expect_nothing(cs[i], 0);
}

/* Connects n /ws clients in turn (cs[i] for auths[i], named labels[i]),
 * each after every earlier one has been told the new count: the new
 * client and all before it get {"type":"users","value":i+1}. */
static void connect_clients(const t_server *s, client *cs, const char *const *auths,
			    const char *const *labels, int n)
{
	for (int i = 0; i < n; i++) {
		ws_open(s, "/ws", auths[i], labels[i], &cs[i]);
		for (int k = 0; k <= i; k++)
			expect_users(&cs[k], i + 1);
	}
}

static void close_clients(client *cs, int n)
{
	for (int i = 0; i < n; i++)
		t_ws_close(&cs[i].ws);
}

/* A user and its one /ws client, the only one connected. */
static void user_client(const t_server *s, const char *user, char *auth, client *c)
{
	add_user(s, user, auth);
	ws_open(s, "/ws", auth, user, c);
	expect_users(c, 1);
}

/* ---- broadcasts ---- */

struct bcast {
	const char *type, *value;
};

/* The next n messages of c are the broadcasts want[0..n), each exactly
 * {"type","value"}, in any order. */
static void expect_broadcasts(client *c, const bcast *want, int n)
{
	bool seen[4] = {false, false, false, false};
	char list[512] = "";
	for (int k = 0; k < n; k++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s{\"type\":\"%s\",\"value\":\"%s\"}",
			 k ? " and " : "", want[k].type, want[k].value);
	for (int i = 0; i < n; i++) {
		char why[TEXT_MAX];
		cJSON *j = try_recv_json(c, why, sizeof(why));
		if (!j)
			fail_msg("%s: want %s in any order; after %d of them got %s", c->label, list, i, why);
		int k = 0;
		while (k < n && (seen[k] || !is_str(j, "type", want[k].type) ||
				 !is_str(j, "value", want[k].value) || cJSON_GetArraySize(j) != 2))
			k++;
		if (k == n)
			fail_json(c, j, "%s in any order (%d of them seen)", list, i);
		seen[k] = true;
		cJSON_Delete(j);
	}
}

/* c is told of one change: list_update of list and of trash, and
 * update_type of uuid, each when not NULL, in any order. */
static void expect_change(client *c, const char *list, const char *trash, const char *update_type,
			  const char *uuid)
{
	bcast want[3];
	int n = 0;
	if (list)
		want[n++] = {"list_update", list};
	if (trash)
		want[n++] = {"list_update", trash};
	if (update_type)
		want[n++] = {update_type, uuid};
	expect_broadcasts(c, want, n);
}

/* ---- requests ---- */

static void send_text_n(client *c, const char *p, size_t n)
{
	if (t_ws_send(&c->ws, 1, p, n, true))
		fail_msg("%s: sending a text message of %zu bytes failed", c->label, n);
}

static void send_text(client *c, const char *text)
{
	send_text_n(c, text, strlen(text));
}

/* {"action":action[,"value":value]}; takes value (may be NULL). */
static void send_action(client *c, const char *action, cJSON *value)
{
	if (t_ws_send_action(&c->ws, action, value))
		fail_msg("%s: sending {\"action\":\"%s\"} failed", c->label, action);
}

/* An action whose value is uuid (no value when uuid is NULL). */
static void send_uuid(client *c, const char *action, const char *uuid)
{
	send_action(c, action, uuid ? cJSON_CreateString(uuid) : NULL);
}

/* A uuid action that must answer {"type":action,"value":uuid}. */
static void uuid_action(client *c, const char *action, const char *uuid)
{
	send_uuid(c, action, uuid);
	expect_answer(c, action, uuid);
}

/* A uuid action that must fail with error_name, uuid and message. */
static void uuid_action_fails(client *c, const char *action, const char *error_name,
			      const char *uuid, const char *message)
{
	send_uuid(c, action, uuid);
	expect_error(c, error_name, uuid, message);
}

/* The string value of answer j (deleted) into out (UUID_MAX). */
static void take_value_str(client *c, cJSON *j, char *out)
{
	const char *v = t_json_str(j, "value");
	if (!v || !*v || strlen(v) >= UUID_MAX)
		fail_json(c, j, "a uuid string as value");
	snprintf(out, UUID_MAX, "%s", v);
	cJSON_Delete(j);
}

/* ---- projects ---- */

/* project_save of json (the text of an object), sent as that object or,
 * when as_string, as a string holding it; the answer's uuid into uuid. */
static void save_project_as(client *c, const char *json, bool as_string, char *uuid)
{
	send_action(c, "project_save", as_string ? cJSON_CreateString(json) : parse(json));
	take_value_str(c, expect_type(c, "project_save"), uuid);
}

static void save_project(client *c, const char *json, char *uuid)
{
	save_project_as(c, json, false, uuid);
}

/* project_save that must fail with message; its value is the JSON text
 * value, and the error carries uuid (or none when NULL). */
static void save_project_fails(client *c, const char *value, const char *uuid, const char *message)
{
	send_action(c, "project_save", parse(value));
	expect_error(c, "project_save", uuid, message);
}

/* project_load of uuid answers the saved JSON text with "uuid" set. */
static void check_project(client *c, const char *uuid, const char *saved)
{
	send_uuid(c, "project_load", uuid);
	cJSON *v = answer_value(c, "project");
	char what[128];
	snprintf(what, sizeof(what), "%s: project_load of %s", c->label, uuid);
	cJSON *want = with_uuid(saved, uuid);
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(want);
		cJSON_Delete(v);
		fail_msg("%s: not a JSON object", what);
	}
	assert_json_equal(v, want, what);
	cJSON_Delete(v);
}

/* ---- lists ---- */

/* One entry a list should have: the node's uuid and name. */
struct named {
	const char *uuid, *name;
};

/* The entry of uuid in list (an array of one-member objects), or NULL. */
static const cJSON *entry_of(const cJSON *list, const char *uuid)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, uuid);
		if (v)
			return v;
	}
	return NULL;
}

/* A time of the server (ms since the epoch) in j's member key: after
 * the test started and not in the future; its value. */
static int64_t check_time(const cJSON *j, const char *key, const char *what)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, key);
	int64_t now = wall_ms() + TIME_SLACK_MS;
	if (!cJSON_IsNumber(t) || t->valuedouble < (double)g_started_ms || t->valuedouble > (double)now)
		fail_msg("%s: \"%s\" is not a time in ms of this test", what, key);
	return (int64_t)t->valuedouble;
}

/* Fails unless j holds exactly the members keys[] (and n of them). */
static void check_members(const cJSON *j, const char *const *keys, int n, const char *what)
{
	char text[TEXT_MAX];
	bool ok = cJSON_GetArraySize(j) == n;
	for (int i = 0; ok && i < n; i++)
		ok = cJSON_HasObjectItem(j, keys[i]);
	if (!ok) {
		json_text(j, text, sizeof(text));
		fail_msg("%s: %s does not have exactly the members the doc gives", what, text);
	}
}

static const char *const PROJECT_ENTRY[] = {"name", "created", "modified"};
static const char *const FILE_ENTRY[] = {"name",    "type",     "size", "md5",
					 "created", "modified", "tags"};

/* The list action's answer: an array of one-member objects, each a uuid
 * holding the fields of a project list or a file list entry (the action
 * tells which). Caller deletes. */
static cJSON *get_list(client *c, const char *action)
{
	send_action(c, action, NULL);
	cJSON *list = answer_value(c, action);
	bool files = !strncmp(action, "file", 4);
	char text[TEXT_MAX], what[TEXT_MAX + 128];
	json_text(list, text, sizeof(text));
	snprintf(what, sizeof(what), "%s: %s %s", c->label, action, text);
	if (!cJSON_IsArray(list))
		fail_msg("%s: not an array", what);
	const cJSON *e;
	cJSON_ArrayForEach(e, list) {
		if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 1 || !cJSON_IsObject(e->child))
			fail_msg("%s: an entry is not {\"<uuid>\":{...}}", what);
		const cJSON *f = e->child;
		if (files)
			check_members(f, FILE_ENTRY, COUNT(FILE_ENTRY), what);
		else
			check_members(f, PROJECT_ENTRY, COUNT(PROJECT_ENTRY), what);
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "name")))
			fail_msg("%s: a name is not a string", what);
		if (check_time(f, "created", what) > check_time(f, "modified", what))
			fail_msg("%s: modified before created", what);
	}
	return list;
}

/* The list action answers exactly the n entries want (any order). */
static void expect_list(client *c, const char *action, const named *want, int n)
{
	cJSON *list = get_list(c, action);
	char text[TEXT_MAX];
	json_text(list, text, sizeof(text));
	if (cJSON_GetArraySize(list) != n) {
		cJSON_Delete(list);
		fail_msg("%s: %s has %d entries, want %d: %s", c->label, action,
			 cJSON_GetArraySize(list), n, text);
	}
	for (int i = 0; i < n; i++) {
		const cJSON *e = entry_of(list, want[i].uuid);
		if (!e || !is_str(e, "name", want[i].name)) {
			cJSON_Delete(list);
			fail_msg("%s: %s wants %s named \"%s\": %s", c->label, action, want[i].uuid,
				 want[i].name, text);
		}
	}
	cJSON_Delete(list);
}

static void expect_empty(client *c, const char *action)
{
	expect_list(c, action, NULL, 0);
}

/* ---- files ---- */

/* Uploads n bytes of data through /upload by the documented exchange:
 * as a new file called name or, when uuid is not NULL, as that file's
 * new content. */
static void upload(const t_server *s, const char *auth, const char *name, const char *uuid,
		   const void *data, size_t n)
{
	client u;
	ws_open(s, "/upload", auth, "upload", &u);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "name", name);
	cJSON_AddNumberToObject(v, "size", (double)n);
	if (uuid)
		cJSON_AddStringToObject(v, "uuid", uuid);
	send_action(&u, "upload", v);
	expect_exact(&u, "{\"ready\":true}");
	if (t_ws_send(&u.ws, 2, data, n, true))
		fail_msg("upload: sending %zu bytes failed", n);
	expect_exact(&u, "{\"ready\":true}");
	char md5[33];
	md5_hex(data, n, md5);
	send_action(&u, "finished", cJSON_CreateString(md5));
	expect_exact(&u, "{\"close\":true}");
	t_ws_close(&u.ws);
}

/* The uuid of the file called name in c's file_list into uuid. */
static void file_uuid(client *c, const char *name, char *uuid)
{
	cJSON *list = get_list(c, "file_list");
	const cJSON *e;
	cJSON_ArrayForEach(e, list) {
		if (is_str(e->child, "name", name) && strlen(e->child->string) < UUID_MAX) {
			snprintf(uuid, UUID_MAX, "%s", e->child->string);
			cJSON_Delete(list);
			return;
		}
	}
	cJSON_Delete(list);
	fail_msg("%s: no file named \"%s\" in file_list", c->label, name);
}

/* file_save of the JSON text fields with "uuid" set to uuid, sent as the
 * object or, when as_string, as a string holding it; must answer
 * {"type":"file_save","value":uuid}. */
static void save_file_as(client *c, const char *uuid, const char *fields, bool as_string)
{
	cJSON *j = with_uuid(fields, uuid);
	if (as_string) {
		char *text = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		j = cJSON_CreateString(text);
		cJSON_free(text);
	}
	send_action(c, "file_save", j);
	expect_answer(c, "file_save", uuid);
}

static void save_file(client *c, const char *uuid, const char *fields)
{
	save_file_as(c, uuid, fields, false);
}

/* file_save of fields (with uuid) must fail with message. */
static void save_file_fails(client *c, const char *uuid, const char *fields, const char *message)
{
	send_action(c, "file_save", with_uuid(fields, uuid));
	expect_error(c, "file_save", uuid, message);
}

/* file_load_meta of uuid: the value, an object with "uuid" that uuid.
 * Caller deletes. */
static cJSON *load_meta(client *c, const char *uuid)
{
	send_uuid(c, "file_load_meta", uuid);
	cJSON *v = answer_value(c, "file_load_meta");
	if (!cJSON_IsObject(v) || !is_str(v, "uuid", uuid)) {
		char text[TEXT_MAX];
		json_text(v, text, sizeof(text));
		cJSON_Delete(v);
		fail_msg("%s: file_load_meta of %s answered %s", c->label, uuid, text);
	}
	return v;
}

/* Fails unless the file fields of j (a list entry or a meta) are name,
 * type, size, md5 and tags (JSON text) and created/modified are times
 * of this test. */
static void check_file(const cJSON *j, const char *name, const char *type, size_t size,
		       const char *md5, const char *tags, const char *what)
{
	char text[TEXT_MAX];
	json_text(j, text, sizeof(text));
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(j, "size");
	cJSON *want_tags = parse(tags);
	bool tags_ok = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(j, "tags"), want_tags, true);
	cJSON_Delete(want_tags);
	if (!is_str(j, "name", name) || !is_str(j, "type", type) || !cJSON_IsNumber(sz) ||
	    sz->valuedouble != (double)size || !is_str(j, "md5", md5) || !tags_ok)
		fail_msg("%s: %s, want name \"%s\", type \"%s\", size %zu, md5 %s, tags %s", what, text,
			 name, type, size, md5, tags);
	check_time(j, "created", what);
	check_time(j, "modified", what);
}

/* The next message of c is file_load_thumbnail's answer for uuid: one
 * binary message, the uuid padded with spaces to 36 bytes, then img. */
static void expect_thumbnail(client *c, const char *uuid, const void *img, size_t n)
{
	char *data = NULL, why[TEXT_MAX], head[UUID_LEN + 1];
	size_t len = 0;
	int code = 0;
	int op = t_ws_recv(&c->ws, &data, &len, &code, T_TIMEOUT_MS);
	snprintf(head, sizeof(head), "%-36s", uuid);
	bool ok = op == 2 && len == UUID_LEN + n && !memcmp(data, head, UUID_LEN) &&
		  !memcmp(data + UUID_LEN, img, n);
	describe(op, data, len, code, why, sizeof(why));
	if (op == 2 && len >= UUID_LEN)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " starting \"%.36s\"", data);
	free(data);
	if (!ok)
		fail_msg("%s: want a binary message of \"%s\" and %zu image bytes, got %s", c->label,
			 head, n, why);
}

static void load_thumbnail(client *c, const char *uuid, const void *img, size_t n)
{
	send_uuid(c, "file_load_thumbnail", uuid);
	expect_thumbnail(c, uuid, img, n);
}

/* {"thumbnail":"<base64 of img>"} into out. */
static const char *thumbnail_field(const void *img, size_t n, char *out, size_t outsz)
{
	static char b64[8192];
	if (t_base64(img, n, b64, sizeof(b64)) < 0)
		fail_msg("thumbnail too large for the test's buffer");
	snprintf(out, outsz, "{\"thumbnail\":\"%s\"}", b64);
	return out;
}

/* ---- the session ---- */

/* The upgrade to /ws with headers is answered 401. */
static void expect_refused(const t_server *s, const char *headers)
{
	t_ws ws;
	memset(&ws, 0, sizeof(ws));
	int rc = t_ws_connect(&ws, s->http_port, "/ws", headers);
	if (!rc)
		t_ws_close(&ws);
	assert_int_equal(rc, -1);
	assert_int_equal(ws.status, 401);
}

static void test_needs_session(void **state)
{
	t_server *s = start(state, NULL);
	expect_refused(s, NULL);
	expect_refused(s, "Authorization: Bearer not-a-session\r\n");
	t_passed(state);
}

/* ---- projects ---- */

static void test_project_save_and_load(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], u1[UUID_MAX], u2[UUID_MAX], u3[UUID_MAX], u8[UUID_MAX], u[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);

	/* no uuid, an empty one and "null": a new UUID v4 each */
	const char *p1 = "{\"name\":\"First\",\"data\":{\"n\":[1,2.5,3],\"s\":\"x\",\"b\":false}}";
	const char *p2 = "{\"uuid\":\"\",\"name\":\"Empty uuid\"}";
	const char *p3 = "{\"uuid\":\"null\",\"name\":\"Null uuid\",\"z\":null}";
	save_project(&a, p1, u1);
	save_project(&a, p2, u2);
	save_project(&a, p3, u3);
	assert_uuid_v4(u1);
	assert_uuid_v4(u2);
	assert_uuid_v4(u3);
	assert_string_not_equal(u1, u2);
	assert_string_not_equal(u2, u3);
	assert_string_not_equal(u1, u3);
	check_project(&a, u1, p1);
	check_project(&a, u2, p2);
	check_project(&a, u3, p3);

	/* a client's uuid is kept: 1 to 36 of A-Z a-z 0-9 . _ - */
	const char *p4 = "{\"uuid\":\"my-proj_1.x\",\"name\":\"Mine\",\"n\":1}";
	const char *p5 = "{\"uuid\":\"Q\",\"name\":\"One letter\"}";
	const char *p6 = "{\"uuid\":\"" LONGEST_UUID "\",\"name\":\"Longest\"}";
	save_project(&a, p4, u);
	assert_string_equal(u, "my-proj_1.x");
	save_project(&a, p5, u);
	assert_string_equal(u, "Q");
	save_project(&a, p6, u);
	assert_string_equal(u, LONGEST_UUID);
	check_project(&a, "my-proj_1.x", p4);
	check_project(&a, "Q", p5);
	check_project(&a, LONGEST_UUID, p6);

	/* the value as a string holding the JSON */
	const char *p7 = "{\"uuid\":\"as-string\",\"name\":\"Sent as a string\",\"list\":[true,null,{}]}";
	save_project_as(&a, p7, true, u);
	assert_string_equal(u, "as-string");
	check_project(&a, "as-string", p7);
	const char *p8 = "{\"name\":\"String without uuid\"}";
	save_project_as(&a, p8, true, u8);
	assert_uuid_v4(u8);
	check_project(&a, u8, p8);

	/* saving again replaces the JSON: fields not sent are gone */
	const char *p4b = "{\"uuid\":\"my-proj_1.x\",\"name\":\"Mine, again\",\"other\":{\"k\":2}}";
	save_project(&a, p4b, u);
	assert_string_equal(u, "my-proj_1.x");
	check_project(&a, "my-proj_1.x", p4b);
	const char *p7b = "{\"uuid\":\"as-string\",\"replaced\":true}";
	save_project_as(&a, p7b, true, u);
	assert_string_equal(u, "as-string");
	check_project(&a, "as-string", p7b);

	const named all[] = {{u1, "First"}, {u2, "Empty uuid"}, {u3, "Null uuid"},
			     {"my-proj_1.x", "Mine, again"}, {"Q", "One letter"},
			     {LONGEST_UUID, "Longest"}, {"as-string", ""},
			     {u8, "String without uuid"}};
	expect_list(&a, "project_list", all, COUNT(all));
	t_ws_close(&a.ws);
	t_passed(state);
}

/* created and modified of project uuid in c's project_list. */
static void project_times(client *c, const char *uuid, int64_t *created, int64_t *modified)
{
	cJSON *list = get_list(c, "project_list");
	const cJSON *e = entry_of(list, uuid);
	*created = e ? check_time(e, "created", "project_list") : 0;
	*modified = e ? check_time(e, "modified", "project_list") : 0;
	cJSON_Delete(list);
	if (!e)
		fail_msg("%s: %s is not in project_list", c->label, uuid);
}

static void test_project_list(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], u1[UUID_MAX], u2[UUID_MAX], u3[UUID_MAX], u[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);
	expect_empty(&a, "project_list");
	expect_empty(&a, "project_trash_list");

	/* names need not be unique; no name lists as "" */
	save_project(&a, "{\"name\":\"Same\",\"v\":1}", u1);
	save_project(&a, "{\"name\":\"Same\",\"v\":2}", u2);
	save_project(&a, "{\"v\":3}", u3);
	const named three[] = {{u1, "Same"}, {u2, "Same"}, {u3, ""}};
	expect_list(&a, "project_list", three, 3);
	expect_empty(&a, "project_trash_list");

	/* a later save keeps created, moves modified on, renames */
	int64_t created, modified, created2, modified2;
	project_times(&a, u1, &created, &modified);
	t_sleep_ms(20);
	char again[256];
	snprintf(again, sizeof(again), "{\"uuid\":\"%s\",\"name\":\"Renamed\"}", u1);
	save_project(&a, again, u);
	assert_string_equal(u, u1);
	const named renamed[] = {{u1, "Renamed"}, {u2, "Same"}, {u3, ""}};
	expect_list(&a, "project_list", renamed, 3);
	project_times(&a, u1, &created2, &modified2);
	assert_true(created2 == created);
	assert_true(modified2 > modified);
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_project_trash_cycle(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], p[UUID_MAX], q[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);
	const char *pj = "{\"name\":\"Trashy\",\"k\":[1]}";
	save_project(&a, pj, p);
	save_project(&a, "{\"name\":\"Stays\"}", q);
	const named both[] = {{p, "Trashy"}, {q, "Stays"}}, trashed[] = {{p, "Trashy"}},
		    stays[] = {{q, "Stays"}};

	/* to the trash: out of the list, in the trash list, not loadable */
	uuid_action(&a, "project_delete", p);
	expect_list(&a, "project_list", stays, 1);
	expect_list(&a, "project_trash_list", trashed, 1);
	uuid_action_fails(&a, "project_load", "project_load", p, "project not found");

	/* recovered: as it was */
	uuid_action(&a, "project_recover", p);
	expect_list(&a, "project_list", both, 2);
	expect_empty(&a, "project_trash_list");
	check_project(&a, p, pj);

	/* deleted for good: gone from both lists and not recoverable */
	uuid_action(&a, "project_delete", p);
	uuid_action(&a, "project_trash_delete", p);
	expect_list(&a, "project_list", stays, 1);
	expect_empty(&a, "project_trash_list");
	uuid_action_fails(&a, "project_load", "project_load", p, "project not found");
	uuid_action_fails(&a, "project_recover", "project_trash_recover", p, "project not found");
	uuid_action_fails(&a, "project_trash_delete", "project_trash_delete", p, "project not found");
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_project_duplicate(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], u[UUID_MAX], copy[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);
	const char *orig =
		"{\"uuid\":\"orig-1\",\"name\":\"Plan\",\"layers\":[{\"id\":1,\"on\":true}],\"zoom\":1.5}";
	save_project(&a, orig, u);

	send_uuid(&a, "project_duplicate", "orig-1");
	cJSON *v = answer_value(&a, "project_duplicate");
	const char *n = t_json_str(v, "new_uuid");
	bool ok = cJSON_IsObject(v) && cJSON_GetArraySize(v) == 2 && is_str(v, "uuid", "orig-1") && n &&
		  strlen(n) < UUID_MAX;
	if (ok)
		snprintf(copy, sizeof(copy), "%s", n);
	cJSON_Delete(v);
	if (!ok)
		fail_msg("project_duplicate's value is not {\"uuid\":\"orig-1\",\"new_uuid\":\"...\"}");
	assert_uuid_v4(copy);

	/* the same JSON with the new uuid and "<name> (copy)"; the original as it was */
	check_project(&a, copy,
		      "{\"name\":\"Plan (copy)\",\"layers\":[{\"id\":1,\"on\":true}],\"zoom\":1.5}");
	check_project(&a, "orig-1", orig);
	const named both[] = {{"orig-1", "Plan"}, {copy, "Plan (copy)"}};
	expect_list(&a, "project_list", both, 2);
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_project_errors(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], live[UUID_MAX], gone[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);
	const char *lj = "{\"uuid\":\"live-one\",\"name\":\"Live\"}";
	save_project(&a, lj, live);
	save_project(&a, "{\"uuid\":\"gone-one\",\"name\":\"Gone\"}", gone);
	uuid_action(&a, "project_delete", gone);

	/* the uuid actions: no uuid string, an unknown uuid */
	for (int i = 0; i < COUNT(PROJECT_UUID_ACTIONS); i++) {
		const named_action *na = &PROJECT_UUID_ACTIONS[i];
		send_uuid(&a, na->action, NULL);
		expect_error(&a, na->error_name, NULL, "expected a project uuid");
		send_action(&a, na->action, cJSON_CreateNumber(7));
		expect_error(&a, na->error_name, NULL, "expected a project uuid");
		uuid_action_fails(&a, na->action, na->error_name, "no-such-project", "project not found");
	}

	/* in the trash: not found for load, delete, duplicate; save refused */
	uuid_action_fails(&a, "project_load", "project_load", gone, "project not found");
	uuid_action_fails(&a, "project_delete", "project_delete", gone, "project not found");
	uuid_action_fails(&a, "project_duplicate", "project_duplicate", gone, "project not found");
	save_project_fails(&a, "{\"uuid\":\"gone-one\",\"name\":\"Back?\"}", gone,
			   "project is in the trash");

	/* live: not in the trash */
	uuid_action_fails(&a, "project_recover", "project_trash_recover", live,
			  "project is not in the trash");
	uuid_action_fails(&a, "project_trash_delete", "project_trash_delete", live,
			  "project is not in the trash");

	/* project_save without an object */
	send_action(&a, "project_save", NULL);
	expect_error(&a, "project_save", NULL, "expected a project JSON object");
	const char *not_objects[] = {"42",      "[1,2]", "\"not json\"", "\"[1,2]\"",
				     "\"\\\"str\\\"\"", "null",  "true"};
	for (int i = 0; i < COUNT(not_objects); i++)
		save_project_fails(&a, not_objects[i], NULL, "expected a project JSON object");

	/* invalid uuids */
	const char *bad[] = {"a/b", ".", "..", "has space", "x\\\\y", "\\u00fcber", TOO_LONG_UUID};
	const char *bad_plain[] = {"a/b", ".", "..", "has space", "x\\y", "\xc3\xbc" "ber",
				   TOO_LONG_UUID};
	for (int i = 0; i < COUNT(bad); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{\"uuid\":\"%s\",\"name\":\"Bad\"}", bad[i]);
		save_project_fails(&a, json, bad_plain[i], "invalid project uuid");
	}

	/* nothing above changed or created anything */
	const named only[] = {{"live-one", "Live"}};
	const named trashed[] = {{"gone-one", "Gone"}};
	expect_list(&a, "project_list", only, 1);
	expect_list(&a, "project_trash_list", trashed, 1);
	check_project(&a, live, lj);
	t_ws_close(&a.ws);
	t_passed(state);
}

/* ---- files ---- */

static void test_file_list_and_meta(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], u_data[UUID_MAX], u_pic[UUID_MAX], md5_data[33], md5_pic[33];
	unsigned char data[1000];
	fill(data, sizeof(data), 1);
	md5_hex(data, sizeof(data), md5_data);
	md5_hex(PNG_1PX, sizeof(PNG_1PX), md5_pic);
	add_user(s, "alice", auth);
	upload(s, auth, "alpha.qqq", NULL, data, sizeof(data));
	upload(s, auth, "pic.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);

	file_uuid(&a, "alpha.qqq", u_data);
	file_uuid(&a, "pic.png", u_pic);
	assert_string_not_equal(u_data, u_pic);
	cJSON *list = get_list(&a, "file_list");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	check_file(entry_of(list, u_data), "alpha.qqq", "application/octet-stream", sizeof(data), md5_data,
		   "[]", "file_list alpha.qqq");
	check_file(entry_of(list, u_pic), "pic.png", "image/png", sizeof(PNG_1PX), md5_pic, "[]",
		   "file_list pic.png");
	cJSON_Delete(list);

	/* file_load_meta: uuid and the same fields, nothing else yet */
	static const char *const META[] = {"uuid", "name",    "type",     "size",
					   "md5",  "created", "modified", "tags"};
	cJSON *m = load_meta(&a, u_data);
	check_members(m, META, COUNT(META), "file_load_meta alpha.qqq");
	check_file(m, "alpha.qqq", "application/octet-stream", sizeof(data), md5_data, "[]",
		   "file_load_meta alpha.qqq");
	cJSON_Delete(m);
	m = load_meta(&a, u_pic);
	check_members(m, META, COUNT(META), "file_load_meta pic.png");
	check_file(m, "pic.png", "image/png", sizeof(PNG_1PX), md5_pic, "[]", "file_load_meta pic.png");
	cJSON_Delete(m);

	expect_empty(&a, "file_trash_list");
	expect_empty(&a, "project_list");
	t_ws_close(&a.ws);
	t_passed(state);
}

/* Fails unless the meta of uuid has field key equal to the JSON text
 * want, or (want NULL) no field key. */
static void check_meta_field(client *c, const char *uuid, const char *key, const char *want)
{
	cJSON *m = load_meta(c, uuid);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
	char text[TEXT_MAX];
	json_text(m, text, sizeof(text));
	cJSON *w = want ? parse(want) : NULL;
	bool ok = want ? cJSON_Compare(v, w, true) : v == NULL;
	cJSON_Delete(w);
	cJSON_Delete(m);
	if (!ok)
		fail_msg("%s: file_load_meta %s: want \"%s\" %s, got %s", c->label, uuid, key,
			 want ? want : "absent", text);
}

static void test_file_save(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], ua[UUID_MAX], ub[UUID_MAX], md5[33];
	unsigned char data[300];
	fill(data, sizeof(data), 2);
	md5_hex(data, sizeof(data), md5);
	add_user(s, "alice", auth);
	upload(s, auth, "alpha", NULL, data, 10);
	upload(s, auth, "beta", NULL, data, sizeof(data));
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "alpha", ua);
	file_uuid(&a, "beta", ub);

	/* description and tags are kept and returned */
	save_file(&a, ub, "{\"description\":\"the beta file\",\"tags\":[\"red\",\"green\"]}");
	check_meta_field(&a, ub, "description", "\"the beta file\"");
	check_meta_field(&a, ub, "tags", "[\"red\",\"green\"]");
	check_meta_field(&a, ub, "name", "\"beta\"");

	/* a rename keeps the rest */
	save_file(&a, ub, "{\"name\":\"gamma\"}");
	cJSON *m = load_meta(&a, ub);
	check_file(m, "gamma", "application/octet-stream", sizeof(data), md5, "[\"red\",\"green\"]",
		   "file_load_meta after the rename");
	cJSON_Delete(m);
	check_meta_field(&a, ub, "description", "\"the beta file\"");
	cJSON *list = get_list(&a, "file_list");
	check_file(entry_of(list, ub), "gamma", "application/octet-stream", sizeof(data), md5,
		   "[\"red\",\"green\"]", "file_list after the rename");
	cJSON_Delete(list);

	/* null removes a field; other fields are the client's own */
	save_file(&a, ub, "{\"description\":null,\"rating\":5,\"extra\":{\"k\":[1,\"x\"]}}");
	check_meta_field(&a, ub, "description", NULL);
	check_meta_field(&a, ub, "rating", "5");
	check_meta_field(&a, ub, "extra", "{\"k\":[1,\"x\"]}");
	check_meta_field(&a, ub, "tags", "[\"red\",\"green\"]");

	/* the value as a string holding the JSON */
	save_file_as(&a, ub, "{\"note\":\"via a string\"}", true);
	check_meta_field(&a, ub, "note", "\"via a string\"");
	check_meta_field(&a, ub, "rating", "5");

	/* the server's fields are ignored */
	m = load_meta(&a, ub);
	int64_t created = check_time(m, "created", "file_load_meta");
	cJSON_Delete(m);
	save_file(&a, ub,
		  "{\"type\":\"text/x-fake\",\"size\":1,\"md5\":\"00000000000000000000000000000000\","
		  "\"created\":1,\"modified\":2}");
	m = load_meta(&a, ub);
	check_file(m, "gamma", "application/octet-stream", sizeof(data), md5, "[\"red\",\"green\"]",
		   "file_load_meta after saving the server's fields");
	bool same_created = check_time(m, "created", "file_load_meta") == created;
	static const char *const META[] = {"uuid", "name", "type", "size", "md5", "created", "modified",
					   "tags", "rating", "extra", "note"};
	check_members(m, META, COUNT(META), "file_load_meta after the saves");
	cJSON_Delete(m);
	assert_true(same_created);

	/* tags emptied; a taken name gets a free "name (2)" */
	save_file(&a, ub, "{\"tags\":[]}");
	check_meta_field(&a, ub, "tags", "[]");
	save_file(&a, ub, "{\"name\":\"alpha\"}");
	check_meta_field(&a, ub, "name", "\"alpha (2)\"");
	check_meta_field(&a, ua, "name", "\"alpha\"");
	const named files[] = {{ua, "alpha"}, {ub, "alpha (2)"}};
	expect_list(&a, "file_list", files, 2);
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_file_thumbnail(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], pic[UUID_MAX], dat[UUID_MAX], fake[UUID_MAX], field[1024];
	unsigned char data[500];
	fill(data, sizeof(data), 3);
	const char *text = "this is not an image at all";
	add_user(s, "alice", auth);
	upload(s, auth, "pic.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	upload(s, auth, "data.qqq", NULL, data, sizeof(data));
	upload(s, auth, "fake.png", NULL, text, strlen(text));
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "pic.png", pic);
	file_uuid(&a, "data.qqq", dat);
	file_uuid(&a, "fake.png", fake);

	/* a small image is its own thumbnail; other content has none */
	load_thumbnail(&a, pic, PNG_1PX, sizeof(PNG_1PX));
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", dat, "file has no thumbnail");
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", fake, "file has no thumbnail");

	/* one set by file_save, which file_load_meta does not return */
	thumbnail_field(GIF_1PX, sizeof(GIF_1PX), field, sizeof(field));
	save_file(&a, dat, field);
	load_thumbnail(&a, dat, GIF_1PX, sizeof(GIF_1PX));
	check_meta_field(&a, dat, "thumbnail", NULL);
	save_file(&a, pic, field);
	load_thumbnail(&a, pic, GIF_1PX, sizeof(GIF_1PX));

	/* "" or null removes it: the image is its own again, the rest has none */
	save_file(&a, pic, "{\"thumbnail\":\"\"}");
	load_thumbnail(&a, pic, PNG_1PX, sizeof(PNG_1PX));
	save_file(&a, dat, "{\"thumbnail\":null}");
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", dat, "file has no thumbnail");
	check_meta_field(&a, dat, "thumbnail", NULL);
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_file_thumbnail_limits(void **state)
{
	t_server *s = start(state, "thumbnail_max = 1K\n");
	char auth[AUTH_MAX], big[UUID_MAX], edge[UUID_MAX], dat[UUID_MAX], field[4096];
	unsigned char png[1025], gif[1025];
	memset(png, 0, sizeof(png));
	memcpy(png, PNG_1PX, sizeof(PNG_1PX));
	memset(gif, 0, sizeof(gif));
	memcpy(gif, GIF_1PX, sizeof(GIF_1PX));
	add_user(s, "alice", auth);
	upload(s, auth, "big.png", NULL, png, 1025);
	upload(s, auth, "edge.png", NULL, png, 1024);
	upload(s, auth, "data.qqq", NULL, gif + 6, 100);
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "big.png", big);
	file_uuid(&a, "edge.png", edge);
	file_uuid(&a, "data.qqq", dat);

	/* an image up to thumbnail_max is its own thumbnail, a larger one not */
	load_thumbnail(&a, edge, png, 1024);
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", big, "file has no thumbnail");

	/* a thumbnail may have thumbnail_max bytes, not more */
	save_file_fails(&a, dat, thumbnail_field(gif, 1025, field, sizeof(field)),
			"thumbnail larger than 1024 bytes");
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", dat, "file has no thumbnail");
	save_file(&a, dat, thumbnail_field(gif, 1024, field, sizeof(field)));
	load_thumbnail(&a, dat, gif, 1024);
	t_ws_close(&a.ws);
	t_passed(state);
}

/* Files in <data_dir>/blobs. */
static int blob_files(const t_server *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data/blobs", s->dir);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A file_save that fails keeps no thumbnail on disk; tiny thumbnails
 * decode whole; a long project name is copied whole with " (copy)"; an
 * over-long uuid is echoed as sent. */
static void test_edges(void **state)
{
	t_server *s = start(state, "quota = 1000\n");
	char auth[AUTH_MAX], dat[UUID_MAX], field[4096], p[UUID_MAX], text[4096];
	unsigned char data[990], gif[600];
	fill(data, sizeof(data), 9);
	memset(gif, 0, sizeof(gif));
	memcpy(gif, GIF_1PX, sizeof(GIF_1PX));
	add_user(s, "alice", auth);
	upload(s, auth, "data.qqq", NULL, data, sizeof(data));
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "data.qqq", dat);
	assert_int_equal(blob_files(s), 1);

	/* refused for its name, and for the quota: no thumbnail stays */
	snprintf(text, sizeof(text), "{\"name\":\"a/b\",%s", thumbnail_field(gif, 8, field, sizeof(field)) + 1);
	save_file_fails(&a, dat, text, "invalid file name");
	save_file_fails(&a, dat, thumbnail_field(gif, sizeof(gif), field, sizeof(field)), "quota exceeded");
	assert_int_equal(blob_files(s), 1);

	/* a 3-byte thumbnail, and one of 5 without padding */
	save_file(&a, dat, "{\"thumbnail\":\"AQID\"}");
	load_thumbnail(&a, dat, "\x01\x02\x03", 3);
	save_file(&a, dat, "{\"thumbnail\":\"AQIDBAU\"}");
	load_thumbnail(&a, dat, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(blob_files(s), 2);

	/* 100 euro signs (300 bytes) and " (copy)" */
	char name[400] = "", json[512];
	for (int i = 0; i < 100; i++)
		strcat(name, "\xe2\x82\xac");
	snprintf(json, sizeof(json), "{\"name\":\"%s\"}", name);
	save_project(&a, json, p);
	send_uuid(&a, "project_duplicate", p);
	cJSON *v = answer_value(&a, "project_duplicate");
	const char *copy = t_json_str(v, "new_uuid");
	assert_non_null(copy);
	send_uuid(&a, "project_load", copy);
	cJSON_Delete(v);
	cJSON *loaded = answer_value(&a, "project");
	strcat(name, " (copy)");
	assert_true(is_str(loaded, "name", name));
	cJSON_Delete(loaded);

	/* an over-long uuid is refused with the uuid as sent */
	const char *long_uuid = "0123456789012345678901234567890123456789";
	snprintf(json, sizeof(json), "{\"uuid\":\"%s\"}", long_uuid);
	save_project_fails(&a, json, long_uuid, "invalid project uuid");
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_file_trash_cycle(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], one[UUID_MAX], two[UUID_MAX];
	unsigned char data[64];
	fill(data, sizeof(data), 4);
	add_user(s, "alice", auth);
	upload(s, auth, "one.qqq", NULL, data, sizeof(data));
	upload(s, auth, "two.qqq", NULL, data, 32);
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "one.qqq", one);
	file_uuid(&a, "two.qqq", two);
	const named both[] = {{one, "one.qqq"}, {two, "two.qqq"}}, first[] = {{one, "one.qqq"}},
		    second[] = {{two, "two.qqq"}};

	/* to the trash: out of file_list, in file_trash_list, not loadable */
	uuid_action(&a, "file_delete", one);
	expect_list(&a, "file_list", second, 1);
	expect_list(&a, "file_trash_list", first, 1);
	uuid_action_fails(&a, "file_load_meta", "file_load", one, "file not found");

	/* recovered: as it was */
	uuid_action(&a, "file_recover", one);
	expect_list(&a, "file_list", both, 2);
	expect_empty(&a, "file_trash_list");
	cJSON *m = load_meta(&a, one);
	char md5[33];
	md5_hex(data, sizeof(data), md5);
	check_file(m, "one.qqq", "application/octet-stream", sizeof(data), md5, "[]",
		   "file_load_meta after file_recover");
	cJSON_Delete(m);

	/* deleted for good */
	uuid_action(&a, "file_delete", one);
	uuid_action(&a, "file_trash_delete", one);
	expect_list(&a, "file_list", second, 1);
	expect_empty(&a, "file_trash_list");
	uuid_action_fails(&a, "file_load_meta", "file_load", one, "file not found");
	uuid_action_fails(&a, "file_recover", "file_trash_recover", one, "file not found");
	uuid_action_fails(&a, "file_trash_delete", "file_trash_delete", one, "file not found");
	t_ws_close(&a.ws);
	t_passed(state);
}

static void test_file_errors(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], live[UUID_MAX], gone[UUID_MAX], proj[UUID_MAX];
	add_user(s, "alice", auth);
	upload(s, auth, "live.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	upload(s, auth, "gone.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	client a;
	ws_open(s, "/ws", auth, "alice", &a);
	expect_users(&a, 1);
	file_uuid(&a, "live.png", live);
	file_uuid(&a, "gone.png", gone);
	uuid_action(&a, "file_delete", gone);
	save_project(&a, "{\"name\":\"A project\"}", proj);

	/* the uuid actions: no uuid string, unknown, a project's */
	for (int i = 0; i < COUNT(FILE_UUID_ACTIONS); i++) {
		const named_action *na = &FILE_UUID_ACTIONS[i];
		send_uuid(&a, na->action, NULL);
		expect_error(&a, na->error_name, NULL, "expected a file uuid");
		send_action(&a, na->action, cJSON_CreateNumber(7));
		expect_error(&a, na->error_name, NULL, "expected a file uuid");
		uuid_action_fails(&a, na->action, na->error_name, "no-such-file", "file not found");
		uuid_action_fails(&a, na->action, na->error_name, proj, "file not found");
	}
	/* and a file's uuid is no project */
	for (int i = 0; i < COUNT(PROJECT_UUID_ACTIONS); i++) {
		const named_action *na = &PROJECT_UUID_ACTIONS[i];
		uuid_action_fails(&a, na->action, na->error_name, live, "project not found");
	}
	save_file_fails(&a, proj, "{\"name\":\"x\"}", "file not found");
	save_file_fails(&a, "no-such-file", "{\"name\":\"x\"}", "file not found");

	/* in the trash: not found; live: not in the trash */
	uuid_action_fails(&a, "file_load_meta", "file_load", gone, "file not found");
	uuid_action_fails(&a, "file_load_thumbnail", "file_load_thumbnail", gone, "file not found");
	uuid_action_fails(&a, "file_delete", "file_delete", gone, "file not found");
	save_file_fails(&a, gone, "{\"name\":\"back.png\"}", "file not found");
	uuid_action_fails(&a, "file_recover", "file_trash_recover", live, "file is not in the trash");
	uuid_action_fails(&a, "file_trash_delete", "file_trash_delete", live, "file is not in the trash");

	/* file_save without an object holding a uuid string */
	send_action(&a, "file_save", NULL);
	expect_error(&a, "file_save", NULL, "expected a file JSON object with a uuid");
	const char *no_uuid[] = {"42", "[1]", "\"text\"", "{}", "{\"name\":\"x\"}", "{\"uuid\":5}",
				 "{\"uuid\":null}", "\"{\\\"name\\\":\\\"x\\\"}\""};
	for (int i = 0; i < COUNT(no_uuid); i++) {
		send_action(&a, "file_save", parse(no_uuid[i]));
		expect_error(&a, "file_save", NULL, "expected a file JSON object with a uuid");
	}

	/* bad fields */
	const char *bad_names[] = {"{\"name\":\"\"}", "{\"name\":\"a/b\"}", "{\"name\":\".\"}",
				   "{\"name\":\"..\"}", "{\"name\":5}"};
	for (int i = 0; i < COUNT(bad_names); i++)
		save_file_fails(&a, live, bad_names[i], "invalid file name");
	const char *bad_tags[] = {"{\"tags\":\"red\"}", "{\"tags\":[1]}", "{\"tags\":[\"a\",2]}",
				  "{\"tags\":{\"a\":\"b\"}}", "{\"tags\":[[\"a\"]]}"};
	for (int i = 0; i < COUNT(bad_tags); i++)
		save_file_fails(&a, live, bad_tags[i], "tags must be an array of strings");
	save_file_fails(&a, live, "{\"thumbnail\":\"not base64!\"}", "thumbnail is not valid base64");
	save_file_fails(&a, live, "{\"thumbnail\":\"QUJD*\"}", "thumbnail is not valid base64");

	/* none of it changed the file */
	cJSON *m = load_meta(&a, live);
	char md5[33];
	md5_hex(PNG_1PX, sizeof(PNG_1PX), md5);
	check_file(m, "live.png", "image/png", sizeof(PNG_1PX), md5, "[]",
		   "file_load_meta after the errors");
	cJSON_Delete(m);
	load_thumbnail(&a, live, PNG_1PX, sizeof(PNG_1PX));
	const named files[] = {{live, "live.png"}}, trashed[] = {{gone, "gone.png"}};
	expect_list(&a, "file_list", files, 1);
	expect_list(&a, "file_trash_list", trashed, 1);
	t_ws_close(&a.ws);
	t_passed(state);
}

/* ---- unsupported events and actions ---- */

/* Sends text; the answer must be "unsupported event: <text>". */
static void event_echoed(client *c, const char *text)
{
	char want[512];
	send_text(c, text);
	snprintf(want, sizeof(want), "unsupported event: %s", text);
	expect_event_error(c, want);
}

static void test_unsupported_events(void **state)
{
	t_server *s = start(state, NULL);
	char auth[AUTH_MAX], text[512], want[512];
	client a;
	user_client(s, "alice", auth, &a);

	const char *events[] = {"{nope", "[1,2]", "[{\"action\":\"project_list\"}]",
				"{\"value\":\"x\"}", "{\"action\":5}", "{\"action\":null}",
				"\"project_list\"", "42", ""};
	for (int i = 0; i < COUNT(events); i++)
		event_echoed(&a, events[i]);

	/* quoted up to 200 bytes, cut with "..." beyond */
	memset(text, 'x', 200);
	text[200] = 0;
	event_echoed(&a, text);
	memset(text, 'y', 250);
	text[250] = 0;
	send_text(&a, text);
	snprintf(want, sizeof(want), "unsupported event: %.200s...", text);
	expect_event_error(&a, want);

	/* a binary message */
	if (t_ws_send(&a.ws, 2, "{\"action\":\"project_list\"}", 25, true))
		fail_msg("sending a binary message failed");
	expect_event_error(&a, "unsupported event: binary message");

	/* unknown actions, the error forms' names among them */
	const char *actions[] = {"fly", "project_trash_recover", "file_load", "PROJECT_LIST", ""};
	for (int i = 0; i < COUNT(actions); i++) {
		send_action(&a, actions[i], NULL);
		snprintf(want, sizeof(want), "unsupported action: %s", actions[i]);
		expect_event_error(&a, want);
	}

	/* the connection still works */
	expect_empty(&a, "project_list");
	t_ws_close(&a.ws);
	t_passed(state);
}

/* A project_save message of exactly n bytes (n >= 64). */
static char *save_of_size(size_t n)
{
	const char *head = "{\"action\":\"project_save\",\"value\":{\"name\":\"big\",\"pad\":\"";
	const char *tail = "\"}}";
	char *m = (char *)malloc(n + 1);
	assert_non_null(m);
	size_t h = strlen(head), t = strlen(tail);
	memcpy(m, head, h);
	memset(m + h, 'p', n - h - t);
	memcpy(m + n - t, tail, t + 1);
	return m;
}

static void test_message_too_large(void **state)
{
	t_server *s = start(state, "max_message_size = 4K\n");
	char auth[AUTH_MAX], u[UUID_MAX];
	client a;
	user_client(s, "alice", auth, &a);

	char *m = save_of_size(4097);
	send_text(&a, m);
	free(m);
	expect_event_error(&a, "unsupported event: message larger than 4096 bytes");
	expect_empty(&a, "project_list");

	/* in fragments too */
	m = save_of_size(6000);
	if (t_ws_send(&a.ws, 1, m, 3000, false) || t_ws_send(&a.ws, 0, m + 3000, 3000, true))
		fail_msg("sending a fragmented message failed");
	free(m);
	expect_event_error(&a, "unsupported event: message larger than 4096 bytes");
	expect_empty(&a, "project_list");

	/* max_message_size bytes are allowed */
	m = save_of_size(4096);
	send_text(&a, m);
	free(m);
	take_value_str(&a, expect_type(&a, "project_save"), u);
	const named one[] = {{u, "big"}};
	expect_list(&a, "project_list", one, 1);
	t_ws_close(&a.ws);
	t_passed(state);
}

/* ---- one user and another's nodes ---- */

static void test_visibility(void **state)
{
	t_server *s = start(state, NULL);
	char alice[AUTH_MAX], bob[AUTH_MAX], p[UUID_MAX], q[UUID_MAX], f[UUID_MAX], g[UUID_MAX];
	add_user(s, "alice", alice);
	add_user(s, "bob", bob);
	upload(s, alice, "mine.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	upload(s, alice, "old.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	client cs[2];
	const char *auths[] = {alice, bob}, *labels[] = {"alice", "bob"};
	connect_clients(s, cs, auths, labels, 2);
	client *a = &cs[0], *b = &cs[1];

	const char *pj = "{\"uuid\":\"alice-plan\",\"name\":\"Alice's plan\",\"secret\":1}";
	save_project(a, pj, p);
	save_project(a, "{\"uuid\":\"alice-old\",\"name\":\"Old\"}", q);
	uuid_action(a, "project_delete", q);
	file_uuid(a, "mine.png", f);
	file_uuid(a, "old.png", g);
	uuid_action(a, "file_delete", g);

	/* bob's lists have none of it */
	expect_empty(b, "project_list");
	expect_empty(b, "project_trash_list");
	expect_empty(b, "file_list");
	expect_empty(b, "file_trash_list");

	/* and by uuid it is not found */
	uuid_action_fails(b, "project_load", "project_load", p, "project not found");
	uuid_action_fails(b, "project_delete", "project_delete", p, "project not found");
	uuid_action_fails(b, "project_duplicate", "project_duplicate", p, "project not found");
	uuid_action_fails(b, "project_trash_delete", "project_trash_delete", p, "project not found");
	uuid_action_fails(b, "project_recover", "project_trash_recover", q, "project not found");
	uuid_action_fails(b, "project_trash_delete", "project_trash_delete", q, "project not found");
	save_project_fails(b, "{\"uuid\":\"alice-plan\",\"name\":\"Bob's now\"}", p, "project not found");
	uuid_action_fails(b, "file_load_meta", "file_load", f, "file not found");
	uuid_action_fails(b, "file_load_thumbnail", "file_load_thumbnail", f, "file not found");
	uuid_action_fails(b, "file_delete", "file_delete", f, "file not found");
	uuid_action_fails(b, "file_trash_delete", "file_trash_delete", f, "file not found");
	uuid_action_fails(b, "file_recover", "file_trash_recover", g, "file not found");
	uuid_action_fails(b, "file_trash_delete", "file_trash_delete", g, "file not found");
	save_file_fails(b, f, "{\"name\":\"bobs.png\"}", "file not found");

	/* alice's nodes are as they were, bob still has nothing, nobody was told anything */
	client *both[] = {a, b};
	expect_quiet(both, 2);
	check_project(a, p, pj);
	const named projects[] = {{p, "Alice's plan"}}, old[] = {{q, "Old"}};
	const named files[] = {{f, "mine.png"}}, old_files[] = {{g, "old.png"}};
	expect_list(a, "project_list", projects, 1);
	expect_list(a, "project_trash_list", old, 1);
	expect_list(a, "file_list", files, 1);
	expect_list(a, "file_trash_list", old_files, 1);
	expect_empty(b, "project_list");
	expect_empty(b, "file_list");
	close_clients(cs, 2);
	t_passed(state);
}

/* ---- broadcasts ---- */

static void test_users_broadcast(void **state)
{
	t_server *s = start(state, NULL);
	char alice[AUTH_MAX], bob[AUTH_MAX];
	add_user(s, "alice", alice);
	add_user(s, "bob", bob);
	client a1, a2, b1, b2, up;

	/* every connect is told to all, the new client included */
	ws_open(s, "/ws", alice, "alice 1", &a1);
	expect_next_users(&a1, 1);
	ws_open(s, "/ws", alice, "alice 2", &a2);
	expect_next_users(&a2, 2);
	expect_next_users(&a1, 2);
	ws_open(s, "/ws", bob, "bob 1", &b1);
	expect_next_users(&b1, 3);
	expect_next_users(&a1, 3);
	expect_next_users(&a2, 3);

	/* an /upload connection is no /ws client */
	ws_open(s, "/upload", alice, "upload", &up);
	client *all[] = {&a1, &a2, &b1};
	expect_quiet(all, 3);
	t_ws_close(&up.ws);
	expect_quiet(all, 3);

	/* every disconnect is told to the rest */
	t_ws_close(&a2.ws);
	expect_next_users(&a1, 2);
	expect_next_users(&b1, 2);
	t_ws_close(&b1.ws);
	expect_next_users(&a1, 1);
	ws_open(s, "/ws", bob, "bob 2", &b2);
	expect_next_users(&b2, 2);
	expect_next_users(&a1, 2);
	client *left[] = {&a1, &b2};
	expect_quiet(left, 2);
	t_ws_close(&b2.ws);
	expect_next_users(&a1, 1);
	t_ws_close(&a1.ws);
	t_passed(state);
}

/* Three /ws clients of alice and one of bob, in that order; the users
 * messages drained. */
static void connect_four(const t_server *s, client *cs, const char *alice, const char *bob)
{
	const char *auths[] = {alice, alice, alice, bob};
	const char *labels[] = {"alice 1", "alice 2", "alice 3", "bob"};
	connect_clients(s, cs, auths, labels, 4);
}

static void test_project_broadcasts(void **state)
{
	t_server *s = start(state, NULL);
	char alice[AUTH_MAX], bob[AUTH_MAX], p[UUID_MAX], d[UUID_MAX], again[256];
	client cs[4];
	add_user(s, "alice", alice);
	add_user(s, "bob", bob);
	connect_four(s, cs, alice, bob);
	client *a1 = &cs[0], *a2 = &cs[1], *a3 = &cs[2], *b = &cs[3];
	client *all[] = {a1, a2, a3, b};
	const char *PL = "project_list", *PT = "project_trash_list", *PU = "project_update";

	/* created: the other clients of alice are told, not the creator, not bob */
	save_project(a1, "{\"name\":\"Shared\",\"v\":1}", p);
	expect_change(a2, PL, NULL, NULL, NULL);
	expect_change(a3, PL, NULL, NULL, NULL);
	expect_quiet(all, 4);

	/* saved: a client that loaded it also gets project_update */
	check_project(a2, p, "{\"name\":\"Shared\",\"v\":1}");
	snprintf(again, sizeof(again), "{\"uuid\":\"%s\",\"name\":\"Shared\",\"v\":2}", p);
	save_project(a1, again, d);
	assert_string_equal(d, p);
	expect_change(a2, PL, NULL, PU, p);
	expect_change(a3, PL, NULL, NULL, NULL);
	expect_quiet(all, 4);

	/* duplicated: a new project, the loaded one unchanged */
	send_uuid(a1, "project_duplicate", p);
	cJSON_Delete(expect_type(a1, "project_duplicate"));
	expect_change(a2, PL, NULL, NULL, NULL);
	expect_change(a3, PL, NULL, NULL, NULL);
	expect_quiet(all, 4);

	/* to the trash and back: both lists, and the update to the loader */
	uuid_action(a1, "project_delete", p);
	expect_change(a2, PL, PT, PU, p);
	expect_change(a3, PL, PT, NULL, NULL);
	expect_quiet(all, 4);
	uuid_action(a1, "project_recover", p);
	expect_change(a2, PL, PT, PU, p);
	expect_change(a3, PL, PT, NULL, NULL);
	expect_quiet(all, 4);

	/* a loader that makes the change is not told; the other loader is */
	check_project(a3, p, again);
	uuid_action(a2, "project_delete", p);
	expect_change(a1, PL, PT, NULL, NULL);
	expect_change(a3, PL, PT, PU, p);
	expect_quiet(all, 4);

	/* bob's own change is not alice's business */
	save_project(b, "{\"name\":\"Bob's\"}", d);
	expect_quiet(all, 4);

	/* deleted for good from the trash: only project_trash_list (the live
	 * list did not change), and the update to the loaders */
	uuid_action(a1, "project_trash_delete", p);
	expect_change(a2, NULL, PT, PU, p);
	expect_change(a3, NULL, PT, PU, p);
	expect_quiet(all, 4);
	close_clients(cs, 4);
	t_passed(state);
}

static void test_file_broadcasts(void **state)
{
	t_server *s = start(state, NULL);
	char alice[AUTH_MAX], bob[AUTH_MAX], f[UUID_MAX], g[UUID_MAX];
	unsigned char data[100];
	fill(data, sizeof(data), 6);
	client cs[4];
	add_user(s, "alice", alice);
	upload(s, alice, "pic.png", NULL, PNG_1PX, sizeof(PNG_1PX));
	upload(s, alice, "doc.qqq", NULL, data, sizeof(data));
	add_user(s, "bob", bob);
	connect_four(s, cs, alice, bob);
	client *a1 = &cs[0], *a2 = &cs[1], *a3 = &cs[2], *b = &cs[3];
	client *all[] = {a1, a2, a3, b};
	const char *FL = "file_list", *FT = "file_trash_list", *FU = "file_update";
	file_uuid(a1, "pic.png", f);
	file_uuid(a1, "doc.qqq", g);

	/* alice 2 loads pic.png's meta, alice 3 its thumbnail */
	cJSON_Delete(load_meta(a2, f));
	load_thumbnail(a3, f, PNG_1PX, sizeof(PNG_1PX));

	/* saved: the list to the others, the update to the loaders */
	save_file(a1, f, "{\"description\":\"a pixel\"}");
	expect_change(a2, FL, NULL, FU, f);
	expect_change(a3, FL, NULL, FU, f);
	expect_quiet(all, 4);

	/* a file nobody loaded */
	save_file(a1, g, "{\"tags\":[\"doc\"]}");
	expect_change(a2, FL, NULL, NULL, NULL);
	expect_change(a3, FL, NULL, NULL, NULL);
	expect_quiet(all, 4);

	/* to the trash and back */
	uuid_action(a1, "file_delete", f);
	expect_change(a2, FL, FT, FU, f);
	expect_change(a3, FL, FT, FU, f);
	expect_quiet(all, 4);
	uuid_action(a1, "file_recover", f);
	expect_change(a2, FL, FT, FU, f);
	expect_change(a3, FL, FT, FU, f);
	expect_quiet(all, 4);

	/* a loader that makes the change is not told */
	uuid_action(a2, "file_delete", f);
	expect_change(a1, FL, FT, NULL, NULL);
	expect_change(a3, FL, FT, FU, f);
	expect_quiet(all, 4);

	/* one nobody loaded */
	uuid_action(a3, "file_delete", g);
	expect_change(a1, FL, FT, NULL, NULL);
	expect_change(a2, FL, FT, NULL, NULL);
	expect_quiet(all, 4);

	/* deleted for good from the trash: only file_trash_list */
	uuid_action(a1, "file_trash_delete", f);
	expect_change(a2, NULL, FT, FU, f);
	expect_change(a3, NULL, FT, FU, f);
	expect_quiet(all, 4);
	uuid_action(a2, "file_trash_delete", g);
	expect_change(a1, NULL, FT, NULL, NULL);
	expect_change(a3, NULL, FT, NULL, NULL);
	expect_quiet(all, 4);
	close_clients(cs, 4);
	t_passed(state);
}

static void test_upload_broadcasts(void **state)
{
	t_server *s = start(state, NULL);
	char alice[AUTH_MAX], bob[AUTH_MAX], f[UUID_MAX];
	unsigned char data[2000];
	fill(data, sizeof(data), 7);
	add_user(s, "alice", alice);
	add_user(s, "bob", bob);
	client cs[3];
	const char *auths[] = {alice, alice, bob};
	const char *labels[] = {"alice 1", "alice 2", "bob"};
	connect_clients(s, cs, auths, labels, 3);
	client *a1 = &cs[0], *a2 = &cs[1], *b = &cs[2];
	client *all[] = {a1, a2, b};

	/* a new file: every /ws client of alice is told (the upload came from
	 * another endpoint), bob's is not */
	upload(s, alice, "new.qqq", NULL, data, sizeof(data));
	expect_change(a1, "file_list", NULL, NULL, NULL);
	expect_change(a2, "file_list", NULL, NULL, NULL);
	expect_quiet(all, 3);

	/* new content: the loader also gets file_update */
	file_uuid(a1, "new.qqq", f);
	cJSON_Delete(load_meta(a2, f));
	upload(s, alice, "new.qqq", f, data, 1000);
	expect_change(a1, "file_list", NULL, NULL, NULL);
	expect_change(a2, "file_list", NULL, "file_update", f);
	expect_quiet(all, 3);
	char md5[33];
	md5_hex(data, 1000, md5);
	cJSON *m = load_meta(a2, f);
	check_file(m, "new.qqq", "application/octet-stream", 1000, md5, "[]",
		   "file_load_meta after new content");
	cJSON_Delete(m);

	/* bob's upload is told to bob only */
	upload(s, bob, "bobs.qqq", NULL, data, 10);
	expect_change(b, "file_list", NULL, NULL, NULL);
	expect_quiet(all, 3);
	close_clients(cs, 3);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_needs_session),
		T_TEST(test_project_save_and_load),
		T_TEST(test_project_list),
		T_TEST(test_project_trash_cycle),
		T_TEST(test_project_duplicate),
		T_TEST(test_project_errors),
		T_TEST(test_file_list_and_meta),
		T_TEST(test_file_save),
		T_TEST(test_file_thumbnail),
		T_TEST(test_file_thumbnail_limits),
		T_TEST(test_edges),
		T_TEST(test_file_trash_cycle),
		T_TEST(test_file_errors),
		T_TEST(test_unsupported_events),
		T_TEST(test_message_too_large),
		T_TEST(test_visibility),
		T_TEST(test_users_broadcast),
		T_TEST(test_project_broadcasts),
		T_TEST(test_file_broadcasts),
		T_TEST(test_upload_broadcasts),
	};
	return cmocka_run_group_tests_name("ws_api", tests, NULL, NULL);
}
