/* fixture.cpp: the cmocka fixture of every test that drives a real
 * cubbyd: one server per test on its own temporary directory, its log
 * shown when the test fails, and a clean exit on SIGTERM required when
 * it passes; and the assertions that fail such a test (error answers,
 * JSON). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

struct fixture {
	t_server s;
	bool passed;    /* set by t_passed(): no log dump */
	bool log_shown; /* a start failed and printed the log already */
};

int t_fixture_setup(void **state)
{
	fixture *f = (fixture *)calloc(1, sizeof(fixture));
	*state = f;
	return f ? 0 : -1;
}

int t_fixture_teardown(void **state)
{
	fixture *f = (fixture *)*state;
	if (!f->passed && !f->log_shown && f->s.log[0])
		t_server_dump_log(&f->s);
	t_server_cleanup(&f->s);
	free(f);
	return 0;
}

t_server *t_start(void **state, const char *extra_conf)
{
	fixture *f = (fixture *)*state;
	if (t_server_start(&f->s, extra_conf)) {
		f->log_shown = true;
		fail_msg("cubbyd did not start");
	}
	assert_true(f->s.password[0] != 0);
	return &f->s;
}

void t_restart(void **state)
{
	fixture *f = (fixture *)*state;
	if (t_server_restart(&f->s)) {
		f->log_shown = true;
		fail_msg("cubbyd did not start again");
	}
}

void t_passed(void **state)
{
	fixture *f = (fixture *)*state;
	if (f->s.pid > 0) {
		int rc = t_server_stop(&f->s);
		if (rc)
			fail_msg("cubbyd ended with %d on SIGTERM, want exit status 0", rc);
	}
	f->passed = true;
}

void t_assert_error(t_http_response *r, int code, const char *message)
{
	char why[1024];
	int rc = t_check_error(r, code, message, why, sizeof(why));
	t_http_free(r);
	if (rc)
		fail_msg("%s", why);
}

void t_assert_error_prefix(t_http_response *r, int code, const char *prefix)
{
	char why[1024];
	int rc = t_check_error_prefix(r, code, prefix, why, sizeof(why));
	t_http_free(r);
	if (rc)
		fail_msg("%s", why);
}

cJSON *t_json_parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("test bug: not JSON: %s", text);
	return j;
}

void t_assert_json(const cJSON *got, const cJSON *want, const char *what)
{
	if (cJSON_Compare(got, want, true))
		return;
	char *g = got ? cJSON_PrintUnformatted(got) : NULL;
	char *w = want ? cJSON_PrintUnformatted(want) : NULL;
	fprintf(stderr, "%s:\n  got  %.1500s\n  want %.1500s\n", what, g ? g : "(nothing)",
		w ? w : "(nothing)");
	cJSON_free(g);
	cJSON_free(w);
	fail_msg("%s: not the JSON wanted", what);
}

void t_assert_json_text(const cJSON *got, const char *want, const char *what)
{
	cJSON *w = t_json_parse(want);
	t_assert_json(got, w, what);
	cJSON_Delete(w);
}

void t_assert_header(const t_http_response *r, const char *name, const char *want,
		     const char *what)
{
	char v[1024];
	const char *got = t_http_header(r, name, v, sizeof(v));
	if (!got || strcmp(got, want))
		fail_msg("%s: %s is \"%s\", want \"%s\"", what, name, got ? got : "(absent)", want);
}

void t_assert_range(t_http_response *r, const unsigned char *d, size_t n, size_t from,
		    size_t to, const char *what)
{
	char cr[96];
	size_t len = to - from + 1;
	if (r->status != 206 || r->body_len != len || memcmp(r->body, d + from, len))
		fail_msg("%s: %d with %zu bytes, want 206 with bytes %zu-%zu", what, r->status,
			 r->body_len, from, to);
	snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", from, to, n);
	t_assert_header(r, "content-range", cr, what);
	t_http_free(r);
}
