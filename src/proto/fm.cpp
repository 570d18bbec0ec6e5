/* fm.cpp: protocol 5, the file manager's POST /fm (docs/file-manager.md):
 * a multipart or urlencoded form, parsed as it streams in, names an
 * action: add, update, delete, get_partial_size, reset, commit (or the
 * older extension=fileEditor form of add, remove, update). Every answer
 * is acp: {"type":"success",...} or {"type":"error","error":...}, HTTP
 * 200 either way. A file part streams to disk as it arrives
 * (fm_upload.cpp); the fields before it decide where it goes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/auth.h"
#include "cubby/fm.h"
#include "cubby/form.h"
#include "cubby/paths.h"
#include "fm_internal.h"

#define TAG_MAX 255 /* bytes of one tag */

/* ---- answers ---- */

static int reply(cb_conn *c, int status, cJSON *j)
{
	fm_request *r = (fm_request *)conn_state(c);
	r->answered = true;
	int rc = j ? http_reply_json(c, status, j, NULL) : -1;
	cJSON_Delete(j);
	r->dropped = rc < 0;
	return rc;
}

/* The acp error of a message (cut to stay UTF-8) with that HTTP status. */
static int fail_text(cb_conn *c, int status, char *msg)
{
	msg[utf8_prefix(msg, strlen(msg))] = 0;
	cJSON *j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "type", "error") ||
		  !cJSON_AddStringToObject(j, "error", msg))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return reply(c, status, j);
}

int fm_fail(cb_conn *c, const char *fmt, ...)
{
	char msg[FM_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail_text(c, 200, msg);
}

int fm_fail_status(cb_conn *c, cb_status s, const char *what)
{
	switch (s) {
	case CB_ERR_NOTFOUND:
		return fm_fail(c, "not found: %s", what);
	case CB_ERR_ACCESS:
		return fm_fail(c, "permission denied: %s", what);
	case CB_ERR_EXISTS:
		return fm_fail(c, "name conflict: %s exists already", what);
	case CB_ERR_TOOBIG:
		return fm_fail(c, "file too large: %s", what);
	case CB_ERR_QUOTA:
		return fm_fail(c, "quota exceeded: no room for %s", what);
	case CB_ERR_NOSPACE:
		return fm_fail(c, "out of disk space: no room for %s", what);
	case CB_ERR_STATE:
		return fm_fail(c, "an upload of %s is in progress on another connection", what);
	default:
		return fm_fail(c, "server error (%s): %s", cb_status_str(s), what);
	}
}

cJSON *fm_success(void)
{
	cJSON *j = cJSON_CreateObject();
	if (j && !cJSON_AddStringToObject(j, "type", "success")) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* The fields of a stored node in an answer. */
static cJSON *node_answer(cb_store *st, const cb_node *n)
{
	cb_user owner;
	char url[FM_URL_MAX + 8];
	cJSON *j = fm_success();
	if (!j || auth_user_by_id(st, n->owner, &owner)) {
		cJSON_Delete(j);
		return NULL;
	}
	fm_url(owner.name, n->parent, n->name, url, sizeof(url));
	bool ok = cJSON_AddNumberToObject(j, "is_fully_uploaded", 1) &&
		  cJSON_AddStringToObject(j, "url", url) &&
		  cJSON_AddStringToObject(j, "filename", n->name) &&
		  cJSON_AddStringToObject(j, "name", n->name) &&
		  cJSON_AddStringToObject(j, "directory", n->parent) &&
		  cJSON_AddItemToObject(j, "tags", cJSON_Duplicate(n->tags, 1)) &&
		  cJSON_AddNumberToObject(j, "is_private", n->anyone < CB_ROLE_READER);
	if (ok && n->original[0]) {
		strcat(url, "?o=1");
		ok = cJSON_AddStringToObject(j, "original_url", url);
	}
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int fm_reply(cb_conn *c, cJSON *j)
{
	return reply(c, 200, j);
}

int fm_reply_node(cb_conn *c, const cb_node *n)
{
	return reply(c, 200, node_answer(conn_store(c), n));
}

static int reply_ok(cb_conn *c)
{
	return reply(c, 200, fm_success());
}

const cb_profile *fm_profile(cb_conn *c, fm_request *r, bool fallback)
{
	if (!r->f.has_config_id && !fallback) {
		fm_fail(c, "missing configId");
		return NULL;
	}
	const char *name = r->f.has_config_id ? r->f.config_id : "default";
	const cb_profile *p = config_profile(conn_config(c), name);
	if (!p)
		fm_fail(c, "unknown configId: %s", name);
	return p;
}

/* ---- fields ---- */

static void field_error(fm_fields *f, const char *fmt, const char *name)
{
	if (!f->error[0])
		snprintf(f->error, sizeof(f->error), fmt, name);
}

/* 0|1 (also false|true). */
static void field_flag(fm_fields *f, const char *name, const char *v, int *out)
{
	if (!strcmp(v, "0") || !strcmp(v, "false"))
		*out = 0;
	else if (!strcmp(v, "1") || !strcmp(v, "true"))
		*out = 1;
	else
		field_error(f, "%s must be 0 or 1", name);
}

static void field_offset(fm_fields *f, const char *name, const char *v, int64_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || n > (unsigned long long)INT64_MAX)
		field_error(f, "%s must be a whole number of bytes", name);
	else
		*out = (int64_t)n;
}

static void field_text(fm_fields *f, const char *name, const char *v, size_t len, char *out,
		       size_t n, bool *has)
{
	if (len >= n || strlen(v) != len) {
		field_error(f, "%s is too long or holds a NUL byte", name);
		return;
	}
	memcpy(out, v, len + 1);
	if (has)
		*has = true;
}

static void tag_add(fm_fields *f, const char *v, size_t len)
{
	if (!len)
		return; /* an empty tags field: no tag */
	if (len > TAG_MAX || strlen(v) != len || utf8_prefix(v, len) != len) {
		field_error(f, "%s", "a tag must be 1-255 bytes of UTF-8");
		return;
	}
	if ((f->tags || (f->tags = cJSON_CreateArray())) &&
	    !cJSON_AddItemToArray(f->tags, cJSON_CreateString(v)))
		field_error(f, "%s", "out of memory");
}

/* tags, tags[] and tags[<id>] each add one tag; a value that is a JSON
 * array adds its strings. */
static void field_tags(fm_fields *f, const char *v, size_t len)
{
	if (len && v[0] == '[') {
		cJSON *a = cJSON_ParseWithLength(v, len), *t;
		if (cJSON_IsArray(a)) {
			cJSON_ArrayForEach(t, a)
			{
				if (!cJSON_IsString(t)) {
					field_error(f, "%s", "tags must be strings");
					break;
				}
				tag_add(f, t->valuestring, strlen(t->valuestring));
			}
			cJSON_Delete(a);
			return;
		}
		cJSON_Delete(a);
	}
	tag_add(f, v, len);
}

/* Fields a file's place and upload are decided by when its part begins. */
static bool decides_placing(const char *name)
{
	static const char *const names[] = {"action", "extension", "configId", "useChunks",
					    "filename", "directory", "url", "is_private",
					    "start", "tags"};
	for (const char *n : names)
		if (!strcmp(name, n))
			return true;
	return !strncmp(name, "tags[", 5);
}

static int on_field(void *ctx, const char *name, const char *v, size_t len)
{
	fm_request *r = (fm_request *)ctx;
	fm_fields *f = &r->f;
	if (r->file_seen && decides_placing(name)) {
		field_error(f, "the %s field must come before the file", name);
		return 0;
	}
	if (!strcmp(name, "action"))
		field_text(f, name, v, len, f->action, sizeof(f->action), NULL);
	else if (!strcmp(name, "extension"))
		field_text(f, name, v, len, f->extension, sizeof(f->extension), NULL);
	else if (!strcmp(name, "configId"))
		field_text(f, name, v, len, f->config_id, sizeof(f->config_id), &f->has_config_id);
	else if (!strcmp(name, "useChunks"))
		field_flag(f, name, v, &f->use_chunks);
	else if (!strcmp(name, "filename"))
		field_text(f, name, v, len, f->filename, sizeof(f->filename), &f->has_filename);
	else if (!strcmp(name, "directory"))
		field_text(f, name, v, len, f->directory, sizeof(f->directory), &f->has_directory);
	else if (!strcmp(name, "url"))
		field_text(f, name, v, len, f->url, sizeof(f->url), &f->has_url);
	else if (!strcmp(name, "is_private"))
		field_flag(f, name, v, &f->is_private);
	else if (!strcmp(name, "keep_original"))
		field_flag(f, name, v, &f->keep_original);
	else if (!strcmp(name, "last_chunk"))
		field_flag(f, name, v, &f->last_chunk);
	else if (!strcmp(name, "start"))
		field_offset(f, name, v, &f->start);
	else if (!strcmp(name, "end"))
		field_offset(f, name, v, &f->end);
	else if (!strcmp(name, "tags") || !strncmp(name, "tags[", 5))
		field_tags(f, v, len);
	return 0; /* other fields are not ours: ignored */
}

/* ---- actions ---- */

enum fm_action { ACT_NONE, ACT_ADD, ACT_UPDATE, ACT_DELETE, ACT_PARTIAL, ACT_RESET, ACT_COMMIT };

/* The action named, the fileEditor form mapped onto the others; ACT_NONE
 * after answering an error. */
static fm_action action_of(cb_conn *c, fm_request *r)
{
	static const struct {
		const char *name;
		fm_action act;
	} names[] = {
		{"add", ACT_ADD}, {"update", ACT_UPDATE}, {"delete", ACT_DELETE},
		{"get_partial_size", ACT_PARTIAL}, {"reset", ACT_RESET}, {"commit", ACT_COMMIT},
	};
	const char *a = r->f.action;
	if (!strcmp(r->f.extension, "fileEditor")) {
		if (!*a || !strcmp(a, "add"))
			return ACT_ADD;
		if (!strcmp(a, "remove"))
			return ACT_DELETE;
		if (!strcmp(a, "update"))
			return ACT_UPDATE;
		fm_fail(c, "unknown fileEditor action: %s (add, remove or update)", a);
		return ACT_NONE;
	}
	if (!*a) {
		fm_fail(c, "missing action");
		return ACT_NONE;
	}
	for (const auto &n : names)
		if (!strcmp(a, n.name))
			return n.act;
	fm_fail(c, "unknown action: %s", a);
	return ACT_NONE;
}

static int action_delete(cb_conn *c, fm_request *r)
{
	if (!r->f.has_url)
		return fm_fail(c, "missing url");
	cb_store *st = conn_store(c);
	cb_node n;
	node_init(&n);
	const char *me = conn_user(c)->id;
	cb_status s = fm_url_node(st, me, r->f.url, &n);
	if (!s)
		s = store_node_trash(st, me, n.id);
	node_clear(&n);
	return s ? fm_fail_status(c, s, r->f.url) : reply_ok(c);
}

/* Ids of the user's live nodes in the staging area, into a JSON array. */
static int staged_visit(const cb_node *n, void *ctx)
{
	if (fm_in_staging(n->parent))
		cJSON_AddItemToArray((cJSON *)ctx, cJSON_CreateString(n->id));
	return 0;
}

/* reset trashes what is staged; commit moves it out, each file into the
 * directory below the staging area it was put in (a taken name gets a
 * suffix), answering the files as they are now. */
static int action_staged(cb_conn *c, bool commit)
{
	cb_store *st = conn_store(c);
	const char *me = conn_user(c)->id;
	cJSON *ids = cJSON_CreateArray(), *files = cJSON_CreateArray(), *id;
	cb_status s = ids && files ? store_list_owned(st, me, NULL, 0, staged_visit, ids)
				   : CB_ERR_NOMEM;
	cJSON_ArrayForEach(id, ids)
	{
		if (s)
			break;
		if (!commit) {
			s = store_node_trash(st, me, id->valuestring);
			continue;
		}
		cb_node n;
		node_init(&n);
		if (!(s = store_node_get(st, me, id->valuestring, &n, 0))) {
			const char *below = n.parent + strlen(FM_STAGING);
			memmove(n.parent, below + (*below == '/'), strlen(below + (*below == '/')) + 1);
			if (!(s = store_node_update(st, me, &n, CB_NAME_SUFFIX)))
				cJSON_AddItemToArray(files, node_answer(st, &n));
		}
		node_clear(&n);
	}
	cJSON_Delete(ids);
	if (s) {
		cJSON_Delete(files);
		return fm_fail_status(c, s, "the staging area");
	}
	cJSON *j = fm_success();
	if (commit && j && !cJSON_AddItemToObject(j, "files", files)) {
		cJSON_Delete(j);
		j = NULL;
	} else if (!commit) {
		cJSON_Delete(files);
	}
	return reply(c, 200, j);
}

/* The body is in: answer the action. */
static int finish(cb_conn *c, fm_request *r)
{
	if (r->f.error[0])
		return fm_fail(c, "%s", r->f.error);
	fm_action a = action_of(c, r);
	switch (a) {
	case ACT_NONE:
		return 0;
	case ACT_ADD:
		if (!r->file_seen)
			return fm_fail(c, "missing file");
		return fm_file_finish(c, r);
	case ACT_UPDATE:
		return r->file_seen ? fm_file_finish(c, r) : fm_update_fields(c, r);
	case ACT_DELETE:
		return action_delete(c, r);
	case ACT_PARTIAL:
		return fm_partial_size(c, r);
	case ACT_RESET:
	case ACT_COMMIT:
		return action_staged(c, a == ACT_COMMIT);
	}
	return 0;
}

/* ---- the file part ---- */

static int on_file_begin(void *ctx, const char *name, const char *filename)
{
	fm_request *r = (fm_request *)ctx;
	cb_conn *c = r->conn;
	(void)name; /* any field name: "file" by the document */
	if (r->file_seen) {
		fm_fail(c, "one file per request");
		return 1;
	}
	r->file_seen = true;
	/* a browser of old sends the whole path: its last part is the name */
	const char *base = filename;
	for (const char *p = filename; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	snprintf(r->part_filename, sizeof(r->part_filename), "%s", base);
	if (r->f.error[0]) {
		fm_fail(c, "%s", r->f.error);
		return 1;
	}
	fm_action a = action_of(c, r);
	if (a == ACT_NONE)
		return 1;
	if (a != ACT_ADD && a != ACT_UPDATE) {
		fm_fail(c, "%s takes no file", r->f.action);
		return 1;
	}
	return fm_file_begin(c, r, a == ACT_UPDATE) || r->answered;
}

static int on_file_data(void *ctx, const void *data, size_t len)
{
	fm_request *r = (fm_request *)ctx;
	return fm_file_data(r->conn, r, data, len) || r->answered;
}

static int on_file_end(void *ctx)
{
	(void)ctx; /* the upload completes with the body, after any later field */
	return 0;
}

/* ---- the endpoint ---- */

static int fm_on_request(cb_conn *c)
{
	fm_request *r = (fm_request *)conn_state(c);
	r->conn = c;
	r->f.use_chunks = r->f.is_private = r->f.keep_original = r->f.last_chunk = -1;
	r->f.start = r->f.end = -1;
	node_init(&r->target);
	if (!conn_user(c))
		return fm_fail(c, "no session: log in first");
	uint64_t max = conn_config(c)->max_upload_size;
	if (conn_content_length(c) > max) {
		char msg[FM_MSG_MAX];
		snprintf(msg, sizeof(msg), "file too large: the limit is %llu bytes",
			 (unsigned long long)max);
		return fail_text(c, 413, msg); /* before the body: an HTTP refusal too */
	}
	/* the action may come in the query string too */
	if (!conn_query(c, "action", r->f.action, sizeof(r->f.action)))
		r->f.action[0] = 0;
	char type[512];
	const char *err;
	const cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, r};
	r->form = form_new(conn_header(c, CB_HDR_CONTENT_TYPE, type, sizeof(type)), &sink, &err);
	if (!r->form && conn_content_length(c))
		return fm_fail(c, "%s", err);
	return 0;
}

static int fm_on_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	fm_request *r = (fm_request *)conn_state(c);
	if (r->answered)
		return 0;
	int rc = r->form ? form_feed(r->form, data, len) : 0;
	if (!rc && (flags & CB_MSG_FINAL))
		rc = r->form ? form_end(r->form) : 0;
	if (rc < 0 && !r->answered)
		return fm_fail(c, "bad form: %s", form_error(r->form));
	if (!r->answered && (flags & CB_MSG_FINAL))
		finish(c, r);
	return r->dropped ? -1 : 0;
}

static void fm_on_close(cb_conn *c)
{
	fm_request *r = (fm_request *)conn_state(c);
	fm_upload_close(r);
	if (r->form)
		form_free(r->form);
	cJSON_Delete(r->f.tags);
	node_clear(&r->target);
}

const cb_endpoint fm_endpoints[] = {
	{CB_HTTP, CB_POST, "/fm", CB_STREAM_BODY, sizeof(fm_request), fm_on_request, NULL,
	 fm_on_receive, fm_on_close, NULL, NULL, NULL},
	{CB_HTTP, CB_GET, "/u/*", 0, 0, fm_serve, NULL, NULL, NULL, NULL, NULL, NULL},
	{},
};
