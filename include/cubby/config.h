/* config.h: cubbyd's settings, read from `key = value` lines with `#`
 * comments and `[profile NAME]` sections (upload profiles of the
 * file-manager protocol). Every key is documented with its default in
 * etc/cubby.conf; config_defaults() holds the same values. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "cubby/log.h"
#include "cubby/paths.h"

#define CB_MAX_PROFILES 16
#define CB_PROFILE_NAME_MAX 63
#define CB_FILE_PATH_MAX 4095 /* a server-side path from the config file */

/* An upload profile ([profile NAME], spec 5 `configId`). */
struct cb_profile {
	char name[CB_PROFILE_NAME_MAX + 1];
	uint64_t max_size;           /* bytes; 0 = max_upload_size */
	char extensions[256];        /* "jpg,png", lowercase; "" = any */
	char types[256];             /* "image/jpeg,image/png"; "" = any */
	char directory[CB_PATH_MAX + 1]; /* fixed directory; "" = client's */
	int force_private;           /* -1 = client's choice, 0 public, 1 private */
	bool keep_original;          /* keep_original=1 is honoured */
	bool is_virtual;             /* uploads go to the staging area */
	bool overwrite;              /* an existing name is replaced, not refused */
};

struct cb_config {
	char data_dir[CB_FILE_PATH_MAX + 1];
	char bind[64];               /* listen address; "" = all */
	int http_port;
	int line_port;
	char tls_cert[CB_FILE_PATH_MAX + 1]; /* both set = TLS on both ports */
	char tls_key[CB_FILE_PATH_MAX + 1];
	bool allow_signup;
	unsigned pbkdf2_iterations;
	int64_t session_ttl;         /* seconds */
	unsigned login_max_failures; /* failed logins per user or address ... */
	int64_t login_window;        /* ... within this many seconds, then refused */
	uint64_t max_upload_size;    /* bytes */
	uint64_t quota;              /* bytes per user; 0 = unlimited */
	int64_t partial_ttl;         /* seconds an idle partial upload is kept */
	uint64_t checkpoint_bytes;   /* fdatasync + record offset every N bytes */
	unsigned revisions_keep;     /* previous contents kept per node */
	unsigned max_connections;
	uint64_t send_queue_max;     /* bytes queued to one client before it is dropped */
	uint64_t max_message_size;   /* a WebSocket text message (JSON), bytes */
	uint64_t thumbnail_max;      /* largest thumbnail, bytes */
	uint64_t upload_buffer_size; /* spec 2 BufferSize: data bytes per message */
	int64_t heartbeat_s;         /* seconds between spec 2 heartbeats */
	uint64_t line_chunk;         /* spec 4: bytes in one put/get chunk */
	int64_t idle_timeout;        /* seconds a WebSocket/TCP client may be silent */
	int64_t http_timeout;        /* seconds for one HTTP request */
	uint64_t meta_max_size;      /* LMDB map size, bytes */
	cb_log_level log_level;
	char log_target[CB_FILE_PATH_MAX + 1]; /* "stderr", "syslog" or a file */
	int nprofiles;
	cb_profile profiles[CB_MAX_PROFILES];
};

void config_defaults(cb_config *cfg);

/* Reads FILE over the values already in cfg. On error returns -1 and
 * writes "FILE:LINE: key 'KEY': what is wrong" (or "FILE: reason" when the
 * file cannot be read) into err. */
int config_load(cb_config *cfg, const char *path, char *err, size_t errsz);

/* Sets one top-level key with the same parsing and checks as the file
 * (command-line overrides). -1 with "key 'KEY': what is wrong" in err. */
int config_set(cb_config *cfg, const char *key, const char *value, char *err,
	       size_t errsz);

/* Rules that span keys (tls_cert and tls_key go together), for after the
 * command-line overrides: -1 with "key 'KEY': what is wrong" in err. */
int config_check(const cb_config *cfg, char *err, size_t errsz);

/* The profile named `name`, or NULL. config_defaults() installs a built-in
 * "default" profile (client's choices honoured, max_upload_size); a
 * [profile default] section replaces it. */
const cb_profile *config_profile(const cb_config *cfg, const char *name);
/* Whether a profile takes a file named `name` (its extension is listed,
 * or the list is empty; a name without an extension passes only an empty
 * list), and content of MIME type `type`. */
bool profile_allows_name(const cb_profile *p, const char *name);
bool profile_allows_type(const cb_profile *p, const char *type);
