/* main.cpp: cubbyd's entry point: command line and configuration, the
 * log, the store and its startup recovery, the first admin account, the
 * table of protocol endpoints, and the loop that serves them (src/net). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/account.h"
#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/file_events.h"
#include "cubby/files_rest.h"
#include "cubby/fm.h"
#include "cubby/line.h"
#include "cubby/net.h"
#include "cubby/resumable.h"
#include "cubby/store.h"
#include "cubby/ws_api.h"
#include "cubby/ws_upload.h"

#define EXIT_USAGE 2 /* bad command line or configuration */

/* Every endpoint cubbyd serves: one table per protocol module. */
static const cb_endpoint *const endpoint_tables[] = {
	account_endpoints,
	ws_api_endpoints,
	ws_upload_endpoints,
	resumable_endpoints, /* before files_rest: DELETE /files/<id>/upload */
	files_rest_endpoints,
	file_events_endpoints,
	line_endpoints,
	fm_endpoints,
	NULL,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cubbyd [-c FILE] [--data DIR] [--port N] [--line-port N]\n"
		"\n"
		"  -c, --config FILE  read settings from FILE (see etc/cubby.conf)\n"
		"  -d, --data DIR     data directory (data_dir)\n"
		"  -p, --port N       HTTP and WebSocket port (http_port)\n"
		"  -l, --line-port N  line protocol TCP port (line_port)\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n");
}

/* Reads the command line into cfg: the file first, then the overrides,
 * whatever their order. Returns 0, or an exit status. */
static int load_settings(int argc, char **argv, cb_config *cfg)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"data", required_argument, NULL, 'd'},
		{"port", required_argument, NULL, 'p'},
		{"line-port", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL;
	struct {
		const char *key, *value;
	} overrides[8];
	int n = 0, c;
	char err[512];

	while ((c = getopt_long(argc, argv, "c:d:p:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'd':
		case 'p':
		case 'l':
			if (n == (int)(sizeof(overrides) / sizeof(overrides[0]))) {
				fprintf(stderr, "cubbyd: too many options\n");
				return EXIT_USAGE;
			}
			overrides[n].key = c == 'd' ? "data_dir" : c == 'p' ? "http_port" : "line_port";
			overrides[n++].value = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("cubbyd %s\n", CUBBY_VERSION);
			exit(0);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cubbyd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	config_defaults(cfg);
	if (file && config_load(cfg, file, err, sizeof(err))) {
		fprintf(stderr, "cubbyd: %s\n", err);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		if (config_set(cfg, overrides[i].key, overrides[i].value, err, sizeof(err))) {
			fprintf(stderr, "cubbyd: command line: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (config_check(cfg, err, sizeof(err))) {
		fprintf(stderr, "cubbyd: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* Opens the store and brings it to a consistent state after whatever
 * ended the previous run. */
static cb_store *open_store(const cb_config *cfg)
{
	cb_store *st;
	cb_status s = store_open(cfg, &st);
	if (s) {
		log_error("cannot open the store in %s: %s", cfg->data_dir, cb_status_str(s));
		return NULL;
	}
	if ((s = blob_recover(st))) {
		log_error("startup recovery failed: %s", cb_status_str(s));
		store_close(st);
		return NULL;
	}
	int64_t now = cb_now_ms();
	blob_expire(st, now);
	auth_sessions_expire(st, now);

	/* logs the password once and writes it to <data_dir>/initial-password */
	char password[64];
	if ((s = auth_first_start(st, password, sizeof(password)))) {
		log_error("cannot create the first user: %s", cb_status_str(s));
		store_close(st);
		return NULL;
	}
	return st;
}

int main(int argc, char **argv)
{
	static cb_config cfg; /* large (paths, profiles): not on the stack */
	int rc = load_settings(argc, argv, &cfg);
	if (rc)
		return rc;
	if (log_open(cfg.log_target, cfg.log_level)) {
		fprintf(stderr, "cubbyd: cannot open log %s: %s\n", cfg.log_target, strerror(errno));
		return 1;
	}
	server_install_signals();
	cb_store *st = open_store(&cfg);
	if (!st)
		return 1;
	log_info("store ready in %s", cfg.data_dir);
	cb_server *srv = server_create(&cfg, st, endpoint_tables);
	rc = srv ? server_run(srv) : -1;
	/* closes every connection first: uploads are checkpointed */
	server_destroy(srv);
	store_close(st);
	log_info(rc ? "stopped after an error" : "stopped");
	log_close();
	return rc ? 1 : 0;
}
