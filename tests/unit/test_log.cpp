/* test_log.cpp: the log's levels, line format, reopen after logrotate and
 * truncation, written to files in a private temporary directory; also the
 * status texts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/log.h"
#include "cubby/status.h"

static char g_dir[64];
static char g_file[128];    /* the log file */
static char g_rotated[128]; /* where "logrotate" moves it */

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof g_dir, "/tmp/cubby-test-log-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(g_file, sizeof g_file, "%s/cubbyd.log", g_dir);
	snprintf(g_rotated, sizeof g_rotated, "%s/cubbyd.log.1", g_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_close();
	unlink(g_file);
	unlink(g_rotated);
	return rmdir(g_dir);
}

/* Reads a whole (small) file into buf, NUL-terminated; its length. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n >= 0);
	assert_true((size_t)n < size - 1); /* the buffer was big enough */
	buf[n] = '\0';
	return (size_t)n;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Runs first, before any log_open(): INFO and above go to stderr. */
static void test_default_is_stderr(void **state)
{
	(void)state;
	char buf[4096];

	int saved = dup(STDERR_FILENO);
	int fd = open(g_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	log_debug("quiet by default");
	log_info("info to stderr");
	log_error("error to stderr");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);

	slurp(g_file, buf, sizeof buf);
	assert_null(strstr(buf, "quiet by default"));
	assert_non_null(strstr(buf, " INFO: info to stderr\n"));
	assert_non_null(strstr(buf, " ERROR: error to stderr\n"));
	assert_int_equal(count_lines(buf), 2);
}

static void test_level_filter(void **state)
{
	(void)state;
	char buf[4096];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	log_debug("hidden %d", 1);
	log_info("shown %d", 42);
	log_warn("careful");
	log_error("broken");
	slurp(g_file, buf, sizeof buf);
	assert_null(strstr(buf, "hidden"));
	assert_non_null(strstr(buf, " INFO: shown 42\n"));
	assert_non_null(strstr(buf, " WARN: careful\n"));
	assert_non_null(strstr(buf, " ERROR: broken\n"));
	assert_int_equal(count_lines(buf), 3);

	/* at ERROR only errors pass; at DEBUG everything */
	unlink(g_file);
	assert_int_equal(log_open(g_file, CB_LOG_ERROR), 0);
	log_warn("dropped warning");
	log_error("yes");
	assert_int_equal(log_open(g_file, CB_LOG_DEBUG), 0);
	log_debug("details");
	slurp(g_file, buf, sizeof buf);
	assert_null(strstr(buf, "dropped warning"));
	assert_non_null(strstr(buf, " ERROR: yes\n"));
	assert_non_null(strstr(buf, " DEBUG: details\n"));
	assert_int_equal(count_lines(buf), 2);
}

static void test_line_format(void **state)
{
	(void)state;
	char buf[4096], tail[128];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	log_info("msg");
	size_t len = slurp(g_file, buf, sizeof buf);

	/* 2026-11-22T10:00:00.123Z */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	assert_true(len > sizeof shape);
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd')
			assert_true(buf[i] >= '0' && buf[i] <= '9');
		else
			assert_int_equal(buf[i], shape[i]);
	}
	snprintf(tail, sizeof tail, " cubbyd[%d] INFO: msg\n", (int)getpid());
	assert_string_equal(buf + sizeof shape - 1, tail);

	struct stat st;
	assert_int_equal(stat(g_file, &st), 0);
	assert_int_equal(st.st_mode & 0777 & ~0640, 0);
}

static void test_message_cleanup(void **state)
{
	(void)state;
	char buf[4096];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	log_info("trailing newline\n");
	log_info("two\nlines\tand\x1b[31m escape");
	slurp(g_file, buf, sizeof buf);
	assert_non_null(strstr(buf, " INFO: trailing newline\n"));
	assert_non_null(strstr(buf, " INFO: two?lines?and?[31m escape\n"));
	assert_int_equal(count_lines(buf), 2);
}

/* logrotate moves the file away, then SIGHUP makes cubbyd reopen. */
static void test_reopen_after_rename(void **state)
{
	(void)state;
	char buf[4096];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	log_info("before rotation");
	assert_int_equal(rename(g_file, g_rotated), 0);
	log_info("still to the moved file");
	assert_int_equal(log_reopen(), 0);
	log_info("to the new file");

	slurp(g_rotated, buf, sizeof buf);
	assert_non_null(strstr(buf, "before rotation"));
	assert_non_null(strstr(buf, "still to the moved file"));
	assert_null(strstr(buf, "to the new file"));
	slurp(g_file, buf, sizeof buf);
	assert_non_null(strstr(buf, " INFO: to the new file\n"));
	assert_int_equal(count_lines(buf), 1);
}

/* A target that cannot be opened is reported and the old one kept. */
static void test_open_failure(void **state)
{
	(void)state;
	char buf[4096], bad[192];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	snprintf(bad, sizeof bad, "%s/no/such/dir.log", g_dir);
	errno = 0;
	assert_int_equal(log_open(bad, CB_LOG_DEBUG), -1);
	assert_int_equal(errno, ENOENT);
	log_debug("level unchanged too");
	log_info("still here");
	slurp(g_file, buf, sizeof buf);
	assert_null(strstr(buf, "level unchanged"));
	assert_non_null(strstr(buf, "still here"));

	errno = 0;
	assert_int_equal(log_open(NULL, CB_LOG_INFO), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_truncation(void **state)
{
	(void)state;
	static char big[8192], buf[8192];

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	log_info("%s", big);
	size_t len = slurp(g_file, buf, sizeof buf);
	assert_true(len <= 2048);
	assert_true(len > 1900);
	assert_int_equal(count_lines(buf), 1);
	assert_string_equal(buf + len - 6, "xx...\n");

	/* a cut never splits a UTF-8 character */
	unlink(g_file);
	assert_int_equal(log_reopen(), 0);
	for (int i = 0; i < 2000; i++)
		memcpy(big + 3 * i, "\xe6\x97\xa5", 3);
	big[6000] = '\0';
	log_warn("%s", big);
	len = slurp(g_file, buf, sizeof buf);
	const char *msg = strstr(buf, " WARN: ");
	assert_non_null(msg);
	msg += 7;
	size_t mlen = len - (size_t)(msg - buf) - 4; /* without "...\n" */
	assert_string_equal(msg + mlen, "...\n");
	assert_int_equal(mlen % 3, 0);
	assert_memory_equal(msg + mlen - 3, "\xe6\x97\xa5", 3);
}

static void test_errno_preserved(void **state)
{
	(void)state;

	assert_int_equal(log_open(g_file, CB_LOG_INFO), 0);
	errno = EACCES;
	log_error("something failed: %s", strerror(errno));
	assert_int_equal(errno, EACCES);
	errno = ENOSPC;
	log_debug("suppressed");
	assert_int_equal(errno, ENOSPC);
}

/* syslog's output cannot be seen here; it must at least not fail. */
static void test_syslog_and_stderr_targets(void **state)
{
	(void)state;

	assert_int_equal(log_open("syslog", CB_LOG_WARN), 0);
	log_debug("not sent");
	assert_int_equal(log_reopen(), 0);
	assert_int_equal(log_open("stderr", CB_LOG_ERROR), 0);
	assert_int_equal(log_reopen(), 0);
	log_close();
}

static void test_level_parse(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		cb_log_level level;
	} good[] = {
		{"error", CB_LOG_ERROR},
		{"warn", CB_LOG_WARN},
		{"info", CB_LOG_INFO},
		{"debug", CB_LOG_DEBUG},
	};
	static const char *const bad[] = {
		"", "inf", "infos", "verbose", "trace", " info", "info ", "2",
	};
	cb_log_level l;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		l = good[i].level == CB_LOG_ERROR ? CB_LOG_DEBUG : CB_LOG_ERROR;
		assert_int_equal(log_level_parse(good[i].s, &l), 0);
		assert_int_equal(l, good[i].level);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		l = CB_LOG_WARN;
		assert_int_equal(log_level_parse(bad[i], &l), -1);
		assert_int_equal(l, CB_LOG_WARN);
	}
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void test_status_strings(void **state)
{
	(void)state;
	const char *seen[CB_ERR_NOMEM + 1];

	for (int i = CB_OK; i <= CB_ERR_NOMEM; i++) {
		const char *s = cb_status_str((cb_status)i);
		assert_non_null(s);
		assert_true(s[0] != '\0');
		assert_string_not_equal(s, "unknown error");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s, seen[j]);
		seen[i] = s;
	}
	assert_string_equal(cb_status_str(CB_OK), "ok");
	assert_string_equal(cb_status_str(CB_ERR_NOTFOUND), "not found");
}

/* every test gets a fresh directory and leaves the log closed */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* must stay first: it checks the state before any log_open() */
		T(test_default_is_stderr),
		T(test_level_filter),
		T(test_line_format),
		T(test_message_cleanup),
		T(test_reopen_after_rename),
		T(test_open_failure),
		T(test_truncation),
		T(test_errno_preserved),
		T(test_syslog_and_stderr_targets),
		T(test_level_parse),
		T(test_status_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
