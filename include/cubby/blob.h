/* blob.h: content on disk. An upload streams into <data_dir>/partial/<id>
 * with pwrite straight from the caller's buffer while MD5 runs over the
 * same bytes; a checkpoint (every checkpoint_bytes, on close, on
 * shutdown) fdatasyncs the file and records offset and MD5 state in one
 * LMDB transaction. Completion verifies size and MD5, fdatasyncs, renames
 * the file into <data_dir>/blobs/<id> and commits the node in one
 * transaction. blob_recover() at startup repairs a crash at any point of
 * that (DESIGN §4).
 *
 * An upload carries its target from the start: a node to create (kind,
 * parent, name, mime, tags, meta) or the id of a node whose content it
 * replaces. So a crash between rename and commit can be finished by
 * recovery, and incomplete uploads stay invisible to every listing. */
#pragma once
#include <stdint.h>
#include "cubby/status.h"
#include "cubby/store.h"

struct cb_upload;

enum cb_upload_mode {
	CB_UPLOAD_CREATE,  /* a new node; a taken name is CB_ERR_EXISTS */
	CB_UPLOAD_REPLACE, /* new content for node target->id (a revision) */
	CB_UPLOAD_PUT,     /* replace the live node of that name, else create */
	CB_UPLOAD_KEEP_BOTH, /* a new node; a taken name gets a free "name (2)"
				when the upload completes */
};

#define CB_SIZE_UNKNOWN (-1)

/* blob_begin() flags */
enum {
	/* Its protocol never resumes it (the client starts over on a new
	 * connection): blob_write() skips the periodic checkpoints, which
	 * would sync to disk what nothing reads back, and blob_recover()
	 * deletes it rather than keep it for partial_ttl. Completion still
	 * syncs every byte before it commits. */
	CB_UPLOAD_ONCE = 1,
	/* With CB_UPLOAD_REPLACE: the upload is the resumable chain of node
	 * target->id (spec 2). A node has at most one chain: blob_begin() is
	 * CB_ERR_EXISTS while it has one in any state. The chain outlives its
	 * upload: once completed it stays CB_CHAIN_DONE, and once expired
	 * (partial_ttl) CB_CHAIN_EXPIRED with the offset it had, until
	 * blob_chain_destroy(); blob_abort() of its upload ends it too. */
	CB_UPLOAD_CHAIN = 2,
};

struct cb_upload_info {
	char id[CB_ID_LEN + 1];
	char owner[CB_ID_LEN + 1];    /* who uploads (the actor) */
	char charged[CB_ID_LEN + 1];  /* whose quota pays: the target's owner */
	cb_upload_mode mode;
	char node[CB_ID_LEN + 1];     /* REPLACE: the target; else the new id */
	char parent[CB_PATH_MAX + 1]; /* CREATE/PUT: where */
	char name[CB_NAME_MAX + 1];
	uint64_t offset;              /* durable bytes (last checkpoint) */
	int64_t size;                 /* declared size, or CB_SIZE_UNKNOWN */
	int64_t created, updated;     /* ms */
	bool chain;                   /* CB_UPLOAD_CHAIN: node's chain */
};

/* Starts an upload by `actor` of `size` bytes (or CB_SIZE_UNKNOWN) into
 * target. Of the target, CREATE, PUT and KEEP_BOTH use id (optional), kind, name,
 * parent, mime, tags, anyone and meta; REPLACE uses id, and keeps name as
 * the upload's label (info.name: never a path, not the node's name). Content fields
 * (blob, original, thumb, md5, size) are the server's and ignored. Refused up front: an invalid name (CB_ERR_INVAL), a taken name
 * for CREATE (CB_ERR_EXISTS), no write access for REPLACE, a size over
 * max_upload_size (CB_ERR_TOOBIG), over quota (CB_ERR_QUOTA), or more than
 * the free space less what other uploads have reserved (CB_ERR_NOSPACE). */
cb_status blob_begin(cb_store *st, const char *actor, const cb_node *target,
		     cb_upload_mode mode, int64_t size, int flags, cb_upload **out);

/* Reopens a stored upload of actor's (a chain's: of anyone who may write
 * its node): the partial file is cut back to the last checkpoint and the
 * MD5 state restored, so the client resumes from blob_offset().
 * CB_ERR_STATE when it is open already. */
cb_status blob_resume(cb_store *st, const char *actor, const char *upload_id,
		      cb_upload **out);

/* Appends len bytes at offset, which must equal blob_offset()
 * (CB_ERR_OFFSET otherwise); past the declared size or a limit is
 * CB_ERR_TOOBIG / CB_ERR_QUOTA / CB_ERR_NOSPACE. Checkpoints by itself
 * every checkpoint_bytes. After any error, blob_offset() says where the
 * client continues: a failed disk write or sync cuts the upload back to
 * its last checkpoint rather than keep bytes that may not be on disk. */
cb_status blob_write(cb_upload *up, uint64_t offset, const void *data, size_t len);
cb_status blob_checkpoint(cb_upload *up);
/* Drops what arrived after the last checkpoint (a message found bad
 * after part of it was written): the file and the MD5 state go back to
 * blob_durable_offset(). */
void blob_rewind(cb_upload *up);

uint64_t blob_offset(const cb_upload *up);         /* bytes received */
uint64_t blob_durable_offset(const cb_upload *up); /* bytes checkpointed */
const cb_upload_info *blob_info(const cb_upload *up);

/* Finishes: the size must equal the declared one (CB_ERR_SIZE) and, when
 * md5 is not NULL, the MD5 of the bytes must equal it (CB_ERR_CHECKSUM,
 * case-insensitive hex). The quota is checked again (uploads of unknown
 * size grow together), and an uploader whose account is gone is refused
 * (CB_ERR_NOTFOUND). On CB_OK the node as committed is written to out
 * (when not NULL, node_init'ed) and the handle is freed; on error the
 * handle stays open and out holds nothing of use. */
cb_status blob_complete(cb_upload *up, const char *md5, cb_node *out);

/* Checkpoints, closes the file and frees the handle; the upload stays
 * stored for blob_resume() until partial_ttl passes. */
void blob_close(cb_upload *up);
/* Deletes the partial file and the record, frees the handle. */
void blob_abort(cb_upload *up);
/* Deletes a stored upload that is not open (CB_ERR_STATE when open). */
cb_status blob_discard(cb_store *st, const char *actor, const char *upload_id);

typedef int (*cb_upload_visit)(const cb_upload_info *u, void *ctx);
/* Stored uploads of owner (NULL: everyone's). */
cb_status blob_list(cb_store *st, const char *owner, cb_upload_visit visit, void *ctx);

/* ---- chains (CB_UPLOAD_CHAIN) ---- */

enum cb_chain_state {
	CB_CHAIN_NONE,    /* the node has no chain */
	CB_CHAIN_ACTIVE,  /* an upload in progress (maybe open) */
	CB_CHAIN_DONE,    /* completed */
	CB_CHAIN_EXPIRED, /* its upload expired before it completed */
};

struct cb_chain {
	cb_chain_state state;
	char upload[CB_ID_LEN + 1];  /* ACTIVE: the upload, for blob_resume() */
	char name[CB_NAME_MAX + 1];  /* ACTIVE, EXPIRED: the label it began with */
	uint64_t offset;             /* ACTIVE: bytes checkpointed; EXPIRED: then */
	int64_t size;                /* ACTIVE, EXPIRED: declared, or CB_SIZE_UNKNOWN */
};

/* The chain of node `node`, which actor must be allowed to write: like
 * store_access(), CB_ERR_NOTFOUND when it may not see the node (or it is
 * in the trash), CB_ERR_ACCESS when it may only read it. */
cb_status blob_chain(cb_store *st, const char *actor, const char *node, cb_chain *out);
/* Forgets node's chain, in any state, with its partial file; the node's
 * content stays. CB_ERR_NOTFOUND without a chain (or a node the actor may
 * see), CB_ERR_ACCESS read-only, CB_ERR_STATE while its upload is open
 * (blob_abort() that instead). */
cb_status blob_chain_destroy(cb_store *st, const char *actor, const char *node);

/* Startup: commits uploads whose file reached blobs/ before the crash,
 * cuts partial files back to their checkpoint, removes partial and blob
 * files nothing refers to. Run before serving. */
cb_status blob_recover(cb_store *st);
/* Deletes stored uploads not open and not updated for partial_ttl (a
 * chain's becomes CB_CHAIN_EXPIRED). */
size_t blob_expire(cb_store *st, int64_t now);

/* Writes a small blob (a thumbnail) whole: synced into blobs/ under a new
 * id, written to id. It belongs to no node until store_node_update()
 * with CB_NODE_THUMB takes it; one never taken is removed by the next
 * blob_recover(). */
cb_status blob_put(cb_store *st, const void *data, size_t len, char id[CB_ID_LEN + 1]);

/* Reads up to len bytes of blob_id at offset; returns bytes read or -1. */
int64_t blob_read(cb_store *st, const char *blob_id, uint64_t offset, void *buf, size_t len);
/* blob_id opened read-only (for http_serve_fd), or -1. */
int blob_open(cb_store *st, const char *blob_id);
/* Bytes of blob_id, or -1 when there is no such blob. */
int64_t blob_size(cb_store *st, const char *blob_id);
