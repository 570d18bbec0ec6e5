/* fanout.cpp: the spec 3 fan-out scenario of `make bench`: how long one
 * metadata change takes to reach every `/files` event socket that may see
 * the node, and what those sockets cost cubbyd in memory.
 *
 * As admin it creates USERS users, one node {"name":"fanout.json",
 * "meta":{"n":0}} and a reader grant on it for each user. Patches of the
 * node, [{"op":"replace","path":"/meta/n","value":v}] to PATCH
 * /files/<key>, go one after the other over one keep-alive HTTP
 * connection: first PATCHES with no socket open (the reference round
 * trip), then PATCHES with SOCKETS WebSockets open to /files?token=...
 * (socket i is user i % USERS's), each waiting, in one epoll loop over the
 * answer and every socket, until the answer has come and every socket has
 * had the `patch` event carrying v. An arrival's time is when the loop
 * woke up to read it.
 *
 * cubbyd's VmRSS and VmHWM (/proc/PID/status) are read with the users,
 * node and grants made but no socket open, with the sockets open, and
 * after the patches.
 *
 * Prints one line on stdout: times in ms, each as p50, p99 (nearest rank)
 * and max, then memory in MiB:
 *   round trip without sockets, round trip with them, sending to the last
 *   event, answer to the last event;
 *   VmRSS VmHWM idle, with the sockets open, after the patches
 *
 *   fanout PORT ADMIN-PASSWORD CUBBYD-PID SOCKETS USERS PATCHES
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "common.h"

#define WHO "fanout"
#define GRANTS_PER_PATCH 200   /* grant operations per PATCH .../users (64 KiB body cap) */
#define EVENT_WAIT_MS 30000    /* a patch's events must all arrive within this */
#define HTTP_MAX 65536         /* a PATCH answer */

struct sub {
	t_ws ws;
	long last;     /* value of the last patch event heard; -1 none */
	double at;     /* when it arrived (s) */
};

/* The keep-alive connection the patches go over. */
struct keepalive {
	int fd;        /* -1 when closed */
	char buf[HTTP_MAX + 1];
	size_t len;
};

/* ---- setup over one-request connections (tests/support) ---- */

/* method path with body as bearer; 0 when the status is want, and then
 * *answer (when not NULL) is the parsed body, which the caller frees. */
static int api(int port, const char *bearer, const char *method, const char *path,
	       const char *body, int want, cJSON **answer)
{
	cJSON *j = NULL;
	int status = t_http_json_req(port, method, path, bearer, body, &j);
	if (status != want) {
		char *text = j ? cJSON_PrintUnformatted(j) : NULL;
		fprintf(stderr, WHO ": %s %s: status %d, want %d: %s\n", method, path, status, want,
			text ? text : "");
		cJSON_free(text);
		cJSON_Delete(j);
		return -1;
	}
	if (answer)
		*answer = j;
	else
		cJSON_Delete(j);
	return 0;
}

/* The string member key of path's answer into out (n bytes); 0 or -1. */
static int api_str(int port, const char *bearer, const char *method, const char *path,
		   const char *body, int want, const char *key, char *out, size_t n)
{
	cJSON *j;
	if (api(port, bearer, method, path, body, want, &j))
		return -1;
	const char *v = t_json_str(j, key);
	int rc = v && strlen(v) < n ? 0 : -1;
	if (rc)
		fprintf(stderr, WHO ": %s %s: no usable \"%s\" in the answer\n", method, path, key);
	else
		snprintf(out, n, "%s", v);
	cJSON_Delete(j);
	return rc;
}

/* {"user":user,"pass":pass} */
static char *creds(const char *user, const char *pass)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "user", user);
	cJSON_AddStringToObject(b, "pass", pass);
	char *text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return text;
}

/* Logs user in: its bearer header into bearer (T_AUTH_MAX bytes) and the
 * token into token (T_TOKEN_MAX bytes, may be NULL). */
static int login(int port, const char *user, const char *pass, char *bearer, char *token)
{
	char t[T_TOKEN_MAX];
	char *body = creds(user, pass);
	int rc = api_str(port, NULL, "POST", "/api/login", body, 200, "token", t, sizeof(t));
	cJSON_free(body);
	if (rc)
		return -1;
	t_bearer_header(t, bearer, T_AUTH_MAX);
	if (token)
		snprintf(token, T_TOKEN_MAX, "%s", t);
	return 0;
}

/* Creates `users` users as admin and logs each in: their ids (48 bytes
 * each) and tokens (T_TOKEN_MAX bytes each). */
static int make_users(int port, const char *admin, int users, char *ids, char *tokens)
{
	char bearer[T_AUTH_MAX];
	for (int i = 0; i < users; i++) {
		char name[32];
		snprintf(name, sizeof(name), "fan%04d", i);
		char *body = creds(name, "fanout-bench");
		int rc = api_str(port, admin, "POST", "/api/users", body, 201, "id", ids + 48 * i, 48);
		cJSON_free(body);
		if (rc || login(port, name, "fanout-bench", bearer, tokens + T_TOKEN_MAX * i))
			return -1;
	}
	return 0;
}

/* Grants every user reader on node key, GRANTS_PER_PATCH at a time. */
static int grant_all(int port, const char *admin, const char *key, int users, const char *ids)
{
	char path[128];
	snprintf(path, sizeof(path), "/files/%s/users", key);
	for (int i = 0; i < users; i += GRANTS_PER_PATCH) {
		cJSON *ops = cJSON_CreateArray();
		for (int k = i; k < users && k < i + GRANTS_PER_PATCH; k++) {
			cJSON *op = cJSON_CreateObject();
			cJSON_AddStringToObject(op, "op", "add");
			cJSON_AddStringToObject(op, "type", "user");
			cJSON_AddStringToObject(op, "id", ids + 48 * k);
			cJSON_AddStringToObject(op, "value", "reader");
			cJSON_AddItemToArray(ops, op);
		}
		char *body = cJSON_PrintUnformatted(ops);
		cJSON_Delete(ops);
		int rc = api(port, admin, "PATCH", path, body, 200, NULL);
		cJSON_free(body);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- the patches ---- */

static int ka_connect(keepalive *k, int port, int ep)
{
	k->len = 0;
	if ((k->fd = t_connect(port)) < 0) {
		fprintf(stderr, WHO ": connect: %s\n", strerror(errno));
		return -1;
	}
	epoll_event e;
	e.events = EPOLLIN;
	e.data.u64 = UINT64_MAX;
	return epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &e);
}

static void ka_close(keepalive *k)
{
	close(k->fd); /* also leaves the epoll set */
	k->fd = -1;
}

/* Reads what k's socket has; 1 when a whole answer is in k->buf (its
 * status into *status, and *again 0 when the server will close the
 * connection), 0 when more is needed, -1 on error. */
static int ka_read(keepalive *k, int *status, int *again)
{
	for (;;) {
		if (k->len == HTTP_MAX) {
			fprintf(stderr, WHO ": PATCH: answer too large\n");
			return -1;
		}
		ssize_t n = t_recv_some(k->fd, k->buf + k->len, HTTP_MAX - k->len, 0);
		if (n < 0)
			break; /* nothing more for now */
		if (!n) {
			fprintf(stderr, WHO ": PATCH: connection closed\n");
			return -1;
		}
		k->len += (size_t)n;
	}
	k->buf[k->len] = 0;
	char *end = strstr(k->buf, "\r\n\r\n");
	if (!end)
		return 0;
	*end = 0;
	const char *cl = strcasestr(k->buf, "\r\ncontent-length:");
	*again = !strcasestr(k->buf, "\r\nconnection: close");
	if (sscanf(k->buf, "HTTP/1.%*d %d", status) != 1 || !cl) {
		fprintf(stderr, WHO ": PATCH: an answer without status or Content-Length: %s\n", k->buf);
		return -1;
	}
	size_t head = (size_t)(end - k->buf) + 4, body = strtoul(cl + 17, NULL, 10);
	*end = '\r';
	return k->len >= head + body ? 1 : 0;
}

/* The value of a `patch` event's first operation, or -1 when msg is not
 * one. Minimal parsing: the client's patch comes before its revert. */
static long patch_value(const char *msg)
{
	const char *p = strstr(msg, "\"operation\":\"patch\"");
	p = p ? strstr(p, "\"patch\":[") : NULL;
	p = p ? strstr(p, "\"value\":") : NULL;
	return p ? strtol(p + 8, NULL, 10) : -1;
}

/* Reads every message s has; -1 on anything but the patch event of
 * value v (or the loss of the connection). */
static int sub_read(sub *s, long v, double t)
{
	for (;;) {
		char *d;
		size_t n;
		int code = 0;
		int op = t_ws_recv(&s->ws, &d, &n, &code, 0);
		if (op < 0)
			return 0; /* nothing more for now */
		long got = op == 1 ? patch_value(d) : -1;
		if (got != v || s->last == v) {
			fprintf(stderr, WHO ": waiting for the patch event of value %ld, got %s %d %s\n",
				v, op == 1 ? "message" : op == 8 ? "close" : "opcode", code, d ? d : "");
			free(d);
			return -1;
		}
		free(d);
		s->last = v;
		s->at = t;
	}
}

/* What the patches go through and to whom. */
struct run {
	int port, ep;          /* ep: epoll over k and every socket */
	const char *admin;     /* the admin's bearer header */
	const char *key;       /* the node */
	keepalive *k;
	sub *subs;
};

/* One patch of /meta/n to v, waiting for the answer and for the event on
 * the first n sockets: the round trip, the sending to the last event and
 * the answer to the last event (s) into t[0], t[1], t[2] (with no socket,
 * the answer is the last arrival); 0 or -1. */
static int one_patch(run *r, int n, long v, double t[3])
{
	keepalive *k = r->k;
	if (k->fd < 0 && ka_connect(k, r->port, r->ep))
		return -1;
	char body[128], req[1024];
	int bn = snprintf(body, sizeof(body), "[{\"op\":\"replace\",\"path\":\"/meta/n\",\"value\":%ld}]", v);
	int rn = snprintf(req, sizeof(req),
			  "PATCH /files/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s"
			  "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			  r->key, r->port, r->admin, bn, body);
	k->len = 0;
	double t_sent = bench_now_s(), t_answer = 0;
	if (t_send_all(k->fd, req, (size_t)rn))
		return -1;
	int pending = n, status = 0, again = 1;
	epoll_event ev[256];
	while (pending || !t_answer) {
		int ready = epoll_wait(r->ep, ev, 256, 1000);
		double now = bench_now_s();
		if (ready < 0 && errno != EINTR) {
			perror("epoll_wait");
			return -1;
		}
		for (int i = 0; i < ready; i++) {
			uint64_t who = ev[i].data.u64;
			if (who == UINT64_MAX) {
				int got = ka_read(k, &status, &again);
				if (got < 0)
					return -1;
				if (got && t_answer) {
					fprintf(stderr, WHO ": PATCH: more than one answer\n");
					return -1;
				}
				if (got)
					t_answer = now;
				continue;
			}
			sub *s = &r->subs[who];
			int had = s->last == v;
			if (sub_read(s, v, now))
				return -1;
			pending -= !had && s->last == v;
		}
		if (now - t_sent > EVENT_WAIT_MS / 1000.0) {
			fprintf(stderr, WHO ": value %ld: %s, %d of %d sockets without the event after %d s\n",
				v, t_answer ? "answered" : "no answer", pending, n, EVENT_WAIT_MS / 1000);
			return -1;
		}
	}
	if (status != 200 || !strstr(k->buf, "\"revert\"")) {
		fprintf(stderr, WHO ": PATCH /files/%s: status %d: %s\n", r->key, status, k->buf);
		return -1;
	}
	if (!again)
		ka_close(k);
	double last = n ? 0 : t_answer;
	for (int i = 0; i < n; i++)
		if (r->subs[i].at > last)
			last = r->subs[i].at;
	t[0] = t_answer - t_sent;
	t[1] = last - t_sent;
	t[2] = last - t_answer;
	return 0;
}

/* `patches` patches (values from v), waiting for the events on the
 * first n sockets; their times in t (3 * patches: round trips, sending to
 * the last event, answer to the last event). */
static int patch_many(run *r, int n, long v, int patches, double *t)
{
	for (int i = 0; i < patches; i++) {
		double one[3];
		if (one_patch(r, n, v + i, one))
			return -1;
		for (int m = 0; m < 3; m++)
			t[m * patches + i] = one[m];
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: " WHO " PORT ADMIN-PASSWORD CUBBYD-PID SOCKETS USERS PATCHES\n");
		return 2;
	}
	int port = atoi(argv[1]), pid = atoi(argv[3]);
	int nsubs = atoi(argv[4]), users = atoi(argv[5]), patches = atoi(argv[6]);
	if (nsubs < 1 || users < 1 || users > nsubs || users > 9999 || patches < 1) {
		fprintf(stderr, WHO ": want 1 <= USERS <= SOCKETS, USERS <= 9999, PATCHES >= 1\n");
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	char admin[T_AUTH_MAX], key[64];
	char *ids = (char *)calloc((size_t)users, 48);
	char *tokens = (char *)calloc((size_t)users, T_TOKEN_MAX);
	sub *subs = (sub *)calloc((size_t)nsubs, sizeof(*subs));
	double *ref = (double *)calloc(3 * (size_t)patches, sizeof(*ref));
	double *fan = (double *)calloc(3 * (size_t)patches, sizeof(*fan));
	keepalive *k = (keepalive *)calloc(1, sizeof(*k));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!ids || !tokens || !subs || !ref || !fan || !k || ep < 0) {
		fprintf(stderr, WHO ": out of memory\n");
		return 1;
	}
	k->fd = -1;
	run r = {port, ep, admin, key, k, subs};
	double t0 = bench_now_s();
	if (login(port, "admin", argv[2], admin, NULL) || make_users(port, admin, users, ids, tokens) ||
	    api_str(port, admin, "POST", "/files", "{\"name\":\"fanout.json\",\"meta\":{\"n\":0}}", 201,
		    "id", key, sizeof(key)) ||
	    grant_all(port, admin, key, users, ids))
		return 1;
	double t_setup = bench_now_s() - t0;

	/* The references: cubbyd's memory and the patch's round trip with
	 * no socket open. */
	double idle[2], opened[2], after[2];
	if (bench_rss(pid, &idle[0], &idle[1]) || patch_many(&r, 0, 1, patches, ref))
		return 1;

	t0 = bench_now_s();
	for (int i = 0; i < nsubs; i++) {
		char path[T_TOKEN_MAX + 32];
		snprintf(path, sizeof(path), "/files?token=%s", tokens + T_TOKEN_MAX * (i % users));
		if (t_ws_connect(&subs[i].ws, port, path, NULL)) {
			fprintf(stderr, WHO ": socket %d: /files refused (HTTP %d)\n", i, subs[i].ws.status);
			return 1;
		}
		subs[i].last = -1;
		epoll_event e;
		e.events = EPOLLIN;
		e.data.u64 = (uint64_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].ws.fd, &e)) {
			perror("epoll_ctl");
			return 1;
		}
	}
	double t_open = bench_now_s() - t0;
	t_sleep_ms(200); /* let cubbyd settle the last upgrades */
	if (bench_rss(pid, &opened[0], &opened[1]) || patch_many(&r, nsubs, 1 + patches, patches, fan) ||
	    bench_rss(pid, &after[0], &after[1]))
		return 1;

	bench_print_pcts(ref, patches);
	for (int m = 0; m < 3; m++)
		bench_print_pcts(fan + m * patches, patches);
	printf(" %.1f %.1f %.1f %.1f %.1f %.1f\n", idle[0], idle[1], opened[0], opened[1], after[0],
	       after[1]);
	fprintf(stderr, WHO ": %d users, their node and grants in %.2f s; %d sockets opened in %.2f s\n",
		users, t_setup, nsubs, t_open);
	if (k->fd >= 0)
		ka_close(k);
	for (int i = 0; i < nsubs; i++)
		t_ws_close(&subs[i].ws);
	close(ep);
	free(k);
	free(fan);
	free(ref);
	free(subs);
	free(tokens);
	free(ids);
	return 0;
}
