/* test_form.cpp: the streaming form parser (include/cubby/form.h).
 * multipart/form-data: fields, files and fields in one body; file content
 * that looks like the start of a boundary; empty files, filename="",
 * repeated names; the forms of Content-Type and of part headers; preamble
 * and epilogue. application/x-www-form-urlencoded: '+', %-escapes, empty
 * values, keys without '=', repeated keys, the last field at form_end().
 * Every body is fed whole, a byte at a time, in pieces of a few sizes and
 * split in two at every position, and must give the same callbacks; file
 * bytes come from the caller's buffer, never empty. Also the limits (at
 * them and one over), malformed and cut-short bodies, the content types
 * form_new() refuses, a sink that stops the parse; and url_decode(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/form.h"
#include "support/support.h"

/* ======================= helpers ======================= */

/* Bytes with their length: bodies and logs hold NULs. */
struct bytes {
	const char *p;
	size_t len;
};
#define BYTES(lit) (bytes{lit, sizeof(lit) - 1})

static bytes as_bytes(const t_buf *b)
{
	return bytes{b->p, b->len};
}

/* What the sink saw: every callback in a log, "F name=value|",
 * "B name:filename|", "D <bytes>|", "E|", where consecutive file pieces
 * join in one D (so how the parser splits a file does not show); and the
 * contract's checks that do not show in the log. */
struct recorder {
	t_buf log;
	bool in_data;      /* the log ends in a D: the next piece extends it */
	const char *piece; /* what form_feed() parses now; NULL outside it */
	size_t piece_len;
	size_t copied;     /* file bytes handed over from outside that piece */
	size_t max_copied; /* the most of those in one file_data() */
	int empty_data;    /* file_data() with len 0 */
	int unterminated;  /* field values without a NUL at value[len] */
	int calls;
	int stop_at;       /* the callback (1st, 2nd, ...) that says stop; 0: none */
	bool done;         /* stopped or failed: no callback may come */
	int late;          /* callbacks that came all the same */
};

/* Counts a callback; its return value for the parser. */
static int note(recorder *r)
{
	r->calls++;
	if (r->done)
		r->late++;
	if (r->stop_at && r->calls == r->stop_at) {
		r->done = true;
		return 1;
	}
	return 0;
}

static int on_field(void *ctx, const char *name, const char *value, size_t len)
{
	recorder *r = (recorder *)ctx;
	if (value[len])
		r->unterminated++;
	r->in_data = false;
	t_buf_str(&r->log, "F ");
	t_buf_str(&r->log, name);
	t_buf_str(&r->log, "=");
	t_buf_add(&r->log, value, len);
	t_buf_str(&r->log, "|");
	return note(r);
}

static int on_file_begin(void *ctx, const char *name, const char *filename)
{
	recorder *r = (recorder *)ctx;
	r->in_data = false;
	t_buf_str(&r->log, "B ");
	t_buf_str(&r->log, name);
	t_buf_str(&r->log, ":");
	t_buf_str(&r->log, filename);
	t_buf_str(&r->log, "|");
	return note(r);
}

static int on_file_data(void *ctx, const void *data, size_t len)
{
	recorder *r = (recorder *)ctx;
	if (!len)
		r->empty_data++;
	uintptr_t p = (uintptr_t)data, start = (uintptr_t)r->piece;
	if (!r->piece || p < start || p + len > start + r->piece_len) {
		r->copied += len;
		if (len > r->max_copied)
			r->max_copied = len;
	}
	if (r->in_data)
		r->log.len--; /* drop the D's '|' to extend it */
	else
		t_buf_str(&r->log, "D ");
	t_buf_add(&r->log, data, len);
	t_buf_str(&r->log, "|");
	r->in_data = true;
	return note(r);
}

static int on_file_end(void *ctx)
{
	recorder *r = (recorder *)ctx;
	r->in_data = false;
	t_buf_str(&r->log, "E|");
	return note(r);
}

/* How run() cuts a body: a first piece of `first` bytes, then pieces of
 * `size` bytes. */
struct cut {
	size_t first, size;
	const char *how; /* for messages */
};

static void check_error_message(const cb_form *f)
{
	const char *e = form_error(f);
	assert_non_null(e);
	assert_true(e[0] != '\0');
}

/* Parses body with a fresh parser for content type ct, cut as c says,
 * each piece in a malloc'd buffer of just its size (so ASan sees a read
 * past a piece, or a byte used after its form_feed() returned), then
 * form_end(). Returns the first non-zero result, else form_end()'s. After
 * a non-zero result it feeds the rest and ends all the same: no callback
 * may come of that. r keeps its stop_at and its log's buffer. */
static int run(const char *ct, bytes body, cut c, recorder *r)
{
	int stop_at = r->stop_at;
	t_buf log = r->log;
	log.len = 0;
	memset(r, 0, sizeof(*r));
	r->log = log;
	r->stop_at = stop_at;
	t_buf_add(&r->log, "", 0);

	cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, r};
	const char *err = NULL;
	cb_form *f = form_new(ct, &sink, &err);
	if (!f)
		print_error("form_new(\"%s\"): %s\n", ct, err ? err : "(no message)");
	assert_non_null(f);

	assert_true(c.size > 0);
	int res = 0;
	for (size_t off = 0, n = c.first; off < body.len; off += n, n = c.size) {
		if (n > body.len - off)
			n = body.len - off;
		if (!n)
			continue;
		char *piece = (char *)malloc(n);
		assert_non_null(piece);
		memcpy(piece, body.p + off, n);
		r->piece = piece;
		r->piece_len = n;
		int got = form_feed(f, piece, n);
		r->piece = NULL;
		free(piece);
		if (!res && got) {
			res = got;
			r->done = true;
			if (got == -1)
				check_error_message(f);
		}
	}
	int got = form_end(f);
	if (!res) {
		res = got;
		if (got == -1)
			check_error_message(f);
	}
	form_free(f);
	return res;
}

/* A byte string for messages: \r, \n, \0 and the like escaped. */
static void print_escaped(const char *label, bytes b)
{
	t_buf out = {};
	for (size_t i = 0; i < b.len; i++) {
		unsigned char ch = (unsigned char)b.p[i];
		char tmp[8];
		if (ch == '\r')
			t_buf_str(&out, "\\r");
		else if (ch == '\n')
			t_buf_str(&out, "\\n");
		else if (ch == '\\')
			t_buf_str(&out, "\\\\");
		else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
			t_buf_str(&out, tmp);
		} else
			t_buf_add(&out, &ch, 1);
	}
	t_buf_add(&out, "", 0);
	print_error("  %s (%zu bytes): %s\n", label, b.len, out.p);
	t_buf_free(&out);
}

/* The contract's checks for any run: the log (unless want.p is NULL), no
 * empty file piece, values NUL-terminated, nothing after a stop. */
static void check_run(const recorder *r, bytes want, const char *how, size_t arg)
{
	bool log_ok = !want.p ||
		      (r->log.len == want.len && !memcmp(r->log.p, want.p, want.len));
	if (!log_ok || r->empty_data || r->unterminated || r->late) {
		print_error("fed %s (%zu): %d empty file pieces, %d unterminated "
			    "values, %d callbacks after the end\n",
			    how, arg, r->empty_data, r->unterminated, r->late);
		print_escaped("got ", as_bytes(&r->log));
		if (want.p)
			print_escaped("want", want);
	}
	assert_true(log_ok);
	assert_int_equal(r->empty_data, 0);
	assert_int_equal(r->unterminated, 0);
	assert_int_equal(r->late, 0);
}

/* One run() checked: its result, the contract's checks, and `hold`: the
 * most file bytes one file_data() may hand over from outside the piece
 * being fed (the bytes that might have begun a boundary and so waited). */
static void check_cut(const char *ct, bytes body, cut c, size_t arg, int want_res,
		      bytes want, size_t hold, recorder *r)
{
	int res = run(ct, body, c, r);
	if (res != want_res)
		print_error("fed %s (%zu): result %d, want %d\n", c.how, arg, res, want_res);
	check_run(r, want, c.how, arg);
	assert_int_equal(res, want_res);
	if (r->max_copied > hold)
		print_error("fed %s (%zu): %zu file bytes in one piece from outside the "
			    "fed buffer (at most %zu may wait for a boundary)\n",
			    c.how, arg, r->max_copied, hold);
	assert_true(r->max_copied <= hold);
}

/* Bodies up to this long are also split in two at every position. */
#define SPLIT_ALL_MAX 4096

/* The body, however it is cut, gives want_res and the log want (not
 * checked when want.p is NULL). Fed whole, every file byte comes straight
 * from the fed buffer; in pieces, at most `hold` bytes at a time come from
 * elsewhere. */
static void check_cuts_hold(const char *ct, bytes body, int want_res, bytes want, size_t hold)
{
	recorder r = {};
	size_t whole = body.len ? body.len : 1;
	check_cut(ct, body, cut{whole, whole, "whole"}, body.len, want_res, want, 0, &r);
	static const size_t sizes[] = {1, 2, 3, 7, 64, 4096};
	for (size_t k : sizes)
		check_cut(ct, body, cut{k, k, "in pieces of"}, k, want_res, want, hold, &r);
	if (body.len <= SPLIT_ALL_MAX)
		for (size_t i = 1; i < body.len; i++)
			check_cut(ct, body, cut{i, whole, "split at"}, i, want_res, want, hold, &r);
	t_buf_free(&r.log);
}

/* The bytes that may wait for a boundary: "\r\n--" and the longest one
 * these tests use. */
#define HOLD_MAX (4 + 70)

static void check_cuts(const char *ct, bytes body, int want_res, bytes want)
{
	check_cuts_hold(ct, body, want_res, want, HOLD_MAX);
}

/* A body that is a whole form giving the log want. */
static void check_form(const char *ct, bytes body, bytes want)
{
	check_cuts(ct, body, 0, want);
}

/* A body that is malformed however it is cut. */
static void check_malformed(const char *ct, bytes body)
{
	check_cuts(ct, body, -1, bytes{NULL, 0});
}

/* `len` letters that show where each came from. */
static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* Where needle first occurs in hay[0, len) (which may hold NULs), or
 * len when it does not. */
static size_t find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(hay + i, needle, n))
			return i;
	return len;
}

/* A multipart part: its Content-Disposition (name and, when not NULL,
 * filename), then its content. */
static void add_part(t_buf *b, const char *boundary, const char *name, const char *filename,
		     bytes content)
{
	t_buf_str(b, "--");
	t_buf_str(b, boundary);
	t_buf_str(b, "\r\nContent-Disposition: form-data; name=\"");
	t_buf_str(b, name);
	t_buf_str(b, "\"");
	if (filename) {
		t_buf_str(b, "; filename=\"");
		t_buf_str(b, filename);
		t_buf_str(b, "\"\r\nContent-Type: application/octet-stream");
	}
	t_buf_str(b, "\r\n\r\n");
	t_buf_add(b, content.p, content.len);
	t_buf_str(b, "\r\n");
}

/* The closing boundary. */
static void add_close(t_buf *b, const char *boundary)
{
	t_buf_str(b, "--");
	t_buf_str(b, boundary);
	t_buf_str(b, "--\r\n");
}

/* The log of one file: B, D (none when empty), E. */
static void log_file(t_buf *b, const char *name, const char *filename, bytes content)
{
	t_buf_str(b, "B ");
	t_buf_str(b, name);
	t_buf_str(b, ":");
	t_buf_str(b, filename);
	t_buf_str(b, "|");
	if (content.len) {
		t_buf_str(b, "D ");
		t_buf_add(b, content.p, content.len);
		t_buf_str(b, "|");
	}
	t_buf_str(b, "E|");
}

static void log_field(t_buf *b, const char *name, bytes value)
{
	t_buf_str(b, "F ");
	t_buf_str(b, name);
	t_buf_str(b, "=");
	t_buf_add(b, value.p, value.len);
	t_buf_str(b, "|");
}

#define MP "multipart/form-data; boundary=XyZ"
#define URLENC "application/x-www-form-urlencoded"

/* ======================= multipart ======================= */

/* Two fields (one over two lines, one with a NUL), a file whose content
 * has CR, LF and dashes, and a field after it. */
static const char BASIC[] =
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"title\"\r\n"
	"\r\n"
	"Summer trip\r\n"
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"note\"\r\n"
	"\r\n"
	"line one\r\nline two\0end\r\n"
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"photo\"; filename=\"beach.png\"\r\n"
	"Content-Type: image/png\r\n"
	"\r\n"
	"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-\r\n-X\r\n"
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"album\"\r\n"
	"\r\n"
	"2024\r\n"
	"--XyZ--\r\n";
static const char BASIC_LOG[] =
	"F title=Summer trip|"
	"F note=line one\r\nline two\0end|"
	"B photo:beach.png|"
	"D \x89PNG\r\n\x1a\n\0\0\0\rIHDR-\r\n-X|"
	"E|"
	"F album=2024|";

static void test_multipart_fields_file_field(void **state)
{
	(void)state;
	check_form(MP, BYTES(BASIC), BYTES(BASIC_LOG));
}

/* Empty pieces between the others change nothing (and take nothing). */
static void test_multipart_empty_pieces(void **state)
{
	(void)state;
	recorder r = {};
	cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, &r};
	const char *err = NULL;
	cb_form *f = form_new(MP, &sink, &err);
	assert_non_null(f);
	const size_t len = sizeof(BASIC) - 1;
	for (size_t off = 0; off < len; off += 5) {
		assert_int_equal(form_feed(f, BASIC + off, 0), 0);
		size_t n = len - off < 5 ? len - off : 5;
		assert_int_equal(form_feed(f, BASIC + off, n), 0);
	}
	assert_int_equal(form_feed(f, BASIC + len, 0), 0);
	assert_int_equal(form_end(f), 0);
	form_free(f);
	check_run(&r, BYTES(BASIC_LOG), "in pieces of 5 with empty ones", 5);
	t_buf_free(&r.log);
}

/* File content the boundary search must not be fooled by: CR, LF, CRLF,
 * "\r\n--", prefixes of the delimiter followed by other bytes, a
 * delimiter prefix that restarts, "--BOUNDARY" not at a line's start,
 * and content ending in "\r", "\r\n", "\r\n-", "\r\n--BOUNDAR". Each comes
 * out byte for byte, and the field after it too. */
static void test_multipart_file_looks_like_boundary(void **state)
{
	(void)state;
	static const bytes contents[] = {
		BYTES("\r"),
		BYTES("\n"),
		BYTES("\r\n"),
		BYTES("-"),
		BYTES("--"),
		BYTES("\r\n-"),
		BYTES("\r\n--"),
		BYTES("a\rb\nc\r\nd\n\re"),
		BYTES("x\r\n--y"),
		BYTES("\r\n--BOUNDAR"),
		BYTES("\r\n--BOUNDARx and more"),
		BYTES("\r\n--BOUNDA\r\n--BOUNDAR\r\n-\r\n--"),
		BYTES("ab\r"),
		BYTES("ab\r\r"),
		BYTES("ab\r\n\r"),
		BYTES("x--BOUNDARY--\r\n"),
		BYTES("x--BOUNDARY y"),
		BYTES("\r\n\r\n"),
		BYTES("\r\n\r\n--BOUNDAR\r\n"),
		BYTES("\0\r\0\n\0-\0"),
		BYTES("\r\r\r\n\n\n---BOUNDAR-"),
	};
	for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
		t_buf body = {}, want = {};
		add_part(&body, "BOUNDARY", "f", "c.bin", contents[i]);
		add_part(&body, "BOUNDARY", "after", NULL, BYTES("ok"));
		add_close(&body, "BOUNDARY");
		log_file(&want, "f", "c.bin", contents[i]);
		log_field(&want, "after", BYTES("ok"));
		check_form("multipart/form-data; boundary=BOUNDARY", as_bytes(&body), as_bytes(&want));
		/* the same bytes as a field's value */
		t_buf_free(&body);
		t_buf_free(&want);
		add_part(&body, "BOUNDARY", "v", NULL, contents[i]);
		add_close(&body, "BOUNDARY");
		log_field(&want, "v", contents[i]);
		check_form("multipart/form-data; boundary=BOUNDARY", as_bytes(&body), as_bytes(&want));
		t_buf_free(&body);
		t_buf_free(&want);
	}
}

/* `len` bytes heavy in CR, LF, '-' and the boundary's letters (or with
 * no CR at all), from a fixed seed. */
static char *make_content(size_t len, bool with_cr)
{
	static const char alphabet[] = "\r\n--cuby7f3a9e\0xyz";
	char *p = (char *)malloc(len);
	assert_non_null(p);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		char ch = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
		p[i] = ch == '\r' && !with_cr ? '\n' : ch;
	}
	return p;
}


/* A large file: byte for byte however it is cut; fed whole, every piece
 * points into the fed buffer; in pieces, only bytes that might have begun
 * the delimiter ("\r\n--cubby-7f3a9e", 16 bytes) come from elsewhere,
 * at most 15 at a time. */
static void test_multipart_large_file(void **state)
{
	(void)state;
	const size_t len = 200 * 1000;
	char *content = make_content(len, true);
	/* the content must not hold the delimiter */
	assert_int_equal(find(content, len, "\r\n--cubby-7f3a9e"), len);
	t_buf body = {}, want = {};
	add_part(&body, "cubby-7f3a9e", "big", "big.bin", bytes{content, len});
	add_close(&body, "cubby-7f3a9e");
	log_file(&want, "big", "big.bin", bytes{content, len});
	check_cuts_hold("multipart/form-data; boundary=cubby-7f3a9e", as_bytes(&body), 0,
			as_bytes(&want), 15);
	t_buf_free(&body);
	t_buf_free(&want);
	free(content);
}

/* Bytes that cannot begin the delimiter (no CR) do not wait: in pieces of
 * any size, every file byte comes from the buffer being fed. */
static void test_multipart_file_without_cr_not_held(void **state)
{
	(void)state;
	const size_t len = 20 * 1000;
	char *content = make_content(len, false);
	t_buf body = {}, want = {};
	add_part(&body, "cubby-7f3a9e", "big", "big.bin", bytes{content, len});
	add_close(&body, "cubby-7f3a9e");
	log_file(&want, "big", "big.bin", bytes{content, len});
	check_cuts_hold("multipart/form-data; boundary=cubby-7f3a9e", as_bytes(&body), 0,
			as_bytes(&want), 0);
	t_buf_free(&body);
	t_buf_free(&want);
	free(content);
}

/* An empty file, filename="" (still a file, named ""), filename before
 * name, and a part without filename (a field, even when empty). */
static void test_multipart_empty_file_and_filename(void **state)
{
	(void)state;
	static const char body[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"empty\"; filename=\"none.txt\"\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"blank\"; filename=\"\"\r\n"
		"Content-Type: application/octet-stream\r\n"
		"\r\n"
		"\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; filename=\"first.txt\"; name=\"order\"\r\n"
		"\r\n"
		"x\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"plain\"\r\n"
		"\r\n"
		"\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"text\"\r\n"
		"\r\n"
		"not a file\r\n"
		"--XyZ--\r\n";
	check_form(MP, BYTES(body),
		   BYTES("B empty:none.txt|E|"
			 "B blank:|E|"
			 "B order:first.txt|D x|E|"
			 "F plain=|"
			 "F text=not a file|"));
}

/* Every value of a repeated name is reported, in order: fields and files. */
static void test_multipart_repeated_names(void **state)
{
	(void)state;
	t_buf body = {}, want = {};
	static const char *const names[] = {"tags", "tags", "tags[]", "tags[]"};
	static const bytes values[] = {BYTES("red"), BYTES("blue"), BYTES("one"), BYTES("two")};
	for (size_t i = 0; i < 4; i++) {
		add_part(&body, "XyZ", names[i], NULL, values[i]);
		log_field(&want, names[i], values[i]);
	}
	add_part(&body, "XyZ", "docs[]", "a.txt", BYTES("A"));
	add_part(&body, "XyZ", "docs[]", "b.txt", BYTES("B"));
	add_close(&body, "XyZ");
	log_file(&want, "docs[]", "a.txt", BYTES("A"));
	log_file(&want, "docs[]", "b.txt", BYTES("B"));
	check_form(MP, as_bytes(&body), as_bytes(&want));
	t_buf_free(&body);
	t_buf_free(&want);
}

/* The boundary bare, quoted, with other parameters before or after, the
 * type and parameter names in any case. */
static void test_multipart_content_type_forms(void **state)
{
	(void)state;
	static const char *const types[] = {
		"multipart/form-data; boundary=abc",
		"multipart/form-data; boundary=\"abc\"",
		"multipart/form-data;boundary=abc",
		"multipart/form-data; charset=utf-8; boundary=abc",
		"multipart/form-data; boundary=abc; charset=utf-8",
		"multipart/form-data; boundary=\"abc\"; charset=utf-8",
		"multipart/form-data; charset=\"utf-8\"; boundary=\"abc\"",
		"Multipart/Form-Data; boundary=abc",
		"MULTIPART/FORM-DATA; BOUNDARY=abc",
	};
	t_buf body = {}, want = {};
	add_part(&body, "abc", "a", NULL, BYTES("1"));
	add_part(&body, "abc", "f", "f.txt", BYTES("data"));
	add_close(&body, "abc");
	log_field(&want, "a", BYTES("1"));
	log_file(&want, "f", "f.txt", BYTES("data"));
	for (const char *ct : types)
		check_form(ct, as_bytes(&body), as_bytes(&want));
	t_buf_free(&body);
	t_buf_free(&want);

	/* a quoted boundary with characters a bare one cannot have */
	add_part(&body, "----=_Part:1", "a", NULL, BYTES("1"));
	add_close(&body, "----=_Part:1");
	log_field(&want, "a", BYTES("1"));
	check_form("multipart/form-data; boundary=\"----=_Part:1\"; charset=utf-8",
		   as_bytes(&body), as_bytes(&want));
	t_buf_free(&body);
	t_buf_free(&want);
}

/* Part header names in any case, other part headers ignored (before or
 * after Content-Disposition), a preamble before the first boundary and an
 * epilogue after the closing one (even one that looks like a part). */
static void test_multipart_headers_preamble_epilogue(void **state)
{
	(void)state;
	static const char body[] =
		"This is the preamble; it is ignored.\r\n"
		"--abc\r\n"
		"content-disposition: form-data; name=\"a\"\r\n"
		"\r\n"
		"1\r\n"
		"--abc\r\n"
		"CONTENT-DISPOSITION: form-data; name=\"b\"\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"\r\n"
		"2\r\n"
		"--abc\r\n"
		"Content-Type: image/png\r\n"
		"Content-Disposition: form-data; name=\"c\"; filename=\"c.png\"\r\n"
		"Content-Transfer-Encoding: binary\r\n"
		"X-Whatever: name=\"z\"; filename=\"z\"\r\n"
		"\r\n"
		"PNG\r\n"
		"--abc--\r\n"
		"The epilogue, ignored too:\r\n"
		"--abc\r\n"
		"Content-Disposition: form-data; name=\"z\"\r\n"
		"\r\n"
		"z\r\n"
		"--abc--\r\n";
	check_form("multipart/form-data; boundary=abc", BYTES(body),
		   BYTES("F a=1|F b=2|B c:c.png|D PNG|E|"));
}

/* A quoted parameter value may hold ';' and '=': such a value is one
 * parameter, so "; name=" inside a filename does not name the part, and
 * "; filename=" inside a name does not make a field a file; nor does
 * "boundary=" inside another quoted Content-Type parameter. */
static void test_multipart_quoted_params(void **state)
{
	(void)state;
	static const char name_in_filename[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"f\"; filename=\"a; name=b.txt\"\r\n"
		"\r\n"
		"d\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; filename=\"c; name=d.txt\"; name=\"g\"\r\n"
		"\r\n"
		"e\r\n"
		"--XyZ--\r\n";
	check_form(MP, BYTES(name_in_filename),
		   BYTES("B f:a; name=b.txt|D d|E|B g:c; name=d.txt|D e|E|"));
	static const char filename_in_name[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"a;b=c\"\r\n"
		"\r\n"
		"1\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"x; filename=y\"\r\n"
		"\r\n"
		"2\r\n"
		"--XyZ--\r\n";
	check_form(MP, BYTES(filename_in_name), BYTES("F a;b=c=1|F x; filename=y=2|"));

	t_buf body = {}, want = {};
	add_part(&body, "abc", "a", NULL, BYTES("1"));
	add_close(&body, "abc");
	log_field(&want, "a", BYTES("1"));
	check_form("multipart/form-data; charset=\"x;boundary=nope\"; boundary=abc",
		   as_bytes(&body), as_bytes(&want));
	t_buf_free(&body);
	t_buf_free(&want);
}

/* Names at CB_FORM_NAME_MAX, values at CB_FORM_VALUE_MAX and filenames
 * at CB_FORM_FILENAME_MAX bytes are whole; one byte more in a name or a
 * value is malformed. */
static void test_multipart_limits(void **state)
{
	(void)state;
	char name[CB_FORM_NAME_MAX + 2], filename[CB_FORM_FILENAME_MAX + 1];
	char *value = (char *)malloc(CB_FORM_VALUE_MAX + 1);
	assert_non_null(value);
	fill(name, CB_FORM_NAME_MAX, 1);
	name[CB_FORM_NAME_MAX] = 0;
	fill(filename, CB_FORM_FILENAME_MAX, 2);
	filename[CB_FORM_FILENAME_MAX] = 0;
	fill(value, CB_FORM_VALUE_MAX + 1, 3);
	/* the value's last bytes look like a delimiter's start */
	memcpy(value + CB_FORM_VALUE_MAX - 5, "\r\n--X", 5);

	t_buf body = {}, want = {};
	add_part(&body, "XyZ", name, NULL, bytes{value, CB_FORM_VALUE_MAX});
	add_part(&body, "XyZ", "f", filename, BYTES("x"));
	add_close(&body, "XyZ");
	log_field(&want, name, bytes{value, CB_FORM_VALUE_MAX});
	log_file(&want, "f", filename, BYTES("x"));
	check_form(MP, as_bytes(&body), as_bytes(&want));
	t_buf_free(&body);
	t_buf_free(&want);

	/* a value one byte over */
	add_part(&body, "XyZ", "v", NULL, bytes{value, CB_FORM_VALUE_MAX + 1});
	add_close(&body, "XyZ");
	check_malformed(MP, as_bytes(&body));
	t_buf_free(&body);

	/* a name one byte over */
	fill(name, CB_FORM_NAME_MAX + 1, 1);
	name[CB_FORM_NAME_MAX + 1] = 0;
	add_part(&body, "XyZ", name, NULL, BYTES("v"));
	add_close(&body, "XyZ");
	check_malformed(MP, as_bytes(&body));
	t_buf_free(&body);
	free(value);
}

/* A body cut short anywhere before the end of its closing delimiter is
 * not a whole form: form_end() says -1 (when form_feed() did not). */
static void test_multipart_cut_short(void **state)
{
	(void)state;
	const size_t close = find(BASIC, sizeof(BASIC) - 1, "--XyZ--");
	assert_true(close < sizeof(BASIC) - 1);
	const size_t end = close + strlen("--XyZ--");
	recorder r = {};
	static const size_t sizes[] = {1, 7};
	for (size_t len = 0; len < end; len++) {
		bytes body = {BASIC, len};
		size_t whole = len ? len : 1;
		check_cut(MP, body, cut{whole, whole, "cut short to"}, len, -1,
			  bytes{NULL, 0}, 0, &r);
		for (size_t k : sizes)
			check_cut(MP, body, cut{k, k, "cut short in pieces, to"}, len, -1,
				  bytes{NULL, 0}, HOLD_MAX, &r);
	}
	t_buf_free(&r.log);
}

/* A part whose Content-Disposition has no name, or that has none. */
static void test_multipart_part_without_name(void **state)
{
	(void)state;
	static const char no_header[] =
		"--XyZ\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"v\r\n"
		"--XyZ--\r\n";
	static const char no_name[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data\r\n"
		"\r\n"
		"v\r\n"
		"--XyZ--\r\n";
	static const char file_no_name[] =
		"--XyZ\r\n"
		"Content-Disposition: form-data; filename=\"a.txt\"\r\n"
		"\r\n"
		"v\r\n"
		"--XyZ--\r\n";
	static const char no_headers_at_all[] =
		"--XyZ\r\n"
		"\r\n"
		"v\r\n"
		"--XyZ--\r\n";
	check_malformed(MP, BYTES(no_header));
	check_malformed(MP, BYTES(no_name));
	check_malformed(MP, BYTES(file_no_name));
	check_malformed(MP, BYTES(no_headers_at_all));
}

/* ======================= urlencoded ======================= */

static void test_urlencoded_decoding(void **state)
{
	(void)state;
	check_form(URLENC, BYTES("a=1&b=hello+world&c=%41%42"),
		   BYTES("F a=1|F b=hello world|F c=AB|"));
	/* escapes in either case, of reserved characters, of NUL; names
	 * decoded too */
	check_form(URLENC, BYTES("f=x%2By%3D%26z%25&g=%4a%4B&n=a%00b&my+key%21=v&%7E=t"),
		   BYTES("F f=x+y=&z%|F g=JK|F n=a\0b|F my key!=v|F ~=t|"));
}

/* An empty value, a key without '=' (an empty value), repeated keys. */
static void test_urlencoded_empty_and_repeated(void **state)
{
	(void)state;
	check_form(URLENC, BYTES("e=&k&tags=a&tags=b&tags[]=c&tags%5B%5D=d&last"),
		   BYTES("F e=|F k=|F tags=a|F tags=b|F tags[]=c|F tags[]=d|F last=|"));
	check_form(URLENC, BYTES("x="), BYTES("F x=|"));
	check_form(URLENC, BYTES("x"), BYTES("F x=|"));
}

/* As browsers and the URL standard do: empty pieces between '&' name no
 * field, and an empty body is an empty form. */
static void test_urlencoded_empty_pairs(void **state)
{
	(void)state;
	check_form(URLENC, BYTES("a=1&&b=2&"), BYTES("F a=1|F b=2|"));
	check_form(URLENC, BYTES(""), BYTES(""));
}

/* The last field cannot be known whole before the body ends: form_end()
 * hands it over. */
static void test_urlencoded_last_field_at_end(void **state)
{
	(void)state;
	recorder r = {};
	cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, &r};
	const char *err = NULL;
	cb_form *f = form_new(URLENC, &sink, &err);
	assert_non_null(f);
	static const char body[] = "a=1&b=22";
	assert_int_equal(form_feed(f, body, sizeof(body) - 1), 0);
	check_run(&r, BYTES("F a=1|"), "before form_end", 0);
	assert_int_equal(form_end(f), 0);
	check_run(&r, BYTES("F a=1|F b=22|"), "after form_end", 0);
	form_free(f);
	t_buf_free(&r.log);
}

/* Names at CB_FORM_NAME_MAX and values at CB_FORM_VALUE_MAX bytes are
 * whole (as the last field too); one byte more is malformed. */
static void test_urlencoded_limits(void **state)
{
	(void)state;
	const size_t max = CB_FORM_NAME_MAX + CB_FORM_VALUE_MAX + 2;
	char *text = (char *)malloc(max + 1);
	assert_non_null(text);
	static const struct {
		size_t name, value;
		bool ok;
	} cases[] = {
		{CB_FORM_NAME_MAX, 1, true},
		{1, CB_FORM_VALUE_MAX, true},
		{CB_FORM_NAME_MAX, CB_FORM_VALUE_MAX, true},
		{CB_FORM_NAME_MAX + 1, 1, false},
		{1, CB_FORM_VALUE_MAX + 1, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t nl = cases[i].name, vl = cases[i].value;
		fill(text, nl + 1 + vl, (unsigned)i);
		text[nl] = '=';
		text[nl + 1 + vl] = 0;
		/* the field last, and first with another after it */
		t_buf body = {}, want = {};
		t_buf_add(&body, text, nl + 1 + vl);
		text[nl] = 0;
		log_field(&want, text, bytes{text + nl + 1, vl});
		if (cases[i].ok) {
			check_form(URLENC, as_bytes(&body), as_bytes(&want));
			t_buf_str(&body, "&z=1");
			t_buf_str(&want, "F z=1|");
			check_form(URLENC, as_bytes(&body), as_bytes(&want));
		} else {
			check_malformed(URLENC, as_bytes(&body));
			t_buf_str(&body, "&z=1");
			check_malformed(URLENC, as_bytes(&body));
		}
		t_buf_free(&body);
		t_buf_free(&want);
	}
	free(text);
}

/* A '%' not followed by two hex digits, in a value or a name, in the
 * middle or at the end. */
static void test_urlencoded_bad_escape(void **state)
{
	(void)state;
	static const bytes bodies[] = {
		BYTES("a=%4G"), BYTES("a=%4G&b=1"), BYTES("a=%G4"), BYTES("a=%"),
		BYTES("a=%4"), BYTES("a=1&b=%"), BYTES("a=%%41"), BYTES("%4G=1"),
		BYTES("a%=1"), BYTES("a=% 1"),
	};
	for (bytes b : bodies)
		check_malformed(URLENC, b);
}

/* url_decode(): %XX in either case to bytes (NUL too), '+' left alone,
 * just len bytes read (the input and the output, len + 1 bytes, are
 * malloc'd to size for ASan); a '%' without two hex digits is -1. */
static void test_url_decode(void **state)
{
	(void)state;
	static const struct {
		bytes in;
		long want; /* the length, or -1 */
		bytes out;
	} cases[] = {
		{BYTES(""), 0, BYTES("")},
		{BYTES("plain"), 5, BYTES("plain")},
		{BYTES("a%41b"), 3, BYTES("aAb")},
		{BYTES("%2f%2F%7e"), 3, BYTES("//~")},
		{BYTES("a+b"), 3, BYTES("a+b")},
		{BYTES("%2B%20"), 2, BYTES("+ ")},
		{BYTES("x%00y"), 3, BYTES("x\0y")},
		{BYTES("%e2%82%AC"), 3, BYTES("\xe2\x82\xac")},
		{BYTES("%"), -1, BYTES("")},
		{BYTES("a%"), -1, BYTES("")},
		{BYTES("%4"), -1, BYTES("")},
		{BYTES("%4G"), -1, BYTES("")},
		{BYTES("%G4"), -1, BYTES("")},
		{BYTES("%%41"), -1, BYTES("")},
		{BYTES("ok%zz"), -1, BYTES("")},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].in.len;
		char *in = (char *)malloc(len ? len : 1);
		char *out = (char *)malloc(len + 1);
		assert_non_null(in);
		assert_non_null(out);
		memcpy(in, cases[i].in.p, len);
		long got = url_decode(in, len, out);
		if (got != cases[i].want)
			print_error("url_decode(\"%.*s\"): %ld, want %ld\n", (int)len, cases[i].in.p,
				    got, cases[i].want);
		assert_int_equal(got, cases[i].want);
		if (got >= 0) {
			assert_memory_equal(out, cases[i].out.p, cases[i].out.len);
			assert_int_equal(out[got], '\0');
		}
		free(in);
		free(out);
	}
	/* only len bytes count: an escape past them is not read */
	char out[4];
	assert_int_equal(url_decode("%41%zz", 3, out), 1);
	assert_string_equal(out, "A");
	assert_int_equal(url_decode("ab%41", 3, out), -1);
}

/* ======================= both ======================= */

/* Content types form_new() refuses, each with a message; and the forms
 * of those it takes. */
static void test_form_new_types(void **state)
{
	(void)state;
	cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, NULL};
	static const char *const refused[] = {
		"text/plain",
		"application/json",
		"",
		"multipart/form-data",
		"multipart/form-data;",
		"multipart/form-data; charset=utf-8",
		"multipart/form-data; boundary=",
		"multipart/form-data; boundary=\"\"",
		"multipart/form-data; notboundary=abc",
		"multipart/mixed; boundary=abc",
		"multipart/form-dataX; boundary=abc",
		"application/x-www-form-urlencodedX",
		"text/plain; boundary=abc",
	};
	for (const char *ct : refused) {
		const char *err = NULL;
		cb_form *f = form_new(ct, &sink, &err);
		if (f || !err || !err[0])
			print_error("form_new(\"%s\"): %s, err %s\n", ct, f ? "a parser" : "NULL",
				    err ? err : "not set");
		assert_null(f);
		assert_non_null(err);
		assert_true(err[0] != '\0');
	}
	static const char *const taken[] = {
		"application/x-www-form-urlencoded",
		"application/x-www-form-urlencoded; charset=UTF-8",
		"Application/X-WWW-Form-URLEncoded",
		"multipart/form-data; boundary=abc",
	};
	for (const char *ct : taken) {
		const char *err = NULL;
		cb_form *f = form_new(ct, &sink, &err);
		if (!f)
			print_error("form_new(\"%s\"): %s\n", ct, err ? err : "(no message)");
		assert_non_null(f);
		form_free(f);
	}
}

/* A sink that says stop at its n-th callback, for every n: the parse
 * returns 1 with just n callbacks (the first n of the full log), and
 * nothing more comes of later feeds or form_end(). */
static void check_stops(const char *ct, bytes body)
{
	static const cut cuts[] = {
		{0, 1, "whole"}, {1, 1, "a byte at a time"}, {7, 7, "in pieces of 7"},
	};
	recorder full = {}, r = {};
	for (cut c : cuts) {
		if (!c.first)
			c.first = c.size = body.len;
		assert_int_equal(run(ct, body, c, &full), 0);
		check_run(&full, bytes{NULL, 0}, c.how, 0);
		assert_true(full.calls > 0);
		for (int n = 1; n <= full.calls; n++) {
			r.stop_at = n;
			int res = run(ct, body, c, &r);
			if (res != 1 || r.calls != n)
				print_error("fed %s, stopped at callback %d: result %d, %d "
					    "callbacks\n", c.how, n, res, r.calls);
			check_run(&r, bytes{NULL, 0}, c.how, (size_t)n);
			assert_int_equal(res, 1);
			assert_int_equal(r.calls, n);
			/* what came is the start of the full log (but for the
			 * last '|': a stop inside a file ends its D early) */
			assert_true(r.log.len > 0 && r.log.p[r.log.len - 1] == '|');
			assert_true(r.log.len <= full.log.len);
			assert_memory_equal(r.log.p, full.log.p, r.log.len - 1);
		}
	}
	t_buf_free(&full.log);
	t_buf_free(&r.log);
}

static void test_sink_stops(void **state)
{
	(void)state;
	check_stops(MP, BYTES(BASIC));
	check_stops(URLENC, BYTES("a=1&b=2&c=3"));
}

/* Stopped, later feeds give 1 (or take nothing) and call nothing. */
static void test_sink_stops_later_feeds(void **state)
{
	(void)state;
	recorder r = {};
	r.stop_at = 1;
	cb_form_sink sink = {on_field, on_file_begin, on_file_data, on_file_end, &r};
	const char *err = NULL;
	cb_form *f = form_new(MP, &sink, &err);
	assert_non_null(f);
	/* into the second part: the first field is whole */
	size_t half = find(BASIC, sizeof(BASIC) - 1, "name=\"note\"");
	assert_true(half < sizeof(BASIC) - 1);
	assert_int_equal(form_feed(f, BASIC, half), 1);
	assert_int_equal(r.calls, 1);
	int again = form_feed(f, BASIC + half, sizeof(BASIC) - 1 - half);
	assert_true(again == 1 || again == 0);
	form_end(f);
	assert_int_equal(r.calls, 1);
	check_run(&r, BYTES("F title=Summer trip|"), "stopped, then fed the rest", 0);
	form_free(f);
	t_buf_free(&r.log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart_fields_file_field),
		cmocka_unit_test(test_multipart_empty_pieces),
		cmocka_unit_test(test_multipart_file_looks_like_boundary),
		cmocka_unit_test(test_multipart_large_file),
		cmocka_unit_test(test_multipart_file_without_cr_not_held),
		cmocka_unit_test(test_multipart_empty_file_and_filename),
		cmocka_unit_test(test_multipart_repeated_names),
		cmocka_unit_test(test_multipart_content_type_forms),
		cmocka_unit_test(test_multipart_headers_preamble_epilogue),
		cmocka_unit_test(test_multipart_quoted_params),
		cmocka_unit_test(test_multipart_limits),
		cmocka_unit_test(test_multipart_cut_short),
		cmocka_unit_test(test_multipart_part_without_name),
		cmocka_unit_test(test_urlencoded_decoding),
		cmocka_unit_test(test_urlencoded_empty_and_repeated),
		cmocka_unit_test(test_urlencoded_empty_pairs),
		cmocka_unit_test(test_urlencoded_last_field_at_end),
		cmocka_unit_test(test_urlencoded_limits),
		cmocka_unit_test(test_urlencoded_bad_escape),
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_form_new_types),
		cmocka_unit_test(test_sink_stops),
		cmocka_unit_test(test_sink_stops_later_feeds),
	};
	return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
