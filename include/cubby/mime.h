/* mime.h: content types, from a file's name and from its first bytes.
 * The name decides what a file is stored as; the first bytes decide
 * whether content really is what a client claims (an image that may serve
 * as a thumbnail, a profile that allows only certain types). */
#pragma once
#include <stddef.h>

#define CB_MIME_DEFAULT "application/octet-stream"

/* The type of a file named `name` by its extension (any case), or
 * CB_MIME_DEFAULT when the extension is unknown or missing. */
const char *mime_from_name(const char *name);

/* Whether a stored type is printable ASCII, fit for a Content-Type
 * header (a client may have set any string). */
bool mime_printable(const char *type);

/* The type the first bytes of content show (PNG, JPEG, GIF, WebP,
 * PDF, ZIP, gzip), or NULL when they show none of these. `len` may be
 * less than the content: MIME_SNIFF_BYTES are enough. */
#define MIME_SNIFF_BYTES 16
const char *mime_sniff(const void *data, size_t len);
/* Whether mime_sniff() can tell content of this type. */
bool mime_sniffable(const char *type);

/* What content named `name` whose first bytes are head[0..len) really is:
 * the type the bytes show (a PNG named a.jpg is image/png; a ZIP named
 * a.docx is the .docx type), CB_MIME_DEFAULT when the name claims a type
 * the bytes would show and they do not (a fake.png), else the name's. */
const char *mime_of_content(const char *name, const void *head, size_t len);
