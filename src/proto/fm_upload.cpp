/* fm_upload.cpp: the file of protocol 5's add and update
 * (docs/file-manager.md, "add" and "update"): where it goes (the
 * profile, then the client's filename and directory), what it may be
 * (the profile's extensions, and types checked against its first bytes),
 * and its bytes, written to the partial file as the form parser hands
 * them over. A whole upload (useChunks 0) completes with its request; a
 * chunked one is kept between requests, each chunk appended at `start`,
 * until the last chunk completes it. */
#include <stdio.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/log.h"
#include "cubby/paths.h"
#include "fm_internal.h"

static const char *me(cb_conn *c)
{
	return conn_user(c)->id;
}

/* ---- where the file goes ---- */

/* dir/sub joined, into out (CB_PATH_MAX + 1); false when too long. */
static bool join(const char *a, const char *b, char *out)
{
	int n = snprintf(out, CB_PATH_MAX + 1, "%s%s%s", a, *a && *b ? "/" : "", b);
	return n >= 0 && n <= CB_PATH_MAX;
}

bool fm_in_staging(const char *dir)
{
	size_t n = strlen(FM_STAGING);
	return !strncmp(dir, FM_STAGING, n) && (!dir[n] || dir[n] == '/');
}

/* Sets t->name (from filename, which may hold a directory part, when not
 * NULL) and t->parent: the profile's fixed directory, else the directory
 * field joined with filename's directory part, else "" for an add and
 * the present one for an update; an add of a virtual profile goes below
 * the staging area. *any_parent (may be NULL): the client named no
 * directory. false after answering the error. */
static bool place(cb_conn *c, fm_request *r, const char *filename, bool add, cb_node *t,
		  bool *any_parent)
{
	const cb_profile *p = r->profile;
	char fdir[CB_PATH_MAX + 1] = "", dir[CB_PATH_MAX + 1], cdir[CB_PATH_MAX + 1] = "";
	const char *bad;
	if (filename) {
		if ((bad = path_split(filename, strlen(filename), fdir, sizeof(fdir), t->name,
				      sizeof(t->name)))) {
			fm_fail(c, "invalid filename %s: %s", filename, bad);
			return false;
		}
	}
	if (r->f.has_directory &&
	    (bad = path_normalize(r->f.directory, strlen(r->f.directory), cdir, sizeof(cdir)))) {
		fm_fail(c, "invalid directory %s: %s", r->f.directory, bad);
		return false;
	}
	bool client_dir = r->f.has_directory || fdir[0];
	if (any_parent)
		*any_parent = !client_dir && !p->directory[0];
	if (p->directory[0]) {
		snprintf(dir, sizeof(dir), "%s", p->directory);
	} else if (client_dir) {
		if (!join(cdir, fdir, dir)) {
			fm_fail(c, "directory too long: %s", cdir);
			return false;
		}
		if (fm_in_staging(dir)) {
			fm_fail(c, "directory not allowed: %s is the staging area", FM_STAGING);
			return false;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s", add ? "" : t->parent);
	}
	if (add && p->is_virtual) {
		char staged[CB_PATH_MAX + 1];
		if (!join(FM_STAGING, dir, staged)) {
			fm_fail(c, "directory too long: %s", dir);
			return false;
		}
		snprintf(dir, sizeof(dir), "%s", staged);
	}
	snprintf(t->parent, sizeof(t->parent), "%s", dir);
	return true;
}

/* tags and privacy from the fields, the profile's privacy first. */
static void describe(fm_request *r, cb_node *t)
{
	int priv = r->profile->force_private >= 0 ? r->profile->force_private : r->f.is_private;
	if (priv >= 0)
		t->anyone = priv ? CB_ROLE_NONE : CB_ROLE_READER;
	if (r->f.tags) {
		cJSON_Delete(t->tags);
		t->tags = cJSON_Duplicate(r->f.tags, 1);
	}
}

static bool name_allowed(cb_conn *c, fm_request *r, const char *name)
{
	if (profile_allows_name(r->profile, name))
		return true;
	fm_fail(c, "file type not allowed: %s (allowed extensions: %s)", name,
		r->profile->extensions);
	return false;
}

/* ---- unfinished chunked uploads ---- */

struct partial_query {
	const char *node;    /* an update's: the upload replaces this node */
	const char *parent;  /* an add's: the upload makes parent/name */
	const char *name;
	bool any_parent;     /* the add's name in any directory */
	cb_upload_info found;
	bool has;
};

static int partial_visit(const cb_upload_info *u, void *ctx)
{
	partial_query *q = (partial_query *)ctx;
	bool match = q->node ? u->mode == CB_UPLOAD_REPLACE && !u->chain && !strcmp(u->node, q->node)
			     : u->mode != CB_UPLOAD_REPLACE && !strcmp(u->name, q->name) &&
				       (q->any_parent || !strcmp(u->parent, q->parent));
	if (match && (!q->has || u->updated > q->found.updated)) {
		q->found = *u;
		q->has = true;
	}
	return 0;
}

static cb_status partial_find(cb_store *st, const char *owner, partial_query *q)
{
	q->has = false;
	return blob_list(st, owner, partial_visit, q);
}

/* The file's own name in messages. */
static const char *label(const fm_request *r)
{
	return r->target.name[0] ? r->target.name : r->f.url;
}

/* ---- the upload ---- */

int fm_file_begin(cb_conn *c, fm_request *r, bool update)
{
	r->replace = update;
	r->chunked = r->f.use_chunks == 1;
	if (!(r->profile = fm_profile(c, r, update)))
		return 1;
	uint64_t limit = r->profile->max_size ? r->profile->max_size : conn_config(c)->max_upload_size;
	r->max_size = limit;
	const char *filename = r->f.has_filename ? r->f.filename : r->part_filename;
	if (update) {
		if (!r->f.has_url)
			return fm_fail(c, "missing url"), 1;
		cb_status s = fm_url_node(conn_store(c), me(c), r->f.url, &r->target);
		if (s)
			return fm_fail_status(c, s, r->f.url), 1;
		if (!place(c, r, r->f.has_filename ? filename : NULL, false, &r->target, NULL))
			return 1;
	} else {
		if (!*filename)
			return fm_fail(c, "missing filename"), 1;
		snprintf(r->target.kind, sizeof(r->target.kind), "file");
		r->target.anyone = CB_ROLE_READER; /* is_private defaults to 0 */
		if (!place(c, r, filename, true, &r->target, NULL))
			return 1;
	}
	describe(r, &r->target);
	if (!name_allowed(c, r, r->target.name))
		return 1;
	if (r->f.start < 0)
		r->f.start = 0;
	/* a later chunk is not sniffed: its upload opens at once */
	return r->chunked && r->f.start > 0 ? fm_file_data(c, r, NULL, 0) : 0;
}

/* The content's type from its first bytes, checked against the profile;
 * the stored type is the name's, or failing that the content's. */
static bool type_check(cb_conn *c, fm_request *r)
{
	const char *by_name = mime_from_name(r->target.name);
	const char *type = mime_of_content(r->target.name, r->head, r->head_len);
	if (!profile_allows_type(r->profile, type)) {
		fm_fail(c, "file type not allowed: %s is %s (allowed types: %s)", r->target.name,
			type, r->profile->types);
		return false;
	}
	/* a name without a known extension takes what the bytes show */
	const char *stored = strcmp(by_name, CB_MIME_DEFAULT) ? by_name : type;
	snprintf(r->target.mime, sizeof(r->target.mime), "%s", stored);
	return true;
}

/* A chunk at start > 0 continues the unfinished upload of the file, from
 * exactly where it stands. */
static bool chunk_resume(cb_conn *c, fm_request *r)
{
	cb_store *st = conn_store(c);
	partial_query q = {r->replace ? r->target.id : NULL, r->target.parent, r->target.name,
			   false, {}, false};
	cb_status s = partial_find(st, me(c), &q);
	if (!s && !q.has) {
		fm_fail(c, "no unfinished upload of %s to continue: start at 0", label(r));
		return false;
	}
	if (!s)
		s = blob_resume(st, me(c), q.found.id, &r->up);
	if (s) {
		r->up = NULL;
		fm_fail_status(c, s, label(r));
		return false;
	}
	uint64_t held = blob_offset(r->up);
	if ((uint64_t)r->f.start != held) {
		blob_close(r->up);
		r->up = NULL;
		fm_fail(c, "chunk gap: the server has %llu bytes of %s, the chunk starts at %lld",
			(unsigned long long)held, label(r), (long long)r->f.start);
		return false;
	}
	return true;
}

/* Opens the upload once the first bytes are in (or the file ended
 * sooner). A chunked upload from 0 replaces an unfinished one of the
 * same file. */
static bool upload_open(cb_conn *c, fm_request *r)
{
	cb_store *st = conn_store(c);
	if (r->chunked && r->f.start > 0)
		return chunk_resume(c, r);
	if (!type_check(c, r))
		return false;
	cb_status s = CB_OK;
	if (r->chunked) {
		partial_query q = {r->replace ? r->target.id : NULL, r->target.parent,
				   r->target.name, false, {}, false};
		s = partial_find(st, me(c), &q);
		if (!s && q.has)
			s = blob_discard(st, me(c), q.found.id);
	}
	cb_upload_mode mode = r->replace ? CB_UPLOAD_REPLACE
			      : r->profile->overwrite ? CB_UPLOAD_PUT : CB_UPLOAD_CREATE;
	if (!s)
		s = blob_begin(st, me(c), &r->target, mode, CB_SIZE_UNKNOWN,
			       r->chunked ? 0 : CB_UPLOAD_ONCE, &r->up);
	if (s) {
		r->up = NULL;
		fm_fail_status(c, s, label(r));
		return false;
	}
	return true;
}

/* Drops the upload and answers the error. */
static int upload_fail(cb_conn *c, fm_request *r, cb_status s)
{
	if (r->up)
		blob_abort(r->up);
	r->up = NULL;
	return fm_fail_status(c, s, label(r)), 1;
}

static int write_bytes(cb_conn *c, fm_request *r, const void *data, size_t len)
{
	cb_status s = blob_write(r->up, blob_offset(r->up), data, len);
	return s ? upload_fail(c, r, s) : 0;
}

int fm_file_data(cb_conn *c, fm_request *r, const void *data, size_t len)
{
	r->part_bytes += len;
	if ((uint64_t)r->f.start + r->part_bytes > r->max_size) {
		if (r->up)
			blob_abort(r->up);
		r->up = NULL;
		return fm_fail(c, "file too large: the limit is %llu bytes",
			       (unsigned long long)r->max_size), 1;
	}
	if (r->up)
		return len ? write_bytes(c, r, data, len) : 0;
	bool later_chunk = r->chunked && r->f.start > 0;
	/* the first bytes wait in head until there are enough to sniff */
	size_t take = later_chunk ? 0 : sizeof(r->head) - r->head_len;
	take = take < len ? take : len;
	if (take)
		memcpy(r->head + r->head_len, data, take);
	r->head_len += take;
	if (!later_chunk && r->head_len < sizeof(r->head) && data)
		return 0;
	if (!upload_open(c, r))
		return 1;
	if (r->head_len && write_bytes(c, r, r->head, r->head_len))
		return 1;
	return len > take ? write_bytes(c, r, (const char *)data + take, len - take) : 0;
}

/* The node as stored now, answered. */
static int reply_stored(cb_conn *c, const char *id)
{
	cb_node n;
	node_init(&n);
	cb_status s = store_node_get(conn_store(c), me(c), id, &n, 0);
	int rc = s ? fm_fail_status(c, s, id) : fm_reply_node(c, &n);
	node_clear(&n);
	return rc;
}

/* After the content, `stored` as it is now: an update's new name, place,
 * tags and privacy; an add that replaced a taken name (overwrite) gives
 * that file the add's tags, privacy and type. Then the original, when
 * asked for and the profile allows it. */
static int complete_node(cb_conn *c, fm_request *r, const cb_node *stored)
{
	cb_store *st = conn_store(c);
	bool overwrote = !r->replace && r->profile->overwrite;
	if (stored != &r->target) {
		snprintf(r->target.id, sizeof(r->target.id), "%s", stored->id);
		if (overwrote)
			snprintf(r->target.kind, sizeof(r->target.kind), "%s", stored->kind);
	}
	if (!r->target.mime[0]) /* a later chunk's request never saw the first bytes */
		snprintf(r->target.mime, sizeof(r->target.mime), "%s", stored->mime);
	bool changed = r->replace || (overwrote && (stored->anyone != r->target.anyone ||
						    strcmp(stored->mime, r->target.mime) ||
						    !cJSON_Compare(stored->tags, r->target.tags, true)));
	if (changed) {
		cb_status s = store_node_update(st, me(c), &r->target, 0);
		if (s)
			return fm_fail_status(c, s, r->target.name);
	}
	if (r->f.keep_original == 1 && r->profile->keep_original) {
		cb_status s = store_node_keep_original(st, me(c), r->target.id);
		if (s)
			return fm_fail(c, "%s is stored, but its original could not be kept (%s)",
				       r->target.name, cb_status_str(s));
	}
	return reply_stored(c, r->target.id);
}

int fm_file_finish(cb_conn *c, fm_request *r)
{
	if (!r->up && (fm_file_data(c, r, NULL, 0) || r->answered))
		return 0;
	if (r->chunked && r->f.end >= 0 && (uint64_t)r->f.end != r->f.start + r->part_bytes) {
		blob_close(r->up); /* what came stays: get_partial_size tells */
		r->up = NULL;
		return fm_fail(c, "chunk size mismatch: start %lld to end %lld is not the %llu bytes sent",
			       (long long)r->f.start, (long long)r->f.end,
			       (unsigned long long)r->part_bytes);
	}
	if (r->chunked && r->f.last_chunk != 1) {
		cb_status s = blob_checkpoint(r->up);
		blob_close(r->up);
		r->up = NULL;
		if (s)
			return fm_fail_status(c, s, label(r));
		cJSON *j = fm_success();
		if (j && !cJSON_AddNumberToObject(j, "is_fully_uploaded", 0)) {
			cJSON_Delete(j);
			j = NULL;
		}
		return fm_reply(c, j);
	}
	cb_node n;
	node_init(&n);
	cb_status s = blob_complete(r->up, NULL, &n);
	if (s) {
		node_clear(&n);
		return upload_fail(c, r, s);
	}
	r->up = NULL;
	int rc = complete_node(c, r, &n);
	node_clear(&n);
	return rc;
}

int fm_update_fields(cb_conn *c, fm_request *r)
{
	if (!(r->profile = fm_profile(c, r, true)))
		return 0;
	if (!r->f.has_url)
		return fm_fail(c, "missing url");
	cb_status s = fm_url_node(conn_store(c), me(c), r->f.url, &r->target);
	if (s)
		return fm_fail_status(c, s, r->f.url);
	r->replace = true;
	if (!place(c, r, r->f.has_filename ? r->f.filename : NULL, false, &r->target, NULL))
		return 0;
	describe(r, &r->target);
	if (r->f.has_filename && !name_allowed(c, r, r->target.name))
		return 0;
	return complete_node(c, r, &r->target);
}

int fm_partial_size(cb_conn *c, fm_request *r)
{
	cb_store *st = conn_store(c);
	cb_node n;
	node_init(&n);
	partial_query q = {};
	cb_status s = CB_OK;
	const char *what;
	if (r->f.has_url) {
		what = r->f.url;
		s = fm_url_node(st, me(c), r->f.url, &n);
		if (!s)
			q.node = n.id; /* an update's */
		else if (s == CB_ERR_NOTFOUND)
			s = fm_url_place(r->f.url, conn_user(c)->name, n.parent, n.name);
		q.parent = n.parent;
		q.name = n.name;
	} else {
		what = r->f.filename;
		if (!r->f.has_filename || !*r->f.filename) {
			node_clear(&n);
			return fm_fail(c, "missing filename or url");
		}
		if (!(r->profile = fm_profile(c, r, true)) ||
		    !place(c, r, r->f.filename, true, &n, &q.any_parent)) {
			node_clear(&n);
			return 0;
		}
		q.parent = n.parent;
		q.name = n.name;
	}
	if (!s)
		s = partial_find(st, me(c), &q);
	int rc;
	if (s) {
		rc = fm_fail_status(c, s, what);
	} else if (!q.has) {
		rc = fm_fail(c, "no unfinished upload of %s", what);
	} else {
		cJSON *j = fm_success();
		if (j && !cJSON_AddNumberToObject(j, "size", (double)q.found.offset)) {
			cJSON_Delete(j);
			j = NULL;
		}
		rc = fm_reply(c, j);
	}
	node_clear(&n);
	return rc;
}

void fm_upload_close(fm_request *r)
{
	if (!r->up)
		return;
	if (r->chunked)
		blob_close(r->up); /* resumed from get_partial_size */
	else
		blob_abort(r->up);
	r->up = NULL;
}
