/* log.h: leveled logging to stderr, syslog or a file (reopened on SIGHUP,
 * so logrotate can move it away). */
#pragma once

enum cb_log_level { CB_LOG_ERROR, CB_LOG_WARN, CB_LOG_INFO, CB_LOG_DEBUG };

/* target: "stderr", "syslog", or the path of a file to append to.
 * Returns 0, or -1 (errno set) when the file cannot be opened. */
int log_open(const char *target, cb_log_level level);
/* Reopens a file target; a no-op for stderr and syslog. */
int log_reopen(void);
void log_close(void);
/* "error", "warn", "info", "debug" -> level; 0 on success, -1 otherwise. */
int log_level_parse(const char *s, cb_log_level *out);

void log_msg(cb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(CB_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(CB_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(CB_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(CB_LOG_DEBUG, __VA_ARGS__)
