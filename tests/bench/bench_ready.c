/*
 * bench_ready.c - what the readiness wrappers cost with nothing pending:
 * N calls of poll() and N of epoll_wait() (timeout 0) on a pipe that is
 * readable, so each call returns at once with one event.
 *
 *   bench_ready poll|epoll N
 *
 * Instructions per call: valgrind --tool=callgrind at N and 2N, with and
 * without the shim, (I(2N) - I(N)) / N (docs/performance.md, "Readiness").
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	int p[2];
	if (pipe(p) < 0 || write(p[1], "x", 1) != 1)
		return 1;
	long got = 0;
	if (strcmp(argv[1], "poll") == 0) {
		struct pollfd f = {p[0], POLLIN, 0};
		for (long i = 0; i < n; i++)
			got += poll(&f, 1, 0);
	} else {
		int ep = epoll_create1(0);
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1}, out[4];
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e) < 0)
			return 1;
		for (long i = 0; i < n; i++)
			got += epoll_wait(ep, out, 4, 0);
	}
	printf("pid=%ld\nevents=%ld\n", (long)getpid(), got);
	return got == n ? 0 : 1;
}
