/* upload_ws.cpp: the `/upload` scenario of `make bench`: uploads FILE to
 * cubbyd's protocol 1 upload endpoint in binary messages of BLOB bytes,
 * with up to 8 messages in flight before their {"ready":true}, finishes
 * with the MD5 and prints the seconds from the `upload` message to the
 * {"close":true}. Frames are masked as a client must, a word at a time,
 * so that the client costs little next to the server on the same cores.
 *
 *   upload_ws PORT "Authorization: ...\r\n" FILE MD5 [BLOB]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "support/support.h"

#define IN_FLIGHT 8

/* One masked binary frame of p[0..n) into out (n + 14 bytes); its length. */
static size_t frame(unsigned char *out, const unsigned char *p, size_t n)
{
	size_t h = 0;
	out[h++] = 0x82;
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
	uint32_t key = (uint32_t)rand() | 1;
	memcpy(out + h, &key, 4);
	h += 4;
	uint64_t k64 = ((uint64_t)key << 32) | key;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		w ^= k64;
		memcpy(out + h + i, &w, 8);
	}
	for (; i < n; i++)
		out[h + i] = p[i] ^ ((const unsigned char *)&key)[i & 3];
	return h + n;
}

/* Waits for the next text message; 0 when it contains `want`. */
static int expect(t_ws *ws, const char *want)
{
	char *d;
	size_t n;
	int code;
	int op = t_ws_recv(ws, &d, &n, &code, 60000);
	if (op != 1) {
		fprintf(stderr, "upload_ws: expected %s, got opcode %d\n", want, op);
		return -1;
	}
	int rc = strstr(d, want) ? 0 : -1;
	if (rc)
		fprintf(stderr, "upload_ws: expected %s, got %s\n", want, d);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: upload_ws PORT AUTH-HEADER FILE MD5 [BLOB]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	size_t blob = argc > 5 ? (size_t)atol(argv[5]) : 65536;
	int fd = open(argv[3], O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		perror(argv[3]);
		return 1;
	}
	t_ws ws;
	if (t_ws_connect(&ws, port, "/upload", argv[2]))
		return 1;
	unsigned char *buf = (unsigned char *)malloc(blob), *out = (unsigned char *)malloc(blob + 14);
	char msg[512];
	snprintf(msg, sizeof(msg), "{\"action\":\"upload\",\"value\":{\"name\":\"bench.bin\",\"size\":%lld}}",
		 (long long)sb.st_size);
	int64_t t0 = t_now_ms();
	if (t_ws_send_text(&ws, msg) || expect(&ws, "\"ready\":true"))
		return 1;
	uint64_t left = (uint64_t)sb.st_size;
	unsigned in_flight = 0;
	while (left) {
		ssize_t n = read(fd, buf, left < blob ? left : blob);
		if (n <= 0) {
			perror("read");
			return 1;
		}
		if (t_send_all(ws.fd, out, frame(out, buf, (size_t)n)))
			return 1;
		left -= (uint64_t)n;
		if (++in_flight == IN_FLIGHT) {
			if (expect(&ws, "\"ready\":true"))
				return 1;
			in_flight--;
		}
	}
	for (; in_flight; in_flight--)
		if (expect(&ws, "\"ready\":true"))
			return 1;
	int64_t t_data = t_now_ms();
	snprintf(msg, sizeof(msg), "{\"action\":\"finished\",\"value\":\"%s\"}", argv[4]);
	if (t_ws_send_text(&ws, msg) || expect(&ws, "\"close\":true"))
		return 1;
	int64_t t1 = t_now_ms();
	printf("%.3f\n", (double)(t1 - t0) / 1000.0);
	fprintf(stderr, "upload_ws: data %.3f s, finished to close %.3f s\n",
		(double)(t_data - t0) / 1000.0, (double)(t1 - t_data) / 1000.0);
	t_ws_close(&ws);
	free(buf);
	free(out);
	close(fd);
	return 0;
}
