/* net.cpp: the test clients' TCP layer (connect, send, receive, wait for
 * the peer to close, each bounded by a timeout), base64 and credential
 * headers, and the newline-delimited line-protocol client (plain TCP or
 * TLS) with the base64 decoding its tests need. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>

#include "support.h"

/* ---- time ---- */

int64_t t_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void t_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Waits for events on fd until deadline; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - t_now_ms();
		if (left < 0)
			left = 0;
		struct pollfd p = {fd, events, 0};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* ---- TCP ---- */

static int connect_wait(int fd, const sockaddr_in *a)
{
	if (connect(fd, (const sockaddr *)a, sizeof(*a)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if (wait_fd(fd, POLLOUT, t_now_ms() + T_TIMEOUT_MS) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	errno = err;
	return err ? -1 : 0;
}

int t_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect_wait(fd, &a) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int t_send_all(int fd, const void *p, size_t n)
{
	const char *c = (const char *)p;
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	while (n) {
		if (wait_fd(fd, POLLOUT, deadline) != 1) {
			fprintf(stderr, "t_send_all: timed out\n");
			return -1;
		}
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t t_recv_some(int fd, void *buf, size_t n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		int r = wait_fd(fd, POLLIN, deadline);
		if (r != 1)
			return -1;
		ssize_t got = recv(fd, buf, n, 0);
		if (got >= 0)
			return got;
		if (errno == ECONNRESET)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

int t_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	char buf[4096];
	for (;;) {
		int64_t left = deadline - t_now_ms();
		ssize_t r = t_recv_some(fd, buf, sizeof(buf), left > 0 ? (int)left : 0);
		if (r == 0)
			return 1;
		if (r < 0)
			return 0;
	}
}

/* ---- base64 and credentials ---- */

int t_base64(const void *p, size_t n, char *out, size_t outsz)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)p;
	size_t need = (n + 2) / 3 * 4 + 1, o = 0;
	if (outsz < need)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = 0;
	return (int)o;
}

const char *t_basic_header(const char *user, const char *pass, char *buf, size_t n)
{
	char plain[512], enc[700];
	snprintf(plain, sizeof(plain), "%s:%s", user, pass);
	if (t_base64(plain, strlen(plain), enc, sizeof(enc)) < 0)
		enc[0] = 0;
	snprintf(buf, n, "Authorization: Basic %s\r\n", enc);
	return buf;
}

const char *t_bearer_header(const char *token, char *buf, size_t n)
{
	snprintf(buf, n, "Authorization: Bearer %s\r\n", token);
	return buf;
}

/* ---- line protocol ---- */

int t_line_connect(t_line *l, int port)
{
	l->buf = NULL;
	l->len = l->cap = 0;
	l->ssl = l->ctx = NULL;
	l->fd = t_connect(port);
	if (l->fd < 0) {
		fprintf(stderr, "t_line_connect: port %d: %s\n", port, strerror(errno));
		return -1;
	}
	return 0;
}

/* Waits (until deadline) for what OpenSSL said it needs after a call
 * returned r; 1 to call again, else -1. */
static int ssl_wait(t_line *l, int r, int64_t deadline)
{
	int e = SSL_get_error((SSL *)l->ssl, r);
	short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
	if (!ev || wait_fd(l->fd, ev, deadline) != 1)
		return -1;
	return 1;
}

int t_line_connect_tls(t_line *l, int port)
{
	if (t_line_connect(l, port))
		return -1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	l->ctx = ctx;
	l->ssl = ssl;
	if (!ssl || !SSL_set_fd(ssl, l->fd) || !SSL_set_tlsext_host_name(ssl, "localhost")) {
		fprintf(stderr, "t_line_connect_tls: OpenSSL setup failed\n");
		t_line_close(l);
		return -1;
	}
	/* a retried SSL_write may then hand over a moved buffer */
	SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* a peer that closes without close_notify ends the stream (EOF), as
	 * in OpenSSL 1.1, instead of being an SSL error */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	for (int r; (r = SSL_connect(ssl)) != 1;) {
		if (ssl_wait(l, r, deadline) < 0) {
			fprintf(stderr, "t_line_connect_tls: no TLS handshake with port %d\n", port);
			t_line_close(l);
			return -1;
		}
	}
	return 0;
}

int t_line_send_n(t_line *l, const void *p, size_t n)
{
	if (!l->ssl)
		return t_send_all(l->fd, p, n);
	const char *c = (const char *)p;
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	while (n) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		int w = SSL_write((SSL *)l->ssl, c, chunk);
		if (w > 0) {
			c += w;
			n -= (size_t)w;
		} else if (ssl_wait(l, w, deadline) < 0) {
			fprintf(stderr, "t_line_send: TLS write failed\n");
			return -1;
		}
	}
	return 0;
}

int t_line_send(t_line *l, const char *s)
{
	return t_line_send_n(l, s, strlen(s));
}

/* Reads what comes (until deadline) into p: bytes read, 0 EOF or reset,
 * -1 timeout or error. */
static ssize_t line_read(t_line *l, char *p, size_t n, int64_t deadline)
{
	if (!l->ssl) {
		int64_t left = deadline - t_now_ms();
		return t_recv_some(l->fd, p, n, left > 0 ? (int)left : 0);
	}
	for (;;) {
		int r = SSL_read((SSL *)l->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error((SSL *)l->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0))
			return 0;
		if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
			return 0;
		if (ssl_wait(l, r, deadline) < 0)
			return -1;
	}
}

/* The first line of l->buf, if there is one, as its length (the '\n'
 * aside); -1 while no whole line is there. */
static long first_line(const t_line *l)
{
	const char *nl = l->len ? (const char *)memchr(l->buf, '\n', l->len) : NULL;
	return nl ? (long)(nl - l->buf) : -1;
}

/* Reads until l->buf holds a whole line: its length, or -2 EOF, -1
 * timeout, error or a line over T_LINE_MAX. */
static long fill_line(t_line *l, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		long len = first_line(l);
		if (len >= 0)
			return len;
		if (l->len >= T_LINE_MAX) {
			fprintf(stderr, "t_line_recv: no newline in %zu bytes\n", l->len);
			return -1;
		}
		if (l->cap - l->len < 65536) {
			size_t cap = l->cap ? 2 * l->cap : 131072;
			char *b = (char *)realloc(l->buf, cap);
			if (!b)
				return -1;
			l->buf = b;
			l->cap = cap;
		}
		ssize_t got = line_read(l, l->buf + l->len, l->cap - l->len, deadline);
		if (got == 0)
			return -2;
		if (got < 0)
			return -1;
		l->len += (size_t)got;
	}
}

/* Drops the first line (len bytes and its '\n') from l->buf. */
static void drop_line(t_line *l, size_t len)
{
	l->len -= len + 1;
	memmove(l->buf, l->buf + len + 1, l->len);
}

int t_line_recv(t_line *l, char *out, size_t n, int timeout_ms)
{
	long len = fill_line(l, timeout_ms);
	if (len < 0)
		return len == -2 ? 0 : -1;
	if ((size_t)len >= n) {
		fprintf(stderr, "t_line_recv: a line of %ld bytes\n", len);
		return -1;
	}
	memcpy(out, l->buf, (size_t)len);
	out[len] = 0;
	drop_line(l, (size_t)len);
	return 1;
}

int t_line_recv_alloc(t_line *l, char **line, int timeout_ms)
{
	*line = NULL;
	long len = fill_line(l, timeout_ms);
	if (len < 0)
		return len == -2 ? 0 : -1;
	char *p = (char *)malloc((size_t)len + 1);
	if (!p)
		return -1;
	memcpy(p, l->buf, (size_t)len);
	p[len] = 0;
	drop_line(l, (size_t)len);
	*line = p;
	return 1;
}

void t_line_close(t_line *l)
{
	if (l->ssl)
		SSL_free((SSL *)l->ssl);
	if (l->ctx)
		SSL_CTX_free((SSL_CTX *)l->ctx);
	if (l->fd >= 0)
		close(l->fd);
	free(l->buf);
	l->ssl = l->ctx = NULL;
	l->buf = NULL;
	l->fd = -1;
	l->len = l->cap = 0;
}

/* ---- base64 decoding ---- */

/* By table, strict: the bench decodes whole files with it. */
long t_unbase64(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static unsigned char val[256]; /* 0x80: not in the alphabet */
	if (!val[0]) {
		memset(val, 0x80, sizeof(val));
		for (int k = 0; k < 64; k++)
			val[(unsigned char)abc[k]] = (unsigned char)k;
	}
	if (n % 4)
		return -1;
	size_t pad = n && s[n - 1] == '=' ? 1 + (s[n - 2] == '=') : 0;
	if (n / 4 * 3 - pad > outsz)
		return -1;
	const unsigned char *u = (const unsigned char *)s;
	unsigned char *o = out;
	unsigned bad = 0;
	size_t whole = pad ? n - 4 : n;
	for (size_t i = 0; i < whole; i += 4) {
		unsigned a = val[u[i]], b = val[u[i + 1]], c = val[u[i + 2]], d = val[u[i + 3]];
		bad |= a | b | c | d;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	if (pad) {
		const unsigned char *t = u + n - 4;
		unsigned a = val[t[0]], b = val[t[1]], c = pad == 2 ? 0 : val[t[2]];
		bad |= a | b | c;
		uint32_t v = a << 18 | b << 12 | c << 6;
		*o++ = (unsigned char)(v >> 16);
		if (pad == 1)
			*o++ = (unsigned char)(v >> 8);
	}
	return bad & 0x80 ? -1 : (long)(o - out);
}
