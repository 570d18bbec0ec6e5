/* files_internal.h: what the two files of protocol 3's REST module
 * share (files_rest.cpp: routes, files, permissions, revisions;
 * files_media.cpp: `?alt=media`). No other module includes it. */
#pragma once
#include <cjson/cJSON.h>
#include "cubby/files_rest.h"
#include "cubby/ids.h"
#include "cubby/status.h"

/* files_rest.cpp */
/* The answer to a failed core call about a file (docs/files-api.md,
 * "Errors"); err: core's text for CB_ERR_INVAL and CB_ERR_TEST, or NULL. */
int files_fail(cb_conn *c, cb_status s, const char *err);
/* 200/201 with the file id as GET shows it. */
int files_reply_file(cb_conn *c, int status, const char *id);
int files_reply_no_content(cb_conn *c);
/* A JSON Patch body applied by fn (store_node_patch, store_content_patch)
 * to node key, answered {"id","patch","revert"}; CB_ERR_TOOBIG answers
 * 413 `too_big` when not NULL. */
typedef cb_status (*files_patch_fn)(struct cb_store *st, const char *actor, const char *id,
				    const cJSON *patch, cJSON **revert, char *err, size_t errsz);
int files_patch(cb_conn *c, const char *key, files_patch_fn fn, const char *too_big);

/* files_media.cpp: GET, PUT, PATCH, DELETE of /files/<key>?alt=media */
int media_get(cb_conn *c, const char *key);
int media_patch(cb_conn *c, const char *key);
int media_delete(cb_conn *c, const char *key);
/* PUT streams (CB_STREAM_BODY): media_put at the headers, then the body
 * to media_put_receive; the endpoint's state is a media_put_state. */
struct media_put_state {
	char key[CB_ID_LEN + 1];
	struct cb_upload *up; /* until it completed or failed */
};
int media_put(cb_conn *c, const char *key);
int media_put_receive(cb_conn *c, const void *data, size_t len, unsigned flags);
void media_put_close(cb_conn *c);
