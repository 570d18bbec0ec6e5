/* upload_ws.cpp: the `/upload` scenario of `make bench`: uploads FILE to
 * cubbyd's protocol 1 upload endpoint in binary messages of BLOB bytes,
 * with up to 8 messages in flight before their {"ready":true}, finishes
 * with the MD5 and prints the seconds from the `upload` message to the
 * {"close":true}. Frames are masked as a client must, a word at a time
 * (bench/common.cpp).
 *
 *   upload_ws PORT "Authorization: ...\r\n" FILE MD5 [BLOB]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common.h"

#define IN_FLIGHT 8

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
	if (t_ws_send_text(&ws, msg) || bench_expect(&ws, "upload_ws", "\"ready\":true", NULL, NULL))
		return 1;
	uint64_t left = (uint64_t)sb.st_size;
	unsigned in_flight = 0;
	while (left) {
		ssize_t n = read(fd, buf, left < blob ? left : blob);
		if (n <= 0) {
			perror("read");
			return 1;
		}
		if (t_send_all(ws.fd, out, bench_frame(out, buf, (size_t)n)))
			return 1;
		left -= (uint64_t)n;
		if (++in_flight == IN_FLIGHT) {
			if (bench_expect(&ws, "upload_ws", "\"ready\":true", NULL, NULL))
				return 1;
			in_flight--;
		}
	}
	for (; in_flight; in_flight--)
		if (bench_expect(&ws, "upload_ws", "\"ready\":true", NULL, NULL))
			return 1;
	int64_t t_data = t_now_ms();
	snprintf(msg, sizeof(msg), "{\"action\":\"finished\",\"value\":\"%s\"}", argv[4]);
	if (t_ws_send_text(&ws, msg) || bench_expect(&ws, "upload_ws", "\"close\":true", NULL, NULL))
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
