/* base64.cpp: standard base64 (include/cubby/base64.h). Decoding looks
 * each character up in a table that marks the ones outside the alphabet
 * with bit 7, so that a group of four is checked and decoded in one go. */
#include "cubby/base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* character -> its 6 bits, or 0x80 when it is not in the alphabet */
static unsigned char sextets[256];

static void sextets_init(void)
{
	for (int i = 0; i < 256; i++)
		sextets[i] = 0x80;
	for (int i = 0; i < 64; i++)
		sextets[(unsigned char)alphabet[i]] = (unsigned char)i;
}

size_t base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t base64_encode(const void *p, size_t n, char *out)
{
	const unsigned char *b = (const unsigned char *)p;
	char *o = out;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[v >> 12 & 63];
		o[2] = alphabet[v >> 6 & 63];
		o[3] = alphabet[v & 63];
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[v >> 12 & 63];
		o[2] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	return (size_t)(o - out);
}

int64_t base64_decode(const char *s, size_t n, void *out)
{
	if (!sextets[0])
		sextets_init();
	if (n % 4)
		return -1;
	if (!n)
		return 0;
	const unsigned char *u = (const unsigned char *)s;
	unsigned char *o = (unsigned char *)out;
	size_t pad = u[n - 1] == '=' ? (u[n - 2] == '=' ? 2 : 1) : 0;
	size_t whole = n - (pad ? 4 : 0); /* groups without padding */
	unsigned bad = 0;
	for (size_t i = 0; i < whole; i += 4) {
		unsigned a = sextets[u[i]], b = sextets[u[i + 1]], c = sextets[u[i + 2]],
			 d = sextets[u[i + 3]];
		bad |= a | b | c | d;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	if (pad) {
		const unsigned char *g = u + whole;
		unsigned a = sextets[g[0]], b = sextets[g[1]], c = pad == 1 ? sextets[g[2]] : 0;
		bad |= a | b | c;
		uint32_t v = a << 18 | b << 12 | c << 6;
		*o++ = (unsigned char)(v >> 16);
		if (pad == 1)
			*o++ = (unsigned char)(v >> 8);
	}
	return bad & 0x80 ? -1 : (int64_t)(o - (unsigned char *)out);
}
