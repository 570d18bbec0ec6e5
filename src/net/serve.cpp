/* serve.cpp: answering GET or HEAD with the bytes of an open file:
 * If-None-Match (304), one byte range (206, 416; RFC 9110 14), and the
 * body read with pread and written a piece per writable callback, so
 * that a large file costs no memory and a slow client holds no more than
 * one piece (libwebsockets 4.1 as Debian builds it has no ranges of its
 * own, and serves files only by name); and the Content-Disposition that
 * goes with a file, and the percent-encoding it and URLs use. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cubby/log.h"
#include "net_internal.h"

#define SERVE_PIECE (64 * 1024)

/* Digits at *s into *v; false when there are none or too many. */
static bool parse_u64(const char **s, uint64_t *v)
{
	const char *p = *s;
	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	if (p == *s)
		return false;
	*s = p;
	return true;
}

int range_parse(const char *v, uint64_t size, uint64_t *first, uint64_t *last)
{
	uint64_t a, b;
	if (strncasecmp(v, "bytes=", 6))
		return 0;
	v += 6;
	if (*v == '-') { /* the last b bytes */
		v++;
		if (!parse_u64(&v, &b) || *v)
			return 0;
		if (!b || !size)
			return -1;
		*first = b < size ? size - b : 0;
		*last = size - 1;
		return 1;
	}
	if (!parse_u64(&v, &a) || *v++ != '-')
		return 0;
	if (!*v)
		b = UINT64_MAX;
	else if (!parse_u64(&v, &b) || *v || b < a)
		return 0;
	if (a >= size)
		return -1;
	*first = a;
	*last = b < size ? b : size - 1;
	return 1;
}

bool etag_matches(const char *v, const char *etag)
{
	size_t n = strlen(etag);
	while (*v) {
		v += strspn(v, " \t,");
		size_t len = strcspn(v, ",");
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == 1 && *v == '*')
			return true;
		/* weak comparison: W/"x" is "x" (RFC 9110 13.1.2) */
		const char *t = !strncmp(v, "W/", 2) ? v + 2 : v;
		if ((size_t)(v + len - t) == n && !memcmp(t, etag, n))
			return true;
		v += len;
		v += strcspn(v, ",");
	}
	return false;
}

/* Headers only: 304 (the ETag, no length) or the start of 200 / 206. */
static int serve_head(cb_conn *c, int status, const char *type, uint64_t len,
		      const char *etag, const char *range, const cb_header *extra)
{
	unsigned char buf[LWS_PRE + HTTP_HEAD_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	struct lws *wsi = c->wsi;
	/* stored, but asked again each time: a changed file is never served
	 * stale */
	if (http_head(c, status, type, len, "private, no-cache", extra, &p, end) ||
	    (etag && lws_add_http_header_by_name(wsi, (const unsigned char *)"etag:",
						 (const unsigned char *)etag, (int)strlen(etag),
						 &p, end)))
		return -1;
	if (status != 304 &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"accept-ranges:",
					(const unsigned char *)"bytes", 5, &p, end))
		return -1;
	if (range && lws_add_http_header_by_name(wsi, (const unsigned char *)"content-range:",
						 (const unsigned char *)range,
						 (int)strlen(range), &p, end))
		return -1;
	return http_head_send(c, start, &p, end);
}

/* The answer without the file's bytes; after it the caller closes fd. */
static int serve_answer(cb_conn *c, uint64_t size, const char *type, const char *etag,
			const cb_header *extra, uint64_t *first, uint64_t *len)
{
	char v[1024], range[80];
	*len = 0;
	if (etag && conn_header(c, CB_HDR_IF_NONE_MATCH, v, sizeof(v)) && etag_matches(v, etag))
		return serve_head(c, 304, NULL, HTTP_NO_LENGTH, etag, NULL, extra);
	uint64_t last;
	int r = conn_header(c, CB_HDR_RANGE, v, sizeof(v)) ? range_parse(v, size, first, &last) : 0;
	if (r < 0) {
		snprintf(range, sizeof(range), "bytes */%llu", (unsigned long long)size);
		const cb_header h[] = {{"content-range:", range}, {NULL, NULL}};
		return http_error_with(c, 416, h, "range not satisfiable");
	}
	if (!r) {
		*first = 0;
		*len = size;
		return serve_head(c, 200, type, size, etag, NULL, extra);
	}
	*len = last - *first + 1;
	snprintf(range, sizeof(range), "bytes %llu-%llu/%llu", (unsigned long long)*first,
		 (unsigned long long)last, (unsigned long long)size);
	return serve_head(c, 206, type, *len, etag, range, extra);
}

int http_serve_fd(cb_conn *c, int fd, uint64_t size, const char *type, const char *etag,
		  const cb_header *extra)
{
	cb_request *r = c->req;
	uint64_t first, len;
	if (!r || serve_answer(c, size, type, etag, extra, &first, &len)) {
		close(fd);
		return -1;
	}
	if (r->head || !len) {
		close(fd);
		return 0;
	}
	r->serving = true;
	r->fd = fd;
	r->off = first;
	r->left = len;
	return 0;
}

int serve_piece(cb_conn *c)
{
	/* one piece at a time in the one thread; lws keeps a copy of what
	 * the socket does not take at once */
	static unsigned char buf[LWS_PRE + SERVE_PIECE];
	cb_request *r = c->req;
	size_t want = r->left < SERVE_PIECE ? (size_t)r->left : SERVE_PIECE;
	ssize_t n;
	do
		n = pread(r->fd, buf + LWS_PRE, want, (off_t)r->off);
	while (n < 0 && errno == EINTR);
	if (n <= 0) { /* the length is promised: end the connection */
		log_error("serving %s: %s at %llu", r->path, n ? strerror(errno) : "file shrank",
			  (unsigned long long)r->off);
		return -1;
	}
	r->off += (uint64_t)n;
	r->left -= (uint64_t)n;
	if (!r->left) {
		r->serving = false;
		close(r->fd);
	}
	return lws_write(c->wsi, buf + LWS_PRE, (size_t)n,
			 r->left ? LWS_WRITE_HTTP : LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
}

void http_percent_encode(const char *s, const char *keep, char *out, size_t n, size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p && *len + 4 < n; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr(keep, *p)) {
			out[(*len)++] = (char)*p;
		} else {
			out[(*len)++] = '%';
			out[(*len)++] = hex[*p >> 4];
			out[(*len)++] = hex[*p & 15];
		}
	}
	out[*len] = 0;
}

void http_disposition(const char *name, char *out, size_t n)
{
	size_t len = (size_t)snprintf(out, n, "inline; filename=\"");
	bool exact = true;
	for (const char *p = name; *p && len + 2 < n; p++) {
		bool plain = *p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\';
		exact = exact && plain;
		out[len++] = plain ? *p : '_';
	}
	len += (size_t)snprintf(out + len, n - len, "\"");
	if (exact || len + 20 > n)
		return;
	len += (size_t)snprintf(out + len, n - len, "; filename*=UTF-8''");
	/* as before: letters, digits and these of RFC 5987's attr-chars
	 * stand for themselves */
	http_percent_encode(name, ".-_", out, n, &len);
}
