/* form.h: HTML form bodies (multipart/form-data, RFC 7578, and
 * application/x-www-form-urlencoded) parsed as they stream in.
 *
 * The body is fed in pieces of any size, split anywhere. Fields are
 * handed over whole (each value up to CB_FORM_VALUE_MAX bytes); a file
 * part's content is handed over in pieces straight from the caller's
 * buffer, never copied or held: only the few bytes that might begin the
 * next boundary wait for the next piece.
 *
 * libwebsockets has a form parser (lws_spa), but in 4.1 it keeps only the
 * first value of a repeated field (tags=a&tags=b) and copies every byte of
 * a file through its own buffer, so cubby has this one. */
#pragma once
#include <stddef.h>

#define CB_FORM_NAME_MAX 63      /* bytes of a field name */
#define CB_FORM_FILENAME_MAX 1023 /* bytes of a file part's filename */
#define CB_FORM_VALUE_MAX 8192   /* bytes of a field value */

struct cb_form;

/* What the parser calls, in the order of the body. Each returns 0 to go
 * on, or non-zero to stop parsing (form_feed() then returns 1 and the
 * form takes no more). */
struct cb_form_sink {
	/* A field, not a file: its name and whole value (NUL-terminated
	 * at value[len], which may also hold NUL bytes before that). */
	int (*field)(void *ctx, const char *name, const char *value, size_t len);
	/* A part with a filename in its Content-Disposition starts: the
	 * field name and the filename as the client sent it ("" when it
	 * gave filename=""). */
	int (*file_begin)(void *ctx, const char *name, const char *filename);
	/* The next bytes of that file (len > 0). */
	int (*file_data)(void *ctx, const void *data, size_t len);
	/* That file's last byte has come. */
	int (*file_end)(void *ctx);
	void *ctx;
};

/* A parser for a body of Content-Type `content_type` (the header's value,
 * parameters included), calling sink (copied). NULL when the type is
 * neither multipart/form-data with a boundary nor
 * application/x-www-form-urlencoded, or out of memory: *err says which
 * (a static message). */
cb_form *form_new(const char *content_type, const cb_form_sink *sink, const char **err);

/* Parses the next len bytes of the body. 0: go on; 1: a sink callback
 * stopped it; -1: the body is malformed (form_error() says how). After 1
 * or -1 it takes nothing more. */
int form_feed(cb_form *f, const void *data, size_t len);

/* The body has ended: 0 when it was a whole form (multipart: its closing
 * boundary came; urlencoded: the last field is handed over now, which
 * may stop it: 1), -1 when it was cut short or malformed. */
int form_end(cb_form *f);

/* Why form_feed() or form_end() returned -1. */
const char *form_error(const cb_form *f);

void form_free(cb_form *f);

/* %XX-decodes len bytes of s into out (len + 1 bytes, NUL-terminated):
 * the decoded length, or -1 on a bad escape. '+' stays '+' (a space only
 * in a form body). */
long url_decode(const char *s, size_t len, char *out);
