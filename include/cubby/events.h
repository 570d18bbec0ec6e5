/* events.h: the event bus (DESIGN §1). Every store and blob mutation
 * publishes one event after its LMDB transaction committed, never on
 * failure; every protocol's notifications (spec 1 broadcasts, spec 3
 * events, the web UI) are subscribers. Core does not know who listens,
 * and the bus does not know which protocol made the change.
 *
 * Delivery is synchronous, in the loop, once per matching subscriber: a
 * callback must not block (format, enqueue, return). The audience is
 * decided by the bus from the node's permissions, so a subscriber only
 * ever hears of nodes its user may see:
 *
 *   CREATED, PURGED           the owner
 *   UPDATED, RECOVERED,       the owner, every user with a grant, and
 *   CONTENT                   everyone when the node is public
 *   DELETED                   the same, as the node was before the
 *                             change (a trashed node keeps its grants; a
 *                             purged live one is announced with the
 *                             grants it had)
 *   ACCESS_GRANTED            the same, plus the user granted (everyone
 *                             for CB_ANYONE)
 *   ACCESS_REMOVED            the same, plus the user removed (everyone
 *                             for CB_ANYONE: they all just lost it)
 *   STREAM                    as CONTENT
 *
 * A trashed node is its owner's alone: any event but DELETED on a node in
 * the trash goes to the owner only. UPDATED counts the node as it is
 * after the change: a node made private by store_node_update() is news to
 * those who may still read it, while store_grant(CB_ANYONE, NONE) tells
 * every user (ACCESS_REMOVED). A store_grant() that changes nothing (the
 * same role again, removing a grant never given) publishes nothing.
 *
 * Who publishes what: store_node_create CREATED; store_node_update
 * UPDATED; store_node_trash DELETED; store_node_recover RECOVERED;
 * store_node_purge PURGED (from the trash) or DELETED (live);
 * store_node_set_content CONTENT; store_grant ACCESS_GRANTED or
 * ACCESS_REMOVED; blob_complete (and blob_recover finishing one) CREATED
 * for a new node, CONTENT for new content of an existing one;
 * store_purge_owner (account removal) one PURGED or DELETED per node, by
 * the server; events_stream STREAM. */
#pragma once
#include "cubby/store.h"

enum cb_event_op {
	CB_EV_CREATED,        /* a node was created (also by an upload completing) */
	CB_EV_UPDATED,        /* metadata changed: name, parent, kind, mime, tags,
				 public role, meta */
	CB_EV_DELETED,        /* moved to the trash, or purged while live */
	CB_EV_RECOVERED,      /* came back from the trash */
	CB_EV_PURGED,         /* deleted for good from the trash */
	CB_EV_CONTENT,        /* content replaced (an upload into an existing
				 node, store_node_set_content) */
	CB_EV_ACCESS_GRANTED, /* a grant added or changed (also CB_ANYONE) */
	CB_EV_ACCESS_REMOVED, /* a grant removed (also CB_ANYONE) */
	CB_EV_STREAM,         /* live bytes of the node's media that are not
				 stored (spec 2 saveMedia=false): data, len.
				 Not a change: only subscribers that ask for
				 it by its bit get it */
};
#define CB_EV_COUNT 9
#define CB_EV_BIT(op) (1u << (op)) /* for cb_subscriber.ops */

struct cb_event {
	cb_event_op op;
	const cb_node *node;         /* after the change (DELETED by purge,
					PURGED: as it was); meta loaded */
	const char *actor;           /* user id who did it; NULL = the server */
	const char *subject;         /* ACCESS_*: the user id granted or
					removed, or CB_ANYONE; else NULL */
	cb_role role;                /* ACCESS_GRANTED: the role given */
	cb_role old_role;            /* ACCESS_*: the role before */
	const cb_revision *revision; /* CONTENT: the revision of the change
					(kept or not: revisions_keep) */
	/* UPDATED and ACCESS_*: an RFC 6902 patch on node_json() from before
	 * the change to after (ACCESS_*: on /permissions/<subject>), and its
	 * inverse; store_node_patch's events carry the client's patch.
	 * CONTENT: the patch on the content when the change was one
	 * (store_content_patch), else NULL. Otherwise NULL. */
	const cJSON *patch;
	const cJSON *revert;
	const void *origin;          /* what events_set_origin() said */
	const void *data;            /* STREAM: the bytes */
	size_t len;
	/* the event's number: each delivery in the process has a higher one
	 * than the last, so that a module may keep what it made of an event
	 * for the next of its subscribers */
	uint64_t seq;
};

/* Called once per subscriber the event is for; `user` is that
 * subscriber's user. Everything the event points to lives only for the
 * call. The callback may subscribe and unsubscribe (itself or others)
 * and call the store, mutations included. */
typedef void (*cb_event_fn)(const cb_event *ev, const char *user, void *ctx);

/* Embedded in the subscriber's own struct (a connection...): the bus
 * allocates nothing. Zero it before the first events_subscribe(). */
struct cb_subscriber {
	const char *user;  /* whose view this is: a user id; "" an anonymous
			      client (public nodes only); NULL the server
			      itself (every event) */
	const char *node;  /* only this node's events; NULL = all */
	unsigned ops;      /* CB_EV_BIT(op)s wanted; 0 = every change
			      (not CB_EV_STREAM) */
	cb_event_fn fn;
	void *ctx;
	cb_subscriber *prev, *next; /* the bus's list links */
};

/* Adds s; one already subscribed stays as it is. A subscriber added while
 * an event is being delivered does not get that event. */
void events_subscribe(cb_store *st, cb_subscriber *s);
/* Removes s. Safe on a zeroed one never subscribed, twice, and from
 * inside a callback, for itself or for another subscriber (which then
 * does not get the event being delivered). */
void events_unsubscribe(cb_store *st, cb_subscriber *s);

/* The connection (or anything) on whose behalf the next mutations run,
 * handed on as cb_event.origin so that a protocol can skip echoing a
 * change back to the client that made it. The network layer sets it
 * around each request; NULL = none. */
void events_set_origin(cb_store *st, const void *origin);

/* Relays len bytes of node id's live media, sent by actor, to the
 * subscribers of CB_EV_STREAM on it who may read the node (the audience
 * of CONTENT). Nothing is stored; nothing is read unless someone listens. */
void events_stream(cb_store *st, const char *actor, const char *id, const void *data,
		   size_t len);

/* "created", "updated", "deleted", "recovered", "purged", "content",
 * "access-granted", "access-removed", "stream" (for logs). */
const char *event_op_name(cb_event_op op);
