/* blob.cpp: uploads on their way to disk: partial files written with
 * pwrite from the caller's buffer, MD5 as the bytes arrive, checkpoints
 * (fdatasync, then offset and MD5 state in LMDB), completion by rename into
 * blobs/ inside the transaction that commits the node, startup recovery and
 * the expiry of abandoned uploads. See DESIGN §4.
 *
 * An upload record (uploads db, keyed by upload id = the blob id it will
 * become) holds the info of cb_upload_info, the MD5 state at the last
 * checkpoint, and the target node as JSON, so that recovery can finish a
 * completion the crash interrupted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <md5.h>

/* offsets past 2 GiB on 32-bit systems need -D_FILE_OFFSET_BITS=64 */
static_assert(sizeof(off_t) == 8, "cubby needs a 64-bit off_t");

#define WRITEBACK_BYTES (1 << 20)

#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/log.h"
#include "store_internal.h"

struct cb_upload {
	cb_upload *next; /* st->open_uploads */
	cb_store *st;
	cb_upload_info info;
	int fd;
	MD5_CTX md5;         /* over bytes [0, offset) */
	MD5_CTX md5_durable; /* over bytes [0, durable) */
	uint64_t offset;     /* received */
	uint64_t durable;    /* checkpointed: info.offset */
	uint64_t written_back; /* writeback started up to here */
	uint64_t quota_base; /* quota_in_use() of charged, without this upload, at open */
	cJSON *target;     /* node JSON with "meta" */
	bool resumable;    /* checkpoints every checkpoint_bytes */
	const cJSON *patch, *revert; /* upload_set_patch() */
};

void upload_set_patch(cb_upload *up, const cJSON *patch, const cJSON *revert)
{
	up->patch = patch;
	up->revert = revert;
}

/* ---- the upload record ---- */

static cJSON *record_json(const cb_upload *up)
{
	char md5hex[2 * sizeof(MD5_CTX) + 1];
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	hex_encode(&up->md5_durable, sizeof(up->md5_durable), md5hex);
	cJSON_AddStringToObject(j, "id", up->info.id);
	cJSON_AddStringToObject(j, "owner", up->info.owner);
	cJSON_AddStringToObject(j, "charged", up->info.charged);
	cJSON_AddNumberToObject(j, "mode", up->info.mode);
	cJSON_AddStringToObject(j, "node", up->info.node);
	cJSON_AddStringToObject(j, "parent", up->info.parent);
	cJSON_AddStringToObject(j, "name", up->info.name);
	cJSON_AddNumberToObject(j, "offset", (double)up->durable);
	cJSON_AddNumberToObject(j, "size", (double)up->info.size);
	cJSON_AddNumberToObject(j, "created", (double)up->info.created);
	cJSON_AddNumberToObject(j, "updated", (double)up->info.updated);
	cJSON_AddStringToObject(j, "md5state", md5hex);
	cJSON_AddBoolToObject(j, "resumable", up->resumable);
	cJSON_AddBoolToObject(j, "chain", up->info.chain);
	cJSON_AddItemToObject(j, "target", cJSON_Duplicate(up->target, 1));
	return j;
}

static void info_from_json(const cJSON *j, cb_upload_info *info)
{
	memset(info, 0, sizeof(*info));
	json_copy_str(j, "id", info->id, sizeof(info->id));
	json_copy_str(j, "owner", info->owner, sizeof(info->owner));
	json_copy_str(j, "charged", info->charged, sizeof(info->charged));
	info->mode = (cb_upload_mode)json_int(j, "mode");
	json_copy_str(j, "node", info->node, sizeof(info->node));
	json_copy_str(j, "parent", info->parent, sizeof(info->parent));
	json_copy_str(j, "name", info->name, sizeof(info->name));
	info->offset = (uint64_t)json_int(j, "offset");
	info->size = json_int(j, "size");
	info->created = json_int(j, "created");
	info->updated = json_int(j, "updated");
	info->chain = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "chain"));
}

static cb_status record_put(MDB_txn *t, cb_upload *up)
{
	cJSON *j = record_json(up);
	if (!j)
		return CB_ERR_NOMEM;
	cb_status s = db_put_json(t, up->st->uploads, up->info.id, strlen(up->info.id), j);
	cJSON_Delete(j);
	return s;
}

static cb_upload *find_open(cb_store *st, const char *id)
{
	for (cb_upload *u = st->open_uploads; u; u = u->next)
		if (!strcmp(u->info.id, id))
			return u;
	return NULL;
}

bool upload_is_open(cb_store *st, const char *id)
{
	return find_open(st, id) != NULL;
}

static void upload_free(cb_upload *up)
{
	for (cb_upload **p = &up->st->open_uploads; *p; p = &(*p)->next)
		if (*p == up) {
			*p = up->next;
			break;
		}
	if (up->fd >= 0)
		close(up->fd);
	cJSON_Delete(up->target);
	free(up);
}

static cb_upload *upload_new(cb_store *st)
{
	cb_upload *up = (cb_upload *)calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->st = st;
	up->fd = -1;
	up->resumable = true;
	up->next = st->open_uploads;
	st->open_uploads = up;
	return up;
}

/* Calls fn(info, record) for every stored upload; fn returns non-zero to
 * stop. */
template <typename F>
static cb_status uploads_scan(MDB_txn *t, cb_store *st, F fn)
{
	return db_scan(t, st->uploads, NULL, 0, [&](MDB_cursor *, MDB_val &, MDB_val &v) {
		cJSON *j = cJSON_ParseWithLength((const char *)v.mv_data, v.mv_size);
		if (!j)
			return 0;
		cb_upload_info info;
		info_from_json(j, &info);
		int stop = fn(info, j);
		cJSON_Delete(j);
		return stop;
	});
}

/* The record of a stored upload that is not open in this process. */
static cb_status record_get(cb_store *st, const char *id, cJSON **out)
{
	if (!id_is_uuid(id))
		return CB_ERR_NOTFOUND;
	if (find_open(st, id))
		return CB_ERR_STATE;
	store_txn txn;
	cb_status s = txn.begin(st, false);
	return s ? s : db_get_json(txn.t, st->uploads, id, strlen(id), out);
}

static cb_status record_info(cb_store *st, const char *id, cb_upload_info *info)
{
	cJSON *j;
	cb_status s = record_get(st, id, &j);
	if (!s) {
		info_from_json(j, info);
		cJSON_Delete(j);
	}
	return s;
}

/* ---- space ---- */

/* What `charged` is using for quota: its usage plus what its uploads in
 * progress will add (the declared size, or what has arrived when the size
 * is unknown). Also the disk that all uploads still need: declared bytes
 * not written yet (written ones already take space). The upload `skip`
 * is left out. */
static uint64_t quota_in_use(MDB_txn *t, cb_store *st, const char *charged, const char *skip,
			     uint64_t *disk_reserved)
{
	uint64_t used = usage_get(t, st, charged);
	*disk_reserved = 0;
	uploads_scan(t, st, [&](const cb_upload_info &u, const cJSON *) {
		if (skip && !strcmp(skip, u.id))
			return 0;
		const cb_upload *open_up = find_open(st, u.id);
		uint64_t offset = open_up ? open_up->offset : u.offset;
		if (u.size > 0 && (uint64_t)u.size > offset)
			*disk_reserved += (uint64_t)u.size - offset;
		if (!strcmp(charged, u.charged))
			used += u.size >= 0 ? (uint64_t)u.size : offset;
		return 0;
	});
	return used;
}

static cb_status check_space(MDB_txn *t, cb_store *st, cb_upload *up, uint64_t size)
{
	const cb_config *cfg = st->cfg;
	uint64_t reserved;
	up->quota_base = quota_in_use(t, st, up->info.charged, NULL, &reserved);
	if (cfg->quota && up->quota_base + size > cfg->quota)
		return CB_ERR_QUOTA;
	struct statvfs vfs;
	if (statvfs(cfg->data_dir, &vfs))
		return CB_ERR_IO;
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (reserved + size > avail)
		return CB_ERR_NOSPACE;
	return CB_OK;
}

/* fsync of a directory of the data dir, so a file created or renamed in
 * it survives a power loss (btrfs, UBIFS keep data without the entry). */
static cb_status sync_dir(cb_store *st, const char *sub)
{
	char dir[CB_DATA_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", st->cfg->data_dir, sub);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		log_error("blob: cannot sync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CB_ERR_IO;
	}
	close(fd);
	return CB_OK;
}

/* ---- begin ---- */

/* Checks the target t (the caller's, with the content fields cleared) and
 * fills info: where the bytes go and who pays for them, the owner of the
 * node that will hold them. */
static cb_status resolve_target(MDB_txn *t, cb_store *st, const char *actor, cb_node *target,
				cb_upload_mode mode, cb_upload_info *info)
{
	if (mode == CB_UPLOAD_REPLACE) {
		cb_node n;
		node_init(&n);
		cb_status s = node_open_txn(t, st, actor, target->id, CB_ACCESS_WRITE, &n, 0);
		if (!s) {
			snprintf(info->node, sizeof(info->node), "%s", n.id);
			memcpy(info->charged, n.owner, sizeof(info->charged));
			if (n.trashed)
				s = CB_ERR_NOTFOUND;
		}
		node_clear(&n);
		return s;
	}
	/* everything completion will need, checked now rather than after the
	 * client has sent every byte */
	char id[CB_ID_LEN + 1];
	if ((target->id[0] && !node_id_ok(target->id)) || node_validate(target))
		return CB_ERR_INVAL;
	snprintf(info->parent, sizeof(info->parent), "%s", target->parent);
	snprintf(info->name, sizeof(info->name), "%s", target->name);
	snprintf(info->charged, sizeof(info->charged), "%s", actor);
	if (mode == CB_UPLOAD_CREATE &&
	    node_find_txn(t, st, actor, info->parent, info->name, id) == CB_OK)
		return CB_ERR_EXISTS;
	if (target->id[0]) {
		MDB_val k = {strlen(target->id), (void *)target->id}, v;
		if (mdb_get(t, st->nodes, &k, &v) == 0)
			return CB_ERR_EXISTS;
		snprintf(info->node, sizeof(info->node), "%s", target->id);
	} else if (id_uuid4(info->node)) {
		return CB_ERR_IO;
	}
	return CB_OK;
}

static cJSON *target_json(const cb_node *target)
{
	cJSON *j = node_to_json(target);
	if (j && target->meta)
		cJSON_AddItemToObject(j, "meta", cJSON_Duplicate(target->meta, 1));
	return j;
}

cb_status blob_begin(cb_store *st, const char *actor, const cb_node *target,
		     cb_upload_mode mode, int64_t size, int flags, cb_upload **out)
{
	const cb_config *cfg = st->cfg;
	char path[CB_DATA_PATH_MAX];
	cb_node t;
	*out = NULL;
	if (!actor || size < CB_SIZE_UNKNOWN ||
	    ((flags & CB_UPLOAD_CHAIN) && mode != CB_UPLOAD_REPLACE))
		return CB_ERR_INVAL;
	if (size > 0 && (uint64_t)size > cfg->max_upload_size)
		return CB_ERR_TOOBIG;

	store_txn txn;
	cb_status s = txn.begin(st, true);
	if (s)
		return s;
	cb_upload *up = upload_new(st);
	if (!up)
		return CB_ERR_NOMEM;
	up->info.mode = mode;
	up->info.size = size;
	up->resumable = !(flags & CB_UPLOAD_ONCE);
	up->info.chain = flags & CB_UPLOAD_CHAIN;
	snprintf(up->info.owner, sizeof(up->info.owner), "%s", actor);
	MD5Init(&up->md5);
	up->md5_durable = up->md5;
	/* a shallow copy (tags and meta stay the caller's): content is the
	 * server's, never a client's choice of blob id */
	t = *target;
	t.blob[0] = t.original[0] = t.thumb[0] = t.md5[0] = 0;
	t.size = 0;
	if ((s = resolve_target(txn.t, st, actor, &t, mode, &up->info)) ||
	    (s = check_space(txn.t, st, up, size > 0 ? (uint64_t)size : 0)))
		goto fail;
	if (!(up->target = target_json(&t)) || id_uuid4(up->info.id)) {
		s = CB_ERR_NOMEM;
		goto fail;
	}
	if (mode == CB_UPLOAD_REPLACE)
		snprintf(up->info.name, sizeof(up->info.name), "%s", target->name);
	if (up->info.chain && (s = chain_claim_txn(txn.t, st, &up->info)))
		goto fail;
	up->info.created = up->info.updated = cb_now_ms();
	store_partial_path(st, up->info.id, path, sizeof(path));
	up->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (up->fd < 0) {
		log_error("blob: cannot create %s: %s", path, strerror(errno));
		s = CB_ERR_IO;
		goto fail;
	}
	if ((s = sync_dir(st, "partial")) || (s = record_put(txn.t, up)) || (s = txn.commit())) {
		unlink(path);
		goto fail;
	}
	*out = up;
	return CB_OK;
fail:
	upload_free(up);
	return s;
}

/* An upload is its uploader's to resume; a node's chain is anyone's who
 * may write the node (they all reach it by the node). */
static cb_status resume_allowed(MDB_txn *t, cb_store *st, const char *actor,
				const cb_upload_info *info)
{
	if (!info->chain)
		return strcmp(info->owner, actor ? actor : "") ? CB_ERR_NOTFOUND : CB_OK;
	cb_node n;
	node_init(&n);
	cb_status s = node_open_txn(t, st, actor, info->node, CB_ACCESS_WRITE, &n, 0);
	node_clear(&n);
	return s;
}

cb_status blob_resume(cb_store *st, const char *actor, const char *upload_id, cb_upload **out)
{
	char path[CB_DATA_PATH_MAX];
	cJSON *j = NULL;
	*out = NULL;
	store_txn txn;
	cb_status s = record_get(st, upload_id, &j);
	if (!s)
		s = txn.begin(st, false);
	if (s) {
		cJSON_Delete(j);
		return s;
	}
	cb_upload *up = upload_new(st);
	if (!up) {
		cJSON_Delete(j);
		return CB_ERR_NOMEM;
	}
	info_from_json(j, &up->info);
	up->target = cJSON_DetachItemFromObjectCaseSensitive(j, "target");
	if ((s = resume_allowed(txn.t, st, actor, &up->info)))
		goto fail;
	if (hex_decode(json_str(j, "md5state"), &up->md5, sizeof(up->md5))) {
		s = CB_ERR_IO;
		goto fail;
	}
	up->offset = up->durable = up->written_back = up->info.offset;
	up->md5_durable = up->md5;
	{
		uint64_t reserved;
		up->quota_base = quota_in_use(txn.t, st, up->info.charged, up->info.id, &reserved);
	}
	store_partial_path(st, up->info.id, path, sizeof(path));
	up->fd = open(path, O_WRONLY | O_CLOEXEC);
	/* bytes past the checkpoint may be torn: the client sends them again */
	if (up->fd < 0 || ftruncate(up->fd, (off_t)up->durable)) {
		log_error("blob: cannot reopen %s: %s", path, strerror(errno));
		s = CB_ERR_IO;
		goto fail;
	}
	cJSON_Delete(j);
	*out = up;
	return CB_OK;
fail:
	cJSON_Delete(j);
	upload_free(up);
	return s;
}

/* ---- writing ---- */

static cb_status errno_status(int err)
{
	switch (err) {
	case ENOSPC:
		return CB_ERR_NOSPACE;
	case EDQUOT:
		return CB_ERR_QUOTA;
	case EFBIG:
		return CB_ERR_TOOBIG;
	default:
		return CB_ERR_IO;
	}
}

/* After a failed sync the kernel may have dropped the dirty pages and
 * will not say so again: only what the last checkpoint synced is known to
 * be on disk, so the upload goes back there. */
static cb_status cut_back(cb_upload *up, int err)
{
	log_error("blob: sync of upload %s failed (%s); back to offset %llu", up->info.id,
		  strerror(err), (unsigned long long)up->durable);
	blob_rewind(up);
	return errno_status(err);
}

void blob_rewind(cb_upload *up)
{
	if (ftruncate(up->fd, (off_t)up->durable))
		log_error("blob: truncate upload %s: %s", up->info.id, strerror(errno));
	up->md5 = up->md5_durable;
	up->offset = up->written_back = up->durable;
}

cb_status blob_write(cb_upload *up, uint64_t offset, const void *data, size_t len)
{
	const cb_config *cfg = up->st->cfg;
	if (offset != up->offset)
		return CB_ERR_OFFSET;
	uint64_t end = offset + len;
	if ((up->info.size >= 0 && end > (uint64_t)up->info.size) || end > cfg->max_upload_size)
		return CB_ERR_TOOBIG;
	if (up->info.size < 0 && cfg->quota && up->quota_base + end > cfg->quota)
		return CB_ERR_QUOTA;

	const uint8_t *p = (const uint8_t *)data;
	size_t left = len;
	while (left) {
		ssize_t w = pwrite(up->fd, p, left, (off_t)(offset + (len - left)));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;
			log_error("blob: write to upload %s: %s", up->info.id, strerror(err));
			/* what part of this chunk reached the file is unknown: cut back */
			if (ftruncate(up->fd, (off_t)offset))
				log_error("blob: truncate upload %s: %s", up->info.id, strerror(errno));
			return errno_status(err);
		}
		p += w;
		left -= (size_t)w;
	}
	MD5Update(&up->md5, (const uint8_t *)data, len);
	up->offset = end;
	/* start writing back now, so that the fdatasync of a checkpoint or
	 * of completion, which stops the loop, finds little left to write
	 * (a hint: an error here is the sync's to report) */
	if (end - up->written_back >= WRITEBACK_BYTES) {
		sync_file_range(up->fd, (off_t)up->written_back, (off_t)(end - up->written_back),
				SYNC_FILE_RANGE_WRITE);
		up->written_back = end;
	}
	if (up->resumable && up->offset - up->durable >= cfg->checkpoint_bytes)
		return blob_checkpoint(up);
	return CB_OK;
}

cb_status blob_checkpoint(cb_upload *up)
{
	if (up->durable == up->offset)
		return CB_OK;
	if (fdatasync(up->fd))
		return cut_back(up, errno);
	/* the bytes are on disk; if the record cannot say so, the checkpoint
	 * stays where it was and the next one tries again */
	uint64_t prev = up->durable;
	MD5_CTX prev_md5 = up->md5_durable;
	up->durable = up->info.offset = up->offset;
	up->md5_durable = up->md5;
	up->info.updated = cb_now_ms();
	store_txn txn;
	cb_status s = txn.begin(up->st, true);
	if (!s)
		s = record_put(txn.t, up);
	if (!s)
		s = txn.commit();
	if (s) {
		up->durable = up->info.offset = prev;
		up->md5_durable = prev_md5;
	}
	return s;
}

uint64_t blob_offset(const cb_upload *up)
{
	return up->offset;
}

uint64_t blob_durable_offset(const cb_upload *up)
{
	return up->durable;
}

const cb_upload_info *blob_info(const cb_upload *up)
{
	return &up->info;
}

/* ---- completion ---- */

/* Commits the node for a verified upload inside t: creates it from the
 * target, or sets the content of the existing one, and drops the upload
 * record. Shared by blob_complete and recovery (which skips the quota:
 * it was checked when the upload began, and the bytes are already in).
 * The event, CREATED or CONTENT by the uploader, is prepared into ev for
 * the caller to publish after the commit. */
static cb_status upload_commit(MDB_txn *t, cb_store *st, const cb_upload_info *info,
			       const cJSON *target, uint64_t size, const char *md5,
			       const cb_upload *up, id_list *gc, cb_node *out, ev_pending *ev)
{
	char id[CB_ID_LEN + 1];
	cb_status s;
	const char *content_of = NULL;
	MDB_val k = {strlen(info->owner), (void *)info->owner}, v;
	if (mdb_get(t, st->users_by_id, &k, &v))
		return CB_ERR_NOTFOUND; /* the account went while the upload ran */
	if (up && st->cfg->quota &&
	    usage_get(t, st, info->charged) + size > st->cfg->quota)
		return CB_ERR_QUOTA;
	if (info->mode == CB_UPLOAD_REPLACE)
		content_of = info->node;
	else if (info->mode == CB_UPLOAD_PUT &&
		 node_find_txn(t, st, info->owner, info->parent, info->name, id) == CB_OK)
		content_of = id;

	if (content_of) {
		s = node_set_content_txn(t, st, info->owner, content_of, info->id, size, md5,
					 up ? up->patch : NULL, up ? up->revert : NULL, gc, ev);
		if (!s && out)
			s = node_load_txn(t, st, content_of, out, CB_NODE_META);
	} else {
		cb_node n;
		node_init(&n);
		s = target ? node_from_json(target, &n) : CB_ERR_IO;
		if (!s) {
			const cJSON *meta = cJSON_GetObjectItemCaseSensitive(target, "meta");
			n.meta = meta ? cJSON_Duplicate(meta, 1) : NULL;
			snprintf(n.id, sizeof(n.id), "%s", info->node);
			snprintf(n.parent, sizeof(n.parent), "%s", info->parent);
			snprintf(n.name, sizeof(n.name), "%s", info->name);
			snprintf(n.blob, sizeof(n.blob), "%s", info->id);
			snprintf(n.md5, sizeof(n.md5), "%s", md5);
			n.size = size;
			n.created = 0;
			s = node_create_txn(t, st, info->owner, &n,
					    info->mode == CB_UPLOAD_KEEP_BOTH ? CB_NAME_SUFFIX : 0);
		}
		if (!s)
			events_prepare(t, st, ev, CB_EV_CREATED, info->owner, n.id);
		if (!s && out) {
			node_clear(out);
			*out = n;
		} else {
			node_clear(&n);
		}
	}
	if (!s && info->chain)
		s = chain_settle_txn(t, st, info, CB_CHAIN_DONE);
	if (!s)
		s = db_del(t, st->uploads, info->id, strlen(info->id));
	return s;
}

cb_status blob_complete(cb_upload *up, const char *md5, cb_node *out)
{
	cb_store *st = up->st;
	char digest_hex[33], partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	uint8_t digest[MD5_DIGEST_LENGTH];
	if (up->info.size >= 0 && up->offset != (uint64_t)up->info.size)
		return CB_ERR_SIZE;
	MD5_CTX c = up->md5;
	MD5Final(digest, &c);
	hex_encode(digest, sizeof(digest), digest_hex);
	if (md5 && strcasecmp(md5, digest_hex))
		return CB_ERR_CHECKSUM;
	if (fdatasync(up->fd))
		return cut_back(up, errno);

	store_txn txn;
	ev_pending ev;
	id_list gc;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = upload_commit(txn.t, st, &up->info, up->target, up->offset, digest_hex, up, &gc,
				  out, &ev);
	if (s)
		return s;
	/* rename before commit: a crash in between leaves the file in blobs/
	 * and the record in uploads, which blob_recover() commits again */
	store_partial_path(st, up->info.id, partial, sizeof(partial));
	store_blob_path(st, up->info.id, final_path, sizeof(final_path));
	if (rename(partial, final_path)) {
		log_error("blob: rename %s: %s", partial, strerror(errno));
		return CB_ERR_IO;
	}
	/* the rename must be on disk before the commit that points at it */
	if ((s = sync_dir(st, "blobs")) || (s = txn.commit())) {
		if (rename(final_path, partial))
			log_error("blob: cannot move %s back: %s", final_path, strerror(errno));
		return s;
	}
	blobs_unlink(st, &gc);
	upload_free(up);
	events_publish(st, &ev);
	return CB_OK;
}

cb_status blob_put(cb_store *st, const void *data, size_t len, char id[CB_ID_LEN + 1])
{
	char partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	if (id_uuid4(id))
		return CB_ERR_IO;
	store_partial_path(st, id, partial, sizeof(partial));
	store_blob_path(st, id, final_path, sizeof(final_path));
	int fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("blob: cannot create %s: %s", partial, strerror(errno));
		return CB_ERR_IO;
	}
	bool ok = pwrite(fd, data, len, 0) == (ssize_t)len && !fdatasync(fd);
	int err = errno;
	close(fd);
	if (!ok || rename(partial, final_path)) {
		if (ok)
			err = errno;
		log_error("blob: cannot write %s: %s", final_path, strerror(err));
		unlink(partial);
		return errno_status(err);
	}
	return sync_dir(st, "blobs");
}

/* ---- closing ---- */

void blob_close(cb_upload *up)
{
	if (blob_checkpoint(up))
		log_warn("blob: upload %s closed at offset %llu, last checkpoint %llu",
			 up->info.id, (unsigned long long)up->offset,
			 (unsigned long long)up->durable);
	upload_free(up);
}

/* Deletes the record and the partial file of upload info; its chain, if
 * it is one, goes to state `chain_after` (NONE: it ends too). */
static cb_status upload_delete(cb_store *st, const cb_upload_info *info,
			       cb_chain_state chain_after)
{
	store_txn txn;
	cb_status s = txn.begin(st, true);
	if (!s)
		s = db_del(txn.t, st->uploads, info->id, strlen(info->id));
	if (!s && info->chain)
		s = chain_settle_txn(txn.t, st, info, chain_after);
	if (!s)
		s = txn.commit();
	partial_unlink(st, info->id);
	return s;
}

void partial_unlink(cb_store *st, const char *upload_id)
{
	char path[CB_DATA_PATH_MAX];
	store_partial_path(st, upload_id, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		log_warn("blob: cannot remove %s: %s", path, strerror(errno));
}

bool upload_expired(cb_store *st, const char *id, int64_t updated, int64_t now)
{
	return updated < now - st->cfg->partial_ttl * 1000 && !find_open(st, id);
}

void blob_abort(cb_upload *up)
{
	if (upload_delete(up->st, &up->info, CB_CHAIN_NONE))
		log_warn("blob: upload %s record not removed", up->info.id);
	upload_free(up);
}

cb_status blob_discard(cb_store *st, const char *actor, const char *upload_id)
{
	cb_upload_info info;
	cb_status s = record_info(st, upload_id, &info);
	if (s)
		return s;
	bool mine = !actor || !strcmp(info.owner, actor);
	return mine ? upload_delete(st, &info, CB_CHAIN_NONE) : CB_ERR_NOTFOUND;
}

cb_status blob_list(cb_store *st, const char *owner, cb_upload_visit visit, void *ctx)
{
	store_txn txn;
	cb_status s = txn.begin(st, false);
	if (s)
		return s;
	return uploads_scan(txn.t, st, [&](const cb_upload_info &u, const cJSON *) {
		return (!owner || !strcmp(owner, u.owner)) ? visit(&u, ctx) : 0;
	});
}

size_t blob_expire(cb_store *st, int64_t now)
{
	id_list stale;
	{
		store_txn txn;
		if (txn.begin(st, false))
			return 0;
		uploads_scan(txn.t, st, [&](const cb_upload_info &u, const cJSON *) {
			if (upload_expired(st, u.id, u.updated, now))
				id_list_add(&stale, u.id);
			return 0;
		});
	}
	size_t n = 0;
	for (size_t i = 0; i < stale.n; i++) {
		cb_upload_info info;
		if (!record_info(st, stale.ids[i], &info) &&
		    !upload_delete(st, &info, CB_CHAIN_EXPIRED)) {
			log_info("blob: expired upload %s", stale.ids[i]);
			n++;
		}
	}
	return n;
}

/* ---- recovery ---- */

/* MD5 and size of a file that reached blobs/ before a crash: the running
 * MD5 state was lost with the process, so this is the one second pass. */
static cb_status file_md5(const char *path, char hex[33], uint64_t *size)
{
	uint8_t buf[65536], digest[MD5_DIGEST_LENGTH];
	MD5_CTX c;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return CB_ERR_IO;
	MD5Init(&c);
	*size = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		MD5Update(&c, buf, (size_t)r);
		*size += (uint64_t)r;
	}
	close(fd);
	if (r < 0)
		return CB_ERR_IO;
	MD5Final(digest, &c);
	hex_encode(digest, sizeof(digest), hex);
	return CB_OK;
}

static bool file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* One stored upload after a crash: finish it, cut it back to its
 * checkpoint, or forget it. */
static void recover_upload(cb_store *st, const cb_upload_info *info, const cJSON *rec)
{
	char partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	store_partial_path(st, info->id, partial, sizeof(partial));
	store_blob_path(st, info->id, final_path, sizeof(final_path));

	if (file_exists(partial) && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rec, "resumable"))) {
		log_info("blob: dropped upload %s interrupted by a crash (not resumable)", info->id);
		upload_delete(st, info, CB_CHAIN_NONE);
		return;
	}
	if (file_exists(partial)) {
		if (truncate(partial, (off_t)info->offset))
			log_error("blob: cannot truncate %s: %s", partial, strerror(errno));
		return;
	}
	if (!file_exists(final_path)) {
		log_warn("blob: upload %s lost its file; forgetting it", info->id);
		upload_delete(st, info, CB_CHAIN_EXPIRED);
		return;
	}
	char md5[33];
	uint64_t size;
	store_txn txn;
	ev_pending ev;
	id_list gc;
	cb_status s = file_md5(final_path, md5, &size);
	if (!s)
		s = txn.begin(st, true);
	if (!s)
		s = upload_commit(txn.t, st, info, cJSON_GetObjectItemCaseSensitive(rec, "target"),
				  size, md5, NULL, &gc, NULL, &ev);
	if (!s)
		s = txn.commit();
	if (s) {
		log_error("blob: cannot finish upload %s: %s", info->id, cb_status_str(s));
		return;
	}
	blobs_unlink(st, &gc);
	events_publish(st, &ev);
	log_info("blob: finished upload %s interrupted by a crash", info->id);
}

/* Removes files in data_dir/sub that keep(name) does not claim. */
template <typename F>
static void sweep_dir(cb_store *st, const char *sub, F keep)
{
	char dir[CB_DATA_PATH_MAX], path[CB_DATA_PATH_MAX + 256];
	snprintf(dir, sizeof(dir), "%s/%s", st->cfg->data_dir, sub);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || keep(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		log_warn("blob: removing orphan %s", path);
		unlink(path);
	}
	closedir(d);
}

cb_status blob_recover(cb_store *st)
{
	/* collect first: recovering writes to the database being scanned */
	cJSON *records = cJSON_CreateArray();
	if (!records)
		return CB_ERR_NOMEM;
	cb_status s;
	{
		store_txn txn;
		if ((s = txn.begin(st, false))) {
			cJSON_Delete(records);
			return s;
		}
		s = uploads_scan(txn.t, st, [&](const cb_upload_info &, const cJSON *j) {
			cJSON_AddItemToArray(records, cJSON_Duplicate(j, 1));
			return 0;
		});
	}
	const cJSON *rec;
	cJSON_ArrayForEach(rec, records)
	{
		cb_upload_info info;
		info_from_json(rec, &info);
		recover_upload(st, &info, rec);
	}
	cJSON_Delete(records);
	if (s)
		return s;

	store_txn txn;
	if ((s = txn.begin(st, false)))
		return s;
	auto has_upload = [&](const char *name) {
		MDB_val k = {strlen(name), (void *)name}, v;
		return mdb_get(txn.t, st->uploads, &k, &v) == 0;
	};
	/* A partial file whose blob the store knows is committed content
	 * whose rename a power loss undid: put it where it belongs. */
	bool moved = false;
	sweep_dir(st, "partial", [&](const char *name) {
		if (has_upload(name))
			return true;
		if (!blob_ref_exists(txn.t, st, name))
			return false;
		char from[CB_DATA_PATH_MAX], to[CB_DATA_PATH_MAX];
		store_partial_path(st, name, from, sizeof(from));
		store_blob_path(st, name, to, sizeof(to));
		if (rename(from, to)) {
			log_error("blob: cannot restore %s: %s", from, strerror(errno));
			return true; /* keep it, whatever happens */
		}
		log_warn("blob: restored %s into blobs/ (its rename was lost)", name);
		moved = true;
		return true;
	});
	if (moved && (s = sync_dir(st, "blobs")))
		return s;
	sweep_dir(st, "blobs", [&](const char *name) {
		return blob_ref_exists(txn.t, st, name) || has_upload(name);
	});
	return CB_OK;
}

int blob_open(cb_store *st, const char *blob_id)
{
	char path[CB_DATA_PATH_MAX];
	if (!id_is_uuid(blob_id))
		return -1;
	store_blob_path(st, blob_id, path, sizeof(path));
	return open(path, O_RDONLY | O_CLOEXEC);
}

int64_t blob_read(cb_store *st, const char *blob_id, uint64_t offset, void *buf, size_t len)
{
	int fd = blob_open(st, blob_id);
	if (fd < 0)
		return -1;
	ssize_t r;
	do
		r = pread(fd, buf, len, (off_t)offset);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r;
}

int64_t blob_size(cb_store *st, const char *blob_id)
{
	char path[CB_DATA_PATH_MAX];
	struct stat sb;
	if (!id_is_uuid(blob_id))
		return -1;
	store_blob_path(st, blob_id, path, sizeof(path));
	return stat(path, &sb) ? -1 : (int64_t)sb.st_size;
}
