/* mime.cpp: content types by file extension and by magic bytes. The
 * extension table covers what people keep on a NAS; anything else is
 * application/octet-stream. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cubby/mime.h"

struct ext_type {
	const char *ext, *type;
};

/* sorted by extension, for bsearch */
static const ext_type ext_types[] = {
	{"7z", "application/x-7z-compressed"},
	{"aac", "audio/aac"},
	{"avi", "video/x-msvideo"},
	{"avif", "image/avif"},
	{"bmp", "image/bmp"},
	{"css", "text/css"},
	{"csv", "text/csv"},
	{"doc", "application/msword"},
	{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{"epub", "application/epub+zip"},
	{"flac", "audio/flac"},
	{"gif", "image/gif"},
	{"gz", "application/gzip"},
	{"heic", "image/heic"},
	{"htm", "text/html"},
	{"html", "text/html"},
	{"ico", "image/vnd.microsoft.icon"},
	{"jpeg", "image/jpeg"},
	{"jpg", "image/jpeg"},
	{"js", "text/javascript"},
	{"json", "application/json"},
	{"m4a", "audio/mp4"},
	{"m4v", "video/mp4"},
	{"md", "text/markdown"},
	{"mkv", "video/x-matroska"},
	{"mov", "video/quicktime"},
	{"mp3", "audio/mpeg"},
	{"mp4", "video/mp4"},
	{"odp", "application/vnd.oasis.opendocument.presentation"},
	{"ods", "application/vnd.oasis.opendocument.spreadsheet"},
	{"odt", "application/vnd.oasis.opendocument.text"},
	{"ogg", "audio/ogg"},
	{"otf", "font/otf"},
	{"pdf", "application/pdf"},
	{"png", "image/png"},
	{"ppt", "application/vnd.ms-powerpoint"},
	{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	{"rar", "application/vnd.rar"},
	{"svg", "image/svg+xml"},
	{"tar", "application/x-tar"},
	{"tif", "image/tiff"},
	{"tiff", "image/tiff"},
	{"ttf", "font/ttf"},
	{"txt", "text/plain"},
	{"wasm", "application/wasm"},
	{"wav", "audio/wav"},
	{"webm", "video/webm"},
	{"webp", "image/webp"},
	{"woff", "font/woff"},
	{"woff2", "font/woff2"},
	{"xls", "application/vnd.ms-excel"},
	{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	{"xml", "application/xml"},
	{"zip", "application/zip"},
};

static int ext_cmp(const void *key, const void *elem)
{
	return strcasecmp((const char *)key, ((const ext_type *)elem)->ext);
}

const char *mime_from_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1])
		return CB_MIME_DEFAULT; /* none, or a dot file such as ".profile" */
	const ext_type *e = (const ext_type *)bsearch(dot + 1, ext_types,
						      sizeof(ext_types) / sizeof(ext_types[0]),
						      sizeof(ext_types[0]), ext_cmp);
	return e ? e->type : CB_MIME_DEFAULT;
}

struct magic {
	size_t off;
	const char *bytes;
	size_t len;
	const char *type;
};

static const magic magics[] = {
	{0, "\x89PNG\r\n\x1a\n", 8, "image/png"},
	{0, "\xff\xd8\xff", 3, "image/jpeg"},
	{0, "GIF87a", 6, "image/gif"},
	{0, "GIF89a", 6, "image/gif"},
	{8, "WEBP", 4, "image/webp"}, /* after "RIFF" and a length */
	{0, "%PDF-", 5, "application/pdf"},
	{0, "PK\x03\x04", 4, "application/zip"},
	{0, "\x1f\x8b", 2, "application/gzip"},
};

const char *mime_sniff(const void *data, size_t len)
{
	const char *p = (const char *)data;
	for (const magic &m : magics) {
		if (len < m.off + m.len || memcmp(p + m.off, m.bytes, m.len))
			continue;
		if (m.off == 8 && memcmp(p, "RIFF", 4))
			continue;
		return m.type;
	}
	return NULL;
}

bool mime_printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

bool mime_sniffable(const char *type)
{
	for (const magic &m : magics)
		if (!strcmp(m.type, type))
			return true;
	return false;
}

const char *mime_of_content(const char *name, const void *head, size_t len)
{
	const char *by_name = mime_from_name(name), *sniffed = mime_sniff(head, len);
	if (!sniffed)
		return mime_sniffable(by_name) ? CB_MIME_DEFAULT : by_name;
	/* .docx, .xlsx, .odt, .epub, .jar... are ZIP files by their bytes */
	if (!strcmp(sniffed, "application/zip") && !mime_sniffable(by_name) &&
	    strcmp(by_name, CB_MIME_DEFAULT))
		return by_name;
	return sniffed;
}
