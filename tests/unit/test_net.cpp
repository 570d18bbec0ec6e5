/* test_net.cpp: the network layer (src/net) with endpoints of the test's
 * own, served by the real server code in a child process on free ports
 * and driven by real clients over real sockets: the outbound queue cap
 * (a client that does not read is dropped, one that reads gets all),
 * the 1001 every WebSocket gets at shutdown with on_close run for it,
 * WebSocket messages in pieces, and the raw-TCP vhost; and route_find()
 * on tables of its own ('*' segments), which needs no server. cubbyd's own
 * endpoints are tested against the real binary in tests/integration. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <fcntl.h>
#include <ftw.h>
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
#include "../../src/net/net_internal.h" /* route_find() */

#define FLOOD_PIECE (64 * 1024)
#define IDLE_S 2 /* idle_timeout of the test server */

/* ---- the test's endpoints ---- */

static char closed_marker[300]; /* a file on_close appends to */

static void note_closed(cb_conn *)
{
	int fd = open(closed_marker, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		(void)!write(fd, "closed\n", 7);
		close(fd);
	}
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

static const cb_endpoint test_endpoints[] = {
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
	snprintf(closed_marker, sizeof(closed_marker), "%s/closed", f->dir);
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

static int count_closed(void)
{
	char buf[4096];
	int fd = open(closed_marker, O_RDONLY);
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
	assert_int_equal(count_closed(), 3);
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

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_star_inside),
		cmocka_unit_test(test_route_trailing_star),
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
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
