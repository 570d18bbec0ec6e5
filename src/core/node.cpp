/* node.cpp: the node, the one record every protocol sees: its JSON record,
 * the name index that keeps names unique per (owner, parent) among live
 * nodes, the trash, content revisions, and the listings.
 *
 * Index keys (LMDB keys are at most 511 bytes, a parent path can be 1024):
 *   names:     owner \0 SHA-256(parent) name   -> id
 *   trash:     owner \0 id                     -> ""
 *   revisions: node \0 seq(16 hex)             -> revision JSON
 * A revision's sequence number, not its time, orders the keys: several
 * revisions can be made within one millisecond. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sha2.h>

#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/jsonpatch.h"
#include "cubby/log.h"
#include "store_internal.h"

void node_init(cb_node *n)
{
	memset(n, 0, sizeof(*n));
	n->tags = cJSON_CreateArray();
}

void node_clear(cb_node *n)
{
	cJSON_Delete(n->tags);
	cJSON_Delete(n->meta);
	cJSON_Delete(n->grants);
	n->tags = NULL;
	n->meta = NULL;
	n->grants = NULL;
}

/* A client may choose a node's id (spec 1 project uuids); it is a key,
 * never a file name, but keep it to a plain id alphabet. */
bool node_id_ok(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > CB_ID_LEN || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789._-") == len;
}

static bool tags_ok(const cJSON *tags)
{
	const cJSON *t;
	if (!cJSON_IsArray(tags))
		return false;
	cJSON_ArrayForEach(t, tags) if (!cJSON_IsString(t)) return false;
	return true;
}

cJSON *node_to_json(const cb_node *n)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "id", n->id);
	cJSON_AddStringToObject(j, "kind", n->kind);
	cJSON_AddStringToObject(j, "owner", n->owner);
	cJSON_AddStringToObject(j, "name", n->name);
	cJSON_AddStringToObject(j, "parent", n->parent);
	cJSON_AddStringToObject(j, "mime", n->mime);
	cJSON_AddStringToObject(j, "md5", n->md5);
	cJSON_AddNumberToObject(j, "size", (double)n->size);
	cJSON_AddNumberToObject(j, "created", (double)n->created);
	cJSON_AddNumberToObject(j, "modified", (double)n->modified);
	cJSON_AddNumberToObject(j, "trashed", (double)n->trashed);
	cJSON_AddNumberToObject(j, "anyone", n->anyone);
	cJSON_AddStringToObject(j, "anyone_by", n->anyone_by);
	cJSON_AddStringToObject(j, "blob", n->blob);
	cJSON_AddStringToObject(j, "original", n->original);
	cJSON_AddStringToObject(j, "thumb", n->thumb);
	cJSON_AddItemToObject(j, "tags", n->tags ? cJSON_Duplicate(n->tags, 1)
						 : cJSON_CreateArray());
	return j;
}

cb_status node_from_json(const cJSON *j, cb_node *n)
{
	json_copy_str(j, "id", n->id, sizeof(n->id));
	json_copy_str(j, "kind", n->kind, sizeof(n->kind));
	json_copy_str(j, "owner", n->owner, sizeof(n->owner));
	json_copy_str(j, "name", n->name, sizeof(n->name));
	json_copy_str(j, "parent", n->parent, sizeof(n->parent));
	json_copy_str(j, "mime", n->mime, sizeof(n->mime));
	json_copy_str(j, "md5", n->md5, sizeof(n->md5));
	n->size = (uint64_t)json_int(j, "size");
	n->created = json_int(j, "created");
	n->modified = json_int(j, "modified");
	n->trashed = json_int(j, "trashed");
	n->anyone = (cb_role)json_int(j, "anyone");
	json_copy_str(j, "anyone_by", n->anyone_by, sizeof(n->anyone_by));
	json_copy_str(j, "blob", n->blob, sizeof(n->blob));
	json_copy_str(j, "original", n->original, sizeof(n->original));
	json_copy_str(j, "thumb", n->thumb, sizeof(n->thumb));
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
	cJSON *copy = tags_ok(tags) ? cJSON_Duplicate(tags, 1) : cJSON_CreateArray();
	if (!copy)
		return CB_ERR_NOMEM;
	cJSON_Delete(n->tags);
	n->tags = copy;
	return CB_OK;
}

/* ---- keys ---- */

#define NAME_KEY_MAX (CB_ID_LEN + 1 + SHA256_DIGEST_LENGTH + CB_NAME_MAX)

/* owner \0 SHA-256(parent): the prefix shared by a directory's entries. */
static size_t dir_prefix(char *key, const char *owner, const char *parent)
{
	size_t lo = strlen(owner);
	SHA2_CTX c;
	memcpy(key, owner, lo);
	key[lo] = 0;
	SHA256Init(&c);
	SHA256Update(&c, (const uint8_t *)parent, strlen(parent));
	SHA256Final((uint8_t *)key + lo + 1, &c);
	return lo + 1 + SHA256_DIGEST_LENGTH;
}

static size_t name_key(char *key, const char *owner, const char *parent, const char *name)
{
	size_t len = dir_prefix(key, owner, parent), ln = strlen(name);
	memcpy(key + len, name, ln);
	return len + ln;
}

/* ---- reading ---- */

cb_status node_load_txn(MDB_txn *t, cb_store *st, const char *id, cb_node *out, int flags)
{
	cJSON *j;
	if (!node_id_ok(id))
		return CB_ERR_NOTFOUND;
	cb_status s = db_get_json(t, st->nodes, id, strlen(id), &j);
	if (s)
		return s;
	s = node_from_json(j, out);
	cJSON_Delete(j);
	cJSON_Delete(out->meta);
	cJSON_Delete(out->grants);
	out->meta = NULL;
	out->grants = NULL;
	if (!s && (flags & CB_NODE_META)) {
		s = db_get_json(t, st->meta, id, strlen(id), &out->meta);
		if (s == CB_ERR_NOTFOUND)
			s = CB_OK;
	}
	if (!s && (flags & CB_NODE_GRANTS))
		s = grants_json_txn(t, st, out, &out->grants);
	return s;
}

cb_status node_open_txn(MDB_txn *t, cb_store *st, const char *actor, const char *id,
			cb_access want, cb_node *out, int flags)
{
	cb_status s = node_load_txn(t, st, id, out, flags);
	if (!s)
		s = store_access_txn(t, st, out, actor, want);
	if (s) {
		node_clear(out);
		node_init(out);
	}
	return s;
}

cb_status store_node_get(cb_store *st, const char *actor, const char *id, cb_node *out, int flags)
{
	store_txn txn;
	cb_status s = txn.begin(st, false);
	return s ? s : node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, out, flags);
}

cb_status node_find_txn(MDB_txn *t, cb_store *st, const char *owner,
			const char *parent, const char *name, char id_out[CB_ID_LEN + 1])
{
	char key[NAME_KEY_MAX];
	if (strlen(owner) > CB_ID_LEN || strlen(name) > CB_NAME_MAX)
		return CB_ERR_NOTFOUND;
	MDB_val k = {name_key(key, owner, parent, name), key}, v;
	int rc = mdb_get(t, st->names, &k, &v);
	if (rc)
		return store_mdb_status(rc);
	if (v.mv_size > CB_ID_LEN)
		return CB_ERR_IO;
	memcpy(id_out, v.mv_data, v.mv_size);
	id_out[v.mv_size] = 0;
	return CB_OK;
}

cb_status store_node_find(cb_store *st, const char *actor, const char *owner,
			  const char *parent, const char *name, cb_node *out)
{
	store_txn txn;
	char id[CB_ID_LEN + 1], norm[CB_PATH_MAX + 1];
	if (path_normalize(parent, strlen(parent), norm, sizeof(norm)))
		return CB_ERR_NOTFOUND;
	cb_status s = txn.begin(st, false);
	if (!s)
		s = node_find_txn(txn.t, st, owner, norm, name, id);
	return s ? s : node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, out, 0);
}

/* ---- writing ---- */

static cb_status node_put(MDB_txn *t, cb_store *st, const cb_node *n)
{
	cJSON *j = node_to_json(n);
	if (!j)
		return CB_ERR_NOMEM;
	cb_status s = db_put_json(t, st->nodes, n->id, strlen(n->id), j);
	cJSON_Delete(j);
	return s;
}

static cb_status name_put(MDB_txn *t, cb_store *st, const cb_node *n)
{
	char key[NAME_KEY_MAX];
	MDB_val k = {name_key(key, n->owner, n->parent, n->name), key};
	MDB_val v = {strlen(n->id), (void *)n->id};
	return store_mdb_status(mdb_put(t, st->names, &k, &v, MDB_NOOVERWRITE));
}

static cb_status name_del(MDB_txn *t, cb_store *st, const cb_node *n)
{
	char key[NAME_KEY_MAX];
	return db_del(t, st->names, key, name_key(key, n->owner, n->parent, n->name));
}

static cb_status trash_key_op(MDB_txn *t, cb_store *st, const cb_node *n, bool add)
{
	char key[2 * (CB_ID_LEN + 1)];
	size_t len = key_pair(key, n->owner, n->id);
	if (!add)
		return db_del(t, st->trash, key, len);
	MDB_val k = {len, key}, v = {0, (void *)""};
	return store_mdb_status(mdb_put(t, st->trash, &k, &v, 0));
}

static bool name_taken(MDB_txn *t, cb_store *st, const cb_node *n)
{
	char id[CB_ID_LEN + 1];
	return node_find_txn(t, st, n->owner, n->parent, n->name, id) == CB_OK &&
	       strcmp(id, n->id) != 0;
}

/* Makes n->name free in its directory: as it is, or with CB_NAME_SUFFIX
 * as "stem (N).ext", the way a file manager names a copy. */
static cb_status claim_name(MDB_txn *t, cb_store *st, cb_node *n, int flags)
{
	if (!name_taken(t, st, n))
		return CB_OK;
	if (!(flags & CB_NAME_SUFFIX))
		return CB_ERR_EXISTS;
	char orig[CB_NAME_MAX + 1];
	snprintf(orig, sizeof(orig), "%s", n->name);
	const char *dot = strrchr(orig, '.');
	/* no extension, or one too long to leave room for a stem and " (N)" */
	if (!dot || dot == orig || strlen(dot) > CB_NAME_MAX - 16)
		dot = orig + strlen(orig);
	int stem = (int)(dot - orig);
	for (int i = 2; i < 10000; i++) {
		char suffix[16];
		int sl = snprintf(suffix, sizeof(suffix), " (%d)", i);
		int keep = stem;
		if (keep + sl + (int)strlen(dot) > CB_NAME_MAX)
			keep = CB_NAME_MAX - sl - (int)strlen(dot);
		keep = (int)utf8_prefix(orig, (size_t)keep);
		snprintf(n->name, sizeof(n->name), "%.*s%s%s", keep, orig, suffix, dot);
		if (!name_taken(t, st, n))
			return CB_OK;
	}
	return CB_ERR_EXISTS;
}

/* Checks and normalizes what a client may set: name, parent, tags. */
cb_status node_validate(cb_node *n)
{
	char parent[CB_PATH_MAX + 1];
	if (path_check_name(n->name, strlen(n->name)) ||
	    path_normalize(n->parent, strlen(n->parent), parent, sizeof(parent)))
		return CB_ERR_INVAL;
	memcpy(n->parent, parent, sizeof(parent));
	if (!n->kind[0])
		snprintf(n->kind, sizeof(n->kind), "file");
	if (n->tags && !tags_ok(n->tags))
		return CB_ERR_INVAL;
	if (n->anyone < CB_ROLE_NONE || n->anyone > CB_ROLE_WRITER)
		return CB_ERR_INVAL;
	return CB_OK;
}

static cb_status meta_put(MDB_txn *t, cb_store *st, const cb_node *n)
{
	return db_put_json(t, st->meta, n->id, strlen(n->id), n->meta);
}

cb_status node_create_txn(MDB_txn *t, cb_store *st, const char *actor, cb_node *n, int flags)
{
	cb_status s;
	if (actor)
		snprintf(n->owner, sizeof(n->owner), "%s", actor);
	if (!n->owner[0] || (s = node_validate(n)))
		return CB_ERR_INVAL;
	if (!n->id[0]) {
		if (id_uuid4(n->id))
			return CB_ERR_IO;
	} else if (!node_id_ok(n->id)) {
		return CB_ERR_INVAL;
	}
	MDB_val k = {strlen(n->id), n->id}, v;
	if (mdb_get(t, st->nodes, &k, &v) == 0)
		return CB_ERR_EXISTS;
	if ((s = claim_name(t, st, n, flags)))
		return s;
	n->created = n->modified = cb_now_ms();
	n->trashed = 0;
	if ((s = node_put(t, st, n)) || (s = name_put(t, st, n)))
		return s;
	if (n->meta && (s = meta_put(t, st, n)))
		return s;
	if (n->blob[0])
		s = blob_ref_add(t, st, n->blob, n->owner, n->id, n->size);
	return s;
}

cb_status store_node_create(cb_store *st, const char *actor, cb_node *n, int flags)
{
	/* content comes only through an upload (blob.cpp), never from a
	 * client's choice of blob id */
	n->blob[0] = n->original[0] = n->thumb[0] = n->md5[0] = 0;
	n->size = 0;
	store_txn txn;
	ev_pending ev;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_create_txn(txn.t, st, actor, n, flags);
	if (!s)
		events_prepare(txn.t, st, &ev, CB_EV_CREATED, actor, n->id);
	if (!s && !(s = txn.commit()))
		events_publish(st, &ev);
	return s;
}

/* Registers n->thumb (a blob fresh from blob_put, or "") as n's
 * thumbnail, charged to n's owner, and queues the old one for deletion. */
static cb_status thumb_swap(MDB_txn *t, cb_store *st, const cb_node *n, const char *old_thumb,
			    id_list *gc)
{
	if (!strcmp(n->thumb, old_thumb))
		return CB_OK; /* the same one again: nothing changes */
	/* the old one goes first, so that a user at the quota can swap */
	cb_status s = old_thumb[0] ? blob_ref_drop(t, st, old_thumb, gc) : CB_OK;
	if (!s && n->thumb[0]) {
		int64_t size = blob_size(st, n->thumb);
		if (size < 0)
			return CB_ERR_NOTFOUND;
		if (st->cfg->quota && usage_get(t, st, n->owner) + (uint64_t)size > st->cfg->quota)
			return CB_ERR_QUOTA;
		s = blob_ref_add(t, st, n->thumb, n->owner, n->id, (uint64_t)size);
	}
	return s;
}

/* A failed update deletes the fresh thumbnail it was given (unless it
 * belongs to a node after all), so failures cannot fill the disk. */
static void thumb_forget(cb_store *st, store_txn *txn, const char *thumb)
{
	txn->abort();
	id_list gc;
	if (!id_is_uuid(thumb) || txn->begin(st, false))
		return;
	bool owned = blob_ref_exists(txn->t, st, thumb);
	txn->abort();
	if (!owned && !id_list_add(&gc, thumb))
		blobs_unlink(st, &gc);
}

/* The UPDATED event's patch and revert: given (a metadata patch), or
 * the difference between the node as it was and as the event shows it. */
static void event_patch(ev_pending *ev, const cb_node *old, const cJSON *patch,
			const cJSON *revert)
{
	if (!ev->on)
		return;
	if (patch) {
		ev->patch = cJSON_Duplicate(patch, 1);
		ev->revert = cJSON_Duplicate(revert, 1);
		return;
	}
	cJSON *before = node_json(old), *after = node_json(&ev->node);
	/* like a client's patch, it leaves out the time of the change, so
	 * that its revert may be sent back as one */
	if (before && after)
		cJSON_ReplaceItemInObjectCaseSensitive(after, "modified",
						       cJSON_CreateNumber((double)old->modified));
	if (before && after) {
		ev->patch = jsonpatch_diff(before, after);
		ev->revert = jsonpatch_diff(after, before);
	}
	cJSON_Delete(before);
	cJSON_Delete(after);
}

cb_status node_update(cb_store *st, const char *actor, cb_node *n, int flags,
			     const cJSON *patch, const cJSON *revert)
{
	store_txn txn;
	ev_pending ev;
	id_list gc;
	cb_node old;
	node_init(&old);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, n->id, CB_ACCESS_WRITE, &old, 0);
	/* the old node in full only when someone will hear of the change;
	 * best effort: an unreadable meta must not block the change */
	if (!s && !patch && events_wanted(st, CB_EV_UPDATED, n->id) &&
	    node_load_txn(txn.t, st, n->id, &old, CB_NODE_META | CB_NODE_GRANTS))
		s = node_load_txn(txn.t, st, n->id, &old, 0);
	/* Making a node public or private is a grant to everyone. */
	if (!s && n->anyone != old.anyone) {
		bool reader_only = n->anyone <= CB_ROLE_READER && old.anyone <= CB_ROLE_READER;
		s = store_access_txn(txn.t, st, &old, actor,
				     reader_only ? CB_ACCESS_SHARE_READER : CB_ACCESS_SHARE);
	}
	if (!s)
		s = node_validate(n);
	if (s)
		goto out;

	/* the server owns these */
	memcpy(n->owner, old.owner, sizeof(n->owner));
	if (n->anyone == old.anyone)
		memcpy(n->anyone_by, old.anyone_by, sizeof(n->anyone_by));
	else
		snprintf(n->anyone_by, sizeof(n->anyone_by), "%s", actor ? actor : "");
	memcpy(n->md5, old.md5, sizeof(n->md5));
	memcpy(n->blob, old.blob, sizeof(n->blob));
	memcpy(n->original, old.original, sizeof(n->original));
	if (!(flags & CB_NODE_THUMB))
		memcpy(n->thumb, old.thumb, sizeof(n->thumb));
	else if ((s = thumb_swap(txn.t, st, n, old.thumb, &gc)))
		goto out;
	n->size = old.size;
	n->created = old.created;
	n->trashed = old.trashed;
	n->modified = cb_now_ms();

	if (!old.trashed && (strcmp(n->name, old.name) || strcmp(n->parent, old.parent))) {
		if ((s = claim_name(txn.t, st, n, flags)) || (s = name_del(txn.t, st, &old)) ||
		    (s = name_put(txn.t, st, n)))
			goto out;
	}
	if (!(s = node_put(txn.t, st, n)) && (!n->meta || !(s = meta_put(txn.t, st, n)))) {
		events_prepare(txn.t, st, &ev, CB_EV_UPDATED, actor, n->id);
		event_patch(&ev, &old, patch, revert);
		if (!(s = txn.commit())) {
			blobs_unlink(st, &gc);
			events_publish(st, &ev);
		}
	}
out:
	node_clear(&old);
	if (s && (flags & CB_NODE_THUMB) && n->thumb[0])
		thumb_forget(st, &txn, n->thumb);
	return s;
}

cb_status store_node_update(cb_store *st, const char *actor, cb_node *n, int flags)
{
	return node_update(st, actor, n, flags, NULL, NULL);
}

cb_status store_node_trash(cb_store *st, const char *actor, const char *id)
{
	store_txn txn;
	ev_pending ev;
	cb_node n;
	node_init(&n);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_DELETE, &n, 0);
	if (!s && n.trashed)
		s = CB_ERR_STATE;
	if (!s) {
		n.trashed = cb_now_ms();
		/* the grants stay with a trashed node: the event counts them */
		if (!(s = name_del(txn.t, st, &n)) && !(s = trash_key_op(txn.t, st, &n, true)) &&
		    !(s = node_put(txn.t, st, &n))) {
			events_prepare(txn.t, st, &ev, CB_EV_DELETED, actor, n.id);
			if (!(s = txn.commit()))
				events_publish(st, &ev);
		}
	}
	node_clear(&n);
	return s;
}

cb_status store_node_recover(cb_store *st, const char *actor, const char *id, cb_node *out)
{
	store_txn txn;
	ev_pending ev;
	cb_node n;
	node_init(&n);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_DELETE, &n, 0);
	if (!s && !n.trashed)
		s = CB_ERR_STATE;
	if (!s) {
		n.trashed = 0;
		if (!(s = claim_name(txn.t, st, &n, CB_NAME_SUFFIX)) &&
		    !(s = trash_key_op(txn.t, st, &n, false)) && !(s = name_put(txn.t, st, &n)) &&
		    !(s = node_put(txn.t, st, &n))) {
			events_prepare(txn.t, st, &ev, CB_EV_RECOVERED, actor, n.id);
			if (!(s = txn.commit()))
				events_publish(st, &ev);
		}
	}
	if (!s && out) {
		node_clear(out);
		*out = n;
		return s;
	}
	node_clear(&n);
	return s;
}

/* Drops the revisions of node id beyond the newest `keep` (all of them
 * with keep 0), queueing their blobs. */
static cb_status revisions_trim(MDB_txn *t, cb_store *st, const char *id, size_t keep, id_list *gc)
{
	size_t plen = strlen(id) + 1, count = 0;
	cb_status s = db_scan(t, st->revisions, id, plen, [&](MDB_cursor *, MDB_val &, MDB_val &) {
		count++;
		return 0;
	});
	if (s || count <= keep)
		return s;
	size_t drop = count - keep;
	cb_status s2 = CB_OK;
	s = db_scan(t, st->revisions, id, plen, [&](MDB_cursor *c, MDB_val &, MDB_val &v) {
		cJSON *j = cJSON_ParseWithLength((const char *)v.mv_data, v.mv_size);
		if (j && *json_str(j, "blob"))
			s2 = blob_ref_drop(t, st, json_str(j, "blob"), gc);
		cJSON_Delete(j);
		if (!s2)
			s2 = store_mdb_status(mdb_cursor_del(c, 0));
		return s2 || --drop == 0;
	});
	return s ? s : s2;
}

cb_status store_node_purge(cb_store *st, const char *actor, const char *id)
{
	store_txn txn;
	ev_pending ev;
	id_list gc;
	cb_node n;
	char upload[CB_ID_LEN + 1] = "";
	node_init(&n);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_PURGE, &n, 0);
	/* the event shows the node, and counts the grants, as they were: a
	 * live node's readers learn that it is gone */
	if (!s)
		events_prepare(txn.t, st, &ev, n.trashed ? CB_EV_PURGED : CB_EV_DELETED, actor, n.id);
	if (!s)
		s = n.trashed ? trash_key_op(txn.t, st, &n, false) : name_del(txn.t, st, &n);
	if (!s)
		s = db_del(txn.t, st->nodes, n.id, strlen(n.id));
	if (!s && (s = db_del(txn.t, st->meta, n.id, strlen(n.id))) == CB_ERR_NOTFOUND)
		s = CB_OK;
	if (!s)
		s = grants_drop_node(txn.t, st, n.id);
	if (!s)
		s = revisions_trim(txn.t, st, n.id, 0, &gc);
	/* a node made again with the same id starts without it */
	if (!s)
		s = chain_forget_txn(txn.t, st, n.id, upload);
	const char *blobs[] = {n.blob, n.original, n.thumb};
	for (size_t i = 0; !s && i < 3; i++)
		if (blobs[i][0])
			s = blob_ref_drop(txn.t, st, blobs[i], &gc);
	if (!s && !(s = txn.commit())) {
		blobs_unlink(st, &gc);
		if (upload[0])
			partial_unlink(st, upload);
		events_publish(st, &ev);
	}
	node_clear(&n);
	return s;
}

/* The sequence number of node id's newest revision (0 when none). */
static cb_status revision_last_seq(MDB_txn *t, cb_store *st, const char *id, uint64_t *seq)
{
	size_t plen = strlen(id) + 1;
	*seq = 0;
	return db_scan(t, st->revisions, id, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &) {
		char hex[17];
		if (k.mv_size == plen + 16) {
			memcpy(hex, (const char *)k.mv_data + plen, 16);
			hex[16] = 0;
			*seq = strtoull(hex, NULL, 16);
		}
		return 0;
	});
}

/* A revision record into r; its patch is taken from j (r->patch owns it
 * then). */
static void revision_read(cJSON *j, cb_revision *r)
{
	json_copy_str(j, "id", r->id, sizeof(r->id));
	json_copy_str(j, "node", r->node, sizeof(r->node));
	json_copy_str(j, "user", r->user, sizeof(r->user));
	json_copy_str(j, "blob", r->blob, sizeof(r->blob));
	json_copy_str(j, "md5", r->md5, sizeof(r->md5));
	r->created = json_int(j, "created");
	r->size = (uint64_t)json_int(j, "size");
	r->patch = cJSON_DetachItemFromObjectCaseSensitive(j, "patch");
}

cb_status node_set_content_txn(MDB_txn *t, cb_store *st, const char *actor,
			       const char *id, const char *blob, uint64_t size,
			       const char *md5, const cJSON *patch, const cJSON *revert,
			       id_list *gc, ev_pending *ev)
{
	cb_node n;
	cJSON *r = NULL; /* the revision: the change, keeping the previous content */
	char rid[CB_ID_LEN + 1], key[CB_ID_LEN + 1 + 16 + 1];
	uint64_t seq = 0;
	int klen;
	node_init(&n);
	cb_status s = node_open_txn(t, st, actor, id, CB_ACCESS_WRITE, &n, 0);
	if (!s && !blob[0] && !n.blob[0])
		s = CB_ERR_STATE; /* no content to remove */
	if (!s)
		s = revision_last_seq(t, st, n.id, &seq);
	if (s)
		goto out;
	if (!(r = cJSON_CreateObject()) || id_uuid4(rid)) {
		s = CB_ERR_NOMEM;
		goto out;
	}
	cJSON_AddStringToObject(r, "id", rid);
	cJSON_AddStringToObject(r, "node", n.id);
	cJSON_AddStringToObject(r, "user", actor ? actor : n.owner);
	cJSON_AddNumberToObject(r, "created", (double)cb_now_ms());
	cJSON_AddStringToObject(r, "blob", n.blob);
	cJSON_AddNumberToObject(r, "size", (double)n.size);
	cJSON_AddStringToObject(r, "md5", n.md5);
	if (patch)
		cJSON_AddItemToObject(r, "patch", cJSON_Duplicate(patch, 1));
	klen = snprintf(key, sizeof(key), "%s%c%016llx", n.id, 0, (unsigned long long)(seq + 1));
	if ((s = db_put_json(t, st->revisions, key, (size_t)klen, r)) ||
	    (s = revisions_trim(t, st, n.id, st->cfg->revisions_keep, gc)))
		goto out;
	snprintf(n.blob, sizeof(n.blob), "%s", blob);
	snprintf(n.md5, sizeof(n.md5), "%s", blob[0] ? md5 : "");
	n.size = blob[0] ? size : 0;
	n.modified = cb_now_ms();
	if (!(s = node_put(t, st, &n)) && blob[0])
		s = blob_ref_add(t, st, blob, n.owner, n.id, size);
	if (!s && ev)
		events_prepare(t, st, ev, CB_EV_CONTENT, actor, n.id);
	if (!s && ev && ev->on) {
		/* announced also when revisions_keep 0 dropped it at once */
		revision_read(r, &ev->rev);
		if (!st->cfg->revisions_keep)
			ev->rev.blob[0] = 0; /* gone already */
		ev->has_rev = true;
		ev->patch = patch ? cJSON_Duplicate(patch, 1) : NULL;
		ev->revert = revert ? cJSON_Duplicate(revert, 1) : NULL;
	}
out:
	cJSON_Delete(r);
	node_clear(&n);
	return s;
}

cb_status store_node_set_content(cb_store *st, const char *actor, const char *id,
				 const char *blob, uint64_t size, const char *md5,
				 const cJSON *patch, const cJSON *revert)
{
	store_txn txn;
	ev_pending ev;
	id_list gc;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_set_content_txn(txn.t, st, actor, id, blob, size, md5, patch, revert,
					 &gc, &ev);
	if (!s && !(s = txn.commit())) {
		blobs_unlink(st, &gc);
		events_publish(st, &ev);
	}
	return s;
}

/* The original is a second name (a hard link) of the content's file:
 * blobs never change once written, so the two share the disk until the
 * content is replaced. It is charged like any blob. */
cb_status store_node_keep_original(cb_store *st, const char *actor, const char *id)
{
	store_txn txn;
	cb_node n;
	char orig[CB_ID_LEN + 1], from[PATH_MAX], to[PATH_MAX];
	node_init(&n);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_WRITE, &n, 0);
	if (!s && !n.blob[0])
		s = CB_ERR_STATE;
	if (s || n.original[0]) { /* the first one kept stays */
		node_clear(&n);
		return s;
	}
	if (st->cfg->quota && usage_get(txn.t, st, n.owner) + n.size > st->cfg->quota)
		s = CB_ERR_QUOTA;
	else if (id_uuid4(orig))
		s = CB_ERR_NOMEM;
	if (!s) {
		store_blob_path(st, n.blob, from, sizeof(from));
		store_blob_path(st, orig, to, sizeof(to));
		if (link(from, to)) {
			log_error("store: link %s: %s", to, strerror(errno));
			s = CB_ERR_IO;
		}
	}
	/* a crash before the commit leaves a link nothing refers to, which
	 * blob_recover() removes */
	if (!s) {
		memcpy(n.original, orig, sizeof(n.original));
		if ((s = blob_ref_add(txn.t, st, orig, n.owner, n.id, n.size)) ||
		    (s = node_put(txn.t, st, &n)) || (s = txn.commit()))
			unlink(to);
	}
	node_clear(&n);
	return s;
}

/* ---- listings ---- */

/* Loads each id a scan yields and hands the node to visit when it is in
 * the wanted state (live or trashed), of the wanted kind, and readable by
 * actor (NULL: no check). */
struct list_ctx {
	MDB_txn *t;
	cb_store *st;
	const char *actor;
	const char *kind;
	bool trashed;
	int flags; /* CB_NODE_META */
	cb_node_visit visit;
	void *ctx;
	cb_status s;
};

static int list_one(list_ctx *lc, const void *id, size_t idlen)
{
	char idz[CB_ID_LEN + 1];
	cb_node n;
	if (idlen > CB_ID_LEN)
		return 0;
	memcpy(idz, id, idlen);
	idz[idlen] = 0;
	node_init(&n);
	int stop = 0;
	lc->s = node_load_txn(lc->t, lc->st, idz, &n, lc->flags);
	if (lc->s == CB_ERR_NOTFOUND) {
		lc->s = CB_OK; /* an index entry without its node: skip it */
	} else if (lc->s) {
		stop = 1;
	} else if ((n.trashed != 0) == lc->trashed && (!lc->kind || !strcmp(lc->kind, n.kind)) &&
		   store_access_txn(lc->t, lc->st, &n, lc->actor, CB_ACCESS_READ) == CB_OK) {
		stop = lc->visit(&n, lc->ctx);
	}
	node_clear(&n);
	return stop;
}

/* Lists the nodes an index names under prefix: the id is the record's
 * value (names) or the rest of its key (trash, grants_by_user). */
static cb_status list_index(cb_store *st, MDB_dbi dbi, const void *prefix, size_t plen,
			    bool id_in_key, list_ctx lc)
{
	store_txn txn;
	cb_status s = txn.begin(st, false);
	if (s)
		return s;
	lc.t = txn.t;
	lc.st = st;
	s = db_scan(txn.t, dbi, prefix, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &v) {
		return id_in_key ? list_one(&lc, (const char *)k.mv_data + plen, k.mv_size - plen)
				 : list_one(&lc, v.mv_data, v.mv_size);
	});
	return s ? s : lc.s;
}

cb_status store_list_children(cb_store *st, const char *actor, const char *owner,
			      const char *parent, cb_node_visit visit, void *ctx)
{
	char key[NAME_KEY_MAX], norm[CB_PATH_MAX + 1];
	if (strlen(owner) > CB_ID_LEN || path_normalize(parent, strlen(parent), norm, sizeof(norm)))
		return CB_ERR_INVAL;
	return list_index(st, st->names, key, dir_prefix(key, owner, norm), false,
			  {NULL, NULL, actor, NULL, false, 0, visit, ctx, CB_OK});
}

cb_status store_list_owned(cb_store *st, const char *owner, const char *kind, int flags,
			   cb_node_visit visit, void *ctx)
{
	return list_index(st, st->names, owner, strlen(owner) + 1, false,
			  {NULL, NULL, NULL, kind, false, flags, visit, ctx, CB_OK});
}

cb_status store_list_trash(cb_store *st, const char *owner, const char *kind, int flags,
			   cb_node_visit visit, void *ctx)
{
	return list_index(st, st->trash, owner, strlen(owner) + 1, true,
			  {NULL, NULL, NULL, kind, true, flags, visit, ctx, CB_OK});
}

cb_status store_list_shared(cb_store *st, const char *user, const char *kind, int flags,
			    cb_node_visit visit, void *ctx)
{
	return list_index(st, st->grants_by_user, user, strlen(user) + 1, true,
			  {NULL, NULL, user, kind, false, flags, visit, ctx, CB_OK});
}

cb_status store_list_files(cb_store *st, const char *user, const char *parent,
			   const char *kind, const char *after, size_t limit, int flags,
			   cb_node_visit visit, void *ctx, bool *more)
{
	store_txn txn;
	id_list ids;
	size_t plen = strlen(user) + 1, i = 0, shown = 0;
	*more = false;
	cb_status s = txn.begin(st, false);
	/* owned (names: the id is the value), then shared (the key's tail) */
	if (!s)
		s = db_scan(txn.t, st->names, user, plen, [&](MDB_cursor *, MDB_val &, MDB_val &v) {
			char id[CB_ID_LEN + 1];
			snprintf(id, sizeof(id), "%.*s", (int)v.mv_size, (const char *)v.mv_data);
			return id_list_add(&ids, id) ? 1 : 0;
		});
	if (!s)
		s = grants_list(txn.t, st->grants_by_user, user, &ids);
	if (s)
		return s;
	if (ids.n)
		qsort(ids.ids, ids.n, sizeof(ids.ids[0]), id_cmp);
	while (i < ids.n && strcmp(ids.ids[i], after) <= 0)
		i++;
	for (; i < ids.n && !s; i++) {
		if (i && !strcmp(ids.ids[i], ids.ids[i - 1]))
			continue; /* both owned and granted */
		cb_node n;
		node_init(&n);
		cb_status ls = node_load_txn(txn.t, st, ids.ids[i], &n, flags);
		bool show = !ls && !n.trashed && (!kind || !strcmp(kind, n.kind)) &&
			    (!parent || !strcmp(parent, n.parent)) &&
			    store_access_txn(txn.t, st, &n, user, CB_ACCESS_READ) == CB_OK;
		if (ls && ls != CB_ERR_NOTFOUND)
			s = ls;
		int stop = 0;
		if (show && shown == limit)
			stop = *more = true;
		else if (show && ++shown)
			stop = visit(&n, ctx);
		node_clear(&n);
		if (stop)
			break;
	}
	return s;
}

cb_status store_list_revisions(cb_store *st, const char *actor, const char *id,
			       cb_revision_visit visit, void *ctx)
{
	store_txn txn;
	cb_node n;
	node_init(&n);
	cb_status s = txn.begin(st, false);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, &n, 0);
	node_clear(&n);
	if (s)
		return s;
	return db_scan(txn.t, st->revisions, id, strlen(id) + 1, [&](MDB_cursor *, MDB_val &, MDB_val &v) {
		cJSON *j = cJSON_ParseWithLength((const char *)v.mv_data, v.mv_size);
		if (!j)
			return 0;
		cb_revision r;
		memset(&r, 0, sizeof(r));
		revision_read(j, &r);
		int stop = visit(&r, ctx);
		cJSON_Delete(r.patch);
		cJSON_Delete(j);
		return stop;
	});
}

/* Each node is purged by store_node_purge() as the server, so each
 * publishes its own event: PURGED for one in the trash, DELETED (to all
 * who could read it) for a live one. */
cb_status store_purge_owner(cb_store *st, const char *owner)
{
	/* Collect first: purging while a cursor walks the same index is not
	 * safe. */
	id_list ids;
	cb_status s;
	{
		store_txn txn;
		if ((s = txn.begin(st, false)))
			return s;
		size_t plen = strlen(owner) + 1;
		s = db_scan(txn.t, st->names, owner, plen, [&](MDB_cursor *, MDB_val &, MDB_val &v) {
			char id[CB_ID_LEN + 1];
			snprintf(id, sizeof(id), "%.*s", (int)v.mv_size, (const char *)v.mv_data);
			return id_list_add(&ids, id) ? 1 : 0;
		});
		if (!s)
			s = db_scan(txn.t, st->trash, owner, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &) {
				char id[CB_ID_LEN + 1];
				snprintf(id, sizeof(id), "%.*s", (int)(k.mv_size - plen),
					 (const char *)k.mv_data + plen);
				return id_list_add(&ids, id) ? 1 : 0;
			});
	}
	for (size_t i = 0; !s && i < ids.n; i++)
		s = store_node_purge(st, NULL, ids.ids[i]);
	return s;
}
