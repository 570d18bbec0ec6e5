/* server.cpp: runs the real cubbyd for a test: a fresh temp directory
 * with a config on two free loopback ports, start and wait until it
 * listens, stop with SIGTERM (or kill), restart on the same data,
 * clean up, and show its log when a test fails. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "support.h"

#define LINE_MAX_LEN 8192

static const char *cubbyd_path(void)
{
	const char *bin = getenv("CUBBYD");
	return bin && *bin ? bin : "build/cubbyd";
}

/* ---- free ports ---- */

static int bound_socket(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(fd, (sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* Two distinct free ports (both held while the second is picked). */
static int free_ports(int *a, int *b)
{
	int fa = bound_socket(a);
	int fb = fa >= 0 ? bound_socket(b) : -1;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return fb >= 0 ? 0 : -1;
}

/* ---- the config ---- */

/* extra with every "@DIR@" replaced by dir; malloc'd. */
static char *subst_dir(const char *extra, const char *dir)
{
	size_t n = 1, dl = strlen(dir);
	for (const char *p = extra; *p; p++)
		n += strncmp(p, "@DIR@", 5) ? 1 : dl;
	char *out = (char *)malloc(n), *o = out;
	if (!out)
		return NULL;
	for (const char *p = extra; *p;) {
		if (!strncmp(p, "@DIR@", 5)) {
			memcpy(o, dir, dl);
			o += dl;
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return out;
}

/* Copies the line at *p (without '\n') into line and moves *p past it;
 * false at the end of the text. */
static bool next_line(const char **p, char *line, size_t n)
{
	if (!**p)
		return false;
	const char *nl = strchr(*p, '\n');
	size_t len = nl ? (size_t)(nl - *p) : strlen(*p);
	size_t c = len < n ? len : n - 1;
	memcpy(line, *p, c);
	line[c] = 0;
	*p += len + (nl ? 1 : 0);
	return true;
}

/* The key of a "key = value" line into key; false for blank lines,
 * comments and section headers (*section set for those). */
static bool line_key(const char *line, char *key, size_t n, bool *section)
{
	line += strspn(line, " \t");
	if (*line == '[')
		*section = true;
	if (!*line || *line == '#' || *line == '[')
		return false;
	size_t len = strcspn(line, "= \t");
	if (len >= n)
		len = n - 1;
	memcpy(key, line, len);
	key[len] = 0;
	return true;
}

/* Whether a top-level line of text (from its start) sets key. */
static bool sets_key(const char *text, const char *key)
{
	char line[LINE_MAX_LEN], k[128];
	bool section = false;
	while (next_line(&text, line, sizeof(line)))
		if (line_key(line, k, sizeof(k), &section) && !section && !strcmp(k, key))
			return true;
	return false;
}

/* Writes extra's lines, but a top-level one whose key is set again
 * further down. */
static void write_extra(FILE *fp, const char *extra)
{
	char line[LINE_MAX_LEN], k[128];
	bool section = false;
	const char *p = extra;
	while (next_line(&p, line, sizeof(line))) {
		bool keyed = line_key(line, k, sizeof(k), &section);
		if (keyed && !section && sets_key(p, k))
			continue;
		fprintf(fp, "%s\n", line);
	}
}

static int write_conf(const t_server *s, const char *extra_conf)
{
	char *extra = subst_dir(extra_conf ? extra_conf : "", s->dir);
	FILE *fp = extra ? fopen(s->conf, "w") : NULL;
	if (!fp) {
		fprintf(stderr, "t_server_start: cannot write %s: %s\n", s->conf, strerror(errno));
		free(extra);
		return -1;
	}
	char v[6][300];
	snprintf(v[0], sizeof(v[0]), "%s/data", s->dir);
	snprintf(v[1], sizeof(v[1]), "127.0.0.1");
	snprintf(v[2], sizeof(v[2]), "%d", s->http_port);
	snprintf(v[3], sizeof(v[3]), "%d", s->line_port);
	snprintf(v[4], sizeof(v[4]), "1000");
	snprintf(v[5], sizeof(v[5]), "debug");
	static const char *const keys[6] = {"data_dir", "bind", "http_port", "line_port",
					    "pbkdf2_iterations", "log_level"};
	fprintf(fp, "# written by tests/support for one test\n");
	for (int i = 0; i < 6; i++)
		if (!sets_key(extra, keys[i]))
			fprintf(fp, "%s = %s\n", keys[i], v[i]);
	write_extra(fp, extra);
	free(extra);
	return fclose(fp) ? -1 : 0;
}

/* ---- the process ---- */

static void child_exec(const t_server *s)
{
	int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	for (int fd = 3; fd < 4096; fd++) /* the tests' sockets stay ours */
		close(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	const char *bin = cubbyd_path();
	execl(bin, bin, "-c", s->conf, (char *)NULL);
	fprintf(stderr, "t_server: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Reaps the process if it has ended; its wait status, or -1 while it
 * runs. */
static int reap(t_server *s, bool block)
{
	int status;
	pid_t r;
	do
		r = waitpid(s->pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -1;
	s->pid = 0;
	return r < 0 ? 0 : status;
}

/* Waits up to T_TIMEOUT_MS until the HTTP port takes a connection. */
static int wait_ready(t_server *s)
{
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	while (t_now_ms() < deadline) {
		int status = reap(s, false);
		if (status >= 0) {
			fprintf(stderr, "t_server: cubbyd ended (%s %d) before listening\n",
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return -1;
		}
		int fd = t_connect(s->http_port);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		t_sleep_ms(20);
	}
	fprintf(stderr, "t_server: port %d not listening after %d ms\n", s->http_port, T_TIMEOUT_MS);
	return -1;
}

static void read_password(t_server *s)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/data/initial-password", s->dir);
	s->password[0] = 0;
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	if (!fgets(s->password, sizeof(s->password), fp))
		s->password[0] = 0;
	fclose(fp);
	s->password[strcspn(s->password, "\r\n")] = 0;
}

static int launch(t_server *s)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "t_server: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_exec(s);
	s->pid = pid;
	if (wait_ready(s)) {
		t_server_dump_log(s);
		t_server_kill(s);
		return -1;
	}
	read_password(s);
	return 0;
}

int t_server_start(t_server *s, const char *extra_conf)
{
	signal(SIGPIPE, SIG_IGN);
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/cubby-test-XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "t_server_start: mkdtemp: %s\n", strerror(errno));
		s->dir[0] = 0;
		return -1;
	}
	snprintf(s->conf, sizeof(s->conf), "%s/cubby.conf", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/stderr.log", s->dir);
	if (free_ports(&s->http_port, &s->line_port)) {
		fprintf(stderr, "t_server_start: no free port: %s\n", strerror(errno));
		return -1;
	}
	if (write_conf(s, extra_conf))
		return -1;
	return launch(s);
}

int t_server_restart(t_server *s)
{
	if (s->pid > 0)
		t_server_stop(s);
	return launch(s);
}

int t_server_stop(t_server *s)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	int64_t deadline = t_now_ms() + T_TIMEOUT_MS;
	int status;
	while ((status = reap(s, false)) < 0 && t_now_ms() < deadline)
		t_sleep_ms(10);
	if (status < 0) {
		fprintf(stderr, "t_server_stop: no exit %d ms after SIGTERM: SIGKILL\n", T_TIMEOUT_MS);
		t_server_kill(s);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "t_server_stop: cubbyd died of signal %d\n", WTERMSIG(status));
	return -1;
}

void t_server_kill(t_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	reap(s, true);
}

int t_server_running(t_server *s)
{
	if (s->pid <= 0)
		return 0;
	siginfo_t info;
	memset(&info, 0, sizeof(info));
	/* WNOWAIT: the exit status stays for t_server_stop() */
	if (waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0;
	return info.si_pid == 0;
}

static int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
	return remove(path);
}

void t_server_cleanup(t_server *s)
{
	if (s->pid > 0)
		t_server_stop(s);
	if (s->dir[0])
		nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = 0;
}

void t_server_dump_log(const t_server *s)
{
	FILE *fp = s->log[0] ? fopen(s->log, "r") : NULL;
	fprintf(stderr, "---- cubbyd log %s ----\n", s->log);
	if (fp) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(fp);
	}
	fprintf(stderr, "---- end of cubbyd log ----\n");
}
