/* test_store.cpp: unit tests for the metadata store (include/cubby/store.h,
 * DESIGN §3 and §5), each on a real LMDB store in a fresh temporary data
 * directory, spec 3's view of it included (node_json(), metadata and
 * content patches, grants with who gave them, store_list_files()). Users
 * are plain ids except where a grant or an upload needs a real user:
 * those tests create users with auth_user_create(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <errno.h>
#include <limits.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/events.h"
#include "cubby/ids.h"
#include "cubby/jsonpatch.h"
#include "cubby/store.h"
#include "../../src/core/store_internal.h" /* only for the schema test */
#include "store_fixture.h"

/* ---- fixture ---- */

struct fx : t_store {
	char alice[CB_ID_LEN + 1];
	char bob[CB_ID_LEN + 1];
	char carol[CB_ID_LEN + 1];
	char dave[CB_ID_LEN + 1];
};

static int setup(void **state)
{
	fx *f = (fx *)calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (t_store_open(f, "store")) {
		free(f);
		return -1;
	}
	if (id_uuid4(f->alice) || id_uuid4(f->bob) || id_uuid4(f->carol) ||
	    id_uuid4(f->dave))
		return -1;
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

/* As setup(), with alice, bob, carol and dave as real users. */
static int setup_users(void **state)
{
	if (setup(state))
		return -1;
	fx *f = (fx *)*state;
	char *const ids[] = {f->alice, f->bob, f->carol, f->dave};
	return t_store_users(f, ids);
}

static void reopen(fx *f)
{
	assert_int_equal(t_store_reopen(f), CB_OK);
	assert_non_null(f->st);
}

static void set_keep(fx *f, unsigned keep)
{
	f->cfg.revisions_keep = keep;
	reopen(f);
}

/* ---- helpers ---- */

static void node_fill(cb_node *n, const char *parent, const char *name, const char *kind)
{
	node_init(n);
	snprintf(n->parent, sizeof(n->parent), "%s", parent);
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (kind)
		snprintf(n->kind, sizeof(n->kind), "%s", kind);
}

static cb_status create(fx *f, const char *actor, const char *parent, const char *name,
			const char *kind, char *id_out, int flags = 0)
{
	cb_node n;
	node_fill(&n, parent, name, kind);
	if (!actor)
		snprintf(n.owner, sizeof(n.owner), "%s", f->alice);
	cb_status s = store_node_create(f->st, actor, &n, flags);
	if (id_out)
		snprintf(id_out, CB_ID_LEN + 1, "%s", s == CB_OK ? n.id : "");
	node_clear(&n);
	return s;
}

static void mk(fx *f, const char *actor, const char *parent, const char *name,
	       const char *kind, char id[CB_ID_LEN + 1])
{
	assert_int_equal(create(f, actor, parent, name, kind, id), CB_OK);
	assert_true(id[0] != 0);
}

/* Loads id as the server (no permission check); the caller clears. */
static void load(fx *f, const char *id, cb_node *n, int flags = 0)
{
	node_init(n);
	assert_int_equal(store_node_get(f->st, NULL, id, n, flags), CB_OK);
}

static void set_anyone(fx *f, const char *actor, const char *id, cb_role r)
{
	cb_node n;
	load(f, id, &n);
	n.anyone = r;
	assert_int_equal(store_node_update(f->st, actor, &n, 0), CB_OK);
	node_clear(&n);
}

static cb_status get_status(fx *f, const char *actor, const char *id)
{
	cb_node n;
	node_init(&n);
	cb_status s = store_node_get(f->st, actor, id, &n, 0);
	node_clear(&n);
	return s;
}

struct seen {
	int n;
	int stop_after; /* 0 = never stop */
	char ids[32][CB_ID_LEN + 1];
	char names[32][CB_NAME_MAX + 1];
};

static int collect(const cb_node *n, void *ctx)
{
	seen *s = (seen *)ctx;
	if (s->n < 32) {
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", n->id);
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", n->name);
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static bool seen_has(const seen *s, const char *id)
{
	for (int i = 0; i < s->n && i < 32; i++)
		if (!strcmp(s->ids[i], id))
			return true;
	return false;
}

static void seen_reset(seen *s)
{
	memset(s, 0, sizeof(*s));
}

struct gseen {
	int n;
	char users[16][CB_ID_LEN + 1];
	cb_role roles[16];
};

static int collect_grant(const cb_grant *gr, void *ctx)
{
	gseen *g = (gseen *)ctx;
	if (g->n < 16) {
		snprintf(g->users[g->n], sizeof(g->users[0]), "%s", gr->user);
		g->roles[g->n] = gr->role;
	}
	g->n++;
	return 0;
}

static cb_role gseen_role(const gseen *g, const char *user)
{
	for (int i = 0; i < g->n && i < 16; i++)
		if (!strcmp(g->users[i], user))
			return g->roles[i];
	return CB_ROLE_NONE;
}

struct rseen {
	int n;
	cb_revision r[64];
};

static int collect_rev(const cb_revision *r, void *ctx)
{
	rseen *s = (rseen *)ctx;
	if (s->n < 64) {
		s->r[s->n] = *r;
		s->r[s->n].patch = r->patch ? cJSON_Duplicate(r->patch, true) : NULL;
	}
	s->n++;
	return 0;
}

static void rseen_free(rseen *s)
{
	for (int i = 0; i < s->n && i < 64; i++)
		cJSON_Delete(s->r[i].patch);
	memset(s, 0, sizeof(*s));
}

/* Writes a blob file of `size` bytes under a fresh id into blobs/. */
static void put_blob(fx *f, char id[CB_ID_LEN + 1], size_t size)
{
	char path[PATH_MAX];
	assert_int_equal(id_uuid4(id), 0);
	store_blob_path(f->st, id, path, sizeof(path));
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	for (size_t i = 0; i < size; i++)
		fputc('x', fp);
	assert_int_equal(fclose(fp), 0);
}

static bool blob_exists(fx *f, const char *id)
{
	char path[PATH_MAX];
	struct stat sb;
	store_blob_path(f->st, id, path, sizeof(path));
	return stat(path, &sb) == 0;
}

static void fake_md5(char c, char out[33])
{
	memset(out, c, 32);
	out[32] = 0;
}

/* New content of `size` bytes for node id by actor; blob id and md5 out. */
static void content(fx *f, const char *actor, const char *id, size_t size, char md5c,
		    char blob[CB_ID_LEN + 1], const cJSON *patch = NULL)
{
	char md5[33];
	put_blob(f, blob, size);
	fake_md5(md5c, md5);
	assert_int_equal(store_node_set_content(f->st, actor, id, blob, size, md5, patch, NULL),
			 CB_OK);
}

/* A thumbnail of `size` bytes from blob_put(); its id out. */
static void put_thumb(fx *f, char id[CB_ID_LEN + 1], size_t size)
{
	char *data = (char *)malloc(size ? size : 1);
	assert_non_null(data);
	memset(data, 't', size);
	assert_int_equal(blob_put(f->st, data, size, id), CB_OK);
	free(data);
}

/* store_node_update() of node id by actor with n->thumb = thumb and
 * `flags`, renaming it too when name is not NULL. */
static cb_status update_thumb(fx *f, const char *actor, const char *id, const char *thumb,
			      int flags = CB_NODE_THUMB, const char *name = NULL)
{
	cb_node n;
	load(f, id, &n);
	snprintf(n.thumb, sizeof(n.thumb), "%s", thumb);
	if (name)
		snprintf(n.name, sizeof(n.name), "%s", name);
	cb_status s = store_node_update(f->st, actor, &n, flags);
	node_clear(&n);
	return s;
}

static void assert_thumb(fx *f, const char *id, const char *want)
{
	cb_node n;
	load(f, id, &n);
	assert_string_equal(n.thumb, want);
	node_clear(&n);
}

/* Counts the events the server hears (a subscriber with user NULL gets
 * every one) and keeps the last one's node name and thumbnail. */
struct ev_count {
	cb_subscriber sub;
	int total;
	int ops[CB_EV_COUNT];
	char name[CB_NAME_MAX + 1];
	char thumb[CB_ID_LEN + 1];
};

static void count_event(const cb_event *ev, const char *, void *ctx)
{
	ev_count *c = (ev_count *)ctx;
	c->total++;
	c->ops[ev->op]++;
	snprintf(c->name, sizeof(c->name), "%s", ev->node->name);
	snprintf(c->thumb, sizeof(c->thumb), "%s", ev->node->thumb);
}

static void ev_count_start(fx *f, ev_count *c)
{
	memset(c, 0, sizeof(*c));
	c->sub.fn = count_event;
	c->sub.ctx = c;
	events_subscribe(f->st, &c->sub);
}

/* Node meta as the lists deliver it: {"n": N} gives N, none -1. */
struct mseen {
	int n;
	char ids[8][CB_ID_LEN + 1];
	int meta_n[8];
};

static int collect_meta(const cb_node *n, void *ctx)
{
	mseen *s = (mseen *)ctx;
	if (s->n < 8) {
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", n->id);
		const cJSON *v = n->meta ? cJSON_GetObjectItemCaseSensitive(n->meta, "n") : NULL;
		s->meta_n[s->n] = v ? v->valueint : -1;
	}
	s->n++;
	return 0;
}

/* The meta N listed for id; -2 when id was not listed. */
static int mseen_meta(const mseen *s, const char *id)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (!strcmp(s->ids[i], id))
			return s->meta_n[i];
	return -2;
}

/* Creates owner's node with meta {"n": meta_n} (none when meta_n < 0). */
static void mk_meta(fx *f, const char *owner, const char *name, const char *kind, int meta_n,
		    char id[CB_ID_LEN + 1])
{
	cb_node n;
	node_fill(&n, "", name, kind);
	if (meta_n >= 0) {
		n.meta = cJSON_CreateObject();
		cJSON_AddNumberToObject(n.meta, "n", meta_n);
	}
	assert_int_equal(store_node_create(f->st, owner, &n, 0), CB_OK);
	snprintf(id, CB_ID_LEN + 1, "%s", n.id);
	node_clear(&n);
}

static const cb_access all_access[] = {
	CB_ACCESS_READ,   CB_ACCESS_COMMENT,      CB_ACCESS_WRITE, CB_ACCESS_DELETE,
	CB_ACCESS_PURGE,  CB_ACCESS_SHARE_READER, CB_ACCESS_SHARE,
};
#define NACCESS (sizeof(all_access) / sizeof(all_access[0]))

/* Checks store_access() for every action against the expected answers
 * (indexed like all_access). */
static void check_access(fx *f, const char *id, const char *user, const cb_status *want)
{
	cb_node n;
	load(f, id, &n);
	for (size_t i = 0; i < NACCESS; i++) {
		cb_status got = store_access(f->st, &n, user, all_access[i]);
		if (got != want[i])
			print_error("access %d for user '%s': got %d, want %d\n",
				    (int)all_access[i], user ? user : "(server)", (int)got,
				    (int)want[i]);
		assert_int_equal(got, want[i]);
	}
	node_clear(&n);
}

/* ======================= node lifecycle ======================= */

static void test_node_init_and_roles(void **state)
{
	(void)state;
	cb_node n;
	node_init(&n);
	assert_string_equal(n.id, "");
	assert_non_null(n.tags);
	assert_true(cJSON_IsArray(n.tags));
	assert_int_equal(cJSON_GetArraySize(n.tags), 0);
	assert_null(n.meta);
	assert_int_equal(n.size, 0);
	assert_int_equal(n.anyone, CB_ROLE_NONE);
	node_clear(&n);

	assert_string_equal(role_name(CB_ROLE_READER), "reader");
	assert_string_equal(role_name(CB_ROLE_COMMENTER), "commenter");
	assert_string_equal(role_name(CB_ROLE_WRITER), "writer");
	assert_string_equal(role_name(CB_ROLE_OWNER), "owner");
	assert_null(role_name(CB_ROLE_NONE));
	assert_int_equal(role_parse("reader"), CB_ROLE_READER);
	assert_int_equal(role_parse("commenter"), CB_ROLE_COMMENTER);
	assert_int_equal(role_parse("writer"), CB_ROLE_WRITER);
	assert_int_equal(role_parse("bogus"), CB_ROLE_NONE);
	assert_int_equal(role_parse(""), CB_ROLE_NONE);
}

static void test_create_assigns_fields(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	node_fill(&n, "", "a.txt", NULL);
	snprintf(n.owner, sizeof(n.owner), "%s", f->bob); /* ignored: actor's space */
	int64_t before = cb_now_ms();
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	int64_t after = cb_now_ms();
	assert_true(id_is_uuid(n.id));
	assert_string_equal(n.owner, f->alice);
	assert_true(n.created >= before && n.created <= after);
	assert_true(n.modified >= n.created && n.modified <= after);
	assert_int_equal(n.trashed, 0);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, n.id, &g, 0), CB_OK);
	assert_string_equal(g.id, n.id);
	assert_string_equal(g.kind, "file");
	assert_string_equal(g.owner, f->alice);
	assert_string_equal(g.name, "a.txt");
	assert_string_equal(g.parent, "");
	assert_int_equal(g.created, n.created);
	assert_int_equal(g.modified, n.modified);
	assert_int_equal(g.trashed, 0);
	assert_int_equal(g.size, 0);
	assert_string_equal(g.md5, "");
	assert_string_equal(g.blob, "");
	assert_int_equal(g.anyone, CB_ROLE_NONE);
	assert_non_null(g.tags);
	assert_int_equal(cJSON_GetArraySize(g.tags), 0);
	assert_null(g.meta);
	node_clear(&g);

	/* A second node gets another id. */
	char id2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "b.txt", NULL, id2);
	assert_true(id_is_uuid(id2));
	assert_string_not_equal(id2, n.id);
	node_clear(&n);
}

static void test_create_by_server_keeps_owner(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	node_fill(&n, "docs", "s.txt", "project");
	snprintf(n.owner, sizeof(n.owner), "%s", f->bob);
	assert_int_equal(store_node_create(f->st, NULL, &n, 0), CB_OK);
	assert_string_equal(n.owner, f->bob);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->bob, f->bob, "docs", "s.txt", &g), CB_OK);
	assert_string_equal(g.id, n.id);
	assert_string_equal(g.owner, f->bob);
	assert_string_equal(g.kind, "project");
	node_clear(&g);
	node_clear(&n);
}

static void test_get_meta_and_tags(void **state)
{
	fx *f = (fx *)*state;
	const char *meta_text =
		"{\"title\":\"T\\u00e9\",\"n\":3.5,\"list\":[1,\"x\",null,false],"
		"\"obj\":{\"k\":true,\"deep\":{\"a\":[]}}}";
	cJSON *want_meta = cJSON_Parse(meta_text);
	cJSON *want_tags = cJSON_Parse("[\"red\",\"blue\",\"\\u00fcber\"]");
	assert_non_null(want_meta);
	assert_non_null(want_tags);

	cb_node n;
	node_fill(&n, "docs", "m.json", "Vendor#Kind");
	snprintf(n.mime, sizeof(n.mime), "application/json");
	cJSON_Delete(n.tags);
	n.tags = cJSON_Duplicate(want_tags, true);
	n.meta = cJSON_Duplicate(want_meta, true);
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, n.id, &g, 0), CB_OK);
	assert_null(g.meta); /* not loaded without CB_NODE_META */
	assert_non_null(g.tags);
	assert_true(cJSON_Compare(g.tags, want_tags, true));
	assert_string_equal(g.kind, "Vendor#Kind");
	assert_string_equal(g.mime, "application/json");
	assert_string_equal(g.parent, "docs");
	node_clear(&g);

	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, n.id, &g, CB_NODE_META), CB_OK);
	assert_non_null(g.meta);
	assert_true(cJSON_Compare(g.meta, want_meta, true));
	assert_true(cJSON_Compare(g.tags, want_tags, true));
	node_clear(&g);

	/* A node without meta has meta NULL even with CB_NODE_META. */
	char plain[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "plain", NULL, plain);
	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, plain, &g, CB_NODE_META), CB_OK);
	assert_null(g.meta);
	assert_non_null(g.tags);
	node_clear(&g);

	node_clear(&n);
	cJSON_Delete(want_meta);
	cJSON_Delete(want_tags);
}

static void test_get_unknown(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(id), 0);
	assert_int_equal(get_status(f, f->alice, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, NULL, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, NULL, "no-such-node"), CB_ERR_NOTFOUND);
	/* Ids that can never exist are refused, not looked up. */
	assert_int_not_equal(get_status(f, NULL, "0123456789012345678901234567890123456"), CB_OK);
	assert_int_not_equal(get_status(f, NULL, "../x"), CB_OK);
	assert_int_not_equal(get_status(f, NULL, ""), CB_OK);
}

static void test_find(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], top[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "a.txt", NULL, id);
	mk(f, f->alice, "", "a.txt", NULL, top);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "a.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	assert_string_equal(g.name, "a.txt");
	assert_string_equal(g.parent, "docs");
	node_clear(&g);

	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "", "a.txt", &g), CB_OK);
	assert_string_equal(g.id, top);
	node_clear(&g);

	node_init(&g);
	assert_int_equal(store_node_find(f->st, NULL, f->alice, "docs", "a.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	node_clear(&g);

	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "b.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "doc", "a.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, NULL, f->bob, "docs", "a.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
	/* A stranger may not learn of alice's private node. */
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->bob, f->alice, "docs", "a.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
	/* A name too long to exist is simply not found. */
	char longname[CB_NAME_MAX + 2];
	memset(longname, 'a', CB_NAME_MAX + 1);
	longname[CB_NAME_MAX + 1] = 0;
	node_init(&g);
	assert_int_not_equal(store_node_find(f->st, f->alice, f->alice, "docs", longname, &g),
			     CB_OK);
	node_clear(&g);
}

static void test_update_rename_move_meta(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	node_fill(&n, "docs", "a.txt", NULL);
	snprintf(n.mime, sizeof(n.mime), "text/plain");
	n.meta = cJSON_Parse("{\"v\":1}");
	cJSON_AddItemToArray(n.tags, cJSON_CreateString("t1"));
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	usleep(5000);

	cb_node u;
	load(f, n.id, &u, CB_NODE_META);
	snprintf(u.name, sizeof(u.name), "b.md");
	snprintf(u.parent, sizeof(u.parent), "archive/2024");
	snprintf(u.mime, sizeof(u.mime), "text/markdown");
	snprintf(u.kind, sizeof(u.kind), "note");
	cJSON_Delete(u.meta);
	u.meta = cJSON_Parse("{\"v\":2,\"extra\":[\"x\"]}");
	cJSON_Delete(u.tags);
	u.tags = cJSON_Parse("[\"t2\",\"t3\"]");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_OK);
	node_clear(&u);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "a.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "archive/2024", "b.md", &g),
			 CB_OK);
	assert_string_equal(g.id, n.id);
	node_clear(&g);

	load(f, n.id, &g, CB_NODE_META);
	assert_string_equal(g.name, "b.md");
	assert_string_equal(g.parent, "archive/2024");
	assert_string_equal(g.mime, "text/markdown");
	assert_string_equal(g.kind, "note");
	assert_string_equal(g.owner, f->alice);
	assert_int_equal(g.created, n.created);
	assert_true(g.modified > n.modified);
	cJSON *want_meta = cJSON_Parse("{\"v\":2,\"extra\":[\"x\"]}");
	cJSON *want_tags = cJSON_Parse("[\"t2\",\"t3\"]");
	assert_non_null(g.meta);
	assert_true(cJSON_Compare(g.meta, want_meta, true));
	assert_true(cJSON_Compare(g.tags, want_tags, true));
	cJSON_Delete(want_meta);
	cJSON_Delete(want_tags);
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "archive/2024", collect, &s),
			 CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], n.id);
	node_clear(&n);
}

static void test_update_without_meta_keeps_meta(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	node_fill(&n, "", "keep.json", NULL);
	n.meta = cJSON_Parse("{\"keep\":[1,2,3]}");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);

	cb_node u;
	load(f, n.id, &u); /* meta not loaded: NULL */
	assert_null(u.meta);
	snprintf(u.name, sizeof(u.name), "kept.json");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_OK);
	node_clear(&u);

	cb_node g;
	load(f, n.id, &g, CB_NODE_META);
	assert_string_equal(g.name, "kept.json");
	assert_non_null(g.meta);
	assert_true(cJSON_Compare(g.meta, n.meta, true));
	node_clear(&g);
	node_clear(&n);
}

static void test_update_keeps_server_fields(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "c.bin", NULL, id);
	content(f, f->alice, id, 5, 'a', blob);
	fake_md5('a', md5);

	cb_node orig;
	load(f, id, &orig);
	assert_int_equal(orig.size, 5);
	assert_string_equal(orig.md5, md5);
	assert_string_equal(orig.blob, blob);

	cb_node u;
	load(f, id, &u);
	u.size = 999;
	fake_md5('f', u.md5);
	assert_int_equal(id_uuid4(u.blob), 0);
	assert_int_equal(id_uuid4(u.thumb), 0);
	assert_int_equal(id_uuid4(u.original), 0);
	snprintf(u.owner, sizeof(u.owner), "%s", f->bob);
	u.created = 1;
	u.trashed = 12345;
	snprintf(u.name, sizeof(u.name), "renamed.bin");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_OK);
	node_clear(&u);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "renamed.bin");
	assert_int_equal(g.size, 5);
	assert_string_equal(g.md5, md5);
	assert_string_equal(g.blob, blob);
	assert_string_equal(g.thumb, "");
	assert_string_equal(g.original, "");
	assert_string_equal(g.owner, f->alice);
	assert_int_equal(g.created, orig.created);
	assert_int_equal(g.trashed, 0);
	node_clear(&g);

	/* Still alice's and live: in her namespace, not in the trash. */
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "", "renamed.bin", &g), CB_OK);
	node_clear(&g);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_usage(f->st, f->alice), 5);
	assert_int_equal(store_usage(f->st, f->bob), 0);
	assert_true(blob_exists(f, blob));
	node_clear(&orig);
}

/* A client cannot point a new node at a blob, not even someone else's:
 * content arrives only through an upload. */
static void test_create_takes_no_content(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a.bin", NULL, id);
	content(f, f->alice, id, 5, 'a', blob);

	cb_node n;
	node_init(&n);
	snprintf(n.name, sizeof(n.name), "steal.bin");
	snprintf(n.blob, sizeof(n.blob), "%s", blob);
	snprintf(n.thumb, sizeof(n.thumb), "%s", blob);
	snprintf(n.original, sizeof(n.original), "%s", blob);
	n.size = 5;
	fake_md5('a', n.md5);
	n.created = 1;
	assert_int_equal(store_node_create(f->st, f->bob, &n, 0), CB_OK);
	cb_node g;
	load(f, n.id, &g);
	assert_string_equal(g.blob, "");
	assert_string_equal(g.thumb, "");
	assert_string_equal(g.original, "");
	assert_string_equal(g.md5, "");
	assert_int_equal(g.size, 0);
	assert_true(g.created > 1);
	node_clear(&g);
	node_clear(&n);
	assert_int_equal(store_usage(f->st, f->bob), 0);
	assert_int_equal(store_usage(f->st, f->alice), 5);
}

static void test_update_taken_name(void **state)
{
	fx *f = (fx *)*state;
	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1];
	mk(f, f->alice, "d", "a.txt", NULL, a);
	mk(f, f->alice, "d", "b.txt", NULL, b);

	cb_node u;
	load(f, b, &u);
	snprintf(u.name, sizeof(u.name), "a.txt");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_ERR_EXISTS);
	node_clear(&u);
	cb_node g;
	load(f, b, &g);
	assert_string_equal(g.name, "b.txt");
	node_clear(&g);

	load(f, b, &u);
	snprintf(u.name, sizeof(u.name), "a.txt");
	assert_int_equal(store_node_update(f->st, f->alice, &u, CB_NAME_SUFFIX), CB_OK);
	assert_string_equal(u.name, "a (2).txt");
	node_clear(&u);
	load(f, b, &g);
	assert_string_equal(g.name, "a (2).txt");
	node_clear(&g);

	/* Keeping its own name is not a clash. */
	load(f, a, &u);
	snprintf(u.mime, sizeof(u.mime), "text/plain");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_OK);
	assert_string_equal(u.name, "a.txt");
	node_clear(&u);
	load(f, a, &g);
	assert_string_equal(g.name, "a.txt");
	assert_string_equal(g.mime, "text/plain");
	node_clear(&g);

	/* Moving into a directory where the name is taken is a clash too. */
	char other[CB_ID_LEN + 1];
	mk(f, f->alice, "e", "a.txt", NULL, other);
	load(f, other, &u);
	snprintf(u.parent, sizeof(u.parent), "d");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_ERR_EXISTS);
	node_clear(&u);
	load(f, other, &g);
	assert_string_equal(g.parent, "e");
	node_clear(&g);
}

static void test_update_invalid(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "d", "ok.txt", NULL, id);
	static const char *const bad[] = {"", ".", "..", "x/y", "a\nb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_node u;
		load(f, id, &u);
		snprintf(u.name, sizeof(u.name), "%s", bad[i]);
		assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_ERR_INVAL);
		node_clear(&u);
	}
	cb_node u;
	load(f, id, &u);
	snprintf(u.parent, sizeof(u.parent), "../up");
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_ERR_INVAL);
	node_clear(&u);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "ok.txt");
	assert_string_equal(g.parent, "d");
	node_clear(&g);

	/* Updating a node that does not exist. */
	node_fill(&u, "", "ghost", NULL);
	assert_int_equal(id_uuid4(u.id), 0);
	assert_int_equal(store_node_update(f->st, f->alice, &u, 0), CB_ERR_NOTFOUND);
	node_clear(&u);
}

static void test_trash_leaves_namespace(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], again[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "r.txt", NULL, id);
	int64_t before = cb_now_ms();
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "r.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);

	/* The owner still sees it, marked trashed. */
	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, id, &g, 0), CB_OK);
	assert_true(g.trashed >= before);
	assert_string_equal(g.name, "r.txt");
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], id);
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_false(seen_has(&s, id));
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* The name is free again. */
	mk(f, f->alice, "docs", "r.txt", NULL, again);
	assert_string_not_equal(again, id);
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], again);

	/* Twice is a state error; two trashed nodes may share a name. */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_ERR_STATE);
	assert_int_equal(store_node_trash(f->st, f->alice, again), CB_OK);
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, id));
	assert_true(seen_has(&s, again));

	char ghost[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(store_node_trash(f->st, f->alice, ghost), CB_ERR_NOTFOUND);
}

static void test_recover_in_place(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], id2[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "r.txt", NULL, id);
	mk(f, f->alice, "docs", "s.txt", NULL, id2);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id2), CB_OK);

	cb_node out;
	node_init(&out);
	assert_int_equal(store_node_recover(f->st, f->alice, id, &out), CB_OK);
	assert_string_equal(out.id, id);
	assert_string_equal(out.name, "r.txt");
	assert_string_equal(out.parent, "docs");
	assert_int_equal(out.trashed, 0);
	node_clear(&out);

	assert_int_equal(store_node_recover(f->st, f->alice, id2, NULL), CB_OK);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "r.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	assert_int_equal(g.trashed, 0);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "s.txt", &g), CB_OK);
	assert_string_equal(g.id, id2);
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
}

static void test_recover_into_taken_name(void **state)
{
	fx *f = (fx *)*state;
	char old[CB_ID_LEN + 1], fresh[CB_ID_LEN + 1];
	mk(f, f->alice, "w", "report.txt", NULL, old);
	assert_int_equal(store_node_trash(f->st, f->alice, old), CB_OK);
	mk(f, f->alice, "w", "report.txt", NULL, fresh);

	cb_node out;
	node_init(&out);
	assert_int_equal(store_node_recover(f->st, f->alice, old, &out), CB_OK);
	assert_string_equal(out.name, "report (2).txt");
	assert_int_equal(out.trashed, 0);
	node_clear(&out);

	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "w", "report (2).txt", &g),
			 CB_OK);
	assert_string_equal(g.id, old);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "w", "report.txt", &g), CB_OK);
	assert_string_equal(g.id, fresh);
	node_clear(&g);
	load(f, old, &g);
	assert_string_equal(g.name, "report (2).txt");
	node_clear(&g);
}

static void test_recover_live_is_state(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "live.txt", NULL, id);
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_ERR_STATE);
	char ghost[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(store_node_recover(f->st, f->alice, ghost, NULL), CB_ERR_NOTFOUND);
}

static void test_purge(void **state)
{
	fx *f = (fx *)*state;
	char live[CB_ID_LEN + 1], trashed[CB_ID_LEN + 1];
	cb_node n;
	node_fill(&n, "p", "gone.txt", NULL);
	n.meta = cJSON_Parse("{\"x\":1}");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	snprintf(live, sizeof(live), "%s", n.id);
	node_clear(&n);
	mk(f, f->alice, "p", "trashed.txt", NULL, trashed);
	assert_int_equal(store_node_trash(f->st, f->alice, trashed), CB_OK);

	assert_int_equal(store_node_purge(f->st, f->alice, live), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, trashed), CB_OK);

	assert_int_equal(get_status(f, f->alice, live), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, NULL, live), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, f->alice, trashed), CB_ERR_NOTFOUND);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "p", "gone.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "p", collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	assert_int_equal(store_node_purge(f->st, f->alice, live), CB_ERR_NOTFOUND);
	assert_int_equal(store_node_trash(f->st, f->alice, live), CB_ERR_NOTFOUND);
	assert_int_equal(store_node_recover(f->st, f->alice, trashed, NULL), CB_ERR_NOTFOUND);

	/* The name and even the id are free again. */
	char again[CB_ID_LEN + 1];
	mk(f, f->alice, "p", "gone.txt", NULL, again);
	node_fill(&n, "p", "reused-id.txt", NULL);
	snprintf(n.id, sizeof(n.id), "%s", live);
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);
	load(f, live, &g, CB_NODE_META);
	assert_null(g.meta); /* the purged node's meta did not linger */
	node_clear(&g);
}

/* ======================= name rules ======================= */

static void test_name_taken(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], dup[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "a.txt", NULL, id);
	assert_int_equal(create(f, f->alice, "docs", "a.txt", NULL, dup), CB_ERR_EXISTS);
	assert_int_equal(create(f, f->alice, "docs", "a.txt", "project", dup), CB_ERR_EXISTS);
	/* normalization applies before the clash check */
	assert_int_equal(create(f, f->alice, "docs/", "a.txt", NULL, dup), CB_ERR_EXISTS);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], id);
}

static void test_name_other_parent_or_owner(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "a.txt", NULL, id);
	mk(f, f->alice, "", "a.txt", NULL, id);
	mk(f, f->alice, "docs/sub", "a.txt", NULL, id);
	mk(f, f->alice, "docs2", "a.txt", NULL, id);
	mk(f, f->alice, "docs", "A.txt", NULL, id);
	mk(f, f->bob, "docs", "a.txt", NULL, id);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 5);
}

static void test_name_suffix(void **state)
{
	fx *f = (fx *)*state;
	static const struct {
		const char *name, *want;
	} cases[] = {
		{"a.txt", "a.txt"},     {"a.txt", "a (2).txt"}, {"a.txt", "a (3).txt"},
		{"noext", "noext"},     {"noext", "noext (2)"}, {".hidden", ".hidden"},
		{".hidden", ".hidden (2)"}, {"free.txt", "free.txt"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cb_node n;
		node_fill(&n, "s", cases[i].name, NULL);
		assert_int_equal(store_node_create(f->st, f->alice, &n, CB_NAME_SUFFIX), CB_OK);
		assert_string_equal(n.name, cases[i].want);
		cb_node g;
		load(f, n.id, &g);
		assert_string_equal(g.name, cases[i].want);
		node_clear(&g);
		node_clear(&n);
	}
	/* Without the flag, the suffixed names are ordinary taken names. */
	char dup[CB_ID_LEN + 1];
	assert_int_equal(create(f, f->alice, "s", "a (2).txt", NULL, dup), CB_ERR_EXISTS);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "s", collect, &s), CB_OK);
	assert_int_equal(s.n, 8);
}

static void test_name_suffix_at_max_length(void **state)
{
	fx *f = (fx *)*state;
	char name[CB_NAME_MAX + 1];
	memset(name, 'n', CB_NAME_MAX);
	memcpy(name + CB_NAME_MAX - 4, ".txt", 4);
	name[CB_NAME_MAX] = 0;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", name, NULL, id);

	cb_node n;
	node_fill(&n, "", name, NULL);
	assert_int_equal(store_node_create(f->st, f->alice, &n, CB_NAME_SUFFIX), CB_OK);
	size_t len = strlen(n.name);
	assert_true(len <= CB_NAME_MAX);
	assert_true(len > 8);
	assert_string_equal(n.name + len - 8, " (2).txt");
	assert_string_not_equal(n.name, name);
	node_clear(&n);
}

static void test_name_invalid(void **state)
{
	fx *f = (fx *)*state;
	static const char *const bad[] = {
		"", ".", "..", "a/b", "/", "a\nb", "tab\there", "\x01", "bell\a",
		"esc\x1b[0m", "del\x7f", "bad\xff", "cut\xc3",
	};
	char id[CB_ID_LEN + 1];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_status s = create(f, f->alice, "", bad[i], NULL, id);
		if (s != CB_ERR_INVAL)
			print_error("name #%zu: got %d\n", i, (int)s);
		assert_int_equal(s, CB_ERR_INVAL);
	}
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* The longest name that fits, and some that look odd but are fine. */
	char longest[CB_NAME_MAX + 1];
	memset(longest, 'x', CB_NAME_MAX);
	longest[CB_NAME_MAX] = 0;
	mk(f, f->alice, "", longest, NULL, id);
	mk(f, f->alice, "", "...", NULL, id);
	mk(f, f->alice, "", "caf\xc3\xa9 \xe2\x82\xac.txt", NULL, id);
	mk(f, f->alice, "", "a b (1) [x] #1.txt", NULL, id);
}

static void test_parent_normalized(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], id2[CB_ID_LEN + 1];
	mk(f, f->alice, "a//b/", "n.txt", NULL, id);
	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.parent, "a/b");
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "a/b", "n.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	node_clear(&g);

	mk(f, f->alice, "./x/.", "m.txt", NULL, id2);
	load(f, id2, &g);
	assert_string_equal(g.parent, "x");
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "a/b", collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], id);
}

static void test_parent_invalid(void **state)
{
	fx *f = (fx *)*state;
	static const char *const bad[] = {"../x", "/abs", "a/../b", "..", "a/\x01/b", "a\xff"};
	char id[CB_ID_LEN + 1];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_status s = create(f, f->alice, bad[i], "n.txt", NULL, id);
		if (s != CB_ERR_INVAL)
			print_error("parent #%zu: got %d\n", i, (int)s);
		assert_int_equal(s, CB_ERR_INVAL);
	}
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
}

static void test_client_chosen_id(void **state)
{
	fx *f = (fx *)*state;
	cb_node n;
	node_fill(&n, "", "proj", "project");
	snprintf(n.id, sizeof(n.id), "my-project_1");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	assert_string_equal(n.id, "my-project_1");
	node_clear(&n);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_get(f->st, f->alice, "my-project_1", &g, 0), CB_OK);
	assert_string_equal(g.name, "proj");
	node_clear(&g);

	/* 36 characters is the most an id may have. */
	node_fill(&n, "", "proj36", "project");
	snprintf(n.id, sizeof(n.id), "abcdefghijklmnopqrstuvwxyz0123456789");
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);

	static const char *const bad[] = {"a/b", "../etc", "/", "a b", "..", "x\ny"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		node_fill(&n, "", "bad-id", NULL);
		snprintf(n.id, sizeof(n.id), "%s", bad[i]);
		cb_status s = store_node_create(f->st, f->alice, &n, 0);
		if (s != CB_ERR_INVAL)
			print_error("id #%zu: got %d\n", i, (int)s);
		assert_int_equal(s, CB_ERR_INVAL);
		node_clear(&n);
	}
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "", "bad-id", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);
}

static void test_create_existing_id(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "first", NULL, id);

	cb_node n;
	node_fill(&n, "", "second", NULL);
	snprintf(n.id, sizeof(n.id), "%s", id);
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_ERR_EXISTS);
	node_clear(&n);
	/* Another user cannot take it over either. */
	node_fill(&n, "", "third", NULL);
	snprintf(n.id, sizeof(n.id), "%s", id);
	assert_int_equal(store_node_create(f->st, f->bob, &n, 0), CB_ERR_EXISTS);
	node_clear(&n);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "first");
	assert_string_equal(g.owner, f->alice);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "", "second", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);

	/* A trashed node still holds its id. */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	node_fill(&n, "", "fourth", NULL);
	snprintf(n.id, sizeof(n.id), "%s", id);
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_ERR_EXISTS);
	node_clear(&n);
}

static void test_long_parent(void **state)
{
	fx *f = (fx *)*state;
	/* ~1000 bytes: 10 components of 99 characters. */
	char pa[CB_PATH_MAX + 1], pb[CB_PATH_MAX + 1], pmax[CB_PATH_MAX + 1];
	size_t len = 0;
	for (int i = 0; i < 10; i++) {
		if (i)
			pa[len++] = '/';
		memset(pa + len, 'a' + i, 99);
		len += 99;
	}
	pa[len] = 0;
	assert_true(len >= 999);
	memcpy(pb, pa, len + 1);
	pb[len - 1] = 'z'; /* differs only in its last byte */
	memset(pmax, 'm', CB_PATH_MAX);
	for (int i = 200; i < CB_PATH_MAX; i += 200)
		pmax[i] = '/';
	pmax[CB_PATH_MAX] = 0;

	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1], m[CB_ID_LEN + 1], a2[CB_ID_LEN + 1];
	mk(f, f->alice, pa, "f.txt", NULL, a);
	mk(f, f->alice, pb, "f.txt", NULL, b);
	mk(f, f->alice, pmax, "f.txt", NULL, m);
	mk(f, f->alice, pa, "g.txt", NULL, a2);
	char dup[CB_ID_LEN + 1];
	assert_int_equal(create(f, f->alice, pa, "f.txt", NULL, dup), CB_ERR_EXISTS);

	cb_node g;
	load(f, a, &g);
	assert_string_equal(g.parent, pa);
	node_clear(&g);
	load(f, m, &g);
	assert_string_equal(g.parent, pmax);
	node_clear(&g);

	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, pa, "f.txt", &g), CB_OK);
	assert_string_equal(g.id, a);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, pb, "f.txt", &g), CB_OK);
	assert_string_equal(g.id, b);
	node_clear(&g);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, pa, collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], a);
	assert_string_equal(s.ids[1], a2);
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, pb, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], b);

	/* Trash and recover go through the same index. */
	assert_int_equal(store_node_trash(f->st, f->alice, a), CB_OK);
	mk(f, f->alice, pa, "f.txt", NULL, dup);
	cb_node out;
	node_init(&out);
	assert_int_equal(store_node_recover(f->st, f->alice, a, &out), CB_OK);
	assert_string_equal(out.name, "f (2).txt");
	assert_string_equal(out.parent, pa);
	node_clear(&out);
}

/* ======================= listings ======================= */

static void test_list_children_by_name(void **state)
{
	fx *f = (fx *)*state;
	char c[CB_ID_LEN + 1], a[CB_ID_LEN + 1], b[CB_ID_LEN + 1], sub[CB_ID_LEN + 1];
	char x[CB_ID_LEN + 1], t[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "c.txt", NULL, c);
	mk(f, f->alice, "docs", "a.txt", NULL, a);
	mk(f, f->alice, "docs", "sub", "folder", sub);
	mk(f, f->alice, "docs", "b.txt", NULL, b);
	mk(f, f->alice, "docs", "trashed.txt", NULL, t);
	assert_int_equal(store_node_trash(f->st, f->alice, t), CB_OK);
	mk(f, f->alice, "docs/sub", "x.txt", NULL, x);
	mk(f, f->alice, "docs2", "y.txt", NULL, x);
	mk(f, f->alice, "doc", "z.txt", NULL, x);
	mk(f, f->alice, "", "docs", "folder", x);
	mk(f, f->bob, "docs", "bob.txt", NULL, x);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[0], "a.txt");
	assert_string_equal(s.names[1], "b.txt");
	assert_string_equal(s.names[2], "c.txt");
	assert_string_equal(s.names[3], "sub");
	assert_string_equal(s.ids[0], a);
	assert_string_equal(s.ids[1], b);
	assert_string_equal(s.ids[2], c);
	assert_string_equal(s.ids[3], sub);

	/* The server sees the same. */
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, NULL, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 4);

	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "", collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "docs");

	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "nothing/here", collect, &s),
			 CB_OK);
	assert_int_equal(s.n, 0);
}

static void test_list_children_public_for_stranger(void **state)
{
	fx *f = (fx *)*state;
	char priv[CB_ID_LEN + 1], pub[CB_ID_LEN + 1], pub2[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "priv.txt", NULL, priv);
	mk(f, f->alice, "docs", "pub.txt", NULL, pub);
	mk(f, f->alice, "docs", "a-pub.txt", NULL, pub2);
	set_anyone(f, f->alice, pub, CB_ROLE_READER);
	set_anyone(f, f->alice, pub2, CB_ROLE_READER);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->bob, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], pub2);
	assert_string_equal(s.ids[1], pub);

	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, "", f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_false(seen_has(&s, priv));

	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 3);
}

static void test_list_owned_kinds(void **state)
{
	fx *f = (fx *)*state;
	char p1[CB_ID_LEN + 1], f1[CB_ID_LEN + 1], f2[CB_ID_LEN + 1], v[CB_ID_LEN + 1];
	char p2[CB_ID_LEN + 1], p3[CB_ID_LEN + 1];
	mk(f, f->alice, "", "p1", "project", p1);
	mk(f, f->alice, "x", "f1", NULL, f1);
	mk(f, f->alice, "y/z", "f2", "file", f2);
	mk(f, f->alice, "", "v", "Vendor#Kind", v);
	mk(f, f->alice, "", "p2", "project", p2);
	assert_int_equal(store_node_trash(f->st, f->alice, p2), CB_OK);
	mk(f, f->bob, "", "p3", "project", p3);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 4);
	assert_true(seen_has(&s, p1) && seen_has(&s, f1) && seen_has(&s, f2) && seen_has(&s, v));

	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, "project", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], p1);

	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, "file", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, f1) && seen_has(&s, f2));

	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, "Vendor#Kind", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], v);

	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, "space", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, "project", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], p2);
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, "file", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], p3);
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->carol, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
}

static void test_visit_stops_early(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	static const char *const names[] = {"a", "b", "c", "d", "e"};
	for (int i = 0; i < 5; i++)
		mk(f, f->alice, "docs", names[i], NULL, id);
	for (int i = 0; i < 3; i++) {
		char t[CB_ID_LEN + 1];
		mk(f, f->alice, "bin", names[i], NULL, t);
		assert_int_equal(store_node_trash(f->st, f->alice, t), CB_OK);
	}

	seen s;
	seen_reset(&s);
	s.stop_after = 2;
	assert_int_equal(store_list_children(f->st, f->alice, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "a");
	assert_string_equal(s.names[1], "b");

	seen_reset(&s);
	s.stop_after = 1;
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);

	seen_reset(&s);
	s.stop_after = 1;
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
}

/* CB_NODE_META loads each listed node's meta; without it meta is NULL. */
static void test_list_flags_meta(void **state)
{
	fx *f = (fx *)*state;
	char proj[CB_ID_LEN + 1], file[CB_ID_LEN + 1], plain[CB_ID_LEN + 1];
	char tr[CB_ID_LEN + 1], shared[CB_ID_LEN + 1];
	mk_meta(f, f->alice, "proj", "project", 1, proj);
	mk_meta(f, f->alice, "file", NULL, 2, file);
	mk_meta(f, f->alice, "plain", NULL, -1, plain);
	mk_meta(f, f->alice, "trashed", NULL, 3, tr);
	mk_meta(f, f->carol, "shared", "project", 4, shared);
	assert_int_equal(store_node_trash(f->st, f->alice, tr), CB_OK);
	assert_int_equal(store_grant(f->st, f->carol, shared, f->bob, CB_ROLE_READER), CB_OK);

	mseen s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, CB_NODE_META, collect_meta, &s),
			 CB_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(mseen_meta(&s, proj), 1);
	assert_int_equal(mseen_meta(&s, file), 2);
	assert_int_equal(mseen_meta(&s, plain), -1); /* none to load */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect_meta, &s), CB_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(mseen_meta(&s, proj), -1);
	assert_int_equal(mseen_meta(&s, file), -1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_owned(f->st, f->alice, "project", CB_NODE_META, collect_meta,
					  &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(mseen_meta(&s, proj), 1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, CB_NODE_META, collect_meta, &s),
			 CB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(mseen_meta(&s, tr), 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect_meta, &s), CB_OK);
	assert_int_equal(mseen_meta(&s, tr), -1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, CB_NODE_META, collect_meta, &s),
			 CB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(mseen_meta(&s, shared), 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_shared(f->st, f->bob, "project", 0, collect_meta, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(mseen_meta(&s, shared), -1);
}

/* ======================= access ======================= */

static void test_role_owner_public_stranger(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "r.txt", NULL, id);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->alice), CB_ROLE_OWNER);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_NONE);
	assert_int_equal(store_role(f->st, &n, ""), CB_ROLE_NONE);
	node_clear(&n);

	set_anyone(f, f->alice, id, CB_ROLE_READER);
	load(f, id, &n);
	assert_int_equal(n.anyone, CB_ROLE_READER);
	assert_int_equal(store_role(f->st, &n, f->alice), CB_ROLE_OWNER);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_READER);
	assert_int_equal(store_role(f->st, &n, ""), CB_ROLE_READER);
	node_clear(&n);
}

static void test_access_owner_and_server(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "o.txt", NULL, id);
	const cb_status all_ok[NACCESS] = {CB_OK, CB_OK, CB_OK, CB_OK, CB_OK, CB_OK, CB_OK};
	check_access(f, id, f->alice, all_ok);
	check_access(f, id, NULL, all_ok);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	check_access(f, id, f->alice, all_ok);
	check_access(f, id, NULL, all_ok);
}

static void test_access_stranger_private(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "secret.txt", NULL, id);
	const cb_status none[NACCESS] = {
		CB_ERR_NOTFOUND, CB_ERR_NOTFOUND, CB_ERR_NOTFOUND, CB_ERR_NOTFOUND,
		CB_ERR_NOTFOUND, CB_ERR_NOTFOUND, CB_ERR_NOTFOUND,
	};
	check_access(f, id, f->bob, none);
	check_access(f, id, "", none);

	assert_int_equal(get_status(f, f->bob, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, "", id), CB_ERR_NOTFOUND);
	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->bob, id, collect_grant, &gs), CB_ERR_NOTFOUND);
	assert_int_equal(gs.n, 0);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->bob, id, collect_rev, &rs),
			 CB_ERR_NOTFOUND);
	assert_int_equal(rs.n, 0);
	seen s;
	seen_reset(&s);
	store_list_children(f->st, f->bob, f->alice, "", collect, &s);
	assert_int_equal(s.n, 0);
}

static void test_access_public(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pub.txt", NULL, id);
	set_anyone(f, f->alice, id, CB_ROLE_READER);
	const cb_status reader[NACCESS] = {
		CB_OK,         CB_ERR_ACCESS, CB_ERR_ACCESS, CB_ERR_ACCESS,
		CB_ERR_ACCESS, CB_ERR_ACCESS, CB_ERR_ACCESS,
	};
	check_access(f, id, f->bob, reader);
	check_access(f, id, "", reader);
	assert_int_equal(get_status(f, f->bob, id), CB_OK);
	assert_int_equal(get_status(f, "", id), CB_OK);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->bob, f->alice, "", "pub.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	node_clear(&g);
	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->bob, id, collect_grant, &gs), CB_OK);
}

static void test_mutations_stranger_notfound(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "mine.txt", NULL, id);

	cb_node u;
	load(f, id, &u);
	snprintf(u.name, sizeof(u.name), "stolen.txt");
	u.anyone = CB_ROLE_READER;
	assert_int_equal(store_node_update(f->st, f->bob, &u, 0), CB_ERR_NOTFOUND);
	assert_int_equal(store_node_update(f->st, "", &u, 0), CB_ERR_NOTFOUND);
	node_clear(&u);
	assert_int_equal(store_node_trash(f->st, f->bob, id), CB_ERR_NOTFOUND);
	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_NOTFOUND);
	put_blob(f, blob, 3);
	fake_md5('b', md5);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, blob, 3, md5, NULL, NULL),
			 CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->bob, id, CB_ANYONE, CB_ROLE_READER),
			 CB_ERR_NOTFOUND);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "mine.txt");
	assert_int_equal(g.trashed, 0);
	assert_int_equal(g.anyone, CB_ROLE_NONE);
	assert_string_equal(g.blob, "");
	node_clear(&g);
	assert_int_equal(store_usage(f->st, f->alice), 0);
	assert_int_equal(store_usage(f->st, f->bob), 0);

	/* Nor may a stranger bring back alice's trash. */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_node_recover(f->st, f->bob, id, NULL), CB_ERR_NOTFOUND);
	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_NOTFOUND);
	load(f, id, &g);
	assert_true(g.trashed != 0);
	node_clear(&g);
}

static void test_mutations_public_reader(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "pub.txt", NULL, id);
	set_anyone(f, f->alice, id, CB_ROLE_READER);

	cb_node u;
	load(f, id, &u);
	snprintf(u.name, sizeof(u.name), "defaced.txt");
	assert_int_equal(store_node_update(f->st, f->bob, &u, 0), CB_ERR_ACCESS);
	node_clear(&u);
	assert_int_equal(store_node_trash(f->st, f->bob, id), CB_ERR_ACCESS);
	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_ACCESS);
	put_blob(f, blob, 3);
	fake_md5('b', md5);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, blob, 3, md5, NULL, NULL),
			 CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->bob, id, CB_ANYONE, CB_ROLE_NONE), CB_ERR_ACCESS);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "pub.txt");
	assert_int_equal(g.trashed, 0);
	assert_int_equal(g.anyone, CB_ROLE_READER);
	assert_string_equal(g.blob, "");
	node_clear(&g);
}

static void test_trashed_public_invisible(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pub.txt", NULL, id);
	set_anyone(f, f->alice, id, CB_ROLE_READER);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(get_status(f, f->bob, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, "", id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, f->alice, id), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_access(f->st, &n, f->bob, CB_ACCESS_READ), CB_ERR_NOTFOUND);
	node_clear(&n);
}

/* ---- with real users (grants) ---- */

static void test_access_reader_grant(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "shared.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_READER), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_READER);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_NONE);
	node_clear(&n);
	const cb_status reader[NACCESS] = {
		CB_OK,         CB_ERR_ACCESS, CB_ERR_ACCESS, CB_ERR_ACCESS,
		CB_ERR_ACCESS, CB_ERR_ACCESS, CB_ERR_ACCESS,
	};
	check_access(f, id, f->bob, reader);
	assert_int_equal(get_status(f, f->bob, id), CB_OK);

	cb_node u;
	load(f, id, &u);
	snprintf(u.name, sizeof(u.name), "by-reader.txt");
	assert_int_equal(store_node_update(f->st, f->bob, &u, 0), CB_ERR_ACCESS);
	node_clear(&u);
	assert_int_equal(store_node_trash(f->st, f->bob, id), CB_ERR_ACCESS);
	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_ACCESS);
	put_blob(f, blob, 4);
	fake_md5('c', md5);
	assert_int_equal(store_node_set_content(f->st, f->bob, id, blob, 4, md5, NULL, NULL),
			 CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_READER), CB_ERR_ACCESS);
	load(f, id, &n);
	assert_string_equal(n.name, "shared.txt");
	assert_int_equal(n.trashed, 0);
	assert_string_equal(n.blob, "");
	node_clear(&n);
}

static void test_access_commenter_grant(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "shared.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_COMMENTER), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_COMMENTER);
	node_clear(&n);
	const cb_status commenter[NACCESS] = {
		CB_OK,         CB_OK,         CB_ERR_ACCESS, CB_ERR_ACCESS,
		CB_ERR_ACCESS, CB_ERR_ACCESS, CB_ERR_ACCESS,
	};
	check_access(f, id, f->bob, commenter);
	cb_node u;
	load(f, id, &u);
	snprintf(u.name, sizeof(u.name), "by-commenter.txt");
	assert_int_equal(store_node_update(f->st, f->bob, &u, 0), CB_ERR_ACCESS);
	node_clear(&u);
}

static void test_access_writer_grant(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "shared.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_WRITER);
	node_clear(&n);
	const cb_status writer[NACCESS] = {
		CB_OK, CB_OK, CB_OK, CB_OK, CB_ERR_ACCESS, CB_OK, CB_ERR_ACCESS,
	};
	check_access(f, id, f->bob, writer);

	cb_node u;
	load(f, id, &u);
	snprintf(u.name, sizeof(u.name), "by-writer.txt");
	assert_int_equal(store_node_update(f->st, f->bob, &u, 0), CB_OK);
	node_clear(&u);
	load(f, id, &n);
	assert_string_equal(n.name, "by-writer.txt");
	assert_string_equal(n.owner, f->alice);
	assert_string_equal(n.parent, "docs");
	node_clear(&n);
	/* Still in alice's space, not bob's. */
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "by-writer.txt", &g),
			 CB_OK);
	node_clear(&g);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* Content by the writer counts against the owner. */
	content(f, f->bob, id, 7, 'd', blob);
	assert_int_equal(store_usage(f->st, f->alice), 7);
	assert_int_equal(store_usage(f->st, f->bob), 0);

	assert_int_equal(store_node_purge(f->st, f->bob, id), CB_ERR_ACCESS);
	assert_int_equal(store_node_trash(f->st, f->bob, id), CB_OK);
	load(f, id, &n);
	assert_true(n.trashed != 0);
	node_clear(&n);
}

static void test_trashed_invisible_to_grantees(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "t.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);

	assert_int_equal(get_status(f, f->bob, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, f->carol, id), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, f->alice, id), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_access(f->st, &n, f->bob, CB_ACCESS_READ), CB_ERR_NOTFOUND);
	assert_int_equal(store_access(f->st, &n, f->carol, CB_ACCESS_READ), CB_ERR_NOTFOUND);
	node_clear(&n);
	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->carol, id, collect_grant, &gs),
			 CB_ERR_NOTFOUND);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* Back from the trash, the grants hold again. */
	assert_int_equal(store_node_recover(f->st, f->alice, id, NULL), CB_OK);
	assert_int_equal(get_status(f, f->bob, id), CB_OK);
	assert_int_equal(get_status(f, f->carol, id), CB_OK);
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
}

static void test_list_children_shared(void **state)
{
	fx *f = (fx *)*state;
	char priv[CB_ID_LEN + 1], sh[CB_ID_LEN + 1], pub[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "c-priv.txt", NULL, priv);
	mk(f, f->alice, "docs", "b-shared.txt", NULL, sh);
	mk(f, f->alice, "docs", "a-pub.txt", NULL, pub);
	assert_int_equal(store_grant(f->st, f->alice, sh, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, pub, CB_ANYONE, CB_ROLE_READER), CB_OK);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->bob, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], pub);
	assert_string_equal(s.ids[1], sh);

	seen_reset(&s);
	assert_int_equal(store_list_children(f->st, f->carol, f->alice, "docs", collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], pub);
}

/* ======================= grants ======================= */

static void test_grant_add_change_remove(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "g.txt", NULL, id);
	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 0);

	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_READER), CB_OK);
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 1);
	assert_string_equal(gs.users[0], f->bob);
	assert_int_equal(gs.roles[0], CB_ROLE_READER);

	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 1);
	assert_int_equal(gs.roles[0], CB_ROLE_WRITER);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_WRITER);
	node_clear(&n);

	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_NONE), CB_OK);
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 0);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_NONE);
	assert_int_equal(store_access(f->st, &n, f->bob, CB_ACCESS_READ), CB_ERR_NOTFOUND);
	node_clear(&n);
	assert_int_equal(get_status(f, f->bob, id), CB_ERR_NOTFOUND);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* The server may grant too. */
	assert_int_equal(store_grant(f->st, NULL, id, f->carol, CB_ROLE_COMMENTER), CB_OK);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_COMMENTER);
	node_clear(&n);
}

static void test_list_grants_anyone_last(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pub.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, CB_ANYONE, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_COMMENTER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->dave, CB_ROLE_READER), CB_OK);

	cb_node n;
	load(f, id, &n);
	assert_int_equal(n.anyone, CB_ROLE_READER);
	assert_int_equal(store_role(f->st, &n, f->dave), CB_ROLE_READER);
	node_clear(&n);

	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 4);
	assert_string_equal(gs.users[3], CB_ANYONE);
	assert_int_equal(gs.roles[3], CB_ROLE_READER);
	assert_int_equal(gseen_role(&gs, f->bob), CB_ROLE_WRITER);
	assert_int_equal(gseen_role(&gs, f->carol), CB_ROLE_COMMENTER);
	assert_int_equal(gseen_role(&gs, f->dave), CB_ROLE_READER);
	assert_int_equal(gseen_role(&gs, f->alice), CB_ROLE_NONE); /* owner not listed */

	/* A grantee may see the grants. */
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->carol, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 4);
	assert_string_equal(gs.users[3], CB_ANYONE);

	/* Private again: anyone is no longer listed. */
	assert_int_equal(store_grant(f->st, f->alice, id, CB_ANYONE, CB_ROLE_NONE), CB_OK);
	load(f, id, &n);
	assert_int_equal(n.anyone, CB_ROLE_NONE);
	node_clear(&n);
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 3);
	assert_int_equal(gseen_role(&gs, CB_ANYONE), CB_ROLE_NONE);

	/* Made public by update, anyone is listed (last) as well. */
	set_anyone(f, f->alice, id, CB_ROLE_READER);
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 4);
	assert_string_equal(gs.users[3], CB_ANYONE);
}

static void test_list_shared(void **state)
{
	fx *f = (fx *)*state;
	char proj[CB_ID_LEN + 1], file[CB_ID_LEN + 1], pub[CB_ID_LEN + 1], tr[CB_ID_LEN + 1];
	char mine[CB_ID_LEN + 1], other[CB_ID_LEN + 1];
	mk(f, f->alice, "", "proj", "project", proj);
	mk(f, f->alice, "x", "file.txt", NULL, file);
	mk(f, f->alice, "", "pub.txt", NULL, pub);
	mk(f, f->alice, "", "trashed.txt", NULL, tr);
	mk(f, f->bob, "", "bobs.txt", NULL, mine);
	mk(f, f->dave, "", "daves.txt", NULL, other);
	assert_int_equal(store_grant(f->st, f->alice, proj, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, file, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, tr, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, pub, CB_ANYONE, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->dave, other, f->carol, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, tr), CB_OK);

	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, proj));
	assert_true(seen_has(&s, file));

	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, "project", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], proj);

	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, "file", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], file);

	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->carol, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], other);

	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	seen_reset(&s);
	s.stop_after = 1;
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
}

static void test_writer_shares_readers_only(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "w.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);

	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_READER), CB_OK);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_READER);
	node_clear(&n);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_NONE), CB_OK);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_NONE);
	node_clear(&n);

	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_WRITER), CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_COMMENTER), CB_ERR_ACCESS);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_NONE);
	node_clear(&n);

	/* Nor may a writer take away (or lower) someone's writer grant. */
	assert_int_equal(store_grant(f->st, f->alice, id, f->dave, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, id, f->dave, CB_ROLE_NONE), CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->bob, id, f->dave, CB_ROLE_READER), CB_ERR_ACCESS);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->dave), CB_ROLE_WRITER);
	node_clear(&n);

	/* A reader may not share at all; a stranger does not see the node. */
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->carol, id, f->dave, CB_ROLE_NONE), CB_ERR_ACCESS);
	char eve[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(eve), 0);
	assert_int_equal(store_grant(f->st, eve, id, f->carol, CB_ROLE_NONE), CB_ERR_NOTFOUND);
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_READER);
	node_clear(&n);
}

static void test_grant_invalid_targets(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], ghost[CB_ID_LEN + 1];
	mk(f, f->alice, "", "x.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->alice, CB_ROLE_READER), CB_ERR_INVAL);
	assert_int_equal(store_grant(f->st, NULL, id, f->alice, CB_ROLE_WRITER), CB_ERR_INVAL);

	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(store_grant(f->st, f->alice, id, ghost, CB_ROLE_READER), CB_ERR_NOTFOUND);

	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 0);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->alice), CB_ROLE_OWNER);
	node_clear(&n);

	/* Unknown node. */
	assert_int_equal(store_grant(f->st, f->alice, ghost, f->bob, CB_ROLE_READER), CB_ERR_NOTFOUND);
}

static void test_purge_removes_grants(void **state)
{
	fx *f = (fx *)*state;
	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a.txt", NULL, a);
	mk(f, f->alice, "", "b.txt", NULL, b);
	assert_int_equal(store_grant(f->st, f->alice, a, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, b, f->bob, CB_ROLE_WRITER), CB_OK);

	assert_int_equal(store_node_purge(f->st, f->alice, a), CB_OK);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], b);

	assert_int_equal(store_node_trash(f->st, f->alice, b), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->alice, b), CB_OK);
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);

	/* No grant records are left behind for either node. */
	store_txn txn;
	assert_int_equal(txn.begin(f->st, false), CB_OK);
	MDB_stat ms;
	assert_int_equal(mdb_stat(txn.t, f->st->grants, &ms), 0);
	assert_int_equal(ms.ms_entries, 0);
	assert_int_equal(mdb_stat(txn.t, f->st->grants_by_user, &ms), 0);
	assert_int_equal(ms.ms_entries, 0);
}

static void test_revision_user_is_actor(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 5);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1], b3[CB_ID_LEN + 1];
	mk(f, f->alice, "", "doc", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	content(f, f->alice, id, 3, '1', b1);
	usleep(2000);
	content(f, f->bob, id, 4, '2', b2);
	usleep(2000);
	content(f, f->alice, id, 5, '3', b3);

	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->bob, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.r[0].blob, "");
	assert_string_equal(rs.r[0].user, f->alice); /* alice gave the first */
	assert_string_equal(rs.r[1].blob, b1);
	assert_string_equal(rs.r[1].user, f->bob); /* bob replaced b1 */
	assert_string_equal(rs.r[2].blob, b2);
	assert_string_equal(rs.r[2].user, f->alice); /* alice replaced b2 */
	rseen_free(&rs);
	assert_int_equal(store_usage(f->st, f->alice), 12);
	assert_int_equal(store_usage(f->st, f->bob), 0);
}

static void test_reopen_keeps_grants(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "g.txt", "project", id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_COMMENTER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, CB_ANYONE, CB_ROLE_READER), CB_OK);
	reopen(f);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->bob), CB_ROLE_COMMENTER);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_READER);
	node_clear(&n);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, "project", 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	gseen gs;
	memset(&gs, 0, sizeof(gs));
	assert_int_equal(store_list_grants(f->st, f->bob, id, collect_grant, &gs), CB_OK);
	assert_int_equal(gs.n, 2);
	assert_string_equal(gs.users[1], CB_ANYONE);
}

static void test_purge_owner_drops_shares(void **state)
{
	fx *f = (fx *)*state;
	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a.txt", NULL, a);
	mk(f, f->carol, "", "c.txt", NULL, b);
	assert_int_equal(store_grant(f->st, f->alice, a, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->carol, b, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_purge_owner(f->st, f->alice), CB_OK);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_shared(f->st, f->bob, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], b);
}

/* ======================= revisions and usage ======================= */

static void test_set_content(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "c.bin", NULL, id);
	cb_node before;
	load(f, id, &before);
	usleep(5000);
	content(f, f->alice, id, 11, 'e', blob);
	fake_md5('e', md5);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.blob, blob);
	assert_int_equal(g.size, 11);
	assert_string_equal(g.md5, md5);
	assert_true(g.modified > before.modified);
	node_clear(&g);
	node_clear(&before);
	assert_int_equal(store_usage(f->st, f->alice), 11);

	/* the first content is a change too: its revision keeps none */
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].blob, "");
	assert_int_equal(rs.r[0].size, 0);
	assert_string_equal(rs.r[0].md5, "");
	rseen_free(&rs);

	char ghost[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(store_node_set_content(f->st, f->alice, ghost, blob, 11, md5, NULL, NULL),
			 CB_ERR_NOTFOUND);
}

static void test_revisions_keep_two(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	char id[CB_ID_LEN + 1], b[4][CB_ID_LEN + 1], md5[4][33];
	const size_t size[4] = {10, 20, 30, 40};
	const char md5c[4] = {'1', '2', '3', '4'};
	mk(f, f->alice, "", "doc", NULL, id);
	for (int i = 0; i < 4; i++) {
		if (i)
			usleep(2000);
		fake_md5(md5c[i], md5[i]);
		content(f, f->alice, id, size[i], md5c[i], b[i]);
	}

	/* The original content b0 fell off the end, with its file. */
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	for (int i = 0; i < 2; i++) {
		const cb_revision *r = &rs.r[i];
		assert_true(r->id[0] != 0);
		assert_string_equal(r->node, id);
		assert_string_equal(r->user, f->alice);
		assert_string_equal(r->blob, b[i + 1]);
		assert_int_equal(r->size, size[i + 1]);
		assert_string_equal(r->md5, md5[i + 1]);
		assert_true(r->created > 0);
		assert_null(r->patch);
	}
	assert_string_not_equal(rs.r[0].id, rs.r[1].id);
	assert_true(rs.r[0].created <= rs.r[1].created);
	rseen_free(&rs);

	assert_false(blob_exists(f, b[0]));
	assert_true(blob_exists(f, b[1]));
	assert_true(blob_exists(f, b[2]));
	assert_true(blob_exists(f, b[3]));

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.blob, b[3]);
	assert_int_equal(g.size, 40);
	assert_string_equal(g.md5, md5[3]);
	node_clear(&g);

	assert_int_equal(store_usage(f->st, f->alice), 20 + 30 + 40);
}

static void test_revisions_three_contents(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1], b3[CB_ID_LEN + 1];
	mk(f, f->alice, "", "doc", NULL, id);
	content(f, f->alice, id, 1, '1', b1);
	usleep(2000);
	content(f, f->alice, id, 2, '2', b2);
	usleep(2000);
	content(f, f->alice, id, 4, '3', b3);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].blob, b1);
	assert_int_equal(rs.r[0].size, 1);
	assert_string_equal(rs.r[1].blob, b2);
	assert_int_equal(rs.r[1].size, 2);
	rseen_free(&rs);
	assert_true(blob_exists(f, b1) && blob_exists(f, b2) && blob_exists(f, b3));
	assert_int_equal(store_usage(f->st, f->alice), 7);
}

/* Changes in quick succession land in the same millisecond; the order of
 * revisions (and which ones the trim drops) must still be chronological. */
static void test_revisions_order_same_ms(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 100);
	enum { N = 40 };
	char id[CB_ID_LEN + 1], b[N][CB_ID_LEN + 1];
	mk(f, f->alice, "", "fast", NULL, id);
	for (int i = 0; i < N; i++)
		content(f, f->alice, id, (size_t)i + 1, 'a', b[i]);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, N);
	/* Oldest first even when several changes share a millisecond; the
	 * first change kept no content. */
	assert_string_equal(rs.r[0].blob, "");
	for (int i = 0; i < N - 1; i++) {
		if (strcmp(rs.r[i + 1].blob, b[i]))
			print_error("revision %d: %s\n", i + 1,
				    "out of order (same-ms tie broken by the random revision id)");
		assert_string_equal(rs.r[i + 1].blob, b[i]);
		assert_int_equal(rs.r[i + 1].size, (uint64_t)i + 1);
	}
	rseen_free(&rs);
}

static void test_revisions_trim_same_ms(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	enum { N = 30 };
	char id[CB_ID_LEN + 1], b[N][CB_ID_LEN + 1];
	mk(f, f->alice, "", "fast", NULL, id);
	for (int i = 0; i < N; i++)
		content(f, f->alice, id, (size_t)i + 1, 'a', b[i]);
	/* Kept: the two newest previous contents; everything older is gone. */
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].blob, b[N - 3]);
	assert_string_equal(rs.r[1].blob, b[N - 2]);
	rseen_free(&rs);
	for (int i = 0; i < N - 3; i++)
		assert_false(blob_exists(f, b[i]));
	assert_true(blob_exists(f, b[N - 3]));
	assert_true(blob_exists(f, b[N - 2]));
	assert_true(blob_exists(f, b[N - 1]));
	assert_int_equal(store_usage(f->st, f->alice), (N - 2) + (N - 1) + N);
}

static void test_revision_patch(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 3);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1], b3[CB_ID_LEN + 1];
	mk(f, f->alice, "", "patched.json", NULL, id);
	cJSON *patch =
		cJSON_Parse("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1},"
			    "{\"op\":\"add\",\"path\":\"/b/-\",\"value\":{\"x\":[true]}}]");
	assert_non_null(patch);
	content(f, f->alice, id, 3, '1', b1);
	usleep(2000);
	content(f, f->alice, id, 4, '2', b2, patch);
	cJSON_Delete(patch); /* copied by the store */
	usleep(2000);
	content(f, f->alice, id, 5, '3', b3);

	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.r[0].blob, "");
	assert_null(rs.r[0].patch);
	assert_string_equal(rs.r[1].blob, b1);
	assert_non_null(rs.r[1].patch);
	cJSON *want =
		cJSON_Parse("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1},"
			    "{\"op\":\"add\",\"path\":\"/b/-\",\"value\":{\"x\":[true]}}]");
	assert_true(cJSON_Compare(rs.r[1].patch, want, true));
	cJSON_Delete(want);
	assert_string_equal(rs.r[2].blob, b2);
	assert_null(rs.r[2].patch);
	rseen_free(&rs);
}

static void test_revisions_keep_zero(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 0);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "nohist", NULL, id);
	content(f, f->alice, id, 8, '1', b1);
	content(f, f->alice, id, 9, '2', b2);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 0);
	assert_false(blob_exists(f, b1));
	assert_true(blob_exists(f, b2));
	assert_int_equal(store_usage(f->st, f->alice), 9);
	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.blob, b2);
	node_clear(&g);
}

static void test_usage_trash_and_purge(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	char a[CB_ID_LEN + 1], c[CB_ID_LEN + 1], b[3][CB_ID_LEN + 1], cb[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a", NULL, a);
	mk(f, f->alice, "", "c", NULL, c);
	for (int i = 0; i < 3; i++) {
		if (i)
			usleep(2000);
		content(f, f->alice, a, 100u << i, 'a', b[i]);
	}
	content(f, f->alice, c, 1000, 'c', cb);
	assert_int_equal(store_usage(f->st, f->alice), 100 + 200 + 400 + 1000);

	/* The trash keeps content (it can come back). */
	assert_int_equal(store_node_trash(f->st, f->alice, a), CB_OK);
	for (int i = 0; i < 3; i++)
		assert_true(blob_exists(f, b[i]));
	assert_int_equal(store_usage(f->st, f->alice), 100 + 200 + 400 + 1000);

	assert_int_equal(store_node_purge(f->st, f->alice, a), CB_OK);
	for (int i = 0; i < 3; i++)
		assert_false(blob_exists(f, b[i]));
	assert_int_equal(store_usage(f->st, f->alice), 1000);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, NULL, a, collect_rev, &rs), CB_ERR_NOTFOUND);
	assert_int_equal(rs.n, 0);

	assert_int_equal(store_node_purge(f->st, f->alice, c), CB_OK);
	assert_false(blob_exists(f, cb));
	assert_int_equal(store_usage(f->st, f->alice), 0);
}

static void test_purge_owner(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1], t[CB_ID_LEN + 1], other[CB_ID_LEN + 1];
	char ba[CB_ID_LEN + 1], ba2[CB_ID_LEN + 1], bt[CB_ID_LEN + 1], bo[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a", "project", a);
	mk(f, f->alice, "dir", "b", NULL, b);
	mk(f, f->alice, "", "t", NULL, t);
	mk(f, f->bob, "", "a", "project", other);
	content(f, f->alice, a, 10, '1', ba);
	usleep(2000);
	content(f, f->alice, a, 20, '2', ba2);
	content(f, f->alice, t, 30, '3', bt);
	content(f, f->bob, other, 40, '4', bo);
	assert_int_equal(store_node_trash(f->st, f->alice, t), CB_OK);

	assert_int_equal(store_purge_owner(f->st, f->alice), CB_OK);

	assert_int_equal(get_status(f, NULL, a), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, NULL, b), CB_ERR_NOTFOUND);
	assert_int_equal(get_status(f, NULL, t), CB_ERR_NOTFOUND);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_owned(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 0);
	assert_false(blob_exists(f, ba));
	assert_false(blob_exists(f, ba2));
	assert_false(blob_exists(f, bt));
	assert_int_equal(store_usage(f->st, f->alice), 0);

	/* bob's things are untouched. */
	assert_int_equal(get_status(f, f->bob, other), CB_OK);
	assert_true(blob_exists(f, bo));
	assert_int_equal(store_usage(f->st, f->bob), 40);

	/* The names are free again; purging an owner with nothing is fine. */
	char again[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a", "project", again);
	assert_int_equal(store_purge_owner(f->st, f->carol), CB_OK);
}

/* ======================= thumbnails ======================= */

/* The thumbnail changes with the other fields in one transaction: one
 * UPDATED event that shows both. */
static void test_thumb_set_with_update(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], thumb[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	content(f, f->alice, id, 1000, 'a', blob);
	put_thumb(f, thumb, 100);

	ev_count ev;
	ev_count_start(f, &ev);
	assert_int_equal(update_thumb(f, f->alice, id, thumb, CB_NODE_THUMB, "pic2.png"), CB_OK);
	events_unsubscribe(f->st, &ev.sub);
	assert_int_equal(ev.total, 1);
	assert_int_equal(ev.ops[CB_EV_UPDATED], 1);
	assert_string_equal(ev.name, "pic2.png");
	assert_string_equal(ev.thumb, thumb);

	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "pic2.png");
	assert_string_equal(g.thumb, thumb);
	assert_string_equal(g.blob, blob);
	assert_int_equal(g.size, 1000);
	node_clear(&g);
	assert_true(blob_exists(f, thumb));
	assert_int_equal(blob_size(f->st, thumb), 100);
	assert_int_equal(store_usage(f->st, f->alice), 1100);
}

/* A new thumbnail drops the old one (file and usage); "" removes it. */
static void test_thumb_replace_and_remove(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], t1[CB_ID_LEN + 1], t2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	put_thumb(f, t1, 100);
	assert_int_equal(update_thumb(f, f->alice, id, t1), CB_OK);
	assert_int_equal(store_usage(f->st, f->alice), 100);

	put_thumb(f, t2, 30);
	ev_count ev;
	ev_count_start(f, &ev);
	assert_int_equal(update_thumb(f, f->alice, id, t2), CB_OK);
	assert_int_equal(ev.total, 1);
	assert_thumb(f, id, t2);
	assert_false(blob_exists(f, t1));
	assert_true(blob_exists(f, t2));
	assert_int_equal(store_usage(f->st, f->alice), 30);

	assert_int_equal(update_thumb(f, f->alice, id, ""), CB_OK);
	events_unsubscribe(f->st, &ev.sub);
	assert_int_equal(ev.total, 2);
	assert_int_equal(ev.ops[CB_EV_UPDATED], 2);
	assert_string_equal(ev.thumb, "");
	assert_thumb(f, id, "");
	assert_false(blob_exists(f, t2));
	assert_int_equal(store_usage(f->st, f->alice), 0);
	/* removing none is fine */
	assert_int_equal(update_thumb(f, f->alice, id, ""), CB_OK);
	assert_thumb(f, id, "");
}

/* Over quota: refused, and nothing of the update happens. */
static void test_thumb_quota(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], thumb[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	content(f, f->alice, id, 60, 'a', blob);
	f->cfg.quota = 100;
	put_thumb(f, thumb, 50);

	ev_count ev;
	ev_count_start(f, &ev);
	assert_int_equal(update_thumb(f, f->alice, id, thumb, CB_NODE_THUMB, "renamed.png"),
			 CB_ERR_QUOTA);
	events_unsubscribe(f->st, &ev.sub);
	assert_int_equal(ev.total, 0);
	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "pic.png");
	assert_string_equal(g.thumb, "");
	node_clear(&g);
	assert_int_equal(store_usage(f->st, f->alice), 60);

	/* the refused blob is deleted (nothing owns it); up to the quota is fine */
	assert_false(blob_exists(f, thumb));
	f->cfg.quota = 110;
	put_thumb(f, thumb, 50);
	assert_int_equal(update_thumb(f, f->alice, id, thumb), CB_OK);
	assert_thumb(f, id, thumb);
	assert_int_equal(store_usage(f->st, f->alice), 110);
}

/* A blob that belongs to a node (its thumbnail or content, any owner's)
 * cannot become another node's thumbnail. */
static void test_thumb_blob_taken(void **state)
{
	fx *f = (fx *)*state;
	char a[CB_ID_LEN + 1], b[CB_ID_LEN + 1], theirs[CB_ID_LEN + 1];
	char content_a[CB_ID_LEN + 1], thumb[CB_ID_LEN + 1];
	mk(f, f->alice, "", "a.png", NULL, a);
	mk(f, f->alice, "", "b.png", NULL, b);
	mk(f, f->bob, "", "theirs.png", NULL, theirs);
	content(f, f->alice, a, 10, 'a', content_a);
	put_thumb(f, thumb, 20);
	assert_int_equal(update_thumb(f, f->alice, a, thumb), CB_OK);

	ev_count ev;
	ev_count_start(f, &ev);
	assert_int_equal(update_thumb(f, f->alice, b, thumb, CB_NODE_THUMB, "b2.png"),
			 CB_ERR_EXISTS);
	assert_int_equal(update_thumb(f, f->alice, b, content_a), CB_ERR_EXISTS);
	assert_int_equal(update_thumb(f, f->bob, theirs, thumb), CB_ERR_EXISTS);
	events_unsubscribe(f->st, &ev.sub);
	assert_int_equal(ev.total, 0);
	cb_node g;
	load(f, b, &g);
	assert_string_equal(g.name, "b.png");
	assert_string_equal(g.thumb, "");
	node_clear(&g);
	assert_thumb(f, theirs, "");
	assert_thumb(f, a, thumb);
	assert_true(blob_exists(f, thumb));
	assert_true(blob_exists(f, content_a));
	assert_int_equal(store_usage(f->st, f->alice), 30);
	assert_int_equal(store_usage(f->st, f->bob), 0);

	/* the node's own thumbnail again: whatever the answer, it stays */
	update_thumb(f, f->alice, a, thumb);
	assert_thumb(f, a, thumb);
	assert_true(blob_exists(f, thumb));
	assert_int_equal(store_usage(f->st, f->alice), 30);
}

/* Only a file in blobs/ is a blob: an id with no file, a partial upload's
 * file, or a path is not found. */
static void test_thumb_missing_blob(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], none[CB_ID_LEN + 1], partial_id[CB_ID_LEN + 1];
	char path[PATH_MAX];
	mk(f, f->alice, "", "pic.png", NULL, id);
	assert_int_equal(id_uuid4(none), 0);
	assert_int_equal(update_thumb(f, f->alice, id, none), CB_ERR_NOTFOUND);

	assert_int_equal(id_uuid4(partial_id), 0);
	store_partial_path(f->st, partial_id, path, sizeof(path));
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("partial", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(update_thumb(f, f->alice, id, partial_id), CB_ERR_NOTFOUND);

	/* as long as an id, naming a file that exists: the database */
	const char *traversal = "././././././././././../meta/data.mdb";
	assert_int_equal(strlen(traversal), CB_ID_LEN);
	assert_int_not_equal(update_thumb(f, f->alice, id, traversal), CB_OK);
	assert_int_not_equal(update_thumb(f, f->alice, id, "../meta"), CB_OK);
	assert_thumb(f, id, "");
	assert_int_equal(store_usage(f->st, f->alice), 0);
}

/* Without CB_NODE_THUMB the caller's thumb field is ignored. */
static void test_thumb_ignored_without_flag(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], t1[CB_ID_LEN + 1], t2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	put_thumb(f, t1, 50);
	put_thumb(f, t2, 70);
	assert_int_equal(update_thumb(f, f->alice, id, t1), CB_OK);

	assert_int_equal(update_thumb(f, f->alice, id, t2, 0, "renamed.png"), CB_OK);
	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.name, "renamed.png");
	assert_string_equal(g.thumb, t1);
	node_clear(&g);
	assert_int_equal(update_thumb(f, f->alice, id, "", 0), CB_OK);
	assert_int_equal(update_thumb(f, f->alice, id, "", CB_NAME_SUFFIX), CB_OK);
	assert_thumb(f, id, t1);
	assert_true(blob_exists(f, t1));
	assert_int_equal(store_usage(f->st, f->alice), 50);

	/* t2 was not taken by those: it still can be */
	assert_int_equal(update_thumb(f, f->alice, id, t2), CB_OK);
	assert_thumb(f, id, t2);
	assert_false(blob_exists(f, t1));
	assert_int_equal(store_usage(f->st, f->alice), 70);
}

/* Purging a node (or its owner) removes its thumbnail; the trash keeps it. */
static void test_thumb_purged_with_node(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], other[CB_ID_LEN + 1], blob[CB_ID_LEN + 1];
	char t1[CB_ID_LEN + 1], t2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	mk(f, f->alice, "", "other.png", NULL, other);
	content(f, f->alice, id, 10, 'a', blob);
	put_thumb(f, t1, 20);
	put_thumb(f, t2, 40);
	assert_int_equal(update_thumb(f, f->alice, id, t1), CB_OK);
	assert_int_equal(update_thumb(f, f->alice, other, t2), CB_OK);
	assert_int_equal(store_usage(f->st, f->alice), 70);

	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_true(blob_exists(f, t1));
	assert_int_equal(store_usage(f->st, f->alice), 70);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);
	assert_false(blob_exists(f, t1));
	assert_false(blob_exists(f, blob));
	assert_int_equal(store_usage(f->st, f->alice), 40);

	assert_int_equal(store_purge_owner(f->st, f->alice), CB_OK);
	assert_false(blob_exists(f, t2));
	assert_int_equal(store_usage(f->st, f->alice), 0);
}

/* A writer may set the thumbnail of someone's node; the owner pays. */
/* A swap at the quota counts the old thumbnail as gone. */
static void test_thumb_replace_at_quota(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], big[CB_ID_LEN + 1], small[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	put_thumb(f, big, 100);
	put_thumb(f, small, 10);
	f->cfg.quota = 100;
	assert_int_equal(update_thumb(f, f->alice, id, big), CB_OK);
	assert_int_equal(store_usage(f->st, f->alice), 100);
	assert_int_equal(update_thumb(f, f->alice, id, small), CB_OK);
	assert_thumb(f, id, small);
	assert_int_equal(store_usage(f->st, f->alice), 10);
	/* the same one again changes nothing, and is no error */
	assert_int_equal(update_thumb(f, f->alice, id, small), CB_OK);
	assert_thumb(f, id, small);
	assert_int_equal(store_usage(f->st, f->alice), 10);
}

static void test_thumb_charged_to_owner(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], t1[CB_ID_LEN + 1], t2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "pic.png", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_READER), CB_OK);
	put_thumb(f, t1, 40);
	put_thumb(f, t2, 60);
	assert_int_equal(update_thumb(f, f->bob, id, t1), CB_OK);
	assert_thumb(f, id, t1);
	assert_int_equal(store_usage(f->st, f->alice), 40);
	assert_int_equal(store_usage(f->st, f->bob), 0);

	/* a reader may not, a stranger does not even find the node */
	assert_int_equal(update_thumb(f, f->carol, id, t2), CB_ERR_ACCESS);
	assert_int_equal(update_thumb(f, f->dave, id, t2), CB_ERR_NOTFOUND);
	assert_thumb(f, id, t1);
	assert_int_equal(store_usage(f->st, f->alice), 40);
	assert_int_equal(store_usage(f->st, f->carol), 0);
}

/* ======================= persistence ======================= */

static void test_reopen_keeps_everything(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 2);
	char id[CB_ID_LEN + 1], tr[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	cb_node n;
	node_fill(&n, "p/q", "keep.json", "project");
	snprintf(n.mime, sizeof(n.mime), "application/json");
	n.meta = cJSON_Parse("{\"name\":\"kept\",\"n\":[1,2]}");
	cJSON_AddItemToArray(n.tags, cJSON_CreateString("tag"));
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	snprintf(id, sizeof(id), "%s", n.id);
	content(f, f->alice, id, 6, '1', b1);
	usleep(2000);
	content(f, f->alice, id, 7, '2', b2);
	set_anyone(f, f->alice, id, CB_ROLE_READER);
	mk(f, f->alice, "", "bin.txt", NULL, tr);
	assert_int_equal(store_node_trash(f->st, f->alice, tr), CB_OK);

	reopen(f);

	cb_node g;
	load(f, id, &g, CB_NODE_META);
	assert_string_equal(g.name, "keep.json");
	assert_string_equal(g.parent, "p/q");
	assert_string_equal(g.kind, "project");
	assert_string_equal(g.mime, "application/json");
	assert_string_equal(g.owner, f->alice);
	assert_string_equal(g.blob, b2);
	assert_int_equal(g.size, 7);
	assert_int_equal(g.anyone, CB_ROLE_READER);
	assert_int_equal(g.created, n.created);
	assert_true(cJSON_Compare(g.meta, n.meta, true));
	assert_true(cJSON_Compare(g.tags, n.tags, true));
	node_clear(&g);
	node_clear(&n);

	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->bob, f->alice, "p/q", "keep.json", &g), CB_OK);
	node_clear(&g);
	seen s;
	seen_reset(&s);
	assert_int_equal(store_list_trash(f->st, f->alice, NULL, 0, collect, &s), CB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], tr);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].blob, "");
	assert_string_equal(rs.r[1].blob, b1);
	rseen_free(&rs);
	assert_int_equal(store_usage(f->st, f->alice), 13);

	/* Names stay taken across the reopen. */
	char dup[CB_ID_LEN + 1];
	assert_int_equal(create(f, f->alice, "p/q", "keep.json", NULL, dup), CB_ERR_EXISTS);
}

static void test_schema_mismatch(void **state)
{
	fx *f = (fx *)*state;
	MDB_txn *t;
	assert_int_equal(mdb_txn_begin(f->st->env, NULL, 0, &t), 0);
	MDB_val k = {6, (void *)"schema"}, v = {3, (void *)"999"};
	assert_int_equal(mdb_put(t, f->st->info, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	cb_store *st = (cb_store *)&k; /* must be reset to NULL */
	assert_int_equal(store_open(&f->cfg, &st), CB_ERR_STATE);
	assert_null(st);
}

/* A stranger learns nothing from store_grant, not even that the owner or
 * role it named was wrong. */
static void test_grant_stranger_learns_nothing(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "private.txt", NULL, id);
	assert_int_equal(store_grant(f->st, f->bob, id, f->alice, CB_ROLE_READER), CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_OWNER), CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_READER), CB_ERR_NOTFOUND);
	/* the owner gets the real answer */
	assert_int_equal(store_grant(f->st, f->alice, id, f->alice, CB_ROLE_READER), CB_ERR_INVAL);
}

/* A refused read leaves nothing of the node in out. */
static void test_refused_read_leaves_out_empty(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "docs", "private.txt", NULL, id);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, f->bob, id, &n, CB_NODE_META), CB_ERR_NOTFOUND);
	assert_string_equal(n.name, "");
	assert_string_equal(n.owner, "");
	assert_null(n.meta);
	assert_int_equal(store_node_find(f->st, f->bob, f->alice, "docs", "private.txt", &n),
			 CB_ERR_NOTFOUND);
	assert_string_equal(n.name, "");
	assert_string_equal(n.id, "");
	node_clear(&n);
}

/* find takes a directory in any spelling list_children accepts. */
static void test_find_normalizes_parent(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "dir/sub", "a.txt", NULL, id);
	const char *spellings[] = {"dir/sub", "dir/sub/", "./dir//sub", "dir/./sub"};
	for (const char *p : spellings) {
		cb_node n;
		node_init(&n);
		assert_int_equal(store_node_find(f->st, f->alice, f->alice, p, "a.txt", &n), CB_OK);
		assert_string_equal(n.id, id);
		node_clear(&n);
	}
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "../dir", "a.txt", &n),
			 CB_ERR_NOTFOUND);
	node_clear(&n);
}

/* A name whose "extension" is too long for a suffix still gets one. */
static void test_suffix_long_extension(void **state)
{
	fx *f = (fx *)*state;
	char name[CB_NAME_MAX + 1], id1[CB_ID_LEN + 1], id2[CB_ID_LEN + 1];
	memset(name, 'x', CB_NAME_MAX);
	name[0] = 'a';
	name[1] = '.';
	name[CB_NAME_MAX] = 0;
	mk(f, f->alice, "", name, NULL, id1);
	assert_int_equal(store_node_trash(f->st, f->alice, id1), CB_OK);
	mk(f, f->alice, "", name, NULL, id2);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_recover(f->st, f->alice, id1, &n), CB_OK);
	assert_int_equal(strlen(n.name), CB_NAME_MAX);
	assert_non_null(strstr(n.name, " (2)"));
	node_clear(&n);
}

/* ======================= spec 3: the node's JSON ======================= */

/* node_json() of id as loaded by the server with `flags`; the caller
 * deletes it. */
static cJSON *json_of(fx *f, const char *id, int flags = CB_NODE_META | CB_NODE_GRANTS)
{
	cb_node n;
	load(f, id, &n, flags);
	cJSON *j = node_json(&n);
	assert_non_null(j);
	node_clear(&n);
	return j;
}

static const char *jstr(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static double jnum(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

/* a and b are equal but for "modified" (both are changed). */
static void assert_same_but_modified(cJSON *a, cJSON *b)
{
	cJSON_DeleteItemFromObjectCaseSensitive(a, "modified");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "modified");
	char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
	if (!cJSON_Compare(a, b, 1))
		print_error("differ:\n %s\n %s\n", ta, tb);
	cJSON_free(ta);
	cJSON_free(tb);
	assert_true(cJSON_Compare(a, b, 1));
}

static void test_node_json_shape(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], blob[CB_ID_LEN + 1], want[2048];
	cb_node n;
	node_fill(&n, "docs", "notes.txt", NULL);
	snprintf(n.mime, sizeof(n.mime), "text/plain");
	cJSON_AddItemToArray(n.tags, cJSON_CreateString("a"));
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	snprintf(id, sizeof(id), "%s", n.id);
	node_clear(&n);

	/* no meta, no content, grants not loaded */
	load(f, id, &n, CB_NODE_META);
	cJSON *j = node_json(&n);
	assert_non_null(j);
	static const char *const members[] = {"id",   "kind",    "owner",    "name",   "parent",
					      "mime", "size",    "md5",      "tags",   "meta",
					      "created", "modified", "trashed", "permissions"};
	const cJSON *m;
	size_t i = 0;
	cJSON_ArrayForEach(m, j) {
		assert_true(i < sizeof(members) / sizeof(members[0]));
		assert_string_equal(m->string, members[i]);
		i++;
	}
	assert_int_equal(i, sizeof(members) / sizeof(members[0]));
	snprintf(want, sizeof(want),
		 "{\"id\":\"%s\",\"kind\":\"file\",\"owner\":\"%s\",\"name\":\"notes.txt\","
		 "\"parent\":\"docs\",\"mime\":\"text/plain\",\"size\":0,\"md5\":\"\","
		 "\"tags\":[\"a\"],\"meta\":null,\"created\":%lld,\"modified\":%lld,"
		 "\"trashed\":0,\"permissions\":{}}",
		 id, f->alice, (long long)n.created, (long long)n.modified);
	assert_true(t_json_is(j, want));
	assert_true(n.created > 0);
	cJSON_Delete(j);
	node_clear(&n);

	/* content, meta and grants: the owner is not among the permissions,
	 * anyone comes last */
	content(f, f->alice, id, 12, 'e', blob);
	load(f, id, &n, CB_NODE_META);
	n.meta = cJSON_Parse("{\"k\":[1,{\"x\":null}]}");
	assert_int_equal(store_node_update(f->st, f->alice, &n, 0), CB_OK);
	node_clear(&n);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, CB_ANYONE, CB_ROLE_READER), CB_OK);
	node_init(&n);
	assert_int_equal(store_node_get(f->st, f->bob, id, &n, CB_NODE_META | CB_NODE_GRANTS),
			 CB_OK);
	j = node_json(&n);
	snprintf(want, sizeof(want),
		 "{\"id\":\"%s\",\"kind\":\"file\",\"owner\":\"%s\",\"name\":\"notes.txt\","
		 "\"parent\":\"docs\",\"mime\":\"text/plain\",\"size\":12,"
		 "\"md5\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\",\"tags\":[\"a\"],"
		 "\"meta\":{\"k\":[1,{\"x\":null}]},\"created\":%lld,\"modified\":%lld,"
		 "\"trashed\":0,\"permissions\":{\"%s\":\"reader\",\"%s\":\"writer\","
		 "\"anyone\":\"reader\"}}",
		 id, f->alice, (long long)n.created, (long long)n.modified, f->bob, f->carol);
	assert_true(t_json_is(j, want));
	const cJSON *perms = cJSON_GetObjectItemCaseSensitive(j, "permissions");
	assert_non_null(perms->child);
	const cJSON *lastp = perms->child->prev; /* cJSON: the first's prev is the last */
	assert_string_equal(lastp->string, CB_ANYONE);
	cJSON_Delete(j);
	node_clear(&n);

	/* loaded without CB_NODE_GRANTS: {} */
	load(f, id, &n, CB_NODE_META);
	assert_null(n.grants);
	j = node_json(&n);
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(j, "permissions"), "{}"));
	cJSON_Delete(j);
	node_clear(&n);

	/* trashed: when, in ms */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	load(f, id, &n, CB_NODE_GRANTS);
	j = node_json(&n);
	assert_true(n.trashed > 0);
	assert_true(jnum(j, "trashed") == (double)n.trashed);
	cJSON_Delete(j);
	node_clear(&n);
}

/* ======================= spec 3: patching metadata ======================= */

/* store_node_patch() of the patch in text by actor; the revert to *revert
 * when not NULL, the error text to err. */
static cb_status npatch(fx *f, const char *actor, const char *id, const char *text,
			cJSON **revert = NULL, char *err = NULL, size_t errsz = 0)
{
	char buf[256];
	cJSON *p = cJSON_Parse(text);
	if (!p)
		print_error("bad test patch %s\n", text);
	assert_non_null(p);
	cb_status s = store_node_patch(f->st, actor, id, p, revert, err ? err : buf,
				       err ? errsz : sizeof(buf));
	cJSON_Delete(p);
	return s;
}

/* Creates alice's docs/a.txt with meta and tags for the patch tests. */
static void mk_patchable(fx *f, const char *name, char id[CB_ID_LEN + 1])
{
	cb_node n;
	node_fill(&n, "docs", name, NULL);
	n.meta = cJSON_Parse("{\"title\":\"t\",\"deep\":{\"x\":1,\"y\":[1,2]}}");
	cJSON_AddItemToArray(n.tags, cJSON_CreateString("a"));
	assert_int_equal(store_node_create(f->st, f->alice, &n, 0), CB_OK);
	snprintf(id, CB_ID_LEN + 1, "%s", n.id);
	node_clear(&n);
}

static void test_node_patch_and_revert(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], err[256];
	mk_patchable(f, "a.txt", id);
	cJSON *before = json_of(f, id);
	usleep(2000);

	cJSON *revert = NULL;
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b.txt\"},"
				"{\"op\":\"replace\",\"path\":\"/meta/deep/x\",\"value\":2},"
				"{\"op\":\"add\",\"path\":\"/meta/deep/z\",\"value\":\"new\"},"
				"{\"op\":\"remove\",\"path\":\"/meta/title\"},"
				"{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"b\"},"
				"{\"op\":\"replace\",\"path\":\"/mime\",\"value\":\"text/plain\"}]",
				&revert, err, sizeof(err)),
			 CB_OK);
	assert_string_equal(err, "");
	assert_non_null(revert);
	assert_true(cJSON_IsArray(revert));

	cJSON *after = json_of(f, id);
	assert_string_equal(jstr(after, "name"), "b.txt");
	assert_string_equal(jstr(after, "mime"), "text/plain");
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(after, "meta"),
			      "{\"deep\":{\"x\":2,\"y\":[1,2],\"z\":\"new\"}}"));
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(after, "tags"), "[\"a\",\"b\"]"));
	assert_true(jnum(after, "modified") > jnum(before, "modified"));
	assert_true(jnum(after, "created") == jnum(before, "created"));
	/* the name moved in the namespace */
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "b.txt", &g), CB_OK);
	assert_string_equal(g.id, id);
	node_clear(&g);
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "a.txt", &g),
			 CB_ERR_NOTFOUND);
	node_clear(&g);

	/* the revert, applied as a patch, gives the node back as it was */
	cJSON *revert2 = NULL;
	assert_int_equal(store_node_patch(f->st, f->alice, id, revert, &revert2, err, sizeof(err)),
			 CB_OK);
	assert_non_null(revert2);
	cJSON *back = json_of(f, id);
	cJSON *before_copy = cJSON_Duplicate(before, 1);
	assert_same_but_modified(before_copy, back);
	cJSON_Delete(before_copy);
	cJSON_Delete(back);
	/* ... and the revert of that redoes the first patch */
	assert_int_equal(store_node_patch(f->st, f->alice, id, revert2, NULL, err, sizeof(err)),
			 CB_OK);
	back = json_of(f, id);
	assert_same_but_modified(after, back);
	cJSON_Delete(back);
	cJSON_Delete(after);
	cJSON_Delete(revert);
	cJSON_Delete(revert2);
	cJSON_Delete(before);
}

static void test_node_patch_move_and_meta(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], bare[CB_ID_LEN + 1];
	mk_patchable(f, "a.txt", id);

	/* into another folder: found there */
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/parent\",\"value\":\"other/sub\"}]"),
			 CB_OK);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "other/sub", "a.txt", &g),
			 CB_OK);
	assert_string_equal(g.id, id);
	node_clear(&g);

	/* removing /meta: meta is null */
	cJSON *revert = NULL, *j;
	assert_int_equal(npatch(f, f->alice, id, "[{\"op\":\"remove\",\"path\":\"/meta\"}]",
				&revert),
			 CB_OK);
	j = json_of(f, id);
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(j, "meta"), "null"));
	cJSON_Delete(j);
	/* the revert brings it back */
	char err[256];
	assert_int_equal(store_node_patch(f->st, f->alice, id, revert, NULL, err, sizeof(err)),
			 CB_OK);
	cJSON_Delete(revert);
	j = json_of(f, id);
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(j, "meta"),
			      "{\"title\":\"t\",\"deep\":{\"x\":1,\"y\":[1,2]}}"));
	cJSON_Delete(j);

	/* a node without meta gets one, and loses it again by the revert */
	mk(f, f->alice, "", "bare", NULL, bare);
	revert = NULL;
	assert_int_equal(npatch(f, f->alice, bare,
				"[{\"op\":\"replace\",\"path\":\"/meta\",\"value\":{\"a\":[true]}}]",
				&revert),
			 CB_OK);
	j = json_of(f, bare);
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(j, "meta"), "{\"a\":[true]}"));
	cJSON_Delete(j);
	assert_int_equal(store_node_patch(f->st, f->alice, bare, revert, NULL, err, sizeof(err)),
			 CB_OK);
	cJSON_Delete(revert);
	j = json_of(f, bare);
	assert_true(t_json_is(cJSON_GetObjectItemCaseSensitive(j, "meta"), "null"));
	cJSON_Delete(j);

	/* read-only fields may be tested (and "replaced" by themselves) */
	char p[512];
	cJSON *cur = json_of(f, id);
	snprintf(p, sizeof(p),
		 "[{\"op\":\"test\",\"path\":\"/modified\",\"value\":%.0f},"
		 "{\"op\":\"replace\",\"path\":\"/id\",\"value\":\"%s\"},"
		 "{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"c.txt\"}]",
		 jnum(cur, "modified"), id);
	cJSON_Delete(cur);
	assert_int_equal(npatch(f, f->alice, id, p, NULL, err, sizeof(err)), CB_OK);
	j = json_of(f, id);
	assert_string_equal(jstr(j, "name"), "c.txt");
	assert_string_equal(jstr(j, "id"), id);
	cJSON_Delete(j);
}

/* Every refused patch: the status, the exact error text (or its start),
 * and nothing changed, "modified" included. */
static void test_node_patch_refusals(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], other[CB_ID_LEN + 1], err[256], p[512];
	mk_patchable(f, "a.txt", id);
	mk_patchable(f, "b.txt", other);
	cJSON *before = json_of(f, id);
	usleep(2000);

	struct {
		const char *field, *value;
	} const ro[] = {
		{"id", "\"other\""},      {"kind", "\"project\""}, {"owner", "\"someone\""},
		{"size", "5"},            {"md5", "\"abc\""},      {"created", "1"},
		{"modified", "1"},        {"trashed", "1"},        {"permissions", "{\"x\":\"reader\"}"},
	};
	for (const auto &r : ro) {
		snprintf(p, sizeof(p), "[{\"op\":\"replace\",\"path\":\"/%s\",\"value\":%s}]",
			 r.field, r.value);
		assert_int_equal(npatch(f, f->alice, id, p, NULL, err, sizeof(err)), CB_ERR_INVAL);
		char want[64];
		snprintf(want, sizeof(want), "read-only field: %s", r.field);
		assert_string_equal(err, want);
		/* removing one is changing it too */
		snprintf(p, sizeof(p), "[{\"op\":\"remove\",\"path\":\"/%s\"}]", r.field);
		assert_int_equal(npatch(f, f->alice, id, p, NULL, err, sizeof(err)), CB_ERR_INVAL);
		assert_string_equal(err, want);
	}
	/* a change inside one, after an allowed change */
	snprintf(p, sizeof(p),
		 "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"z\"},"
		 "{\"op\":\"add\",\"path\":\"/permissions/%s\",\"value\":\"writer\"}]",
		 f->bob);
	assert_int_equal(npatch(f, f->alice, id, p, NULL, err, sizeof(err)), CB_ERR_INVAL);
	assert_string_equal(err, "read-only field: permissions");

	assert_int_equal(npatch(f, f->alice, id, "[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]",
				NULL, err, sizeof(err)),
			 CB_ERR_INVAL);
	assert_string_equal(err, "unknown field: x");
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"add\",\"path\":\"/anyone\",\"value\":\"reader\"}]", NULL,
				err, sizeof(err)),
			 CB_ERR_INVAL);
	assert_string_equal(err, "unknown field: anyone");

	/* malformed, or cannot apply */
	static const char *const bad[] = {
		"{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"z\"}",
		"[{\"op\":\"frob\",\"path\":\"/name\"}]",
		"[{\"op\":\"replace\",\"path\":\"name\",\"value\":\"z\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\"}]",
		"[{\"op\":\"remove\",\"path\":\"/meta/nope\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"z\"},"
		"{\"op\":\"remove\",\"path\":\"/tags/5\"}]",
		"[{\"op\":\"remove\",\"path\":\"\"}]",
	};
	for (const char *b : bad) {
		err[0] = 0;
		assert_int_equal(npatch(f, f->alice, id, b, NULL, err, sizeof(err)), CB_ERR_INVAL);
		if (strncmp(err, "invalid patch: ", 15))
			print_error("patch %s: err \"%s\"\n", b, err);
		assert_true(strncmp(err, "invalid patch: ", 15) == 0);
		assert_true(strlen(err) > 15);
	}

	/* a failed test: CB_ERR_TEST, nothing done */
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"z\"},"
				"{\"op\":\"test\",\"path\":\"/meta/title\",\"value\":\"other\"}]",
				NULL, err, sizeof(err)),
			 CB_ERR_TEST);
	assert_true(strncmp(err, "test failed: ", 13) == 0);
	assert_true(strlen(err) > 13);

	/* a node that would be invalid */
	static const char *const invalid[] = {
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"a/b\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"..\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"\"}]",
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":5}]",
		"[{\"op\":\"remove\",\"path\":\"/name\"}]",
		"[{\"op\":\"replace\",\"path\":\"/parent\",\"value\":\"../up\"}]",
		"[{\"op\":\"replace\",\"path\":\"/parent\",\"value\":[]}]",
		"[{\"op\":\"replace\",\"path\":\"/mime\",\"value\":3}]",
		"[{\"op\":\"replace\",\"path\":\"/tags\",\"value\":\"x\"}]",
		"[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":1}]",
	};
	for (const char *b : invalid) {
		err[0] = 0;
		assert_int_equal(npatch(f, f->alice, id, b, NULL, err, sizeof(err)), CB_ERR_INVAL);
		if (strncmp(err, "invalid file: ", 14))
			print_error("patch %s: err \"%s\"\n", b, err);
		assert_true(strncmp(err, "invalid file: ", 14) == 0);
		assert_true(strlen(err) > 14);
	}
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":5}]", NULL, err,
				sizeof(err)),
			 CB_ERR_INVAL);
	assert_string_equal(err, "invalid file: name must be a string");
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/tags\",\"value\":{}}]", NULL, err,
				sizeof(err)),
			 CB_ERR_INVAL);
	assert_string_equal(err, "invalid file: tags must be an array of strings");
	char longname[CB_NAME_MAX + 2];
	memset(longname, 'n', CB_NAME_MAX + 1);
	longname[CB_NAME_MAX + 1] = 0;
	snprintf(p, sizeof(p), "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"%s\"}]",
		 longname);
	assert_int_equal(npatch(f, f->alice, id, p, NULL, err, sizeof(err)), CB_ERR_INVAL);
	assert_string_equal(err, "invalid file: name too long");

	/* the name of another node in the folder */
	assert_int_equal(npatch(f, f->alice, id,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b.txt\"}]", NULL,
				err, sizeof(err)),
			 CB_ERR_EXISTS);

	/* an unknown node */
	char ghost[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(npatch(f, f->alice, ghost,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"q\"}]", NULL,
				err, sizeof(err)),
			 CB_ERR_NOTFOUND);

	cJSON *now = json_of(f, id);
	if (!cJSON_Compare(before, now, 1)) {
		char *a = cJSON_PrintUnformatted(before), *b = cJSON_PrintUnformatted(now);
		print_error("changed:\n %s\n %s\n", a, b);
		cJSON_free(a);
		cJSON_free(b);
	}
	assert_true(cJSON_Compare(before, now, 1));
	cJSON_Delete(now);
	cJSON_Delete(before);
	cb_node g;
	node_init(&g);
	assert_int_equal(store_node_find(f->st, f->alice, f->alice, "docs", "b.txt", &g), CB_OK);
	assert_string_equal(g.id, other);
	node_clear(&g);
}

static void test_node_patch_access(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], pub[CB_ID_LEN + 1];
	mk_patchable(f, "a.txt", id);
	mk_patchable(f, "p.txt", pub);
	set_anyone(f, f->alice, pub, CB_ROLE_READER);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->alice, id, f->dave, CB_ROLE_COMMENTER), CB_OK);
	const char *p = "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"r.txt\"}]";
	cJSON *before = json_of(f, id);

	assert_int_equal(npatch(f, f->bob, id, p), CB_ERR_ACCESS);     /* reader */
	assert_int_equal(npatch(f, f->dave, id, p), CB_ERR_ACCESS);    /* commenter */
	assert_int_equal(npatch(f, f->carol, id, p), CB_ERR_NOTFOUND); /* stranger */
	assert_int_equal(npatch(f, f->carol, pub, p), CB_ERR_ACCESS);  /* public reader */
	assert_int_equal(npatch(f, "", pub, p), CB_ERR_ACCESS);        /* anonymous */
	cJSON *now = json_of(f, id);
	assert_true(cJSON_Compare(before, now, 1));
	cJSON_Delete(now);
	cJSON_Delete(before);

	/* a writer may; the server too */
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(npatch(f, f->bob, id, p), CB_OK);
	now = json_of(f, id);
	assert_string_equal(jstr(now, "name"), "r.txt");
	assert_string_equal(jstr(now, "owner"), f->alice);
	cJSON_Delete(now);
	assert_int_equal(npatch(f, NULL, id,
				"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"s.txt\"}]"),
			 CB_OK);
	/* a trashed node is its owner's alone */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(npatch(f, f->bob, id, p), CB_ERR_NOTFOUND);
}

/* ======================= spec 3: content ======================= */

/* Every content change is a revision, the first one too (it keeps "no
 * content"); blob "" removes the content, which a revision keeps. */
static void test_content_first_and_removed(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 5);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], md5[33];
	mk(f, f->alice, "", "c.bin", NULL, id);

	/* nothing to remove yet */
	assert_int_equal(store_node_set_content(f->st, f->alice, id, "", 0, "", NULL, NULL),
			 CB_ERR_STATE);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 0);

	content(f, f->alice, id, 11, 'e', b1);
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].blob, "");
	assert_int_equal(rs.r[0].size, 0);
	assert_string_equal(rs.r[0].md5, "");
	assert_string_equal(rs.r[0].user, f->alice);
	assert_string_equal(rs.r[0].node, id);
	assert_null(rs.r[0].patch);
	rseen_free(&rs);

	/* removed: the node has none, the revision keeps b1 (and its bytes
	 * still count) */
	usleep(2000);
	assert_int_equal(store_node_set_content(f->st, f->alice, id, "", 0, "", NULL, NULL),
			 CB_OK);
	cb_node g;
	load(f, id, &g);
	assert_string_equal(g.blob, "");
	assert_int_equal(g.size, 0);
	assert_string_equal(g.md5, "");
	node_clear(&g);
	fake_md5('e', md5);
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[1].blob, b1);
	assert_int_equal(rs.r[1].size, 11);
	assert_string_equal(rs.r[1].md5, md5);
	assert_true(rs.r[1].created >= rs.r[0].created);
	rseen_free(&rs);
	assert_true(blob_exists(f, b1));
	assert_int_equal(store_usage(f->st, f->alice), 11);
	cJSON *j = json_of(f, id);
	assert_true(jnum(j, "size") == 0);
	assert_string_equal(jstr(j, "md5"), "");
	cJSON_Delete(j);

	/* twice is once too many */
	assert_int_equal(store_node_set_content(f->st, f->alice, id, "", 0, "", NULL, NULL),
			 CB_ERR_STATE);
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	rseen_free(&rs);

	/* without revisions, the removed content goes at once */
	char other[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	set_keep(f, 0);
	mk(f, f->alice, "", "d.bin", NULL, other);
	content(f, f->alice, other, 7, 'd', b2);
	assert_int_equal(store_node_set_content(f->st, f->alice, other, "", 0, "", NULL, NULL),
			 CB_OK);
	assert_false(blob_exists(f, b2));
	assert_int_equal(store_list_revisions(f->st, f->alice, other, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 0);
	load(f, other, &g);
	assert_string_equal(g.blob, "");
	node_clear(&g);
}

/* The revision with no content ("" blob) is trimmed like any other. */
static void test_content_empty_revision_trimmed(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 1);
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1];
	mk(f, f->alice, "", "t.bin", NULL, id);
	content(f, f->alice, id, 3, '1', b1);
	content(f, f->alice, id, 4, '2', b2);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].blob, b1);
	rseen_free(&rs);
	assert_int_equal(store_usage(f->st, f->alice), 7);
	assert_int_equal(store_node_purge(f->st, f->alice, id), CB_OK);
	assert_int_equal(store_usage(f->st, f->alice), 0);
	assert_false(blob_exists(f, b1));
	assert_false(blob_exists(f, b2));
}

/* store_content_patch() of the patch in text. */
static cb_status cpatch(fx *f, const char *actor, const char *id, const char *text,
			cJSON **revert = NULL, char *err = NULL, size_t errsz = 0)
{
	char buf[256];
	cJSON *p = cJSON_Parse(text);
	if (!p)
		print_error("bad test patch %s\n", text);
	assert_non_null(p);
	cb_status s = store_content_patch(f->st, actor, id, p, revert, err ? err : buf,
					  err ? errsz : sizeof(buf));
	cJSON_Delete(p);
	return s;
}

/* Sets id's content to exactly `text` (a blob_put) as actor. */
static void content_text(fx *f, const char *actor, const char *id, const char *text)
{
	char blob[CB_ID_LEN + 1], md5[33];
	size_t len = strlen(text);
	assert_int_equal(blob_put(f->st, text, len, blob), CB_OK);
	MD5Data((const uint8_t *)text, len, md5);
	assert_int_equal(store_node_set_content(f->st, actor, id, blob, len, md5, NULL, NULL),
			 CB_OK);
}

/* id's node has exactly `text` as content: bytes, size and md5. */
static void assert_content(fx *f, const char *id, const char *text)
{
	cb_node g;
	char buf[1024], md5[33];
	size_t len = strlen(text);
	load(f, id, &g);
	assert_true(g.blob[0] != 0);
	assert_int_equal(g.size, len);
	MD5Data((const uint8_t *)text, len, md5);
	assert_string_equal(g.md5, md5);
	assert_int_equal(blob_read(f->st, g.blob, 0, buf, sizeof(buf)), (int64_t)len);
	buf[len] = 0;
	assert_string_equal(buf, text);
	assert_int_equal(blob_size(f->st, g.blob), (int64_t)len);
	node_clear(&g);
}

static void test_content_patch(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 5);
	char id[CB_ID_LEN + 1], err[256];
	mk(f, f->alice, "", "doc.json", NULL, id);

	/* no content is null: "add" at the root gives the first content */
	cJSON *revert = NULL;
	const char *p1 = "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"a\":1,\"list\":[ 1, 2 ]}}]";
	assert_int_equal(cpatch(f, f->alice, id, p1, &revert, err, sizeof(err)), CB_OK);
	assert_string_equal(err, "");
	assert_content(f, id, "{\"a\":1,\"list\":[1,2]}");
	assert_non_null(revert);
	/* the revert, applied to the new content, gives null back */
	cJSON *doc = cJSON_Parse("{\"a\":1,\"list\":[1,2]}");
	assert_int_equal(jsonpatch_apply(&doc, revert, NULL, err, sizeof(err)), CB_OK);
	assert_true(cJSON_IsNull(doc));
	cJSON_Delete(doc);
	cJSON_Delete(revert);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].blob, "");
	assert_int_equal(rs.r[0].size, 0);
	assert_true(t_json_is(rs.r[0].patch, p1));
	rseen_free(&rs);
	cb_node g;
	load(f, id, &g);
	char first_blob[CB_ID_LEN + 1], first_md5[33];
	snprintf(first_blob, sizeof(first_blob), "%s", g.blob);
	snprintf(first_md5, sizeof(first_md5), "%s", g.md5);
	node_clear(&g);

	/* a patch on that: minimised result, a revision keeping the first */
	usleep(2000);
	const char *p2 = "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"two\"},"
			 "{\"op\":\"add\",\"path\":\"/list/-\",\"value\":{\"x\":null}}]";
	revert = NULL;
	assert_int_equal(cpatch(f, f->alice, id, p2, &revert, err, sizeof(err)), CB_OK);
	assert_content(f, id, "{\"a\":\"two\",\"list\":[1,2,{\"x\":null}]}");
	doc = cJSON_Parse("{\"a\":\"two\",\"list\":[1,2,{\"x\":null}]}");
	assert_int_equal(jsonpatch_apply(&doc, revert, NULL, err, sizeof(err)), CB_OK);
	assert_true(t_json_is(doc, "{\"a\":1,\"list\":[1,2]}"));
	cJSON_Delete(doc);
	cJSON_Delete(revert);
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[1].blob, first_blob);
	assert_int_equal(rs.r[1].size, strlen("{\"a\":1,\"list\":[1,2]}"));
	assert_string_equal(rs.r[1].md5, first_md5);
	assert_string_equal(rs.r[1].user, f->alice);
	assert_true(t_json_is(rs.r[1].patch, p2));
	rseen_free(&rs);

	/* content written as formatted JSON is patched and stored minimised */
	content_text(f, f->alice, id, "{\n  \"k\" : [ true, false ]\n}\n");
	assert_int_equal(cpatch(f, f->alice, id, "[{\"op\":\"remove\",\"path\":\"/k/0\"}]"),
			 CB_OK);
	assert_content(f, id, "{\"k\":[false]}");
	/* scalars are documents too */
	content_text(f, f->alice, id, "42");
	assert_int_equal(cpatch(f, f->alice, id,
				"[{\"op\":\"test\",\"path\":\"\",\"value\":42},"
				"{\"op\":\"replace\",\"path\":\"\",\"value\":\"s\"}]"),
			 CB_OK);
	assert_content(f, id, "\"s\"");
}

static void test_content_patch_refusals(void **state)
{
	fx *f = (fx *)*state;
	set_keep(f, 5);
	char id[CB_ID_LEN + 1], text_id[CB_ID_LEN + 1], err[256];
	mk(f, f->alice, "", "doc.json", NULL, id);
	mk(f, f->alice, "", "doc.txt", NULL, text_id);
	content_text(f, f->alice, id, "{\"a\":[1]}");
	content_text(f, f->alice, text_id, "not { json");
	const char *ok = "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]";
	rseen rs;
	memset(&rs, 0, sizeof(rs));

	/* content that does not parse */
	assert_int_equal(cpatch(f, f->alice, text_id, ok, NULL, err, sizeof(err)), CB_ERR_INVAL);
	assert_string_equal(err, "content is not JSON");
	assert_content(f, text_id, "not { json");

	/* a failed test, a malformed patch, one that cannot apply */
	cJSON *revert = NULL;
	assert_int_equal(cpatch(f, f->alice, id,
				"[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
				"{\"op\":\"test\",\"path\":\"/a/0\",\"value\":2}]",
				&revert, err, sizeof(err)),
			 CB_ERR_TEST);
	assert_true(strncmp(err, "test failed: ", 13) == 0);
	assert_null(revert);
	static const char *const bad[] = {
		"{\"op\":\"add\",\"path\":\"/b\",\"value\":2}",
		"[{\"op\":\"add\",\"path\":\"/b\"}]",
		"[{\"op\":\"remove\",\"path\":\"/nope\"}]",
		"[{\"op\":\"remove\",\"path\":\"\"}]",
		"[{\"op\":\"add\",\"path\":\"/a/7\",\"value\":1}]",
	};
	for (const char *b : bad) {
		err[0] = 0;
		assert_int_equal(cpatch(f, f->alice, id, b, NULL, err, sizeof(err)), CB_ERR_INVAL);
		if (strncmp(err, "invalid patch: ", 15))
			print_error("patch %s: err \"%s\"\n", b, err);
		assert_true(strncmp(err, "invalid patch: ", 15) == 0);
	}
	assert_content(f, id, "{\"a\":[1]}");
	/* only the two contents set above are revisions */
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 1);
	rseen_free(&rs);

	/* who may: the owner and writers; readers are refused, strangers
	 * do not see it */
	char ghost[CB_ID_LEN + 1];
	assert_int_equal(id_uuid4(ghost), 0);
	assert_int_equal(cpatch(f, f->alice, ghost, ok), CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_READER), CB_OK);
	assert_int_equal(cpatch(f, f->bob, id, ok), CB_ERR_ACCESS);
	assert_int_equal(cpatch(f, f->carol, id, ok), CB_ERR_NOTFOUND);
	assert_content(f, id, "{\"a\":[1]}");
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(cpatch(f, f->bob, id, ok), CB_OK);
	assert_content(f, id, "{\"a\":[1],\"b\":2}");
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[1].user, f->bob);
	rseen_free(&rs);
	/* the owner pays for it: both contents and the empty first revision */
	assert_int_equal(store_usage(f->st, f->bob), 0);
	assert_int_equal(store_usage(f->st, f->alice),
			 strlen("{\"a\":[1]}") + strlen("{\"a\":[1],\"b\":2}") + strlen("not { json"));

	/* a trashed node is its owner's alone */
	assert_int_equal(store_node_trash(f->st, f->alice, id), CB_OK);
	assert_int_equal(cpatch(f, f->bob, id, ok), CB_ERR_NOTFOUND);
}

/* Content of no bytes (an empty file) is no content to a patch: null. */
static void test_content_patch_empty_bytes(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], err[256];
	mk(f, f->alice, "", "empty.json", NULL, id);
	content_text(f, f->alice, id, "");
	cb_node g;
	load(f, id, &g);
	assert_true(g.blob[0] != 0);
	assert_int_equal(g.size, 0);
	node_clear(&g);
	err[0] = 0;
	cb_status s = cpatch(f, f->alice, id,
			     "[{\"op\":\"test\",\"path\":\"\",\"value\":null},"
			     "{\"op\":\"add\",\"path\":\"\",\"value\":{\"e\":1}}]",
			     NULL, err, sizeof(err));
	if (s)
		print_error("patching empty content: %d \"%s\"\n", (int)s, err);
	assert_int_equal(s, CB_OK);
	assert_content(f, id, "{\"e\":1}");
}

/* Content is read whole: over max_message_size before or after the
 * patch is CB_ERR_TOOBIG; the result must fit the quota. */
static void test_content_patch_limits(void **state)
{
	fx *f = (fx *)*state;
	f->cfg.max_message_size = 64;
	reopen(f);
	char big[CB_ID_LEN + 1], small[CB_ID_LEN + 1], err[256], text[128], p[256];
	mk(f, f->alice, "", "big.json", NULL, big);
	mk(f, f->alice, "", "small.json", NULL, small);

	/* a 65-byte JSON string: too big to read */
	memset(text, 0, sizeof(text));
	text[0] = '"';
	memset(text + 1, 'x', 63);
	text[64] = '"';
	content_text(f, f->alice, big, text);
	assert_int_equal(cpatch(f, f->alice, big,
				"[{\"op\":\"replace\",\"path\":\"\",\"value\":1}]", NULL, err,
				sizeof(err)),
			 CB_ERR_TOOBIG);
	assert_content(f, big, text);

	/* 64 bytes exactly is fine, either way; one more from the patch is not */
	text[63] = '"';
	text[64] = 0;
	assert_int_equal(strlen(text), 64);
	content_text(f, f->alice, small, "1");
	snprintf(p, sizeof(p), "[{\"op\":\"replace\",\"path\":\"\",\"value\":%s}]", text);
	assert_int_equal(cpatch(f, f->alice, small, p), CB_OK);
	assert_content(f, small, text);
	assert_int_equal(cpatch(f, f->alice, small,
				"[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]"),
			 CB_OK);
	text[63] = 'x';
	text[64] = '"';
	snprintf(p, sizeof(p), "[{\"op\":\"replace\",\"path\":\"\",\"value\":%s}]", text);
	assert_int_equal(cpatch(f, f->alice, small, p), CB_ERR_TOOBIG);
	assert_content(f, small, "[1]");

	/* the quota: the new content must fit beside what is kept */
	uint64_t used = store_usage(f->st, f->alice);
	f->cfg.quota = used + 4;
	assert_int_equal(cpatch(f, f->alice, small,
				"[{\"op\":\"add\",\"path\":\"/-\",\"value\":2}]"),
			 CB_ERR_QUOTA);
	assert_content(f, small, "[1]");
	assert_int_equal(store_usage(f->st, f->alice), used);
	assert_int_equal(cpatch(f, f->alice, small,
				"[{\"op\":\"replace\",\"path\":\"\",\"value\":1}]"),
			 CB_OK);
	assert_content(f, small, "1");
	assert_int_equal(store_usage(f->st, f->alice), used + 1);
	f->cfg.quota = 0;
	assert_int_equal(cpatch(f, f->alice, small,
				"[{\"op\":\"replace\",\"path\":\"\",\"value\":[1,2]}]"),
			 CB_OK);
	assert_content(f, small, "[1,2]");
}

/* ======================= spec 3: grants, listing ======================= */

struct aseen {
	int n;
	char users[8][CB_ID_LEN + 1];
	char adders[8][CB_ID_LEN + 1];
	cb_role roles[8];
};

static int collect_adder(const cb_grant *g, void *ctx)
{
	aseen *s = (aseen *)ctx;
	if (s->n < 8) {
		snprintf(s->users[s->n], sizeof(s->users[0]), "%s", g->user);
		snprintf(s->adders[s->n], sizeof(s->adders[0]), "%s", g->adder);
		s->roles[s->n] = g->role;
	}
	s->n++;
	return 0;
}

static const char *aseen_adder(const aseen *s, const char *user)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (!strcmp(s->users[i], user))
			return s->adders[i];
	return "(none)";
}

static void test_grant_adder(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1];
	mk(f, f->alice, "", "shared", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, id, f->carol, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, NULL, id, f->dave, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, id, CB_ANYONE, CB_ROLE_READER), CB_OK);
	aseen s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_grants(f->st, f->carol, id, collect_adder, &s), CB_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(aseen_adder(&s, f->bob), f->alice);
	assert_string_equal(aseen_adder(&s, f->carol), f->bob);
	assert_string_equal(aseen_adder(&s, f->dave), "");
	assert_string_equal(aseen_adder(&s, CB_ANYONE), f->bob);
	assert_string_equal(s.users[3], CB_ANYONE);
	assert_int_equal(s.roles[3], CB_ROLE_READER);

	/* a changed grant is the changer's; a reopened store keeps them */
	assert_int_equal(store_grant(f->st, f->alice, id, f->carol, CB_ROLE_COMMENTER), CB_OK);
	reopen(f);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_grants(f->st, f->alice, id, collect_adder, &s), CB_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(aseen_adder(&s, f->carol), f->alice);
	assert_string_equal(aseen_adder(&s, f->bob), f->alice);
	cb_node n;
	load(f, id, &n);
	assert_int_equal(store_role(f->st, &n, f->carol), CB_ROLE_COMMENTER);
	node_clear(&n);

	/* spec 3's permission object of each */
	cb_grant g = {f->carol, CB_ROLE_COMMENTER, f->alice};
	cJSON *j = permission_json(id, &g);
	char want[512];
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Core#Permission\",\"key\":\"%s:%s\",\"type\":\"user\",\"id\":\"%s\","
		 "\"role\":\"commenter\",\"addingUser\":\"%s\"}",
		 id, f->carol, f->carol, f->alice);
	assert_true(t_json_is(j, want));
	cJSON_Delete(j);
	cb_grant pub = {CB_ANYONE, CB_ROLE_READER, ""};
	j = permission_json(id, &pub);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Core#Permission\",\"key\":\"%s:anyone\",\"type\":\"anyone\","
		 "\"id\":\"anyone\",\"role\":\"reader\",\"addingUser\":\"\"}",
		 id);
	assert_true(t_json_is(j, want));
	cJSON_Delete(j);
}

static void test_revision_json(void **state)
{
	fx *f = (fx *)*state;
	char id[CB_ID_LEN + 1], b1[CB_ID_LEN + 1], b2[CB_ID_LEN + 1], want[1024];
	mk(f, f->alice, "", "r", NULL, id);
	assert_int_equal(store_grant(f->st, f->alice, id, f->bob, CB_ROLE_WRITER), CB_OK);
	content(f, f->alice, id, 3, 'a', b1);
	cJSON *patch = cJSON_Parse("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]");
	content(f, f->bob, id, 4, 'b', b2, patch);
	cJSON_Delete(patch);
	rseen rs;
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_list_revisions(f->st, f->alice, id, collect_rev, &rs), CB_OK);
	assert_int_equal(rs.n, 2);
	cJSON *j = revision_json(&rs.r[0]);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Core#Revision\",\"key\":\"%s\",\"id\":\"%s\",\"created\":%lld,"
		 "\"patch\":null,\"size\":0,\"md5\":\"\","
		 "\"modification\":{\"time\":%lld,\"user\":\"%s\"}}",
		 rs.r[0].id, id, (long long)rs.r[0].created, (long long)rs.r[0].created, f->alice);
	assert_true(t_json_is(j, want));
	cJSON_Delete(j);
	j = revision_json(&rs.r[1]);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Core#Revision\",\"key\":\"%s\",\"id\":\"%s\",\"created\":%lld,"
		 "\"patch\":[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}],\"size\":3,"
		 "\"md5\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		 "\"modification\":{\"time\":%lld,\"user\":\"%s\"}}",
		 rs.r[1].id, id, (long long)rs.r[1].created, (long long)rs.r[1].created, f->bob);
	assert_true(t_json_is(j, want));
	cJSON_Delete(j);
	rseen_free(&rs);
}

/* owner's node with a chosen id. */
static void mk_id(fx *f, const char *owner, const char *id, const char *parent,
		  const char *name, const char *kind = NULL)
{
	cb_node n;
	node_fill(&n, parent, name, kind);
	snprintf(n.id, sizeof(n.id), "%s", id);
	assert_int_equal(store_node_create(f->st, owner, &n, 0), CB_OK);
	node_clear(&n);
}

/* One page of store_list_files() as a space-separated list of ids. */
struct page {
	char ids[512];
	bool more;
	int grants, meta; /* how many came with grants / meta loaded */
};

static int page_visit(const cb_node *n, void *ctx)
{
	page *p = (page *)ctx;
	size_t len = strlen(p->ids);
	snprintf(p->ids + len, sizeof(p->ids) - len, "%s%s", len ? " " : "", n->id);
	p->grants += n->grants != NULL;
	p->meta += n->meta != NULL;
	return 0;
}

static const char *list_page(fx *f, page *p, const char *user, const char *after,
			     size_t limit, const char *parent = NULL, const char *kind = NULL,
			     int flags = 0)
{
	memset(p, 0, sizeof(*p));
	p->more = true; /* must be set either way */
	assert_int_equal(store_list_files(f->st, user, parent, kind, after, limit, flags,
					  page_visit, p, &p->more),
			 CB_OK);
	return p->ids;
}

static void test_list_files(void **state)
{
	fx *f = (fx *)*state;
	/* alice's own */
	mk_id(f, f->alice, "f01", "", "one");
	mk_id(f, f->alice, "f03", "docs", "three");
	mk_id(f, f->alice, "f05", "", "five", "project");
	mk_id(f, f->alice, "f07", "", "seven");
	mk_id(f, f->alice, "f09", "docs", "nine");
	/* others': shared with alice or not */
	mk_id(f, f->bob, "f02", "", "two");
	mk_id(f, f->bob, "f04", "", "four");
	mk_id(f, f->bob, "f06", "docs", "six");
	mk_id(f, f->bob, "f08", "", "eight");
	mk_id(f, f->bob, "f10", "", "ten");
	mk_id(f, f->carol, "f11", "", "eleven", "project");
	assert_int_equal(store_grant(f->st, f->bob, "f02", f->alice, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, "f04", CB_ANYONE, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, "f06", f->alice, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, "f10", f->alice, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_grant(f->st, f->carol, "f11", f->alice, CB_ROLE_COMMENTER), CB_OK);
	assert_int_equal(store_grant(f->st, f->bob, "f08", f->carol, CB_ROLE_READER), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->alice, "f07"), CB_OK);

	page p;
	assert_string_equal(list_page(f, &p, f->alice, "", 100),
			    "f01 f02 f03 f05 f06 f09 f10 f11");
	assert_false(p.more);
	/* revoked: gone */
	assert_int_equal(store_grant(f->st, f->bob, "f10", f->alice, CB_ROLE_NONE), CB_OK);
	assert_string_equal(list_page(f, &p, f->alice, "", 100), "f01 f02 f03 f05 f06 f09 f11");
	assert_false(p.more);
	assert_int_equal(p.grants, 0);
	assert_int_equal(p.meta, 0);

	/* three pages of three */
	assert_string_equal(list_page(f, &p, f->alice, "", 3), "f01 f02 f03");
	assert_true(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f03", 3), "f05 f06 f09");
	assert_true(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f09", 3), "f11");
	assert_false(p.more);
	/* a page that ends exactly at the end has nothing more */
	assert_string_equal(list_page(f, &p, f->alice, "f05", 3), "f06 f09 f11");
	assert_false(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f11", 3), "");
	assert_false(p.more);
	/* the cursor need not be listed (any more): it is a position */
	assert_string_equal(list_page(f, &p, f->alice, "f04", 2), "f05 f06");
	assert_true(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f07", 1), "f09");
	assert_true(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f0", 1), "f01");
	assert_true(p.more);

	/* filters */
	assert_string_equal(list_page(f, &p, f->alice, "", 100, "docs"), "f03 f06 f09");
	assert_string_equal(list_page(f, &p, f->alice, "", 100, ""), "f01 f02 f05 f11");
	assert_string_equal(list_page(f, &p, f->alice, "", 100, NULL, "project"), "f05 f11");
	assert_string_equal(list_page(f, &p, f->alice, "", 100, "", "file"), "f01 f02");
	assert_string_equal(list_page(f, &p, f->alice, "", 1, "docs"), "f03");
	assert_true(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "f03", 2, "docs"), "f06 f09");
	assert_false(p.more);
	assert_string_equal(list_page(f, &p, f->alice, "", 100, "nowhere"), "");
	assert_false(p.more);

	/* what grants and meta come with */
	assert_string_equal(list_page(f, &p, f->alice, "", 100, NULL, NULL,
				      CB_NODE_GRANTS | CB_NODE_META),
			    "f01 f02 f03 f05 f06 f09 f11");
	assert_int_equal(p.grants, 7);

	/* another's view; a trashed shared node leaves it */
	assert_string_equal(list_page(f, &p, f->bob, "", 100), "f02 f04 f06 f08 f10");
	assert_string_equal(list_page(f, &p, f->carol, "", 100), "f08 f11");
	assert_int_equal(store_node_trash(f->st, f->bob, "f02"), CB_OK);
	assert_string_equal(list_page(f, &p, f->alice, "", 100), "f01 f03 f05 f06 f09 f11");
	/* and comes back with the node */
	assert_int_equal(store_node_recover(f->st, f->bob, "f02", NULL), CB_OK);
	assert_string_equal(list_page(f, &p, f->alice, "", 100), "f01 f02 f03 f05 f06 f09 f11");
	/* a user with nothing */
	assert_string_equal(list_page(f, &p, f->dave, "", 100), "");
	assert_false(p.more);
}

/* Checks that store_list_files() visits ids[0..n) in order across pages. */
struct in_order {
	char (*ids)[CB_ID_LEN + 1];
	int n, got;
	char after[CB_ID_LEN + 1]; /* the last one visited */
};

static int visit_in_order(const cb_node *n, void *ctx)
{
	in_order *c = (in_order *)ctx;
	assert_true(c->got < c->n);
	assert_string_equal(n->id, c->ids[c->got]);
	c->got++;
	snprintf(c->after, sizeof(c->after), "%s", n->id);
	return 0;
}

static int id_order(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Nodes far apart in the names index (other folders) and many of them:
 * every one once, in id order, across pages. */
static void test_list_files_many(void **state)
{
	fx *f = (fx *)*state;
	enum { N = 45 };
	char ids[N][CB_ID_LEN + 1];
	for (int i = 0; i < N; i++) {
		char dir[16], name[16];
		snprintf(dir, sizeof(dir), "d%d", i % 4);
		snprintf(name, sizeof(name), "n%d", i);
		mk(f, i % 3 ? f->alice : f->bob, dir, name, NULL, ids[i]);
		if (i % 3 == 0)
			assert_int_equal(store_grant(f->st, f->bob, ids[i], f->alice, CB_ROLE_READER),
					 CB_OK);
	}
	qsort(ids, N, sizeof(ids[0]), id_order);
	in_order c;
	memset(&c, 0, sizeof(c));
	c.ids = ids;
	c.n = N;
	int pages = 0;
	bool more = true;
	while (more) {
		assert_int_equal(store_list_files(f->st, f->alice, NULL, NULL, c.after, 7, 0,
						  visit_in_order, &c, &more),
				 CB_OK);
		pages++;
		assert_true(pages <= 7);
	}
	assert_int_equal(c.got, N);
	assert_int_equal(pages, 7);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TU(fn) cmocka_unit_test_setup_teardown(fn, setup_users, teardown)
	const struct CMUnitTest tests[] = {
		T(test_node_init_and_roles),
		T(test_create_assigns_fields),
		T(test_create_by_server_keeps_owner),
		T(test_get_meta_and_tags),
		T(test_get_unknown),
		T(test_find),
		T(test_update_rename_move_meta),
		T(test_update_without_meta_keeps_meta),
		T(test_update_keeps_server_fields),
		T(test_create_takes_no_content),
		TU(test_grant_stranger_learns_nothing),
		T(test_refused_read_leaves_out_empty),
		T(test_find_normalizes_parent),
		T(test_suffix_long_extension),
		T(test_update_taken_name),
		T(test_update_invalid),
		T(test_trash_leaves_namespace),
		T(test_recover_in_place),
		T(test_recover_into_taken_name),
		T(test_recover_live_is_state),
		T(test_purge),
		T(test_name_taken),
		T(test_name_other_parent_or_owner),
		T(test_name_suffix),
		T(test_name_suffix_at_max_length),
		T(test_name_invalid),
		T(test_parent_normalized),
		T(test_parent_invalid),
		T(test_client_chosen_id),
		T(test_create_existing_id),
		T(test_long_parent),
		T(test_list_children_by_name),
		T(test_list_children_public_for_stranger),
		T(test_list_owned_kinds),
		T(test_visit_stops_early),
		TU(test_list_flags_meta),
		T(test_role_owner_public_stranger),
		T(test_access_owner_and_server),
		T(test_access_stranger_private),
		T(test_access_public),
		T(test_mutations_stranger_notfound),
		T(test_mutations_public_reader),
		T(test_trashed_public_invisible),
		TU(test_access_reader_grant),
		TU(test_access_commenter_grant),
		TU(test_access_writer_grant),
		TU(test_trashed_invisible_to_grantees),
		TU(test_list_children_shared),
		TU(test_grant_add_change_remove),
		TU(test_list_grants_anyone_last),
		TU(test_list_shared),
		TU(test_writer_shares_readers_only),
		TU(test_grant_invalid_targets),
		TU(test_purge_removes_grants),
		TU(test_revision_user_is_actor),
		TU(test_reopen_keeps_grants),
		TU(test_purge_owner_drops_shares),
		T(test_set_content),
		T(test_revisions_keep_two),
		T(test_revisions_three_contents),
		T(test_revisions_order_same_ms),
		T(test_revisions_trim_same_ms),
		T(test_revision_patch),
		T(test_revisions_keep_zero),
		T(test_usage_trash_and_purge),
		T(test_purge_owner),
		T(test_thumb_set_with_update),
		T(test_thumb_replace_and_remove),
		T(test_thumb_quota),
		T(test_thumb_blob_taken),
		T(test_thumb_missing_blob),
		T(test_thumb_ignored_without_flag),
		T(test_thumb_purged_with_node),
		TU(test_thumb_replace_at_quota),
		TU(test_thumb_charged_to_owner),
		T(test_reopen_keeps_everything),
		T(test_schema_mismatch),
		TU(test_node_json_shape),
		T(test_node_patch_and_revert),
		T(test_node_patch_move_and_meta),
		T(test_node_patch_refusals),
		TU(test_node_patch_access),
		T(test_content_first_and_removed),
		T(test_content_empty_revision_trimmed),
		TU(test_content_patch),
		TU(test_content_patch_refusals),
		TU(test_content_patch_limits),
		TU(test_content_patch_empty_bytes),
		TU(test_grant_adder),
		TU(test_revision_json),
		TU(test_list_files),
		TU(test_list_files_many),
	};
#undef T
#undef TU
	return cmocka_run_group_tests(tests, NULL, NULL);
}
