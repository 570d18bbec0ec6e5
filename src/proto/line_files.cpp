/* line_files.cpp: the line protocol's commands on files
 * (docs/line-protocol.md): status, list/listdata, put/putdata,
 * get/getdata. Names are paths in the user's own space; a file travels in
 * chunks of line_chunk bytes as base64. A put streams each decoded chunk
 * to the upload's partial file (blob_write) and is stored only when the
 * last one is in; a get reads each chunk from the content as it was at
 * `get`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/base64.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/mime.h"
#include "cubby/store.h"
#include "line_internal.h"

static line_conn *state_of(cb_conn *c)
{
	return (line_conn *)conn_state(c);
}

static const char *user_id(cb_conn *c)
{
	return state_of(c)->user.id;
}

static uint64_t chunk_size(cb_conn *c)
{
	return conn_config(c)->line_chunk;
}

static uint64_t chunks_of(uint64_t size, uint64_t chunk)
{
	return size / chunk + (size % chunk != 0);
}

/* Chunks still to come after chunk k of n (an empty transfer has none). */
static uint64_t remaining_after(uint64_t k, uint64_t n)
{
	return n > k ? n - 1 - k : 0;
}

/* Whether chunk k is the one expected next of t (an empty transfer has
 * no chunk, but asking it for chunk 0 is answered). */
static bool is_next_chunk(const line_transfer *t, uint64_t k)
{
	return k == t->next && (k < t->chunks || (t->chunks == 0 && k == 0));
}

static const char *file_of(const cJSON *j)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "file");
	return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* The file name an error may quote: what the client sent, shortened. */
static void quote_name(char *out, size_t n, const char *file)
{
	size_t len = utf8_prefix(file ? file : "", LINE_FILE_MAX);
	snprintf(out, n, "%.*s", (int)len, file ? file : "");
}

/* The status of a failed store or disk call as the client reads it. */
static const char *status_error(cb_conn *c, cb_status s, char *buf, size_t n)
{
	if (s == CB_ERR_TOOBIG) {
		snprintf(buf, n, "file too large: the limit is %llu bytes",
			 (unsigned long long)conn_config(c)->max_upload_size);
		return buf;
	}
	if (s != CB_ERR_QUOTA && s != CB_ERR_NOSPACE)
		log_error("line: %s", cb_status_str(s));
	return cb_status_str(s);
}

/* Splits a name into folder and name in the user's space; NULL, or why
 * it is not allowed. */
static const char *split_name(const char *file, char *parent, char *name)
{
	return path_split(file, strlen(file), parent, CB_PATH_MAX + 1, name, CB_NAME_MAX + 1);
}

/* ---- status ---- */

int line_status(cb_conn *c, const cJSON *)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "status");
	cJSON_AddStringToObject(a, "response", "ok");
	return line_send(c, a);
}

/* ---- list ---- */

static void list_end(line_conn *l)
{
	free(l->names);
	free(l->order);
	l->names = NULL;
	l->order = NULL;
	l->names_len = l->names_cap = 0;
	l->order_pos = 0;
	l->listing = false;
}

/* What add_name fills: the connection's names, and whether memory ran
 * out (which stops the listing). */
struct name_taker {
	line_conn *l;
	bool no_memory;
};

/* Appends "folder/name" (or "name") and its NUL to the names taken. */
static int add_name(const cb_node *n, void *ctx)
{
	name_taker *nt = (name_taker *)ctx;
	line_conn *l = nt->l;
	size_t plen = strlen(n->parent), nlen = strlen(n->name);
	size_t need = plen + (plen ? 1 : 0) + nlen + 1;
	if (l->names_len + need > l->names_cap) {
		size_t cap = l->names_cap ? l->names_cap * 2 : 4096;
		while (cap < l->names_len + need)
			cap *= 2;
		char *names = (char *)realloc(l->names, cap);
		if (!names) {
			nt->no_memory = true;
			return 1;
		}
		l->names = names;
		l->names_cap = cap;
	}
	char *p = l->names + l->names_len;
	if (plen) {
		memcpy(p, n->parent, plen);
		p[plen++] = '/';
	}
	memcpy(p + plen, n->name, nlen + 1);
	l->names_len += need;
	l->items++;
	return 0;
}

/* "folder/name" before "folder/name" by folder, then by name, byte by
 * byte: a folder's files come together, its subfolders' after them. */
static int compare_paths(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t fa = sa ? (size_t)(sa - a) : 0, fb = sb ? (size_t)(sb - b) : 0;
	int r = memcmp(a, b, fa < fb ? fa : fb);
	if (r)
		return r;
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return strcmp(sa ? sa + 1 : a, sb ? sb + 1 : b);
}

/* The order listdata sends the names taken in; whether there was memory. */
static bool sort_names(line_conn *l)
{
	l->order = (const char **)malloc((l->items ? l->items : 1) * sizeof(*l->order));
	if (!l->order)
		return false;
	const char *p = l->names;
	for (uint64_t i = 0; i < l->items; i++, p += strlen(p) + 1)
		l->order[i] = p;
	qsort(l->order, l->items, sizeof(*l->order), compare_paths);
	return true;
}

static int list_answer(cb_conn *c, bool accept, const char *error)
{
	line_conn *l = state_of(c);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "list");
	cJSON_AddBoolToObject(a, "accept", accept);
	cJSON_AddNumberToObject(a, "items", accept ? (double)l->items : 0);
	cJSON_AddNumberToObject(a, "chunks", accept ? (double)l->list_chunks : 0);
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

int line_list(cb_conn *c, const cJSON *)
{
	line_conn *l = state_of(c);
	list_end(l);
	l->items = 0;
	name_taker nt = {l, false};
	cb_status s = store_list_owned(conn_store(c), user_id(c), "file", 0, add_name, &nt);
	if (!s && (nt.no_memory || !sort_names(l)))
		s = CB_ERR_NOMEM;
	if (s) {
		list_end(l);
		char buf[64];
		return list_answer(c, false, status_error(c, s, buf, sizeof(buf)));
	}
	l->listing = true;
	l->list_chunks = chunks_of(l->items, LIST_CHUNK);
	l->list_next = 0;
	return list_answer(c, true, "");
}

static int listdata_answer(cb_conn *c, uint64_t remaining, cJSON *names, const char *error)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "listdata");
	cJSON_AddNumberToObject(a, "remaining", (double)remaining);
	cJSON_AddBoolToObject(a, "cancel", error[0] != 0);
	cJSON_AddItemToObject(a, "names", names ? names : cJSON_CreateArray());
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

int line_listdata(cb_conn *c, const cJSON *j)
{
	line_conn *l = state_of(c);
	if (!l->listing)
		return listdata_answer(c, 0, NULL, "no list in progress: send list first");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cancel"))) {
		list_end(l);
		return listdata_answer(c, 0, NULL, "cancelled by the client");
	}
	int64_t k = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "chunk"));
	line_transfer t = {};
	t.chunks = l->list_chunks;
	t.next = l->list_next;
	if (k < 0 || !is_next_chunk(&t, (uint64_t)k)) {
		char error[64];
		snprintf(error, sizeof(error), "chunk out of order: expected %llu",
			 (unsigned long long)l->list_next);
		list_end(l);
		return listdata_answer(c, 0, NULL, error);
	}
	cJSON *names = cJSON_CreateArray();
	for (int i = 0; i < LIST_CHUNK && l->order_pos < l->items; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(l->order[l->order_pos++]));
	uint64_t remaining = remaining_after((uint64_t)k, l->list_chunks);
	l->list_next++;
	if (!remaining)
		list_end(l);
	return listdata_answer(c, remaining, names, "");
}

/* ---- put ---- */

static int put_answer(cb_conn *c, const char *file, const char *error)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "put");
	cJSON_AddStringToObject(a, "file", file ? file : "");
	cJSON_AddBoolToObject(a, "accept", !error[0]);
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

static int putdata_answer(cb_conn *c, const char *file, uint64_t received, const char *error)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "putdata");
	cJSON_AddStringToObject(a, "file", file ? file : "");
	cJSON_AddNumberToObject(a, "recieved", (double)received); /* the document's spelling */
	cJSON_AddBoolToObject(a, "cancel", error[0] != 0);
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

static void put_end(line_conn *l)
{
	if (l->up)
		blob_abort(l->up);
	l->up = NULL;
	l->put.active = false;
	l->received = 0;
}

/* Stores the put once all of it is in; NULL, or the error. */
static const char *put_complete(cb_conn *c, char *buf, size_t n)
{
	line_conn *l = state_of(c);
	cb_status s = blob_complete(l->up, NULL, NULL);
	if (s)
		return status_error(c, s, buf, n);
	l->up = NULL; /* freed by blob_complete */
	l->put.active = false;
	return NULL;
}

/* What a put asks for, once checked. */
struct put_request {
	char parent[CB_PATH_MAX + 1];
	char name[CB_NAME_MAX + 1];
	int64_t size, chunks;
};

/* Checks the put's fields; NULL, or the error. */
static const char *put_check(cb_conn *c, const cJSON *j, const char *file, put_request *p,
			     char *buf, size_t n)
{
	line_conn *l = state_of(c);
	if (l->put.active) {
		snprintf(buf, n, "a put is in progress: %s", l->put.file);
		return buf;
	}
	if (!file)
		return "expected a file name";
	const char *why = split_name(file, p->parent, p->name);
	if (why) {
		snprintf(buf, n, "name not allowed: %s", why);
		return buf;
	}
	p->size = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "size"));
	p->chunks = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "chunks"));
	if (p->size < 0)
		return "invalid size";
	uint64_t want = chunks_of((uint64_t)p->size, chunk_size(c));
	if (p->chunks < 0 || ((uint64_t)p->chunks != want && !(p->size == 0 && p->chunks == 1))) {
		snprintf(buf, n, "chunk count mismatch: %lld bytes are %llu chunks of at most %llu bytes",
			 (long long)p->size, (unsigned long long)want,
			 (unsigned long long)chunk_size(c));
		return buf;
	}
	cb_node old;
	node_init(&old);
	bool other_kind = !store_node_find(conn_store(c), user_id(c), user_id(c), p->parent,
					   p->name, &old) &&
			  strcmp(old.kind, "file");
	if (other_kind) {
		char quoted[LINE_FILE_MAX + 1];
		quote_name(quoted, sizeof(quoted), p->name);
		snprintf(buf, n, "name not allowed: %s is a %s", quoted, old.kind);
	}
	node_clear(&old);
	return other_kind ? buf : NULL;
}

/* Checks what put asks for and starts the upload; NULL, or the error. */
static const char *put_begin(cb_conn *c, const cJSON *j, const char *file, char *buf,
			     size_t n)
{
	line_conn *l = state_of(c);
	put_request p;
	const char *error = put_check(c, j, file, &p, buf, n);
	if (error)
		return error;
	cb_node target;
	node_init(&target);
	snprintf(target.kind, sizeof(target.kind), "file");
	snprintf(target.parent, sizeof(target.parent), "%s", p.parent);
	snprintf(target.name, sizeof(target.name), "%s", p.name);
	snprintf(target.mime, sizeof(target.mime), "%s", mime_from_name(p.name));
	/* not resumable: a broken put starts over */
	cb_status s = blob_begin(conn_store(c), user_id(c), &target, CB_UPLOAD_PUT, p.size,
				 CB_UPLOAD_ONCE, &l->up);
	node_clear(&target);
	if (s)
		return status_error(c, s, buf, n);
	l->put.active = true;
	snprintf(l->put.file, sizeof(l->put.file), "%s", file);
	l->put.size = (uint64_t)p.size;
	l->put.chunks = (uint64_t)p.chunks;
	l->put.next = 0;
	l->received = 0;
	if (p.chunks)
		return NULL;
	error = put_complete(c, buf, n); /* an empty file: stored now */
	if (error)
		put_end(l);
	return error;
}

int line_put(cb_conn *c, const cJSON *j)
{
	char buf[256 + LINE_FILE_MAX];
	const char *file = file_of(j);
	const char *error = put_begin(c, j, file, buf, sizeof(buf));
	return put_answer(c, file, error ? error : "");
}

/* Writes one putdata chunk; NULL, or the error (which ends the put). */
static const char *put_chunk(cb_conn *c, const cJSON *j, char *buf, size_t n)
{
	line_conn *l = state_of(c);
	line_transfer *t = &l->put;
	int64_t remaining = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "remaining"));
	uint64_t want = remaining_after(t->next, t->chunks);
	if (remaining < 0 || (uint64_t)remaining != want || !is_next_chunk(t, t->next)) {
		snprintf(buf, n, "chunk out of order: expected remaining %llu",
			 (unsigned long long)want);
		return buf;
	}
	/* decoded in place: the bytes go from the parsed line to the disk */
	cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	char *bytes = cJSON_IsString(data) ? data->valuestring : NULL;
	int64_t len = bytes ? base64_decode(bytes, strlen(bytes), bytes) : -1;
	if (len < 0)
		return "bad base64";
	if ((uint64_t)len > chunk_size(c)) {
		snprintf(buf, n, "chunk too large: the limit is %llu bytes",
			 (unsigned long long)chunk_size(c));
		return buf;
	}
	if (l->received + (uint64_t)len > t->size) {
		snprintf(buf, n, "size mismatch: declared %llu bytes, received more",
			 (unsigned long long)t->size);
		return buf;
	}
	cb_status s = blob_write(l->up, l->received, bytes, (size_t)len);
	if (s)
		return status_error(c, s, buf, n);
	l->received += (uint64_t)len;
	t->next++;
	if (remaining)
		return NULL;
	if (l->received != t->size) {
		snprintf(buf, n, "size mismatch: declared %llu bytes, received %llu",
			 (unsigned long long)t->size, (unsigned long long)l->received);
		return buf;
	}
	return put_complete(c, buf, n);
}

int line_putdata(cb_conn *c, const cJSON *j)
{
	line_conn *l = state_of(c);
	char buf[256 + LINE_FILE_MAX];
	const char *file = file_of(j);
	if (!l->put.active || !file || strcmp(file, l->put.file)) {
		char quoted[LINE_FILE_MAX + 1];
		quote_name(quoted, sizeof(quoted), file);
		snprintf(buf, sizeof(buf), "no put in progress for %s", quoted);
		return putdata_answer(c, file, 0, buf);
	}
	uint64_t before = l->received; /* a refusal reports the bytes before it */
	const char *error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cancel"))
				    ? "cancelled by the client"
				    : put_chunk(c, j, buf, sizeof(buf));
	uint64_t received = error ? before : l->received;
	if (error)
		put_end(l);
	return putdata_answer(c, file, received, error ? error : "");
}

/* ---- get ---- */

static void get_end(line_conn *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->get.active = false;
}

static int get_answer(cb_conn *c, const char *file, uint64_t chunks, const char *error)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "get");
	cJSON_AddStringToObject(a, "file", file ? file : "");
	cJSON_AddBoolToObject(a, "accept", !error[0]);
	cJSON_AddNumberToObject(a, "chunks", (double)chunks);
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

/* Opens the user's file for getdata; NULL, or the error. */
static const char *get_begin(cb_conn *c, const char *file, char *buf, size_t n)
{
	line_conn *l = state_of(c);
	if (!file)
		return "expected a file name";
	char parent[CB_PATH_MAX + 1], name[CB_NAME_MAX + 1];
	const char *why = split_name(file, parent, name);
	if (why) {
		snprintf(buf, n, "name not allowed: %s", why);
		return buf;
	}
	cb_store *st = conn_store(c);
	cb_node node;
	node_init(&node);
	cb_status s = store_node_find(st, user_id(c), user_id(c), parent, name, &node);
	if (!s && strcmp(node.kind, "file"))
		s = CB_ERR_NOTFOUND;
	int fd = -1;
	if (!s && node.blob[0] && (fd = blob_open(st, node.blob)) < 0)
		s = CB_ERR_IO;
	uint64_t size = node.blob[0] ? node.size : 0;
	node_clear(&node);
	if (s == CB_ERR_NOTFOUND) {
		char quoted[LINE_FILE_MAX + 1];
		quote_name(quoted, sizeof(quoted), file);
		snprintf(buf, n, "unknown file: %s", quoted);
		return buf;
	}
	if (s)
		return status_error(c, s, buf, n);
	l->fd = fd;
	l->get.active = true;
	snprintf(l->get.file, sizeof(l->get.file), "%s", file);
	l->get.size = size;
	l->get.chunks = chunks_of(size, chunk_size(c));
	l->get.next = 0;
	return NULL;
}

int line_get(cb_conn *c, const cJSON *j)
{
	line_conn *l = state_of(c);
	char buf[256 + LINE_FILE_MAX];
	const char *file = file_of(j);
	get_end(l);
	const char *error = get_begin(c, file, buf, sizeof(buf));
	return get_answer(c, file, error ? 0 : l->get.chunks, error ? error : "");
}

static int getdata_refusal(cb_conn *c, const char *file, const char *error)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command", "getdata");
	cJSON_AddStringToObject(a, "file", file ? file : "");
	cJSON_AddStringToObject(a, "data", "");
	cJSON_AddNumberToObject(a, "remaining", 0);
	cJSON_AddBoolToObject(a, "cancel", true);
	cJSON_AddStringToObject(a, "error", error);
	return line_send(c, a);
}

/* Reads len bytes at off of the get's content; whether all came. */
static bool read_chunk(line_conn *l, unsigned char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t got = pread(l->fd, p, len, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		p += got;
		len -= (size_t)got;
		off += (uint64_t)got;
	}
	return true;
}

/* The getdata answer, written by hand so that the chunk is encoded
 * straight into the line that is queued. */
static int getdata_answer(cb_conn *c, const char *file, const unsigned char *bytes,
			  size_t len, uint64_t remaining)
{
	cJSON *name = cJSON_CreateString(file);
	char *quoted = name ? cJSON_PrintUnformatted(name) : NULL;
	cJSON_Delete(name);
	if (!quoted)
		return -1;
	char tail[96];
	int tn = snprintf(tail, sizeof(tail), "\",\"remaining\":%llu,\"cancel\":false,\"error\":\"\"}\n",
			  (unsigned long long)remaining);
	static const char head[] = "{\"command\":\"getdata\",\"file\":";
	size_t hn = sizeof(head) - 1, qn = strlen(quoted), bn = base64_encoded_len(len);
	size_t total = hn + qn + 9 + bn + (size_t)tn;
	char *line = (char *)malloc(total);
	int r = -1;
	if (line) {
		char *p = line;
		memcpy(p, head, hn);
		memcpy(p += hn, quoted, qn);
		memcpy(p += qn, ",\"data\":\"", 9);
		p += 9;
		base64_encode(bytes, len, p);
		memcpy(p + bn, tail, (size_t)tn);
		r = conn_send(c, line, total, false);
	}
	free(line);
	cJSON_free(quoted);
	return r;
}

int line_getdata(cb_conn *c, const cJSON *j)
{
	line_conn *l = state_of(c);
	line_transfer *t = &l->get;
	char buf[256 + LINE_FILE_MAX];
	const char *file = file_of(j);
	if (!t->active || !file || strcmp(file, t->file)) {
		char quoted[LINE_FILE_MAX + 1];
		quote_name(quoted, sizeof(quoted), file);
		snprintf(buf, sizeof(buf), "no get in progress for %s", quoted);
		return getdata_refusal(c, file, buf);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cancel"))) {
		get_end(l);
		return getdata_refusal(c, file, "cancelled by the client");
	}
	int64_t k = json_whole_number(cJSON_GetObjectItemCaseSensitive(j, "chunk"));
	if (k < 0 || !is_next_chunk(t, (uint64_t)k)) {
		snprintf(buf, sizeof(buf), "chunk out of order: expected %llu",
			 (unsigned long long)t->next);
		get_end(l);
		return getdata_refusal(c, file, buf);
	}
	uint64_t off = (uint64_t)k * chunk_size(c);
	uint64_t left = t->size > off ? t->size - off : 0; /* clamped before size_t: 32-bit */
	size_t len = (size_t)(left < chunk_size(c) ? left : chunk_size(c));
	unsigned char *bytes = (unsigned char *)malloc(len ? len : 1);
	cb_status s = !bytes ? CB_ERR_NOMEM
		      : len && !read_chunk(l, bytes, len, off) ? CB_ERR_IO : CB_OK;
	if (s) {
		log_error("line: reading %s: %s", t->file,
			  s == CB_ERR_IO ? strerror(errno) : cb_status_str(s));
		free(bytes);
		get_end(l);
		return getdata_refusal(c, file, cb_status_str(s));
	}
	uint64_t remaining = remaining_after((uint64_t)k, t->chunks);
	t->next++;
	int r = getdata_answer(c, file, bytes, len, remaining);
	free(bytes);
	if (!remaining)
		get_end(l);
	return r;
}

void line_files_end(line_conn *l)
{
	put_end(l);
	get_end(l);
	list_end(l);
}
