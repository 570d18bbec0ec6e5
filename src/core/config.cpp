/* config.cpp: reads cubbyd's `key = value` file and command-line overrides.
 * One table per section (top level, profile) describes every key; the file
 * parser and config_set() both go through it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cubby/config.h"

#define LINE_MAX_BYTES 4096
/* Sizes end up in off_t arithmetic, so they stay within int64. */
#define SIZE_CEIL ((uint64_t)INT64_MAX)
/* Long enough for any real setting, short enough that now + ttl and
 * seconds-to-milliseconds never overflow. */
#define DUR_MAX (3650ull * 86400)

enum key_type {
	T_STR,     /* text; lo = minimum length, field size bounds it */
	T_PORT,    /* int, lo..65535 */
	T_UINT,    /* unsigned, lo..hi */
	T_BOOL,
	T_SIZE,    /* uint64_t bytes, K/M/G/T suffix; hi 0 = SIZE_CEIL */
	T_DUR,     /* int64_t seconds, s/m/h/d suffix */
	T_LEVEL,   /* cb_log_level */
	T_EXTS,    /* comma list of file extensions */
	T_TYPES,   /* comma list of MIME types */
	T_DIR,     /* directory in the user's space, path_normalize()d */
	T_PRIVATE, /* yes/no/client -> 1/0/-1 */
};

struct key_def {
	const char *name;
	key_type type;
	size_t off;
	size_t size;
	uint64_t lo, hi;
};

/* The field's declared type must be T: a table entry that disagrees with
 * the struct fails to compile instead of writing the wrong width. */
template <typename T, typename S> constexpr size_t field_is(T S::*)
{
	return 0;
}
#define KEY(S, name, type, ctype, field, lo, hi)                             \
	{name, type, offsetof(S, field) + field_is<ctype>(&S::field),        \
	 sizeof(((S *)0)->field), lo, hi}
#define TXT(S, name, field, minlen) \
	{name, T_STR, offsetof(S, field), sizeof(((S *)0)->field), minlen, 0}

static const key_def top_keys[] = {
	TXT(cb_config, "data_dir", data_dir, 1),
	TXT(cb_config, "bind", bind, 0),
	KEY(cb_config, "http_port", T_PORT, int, http_port, 1, 65535),
	KEY(cb_config, "line_port", T_PORT, int, line_port, 0, 65535),
	TXT(cb_config, "tls_cert", tls_cert, 0),
	TXT(cb_config, "tls_key", tls_key, 0),
	KEY(cb_config, "allow_signup", T_BOOL, bool, allow_signup, 0, 0),
	KEY(cb_config, "pbkdf2_iterations", T_UINT, unsigned, pbkdf2_iterations, 1000, 10000000),
	KEY(cb_config, "session_ttl", T_DUR, int64_t, session_ttl, 1, DUR_MAX),
	KEY(cb_config, "login_max_failures", T_UINT, unsigned, login_max_failures, 1, 1000),
	KEY(cb_config, "login_window", T_DUR, int64_t, login_window, 1, DUR_MAX),
	KEY(cb_config, "max_upload_size", T_SIZE, uint64_t, max_upload_size, 1, 0),
	KEY(cb_config, "quota", T_SIZE, uint64_t, quota, 0, 0),
	KEY(cb_config, "partial_ttl", T_DUR, int64_t, partial_ttl, 1, DUR_MAX),
	KEY(cb_config, "checkpoint_bytes", T_SIZE, uint64_t, checkpoint_bytes, 64 << 10, 0),
	KEY(cb_config, "revisions_keep", T_UINT, unsigned, revisions_keep, 0, 1000),
	KEY(cb_config, "max_connections", T_UINT, unsigned, max_connections, 1, 100000),
	KEY(cb_config, "send_queue_max", T_SIZE, uint64_t, send_queue_max, 4 << 10, 0),
	KEY(cb_config, "max_message_size", T_SIZE, uint64_t, max_message_size, 4 << 10, 1ull << 30),
	KEY(cb_config, "thumbnail_max", T_SIZE, uint64_t, thumbnail_max, 0, 64ull << 20),
	KEY(cb_config, "upload_buffer_size", T_SIZE, uint64_t, upload_buffer_size, 1 << 10, 32767),
	KEY(cb_config, "heartbeat_s", T_DUR, int64_t, heartbeat_s, 1, 3600),
	KEY(cb_config, "line_chunk", T_SIZE, uint64_t, line_chunk, 1 << 10, 3 << 20),
	KEY(cb_config, "idle_timeout", T_DUR, int64_t, idle_timeout, 1, DUR_MAX),
	KEY(cb_config, "http_timeout", T_DUR, int64_t, http_timeout, 1, DUR_MAX),
	KEY(cb_config, "meta_max_size", T_SIZE, uint64_t, meta_max_size, 1 << 20, 0),
	KEY(cb_config, "log_level", T_LEVEL, cb_log_level, log_level, 0, 0),
	TXT(cb_config, "log", log_target, 1),
};

static const key_def profile_keys[] = {
	KEY(cb_profile, "max_size", T_SIZE, uint64_t, max_size, 0, 0),
	KEY(cb_profile, "extensions", T_EXTS, char[256], extensions, 0, 0),
	KEY(cb_profile, "types", T_TYPES, char[256], types, 0, 0),
	KEY(cb_profile, "directory", T_DIR, char[CB_PATH_MAX + 1], directory, 0, 0),
	KEY(cb_profile, "private", T_PRIVATE, int, force_private, 0, 0),
	KEY(cb_profile, "keep_original", T_BOOL, bool, keep_original, 0, 0),
	KEY(cb_profile, "virtual", T_BOOL, bool, is_virtual, 0, 0),
	KEY(cb_profile, "overwrite", T_BOOL, bool, overwrite, 0, 0),
};

#define NTOP (sizeof(top_keys) / sizeof(top_keys[0]))
#define NPROF (sizeof(profile_keys) / sizeof(profile_keys[0]))

static const key_def *find_key(const key_def *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ieq(const char *a, const char *b)
{
	for (; *a && lower(*a) == lower(*b); a++, b++)
		;
	return lower(*a) == lower(*b);
}

/* Trims s in place; returns the first non-blank byte. */
static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Digits, then at most one suffix from `units` (any case) multiplying by
 * the matching `scale`. 0 ok, -1 not a number, -2 above max. */
static int parse_scaled(const char *s, const char *units, const uint64_t *scale,
			uint64_t max, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	uint64_t n = 0;
	bool big = false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			big = true;
		else
			n = n * 10 + d;
	}
	uint64_t mult = 1;
	if (*s) {
		const char *u = units ? strchr(units, lower(*s)) : NULL;
		if (!u || s[1])
			return -1;
		mult = scale[u - units];
	}
	if (big || n > max / mult)
		return -2;
	*out = n * mult;
	return 0;
}

static const uint64_t size_scale[] = {1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40};
static const uint64_t dur_scale[] = {1, 60, 3600, 86400};

/* Limits in messages are written the way the file would write them. */
static void fmt_scaled(char *buf, size_t sz, uint64_t v, const char *units,
		       const uint64_t *scale, const char *bare)
{
	for (int i = (int)strlen(units) - 1; i >= 0; i--)
		if (v && v % scale[i] == 0) {
			snprintf(buf, sz, "%llu%c", (unsigned long long)(v / scale[i]),
				 units[i]);
			return;
		}
	snprintf(buf, sz, "%llu%s", (unsigned long long)v, bare);
}

static void fmt_limit(char *buf, size_t sz, key_type t, uint64_t v)
{
	if (t == T_SIZE)
		fmt_scaled(buf, sz, v, "KMGT", size_scale, "");
	else if (t == T_DUR)
		fmt_scaled(buf, sz, v, "smhd", dur_scale, "s");
	else
		snprintf(buf, sz, "%llu", (unsigned long long)v);
}

static const char *range_msg(const key_def *k, char *msg, size_t msgsz)
{
	char lo[32], hi[32];
	fmt_limit(lo, sizeof(lo), k->type, k->lo);
	fmt_limit(hi, sizeof(hi), k->type, k->hi);
	if (!k->hi)
		snprintf(msg, msgsz, "must be at least %s", lo);
	else
		snprintf(msg, msgsz, "must be between %s and %s", lo, hi);
	return msg;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (ieq(v, yes[i]) || ieq(v, no[i])) {
			*out = ieq(v, yes[i]);
			return 0;
		}
	}
	return -1;
}

/* Checks one comma-list item in place (lowercasing it); NULL or what is
 * wrong with it. */
static const char *check_ext(char *s, char *msg, size_t msgsz)
{
	for (char *p = s; *p; p++) {
		*p = lower(*p);
		if (!is_alnum(*p) && !strchr("_-+", *p)) {
			snprintf(msg, msgsz, "'%s': an extension is letters, digits, '_', '-' or '+' (no dots)", s);
			return msg;
		}
	}
	return NULL;
}

static bool mime_token(const char *s, size_t n)
{
	if (!n || n > 127)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("!#$&-^_.+", s[i]))
			return false;
	return true;
}

static const char *check_type(char *s, char *msg, size_t msgsz)
{
	const char *slash = strchr(s, '/');
	if (!slash || !mime_token(s, (size_t)(slash - s)) ||
	    !mime_token(slash + 1, strlen(slash + 1))) {
		snprintf(msg, msgsz, "'%s' is not a MIME type (type/subtype)", s);
		return msg;
	}
	for (char *p = s; *p; p++)
		*p = lower(*p);
	return NULL;
}

/* "a, .B,c" -> "a,b,c" in out (zero-filled, so whole-struct compares
 * see no stale bytes). */
static const char *parse_list(const char *v, bool exts, char *out, size_t outsz,
			      char *msg, size_t msgsz)
{
	char item[LINE_MAX_BYTES + 1];
	size_t used = 0;
	memset(out, 0, outsz);
	if (!*v)
		return NULL;
	for (;;) {
		const char *comma = strchr(v, ',');
		size_t n = comma ? (size_t)(comma - v) : strlen(v);
		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, v, n);
		item[n] = 0;
		char *s = trim(item);
		if (exts && *s == '.')
			s++;
		if (!*s)
			return "empty item in the list";
		const char *bad = exts ? check_ext(s, msg, msgsz) : check_type(s, msg, msgsz);
		if (bad)
			return bad;
		size_t len = strlen(s);
		if (used + (used ? 1 : 0) + len >= outsz) {
			snprintf(msg, msgsz, "list too long (at most %zu bytes)", outsz - 1);
			return msg;
		}
		if (used)
			out[used++] = ',';
		memcpy(out + used, s, len);
		used += len;
		if (!comma)
			return NULL;
		v = comma + 1;
	}
}

/* Parses v for key k and stores it in the struct at base; nothing is
 * stored on error. NULL, or what is wrong (in msg or static). */
static const char *set_key(void *base, const key_def *k, const char *v, char *msg,
			   size_t msgsz)
{
	char *field = (char *)base + k->off;
	uint64_t n;
	bool b;
	int rc;

	if (*v == '"' || *v == '\'')
		return "values are written without quotes";
	switch (k->type) {
	case T_STR: {
		size_t len = strlen(v);
		if (len < k->lo)
			return "must not be empty";
		if (len >= k->size) {
			snprintf(msg, msgsz, "too long (at most %zu bytes)", k->size - 1);
			return msg;
		}
		memset(field, 0, k->size);
		memcpy(field, v, len);
		return NULL;
	}
	case T_PORT:
		if (parse_scaled(v, NULL, NULL, 65535, &n) || n < k->lo) {
			snprintf(msg, msgsz, "not a port number (%llu-65535)",
				 (unsigned long long)k->lo);
			return msg;
		}
		*(int *)field = (int)n;
		return NULL;
	case T_UINT:
		rc = parse_scaled(v, NULL, NULL, UINT64_MAX, &n);
		if (rc == -1)
			return "not a number";
		if (rc || n < k->lo || n > k->hi)
			return range_msg(k, msg, msgsz);
		*(unsigned *)field = (unsigned)n;
		return NULL;
	case T_SIZE:
	case T_DUR: {
		bool size = k->type == T_SIZE;
		uint64_t hi = k->hi ? k->hi : SIZE_CEIL;
		rc = parse_scaled(v, size ? "kmgt" : "smhd", size ? size_scale : dur_scale,
				  SIZE_CEIL, &n);
		if (rc == -1)
			return size ? "not a size (a byte count, or a number with K, M, G or T)"
				    : "not a duration (seconds, or a number with s, m, h or d)";
		if (rc == -2 && !k->hi)
			return "too large";
		if (rc || n < k->lo || n > hi)
			return range_msg(k, msg, msgsz);
		if (size)
			*(uint64_t *)field = n;
		else
			*(int64_t *)field = (int64_t)n;
		return NULL;
	}
	case T_BOOL:
		if (parse_bool(v, &b))
			return "not a boolean (yes/no, true/false, on/off, 1/0)";
		*(bool *)field = b;
		return NULL;
	case T_PRIVATE:
		if (ieq(v, "client"))
			*(int *)field = -1;
		else if (!parse_bool(v, &b))
			*(int *)field = b ? 1 : 0;
		else
			return "not yes, no or client";
		return NULL;
	case T_LEVEL: {
		cb_log_level lv;
		if (log_level_parse(v, &lv))
			return "not a log level (error, warn, info or debug)";
		*(cb_log_level *)field = lv;
		return NULL;
	}
	case T_EXTS:
	case T_TYPES: {
		char out[256];
		static_assert(sizeof(out) == sizeof(((cb_profile *)0)->extensions) &&
				      sizeof(out) == sizeof(((cb_profile *)0)->types),
			      "list buffer matches the profile fields");
		const char *bad = parse_list(v, k->type == T_EXTS, out, sizeof(out), msg, msgsz);
		if (bad)
			return bad;
		memcpy(field, out, sizeof(out));
		return NULL;
	}
	case T_DIR: {
		char out[CB_PATH_MAX + 1];
		memset(out, 0, sizeof(out));
		const char *bad = path_normalize(v, strlen(v), out, sizeof(out));
		if (bad)
			return bad;
		memcpy(field, out, sizeof(out));
		return NULL;
	}
	}
	return "unhandled key type";
}

/* A fresh profile holds the client's choices and max_upload_size. */
static void profile_init(cb_profile *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->force_private = -1;
	p->keep_original = true;
}

void config_defaults(cb_config *cfg)
{
	/* Zeroed padding too: tests compare whole structs. */
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "/var/lib/cubby");
	cfg->http_port = 8080;
	cfg->line_port = 1234;
	cfg->allow_signup = false;
	cfg->pbkdf2_iterations = 10000;
	cfg->session_ttl = 30 * 86400;
	cfg->login_max_failures = 5;
	cfg->login_window = 5 * 60;
	cfg->max_upload_size = 4ull << 30;
	cfg->quota = 0;
	cfg->partial_ttl = 86400;
	cfg->checkpoint_bytes = 16 << 20;
	cfg->revisions_keep = 5;
	cfg->max_connections = 1000;
	cfg->send_queue_max = 1 << 20;
	cfg->max_message_size = 1 << 20;
	cfg->thumbnail_max = 256 << 10;
	cfg->upload_buffer_size = 32767;
	cfg->heartbeat_s = 5;
	cfg->line_chunk = 48 << 10;
	cfg->idle_timeout = 300;
	cfg->http_timeout = 30;
	cfg->meta_max_size = 256 << 20;
	cfg->log_level = CB_LOG_INFO;
	snprintf(cfg->log_target, sizeof(cfg->log_target), "stderr");
	cfg->nprofiles = 1;
	profile_init(&cfg->profiles[0], "default");
}

const cb_profile *config_profile(const cb_config *cfg, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < cfg->nprofiles; i++)
		if (!strcmp(cfg->profiles[i].name, name))
			return &cfg->profiles[i];
	return NULL;
}

/* Whether `item` (len bytes) is an entry of a comma-separated list, in any
 * case; an empty list has everything. */
static bool list_has(const char *list, const char *item, size_t len)
{
	if (!*list)
		return true;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && !strncasecmp(p, item, len))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

bool profile_allows_name(const cb_profile *p, const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!*p->extensions)
		return true;
	return dot && dot != name && list_has(p->extensions, dot + 1, strlen(dot + 1));
}

bool profile_allows_type(const cb_profile *p, const char *type)
{
	return list_has(p->types, type, strlen(type));
}

static const char *misplaced(const char *key, bool in_profile)
{
	if (in_profile && find_key(top_keys, NTOP, key))
		return "not a profile key (top-level keys go before the first [profile] section)";
	if (!in_profile && find_key(profile_keys, NPROF, key))
		return "only allowed in a [profile NAME] section";
	return "unknown key";
}

int config_set(cb_config *cfg, const char *key, const char *value, char *err,
	       size_t errsz)
{
	char msg[256];
	const key_def *k = find_key(top_keys, NTOP, key);
	const char *bad = !k ? misplaced(key, false)
			  : !value ? "missing value"
				   : set_key(cfg, k, value, msg, sizeof(msg));
	if (!bad)
		return 0;
	snprintf(err, errsz, "key '%s': %s", key, bad);
	return -1;
}

struct parser {
	FILE *f;
	const char *path;
	int line;
	cb_config *cfg;
	int cur;                       /* profile being filled, -1 = top level */
	int top_line[NTOP];            /* where each key was set in this file */
	int prof_line[NPROF];          /* ... and in the current section */
	int section_line[CB_MAX_PROFILES];
	char *err;
	size_t errsz;
	char buf[LINE_MAX_BYTES + 2];
};

static int fail(parser *p, const char *key, const char *msg)
{
	if (key)
		snprintf(p->err, p->errsz, "%s:%d: key '%s': %s", p->path, p->line, key, msg);
	else
		snprintf(p->err, p->errsz, "%s:%d: %s", p->path, p->line, msg);
	return -1;
}

/* 1 line in p->buf, 0 end of file, -1 error (reported). */
static int read_line(parser *p)
{
	size_t n = 0;
	int c;
	while ((c = getc(p->f)) != EOF && c != '\n') {
		if (n == LINE_MAX_BYTES) {
			p->line++;
			return fail(p, NULL, "line longer than 4096 bytes");
		}
		if (c == 0) {
			p->line++;
			return fail(p, NULL, "NUL byte in line");
		}
		p->buf[n++] = (char)c;
	}
	if (ferror(p->f)) {
		snprintf(p->err, p->errsz, "%s: %s", p->path, strerror(errno));
		return -1;
	}
	if (c == EOF && n == 0)
		return 0;
	p->buf[n] = 0;
	p->line++;
	return 1;
}

static bool valid_profile_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > CB_PROFILE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("._-", *s))
			return false;
	return true;
}

static int section(parser *p, const char *s)
{
	char inner[LINE_MAX_BYTES + 1], msg[CB_PROFILE_NAME_MAX + 128];
	size_t n = strlen(s);
	char *name = NULL;
	if (n >= 2 && s[n - 1] == ']') {
		memcpy(inner, s + 1, n - 2);
		inner[n - 2] = 0;
		char *in = trim(inner);
		if (!strncmp(in, "profile", 7) && (!in[7] || is_blank(in[7])))
			name = trim(in + 7);
	}
	if (!name) {
		snprintf(p->err, p->errsz, "%s:%d: unknown section '%s' (expected [profile NAME])",
			 p->path, p->line, s);
		return -1;
	}
	if (!valid_profile_name(name)) {
		snprintf(msg, sizeof(msg), "profile name '%.*s': 1-%d characters of A-Z, a-z, 0-9, '.', '_', '-'",
			 CB_PROFILE_NAME_MAX + 1, name, CB_PROFILE_NAME_MAX);
		return fail(p, NULL, msg);
	}
	cb_config *cfg = p->cfg;
	int i = 0;
	while (i < cfg->nprofiles && strcmp(cfg->profiles[i].name, name))
		i++;
	if (i < cfg->nprofiles && p->section_line[i]) {
		snprintf(msg, sizeof(msg), "profile '%s': defined twice (first at line %d)", name,
			 p->section_line[i]);
		return fail(p, NULL, msg);
	}
	if (i == CB_MAX_PROFILES) {
		snprintf(msg, sizeof(msg), "profile '%s': too many profiles (at most %d)", name,
			 CB_MAX_PROFILES);
		return fail(p, NULL, msg);
	}
	/* A section replaces a same-named profile from before this file
	 * (the built-in "default" included) rather than adding to it. */
	if (i == cfg->nprofiles)
		cfg->nprofiles++;
	profile_init(&cfg->profiles[i], name);
	p->section_line[i] = p->line;
	p->cur = i;
	memset(p->prof_line, 0, sizeof(p->prof_line));
	return 0;
}

static int assignment(parser *p, char *s)
{
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(p, NULL, "expected 'key = value'");
	*eq = 0;
	char *key = trim(s), *value = trim(eq + 1);
	if (!*key)
		return fail(p, NULL, "expected 'key = value'");

	bool in_profile = p->cur >= 0;
	const key_def *tab = in_profile ? profile_keys : top_keys;
	const key_def *k = find_key(tab, in_profile ? NPROF : NTOP, key);
	if (!k)
		return fail(p, key, misplaced(key, in_profile));
	int *seen = in_profile ? &p->prof_line[k - tab] : &p->top_line[k - tab];
	char msg[256];
	if (*seen) {
		snprintf(msg, sizeof(msg), "set twice (first at line %d)", *seen);
		return fail(p, key, msg);
	}
	*seen = p->line;
	void *base = in_profile ? (void *)&p->cfg->profiles[p->cur] : (void *)p->cfg;
	const char *bad = set_key(base, k, value, msg, sizeof(msg));
	return bad ? fail(p, key, bad) : 0;
}

int config_check(const cb_config *cfg, char *err, size_t errsz)
{
	bool cert = cfg->tls_cert[0], key = cfg->tls_key[0];
	if (cert == key)
		return 0;
	snprintf(err, errsz, "key '%s': set without %s (give both or neither)",
		 cert ? "tls_cert" : "tls_key", cert ? "tls_key" : "tls_cert");
	return -1;
}

/* Rules across keys are checked once the whole file is read because
 * either key may come first; the message names the line that set one. */
static int check_whole(parser *p)
{
	char msg[128];
	if (!config_check(p->cfg, msg, sizeof(msg)))
		return 0;
	const key_def *cert = find_key(top_keys, NTOP, "tls_cert");
	const key_def *key = find_key(top_keys, NTOP, "tls_key");
	int line = p->top_line[cert - top_keys] ? p->top_line[cert - top_keys]
						: p->top_line[key - top_keys];
	char where[32] = "";
	if (line)
		snprintf(where, sizeof(where), ":%d", line);
	snprintf(p->err, p->errsz, "%s%s: %s", p->path, where, msg);
	return -1;
}

static int parse(parser *p)
{
	int rc;
	while ((rc = read_line(p)) > 0) {
		char *s = p->buf;
		if (p->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
			s += 3; /* UTF-8 byte order mark from some editors */
		s = trim(s);
		if (!*s || *s == '#')
			continue;
		rc = *s == '[' ? section(p, s) : assignment(p, s);
		if (rc)
			return rc;
	}
	return rc ? rc : check_whole(p);
}

int config_load(cb_config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Parse into a copy so that a bad file leaves cfg as it was (a
	 * reload keeps the running settings). */
	cb_config *copy = (cb_config *)malloc(sizeof(*copy));
	parser *p = (parser *)calloc(1, sizeof(*p));
	int rc = -1;
	if (!copy || !p) {
		snprintf(err, errsz, "%s: %s", path, strerror(ENOMEM));
	} else {
		memcpy(copy, cfg, sizeof(*copy));
		p->f = f;
		p->path = path;
		p->cfg = copy;
		p->cur = -1;
		p->err = err;
		p->errsz = errsz;
		rc = parse(p);
		if (!rc)
			memcpy(cfg, copy, sizeof(*cfg));
	}
	free(p);
	free(copy);
	fclose(f);
	return rc;
}
