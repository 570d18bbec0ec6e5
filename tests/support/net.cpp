/* net.cpp: the test clients' TCP layer (connect, send, receive, wait for
 * the peer to close, each bounded by a timeout), base64 and credential
 * headers, and the newline-delimited line-protocol client. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

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
	l->len = 0;
	l->fd = t_connect(port);
	if (l->fd < 0) {
		fprintf(stderr, "t_line_connect: port %d: %s\n", port, strerror(errno));
		return -1;
	}
	return 0;
}

int t_line_send(t_line *l, const char *s)
{
	return t_send_all(l->fd, s, strlen(s));
}

/* Moves the first line of l->buf (if there is one) into out: 1 done,
 * 0 no whole line yet, -1 too long for out. */
static int take_line(t_line *l, char *out, size_t n)
{
	char *nl = (char *)memchr(l->buf, '\n', l->len);
	if (!nl)
		return 0;
	size_t len = (size_t)(nl - l->buf);
	if (len >= n) {
		fprintf(stderr, "t_line_recv: a line of %zu bytes\n", len);
		return -1;
	}
	memcpy(out, l->buf, len);
	out[len] = 0;
	l->len -= len + 1;
	memmove(l->buf, nl + 1, l->len);
	return 1;
}

int t_line_recv(t_line *l, char *out, size_t n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		int r = take_line(l, out, n);
		if (r)
			return r;
		if (l->len == sizeof(l->buf)) {
			fprintf(stderr, "t_line_recv: no newline in %zu bytes\n", l->len);
			return -1;
		}
		int64_t left = deadline - t_now_ms();
		ssize_t got = t_recv_some(l->fd, l->buf + l->len, sizeof(l->buf) - l->len,
					  left > 0 ? (int)left : 0);
		if (got == 0)
			return 0;
		if (got < 0)
			return -1;
		l->len += (size_t)got;
	}
}

void t_line_close(t_line *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->len = 0;
}
