/* resumable.cpp: protocol 2's `/ws/Upload` (shared/spec/2, DESIGN §4 and
 * §7, docs/resumable-upload.md): an upload into a node's content that a
 * client builds up over as many connections as it takes.
 *
 * The server opens with the FileStateInfo (what it holds durably), the
 * client answers with the same object, then sends binary messages of
 * offset(8, LE) count(2, LE) data. Each piece of data goes to disk as it
 * arrives (blob_write: pwrite from the receive buffer); heartbeats tell
 * the client how far the server is. The upload is the node's chain
 * (CB_UPLOAD_CHAIN): one per node, checkpointed by core, kept across
 * disconnects and crashes until it completes or is destroyed with
 * `DELETE /files/<id>/upload`. With saveMedia=false nothing is stored:
 * the bytes go to the node's media watchers over the event bus. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libwebsockets.h>

#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/log.h"
#include "cubby/paths.h"
#include "cubby/resumable.h"

#define HEADER_LEN 10 /* offset (int64 or double) + count (int16) */
#define EXACT_MAX 9007199254740992.0 /* 2^53: a double's whole numbers end */

enum rs_phase {
	PH_HANDSHAKE, /* FileStateInfo sent, the client's answer awaited */
	PH_DATA,      /* initialised: data flows */
	PH_FINISHED,  /* completed, or its chain destroyed under it */
};

struct rs_conn {
	cb_conn *conn;
	char node[CB_ID_LEN + 1];
	bool stream;        /* saveMedia=false: relay, store nothing */
	rs_phase phase;
	bool replaced;      /* a newer connection took the chain over */
	bool closing;       /* the server is closing it (an error, the end) */
	cb_upload *up;      /* PH_DATA, storing */
	uint64_t offset;    /* bytes received (stream: relayed) */
	int64_t size;       /* TotalFileSize, or CB_SIZE_UNKNOWN */
	cb_message answer;  /* the handshake's text */
	/* the binary message under way */
	unsigned char header[HEADER_LEN];
	size_t header_len;
	int64_t count;      /* its count, once the header is in */
	uint64_t got;       /* its bytes so far (header included) */
	unsigned char *relay; /* stream: a message that came in pieces */
	int64_t last_rx_ms;
	int64_t next_beat_ms;
	lws_dll2_t link;    /* in holders while it holds its node's chain */
};

/* Storing connections, the newest for each node: the one that holds the
 * node's chain. */
static lws_dll2_owner_t holders;

static rs_conn *holder_of(const char *node)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&holders)) {
		rs_conn *r = lws_container_of(d, rs_conn, link);
		if (!strcmp(r->node, node))
			return r;
	} lws_end_foreach_dll(d);
	return NULL;
}

/* ---- answers ---- */

static const char not_state_info[] =
	"Error: 'expected the FileStateInfo object: "
	"{\"FileName\",\"TotalFileSize\",\"CurrentFileOffset\"}'";

/* Closes with code and the reason formatted. The upload stays as it is
 * (checkpointed when the connection ends). */
static int close_with(rs_conn *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int close_with(rs_conn *r, int code, const char *fmt, ...)
{
	char reason[124];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	r->closing = true;
	conn_close(r->conn, code, reason);
	return 0;
}

/* A data message found bad after part of it was written: the upload
 * goes back to its last checkpoint, which is where a client that
 * reconnects is told to resume. */
static void undo_message(rs_conn *r)
{
	if (r->up && r->got > HEADER_LEN)
		blob_rewind(r->up);
}

/* The close for a failed blob call: 1001 when the node is gone or out of
 * reach, else 1011 with what happened. */
static int close_status(rs_conn *r, cb_status s)
{
	const cb_config *cfg = conn_config(r->conn);
	switch (s) {
	case CB_ERR_TOOBIG:
		return close_with(r, 1011, "Error: 'file too large: the limit is %llu bytes'",
				  (unsigned long long)cfg->max_upload_size);
	case CB_ERR_QUOTA:   /* "quota exceeded" */
	case CB_ERR_NOSPACE: /* "not enough free disk space" */
		return close_with(r, 1011, "Error: '%s'", cb_status_str(s));
	case CB_ERR_NOTFOUND:
	case CB_ERR_ACCESS:
		return close_with(r, 1001, "Project does not exist or user does not have access to it");
	default:
		log_error("/ws/Upload %s: %s", r->node, cb_status_str(s));
		return close_with(r, 1011, "Error: '%s'", cb_status_str(s));
	}
}

static void send_state(rs_conn *r, const cb_chain *ch)
{
	bool begun = ch->state == CB_CHAIN_ACTIVE || ch->state == CB_CHAIN_EXPIRED;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "IsInitialized", begun);
	cJSON_AddStringToObject(j, "FileName", begun ? ch->name : "");
	cJSON_AddNumberToObject(j, "BufferSize", (double)conn_config(r->conn)->upload_buffer_size);
	if (begun && ch->size >= 0)
		cJSON_AddNumberToObject(j, "TotalFileSize", (double)ch->size);
	else
		cJSON_AddNullToObject(j, "TotalFileSize");
	cJSON_AddNumberToObject(j, "CurrentFileOffset", begun ? (double)ch->offset : 0);
	conn_send_json(r->conn, j);
	cJSON_Delete(j);
}

static void send_heartbeat(rs_conn *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "Kind", "UploadedBytes");
	cJSON_AddNumberToObject(j, "FileOffset", (double)r->offset);
	if (r->size > 0) /* hundredths, rounded down: 100 only when complete */
		cJSON_AddNumberToObject(j, "UploadPercentage",
					(double)(int64_t)((double)r->offset * 10000 / (double)r->size) / 100);
	else if (r->size == 0)
		cJSON_AddNumberToObject(j, "UploadPercentage", 100);
	else
		cJSON_AddNullToObject(j, "UploadPercentage");
	conn_send_json(r->conn, j);
	cJSON_Delete(j);
}

/* ---- timers: heartbeats and the idle timeout ---- */

/* Initialised, and neither finished nor taken over: data may come. */
static bool uploading(const rs_conn *r)
{
	return r->phase == PH_DATA && !r->replaced;
}

static void arm_timer(rs_conn *r)
{
	int64_t due = r->last_rx_ms + conn_config(r->conn)->idle_timeout * 1000;
	if (uploading(r) && r->next_beat_ms < due)
		due = r->next_beat_ms;
	int64_t now = cb_now_ms();
	conn_timer(r->conn, due > now ? due - now : 0);
}

static int rs_timer(cb_conn *c)
{
	rs_conn *r = (rs_conn *)conn_state(c);
	const cb_config *cfg = conn_config(c);
	int64_t now = cb_now_ms();
	if (now >= r->last_rx_ms + cfg->idle_timeout * 1000)
		return close_with(r, 1008, "Connection timeouted after %llds",
				  (long long)cfg->idle_timeout);
	if (uploading(r) && now >= r->next_beat_ms) {
		send_heartbeat(r);
		r->next_beat_ms = now + cfg->heartbeat_s * 1000;
	}
	arm_timer(r);
	return 0;
}

/* ---- completion ---- */

static int complete(rs_conn *r)
{
	if (r->up) {
		cb_status s = blob_complete(r->up, NULL, NULL);
		if (s)
			return close_status(r, s);
		r->up = NULL;
		lws_dll2_remove(&r->link);
	}
	r->phase = PH_FINISHED;
	send_heartbeat(r);
	return close_with(r, 1000, "upload complete");
}

/* ---- the handshake ---- */

/* Whether d is a whole number in [0, 2^53), which an int64 holds exactly. */
static bool whole_double(double d)
{
	return d >= 0 && d < EXACT_MAX && d == (double)(int64_t)d;
}

/* Initialises the upload the answer asks for: reopens the chain or
 * starts it (storing), or starts relaying (stream). */
static int initialise(rs_conn *r, int64_t offset, int64_t size, const char *name)
{
	cb_conn *c = r->conn;
	cb_store *st = conn_store(c);
	const char *user = conn_user(c)->id;
	const char *continuous = "To restore upload, transfer has to be continuous";
	if (r->stream) {
		if (offset != 0)
			return close_with(r, 1008, "%s", continuous);
	} else {
		if (r->replaced)
			return close_with(r, 1008, "Upload reconnected during receiving data from last websocket");
		cb_chain ch;
		cb_status s = blob_chain(st, user, r->node, &ch);
		if (s)
			return close_status(r, s);
		switch (ch.state) {
		case CB_CHAIN_EXPIRED:
			return close_with(r, 1008, "Upload cannot be restored, restore timed out");
		case CB_CHAIN_DONE:
			return close_with(r, 1008, "Cannot upload, already completed");
		case CB_CHAIN_ACTIVE:
			if (ch.offset > 0 && offset == 0)
				return close_with(r, 1008, "Upload cannot be restarted, destroy chain and try again");
			if ((uint64_t)offset != ch.offset || size != ch.size)
				return close_with(r, 1008, "%s", continuous);
			s = blob_resume(st, user, ch.upload, &r->up);
			break;
		case CB_CHAIN_NONE: {
			if (offset != 0)
				return close_with(r, 1008, "%s", continuous);
			cb_node target;
			node_init(&target);
			snprintf(target.id, sizeof(target.id), "%s", r->node);
			snprintf(target.name, sizeof(target.name), "%.*s",
				 (int)utf8_prefix(name, CB_NAME_MAX), name);
			s = blob_begin(st, user, &target, CB_UPLOAD_REPLACE, size, CB_UPLOAD_CHAIN,
				       &r->up);
			node_clear(&target);
			break;
		}
		}
		if (s)
			return close_status(r, s);
	}
	r->offset = (uint64_t)offset;
	r->size = size;
	r->phase = PH_DATA;
	send_heartbeat(r);
	r->next_beat_ms = cb_now_ms() + conn_config(c)->heartbeat_s * 1000;
	arm_timer(r);
	if (size >= 0 && r->offset == (uint64_t)size)
		return complete(r);
	return 0;
}

static int on_answer(rs_conn *r, const char *text, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(j, "TotalFileSize");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "FileName");
	int64_t offset = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "CurrentFileOffset"));
	int64_t size = (!total || cJSON_IsNull(total)) ? CB_SIZE_UNKNOWN : json_whole_number(total);
	int rc;
	if (!cJSON_IsObject(j) || offset < 0 || (total && !cJSON_IsNull(total) && size < 0) ||
	    (name && !cJSON_IsString(name) && !cJSON_IsNull(name)))
		rc = close_with(r, 1011, "%s", not_state_info);
	else
		rc = initialise(r, offset, size, cJSON_IsString(name) ? name->valuestring : "");
	cJSON_Delete(j);
	return rc;
}

/* ---- data ---- */

static uint64_t read_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* Whether the header's offset is `expected`: read as an int64, or else as
 * the double the reference client writes (DESIGN §4). *given: the offset
 * to name in the error, the double only when the int64 is implausible. */
static bool offset_matches(const unsigned char *h, uint64_t expected, int64_t *given)
{
	uint64_t bits = read_le(h, 8);
	int64_t as_int = (int64_t)bits;
	double as_double;
	memcpy(&as_double, &bits, sizeof(as_double));
	bool whole = whole_double(as_double);
	if ((as_int >= 0 && (uint64_t)as_int == expected) ||
	    (whole && (uint64_t)as_double == expected))
		return true;
	bool plausible = as_int >= 0 && (double)as_int < EXACT_MAX;
	*given = plausible || !whole ? as_int : (int64_t)as_double;
	return false;
}

/* The header is in: checks count and offset before any data is taken
 * (closing when they are wrong). Whether the message may go on. */
static bool header_ok(rs_conn *r, size_t piece_left, unsigned flags)
{
	int64_t given;
	r->count = (int16_t)read_le(r->header + 8, 2);
	/* the bytes of the message known so far: this frame's */
	uint64_t known = r->got + piece_left + conn_frame_left(r->conn);
	bool last_frame = (flags & CB_MSG_FINAL) != 0;
	if (r->count < 0 || known > HEADER_LEN + (uint64_t)r->count ||
	    (last_frame && known < HEADER_LEN + (uint64_t)r->count) ||
	    (r->size >= 0 && r->offset + (uint64_t)r->count > (uint64_t)r->size)) {
		close_with(r, 1007, "Invalid value of data size");
		return false;
	}
	if (!offset_matches(r->header, r->offset, &given)) {
		close_with(r, 1008, "Transfer has to be continuous, server has %lluB of data, not %lldB",
			   (unsigned long long)r->offset, (long long)given);
		return false;
	}
	return true;
}

/* Bytes of a data message's payload: to disk, or to the watchers (a
 * message that came in pieces is put together first). Whether they were
 * taken; closes when not. */
static bool take_data(rs_conn *r, const unsigned char *p, size_t n, bool whole_message)
{
	if (!r->stream) {
		cb_status s = blob_write(r->up, r->offset, p, n);
		if (s) {
			undo_message(r);
			close_status(r, s);
			return false;
		}
	} else if (whole_message) {
		events_stream(conn_store(r->conn), conn_user(r->conn)->id, r->node, p, n);
	} else {
		if (!r->relay &&
		    !(r->relay = (unsigned char *)malloc(conn_config(r->conn)->upload_buffer_size))) {
			close_status(r, CB_ERR_NOMEM);
			return false;
		}
		memcpy(r->relay + (r->got - HEADER_LEN), p, n);
	}
	r->offset += n;
	return true;
}

/* Closes when no data message may come now, before any of it is read;
 * whether it did. */
static bool data_refused(rs_conn *r)
{
	cb_chain ch;
	if (uploading(r))
		return false;
	if (r->phase == PH_HANDSHAKE)
		close_with(r, 1011, "%s", not_state_info);
	else if (r->replaced &&
		 (blob_chain(conn_store(r->conn), conn_user(r->conn)->id, r->node, &ch) ||
		  ch.state != CB_CHAIN_DONE))
		close_with(r, 1008, "Upload reconnected during receiving data from last websocket");
	else
		close_with(r, 1001, "Attempt to write to completed upload for project %s. (on active upload? %s)",
			   r->node, r->replaced ? "False" : "True");
	return true;
}

static int on_data(rs_conn *r, const unsigned char *p, size_t len, unsigned flags)
{
	uint64_t buffer = conn_config(r->conn)->upload_buffer_size;
	/* also in the middle of a message: it may have been taken over or
	 * destroyed since its first piece */
	if (data_refused(r))
		return 0;
	if (flags & CB_MSG_FIRST)
		r->header_len = r->got = 0;
	if (r->got + len + conn_frame_left(r->conn) > HEADER_LEN + buffer) {
		undo_message(r);
		return close_with(r, 1009, "Message does not fit into %lluB buffer",
				  (unsigned long long)buffer);
	}
	bool whole_message = (flags & CB_MSG_FIRST) && (flags & CB_MSG_FINAL);
	if (r->header_len < HEADER_LEN) {
		size_t take = len < HEADER_LEN - r->header_len ? len : HEADER_LEN - r->header_len;
		memcpy(r->header + r->header_len, p, take);
		r->header_len += take;
		r->got += take;
		p += take;
		len -= take;
		if (r->header_len == HEADER_LEN && !header_ok(r, len, flags))
			return 0;
	}
	bool fits = r->header_len == HEADER_LEN && r->got + len <= HEADER_LEN + (uint64_t)r->count;
	bool ends = !(flags & CB_MSG_FINAL) || (fits && r->got + len == HEADER_LEN + (uint64_t)r->count);
	if (!fits || !ends) {
		if (len || (flags & CB_MSG_FINAL)) {
			undo_message(r);
			return close_with(r, 1007, "Invalid value of data size");
		}
		return 0; /* the header is still coming */
	}
	if (len && !take_data(r, p, len, whole_message))
		return 0;
	r->got += len;
	if (!(flags & CB_MSG_FINAL))
		return 0;
	if (r->stream && !whole_message && r->count)
		events_stream(conn_store(r->conn), conn_user(r->conn)->id, r->node, r->relay,
			      (size_t)r->count);
	if (r->size >= 0 && r->offset == (uint64_t)r->size)
		return complete(r);
	return 0;
}

static int rs_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	rs_conn *r = (rs_conn *)conn_state(c);
	r->last_rx_ms = cb_now_ms();
	if (flags & CB_MSG_BINARY)
		return on_data(r, (const unsigned char *)data, len, flags);
	int got = msg_add(&r->answer, data, len, flags, conn_config(c)->max_message_size);
	if (got <= 0)
		return got;
	/* after the handshake a text message is not part of the protocol:
	 * it is ignored (it still counts as the client being alive) */
	if (r->phase == PH_HANDSHAKE)
		on_answer(r, r->answer.too_big ? "" : r->answer.data, r->answer.too_big ? 0 : r->answer.len);
	msg_reset(&r->answer);
	return 0;
}

/* ---- the connection ---- */

static bool saves_media(cb_conn *c)
{
	char v[16];
	if (!conn_query(c, "saveMedia", v, sizeof(v)))
		return true;
	return strcasecmp(v, "false") && strcmp(v, "0") && strcasecmp(v, "no");
}

/* A newer connection for r's node: the chain is its now. What the old
 * one received is checkpointed, so the newcomer is told all of it.
 * Whether that moved the chain's offset. */
static bool take_over(rs_conn *r)
{
	rs_conn *old = holder_of(r->node);
	bool closed = old && old->up;
	if (old) {
		if (old->up)
			blob_close(old->up);
		old->up = NULL;
		old->replaced = true;
		lws_dll2_remove(&old->link);
	}
	lws_dll2_add_tail(&r->link, &holders);
	return closed;
}

static int rs_open(cb_conn *c)
{
	rs_conn *r = (rs_conn *)conn_state(c);
	r->conn = c;
	r->stream = !saves_media(c);
	r->last_rx_ms = cb_now_ms();
	arm_timer(r);
	if (!conn_query(c, "id", r->node, sizeof(r->node)) && conn_has_query(c, "id"))
		return close_status(r, CB_ERR_NOTFOUND); /* longer than any id */
	if (!r->node[0])
		return close_with(r, 1008, "Project id not set");
	cb_chain ch;
	cb_status s = blob_chain(conn_store(c), conn_user(c)->id, r->node, &ch);
	if (s)
		return close_status(r, s);
	if (!r->stream) {
		if (ch.state == CB_CHAIN_DONE)
			return close_with(r, 1008, "Cannot upload, already completed");
		if (take_over(r) && (s = blob_chain(conn_store(c), conn_user(c)->id, r->node, &ch)))
			return close_status(r, s);
	} else {
		ch.state = CB_CHAIN_NONE; /* a stream is always fresh */
	}
	send_state(r, &ch);
	return 0;
}

/* Gone: the upload is kept for resuming (checkpointed), unless its size
 * was unknown and the client closed normally (not answering a close of
 * the server's), which completes it. */
static void rs_close(cb_conn *c)
{
	rs_conn *r = (rs_conn *)conn_state(c);
	if (r->up) {
		bool message_done = r->header_len == 0 || r->got == HEADER_LEN + (uint64_t)r->count;
		if (r->size == CB_SIZE_UNKNOWN && conn_peer_close_code(c) == 1000 && message_done &&
		    !r->closing) {
			cb_status s = blob_complete(r->up, NULL, NULL);
			if (s)
				log_warn("/ws/Upload %s: not completed at close: %s", r->node, cb_status_str(s));
			else
				r->up = NULL;
		}
		if (r->up)
			blob_close(r->up);
	}
	lws_dll2_remove(&r->link);
	msg_free(&r->answer);
	free(r->relay);
}

static void rs_shutdown(cb_conn *c)
{
	rs_conn *r = (rs_conn *)conn_state(c);
	if (r->up)
		blob_close(r->up);
	r->up = NULL;
}

/* ---- DELETE /files/<id>/upload: destroy the chain ---- */

static int destroy_chain(cb_conn *c)
{
	char node[CB_ID_LEN + 1];
	const char *rest = conn_path_rest(c);
	size_t n = strcspn(rest, "/");
	if (n > CB_ID_LEN)
		return http_error(c, 404, "file not found");
	memcpy(node, rest, n);
	node[n] = 0;
	cb_store *st = conn_store(c);
	const char *user = conn_user(c)->id;
	cb_chain ch;
	cb_status s = blob_chain(st, user, node, &ch);
	if (!s && ch.state == CB_CHAIN_NONE)
		return http_error(c, 404, "no upload for this file");
	rs_conn *r = s ? NULL : holder_of(node);
	if (r && r->up) { /* its connection learns at its next message */
		blob_abort(r->up);
		r->up = NULL;
		r->phase = PH_FINISHED;
		lws_dll2_remove(&r->link);
	} else if (!s) {
		s = blob_chain_destroy(st, user, node);
	}
	switch (s) {
	case CB_OK:
		return http_reply(c, 204, "application/json", NULL, 0, NULL);
	case CB_ERR_NOTFOUND:
		return http_error(c, 404, "file not found");
	case CB_ERR_ACCESS:
		return http_error(c, 403, "you may not change this file");
	default:
		log_error("DELETE %s: %s", conn_path(c), cb_status_str(s));
		return http_error(c, 500, "%s", cb_status_str(s));
	}
}

const cb_endpoint resumable_endpoints[] = {
	{CB_WS, 0, "/ws/Upload", CB_NEED_USER, sizeof(rs_conn), NULL, rs_open, rs_receive,
	 rs_close, NULL, rs_timer, rs_shutdown},
	CB_HTTP_ROUTE(CB_DELETE, "/files/*/upload", CB_NEED_USER, destroy_chain),
	CB_HTTP_ROUTE(CB_DELETE, "/file/*/upload", CB_NEED_USER, destroy_chain),
	{},
};
