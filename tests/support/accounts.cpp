/* accounts.cpp: sessions for the tests: log a user in over
 * POST /api/login, and create a user as the admin (POST /api/users) and
 * log it in. They fail the (cmocka) test when the server refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <string.h>

#include "support.h"

/* {"user":user,"pass":pass} posted to path with headers; the status. */
static int post_creds(const t_server *s, const char *path, const char *headers, const char *user,
		      const char *pass, cJSON **j)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", user);
	cJSON_AddStringToObject(body, "pass", pass);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	int status = t_http_post_json(s->http_port, path, headers, text, j);
	cJSON_free(text);
	return status;
}

void t_login_token(const t_server *s, const char *user, const char *pass, char *token)
{
	cJSON *j = NULL;
	int status = post_creds(s, "/api/login", NULL, user, pass, &j);
	const char *t = t_json_str(j, "token");
	if (status != 200 || !t || !*t || strlen(t) >= T_TOKEN_MAX) {
		cJSON_Delete(j);
		fail_msg("login of %s: status %d, want 200 with a token", user, status);
	}
	snprintf(token, T_TOKEN_MAX, "%s", t);
	cJSON_Delete(j);
}

void t_add_user(const t_server *s, const char *user, const char *pass, char *auth)
{
	char basic[T_AUTH_MAX], token[T_TOKEN_MAX];
	t_basic_header("admin", s->password, basic, sizeof(basic));
	int status = post_creds(s, "/api/users", basic, user, pass, NULL);
	if (status != 201)
		fail_msg("creating user %s: status %d, want 201", user, status);
	t_login_token(s, user, pass, token);
	t_bearer_header(token, auth, T_AUTH_MAX);
}
