/* ws.cpp: the test WebSocket client (RFC 6455) over a plain socket: the
 * upgrade handshake with its Sec-WebSocket-Accept check, masked client
 * frames, and a receiver that reassembles fragmented messages, answers
 * pings and reports close frames. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sha1.h>

#include "support.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- buffers ---- */

static int grow(unsigned char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	unsigned char *n = (unsigned char *)realloc(*p, c);
	if (!n)
		return -1;
	*p = n;
	*cap = c;
	return 0;
}

/* Reads more into ws->buf: 1 got bytes, 0 EOF, -1 timeout or error. */
static int ws_fill(t_ws *ws, int64_t deadline)
{
	if (grow(&ws->buf, &ws->cap, ws->len + 16384))
		return -1;
	int64_t left = deadline - t_now_ms();
	ssize_t n = t_recv_some(ws->fd, ws->buf + ws->len, ws->cap - ws->len, left > 0 ? (int)left : 0);
	if (n > 0)
		ws->len += (size_t)n;
	return n > 0 ? 1 : (int)n;
}

static void ws_drop(t_ws *ws, size_t n)
{
	ws->len -= n;
	memmove(ws->buf, ws->buf + n, ws->len);
}

/* ---- the handshake ---- */

void t_ws_accept_for(const char *key, char out[64])
{
	SHA1_CTX c;
	uint8_t d[SHA1_DIGEST_LENGTH];
	SHA1Init(&c);
	SHA1Update(&c, (const uint8_t *)key, strlen(key));
	SHA1Update(&c, (const uint8_t *)WS_GUID, strlen(WS_GUID));
	SHA1Final(d, &c);
	t_base64(d, sizeof(d), out, 64);
}

static int send_upgrade(t_ws *ws, int port, const char *path, const char *extra, const char *key)
{
	if (!extra)
		extra = "";
	size_t n = strlen(path) + strlen(extra) + 512;
	char *req = (char *)malloc(n);
	if (!req)
		return -1;
	int len = snprintf(req, n,
			   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			   "Sec-WebSocket-Version: 13\r\n%s\r\n",
			   path, port, key, extra);
	int rc = t_send_all(ws->fd, req, (size_t)len);
	free(req);
	return rc;
}

/* Reads the handshake answer's head into r (the rest stays in ws->buf);
 * 0 or -1 (closed or timed out before a whole head). */
static int read_answer(t_ws *ws, t_http_response *r)
{
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	for (;;) {
		unsigned char *end = ws->len ? (unsigned char *)memmem(ws->buf, ws->len, "\r\n\r\n", 4) : NULL;
		if (end) {
			size_t hl = (size_t)(end - ws->buf) + 4;
			size_t n = hl < sizeof(r->headers) ? hl : sizeof(r->headers) - 1;
			memcpy(r->headers, ws->buf, n);
			r->headers[n] = 0;
			sscanf(r->headers, "HTTP/1.%*d %d", &r->status);
			ws_drop(ws, hl);
			return 0;
		}
		if (ws_fill(ws, deadline) != 1)
			return -1;
	}
}

static void ws_reset(t_ws *ws)
{
	if (ws->fd >= 0)
		close(ws->fd);
	free(ws->buf);
	free(ws->msg);
	int status = ws->status;
	memset(ws, 0, sizeof(*ws));
	ws->fd = -1;
	ws->status = status;
}

int t_ws_connect(t_ws *ws, int port, const char *path, const char *extra_headers)
{
	memset(ws, 0, sizeof(*ws));
	uint8_t raw[16];
	char key[32], want[64], got[128];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)rand();
	t_base64(raw, sizeof(raw), key, sizeof(key));
	ws->fd = t_connect(port);
	if (ws->fd < 0) {
		fprintf(stderr, "t_ws_connect: port %d: %s\n", port, strerror(errno));
		return -1;
	}
	t_http_response r;
	memset(&r, 0, sizeof(r));
	if (send_upgrade(ws, port, path, extra_headers, key) || read_answer(ws, &r)) {
		fprintf(stderr, "t_ws_connect: %s: no answer to the upgrade\n", path);
		ws_reset(ws);
		return -1;
	}
	ws->status = r.status;
	t_ws_accept_for(key, want);
	if (r.status != 101 || !t_http_header(&r, "sec-websocket-accept", got, sizeof(got)) ||
	    strcmp(got, want)) {
		if (r.status == 101)
			fprintf(stderr, "t_ws_connect: %s: wrong Sec-WebSocket-Accept\n", path);
		ws_reset(ws);
		return -1;
	}
	return 0;
}

/* ---- sending ---- */

int t_ws_send(t_ws *ws, int opcode, const void *p, size_t n, bool fin)
{
	if (ws->fd < 0)
		return -1;
	unsigned char *f = (unsigned char *)malloc(n + 14);
	if (!f)
		return -1;
	size_t h = 0;
	f[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126) {
		f[h++] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		f[h++] = 0x80 | 126;
		f[h++] = (unsigned char)(n >> 8);
		f[h++] = (unsigned char)n;
	} else {
		f[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[h++] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	unsigned char *mask = f + h;
	for (int i = 0; i < 4; i++)
		mask[i] = (unsigned char)rand();
	h += 4;
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		f[h + i] = s[i] ^ mask[i & 3];
	int rc = t_send_all(ws->fd, f, h + n);
	free(f);
	return rc;
}

int t_ws_send_text(t_ws *ws, const char *s)
{
	return t_ws_send(ws, 1, s, strlen(s), true);
}

int t_ws_send_action(t_ws *ws, const char *action, cJSON *value)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "action", action);
	if (value)
		cJSON_AddItemToObject(j, "value", value);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	int rc = text ? t_ws_send_text(ws, text) : -1;
	cJSON_free(text);
	return rc;
}

/* ---- receiving ---- */

struct frame {
	bool fin;
	int op;
	size_t hlen;           /* header bytes, mask included */
	uint64_t plen;         /* payload bytes */
	const unsigned char *mask; /* NULL if unmasked */
};

/* Parses the frame at the start of ws->buf: 1 whole frame there, 0 more
 * needed. */
static int frame_at(const t_ws *ws, frame *f)
{
	const unsigned char *b = ws->buf;
	if (ws->len < 2)
		return 0;
	f->fin = b[0] & 0x80;
	f->op = b[0] & 0x0f;
	bool masked = b[1] & 0x80;
	uint64_t len = b[1] & 0x7f;
	size_t h = 2, ext = len == 126 ? 2 : len == 127 ? 8 : 0;
	if (ws->len < h + ext + (masked ? 4 : 0))
		return 0;
	if (ext) {
		len = 0;
		for (size_t i = 0; i < ext; i++)
			len = len << 8 | b[h + i];
		h += ext;
	}
	f->mask = masked ? b + h : NULL;
	f->hlen = h + (masked ? 4 : 0);
	f->plen = len;
	return ws->len - f->hlen >= len ? 1 : 0;
}

/* A malloc'd, NUL-terminated, unmasked copy of f's payload. */
static char *payload(const t_ws *ws, const frame *f)
{
	char *p = (char *)malloc(f->plen + 1);
	if (!p)
		return NULL;
	for (size_t i = 0; i < f->plen; i++)
		p[i] = (char)(ws->buf[f->hlen + i] ^ (f->mask ? f->mask[i & 3] : 0));
	p[f->plen] = 0;
	return p;
}

/* A close frame: its code and reason out, our close back. */
static int on_close(t_ws *ws, const char *p, size_t n, char **data, size_t *len, int *close_code)
{
	int code = n >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
	size_t rl = n >= 2 ? n - 2 : 0;
	char *reason = (char *)malloc(rl + 1);
	memcpy(reason, p + (n >= 2 ? 2 : 0), rl);
	reason[rl] = 0;
	if (!ws->close_sent) {
		unsigned char c[2] = {(unsigned char)(code >> 8), (unsigned char)code};
		t_ws_send(ws, 8, c, code == 1005 ? 0 : 2, true);
		ws->close_sent = true;
	}
	if (close_code)
		*close_code = code;
	*data = reason;
	*len = rl;
	return 8;
}

/* Adds a data frame's payload to the message under way; 1 when the
 * message is whole, 0 when more frames are needed, -1 on a protocol
 * error. */
static int on_data(t_ws *ws, const frame *f, const char *p)
{
	if ((f->op == 0) != (ws->msg_op != 0)) {
		fprintf(stderr, "t_ws_recv: %s\n", f->op ? "a new message inside a fragmented one"
							  : "a continuation without a message");
		return -1;
	}
	if (f->op)
		ws->msg_op = f->op;
	unsigned char *m = (unsigned char *)realloc(ws->msg, ws->msg_len + f->plen + 1);
	if (!m)
		return -1;
	ws->msg = m;
	memcpy(ws->msg + ws->msg_len, p, f->plen);
	ws->msg_len += f->plen;
	ws->msg[ws->msg_len] = 0;
	return f->fin ? 1 : 0;
}

/* Handles the whole frame f at the start of ws->buf: the opcode of a
 * message to return, 0 to go on, -1 on a protocol error. */
static int on_frame(t_ws *ws, const frame *f, char **data, size_t *len, int *close_code)
{
	char *p = payload(ws, f);
	if (!p)
		return -1;
	ws_drop(ws, f->hlen + f->plen);
	int rc = 0;
	if (f->op >= 8 && (!f->fin || f->plen > 125)) {
		fprintf(stderr, "t_ws_recv: bad control frame (opcode %d)\n", f->op);
		rc = -1;
	} else if (f->op == 9) {
		rc = t_ws_send(ws, 10, p, f->plen, true);
	} else if (f->op == 8) {
		rc = on_close(ws, p, f->plen, data, len, close_code);
	} else if (f->op == 0 || f->op == 1 || f->op == 2) {
		rc = on_data(ws, f, p);
		if (rc == 1) {
			rc = ws->msg_op;
			*data = (char *)ws->msg;
			*len = ws->msg_len;
			ws->msg = NULL;
			ws->msg_len = 0;
			ws->msg_op = 0;
		}
	} else if (f->op != 10) {
		fprintf(stderr, "t_ws_recv: unknown opcode %d\n", f->op);
		rc = -1;
	}
	free(p);
	return rc;
}

int t_ws_recv(t_ws *ws, char **data, size_t *len, int *close_code, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	*data = NULL;
	*len = 0;
	if (ws->fd < 0)
		return 0;
	for (;;) {
		frame f;
		if (frame_at(ws, &f)) {
			int rc = on_frame(ws, &f, data, len, close_code);
			if (rc)
				return rc;
			continue;
		}
		int r = ws_fill(ws, deadline);
		if (r != 1)
			return r;
	}
}

void t_ws_close(t_ws *ws)
{
	if (ws->fd >= 0 && !ws->close_sent) {
		unsigned char c[2] = {1000 >> 8, 1000 & 0xff};
		t_ws_send(ws, 8, c, 2, true);
	}
	ws_reset(ws);
}
