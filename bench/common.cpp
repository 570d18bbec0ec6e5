/* common.cpp: the bench clients' masked frames and message wait (see
 * common.h). */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint32_t bench_key(void)
{
	return ((uint32_t)rand() << 1 ^ (uint32_t)rand()) | 1;
}

size_t bench_frame_head(unsigned char *out, int opcode, size_t n, uint32_t key)
{
	size_t h = 0;
	out[h++] = (unsigned char)(0x80 | (opcode & 0x0f));
	if (n < 126) {
		out[h++] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (unsigned char)(n >> 8);
		out[h++] = (unsigned char)n;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	memcpy(out + h, &key, 4);
	return h + 4;
}

void bench_mask(unsigned char *out, const unsigned char *in, size_t n, uint32_t key, size_t phase)
{
	unsigned char k[8];
	for (int j = 0; j < 8; j++)
		k[j] = ((const unsigned char *)&key)[(phase + (size_t)j) & 3];
	uint64_t k64;
	memcpy(&k64, k, 8);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, in + i, 8);
		w ^= k64;
		memcpy(out + i, &w, 8);
	}
	for (; i < n; i++)
		out[i] = in[i] ^ k[i & 3];
}

size_t bench_frame(unsigned char *out, const unsigned char *p, size_t n)
{
	uint32_t key = bench_key();
	size_t h = bench_frame_head(out, 2, n, key);
	bench_mask(out + h, p, n, key, 0);
	return h + n;
}

int bench_expect(t_ws *ws, const char *who, const char *want, const char *skip, char **msg)
{
	for (;;) {
		char *d;
		size_t n;
		int code;
		int op = t_ws_recv(ws, &d, &n, &code, 60000);
		if (op != 1) {
			if (op == 8)
				fprintf(stderr, "%s: expected %s, got close %d %s\n", who, want, code, d);
			else
				fprintf(stderr, "%s: expected %s, got opcode %d\n", who, want, op);
			free(d);
			return -1;
		}
		if (skip && strstr(d, skip)) {
			free(d);
			continue;
		}
		int rc = strstr(d, want) ? 0 : -1;
		if (rc)
			fprintf(stderr, "%s: expected %s, got %s\n", who, want, d);
		if (msg && !rc)
			*msg = d;
		else
			free(d);
		return rc;
	}
}

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_rss(int pid, double *vmrss, double *vmhwm)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	int found = 0;
	long kb;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
			*vmrss = (double)kb / 1024;
			found++;
		} else if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
			*vmhwm = (double)kb / 1024;
			found++;
		}
	}
	fclose(f);
	if (found != 2)
		fprintf(stderr, "%s: no VmRSS and VmHWM\n", path);
	return found == 2 ? 0 : -1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void bench_print_pcts(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), by_value);
	int r50 = (n * 50 + 99) / 100, r99 = (n * 99 + 99) / 100;
	printf(" %.3f %.3f %.3f", v[r50 - 1] * 1e3, v[r99 - 1] * 1e3, v[n - 1] * 1e3);
}
