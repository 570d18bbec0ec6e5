/* store.cpp: the LMDB environment under <data_dir>/meta, its named
 * databases and schema version, transactions, record helpers, and the
 * bookkeeping of blobs (which node owns which file, and each user's usage).
 * Nodes live in node.cpp, permissions in access.cpp. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/log.h"
#include "store_internal.h"

#define SCHEMA_VERSION "1"

cb_status store_mdb_status(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return CB_OK;
	case MDB_NOTFOUND:
		return CB_ERR_NOTFOUND;
	case MDB_KEYEXIST:
		return CB_ERR_EXISTS;
	case MDB_MAP_FULL:
		return CB_ERR_NOSPACE;
	case ENOMEM:
		return CB_ERR_NOMEM;
	default:
		log_error("lmdb: %s", mdb_strerror(rc));
		return CB_ERR_IO;
	}
}

cb_status store_txn::begin(cb_store *st, bool write)
{
	abort();
	return store_mdb_status(mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t));
}

cb_status store_txn::commit()
{
	int rc = mdb_txn_commit(t);
	t = nullptr;
	return store_mdb_status(rc);
}

cb_status db_get_json(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen,
		      cJSON **out)
{
	MDB_val k = {keylen, (void *)key}, v;
	int rc = mdb_get(t, dbi, &k, &v);
	if (rc)
		return store_mdb_status(rc);
	*out = cJSON_ParseWithLength((const char *)v.mv_data, v.mv_size);
	if (!*out) {
		log_error("store: unreadable record (%zu bytes)", v.mv_size);
		return CB_ERR_IO;
	}
	return CB_OK;
}

cb_status db_put_json(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen,
		      const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);
	if (!text)
		return CB_ERR_NOMEM;
	MDB_val k = {keylen, (void *)key}, d = {strlen(text), text};
	int rc = mdb_put(t, dbi, &k, &d, 0);
	cJSON_free(text);
	return store_mdb_status(rc);
}

cb_status db_del(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen)
{
	MDB_val k = {keylen, (void *)key};
	return store_mdb_status(mdb_del(t, dbi, &k, NULL));
}

int id_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

size_t key_pair(char *key, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	memcpy(key, a, la);
	key[la] = 0;
	memcpy(key + la + 1, b, lb);
	return la + 1 + lb;
}

const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(i) ? i->valuestring : "";
}

int64_t json_int(const cJSON *o, const char *name)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(i) ? (int64_t)i->valuedouble : 0;
}

void json_copy_str(const cJSON *o, const char *name, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s", json_str(o, name));
}

/* ---- the environment ---- */

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST)
		return 0;
	log_error("store: cannot create %s: %s", path, strerror(errno));
	return -1;
}

static cb_status open_dbis(cb_store *st)
{
	static const struct {
		const char *name;
		size_t off;
	} dbs[] = {
		{"info", offsetof(cb_store, info)},
		{"users", offsetof(cb_store, users)},
		{"users_by_id", offsetof(cb_store, users_by_id)},
		{"sessions", offsetof(cb_store, sessions)},
		{"nodes", offsetof(cb_store, nodes)},
		{"meta", offsetof(cb_store, meta)},
		{"names", offsetof(cb_store, names)},
		{"trash", offsetof(cb_store, trash)},
		{"grants", offsetof(cb_store, grants)},
		{"grants_by_user", offsetof(cb_store, grants_by_user)},
		{"revisions", offsetof(cb_store, revisions)},
		{"blobs", offsetof(cb_store, blobs)},
		{"usage", offsetof(cb_store, usage)},
		{"uploads", offsetof(cb_store, uploads)},
		{"chains", offsetof(cb_store, chains)},
	};
	store_txn txn;
	cb_status s = txn.begin(st, true);
	if (s)
		return s;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_dbi *dbi = (MDB_dbi *)((char *)st + dbs[i].off);
		int rc = mdb_dbi_open(txn.t, dbs[i].name, MDB_CREATE, dbi);
		if (rc)
			return store_mdb_status(rc);
	}

	/* The schema version guards against an older cubbyd misreading a
	 * newer store. */
	MDB_val k = {6, (void *)"schema"}, v;
	int rc = mdb_get(txn.t, st->info, &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_data = (void *)SCHEMA_VERSION;
		v.mv_size = strlen(SCHEMA_VERSION);
		if ((rc = mdb_put(txn.t, st->info, &k, &v, 0)))
			return store_mdb_status(rc);
	} else if (rc) {
		return store_mdb_status(rc);
	} else if (v.mv_size != strlen(SCHEMA_VERSION) ||
		   memcmp(v.mv_data, SCHEMA_VERSION, v.mv_size)) {
		log_error("store: schema version %.*s, this cubbyd reads %s",
			  (int)v.mv_size, (const char *)v.mv_data, SCHEMA_VERSION);
		return CB_ERR_STATE;
	}
	return txn.commit();
}

cb_status store_open(const cb_config *cfg, cb_store **out)
{
	char path[CB_DATA_PATH_MAX];
	static const char *const subdirs[] = {"meta", "blobs", "partial"};

	*out = NULL;
	if (make_dir(cfg->data_dir))
		return CB_ERR_IO;
	for (const char *sub : subdirs) {
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, sub);
		if (make_dir(path))
			return CB_ERR_IO;
	}

	cb_store *st = (cb_store *)calloc(1, sizeof(*st));
	if (!st)
		return CB_ERR_NOMEM;
	st->cfg = cfg;
	int rc = mdb_env_create(&st->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(st->env, 16);
	if (!rc)
		rc = mdb_env_set_mapsize(st->env, cfg->meta_max_size);
	snprintf(path, sizeof(path), "%s/meta", cfg->data_dir);
	if (!rc)
		rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600);
	cb_status s = rc ? store_mdb_status(rc) : open_dbis(st);
	if (s) {
		if (rc)
			log_error("store: cannot open %s: %s", path, mdb_strerror(rc));
		store_close(st);
		return s;
	}
	*out = st;
	return CB_OK;
}

void store_close(cb_store *st)
{
	if (!st)
		return;
	if (st->env)
		mdb_env_close(st->env);
	free(st);
}

const cb_config *store_config(const cb_store *st)
{
	return st->cfg;
}

void store_blob_path(const cb_store *st, const char *blob_id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/blobs/%s", st->cfg->data_dir, blob_id);
}

void store_partial_path(const cb_store *st, const char *upload_id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/partial/%s", st->cfg->data_dir, upload_id);
}

/* ---- blobs and usage ---- */

cb_status id_list_add(id_list *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));
		if (!p)
			return CB_ERR_NOMEM;
		l->ids = (char(*)[CB_ID_LEN + 1])p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], CB_ID_LEN + 1, "%s", id);
	return CB_OK;
}

void blobs_unlink(cb_store *st, id_list *gc)
{
	char path[CB_DATA_PATH_MAX];
	for (size_t i = 0; i < gc->n; i++) {
		store_blob_path(st, gc->ids[i], path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			log_warn("store: cannot remove %s: %s", path, strerror(errno));
	}
	gc->n = 0;
}

uint64_t usage_get(MDB_txn *t, cb_store *st, const char *user)
{
	MDB_val k = {strlen(user), (void *)user}, v;
	uint64_t used = 0;
	if (mdb_get(t, st->usage, &k, &v) == 0 && v.mv_size == sizeof(used))
		memcpy(&used, v.mv_data, sizeof(used));
	return used;
}

static cb_status usage_add(MDB_txn *t, cb_store *st, const char *user, int64_t delta)
{
	uint64_t used = usage_get(t, st, user);
	used = (delta < 0 && (uint64_t)-delta > used) ? 0 : used + delta;
	MDB_val k = {strlen(user), (void *)user}, v = {sizeof(used), &used};
	return store_mdb_status(mdb_put(t, st->usage, &k, &v, 0));
}

uint64_t store_usage(cb_store *st, const char *user)
{
	store_txn txn;
	if (txn.begin(st, false))
		return 0;
	return usage_get(txn.t, st, user);
}

cb_status blob_ref_add(MDB_txn *t, cb_store *st, const char *id,
		       const char *owner, const char *node, uint64_t size)
{
	/* a blob belongs to one node: sharing one would let either purge
	 * delete the other's content */
	if (!id_is_uuid(id) || blob_ref_exists(t, st, id))
		return CB_ERR_EXISTS;
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return CB_ERR_NOMEM;
	cJSON_AddStringToObject(j, "owner", owner);
	cJSON_AddStringToObject(j, "node", node);
	cJSON_AddNumberToObject(j, "size", (double)size);
	cb_status s = db_put_json(t, st->blobs, id, strlen(id), j);
	cJSON_Delete(j);
	return s ? s : usage_add(t, st, owner, (int64_t)size);
}

cb_status blob_ref_drop(MDB_txn *t, cb_store *st, const char *id, id_list *gc)
{
	cJSON *j;
	cb_status s = db_get_json(t, st->blobs, id, strlen(id), &j);
	if (s == CB_ERR_NOTFOUND)
		return CB_OK; /* never registered: nothing to account for */
	if (s)
		return s;
	char owner[CB_ID_LEN + 1];
	json_copy_str(j, "owner", owner, sizeof(owner));
	int64_t size = json_int(j, "size");
	cJSON_Delete(j);
	if ((s = db_del(t, st->blobs, id, strlen(id))) ||
	    (s = usage_add(t, st, owner, -size)))
		return s;
	return id_list_add(gc, id);
}

bool blob_ref_exists(MDB_txn *t, cb_store *st, const char *id)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	return mdb_get(t, st->blobs, &k, &v) == 0;
}
