/* events.cpp: the event bus (include/cubby/events.h, DESIGN §1): the
 * subscriber list, the audience of an event, and delivery.
 *
 * Subscribers sit on a doubly linked list in cb_store, newest first. A
 * callback may unsubscribe itself or any other subscriber, and may cause
 * another event (a mutation) whose delivery runs inside this one. So each
 * delivery under way keeps its cursor, the subscriber it visits next, in
 * a frame on the stack, and the frames are chained from st->walks:
 * events_unsubscribe() moves every cursor that points at the subscriber
 * it removes on to the one after. The current subscriber is never touched
 * after its callback returns, so it may even be freed there. New
 * subscribers go to the head of the list, behind every cursor, so they
 * miss an event already being delivered rather than get it half way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/events.h"
#include "cubby/log.h"
#include "store_internal.h"

struct ev_walk {
	cb_subscriber *next; /* visited next; moved on by events_unsubscribe */
	ev_walk *up;         /* the delivery this one runs inside, if any */
};

/* cb_event.seq: one count for the process, whatever the store */
static uint64_t event_seq;

static const char *const op_names[CB_EV_COUNT] = {
	"created", "updated", "deleted", "recovered",
	"purged", "content", "access-granted", "access-removed",
	"stream",
};

const char *event_op_name(cb_event_op op)
{
	return ((unsigned)op < CB_EV_COUNT) ? op_names[op] : "unknown";
}

void events_set_origin(cb_store *st, const void *origin)
{
	st->origin = origin;
}

static bool subscribed(cb_store *st, const cb_subscriber *s)
{
	return s->prev || st->subs == s;
}

void events_subscribe(cb_store *st, cb_subscriber *s)
{
	if (!s || subscribed(st, s))
		return;
	s->prev = NULL;
	s->next = st->subs;
	if (st->subs)
		st->subs->prev = s;
	st->subs = s;
}

void events_unsubscribe(cb_store *st, cb_subscriber *s)
{
	if (!s || !subscribed(st, s))
		return;
	for (ev_walk *w = st->walks; w; w = w->up)
		if (w->next == s)
			w->next = s->next;
	if (s->prev)
		s->prev->next = s->next;
	else
		st->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* The subscriber's filters, before any question of permission. */
static bool sub_takes(const cb_subscriber *s, cb_event_op op, const char *id)
{
	bool wants = s->ops ? (s->ops & CB_EV_BIT(op)) != 0 : op != CB_EV_STREAM;
	return wants && (!s->node || !strcmp(s->node, id));
}

bool events_wanted(cb_store *st, cb_event_op op, const char *id)
{
	for (const cb_subscriber *s = st->subs; s; s = s->next)
		if (sub_takes(s, op, id))
			return true;
	return false;
}

void events_prepare(MDB_txn *t, cb_store *st, ev_pending *ev, cb_event_op op,
		    const char *actor, const char *id)
{
	if (!events_wanted(st, op, id))
		return;
	ev->op = op;
	ev->server = !actor;
	snprintf(ev->actor, sizeof(ev->actor), "%s", actor ? actor : "");
	cb_status s = node_load_txn(t, st, id, &ev->node, CB_NODE_META | CB_NODE_GRANTS);
	if (s) {
		log_warn("events: cannot read node %s for its %s event: %s", id,
			 event_op_name(op), cb_status_str(s));
		return;
	}
	/* a purge only ever happens to what the owner alone could see (the
	 * trash), and so does anything but the move into it of a trashed
	 * node; a creation reaches whoever may see the new node (spec 3's
	 * "only the owner" is for its module to apply, spec 1 tells every
	 * client that may see it) */
	ev->owner_only = op == CB_EV_PURGED || (ev->node.trashed && op != CB_EV_DELETED);
	ev->everyone = !ev->owner_only && ev->node.anyone != CB_ROLE_NONE;
	if (!ev->owner_only && !ev->everyone && (s = grants_list(t, st->grants, id, &ev->grantees))) {
		log_warn("events: cannot read the grants of %s for its %s event: %s", id,
			 event_op_name(op), cb_status_str(s));
		return;
	}
	/* sorted, so that each of many subscribers is looked up quickly */
	if (ev->grantees.n > 1)
		qsort(ev->grantees.ids, ev->grantees.n, sizeof(ev->grantees.ids[0]), id_cmp);
	ev->on = true;
}

static bool in_audience(const ev_pending *ev, const char *user)
{
	if (!user)
		return true; /* the server itself */
	if (*user && !strcmp(user, ev->node.owner))
		return true;
	if (ev->owner_only)
		return false;
	if (ev->everyone)
		return true;
	if (!*user)
		return false; /* anonymous: public nodes only */
	if (ev->subject[0] && !strcmp(user, ev->subject))
		return true;
	return ev->grantees.n &&
	       bsearch(user, ev->grantees.ids, ev->grantees.n, sizeof(ev->grantees.ids[0]), id_cmp);
}

void events_publish(cb_store *st, ev_pending *ev)
{
	if (!ev->on)
		return;
	cb_event e;
	e.op = ev->op;
	e.node = &ev->node;
	e.actor = ev->server ? NULL : ev->actor;
	e.subject = ev->subject[0] ? ev->subject : NULL;
	e.role = ev->role;
	e.old_role = ev->old_role;
	e.patch = ev->patch;
	e.revert = ev->revert;
	e.revision = ev->has_rev ? &ev->rev : NULL;
	e.origin = st->origin;
	e.data = ev->data;
	e.len = ev->len;
	e.seq = ++event_seq;

	/* what a callback changes in turn is not the origin's doing */
	const void *origin = st->origin;
	st->origin = NULL;
	ev_walk w = {st->subs, st->walks};
	st->walks = &w;
	while (cb_subscriber *s = w.next) {
		w.next = s->next;
		if (s->fn && sub_takes(s, e.op, ev->node.id) && in_audience(ev, s->user))
			s->fn(&e, s->user, s->ctx);
	}
	st->walks = w.up;
	st->origin = origin;
}

void events_stream(cb_store *st, const char *actor, const char *id, const void *data,
		   size_t len)
{
	if (!events_wanted(st, CB_EV_STREAM, id))
		return;
	store_txn txn;
	ev_pending ev;
	if (txn.begin(st, false))
		return;
	events_prepare(txn.t, st, &ev, CB_EV_STREAM, actor, id);
	txn.abort();
	ev.data = data;
	ev.len = len;
	events_publish(st, &ev);
}
