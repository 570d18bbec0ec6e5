/* ids.cpp: random bytes from getrandom(2), UUID v4 ids and hex, for node,
 * user, upload and blob ids and session tokens. */
#include "cubby/ids.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

static const char hex_digits[] = "0123456789abcdef";

int id_random(void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;

	/* large requests may come back short, and a signal may interrupt */
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int id_uuid4(char out[CB_ID_LEN + 1])
{
	unsigned char b[16];

	if (id_random(b, sizeof b) < 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex_digits[b[i] >> 4];
		*o++ = hex_digits[b[i] & 0x0F];
	}
	*o = '\0';
	return 0;
}

/* Value of one hex digit of either case, or -1. */
static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool id_is_uuid(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < CB_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		/* a NUL fails both tests, so the loop never reads past it */
		if (dash ? s[i] != '-' : hex_value(s[i]) < 0)
			return false;
	}
	return s[CB_ID_LEN] == '\0';
}

void hex_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[p[i] >> 4];
		out[2 * i + 1] = hex_digits[p[i] & 0x0F];
	}
	out[2 * len] = '\0';
}

/* The whole input is checked before out is touched, so a refused string
 * leaves out as it was. */
int hex_decode(const char *in, void *out, size_t len)
{
	unsigned char *p = (unsigned char *)out;

	if (!in)
		return -1;
	for (size_t i = 0; i < 2 * len; i++)
		if (hex_value(in[i]) < 0)
			return -1;
	if (in[2 * len] != '\0')
		return -1;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(hex_value(in[2 * i]) << 4 |
				       hex_value(in[2 * i + 1]));
	return 0;
}
