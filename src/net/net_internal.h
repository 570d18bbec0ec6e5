/* net_internal.h: what the files of src/net share and protocol modules
 * do not see: the server, the per-connection struct libwebsockets
 * allocates for us, the per-request struct, and each file's entry points
 * from the one libwebsockets callback (server.cpp). */
#pragma once
#include <libwebsockets.h>
#include "cubby/net.h"

#define NET_BODY_MAX (64 * 1024) /* a buffered (JSON) request body */
#define HTTP_HEAD_MAX 4096        /* an answer's headers */
#define HTTP_NO_LENGTH UINT64_MAX /* http_head(): no Content-Length (304) */

struct cb_server {
	const cb_config *cfg;
	cb_store *st;
	const cb_endpoint *const *tables;
	const cb_endpoint *raw;       /* the CB_RAW endpoint, or NULL */
	struct lws_context *ctx;
	lws_retry_bo_t ws_idle;       /* ping / hang-up policy of WebSockets */
	lws_sorted_usec_list_t sweep; /* expires partial uploads and sessions */
	lws_sorted_usec_list_t wake;  /* keeps the loop turning while draining */
	lws_dll2_owner_t conns;       /* open WebSocket and raw connections */
	unsigned nconns;              /* accepted sockets, for max_connections */
};

/* rx_pool.cpp: WebSocket receive buffers, one slot per allowed
 * connection, from a region of their own (installed as lws's allocator
 * before the context is made; destroyed after it is). */
void rx_pool_init(unsigned slots, size_t buffer_size);
void rx_pool_destroy(void);

/* What one HTTP request or WebSocket upgrade needs until it is answered
 * (HTTP) or open (WebSocket); freed then, so idle connections stay small. */
struct cb_request {
	cb_method method;     /* HEAD is routed as GET */
	const char *method_name;
	bool head;            /* answer without the body */
	char *path;           /* normalised copy */
	const char *rest;     /* inside path */
	char token[CB_TOKEN_LEN + 1];
	uint64_t length;      /* Content-Length */
	char *body;
	size_t body_len, body_cap;
	bool stream;          /* CB_STREAM_BODY: the body goes to on_receive */
	uint64_t received;    /* of the streamed body */
	bool body_done;       /* all of the streamed body has come */
	bool final_due;       /* its empty FINAL piece goes out when writable */
	bool completed;       /* libwebsockets said the body is in */
	bool ran;             /* on_request ran */
	bool answered;        /* the answer's headers are queued */
	bool serving;         /* http_serve_fd(): fd's bytes from off, left to go */
	int fd;
	uint64_t off, left;
	/* libwebsockets expects a body we will not read (no Content-Length
	 * on POST, chunked, refused as too large, a streamed body answered
	 * before it is in): close after answering, or the next request on
	 * the connection would be taken from it */
	bool close_after;
};

/* The per-session data libwebsockets allocates (zeroed) for every
 * connection. For HTTP it is freed and zeroed again between keep-alive
 * requests. */
struct cb_conn {
	struct lws *wsi;
	cb_server *srv;
	const cb_endpoint *ep;
	cb_transport transport;
	void *state;
	cb_request *req;
	cb_user user;           /* user.id[0] == 0: anonymous */
	char addr[48];          /* the client's address */
	bool opened;            /* on_open / on_request ran: on_close is owed */
	lws_dll2_owner_t txq;   /* queued output */
	size_t tx_bytes;
	lws_dll2_t link;        /* in srv->conns (WebSocket and raw) */
	bool want_writable;     /* on_writable once the queue is out */
	lws_sorted_usec_list_t timer; /* conn_timer() */
	int close_code;         /* close after the queue drains */
	char close_reason[124];
	uint64_t frame_left;    /* on_receive: conn_frame_left() */
	int peer_close_code;    /* the client's Close frame's code; 0: none */
};

extern cb_server *net_server; /* the one server of this process */

/* route.cpp */
/* Normalises path in place: no trailing '/', "" becomes "/". */
void route_normalise(char *path);
/* The endpoint of `transport` whose pattern matches path; *rest gets
 * what a '*' matched. *other_methods gets the methods of entries with a
 * matching path but another transport or method (for 405). */
const cb_endpoint *route_find(const cb_endpoint *const *tables, cb_transport transport,
			      unsigned method, const char *path, const char **rest,
			      unsigned *path_methods);

/* Calls fn on each fragment of header h (each query argument, each Cookie
 * header) until it returns true; whether one did. */
typedef bool (*fragment_fn)(const char *fragment, void *ctx);
bool header_fragments(struct lws *wsi, enum lws_token_indexes h, fragment_fn fn, void *ctx);
/* The value of query argument `name` into buf; NULL when absent or longer
 * than n - 1. */
const char *query_arg(struct lws *wsi, const char *name, char *buf, size_t n);
/* Whether query argument `name` is there, however long. */
bool query_has(struct lws *wsi, const char *name);

/* credentials.cpp */
enum cred_result {
	CRED_NONE,      /* nothing presented */
	CRED_OK,
	CRED_BAD_TOKEN, /* unknown or expired session */
	CRED_BAD_PASS,  /* Basic: wrong user name or password */
	CRED_RATE,      /* Basic: rate limited */
};
/* Resolves the caller of the request on wsi into c->user and
 * c->req->token. ws: also look at ?token=. */
cred_result credentials_resolve(cb_conn *c, bool ws);
const char *credentials_message(cred_result r);
int credentials_status(cred_result r);

/* conn.cpp */
/* Ties the pss to its wsi; conn_bind() then to its endpoint (state). */
void conn_attach(cb_conn *c, struct lws *wsi, cb_transport t);
int conn_bind(cb_conn *c, const cb_endpoint *ep);
void conn_end(cb_conn *c);
void conn_request_free(cb_conn *c);
int conn_writable(cb_conn *c);
/* on_receive of bytes that came, with the connection as the origin of
 * the events it causes. */
int conn_deliver(cb_conn *c, const void *in, size_t len, unsigned flags);
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		void *in, size_t len);
int raw_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		 void *in, size_t len);

/* http.cpp */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		  void *in, size_t len);
/* From HTTP_CONFIRM_UPGRADE: a 404/401 answer for an upgrade that cannot
 * go on; 0 when it may. */
int http_confirm_upgrade(struct lws *wsi, const char *upgrade);
/* From FILTER_PROTOCOL_CONNECTION: binds the new WebSocket connection to
 * its endpoint and caller; non-zero refuses it. */
int http_ws_route(struct lws *wsi, cb_conn *c);
/* WSI_DESTROY: forgets an upgrade of wsi that did not complete. */
void http_upgrade_forget(struct lws *wsi);
/* Starts an answer's headers at *p: status, type (NULL: none) and
 * Content-Length (HTTP_NO_LENGTH: none), cache-control, connection:
 * close when the connection closes after the answer, and extra. */
int http_head(cb_conn *c, int status, const char *type, uint64_t len, const char *cache,
	      const cb_header *extra, unsigned char **p, unsigned char *end);
/* Ends the headers begun at start and queues them: the request is
 * answered. */
int http_head_send(cb_conn *c, unsigned char *start, unsigned char **p, unsigned char *end);
/* http_error() with extra headers. */
int http_error_with(cb_conn *c, int status, const cb_header *extra, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Queues a ready-made piece of output (tx_item kinds below). */
enum tx_kind { TX_TEXT, TX_BINARY, TX_RAW, TX_HTTP_HEADERS, TX_HTTP_BODY, TX_HTTP_INTERIM };
int txq_push(cb_conn *c, tx_kind kind, const void *data, size_t len);

/* serve.cpp */
/* The one range of Range header value v over size bytes: 1 with the
 * first and last byte, 0 when the header is to be ignored (not one range
 * that parses), -1 when the range is not satisfiable. */
int range_parse(const char *v, uint64_t size, uint64_t *first, uint64_t *last);
/* Whether If-None-Match value v ("*", or a list of entity tags, weak or
 * not) names etag. */
bool etag_matches(const char *v, const char *etag);
/* From the writable callback: the next piece of the file being served;
 * the last one ends the serving. -1: drop the connection. */
int serve_piece(cb_conn *c);
