/* http.cpp: plain HTTP requests and the HTTP side of WebSocket upgrades:
 * routing by method and path, credentials, buffering a small request
 * body or streaming a large one to the endpoint (CB_STREAM_BODY), the
 * 100 Continue a client may wait for, and answering (JSON errors
 * included) through the connection's queue, headers and body in
 * separate writes as libwebsockets wants. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/log.h"
#include "net_internal.h"

#define PATH_BUF 4096

static const char *const method_names[] = {
	"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "CONNECT", "HEAD",
};

/* The request's method; HEAD is served as GET without the body. */
static void read_method(struct lws *wsi, cb_request *r)
{
	char *uri;
	int len, m = lws_http_get_uri_and_method(wsi, &uri, &len);
	r->method_name = m >= 0 && m < (int)LWS_ARRAY_SIZE(method_names) ? method_names[m] : "?";
	r->head = m == LWSHUMETH_HEAD;
	switch (m) {
	case LWSHUMETH_GET:
	case LWSHUMETH_HEAD: r->method = CB_GET; break;
	case LWSHUMETH_POST: r->method = CB_POST; break;
	case LWSHUMETH_PUT: r->method = CB_PUT; break;
	case LWSHUMETH_PATCH: r->method = CB_PATCH; break;
	case LWSHUMETH_DELETE: r->method = CB_DELETE; break;
	default: r->method = (cb_method)0; break;
	}
}

/* "GET, POST" for an Allow header. */
static void methods_list(unsigned methods, char *out, size_t n)
{
	static const struct {
		cb_method m;
		const char *name;
	} names[] = {{CB_GET, "GET"}, {CB_POST, "POST"}, {CB_PUT, "PUT"},
		     {CB_PATCH, "PATCH"}, {CB_DELETE, "DELETE"}};
	size_t len = 0;
	out[0] = '\0';
	for (const auto &m : names)
		if (methods & m.m)
			len += (size_t)lws_snprintf(out + len, n - len, "%s%s", len ? ", " : "",
						    m.name);
}

static cb_request *request_new(cb_conn *c, const char *path, size_t len)
{
	conn_request_free(c);
	cb_request *r = (cb_request *)calloc(1, sizeof(*r));
	if (!r || !(r->path = (char *)malloc(len + 1))) {
		free(r);
		return NULL;
	}
	memcpy(r->path, path, len);
	r->path[len] = '\0';
	route_normalise(r->path);
	c->req = r;
	return r;
}

/* ---- answers ---- */

int http_head(cb_conn *c, int status, const char *type, uint64_t len, const char *cache,
	      const cb_header *extra, unsigned char **p, unsigned char *end)
{
	struct lws *wsi = c->wsi;
	cb_request *r = c->req;
	/* the rest of a streamed body is not read: the next request would
	 * be taken from it */
	if (r && r->stream && !r->body_done)
		r->close_after = true;
	if (len == HTTP_NO_LENGTH ? lws_add_http_header_status(wsi, (unsigned)status, p, end)
				  : lws_add_http_common_headers(wsi, (unsigned)status, type, len, p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)cache, (int)strlen(cache), p, end) ||
	    (r && r->close_after &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
					 (const unsigned char *)"close", 5, p, end)))
		return -1;
	for (; extra && extra->name; extra++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)extra->name,
						(const unsigned char *)extra->value,
						(int)strlen(extra->value), p, end))
			return -1;
	return 0;
}

int http_head_send(cb_conn *c, unsigned char *start, unsigned char **p, unsigned char *end)
{
	if (lws_finalize_http_header(c->wsi, p, end) ||
	    txq_push(c, TX_HTTP_HEADERS, start, (size_t)(*p - start)))
		return -1;
	if (c->req)
		c->req->answered = true;
	return 0;
}

int http_reply(cb_conn *c, int status, const char *type, const void *body,
	       size_t len, const cb_header *extra)
{
	unsigned char buf[LWS_PRE + HTTP_HEAD_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (http_head(c, status, type, len, "no-store", extra, &p, end) ||
	    http_head_send(c, start, &p, end))
		return -1;
	if (c->req && c->req->head)
		len = 0;
	return len ? txq_push(c, TX_HTTP_BODY, body, len) : 0;
}

int http_reply_json(cb_conn *c, int status, const cJSON *j, const cb_header *extra)
{
	char *s = cJSON_PrintUnformatted(j);
	if (!s)
		return -1;
	int r = http_reply(c, status, "application/json", s, strlen(s), extra);
	cJSON_free(s);
	return r;
}

/* The error object of docs/accounts.md (and spec 3). */
static char *error_json(int status, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "error", true);
	cJSON_AddNumberToObject(j, "code", status);
	cJSON_AddStringToObject(j, "message", msg);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static int error_reply(cb_conn *c, int status, const cb_header *extra, const char *fmt,
		       va_list ap)
{
	char *s = error_json(status, fmt, ap);
	if (!s)
		return -1;
	int r = http_reply(c, status, "application/json", s, strlen(s), extra);
	cJSON_free(s);
	return r;
}

int http_error_with(cb_conn *c, int status, const cb_header *extra, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_reply(c, status, extra, fmt, ap);
	va_end(ap);
	return r;
}

int http_error(cb_conn *c, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_reply(c, status, NULL, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- requests ---- */

bool header_fragments(struct lws *wsi, enum lws_token_indexes h, fragment_fn fn, void *ctx)
{
	int total = lws_hdr_total_length(wsi, h);
	if (total <= 0)
		return false;
	/* every fragment fits a buffer of the total length */
	char *frag = (char *)malloc((size_t)total + 1);
	bool found = false;
	for (int i = 0; frag && !found && lws_hdr_copy_fragment(wsi, frag, total + 1, h, i) >= 0; i++)
		found = fn(frag, ctx);
	free(frag);
	return found;
}

struct arg_search {
	const char *name;
	char *buf;
	size_t n;
	bool fits;
};

static bool arg_match(const char *frag, void *ctx)
{
	arg_search *a = (arg_search *)ctx;
	size_t nl = strlen(a->name);
	if (strncmp(frag, a->name, nl) || frag[nl] != '=')
		return false;
	a->fits = strlen(frag + nl + 1) < a->n;
	if (a->fits)
		strcpy(a->buf, frag + nl + 1);
	return true;
}

const char *query_arg(struct lws *wsi, const char *name, char *buf, size_t n)
{
	arg_search a = {name, buf, n, false};
	return header_fragments(wsi, WSI_TOKEN_HTTP_URI_ARGS, arg_match, &a) && a.fits ? buf : NULL;
}

bool query_has(struct lws *wsi, const char *name)
{
	arg_search a = {name, NULL, 0, false};
	return header_fragments(wsi, WSI_TOKEN_HTTP_URI_ARGS, arg_match, &a);
}

/* Content-Length, 0 without one, -1 when it is not a number. */
static int64_t content_length(struct lws *wsi)
{
	char v[32], *end;
	int n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (!n)
		return 0;
	long long len = n > 0 ? strtoll(v, &end, 10) : -1;
	return n < 0 || *end || len < 0 ? -1 : len;
}

static bool body_is_chunked(struct lws *wsi)
{
	char v[64];
	return lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_TRANSFER_ENCODING) != 0;
}

/* A POST, PUT or PATCH without Content-Length: libwebsockets 4.1 waits
 * for a body of up to 100 MB. */
static bool length_missing(struct lws *wsi)
{
	bool body_method = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ||
			   lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
			   lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0;
	return body_method && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0;
}

/* Whether a body libwebsockets will read is not going to be: answer and
 * close then. */
static bool body_unread(struct lws *wsi, int64_t body, bool stream)
{
	return body_is_chunked(wsi) || body < 0 || (!stream && body > NET_BODY_MAX) ||
	       length_missing(wsi);
}

/* Expect: 100-continue (RFC 9110 10.1.1): the client waits for the 100
 * before it sends the body (curl: a second), and libwebsockets 4.1 does
 * not send it. Only once the body is wanted: a request refused before
 * gets its final answer instead, and the client sends no body. */
static int expect_continue(cb_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char v[16], version[16];
	if (lws_hdr_copy(c->wsi, v, sizeof(v), WSI_TOKEN_HTTP_EXPECT) <= 0 ||
	    strcasecmp(v, "100-continue") ||
	    lws_hdr_copy(c->wsi, version, sizeof(version), WSI_TOKEN_HTTP) <= 0 ||
	    !strcmp(version, "HTTP/1.0"))
		return 0;
	return txq_push(c, TX_HTTP_INTERIM, cont, sizeof(cont) - 1);
}

static int run_request(cb_conn *c)
{
	c->req->ran = true;
	c->opened = true;
	events_set_origin(c->srv->st, c);
	int r = c->ep->on_request(c);
	events_set_origin(c->srv->st, NULL);
	return r;
}

/* CB_STREAM_BODY: on_request now, then the body to on_receive as it
 * comes; an empty body at once. */
static int stream_start(cb_conn *c)
{
	cb_request *r = c->req;
	r->body_done = !r->length;
	if (run_request(c))
		return -1;
	if (r->answered)
		return 0;
	if (!r->length)
		return conn_deliver(c, "", 0, CB_MSG_FIRST | CB_MSG_FINAL);
	return expect_continue(c);
}

/* LWS_CALLBACK_HTTP: route, check, then wait for the body or run. */
static int request_start(struct lws *wsi, cb_conn *c, const char *path, size_t len)
{
	conn_attach(c, wsi, CB_HTTP);
	if (!request_new(c, path, len))
		return -1;
	cb_request *r = c->req;
	read_method(wsi, r);
	unsigned others;
	const cb_endpoint *ep = route_find(net_server->tables, CB_HTTP, r->method,
					   r->path, &r->rest, &others);
	int64_t body = content_length(wsi);
	r->length = body > 0 ? (uint64_t)body : 0;
	r->stream = ep && (ep->flags & CB_STREAM_BODY);
	r->close_after = body_unread(wsi, body, r->stream);

	if (!ep && others) {
		char allow[64];
		methods_list(others, allow, sizeof(allow));
		const cb_header h[] = {{"allow:", allow}, {NULL, NULL}};
		return http_error_with(c, 405, h, "method not allowed: %s %s", r->method_name,
				       r->path);
	}
	if (!ep)
		return http_error(c, 404, "no such endpoint: %s", r->path);
	if (conn_bind(c, ep))
		return -1;

	if (body_is_chunked(wsi) || (r->stream && length_missing(wsi)))
		return http_error(c, 411, "a request body needs Content-Length");
	if (body < 0)
		return http_error(c, 400, "bad Content-Length");
	if (!r->stream && body > NET_BODY_MAX)
		return http_error(c, 413, "request body too large");

	cred_result cr = credentials_resolve(c, false);
	if ((ep->flags & CB_NEED_USER) && cr != CRED_OK)
		return http_error(c, credentials_status(cr), "%s", credentials_message(cr));
	if (cr != CRED_OK)
		memset(&c->user, 0, sizeof(c->user));

	if (r->stream)
		return stream_start(c);
	if (body > 0) {
		if (!(r->body = (char *)malloc((size_t)body + 1)))
			return -1;
		r->body_cap = (size_t)body;
		return expect_continue(c); /* on_request when the body is in */
	}
	return run_request(c);
}

/* A piece of a streamed body. Once answered (411 included), the rest is
 * not wanted: the connection closes after the answer. */
static int stream_piece(cb_conn *c, const void *in, size_t len)
{
	cb_request *r = c->req;
	if (!len || r->answered)
		return 0; /* len 0: lws' piece of a POST with Content-Length: 0 */
	/* more than Content-Length: a pipelined request, see request_body_done() */
	if (r->body_done || len > r->length - r->received)
		return -1;
	unsigned flags = r->received ? 0 : CB_MSG_FIRST;
	r->received += len;
	return conn_deliver(c, in, len, flags);
}

static int request_body(cb_conn *c, const void *in, size_t len)
{
	cb_request *r = c->req;
	if (r && c->ep && r->stream)
		return stream_piece(c, in, len);
	if (!r || !r->body || r->ran)
		return 0;
	if (len > r->body_cap - r->body_len)
		return -1; /* more than Content-Length said */
	memcpy(r->body + r->body_len, in, len);
	r->body_len += len;
	return 0;
}

/* Comes once the body is in; also for a POST with an explicit
 * Content-Length: 0, which ran already. By a libwebsockets 4.1 fault it
 * comes again and again, taking nothing, for a pipelined request with a
 * body, after it took the request's own head for its body: that
 * connection is closed (or the loop would spin). So a streamed body gets
 * its FINAL piece only from the next writable callback, after the fault
 * would have shown: its endpoint never completes such a body. */
static int request_body_done(cb_conn *c)
{
	cb_request *r = c->req;
	if (!r || r->completed)
		return -1;
	r->completed = true;
	if (!c->ep)
		return 0;
	if (r->stream) {
		if (r->body_done) /* empty: FINAL went with on_request */
			return 0;
		r->body_done = true;
		r->final_due = !r->answered;
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (!r->body)
		return 0;
	r->body[r->body_len] = '\0';
	return run_request(c);
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		  void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return request_start(wsi, c, (const char *)in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return request_body(c, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return request_body_done(c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c && c->srv ? conn_writable(c) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c) /* no pss: the connection ended before a request */
			conn_end(c);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, c, in, len);
}

/* ---- WebSocket upgrades ---- */

/* The caller resolved at HTTP_CONFIRM_UPGRADE, for the
 * FILTER_PROTOCOL_CONNECTION of the same wsi that follows at once (lws
 * gives the upgraded connection a fresh pss in between): HTTP Basic
 * would otherwise cost a second PBKDF2. */
static struct {
	struct lws *wsi;
	cb_user user;
	char token[CB_TOKEN_LEN + 1];
} upgrade_caller;

/* Before the handshake only an HTTP answer is possible: write it at once
 * (lws 4.1 gives it an HTTP/1.0 status line). */
static int upgrade_refuse(struct lws *wsi, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int upgrade_refuse(struct lws *wsi, int status, const char *fmt, ...)
{
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	va_list ap;
	va_start(ap, fmt);
	char *s = error_json(status, fmt, ap);
	va_end(ap);
	if (!s)
		return -1;
	size_t n = strlen(s);
	int r = -1;
	if (!lws_add_http_common_headers(wsi, (unsigned)status, "application/json", n, &p, end) &&
	    !lws_finalize_http_header(wsi, &p, end) && (size_t)(end - p) > n) {
		memcpy(p, s, n);
		p += n;
		r = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0 ? -1 : 1;
	}
	cJSON_free(s);
	return r;
}

/* The upgrade's path, normalised, into path (PATH_BUF bytes). */
static bool upgrade_path(struct lws *wsi, char *path)
{
	if (lws_hdr_copy(wsi, path, PATH_BUF, WSI_TOKEN_GET_URI) <= 0)
		return false;
	route_normalise(path);
	return true;
}

void http_upgrade_forget(struct lws *wsi)
{
	if (upgrade_caller.wsi == wsi)
		lws_explicit_bzero(&upgrade_caller, sizeof(upgrade_caller));
}

int http_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
	char path[PATH_BUF];
	const char *rest;
	unsigned others;
	lws_explicit_bzero(&upgrade_caller, sizeof(upgrade_caller));
	/* h2c would make it an HTTP/2 connection, which cubby does not speak */
	if (strcasecmp(upgrade, "websocket"))
		return upgrade_refuse(wsi, 400, "unsupported upgrade: %s", upgrade);
	if (!upgrade_path(wsi, path))
		return upgrade_refuse(wsi, 400, "bad request path");
	const cb_endpoint *ep = route_find(net_server->tables, CB_WS, 0, path, &rest, &others);
	if (!ep)
		return upgrade_refuse(wsi, 404, "no such endpoint: %s", path);

	cb_conn tmp;
	cb_request req;
	memset(&tmp, 0, sizeof(tmp));
	memset(&req, 0, sizeof(req));
	conn_attach(&tmp, wsi, CB_WS);
	tmp.req = &req;
	cred_result cr = credentials_resolve(&tmp, true);
	if ((ep->flags & CB_NEED_USER) && cr != CRED_OK)
		return upgrade_refuse(wsi, credentials_status(cr), "%s", credentials_message(cr));
	upgrade_caller.wsi = wsi;
	if (cr == CRED_OK) {
		upgrade_caller.user = tmp.user;
		memcpy(upgrade_caller.token, req.token, sizeof(req.token));
	} else {
		memset(&upgrade_caller.user, 0, sizeof(upgrade_caller.user));
		upgrade_caller.token[0] = '\0';
	}
	lws_explicit_bzero(&req, sizeof(req));
	return 0;
}

int http_ws_route(struct lws *wsi, cb_conn *c)
{
	char path[PATH_BUF];
	unsigned others;
	/* only the one WebSocket protocol (a client naming another one that
	 * lws knows, "http", would get another receive buffer) */
	bool known = upgrade_caller.wsi == wsi && !strcmp(lws_get_protocol(wsi)->name, "cubby");
	upgrade_caller.wsi = NULL;
	conn_attach(c, wsi, CB_WS);
	if (!known || !upgrade_path(wsi, path) || !request_new(c, path, strlen(path)))
		return 1;
	const cb_endpoint *ep = route_find(net_server->tables, CB_WS, 0, c->req->path,
					   &c->req->rest, &others);
	if (!ep || conn_bind(c, ep))
		return 1;
	c->user = upgrade_caller.user;
	memcpy(c->req->token, upgrade_caller.token, sizeof(c->req->token));
	lws_explicit_bzero(&upgrade_caller, sizeof(upgrade_caller));
	return 0;
}
