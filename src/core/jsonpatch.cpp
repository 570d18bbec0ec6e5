/* jsonpatch.cpp: RFC 6902 JSON Patch with RFC 6901 pointers, on cJSON,
 * producing the inverse patch (jsonpatch.h).
 *
 * The operations run on a copy of the document, so a failing one leaves
 * the caller's untouched. Each change is one of three primitives (put a
 * value at a path, take the value at a path, swap the value at a path)
 * and records its own inverse; the inverses, newest first, are the
 * revert patch. move is take + put, copy is put of a duplicate.
 *
 * jsonpatch_diff walks two documents side by side and emits only remove,
 * add and replace, so its patches need none of the above to be built. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/jsonpatch.h"

struct patch_run {
	cJSON *root;     /* the working copy */
	cJSON *revert;   /* inverse operations, newest first */
	int index;       /* of the operation being applied, for err */
	const char *op;
	char *err;
	size_t errsz;
};

static cb_status fail(patch_run *r, cb_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static cb_status fail(patch_run *r, cb_status s, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errsz, "operation %d (%s): %s", r->index, r->op ? r->op : "?", what);
	return s;
}

/* ---- pointers ---- */

/* Where a pointer leads: the container that holds (or will hold) the
 * value and the value's place in it. */
struct place {
	cJSON *parent;  /* NULL: the whole document */
	char *key;      /* the last token, unescaped (malloc'd) */
	int index;      /* arrays: the position; the size for "-" */
	cJSON *item;    /* the value there, or NULL when there is none */
};

/* The next token of pointer *p (at a '/') unescaped into out; false for
 * a '~' that is not "~0" or "~1". */
static bool next_token(const char **p, char *out)
{
	const char *s = *p + 1;
	for (; *s && *s != '/'; s++) {
		if (*s != '~') {
			*out++ = *s;
			continue;
		}
		if (s[1] != '0' && s[1] != '1')
			return false;
		*out++ = s[1] == '0' ? '~' : '/';
		s++;
	}
	*out = 0;
	*p = s;
	return true;
}

/* An array index token: "0" or digits without a leading zero, at most
 * size (the end, for add) or size - 1; "-" is the end. -1 if invalid. */
static int array_index(const char *tok, int size, bool end_ok)
{
	if (!strcmp(tok, "-"))
		return end_ok ? size : -1;
	size_t n = strspn(tok, "0123456789");
	if (!n || tok[n] || (tok[0] == '0' && n > 1) || n > 9)
		return -1;
	int i = atoi(tok);
	return i < size || (end_ok && i == size) ? i : -1;
}

/* Resolves `path` in r->root into pl. All but the last token must lead
 * to existing containers; the last may name nothing yet when `adding`
 * (an object's new key, an array's end or an insert position). */
static cb_status locate(patch_run *r, const char *path, bool adding, place *pl)
{
	memset(pl, 0, sizeof(*pl));
	if (!*path) {
		pl->item = r->root;
		return CB_OK;
	}
	if (*path != '/')
		return fail(r, CB_ERR_INVAL, "\"%s\" is not a JSON pointer", path);
	char *tok = (char *)malloc(strlen(path) + 1);
	if (!tok)
		return CB_ERR_NOMEM;
	cJSON *node = r->root;
	const char *p = path;
	cb_status s;
	for (;;) {
		if (!next_token(&p, tok)) {
			s = fail(r, CB_ERR_INVAL, "bad escape in \"%s\"", path);
			break;
		}
		bool last = !*p;
		cJSON *child = NULL;
		int index = -1;
		if (cJSON_IsObject(node)) {
			child = cJSON_GetObjectItemCaseSensitive(node, tok);
		} else if (!cJSON_IsArray(node)) {
			s = fail(r, CB_ERR_INVAL, "\"%s\" goes through a value that is not a container",
				 path);
			break;
		} else if ((index = array_index(tok, cJSON_GetArraySize(node), last && adding)) < 0) {
			s = fail(r, CB_ERR_INVAL, "no index \"%s\" in the array at \"%s\"", tok, path);
			break;
		} else {
			child = cJSON_GetArrayItem(node, index);
		}
		if (last && (child || adding)) {
			pl->parent = node;
			pl->key = tok;
			pl->index = index;
			pl->item = child;
			return CB_OK;
		}
		if (!child) {
			s = fail(r, CB_ERR_INVAL, "\"%s\" does not exist", path);
			break;
		}
		node = child;
	}
	free(tok);
	return s;
}

/* ---- the primitives and their inverses ---- */

/* Inserts item at index (at most the size). Not cJSON_InsertItemInArray:
 * Debian's cJSON 1.7.15 refuses any index but 0 there. */
static void array_insert(cJSON *array, int index, cJSON *item)
{
	cJSON *before = index ? cJSON_GetArrayItem(array, index - 1) : NULL;
	if (!before || !before->next) {
		if (before)
			cJSON_AddItemToArray(array, item);
		else
			cJSON_InsertItemInArray(array, 0, item);
		return;
	}
	item->prev = before;
	item->next = before->next;
	before->next->prev = item;
	before->next = item;
}

/* path with its last token replaced by an array index (for "-"). */
static char *path_with_index(const char *path, int index)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path) + 1;
	char *s = (char *)malloc(n + 12);
	if (s)
		snprintf(s, n + 12, "%.*s%d", (int)n, path, index);
	return s;
}

/* Records an inverse operation (takes value). */
static cb_status undo(patch_run *r, const char *op, const char *path, cJSON *value)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "op", op) || !cJSON_AddStringToObject(o, "path", path) ||
	    (value && !cJSON_AddItemToObject(o, "value", value))) {
		cJSON_Delete(o);
		cJSON_Delete(value);
		return CB_ERR_NOMEM;
	}
	cJSON_InsertItemInArray(r->revert, 0, o);
	return CB_OK;
}

/* Puts value (taken) in place of the object member pl names, where it
 * was (member order kept). */
static cb_status swap_in_object(patch_run *r, const place *pl, const char *path, cJSON *value)
{
	cJSON *old = cJSON_Duplicate(pl->item, 1);
	if (!old) {
		cJSON_Delete(value);
		return CB_ERR_NOMEM;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(pl->parent, pl->key, value);
	return undo(r, "replace", path, old);
}

/* Puts value (taken) at path: a new key, an insert into an array, or in
 * place of what is there (the root, an object's existing key). */
static cb_status put(patch_run *r, const char *path, cJSON *value)
{
	place pl;
	cb_status s = locate(r, path, true, &pl);
	if (s) {
		cJSON_Delete(value);
		return s;
	}
	if (!pl.parent) { /* the whole document */
		cJSON *old = r->root;
		r->root = value;
		s = undo(r, "replace", "", old);
	} else if (cJSON_IsArray(pl.parent)) {
		array_insert(pl.parent, pl.index, value);
		char *at = path_with_index(path, pl.index);
		s = at ? undo(r, "remove", at, NULL) : CB_ERR_NOMEM;
		free(at);
	} else if (pl.item) {
		s = swap_in_object(r, &pl, path, value);
	} else {
		cJSON_AddItemToObject(pl.parent, pl.key, value);
		s = undo(r, "remove", path, NULL);
	}
	free(pl.key);
	return s;
}

/* Takes the value at path out of the document into *out. */
static cb_status take(patch_run *r, const char *path, cJSON **out)
{
	place pl;
	*out = NULL;
	cb_status s = locate(r, path, false, &pl);
	if (s)
		return s;
	if (!pl.parent) {
		free(pl.key);
		return fail(r, CB_ERR_INVAL, "the whole document cannot be removed");
	}
	*out = cJSON_DetachItemViaPointer(pl.parent, pl.item);
	cJSON *copy = cJSON_Duplicate(*out, 1);
	s = copy ? undo(r, "add", path, copy) : CB_ERR_NOMEM;
	free(pl.key);
	return s;
}

/* Replaces the value at path (which must exist) with value (taken). */
static cb_status swap(patch_run *r, const char *path, cJSON *value)
{
	cJSON *old;
	place pl;
	cb_status s = locate(r, path, false, &pl);
	if (s) {
		cJSON_Delete(value);
		return s;
	}
	if (cJSON_IsObject(pl.parent)) {
		s = swap_in_object(r, &pl, path, value);
		free(pl.key);
		return s;
	}
	if (!pl.parent) {
		old = r->root;
		r->root = value;
	} else {
		old = cJSON_DetachItemViaPointer(pl.parent, pl.item);
		array_insert(pl.parent, pl.index, value);
	}
	free(pl.key);
	return undo(r, "replace", path, old);
}

/* ---- operations ---- */

static const cJSON *member(const cJSON *op, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(op, name);
}

/* A string member, or NULL (then err says which is missing). */
static const char *string_member(patch_run *r, const cJSON *op, const char *name)
{
	const cJSON *v = member(op, name);
	if (cJSON_IsString(v))
		return v->valuestring;
	fail(r, CB_ERR_INVAL, "\"%s\" must be a string", name);
	return NULL;
}

/* Whether an object has two members of one name: RFC 6902 A.13 forbids
 * it in an operation, and a pointer could only name the first. */
static bool has_duplicate_member(const cJSON *object)
{
	for (const cJSON *a = object->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string))
				return true;
	return false;
}

static cb_status apply_one(patch_run *r, const cJSON *op)
{
	const cJSON *value = member(op, "value");
	const char *path, *from = NULL;
	cJSON *v;
	if (!cJSON_IsObject(op))
		return fail(r, CB_ERR_INVAL, "an operation must be an object");
	if (has_duplicate_member(op))
		return fail(r, CB_ERR_INVAL, "a member appears twice");
	if (!(r->op = string_member(r, op, "op")) || !(path = string_member(r, op, "path")))
		return CB_ERR_INVAL;
	bool needs_value = !strcmp(r->op, "add") || !strcmp(r->op, "replace") || !strcmp(r->op, "test");
	bool needs_from = !strcmp(r->op, "move") || !strcmp(r->op, "copy");
	if (needs_value && !value)
		return fail(r, CB_ERR_INVAL, "\"value\" is missing");
	if (needs_from && !(from = string_member(r, op, "from")))
		return CB_ERR_INVAL;

	if (!strcmp(r->op, "add") || !strcmp(r->op, "replace")) {
		if (!(v = cJSON_Duplicate(value, 1)))
			return CB_ERR_NOMEM;
		return r->op[0] == 'a' ? put(r, path, v) : swap(r, path, v);
	}
	if (!strcmp(r->op, "remove")) {
		cb_status s = take(r, path, &v);
		cJSON_Delete(v);
		return s;
	}
	if (!strcmp(r->op, "test")) {
		place pl;
		cb_status s = locate(r, path, false, &pl);
		free(pl.key);
		if (!s && !cJSON_Compare(pl.item, value, 1))
			s = fail(r, CB_ERR_TEST, "the value at \"%s\" is not the one given", path);
		return s;
	}
	if (!strcmp(r->op, "move")) {
		size_t n = strlen(from);
		if (!strncmp(path, from, n) && path[n] == '/')
			return fail(r, CB_ERR_INVAL, "\"%s\" cannot move into itself", from);
		cb_status s = take(r, from, &v);
		return s ? s : put(r, path, v);
	}
	if (!strcmp(r->op, "copy")) {
		place pl;
		cb_status s = locate(r, from, false, &pl);
		free(pl.key);
		if (s)
			return s;
		return (v = cJSON_Duplicate(pl.item, 1)) ? put(r, path, v) : CB_ERR_NOMEM;
	}
	return fail(r, CB_ERR_INVAL, "unknown operation");
}

cb_status jsonpatch_apply(cJSON **doc, const cJSON *patch, cJSON **revert, char *err,
			  size_t errsz)
{
	patch_run r = {NULL, NULL, 0, NULL, err, errsz};
	if (revert)
		*revert = NULL;
	if (errsz)
		err[0] = 0;
	if (!cJSON_IsArray(patch))
		return fail(&r, CB_ERR_INVAL, "a patch must be an array of operations");
	r.root = cJSON_Duplicate(*doc, 1);
	r.revert = cJSON_CreateArray();
	cb_status s = r.root && r.revert ? CB_OK : CB_ERR_NOMEM;
	for (const cJSON *op = patch->child; !s && op; op = op->next, r.index++) {
		r.op = NULL;
		s = apply_one(&r, op);
	}
	if (s) {
		if (s == CB_ERR_NOMEM)
			snprintf(err, errsz, "out of memory");
		cJSON_Delete(r.root);
		cJSON_Delete(r.revert);
		return s;
	}
	cJSON_Delete(*doc);
	*doc = r.root;
	if (revert)
		*revert = r.revert;
	else
		cJSON_Delete(r.revert);
	return CB_OK;
}

/* ---- diff ---- */

/* base + "/" + name escaped as an RFC 6901 token (malloc'd). */
static char *child_pointer(const char *base, const char *name)
{
	size_t n = strlen(base), extra = 0;
	for (const char *c = name; *c; c++)
		extra += *c == '~' || *c == '/';
	char *s = (char *)malloc(n + strlen(name) + extra + 2);
	if (!s)
		return NULL;
	memcpy(s, base, n);
	char *p = s + n;
	*p++ = '/';
	for (const char *c = name; *c; c++) {
		if (*c == '~' || *c == '/') {
			*p++ = '~';
			*p++ = *c == '~' ? '0' : '1';
		} else {
			*p++ = *c;
		}
	}
	*p = 0;
	return s;
}

/* Appends {"op", "path"[, "value": a copy of value]} to patch; false when
 * out of memory (the caller drops the patch, a half-built one with it). */
static bool emit(cJSON *patch, const char *op, const char *path, const cJSON *value)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(patch, o)) {
		cJSON_Delete(o);
		return false;
	}
	cJSON *v = value ? cJSON_Duplicate(value, 1) : NULL;
	if (cJSON_AddStringToObject(o, "op", op) && cJSON_AddStringToObject(o, "path", path) &&
	    (!value || (v && cJSON_AddItemToObject(o, "value", v))))
		return true;
	cJSON_Delete(v); /* not added: that was the last step */
	return false;
}

/* The operations that turn from into to, both at path, appended to patch:
 * two objects member by member (removes and changes in from's order, then
 * adds in to's), anything else one replace if it differs. Objects with a
 * member name twice are replaced whole, as pointers reach only the first. */
static bool diff_into(cJSON *patch, const char *path, const cJSON *from, const cJSON *to)
{
	if (!cJSON_IsObject(from) || !cJSON_IsObject(to) || has_duplicate_member(from) ||
	    has_duplicate_member(to))
		return cJSON_Compare(from, to, 1) || emit(patch, "replace", path, to);
	bool ok = true;
	for (const cJSON *m = from->child; ok && m; m = m->next) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(to, m->string);
		char *at = child_pointer(path, m->string);
		ok = at && (t ? diff_into(patch, at, m, t) : emit(patch, "remove", at, NULL));
		free(at);
	}
	for (const cJSON *m = to->child; ok && m; m = m->next) {
		if (cJSON_GetObjectItemCaseSensitive(from, m->string))
			continue;
		char *at = child_pointer(path, m->string);
		ok = at && emit(patch, "add", at, m);
		free(at);
	}
	return ok;
}

cJSON *jsonpatch_diff(const cJSON *from, const cJSON *to)
{
	cJSON *patch = cJSON_CreateArray();
	if (patch && !diff_into(patch, "", from, to)) {
		cJSON_Delete(patch);
		return NULL;
	}
	return patch;
}
