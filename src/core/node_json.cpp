/* node_json.cpp: the store's objects as spec 3 shows them
 * (docs/files-api.md "Objects"): the file (node), the permission and the
 * revision. Core owns these shapes because metadata patches, and the
 * patches that describe every metadata change in events, are made on
 * the node's JSON; every protocol that shows a node this way uses these.
 * (The LMDB record of a node is node_to_json() in node.cpp.) */
#include <stdio.h>

#include "cubby/jsonpatch.h"
#include "store_internal.h"

cJSON *node_json(const cb_node *n)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	bool ok = cJSON_AddStringToObject(j, "id", n->id) &&
		  cJSON_AddStringToObject(j, "kind", n->kind) &&
		  cJSON_AddStringToObject(j, "owner", n->owner) &&
		  cJSON_AddStringToObject(j, "name", n->name) &&
		  cJSON_AddStringToObject(j, "parent", n->parent) &&
		  cJSON_AddStringToObject(j, "mime", n->mime) &&
		  cJSON_AddNumberToObject(j, "size", (double)n->size) &&
		  cJSON_AddStringToObject(j, "md5", n->md5) &&
		  cJSON_AddItemToObject(j, "tags", n->tags ? cJSON_Duplicate(n->tags, 1)
							    : cJSON_CreateArray()) &&
		  cJSON_AddItemToObject(j, "meta", n->meta ? cJSON_Duplicate(n->meta, 1)
							    : cJSON_CreateNull()) &&
		  cJSON_AddNumberToObject(j, "created", (double)n->created) &&
		  cJSON_AddNumberToObject(j, "modified", (double)n->modified) &&
		  cJSON_AddNumberToObject(j, "trashed", (double)n->trashed) &&
		  cJSON_AddItemToObject(j, "permissions", n->grants ? cJSON_Duplicate(n->grants, 1)
								    : cJSON_CreateObject());
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *permission_json(const char *node, const cb_grant *g)
{
	char key[2 * (CB_ID_LEN + 1)];
	bool anyone = !strcmp(g->user, CB_ANYONE);
	snprintf(key, sizeof(key), "%s:%s", node, g->user);
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	bool ok = cJSON_AddStringToObject(j, "kind", "Core#Permission") &&
		  cJSON_AddStringToObject(j, "key", key) &&
		  cJSON_AddStringToObject(j, "type", anyone ? "anyone" : "user") &&
		  cJSON_AddStringToObject(j, "id", g->user) &&
		  cJSON_AddStringToObject(j, "role", role_name(g->role) ? role_name(g->role) : "") &&
		  cJSON_AddStringToObject(j, "addingUser", g->adder ? g->adder : "");
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *revision_json(const cb_revision *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *mod = cJSON_CreateObject();
	bool ok = j && mod && cJSON_AddNumberToObject(mod, "time", (double)r->created) &&
		  cJSON_AddStringToObject(mod, "user", r->user);
	ok = ok && cJSON_AddStringToObject(j, "kind", "Core#Revision") &&
	     cJSON_AddStringToObject(j, "key", r->id) &&
	     cJSON_AddStringToObject(j, "id", r->node) &&
	     cJSON_AddNumberToObject(j, "created", (double)r->created) &&
	     cJSON_AddItemToObject(j, "patch", r->patch ? cJSON_Duplicate(r->patch, 1)
						       : cJSON_CreateNull()) &&
	     cJSON_AddNumberToObject(j, "size", (double)r->size) &&
	     cJSON_AddStringToObject(j, "md5", r->md5);
	if (ok) {
		cJSON_AddItemToObject(j, "modification", mod);
		return j;
	}
	cJSON_Delete(mod);
	cJSON_Delete(j);
	return NULL;
}

/* ---- patching the node's JSON ---- */

/* What a metadata patch may not touch, and what it may. */
static const char *const read_only[] = {"id",       "kind",    "owner",   "size",       "md5",
					"created",  "modified", "trashed", "permissions"};
static const char *const changeable[] = {"name", "parent", "mime", "tags", "meta"};

static bool listed(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Printable ASCII: a mime goes into Content-Type headers. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* cJSON_Compare(a, b), in linear time when two objects have their
 * members in the same order (as a patched copy mostly does): cJSON's own
 * looks each member up by name, which is quadratic in a node's grants. */
static bool json_same(const cJSON *a, const cJSON *b)
{
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b))
		return cJSON_Compare(a, b, 1);
	const cJSON *x = a->child, *y = b->child;
	for (; x && y; x = x->next, y = y->next)
		if (strcmp(x->string, y->string) || !cJSON_Compare(x, y, 1))
			return cJSON_Compare(a, b, 1);
	return !x && !y;
}

/* The patched document `doc` of node `old` into n (a copy of old with
 * the changeable fields from doc); CB_ERR_INVAL with err saying why. */
static cb_status node_from_patched(const cJSON *doc, const cJSON *orig, const cb_node *old,
				   cb_node *n, char *err, size_t errsz)
{
	const cJSON *m;
	for (const char *name : read_only) {
		if (!json_same(cJSON_GetObjectItemCaseSensitive(doc, name),
			       cJSON_GetObjectItemCaseSensitive(orig, name))) {
			snprintf(err, errsz, "read-only field: %s", name);
			return CB_ERR_INVAL;
		}
	}
	cJSON_ArrayForEach(m, doc) {
		if (!listed(m->string, read_only, sizeof(read_only) / sizeof(read_only[0])) &&
		    !listed(m->string, changeable, sizeof(changeable) / sizeof(changeable[0]))) {
			snprintf(err, errsz, "unknown field: %s", m->string);
			return CB_ERR_INVAL;
		}
	}
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
	const cJSON *parent = cJSON_GetObjectItemCaseSensitive(doc, "parent");
	const cJSON *mime = cJSON_GetObjectItemCaseSensitive(doc, "mime");
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "meta");
	const char *why = !cJSON_IsString(name)                           ? "name must be a string"
			  : strlen(name->valuestring) > CB_NAME_MAX         ? "name too long"
			  : parent && !cJSON_IsString(parent)               ? "parent must be a string"
			  : parent && strlen(parent->valuestring) > CB_PATH_MAX ? "parent too long"
			  : mime && !cJSON_IsString(mime)                   ? "mime must be a string"
			  : mime && strlen(mime->valuestring) > CB_MIME_MAX ? "mime too long"
			  : mime && !printable(mime->valuestring)           ? "mime must be printable ASCII"
			  : tags && !cJSON_IsArray(tags)                    ? "tags must be an array of strings"
									    : NULL;
	if (why) {
		snprintf(err, errsz, "invalid file: %s", why);
		return CB_ERR_INVAL;
	}
	node_init(n);
	memcpy(n->id, old->id, sizeof(n->id));
	memcpy(n->kind, old->kind, sizeof(n->kind));
	n->anyone = old->anyone;
	snprintf(n->name, sizeof(n->name), "%s", name->valuestring);
	snprintf(n->parent, sizeof(n->parent), "%s", parent ? parent->valuestring : "");
	snprintf(n->mime, sizeof(n->mime), "%s", mime ? mime->valuestring : "");
	cJSON_Delete(n->tags);
	n->tags = tags ? cJSON_Duplicate(tags, 1) : cJSON_CreateArray();
	/* a removed meta is null: stored, so that it is not kept as it was */
	n->meta = meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateNull();
	if (!n->tags || !n->meta)
		return CB_ERR_NOMEM;
	if (node_validate(n)) {
		snprintf(err, errsz, "invalid file: name, parent or tags not allowed");
		return CB_ERR_INVAL;
	}
	return CB_OK;
}

cb_status patch_error(cb_status s, const char *why, char *err, size_t errsz)
{
	if (s == CB_ERR_INVAL || s == CB_ERR_TEST)
		snprintf(err, errsz, "%s: %s", s == CB_ERR_TEST ? "test failed" : "invalid patch", why);
	return s;
}

cb_status store_node_patch(cb_store *st, const char *actor, const char *id,
			   const cJSON *patch, cJSON **revert, char *err, size_t errsz)
{
	cb_node old, n;
	cJSON *doc = NULL, *orig = NULL, *rev = NULL;
	char why[256];
	node_init(&old);
	node_init(&n);
	err[0] = 0;
	cb_status s;
	{
		store_txn txn;
		if (!(s = txn.begin(st, false)))
			s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_WRITE, &old,
					  CB_NODE_META | CB_NODE_GRANTS);
	}
	if (!s && (!(doc = node_json(&old)) || !(orig = cJSON_Duplicate(doc, 1))))
		s = CB_ERR_NOMEM;
	if (!s)
		s = patch_error(jsonpatch_apply(&doc, patch, &rev, why, sizeof(why)), why, err, errsz);
	if (!s) {
		node_clear(&n);
		s = node_from_patched(doc, orig, &old, &n, err, errsz);
	}
	if (!s)
		s = node_update(st, actor, &n, 0, patch, rev);
	if (!s && revert) {
		*revert = rev;
		rev = NULL;
	}
	cJSON_Delete(rev);
	cJSON_Delete(doc);
	cJSON_Delete(orig);
	node_clear(&n);
	node_clear(&old);
	return s;
}
