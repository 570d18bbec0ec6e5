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

#define AUTH_MAX 512 /* an "Authorization: ...\r\n" header */
#define LIMITED "too many failed logins, try again later"

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

/* The request must answer exactly the error code/message. */
static void req_error(const t_server *s, const char *method, const char *path,
		      const char *headers, const char *body, int code, const char *message)
{
	t_http_response r;
	req(s, method, path, headers, body, &r);
	t_assert_error(&r, code, message);
}

/* POST of {"user","pass"} to path must answer exactly the error
 * code/message. */
static void creds_error(const t_server *s, const char *path, const char *headers,
			const char *user, const char *pass, int code, const char *message)
{
	t_http_response r;
	post_creds(s, path, headers, user, pass, &r);
	t_assert_error(&r, code, message);
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

/* r is 200 with {"ok":true}; frees r. */
static void check_ok(t_http_response *r)
{
	cJSON *j = json_of(r, 200);
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
	cJSON_Delete(j);
	assert_true(ok);
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

/* Logs in (200 expected) and makes the bearer header of that session
 * into auth (AUTH_MAX bytes); id out (may be NULL). */
static void login_bearer(const t_server *s, const char *user, const char *pass, char *auth,
			 char *id)
{
	char token[TOKEN_MAX];
	login(s, user, pass, token, id);
	t_bearer_header(token, auth, AUTH_MAX);
}

/* Creates user with an admin's credentials (auth): 201 expected. */
static void create_user(const t_server *s, const char *auth, const char *user, const char *pass)
{
	t_http_response r;
	post_creds(s, "/api/users", auth, user, pass, &r);
	cJSON_Delete(json_of(&r, 201));
}

/* GET path (/api/me or /users/me) with headers: 200 with name, admin
 * and a usable id, that id when want_id is not NULL. */
static void check_me(const t_server *s, const char *path, const char *headers, const char *name,
		     bool admin, const char *want_id)
{
	t_http_response r;
	req(s, "GET", path, headers, NULL, &r);
	cJSON *j = json_of(&r, 200);
	const char *n = t_json_str(j, "name");
	bool name_ok = n && !strcmp(n, name);
	bool admin_ok = cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "admin")) &&
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "admin")) == admin;
	char id[ID_MAX];
	copy_str(j, "id", id, ID_MAX);
	cJSON_Delete(j);
	assert_true(name_ok);
	assert_true(admin_ok);
	if (want_id)
		assert_string_equal(id, want_id);
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

/* r is the answer to a signup or login as user: 200 with a usable
 * "token" and "id" (out) and "user" the name, and a cookie with that
 * token and Max-Age=max_age. Frees r. */
static void check_session(t_http_response *r, const char *user, const char *max_age, char *token,
			  char *id)
{
	t_http_response head = *r; /* the headers, for after r is freed */
	head.body = NULL;
	cJSON *j = json_of(r, 200);
	copy_str(j, "token", token, TOKEN_MAX);
	copy_str(j, "id", id, ID_MAX);
	const char *u = t_json_str(j, "user");
	bool user_ok = u && !strcmp(u, user);
	cJSON_Delete(j);
	assert_true(user_ok);
	check_cookie(&head, token, max_age);
}

/* POST /api/logout with headers: 200 {"ok":true} that clears the
 * cookie (Max-Age=0). */
static void logout(const t_server *s, const char *headers)
{
	t_http_response r;
	req(s, "POST", "/api/logout", headers, NULL, &r);
	t_http_response head = r;
	head.body = NULL;
	check_ok(&r);
	check_cookie(&head, NULL, "0");
}

/* ---- signup ---- */

static void test_signup_enabled(void **state)
{
	t_server *s = t_start(state, "allow_signup = yes\nsession_ttl = 1h\n");
	t_http_response r;
	char token[TOKEN_MAX], id[ID_MAX], auth[AUTH_MAX];
	post_creds(s, "/api/signup", NULL, "alice", "wonder land", &r);
	check_session(&r, "alice", "3600", token, id);
	t_bearer_header(token, auth, sizeof(auth));
	check_me(s, "/api/me", auth, "alice", false, id);
	login(s, "alice", "wonder land", NULL, NULL);
	t_passed(state);
}

static void test_signup_disabled_by_default(void **state)
{
	t_server *s = t_start(state, NULL);
	creds_error(s, "/api/signup", NULL, "alice", "pw", 403, "signup is disabled");
	creds_error(s, "/api/login", NULL, "alice", "pw", 401, "wrong user name or password");
	t_passed(state);
}

static void test_signup_name_taken(void **state)
{
	t_server *s = t_start(state, "allow_signup = yes\n");
	creds_error(s, "/api/signup", NULL, "admin", "other", 409, "user name is taken");
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "bob", "pw1", &r);
	cJSON_Delete(json_of(&r, 200));
	creds_error(s, "/api/signup", NULL, "bob", "pw2", 409, "user name is taken");
	login(s, "bob", "pw1", NULL, NULL); /* the first bob is untouched */
	t_passed(state);
}

static void test_signup_bad_name(void **state)
{
	static const struct {
		const char *user, *message;
	} bad[] = {
		{"-x", "user name must start with a letter or digit"},
		{".hidden", "user name must start with a letter or digit"},
		{"", "user name must be 1 to 32 characters"},
		{"a23456789012345678901234567890123", "user name must be 1 to 32 characters"},
		{"a b", "user name may contain only letters, digits, '.', '_' and '-'"},
	};
	t_server *s = t_start(state, "allow_signup = yes\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		creds_error(s, "/api/signup", NULL, bad[i].user, "pw", 400, bad[i].message);
	/* 32 characters are fine */
	t_http_response r;
	post_creds(s, "/api/signup", NULL, "a2345678901234567890123456789012", "pw", &r);
	cJSON_Delete(json_of(&r, 200));
	t_passed(state);
}

static void test_signup_empty_password(void **state)
{
	t_server *s = t_start(state, "allow_signup = yes\n");
	creds_error(s, "/api/signup", NULL, "alice", "", 400, "password must not be empty");
	/* not created */
	creds_error(s, "/api/login", NULL, "alice", "x", 401, "wrong user name or password");
	t_passed(state);
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
	t_server *s = t_start(state, "allow_signup = yes\n");
	char auth[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	check_bad_bodies(s, "/api/login", NULL);
	check_bad_bodies(s, "/api/signup", NULL);
	check_bad_bodies(s, "/api/users", auth);
	/* none of that counted as a failed login */
	login(s, "admin", s->password, NULL, NULL);
	t_passed(state);
}

/* ---- login ---- */

static void test_login_ok(void **state)
{
	t_server *s = t_start(state, NULL);
	t_http_response r;
	char token[TOKEN_MAX], id[ID_MAX];
	post_creds(s, "/api/login", NULL, "admin", s->password, &r);
	check_session(&r, "admin", "2592000", token, id); /* session_ttl = 30d */

	/* each login is a new session */
	char token2[TOKEN_MAX], id2[ID_MAX];
	login(s, "admin", s->password, token2, id2);
	assert_string_not_equal(token, token2);
	assert_string_equal(id, id2);
	t_passed(state);
}

static void test_login_wrong_password_and_unknown_user(void **state)
{
	t_server *s = t_start(state, NULL);
	t_http_response wrong, unknown;
	post_creds(s, "/api/login", NULL, "admin", "not the password", &wrong);
	post_creds(s, "/api/login", NULL, "nobody", "not the password", &unknown);
	bool same = wrong.body && unknown.body && wrong.body_len == unknown.body_len &&
		    !memcmp(wrong.body, unknown.body, wrong.body_len);
	char cookie[512];
	bool no_cookie = !t_http_header(&wrong, "set-cookie", cookie, sizeof(cookie));
	t_assert_error(&wrong, 401, "wrong user name or password");
	t_assert_error(&unknown, 401, "wrong user name or password");
	assert_true(same);
	assert_true(no_cookie);
	t_passed(state);
}

static void test_login_rate_limit(void **state)
{
	t_server *s = t_start(state, "login_max_failures = 3\n");
	char admin[AUTH_MAX], basic[AUTH_MAX];
	login_bearer(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "bobpw");

	for (int i = 0; i < 3; i++)
		creds_error(s, "/api/login", NULL, "admin", "wrong", 401,
			    "wrong user name or password");
	creds_error(s, "/api/login", NULL, "admin", "wrong", 429, LIMITED);
	creds_error(s, "/api/login", NULL, "admin", s->password, 429, LIMITED);
	/* Basic is a login too */
	t_basic_header("admin", s->password, basic, sizeof(basic));
	req_error(s, "GET", "/api/me", basic, NULL, 429, LIMITED);
	/* the address is not limited yet: it may fail ten times as often */
	char bob[AUTH_MAX];
	login_bearer(s, "bob", "bobpw", bob, NULL);
	/* a session already held is not a login */
	check_me(s, "/api/me", admin, "admin", true, NULL);
	t_passed(state);
}

/* An address may fail 10 x login_max_failures times, with any names; a
 * right password from it clears its count. */
static void test_login_rate_limit_address(void **state)
{
	t_server *s = t_start(state, "login_max_failures = 2\n");
	char admin[AUTH_MAX];
	login_bearer(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "bobpw");
	for (int i = 0; i < 19; i++)
		creds_error(s, "/api/login", NULL, "nobody", "wrong", 401,
			    "wrong user name or password");
	char bob[AUTH_MAX];
	login_bearer(s, "bob", "bobpw", bob, NULL); /* clears the address's 19 */
	for (int i = 0; i < 20; i++)
		creds_error(s, "/api/login", NULL, "nobody", "wrong", 401,
			    "wrong user name or password");
	creds_error(s, "/api/login", NULL, "bob", "bobpw", 429, LIMITED);
	t_passed(state);
}

/* ---- credentials ---- */

enum via { VIA_BEARER, VIA_BASIC, VIA_COOKIE };

/* Logs the admin in, then GETs path presenting that session as a bearer
 * token or a cookie, or the password by Basic: 200 as the admin with
 * the id the login answered. token out (may be NULL). */
static void check_admin_me(const t_server *s, const char *path, via how, char *token)
{
	char t[TOKEN_MAX], id[ID_MAX], h[AUTH_MAX];
	token = token ? token : t;
	login(s, "admin", s->password, token, id);
	if (how == VIA_BEARER)
		t_bearer_header(token, h, sizeof(h));
	else if (how == VIA_BASIC)
		t_basic_header("admin", s->password, h, sizeof(h));
	else
		cookie_header(token, h, sizeof(h));
	check_me(s, path, h, "admin", true, id);
}

static void test_me_with_bearer(void **state)
{
	t_server *s = t_start(state, NULL);
	check_admin_me(s, "/api/me", VIA_BEARER, NULL);
	t_passed(state);
}

static void test_me_with_basic(void **state)
{
	t_server *s = t_start(state, NULL);
	check_admin_me(s, "/api/me", VIA_BASIC, NULL);
	t_passed(state);
}

static void test_me_with_cookie(void **state)
{
	t_server *s = t_start(state, NULL);
	char token[TOKEN_MAX];
	check_admin_me(s, "/api/me", VIA_COOKIE, token);
	/* among other cookies */
	char many[1024];
	snprintf(many, sizeof(many), "Cookie: theme=dark; cubby_session=%s; lang=en\r\n", token);
	check_me(s, "/api/me", many, "admin", true, NULL);
	t_passed(state);
}

static void test_users_me(void **state)
{
	t_server *s = t_start(state, NULL);
	check_admin_me(s, "/users/me", VIA_BEARER, NULL);
	t_passed(state);
}

static void test_me_without_credentials(void **state)
{
	t_server *s = t_start(state, NULL);
	req_error(s, "GET", "/api/me", NULL, NULL, 401, "authentication required");
	req_error(s, "GET", "/users/me", NULL, NULL, 401, "authentication required");
	t_passed(state);
}

static void test_me_bad_bearer(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	t_bearer_header("0000000000000000000000000000000000000000000000000000000000000000", auth,
			sizeof(auth));
	req_error(s, "GET", "/api/me", auth, NULL, 401, "invalid or expired session");
	t_bearer_header("garbage", auth, sizeof(auth));
	req_error(s, "GET", "/api/me", auth, NULL, 401, "invalid or expired session");
	req_error(s, "GET", "/api/me", "Cookie: cubby_session=garbage\r\n", NULL, 401,
		  "invalid or expired session");
	t_passed(state);
}

static void test_me_bad_basic(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	t_basic_header("admin", "wrong", auth, sizeof(auth));
	req_error(s, "GET", "/api/me", auth, NULL, 401, "wrong user name or password");
	t_basic_header("nobody", "wrong", auth, sizeof(auth));
	req_error(s, "GET", "/api/me", auth, NULL, 401, "wrong user name or password");
	t_passed(state);
}

static void test_query_token_ignored_on_http(void **state)
{
	t_server *s = t_start(state, NULL);
	char token[TOKEN_MAX], path[512];
	login(s, "admin", s->password, token, NULL);
	snprintf(path, sizeof(path), "/api/me?token=%s", token);
	req_error(s, "GET", path, NULL, NULL, 401, "authentication required");
	t_passed(state);
}

static void test_wrong_authorization_no_cookie_fallback(void **state)
{
	t_server *s = t_start(state, NULL);
	char token[TOKEN_MAX], h[1024], cookie[512];
	login(s, "admin", s->password, token, NULL);
	cookie_header(token, cookie, sizeof(cookie));
	snprintf(h, sizeof(h), "Authorization: Bearer garbage\r\n%s", cookie);
	req_error(s, "GET", "/api/me", h, NULL, 401, "invalid or expired session");
	char basic[AUTH_MAX];
	t_basic_header("admin", "wrong", basic, sizeof(basic));
	snprintf(h, sizeof(h), "%s%s", basic, cookie);
	req_error(s, "GET", "/api/me", h, NULL, 401, "wrong user name or password");
	t_passed(state);
}

/* ---- logout ---- */

static void test_logout_with_bearer(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX], other[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	login_bearer(s, "admin", s->password, other, NULL);
	logout(s, auth);
	req_error(s, "GET", "/api/me", auth, NULL, 401, "invalid or expired session");
	logout(s, auth); /* again: still clears the cookie */
	/* only the session used ends */
	check_me(s, "/api/me", other, "admin", true, NULL);
	t_passed(state);
}

static void test_logout_with_cookie(void **state)
{
	t_server *s = t_start(state, NULL);
	char token[TOKEN_MAX], cookie[512];
	login(s, "admin", s->password, token, NULL);
	cookie_header(token, cookie, sizeof(cookie));
	logout(s, cookie);
	req_error(s, "GET", "/api/me", cookie, NULL, 401, "invalid or expired session");
	t_passed(state);
}

/* Logging out always works and clears the cookie, also after the
 * session expired (a browser must not keep a dead cookie). */
static void test_logout_without_session(void **state)
{
	t_server *s = t_start(state, NULL);
	logout(s, NULL);
	char cookie[512];
	cookie_header("0000000000000000000000000000000000000000000000000000000000000000", cookie,
		      sizeof(cookie));
	logout(s, cookie);
	t_passed(state);
}

/* ---- users, by the admin ---- */

static void test_create_user_by_admin(void **state)
{
	t_server *s = t_start(state, "allow_signup = no\n");
	char auth[AUTH_MAX], id[ID_MAX], login_id[ID_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
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

	login_bearer(s, "bob", "bob's secret", auth, login_id);
	assert_string_equal(login_id, id);
	check_me(s, "/api/me", auth, "bob", false, id);
	/* with Basic too */
	t_basic_header("admin", s->password, auth, sizeof(auth));
	create_user(s, auth, "carol", "c");
	login(s, "carol", "c", NULL, NULL);
	t_passed(state);
}

static void test_create_user_by_non_admin(void **state)
{
	t_server *s = t_start(state, NULL);
	char admin[AUTH_MAX], bob[AUTH_MAX];
	login_bearer(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "pw");
	login_bearer(s, "bob", "pw", bob, NULL);
	creds_error(s, "/api/users", bob, "carol", "pw", 403, "admin only");
	creds_error(s, "/api/login", NULL, "carol", "pw", 401, "wrong user name or password");
	t_passed(state);
}

static void test_create_user_without_credentials(void **state)
{
	t_server *s = t_start(state, NULL);
	creds_error(s, "/api/users", NULL, "carol", "pw", 401, "authentication required");
	t_passed(state);
}

static void test_create_user_existing_name(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	create_user(s, auth, "bob", "pw");
	creds_error(s, "/api/users", auth, "bob", "other", 409, "user name is taken");
	creds_error(s, "/api/users", auth, "admin", "other", 409, "user name is taken");
	login(s, "bob", "pw", NULL, NULL);
	t_passed(state);
}

static void test_create_user_bad_name_or_password(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	creds_error(s, "/api/users", auth, "-x", "pw", 400,
		    "user name must start with a letter or digit");
	creds_error(s, "/api/users", auth, "", "pw", 400, "user name must be 1 to 32 characters");
	creds_error(s, "/api/users", auth, "bob", "", 400, "password must not be empty");
	t_passed(state);
}

static void test_delete_user(void **state)
{
	t_server *s = t_start(state, NULL);
	char admin[AUTH_MAX], bob[AUTH_MAX];
	login_bearer(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "pw");
	login_bearer(s, "bob", "pw", bob, NULL);
	t_http_response r;
	req(s, "DELETE", "/api/users/bob", admin, NULL, &r);
	check_ok(&r);

	creds_error(s, "/api/login", NULL, "bob", "pw", 401, "wrong user name or password");
	req_error(s, "GET", "/api/me", bob, NULL, 401, "invalid or expired session");
	/* gone: a second delete finds nothing, and the name is free again */
	req_error(s, "DELETE", "/api/users/bob", admin, NULL, 404, "no such user: bob");
	create_user(s, admin, "bob", "new");
	login(s, "bob", "new", NULL, NULL);
	t_passed(state);
}

static void test_delete_unknown_user(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	req_error(s, "DELETE", "/api/users/carol", auth, NULL, 404, "no such user: carol");
	t_passed(state);
}

static void test_delete_self(void **state)
{
	t_server *s = t_start(state, NULL);
	char auth[AUTH_MAX];
	login_bearer(s, "admin", s->password, auth, NULL);
	req_error(s, "DELETE", "/api/users/admin", auth, NULL, 400,
		  "you cannot delete your own account");
	check_me(s, "/api/me", auth, "admin", true, NULL);
	t_passed(state);
}

static void test_delete_by_non_admin(void **state)
{
	t_server *s = t_start(state, NULL);
	char admin[AUTH_MAX], bob[AUTH_MAX];
	login_bearer(s, "admin", s->password, admin, NULL);
	create_user(s, admin, "bob", "pw");
	create_user(s, admin, "carol", "pw");
	login_bearer(s, "bob", "pw", bob, NULL);
	req_error(s, "DELETE", "/api/users/carol", bob, NULL, 403, "admin only");
	req_error(s, "DELETE", "/api/users/carol", NULL, NULL, 401, "authentication required");
	login(s, "carol", "pw", NULL, NULL);
	t_passed(state);
}

/* ---- request bodies ---- */

/* POST /api/login with a body of exactly `size` bytes: the admin's
 * credentials after leading blanks. */
static void login_padded(const t_server *s, size_t size, t_http_response *r)
{
	char c[512];
	creds("admin", s->password, c, sizeof(c));
	size_t cl = strlen(c);
	char *body = (char *)malloc(size + 1);
	assert_non_null(body);
	memset(body, ' ', size - cl);
	memcpy(body + size - cl, c, cl + 1);
	req(s, "POST", "/api/login", NULL, body, r);
	free(body);
}

static void test_body_too_large(void **state)
{
	t_server *s = t_start(state, NULL);
	t_http_response r;
	login_padded(s, 64 * 1024 + 1, &r);
	t_assert_error(&r, 413, "request body too large");
	/* 64 KiB itself is fine */
	login_padded(s, 64 * 1024, &r);
	cJSON_Delete(json_of(&r, 200));
	t_passed(state);
}

static void test_chunked_body_refused(void **state)
{
	t_server *s = t_start(state, NULL);
	char c[512], body[700];
	creds("admin", s->password, c, sizeof(c));
	snprintf(body, sizeof(body), "%zx\r\n%s\r\n0\r\n\r\n", strlen(c), c);
	/* req() adds Content-Type: application/json */
	req_error(s, "POST", "/api/login", "Transfer-Encoding: chunked\r\n", body, 411,
		  "a request body needs Content-Length");
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_signup_enabled),
		T_TEST(test_signup_disabled_by_default),
		T_TEST(test_signup_name_taken),
		T_TEST(test_signup_bad_name),
		T_TEST(test_signup_empty_password),
		T_TEST(test_bad_json_bodies),
		T_TEST(test_login_ok),
		T_TEST(test_login_wrong_password_and_unknown_user),
		T_TEST(test_login_rate_limit),
		T_TEST(test_login_rate_limit_address),
		T_TEST(test_me_with_bearer),
		T_TEST(test_me_with_basic),
		T_TEST(test_me_with_cookie),
		T_TEST(test_users_me),
		T_TEST(test_me_without_credentials),
		T_TEST(test_me_bad_bearer),
		T_TEST(test_me_bad_basic),
		T_TEST(test_query_token_ignored_on_http),
		T_TEST(test_wrong_authorization_no_cookie_fallback),
		T_TEST(test_logout_with_bearer),
		T_TEST(test_logout_with_cookie),
		T_TEST(test_logout_without_session),
		T_TEST(test_create_user_by_admin),
		T_TEST(test_create_user_by_non_admin),
		T_TEST(test_create_user_without_credentials),
		T_TEST(test_create_user_existing_name),
		T_TEST(test_create_user_bad_name_or_password),
		T_TEST(test_delete_user),
		T_TEST(test_delete_unknown_user),
		T_TEST(test_delete_self),
		T_TEST(test_delete_by_non_admin),
		T_TEST(test_body_too_large),
		T_TEST(test_chunked_body_refused),
	};
	return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
