/* files_rest.cpp: protocol 3's REST API (shared/spec/3, DESIGN §7,
 * docs/files-api.md): the node store seen from outside, under `/files`
 * and its alias `/file`. The routes, and listing, creating, reading,
 * patching and trashing nodes, their permissions and their revisions;
 * their content (`?alt=media`) is files_media.cpp's. Core does the work
 * and decides who may do what; this module owns the bodies and the
 * answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/mime.h"
#include "cubby/store.h"
#include "files_internal.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* ---- answers ---- */

static const char *method_name(cb_method m)
{
	switch (m) {
	case CB_GET: return "GET";
	case CB_POST: return "POST";
	case CB_PUT: return "PUT";
	case CB_PATCH: return "PATCH";
	case CB_DELETE: return "DELETE";
	}
	return "?";
}

int files_fail(cb_conn *c, cb_status s, const char *err)
{
	switch (s) {
	case CB_ERR_NOTFOUND:
		return http_error(c, 404, "file not found");
	case CB_ERR_ACCESS:
		return http_error(c, 403, "you may not change this file");
	case CB_ERR_EXISTS:
		return http_error(c, 409, "a file with this name exists");
	case CB_ERR_INVAL:
		return http_error(c, 400, "%s",
				  err && err[0] ? err : "invalid file: name, parent or tags not allowed");
	case CB_ERR_TEST:
		return http_error(c, 412, "%s", err && err[0] ? err : "test failed");
	case CB_ERR_TOOBIG:
		return http_error(c, 413, "file too large");
	case CB_ERR_QUOTA:   /* "quota exceeded" */
	case CB_ERR_NOSPACE: /* "not enough free disk space" */
		return http_error(c, 507, "%s", cb_status_str(s));
	default:
		log_error("%s %s: %s", method_name(conn_method(c)), conn_path(c), cb_status_str(s));
		return http_error(c, 500, "internal error: %s", cb_status_str(s));
	}
}

int files_reply_no_content(cb_conn *c)
{
	return http_reply(c, 204, "application/json", NULL, 0, NULL);
}

/* Answers j (which it frees); NULL is out of memory. */
static int reply_owned(cb_conn *c, int status, cJSON *j)
{
	if (!j)
		return files_fail(c, CB_ERR_NOMEM, NULL);
	int r = http_reply_json(c, status, j, NULL);
	cJSON_Delete(j);
	return r;
}

int files_reply_file(cb_conn *c, int status, const char *id)
{
	cb_node n;
	node_init(&n);
	cb_status s = store_node_get(conn_store(c), conn_user(c)->id, id, &n,
				     CB_NODE_META | CB_NODE_GRANTS);
	int r = s ? files_fail(c, s, NULL) : reply_owned(c, status, node_json(&n));
	node_clear(&n);
	return r;
}

/* {"id","patch","revert"} of a patch that applied; takes revert. */
static int reply_patch(cb_conn *c, const char *id, const cJSON *patch, cJSON *revert)
{
	static const char *const names[] = {"id", "patch", "revert"};
	cJSON *members[] = {cJSON_CreateString(id), cJSON_Duplicate(patch, 1), revert};
	cJSON *j = cJSON_CreateObject();
	bool ok = j != NULL;
	for (int i = 0; i < 3; i++) {
		if (!ok || !members[i] || !cJSON_AddItemToObject(j, names[i], members[i])) {
			cJSON_Delete(members[i]);
			ok = false;
		}
	}
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return reply_owned(c, 200, j);
}

/* A list being answered: {"items":[...]}. A visitor that runs out of
 * memory stops the listing and says so in nomem. */
struct item_list {
	cJSON *items;
	const char *node;  /* permissions: whose */
	char last[CB_ID_LEN + 1]; /* files: the last one's id */
	bool nomem;
};

static int item_add(item_list *l, cJSON *item)
{
	if (!item || !cJSON_AddItemToArray(l->items, item)) {
		cJSON_Delete(item);
		l->nomem = true;
	}
	return l->nomem;
}

/* {"items":[...]} plus "cursor" when not NULL, or the error s (also
 * when a visitor ran out of memory); takes l->items. */
static int reply_items(cb_conn *c, item_list *l, cb_status s, const char *cursor)
{
	if (!s && l->nomem)
		s = CB_ERR_NOMEM;
	cJSON *j = s ? NULL : cJSON_CreateObject();
	if (j && cJSON_AddItemToObject(j, "items", l->items))
		l->items = NULL;
	else if (j)
		s = CB_ERR_NOMEM;
	cJSON_Delete(l->items);
	if (!s && cursor && !cJSON_AddStringToObject(j, "cursor", cursor))
		s = CB_ERR_NOMEM;
	if (s) {
		cJSON_Delete(j);
		return files_fail(c, s, NULL);
	}
	return reply_owned(c, 200, j);
}

/* The body as JSON that `is` accepts; else answers 400 (`expected` says
 * what it had to be) and returns NULL. */
static cJSON *json_body(cb_conn *c, cJSON_bool (*is)(const cJSON *), const char *expected)
{
	size_t len;
	const char *body = conn_body(c, &len);
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!is(j)) {
		cJSON_Delete(j);
		http_error(c, 400, "invalid JSON body: expected %s", expected);
		return NULL;
	}
	return j;
}

/* ---- files: list, create, get, patch, trash ---- */

static bool id_chars_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= CB_ID_LEN && strspn(s, ID_CHARS) == n;
}

static int file_visit(const cb_node *n, void *ctx)
{
	item_list *l = (item_list *)ctx;
	snprintf(l->last, sizeof(l->last), "%s", n->id);
	return item_add(l, node_json(n));
}

/* A filter of GET /files into buf: false when it is there but no node
 * can match it (too long, or a parent that is no folder path). *on says
 * whether it is there. */
static bool list_filter(cb_conn *c, const char *name, char *buf, size_t n, bool *on)
{
	char norm[CB_PATH_MAX + 1];
	*on = conn_has_query(c, name);
	if (!*on)
		return true;
	if (!conn_query(c, name, buf, n))
		return false;
	if (strcmp(name, "parent")) /* a kind is compared as it is */
		return true;
	if (path_normalize(buf, strlen(buf), norm, sizeof(norm)))
		return false;
	snprintf(buf, n, "%s", norm);
	return true;
}

/* limit and cursor of GET /files; answers 400 and returns false when bad. */
static bool list_paging(cb_conn *c, size_t *limit, char cursor[CB_ID_LEN + 1])
{
	char v[8];
	*limit = LIMIT_DEFAULT;
	cursor[0] = 0;
	if (conn_has_query(c, "limit")) {
		/* digits only: strtol would also take " +5" */
		bool digits = conn_query(c, "limit", v, sizeof(v)) && v[0] &&
			      strspn(v, "0123456789") == strlen(v);
		long n = digits ? strtol(v, NULL, 10) : 0;
		if (n < 1 || n > LIMIT_MAX) {
			http_error(c, 400, "bad limit");
			return false;
		}
		*limit = (size_t)n;
	}
	if (conn_has_query(c, "cursor") &&
	    (!conn_query(c, "cursor", cursor, CB_ID_LEN + 1) || !id_chars_ok(cursor))) {
		http_error(c, 400, "bad cursor");
		return false;
	}
	return true;
}

static int files_list(cb_conn *c)
{
	char parent[CB_PATH_MAX + 1], kind[CB_KIND_MAX + 1], cursor[CB_ID_LEN + 1];
	bool by_parent, by_kind, more = false;
	size_t limit;
	if (!list_paging(c, &limit, cursor))
		return 0;
	item_list l = {cJSON_CreateArray(), NULL, "", false};
	cb_status s = l.items ? CB_OK : CB_ERR_NOMEM;
	/* a filter nothing can match: an empty page */
	if (!s && list_filter(c, "parent", parent, sizeof(parent), &by_parent) &&
	    list_filter(c, "kind", kind, sizeof(kind), &by_kind))
		s = store_list_files(conn_store(c), conn_user(c)->id, by_parent ? parent : NULL,
				     by_kind ? kind : NULL, cursor, limit,
				     CB_NODE_META | CB_NODE_GRANTS, file_visit, &l, &more);
	return reply_items(c, &l, s, more ? l.last : NULL);
}

/* What a kind may be: "file", "project", "Vendor#Kind"... */
static bool kind_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= CB_KIND_MAX &&
	       strspn(s, ID_CHARS "#:") == n;
}

static bool tags_ok(const cJSON *tags)
{
	const cJSON *t;
	if (!cJSON_IsArray(tags))
		return false;
	cJSON_ArrayForEach(t, tags) if (!cJSON_IsString(t)) return false;
	return true;
}

/* The string member `name` of j: NULL when absent; *why is set when it
 * is there but no string. */
static const char *member_string(const cJSON *j, const char *name, const char **why)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, name);
	if (m && !cJSON_IsString(m))
		*why = "name, kind, parent, mime and id must be strings";
	return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* The members of a POST body into n (tags and meta are moved out of j);
 * NULL, or why it is no file. */
static const char *file_from_json(cJSON *j, cb_node *n)
{
	const char *why = NULL;
	const char *name = member_string(j, "name", &why);
	const char *kind = member_string(j, "kind", &why);
	const char *parent = member_string(j, "parent", &why);
	const char *mime = member_string(j, "mime", &why);
	const char *id = member_string(j, "id", &why);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
	if (why)
		return why;
	if (!name)
		return "name is required";
	if ((why = path_check_name(name, strlen(name))) ||
	    (parent && (why = path_normalize(parent, strlen(parent), n->parent, sizeof(n->parent)))))
		return why;
	if (kind && !kind_ok(kind))
		return "kind must be 1 to 63 of A-Z a-z 0-9 # : . _ -";
	if (mime && (strlen(mime) > CB_MIME_MAX || !mime_printable(mime)))
		return "mime must be up to 127 printable ASCII characters";
	if (id && (!id_chars_ok(id) || !strcmp(id, ".") || !strcmp(id, "..")))
		return "id must be 1 to 36 of A-Z a-z 0-9 . _ -";
	if (tags && !tags_ok(tags))
		return "tags must be an array of strings";
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->kind, sizeof(n->kind), "%s", kind ? kind : "file");
	snprintf(n->mime, sizeof(n->mime), "%s", mime ? mime : "");
	snprintf(n->id, sizeof(n->id), "%s", id ? id : "");
	if (tags) {
		cJSON_Delete(n->tags);
		n->tags = cJSON_DetachItemFromObjectCaseSensitive(j, "tags");
	}
	n->meta = cJSON_DetachItemFromObjectCaseSensitive(j, "meta");
	if (cJSON_IsNull(n->meta)) { /* none */
		cJSON_Delete(n->meta);
		n->meta = NULL;
	}
	return NULL;
}

/* Creates n with media's minimised JSON text as its content, node and
 * content in one commit. */
static cb_status create_with_media(cb_conn *c, cb_node *n, const cJSON *media)
{
	cb_upload *up;
	char *text = cJSON_PrintUnformatted(media);
	if (!text)
		return CB_ERR_NOMEM;
	size_t len = strlen(text);
	if (!n->mime[0])
		snprintf(n->mime, sizeof(n->mime), "application/json");
	cb_status s = blob_begin(conn_store(c), conn_user(c)->id, n, CB_UPLOAD_CREATE,
				 (int64_t)len, CB_UPLOAD_ONCE, &up);
	if (!s) {
		snprintf(n->id, sizeof(n->id), "%s", blob_info(up)->node);
		if ((s = blob_write(up, 0, text, len)) || (s = blob_complete(up, NULL, NULL)))
			blob_abort(up);
	}
	cJSON_free(text);
	return s;
}

/* 409 for a taken id or a taken name: the id when the client chose one
 * that is in use (anyone's: the conflict itself says so). */
static int conflict(cb_conn *c, const char *id)
{
	cb_node other;
	node_init(&other);
	bool id_taken = id[0] && !store_node_get(conn_store(c), NULL, id, &other, 0);
	node_clear(&other);
	return http_error(c, 409, "a file with this %s exists", id_taken ? "id" : "name");
}

static int file_create(cb_conn *c)
{
	cJSON *j = json_body(c, cJSON_IsObject, "a file object");
	if (!j)
		return 0;
	cb_node n;
	node_init(&n);
	char wanted[CB_ID_LEN + 1];
	const cJSON *media = cJSON_GetObjectItemCaseSensitive(j, "media");
	const char *why = file_from_json(j, &n);
	cb_status s = CB_OK;
	int r;
	snprintf(wanted, sizeof(wanted), "%s", n.id);
	if (!why)
		s = media ? create_with_media(c, &n, media)
			  : store_node_create(conn_store(c), conn_user(c)->id, &n, 0);
	if (why)
		r = http_error(c, 400, "invalid file: %s", why);
	else if (s == CB_ERR_EXISTS)
		r = conflict(c, wanted);
	else
		r = s ? files_fail(c, s, NULL) : files_reply_file(c, 201, n.id);
	node_clear(&n);
	cJSON_Delete(j);
	return r;
}

static int file_get(cb_conn *c, const char *key)
{
	return files_reply_file(c, 200, key);
}

int files_patch(cb_conn *c, const char *key, files_patch_fn fn, const char *too_big)
{
	cJSON *patch = json_body(c, cJSON_IsArray, "a JSON Patch array");
	if (!patch)
		return 0;
	char err[512];
	cJSON *revert = NULL;
	cb_status s = fn(conn_store(c), conn_user(c)->id, key, patch, &revert, err, sizeof(err));
	int r = s == CB_ERR_TOOBIG && too_big ? http_error(c, 413, "%s", too_big)
	      : s		   ? files_fail(c, s, err)
				   : reply_patch(c, key, patch, revert);
	cJSON_Delete(patch);
	return r;
}

static int file_patch(cb_conn *c, const char *key)
{
	return files_patch(c, key, store_node_patch, NULL);
}

static int file_trash(cb_conn *c, const char *key)
{
	cb_status s = store_node_trash(conn_store(c), conn_user(c)->id, key);
	if (s == CB_ERR_STATE) /* in the trash already */
		s = CB_ERR_NOTFOUND;
	return s ? files_fail(c, s, NULL) : files_reply_no_content(c);
}

/* ---- permissions: /files/<key>/users ---- */

static int grant_visit(const cb_grant *g, void *ctx)
{
	item_list *l = (item_list *)ctx;
	return item_add(l, permission_json(l->node, g));
}

/* The owner's entry, then the grants as core lists them. */
static int users_get(cb_conn *c, const char *key)
{
	cb_store *st = conn_store(c);
	const char *user = conn_user(c)->id;
	item_list l = {cJSON_CreateArray(), key, "", false};
	cb_node n;
	node_init(&n);
	cb_status s = l.items ? store_node_get(st, user, key, &n, 0) : CB_ERR_NOMEM;
	if (!s) {
		cb_grant owner = {n.owner, CB_ROLE_OWNER, n.owner};
		if (!grant_visit(&owner, &l))
			s = store_list_grants(st, user, key, grant_visit, &l);
	}
	node_clear(&n);
	return reply_items(c, &l, s, NULL);
}

/* One operation of a PATCH .../users body: who, and the role to give
 * (CB_ROLE_NONE: remove). NULL, or why it is not one. */
static const char *grant_op_read(const cJSON *op, const char **user, cb_role *role)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(op, "type");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(op, "id");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
	bool add = cJSON_IsString(o) && !strcmp(o->valuestring, "add");
	bool anyone = cJSON_IsString(type) && !strcmp(type->valuestring, "anyone");
	if (!cJSON_IsObject(op))
		return "not an object";
	if (!add && !(cJSON_IsString(o) && !strcmp(o->valuestring, "remove")))
		return "op must be \"add\" or \"remove\"";
	if (!anyone && !(cJSON_IsString(type) && !strcmp(type->valuestring, "user")))
		return "type must be \"user\" or \"anyone\"";
	if (!anyone && !(cJSON_IsString(id) && id->valuestring[0]))
		return "a user's id is required";
	*user = anyone ? CB_ANYONE : id->valuestring;
	*role = add && cJSON_IsString(value) ? role_parse(value->valuestring) : CB_ROLE_NONE;
	if (add && (*role == CB_ROLE_NONE || *role == CB_ROLE_OWNER))
		return "value must be \"reader\", \"commenter\" or \"writer\"";
	return NULL;
}

/* The answer to a grant that store_grant_check() or store_grant()
 * refused, once the node is known to be visible. */
static void grant_fail(cb_conn *c, cb_status s, const char *user)
{
	if (s == CB_ERR_NOTFOUND)
		http_error(c, 400, "no such user: %s", user);
	else if (s == CB_ERR_INVAL)
		http_error(c, 400, "the owner's permissions cannot change");
	else
		files_fail(c, s, NULL);
}

/* Checks (check) or applies the operations in order; answers and
 * returns false at the first that fails. Checked whole first, so that a
 * body with one bad operation changes nothing. */
static bool grants_run(cb_conn *c, const char *key, const cJSON *ops, bool check)
{
	const cJSON *op;
	cJSON_ArrayForEach(op, ops) {
		const char *user;
		cb_role role;
		grant_op_read(op, &user, &role);
		cb_status s = (check ? store_grant_check : store_grant)(conn_store(c), conn_user(c)->id,
									 key, user, role);
		if (s) {
			grant_fail(c, s, user);
			return false;
		}
	}
	return true;
}

static int users_patch(cb_conn *c, const char *key)
{
	cJSON *ops = json_body(c, cJSON_IsArray, "an array of permission operations");
	if (!ops)
		return 0;
	const cJSON *op;
	int i = 0, r = 0;
	const char *why = NULL, *user;
	cb_role role;
	cJSON_ArrayForEach(op, ops) {
		if ((why = grant_op_read(op, &user, &role)))
			break;
		i++;
	}
	cb_node n;
	node_init(&n);
	cb_status s = why ? CB_OK : store_node_get(conn_store(c), conn_user(c)->id, key, &n, 0);
	node_clear(&n);
	if (why)
		r = http_error(c, 400, "invalid permission operation: operation %d: %s", i, why);
	else if (s)
		r = files_fail(c, s, NULL);
	else if (grants_run(c, key, ops, true) && grants_run(c, key, ops, false))
		r = users_get(c, key);
	cJSON_Delete(ops);
	return r;
}

/* ---- revisions ---- */

static int revision_visit(const cb_revision *rev, void *ctx)
{
	return item_add((item_list *)ctx, revision_json(rev));
}

static int revisions_get(cb_conn *c, const char *key)
{
	item_list l = {cJSON_CreateArray(), NULL, "", false};
	cb_status s = l.items ? store_list_revisions(conn_store(c), conn_user(c)->id, key,
						     revision_visit, &l)
			      : CB_ERR_NOMEM;
	return reply_items(c, &l, s, NULL);
}

/* ---- routes below /files/<key> ---- */

enum file_part { PART_FILE, PART_USERS, PART_REVISIONS };

struct file_route {
	file_part part;
	bool media;   /* ?alt=media */
	cb_method method;
	int (*fn)(cb_conn *c, const char *key);
};

static const file_route file_routes[] = {
	{PART_FILE, false, CB_GET, file_get},
	{PART_FILE, false, CB_PATCH, file_patch},
	{PART_FILE, false, CB_DELETE, file_trash},
	{PART_FILE, true, CB_GET, media_get},
	{PART_FILE, true, CB_PUT, media_put},
	{PART_FILE, true, CB_PATCH, media_patch},
	{PART_FILE, true, CB_DELETE, media_delete},
	{PART_USERS, false, CB_GET, users_get},
	{PART_USERS, false, CB_PATCH, users_patch},
	{PART_REVISIONS, false, CB_GET, revisions_get},
};

/* 405, as the network layer answers it (docs/server.md), with the
 * methods the part (with or without ?alt=media) takes in Allow. */
static int not_allowed(cb_conn *c, file_part part, bool media)
{
	char allow[64] = "", message[256];
	size_t len = 0;
	for (const file_route &fr : file_routes)
		if (fr.part == part && fr.media == media)
			len += (size_t)snprintf(allow + len, sizeof(allow) - len, "%s%s",
						len ? ", " : "", method_name(fr.method));
	snprintf(message, sizeof(message), "method not allowed: %s %s",
		 method_name(conn_method(c)), conn_path(c));
	const cb_header h[] = {{"allow:", allow}, {NULL, NULL}};
	cJSON *j = cJSON_CreateObject();
	if (!cJSON_AddBoolToObject(j, "error", true) || !cJSON_AddNumberToObject(j, "code", 405) ||
	    !cJSON_AddStringToObject(j, "message", message)) {
		cJSON_Delete(j);
		return files_fail(c, CB_ERR_NOMEM, NULL);
	}
	int r = http_reply_json(c, 405, j, h);
	cJSON_Delete(j);
	return r;
}

/* What follows the key in conn_path_rest(), by file_part. */
static const char *const part_suffix[] = {"", "/users", "/revisions"};

/* Runs the route of conn_path_rest() ("<key>", "<key>/users",
 * "<key>/revisions"), ?alt=media and the method. */
static int file_dispatch(cb_conn *c)
{
	const char *rest = conn_path_rest(c);
	size_t n = strcspn(rest, "/");
	int part = 0;
	while (part < 3 && strcmp(rest + n, part_suffix[part]))
		part++;
	if (part == 3)
		return http_error(c, 404, "no such endpoint: %s", conn_path(c));
	if (n > CB_ID_LEN)
		return http_error(c, 404, "file not found");
	char key[CB_ID_LEN + 1], alt[8];
	memcpy(key, rest, n);
	key[n] = 0;
	bool media = part == PART_FILE && conn_query(c, "alt", alt, sizeof(alt)) &&
		     !strcmp(alt, "media");
	for (const file_route &fr : file_routes)
		if (fr.part == part && fr.media == media && fr.method == conn_method(c))
			return fr.fn(c, key);
	return not_allowed(c, (file_part)part, media);
}

static int files_root(cb_conn *c)
{
	return conn_method(c) == CB_POST ? file_create(c) : files_list(c);
}

#define PUT_ROUTE(path)                                                                   \
	{CB_HTTP, CB_PUT, path, CB_NEED_USER | CB_STREAM_BODY, sizeof(media_put_state),   \
	 file_dispatch, NULL, media_put_receive, media_put_close, NULL, NULL, NULL}

const cb_endpoint files_rest_endpoints[] = {
	CB_HTTP_ROUTE(CB_GET | CB_POST, "/files", CB_NEED_USER, files_root),
	CB_HTTP_ROUTE(CB_GET | CB_POST, "/file", CB_NEED_USER, files_root),
	PUT_ROUTE("/files/*"),
	PUT_ROUTE("/file/*"),
	CB_HTTP_ROUTE(CB_GET | CB_PATCH | CB_DELETE, "/files/*", CB_NEED_USER, file_dispatch),
	CB_HTTP_ROUTE(CB_GET | CB_PATCH | CB_DELETE, "/file/*", CB_NEED_USER, file_dispatch),
	{},
};
