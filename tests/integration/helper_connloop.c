/*
 * helper_connloop.c - many short connections through the shim, to show
 * that a connection leaves nothing behind.
 *
 *   helper_connloop COUNT [MARK]
 *
 * Listens on 127.0.0.1 itself, then COUNT times: socket, connect (blocking;
 * the backlog accepts it), send 8 bytes, accept, close both ends. The
 * client end has SO_LINGER 0, so closing it resets the connection and no
 * TIME_WAIT socket eats the ephemeral ports (100,000 connections would
 * otherwise run out of them). A connect that the rules fail is counted
 * and the loop goes on, and so is a send that fails with EAGAIN (injected).
 *
 * Prints the resident set size after MARK connections (default COUNT/10)
 * and after all of them, from /proc/self/statm, in KiB:
 *
 *   connections=N refused=N rss_kib_at_mark=N rss_kib_at_end=N
 */
#include <fcntl.h>

#include "helper.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, resident = 0;
	if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2)
		die("reading /proc/self/statm");
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: helper_connloop COUNT [MARK]");
	long count = atol(argv[1]);
	long mark = argc > 2 ? atol(argv[2]) : count / 10;
	int listener = listen_on(0);
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	if (getsockname(listener, (struct sockaddr *)&a, &alen) < 0)
		die("getsockname");
	struct linger hard = {1, 0};
	long refused = 0, rss_mark = 0;
	for (long i = 0; i < count; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0)
			die("socket (after %ld connections)", i);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
			if (errno != ECONNREFUSED)
				die("connect (after %ld connections)", i);
			refused++;
			close(c);
		} else {
			if (send(c, "8 bytes\n", 8, MSG_NOSIGNAL) != 8 && errno != ECONNRESET &&
			    errno != EAGAIN)
				die("send (after %ld connections)", i);
			int s = accept_one(listener);
			close(c);
			close(s);
		}
		if (i + 1 == mark)
			rss_mark = rss_kib();
	}
	printf("connections=%ld refused=%ld rss_kib_at_mark=%ld rss_kib_at_end=%ld\n", count, refused,
	       rss_mark, rss_kib());
	return 0;
}
