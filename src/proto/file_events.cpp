/* file_events.cpp: protocol 3's event WebSockets (shared/spec/3, DESIGN
 * §7, docs/files-api.md "Event WebSockets"):
 *
 * - `/files` (also `/file`), for a user with a session: one JSON text
 *   message per metadata change the user may see, `created`, `patch`,
 *   `deleted`, `access-granted`, `access-removed`.
 * - `/files/<id>?alt=media` (also `/file/...`), for whoever may read node
 *   <id> (anyone, for a public node): its content changes (`patch`, then
 *   the revision `created`), `deleted` and close 1000 when the node goes,
 *   close 1008 when the watcher loses read access; and the live streams
 *   of protocol 2's saveMedia=false uploads into the node
 *   (docs/resumable-upload.md), each data message as one binary message.
 *   A watcher that does not keep up misses stream messages: a live
 *   stream is never slowed down, and the watcher never dropped, for one
 *   slow reader.
 *
 * The bus decides who hears of what (events.h); this file formats, and
 * applies the two rules of spec 3 that the bus leaves to it: a creation
 * is news to the owner alone, and a grant's `patch` goes only to those
 * who still have access. Both sockets ignore what the client sends
 * (no on_receive: the network layer drops it). */
#include <stdio.h>
#include <string.h>

#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/file_events.h"
#include "cubby/log.h"
#include "cubby/store.h"

/* ---- messages ---- */

/* {"type":"event","operation":op,"kind":kind,"id":id} plus "parent"
 * unless NULL; NULL when out of memory. */
static cJSON *event_msg(const char *op, const char *kind, const char *id, const char *parent)
{
	cJSON *m = cJSON_CreateObject();
	if (m && cJSON_AddStringToObject(m, "type", "event") &&
	    cJSON_AddStringToObject(m, "operation", op) && cJSON_AddStringToObject(m, "kind", kind) &&
	    cJSON_AddStringToObject(m, "id", id) &&
	    (!parent || cJSON_AddStringToObject(m, "parent", parent)))
		return m;
	cJSON_Delete(m);
	return NULL;
}

/* m with `data` added (both owned); NULL, both freed, when either is
 * NULL (out of memory): an event is never sent without its data. */
static cJSON *with_data(cJSON *m, cJSON *data)
{
	if (m && data && cJSON_AddItemToObject(m, "data", data))
		return m;
	cJSON_Delete(m);
	cJSON_Delete(data);
	return NULL;
}

/* Sends m (owned) and frees it; -1 when it was not sent (out of memory,
 * or the connection is being dropped for not reading). */
static int send_msg(cb_conn *c, cJSON *m)
{
	int r = m ? conn_send_json(c, m) : -1;
	cJSON_Delete(m);
	return r;
}

/* Every socket that hears of a change gets the same text, so it is made
 * and printed for the first and kept for the others: a change that
 * reaches 1,000 sockets is printed once. A grant sends two messages,
 * hence two slots; each is kept until the next event. */
enum { MSG_MAIN, MSG_PATCH, MSG_SLOTS };
struct printed_msg {
	uint64_t seq; /* the event's (cb_event.seq); 0: none */
	cJSON *(*make)(const cb_event *); /* what made the text */
	char *text;
	size_t len;
};
static printed_msg printed[MSG_SLOTS];

/* Sends the slot's message of ev, made by make(ev) (NULL: out of memory)
 * unless the slot holds it already; -1 when it was not sent. */
static int send_once(cb_conn *c, const cb_event *ev, int slot, cJSON *(*make)(const cb_event *))
{
	printed_msg *p = &printed[slot];
	if (p->seq != ev->seq || p->make != make || !p->text) {
		cJSON *m = make(ev);
		char *text = m ? cJSON_PrintUnformatted(m) : NULL;
		cJSON_Delete(m);
		if (!text)
			return -1;
		cJSON_free(p->text);
		*p = {ev->seq, make, text, strlen(text)};
	}
	return conn_send(c, p->text, p->len, false);
}

/* The `patch` event of ev's node: data {"id","patch","revert"}. */
static cJSON *patch_msg(const cb_event *ev)
{
	const cb_node *n = ev->node;
	cJSON *d = cJSON_CreateObject();
	if (d && !(cJSON_AddStringToObject(d, "id", n->id) &&
		   cJSON_AddItemToObject(d, "patch", cJSON_Duplicate(ev->patch, 1)) &&
		   cJSON_AddItemToObject(d, "revert", ev->revert ? cJSON_Duplicate(ev->revert, 1)
								 : cJSON_CreateNull()))) {
		cJSON_Delete(d);
		d = NULL;
	}
	return with_data(event_msg("patch", n->kind, n->id, NULL), d);
}

/* Sends ev's `patch` event; nothing (0) when ev carries no patch. */
static int send_patch(cb_conn *c, const cb_event *ev)
{
	return ev->patch ? send_once(c, ev, MSG_PATCH, patch_msg) : 0;
}

static cJSON *created_msg(const cb_event *ev)
{
	const cb_node *n = ev->node;
	return with_data(event_msg("created", n->kind, n->id, NULL), node_json(n));
}

static cJSON *deleted_msg(const cb_event *ev)
{
	return event_msg("deleted", ev->node->kind, ev->node->id, NULL);
}

static cJSON *granted_msg(const cb_event *ev)
{
	const cb_node *n = ev->node;
	cb_grant g = {ev->subject, ev->role, ev->actor ? ev->actor : ""};
	return with_data(event_msg("access-granted", n->kind, n->id, NULL),
			 permission_json(n->id, &g));
}

static cJSON *removed_msg(const cb_event *ev)
{
	return event_msg("access-removed", ev->node->kind, ev->node->id, NULL);
}

/* After ACCESS_REMOVED: whether user may still read the node. Only the
 * user removed can have lost it, or everyone when the public role went. */
static bool still_reads(cb_store *st, const cb_event *ev, const char *user)
{
	bool touched = ev->subject && (!strcmp(ev->subject, user) || !strcmp(ev->subject, CB_ANYONE));
	return !touched || store_access(st, ev->node, user, CB_ACCESS_READ) == CB_OK;
}

/* ---- /files: metadata events ---- */

struct files_watcher {
	cb_conn *conn;
	cb_subscriber sub;
};

static void on_file_event(const cb_event *ev, const char *user, void *ctx)
{
	cb_conn *c = ((files_watcher *)ctx)->conn;
	switch (ev->op) {
	case CB_EV_CREATED:
		/* spec 3: news to the owner alone (the bus tells all who
		 * may see it: spec 1 needs that) */
		if (strcmp(user, ev->node->owner))
			return;
		/* fall through */
	case CB_EV_RECOVERED:
		send_once(c, ev, MSG_MAIN, created_msg);
		return;
	case CB_EV_UPDATED:
		send_patch(c, ev);
		return;
	case CB_EV_DELETED:
	case CB_EV_PURGED:
		send_once(c, ev, MSG_MAIN, deleted_msg);
		return;
	case CB_EV_ACCESS_GRANTED:
		if (!send_once(c, ev, MSG_MAIN, granted_msg))
			send_patch(c, ev);
		return;
	case CB_EV_ACCESS_REMOVED:
		if (!send_once(c, ev, MSG_MAIN, removed_msg) && still_reads(conn_store(c), ev, user))
			send_patch(c, ev);
		return;
	case CB_EV_CONTENT: /* the media sockets' business */
	case CB_EV_STREAM:
		return;
	}
}

static int files_open(cb_conn *c)
{
	files_watcher *w = (files_watcher *)conn_state(c);
	w->conn = c;
	w->sub.user = conn_user(c)->id; /* CB_NEED_USER */
	w->sub.fn = on_file_event;
	w->sub.ctx = w;
	events_subscribe(conn_store(c), &w->sub); /* ops 0: every change */
	return 0;
}

static void files_close(cb_conn *c)
{
	files_watcher *w = (files_watcher *)conn_state(c);
	events_unsubscribe(conn_store(c), &w->sub);
}

/* ---- /files/<id>?alt=media: content events and live streams ---- */

struct media_watcher {
	cb_conn *conn;
	char node[CB_ID_LEN + 1];
	cb_subscriber sub;
	uint64_t missed; /* stream messages dropped for a full queue */
};

static void relay_stream(media_watcher *w, const cb_event *ev)
{
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

/* The watcher is done: no more events (this may run inside one), then
 * close once what is queued is out. */
static void media_end(media_watcher *w, int code, const char *reason)
{
	events_unsubscribe(conn_store(w->conn), &w->sub);
	conn_close(w->conn, code, reason);
}

static void on_media_event(const cb_event *ev, const char *user, void *ctx)
{
	media_watcher *w = (media_watcher *)ctx;
	cb_conn *c = w->conn;
	const cb_node *n = ev->node;
	switch (ev->op) {
	case CB_EV_STREAM:
		relay_stream(w, ev);
		return;
	case CB_EV_CONTENT: {
		if (send_patch(c, ev) || !ev->revision)
			return;
		const cb_revision *r = ev->revision;
		send_msg(c, with_data(event_msg("created", "Core#Revision", r->id, n->id),
				      revision_json(r)));
		return;
	}
	case CB_EV_DELETED:
	case CB_EV_PURGED:
		send_once(c, ev, MSG_MAIN, deleted_msg);
		media_end(w, 1000, "file deleted");
		return;
	case CB_EV_ACCESS_REMOVED:
		if (!still_reads(conn_store(c), ev, user))
			media_end(w, 1008, "access removed");
		return;
	case CB_EV_CREATED: /* not subscribed to */
	case CB_EV_UPDATED:
	case CB_EV_RECOVERED:
	case CB_EV_ACCESS_GRANTED:
		return;
	}
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
	w->sub.ops = CB_EV_BIT(CB_EV_STREAM) | CB_EV_BIT(CB_EV_CONTENT) | CB_EV_BIT(CB_EV_DELETED) |
		     CB_EV_BIT(CB_EV_PURGED) | CB_EV_BIT(CB_EV_ACCESS_REMOVED);
	w->sub.fn = on_media_event;
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
	{CB_WS, 0, "/files", CB_NEED_USER, sizeof(files_watcher), NULL, files_open, NULL,
	 files_close, NULL, NULL, NULL},
	{CB_WS, 0, "/file", CB_NEED_USER, sizeof(files_watcher), NULL, files_open, NULL,
	 files_close, NULL, NULL, NULL},
	{CB_WS, 0, "/files/*", 0, sizeof(media_watcher), NULL, media_open, NULL, media_close,
	 NULL, NULL, NULL},
	{CB_WS, 0, "/file/*", 0, sizeof(media_watcher), NULL, media_open, NULL, media_close,
	 NULL, NULL, NULL},
	{},
};
