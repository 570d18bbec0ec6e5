/* paths.cpp: checks and normalizes the names and directory paths clients
 * send (DESIGN §5); every refusal is a static message fit for the client. */
#include "cubby/paths.h"

#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static const char MSG_EMPTY[] = "name is empty";
static const char MSG_DOT[] = "'.' is not a valid name";
static const char MSG_DOTDOT[] = "'..' is not allowed in a path";
static const char MSG_SLASH[] = "name contains '/'";
static const char MSG_NUL[] = "name contains a NUL byte";
static const char MSG_CTRL[] = "name contains a control character";
static const char MSG_UTF8[] = "name is not valid UTF-8";
static const char MSG_NAME_LONG[] =
	"name is too long (max " STR(CB_NAME_MAX) " bytes)";
static const char MSG_PATH_LONG[] =
	"path is too long (max " STR(CB_PATH_MAX) " bytes)";
static const char MSG_ABS[] = "absolute paths are not allowed";
static const char MSG_TRAILING[] = "a name is needed after the last '/'";
static const char MSG_BUF[] = "output buffer is too small";

/* Length of the well-formed UTF-8 sequence at s[0..len), or 0 if it is
 * overlong, a surrogate, beyond U+10FFFF or cut short (RFC 3629 §4). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F; /* beyond U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* The rules for one name, shared by every entry point: a path component
 * passes exactly when a name would. */
static const char *check_component(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0)
		return MSG_EMPTY;
	if (len == 1 && s[0] == '.')
		return MSG_DOT;
	if (len == 2 && s[0] == '.' && s[1] == '.')
		return MSG_DOTDOT;
	for (size_t i = 0; i < len;) {
		if (u[i] == 0)
			return MSG_NUL;
		if (u[i] < 0x20 || u[i] == 0x7F)
			return MSG_CTRL;
		if (u[i] == '/')
			return MSG_SLASH;
		size_t n = utf8_seq(u + i, len - i);
		if (n == 0)
			return MSG_UTF8;
		/* C1 controls (U+0080..U+009F) include CSI, which terminals obey
		 * as an escape just like ESC [ */
		if (n == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0)
			return MSG_CTRL;
		i += n;
	}
	if (len > CB_NAME_MAX)
		return MSG_NAME_LONG;
	return NULL;
}

/* Empties buf (when it has room at all) so a refused call never leaves
 * half a result behind, and passes msg on. */
static const char *refuse(char *buf, size_t sz, const char *msg)
{
	if (sz > 0)
		buf[0] = '\0';
	return msg;
}

const char *path_check_name(const char *s, size_t len)
{
	return check_component(s, len);
}

const char *path_normalize(const char *s, size_t len, char *out, size_t outsz)
{
	size_t pos = 0; /* length of the normal form so far */
	bool fits = outsz > 0;

	if (len > 0 && s[0] == '/')
		return refuse(out, outsz, MSG_ABS);
	if (fits)
		out[0] = '\0';
	for (size_t i = 0; i < len;) {
		size_t start = i;
		while (i < len && s[i] != '/')
			i++;
		size_t clen = i - start;
		while (i < len && s[i] == '/')
			i++;
		if (clen == 0 || (clen == 1 && s[start] == '.'))
			continue;
		const char *err = check_component(s + start, clen);
		if (err)
			return refuse(out, outsz, err);
		size_t sep = pos > 0 ? 1 : 0;
		if (pos + sep + clen > CB_PATH_MAX)
			return refuse(out, outsz, MSG_PATH_LONG);
		/* a short buffer is the caller's fault, so the client's own
		 * errors further on are still reported first */
		if (pos + sep + clen + 1 > outsz)
			fits = false;
		if (fits) {
			if (sep)
				out[pos] = '/';
			memcpy(out + pos + sep, s + start, clen);
			out[pos + sep + clen] = '\0';
		}
		pos += sep + clen;
	}
	return fits ? NULL : refuse(out, outsz, MSG_BUF);
}

const char *path_split(const char *s, size_t len, char *parent, size_t psz,
		       char *name, size_t nsz)
{
	if (nsz > 0)
		name[0] = '\0';
	if (len == 0)
		return refuse(parent, psz, MSG_EMPTY);
	if (s[len - 1] == '/')
		return refuse(parent, psz, MSG_TRAILING);
	size_t slash = len;
	while (slash > 0 && s[slash - 1] != '/')
		slash--;
	/* the parent keeps its trailing '/', so that "/x" is seen as "/" and
	 * refused as absolute rather than read as "" */
	const char *err = path_normalize(s, slash, parent, psz);
	if (err)
		return err;
	const char *base = s + slash;
	size_t blen = len - slash;
	err = check_component(base, blen);
	if (!err && blen + 1 > nsz)
		err = MSG_BUF;
	if (err)
		return refuse(parent, psz, err);
	memcpy(name, base, blen);
	name[blen] = '\0';
	return NULL;
}

size_t utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n <= max)
		return n;
	for (n = max; n && ((unsigned char)s[n] & 0xC0) == 0x80; n--)
		;
	return n;
}
