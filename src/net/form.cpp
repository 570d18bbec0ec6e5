/* form.cpp: the streaming form parser of form.h.
 *
 * multipart/form-data: the body is parts between delimiters
 * "\r\n--<boundary>" (the first may come without its CRLF: the parser
 * starts as if the CRLF had just been read). After a delimiter, "--" ends
 * the form, else the line ends and the part's headers follow up to an
 * empty line. A part's content runs to the next delimiter: a file's
 * content goes to the sink from the caller's buffer as it is scanned,
 * except a tail that may be the start of a delimiter, which waits for the
 * next piece. That tail is always a prefix of the delimiter itself, so
 * only its length is kept: should it turn out to be content, its bytes
 * are the delimiter's own. A boundary has no CR (RFC 2046), so a
 * delimiter can only start at a CR, and a failed match never hides the
 * start of another.
 *
 * urlencoded: name=value pairs separated by '&', '+' a space, %XX a byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cubby/form.h"

#define BOUNDARY_MAX 70 /* RFC 2046 */
#define DELIM_MAX (BOUNDARY_MAX + 4)
#define HEADER_LINE_MAX 2048

enum form_state {
	/* multipart */
	MP_CONTENT,     /* scanning for the delimiter (preamble or a part) */
	MP_AFTER_DELIM, /* "--" or the end of the delimiter's line */
	MP_DASH,        /* one '-' of the closing "--" */
	MP_LINE_END,    /* ignoring to the LF of the delimiter's line */
	MP_HEADERS,     /* a part's header lines */
	MP_DONE,        /* after the closing delimiter: the epilogue */
	/* urlencoded */
	UE_NAME,
	UE_VALUE,
	/* either */
	FORM_STOPPED,   /* a sink stopped it, or it was malformed */
};

enum part_kind { PART_NONE, PART_PREAMBLE, PART_FIELD, PART_FILE };

struct cb_form {
	cb_form_sink sink;
	form_state state;
	const char *error;

	/* multipart */
	char delim[DELIM_MAX + 1]; /* "\r\n--<boundary>" */
	size_t delim_len;
	size_t held;               /* bytes matched of delim at the last piece's end */
	part_kind part;
	bool disposition;          /* the part had Content-Disposition: form-data */
	bool has_filename;
	char filename[CB_FORM_FILENAME_MAX + 1];
	char line[HEADER_LINE_MAX + 1];
	size_t line_len;

	/* urlencoded: a %XX in progress (digits seen, 0-2; its value) */
	int pct_digits, pct_value;

	char name[CB_FORM_NAME_MAX + 1];
	size_t name_len;
	char value[CB_FORM_VALUE_MAX + 1];
	size_t value_len;
};

static int fail(cb_form *f, const char *why)
{
	f->error = why;
	f->state = FORM_STOPPED;
	return -1;
}

/* A sink's answer: non-zero stops the form. */
static int sink_result(cb_form *f, int r)
{
	if (r)
		f->state = FORM_STOPPED;
	return r ? 1 : 0;
}

/* Parameter `param` ("boundary") of a header value, unquoted, into out:
 * 1 found (maybe empty), 0 absent, -1 too long for out. Parameters
 * follow a ';' outside quotes and are matched in any case. */
static int header_param(const char *v, const char *param, char *out, size_t n)
{
	size_t plen = strlen(param);
	bool quoted = false;
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (*p != ';' || quoted)
			continue;
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, param, plen) || q[plen] != '=')
			continue;
		q += plen + 1;
		/* no backslash escapes: browsers send none, and an old
		 * client's C:\path\name must stay as sent */
		bool in_quotes = *q == '"';
		size_t len = 0;
		for (q += in_quotes; *q && (in_quotes ? *q != '"' : !strchr("; \t", *q)); q++) {
			if (len + 1 >= n)
				return -1;
			out[len++] = *q;
		}
		out[len] = 0;
		return 1;
	}
	return 0;
}

/* Whether header value v starts with media type `type` (any case). */
static bool type_is(const char *v, const char *type)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(type);
	return !strncasecmp(v, type, n) && (!v[n] || v[n] == ';' || v[n] == ' ' || v[n] == '\t');
}

cb_form *form_new(const char *content_type, const cb_form_sink *sink, const char **err)
{
	bool multipart = content_type && type_is(content_type, "multipart/form-data");
	bool urlencoded = content_type && type_is(content_type, "application/x-www-form-urlencoded");
	char boundary[BOUNDARY_MAX + 2];
	*err = NULL;
	if (!multipart && !urlencoded) {
		*err = "the body must be multipart/form-data or application/x-www-form-urlencoded";
		return NULL;
	}
	if (multipart && (header_param(content_type, "boundary", boundary, sizeof(boundary)) != 1 ||
			  !boundary[0] || strlen(boundary) > BOUNDARY_MAX || strpbrk(boundary, "\r\n"))) {
		*err = "multipart/form-data needs a boundary of 1-70 characters";
		return NULL;
	}
	cb_form *f = (cb_form *)calloc(1, sizeof(*f));
	if (!f) {
		*err = "out of memory";
		return NULL;
	}
	f->sink = *sink;
	if (multipart) {
		f->delim_len = (size_t)snprintf(f->delim, sizeof(f->delim), "\r\n--%s", boundary);
		f->state = MP_CONTENT;
		f->part = PART_PREAMBLE;
		f->held = 2; /* the body may start with the delimiter, CRLF unsaid */
	} else {
		f->state = UE_NAME;
	}
	return f;
}

void form_free(cb_form *f)
{
	free(f);
}

const char *form_error(const cb_form *f)
{
	return f->error ? f->error : "malformed form";
}

/* ---- multipart ---- */

/* Content bytes of the current part. */
static int part_bytes(cb_form *f, const char *p, size_t n)
{
	if (!n)
		return 0;
	switch (f->part) {
	case PART_FILE:
		return sink_result(f, f->sink.file_data(f->sink.ctx, p, n));
	case PART_FIELD:
		if (n > CB_FORM_VALUE_MAX - f->value_len)
			return fail(f, "a form field's value is too long");
		memcpy(f->value + f->value_len, p, n);
		f->value_len += n;
		return 0;
	default:
		return 0; /* the preamble */
	}
}

/* The delimiter has come: the part before it is whole. */
static int part_end(cb_form *f)
{
	part_kind k = f->part;
	f->part = PART_NONE;
	if (k == PART_FILE)
		return sink_result(f, f->sink.file_end(f->sink.ctx));
	if (k == PART_FIELD) {
		f->value[f->value_len] = 0;
		return sink_result(f, f->sink.field(f->sink.ctx, f->name, f->value, f->value_len));
	}
	return 0;
}

/* Content-Disposition: form-data; name="x"; filename="y" */
static int part_disposition(cb_form *f, const char *v)
{
	if (!type_is(v, "form-data"))
		return fail(f, "a form part's Content-Disposition is not form-data");
	if (header_param(v, "name", f->name, sizeof(f->name)) != 1 || !f->name[0])
		return fail(f, "a form part has no name, or one too long");
	f->name_len = strlen(f->name);
	f->disposition = true;
	/* filename="" is a file part too (a browser's empty file input) */
	int r = header_param(v, "filename", f->filename, sizeof(f->filename));
	if (r < 0)
		return fail(f, "a form part's filename is too long");
	f->has_filename = r == 1;
	return 0;
}

/* One header line of a part (without its CRLF); "" ends the headers. */
static int part_header(cb_form *f)
{
	f->line[f->line_len] = 0;
	if (f->line_len) {
		const char *colon = strchr(f->line, ':');
		if (colon && (size_t)(colon - f->line) == 19 &&
		    !strncasecmp(f->line, "content-disposition", 19))
			return part_disposition(f, colon + 1);
		return 0; /* other headers (Content-Type...) do not matter */
	}
	if (!f->disposition)
		return fail(f, "a form part has no Content-Disposition");
	f->state = MP_CONTENT;
	f->held = 0;
	f->value_len = 0;
	if (!f->has_filename) {
		f->part = PART_FIELD;
		return 0;
	}
	f->part = PART_FILE;
	return sink_result(f, f->sink.file_begin(f->sink.ctx, f->name, f->filename));
}

/* Scans part content in p[0..n) for the delimiter; returns the bytes
 * taken (all of them, unless the delimiter ended the part first), or -1
 * with f stopped. */
static ptrdiff_t scan_content(cb_form *f, const char *p, size_t n)
{
	size_t i = 0;
	if (f->held) {
		/* go on matching the delimiter the last piece ended with */
		while (i < n && f->held < f->delim_len && p[i] == f->delim[f->held]) {
			i++;
			f->held++;
		}
		if (f->held == f->delim_len) {
			f->held = 0;
			f->state = MP_AFTER_DELIM;
			return part_end(f) ? -1 : (ptrdiff_t)i;
		}
		if (i == n)
			return (ptrdiff_t)n; /* still a match so far */
		/* not a delimiter: what was held is content (the bytes matched
		 * of this piece have no CR, so no delimiter starts among them) */
		size_t h = f->held;
		f->held = 0;
		if (part_bytes(f, f->delim, h))
			return -1;
	}
	size_t start = i;
	while (i < n) {
		const char *cr = (const char *)memchr(p + i, '\r', n - i);
		if (!cr)
			break;
		size_t at = (size_t)(cr - p), m = 0;
		while (at + m < n && m < f->delim_len && p[at + m] == f->delim[m])
			m++;
		if (m == f->delim_len) {
			if (part_bytes(f, p + start, at - start))
				return -1;
			f->state = MP_AFTER_DELIM;
			return part_end(f) ? -1 : (ptrdiff_t)(at + m);
		}
		if (at + m == n) { /* the piece ends inside what may be one */
			if (part_bytes(f, p + start, at - start))
				return -1;
			f->held = m;
			return (ptrdiff_t)n;
		}
		i = at + 1;
	}
	return part_bytes(f, p + start, n - start) ? -1 : (ptrdiff_t)n;
}

static void headers_start(cb_form *f)
{
	f->state = MP_HEADERS;
	f->line_len = 0;
	f->disposition = f->has_filename = false;
}

static int multipart_feed(cb_form *f, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		char c = p[i];
		switch (f->state) {
		case MP_CONTENT: {
			ptrdiff_t used = scan_content(f, p + i, n - i);
			if (used < 0)
				return f->error ? -1 : 1;
			i += (size_t)used;
			continue;
		}
		case MP_AFTER_DELIM:
			if (c == '-')
				f->state = MP_DASH;
			else if (c == '\n')
				headers_start(f);
			else if (c == '\r')
				f->state = MP_LINE_END;
			else if (c != ' ' && c != '\t')
				return fail(f, "malformed multipart delimiter");
			break;
		case MP_DASH:
			if (c != '-')
				return fail(f, "malformed multipart delimiter");
			f->state = MP_DONE;
			break;
		case MP_LINE_END:
			if (c != '\n')
				return fail(f, "malformed multipart delimiter");
			headers_start(f);
			break;
		case MP_HEADERS:
			if (c == '\n') {
				if (f->line_len && f->line[f->line_len - 1] == '\r')
					f->line_len--;
				int r = part_header(f);
				if (r)
					return r;
				f->line_len = 0;
			} else if (f->line_len < HEADER_LINE_MAX) {
				f->line[f->line_len++] = c;
			} else {
				return fail(f, "a form part's header line is too long");
			}
			break;
		case MP_DONE:
			return 0; /* the epilogue is not looked at */
		default:
			return -1;
		}
		i++;
	}
	return 0;
}

/* ---- urlencoded ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The pair read so far is whole ('&' or the end of the body). */
static int pair_end(cb_form *f)
{
	if (f->pct_digits)
		return fail(f, "a form field has a bad %-escape");
	int r = 0;
	if (f->name_len || f->value_len) {
		f->name[f->name_len] = 0;
		f->value[f->value_len] = 0;
		r = sink_result(f, f->sink.field(f->sink.ctx, f->name, f->value, f->value_len));
	}
	f->name_len = f->value_len = 0;
	return r;
}

/* One decoded byte of the name or the value. */
static int ue_byte(cb_form *f, char c)
{
	if (f->state == UE_NAME) {
		if (f->name_len >= CB_FORM_NAME_MAX)
			return fail(f, "a form field's name is too long");
		f->name[f->name_len++] = c;
	} else {
		if (f->value_len >= CB_FORM_VALUE_MAX)
			return fail(f, "a form field's value is too long");
		f->value[f->value_len++] = c;
	}
	return 0;
}

static int urlencoded_feed(cb_form *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int r = 0;
		if (f->pct_digits) {
			int d = hex_digit(c);
			if (d < 0)
				return fail(f, "a form field has a bad %-escape");
			f->pct_value = f->pct_value * 16 + d;
			if (++f->pct_digits == 3) {
				f->pct_digits = 0;
				r = ue_byte(f, (char)f->pct_value);
			}
		} else if (c == '%') {
			f->pct_digits = 1;
			f->pct_value = 0;
		} else if (c == '&') {
			r = pair_end(f);
			if (f->state != FORM_STOPPED)
				f->state = UE_NAME;
		} else if (c == '=' && f->state == UE_NAME) {
			f->state = UE_VALUE;
		} else {
			r = ue_byte(f, c == '+' ? ' ' : c);
		}
		if (r)
			return r;
	}
	return 0;
}

int form_feed(cb_form *f, const void *data, size_t len)
{
	if (f->state == FORM_STOPPED)
		return f->error ? -1 : 1;
	const char *p = (const char *)data;
	if (f->state == UE_NAME || f->state == UE_VALUE)
		return urlencoded_feed(f, p, len);
	return multipart_feed(f, p, len);
}

int form_end(cb_form *f)
{
	switch (f->state) {
	case MP_DONE:
		return 0;
	case UE_NAME:
	case UE_VALUE: {
		int r = pair_end(f);
		if (f->state != FORM_STOPPED)
			f->state = FORM_STOPPED; /* takes nothing more */
		return r;
	}
	case FORM_STOPPED:
		return f->error ? -1 : 1;
	default:
		return fail(f, "the form ends before its closing boundary");
	}
}

long url_decode(const char *s, size_t len, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
		int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
		if (lo < 0)
			return -1;
		out[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[n] = 0;
	return (long)n;
}
