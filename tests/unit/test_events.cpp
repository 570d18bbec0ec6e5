/* test_events.cpp: unit tests for the event bus (include/cubby/events.h,
 * DESIGN §1 and the spec 3 audience of §7) on a real store in a fresh
 * temporary data directory: which subscriber hears of which mutation,
 * what the event carries, that a failed mutation publishes nothing, that
 * subscribers may come and go from inside a callback, and who gets the
 * live bytes of events_stream() (CB_EV_STREAM), and the patches spec 3
 * events carry (on node_json(), and on the content). Alice owns, bob and
 * dave get grants, carol is a stranger. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <limits.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/ids.h"
#include "cubby/jsonpatch.h"
#include "cubby/store.h"
#include "../../src/core/store_internal.h" /* events_wanted() */
#include "store_fixture.h"

/* ---- a recording subscriber ---- */

#define REC_MAX 16

struct rec_ev {
	cb_event_op op;
	char user[CB_ID_LEN + 1];     /* delivered for */
	char node[CB_ID_LEN + 1];
	char name[CB_NAME_MAX + 1];
	char blob[CB_ID_LEN + 1];
	char actor[CB_ID_LEN + 1];    /* "" when NULL */
	bool actor_null;
	char subject[CB_ID_LEN + 1];  /* "" when NULL */
	bool subject_null;
	cb_role role;
	cb_role anyone;
	int64_t trashed;
	uint64_t size;
	bool has_meta;
	int meta_n;                   /* meta's "n", -1 when absent */
	cb_role old_role;
	bool has_rev;
	char rev_blob[CB_ID_LEN + 1];
	char rev_user[CB_ID_LEN + 1];
	uint64_t rev_size;
	char rev_md5[33];
	bool rev_patch;
	bool patch_null, revert_null;
	char patch[512];              /* ev->patch as JSON text; "" when NULL */
	char revert[512];
	char json[1536];              /* node_json(ev->node) */
	const void *origin;
	const void *data;             /* STREAM: as given, and a copy */
	size_t len;
	char bytes[32];
};

struct rec;
typedef void (*rec_hook)(rec *r, const cb_event *ev);

struct rec {
	cb_subscriber sub;
	rec_ev ev[REC_MAX];
	int n;
	rec_hook hook; /* run after recording */
	void *hook_ctx;
};

/* j as JSON text into out ("" when NULL); it must fit. */
static void json_text(const cJSON *j, char *out, size_t n)
{
	out[0] = 0;
	if (!j)
		return;
	char *t = cJSON_PrintUnformatted(j);
	assert_non_null(t);
	assert_true(strlen(t) < n);
	snprintf(out, n, "%s", t);
	cJSON_free(t);
}

/* The recorded JSON text got is the document want. */
static bool json_is(const char *got, const char *want)
{
	cJSON *g = cJSON_Parse(got);
	bool same = t_json_is(g, want);
	cJSON_Delete(g);
	return same;
}

static void rec_fn(const cb_event *ev, const char *user, void *ctx)
{
	rec *r = (rec *)ctx;
	assert_true(r->n < REC_MAX);
	rec_ev *e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->op = ev->op;
	snprintf(e->user, sizeof(e->user), "%s", user ? user : "(server)");
	snprintf(e->node, sizeof(e->node), "%s", ev->node->id);
	snprintf(e->name, sizeof(e->name), "%s", ev->node->name);
	snprintf(e->blob, sizeof(e->blob), "%s", ev->node->blob);
	e->actor_null = !ev->actor;
	snprintf(e->actor, sizeof(e->actor), "%s", ev->actor ? ev->actor : "");
	e->subject_null = !ev->subject;
	snprintf(e->subject, sizeof(e->subject), "%s", ev->subject ? ev->subject : "");
	e->role = ev->role;
	e->old_role = ev->old_role;
	e->patch_null = !ev->patch;
	e->revert_null = !ev->revert;
	json_text(ev->patch, e->patch, sizeof(e->patch));
	json_text(ev->revert, e->revert, sizeof(e->revert));
	cJSON *nj = node_json(ev->node);
	assert_non_null(nj);
	json_text(nj, e->json, sizeof(e->json));
	cJSON_Delete(nj);
	e->anyone = ev->node->anyone;
	e->trashed = ev->node->trashed;
	e->size = ev->node->size;
	e->has_meta = ev->node->meta != NULL;
	const cJSON *mn = cJSON_GetObjectItemCaseSensitive(ev->node->meta, "n");
	e->meta_n = cJSON_IsNumber(mn) ? mn->valueint : -1;
	e->has_rev = ev->revision != NULL;
	if (ev->revision) {
		snprintf(e->rev_blob, sizeof(e->rev_blob), "%s", ev->revision->blob);
		snprintf(e->rev_user, sizeof(e->rev_user), "%s", ev->revision->user);
		snprintf(e->rev_md5, sizeof(e->rev_md5), "%s", ev->revision->md5);
		e->rev_size = ev->revision->size;
		e->rev_patch = ev->revision->patch != NULL;
		assert_string_equal(ev->revision->node, ev->node->id);
	}
	e->origin = ev->origin;
	e->data = ev->data;
	e->len = ev->len;
	if (ev->data)
		memcpy(e->bytes, ev->data, ev->len < sizeof(e->bytes) ? ev->len : sizeof(e->bytes));
	if (r->hook)
		r->hook(r, ev);
}

static void rec_init(rec *r, const char *user, const char *node = NULL, unsigned ops = 0)
{
	memset(r, 0, sizeof(*r));
	r->sub.user = user;
	r->sub.node = node;
	r->sub.ops = ops;
	r->sub.fn = rec_fn;
	r->sub.ctx = r;
}

static const rec_ev *last(const rec *r)
{
	assert_true(r->n > 0);
	return &r->ev[r->n - 1];
}

/* ---- fixture ---- */

struct fx : t_store {
	char alice[CB_ID_LEN + 1];
	char bob[CB_ID_LEN + 1];
	char carol[CB_ID_LEN + 1];
	char dave[CB_ID_LEN + 1];
	rec ra, rb, rc, rd; /* one subscriber each, every event */
};

static void subscribe_all(fx *f)
{
	rec_init(&f->ra, f->alice);
	rec_init(&f->rb, f->bob);
	rec_init(&f->rc, f->carol);
	rec_init(&f->rd, f->dave);
	events_subscribe(f->st, &f->ra.sub);
	events_subscribe(f->st, &f->rb.sub);
	events_subscribe(f->st, &f->rc.sub);
	events_subscribe(f->st, &f->rd.sub);
}

static int setup(void **state)
{
	fx *f = (fx *)calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (t_store_open(f, "events")) {
		free(f);
		return -1;
	}
	char *const ids[] = {f->alice, f->bob, f->carol, f->dave};
	if (t_store_users(f, ids))
		return -1;
	subscribe_all(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = (fx *)*state;
	if (!f)
		return 0;
	t_store_close(f);
	free(f);
	*state = NULL;
	return 0;
}

static void reset(fx *f)
{
	f->ra.n = f->rb.n = f->rc.n = f->rd.n = 0;
}

/* How many events each of alice, bob, carol, dave got. */
static void expect(fx *f, int a, int b, int c, int d)
{
	if (f->ra.n != a || f->rb.n != b || f->rc.n != c || f->rd.n != d)
		print_error("got alice %d bob %d carol %d dave %d, want %d %d %d %d\n", f->ra.n,
			    f->rb.n, f->rc.n, f->rd.n, a, b, c, d);
	assert_int_equal(f->ra.n, a);
	assert_int_equal(f->rb.n, b);
	assert_int_equal(f->rc.n, c);
	assert_int_equal(f->rd.n, d);
}

/* ---- helpers ---- */

static void mk(fx *f, const char *actor, const char *name, char id[CB_ID_LEN + 1],
	       cb_role anyone = CB_ROLE_NONE)
{
	cb_node n;
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "%s", name);
	n.anyone = anyone;
	n.meta = cJSON_Parse("{\"n\":1}");
	assert_int_equal(store_node_create(f->st, actor, &n, 0), CB_OK);
	snprintf(id, CB_ID_LEN + 1, "%s", n.id);
	node_clear(&n);
}

static void grant(fx *f, const char *id, const char *user, cb_role role)
{
	assert_int_equal(store_grant(f->st, f->alice, id, user, role), CB_OK);
}

/* Renames id as actor (meta left as stored). */
static cb_status rename_as(fx *f, const char *actor, const char *id, const char *name)
{
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, NULL, id, &n, 0), CB_OK);
	snprintf(n.name, sizeof(n.name), "%s", name);
	cb_status s = store_node_update(f->st, actor, &n, 0);
	node_clear(&n);
	return s;
}

static void put_blob(fx *f, char id[CB_ID_LEN + 1])
{
	char path[PATH_MAX];
	assert_int_equal(id_uuid4(id), 0);
	store_blob_path(f->st, id, path, sizeof(path));
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("content", fp);
	assert_int_equal(fclose(fp), 0);
}

static void set_content(fx *f, const char *actor, const char *id, char blob[CB_ID_LEN + 1],
			const cJSON *patch = NULL)
{
	put_blob(f, blob);
	assert_int_equal(store_node_set_content(f->st, actor, id, blob, 7,
						"0123456789abcdef0123456789abcdef", patch, NULL),
			 CB_OK);
}

/* Uploads `text` as actor through blob.h; the node as committed to out. */
static void upload(fx *f, const char *actor, cb_upload_mode mode, const char *target_id,
		   const char *name, const char *text, cb_node *out)
{
	cb_node t;
	cb_upload *up;
	char md5[33];
	node_init(&t);
	if (target_id)
		snprintf(t.id, sizeof(t.id), "%s", target_id);
	if (name)
		snprintf(t.name, sizeof(t.name), "%s", name);
	size_t len = strlen(text);
	assert_int_equal(blob_begin(f->st, actor, &t, mode, (int64_t)len, 0, &up), CB_OK);
	node_clear(&t);
	assert_int_equal(blob_write(up, 0, text, len), CB_OK);
	MD5Data((const uint8_t *)text, len, md5);
	node_init(out);
	assert_int_equal(blob_complete(up, md5, out), CB_OK);
}

/* ---- who hears what ---- */

static void test_create_reaches_who_may_see(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], pub[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	expect(f, 1, 0, 0, 0);
	const rec_ev *e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_CREATED);
	assert_string_equal(e->node, id);
	assert_string_equal(e->name, "a.txt");
	assert_string_equal(e->user, f->alice);
	assert_string_equal(e->actor, f->alice);
	assert_true(e->subject_null);
	assert_false(e->has_rev);
	assert_int_equal(e->meta_n, 1);
	assert_null(e->origin);

	/* public from the start: everyone may see it, so everyone hears
	 * (spec 3's "only the owner" is its module's filter) */
	reset(f);
	mk(f, f->alice, "p.txt", pub, CB_ROLE_READER);
	expect(f, 1, 1, 1, 1);

	/* created by the server for bob */
	reset(f);
	cb_node n;
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "by-server");
	snprintf(n.owner, sizeof(n.owner), "%s", f->bob);
	assert_int_equal(store_node_create(f->st, NULL, &n, 0), CB_OK);
	node_clear(&n);
	expect(f, 0, 1, 0, 0);
	assert_true(last(&f->rb)->actor_null);
	assert_false(last(&f->rb)->has_meta);
}

static void test_update_owner_and_grantees(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_WRITER);
	reset(f);

	assert_int_equal(rename_as(f, f->alice, id, "b.txt"), CB_OK);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_UPDATED);
	assert_string_equal(e->user, f->bob);
	assert_string_equal(e->name, "b.txt");
	assert_string_equal(e->actor, f->alice);
	/* the update left meta alone; the event still carries it */
	assert_int_equal(e->meta_n, 1);

	/* a writer's change reaches the owner too */
	reset(f);
	assert_int_equal(rename_as(f, f->bob, id, "c.txt"), CB_OK);
	expect(f, 1, 1, 0, 0);
	assert_string_equal(last(&f->ra)->actor, f->bob);
	assert_string_equal(last(&f->ra)->name, "c.txt");
}

static void test_trash_recover(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	reset(f);

	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	expect(f, 1, 1, 0, 0);
	assert_int_equal(last(&f->rb)->op, CB_EV_DELETED);
	assert_true(last(&f->rb)->trashed != 0);

	/* in the trash the node is alice's alone */
	reset(f);
	assert_int_equal(rename_as(f, f->alice, id, "t.txt"), CB_OK);
	expect(f, 1, 0, 0, 0);
	assert_int_equal(last(&f->ra)->op, CB_EV_UPDATED);

	/* back from the trash, with the grants it kept */
	reset(f);
	cb_node out;
	node_init(&out);
	assert_int_equal(store_node_recover(f->st, f->alice, id, &out), CB_OK);
	node_clear(&out);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_RECOVERED);
	assert_int_equal(e->trashed, 0);
	assert_string_equal(e->name, "t.txt");
}

static void test_content_with_revision(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_WRITER);
	reset(f);

	/* first content: a revision that kept none */
	set_content(f, f->alice, id, b1);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_CONTENT);
	assert_string_equal(e->blob, b1);
	assert_int_equal(e->size, 7);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, "");
	assert_int_equal(e->rev_size, 0);
	assert_string_equal(e->rev_md5, "");
	assert_string_equal(e->rev_user, f->alice);
	assert_false(e->rev_patch);
	/* not a content patch: no patch, no revert */
	assert_true(e->patch_null);
	assert_true(e->revert_null);

	/* replaced by bob: the revision keeps b1 */
	reset(f);
	cJSON *patch = cJSON_Parse("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]");
	set_content(f, f->bob, id, b2, patch);
	cJSON_Delete(patch);
	expect(f, 1, 1, 0, 0);
	e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_CONTENT);
	assert_string_equal(e->blob, b2);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, b1);
	assert_int_equal(e->rev_size, 7);
	assert_string_equal(e->rev_md5, "0123456789abcdef0123456789abcdef");
	assert_string_equal(e->rev_user, f->bob);
	assert_true(e->rev_patch);
	assert_string_equal(e->actor, f->bob);
	/* the patch given goes along; no revert was */
	assert_false(e->patch_null);
	assert_true(json_is(e->patch, "[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]"));
	assert_true(e->revert_null);

	/* removed: the node has none, the revision keeps b2 */
	reset(f);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, "", 0, "", NULL, NULL), CB_OK);
	expect(f, 1, 1, 0, 0);
	e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_CONTENT);
	assert_string_equal(e->blob, "");
	assert_int_equal(e->size, 0);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, b2);
	assert_int_equal(e->rev_size, 7);
	assert_true(e->patch_null);
	/* nothing left to remove: refused, unannounced */
	reset(f);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, "", 0, "", NULL, NULL),
			 CB_ERR_STATE);
	expect(f, 0, 0, 0, 0);
}

static void test_content_revisions_keep_zero(void **state)
{
	fx *f = (fx *)*state;
	store_close(f->st);
	f->cfg.revisions_keep = 0;
	assert_int_equal(store_open(&f->cfg, &f->st), CB_OK);
	subscribe_all(f);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	set_content(f, f->alice, id, b1);
	reset(f);
	set_content(f, f->alice, id, b2);
	expect(f, 1, 0, 0, 0);
	/* none is kept, yet the change is announced with its revision */
	const rec_ev *e = last(&f->ra);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, ""); /* cb_revision.blob: "" when not kept */
	assert_int_equal(e->rev_size, 7);
	assert_string_equal(e->rev_md5, "0123456789abcdef0123456789abcdef");
	assert_string_equal(e->rev_user, f->alice);
	int n = 0;
	assert_int_equal(store_list_revisions(f->st, f->alice, id,
					      [](const cb_revision *, void *c) {
						      (*(int *)c)++;
						      return 0;
					      },
					      &n),
			 CB_OK);
	assert_int_equal(n, 0);
}

static void test_public_node_reaches_everyone(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	rec anon;
	rec_init(&anon, ""); /* an anonymous client */
	events_subscribe(f->st, &anon.sub);
	mk(f, f->alice, "a.txt", id);
	reset(f);

	grant(f, id, CB_ANYONE, CB_ROLE_READER);
	expect(f, 1, 1, 1, 1);
	assert_int_equal(anon.n, 1);
	const rec_ev *e = last(&f->rc);
	assert_int_equal(e->op, CB_EV_ACCESS_GRANTED);
	assert_string_equal(e->subject, CB_ANYONE);
	assert_int_equal(e->role, CB_ROLE_READER);
	assert_int_equal(e->anyone, CB_ROLE_READER);

	reset(f);
	anon.n = 0;
	assert_int_equal(rename_as(f, f->alice, id, "b.txt"), CB_OK);
	expect(f, 1, 1, 1, 1);
	assert_int_equal(anon.n, 1);
	assert_int_equal(last(&f->rc)->op, CB_EV_UPDATED);

	/* made private: everyone just lost it, so everyone hears */
	reset(f);
	anon.n = 0;
	grant(f, id, CB_ANYONE, CB_ROLE_NONE);
	expect(f, 1, 1, 1, 1);
	assert_int_equal(anon.n, 1);
	e = last(&f->rc);
	assert_int_equal(e->op, CB_EV_ACCESS_REMOVED);
	assert_string_equal(e->subject, CB_ANYONE);
	assert_int_equal(e->anyone, CB_ROLE_NONE);

	/* and from now on, strangers hear nothing */
	reset(f);
	anon.n = 0;
	assert_int_equal(rename_as(f, f->alice, id, "c.txt"), CB_OK);
	expect(f, 1, 0, 0, 0);
	assert_int_equal(anon.n, 0);

	/* public through store_node_update: the updated node is public */
	reset(f);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, NULL, id, &n, 0), CB_OK);
	n.anyone = CB_ROLE_READER;
	assert_int_equal(store_node_update(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);
	expect(f, 1, 1, 1, 1);
	assert_int_equal(last(&f->rc)->op, CB_EV_UPDATED);
	events_unsubscribe(f->st, &anon.sub);
}

static void test_grant_reaches_new_user(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->dave, CB_ROLE_READER);
	expect(f, 2, 0, 0, 1); /* created, then dave's grant */
	reset(f);

	grant(f, id, f->bob, CB_ROLE_READER);
	expect(f, 1, 1, 0, 1); /* owner, the new user, who had access */
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_ACCESS_GRANTED);
	assert_string_equal(e->subject, f->bob);
	assert_int_equal(e->role, CB_ROLE_READER);
	assert_string_equal(e->actor, f->alice);
	assert_string_equal(e->user, f->bob);

	/* a changed role is granted again */
	reset(f);
	grant(f, id, f->bob, CB_ROLE_WRITER);
	expect(f, 1, 1, 0, 1);
	assert_int_equal(last(&f->rd)->role, CB_ROLE_WRITER);

	/* the same role again changes nothing: no event */
	reset(f);
	grant(f, id, f->bob, CB_ROLE_WRITER);
	expect(f, 0, 0, 0, 0);
}

static void test_remove_reaches_removed_user(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	grant(f, id, f->dave, CB_ROLE_READER);
	reset(f);

	grant(f, id, f->bob, CB_ROLE_NONE);
	expect(f, 1, 1, 0, 1);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_ACCESS_REMOVED);
	assert_string_equal(e->subject, f->bob);
	assert_int_equal(e->role, CB_ROLE_NONE);

	/* gone for good: bob hears no more */
	reset(f);
	assert_int_equal(rename_as(f, f->alice, id, "b.txt"), CB_OK);
	expect(f, 1, 0, 0, 1);

	/* removing a grant carol never had tells her nothing */
	reset(f);
	grant(f, id, f->carol, CB_ROLE_NONE);
	expect(f, 0, 0, 0, 0);
}

static void test_purge(void **state)
{
	fx *f = (fx *)*state;
	char live[CB_ID_LEN + 1], trashed[CB_ID_LEN + 1];
	mk(f, f->alice, "live", live);
	mk(f, f->alice, "trashed", trashed);
	grant(f, live, f->bob, CB_ROLE_READER);
	grant(f, trashed, f->bob, CB_ROLE_READER);
	assert_int_equal(store_node_trash(f->st, f->alice, trashed), CB_OK);
	reset(f);

	/* from the trash: only the owner could see it */
	assert_int_equal(store_node_purge(f->st, f->alice, trashed), CB_OK);
	expect(f, 1, 0, 0, 0);
	assert_int_equal(last(&f->ra)->op, CB_EV_PURGED);
	assert_string_equal(last(&f->ra)->node, trashed);

	/* live: DELETED to all who could read it, grants as they were */
	reset(f);
	assert_int_equal(store_node_purge(f->st, f->alice, live), CB_OK);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_DELETED);
	assert_string_equal(e->node, live);
	assert_string_equal(e->name, "live");
	assert_int_equal(e->meta_n, 1);
	assert_int_equal(e->trashed, 0);
}

static void test_user_deletion(void **state)
{
	fx *f = (fx *)*state;
	char live[CB_ID_LEN + 1], trashed[CB_ID_LEN + 1];
	mk(f, f->alice, "live", live);
	mk(f, f->alice, "trashed", trashed);
	grant(f, live, f->bob, CB_ROLE_READER);
	assert_int_equal(store_node_trash(f->st, f->alice, trashed), CB_OK);
	reset(f);

	/* one event per node, by the server */
	assert_int_equal(auth_user_delete(f->st, "alice"), CB_OK);
	expect(f, 2, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_DELETED);
	assert_string_equal(e->node, live);
	assert_true(e->actor_null);
	int purged = 0, deleted = 0;
	for (int i = 0; i < f->ra.n; i++) {
		purged += f->ra.ev[i].op == CB_EV_PURGED && !strcmp(f->ra.ev[i].node, trashed);
		deleted += f->ra.ev[i].op == CB_EV_DELETED && !strcmp(f->ra.ev[i].node, live);
	}
	assert_int_equal(purged, 1);
	assert_int_equal(deleted, 1);
}

/* A deleted user's grants on others' nodes go with an ACCESS_REMOVED
 * each, so the owner and other grantees hear of it. */
static void test_user_deletion_removes_grants(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "shared", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	grant(f, id, f->dave, CB_ROLE_READER);
	reset(f);

	assert_int_equal(auth_user_delete(f->st, "bob"), CB_OK);
	expect(f, 1, 1, 0, 1);
	const rec_ev *e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_ACCESS_REMOVED);
	assert_string_equal(e->node, id);
	assert_string_equal(e->subject, f->bob);
	assert_true(e->actor_null);

	/* a grant on a trashed node goes too, announced to its owner alone */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	reset(f);
	assert_int_equal(auth_user_delete(f->st, "dave"), CB_OK);
	expect(f, 1, 0, 0, 0);
	assert_int_equal(last(&f->ra)->op, CB_EV_ACCESS_REMOVED);
	assert_string_equal(last(&f->ra)->subject, f->dave);
}

/* Whether a change succeeds does not depend on who listens: a node whose
 * meta cannot be read for the event is still updated, trashed, purged. */
static void test_unreadable_meta_does_not_block(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "m.txt", id);
	{
		store_txn txn;
		assert_int_equal(txn.begin(f->st, true), CB_OK);
		MDB_val k = {strlen(id), id}, v = {5, (void *)"{oops"};
		assert_int_equal(mdb_put(txn.t, f->st->meta, &k, &v, 0), 0);
		assert_int_equal(txn.commit(), CB_OK);
	}
	reset(f);
	assert_int_equal(rename_as(f, f->alice, id, "n.txt"), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);
	expect(f, 0, 0, 0, 0);
}

/* ---- filters, origin, the server ---- */

static void test_node_filter(void **state)
{
	fx *f = (fx *)*state;
	char one[CB_ID_LEN + 1], two[CB_ID_LEN + 1];
	mk(f, f->alice, "one", one);
	mk(f, f->alice, "two", two);
	rec only;
	rec_init(&only, f->alice, one);
	events_subscribe(f->st, &only.sub);

	assert_int_equal(rename_as(f, f->alice, two, "two-b"), CB_OK);
	assert_int_equal(only.n, 0);
	assert_int_equal(rename_as(f, f->alice, one, "one-b"), CB_OK);
	assert_int_equal(only.n, 1);
	assert_string_equal(last(&only)->node, one);
	assert_int_equal(store_node_trash(f->st, f->alice, two), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, one), CB_OK);
	assert_int_equal(only.n, 2);
	assert_int_equal(last(&only)->op, CB_EV_DELETED);

	/* the node filter does not widen the audience */
	rec stranger;
	rec_init(&stranger, f->carol, one);
	events_subscribe(f->st, &stranger.sub);
	assert_int_equal(store_node_recover(f->st, f->alice, one, NULL), CB_OK);
	assert_int_equal(stranger.n, 0);
	assert_int_equal(only.n, 3);
	events_unsubscribe(f->st, &only.sub);
	events_unsubscribe(f->st, &stranger.sub);
}

static void test_op_mask(void **state)
{
	fx *f = (fx *)*state;
	rec masked;
	rec_init(&masked, f->alice, NULL, CB_EV_BIT(CB_EV_DELETED) | CB_EV_BIT(CB_EV_PURGED));
	events_subscribe(f->st, &masked.sub);
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a", id);
	assert_int_equal(rename_as(f, f->alice, id, "b"), CB_OK);
	assert_int_equal(masked.n, 0);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);
	assert_int_equal(masked.n, 3);
	assert_int_equal(masked.ev[0].op, CB_EV_DELETED);
	assert_int_equal(masked.ev[1].op, CB_EV_DELETED);
	assert_int_equal(masked.ev[2].op, CB_EV_PURGED);
	assert_int_equal(f->ra.n, 6); /* the unmasked one got them all */
	events_unsubscribe(f->st, &masked.sub);
	assert_string_equal(event_op_name(CB_EV_CREATED), "created");
	assert_string_equal(event_op_name(CB_EV_ACCESS_REMOVED), "access-removed");
}

static void test_wanted(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a", id);
	assert_true(events_wanted(f->st, CB_EV_UPDATED, id));
	events_unsubscribe(f->st, &f->ra.sub);
	events_unsubscribe(f->st, &f->rb.sub);
	events_unsubscribe(f->st, &f->rc.sub);
	events_unsubscribe(f->st, &f->rd.sub);
	assert_false(events_wanted(f->st, CB_EV_UPDATED, id));
	assert_null(f->st->subs);

	/* nobody listening: mutations run as ever */
	assert_int_equal(rename_as(f, f->alice, id, "b"), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);

	rec masked;
	rec_init(&masked, f->alice, id, CB_EV_BIT(CB_EV_PURGED));
	events_subscribe(f->st, &masked.sub);
	assert_true(events_wanted(f->st, CB_EV_PURGED, id));
	assert_false(events_wanted(f->st, CB_EV_UPDATED, id));
	assert_false(events_wanted(f->st, CB_EV_PURGED, "other"));
	events_unsubscribe(f->st, &masked.sub);
	expect(f, 1, 0, 0, 0);
}

static void test_origin(void **state)
{
	fx *f = (fx *)*state;
	int conn1 = 1, conn2 = 2;
	char id[CB_ID_LEN + 1];
	events_set_origin(f->st, &conn1);
	mk(f, f->alice, "a", id);
	assert_ptr_equal(last(&f->ra)->origin, &conn1);
	events_set_origin(f->st, &conn2);
	grant(f, id, f->bob, CB_ROLE_READER);
	assert_ptr_equal(last(&f->ra)->origin, &conn2);
	assert_ptr_equal(last(&f->rb)->origin, &conn2);
	events_set_origin(f->st, NULL);
	assert_int_equal(rename_as(f, f->alice, id, "b"), CB_OK);
	assert_null(last(&f->rb)->origin);
}

static void test_server_subscriber(void **state)
{
	fx *f = (fx *)*state;
	rec server;
	rec_init(&server, NULL);
	events_subscribe(f->st, &server.sub);
	char a[CB_ID_LEN + 1], c[CB_ID_LEN + 1];
	mk(f, f->alice, "a", a);
	mk(f, f->carol, "c", c);
	assert_int_equal(server.n, 2);
	assert_string_equal(server.ev[0].user, "(server)");
	assert_string_equal(server.ev[1].node, c);
	events_unsubscribe(f->st, &server.sub);
}

/* ---- failure publishes nothing ---- */

static void test_failed_mutations_publish_nothing(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], other[CB_ID_LEN + 1], blob[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	mk(f, f->alice, "b.txt", other);
	grant(f, id, f->bob, CB_ROLE_READER);
	reset(f);

	cb_node n;
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "a.txt");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_ERR_EXISTS);
	node_clear(&n);
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "..");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_ERR_INVAL);
	node_clear(&n);
	assert_int_equal(rename_as(f, f->carol, id, "x"), CB_ERR_NOTFOUND);
	assert_int_equal(rename_as(f, f->bob, id, "x"), CB_ERR_ACCESS);
	assert_int_equal(rename_as(f, f->alice, id, "b.txt"), CB_ERR_EXISTS);
	assert_int_equal(store_node_trash(f->st, f->bob, id), CB_ERR_ACCESS);
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_ERR_STATE);
	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_ACCESS);
	assert_int_equal(store_node_purge(f->st, f->carol, id), CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_WRITER), CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->carol, id, f->carol, CB_ROLE_READER),
			 CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->alice, id, f->alice, CB_ROLE_READER), CB_ERR_INVAL);
	assert_int_equal(store_grant(f->st, f->alice, id, "no-such-user", CB_ROLE_READER),
			 CB_ERR_NOTFOUND);
	put_blob(f, blob);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, blob, 7,
						"0123456789abcdef0123456789abcdef", NULL, NULL),
			 CB_ERR_ACCESS);
	assert_int_equal(store_node_set_content(f->st, f->alice, id, "not-a-uuid", 7,
						"0123456789abcdef0123456789abcdef", NULL, NULL),
			 CB_ERR_EXISTS);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	reset(f);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_ERR_STATE);
	expect(f, 0, 0, 0, 0);

	/* an upload that fails its checksum commits and announces nothing */
	cb_node t;
	cb_upload *up;
	node_init(&t);
	snprintf(t.name, sizeof(t.name), "up.bin");
	assert_int_equal(blob_begin(f->st, f->alice, &t, CB_UPLOAD_CREATE, 3, 0, &up), CB_OK);
	node_clear(&t);
	assert_int_equal(blob_write(up, 0, "abc", 3), CB_OK);
	assert_int_equal(blob_complete(up, "00000000000000000000000000000000", NULL),
			 CB_ERR_CHECKSUM);
	blob_abort(up);
	expect(f, 0, 0, 0, 0);
}

/* ---- subscribers coming and going during delivery ---- */

struct churn {
	cb_store *st;
	rec *self_and[2]; /* unsubscribed by the hook: itself, and another */
};

static void hook_unsubscribe(rec *r, const cb_event *)
{
	churn *c = (churn *)r->hook_ctx;
	for (rec *x : c->self_and)
		if (x)
			events_unsubscribe(c->st, &x->sub);
}

static void test_unsubscribe_in_callback(void **state)
{
	fx *f = (fx *)*state;
	/* newest first: delivered to a, then b, then c */
	rec a, b, c;
	rec_init(&c, f->alice);
	rec_init(&b, f->alice);
	rec_init(&a, f->alice);
	events_subscribe(f->st, &c.sub);
	events_subscribe(f->st, &b.sub);
	events_subscribe(f->st, &a.sub);
	events_subscribe(f->st, &a.sub); /* twice: still once on the list */
	churn ch = {f->st, {&a, &b}};
	a.hook = hook_unsubscribe;
	a.hook_ctx = &ch;

	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "x", id);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 0); /* removed before its turn */
	assert_int_equal(c.n, 1);
	assert_int_equal(f->ra.n, 1);

	assert_int_equal(rename_as(f, f->alice, id, "y"), CB_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 0);
	assert_int_equal(c.n, 2);

	/* unsubscribing what is not on the list does nothing */
	rec never;
	memset(&never, 0, sizeof(never));
	events_unsubscribe(f->st, &never.sub);
	events_unsubscribe(f->st, &a.sub);
	events_unsubscribe(f->st, &c.sub);
	events_unsubscribe(f->st, &c.sub);
	assert_int_equal(rename_as(f, f->alice, id, "z"), CB_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(f->ra.n, 3);
}

/* A subscriber that unsubscribes and frees itself in its callback. */
static void hook_free_self(rec *r, const cb_event *)
{
	churn *c = (churn *)r->hook_ctx;
	events_unsubscribe(c->st, &r->sub);
	free(r);
}

static void test_free_self_in_callback(void **state)
{
	fx *f = (fx *)*state;
	churn ch = {f->st, {NULL, NULL}};
	rec *r = (rec *)malloc(sizeof(rec));
	assert_non_null(r);
	rec_init(r, f->alice);
	r->hook = hook_free_self;
	r->hook_ctx = &ch;
	events_subscribe(f->st, &r->sub);
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "x", id);
	assert_int_equal(rename_as(f, f->alice, id, "y"), CB_OK);
	assert_int_equal(f->ra.n, 2);
}

/* A callback that makes a mutation: its event is delivered inside the
 * first one, and a subscriber removed in there is skipped by both. */
struct nest {
	cb_store *st;
	const char *actor;
	const char *id;
	rec *victim;
	int depth;
};

static void hook_mutate(rec *r, const cb_event *ev)
{
	nest *n = (nest *)r->hook_ctx;
	if (ev->op != CB_EV_CREATED)
		return;
	cb_node node;
	node_init(&node);
	assert_int_equal(store_node_get(n->st, NULL, ev->node->id, &node, 0), CB_OK);
	snprintf(node.name, sizeof(node.name), "renamed");
	n->depth++;
	assert_int_equal(store_node_update(n->st, n->actor, &node, 0), CB_OK);
	n->depth--;
	node_clear(&node);
}

static void hook_remove_victim(rec *r, const cb_event *ev)
{
	nest *n = (nest *)r->hook_ctx;
	if (ev->op == CB_EV_UPDATED && n->depth == 1)
		events_unsubscribe(n->st, &n->victim->sub);
}

static void test_nested_publish(void **state)
{
	fx *f = (fx *)*state;
	events_unsubscribe(f->st, &f->ra.sub);
	/* delivery order: mut, victim, remover, then alice's recorder */
	rec mut, victim, remover;
	nest n = {f->st, f->alice, NULL, &victim, 0};
	rec_init(&remover, f->alice);
	rec_init(&victim, f->alice);
	rec_init(&mut, f->alice);
	events_subscribe(f->st, &f->ra.sub);
	events_subscribe(f->st, &remover.sub);
	events_subscribe(f->st, &victim.sub);
	events_subscribe(f->st, &mut.sub);
	mut.hook = hook_mutate;
	mut.hook_ctx = &n;
	remover.hook = hook_remove_victim;
	remover.hook_ctx = &n;

	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "x", id);
	/* mut: CREATED, then the UPDATED it caused */
	assert_int_equal(mut.n, 2);
	assert_int_equal(mut.ev[0].op, CB_EV_CREATED);
	assert_int_equal(mut.ev[1].op, CB_EV_UPDATED);
	/* victim: UPDATED (before the remover ran), never the outer CREATED */
	assert_int_equal(victim.n, 1);
	assert_int_equal(victim.ev[0].op, CB_EV_UPDATED);
	/* the others: the inner UPDATED first, then the outer CREATED */
	assert_int_equal(remover.n, 2);
	assert_int_equal(remover.ev[0].op, CB_EV_UPDATED);
	assert_int_equal(remover.ev[1].op, CB_EV_CREATED);
	assert_int_equal(f->ra.n, 2);
	assert_null(f->st->walks);
	events_unsubscribe(f->st, &mut.sub);
	events_unsubscribe(f->st, &remover.sub);
}

/* ---- uploads ---- */

static void test_upload_create_and_replace(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	upload(f, f->alice, CB_UPLOAD_CREATE, NULL, "up.txt", "first", &n);
	expect(f, 1, 0, 0, 0);
	const rec_ev *e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_CREATED);
	assert_string_equal(e->node, n.id);
	assert_string_equal(e->blob, n.blob);
	assert_int_equal(e->size, 5);
	assert_string_equal(e->actor, f->alice);
	char id[CB_ID_LEN + 1], first_blob[CB_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", n.id);
	snprintf(first_blob, sizeof(first_blob), "%s", n.blob);
	node_clear(&n);

	grant(f, id, f->bob, CB_ROLE_WRITER);
	reset(f);
	upload(f, f->bob, CB_UPLOAD_REPLACE, id, NULL, "second!", &n);
	expect(f, 1, 1, 0, 0);
	e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_CONTENT);
	assert_string_equal(e->node, id);
	assert_string_equal(e->blob, n.blob);
	assert_int_equal(e->size, 7);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, first_blob);
	assert_string_equal(e->rev_user, f->bob);
	assert_string_equal(e->actor, f->bob);
	assert_true(e->patch_null);
	assert_true(e->revert_null);
	node_clear(&n);

	/* PUT: content of the live node of that name, else a new node */
	reset(f);
	upload(f, f->alice, CB_UPLOAD_PUT, NULL, "up.txt", "third", &n);
	assert_string_equal(n.id, id);
	node_clear(&n);
	expect(f, 1, 1, 0, 0);
	assert_int_equal(last(&f->rb)->op, CB_EV_CONTENT);
	reset(f);
	upload(f, f->alice, CB_UPLOAD_PUT, NULL, "new.txt", "fourth", &n);
	expect(f, 1, 0, 0, 0);
	assert_int_equal(last(&f->ra)->op, CB_EV_CREATED);
	assert_string_equal(last(&f->ra)->node, n.id);
	node_clear(&n);
}

/* ---- live streams ---- */

/* Relays `text` on node id as actor. */
static void stream(fx *f, const char *actor, const char *id, const char *text)
{
	events_stream(f->st, actor, id, text, strlen(text));
}

/* r got one STREAM event with exactly these bytes, from actor, on id. */
static void assert_streamed(const rec *r, const char *id, const char *actor, const char *text)
{
	assert_int_equal(r->n, 1);
	const rec_ev *e = last(r);
	assert_int_equal(e->op, CB_EV_STREAM);
	assert_string_equal(e->node, id);
	assert_string_equal(e->actor, actor);
	assert_ptr_equal(e->data, text);
	assert_int_equal(e->len, strlen(text));
	assert_memory_equal(e->bytes, text, strlen(text));
	assert_true(e->subject_null);
	assert_false(e->has_rev);
}

/* STREAM is not a change: a subscriber of every change (ops 0) never
 * gets it; one asking by its bit does, if it may read the node (the
 * audience of CONTENT). */
static void test_stream_audience(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], other[CB_ID_LEN + 1];
	mk(f, f->alice, "live", id);
	mk(f, f->alice, "other", other);
	grant(f, id, f->bob, CB_ROLE_READER);
	grant(f, id, f->dave, CB_ROLE_WRITER);
	reset(f);

	const unsigned bit = CB_EV_BIT(CB_EV_STREAM);
	rec sa, sb, sc, sd, anon, filtered, elsewhere;
	rec_init(&sa, f->alice, NULL, bit);
	rec_init(&sb, f->bob, NULL, bit);
	rec_init(&sc, f->carol, NULL, bit);
	rec_init(&sd, f->dave, id, bit);
	rec_init(&anon, "", NULL, bit);
	rec_init(&filtered, f->alice, other, bit);
	rec_init(&elsewhere, f->alice, NULL, CB_EV_BIT(CB_EV_CONTENT));
	rec *all[] = {&sa, &sb, &sc, &sd, &anon, &filtered, &elsewhere};
	for (rec *r : all)
		events_subscribe(f->st, &r->sub);

	const char *text = "frame-1 \x01 bytes";
	stream(f, f->dave, id, text);
	expect(f, 0, 0, 0, 0); /* every-change subscribers: nothing */
	assert_streamed(&sa, id, f->dave, text);
	assert_streamed(&sb, id, f->dave, text); /* a reader */
	assert_streamed(&sd, id, f->dave, text); /* filtered to this node */
	assert_int_equal(sc.n, 0);               /* a stranger */
	assert_int_equal(anon.n, 0);             /* private: not anonymous */
	assert_int_equal(filtered.n, 0);         /* filtered to another node */
	assert_int_equal(elsewhere.n, 0);        /* asks for other ops */

	/* binary bytes, NULs included, and a length shorter than the buffer */
	static const char bin[] = {'\0', 'a', '\xff', '\0', 'b', 'c'};
	sa.n = 0;
	events_stream(f->st, f->alice, id, bin, 4);
	assert_int_equal(sa.n, 1);
	assert_ptr_equal(sa.ev[0].data, bin);
	assert_int_equal(sa.ev[0].len, 4);
	assert_memory_equal(sa.ev[0].bytes, bin, 4);
	assert_string_equal(sa.ev[0].actor, f->alice);

	/* public: everyone, anonymous clients included */
	grant(f, id, CB_ANYONE, CB_ROLE_READER);
	reset(f);
	for (rec *r : all)
		r->n = 0;
	stream(f, f->alice, id, "public");
	expect(f, 0, 0, 0, 0);
	assert_streamed(&sa, id, f->alice, "public");
	assert_streamed(&sb, id, f->alice, "public");
	assert_streamed(&sc, id, f->alice, "public");
	assert_streamed(&sd, id, f->alice, "public");
	assert_streamed(&anon, id, f->alice, "public");
	assert_int_equal(filtered.n, 0);
	assert_int_equal(elsewhere.n, 0);

	/* a stream on the other node reaches only who may read that one */
	for (rec *r : all)
		r->n = 0;
	stream(f, f->alice, other, "other");
	assert_streamed(&sa, other, f->alice, "other");
	assert_streamed(&filtered, other, f->alice, "other");
	assert_int_equal(sb.n + sc.n + sd.n + anon.n + elsewhere.n, 0);

	/* in the trash a node is its owner's alone */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	for (rec *r : all)
		r->n = 0;
	stream(f, f->alice, id, "trashed");
	assert_streamed(&sa, id, f->alice, "trashed");
	assert_int_equal(sb.n + sc.n + sd.n + anon.n + filtered.n + elsewhere.n, 0);

	/* the bit asks for STREAM only: no changes come with it */
	for (rec *r : all)
		r->n = 0;
	reset(f);
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_OK);
	assert_int_equal(rename_as(f, f->alice, id, "renamed"), CB_OK);
	assert_int_equal(sa.n + sb.n + sc.n + sd.n + anon.n + filtered.n, 0);
	assert_int_equal(f->ra.n, 2);
	/* ... and changes carry no bytes */
	assert_null(last(&f->ra)->data);
	assert_int_equal(last(&f->ra)->len, 0);
	for (rec *r : all)
		events_unsubscribe(f->st, &r->sub);
}

/* A subscriber that asks for STREAM with other ops gets both; the server
 * (user NULL) gets it by its bit like anyone. */
static void test_stream_with_other_ops(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "live", id);
	rec both, server, server_all;
	rec_init(&both, f->alice, NULL, CB_EV_BIT(CB_EV_STREAM) | CB_EV_BIT(CB_EV_UPDATED));
	rec_init(&server, NULL, NULL, CB_EV_BIT(CB_EV_STREAM));
	rec_init(&server_all, NULL);
	events_subscribe(f->st, &both.sub);
	events_subscribe(f->st, &server.sub);
	events_subscribe(f->st, &server_all.sub);
	assert_true(events_wanted(f->st, CB_EV_STREAM, id));
	assert_int_equal(rename_as(f, f->alice, id, "b"), CB_OK);
	stream(f, f->bob, id, "x");
	assert_int_equal(both.n, 2);
	assert_int_equal(both.ev[0].op, CB_EV_UPDATED);
	assert_int_equal(both.ev[1].op, CB_EV_STREAM);
	assert_string_equal(both.ev[1].actor, f->bob);
	assert_streamed(&server, id, f->bob, "x");
	assert_int_equal(server_all.n, 1); /* the rename, not the stream */
	assert_int_equal(server_all.ev[0].op, CB_EV_UPDATED);
	assert_string_equal(event_op_name(CB_EV_STREAM), "stream");
	events_unsubscribe(f->st, &both.sub);
	events_unsubscribe(f->st, &server.sub);
	events_unsubscribe(f->st, &server_all.sub);
}

/* Nobody listening, or a node that is not there: nothing happens. */
static void test_stream_nobody(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "live", id);
	/* only every-change subscribers: STREAM is not wanted */
	assert_false(events_wanted(f->st, CB_EV_STREAM, id));
	stream(f, f->alice, id, "unheard");
	expect(f, 1, 0, 0, 0); /* just the creation */
	events_unsubscribe(f->st, &f->ra.sub);
	events_unsubscribe(f->st, &f->rb.sub);
	events_unsubscribe(f->st, &f->rc.sub);
	events_unsubscribe(f->st, &f->rd.sub);
	assert_null(f->st->subs);
	stream(f, f->alice, id, "nobody");
	events_stream(f->st, f->alice, id, NULL, 0);

	rec sa;
	rec_init(&sa, f->alice, NULL, CB_EV_BIT(CB_EV_STREAM));
	events_subscribe(f->st, &sa.sub);
	assert_true(events_wanted(f->st, CB_EV_STREAM, id));
	char missing[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(missing), 0);
	stream(f, f->alice, missing, "to nowhere");
	assert_int_equal(sa.n, 0);
	/* an empty relay is still one */
	events_stream(f->st, NULL, id, "", 0);
	assert_int_equal(sa.n, 1);
	assert_int_equal(sa.ev[0].len, 0);
	assert_true(sa.ev[0].actor_null);
	events_unsubscribe(f->st, &sa.sub);
	expect(f, 1, 0, 0, 0);
}

/* ---- the patches events carry (spec 3) ---- */

/* node_json() of id now, as the server sees it with everything loaded. */
static cJSON *json_now(fx *f, const char *id)
{
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, NULL, id, &n, CB_NODE_META | CB_NODE_GRANTS), CB_OK);
	cJSON *j = node_json(&n);
	node_clear(&n);
	assert_non_null(j);
	return j;
}

/* The event's patch turns `before` into the node it shows, and its
 * revert turns that back into `before`, all but `modified`: like a
 * client's patch, an event's leaves out the time of the change. */
static void assert_patch_pair(const rec_ev *e, const cJSON *before_in)
{
	char err[256];
	assert_false(e->patch_null);
	assert_false(e->revert_null);
	cJSON *patch = cJSON_Parse(e->patch), *revert = cJSON_Parse(e->revert);
	cJSON *after = cJSON_Parse(e->json), *before = cJSON_Duplicate(before_in, 1);
	assert_non_null(patch);
	assert_non_null(revert);
	assert_non_null(after);
	assert_non_null(before);
	cJSON_DeleteItemFromObjectCaseSensitive(after, "modified");
	cJSON_DeleteItemFromObjectCaseSensitive(before, "modified");
	char *after_text = cJSON_PrintUnformatted(after);
	char *before_text = cJSON_PrintUnformatted(before);
	cJSON *doc = cJSON_Duplicate(before, 1);
	assert_int_equal(jsonpatch_apply(&doc, patch, NULL, err, sizeof(err)), CB_OK);
	assert_true(t_json_is(doc, after_text));
	cJSON_Delete(doc);
	doc = cJSON_Duplicate(after, 1);
	assert_int_equal(jsonpatch_apply(&doc, revert, NULL, err, sizeof(err)), CB_OK);
	assert_true(t_json_is(doc, before_text));
	cJSON_Delete(doc);
	cJSON_free(after_text);
	cJSON_free(before_text);
	cJSON_Delete(patch);
	cJSON_Delete(revert);
	cJSON_Delete(after);
	cJSON_Delete(before);
}

/* The op (and value, when not NULL: JSON text) at path in patch text;
 * how many there are. */
static int count_op(const char *patch_text, const char *op, const char *path,
		    const char *value = NULL)
{
	cJSON *p = cJSON_Parse(patch_text), *o, *want = value ? cJSON_Parse(value) : NULL;
	assert_non_null(p);
	int n = 0;
	cJSON_ArrayForEach(o, p) {
		const cJSON *jo = cJSON_GetObjectItemCaseSensitive(o, "op");
		const cJSON *jp = cJSON_GetObjectItemCaseSensitive(o, "path");
		const cJSON *jv = cJSON_GetObjectItemCaseSensitive(o, "value");
		n += cJSON_IsString(jo) && !strcmp(jo->valuestring, op) && cJSON_IsString(jp) &&
		     !strcmp(jp->valuestring, path) && (!want || cJSON_Compare(jv, want, 1));
	}
	cJSON_Delete(p);
	cJSON_Delete(want);
	return n;
}

/* No operation of the patch text is on a path outside `paths`. */
static void assert_paths_within(const char *patch_text, const char *const *paths, size_t np)
{
	cJSON *p = cJSON_Parse(patch_text), *o;
	assert_non_null(p);
	cJSON_ArrayForEach(o, p) {
		const char *path = cJSON_GetObjectItemCaseSensitive(o, "path")->valuestring;
		bool ok = false;
		for (size_t i = 0; i < np; i++)
			ok = ok || !strcmp(path, paths[i]);
		if (!ok)
			print_error("unexpected path %s in %s\n", path, patch_text);
		assert_true(ok);
	}
	cJSON_Delete(p);
}

/* A metadata patch: the UPDATED event carries it as given, and the
 * revert store_node_patch answered. */
static void test_node_patch_event(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], err[256];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	reset(f);

	const char *text = "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b.txt\"},"
			   "{\"op\":\"replace\",\"path\":\"/meta/n\",\"value\":2},"
			   "{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"t\"}]";
	cJSON *patch = cJSON_Parse(text), *revert = NULL;
	assert_int_equal(store_node_patch(f->st, f->alice, id, patch, &revert, err, sizeof(err)),
			 CB_OK);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_UPDATED);
	assert_string_equal(e->actor, f->alice);
	assert_string_equal(e->name, "b.txt");
	assert_int_equal(e->meta_n, 2);
	assert_true(json_is(e->patch, text));
	char *rt = cJSON_PrintUnformatted(revert);
	assert_true(json_is(e->revert, rt));
	cJSON_free(rt);
	assert_string_equal(last(&f->ra)->patch, e->patch);
	assert_false(e->has_rev);

	/* the revert is a patch like any other, announced as given */
	reset(f);
	assert_int_equal(store_node_patch(f->st, f->bob, id, revert, NULL, err, sizeof(err)),
			 CB_ERR_ACCESS);
	expect(f, 0, 0, 0, 0);
	cJSON *revert2 = NULL;
	assert_int_equal(store_node_patch(f->st, f->alice, id, revert, &revert2, err, sizeof(err)),
			 CB_OK);
	expect(f, 1, 1, 0, 0);
	rt = cJSON_PrintUnformatted(revert);
	assert_true(json_is(last(&f->ra)->patch, rt));
	cJSON_free(rt);
	rt = cJSON_PrintUnformatted(revert2);
	assert_true(json_is(last(&f->ra)->revert, rt));
	cJSON_free(rt);
	assert_string_equal(last(&f->ra)->name, "a.txt");
	assert_int_equal(last(&f->ra)->meta_n, 1);
	cJSON_Delete(revert2);
	cJSON_Delete(revert);
	cJSON_Delete(patch);

	/* refused patches announce nothing */
	reset(f);
	static const char *const refused[] = {
		"[{\"op\":\"replace\",\"path\":\"/owner\",\"value\":\"x\"}]",
		"[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]",
		"[{\"op\":\"test\",\"path\":\"/name\",\"value\":\"no\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"a/b\"}]",
		"[{\"op\":\"remove\",\"path\":\"/nope\"}]",
		"{}",
	};
	for (const char *r : refused) {
		patch = cJSON_Parse(r);
		assert_int_not_equal(store_node_patch(f->st, f->alice, id, patch, NULL, err,
						      sizeof(err)),
				     CB_OK);
		cJSON_Delete(patch);
	}
	expect(f, 0, 0, 0, 0);
}

/* A change made otherwise (store_node_update, as spec 1 does): the event
 * carries the difference between the node's JSON before and after. */
static void test_update_event_diff(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	reset(f);
	static const char *const rename_paths[] = {"/name"};

	/* a rename: /name replaced (not /modified: see assert_patch_pair) */
	cJSON *before = json_now(f, id);
	assert_int_equal(rename_as(f, f->alice, id, "b.txt"), CB_OK);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_UPDATED);
	assert_int_equal(count_op(e->patch, "replace", "/name", "\"b.txt\""), 1);
	assert_int_equal(count_op(e->revert, "replace", "/name", "\"a.txt\""), 1);
	assert_paths_within(e->patch, rename_paths, 1);
	assert_paths_within(e->revert, rename_paths, 1);
	assert_patch_pair(e, before);
	assert_string_equal(last(&f->ra)->patch, e->patch);
	cJSON_Delete(before);

	/* meta: member by member, not replaced whole; tags: whole */
	reset(f);
	before = json_now(f, id);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, NULL, id, &n, 0), CB_OK);
	n.meta = cJSON_Parse("{\"n\":2,\"m\":[1]}");
	cJSON_AddItemToArray(n.tags, cJSON_CreateString("t"));
	assert_int_equal(store_node_update(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);
	expect(f, 1, 1, 0, 0);
	e = last(&f->ra);
	assert_int_equal(count_op(e->patch, "replace", "/meta/n", "2"), 1);
	assert_int_equal(count_op(e->patch, "add", "/meta/m", "[1]"), 1);
	assert_int_equal(count_op(e->revert, "remove", "/meta/m"), 1);
	assert_int_equal(count_op(e->patch, "replace", "/tags", "[\"t\"]"), 1);
	static const char *const meta_paths[] = {"/meta/n", "/meta/m", "/tags"};
	assert_paths_within(e->patch, meta_paths, 3);
	assert_patch_pair(e, before);
	cJSON_Delete(before);

	/* made public through an update: a permission appears */
	reset(f);
	before = json_now(f, id);
	node_init(&n);
	assert_int_equal(store_node_get(f->st, NULL, id, &n, 0), CB_OK);
	n.anyone = CB_ROLE_READER;
	assert_int_equal(store_node_update(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);
	expect(f, 1, 1, 1, 1);
	e = last(&f->rc);
	assert_int_equal(count_op(e->patch, "add", "/permissions/anyone", "\"reader\""), 1);
	assert_int_equal(count_op(e->revert, "remove", "/permissions/anyone"), 1);
	assert_patch_pair(e, before);
	cJSON_Delete(before);
}

/* Grants: ACCESS_* events carry the old role and the patch on
 * /permissions/<user>, and its revert. */
static void test_grant_event_patches(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], want[256], path[64];
	mk(f, f->alice, "a.txt", id);
	reset(f);
	snprintf(path, sizeof(path), "/permissions/%s", f->bob);

	cJSON *before = json_now(f, id);
	grant(f, id, f->bob, CB_ROLE_READER);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->ra);
	assert_int_equal(e->op, CB_EV_ACCESS_GRANTED);
	assert_int_equal(e->role, CB_ROLE_READER);
	assert_int_equal(e->old_role, CB_ROLE_NONE);
	snprintf(want, sizeof(want), "[{\"op\":\"add\",\"path\":\"%s\",\"value\":\"reader\"}]",
		 path);
	assert_true(json_is(e->patch, want));
	snprintf(want, sizeof(want), "[{\"op\":\"remove\",\"path\":\"%s\"}]", path);
	assert_true(json_is(e->revert, want));
	assert_patch_pair(e, before);
	assert_string_equal(last(&f->rb)->patch, e->patch);
	cJSON_Delete(before);

	reset(f);
	before = json_now(f, id);
	grant(f, id, f->bob, CB_ROLE_WRITER);
	e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_ACCESS_GRANTED);
	assert_int_equal(e->role, CB_ROLE_WRITER);
	assert_int_equal(e->old_role, CB_ROLE_READER);
	snprintf(want, sizeof(want), "[{\"op\":\"replace\",\"path\":\"%s\",\"value\":\"writer\"}]",
		 path);
	assert_true(json_is(e->patch, want));
	snprintf(want, sizeof(want), "[{\"op\":\"replace\",\"path\":\"%s\",\"value\":\"reader\"}]",
		 path);
	assert_true(json_is(e->revert, want));
	assert_patch_pair(e, before);
	cJSON_Delete(before);

	reset(f);
	before = json_now(f, id);
	grant(f, id, f->bob, CB_ROLE_NONE);
	expect(f, 1, 1, 0, 0);
	e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_ACCESS_REMOVED);
	assert_int_equal(e->old_role, CB_ROLE_WRITER);
	snprintf(want, sizeof(want), "[{\"op\":\"remove\",\"path\":\"%s\"}]", path);
	assert_true(json_is(e->patch, want));
	snprintf(want, sizeof(want), "[{\"op\":\"add\",\"path\":\"%s\",\"value\":\"writer\"}]",
		 path);
	assert_true(json_is(e->revert, want));
	assert_patch_pair(e, before);
	cJSON_Delete(before);

	/* public and private again: /permissions/anyone */
	reset(f);
	before = json_now(f, id);
	grant(f, id, CB_ANYONE, CB_ROLE_READER);
	e = last(&f->rd);
	assert_int_equal(e->old_role, CB_ROLE_NONE);
	assert_true(json_is(e->patch,
			    "[{\"op\":\"add\",\"path\":\"/permissions/anyone\",\"value\":\"reader\"}]"));
	assert_true(json_is(e->revert, "[{\"op\":\"remove\",\"path\":\"/permissions/anyone\"}]"));
	assert_patch_pair(e, before);
	cJSON_Delete(before);
	reset(f);
	before = json_now(f, id);
	grant(f, id, CB_ANYONE, CB_ROLE_NONE);
	e = last(&f->rd);
	assert_int_equal(e->op, CB_EV_ACCESS_REMOVED);
	assert_int_equal(e->old_role, CB_ROLE_READER);
	assert_true(json_is(e->patch, "[{\"op\":\"remove\",\"path\":\"/permissions/anyone\"}]"));
	assert_true(json_is(e->revert,
			    "[{\"op\":\"add\",\"path\":\"/permissions/anyone\",\"value\":\"reader\"}]"));
	assert_patch_pair(e, before);
	cJSON_Delete(before);
}

/* A content patch: CONTENT with the patch, its revert and the revision
 * (which carries the patch too); failures announce nothing. */
static void test_content_patch_event(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], err[256];
	mk(f, f->alice, "doc.json", id);
	grant(f, id, f->bob, CB_ROLE_READER);
	reset(f);

	const char *text = "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"a\":1}}]";
	cJSON *patch = cJSON_Parse(text), *revert = NULL;
	assert_int_equal(store_content_patch(f->st, f->alice, id, patch, &revert, err, sizeof(err)),
			 CB_OK);
	cJSON_Delete(patch);
	expect(f, 1, 1, 0, 0);
	const rec_ev *e = last(&f->rb);
	assert_int_equal(e->op, CB_EV_CONTENT);
	assert_string_equal(e->actor, f->alice);
	assert_int_equal(e->size, 7);
	assert_true(e->blob[0] != 0);
	assert_true(json_is(e->patch, text));
	char *rt = cJSON_PrintUnformatted(revert);
	assert_true(json_is(e->revert, rt));
	cJSON_free(rt);
	cJSON_Delete(revert);
	assert_true(e->has_rev);
	assert_string_equal(e->rev_blob, "");
	assert_int_equal(e->rev_size, 0);
	assert_true(e->rev_patch);
	char first[CB_ID_LEN + 1];
	snprintf(first, sizeof(first), "%s", e->blob);

	reset(f);
	text = "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[2]}]";
	patch = cJSON_Parse(text);
	assert_int_equal(store_content_patch(f->st, f->alice, id, patch, NULL, err, sizeof(err)),
			 CB_OK);
	cJSON_Delete(patch);
	expect(f, 1, 1, 0, 0);
	e = last(&f->ra);
	assert_true(json_is(e->patch, text));
	assert_true(json_is(e->revert, "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"));
	assert_string_equal(e->rev_blob, first);
	assert_int_equal(e->rev_size, 7);
	assert_int_equal(e->size, 9);

	/* failures: nothing */
	reset(f);
	static const char *const refused[] = {
		"[{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]",
		"[{\"op\":\"remove\",\"path\":\"/b\"}]",
		"7",
	};
	for (const char *r : refused) {
		patch = cJSON_Parse(r);
		assert_int_not_equal(store_content_patch(f->st, f->alice, id, patch, NULL, err,
							 sizeof(err)),
				     CB_OK);
		cJSON_Delete(patch);
	}
	patch = cJSON_Parse("[]");
	assert_int_equal(store_content_patch(f->st, f->bob, id, patch, NULL, err, sizeof(err)),
			 CB_ERR_ACCESS);
	assert_int_equal(store_content_patch(f->st, f->carol, id, patch, NULL, err, sizeof(err)),
			 CB_ERR_NOTFOUND);
	cJSON_Delete(patch);
	expect(f, 0, 0, 0, 0);
}

/* Only UPDATED, ACCESS_* and a content patch's CONTENT carry patches. */
static void test_other_events_carry_no_patch(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "a.txt", id);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);
	rec s;
	rec_init(&s, f->alice, NULL, CB_EV_BIT(CB_EV_STREAM));
	events_subscribe(f->st, &s.sub);
	mk(f, f->alice, "b.txt", id);
	events_stream(f->st, f->alice, id, "x", 1);
	events_unsubscribe(f->st, &s.sub);
	assert_int_equal(s.n, 1);
	assert_true(s.ev[0].patch_null && s.ev[0].revert_null);
	assert_int_equal(f->ra.n, 6);
	static const cb_event_op ops[] = {CB_EV_CREATED, CB_EV_DELETED, CB_EV_RECOVERED,
					  CB_EV_DELETED, CB_EV_PURGED, CB_EV_CREATED};
	for (int i = 0; i < 6; i++) {
		assert_int_equal(f->ra.ev[i].op, ops[i]);
		assert_true(f->ra.ev[i].patch_null);
		assert_true(f->ra.ev[i].revert_null);
		assert_int_equal(f->ra.ev[i].old_role, CB_ROLE_NONE);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_reaches_who_may_see),
		T(test_update_owner_and_grantees),
		T(test_trash_recover),
		T(test_content_with_revision),
		T(test_content_revisions_keep_zero),
		T(test_public_node_reaches_everyone),
		T(test_grant_reaches_new_user),
		T(test_remove_reaches_removed_user),
		T(test_purge),
		T(test_user_deletion),
		T(test_user_deletion_removes_grants),
		T(test_unreadable_meta_does_not_block),
		T(test_node_filter),
		T(test_op_mask),
		T(test_wanted),
		T(test_origin),
		T(test_server_subscriber),
		T(test_failed_mutations_publish_nothing),
		T(test_unsubscribe_in_callback),
		T(test_free_self_in_callback),
		T(test_nested_publish),
		T(test_upload_create_and_replace),
		T(test_stream_audience),
		T(test_stream_with_other_ops),
		T(test_stream_nobody),
		T(test_node_patch_event),
		T(test_update_event_diff),
		T(test_grant_event_patches),
		T(test_content_patch_event),
		T(test_other_events_carry_no_patch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
