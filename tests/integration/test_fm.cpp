/* test_fm.cpp: protocol 5, the HTTP file manager, against the real
 * cubbyd ($CUBBYD, else build/cubbyd), written from
 * shared/spec/5-http-file-manager.md and DESIGN §7 "Spec 5": POST /fm
 * (multipart and urlencoded forms, answers in acp, HTTP 200) and the file
 * URLs /u/<user>/<path>.
 *
 * add whole and in chunks (answer member by member, tags three ways, the
 * filename field over the part's own, names a URL must escape), a
 * chunked upload interrupted on a raw socket and resumed from
 * get_partial_size (by filename and by url), a whole one interrupted,
 * the chunk errors, the order of fields and file; delete (also the
 * fileEditor form and an urlencoded body), update (rename, move, retag,
 * privacy; new content whole or in chunks, as a spec 3 revision),
 * keep_original and ?o=1; who may GET a public and a private file (also
 * a spec 3 reader grant); Range, ETag, HEAD and the ?m=1 panda headers;
 * every error a client can provoke, with its exact text; profiles
 * (limits, extensions, types by content, overrides, overwrite, virtual
 * staging with commit and reset); Content-Length over max_upload_size
 * (413 before the body), a chunked body (411), Expect: 100-continue; an
 * add seen on spec 3's /files events and in spec 4's list. Every test
 * starts its own server. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "support/support.h"

#define KIB 1024u
#define PASS "secret pass"
#define URL_MAX 512
#define RAW_MAX (64u * KIB) /* the most a raw-socket answer may be here */

#define NOT_FOUND "file not found" /* a GET of a URL nobody may read */
#define NO_SESSION "no session: log in first"

/* The first bytes of a PNG: enough for the server to see one. */
static const unsigned char PNG_HEAD[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
					 0, 0, 0, 13, 'I', 'H', 'D', 'R'};

/* ---- users ---- */

struct user {
	const char *name;
	char auth[T_AUTH_MAX]; /* "Authorization: Bearer ...\r\n" */
	char id[T_ID_MAX];
};

static void add_user(const t_server *s, user *u, const char *name)
{
	u->name = name;
	t_add_user(s, name, PASS, u->auth);
	t_user_id(s, u->auth, u->id);
}

/* ---- JSON ---- */

/* ---- POST /fm ---- */

/* A form (multipart, or urlencoded when asked) of action (NULL: none)
 * and then the NULL-terminated name, value pairs. */
static void vform(t_form *f, bool urlencoded, const char *action, va_list ap)
{
	t_form_init(f, urlencoded);
	if (action)
		t_form_field(f, "action", action);
	t_form_vfields(f, ap);
}

static void form(t_form *f, const char *action, ...)
{
	va_list ap;
	va_start(ap, action);
	vform(f, false, action, ap);
	va_end(ap);
}

static void urlform(t_form *f, const char *action, ...)
{
	va_list ap;
	va_start(ap, action);
	vform(f, true, action, ap);
	va_end(ap);
}

/* POSTs f to /fm as auth (NULL: no credentials) and frees it. */
static void fm_post(const t_server *s, const char *auth, t_form *f, t_http_response *r)
{
	if (t_form_post(s->http_port, "/fm", auth, f, r))
		fail_msg("POST /fm: no complete answer");
	t_form_free(f);
}

/* An acp success: the answer (caller deletes). Frees f. */
static cJSON *fm_ok(const t_server *s, const char *auth, t_form *f, const char *what)
{
	t_http_response r;
	fm_post(s, auth, f, &r);
	char why[1000];
	cJSON *j = t_acp_parse(&r, 200, why, sizeof(why));
	t_http_free(&r);
	if (!j)
		fail_msg("%s: %s", what, why);
	if (strcmp(t_json_str(j, "type"), "success")) {
		fprintf(stderr, "%s: answered %s\n", what, t_json_str(j, "error"));
		cJSON_Delete(j);
		fail_msg("%s: want an acp success", what);
	}
	return j;
}

/* Exactly {"type":"success"}. */
static void fm_plain_ok(const t_server *s, const char *auth, t_form *f, const char *what)
{
	cJSON *j = fm_ok(s, auth, f, what);
	t_assert_json_text(j, "{\"type\":\"success\"}", what);
	cJSON_Delete(j);
}

/* Exactly the acp error `error` with HTTP status (prefix: an error text
 * that starts with it). Frees f. */
static void fm_error_as(const t_server *s, const char *auth, t_form *f, int status,
			const char *error, bool prefix)
{
	t_http_response r;
	fm_post(s, auth, f, &r);
	char why[1200];
	int rc = t_check_acp_error(&r, status, error, prefix, why, sizeof(why));
	t_http_free(&r);
	if (rc)
		fail_msg("POST /fm: %s", why);
}

static void fm_error(const t_server *s, const char *auth, t_form *f, const char *error)
{
	fm_error_as(s, auth, f, 200, error, false);
}

/* An add of profile config (NULL: no configId), whole, with the fields
 * of the NULL-terminated pairs after data; data goes as the file part
 * named part (its filename) last, after every field, as the server
 * wants them. */
static void vadd_form(t_form *f, const char *config, const char *part, const void *data,
		      size_t len, va_list ap)
{
	t_form_init(f, false);
	t_form_field(f, "action", "add");
	if (config)
		t_form_field(f, "configId", config);
	t_form_field(f, "useChunks", "0");
	t_form_vfields(f, ap);
	t_form_file(f, "file", part, NULL, data, len);
}

static void add_form(t_form *f, const char *config, const char *part, const void *data,
		     size_t len, ...)
{
	va_list ap;
	va_start(ap, len);
	vadd_form(f, config, part, data, len, ap);
	va_end(ap);
}

/* The add of add_form(), answered success (caller deletes). */
static cJSON *add_ok(const t_server *s, const user *u, const char *config, const char *part,
		     const void *data, size_t len, ...)
{
	t_form f;
	va_list ap;
	va_start(ap, len);
	vadd_form(&f, config, part, data, len, ap);
	va_end(ap);
	char what[300];
	snprintf(what, sizeof(what), "add of %s as %s", part, u->name);
	return fm_ok(s, u->auth, &f, what);
}

/* The add of add_form(), answered the acp error `error`. */
static void add_error(const t_server *s, const user *u, const char *config, const char *part,
		      const void *data, size_t len, const char *error, ...)
{
	t_form f;
	va_list ap;
	va_start(ap, error);
	vadd_form(&f, config, part, data, len, ap);
	va_end(ap);
	fm_error(s, u->auth, &f, error);
}

/* One chunk, data[start, start + len) with start, end and last_chunk, of
 * `name`: a filename (the default profile's add) or a /u/ URL (an update
 * of that file's content). */
static void chunk_form(t_form *f, const char *name, const unsigned char *data, size_t start,
		       size_t len, bool last)
{
	char a[24], b[24];
	snprintf(a, sizeof(a), "%zu", start);
	snprintf(b, sizeof(b), "%zu", start + len);
	if (!strncmp(name, "/u/", 3))
		form(f, "update", "url", name, NULL);
	else
		form(f, "add", "configId", "default", "filename", name, NULL);
	t_form_fields(f, "useChunks", "1", "start", a, "end", b, "last_chunk", last ? "1" : "0",
		      NULL);
	t_form_file(f, "file", "blob", NULL, data + start, len);
}

/* A chunk that is not the last: exactly {"type":"success",
 * "is_fully_uploaded":0}. */
static void chunk_ok(const t_server *s, const user *u, const char *name, const unsigned char *data,
		     size_t start, size_t len)
{
	t_form f;
	chunk_form(&f, name, data, start, len, false);
	char what[200];
	snprintf(what, sizeof(what), "chunk %zu-%zu of %s", start, start + len, name);
	cJSON *j = fm_ok(s, u->auth, &f, what);
	t_assert_json_text(j, "{\"type\":\"success\",\"is_fully_uploaded\":0}", what);
	cJSON_Delete(j);
}

/* The last chunk: the full answer (caller deletes). */
static cJSON *last_chunk_ok(const t_server *s, const user *u, const char *name,
			    const unsigned char *data, size_t start, size_t len)
{
	t_form f;
	chunk_form(&f, name, data, start, len, true);
	return fm_ok(s, u->auth, &f, "the last chunk");
}

static void chunk_error(const t_server *s, const user *u, const char *name,
			const unsigned char *data, size_t start, size_t len, const char *error)
{
	t_form f;
	chunk_form(&f, name, data, start, len, false);
	fm_error(s, u->auth, &f, error);
}

/* get_partial_size by field (filename or url) = value: the size. */
static double partial_size(const t_server *s, const user *u, const char *field, const char *value)
{
	t_form f;
	form(&f, "get_partial_size", field, value, NULL);
	cJSON *j = fm_ok(s, u->auth, &f, "get_partial_size");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
	if (cJSON_GetArraySize(j) != 2 || !cJSON_IsNumber(size)) {
		cJSON_Delete(j);
		fail_msg("get_partial_size %s=%s: want exactly {\"type\":\"success\",\"size\":N}",
			 field, value);
	}
	double v = size->valuedouble;
	cJSON_Delete(j);
	return v;
}

static void partial_error(const t_server *s, const user *u, const char *field, const char *value,
			  const char *error)
{
	t_form f;
	form(&f, "get_partial_size", field, value, NULL);
	fm_error(s, u->auth, &f, error);
}

/* delete of url: exactly {"type":"success"}. */
static void delete_ok(const t_server *s, const user *u, const char *url)
{
	t_form f;
	form(&f, "delete", "url", url, NULL);
	fm_plain_ok(s, u->auth, &f, "delete");
}

/* ---- answers ---- */

/* "/u/<user>/<dir>/<name>" ("/u/<user>/<name>" when dir is "") into buf
 * (URL_MAX bytes); names here need no percent-encoding. */
static const char *url_of(const char *user_name, const char *dir, const char *name, char *buf)
{
	snprintf(buf, URL_MAX, "/u/%s/%s%s%s", user_name, dir, *dir ? "/" : "", name);
	return buf;
}

/* j is exactly the success answer of a stored file dir/name of u: tags
 * the JSON array text, and original_url when original. */
static void expect_stored(const cJSON *j, const user *u, const char *dir, const char *name,
			  const char *tags, int is_private, bool original, const char *what)
{
	char url[URL_MAX], orig[URL_MAX + 40] = "", want[4 * URL_MAX];
	url_of(u->name, dir, name, url);
	if (original)
		snprintf(orig, sizeof(orig), ",\"original_url\":\"%s?o=1\"", url);
	snprintf(want, sizeof(want),
		 "{\"type\":\"success\",\"is_fully_uploaded\":1,\"url\":\"%s\",\"filename\":\"%s\","
		 "\"name\":\"%s\",\"directory\":\"%s\",\"tags\":%s,\"is_private\":%d%s}",
		 url, name, name, dir, tags, is_private, orig);
	t_assert_json_text(j, want, what);
}

/* The success answer of a stored file: its url member into url. */
static void url_in(const cJSON *j, char *url)
{
	const char *v = t_json_str(j, "url");
	if (!v || strlen(v) >= URL_MAX)
		fail_msg("an answer without a url");
	snprintf(url, URL_MAX, "%s", v);
}

/* ---- GET /u/... ---- */

/* GET url as auth (NULL: anonymous) with extra header lines (may be
 * NULL). */
static void get(const t_server *s, const char *auth, const char *url, const char *headers,
		t_http_response *r)
{
	char h[T_AUTH_MAX + 512];
	snprintf(h, sizeof(h), "%s%s", auth ? auth : "", headers ? headers : "");
	if (t_http(s->http_port, "GET", url, h, NULL, 0, r))
		fail_msg("GET %s: no complete answer", url);
}

static void expect_no_header(const t_http_response *r, const char *name, const char *what)
{
	char v[1024];
	if (t_http_header(r, name, v, sizeof(v)))
		fail_msg("%s: a %s header (%s), want none", what, name, v);
}

/* GET url as auth (NULL: anonymous) answers 200 with exactly data, and
 * Content-Type type when it is not NULL. */
static void expect_content(const t_server *s, const char *auth, const char *url,
			   const void *data, size_t len, const char *type)
{
	t_http_response r;
	get(s, auth, url, NULL, &r);
	if (r.status != 200 || r.body_len != len || memcmp(r.body, data, len)) {
		int status = r.status;
		size_t got = r.body_len;
		t_http_free(&r);
		fail_msg("GET %s: %d with %zu bytes, want 200 with the %zu bytes stored", url,
			 status, got, len);
	}
	if (type)
		t_assert_header(&r, "content-type", type, url);
	t_http_free(&r);
}

/* GET url as auth answers 404 (a private file looks like no file). */
static void expect_missing(const t_server *s, const char *auth, const char *url)
{
	t_http_response r;
	get(s, auth, url, NULL, &r);
	t_assert_error(&r, 404, NOT_FOUND);
}

/* ---- spec 3: the node behind a URL ---- */

/* The key of u's live node dir/name, from GET /files?parent=dir. */
static void node_key(const t_server *s, const user *u, const char *dir, const char *name,
		     char *key)
{
	char p[URL_MAX];
	snprintf(p, sizeof(p), "/files?parent=%s", dir);
	cJSON *j = t_api(s, "GET", p, u->auth, NULL, 200), *it;
	key[0] = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
	{
		const char *n = t_json_str(it, "name"), *id = t_json_str(it, "id");
		if (n && id && !strcmp(n, name) && strlen(id) < T_ID_MAX)
			snprintf(key, T_ID_MAX, "%s", id);
	}
	cJSON_Delete(j);
	if (!key[0])
		fail_msg("GET %s: no node named %s", p, name);
}

/* How many of u's live nodes in dir are named name. */
static int nodes_named(const t_server *s, const user *u, const char *dir, const char *name)
{
	char p[URL_MAX];
	snprintf(p, sizeof(p), "/files?parent=%s", dir);
	cJSON *j = t_api(s, "GET", p, u->auth, NULL, 200), *it;
	int n = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
	{
		const char *nm = t_json_str(it, "name");
		n += nm && !strcmp(nm, name);
	}
	cJSON_Delete(j);
	return n;
}

/* Spec 3's GET /files/<key> as u: the node is parent/name with tags
 * (JSON array text). */
static void expect_node(const t_server *s, const user *u, const char *key, const char *parent,
			const char *name, const char *tags, const char *what)
{
	char p[URL_MAX];
	snprintf(p, sizeof(p), "/files/%s", key);
	cJSON *node = t_api(s, "GET", p, u->auth, NULL, 200);
	const char *n = t_json_str(node, "name"), *pa = t_json_str(node, "parent");
	if (!n || !pa || strcmp(n, name) || strcmp(pa, parent))
		fail_msg("%s: GET %s is not %s/%s", what, p, parent, name);
	t_assert_json_text(cJSON_GetObjectItemCaseSensitive(node, "tags"), tags, what);
	cJSON_Delete(node);
}

/* GET /files/<key>/revisions lists one revision, keeping the size bytes
 * the content had before. */
static void expect_one_revision(const t_server *s, const user *u, const char *key, double size)
{
	char p[URL_MAX];
	snprintf(p, sizeof(p), "/files/%s/revisions", key);
	cJSON *rv = t_api(s, "GET", p, u->auth, NULL, 200);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(rv, "items");
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, 0), "size");
	bool ok = cJSON_GetArraySize(items) == 1 && cJSON_IsNumber(sz) && sz->valuedouble == size;
	int n = cJSON_GetArraySize(items);
	cJSON_Delete(rv);
	if (!ok)
		fail_msg("GET %s: %d revisions, want 1 of the %.0f bytes before", p, n, size);
}

/* ---- raw sockets ---- */

/* The head of a POST /fm as auth of a len-byte body of Content-Type type,
 * with extra header lines (may be ""), into buf; its length. */
static size_t post_head(const t_server *s, const char *auth, const char *type, size_t len,
			const char *extra, char *buf, size_t n)
{
	int k = snprintf(buf, n,
			 "POST /fm HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
			 "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			 s->http_port, auth, type, len, extra);
	assert_true(k > 0 && (size_t)k < n);
	return (size_t)k;
}

static int raw_connect(const t_server *s)
{
	int fd = t_connect(s->http_port);
	if (fd < 0)
		fail_msg("no connection to port %d", s->http_port);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	if (t_send_all(fd, p, n))
		fail_msg("sending %zu bytes failed", n);
}

/* Reads into buf (RAW_MAX bytes) until a whole head ("\r\n\r\n") is in
 * at *len; fails if the server closes or is silent first. */
static void raw_read_head(int fd, char *buf, size_t *len, const char *what)
{
	while (!memmem(buf, *len, "\r\n\r\n", 4)) {
		ssize_t k = t_recv_some(fd, buf + *len, RAW_MAX - 1 - *len, T_TIMEOUT_MS);
		if (k <= 0)
			fail_msg("%s: no answer head (got %zu bytes)", what, *len);
		*len += (size_t)k;
	}
	buf[*len] = 0;
}

/* Reads into buf (RAW_MAX bytes) from *len until the server closes. */
static void raw_read_all(int fd, char *buf, size_t *len, const char *what)
{
	for (;;) {
		ssize_t k = t_recv_some(fd, buf + *len, RAW_MAX - 1 - *len, T_TIMEOUT_MS);
		if (k == 0)
			break;
		if (k < 0)
			fail_msg("%s: the server neither answered whole nor closed", what);
		*len += (size_t)k;
	}
	buf[*len] = 0;
}

/* The answer at p (its head and, unless head_only, its Content-Length
 * body, all received) as a t_http_response, for the checks of
 * support.h. */
static void raw_response(const char *p, size_t len, bool head_only, t_http_response *r,
			 const char *what)
{
	memset(r, 0, sizeof(*r));
	const char *end = (const char *)memmem(p, len, "\r\n\r\n", 4);
	if (!end || sscanf(p, "HTTP/1.1 %d", &r->status) != 1)
		fail_msg("%s: not an HTTP answer: %.200s", what, p);
	size_t hl = (size_t)(end - p) + 4;
	if (hl >= sizeof(r->headers))
		fail_msg("%s: a head too long", what);
	memcpy(r->headers, p, hl);
	char v[32];
	const char *cl = head_only ? NULL : t_http_header(r, "content-length", v, sizeof(v));
	size_t bl = head_only ? 0 : cl ? strtoul(cl, NULL, 10) : len - hl;
	if (bl > len - hl)
		fail_msg("%s: the body is cut short (%zu of %zu bytes)", what, len - hl, bl);
	r->body = (char *)malloc(bl + 1);
	assert_non_null(r->body);
	memcpy(r->body, p + hl, bl);
	r->body[bl] = 0;
	r->body_len = bl;
}

/* The head of a POST /fm as auth with Content-Length len and Expect:
 * 100-continue, and no body: the first answer the server gives (read
 * until it closes), into r. One refused before its body must be the
 * final answer, not a 100. */
static void first_answer(const t_server *s, const char *auth, size_t len, t_http_response *r)
{
	char head[2048], buf[RAW_MAX];
	size_t hl = post_head(s, auth, "multipart/form-data; boundary=b", len,
			      "Expect: 100-continue\r\n", head, sizeof(head));
	int fd = raw_connect(s);
	raw_send(fd, head, hl);
	size_t got = 0;
	raw_read_all(fd, buf, &got, "a refusal with Expect: 100-continue");
	close(fd);
	raw_response(buf, got, false, r, "a refusal with Expect: 100-continue");
}

/* Sends f (freed) to /fm as auth on a raw socket, but only up to
 * file_bytes bytes into its last part (the file), then goes away as a
 * client that is stopped does. Returns once the server has dealt with
 * that: a half close, and the server closing its end in turn. */
static void send_cut(const t_server *s, const char *auth, t_form *f, size_t file_bytes)
{
	size_t blen;
	const char *body = t_form_body(f, &blen);
	const t_form_part *file = &f->part[f->nparts - 1];
	assert_true(file->filename && file->len >= 64 && file_bytes < file->len);
	const char *at = (const char *)memmem(body, blen, file->value, 64);
	assert_non_null(at);
	char head[2048];
	size_t hl = post_head(s, auth, f->type, blen, "", head, sizeof(head));
	int fd = raw_connect(s);
	raw_send(fd, head, hl);
	raw_send(fd, body, (size_t)(at - body) + file_bytes);
	t_form_free(f);
	shutdown(fd, SHUT_WR);
	if (!t_wait_closed(fd, T_TIMEOUT_MS))
		fail_msg("the server kept a connection open after its client went");
	close(fd);
}

/* ---- add ---- */

/* Regular upload: the answer member by member, then the bytes back with
 * their type and name. Tags as repeated `tags`, as `tags[]` and as a
 * JSON array value; the filename field over the part's own filename,
 * the part's (its last path segment) without one; the directory. */
static void test_add_whole(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	char url[URL_MAX];
	unsigned char *d = t_make_data(5000, 1);

	cJSON *j = add_ok(s, &a, "default", "part-name.dat", d, 5000, "filename", "notes.txt",
			  "directory", "docs/2020", "tags", "red", "tags", "blue", "is_private",
			  "0", NULL);
	expect_stored(j, &a, "docs/2020", "notes.txt", "[\"red\",\"blue\"]", 0, false,
		      "add with a filename field");
	url_in(j, url);
	cJSON_Delete(j);
	t_http_response r;
	get(s, NULL, url, NULL, &r);
	if (r.status != 200 || r.body_len != 5000 || memcmp(r.body, d, 5000))
		fail_msg("GET %s: %d with %zu bytes, want the 5000 bytes added", url, r.status,
			 r.body_len);
	t_assert_header(&r, "content-type", "text/plain", url);
	t_assert_header(&r, "content-disposition", "inline; filename=\"notes.txt\"", url);
	t_http_free(&r);
	/* the part's filename was not used for anything */
	expect_missing(s, a.auth, url_of("alice", "docs/2020", "part-name.dat", url));

	/* no filename field: the part's, without the path an old browser
	 * sends; no directory: the top; tags[] */
	j = add_ok(s, &a, "default", "C:\\Users\\me\\photo.png", d, 1000, "tags[]", "x", "tags[]",
		   "y", NULL);
	expect_stored(j, &a, "", "photo.png", "[\"x\",\"y\"]", 0, false,
		      "add named by the part's filename");
	url_in(j, url);
	cJSON_Delete(j);
	expect_content(s, NULL, url, d, 1000, "image/png");

	/* tags as one JSON array value; is_private left out is 0 */
	j = add_ok(s, &a, "default", "list.json", d, 10, "tags", "[\"j1\",\"j 2\"]", NULL);
	expect_stored(j, &a, "", "list.json", "[\"j1\",\"j 2\"]", 0, false,
		      "add with a JSON array of tags");
	cJSON_Delete(j);

	/* no tags at all: [] */
	j = add_ok(s, &a, "default", "bare.bin", d, 0, NULL);
	expect_stored(j, &a, "", "bare.bin", "[]", 0, false, "an empty add without tags");
	url_in(j, url);
	cJSON_Delete(j);
	expect_content(s, NULL, url, "", 0, NULL);

	/* a few MiB, through many receive buffers, byte for byte: one blob */
	const size_t big = 3 * 1024 * KIB + 5;
	unsigned char *b = t_make_data(big, 18);
	cJSON_Delete(add_ok(s, &a, "default", "big.bin", b, big, NULL));
	expect_content(s, a.auth, "/u/alice/big.bin", b, big, NULL);
	assert_int_equal(t_blobs_holding(s, b, big), 1);
	free(b);
	free(d);
	t_passed(state);
}

/* A name with characters a URL must escape: escaped in the answer's
 * url, which serves it, with RFC 6266's filename* for the non-ASCII. */
static void test_url_escapes(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	char url[URL_MAX];
	unsigned char *d = t_make_data(100, 17);
	cJSON *j = add_ok(s, &a, "default", "caf\xc3\xa9 menu.txt", d, 100, NULL);
	url_in(j, url);
	cJSON_Delete(j);
	if (strcmp(url, "/u/alice/caf%C3%A9%20menu.txt"))
		fail_msg("the url of \"caf\xc3\xa9 menu.txt\": %s, want %s", url,
			 "/u/alice/caf%C3%A9%20menu.txt");
	t_http_response r;
	get(s, NULL, url, NULL, &r);
	char disp[512];
	if (r.status != 200 || r.body_len != 100 || memcmp(r.body, d, 100) ||
	    !t_http_header(&r, "content-disposition", disp, sizeof(disp)) ||
	    !strstr(disp, "filename*=UTF-8''caf%C3%A9%20menu.txt"))
		fail_msg("GET %s: %d, want 200 with the content and %s", url, r.status,
			 "filename*=UTF-8''caf%C3%A9%20menu.txt");
	t_http_free(&r);
	free(d);
	t_passed(state);
}

/* '+' in a url field is a '+' (RFC 3986), and the urls cubby gives
 * encode it as %2B. A GET's bare '+' is a space: libwebsockets 4.1
 * decodes it so before cubby sees the path (docs/file-manager.md). */
static void test_url_plus(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	char url[URL_MAX];
	cJSON_Delete(add_ok(s, &a, "default", "a b.txt", "space", 5, NULL));
	cJSON *j = add_ok(s, &a, "default", "a+b.txt", "plus", 4, NULL);
	url_in(j, url);
	cJSON_Delete(j);
	if (strcmp(url, "/u/alice/a%2Bb.txt"))
		fail_msg("the url of \"a+b.txt\": %s, want /u/alice/a%%2Bb.txt", url);
	expect_content(s, NULL, url, "plus", 4, NULL);
	expect_content(s, NULL, "/u/alice/a%20b.txt", "space", 5, NULL);
	t_form f;
	form(&f, "update", "url", "/u/alice/a+b.txt", "tags", "p", NULL);
	j = fm_ok(s, a.auth, &f, "update of a url with a bare '+'");
	t_assert_json_text(j,
			 "{\"type\":\"success\",\"is_fully_uploaded\":1,\"url\":\"/u/alice/a%2Bb.txt\","
			 "\"filename\":\"a+b.txt\",\"name\":\"a+b.txt\",\"directory\":\"\",\"tags\":[\"p\"],"
			 "\"is_private\":0}",
			 "update of a url with a bare '+'");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/a+b.txt", "space", 5, NULL);
	t_passed(state);
}

/* ---- chunks ---- */

/* Three chunks: is_fully_uploaded 0 twice, then the whole answer; the
 * file byte for byte. */
static void test_add_chunked(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	const size_t n = 250 * KIB + 7;
	unsigned char *d = t_make_data(n, 2);
	chunk_ok(s, &a, "big.bin", d, 0, 100 * KIB);
	chunk_ok(s, &a, "big.bin", d, 100 * KIB, 100 * KIB);
	cJSON *j = last_chunk_ok(s, &a, "big.bin", d, 200 * KIB, n - 200 * KIB);
	expect_stored(j, &a, "", "big.bin", "[]", 0, false, "the last chunk");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/big.bin", d, n, NULL);
	/* the upload is over: nothing is left to resume */
	partial_error(s, &a, "filename", "big.bin", "no unfinished upload of big.bin");
	free(d);
	t_passed(state);
}

/* A chunk request cut off in its file part, on a raw socket: the server
 * keeps what came (at most what was sent), get_partial_size tells it by
 * filename and by url, and the upload resumes from there byte for
 * byte. Then the chunk errors, which leave the held bytes alone. */
static void test_chunked_resume(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	const size_t n = 300 * KIB, first = 64 * KIB, sent_file = 40000;
	unsigned char *d = t_make_data(n, 3);
	chunk_ok(s, &a, "r.bin", d, 0, first);

	/* the rest as the last chunk, of which sent_file bytes go out */
	t_form f;
	chunk_form(&f, "r.bin", d, first, n - first, true);
	send_cut(s, a.auth, &f, sent_file);

	double held = partial_size(s, &a, "filename", "r.bin");
	if (held < first || held > first + sent_file)
		fail_msg("get_partial_size: %.0f, want %zu to %zu (what was sent)", held, first,
			 first + sent_file);
	double by_url = partial_size(s, &a, "url", "/u/alice/r.bin");
	if (by_url != held)
		fail_msg("get_partial_size by url: %.0f, by filename %.0f", by_url, held);
	size_t at = (size_t)held;

	/* a chunk that does not start at what is held: refused, the held
	 * bytes stay as they are */
	char gap[300];
	snprintf(gap, sizeof(gap),
		 "chunk gap: the server has %zu bytes of r.bin, the chunk starts at %zu", at,
		 at + 1);
	chunk_error(s, &a, "r.bin", d, at + 1, 100, gap);
	snprintf(gap, sizeof(gap),
		 "chunk gap: the server has %zu bytes of r.bin, the chunk starts at 1000", at);
	chunk_error(s, &a, "r.bin", d, 1000, 100, gap);
	assert_true(partial_size(s, &a, "filename", "r.bin") == held);

	/* resumed in two chunks from what the server holds */
	size_t mid = at + (n - at) / 2;
	chunk_ok(s, &a, "r.bin", d, at, mid - at);
	cJSON *j = last_chunk_ok(s, &a, "r.bin", d, mid, n - mid);
	expect_stored(j, &a, "", "r.bin", "[]", 0, false, "the resumed upload");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/r.bin", d, n, NULL);
	assert_int_equal(t_blobs_holding(s, d, n), 1);
	free(d);
	t_passed(state);
}

/* A whole upload cut off keeps nothing: no file, nothing to resume, the
 * name free for the next add. */
static void test_whole_interrupted(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	const size_t n = 100 * KIB;
	unsigned char *d = t_make_data(n, 13);
	t_form f;
	add_form(&f, "default", "w.bin", d, n, NULL);
	send_cut(s, a.auth, &f, 50 * KIB);
	expect_missing(s, a.auth, "/u/alice/w.bin");
	partial_error(s, &a, "filename", "w.bin", "no unfinished upload of w.bin");
	cJSON_Delete(add_ok(s, &a, "default", "w.bin", d, n, NULL));
	expect_content(s, a.auth, "/u/alice/w.bin", d, n, NULL);
	free(d);
	t_passed(state);
}

/* update with new content in chunks: the file keeps its old content
 * until the last chunk, get_partial_size by its url tells what is held,
 * then the new content is a revision. */
static void test_update_chunked(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	const size_t n = 150 * KIB;
	unsigned char *d = t_make_data(3000, 14), *e = t_make_data(n, 15);
	cJSON_Delete(add_ok(s, &a, "default", "u.bin", d, 3000, "tags", "keep", NULL));
	chunk_ok(s, &a, "/u/alice/u.bin", e, 0, 64 * KIB);
	expect_content(s, NULL, "/u/alice/u.bin", d, 3000, NULL);
	if (partial_size(s, &a, "url", "/u/alice/u.bin") != 64 * KIB)
		fail_msg("get_partial_size of an update by url: want %u", 64 * KIB);
	cJSON *j = last_chunk_ok(s, &a, "/u/alice/u.bin", e, 64 * KIB, n - 64 * KIB);
	expect_stored(j, &a, "", "u.bin", "[\"keep\"]", 0, false, "a chunked update");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/u.bin", e, n, NULL);
	char key[T_ID_MAX];
	node_key(s, &a, "", "u.bin", key);
	expect_one_revision(s, &a, key, 3000);
	partial_error(s, &a, "url", "/u/alice/u.bin", "no unfinished upload of /u/alice/u.bin");
	free(d);
	free(e);
	t_passed(state);
}

/* Chunks that cannot go on: start > 0 with nothing held, a chunk whose
 * end - start is not its size; get_partial_size with nothing unfinished
 * (by filename and url) or naming nothing. */
static void test_chunk_errors(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(1000, 4);
	chunk_error(s, &a, "none.bin", d, 500, 100,
		    "no unfinished upload of none.bin to continue: start at 0");
	partial_error(s, &a, "filename", "none.bin", "no unfinished upload of none.bin");

	t_form f;
	form(&f, "add", "configId", "default", "useChunks", "1", "filename", "m.bin", "start", "0",
	     "end", "100", "last_chunk", "0", NULL);
	t_form_file(&f, "file", "m.bin", NULL, d, 50);
	fm_error(s, a.auth, &f,
		 "chunk size mismatch: start 0 to end 100 is not the 50 bytes sent");
	expect_missing(s, a.auth, "/u/alice/m.bin");

	partial_error(s, &a, "filename", "nothing.bin", "no unfinished upload of nothing.bin");
	partial_error(s, &a, "url", "/u/alice/nothing.bin",
		      "no unfinished upload of /u/alice/nothing.bin");
	form(&f, "get_partial_size", NULL);
	fm_error(s, a.auth, &f, "missing filename or url");
	free(d);
	t_passed(state);
}

/* ---- delete ---- */

/* delete by url: gone (404), again is not found; the fileEditor remove;
 * an urlencoded body, with an absolute URL; no url. */
static void test_delete(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	static const char text[] = "to be deleted";
	static const char *const names[] = {"d1.txt", "d2.txt", "d3.txt"};
	for (int i = 0; i < 3; i++)
		cJSON_Delete(add_ok(s, &a, "default", names[i], text, strlen(text), NULL));

	delete_ok(s, &a, "/u/alice/d1.txt");
	expect_missing(s, a.auth, "/u/alice/d1.txt");
	t_form f;
	form(&f, "delete", "url", "/u/alice/d1.txt", NULL);
	fm_error(s, a.auth, &f, "not found: /u/alice/d1.txt");

	form(&f, NULL, "extension", "fileEditor", "action", "remove", "url", "/u/alice/d2.txt",
	     NULL);
	fm_plain_ok(s, a.auth, &f, "fileEditor remove");
	expect_missing(s, a.auth, "/u/alice/d2.txt");

	char abs[URL_MAX];
	snprintf(abs, sizeof(abs), "http://127.0.0.1:%d/u/alice/d3.txt", s->http_port);
	urlform(&f, "delete", "url", abs, NULL);
	fm_plain_ok(s, a.auth, &f, "an urlencoded delete");
	expect_missing(s, a.auth, "/u/alice/d3.txt");

	form(&f, "delete", NULL);
	fm_error(s, a.auth, &f, "missing url");
	t_passed(state);
}

/* ---- update ---- */

/* Without a file: rename, move, retag and make private at once (the same
 * node, as spec 3 shows it); with a file: new content, the old kept as a
 * spec 3 revision; a url that names nothing; the fileEditor update. */
static void test_update(void **state)
{
	t_server *s = t_start(state, NULL);
	user a, b;
	add_user(s, &a, "alice");
	add_user(s, &b, "bob");
	unsigned char *d = t_make_data(3000, 5), *e = t_make_data(2000, 6);
	cJSON_Delete(add_ok(s, &a, "default", "old.txt", d, 3000, "directory", "a", "tags", "t1",
			    NULL));
	char key[T_ID_MAX];
	node_key(s, &a, "a", "old.txt", key);

	t_form f;
	form(&f, "update", "url", "/u/alice/a/old.txt", "filename", "new.txt", "directory", "b",
	     "tags", "t2", "tags", "t3", "is_private", "1", NULL);
	cJSON *j = fm_ok(s, a.auth, &f, "update without a file");
	expect_stored(j, &a, "b", "new.txt", "[\"t2\",\"t3\"]", 1, false, "update without a file");
	cJSON_Delete(j);
	expect_missing(s, a.auth, "/u/alice/a/old.txt");
	expect_content(s, a.auth, "/u/alice/b/new.txt", d, 3000, "text/plain");
	expect_missing(s, NULL, "/u/alice/b/new.txt");
	expect_missing(s, b.auth, "/u/alice/b/new.txt");
	expect_node(s, &a, key, "b", "new.txt", "[\"t2\",\"t3\"]", "the node after the update");

	/* a rename onto a taken name is refused, nothing changes */
	cJSON_Delete(add_ok(s, &a, "default", "other.txt", "other", 5, "directory", "b", NULL));
	form(&f, "update", "url", "/u/alice/b/other.txt", "filename", "new.txt", NULL);
	fm_error(s, a.auth, &f, "name conflict: new.txt exists already");
	expect_content(s, a.auth, "/u/alice/b/other.txt", "other", 5, NULL);
	expect_content(s, a.auth, "/u/alice/b/new.txt", d, 3000, NULL);

	/* new content: the same node (its name, not the part's), the content
	 * before kept as a revision */
	form(&f, "update", "url", "/u/alice/b/new.txt", NULL);
	t_form_file(&f, "file", "whatever.bin", NULL, e, 2000);
	j = fm_ok(s, a.auth, &f, "update with a file");
	expect_stored(j, &a, "b", "new.txt", "[\"t2\",\"t3\"]", 1, false, "update with a file");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/b/new.txt", e, 2000, "text/plain");
	expect_one_revision(s, &a, key, 3000);
	assert_int_equal(t_blobs_holding(s, d, 3000), 1);

	/* the older form: fileEditor update; privacy back to public */
	form(&f, NULL, "extension", "fileEditor", "action", "update", "url", "/u/alice/b/new.txt",
	     "is_private", "0", NULL);
	j = fm_ok(s, a.auth, &f, "fileEditor update");
	expect_stored(j, &a, "b", "new.txt", "[\"t2\",\"t3\"]", 0, false, "fileEditor update");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/b/new.txt", e, 2000, NULL);

	/* a url that names nothing, with and without a file; bob may read
	 * alice's public file, not change it */
	form(&f, "update", "url", "/u/alice/nope.txt", "tags", "x", NULL);
	fm_error(s, a.auth, &f, "not found: /u/alice/nope.txt");
	form(&f, "update", "url", "/u/alice/nope.txt", NULL);
	t_form_file(&f, "file", "nope.txt", NULL, e, 10);
	fm_error(s, a.auth, &f, "not found: /u/alice/nope.txt");
	form(&f, "update", "tags", "x", NULL);
	fm_error(s, a.auth, &f, "missing url");
	form(&f, "update", "url", "/u/alice/b/new.txt", "tags", "mine", NULL);
	fm_error(s, b.auth, &f, "permission denied: new.txt");
	form(&f, "update", "url", "/u/alice/b/new.txt", NULL);
	t_form_file(&f, "file", "new.txt", NULL, "bob's", 5);
	fm_error(s, b.auth, &f, "permission denied: new.txt");
	expect_content(s, NULL, "/u/alice/b/new.txt", e, 2000, NULL);
	expect_node(s, &a, key, "b", "new.txt", "[\"t2\",\"t3\"]", "the node after bob's updates");
	free(d);
	free(e);
	t_passed(state);
}

/* ---- keep_original ---- */

/* keep_original=1: original_url in every answer of the file, ?o=1 serves
 * the first content after an update; not asked for, or a profile that
 * does not keep originals: no original_url, ?o=1 is 404. */
static void test_keep_original(void **state)
{
	t_server *s = t_start(state, "[profile nokeep]\nkeep_original = no\n");
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(4000, 7), *e = t_make_data(1500, 8);
	cJSON *j = add_ok(s, &a, "default", "k.png", d, 4000, "keep_original", "1", NULL);
	expect_stored(j, &a, "", "k.png", "[]", 0, true, "add with keep_original=1");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/k.png?o=1", d, 4000, "image/png");

	t_form f;
	form(&f, "update", "url", "/u/alice/k.png", NULL);
	t_form_file(&f, "file", "k.png", NULL, e, 1500);
	j = fm_ok(s, a.auth, &f, "update of a kept file");
	expect_stored(j, &a, "", "k.png", "[]", 0, true, "update of a kept file");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/k.png", e, 1500, NULL);
	expect_content(s, NULL, "/u/alice/k.png?o=1", d, 4000, NULL);

	t_http_response r;
	j = add_ok(s, &a, "default", "plain.png", d, 100, NULL);
	expect_stored(j, &a, "", "plain.png", "[]", 0, false, "add without keep_original");
	cJSON_Delete(j);
	get(s, NULL, "/u/alice/plain.png?o=1", NULL, &r);
	t_assert_error(&r, 404, "no original kept");

	j = add_ok(s, &a, "nokeep", "nk.png", d, 100, "keep_original", "1", NULL);
	expect_stored(j, &a, "", "nk.png", "[]", 0, false,
		      "keep_original=1, profile keep_original = no");
	cJSON_Delete(j);
	get(s, NULL, "/u/alice/nk.png?o=1", NULL, &r);
	t_assert_error(&r, 404, "no original kept");
	free(d);
	free(e);
	t_passed(state);
}

/* ---- who may GET ---- */

/* A public file to anyone; a private one 404 to anonymous and other
 * users, 200 to its owner and to a user given reader access over spec
 * 3 (and still to nobody else). */
static void test_access(void **state)
{
	t_server *s = t_start(state, NULL);
	user a, b, c;
	add_user(s, &a, "alice");
	add_user(s, &b, "bob");
	add_user(s, &c, "carol");
	static const char pub[] = "public words", priv[] = "private words";
	cJSON_Delete(add_ok(s, &a, "default", "pub.txt", pub, strlen(pub), NULL));
	cJSON *j = add_ok(s, &a, "default", "priv.txt", priv, strlen(priv), "is_private", "1", NULL);
	expect_stored(j, &a, "", "priv.txt", "[]", 1, false, "a private add");
	cJSON_Delete(j);

	const char *const viewers[] = {NULL, b.auth, a.auth};
	for (int i = 0; i < 3; i++)
		expect_content(s, viewers[i], "/u/alice/pub.txt", pub, strlen(pub), "text/plain");
	expect_missing(s, NULL, "/u/alice/priv.txt");
	expect_missing(s, b.auth, "/u/alice/priv.txt");
	expect_content(s, a.auth, "/u/alice/priv.txt", priv, strlen(priv), "text/plain");

	char key[T_ID_MAX];
	node_key(s, &a, "", "priv.txt", key);
	t_file_grant(s, a.auth, key, b.id, "reader");
	expect_content(s, b.auth, "/u/alice/priv.txt", priv, strlen(priv), NULL);
	expect_missing(s, c.auth, "/u/alice/priv.txt");
	expect_missing(s, NULL, "/u/alice/priv.txt");
	/* a reader may read, not delete */
	t_form f;
	form(&f, "delete", "url", "/u/alice/priv.txt", NULL);
	fm_error(s, b.auth, &f, "permission denied: /u/alice/priv.txt");
	expect_content(s, a.auth, "/u/alice/priv.txt", priv, strlen(priv), NULL);
	form(&f, "delete", "url", "/u/alice/priv.txt", NULL);
	fm_error(s, c.auth, &f, "not found: /u/alice/priv.txt");
	/* no such user, no such file */
	expect_missing(s, NULL, "/u/nobody/pub.txt");
	expect_missing(s, a.auth, "/u/alice/none.txt");
	t_passed(state);
}

/* ---- serving ---- */

/* HEAD on a raw socket: the head of a GET and not one byte after it. */
static void expect_head_only(const t_server *s, const char *url, size_t len)
{
	char req[1024], buf[RAW_MAX];
	int k = snprintf(req, sizeof(req),
			 "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", url,
			 s->http_port);
	int fd = raw_connect(s);
	raw_send(fd, req, (size_t)k);
	size_t got = 0;
	raw_read_all(fd, buf, &got, "HEAD");
	close(fd);
	const char *end = (const char *)memmem(buf, got, "\r\n\r\n", 4);
	if (!end || strncmp(buf, "HTTP/1.1 200", 12))
		fail_msg("HEAD %s: %.100s, want HTTP/1.1 200", url, buf);
	size_t after = got - (size_t)(end + 4 - buf);
	if (after)
		fail_msg("HEAD %s: %zu bytes after the head, want none", url, after);
	t_http_response r;
	raw_response(buf, (size_t)(end + 4 - buf), true, &r, "HEAD");
	char cl[32];
	snprintf(cl, sizeof(cl), "%zu", len);
	t_assert_header(&r, "content-length", cl, "HEAD");
	t_assert_header(&r, "content-type", "application/octet-stream", "HEAD");
	t_http_free(&r);
}

/* GET url with Range: bytes=<range> answers 206 with bytes from..to of
 * the n bytes of d. */
static void expect_range(const t_server *s, const char *url, const char *range,
			 const unsigned char *d, size_t n, size_t from, size_t to)
{
	char h[128], what[160];
	snprintf(h, sizeof(h), "Range: bytes=%s\r\n", range);
	snprintf(what, sizeof(what), "GET %s with Range: bytes=%s", url, range);
	t_http_response r;
	get(s, NULL, url, h, &r);
	t_assert_range(&r, d, n, from, to, what);
}

/* Range (206 with Content-Range; 416 past the end), ETag and
 * If-None-Match (304, and 200 again once the content changed), HEAD, and
 * the ?m=1 panda headers (tags, privacy, the original when kept). */
static void test_serving(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	const size_t n = 1000;
	unsigned char *d = t_make_data(n, 9);
	cJSON_Delete(add_ok(s, &a, "default", "s.bin", d, n, "tags", "x", "tags", "y",
			    "keep_original", "1", NULL));
	const char *url = "/u/alice/s.bin";
	t_http_response r;

	expect_range(s, url, "10-19", d, n, 10, 19);
	expect_range(s, url, "990-", d, n, 990, 999);
	expect_range(s, url, "-5", d, n, 995, 999);
	get(s, NULL, url, "Range: bytes=1000-\r\n", &r);
	if (r.status != 416)
		fail_msg("Range 1000- of 1000 bytes: %d, want 416", r.status);
	t_assert_header(&r, "content-range", "bytes */1000", "Range past the end");
	t_http_free(&r);

	char etag[256], h[300];
	get(s, NULL, url, NULL, &r);
	if (r.status != 200 || !t_http_header(&r, "etag", etag, sizeof(etag)) || !etag[0])
		fail_msg("GET %s: %d, want 200 with an ETag", url, r.status);
	expect_no_header(&r, "panda_tags", "GET without ?m=1");
	t_assert_header(&r, "cache-control", "private, no-cache", url);
	t_http_free(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", etag);
	get(s, NULL, url, h, &r);
	if (r.status != 304 || r.body_len)
		fail_msg("If-None-Match with the ETag: %d with %zu bytes, want 304 without a body",
			 r.status, r.body_len);
	t_http_free(&r);

	expect_head_only(s, url, n);

	get(s, NULL, "/u/alice/s.bin?m=1", NULL, &r);
	if (r.status != 200 || r.body_len != n || memcmp(r.body, d, n))
		fail_msg("GET ?m=1: %d with %zu bytes, want 200 with the content", r.status,
			 r.body_len);
	t_assert_header(&r, "panda_url", url, "?m=1");
	t_assert_header(&r, "panda_is_private", "0", "?m=1");
	t_assert_header(&r, "panda_tags", "[\"x\",\"y\"]", "?m=1");
	t_assert_header(&r, "panda_fmp_original_url", "/u/alice/s.bin?o=1", "?m=1");
	t_http_free(&r);

	/* new content: the old ETag no longer matches; no original, no
	 * panda_fmp_original_url; a private file says so */
	t_form f;
	form(&f, "update", "url", url, NULL);
	t_form_file(&f, "file", "s.bin", NULL, "new", 3);
	cJSON_Delete(fm_ok(s, a.auth, &f, "update"));
	get(s, NULL, url, h, &r);
	if (r.status != 200 || r.body_len != 3 || memcmp(r.body, "new", 3))
		fail_msg("If-None-Match with the old ETag: %d, want 200 with the new content",
			 r.status);
	t_http_free(&r);
	cJSON_Delete(add_ok(s, &a, "default", "p.bin", d, 10, "is_private", "1", NULL));
	get(s, a.auth, "/u/alice/p.bin?m=1", NULL, &r);
	assert_int_equal(r.status, 200);
	t_assert_header(&r, "panda_is_private", "1", "?m=1 of a private file");
	t_assert_header(&r, "panda_tags", "[]", "?m=1 of a private file");
	expect_no_header(&r, "panda_fmp_original_url", "?m=1 of a file without an original");
	t_http_free(&r);
	free(d);
	t_passed(state);
}

/* ---- errors ---- */

/* No session: no credentials, a bad Bearer token; Basic credentials do. */
static void test_no_session(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	t_form f;
	add_form(&f, "default", "x.txt", "x", 1, NULL);
	fm_error(s, NULL, &f, NO_SESSION);
	add_form(&f, "default", "x.txt", "x", 1, NULL);
	fm_error(s, "Authorization: Bearer not-a-token\r\n", &f, NO_SESSION);
	form(&f, "delete", "url", "/u/alice/x.txt", NULL);
	fm_error(s, NULL, &f, NO_SESSION);
	expect_missing(s, a.auth, "/u/alice/x.txt");
	char basic[T_AUTH_MAX];
	t_basic_header("alice", PASS, basic, sizeof(basic));
	add_form(&f, "default", "x.txt", "x", 1, NULL);
	cJSON *j = fm_ok(s, basic, &f, "add with Basic credentials");
	expect_stored(j, &a, "", "x.txt", "[]", 0, false, "add with Basic credentials");
	cJSON_Delete(j);
	t_passed(state);
}

/* The form's errors: action unknown or missing (also in the fileEditor
 * form), configId unknown or missing, no file, no filename, a bad flag,
 * a file where none belongs, two files, a body that is not a form. */
static void test_form_errors(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	t_form f;
	form(&f, "frobnicate", NULL);
	fm_error(s, a.auth, &f, "unknown action: frobnicate");
	form(&f, NULL, "url", "/u/alice/x", NULL);
	fm_error(s, a.auth, &f, "missing action");
	form(&f, NULL, "extension", "fileEditor", "action", "rename", NULL);
	fm_error(s, a.auth, &f, "unknown fileEditor action: rename (add, remove or update)");
	add_form(&f, "nope", "x.txt", "x", 1, NULL);
	fm_error(s, a.auth, &f, "unknown configId: nope");
	add_form(&f, NULL, "x.txt", "x", 1, NULL);
	fm_error(s, a.auth, &f, "missing configId");
	form(&f, "add", "configId", "default", "useChunks", "0", "filename", "x.txt", NULL);
	fm_error(s, a.auth, &f, "missing file");
	add_form(&f, "default", "", "x", 1, NULL);
	fm_error(s, a.auth, &f, "missing filename");
	add_form(&f, "default", "x.txt", "x", 1, "is_private", "maybe", NULL);
	fm_error(s, a.auth, &f, "is_private must be 0 or 1");
	form(&f, "delete", "url", "/u/alice/x.txt", NULL);
	t_form_file(&f, "file", "x.txt", NULL, "x", 1);
	fm_error(s, a.auth, &f, "delete takes no file");
	add_form(&f, "default", "x.txt", "x", 1, NULL);
	t_form_file(&f, "file2", "y.txt", NULL, "y", 1);
	fm_error(s, a.auth, &f, "one file per request");
	/* none of these stored anything */
	expect_missing(s, a.auth, "/u/alice/x.txt");
	expect_missing(s, a.auth, "/u/alice/y.txt");

	t_http_response r;
	if (t_http(s->http_port, "POST", "/fm", a.auth, "action=add", 10, &r))
		fail_msg("POST /fm without a Content-Type: no answer");
	char why[1200];
	static const char not_form[] =
		"the body must be multipart/form-data or application/x-www-form-urlencoded";
	if (t_check_acp_error(&r, 200, not_form, false, why, sizeof(why)))
		fail_msg("a body that is not a form: %s", why);
	t_http_free(&r);
	t_passed(state);
}

/* The fields that place a file must come before it: one after it is
 * refused and a whole upload dropped; end and last_chunk may follow it.
 * A body cut before its closing boundary is a bad form. */
static void test_field_order(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	t_form f;
	add_form(&f, "default", "late.txt", "late", 4, NULL);
	t_form_field(&f, "tags", "t");
	fm_error(s, a.auth, &f, "the tags field must come before the file");
	expect_missing(s, a.auth, "/u/alice/late.txt");
	partial_error(s, &a, "filename", "late.txt", "no unfinished upload of late.txt");

	form(&f, "add", "configId", "default", "useChunks", "1", "filename", "c.txt", "start", "0",
	     NULL);
	t_form_file(&f, "file", "c.txt", NULL, "chunk", 5);
	t_form_fields(&f, "end", "5", "last_chunk", "1", NULL);
	cJSON *j = fm_ok(s, a.auth, &f, "a chunk with end and last_chunk after the file");
	expect_stored(j, &a, "", "c.txt", "[]", 0, false, "end and last_chunk after the file");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/c.txt", "chunk", 5, NULL);

	/* the closing boundary ("\r\n--<boundary>--\r\n", the body's end)
	 * left out */
	add_form(&f, "default", "cut.txt", "cut", 3, NULL);
	size_t blen;
	const char *body = t_form_body(&f, &blen);
	const char *boundary = strstr(f.type, "boundary=") + 9;
	size_t cut = blen - (strlen(boundary) + 8);
	assert_memory_equal(body + cut + 4, boundary, strlen(boundary));
	char h[T_AUTH_MAX + 200];
	snprintf(h, sizeof(h), "%sContent-Type: %s\r\n", a.auth, f.type);
	t_http_response r;
	if (t_http(s->http_port, "POST", "/fm", h, body, cut, &r))
		fail_msg("a form without its closing boundary: no answer");
	t_form_free(&f);
	char why[1200];
	if (t_check_acp_error(&r, 200, "bad form: the form ends before its closing boundary", false,
			      why, sizeof(why)))
		fail_msg("a form without its closing boundary: %s", why);
	t_http_free(&r);
	expect_missing(s, a.auth, "/u/alice/cut.txt");
	t_passed(state);
}

/* A name taken: the default profile refuses the second add (the first
 * content stays); a profile with overwrite = yes replaces the content,
 * the one before kept as a revision, still one file of that name. */
static void test_name_conflict(void **state)
{
	t_server *s = t_start(state, "[profile over]\noverwrite = yes\n");
	user a;
	add_user(s, &a, "alice");
	cJSON_Delete(add_ok(s, &a, "default", "x.txt", "first", 5, NULL));
	add_error(s, &a, "default", "x.txt", "second", 6, "name conflict: x.txt exists already", NULL);
	expect_content(s, a.auth, "/u/alice/x.txt", "first", 5, NULL);
	cJSON *j = add_ok(s, &a, "over", "x.txt", "third!", 6, NULL);
	expect_stored(j, &a, "", "x.txt", "[]", 0, false, "add with overwrite = yes");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/x.txt", "third!", 6, NULL);
	assert_int_equal(nodes_named(s, &a, "", "x.txt"), 1);
	char key[T_ID_MAX];
	node_key(s, &a, "", "x.txt", key);
	expect_one_revision(s, &a, key, 5);
	t_passed(state);
}

/* An add that overwrites a taken name stores what a new name would get:
 * the profile's forced privacy (private = yes must not serve the new
 * content to anyone), and the client's tags and privacy. */
static void test_overwrite_fields(void **state)
{
	t_server *s = t_start(state, "[profile over]\noverwrite = yes\n"
				     "[profile hidden]\noverwrite = yes\nprivate = yes\n");
	user a;
	add_user(s, &a, "alice");
	cJSON_Delete(add_ok(s, &a, "default", "h.txt", "public", 6, NULL));
	cJSON *j = add_ok(s, &a, "hidden", "h.txt", "secret", 6, NULL);
	expect_content(s, a.auth, "/u/alice/h.txt", "secret", 6, NULL);
	expect_stored(j, &a, "", "h.txt", "[]", 1, false, "overwrite under private = yes");
	cJSON_Delete(j);
	expect_missing(s, NULL, "/u/alice/h.txt");

	cJSON_Delete(add_ok(s, &a, "default", "x.txt", "first", 5, "tags", "old", NULL));
	j = add_ok(s, &a, "over", "x.txt", "secret", 6, "tags", "t", "is_private", "1", NULL);
	expect_content(s, a.auth, "/u/alice/x.txt", "secret", 6, NULL);
	expect_stored(j, &a, "", "x.txt", "[\"t\"]", 1, false, "add with overwrite = yes");
	cJSON_Delete(j);
	expect_missing(s, NULL, "/u/alice/x.txt");
	t_passed(state);
}

/* 100K into a 64K quota: refused, nothing stored. */
static void test_quota(void **state)
{
	t_server *s = t_start(state, "quota = 64K\n");
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(100 * KIB, 10);
	add_error(s, &a, "default", "q.bin", d, 100 * KIB, "quota exceeded: no room for q.bin", NULL);
	expect_missing(s, a.auth, "/u/alice/q.bin");
	assert_int_equal(nodes_named(s, &a, "", "q.bin"), 0);
	/* what fits still goes in */
	cJSON_Delete(add_ok(s, &a, "default", "q.bin", d, 60 * KIB, NULL));
	expect_content(s, a.auth, "/u/alice/q.bin", d, 60 * KIB, NULL);
	free(d);
	t_passed(state);
}

#define LIMIT_PROFILES                                                                             \
	"[profile small]\nmax_size = 10K\n"                                                        \
	"[profile pics]\nextensions = png, JPG\n"                                                  \
	"[profile avatars]\ndirectory = avatars\nprivate = yes\n"                                  \
	"[profile open]\nprivate = no\n"                                                           \
	"[profile default]\nextensions = txt\n"

/* A profile's limits: max_size, extensions (by name); its overrides: a
 * fixed directory, forced privacy either way; a [profile default]
 * section replaces the built-in default. Paths out of the user's space
 * are refused. */
static void test_profiles(void **state)
{
	t_server *s = t_start(state, LIMIT_PROFILES);
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(20 * KIB, 11);
	add_error(s, &a, "small", "big.bin", d, 20 * KIB, "file too large: the limit is 10240 bytes",
		  NULL);
	expect_missing(s, a.auth, "/u/alice/big.bin");
	cJSON_Delete(add_ok(s, &a, "small", "ok.bin", d, 10 * KIB, NULL));

	add_error(s, &a, "pics", "x.exe", d, 100,
		  "file type not allowed: x.exe (allowed extensions: png,jpg)", NULL);
	add_error(s, &a, "pics", "README", d, 100,
		  "file type not allowed: README (allowed extensions: png,jpg)", NULL);
	cJSON_Delete(add_ok(s, &a, "pics", "Y.JPG", d, 100, NULL));

	/* the server's directory and privacy over the client's */
	cJSON *j = add_ok(s, &a, "avatars", "me.png", d, 100, "directory", "elsewhere",
			  "is_private", "0", NULL);
	expect_stored(j, &a, "avatars", "me.png", "[]", 1, false, "a profile's directory and privacy");
	cJSON_Delete(j);
	expect_missing(s, NULL, "/u/alice/avatars/me.png");
	j = add_ok(s, &a, "open", "o.bin", d, 10, "is_private", "1", NULL);
	expect_stored(j, &a, "", "o.bin", "[]", 0, false, "private = no");
	cJSON_Delete(j);

	add_error(s, &a, "default", "x.bin", d, 10,
		  "file type not allowed: x.bin (allowed extensions: txt)", NULL);
	cJSON_Delete(add_ok(s, &a, "default", "x.txt", d, 10, NULL));

	t_form f;
	add_form(&f, "open", "x.txt", d, 10, "directory", "../bob", NULL);
	fm_error_as(s, a.auth, &f, 200, "invalid directory ../bob: ", true);
	add_form(&f, "open", "x.txt", d, 10, "filename", "../../etc/passwd", NULL);
	fm_error_as(s, a.auth, &f, 200, "invalid filename ../../etc/passwd: ", true);
	free(d);
	t_passed(state);
}

/* types: what the content's first bytes show, not only what its name
 * says (issue 8: "check the first bytes, not only the name"): a PNG
 * named .jpg is no JPEG; and bytes that are no PNG named .png are no
 * PNG either, though docs/file-manager.md lets such content pass on
 * its name's type, which makes `types = image/png` a check of the name
 * alone for any content that is not one of the few types sniffed. */
static void test_profile_types(void **state)
{
	t_server *s = t_start(state, "[profile pngs]\ntypes = image/png\n"
				     "[profile jpegs]\ntypes = image/jpeg\n");
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(200, 16), png[200];
	memcpy(png, PNG_HEAD, sizeof(PNG_HEAD));
	memcpy(png + sizeof(PNG_HEAD), d, sizeof(png) - sizeof(PNG_HEAD));
	add_error(s, &a, "jpegs", "fake.jpg", png, sizeof(png),
		  "file type not allowed: fake.jpg is image/png (allowed types: image/jpeg)", NULL);
	expect_missing(s, a.auth, "/u/alice/fake.jpg");
	cJSON_Delete(add_ok(s, &a, "pngs", "real.png", png, sizeof(png), NULL));
	expect_content(s, a.auth, "/u/alice/real.png", png, sizeof(png), "image/png");
	/* the message names what the content is (it shows no known type);
	 * only its start is the code's own */
	t_form f;
	add_form(&f, "pngs", "fake.png", d, 200, NULL);
	fm_error_as(s, a.auth, &f, 200, "file type not allowed: fake.png is ", true);
	expect_missing(s, a.auth, "/u/alice/fake.png");
	free(d);
	t_passed(state);
}

/* Content-Length over max_upload_size: 413 with the acp error before any
 * of the body is sent (also with Expect: 100-continue, which then gets no
 * 100); a chunked body: 411, nothing stored. */
static void test_http_limits(void **state)
{
	t_server *s = t_start(state, "max_upload_size = 64K\n");
	user a;
	add_user(s, &a, "alice");
	char h[T_AUTH_MAX + 200];
	snprintf(h, sizeof(h), "%sContent-Type: multipart/form-data; boundary=b\r\n"
		 "Content-Length: 100000\r\n", a.auth);
	t_http_response r;
	if (t_http(s->http_port, "POST", "/fm", h, NULL, 0, &r))
		fail_msg("POST /fm of 100000 bytes, none sent: no answer");
	char why[1200];
	if (t_check_acp_error(&r, 413, "file too large: the limit is 65536 bytes", false, why,
			      sizeof(why)))
		fail_msg("Content-Length over max_upload_size: %s", why);
	t_http_free(&r);

	first_answer(s, a.auth, 100000, &r);
	if (t_check_acp_error(&r, 413, "file too large: the limit is 65536 bytes", false, why,
			      sizeof(why)))
		fail_msg("Content-Length over max_upload_size, Expect: 100-continue: %s (the first "
			 "answer must be the final one)", why);
	t_http_free(&r);

	/* a chunked body, a whole form inside its chunks */
	t_form f;
	add_form(&f, "default", "c.txt", "chunked", 7, NULL);
	size_t blen;
	const char *body = t_form_body(&f, &blen);
	char *chunked = (char *)malloc(blen + 64);
	assert_non_null(chunked);
	int k = sprintf(chunked, "%zx\r\n", blen);
	memcpy(chunked + k, body, blen);
	k += (int)blen;
	k += sprintf(chunked + k, "\r\n0\r\n\r\n");
	snprintf(h, sizeof(h), "%sContent-Type: %s\r\nTransfer-Encoding: chunked\r\n", a.auth,
		 f.type);
	t_form_free(&f);
	if (t_http(s->http_port, "POST", "/fm", h, chunked, (size_t)k, &r))
		fail_msg("a chunked POST /fm: no answer");
	free(chunked);
	if (r.status != 411)
		fail_msg("a chunked POST /fm: %d %.300s, want 411", r.status, r.body);
	t_http_free(&r);
	expect_missing(s, a.auth, "/u/alice/c.txt");
	t_passed(state);
}

/* Expect: 100-continue: the interim 100 comes before any of the body is
 * sent; then the body, then the final acp success. */
static void test_expect_continue(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	unsigned char *d = t_make_data(3000, 12);
	t_form f;
	add_form(&f, "default", "e.bin", d, 3000, "tags", "e", NULL);
	size_t blen;
	const char *body = t_form_body(&f, &blen);
	char head[2048], buf[RAW_MAX];
	size_t hl = post_head(s, a.auth, f.type, blen, "Expect: 100-continue\r\n", head, sizeof(head));
	int fd = raw_connect(s);
	raw_send(fd, head, hl);
	size_t got = 0;
	raw_read_head(fd, buf, &got, "Expect: 100-continue");
	if (strncmp(buf, "HTTP/1.1 100", 12))
		fail_msg("Expect: 100-continue answered %.80s, want HTTP/1.1 100 Continue", buf);
	char *end = (char *)memmem(buf, got, "\r\n\r\n", 4) + 4;
	got -= (size_t)(end - buf);
	memmove(buf, end, got);
	raw_send(fd, body, blen);
	t_form_free(&f);
	raw_read_all(fd, buf, &got, "the answer after the body");
	close(fd);
	t_http_response r;
	raw_response(buf, got, false, &r, "the answer after the body");
	char why[1000];
	cJSON *j = t_acp_parse(&r, 200, why, sizeof(why));
	t_http_free(&r);
	if (!j)
		fail_msg("after the body: %s", why);
	expect_stored(j, &a, "", "e.bin", "[\"e\"]", 0, false, "add after 100 Continue");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/e.bin", d, 3000, NULL);

	/* refused before the body: the final answer at once, no 100 */
	first_answer(s, "", 3000, &r);
	if (t_check_acp_error(&r, 200, NO_SESSION, false, why, sizeof(why)))
		fail_msg("no session, Expect: 100-continue: %s (the first answer must be the final "
			 "one)", why);
	t_http_free(&r);
	free(d);
	t_passed(state);
}

/* ---- virtual profiles ---- */

static int by_url(const void *x, const void *y)
{
	return strcmp(t_json_str(*(const cJSON *const *)x, "url"),
		      t_json_str(*(const cJSON *const *)y, "url"));
}

/* A commit answer is exactly {"type":"success","files":want} (JSON array
 * text, sorted by url). */
static void expect_files(const cJSON *j, const char *want, const char *what)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
	if (cJSON_GetArraySize(j) != 2 || strcmp(t_json_str(j, "type"), "success") ||
	    !cJSON_IsArray(files))
		fail_msg("%s: want exactly {\"type\":\"success\",\"files\":[...]}", what);
	/* the order of the files is not the protocol's: compare sorted by url */
	const cJSON *item[16], *it;
	int n = 0;
	cJSON_ArrayForEach(it, files)
	{
		if (n == 16 || !t_json_str(it, "url"))
			fail_msg("%s: more than 16 files, or one without a url", what);
		item[n++] = it;
	}
	qsort(item, (size_t)n, sizeof(item[0]), by_url);
	cJSON *sorted = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(sorted, cJSON_Duplicate(item[i], true));
	t_assert_json_text(sorted, want, what);
	cJSON_Delete(sorted);
}

/* Adds of a virtual profile go to the staging area; commit moves them
 * out (a taken name is not overwritten); reset trashes what is staged
 * and nothing else. */
static void test_virtual(void **state)
{
	t_server *s = t_start(state, "[profile staged]\nvirtual = yes\n");
	user a;
	add_user(s, &a, "alice");
	static const char one[] = "one", two[] = "two", three[] = "three", old[] = "old";
	cJSON *j = add_ok(s, &a, "staged", "s1.txt", one, 3, "directory", "pics", NULL);
	expect_stored(j, &a, ".cubby-staging/pics", "s1.txt", "[]", 0, false, "a staged add");
	cJSON_Delete(j);
	j = add_ok(s, &a, "staged", "s2.txt", two, 3, "tags", "t", NULL);
	expect_stored(j, &a, ".cubby-staging", "s2.txt", "[\"t\"]", 0, false, "a staged add");
	cJSON_Delete(j);
	expect_content(s, a.auth, "/u/alice/.cubby-staging/pics/s1.txt", one, 3, NULL);

	t_form f;
	form(&f, "commit", NULL);
	j = fm_ok(s, a.auth, &f, "commit");
	expect_files(j,
		     "[{\"type\":\"success\",\"is_fully_uploaded\":1,\"url\":\"/u/alice/pics/s1.txt\","
		     "\"filename\":\"s1.txt\",\"name\":\"s1.txt\",\"directory\":\"pics\",\"tags\":[],"
		     "\"is_private\":0},"
		     "{\"type\":\"success\",\"is_fully_uploaded\":1,\"url\":\"/u/alice/s2.txt\","
		     "\"filename\":\"s2.txt\",\"name\":\"s2.txt\",\"directory\":\"\",\"tags\":[\"t\"],"
		     "\"is_private\":0}]",
		     "commit");
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/pics/s1.txt", one, 3, NULL);
	expect_content(s, NULL, "/u/alice/s2.txt", two, 3, NULL);
	expect_missing(s, a.auth, "/u/alice/.cubby-staging/pics/s1.txt");
	expect_missing(s, a.auth, "/u/alice/.cubby-staging/s2.txt");

	/* committing onto a taken name keeps the file there */
	cJSON_Delete(add_ok(s, &a, "default", "taken.txt", old, 3, NULL));
	cJSON_Delete(add_ok(s, &a, "staged", "taken.txt", three, 5, NULL));
	form(&f, "commit", NULL);
	j = fm_ok(s, a.auth, &f, "commit onto a taken name");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
	const char *moved = t_json_str(cJSON_GetArrayItem(files, 0), "url");
	if (cJSON_GetArraySize(files) != 1 || !moved || !strcmp(moved, "/u/alice/taken.txt") ||
	    strncmp(moved, "/u/alice/", 9) || strstr(moved, ".cubby-staging"))
		fail_msg("commit onto a taken name: want one file out of staging under another name");
	expect_content(s, NULL, moved, three, 5, NULL);
	cJSON_Delete(j);
	expect_content(s, NULL, "/u/alice/taken.txt", old, 3, NULL);

	/* reset: the staged file goes, the committed ones stay */
	cJSON_Delete(add_ok(s, &a, "staged", "s3.txt", three, 5, NULL));
	form(&f, "reset", NULL);
	fm_plain_ok(s, a.auth, &f, "reset");
	expect_missing(s, a.auth, "/u/alice/.cubby-staging/s3.txt");
	expect_content(s, NULL, "/u/alice/pics/s1.txt", one, 3, NULL);
	/* its name is free again in the staging area */
	j = add_ok(s, &a, "staged", "s3.txt", one, 3, NULL);
	expect_stored(j, &a, ".cubby-staging", "s3.txt", "[]", 0, false, "staged again after reset");
	cJSON_Delete(j);
	/* the action in the query, no body at all */
	t_http_response r;
	if (t_http(s->http_port, "POST", "/fm?action=reset", a.auth, NULL, 0, &r))
		fail_msg("POST /fm?action=reset: no answer");
	char why[1000];
	j = t_acp_parse(&r, 200, why, sizeof(why));
	t_http_free(&r);
	if (!j)
		fail_msg("POST /fm?action=reset: %s", why);
	t_assert_json_text(j, "{\"type\":\"success\"}", "POST /fm?action=reset");
	cJSON_Delete(j);
	expect_missing(s, a.auth, "/u/alice/.cubby-staging/s3.txt");
	form(&f, "commit", NULL);
	j = fm_ok(s, a.auth, &f, "commit after reset");
	t_assert_json_text(j, "{\"type\":\"success\",\"files\":[]}", "commit of nothing");
	cJSON_Delete(j);
	/* the staging area is the server's, not a directory to name */
	add_error(s, &a, "default", "x.txt", one, 3,
		  "directory not allowed: .cubby-staging is the staging area", "directory",
		  ".cubby-staging", NULL);
	t_passed(state);
}

/* ---- other protocols ---- */

/* An add is a `created` event on spec 3's /files socket (the node as
 * spec 3 shows it) and a name in spec 4's list. */
static void test_seen_elsewhere(void **state)
{
	t_server *s = t_start(state, NULL);
	user a;
	add_user(s, &a, "alice");
	t_ws ws;
	if (t_ws_connect(&ws, s->http_port, "/files", a.auth))
		fail_msg("upgrade to /files: answered %d, want 101", ws.status);
	cJSON_Delete(add_ok(s, &a, "default", "ev.txt", "event", 5, "directory", "docs", "tags",
			    "e", NULL));
	char key[T_ID_MAX];
	node_key(s, &a, "docs", "ev.txt", key);
	char *data = NULL;
	size_t len;
	int op = t_ws_recv(&ws, &data, &len, NULL, T_TIMEOUT_MS);
	cJSON *e = op == 1 ? cJSON_Parse(data) : NULL;
	if (!e)
		fail_msg("/files: want the created event, got opcode %d %.300s", op, data ? data : "");
	free(data);
	/* exactly the created event, its data the node as GET /files/<key>
	 * shows it (nothing changed it since) */
	char p[URL_MAX];
	snprintf(p, sizeof(p), "/files/%s", key);
	cJSON *want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "type", "event");
	cJSON_AddStringToObject(want, "operation", "created");
	cJSON_AddStringToObject(want, "kind", "file");
	cJSON_AddStringToObject(want, "id", key);
	cJSON_AddItemToObject(want, "data", t_api(s, "GET", p, a.auth, NULL, 200));
	t_assert_json(e, want, "the /files event of an add");
	cJSON_Delete(want);
	cJSON_Delete(e);
	t_ws_close(&ws);

	/* spec 4: version, login, list, its one chunk */
	t_line l;
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	while (t_line_connect(&l, s->line_port)) { /* it may come up after the HTTP port */
		t_line_close(&l);
		if (t_now_ms() > deadline)
			fail_msg("no connection to line_port %d", s->line_port);
		t_sleep_ms(20);
	}
	static const char *const lines[][2] = {
		{"{\"version\":\"0.2\"}\n", "{\"version\":\"0.2\",\"accept\":true}"},
		{"{\"login\":true,\"user\":\"alice\",\"pass\":\"" PASS "\",\"cancel\":false}\n",
		 "{\"accept\":true,\"error\":\"\"}"},
		{"{\"command\":\"list\"}\n",
		 "{\"command\":\"list\",\"accept\":true,\"items\":1,\"chunks\":1,\"error\":\"\"}"},
		{"{\"command\":\"listdata\",\"chunk\":0,\"cancel\":false}\n",
		 "{\"command\":\"listdata\",\"remaining\":0,\"cancel\":false,\"names\":[\"docs/ev.txt\"],"
		 "\"error\":\"\"}"},
	};
	for (const auto &x : lines) {
		char got[4096];
		if (t_line_send(&l, x[0]) || t_line_recv(&l, got, sizeof(got), T_TIMEOUT_MS) != 1)
			fail_msg("line protocol: no answer to %s", x[0]);
		cJSON *g = cJSON_Parse(got);
		t_assert_json_text(g, x[1], x[0]);
		cJSON_Delete(g);
	}
	t_line_close(&l);
	t_passed(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_add_whole),
		T_TEST(test_url_escapes),
		T_TEST(test_url_plus),
		T_TEST(test_add_chunked),
		T_TEST(test_chunked_resume),
		T_TEST(test_whole_interrupted),
		T_TEST(test_update_chunked),
		T_TEST(test_chunk_errors),
		T_TEST(test_delete),
		T_TEST(test_update),
		T_TEST(test_keep_original),
		T_TEST(test_access),
		T_TEST(test_serving),
		T_TEST(test_no_session),
		T_TEST(test_form_errors),
		T_TEST(test_field_order),
		T_TEST(test_name_conflict),
		T_TEST(test_overwrite_fields),
		T_TEST(test_quota),
		T_TEST(test_profiles),
		T_TEST(test_profile_types),
		T_TEST(test_http_limits),
		T_TEST(test_expect_continue),
		T_TEST(test_virtual),
		T_TEST(test_seen_elsewhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
