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

/* Bytes of a name that RFC 5987 lets stand for themselves in filename*. */
#define ATTR_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_"

/* `inline; filename="<name>"`, with '"', '\' and all but printable ASCII
 * as '_' there, and then, when that changed the name, the exact name as
 * RFC 5987's filename*. out: 4 * CB_NAME_MAX + 64 bytes hold any name. */
static void disposition(const char *name, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = (size_t)snprintf(out, n, "inline; filename=\"");
	bool exact = true;
	for (const char *p = name; *p && len + 2 < n; p++) {
		bool plain = *p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\';
		exact = exact && plain;
		out[len++] = plain ? *p : '_';
	}
	len += (size_t)snprintf(out + len, n - len, "\"");
	if (exact || len + 20 > n)
		return;
	len += (size_t)snprintf(out + len, n - len, "; filename*=UTF-8''");
	for (const unsigned char *p = (const unsigned char *)name; *p && len + 4 < n; p++) {
		if (strchr(ATTR_CHARS, *p)) {
			out[len++] = (char)*p;
		} else {
			out[len++] = '%';
			out[len++] = hex[*p >> 4];
			out[len++] = hex[*p & 15];
		}
	}
	out[len] = 0;
}

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
		char etag[40], disp[4 * CB_NAME_MAX + 64];
		snprintf(etag, sizeof(etag), "\"%s\"", n.md5);
		disposition(n.name, disp, sizeof(disp));
		const cb_header extra[] = {{"content-disposition:", disp}, {NULL, NULL}};
		/* a mime that would break the header is not sent */
		const char *type = n.mime[0] && files_mime_ok(n.mime) ? n.mime : CB_MIME_DEFAULT;
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
