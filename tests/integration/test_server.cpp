/* test_server.cpp: the real cubbyd ($CUBBYD, else build/cubbyd) as a
 * server: routing errors (404, 405 with Allow, refused WebSocket
 * upgrades), requests it must refuse without falling over (oversize
 * headers), max_connections, a graceful stop on SIGTERM that keeps
 * every account, line_port = 0, and reopening its log file on SIGHUP.
 * Every test starts its own server on a fresh temporary directory; a
 * failing test prints the server's log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/support.h"

#define TOKEN_MAX 256

/* ---- requests ---- */

static const char *admin_basic(const t_server *s, char *buf, size_t n)
{
	return t_basic_header("admin", s->password, buf, n);
}

/* GET /api/me as the admin (Basic); the status, or -1 without an
 * answer. */
static int me_status(const t_server *s)
{
	char auth[512];
	t_http_response r;
	if (t_http(s->http_port, "GET", "/api/me", admin_basic(s, auth, sizeof(auth)), NULL, 0, &r))
		return -1;
	t_http_free(&r);
	return r.status;
}

static void assert_serving(const t_server *s)
{
	assert_int_equal(me_status(s), 200);
}

/* POST of {"user","pass"} to path with headers; the status (fails the
 * test without an answer); *token gets "token" of the answer if asked. */
static int post_creds(const t_server *s, const char *path, const char *headers, const char *user,
		      const char *pass, char *token)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"user\":\"%s\",\"pass\":\"%s\"}", user, pass);
	cJSON *j = NULL;
	int status = t_http_post_json(s->http_port, path, headers, body, &j);
	if (token) {
		const char *t = t_json_str(j, "token");
		snprintf(token, TOKEN_MAX, "%s", t ? t : "");
	}
	cJSON_Delete(j);
	if (status < 0)
		fail_msg("POST %s: no answer", path);
	return status;
}

/* ---- routing ---- */

static void test_unknown_path(void **state)
{
	t_server *s = t_start(state, NULL);
	t_http_response r;
	assert_int_equal(t_http(s->http_port, "GET", "/nope", NULL, NULL, 0, &r), 0);
	t_assert_error(&r, 404, "no such endpoint: /nope");
	assert_int_equal(t_http(s->http_port, "POST", "/api/nope", NULL, "{}", 2, &r), 0);
	t_assert_error(&r, 404, "no such endpoint: /api/nope");
	/* with credentials all the same */
	char auth[512];
	assert_int_equal(t_http(s->http_port, "GET", "/nope", admin_basic(s, auth, sizeof(auth)), NULL,
				0, &r),
			 0);
	t_assert_error(&r, 404, "no such endpoint: /nope");
	t_passed(state);
}

/* method path (as the admin) is 405 with an Allow header naming allow. */
static void check_405(const t_server *s, const char *method, const char *path, const char *allow)
{
	char auth[512], got[256], msg[256];
	t_http_response r;
	assert_int_equal(t_http(s->http_port, method, path, admin_basic(s, auth, sizeof(auth)), NULL,
				0, &r),
			 0);
	bool has_allow = t_http_header(&r, "allow", got, sizeof(got)) && strstr(got, allow);
	snprintf(msg, sizeof(msg), "method not allowed: %s %s", method, path);
	t_assert_error(&r, 405, msg);
	if (!has_allow)
		fail_msg("%s %s: no Allow header with %s", method, path, allow);
}

static void test_method_not_allowed(void **state)
{
	t_server *s = t_start(state, NULL);
	check_405(s, "GET", "/api/login", "POST");
	check_405(s, "PUT", "/api/login", "POST");
	check_405(s, "GET", "/api/logout", "POST");
	check_405(s, "DELETE", "/api/me", "GET");
	check_405(s, "OPTIONS", "/api/me", "GET");
	t_passed(state);
}

static void test_ws_unknown_path_refused(void **state)
{
	t_server *s = t_start(state, NULL);
	t_ws ws;
	int rc = t_ws_connect(&ws, s->http_port, "/nope", NULL);
	int status = ws.status;
	t_ws_close(&ws);
	assert_int_equal(rc, -1);
	if (status != 404 && status != 0)
		fail_msg("upgrade to /nope answered %d, want 404 (or a close)", status);
	assert_serving(s);
	t_passed(state);
}

/* ---- refusals that must not hurt the server ---- */

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *p = (char *)malloc(hl + n + tl + 1);
	assert_non_null(p);
	memcpy(p, head, hl);
	memset(p + hl, c, n);
	memcpy(p + hl + n, tail, tl + 1);
	return p;
}

/* The answer to a refused request: an error status or a closed
 * connection, never a success. */
static void check_refused(int rc, t_http_response *r, const char *what)
{
	int status = rc ? 0 : r->status;
	if (!rc)
		t_http_free(r);
	if (!rc && status < 400)
		fail_msg("%s: answered %d, want an error status or a close", what, status);
}

static void test_oversize_header(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[512];
	admin_basic(s, auth, sizeof(auth));
	char *cookie = repeat("Cookie: a=", 'x', 100 * 1024, "\r\n");
	char *headers = (char *)malloc(strlen(auth) + strlen(cookie) + 1);
	assert_non_null(headers);
	strcpy(headers, auth);
	strcat(headers, cookie);
	free(cookie);
	t_http_response r;
	int rc = t_http(s->http_port, "GET", "/api/me", headers, NULL, 0, &r);
	free(headers);
	check_refused(rc, &r, "a 100 KiB Cookie header");
	assert_true(t_server_running(s));
	assert_serving(s);

	char *path = repeat("/api/me?x=", 'y', 100 * 1024, "");
	rc = t_http(s->http_port, "GET", path, auth, NULL, 0, &r);
	free(path);
	check_refused(rc, &r, "a 100 KiB request line");
	assert_true(t_server_running(s));
	assert_serving(s);
	t_passed(state);
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void test_max_connections(void **state)
{
	t_server *s = t_start(state, "max_connections = 4\n");
	assert_serving(s);
	t_sleep_ms(200); /* the readiness probe and that request are gone */
	int fds[5] = {-1, -1, -1, -1, -1};
	for (int i = 0; i < 4; i++)
		fds[i] = t_connect(s->http_port);
	t_sleep_ms(200);
	fds[4] = t_connect(s->http_port);
	int fifth_closed = fds[4] >= 0 ? t_wait_closed(fds[4], 2000) : 1;
	int open_ok = 1;
	for (int i = 0; i < 4; i++)
		if (fds[i] < 0 || t_wait_closed(fds[i], 50))
			open_ok = 0;
	if (!fifth_closed || !open_ok) {
		close_all(fds, 5);
		fail_msg("%s", !open_ok ? "one of the first four connections was closed"
					: "the fifth connection was not closed within 2 s");
	}
	close(fds[4]);
	close(fds[0]);
	int status = -1;
	for (int64_t end = t_now_ms() + 2000; status != 200 && t_now_ms() < end;) {
		status = me_status(s);
		if (status != 200)
			t_sleep_ms(50);
	}
	close_all(fds + 1, 3);
	assert_int_equal(status, 200);
	t_passed(state);
}

/* cubbyd's soft descriptor limit (its /proc/PID/limits); -1 if unread. */
static long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "r");
	long soft = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14))
			soft = strtol(line + 14, NULL, 10);
	if (f)
		fclose(f);
	return soft;
}

/* The descriptor limit is what max_connections needs (three a
 * connection and 64), lowered from the shell's and raised past it up to
 * the hard limit, so that libwebsockets' table indexes every socket
 * directly. */
static void test_descriptor_limit_fits_max_connections(void **state)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	t_server *s = t_start(state, "max_connections = 10\n");
	assert_int_equal(soft_nofile(s->pid), 3 * 10 + 64);
	assert_int_equal(t_server_stop(s), 0);
	unsigned many = 500; /* 1564 descriptors: past the usual 1024 */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 3 * many + 64)
		many = (unsigned)((rl.rlim_max - 64) / 3);
	char conf[64];
	snprintf(conf, sizeof(conf), "max_connections = %u\n", many);
	t_server_cleanup(s);
	s = t_start(state, conf);
	assert_int_equal(soft_nofile(s->pid), 3 * (long)many + 64);
	assert_serving(s);
	t_passed(state);
}

/* ---- stopping and starting ---- */

static void test_graceful_shutdown_keeps_data(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[512], token[TOKEN_MAX], bearer[512];
	assert_int_equal(post_creds(s, "/api/users", admin_basic(s, auth, sizeof(auth)), "bob", "pw",
				    NULL),
			 201);
	assert_int_equal(post_creds(s, "/api/login", NULL, "bob", "pw", token), 200);
	char password[64];
	snprintf(password, sizeof(password), "%s", s->password);

	assert_int_equal(t_server_stop(s), 0);
	t_restart(state);
	assert_string_equal(s->password, password); /* initial-password not rewritten */
	assert_int_equal(post_creds(s, "/api/login", NULL, "bob", "pw", NULL), 200);
	assert_int_equal(post_creds(s, "/api/login", NULL, "admin", password, NULL), 200);
	/* sessions are in the store: they outlive the process */
	t_http_response r;
	t_bearer_header(token, bearer, sizeof(bearer));
	assert_int_equal(t_http(s->http_port, "GET", "/api/me", bearer, NULL, 0, &r), 0);
	cJSON *j = t_http_json(&r);
	t_http_free(&r);
	const char *name = t_json_str(j, "name");
	bool bob = name && !strcmp(name, "bob");
	cJSON_Delete(j);
	assert_int_equal(r.status, 200);
	assert_true(bob);
	t_passed(state);
}

/* Reads one whole answer (head, and Content-Length bytes of body) from
 * a keep-alive connection; its status or -1. */
static int read_one_answer(int fd)
{
	char buf[16384];
	size_t len = 0;
	int64_t end = t_now_ms() + T_TIMEOUT_MS;
	for (;;) {
		buf[len] = 0;
		char *head_end = strstr(buf, "\r\n\r\n");
		if (head_end) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			size_t want = cl && cl < head_end ? strtoul(cl + 17, NULL, 10) : 0;
			if (len - (size_t)(head_end + 4 - buf) >= want) {
				int status = 0;
				sscanf(buf, "HTTP/1.%*d %d", &status);
				return status;
			}
		}
		int64_t left = end - t_now_ms();
		if (len + 1 >= sizeof(buf) || left <= 0)
			return -1;
		ssize_t n = t_recv_some(fd, buf + len, sizeof(buf) - 1 - len, (int)left);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
}

/* Sends raw bytes on a new connection; fd. */
static int send_raw(const t_server *s, const char *bytes)
{
	int fd = t_connect(s->http_port);
	assert_true(fd >= 0);
	assert_int_equal(t_send_all(fd, bytes, strlen(bytes)), 0);
	return fd;
}

/* A pipelined request with a body (which libwebsockets 4.1 misreads)
 * costs that connection, never the server. */
static void test_pipelined_body(void **state)
{
	t_server *s = t_start(state, NULL);
	int fd = send_raw(s, "GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n"
			     "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
	assert_int_equal(read_one_answer(fd), 401);
	assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
	close(fd);
	assert_serving(s);
	t_passed(state);
}

/* A POST without Content-Length has no body: it is answered, and the
 * connection closed (libwebsockets would wait for a body). */
static void test_post_without_length(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[512], req[1024];
	snprintf(req, sizeof(req), "POST /api/logout HTTP/1.1\r\nHost: x\r\n%s\r\n",
		 admin_basic(s, auth, sizeof(auth)));
	int fd = send_raw(s, req);
	assert_int_equal(read_one_answer(fd), 200);
	assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
	close(fd);
	t_passed(state);
}

/* HEAD is GET without the body. */
static void test_head(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[512], req[1024], buf[4096];
	snprintf(req, sizeof(req), "HEAD /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
		 admin_basic(s, auth, sizeof(auth)));
	int fd = send_raw(s, req);
	size_t len = 0;
	for (ssize_t n; len < sizeof(buf) - 1 &&
			(n = t_recv_some(fd, buf + len, sizeof(buf) - 1 - len, T_TIMEOUT_MS)) > 0;)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strcasestr(buf, "content-length: "));
	char *head_end = strstr(buf, "\r\n\r\n");
	assert_non_null(head_end);
	assert_string_equal(head_end, "\r\n\r\n");
	t_passed(state);
}

/* Only WebSocket upgrades: h2c is refused, not taken for a WebSocket. */
static void test_h2c_refused(void **state)
{
	t_server *s = t_start(state, NULL);
	t_http_response r;
	assert_int_equal(t_http(s->http_port, "GET", "/api/me",
				"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
				"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
				NULL, 0, &r),
			 0);
	t_assert_error(&r, 400, "unsupported upgrade: h2c");
	assert_serving(s);
	t_passed(state);
}

/* Malformed requests and random bytes cost their own connection at
 * most: the server answers the next client, and (under the sanitizers)
 * nothing it did was out of bounds. */
static void test_garbage_requests(void **state)
{
	t_server *s = t_start(state, NULL);
	static const char *const bad[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"BREW /api/me HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%zz%00/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/login HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
		"POST /api/login HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}",
		"POST /api/login HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
		"POST /api/login HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"user\":",
		"POST /api/login HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}{}{}{}",
		"POST /api/login HTTP/1.1\r\nContent-Length: 24\r\n\r\n{\"user\":[],\"pass\":{}}xx",
		"GET /api/me HTTP/1.1\r\nAuthorization: Basic !!!!\r\n\r\n",
		"GET /api/me HTTP/1.1\r\nAuthorization: Basic Og==\r\n\r\n",
		"GET /api/me HTTP/1.1\r\nAuthorization: Bearer\r\n\r\n",
		"GET /api/me HTTP/1.1\r\nCookie: cubby_session\r\nCookie: ;;;=\r\n\r\n",
		"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /api/me HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n\r\n",
	};
	for (const char *req : bad) {
		int fd = send_raw(s, req);
		t_wait_closed(fd, 300); /* an answer, a close, or nothing: all fine */
		close(fd);
	}
	unsigned seed = 12345;
	for (int i = 0; i < 64; i++) {
		char junk[512];
		size_t n = 1 + (size_t)(rand_r(&seed) % (int)sizeof(junk));
		for (size_t j = 0; j < n; j++)
			junk[j] = (char)rand_r(&seed);
		int fd = t_connect(s->http_port);
		assert_true(fd >= 0);
		t_send_all(fd, junk, n);
		close(fd);
	}
	assert_true(t_server_running(s));
	assert_serving(s);
	t_passed(state);
}

static void test_sigterm_with_idle_keepalive(void **state)
{
	t_server *s = t_start(state, NULL);
	int fd = t_connect(s->http_port);
	assert_true(fd >= 0);
	char req[256];
	snprintf(req, sizeof(req), "GET /api/me HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", s->http_port);
	int sent = t_send_all(fd, req, strlen(req));
	int status = sent ? -1 : read_one_answer(fd);
	if (status != 401) {
		close(fd);
		fail_msg("keep-alive GET /api/me: want 401, got %d", status);
	}
	/* the connection stays open, idle, while the server stops */
	int64_t t0 = t_now_ms();
	int rc = t_server_stop(s);
	int64_t took = t_now_ms() - t0;
	int closed = t_wait_closed(fd, 1000);
	close(fd);
	assert_int_equal(rc, 0);
	assert_true(took < T_TIMEOUT_MS);
	assert_true(closed);
	t_passed(state);
}

static void test_line_port_zero(void **state)
{
	t_server *s = t_start(state, "line_port = 0\n");
	assert_true(t_server_running(s));
	assert_serving(s);
	t_passed(state);
}

/* With tls_cert and tls_key the HTTP port speaks HTTPS, and only that. */
static void test_tls(void **state)
{
	char cert[PATH_MAX], key[PATH_MAX], conf[2 * PATH_MAX + 64];
	assert_non_null(realpath("tests/data/tls-cert.pem", cert));
	assert_non_null(realpath("tests/data/tls-key.pem", key));
	snprintf(conf, sizeof(conf), "tls_cert = %s\ntls_key = %s\n", cert, key);
	t_server *s = t_start(state, conf);
	char auth[256];
	t_basic_header("admin", s->password, auth, sizeof(auth));
	t_http_response r;
	assert_int_equal(t_https(s->http_port, "GET", "/api/me", auth, &r), 0);
	assert_int_equal(r.status, 200);
	cJSON *j = t_http_json(&r);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "admin");
	cJSON_Delete(j);
	t_http_free(&r);
	/* plain HTTP gets no answer */
	int rc = t_http(s->http_port, "GET", "/api/me", auth, NULL, 0, &r);
	assert_true(rc == -1 || r.status != 200);
	t_http_free(&r);
	t_passed(state);
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static void dump_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	fprintf(stderr, "---- %s ----\n", path);
	char buf[4096];
	size_t n;
	while (fp && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stderr);
	if (fp)
		fclose(fp);
}

static void test_sighup_reopens_log(void **state)
{
	t_server *s = t_start(state, "log = @DIR@/cubby.log\n");
	char log[400], moved[420];
	snprintf(log, sizeof(log), "%s/cubby.log", s->dir);
	snprintf(moved, sizeof(moved), "%s/cubby.log.1", s->dir);
	assert_serving(s);
	assert_true(exists(log));
	assert_int_equal(rename(log, moved), 0);

	assert_int_equal(kill(s->pid, SIGHUP), 0);
	assert_serving(s);
	bool again = false;
	for (int64_t end = t_now_ms() + 2000; !again && t_now_ms() < end;) {
		again = exists(log);
		if (!again) {
			assert_serving(s);
			t_sleep_ms(50);
		}
	}
	if (!again)
		dump_file(moved);
	assert_true(again);
	assert_true(t_server_running(s));
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_unknown_path),
		T_TEST(test_method_not_allowed),
		T_TEST(test_ws_unknown_path_refused),
		T_TEST(test_oversize_header),
		T_TEST(test_max_connections),
		T_TEST(test_descriptor_limit_fits_max_connections),
		T_TEST(test_graceful_shutdown_keeps_data),
		T_TEST(test_sigterm_with_idle_keepalive),
		T_TEST(test_pipelined_body),
		T_TEST(test_garbage_requests),
		T_TEST(test_post_without_length),
		T_TEST(test_head),
		T_TEST(test_h2c_refused),
		T_TEST(test_line_port_zero),
		T_TEST(test_tls),
		T_TEST(test_sighup_reopens_log),
	};
	return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
