/* requests.cpp: the small-request scenario of `make bench`: how many
 * spec 1 requests a second cubbyd answers on `/ws`, and how long each
 * takes, with CONNS connections each keeping one request in flight.
 *
 * Setup, as admin (logged in once with POST /api/login; every connection
 * then upgrades with that session's bearer token, so no connection costs
 * a PBKDF2): over one /ws connection, project_save of projects until
 * project_list has 100; a 64-byte file uploaded through /upload (the
 * cheapest spec 1 way to make a file: spec 1 files are not inside
 * projects, they are in the user's space), then file_save of some
 * metadata of the client's own (description, rating, tags) on it.
 *
 * Then CONNS /ws connections, driven at once from one epoll loop in a
 * closed loop: each sends a request, waits for its answer (passing over
 * the `users` and `*_update` broadcasts), sends the next. SECONDS seconds
 * of {"action":"project_list"}, then SECONDS seconds of
 * {"action":"file_load_meta","value":<the file's uuid>}. Each answer is
 * checked: the first of each connection and any that differs from the
 * first checked one are parsed (project_list: 100 one-key entries, the
 * bench's projects among them; file_load_meta: the file's uuid and the
 * saved description), the others must be byte for byte that answer.
 * Answers arriving after a phase's SECONDS are awaited but not counted.
 * A latency is from sending a request to the loop waking up to read its
 * answer.
 *
 * Prints one line on stdout: requests per second, p50 and p99 (nearest
 * rank) in ms, of project_list then of file_load_meta:
 *   PL_RATE PL_P50 PL_P99 FLM_RATE FLM_P50 FLM_P99
 *
 *   requests PORT ADMIN-PASSWORD CONNS SECONDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <openssl/evp.h>

#include "common.h"

#define WHO "requests"
#define PROJECTS 100
#define FILE_NAME "requests-bench.txt"
#define FILE_SIZE 64
#define DESCRIPTION "the file of the requests bench"
#define WAIT_MS 10000    /* setup answers and the last answers of a phase */
#define UUID_MAX 64

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A broadcast, not an answer: `users`, `list_update`, `*_update`. */
static bool is_broadcast(const char *msg)
{
	static const char *const kinds[] = {
		"{\"type\":\"users\"", "{\"type\":\"list_update\"", "{\"type\":\"project_update\"",
		"{\"type\":\"file_update\"",
	};
	for (const char *k : kinds)
		if (!strncmp(msg, k, strlen(k)))
			return true;
	return false;
}

/* ---- setup ---- */

/* The next answer on ws (broadcasts passed over), parsed; it must be of
 * type want. NULL after saying what came instead. */
static cJSON *expect_type(t_ws *ws, const char *want)
{
	for (;;) {
		char *d;
		size_t n;
		int code = 0;
		int op = t_ws_recv(ws, &d, &n, &code, WAIT_MS);
		if (op != 1) {
			fprintf(stderr, WHO ": waiting for %s: got %s %d %s\n", want,
				op == 8 ? "close" : op < 0 ? "nothing" : "opcode", op == 8 ? code : op,
				d ? d : "");
			free(d);
			return NULL;
		}
		if (is_broadcast(d)) {
			free(d);
			continue;
		}
		cJSON *j = cJSON_ParseWithLength(d, n);
		const char *type = t_json_str(j, "type");
		if (!type || strcmp(type, want)) {
			fprintf(stderr, WHO ": waiting for %s: got %.600s\n", want, d);
			free(d);
			cJSON_Delete(j);
			return NULL;
		}
		free(d);
		return j;
	}
}

/* Sends {"action":action[,"value":value]} (takes value) and waits for
 * the answer of type want; NULL on failure. */
static cJSON *ask(t_ws *ws, const char *action, cJSON *value, const char *want)
{
	if (t_ws_send_action(ws, action, value)) {
		fprintf(stderr, WHO ": sending %s failed\n", action);
		return NULL;
	}
	return expect_type(ws, want);
}

/* Logs admin in: the bearer header of the session into bearer
 * (T_AUTH_MAX bytes). */
static int login(int port, const char *pass, char *bearer)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "user", "admin");
	cJSON_AddStringToObject(b, "pass", pass);
	char *body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	cJSON *j = NULL;
	int status = t_http_json_req(port, "POST", "/api/login", NULL, body, &j);
	cJSON_free(body);
	const char *token = t_json_str(j, "token");
	int rc = status == 200 && token && *token && strlen(token) < T_TOKEN_MAX ? 0 : -1;
	if (rc)
		fprintf(stderr, WHO ": POST /api/login as admin: status %d, want 200 with a token\n",
			status);
	else
		t_bearer_header(token, bearer, T_AUTH_MAX);
	cJSON_Delete(j);
	return rc;
}

/* project_list's array (caller deletes), or NULL. */
static cJSON *project_list(t_ws *ws)
{
	cJSON *j = ask(ws, "project_list", NULL, "project_list");
	cJSON *v = j ? cJSON_DetachItemFromObjectCaseSensitive(j, "value") : NULL;
	cJSON_Delete(j);
	if (j && !cJSON_IsArray(v)) {
		fprintf(stderr, WHO ": project_list: the value is not an array\n");
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

/* project_save until project_list has PROJECTS projects. */
static int make_projects(t_ws *ws)
{
	cJSON *list = project_list(ws);
	if (!list)
		return -1;
	int have = cJSON_GetArraySize(list);
	cJSON_Delete(list);
	if (have > PROJECTS) {
		fprintf(stderr, WHO ": admin has %d projects already, want at most %d\n", have, PROJECTS);
		return -1;
	}
	for (int i = have; i < PROJECTS; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"name\":\"bench project %03d\",\"description\":\"a project of the requests "
			 "bench\",\"settings\":{\"width\":1920,\"height\":1080,\"fps\":30},"
			 "\"tracks\":[{\"kind\":\"video\",\"clips\":%d},{\"kind\":\"audio\",\"clips\":%d}]}",
			 i, i % 7, i % 3);
		cJSON *j = ask(ws, "project_save", cJSON_Parse(text), "project_save");
		if (!j)
			return -1;
		cJSON_Delete(j);
	}
	return 0;
}

static void md5_hex(const void *p, size_t n, char out[33])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
	for (unsigned i = 0; i < len && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The uuid of the live file called FILE_NAME into uuid (UUID_MAX), "" if
 * none. */
static int find_file(t_ws *ws, char *uuid)
{
	cJSON *j = ask(ws, "file_list", NULL, "file_list");
	if (!j)
		return -1;
	uuid[0] = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "value")) {
		const char *name = e->child ? t_json_str(e->child, "name") : NULL;
		if (name && !strcmp(name, FILE_NAME) && strlen(e->child->string) < UUID_MAX) {
			snprintf(uuid, UUID_MAX, "%s", e->child->string);
			break;
		}
	}
	cJSON_Delete(j);
	return 0;
}

/* Uploads FILE_SIZE bytes as FILE_NAME through /upload (unless admin has
 * that file already), then saves metadata on it; its uuid into uuid. */
static int make_file(int port, const char *bearer, t_ws *ws, char *uuid)
{
	if (find_file(ws, uuid))
		return -1;
	if (!uuid[0]) {
		unsigned char data[FILE_SIZE], frame[FILE_SIZE + 14];
		for (int i = 0; i < FILE_SIZE; i++)
			data[i] = (unsigned char)("cubby requests bench\n"[i % 21]);
		char md5[33], msg[256];
		md5_hex(data, sizeof(data), md5);
		t_ws up;
		if (t_ws_connect(&up, port, "/upload", bearer)) {
			fprintf(stderr, WHO ": /upload refused (HTTP %d)\n", up.status);
			return -1;
		}
		snprintf(msg, sizeof(msg),
			 "{\"action\":\"upload\",\"value\":{\"name\":\"" FILE_NAME "\",\"size\":%d}}",
			 FILE_SIZE);
		int rc = t_ws_send_text(&up, msg) || bench_expect(&up, WHO, "\"ready\":true", NULL, NULL) ||
			 t_send_all(up.fd, frame, bench_frame(frame, data, sizeof(data))) ||
			 bench_expect(&up, WHO, "\"ready\":true", NULL, NULL);
		snprintf(msg, sizeof(msg), "{\"action\":\"finished\",\"value\":\"%s\"}", md5);
		rc = rc || t_ws_send_text(&up, msg) ||
		     bench_expect(&up, WHO, "\"close\":true", NULL, NULL);
		t_ws_close(&up);
		if (rc || find_file(ws, uuid))
			return -1;
		if (!uuid[0]) {
			fprintf(stderr, WHO ": the uploaded " FILE_NAME " is not in file_list\n");
			return -1;
		}
	}
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "uuid", uuid);
	cJSON_AddStringToObject(f, "description", DESCRIPTION);
	cJSON_AddNumberToObject(f, "rating", 4);
	cJSON_AddItemToObject(f, "tags", cJSON_Parse("[\"bench\",\"requests\",\"small\"]"));
	cJSON *j = ask(ws, "file_save", f, "file_save");
	const char *v = t_json_str(j, "value");
	int rc = v && !strcmp(v, uuid) ? 0 : -1;
	if (j && rc)
		fprintf(stderr, WHO ": file_save answered another uuid\n");
	cJSON_Delete(j);
	return rc;
}

/* ---- the closed loop ---- */

struct conn {
	t_ws ws;
	int64_t sent;  /* ns; 0: nothing in flight */
	bool checked;  /* an answer of this phase was parsed and checked */
};

struct phase {
	const char *name;      /* the action, also the answer's type */
	const char *request;   /* the message */
	const char *uuid;      /* file_load_meta: the file */
	char *ref;             /* the first checked answer (malloc'd) */
	size_t ref_len;
	int64_t *lat;          /* ns, counted answers */
	size_t n, cap;
	long parsed;           /* answers checked by parsing */
	long late;             /* answers after the phase's end, not counted */
};

/* Parses and checks one answer of p; 0 or -1 (said why). */
static int check_answer(const phase *p, const char *msg, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(msg, len);
	const char *type = t_json_str(j, "type");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
	bool ok = type && !strcmp(type, p->name);
	if (ok && !p->uuid) {
		int found = 0;
		const cJSON *e;
		ok = cJSON_IsArray(v) && cJSON_GetArraySize(v) == PROJECTS;
		cJSON_ArrayForEach(e, v) {
			const cJSON *o = e->child;
			if (!cJSON_IsObject(e) || !o || o->next || !cJSON_IsObject(o))
				ok = false;
			else if (t_json_str(o, "name") && !strncmp(t_json_str(o, "name"), "bench project ", 14))
				found++;
		}
		ok = ok && found > 0;
	} else if (ok) {
		const char *d = t_json_str(v, "description");
		ok = cJSON_IsObject(v) && t_json_str(v, "uuid") && !strcmp(t_json_str(v, "uuid"), p->uuid) &&
		     t_json_str(v, "md5") && d && !strcmp(d, DESCRIPTION);
	}
	cJSON_Delete(j);
	if (!ok)
		fprintf(stderr, WHO ": %s: wrong answer: %.600s\n", p->name, msg);
	return ok ? 0 : -1;
}

static int send_request(conn *c, const char *req)
{
	unsigned char frame[256];
	size_t n = strlen(req);
	uint32_t key = bench_key();
	size_t h = bench_frame_head(frame, 1, n, key);
	bench_mask(frame + h, (const unsigned char *)req, n, key, 0);
	c->sent = now_ns();
	return t_send_all(c->ws.fd, frame, h + n);
}

/* Reads every message c has; answers go into p (counted when they came
 * before end) and each one answered, before end, gets the next request.
 * 0, or -1 on a wrong answer or a lost connection. */
static int conn_read(conn *c, phase *p, int64_t t, int64_t end)
{
	for (;;) {
		char *d;
		size_t n;
		int code = 0;
		int op = t_ws_recv(&c->ws, &d, &n, &code, 0);
		if (op < 0)
			return 0; /* nothing more for now */
		if (op != 1) {
			fprintf(stderr, WHO ": %s: got %s %d %s\n", p->name,
				op == 8 ? "close" : op ? "binary" : "the end of the connection", code,
				d ? d : "");
			free(d);
			return -1;
		}
		if (is_broadcast(d)) {
			free(d);
			continue;
		}
		if (!c->sent) {
			fprintf(stderr, WHO ": %s: an answer with no request: %.600s\n", p->name, d);
			free(d);
			return -1;
		}
		bool same = p->ref && c->checked && n == p->ref_len && !memcmp(d, p->ref, n);
		if (!same) {
			if (check_answer(p, d, n)) {
				free(d);
				return -1;
			}
			p->parsed++;
			c->checked = true;
			if (!p->ref) {
				p->ref = d;
				p->ref_len = n;
				d = NULL;
			}
		}
		free(d);
		if (t <= end) {
			if (p->n == p->cap) {
				p->cap = p->cap ? 2 * p->cap : 65536;
				p->lat = (int64_t *)realloc(p->lat, p->cap * sizeof(*p->lat));
				if (!p->lat) {
					fprintf(stderr, WHO ": out of memory\n");
					return -1;
				}
			}
			p->lat[p->n++] = t - c->sent;
		} else {
			p->late++;
		}
		c->sent = 0;
		if (t < end && send_request(c, p->request))
			return -1;
	}
}

/* One phase on all n connections for secs seconds; the time its counted
 * answers had into *elapsed (s). */
static int run_phase(conn *cs, int n, int ep, phase *p, int secs, double *elapsed)
{
	for (int i = 0; i < n; i++)
		cs[i].checked = false;
	int64_t t0 = now_ns(), end = t0 + (int64_t)secs * 1000000000;
	for (int i = 0; i < n; i++)
		if (send_request(&cs[i], p->request))
			return -1;
	epoll_event *ev = (epoll_event *)calloc((size_t)n, sizeof(*ev));
	for (;;) {
		int busy = 0;
		for (int i = 0; i < n; i++)
			busy += cs[i].sent != 0;
		int64_t t = now_ns();
		if (!busy)
			break;
		if (t > end + (int64_t)WAIT_MS * 1000000) {
			fprintf(stderr, WHO ": %s: %d connections without an answer after %d s\n", p->name,
				busy, WAIT_MS / 1000);
			free(ev);
			return -1;
		}
		int ready = epoll_wait(ep, ev, n, 100);
		if (ready < 0 && errno != EINTR) {
			perror("epoll_wait");
			free(ev);
			return -1;
		}
		t = now_ns();
		for (int i = 0; i < ready; i++) {
			if (conn_read(&cs[ev[i].data.u32], p, t, end)) {
				free(ev);
				return -1;
			}
		}
	}
	free(ev);
	*elapsed = (double)(end - t0) / 1e9;
	return 0;
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0..100) of the sorted v[0..n), in ms. */
static double pct(const int64_t *v, size_t n, int q)
{
	size_t r = (n * (size_t)q + 99) / 100;
	return n ? (double)v[r ? r - 1 : 0] / 1e6 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: " WHO " PORT ADMIN-PASSWORD CONNS SECONDS\n");
		return 2;
	}
	int port = atoi(argv[1]), nconns = atoi(argv[3]), secs = atoi(argv[4]);
	if (port < 1 || nconns < 1 || nconns > 10000 || secs < 1) {
		fprintf(stderr, WHO ": want a port, 1 <= CONNS <= 10000 and SECONDS >= 1\n");
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	char bearer[T_AUTH_MAX], uuid[UUID_MAX];
	int64_t t_setup = now_ns();
	t_ws ws;
	if (login(port, argv[2], bearer))
		return 1;
	if (t_ws_connect(&ws, port, "/ws", bearer)) {
		fprintf(stderr, WHO ": /ws refused (HTTP %d)\n", ws.status);
		return 1;
	}
	if (make_projects(&ws) || make_file(port, bearer, &ws, uuid))
		return 1;
	t_ws_close(&ws);

	conn *cs = (conn *)calloc((size_t)nconns, sizeof(*cs));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || ep < 0) {
		fprintf(stderr, WHO ": out of memory\n");
		return 1;
	}
	for (int i = 0; i < nconns; i++) {
		if (t_ws_connect(&cs[i].ws, port, "/ws", bearer)) {
			fprintf(stderr, WHO ": connection %d: /ws refused (HTTP %d)\n", i, cs[i].ws.status);
			return 1;
		}
		epoll_event e;
		e.events = EPOLLIN;
		e.data.u64 = 0;
		e.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].ws.fd, &e)) {
			perror("epoll_ctl");
			return 1;
		}
	}
	double setup_s = (double)(now_ns() - t_setup) / 1e9;

	char flm[160];
	snprintf(flm, sizeof(flm), "{\"action\":\"file_load_meta\",\"value\":\"%s\"}", uuid);
	phase ph[2];
	memset(ph, 0, sizeof(ph));
	ph[0].name = "project_list";
	ph[0].request = "{\"action\":\"project_list\"}";
	ph[1].name = "file_load_meta";
	ph[1].request = flm;
	ph[1].uuid = uuid;
	double rate[2], p50[2], p99[2];
	for (int k = 0; k < 2; k++) {
		double el;
		if (run_phase(cs, nconns, ep, &ph[k], secs, &el))
			return 1;
		if (!ph[k].n) {
			fprintf(stderr, WHO ": %s: no answer within %d s\n", ph[k].name, secs);
			return 1;
		}
		qsort(ph[k].lat, ph[k].n, sizeof(*ph[k].lat), by_value);
		rate[k] = (double)ph[k].n / el;
		p50[k] = pct(ph[k].lat, ph[k].n, 50);
		p99[k] = pct(ph[k].lat, ph[k].n, 99);
	}
	printf("%.0f %.3f %.3f %.0f %.3f %.3f\n", rate[0], p50[0], p99[0], rate[1], p50[1], p99[1]);
	fprintf(stderr,
		WHO ": %d connections, %d s each: project_list (%d projects, %zu-byte answers) %.0f/s, "
		    "p50 %.3f ms, p99 %.3f ms, max %.3f ms; file_load_meta (%zu-byte answers) %.0f/s, "
		    "p50 %.3f ms, p99 %.3f ms, max %.3f ms; %ld+%ld answers parsed; setup %.2f s\n",
		nconns, secs, PROJECTS, ph[0].ref_len, rate[0], p50[0], p99[0],
		(double)ph[0].lat[ph[0].n - 1] / 1e6, ph[1].ref_len, rate[1], p50[1], p99[1],
		(double)ph[1].lat[ph[1].n - 1] / 1e6, ph[0].parsed, ph[1].parsed, setup_s);
	for (int i = 0; i < nconns; i++)
		t_ws_close(&cs[i].ws);
	close(ep);
	for (int k = 0; k < 2; k++) {
		free(ph[k].ref);
		free(ph[k].lat);
	}
	free(cs);
	return 0;
}
