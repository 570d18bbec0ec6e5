/* files_api.cpp: the spec 3 REST API (/files, docs/files-api.md) as the
 * tests need it to set a scene: a user's id, one JSON request with its
 * expected status, creating a node and giving or taking a grant. They
 * fail the (cmocka) test when the server answers otherwise. */
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

void t_user_id(const t_server *s, const char *auth, char *id)
{
	cJSON *me = t_api(s, "GET", "/api/me", auth, NULL, 200);
	const char *v = t_json_str(me, "id");
	if (!v || !*v || strlen(v) >= T_ID_MAX) {
		cJSON_Delete(me);
		fail_msg("GET /api/me: want an \"id\" string");
	}
	snprintf(id, T_ID_MAX, "%s", v);
	cJSON_Delete(me);
}

cJSON *t_api(const t_server *s, const char *method, const char *path, const char *auth,
	     const char *json, int want)
{
	char headers[T_AUTH_MAX + 64];
	snprintf(headers, sizeof(headers), "%s%s", json ? "Content-Type: application/json\r\n" : "",
		 auth ? auth : "");
	t_http_response r;
	if (t_http(s->http_port, method, path, headers, json, json ? strlen(json) : 0, &r))
		fail_msg("%s %s: no answer", method, path);
	if (r.status != want) {
		fprintf(stderr, "%s %s %.300s\n  answered %d %.600s\n", method, path, json ? json : "",
			r.status, r.body);
		t_http_free(&r);
		fail_msg("%s %s: status %d, want %d", method, path, r.status, want);
	}
	cJSON *j = r.body_len ? t_http_json(&r) : NULL;
	if (r.body_len && !j) {
		fprintf(stderr, "%s %s answered %.600s\n", method, path, r.body);
		t_http_free(&r);
		fail_msg("%s %s: the answer is not JSON", method, path);
	}
	t_http_free(&r);
	return j;
}

void t_file_create(const t_server *s, const char *auth, const char *json, char *key)
{
	cJSON *f = t_api(s, "POST", "/files", auth, json, 201);
	const char *id = t_json_str(f, "id");
	if (!id || !*id || strlen(id) >= T_ID_MAX) {
		cJSON_Delete(f);
		fail_msg("POST /files %s: want a file with an \"id\"", json);
	}
	snprintf(key, T_ID_MAX, "%s", id);
	cJSON_Delete(f);
}

void t_file_grant(const t_server *s, const char *auth, const char *key, const char *user_id,
		  const char *role)
{
	cJSON *op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", role ? "add" : "remove");
	bool anyone = !strcmp(user_id, "anyone");
	cJSON_AddStringToObject(op, "type", anyone ? "anyone" : "user");
	if (!anyone)
		cJSON_AddStringToObject(op, "id", user_id);
	if (role)
		cJSON_AddStringToObject(op, "value", role);
	cJSON *ops = cJSON_CreateArray();
	cJSON_AddItemToArray(ops, op);
	char *body = cJSON_PrintUnformatted(ops);
	cJSON_Delete(ops);
	char path[T_ID_MAX + 32];
	snprintf(path, sizeof(path), "/files/%s/users", key);
	cJSON_Delete(t_api(s, "PATCH", path, auth, body, 200));
	cJSON_free(body);
}
