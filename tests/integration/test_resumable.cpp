/* test_resumable.cpp: the resumable WebSocket upload /ws/Upload (protocol
 * 2) against the real cubbyd ($CUBBYD, else build/cubbyd), to the letter
 * of docs/resumable-upload.md: the FileStateInfo handshake and the
 * heartbeats message by message; uploads that complete land
 * byte-identical in <data>/blobs (the previous content kept as a
 * revision); resuming after the client goes (with and without a Close
 * frame, at many offsets), after a takeover by a newer connection (also
 * in the middle of a message, fragmented or half-received), after cubbyd
 * is killed and after SIGTERM; the reference .NET client (offsets as
 * doubles, 32768-byte messages); FileName cut on a UTF-8 boundary; each
 * refusal of the page's tables with its exact code and reason (ids
 * longer than 36 bytes too); DELETE /files/<id>/upload (also in the
 * middle of a message); a project id deleted for good and made again
 * starting fresh; live streams (saveMedia=false) relayed to
 * /files/<id>?alt=media watchers; uploads of unknown size; a declared
 * size over 4 GiB; periodic heartbeats.
 *
 * Not tested here: a project the caller may only read (1001 on the
 * upload, 403 on DELETE) needs a reader grant, and no endpoint gives
 * grants yet (spec 3's /files/<key>/users will). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/support.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define BUF_DEFAULT 32767 /* BufferSize by default */
#define HEADER 10         /* offset (8) and count (2) */
#define POLL_MS 5000      /* how long the server may take to finish a close */
#define ID_MAX 64

#define NOT_SET "Project id not set"
#define NO_ACCESS "Project does not exist or user does not have access to it"
#define COMPLETED "Cannot upload, already completed"
#define NO_RESTART "Upload cannot be restarted, destroy chain and try again"
#define NOT_RESTORABLE "To restore upload, transfer has to be continuous"
#define TIMED_OUT "Upload cannot be restored, restore timed out"
#define BAD_SIZE "Invalid value of data size"
#define RECONNECTED "Upload reconnected during receiving data from last websocket"
#define BAD_ANSWER \
	"Error: 'expected the FileStateInfo object: {\"FileName\",\"TotalFileSize\",\"CurrentFileOffset\"}'"
#define UPLOAD_COMPLETE "upload complete"

/* TotalFileSize in an answer: a number (>= 0), null, or left out. */
#define SIZE_NULL (-1)
#define SIZE_ABSENT (-2)

/* ---- sessions and projects ---- */

static void admin_auth(const t_server *s, char *auth)
{
	char token[T_TOKEN_MAX];
	t_login_token(s, "admin", s->password, token);
	t_bearer_header(token, auth, T_AUTH_MAX);
}

static const char *op_name(int op)
{
	return op == 0 ? "the end of the connection" : op == -1 ? "nothing (timeout or error)"
	     : op == 1 ? "a text message" : op == 2 ? "a binary message"
	     : op == 8 ? "a close frame" : "an unknown message";
}

static void ws_open(const t_server *s, const char *path, const char *auth, t_ws *ws)
{
	if (t_ws_connect(ws, s->http_port, path, auth))
		fail_msg("upgrade to %s: answered %d, want 101", path, ws->status);
}

/* The next /ws message of type `type` (other broadcasts skipped): its
 * value (caller deletes). */
static cJSON *ws_answer(t_ws *ws, const char *type)
{
	for (;;) {
		char *data;
		size_t len;
		int op = t_ws_recv(ws, &data, &len, NULL, T_TIMEOUT_MS);
		cJSON *j = op == 1 ? cJSON_Parse(data) : NULL;
		const char *t = t_json_str(j, "type");
		if (!t) {
			fprintf(stderr, "/ws sent %s: %.300s\n", op_name(op), op == 1 ? data : "");
			free(data);
			cJSON_Delete(j);
			fail_msg("/ws: want an answer of type %s", type);
		}
		if (strcmp(t, type) && (!strcmp(t, "users") || !strcmp(t, "list_update") ||
					!strcmp(t, "project_update") || !strcmp(t, "file_update"))) {
			free(data);
			cJSON_Delete(j);
			continue;
		}
		bool same = !strcmp(t, type);
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(j, "value");
		cJSON_Delete(j);
		if (!same || !v) {
			fprintf(stderr, "/ws answered %.300s\n", data);
			free(data);
			cJSON_Delete(v);
			fail_msg("/ws: want an answer of type %s with a value", type);
		}
		free(data);
		return v;
	}
}

/* One /ws action on its own connection; its answer's value must be the
 * string want_uuid (any non-empty string when NULL): into out (ID_MAX). */
static void ws_uuid_call(const t_server *s, const char *auth, const char *action, cJSON *value,
			 const char *want_uuid, char *out)
{
	t_ws ws;
	ws_open(s, "/ws", auth, &ws);
	if (t_ws_send_action(&ws, action, value))
		fail_msg("sending %s failed", action);
	cJSON *v = ws_answer(&ws, action);
	t_ws_close(&ws);
	bool ok = cJSON_IsString(v) && *v->valuestring && strlen(v->valuestring) < ID_MAX &&
		  (!want_uuid || !strcmp(v->valuestring, want_uuid));
	if (ok && out)
		snprintf(out, ID_MAX, "%s", v->valuestring);
	cJSON_Delete(v);
	if (!ok)
		fail_msg("%s: want the uuid %s as value", action, want_uuid ? want_uuid : "(any)");
}

/* A spec 1 project of the caller (project_save); uuid NULL lets the
 * server make one. Its id into id (ID_MAX). */
static void new_project(const t_server *s, const char *auth, const char *uuid, char *id)
{
	cJSON *p = cJSON_CreateObject();
	if (uuid)
		cJSON_AddStringToObject(p, "uuid", uuid);
	cJSON_AddStringToObject(p, "name", "a resumable upload");
	ws_uuid_call(s, auth, "project_save", p, uuid, id);
}

/* ---- /ws/Upload: connecting ---- */

/* /ws/Upload?<query> (e.g. "id=x&saveMedia=false"); 101 required. */
static void ru_open_query(const t_server *s, const char *auth, const char *query, t_ws *ws)
{
	char path[512];
	snprintf(path, sizeof(path), "/ws/Upload%s%s", *query ? "?" : "", query);
	ws_open(s, path, auth, ws);
}

static void ru_open(const t_server *s, const char *auth, const char *id, t_ws *ws)
{
	char q[256];
	snprintf(q, sizeof(q), "id=%s", id);
	ru_open_query(s, auth, q, ws);
}

static void ru_open_stream(const t_server *s, const char *auth, const char *id, const char *value,
			   t_ws *ws)
{
	char q[256];
	snprintf(q, sizeof(q), "id=%s&saveMedia=%s", id, value);
	ru_open_query(s, auth, q, ws);
}

/* ---- receiving ---- */

struct msg {
	int op;      /* t_ws_recv()'s answer */
	char *data;  /* malloc'd, NUL-terminated */
	size_t len;
	int code;    /* close code */
};

static void recv_msg(t_ws *ws, msg *m, int timeout_ms)
{
	m->code = 0;
	m->op = t_ws_recv(ws, &m->data, &m->len, &m->code, timeout_ms);
}

static void describe(const msg *m, char *out, size_t n)
{
	if (m->op == 1)
		snprintf(out, n, "text %.300s", m->data);
	else if (m->op == 8)
		snprintf(out, n, "close %d \"%.200s\"", m->code, m->data);
	else if (m->op == 2)
		snprintf(out, n, "a binary message of %zu bytes", m->len);
	else
		snprintf(out, n, "%s", op_name(m->op));
}

/* The exact integer written after "key": in text (64 bits, not through a
 * double): true when there is one. */
static bool raw_int(const char *text, const char *key, int64_t *out)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
		const char *q = p + strlen(pat);
		while (isspace((unsigned char)*q))
			q++;
		if (*q != ':')
			continue;
		q++;
		while (isspace((unsigned char)*q))
			q++;
		if (*q != '-' && !isdigit((unsigned char)*q))
			return false;
		errno = 0;
		char *end;
		long long v = strtoll(q, &end, 10);
		if (errno)
			return false;
		while (isspace((unsigned char)*end))
			end++;
		if (*end != ',' && *end != '}')
			return false;
		*out = v;
		return true;
	}
	return false;
}

/* j has exactly the members names (n of them), each once. */
static bool has_members(const cJSON *j, const char *const *names, int n)
{
	int count = 0;
	for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
		count++;
		bool known = false;
		for (int i = 0; i < n; i++)
			known = known || (c->string && !strcmp(c->string, names[i]));
		if (!known)
			return false;
	}
	for (int i = 0; i < n; i++)
		if (!cJSON_GetObjectItemCaseSensitive(j, names[i]))
			return false;
	return count == n;
}

/* A JSON number that is a whole number: its exact value (from the text)
 * into out. */
static bool whole_member(const cJSON *j, const char *text, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsNumber(v) && raw_int(text, key, out) && (double)*out == v->valuedouble;
}

struct heartbeat {
	int64_t offset;
	bool pct_null;
	double pct;
};

static const char *const HEARTBEAT_KEYS[] = {"Kind", "FileOffset", "UploadPercentage"};

/* text as a heartbeat {"Kind":"UploadedBytes","FileOffset":N,
 * "UploadPercentage":P|null}: true and h filled, else false. */
static bool parse_heartbeat(const char *text, heartbeat *h)
{
	cJSON *j = cJSON_Parse(text);
	const char *kind = t_json_str(j, "Kind");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "UploadPercentage");
	bool ok = cJSON_IsObject(j) && has_members(j, HEARTBEAT_KEYS, 3) && kind &&
		  !strcmp(kind, "UploadedBytes") && whole_member(j, text, "FileOffset", &h->offset) &&
		  (cJSON_IsNull(p) || cJSON_IsNumber(p));
	if (ok) {
		h->pct_null = cJSON_IsNull(p);
		h->pct = h->pct_null ? 0 : p->valuedouble;
	}
	cJSON_Delete(j);
	return ok;
}

/* UploadPercentage must be floor(N * 10000 / size) / 100, null for an
 * unknown size (size < 0); not checked for size 0. */
static void check_percentage(const heartbeat *h, int64_t size, const char *text)
{
	if (size < 0) {
		if (!h->pct_null)
			fail_msg("heartbeat %s: want UploadPercentage null (size unknown)", text);
		return;
	}
	if (size == 0)
		return;
	double want = (double)((uint64_t)h->offset * 10000u / (uint64_t)size) / 100;
	if (h->pct_null || h->pct < want - 1e-9 || h->pct > want + 1e-9)
		fail_msg("heartbeat %s: want UploadPercentage %.2f", text, want);
}

/* The next message must be a heartbeat for an upload of size (SIZE_NULL:
 * unknown); its FileOffset. */
static int64_t recv_heartbeat(t_ws *ws, int64_t size, int timeout_ms)
{
	msg m;
	char d[400];
	heartbeat h;
	recv_msg(ws, &m, timeout_ms);
	describe(&m, d, sizeof(d));
	bool ok = m.op == 1 && parse_heartbeat(m.data, &h);
	free(m.data);
	if (!ok)
		fail_msg("want a heartbeat {\"Kind\":\"UploadedBytes\",\"FileOffset\":N,"
			 "\"UploadPercentage\":P}, got %s", d);
	check_percentage(&h, size, d);
	return h.offset;
}

/* The next message must be the heartbeat of offset. */
static void expect_heartbeat(t_ws *ws, int64_t offset, int64_t size)
{
	int64_t got = recv_heartbeat(ws, size, T_TIMEOUT_MS);
	if (got != offset)
		fail_msg("heartbeat FileOffset %lld, want %lld", (long long)got, (long long)offset);
}

/* Heartbeats until one says offset (the server has taken every byte
 * sent so far); none may say more. Needs a short heartbeat_s. */
static void wait_offset(t_ws *ws, int64_t offset, int64_t size)
{
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	for (;;) {
		int64_t left = deadline - t_now_ms();
		int64_t got = recv_heartbeat(ws, size, left > 0 ? (int)left : 0);
		if (got == offset)
			return;
		if (got > offset)
			fail_msg("heartbeat FileOffset %lld, past the %lld bytes sent", (long long)got,
				 (long long)offset);
	}
}

/* Whether the server closes with code and reason (NULL: any reason) and
 * then ends the connection; why not into why. Heartbeats before the close
 * are skipped when skip_heartbeats; anything else is wrong. Frees ws. */
static bool closed_with(t_ws *ws, int code, const char *reason, bool skip_heartbeats, char *why,
			size_t n)
{
	msg m;
	char d[400];
	heartbeat h;
	for (;;) {
		recv_msg(ws, &m, T_TIMEOUT_MS);
		if (m.op == 1 && skip_heartbeats && parse_heartbeat(m.data, &h)) {
			free(m.data);
			continue;
		}
		break;
	}
	describe(&m, d, sizeof(d));
	bool same = m.op == 8 && m.code == code && (!reason || !strcmp(m.data, reason));
	free(m.data);
	int closed = m.op == 8 ? t_wait_closed(ws->fd, T_TIMEOUT_MS) : 0;
	t_ws_close(ws);
	if (!same)
		snprintf(why, n, "want close %d \"%s\", got %s", code, reason ? reason : "(any reason)",
			 d);
	else if (!closed)
		snprintf(why, n, "the server did not end the connection after its close frame");
	return same && closed;
}

static void expect_close_ex(t_ws *ws, int code, const char *reason, bool skip_heartbeats)
{
	char why[600];
	if (!closed_with(ws, code, reason, skip_heartbeats, why, sizeof(why)))
		fail_msg("%s", why);
}

static void expect_close(t_ws *ws, int code, const char *reason)
{
	expect_close_ex(ws, code, reason, true);
}

/* A refusal before the handshake: the first message is the close. */
static void expect_refused(t_ws *ws, int code, const char *reason)
{
	expect_close_ex(ws, code, reason, false);
}

/* ---- the handshake ---- */

struct fsi {
	bool init;
	char name[512];
	int64_t buffer;
	bool size_null;
	int64_t size;
	int64_t offset;
};

static const char *const FSI_KEYS[] = {"IsInitialized", "FileName", "BufferSize", "TotalFileSize",
				       "CurrentFileOffset"};

/* The next message must be a FileStateInfo: exactly its five members,
 * each of its type. */
static void recv_fsi(t_ws *ws, fsi *f)
{
	msg m;
	char d[700];
	recv_msg(ws, &m, T_TIMEOUT_MS);
	describe(&m, d, sizeof(d));
	cJSON *j = m.op == 1 ? cJSON_Parse(m.data) : NULL;
	const cJSON *init = cJSON_GetObjectItemCaseSensitive(j, "IsInitialized");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "FileName");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "TotalFileSize");
	bool ok = cJSON_IsObject(j) && has_members(j, FSI_KEYS, 5) && cJSON_IsBool(init) &&
		  cJSON_IsString(name) && strlen(name->valuestring) < sizeof(f->name) &&
		  whole_member(j, m.data, "BufferSize", &f->buffer) &&
		  whole_member(j, m.data, "CurrentFileOffset", &f->offset) &&
		  (cJSON_IsNull(size) || whole_member(j, m.data, "TotalFileSize", &f->size));
	if (ok) {
		f->init = cJSON_IsTrue(init);
		snprintf(f->name, sizeof(f->name), "%s", name->valuestring);
		f->size_null = cJSON_IsNull(size);
		if (f->size_null)
			f->size = SIZE_NULL;
	}
	cJSON_Delete(j);
	free(m.data);
	if (!ok)
		fail_msg("want the FileStateInfo {\"IsInitialized\":bool,\"FileName\":string,"
			 "\"BufferSize\":int,\"TotalFileSize\":int|null,\"CurrentFileOffset\":int}, "
			 "got %s", d);
}

/* A fresh chain: {"IsInitialized":false,"FileName":"","BufferSize":buffer,
 * "TotalFileSize":null,"CurrentFileOffset":0}. */
static void expect_fresh(t_ws *ws, int64_t buffer)
{
	fsi f;
	recv_fsi(ws, &f);
	if (f.init || f.name[0] || f.buffer != buffer || !f.size_null || f.offset)
		fail_msg("want a fresh FileStateInfo (IsInitialized false, FileName \"\", BufferSize "
			 "%lld, TotalFileSize null, CurrentFileOffset 0), got %s, \"%s\", %lld, %lld, "
			 "%lld", (long long)buffer, f.init ? "true" : "false", f.name,
			 (long long)f.buffer, (long long)f.size, (long long)f.offset);
}

/* An interrupted chain: IsInitialized true, the name and size
 * (SIZE_NULL) it began with, offset, the default BufferSize. */
static void expect_resume(t_ws *ws, const char *name, int64_t size, int64_t offset)
{
	fsi f;
	recv_fsi(ws, &f);
	if (!f.init || strcmp(f.name, name) || f.buffer != BUF_DEFAULT || f.size != size ||
	    f.offset != offset)
		fail_msg("want FileStateInfo true, \"%s\", %d, %lld, %lld; got %s, \"%s\", %lld, "
			 "%lld, %lld", name, BUF_DEFAULT, (long long)size, (long long)offset,
			 f.init ? "true" : "false", f.name, (long long)f.buffer, (long long)f.size,
			 (long long)f.offset);
}

static void send_text(t_ws *ws, const char *text)
{
	if (t_ws_send_text(ws, text))
		fail_msg("sending %.100s failed", text);
}

/* The answer {"FileName":name,"TotalFileSize":size,"CurrentFileOffset":
 * offset}; name NULL leaves FileName out, size SIZE_NULL / SIZE_ABSENT
 * sends null / leaves it out. */
static void send_answer(t_ws *ws, const char *name, int64_t size, int64_t offset)
{
	char num[32];
	cJSON *j = cJSON_CreateObject();
	if (name)
		cJSON_AddStringToObject(j, "FileName", name);
	if (size == SIZE_NULL) {
		cJSON_AddNullToObject(j, "TotalFileSize");
	} else if (size >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)size);
		cJSON_AddRawToObject(j, "TotalFileSize", num);
	}
	snprintf(num, sizeof(num), "%lld", (long long)offset);
	cJSON_AddRawToObject(j, "CurrentFileOffset", num);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	send_text(ws, text);
	cJSON_free(text);
}

/* The answer, then the first heartbeat (FileOffset offset) next. */
static void handshake(t_ws *ws, const char *name, int64_t size, int64_t offset)
{
	send_answer(ws, name, size, offset);
	expect_heartbeat(ws, offset, size == SIZE_ABSENT ? SIZE_NULL : size);
}

/* A new upload of size on a fresh chain: open, fresh FileStateInfo,
 * answer, first heartbeat. */
static void begin(const t_server *s, const char *auth, const char *id, const char *name,
		  int64_t size, t_ws *ws)
{
	ru_open(s, auth, id, ws);
	expect_fresh(ws, BUF_DEFAULT);
	handshake(ws, name, size, 0);
}

/* Reopens an interrupted upload told offset and goes on from there. */
static void resume(const t_server *s, const char *auth, const char *id, const char *name,
		   int64_t size, int64_t offset, t_ws *ws)
{
	ru_open(s, auth, id, ws);
	expect_resume(ws, name, size, offset);
	handshake(ws, name, size, offset);
}

/* ---- data messages ---- */

static void put_header(unsigned char *h, uint64_t offset_bits, int count)
{
	for (int i = 0; i < 8; i++)
		h[i] = (unsigned char)(offset_bits >> (8 * i));
	uint16_t c = (uint16_t)(int16_t)count;
	h[8] = (unsigned char)c;
	h[9] = (unsigned char)(c >> 8);
}

static uint64_t double_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static void send_binary(t_ws *ws, const void *p, size_t n)
{
	if (t_ws_send(ws, 2, p, n, true))
		fail_msg("sending a binary message of %zu bytes failed", n);
}

/* A message with any header: offset_bits as the 8 offset bytes, count,
 * then n bytes of data. */
static void send_message_raw(t_ws *ws, uint64_t offset_bits, int count, const unsigned char *data,
			     size_t n)
{
	unsigned char *m = (unsigned char *)malloc(HEADER + n);
	assert_non_null(m);
	put_header(m, offset_bits, count);
	memcpy(m + HEADER, data, n);
	send_binary(ws, m, HEADER + n);
	free(m);
}

/* A well-formed message: n bytes of data at offset (an int64). */
static void send_message(t_ws *ws, int64_t offset, const unsigned char *data, size_t n)
{
	send_message_raw(ws, (uint64_t)offset, (int)n, data, n);
}

/* data[from, to) in messages of `chunk` data bytes (the last shorter). */
static void send_range(t_ws *ws, const unsigned char *data, int64_t from, int64_t to, size_t chunk)
{
	for (int64_t off = from; off < to;) {
		size_t n = (size_t)(to - off) < chunk ? (size_t)(to - off) : chunk;
		send_message(ws, off, data + off, n);
		off += (int64_t)n;
	}
}

/* ---- a data message in pieces ---- */

/* The first frame (FIN off) of a message of count data bytes at offset:
 * the header and the first `first` bytes of data. The rest goes with
 * send_last_frame(). */
static void send_first_frame(t_ws *ws, int64_t offset, int count, const unsigned char *data,
			     size_t first)
{
	unsigned char *m = (unsigned char *)malloc(HEADER + first);
	assert_non_null(m);
	put_header(m, (uint64_t)offset, count);
	memcpy(m + HEADER, data, first);
	if (t_ws_send(ws, 2, m, HEADER + first, false))
		fail_msg("sending the first frame of a message failed");
	free(m);
}

/* The continuation frame (FIN on) that ends a fragmented message. */
static void send_last_frame(t_ws *ws, const unsigned char *data, size_t n)
{
	if (t_ws_send(ws, 0, data, n, true))
		fail_msg("sending the continuation frame of a message failed");
}

/* One message of n data bytes at offset as a single masked binary frame
 * (FIN on; HEADER + n < 65536), built whole so that the caller can send
 * it in several TCP writes (t_send_all): malloc'd, its length into
 * *len; *head gets the bytes of the frame before the message. */
static unsigned char *message_frame(int64_t offset, const unsigned char *data, size_t n,
				    size_t *len, size_t *head)
{
	size_t pl = HEADER + n;
	assert_true(pl < 65536);
	unsigned char *f = (unsigned char *)malloc(8 + pl);
	assert_non_null(f);
	size_t h = 0;
	f[h++] = 0x82;
	f[h++] = 0x80 | 126;
	f[h++] = (unsigned char)(pl >> 8);
	f[h++] = (unsigned char)pl;
	static const unsigned char mask[4] = {0x5a, 0xc3, 0x17, 0x9e};
	memcpy(f + h, mask, 4);
	h += 4;
	put_header(f + h, (uint64_t)offset, (int)n);
	memcpy(f + h + HEADER, data, n);
	for (size_t i = 0; i < pl; i++)
		f[h + i] ^= mask[i & 3];
	*len = h + pl;
	*head = h;
	return f;
}

static void send_bytes(t_ws *ws, const unsigned char *p, size_t n)
{
	if (t_send_all(ws->fd, p, n))
		fail_msg("sending %zu bytes of a frame failed", n);
}

/* Heartbeats up to the final one (FileOffset size, UploadPercentage
 * 100), then close 1000 with reason (NULL: any) and the end of the
 * connection. Frees ws. */
static void expect_complete(t_ws *ws, int64_t size, const char *reason)
{
	int64_t last = -1;
	for (;;) {
		int64_t off = recv_heartbeat(ws, size, T_TIMEOUT_MS);
		if (off < last || off > size)
			fail_msg("heartbeat FileOffset %lld after %lld, the size is %lld",
				 (long long)off, (long long)last, (long long)size);
		last = off;
		if (off == size)
			break;
	}
	expect_close(ws, 1000, reason);
}

/* ---- ending a connection from the client's side ---- */

enum leave_how {
	LEAVE_FIN,   /* no Close frame: FIN (shutdown), the server ends it */
	LEAVE_1001,  /* a Close frame 1001 (going away) */
	LEAVE_1000,  /* a Close frame 1000 */
	LEAVE_RESET, /* no Close frame: the socket closed at once, RST */
};

/* Leaves the upload; for all but LEAVE_RESET, returns once the server
 * has read everything sent and ended the connection. Frees ws. */
static void leave(t_ws *ws, leave_how how)
{
	if (how == LEAVE_RESET) {
		struct linger l = {1, 0};
		setsockopt(ws->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(ws->fd);
		ws->fd = -1;
		t_ws_close(ws);
		return;
	}
	if (how == LEAVE_FIN) {
		shutdown(ws->fd, SHUT_WR);
	} else {
		int code = how == LEAVE_1001 ? 1001 : 1000;
		unsigned char c[2] = {(unsigned char)(code >> 8), (unsigned char)code};
		if (t_ws_send(ws, 8, c, 2, true))
			fail_msg("sending close %d failed", code);
	}
	ws->close_sent = true;
	int closed = t_wait_closed(ws->fd, T_TIMEOUT_MS);
	t_ws_close(ws);
	if (!closed)
		fail_msg("the server did not end the connection after the client left");
}

/* ---- DELETE /files/<id>/upload ---- */

static void delete_chain(const t_server *s, const char *auth, const char *prefix, const char *id,
			 t_http_response *r)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/upload", prefix, id);
	if (t_http(s->http_port, "DELETE", path, auth, NULL, 0, r))
		fail_msg("DELETE %s: no answer", path);
}

/* 204 without a body. */
static void destroy_chain(const t_server *s, const char *auth, const char *id)
{
	t_http_response r;
	delete_chain(s, auth, "/files", id, &r);
	int status = r.status;
	size_t body = r.body_len;
	t_http_free(&r);
	if (status != 204 || body)
		fail_msg("DELETE /files/%s/upload: %d with %zu body bytes, want 204 without a body", id,
			 status, body);
}

/* ---- the data directory ---- */

static int blob_count(const t_server *s)
{
	return t_dir_entries(s, "blobs", NULL, NULL);
}

/* Exactly one content file holds data (polled: an upload completed by
 * the client's close is stored in the server's own time). */
static void expect_stored(const t_server *s, const unsigned char *data, size_t len)
{
	int64_t deadline = t_now_ms() + POLL_MS;
	int n;
	while ((n = t_blobs_holding(s, data, len)) == 0 && t_now_ms() < deadline)
		t_sleep_ms(20);
	if (n != 1)
		fail_msg("%d content files hold the %zu bytes uploaded, want 1", n, len);
}

static void expect_partial_empty(const t_server *s)
{
	int n = t_wait_entries(s, "partial", 0, POLL_MS);
	if (n)
		fail_msg("%d files left in partial/, want none", n);
}

/* ============================ the tests ============================ */

/* The whole exchange of a complete upload, message by message; a
 * completed chain refuses new uploads until it is destroyed; then a new
 * upload starts from 0 and the old content becomes a revision. */
static void test_full_upload(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, NULL, id); /* a UUID the server makes */
	int blobs0 = blob_count(s);
	const int64_t size = 200 * KIB + 123;
	unsigned char *a = t_make_data(size, 1);

	t_ws ws;
	ru_open(s, auth, id, &ws);
	/* the first message, to the letter */
	msg m;
	recv_msg(&ws, &m, T_TIMEOUT_MS);
	cJSON *got = m.op == 1 ? cJSON_Parse(m.data) : NULL;
	cJSON *want = cJSON_Parse("{\"IsInitialized\":false,\"FileName\":\"\",\"BufferSize\":32767,"
				  "\"TotalFileSize\":null,\"CurrentFileOffset\":0}");
	bool same = cJSON_Compare(got, want, true);
	int64_t buffer = 0;
	same = same && raw_int(m.data, "BufferSize", &buffer) && buffer == 32767;
	if (!same) {
		char d[400];
		describe(&m, d, sizeof(d));
		fail_msg("first message: got %s", d);
	}
	cJSON_Delete(got);
	cJSON_Delete(want);
	free(m.data);

	send_answer(&ws, "movie.mp4", size, 0);
	recv_msg(&ws, &m, T_TIMEOUT_MS);
	got = m.op == 1 ? cJSON_Parse(m.data) : NULL;
	want = cJSON_Parse("{\"Kind\":\"UploadedBytes\",\"FileOffset\":0,\"UploadPercentage\":0}");
	same = cJSON_Compare(got, want, true);
	if (!same) {
		char d[400];
		describe(&m, d, sizeof(d));
		fail_msg("first heartbeat: got %s", d);
	}
	cJSON_Delete(got);
	cJSON_Delete(want);
	free(m.data);

	/* messages of every size up to BufferSize */
	static const size_t sizes[] = {1, 32767, 1000, 32767, 4096, 7};
	int64_t off = 0;
	for (int i = 0; off < size; i = (i + 1) % 6) {
		size_t n = (size_t)(size - off) < sizes[i] ? (size_t)(size - off) : sizes[i];
		send_message(&ws, off, a + off, n);
		off += (int64_t)n;
	}
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	assert_int_equal(blob_count(s), blobs0 + 1);
	expect_stored(s, a, size);
	expect_partial_empty(s);

	/* completed: refused until destroyed (saveMedia=true is an upload) */
	ru_open(s, auth, id, &ws);
	expect_refused(&ws, 1008, COMPLETED);
	char q[128];
	snprintf(q, sizeof(q), "id=%s&saveMedia=TRUE", id);
	ru_open_query(s, auth, q, &ws);
	expect_refused(&ws, 1008, COMPLETED);

	destroy_chain(s, auth, id);
	const int64_t size2 = 5000;
	unsigned char *b = t_make_data(size2, 2);
	begin(s, auth, id, "second.mp4", size2, &ws);
	send_range(&ws, b, 0, size2, 3000);
	expect_complete(&ws, size2, UPLOAD_COMPLETE);
	assert_int_equal(blob_count(s), blobs0 + 2); /* the first is a revision */
	expect_stored(s, a, size);
	expect_stored(s, b, size2);

	/* /file/<id>/upload is the same */
	t_http_response r;
	delete_chain(s, auth, "/file", id, &r);
	assert_int_equal(r.status, 204);
	t_http_free(&r);
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);
	free(a);
	free(b);
	t_passed(state);
}

/* TotalFileSize 0: complete as soon as it is initialised. */
static void test_empty_upload(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "empty", id);
	int blobs0 = blob_count(s);
	t_ws ws;
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	send_answer(&ws, "empty.txt", 0, 0);
	expect_complete(&ws, 0, UPLOAD_COMPLETE);
	ru_open(s, auth, id, &ws);
	expect_refused(&ws, 1008, COMPLETED);
	assert_true(blob_count(s) <= blobs0 + 1);
	t_passed(state);
}

/* One upload left and resumed again and again: before the answer, right
 * after it, after one message, after odd and fragmented messages, after
 * many; by FIN, Close 1001 and RST. */
static void test_resume_after_disconnect(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-resume", id);
	const char *name = "clip (1).mov";
	const int64_t size = MIB + 777;
	unsigned char *d = t_make_data(size, 3);
	t_ws ws;

	/* gone before answering: nothing started */
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	leave(&ws, LEAVE_FIN);
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	handshake(&ws, name, size, 0);
	leave(&ws, LEAVE_FIN); /* after 0 bytes */

	resume(s, auth, id, name, size, 0, &ws);
	send_message(&ws, 0, d, 1000);
	leave(&ws, LEAVE_1001);

	int64_t off = 1000;
	resume(s, auth, id, name, size, off, &ws);
	send_message(&ws, off, d + off, 1);
	off += 1;
	send_message(&ws, off, d + off, 32767);
	off += 32767;
	send_message(&ws, off, d + off, 0); /* count 0: nothing, but well-formed */
	send_message(&ws, off, d + off, 4096);
	off += 4096;
	/* one message in two frames */
	unsigned char *frag = (unsigned char *)malloc(HEADER + 2000);
	assert_non_null(frag);
	put_header(frag, (uint64_t)off, 5000);
	memcpy(frag + HEADER, d + off, 2000);
	if (t_ws_send(&ws, 2, frag, HEADER + 2000, false) ||
	    t_ws_send(&ws, 0, d + off + 2000, 3000, true))
		fail_msg("sending a fragmented message failed");
	free(frag);
	off += 5000;
	leave(&ws, LEAVE_FIN);

	resume(s, auth, id, name, size, off, &ws);
	leave(&ws, LEAVE_1001); /* resumed, nothing sent */

	resume(s, auth, id, name, size, off, &ws);
	for (int i = 0; i < 40; i++) { /* many messages */
		send_message(&ws, off, d + off, 7919);
		off += 7919;
	}
	leave(&ws, LEAVE_1001);

	resume(s, auth, id, name, size, off, &ws);
	send_range(&ws, d, off, off + 100000, 32767);
	leave(&ws, LEAVE_RESET);
	/* the server may not have read all of it before the reset: the offset
	 * it tells is between the last end of a connection and what was sent */
	ru_open(s, auth, id, &ws);
	fsi f;
	recv_fsi(&ws, &f);
	if (!f.init || strcmp(f.name, name) || f.size != size || f.offset < off ||
	    f.offset > off + 100000)
		fail_msg("after a reset: FileStateInfo %s \"%s\" %lld %lld, want true \"%s\" %lld and "
			 "an offset in [%lld, %lld]", f.init ? "true" : "false", f.name,
			 (long long)f.size, (long long)f.offset, name, (long long)size, (long long)off,
			 (long long)(off + 100000));
	off = f.offset;
	handshake(&ws, name, size, off);
	send_range(&ws, d, off, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	expect_partial_empty(s);
	free(d);
	t_passed(state);
}

/* cubbyd killed mid-upload: after the restart the client is told an
 * offset no later than what it sent and no earlier than the last 64 KiB
 * checkpoint can be; it resumes from there to a byte-identical file. */
static void test_resume_after_kill(void **state)
{
	t_server *s = t_start(state, "checkpoint_bytes = 64K\nheartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-kill", id);
	const int64_t size = MIB;
	const int64_t sent = 300 * KIB + 5;
	unsigned char *d = t_make_data(size, 4);
	t_ws ws;
	begin(s, auth, id, "killed.bin", size, &ws);
	send_range(&ws, d, 0, sent, 32767);
	wait_offset(&ws, sent, size); /* the server has taken all of it */
	t_server_kill(s);
	ws.close_sent = true;
	t_ws_close(&ws);
	t_restart(state);
	admin_auth(s, auth);

	ru_open(s, auth, id, &ws);
	fsi f;
	recv_fsi(&ws, &f);
	/* a checkpoint every 64K, each after a message of at most 32767 bytes */
	int64_t lowest = sent - 64 * KIB - BUF_DEFAULT;
	if (!f.init || strcmp(f.name, "killed.bin") || f.size != size || f.offset > sent ||
	    f.offset < lowest)
		fail_msg("after kill -9: FileStateInfo %s \"%s\" %lld %lld, want true \"killed.bin\" "
			 "%lld and an offset in [%lld, %lld]", f.init ? "true" : "false", f.name,
			 (long long)f.size, (long long)f.offset, (long long)size, (long long)lowest,
			 (long long)sent);
	handshake(&ws, "killed.bin", size, f.offset);
	send_range(&ws, d, f.offset, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* SIGTERM while three uploads are open, all below checkpoint_bytes (the
 * default 16M): each connection gets 1001 "server shutting down"; the
 * first answers it, the second (of unknown size) answers it with 1000,
 * which does not complete it, the third does not answer and is closed
 * when the 2 s are over. cubbyd exits 0, and after the restart each
 * upload resumes at exactly the bytes it sent and completes
 * byte-identical. */
static void test_shutdown_checkpoints(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id1[ID_MAX], id2[ID_MAX], id3[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-term", id1);
	new_project(s, auth, "p-term-null", id2);
	new_project(s, auth, "p-term-mute", id3);
	const int64_t size1 = 40000, sent1 = 5000, size2 = 30000, sent2 = 7000;
	const int64_t size3 = 50000, sent3 = 9001;
	unsigned char *d1 = t_make_data(size1, 30), *d2 = t_make_data(size2, 31);
	unsigned char *d3 = t_make_data(size3, 40);
	t_ws a, b, c;
	begin(s, auth, id1, "term.bin", size1, &a);
	send_range(&a, d1, 0, sent1, 3000);
	wait_offset(&a, sent1, size1);
	begin(s, auth, id2, "term-null.bin", SIZE_NULL, &b);
	send_range(&b, d2, 0, sent2, 4096);
	wait_offset(&b, sent2, SIZE_NULL);
	begin(s, auth, id3, "term-mute.bin", size3, &c);
	send_range(&c, d3, 0, sent3, 32767);
	wait_offset(&c, sent3, size3);

	if (kill(s->pid, SIGTERM))
		fail_msg("kill(SIGTERM): %s", strerror(errno));
	expect_close(&a, 1001, "server shutting down");
	/* b answers the server's close with its own 1000 */
	b.close_sent = true;
	msg m;
	heartbeat h;
	char dsc[400];
	for (;;) {
		recv_msg(&b, &m, T_TIMEOUT_MS);
		if (!(m.op == 1 && parse_heartbeat(m.data, &h)))
			break;
		free(m.data);
	}
	describe(&m, dsc, sizeof(dsc));
	bool same = m.op == 8 && m.code == 1001 && !strcmp(m.data, "server shutting down");
	free(m.data);
	if (!same)
		fail_msg("want close 1001 \"server shutting down\", got %s", dsc);
	unsigned char c1000[2] = {1000 >> 8, 1000 & 0xff};
	if (t_ws_send(&b, 8, c1000, 2, true))
		fail_msg("answering the server's close with 1000 failed");
	int closed = t_wait_closed(b.fd, T_TIMEOUT_MS);
	t_ws_close(&b);
	if (!closed)
		fail_msg("cubbyd did not end the connection after the close handshake");
	int status = t_server_stop(s); /* c reads nothing */
	if (status)
		fail_msg("cubbyd stopped with %d after SIGTERM, want exit status 0", status);
	c.close_sent = true;
	t_ws_close(&c);

	t_restart(state);
	admin_auth(s, auth);
	resume(s, auth, id1, "term.bin", size1, sent1, &a);
	send_range(&a, d1, sent1, size1, 32767);
	expect_complete(&a, size1, UPLOAD_COMPLETE);
	expect_stored(s, d1, size1);
	resume(s, auth, id2, "term-null.bin", SIZE_NULL, sent2, &b);
	send_range(&b, d2, sent2, size2, 32767);
	leave(&b, LEAVE_1000);
	expect_stored(s, d2, size2);
	resume(s, auth, id3, "term-mute.bin", size3, sent3, &c);
	send_range(&c, d3, sent3, size3, 32767);
	expect_complete(&c, size3, UPLOAD_COMPLETE);
	expect_stored(s, d3, size3);
	expect_partial_empty(s);
	free(d1);
	free(d2);
	free(d3);
	t_passed(state);
}

/* The reference .NET client: ?token=, an answer with every member and a
 * Tag, 32768-byte messages whose offset is an IEEE-754 double. */
static void test_reference_client(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], token[T_TOKEN_MAX], id[ID_MAX], q[512], answer[512];
	t_login_token(s, "admin", s->password, token);
	t_bearer_header(token, auth, sizeof(auth));
	new_project(s, auth, "p-ref", id);
	const int64_t chunk = 32768 - HEADER;
	const int64_t size = 3 * chunk + 1000;
	unsigned char *d = t_make_data(size, 5);
	t_ws ws;
	snprintf(q, sizeof(q), "id=%s&saveMedia=true&token=%s", id, token);
	ru_open_query(s, NULL, q, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	snprintf(answer, sizeof(answer),
		 "{\"IsInitialized\":false,\"FileName\":\"ref.bin\",\"BufferSize\":32767,"
		 "\"TotalFileSize\":%lld,\"CurrentFileOffset\":0,\"Tag\":\"upload-1\"}",
		 (long long)size);
	send_text(&ws, answer);
	expect_heartbeat(&ws, 0, size);
	for (int64_t off = 0; off < size; off += chunk) {
		int64_t n = size - off < chunk ? size - off : chunk;
		send_message_raw(&ws, double_bits((double)off), (int)n, d + off, (size_t)n);
	}
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* The bytes of a UTF-8 character by its first byte (1 for a byte that
 * cannot start one). */
static size_t utf8_len(unsigned char c)
{
	return c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
}

/* s[0, n) is well-formed UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF). */
static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_len(c);
		if (k == 1 || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		unsigned char c1 = p[i + 1];
		if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
		    (c == 0xf4 && c1 >= 0x90))
			return false;
		i += k;
	}
	return true;
}

/* FileName over 255 bytes: on resume the FileStateInfo gives it back cut
 * to 255 bytes on a UTF-8 character boundary (valid UTF-8, a prefix of
 * what was sent, and no longer prefix would fit); 255 bytes are kept. */
static void test_filename_cut(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX], label[32];
	admin_auth(s, auth);
	static char names[5][700];
	for (int i = 0; i < 300; i++)
		strcat(names[0], "\xc3\xa9"); /* é: 600 bytes, 254 kept */
	strcpy(names[1], "a");
	for (int i = 0; i < 100; i++)
		strcat(names[1], "\xe2\x82\xac"); /* a and 100 times €: 253 kept */
	for (int i = 0; i < 70; i++)
		strcat(names[2], "\xf0\x9f\x98\x80"); /* U+1F600: 252 kept */
	memset(names[3], 'x', 254);
	strcat(names[3], "\xc3\xa9"); /* 256 bytes: 254 kept */
	memset(names[4], 'y', 253);
	strcat(names[4], "\xc3\xa9"); /* 255 bytes: all kept */
	static const size_t kept[5] = {254, 253, 252, 254, 255};
	const int64_t size = 100;
	unsigned char *d = t_make_data(size, 32);
	for (int i = 0; i < 5; i++) {
		const char *name = names[i];
		snprintf(label, sizeof(label), "p-name-%d", i);
		new_project(s, auth, label, id);
		t_ws ws;
		begin(s, auth, id, name, size, &ws);
		send_message(&ws, 0, d, 10);
		leave(&ws, LEAVE_1001);
		ru_open(s, auth, id, &ws);
		fsi f;
		recv_fsi(&ws, &f);
		size_t n = strlen(f.name), sent = strlen(name);
		bool prefix = n <= sent && !memcmp(f.name, name, n);
		bool longest = n == sent || n + utf8_len((unsigned char)name[n]) > 255;
		if (!f.init || f.offset != 10 || f.size != size || n > 255 || !utf8_valid(f.name, n) ||
		    !prefix || !longest || n != kept[i])
			fail_msg("FileName of %zu bytes sent: FileStateInfo %s, %lld, %lld, a FileName of "
				 "%zu bytes (%s UTF-8, %sa prefix of the name sent); want true, 10, %lld "
				 "and the first %zu bytes", sent, f.init ? "true" : "false",
				 (long long)f.offset, (long long)f.size, n,
				 utf8_valid(f.name, n) ? "valid" : "invalid", prefix ? "" : "not ",
				 (long long)size, kept[i]);
		/* the label as given back resumes the upload */
		handshake(&ws, f.name, size, 10);
		send_range(&ws, d, 10, size, 32767);
		expect_complete(&ws, size, UPLOAD_COMPLETE);
	}
	free(d);
	t_passed(state);
}

/* ---- refusals before the handshake ---- */

static void test_no_id(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	static const char *const queries[] = {"", "id=", "saveMedia=true", "id=&saveMedia=false"};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		t_ws ws;
		ru_open_query(s, auth, queries[i], &ws);
		expect_refused(&ws, 1008, NOT_SET);
	}
	t_passed(state);
}

/* An unknown id, another user's project, one's own project in the trash. */
static void test_no_access(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX], bobs[ID_MAX], trashed[ID_MAX];
	t_add_user(s, "ann", "secret pass", ann);
	t_add_user(s, "bob", "secret pass", bob);
	new_project(s, bob, "bobs-project", bobs);
	new_project(s, ann, "anns-trashed", trashed);
	ws_uuid_call(s, ann, "project_delete", cJSON_CreateString(trashed), trashed, NULL);
	const char *const ids[] = {"00000000-0000-4000-8000-000000000000", bobs, trashed};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		t_ws ws;
		ru_open(s, ann, ids[i], &ws);
		expect_refused(&ws, 1001, NO_ACCESS);
		ru_open_stream(s, ann, ids[i], "false", &ws);
		expect_refused(&ws, 1001, NO_ACCESS);
	}
	/* bob's own is fine */
	t_ws ws;
	ru_open(s, bob, bobs, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);
	t_passed(state);
}

/* Without a session the upgrade is refused; Basic and ?token= are
 * sessions; a subprotocol other than cubby is refused. */
static void test_needs_session(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], basic[T_AUTH_MAX], hdr[T_AUTH_MAX + 64];
	admin_auth(s, auth);
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/ws/Upload?id=p", NULL), -1);
	assert_int_equal(ws.status, 401);
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/ws/Upload?id=p",
				      "Authorization: Bearer nope\r\n"), -1);
	assert_int_equal(ws.status, 401);
	snprintf(hdr, sizeof(hdr), "%sSec-WebSocket-Protocol: chat\r\n", auth);
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/ws/Upload?id=p", hdr), -1);
	assert_int_not_equal(ws.status, 101);
	ru_open(s, t_basic_header("admin", s->password, basic, sizeof(basic)), "nothing-here", &ws);
	expect_refused(&ws, 1001, NO_ACCESS);
	t_passed(state);
}

/* ---- refusals after the answer ---- */

/* The server holds 1000 bytes: an answer of 0 is a restart (refused,
 * also with another size); any other offset or size is refused as not
 * continuous; a fresh chain answered with an offset too. The chain is
 * untouched by all of it and completes. */
static void test_restart_and_restore_refused(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX], fresh[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-restore", id);
	new_project(s, auth, "p-fresh", fresh);
	const int64_t size = 5000;
	unsigned char *d = t_make_data(size, 6);
	t_ws ws;
	begin(s, auth, id, "r.bin", size, &ws);
	send_message(&ws, 0, d, 1000);
	leave(&ws, LEAVE_FIN);

	struct {
		const char *name;
		int64_t size, offset;
		const char *reason;
	} answers[] = {
		{"r.bin", size, 0, NO_RESTART},
		{"r.bin", 6000, 0, NO_RESTART}, /* the restart is checked first */
		{"r.bin", size, 999, NOT_RESTORABLE},
		{"r.bin", size, 1001, NOT_RESTORABLE},
		{"r.bin", 6000, 1000, NOT_RESTORABLE},
		{"r.bin", SIZE_NULL, 1000, NOT_RESTORABLE},
		{"r.bin", SIZE_ABSENT, 1000, NOT_RESTORABLE},
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		ru_open(s, auth, id, &ws);
		expect_resume(&ws, "r.bin", size, 1000);
		send_answer(&ws, answers[i].name, answers[i].size, answers[i].offset);
		expect_close(&ws, 1008, answers[i].reason);
	}
	/* a fresh chain holds 0 bytes */
	ru_open(s, auth, fresh, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	send_answer(&ws, "f.bin", size, 5);
	expect_close(&ws, 1008, NOT_RESTORABLE);
	ru_open(s, auth, fresh, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);

	resume(s, auth, id, "r.bin", size, 1000, &ws);
	send_range(&ws, d, 1000, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* partial_ttl = 1 (the sweeper then runs every second): an upload left
 * for more than a second expires, its partial file goes, and a
 * reconnecting client is refused, whatever it answers, until the chain is
 * destroyed. A bad answer is still checked first. */
static void test_restore_timed_out(void **state)
{
	t_server *s = t_start(state, "partial_ttl = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-ttl", id);
	const int64_t size = 5000;
	unsigned char *d = t_make_data(size, 7);
	t_ws ws;
	begin(s, auth, id, "ttl.bin", size, &ws);
	send_message(&ws, 0, d, 1000);
	/* the upload's partial file (an open upload does not expire) */
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 1);
	leave(&ws, LEAVE_FIN);
	int n = t_wait_entries(s, "partial", 0, T_TIMEOUT_MS);
	if (n)
		fail_msg("the partial file is still there %d ms after the upload was left",
			 T_TIMEOUT_MS);

	fsi f;
	ru_open(s, auth, id, &ws);
	recv_fsi(&ws, &f);
	send_answer(&ws, "ttl.bin", size, f.offset);
	expect_close(&ws, 1008, TIMED_OUT);
	ru_open(s, auth, id, &ws);
	recv_fsi(&ws, &f);
	send_answer(&ws, "ttl.bin", size, 0);
	expect_close(&ws, 1008, TIMED_OUT);
	ru_open(s, auth, id, &ws);
	recv_fsi(&ws, &f);
	send_text(&ws, "not json");
	expect_close(&ws, 1011, BAD_ANSWER);

	destroy_chain(s, auth, id);
	begin(s, auth, id, "ttl.bin", size, &ws);
	send_range(&ws, d, 0, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* Answers that are not the FileStateInfo object; a size over
 * max_upload_size. The chain stays fresh. */
static void test_bad_answer_and_too_large(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 1M\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-1011", id);
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"42",
		"\"CurrentFileOffset\"",
		"{}",
		"{\"FileName\":\"a\",\"TotalFileSize\":10}",
		"{\"FileName\":\"a\",\"TotalFileSize\":10,\"CurrentFileOffset\":\"0\"}",
		"{\"FileName\":\"a\",\"TotalFileSize\":10,\"CurrentFileOffset\":null}",
		"{\"FileName\":\"a\",\"TotalFileSize\":10,\"CurrentFileOffset\":0.5}",
		"{\"FileName\":\"a\",\"TotalFileSize\":\"10\",\"CurrentFileOffset\":0}",
		"{\"FileName\":\"a\",\"TotalFileSize\":10.5,\"CurrentFileOffset\":0}",
	};
	t_ws ws;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ru_open(s, auth, id, &ws);
		expect_fresh(&ws, BUF_DEFAULT);
		send_text(&ws, bad[i]);
		expect_close(&ws, 1011, BAD_ANSWER);
	}
	/* a binary message first */
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	unsigned char zeros[HEADER + 4] = {0};
	zeros[8] = 4;
	send_binary(&ws, zeros, sizeof(zeros));
	expect_close(&ws, 1011, BAD_ANSWER);

	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	send_answer(&ws, "big.bin", MIB + 1, 0);
	expect_close(&ws, 1011, "Error: 'file too large: the limit is 1048576 bytes'");
	/* still fresh; the limit itself is accepted */
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	handshake(&ws, "big.bin", MIB, 0);
	t_ws_close(&ws);
	t_passed(state);
}

/* quota = 64K for ann: a declared size over it is refused at once; 60K
 * is stored. */
static void test_quota_exceeded(void **state)
{
	t_server *s = t_start(state, "quota = 64K\n");
	char ann[T_AUTH_MAX], id[ID_MAX];
	t_add_user(s, "ann", "secret pass", ann);
	new_project(s, ann, "p-quota", id);
	t_ws ws;
	ru_open(s, ann, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	send_answer(&ws, "q.bin", 64 * KIB + 1, 0);
	expect_close(&ws, 1011, "Error: 'quota exceeded'");
	unsigned char *d = t_make_data(60 * KIB, 8);
	begin(s, ann, id, "q.bin", 60 * KIB, &ws);
	send_range(&ws, d, 0, 60 * KIB, 32767);
	expect_complete(&ws, 60 * KIB, UPLOAD_COMPLETE);
	expect_stored(s, d, 60 * KIB);
	free(d);
	t_passed(state);
}

/* A declared size no disk here has free (1 PiB, under a limit of 4 PiB). */
static void test_not_enough_disk(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 4096T\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-disk", id);
	t_ws ws;
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	send_answer(&ws, "huge.img", 1ll << 50, 0);
	expect_close(&ws, 1011, "Error: 'not enough free disk space'");
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);
	t_passed(state);
}

/* ---- refusals during the upload ---- */

/* idle_timeout = 1: messages 400 ms apart (one of them a text message,
 * ignored but a sign of life) keep the upload going; a second of silence
 * ends it, and the bytes are kept for resuming. */
static void test_idle_timeout(void **state)
{
	t_server *s = t_start(state, "idle_timeout = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-idle", id);
	const int64_t size = 10000;
	unsigned char *d = t_make_data(size, 9);
	t_ws ws;
	begin(s, auth, id, "idle.bin", size, &ws);
	int64_t off = 0;
	for (int i = 0; i < 5; i++) {
		/* 400 ms without a close (pings answered, heartbeats skipped) */
		int64_t until = t_now_ms() + 400;
		for (int64_t left; (left = until - t_now_ms()) > 0;) {
			msg m;
			heartbeat h;
			char dsc[400];
			recv_msg(&ws, &m, (int)left);
			describe(&m, dsc, sizeof(dsc));
			bool ok = m.op == -1 || (m.op == 1 && parse_heartbeat(m.data, &h));
			free(m.data);
			if (!ok)
				fail_msg("want nothing while messages come every 400 ms, got %s", dsc);
		}
		if (i == 2) {
			send_text(&ws, "{\"hello\":\"still here\"}");
			continue;
		}
		send_message(&ws, off, d + off, 100);
		off += 100;
	}
	int64_t t0 = t_now_ms();
	expect_close(&ws, 1008, "Connection timeouted after 1s");
	int64_t waited = t_now_ms() - t0;
	if (waited < 800)
		fail_msg("closed %lld ms after the last message, want about 1 s of silence",
			 (long long)waited);
	resume(s, auth, id, "idle.bin", size, off, &ws);
	send_range(&ws, d, off, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* The bytes of an upload are checkpointed at good (the connection that
 * sent them has ended); the bad message `what` on a resumed connection is
 * refused with code and reason, and leaves exactly good (checked by the
 * next resume). */
typedef void (*bad_sender)(t_ws *ws, int64_t good, const unsigned char *d);

static void refused_keeps(const t_server *s, const char *auth, const char *id, const char *name,
			  int64_t size, int64_t good, const unsigned char *d, const char *what,
			  bad_sender send_bad, int code, const char *reason)
{
	t_ws ws;
	fsi f;
	char why[600];
	ru_open(s, auth, id, &ws);
	recv_fsi(&ws, &f);
	if (!f.init || strcmp(f.name, name) || f.size != size || f.offset != good)
		fail_msg("before %s: FileStateInfo %s \"%s\" %lld %lld, want true \"%s\" %lld %lld "
			 "(a bad message before keeps nothing)", what, f.init ? "true" : "false",
			 f.name, (long long)f.size, (long long)f.offset, name, (long long)size,
			 (long long)good);
	handshake(&ws, name, size, good);
	send_bad(&ws, good, d);
	if (!closed_with(&ws, code, reason, true, why, sizeof(why)))
		fail_msg("%s: %s", what, why);
}

/* 10 + 32768 bytes; then 10 + 32767 is a message. */
static void bad_too_long(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, 32767, d + good, 32768);
}

static void test_message_over_buffer(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-1009", id);
	const int64_t size = 100000;
	unsigned char *d = t_make_data(size, 10);
	t_ws ws;
	begin(s, auth, id, "b.bin", size, &ws);
	send_message(&ws, 0, d, 32767); /* the largest message */
	leave(&ws, LEAVE_FIN);
	refused_keeps(s, auth, id, "b.bin", size, 32767, d, "10 + 32768 bytes", bad_too_long, 1009,
		      "Message does not fit into 32767B buffer");
	resume(s, auth, id, "b.bin", size, 32767, &ws);
	send_range(&ws, d, 32767, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* upload_buffer_size = 1K: BufferSize 1024, and 1025 data bytes (with
 * their count) are too many. */
static void test_message_over_small_buffer(void **state)
{
	t_server *s = t_start(state, "upload_buffer_size = 1K\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-1k", id);
	const int64_t size = 5000;
	unsigned char *d = t_make_data(size, 11);
	t_ws ws;
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, 1024);
	handshake(&ws, "k.bin", size, 0);
	send_message(&ws, 0, d, 1024);
	leave(&ws, LEAVE_FIN);
	ru_open(s, auth, id, &ws);
	fsi f;
	recv_fsi(&ws, &f);
	if (!f.init || f.buffer != 1024 || f.offset != 1024 || f.size != size)
		fail_msg("FileStateInfo %s, BufferSize %lld, offset %lld, size %lld; want true, "
			 "1024, 1024, %lld", f.init ? "true" : "false", (long long)f.buffer,
			 (long long)f.offset, (long long)f.size, (long long)size);
	handshake(&ws, "k.bin", size, 1024);
	send_message(&ws, 1024, d + 1024, 1025);
	expect_close(&ws, 1009, "Message does not fit into 1024B buffer");
	ru_open(s, auth, id, &ws);
	recv_fsi(&ws, &f);
	assert_int_equal(f.offset, 1024);
	handshake(&ws, "k.bin", size, 1024);
	send_range(&ws, d, 1024, size, 1024);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* Offsets not where the data ends, as int64 and as doubles; a double
 * that is where it ends is taken. */
static void test_not_continuous(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-cont", id);
	const int64_t size = 10000;
	unsigned char *d = t_make_data(size, 12);
	t_ws ws;
	begin(s, auth, id, "c.bin", size, &ws);
	send_message(&ws, 0, d, 3000);
	send_message(&ws, 2000, d + 2000, 100);
	expect_close(&ws, 1008, "Transfer has to be continuous, server has 3000B of data, not 2000B");

	resume(s, auth, id, "c.bin", size, 3000, &ws);
	send_message(&ws, 4000, d + 4000, 100);
	expect_close(&ws, 1008, "Transfer has to be continuous, server has 3000B of data, not 4000B");

	resume(s, auth, id, "c.bin", size, 3000, &ws);
	send_message(&ws, 0, d, 100);
	expect_close(&ws, 1008, "Transfer has to be continuous, server has 3000B of data, not 0B");

	resume(s, auth, id, "c.bin", size, 3000, &ws);
	send_message_raw(&ws, double_bits(5000.0), 100, d + 5000, 100);
	expect_close(&ws, 1008, "Transfer has to be continuous, server has 3000B of data, not 5000B");

	resume(s, auth, id, "c.bin", size, 3000, &ws);
	send_message_raw(&ws, double_bits(3000.0), 1000, d + 3000, 1000);
	send_range(&ws, d, 4000, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

static void bad_count_over(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, 100, d + good, 50);
}

static void bad_count_under(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, 10, d + good, 50);
}

static void bad_count_zero(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, 0, d + good, 5);
}

static void bad_count_minus_one(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, -1, d + good, 0);
}

static void bad_count_min(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message_raw(ws, (uint64_t)good, -32768, d + good, 10);
}

static void bad_short(t_ws *ws, int64_t good, const unsigned char *)
{
	unsigned char h[HEADER];
	put_header(h, (uint64_t)good, 0);
	send_binary(ws, h, 9);
}

static void bad_five(t_ws *ws, int64_t, const unsigned char *d)
{
	send_binary(ws, d, 5);
}

static void bad_empty(t_ws *ws, int64_t, const unsigned char *d)
{
	send_binary(ws, d, 0);
}

/* More than TotalFileSize (10000) holds. */
static void bad_past_size(t_ws *ws, int64_t good, const unsigned char *d)
{
	send_message(ws, good, d + good, (size_t)(10000 - good + 1));
}

/* count 1000, but 1500 bytes follow in two frames: the first 600 may be
 * written before the server knows. */
static void bad_fragmented(t_ws *ws, int64_t good, const unsigned char *d)
{
	unsigned char m[HEADER + 600];
	put_header(m, (uint64_t)good, 1000);
	memcpy(m + HEADER, d + good, 600);
	if (t_ws_send(ws, 2, m, sizeof(m), false) || t_ws_send(ws, 0, d + good + 600, 900, true))
		fail_msg("sending a fragmented message failed");
}

static void test_bad_data_size(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-1007", id);
	const int64_t size = 10000, good = 600;
	unsigned char *d = t_make_data(size + 1, 13);
	t_ws ws;
	begin(s, auth, id, "s.bin", size, &ws);
	send_message(&ws, 0, d, (size_t)good);
	leave(&ws, LEAVE_FIN);
	static const struct {
		const char *what;
		bad_sender send;
	} bad[] = {
		{"count 100, 50 bytes", bad_count_over},
		{"count 10, 50 bytes", bad_count_under},
		{"count 0, 5 bytes", bad_count_zero},
		{"count -1", bad_count_minus_one},
		{"count -32768, 10 bytes", bad_count_min},
		{"9 bytes", bad_short},
		{"5 bytes", bad_five},
		{"0 bytes", bad_empty},
		{"past TotalFileSize", bad_past_size},
		{"count 1000, 1500 bytes in two frames", bad_fragmented},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_keeps(s, auth, id, "s.bin", size, good, d, bad[i].what, bad[i].send, 1007,
			      BAD_SIZE);
	resume(s, auth, id, "s.bin", size, good, &ws);
	send_range(&ws, d, good, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* A second connection takes the upload over as soon as it opens: the
 * first one's next message is refused; the second resumes from what the
 * first sent and completes. */
static void test_reconnected(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-takeover", id);
	const int64_t size = 20000;
	unsigned char *d = t_make_data(size, 14);
	t_ws a, b;
	begin(s, auth, id, "t.bin", size, &a);
	send_range(&a, d, 0, 5000, 32767);
	wait_offset(&a, 5000, size);
	ru_open(s, auth, id, &b);
	expect_resume(&b, "t.bin", size, 5000);
	send_message(&a, 5000, d + 5000, 1000);
	expect_close(&a, 1008, RECONNECTED);
	handshake(&b, "t.bin", size, 5000);
	send_range(&b, d, 5000, size, 32767);
	expect_complete(&b, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* A takeover while the first connection is in the middle of a message
 * sent as two WebSocket frames: the continuation frame that comes after
 * it gets 1008 "Upload reconnected...", and the new connection, told what
 * the server had taken (checkpointed at the takeover: here all that was
 * sent, the heartbeat said so), completes the upload byte-identical from
 * there. */
static void test_takeover_mid_message(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-takeover-frames", id);
	const int64_t size = 10000;
	unsigned char *d = t_make_data(size, 33);
	t_ws a, b;
	begin(s, auth, id, "tf.bin", size, &a);
	send_message(&a, 0, d, 1000);
	/* a message of 2000 bytes at 1000, its first frame with 500 of them */
	send_first_frame(&a, 1000, 2000, d + 1000, 500);
	wait_offset(&a, 1500, size); /* the server has taken the first frame */
	ru_open(s, auth, id, &b);
	expect_resume(&b, "tf.bin", size, 1500); /* in the middle of the message */
	send_last_frame(&a, d + 1500, 1500);
	expect_close(&a, 1008, RECONNECTED);
	assert_true(t_server_running(s));
	handshake(&b, "tf.bin", size, 1500);
	send_range(&b, d, 1500, size, 32767);
	expect_complete(&b, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	expect_partial_empty(s);
	free(d);
	t_passed(state);
}

/* The same with a message in one WebSocket frame that reaches the server
 * in two TCP writes, the takeover between them. */
static void test_takeover_mid_frame(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-takeover-tcp", id);
	const int64_t size = 40000;
	unsigned char *d = t_make_data(size, 34);
	t_ws a, b;
	begin(s, auth, id, "tt.bin", size, &a);
	send_message(&a, 0, d, 1000);
	size_t len, head;
	unsigned char *f = message_frame(1000, d + 1000, 30000, &len, &head);
	size_t cut = head + HEADER + 990; /* the header and 990 bytes of data */
	send_bytes(&a, f, cut);
	wait_offset(&a, 1990, size);
	ru_open(s, auth, id, &b);
	expect_resume(&b, "tt.bin", size, 1990);
	send_bytes(&a, f + cut, len - cut);
	free(f);
	expect_close(&a, 1008, RECONNECTED);
	assert_true(t_server_running(s));
	handshake(&b, "tt.bin", size, 1990);
	send_range(&b, d, 1990, size, 32767);
	expect_complete(&b, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	expect_partial_empty(s);
	free(d);
	t_passed(state);
}

/* Writing to an upload that finished: completed by the connection that
 * took it over (False), destroyed under the writing connection (True). */
static void test_write_to_completed(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX], reason[256];
	admin_auth(s, auth);
	new_project(s, auth, "p-done", id);
	const int64_t size = 8000;
	unsigned char *d1 = t_make_data(size, 15), *d2 = t_make_data(size, 16);
	unsigned char *d3 = t_make_data(size, 17);
	t_ws a, b;
	begin(s, auth, id, "w.bin", size, &a);
	send_message(&a, 0, d1, 3000);
	wait_offset(&a, 3000, size);
	resume(s, auth, id, "w.bin", size, 3000, &b);
	send_range(&b, d1, 3000, size, 32767);
	expect_complete(&b, size, UPLOAD_COMPLETE);
	send_message(&a, 3000, d1 + 3000, 1000);
	snprintf(reason, sizeof(reason),
		 "Attempt to write to completed upload for project %s. (on active upload? False)", id);
	expect_close(&a, 1001, reason);
	expect_stored(s, d1, size);

	destroy_chain(s, auth, id);
	begin(s, auth, id, "w2.bin", size, &a);
	send_message(&a, 0, d2, 2000);
	wait_offset(&a, 2000, size);
	destroy_chain(s, auth, id);
	send_message(&a, 2000, d2 + 2000, 1000);
	snprintf(reason, sizeof(reason),
		 "Attempt to write to completed upload for project %s. (on active upload? True)", id);
	expect_close(&a, 1001, reason);

	begin(s, auth, id, "w3.bin", size, &b);
	send_range(&b, d3, 0, size, 32767);
	expect_complete(&b, size, UPLOAD_COMPLETE);
	expect_stored(s, d3, size);
	expect_stored(s, d1, size); /* a revision now */
	assert_int_equal(t_blobs_holding(s, d2, size), 0);
	free(d1);
	free(d2);
	free(d3);
	t_passed(state);
}

/* ---- DELETE /files/<id>/upload ---- */

static void expect_delete_error(const t_server *s, const char *auth, const char *id, int code,
				const char *message)
{
	t_http_response r;
	delete_chain(s, auth, "/files", id, &r);
	t_assert_error(&r, code, message);
}

static void test_delete_errors(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX], id[ID_MAX], bobs[ID_MAX];
	t_add_user(s, "ann", "secret pass", ann);
	t_add_user(s, "bob", "secret pass", bob);
	new_project(s, ann, "anns", id);
	new_project(s, bob, "bobs", bobs);
	expect_delete_error(s, ann, "00000000-0000-4000-8000-000000000000", 404, "file not found");
	expect_delete_error(s, ann, bobs, 404, "file not found");
	expect_delete_error(s, ann, id, 404, "no upload for this file");
	t_http_response r;
	delete_chain(s, NULL, "/files", id, &r);
	assert_int_equal(r.status, 401);
	t_http_free(&r);
	/* with a chain (started, 0 bytes) it goes, and only once */
	t_ws ws;
	begin(s, ann, id, "x.bin", 10, &ws);
	leave(&ws, LEAVE_FIN);
	delete_chain(s, bob, "/files", id, &r);
	t_assert_error(&r, 404, "file not found");
	destroy_chain(s, ann, id);
	expect_delete_error(s, ann, id, 404, "no upload for this file");
	t_passed(state);
}

/* An id longer than a node id (36 bytes) is a node that does not exist:
 * 1001 for an upload and a stream, 404 "file not found" for DELETE; not
 * "Project id not set". */
static void test_long_id(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX], q[400];
	admin_auth(s, auth);
	/* a project whose id is the first 36 bytes of the long ids */
	static const char digits[] = "0123456789";
	char long_id[301];
	for (int i = 0; i < 300; i++)
		long_id[i] = digits[i % 10];
	long_id[300] = 0;
	char base[37];
	memcpy(base, long_id, 36);
	base[36] = 0;
	new_project(s, auth, base, id);
	t_ws ws;
	ru_open(s, auth, base, &ws); /* the 36-byte one is there */
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);
	/* every length is tried; the ones refused otherwise are listed */
	static const size_t lens[] = {37, 40, 100, 255, 256, 300};
	char wrong[2000] = "";
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int n = (int)lens[i];
		char why[600];
		for (int stream = 0; stream < 2; stream++) {
			snprintf(q, sizeof(q), "id=%.*s%s", n, long_id, stream ? "&saveMedia=false" : "");
			ru_open_query(s, auth, q, &ws);
			if (!closed_with(&ws, 1001, NO_ACCESS, false, why, sizeof(why)))
				snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
					 "\n  an id of %d bytes%s: %s", n, stream ? ", saveMedia=false" : "",
					 why);
		}
		snprintf(q, sizeof(q), "%.*s", n, long_id);
		t_http_response r;
		delete_chain(s, auth, "/files", q, &r);
		if (t_check_error(&r, 404, "file not found", why, sizeof(why)))
			snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
				 "\n  DELETE with an id of %d bytes: %s", n, why);
		t_http_free(&r);
	}
	if (wrong[0])
		fail_msg("ids longer than 36 bytes:%s", wrong);
	t_passed(state);
}

/* DELETE /files/<id>/upload while the connection is in the middle of a
 * message (two WebSocket frames, then one frame in two TCP writes): the
 * rest of it gets 1001 "Attempt to write to completed upload ... (on
 * active upload? True)", the partial file is gone, and the next upload of
 * the node is fresh. */
static void test_delete_mid_message(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX], reason[256];
	admin_auth(s, auth);
	new_project(s, auth, "p-delete-mid", id);
	snprintf(reason, sizeof(reason),
		 "Attempt to write to completed upload for project %s. (on active upload? True)", id);
	const int64_t size = 40000;
	unsigned char *d = t_make_data(size, 35);
	t_ws a;
	begin(s, auth, id, "dm.bin", size, &a);
	send_message(&a, 0, d, 1000);
	send_first_frame(&a, 1000, 2000, d + 1000, 500);
	wait_offset(&a, 1500, size);
	destroy_chain(s, auth, id);
	send_last_frame(&a, d + 1500, 1500);
	expect_close(&a, 1001, reason);
	assert_true(t_server_running(s));
	expect_partial_empty(s);

	begin(s, auth, id, "dm2.bin", size, &a); /* fresh */
	send_message(&a, 0, d, 1000);
	size_t len, head;
	unsigned char *f = message_frame(1000, d + 1000, 30000, &len, &head);
	size_t cut = head + HEADER + 990;
	send_bytes(&a, f, cut);
	wait_offset(&a, 1990, size);
	destroy_chain(s, auth, id);
	send_bytes(&a, f + cut, len - cut);
	free(f);
	expect_close(&a, 1001, reason);
	assert_true(t_server_running(s));
	expect_partial_empty(s);

	begin(s, auth, id, "dm3.bin", size, &a); /* fresh again */
	send_range(&a, d, 0, size, 32767);
	expect_complete(&a, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* /ws: action with value must be answered with an error whose value is
 * message. */
static void expect_ws_error(const t_server *s, const char *auth, const char *action, cJSON *value,
			    const char *message)
{
	t_ws ws;
	ws_open(s, "/ws", auth, &ws);
	if (t_ws_send_action(&ws, action, value))
		fail_msg("sending %s failed", action);
	cJSON *v = ws_answer(&ws, "error");
	t_ws_close(&ws);
	bool same = cJSON_IsString(v) && !strcmp(v->valuestring, message);
	char *got = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (!same) {
		fprintf(stderr, "%s answered the error %s\n", action, got ? got : "?");
		cJSON_free(got);
		fail_msg("%s: want the error \"%s\"", action, message);
	}
	cJSON_free(got);
}

/* The project uuid deleted for good (to the trash, then out of it). */
static void purge_project(const t_server *s, const char *auth, const char *uuid)
{
	ws_uuid_call(s, auth, "project_delete", cJSON_CreateString(uuid), uuid, NULL);
	ws_uuid_call(s, auth, "project_trash_delete", cJSON_CreateString(uuid), uuid, NULL);
}

/* A project deleted for good forgets its chain: the same uuid made again
 * (by its owner, or by another user once nobody holds it) has a fresh
 * chain (IsInitialized false, FileName "", CurrentFileOffset 0, an answer
 * of 0 accepted), after a chain in progress and after a completed one.
 * While the first owner's project is in the trash the uuid is theirs:
 * another user's project_save of it is "project not found". */
static void test_id_reuse_after_purge(void **state)
{
	t_server *s = t_start(state, NULL);
	char admin[T_AUTH_MAX], bob[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, admin);
	t_add_user(s, "bob", "secret pass", bob);
	const char *uuid = "5d0c8f3a-2b71-4e6a-9f14-7c3e1a2b9d60";
	const int64_t size = 40000;
	unsigned char *d1 = t_make_data(size, 36), *d2 = t_make_data(size, 37);
	unsigned char *d3 = t_make_data(size, 38), *d4 = t_make_data(size, 39);
	t_ws ws;

	/* the admin's upload in progress */
	new_project(s, admin, uuid, id);
	begin(s, admin, uuid, "admins-secret-name.mov", size, &ws);
	send_range(&ws, d1, 0, 5000, 32767);
	leave(&ws, LEAVE_1001);
	ru_open(s, admin, uuid, &ws);
	expect_resume(&ws, "admins-secret-name.mov", size, 5000);
	t_ws_close(&ws);
	ws_uuid_call(s, admin, "project_delete", cJSON_CreateString(uuid), uuid, NULL);
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "uuid", uuid);
	cJSON_AddStringToObject(p, "name", "bob's");
	expect_ws_error(s, bob, "project_save", p, "project not found");
	ws_uuid_call(s, admin, "project_trash_delete", cJSON_CreateString(uuid), uuid, NULL);
	expect_partial_empty(s);

	/* made again by the admin: fresh; another upload in progress */
	new_project(s, admin, uuid, id);
	begin(s, admin, uuid, "second-name.mov", size, &ws);
	send_range(&ws, d2, 0, 3000, 32767);
	leave(&ws, LEAVE_FIN);
	ru_open(s, admin, uuid, &ws);
	expect_resume(&ws, "second-name.mov", size, 3000);
	t_ws_close(&ws);
	purge_project(s, admin, uuid);
	expect_partial_empty(s);

	/* made by bob now that the uuid is free: fresh, and it completes */
	new_project(s, bob, uuid, id);
	begin(s, bob, uuid, "bobs.mov", size, &ws);
	send_range(&ws, d3, 0, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d3, size);
	ru_open(s, bob, uuid, &ws);
	expect_refused(&ws, 1008, COMPLETED);
	purge_project(s, bob, uuid);

	/* made again by the admin after a completed chain: fresh */
	new_project(s, admin, uuid, id);
	begin(s, admin, uuid, "fourth.mov", size, &ws);
	send_range(&ws, d4, 0, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d4, size);
	expect_partial_empty(s);
	free(d1);
	free(d2);
	free(d3);
	free(d4);
	t_passed(state);
}

/* ---- live streams ---- */

/* The next message on a watcher must be exactly these bytes, binary. */
static void expect_relayed(t_ws *w, const unsigned char *p, size_t n)
{
	msg m;
	char d[400];
	recv_msg(w, &m, T_TIMEOUT_MS);
	describe(&m, d, sizeof(d));
	bool same = m.op == 2 && m.len == n && !memcmp(m.data, p, n);
	free(m.data);
	if (!same)
		fail_msg("watcher: want the %zu relayed bytes as one binary message, got %s", n, d);
}

/* A stored upload is a content change: its watchers get the revision
 * event (docs/files-api.md), a text message, between the streams. */
static void expect_revision_event(t_ws *w, const char *id)
{
	msg m;
	char d[400];
	recv_msg(w, &m, T_TIMEOUT_MS);
	describe(&m, d, sizeof(d));
	cJSON *j = m.op == 1 ? cJSON_ParseWithLength((const char *)m.data, m.len) : NULL;
	bool ok = j && !strcmp(t_json_str(j, "operation"), "created") &&
		  !strcmp(t_json_str(j, "kind"), "Core#Revision") &&
		  !strcmp(t_json_str(j, "parent"), id);
	cJSON_Delete(j);
	free(m.data);
	if (!ok)
		fail_msg("watcher: want the revision's created event, got %s", d);
}

static void test_stream(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], token[T_TOKEN_MAX], id[ID_MAX], path[512];
	t_login_token(s, "admin", s->password, token);
	t_bearer_header(token, auth, sizeof(auth));
	new_project(s, auth, "p-live", id);
	int blobs0 = blob_count(s);
	t_ws w1, w2, u;
	snprintf(path, sizeof(path), "/files/%s?alt=media", id);
	ws_open(s, path, auth, &w1);
	snprintf(path, sizeof(path), "/file/%s?alt=media&token=%s", id, token);
	ws_open(s, path, NULL, &w2);

	/* unknown size, ended by the client's close 1000: nothing stored */
	static const size_t sizes[] = {1, 1000, 32767, 5000};
	const int64_t total = 1 + 1000 + 32767 + 5000;
	unsigned char *d = t_make_data(total, 18);
	ru_open_stream(s, auth, id, "FALSE", &u);
	expect_fresh(&u, BUF_DEFAULT);
	handshake(&u, "live", SIZE_NULL, 0);
	int64_t off = 0;
	for (size_t i = 0; i < 4; i++) {
		send_message(&u, off, d + off, sizes[i]);
		off += (int64_t)sizes[i];
	}
	off = 0;
	for (size_t i = 0; i < 4; i++) {
		expect_relayed(&w1, d + off, sizes[i]);
		expect_relayed(&w2, d + off, sizes[i]);
		off += (int64_t)sizes[i];
	}
	leave(&u, LEAVE_1000); /* would complete an upload of unknown size */
	assert_int_equal(blob_count(s), blobs0);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 0);

	/* the chain is untouched: an upload is fresh, and completes */
	const int64_t usize = 3000;
	unsigned char *up = t_make_data(usize, 19);
	begin(s, auth, id, "stored.bin", usize, &u);
	send_range(&u, up, 0, usize, 32767);
	expect_complete(&u, usize, UPLOAD_COMPLETE);
	expect_stored(s, up, usize);
	assert_int_equal(blob_count(s), blobs0 + 1);
	expect_revision_event(&w1, id);
	expect_revision_event(&w2, id);

	/* a completed chain does not stop a stream; a size ends it */
	ru_open_stream(s, auth, id, "0", &u);
	expect_fresh(&u, BUF_DEFAULT);
	handshake(&u, "live 2", 2000, 0);
	send_message(&u, 0, d, 1500);
	send_message(&u, 1500, d + 1500, 500);
	expect_complete(&u, 2000, NULL);
	expect_relayed(&w1, d, 1500);
	expect_relayed(&w1, d + 1500, 500);
	expect_relayed(&w2, d, 1500);
	expect_relayed(&w2, d + 1500, 500);
	assert_int_equal(blob_count(s), blobs0 + 1);
	assert_int_equal(t_blobs_holding(s, d, 2000), 0);
	expect_stored(s, up, usize);

	/* the same errors: offsets continuous from 0 */
	ru_open_stream(s, auth, id, "no", &u);
	expect_fresh(&u, BUF_DEFAULT);
	handshake(&u, "live 3", SIZE_NULL, 0);
	send_message(&u, 5, d, 100);
	expect_close(&u, 1008, "Transfer has to be continuous, server has 0B of data, not 5B");

	/* still completed for uploads */
	ru_open(s, auth, id, &u);
	expect_refused(&u, 1008, COMPLETED);
	t_ws_close(&w1);
	t_ws_close(&w2);
	free(d);
	free(up);
	t_passed(state);
}

/* A watcher of a node it may not read, or of none, and one without
 * ?alt=media. */
static void test_stream_watcher_refused(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX], id[ID_MAX], path[256];
	t_add_user(s, "ann", "secret pass", ann);
	t_add_user(s, "bob", "secret pass", bob);
	new_project(s, ann, "anns-live", id);
	t_ws w;
	snprintf(path, sizeof(path), "/files/%s?alt=media", id);
	ws_open(s, path, bob, &w);
	expect_refused(&w, 1008, "file not found");
	ws_open(s, "/files/00000000-0000-4000-8000-000000000000?alt=media", ann, &w);
	expect_refused(&w, 1008, "file not found");
	snprintf(path, sizeof(path), "/files/%s", id);
	ws_open(s, path, ann, &w);
	expect_refused(&w, 1008, "expected ?alt=media");
	t_passed(state);
}

/* ---- unknown size ---- */

/* TotalFileSize null: the client's Close 1000 completes the upload. */
static void test_unknown_size_close_completes(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-null", id);
	const int64_t size = 70000;
	unsigned char *d = t_make_data(size, 20);
	t_ws ws;
	begin(s, auth, id, "n.bin", SIZE_NULL, &ws);
	send_range(&ws, d, 0, size, 30000);
	leave(&ws, LEAVE_1000);
	expect_stored(s, d, size);
	ru_open(s, auth, id, &ws);
	expect_refused(&ws, 1008, COMPLETED);
	free(d);
	t_passed(state);
}

/* TotalFileSize null (then left out): a dropped connection or Close 1001
 * keeps it for resuming; Close 1000 completes it. */
static void test_unknown_size_resumes(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-null2", id);
	const int64_t size = 90000;
	unsigned char *d = t_make_data(size, 21);
	t_ws ws;
	ru_open(s, auth, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	handshake(&ws, "n2.bin", SIZE_ABSENT, 0);
	send_range(&ws, d, 0, 40000, 32767);
	leave(&ws, LEAVE_FIN);

	resume(s, auth, id, "n2.bin", SIZE_NULL, 40000, &ws);
	send_range(&ws, d, 40000, 60000, 32767);
	leave(&ws, LEAVE_1001);

	ru_open(s, auth, id, &ws);
	expect_resume(&ws, "n2.bin", SIZE_NULL, 60000);
	handshake(&ws, "n2.bin", SIZE_ABSENT, 60000);
	send_range(&ws, d, 60000, size, 32767);
	leave(&ws, LEAVE_1000);
	expect_stored(s, d, size);
	ru_open(s, auth, id, &ws);
	expect_refused(&ws, 1008, COMPLETED);
	free(d);
	t_passed(state);
}

/* ---- over 4 GiB ---- */

#define BIG_SIZE ((4ll << 30) + 3 * MIB + 12345)
#define BIG_FREE (10ull << 30)
#define PAT_LEN 1048573 /* a prime: the pattern does not line up with messages */

static unsigned char *g_pattern;

/* The big upload's bytes [off, off + n) into out. */
static void pat_fill(unsigned char *out, int64_t off, size_t n)
{
	size_t i = (size_t)(off % PAT_LEN);
	while (n) {
		size_t k = PAT_LEN - i < n ? PAT_LEN - i : n;
		memcpy(out, g_pattern + i, k);
		out += k;
		n -= k;
		i = 0;
	}
}

static void send_pattern(t_ws *ws, int64_t from, int64_t to)
{
	unsigned char *m = (unsigned char *)malloc(HEADER + BUF_DEFAULT);
	assert_non_null(m);
	for (int64_t off = from; off < to;) {
		size_t n = to - off < BUF_DEFAULT ? (size_t)(to - off) : BUF_DEFAULT;
		put_header(m, (uint64_t)off, (int)n);
		pat_fill(m + HEADER, off, n);
		send_binary(ws, m, HEADER + n);
		off += (int64_t)n;
	}
	free(m);
}

struct big_match {
	const t_server *s;
	int found;
};

static bool file_is_pattern(const char *path)
{
	struct stat st;
	if (stat(path, &st) || st.st_size != BIG_SIZE)
		return false;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	size_t cap = 4 * MIB;
	unsigned char *got = (unsigned char *)malloc(cap), *want = (unsigned char *)malloc(cap);
	assert_non_null(got);
	assert_non_null(want);
	int64_t off = 0;
	size_t n;
	bool same = true;
	while (same && (n = fread(got, 1, cap, fp)) > 0) {
		pat_fill(want, off, n);
		same = !memcmp(got, want, n);
		off += (int64_t)n;
	}
	fclose(fp);
	free(got);
	free(want);
	return same && off == BIG_SIZE;
}

static void match_big(const char *name, void *ctx)
{
	big_match *m = (big_match *)ctx;
	char path[T_PATH_MAX];
	t_data_path(m->s, "blobs", name, path);
	if (file_is_pattern(path))
		m->found++;
}

/* A declared size over 4 GiB (max_upload_size = 8G): resuming reports
 * it, and offsets past 4 GiB, exactly; with a plain build and the room,
 * the whole upload completes byte-identical. */
static void test_over_4gib(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 8G\n");
	char auth[T_AUTH_MAX], id[ID_MAX], why[T_PATH_MAX + 100];
	admin_auth(s, auth);
	new_project(s, auth, "p-big", id);
	g_pattern = t_make_data(PAT_LEN, 22);
	t_ws ws;
	begin(s, auth, id, "big.img", BIG_SIZE, &ws);
	int64_t off = 3 * MIB + 5;
	send_pattern(&ws, 0, off);
	leave(&ws, LEAVE_FIN);
	ru_open(s, auth, id, &ws);
	expect_resume(&ws, "big.img", BIG_SIZE, off); /* exact 64-bit numbers */

	const char *skip = t_big_upload_skip(s, BIG_FREE, why, sizeof(why));
	if (skip) {
		printf("test_over_4gib: the whole upload skipped (%s)\n", skip);
		fflush(stdout);
		t_ws_close(&ws);
		free(g_pattern);
		t_passed(state);
		return;
	}
	int64_t t0 = t_now_ms();
	handshake(&ws, "big.img", BIG_SIZE, off);
	int64_t past = (4ll << 30) + 65536 + 7;
	send_pattern(&ws, off, past);
	leave(&ws, LEAVE_FIN);
	resume(s, auth, id, "big.img", BIG_SIZE, past, &ws);
	send_pattern(&ws, past, BIG_SIZE);
	expect_complete(&ws, BIG_SIZE, UPLOAD_COMPLETE);
	printf("test_over_4gib: %lld bytes uploaded in %lld ms\n", (long long)BIG_SIZE,
	       (long long)(t_now_ms() - t0));
	fflush(stdout);
	big_match m = {s, 0};
	t_dir_entries(s, "blobs", match_big, &m);
	free(g_pattern);
	if (m.found != 1)
		fail_msg("%d content files hold the %lld bytes uploaded, want 1", m.found,
			 (long long)BIG_SIZE);
	expect_partial_empty(s);
	t_passed(state);
}

/* ---- heartbeats ---- */

/* heartbeat_s = 1: an upload that is open but idle hears at least two
 * heartbeats in 3 s (and not a flood), each with the bytes received and
 * floor(N * 10000 / size) / 100 percent. */
static void test_heartbeats(void **state)
{
	t_server *s = t_start(state, "heartbeat_s = 1\n");
	char auth[T_AUTH_MAX], id[ID_MAX];
	admin_auth(s, auth);
	new_project(s, auth, "p-beat", id);
	const int64_t size = 30000;
	unsigned char *d = t_make_data(size, 23);
	t_ws ws;
	begin(s, auth, id, "beat.bin", size, &ws);
	send_message(&ws, 0, d, 20000); /* 66.66 %, not rounded up */
	int64_t t0 = t_now_ms(), last = 0;
	int beats = 0;
	while (t_now_ms() - t0 < 3000) {
		int64_t left = 3000 - (t_now_ms() - t0);
		msg m;
		recv_msg(&ws, &m, left > 0 ? (int)left : 0);
		if (m.op == -1)
			break; /* the 3 s are over */
		char dsc[400];
		describe(&m, dsc, sizeof(dsc));
		heartbeat h;
		bool ok = m.op == 1 && parse_heartbeat(m.data, &h);
		free(m.data);
		if (!ok)
			fail_msg("want heartbeats, got %s", dsc);
		check_percentage(&h, size, dsc);
		/* a tick may come before the server has read the message */
		if ((h.offset != 0 && h.offset != 20000) || h.offset < last)
			fail_msg("heartbeat FileOffset %lld after %lld, want 20000 (or 0 before it)",
				 (long long)h.offset, (long long)last);
		last = h.offset;
		beats++;
	}
	if (beats < 2 || beats > 5 || last != 20000)
		fail_msg("%d heartbeats in 3 s with heartbeat_s = 1, the last at %lld; want 2 to 5, "
			 "the last at 20000", beats, (long long)last);
	send_range(&ws, d, 20000, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	free(d);
	t_passed(state);
}

/* ---- grants (spec 3's PATCH /files/<key>/users) ---- */

/* A reader of the project may not upload into it (1001, as for no access,
 * both for an upload and a stream) nor destroy its chain (403, the chain
 * kept); a writer may upload and destroy; a stranger is 404; a reader
 * watches a live stream. */
static void test_reader_and_writer(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX], cat[T_AUTH_MAX], dan[T_AUTH_MAX];
	char bob_id[T_ID_MAX], cat_id[T_ID_MAX], id[ID_MAX], path[256];
	t_add_user(s, "ann", "secret pass", ann);
	t_add_user(s, "bob", "secret pass", bob);
	t_add_user(s, "cat", "secret pass", cat);
	t_add_user(s, "dan", "secret pass", dan);
	t_user_id(s, bob, bob_id);
	t_user_id(s, cat, cat_id);
	new_project(s, ann, "shared-upload", id);
	t_file_grant(s, ann, id, bob_id, "reader");
	t_file_grant(s, ann, id, cat_id, "writer");

	/* a chain of ann's, interrupted */
	t_ws ws;
	begin(s, ann, id, "a.bin", 1000, &ws);
	leave(&ws, LEAVE_FIN);

	/* bob reads but may not write */
	ru_open(s, bob, id, &ws);
	expect_refused(&ws, 1001, NO_ACCESS);
	ru_open_stream(s, bob, id, "false", &ws);
	expect_refused(&ws, 1001, NO_ACCESS);
	expect_delete_error(s, bob, id, 403, "you may not change this file");
	t_http_response r;
	delete_chain(s, bob, "/file", id, &r);
	t_assert_error(&r, 403, "you may not change this file");
	expect_delete_error(s, dan, id, 404, "file not found");
	/* the chain is as it was: the writer resumes it */
	ru_open(s, cat, id, &ws);
	expect_resume(&ws, "a.bin", 1000, 0);
	t_ws_close(&ws);

	/* bob watches cat's live stream */
	t_ws w;
	snprintf(path, sizeof(path), "/files/%s?alt=media", id);
	ws_open(s, path, bob, &w);
	unsigned char *d = t_make_data(300, 41);
	ru_open_stream(s, cat, id, "false", &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	handshake(&ws, "live", 300, 0);
	send_message(&ws, 0, d, 300);
	expect_complete(&ws, 300, NULL);
	expect_relayed(&w, d, 300);
	t_ws_close(&w);

	/* the writer may destroy the chain; then bob still may not upload */
	destroy_chain(s, cat, id);
	expect_delete_error(s, ann, id, 404, "no upload for this file");
	ru_open(s, bob, id, &ws);
	expect_refused(&ws, 1001, NO_ACCESS);
	/* bob made writer: his upload is fresh */
	t_file_grant(s, ann, id, bob_id, "writer");
	ru_open(s, bob, id, &ws);
	expect_fresh(&ws, BUF_DEFAULT);
	t_ws_close(&ws);
	free(d);
	t_passed(state);
}

/* A spec 3 node made over REST (not a project) takes a resumable upload,
 * and the upload completing is a revision the media socket announces. */
static void test_rest_node_upload(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], key[T_ID_MAX], path[256];
	t_add_user(s, "ann", "secret pass", ann);
	t_file_create(s, ann, "{\"name\":\"via-rest.bin\"}", key);
	t_ws w, ws;
	snprintf(path, sizeof(path), "/files/%s?alt=media", key);
	ws_open(s, path, ann, &w);
	const int64_t size = 5000;
	unsigned char *d = t_make_data(size, 42);
	begin(s, ann, key, "via-rest.bin", size, &ws);
	send_range(&ws, d, 0, size, 32767);
	expect_complete(&ws, size, UPLOAD_COMPLETE);
	expect_stored(s, d, size);
	/* the revision event: created, kind Core#Revision, parent the key */
	msg m;
	recv_msg(&w, &m, T_TIMEOUT_MS);
	cJSON *e = m.op == 1 ? cJSON_Parse(m.data) : NULL;
	const char *op = t_json_str(e, "operation"), *kind = t_json_str(e, "kind");
	const char *parent = t_json_str(e, "parent");
	bool ok = op && !strcmp(op, "created") && kind && !strcmp(kind, "Core#Revision") && parent &&
		  !strcmp(parent, key);
	char desc[400];
	describe(&m, desc, sizeof(desc));
	free(m.data);
	cJSON_Delete(e);
	if (!ok)
		fail_msg("the media socket after the upload: want a created Core#Revision event of %s, "
			 "got %s", key, desc);
	t_ws_close(&w);
	/* and GET ?alt=media answers the bytes */
	t_http_response r;
	snprintf(path, sizeof(path), "/files/%s?alt=media", key);
	if (t_http(s->http_port, "GET", path, ann, NULL, 0, &r))
		fail_msg("GET %s: no answer", path);
	bool same = r.status == 200 && r.body_len == (size_t)size && !memcmp(r.body, d, size);
	int status = r.status;
	t_http_free(&r);
	if (!same)
		fail_msg("GET %s: %d, want 200 with the %lld bytes uploaded", path, status,
			 (long long)size);
	free(d);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_full_upload),
		T_TEST(test_empty_upload),
		T_TEST(test_resume_after_disconnect),
		T_TEST(test_resume_after_kill),
		T_TEST(test_shutdown_checkpoints),
		T_TEST(test_reference_client),
		T_TEST(test_filename_cut),
		T_TEST(test_no_id),
		T_TEST(test_no_access),
		T_TEST(test_needs_session),
		T_TEST(test_restart_and_restore_refused),
		T_TEST(test_restore_timed_out),
		T_TEST(test_bad_answer_and_too_large),
		T_TEST(test_quota_exceeded),
		T_TEST(test_not_enough_disk),
		T_TEST(test_idle_timeout),
		T_TEST(test_message_over_buffer),
		T_TEST(test_message_over_small_buffer),
		T_TEST(test_not_continuous),
		T_TEST(test_bad_data_size),
		T_TEST(test_reconnected),
		T_TEST(test_takeover_mid_message),
		T_TEST(test_takeover_mid_frame),
		T_TEST(test_write_to_completed),
		T_TEST(test_delete_errors),
		T_TEST(test_long_id),
		T_TEST(test_delete_mid_message),
		T_TEST(test_id_reuse_after_purge),
		T_TEST(test_stream),
		T_TEST(test_stream_watcher_refused),
		T_TEST(test_unknown_size_close_completes),
		T_TEST(test_unknown_size_resumes),
		T_TEST(test_heartbeats),
		T_TEST(test_over_4gib),
		T_TEST(test_reader_and_writer),
		T_TEST(test_rest_node_upload),
	};
	return cmocka_run_group_tests_name("resumable", tests, NULL, NULL);
}
