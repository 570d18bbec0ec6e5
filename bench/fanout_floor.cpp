/* fanout_floor.cpp: the reference of `make bench`'s fan-out scenario:
 * what it costs this machine's kernel alone to get one small message to
 * SOCKETS loopback TCP connections, with no server logic at all.
 *
 * A parent process accepts SOCKETS connections from a child. Each round,
 * the parent notes the time and send()s one 200-byte message (the size
 * of cubby's `patch` event) on every connection in turn, as one thread
 * must. The child reads them in one epoll loop, as bench/fanout reads
 * cubbyd's sockets, and when the last of the round has arrived it writes
 * that moment back on a pipe. A round's time runs from the parent's first
 * send to that last arrival (CLOCK_MONOTONIC is one clock for both).
 *
 * Prints p50, p99 (nearest rank) and max of the ROUNDS times in ms.
 *
 *   fanout_floor SOCKETS ROUNDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common.h"

#define WHO "fanout_floor"
#define MSG 200

static int die(const char *what)
{
	fprintf(stderr, WHO ": %s: %s\n", what, strerror(errno));
	return 1;
}

/* The child: SOCKETS connections to port, then every round: read until
 * each has its MSG bytes, then report the time of the last on out. */
static int reader(int port, int n, int rounds, int out)
{
	int ep = epoll_create1(0);
	int *fds = (int *)calloc((size_t)n, sizeof(int));
	int *got = (int *)calloc((size_t)n, sizeof(int));
	if (ep < 0 || !fds || !got)
		return die("setup");
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)))
			return die("connect");
		struct epoll_event ev;
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			return die("epoll_ctl");
	}
	struct epoll_event evs[256];
	char buf[MSG * 4];
	for (int r = 0; r < rounds; r++) {
		int done = 0;
		while (done < n) {
			int k = epoll_wait(ep, evs, 256, 10000);
			if (k <= 0)
				return die("epoll_wait");
			for (int j = 0; j < k; j++) {
				int i = (int)evs[j].data.u32;
				ssize_t m = read(fds[i], buf, sizeof(buf));
				if (m <= 0)
					return die("read");
				got[i] += (int)m;
				if (got[i] >= MSG * (r + 1) && got[i] - (int)m < MSG * (r + 1))
					done++;
			}
		}
		double t = bench_now_s();
		if (write(out, &t, sizeof(t)) != (ssize_t)sizeof(t))
			return die("write");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fanout_floor SOCKETS ROUNDS\n");
		return 2;
	}
	int n = atoi(argv[1]), rounds = atoi(argv[2]);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1024) ||
	    getsockname(ls, (struct sockaddr *)&a, &alen))
		return die("listen");
	int report[2];
	if (pipe(report))
		return die("pipe");
	pid_t child = fork();
	if (child < 0)
		return die("fork");
	if (child == 0) {
		close(report[0]);
		_exit(reader(ntohs(a.sin_port), n, rounds, report[1]));
	}
	close(report[1]);

	int *fds = (int *)calloc((size_t)n, sizeof(int));
	double *times = (double *)calloc((size_t)rounds, sizeof(double));
	if (!fds || !times)
		return die("calloc");
	for (int i = 0; i < n; i++) {
		if ((fds[i] = accept(ls, NULL, NULL)) < 0)
			return die("accept");
		int one = 1; /* as libwebsockets sets on what it accepts */
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	char msg[MSG];
	memset(msg, 'x', sizeof(msg));
	for (int r = 0; r < rounds; r++) {
		double t0 = bench_now_s(), t1;
		for (int i = 0; i < n; i++)
			if (send(fds[i], msg, sizeof(msg), MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
				return die("send");
		if (read(report[0], &t1, sizeof(t1)) != (ssize_t)sizeof(t1))
			return die("the reader's report");
		times[r] = t1 - t0;
	}
	int status = 0;
	waitpid(child, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	bench_print_pcts(times, rounds);
	printf("\n");
	return 0;
}
