/* files_media.cpp: the content of protocol 3's files, `/files/<key>
 * ?alt=media` (docs/files-api.md, "Content"): served from its blob with
 * ranges and ETag by the network layer, replaced by a PUT streamed to
 * disk as it arrives, patched as JSON, removed. Each change is a
 * revision in core. The routes are files_rest.cpp's. */
#include <stdio.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/mime.h"
#include "cubby/store.h"
#include "files_internal.h"

int media_get(cb_conn *c, const char *key)
{
	cb_store *st = conn_store(c);
	cb_node n;
	node_init(&n);
	cb_status s = store_node_get(st, conn_user(c)->id, key, &n, 0);
	int fd = -1, r;
	if (!s && n.blob[0] && (fd = blob_open(st, n.blob)) < 0)
		s = CB_ERR_IO;
	if (s) {
		r = files_fail(c, s, NULL);
	} else if (!n.blob[0]) {
		r = http_error(c, 404, "file has no content");
	} else {
		char etag[40], disp[HTTP_DISPOSITION_MAX];
		snprintf(etag, sizeof(etag), "\"%s\"", n.md5);
		http_disposition(n.name, disp, sizeof(disp));
		const cb_header extra[] = {{"content-disposition:", disp}, {NULL, NULL}};
		/* a mime that would break the header is not sent */
		const char *type = n.mime[0] && mime_printable(n.mime) ? n.mime : CB_MIME_DEFAULT;
		r = http_serve_fd(c, fd, n.size, type, etag, extra);
	}
	node_clear(&n);
	return r;
}

int media_patch(cb_conn *c, const char *key)
{
	return files_patch(c, key, store_content_patch, "content too large to patch");
}

int media_delete(cb_conn *c, const char *key)
{
	cb_status s = store_node_set_content(conn_store(c), conn_user(c)->id, key, "", 0, "",
					     NULL, NULL);
	if (s == CB_ERR_STATE)
		return http_error(c, 404, "file has no content");
	return s ? files_fail(c, s, NULL) : files_reply_no_content(c);
}

/* ---- PUT: the body streams into an upload that replaces the content
 * once all of it is in; one that does not end changes nothing ---- */

int media_put(cb_conn *c, const char *key)
{
	media_put_state *p = (media_put_state *)conn_state(c);
	uint64_t size = conn_content_length(c);
	/* refused before a byte of the body is read */
	if (size > conn_config(c)->max_upload_size)
		return http_error(c, 413, "file too large");
	cb_node target;
	node_init(&target);
	snprintf(target.id, sizeof(target.id), "%s", key);
	cb_status s = blob_begin(conn_store(c), conn_user(c)->id, &target, CB_UPLOAD_REPLACE,
				 (int64_t)size, CB_UPLOAD_ONCE, &p->up);
	node_clear(&target);
	if (s) {
		p->up = NULL;
		return files_fail(c, s, NULL);
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	return 0;
}

int media_put_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	media_put_state *p = (media_put_state *)conn_state(c);
	if (!p->up)
		return 0; /* answered already */
	cb_status s = len ? blob_write(p->up, blob_offset(p->up), data, len) : CB_OK;
	if (!s && !(flags & CB_MSG_FINAL))
		return 0;
	if (!s)
		s = blob_complete(p->up, NULL, NULL);
	if (s)
		blob_abort(p->up);
	p->up = NULL;
	return s ? files_fail(c, s, NULL) : files_reply_file(c, 200, p->key);
}

void media_put_close(cb_conn *c)
{
	media_put_state *p = (media_put_state *)conn_state(c);
	if (p->up)
		blob_abort(p->up);
	p->up = NULL;
}
