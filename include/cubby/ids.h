/* ids.h: random bytes, UUID v4 ids and hex, for node, user, upload and
 * blob ids and for session tokens. Randomness comes from getrandom(2). */
#pragma once
#include <stddef.h>
#include <stdbool.h>

#define CB_ID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/* Fills buf with len bytes from the kernel's CSPRNG; 0, or -1 on failure. */
int id_random(void *buf, size_t len);
/* Writes a fresh lowercase UUID v4 and its NUL; 0, or -1 on failure. */
int id_uuid4(char out[CB_ID_LEN + 1]);
/* True for a 36-character UUID in canonical 8-4-4-4-12 hex form. */
bool id_is_uuid(const char *s);

/* Lowercase hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void hex_encode(const void *in, size_t len, char *out);
/* Decodes exactly 2*len hex digits (either case) into out; 0, or -1. */
int hex_decode(const char *in, void *out, size_t len);
