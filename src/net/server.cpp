/* server.cpp: the libwebsockets context, its vhosts (HTTP + WebSocket on
 * http_port; raw TCP on line_port when a module serves it), the one
 * callback that hands each reason to http.cpp or conn.cpp, the limit on
 * connections, the maintenance timer, signals and a graceful stop. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/log.h"
#include "net_internal.h"

#define WS_RX_BUFFER 65536      /* per WebSocket: the most lws reads at a time */
#define SERVICE_BUFFER 65536    /* per loop: bigger reads, bigger RX pieces */
#define HEADER_SPACE 16384      /* per request being parsed: long tokens, cookies */
#define HEADER_POOL 128         /* requests parsed at once: 2 MiB of header space */
/* at most a minute; sooner when partial_ttl or session_ttl is shorter */
#define SWEEP_INTERVAL_MAX 60
#define DRAIN_TIMEOUT_MS 2000   /* at shutdown, for WebSockets to take their 1001 */

cb_server *net_server;
static volatile sig_atomic_t stop_requested, reopen_requested;

/* lws sizes its descriptor table by the process's limit (`ulimit -n`)
 * and finds the connection of a ready socket by indexing that table.
 * Given a smaller fd_limit_per_thread instead, it searches the whole
 * table on every socket event, which made a fan-out to n sockets cost
 * n^2. So the limit itself is set to what we serve: per connection its
 * socket and up to two files (a line connection may hold a put's and a
 * get's at once), and a few of our own. Raised up to the hard limit
 * (saying so when that is short), lowered when it is more, so that the
 * table is no bigger than needed. */
static void fit_descriptor_limit(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		log_warn("cannot read the descriptor limit: %s", strerror(errno));
		return;
	}
	rlim_t cur = want;
	if (rl.rlim_max != RLIM_INFINITY && cur > rl.rlim_max) {
		log_warn("max_connections needs %u descriptors; the hard limit is %llu",
			 want, (unsigned long long)rl.rlim_max);
		cur = rl.rlim_max;
	}
	rl.rlim_cur = cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("cannot set the descriptor limit to %llu: %s", (unsigned long long)cur,
			 strerror(errno));
}

/* At max_connections, a new socket is closed as soon as it is accepted
 * (logged at most once a second: a flood must not flood the log too). */
static int refuse_over_limit(cb_server *srv)
{
	static int64_t last_log;
	static unsigned refused;
	if (srv->nconns < srv->cfg->max_connections)
		return 0;
	refused++;
	int64_t now = cb_now_ms();
	if (now - last_log >= 1000) {
		log_warn("max_connections (%u) reached: refused %u connections",
			 srv->cfg->max_connections, refused);
		last_log = now;
		refused = 0;
	}
	return 1;
}

static int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	cb_conn *c = (cb_conn *)user;
	cb_server *srv = net_server;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return stop_requested || refuse_over_limit(srv);
	case LWS_CALLBACK_WSI_CREATE:
		srv->nconns++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (srv->nconns)
			srv->nconns--;
		http_upgrade_forget(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return http_confirm_upgrade(wsi, (const char *)in);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLOSED:
		return ws_callback(wsi, reason, c, in, len);
	case LWS_CALLBACK_RAW_ADOPT:
	case LWS_CALLBACK_RAW_RX:
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_RAW_CLOSE:
		return raw_callback(wsi, reason, c, in, len);
	default:
		return http_callback(wsi, reason, c, in, len);
	}
}

static const struct lws_protocols http_protocols[] = {
	{"http", net_callback, sizeof(cb_conn), 0, 0, NULL, 0},
	{"cubby", net_callback, sizeof(cb_conn), WS_RX_BUFFER, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocols raw_protocols[] = {
	{"line", net_callback, sizeof(cb_conn), 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Makes "cubby" the WebSocket protocol of upgrades that name none, so
 * every upgrade comes to us and is routed by path. */
static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
static const struct lws_protocol_vhost_options pvo_ws = {NULL, &pvo_default, "cubby", ""};

static void lws_log_line(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	log_msg(level == LLL_ERR ? CB_LOG_ERROR : level == LLL_WARN ? CB_LOG_WARN : CB_LOG_DEBUG,
		"lws: %.*s", (int)n, line);
}

static void on_stop_signal(int)
{
	stop_requested = 1;
	if (net_server && net_server->ctx)
		lws_cancel_service(net_server->ctx);
}

static void on_hup_signal(int)
{
	reopen_requested = 1;
	if (net_server && net_server->ctx)
		lws_cancel_service(net_server->ctx);
}

void server_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup_signal;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static lws_usec_t sweep_interval(const cb_config *cfg)
{
	int64_t secs = SWEEP_INTERVAL_MAX;
	if (cfg->partial_ttl < secs)
		secs = cfg->partial_ttl;
	if (cfg->session_ttl < secs)
		secs = cfg->session_ttl;
	return secs * LWS_US_PER_SEC;
}

/* Every sweep_interval(): partial uploads past partial_ttl, expired
 * sessions, and the heap's free pages given back: glibc keeps what a
 * burst of connections freed until it is told to trim (10,000 closed
 * WebSockets left 30 MiB resident; 5 MiB after the trim). */
static void sweep(lws_sorted_usec_list_t *sul)
{
	cb_server *srv = lws_container_of(sul, cb_server, sweep);
	int64_t now = cb_now_ms();
	size_t uploads = blob_expire(srv->st, now);
	size_t sessions = auth_sessions_expire(srv->st, now);
	if (uploads || sessions)
		log_info("expired %zu partial uploads and %zu sessions", uploads, sessions);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	lws_sul_schedule(srv->ctx, 0, &srv->sweep, sweep, sweep_interval(srv->cfg));
}

static void wake(lws_sorted_usec_list_t *sul)
{
	cb_server *srv = lws_container_of(sul, cb_server, wake);
	lws_sul_schedule(srv->ctx, 0, &srv->wake, wake, 50 * LWS_US_PER_MS);
}

static const cb_endpoint *find_raw(const cb_endpoint *const *tables)
{
	for (; *tables; tables++)
		for (const cb_endpoint *ep = *tables; ep->transport; ep++)
			if (ep->transport == CB_RAW)
				return ep;
	return NULL;
}

static void vhost_tls(struct lws_context_creation_info *vi, const cb_config *cfg)
{
	if (!cfg->tls_cert[0])
		return;
	vi->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vi->ssl_cert_filepath = cfg->tls_cert;
	vi->ssl_private_key_filepath = cfg->tls_key;
	vi->alpn = "http/1.1"; /* HTTP/2 would change how answers are written */
}

static uint16_t clamp16(int64_t v)
{
	return v > 65535 ? 65535 : (uint16_t)v;
}

cb_server *server_create(const cb_config *cfg, cb_store *st, const cb_endpoint *const *tables)
{
	cb_server *srv = (cb_server *)calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->cfg = cfg;
	srv->st = st;
	srv->tables = tables;
	srv->raw = cfg->line_port ? find_raw(tables) : NULL;
	net_server = srv;

	int levels = LLL_ERR | LLL_WARN | (cfg->log_level >= CB_LOG_DEBUG ? LLL_NOTICE : 0);
	lws_set_log_level(levels, lws_log_line);

	fit_descriptor_limit(3 * cfg->max_connections + 64);
	rx_pool_init(cfg->max_connections, WS_RX_BUFFER);
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		     (cfg->tls_cert[0] ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	ci.max_http_header_data = HEADER_SPACE;
	/* lws lets every connection parse headers at once: at most
	 * HEADER_POOL requests are mid-header (others wait their turn) */
	ci.max_http_header_pool = cfg->max_connections < HEADER_POOL ? cfg->max_connections
								    : HEADER_POOL;
	ci.pt_serv_buf_size = SERVICE_BUFFER;
	ci.timeout_secs = (unsigned)(cfg->http_timeout > 3600 ? 3600 : cfg->http_timeout);
	if (!(srv->ctx = lws_create_context(&ci))) {
		log_error("cannot create the libwebsockets context");
		server_destroy(srv);
		return NULL;
	}

	/* A WebSocket silent for idle_timeout is pinged; with no answer
	 * either within half as long again, it is dropped. */
	srv->ws_idle.secs_since_valid_ping = clamp16(cfg->idle_timeout);
	srv->ws_idle.secs_since_valid_hangup = clamp16(cfg->idle_timeout + cfg->idle_timeout / 2 + 1);

	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.vhost_name = "http";
	vi.port = cfg->http_port;
	vi.iface = cfg->bind[0] ? cfg->bind : NULL;
	vi.protocols = http_protocols;
	vi.pvo = &pvo_ws;
	vi.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	vi.keepalive_timeout = (int)ci.timeout_secs;
	vi.retry_and_idle_policy = &srv->ws_idle;
	vhost_tls(&vi, cfg);
	if (!lws_create_vhost(srv->ctx, &vi)) {
		log_error("cannot listen on %s:%d", cfg->bind[0] ? cfg->bind : "*", cfg->http_port);
		server_destroy(srv);
		return NULL;
	}

	if (srv->raw) {
		memset(&vi, 0, sizeof(vi));
		vi.vhost_name = "line";
		vi.port = cfg->line_port;
		vi.iface = cfg->bind[0] ? cfg->bind : NULL;
		vi.protocols = raw_protocols;
		vi.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
			     LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
		vi.listen_accept_role = "raw-skt";
		vi.listen_accept_protocol = "line";
		vhost_tls(&vi, cfg);
		if (!lws_create_vhost(srv->ctx, &vi)) {
			log_error("cannot listen on %s:%d", cfg->bind[0] ? cfg->bind : "*",
				  cfg->line_port);
			server_destroy(srv);
			return NULL;
		}
	}

	const char *scheme = cfg->tls_cert[0] ? "https" : "http";
	const char *host = cfg->bind[0] ? cfg->bind : "127.0.0.1";
	log_info("listening on %s://%s:%d/", scheme, host, cfg->http_port);
	if (srv->raw)
		log_info("line protocol on port %d%s", cfg->line_port, cfg->tls_cert[0] ? " (TLS)" : "");
	else if (!cfg->line_port)
		log_info("line protocol off (line_port = 0)");
	return srv;
}

static int close_going_away(lws_dll2_t *d, void *)
{
	cb_conn *c = lws_container_of(d, cb_conn, link);
	if (c->ep && c->ep->on_shutdown && !c->close_code)
		c->ep->on_shutdown(c);
	conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	return 0;
}

/* WebSockets get 1001 and raw clients their pending output, for up to
 * DRAIN_TIMEOUT_MS; the context's destruction then closes the rest, and
 * each endpoint's on_close checkpoints what it holds. */
static void drain(cb_server *srv)
{
	lws_dll2_foreach_safe(&srv->conns, NULL, close_going_away);
	wake(&srv->wake);
	int64_t deadline = cb_now_ms() + DRAIN_TIMEOUT_MS;
	while (srv->conns.count && cb_now_ms() < deadline)
		if (lws_service(srv->ctx, 0) < 0)
			break;
	lws_sul_cancel(&srv->wake);
}

int server_run(cb_server *srv)
{
	lws_sul_schedule(srv->ctx, 0, &srv->sweep, sweep, sweep_interval(srv->cfg));
	while (!stop_requested) {
		if (lws_service(srv->ctx, 0) < 0) {
			log_error("the event loop failed");
			return -1;
		}
		if (reopen_requested) {
			reopen_requested = 0;
			if (log_reopen())
				log_error("cannot reopen the log");
			log_info("log reopened");
		}
	}
	log_info("stopping");
	lws_sul_cancel(&srv->sweep);
	drain(srv);
	return 0;
}

void server_destroy(cb_server *srv)
{
	if (!srv)
		return;
	if (srv->ctx) {
		struct lws_context *ctx = srv->ctx;
		srv->ctx = NULL; /* a signal now must not wake a context being freed */
		lws_sul_cancel(&srv->sweep);
		lws_sul_cancel(&srv->wake);
		lws_context_destroy(ctx);
	}
	rx_pool_destroy();
	if (net_server == srv)
		net_server = NULL;
	free(srv);
}
