/* access.cpp: who may do what to a node. store_access() is the one place
 * that answers every access question; grants are kept both ways
 * (node -> user for listing a node's permissions, user -> node for listing
 * what is shared with a user). */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const char *const role_names[] = {NULL, "reader", "commenter", "writer", "owner"};

const char *role_name(cb_role r)
{
	return (r > CB_ROLE_NONE && r <= CB_ROLE_OWNER) ? role_names[r] : NULL;
}

cb_role role_parse(const char *s)
{
	for (int r = CB_ROLE_READER; r <= CB_ROLE_OWNER; r++)
		if (s && !strcmp(s, role_names[r]))
			return (cb_role)r;
	return CB_ROLE_NONE;
}

static cb_role grant_get(MDB_txn *t, cb_store *st, const char *node, const char *user)
{
	char key[2 * (CB_ID_LEN + 1)];
	if (strlen(node) > CB_ID_LEN || strlen(user) > CB_ID_LEN)
		return CB_ROLE_NONE;
	MDB_val k = {key_pair(key, node, user), key}, v;
	if (mdb_get(t, st->grants, &k, &v) || v.mv_size < 1)
		return CB_ROLE_NONE;
	return (cb_role)((const unsigned char *)v.mv_data)[0];
}

/* The id after "prefix \0" in a grant key (either way round) into out;
 * false when it is too long to be one. */
static bool grant_key_tail(const MDB_val &k, size_t plen, char out[CB_ID_LEN + 1])
{
	size_t n = k.mv_size - plen;
	if (n > CB_ID_LEN)
		return false;
	memcpy(out, (const char *)k.mv_data + plen, n);
	out[n] = 0;
	return true;
}

/* user NULL is the server itself; "" is an anonymous client, who gets
 * only the public role. A trashed node is its owner's alone. */
static cb_role role_txn(MDB_txn *t, cb_store *st, const cb_node *n, const char *user)
{
	if (!user || !strcmp(user, n->owner))
		return CB_ROLE_OWNER;
	if (n->trashed)
		return CB_ROLE_NONE;
	cb_role r = n->anyone;
	if (*user) {
		cb_role g = grant_get(t, st, n->id, user);
		if (g > r)
			r = g;
	}
	return r;
}

cb_role store_role(cb_store *st, const cb_node *n, const char *user)
{
	store_txn txn;
	if (txn.begin(st, false))
		return CB_ROLE_NONE;
	return role_txn(txn.t, st, n, user);
}

static cb_role role_needed(cb_access want)
{
	switch (want) {
	case CB_ACCESS_READ:
		return CB_ROLE_READER;
	case CB_ACCESS_COMMENT:
		return CB_ROLE_COMMENTER;
	case CB_ACCESS_WRITE:
	case CB_ACCESS_DELETE:
	case CB_ACCESS_SHARE_READER:
		return CB_ROLE_WRITER;
	case CB_ACCESS_PURGE:
	case CB_ACCESS_SHARE:
		break;
	}
	return CB_ROLE_OWNER;
}

cb_status store_access_txn(MDB_txn *t, cb_store *st, const cb_node *n,
			   const char *user, cb_access want)
{
	cb_role have = role_txn(t, st, n, user);
	if (have < CB_ROLE_READER)
		return CB_ERR_NOTFOUND; /* never reveal that it exists */
	return have >= role_needed(want) ? CB_OK : CB_ERR_ACCESS;
}

cb_status store_access(cb_store *st, const cb_node *n, const char *user, cb_access want)
{
	store_txn txn;
	cb_status s = txn.begin(st, false);
	return s ? s : store_access_txn(txn.t, st, n, user, want);
}

/* Reader grants may be handed out and taken back by writers; any other
 * change of role needs the owner. */
static cb_access share_access(cb_role from, cb_role to)
{
	bool reader_only = (from == CB_ROLE_NONE || from == CB_ROLE_READER) &&
			   (to == CB_ROLE_NONE || to == CB_ROLE_READER);
	return reader_only ? CB_ACCESS_SHARE_READER : CB_ACCESS_SHARE;
}

/* One operation on node_json()'s /permissions/<user> (role NONE:
 * "remove"); NULL when out of memory. */
static cJSON *permission_op(const char *user, cb_role from, cb_role to)
{
	char path[32 + CB_ID_LEN];
	snprintf(path, sizeof(path), "/permissions/%s", user); /* ids need no escaping */
	cJSON *ops = cJSON_CreateArray(), *op = cJSON_CreateObject();
	cJSON_AddItemToArray(ops, op);
	const char *name = to == CB_ROLE_NONE ? "remove" : from == CB_ROLE_NONE ? "add" : "replace";
	if (!op || !cJSON_AddStringToObject(op, "op", name) ||
	    !cJSON_AddStringToObject(op, "path", path) ||
	    (to != CB_ROLE_NONE && !cJSON_AddStringToObject(op, "value", role_name(to)))) {
		cJSON_Delete(ops);
		return NULL;
	}
	return ops;
}

/* A grant changes the node's JSON too: the ACCESS_* event says how. */
static void grant_patches(ev_pending *ev, const char *user, cb_role from, cb_role to)
{
	ev->patch = permission_op(user, from, to);
	ev->revert = permission_op(user, to, from);
}

cb_status grants_json_txn(MDB_txn *t, cb_store *st, const cb_node *n, cJSON **out)
{
	cJSON *g = cJSON_CreateObject();
	if (!g)
		return CB_ERR_NOMEM;
	size_t plen = strlen(n->id) + 1;
	cb_status s2 = CB_OK;
	cb_status s = db_scan(t, st->grants, n->id, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &v) {
		char user[CB_ID_LEN + 1];
		const char *role = v.mv_size ? role_name((cb_role)((unsigned char *)v.mv_data)[0]) : NULL;
		if (!role || !grant_key_tail(k, plen, user))
			return 0;
		if (!cJSON_AddStringToObject(g, user, role))
			s2 = CB_ERR_NOMEM;
		return s2 ? 1 : 0;
	});
	if (!s && !s2 && n->anyone != CB_ROLE_NONE &&
	    !cJSON_AddStringToObject(g, CB_ANYONE, role_name(n->anyone)))
		s2 = CB_ERR_NOMEM;
	if (s || s2) {
		cJSON_Delete(g);
		return s ? s : s2;
	}
	*out = g;
	return CB_OK;
}

/* What store_grant() checks, on n loaded inside t; the user's role now
 * into *from. */
static cb_status grant_check_txn(MDB_txn *t, cb_store *st, const char *actor, const cb_node *n,
				 const char *user, cb_role role, cb_role *from)
{
	if (!strcmp(user, n->owner) || role == CB_ROLE_OWNER)
		return CB_ERR_INVAL;
	if (!strcmp(user, CB_ANYONE)) {
		*from = n->anyone;
	} else {
		MDB_val k = {strlen(user), (void *)user}, v;
		if (mdb_get(t, st->users_by_id, &k, &v))
			return CB_ERR_NOTFOUND; /* no such user */
		*from = grant_get(t, st, n->id, user);
	}
	return store_access_txn(t, st, n, actor, share_access(*from, role));
}

cb_status store_grant_check(cb_store *st, const char *actor, const char *id,
			    const char *user, cb_role role)
{
	store_txn txn;
	cb_node n;
	cb_role from;
	node_init(&n);
	cb_status s = txn.begin(st, false);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, &n, 0);
	if (!s)
		s = grant_check_txn(txn.t, st, actor, &n, user, role, &from);
	node_clear(&n);
	return s;
}

cb_status store_grant(cb_store *st, const char *actor, const char *id,
		      const char *user, cb_role role)
{
	store_txn txn;
	ev_pending ev;
	cb_node n;
	cb_role from = CB_ROLE_NONE;
	node_init(&n);
	cb_status s = txn.begin(st, true);
	/* a stranger learns nothing, not even that the arguments are wrong */
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, &n, 0);
	if (!s)
		s = grant_check_txn(txn.t, st, actor, &n, user, role, &from);
	if (s)
		goto out;
	if (!strcmp(user, CB_ANYONE)) {
		n.anyone = role;
		snprintf(n.anyone_by, sizeof(n.anyone_by), "%s", actor ? actor : "");
		cJSON *j = node_to_json(&n);
		s = j ? db_put_json(txn.t, st->nodes, n.id, strlen(n.id), j) : CB_ERR_NOMEM;
		cJSON_Delete(j);
	} else {
		MDB_val k;
		/* the role, then who gave it */
		char key[2 * (CB_ID_LEN + 1)], value[1 + CB_ID_LEN];
		size_t alen = actor ? strlen(actor) : 0;
		value[0] = (char)role;
		memcpy(value + 1, actor ? actor : "", alen);
		MDB_val rv = {1 + alen, value};
		const char *pairs[2][2] = {{n.id, user}, {user, n.id}};
		MDB_dbi dbis[2] = {st->grants, st->grants_by_user};
		for (int i = 0; i < 2 && !s; i++) {
			k.mv_data = key;
			k.mv_size = key_pair(key, pairs[i][0], pairs[i][1]);
			int rc = role == CB_ROLE_NONE ? mdb_del(txn.t, dbis[i], &k, NULL)
						      : mdb_put(txn.t, dbis[i], &k, &rv, 0);
			if (rc && rc != MDB_NOTFOUND)
				s = store_mdb_status(rc);
		}
	}
	/* Announced with the grants as they are now plus the user granted or
	 * removed: those with access before and after. A grant that changed
	 * nothing is not announced: removing a grant someone never had must
	 * not tell them that the node exists. */
	if (!s && from != role)
		events_prepare(txn.t, st, &ev,
			       role == CB_ROLE_NONE ? CB_EV_ACCESS_REMOVED : CB_EV_ACCESS_GRANTED,
			       actor, n.id);
	if (!s && ev.on) {
		snprintf(ev.subject, sizeof(ev.subject), "%s", user);
		ev.role = role;
		ev.old_role = from;
		grant_patches(&ev, user, from, role);
		/* public, or public until now: every user may have seen it */
		ev.everyone = ev.everyone || !strcmp(user, CB_ANYONE);
	}
	if (!s && !(s = txn.commit()))
		events_publish(st, &ev);
out:
	node_clear(&n);
	return s;
}

cb_status store_list_grants(cb_store *st, const char *actor, const char *id,
			    cb_grant_visit visit, void *ctx)
{
	store_txn txn;
	cb_node n;
	node_init(&n);
	cb_status s = txn.begin(st, false);
	if (!s)
		s = node_open_txn(txn.t, st, actor, id, CB_ACCESS_READ, &n, 0);
	if (!s) {
		size_t plen = strlen(n.id) + 1;
		int stop = 0;
		s = db_scan(txn.t, st->grants, n.id, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &v) {
			char user[CB_ID_LEN + 1], adder[CB_ID_LEN + 1];
			if (v.mv_size < 1 || v.mv_size > 1 + CB_ID_LEN || !grant_key_tail(k, plen, user))
				return 0;
			memcpy(adder, (const char *)v.mv_data + 1, v.mv_size - 1);
			adder[v.mv_size - 1] = 0;
			cb_grant g = {user, (cb_role)((unsigned char *)v.mv_data)[0], adder};
			return stop = visit(&g, ctx);
		});
		cb_grant pub = {CB_ANYONE, n.anyone, n.anyone_by};
		if (!s && !stop && n.anyone != CB_ROLE_NONE)
			visit(&pub, ctx);
	}
	node_clear(&n);
	return s;
}

/* Removes every grant keyed by `id` in dbi (id \0 other) and its mirror
 * (other \0 id) in the other grant database. */
static cb_status grants_drop(MDB_txn *t, MDB_dbi dbi, MDB_dbi mirror, const char *id)
{
	size_t plen = strlen(id) + 1;
	cb_status s2 = CB_OK;
	cb_status s = db_scan(t, dbi, id, plen, [&](MDB_cursor *c, MDB_val &k, MDB_val &) {
		char key[2 * (CB_ID_LEN + 1)], other[CB_ID_LEN + 1];
		if (!grant_key_tail(k, plen, other))
			return 0;
		MDB_val mk = {key_pair(key, other, id), key};
		int rc = mdb_del(t, mirror, &mk, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		if (!rc)
			rc = mdb_cursor_del(c, 0);
		s2 = store_mdb_status(rc);
		return rc;
	});
	return s ? s : s2;
}

cb_status grants_list(MDB_txn *t, MDB_dbi dbi, const char *id, id_list *out)
{
	size_t plen = strlen(id) + 1;
	cb_status s2 = CB_OK;
	cb_status s = db_scan(t, dbi, id, plen, [&](MDB_cursor *, MDB_val &k, MDB_val &) {
		char other[CB_ID_LEN + 1];
		if (!grant_key_tail(k, plen, other))
			return 0;
		s2 = id_list_add(out, other);
		return s2 ? 1 : 0;
	});
	return s ? s : s2;
}

void grants_announce_removed(cb_store *st, const char *user, const id_list *nodes)
{
	for (size_t i = 0; i < nodes->n; i++) {
		ev_pending ev;
		store_txn txn;
		if (!events_wanted(st, CB_EV_ACCESS_REMOVED, nodes->ids[i]) || txn.begin(st, false))
			continue;
		events_prepare(txn.t, st, &ev, CB_EV_ACCESS_REMOVED, NULL, nodes->ids[i]);
		txn.abort(); /* subscribers may write */
		snprintf(ev.subject, sizeof(ev.subject), "%s", user);
		events_publish(st, &ev);
	}
}

cb_status grants_drop_node(MDB_txn *t, cb_store *st, const char *id)
{
	return grants_drop(t, st->grants, st->grants_by_user, id);
}

cb_status grants_drop_user(MDB_txn *t, cb_store *st, const char *id)
{
	return grants_drop(t, st->grants_by_user, st->grants, id);
}
