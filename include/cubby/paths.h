/* paths.h: the rules for names and directory paths that come from clients
 * (DESIGN §5). A client name is never a filesystem path: these checks keep
 * the namespace clean (no "..", no absolute paths, no NUL or control bytes,
 * valid UTF-8, bounded length); on disk, blobs are named by id.
 *
 * Each function returns NULL on success or a static message that says what
 * is wrong, fit to show to the client. Inputs are (pointer, length) so an
 * embedded NUL from a JSON string is seen and refused. */
#pragma once
#include <stddef.h>

#define CB_NAME_MAX 255  /* bytes in one name (path component) */
#define CB_PATH_MAX 1024 /* bytes in a directory path */

/* One name: not empty, not "." or "..", no '/', within CB_NAME_MAX. */
const char *path_check_name(const char *s, size_t len);

/* A directory path relative to the user's space, written into out in
 * normal form: components joined by single '/', no leading or trailing
 * '/', "." components dropped; "" is the top. A leading '/' (absolute) or
 * a ".." component is refused. out needs CB_PATH_MAX + 1 bytes. */
const char *path_normalize(const char *s, size_t len, char *out, size_t outsz);

/* The length of the longest prefix of s of at most max bytes that does
 * not end inside a UTF-8 character: where to cut a long name or message. */
size_t utf8_prefix(const char *s, size_t max);

/* Splits "dir/sub/name" into a normalized parent ("dir/sub", or "" at the
 * top) and a checked name. parent needs CB_PATH_MAX + 1 bytes, name
 * CB_NAME_MAX + 1. */
const char *path_split(const char *s, size_t len, char *parent, size_t psz,
		       char *name, size_t nsz);
