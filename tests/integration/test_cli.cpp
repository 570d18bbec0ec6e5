/* test_cli.cpp: the real cubbyd binary ($CUBBYD, set by tests/run.sh;
 * build/cubbyd when run by hand from the top directory) on
 * its command line: help and version, configuration errors with file,
 * line and key and exit status 2, and the first start that creates the
 * admin account exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/support.h"

struct fixture {
	char dir[64];
	char out[8192], err[8192];
};

static int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = (fixture *)calloc(1, sizeof(fixture));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cubby-cli-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = (fixture *)*state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : 0;
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Runs cubbyd with args (NULL-terminated); returns its exit status and
 * leaves stdout and stderr in f->out and f->err. */
static int run(fixture *f, const char *const *args)
{
	const char *bin = getenv("CUBBYD");
	if (!bin)
		bin = "build/cubbyd";
	char out_path[128], err_path[128];
	snprintf(out_path, sizeof(out_path), "%s/stdout", f->dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", f->dir);
	const char *argv[16] = {bin};
	int n = 1;
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	slurp(out_path, f->out, sizeof(f->out));
	slurp(err_path, f->err, sizeof(f->err));
	return WEXITSTATUS(status);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void test_version_and_help(void **state)
{
	fixture *f = (fixture *)*state;
	const char *version[] = {"--version", NULL};
	assert_int_equal(run(f, version), 0);
	assert_int_equal(strncmp(f->out, "cubbyd ", 7), 0);
	const char *help[] = {"--help", NULL};
	assert_int_equal(run(f, help), 0);
	assert_contains(f->out, "usage: cubbyd");
	assert_contains(f->out, "--line-port");
	const char *bad[] = {"--frobnicate", NULL};
	assert_int_equal(run(f, bad), 2);
	assert_contains(f->err, "usage: cubbyd");
	const char *extra[] = {"stray", NULL};
	assert_int_equal(run(f, extra), 2);
	assert_contains(f->err, "unexpected argument 'stray'");
}

static void test_config_errors_name_file_line_key(void **state)
{
	fixture *f = (fixture *)*state;
	char conf[128], want[256];
	snprintf(conf, sizeof(conf), "%s/bad.conf", f->dir);
	const char *args[] = {"-c", conf, NULL};

	write_file(conf, "# settings\nhttp_port = 8080\nfrob = 1\n");
	assert_int_equal(run(f, args), 2);
	snprintf(want, sizeof(want), "%s:3: key 'frob': unknown key", conf);
	assert_contains(f->err, want);

	write_file(conf, "http_port = 70000\n");
	assert_int_equal(run(f, args), 2);
	snprintf(want, sizeof(want), "%s:1: key 'http_port': ", conf);
	assert_contains(f->err, want);

	write_file(conf, "allow_signup = maybe\n");
	assert_int_equal(run(f, args), 2);
	snprintf(want, sizeof(want), "%s:1: key 'allow_signup': ", conf);
	assert_contains(f->err, want);

	write_file(conf, "\n\ntls_cert = /etc/c.pem\n");
	assert_int_equal(run(f, args), 2);
	snprintf(want, sizeof(want), "%s:3: key 'tls_cert': set without tls_key", conf);
	assert_contains(f->err, want);

	const char *missing[] = {"-c", "/nonexistent/cubby.conf", NULL};
	assert_int_equal(run(f, missing), 2);
	assert_contains(f->err, "/nonexistent/cubby.conf: No such file or directory");
}

static void test_command_line_overrides_checked(void **state)
{
	fixture *f = (fixture *)*state;
	const char *port[] = {"--port", "http", NULL};
	assert_int_equal(run(f, port), 2);
	assert_contains(f->err, "command line: key 'http_port': ");
	const char *line[] = {"--line-port", "-5", NULL};
	assert_int_equal(run(f, line), 2);
	assert_contains(f->err, "command line: key 'line_port': ");
}

static int count_of(const char *haystack, const char *needle)
{
	int n = 0;
	for (const char *p = haystack; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The first start creates admin, logs the password once and writes it
 * (mode 0600); a restart keeps the account and logs no password. */
static void test_first_start_creates_admin_once(void **)
{
	t_server s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(t_server_start(&s, NULL), 0);
	static char log[1 << 16];
	char pwfile[300];
	snprintf(pwfile, sizeof(pwfile), "%s/data/initial-password", s.dir);
	struct stat sb;
	assert_int_equal(stat(pwfile, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(strlen(s.password), 20);
	char pw[64];
	strcpy(pw, s.password);
	assert_int_equal(t_server_stop(&s), 0);
	slurp(s.log, log, sizeof(log));
	assert_int_equal(count_of(log, "created user 'admin'"), 1);
	assert_contains(log, pw);

	assert_int_equal(t_server_restart(&s), 0);
	assert_int_equal(t_server_stop(&s), 0);
	slurp(s.log, log, sizeof(log));
	assert_int_equal(count_of(log, "created user 'admin'"), 1);
	assert_int_equal(count_of(log, pw), 1);
	assert_string_equal(s.password, pw);
	t_server_cleanup(&s);
}

static void test_unusable_data_dir(void **state)
{
	fixture *f = (fixture *)*state;
	char file[128];
	snprintf(file, sizeof(file), "%s/plainfile", f->dir);
	write_file(file, "not a directory\n");
	const char *args[] = {"--data", file, NULL};
	assert_int_equal(run(f, args), 1);
	assert_contains(f->err, "cannot open the store");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version_and_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors_name_file_line_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line_overrides_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_start_creates_admin_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_data_dir, setup, teardown),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
