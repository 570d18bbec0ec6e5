/* support.h: what the integration tests use to drive a real cubbyd:
 * start, stop, restart and kill it on a fresh temporary data directory,
 * and talk to it as a client would, over raw TCP, HTTP/1.1 (HTML form
 * posts and their acp answers too), WebSocket (RFC 6455) and the
 * newline-delimited line protocol. The cmocka fixture (T_TEST, t_start,
 * t_passed) gives each test its own server.
 *
 * Every call blocks until it has its answer and gives up after a timeout
 * (poll() before every connect, read and write): a hung server fails a
 * test, it never hangs one. Sockets are non-blocking; read and write
 * them through these functions. Functions return 0 or -1 unless said
 * otherwise, and print why they failed to stderr. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#define T_TIMEOUT_MS 10000

/* ---- the server process ---- */

struct t_server {
	pid_t pid;          /* 0 when not running */
	int http_port, line_port;
	char dir[256];      /* temp dir /tmp/cubby-test-XXXXXX; data in <dir>/data */
	char conf[320];     /* <dir>/cubby.conf */
	char password[64];  /* admin's initial password ("" if none) */
	char log[320];      /* <dir>/stderr.log: cubbyd's stdout and stderr */
};

/* Makes the temp dir, writes the config and starts $CUBBYD (else
 * "build/cubbyd") as `cubbyd -c <conf>`. The config sets data_dir =
 * <dir>/data, bind = 127.0.0.1, http_port and line_port (two free ports),
 * pbkdf2_iterations = 1000 and log_level = debug, then adds the lines of
 * extra_conf (may be NULL). A top-level key in extra_conf replaces the
 * base line of that key (the config refuses a key set twice), and a key
 * given twice in extra_conf keeps its last line. "@DIR@" in extra_conf
 * stands for s->dir (e.g. "log = @DIR@/cubby.log\n").
 * Waits until the HTTP port accepts a connection, then reads
 * <data_dir>/initial-password into s->password. s must be zeroed (or
 * cleaned up) before. On failure prints why and the log, kills the
 * process; t_server_cleanup() still removes the dir. */
int t_server_start(t_server *s, const char *extra_conf);
/* Starts it again on the same dir, conf and ports (stops it first if it
 * still runs) and reads initial-password again. */
int t_server_restart(t_server *s);
/* SIGTERM, then waits up to T_TIMEOUT_MS; returns the exit status
 * (0..255), or -1 if it died of a signal, had to be SIGKILLed or was not
 * running. */
int t_server_stop(t_server *s);
/* SIGKILL and reap. */
void t_server_kill(t_server *s);
/* 1 while the process runs, 0 once it has ended (not reaped: a later
 * t_server_stop() still gets its exit status). */
int t_server_running(t_server *s);
/* Stops it if running (SIGKILL if SIGTERM does not do), removes dir. */
void t_server_cleanup(t_server *s);
/* Prints the server's log (s->log) to stderr. */
void t_server_dump_log(const t_server *s);

/* ---- the test fixture: one cubbyd per test ---- */

/* The fixture of every cmocka test that drives a real cubbyd (HTTP,
 * WebSocket, line protocol alike). List the test with T_TEST(name); the
 * test starts its server with t_start() and ends with t_passed():
 *
 *	static void test_x(void **state)
 *	{
 *		t_server *s = t_start(state, "allow_signup = yes\n");
 *		... talk to s->http_port or s->line_port, assert ...
 *		t_passed(state);
 *	}
 *	const struct CMUnitTest tests[] = { T_TEST(test_x), };
 *
 * A test that fails (does not reach t_passed()) has the server's log
 * printed to stderr; either way teardown stops the server and removes
 * its directory. The functions that can fail the test need cmocka in
 * the test binary (every test binary links it). */
int t_fixture_setup(void **state);    /* cmocka setup: an empty fixture */
int t_fixture_teardown(void **state); /* cmocka teardown: log if failed, clean up */
#define T_TEST(name) cmocka_unit_test_setup_teardown(name, t_fixture_setup, t_fixture_teardown)
/* t_server_start(extra_conf) on the fixture's server; fails the test
 * unless it starts and has an initial admin password. */
t_server *t_start(void **state, const char *extra_conf);
/* t_server_restart() of that server; fails the test unless it starts
 * again. */
void t_restart(void **state);
/* Ends a test: the server must stop on SIGTERM with exit status 0 (under
 * the sanitizers that also means no leak or error at exit). Call it last
 * in every test that called t_start(). */
void t_passed(void **state);

/* ---- byte strings ---- */

/* A growable byte string, kept NUL-terminated (for printing and string
 * functions; it may hold NUL bytes too). Zero it to start; t_buf_free(). */
struct t_buf {
	char *p;
	size_t len, cap;
};
/* Room for `more` bytes after len, and the NUL: 0, or -1 out of memory. */
int t_buf_reserve(t_buf *b, size_t more);
/* Appends n bytes of p (n may be 0); fails the test when out of memory. */
void t_buf_add(t_buf *b, const void *p, size_t n);
void t_buf_str(t_buf *b, const char *s);
void t_buf_free(t_buf *b);

/* ---- TCP ---- */

int64_t t_now_ms(void);                          /* monotonic clock */
void t_sleep_ms(int ms);
int t_connect(int port);                         /* 127.0.0.1; fd or -1 */
int t_send_all(int fd, const void *p, size_t n); /* 0 or -1 */
/* -1 timeout or error, 0 EOF or reset, else bytes read. */
ssize_t t_recv_some(int fd, void *buf, size_t n, int timeout_ms);
/* 1 if the peer closed the connection (EOF or reset) within timeout_ms,
 * discarding any data it sends meanwhile; 0 otherwise. */
int t_wait_closed(int fd, int timeout_ms);

/* ---- base64 and credentials ---- */

/* Standard base64 with padding of p into out (NUL-terminated); the
 * length, or -1 when out is too small. */
int t_base64(const void *p, size_t n, char *out, size_t outsz);
/* "Authorization: Basic base64(user:pass)\r\n" into buf; buf. */
const char *t_basic_header(const char *user, const char *pass, char *buf, size_t n);
/* "Authorization: Bearer token\r\n" into buf; buf. */
const char *t_bearer_header(const char *token, char *buf, size_t n);

/* ---- HTTP/1.1 ---- */

struct t_http_response {
	int status;
	char headers[8192]; /* status line and header lines, as received (cut) */
	char *body;         /* malloc'd, NUL-terminated ("" without a body) */
	size_t body_len;
};

/* One request per connection ("Connection: close"). headers: extra
 * "Name: value\r\n" lines or NULL. Content-Length is sent when a body is
 * given, and as 0 for POST, PUT and PATCH without one, unless headers
 * carry Content-Length or Transfer-Encoding themselves. Reads the answer
 * until Content-Length is satisfied, the chunked body ends, or the server
 * closes (1xx interim answers are skipped). If sending fails, whatever
 * answer the server sent before closing is still read. 0 or -1 (then
 * out->status is 0 and out->body NULL). */
int t_http(int port, const char *method, const char *path, const char *headers,
	   const void *body, size_t body_len, t_http_response *out);
/* Value of a response header (case-insensitive name, first match) into
 * buf, or NULL. */
const char *t_http_header(const t_http_response *r, const char *name, char *buf, size_t n);
/* Parsed body or NULL; caller cJSON_Delete()s. */
cJSON *t_http_json(const t_http_response *r);
void t_http_free(t_http_response *r);
/* The same request over TLS (OpenSSL, any certificate accepted), without
 * a body; read until the server closes. 0 or -1. */
int t_https(int port, const char *method, const char *path, const char *headers,
	    t_http_response *out);
/* POSTs json_body (with Content-Type: application/json); returns the
 * status or -1. When json is not NULL, *json gets the parsed answer
 * (NULL if not JSON). */
int t_http_post_json(int port, const char *path, const char *headers, const char *json_body,
		     cJSON **json);
/* Like t_http_post_json() with any method and an optional body. */
int t_http_json_req(int port, const char *method, const char *path, const char *headers,
		    const char *json_body, cJSON **json);

/* 0 when r has HTTP status `code`, a JSON content type and exactly the
 * body {"error":true,"code":code,"message":message} (those three members,
 * in any order); else -1 with what differs in why. */
int t_check_error(const t_http_response *r, int code, const char *message, char *why, size_t n);
/* Fails the (cmocka) test unless t_check_error() passes, with its why;
 * frees r either way. */
void t_assert_error(t_http_response *r, int code, const char *message);
/* t_check_error() of a message that starts with prefix (the tables that
 * give only the start of a message, "invalid patch: ..."). */
int t_check_error_prefix(const t_http_response *r, int code, const char *prefix, char *why,
			 size_t n);
/* t_assert_error() of a message that starts with prefix. */
void t_assert_error_prefix(t_http_response *r, int code, const char *prefix);
/* The string member key of j, or NULL. */
const char *t_json_str(const cJSON *j, const char *key);
/* JSON text the test wrote itself, parsed; fails the test on a typo.
 * Caller deletes. */
cJSON *t_json_parse(const char *text);
/* Fails the test unless got equals want (member order aside), printing
 * both; and the same against JSON text. */
void t_assert_json(const cJSON *got, const cJSON *want, const char *what);
void t_assert_json_text(const cJSON *got, const char *want, const char *what);
/* Fails the test unless r has header name (any case) with exactly want. */
void t_assert_header(const t_http_response *r, const char *name, const char *want,
		     const char *what);
/* Fails the test unless r is 206 with bytes from..to (inclusive) of the
 * n bytes d and their Content-Range; frees r. */
void t_assert_range(t_http_response *r, const unsigned char *d, size_t n, size_t from,
		    size_t to, const char *what);

/* ---- WebSocket (RFC 6455, masked client frames) ---- */

struct t_ws {
	int fd;
	int status;        /* handshake answer's HTTP status; 0 if none */
	unsigned char *buf; /* received, not yet parsed */
	size_t len, cap;
	/* the message being reassembled across calls to t_ws_recv() */
	unsigned char *msg;
	size_t msg_len;
	int msg_op;        /* 0: none under way */
	bool close_sent;
};

/* GET path (may include ?query) with the Upgrade headers and
 * extra_headers; 0 on 101 Switching Protocols with the right
 * Sec-WebSocket-Accept, else -1 with ws->status set (the fd closed). */
int t_ws_connect(t_ws *ws, int port, const char *path, const char *extra_headers);
/* The Sec-WebSocket-Accept a server must answer to key (RFC 6455 4.2.2). */
void t_ws_accept_for(const char *key, char out[64]);
/* One frame; 0 or -1. */
int t_ws_send(t_ws *ws, int opcode, const void *p, size_t n, bool fin);
int t_ws_send_text(t_ws *ws, const char *s);
/* {"action":action[,"value":value]} as one text message; takes value
 * (may be NULL). */
int t_ws_send_action(t_ws *ws, const char *action, cJSON *value);
/* Next complete message: reassembles fragments, answers pings with
 * pongs, skips pongs. Returns the opcode: 1 text, 2 binary, 8 close (then
 * *close_code is its code, 1005 if none, and *data the reason; a close
 * frame is sent back). *data is malloc'd and NUL-terminated (caller
 * frees), *len its length. Returns 0 when the connection ended without a
 * close frame, -1 on timeout or a protocol error. close_code may be NULL. */
int t_ws_recv(t_ws *ws, char **data, size_t *len, int *close_code, int timeout_ms);
/* Sends close 1000 unless a close was sent already, closes fd, frees. */
void t_ws_close(t_ws *ws);

/* ---- accounts (these fail the cmocka test when the server refuses) ---- */

#define T_TOKEN_MAX 256 /* a session token, NUL included */
#define T_AUTH_MAX 512  /* an "Authorization: ...\r\n" header */

/* POST /api/login as user: the session's token into token (T_TOKEN_MAX
 * bytes). */
void t_login_token(const t_server *s, const char *user, const char *pass, char *token);
/* Creates user with password pass (POST /api/users with the admin's
 * credentials, 201) and logs it in: the bearer header of that session
 * into auth (T_AUTH_MAX bytes). */
void t_add_user(const t_server *s, const char *user, const char *pass, char *auth);

/* ---- the files REST API, spec 3 (these fail the cmocka test when the
 * server answers otherwise) ---- */

#define T_ID_MAX 64 /* a user id or a node key, NUL included */

/* GET /api/me with auth (an "Authorization: ...\r\n" header): the user's
 * id into id (T_ID_MAX bytes). */
void t_user_id(const t_server *s, const char *auth, char *id);
/* method path with auth (may be NULL) and json as the body (with
 * Content-Type: application/json; may be NULL); the status must be want.
 * The parsed answer, NULL when it has no body (caller cJSON_Delete()s). */
cJSON *t_api(const t_server *s, const char *method, const char *path, const char *auth,
	     const char *json, int want);
/* POST /files json as auth, 201 required: the new node's key into key
 * (T_ID_MAX bytes). */
void t_file_create(const t_server *s, const char *auth, const char *json, char *key);
/* PATCH /files/<key>/users as auth with one operation: add role
 * ("reader", "commenter", "writer") for user_id ("anyone": the public
 * grant), or remove it when role is NULL; 200 required. */
void t_file_grant(const t_server *s, const char *auth, const char *key, const char *user_id,
		  const char *role);

/* ---- test data and the data directory (these fail the cmocka test when
 * the directory cannot be read) ---- */

#define T_PATH_MAX 700 /* a path under the data directory */

/* len pseudo-random bytes from seed (xorshift32); malloc'd. */
unsigned char *t_make_data(size_t len, uint32_t seed);
/* <dir>/data/sub[/name] into out (T_PATH_MAX bytes); name may be NULL. */
void t_data_path(const t_server *s, const char *sub, const char *name, char *out);
/* How many entries <data>/sub has ("." and ".." aside); each one's name
 * to visit(name, ctx) when visit is given. */
int t_dir_entries(const t_server *s, const char *sub, void (*visit)(const char *name, void *ctx),
		  void *ctx);
/* Polls until <data>/sub has want entries or timeout_ms pass (the server
 * finishes a close in its own time); the last count. */
int t_wait_entries(const t_server *s, const char *sub, int want, int timeout_ms);
/* The file at path holds exactly data. */
bool t_file_equals(const char *path, const unsigned char *data, size_t len);
/* How many content files (<data>/blobs) hold exactly data. */
int t_blobs_holding(const t_server *s, const unsigned char *data, size_t len);
/* Why an upload needing need_free bytes of free disk cannot run here (a
 * sanitized build, or less room in the data directory's filesystem),
 * written into buf when it is the disk; NULL when it can run. */
const char *t_big_upload_skip(const t_server *s, uint64_t need_free, char *buf, size_t n);

/* ---- the line protocol (raw TCP or TLS, newline-delimited) ---- */

#define T_LINE_MAX (16u << 20) /* the longest line t_line_recv() takes */

struct t_line {
	int fd;
	char *buf;  /* received, not yet taken (malloc'd, grows to T_LINE_MAX) */
	size_t len, cap;
	void *ssl;  /* OpenSSL's SSL * after t_line_connect_tls(), else NULL */
	void *ctx;  /* its SSL_CTX * */
};

int t_line_connect(t_line *l, int port);
/* The same over TLS (any certificate accepted); 0 once the handshake is
 * done, else -1 (l closed). */
int t_line_connect_tls(t_line *l, int port);
int t_line_send(t_line *l, const char *s); /* sends s as is */
int t_line_send_n(t_line *l, const void *p, size_t n);
/* Next line without its '\n' (a '\r' before it is kept) into out,
 * NUL-terminated; 1 ok, 0 EOF, -1 timeout, or a line too long for out
 * or T_LINE_MAX. */
int t_line_recv(t_line *l, char *out, size_t n, int timeout_ms);
/* Like t_line_recv() into a malloc'd *line (caller frees; NULL unless
 * 1 is returned), for lines of any length up to T_LINE_MAX. */
int t_line_recv_alloc(t_line *l, char **line, int timeout_ms);
/* Closes and frees; also right after a failed connect. */
void t_line_close(t_line *l);

/* Decodes standard base64 with '=' padding (the length a multiple of 4);
 * the number of bytes written to out, or -1 when s is not that or out is
 * too small. */
long t_unbase64(const char *s, size_t n, unsigned char *out, size_t outsz);

/* ---- HTML forms, spec 5's POST /fm bodies (these fail the cmocka test
 * on misuse: too many parts, a file in an urlencoded form) ---- */

#define T_FORM_PARTS 32

struct t_form_part {
	char *name;     /* malloc'd */
	char *value;    /* malloc'd: a field's value or a file's bytes */
	size_t len;
	char *filename; /* malloc'd; NULL: a field, not a file */
	char *type;     /* a file part's Content-Type (malloc'd) */
};

struct t_form {
	bool urlencoded;
	int nparts;
	t_form_part part[T_FORM_PARTS];
	char type[128];   /* the Content-Type value, set by t_form_body() */
	char *body;       /* malloc'd by t_form_body() */
	size_t body_len;
};

/* An empty form: multipart/form-data, or urlencoded when asked. */
void t_form_init(t_form *f, bool urlencoded);
/* Appends a field (value a C string); parts go in the order appended. */
void t_form_field(t_form *f, const char *name, const char *value);
/* Appends the fields of NULL-terminated name, value pairs. */
void t_form_fields(t_form *f, ...);
void t_form_vfields(t_form *f, va_list ap);
/* Appends a file part (multipart only): field name, the part's filename
 * ("" allowed) and Content-Type (NULL: application/octet-stream), its
 * bytes copied. */
void t_form_file(t_form *f, const char *name, const char *filename, const char *type,
		 const void *data, size_t len);
/* The body (kept in f, rebuilt on each call) and its length into *len;
 * sets f->type. A multipart boundary is chosen that occurs in no part. */
const char *t_form_body(t_form *f, size_t *len);
/* POSTs the body to path with its Content-Type and extra headers (may be
 * NULL); t_http()'s result. */
int t_form_post(int port, const char *path, const char *headers, t_form *f, t_http_response *out);
void t_form_free(t_form *f);

/* The acp answer (spec 5) in r: HTTP status `status`, a JSON Content-Type
 * and a JSON object whose "type" is "success" or "error"; the parsed
 * object (caller cJSON_Delete()s), or NULL with what differs in why. */
cJSON *t_acp_parse(const t_http_response *r, int status, char *why, size_t n);
/* 0 when r is HTTP `status` with exactly {"type":"error","error":error}
 * (a message that starts with error when prefix); else -1 with why. */
int t_check_acp_error(const t_http_response *r, int status, const char *error, bool prefix,
		      char *why, size_t n);
