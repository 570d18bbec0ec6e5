/* forms.cpp: HTML form bodies as a browser sends them to spec 5's
 * POST /fm: multipart/form-data (RFC 7578) with fields and file parts
 * from memory, or application/x-www-form-urlencoded; the POST with the
 * right Content-Type; and checks of the acp answers. */
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
#include <strings.h>

#include "support.h"

/* ---- building ---- */

static char *dup_bytes(const void *p, size_t n)
{
	char *d = (char *)malloc(n + 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	d[n] = 0;
	return d;
}

void t_form_init(t_form *f, bool urlencoded)
{
	memset(f, 0, sizeof(*f));
	f->urlencoded = urlencoded;
}

static t_form_part *new_part(t_form *f, const char *name)
{
	if (f->nparts == T_FORM_PARTS)
		fail_msg("test bug: a form of more than %d parts", T_FORM_PARTS);
	t_form_part *p = &f->part[f->nparts++];
	memset(p, 0, sizeof(*p));
	p->name = dup_bytes(name, strlen(name));
	return p;
}

void t_form_field(t_form *f, const char *name, const char *value)
{
	t_form_part *p = new_part(f, name);
	p->len = strlen(value);
	p->value = dup_bytes(value, p->len);
}

void t_form_vfields(t_form *f, va_list ap)
{
	for (const char *name; (name = va_arg(ap, const char *));)
		t_form_field(f, name, va_arg(ap, const char *));
}

void t_form_fields(t_form *f, ...)
{
	va_list ap;
	va_start(ap, f);
	t_form_vfields(f, ap);
	va_end(ap);
}

void t_form_file(t_form *f, const char *name, const char *filename, const char *type,
		 const void *data, size_t len)
{
	if (f->urlencoded)
		fail_msg("test bug: a file part in an urlencoded form");
	t_form_part *p = new_part(f, name);
	p->value = dup_bytes(data, len);
	p->len = len;
	p->filename = dup_bytes(filename, strlen(filename));
	type = type ? type : "application/octet-stream";
	p->type = dup_bytes(type, strlen(type));
}

/* ---- the body ---- */

/* Percent-encodes all but the unreserved characters (so '+' and ' '
 * travel as %2B and %20, never ambiguous). */
static void out_urlencoded(t_buf *o, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c)) {
			t_buf_add(o, &c, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			t_buf_add(o, e, 3);
		}
	}
}

static bool occurs(const t_form_part *p, const char *b)
{
	size_t bl = strlen(b);
	return memmem(p->value, p->len, b, bl) || strstr(p->name, b) ||
	       (p->filename && strstr(p->filename, b));
}

/* A boundary that occurs in no part of f. */
static void pick_boundary(const t_form *f, char *b, size_t n)
{
	static uint32_t x = 0x9e3779b9u;
	for (;;) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		snprintf(b, n, "----cubby-test-form-%08x", (unsigned)x);
		bool clash = false;
		for (int i = 0; i < f->nparts && !clash; i++)
			clash = occurs(&f->part[i], b);
		if (!clash)
			return;
	}
}

const char *t_form_body(t_form *f, size_t *len)
{
	t_buf o = {NULL, 0, 0};
	t_buf_str(&o, ""); /* an empty form is an empty body, not NULL */
	if (f->urlencoded) {
		snprintf(f->type, sizeof(f->type), "application/x-www-form-urlencoded");
		for (int i = 0; i < f->nparts; i++) {
			if (i)
				t_buf_str(&o, "&");
			out_urlencoded(&o, f->part[i].name, strlen(f->part[i].name));
			t_buf_str(&o, "=");
			out_urlencoded(&o, f->part[i].value, f->part[i].len);
		}
	} else {
		char b[64];
		pick_boundary(f, b, sizeof(b));
		snprintf(f->type, sizeof(f->type), "multipart/form-data; boundary=%s", b);
		for (int i = 0; i < f->nparts; i++) {
			const t_form_part *p = &f->part[i];
			char head[2400];
			if (p->filename)
				snprintf(head, sizeof(head),
					 "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
					 "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
					 b, p->name, p->filename, p->type);
			else
				snprintf(head, sizeof(head),
					 "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n", b,
					 p->name);
			t_buf_str(&o, head);
			t_buf_add(&o, p->value, p->len);
			t_buf_str(&o, "\r\n");
		}
		t_buf_str(&o, "--");
		t_buf_str(&o, b);
		t_buf_str(&o, "--\r\n");
	}
	free(f->body);
	f->body = o.p;
	f->body_len = o.len;
	*len = o.len;
	return f->body;
}

int t_form_post(int port, const char *path, const char *headers, t_form *f, t_http_response *out)
{
	size_t len;
	const char *body = t_form_body(f, &len);
	size_t hl = strlen(f->type) + (headers ? strlen(headers) : 0) + 32;
	char *h = (char *)malloc(hl);
	assert_non_null(h);
	snprintf(h, hl, "Content-Type: %s\r\n%s", f->type, headers ? headers : "");
	int rc = t_http(port, "POST", path, h, body, len, out);
	free(h);
	return rc;
}

void t_form_free(t_form *f)
{
	for (int i = 0; i < f->nparts; i++) {
		free(f->part[i].name);
		free(f->part[i].value);
		free(f->part[i].filename);
		free(f->part[i].type);
	}
	free(f->body);
	memset(f, 0, sizeof(*f));
}

/* ---- acp answers ---- */

cJSON *t_acp_parse(const t_http_response *r, int status, char *why, size_t n)
{
	char type[128];
	const char *bad = NULL;
	cJSON *j = NULL;
	if (r->status != status)
		bad = "wrong status";
	else if (!t_http_header(r, "content-type", type, sizeof(type)) ||
		 strncasecmp(type, "application/json", 16))
		bad = "Content-Type is not application/json";
	else if (!cJSON_IsObject(j = t_http_json(r)))
		bad = "the body is not a JSON object";
	else if (!t_json_str(j, "type") ||
		 (strcmp(t_json_str(j, "type"), "success") && strcmp(t_json_str(j, "type"), "error")))
		bad = "\"type\" is not \"success\" or \"error\"";
	if (!bad)
		return j;
	cJSON_Delete(j);
	snprintf(why, n, "%s: want HTTP %d with an acp answer, got %d %.*s", bad, status, r->status,
		 (int)(r->body_len > 600 ? 600 : r->body_len), r->body ? r->body : "");
	return NULL;
}

int t_check_acp_error(const t_http_response *r, int status, const char *error, bool prefix,
		      char *why, size_t n)
{
	cJSON *j = t_acp_parse(r, status, why, n);
	if (!j)
		return -1;
	const char *e = t_json_str(j, "error");
	bool ok = cJSON_GetArraySize(j) == 2 && !strcmp(t_json_str(j, "type"), "error") && e &&
		  (prefix ? !strncmp(e, error, strlen(error)) : !strcmp(e, error));
	cJSON_Delete(j);
	if (ok)
		return 0;
	snprintf(why, n, "want %d {\"type\":\"error\",\"error\":\"%s%s\"}, got %d %.*s", status, error,
		 prefix ? "..." : "", r->status, (int)(r->body_len > 600 ? 600 : r->body_len),
		 r->body ? r->body : "");
	return -1;
}
