/* test_blob.cpp: uploads on a real LMDB store and real files: write,
 * checkpoint, complete; every refusal; a crash (a child process killed
 * mid-upload) and resume; a crash between rename and commit; orphans;
 * expiry; quota and free space; offsets past 4 GiB; keep-both uploads;
 * blob_put() and blob_size(); upload chains (CB_UPLOAD_CHAIN: states,
 * access, expiry, purge, recovery, quota) and blob_rewind(); revisions
 * made by uploads; blob_open(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <fcntl.h>
#include <md5.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/clock.h"
#include "cubby/config.h"
#include "cubby/store.h"
#include "../../src/core/store_internal.h"
#include "store_fixture.h"

struct fixture : t_store {
	char user[CB_ID_LEN + 1];  /* "uma", who uploads */
	char other[CB_ID_LEN + 1]; /* "otto" */
};

static int setup(void **state)
{
	fixture *f = (fixture *)calloc(1, sizeof(fixture));
	assert_int_equal(t_store_prepare(f, "blob"), 0);
	f->cfg.checkpoint_bytes = 64 * 1024;
	assert_int_equal(t_store_start(f), 0);
	cb_user u;
	assert_int_equal(auth_user_create(f->st, "uma", "pw", false, &u), CB_OK);
	memcpy(f->user, u.id, sizeof(f->user));
	assert_int_equal(auth_user_create(f->st, "otto", "pw", false, &u), CB_OK);
	memcpy(f->other, u.id, sizeof(f->other));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = (fixture *)*state;
	t_store_close(f);
	free(f);
	return 0;
}

static void reopen(fixture *f)
{
	assert_int_equal(t_store_reopen(f), CB_OK);
}

/* Deterministic test content. */
static uint8_t *make_data(size_t len, unsigned seed)
{
	uint8_t *p = (uint8_t *)malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

static void md5_hex(const uint8_t *p, size_t len, char out[33])
{
	MD5Data(p, len, out);
}

static void file_target(cb_node *n, const char *parent, const char *name)
{
	node_init(n);
	snprintf(n->parent, sizeof(n->parent), "%s", parent);
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->mime, sizeof(n->mime), "application/octet-stream");
}

static cb_status begin_mode(fixture *f, cb_upload_mode mode, const char *name, int64_t size,
			    cb_upload **up)
{
	cb_node t;
	file_target(&t, "docs", name);
	cb_status s = blob_begin(f->st, f->user, &t, mode, size, 0, up);
	node_clear(&t);
	return s;
}

static cb_status begin(fixture *f, const char *name, int64_t size, cb_upload **up)
{
	return begin_mode(f, CB_UPLOAD_CREATE, name, size, up);
}

/* Writes data[from, to) in chunks of `chunk`. */
static void write_range(cb_upload *up, const uint8_t *data, size_t from, size_t to, size_t chunk)
{
	for (size_t off = from; off < to; off += chunk) {
		size_t n = to - off < chunk ? to - off : chunk;
		assert_int_equal(blob_write(up, off, data + off, n), CB_OK);
	}
}

static void assert_blob_equals(fixture *f, const char *blob_id, const uint8_t *data, size_t len)
{
	uint8_t *back = (uint8_t *)malloc(len + 1);
	assert_int_equal(blob_read(f->st, blob_id, 0, back, len + 1), (int64_t)len);
	assert_memory_equal(back, data, len);
	free(back);
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static int count_upload(const cb_upload_info *, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_uploads(fixture *f)
{
	int n = 0;
	assert_int_equal(blob_list(f->st, NULL, count_upload, &n), CB_OK);
	return n;
}

static void test_write_checkpoint_complete(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 300 * 1024 + 7;
	uint8_t *data = make_data(len, 1);
	char md5[33], partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	md5_hex(data, len, md5);

	cb_upload *up;
	assert_int_equal(begin(f, "a.bin", (int64_t)len, &up), CB_OK);
	char id[CB_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	store_partial_path(f->st, id, partial, sizeof(partial));
	assert_true(exists(partial));

	write_range(up, data, 0, len, 10000);
	assert_int_equal(blob_offset(up), len);
	/* checkpoints happen every 64 KiB by themselves */
	assert_true(blob_durable_offset(up) >= len - f->cfg.checkpoint_bytes);
	assert_true(blob_durable_offset(up) > 0);

	/* the upload is invisible until complete */
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", "a.bin", &n),
			 CB_ERR_NOTFOUND);

	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_string_equal(n.name, "a.bin");
	assert_string_equal(n.parent, "docs");
	assert_string_equal(n.md5, md5);
	assert_int_equal(n.size, len);
	assert_string_equal(n.blob, id);
	assert_string_equal(n.owner, f->user);
	assert_string_equal(n.mime, "application/octet-stream");
	store_blob_path(f->st, id, final_path, sizeof(final_path));
	assert_false(exists(partial));
	assert_true(exists(final_path));
	assert_blob_equals(f, id, data, len);
	assert_int_equal(count_uploads(f), 0);
	assert_int_equal(store_usage(f->st, f->user), len);

	node_clear(&n);
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", "a.bin", &n), CB_OK);
	assert_int_equal(n.size, len);
	node_clear(&n);
	free(data);
}

/* An upload nobody resumes writes no checkpoints, yet completes whole. */
static void test_not_resumable(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 300 * 1024 + 7;
	uint8_t *data = make_data(len, 2);
	char md5[33];
	md5_hex(data, len, md5);
	cb_upload *up;
	cb_node t;
	file_target(&t, "docs", "b.bin");
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_CREATE, (int64_t)len,
				    CB_UPLOAD_ONCE, &up),
			 CB_OK);
	node_clear(&t);
	write_range(up, data, 0, len, 10000);
	assert_int_equal(blob_offset(up), len);
	assert_int_equal(blob_durable_offset(up), 0);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_int_equal(n.size, len);
	assert_string_equal(n.md5, md5);
	node_clear(&n);
	free(data);
}

static void test_empty_file(void **state)
{
	fixture *f = (fixture *)*state;
	cb_upload *up;
	cb_node n;
	node_init(&n);
	assert_int_equal(begin(f, "empty", 0, &up), CB_OK);
	assert_int_equal(blob_complete(up, "d41d8cd98f00b204e9800998ecf8427e", &n), CB_OK);
	assert_int_equal(n.size, 0);
	node_clear(&n);
}

static void test_md5_mismatch_refused(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 5000;
	uint8_t *data = make_data(len, 2);
	cb_upload *up;
	assert_int_equal(begin(f, "b.bin", (int64_t)len, &up), CB_OK);
	write_range(up, data, 0, len, 1000);
	assert_int_equal(blob_complete(up, "00000000000000000000000000000000", NULL),
			 CB_ERR_CHECKSUM);
	/* nothing was created, the upload is still there to retry */
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", "b.bin", &n),
			 CB_ERR_NOTFOUND);
	assert_int_equal(count_uploads(f), 1);
	/* upper-case hex is the same checksum */
	char md5[33];
	md5_hex(data, len, md5);
	for (char *p = md5; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	node_clear(&n);
	free(data);
}

static void test_abort_leaves_nothing(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(100, 3);
	char partial[CB_DATA_PATH_MAX];
	cb_upload *up;
	assert_int_equal(begin(f, "c.bin", 100, &up), CB_OK);
	store_partial_path(f->st, blob_info(up)->id, partial, sizeof(partial));
	write_range(up, data, 0, 50, 50);
	blob_abort(up);
	assert_false(exists(partial));
	assert_int_equal(count_uploads(f), 0);
	free(data);
}

static void test_refusals(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(100, 4);
	cb_upload *up;
	assert_int_equal(begin(f, "d.bin", 100, &up), CB_OK);
	/* not continuous */
	assert_int_equal(blob_write(up, 10, data, 10), CB_ERR_OFFSET);
	assert_int_equal(blob_write(up, 0, data, 60), CB_OK);
	assert_int_equal(blob_write(up, 0, data, 10), CB_ERR_OFFSET);
	/* past the declared size */
	assert_int_equal(blob_write(up, 60, data, 41), CB_ERR_TOOBIG);
	/* short of the declared size */
	assert_int_equal(blob_complete(up, NULL, NULL), CB_ERR_SIZE);
	assert_int_equal(blob_write(up, 60, data + 60, 40), CB_OK);
	assert_int_equal(blob_complete(up, NULL, NULL), CB_OK);

	/* a taken name, an invalid name, a declared size over the limit */
	assert_int_equal(begin(f, "d.bin", 1, &up), CB_ERR_EXISTS);
	assert_int_equal(begin(f, "../etc", 1, &up), CB_ERR_INVAL);
	assert_int_equal(begin(f, "e.bin", (int64_t)f->cfg.max_upload_size + 1, &up), CB_ERR_TOOBIG);
	assert_null(up);

	/* a size not declared is still bounded by max_upload_size */
	f->cfg.max_upload_size = 150;
	assert_int_equal(begin(f, "f.bin", CB_SIZE_UNKNOWN, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, data, 100), CB_OK);
	assert_int_equal(blob_write(up, 100, data, 51), CB_ERR_TOOBIG);
	assert_int_equal(blob_write(up, 100, data, 50), CB_OK);
	assert_int_equal(blob_complete(up, NULL, NULL), CB_OK);
	free(data);
}

/* The child uploads, checkpoints part of it, writes more and dies without
 * closing anything: what a crash or kill -9 leaves behind. */
static void crash_child(fixture *f, const uint8_t *data, size_t len, size_t written,
			bool resumable)
{
	cb_store *st;
	if (store_open(&f->cfg, &st))
		_exit(10);
	cb_node t;
	file_target(&t, "", "crash.bin");
	cb_upload *up;
	if (blob_begin(st, f->user, &t, CB_UPLOAD_CREATE, (int64_t)len,
		       resumable ? 0 : CB_UPLOAD_ONCE, &up))
		_exit(11);
	for (size_t off = 0; off < written; off += 4096) {
		size_t n = written - off < 4096 ? written - off : 4096;
		if (blob_write(up, off, data + off, n))
			_exit(12);
	}
	_exit(0);
}

static int get_first_upload(const cb_upload_info *u, void *ctx)
{
	*(cb_upload_info *)ctx = *u;
	return 1;
}

/* Runs crash_child in a child process, then opens the store again and
 * recovers, as cubbyd does at startup. */
static void crash_and_recover(fixture *f, const uint8_t *data, size_t len, size_t written,
			      bool resumable)
{
	store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(f, data, len, written, resumable);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_open(&f->cfg, &f->st), CB_OK);
	assert_int_equal(blob_recover(f->st), CB_OK);
}

/* An upload nobody would resume is dropped by recovery, file and record. */
static void test_crash_not_resumable(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 200 * 1024, written = 150 * 1024;
	uint8_t *data = make_data(len, 6);
	crash_and_recover(f, data, len, written, false);
	cb_upload_info info;
	memset(&info, 0, sizeof(info));
	assert_int_equal(blob_list(f->st, f->user, get_first_upload, &info), CB_OK);
	assert_string_equal(info.id, "");
	char dir[CB_DATA_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/partial", f->cfg.data_dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		assert_true(e->d_name[0] == '.');
	closedir(d);
	free(data);
}

static void test_crash_and_resume(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 200 * 1024 + 123, written = 150 * 1024 + 5;
	uint8_t *data = make_data(len, 5);
	char md5[33], partial[CB_DATA_PATH_MAX];
	md5_hex(data, len, md5);
	crash_and_recover(f, data, len, written, true);
	cb_upload_info info;
	memset(&info, 0, sizeof(info));
	assert_int_equal(blob_list(f->st, f->user, get_first_upload, &info), CB_OK);
	/* back to the last checkpoint: the largest multiple of 64 KiB written */
	uint64_t checkpoint = (written / f->cfg.checkpoint_bytes) * f->cfg.checkpoint_bytes;
	assert_int_equal(info.offset, checkpoint);
	assert_string_equal(info.name, "crash.bin");
	assert_int_equal(info.size, (int64_t)len);
	store_partial_path(f->st, info.id, partial, sizeof(partial));
	struct stat sb;
	assert_int_equal(stat(partial, &sb), 0);
	assert_int_equal(sb.st_size, checkpoint);

	/* another user cannot take it over */
	char stranger[CB_ID_LEN + 1];
	id_uuid4(stranger);
	cb_upload *up;
	assert_int_equal(blob_resume(f->st, stranger, info.id, &up), CB_ERR_NOTFOUND);

	assert_int_equal(blob_resume(f->st, f->user, info.id, &up), CB_OK);
	assert_int_equal(blob_offset(up), checkpoint);
	cb_upload *again;
	assert_int_equal(blob_resume(f->st, f->user, info.id, &again), CB_ERR_STATE);
	write_range(up, data, checkpoint, len, 7000);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_blob_equals(f, n.blob, data, len);
	node_clear(&n);
	free(data);
}

static void test_close_then_resume(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 10000;
	uint8_t *data = make_data(len, 6);
	char md5[33];
	md5_hex(data, len, md5);
	cb_upload *up;
	assert_int_equal(begin(f, "g.bin", (int64_t)len, &up), CB_OK);
	char id[CB_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	write_range(up, data, 0, 3333, 1000);
	blob_close(up); /* a disconnect checkpoints everything received */
	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	assert_int_equal(blob_resume(f->st, f->user, id, &up), CB_OK);
	assert_int_equal(blob_offset(up), 3333);
	write_range(up, data, 3333, len, 1000);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_blob_equals(f, n.blob, data, len);
	node_clear(&n);
	free(data);
}

/* Completion renames the file into blobs/ and then commits; a crash in
 * between leaves both the record and the file, and recovery commits. */
static void test_crash_between_rename_and_commit(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 4321;
	uint8_t *data = make_data(len, 7);
	char md5[33], partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	md5_hex(data, len, md5);
	cb_upload *up;
	assert_int_equal(begin(f, "h.bin", (int64_t)len, &up), CB_OK);
	char id[CB_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	write_range(up, data, 0, len, 1000);
	blob_close(up);
	store_partial_path(f->st, id, partial, sizeof(partial));
	store_blob_path(f->st, id, final_path, sizeof(final_path));
	assert_int_equal(rename(partial, final_path), 0);

	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", "h.bin", &n), CB_OK);
	assert_string_equal(n.md5, md5);
	assert_int_equal(n.size, len);
	assert_string_equal(n.blob, id);
	assert_int_equal(count_uploads(f), 0);
	assert_blob_equals(f, id, data, len);
	node_clear(&n);
	free(data);
}

static void test_orphans_removed(void **state)
{
	fixture *f = (fixture *)*state;
	char orphan[CB_ID_LEN + 1], path[CB_DATA_PATH_MAX], path2[CB_DATA_PATH_MAX];
	id_uuid4(orphan);
	store_partial_path(f->st, orphan, path, sizeof(path));
	store_blob_path(f->st, orphan, path2, sizeof(path2));
	const char *paths[] = {path, path2};
	for (const char *p : paths) {
		int fd = open(p, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	/* a stored blob and an upload in progress survive */
	uint8_t *data = make_data(10, 8);
	cb_upload *up;
	assert_int_equal(begin(f, "kept", 10, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, data, 10), CB_OK);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	assert_int_equal(begin(f, "pending", 10, &up), CB_OK);
	char pending[CB_DATA_PATH_MAX];
	store_partial_path(f->st, blob_info(up)->id, pending, sizeof(pending));
	blob_close(up);

	assert_int_equal(blob_recover(f->st), CB_OK);
	assert_false(exists(path));
	assert_false(exists(path2));
	assert_true(exists(pending));
	assert_blob_equals(f, n.blob, data, 10);
	node_clear(&n);
	free(data);
}

static void test_expiry(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(10, 9);
	char partial[CB_DATA_PATH_MAX];
	cb_upload *idle, *open_up;
	assert_int_equal(begin(f, "idle", 10, &idle), CB_OK);
	store_partial_path(f->st, blob_info(idle)->id, partial, sizeof(partial));
	assert_int_equal(blob_write(idle, 0, data, 5), CB_OK);
	blob_close(idle);
	assert_int_equal(begin(f, "open", 10, &open_up), CB_OK);

	int64_t now = cb_now_ms();
	assert_int_equal(blob_expire(f->st, now), 0);
	int64_t later = now + f->cfg.partial_ttl * 1000 + 1000;
	/* the open one is in use, however old */
	assert_int_equal(blob_expire(f->st, later), 1);
	assert_false(exists(partial));
	assert_int_equal(count_uploads(f), 1);
	blob_abort(open_up);
	free(data);
}

static void test_quota(void **state)
{
	fixture *f = (fixture *)*state;
	f->cfg.quota = 1000;
	uint8_t *data = make_data(1000, 10);
	cb_upload *a, *b;
	assert_int_equal(begin(f, "q1", 600, &a), CB_OK);
	/* the first upload's 600 bytes are reserved */
	assert_int_equal(begin(f, "q2", 600, &b), CB_ERR_QUOTA);
	assert_int_equal(begin(f, "q2", 400, &b), CB_OK);
	write_range(a, data, 0, 600, 600);
	assert_int_equal(blob_complete(a, NULL, NULL), CB_OK);
	assert_int_equal(store_usage(f->st, f->user), 600);
	blob_abort(b);
	/* a size not declared is refused as it crosses the quota */
	assert_int_equal(begin(f, "q3", CB_SIZE_UNKNOWN, &b), CB_OK);
	assert_int_equal(blob_write(b, 0, data, 400), CB_OK);
	assert_int_equal(blob_write(b, 400, data, 1), CB_ERR_QUOTA);
	blob_abort(b);
	free(data);
}

static void test_free_space(void **state)
{
	fixture *f = (fixture *)*state;
	struct statvfs vfs;
	assert_int_equal(statvfs(f->dir, &vfs), 0);
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	f->cfg.max_upload_size = UINT64_MAX / 2;
	cb_upload *a, *b;
	assert_int_equal(begin(f, "big", (int64_t)(avail + (1u << 30)), &a), CB_ERR_NOSPACE);
	/* two uploads that each fit, but not together */
	int64_t part = (int64_t)(avail / 10 * 6);
	assert_int_equal(begin(f, "p1", part, &a), CB_OK);
	assert_int_equal(begin(f, "p2", part, &b), CB_ERR_NOSPACE);
	blob_abort(a);
	assert_int_equal(begin(f, "p2", part, &b), CB_OK);
	blob_abort(b);
}

/* Offsets are 64-bit: an upload whose checkpoint lies past 4 GiB resumes
 * there and lands its bytes at the right place (the file is sparse). */
static void test_past_4gib(void **state)
{
	fixture *f = (fixture *)*state;
	const uint64_t big = (5ull << 30) + 10;
	f->cfg.max_upload_size = 8ull << 30;
	cb_upload *up;
	assert_int_equal(begin(f, "huge.img", CB_SIZE_UNKNOWN, &up), CB_OK);
	char id[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	assert_int_equal(blob_write(up, 0, "head", 4), CB_OK);
	blob_close(up);

	/* as if 5 GiB had arrived and been checkpointed */
	store_partial_path(f->st, id, partial, sizeof(partial));
	assert_int_equal(truncate(partial, (off_t)big), 0);
	{
		store_txn txn;
		cJSON *j;
		assert_int_equal(txn.begin(f->st, true), CB_OK);
		assert_int_equal(db_get_json(txn.t, f->st->uploads, id, strlen(id), &j), CB_OK);
		cJSON_ReplaceItemInObject(j, "offset", cJSON_CreateNumber((double)big));
		assert_int_equal(db_put_json(txn.t, f->st->uploads, id, strlen(id), j), CB_OK);
		cJSON_Delete(j);
		assert_int_equal(txn.commit(), CB_OK);
	}
	reopen(f);
	assert_int_equal(blob_resume(f->st, f->user, id, &up), CB_OK);
	assert_int_equal(blob_offset(up), big);
	assert_int_equal(blob_write(up, big - 1, "x", 1), CB_ERR_OFFSET);
	assert_int_equal(blob_write(up, big, "tail", 4), CB_OK);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	assert_int_equal(n.size, big + 4);
	char buf[8];
	assert_int_equal(blob_read(f->st, n.blob, big, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "tail", 4);
	assert_int_equal(blob_read(f->st, n.blob, 0, buf, 4), 4);
	assert_memory_equal(buf, "head", 4);
	assert_int_equal(store_usage(f->st, f->user), big + 4);
	node_clear(&n);
	/* purging frees the usage and the (sparse) file */
	char final_path[CB_DATA_PATH_MAX];
	store_blob_path(f->st, id, final_path, sizeof(final_path));
	cb_node found;
	node_init(&found);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", "huge.img", &found), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->user, found.id), CB_OK);
	assert_false(exists(final_path));
	assert_int_equal(store_usage(f->st, f->user), 0);
	node_clear(&found);
}

static void test_replace_and_put(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *v1 = make_data(100, 11), *v2 = make_data(200, 12), *v3 = make_data(50, 13);
	cb_upload *up;
	cb_node n, t;
	node_init(&n);
	assert_int_equal(begin(f, "doc.txt", 100, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, v1, 100), CB_OK);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	char first_blob[CB_ID_LEN + 1];
	snprintf(first_blob, sizeof(first_blob), "%s", n.blob);

	/* REPLACE by id: a new revision */
	node_init(&t);
	snprintf(t.id, sizeof(t.id), "%s", n.id);
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_REPLACE, 200, 0, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, v2, 200), CB_OK);
	cb_node r;
	node_init(&r);
	assert_int_equal(blob_complete(up, NULL, &r), CB_OK);
	assert_string_equal(r.id, n.id);
	assert_int_equal(r.size, 200);
	assert_blob_equals(f, r.blob, v2, 200);
	assert_blob_equals(f, first_blob, v1, 100); /* kept as a revision */
	node_clear(&r);

	/* a stranger may not replace it: not found */
	char stranger[CB_ID_LEN + 1];
	id_uuid4(stranger);
	assert_int_equal(blob_begin(f->st, stranger, &t, CB_UPLOAD_REPLACE, 1, 0, &up), CB_ERR_NOTFOUND);
	node_clear(&t);

	/* PUT by name replaces the live node of that name */
	file_target(&t, "docs", "doc.txt");
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_PUT, 50, 0, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, v3, 50), CB_OK);
	node_init(&r);
	assert_int_equal(blob_complete(up, NULL, &r), CB_OK);
	assert_string_equal(r.id, n.id);
	assert_int_equal(r.size, 50);
	node_clear(&r);
	/* ... and creates it when there is none */
	snprintf(t.name, sizeof(t.name), "new.txt");
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_PUT, 50, 0, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, v3, 50), CB_OK);
	node_init(&r);
	assert_int_equal(blob_complete(up, NULL, &r), CB_OK);
	assert_string_not_equal(r.id, n.id);
	assert_string_equal(r.name, "new.txt");
	node_clear(&r);
	node_clear(&t);
	node_clear(&n);
	free(v1);
	free(v2);
	free(v3);
}

static void test_discard(void **state)
{
	fixture *f = (fixture *)*state;
	cb_upload *up;
	assert_int_equal(begin(f, "x", 10, &up), CB_OK);
	char id[CB_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	assert_int_equal(blob_discard(f->st, f->user, id), CB_ERR_STATE); /* open */
	blob_close(up);
	char stranger[CB_ID_LEN + 1];
	id_uuid4(stranger);
	assert_int_equal(blob_discard(f->st, stranger, id), CB_ERR_NOTFOUND);
	assert_int_equal(blob_discard(f->st, f->user, id), CB_OK);
	assert_int_equal(count_uploads(f), 0);
	assert_int_equal(blob_discard(f->st, f->user, id), CB_ERR_NOTFOUND);
}

/* Content fields of a target are the server's: an upload cannot adopt
 * someone else's blob as its original or thumbnail. */
static void test_target_content_fields_ignored(void **state)
{
	fixture *f = (fixture *)*state;
	cb_upload *up;
	cb_node theirs, t, mine;
	node_init(&theirs);
	node_init(&mine);
	file_target(&t, "", "secret.txt");
	assert_int_equal(blob_begin(f->st, f->other, &t, CB_UPLOAD_CREATE, 6, 0, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, "SECRET", 6), CB_OK);
	assert_int_equal(blob_complete(up, NULL, &theirs), CB_OK);
	node_clear(&t);

	file_target(&t, "", "mine.txt");
	snprintf(t.original, sizeof(t.original), "%s", theirs.blob);
	snprintf(t.thumb, sizeof(t.thumb), "%s", theirs.blob);
	snprintf(t.blob, sizeof(t.blob), "%s", theirs.blob);
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_CREATE, 2, 0, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, "hi", 2), CB_OK);
	assert_int_equal(blob_complete(up, NULL, &mine), CB_OK);
	assert_string_equal(mine.original, "");
	assert_string_equal(mine.thumb, "");
	assert_string_not_equal(mine.blob, theirs.blob);
	assert_int_equal(store_node_purge(f->st, f->user, mine.id), CB_OK);
	assert_blob_equals(f, theirs.blob, (const uint8_t *)"SECRET", 6);
	assert_int_equal(store_usage(f->st, f->other), 6);
	node_clear(&t);
	node_clear(&mine);
	node_clear(&theirs);
}

/* What completion needs is checked when the upload begins. */
static void test_target_checked_up_front(void **state)
{
	fixture *f = (fixture *)*state;
	cb_upload *up;
	cb_node t;
	file_target(&t, "", "x.bin");
	snprintf(t.id, sizeof(t.id), "bad/id");
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_CREATE, 1, 0, &up), CB_ERR_INVAL);
	t.id[0] = 0;
	t.anyone = CB_ROLE_OWNER;
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_CREATE, 1, 0, &up), CB_ERR_INVAL);
	t.anyone = CB_ROLE_READER;
	cJSON_AddItemToArray(t.tags, cJSON_CreateNumber(7));
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_CREATE, 1, 0, &up), CB_ERR_INVAL);
	node_clear(&t);
	/* upload ids that cannot exist are simply not found */
	assert_int_equal(blob_discard(f->st, f->user, ""), CB_ERR_NOTFOUND);
	assert_int_equal(blob_resume(f->st, f->user, "../meta", &up), CB_ERR_NOTFOUND);
}

/* A power loss after the commit but before the rename reached the disk:
 * the content sits in partial/ with no upload record. Recovery must put
 * it back, not delete it as an orphan. */
static void test_lost_rename_restored(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 3000;
	uint8_t *data = make_data(len, 14);
	cb_upload *up;
	cb_node n;
	node_init(&n);
	assert_int_equal(begin(f, "kept.bin", (int64_t)len, &up), CB_OK);
	write_range(up, data, 0, len, 1000);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	char partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	store_partial_path(f->st, n.blob, partial, sizeof(partial));
	store_blob_path(f->st, n.blob, final_path, sizeof(final_path));
	assert_int_equal(rename(final_path, partial), 0);

	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	assert_false(exists(partial));
	assert_blob_equals(f, n.blob, data, len);
	node_clear(&n);
	free(data);
}

/* Bytes a writer sends into someone's node count against the owner's
 * quota, reservations included. */
static void test_quota_charged_to_owner(void **state)
{
	fixture *f = (fixture *)*state;
	f->cfg.quota = 1000;
	cb_upload *up, *a, *b;
	cb_node n, t;
	node_init(&n);
	file_target(&t, "", "shared.bin");
	assert_int_equal(blob_begin(f->st, f->other, &t, CB_UPLOAD_CREATE, 0, 0, &up), CB_OK);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	node_clear(&t);
	assert_int_equal(store_grant(f->st, f->other, n.id, f->user, CB_ROLE_WRITER), CB_OK);

	node_init(&t);
	snprintf(t.id, sizeof(t.id), "%s", n.id);
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_REPLACE, 900, 0, &a), CB_OK);
	assert_string_equal(blob_info(a)->charged, f->other);
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_REPLACE, 900, 0, &b), CB_ERR_QUOTA);
	uint8_t *data = make_data(900, 15);
	write_range(a, data, 0, 900, 900);
	assert_int_equal(blob_complete(a, NULL, NULL), CB_OK);
	assert_int_equal(store_usage(f->st, f->other), 900);
	assert_int_equal(store_usage(f->st, f->user), 0);
	node_clear(&t);
	node_clear(&n);
	free(data);
}

/* Uploads of unknown size count what they have received, and the quota
 * is checked again when one completes. */
static void test_quota_unknown_sizes(void **state)
{
	fixture *f = (fixture *)*state;
	f->cfg.quota = 1000;
	uint8_t *data = make_data(1000, 16);
	cb_upload *a, *b, *c;
	assert_int_equal(begin(f, "u1", CB_SIZE_UNKNOWN, &a), CB_OK);
	assert_int_equal(begin(f, "u2", CB_SIZE_UNKNOWN, &b), CB_OK);
	write_range(a, data, 0, 900, 900);
	/* a declared upload sees the 900 bytes already received */
	assert_int_equal(begin(f, "d1", 900, &c), CB_ERR_QUOTA);
	/* b opened when a had nothing: it may write, but not complete */
	write_range(b, data, 0, 600, 600);
	assert_int_equal(blob_complete(a, NULL, NULL), CB_OK);
	assert_int_equal(blob_complete(b, NULL, NULL), CB_ERR_QUOTA);
	assert_int_equal(store_usage(f->st, f->user), 900);
	blob_abort(b);
	free(data);
}

/* An upload may outlive its uploader's account: it cannot complete. */
static void test_owner_deleted_mid_upload(void **state)
{
	fixture *f = (fixture *)*state;
	cb_upload *up;
	assert_int_equal(begin(f, "orphan.bin", 3, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, "abc", 3), CB_OK);
	assert_int_equal(auth_user_delete(f->st, "uma"), CB_OK);
	assert_int_equal(blob_complete(up, NULL, NULL), CB_ERR_NOTFOUND);
	assert_int_equal(store_usage(f->st, f->user), 0);
	blob_abort(up);
}

/* ---- keep-both uploads, blob_put, blob_size ---- */

/* Writes all of data into up and completes it; the node into out. */
static void finish(cb_upload *up, const uint8_t *data, size_t len, cb_node *out)
{
	write_range(up, data, 0, len, 4096);
	node_init(out);
	assert_int_equal(blob_complete(up, NULL, out), CB_OK);
}

/* The live node named docs/name has content blob_id. */
static void assert_named(fixture *f, const char *name, const char *blob_id)
{
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_find(f->st, f->user, f->user, "docs", name, &n), CB_OK);
	assert_string_equal(n.blob, blob_id);
	node_clear(&n);
}

/* A taken name does not stop a keep-both upload: the new node gets the
 * next free "name (N).ext", the one there keeps its name and content. */
static void test_keep_both_taken_name(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *v1 = make_data(100, 21), *v2 = make_data(200, 22), *v3 = make_data(300, 23);
	cb_upload *up;
	cb_node first, second, third;
	assert_int_equal(begin(f, "report.pdf", 100, &up), CB_OK);
	finish(up, v1, 100, &first);

	assert_int_equal(begin(f, "report.pdf", 200, &up), CB_ERR_EXISTS);
	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "report.pdf", 200, &up), CB_OK);
	finish(up, v2, 200, &second);
	assert_string_equal(second.name, "report (2).pdf");
	assert_string_equal(second.parent, "docs");
	assert_int_equal(second.size, 200);
	assert_string_not_equal(second.id, first.id);
	assert_blob_equals(f, second.blob, v2, 200);

	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "report.pdf", 300, &up), CB_OK);
	finish(up, v3, 300, &third);
	assert_string_equal(third.name, "report (3).pdf");
	assert_blob_equals(f, third.blob, v3, 300);

	assert_named(f, "report.pdf", first.blob);
	assert_named(f, "report (2).pdf", second.blob);
	assert_named(f, "report (3).pdf", third.blob);
	assert_blob_equals(f, first.blob, v1, 100);
	assert_int_equal(store_usage(f->st, f->user), 600);
	node_clear(&first);
	node_clear(&second);
	node_clear(&third);
	free(v1);
	free(v2);
	free(v3);
}

/* The name is decided when the upload completes: free then, it is kept
 * as it is, whatever it was when the upload began; taken then, it gets a
 * suffix. */
static void test_keep_both_name_at_completion(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(50, 24);
	cb_upload *up, *late;
	cb_node n, taken, kept;
	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "fresh.txt", 50, &up), CB_OK);
	finish(up, data, 50, &n);
	assert_string_equal(n.name, "fresh.txt");
	node_clear(&n);

	/* taken when it began, free again by the end */
	assert_int_equal(begin(f, "gone.txt", 0, &up), CB_OK);
	finish(up, data, 0, &taken);
	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "gone.txt", 50, &late), CB_OK);
	assert_int_equal(store_node_trash(f->st, f->user, taken.id), CB_OK);
	finish(late, data, 50, &n);
	assert_string_equal(n.name, "gone.txt");
	node_clear(&n);

	/* free when it began, taken by the end */
	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "race.txt", 50, &late), CB_OK);
	assert_int_equal(begin(f, "race.txt", 10, &up), CB_OK);
	finish(up, data, 10, &kept);
	finish(late, data, 50, &n);
	assert_string_equal(n.name, "race (2).txt");
	assert_named(f, "race.txt", kept.blob);
	assert_named(f, "race (2).txt", n.blob);
	node_clear(&n);
	node_clear(&kept);
	node_clear(&taken);
	free(data);
}

/* Recovery finishing a keep-both upload (crash between rename and commit)
 * picks a free name just as completion does. */
static void test_keep_both_recovered(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(1234, 25);
	cb_upload *up;
	cb_node there;
	assert_int_equal(begin(f, "photo.jpg", 10, &up), CB_OK);
	finish(up, data, 10, &there);
	assert_int_equal(begin_mode(f, CB_UPLOAD_KEEP_BOTH, "photo.jpg", 1234, &up), CB_OK);
	char id[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	write_range(up, data, 0, 1234, 1000);
	blob_close(up);
	store_partial_path(f->st, id, partial, sizeof(partial));
	store_blob_path(f->st, id, final_path, sizeof(final_path));
	assert_int_equal(rename(partial, final_path), 0);

	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	assert_int_equal(count_uploads(f), 0);
	assert_named(f, "photo.jpg", there.blob);
	assert_named(f, "photo (2).jpg", id);
	assert_blob_equals(f, id, data, 1234);
	node_clear(&there);
	free(data);
}

static void test_blob_put(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(3000, 26);
	char id[CB_ID_LEN + 1], id2[CB_ID_LEN + 1], path[CB_DATA_PATH_MAX];
	assert_int_equal(blob_put(f->st, data, 3000, id), CB_OK);
	assert_true(id_is_uuid(id));
	store_blob_path(f->st, id, path, sizeof(path));
	assert_true(exists(path));
	store_partial_path(f->st, id, path, sizeof(path));
	assert_false(exists(path));
	assert_int_equal(blob_size(f->st, id), 3000);
	assert_blob_equals(f, id, data, 3000);
	uint8_t tail[10];
	assert_int_equal(blob_read(f->st, id, 2990, tail, sizeof(tail)), 10);
	assert_memory_equal(tail, data + 2990, 10);

	/* every put is a new blob; an empty one is fine */
	assert_int_equal(blob_put(f->st, data, 0, id2), CB_OK);
	assert_string_not_equal(id2, id);
	assert_int_equal(blob_size(f->st, id2), 0);
	/* belonging to no node, it is no one's usage and no upload */
	assert_int_equal(store_usage(f->st, f->user), 0);
	assert_int_equal(count_uploads(f), 0);
	free(data);
}

/* A blob_put blob no node took is gone after the next start's recovery;
 * one taken as a thumbnail stays. */
static void test_blob_put_unclaimed_removed(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(500, 27);
	char unclaimed[CB_ID_LEN + 1], thumb[CB_ID_LEN + 1], path[CB_DATA_PATH_MAX];
	cb_upload *up;
	cb_node n;
	assert_int_equal(begin(f, "pic.png", 500, &up), CB_OK);
	finish(up, data, 500, &n);
	assert_int_equal(blob_put(f->st, data, 100, unclaimed), CB_OK);
	assert_int_equal(blob_put(f->st, data, 200, thumb), CB_OK);
	snprintf(n.thumb, sizeof(n.thumb), "%s", thumb);
	assert_int_equal(store_node_update(f->st, f->user, &n, CB_NODE_THUMB), CB_OK);
	node_clear(&n);

	/* nothing happens to it while the store runs */
	assert_int_equal(blob_size(f->st, unclaimed), 100);
	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	store_blob_path(f->st, unclaimed, path, sizeof(path));
	assert_false(exists(path));
	assert_int_equal(blob_size(f->st, unclaimed), -1);
	assert_int_equal(blob_size(f->st, thumb), 200);
	assert_blob_equals(f, thumb, data, 200);
	assert_int_equal(store_usage(f->st, f->user), 700);
	free(data);
}

static void test_blob_size(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(777, 28);
	cb_upload *up;
	cb_node n;
	assert_int_equal(begin(f, "sized.bin", 777, &up), CB_OK);
	finish(up, data, 777, &n);
	assert_int_equal(blob_size(f->st, n.blob), 777);

	/* an upload in progress is no blob yet */
	assert_int_equal(begin(f, "pending.bin", 10, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, data, 5), CB_OK);
	assert_int_equal(blob_size(f->st, blob_info(up)->id), -1);
	blob_abort(up);

	/* unknown and malformed ids; the one as long as an id names a file
	 * that exists: the database */
	char unknown[CB_ID_LEN + 1];
	id_uuid4(unknown);
	const char *traversal = "././././././././././../meta/data.mdb";
	char path[CB_DATA_PATH_MAX];
	store_blob_path(f->st, traversal, path, sizeof(path));
	assert_int_equal(strlen(traversal), CB_ID_LEN);
	assert_true(exists(path));
	const char *bad[] = {unknown, "", "meta", "..", "../meta/data.mdb", traversal,
			     "0123456789012345678901234567890123456"};
	for (const char *id : bad)
		assert_int_equal(blob_size(f->st, id), -1);
	node_clear(&n);
	free(data);
}

/* ---- upload chains (CB_UPLOAD_CHAIN), blob_rewind ---- */

/* A node of the uploader's with no content yet ("docs/<name>"); its id to id. */
static void make_node(fixture *f, const char *name, char id[CB_ID_LEN + 1])
{
	cb_upload *up;
	cb_node n;
	node_init(&n);
	assert_int_equal(begin(f, name, 0, &up), CB_OK);
	assert_int_equal(blob_complete(up, NULL, &n), CB_OK);
	snprintf(id, CB_ID_LEN + 1, "%s", n.id);
	node_clear(&n);
}

static cb_status chain_begin_mode(fixture *f, const char *actor, const char *node,
				  cb_upload_mode mode, const char *label, int64_t size,
				  cb_upload **up)
{
	cb_node t;
	node_init(&t);
	snprintf(t.id, sizeof(t.id), "%s", node);
	snprintf(t.name, sizeof(t.name), "%s", label);
	if (mode != CB_UPLOAD_REPLACE)
		snprintf(t.parent, sizeof(t.parent), "docs");
	cb_status s = blob_begin(f->st, actor, &t, mode, size, CB_UPLOAD_CHAIN, up);
	node_clear(&t);
	return s;
}

/* The chain of node, as the uploader sees it. */
static cb_chain chain_of(fixture *f, const char *node)
{
	cb_chain c;
	assert_int_equal(blob_chain(f->st, f->user, node, &c), CB_OK);
	return c;
}

/* How many records the chains db holds. */
static int count_chain_records(fixture *f)
{
	store_txn txn;
	int n = 0;
	assert_int_equal(txn.begin(f->st, false), CB_OK);
	assert_int_equal(db_scan(txn.t, f->st->chains, NULL, 0,
				 [&](MDB_cursor *, MDB_val &, MDB_val &) {
					 n++;
					 return 0;
				 }),
			 CB_OK);
	return n;
}

/* Sets the stored upload's last update (ms), as if it had been idle since. */
static void set_upload_updated(fixture *f, const char *id, int64_t updated)
{
	store_txn txn;
	cJSON *j;
	assert_int_equal(txn.begin(f->st, true), CB_OK);
	assert_int_equal(db_get_json(txn.t, f->st->uploads, id, strlen(id), &j), CB_OK);
	cJSON_ReplaceItemInObject(j, "updated", cJSON_CreateNumber((double)updated));
	assert_int_equal(db_put_json(txn.t, f->st->uploads, id, strlen(id), j), CB_OK);
	cJSON_Delete(j);
	assert_int_equal(txn.commit(), CB_OK);
}

static bool upload_stored(fixture *f, const char *id)
{
	store_txn txn;
	assert_int_equal(txn.begin(f->st, false), CB_OK);
	MDB_val k = {strlen(id), (void *)id}, v;
	return mdb_get(txn.t, f->st->uploads, &k, &v) == 0;
}

static void test_chain_begin_and_checkpoint(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(1000, 30);
	char node[CB_ID_LEN + 1];
	make_node(f, "chained.bin", node);

	cb_chain c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_NONE);

	cb_upload *up, *again;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "label.bin", 1000, &up),
			 CB_OK);
	assert_true(blob_info(up)->chain);
	assert_string_equal(blob_info(up)->node, node);
	assert_string_equal(blob_info(up)->name, "label.bin");
	c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_string_equal(c.upload, blob_info(up)->id);
	assert_string_equal(c.name, "label.bin");
	assert_int_equal(c.size, 1000);
	assert_int_equal(c.offset, 0);

	/* the offset is the last checkpoint, not what has arrived */
	write_range(up, data, 0, 300, 100);
	assert_int_equal(chain_of(f, node).offset, 0);
	assert_int_equal(blob_checkpoint(up), CB_OK);
	assert_int_equal(chain_of(f, node).offset, 300);
	write_range(up, data, 300, 420, 120);
	c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_int_equal(c.offset, 300);

	/* one chain per node, whoever asks and whatever the size */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "other", 5, &again),
			 CB_ERR_EXISTS);
	assert_null(again);
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "x", CB_SIZE_UNKNOWN,
					  &again),
			 CB_ERR_EXISTS);
	/* the refused begin left the chain as it was, and no upload behind */
	assert_string_equal(chain_of(f, node).upload, blob_info(up)->id);
	assert_int_equal(count_uploads(f), 1);
	/* a plain (unchained) replace of the node is still possible */
	cb_node t;
	node_init(&t);
	snprintf(t.id, sizeof(t.id), "%s", node);
	assert_int_equal(blob_begin(f->st, f->user, &t, CB_UPLOAD_REPLACE, 5, 0, &again), CB_OK);
	assert_false(blob_info(again)->chain);
	blob_abort(again);
	node_clear(&t);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);

	/* chains are for REPLACE only */
	const cb_upload_mode others[] = {CB_UPLOAD_CREATE, CB_UPLOAD_PUT, CB_UPLOAD_KEEP_BOTH};
	for (cb_upload_mode m : others) {
		assert_int_equal(chain_begin_mode(f, f->user, "", m, "fresh.bin", 10, &again),
				 CB_ERR_INVAL);
		assert_null(again);
	}
	assert_int_equal(count_uploads(f), 1);
	assert_int_equal(count_chain_records(f), 1);
	blob_abort(up);
	free(data);
}

static void test_chain_complete_and_destroy(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 5000;
	uint8_t *data = make_data(len, 31);
	char md5[33], node[CB_ID_LEN + 1], upload[CB_ID_LEN + 1];
	md5_hex(data, len, md5);
	make_node(f, "done.bin", node);

	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "lbl", (int64_t)len, &up),
			 CB_OK);
	snprintf(upload, sizeof(upload), "%s", blob_info(up)->id);
	write_range(up, data, 0, len, 1000);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_string_equal(n.id, node);
	assert_string_equal(n.name, "done.bin"); /* the label is not the node's name */
	assert_string_equal(n.blob, upload);
	assert_string_equal(n.md5, md5);
	assert_int_equal(n.size, len);
	node_clear(&n);

	cb_chain c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_DONE);
	assert_int_equal(count_uploads(f), 0);
	/* a completed chain is remembered: no second one */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "again", 10, &up),
			 CB_ERR_EXISTS);
	assert_int_equal(count_uploads(f), 0);

	/* destroyed: gone, the content stays, and a new chain may begin */
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_ERR_NOTFOUND);
	node_init(&n);
	assert_int_equal(store_node_get(f->st, f->user, node, &n, 0), CB_OK);
	assert_string_equal(n.blob, upload);
	assert_int_equal(n.size, len);
	node_clear(&n);
	assert_blob_equals(f, upload, data, len);

	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "new", 10, &up), CB_OK);
	c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_string_equal(c.upload, blob_info(up)->id);
	assert_string_equal(c.name, "new");
	assert_int_equal(c.size, 10);
	blob_abort(up);
	free(data);
}

static void test_chain_resume_and_expire(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 4000;
	uint8_t *data = make_data(len, 32);
	char md5[33], node[CB_ID_LEN + 1], upload[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX];
	md5_hex(data, len, md5);
	make_node(f, "resumed.bin", node);

	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "r", (int64_t)len, &up),
			 CB_OK);
	snprintf(upload, sizeof(upload), "%s", blob_info(up)->id);
	store_partial_path(f->st, upload, partial, sizeof(partial));
	write_range(up, data, 0, 1500, 500);
	blob_close(up); /* checkpoints what arrived */
	cb_chain c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_int_equal(c.offset, 1500);

	/* resumed by the id the chain gives */
	assert_int_equal(blob_resume(f->st, f->user, c.upload, &up), CB_OK);
	assert_int_equal(blob_offset(up), 1500);
	assert_true(blob_info(up)->chain);
	write_range(up, data, 1500, 2500, 500);
	blob_close(up);
	assert_int_equal(chain_of(f, node).offset, 2500);

	/* not idle long enough: nothing expires */
	int64_t now = cb_now_ms();
	assert_int_equal(blob_expire(f->st, now), 0);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);

	/* past partial_ttl: the upload goes, the chain remembers */
	assert_int_equal(blob_expire(f->st, now + f->cfg.partial_ttl * 1000 + 1000), 1);
	c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_EXPIRED);
	assert_int_equal(c.offset, 2500);
	assert_int_equal(c.size, (int64_t)len);
	assert_string_equal(c.name, "r");
	assert_false(exists(partial));
	assert_false(upload_stored(f, upload));
	assert_int_equal(blob_resume(f->st, f->user, upload, &up), CB_ERR_NOTFOUND);
	/* and stays: no new chain until it is destroyed */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "r2", (int64_t)len, &up),
			 CB_ERR_EXISTS);
	assert_int_equal(blob_expire(f->st, now + f->cfg.partial_ttl * 2000), 0);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_EXPIRED);
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);

	/* a new chain, completed after a resume */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "r3", (int64_t)len, &up),
			 CB_OK);
	write_range(up, data, 0, 1000, 1000);
	blob_close(up);
	assert_int_equal(blob_resume(f->st, f->user, chain_of(f, node).upload, &up), CB_OK);
	write_range(up, data, 1000, len, 1000);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_blob_equals(f, n.blob, data, len);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_DONE);
	node_clear(&n);
	free(data);
}

/* Past partial_ttl an idle chain upload reads as EXPIRED at once, before
 * any sweep deletes it; an open one, however old, is ACTIVE. */
static void test_chain_expired_lazily(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(100, 33);
	char node[CB_ID_LEN + 1], upload[CB_ID_LEN + 1];
	make_node(f, "lazy.bin", node);
	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "lz", 100, &up), CB_OK);
	snprintf(upload, sizeof(upload), "%s", blob_info(up)->id);
	write_range(up, data, 0, 40, 40);
	assert_int_equal(blob_checkpoint(up), CB_OK);

	int64_t stale = cb_now_ms() - (f->cfg.partial_ttl + 60) * 1000;
	set_upload_updated(f, upload, stale);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE); /* open */
	blob_close(up); /* nothing new since the checkpoint: the record stays stale */
	cb_chain c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_EXPIRED);
	assert_int_equal(c.offset, 40);
	assert_int_equal(c.size, 100);
	assert_string_equal(c.name, "lz");
	/* nothing was deleted yet */
	assert_true(upload_stored(f, upload));
	assert_int_equal(count_uploads(f), 1);
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "lz2", 100, &up),
			 CB_ERR_EXISTS);

	/* one second short of partial_ttl it is still ACTIVE */
	set_upload_updated(f, upload, cb_now_ms() - (f->cfg.partial_ttl - 1) * 1000);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);

	/* the sweep makes it so */
	set_upload_updated(f, upload, stale);
	assert_int_equal(blob_expire(f->st, cb_now_ms()), 1);
	c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_EXPIRED);
	assert_int_equal(c.offset, 40);
	assert_int_equal(count_uploads(f), 0);
	free(data);
}

/* Destroying a chain that reads as EXPIRED because its idle upload is
 * past partial_ttl (no sweep yet) forgets it "in any state, with its
 * partial file" (blob.h): the upload goes with it, so no later sweep
 * brings the old chain back over a new one. */
static void test_chain_destroy_lazily_expired(void **state)
{
	fixture *f = (fixture *)*state;
	char node[CB_ID_LEN + 1], old_upload[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX];
	make_node(f, "stale.bin", node);
	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "old", 100, &up), CB_OK);
	snprintf(old_upload, sizeof(old_upload), "%s", blob_info(up)->id);
	store_partial_path(f->st, old_upload, partial, sizeof(partial));
	assert_int_equal(blob_write(up, 0, "0123456789", 10), CB_OK);
	blob_close(up);
	set_upload_updated(f, old_upload, cb_now_ms() - (f->cfg.partial_ttl + 60) * 1000);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_EXPIRED);

	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);
	assert_false(exists(partial));
	assert_false(upload_stored(f, old_upload));

	/* a new chain; the sweep that follows must leave it alone */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "new", 100, &up), CB_OK);
	char new_upload[CB_ID_LEN + 1];
	snprintf(new_upload, sizeof(new_upload), "%s", blob_info(up)->id);
	blob_close(up);
	assert_int_equal(blob_expire(f->st, cb_now_ms()), 0);
	cb_chain c = chain_of(f, node);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_string_equal(c.upload, new_upload);
	assert_string_equal(c.name, "new");
}

static void test_chain_abort_and_refusals(void **state)
{
	fixture *f = (fixture *)*state;
	char node[CB_ID_LEN + 1], upload[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX];
	make_node(f, "guarded.bin", node);
	cb_user u;
	assert_int_equal(auth_user_create(f->st, "sam", "pw", false, &u), CB_OK);
	char stranger[CB_ID_LEN + 1];
	memcpy(stranger, u.id, sizeof(stranger));
	cb_chain c;

	/* no chain */
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_ERR_NOTFOUND);

	/* aborting the upload ends the chain */
	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "a", 10, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, "abcde", 5), CB_OK);
	blob_abort(up);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);
	assert_int_equal(count_chain_records(f), 0);

	/* so does discarding it */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "d", 10, &up), CB_OK);
	snprintf(upload, sizeof(upload), "%s", blob_info(up)->id);
	blob_close(up);
	assert_int_equal(blob_discard(f->st, f->user, upload), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);

	/* open: destroy refuses */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "b", 10, &up), CB_OK);
	snprintf(upload, sizeof(upload), "%s", blob_info(up)->id);
	store_partial_path(f->st, upload, partial, sizeof(partial));
	assert_int_equal(blob_write(up, 0, "abcde", 5), CB_OK);
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_ERR_STATE);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);
	assert_true(exists(partial));

	/* a reader may not see or touch the chain; a stranger does not even
	 * find the node; a writer may */
	assert_int_equal(store_grant(f->st, f->user, node, f->other, CB_ROLE_READER), CB_OK);
	assert_int_equal(blob_chain(f->st, f->other, node, &c), CB_ERR_ACCESS);
	assert_int_equal(blob_chain_destroy(f->st, f->other, node), CB_ERR_ACCESS);
	assert_int_equal(blob_chain(f->st, stranger, node, &c), CB_ERR_NOTFOUND);
	assert_int_equal(blob_chain_destroy(f->st, stranger, node), CB_ERR_NOTFOUND);
	char nobody[CB_ID_LEN + 1];
	id_uuid4(nobody);
	assert_int_equal(blob_chain(f->st, f->user, nobody, &c), CB_ERR_NOTFOUND);
	assert_int_equal(blob_chain_destroy(f->st, f->user, nobody), CB_ERR_NOTFOUND);
	assert_int_equal(store_grant(f->st, f->user, node, f->other, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(blob_chain(f->st, f->other, node, &c), CB_OK);
	assert_int_equal(c.state, CB_CHAIN_ACTIVE);
	assert_string_equal(c.upload, upload);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);

	/* the writer resumes the owner's chain (a reader may not) and goes
	 * on where it was */
	blob_close(up);
	assert_int_equal(store_grant(f->st, f->user, node, f->other, CB_ROLE_READER), CB_OK);
	assert_int_equal(blob_resume(f->st, f->other, upload, &up), CB_ERR_ACCESS);
	assert_int_equal(store_grant(f->st, f->user, node, f->other, CB_ROLE_WRITER), CB_OK);
	assert_int_equal(blob_resume(f->st, f->other, upload, &up), CB_OK);
	assert_int_equal(blob_offset(up), 5);
	assert_int_equal(blob_write(up, 5, "fg", 2), CB_OK);

	/* closed: destroy takes the upload and its partial file with it */
	blob_close(up);
	assert_int_equal(blob_chain_destroy(f->st, f->user, node), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_NONE);
	assert_false(exists(partial));
	assert_false(upload_stored(f, upload));
	assert_int_equal(blob_resume(f->st, f->user, upload, &up), CB_ERR_NOTFOUND);

	/* in the trash: not found */
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "t", 10, &up), CB_OK);
	blob_close(up);
	assert_int_equal(store_node_trash(f->st, f->user, node), CB_OK);
	assert_int_equal(blob_chain(f->st, f->user, node, &c), CB_ERR_NOTFOUND);
	assert_int_equal(c.state, CB_CHAIN_NONE);
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "t2", 10, &up),
			 CB_ERR_NOTFOUND);
	assert_int_equal(store_node_recover(f->st, f->user, node, NULL), CB_OK);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_ACTIVE);
}

/* Purging a node forgets its chain in the same transaction, whatever
 * state it was in, with the upload it held (record and partial file); an
 * open upload stays until it is closed and expires, and that does not
 * bring the chain back. A node made again with the same id starts fresh. */
static void test_chain_of_purged_node(void **state)
{
	fixture *f = (fixture *)*state;
	char done_node[CB_ID_LEN + 1], active_node[CB_ID_LEN + 1], open_node[CB_ID_LEN + 1];
	char kept[CB_ID_LEN + 1], partial[CB_DATA_PATH_MAX];
	make_node(f, "p1.bin", done_node);
	make_node(f, "p2.bin", active_node);
	make_node(f, "p3.bin", kept);
	make_node(f, "p4.bin", open_node);
	cb_upload *up, *open_up;
	assert_int_equal(chain_begin_mode(f, f->user, done_node, CB_UPLOAD_REPLACE, "d", 3, &up), CB_OK);
	assert_int_equal(blob_write(up, 0, "abc", 3), CB_OK);
	assert_int_equal(blob_complete(up, NULL, NULL), CB_OK);
	assert_int_equal(chain_begin_mode(f, f->user, active_node, CB_UPLOAD_REPLACE, "a", 3, &up),
			 CB_OK);
	assert_int_equal(blob_write(up, 0, "ab", 2), CB_OK);
	store_partial_path(f->st, blob_info(up)->id, partial, sizeof(partial));
	blob_close(up);
	assert_int_equal(chain_begin_mode(f, f->user, kept, CB_UPLOAD_REPLACE, "k", 3, &up), CB_OK);
	blob_close(up);
	assert_int_equal(chain_begin_mode(f, f->user, open_node, CB_UPLOAD_REPLACE, "o", 3, &open_up),
			 CB_OK);
	assert_int_equal(count_chain_records(f), 4);
	assert_int_equal(count_uploads(f), 3);

	assert_int_equal(store_node_purge(f->st, f->user, done_node), CB_OK);
	assert_int_equal(count_chain_records(f), 3);
	cb_chain c;
	assert_int_equal(blob_chain(f->st, f->user, done_node, &c), CB_ERR_NOTFOUND);

	/* an active one goes with its stored upload */
	assert_true(exists(partial));
	assert_int_equal(store_node_trash(f->st, f->user, active_node), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->user, active_node), CB_OK);
	assert_int_equal(count_chain_records(f), 2);
	assert_int_equal(count_uploads(f), 2);
	assert_false(exists(partial));

	/* an open one: the chain goes, the upload stays until it expires */
	assert_int_equal(store_node_trash(f->st, f->user, open_node), CB_OK);
	assert_int_equal(store_node_purge(f->st, f->user, open_node), CB_OK);
	assert_int_equal(count_chain_records(f), 1);
	assert_int_equal(count_uploads(f), 2);
	blob_close(open_up);
	int64_t later = cb_now_ms() + f->cfg.partial_ttl * 1000 + 1000;
	assert_int_equal(blob_expire(f->st, later), 2); /* open_node's and kept's */
	assert_int_equal(count_chain_records(f), 1);
	assert_int_equal(chain_of(f, kept).state, CB_CHAIN_EXPIRED);
	assert_int_equal(count_uploads(f), 0);

	/* the same id again: no chain */
	cb_node n;
	node_init(&n);
	snprintf(n.id, sizeof(n.id), "%s", done_node);
	snprintf(n.kind, sizeof(n.kind), "project");
	snprintf(n.name, sizeof(n.name), "again");
	assert_int_equal(store_node_create(f->st, f->user, &n, 0), CB_OK);
	node_clear(&n);
	assert_int_equal(chain_of(f, done_node).state, CB_CHAIN_NONE);
}

/* A chain upload that reached blobs/ before a crash is committed by
 * recovery (the chain DONE); one that lost its partial file EXPIRES. */
static void test_chain_recovered(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t len = 3210;
	uint8_t *data = make_data(len, 34);
	char md5[33], node[CB_ID_LEN + 1], lost[CB_ID_LEN + 1], id[CB_ID_LEN + 1];
	char partial[CB_DATA_PATH_MAX], final_path[CB_DATA_PATH_MAX];
	md5_hex(data, len, md5);
	make_node(f, "rec.bin", node);
	make_node(f, "lost.bin", lost);

	cb_upload *up;
	assert_int_equal(chain_begin_mode(f, f->user, node, CB_UPLOAD_REPLACE, "rc", (int64_t)len, &up),
			 CB_OK);
	snprintf(id, sizeof(id), "%s", blob_info(up)->id);
	write_range(up, data, 0, len, 1000);
	blob_close(up);
	store_partial_path(f->st, id, partial, sizeof(partial));
	store_blob_path(f->st, id, final_path, sizeof(final_path));
	assert_int_equal(rename(partial, final_path), 0);

	assert_int_equal(chain_begin_mode(f, f->user, lost, CB_UPLOAD_REPLACE, "ls", (int64_t)len, &up),
			 CB_OK);
	char lost_upload[CB_ID_LEN + 1], lost_partial[CB_DATA_PATH_MAX];
	snprintf(lost_upload, sizeof(lost_upload), "%s", blob_info(up)->id);
	write_range(up, data, 0, 1234, 1234);
	blob_close(up);
	store_partial_path(f->st, lost_upload, lost_partial, sizeof(lost_partial));
	assert_int_equal(unlink(lost_partial), 0);

	reopen(f);
	assert_int_equal(blob_recover(f->st), CB_OK);
	cb_node n;
	node_init(&n);
	assert_int_equal(store_node_get(f->st, f->user, node, &n, 0), CB_OK);
	assert_string_equal(n.blob, id);
	assert_string_equal(n.md5, md5);
	assert_int_equal(n.size, len);
	node_clear(&n);
	assert_blob_equals(f, id, data, len);
	assert_int_equal(chain_of(f, node).state, CB_CHAIN_DONE);

	cb_chain c = chain_of(f, lost);
	assert_int_equal(c.state, CB_CHAIN_EXPIRED);
	assert_int_equal(c.offset, 1234);
	assert_int_equal(c.size, (int64_t)len);
	assert_string_equal(c.name, "ls");
	assert_int_equal(count_uploads(f), 0);
	free(data);
}

/* blob_rewind drops what arrived after the last checkpoint: the file,
 * the offset and the MD5 state. */
static void test_rewind(void **state)
{
	fixture *f = (fixture *)*state;
	const size_t a_len = 3000, b_len = 1500;
	uint8_t *a = make_data(a_len, 35), *b = make_data(b_len, 36), *b2 = make_data(b_len, 37);
	uint8_t *whole = (uint8_t *)malloc(a_len + b_len);
	memcpy(whole, a, a_len);
	memcpy(whole + a_len, b2, b_len);
	char md5[33], partial[CB_DATA_PATH_MAX];
	md5_hex(whole, a_len + b_len, md5);

	cb_upload *up;
	assert_int_equal(begin(f, "rewound.bin", (int64_t)(a_len + b_len), &up), CB_OK);
	store_partial_path(f->st, blob_info(up)->id, partial, sizeof(partial));
	assert_int_equal(blob_write(up, 0, a, a_len), CB_OK);
	assert_int_equal(blob_checkpoint(up), CB_OK);
	assert_int_equal(blob_write(up, a_len, b, 700), CB_OK);
	assert_int_equal(blob_write(up, a_len + 700, b + 700, 300), CB_OK);
	assert_int_equal(blob_offset(up), a_len + 1000);

	blob_rewind(up);
	assert_int_equal(blob_offset(up), a_len);
	assert_int_equal(blob_durable_offset(up), a_len);
	struct stat sb;
	assert_int_equal(stat(partial, &sb), 0);
	assert_int_equal(sb.st_size, a_len);
	assert_int_equal(blob_write(up, a_len + 1000, b, 10), CB_ERR_OFFSET);
	/* twice is the same as once */
	blob_rewind(up);
	assert_int_equal(blob_offset(up), a_len);

	for (size_t off = 0; off < b_len; off += 500)
		assert_int_equal(blob_write(up, a_len + off, b2 + off, 500), CB_OK);
	cb_node n;
	node_init(&n);
	assert_int_equal(blob_complete(up, md5, &n), CB_OK);
	assert_string_equal(n.md5, md5);
	assert_int_equal(n.size, a_len + b_len);
	assert_blob_equals(f, n.blob, whole, a_len + b_len);
	node_clear(&n);

	/* with no checkpoint yet: back to nothing, MD5 from scratch */
	char md5_b2[33];
	md5_hex(b2, b_len, md5_b2);
	assert_int_equal(begin(f, "rewound2.bin", (int64_t)b_len, &up), CB_OK);
	store_partial_path(f->st, blob_info(up)->id, partial, sizeof(partial));
	assert_int_equal(blob_write(up, 0, b, 800), CB_OK);
	blob_rewind(up);
	assert_int_equal(blob_offset(up), 0);
	assert_int_equal(stat(partial, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(blob_write(up, 0, b2, b_len), CB_OK);
	node_init(&n);
	assert_int_equal(blob_complete(up, md5_b2, &n), CB_OK);
	assert_blob_equals(f, n.blob, b2, b_len);
	node_clear(&n);
	free(whole);
	free(a);
	free(b);
	free(b2);
}

/* A chain that completed or expired is a memory, not a reservation: its
 * declared size counts against no quota. */
static void test_chain_not_counted_in_quota(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(1000, 38);
	char done_node[CB_ID_LEN + 1], expired_node[CB_ID_LEN + 1];
	make_node(f, "qd.bin", done_node);
	make_node(f, "qe.bin", expired_node);
	f->cfg.quota = 1000;
	cb_upload *up, *other;

	/* expired after 100 of 700 declared bytes */
	assert_int_equal(chain_begin_mode(f, f->user, expired_node, CB_UPLOAD_REPLACE, "e", 700, &up),
			 CB_OK);
	/* while active, its 700 bytes are reserved */
	assert_int_equal(begin(f, "q1", 301, &other), CB_ERR_QUOTA);
	write_range(up, data, 0, 100, 100);
	blob_close(up);
	assert_int_equal(blob_expire(f->st, cb_now_ms() + f->cfg.partial_ttl * 1000 + 1000), 1);
	assert_int_equal(chain_of(f, expired_node).state, CB_CHAIN_EXPIRED);
	assert_int_equal(store_usage(f->st, f->user), 0);
	assert_int_equal(begin(f, "q1", 1001, &other), CB_ERR_QUOTA);
	assert_int_equal(begin(f, "q1", 1000, &other), CB_OK);
	blob_abort(other);

	/* completed with 600 bytes: those are the node's content, counted once */
	assert_int_equal(chain_begin_mode(f, f->user, done_node, CB_UPLOAD_REPLACE, "d", 600, &up),
			 CB_OK);
	write_range(up, data, 0, 600, 600);
	assert_int_equal(blob_complete(up, NULL, NULL), CB_OK);
	assert_int_equal(chain_of(f, done_node).state, CB_CHAIN_DONE);
	assert_int_equal(store_usage(f->st, f->user), 600);
	assert_int_equal(begin(f, "q2", 401, &other), CB_ERR_QUOTA);
	assert_int_equal(begin(f, "q2", 400, &other), CB_OK);
	write_range(other, data, 0, 400, 400);
	assert_int_equal(blob_complete(other, NULL, NULL), CB_OK);
	assert_int_equal(store_usage(f->st, f->user), 1000);
	free(data);
}

/* Revisions by upload: a node created by an upload starts with its
 * content (no revision); every upload into an existing node is a
 * revision by the uploader, the first content of an empty node too. */
struct revs {
	int n;
	char blob[4][CB_ID_LEN + 1];
	char user[4][CB_ID_LEN + 1];
	uint64_t size[4];
};

static int collect_revs(const cb_revision *r, void *ctx)
{
	revs *v = (revs *)ctx;
	if (v->n < 4) {
		snprintf(v->blob[v->n], sizeof(v->blob[0]), "%s", r->blob);
		snprintf(v->user[v->n], sizeof(v->user[0]), "%s", r->user);
		v->size[v->n] = r->size;
	}
	v->n++;
	return 0;
}

static void test_upload_revisions(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(300, 29);
	cb_upload *up;
	cb_node n, t;
	revs v;

	/* created with content: nothing before it */
	assert_int_equal(begin(f, "made.bin", 100, &up), CB_OK);
	finish(up, data, 100, &n);
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_list_revisions(f->st, f->user, n.id, collect_revs, &v), CB_OK);
	assert_int_equal(v.n, 0);
	node_clear(&n);

	/* an empty node's first content, uploaded by a writer */
	file_target(&n, "docs", "empty.bin");
	assert_int_equal(store_node_create(f->st, f->user, &n, 0), CB_OK);
	assert_int_equal(store_grant(f->st, f->user, n.id, f->other, CB_ROLE_WRITER), CB_OK);
	node_init(&t);
	snprintf(t.id, sizeof(t.id), "%s", n.id);
	assert_int_equal(blob_begin(f->st, f->other, &t, CB_UPLOAD_REPLACE, 200, 0, &up), CB_OK);
	cb_node r;
	finish(up, data, 200, &r);
	assert_int_equal(r.size, 200);
	char first[CB_ID_LEN + 1];
	snprintf(first, sizeof(first), "%s", r.blob);
	node_clear(&r);
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_list_revisions(f->st, f->user, n.id, collect_revs, &v), CB_OK);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.blob[0], "");
	assert_int_equal(v.size[0], 0);
	assert_string_equal(v.user[0], f->other);

	/* PUT by name onto it: the next revision keeps the first content */
	assert_int_equal(begin_mode(f, CB_UPLOAD_PUT, "empty.bin", 300, &up), CB_OK);
	finish(up, data, 300, &r);
	assert_string_equal(r.id, n.id);
	node_clear(&r);
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_list_revisions(f->st, f->user, n.id, collect_revs, &v), CB_OK);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.blob[1], first);
	assert_int_equal(v.size[1], 200);
	assert_string_equal(v.user[1], f->user);
	assert_blob_equals(f, first, data, 200);
	/* the owner pays for all of it */
	assert_int_equal(store_usage(f->st, f->user), 100 + 200 + 300);
	assert_int_equal(store_usage(f->st, f->other), 0);
	node_clear(&t);
	node_clear(&n);
	free(data);
}

/* blob_open(): a read-only descriptor of a stored blob, -1 for anything
 * that is not one. */
static void test_blob_open(void **state)
{
	fixture *f = (fixture *)*state;
	uint8_t *data = make_data(333, 30);
	cb_upload *up;
	cb_node n;
	assert_int_equal(begin(f, "open.bin", 333, &up), CB_OK);
	finish(up, data, 333, &n);

	int fd = blob_open(f->st, n.blob);
	assert_true(fd >= 0);
	uint8_t back[400];
	assert_int_equal(pread(fd, back, sizeof(back), 0), 333);
	assert_memory_equal(back, data, 333);
	assert_int_equal(pread(fd, back, 10, 320), 10); /* past the end: what is left */
	assert_memory_equal(back, data + 320, 10);
	assert_int_equal(write(fd, "x", 1), -1); /* read-only */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(close(fd), 0);

	char unknown[CB_ID_LEN + 1];
	id_uuid4(unknown);
	const char *bad[] = {unknown, "", "meta", "..", "../meta/data.mdb",
			     "././././././././././../meta/data.mdb"};
	for (const char *id : bad)
		assert_int_equal(blob_open(f->st, id), -1);
	/* an upload in progress is no blob yet */
	assert_int_equal(begin(f, "pending.bin", 10, &up), CB_OK);
	assert_int_equal(blob_open(f->st, blob_info(up)->id), -1);
	blob_abort(up);
	node_clear(&n);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_checkpoint_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_resumable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_md5_mismatch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_not_resumable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_between_rename_and_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_4gib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_and_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_content_fields_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_checked_up_front, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_rename_restored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_charged_to_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_unknown_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_deleted_mid_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_both_taken_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_both_name_at_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_both_recovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_put_unclaimed_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_begin_and_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_complete_and_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_resume_and_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_expired_lazily, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_destroy_lazily_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_abort_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_of_purged_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_recovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_not_counted_in_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_revisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_open, setup, teardown),
	};
	return cmocka_run_group_tests_name("blob", tests, NULL, NULL);
}
