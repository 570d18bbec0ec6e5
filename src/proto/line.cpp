/* line.cpp: protocol 4 on raw TCP (shared/spec/4, DESIGN §7,
 * docs/line-protocol.md): splits the byte stream into lines, checks the
 * version, logs the client in (or signs it up), and hands each command
 * to line_files.cpp. Lines are taken one at a time and only while the
 * client takes the answers: when they pile up, reading stops until they
 * are out, so a client cannot grow the server's memory by sending
 * requests without reading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/line.h"
#include "cubby/log.h"
#include "cubby/paths.h"
#include "line_internal.h"

#define LINE_VERSION_STR "0.2"
#define PUTDATA_EXTRA (16 << 10) /* a putdata line's fields besides data */
#define LINE_KEEP 4096           /* an input buffer up to this size is kept */

static line_conn *state_of(cb_conn *c)
{
	return (line_conn *)conn_state(c);
}

/* ---- answers ---- */

int line_send(cb_conn *c, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	size_t n = s ? strlen(s) : 0;
	char *line = s ? (char *)realloc(s, n + 1) : NULL; /* room for '\n' */
	if (!line) {
		free(s);
		log_error("line: out of memory for an answer");
		return -1;
	}
	line[n] = '\n';
	int r = conn_send(c, line, n + 1, false);
	free(line);
	return r;
}

void line_finish(cb_conn *c)
{
	state_of(c)->closing = true;
	conn_close(c, 0, NULL);
}

/* The error that ends the connection, in the form of its phase. */
static int fail(cb_conn *c, const char *error)
{
	line_conn *l = state_of(c);
	cJSON *j = cJSON_CreateObject();
	if (l->phase == line_conn::LINE_VERSION) {
		cJSON_AddStringToObject(j, "version", LINE_VERSION_STR);
		cJSON_AddBoolToObject(j, "accept", false);
	} else {
		cJSON_AddBoolToObject(j, "accept", false);
		if (l->phase == line_conn::LINE_READY)
			cJSON_AddBoolToObject(j, "cancel", true);
		cJSON_AddStringToObject(j, "error", error);
	}
	int r = line_send(c, j);
	line_finish(c);
	return r;
}

/* A command refused, the connection staying open. */
static int refuse_command(cb_conn *c, const char *command, const char *error)
{
	cJSON *j = cJSON_CreateObject();
	if (command)
		cJSON_AddStringToObject(j, "command", command);
	cJSON_AddBoolToObject(j, "accept", false);
	cJSON_AddBoolToObject(j, "cancel", true);
	cJSON_AddStringToObject(j, "error", error);
	return line_send(c, j);
}

/* ---- version and login ---- */

static int on_version(cb_conn *c, const cJSON *j)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, LINE_VERSION_STR))
		return fail(c, NULL);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "version", LINE_VERSION_STR);
	cJSON_AddBoolToObject(a, "accept", true);
	state_of(c)->phase = line_conn::LINE_LOGIN;
	return line_send(c, a);
}

/* The new account a signup asks for, like POST /api/signup. NULL, or
 * the error for the client. */
static const char *sign_up(cb_conn *c, const char *name, const char *pass, cb_user *u)
{
	if (!conn_config(c)->allow_signup)
		return "signup is disabled";
	const char *why = auth_check_name(name);
	if (!why)
		why = auth_check_password(pass);
	if (why)
		return why;
	cb_status s = auth_user_create(conn_store(c), name, pass, false, u);
	if (s == CB_ERR_EXISTS)
		return "user name is taken";
	if (s)
		return cb_status_str(s);
	log_info("signup (line protocol): %s", u->name);
	return NULL;
}

static int on_login(cb_conn *c, const cJSON *j)
{
	line_conn *l = state_of(c);
	const cJSON *login = cJSON_GetObjectItemCaseSensitive(j, "login");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user");
	const cJSON *pass = cJSON_GetObjectItemCaseSensitive(j, "pass");
	const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(j, "cancel");
	if (cJSON_IsTrue(cancel)) { /* the document shows no answer */
		line_finish(c);
		return 0;
	}
	if (!cJSON_IsBool(login) || !cJSON_IsString(user) || !cJSON_IsString(pass) ||
	    !cJSON_IsBool(cancel))
		return fail(c, "expected {\"login\":bool,\"user\":string,\"pass\":string,\"cancel\":bool}");
	const char *error = NULL;
	if (cJSON_IsTrue(login)) {
		cb_status s = auth_verify(conn_store(c), user->valuestring, pass->valuestring,
					  conn_addr(c), cb_now_ms(), &l->user);
		error = s == CB_OK ? NULL : cb_status_str(s); /* the texts of /api/login */
	} else {
		error = sign_up(c, user->valuestring, pass->valuestring, &l->user);
	}
	if (error)
		return fail(c, error);
	l->phase = line_conn::LINE_READY;
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "accept", true);
	cJSON_AddStringToObject(a, "error", "");
	return line_send(c, a);
}

/* ---- commands ---- */

static int on_close_command(cb_conn *c, const cJSON *)
{
	line_files_end(state_of(c));
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "close");
	cJSON_AddStringToObject(a, "response", "bye");
	int r = line_send(c, a);
	line_finish(c);
	return r;
}

static const struct {
	const char *name;
	int (*run)(cb_conn *c, const cJSON *j);
} commands[] = {
	{"status", line_status},   {"list", line_list}, {"listdata", line_listdata},
	{"put", line_put},         {"putdata", line_putdata},
	{"get", line_get},         {"getdata", line_getdata},
	{"close", on_close_command},
};

static int on_command(cb_conn *c, const cJSON *j)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(j, "command");
	if (!cJSON_IsString(cmd))
		return refuse_command(c, NULL, "expected {\"command\":string,...}");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd->valuestring))
			return commands[i].run(c, j);
	char error[64 + LINE_FILE_MAX];
	snprintf(error, sizeof(error), "unknown command: %.*s",
		 (int)utf8_prefix(cmd->valuestring, LINE_FILE_MAX), cmd->valuestring);
	return refuse_command(c, cmd->valuestring, error);
}

static int on_line(cb_conn *c, const char *line, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return fail(c, "expected a JSON object");
	}
	line_conn *l = state_of(c);
	int r = l->phase == line_conn::LINE_VERSION ? on_version(c, j)
		: l->phase == line_conn::LINE_LOGIN ? on_login(c, j)
						    : on_command(c, j);
	cJSON_Delete(j);
	return r;
}

/* ---- framing ---- */

/* The longest line: max_message_size, but always room for a full chunk. */
static size_t line_max(const cb_config *cfg)
{
	size_t putdata = (cfg->line_chunk + 2) / 3 * 4 + PUTDATA_EXTRA;
	return cfg->max_message_size > putdata ? cfg->max_message_size : putdata;
}

/* A bound on the longest answer to a well-formed command: a getdata of a
 * full chunk, or a listdata of LIST_CHUNK names, each escaped at worst to twice
 * its bytes. */
static size_t answer_max(const cb_config *cfg)
{
	size_t name = 2 * LINE_FILE_MAX + 3;
	size_t getdata = (cfg->line_chunk + 2) / 3 * 4 + name + 256;
	size_t listdata = LIST_CHUNK * name + 256;
	return getdata > listdata ? getdata : listdata;
}

static int too_long(cb_conn *c, size_t max)
{
	char error[64];
	snprintf(error, sizeof(error), "line too long: the limit is %zu bytes", max);
	return fail(c, error);
}

/* Handles the complete lines in the input while the client takes the
 * answers; stops reading while they pile up. */
static int take_lines(cb_conn *c)
{
	line_conn *l = state_of(c);
	const cb_config *cfg = conn_config(c);
	size_t max = line_max(cfg), start = 0, answer = answer_max(cfg);
	int r = 0;
	while (!l->closing && !r) {
		char *nl = (char *)memchr(l->in + l->scanned, '\n', l->len - l->scanned);
		if (!nl) {
			l->scanned = l->len;
			break;
		}
		/* the next answer must fit behind what is queued */
		size_t queued = conn_queued(c);
		if (queued && queued + answer > cfg->send_queue_max) {
			l->paused = true;
			conn_pause_input(c, true);
			conn_want_writable(c);
			break;
		}
		char *line = l->in + start;
		size_t n = (size_t)(nl - line);
		start += n + 1;
		l->scanned = start;
		if (n > max)
			return too_long(c, max);
		if (n && line[n - 1] == '\r')
			n--;
		if (n)
			r = on_line(c, line, n);
	}
	/* what is left starts a line; keep it at the front */
	memmove(l->in, l->in + start, l->len - start);
	l->len -= start;
	l->scanned -= start;
	if (!r && !l->closing && l->scanned > max)
		return too_long(c, max);
	if (l->paused && !l->closing && l->scanned == l->len) {
		l->paused = false;
		conn_pause_input(c, false);
	}
	if (!l->len && l->cap > LINE_KEEP) {
		free(l->in);
		l->in = NULL;
		l->cap = 0;
	}
	return r;
}

static int line_open(cb_conn *c)
{
	state_of(c)->fd = -1;
	return 0;
}

static int line_receive(cb_conn *c, const void *data, size_t len, unsigned)
{
	line_conn *l = state_of(c);
	if (l->closing)
		return 0;
	if (l->len + len > l->cap) {
		size_t cap = l->cap ? l->cap : 1024;
		while (cap < l->len + len)
			cap *= 2;
		char *in = (char *)realloc(l->in, cap);
		if (!in) {
			log_error("line: out of memory for %zu bytes of input", cap);
			return -1;
		}
		l->in = in;
		l->cap = cap;
	}
	memcpy(l->in + l->len, data, len);
	l->len += len;
	return l->paused ? 0 : take_lines(c);
}

static int line_writable(cb_conn *c)
{
	return take_lines(c);
}

static void line_close(cb_conn *c)
{
	line_conn *l = state_of(c);
	line_files_end(l);
	free(l->in);
}

const cb_endpoint line_endpoints[] = {
	{CB_RAW, 0, NULL, 0, sizeof(line_conn), NULL, line_open, line_receive, line_close,
	 line_writable, NULL, NULL},
	{},
};
