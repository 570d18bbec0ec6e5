/* credentials.cpp: who is calling. Reads, in this order, an
 * Authorization header (Bearer token or HTTP Basic), the cubby_session
 * cookie and, on WebSocket upgrades, the ?token= argument (browsers
 * cannot set headers there), and resolves it to a user (docs/accounts.md). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cubby/clock.h"
#include "cubby/store.h"
#include "net_internal.h"

#define COOKIE_NAME "cubby_session"

/* Copies header `tok` into a buffer of the right size (malloc'd), or
 * NULL when absent. */
static char *header_dup(struct lws *wsi, enum lws_token_indexes tok)
{
	int n = lws_hdr_total_length(wsi, tok);
	if (n <= 0)
		return NULL;
	char *s = (char *)malloc((size_t)n + 1);
	if (s && lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Looks for the session cookie in one Cookie header into the token
 * buffer (lws_http_cookie_get() of 4.1 misses a cookie at the end of the
 * header and logs the header, tokens included; several Cookie headers
 * are fragments, which lws_hdr_copy() would run together). */
static bool session_cookie(const char *hdr, void *token)
{
	size_t nl = strlen(COOKIE_NAME);
	for (const char *p = hdr; *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, COOKIE_NAME "=", nl + 1)) {
			len -= nl + 1; /* a value of the wrong length stays wrong */
			if (len > CB_TOKEN_LEN)
				len = CB_TOKEN_LEN + 1;
			memcpy(token, p + nl + 1, len);
			((char *)token)[len] = '\0';
			return true;
		}
		p += len;
	}
	return false;
}

static cred_result check_token(cb_conn *c, const char *token)
{
	if (strlen(token) != CB_TOKEN_LEN)
		return CRED_BAD_TOKEN;
	if (auth_session_check(c->srv->st, token, cb_now_ms(), &c->user)) {
		memset(&c->user, 0, sizeof(c->user));
		return CRED_BAD_TOKEN;
	}
	strcpy(c->req->token, token);
	return CRED_OK;
}

/* The longest "user:pass" there is, in base64. */
#define BASIC_MAX (((CB_USER_NAME_MAX + 1 + CB_PASS_MAX + 2) / 3) * 4)

static cred_result check_basic(cb_conn *c, const char *b64)
{
	char plain[CB_USER_NAME_MAX + CB_PASS_MAX + 8];
	/* lws_b64_decode_string() cuts overlong input short without saying */
	int n = strlen(b64) <= BASIC_MAX ? lws_b64_decode_string(b64, plain, sizeof(plain) - 1) : -1;
	char *colon = n > 0 ? (char *)memchr(plain, ':', (size_t)n) : NULL;
	cb_status s = CB_ERR_AUTH;
	if (colon && !memchr(plain, '\0', (size_t)n)) {
		plain[n] = '\0';
		*colon = '\0';
		s = auth_verify(c->srv->st, plain, colon + 1, c->addr, cb_now_ms(), &c->user);
	}
	lws_explicit_bzero(plain, sizeof(plain));
	if (s) {
		memset(&c->user, 0, sizeof(c->user));
		return s == CB_ERR_RATE ? CRED_RATE : CRED_BAD_PASS;
	}
	return CRED_OK;
}

cred_result credentials_resolve(cb_conn *c, bool ws)
{
	cred_result r = CRED_NONE;
	char token[CB_TOKEN_LEN + 2];
	char *h = header_dup(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (h) {
		if (!strncasecmp(h, "Bearer ", 7))
			r = check_token(c, h + 7);
		else if (!strncasecmp(h, "Basic ", 6))
			r = check_basic(c, h + 6);
		else
			r = CRED_BAD_TOKEN;
		free(h);
		return r;
	}
	if (header_fragments(c->wsi, WSI_TOKEN_HTTP_COOKIE, session_cookie, token))
		return check_token(c, token);
	char arg[CB_TOKEN_LEN + 16];
	const char *v = ws ? query_arg(c->wsi, "token", arg, sizeof(arg)) : NULL;
	return v ? check_token(c, v) : r;
}

const char *credentials_message(cred_result r)
{
	switch (r) {
	case CRED_NONE:
		return "authentication required";
	case CRED_BAD_TOKEN:
		return "invalid or expired session";
	case CRED_BAD_PASS:
		return "wrong user name or password";
	case CRED_RATE:
		return "too many failed logins, try again later";
	case CRED_OK:
		break;
	}
	return "";
}

int credentials_status(cred_result r)
{
	return r == CRED_RATE ? 429 : 401;
}
