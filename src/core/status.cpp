/* status.cpp: the fallback English text for each cb_status, for callers
 * that have nothing more specific to tell the client. */
#include "cubby/status.h"

const char *cb_status_str(cb_status s)
{
	/* no default: -Wswitch then names any status added without a text */
	switch (s) {
	case CB_OK: return "ok";
	case CB_ERR_INVAL: return "invalid request";
	case CB_ERR_NOTFOUND: return "not found";
	case CB_ERR_EXISTS: return "already exists";
	case CB_ERR_ACCESS: return "permission denied";
	case CB_ERR_AUTH: return "wrong user name or password";
	case CB_ERR_RATE: return "too many failed logins, try again later";
	case CB_ERR_TOOBIG: return "too large";
	case CB_ERR_NOSPACE: return "not enough free disk space";
	case CB_ERR_QUOTA: return "quota exceeded";
	case CB_ERR_CHECKSUM: return "checksum mismatch";
	case CB_ERR_SIZE: return "size mismatch";
	case CB_ERR_OFFSET: return "not continuous";
	case CB_ERR_STATE: return "not possible in the current state";
	case CB_ERR_TEST: return "test failed";
	case CB_ERR_IO: return "input/output error";
	case CB_ERR_NOMEM: return "out of memory";
	}
	return "unknown error";
}
