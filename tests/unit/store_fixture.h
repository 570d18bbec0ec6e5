/* store_fixture.h: the common fixture of the unit tests that run on a real
 * store: a fresh temporary data directory, the default config pointing at
 * it (with cheap PBKDF2) and the store opened on it; teardown closes the
 * store and removes the directory. Header-only: each test is one
 * translation unit.
 *
 * A test whose fixture holds more derives from it, so that f->dir, f->cfg
 * and f->st read as before and f passes for a t_store *:
 *
 *	struct fx : t_store { char alice[CB_ID_LEN + 1]; };
 *	... fx *f = (fx *)calloc(1, sizeof(*f));
 *	if (!f || t_store_open(f, "name")) ...
 *
 * One that changes the config before the store opens calls
 * t_store_prepare(), changes t->cfg, then t_store_start(). The store keeps
 * a pointer to t->cfg: the t_store must not move while the store is open.
 * t_json_is() compares a cJSON document with JSON text. */
#ifndef CUBBY_TESTS_UNIT_STORE_FIXTURE_H
#define CUBBY_TESTS_UNIT_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cubby/auth.h"
#include "cubby/config.h"
#include "cubby/store.h"

struct t_store {
	char dir[64];  /* the data directory; "" when there is none */
	cb_config cfg; /* defaults, data_dir = dir, pbkdf2_iterations = 1000 */
	cb_store *st;  /* NULL when not open */
};

static inline int t_store_rm_entry(const char *path, const struct stat *, int, struct FTW *)
{
	return remove(path);
}

/* Closes the store if open and removes the directory (rm -rf) if there is
 * one; 0, or -1 if removing failed. Safe to call twice. */
static inline int t_store_close(t_store *t)
{
	store_close(t->st);
	t->st = NULL;
	int rc = 0;
	if (t->dir[0])
		rc = nftw(t->dir, t_store_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	t->dir[0] = '\0';
	return rc;
}

/* Makes /tmp/cubby-test-<name>-XXXXXX and sets t->cfg up on it; the store
 * is not opened. 0, or -1 (nothing made). */
static inline int t_store_prepare(t_store *t, const char *name)
{
	t->st = NULL;
	snprintf(t->dir, sizeof(t->dir), "/tmp/cubby-test-%s-XXXXXX", name);
	if (!mkdtemp(t->dir)) {
		t->dir[0] = '\0';
		return -1;
	}
	config_defaults(&t->cfg);
	snprintf(t->cfg.data_dir, sizeof(t->cfg.data_dir), "%s", t->dir);
	t->cfg.pbkdf2_iterations = 1000;
	return 0;
}

/* Opens the store on a prepared t. 0, or -1 (and the directory is gone). */
static inline int t_store_start(t_store *t)
{
	if (store_open(&t->cfg, &t->st) == CB_OK)
		return 0;
	t_store_close(t);
	return -1;
}

/* t_store_prepare() and t_store_start(): 0, or -1 (nothing left behind). */
static inline int t_store_open(t_store *t, const char *name)
{
	if (t_store_prepare(t, name))
		return -1;
	return t_store_start(t);
}

/* Closes the store and opens it again on the same directory and t->cfg
 * (which the caller may have changed in between). */
static inline cb_status t_store_reopen(t_store *t)
{
	store_close(t->st);
	t->st = NULL;
	return store_open(&t->cfg, &t->st);
}

/* Creates the users alice, bob, carol and dave (password "secret-pass")
 * and writes their ids into ids[0..3]. 0, or -1. */
static inline int t_store_users(t_store *t, char *const ids[4])
{
	static const char *const names[] = {"alice", "bob", "carol", "dave"};
	for (int i = 0; i < 4; i++) {
		cb_user u;
		if (auth_user_create(t->st, names[i], "secret-pass", false, &u) != CB_OK)
			return -1;
		snprintf(ids[i], CB_ID_LEN + 1, "%s", u.id);
	}
	return 0;
}

/* True when got is the JSON document `want` (text; members in any
 * order); prints both to stderr when not. */
static inline bool t_json_is(const cJSON *got, const char *want)
{
	cJSON *w = cJSON_Parse(want);
	bool same = w && got && cJSON_Compare(got, w, 1);
	if (!same) {
		char *g = got ? cJSON_PrintUnformatted(got) : NULL;
		fprintf(stderr, "JSON differs:\n got  %s\n want %s\n", g ? g : "(null)", want);
		cJSON_free(g);
	}
	cJSON_Delete(w);
	return same;
}

#endif
