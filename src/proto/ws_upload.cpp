/* ws_upload.cpp: protocol 1's `/upload` WebSocket (shared/spec/1, DESIGN
 * §7, docs/projects-files.md): one MD5-checked upload per connection.
 * `upload` declares the name and size, each binary message goes to disk
 * as it arrives (blob_write: pwrite from the receive buffer, MD5 over the
 * same bytes) and is acknowledged, `finished` checks size and MD5 and
 * commits the file. Nothing is kept of an upload that does not finish:
 * a client starts over on a new connection. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/mime.h"
#include "cubby/store.h"
#include "cubby/ws_upload.h"

struct upload_conn {
	cb_message msg;
	cb_upload *up;   /* NULL until `upload` */
	int64_t size;    /* declared */
};

/* ---- answers ---- */

static int send_literal(cb_conn *c, const char *json)
{
	conn_send(c, json, strlen(json), false);
	return 0;
}

static int send_error(cb_conn *c, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int send_error(cb_conn *c, bool fatal, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", text);
	cJSON_AddBoolToObject(j, "fatal", fatal);
	conn_send_json(c, j);
	cJSON_Delete(j);
	return 0;
}

/* A fatal error: everything received is discarded, and the connection
 * closes once the message is out. */
static int fail(cb_conn *c, const char *fmt, const char *detail)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	send_error(c, true, fmt, detail);
	if (u->up)
		blob_abort(u->up);
	u->up = NULL;
	conn_close(c, 1000, "upload failed");
	return 0;
}

/* The fatal error of a failed blob call. */
static int fail_status(cb_conn *c, cb_status s)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	char detail[64];
	switch (s) {
	case CB_ERR_TOOBIG:
		snprintf(detail, sizeof(detail), "%lld", (long long)u->size);
		return fail(c, "size overrun: more than %s bytes", detail);
	case CB_ERR_CHECKSUM:
		return fail(c, "%s", "md5 mismatch");
	case CB_ERR_QUOTA:   /* "quota exceeded" */
	case CB_ERR_NOSPACE: /* "not enough free disk space" */
		return fail(c, "%s", cb_status_str(s));
	case CB_ERR_NOTFOUND: /* the file, or the account, went meanwhile */
		return fail(c, "%s", "file not found");
	default:
		log_error("/upload: %s", cb_status_str(s));
		return fail(c, "internal error: %s", cb_status_str(s));
	}
}

/* ---- upload ---- */

#define SIZE_HUGE INT64_MAX /* more than any max_upload_size: "too large" */

/* A size as a whole non-negative number or a string of digits; -1 if
 * neither. One too large for 64 bits, or for a double to hold exactly, is
 * SIZE_HUGE, refused as too large. */
static int64_t parse_size(const cJSON *v)
{
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d >= 9007199254740992.0) /* 2^53 */
			return SIZE_HUGE;
		return d >= 0 && d == (double)(int64_t)d ? (int64_t)d : -1;
	}
	size_t len = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
	if (!len || strspn(v->valuestring, "0123456789") != len)
		return -1;
	return len > 18 ? SIZE_HUGE : strtoll(v->valuestring, NULL, 10);
}

/* Fills target for the upload `value` asks for: a new file at the top of
 * the user's space, or (with "uuid") new content for that file. Answers
 * the error itself and returns false when it cannot. */
static bool upload_target(cb_conn *c, const cJSON *value, cb_node *target, cb_upload_mode *mode)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(value, "name");
	const cJSON *uuid = cJSON_GetObjectItemCaseSensitive(value, "uuid");
	if (cJSON_IsString(uuid) && uuid->valuestring[0]) {
		cb_status s = strlen(uuid->valuestring) > CB_ID_LEN
				      ? CB_ERR_NOTFOUND
				      : store_node_get(conn_store(c), conn_user(c)->id,
						       uuid->valuestring, target, 0);
		if (!s && (strcmp(target->kind, "file") || target->trashed))
			s = CB_ERR_NOTFOUND;
		if (s) {
			send_error(c, false, "file not found");
			return false;
		}
		*mode = CB_UPLOAD_REPLACE;
		return true;
	}
	if (strlen(name->valuestring) > CB_NAME_MAX) {
		send_error(c, false, "invalid file name");
		return false;
	}
	snprintf(target->kind, sizeof(target->kind), "file");
	snprintf(target->name, sizeof(target->name), "%s", name->valuestring);
	snprintf(target->mime, sizeof(target->mime), "%s", mime_from_name(name->valuestring));
	*mode = CB_UPLOAD_KEEP_BOTH;
	return true;
}

static int on_upload(cb_conn *c, const cJSON *value)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	const cb_config *cfg = conn_config(c);
	if (u->up)
		return send_error(c, false, "upload already started");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(value, "name");
	int64_t size = parse_size(cJSON_GetObjectItemCaseSensitive(value, "size"));
	if (!cJSON_IsString(name) || size < 0)
		return send_error(c, false, "upload needs a value with a name and a size");
	cb_node target;
	cb_upload_mode mode;
	node_init(&target);
	if (!upload_target(c, value, &target, &mode)) {
		node_clear(&target);
		return 0;
	}
	u->size = size;
	/* a broken upload starts over on a new connection */
	cb_status s = blob_begin(conn_store(c), conn_user(c)->id, &target, mode, size,
				 CB_UPLOAD_ONCE, &u->up);
	node_clear(&target);
	switch (s) {
	case CB_OK:
		return send_literal(c, "{\"ready\":true}");
	case CB_ERR_INVAL:
		return send_error(c, false, "invalid file name");
	case CB_ERR_NOTFOUND:
		return send_error(c, false, "file not found");
	case CB_ERR_ACCESS:
		return send_error(c, false, "you may not change this file");
	case CB_ERR_TOOBIG: {
		char limit[32];
		snprintf(limit, sizeof(limit), "%llu", (unsigned long long)cfg->max_upload_size);
		return fail(c, "file too large: the limit is %s bytes", limit);
	}
	default:
		return fail_status(c, s);
	}
}

/* ---- finished ---- */

static bool is_md5_hex(const cJSON *v)
{
	return cJSON_IsString(v) && strlen(v->valuestring) == 32 &&
	       strspn(v->valuestring, "0123456789abcdefABCDEF") == 32;
}

static int on_finished(cb_conn *c, const cJSON *value)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	if (!u->up)
		return send_error(c, false, "no upload started");
	if (!is_md5_hex(value))
		return send_error(c, false, "finished needs the MD5 of the file as 32 hex digits");
	uint64_t got = blob_offset(u->up);
	if (got < (uint64_t)u->size)
		return send_error(c, false, "incomplete: %llu of %lld bytes received",
				  (unsigned long long)got, (long long)u->size);
	cb_status s = blob_complete(u->up, value->valuestring, NULL);
	if (s)
		return fail_status(c, s);
	u->up = NULL; /* complete freed it */
	send_literal(c, "{\"close\":true}");
	conn_close(c, 1000, "");
	return 0;
}

/* ---- messages ---- */

static int on_text(cb_conn *c, const char *text, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(j, "value");
	if (cJSON_IsObject(j) && cJSON_IsString(action) && !strcmp(action->valuestring, "upload"))
		on_upload(c, value);
	else if (cJSON_IsObject(j) && cJSON_IsString(action) &&
		 !strcmp(action->valuestring, "finished"))
		on_finished(c, value);
	else
		send_error(c, false,
			   "unsupported message: expected {\"action\":\"upload\"} or "
			   "{\"action\":\"finished\"}");
	cJSON_Delete(j);
	return 0;
}

/* A piece of a binary message goes to disk at once; the message is
 * acknowledged when its last piece is written. */
static int on_data(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	if (!u->up)
		return (flags & CB_MSG_FINAL) ? send_error(c, false, "no upload started") : 0;
	cb_status s = blob_write(u->up, blob_offset(u->up), data, len);
	if (s)
		return fail_status(c, s);
	return (flags & CB_MSG_FINAL) ? send_literal(c, "{\"ready\":true}") : 0;
}

static int upload_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	if (flags & CB_MSG_BINARY)
		return on_data(c, data, len, flags);
	uint64_t max = conn_config(c)->max_message_size;
	int r = msg_add(&u->msg, data, len, flags, max);
	if (r <= 0)
		return r;
	if (u->msg.too_big)
		send_error(c, false, "message larger than %llu bytes", (unsigned long long)max);
	else
		on_text(c, u->msg.data, u->msg.len);
	msg_reset(&u->msg);
	return 0;
}

/* Gone before `finished`: nothing of it stays. */
static void upload_close(cb_conn *c)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	if (u->up)
		blob_abort(u->up);
	msg_free(&u->msg);
}

static void upload_shutdown(cb_conn *c)
{
	upload_conn *u = (upload_conn *)conn_state(c);
	if (!u->up)
		return;
	send_error(c, true, "server shutting down");
	blob_abort(u->up);
	u->up = NULL;
}

const cb_endpoint ws_upload_endpoints[] = {
	{CB_WS, 0, "/upload", CB_NEED_USER, sizeof(upload_conn), NULL, NULL, upload_receive,
	 upload_close, NULL, NULL, upload_shutdown},
	{},
};
