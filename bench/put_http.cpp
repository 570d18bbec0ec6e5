/* put_http.cpp: the WebDAV peers of `make bench` (nginx's dav_methods PUT,
 * lighttpd's mod_webdav): N HTTP/1.1 PUT uploads at the same time to a
 * server on 127.0.0.1. N = 1 PUTs the whole FILE to PATH-PREFIX; N > 1
 * PUTs N slices of the file's size / N bytes each (upload i sends the
 * bytes from i * size / N, the remainder is left out, as
 * bench/upload_resumable.cpp slices) to PATH-PREFIX.i, over N connections
 * opened before the clock starts. Each request carries Content-Length
 * (no chunked encoding, no Expect) and Connection: close; its body goes
 * from the file with sendfile(), all uploads from one epoll loop over
 * non-blocking sockets, so that the client costs little next to the
 * server on the same cores. Every answer must be 201 or 204, anything
 * else (or a lost connection) fails the run.
 *
 * When SERVER-PID is given, the server's VmRSS (/proc/PID/status) is
 * read before the uploads, about every 10 ms while they run and at the
 * end, and its VmHWM at the end.
 *
 * The clock runs from the first request byte to the last complete
 * answer. Prints on stdout the seconds, the aggregate MB/s (10^6 bytes
 * per second), the peak VmRSS seen and the VmHWM (MiB; `-` without a
 * pid), and a line for people on stderr.
 *
 *   put_http PORT PATH-PREFIX FILE N [SERVER-PID]
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common.h"

#define WHO "put_http"
#define STALL_MS 60000  /* no byte either way for this long: give up */
#define SAMPLE_MS 10    /* VmRSS sampling interval */
#define ANSWER_MAX 8192 /* status line and headers of an answer */

enum state { SENDING, WAIT_ANSWER, DONE };

struct upload {
	int fd;
	int idx;
	char head[1200];   /* the request line and headers */
	size_t head_len, head_off;
	off_t off, end;    /* file bytes [off, end) not sent yet */
	uint64_t sent;     /* body bytes sent */
	state st;
	char ans[ANSWER_MAX + 1]; /* the answer received so far */
	size_t ans_len;
	size_t head_end;   /* length of the answer's head once complete, else 0 */
	int status;
	long long body_want; /* answer body bytes expected, -1: until EOF */
	int64_t done_ms;
	int err;           /* errno of a failed send, reported with the answer */
};

static const char *path_prefix;
static int nup;

/* ---- the server's memory ---- */

static int status_fd = -1; /* /proc/PID/status, re-read with pread */

/* VmRSS and VmHWM of the server in MiB; 0 or -1. */
static int server_mem(double *vmrss, double *vmhwm)
{
	char buf[4096];
	ssize_t n = pread(status_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *r = strstr(buf, "\nVmRSS:"), *h = strstr(buf, "\nVmHWM:");
	if (!r || !h)
		return -1;
	*vmrss = (double)strtol(r + 7, NULL, 10) / 1024;
	*vmhwm = (double)strtol(h + 7, NULL, 10) / 1024;
	return 0;
}

/* ---- one upload ---- */

static const char *name_of(const upload *u, char *buf, size_t n)
{
	if (nup == 1)
		snprintf(buf, n, "%s", path_prefix);
	else
		snprintf(buf, n, "%s.%d", path_prefix, u->idx);
	return buf;
}

/* Prints what went wrong with u, and the status line of what it heard. */
static void fail(const upload *u, const char *what)
{
	char name[1024];
	const char *eol = (const char *)memchr(u->ans, '\r', u->ans_len);
	int line = eol ? (int)(eol - u->ans) : (int)u->ans_len;
	fprintf(stderr, WHO ": PUT %s: %s after %llu of %llu body bytes sent%s%.*s\n",
		name_of(u, name, sizeof(name)), what, (unsigned long long)u->sent,
		(unsigned long long)(u->sent + (uint64_t)(u->end - u->off)),
		u->ans_len ? ", answer: " : "", line > 200 ? 200 : line, u->ans);
}

/* Value of header name (with its colon, lower case) in the answer's
 * head, or NULL. */
static const char *ans_header(const upload *u, const char *name)
{
	size_t n = strlen(name);
	const char *end = u->ans + u->head_end;
	for (const char *p = strstr(u->ans, "\r\n"); p && p + 2 < end; p = strstr(p, "\r\n")) {
		p += 2;
		size_t i = 0;
		while (i < n && tolower((unsigned char)p[i]) == name[i])
			i++;
		if (i == n)
			return p + n;
	}
	return NULL;
}

/* Parses the head of the answer once it is complete (1xx interim answers
 * are dropped); 0, or -1 on a bad or unwanted answer. */
static int parse_head(upload *u)
{
	for (;;) {
		u->ans[u->ans_len] = 0;
		char *e = strstr(u->ans, "\r\n\r\n");
		if (!e) {
			if (u->ans_len == ANSWER_MAX) {
				fail(u, "answer head too long");
				return -1;
			}
			return 0;
		}
		u->head_end = (size_t)(e + 4 - u->ans);
		int major, minor, code;
		if (sscanf(u->ans, "HTTP/%d.%d %d", &major, &minor, &code) != 3) {
			fail(u, "not an HTTP answer");
			return -1;
		}
		if (code >= 100 && code < 200) {
			memmove(u->ans, u->ans + u->head_end, u->ans_len - u->head_end);
			u->ans_len -= u->head_end;
			u->head_end = 0;
			continue;
		}
		u->status = code;
		if (code != 201 && code != 204) {
			fail(u, "unwanted answer");
			return -1;
		}
		if (u->st == SENDING) {
			fail(u, "answered before the body was sent");
			return -1;
		}
		const char *cl = ans_header(u, "content-length:");
		u->body_want = code == 204 ? 0 : cl ? strtoll(cl, NULL, 10) : -1;
		return 0;
	}
}

/* Reads what came for u; 1 if anything did, 0 if not, -1 on error. */
static int receive(upload *u)
{
	int got = 0;
	for (;;) {
		char drain[16384];
		char *into = u->head_end ? drain : u->ans + u->ans_len;
		size_t room = u->head_end ? sizeof(drain) : ANSWER_MAX - u->ans_len;
		ssize_t r = recv(u->fd, into, room, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return got;
			fail(u, strerror(errno));
			return -1;
		}
		if (r == 0) {
			if (u->head_end && u->body_want < 0 && u->st == WAIT_ANSWER) {
				u->st = DONE;
				return 1;
			}
			fail(u, "connection closed");
			return -1;
		}
		got = 1;
		size_t body = 0;
		if (u->head_end) {
			body = (size_t)r;
		} else {
			u->ans_len += (size_t)r;
			if (parse_head(u))
				return -1;
			if (u->head_end)
				body = u->ans_len - u->head_end;
		}
		if (u->head_end && u->body_want >= 0) {
			u->body_want -= (long long)body;
			if (u->body_want <= 0) {
				u->st = DONE;
				return 1;
			}
		}
	}
}

/* After a failed send: whatever answer the server sent before it closed
 * into u->ans, for fail() to show. */
static void last_words(upload *u)
{
	while (u->ans_len < ANSWER_MAX) {
		ssize_t r = recv(u->fd, u->ans + u->ans_len, ANSWER_MAX - u->ans_len, 0);
		if (r <= 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		u->ans_len += (size_t)r;
	}
}

/* Sends the request head, then the body with sendfile(), as far as the
 * socket takes them; 1 if it sent anything, 0 if not, -1 on error (a
 * failed send leaves its errno in u->err, unreported). */
static int pump(upload *u, int file)
{
	int sent = 0;
	while (u->head_off < u->head_len) {
		ssize_t w = send(u->fd, u->head + u->head_off, u->head_len - u->head_off,
				 MSG_NOSIGNAL | MSG_MORE);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return sent;
			u->err = errno;
			return -1;
		}
		u->head_off += (size_t)w;
		sent = 1;
	}
	while (u->off < u->end) {
		off_t before = u->off;
		ssize_t w = sendfile(u->fd, file, &u->off, (size_t)(u->end - u->off));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return sent;
			u->err = errno;
			return -1;
		}
		if (w == 0) {
			fail(u, "the file ended early");
			return -1;
		}
		u->sent += (uint64_t)(u->off - before);
		sent = 1;
	}
	u->st = WAIT_ANSWER;
	return sent;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: " WHO " PORT PATH-PREFIX FILE N [SERVER-PID]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	path_prefix = argv[2];
	nup = atoi(argv[4]);
	int pid = argc > 5 ? atoi(argv[5]) : 0;
	int file = open(argv[3], O_RDONLY);
	struct stat sb;
	if (file < 0 || fstat(file, &sb)) {
		perror(argv[3]);
		return 1;
	}
	uint64_t flen = (uint64_t)sb.st_size;
	uint64_t size = nup > 0 ? flen / (uint64_t)nup : 0;
	if (port <= 0 || port > 65535 || path_prefix[0] != '/' || strlen(path_prefix) > 1000 ||
	    nup < 1 || nup > 1000 || !size || (argc > 5 && pid <= 0)) {
		fprintf(stderr, WHO ": PORT, an absolute PATH-PREFIX, N (1-1000) slices of a "
			"non-empty FILE (%llu bytes), a SERVER-PID > 0\n", (unsigned long long)flen);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* sendfile() has no MSG_NOSIGNAL */
	double rss0 = 0, peak = 0, hwm = 0;
	if (pid) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if ((status_fd = open(path, O_RDONLY)) < 0) {
			perror(path);
			return 1;
		}
		if (server_mem(&rss0, &hwm)) {
			fprintf(stderr, WHO ": no VmRSS in %s\n", path);
			return 1;
		}
		peak = rss0;
	}

	upload *u = (upload *)calloc((size_t)nup, sizeof(*u));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!u || ep < 0) {
		perror(WHO);
		return 1;
	}
	for (int i = 0; i < nup; i++) {
		upload *x = &u[i];
		char name[1024];
		x->idx = i;
		x->off = (off_t)((uint64_t)i * size);
		x->end = x->off + (off_t)size;
		x->body_want = -1;
		x->head_len = (size_t)snprintf(x->head, sizeof(x->head),
					       "PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
					       "Content-Length: %llu\r\nConnection: close\r\n\r\n",
					       name_of(x, name, sizeof(name)), port,
					       (unsigned long long)size);
		if ((x->fd = t_connect(port)) < 0) {
			fprintf(stderr, WHO ": connect to port %d (connection %d): %s\n", port, i,
				strerror(errno));
			return 1;
		}
		struct epoll_event ev;
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.ptr = x;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev)) {
			perror("epoll_ctl");
			return 1;
		}
	}

	struct epoll_event *evs = (struct epoll_event *)calloc((size_t)nup, sizeof(*evs));
	int left = nup;
	int64_t t0 = t_now_ms(), last = t0, sampled = t0;
	while (left) {
		int r = epoll_wait(ep, evs, nup, pid ? SAMPLE_MS : 1000);
		if (r < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int j = 0; j < r; j++) {
			upload *x = (upload *)evs[j].data.ptr;
			int moved = 0;
			if (x->st == SENDING && (evs[j].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				if ((moved = pump(x, file)) < 0) {
					if (x->err) {
						last_words(x);
						fail(x, strerror(x->err));
					}
					return 1;
				}
				if (x->st == WAIT_ANSWER) {
					struct epoll_event ev;
					ev.events = EPOLLIN;
					ev.data.ptr = x;
					epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
				}
			}
			if (x->st != DONE && (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
				int g = receive(x);
				if (g < 0)
					return 1;
				moved |= g;
				if (x->st == DONE) {
					x->done_ms = t_now_ms();
					epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
					close(x->fd);
					x->fd = -1;
					left--;
				}
			}
			if (moved)
				last = t_now_ms();
		}
		int64_t now = t_now_ms();
		if (pid && now - sampled >= SAMPLE_MS) {
			double rss, h;
			if (!server_mem(&rss, &h) && rss > peak)
				peak = rss;
			sampled = now;
		}
		if (now - last > STALL_MS) {
			fprintf(stderr, WHO ": nothing moved for %d s\n", STALL_MS / 1000);
			for (int i = 0; i < nup; i++)
				if (u[i].st != DONE)
					fail(&u[i], u[i].st == SENDING ? "still sending" : "no answer");
			return 1;
		}
	}

	int64_t t1 = 0, first = INT64_MAX;
	for (int i = 0; i < nup; i++) {
		if (u[i].done_ms > t1)
			t1 = u[i].done_ms;
		if (u[i].done_ms < first)
			first = u[i].done_ms;
	}
	double secs = (double)(t1 - t0) / 1000.0;
	if (secs <= 0)
		secs = 0.001;
	double total = (double)size * nup;
	char mem[96] = "";
	if (pid) {
		double rss;
		if (!server_mem(&rss, &hwm) && rss > peak)
			peak = rss;
		printf("%.3f %.1f %.1f %.1f\n", secs, total / 1e6 / secs, peak, hwm);
		snprintf(mem, sizeof(mem), "; server VmRSS %.1f MiB before, peak %.1f, VmHWM %.1f",
			 rss0, peak, hwm);
	} else {
		printf("%.3f %.1f - -\n", secs, total / 1e6 / secs);
	}
	int s201 = 0;
	for (int i = 0; i < nup; i++)
		s201 += u[i].status == 201;
	fprintf(stderr, WHO ": %d x %llu bytes PUT in %.3f s (first done at %.3f s), %.1f MB/s, "
		"%d answered 201, %d 204%s\n",
		nup, (unsigned long long)size, secs, (double)(first - t0) / 1000.0,
		total / 1e6 / secs, s201, nup - s201, mem);
	if (status_fd >= 0)
		close(status_fd);
	close(ep);
	close(file);
	free(evs);
	free(u);
	return 0;
}
