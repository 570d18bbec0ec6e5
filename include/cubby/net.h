/* net.h: the network layer every protocol module plugs into.
 *
 * One libwebsockets context and one poll loop serve everything: a vhost
 * for HTTP and WebSocket on http_port and, when a module serves it, a
 * raw-TCP vhost on line_port. A protocol module describes itself with a
 * table of cb_endpoint entries (transport, path pattern, handlers); the
 * server routes each HTTP request and each WebSocket upgrade by path to
 * its entry, so adding an endpoint means adding an entry, nothing more.
 *
 * A connection (cb_conn) carries the endpoint's own state, the caller's
 * identity (resolved from Bearer, Basic, the cubby_session cookie or,
 * for WebSocket upgrades, ?token=) and an outbound queue capped at
 * send_queue_max bytes: a client that does not read is disconnected
 * rather than allowed to grow the server's memory.
 *
 * Handlers run in the loop and must not block. They return 0 to go on or
 * -1 to drop the connection at once. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cjson/cJSON.h>
#include "cubby/auth.h"

struct cb_conn;
struct cb_store;
struct cb_config;

enum cb_transport {
	CB_HTTP = 1, /* a plain HTTP request */
	CB_WS,       /* a WebSocket upgrade */
	CB_RAW,      /* a connection to the line_port (raw TCP) */
};

enum cb_method {
	CB_GET = 1,
	CB_POST = 2,
	CB_PUT = 4,
	CB_PATCH = 8,
	CB_DELETE = 16,
};

/* cb_endpoint.flags */
enum {
	CB_NEED_USER = 1, /* refuse callers without a valid session: 401 */
	/* CB_HTTP: the body is not buffered. on_request runs once the
	 * headers are in (conn_content_length() says how much follows), then
	 * the body comes to on_receive in pieces as it arrives, the first
	 * with CB_MSG_FIRST, the last (maybe empty) with CB_MSG_FINAL once
	 * all of it is in (an empty body: one empty FIRST|FINAL piece right
	 * after on_request); answer then. A request answered before its body
	 * is read gets no more pieces and its connection closes after the
	 * answer. Expect: 100-continue is answered when on_request returns
	 * without answering. Needs Content-Length (411 otherwise), any size:
	 * the endpoint checks it. on_close runs if the client goes away
	 * midway. */
	CB_STREAM_BODY = 2,
};

/* flags of on_receive */
enum {
	CB_MSG_FIRST = 1,  /* first piece of a message */
	CB_MSG_FINAL = 2,  /* last piece of a message */
	CB_MSG_BINARY = 4, /* a binary message (WebSocket) */
};

struct cb_endpoint {
	cb_transport transport;  /* 0 ends a table */
	unsigned methods;        /* CB_HTTP: the cb_method bits it serves */
	/* "/api/login" matches exactly (a trailing '/' is ignored);
	 * "/api/users/ *" (without the space) matches anything below it,
	 * which conn_path_rest() returns; a '*' segment inside the pattern,
	 * "/files/ * /upload" (without the spaces), matches one segment, and
	 * conn_path_rest() returns the path from there on ("<id>/upload").
	 * NULL for CB_RAW. */
	const char *path;
	unsigned flags;
	size_t state_size;       /* zeroed per connection; conn_state() */

	/* CB_HTTP: the whole request is in (conn_body()), or with
	 * CB_STREAM_BODY its headers; answer with http_reply*() or
	 * http_serve_fd() now or later. */
	int (*on_request)(cb_conn *c);
	/* CB_WS: the handshake is done (headers readable until it returns);
	 * CB_RAW: a client connected. */
	int (*on_open)(cb_conn *c);
	/* CB_WS / CB_RAW, CB_HTTP with CB_STREAM_BODY: bytes as they
	 * arrive, with CB_MSG_* flags (a WebSocket message or a request body
	 * may come in several pieces, a raw stream has no framing: every
	 * piece is FIRST|FINAL). */
	int (*on_receive)(cb_conn *c, const void *data, size_t len, unsigned flags);
	/* The connection is going: free what state points to. Runs for every
	 * connection whose on_open (CB_HTTP: on_request) ran, also at
	 * shutdown. */
	void (*on_close)(cb_conn *c);
	/* CB_WS / CB_RAW, after conn_want_writable(): the queue has gone out
	 * and the client takes more. Send the next piece of something large
	 * here (and ask again), rather than queue it all at once. */
	int (*on_writable)(cb_conn *c);
	/* CB_WS / CB_RAW, when the conn_timer() set is due. */
	int (*on_timer)(cb_conn *c);
	/* CB_WS / CB_RAW: the server is stopping. A last message may be
	 * queued; the connection is then closed (WebSocket: 1001 "server
	 * shutting down", unless the handler closed it otherwise). */
	void (*on_shutdown)(cb_conn *c);
};

/* A table entry for a plain HTTP request handled by one function. */
#define CB_HTTP_ROUTE(methods, path, flags, fn) \
	{CB_HTTP, methods, path, flags, 0, fn, NULL, NULL, NULL, NULL, NULL, NULL}

/* ---- the server ---- */

/* Builds the context and its vhosts from cfg, routing to `tables` (a
 * NULL-terminated list of endpoint tables). NULL when a port cannot be
 * bound or TLS cannot be set up (logged). */
struct cb_server *server_create(const cb_config *cfg, cb_store *st,
				const cb_endpoint *const *tables);
/* SIGTERM and SIGINT stop server_run(), SIGHUP reopens the log, SIGPIPE
 * is ignored. Install them before the slow startup work, so that a signal
 * then is not fatal; one that arrives before server_run() takes effect
 * when it starts. */
void server_install_signals(void);
/* Serves until SIGTERM or SIGINT (SIGHUP reopens the log), then closes
 * WebSockets with 1001 and every connection (on_close checkpoints what
 * it holds). Returns 0 on a clean stop. */
int server_run(struct cb_server *srv);
void server_destroy(struct cb_server *srv);

/* ---- a connection ---- */

cb_store *conn_store(cb_conn *c);
const cb_config *conn_config(cb_conn *c);
void *conn_state(cb_conn *c);
/* The authenticated caller, or NULL. */
const cb_user *conn_user(cb_conn *c);
/* The session token the caller used (Bearer, cookie, ?token=), or NULL
 * (none, or HTTP Basic). Valid during on_request. */
const char *conn_token(cb_conn *c);
/* The client's address ("" when unknown). */
const char *conn_addr(cb_conn *c);

/* During on_request / on_open: the request. */
cb_method conn_method(cb_conn *c);
const char *conn_path(cb_conn *c);      /* %-decoded, no query, no trailing '/' */
const char *conn_path_rest(cb_conn *c); /* what a trailing '*' matched, or "" */
/* Value of query argument `name` (decoded) into buf; NULL when absent or
 * longer than n - 1. */
const char *conn_query(cb_conn *c, const char *name, char *buf, size_t n);
/* Whether query argument `name` is there (conn_query() cannot say when
 * it is too long for the buffer). */
bool conn_has_query(cb_conn *c, const char *name);
/* The request body (NUL-terminated) and its length; "" without a body. */
const char *conn_body(cb_conn *c, size_t *len);
/* The request's Content-Length (0 without one). */
uint64_t conn_content_length(cb_conn *c);

/* Request headers conn_header() reads. */
enum cb_header_id {
	CB_HDR_RANGE,
	CB_HDR_IF_NONE_MATCH,
	CB_HDR_CONTENT_TYPE,
};
/* During on_request / on_open (and on_receive of a streamed body): the
 * value of header h into buf (several such headers joined by ','); NULL
 * when absent, empty or longer than n - 1. */
const char *conn_header(cb_conn *c, cb_header_id h, char *buf, size_t n);

/* During on_receive (CB_WS): bytes of the current WebSocket frame still
 * to come after this piece. A message sent as one frame (as browsers and
 * most clients do) is that long in all; more frames may follow when the
 * piece is not CB_MSG_FINAL at the frame's end. */
uint64_t conn_frame_left(cb_conn *c);
/* During on_close (CB_WS): the code of the client's Close frame (1005
 * when it gave none), or 0 when it sent none (dropped, or closed by the
 * server). */
int conn_peer_close_code(cb_conn *c);
/* Bytes queued to the client and not yet sent. */
size_t conn_queued(cb_conn *c);

/* CB_WS: queues one message; CB_RAW: queues bytes. -1 when the queue cap
 * is hit: the connection is then being dropped, stop sending. */
int conn_send(cb_conn *c, const void *data, size_t len, bool binary);
/* conn_send() of the minimised JSON text of j. */
int conn_send_json(cb_conn *c, const cJSON *j);
/* Closes after the queued output: CB_WS with close code and reason
 * (reason up to 123 bytes), CB_RAW once flushed (code ignored). */
void conn_close(cb_conn *c, int code, const char *reason);
/* on_writable once the queue is out and the socket takes more. */
void conn_want_writable(cb_conn *c);
/* CB_RAW: stops (true) or restarts reading from the client, so that a
 * client sending requests faster than it takes the answers is slowed down
 * by TCP rather than grow the queue; stop taking lines when the queue is
 * long and restart from on_writable. */
void conn_pause_input(cb_conn *c, bool pause);
/* on_timer in ms milliseconds (again: re-armed; a negative ms cancels). */
void conn_timer(cb_conn *c, int64_t ms);

/* ---- assembling WebSocket messages ---- */

/* A text message put together from the pieces on_receive gets, up to a
 * limit: what is over it is not kept, so a client cannot grow the
 * server's memory by sending one huge message. Zero it to start. */
struct cb_message {
	char *data;    /* the message, NUL-terminated, once msg_add() says so */
	size_t len;
	size_t cap;
	bool too_big;  /* it was over the limit: data holds nothing of use */
};
/* Adds one piece (with on_receive's flags). 1: the message is complete
 * (check too_big), 0: more to come, -1: out of memory. */
int msg_add(cb_message *m, const void *piece, size_t len, unsigned flags, size_t max);
/* Forgets the message, ready for the next (a large buffer is freed). */
void msg_reset(cb_message *m);
void msg_free(cb_message *m);

/* A JSON number that is a whole number in [0, 2^53) (which an int64 and a
 * double both hold exactly), or -1. */
int64_t json_whole_number(const cJSON *v);

/* ---- HTTP answers (CB_HTTP) ---- */

struct cb_header {
	const char *name;  /* lower case, ending in ':' ("set-cookie:") */
	const char *value;
};

/* Answers with status, content type and body (copied), plus `extra`
 * headers (NULL, or ended by a NULL name). */
int http_reply(cb_conn *c, int status, const char *type, const void *body,
	       size_t len, const cb_header *extra);
int http_reply_json(cb_conn *c, int status, const cJSON *j, const cb_header *extra);
/* Answers GET or HEAD with the `size` bytes of the open file fd (which
 * it owns from now on and closes, also on error): Content-Type `type`,
 * ETag `etag` (the quoted value; NULL none), Accept-Ranges, `extra`,
 * and cache-control: private, no-cache. If-None-Match naming the ETag
 * (or "*") is 304; one Range (bytes=a-b, a-, -n) is 206 with
 * Content-Range, one starting past the end (or -0, or any range of an
 * empty file) 416 (JSON error "range not satisfiable", Content-Range:
 * bytes * /size); other Range values are ignored. The body is read with
 * pread and sent in pieces as the client takes them: a large file costs
 * no memory. The file must not shrink meanwhile (the connection is
 * dropped if it does). */
int http_serve_fd(cb_conn *c, int fd, uint64_t size, const char *type, const char *etag,
		  const cb_header *extra);

/* A Content-Disposition value for serving a file named `name`:
 * `inline; filename="..."` with '"', '\' and all but printable ASCII as
 * '_', and then, when that changed the name, the exact name as RFC 5987's
 * filename*. HTTP_DISPOSITION_MAX bytes hold any name. */
#define HTTP_DISPOSITION_MAX (4 * 255 + 64)
void http_disposition(const char *name, char *out, size_t n);
/* Appends s at out[*len] (out holds n bytes; NUL-terminated, as much as
 * fits), each byte but A-Z a-z 0-9 and those in keep as %XX. */
void http_percent_encode(const char *s, const char *keep, char *out, size_t n, size_t *len);

/* {"error":true,"code":status,"message":...} with that status. */
int http_error(cb_conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
