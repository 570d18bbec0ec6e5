/* log.cpp: cubbyd's leveled log, to stderr, syslog or a file that
 * log_reopen() swaps for a fresh one after logrotate has moved it away. */
#include "cubby/log.h"
#include "cubby/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define CB_LOG_LINE 2048     /* one line, prefix and newline included */
#define CB_LOG_PATH_MAX 4096 /* a log file path */

enum log_target { TO_STDERR, TO_SYSLOG, TO_FILE };

/* Until log_open() runs, INFO and above go to stderr. */
static log_target g_target = TO_STDERR;
static cb_log_level g_level = CB_LOG_INFO;
static int g_fd = -1;
static char g_path[CB_LOG_PATH_MAX];

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const int syslog_prios[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void close_target(void)
{
	if (g_target == TO_FILE && g_fd >= 0)
		close(g_fd);
	else if (g_target == TO_SYSLOG)
		closelog();
	g_fd = -1;
	g_target = TO_STDERR;
}

/* On failure the previous target stays in place, so a bad path in a
 * reloaded config does not silence the log. */
int log_open(const char *target, cb_log_level level)
{
	if (!target || (unsigned)level > CB_LOG_DEBUG) {
		errno = EINVAL;
		return -1;
	}
	if (strcmp(target, "stderr") == 0) {
		close_target();
	} else if (strcmp(target, "syslog") == 0) {
		close_target();
		openlog("cubbyd", LOG_PID, LOG_DAEMON);
		g_target = TO_SYSLOG;
	} else {
		size_t len = strlen(target);
		if (len == 0 || len >= sizeof g_path) {
			errno = len ? ENAMETOOLONG : ENOENT;
			return -1;
		}
		int fd = open_file(target);
		if (fd < 0)
			return -1;
		close_target();
		memcpy(g_path, target, len + 1);
		g_fd = fd;
		g_target = TO_FILE;
	}
	g_level = level;
	return 0;
}

/* The new file is opened before the old one is closed: if that fails,
 * logging carries on into the moved file rather than nowhere. */
int log_reopen(void)
{
	if (g_target != TO_FILE)
		return 0;
	int fd = open_file(g_path);
	if (fd < 0)
		return -1;
	close(g_fd);
	g_fd = fd;
	return 0;
}

void log_close(void)
{
	close_target();
}

int log_level_parse(const char *s, cb_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (unsigned i = 0; s && i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (cb_log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Formats the message into buf (size > 3), NUL-terminated, and returns
 * its length. One that does not fit ends in "..."; control bytes become
 * '?' so that a message is always exactly one line. */
static size_t format_message(char *buf, size_t size, const char *fmt,
			     va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);
	size_t len;

	if (n < 0) {
		len = 0;
	} else if ((size_t)n < size) {
		len = (size_t)n;
		while (len > 0 && buf[len - 1] == '\n')
			len--;
	} else {
		/* do not leave half a UTF-8 character before the "..." */
		len = utf8_prefix(buf, size - 4);
		memcpy(buf + len, "...", 3);
		len += 3;
	}
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7F)
			buf[i] = '?';
	}
	return len;
}

void log_msg(cb_log_level level, const char *fmt, ...)
{
	/* out-of-range levels compare as larger than DEBUG and are dropped */
	if ((unsigned)level > (unsigned)g_level)
		return;

	int saved_errno = errno; /* callers log, then return errno-based codes */
	char line[CB_LOG_LINE];
	va_list ap;

	va_start(ap, fmt);
	if (g_target == TO_SYSLOG) {
		format_message(line, sizeof line, fmt, ap);
		syslog(syslog_prios[level], "%s", line);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		int plen = snprintf(line, sizeof line,
				    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ "
				    "cubbyd[%d] %s: ",
				    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				    tm.tm_hour, tm.tm_min, tm.tm_sec,
				    (int)(ts.tv_nsec / 1000000), (int)getpid(),
				    level_names[level]);
		/* the prefix is far shorter than the line; -1 keeps room for
		 * the newline */
		size_t len = (size_t)plen;
		len += format_message(line + len, sizeof line - len - 1, fmt, ap);
		line[len++] = '\n';
		int fd = g_target == TO_FILE ? g_fd : STDERR_FILENO;
		/* one write per line: O_APPEND keeps concurrent lines whole */
		while (write(fd, line, len) < 0 && errno == EINTR) {
		}
	}
	va_end(ap);
	errno = saved_errno;
}
