/* store_internal.h: what the core modules that keep records in LMDB
 * (store, auth, blob) share: the environment, its named databases, and
 * transaction helpers. Protocol modules never include this. */
#pragma once
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>
#include <cjson/cJSON.h>
#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/store.h"

struct cb_upload;
struct ev_walk;

/* Room for "<data_dir>/<subdir>/<id>". */
#define CB_DATA_PATH_MAX (CB_FILE_PATH_MAX + 64)

struct cb_store {
	MDB_env *env;
	MDB_dbi info;           /* "schema" -> version */
	MDB_dbi users;          /* name -> user JSON */
	MDB_dbi users_by_id;    /* id -> name */
	MDB_dbi sessions;       /* SHA-256(token), 32 bytes -> session JSON */
	MDB_dbi nodes;          /* id -> node JSON (without meta) */
	MDB_dbi meta;           /* id -> the client's meta JSON text */
	MDB_dbi names;          /* owner \0 parent \0 name -> id (live nodes) */
	MDB_dbi trash;          /* owner \0 id -> "" (trashed nodes) */
	MDB_dbi grants;         /* node \0 user -> role (1 byte) */
	MDB_dbi grants_by_user; /* user \0 node -> role (1 byte) */
	MDB_dbi revisions;      /* node \0 seq(16 hex) -> revision JSON */
	MDB_dbi blobs;          /* blob id -> {"owner","size","node"} */
	MDB_dbi usage;          /* user id -> uint64 bytes */
	MDB_dbi uploads;        /* upload id -> upload JSON */
	MDB_dbi chains;         /* node id -> its upload chain (chain.cpp) */
	const cb_config *cfg;
	cb_upload *open_uploads; /* blob.cpp: uploads open in this process */
	cb_subscriber *subs;     /* events.cpp: the bus's subscribers */
	ev_walk *walks;          /* events.cpp: deliveries under way */
	const void *origin;      /* events_set_origin() */
};

/* Maps an LMDB return code onto cb_status (MDB_MAP_FULL -> NOSPACE). */
cb_status store_mdb_status(int rc);

/* A transaction that aborts itself unless committed: keeps error paths
 * short. */
struct store_txn {
	MDB_txn *t = nullptr;
	store_txn() = default;
	store_txn(const store_txn &) = delete;
	store_txn &operator=(const store_txn &) = delete;
	~store_txn() { abort(); }
	cb_status begin(cb_store *st, bool write);
	cb_status commit();
	void abort()
	{
		if (t)
			mdb_txn_abort(t);
		t = nullptr;
	}
};

/* Record helpers: JSON values stored as unformatted text. */
cb_status db_get_json(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen,
		      cJSON **out);
cb_status db_put_json(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen,
		      const cJSON *v);
cb_status db_del(MDB_txn *t, MDB_dbi dbi, const void *key, size_t keylen);

/* "a \0 b": the two-part keys of names, trash and grants. Returns the
 * length; key needs strlen(a) + strlen(b) + 1 bytes. */
size_t key_pair(char *key, const char *a, const char *b);

/* Calls fn(cursor, key, value) for each record of dbi whose key starts
 * with prefix (plen 0: every record), in key order, until fn returns
 * non-zero. fn may delete the current record with mdb_cursor_del(c, 0). */
template <typename F>
cb_status db_scan(MDB_txn *t, MDB_dbi dbi, const void *prefix, size_t plen, F fn)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t, dbi, &c);
	if (rc)
		return store_mdb_status(rc);
	MDB_val k = {plen, (void *)prefix}, v;
	for (rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)))
			break;
		if (fn(c, k, v))
			break;
	}
	mdb_cursor_close(c);
	return (rc && rc != MDB_NOTFOUND) ? store_mdb_status(rc) : CB_OK;
}

/* cJSON field readers that tolerate absent fields. */
const char *json_str(const cJSON *o, const char *name);     /* "" when absent */
int64_t json_int(const cJSON *o, const char *name);         /* 0 when absent */
void json_copy_str(const cJSON *o, const char *name, char *out, size_t outsz);

/* ---- txn-level building blocks (blob.cpp commits a node with them) ---- */

/* A growable list of ids. Blob files are collected in one and unlinked
 * once the transaction that dropped them commits: deleting before the
 * commit could lose content if the commit fails. */
struct id_list {
	char (*ids)[CB_ID_LEN + 1] = nullptr;
	size_t n = 0, cap = 0;
	id_list() = default;
	id_list(const id_list &) = delete;
	id_list &operator=(const id_list &) = delete;
	~id_list() { free(ids); }
};
cb_status id_list_add(id_list *l, const char *id);
/* qsort/bsearch order of the ids of an id_list. */
int id_cmp(const void *a, const void *b);
/* The second halves of the keys of dbi under "id \0" (grants: the users
 * holding grants on node id; grants_by_user: the nodes user id has
 * grants on) appended to out. */
cb_status grants_list(MDB_txn *t, MDB_dbi dbi, const char *id, id_list *out);
/* After user's grants on nodes were dropped (committed): announces each
 * as ACCESS_REMOVED by the server. */
void grants_announce_removed(cb_store *st, const char *user, const id_list *nodes);

/* Unlinks the blob files named in gc (after commit) and empties it. */
void blobs_unlink(cb_store *st, id_list *gc);

/* ---- events (events.cpp) ---- */

/* An event on its way: filled inside the write transaction, where the
 * node and its grants are as the audience must see them (before a purge
 * drops them, after a grant changes), and published once the transaction
 * committed. Nothing is filled, and nothing read, when no subscriber
 * wants the event. */
struct ev_pending {
	bool on;                    /* someone listens: the rest is filled */
	cb_event_op op;
	bool server;                /* actor NULL */
	char actor[CB_ID_LEN + 1];
	cb_node node;               /* with meta */
	char subject[CB_ID_LEN + 1]; /* ACCESS_*: user id or CB_ANYONE */
	cb_role role;
	bool owner_only;            /* the audience is the owner alone */
	bool everyone;              /* ... or every subscriber (public) */
	id_list grantees;           /* ... else the owner and these */
	bool has_rev;
	cb_revision rev;
	cb_role old_role;           /* ACCESS_* */
	cJSON *patch, *revert;      /* owned; see cb_event */
	const void *data;           /* STREAM: the bytes */
	size_t len;
	/* zeroed by hand, not node_init(): a mutation nobody listens to
	 * allocates nothing */
	ev_pending() : on(false), op(CB_EV_CREATED), server(false), role(CB_ROLE_NONE),
		       owner_only(false), everyone(false), has_rev(false), old_role(CB_ROLE_NONE),
		       patch(nullptr), revert(nullptr), data(nullptr), len(0)
	{
		actor[0] = subject[0] = 0;
		memset(&node, 0, sizeof(node));
		memset(&rev, 0, sizeof(rev));
	}
	ev_pending(const ev_pending &) = delete;
	ev_pending &operator=(const ev_pending &) = delete;
	~ev_pending()
	{
		node_clear(&node);
		cJSON_Delete(rev.patch);
		cJSON_Delete(patch);
		cJSON_Delete(revert);
	}
};

/* True when some subscriber takes op on node id (whoever its user). */
bool events_wanted(cb_store *st, cb_event_op op, const char *id);
/* Starts ev for op on node id by actor, when someone listens: loads the
 * node with its meta from t and, unless the audience is the owner alone or
 * everyone, the users holding grants on it (sorted). Call it inside the
 * write transaction, at the point where the node is as the event must
 * show it. The caller adds subject, role and revision (when ev->on).
 * Best effort: a failure to read is logged and leaves ev off, because
 * whether a change succeeds must not depend on who listens. */
void events_prepare(MDB_txn *t, cb_store *st, ev_pending *ev, cb_event_op op,
		    const char *actor, const char *id);
/* Delivers ev to each subscriber it is for (nothing when !ev->on). Call it
 * only after the transaction committed. */
void events_publish(cb_store *st, ev_pending *ev);

/* Records that blob `id` (size bytes) belongs to owner's node; adds it to
 * owner's usage. A blob already registered is CB_ERR_EXISTS. */
cb_status blob_ref_add(MDB_txn *t, cb_store *st, const char *id,
		       const char *owner, const char *node, uint64_t size);
/* Forgets blob `id`, subtracts it from its owner's usage, queues the file. */
cb_status blob_ref_drop(MDB_txn *t, cb_store *st, const char *id, id_list *gc);
/* True when blobs db knows `id`. */
bool blob_ref_exists(MDB_txn *t, cb_store *st, const char *id);

uint64_t usage_get(MDB_txn *t, cb_store *st, const char *user);

/* The content patch (and its revert) an upload of new content carries
 * into its CONTENT event and revision (store_content_patch); both must
 * outlive blob_complete(). */
void upload_set_patch(cb_upload *up, const cJSON *patch, const cJSON *revert);

/* ---- upload chains (chain.cpp), kept in step by blob.cpp ---- */

/* True when upload id is open in this process. */
bool upload_is_open(cb_store *st, const char *id);
/* Whether a stored upload last written at `updated` (ms) is past
 * partial_ttl at `now` (an open one never is). */
bool upload_expired(cb_store *st, const char *id, int64_t updated, int64_t now);
/* Removes <data_dir>/partial/<upload_id> (after the commit that forgot it). */
void partial_unlink(cb_store *st, const char *upload_id);
/* Records upload info as node info->node's ACTIVE chain; CB_ERR_EXISTS
 * when the node has a chain already. */
cb_status chain_claim_txn(MDB_txn *t, cb_store *st, const cb_upload_info *info);
/* The chain of info->node after its upload ended: DONE, EXPIRED (with
 * info->offset), or NONE (the record is removed). Only while the chain
 * is still that upload's. */
cb_status chain_settle_txn(MDB_txn *t, cb_store *st, const cb_upload_info *info,
			   cb_chain_state state);
/* Forgets node's chain (the node is being purged or the chain destroyed)
 * and the upload it holds, unless that is open; the upload's id goes to
 * `upload` (else ""), for partial_unlink() after the commit. */
cb_status chain_forget_txn(MDB_txn *t, cb_store *st, const char *node,
			   char upload[CB_ID_LEN + 1]);

cb_status node_load_txn(MDB_txn *t, cb_store *st, const char *id, cb_node *out,
			int flags);
/* Loads node id into out when actor may do `want` to it (the access
 * answer of store_access_txn); on any failure out is left empty, so a
 * caller that ignores the status learns nothing. */
cb_status node_open_txn(MDB_txn *t, cb_store *st, const char *actor, const char *id,
			cb_access want, cb_node *out, int flags);
cb_status node_create_txn(MDB_txn *t, cb_store *st, const char *actor,
			  cb_node *n, int flags);
/* id of the live node (owner, parent, name) into id_out. */
cb_status node_find_txn(MDB_txn *t, cb_store *st, const char *owner,
			const char *parent, const char *name,
			char id_out[CB_ID_LEN + 1]);
/* Sets node id's content (store_node_set_content inside t); prepares the
 * CONTENT event, with the revision, into ev when ev is not NULL. */
cb_status node_set_content_txn(MDB_txn *t, cb_store *st, const char *actor,
			       const char *id, const char *blob, uint64_t size,
			       const char *md5, const cJSON *patch, const cJSON *revert,
			       id_list *gc, ev_pending *ev);
cb_status store_access_txn(MDB_txn *t, cb_store *st, const cb_node *n,
			   const char *user, cb_access want);
/* A client-chosen node id: 1 to 36 of A-Z a-z 0-9 . _ - */
bool node_id_ok(const char *id);
/* Checks name, parent (normalized in place), tags and the public role of
 * n; an empty kind becomes "file". */
cb_status node_validate(cb_node *n);
/* Node <-> JSON record (meta is not part of the record). */
cJSON *node_to_json(const cb_node *n);
cb_status node_from_json(const cJSON *j, cb_node *n);
/* store_node_update(), whose UPDATED event carries `patch` and `revert`
 * when given (store_node_patch), else the difference it made. */
cb_status node_update(cb_store *st, const char *actor, cb_node *n, int flags,
		      const cJSON *patch, const cJSON *revert);
/* A jsonpatch_apply() failure `why` as the err of store_node_patch and
 * store_content_patch: "invalid patch: ..." or "test failed: ...". */
cb_status patch_error(cb_status s, const char *why, char *err, size_t errsz);
/* node_json()'s "permissions" of n: its grants and its public role. */
cb_status grants_json_txn(MDB_txn *t, cb_store *st, const cb_node *n, cJSON **out);
/* Removes every grant on node id, both ways (purge). */
cb_status grants_drop_node(MDB_txn *t, cb_store *st, const char *id);
/* Removes every grant given to user id, both ways (account removal). */
cb_status grants_drop_user(MDB_txn *t, cb_store *st, const char *id);
