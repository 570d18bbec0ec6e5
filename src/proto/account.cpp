/* account.cpp: accounts and sessions as JSON over HTTP (docs/accounts.md):
 * signup when allow_signup is on, login with a session token in the
 * answer and in a cookie, logout, who am I, and the admin's user
 * management. Core's auth module does the work; this file owns the
 * wire form. */
#include <stdio.h>
#include <string.h>
#include "cubby/account.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/log.h"

#define COOKIE_NAME "cubby_session"

/* {"user": "...", "pass": "..."} */
struct credentials {
	cJSON *json;
	const char *user, *pass;
};

/* Parses the body; on failure answers 400 and returns false. */
static bool read_credentials(cb_conn *c, credentials *cr)
{
	size_t len;
	const char *body = conn_body(c, &len);
	cr->json = cJSON_ParseWithLength(body, len);
	cJSON *u = cJSON_GetObjectItemCaseSensitive(cr->json, "user");
	cJSON *p = cJSON_GetObjectItemCaseSensitive(cr->json, "pass");
	if (!cJSON_IsObject(cr->json) || !cJSON_IsString(u) || !cJSON_IsString(p)) {
		cJSON_Delete(cr->json);
		cr->json = NULL;
		http_error(c, 400, "invalid JSON body: expected {\"user\":\"...\",\"pass\":\"...\"}");
		return false;
	}
	cr->user = u->valuestring;
	cr->pass = p->valuestring;
	return true;
}

static int internal_error(cb_conn *c, const char *what, cb_status s)
{
	log_error("%s: %s", what, cb_status_str(s));
	return http_error(c, 500, "internal error: %s", cb_status_str(s));
}

static void set_cookie_header(cb_conn *c, const char *token, int64_t max_age, char *out,
			      size_t n)
{
	snprintf(out, n, COOKIE_NAME "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
		 token, (long long)max_age, conn_config(c)->tls_cert[0] ? "; Secure" : "");
}

/* A new session for u: {"token","user","id"} and the cookie. */
static int answer_session(cb_conn *c, const cb_user *u)
{
	const cb_config *cfg = conn_config(c);
	char token[CB_TOKEN_LEN + 1], cookie[256];
	cb_status s = auth_session_create(conn_store(c), u, cb_now_ms(), token);
	if (s)
		return internal_error(c, "session", s);
	set_cookie_header(c, token, cfg->session_ttl, cookie, sizeof(cookie));
	const cb_header h[] = {{"set-cookie:", cookie}, {NULL, NULL}};
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "token", token);
	cJSON_AddStringToObject(j, "user", u->name);
	cJSON_AddStringToObject(j, "id", u->id);
	int r = http_reply_json(c, 200, j, h);
	cJSON_Delete(j);
	return r;
}

/* Creates the (non-admin) account the body asks for; answers the error
 * itself and returns false when it cannot. */
static bool create_user(cb_conn *c, cb_user *out)
{
	credentials cr;
	if (!read_credentials(c, &cr))
		return false;
	const char *why = auth_check_name(cr.user);
	if (!why)
		why = auth_check_password(cr.pass);
	cb_status s = why ? CB_ERR_INVAL
			  : auth_user_create(conn_store(c), cr.user, cr.pass, false, out);
	cJSON_Delete(cr.json);
	if (why)
		http_error(c, 400, "%s", why);
	else if (s == CB_ERR_EXISTS)
		http_error(c, 409, "user name is taken");
	else if (s)
		internal_error(c, "create user", s);
	return s == CB_OK;
}

static int on_signup(cb_conn *c)
{
	if (!conn_config(c)->allow_signup)
		return http_error(c, 403, "signup is disabled");
	cb_user u;
	if (!create_user(c, &u))
		return 0;
	log_info("signup: %s", u.name);
	return answer_session(c, &u);
}

static int on_login(cb_conn *c)
{
	credentials cr;
	if (!read_credentials(c, &cr))
		return 0;
	cb_user u;
	cb_status s = auth_verify(conn_store(c), cr.user, cr.pass, conn_addr(c), cb_now_ms(), &u);
	cJSON_Delete(cr.json);
	if (s == CB_ERR_AUTH)
		return http_error(c, 401, "wrong user name or password");
	if (s == CB_ERR_RATE)
		return http_error(c, 429, "too many failed logins, try again later");
	if (s)
		return internal_error(c, "login", s);
	return answer_session(c, &u);
}

/* 200 {"ok":true} */
static int answer_ok(cb_conn *c, const cb_header *extra)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", true);
	int r = http_reply_json(c, 200, j, extra);
	cJSON_Delete(j);
	return r;
}

/* {"id","name","admin"} */
static int answer_user(cb_conn *c, int status, const cb_user *u)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", u->id);
	cJSON_AddStringToObject(j, "name", u->name);
	cJSON_AddBoolToObject(j, "admin", u->admin);
	int r = http_reply_json(c, status, j, NULL);
	cJSON_Delete(j);
	return r;
}

/* Idempotent: ends the session presented, if any is live, and always
 * clears the cookie, so a browser does not keep a dead one. */
static int on_logout(cb_conn *c)
{
	const char *token = conn_token(c);
	if (token)
		auth_session_delete(conn_store(c), token);
	char cookie[256];
	set_cookie_header(c, "", 0, cookie, sizeof(cookie));
	const cb_header h[] = {{"set-cookie:", cookie}, {NULL, NULL}};
	return answer_ok(c, h);
}

static int on_me(cb_conn *c)
{
	return answer_user(c, 200, conn_user(c));
}

static int on_user_create(cb_conn *c)
{
	if (!conn_user(c)->admin)
		return http_error(c, 403, "admin only");
	cb_user u;
	if (!create_user(c, &u))
		return 0;
	log_info("user %s created by %s", u.name, conn_user(c)->name);
	return answer_user(c, 201, &u);
}

static int on_user_delete(cb_conn *c)
{
	const cb_user *me = conn_user(c);
	const char *name = conn_path_rest(c);
	if (!me->admin)
		return http_error(c, 403, "admin only");
	if (!strcmp(name, me->name))
		return http_error(c, 400, "you cannot delete your own account");
	cb_status s = auth_user_delete(conn_store(c), name);
	if (s == CB_ERR_NOTFOUND)
		return http_error(c, 404, "no such user: %s", name);
	if (s)
		return internal_error(c, "delete user", s);
	log_info("user %s deleted by %s", name, me->name);
	return answer_ok(c, NULL);
}

const cb_endpoint account_endpoints[] = {
	CB_HTTP_ROUTE(CB_POST, "/api/signup", 0, on_signup),
	CB_HTTP_ROUTE(CB_POST, "/api/login", 0, on_login),
	CB_HTTP_ROUTE(CB_POST, "/api/logout", 0, on_logout),
	CB_HTTP_ROUTE(CB_GET, "/api/me", CB_NEED_USER, on_me),
	CB_HTTP_ROUTE(CB_GET, "/users/me", CB_NEED_USER, on_me),
	CB_HTTP_ROUTE(CB_POST, "/api/users", CB_NEED_USER, on_user_create),
	CB_HTTP_ROUTE(CB_DELETE, "/api/users/*", CB_NEED_USER, on_user_delete),
	{},
};
