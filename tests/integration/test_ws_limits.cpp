/* test_ws_limits.cpp: protocol 1's /ws against the real cubbyd at its
 * limits: a client that stops reading is disconnected once
 * send_queue_max bytes wait for it while the others carry on (and are
 * told the new users count); SIGTERM closes every /ws client with 1001
 * "server shutting down" and cubbyd exits 0; a /ws upgrade without a
 * session is refused. docs/projects-files.md, docs/server.md. */
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

#include "support/support.h"

#define AUTH_MAX 512

static void admin_ws(t_server *s, t_ws *ws)
{
	char auth[AUTH_MAX];
	t_basic_header("admin", s->password, auth, sizeof(auth));
	if (t_ws_connect(ws, s->http_port, "/ws", auth))
		fail_msg("/ws upgrade failed with %d", ws->status);
}

/* The next text message, parsed; fails the test on anything else. */
static cJSON *next_json(t_ws *ws)
{
	char *data;
	size_t len;
	int op = t_ws_recv(ws, &data, &len, NULL, T_TIMEOUT_MS);
	if (op != 1)
		fail_msg("expected a text message, got opcode %d", op);
	cJSON *j = cJSON_Parse(data);
	free(data);
	if (!j)
		fail_msg("not JSON");
	return j;
}

/* Reads messages until {"type":"users","value":want}. */
static void expect_users(t_ws *ws, int want)
{
	for (;;) {
		cJSON *j = next_json(ws);
		const char *type = t_json_str(j, "type");
		const cJSON *v = cJSON_GetObjectItem(j, "value");
		bool hit = type && !strcmp(type, "users") && cJSON_IsNumber(v) && v->valueint == want;
		cJSON_Delete(j);
		if (hit)
			return;
	}
}

static void test_slow_reader_dropped(void **state)
{
	t_server *s = t_start(state, "send_queue_max = 4K\n");
	t_ws reader, slow;
	admin_ws(s, &reader);
	expect_users(&reader, 1);
	admin_ws(s, &slow);
	expect_users(&reader, 2);

	/* a project whose list entry is 32 KiB */
	size_t name_len = 32 * 1024;
	char *msg = (char *)malloc(name_len + 128);
	int n = snprintf(msg, name_len + 128, "{\"action\":\"project_save\",\"value\":{\"name\":\"");
	memset(msg + n, 'x', name_len);
	strcpy(msg + n + name_len, "\"}}");
	assert_int_equal(t_ws_send_text(&reader, msg), 0);
	free(msg);
	for (;;) { /* its answer, after the other's list_update */
		cJSON *j = next_json(&reader);
		bool saved = !strcmp(t_json_str(j, "type"), "project_save");
		cJSON_Delete(j);
		if (saved)
			break;
	}

	/* 1,000 lists (32 MiB) asked for and never read: more than the
	 * kernel buffers hold, so the server's queue for it fills */
	int sent = 0;
	for (; sent < 1000; sent++)
		if (t_ws_send_text(&slow, "{\"action\":\"project_list\"}"))
			break; /* dropped already */
	assert_int_equal(t_wait_closed(slow.fd, T_TIMEOUT_MS), 1);
	t_ws_close(&slow);

	/* the others go on, and learn that it went */
	expect_users(&reader, 1);
	assert_int_equal(t_ws_send_text(&reader, "{\"action\":\"project_list\"}"), 0);
	cJSON *j = next_json(&reader);
	assert_string_equal(t_json_str(j, "type"), "project_list");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "value")), 1);
	cJSON_Delete(j);
	t_ws_close(&reader);
	t_passed(state);
}

static void test_sigterm_closes_with_1001(void **state)
{
	t_server *s = t_start(state, NULL);
	t_ws a, b;
	admin_ws(s, &a);
	expect_users(&a, 1);
	admin_ws(s, &b);
	expect_users(&b, 2);
	assert_int_equal(kill(s->pid, SIGTERM), 0);
	t_ws *both[] = {&a, &b};
	for (t_ws *ws : both) {
		char *data;
		size_t len;
		int code = 0, op;
		while ((op = t_ws_recv(ws, &data, &len, &code, T_TIMEOUT_MS)) == 1)
			free(data); /* a last users count may come first */
		assert_int_equal(op, 8);
		assert_int_equal(code, 1001);
		assert_string_equal(data, "server shutting down");
		free(data);
		t_ws_close(ws);
	}
	assert_int_equal(t_server_stop(s), 0);
	t_passed(state);
}

static void test_upgrade_needs_session(void **state)
{
	t_server *s = t_start(state, NULL);
	const char *paths[] = {"/ws", "/upload"};
	for (const char *p : paths) {
		t_ws ws;
		assert_int_equal(t_ws_connect(&ws, s->http_port, p, NULL), -1);
		assert_int_equal(ws.status, 401);
		assert_int_equal(t_ws_connect(&ws, s->http_port, p,
					      "Authorization: Bearer 00000000\r\n"), -1);
		assert_int_equal(ws.status, 401);
	}
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_slow_reader_dropped),
		T_TEST(test_sigterm_closes_with_1001),
		T_TEST(test_upgrade_needs_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
