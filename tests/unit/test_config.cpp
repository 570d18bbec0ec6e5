/* test_config.cpp: the config file format, every value form, the exact
 * error messages, profiles, and that etc/cubby.conf says what
 * config_defaults() holds. Runs from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/config.h"

#define REPO_CONF "etc/cubby.conf"

static char tmpdir[64];
static char conf_path[128];
static char err[8192];

/* cb_config is ~45K: keep the ones tests compare off the stack. */
static cb_config cfg, want;

static int group_setup(void **)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmpdir);
	return 0;
}

static int group_teardown(void **)
{
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Loads `len` bytes of config text over cfg (defaults first unless
 * `keep`); the file is gone again afterwards. */
static int load_n(const char *text, size_t len, bool keep)
{
	if (!keep)
		config_defaults(&cfg);
	write_file(conf_path, text, len);
	err[0] = 0;
	int rc = config_load(&cfg, conf_path, err, sizeof(err));
	unlink(conf_path);
	return rc;
}

static int load(const char *text)
{
	return load_n(text, strlen(text), false);
}

/* The load fails with conf_path + suffix, and cfg is left as it was. */
static void check_error_n(const char *text, size_t len, const char *suffix)
{
	char expect[sizeof(err)];
	snprintf(expect, sizeof(expect), "%s%s", conf_path, suffix);
	assert_int_equal(load_n(text, len, false), -1);
	assert_string_equal(err, expect);
	config_defaults(&want);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void check_error(const char *text, const char *suffix)
{
	check_error_n(text, strlen(text), suffix);
}

/* config_set(key, value) fails with exactly `expect`, changing nothing. */
static void check_set_error(const char *key, const char *value, const char *expect)
{
	config_defaults(&cfg);
	config_defaults(&want);
	err[0] = 0;
	assert_int_equal(config_set(&cfg, key, value, err, sizeof(err)), -1);
	assert_string_equal(err, expect);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void set_ok(const char *key, const char *value)
{
	err[0] = 0;
	int rc = config_set(&cfg, key, value, err, sizeof(err));
	if (rc)
		print_error("config_set(%s, %s): %s\n", key, value, err);
	assert_int_equal(rc, 0);
}

/* Every top-level key with a valid value other than its default. */
static const struct {
	const char *key, *value;
} top_keys[] = {
	{"data_dir", "/srv/cubby"},
	{"bind", "127.0.0.1"},
	{"http_port", "1"},
	{"line_port", "0"},
	{"tls_cert", "/c.pem"},
	{"tls_key", "/k.pem"},
	{"allow_signup", "yes"},
	{"pbkdf2_iterations", "1000"},
	{"session_ttl", "1"},
	{"login_max_failures", "1"},
	{"login_window", "1"},
	{"max_upload_size", "1"},
	{"quota", "1"},
	{"partial_ttl", "1"},
	{"checkpoint_bytes", "1M"},
	{"revisions_keep", "0"},
	{"max_connections", "1"},
	{"send_queue_max", "4K"},
	{"max_message_size", "4K"},
	{"thumbnail_max", "0"},
	{"upload_buffer_size", "1K"},
	{"heartbeat_s", "1"},
	{"line_chunk", "1K"},
	{"idle_timeout", "1"},
	{"http_timeout", "1"},
	{"meta_max_size", "1G"},
	{"log_level", "debug"},
	{"log", "syslog"},
};

static const char *const profile_keys[] = {
	"max_size", "extensions", "types", "directory",
	"private", "keep_original", "virtual", "overwrite",
};

static void test_defaults(void **)
{
	config_defaults(&cfg);
	assert_string_equal(cfg.data_dir, "/var/lib/cubby");
	assert_string_equal(cfg.bind, "");
	assert_int_equal(cfg.http_port, 8080);
	assert_int_equal(cfg.line_port, 1234);
	assert_string_equal(cfg.tls_cert, "");
	assert_string_equal(cfg.tls_key, "");
	assert_false(cfg.allow_signup);
	assert_int_equal(cfg.pbkdf2_iterations, 10000);
	assert_int_equal(cfg.session_ttl, 30 * 86400);
	assert_int_equal(cfg.login_max_failures, 5);
	assert_int_equal(cfg.login_window, 300);
	assert_int_equal(cfg.max_upload_size, 4ull << 30);
	assert_int_equal(cfg.quota, 0);
	assert_int_equal(cfg.partial_ttl, 86400);
	assert_int_equal(cfg.checkpoint_bytes, 16 << 20);
	assert_int_equal(cfg.send_queue_max, 1 << 20);
	assert_int_equal(cfg.max_message_size, 1 << 20);
	assert_int_equal(cfg.thumbnail_max, 256 << 10);
	assert_int_equal(cfg.revisions_keep, 5);
	assert_int_equal(cfg.max_connections, 1000);
	assert_int_equal(cfg.upload_buffer_size, 32767);
	assert_int_equal(cfg.heartbeat_s, 5);
	assert_int_equal(cfg.line_chunk, 48 << 10);
	assert_int_equal(cfg.idle_timeout, 300);
	assert_int_equal(cfg.http_timeout, 30);
	assert_int_equal(cfg.meta_max_size, 256 << 20);
	assert_int_equal(cfg.log_level, CB_LOG_INFO);
	assert_string_equal(cfg.log_target, "stderr");
	assert_int_equal(cfg.nprofiles, 1);
	const cb_profile *p = &cfg.profiles[0];
	assert_string_equal(p->name, "default");
	assert_int_equal(p->max_size, 0);
	assert_string_equal(p->extensions, "");
	assert_string_equal(p->types, "");
	assert_string_equal(p->directory, "");
	assert_int_equal(p->force_private, -1);
	assert_true(p->keep_original);
	assert_false(p->is_virtual);
	assert_false(p->overwrite);
}

/* Loading the shipped file over the defaults changes nothing, and over a
 * config with any one key changed restores that key: so the file sets
 * every key, to its default. */
static void test_repo_conf_is_defaults(void **)
{
	config_defaults(&want);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, REPO_CONF, err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &want, sizeof(cfg));

	for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
		config_defaults(&cfg);
		set_ok(top_keys[i].key, top_keys[i].value);
		assert_int_not_equal(memcmp(&cfg, &want, sizeof(cfg)), 0);
		if (!strcmp(top_keys[i].key, "tls_cert"))
			set_ok("tls_key", "/k.pem"); /* the file needs a pair */
		int rc = config_load(&cfg, REPO_CONF, err, sizeof(err));
		if (rc)
			print_error("%s\n", err);
		assert_int_equal(rc, 0);
		if (memcmp(&cfg, &want, sizeof(cfg)))
			print_error("etc/cubby.conf does not set %s\n", top_keys[i].key);
		assert_memory_equal(&cfg, &want, sizeof(cfg));
	}
}

/* The commented [profile avatars] example shows every profile key and
 * parses once uncommented. */
static void test_repo_conf_example(void **)
{
	static char text[1 << 16], example[4096];
	FILE *f = fopen(REPO_CONF, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;

	const char *s = strstr(text, "\n# [profile avatars]\n");
	assert_non_null(s);
	size_t used = 0;
	for (s++; !strncmp(s, "# ", 2); ) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
		assert_true(used + len - 2 < sizeof(example));
		memcpy(example + used, s + 2, len - 2);
		used += len - 2;
		s += len;
	}
	example[used] = 0;
	for (size_t i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "\n%s = ", profile_keys[i]);
		if (!strstr(example, line))
			print_error("example profile lacks %s\n", profile_keys[i]);
		assert_non_null(strstr(example, line));
	}

	assert_int_equal(load(example), 0);
	assert_int_equal(cfg.nprofiles, 2);
	const cb_profile *p = config_profile(&cfg, "avatars");
	assert_non_null(p);
	assert_int_equal(p->max_size, 2 << 20);
	assert_string_equal(p->extensions, "jpg,jpeg,png,webp");
	assert_string_equal(p->types, "image/jpeg,image/png,image/webp");
	assert_string_equal(p->directory, "avatars");
	assert_int_equal(p->force_private, 1);
	assert_false(p->keep_original);
	assert_false(p->is_virtual);
	assert_true(p->overwrite);
}

static void test_sizes(void **)
{
	static const struct {
		const char *v;
		uint64_t n;
	} ok[] = {
		{"0", 0}, {"1", 1}, {"007", 7}, {"1k", 1024}, {"1K", 1024},
		{"3m", 3 << 20}, {"3M", 3 << 20}, {"2g", 2ull << 30}, {"5G", 5ull << 30},
		{"1t", 1ull << 40}, {"2T", 2ull << 40}, {"8388607T", 8388607ull << 40},
		{"9223372036854775807", INT64_MAX},
	};
	config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		set_ok("quota", ok[i].v);
		assert_int_equal(cfg.quota, ok[i].n);
	}

	static const char *const junk[] = {
		"", "-1", "+1", "1X", "1KB", "1Ki", "K", " 1", "1 K", "1.5G", "0x10", "1e3", "1k1",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		check_set_error("quota", junk[i],
				"key 'quota': not a size (a byte count, or a number with K, M, G or T)");
	static const char *const big[] = {
		"9223372036854775808", "18446744073709551615", "18446744073709551616",
		"99999999999999999999999", "8388608T", "16777216T", "9999999999999999999T",
	};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		check_set_error("quota", big[i], "key 'quota': too large");

	check_set_error("max_upload_size", "0", "key 'max_upload_size': must be at least 1");
	check_set_error("checkpoint_bytes", "65535", "key 'checkpoint_bytes': must be at least 64K");
	check_set_error("meta_max_size", "1023K", "key 'meta_max_size': must be at least 1M");
	check_set_error("line_chunk", "1023", "key 'line_chunk': must be between 1K and 3M");
	check_set_error("line_chunk", "3145729", "key 'line_chunk': must be between 1K and 3M");
	config_defaults(&cfg);
	set_ok("checkpoint_bytes", "64K");
	assert_int_equal(cfg.checkpoint_bytes, 65536);
	set_ok("meta_max_size", "1024K");
	assert_int_equal(cfg.meta_max_size, 1 << 20);
}

static void test_durations(void **)
{
	static const struct {
		const char *v;
		int64_t n;
	} ok[] = {
		{"1", 1}, {"90", 90}, {"90s", 90}, {"90S", 90}, {"5m", 300}, {"5M", 300},
		{"2h", 7200}, {"2H", 7200}, {"1d", 86400}, {"3650d", 3650 * 86400LL},
		{"315360000", 315360000},
	};
	config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		set_ok("session_ttl", ok[i].v);
		assert_int_equal(cfg.session_ttl, ok[i].n);
	}

	static const char *const junk[] = {"", "-1", "1w", "1.5h", "5 m", "m", "1ms", "1y", "d1"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		check_set_error("idle_timeout", junk[i],
				"key 'idle_timeout': not a duration (seconds, or a number with s, m, h or d)");
	static const char *const range[] = {
		"0", "0d", "3651d", "315360001", "87601h", "99999999999999999999", "9999999999999999999d",
	};
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		check_set_error("http_timeout", range[i],
				"key 'http_timeout': must be between 1s and 3650d");
}

static void test_booleans(void **)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True", "On"};
	static const char *const no[] = {"no", "false", "off", "0", "NO", "False", "OFF"};
	config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		set_ok("allow_signup", yes[i]);
		assert_true(cfg.allow_signup);
		set_ok("allow_signup", no[i]);
		assert_false(cfg.allow_signup);
	}
	static const char *const bad[] = {"", "maybe", "2", "y", "n", "yess", "01", "on "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_set_error("allow_signup", bad[i],
				"key 'allow_signup': not a boolean (yes/no, true/false, on/off, 1/0)");
}

static void test_numbers(void **)
{
	config_defaults(&cfg);
	set_ok("http_port", "1");
	assert_int_equal(cfg.http_port, 1);
	set_ok("http_port", "65535");
	assert_int_equal(cfg.http_port, 65535);
	set_ok("line_port", "0");
	assert_int_equal(cfg.line_port, 0);
	set_ok("revisions_keep", "0");
	assert_int_equal(cfg.revisions_keep, 0);
	set_ok("pbkdf2_iterations", "10000000");
	assert_int_equal(cfg.pbkdf2_iterations, 10000000);

	static const char *const bad_port[] = {"0", "65536", "-1", "", "http", "80x", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++)
		check_set_error("http_port", bad_port[i], "key 'http_port': not a port number (1-65535)");
	check_set_error("line_port", "65536", "key 'line_port': not a port number (0-65535)");

	check_set_error("pbkdf2_iterations", "abc", "key 'pbkdf2_iterations': not a number");
	check_set_error("pbkdf2_iterations", "1K", "key 'pbkdf2_iterations': not a number");
	check_set_error("pbkdf2_iterations", "-5", "key 'pbkdf2_iterations': not a number");
	check_set_error("pbkdf2_iterations", "", "key 'pbkdf2_iterations': not a number");
	static const char *const bad_iter[] = {"999", "10000001", "4294967296", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad_iter) / sizeof(bad_iter[0]); i++)
		check_set_error("pbkdf2_iterations", bad_iter[i],
				"key 'pbkdf2_iterations': must be between 1000 and 10000000");
	check_set_error("max_connections", "0", "key 'max_connections': must be between 1 and 100000");
	check_set_error("max_connections", "100001", "key 'max_connections': must be between 1 and 100000");
	check_set_error("login_max_failures", "0", "key 'login_max_failures': must be between 1 and 1000");
	check_set_error("revisions_keep", "1001", "key 'revisions_keep': must be between 0 and 1000");
}

static void test_text_values(void **)
{
	char longv[5000];
	config_defaults(&cfg);
	set_ok("bind", "");
	set_ok("log_level", "debug");
	assert_int_equal(cfg.log_level, CB_LOG_DEBUG);
	set_ok("log_level", "error");
	assert_int_equal(cfg.log_level, CB_LOG_ERROR);
	set_ok("log", "/var/log/cubby.log");
	assert_string_equal(cfg.log_target, "/var/log/cubby.log");

	memset(longv, 'a', 63);
	longv[63] = 0;
	set_ok("bind", longv);
	assert_string_equal(cfg.bind, longv);
	memset(longv, 'a', 4095);
	longv[4095] = 0;
	set_ok("tls_cert", longv);
	assert_string_equal(cfg.tls_cert, longv);

	/* A shorter value leaves no bytes of the longer one behind. */
	set_ok("tls_cert", "");
	config_defaults(&want);
	assert_memory_equal(cfg.tls_cert, want.tls_cert, sizeof(cfg.tls_cert));

	memset(longv, 'a', 64);
	longv[64] = 0;
	check_set_error("bind", longv, "key 'bind': too long (at most 63 bytes)");
	memset(longv, 'a', 4096);
	longv[4096] = 0;
	check_set_error("tls_key", longv, "key 'tls_key': too long (at most 4095 bytes)");
	check_set_error("data_dir", "", "key 'data_dir': must not be empty");
	check_set_error("log", "", "key 'log': must not be empty");
	check_set_error("data_dir", "\"/srv\"", "key 'data_dir': values are written without quotes");
	check_set_error("bind", "'::1'", "key 'bind': values are written without quotes");
	check_set_error("log_level", "verbose", "key 'log_level': not a log level (error, warn, info or debug)");
	check_set_error("log_level", "", "key 'log_level': not a log level (error, warn, info or debug)");
}

static void test_set_errors(void **)
{
	check_set_error("frob", "1", "key 'frob': unknown key");
	check_set_error("", "1", "key '': unknown key");
	check_set_error("HTTP_PORT", "80", "key 'HTTP_PORT': unknown key");
	check_set_error("max_size", "1", "key 'max_size': only allowed in a [profile NAME] section");
	check_set_error("http_port", NULL, "key 'http_port': missing value");
	/* err is cut to its size, and always terminated */
	config_defaults(&cfg);
	char small[8];
	assert_int_equal(config_set(&cfg, "frob", "1", small, sizeof(small)), -1);
	assert_string_equal(small, "key 'fr");
}

static void test_file_syntax(void **)
{
	const char *text =
		"# full-line comment\n"
		"   # indented comment\n"
		"\n"
		"  \t \n"
		"http_port=81\n"
		"\tline_port   =   0   \r\n"
		"bind =\n"
		"log = /tmp/cubby#1.log # not a comment\n"
		"data_dir = /srv/a=b\n"
		"quota = 10G\t\n"
		"  [ profile   spaced.name_1-x ]  \n"
		"  max_size = 1k\n"
		"[profile last]\n"
		"overwrite = on"; /* no final newline */
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.http_port, 81);
	assert_int_equal(cfg.line_port, 0);
	assert_string_equal(cfg.bind, "");
	assert_string_equal(cfg.log_target, "/tmp/cubby#1.log # not a comment");
	assert_string_equal(cfg.data_dir, "/srv/a=b");
	assert_int_equal(cfg.quota, 10ull << 30);
	assert_int_equal(cfg.nprofiles, 3);
	assert_string_equal(cfg.profiles[1].name, "spaced.name_1-x");
	assert_int_equal(cfg.profiles[1].max_size, 1024);
	assert_string_equal(cfg.profiles[2].name, "last");
	assert_true(cfg.profiles[2].overwrite);

	/* An empty file, and a byte order mark, change nothing. */
	assert_int_equal(load(""), 0);
	config_defaults(&want);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
	assert_int_equal(load("\xEF\xBB\xBFhttp_port = 82\n"), 0);
	assert_int_equal(cfg.http_port, 82);

	/* A line of exactly 4096 bytes is fine. */
	static char big[4200];
	memset(big, 'x', sizeof(big));
	memcpy(big, "log = /", 7);
	big[4096] = '\n';
	assert_int_equal(load_n(big, 4097, false), 0);
	assert_int_equal(strlen(cfg.log_target), 4090);
}

static void test_file_errors(void **)
{
	check_error("http_port = 8080\n\n# c\nfrob = 1\n", ":4: key 'frob': unknown key");
	check_error("http_port = 80x\n", ":1: key 'http_port': not a port number (1-65535)");
	check_error("\n\n\n\n\n\nhttp_port = 0\n", ":7: key 'http_port': not a port number (1-65535)");
	check_error("pbkdf2_iterations = abc\n", ":1: key 'pbkdf2_iterations': not a number");
	check_error("quota = 99999999999999999999\n", ":1: key 'quota': too large");
	check_error("max_upload_size = 16777216T\n", ":1: key 'max_upload_size': too large");
	check_error("session_ttl = 99999999999999999999d\n",
		    ":1: key 'session_ttl': must be between 1s and 3650d");
	check_error("max_upload_size =\n",
		    ":1: key 'max_upload_size': not a size (a byte count, or a number with K, M, G or T)");
	check_error("allow_signup = maybe\n",
		    ":1: key 'allow_signup': not a boolean (yes/no, true/false, on/off, 1/0)");
	check_error("http_port = 8080 # web\n", ":1: key 'http_port': not a port number (1-65535)");
	check_error("data_dir = \"/srv\"\n", ":1: key 'data_dir': values are written without quotes");
	check_error("# x\nhttp_port 8080\n", ":2: expected 'key = value'");
	check_error(" = 5\n", ":1: expected 'key = value'");
	check_error("http_port = 1\nhttp_port = 2\n", ":2: key 'http_port': set twice (first at line 1)");
	check_error("max_size = 1\n", ":1: key 'max_size': only allowed in a [profile NAME] section");
}

static void test_file_limits(void **)
{
	static char big[4200];
	memset(big, '#', sizeof(big));
	big[0] = '\n';
	big[4098] = '\n';
	/* line 2 holds 4097 bytes */
	check_error_n(big, 4099, ":2: line longer than 4096 bytes");
	check_error_n("# c\nlog = a\0b\n", 14, ":2: NUL byte in line");

	char expect[256];
	snprintf(expect, sizeof(expect), "%s/missing.conf", tmpdir);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, expect, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s/missing.conf: No such file or directory", tmpdir);
	assert_string_equal(err, expect);

	assert_int_equal(config_load(&cfg, tmpdir, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: Is a directory", tmpdir);
	assert_string_equal(err, expect);
	config_defaults(&want);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void test_section_errors(void **)
{
	check_error("[server]\n", ":1: unknown section '[server]' (expected [profile NAME])");
	check_error("http_port = 1\n[profile a\n",
		    ":2: unknown section '[profile a' (expected [profile NAME])");
	check_error("[profilex]\n", ":1: unknown section '[profilex]' (expected [profile NAME])");
	check_error("[Profile x]\n", ":1: unknown section '[Profile x]' (expected [profile NAME])");
	check_error("[]\n", ":1: unknown section '[]' (expected [profile NAME])");
	check_error("[\n", ":1: unknown section '[' (expected [profile NAME])");
	check_error("[profile]\n",
		    ":1: profile name '': 1-63 characters of A-Z, a-z, 0-9, '.', '_', '-'");
	check_error("[profile a b]\n",
		    ":1: profile name 'a b': 1-63 characters of A-Z, a-z, 0-9, '.', '_', '-'");
	check_error("[profile a/b]\n",
		    ":1: profile name 'a/b': 1-63 characters of A-Z, a-z, 0-9, '.', '_', '-'");
	check_error("[profile "
		    "a123456789b123456789c123456789d123456789e123456789f123456789xyzw]\n",
		    ":1: profile name "
		    "'a123456789b123456789c123456789d123456789e123456789f123456789xyzw': "
		    "1-63 characters of A-Z, a-z, 0-9, '.', '_', '-'");
	check_error("[profile a]\n[profile b]\n[profile a]\n",
		    ":3: profile 'a': defined twice (first at line 1)");
	check_error("[profile default]\nmax_size = 1\n[profile default]\n",
		    ":3: profile 'default': defined twice (first at line 1)");
	check_error("tls_cert = /c.pem\n",
		    ":1: key 'tls_cert': set without tls_key (give both or neither)");
	check_error("log_level = debug\ntls_key = /k.pem\n[profile a]\n",
		    ":2: key 'tls_key': set without tls_cert (give both or neither)");
	check_error("[profile a]\nhttp_port = 1\n",
		    ":2: key 'http_port': not a profile key (top-level keys go before the first "
		    "[profile] section)");
	check_error("[profile a]\nfrob = 1\n", ":2: key 'frob': unknown key");
}

static void test_profile_value_errors(void **)
{
	check_error("[profile a]\nmax_size = 1Q\n",
		    ":2: key 'max_size': not a size (a byte count, or a number with K, M, G or T)");
	check_error("[profile a]\ndirectory = /abs\n",
		    ":2: key 'directory': absolute paths are not allowed");
	check_error("[profile a]\ndirectory = a/../b\n",
		    ":2: key 'directory': '..' is not allowed in a path");
	check_error("[profile a]\nextensions = jpg,,png\n", ":2: key 'extensions': empty item in the list");
	check_error("[profile a]\nextensions = jpg,\n", ":2: key 'extensions': empty item in the list");
	check_error("[profile a]\nextensions = .\n", ":2: key 'extensions': empty item in the list");
	check_error("[profile a]\nextensions = tar.gz\n",
		    ":2: key 'extensions': 'tar.gz': an extension is letters, digits, '_', '-' or '+' (no dots)");
	check_error("[profile a]\nextensions = j pg\n",
		    ":2: key 'extensions': 'j pg': an extension is letters, digits, '_', '-' or '+' (no dots)");
	check_error("[profile a]\ntypes = image\n", ":2: key 'types': 'image' is not a MIME type (type/subtype)");
	check_error("[profile a]\ntypes = image/png, image/\n",
		    ":2: key 'types': 'image/' is not a MIME type (type/subtype)");
	check_error("[profile a]\ntypes = /png\n", ":2: key 'types': '/png' is not a MIME type (type/subtype)");
	check_error("[profile a]\ntypes = a/b/c\n", ":2: key 'types': 'a/b/c' is not a MIME type (type/subtype)");
	check_error("[profile a]\nprivate = maybe\n", ":2: key 'private': not yes, no or client");
	check_error("[profile a]\nvirtual = 2\n",
		    ":2: key 'virtual': not a boolean (yes/no, true/false, on/off, 1/0)");
	check_error("[profile a]\nmax_size = 1\nmax_size = 2\n",
		    ":3: key 'max_size': set twice (first at line 2)");

	/* 64 items of "abc" make 255 bytes, one more is too many */
	static char text[1024];
	int n = snprintf(text, sizeof(text), "[profile a]\nextensions = abc");
	for (int i = 1; i < 64; i++)
		n += snprintf(text + n, sizeof(text) - n, ",abc");
	snprintf(text + n, sizeof(text) - n, "\n");
	assert_int_equal(load(text), 0);
	assert_int_equal(strlen(config_profile(&cfg, "a")->extensions), 255);
	snprintf(text + n, sizeof(text) - n, ",x\n");
	check_error(text, ":2: key 'extensions': list too long (at most 255 bytes)");
}

static void test_too_many_profiles(void **)
{
	static char text[4096];
	int n = 0;
	/* the built-in default and 15 more fill the table */
	for (int i = 1; i <= 15; i++)
		n += snprintf(text + n, sizeof(text) - n, "[profile p%d]\n", i);
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.nprofiles, CB_MAX_PROFILES);
	assert_non_null(config_profile(&cfg, "p15"));

	/* replacing default does not take a slot */
	snprintf(text + n, sizeof(text) - n, "[profile default]\n");
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.nprofiles, CB_MAX_PROFILES);

	snprintf(text + n, sizeof(text) - n, "[profile p16]\n");
	check_error(text, ":16: profile 'p16': too many profiles (at most 16)");
}

static void test_profiles(void **)
{
	const char *text =
		"http_port = 9000\n"
		"[profile avatars]\n"
		"max_size = 2M\n"
		"extensions = JPG, .png ,Web-P\n"
		"types = Image/JPEG,image/png\n"
		"directory = ./pics//avatars/\n"
		"private = yes\n"
		"keep_original = no\n"
		"virtual = yes\n"
		"overwrite = true\n"
		"\n"
		"[profile docs]\n"
		"private = client\n"
		"[profile public]\n"
		"private = no\n"
		"max_size = 0\n";
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.http_port, 9000);
	assert_int_equal(cfg.nprofiles, 4);

	config_defaults(&want);
	assert_memory_equal(&cfg.profiles[0], &want.profiles[0], sizeof(cb_profile));

	const cb_profile *p = &cfg.profiles[1];
	assert_string_equal(p->name, "avatars");
	assert_int_equal(p->max_size, 2 << 20);
	assert_string_equal(p->extensions, "jpg,png,web-p");
	assert_string_equal(p->types, "image/jpeg,image/png");
	assert_string_equal(p->directory, "pics/avatars");
	assert_int_equal(p->force_private, 1);
	assert_false(p->keep_original);
	assert_true(p->is_virtual);
	assert_true(p->overwrite);

	/* unset keys start from the built-in defaults */
	p = &cfg.profiles[2];
	assert_string_equal(p->name, "docs");
	memset(want.profiles[0].name, 0, sizeof(want.profiles[0].name));
	snprintf(want.profiles[0].name, sizeof(want.profiles[0].name), "docs");
	assert_memory_equal(p, &want.profiles[0], sizeof(cb_profile));

	p = &cfg.profiles[3];
	assert_string_equal(p->name, "public");
	assert_int_equal(p->force_private, 0);
	assert_int_equal(p->max_size, 0);
}

static void test_profile_default_replaces(void **)
{
	assert_int_equal(load("[profile default]\nmax_size = 10M\nprivate = no\n"), 0);
	assert_int_equal(cfg.nprofiles, 1);
	const cb_profile *p = &cfg.profiles[0];
	assert_string_equal(p->name, "default");
	assert_int_equal(p->max_size, 10 << 20);
	assert_int_equal(p->force_private, 0);
	assert_true(p->keep_original);

	/* a later file's section replaces the profile, it does not merge */
	const char *second = "[profile default]\nvirtual = yes\n";
	assert_int_equal(load_n(second, strlen(second), true), 0);
	assert_int_equal(cfg.nprofiles, 1);
	assert_int_equal(p->max_size, 0);
	assert_int_equal(p->force_private, -1);
	assert_true(p->is_virtual);
}

/* A second file reads over the first: keys it leaves alone keep their
 * values, a profile it names again is replaced. */
static void test_load_over_existing(void **)
{
	assert_int_equal(load("http_port = 9000\ntls_cert = /c\ntls_key = /k\n"
			      "[profile a]\nmax_size = 5\n[profile b]\n"), 0);
	set_ok("line_port", "4000");
	const char *second = "http_port = 9001\n[profile a]\noverwrite = yes\n";
	assert_int_equal(load_n(second, strlen(second), true), 0);
	assert_int_equal(cfg.http_port, 9001);
	assert_int_equal(cfg.line_port, 4000);
	assert_string_equal(cfg.tls_cert, "/c");
	assert_int_equal(cfg.nprofiles, 3);
	const cb_profile *a = config_profile(&cfg, "a");
	assert_ptr_equal(a, &cfg.profiles[1]);
	assert_int_equal(a->max_size, 0);
	assert_true(a->overwrite);

	/* the TLS pair is checked on the result, with the line that broke it */
	memcpy(&want, &cfg, sizeof(cfg));
	const char *third = "# x\ntls_key =\n";
	assert_int_equal(load_n(third, strlen(third), true), -1);
	char expect[256];
	snprintf(expect, sizeof(expect),
		 "%s:2: key 'tls_cert': set without tls_key (give both or neither)", conf_path);
	assert_string_equal(err, expect);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void test_profile_lookup(void **)
{
	config_defaults(&cfg);
	assert_ptr_equal(config_profile(&cfg, "default"), &cfg.profiles[0]);
	assert_null(config_profile(&cfg, "avatars"));
	assert_null(config_profile(&cfg, NULL));
	assert_null(config_profile(&cfg, ""));

	assert_int_equal(load("[profile avatars]\n[profile docs]\n"), 0);
	assert_ptr_equal(config_profile(&cfg, "avatars"), &cfg.profiles[1]);
	assert_ptr_equal(config_profile(&cfg, "docs"), &cfg.profiles[2]);
	assert_null(config_profile(&cfg, "Avatars"));
	assert_null(config_profile(&cfg, "doc"));
	assert_null(config_profile(&cfg, "docs "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_repo_conf_is_defaults),
		cmocka_unit_test(test_repo_conf_example),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_text_values),
		cmocka_unit_test(test_set_errors),
		cmocka_unit_test(test_file_syntax),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_profile_value_errors),
		cmocka_unit_test(test_too_many_profiles),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_profile_default_replaces),
		cmocka_unit_test(test_load_over_existing),
		cmocka_unit_test(test_profile_lookup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
