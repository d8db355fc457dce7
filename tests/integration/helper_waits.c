/*
 * helper_waits.c - a signal during a wait the shim adds: an injected delay,
 * or a place in a bulkhead's queue. signal(7) says what a program must see:
 * a handler installed without SA_RESTART interrupts the call (-1/EINTR),
 * one with SA_RESTART lets it go on. The helper arms alarm(1) with such a
 * handler, makes one blocking call, and reports what it saw.
 *
 *   helper_waits recv restart|plain
 *       A loopback pair of its own (listen on an ephemeral port, connect,
 *       accept), the server side sends "hi\n" at once; then recv() on the
 *       client. Run it under a recv delay longer than a second. With
 *       `plain`, after the interrupted recv it cancels the alarm and
 *       receives again: the data must still be there (the interrupted call
 *       made no real recv, nothing was consumed).
 *   helper_waits connect PORT restart|plain
 *       A blocking connect() to 127.0.0.1:PORT (run it while the
 *       destination's bulkhead is full, so it queues).
 *
 * Prints one line (times measured around the call, CLOCK_MONOTONIC):
 *   rc=R errno=NAME ms=M handler_runs=N [again_rc=R again_data=TEXT]
 * errno is "-" when the call succeeded.
 */
#include <signal.h>

#include "helper.h"

static volatile sig_atomic_t handler_runs;

static void on_alarm(int sig)
{
	(void)sig;
	handler_runs++;
}

static void arm(bool restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = restart ? SA_RESTART : 0;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die("sigaction");
	alarm(1);
}

static void report(long rc, int err, int64_t ms)
{
	printf("rc=%ld errno=%s ms=%lld handler_runs=%d", rc, rc < 0 ? ename(err) : "-", (long long)ms,
	       (int)handler_runs);
}

static int recv_mode(bool restart)
{
	int l = listen_on(0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("getsockname");
	int c = connect_to(ntohs(a.sin_port));
	int s = accept_one(l);
	if (send(s, "hi\n", 3, 0) != 3)
		die("server send");
	char buf[16];
	arm(restart);
	int64_t t0 = now_ms();
	ssize_t r = recv(c, buf, sizeof(buf), 0);
	int err = errno;
	int64_t t1 = now_ms();
	alarm(0);
	report((long)r, err, t1 - t0);
	if (!restart) {
		ssize_t again = recv(c, buf, sizeof(buf) - 1, 0);
		buf[again > 0 ? again : 0] = '\0';
		if (again > 0 && buf[again - 1] == '\n')
			buf[again - 1] = '\0';
		printf(" again_rc=%ld again_data=%s", (long)again, again > 0 ? buf : "-");
	}
	printf("\n");
	return 0;
}

static int connect_mode(int port, bool restart)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0)
		die("socket");
	struct sockaddr_in a = loopback(port);
	arm(restart);
	int64_t t0 = now_ms();
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	int err = errno;
	int64_t t1 = now_ms();
	alarm(0);
	report(r, err, t1 - t0);
	printf("\n");
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "recv") == 0)
		return recv_mode(strcmp(argv[2], "restart") == 0);
	if (argc == 4 && strcmp(argv[1], "connect") == 0)
		return connect_mode(port_arg(argv[2]), strcmp(argv[3], "restart") == 0);
	fprintf(stderr, "usage: helper_waits recv restart|plain | connect PORT restart|plain\n");
	return 2;
}
