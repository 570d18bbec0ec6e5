/* file_events.cpp: protocol 3's event WebSockets (shared/spec/3, DESIGN
 * §7). So far the media socket, `/files/<id>?alt=media` (also
 * `/file/...`): it relays the live streams of protocol 2's saveMedia=false
 * uploads into node <id> (docs/resumable-upload.md), each data message as
 * one binary message. A watcher that does not keep up misses messages:
 * a live stream is never slowed down, and the watcher never dropped, for
 * one slow reader. The JSON content events of spec 3 are not sent yet. */
#include <stdio.h>
#include <string.h>

#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/file_events.h"
#include "cubby/log.h"
#include "cubby/store.h"

struct media_watcher {
	cb_conn *conn;
	char node[CB_ID_LEN + 1];
	cb_subscriber sub;
	uint64_t missed; /* messages dropped for a full queue */
};

static void on_stream(const cb_event *ev, const char *, void *ctx)
{
	media_watcher *w = (media_watcher *)ctx;
	size_t queued = conn_queued(w->conn);
	/* an empty queue takes any message (net.h), so a big one is not
	 * dropped for a small send_queue_max */
	if (queued && queued + ev->len > conn_config(w->conn)->send_queue_max) {
		if (!w->missed++)
			log_debug("%s?alt=media: watcher too slow, dropping stream data", w->node);
		return;
	}
	conn_send(w->conn, ev->data, ev->len, true);
}

static int media_open(cb_conn *c)
{
	media_watcher *w = (media_watcher *)conn_state(c);
	const cb_user *user = conn_user(c);
	const char *rest = conn_path_rest(c);
	char alt[8];
	w->conn = c;
	if (!conn_query(c, "alt", alt, sizeof(alt)) || strcmp(alt, "media")) {
		conn_close(c, 1008, "expected ?alt=media");
		return 0;
	}
	cb_node n;
	node_init(&n);
	/* "" is an anonymous caller: public nodes only */
	cb_status s = strlen(rest) > CB_ID_LEN || strchr(rest, '/')
			      ? CB_ERR_NOTFOUND
			      : store_node_get(conn_store(c), user ? user->id : "", rest, &n, 0);
	node_clear(&n);
	if (s) {
		conn_close(c, 1008, "file not found");
		return 0;
	}
	snprintf(w->node, sizeof(w->node), "%s", rest);
	w->sub.user = user ? user->id : "";
	w->sub.node = w->node;
	w->sub.ops = CB_EV_BIT(CB_EV_STREAM);
	w->sub.fn = on_stream;
	w->sub.ctx = w;
	events_subscribe(conn_store(c), &w->sub);
	return 0;
}

static void media_close(cb_conn *c)
{
	media_watcher *w = (media_watcher *)conn_state(c);
	events_unsubscribe(conn_store(c), &w->sub);
}

const cb_endpoint file_events_endpoints[] = {
	{CB_WS, 0, "/files/*", 0, sizeof(media_watcher), NULL, media_open, NULL, media_close,
	 NULL, NULL, NULL},
	{CB_WS, 0, "/file/*", 0, sizeof(media_watcher), NULL, media_open, NULL, media_close,
	 NULL, NULL, NULL},
	{},
};
