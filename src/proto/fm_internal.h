/* fm_internal.h: what the files of protocol 5, the file manager
 * (docs/file-manager.md), share: fm.cpp (the /fm endpoint: the form, the
 * actions, acp answers), fm_upload.cpp (add and update: where a file
 * goes, its content streamed in whole or in chunks) and fm_url.cpp (file
 * URLs /u/<user>/<path>: made, read back, served). No other module
 * includes it. */
#pragma once
#include <stdint.h>
#include <cjson/cJSON.h>
#include "cubby/config.h"
#include "cubby/mime.h"
#include "cubby/net.h"
#include "cubby/store.h"

struct cb_form;
struct cb_upload;

/* The user's staging area (virtual profiles): a directory of its own. */
#define FM_STAGING ".cubby-staging"
#define FM_URL_MAX (8 + 3 * (32 + CB_PATH_MAX + CB_NAME_MAX) + 8)
#define FM_MSG_MAX 1024

/* The form's fields, as they arrive (docs/file-manager.md, "Fields"). */
struct fm_fields {
	char action[32];          /* "" not given */
	char extension[32];       /* "fileEditor": the older form of the calls */
	char config_id[CB_PROFILE_NAME_MAX + 1];
	bool has_config_id;
	int use_chunks;           /* -1 not given, else 0/1; likewise below */
	int is_private;
	int keep_original;
	int last_chunk;
	int64_t start, end;       /* -1 not given */
	char filename[CB_PATH_MAX + CB_NAME_MAX + 2];
	bool has_filename;
	char directory[CB_PATH_MAX + 1];
	bool has_directory;
	char url[FM_URL_MAX + 1];
	bool has_url;
	cJSON *tags;              /* array of strings; NULL none given */
	char error[FM_MSG_MAX];   /* the first bad field: answered at the end */
};

/* One /fm request (the endpoint's state). */
struct fm_request {
	cb_conn *conn;
	cb_form *form;
	fm_fields f;
	bool file_seen;           /* a file part began */
	char part_filename[CB_NAME_MAX + 1]; /* its Content-Disposition filename */

	/* add / update with a file (fm_upload.cpp) */
	const cb_profile *profile;
	cb_node target;           /* where the file goes (node_init'ed) */
	bool replace;             /* update: new content for target.id */
	bool chunked;
	cb_upload *up;            /* open while the file streams */
	unsigned char head[MIME_SNIFF_BYTES]; /* the first bytes, before up opens */
	size_t head_len;
	uint64_t part_bytes;      /* of this request's file part */
	uint64_t max_size;
	bool answered;
	bool dropped;             /* the answer could not be queued: drop it */
};

/* fm.cpp */
/* {"type":"success"}, NULL when out of memory. */
cJSON *fm_success(void);
/* Answers j (taken; NULL: out of memory, the connection is dropped). The
 * answers below return what this does: 0, or -1 to drop. */
int fm_reply(cb_conn *c, cJSON *j);
/* {"type":"error","error":<message>} with HTTP 200 (acp). */
int fm_fail(cb_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The error of a failed core call about file `what` (a name or URL). */
int fm_fail_status(cb_conn *c, cb_status s, const char *what);
/* The acp success answer of a stored node: is_fully_uploaded 1, url,
 * filename, name, directory, tags, is_private, original_url when kept. */
int fm_reply_node(cb_conn *c, const cb_node *n);
/* The profile the request names (configId), or the default one when
 * `fallback` and none is named; NULL after answering the error. */
const cb_profile *fm_profile(cb_conn *c, fm_request *r, bool fallback);

/* fm_upload.cpp */
/* Whether directory dir is the staging area or below it. */
bool fm_in_staging(const char *dir);
/* A file part begins: places it (add) or finds its node (update) and
 * checks what can be checked before its bytes. 0 to go on; 1 answered. */
int fm_file_begin(cb_conn *c, fm_request *r, bool update);
/* The file's bytes; 0 to go on, 1 answered. */
int fm_file_data(cb_conn *c, fm_request *r, const void *data, size_t len);
/* The body is in: the file is complete (or this chunk is): answer. */
int fm_file_finish(cb_conn *c, fm_request *r);
/* update without a file: renames, moves, retags, changes privacy. */
int fm_update_fields(cb_conn *c, fm_request *r);
/* get_partial_size: the bytes held of an unfinished chunked upload. */
int fm_partial_size(cb_conn *c, fm_request *r);
/* The connection went before the request ended: a chunked upload keeps
 * what arrived, a whole one is dropped. */
void fm_upload_close(fm_request *r);

/* fm_url.cpp */
/* GET (and HEAD) /u/<user>/<path>: the file to whoever may read it. */
int fm_serve(cb_conn *c);
/* "/u/<user>/<parent>/<name>", each part percent-encoded. */
void fm_url(const char *user_name, const char *parent, const char *name, char *out, size_t n);
/* The live node a URL (as fm_url() makes it, or absolute with scheme
 * and host, with or without a query) names, if actor may read it. */
cb_status fm_url_node(cb_store *st, const char *actor, const char *url, cb_node *out);
/* The directory and name a URL of user_name's names (CB_ERR_NOTFOUND
 * when it is not a file URL of that user): for a file not stored yet. */
cb_status fm_url_place(const char *url, const char *user_name, char parent[CB_PATH_MAX + 1],
		       char name[CB_NAME_MAX + 1]);
