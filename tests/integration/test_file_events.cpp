/* test_file_events.cpp: the spec 3 event WebSockets against the real
 * cubbyd ($CUBBYD, else build/cubbyd), written from docs/files-api.md
 * alone. On /files: who receives which event, in which order, for a
 * create, a metadata patch, a delete, a grant given, changed and taken
 * away, and a public node, with alice, bob and carol connected; that a
 * user without access receives nothing (checked after a last event the
 * user does receive); changes made over spec 1 (/upload, /ws) seen as
 * created / patch / deleted. On /files/<key>?alt=media: the revision
 * events of PUT, PATCH and DELETE of the content, the delete of the node
 * and its close, and each refusal. Every test starts its own server. */
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
#include <openssl/evp.h>

#include "support/support.h"

#define QUIET_MS 150 /* how long "nothing more arrives" is watched */
#define PATH_MAX_ 512
#define NOT_FOUND "file not found"

/* ---- users ---- */

struct user {
	const char *name;
	char auth[T_AUTH_MAX];
	char id[T_ID_MAX];
	t_ws ws; /* on /files */
};

static void add(const t_server *s, user *u, const char *name)
{
	u->name = name;
	t_add_user(s, name, "secret pass", u->auth);
	t_user_id(s, u->auth, u->id);
}

static void ws_open(const t_server *s, const char *path, const char *auth, t_ws *ws)
{
	if (t_ws_connect(ws, s->http_port, path, auth))
		fail_msg("upgrade to %s: answered %d, want 101", path, ws->status);
}

/* alice, bob and carol, each connected to /files. */
static void three_users(const t_server *s, user *u)
{
	static const char *const names[] = {"alice", "bob", "carol"};
	for (int i = 0; i < 3; i++) {
		add(s, &u[i], names[i]);
		ws_open(s, "/files", u[i].auth, &u[i].ws);
	}
}

static void close_all(user *u, int n)
{
	for (int i = 0; i < n; i++)
		t_ws_close(&u[i].ws);
}

/* ---- JSON ---- */

static const cJSON *member(const cJSON *j, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(j, name);
}

static void check_members(const cJSON *j, const char *const *names, int n, const char *what)
{
	bool ok = cJSON_IsObject(j) && cJSON_GetArraySize(j) == n;
	for (int i = 0; ok && i < n; i++)
		ok = member(j, names[i]) != NULL;
	if (!ok) {
		char *t = j ? cJSON_PrintUnformatted(j) : NULL;
		fprintf(stderr, "%s: %.1500s\n", what, t ? t : "(nothing)");
		cJSON_free(t);
		char list[256] = "";
		for (int i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
				 names[i]);
		fail_msg("%s: want exactly the members %s", what, list);
	}
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

/* ---- events ---- */

static void describe(int op, const char *data, int code, char *out, size_t n)
{
	if (op == 1)
		snprintf(out, n, "text %.600s", data);
	else if (op == 8)
		snprintf(out, n, "close %d \"%.200s\"", code, data);
	else if (op == 2)
		snprintf(out, n, "a binary message");
	else
		snprintf(out, n, "%s", op == 0 ? "the end of the connection" : "nothing");
}

/* The next message: a JSON text message (caller deletes). */
static cJSON *next_json(t_ws *ws, const char *who, const char *waiting_for)
{
	char *data = NULL, d[800];
	size_t len;
	int code = 0;
	int op = t_ws_recv(ws, &data, &len, &code, T_TIMEOUT_MS);
	cJSON *j = op == 1 ? cJSON_Parse(data) : NULL;
	describe(op, data, code, d, sizeof(d));
	free(data);
	if (!j)
		fail_msg("%s: want %s, got %s", who, waiting_for, d);
	return j;
}

static const char *const EVENT[] = {"type", "operation", "kind", "id", "data"};

/* The next message must be {"type":"event","operation":op,"kind":kind,
 * "id":id} plus "data" when with_data, nothing else. The event (caller
 * deletes). */
static cJSON *expect_event(user *u, t_ws *ws, const char *op, const char *kind, const char *id,
			   bool with_data)
{
	char what[200];
	snprintf(what, sizeof(what), "%s's %s event of %s", u->name, op, id);
	cJSON *e = next_json(ws, u->name, what);
	const char *t = t_json_str(e, "type"), *o = t_json_str(e, "operation");
	const char *k = t_json_str(e, "kind"), *i = t_json_str(e, "id");
	if (!t || strcmp(t, "event") || !o || strcmp(o, op) || !k || strcmp(k, kind) || !i ||
	    strcmp(i, id)) {
		char *txt = cJSON_PrintUnformatted(e);
		fprintf(stderr, "%s got %.1500s\n", u->name, txt);
		cJSON_free(txt);
		fail_msg("%s: want {\"type\":\"event\",\"operation\":\"%s\",\"kind\":\"%s\",\"id\":\"%s\"...}",
			 what, op, kind, id);
	}
	check_members(e, EVENT, with_data ? 5 : 4, what);
	return e;
}

/* On u's /files socket; the event's data is not looked at. */
static void expect_plain(user *u, const char *op, const char *kind, const char *id, bool with_data)
{
	cJSON_Delete(expect_event(u, &u->ws, op, kind, id, with_data));
}

/* Nothing arrives on ws for QUIET_MS. */
static void expect_quiet(const char *who, t_ws *ws)
{
	char *data = NULL, d[800];
	size_t len;
	int code = 0;
	int op = t_ws_recv(ws, &data, &len, &code, QUIET_MS);
	describe(op, data, code, d, sizeof(d));
	free(data);
	if (op != -1)
		fail_msg("%s: want nothing more, got %s", who, d);
}

/* The next message is a close with code and reason; then the server
 * ends the connection. Frees ws. */
static void expect_close(const char *who, t_ws *ws, int code, const char *reason)
{
	char *data = NULL, d[800];
	size_t len;
	int got = 0;
	int op = t_ws_recv(ws, &data, &len, &got, T_TIMEOUT_MS);
	describe(op, data, got, d, sizeof(d));
	bool same = op == 8 && got == code && !strcmp(data, reason);
	free(data);
	int closed = same ? t_wait_closed(ws->fd, T_TIMEOUT_MS) : 0;
	t_ws_close(ws);
	if (!same)
		fail_msg("%s: want close %d \"%s\", got %s", who, code, reason, d);
	if (!closed)
		fail_msg("%s: the server did not end the connection after its close", who);
}

static const char *const PATCH_DATA[] = {"id", "patch", "revert"};

/* A patch event's data: {"id":key,"patch":[...],"revert":[...]} where
 * patch has an operation op (NULL: any) on path (with value, when given)
 * and revert one on the same path. */
static void check_patch_data(const cJSON *e, const char *key, const char *op, const char *path,
			     const cJSON *value, const char *what)
{
	const cJSON *d = member(e, "data");
	check_members(d, PATCH_DATA, 3, what);
	const char *id = t_json_str(d, "id");
	if (!id || strcmp(id, key))
		fail_msg("%s: data.id is %s, want %s", what, id ? id : "(none)", key);
	const cJSON *p = member(d, "patch"), *r = member(d, "revert");
	if (!cJSON_IsArray(p) || !cJSON_IsArray(r))
		fail_msg("%s: patch and revert must be arrays", what);
	bool in_patch = false, in_revert = false;
	const cJSON *it;
	cJSON_ArrayForEach(it, p)
	{
		const char *o = t_json_str(it, "op"), *pa = t_json_str(it, "path");
		if (o && pa && (!op || !strcmp(o, op)) && !strcmp(pa, path) &&
		    (!value || cJSON_Compare(member(it, "value"), value, true)))
			in_patch = true;
	}
	cJSON_ArrayForEach(it, r)
	{
		const char *pa = t_json_str(it, "path");
		if (pa && !strcmp(pa, path))
			in_revert = true;
	}
	if (!in_patch || !in_revert) {
		char *t = cJSON_PrintUnformatted(d);
		fprintf(stderr, "%s: data %.1500s\n", what, t);
		cJSON_free(t);
		fail_msg("%s: want a \"%s\" of %s in patch and an operation on it in revert", what,
			 op ? op : "change", path);
	}
}

/* ---- permissions ---- */

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

/* On u's /files: access-granted of key to grantee (role, given by
 * adding) with the permission as data, then the patch of
 * /permissions/<grantee>. */
static void expect_granted(user *u, const char *kind, const char *key, const char *grantee,
			   const char *role, const char *adding)
{
	char what[200];
	snprintf(what, sizeof(what), "%s: access-granted of %s to %s", u->name, key, grantee);
	cJSON *e = expect_event(u, &u->ws, "access-granted", kind, key, true);
	cJSON *want = perm(key, grantee, role, adding);
	t_assert_json(member(e, "data"), want, what);
	cJSON_Delete(want);
	cJSON_Delete(e);
	snprintf(what, sizeof(what), "%s: the patch after granting %s to %s", u->name, key, grantee);
	char path[T_ID_MAX + 16];
	snprintf(path, sizeof(path), "/permissions/%s", grantee);
	/* the patch sets /permissions/<grantee> to the role ("add" for a new
	 * grant, "add" or "replace" for a role changed) */
	cJSON *v = cJSON_CreateString(role);
	e = expect_event(u, &u->ws, "patch", kind, key, true);
	check_patch_data(e, key, NULL, path, v, what);
	cJSON_Delete(v);
	cJSON_Delete(e);
}

/* On u's /files: access-removed of key; then, when still_has_access, the
 * patch removing /permissions/<removed>. */
static void expect_removed(user *u, const char *kind, const char *key, const char *removed,
			   bool still_has_access)
{
	expect_plain(u, "access-removed", kind, key, false);
	if (!still_has_access)
		return;
	char what[200], path[T_ID_MAX + 16];
	snprintf(what, sizeof(what), "%s: the patch after removing %s from %s", u->name, removed, key);
	snprintf(path, sizeof(path), "/permissions/%s", removed);
	cJSON *e = expect_event(u, &u->ws, "patch", kind, key, true);
	check_patch_data(e, key, "remove", path, NULL, what);
	cJSON_Delete(e);
}

/* ---- requests ---- */

static const char *fpath(char *buf, const char *key, const char *suffix)
{
	snprintf(buf, PATH_MAX_, "/files/%s%s", key, suffix ? suffix : "");
	return buf;
}

/* PATCH /files/<key> as u: 200; the answer (caller deletes). */
static cJSON *patch_meta(const t_server *s, const user *u, const char *key, const char *ops)
{
	char p[PATH_MAX_];
	return t_api(s, "PATCH", fpath(p, key, NULL), u->auth, ops, 200);
}

static void put_media(const t_server *s, const user *u, const char *key, const char *content)
{
	char p[PATH_MAX_];
	t_http_response r;
	if (t_http(s->http_port, "PUT", fpath(p, key, "?alt=media"), u->auth, content,
		   strlen(content), &r))
		fail_msg("PUT %s: no answer", p);
	int status = r.status;
	t_http_free(&r);
	if (status != 200)
		fail_msg("PUT %s: %d, want 200", p, status);
}

/* On u's /files: a patch event whose data is exactly ans. */
static void expect_patch_of(user *u, const char *kind, const char *key, const cJSON *ans)
{
	char what[200];
	snprintf(what, sizeof(what), "%s: the patch event of %s", u->name, key);
	cJSON *e = expect_event(u, &u->ws, "patch", kind, key, true);
	t_assert_json(member(e, "data"), ans, what);
	cJSON_Delete(e);
}

/* A node of u's own, whose created event u must see next: the marker
 * that everything sent to u before has arrived. */
static void marker(const t_server *s, user *u)
{
	char key[T_ID_MAX];
	t_file_create(s, u->auth, "{\"name\":\"marker\",\"kind\":\"Test#Marker\"}", key);
	expect_plain(u, "created", "Test#Marker", key, true);
}

/* ============================ the tests ============================ */

/* Who receives what: create (owner), grant (owner and grantee:
 * access-granted then patch), patch (owner and grantees), a role changed,
 * a writer's patch, revoke (the removed user gets access-removed only),
 * a content change (nothing here), delete (owner and grantees); carol,
 * who never had access, receives nothing. */
static void test_audiences(void **state)
{
	t_server *s = t_start(state, NULL);
	user u[3];
	three_users(s, u);
	user *a = &u[0], *b = &u[1], *c = &u[2];
	char n[T_ID_MAX], m[T_ID_MAX];

	cJSON *f = t_api(s, "POST", "/files", a->auth, "{\"name\":\"n.txt\",\"media\":{\"v\":1}}", 201);
	snprintf(n, sizeof(n), "%s", t_json_str(f, "id"));
	cJSON *e = expect_event(a, &a->ws, "created", "file", n, true);
	t_assert_json(member(e, "data"), f, "alice's created event: data is the file");
	cJSON_Delete(e);
	cJSON_Delete(f);

	t_file_grant(s, a->auth, n, b->id, "reader");
	expect_granted(a, "file", n, b->id, "reader", a->id);
	expect_granted(b, "file", n, b->id, "reader", a->id);

	cJSON *ans = patch_meta(s, a, n, "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"m.txt\"}]");
	expect_patch_of(a, "file", n, ans);
	expect_patch_of(b, "file", n, ans);
	cJSON_Delete(ans);

	t_file_grant(s, a->auth, n, b->id, "writer");
	expect_granted(a, "file", n, b->id, "writer", a->id);
	expect_granted(b, "file", n, b->id, "writer", a->id);

	ans = patch_meta(s, b, n, "[{\"op\":\"add\",\"path\":\"/meta\",\"value\":{\"by\":\"bob\"}}]");
	expect_patch_of(a, "file", n, ans);
	expect_patch_of(b, "file", n, ans);
	cJSON_Delete(ans);

	t_file_grant(s, a->auth, n, b->id, NULL);
	expect_removed(a, "file", n, b->id, true);
	expect_removed(b, "file", n, b->id, false);

	/* bob no longer has access: this reaches alice only */
	ans = patch_meta(s, a, n, "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"o.txt\"}]");
	expect_patch_of(a, "file", n, ans);
	cJSON_Delete(ans);
	/* content changes are not sent on /files */
	put_media(s, a, n, "{\"v\":2}");

	/* a second node: shared, then deleted */
	t_file_create(s, a->auth, "{\"name\":\"m\",\"kind\":\"project\"}", m);
	expect_plain(a, "created", "project", m, true);
	t_file_grant(s, a->auth, m, b->id, "reader");
	expect_granted(a, "project", m, b->id, "reader", a->id);
	expect_granted(b, "project", m, b->id, "reader", a->id);
	char p[PATH_MAX_];
	cJSON_Delete(t_api(s, "DELETE", fpath(p, m, NULL), a->auth, NULL, 204));
	expect_plain(a, "deleted", "project", m, false);
	expect_plain(b, "deleted", "project", m, false);

	/* carol's first event is her own: nothing before it was hers */
	marker(s, c);
	marker(s, b);
	marker(s, a);
	for (int i = 0; i < 3; i++)
		expect_quiet(u[i].name, &u[i].ws);
	close_all(u, 3);
	t_passed(state);
}

/* A public node's events go to every connected user. */
static void test_public_node(void **state)
{
	t_server *s = t_start(state, NULL);
	user u[3];
	three_users(s, u);
	user *a = &u[0];
	char k[T_ID_MAX], p[PATH_MAX_];
	t_file_create(s, a->auth, "{\"name\":\"pub\"}", k);
	expect_plain(a, "created", "file", k, true);
	t_file_grant(s, a->auth, k, "anyone", "reader");
	for (int i = 0; i < 3; i++)
		expect_granted(&u[i], "file", k, "anyone", "reader", a->id);
	cJSON *ans = patch_meta(s, a, k, "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"t\"}]");
	for (int i = 0; i < 3; i++)
		expect_patch_of(&u[i], "file", k, ans);
	cJSON_Delete(ans);
	cJSON_Delete(t_api(s, "DELETE", fpath(p, k, NULL), a->auth, NULL, 204));
	for (int i = 0; i < 3; i++)
		expect_plain(&u[i], "deleted", "file", k, false);
	for (int i = 0; i < 3; i++)
		marker(s, &u[i]);
	for (int i = 0; i < 3; i++)
		expect_quiet(u[i].name, &u[i].ws);
	close_all(u, 3);
	t_passed(state);
}

/* ---- spec 1 ---- */

/* One /ws action on its own connection; the answer of type `type`
 * (broadcasts skipped) must have the string value want. */
static void ws_call(const t_server *s, const user *u, const char *action, cJSON *value,
		    const char *want)
{
	t_ws ws;
	ws_open(s, "/ws", u->auth, &ws);
	if (t_ws_send_action(&ws, action, value))
		fail_msg("sending %s failed", action);
	for (;;) {
		cJSON *j = next_json(&ws, u->name, action);
		const char *t = t_json_str(j, "type");
		if (t && (!strcmp(t, "users") || !strcmp(t, "list_update") ||
			  !strcmp(t, "project_update") || !strcmp(t, "file_update"))) {
			cJSON_Delete(j);
			continue;
		}
		const char *v = t_json_str(j, "value");
		bool ok = t && !strcmp(t, action) && v && !strcmp(v, want);
		char *txt = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (!ok) {
			fprintf(stderr, "/ws answered %.500s\n", txt);
			cJSON_free(txt);
			fail_msg("/ws %s: want {\"type\":\"%s\",\"value\":\"%s\"}", action, action, want);
		}
		cJSON_free(txt);
		break;
	}
	t_ws_close(&ws);
}

static void ws_uuid_call(const t_server *s, const user *u, const char *action, const char *uuid)
{
	cJSON *v = cJSON_CreateString(uuid);
	ws_call(s, u, action, v, uuid);
}

/* A whole /upload of content named name (docs/projects-files.md),
 * replacing the content of file uuid when not NULL. */
static void upload(const t_server *s, const user *u, const char *name, const char *content,
		   const char *uuid)
{
	t_ws ws;
	ws_open(s, "/upload", u->auth, &ws);
	char msg[512], md5[33], with_uuid[T_ID_MAX + 16] = "";
	if (uuid)
		snprintf(with_uuid, sizeof(with_uuid), ",\"uuid\":\"%s\"", uuid);
	snprintf(msg, sizeof(msg),
		 "{\"action\":\"upload\",\"value\":{\"name\":\"%s\",\"size\":%zu%s}}", name,
		 strlen(content), with_uuid);
	md5_hex(content, strlen(content), md5);
	static const char *const answers[] = {"{\"ready\":true}", "{\"ready\":true}",
					      "{\"close\":true}"};
	for (int step = 0; step < 3; step++) {
		int rc = step == 0 ? t_ws_send_text(&ws, msg)
			 : step == 1 ? t_ws_send(&ws, 2, content, strlen(content), true)
				     : 0;
		if (step == 2) {
			snprintf(msg, sizeof(msg), "{\"action\":\"finished\",\"value\":\"%s\"}", md5);
			rc = t_ws_send_text(&ws, msg);
		}
		if (rc)
			fail_msg("/upload: sending step %d failed", step);
		cJSON *got = next_json(&ws, u->name, answers[step]);
		cJSON *want = t_json_parse(answers[step]);
		t_assert_json(got, want, "/upload's answer");
		cJSON_Delete(want);
		cJSON_Delete(got);
	}
	t_ws_close(&ws);
}

/* Changes made over spec 1 are events here: an /upload is created; a
 * project saved, renamed (a patch of /meta/name), trashed and recovered
 * (to the owner and the grantee), trashed and deleted for good; a file
 * renamed over /ws (a patch of /name). Bob sees only what he was given;
 * an /upload replacing content is not a /files event. */
static void test_other_protocols(void **state)
{
	t_server *s = t_start(state, NULL);
	user u[2];
	add(s, &u[0], "alice");
	add(s, &u[1], "bob");
	user *a = &u[0], *b = &u[1];
	for (int i = 0; i < 2; i++)
		ws_open(s, "/files", u[i].auth, &u[i].ws);

	upload(s, a, "up.txt", "hello", NULL);
	cJSON *e = next_json(&a->ws, "alice", "the created event of the upload");
	const cJSON *d = member(e, "data");
	char up[T_ID_MAX], md5[33];
	md5_hex("hello", 5, md5);
	snprintf(up, sizeof(up), "%s", t_json_str(d, "id") ? t_json_str(d, "id") : "");
	const char *op = t_json_str(e, "operation"), *kind = t_json_str(e, "kind");
	const char *id = t_json_str(e, "id"), *name = t_json_str(d, "name"), *m = t_json_str(d, "md5");
	const cJSON *size = member(d, "size");
	if (!op || strcmp(op, "created") || !kind || strcmp(kind, "file") || !id || strcmp(id, up) ||
	    !name || strcmp(name, "up.txt") || !cJSON_IsNumber(size) || size->valuedouble != 5 || !m ||
	    strcmp(m, md5) || strcmp(t_json_str(d, "owner") ? t_json_str(d, "owner") : "", a->id)) {
		char *t = cJSON_PrintUnformatted(e);
		fprintf(stderr, "alice got %.1500s\n", t);
		cJSON_free(t);
		fail_msg("an /upload: want a created event of kind file with the file (up.txt, 5 "
			 "bytes, md5 %s)", md5);
	}
	cJSON_Delete(e);

	cJSON *v = t_json_parse("{\"uuid\":\"proj-1\",\"name\":\"First\",\"items\":[1]}");
	ws_call(s, a, "project_save", v, "proj-1");
	e = expect_event(a, &a->ws, "created", "project", "proj-1", true);
	const char *mname = t_json_str(member(member(e, "data"), "meta"), "name");
	if (!mname || strcmp(mname, "First"))
		fail_msg("a saved project: the file's meta.name is %s, want First", mname ? mname : "(none)");
	cJSON_Delete(e);
	v = t_json_parse("{\"uuid\":\"proj-1\",\"name\":\"Second\",\"items\":[1]}");
	ws_call(s, a, "project_save", v, "proj-1");
	e = expect_event(a, &a->ws, "patch", "project", "proj-1", true);
	cJSON *second = cJSON_CreateString("Second");
	check_patch_data(e, "proj-1", "replace", "/meta/name", second, "a project renamed over /ws");
	cJSON_Delete(second);
	/* the revert gives the old name back */
	bool old_name = false;
	const cJSON *it;
	cJSON_ArrayForEach(it, member(member(e, "data"), "revert"))
	{
		const char *pa = t_json_str(it, "path"), *val = t_json_str(it, "value");
		if (pa && !strcmp(pa, "/meta/name") && val && !strcmp(val, "First"))
			old_name = true;
	}
	if (!old_name)
		fail_msg("a project renamed over /ws: the revert does not set /meta/name to First");
	cJSON_Delete(e);

	v = t_json_parse("{\"name\":\"renamed.txt\"}");
	cJSON_AddStringToObject(v, "uuid", up);
	ws_call(s, a, "file_save", v, up);
	e = expect_event(a, &a->ws, "patch", "file", up, true);
	cJSON *rn = cJSON_CreateString("renamed.txt");
	check_patch_data(e, up, "replace", "/name", rn, "a file renamed over /ws");
	cJSON_Delete(rn);
	cJSON_Delete(e);

	/* a content change over /upload: nothing here */
	upload(s, a, "renamed.txt", "hello again", up);

	t_file_grant(s, a->auth, "proj-1", b->id, "reader");
	expect_granted(a, "project", "proj-1", b->id, "reader", a->id);
	expect_granted(b, "project", "proj-1", b->id, "reader", a->id);
	ws_uuid_call(s, a, "project_delete", "proj-1");
	expect_plain(a, "deleted", "project", "proj-1", false);
	expect_plain(b, "deleted", "project", "proj-1", false);
	ws_uuid_call(s, a, "project_recover", "proj-1");
	cJSON *g = t_api(s, "GET", "/files/proj-1", a->auth, NULL, 200);
	for (int i = 0; i < 2; i++) {
		e = expect_event(&u[i], &u[i].ws, "created", "project", "proj-1", true);
		t_assert_json(member(e, "data"), g, "a recovered project: data is the file");
		cJSON_Delete(e);
	}
	cJSON_Delete(g);
	t_file_grant(s, a->auth, "proj-1", b->id, NULL);
	expect_removed(a, "project", "proj-1", b->id, true);
	expect_removed(b, "project", "proj-1", b->id, false);
	ws_uuid_call(s, a, "project_delete", "proj-1");
	expect_plain(a, "deleted", "project", "proj-1", false);
	ws_uuid_call(s, a, "project_trash_delete", "proj-1");
	expect_plain(a, "deleted", "project", "proj-1", false);

	marker(s, b);
	marker(s, a);
	for (int i = 0; i < 2; i++)
		expect_quiet(u[i].name, &u[i].ws);
	close_all(u, 2);
	t_passed(state);
}

/* ---- the media socket ---- */

static const char *const REVISION_EVENT[] = {"type", "operation", "kind", "id", "parent", "data"};
static const char *const REVISION[] = {"kind", "key", "id", "created", "patch", "size", "md5",
				       "modification"};

/* The next message on ws: the created event of a revision of key, which
 * kept content (size, md5) and was made by user, with patch (NULL:
 * null). Its revision key into rkey (T_ID_MAX). The event (caller
 * deletes). */
static cJSON *expect_revision(const char *who, t_ws *ws, const char *key, size_t size,
			      const char *content_md5, const char *patch_text, const char *user_id,
			      char *rkey)
{
	char what[200];
	snprintf(what, sizeof(what), "%s: the revision event of %s", who, key);
	cJSON *e = next_json(ws, who, what);
	check_members(e, REVISION_EVENT, 6, what);
	const char *t = t_json_str(e, "type"), *o = t_json_str(e, "operation");
	const char *k = t_json_str(e, "kind"), *id = t_json_str(e, "id");
	const char *parent = t_json_str(e, "parent");
	const cJSON *d = member(e, "data");
	check_members(d, REVISION, 8, what);
	const cJSON *mod = member(d, "modification");
	const char *muser = t_json_str(mod, "user");
	bool ok = t && !strcmp(t, "event") && o && !strcmp(o, "created") && k &&
		  !strcmp(k, "Core#Revision") && id && *id && strlen(id) < T_ID_MAX && parent &&
		  !strcmp(parent, key) && t_json_str(d, "key") && !strcmp(t_json_str(d, "key"), id) &&
		  t_json_str(d, "id") && !strcmp(t_json_str(d, "id"), key) &&
		  t_json_str(d, "kind") && !strcmp(t_json_str(d, "kind"), "Core#Revision") &&
		  cJSON_IsNumber(member(d, "size")) && member(d, "size")->valuedouble == size &&
		  t_json_str(d, "md5") && !strcmp(t_json_str(d, "md5"), content_md5) &&
		  cJSON_IsNumber(member(d, "created")) && cJSON_IsNumber(member(mod, "time")) &&
		  muser && !strcmp(muser, user_id);
	if (ok && patch_text) {
		cJSON *pw = t_json_parse(patch_text);
		ok = cJSON_Compare(member(d, "patch"), pw, true);
		cJSON_Delete(pw);
	} else if (ok) {
		ok = cJSON_IsNull(member(d, "patch"));
	}
	if (!ok) {
		char *txt = cJSON_PrintUnformatted(e);
		fprintf(stderr, "%s got %.1500s\n", who, txt);
		cJSON_free(txt);
		fail_msg("%s: want created, kind Core#Revision, parent %s, the revision (id %s, size "
			 "%zu, md5 \"%s\", patch %s, by %s)", what, key, key, size, content_md5,
			 patch_text ? patch_text : "null", user_id);
	}
	snprintf(rkey, T_ID_MAX, "%s", id);
	return e;
}

/* PUT, PATCH and DELETE of the content are revision events (a PATCH
 * first sends its patch); a metadata patch is not; the node's delete
 * sends deleted and closes 1000 "file deleted". Alice (owner) and bob
 * (reader, on the /file alias) watch. */
static void test_media_events(void **state)
{
	t_server *s = t_start(state, NULL);
	user u[2];
	add(s, &u[0], "alice");
	add(s, &u[1], "bob");
	user *a = &u[0], *b = &u[1];
	char k[T_ID_MAX], p[PATH_MAX_], md5[33], r1[T_ID_MAX], r2[T_ID_MAX], r3[T_ID_MAX], rb[T_ID_MAX];
	t_file_create(s, a->auth, "{\"name\":\"w.json\",\"media\":{\"a\":1}}", k);
	t_file_grant(s, a->auth, k, b->id, "reader");
	t_ws wa, wb;
	ws_open(s, fpath(p, k, "?alt=media"), a->auth, &wa);
	snprintf(p, sizeof(p), "/file/%s?alt=media", k);
	ws_open(s, p, b->auth, &wb);

	put_media(s, a, k, "{\"a\":2}");
	md5_hex("{\"a\":1}", 7, md5);
	cJSON *ea = expect_revision("alice", &wa, k, 7, md5, NULL, a->id, r1);
	cJSON *eb = expect_revision("bob", &wb, k, 7, md5, NULL, a->id, rb);
	t_assert_json(eb, ea, "bob's revision event and alice's");
	cJSON_Delete(ea);
	cJSON_Delete(eb);

	/* an /upload replacing the content is a revision too */
	upload(s, a, "w.json", "{\"a\":9}", k);
	md5_hex("{\"a\":2}", 7, md5);
	cJSON_Delete(expect_revision("alice", &wa, k, 7, md5, NULL, a->id, r1));
	cJSON_Delete(expect_revision("bob", &wb, k, 7, md5, NULL, a->id, rb));
	put_media(s, a, k, "{\"a\":2}");
	md5_hex("{\"a\":9}", 7, md5);
	cJSON_Delete(expect_revision("alice", &wa, k, 7, md5, NULL, a->id, r1));
	cJSON_Delete(expect_revision("bob", &wb, k, 7, md5, NULL, a->id, rb));

	/* a metadata patch is not a media event */
	cJSON_Delete(patch_meta(s, a, k, "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"v.json\"}]"));

	static const char ops[] = "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":3}]";
	cJSON *ans = t_api(s, "PATCH", fpath(p, k, "?alt=media"), a->auth, ops, 200);
	md5_hex("{\"a\":2}", 7, md5);
	t_ws *ws[2] = {&wa, &wb};
	for (int i = 0; i < 2; i++) {
		cJSON *e = expect_event(&u[i], ws[i], "patch", "file", k, true);
		t_assert_json(member(e, "data"), ans, "the media patch event's data");
		cJSON_Delete(e);
		cJSON_Delete(expect_revision(u[i].name, ws[i], k, 7, md5, ops, a->id, i ? rb : r2));
	}
	cJSON_Delete(ans);

	cJSON_Delete(t_api(s, "DELETE", fpath(p, k, "?alt=media"), a->auth, NULL, 204));
	md5_hex("{\"a\":3}", 7, md5);
	cJSON_Delete(expect_revision("alice", &wa, k, 7, md5, NULL, a->id, r3));
	cJSON_Delete(expect_revision("bob", &wb, k, 7, md5, NULL, a->id, rb));

	/* the events' revision keys are the revisions' */
	cJSON *rv = t_api(s, "GET", fpath(p, k, "/revisions"), a->auth, NULL, 200);
	const cJSON *items = member(rv, "items");
	const char *keys[] = {r1, r2, r3};
	if (cJSON_GetArraySize(items) != 5) /* five content changes */
		fail_msg("GET revisions: %d, want 5", cJSON_GetArraySize(items));
	for (int i = 0; i < 3; i++) {
		const char *got = t_json_str(cJSON_GetArrayItem(items, i + 2), "key");
		if (!got || strcmp(got, keys[i]))
			fail_msg("revision %d: key %s, the event said %s", i, got ? got : "(none)", keys[i]);
	}
	cJSON_Delete(rv);

	cJSON_Delete(t_api(s, "DELETE", fpath(p, k, NULL), a->auth, NULL, 204));
	for (int i = 0; i < 2; i++) {
		cJSON_Delete(expect_event(&u[i], ws[i], "deleted", "file", k, false));
		expect_close(u[i].name, ws[i], 1000, "file deleted");
	}
	t_passed(state);
}

/* revisions_keep = 0: a content change is still announced, not kept. */
static void test_revision_not_kept(void **state)
{
	t_server *s = t_start(state, "revisions_keep = 0\n");
	user a;
	add(s, &a, "alice");
	char k[T_ID_MAX], p[PATH_MAX_], md5[33], rk[T_ID_MAX];
	t_file_create(s, a.auth, "{\"name\":\"nk\",\"media\":\"one\"}", k);
	t_ws w;
	ws_open(s, fpath(p, k, "?alt=media"), a.auth, &w);
	put_media(s, &a, k, "two");
	md5_hex("\"one\"", 5, md5);
	cJSON_Delete(expect_revision("alice", &w, k, 5, md5, NULL, a.id, rk));
	cJSON *rv = t_api(s, "GET", fpath(p, k, "/revisions"), a.auth, NULL, 200);
	cJSON *want = t_json_parse("{\"items\":[]}");
	t_assert_json(rv, want, "GET revisions with revisions_keep = 0");
	cJSON_Delete(want);
	cJSON_Delete(rv);
	t_ws_close(&w);
	t_passed(state);
}

/* A media socket that may not read the node opens and closes 1008 "file
 * not found" (stranger, unknown key, no session); without ?alt=media
 * 1008 "expected ?alt=media"; a watcher whose grant goes is closed 1008
 * "access removed"; a public node is watched without a session. */
static void test_media_refusals(void **state)
{
	t_server *s = t_start(state, NULL);
	user u[3];
	add(s, &u[0], "alice");
	add(s, &u[1], "bob");
	add(s, &u[2], "carol");
	user *a = &u[0], *b = &u[1], *c = &u[2];
	char k[T_ID_MAX], p[PATH_MAX_], md5[33], rk[T_ID_MAX];
	t_file_create(s, a->auth, "{\"name\":\"private\",\"media\":[1]}", k);
	t_ws ws;
	ws_open(s, fpath(p, k, "?alt=media"), c->auth, &ws);
	expect_close("carol on alice's private node", &ws, 1008, NOT_FOUND);
	ws_open(s, "/files/no-such-key?alt=media", a->auth, &ws);
	expect_close("an unknown key", &ws, 1008, NOT_FOUND);
	ws_open(s, fpath(p, k, "?alt=media"), NULL, &ws);
	expect_close("no session", &ws, 1008, NOT_FOUND);
	ws_open(s, fpath(p, k, NULL), a->auth, &ws);
	expect_close("the owner without ?alt=media", &ws, 1008, "expected ?alt=media");
	snprintf(p, sizeof(p), "/file/%s", k);
	ws_open(s, p, a->auth, &ws);
	expect_close("/file/<key> without ?alt=media", &ws, 1008, "expected ?alt=media");

	/* bob reads, watches, loses the grant */
	t_file_grant(s, a->auth, k, b->id, "reader");
	ws_open(s, fpath(p, k, "?alt=media"), b->auth, &ws);
	t_file_grant(s, a->auth, k, b->id, NULL);
	expect_close("bob after his grant went", &ws, 1008, "access removed");

	/* public: no session needed */
	t_file_grant(s, a->auth, k, "anyone", "reader");
	ws_open(s, fpath(p, k, "?alt=media"), NULL, &ws);
	t_ws wc;
	ws_open(s, fpath(p, k, "?alt=media"), c->auth, &wc);
	put_media(s, a, k, "[2]");
	md5_hex("[1]", 3, md5);
	cJSON_Delete(expect_revision("a watcher without a session", &ws, k, 3, md5, NULL, a->id, rk));
	cJSON_Delete(expect_revision("carol", &wc, k, 3, md5, NULL, a->id, rk));
	t_ws_close(&ws);
	t_ws_close(&wc);
	t_passed(state);
}

/* /files needs a session at the upgrade: 401 without one; ?token= and
 * the /file alias work; what a client sends is ignored. */
static void test_files_socket(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add(s, &a, "alice");
	t_ws ws;
	static const char *const refused[] = {"/files", "/file", "/files?token=not-a-session"};
	for (int i = 0; i < 3; i++) {
		if (!t_ws_connect(&ws, s->http_port, refused[i], NULL)) {
			t_ws_close(&ws);
			fail_msg("%s without a session: upgraded, want 401", refused[i]);
		}
		if (ws.status != 401)
			fail_msg("%s without a session: %d, want 401", refused[i], ws.status);
	}
	char token[T_TOKEN_MAX], p[T_TOKEN_MAX + 32];
	t_login_token(s, "alice", "secret pass", token);
	snprintf(p, sizeof(p), "/files?token=%s", token);
	ws_open(s, p, NULL, &a.ws);
	t_ws alias;
	ws_open(s, "/file", a.auth, &alias);
	/* input is ignored */
	if (t_ws_send_text(&a.ws, "{\"action\":\"hello\"}") || t_ws_send_text(&a.ws, "garbage") ||
	    t_ws_send(&a.ws, 2, "\x01\x02", 2, true))
		fail_msg("sending to /files failed");
	expect_quiet("alice on /files after sending", &a.ws);
	char k[T_ID_MAX];
	t_file_create(s, a.auth, "{\"name\":\"x\"}", k);
	expect_plain(&a, "created", "file", k, true);
	cJSON_Delete(expect_event(&a, &alias, "created", "file", k, true));
	t_ws_close(&alias);
	t_ws_close(&a.ws);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_audiences),
		T_TEST(test_public_node),
		T_TEST(test_other_protocols),
		T_TEST(test_media_events),
		T_TEST(test_revision_not_kept),
		T_TEST(test_media_refusals),
		T_TEST(test_files_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
