/* idle_ws.cpp: what idle WebSocket connections cost cubbyd in memory,
 * and that it holds N of them without error.
 *
 * Logs in once as admin (the one PBKDF2 hash of the run) and opens N
 * spec 3 event sockets, /files?token=<that session>: the token is checked
 * by a session lookup, not a password hash, and /files sends nothing
 * until a node changes (a /ws socket would make every connect a `users`
 * broadcast to all the others). The sockets are non-blocking, in one
 * epoll loop, with at most HANDSHAKES_MAX handshakes under way at once
 * (cubbyd's listen backlog is small); every one must be answered 101
 * with the right Sec-WebSocket-Accept.
 *
 * cubbyd's VmRSS and VmHWM (/proc/PID/status) are read before the first
 * socket and SETTLE_MS after the last one is open. Then every socket gets
 * a masked ping carrying its own payload and must have its pong back
 * within PONG_WAIT_MS; a socket that closed, or has no pong by then, is an
 * error (exit 1). Last, each socket is closed (close 1000, then the fd).
 *
 * Raises its own RLIMIT_NOFILE to the hard limit first and stops when
 * N + 64 descriptors are not to be had. cubbyd needs max_connections of
 * at least N plus a few (its listening sockets count) and an `ulimit -n`
 * above N as well.
 *
 * Prints one line on stdout, memory in MiB and the time the N handshakes
 * took in seconds:
 *   VMRSS_BEFORE VMHWM_BEFORE VMRSS_OPEN VMHWM_OPEN OPEN_SECONDS
 * and a human line (KiB per socket, the ping round) on stderr.
 *
 *   idle_ws PORT ADMIN-PASSWORD CUBBYD-PID N
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common.h"

#define WHO "idle_ws"
#define HANDSHAKES_MAX 200     /* handshakes under way at once */
#define STALL_MS 30000         /* the opening fails after this long without progress */
#define SETTLE_MS 1000         /* between the last 101 and the second reading */
#define PONG_WAIT_MS 30000     /* every pong must be back within this */
#define CLOSE_WAIT_MS 5000     /* for cubbyd to close after our close frame */
#define FAILS_SHOWN 5          /* failures described one by one */
#define BUF_MAX 512            /* a handshake answer, or server frames not yet parsed */
#define PING_LEN 8             /* "idle" and the socket's index */

enum state { S_NEW, S_CONNECTING, S_ANSWER, S_OPEN, S_DEAD, S_CLOSED };

struct conn {
	int fd;
	unsigned char state;  /* enum state */
	bool ponged;
	uint16_t len;         /* bytes in buf */
	char key[28];         /* Sec-WebSocket-Key (base64 of 16 bytes) */
	unsigned char buf[BUF_MAX];
};

/* RLIMIT_NOFILE raised to the hard limit; 0 when at least need
 * descriptors may be open, else -1 with why. */
static int raise_nofile(unsigned long need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		perror("getrlimit");
		return -1;
	}
	rlim_t hard = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		/* an unlimited hard limit is still capped by fs.nr_open */
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			perror("setrlimit");
			return -1;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < need) {
		fprintf(stderr,
			WHO ": %lu file descriptors needed, but RLIMIT_NOFILE allows %llu "
			"(hard limit %llu); raise it, e.g. `ulimit -Hn %lu`\n",
			need, (unsigned long long)rl.rlim_cur, (unsigned long long)hard, need);
		return -1;
	}
	return 0;
}

/* One masked frame of opcode with p[0..n) (n < 126) into out; its length. */
static size_t small_frame(unsigned char *out, int opcode, const void *p, size_t n)
{
	uint32_t key = bench_key();
	size_t h = bench_frame_head(out, opcode, n, key);
	bench_mask(out + h, (const unsigned char *)p, n, key, 0);
	return h + n;
}

/* The ping payload of socket i. */
static void ping_payload(int i, unsigned char out[PING_LEN])
{
	memcpy(out, "idle", 4);
	uint32_t v = (uint32_t)i;
	memcpy(out + 4, &v, 4);
}

/* Writes all n bytes of a short frame or request at once (the socket's
 * send buffer is empty); 0 or -1. */
static int send_now(int fd, const void *p, size_t n)
{
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
	return w == (ssize_t)n ? 0 : -1;
}

/* ---- the whole run's state ---- */

struct run {
	int port, ep, n;
	const char *token;
	conn *c;
	int outstanding;   /* handshakes under way */
	int opened, failed, pongs, dead;
	double t_progress; /* last connect finished, answer or pong */
};

static void fail_note(run *r, int i, const char *what, int err)
{
	if (r->failed + r->dead < FAILS_SHOWN) {
		if (err)
			fprintf(stderr, WHO ": socket %d: %s: %s\n", i, what, strerror(err));
		else
			fprintf(stderr, WHO ": socket %d: %s\n", i, what);
	} else if (r->failed + r->dead == FAILS_SHOWN) {
		fprintf(stderr, WHO ": (further failures not shown)\n");
	}
}

/* Closes socket i as failed: its handshake (counted in failed) or, once
 * open, the socket itself (counted in dead). */
static void drop(run *r, int i, const char *what, int err)
{
	conn *c = &r->c[i];
	fail_note(r, i, what, err);
	if (c->state == S_CONNECTING || c->state == S_ANSWER) {
		r->outstanding--;
		r->failed++;
	} else if (c->state == S_OPEN) {
		r->dead++;
	}
	close(c->fd);
	c->fd = -1;
	c->state = S_DEAD;
}

static int send_upgrade(run *r, int i)
{
	conn *c = &r->c[i];
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET /files?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 r->token, r->port, c->key);
	if (send_now(c->fd, req, (size_t)n)) {
		drop(r, i, "sending the upgrade request", errno);
		return -1;
	}
	c->state = S_ANSWER;
	epoll_event e;
	e.events = EPOLLIN;
	e.data.u32 = (uint32_t)i;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &e)) {
		drop(r, i, "epoll_ctl", errno);
		return -1;
	}
	return 0;
}

/* Starts socket i's connect (and its request, when the connect is done
 * at once); 0, or -1 when the client itself cannot go on. */
static int start(run *r, int i)
{
	conn *c = &r->c[i];
	unsigned char raw[16];
	for (size_t k = 0; k < sizeof(raw); k++)
		raw[k] = (unsigned char)rand();
	t_base64(raw, sizeof(raw), c->key, sizeof(c->key));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, WHO ": socket %d: socket(): %s\n", i, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)r->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->state = S_CONNECTING;
	r->outstanding++;
	epoll_event e;
	e.events = EPOLLOUT;
	e.data.u32 = (uint32_t)i;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &e)) {
		fprintf(stderr, WHO ": socket %d: epoll_ctl: %s\n", i, strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		send_upgrade(r, i);
	} else if (errno != EINPROGRESS) {
		drop(r, i, "connect", errno);
	}
	return 0;
}

/* Checks the handshake answer once its head is in c->buf; keeps what
 * follows it as frames. */
static void check_answer(run *r, int i)
{
	conn *c = &r->c[i];
	unsigned char *end = (unsigned char *)memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!end) {
		if (c->len == BUF_MAX)
			drop(r, i, "handshake answer too long", 0);
		return;
	}
	size_t head = (size_t)(end - c->buf) + 4;
	char h[BUF_MAX + 1], want[64], msg[BUF_MAX + 64];
	memcpy(h, c->buf, head);
	h[head] = 0;
	int status = 0;
	sscanf(h, "HTTP/1.%*d %d", &status);
	const char *acc = strcasestr(h, "\r\nSec-WebSocket-Accept:");
	t_ws_accept_for(c->key, want);
	if (acc) {
		acc += 23;
		while (*acc == ' ')
			acc++;
	}
	if (status != 101 || !acc || strncmp(acc, want, strlen(want)) ||
	    (acc[strlen(want)] != '\r' && acc[strlen(want)] != ' ')) {
		char *cut = strstr(h, "\r\n");
		if (cut)
			*cut = 0;
		snprintf(msg, sizeof(msg), "answered \"%s\"%s", h,
			 status == 101 ? " without the right Sec-WebSocket-Accept" : "");
		drop(r, i, msg, 0);
		return;
	}
	c->len = (uint16_t)(c->len - head);
	memmove(c->buf, c->buf + head, c->len);
	c->state = S_OPEN;
	r->outstanding--;
	r->opened++;
}

/* Parses the server frames in c->buf: a pong with this socket's payload
 * marks it answered, a ping is answered, a close drops the socket;
 * messages (none expected: nothing changes) are skipped. */
static void parse_frames(run *r, int i)
{
	conn *c = &r->c[i];
	size_t at = 0;
	while (c->state == S_OPEN && c->len - at >= 2) {
		const unsigned char *f = c->buf + at;
		int op = f[0] & 0x0f;
		size_t n = f[1] & 0x7f, h = 2;
		if (f[1] & 0x80) {
			drop(r, i, "a masked frame from the server", 0);
			return;
		}
		if (n == 126) {
			if (c->len - at < 4)
				break;
			n = (size_t)f[2] << 8 | f[3];
			h = 4;
		} else if (n == 127) {
			drop(r, i, "an unexpected large frame", 0);
			return;
		}
		if (h + n > BUF_MAX) {
			drop(r, i, "an unexpected large frame", 0);
			return;
		}
		if (c->len - at < h + n)
			break;
		const unsigned char *p = f + h;
		if (op == 0xA) {
			unsigned char want[PING_LEN];
			ping_payload(i, want);
			if (n == PING_LEN && !memcmp(p, want, PING_LEN) && !c->ponged) {
				c->ponged = true;
				r->pongs++;
				r->t_progress = bench_now_s();
			}
		} else if (op == 0x9) {
			unsigned char out[256];
			if (n > 125 || send_now(c->fd, out, small_frame(out, 0xA, p, n))) {
				drop(r, i, "answering cubbyd's ping", errno);
				return;
			}
		} else if (op == 0x8) {
			char why[160];
			int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
			snprintf(why, sizeof(why), "closed by cubbyd (close %d %.*s)", code,
				 n > 2 ? (int)(n - 2 < 100 ? n - 2 : 100) : 0, (const char *)p + 2);
			drop(r, i, why, 0);
			return;
		}
		at += h + n;
	}
	c->len = (uint16_t)(c->len - at);
	memmove(c->buf, c->buf + at, c->len);
}

/* Reads what socket i has, in whichever state it is. */
static void service(run *r, int i, uint32_t events)
{
	conn *c = &r->c[i];
	if (c->state == S_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			drop(r, i, "connect", err ? err : errno);
			return;
		}
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			send_upgrade(r, i);
		return;
	}
	if (c->state != S_ANSWER && c->state != S_OPEN)
		return;
	for (;;) {
		if (c->len == BUF_MAX) {
			drop(r, i, c->state == S_ANSWER ? "handshake answer too long"
							: "an unexpected large frame", 0);
			return;
		}
		ssize_t got = recv(c->fd, c->buf + c->len, BUF_MAX - c->len, 0);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int err = got < 0 ? errno : 0;
			drop(r, i,
			     c->state == S_ANSWER
				     ? (err ? "handshake" : "closed before answering the handshake")
				     : (err ? "connection lost" : "closed by cubbyd without a close frame"),
			     err);
			return;
		}
		c->len = (uint16_t)(c->len + got);
		if (c->state == S_ANSWER) {
			check_answer(r, i);
			if (c->state == S_OPEN) {
				r->t_progress = bench_now_s();
				parse_frames(r, i);
			}
		} else {
			parse_frames(r, i);
		}
		if (c->state != S_ANSWER && c->state != S_OPEN)
			return;
	}
}

/* One epoll round of up to timeout_ms; -1 when epoll fails. */
static int poll_once(run *r, int timeout_ms)
{
	epoll_event ev[512];
	int ready = epoll_wait(r->ep, ev, 512, timeout_ms);
	if (ready < 0) {
		if (errno == EINTR)
			return 0;
		perror("epoll_wait");
		return -1;
	}
	for (int k = 0; k < ready; k++)
		service(r, (int)ev[k].data.u32, ev[k].events);
	return 0;
}

/* Opens the N sockets; 0 when each got its 101. */
static int open_all(run *r)
{
	int next = 0;
	r->t_progress = bench_now_s();
	while (r->opened + r->failed < r->n) {
		while (r->outstanding < HANDSHAKES_MAX && next < r->n)
			if (start(r, next++))
				return -1;
		if (poll_once(r, 1000))
			return -1;
		if (bench_now_s() - r->t_progress > STALL_MS / 1000.0) {
			fprintf(stderr, WHO ": no handshake answered for %d s: %d open, %d failed, %d under way\n",
				STALL_MS / 1000, r->opened, r->failed, r->outstanding);
			return -1;
		}
	}
	if (r->failed || r->dead) {
		fprintf(stderr, WHO ": %d of %d handshakes failed, %d sockets lost while opening\n",
			r->failed, r->n, r->dead);
		return -1;
	}
	return 0;
}

/* Pings every open socket and waits for the pongs; 0 when all came. */
static int ping_all(run *r, double *secs)
{
	/* what arrived while we slept: a socket cubbyd has dropped */
	if (poll_once(r, 0))
		return -1;
	double t0 = bench_now_s();
	r->t_progress = t0;
	for (int i = 0; i < r->n; i++) {
		conn *c = &r->c[i];
		if (c->state != S_OPEN)
			continue;
		unsigned char p[PING_LEN], out[32];
		ping_payload(i, p);
		if (send_now(c->fd, out, small_frame(out, 0x9, p, PING_LEN)))
			drop(r, i, "sending the ping", errno);
	}
	while (r->pongs + r->dead < r->n && bench_now_s() - t0 < PONG_WAIT_MS / 1000.0)
		if (poll_once(r, 200))
			return -1;
	*secs = bench_now_s() - t0;
	int missing = r->n - r->pongs - r->dead;
	if (r->dead || missing) {
		fprintf(stderr, WHO ": of %d sockets, %d closed or failed and %d had no pong within %d s\n",
			r->n, r->dead, missing, PONG_WAIT_MS / 1000);
		return -1;
	}
	return 0;
}

/* Close 1000 on each socket, a short wait for cubbyd to close its side,
 * then every fd closed. */
static void close_all(run *r)
{
	static const unsigned char bye[2] = {0x03, 0xe8};
	int waiting = 0;
	for (int i = 0; i < r->n; i++) {
		conn *c = &r->c[i];
		if (c->fd < 0)
			continue;
		unsigned char out[32];
		if (c->state == S_OPEN && !send_now(c->fd, out, small_frame(out, 0x8, bye, 2))) {
			shutdown(c->fd, SHUT_WR);
			c->state = S_CLOSED;
			waiting++;
		} else {
			close(c->fd);
			c->fd = -1;
		}
	}
	double t0 = bench_now_s();
	epoll_event ev[512];
	char sink[4096];
	while (waiting && bench_now_s() - t0 < CLOSE_WAIT_MS / 1000.0) {
		int ready = epoll_wait(r->ep, ev, 512, 200);
		for (int k = 0; k < ready; k++) {
			conn *c = &r->c[ev[k].data.u32];
			if (c->fd < 0)
				continue;
			ssize_t got;
			while ((got = recv(c->fd, sink, sizeof(sink), 0)) > 0)
				;
			if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				close(c->fd);
				c->fd = -1;
				waiting--;
			}
		}
	}
	if (waiting)
		fprintf(stderr, WHO ": %d sockets not closed by cubbyd within %d s of our close\n",
			waiting, CLOSE_WAIT_MS / 1000);
	for (int i = 0; i < r->n; i++)
		if (r->c[i].fd >= 0)
			close(r->c[i].fd);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: " WHO " PORT ADMIN-PASSWORD CUBBYD-PID N\n");
		return 2;
	}
	int port = atoi(argv[1]), pid = atoi(argv[3]), n = atoi(argv[4]);
	if (port < 1 || port > 65535 || pid < 1 || n < 0 || n > 1000000) {
		fprintf(stderr, WHO ": want a port, a pid and 0 <= N <= 1000000\n");
		return 2;
	}
	if (raise_nofile((unsigned long)n + 64))
		return 1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());

	/* one login: the only password hash of the run */
	char token[T_TOKEN_MAX];
	cJSON *b = cJSON_CreateObject(), *j = NULL;
	cJSON_AddStringToObject(b, "user", "admin");
	cJSON_AddStringToObject(b, "pass", argv[2]);
	char *body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	int status = t_http_post_json(port, "/api/login", NULL, body, &j);
	cJSON_free(body);
	const char *tok = t_json_str(j, "token");
	if (status != 200 || !tok || strlen(tok) >= sizeof(token)) {
		fprintf(stderr, WHO ": POST /api/login as admin: status %d, no token\n", status);
		cJSON_Delete(j);
		return 1;
	}
	snprintf(token, sizeof(token), "%s", tok);
	cJSON_Delete(j);

	run r;
	memset(&r, 0, sizeof(r));
	r.port = port;
	r.n = n;
	r.token = token;
	r.c = (conn *)calloc(n ? (size_t)n : 1, sizeof(conn));
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!r.c || r.ep < 0) {
		fprintf(stderr, WHO ": out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++)
		r.c[i].fd = -1;

	double before[2], opened[2], t_open, t_ping = 0;
	if (bench_rss(pid, &before[0], &before[1]))
		return 1;
	double t0 = bench_now_s();
	if (open_all(&r))
		return 1;
	t_open = bench_now_s() - t0;
	t_sleep_ms(SETTLE_MS);
	if (bench_rss(pid, &opened[0], &opened[1]) || ping_all(&r, &t_ping))
		return 1;

	printf("%.1f %.1f %.1f %.1f %.3f\n", before[0], before[1], opened[0], opened[1], t_open);
	fflush(stdout);
	char per[64] = "";
	if (n)
		snprintf(per, sizeof(per), " (%.1f KiB per socket)",
			 (opened[0] - before[0]) * 1024 / n);
	fprintf(stderr,
		WHO ": %d /files sockets opened in %.3f s; cubbyd VmRSS %.1f -> %.1f MiB%s, "
		"VmHWM %.1f -> %.1f MiB; all %d pongs in %.3f s\n",
		n, t_open, before[0], opened[0], per, before[1], opened[1], n, t_ping);
	close_all(&r);
	close(r.ep);
	free(r.c);
	return 0;
}
