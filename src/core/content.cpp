/* content.cpp: patching a node's content as JSON (spec 3's
 * `PATCH /files/<key>?alt=media`). The content is read whole, so it is
 * limited to max_message_size; the result goes back through an ordinary
 * upload of new content, so quota, free space, the revision and the
 * CONTENT event (which carries the patch) are the upload's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/jsonpatch.h"
#include "store_internal.h"

/* The JSON value that is all of buf (whitespace aside), or NULL: cJSON
 * alone takes a valid prefix and ignores what follows. */
static cJSON *json_parse_whole(const char *buf, size_t len)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	while (j && end < buf + len && strchr(" \t\r\n", *end) && *end)
		end++;
	if (j && end != buf + len) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* The node's content parsed as JSON into *doc (null without bytes). */
static cb_status content_read(cb_store *st, const cb_node *n, cJSON **doc, char *err,
			      size_t errsz)
{
	if (!n->blob[0] || !n->size)
		return (*doc = cJSON_CreateNull()) ? CB_OK : CB_ERR_NOMEM;
	if (n->size > st->cfg->max_message_size)
		return CB_ERR_TOOBIG;
	char *buf = (char *)malloc(n->size + 1);
	if (!buf)
		return CB_ERR_NOMEM;
	int64_t got = blob_read(st, n->blob, 0, buf, n->size);
	cb_status s = CB_OK;
	if (got != (int64_t)n->size) {
		s = CB_ERR_IO;
	} else if (!(*doc = json_parse_whole(buf, n->size))) {
		snprintf(err, errsz, "content is not JSON");
		s = CB_ERR_INVAL;
	}
	free(buf);
	return s;
}

/* Stores text as node id's new content, a revision carrying patch. */
static cb_status content_write(cb_store *st, const char *actor, const char *id,
			       const char *text, const cJSON *patch, const cJSON *revert)
{
	cb_node target;
	cb_upload *up;
	size_t len = strlen(text);
	node_init(&target);
	snprintf(target.id, sizeof(target.id), "%s", id);
	cb_status s = blob_begin(st, actor, &target, CB_UPLOAD_REPLACE, (int64_t)len,
				 CB_UPLOAD_ONCE, &up);
	node_clear(&target);
	if (s)
		return s;
	upload_set_patch(up, patch, revert);
	if ((s = blob_write(up, 0, text, len)) || (s = blob_complete(up, NULL, NULL)))
		blob_abort(up);
	return s;
}

cb_status store_content_patch(cb_store *st, const char *actor, const char *id,
			      const cJSON *patch, cJSON **revert, char *err, size_t errsz)
{
	cb_node n;
	cJSON *doc = NULL, *rev = NULL;
	char *text = NULL;
	char why[256];
	err[0] = 0;
	node_init(&n);
	cb_status s;
	{
		store_txn txn;
		if (!(s = txn.begin(st, false)))
			s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_WRITE, &n, 0);
	}
	if (!s)
		s = content_read(st, &n, &doc, err, errsz);
	if (!s)
		s = patch_error(jsonpatch_apply(&doc, patch, &rev, why, sizeof(why)), why, err, errsz);
	if (!s && !(text = cJSON_PrintUnformatted(doc)))
		s = CB_ERR_NOMEM;
	if (!s && strlen(text) > st->cfg->max_message_size)
		s = CB_ERR_TOOBIG;
	if (!s)
		s = content_write(st, actor, n.id, text, patch, rev);
	if (!s && revert) {
		*revert = rev;
		rev = NULL;
	}
	cJSON_free(text);
	cJSON_Delete(rev);
	cJSON_Delete(doc);
	node_clear(&n);
	return s;
}
