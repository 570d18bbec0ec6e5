/* ws_api.cpp: protocol 1's `/ws` WebSocket (shared/spec/1, DESIGN §7,
 * docs/projects-files.md): sixteen project and file actions, each
 * answered in the document's form, and the broadcasts that keep every
 * client's view current: `users` on connect and disconnect, `list_update`
 * and `project_update`/`file_update` from the event bus, so changes made
 * through any endpoint reach every /ws client that may see them.
 *
 * A project is a `project` node named by its uuid in the owner's
 * `.projects` directory, its JSON the node's meta; a file is a `file`
 * node anywhere in the owner's space. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/log.h"
#include "cubby/mime.h"
#include "cubby/store.h"
#include "cubby/ws_api.h"

#define PROJECTS_DIR ".projects"
#define LOADED_MAX 1024 /* nodes a connection remembers having loaded */
#define ECHO_MAX 200    /* bytes of a bad message quoted back */

struct ws_client {
	lws_dll2_t link; /* in `clients` */
	cb_conn *conn;
	cb_subscriber sub;
	cb_message msg;
	/* the nodes this connection loaded, a ring of LOADED_MAX */
	char (*loaded)[CB_ID_LEN + 1];
	unsigned nloaded, next_loaded;
};

/* every open /ws connection, for `users` */
static lws_dll2_owner_t clients;
static bool stopping; /* the server is shutting down: no more broadcasts */

struct action;
typedef int (*action_fn)(ws_client *w, const action *a, const cJSON *value);

struct action {
	const char *name;
	const char *error_name; /* the document's name in the error form */
	const char *kind;       /* "project" or "file" */
	action_fn run;
};

/* ---- sending ---- */

static int send_json(ws_client *w, cJSON *j)
{
	conn_send_json(w->conn, j);
	cJSON_Delete(j);
	return 0; /* a client over its queue is being dropped: nothing to do */
}

static int send_typed(ws_client *w, const char *type, cJSON *value)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddItemToObject(j, "value", value);
	return send_json(w, j);
}

static int send_typed_str(ws_client *w, const char *type, const char *value)
{
	return send_typed(w, type, cJSON_CreateString(value));
}

/* {"type":"error","value":"<what>: <detail>"}: a message that is no
 * action at all ("unsupported event") or an unknown one ("unsupported
 * action"). A long detail is cut at ECHO_MAX bytes, on a UTF-8 character
 * boundary, and ends in "...". */
static int send_unsupported(ws_client *w, const char *what, const char *detail)
{
	char text[ECHO_MAX + 64];
	size_t len = strlen(detail);
	if (len <= ECHO_MAX) {
		snprintf(text, sizeof(text), "%s: %s", what, detail);
	} else {
		size_t cut = utf8_prefix(detail, ECHO_MAX);
		snprintf(text, sizeof(text), "%s: %.*s...", what, (int)cut, detail);
	}
	return send_typed_str(w, "error", text);
}

/* {"type":"error","action":...,"uuid":...,"value":...}; uuid NULL leaves
 * it out. */
static int send_error(ws_client *w, const action *a, const char *uuid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int send_error(ws_client *w, const action *a, const char *uuid, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "error");
	cJSON_AddStringToObject(j, "action", a->error_name);
	if (uuid)
		cJSON_AddStringToObject(j, "uuid", uuid);
	cJSON_AddStringToObject(j, "value", text);
	return send_json(w, j);
}

/* The error form of a failed core call. */
static int send_status(ws_client *w, const action *a, const char *uuid, cb_status s)
{
	switch (s) {
	case CB_ERR_NOTFOUND:
	case CB_ERR_EXISTS: /* an id in use by a node the user cannot see */
		return send_error(w, a, uuid, "%s not found", a->kind);
	case CB_ERR_ACCESS:
		return send_error(w, a, uuid, "you may not change this %s", a->kind);
	case CB_ERR_QUOTA:
		return send_error(w, a, uuid, "quota exceeded");
	case CB_ERR_NOSPACE:
		return send_error(w, a, uuid, "not enough free disk space");
	default:
		log_error("/ws %s: %s", a->name, cb_status_str(s));
		return send_error(w, a, uuid, "internal error: %s", cb_status_str(s));
	}
}

/* ---- what a connection loaded ---- */

static void remember_loaded(ws_client *w, const char *id)
{
	for (unsigned i = 0; i < w->nloaded; i++)
		if (!strcmp(w->loaded[i], id))
			return;
	if (!w->loaded && !(w->loaded = (char(*)[CB_ID_LEN + 1])calloc(LOADED_MAX, CB_ID_LEN + 1)))
		return; /* no memory: this client misses updates, nothing worse */
	snprintf(w->loaded[w->next_loaded], CB_ID_LEN + 1, "%s", id);
	w->next_loaded = (w->next_loaded + 1) % LOADED_MAX;
	if (w->nloaded < LOADED_MAX)
		w->nloaded++;
}

static bool has_loaded(const ws_client *w, const char *id)
{
	for (unsigned i = 0; i < w->nloaded; i++)
		if (!strcmp(w->loaded[i], id))
			return true;
	return false;
}

/* ---- nodes ---- */

static const char *actor(ws_client *w)
{
	return conn_user(w->conn)->id;
}

static cb_store *store(ws_client *w)
{
	return conn_store(w->conn);
}

/* Loads the node `id` of the action's kind that the user may read: in the
 * trash when `trashed`, else live. The wrong kind or state is NOTFOUND,
 * except a live node asked for in the trash: CB_ERR_STATE. */
static cb_status load_node(ws_client *w, const action *a, const char *id, bool trashed,
			   int flags, cb_node *n)
{
	if (strlen(id) > CB_ID_LEN)
		return CB_ERR_NOTFOUND;
	cb_status s = store_node_get(store(w), actor(w), id, n, flags);
	if (!s && strcmp(n->kind, a->kind))
		s = CB_ERR_NOTFOUND;
	if (!s && trashed && !n->trashed)
		s = CB_ERR_STATE;
	if (!s && !trashed && n->trashed)
		s = CB_ERR_NOTFOUND;
	return s;
}

/* The uuid an action's value names, or NULL after answering the error. */
static const char *value_uuid(ws_client *w, const action *a, const cJSON *value)
{
	if (cJSON_IsString(value) && value->valuestring[0])
		return value->valuestring;
	send_error(w, a, NULL, "expected a %s uuid", a->kind);
	return NULL;
}

/* The JSON object a save carries, as an object or as a string holding
 * one; NULL when there is none. The caller deletes it. */
static cJSON *value_object(const cJSON *value)
{
	cJSON *j = cJSON_IsString(value) ? cJSON_Parse(value->valuestring)
					 : cJSON_Duplicate(value, 1);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* The live node the action's uuid names, loaded into n (node_init'ed)
 * and remembered as loaded by this client, for project_update and
 * file_update. Answers the error itself and returns false when there
 * is none to load. */
static bool load_for_client(ws_client *w, const action *a, const cJSON *value, int flags,
			    cb_node *n)
{
	const char *id = value_uuid(w, a, value);
	if (!id)
		return false;
	cb_status s = load_node(w, a, id, false, flags, n);
	if (s) {
		send_status(w, a, id, s);
		return false;
	}
	remember_loaded(w, n->id);
	return true;
}

/* ---- lists ---- */

struct list_ctx {
	cJSON *array;
	const char *kind;
};

/* {"<uuid>": {...}}: a project's name, created, modified; a file's
 * name, type, size, md5, created, modified, tags. */
static int list_entry(const cb_node *n, void *ctx)
{
	list_ctx *lc = (list_ctx *)ctx;
	cJSON *o = cJSON_CreateObject();
	if (!strcmp(lc->kind, "project")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(n->meta, "name");
		cJSON_AddStringToObject(o, "name", cJSON_IsString(name) ? name->valuestring : "");
	} else {
		cJSON_AddStringToObject(o, "name", n->name);
		cJSON_AddStringToObject(o, "type", n->mime);
		cJSON_AddNumberToObject(o, "size", (double)n->size);
		cJSON_AddStringToObject(o, "md5", n->md5);
	}
	cJSON_AddNumberToObject(o, "created", (double)n->created);
	cJSON_AddNumberToObject(o, "modified", (double)n->modified);
	if (strcmp(lc->kind, "project"))
		cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(n->tags, 1));
	cJSON *entry = cJSON_CreateObject();
	cJSON_AddItemToObject(entry, n->id, o);
	cJSON_AddItemToArray(lc->array, entry);
	return 0;
}

/* A list of the action's kind: the user's trash, or its own live nodes
 * and those shared with it. */
static int send_list(ws_client *w, const action *a, bool trash)
{
	list_ctx lc = {cJSON_CreateArray(), a->kind};
	int flags = !strcmp(a->kind, "project") ? CB_NODE_META : 0;
	cb_status s;
	if (trash) {
		s = store_list_trash(store(w), actor(w), a->kind, flags, list_entry, &lc);
	} else {
		s = store_list_owned(store(w), actor(w), a->kind, flags, list_entry, &lc);
		if (!s)
			s = store_list_shared(store(w), actor(w), a->kind, flags, list_entry, &lc);
	}
	if (s) {
		cJSON_Delete(lc.array);
		return send_status(w, a, NULL, s);
	}
	return send_typed(w, a->name, lc.array);
}

/* project_list, file_list */
static int act_list(ws_client *w, const action *a, const cJSON *)
{
	return send_list(w, a, false);
}

/* project_trash_list, file_trash_list */
static int act_trash_list(ws_client *w, const action *a, const cJSON *)
{
	return send_list(w, a, true);
}

/* ---- the trash ---- */

/* project_delete, file_delete: to the trash. */
static int act_delete(ws_client *w, const action *a, const cJSON *value)
{
	const char *id = value_uuid(w, a, value);
	if (!id)
		return 0;
	cb_node n;
	node_init(&n);
	cb_status s = load_node(w, a, id, false, 0, &n);
	node_clear(&n);
	if (!s)
		s = store_node_trash(store(w), actor(w), id);
	return s ? send_status(w, a, id, s) : send_typed_str(w, a->name, id);
}

/* The uuid of a node in the user's trash that the action's value names,
 * or NULL after answering the error. */
static const char *trashed_uuid(ws_client *w, const action *a, const cJSON *value)
{
	const char *id = value_uuid(w, a, value);
	if (!id)
		return NULL;
	cb_node n;
	node_init(&n);
	cb_status s = load_node(w, a, id, true, 0, &n);
	node_clear(&n);
	if (s == CB_ERR_STATE)
		send_error(w, a, id, "%s is not in the trash", a->kind);
	else if (s)
		send_status(w, a, id, s);
	return s ? NULL : id;
}

/* project_recover, file_recover */
static int act_recover(ws_client *w, const action *a, const cJSON *value)
{
	const char *id = trashed_uuid(w, a, value);
	if (!id)
		return 0;
	cb_status s = store_node_recover(store(w), actor(w), id, NULL);
	return s ? send_status(w, a, id, s) : send_typed_str(w, a->name, id);
}

/* project_trash_delete, file_trash_delete: for good */
static int act_trash_delete(ws_client *w, const action *a, const cJSON *value)
{
	const char *id = trashed_uuid(w, a, value);
	if (!id)
		return 0;
	cb_status s = store_node_purge(store(w), actor(w), id);
	return s ? send_status(w, a, id, s) : send_typed_str(w, a->name, id);
}

/* ---- projects ---- */

static int act_project_load(ws_client *w, const action *a, const cJSON *value)
{
	cb_node n;
	node_init(&n);
	if (!load_for_client(w, a, value, CB_NODE_META, &n)) {
		node_clear(&n);
		return 0;
	}
	cJSON *project = n.meta ? n.meta : cJSON_CreateObject();
	n.meta = NULL;
	node_clear(&n);
	return send_typed(w, "project", project);
}

/* A project's uuid: the JSON's, or a new one written into it when the
 * JSON has none (missing, empty or "null"). false when it is not a
 * string. */
static bool project_uuid(cJSON *project, char out[CB_ID_LEN + 2])
{
	cJSON *u = cJSON_GetObjectItemCaseSensitive(project, "uuid");
	if (u && !cJSON_IsNull(u) && !cJSON_IsString(u))
		return false;
	if (cJSON_IsString(u) && u->valuestring[0] && strcmp(u->valuestring, "null")) {
		/* one byte more than an id: too long shows as invalid */
		snprintf(out, CB_ID_LEN + 2, "%s", u->valuestring);
		return true;
	}
	if (id_uuid4(out))
		return false;
	cJSON_DeleteItemFromObjectCaseSensitive(project, "uuid");
	cJSON_AddStringToObject(project, "uuid", out);
	return true;
}

/* A new project node for the JSON (which it takes) in the user's space. */
static cb_status project_create(ws_client *w, const char *id, cJSON *project, const cJSON *tags)
{
	cb_node n;
	node_init(&n);
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.kind, sizeof(n.kind), "project");
	snprintf(n.parent, sizeof(n.parent), PROJECTS_DIR);
	snprintf(n.name, sizeof(n.name), "%s", id);
	if (tags) {
		cJSON_Delete(n.tags);
		n.tags = cJSON_Duplicate(tags, 1);
	}
	n.meta = project;
	cb_status s = store_node_create(store(w), actor(w), &n, 0);
	node_clear(&n);
	return s;
}

static int act_project_save(ws_client *w, const action *a, const cJSON *value)
{
	char id[CB_ID_LEN + 2];
	cJSON *project = value_object(value);
	if (!project)
		return send_error(w, a, NULL, "expected a project JSON object");
	if (!project_uuid(project, id)) {
		cJSON_Delete(project);
		return send_error(w, a, NULL, "invalid project uuid");
	}
	if (strlen(id) > CB_ID_LEN) { /* answered with the uuid as sent */
		send_error(w, a, cJSON_GetObjectItemCaseSensitive(project, "uuid")->valuestring,
			   "invalid project uuid");
		cJSON_Delete(project);
		return 0;
	}
	cb_node n;
	node_init(&n);
	cb_status s = store_node_get(store(w), actor(w), id, &n, 0);
	if (s == CB_ERR_NOTFOUND) {
		s = project_create(w, id, project, NULL);
		if (s == CB_ERR_INVAL) {
			node_clear(&n);
			return send_error(w, a, id, "invalid project uuid");
		}
	} else if (!s && strcmp(n.kind, "project")) {
		cJSON_Delete(project);
		s = CB_ERR_NOTFOUND;
	} else if (!s && n.trashed) {
		cJSON_Delete(project);
		node_clear(&n);
		return send_error(w, a, id, "project is in the trash");
	} else if (!s) {
		n.meta = project;
		s = store_node_update(store(w), actor(w), &n, 0);
	} else {
		cJSON_Delete(project);
	}
	node_clear(&n);
	return s ? send_status(w, a, id, s) : send_typed_str(w, a->name, id);
}

static int act_project_duplicate(ws_client *w, const action *a, const cJSON *value)
{
	const char *id = value_uuid(w, a, value);
	if (!id)
		return 0;
	cb_node n;
	char copy_id[CB_ID_LEN + 1];
	node_init(&n);
	cb_status s = load_node(w, a, id, false, CB_NODE_META, &n);
	if (!s && id_uuid4(copy_id))
		s = CB_ERR_IO;
	if (!s) {
		cJSON *copy = n.meta ? cJSON_Duplicate(n.meta, 1) : cJSON_CreateObject();
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(copy, "name");
		const char *was = cJSON_IsString(old) ? old->valuestring : "";
		/* the JSON's name is not a node name: any length, never cut */
		size_t len = strlen(was) + sizeof(" (copy)");
		char *name = (char *)malloc(len);
		if (name)
			snprintf(name, len, "%s%s(copy)", was, was[0] ? " " : "");
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "name");
		cJSON_AddStringToObject(copy, "name", name ? name : "(copy)");
		free(name);
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "uuid");
		cJSON_AddStringToObject(copy, "uuid", copy_id);
		s = project_create(w, copy_id, copy, n.tags);
	}
	node_clear(&n);
	if (s)
		return send_status(w, a, id, s);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "uuid", id);
	cJSON_AddStringToObject(v, "new_uuid", copy_id);
	return send_typed(w, a->name, v);
}

/* ---- files ---- */

/* Fields of file JSON the server owns, or file_save handles itself. */
static bool file_field_reserved(const char *key)
{
	static const char *const reserved[] = {
		"uuid", "name", "type", "size", "md5", "created", "modified", "tags", "thumbnail",
	};
	for (const char *r : reserved)
		if (!strcmp(key, r))
			return true;
	return false;
}

static int act_file_load_meta(ws_client *w, const action *a, const cJSON *value)
{
	cb_node n;
	node_init(&n);
	if (!load_for_client(w, a, value, CB_NODE_META, &n)) {
		node_clear(&n);
		return 0;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "uuid", n.id);
	cJSON_AddStringToObject(o, "name", n.name);
	cJSON_AddStringToObject(o, "type", n.mime);
	cJSON_AddNumberToObject(o, "size", (double)n.size);
	cJSON_AddStringToObject(o, "md5", n.md5);
	cJSON_AddNumberToObject(o, "created", (double)n.created);
	cJSON_AddNumberToObject(o, "modified", (double)n.modified);
	cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(n.tags, 1));
	const cJSON *field;
	cJSON_ArrayForEach(field, n.meta)
		if (field->string && !file_field_reserved(field->string))
			cJSON_AddItemToObject(o, field->string, cJSON_Duplicate(field, 1));
	node_clear(&n);
	return send_typed(w, a->name, o);
}

/* The image to show for file n: its thumbnail blob, else its content
 * when that is a small image. false when it has none. */
static bool thumbnail_of(ws_client *w, const cb_node *n, const char **blob, int64_t *size)
{
	uint64_t max = conn_config(w->conn)->thumbnail_max;
	if (n->thumb[0]) {
		*blob = n->thumb;
		*size = blob_size(store(w), n->thumb);
		return *size >= 0;
	}
	char head[MIME_SNIFF_BYTES];
	if (!n->blob[0] || !n->size || n->size > max)
		return false;
	int64_t got = blob_read(store(w), n->blob, 0, head, sizeof(head));
	const char *type = got > 0 ? mime_sniff(head, (size_t)got) : NULL;
	if (!type || strncmp(type, "image/", 6))
		return false;
	*blob = n->blob;
	*size = (int64_t)n->size;
	return true;
}

/* One binary message: the uuid in 36 bytes, then the image. */
static int act_file_load_thumbnail(ws_client *w, const action *a, const cJSON *value)
{
	cb_node n;
	node_init(&n);
	if (!load_for_client(w, a, value, 0, &n)) {
		node_clear(&n);
		return 0;
	}
	const char *blob;
	int64_t size = 0;
	char *msg = NULL;
	cb_status s = CB_OK;
	if (!thumbnail_of(w, &n, &blob, &size))
		send_error(w, a, n.id, "file has no thumbnail");
	else if (!(msg = (char *)malloc(CB_ID_LEN + (size_t)size)))
		s = CB_ERR_NOMEM;
	else if (blob_read(store(w), blob, 0, msg + CB_ID_LEN, (size_t)size) != size)
		s = CB_ERR_IO;
	if (s) {
		send_status(w, a, n.id, s);
	} else if (msg) {
		memset(msg, ' ', CB_ID_LEN);
		memcpy(msg, n.id, strlen(n.id));
		conn_send(w->conn, msg, CB_ID_LEN + (size_t)size, true);
	}
	free(msg);
	node_clear(&n);
	return 0;
}

/* Decodes a base64 image (a "data:...;base64," prefix is skipped) into a
 * fresh blob. Answers the error itself and returns false when it cannot. */
static bool thumbnail_store(ws_client *w, const action *a, const char *id, const char *b64,
			    char blob[CB_ID_LEN + 1])
{
	uint64_t max = conn_config(w->conn)->thumbnail_max;
	const char *comma = strstr(b64, ";base64,");
	if (!strncmp(b64, "data:", 5) && comma)
		b64 = comma + 8;
	size_t len = strlen(b64);
	size_t body = strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_");
	size_t pad = strspn(b64 + body, "=");
	if (!body || body + pad != len || pad > 2 || (pad && len % 4) || body % 4 == 1) {
		send_error(w, a, id, "thumbnail is not valid base64");
		return false;
	}
	if (body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0) > max) {
		send_error(w, a, id, "thumbnail larger than %llu bytes", (unsigned long long)max);
		return false;
	}
	/* room to spare: libwebsockets 4.1 decodes short input only into a
	 * buffer larger than the text */
	char *image = (char *)malloc(len + 4);
	int n = image ? lws_b64_decode_string_len(b64, (int)len, image, (int)len + 4) : -1;
	cb_status s = n > 0 ? blob_put(store(w), image, (size_t)n, blob) : CB_ERR_NOMEM;
	free(image);
	if (n <= 0) {
		send_error(w, a, id, "thumbnail is not valid base64");
		return false;
	}
	if (s) {
		send_status(w, a, id, s);
		return false;
	}
	return true;
}

/* Applies the JSON of file_save to n: name, tags, the client's own
 * fields (null removes one), and the thumbnail (*flags gets
 * CB_NODE_THUMB). Answers the error itself and returns false when the
 * JSON is wrong. */
static bool file_apply(ws_client *w, const action *a, const cJSON *file, cb_node *n, int *flags)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(file, "name");
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(file, "tags");
	const cJSON *thumb = cJSON_GetObjectItemCaseSensitive(file, "thumbnail");
	if (name && (!cJSON_IsString(name) || strlen(name->valuestring) > CB_NAME_MAX)) {
		send_error(w, a, n->id, "invalid file name");
		return false;
	}
	if (name)
		snprintf(n->name, sizeof(n->name), "%s", name->valuestring);
	if (tags && !cJSON_IsNull(tags)) {
		const cJSON *t;
		bool ok = cJSON_IsArray(tags);
		cJSON_ArrayForEach(t, tags) ok = ok && cJSON_IsString(t);
		if (!ok) {
			send_error(w, a, n->id, "tags must be an array of strings");
			return false;
		}
	}
	if (tags) {
		cJSON_Delete(n->tags);
		n->tags = cJSON_IsNull(tags) ? cJSON_CreateArray() : cJSON_Duplicate(tags, 1);
	}
	if (!n->meta)
		n->meta = cJSON_CreateObject();
	const cJSON *field;
	cJSON_ArrayForEach(field, file) {
		if (!field->string || file_field_reserved(field->string))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(n->meta, field->string);
		if (!cJSON_IsNull(field))
			cJSON_AddItemToObject(n->meta, field->string, cJSON_Duplicate(field, 1));
	}
	if (thumb && !cJSON_IsNull(thumb) && !cJSON_IsString(thumb)) {
		send_error(w, a, n->id, "thumbnail is not valid base64");
		return false;
	}
	if (thumb) {
		*flags |= CB_NODE_THUMB;
		n->thumb[0] = 0;
		if (cJSON_IsString(thumb) && thumb->valuestring[0] &&
		    !thumbnail_store(w, a, n->id, thumb->valuestring, n->thumb))
			return false;
	}
	return true;
}

static int act_file_save(ws_client *w, const action *a, const cJSON *value)
{
	cJSON *file = value_object(value);
	const cJSON *uuid = cJSON_GetObjectItemCaseSensitive(file, "uuid");
	if (!cJSON_IsString(uuid) || !uuid->valuestring[0]) {
		cJSON_Delete(file);
		return send_error(w, a, NULL, "expected a file JSON object with a uuid");
	}
	const char *id = uuid->valuestring;
	int flags = CB_NAME_SUFFIX;
	cb_node n;
	node_init(&n);
	cb_status s = load_node(w, a, id, false, CB_NODE_META, &n);
	if (!s)
		s = store_access(store(w), &n, actor(w), CB_ACCESS_WRITE);
	if (s)
		send_status(w, a, id, s);
	else if (file_apply(w, a, file, &n, &flags)) {
		s = store_node_update(store(w), actor(w), &n, flags);
		if (s == CB_ERR_INVAL)
			send_error(w, a, id, "invalid file name");
		else if (s)
			send_status(w, a, id, s);
		else
			send_typed_str(w, a->name, id);
	}
	node_clear(&n);
	cJSON_Delete(file);
	return 0;
}

/* ---- dispatch ---- */

static const action actions[] = {
	{"project_list", "project_list", "project", act_list},
	{"project_load", "project_load", "project", act_project_load},
	{"project_save", "project_save", "project", act_project_save},
	{"project_delete", "project_delete", "project", act_delete},
	{"project_trash_list", "project_trash_list", "project", act_trash_list},
	{"project_recover", "project_trash_recover", "project", act_recover},
	{"project_trash_delete", "project_trash_delete", "project", act_trash_delete},
	{"project_duplicate", "project_duplicate", "project", act_project_duplicate},
	{"file_list", "file_list", "file", act_list},
	{"file_load_meta", "file_load", "file", act_file_load_meta},
	{"file_load_thumbnail", "file_load_thumbnail", "file", act_file_load_thumbnail},
	{"file_save", "file_save", "file", act_file_save},
	{"file_delete", "file_delete", "file", act_delete},
	{"file_trash_list", "file_trash_list", "file", act_trash_list},
	{"file_recover", "file_trash_recover", "file", act_recover},
	{"file_trash_delete", "file_trash_delete", "file", act_trash_delete},
};

static int handle_message(ws_client *w, const char *text, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "action");
	if (!cJSON_IsObject(j) || !cJSON_IsString(act)) {
		cJSON_Delete(j);
		return send_unsupported(w, "unsupported event", text);
	}
	for (const action &a : actions) {
		if (!strcmp(a.name, act->valuestring)) {
			int r = a.run(w, &a, cJSON_GetObjectItemCaseSensitive(j, "value"));
			cJSON_Delete(j);
			return r;
		}
	}
	int r = send_unsupported(w, "unsupported action", act->valuestring);
	cJSON_Delete(j);
	return r;
}

static int ws_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	ws_client *w = (ws_client *)conn_state(c);
	if (flags & CB_MSG_BINARY)
		return (flags & CB_MSG_FINAL) ? send_unsupported(w, "unsupported event", "binary message")
					      : 0;
	uint64_t max = conn_config(c)->max_message_size;
	int r = msg_add(&w->msg, data, len, flags, max);
	if (r <= 0)
		return r;
	if (w->msg.too_big) {
		char what[64];
		snprintf(what, sizeof(what), "message larger than %llu bytes", (unsigned long long)max);
		send_unsupported(w, "unsupported event", what);
	} else {
		handle_message(w, w->msg.data, w->msg.len);
	}
	msg_reset(&w->msg);
	return 0;
}

/* ---- broadcasts ---- */

static int send_users_to(lws_dll2_t *d, void *)
{
	ws_client *w = lws_container_of(d, ws_client, link);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "users");
	cJSON_AddNumberToObject(j, "value", (double)clients.count);
	send_json(w, j);
	return 0;
}

static void broadcast_users(void)
{
	if (!stopping)
		lws_dll2_foreach_safe(&clients, NULL, send_users_to);
}

enum { LIST_LIVE = 1, LIST_TRASH = 2 };

/* Which of the user's lists an event changes. */
static unsigned lists_changed(const cb_event *ev, const char *user)
{
	bool owner = !strcmp(user, ev->node->owner);
	unsigned here = ev->node->trashed ? (owner ? LIST_TRASH : 0) : LIST_LIVE;
	switch (ev->op) {
	case CB_EV_CREATED:
	case CB_EV_UPDATED:
	case CB_EV_CONTENT:
		return here;
	case CB_EV_DELETED: /* to the trash, or purged while live */
		return LIST_LIVE | (owner && ev->node->trashed ? LIST_TRASH : 0);
	case CB_EV_RECOVERED:
		return LIST_LIVE | (owner ? LIST_TRASH : 0);
	case CB_EV_PURGED:
		return LIST_TRASH;
	case CB_EV_ACCESS_GRANTED:
	case CB_EV_ACCESS_REMOVED:
		/* a public node is in nobody else's lists */
		return ev->subject && !strcmp(ev->subject, user) ? here : 0;
	case CB_EV_STREAM: /* not a change; /ws does not subscribe to it */
		return 0;
	}
	return 0;
}

/* The bus calls this for each change this client's user may see. */
static void on_event(const cb_event *ev, const char *user, void *ctx)
{
	ws_client *w = (ws_client *)ctx;
	const char *kind = ev->node->kind;
	if (ev->origin == w->conn || (strcmp(kind, "project") && strcmp(kind, "file")))
		return; /* its own change was answered; other kinds are not its business */
	char list[CB_KIND_MAX + 16], update[CB_KIND_MAX + 16];
	unsigned lists = lists_changed(ev, user);
	if (lists & LIST_LIVE) {
		snprintf(list, sizeof(list), "%s_list", kind);
		send_typed_str(w, "list_update", list);
	}
	if (lists & LIST_TRASH) {
		snprintf(list, sizeof(list), "%s_trash_list", kind);
		send_typed_str(w, "list_update", list);
	}
	if (ev->op != CB_EV_CREATED && has_loaded(w, ev->node->id)) {
		snprintf(update, sizeof(update), "%s_update", kind);
		send_typed_str(w, update, ev->node->id);
	}
}

/* ---- the connection ---- */

static int ws_open(cb_conn *c)
{
	ws_client *w = (ws_client *)conn_state(c);
	w->conn = c;
	w->sub.user = conn_user(c)->id;
	w->sub.fn = on_event;
	w->sub.ctx = w;
	events_subscribe(conn_store(c), &w->sub);
	lws_dll2_add_tail(&w->link, &clients);
	broadcast_users();
	return 0;
}

static void ws_close(cb_conn *c)
{
	ws_client *w = (ws_client *)conn_state(c);
	events_unsubscribe(conn_store(c), &w->sub);
	lws_dll2_remove(&w->link);
	msg_free(&w->msg);
	free(w->loaded);
	broadcast_users();
}

static void ws_shutdown(cb_conn *)
{
	stopping = true;
}

const cb_endpoint ws_api_endpoints[] = {
	{CB_WS, 0, "/ws", CB_NEED_USER, sizeof(ws_client), NULL, ws_open, ws_receive, ws_close,
	 NULL, NULL, ws_shutdown},
	{},
};
