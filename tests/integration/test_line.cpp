/* test_line.cpp: the line protocol (protocol 4, raw TCP on line_port)
 * against the real cubbyd ($CUBBYD, else build/cubbyd), written from
 * docs/line-protocol.md: the document's whole session, answer by answer
 * with every field; each error of the page's tables with its exact
 * `error` and whether the connection closes; framing (a line in many
 * writes, many lines in one write, "\r\n", empty lines, the line limit);
 * put/get round trips byte for byte (empty, one chunk, chunk boundaries,
 * 5 MiB, folders), names JSON must escape, fields of the wrong type, a
 * put onto a taken name making a revision, a get keeping its snapshot;
 * a put seen on spec 3's /files and spec 1's /ws; pipelined requests
 * whose answers are not read for a while; login limits shared with
 * POST /api/login; signup; idle timeout; TLS. Every test
 * starts its own server.
 *
 * Not provoked here: the putdata refusals for quota, disk or I/O while
 * writing (the put checks quota and space up front), a getdata disk
 * failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "support/support.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define CHUNK (48u * KIB) /* line_chunk by default */
#define QUIET_MS 200      /* how long "nothing more arrives" is watched */
#define POLL_MS 5000      /* how long the server may take to finish a close */
#define PASS "secret pass"

/* The answers the document gives whole. */
#define VERSION_LINE "{\"version\":\"0.2\"}\n"
#define VERSION_OK "{\"version\":\"0.2\",\"accept\":true}"
#define VERSION_REFUSED "{\"version\":\"0.2\",\"accept\":false}"
#define LOGIN_OK "{\"accept\":true,\"error\":\"\"}"
#define STATUS "{\"command\":\"status\"}\n"
#define STATUS_OK "{\"command\":\"status\",\"response\":\"ok\"}"
#define CLOSE "{\"command\":\"close\"}\n"
#define BYE "{\"command\":\"close\",\"response\":\"bye\"}"

/* The errors the document gives whole. */
#define NOT_OBJECT "expected a JSON object"
#define LOGIN_SHAPE "expected {\"login\":bool,\"user\":string,\"pass\":string,\"cancel\":bool}"
#define COMMAND_SHAPE "expected {\"command\":string,...}"
#define WRONG_LOGIN "wrong user name or password"
#define TOO_MANY "too many failed logins, try again later"
#define NO_SIGNUP "signup is disabled"
#define TAKEN "user name is taken"
#define BY_CLIENT "cancelled by the client"
#define NO_LIST "no list in progress: send list first"
#define NO_FILE_NAME "expected a file name"
#define BAD_SIZE "invalid size"
#define BAD_BASE64 "bad base64"
#define NAME_RULE "name not allowed: "

/* Member values of a wanted answer that match more than one value. */
#define ANY_STRING "\x01s"  /* any string */
#define ANY_ARRAY "\x01" "a" /* any array */
#define PREFIX "\x01p"      /* "\x01p<prefix>": a string starting with <prefix> */

/* ---- JSON ---- */

/* Whether text has no white space outside its strings. */
static bool minimised(const char *text)
{
	bool in_string = false;
	for (const char *p = text; *p; p++) {
		if (in_string) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			return false;
		}
	}
	return true;
}

/* Whether got matches want member by member (the wildcards above). */
static bool matches(const cJSON *got, const cJSON *want)
{
	if (!cJSON_IsObject(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
		return false;
	for (const cJSON *w = want->child; w; w = w->next) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
		if (!g)
			return false;
		const char *ws = cJSON_IsString(w) ? w->valuestring : NULL;
		if (ws && !strcmp(ws, ANY_STRING)) {
			if (!cJSON_IsString(g))
				return false;
		} else if (ws && !strcmp(ws, ANY_ARRAY)) {
			if (!cJSON_IsArray(g))
				return false;
		} else if (ws && !strncmp(ws, PREFIX, 2)) {
			if (!cJSON_IsString(g) || strncmp(g->valuestring, ws + 2, strlen(ws + 2)) ||
			    strlen(g->valuestring) == strlen(ws + 2))
				return false;
		} else if (!cJSON_Compare(g, w, true)) {
			return false;
		}
	}
	return true;
}

/* ---- answers as the document writes them ---- */

static cJSON *login_answer(bool accept, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "accept", accept);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

/* The error that ends a logged-in connection (and the answer to a line
 * without a command). */
static cJSON *session_error(const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "accept", false);
	cJSON_AddBoolToObject(j, "cancel", true);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *unknown_answer(const char *command)
{
	char error[300];
	snprintf(error, sizeof(error), "unknown command: %s", command);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", command);
	cJSON_AddBoolToObject(j, "accept", false);
	cJSON_AddBoolToObject(j, "cancel", true);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *list_answer(bool accept, int items, int chunks, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "list");
	cJSON_AddBoolToObject(j, "accept", accept);
	cJSON_AddNumberToObject(j, "items", items);
	cJSON_AddNumberToObject(j, "chunks", chunks);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

/* names: taken (NULL: any array). */
static cJSON *listdata_answer(int remaining, bool cancel, cJSON *names, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "listdata");
	cJSON_AddNumberToObject(j, "remaining", remaining);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	if (names)
		cJSON_AddItemToObject(j, "names", names);
	else
		cJSON_AddStringToObject(j, "names", ANY_ARRAY);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *put_answer(const char *file, bool accept, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "put");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddBoolToObject(j, "accept", accept);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *putdata_answer(const char *file, double recieved, bool cancel, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "putdata");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddNumberToObject(j, "recieved", recieved);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *get_answer(const char *file, bool accept, double chunks, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "get");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddBoolToObject(j, "accept", accept);
	cJSON_AddNumberToObject(j, "chunks", chunks);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

static cJSON *getdata_answer(const char *file, const char *data, double remaining, bool cancel,
			     const char *error)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "getdata");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddStringToObject(j, "data", data);
	cJSON_AddNumberToObject(j, "remaining", remaining);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	cJSON_AddStringToObject(j, "error", error);
	return j;
}

/* ---- the connection ---- */

/* What the test is checking, printed when a check fails. */
static char context[600];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

/* Waits until line_port takes connections: t_start() waits for the HTTP
 * port only, and the line port's vhost (TLS and all) may come a moment
 * later. */
static void wait_line_port(const t_server *s)
{
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	int fd;
	while ((fd = t_connect(s->line_port)) < 0 && t_now_ms() < deadline)
		t_sleep_ms(20);
	if (fd < 0)
		fail_msg("line_port %d takes no connection", s->line_port);
	close(fd);
}

/* t_start() with no context left from an earlier test, once the line
 * port is up. */
static t_server *start(void **state, const char *extra_conf)
{
	context[0] = 0;
	t_server *s = t_start(state, extra_conf);
	wait_line_port(s);
	return s;
}

/* The number member key of j; -1 when there is none. */
static double num(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void print_context(void)
{
	if (context[0])
		fprintf(stderr, "while checking: %s\n", context);
}

static void line_open(const t_server *s, t_line *l)
{
	if (t_line_connect(l, s->line_port))
		fail_msg("no connection to line_port %d", s->line_port);
}

static void send_text(t_line *l, const char *text)
{
	if (t_line_send(l, text))
		fail_msg("sending %.300s failed", text);
}

/* Sends the printf-formatted line and its '\n'. */
static void say(t_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(t_line *l, const char *fmt, ...)
{
	char *text;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (t_line_send_n(l, text, (size_t)n) || t_line_send_n(l, "\n", 1)) {
		free(text);
		fail_msg("sending a line failed");
	}
	free(text);
}

/* Sends j (deleted) as one line. */
static void send_json(t_line *l, cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	say(l, "%s", text);
	cJSON_free(text);
}

/* The next line (caller frees); fails on EOF or timeout. */
static char *next_line(t_line *l, const char *waiting_for)
{
	char *line;
	int r = t_line_recv_alloc(l, &line, T_TIMEOUT_MS);
	if (r != 1)
		print_context();
	if (r != 1)
		fail_msg("want %.300s, got %s", waiting_for, r == 0 ? "the end of the connection"
							     : "nothing (timeout or error)");
	return line;
}

/* The next line, exactly want (the document's minimised object). */
static void expect_text(t_line *l, const char *want)
{
	char *line = next_line(l, want);
	if (strcmp(line, want)) {
		print_context();
		fprintf(stderr, "got  %.1500s\nwant %s\n", line, want);
		free(line);
		fail_msg("not the answer wanted: %s", want);
	}
	free(line);
}

/* The next line: minimised JSON (caller deletes). */
static cJSON *next_json(t_line *l, const char *waiting_for)
{
	char *line = next_line(l, waiting_for);
	cJSON *j = cJSON_Parse(line);
	if (!j || !minimised(line)) {
		print_context();
		fprintf(stderr, "got %.1500s\n", line);
		free(line);
		fail_msg("want %.300s: the answer is not minimised JSON", waiting_for);
	}
	free(line);
	return j;
}

/* Fails with j printed: it is not what `what` should be. */
static void fail_not(const cJSON *j, const char *what)
{
	char *t = cJSON_PrintUnformatted(j);
	fprintf(stderr, "got %.1500s\n", t);
	cJSON_free(t);
	fail_msg("%s: not as the documents say", what);
}

static void fail_json(const cJSON *got, const cJSON *want)
{
	char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
	print_context();
	fprintf(stderr, "got  %.1500s\nwant %.1500s\n", g, w);
	fail_msg("not the answer wanted: %.300s", w);
}

/* The next line matches want (deleted); the answer (caller deletes). */
static cJSON *expect_json(t_line *l, cJSON *want)
{
	char *w = cJSON_PrintUnformatted(want);
	cJSON *got = next_json(l, w);
	cJSON_free(w);
	if (!matches(got, want))
		fail_json(got, want);
	cJSON_Delete(want);
	return got;
}

static void expect(t_line *l, cJSON *want)
{
	cJSON_Delete(expect_json(l, want));
}

/* The next line is want, printed whole as the document writes it
 * (member order included). */
static void expect_exact(t_line *l, cJSON *want)
{
	char *w = cJSON_PrintUnformatted(want);
	cJSON_Delete(want);
	expect_text(l, w);
	cJSON_free(w);
}

/* The server ends the connection with no (further) answer. */
static void expect_eof(t_line *l)
{
	char *line;
	int r = t_line_recv_alloc(l, &line, T_TIMEOUT_MS);
	if (r != 0)
		print_context();
	if (r == 1) {
		fprintf(stderr, "got %.1500s\n", line);
		free(line);
		fail_msg("want the end of the connection, got a line");
	}
	if (r < 0)
		fail_msg("want the end of the connection, it stays open");
}

/* Nothing arrives for QUIET_MS. */
static void expect_quiet(t_line *l)
{
	char *line;
	int r = t_line_recv_alloc(l, &line, QUIET_MS);
	if (r >= 0)
		print_context();
	if (r == 1) {
		fprintf(stderr, "got %.1500s\n", line);
		free(line);
		fail_msg("want nothing, got a line");
	}
	if (r == 0)
		fail_msg("want nothing, the connection ended");
}

/* The connection is open and logged in: status is answered. */
static void expect_open(t_line *l)
{
	send_text(l, STATUS);
	expect_text(l, STATUS_OK);
}

static void send_login(t_line *l, bool login, const char *user, const char *pass, bool cancel)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "login", login);
	cJSON_AddStringToObject(j, "user", user);
	cJSON_AddStringToObject(j, "pass", pass);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	send_json(l, j);
}

/* Connected, version accepted. */
static void open_versioned(const t_server *s, t_line *l)
{
	line_open(s, l);
	send_text(l, VERSION_LINE);
	expect_text(l, VERSION_OK);
}

/* Connected and logged in as user. */
static void open_session(const t_server *s, t_line *l, const char *user, const char *pass)
{
	open_versioned(s, l);
	send_login(l, true, user, pass, false);
	expect_text(l, LOGIN_OK);
}

/* The admin's session. */
static void admin_session(const t_server *s, t_line *l)
{
	open_session(s, l, "admin", s->password);
}

/* An admin's connection whose line after login is `line`: answered with
 * the logged-in error `error`, then the connection ends. */
static void expect_fatal_line(const t_server *s, const char *line, const char *error)
{
	t_line l;
	admin_session(s, &l);
	send_text(&l, line);
	note("the line %.300s", line);
	expect_exact(&l, session_error(error));
	expect_eof(&l);
	t_line_close(&l);
}

/* ---- data ---- */

static char *b64(const void *p, size_t n)
{
	size_t sz = (n + 2) / 3 * 4 + 1;
	char *out = (char *)malloc(sz);
	assert_non_null(out);
	assert_true(t_base64(p, n, out, sz) >= 0);
	return out;
}

static void md5_hex(const void *p, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	if (!EVP_Digest(p, n, d, &dn, EVP_md5(), NULL))
		fail_msg("EVP_Digest failed");
	for (unsigned i = 0; i < dn; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * dn] = 0;
}

static double chunks_of(size_t size, size_t chunk)
{
	return (double)((size + chunk - 1) / chunk);
}

/* ---- put, get, list ---- */

static void send_put(t_line *l, const char *file, double size, double chunks)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "put");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddNumberToObject(j, "size", size);
	cJSON_AddNumberToObject(j, "chunks", chunks);
	send_json(l, j);
}

/* The putdata line of n bytes (its data base64'd), without sending it
 * (caller frees). */
static char *putdata_line(const char *file, const void *p, size_t n, double remaining, bool cancel)
{
	char *data = b64(p, n);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "putdata");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddStringToObject(j, "data", data);
	cJSON_AddNumberToObject(j, "remaining", remaining);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	free(data);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	size_t len = strlen(text);
	char *out = (char *)malloc(len + 2);
	assert_non_null(out);
	memcpy(out, text, len);
	memcpy(out + len, "\n", 2);
	cJSON_free(text);
	return out;
}

static void send_putdata(t_line *l, const char *file, const void *p, size_t n, double remaining,
			 bool cancel)
{
	char *text = putdata_line(file, p, n, remaining, cancel);
	if (t_line_send(l, text)) {
		free(text);
		fail_msg("sending putdata failed");
	}
	free(text);
}

/* The put of the document: accepted, then each chunk of at most chunk
 * bytes acknowledged with the bytes received so far. */
static void put_file(t_line *l, const char *file, const unsigned char *p, size_t n, size_t chunk)
{
	double chunks = chunks_of(n, chunk);
	note("put \"%s\" of %zu bytes", file, n);
	send_put(l, file, (double)n, chunks);
	expect_exact(l, put_answer(file, true, ""));
	size_t off = 0;
	for (double left = chunks - 1; left >= 0; left--) {
		size_t k = n - off < chunk ? n - off : chunk;
		send_putdata(l, file, p + off, k, left, false);
		off += k;
		expect(l, putdata_answer(file, (double)off, false, ""));
	}
}

static void send_get(t_line *l, const char *file)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "get");
	cJSON_AddStringToObject(j, "file", file);
	send_json(l, j);
}

static void send_getdata(t_line *l, const char *file, double chunk, bool cancel)
{
	note("getdata \"%s\" chunk %g%s", file, chunk, cancel ? " cancel" : "");
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", "getdata");
	cJSON_AddStringToObject(j, "file", file);
	cJSON_AddNumberToObject(j, "chunk", chunk);
	cJSON_AddBoolToObject(j, "cancel", cancel);
	send_json(l, j);
}

/* The next answer must be the getdata of file with `remaining`; its
 * decoded bytes appended to out at *off (out holds cap bytes). */
static void expect_getdata(t_line *l, const char *file, double remaining, size_t chunk,
			   unsigned char *out, size_t cap, size_t *off)
{
	cJSON *j = expect_json(l, getdata_answer(file, ANY_STRING, remaining, false, ""));
	const char *data = t_json_str(j, "data");
	long n = t_unbase64(data, strlen(data), out + *off, cap - *off);
	if (n < 0 || (size_t)n > chunk) {
		cJSON_Delete(j);
		fail_msg("getdata of %s, remaining %g: data is not the base64 of at most %zu bytes "
			 "(%zu arrived before)", file, remaining, chunk, *off);
	}
	*off += (size_t)n;
	cJSON_Delete(j);
}

/* get then every getdata in order: the file must be exactly want. */
static void expect_file(t_line *l, const char *file, const unsigned char *want, size_t n,
			size_t chunk)
{
	double chunks = chunks_of(n, chunk);
	note("get \"%s\" of %zu bytes", file, n);
	send_get(l, file);
	expect(l, get_answer(file, true, chunks, ""));
	unsigned char *got = (unsigned char *)malloc(n + 1);
	assert_non_null(got);
	size_t off = 0;
	for (double k = 0; k < chunks; k++) {
		send_getdata(l, file, k, false);
		expect_getdata(l, file, chunks - 1 - k, chunk, got, n, &off);
	}
	bool same = off == n && !memcmp(got, want, n);
	free(got);
	if (!same)
		fail_msg("get %s: %zu bytes that are not the %zu put", file, off, n);
}

static void send_listdata(t_line *l, double chunk, bool cancel)
{
	note("listdata chunk %g%s", chunk, cancel ? " cancel" : "");
	say(l, "{\"command\":\"listdata\",\"chunk\":%g,\"cancel\":%s}", chunk,
	    cancel ? "true" : "false");
}

/* list then every listdata: the names must be want[0..n-1] in that
 * order, 100 a chunk. */
static void expect_list(t_line *l, const char *const *want, int n)
{
	int chunks = (n + 99) / 100;
	send_text(l, "{\"command\":\"list\"}\n");
	expect(l, list_answer(true, n, chunks, ""));
	for (int k = 0; k < chunks; k++) {
		send_listdata(l, k, false);
		cJSON *names = cJSON_CreateStringArray(want + 100 * k, n - 100 * k < 100 ? n - 100 * k : 100);
		expect(l, listdata_answer(chunks - 1 - k, false, names, ""));
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* list then every listdata: the names must be want[0..n-1] in any order
 * (for the tests about what is stored; test_list_many checks the order). */
static void expect_list_set(t_line *l, const char *const *want, int n)
{
	int chunks = (n + 99) / 100;
	send_text(l, "{\"command\":\"list\"}\n");
	expect(l, list_answer(true, n, chunks, ""));
	cJSON *all = cJSON_CreateArray();
	for (int k = 0; k < chunks; k++) {
		send_listdata(l, k, false);
		cJSON *a = expect_json(l, listdata_answer(chunks - 1 - k, false, NULL, ""));
		cJSON *name;
		cJSON_ArrayForEach(name, cJSON_GetObjectItem(a, "names"))
			cJSON_AddItemToArray(all, cJSON_Duplicate(name, true));
		cJSON_Delete(a);
	}
	int got_n = cJSON_GetArraySize(all);
	const char **got = (const char **)calloc((size_t)got_n + 1, sizeof(char *));
	const char **sorted = (const char **)calloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < got_n; i++)
		got[i] = cJSON_GetStringValue(cJSON_GetArrayItem(all, i));
	for (int i = 0; i < n; i++)
		sorted[i] = want[i];
	bool same = got_n == n;
	for (int i = 0; same && i < n; i++)
		same = got[i] != NULL;
	if (same) {
		qsort(got, (size_t)n, sizeof(got[0]), cmp_str);
		qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_str);
		for (int i = 0; same && i < n; i++)
			same = !strcmp(got[i], sorted[i]);
	}
	if (!same) {
		char *t = cJSON_PrintUnformatted(all);
		fprintf(stderr, "listed %.1500s\n", t);
		cJSON_free(t);
		for (int i = 0; i < n; i++)
			fprintf(stderr, "want %.300s\n", want[i]);
	}
	free(got);
	free(sorted);
	cJSON_Delete(all);
	if (!same)
		fail_msg("list: not the names wanted");
}

/* ---- REST ---- */

/* The key of the user's node name in folder parent (via GET /files). */
static void node_key(const t_server *s, const char *auth, const char *parent, const char *name,
		     char *key)
{
	char path[400];
	snprintf(path, sizeof(path), "/files?parent=%s&limit=1000", parent);
	cJSON *list = t_api(s, "GET", path, auth, NULL, 200);
	const cJSON *item;
	key[0] = 0;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const char *n = t_json_str(item, "name"), *id = t_json_str(item, "id");
		if (n && id && !strcmp(n, name))
			snprintf(key, T_ID_MAX, "%s", id);
	}
	cJSON_Delete(list);
	if (!key[0])
		fail_msg("GET %s: no node named %s", path, name);
}

/* ---- the document's session ---- */

/* version, login, status, list of nothing, put of two chunks, list,
 * get, close: every answer whole. */
static void test_session_end_to_end(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX];
	t_add_user(s, "alice", PASS, auth);
	size_t n = CHUNK + 1000;
	unsigned char *data = t_make_data(n, 1);

	t_line l;
	line_open(s, &l);
	send_text(&l, VERSION_LINE);
	expect_text(&l, VERSION_OK);
	send_text(&l, "{\"login\":true,\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n");
	expect_text(&l, LOGIN_OK);
	send_text(&l, STATUS);
	expect_text(&l, STATUS_OK);

	/* nothing yet: 0 items, 0 chunks; chunk 0 anyway is empty */
	send_text(&l, "{\"command\":\"list\"}\n");
	expect_exact(&l, list_answer(true, 0, 0, ""));
	send_listdata(&l, 0, false);
	expect_exact(&l, listdata_answer(0, false, cJSON_CreateArray(), ""));

	send_text(&l, "{\"command\":\"put\",\"file\":\"hello.bin\",\"size\":50152,\"chunks\":2}\n");
	expect_text(&l, "{\"command\":\"put\",\"file\":\"hello.bin\",\"accept\":true,\"error\":\"\"}");
	send_putdata(&l, "hello.bin", data, CHUNK, 1, false);
	expect_exact(&l, putdata_answer("hello.bin", CHUNK, false, ""));
	send_putdata(&l, "hello.bin", data + CHUNK, 1000, 0, false);
	expect_exact(&l, putdata_answer("hello.bin", (double)n, false, ""));

	const char *names[] = {"hello.bin"};
	expect_list(&l, names, 1);

	send_get(&l, "hello.bin");
	expect_exact(&l, get_answer("hello.bin", true, 2, ""));
	unsigned char *got = (unsigned char *)malloc(n);
	size_t off = 0;
	send_getdata(&l, "hello.bin", 0, false);
	expect_getdata(&l, "hello.bin", 1, CHUNK, got, n, &off);
	assert_int_equal(off, CHUNK);
	send_getdata(&l, "hello.bin", 1, false);
	expect_getdata(&l, "hello.bin", 0, CHUNK, got, n, &off);
	assert_int_equal(off, n);
	assert_memory_equal(got, data, n);
	free(got);

	send_text(&l, CLOSE);
	expect_text(&l, BYE);
	expect_eof(&l);
	t_line_close(&l);

	/* stored as alice's file, byte for byte */
	assert_int_equal(t_blobs_holding(s, data, n), 1);
	char key[T_ID_MAX];
	node_key(s, auth, "", "hello.bin", key);
	free(data);
	t_passed(state);
}

/* ---- framing ---- */

/* Sends text one byte per write (TCP_NODELAY, a pause after each), so
 * the server gets it in many pieces. */
static void send_bytewise(t_line *l, const char *text)
{
	int one = 1;
	setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (const char *p = text; *p; p++) {
		if (t_line_send_n(l, p, 1))
			fail_msg("sending byte %zu of %s failed", (size_t)(p - text), text);
		t_sleep_ms(1);
	}
}

/* Lines in many writes: the version, login and a put line byte by byte,
 * a putdata line in pieces of 100 bytes, a "\r\n" split between its two
 * bytes. */
static void test_line_split_across_writes(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	line_open(s, &l);
	send_bytewise(&l, VERSION_LINE);
	expect_text(&l, VERSION_OK);
	char login[200];
	snprintf(login, sizeof(login),
		 "{\"login\":true,\"user\":\"admin\",\"pass\":\"%s\",\"cancel\":false}\n", s->password);
	send_bytewise(&l, login);
	expect_text(&l, LOGIN_OK);

	unsigned char *data = t_make_data(3000, 2);
	send_bytewise(&l, "{\"command\":\"put\",\"file\":\"split.bin\",\"size\":3000,\"chunks\":1}\n");
	expect_text(&l, "{\"command\":\"put\",\"file\":\"split.bin\",\"accept\":true,\"error\":\"\"}");
	char *pd = putdata_line("split.bin", data, 3000, 0, false);
	size_t len = strlen(pd);
	for (size_t off = 0; off < len; off += 100) {
		assert_int_equal(t_line_send_n(&l, pd + off, len - off < 100 ? len - off : 100), 0);
		t_sleep_ms(1);
	}
	free(pd);
	expect(&l, putdata_answer("split.bin", 3000, false, ""));

	send_text(&l, "{\"command\":\"status\"}\r");
	t_sleep_ms(50);
	send_text(&l, "\n");
	expect_text(&l, STATUS_OK);

	expect_file(&l, "split.bin", data, 3000, CHUNK);
	free(data);
	t_line_close(&l);
	t_passed(state);
}

/* Many lines in one write, "\r\n" endings, empty lines and JSON with
 * spaces: each line answered once, in order. */
static void test_many_lines_one_write(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	line_open(s, &l);
	char text[1024];
	snprintf(text, sizeof(text),
		 "\n\r\n" VERSION_LINE
		 "{\"login\":true,\"user\":\"admin\",\"pass\":\"%s\",\"cancel\":false}\r\n"
		 "\n" STATUS "\r\n\r\n"
		 "{ \"command\" : \"status\" }\r\n"
		 "{\"command\":\"put\",\"file\":\"empty\",\"size\":0,\"chunks\":0}\n"
		 "{\"command\":\"list\"}\n"
		 "{\"command\":\"listdata\",\"chunk\":0,\"cancel\":false}\n"
		 "\n" CLOSE,
		 s->password);
	send_text(&l, text);
	expect_text(&l, VERSION_OK);
	expect_text(&l, LOGIN_OK);
	expect_text(&l, STATUS_OK);
	expect_text(&l, STATUS_OK);
	expect_text(&l, "{\"command\":\"put\",\"file\":\"empty\",\"accept\":true,\"error\":\"\"}");
	expect(&l, list_answer(true, 1, 1, ""));
	const char *names[] = {"empty"};
	expect(&l, listdata_answer(0, false, cJSON_CreateStringArray(names, 1), ""));
	expect_text(&l, BYE);
	expect_eof(&l);
	t_line_close(&l);
	t_passed(state);
}

/* ---- version ---- */

/* A first line that is another version, has no string version, or is
 * not a JSON object: {"version":"0.2","accept":false}, then the end. */
static void test_version_refused(void **state)
{
	t_server *s = start(state, NULL);
	static const char *const lines[] = {
		"{\"version\":\"0.1\"}\n",
		"{\"version\":\"0.2.0\"}\n",
		"{\"version\":0.2}\n",
		"{\"login\":true,\"user\":\"admin\",\"pass\":\"x\",\"cancel\":false}\n",
		"{\"command\":\"status\"}\n",
		"hello\n",
		"[\"0.2\"]\n",
		"\"0.2\"\n",
		"{\"version\":\"0.2\"\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		t_line l;
		line_open(s, &l);
		send_text(&l, lines[i]);
		note("the first line %s", lines[i]);
		expect_text(&l, VERSION_REFUSED);
		expect_eof(&l);
		t_line_close(&l);
	}
	t_passed(state);
}

/* ---- login ---- */

/* Each line is answered {"accept":false,"error":error}, then the end. */
static void expect_login_refused(const t_server *s, const char *line, const char *error)
{
	t_line l;
	open_versioned(s, &l);
	send_text(&l, line);
	note("the login line %.300s", line);
	expect_exact(&l, login_answer(false, error));
	expect_eof(&l);
	t_line_close(&l);
}

static void test_login_errors(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX];
	t_add_user(s, "alice", PASS, auth);
	static const char *const bad_shapes[] = {
		"{\"login\":true,\"user\":\"alice\",\"pass\":\"" PASS "\"}\n",
		"{\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
		"{\"login\":true,\"pass\":\"" PASS "\",\"cancel\":false}\n",
		"{\"login\":true,\"user\":\"alice\",\"cancel\":false}\n",
		"{\"login\":\"true\",\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
		"{\"login\":1,\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
		"{\"login\":true,\"user\":5,\"pass\":\"" PASS "\",\"cancel\":false}\n",
		"{\"login\":true,\"user\":\"alice\",\"pass\":null,\"cancel\":false}\n",
		"{\"login\":true,\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":0}\n",
		"{}\n",
		"{\"command\":\"status\"}\n",
	};
	for (size_t i = 0; i < sizeof(bad_shapes) / sizeof(bad_shapes[0]); i++)
		expect_login_refused(s, bad_shapes[i], LOGIN_SHAPE);
	expect_login_refused(s, "[1,2]\n", NOT_OBJECT);
	expect_login_refused(s, "login please\n", NOT_OBJECT);
	/* wrong password and unknown user: one answer */
	expect_login_refused(s, "{\"login\":true,\"user\":\"alice\",\"pass\":\"nope\",\"cancel\":false}\n",
			     WRONG_LOGIN);
	expect_login_refused(s, "{\"login\":true,\"user\":\"nobody\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
			     WRONG_LOGIN);
	/* still fine with the right one */
	t_line l;
	open_session(s, &l, "alice", PASS);
	expect_open(&l);
	t_line_close(&l);
	t_passed(state);
}

/* cancel:true (login or signup): closed without an answer; no command
 * is taken after it. */
static void test_login_cancel(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	open_versioned(s, &l);
	send_login(&l, true, "admin", s->password, true);
	expect_eof(&l);
	t_line_close(&l);

	open_versioned(s, &l);
	char text[300];
	snprintf(text, sizeof(text),
		 "{\"login\":false,\"user\":\"x\",\"pass\":\"y\",\"cancel\":true}\n" STATUS);
	send_text(&l, text);
	expect_eof(&l);
	t_line_close(&l);
	t_passed(state);
}

/* Failed logins over the line protocol and over POST /api/login count
 * together, per user (login_max_failures = 2). */
static void test_login_rate_limited(void **state)
{
	t_server *s = start(state, "login_max_failures = 2\nlogin_window = 5m\n");
	char auth[T_AUTH_MAX];
	t_add_user(s, "alice", PASS, auth);
	t_add_user(s, "bob", PASS, auth);
	cJSON *j = NULL;
	assert_int_equal(t_http_post_json(s->http_port, "/api/login", NULL,
					  "{\"user\":\"alice\",\"pass\":\"wrong\"}", &j), 401);
	cJSON_Delete(j);
	expect_login_refused(s, "{\"login\":true,\"user\":\"alice\",\"pass\":\"wrong\",\"cancel\":false}\n",
			     WRONG_LOGIN);
	/* two failures: even the right password is refused now, on both ports */
	expect_login_refused(s, "{\"login\":true,\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
			     TOO_MANY);
	j = NULL;
	assert_int_equal(t_http_post_json(s->http_port, "/api/login", NULL,
					  "{\"user\":\"alice\",\"pass\":\"" PASS "\"}", &j), 429);
	cJSON_Delete(j);
	/* the address may fail 10 times as often: bob still logs in */
	t_line l;
	open_session(s, &l, "bob", PASS);
	expect_open(&l);
	t_line_close(&l);
	t_passed(state);
}

/* signup while allow_signup is off: refused, no user made. */
static void test_signup_disabled(void **state)
{
	t_server *s = start(state, NULL);
	expect_login_refused(s, "{\"login\":false,\"user\":\"newbie\",\"pass\":\"pw\",\"cancel\":false}\n",
			     NO_SIGNUP);
	cJSON *j = NULL;
	assert_int_equal(t_http_post_json(s->http_port, "/api/login", NULL,
					  "{\"user\":\"newbie\",\"pass\":\"pw\"}", &j), 401);
	cJSON_Delete(j);
	t_passed(state);
}

/* The message POST /api/signup answers for user/pass (400). */
static void signup_message(const t_server *s, const char *user, const char *pass, char *out,
			   size_t n)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", user);
	cJSON_AddStringToObject(body, "pass", pass);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	cJSON *j = NULL;
	int status = t_http_post_json(s->http_port, "/api/signup", NULL, text, &j);
	cJSON_free(text);
	const char *m = t_json_str(j, "message");
	if (status != 400 || !m) {
		cJSON_Delete(j);
		fail_msg("POST /api/signup %s: want 400 with a message, got %d", user, status);
	}
	snprintf(out, n, "%s", m);
	cJSON_Delete(j);
}

/* Signup with a bad name or password: the check's message (the one
 * POST /api/signup answers), then the end. */
static void expect_signup_refused_like_http(const t_server *s, const char *user, const char *pass)
{
	char message[300];
	signup_message(s, user, pass, message, sizeof(message));
	t_line l;
	open_versioned(s, &l);
	send_login(&l, false, user, pass, false);
	note("a signup of \"%s\"", user);
	expect_exact(&l, login_answer(false, message));
	expect_eof(&l);
	t_line_close(&l);
}

/* allow_signup = yes: a signup makes the user and logs it in; a taken
 * name, a bad name or password are refused with their messages. */
static void test_signup(void **state)
{
	t_server *s = start(state, "allow_signup = yes\n");
	t_line l;
	open_versioned(s, &l);
	send_login(&l, false, "newbie", "pw 1", false);
	expect_text(&l, LOGIN_OK);
	expect_open(&l);
	unsigned char *data = t_make_data(10, 3);
	put_file(&l, "mine.txt", data, 10, CHUNK);
	t_line_close(&l);
	/* a real account: it logs in over HTTP and owns the file */
	char token[T_TOKEN_MAX], auth[T_AUTH_MAX], key[T_ID_MAX];
	t_login_token(s, "newbie", "pw 1", token);
	t_bearer_header(token, auth, sizeof(auth));
	node_key(s, auth, "", "mine.txt", key);
	/* and over the line protocol */
	open_session(s, &l, "newbie", "pw 1");
	expect_file(&l, "mine.txt", data, 10, CHUNK);
	t_line_close(&l);
	free(data);

	open_versioned(s, &l);
	send_login(&l, false, "newbie", "other", false);
	expect_exact(&l, login_answer(false, TAKEN));
	expect_eof(&l);
	t_line_close(&l);
	open_versioned(s, &l);
	send_login(&l, false, "admin", "other", false);
	expect_exact(&l, login_answer(false, TAKEN));
	expect_eof(&l);
	t_line_close(&l);

	expect_signup_refused_like_http(s, "-bad", "pw");
	expect_signup_refused_like_http(s, "bad name", "pw");
	expect_signup_refused_like_http(s, "", "pw");
	expect_signup_refused_like_http(s, "abcdefghijabcdefghijabcdefghijabc", "pw");
	expect_signup_refused_like_http(s, "okname", "");
	t_passed(state);
}

/* ---- the phases' errors: not JSON, too long ---- */

/* A line that is not a JSON object after login: the logged-in error,
 * then the end. */
static void test_not_json_logged_in(void **state)
{
	t_server *s = start(state, NULL);
	expect_fatal_line(s, "status\n", NOT_OBJECT);
	expect_fatal_line(s, "[{\"command\":\"status\"}]\n", NOT_OBJECT);
	expect_fatal_line(s, "\"status\"\n", NOT_OBJECT);
	expect_fatal_line(s, "42\n", NOT_OBJECT);
	expect_fatal_line(s, "{\"command\":\"status\"\n", NOT_OBJECT);
	t_passed(state);
}

/* A line of exactly `len` bytes: a status command padded with spaces. */
static char *status_of_length(size_t len)
{
	char *p = (char *)malloc(len + 2);
	assert_non_null(p);
	static const char cmd[] = "{\"command\":\"status\"";
	memcpy(p, cmd, sizeof(cmd) - 1);
	memset(p + sizeof(cmd) - 1, ' ', len - sizeof(cmd));
	p[len - 1] = '}';
	p[len] = '\n';
	p[len + 1] = 0;
	return p;
}

/* With the limit N: a line of N bytes is taken, one of N + 1 bytes (no
 * newline needed) gets the error of the phase, then the end. */
static void check_line_limit(const t_server *s, size_t limit)
{
	char error[100];
	snprintf(error, sizeof(error), "line too long: the limit is %zu bytes", limit);
	char *ok = status_of_length(limit);
	char *over = status_of_length(limit + 1);
	over[limit + 1] = 0; /* no newline */
	t_line l;

	admin_session(s, &l);
	send_text(&l, ok);
	expect_text(&l, STATUS_OK);
	send_text(&l, over);
	expect_exact(&l, session_error(error));
	expect_eof(&l);
	t_line_close(&l);

	/* before login */
	open_versioned(s, &l);
	send_text(&l, over);
	expect_exact(&l, login_answer(false, error));
	expect_eof(&l);
	t_line_close(&l);

	/* before the version */
	line_open(s, &l);
	send_text(&l, over);
	expect_text(&l, VERSION_REFUSED);
	expect_eof(&l);
	t_line_close(&l);
	free(ok);
	free(over);
}

/* max_message_size under a full putdata line: the limit is the base64
 * of line_chunk (1K: 1368 bytes) plus 16 KiB. */
static void test_line_limit_floor(void **state)
{
	t_server *s = start(state, "line_chunk = 1K\nmax_message_size = 4K\n");
	check_line_limit(s, 1368 + 16 * KIB);
	t_passed(state);
}

/* max_message_size over that: it is the limit. */
static void test_line_limit_max_message_size(void **state)
{
	t_server *s = start(state, "line_chunk = 1K\nmax_message_size = 40K\n");
	check_line_limit(s, 40 * KIB);
	t_passed(state);
}

/* ---- commands ---- */

/* No command string: the document's answer, the connection stays; an
 * unknown command likewise. */
static void test_missing_and_unknown_command(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	admin_session(s, &l);
	static const char *const no_command[] = {
		"{}\n",
		"{\"command\":5}\n",
		"{\"command\":null}\n",
		"{\"cmd\":\"status\"}\n",
		"{\"version\":\"0.2\"}\n",
	};
	for (size_t i = 0; i < sizeof(no_command) / sizeof(no_command[0]); i++) {
		send_text(&l, no_command[i]);
		expect_text(&l, "{\"accept\":false,\"cancel\":true,\"error\":\"expected {\\\"command\\\":string,...}\"}");
		expect_open(&l);
	}
	send_text(&l, "{\"command\":\"dance\"}\n");
	expect_text(&l, "{\"command\":\"dance\",\"accept\":false,\"cancel\":true,\"error\":\"unknown command: dance\"}");
	expect_open(&l);
	send_text(&l, "{\"command\":\"STATUS\"}\n");
	expect_exact(&l, unknown_answer("STATUS"));
	expect_open(&l);
	/* empty lines get no answer */
	send_text(&l, "\n\r\n\n");
	expect_quiet(&l);
	expect_open(&l);
	t_line_close(&l);
	t_passed(state);
}

/* ---- put and get round trips ---- */

/* Empty (chunks 0, and chunks 1 with one empty putdata), one byte, one
 * chunk, exactly line_chunk, line_chunk + 1, and a file in a folder:
 * each stored and read back byte for byte. */
static void test_put_get_round_trips(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX];
	t_add_user(s, "alice", PASS, auth);
	t_line l;
	open_session(s, &l, "alice", PASS);

	/* chunks 0: stored by the put itself */
	send_put(&l, "empty0", 0, 0);
	expect_exact(&l, put_answer("empty0", true, ""));
	send_get(&l, "empty0");
	expect(&l, get_answer("empty0", true, 0, ""));
	send_getdata(&l, "empty0", 0, false);
	expect(&l, getdata_answer("empty0", "", 0, false, ""));

	/* chunks 1, one empty putdata */
	send_put(&l, "empty1", 0, 1);
	expect_exact(&l, put_answer("empty1", true, ""));
	send_putdata(&l, "empty1", "", 0, 0, false);
	expect(&l, putdata_answer("empty1", 0, false, ""));
	expect_file(&l, "empty1", (const unsigned char *)"", 0, CHUNK);

	static const size_t sizes[] = {1, 1000, CHUNK, CHUNK + 1, 3 * CHUNK - 1};
	char name[64];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *data = t_make_data(sizes[i], 10 + (uint32_t)i);
		snprintf(name, sizeof(name), "file-%zu.bin", sizes[i]);
		put_file(&l, name, data, sizes[i], CHUNK);
		expect_file(&l, name, data, sizes[i], CHUNK);
		assert_int_equal(t_blobs_holding(s, data, sizes[i]), 1);
		free(data);
	}

	unsigned char *data = t_make_data(5000, 20);
	put_file(&l, "a/b/c.bin", data, 5000, CHUNK);
	expect_file(&l, "a/b/c.bin", data, 5000, CHUNK);
	/* a node c.bin in folder a/b */
	char key[T_ID_MAX];
	node_key(s, auth, "a/b", "c.bin", key);
	char path[T_ID_MAX + 40];
	snprintf(path, sizeof(path), "/files/%s", key);
	cJSON *node = t_api(s, "GET", path, auth, NULL, 200);
	assert_string_equal(t_json_str(node, "parent"), "a/b");
	assert_string_equal(t_json_str(node, "kind"), "file");
	cJSON_Delete(node);
	free(data);

	const char *names[] = {"empty0", "empty1", "file-1.bin", "file-1000.bin", "file-147455.bin",
			       "file-49152.bin", "file-49153.bin", "a/b/c.bin"};
	expect_list_set(&l, names, 8);
	t_line_close(&l);
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);
	t_passed(state);
}

/* 5 MiB in 107 chunks, stored and read back byte for byte; the content
 * file holds exactly it. */
static void test_put_get_5mib(void **state)
{
	t_server *s = start(state, NULL);
	size_t n = 5 * MIB;
	unsigned char *data = t_make_data(n, 30);
	t_line l;
	admin_session(s, &l);
	put_file(&l, "big/five.bin", data, n, CHUNK);
	assert_int_equal(t_blobs_holding(s, data, n), 1);
	expect_file(&l, "big/five.bin", data, n, CHUNK);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* A put to a taken name replaces the content of that node; the old
 * content is its revision (GET /files/<key>/revisions). */
static void test_put_replaces_with_revision(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX], key[T_ID_MAX], key2[T_ID_MAX], md5[40];
	t_add_user(s, "alice", PASS, auth);
	unsigned char *v1 = t_make_data(70000, 40), *v2 = t_make_data(1234, 41);
	t_line l;
	open_session(s, &l, "alice", PASS);
	put_file(&l, "docs/r.txt", v1, 70000, CHUNK);
	node_key(s, auth, "docs", "r.txt", key);
	put_file(&l, "docs/r.txt", v2, 1234, CHUNK);
	expect_file(&l, "docs/r.txt", v2, 1234, CHUNK);
	const char *names[] = {"docs/r.txt"};
	expect_list(&l, names, 1);
	t_line_close(&l);

	node_key(s, auth, "docs", "r.txt", key2);
	assert_string_equal(key, key2);
	char path[T_ID_MAX + 40];
	snprintf(path, sizeof(path), "/files/%s", key);
	cJSON *node = t_api(s, "GET", path, auth, NULL, 200);
	md5_hex(v2, 1234, md5);
	assert_string_equal(t_json_str(node, "md5"), md5);
	assert_true(num(node, "size") == 1234);
	cJSON_Delete(node);

	snprintf(path, sizeof(path), "/files/%s/revisions", key);
	cJSON *revs = t_api(s, "GET", path, auth, NULL, 200);
	cJSON *items = cJSON_GetObjectItem(revs, "items");
	/* the first upload had nothing before it (a new node is no
	 * revision); the replacement kept v1 */
	md5_hex(v1, 70000, md5);
	bool found = false;
	const cJSON *r;
	cJSON_ArrayForEach(r, items)
	{
		const char *m = t_json_str(r, "md5");
		const cJSON *size = cJSON_GetObjectItem(r, "size");
		if (m && !strcmp(m, md5) && cJSON_IsNumber(size) && size->valuedouble == 70000)
			found = true;
	}
	if (!found) {
		char *t = cJSON_PrintUnformatted(revs);
		fprintf(stderr, "revisions: %.1500s\n", t);
		cJSON_free(t);
		fail_msg("no revision with the first content (70000 bytes, md5 %s)", md5);
	}
	cJSON_Delete(revs);
	assert_int_equal(t_blobs_holding(s, v1, 70000), 1);
	free(v1);
	free(v2);
	t_passed(state);
}

/* The bytes of a get are those when get was answered: the file replaced
 * (revisions_keep = 0, so the old content is not kept as a revision)
 * after the get, and again after its first chunk, still reads old. */
static void test_get_snapshot(void **state)
{
	t_server *s = start(state, "revisions_keep = 0\n");
	size_t n = 3 * CHUNK;
	unsigned char *v1 = t_make_data(n, 50), *v2 = t_make_data(100, 51), *v3 = t_make_data(200, 52);
	t_line l, w;
	admin_session(s, &l);
	admin_session(s, &w);
	put_file(&w, "snap.bin", v1, n, CHUNK);

	send_get(&l, "snap.bin");
	expect(&l, get_answer("snap.bin", true, 3, ""));
	put_file(&w, "snap.bin", v2, 100, CHUNK);
	unsigned char *got = (unsigned char *)malloc(n);
	size_t off = 0;
	send_getdata(&l, "snap.bin", 0, false);
	expect_getdata(&l, "snap.bin", 2, CHUNK, got, n, &off);
	put_file(&w, "snap.bin", v3, 200, CHUNK);
	send_getdata(&l, "snap.bin", 1, false);
	expect_getdata(&l, "snap.bin", 1, CHUNK, got, n, &off);
	send_getdata(&l, "snap.bin", 2, false);
	expect_getdata(&l, "snap.bin", 0, CHUNK, got, n, &off);
	assert_int_equal(off, n);
	assert_memory_equal(got, v1, n);
	free(got);
	/* a new get reads the newest */
	expect_file(&l, "snap.bin", v3, 200, CHUNK);
	t_line_close(&l);
	t_line_close(&w);
	free(v1);
	free(v2);
	free(v3);
	t_passed(state);
}

/* ---- put refusals ---- */

static void expect_put_refused(t_line *l, const char *file, double size, double chunks,
			       const char *error)
{
	send_put(l, file, size, chunks);
	note("put \"%.100s\" of %g bytes in %g chunks", file, size, chunks);
	expect(l, put_answer(file, false, error));
}

/* A put line as given (the fields of the wrong type). */
static void expect_put_line_refused(t_line *l, const char *line, const char *file,
				    const char *error)
{
	send_text(l, line);
	note("%.300s", line);
	expect(l, put_answer(file, false, error));
}

static char *repeat(char c, size_t n)
{
	char *p = (char *)malloc(n + 1);
	assert_non_null(p);
	memset(p, c, n);
	p[n] = 0;
	return p;
}

/* A folder path of len bytes: components of 100 'd's and a shorter
 * last one (caller frees). */
static char *folder_of(size_t len)
{
	char *p = repeat('d', len);
	for (size_t i = 100; i < len; i += 101)
		p[i] = '/';
	return p;
}

/* Every refusal of put but the limits (next test): the answer's error,
 * the connection open, nothing stored; a refused put leaves the put
 * going on as it was. */
static void test_put_refusals(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX], key[T_ID_MAX];
	t_add_user(s, "alice", PASS, auth);
	t_file_create(s, auth, "{\"name\":\"proj\",\"kind\":\"project\"}", key);
	t_line l;
	open_session(s, &l, "alice", PASS);

	/* file */
	expect_put_line_refused(&l, "{\"command\":\"put\",\"size\":1,\"chunks\":1}\n", ANY_STRING,
				NO_FILE_NAME);
	expect_put_line_refused(&l, "{\"command\":\"put\",\"file\":7,\"size\":1,\"chunks\":1}\n",
				ANY_STRING, NO_FILE_NAME);
	expect_put_line_refused(&l, "{\"command\":\"put\",\"file\":null,\"size\":1,\"chunks\":1}\n",
				ANY_STRING, NO_FILE_NAME);

	/* the name rules; at most 255 bytes a name, 1024 a folder */
	static const char *const bad_names[] = {"", "../x", "a/../b", "/abs", "..", "a/..",
						"bad\x01name", "tab\there", "del\x7f", "c1\xc2\x80"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		expect_put_refused(&l, bad_names[i], 1, 1, PREFIX NAME_RULE);
	char *name256 = repeat('n', 256), *name255 = repeat('n', 255);
	expect_put_refused(&l, name256, 1, 1, PREFIX NAME_RULE);
	char *f1024 = folder_of(1024), *f1025 = folder_of(1025);
	assert_int_equal(strlen(f1024), 1024);
	char path1024[1100], path1025[1100];
	snprintf(path1024, sizeof(path1024), "%s/x", f1024);
	snprintf(path1025, sizeof(path1025), "%s/x", f1025);
	expect_put_refused(&l, path1025, 1, 1, PREFIX NAME_RULE);

	/* a project's name */
	expect_put_refused(&l, "proj", 1, 1, "name not allowed: proj is a project");

	/* size */
	static const char *const bad_sizes[] = {"-1", "1.5", "\"10\"", "true", "null",
						"18014398509481984", "1e300"};
	char line[200];
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		snprintf(line, sizeof(line), "{\"command\":\"put\",\"file\":\"s.bin\",\"size\":%s,\"chunks\":1}\n",
			 bad_sizes[i]);
		expect_put_line_refused(&l, line, "s.bin", BAD_SIZE);
	}

	/* chunks */
	expect_put_refused(&l, "c.bin", 100, 2,
			   "chunk count mismatch: 100 bytes are 1 chunks of at most 49152 bytes");
	expect_put_refused(&l, "c.bin", 100, 0,
			   "chunk count mismatch: 100 bytes are 1 chunks of at most 49152 bytes");
	expect_put_refused(&l, "c.bin", CHUNK + 1, 1,
			   "chunk count mismatch: 49153 bytes are 2 chunks of at most 49152 bytes");
	expect_put_refused(&l, "c.bin", 0, 2,
			   "chunk count mismatch: 0 bytes are 0 chunks of at most 49152 bytes");

	/* another put going on: refused, and that put goes on */
	unsigned char *data = t_make_data(10, 60);
	send_put(&l, "one.bin", 10, 1);
	expect_exact(&l, put_answer("one.bin", true, ""));
	expect_put_refused(&l, "two.bin", 5, 1, "a put is in progress: one.bin");
	expect_put_refused(&l, "one.bin", 10, 1, "a put is in progress: one.bin");
	send_putdata(&l, "one.bin", data, 10, 0, false);
	expect(&l, putdata_answer("one.bin", 10, false, ""));
	expect_file(&l, "one.bin", data, 10, CHUNK);
	free(data);

	/* the longest name and folder are fine */
	send_put(&l, name255, 0, 0);
	expect_exact(&l, put_answer(name255, true, ""));
	send_put(&l, path1024, 0, 0);
	expect_exact(&l, put_answer(path1024, true, ""));

	const char *names[] = {name255, "one.bin", path1024};
	expect_list_set(&l, names, 3);
	t_line_close(&l);
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);
	free(name255);
	free(name256);
	free(f1024);
	free(f1025);
	t_passed(state);
}

/* size is a whole number from 0 to 2^53: 2^53 - 1 is a size (and over
 * max_upload_size, 4G). (2^53 itself is left out: the page's "from 0 to
 * 2^53" does not say whether it is in.) */
static void test_put_size_near_2_pow_53(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	admin_session(s, &l);
	expect_put_line_refused(&l, "{\"command\":\"put\",\"file\":\"huge.bin\",\"size\":9007199254740991,"
				"\"chunks\":183251937963}\n", "huge.bin",
				"file too large: the limit is 4294967296 bytes");
	expect_open(&l);
	t_line_close(&l);
	t_passed(state);
}

/* max_upload_size (1M) and the quota (2M, usage counted): refused up
 * front, nothing written. */
static void test_put_size_limits(void **state)
{
	t_server *s = start(state, "max_upload_size = 1M\nquota = 2M\n");
	t_line l;
	admin_session(s, &l);
	expect_put_refused(&l, "big.bin", MIB + 1, chunks_of(MIB + 1, CHUNK),
			   "file too large: the limit is 1048576 bytes");
	unsigned char *data = t_make_data(700 * KIB, 70);
	put_file(&l, "a.bin", data, 700 * KIB, CHUNK);
	put_file(&l, "b.bin", data, 700 * KIB, CHUNK);
	/* 1400K used: 700K more is over 2M, 600K is not */
	expect_put_refused(&l, "c.bin", 700 * KIB, chunks_of(700 * KIB, CHUNK), "quota exceeded");
	put_file(&l, "c.bin", data, 600 * KIB, CHUNK);
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* A size no disk has room for (max_upload_size 1024T). */
static void test_put_no_disk_space(void **state)
{
	t_server *s = start(state, "max_upload_size = 1024T\n");
	t_line l;
	admin_session(s, &l);
	/* 2^49 bytes */
	expect_put_line_refused(&l, "{\"command\":\"put\",\"file\":\"vast.bin\",\"size\":562949953421312,"
				"\"chunks\":11453246123}\n", "vast.bin", "not enough free disk space");
	expect_open(&l);
	t_line_close(&l);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 0);
	t_passed(state);
}

/* ---- putdata refusals ---- */

#define SMALL 1024u /* line_chunk in the tests that set it to 1K */

/* The put of file (size, chunks) is over and nothing is stored: a
 * putdata for it has no put, a get finds no file, partial/ is empty. */
static void expect_put_gone(const t_server *s, t_line *l, const char *file)
{
	unsigned char b = 0;
	send_putdata(l, file, &b, 1, 0, false);
	char error[300];
	snprintf(error, sizeof(error), "no put in progress for %s", file);
	expect(l, putdata_answer(file, 0, true, error));
	send_get(l, file);
	snprintf(error, sizeof(error), "unknown file: %s", file);
	expect(l, get_answer(file, false, 0, error));
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);
}

/* The put of `file` (2000 bytes, 2 chunks of 1K) accepted and its first
 * chunk received. */
static void put_first_chunk(t_line *l, const char *file, const unsigned char *data)
{
	send_put(l, file, 2000, 2);
	expect_exact(l, put_answer(file, true, ""));
	send_putdata(l, file, data, SMALL, 1, false);
	expect(l, putdata_answer(file, SMALL, false, ""));
}

/* A putdata line with the given data and remaining fields (JSON text). */
static void send_raw_putdata(t_line *l, const char *file, const char *data_json,
			     const char *remaining_json, bool cancel)
{
	say(l, "{\"command\":\"putdata\",\"file\":\"%s\",\"data\":%s,\"remaining\":%s,\"cancel\":%s}",
	    file, data_json, remaining_json, cancel ? "true" : "false");
}

/* Each refusal of the putdata table: cancel:true, the bytes received
 * before it, the error; the put cancelled and nothing left of it; the
 * connection open. */
static void test_putdata_refusals(void **state)
{
	t_server *s = start(state, "line_chunk = 1K\n");
	unsigned char *data = t_make_data(3000, 80);
	t_line l;
	admin_session(s, &l);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 0);

	/* no put at all */
	note("putdata without a put");
	send_putdata(&l, "none.bin", data, 10, 0, false);
	expect(&l, putdata_answer("none.bin", 0, true, "no put in progress for none.bin"));

	/* another name than the put going on: that put goes on */
	note("putdata of another name than the put going on");
	put_first_chunk(&l, "p.bin", data);
	send_putdata(&l, "q.bin", data, 10, 0, false);
	expect(&l, putdata_answer("q.bin", 0, true, "no put in progress for q.bin"));
	send_putdata(&l, "p.bin", data + SMALL, 2000 - SMALL, 0, false);
	expect(&l, putdata_answer("p.bin", 2000, false, ""));
	expect_file(&l, "p.bin", data, 2000, SMALL);

	/* cancel from the client: at once, and after a chunk */
	note("putdata with cancel:true");
	send_put(&l, "c0.bin", 2000, 2);
	expect_exact(&l, put_answer("c0.bin", true, ""));
	send_raw_putdata(&l, "c0.bin", "\"\"", "1", true);
	expect(&l, putdata_answer("c0.bin", 0, true, BY_CLIENT));
	expect_put_gone(s, &l, "c0.bin");
	put_first_chunk(&l, "c1.bin", data);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 1);
	send_putdata(&l, "c1.bin", data + SMALL, 10, 0, true);
	expect(&l, putdata_answer("c1.bin", SMALL, true, BY_CLIENT));
	expect_put_gone(s, &l, "c1.bin");

	/* remaining out of order: at the first chunk and at the second */
	note("putdata with remaining out of order");
	send_put(&l, "o0.bin", 2000, 2);
	expect_exact(&l, put_answer("o0.bin", true, ""));
	send_putdata(&l, "o0.bin", data, SMALL, 0, false);
	expect(&l, putdata_answer("o0.bin", 0, true, "chunk out of order: expected remaining 1"));
	expect_put_gone(s, &l, "o0.bin");
	put_first_chunk(&l, "o1.bin", data);
	send_putdata(&l, "o1.bin", data + SMALL, 2000 - SMALL, 1, false);
	expect(&l, putdata_answer("o1.bin", SMALL, true, "chunk out of order: expected remaining 0"));
	expect_put_gone(s, &l, "o1.bin");

	/* data that is not standard padded base64 */
	static const char *const bad_data[] = {"\"!!!!\"", "\"QUJD-_\"", "\"QUI\"", "\"QU=I\"",
					       "\"QUJD\\nRA==\"", "5", "null", "[\"QUJD\"]"};
	char file[40];
	for (size_t i = 0; i < sizeof(bad_data) / sizeof(bad_data[0]); i++) {
		snprintf(file, sizeof(file), "b%zu.bin", i);
		put_first_chunk(&l, file, data);
		send_raw_putdata(&l, file, bad_data[i], "0", false);
		note("putdata with data %s", bad_data[i]);
		expect(&l, putdata_answer(file, SMALL, true, BAD_BASE64));
		expect_put_gone(s, &l, file);
	}

	/* a chunk over line_chunk */
	note("putdata of 1025 bytes (line_chunk 1K)");
	send_put(&l, "big.bin", 2000, 2);
	expect_exact(&l, put_answer("big.bin", true, ""));
	send_putdata(&l, "big.bin", data, SMALL + 1, 1, false);
	expect(&l, putdata_answer("big.bin", 0, true, "chunk too large: the limit is 1024 bytes"));
	expect_put_gone(s, &l, "big.bin");

	/* more bytes than size; fewer when remaining is 0 */
	note("putdata of more bytes than the size");
	put_first_chunk(&l, "m.bin", data);
	send_putdata(&l, "m.bin", data + SMALL, 1000, 0, false);
	expect(&l, putdata_answer("m.bin", SMALL, true, "size mismatch: declared 2000 bytes, received more"));
	expect_put_gone(s, &l, "m.bin");
	send_put(&l, "m1.bin", 10, 1);
	expect_exact(&l, put_answer("m1.bin", true, ""));
	send_putdata(&l, "m1.bin", data, 11, 0, false);
	expect(&l, putdata_answer("m1.bin", 0, true, "size mismatch: declared 10 bytes, received more"));
	expect_put_gone(s, &l, "m1.bin");

	/* only p.bin was stored */
	note("list after the refusals");
	const char *names[] = {"p.bin"};
	expect_list(&l, names, 1);

	/* fewer bytes than size at remaining 0: recieved counts the bytes
	 * before this putdata, as for every refusal */
	note("putdata of fewer bytes than the size, remaining 0");
	put_first_chunk(&l, "f.bin", data);
	send_putdata(&l, "f.bin", data + SMALL, 500, 0, false);
	expect(&l, putdata_answer("f.bin", SMALL, true, "size mismatch: declared 2000 bytes, received 1524"));
	expect_put_gone(s, &l, "f.bin");
	t_line_close(&l);
	free(data);
	t_passed(state);
}

static void expect_get_refused(t_line *l, const char *file, const char *error);

/* A put ended by close (bye), by the client going away or by the server
 * stopping stores nothing and leaves no partial file. */
static void test_put_cut_short(void **state)
{
	t_server *s = start(state, "line_chunk = 1K\n");
	unsigned char *data = t_make_data(2000, 90);
	t_line l;
	admin_session(s, &l);
	put_first_chunk(&l, "closed.bin", data);
	assert_int_equal(t_dir_entries(s, "partial", NULL, NULL), 1);
	send_text(&l, CLOSE);
	expect_text(&l, BYE);
	expect_eof(&l);
	t_line_close(&l);
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);

	admin_session(s, &l);
	put_first_chunk(&l, "gone.bin", data);
	t_line_close(&l);
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);

	/* the server stopping (SIGTERM) during a put: nothing after the restart */
	admin_session(s, &l);
	put_first_chunk(&l, "stopped.bin", data);
	t_restart(state);
	wait_line_port(s);
	expect_eof(&l);
	t_line_close(&l);
	assert_int_equal(t_wait_entries(s, "partial", 0, POLL_MS), 0);

	admin_session(s, &l);
	expect_list(&l, NULL, 0);
	expect_get_refused(&l, "stopped.bin", "unknown file: stopped.bin");
	/* the same name put again from the start works */
	put_file(&l, "gone.bin", data, 2000, SMALL);
	expect_file(&l, "gone.bin", data, 2000, SMALL);
	t_line_close(&l);
	assert_int_equal(t_blobs_holding(s, data, 2000), 1);
	free(data);
	t_passed(state);
}

/* ---- get refusals ---- */

static void expect_get_refused(t_line *l, const char *file, const char *error)
{
	send_get(l, file);
	note("get \"%s\"", file);
	expect(l, get_answer(file, false, 0, error));
}

static void expect_getdata_refused(t_line *l, const char *file, double chunk, bool cancel,
				   const char *error)
{
	send_getdata(l, file, chunk, cancel);
	expect(l, getdata_answer(file, "", 0, true, error));
}

static void test_get_refusals(void **state)
{
	t_server *s = start(state, "line_chunk = 1K\n");
	unsigned char *data = t_make_data(3000, 100);
	t_line l;
	admin_session(s, &l);
	put_file(&l, "f.bin", data, 3000, SMALL);
	put_file(&l, "g.bin", data, 100, SMALL);

	send_text(&l, "{\"command\":\"get\"}\n");
	expect(&l, get_answer(ANY_STRING, false, 0, NO_FILE_NAME));
	send_text(&l, "{\"command\":\"get\",\"file\":3}\n");
	expect(&l, get_answer(ANY_STRING, false, 0, NO_FILE_NAME));
	expect_get_refused(&l, "nope.bin", "unknown file: nope.bin");
	expect_get_refused(&l, "dir/f.bin", "unknown file: dir/f.bin");
	expect_get_refused(&l, "F.BIN", "unknown file: F.BIN");
	expect_get_refused(&l, "../f.bin", PREFIX NAME_RULE);
	expect_get_refused(&l, "/f.bin", PREFIX NAME_RULE);
	expect_get_refused(&l, "x\x01y", PREFIX NAME_RULE);

	/* getdata without a get */
	expect_getdata_refused(&l, "f.bin", 0, false, "no get in progress for f.bin");

	/* another name than the get going on: that get goes on */
	send_get(&l, "f.bin");
	expect(&l, get_answer("f.bin", true, 3, ""));
	expect_getdata_refused(&l, "g.bin", 0, false, "no get in progress for g.bin");
	unsigned char got[3000];
	size_t off = 0;
	send_getdata(&l, "f.bin", 0, false);
	expect_getdata(&l, "f.bin", 2, SMALL, got, sizeof(got), &off);
	/* out of order ends it */
	expect_getdata_refused(&l, "f.bin", 2, false, "chunk out of order: expected 1");
	expect_getdata_refused(&l, "f.bin", 1, false, "no get in progress for f.bin");

	/* out of order at the start */
	send_get(&l, "f.bin");
	expect(&l, get_answer("f.bin", true, 3, ""));
	expect_getdata_refused(&l, "f.bin", 1, false, "chunk out of order: expected 0");
	expect_getdata_refused(&l, "f.bin", 0, false, "no get in progress for f.bin");

	/* cancel ends it */
	send_get(&l, "f.bin");
	expect(&l, get_answer("f.bin", true, 3, ""));
	off = 0;
	send_getdata(&l, "f.bin", 0, false);
	expect_getdata(&l, "f.bin", 2, SMALL, got, sizeof(got), &off);
	expect_getdata_refused(&l, "f.bin", 1, true, BY_CLIENT);
	expect_getdata_refused(&l, "f.bin", 1, false, "no get in progress for f.bin");

	/* a new get ends the one before */
	send_get(&l, "f.bin");
	expect(&l, get_answer("f.bin", true, 3, ""));
	send_get(&l, "g.bin");
	expect(&l, get_answer("g.bin", true, 1, ""));
	expect_getdata_refused(&l, "f.bin", 0, false, "no get in progress for f.bin");
	off = 0;
	send_getdata(&l, "g.bin", 0, false);
	expect_getdata(&l, "g.bin", 0, SMALL, got, sizeof(got), &off);
	assert_int_equal(off, 100);
	assert_memory_equal(got, data, 100);

	/* after the last chunk the get is over */
	expect_getdata_refused(&l, "g.bin", 1, false, "no get in progress for g.bin");
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* The line protocol sees the user's own live files only: not projects,
 * not others' files shared with the user, not the trash. */
static void test_only_own_live_files(void **state)
{
	t_server *s = start(state, NULL);
	char alice[T_AUTH_MAX], bob[T_AUTH_MAX], alice_id[T_ID_MAX], key[T_ID_MAX];
	t_add_user(s, "alice", PASS, alice);
	t_add_user(s, "bob", PASS, bob);
	t_user_id(s, alice, alice_id);
	t_file_create(s, alice, "{\"name\":\"proj\",\"kind\":\"project\"}", key);
	t_file_create(s, bob, "{\"name\":\"shared.txt\"}", key);
	t_file_grant(s, bob, key, alice_id, "writer");
	t_file_create(s, bob, "{\"name\":\"bobs.txt\"}", key);
	unsigned char *data = t_make_data(100, 110);
	t_line l;
	open_session(s, &l, "alice", PASS);
	put_file(&l, "mine.txt", data, 100, CHUNK);
	put_file(&l, "trashed.txt", data, 50, CHUNK);
	node_key(s, alice, "", "trashed.txt", key);
	char path[T_ID_MAX + 20];
	snprintf(path, sizeof(path), "/files/%s", key);
	cJSON_Delete(t_api(s, "DELETE", path, alice, NULL, 204));

	const char *names[] = {"mine.txt"};
	expect_list(&l, names, 1);
	expect_get_refused(&l, "proj", "unknown file: proj");
	expect_get_refused(&l, "shared.txt", "unknown file: shared.txt");
	expect_get_refused(&l, "bobs.txt", "unknown file: bobs.txt");
	expect_get_refused(&l, "trashed.txt", "unknown file: trashed.txt");
	/* a trashed name is free again */
	put_file(&l, "trashed.txt", data, 10, CHUNK);
	expect_file(&l, "trashed.txt", data, 10, CHUNK);
	t_line_close(&l);

	/* bob sees his own, not alice's */
	open_session(s, &l, "bob", PASS);
	const char *bobs[] = {"bobs.txt", "shared.txt"};
	expect_list(&l, bobs, 2);
	expect_get_refused(&l, "mine.txt", "unknown file: mine.txt");
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* Names JSON must escape ('"', '\\') and UTF-8 ones travel as they are
 * in every answer that carries them: put, putdata, list, get, getdata,
 * and the errors that quote them. */
static void test_names_escaped(void **state)
{
	t_server *s = start(state, NULL);
	char auth[T_AUTH_MAX], key[T_ID_MAX];
	t_add_user(s, "alice", PASS, auth);
	static const char *const names[] = {"f\xc3\xbcr/sp ace/we\"ird\\n\xc3\xa4me.txt",
					    "\xe6\x97\xa5\xe6\x9c\xac.bin"};
	unsigned char *data = t_make_data(CHUNK + 5, 55);
	t_line l;
	open_session(s, &l, "alice", PASS);
	for (int i = 0; i < 2; i++) {
		put_file(&l, names[i], data, CHUNK + 5, CHUNK);
		expect_file(&l, names[i], data, CHUNK + 5, CHUNK);
	}
	/* (the order is test_list_many's business) */
	expect_list_set(&l, (const char *const *)names, 2);
	node_key(s, auth, "f%C3%BCr%2Fsp%20ace", "we\"ird\\n\xc3\xa4me.txt", key);

	char error[300];
	snprintf(error, sizeof(error), "unknown file: %s", "\xc3\xbc/\"q\"\\");
	expect_get_refused(&l, "\xc3\xbc/\"q\"\\", error);
	snprintf(error, sizeof(error), "no get in progress for %s", names[0]);
	expect_getdata_refused(&l, names[0], 0, false, error);
	snprintf(error, sizeof(error), "no put in progress for %s", names[1]);
	send_putdata(&l, names[1], data, 1, 0, false);
	expect_exact(&l, putdata_answer(names[1], 0, true, error));
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* A field of the wrong type in a known command is that command's
 * refusal: put's chunks, putdata's remaining, listdata's and getdata's
 * chunk given as strings (or not whole numbers). */
static void test_wrong_field_types(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	admin_session(s, &l);
	unsigned char *data = t_make_data(100, 56);

	send_text(&l, "{\"command\":\"put\",\"file\":\"t.bin\",\"size\":100,\"chunks\":\"1\"}\n");
	expect_exact(&l, put_answer("t.bin", false,
				    "chunk count mismatch: 100 bytes are 1 chunks of at most 49152 bytes"));

	send_put(&l, "t.bin", 100, 1);
	expect_exact(&l, put_answer("t.bin", true, ""));
	char *d = b64(data, 100);
	say(&l, "{\"command\":\"putdata\",\"file\":\"t.bin\",\"data\":\"%s\",\"remaining\":\"0\","
		"\"cancel\":false}", d);
	free(d);
	expect_exact(&l, putdata_answer("t.bin", 0, true, "chunk out of order: expected remaining 0"));
	expect_put_gone(s, &l, "t.bin");

	put_file(&l, "t.bin", data, 100, CHUNK);
	static const char *const chunks[] = {"\"0\"", "-1", "0.5", "null", "true"};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		note("getdata with chunk %s", chunks[i]);
		send_get(&l, "t.bin");
		expect_exact(&l, get_answer("t.bin", true, 1, ""));
		say(&l, "{\"command\":\"getdata\",\"file\":\"t.bin\",\"chunk\":%s,\"cancel\":false}",
		    chunks[i]);
		expect_exact(&l, getdata_answer("t.bin", "", 0, true, "chunk out of order: expected 0"));
		note("listdata with chunk %s", chunks[i]);
		send_text(&l, "{\"command\":\"list\"}\n");
		expect_exact(&l, list_answer(true, 1, 1, ""));
		say(&l, "{\"command\":\"listdata\",\"chunk\":%s,\"cancel\":false}", chunks[i]);
		expect_exact(&l, listdata_answer(0, true, cJSON_CreateArray(),
						 "chunk out of order: expected 0"));
	}
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* ---- list ---- */

/* 250 files in four folders, put in a scrambled order (one write of 250
 * put lines): chunks of 100, 100 and 50; a file put during a list is not
 * in it; a new list has it; the names are sorted by folder then name
 * (checked last, so that the rest is checked whatever the order). */
static void test_list_many(void **state)
{
	t_server *s = start(state, NULL);
	enum { N = 250 };
	char *names[N];
	int n = 0;
	/* sorted: folder "" (121), "a" (60), "a/b" (50), "b" (19) */
	for (int i = 0; i < 120; i++)
		assert_true(asprintf(&names[n++], "f%03d", i) > 0);
	names[n++] = strdup("zz.txt");
	for (int i = 0; i < 60; i++)
		assert_true(asprintf(&names[n++], "a/n%02d", i) > 0);
	for (int i = 0; i < 50; i++)
		assert_true(asprintf(&names[n++], "a/b/m%02d", i) > 0);
	for (int i = 0; i < 19; i++)
		assert_true(asprintf(&names[n++], "b/k%02d", i) > 0);
	assert_int_equal(n, N);

	t_line l;
	admin_session(s, &l);
	char *all = (char *)malloc(N * 100);
	size_t len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(all + len, "{\"command\":\"put\",\"file\":\"%s\",\"size\":0,\"chunks\":0}\n",
				       names[i * 97 % N]);
	assert_int_equal(t_line_send_n(&l, all, len), 0);
	free(all);
	for (int i = 0; i < N; i++)
		expect_exact(&l, put_answer(names[i * 97 % N], true, ""));

	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, N, 3, ""));
	send_put(&l, "new.txt", 0, 0);
	expect_exact(&l, put_answer("new.txt", true, ""));
	cJSON *chunk[3];
	for (int k = 0; k < 3; k++) {
		send_listdata(&l, k, false);
		chunk[k] = expect_json(&l, listdata_answer(2 - k, false, NULL, ""));
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(chunk[k], "names")),
				 k < 2 ? 100 : 50);
	}
	/* the list is over */
	send_listdata(&l, 3, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), NO_LIST));

	/* the snapshot had the 250 (any order), a new list has new.txt too */
	const char *listed[N + 1];
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < (k < 2 ? 100 : 50); i++)
			listed[100 * k + i] = cJSON_GetStringValue(
				cJSON_GetArrayItem(cJSON_GetObjectItem(chunk[k], "names"), i));
	const char *now[N + 1];
	for (int i = 0; i < N; i++)
		now[i] = names[i];
	now[N] = "new.txt";
	expect_list_set(&l, now, N + 1);
	for (int i = 0; i < N; i++)
		if (!listed[i] || strcmp(listed[i], names[i])) {
			fprintf(stderr, "name %d listed \"%s\", want \"%s\" (sorted by folder, then name)\n", i,
				listed[i] ? listed[i] : "(not a string)", names[i]);
			for (int k = 0; k < 3; k++) {
				char *t = cJSON_PrintUnformatted(chunk[k]);
				fprintf(stderr, "chunk %d: %.2000s\n", k, t);
				cJSON_free(t);
			}
			fail_msg("list: names not sorted by folder then name");
		}
	for (int k = 0; k < 3; k++)
		cJSON_Delete(chunk[k]);
	t_line_close(&l);
	for (int i = 0; i < N; i++)
		free(names[i]);
	t_passed(state);
}

/* The i-th string of names, or "(none)". */
static const char *name_at(const cJSON *names, int i)
{
	const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(names, i));
	return v ? v : "(none)";
}

/* listdata refusals: no list, out of order, cancel; each ends the list;
 * a new list starts over. */
static void test_list_refusals(void **state)
{
	t_server *s = start(state, NULL);
	t_line l;
	admin_session(s, &l);
	char text[64 * 200] = "";
	for (int i = 0; i < 150; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "{\"command\":\"put\",\"file\":\"e%03d\",\"size\":0,\"chunks\":0}\n", i);
	send_text(&l, text);
	for (int i = 0; i < 150; i++) {
		char name[16];
		snprintf(name, sizeof(name), "e%03d", i);
		expect_exact(&l, put_answer(name, true, ""));
	}

	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), NO_LIST));

	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, 150, 2, ""));
	send_listdata(&l, 1, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), "chunk out of order: expected 0"));
	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), NO_LIST));

	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, 150, 2, ""));
	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(1, false, NULL, ""));
	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), "chunk out of order: expected 1"));
	send_listdata(&l, 1, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), NO_LIST));

	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, 150, 2, ""));
	send_listdata(&l, 0, true);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), BY_CLIENT));
	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(0, true, cJSON_CreateArray(), NO_LIST));

	/* a new list starts over */
	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, 150, 2, ""));
	send_listdata(&l, 0, false);
	expect(&l, listdata_answer(1, false, NULL, ""));
	send_text(&l, "{\"command\":\"list\"}\n");
	expect(&l, list_answer(true, 150, 2, ""));
	send_listdata(&l, 0, false);
	cJSON *first = expect_json(&l, listdata_answer(1, false, NULL, ""));
	cJSON *names = cJSON_GetObjectItem(first, "names");
	assert_int_equal(cJSON_GetArraySize(names), 100);
	assert_string_equal(name_at(names, 0), "e000");
	assert_string_equal(name_at(names, 99), "e099");
	cJSON_Delete(first);
	send_listdata(&l, 1, false);
	cJSON *second = expect_json(&l, listdata_answer(0, false, NULL, ""));
	names = cJSON_GetObjectItem(second, "names");
	assert_int_equal(cJSON_GetArraySize(names), 50);
	assert_string_equal(name_at(names, 49), "e149");
	cJSON_Delete(second);
	expect_open(&l);
	t_line_close(&l);
	t_passed(state);
}

/* ---- events ---- */

/* The next text message of ws, parsed (caller deletes); users counts
 * skipped. */
static cJSON *ws_next(t_ws *ws, const char *waiting_for, int timeout_ms)
{
	for (;;) {
		char *data = NULL;
		size_t len;
		int op = t_ws_recv(ws, &data, &len, NULL, timeout_ms);
		if (op == -1 && timeout_ms == QUIET_MS)
			return NULL;
		cJSON *j = op == 1 ? cJSON_Parse(data) : NULL;
		if (!j) {
			fprintf(stderr, "opcode %d: %.500s\n", op, data ? data : "");
			free(data);
			fail_msg("want %s, got no JSON text message", waiting_for);
		}
		free(data);
		const char *type = t_json_str(j, "type");
		if (!type || strcmp(type, "users"))
			return j;
		cJSON_Delete(j);
	}
}

static void ws_quiet(t_ws *ws, const char *who)
{
	cJSON *j = ws_next(ws, "nothing", QUIET_MS);
	if (j) {
		char *t = cJSON_PrintUnformatted(j);
		fprintf(stderr, "%s got %.1000s\n", who, t);
		cJSON_free(t);
		fail_msg("%s: want nothing before the put is complete", who);
	}
}

/* A put shows on spec 3's /files (created, to the owner) and spec 1's
 * /ws (list_update file_list, then in file_list) once complete, not
 * before; bob sees nothing of it. */
static void test_put_announced(void **state)
{
	t_server *s = start(state, NULL);
	char alice[T_AUTH_MAX], bob[T_AUTH_MAX], md5[40];
	t_add_user(s, "alice", PASS, alice);
	t_add_user(s, "bob", PASS, bob);
	t_ws files, ws, bob_files;
	assert_int_equal(t_ws_connect(&files, s->http_port, "/files", alice), 0);
	assert_int_equal(t_ws_connect(&ws, s->http_port, "/ws", alice), 0);
	assert_int_equal(t_ws_connect(&bob_files, s->http_port, "/files", bob), 0);
	/* the /ws client's file list is empty */
	assert_int_equal(t_ws_send_action(&ws, "file_list", NULL), 0);
	cJSON *j = ws_next(&ws, "file_list", T_TIMEOUT_MS);
	assert_string_equal(t_json_str(j, "type"), "file_list");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "value")), 0);
	cJSON_Delete(j);

	size_t n = CHUNK + 10;
	unsigned char *data = t_make_data(n, 120);
	md5_hex(data, n, md5);
	t_line l;
	open_session(s, &l, "alice", PASS);
	send_put(&l, "docs/ev.txt", (double)n, 2);
	expect_exact(&l, put_answer("docs/ev.txt", true, ""));
	send_putdata(&l, "docs/ev.txt", data, CHUNK, 1, false);
	expect(&l, putdata_answer("docs/ev.txt", CHUNK, false, ""));
	ws_quiet(&files, "alice's /files");
	ws_quiet(&ws, "alice's /ws");
	send_putdata(&l, "docs/ev.txt", data + CHUNK, 10, 0, false);
	expect(&l, putdata_answer("docs/ev.txt", (double)n, false, ""));

	/* /files: created with the file */
	j = ws_next(&files, "the created event", T_TIMEOUT_MS);
	const cJSON *d = cJSON_GetObjectItem(j, "data");
	if (!t_json_str(j, "operation") || strcmp(t_json_str(j, "operation"), "created") ||
	    !t_json_str(j, "kind") || strcmp(t_json_str(j, "kind"), "file") ||
	    !t_json_str(d, "name") || strcmp(t_json_str(d, "name"), "ev.txt") ||
	    !t_json_str(d, "parent") || strcmp(t_json_str(d, "parent"), "docs") ||
	    !t_json_str(d, "md5") || strcmp(t_json_str(d, "md5"), md5) ||
	    num(d, "size") != (double)n ||
	    !t_json_str(j, "id") || strcmp(t_json_str(j, "id"), t_json_str(d, "id")))
		fail_not(j, "alice's created event of docs/ev.txt on /files");
	char key[T_ID_MAX];
	snprintf(key, sizeof(key), "%s", t_json_str(j, "id"));
	cJSON_Delete(j);

	/* /ws: list_update, then the file in file_list */
	j = ws_next(&ws, "list_update", T_TIMEOUT_MS);
	cJSON *want = t_json_parse("{\"type\":\"list_update\",\"value\":\"file_list\"}");
	if (!cJSON_Compare(j, want, true))
		fail_json(j, want);
	cJSON_Delete(want);
	cJSON_Delete(j);
	assert_int_equal(t_ws_send_action(&ws, "file_list", NULL), 0);
	j = ws_next(&ws, "file_list", T_TIMEOUT_MS);
	const cJSON *list = cJSON_GetObjectItem(j, "value");
	const cJSON *entry = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), key);
	if (cJSON_GetArraySize(list) != 1 || !entry || !t_json_str(entry, "name") ||
	    strcmp(t_json_str(entry, "name"), "ev.txt") || !t_json_str(entry, "md5") ||
	    strcmp(t_json_str(entry, "md5"), md5) ||
	    num(entry, "size") != (double)n)
		fail_not(j, "alice's file_list on /ws after the put");
	cJSON_Delete(j);

	ws_quiet(&bob_files, "bob's /files");
	t_line_close(&l);
	t_ws_close(&files);
	t_ws_close(&ws);
	t_ws_close(&bob_files);
	free(data);
	t_passed(state);
}

/* ---- pipelining and back-pressure ---- */

/* 100 status lines, a get and all its getdata (chunks of `chunk` bytes)
 * and 100 more status lines in one write, the answers not read for a
 * while, with send_queue_max 64K (conf) and a small receive buffer: the
 * server stops reading instead of cutting the client off; every answer
 * arrives, in order. */
static void pipelined_get(void **state, const char *conf, size_t chunk, int chunks)
{
	t_server *s = start(state, conf);
	size_t n = (size_t)chunks * chunk - 1;
	unsigned char *data = t_make_data(n, 130);
	t_line l;
	admin_session(s, &l);
	put_file(&l, "pipe.bin", data, n, chunk);

	int small = 16 * KIB;
	setsockopt(l.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	size_t cap = 100 * ((size_t)chunks + 200), len = 0;
	char *all = (char *)malloc(cap);
	assert_non_null(all);
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(all + len, cap - len, "%s", STATUS);
	len += (size_t)snprintf(all + len, cap - len, "{\"command\":\"get\",\"file\":\"pipe.bin\"}\n");
	for (int k = 0; k < chunks; k++)
		len += (size_t)snprintf(all + len, cap - len,
					"{\"command\":\"getdata\",\"file\":\"pipe.bin\",\"chunk\":%d,\"cancel\":false}\n", k);
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(all + len, cap - len, "%s", STATUS);
	assert_true(len < cap);
	note("100 status, get, %d getdata of %zu bytes, 100 status in one write, read later",
	     chunks, chunk);
	assert_int_equal(t_line_send_n(&l, all, len), 0);
	free(all);
	t_sleep_ms(500);

	for (int i = 0; i < 100; i++)
		expect_text(&l, STATUS_OK);
	expect(&l, get_answer("pipe.bin", true, chunks, ""));
	unsigned char *got = (unsigned char *)malloc(n);
	size_t off = 0;
	for (int k = 0; k < chunks; k++)
		expect_getdata(&l, "pipe.bin", chunks - 1 - k, chunk, got, n, &off);
	assert_int_equal(off, n);
	assert_memory_equal(got, data, n);
	free(got);
	for (int i = 0; i < 100; i++)
		expect_text(&l, STATUS_OK);
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* 256 chunks of 16K (4 MiB): many answers, each well under the queue. */
static void test_pipelined_answers_not_read(void **state)
{
	pipelined_get(state, "line_chunk = 16K\nsend_queue_max = 64K\n", 16 * KIB, 256);
}

/* 64 chunks of the default 48K (3 MiB): each getdata answer alone is
 * over send_queue_max (64K). */
static void test_pipelined_big_answers_not_read(void **state)
{
	pipelined_get(state, "send_queue_max = 64K\n", CHUNK, 64);
}

/* send_queue_max 64K with the default line_chunk, whose getdata answers
 * are a little over 64K: a client that reads each answer before asking
 * for the next chunk is not cut off. */
static void test_answer_over_send_queue_max(void **state)
{
	t_server *s = start(state, "send_queue_max = 64K\n");
	size_t n = MIB;
	unsigned char *data = t_make_data(n, 135);
	t_line l;
	admin_session(s, &l);
	put_file(&l, "q.bin", data, n, CHUNK);
	expect_file(&l, "q.bin", data, n, CHUNK);
	expect_open(&l);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* A put sent whole (the put and all its putdata lines in one write)
 * before reading any answer. */
static void test_pipelined_put(void **state)
{
	t_server *s = start(state, NULL);
	size_t n = MIB + 5;
	double chunks = chunks_of(n, CHUNK);
	unsigned char *data = t_make_data(n, 140);
	t_line l;
	admin_session(s, &l);
	size_t cap = n * 2, len = 0;
	char *all = (char *)malloc(cap);
	len += (size_t)snprintf(all, cap, "{\"command\":\"put\",\"file\":\"p.bin\",\"size\":%zu,\"chunks\":%g}\n",
				n, chunks);
	for (size_t off = 0, k = 0; off < n; off += CHUNK, k++) {
		char *pd = putdata_line("p.bin", data + off, n - off < CHUNK ? n - off : CHUNK,
					chunks - 1 - (double)k, false);
		len += (size_t)snprintf(all + len, cap - len, "%s", pd);
		free(pd);
	}
	assert_true(len < cap);
	assert_int_equal(t_line_send_n(&l, all, len), 0);
	free(all);
	expect_exact(&l, put_answer("p.bin", true, ""));
	for (size_t off = CHUNK; off < n + CHUNK; off += CHUNK)
		expect(&l, putdata_answer("p.bin", (double)(off < n ? off : n), false, ""));
	expect_file(&l, "p.bin", data, n, CHUNK);
	t_line_close(&l);
	free(data);
	t_passed(state);
}

/* ---- idle, TLS ---- */

/* A logged-in client silent for idle_timeout (1s) is disconnected. */
static void test_idle_dropped(void **state)
{
	t_server *s = start(state, "idle_timeout = 1s\n");
	t_line l;
	admin_session(s, &l);
	int64_t start = t_now_ms();
	assert_int_equal(t_wait_closed(l.fd, 5000), 1);
	assert_true(t_now_ms() - start >= 800);
	t_line_close(&l);
	t_passed(state);
}

/* With tls_cert and tls_key the line port speaks TLS, and only TLS. */
static void test_tls(void **state)
{
	char cert[PATH_MAX], key[PATH_MAX], conf[2 * PATH_MAX + 64];
	assert_non_null(realpath("tests/data/tls-cert.pem", cert));
	assert_non_null(realpath("tests/data/tls-key.pem", key));
	snprintf(conf, sizeof(conf), "tls_cert = %s\ntls_key = %s\n", cert, key);
	t_server *s = start(state, conf);
	t_line l;
	if (t_line_connect_tls(&l, s->line_port))
		fail_msg("no TLS on line_port");
	send_text(&l, VERSION_LINE);
	expect_text(&l, VERSION_OK);
	send_login(&l, true, "admin", s->password, false);
	expect_text(&l, LOGIN_OK);
	send_text(&l, STATUS);
	expect_text(&l, STATUS_OK);
	unsigned char *data = t_make_data(CHUNK * 2 + 7, 150);
	put_file(&l, "tls.bin", data, CHUNK * 2 + 7, CHUNK);
	expect_file(&l, "tls.bin", data, CHUNK * 2 + 7, CHUNK);
	free(data);
	send_text(&l, CLOSE);
	expect_text(&l, BYE);
	expect_eof(&l);
	t_line_close(&l);

	/* plain text gets no answer */
	line_open(s, &l);
	send_text(&l, VERSION_LINE);
	char line[256];
	int r = t_line_recv(&l, line, sizeof(line), 2000);
	assert_false(r == 1 && !strcmp(line, VERSION_OK));
	t_line_close(&l);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_session_end_to_end),
		T_TEST(test_line_split_across_writes),
		T_TEST(test_many_lines_one_write),
		T_TEST(test_version_refused),
		T_TEST(test_login_errors),
		T_TEST(test_login_cancel),
		T_TEST(test_login_rate_limited),
		T_TEST(test_signup_disabled),
		T_TEST(test_signup),
		T_TEST(test_not_json_logged_in),
		T_TEST(test_line_limit_floor),
		T_TEST(test_line_limit_max_message_size),
		T_TEST(test_missing_and_unknown_command),
		T_TEST(test_put_get_round_trips),
		T_TEST(test_put_get_5mib),
		T_TEST(test_put_replaces_with_revision),
		T_TEST(test_get_snapshot),
		T_TEST(test_names_escaped),
		T_TEST(test_wrong_field_types),
		T_TEST(test_put_refusals),
		T_TEST(test_put_size_near_2_pow_53),
		T_TEST(test_put_size_limits),
		T_TEST(test_put_no_disk_space),
		T_TEST(test_putdata_refusals),
		T_TEST(test_put_cut_short),
		T_TEST(test_get_refusals),
		T_TEST(test_only_own_live_files),
		T_TEST(test_list_many),
		T_TEST(test_list_refusals),
		T_TEST(test_put_announced),
		T_TEST(test_pipelined_answers_not_read),
		T_TEST(test_pipelined_big_answers_not_read),
		T_TEST(test_pipelined_put),
		T_TEST(test_answer_over_send_queue_max),
		T_TEST(test_idle_dropped),
		T_TEST(test_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
