/* base64.h: standard base64 (RFC 4648 §4: the alphabet A-Z a-z 0-9 + /,
 * '=' padding to a multiple of 4 characters), nothing else accepted; the
 * unused bits before padding are ignored, as most decoders do.
 * Table-driven, a group of 4 characters at a time: libwebsockets'
 * stateful decoder spent 83 instructions a byte, half of a protocol 4
 * put's CPU (callgrind; bench/README.md). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The characters n bytes encode to. */
size_t base64_encoded_len(size_t n);
/* Encodes p[0..n) into out (base64_encoded_len(n) characters, no NUL);
 * that length. */
size_t base64_encode(const void *p, size_t n, char *out);
/* Decodes s[0..n) into out, which may be s itself (decoding in place:
 * each group is read before its bytes are written); the bytes written,
 * or -1 when s is not standard base64 (then out holds garbage). */
int64_t base64_decode(const char *s, size_t n, void *out);
