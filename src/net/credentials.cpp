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

/* The value of cookie `name` in a Cookie header, into out; false when
 * absent or too long. (lws_http_cookie_get() of 4.1 misses a cookie at
 * the end of the header and logs the header, tokens included.) */
static bool cookie_value(const char *hdr, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *p = hdr; *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			len -= nl + 1;
			if (len >= n)
				return false;
			memcpy(out, p + nl + 1, len);
			out[len] = '\0';
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

static cred_result check_basic(cb_conn *c, const char *b64)
{
	char plain[CB_USER_NAME_MAX + CB_PASS_MAX + 8];
	int n = lws_b64_decode_string(b64, plain, sizeof(plain) - 1);
	if (n <= 0)
		return CRED_BAD_PASS;
	plain[n] = '\0';
	char *colon = strchr(plain, ':');
	if (!colon || strlen(plain) != (size_t)n)
		return CRED_BAD_PASS;
	*colon = '\0';
	char addr[64];
	lws_get_peer_simple(c->wsi, addr, sizeof(addr));
	cb_status s = auth_verify(c->srv->st, plain, colon + 1, addr, cb_now_ms(), &c->user);
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
	if ((h = header_dup(c->wsi, WSI_TOKEN_HTTP_COOKIE))) {
		if (cookie_value(h, COOKIE_NAME, token, sizeof(token)))
			r = check_token(c, token);
		free(h);
		if (r != CRED_NONE)
			return r;
	}
	char arg[CB_TOKEN_LEN + 16];
	const char *v = ws ? lws_get_urlarg_by_name(c->wsi, "token=", arg, sizeof(arg)) : NULL;
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
