/* lws_floor.cpp: the memory reference of `make bench`'s idle figures: the
 * least a program that serves HTTP with Debian's libwebsockets can be
 * resident. It links what cubbyd links, creates a context and one vhost
 * listening on PORT the way cubbyd does (no TLS, explicit vhosts), and
 * serves until SIGTERM. Its VmRSS is the floor under cubbyd's idle VmRSS:
 * mostly shared library pages (libc, and libcrypto, which Debian's
 * libwebsockets links and the dynamic loader relocates at start).
 *
 *   lws_floor PORT
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"http", on_http, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	signal(SIGTERM, on_term);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	struct lws_context *ctx = lws_create_context(&ci);
	if (!ctx)
		return 1;
	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.port = atoi(argv[1]);
	vi.iface = "127.0.0.1";
	vi.protocols = protocols;
	vi.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (!lws_create_vhost(ctx, &vi))
		return 1;
	while (!stop && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}
