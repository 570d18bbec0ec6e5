/* store.h: the metadata store: one LMDB environment in <data_dir>/meta
 * holding users, sessions, nodes, names, trash, grants, revisions, blobs,
 * usage and uploads in progress (DESIGN §3).
 *
 * A node is the one record every protocol sees (a project, a file, a
 * space...). Every mutation takes the acting user, checks the permission,
 * and commits one LMDB write transaction; `actor` NULL means the server
 * itself (recovery, admin tools) and skips the permission check.
 * Someone else's node that the actor may not read is CB_ERR_NOTFOUND,
 * never CB_ERR_ACCESS, so a user never learns that it exists.
 *
 * A cb_node passed in to be filled (`out`) must have been through
 * node_init(); on failure it holds nothing the caller may not see. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "cubby/status.h"
#include "cubby/ids.h"
#include "cubby/paths.h"

struct cb_store;
struct cb_config;

#define CB_KIND_MAX 63
#define CB_MIME_MAX 127
#define CB_ANYONE "anyone" /* grant target meaning every user (public) */

enum cb_role {
	CB_ROLE_NONE = 0,
	CB_ROLE_READER,
	CB_ROLE_COMMENTER,
	CB_ROLE_WRITER,
	CB_ROLE_OWNER,
};
const char *role_name(cb_role r);          /* "reader", ... ; NULL for NONE */
cb_role role_parse(const char *s);         /* CB_ROLE_NONE when unknown */

/* What an actor wants to do; store_access() decides. */
enum cb_access {
	CB_ACCESS_READ,          /* see it, its content and its grants */
	CB_ACCESS_COMMENT,
	CB_ACCESS_WRITE,         /* change name, meta, tags, content */
	CB_ACCESS_DELETE,        /* trash: owner or writer; a trashed node
				    is its owner's alone, so only the owner
				    recovers it */
	CB_ACCESS_PURGE,         /* delete for good: owner */
	CB_ACCESS_SHARE_READER,  /* add/remove a reader grant: owner or writer */
	CB_ACCESS_SHARE,         /* any other grant change: owner */
};

struct cb_node {
	char id[CB_ID_LEN + 1];
	char kind[CB_KIND_MAX + 1];   /* "project", "file", "Vendor#Kind"... */
	char owner[CB_ID_LEN + 1];    /* user id */
	char name[CB_NAME_MAX + 1];
	char parent[CB_PATH_MAX + 1]; /* directory in the owner's space; "" top */
	char mime[CB_MIME_MAX + 1];
	char md5[33];                 /* of the content, lowercase hex; "" none */
	uint64_t size;                /* content bytes */
	int64_t created, modified;    /* ms since the epoch */
	int64_t trashed;              /* 0 = live, else when it went to trash */
	cb_role anyone;               /* role every user has; READER = public */
	char anyone_by[CB_ID_LEN + 1]; /* who set it ("" the server); the server's */
	char blob[CB_ID_LEN + 1];     /* content blob; "" = no content */
	char original[CB_ID_LEN + 1]; /* kept original blob (spec 5); "" none */
	char thumb[CB_ID_LEN + 1];    /* thumbnail blob; "" none */
	cJSON *tags;                  /* array of strings, owned; never NULL after get */
	cJSON *meta;                  /* the client's JSON, owned; NULL = none/not loaded */
	cJSON *grants;                /* CB_NODE_GRANTS: {"<user id>"|"anyone": "<role>"},
					 owned; NULL = not loaded */
};

/* Zeroes a node (tags = empty array) ready to fill in. */
void node_init(cb_node *n);
/* Frees tags, meta and grants; the node may be reused after node_init(). */
void node_clear(cb_node *n);

/* The node as spec 3 shows it (docs/files-api.md, "The file"): id, kind,
 * owner, name, parent, mime, size, md5, tags, meta (null when none),
 * created, modified, trashed, and permissions (from n->grants; {} when
 * not loaded). Metadata patches (store_node_patch) and the patches of
 * UPDATED and ACCESS_* events (events.h) are on this JSON. NULL when out
 * of memory. */
cJSON *node_json(const cb_node *n);

/* ---- the environment ---- */

/* Opens (creating if needed) <data_dir>/meta, <data_dir>/blobs and
 * <data_dir>/partial. The config must outlive the store. */
cb_status store_open(const cb_config *cfg, cb_store **out);
void store_close(cb_store *st);
const cb_config *store_config(const cb_store *st);
/* "<data_dir>/blobs/<id>" into out (PATH_MAX bytes). */
void store_blob_path(const cb_store *st, const char *blob_id, char *out, size_t outsz);
/* "<data_dir>/partial/<id>" into out. */
void store_partial_path(const cb_store *st, const char *upload_id, char *out, size_t outsz);

/* ---- nodes ---- */

enum {
	CB_NODE_META = 1,       /* store_node_get, lists: also load meta */
	CB_NAME_SUFFIX = 2,     /* create/update: on a taken name add " (2)"... */
	CB_NODE_THUMB = 4,      /* update: n->thumb is a blob from blob_put(),
				   or "" to remove the thumbnail */
	CB_NODE_GRANTS = 8,     /* store_node_get, lists: also load grants */
};

/* Creates n in actor's space (n->owner is set to actor; with actor NULL
 * the caller sets owner). Fills id when empty, created, modified. A new
 * node has no content (blob, size, md5 are cleared): content arrives
 * through an upload (blob.h). The
 * name is checked; a taken (owner, parent, name) is CB_ERR_EXISTS unless
 * CB_NAME_SUFFIX, which picks a free "name (N)" and writes it into n. */
cb_status store_node_create(cb_store *st, const char *actor, cb_node *n, int flags);

/* Loads a node (live or trashed) the actor may read. */
cb_status store_node_get(cb_store *st, const char *actor, const char *id,
			 cb_node *out, int flags);

/* Finds the live node named (parent, name) in owner's space. */
cb_status store_node_find(cb_store *st, const char *actor, const char *owner,
			  const char *parent, const char *name, cb_node *out);

/* Writes the changeable fields of n over the stored node n->id: name,
 * parent, kind, mime, tags, anyone, and meta when n->meta is not NULL.
 * Server-owned fields (owner, size, md5, blob, original, thumb, created,
 * trashed) are kept from the stored node; modified is set. A rename into
 * a taken name is CB_ERR_EXISTS (or suffixed with CB_NAME_SUFFIX).
 * With CB_NODE_THUMB the thumbnail changes in the same transaction (one
 * event): n->thumb names a blob fresh from blob_put(), which is charged
 * to the node's owner (CB_ERR_QUOTA over quota; CB_ERR_EXISTS if it
 * belongs to another node already), or is "" for none; the old one is
 * dropped (before the quota check: a user at the quota can swap). The
 * node's own thumbnail again changes nothing. When the update fails, a
 * thumbnail blob that belongs to no node is deleted. */
cb_status store_node_update(cb_store *st, const char *actor, cb_node *n, int flags);

/* Applies an RFC 6902 patch to node_json() of node id, all or nothing
 * (docs/files-api.md): name, parent, mime, tags and meta may change. On
 * CB_OK *revert (when not NULL) is the patch that undoes it, and the
 * UPDATED event carries the patch as given. Errors (err says what):
 * CB_ERR_INVAL a malformed patch, one that cannot apply, changes a
 * server-owned field ("read-only field: X"), adds another member
 * ("unknown field: X") or makes an invalid node ("invalid file: ...");
 * CB_ERR_TEST a failed "test"; CB_ERR_EXISTS the new name is taken;
 * CB_ERR_NOTFOUND / CB_ERR_ACCESS as store_access(WRITE). */
cb_status store_node_patch(cb_store *st, const char *actor, const char *id,
			   const cJSON *patch, cJSON **revert, char *err, size_t errsz);

/* Moves a live node to the trash: it leaves the namespace. */
cb_status store_node_trash(cb_store *st, const char *actor, const char *id);
/* Brings a trashed node back; a taken name gets a suffix. The node as
 * recovered is written to out when out is not NULL. */
cb_status store_node_recover(cb_store *st, const char *actor, const char *id, cb_node *out);
/* Deletes a node, its grants, revisions and blobs for good. */
cb_status store_node_purge(cb_store *st, const char *actor, const char *id);

/* Sets the node's content to blob (size, md5) and registers the blob to
 * the node's owner; blob "" removes the content
 * (CB_ERR_STATE when it has none). Every change is a revision by actor
 * that keeps the previous content (with `patch`, a JSON Patch copied when
 * not NULL); revisions past revisions_keep are dropped with their blobs.
 * The blob file must already be in blobs/, and belong to no node yet
 * (else CB_ERR_EXISTS). `revert` (may be NULL) goes with `patch` into
 * the CONTENT event only. */
cb_status store_node_set_content(cb_store *st, const char *actor, const char *id,
				 const char *blob, uint64_t size, const char *md5,
				 const cJSON *patch, const cJSON *revert);

/* Keeps node id's present content as its original (spec 5
 * keep_original), unless it has one already (then CB_OK, changing
 * nothing): n.original names it from then on, and it stays when the
 * content is replaced. CB_ERR_STATE without content, CB_ERR_QUOTA over
 * quota, else as store_access(WRITE). */
cb_status store_node_keep_original(cb_store *st, const char *actor, const char *id);

/* Applies an RFC 6902 patch to node id's content parsed as JSON (no
 * content counts as null) and stores the minimised result as its new
 * content (a revision with the patch; the CONTENT event carries patch
 * and revert). Errors (err says what): CB_ERR_INVAL a bad patch or
 * content that is not JSON ("content is not JSON"), CB_ERR_TEST,
 * CB_ERR_TOOBIG content over max_message_size before or after,
 * CB_ERR_QUOTA, CB_ERR_NOSPACE, CB_ERR_NOTFOUND / CB_ERR_ACCESS. */
cb_status store_content_patch(cb_store *st, const char *actor, const char *id,
			      const cJSON *patch, cJSON **revert, char *err, size_t errsz);

/* Visit callbacks return 0 to go on, non-zero to stop early. */
typedef int (*cb_node_visit)(const cb_node *n, void *ctx);

/* Live nodes in owner's directory `parent`, by name. */
cb_status store_list_children(cb_store *st, const char *actor, const char *owner,
			      const char *parent, cb_node_visit visit, void *ctx);
/* Every live node owned by `owner` (kind NULL = any kind); flags
 * CB_NODE_META loads each node's meta. */
cb_status store_list_owned(cb_store *st, const char *owner, const char *kind, int flags,
			   cb_node_visit visit, void *ctx);
/* One page of what spec 3's GET /files lists: the live nodes `user` owns
 * and those shared with it by a grant, by id, starting after id `after`
 * ("" from the start), of kind `kind` and in folder `parent` (NULL: any),
 * at most `limit`. *more says whether nodes after the last one visited
 * may follow. flags: CB_NODE_META, CB_NODE_GRANTS. */
cb_status store_list_files(cb_store *st, const char *user, const char *parent,
			   const char *kind, const char *after, size_t limit, int flags,
			   cb_node_visit visit, void *ctx, bool *more);
/* Live nodes shared with `user` by a grant (not public ones). */
cb_status store_list_shared(cb_store *st, const char *user, const char *kind, int flags,
			    cb_node_visit visit, void *ctx);
/* Trashed nodes owned by `owner` (kind NULL = any kind). */
cb_status store_list_trash(cb_store *st, const char *owner, const char *kind, int flags,
			   cb_node_visit visit, void *ctx);

/* ---- access ---- */

/* The role `user` has on n: OWNER, a grant, the public role, or NONE. */
cb_role store_role(cb_store *st, const cb_node *n, const char *user);
/* The one answer to every access question: CB_OK; CB_ERR_NOTFOUND when
 * the user may not even read n; CB_ERR_ACCESS when it may read but not
 * do `want`. user NULL is the server (always CB_OK). */
cb_status store_access(cb_store *st, const cb_node *n, const char *user, cb_access want);

/* Gives `user` (a user id, or CB_ANYONE) `role` on node id; CB_ROLE_NONE
 * removes the grant. Granting to the owner is CB_ERR_INVAL. */
cb_status store_grant(cb_store *st, const char *actor, const char *id,
		      const char *user, cb_role role);
/* Whether store_grant() with these arguments would pass its checks now
 * (its errors), changing nothing: a batch of grant changes is checked
 * whole before any is made. */
cb_status store_grant_check(cb_store *st, const char *actor, const char *id,
			    const char *user, cb_role role);
struct cb_grant {
	const char *user;  /* a user id, or CB_ANYONE */
	cb_role role;
	const char *adder; /* who gave it; "" the server, or not recorded */
};
typedef int (*cb_grant_visit)(const cb_grant *g, void *ctx);
/* The grants of a node the actor may read (CB_ANYONE last if public). */
cb_status store_list_grants(cb_store *st, const char *actor, const char *id,
			    cb_grant_visit visit, void *ctx);

/* ---- revisions ---- */

struct cb_revision {
	char id[CB_ID_LEN + 1];
	char node[CB_ID_LEN + 1];
	char user[CB_ID_LEN + 1];   /* who replaced the content */
	int64_t created;
	char blob[CB_ID_LEN + 1];   /* the previous content; "" none (or not kept) */
	uint64_t size;
	char md5[33];
	cJSON *patch;               /* owned; NULL when the change had none */
};
typedef int (*cb_revision_visit)(const cb_revision *r, void *ctx);
/* Revisions of a node the actor may read, oldest first. */
cb_status store_list_revisions(cb_store *st, const char *actor, const char *id,
			       cb_revision_visit visit, void *ctx);

/* Spec 3's permission object of grant g on node `node`:
 * {kind:"Core#Permission", key, type, id, role, addingUser}; and its
 * revision object {kind:"Core#Revision", key, id, created, patch, size,
 * md5, modification:{time,user}} (docs/files-api.md). NULL when out of
 * memory. */
cJSON *permission_json(const char *node, const cb_grant *g);
cJSON *revision_json(const cb_revision *r);

/* Purges every node owned by owner, live or trashed (account removal). */
cb_status store_purge_owner(cb_store *st, const char *owner);

/* ---- usage ---- */

/* Bytes of blobs owned by user (contents, originals, thumbnails, revisions). */
uint64_t store_usage(cb_store *st, const char *user);
