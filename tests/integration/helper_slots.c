/*
 * helper_slots.c - bulkhead slots follow the sockets that hold them, through
 * fork races and exec (test_trust_slots.sh).
 *
 *   helper_slots forkrace PORT FORKS   threads connect and close in a
 *        loop (PORT: a bulkhead destination; this program accepts), while
 *        the main thread forks FORKS children that exit at once; every
 *        tenth fork, an atfork handler closes a connection inside fork.
 *        The shell then checks that no slot stays held.
 *   helper_slots twofds PORT           one connection on descriptors 6 and
 *        7, then exec (twofds-after): under max_concurrent_requests=1,
 *        max_queue_size=0, closing 6 must keep the slot (a new connect is
 *        refused), closing 7 must free it (a new connect gets in).
 *   helper_slots cloexec PORT noshim|norules CMD...   a close-on-exec
 *        connection to PORT, then exec CMD (execvp) without LD_PRELOAD, or
 *        with FAULTLINE_RULES empty; prints "holding" first.
 */
#include "helper.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#define CHURNERS 4

static int listener_fd;
static volatile int stop;

static void *acceptor(void *arg)
{
	(void)arg;
	while (!stop) {
		int s = accept(listener_fd, NULL, NULL);
		if (s >= 0)
			close(s);
	}
	return NULL;
}

static void *churn(void *arg)
{
	int port = *(int *)arg;
	struct sockaddr_in a = loopback(port);
	while (!stop) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			continue;
		connect(c, (struct sockaddr *)&a, sizeof(a));
		close(c);
	}
	return NULL;
}

/* A connection closed inside fork, after the shim reserved the child's
 * share and before the child's memory is copied: glibc runs atfork
 * prepare handlers exactly there. What another thread's close can do by
 * chance, this does every time. */
static int victim = -1;

static void close_victim(void)
{
	if (victim >= 0)
		close(victim);
	victim = -1;
}

static int forkrace(int port, int forks)
{
	listener_fd = listen_on(port);
	pthread_atfork(close_victim, NULL, NULL);
	pthread_t ta, tc[CHURNERS];
	if (pthread_create(&ta, NULL, acceptor, NULL))
		die("pthread_create");
	for (int i = 0; i < CHURNERS; i++)
		if (pthread_create(&tc[i], NULL, churn, &port))
			die("pthread_create");
	int64_t t0 = now_ms();
	int made = 0;
	for (int i = 0; i < forks && now_ms() - t0 < 60000; i++) {
		if (i % 10 == 0)
			victim = connect_to(port);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			exit(0);
		made++;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	stop = 1;
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(tc[i], NULL);
	shutdown(listener_fd, SHUT_RDWR); /* wakes the acceptor: accept fails from now on */
	pthread_join(ta, NULL);
	printf("forks=%d\n", made);
	return 0;
}

/* 0 if a blocking connect to port got in, else its errno. */
static int try_connect(int port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	int e = r < 0 ? errno : 0;
	close(c);
	return e;
}

static int twofds(int port)
{
	int l = listen_on(port);
	if (dup2(l, 5) != 5)
		die("dup2 listener");
	close(l);
	int c = connect_to(port);
	if (dup2(c, 6) != 6 || dup2(c, 7) != 7)
		die("dup2 onto 6 and 7");
	close(c);
	char port_text[16];
	snprintf(port_text, sizeof(port_text), "%d", port);
	execl("/proc/self/exe", "helper_slots", "twofds-after", port_text, (char *)NULL);
	die("exec /proc/self/exe");
}

static int twofds_after(int port)
{
	close(6);
	int e = try_connect(port);
	if (e == 0)
		bad("close-one-of-two-keeps-slot",
		    "after closing fd 6, a new connect got in: the slot was given back while fd 7 holds it");
	else
		ok("close-one-of-two-keeps-slot");
	close(7);
	e = try_connect(port);
	if (e != 0)
		bad("close-both-frees-slot", "after closing fds 6 and 7, a new connect failed: %s", ename(e));
	else
		ok("close-both-frees-slot");
	return helper_failures ? 1 : 0;
}

static int cloexec(int port, const char *how, char **cmd)
{
	if (strcmp(how, "noshim") == 0)
		unsetenv("LD_PRELOAD");
	else if (strcmp(how, "norules") == 0)
		setenv("FAULTLINE_RULES", "", 1);
	else
		die("cloexec: noshim or norules, not '%s'", how);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = loopback(port);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to %d", port);
	printf("holding\n");
	fflush(stdout);
	execvp(cmd[0], cmd);
	die("exec %s", cmd[0]);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "forkrace") == 0)
		return forkrace(port_arg(argv[2]), atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "twofds") == 0)
		return twofds(port_arg(argv[2]));
	if (argc == 3 && strcmp(argv[1], "twofds-after") == 0)
		return twofds_after(port_arg(argv[2]));
	if (argc >= 5 && strcmp(argv[1], "cloexec") == 0)
		return cloexec(port_arg(argv[2]), argv[3], argv + 4);
	die("usage: helper_slots forkrace PORT FORKS | twofds PORT | cloexec PORT noshim|norules CMD...");
}
