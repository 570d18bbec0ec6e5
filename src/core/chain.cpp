/* chain.cpp: resumable upload chains (blob.h, CB_UPLOAD_CHAIN): at most
 * one upload per node that a client builds up over as many connections
 * as it takes, and what became of it. The chains db keeps, by node id,
 * {"state","upload","name","size","offset"}; blob.cpp moves a chain from
 * state to state inside the transactions that begin, complete, expire
 * and delete its upload, so the record never disagrees with the upload;
 * purging the node forgets its chain in the purge's transaction. */
#include <stdio.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/clock.h"
#include "store_internal.h"

static const char *const state_names[] = {"none", "active", "done", "expired"};

static cb_chain_state state_parse(const char *s)
{
	for (int i = CB_CHAIN_ACTIVE; i <= CB_CHAIN_EXPIRED; i++)
		if (!strcmp(s, state_names[i]))
			return (cb_chain_state)i;
	return CB_CHAIN_NONE;
}

static cb_status chain_put(MDB_txn *t, cb_store *st, const char *node, const cb_chain *c)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return CB_ERR_NOMEM;
	cJSON_AddStringToObject(j, "state", state_names[c->state]);
	cJSON_AddStringToObject(j, "upload", c->upload);
	cJSON_AddStringToObject(j, "name", c->name);
	cJSON_AddNumberToObject(j, "size", (double)c->size);
	cJSON_AddNumberToObject(j, "offset", (double)c->offset);
	cb_status s = db_put_json(t, st->chains, node, strlen(node), j);
	cJSON_Delete(j);
	return s;
}

/* node's chain as recorded (state NONE when there is none); an ACTIVE
 * one's offset is its upload's last checkpoint. */
static cb_status chain_get_txn(MDB_txn *t, cb_store *st, const char *node, cb_chain *out)
{
	cJSON *j = NULL;
	memset(out, 0, sizeof(*out));
	cb_status s = db_get_json(t, st->chains, node, strlen(node), &j);
	if (s)
		return s == CB_ERR_NOTFOUND ? CB_OK : s;
	out->state = state_parse(json_str(j, "state"));
	json_copy_str(j, "upload", out->upload, sizeof(out->upload));
	json_copy_str(j, "name", out->name, sizeof(out->name));
	out->size = json_int(j, "size");
	out->offset = (uint64_t)json_int(j, "offset");
	cJSON_Delete(j);
	if (out->state == CB_CHAIN_ACTIVE) {
		s = db_get_json(t, st->uploads, out->upload, strlen(out->upload), &j);
		if (s)
			return s;
		out->offset = (uint64_t)json_int(j, "offset");
		/* past partial_ttl it is as good as expired: the next sweep
		 * deletes it, and resuming it now would race that */
		if (upload_expired(st, out->upload, json_int(j, "updated"), cb_now_ms()))
			out->state = CB_CHAIN_EXPIRED;
		cJSON_Delete(j);
	}
	return CB_OK;
}

/* Records upload info's node's chain in `state`: ACTIVE names the
 * upload, EXPIRED keeps the offset it had. */
static cb_status chain_put_upload(MDB_txn *t, cb_store *st, const cb_upload_info *info,
				  cb_chain_state state)
{
	cb_chain c;
	memset(&c, 0, sizeof(c));
	c.state = state;
	if (state == CB_CHAIN_ACTIVE)
		snprintf(c.upload, sizeof(c.upload), "%s", info->id);
	snprintf(c.name, sizeof(c.name), "%s", info->name);
	c.size = info->size;
	if (state == CB_CHAIN_EXPIRED)
		c.offset = info->offset;
	return chain_put(t, st, info->node, &c);
}

cb_status chain_claim_txn(MDB_txn *t, cb_store *st, const cb_upload_info *info)
{
	MDB_val k = {strlen(info->node), (void *)info->node}, v;
	if (mdb_get(t, st->chains, &k, &v) == 0)
		return CB_ERR_EXISTS;
	return chain_put_upload(t, st, info, CB_CHAIN_ACTIVE);
}

cb_status chain_settle_txn(MDB_txn *t, cb_store *st, const cb_upload_info *info,
			   cb_chain_state state)
{
	cJSON *j = NULL;
	cb_status s = db_get_json(t, st->chains, info->node, strlen(info->node), &j);
	bool ours = !s && !strcmp(json_str(j, "upload"), info->id);
	cJSON_Delete(j);
	if (!ours) /* the node's chain is another upload's now (or none) */
		return s == CB_ERR_NOTFOUND || !s ? CB_OK : s;
	if (state == CB_CHAIN_NONE)
		return db_del(t, st->chains, info->node, strlen(info->node));
	return chain_put_upload(t, st, info, state);
}

cb_status blob_chain(cb_store *st, const char *actor, const char *node, cb_chain *out)
{
	store_txn txn;
	cb_node n;
	node_init(&n);
	memset(out, 0, sizeof(*out));
	cb_status s = txn.begin(st, false);
	if (!s)
		s = node_open_txn(txn.t, st, actor, node, CB_ACCESS_WRITE, &n, 0);
	if (!s && n.trashed)
		s = CB_ERR_NOTFOUND;
	if (!s)
		s = chain_get_txn(txn.t, st, n.id, out);
	node_clear(&n);
	return s;
}

/* chain_forget_txn() of the chain c, read already. */
static cb_status forget(MDB_txn *t, cb_store *st, const char *node, const cb_chain *c,
			char upload[CB_ID_LEN + 1])
{
	cb_status s;
	upload[0] = 0;
	if (c->state == CB_CHAIN_NONE)
		return CB_OK;
	/* an upload that reads as EXPIRED is still stored until the sweep */
	if (c->upload[0] && !upload_is_open(st, c->upload)) {
		if ((s = db_del(t, st->uploads, c->upload, strlen(c->upload))) && s != CB_ERR_NOTFOUND)
			return s;
		snprintf(upload, CB_ID_LEN + 1, "%s", c->upload);
	}
	return db_del(t, st->chains, node, strlen(node));
}

cb_status chain_forget_txn(MDB_txn *t, cb_store *st, const char *node,
			   char upload[CB_ID_LEN + 1])
{
	cb_chain c;
	upload[0] = 0;
	cb_status s = chain_get_txn(t, st, node, &c);
	return s ? s : forget(t, st, node, &c, upload);
}

cb_status blob_chain_destroy(cb_store *st, const char *actor, const char *node)
{
	store_txn txn;
	cb_chain c;
	cb_node n;
	char upload[CB_ID_LEN + 1] = "";
	node_init(&n);
	cb_status s = txn.begin(st, true);
	if (!s)
		s = node_open_txn(txn.t, st, actor, node, CB_ACCESS_WRITE, &n, 0);
	if (!s)
		s = chain_get_txn(txn.t, st, n.id, &c);
	if (!s && c.state == CB_CHAIN_NONE)
		s = CB_ERR_NOTFOUND;
	if (!s && c.upload[0] && upload_is_open(st, c.upload))
		s = CB_ERR_STATE;
	if (!s)
		s = forget(txn.t, st, n.id, &c, upload);
	if (!s && !(s = txn.commit()) && upload[0])
		partial_unlink(st, upload);
	node_clear(&n);
	return s;
}
