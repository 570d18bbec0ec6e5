/* test_mime.cpp: content types (include/cubby/mime.h): by a file's name
 * (the extension table in any case; no extension, dot files, a trailing
 * dot, several dots) and by the first bytes (each magic number, WebP's
 * RIFF container, input too short to tell, text). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdlib.h>
#include <string.h>

#include "cubby/mime.h"

struct name_case {
	const char *name, *want;
};

static void check_names(const name_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = mime_from_name(cases[i].name);
		assert_non_null(got);
		if (strcmp(got, cases[i].want))
			print_error("name '%s': got %s, want %s\n", cases[i].name, got,
				    cases[i].want);
		assert_string_equal(got, cases[i].want);
	}
}

/* Bytes given with their length: the magic numbers hold NULs. */
struct sniff_case {
	const char *bytes;
	size_t len;
	const char *want; /* NULL: none */
};
#define SNIFF(lit, want) {lit, sizeof(lit) - 1, want}

static void check_sniffs(const sniff_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = mime_sniff(cases[i].bytes, cases[i].len);
		const char *want = cases[i].want;
		if (want ? !got || strcmp(got, want) : got != NULL)
			print_error("sniff #%zu: got %s, want %s\n", i, got ? got : "NULL",
				    want ? want : "NULL");
		if (want)
			assert_string_equal(got, want);
		else
			assert_null(got);
	}
}

/* ======================= by name ======================= */

static void test_name_known_extensions(void **state)
{
	(void)state;
	/* at least one from each end and the middle of the table, and the
	 * neighbours that sort next to each other */
	static const name_case cases[] = {
		{"a.7z", "application/x-7z-compressed"},
		{"song.aac", "audio/aac"},
		{"clip.avi", "video/x-msvideo"},
		{"photo.avif", "image/avif"},
		{"style.css", "text/css"},
		{"table.csv", "text/csv"},
		{"letter.doc", "application/msword"},
		{"letter.docx",
		 "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"anim.gif", "image/gif"},
		{"log.gz", "application/gzip"},
		{"index.htm", "text/html"},
		{"index.html", "text/html"},
		{"photo.jpeg", "image/jpeg"},
		{"photo.jpg", "image/jpeg"},
		{"app.js", "text/javascript"},
		{"data.json", "application/json"},
		{"README.md", "text/markdown"},
		{"paper.pdf", "application/pdf"},
		{"icon.png", "image/png"},
		{"talk.pptx",
		 "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"drawing.svg", "image/svg+xml"},
		{"scan.tif", "image/tiff"},
		{"scan.tiff", "image/tiff"},
		{"notes.txt", "text/plain"},
		{"photo.webp", "image/webp"},
		{"font.woff", "font/woff"},
		{"font.woff2", "font/woff2"},
		{"sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"feed.xml", "application/xml"},
		{"backup.zip", "application/zip"},
	};
	check_names(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_name_any_case(void **state)
{
	(void)state;
	static const name_case cases[] = {
		{"IMG_0001.JPG", "image/jpeg"},
		{"Photo.JpEg", "image/jpeg"},
		{"SCAN.PDF", "application/pdf"},
		{"Archive.ZIP", "application/zip"},
		{"a.tar.GZ", "application/gzip"},
		{"FONT.WOFF2", "font/woff2"},
	};
	check_names(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_name_unknown_or_missing(void **state)
{
	(void)state;
	static const name_case cases[] = {
		{"", CB_MIME_DEFAULT},
		{"Makefile", CB_MIME_DEFAULT},
		{"README", CB_MIME_DEFAULT},
		{".profile", CB_MIME_DEFAULT}, /* a dot file has no extension */
		{".png", CB_MIME_DEFAULT},
		{"file.", CB_MIME_DEFAULT},    /* a trailing dot */
		{"file.png.", CB_MIME_DEFAULT},
		{"a.unknown", CB_MIME_DEFAULT},
		{"a.pngx", CB_MIME_DEFAULT},   /* a known extension's prefix... */
		{"a.pn", CB_MIME_DEFAULT},     /* ... or part of one */
		{"a.png ", CB_MIME_DEFAULT},
	};
	check_names(cases, sizeof(cases) / sizeof(cases[0]));
	assert_string_equal(CB_MIME_DEFAULT, "application/octet-stream");
}

static void test_name_several_dots(void **state)
{
	(void)state;
	/* the last extension decides */
	static const name_case cases[] = {
		{"a.tar.gz", "application/gzip"},
		{"backup.2024.01.tar", "application/x-tar"},
		{"report.final.v2.pdf", "application/pdf"},
		{"photo.png.txt", "text/plain"},
		{"notes.txt.bak", CB_MIME_DEFAULT},
		{".config.json", "application/json"}, /* a dot file with an extension */
	};
	check_names(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ======================= by content ======================= */

static void test_sniff_images(void **state)
{
	(void)state;
	static const sniff_case cases[] = {
		SNIFF("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
		SNIFF("\xff\xd8\xff\xe0\0\x10JFIF\0", "image/jpeg"),
		SNIFF("\xff\xd8\xff\xe1\0\x10" "Exif", "image/jpeg"),
		SNIFF("GIF87a\x01\0\x01\0", "image/gif"),
		SNIFF("GIF89a\x01\0\x01\0", "image/gif"),
		SNIFF("RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
		/* exactly the bytes each type needs */
		SNIFF("\x89PNG\r\n\x1a\n", "image/png"),
		SNIFF("\xff\xd8\xff", "image/jpeg"),
		SNIFF("GIF89a", "image/gif"),
		SNIFF("RIFF\0\0\0\0WEBP", "image/webp"),
	};
	check_sniffs(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_sniff_documents_and_archives(void **state)
{
	(void)state;
	static const sniff_case cases[] = {
		SNIFF("%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
		SNIFF("PK\x03\x04\x14\0\0\0\x08\0", "application/zip"),
		SNIFF("\x1f\x8b\x08\0\0\0\0\0\0\x03", "application/gzip"),
		SNIFF("%PDF-", "application/pdf"),
		SNIFF("PK\x03\x04", "application/zip"),
		SNIFF("\x1f\x8b", "application/gzip"),
	};
	check_sniffs(cases, sizeof(cases) / sizeof(cases[0]));
}

/* WebP is "RIFF", a length, then "WEBP": either half alone is not. */
static void test_sniff_webp_needs_riff(void **state)
{
	(void)state;
	static const sniff_case cases[] = {
		SNIFF("RIFF\x24\0\0\0WAVEfmt ", NULL),  /* another RIFF: a WAV */
		SNIFF("RIFX\x24\0\0\0WEBPVP8 ", NULL),  /* not RIFF */
		SNIFF("\0\0\0\0\0\0\0\0WEBPVP8 ", NULL),
		SNIFF("RIFFWEBP\0\0\0\0", NULL),        /* WEBP not at offset 8 */
		SNIFF("RIFF\x24\0\0\0WEB", NULL),       /* one byte short */
	};
	check_sniffs(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A prefix of a magic number is not enough, and nothing is read past len
 * (the buffers here are exactly len bytes: ASan sees any overread). */
static void test_sniff_too_short(void **state)
{
	(void)state;
	static const struct {
		const char *magic;
		size_t len;
	} magics[] = {
		{"\x89PNG\r\n\x1a\n", 8}, {"\xff\xd8\xff", 3}, {"GIF87a", 6},
		{"GIF89a", 6}, {"RIFF\0\0\0\0WEBP", 12}, {"%PDF-", 5},
		{"PK\x03\x04", 4}, {"\x1f\x8b", 2},
	};
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		for (size_t len = 0; len < magics[i].len; len++) {
			char *buf = (char *)malloc(len ? len : 1);
			memcpy(buf, magics[i].magic, len);
			const char *got = mime_sniff(buf, len);
			if (got)
				print_error("magic #%zu cut to %zu bytes: got %s\n", i, len, got);
			assert_null(got);
			free(buf);
		}
	}
	assert_null(mime_sniff("", 0));
}

/* What content is: the bytes' type over the name's, a ZIP named as a
 * ZIP-based format that format, a name claiming a type the bytes would
 * show but do not is no type, other content the name's. */
static void test_content_type(void **state)
{
	(void)state;
	static const struct {
		const char *name, *head, *want;
	} cases[] = {
		{"a.png", "\x89PNG\r\n\x1a\n", "image/png"},
		{"a.jpg", "\x89PNG\r\n\x1a\n", "image/png"},
		{"noext", "\xff\xd8\xff\xe0", "image/jpeg"},
		{"fake.png", "just some text", CB_MIME_DEFAULT},
		{"fake.pdf", "not a pdf at all", CB_MIME_DEFAULT},
		{"a.docx", "PK\x03\x04rest", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"a.zip", "PK\x03\x04rest", "application/zip"},
		{"noext", "PK\x03\x04rest", "application/zip"},
		{"a.txt", "hello", "text/plain"},
		{"a.txt", "\x89PNG\r\n\x1a\n", "image/png"},
	};
	for (const auto &k : cases) {
		const char *got = mime_of_content(k.name, k.head, strlen(k.head));
		if (strcmp(got, k.want))
			print_error("%s: got %s, want %s\n", k.name, got, k.want);
		assert_string_equal(got, k.want);
	}
	assert_true(mime_sniffable("image/png"));
	assert_false(mime_sniffable("text/plain"));
}

static void test_sniff_text_and_others(void **state)
{
	(void)state;
	static const sniff_case cases[] = {
		SNIFF("hello, world\n", NULL),
		SNIFF("{\"a\":1}", NULL),
		SNIFF("<!DOCTYPE html>", NULL),
		SNIFF("<svg xmlns=\"http://www.w3.org/2000/svg\">", NULL),
		SNIFF("%PDF", NULL),           /* no dash */
		SNIFF("%!PS-Adobe-3.0", NULL),
		SNIFF("GIF88a", NULL),
		SNIFF("gif89a", NULL),         /* magic numbers are case-sensitive */
		SNIFF("\x89png\r\n\x1a\n", NULL),
		SNIFF("PK\x05\x06", NULL),
		SNIFF("\x1f\x9d", NULL),       /* compress(1), not gzip */
		SNIFF("\xff\xd8\xfe", NULL),
		SNIFF("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", NULL),
		/* a magic number later in the content is not the type */
		SNIFF(" %PDF-1.7", NULL),
		SNIFF("xx\x89PNG\r\n\x1a\n", NULL),
	};
	check_sniffs(cases, sizeof(cases) / sizeof(cases[0]));
}

/* MIME_SNIFF_BYTES are enough to tell every type. */
static void test_sniff_bytes_enough(void **state)
{
	(void)state;
	const char webp[] = "RIFF\x10\x20\0\0WEBPVP8L\x0a\0\0\0/\0\0\0\0\0";
	assert_true(sizeof(webp) - 1 > MIME_SNIFF_BYTES);
	assert_string_equal(mime_sniff(webp, MIME_SNIFF_BYTES), "image/webp");
	assert_string_equal(mime_sniff(webp, sizeof(webp) - 1), "image/webp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_known_extensions),
		cmocka_unit_test(test_name_any_case),
		cmocka_unit_test(test_name_unknown_or_missing),
		cmocka_unit_test(test_name_several_dots),
		cmocka_unit_test(test_sniff_images),
		cmocka_unit_test(test_sniff_documents_and_archives),
		cmocka_unit_test(test_sniff_webp_needs_riff),
		cmocka_unit_test(test_sniff_too_short),
		cmocka_unit_test(test_sniff_text_and_others),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_sniff_bytes_enough),
	};
	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
