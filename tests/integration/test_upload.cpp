/* test_upload.cpp: the /upload WebSocket (protocol 1's MD5-checked
 * upload) against the real cubbyd ($CUBBYD, else build/cubbyd), to the
 * letter of docs/projects-files.md, section "/upload": uploads of every
 * size and message shape land byte-identical in <data>/blobs with the
 * right name, size, MD5 and type (checked through /ws file_list and
 * file_load_meta); replace by uuid; "name (2).ext"; every error of the
 * page's table that a client can provoke, with its exact message and
 * fatal flag, the close after a fatal one and nothing left in
 * <data>/partial; quota and size limits; disconnects; parallel uploads;
 * shutdown; and, with room on the disk, a 5 GiB upload. Every test starts
 * its own server; a failing test prints the server's log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "support/support.h"

#define POLL_MS 5000   /* how long the server may take to drop a partial file */

#define MD5_EMPTY "d41d8cd98f00b204e9800998ecf8427e"
#define UNSUPPORTED \
	"unsupported message: expected {\"action\":\"upload\"} or {\"action\":\"finished\"}"
#define NEEDS_VALUE "upload needs a value with a name and a size"
#define BAD_NAME "invalid file name"
#define NOT_FOUND "file not found"
#define ALREADY "upload already started"
#define NOT_STARTED "no upload started"
#define BAD_MD5 "finished needs the MD5 of the file as 32 hex digits"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* Message sizes that send_chunks() cycles through; 0 ends a list. */
static const size_t SIZES_64K[] = {64 * KIB, 0};
static const size_t SIZES_ODD[] = {1, 125, 126, 127, 3, 65535, 65536, 65537, 99991, 7, 0};
static const size_t SIZES_4K[] = {4 * KIB, 0};
static const size_t SIZES_256K[] = {256 * KIB, 0};
/* A window for send_chunks(): every message sent before any ack is read. */
#define ALL_AT_ONCE (1 << 30)

/* ---- data and digests ---- */

static void hex_of(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * n] = 0;
}

/* Lowercase hex MD5 of p into out (33 bytes). */
static void md5_hex(const void *p, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	if (!EVP_Digest(p, n, d, &dn, EVP_md5(), NULL))
		fail_msg("EVP_Digest failed");
	hex_of(d, dn, out);
}

/* ---- accounts ---- */

/* Logs user in; the bearer header of that session into auth (T_AUTH_MAX
 * bytes). */
static void login_auth(const t_server *s, const char *user, const char *pass, char *auth)
{
	char token[T_TOKEN_MAX];
	t_login_token(s, user, pass, token);
	t_bearer_header(token, auth, T_AUTH_MAX);
}

static void admin_auth(const t_server *s, char *auth)
{
	login_auth(s, "admin", s->password, auth);
}

/* Creates user (with the admin's credentials) and logs it in: its bearer
 * header into auth. */
static void add_user(const t_server *s, const char *user, char *auth)
{
	t_add_user(s, user, "secret pass", auth);
}

/* ---- WebSocket messages ---- */

static void ws_open(const t_server *s, const char *path, const char *auth, t_ws *ws)
{
	if (t_ws_connect(ws, s->http_port, path, auth))
		fail_msg("upgrade to %s: answered %d, want 101", path, ws->status);
}

static void up_open(const t_server *s, const char *auth, t_ws *ws)
{
	ws_open(s, "/upload", auth, ws);
}

static void send_text_n(t_ws *ws, const char *p, size_t n)
{
	if (t_ws_send(ws, 1, p, n, true))
		fail_msg("sending a text message of %zu bytes failed", n);
}

static void send_text(t_ws *ws, const char *text)
{
	send_text_n(ws, text, strlen(text));
}

static void send_data(t_ws *ws, const void *p, size_t n)
{
	if (t_ws_send(ws, 2, p, n, true))
		fail_msg("sending a binary message of %zu bytes failed", n);
}

/* {"action":action[,"value":value]}; takes value (may be NULL). */
static void send_action(t_ws *ws, const char *action, cJSON *value)
{
	if (t_ws_send_action(ws, action, value))
		fail_msg("sending {\"action\":\"%s\"} failed", action);
}

/* The upload request for name and size (a JSON number, or a string of
 * digits when as_string), replacing file uuid when not NULL. */
static void send_upload(t_ws *ws, const char *name, uint64_t size, bool as_string,
			const char *uuid)
{
	char digits[32];
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)size);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "name", name);
	cJSON_AddItemToObject(v, "size", as_string ? cJSON_CreateString(digits) : cJSON_CreateRaw(digits));
	if (uuid)
		cJSON_AddStringToObject(v, "uuid", uuid);
	send_action(ws, "upload", v);
}

static void send_finished(t_ws *ws, const char *md5)
{
	send_action(ws, "finished", cJSON_CreateString(md5));
}

static const char *op_name(int op)
{
	return op == 0 ? "the end of the connection" : op == -1 ? "nothing (timeout or error)"
	     : op == 2 ? "a binary message" : op == 8 ? "a close frame" : "an unknown message";
}

/* The next message must be a text message holding a JSON object: its
 * parse (caller deletes). */
static cJSON *recv_json(t_ws *ws, const char *waiting_for)
{
	char *data;
	size_t len;
	int code = 0;
	int op = t_ws_recv(ws, &data, &len, &code, T_TIMEOUT_MS);
	if (op != 1) {
		fprintf(stderr, "got %s (close code %d, data \"%.200s\")\n", op_name(op), code,
			data ? data : "");
		free(data);
		fail_msg("waiting for %s: got %s", waiting_for, op_name(op));
	}
	cJSON *j = cJSON_Parse(data);
	if (!cJSON_IsObject(j)) {
		fprintf(stderr, "got text: %.300s\n", data);
		free(data);
		cJSON_Delete(j);
		fail_msg("waiting for %s: not a JSON object", waiting_for);
	}
	free(data);
	return j;
}

/* The next message must be exactly the JSON object want (no other
 * members). */
static void expect_json(t_ws *ws, const cJSON *want)
{
	char *w = cJSON_PrintUnformatted(want);
	cJSON *got = recv_json(ws, w);
	bool same = cJSON_Compare(got, want, true);
	if (!same) {
		char *g = cJSON_PrintUnformatted(got);
		fprintf(stderr, "want %s\n got %s\n", w, g);
		cJSON_free(g);
	}
	cJSON_Delete(got);
	cJSON_free(w);
	if (!same)
		fail_msg("the server's answer differs (above)");
}

static void expect_text(t_ws *ws, const char *want_json)
{
	cJSON *want = cJSON_Parse(want_json);
	assert_non_null(want);
	expect_json(ws, want);
	cJSON_Delete(want);
}

static void expect_ready(t_ws *ws)
{
	expect_text(ws, "{\"ready\":true}");
}

/* {"error":message,"fatal":fatal} */
static void expect_error(t_ws *ws, const char *message, bool fatal)
{
	cJSON *want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "error", message);
	cJSON_AddBoolToObject(want, "fatal", fatal);
	expect_json(ws, want);
	cJSON_Delete(want);
}

/* The next message must be a close frame with code, and the server must
 * then end the connection. Frees ws. */
static void expect_close(t_ws *ws, int code)
{
	char *data;
	size_t len;
	int got = 0;
	int op = t_ws_recv(ws, &data, &len, &got, T_TIMEOUT_MS);
	if (op == 1 || op == 2)
		fprintf(stderr, "got message: %.300s\n", op == 1 ? data : "(binary)");
	free(data);
	if (op != 8) {
		t_ws_close(ws);
		fail_msg("want a close frame with code %d, got %s", code, op_name(op));
	}
	int closed = t_wait_closed(ws->fd, T_TIMEOUT_MS);
	t_ws_close(ws);
	if (got != code)
		fail_msg("close code %d, want %d", got, code);
	if (!closed)
		fail_msg("the server did not end the connection after its close frame");
}

/* ---- the upload steps ---- */

/* Sends the upload request; {"ready":true} expected. */
static void begin(t_ws *ws, const char *name, uint64_t size)
{
	send_upload(ws, name, size, false, NULL);
	expect_ready(ws);
}

/* Sends data in binary messages whose sizes cycle through sizes, with
 * at most window of them unacknowledged; all acknowledged at the end. */
static void send_chunks(t_ws *ws, const unsigned char *data, size_t len, const size_t *sizes,
			int window)
{
	int in_flight = 0;
	size_t i = 0;
	for (size_t off = 0; off < len; i = sizes[i + 1] ? i + 1 : 0) {
		size_t n = len - off < sizes[i] ? len - off : sizes[i];
		send_data(ws, data + off, n);
		off += n;
		if (++in_flight >= window) {
			expect_ready(ws);
			in_flight--;
		}
	}
	for (; in_flight > 0; in_flight--)
		expect_ready(ws);
}

/* finished with md5: {"close":true}, then close 1000. Frees ws. */
static void finish_ok(t_ws *ws, const char *md5)
{
	send_finished(ws, md5);
	expect_text(ws, "{\"close\":true}");
	expect_close(ws, 1000);
}

/* A fatal error: the message with "fatal":true, then close (code) and
 * the end of the connection. Frees ws. */
static void expect_fatal(t_ws *ws, const char *message, int code)
{
	expect_error(ws, message, true);
	expect_close(ws, code);
}

/* A whole upload of data as name on a new connection. */
static void upload(const t_server *s, const char *auth, const char *name, const unsigned char *data,
		   size_t len, const size_t *sizes, int window)
{
	t_ws ws;
	char md5[33];
	md5_hex(data, len, md5);
	up_open(s, auth, &ws);
	begin(&ws, name, len);
	send_chunks(&ws, data, len, sizes, window);
	finish_ok(&ws, md5);
}

/* ---- /ws: what an upload produced ---- */

static bool is_broadcast(const char *type)
{
	static const char *const b[] = {"users", "list_update", "project_update", "file_update"};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!strcmp(type, b[i]))
			return true;
	return false;
}

/* The next /ws message of type `type`, other broadcasts skipped; its
 * "value" (caller deletes). */
static cJSON *ws_answer(t_ws *ws, const char *type)
{
	for (;;) {
		cJSON *j = recv_json(ws, type);
		const char *t = t_json_str(j, "type");
		if (t && strcmp(t, type) && is_broadcast(t)) {
			cJSON_Delete(j);
			continue;
		}
		if (!t || strcmp(t, type)) {
			char *text = cJSON_PrintUnformatted(j);
			fprintf(stderr, "/ws answered %s\n", text);
			cJSON_free(text);
			cJSON_Delete(j);
			fail_msg("/ws: want an answer of type %s", type);
		}
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(j, "value");
		cJSON_Delete(j);
		if (!v)
			fail_msg("/ws: %s answer without a value", type);
		return v;
	}
}

/* One /ws request on its own connection; the answer's value. */
static cJSON *ws_call(const t_server *s, const char *auth, const char *action, cJSON *value,
		      const char *type)
{
	t_ws ws;
	ws_open(s, "/ws", auth, &ws);
	send_action(&ws, action, value);
	cJSON *v = ws_answer(&ws, type);
	t_ws_close(&ws);
	return v;
}

/* file_list's value: an array of {"<uuid>":{...}}. */
static cJSON *list_files(const t_server *s, const char *auth)
{
	cJSON *v = ws_call(s, auth, "file_list", NULL, "file_list");
	if (!cJSON_IsArray(v)) {
		cJSON_Delete(v);
		fail_msg("file_list: value is not an array");
	}
	return v;
}

static int file_count(const t_server *s, const char *auth)
{
	cJSON *list = list_files(s, auth);
	int n = cJSON_GetArraySize(list);
	cJSON_Delete(list);
	return n;
}

struct file_meta {
	char uuid[64];
	char name[300];
	char type[128];
	char md5[40];
	double size;
};

static void meta_from(const char *uuid, const cJSON *o, file_meta *m)
{
	const char *name = t_json_str(o, "name"), *type = t_json_str(o, "type");
	const char *md5 = t_json_str(o, "md5");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
	if (!uuid || !name || !type || !md5 || !cJSON_IsNumber(size))
		fail_msg("file %s: want strings name, type, md5 and a number size", uuid ? uuid : "?");
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->type, sizeof(m->type), "%s", type);
	snprintf(m->md5, sizeof(m->md5), "%s", md5);
	m->size = size->valuedouble;
}

/* The listed file called name into m; false when there is none. */
static bool find_listed(const cJSON *list, const char *name, file_meta *m)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, list) {
		const cJSON *f = item->child;
		if (!cJSON_IsObject(item) || !f || f->next || !cJSON_IsObject(f))
			fail_msg("file_list: an entry is not {\"<uuid>\":{...}}");
		const char *n = t_json_str(f, "name");
		if (n && !strcmp(n, name)) {
			meta_from(f->string, f, m);
			return true;
		}
	}
	return false;
}

static void load_meta(const t_server *s, const char *auth, const char *uuid, file_meta *m)
{
	cJSON *v = ws_call(s, auth, "file_load_meta", cJSON_CreateString(uuid), "file_load_meta");
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		fail_msg("file_load_meta: value is not an object");
	}
	meta_from(t_json_str(v, "uuid"), v, m);
	cJSON_Delete(v);
}

static void check_meta(const file_meta *m, const char *name, const char *type, uint64_t size,
		       const char *md5)
{
	assert_string_equal(m->name, name);
	assert_string_equal(m->type, type);
	assert_string_equal(m->md5, md5);
	if (m->size != (double)size)
		fail_msg("%s: size %.0f, want %llu", name, m->size, (unsigned long long)size);
}

/* file_list shows name with type, size and md5, and file_load_meta of
 * its uuid says the same; the uuid into uuid (64 bytes, may be NULL). */
static void check_listed(const t_server *s, const char *auth, const char *name, const char *type,
			 uint64_t size, const char *md5, char *uuid)
{
	file_meta listed, loaded;
	cJSON *list = list_files(s, auth);
	bool found = find_listed(list, name, &listed);
	cJSON_Delete(list);
	if (!found)
		fail_msg("file_list has no file named \"%s\"", name);
	check_meta(&listed, name, type, size, md5);
	load_meta(s, auth, listed.uuid, &loaded);
	assert_string_equal(loaded.uuid, listed.uuid);
	check_meta(&loaded, name, type, size, md5);
	if (uuid)
		snprintf(uuid, 64, "%s", listed.uuid);
}

static void check_file(const t_server *s, const char *auth, const char *name, const char *type,
		       const unsigned char *data, size_t len, char *uuid)
{
	char md5[33];
	md5_hex(data, len, md5);
	check_listed(s, auth, name, type, len, md5, uuid);
}

/* ---- the data directory ---- */

/* t_dir_entries() visitor: the entry's name into ctx (256 bytes). */
static void copy_name(const char *name, void *ctx)
{
	snprintf((char *)ctx, 256, "%s", name);
}

/* The only content file is data, byte for byte. */
static void check_only_blob(const t_server *s, const unsigned char *data, size_t len)
{
	assert_int_equal(t_dir_entries(s, "blobs", NULL, NULL), 1);
	if (t_blobs_holding(s, data, len) != 1)
		fail_msg("the content file differs from the %zu bytes uploaded", len);
}

/* partial/ must become empty within POLL_MS (the server handles a close
 * in its own time). */
static void wait_partial_empty(const t_server *s)
{
	int n = t_wait_entries(s, "partial", 0, POLL_MS);
	if (n)
		fail_msg("%d partial upload(s) left in partial/ after %d ms", n, POLL_MS);
}

/* Nothing of an upload that did not complete: no file listed, no
 * content, no partial file. */
static void check_nothing_left(const t_server *s, const char *auth)
{
	wait_partial_empty(s);
	assert_int_equal(file_count(s, auth), 0);
	assert_int_equal(t_dir_entries(s, "blobs", NULL, NULL), 0);
}

/* ---- uploads that complete ---- */

static void test_empty_file(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "empty.txt", 0);
	finish_ok(&ws, MD5_EMPTY);
	check_listed(s, auth, "empty.txt", "text/plain", 0, MD5_EMPTY, NULL);
	check_only_blob(s, (const unsigned char *)"", 0);
	wait_partial_empty(s);
	t_passed(state);
}

/* One byte as photo.png: image/png by its name alone; a /ws client that
 * is connected meanwhile hears list_update file_list. */
static void test_one_byte(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	t_ws watcher;
	ws_open(s, "/ws", auth, &watcher);
	cJSON_Delete(ws_answer(&watcher, "users")); /* it is listening */
	const unsigned char b[1] = {'x'};
	upload(s, auth, "photo.png", b, 1, SIZES_64K, 1);
	cJSON *v = ws_answer(&watcher, "list_update");
	t_ws_close(&watcher);
	bool file_list = cJSON_IsString(v) && !strcmp(v->valuestring, "file_list");
	cJSON_Delete(v);
	if (!file_list)
		fail_msg("want {\"type\":\"list_update\",\"value\":\"file_list\"} after the upload");
	check_file(s, auth, "photo.png", "image/png", b, 1, NULL);
	check_only_blob(s, b, 1);
	wait_partial_empty(s);
	t_passed(state);
}

/* 5 MiB in 64 KiB messages, each acknowledged before the next. */
static void test_five_mib(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	size_t len = 5 * MIB;
	unsigned char *data = t_make_data(len, 5);
	upload(s, auth, "big.bin", data, len, SIZES_64K, 1);
	check_file(s, auth, "big.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	wait_partial_empty(s);
	free(data);
	t_passed(state);
}

/* Messages of odd sizes (1 byte up to past 64 KiB), all sent before any
 * acknowledgement is read: one {"ready":true} per message. */
static void test_odd_messages_pipelined(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	size_t len = 1 * MIB + 12345;
	unsigned char *data = t_make_data(len, 7);
	upload(s, auth, "odd.dat", data, len, SIZES_ODD, ALL_AT_ONCE);
	check_file(s, auth, "odd.dat", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* One binary message sent in three frames is one message: one
 * acknowledgement; an empty binary message is a message too. */
static void test_fragmented_message(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	size_t len = 3000;
	unsigned char *data = t_make_data(len, 8);
	char md5[33];
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "frag.bin", len);
	send_data(&ws, data, 0);
	expect_ready(&ws);
	if (t_ws_send(&ws, 2, data, 1000, false) || t_ws_send(&ws, 0, data + 1000, 1000, false) ||
	    t_ws_send(&ws, 0, data + 2000, 1000, true))
		fail_msg("sending the fragments failed");
	expect_ready(&ws);
	finish_ok(&ws, md5);
	check_file(s, auth, "frag.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* "size" as a string of digits works as the number does. */
static void test_size_as_string(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33];
	admin_auth(s, auth);
	size_t len = 10000;
	unsigned char *data = t_make_data(len, 9);
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	send_upload(&ws, "string size.txt", len, true, NULL);
	expect_ready(&ws);
	send_chunks(&ws, data, len, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "string size.txt", "text/plain", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* "uuid" replaces that file's content: same uuid, new size and md5. */
static void test_replace_by_uuid(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], uuid[64], uuid2[64], md5_a[33], md5_b[33];
	admin_auth(s, auth);
	size_t la = 3000, lb = 5000;
	unsigned char *a = t_make_data(la, 10), *b = t_make_data(lb, 11);
	md5_hex(a, la, md5_a);
	md5_hex(b, lb, md5_b);
	upload(s, auth, "doc.txt", a, la, SIZES_4K, 1);
	check_file(s, auth, "doc.txt", "text/plain", a, la, uuid);

	t_ws ws;
	up_open(s, auth, &ws);
	send_upload(&ws, "doc.txt", lb, false, uuid);
	expect_ready(&ws);
	send_chunks(&ws, b, lb, SIZES_4K, 1);
	finish_ok(&ws, md5_b);

	check_file(s, auth, "doc.txt", "text/plain", b, lb, uuid2);
	assert_string_equal(uuid2, uuid);
	assert_string_not_equal(md5_a, md5_b);
	assert_int_equal(file_count(s, auth), 1);
	assert_int_equal(t_blobs_holding(s, b, lb), 1);
	wait_partial_empty(s);
	free(a);
	free(b);
	t_passed(state);
}

/* A taken name gets "name (2).ext", then "name (3).ext". */
static void test_same_name_numbered(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	static const char *const names[] = {"photo.png", "photo (2).png", "photo (3).png"};
	unsigned char *data[3];
	for (int i = 0; i < 3; i++) {
		data[i] = t_make_data(100 + (size_t)i, 20 + (uint32_t)i);
		upload(s, auth, "photo.png", data[i], 100 + (size_t)i, SIZES_4K, 1);
	}
	for (int i = 0; i < 3; i++) {
		check_file(s, auth, names[i], "image/png", data[i], 100 + (size_t)i, NULL);
		assert_int_equal(t_blobs_holding(s, data[i], 100 + (size_t)i), 1);
		free(data[i]);
	}
	assert_int_equal(file_count(s, auth), 3);
	t_passed(state);
}

/* ---- the non-fatal errors: the upload goes on ---- */

/* Anything but upload or finished, before and during an upload. */
static void test_unsupported_messages(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33];
	admin_auth(s, auth);
	static const char *const bad[] = {
		"not json", "[1,2]", "\"upload\"", "42", "{}", "{\"action\":5}",
		"{\"action\":null,\"value\":{\"name\":\"a.txt\",\"size\":1}}", "{\"action\":\"list\"}",
		"{\"action\":\"UPLOAD\",\"value\":{\"name\":\"a.txt\",\"size\":1}}",
		"{\"value\":{\"name\":\"a.txt\",\"size\":1}}",
	};
	size_t nbad = sizeof(bad) / sizeof(bad[0]);
	size_t len = 2000;
	unsigned char *data = t_make_data(len, 30);
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	for (size_t i = 0; i < nbad; i++) {
		send_text(&ws, bad[i]);
		expect_error(&ws, UNSUPPORTED, false);
	}
	begin(&ws, "after.bin", len);
	send_chunks(&ws, data, 1000, SIZES_4K, 1);
	for (size_t i = 0; i < nbad; i++) {
		send_text(&ws, bad[i]);
		expect_error(&ws, UNSUPPORTED, false);
	}
	send_chunks(&ws, data + 1000, len - 1000, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "after.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* upload without a value holding a name string and a size. */
static void test_upload_needs_name_and_size(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	static const char *const bad[] = {
		"{\"action\":\"upload\"}",
		"{\"action\":\"upload\",\"value\":null}",
		"{\"action\":\"upload\",\"value\":\"a.txt\"}",
		"{\"action\":\"upload\",\"value\":[\"a.txt\",1]}",
		"{\"action\":\"upload\",\"value\":{}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\"}}",
		"{\"action\":\"upload\",\"value\":{\"size\":1}}",
		"{\"action\":\"upload\",\"value\":{\"name\":5,\"size\":1}}",
		"{\"action\":\"upload\",\"value\":{\"name\":null,\"size\":1}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\",\"size\":null}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\",\"size\":true}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\",\"size\":\"12x\"}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\",\"size\":\"\"}}",
		"{\"action\":\"upload\",\"value\":{\"name\":\"a.txt\",\"size\":-1}}",
	};
	t_ws ws;
	up_open(s, auth, &ws);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_text(&ws, bad[i]);
		expect_error(&ws, NEEDS_VALUE, false);
	}
	const unsigned char b[3] = {1, 2, 3};
	char md5[33];
	md5_hex(b, 3, md5);
	begin(&ws, "a.txt", 3);
	send_chunks(&ws, b, 3, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "a.txt", "text/plain", b, 3, NULL);
	assert_int_equal(file_count(s, auth), 1);
	t_passed(state);
}

static void test_invalid_file_name(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], long_name[300];
	admin_auth(s, auth);
	memset(long_name, 'n', 256);
	long_name[256] = 0;
	const char *const bad[] = {"", ".", "..", "a/b.txt", "/abs.txt", "ctl\001.txt", long_name};
	t_ws ws;
	up_open(s, auth, &ws);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_upload(&ws, bad[i], 3, false, NULL);
		expect_error(&ws, BAD_NAME, false);
	}
	const unsigned char b[3] = {4, 5, 6};
	char md5[33];
	md5_hex(b, 3, md5);
	long_name[255] = 0; /* 255 bytes is a name */
	begin(&ws, long_name, 3);
	send_chunks(&ws, b, 3, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, long_name, "application/octet-stream", b, 3, NULL);
	assert_int_equal(file_count(s, auth), 1);
	t_passed(state);
}

/* A uuid that is no file this user may see: unknown, a project, another
 * user's file. */
static void test_uuid_not_found(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX], bobs_file[64];
	add_user(s, "ann", ann);
	add_user(s, "bob", bob);
	const unsigned char b[4] = {'b', 'o', 'b', '!'};
	upload(s, bob, "bob.txt", b, 4, SIZES_4K, 1);
	check_file(s, bob, "bob.txt", "text/plain", b, 4, bobs_file);

	cJSON *project = cJSON_CreateObject();
	cJSON_AddStringToObject(project, "uuid", "ann-project-1");
	cJSON_AddStringToObject(project, "name", "a project");
	cJSON *saved = ws_call(s, ann, "project_save", project, "project_save");
	bool saved_ok = cJSON_IsString(saved) && !strcmp(saved->valuestring, "ann-project-1");
	cJSON_Delete(saved);
	assert_true(saved_ok);

	const char *const uuids[] = {"00000000-0000-4000-8000-000000000000", "ann-project-1",
				     bobs_file};
	t_ws ws;
	up_open(s, ann, &ws);
	for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
		send_upload(&ws, "x.txt", 4, false, uuids[i]);
		expect_error(&ws, NOT_FOUND, false);
	}
	const unsigned char a[4] = {'a', 'n', 'n', '!'};
	char md5[33];
	md5_hex(a, 4, md5);
	begin(&ws, "x.txt", 4);
	send_chunks(&ws, a, 4, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, ann, "x.txt", "text/plain", a, 4, NULL);
	assert_int_equal(file_count(s, ann), 1);
	/* bob's file is as it was */
	check_file(s, bob, "bob.txt", "text/plain", b, 4, NULL);
	assert_int_equal(t_blobs_holding(s, b, 4), 1);
	t_passed(state);
}

/* A second upload request while one runs is refused; the first goes on. */
static void test_upload_already_started(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33];
	admin_auth(s, auth);
	size_t len = 10;
	unsigned char *data = t_make_data(len, 40);
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "first.bin", len);
	send_upload(&ws, "first.bin", len, false, NULL);
	expect_error(&ws, ALREADY, false);
	send_chunks(&ws, data, 4, SIZES_4K, 1);
	send_upload(&ws, "second.bin", 99, false, NULL);
	expect_error(&ws, ALREADY, false);
	send_chunks(&ws, data + 4, len - 4, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "first.bin", "application/octet-stream", data, len, NULL);
	assert_int_equal(file_count(s, auth), 1);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* Data or finished before upload. */
static void test_no_upload_started(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33];
	admin_auth(s, auth);
	const unsigned char b[5] = {'h', 'e', 'l', 'l', 'o'};
	md5_hex(b, 5, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	send_data(&ws, b, 5);
	expect_error(&ws, NOT_STARTED, false);
	send_finished(&ws, md5);
	expect_error(&ws, NOT_STARTED, false);
	send_finished(&ws, MD5_EMPTY);
	expect_error(&ws, NOT_STARTED, false);
	begin(&ws, "hello.txt", 5);
	send_chunks(&ws, b, 5, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "hello.txt", "text/plain", b, 5, NULL);
	check_only_blob(s, b, 5);
	t_passed(state);
}

/* finished without 32 hex digits; uppercase hex digits are digits too. */
static void test_finished_bad_md5(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33], upper[33], hex31[32], hex33[34], nonhex[33];
	admin_auth(s, auth);
	size_t len = 100;
	unsigned char *data = t_make_data(len, 50);
	md5_hex(data, len, md5);
	for (int i = 0; i < 33; i++)
		upper[i] = (char)(md5[i] >= 'a' && md5[i] <= 'f' ? md5[i] - 'a' + 'A' : md5[i]);
	snprintf(hex31, sizeof(hex31), "%.31s", md5);
	snprintf(hex33, sizeof(hex33), "%s0", md5);
	snprintf(nonhex, sizeof(nonhex), "%.31sg", md5);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "sum.bin", len);
	send_chunks(&ws, data, len, SIZES_4K, 1);
	const char *const bad[] = {"", "abc", hex31, hex33, nonhex};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_finished(&ws, bad[i]);
		expect_error(&ws, BAD_MD5, false);
	}
	static const char *const bad_json[] = {
		"{\"action\":\"finished\"}",
		"{\"action\":\"finished\",\"value\":null}",
		"{\"action\":\"finished\",\"value\":12345678901234567890123456789012}",
		"{\"action\":\"finished\",\"value\":{\"md5\":\"" MD5_EMPTY "\"}}",
	};
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		send_text(&ws, bad_json[i]);
		expect_error(&ws, BAD_MD5, false);
	}
	finish_ok(&ws, upper);
	check_file(s, auth, "sum.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* finished before the declared size arrived: received of size; then
 * the rest completes it. */
static void test_finished_incomplete(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], md5[33];
	admin_auth(s, auth);
	size_t len = 100;
	unsigned char *data = t_make_data(len, 60);
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "part.bin", len);
	send_finished(&ws, md5);
	expect_error(&ws, "incomplete: 0 of 100 bytes received", false);
	send_chunks(&ws, data, 30, SIZES_4K, 1);
	send_finished(&ws, md5);
	expect_error(&ws, "incomplete: 30 of 100 bytes received", false);
	send_chunks(&ws, data + 30, 69, SIZES_4K, 1);
	send_finished(&ws, md5);
	expect_error(&ws, "incomplete: 99 of 100 bytes received", false);
	send_chunks(&ws, data + 99, 1, SIZES_4K, 1);
	finish_ok(&ws, md5);
	check_file(s, auth, "part.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* text padded with blanks before its last '}' to exactly n bytes;
 * malloc'd. */
static char *padded(const char *text, size_t n)
{
	size_t tl = strlen(text);
	assert_true(tl <= n);
	char *p = (char *)malloc(n + 1);
	assert_non_null(p);
	memcpy(p, text, tl - 1);
	memset(p + tl - 1, ' ', n - tl);
	p[n - 1] = '}';
	p[n] = 0;
	return p;
}

/* max_message_size = 4K: a 4097-byte text message is refused (before and
 * during the upload), one of 4096 bytes is read; binary messages are
 * data, not limited by it. */
static void test_message_too_large(void **state)
{
	t_server *s = t_start(state, "max_message_size = 4K\n");
	char auth[T_AUTH_MAX], md5[33], text[200];
	admin_auth(s, auth);
	size_t len = 200 * KIB;
	unsigned char *data = t_make_data(len, 70);
	md5_hex(data, len, md5);
	t_ws ws;
	up_open(s, auth, &ws);
	char *big = padded("{\"action\":\"upload\",\"value\":{\"name\":\"m.bin\",\"size\":204800}}", 4097);
	send_text(&ws, big);
	free(big);
	expect_error(&ws, "message larger than 4096 bytes", false);
	begin(&ws, "m.bin", len);
	send_chunks(&ws, data, len / 2, SIZES_64K, 1);
	snprintf(text, sizeof(text), "{\"action\":\"finished\",\"value\":\"%s\"}", md5);
	big = padded(text, 4097);
	send_text(&ws, big);
	free(big);
	expect_error(&ws, "message larger than 4096 bytes", false);
	send_chunks(&ws, data + len / 2, len - len / 2, SIZES_64K, 1);
	big = padded(text, 4096);
	send_text(&ws, big);
	free(big);
	expect_text(&ws, "{\"close\":true}");
	expect_close(&ws, 1000);
	check_file(s, auth, "m.bin", "application/octet-stream", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* ---- the fatal errors: closed, nothing left ---- */

/* max_upload_size = 1M: a declared 1M + 1 (number or string) is refused
 * at once; 1M itself is uploaded. */
static void test_file_too_large(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 1M\n");
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	for (int as_string = 0; as_string < 2; as_string++) {
		t_ws ws;
		up_open(s, auth, &ws);
		send_upload(&ws, "huge.bin", MIB + 1, as_string, NULL);
		expect_fatal(&ws, "file too large: the limit is 1048576 bytes", 1000);
		check_nothing_left(s, auth);
	}
	/* sizes past 64 bits, or past what a double holds exactly */
	const char *huge[] = {"\"99999999999999999999\"", "1e300", "18446744073709551616"};
	for (const char *size : huge) {
		t_ws ws;
		char msg[256];
		up_open(s, auth, &ws);
		snprintf(msg, sizeof(msg),
			 "{\"action\":\"upload\",\"value\":{\"name\":\"h.bin\",\"size\":%s}}", size);
		assert_int_equal(t_ws_send_text(&ws, msg), 0);
		expect_fatal(&ws, "file too large: the limit is 1048576 bytes", 1000);
	}
	check_nothing_left(s, auth);
	unsigned char *data = t_make_data(MIB, 80);
	upload(s, auth, "huge.bin", data, MIB, SIZES_256K, 2);
	check_file(s, auth, "huge.bin", "application/octet-stream", data, MIB, NULL);
	check_only_blob(s, data, MIB);
	free(data);
	t_passed(state);
}

/* More bytes than declared, within one message or past a boundary. */
static void test_size_overrun(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	unsigned char *data = t_make_data(12, 90);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "over.bin", 10);
	send_chunks(&ws, data, 6, SIZES_4K, 1);
	send_data(&ws, data + 6, 6);
	expect_fatal(&ws, "size overrun: more than 10 bytes", 1000);
	check_nothing_left(s, auth);

	up_open(s, auth, &ws);
	begin(&ws, "over.bin", 0);
	send_data(&ws, data, 1);
	expect_fatal(&ws, "size overrun: more than 0 bytes", 1000);
	check_nothing_left(s, auth);

	up_open(s, auth, &ws);
	begin(&ws, "over.bin", 10);
	send_data(&ws, data, 11);
	expect_fatal(&ws, "size overrun: more than 10 bytes", 1000);
	check_nothing_left(s, auth);
	free(data);
	t_passed(state);
}

/* A wrong MD5 discards the upload; a new connection starts over and
 * gets the name (nothing of the first holds it). */
static void test_md5_mismatch(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	size_t len = 1000;
	unsigned char *data = t_make_data(len, 100);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "sum.txt", len);
	send_chunks(&ws, data, len, SIZES_4K, 1);
	send_finished(&ws, MD5_EMPTY);
	expect_fatal(&ws, "md5 mismatch", 1000);
	check_nothing_left(s, auth);
	upload(s, auth, "sum.txt", data, len, SIZES_4K, 1);
	check_file(s, auth, "sum.txt", "text/plain", data, len, NULL);
	check_only_blob(s, data, len);
	free(data);
	t_passed(state);
}

/* A declared size that does not fit the user's quota is refused at once. */
static void expect_quota_refused(const t_server *s, const char *auth, uint64_t size)
{
	t_ws ws;
	up_open(s, auth, &ws);
	send_upload(&ws, "q.bin", size, false, NULL);
	expect_fatal(&ws, "quota exceeded", 1000);
	wait_partial_empty(s);
}

/* quota = 64K: 64K + 1 refused; 40K stored, then 30K refused, 24K fills
 * it exactly, then even 1 byte is refused. */
static void test_quota(void **state)
{
	t_server *s = t_start(state, "quota = 64K\n");
	char auth[T_AUTH_MAX];
	add_user(s, "ann", auth);
	expect_quota_refused(s, auth, 64 * KIB + 1);
	check_nothing_left(s, auth);
	unsigned char *a = t_make_data(40 * KIB, 110), *b = t_make_data(24 * KIB, 111);
	upload(s, auth, "a.bin", a, 40 * KIB, SIZES_4K, 4);
	expect_quota_refused(s, auth, 30 * KIB);
	upload(s, auth, "b.bin", b, 24 * KIB, SIZES_4K, 4);
	expect_quota_refused(s, auth, 1);
	check_file(s, auth, "a.bin", "application/octet-stream", a, 40 * KIB, NULL);
	check_file(s, auth, "b.bin", "application/octet-stream", b, 24 * KIB, NULL);
	assert_int_equal(file_count(s, auth), 2);
	assert_int_equal(t_dir_entries(s, "blobs", NULL, NULL), 2);
	free(a);
	free(b);
	t_passed(state);
}

/* ---- disconnects, parallel uploads, shutdown ---- */

enum disconnect_how { DROP_TCP, CLOSE_FRAME };

/* An upload of 1 MiB left after `sent` bytes: partial/ holds it until
 * the connection goes, then nothing is left. */
static void disconnect_mid_upload(const t_server *s, const char *auth, const unsigned char *data,
				  size_t sent, disconnect_how how)
{
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "gone.bin", MIB);
	send_chunks(&ws, data, sent, SIZES_64K, 1);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 1);
	if (how == DROP_TCP) {
		close(ws.fd);
		ws.fd = -1;
	}
	t_ws_close(&ws); /* a close frame 1000 when the socket is still there */
	check_nothing_left(s, auth);
}

static void test_disconnect_mid_upload(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	unsigned char *data = t_make_data(MIB, 120);
	disconnect_mid_upload(s, auth, data, 300 * KIB, DROP_TCP);
	disconnect_mid_upload(s, auth, data, 300 * KIB, CLOSE_FRAME);
	disconnect_mid_upload(s, auth, data, 0, DROP_TCP);
	disconnect_mid_upload(s, auth, data, MIB, CLOSE_FRAME); /* all bytes, no finished */
	/* the name is free again */
	upload(s, auth, "gone.bin", data, MIB, SIZES_64K, 4);
	check_file(s, auth, "gone.bin", "application/octet-stream", data, MIB, NULL);
	check_only_blob(s, data, MIB);
	free(data);
	t_passed(state);
}

/* cubbyd killed (SIGKILL) mid-upload: the restarted server drops the
 * upload at startup, file and record, and the name is free. */
static void test_kill_mid_upload(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	unsigned char *data = t_make_data(MIB, 121);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "killed.bin", MIB);
	send_chunks(&ws, data, 300 * KIB, SIZES_64K, 1);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 1);
	t_server_kill(s);
	t_ws_close(&ws);
	t_restart(state);
	admin_auth(s, auth);
	check_nothing_left(s, auth);
	upload(s, auth, "killed.bin", data, MIB, SIZES_64K, 4);
	check_file(s, auth, "killed.bin", "application/octet-stream", data, MIB, NULL);
	free(data);
	t_passed(state);
}

#define PARALLEL 20

struct slot {
	t_ws ws;
	const char *auth;
	char name[32];
	unsigned char *data;
	size_t len, off, chunk;
};

static void parallel_start(const t_server *s, slot *u, int i, const char *auth)
{
	u->auth = auth;
	snprintf(u->name, sizeof(u->name), "par-%02d.bin", i);
	u->len = 60 * KIB + (size_t)i * 4099;
	u->chunk = 5 * KIB + (size_t)i * 313;
	u->off = 0;
	u->data = t_make_data(u->len, 200 + (uint32_t)i);
	up_open(s, auth, &u->ws);
	send_upload(&u->ws, u->name, u->len, i % 2, NULL);
}

/* One round: a message to every upload that has bytes left, then their
 * acknowledgements; false when none had any left. */
static bool parallel_round(slot *u)
{
	bool any = false;
	size_t sent[PARALLEL];
	for (int i = 0; i < PARALLEL; i++) {
		size_t left = u[i].len - u[i].off;
		sent[i] = left < u[i].chunk ? left : u[i].chunk;
		if (sent[i])
			send_data(&u[i].ws, u[i].data + u[i].off, sent[i]);
		u[i].off += sent[i];
		any = any || sent[i];
	}
	for (int i = 0; i < PARALLEL; i++)
		if (sent[i])
			expect_ready(&u[i].ws);
	return any;
}

/* 20 uploads of two users at once, all connections open together, their
 * data interleaved message by message. */
static void test_parallel_uploads(void **state)
{
	t_server *s = t_start(state, NULL);
	char ann[T_AUTH_MAX], bob[T_AUTH_MAX];
	add_user(s, "ann", ann);
	add_user(s, "bob", bob);
	slot *u = (slot *)calloc(PARALLEL, sizeof(slot));
	assert_non_null(u);
	for (int i = 0; i < PARALLEL; i++)
		parallel_start(s, &u[i], i, i < PARALLEL / 2 ? ann : bob);
	for (int i = 0; i < PARALLEL; i++)
		expect_ready(&u[i].ws);
	while (parallel_round(u))
		;
	for (int i = 0; i < PARALLEL; i++) {
		char md5[33];
		md5_hex(u[i].data, u[i].len, md5);
		send_finished(&u[i].ws, md5);
	}
	for (int i = 0; i < PARALLEL; i++) {
		expect_text(&u[i].ws, "{\"close\":true}");
		expect_close(&u[i].ws, 1000);
	}
	assert_int_equal(file_count(s, ann), PARALLEL / 2);
	assert_int_equal(file_count(s, bob), PARALLEL / 2);
	assert_int_equal(t_dir_entries(s, "blobs", NULL, NULL), PARALLEL);
	for (int i = 0; i < PARALLEL; i++) {
		check_file(s, u[i].auth, u[i].name, "application/octet-stream", u[i].data, u[i].len,
			   NULL);
		if (t_blobs_holding(s, u[i].data, u[i].len) != 1)
			fail_msg("%s: no content file holds its bytes", u[i].name);
		free(u[i].data);
	}
	free(u);
	wait_partial_empty(s);
	t_passed(state);
}

/* SIGTERM during an upload: "server shutting down" (fatal), close 1001,
 * the server exits 0 and nothing of the upload is left. */
static void test_server_shutting_down(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX];
	admin_auth(s, auth);
	unsigned char *data = t_make_data(64 * KIB, 130);
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "stop.bin", MIB);
	send_chunks(&ws, data, 64 * KIB, SIZES_64K, 1);
	free(data);
	kill(s->pid, SIGTERM);
	expect_fatal(&ws, "server shutting down", 1001);
	int rc = t_server_stop(s); /* reaps it: t_passed() has no server to stop */
	if (rc)
		fail_msg("cubbyd ended with %d after SIGTERM, want exit status 0", rc);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 0);
	t_passed(state);
}

/* ---- 5 GiB ---- */

#define HUGE_SIZE (5ull << 30)
#define HUGE_FREE (12ull << 30)
#define HUGE_MSG MIB
#define HUGE_WINDOW 4

/* HUGE_SIZE zero bytes in HUGE_MSG messages, HUGE_WINDOW of them in
 * flight; their MD5 into md5. */
static void send_zeros(t_ws *ws, char *md5)
{
	unsigned char *zeros = (unsigned char *)calloc(1, HUGE_MSG);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	assert_non_null(zeros);
	assert_non_null(c);
	assert_true(EVP_DigestInit_ex(c, EVP_md5(), NULL));
	int in_flight = 0;
	for (uint64_t off = 0; off < HUGE_SIZE; off += HUGE_MSG) {
		assert_true(EVP_DigestUpdate(c, zeros, HUGE_MSG));
		send_data(ws, zeros, HUGE_MSG);
		if (++in_flight >= HUGE_WINDOW) {
			expect_ready(ws);
			in_flight--;
		}
	}
	for (; in_flight > 0; in_flight--)
		expect_ready(ws);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	assert_true(EVP_DigestFinal_ex(c, d, &dn));
	hex_of(d, dn, md5);
	EVP_MD_CTX_free(c);
	free(zeros);
}

/* max_upload_size is 4G by default: the 5 GiB upload needs more. */
static void test_five_gib(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 8G\n");
	char why[T_PATH_MAX + 100];
	const char *skip = t_big_upload_skip(s, HUGE_FREE, why, sizeof(why));
	if (skip) {
		printf("test_five_gib: skipped (%s)\n", skip);
		fflush(stdout);
		t_passed(state);
		return;
	}
	char auth[T_AUTH_MAX], md5[33], path[T_PATH_MAX];
	admin_auth(s, auth);
	int64_t t0 = t_now_ms();
	t_ws ws;
	up_open(s, auth, &ws);
	begin(&ws, "zeros.img", HUGE_SIZE);
	send_zeros(&ws, md5);
	finish_ok(&ws, md5);
	printf("test_five_gib: 5 GiB uploaded in %lld ms\n", (long long)(t_now_ms() - t0));
	fflush(stdout);
	check_listed(s, auth, "zeros.img", "application/octet-stream", HUGE_SIZE, md5, NULL);
	assert_int_equal(t_dir_entries(s, "blobs", NULL, NULL), 1);
	char blob[256];
	t_dir_entries(s, "blobs", copy_name, blob);
	t_data_path(s, "blobs", blob, path);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size == HUGE_SIZE);
	wait_partial_empty(s);
	t_passed(state);
}

/* ---- sessions ---- */

/* The upgrade needs a session: 401 without one or with a bad token;
 * Bearer, Basic and ?token= are sessions. */
static void test_needs_session(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[T_AUTH_MAX], basic[T_AUTH_MAX], token[T_TOKEN_MAX], path[T_TOKEN_MAX + 32];
	t_login_token(s, "admin", s->password, token);
	t_bearer_header(token, auth, sizeof(auth));
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/upload", NULL), -1);
	assert_int_equal(ws.status, 401);
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/upload",
				      "Authorization: Bearer nope\r\n"), -1);
	assert_int_equal(ws.status, 401);
	up_open(s, auth, &ws);
	t_ws_close(&ws);
	up_open(s, t_basic_header("admin", s->password, basic, sizeof(basic)), &ws);
	t_ws_close(&ws);
	snprintf(path, sizeof(path), "/upload?token=%s", token);
	ws_open(s, path, NULL, &ws);
	begin(&ws, "t.txt", 0);
	finish_ok(&ws, MD5_EMPTY);
	check_listed(s, auth, "t.txt", "text/plain", 0, MD5_EMPTY, NULL);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_empty_file),
		T_TEST(test_one_byte),
		T_TEST(test_five_mib),
		T_TEST(test_odd_messages_pipelined),
		T_TEST(test_fragmented_message),
		T_TEST(test_size_as_string),
		T_TEST(test_replace_by_uuid),
		T_TEST(test_same_name_numbered),
		T_TEST(test_unsupported_messages),
		T_TEST(test_upload_needs_name_and_size),
		T_TEST(test_invalid_file_name),
		T_TEST(test_uuid_not_found),
		T_TEST(test_upload_already_started),
		T_TEST(test_no_upload_started),
		T_TEST(test_finished_bad_md5),
		T_TEST(test_finished_incomplete),
		T_TEST(test_message_too_large),
		T_TEST(test_file_too_large),
		T_TEST(test_size_overrun),
		T_TEST(test_md5_mismatch),
		T_TEST(test_quota),
		T_TEST(test_disconnect_mid_upload),
		T_TEST(test_kill_mid_upload),
		T_TEST(test_parallel_uploads),
		T_TEST(test_server_shutting_down),
		T_TEST(test_needs_session),
		T_TEST(test_five_gib),
	};
	return cmocka_run_group_tests_name("upload", tests, NULL, NULL);
}
