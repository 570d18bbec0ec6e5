/* line.cpp: the protocol 4 scenario of `make bench`: on one TCP
 * connection to the line port (docs/line-protocol.md), the version, a
 * login, then a put of FILE in chunks of CHUNK bytes (the server's
 * line_chunk) and a get of it back, each with up to WINDOW chunks
 * asked for and not yet answered. Every answer is checked as the contract
 * words it, and every chunk got is compared with the file's bytes (read
 * chunk by chunk, never all of it).
 *
 * The put's clock runs from sending `put` to the answer to the last
 * `putdata` (the file is stored by then), the get's from sending `get` to
 * the last chunk checked. Prints the put's seconds and MB/s, then the
 * get's (10^6 bytes per second), on stdout; exits 1 on any failure.
 *
 *   line PORT USER PASS FILE [CHUNK [WINDOW]]   (CHUNK 49152, WINDOW 8)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "common.h"

#define WHO "line"
#define NAME "bench-line.bin" /* the file's name in admin's space */
#define STALL_MS 60000        /* no byte either way for this long: give up */
#define LINE_MAX_BYTES (16u << 20)

/* The connection: bytes received and not yet taken as lines, bytes queued
 * and not yet sent. */
struct conn {
	int fd;
	char *in;
	size_t in_off, in_scan, in_len, in_cap; /* [in_off, in_len); no '\n' in [in_off, in_scan) */
	char *out;
	size_t out_off, out_len, out_cap;       /* [out_off, out_len) not sent */
};

static uint64_t chunk = 48 << 10;
static unsigned window = 8;

static uint64_t chunks_of(uint64_t size)
{
	return size / chunk + (size % chunk != 0);
}

/* Room for n more bytes at c->out + c->out_len; 0 or -1. */
static int out_room(conn *c, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len >= n)
		return 0;
	memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
	c->out_len -= c->out_off;
	c->out_off = 0;
	if (c->out_cap - c->out_len >= n)
		return 0;
	size_t cap = c->out_len + n;
	char *p = (char *)realloc(c->out, cap);
	if (!p) {
		fprintf(stderr, WHO ": out of memory\n");
		return -1;
	}
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Queues the NUL-terminated s. */
static int queue(conn *c, const char *s)
{
	size_t n = strlen(s);
	if (out_room(c, n))
		return -1;
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/* The next whole line (without its '\n', NUL-terminated in place) into
 * *line and *n; 1, or 0 when none is in yet. */
static int next_line(conn *c, char **line, size_t *n)
{
	char *nl = (char *)memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan);
	if (!nl) {
		c->in_scan = c->in_len;
		return 0;
	}
	*line = c->in + c->in_off;
	*n = (size_t)(nl - *line);
	*nl = 0;
	c->in_off = c->in_scan = (size_t)(nl - c->in) + 1;
	return 1;
}

/* Waits until the socket can take or give bytes, sends what it takes and
 * reads what it gives; 0 or -1. */
static int pump(conn *c)
{
	struct pollfd p = {c->fd, (short)(POLLIN | (c->out_off < c->out_len ? POLLOUT : 0)), 0};
	int r = poll(&p, 1, STALL_MS);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0) {
		fprintf(stderr, WHO ": %s\n", r ? strerror(errno) : "no answer for 60 s");
		return -1;
	}
	if (p.revents & POLLOUT) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, WHO ": send: %s\n", strerror(errno));
			return -1;
		}
		if (w > 0)
			c->out_off += (size_t)w;
	}
	if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	if (c->in_off) { /* the lines taken are done with */
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_scan -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == c->in_cap) {
		if (c->in_cap >= LINE_MAX_BYTES) {
			fprintf(stderr, WHO ": a line over %u bytes\n", LINE_MAX_BYTES);
			return -1;
		}
		char *q = (char *)realloc(c->in, c->in_cap * 2);
		if (!q) {
			fprintf(stderr, WHO ": out of memory\n");
			return -1;
		}
		c->in = q;
		c->in_cap *= 2;
	}
	ssize_t got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (got <= 0) {
		fprintf(stderr, WHO ": the server closed the connection%s%s\n", got ? ": " : "",
			got ? strerror(errno) : "");
		return -1;
	}
	c->in_len += (size_t)got;
	return 0;
}

/* Sends what is queued and waits for the next line; 0 or -1. */
static int recv_line(conn *c, char **line, size_t *n)
{
	while (!next_line(c, line, n))
		if (pump(c))
			return -1;
	return 0;
}

/* Sends s and checks that the answer is exactly want; 0 or -1. */
static int exchange(conn *c, const char *s, const char *want)
{
	char *line;
	size_t n;
	if (queue(c, s) || recv_line(c, &line, &n))
		return -1;
	if (strcmp(line, want)) {
		fprintf(stderr, WHO ": sent %s  expected %s  got %s\n", s, want, line);
		return -1;
	}
	return 0;
}

/* Reads the file's bytes [off, off + n) into buf; 0 or -1. */
static int read_at(int fd, unsigned char *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, buf + done, n - done, (off_t)(off + done));
		if (r <= 0) {
			fprintf(stderr, WHO ": reading the file at %llu: %s\n",
				(unsigned long long)(off + done), r ? strerror(errno) : "it shrank");
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static size_t chunk_len(uint64_t k, uint64_t size)
{
	uint64_t off = k * chunk;
	return (size_t)(size - off < chunk ? size - off : chunk);
}

/* Queues the putdata line of chunk k of n. */
static int queue_putdata(conn *c, int fd, unsigned char *buf, uint64_t k, uint64_t n, uint64_t size)
{
	size_t len = chunk_len(k, size);
	if (read_at(fd, buf, len, k * chunk) || out_room(c, (len + 2) / 3 * 4 + 256))
		return -1;
	char *o = c->out + c->out_len;
	o += sprintf(o, "{\"command\":\"putdata\",\"file\":\"" NAME "\",\"data\":\"");
	o += t_base64(buf, len, o, (len + 2) / 3 * 4 + 1);
	o += sprintf(o, "\",\"remaining\":%llu,\"cancel\":false}\n", (unsigned long long)(n - 1 - k));
	c->out_len = (size_t)(o - c->out);
	return 0;
}

/* The put of the file: `put`, then its chunks, up to window unanswered;
 * 0 or -1. */
static int put(conn *c, int fd, uint64_t size)
{
	uint64_t n = chunks_of(size), sent = 0, done = 0;
	char s[256], want[256];
	snprintf(s, sizeof(s), "{\"command\":\"put\",\"file\":\"" NAME "\",\"size\":%llu,\"chunks\":%llu}\n",
		(unsigned long long)size, (unsigned long long)n);
	if (exchange(c, s, "{\"command\":\"put\",\"file\":\"" NAME "\",\"accept\":true,\"error\":\"\"}"))
		return -1;
	unsigned char *buf = (unsigned char *)malloc(chunk);
	if (!buf)
		return -1;
	int rc = 0;
	while (!rc && done < n) {
		while (!rc && sent < n && sent - done < window)
			rc = queue_putdata(c, fd, buf, sent++, n, size);
		char *line;
		size_t len;
		int got = 0;
		while (!rc && next_line(c, &line, &len)) {
			got = 1;
			done++;
			uint64_t received = done == n ? size : done * chunk;
			snprintf(want, sizeof(want),
				"{\"command\":\"putdata\",\"file\":\"" NAME "\",\"recieved\":%llu,"
				"\"cancel\":false,\"error\":\"\"}", (unsigned long long)received);
			if (strcmp(line, want)) {
				fprintf(stderr, WHO ": putdata %llu of %llu: expected %s  got %s\n",
					(unsigned long long)done, (unsigned long long)n, want, line);
				rc = -1;
			}
		}
		if (!rc && !got)
			rc = pump(c);
	}
	free(buf);
	return rc;
}

/* Checks the getdata answer line[0..len) as chunk k of n; 0 or -1. */
static int check_getdata(char *line, size_t len, int fd, unsigned char *mine,
	unsigned char *theirs, uint64_t k, uint64_t n, uint64_t size)
{
	static const char head[] = "{\"command\":\"getdata\",\"file\":\"" NAME "\",\"data\":\"";
	char tail[128];
	size_t hl = sizeof(head) - 1;
	int tl = snprintf(tail, sizeof(tail), "\",\"remaining\":%llu,\"cancel\":false,\"error\":\"\"}",
		(unsigned long long)(n - 1 - k));
	char *end = len > hl ? (char *)memchr(line + hl, '"', len - hl) : NULL;
	if (!end || memcmp(line, head, hl) || (size_t)(line + len - end) != (size_t)tl ||
	    memcmp(end, tail, (size_t)tl)) {
		fprintf(stderr, WHO ": getdata %llu of %llu: expected %s...%s  got %.300s\n",
			(unsigned long long)k, (unsigned long long)n, head, tail, line);
		return -1;
	}
	size_t want = chunk_len(k, size);
	long got = (size_t)(end - line - hl) <= (want + 2) / 3 * 4
		? t_unbase64(line + hl, (size_t)(end - line - hl), theirs, chunk) : -1;
	if (got != (long)want) {
		fprintf(stderr, WHO ": getdata %llu: %ld bytes of data (-1: bad base64), expected %zu\n",
			(unsigned long long)k, got, want);
		return -1;
	}
	if (read_at(fd, mine, want, k * chunk))
		return -1;
	if (memcmp(mine, theirs, want)) {
		fprintf(stderr, WHO ": getdata %llu: the bytes differ from the file's\n",
			(unsigned long long)k);
		return -1;
	}
	return 0;
}

/* The get of the file: `get`, then its chunks, up to window unanswered,
 * each compared with the file; 0 or -1. */
static int get(conn *c, int fd, uint64_t size)
{
	uint64_t n = chunks_of(size), sent = 0, done = 0;
	char s[256], want[256];
	snprintf(want, sizeof(want),
		"{\"command\":\"get\",\"file\":\"" NAME "\",\"accept\":true,\"chunks\":%llu,\"error\":\"\"}",
		(unsigned long long)n);
	if (exchange(c, "{\"command\":\"get\",\"file\":\"" NAME "\"}\n", want))
		return -1;
	unsigned char *mine = (unsigned char *)malloc(chunk), *theirs = (unsigned char *)malloc(chunk);
	int rc = mine && theirs ? 0 : -1;
	while (!rc && done < n) {
		while (!rc && sent < n && sent - done < window) {
			snprintf(s, sizeof(s),
				"{\"command\":\"getdata\",\"file\":\"" NAME "\",\"chunk\":%llu,\"cancel\":false}\n",
				(unsigned long long)sent++);
			rc = queue(c, s);
		}
		char *line;
		size_t len;
		int got = 0;
		while (!rc && next_line(c, &line, &len)) {
			got = 1;
			rc = check_getdata(line, len, fd, mine, theirs, done++, n, size);
		}
		if (!rc && !got)
			rc = pump(c);
	}
	free(mine);
	free(theirs);
	return rc;
}

/* {"login":true,"user":user,"pass":pass,"cancel":false} and a newline,
 * malloc'd; NULL when out of memory. */
static char *login_line(const char *user, const char *pass)
{
	cJSON *j = cJSON_CreateObject();
	char *s = NULL;
	if (j && cJSON_AddBoolToObject(j, "login", 1) && cJSON_AddStringToObject(j, "user", user) &&
	    cJSON_AddStringToObject(j, "pass", pass) && cJSON_AddBoolToObject(j, "cancel", 0))
		s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	char *line = s ? (char *)malloc(strlen(s) + 2) : NULL;
	if (line)
		sprintf(line, "%s\n", s);
	free(s);
	return line;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: %s PORT USER PASS FILE [CHUNK [WINDOW]]\n", argv[0]);
		return 2;
	}
	if (argc > 5)
		chunk = strtoull(argv[5], NULL, 10);
	if (argc > 6)
		window = (unsigned)strtoul(argv[6], NULL, 10);
	if (!chunk || !window) {
		fprintf(stderr, WHO ": CHUNK and WINDOW must be above 0\n");
		return 2;
	}
	int fd = open(argv[4], O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		perror(argv[4]);
		return 1;
	}
	uint64_t size = (uint64_t)sb.st_size;

	conn c = {};
	c.in_cap = 1 << 20;
	c.in = (char *)malloc(c.in_cap);
	c.fd = t_connect(atoi(argv[1]));
	char *login = login_line(argv[2], argv[3]);
	if (!c.in || !login || c.fd < 0) {
		fprintf(stderr, WHO ": cannot connect to port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (exchange(&c, "{\"version\":\"0.2\"}\n", "{\"version\":\"0.2\",\"accept\":true}") ||
	    exchange(&c, login, "{\"accept\":true,\"error\":\"\"}"))
		return 1;
	free(login);

	double t0 = bench_now_s();
	if (put(&c, fd, size))
		return 1;
	double t_put = bench_now_s() - t0;
	t0 = bench_now_s();
	if (get(&c, fd, size))
		return 1;
	double t_get = bench_now_s() - t0;
	if (exchange(&c, "{\"command\":\"close\"}\n", "{\"command\":\"close\",\"response\":\"bye\"}"))
		return 1;
	close(c.fd);
	close(fd);
	printf("%.3f %.1f %.3f %.1f\n", t_put, (double)size / t_put / 1e6, t_get,
		(double)size / t_get / 1e6);
	return 0;
}
