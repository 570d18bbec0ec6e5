/* files.cpp: test data and the server's data directory: pseudo-random
 * bytes, paths under <dir>/data, counting a subdirectory's entries,
 * finding the content files (<data>/blobs) that hold given bytes, and
 * whether a very large upload can run here. The functions fail the
 * (cmocka) test when the directory cannot be read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "support.h"

unsigned char *t_make_data(size_t len, uint32_t seed)
{
	unsigned char *p = (unsigned char *)malloc(len ? len : 1);
	assert_non_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 24);
	}
	return p;
}

void t_data_path(const t_server *s, const char *sub, const char *name, char *out)
{
	snprintf(out, T_PATH_MAX, "%s/data/%s%s%s", s->dir, sub, name ? "/" : "", name ? name : "");
}

int t_dir_entries(const t_server *s, const char *sub, void (*visit)(const char *, void *),
		  void *ctx)
{
	char path[T_PATH_MAX];
	t_data_path(s, sub, NULL, path);
	DIR *d = opendir(path);
	if (!d)
		fail_msg("cannot open %s", path);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (visit)
			visit(e->d_name, ctx);
	}
	closedir(d);
	return n;
}

int t_wait_entries(const t_server *s, const char *sub, int want, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	int n;
	while ((n = t_dir_entries(s, sub, NULL, NULL)) != want && t_now_ms() < deadline)
		t_sleep_ms(20);
	return n;
}

bool t_file_equals(const char *path, const unsigned char *data, size_t len)
{
	struct stat st;
	if (stat(path, &st) || (uint64_t)st.st_size != len)
		return false;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	unsigned char buf[65536];
	size_t off = 0, n;
	bool same = true;
	while (same && (n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		same = off + n <= len && !memcmp(buf, data + off, n);
		off += n;
	}
	fclose(fp);
	return same && off == len;
}

struct blob_match {
	const t_server *s;
	const unsigned char *data;
	size_t len;
	int found;
};

static void match_blob(const char *name, void *ctx)
{
	blob_match *m = (blob_match *)ctx;
	char path[T_PATH_MAX];
	t_data_path(m->s, "blobs", name, path);
	if (t_file_equals(path, m->data, m->len))
		m->found++;
}

int t_blobs_holding(const t_server *s, const unsigned char *data, size_t len)
{
	blob_match m = {s, data, len, 0};
	t_dir_entries(s, "blobs", match_blob, &m);
	return m.found;
}

const char *t_big_upload_skip(const t_server *s, uint64_t need_free, char *buf, size_t n)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)s;
	(void)need_free;
	(void)buf;
	(void)n;
	return "a sanitized build";
#else
	char path[T_PATH_MAX];
	struct statvfs v;
	t_data_path(s, "", NULL, path);
	if (statvfs(path, &v))
		return "statvfs of the data directory failed";
	unsigned long long avail = (unsigned long long)v.f_bavail * v.f_frsize;
	if (avail >= need_free)
		return NULL;
	snprintf(buf, n, "%llu MiB free in %s, it needs %llu", avail >> 20, path,
		 (unsigned long long)(need_free >> 20));
	return buf;
#endif
}
