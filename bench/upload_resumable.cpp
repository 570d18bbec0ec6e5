/* upload_resumable.cpp: the `/ws/Upload` scenarios of `make bench`:
 * creates N projects over /ws (project_save), then uploads N slices of
 * FILE at the same time, SIZE bytes each (upload i sends the bytes from
 * i * SIZE; SIZE defaults to the file's size / N), each into its project
 * through the resumable upload (protocol 2, docs/resumable-upload.md).
 * All uploads run from one poll loop over non-blocking sockets, in the
 * largest messages the server offers (10 + BufferSize bytes), framed and
 * masked a word at a time (bench/common.cpp) straight from the mapped
 * file, several messages per send().
 *
 * The clock runs from the first FileStateInfo answer (the connections are
 * open and their FileStateInfo received before) to the last close 1000,
 * each after its final heartbeat at 100%. Prints the seconds and the
 * aggregate MB/s (10^6 bytes per second) on stdout.
 *
 *   upload_resumable PORT "Authorization: ...\r\n" FILE [N [SIZE]]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common.h"

#define WHO "upload_resumable"
#define BATCH_BYTES (256 << 10) /* frames built ahead per connection */
#define STALL_MS 60000          /* no byte either way for this long: give up */
#define HEAD 10                 /* offset (int64 LE) + count (int16 LE) */

enum state { WAIT_FIRST, SENDING, WAIT_CLOSE, DONE };

struct upload {
	t_ws ws;
	char id[48];
	const unsigned char *src; /* this upload's slice of the file */
	uint64_t framed;          /* data bytes put into frames so far */
	uint64_t heard;           /* FileOffset of the last heartbeat */
	unsigned heartbeats;
	state st;
	double done;              /* seconds since t0 at its close 1000 */
	unsigned char *out;       /* frames built, [out_off, out_len) not sent */
	size_t out_len, out_off;
};

static uint64_t size;   /* bytes per upload */
static size_t chunk;    /* data bytes per message */
static size_t batch;    /* messages built at a time */

/* The whole file read-only in memory; NULL (and why) on failure. */
static const unsigned char *map_file(const char *path, uint64_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		perror(path);
		return NULL;
	}
	if (!sb.st_size) {
		fprintf(stderr, WHO ": %s is empty\n", path);
		close(fd);
		return NULL;
	}
	*len = (uint64_t)sb.st_size;
	void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror(path);
		return NULL;
	}
	return (const unsigned char *)p;
}

/* Builds the next messages of u into u->out: per message the frame
 * header, then offset, count and data masked together. */
static void build(upload *u)
{
	u->out_len = u->out_off = 0;
	for (size_t k = 0; k < batch && u->framed < size; k++) {
		size_t n = size - u->framed < chunk ? (size_t)(size - u->framed) : chunk;
		uint32_t key = bench_key();
		unsigned char *f = u->out + u->out_len;
		size_t h = bench_frame_head(f, 2, HEAD + n, key);
		unsigned char head[HEAD];
		for (int i = 0; i < 8; i++)
			head[i] = (unsigned char)(u->framed >> (8 * i));
		head[8] = (unsigned char)n;
		head[9] = (unsigned char)(n >> 8);
		bench_mask(f + h, head, HEAD, key, 0);
		bench_mask(f + h + HEAD, u->src + u->framed, n, key, HEAD);
		u->framed += n;
		u->out_len += h + HEAD + n;
	}
}

/* Sends what the socket takes; 1 if it sent anything, 0 if not, -1 on
 * error. */
static int pump(upload *u)
{
	int sent = 0;
	for (;;) {
		if (u->out_off == u->out_len) {
			if (u->framed == size) {
				u->st = WAIT_CLOSE;
				return sent;
			}
			build(u);
		}
		ssize_t w = send(u->ws.fd, u->out + u->out_off, u->out_len - u->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return sent;
			fprintf(stderr, WHO ": %s: send at %llu bytes: %s\n", u->id,
				(unsigned long long)u->framed, strerror(errno));
			return -1;
		}
		u->out_off += (size_t)w;
		sent = 1;
	}
}

/* A heartbeat: {"Kind":"UploadedBytes","FileOffset":N,"UploadPercentage":P};
 * 0 or -1 if d is something else or wrong. */
static int on_heartbeat(upload *u, const char *d)
{
	const char *o = strstr(d, "\"FileOffset\":"), *p = strstr(d, "\"UploadPercentage\":");
	if (!strstr(d, "\"UploadedBytes\"") || !o || !p) {
		fprintf(stderr, WHO ": %s: expected a heartbeat, got %s\n", u->id, d);
		return -1;
	}
	uint64_t off = strtoull(o + 13, NULL, 10);
	double pct = strtod(p + 19, NULL);
	if (off < u->heard || off > u->framed || (off == size && pct != 100.0) ||
	    (u->st == WAIT_FIRST && off)) {
		fprintf(stderr, WHO ": %s: after %llu bytes sent, heartbeat %s\n", u->id,
			(unsigned long long)u->framed, d);
		return -1;
	}
	u->heard = off;
	u->heartbeats++;
	if (u->st == WAIT_FIRST)
		u->st = SENDING;
	return 0;
}

/* Reads what came for u; 1 if anything did, 0 if not, -1 on error. */
static int receive(upload *u, double t0)
{
	int got = 0;
	for (;;) {
		char *d;
		size_t n;
		int code = 0;
		int op = t_ws_recv(&u->ws, &d, &n, &code, 0);
		if (op < 0)
			return got; /* nothing more for now */
		got = 1;
		int rc = 0;
		if (op == 1) {
			rc = on_heartbeat(u, d);
		} else if (op == 8 && code == 1000 && u->st == WAIT_CLOSE && u->heard == size) {
			u->st = DONE;
			u->done = bench_now_s() - t0;
		} else {
			fprintf(stderr, WHO ": %s: after %llu bytes sent, %llu heard: %s %d %s\n", u->id,
				(unsigned long long)u->framed, (unsigned long long)u->heard,
				op == 8 ? "close" : op == 2 ? "a binary message" : "connection lost",
				code, d ? d : "");
			rc = -1;
		}
		free(d);
		if (rc || u->st == DONE)
			return rc ? -1 : 1;
	}
}

static void report(const upload *u, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(stderr, WHO ": %s: state %d, %llu sent, %llu heard, %u heartbeats\n",
			u[i].id, (int)u[i].st, (unsigned long long)u[i].framed,
			(unsigned long long)u[i].heard, u[i].heartbeats);
}

/* Creates the projects named u[i].id over /ws. */
static int save_projects(int port, const char *auth, upload *u, int n)
{
	t_ws api;
	if (t_ws_connect(&api, port, "/ws", auth)) {
		fprintf(stderr, WHO ": /ws: refused (HTTP %d)\n", api.status);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char want[96], name[64];
		cJSON *p = cJSON_CreateObject();
		snprintf(name, sizeof(name), "bench upload %d", i);
		cJSON_AddStringToObject(p, "uuid", u[i].id);
		cJSON_AddStringToObject(p, "name", name);
		snprintf(want, sizeof(want), "\"value\":\"%s\"", u[i].id);
		if (t_ws_send_action(&api, "project_save", p) ||
		    bench_expect(&api, WHO, want, "\"type\":\"users\"", NULL)) {
			t_ws_close(&api);
			return -1;
		}
	}
	t_ws_close(&api);
	return 0;
}

/* Opens u's /ws/Upload and reads its FileStateInfo, which sets chunk. */
static int open_upload(int port, const char *auth, upload *u)
{
	char path[128], *msg;
	snprintf(path, sizeof(path), "/ws/Upload?id=%s&saveMedia=true", u->id);
	if (t_ws_connect(&u->ws, port, path, auth)) {
		fprintf(stderr, WHO ": %s: refused (HTTP %d)\n", path, u->ws.status);
		return -1;
	}
	if (bench_expect(&u->ws, WHO, "\"IsInitialized\":false", NULL, &msg))
		return -1;
	const char *b = strstr(msg, "\"BufferSize\":");
	long bs = b ? strtol(b + 13, NULL, 10) : 0;
	free(msg);
	if (bs <= 0 || bs > 32767) {
		fprintf(stderr, WHO ": %s: no usable BufferSize\n", u->id);
		return -1;
	}
	if (!chunk || (size_t)bs < chunk)
		chunk = (size_t)bs;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: " WHO " PORT AUTH-HEADER FILE [N [SIZE]]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	const char *auth = argv[2];
	int n = argc > 4 ? atoi(argv[4]) : 1;
	uint64_t flen;
	const unsigned char *file = map_file(argv[3], &flen);
	if (!file)
		return 1;
	size = argc > 5 ? strtoull(argv[5], NULL, 10) : n > 0 ? flen / (uint64_t)n : 0;
	if (n < 1 || n > 1000 || !size || size * (uint64_t)n > flen) {
		fprintf(stderr, WHO ": N (1-1000) uploads of SIZE (> 0) bytes must fit in %s\n", argv[3]);
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	upload *u = (upload *)calloc((size_t)n, sizeof(*u));
	unsigned tag = (unsigned)rand();
	for (int i = 0; i < n; i++) {
		snprintf(u[i].id, sizeof(u[i].id), "bench-%08x-%04d", tag, i);
		u[i].src = file + (uint64_t)i * size;
		u[i].ws.fd = -1;
	}
	if (save_projects(port, auth, u, n))
		return 1;
	for (int i = 0; i < n; i++)
		if (open_upload(port, auth, &u[i]))
			return 1;
	size_t frame_max = 8 + HEAD + chunk;
	batch = BATCH_BYTES / frame_max ? BATCH_BYTES / frame_max : 1;
	for (int i = 0; i < n; i++)
		if (!(u[i].out = (unsigned char *)malloc(batch * frame_max)))
			return 1;

	char answer[256];
	double t0 = bench_now_s();
	for (int i = 0; i < n; i++) {
		snprintf(answer, sizeof(answer),
			 "{\"FileName\":\"%s.bin\",\"TotalFileSize\":%llu,\"CurrentFileOffset\":0}",
			 u[i].id, (unsigned long long)size);
		if (t_ws_send_text(&u[i].ws, answer))
			return 1;
	}

	pollfd *pf = (pollfd *)calloc((size_t)n, sizeof(*pf));
	int *who = (int *)calloc((size_t)n, sizeof(*who));
	int left = n;
	double last = bench_now_s();
	while (left) {
		int m = 0;
		for (int i = 0; i < n; i++) {
			if (u[i].st == DONE)
				continue;
			pf[m].fd = u[i].ws.fd;
			pf[m].events = (short)(POLLIN | (u[i].st == SENDING ? POLLOUT : 0));
			pf[m].revents = 0;
			who[m++] = i;
		}
		int r = poll(pf, (nfds_t)m, 1000);
		if (r < 0 && errno != EINTR) {
			perror("poll");
			return 1;
		}
		for (int j = 0; j < m && r > 0; j++) {
			upload *x = &u[who[j]];
			int moved = 0;
			if (pf[j].revents & (POLLIN | POLLERR | POLLHUP)) {
				enum state before = x->st;
				if ((moved = receive(x, t0)) < 0) {
					report(u, n);
					return 1;
				}
				if (x->st == DONE)
					left--;
				else if (before == WAIT_FIRST && x->st == SENDING)
					pf[j].revents |= POLLOUT; /* start at once */
			}
			if (x->st == SENDING && (pf[j].revents & POLLOUT)) {
				int s = pump(x);
				if (s < 0) {
					report(u, n);
					return 1;
				}
				moved |= s;
			}
			if (moved)
				last = bench_now_s();
		}
		if ((bench_now_s() - last) * 1000 > STALL_MS) {
			fprintf(stderr, WHO ": nothing moved for %d s\n", STALL_MS / 1000);
			report(u, n);
			return 1;
		}
	}

	double t1 = 0, first = 1e30;
	unsigned hb = 0;
	for (int i = 0; i < n; i++) {
		if (u[i].done > t1)
			t1 = u[i].done;
		if (u[i].done < first)
			first = u[i].done;
		hb += u[i].heartbeats;
		t_ws_close(&u[i].ws);
		free(u[i].out);
	}
	double total = (double)size * n;
	printf("%.3f %.1f\n", t1, total / 1e6 / t1);
	fprintf(stderr, WHO ": %d x %llu bytes in %.3f s (first done at %.3f s), %u heartbeats, "
		"%zu data bytes per message\n",
		n, (unsigned long long)size, t1, first, hb, chunk);
	free(pf);
	free(who);
	free(u);
	munmap((void *)file, (size_t)flen);
	return 0;
}
