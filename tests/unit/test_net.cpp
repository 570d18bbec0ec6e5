/* test_net.cpp: the network layer (src/net) with endpoints of the test's
 * own, served by the real server code in a child process on free ports
 * and driven by real clients over real sockets: the outbound queue cap
 * (a client that does not read is dropped, one that reads gets all),
 * the 1001 every WebSocket gets at shutdown with on_close run for it,
 * WebSocket messages in pieces, the raw-TCP vhost, files served by
 * http_serve_fd() (ranges, If-None-Match, HEAD, keep-alive, a slow or
 * vanishing client), streamed request bodies (CB_STREAM_BODY), Expect:
 * 100-continue and pipelined requests with bodies; and route_find(),
 * range_parse() and etag_matches(), which need no server. cubbyd's own
 * endpoints are tested against the real binary in tests/integration. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <md5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "cubby/auth.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/net.h"
#include "cubby/store.h"
#include "support/support.h"
#include "../../src/net/net_internal.h" /* route_find(), range_parse(), etag_matches() */

#define FLOOD_PIECE (64 * 1024)
#define IDLE_S 2 /* idle_timeout of the test server */

/* ---- the test's endpoints ---- */

static char test_dir[64];        /* the fixture's directory: /file serves from it */
static char closed_marker[300]; /* a file on_close appends to */
static char aborted_marker[300]; /* one /put's on_close appends to when unanswered */

static void note(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		(void)!write(fd, line, strlen(line));
		close(fd);
	}
}

static void note_closed(cb_conn *)
{
	note(closed_marker, "closed\n");
}

/* "N": queues N messages of FLOOD_PIECE bytes at once. */
static int flood_receive(cb_conn *c, const void *data, size_t len, unsigned)
{
	char num[16];
	snprintf(num, sizeof(num), "%.*s", (int)len, (const char *)data);
	static char piece[FLOOD_PIECE];
	memset(piece, 'x', sizeof(piece));
	for (int i = atoi(num); i > 0; i--)
		if (conn_send(c, piece, sizeof(piece), true))
			break;
	return 0;
}

/* Echoes each message once it is whole (state: the pieces so far). */
struct echo_state {
	char buf[65536];
	size_t len;
};

static int echo_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	echo_state *e = (echo_state *)conn_state(c);
	if (flags & CB_MSG_FIRST)
		e->len = 0;
	if (len > sizeof(e->buf) - e->len)
		return -1;
	memcpy(e->buf + e->len, data, len);
	e->len += len;
	if (flags & CB_MSG_FINAL)
		return conn_send(c, e->buf, e->len, flags & CB_MSG_BINARY);
	return 0;
}

static int raw_receive(cb_conn *c, const void *data, size_t len, unsigned)
{
	return conn_send(c, data, len, false);
}

static int raw_open(cb_conn *c)
{
	return conn_send(c, "hello\n", 6, false);
}

/* Greets the caller by name (an endpoint that needs a session). */
static int private_open(cb_conn *c)
{
	const cb_user *u = conn_user(c);
	return conn_send(c, u->name, strlen(u->name), false);
}

/* /live: a subscriber of the event bus that relays, through the
 * connection's queue, every event its user may see and its own
 * connection did not cause; a text message creates a node of that name. */
struct live_state {
	cb_subscriber sub;
	char user[CB_ID_LEN + 1];
	cb_conn *conn;
};

static void live_event(const cb_event *ev, const char *, void *ctx)
{
	live_state *l = (live_state *)ctx;
	if (ev->origin == l->conn)
		return;
	char msg[CB_NAME_MAX + 32];
	int n = snprintf(msg, sizeof(msg), "%s %s", event_op_name(ev->op), ev->node->name);
	conn_send(l->conn, msg, (size_t)n, false);
}

static int live_open(cb_conn *c)
{
	live_state *l = (live_state *)conn_state(c);
	strcpy(l->user, conn_user(c)->id);
	l->conn = c;
	l->sub.user = l->user;
	l->sub.fn = live_event;
	l->sub.ctx = l;
	events_subscribe(conn_store(c), &l->sub);
	return 0;
}

static int live_receive(cb_conn *c, const void *data, size_t len, unsigned)
{
	cb_node n;
	node_init(&n);
	strcpy(n.kind, "file");
	snprintf(n.name, sizeof(n.name), "%.*s", (int)len, (const char *)data);
	cb_status s = store_node_create(conn_store(c), conn_user(c)->id, &n, 0);
	node_clear(&n);
	return conn_send(c, s ? "error" : "ok", s ? 5 : 2, false);
}

static void live_close(cb_conn *c)
{
	live_state *l = (live_state *)conn_state(c);
	events_unsubscribe(conn_store(c), &l->sub);
}

/* /stream: "N" sends N pieces of FLOOD_PIECE bytes, one each time the
 * client has taken the last, then "end". */
struct stream_state {
	int left;
};

static int stream_receive(cb_conn *c, const void *data, size_t len, unsigned)
{
	char num[16];
	snprintf(num, sizeof(num), "%.*s", (int)len, (const char *)data);
	((stream_state *)conn_state(c))->left = atoi(num);
	conn_want_writable(c);
	return 0;
}

static int stream_writable(cb_conn *c)
{
	stream_state *st = (stream_state *)conn_state(c);
	static char piece[FLOOD_PIECE];
	if (!st->left)
		return conn_send(c, "end", 3, false);
	st->left--;
	conn_want_writable(c);
	return conn_send(c, piece, sizeof(piece), true);
}

/* /tick: "tick 1", "tick 2", "tick 3" 50 ms apart, then close 4000. */
static int tick_open(cb_conn *c)
{
	conn_timer(c, 50);
	return 0;
}

static int tick_timer(cb_conn *c)
{
	int *n = (int *)conn_state(c);
	char msg[32];
	snprintf(msg, sizeof(msg), "tick %d", ++*n);
	if (*n < 3)
		conn_timer(c, 50);
	int r = conn_send(c, msg, strlen(msg), false);
	if (*n == 3)
		conn_close(c, 4000, "done");
	return r;
}

/* /file/<name>: <test_dir>/<name>, ETag "e1", x-extra: yes. */
static int file_request(cb_conn *c)
{
	char path[320];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", test_dir, conn_path_rest(c));
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return http_error(c, 404, "no such file");
	}
	const cb_header extra[] = {{"x-extra:", "yes"}, {NULL, NULL}};
	return http_serve_fd(c, fd, (uint64_t)st.st_size, "text/plain", "\"e1\"", extra);
}

/* /put (CB_STREAM_BODY): MD5s the body as it comes and answers at FINAL
 * {"length","type","bytes","md5","pieces","flags_ok","final_empty"};
 * ?limit=N: 413 before the body when it is longer; ?fail_at=N: 400 once
 * N bytes are in. One that goes unanswered notes "aborted". */
struct put_state {
	MD5_CTX md5;
	uint64_t bytes, fail_at;
	unsigned pieces;
	bool flags_ok, answered;
};

static int put_answer(cb_conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int put_answer(cb_conn *c, int status, const char *fmt, ...)
{
	((put_state *)conn_state(c))->answered = true;
	char body[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return status == 200 ? http_reply(c, 200, "application/json", body, (size_t)n, NULL)
			     : http_error(c, status, "%s", body);
}

static int put_request(cb_conn *c)
{
	put_state *p = (put_state *)conn_state(c);
	char v[32];
	MD5Init(&p->md5);
	p->flags_ok = true;
	if (conn_query(c, "limit", v, sizeof(v)) && conn_content_length(c) > strtoull(v, NULL, 10))
		return put_answer(c, 413, "too large");
	if (conn_query(c, "fail_at", v, sizeof(v)))
		p->fail_at = strtoull(v, NULL, 10);
	return 0;
}

static int put_receive(cb_conn *c, const void *data, size_t len, unsigned flags)
{
	put_state *p = (put_state *)conn_state(c);
	p->flags_ok = p->flags_ok && !!(flags & CB_MSG_FIRST) == !p->pieces && !p->answered;
	p->pieces++;
	p->bytes += len;
	MD5Update(&p->md5, (const uint8_t *)data, len);
	if (p->fail_at && p->bytes >= p->fail_at)
		return put_answer(c, 400, "failed");
	if (!(flags & CB_MSG_FINAL))
		return 0;
	char md5[MD5_DIGEST_STRING_LENGTH], type[64];
	MD5End(&p->md5, md5);
	return put_answer(c, 200,
			  "{\"length\":%llu,\"type\":\"%s\",\"bytes\":%llu,\"md5\":\"%s\","
			  "\"pieces\":%u,\"flags_ok\":%s,\"final_empty\":%s}",
			  (unsigned long long)conn_content_length(c),
			  conn_header(c, CB_HDR_CONTENT_TYPE, type, sizeof(type)) ? type : "",
			  (unsigned long long)p->bytes, md5, p->pieces, p->flags_ok ? "true" : "false",
			  len ? "false" : "true");
}

static void put_close(cb_conn *c)
{
	if (!((put_state *)conn_state(c))->answered)
		note(aborted_marker, "aborted\n");
}

/* /echo-len: a buffered body's length. */
static int echo_len_request(cb_conn *c)
{
	size_t len;
	char body[32];
	conn_body(c, &len);
	int n = snprintf(body, sizeof(body), "{\"len\":%zu}", len);
	return http_reply(c, 200, "application/json", body, (size_t)n, NULL);
}

static const cb_endpoint test_endpoints[] = {
	CB_HTTP_ROUTE(CB_GET, "/file/*", 0, file_request),
	{CB_HTTP, CB_PUT | CB_POST, "/put", CB_STREAM_BODY, sizeof(put_state), put_request, NULL,
	 put_receive, put_close, NULL, NULL, NULL},
	CB_HTTP_ROUTE(CB_POST, "/echo-len", 0, echo_len_request),
	{CB_WS, 0, "/stream", 0, sizeof(stream_state), NULL, NULL, stream_receive, NULL,
	 stream_writable, NULL, NULL},
	{CB_WS, 0, "/tick", 0, sizeof(int), NULL, tick_open, NULL, NULL, NULL, tick_timer, NULL},
	{CB_WS, 0, "/live", CB_NEED_USER, sizeof(live_state), NULL, live_open, live_receive, live_close, NULL, NULL, NULL},
	{CB_WS, 0, "/private", CB_NEED_USER, 0, NULL, private_open, NULL, NULL, NULL, NULL, NULL},
	{CB_WS, 0, "/flood", 0, 0, NULL, NULL, flood_receive, note_closed, NULL, NULL, NULL},
	{CB_WS, 0, "/echo", 0, sizeof(echo_state), NULL, NULL, echo_receive, note_closed, NULL, NULL, NULL},
	{CB_RAW, 0, NULL, 0, 0, NULL, raw_open, raw_receive, note_closed, NULL, NULL, NULL},
	{},
};
static const cb_endpoint *const test_tables[] = {test_endpoints, NULL};

/* ---- the server in a child process ---- */

struct fx {
	char dir[64];
	pid_t pid;
	int http_port, line_port;
	char token[CB_TOKEN_LEN + 1]; /* a session of user "alice", password "pw" */
	char bob_token[CB_TOKEN_LEN + 1]; /* and of "bob" */
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &n)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void test_config(const fx *f, cb_config *cfg)
{
	config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s/data", f->dir);
	cfg->pbkdf2_iterations = 1000;
}

/* Before the server starts: user alice and a session of hers. */
static int make_user(fx *f)
{
	static cb_config cfg;
	cb_store *st;
	cb_user u;
	test_config(f, &cfg);
	if (store_open(&cfg, &st))
		return -1;
	cb_status s = auth_user_create(st, "alice", "pw", false, &u);
	if (!s)
		s = auth_session_create(st, &u, cb_now_ms(), f->token);
	if (!s)
		s = auth_user_create(st, "bob", "pw", false, &u);
	if (!s)
		s = auth_session_create(st, &u, cb_now_ms(), f->bob_token);
	store_close(st);
	return s ? -1 : 0;
}

static void serve(const fx *f)
{
	static cb_config cfg;
	cb_store *st;
	test_config(f, &cfg);
	strcpy(cfg.bind, "127.0.0.1");
	cfg.http_port = f->http_port;
	cfg.line_port = f->line_port;
	cfg.send_queue_max = 1 << 20;
	cfg.idle_timeout = IDLE_S;
	cfg.log_level = CB_LOG_WARN;
	log_open("stderr", cfg.log_level);
	if (store_open(&cfg, &st))
		_exit(3);
	server_install_signals();
	cb_server *srv = server_create(&cfg, st, test_tables);
	int rc = srv ? server_run(srv) : 4;
	server_destroy(srv);
	store_close(st);
	_exit(rc);
}

static int setup(void **state)
{
	fx *f = (fx *)calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/cubby-test-net-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(test_dir, sizeof(test_dir), "%s", f->dir);
	snprintf(closed_marker, sizeof(closed_marker), "%s/closed", f->dir);
	snprintf(aborted_marker, sizeof(aborted_marker), "%s/aborted", f->dir);
	f->http_port = free_port();
	f->line_port = free_port();
	if (make_user(f))
		return -1;
	if ((f->pid = fork()) == 0)
		serve(f);
	for (int64_t end = t_now_ms() + T_TIMEOUT_MS; t_now_ms() < end; t_sleep_ms(20)) {
		int fd = t_connect(f->http_port);
		if (fd >= 0) {
			close(fd);
			*state = f;
			return 0;
		}
	}
	return -1;
}

/* SIGTERM and the exit status (-1 when it did not exit by itself). */
static int stop_server(fx *f)
{
	if (!f->pid)
		return -1;
	int status;
	kill(f->pid, SIGTERM);
	for (int64_t end = t_now_ms() + T_TIMEOUT_MS; t_now_ms() < end; t_sleep_ms(10)) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			f->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, &status, 0);
	f->pid = 0;
	return -1;
}

static int rm_entry(const char *path, const struct stat *, int, struct FTW *)
{
	return remove(path);
}

static int teardown(void **state)
{
	fx *f = (fx *)*state;
	stop_server(f);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int count_lines(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	int lines = 0;
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

/* ---- tests ---- */

/* Under the cap, a client gets every message. */
static void test_queue_under_cap_delivers_all(void **state)
{
	fx *f = (fx *)*state;
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/flood", NULL), 0);
	assert_int_equal(t_ws_send_text(&ws, "8"), 0); /* 512 KiB < 1 MiB */
	for (int i = 0; i < 8; i++) {
		char *data;
		size_t len;
		assert_int_equal(t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS), 2);
		assert_int_equal(len, FLOOD_PIECE);
		free(data);
	}
	t_ws_close(&ws);
}

/* A client that does not read while more than send_queue_max piles up
 * is disconnected; the server goes on serving others. */
static void test_queue_cap_drops_slow_reader(void **state)
{
	fx *f = (fx *)*state;
	t_ws slow;
	assert_int_equal(t_ws_connect(&slow, f->http_port, "/flood", NULL), 0);
	assert_int_equal(t_ws_send_text(&slow, "1000"), 0); /* 64 MiB */
	assert_int_equal(t_wait_closed(slow.fd, T_TIMEOUT_MS), 1);
	t_ws_close(&slow);

	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/echo", NULL), 0);
	assert_int_equal(t_ws_send_text(&ws, "still here"), 0);
	char *data;
	size_t len;
	assert_int_equal(t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS), 1);
	assert_string_equal(data, "still here");
	free(data);
	t_ws_close(&ws);
}

/* A message sent in several frames reaches the endpoint in pieces
 * flagged FIRST ... FINAL, and a binary one is flagged binary. */
static void test_ws_message_in_pieces(void **state)
{
	fx *f = (fx *)*state;
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/echo?x=1", NULL), 0);
	assert_int_equal(t_ws_send(&ws, 2, "abc", 3, false), 0);
	assert_int_equal(t_ws_send(&ws, 0, "def", 3, false), 0);
	assert_int_equal(t_ws_send(&ws, 0, "", 0, true), 0);
	char *data;
	size_t len;
	assert_int_equal(t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS), 2);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "abcdef", 6);
	free(data);
	t_ws_close(&ws);
}

/* SIGTERM: every WebSocket gets close 1001, on_close runs for each open
 * connection, the server exits 0. */
static void test_shutdown_sends_1001(void **state)
{
	fx *f = (fx *)*state;
	t_ws a, b;
	t_line l;
	char line[64];
	assert_int_equal(t_ws_connect(&a, f->http_port, "/echo", NULL), 0);
	assert_int_equal(t_ws_connect(&b, f->http_port, "/flood", NULL), 0);
	assert_int_equal(t_line_connect(&l, f->line_port), 0);
	assert_int_equal(t_line_recv(&l, line, sizeof(line), T_TIMEOUT_MS), 1);

	kill(f->pid, SIGTERM);
	t_ws *both[] = {&a, &b};
	for (t_ws *ws : both) {
		char *data;
		size_t len;
		int code = 0;
		assert_int_equal(t_ws_recv(ws, &data, &len, &code, T_TIMEOUT_MS), 8);
		assert_int_equal(code, 1001);
		assert_string_equal(data, "server shutting down");
		free(data);
		t_ws_close(ws);
	}
	assert_int_equal(t_line_recv(&l, line, sizeof(line), T_TIMEOUT_MS), 0);
	t_line_close(&l);
	assert_int_equal(stop_server(f), 0);
	assert_int_equal(count_lines(closed_marker), 3);
}

/* The raw vhost: a greeting from on_open, then an echo of each piece. */
static void test_raw_endpoint(void **state)
{
	fx *f = (fx *)*state;
	t_line l;
	char line[64];
	assert_int_equal(t_line_connect(&l, f->line_port), 0);
	assert_int_equal(t_line_recv(&l, line, sizeof(line), T_TIMEOUT_MS), 1);
	assert_string_equal(line, "hello");
	assert_int_equal(t_line_send(&l, "ping\n"), 0);
	assert_int_equal(t_line_recv(&l, line, sizeof(line), T_TIMEOUT_MS), 1);
	assert_string_equal(line, "ping");
	t_line_close(&l);
}

/* Paths no endpoint serves are refused before the handshake. */
static void test_unknown_ws_path_refused(void **state)
{
	fx *f = (fx *)*state;
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/echo/more", NULL), -1);
	assert_int_equal(ws.status, 404);
}

/* Greeted by name when connected with the session as Bearer, cookie or
 * ?token=, or with HTTP Basic; refused with 401 otherwise. */
#define REFUSED (-1) /* want_status: the connection closed, no answer */

static void expect_private(fx *f, const char *path, const char *headers, int want_status)
{
	t_ws ws;
	int r = t_ws_connect(&ws, f->http_port, path, headers);
	if (want_status) {
		assert_int_equal(r, -1);
		assert_int_equal(ws.status, want_status == REFUSED ? 0 : want_status);
		return;
	}
	assert_int_equal(r, 0);
	char *data;
	size_t len;
	assert_int_equal(t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS), 1);
	assert_string_equal(data, "alice");
	free(data);
	t_ws_close(&ws);
}

static void test_ws_credentials(void **state)
{
	fx *f = (fx *)*state;
	char h[512], path[256];
	expect_private(f, "/private", NULL, 401);
	expect_private(f, "/private?token=0123", NULL, 401);
	snprintf(path, sizeof(path), "/private?token=%s", f->token);
	expect_private(f, path, NULL, 0);
	expect_private(f, "/private", t_bearer_header(f->token, h, sizeof(h)), 0);
	snprintf(h, sizeof(h), "Cookie: a=b; cubby_session=%s\r\n", f->token);
	expect_private(f, "/private", h, 0);
	expect_private(f, "/private", t_basic_header("alice", "pw", h, sizeof(h)), 0);
	/* behind a long argument; in the second of two Cookie headers */
	char x[101];
	memset(x, 'x', 100);
	x[100] = 0;
	snprintf(path, sizeof(path), "/private?x=%s&token=%s", x, f->token);
	expect_private(f, path, NULL, 0);
	snprintf(h, sizeof(h), "Cookie: a=b\r\nCookie: cubby_session=%s\r\n", f->token);
	expect_private(f, "/private", h, 0);
	/* a subprotocol other than cubby's own: closed without an answer */
	t_bearer_header(f->token, h, sizeof(h));
	strcat(h, "Sec-WebSocket-Protocol: http\r\n");
	expect_private(f, "/private", h, REFUSED);
	expect_private(f, "/private", t_basic_header("alice", "nope", h, sizeof(h)), 401);
}

/* A raw client silent for idle_timeout is dropped. */
static void test_idle_raw_dropped(void **state)
{
	fx *f = (fx *)*state;
	t_line l;
	char line[64];
	assert_int_equal(t_line_connect(&l, f->line_port), 0);
	assert_int_equal(t_line_recv(&l, line, sizeof(line), T_TIMEOUT_MS), 1);
	int64_t start = t_now_ms();
	assert_int_equal(t_wait_closed(l.fd, 4 * IDLE_S * 1000), 1);
	assert_true(t_now_ms() - start >= IDLE_S * 1000 - 200);
	t_line_close(&l);
}

/* A WebSocket that answers pings stays however silent it is; one that
 * does not answer is dropped. */
static void test_idle_ws_pinged(void **state)
{
	fx *f = (fx *)*state;
	t_ws live, dead;
	assert_int_equal(t_ws_connect(&live, f->http_port, "/echo", NULL), 0);
	assert_int_equal(t_ws_connect(&dead, f->http_port, "/echo", NULL), 0);
	char *data;
	size_t len;
	/* the live one answers pings while it waits (in t_ws_recv) */
	for (int64_t end = t_now_ms() + 3 * IDLE_S * 1000; t_now_ms() < end;)
		assert_int_equal(t_ws_recv(&live, &data, &len, NULL, 250), -1);
	assert_int_equal(t_wait_closed(dead.fd, IDLE_S * 1000), 1);
	assert_int_equal(t_ws_send_text(&live, "here"), 0);
	assert_int_equal(t_ws_recv(&live, &data, &len, NULL, T_TIMEOUT_MS), 1);
	assert_string_equal(data, "here");
	free(data);
	t_ws_close(&live);
	t_ws_close(&dead);
}

static void live_connect(fx *f, t_ws *ws, const char *token)
{
	char path[128];
	snprintf(path, sizeof(path), "/live?token=%s", token);
	assert_int_equal(t_ws_connect(ws, f->http_port, path, NULL), 0);
}

static void expect_text(t_ws *ws, const char *want)
{
	char *data;
	size_t len;
	assert_int_equal(t_ws_recv(ws, &data, &len, NULL, T_TIMEOUT_MS), 1);
	assert_string_equal(data, want);
	free(data);
}

/* A mutation made through one connection reaches, through their queues,
 * the other connections of users who may see it, and not its own. */
static void test_events_through_queues(void **state)
{
	fx *f = (fx *)*state;
	t_ws a, b, bob;
	live_connect(f, &a, f->token);
	live_connect(f, &b, f->token);
	live_connect(f, &bob, f->bob_token);
	assert_int_equal(t_ws_send_text(&a, "x.txt"), 0);
	expect_text(&a, "ok");
	expect_text(&b, "created x.txt");
	/* bob hears of his own node from his own connection only as "ok",
	 * and never heard of alice's */
	assert_int_equal(t_ws_send_text(&bob, "y.txt"), 0);
	expect_text(&bob, "ok");
	/* a's next message is about nothing but its own request */
	assert_int_equal(t_ws_send_text(&a, "z.txt"), 0);
	expect_text(&a, "ok");
	expect_text(&b, "created z.txt");
	t_ws_close(&a);
	t_ws_close(&b);
	t_ws_close(&bob);
}

/* What goes out as the client reads is not held against the queue cap:
 * 4 MiB through a 1 MiB cap. */
static void test_stream_as_client_reads(void **state)
{
	fx *f = (fx *)*state;
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/stream", NULL), 0);
	assert_int_equal(t_ws_send_text(&ws, "64"), 0);
	for (int i = 0; i < 64; i++) {
		char *data;
		size_t len;
		assert_int_equal(t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS), 2);
		assert_int_equal(len, FLOOD_PIECE);
		free(data);
	}
	expect_text(&ws, "end");
	t_ws_close(&ws);
}

/* A connection's timer, and a close with the endpoint's own code from it. */
static void test_timer_and_close_code(void **state)
{
	fx *f = (fx *)*state;
	t_ws ws;
	assert_int_equal(t_ws_connect(&ws, f->http_port, "/tick", NULL), 0);
	expect_text(&ws, "tick 1");
	expect_text(&ws, "tick 2");
	expect_text(&ws, "tick 3");
	char *data;
	size_t len;
	int code;
	assert_int_equal(t_ws_recv(&ws, &data, &len, &code, T_TIMEOUT_MS), 8);
	assert_int_equal(code, 4000);
	assert_string_equal(data, "done");
	free(data);
	t_ws_close(&ws);
}

/* ---- HTTP: files, streamed bodies, 100-continue ---- */

/* Writes data to <dir>/name. */
static void put_file(fx *f, const char *name, const void *data, size_t len)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* t_http GET /file/name with headers; the status (r kept for the caller
 * to check and free). */
static int get_file(fx *f, const char *method, const char *name, const char *headers,
		    t_http_response *r)
{
	char path[128];
	snprintf(path, sizeof(path), "/file/%s", name);
	assert_int_equal(t_http(f->http_port, method, path, headers, NULL, 0, r), 0);
	return r->status;
}

static void expect_header(const t_http_response *r, const char *name, const char *want)
{
	char v[256];
	const char *got = t_http_header(r, name, v, sizeof(v));
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

/* One answer read from fd exactly (nothing of a next one), 1xx included:
 * its status (-1: none), head and body (malloc'd; NULL: not wanted). */
static int read_answer(int fd, char *head, size_t hn, char **body, size_t *blen, bool no_body)
{
	size_t n = 0;
	while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4)) {
		if (n + 1 >= hn || t_recv_some(fd, head + n, 1, T_TIMEOUT_MS) != 1)
			return -1;
		n++;
	}
	head[n] = '\0';
	int status;
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	const char *cl = strcasestr(head, "\r\ncontent-length:");
	size_t len = cl && !no_body && status >= 200 && status != 304 ?
			     strtoull(cl + 17, NULL, 10) : 0;
	char *b = (char *)malloc(len + 1);
	for (size_t got = 0; got < len;) {
		ssize_t m = t_recv_some(fd, b + got, len - got, T_TIMEOUT_MS);
		if (m <= 0) {
			free(b);
			return -1;
		}
		got += (size_t)m;
	}
	b[len] = '\0';
	if (body) {
		*body = b;
		*blen = len;
	} else {
		free(b);
	}
	return status;
}

/* Sends s on fd and reads the answer; its status. */
static int ask(int fd, const char *s, char *head, size_t hn, char **body, size_t *blen,
	       bool no_body = false)
{
	assert_int_equal(t_send_all(fd, s, strlen(s)), 0);
	return read_answer(fd, head, hn, body, blen, no_body);
}

static void md5_hex(const void *p, size_t n, char *hex)
{
	MD5Data((const uint8_t *)p, n, hex);
}

/* A file answers 200 whole; one Range is 206 (a-b, a-, -n, clamped),
 * one past the end 416; other Range values are ignored; If-None-Match
 * with the ETag is 304; HEAD has the headers without the body. */
static void test_serve_fd(void **state)
{
	fx *f = (fx *)*state;
	const size_t size = 200000;
	unsigned char *data = t_make_data(size, 7);
	put_file(f, "f1", data, size);
	put_file(f, "empty", "", 0);
	t_http_response r;

	assert_int_equal(get_file(f, "GET", "f1", NULL, &r), 200);
	assert_int_equal(r.body_len, size);
	assert_memory_equal(r.body, data, size);
	expect_header(&r, "content-length", "200000");
	expect_header(&r, "content-type", "text/plain");
	expect_header(&r, "etag", "\"e1\"");
	expect_header(&r, "accept-ranges", "bytes");
	expect_header(&r, "x-extra", "yes");
	expect_header(&r, "content-range", NULL);
	t_http_free(&r);

	static const struct {
		const char *range;
		size_t first, len;
		const char *content_range;
	} ranges[] = {
		{"bytes=1000-1999", 1000, 1000, "bytes 1000-1999/200000"},
		{"bytes=199990-", 199990, 10, "bytes 199990-199999/200000"},
		{"bytes=-5", 199995, 5, "bytes 199995-199999/200000"},
		{"bytes=-300000", 0, 200000, "bytes 0-199999/200000"},
		{"bytes=100-999999", 100, 199900, "bytes 100-199999/200000"},
		{"bytes=0-0", 0, 1, "bytes 0-0/200000"},
	};
	for (const auto &g : ranges) {
		char h[64];
		snprintf(h, sizeof(h), "Range: %s\r\n", g.range);
		assert_int_equal(get_file(f, "GET", "f1", h, &r), 206);
		expect_header(&r, "content-range", g.content_range);
		assert_int_equal(r.body_len, g.len);
		assert_memory_equal(r.body, data + g.first, g.len);
		t_http_free(&r);
	}

	const char *past[] = {"bytes=200000-", "bytes=300000-300010", "bytes=-0"};
	for (const char *range : past) {
		char h[64];
		snprintf(h, sizeof(h), "Range: %s\r\n", range);
		assert_int_equal(get_file(f, "GET", "f1", h, &r), 416);
		expect_header(&r, "content-range", "bytes */200000");
		t_assert_error(&r, 416, "range not satisfiable");
	}

	const char *ignored[] = {"bytes=0-1,5-6", "bytes=5-1", "bytes=x", "lines=1-2", "bytes=1"};
	for (const char *range : ignored) {
		char h[64];
		snprintf(h, sizeof(h), "Range: %s\r\n", range);
		assert_int_equal(get_file(f, "GET", "f1", h, &r), 200);
		assert_int_equal(r.body_len, size);
		t_http_free(&r);
	}

	const char *match[] = {"\"e1\"", "*", "\"x\", \"e1\"", "W/\"e1\""};
	for (const char *inm : match) {
		char h[128];
		snprintf(h, sizeof(h), "If-None-Match: %s\r\nRange: bytes=0-1\r\n", inm);
		assert_int_equal(get_file(f, "GET", "f1", h, &r), 304);
		assert_int_equal(r.body_len, 0);
		expect_header(&r, "etag", "\"e1\"");
		t_http_free(&r);
	}
	assert_int_equal(get_file(f, "GET", "f1", "If-None-Match: \"e2\"\r\n", &r), 200);
	assert_int_equal(r.body_len, size);
	t_http_free(&r);

	assert_int_equal(get_file(f, "HEAD", "f1", NULL, &r), 200);
	expect_header(&r, "content-length", "200000");
	expect_header(&r, "etag", "\"e1\"");
	assert_int_equal(r.body_len, 0);
	t_http_free(&r);
	assert_int_equal(get_file(f, "HEAD", "f1", "Range: bytes=10-19\r\n", &r), 206);
	expect_header(&r, "content-length", "10");
	t_http_free(&r);

	assert_int_equal(get_file(f, "GET", "empty", NULL, &r), 200);
	expect_header(&r, "content-length", "0");
	t_http_free(&r);
	assert_int_equal(get_file(f, "GET", "empty", "Range: bytes=0-\r\n", &r), 416);
	expect_header(&r, "content-range", "bytes */0");
	t_http_free(&r);
	free(data);
}

/* Every kind of answer, served file or streamed body, completes its
 * transaction: the next request on the connection is served. */
static void test_http_keep_alive(void **state)
{
	fx *f = (fx *)*state;
	const size_t size = 300000;
	unsigned char *data = t_make_data(size, 9);
	put_file(f, "f2", data, size);
	char head[4096], *body, req[512], md5[MD5_DIGEST_STRING_LENGTH];
	size_t len;
	int fd = t_connect(f->http_port);
	assert_true(fd >= 0);

	assert_int_equal(ask(fd, "GET /file/f2 HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head),
			     &body, &len), 200);
	assert_int_equal(len, size);
	assert_memory_equal(body, data, size);
	free(body);
	assert_int_equal(ask(fd, "GET /file/f2 HTTP/1.1\r\nHost: x\r\nRange: bytes=7-9\r\n\r\n",
			     head, sizeof(head), &body, &len), 206);
	assert_int_equal(len, 3);
	assert_memory_equal(body, data + 7, 3);
	free(body);
	assert_int_equal(ask(fd, "GET /file/f2 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"e1\"\r\n\r\n",
			     head, sizeof(head), NULL, NULL), 304);
	assert_int_equal(ask(fd, "HEAD /file/f2 HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head),
			     NULL, NULL, true), 200);
	assert_int_equal(ask(fd, "GET /file/f2 HTTP/1.1\r\nHost: x\r\nRange: bytes=300000-\r\n\r\n",
			     head, sizeof(head), NULL, NULL), 416);
	snprintf(req, sizeof(req), "PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		 size);
	assert_int_equal(t_send_all(fd, req, strlen(req)), 0);
	assert_int_equal(t_send_all(fd, data, size), 0);
	assert_int_equal(read_answer(fd, head, sizeof(head), &body, &len, false), 200);
	md5_hex(data, size, md5);
	assert_non_null(strstr(body, md5));
	free(body);
	assert_int_equal(ask(fd, "PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", head,
			     sizeof(head), NULL, NULL), 200);
	assert_int_equal(ask(fd, "GET /file/f2 HTTP/1.1\r\nHost: x\r\nRange: bytes=-1\r\n\r\n",
			     head, sizeof(head), &body, &len), 206);
	assert_int_equal(len, 1);
	free(body);
	close(fd);
	free(data);
}

/* The child's resident memory, kB. */
static long child_rss_kb(fx *f)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)f->pid);
	FILE *st = fopen(path, "r");
	while (st && fgets(line, sizeof(line), st))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (st)
		fclose(st);
	return kb;
}

/* How many of the child's descriptors are open on <dir>/name. */
static int child_fds_on(fx *f, const char *name)
{
	char dir[64], link[600], target[300], want[300];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)f->pid);
	snprintf(want, sizeof(want), "%s/%s", f->dir, name);
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += !strcmp(target, want);
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* A large file goes out as the client reads it: a client that does not
 * read costs the server no memory for it; the file is open while it is
 * served and closed once it is out, or the client is gone midway. */
static void test_serve_fd_as_client_reads(void **state)
{
	fx *f = (fx *)*state;
	const size_t size = 48 << 20;
	unsigned char *data = t_make_data(size, 11);
	put_file(f, "big", data, size);
	char head[4096], md5[MD5_DIGEST_STRING_LENGTH], got_md5[MD5_DIGEST_STRING_LENGTH];
	long before = child_rss_kb(f);

	int fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	const char *get = "GET /file/big HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(t_send_all(fd, get, strlen(get)), 0);
	t_sleep_ms(500);
	assert_int_equal(child_fds_on(f, "big"), 1);
	long during = child_rss_kb(f);
	assert_true(before > 0 && during - before < 8 * 1024);
	char *body;
	size_t len;
	assert_int_equal(read_answer(fd, head, sizeof(head), &body, &len, false), 200);
	assert_int_equal(len, size);
	md5_hex(data, size, md5);
	md5_hex(body, len, got_md5);
	assert_string_equal(got_md5, md5);
	free(body);
	int64_t end = t_now_ms() + T_TIMEOUT_MS;
	while (child_fds_on(f, "big") && t_now_ms() < end)
		t_sleep_ms(10);
	assert_int_equal(child_fds_on(f, "big"), 0);
	close(fd);

	/* gone midway */
	fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	assert_int_equal(t_send_all(fd, get, strlen(get)), 0);
	char piece[65536];
	assert_true(t_recv_some(fd, piece, sizeof(piece), T_TIMEOUT_MS) > 0);
	assert_int_equal(child_fds_on(f, "big"), 1);
	close(fd);
	end = t_now_ms() + T_TIMEOUT_MS;
	while (child_fds_on(f, "big") && t_now_ms() < end)
		t_sleep_ms(10);
	assert_int_equal(child_fds_on(f, "big"), 0);
	free(data);
}

/* The JSON /put answered for a body. */
static cJSON *put_json(fx *f, const char *method, const char *headers, const void *body,
		       size_t len, int want)
{
	t_http_response r;
	assert_int_equal(t_http(f->http_port, method, "/put", headers, body, len, &r), 0);
	assert_int_equal(r.status, want);
	cJSON *j = t_http_json(&r);
	t_http_free(&r);
	assert_non_null(j);
	return j;
}

static double json_num(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

/* A streamed body reaches on_receive whole and in order, FIRST on its
 * first piece and FINAL on an empty last one; any length (no 64 KiB
 * cap); an empty body is one FIRST|FINAL piece; Content-Length is
 * required. */
static void test_stream_body(void **state)
{
	fx *f = (fx *)*state;
	const size_t size = 3 << 20;
	unsigned char *data = t_make_data(size, 5);
	char md5[MD5_DIGEST_STRING_LENGTH];
	md5_hex(data, size, md5);

	cJSON *j = put_json(f, "PUT", "Content-Type: application/x-test\r\n", data, size, 200);
	assert_int_equal(json_num(j, "length"), size);
	assert_int_equal(json_num(j, "bytes"), size);
	assert_string_equal(t_json_str(j, "md5"), md5);
	assert_string_equal(t_json_str(j, "type"), "application/x-test");
	assert_true(json_num(j, "pieces") > 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "flags_ok")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "final_empty")));
	cJSON_Delete(j);

	j = put_json(f, "POST", NULL, "hello", 5, 200);
	assert_int_equal(json_num(j, "bytes"), 5);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "flags_ok")));
	cJSON_Delete(j);
	const char *methods[] = {"PUT", "POST"}; /* with Content-Length: 0 */
	for (const char *m : methods) {
		j = put_json(f, m, NULL, NULL, 0, 200);
		assert_int_equal(json_num(j, "bytes"), 0);
		assert_int_equal(json_num(j, "pieces"), 1);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "flags_ok")));
		cJSON_Delete(j);
	}

	t_http_response r;
	assert_int_equal(t_http(f->http_port, "PUT", "/put", "Transfer-Encoding: chunked\r\n",
				"5\r\nhello\r\n0\r\n\r\n", 15, &r), 0);
	t_assert_error(&r, 411, "a request body needs Content-Length");
	char head[4096];
	int fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	assert_int_equal(ask(fd, "PUT /put HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), NULL,
			     NULL), 411);
	assert_non_null(strcasestr(head, "\r\nconnection: close\r\n"));
	assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
	close(fd);
	assert_int_equal(count_lines(aborted_marker), 0);
	free(data);
}

/* Expect: 100-continue is answered 100 once the body is wanted (streamed
 * or buffered), at once, not after the client's wait; a request refused
 * before its body gets the refusal instead; HTTP/1.0 gets no 100. */
static void test_expect_continue(void **state)
{
	fx *f = (fx *)*state;
	char head[4096], *body;
	size_t len;
	const char *asks[] = {
		"PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
		"POST /echo-len HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n",
	};
	for (const char *req : asks) {
		int fd = t_connect(f->http_port);
		assert_true(fd >= 0);
		int64_t start = t_now_ms();
		assert_int_equal(ask(fd, req, head, sizeof(head), NULL, NULL), 100);
		assert_true(t_now_ms() - start < 500);
		assert_string_equal(head, "HTTP/1.1 100 Continue\r\n\r\n");
		assert_int_equal(t_send_all(fd, "hello", 5), 0);
		assert_int_equal(read_answer(fd, head, sizeof(head), &body, &len, false), 200);
		assert_true(strstr(body, "\"bytes\":5") || strstr(body, "\"len\":5"));
		free(body);
		close(fd);
	}

	int fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	assert_int_equal(ask(fd, "PUT /put?limit=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
				 "Expect: 100-continue\r\n\r\n", head, sizeof(head), NULL, NULL), 413);
	assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
	close(fd);

	fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	const char *old = "PUT /put HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
	assert_int_equal(t_send_all(fd, old, strlen(old)), 0);
	char c;
	assert_int_equal(t_recv_some(fd, &c, 1, 300), -1);
	assert_int_equal(t_send_all(fd, "hello", 5), 0);
	assert_int_equal(read_answer(fd, head, sizeof(head), NULL, NULL, false), 200);
	close(fd);
}

/* An endpoint that answers before the body is in (before it, or midway)
 * has its answer sent with connection: close, then the connection
 * closed; a client gone midway gets on_close run. */
static void test_stream_answer_early_and_abort(void **state)
{
	fx *f = (fx *)*state;
	const size_t size = 4 << 20;
	unsigned char *data = t_make_data(size, 3);
	char head[4096], req[256];
	const char *paths[] = {"/put?limit=1000", "/put?fail_at=100000"};
	for (const char *path : paths) {
		int fd = t_connect(f->http_port);
		assert_true(fd >= 0);
		snprintf(req, sizeof(req), "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
			 path, size);
		assert_int_equal(t_send_all(fd, req, strlen(req)), 0);
		t_send_all(fd, data, size); /* the server may close before it is all sent */
		int status = read_answer(fd, head, sizeof(head), NULL, NULL, false);
		assert_int_equal(status, strstr(path, "limit") ? 413 : 400);
		assert_non_null(strcasestr(head, "\r\nconnection: close\r\n"));
		assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
		close(fd);
	}
	assert_int_equal(count_lines(aborted_marker), 0);

	int fd = t_connect(f->http_port);
	assert_true(fd >= 0);
	snprintf(req, sizeof(req), "PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		 size);
	assert_int_equal(t_send_all(fd, req, strlen(req)), 0);
	assert_int_equal(t_send_all(fd, data, 100000), 0);
	close(fd);
	int64_t end = t_now_ms() + T_TIMEOUT_MS;
	while (!count_lines(aborted_marker) && t_now_ms() < end)
		t_sleep_ms(10);
	assert_int_equal(count_lines(aborted_marker), 1);
	free(data);
}

/* libwebsockets 4.1 takes a pipelined request's own head for its body
 * and then reports the body complete again and again: the connection is
 * closed after the earlier answers, a streamed body is never completed
 * (on_close runs, the endpoint saw no FINAL), and the server goes on. */
static void test_pipelined_body(void **state)
{
	fx *f = (fx *)*state;
	put_file(f, "f3", "0123456789", 10);
	char head[4096], *body;
	size_t len;
	const char *pipelined[] = {
		"GET /file/f3 HTTP/1.1\r\nHost: x\r\n\r\n"
		"PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcdefghij",
		"GET /file/f3 HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcdefghij",
		"PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"GET /file/f3 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (const char *req : pipelined) {
		int fd = t_connect(f->http_port);
		assert_true(fd >= 0);
		if (!strncmp(req, "GET", 3)) {
			assert_int_equal(ask(fd, req, head, sizeof(head), &body, &len), 200);
			assert_string_equal(body, "0123456789");
			free(body);
		} else {
			assert_int_equal(t_send_all(fd, req, strlen(req)), 0);
		}
		assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
		close(fd);
		t_http_response r;
		assert_int_equal(get_file(f, "GET", "f3", NULL, &r), 200);
		t_http_free(&r);
	}
	assert_int_equal(count_lines(aborted_marker), 2);
}

/* ---- routing (route_find), no server needed ---- */

static const cb_endpoint route_upload[] = {
	CB_HTTP_ROUTE(CB_DELETE, "/files/*/upload", 0, NULL),
	CB_HTTP_ROUTE(CB_GET, "/files/*/meta", 0, NULL),
	CB_HTTP_ROUTE(CB_GET | CB_POST, "/files/abc/exact", 0, NULL),
	{CB_WS, 0, "/ws/*/Upload", 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	{(cb_transport)0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
static const cb_endpoint route_below[] = {
	CB_HTTP_ROUTE(CB_GET, "/a/*", 0, NULL),
	CB_HTTP_ROUTE(CB_POST, "/api/login", 0, NULL),
	{CB_WS, 0, "/files/*", 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	{(cb_transport)0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
static const cb_endpoint *const route_tables[] = {route_upload, route_below, NULL};

/* The entry route_find gives for transport/method/path (NULL: none), with
 * what '*' matched in rest. */
static const cb_endpoint *route(cb_transport t, unsigned method, const char *path,
				const char **rest, unsigned *others = NULL)
{
	unsigned o;
	*rest = "(unset)";
	return route_find(route_tables, t, method, path, rest, others ? others : &o);
}

/* A '*' segment inside a pattern matches exactly one non-empty segment;
 * rest is the path from there on. */
static void test_route_star_inside(void **state)
{
	(void)state;
	const char *rest;
	unsigned others;
	const cb_endpoint *ep = route(CB_HTTP, CB_DELETE, "/files/abc/upload", &rest);
	assert_ptr_equal(ep, &route_upload[0]);
	assert_string_equal(rest, "abc/upload");
	ep = route(CB_HTTP, CB_DELETE, "/files/0b9c-4e.x_y/upload", &rest);
	assert_ptr_equal(ep, &route_upload[0]);
	assert_string_equal(rest, "0b9c-4e.x_y/upload");

	const char *misses[] = {
		"/files/abc",         /* the segment after '*' missing */
		"/files//upload",     /* an empty segment */
		"/files/upload",      /* '*' took "upload": nothing left for it */
		"/files/a/b/upload",  /* two segments */
		"/files/abc/uploadx", /* more after the pattern */
		"/files/abc/uploa",   /* less */
		"/files/abc/upload/",
		"/files/abc/upload/x",
		"/filesx/abc/upload",
		"/file/abc/upload",
		"/files",
		"/files/",
	};
	for (const char *path : misses) {
		ep = route(CB_HTTP, CB_DELETE, path, &rest, &others);
		if (ep)
			print_error("%s matched %s\n", path, ep->path);
		assert_null(ep);
		assert_int_equal(others & CB_DELETE, 0);
	}

	/* the method decides among entries whose path matches */
	assert_null(route(CB_HTTP, CB_GET, "/files/abc/upload", &rest, &others));
	assert_int_equal(others, CB_DELETE);
	/* the first pattern failing half way leaves no trace on the next */
	ep = route(CB_HTTP, CB_GET, "/files/abc/meta", &rest);
	assert_ptr_equal(ep, &route_upload[1]);
	assert_string_equal(rest, "abc/meta");
	ep = route(CB_HTTP, CB_POST, "/files/abc/exact", &rest);
	assert_ptr_equal(ep, &route_upload[2]);
	assert_string_equal(rest, "");

	/* WebSocket patterns the same way */
	ep = route(CB_WS, 0, "/ws/node-1/Upload", &rest);
	assert_ptr_equal(ep, &route_upload[3]);
	assert_string_equal(rest, "node-1/Upload");
	assert_null(route(CB_WS, 0, "/ws//Upload", &rest));
	assert_null(route(CB_WS, 0, "/ws/a/b/Upload", &rest));
	/* a WebSocket on "/files/abc/upload" is not the HTTP entry's: the
	 * later table's trailing-star "/files" entry takes it */
	ep = route(CB_WS, 0, "/files/abc/upload", &rest);
	assert_ptr_equal(ep, &route_below[2]);
	assert_string_equal(rest, "abc/upload");
}

/* A trailing '*' takes everything below, one segment or more. */
static void test_route_trailing_star(void **state)
{
	(void)state;
	const char *rest;
	unsigned others;
	const cb_endpoint *ep = route(CB_HTTP, CB_GET, "/a/x", &rest);
	assert_ptr_equal(ep, &route_below[0]);
	assert_string_equal(rest, "x");
	ep = route(CB_HTTP, CB_GET, "/a/x/y", &rest);
	assert_ptr_equal(ep, &route_below[0]);
	assert_string_equal(rest, "x/y");
	const char *misses[] = {"/a", "/a/", "/ab/x", "/b/x", "/"};
	for (const char *path : misses)
		assert_null(route(CB_HTTP, CB_GET, path, &rest));
	assert_null(route(CB_HTTP, CB_POST, "/a/x", &rest, &others));
	assert_int_equal(others, CB_GET);

	/* exact patterns: no rest */
	ep = route(CB_HTTP, CB_POST, "/api/login", &rest);
	assert_ptr_equal(ep, &route_below[1]);
	assert_string_equal(rest, "");
	assert_null(route(CB_HTTP, CB_POST, "/api/login/x", &rest));
	assert_null(route(CB_HTTP, CB_POST, "/api/logi", &rest));
	ep = route(CB_WS, 0, "/files/abc", &rest);
	assert_ptr_equal(ep, &route_below[2]);
	assert_string_equal(rest, "abc");
}

/* ---- ranges and entity tags, no server needed ---- */

/* One range of bytes=a-b, a- or -n, clamped to the size; past the end
 * (or -0, or any range of nothing) not satisfiable; anything else
 * ignored. 64-bit offsets. */
static void test_range_parse(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		uint64_t size;
		int r;
		uint64_t first, last;
	} cases[] = {
		{"bytes=0-9", 100, 1, 0, 9},
		{"bytes=10-", 100, 1, 10, 99},
		{"bytes=-10", 100, 1, 90, 99},
		{"bytes=-1000", 100, 1, 0, 99},
		{"bytes=90-1000", 100, 1, 90, 99},
		{"bytes=99-99", 100, 1, 99, 99},
		{"Bytes=1-2", 100, 1, 1, 2},
		{"bytes=0-18446744073709551615", 100, 1, 0, 99},
		{"bytes=-18446744073709551615", 100, 1, 0, 99},
		{"bytes=4294967296-4294967305", 8589934592ULL, 1, 4294967296ULL, 4294967305ULL},
		{"bytes=-1", 8589934592ULL, 1, 8589934591ULL, 8589934591ULL},
		{"bytes=100-", 100, -1, 0, 0},
		{"bytes=100-200", 100, -1, 0, 0},
		{"bytes=-0", 100, -1, 0, 0},
		{"bytes=0-", 0, -1, 0, 0},
		{"bytes=-5", 0, -1, 0, 0},
		{"bytes=5-4", 100, 0, 0, 0},
		{"bytes=0-1,5-6", 100, 0, 0, 0},
		{"bytes=0-1,", 100, 0, 0, 0},
		{"bytes=", 100, 0, 0, 0},
		{"bytes=-", 100, 0, 0, 0},
		{"bytes=a-b", 100, 0, 0, 0},
		{"bytes=1-2x", 100, 0, 0, 0},
		{"bytes= 1-2", 100, 0, 0, 0},
		{"bytes=1", 100, 0, 0, 0},
		{"bytes=+1-2", 100, 0, 0, 0},
		{"items=1-2", 100, 0, 0, 0},
		{"bytes=18446744073709551616-", 100, 0, 0, 0},
		{"", 100, 0, 0, 0},
	};
	for (const auto &c : cases) {
		uint64_t first = 7, last = 7;
		int r = range_parse(c.v, c.size, &first, &last);
		if (r != c.r)
			print_error("%s over %llu: %d\n", c.v, (unsigned long long)c.size, r);
		assert_int_equal(r, c.r);
		if (r == 1) {
			assert_true(first == c.first);
			assert_true(last == c.last);
		}
	}
}

/* If-None-Match: "*", the tag, a list holding it, weak or not. */
static void test_etag_matches(void **state)
{
	(void)state;
	const char *yes[] = {"\"e1\"", "*", "\"x\", \"e1\"", "\"x\",\"e1\"", "W/\"e1\"",
			     " \"e1\" ", "\"e1\" , \"x\"", "\"x\", W/\"e1\"\t"};
	const char *no[] = {"\"e\"", "\"e1x\"", "e1", "", ",,", "W/\"e2\"", "\"x\", \"e\"",
			    "W/", "\"\"", "**"};
	for (const char *v : yes)
		assert_true(etag_matches(v, "\"e1\""));
	for (const char *v : no)
		assert_false(etag_matches(v, "\"e1\""));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_star_inside),
		cmocka_unit_test(test_route_trailing_star),
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_etag_matches),
		cmocka_unit_test_setup_teardown(test_queue_under_cap_delivers_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cap_drops_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ws_message_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_sends_1001, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ws_path_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ws_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_through_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_as_client_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_and_close_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_raw_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_ws_pinged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_fd_as_client_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_answer_early_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_body, setup, teardown),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
