/* conn.cpp: one connection: its lifecycle, its capped outbound queue,
 * the accessors protocol modules use, and the WebSocket and raw-TCP
 * callbacks that feed an endpoint's handlers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/log.h"
#include "net_internal.h"

/* One queued piece of output; LWS_PRE bytes of room, then the data. */
struct tx_item {
	lws_dll2_t list;
	tx_kind kind;
	size_t len;
};

static unsigned char *tx_data(tx_item *t)
{
	return (unsigned char *)(t + 1) + LWS_PRE;
}

static int txq_free_item(lws_dll2_t *d, void *)
{
	lws_dll2_remove(d);
	free(lws_container_of(d, tx_item, list));
	return 0;
}

static void txq_clear(cb_conn *c)
{
	lws_dll2_foreach_safe(&c->txq, NULL, txq_free_item);
	c->tx_bytes = 0;
}

int txq_push(cb_conn *c, tx_kind kind, const void *data, size_t len)
{
	if (c->close_code < 0)
		return -1; /* being dropped */
	/* One message is always taken, however large (a long list): the
	 * cap is on what piles up behind it. */
	if (c->transport != CB_HTTP && c->tx_bytes &&
	    c->tx_bytes + len > c->srv->cfg->send_queue_max) {
		/* It does not read: a close frame would not get through
		 * either, so drop the connection. */
		log_warn("%s: client %s does not read, %zu bytes queued: disconnected",
			 c->ep->path ? c->ep->path : "line", c->addr, c->tx_bytes);
		txq_clear(c);
		c->close_code = -1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return -1;
	}
	tx_item *t = (tx_item *)malloc(sizeof(*t) + LWS_PRE + len);
	if (!t)
		return -1;
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->len = len;
	if (len)
		memcpy(tx_data(t), data, len);
	lws_dll2_add_tail(&t->list, &c->txq);
	c->tx_bytes += len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

void conn_attach(cb_conn *c, struct lws *wsi, cb_transport t)
{
	c->wsi = wsi;
	c->srv = net_server;
	c->transport = t;
	lws_get_peer_simple(wsi, c->addr, sizeof(c->addr));
}

int conn_bind(cb_conn *c, const cb_endpoint *ep)
{
	if (ep->state_size && !(c->state = calloc(1, ep->state_size)))
		return -1;
	c->ep = ep;
	return 0;
}

void conn_request_free(cb_conn *c)
{
	if (!c->req)
		return;
	if (c->req->serving)
		close(c->req->fd); /* the client went away midway */
	free(c->req->path);
	free(c->req->body);
	lws_explicit_bzero(c->req->token, sizeof(c->req->token));
	free(c->req);
	c->req = NULL;
}

void conn_end(cb_conn *c)
{
	lws_sul_cancel(&c->timer);
	if (c->opened && c->ep->on_close)
		c->ep->on_close(c);
	c->opened = false;
	c->ep = NULL;
	free(c->state);
	c->state = NULL;
	txq_clear(c);
	conn_request_free(c);
	lws_dll2_remove(&c->link);
}

/* Sends the head of the queue. */
static int tx_write(cb_conn *c, lws_dll2_t *d)
{
	static const enum lws_write_protocol how[] = {
		LWS_WRITE_TEXT, LWS_WRITE_BINARY, LWS_WRITE_RAW,
		LWS_WRITE_HTTP_HEADERS, LWS_WRITE_HTTP_FINAL, LWS_WRITE_HTTP,
	};
	tx_item *t = lws_container_of(d, tx_item, list);
	int n = lws_write(c->wsi, tx_data(t), t->len, how[t->kind]);
	c->tx_bytes -= t->len;
	txq_free_item(d, NULL);
	return n < 0 ? -1 : 0;
}

/* HTTP: the FINAL piece of a streamed body, the queue (a 100 Continue,
 * an answer's headers and body), then the pieces of a file being
 * served. Once the answer is out the transaction is complete (the
 * connection waits for the next request), or, when it must close, it
 * closes once that is flushed (lws calls back only then). */
static int http_writable(cb_conn *c)
{
	cb_request *r = c->req;
	if (r && r->final_due) { /* see request_body_done() */
		r->final_due = false;
		if (conn_deliver(c, "", 0, CB_MSG_FINAL))
			return -1;
	}
	lws_dll2_t *d = lws_dll2_get_head(&c->txq);
	if (!d && !(r && r->serving))
		return r && r->answered && r->close_after ? -1 : 0;
	if (d ? tx_write(c, d) : serve_piece(c))
		return -1;
	if (lws_dll2_get_head(&c->txq) || (r && (r->serving || (r->answered && r->close_after)))) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	return r && r->answered && lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

/* One lws_write per WRITEABLE. */
int conn_writable(cb_conn *c)
{
	if (c->transport == CB_HTTP)
		return http_writable(c);
	lws_dll2_t *d = lws_dll2_get_head(&c->txq);
	if (!d) {
		if (c->want_writable && !c->close_code) {
			c->want_writable = false;
			return c->ep->on_writable ? c->ep->on_writable(c) : 0;
		}
		if (c->close_code > 0 && c->transport == CB_WS) {
			lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
					 (unsigned char *)c->close_reason, strlen(c->close_reason));
			return -1;
		}
		if (c->close_code > 0)
			return lws_raw_transaction_completed(c->wsi);
		return 0;
	}
	if (tx_write(c, d))
		return -1;
	if (lws_dll2_get_head(&c->txq) || c->close_code > 0 || c->want_writable)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- accessors ---- */

cb_store *conn_store(cb_conn *c) { return c->srv->st; }
const cb_config *conn_config(cb_conn *c) { return c->srv->cfg; }
void *conn_state(cb_conn *c) { return c->state; }
const cb_user *conn_user(cb_conn *c) { return c->user.id[0] ? &c->user : NULL; }
const char *conn_addr(cb_conn *c) { return c->addr; }

const char *conn_token(cb_conn *c)
{
	return c->req && c->req->token[0] ? c->req->token : NULL;
}

cb_method conn_method(cb_conn *c) { return c->req ? c->req->method : (cb_method)0; }
const char *conn_path(cb_conn *c) { return c->req ? c->req->path : ""; }
const char *conn_path_rest(cb_conn *c) { return c->req ? c->req->rest : ""; }

const char *conn_query(cb_conn *c, const char *name, char *buf, size_t n)
{
	return query_arg(c->wsi, name, buf, n);
}

bool conn_has_query(cb_conn *c, const char *name)
{
	return query_has(c->wsi, name);
}

uint64_t conn_content_length(cb_conn *c)
{
	return c->req ? c->req->length : 0;
}

const char *conn_header(cb_conn *c, cb_header_id h, char *buf, size_t n)
{
	static const enum lws_token_indexes tokens[] = {
		WSI_TOKEN_HTTP_RANGE, WSI_TOKEN_HTTP_IF_NONE_MATCH, WSI_TOKEN_HTTP_CONTENT_TYPE,
	};
	int len = lws_hdr_copy(c->wsi, buf, n > INT32_MAX ? INT32_MAX : (int)n, tokens[h]);
	return len > 0 ? buf : NULL;
}

const char *conn_body(cb_conn *c, size_t *len)
{
	if (!c->req || !c->req->body) {
		*len = 0;
		return "";
	}
	*len = c->req->body_len;
	return c->req->body;
}

/* ---- output ---- */

int conn_send(cb_conn *c, const void *data, size_t len, bool binary)
{
	tx_kind k = c->transport == CB_RAW ? TX_RAW : binary ? TX_BINARY : TX_TEXT;
	return txq_push(c, k, data, len);
}

int conn_send_json(cb_conn *c, const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	if (!s)
		return -1;
	int r = conn_send(c, s, strlen(s), false);
	cJSON_free(s);
	return r;
}

uint64_t conn_frame_left(cb_conn *c)
{
	return c->frame_left;
}

int conn_peer_close_code(cb_conn *c)
{
	return c->peer_close_code;
}

size_t conn_queued(cb_conn *c)
{
	return c->tx_bytes;
}

void conn_close(cb_conn *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	c->close_code = code > 0 ? code : LWS_CLOSE_STATUS_NORMAL;
	lws_strncpy(c->close_reason, reason ? reason : "", sizeof(c->close_reason));
	lws_callback_on_writable(c->wsi);
}

void conn_want_writable(cb_conn *c)
{
	c->want_writable = true;
	lws_callback_on_writable(c->wsi);
}

void conn_pause_input(cb_conn *c, bool pause)
{
	lws_rx_flow_control(c->wsi, pause ? 0 : 1);
}

static void timer_due(lws_sorted_usec_list_t *sul)
{
	cb_conn *c = lws_container_of(sul, cb_conn, timer);
	if (c->ep && c->ep->on_timer && !c->close_code && c->ep->on_timer(c))
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void conn_timer(cb_conn *c, int64_t ms)
{
	if (ms < 0)
		lws_sul_cancel(&c->timer);
	else
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->timer, timer_due,
				 ms * LWS_US_PER_MS);
}

/* ---- input: streamed HTTP bodies, WebSocket, raw TCP ---- */

/* The events of this connection's handlers name it as their origin, so
 * a module can tell its own changes from others'. */
int conn_deliver(cb_conn *c, const void *in, size_t len, unsigned flags)
{
	if (!c->ep || c->close_code) /* closing: what comes now is dropped */
		return c->close_code < 0 ? -1 : 0;
	events_set_origin(c->srv->st, c);
	int r = c->ep->on_receive ? c->ep->on_receive(c, in, len, flags) : 0;
	events_set_origin(c->srv->st, NULL);
	return r;
}

/* ---- WebSocket ---- */

static int open_endpoint(cb_conn *c)
{
	c->opened = true;
	lws_dll2_add_tail(&c->link, &c->srv->conns);
	events_set_origin(c->srv->st, c);
	int r = c->ep->on_open ? c->ep->on_open(c) : 0;
	events_set_origin(c->srv->st, NULL);
	conn_request_free(c);
	return r;
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return http_ws_route(wsi, c);
	case LWS_CALLBACK_ESTABLISHED:
		return open_endpoint(c);
	case LWS_CALLBACK_RECEIVE: {
		c->frame_left = (uint64_t)lws_remaining_packet_payload(wsi);
		unsigned flags = (lws_is_first_fragment(wsi) ? CB_MSG_FIRST : 0) |
				 (lws_is_final_fragment(wsi) ? CB_MSG_FINAL : 0) |
				 (lws_frame_is_binary(wsi) ? CB_MSG_BINARY : 0);
		return conn_deliver(c, in, len, flags);
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->ep ? conn_writable(c) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
		const unsigned char *p = (const unsigned char *)in;
		c->peer_close_code = len >= 2 ? (p[0] << 8) | p[1] : LWS_CLOSE_STATUS_NO_STATUS;
		return 0; /* lws echoes it */
	}
	case LWS_CALLBACK_CLOSED:
		conn_end(c);
		return 0;
	default:
		return 0;
	}
}

/* ---- raw TCP ---- */

/* A raw client silent for idle_timeout is dropped. */
static void raw_idle_timer(struct lws *wsi)
{
	int64_t secs = net_server->cfg->idle_timeout;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, secs > INT32_MAX ? INT32_MAX : (int)secs);
}

int raw_callback(struct lws *wsi, enum lws_callback_reasons reason, cb_conn *c,
		 void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		conn_attach(c, wsi, CB_RAW);
		if (conn_bind(c, net_server->raw))
			return -1;
		raw_idle_timer(wsi);
		return open_endpoint(c);
	case LWS_CALLBACK_RAW_RX:
		raw_idle_timer(wsi);
		return conn_deliver(c, in, len, CB_MSG_FIRST | CB_MSG_FINAL);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c->ep ? conn_writable(c) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		conn_end(c);
		return 0;
	default:
		return 0;
	}
}
