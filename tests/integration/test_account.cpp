/* test_account.cpp: accounts and sessions over HTTP against the real
 * cubbyd ($CUBBYD, else build/cubbyd), to the letter of docs/accounts.md:
 * signup, login and its rate limit, the four ways to present
 * credentials, logout, and the admin's user management, with their
 * exact error bodies. Every test starts its own server on a fresh
 * temporary directory; a failing test prints the server's log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "support/support.h"

#define CRED_ERROR "invalid JSON body: expected {\"user\":\"...\",\"pass\":\"...\"}"
#define TOKEN_MAX 256
#define ID_MAX 128

/* ---- fixture ---- */

struct fixture {
	t_server s;
	bool passed;    /* set at the end of a test: no log dump */
	bool log_shown; /* t_server_start() failed and printed the log */
};

static int setup(void **state)
{
	fixture *f = (fixture *)calloc(1, sizeof(fixture));
	*state = f;
	return f ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = (fixture *)*state;
	if (!f->passed && !f->log_shown && f->s.log[0])
		t_server_dump_log(&f->s);
	t_server_cleanup(&f->s);
	free(f);
	return 0;
}

static t_server *start(void **state, const char *extra_conf)
{
	fixture *f = (fixture *)*state;
	if (t_server_start(&f->s, extra_conf)) {
		f->log_shown = true;
		fail_msg("cubbyd did not start");
	}
	assert_true(f->s.password[0] != 0);
	return &f->s;
}

/* Ends a test: the server must stop on SIGTERM with exit status 0 (under
 * the sanitizers that also means no leak or error at exit). */
static void passed(void **state)
{
	fixture *f = (fixture *)*state;
	if (f->s.pid > 0) {
		int rc = t_server_stop(&f->s);
		if (rc)
			fail_msg("cubbyd ended with %d on SIGTERM, want exit status 0", rc);
	}
	f->passed = true;
}

/* ---- requests ---- */

/* {"user":user,"pass":pass} into buf. */
static const char *creds(const char *user, const char *pass, char *buf, size_t n)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "user", user);
	cJSON_AddStringToObject(j, "pass", pass);
	char *text = cJSON_PrintUnformatted(j);
	snprintf(buf, n, "%s", text);
	cJSON_free(text);
	cJSON_Delete(j);
	return buf;
}

/* Any request; fails the test when there is no complete answer. */
static int req(const t_server *s, const char *method, const char *path, const char *headers,
	       const char *body, t_http_response *r)
{
	char h[1024];
	snprintf(h, sizeof(h), "%s%s", body ? "Content-Type: application/json\r\n" : "",
		 headers ? headers : "");
	int rc = t_http(s->http_port, method, path, h, body, body ? strlen(body) : 0, r);
	if (rc)
		fail_msg("%s %s: no answer", method, path);
	return r->status;
}

static int post_creds(const t_server *s, const char *path, const char *headers, const char *user,
		      const char *pass, t_http_response *r)
{
	char body[512];
	return req(s, "POST", path, headers, creds(user, pass, body, sizeof(body)), r);
}

/* Fails unless r is exactly the error code/message; frees r. */
static void check_error(t_http_response *r, int code, const char *message)
{
	char why[1024];
	int rc = t_check_error(r, code, message, why, sizeof(why));
	t_http_free(r);
	if (rc)
		fail_msg("%s", why);
}

/* r's JSON body, after checking its status and content type; frees r. */
static cJSON *json_of(t_http_response *r, int status)
{
	char type[128];
	int got = r->status;
	bool typed = t_http_header(r, "content-type", type, sizeof(type)) &&
		     !strncasecmp(type, "application/json", 16);
	cJSON *j = t_http_json(r);
	if (got != status || !typed || !cJSON_IsObject(j)) {
		fprintf(stderr, "answer: %d %s\n", got, r->body ? r->body : "");
		t_http_free(r);
		cJSON_Delete(j);
		fail_msg("want %d with a JSON object, got %d%s", status, got,
			 typed ? "" : " (Content-Type not application/json)");
	}
	t_http_free(r);
	return j;
}

static void copy_str(const cJSON *j, const char *key, char *out, size_t n)
{
	const char *v = t_json_str(j, key);
	if (!v || !*v || strlen(v) >= n)
		fail_msg("no usable string \"%s\" in the answer", key);
	snprintf(out, n, "%s", v);
}

/* Logs in (200 expected); token and id out (either may be NULL). */
static void login(const t_server *s, const char *user, const char *pass, char *token, char *id)
{
	t_http_response r;
	post_creds(s, "/api/login", NULL, user, pass, &r);
	cJSON *j = json_of(&r, 200);
	char t[TOKEN_MAX], i[ID_MAX];
	copy_str(j, "token", token ? token : t, TOKEN_MAX);
	copy_str(j, "id", id ? id : i, ID_MAX);
	cJSON_Delete(j);
}

static void bearer(const char *token, char *buf, size_t n)
{
	t_bearer_header(token, buf, n);
}

/* Creates user by the admin's token: 201 expected. */
static void create_user(const t_server *s, const char *admin_token, const char *user,
			const char *pass)
{
	char auth[512];
	t_http_response r;
	bearer(admin_token, auth, sizeof(auth));
	post_creds(s, "/api/users", auth, user, pass, &r);
	cJSON_Delete(json_of(&r, 201));
}

/* GET /api/me (or path) with headers: 200 with name and admin expected;
 * id out (may be NULL). */
static void check_me(const t_server *s, const char *path, const char *headers, const char *name,
		     bool admin, char *id)
{
	t_http_response r;
	req(s, "GET", path, headers, NULL, &r);
	cJSON *j = json_of(&r, 200);
	const char *n = t_json_str(j, "name");
	bool name_ok = n && !strcmp(n, name);
	bool admin_ok = cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "admin")) &&
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "admin")) == admin;
	char i[ID_MAX];
	copy_str(j, "id", id ? id : i, ID_MAX);
	cJSON_Delete(j);
	assert_true(name_ok);
	assert_true(admin_ok);
}

/* ---- the cookie ---- */

static bool has_attr(const char *cookie, const char *attr)
{
	for (const char *p = strchr(cookie, ';'); p; p = strchr(p + 1, ';')) {
		const char *a = p + 1 + strspn(p + 1, " ");
		size_t n = strcspn(a, ";");
		while (n && a[n - 1] == ' ')
			n--;
		if (n == strlen(attr) && !strncasecmp(a, attr, n))
			return true;
	}
	return false;
}

/* Fails unless Set-Cookie sets cubby_session=<token> (any value when
 * token is NULL) with Path=/, Max-Age=<max_age>, HttpOnly and
 * SameSite=Strict, and no Secure (plain HTTP). */
static void check_cookie(const t_http_response *r, const char *token, const char *max_age)
{
	char c[1024], want[TOKEN_MAX + 32], age[64];
	if (!t_http_header(r, "set-cookie", c, sizeof(c)))
		fail_msg("no Set-Cookie in the answer");
	const char *semi = strchr(c, ';');
	size_t vlen = semi ? (size_t)(semi - c) : strlen(c);
	snprintf(want, sizeof(want), "cubby_session=%s", token ? token : "");
	if (token ? (vlen != strlen(want) || strncmp(c, want, vlen)) : strncmp(c, want, strlen(want)))
		fail_msg("Set-Cookie \"%s\": want %s", c, want);
	snprintf(age, sizeof(age), "Max-Age=%s", max_age);
	if (!has_attr(c, "Path=/") || !has_attr(c, age) || !has_attr(c, "HttpOnly") ||
	    !has_attr(c, "SameSite=Strict") || has_attr(c, "Secure"))
		fail_msg("Set-Cookie \"%s\": want Path=/; %s; HttpOnly; SameSite=Strict, no Secure",
			 c, age);
}

static void cookie_header(const char *token, char *buf, size_t n)
{
	snprintf(buf, n, "Cookie: cubby_session=%s\r\n", token);
}

/* ---- signup ---- */

static void test_signup_enabled(void **state)
{
	t_server *s = start(state, "allow_signup = yes\nsession_ttl = 1h\n");
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "alice", "wonder land", &r);
	char cookie[1024];
	bool has_cookie = t_http_header(&r, "set-cookie", cookie, sizeof(cookie));
	t_http_response keep = r;
	keep.body = NULL;
	cJSON *j = json_of(&r, 200);
	char token[TOKEN_MAX], id[ID_MAX];
	copy_str(j, "token", token, sizeof(token));
	copy_str(j, "id", id, sizeof(id));
	const char *user = t_json_str(j, "user");
	bool user_ok = user && !strcmp(user, "alice");
	cJSON_Delete(j);
	assert_true(user_ok);
	assert_true(has_cookie);
	check_cookie(&keep, token, "3600");

	char auth[512], me_id[ID_MAX];
	bearer(token, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "alice", false, me_id);
	assert_string_equal(me_id, id);
	login(s, "alice", "wonder land", NULL, NULL);
	passed(state);
}

static void test_signup_disabled_by_default(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "alice", "pw", &r);
	check_error(&r, 403, "signup is disabled");
	post_creds(s, "/api/login", NULL, "alice", "pw", &r);
	check_error(&r, 401, "wrong user name or password");
	passed(state);
}

static void test_signup_name_taken(void **state)
{
	t_server *s = start(state, "allow_signup = yes\n");
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "admin", "other", &r);
	check_error(&r, 409, "user name is taken");
	post_creds(s, "/api/signup", NULL, "bob", "pw1", &r);
	cJSON_Delete(json_of(&r, 200));
	post_creds(s, "/api/signup", NULL, "bob", "pw2", &r);
	check_error(&r, 409, "user name is taken");
	login(s, "bob", "pw1", NULL, NULL); /* the first bob is untouched */
	passed(state);
}

static void test_signup_bad_name(void **state)
{
	t_server *s = start(state, "allow_signup = yes\n");
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "-x", "pw", &r);
	check_error(&r, 400, "user name must start with a letter or digit");
	post_creds(s, "/api/signup", NULL, ".hidden", "pw", &r);
	check_error(&r, 400, "user name must start with a letter or digit");
	post_creds(s, "/api/signup", NULL, "", "pw", &r);
	check_error(&r, 400, "user name must be 1 to 32 characters");
	post_creds(s, "/api/signup", NULL, "a23456789012345678901234567890123", "pw", &r);
	check_error(&r, 400, "user name must be 1 to 32 characters");
	post_creds(s, "/api/signup", NULL, "a b", "pw", &r);
	check_error(&r, 400, "user name may contain only letters, digits, '.', '_' and '-'");
	/* 32 characters are fine */
	post_creds(s, "/api/signup", NULL, "a2345678901234567890123456789012", "pw", &r);
	cJSON_Delete(json_of(&r, 200));
	passed(state);
}

static void test_signup_empty_password(void **state)
{
	t_server *s = start(state, "allow_signup = yes\n");
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "alice", "", &r);
	check_error(&r, 400, "password must not be empty");
	post_creds(s, "/api/login", NULL, "alice", "x", &r); /* not created */
	check_error(&r, 401, "wrong user name or password");
	passed(state);
}

/* ---- bodies that are not {"user":"...","pass":"..."} ---- */

static void check_bad_bodies(const t_server *s, const char *path, const char *headers)
{
	static const char *const bodies[] = {
		"not json",
		"[\"admin\",\"pw\"]",
		"{\"user\":\"admin\"}",
		"{\"user\":\"admin\",\"pass\":5}",
		"{\"user\":7,\"pass\":\"pw\"}",
		"\"admin\"",
		"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		t_http_response r;
		req(s, "POST", path, headers, bodies[i], &r);
		char why[1024];
		int rc = t_check_error(&r, 400, CRED_ERROR, why, sizeof(why));
		t_http_free(&r);
		if (rc)
			fail_msg("POST %s with body '%s': %s", path, bodies[i], why);
	}
}

static void test_bad_json_bodies(void **state)
{
	t_server *s = start(state, "allow_signup = yes\n");
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	bearer(token, auth, sizeof(auth));
	check_bad_bodies(s, "/api/login", NULL);
	check_bad_bodies(s, "/api/signup", NULL);
	check_bad_bodies(s, "/api/users", auth);
	/* none of that counted as a failed login */
	login(s, "admin", s->password, NULL, NULL);
	passed(state);
}

/* ---- login ---- */

static void test_login_ok(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	post_creds(s, "/api/login", NULL, "admin", s->password, &r);
	t_http_response keep = r;
	keep.body = NULL;
	cJSON *j = json_of(&r, 200);
	char token[TOKEN_MAX], id[ID_MAX];
	copy_str(j, "token", token, sizeof(token));
	copy_str(j, "id", id, sizeof(id));
	const char *user = t_json_str(j, "user");
	bool user_ok = user && !strcmp(user, "admin");
	cJSON_Delete(j);
	assert_true(user_ok);
	check_cookie(&keep, token, "2592000"); /* session_ttl = 30d */

	/* each login is a new session */
	char token2[TOKEN_MAX], id2[ID_MAX];
	login(s, "admin", s->password, token2, id2);
	assert_string_not_equal(token, token2);
	assert_string_equal(id, id2);
	passed(state);
}

static void test_login_wrong_password_and_unknown_user(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response wrong, unknown;
	post_creds(s, "/api/login", NULL, "admin", "not the password", &wrong);
	post_creds(s, "/api/login", NULL, "nobody", "not the password", &unknown);
	bool same = wrong.body && unknown.body && wrong.body_len == unknown.body_len &&
		    !memcmp(wrong.body, unknown.body, wrong.body_len);
	char cookie[512];
	bool no_cookie = !t_http_header(&wrong, "set-cookie", cookie, sizeof(cookie));
	check_error(&wrong, 401, "wrong user name or password");
	check_error(&unknown, 401, "wrong user name or password");
	assert_true(same);
	assert_true(no_cookie);
	passed(state);
}

static void test_login_rate_limit(void **state)
{
	t_server *s = start(state, "login_max_failures = 3\n");
	char admin_token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, admin_token, NULL);
	create_user(s, admin_token, "bob", "bobpw");

	t_http_response r;
	for (int i = 0; i < 3; i++) {
		post_creds(s, "/api/login", NULL, "admin", "wrong", &r);
		check_error(&r, 401, "wrong user name or password");
	}
	post_creds(s, "/api/login", NULL, "admin", "wrong", &r);
	check_error(&r, 429, "too many failed logins, try again later");
	post_creds(s, "/api/login", NULL, "admin", s->password, &r);
	check_error(&r, 429, "too many failed logins, try again later");
	/* Basic is a login too */
	t_basic_header("admin", s->password, auth, sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 429, "too many failed logins, try again later");
	/* the address is limited as well: another user from it */
	post_creds(s, "/api/login", NULL, "bob", "bobpw", &r);
	check_error(&r, 429, "too many failed logins, try again later");
	/* a session already held is not a login */
	bearer(admin_token, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "admin", true, NULL);
	passed(state);
}

/* ---- credentials ---- */

static void test_me_with_bearer(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], id[ID_MAX], auth[512], me_id[ID_MAX];
	login(s, "admin", s->password, token, id);
	bearer(token, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "admin", true, me_id);
	assert_string_equal(me_id, id);
	passed(state);
}

static void test_me_with_basic(void **state)
{
	t_server *s = start(state, NULL);
	char id[ID_MAX], auth[512], me_id[ID_MAX];
	login(s, "admin", s->password, NULL, id);
	t_basic_header("admin", s->password, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "admin", true, me_id);
	assert_string_equal(me_id, id);
	passed(state);
}

static void test_me_with_cookie(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], id[ID_MAX], cookie[512], me_id[ID_MAX];
	login(s, "admin", s->password, token, id);
	cookie_header(token, cookie, sizeof(cookie));
	check_me(s, "/api/me", cookie, "admin", true, me_id);
	assert_string_equal(me_id, id);
	/* among other cookies */
	char many[1024];
	snprintf(many, sizeof(many), "Cookie: theme=dark; cubby_session=%s; lang=en\r\n", token);
	check_me(s, "/api/me", many, "admin", true, NULL);
	passed(state);
}

static void test_users_me(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], id[ID_MAX], auth[512], me_id[ID_MAX];
	login(s, "admin", s->password, token, id);
	bearer(token, auth, sizeof(auth));
	check_me(s, "/users/me", auth, "admin", true, me_id);
	assert_string_equal(me_id, id);
	passed(state);
}

static void test_me_without_credentials(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	req(s, "GET", "/api/me", NULL, NULL, &r);
	check_error(&r, 401, "authentication required");
	req(s, "GET", "/users/me", NULL, NULL, &r);
	check_error(&r, 401, "authentication required");
	passed(state);
}

static void test_me_bad_bearer(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	char auth[512];
	bearer("0000000000000000000000000000000000000000000000000000000000000000", auth,
	       sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	bearer("garbage", auth, sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	req(s, "GET", "/api/me", "Cookie: cubby_session=garbage\r\n", NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	passed(state);
}

static void test_me_bad_basic(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	char auth[512];
	t_basic_header("admin", "wrong", auth, sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "wrong user name or password");
	t_basic_header("nobody", "wrong", auth, sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "wrong user name or password");
	passed(state);
}

static void test_query_token_ignored_on_http(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], path[512];
	login(s, "admin", s->password, token, NULL);
	snprintf(path, sizeof(path), "/api/me?token=%s", token);
	t_http_response r;
	req(s, "GET", path, NULL, NULL, &r);
	check_error(&r, 401, "authentication required");
	passed(state);
}

static void test_wrong_authorization_no_cookie_fallback(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], h[1024], cookie[512];
	login(s, "admin", s->password, token, NULL);
	cookie_header(token, cookie, sizeof(cookie));
	snprintf(h, sizeof(h), "Authorization: Bearer garbage\r\n%s", cookie);
	t_http_response r;
	req(s, "GET", "/api/me", h, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	char basic[512];
	t_basic_header("admin", "wrong", basic, sizeof(basic));
	snprintf(h, sizeof(h), "%s%s", basic, cookie);
	req(s, "GET", "/api/me", h, NULL, &r);
	check_error(&r, 401, "wrong user name or password");
	passed(state);
}

/* ---- logout ---- */

static void test_logout_with_bearer(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], other[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	login(s, "admin", s->password, other, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	req(s, "POST", "/api/logout", auth, NULL, &r);
	t_http_response keep = r;
	keep.body = NULL;
	cJSON *j = json_of(&r, 200);
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
	cJSON_Delete(j);
	assert_true(ok);
	check_cookie(&keep, NULL, "0");

	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	req(s, "POST", "/api/logout", auth, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	/* only the session used ends */
	bearer(other, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "admin", true, NULL);
	passed(state);
}

static void test_logout_with_cookie(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], cookie[512];
	login(s, "admin", s->password, token, NULL);
	cookie_header(token, cookie, sizeof(cookie));
	t_http_response r;
	req(s, "POST", "/api/logout", cookie, NULL, &r);
	t_http_response keep = r;
	keep.body = NULL;
	cJSON *j = json_of(&r, 200);
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
	cJSON_Delete(j);
	assert_true(ok);
	check_cookie(&keep, NULL, "0");
	req(s, "GET", "/api/me", cookie, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	passed(state);
}

static void test_logout_without_credentials(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	req(s, "POST", "/api/logout", NULL, NULL, &r);
	check_error(&r, 401, "authentication required");
	passed(state);
}

/* ---- users, by the admin ---- */

static void test_create_user_by_admin(void **state)
{
	t_server *s = start(state, "allow_signup = no\n");
	char token[TOKEN_MAX], auth[512], id[ID_MAX], login_id[ID_MAX];
	login(s, "admin", s->password, token, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	post_creds(s, "/api/users", auth, "bob", "bob's secret", &r);
	cJSON *j = json_of(&r, 201);
	copy_str(j, "id", id, sizeof(id));
	const char *name = t_json_str(j, "name");
	bool name_ok = name && !strcmp(name, "bob");
	const cJSON *admin = cJSON_GetObjectItemCaseSensitive(j, "admin");
	bool admin_ok = cJSON_IsFalse(admin);
	cJSON_Delete(j);
	assert_true(name_ok);
	assert_true(admin_ok);

	login(s, "bob", "bob's secret", token, login_id);
	assert_string_equal(login_id, id);
	bearer(token, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "bob", false, NULL);
	/* with Basic too */
	t_basic_header("admin", s->password, auth, sizeof(auth));
	post_creds(s, "/api/users", auth, "carol", "c", &r);
	cJSON_Delete(json_of(&r, 201));
	login(s, "carol", "c", NULL, NULL);
	passed(state);
}

static void test_create_user_by_non_admin(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	create_user(s, token, "bob", "pw");
	login(s, "bob", "pw", token, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	post_creds(s, "/api/users", auth, "carol", "pw", &r);
	check_error(&r, 403, "admin only");
	post_creds(s, "/api/login", NULL, "carol", "pw", &r);
	check_error(&r, 401, "wrong user name or password");
	passed(state);
}

static void test_create_user_without_credentials(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	post_creds(s, "/api/users", NULL, "carol", "pw", &r);
	check_error(&r, 401, "authentication required");
	passed(state);
}

static void test_create_user_existing_name(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	create_user(s, token, "bob", "pw");
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	post_creds(s, "/api/users", auth, "bob", "other", &r);
	check_error(&r, 409, "user name is taken");
	post_creds(s, "/api/users", auth, "admin", "other", &r);
	check_error(&r, 409, "user name is taken");
	login(s, "bob", "pw", NULL, NULL);
	passed(state);
}

static void test_create_user_bad_name_or_password(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	post_creds(s, "/api/users", auth, "-x", "pw", &r);
	check_error(&r, 400, "user name must start with a letter or digit");
	post_creds(s, "/api/users", auth, "", "pw", &r);
	check_error(&r, 400, "user name must be 1 to 32 characters");
	post_creds(s, "/api/users", auth, "bob", "", &r);
	check_error(&r, 400, "password must not be empty");
	passed(state);
}

static void test_delete_user(void **state)
{
	t_server *s = start(state, NULL);
	char admin[TOKEN_MAX], bob[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "pw");
	login(s, "bob", "pw", bob, NULL);
	bearer(admin, auth, sizeof(auth));
	t_http_response r;
	req(s, "DELETE", "/api/users/bob", auth, NULL, &r);
	cJSON *j = json_of(&r, 200);
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
	cJSON_Delete(j);
	assert_true(ok);

	post_creds(s, "/api/login", NULL, "bob", "pw", &r);
	check_error(&r, 401, "wrong user name or password");
	bearer(bob, auth, sizeof(auth));
	req(s, "GET", "/api/me", auth, NULL, &r);
	check_error(&r, 401, "invalid or expired session");
	/* gone: a second delete finds nothing, and the name is free again */
	bearer(admin, auth, sizeof(auth));
	req(s, "DELETE", "/api/users/bob", auth, NULL, &r);
	check_error(&r, 404, "no such user: bob");
	create_user(s, admin, "bob", "new");
	login(s, "bob", "new", NULL, NULL);
	passed(state);
}

static void test_delete_unknown_user(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	req(s, "DELETE", "/api/users/carol", auth, NULL, &r);
	check_error(&r, 404, "no such user: carol");
	passed(state);
}

static void test_delete_self(void **state)
{
	t_server *s = start(state, NULL);
	char token[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, token, NULL);
	bearer(token, auth, sizeof(auth));
	t_http_response r;
	req(s, "DELETE", "/api/users/admin", auth, NULL, &r);
	check_error(&r, 400, "you cannot delete your own account");
	check_me(s, "/api/me", auth, "admin", true, NULL);
	passed(state);
}

static void test_delete_by_non_admin(void **state)
{
	t_server *s = start(state, NULL);
	char admin[TOKEN_MAX], bob[TOKEN_MAX], auth[512];
	login(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "pw");
	create_user(s, admin, "carol", "pw");
	login(s, "bob", "pw", bob, NULL);
	bearer(bob, auth, sizeof(auth));
	t_http_response r;
	req(s, "DELETE", "/api/users/carol", auth, NULL, &r);
	check_error(&r, 403, "admin only");
	req(s, "DELETE", "/api/users/carol", NULL, NULL, &r);
	check_error(&r, 401, "authentication required");
	login(s, "carol", "pw", NULL, NULL);
	passed(state);
}

/* ---- request bodies ---- */

/* A POST /api/login body of exactly `size` bytes: the admin's
 * credentials after leading blanks. */
static char *padded_login(const t_server *s, size_t size)
{
	char c[512];
	creds("admin", s->password, c, sizeof(c));
	size_t cl = strlen(c);
	char *body = (char *)malloc(size + 1);
	assert_non_null(body);
	memset(body, ' ', size - cl);
	memcpy(body + size - cl, c, cl + 1);
	return body;
}

static void test_body_too_large(void **state)
{
	t_server *s = start(state, NULL);
	t_http_response r;
	char *body = padded_login(s, 64 * 1024 + 1);
	int rc = t_http(s->http_port, "POST", "/api/login", "Content-Type: application/json\r\n", body,
			strlen(body), &r);
	free(body);
	assert_int_equal(rc, 0);
	check_error(&r, 413, "request body too large");
	/* 64 KiB itself is fine */
	body = padded_login(s, 64 * 1024);
	rc = t_http(s->http_port, "POST", "/api/login", "Content-Type: application/json\r\n", body,
		    strlen(body), &r);
	free(body);
	assert_int_equal(rc, 0);
	cJSON_Delete(json_of(&r, 200));
	passed(state);
}

static void test_chunked_body_refused(void **state)
{
	t_server *s = start(state, NULL);
	char c[512], body[700];
	creds("admin", s->password, c, sizeof(c));
	snprintf(body, sizeof(body), "%zx\r\n%s\r\n0\r\n\r\n", strlen(c), c);
	t_http_response r;
	assert_int_equal(t_http(s->http_port, "POST", "/api/login",
				"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", body,
				strlen(body), &r),
			 0);
	check_error(&r, 411, "a request body needs Content-Length");
	passed(state);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_signup_enabled),
		T(test_signup_disabled_by_default),
		T(test_signup_name_taken),
		T(test_signup_bad_name),
		T(test_signup_empty_password),
		T(test_bad_json_bodies),
		T(test_login_ok),
		T(test_login_wrong_password_and_unknown_user),
		T(test_login_rate_limit),
		T(test_me_with_bearer),
		T(test_me_with_basic),
		T(test_me_with_cookie),
		T(test_users_me),
		T(test_me_without_credentials),
		T(test_me_bad_bearer),
		T(test_me_bad_basic),
		T(test_query_token_ignored_on_http),
		T(test_wrong_authorization_no_cookie_fallback),
		T(test_logout_with_bearer),
		T(test_logout_with_cookie),
		T(test_logout_without_credentials),
		T(test_create_user_by_admin),
		T(test_create_user_by_non_admin),
		T(test_create_user_without_credentials),
		T(test_create_user_existing_name),
		T(test_create_user_bad_name_or_password),
		T(test_delete_user),
		T(test_delete_unknown_user),
		T(test_delete_self),
		T(test_delete_by_non_admin),
		T(test_body_too_large),
		T(test_chunked_body_refused),
	};
	return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
