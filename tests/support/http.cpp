/* http.cpp: the test HTTP/1.1 client: one request per connection, the
 * answer read whole (Content-Length, chunked, or up to the close) within
 * T_TIMEOUT_MS, plus header lookup and JSON helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "support.h"

/* ---- a growing receive buffer ---- */

/* 1 got bytes, 0 EOF, -1 timeout or error. */
static int rx_read(int fd, t_buf *b, int64_t deadline)
{
	if (t_buf_reserve(b, 16384))
		return -1;
	int64_t left = deadline - t_now_ms();
	ssize_t n = t_recv_some(fd, b->p + b->len, b->cap - b->len - 1, left > 0 ? (int)left : 0);
	if (n <= 0)
		return (int)n;
	b->len += (size_t)n;
	b->p[b->len] = 0;
	return 1;
}

/* ---- the request ---- */

/* Whether the "Name: value\r\n" lines in headers have one called name. */
static bool has_header(const char *headers, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *l = headers; l && *l;) {
		if (!strncasecmp(l, name, nlen) && l[nlen] == ':')
			return true;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return false;
}

static bool method_has_body(const char *m)
{
	return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

/* The whole request in one malloc'd buffer (*len its length). */
static char *build_request(int port, const char *method, const char *path, const char *headers,
			   const void *body, size_t body_len, size_t *len)
{
	if (!headers)
		headers = "";
	char head[512];
	int hn = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method,
			  path, port);
	char clen[64] = "";
	bool framed = has_header(headers, "content-length") ||
		      has_header(headers, "transfer-encoding");
	if (!framed && (body || method_has_body(method)))
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", body ? body_len : 0);
	size_t total = (size_t)hn + strlen(headers) + strlen(clen) + 2 + (body ? body_len : 0);
	char *req = (char *)malloc(total + 1);
	if (!req)
		return NULL;
	int n = snprintf(req, total + 1, "%s%s%s\r\n", head, headers, clen);
	if (body)
		memcpy(req + n, body, body_len);
	*len = total;
	return req;
}

/* ---- the answer ---- */

/* Decodes a chunked body in p[0..n) into out: 1 complete, 0 more
 * needed, -1 malformed. */
static int dechunk(const char *p, size_t n, t_buf *out)
{
	size_t i = 0;
	out->len = 0;
	for (;;) {
		const char *eol = (const char *)memmem(p + i, n - i, "\r\n", 2);
		if (!eol)
			return 0;
		char *end;
		unsigned long size = strtoul(p + i, &end, 16);
		if (end == p + i)
			return -1;
		i = (size_t)(eol - p) + 2;
		if (size == 0) /* trailers: up to an empty line */
			return memmem(p + i - 2, n - i + 2, "\r\n\r\n", 4) ? 1 : 0;
		if (n - i < size + 2)
			return 0;
		if (t_buf_reserve(out, size))
			return -1;
		memcpy(out->p + out->len, p + i, size);
		out->len += size;
		out->p[out->len] = 0;
		i += size + 2;
	}
}

/* Reads until the head ("\r\n\r\n") is in b, skipping 1xx interim
 * answers. The head's length (with the blank line), or -1. */
static long read_head(int fd, t_buf *b, int64_t deadline)
{
	for (;;) {
		char *end = b->len ? (char *)memmem(b->p, b->len, "\r\n\r\n", 4) : NULL;
		if (end) {
			size_t hl = (size_t)(end - b->p) + 4;
			int status = 0;
			if (sscanf(b->p, "HTTP/1.%*d %d", &status) != 1)
				return -1;
			if (status < 100 || status >= 200 || status == 101)
				return (long)hl;
			b->len -= hl;
			memmove(b->p, b->p + hl, b->len);
			continue;
		}
		if (rx_read(fd, b, deadline) != 1)
			return -1;
	}
}

/* Sets dst to a copy of p[0..n); 0 or -1. */
static int copy_body(t_buf *dst, const char *p, size_t n)
{
	if (t_buf_reserve(dst, n))
		return -1;
	memcpy(dst->p, p, n);
	dst->len = n;
	dst->p[n] = 0;
	return 0;
}

/* Reads the body after the head (hl bytes) in b into body: 0 or -1. */
static int read_body(int fd, t_buf *b, size_t hl, const char *method, const t_http_response *out,
		     t_buf *body, int64_t deadline)
{
	char v[64];
	bool none = !strcmp(method, "HEAD") || out->status == 204 || out->status == 304;
	const char *te = t_http_header(out, "transfer-encoding", v, sizeof(v));
	bool chunked = te && strcasestr(te, "chunked");
	const char *cl = chunked ? NULL : t_http_header(out, "content-length", v, sizeof(v));
	size_t want = cl ? strtoul(cl, NULL, 10) : 0;
	for (;;) {
		size_t n = b->len - hl;
		if (none)
			return copy_body(body, "", 0);
		if (cl && n >= want)
			return copy_body(body, b->p + hl, want);
		if (chunked) {
			int r = dechunk(b->p + hl, n, body);
			if (r)
				return r > 0 ? 0 : -1;
		}
		int r = rx_read(fd, b, deadline);
		if (r == 0 && !chunked && !cl) /* the close ends the body */
			return copy_body(body, b->p + hl, b->len - hl);
		if (r != 1) {
			fprintf(stderr, "t_http: %s\n",
				r ? "timed out reading the body" : "connection closed in the body");
			return -1;
		}
	}
}

static int read_response(int fd, const char *method, t_http_response *out)
{
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	t_buf b = {NULL, 0, 0};
	long hl = read_head(fd, &b, deadline);
	int rc = -1;
	if (hl > 0) {
		sscanf(b.p, "HTTP/1.%*d %d", &out->status);
		size_t n = (size_t)hl < sizeof(out->headers) ? (size_t)hl : sizeof(out->headers) - 1;
		memcpy(out->headers, b.p, n);
		out->headers[n] = 0;
		t_buf body = {NULL, 0, 0};
		rc = read_body(fd, &b, (size_t)hl, method, out, &body, deadline);
		if (!rc && !t_buf_reserve(&body, 0)) {
			body.p[body.len] = 0;
			out->body = body.p;
			out->body_len = body.len;
		} else {
			free(body.p);
			rc = -1;
		}
	}
	free(b.p);
	if (rc)
		out->status = 0;
	return rc;
}

int t_http(int port, const char *method, const char *path, const char *headers,
	   const void *body, size_t body_len, t_http_response *out)
{
	memset(out, 0, sizeof(*out));
	size_t len;
	char *req = build_request(port, method, path, headers, body, body_len, &len);
	if (!req)
		return -1;
	int fd = t_connect(port);
	if (fd < 0) {
		fprintf(stderr, "t_http: %s %s: cannot connect to port %d: %s\n", method, path, port,
			strerror(errno));
		free(req);
		return -1;
	}
	/* a server may answer (and close) before taking the whole request:
	 * read what it said all the same */
	t_send_all(fd, req, len);
	free(req);
	int rc = read_response(fd, method, out);
	close(fd);
	if (rc)
		fprintf(stderr, "t_http: %s %s: no complete answer\n", method, path);
	return rc;
}

const char *t_http_header(const t_http_response *r, const char *name, char *buf, size_t n)
{
	size_t nlen = strlen(name);
	const char *l = strstr(r->headers, "\r\n"); /* past the status line */
	while (l && l[2] && !(l[2] == '\r' && l[3] == '\n')) {
		l += 2;
		const char *eol = strstr(l, "\r\n");
		if (!eol)
			eol = l + strlen(l);
		if (!strncasecmp(l, name, nlen) && l[nlen] == ':') {
			const char *v = l + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t vl = (size_t)(eol - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= n)
				vl = n - 1;
			memcpy(buf, v, vl);
			buf[vl] = 0;
			return buf;
		}
		l = *eol ? eol : NULL;
	}
	return NULL;
}

cJSON *t_http_json(const t_http_response *r)
{
	return r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
}

void t_http_free(t_http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

int t_http_json_req(int port, const char *method, const char *path, const char *headers,
		    const char *json_body, cJSON **json)
{
	if (json)
		*json = NULL;
	const char *type = json_body ? "Content-Type: application/json\r\n" : "";
	size_t hl = strlen(type) + (headers ? strlen(headers) : 0) + 1;
	char *h = (char *)malloc(hl);
	if (!h)
		return -1;
	snprintf(h, hl, "%s%s", type, headers ? headers : "");
	t_http_response r;
	int rc = t_http(port, method, path, h, json_body, json_body ? strlen(json_body) : 0, &r);
	free(h);
	if (rc)
		return -1;
	if (json)
		*json = t_http_json(&r);
	t_http_free(&r);
	return r.status;
}

int t_http_post_json(int port, const char *path, const char *headers, const char *json_body,
		     cJSON **json)
{
	return t_http_json_req(port, "POST", path, headers, json_body, json);
}

/* ---- checking answers ---- */

const char *t_json_str(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What is wrong with j as the error body of code/message (a message
 * that starts with it when prefix), or NULL. */
static const char *error_body_mismatch(const cJSON *j, int code, const char *message, bool prefix)
{
	if (!cJSON_IsObject(j))
		return "the body is not a JSON object";
	if (cJSON_GetArraySize(j) != 3)
		return "the body does not have exactly the members error, code, message";
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "error")))
		return "\"error\" is not true";
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
	if (!cJSON_IsNumber(c) || c->valuedouble != code)
		return "\"code\" is not the status";
	const char *m = t_json_str(j, "message");
	if (!m || (prefix ? strncmp(m, message, strlen(message)) : strcmp(m, message)))
		return "\"message\" differs";
	return NULL;
}

/* t_check_error(), or with prefix a message that starts with message. */
static int check_error(const t_http_response *r, int code, const char *message, bool prefix,
		       char *why, size_t n)
{
	char type[128];
	const char *bad = NULL;
	cJSON *j = NULL;
	if (r->status != code)
		bad = "wrong status";
	else if (!t_http_header(r, "content-type", type, sizeof(type)) ||
		 strncasecmp(type, "application/json", 16))
		bad = "Content-Type is not application/json";
	else
		bad = error_body_mismatch(j = t_http_json(r), code, message, prefix);
	cJSON_Delete(j);
	if (!bad)
		return 0;
	snprintf(why, n, "%s: want %d {\"error\":true,\"code\":%d,\"message\":\"%s%s\"}, got %d %.*s",
		 bad, code, code, message, prefix ? "..." : "", r->status,
		 (int)(r->body_len > 600 ? 600 : r->body_len), r->body ? r->body : "");
	return -1;
}

int t_check_error(const t_http_response *r, int code, const char *message, char *why, size_t n)
{
	return check_error(r, code, message, false, why, n);
}

int t_check_error_prefix(const t_http_response *r, int code, const char *prefix, char *why,
			 size_t n)
{
	return check_error(r, code, prefix, true, why, n);
}
