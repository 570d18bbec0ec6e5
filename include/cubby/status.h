/* status.h: the one error type every core function returns.
 *
 * Core answers with a cb_status; each protocol module maps it onto its own
 * wire form (a close code, an acp error, an HTTP status). The short text of
 * cb_status_str() is a fallback: callers that know more say more. */
#pragma once

enum cb_status {
	CB_OK = 0,
	CB_ERR_INVAL,    /* malformed or out-of-range input */
	CB_ERR_NOTFOUND, /* no such thing, or the user may not see it */
	CB_ERR_EXISTS,   /* the name or id is taken */
	CB_ERR_ACCESS,   /* visible to the user, but not theirs to change */
	CB_ERR_AUTH,     /* wrong user name, password or token */
	CB_ERR_RATE,     /* too many failed logins; try later */
	CB_ERR_TOOBIG,   /* over max_upload_size or the declared size */
	CB_ERR_NOSPACE,  /* not enough free disk space */
	CB_ERR_QUOTA,    /* over the user's quota */
	CB_ERR_CHECKSUM, /* MD5 of the received bytes differs from the client's */
	CB_ERR_SIZE,     /* received byte count differs from the declared size */
	CB_ERR_OFFSET,   /* a write that does not continue where data ends */
	CB_ERR_STATE,    /* not possible in the current state */
	CB_ERR_TEST,     /* a JSON Patch "test" operation did not match */
	CB_ERR_IO,       /* the disk or LMDB failed */
	CB_ERR_NOMEM,
};

const char *cb_status_str(cb_status s);
