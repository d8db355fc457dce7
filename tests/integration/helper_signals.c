/*
 * helper_signals.c - shim calls from signal handlers, at thousands of
 * signals a second, while the interrupted thread is itself inside shim
 * calls on watched sockets.
 *
 *   helper_signals SECONDS
 *
 * Run under the shim with rules that watch 127.0.0.1 (the test gives
 * breaker, bulkhead and send/write/recv faults); HELPER_INJECTED names the
 * errnos the rules inject ("ENOBUFS,ENOMEM"), so they are told apart from
 * real failures and counted. The process serves itself:
 * a server thread accepts on 127.0.0.1 and echoes without ever blocking.
 *
 *   main thread    for SECONDS: connect, make non-blocking, then send, recv,
 *                  write, read on it, and every 64 rounds close it and
 *                  connect again - every call a watched shim call;
 *   SIGALRM        setitimer(ITIMER_REAL) every 200 us (5 kHz), and
 *   SIGUSR1        a second thread pthread_kill()s the main thread in a
 *                  tight loop (one every ~50 us):
 *                  both handlers send() and write() on a watched socket of
 *                  their own.
 *
 * Checks (each failure is counted and reported, and the exit status is 1):
 *   errno    the handler saves errno on entry and restores it on exit; it
 *            sets a sentinel before each of its own calls, and a call that
 *            succeeded must leave the sentinel (the shim keeps errno as the
 *            real call left it). The main thread does the same around each
 *            of its calls, so a handler or a shim that leaks errno into the
 *            interrupted code is seen there.
 *   results  every failure is one a non-blocking socket can see (EAGAIN,
 *            EINTR, or an errno the rules inject); nothing else.
 *   progress a watchdog thread aborts the program (exit 3, saying where the
 *            main thread stands) if it makes no progress for 5 s: a
 *            deadlock in the shim shows as that, not as a hung test.
 *
 * Prints one summary line:
 *   rounds=N connects=N handler_runs=N handler_calls=N handler_injected=N
 *   main_injected=N errno_violations=N unexpected=N
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "helper.h"

#define SENTINEL   4242
#define MAX_CONNS  256
#define STALL_SECS 5

static int listener, port;
static int handler_fd = -1;
static int stop; /* atomic: read by every thread */
static uint64_t handler_runs, handler_calls, handler_injected, main_injected; /* atomic */
static uint64_t errno_violations, unexpected, rounds, connects;		      /* atomic */
static const char *where = "start"; /* atomic: the watchdog reads it */
/* What the rules inject: HELPER_INJECTED="ENOBUFS,ENOMEM" (up to 4 names). */
static int injected[4];
static int ninjected;

#define ADD(p) __atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

static int is_injected(int e)
{
	for (int i = 0; i < ninjected; i++)
		if (e == injected[i])
			return 1;
	return 0;
}

static int expected_failure(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || is_injected(e);
}

/* One call from a handler: sentinel before, checked after. */
static void handler_call(int use_write)
{
	static const char msg[16] = "signal handler\n";
	errno = SENTINEL;
	ssize_t r = use_write ? write(handler_fd, msg, sizeof(msg))
			      : send(handler_fd, msg, sizeof(msg), MSG_NOSIGNAL);
	int e = errno;
	ADD(&handler_calls);
	if (r >= 0 && e != SENTINEL)
		ADD(&errno_violations);
	if (r < 0 && is_injected(e))
		ADD(&handler_injected);
	if (r < 0 && !expected_failure(e))
		ADD(&unexpected);
}

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	ADD(&handler_runs);
	if (handler_fd >= 0) {
		handler_call(0);
		handler_call(1);
	}
	errno = saved;
}

/* Echoes what arrives, never blocking; all signals blocked here. */
static void *serve(void *arg)
{
	(void)arg;
	struct pollfd fds[MAX_CONNS + 1];
	int n = 1;
	fds[0].fd = listener;
	fds[0].events = POLLIN;
	char buf[4096];
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		if (poll(fds, (nfds_t)n, 100) <= 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int s = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (s >= 0 && n <= MAX_CONNS) {
				fds[n].fd = s;
				fds[n].events = POLLIN;
				n++;
			} else if (s >= 0) {
				close(s);
			}
		}
		for (int i = 1; i < n; i++) {
			if (!fds[i].revents)
				continue;
			ssize_t r = read(fds[i].fd, buf, sizeof(buf));
			if (r > 0) {
				(void)send(fds[i].fd, buf, (size_t)r, MSG_DONTWAIT | MSG_NOSIGNAL);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fds[i].fd);
				fds[i] = fds[--n];
				i--;
			}
		}
	}
	return NULL;
}

static pthread_t main_thread;

static void *kicker(void *arg)
{
	(void)arg;
	struct timespec t = {0, 50000};
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		pthread_kill(main_thread, SIGUSR1);
		nanosleep(&t, NULL);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	(void)arg;
	uint64_t last = 0;
	int still = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		sleep(1);
		uint64_t now =
		    __atomic_load_n(&rounds, __ATOMIC_RELAXED) + __atomic_load_n(&connects, __ATOMIC_RELAXED);
		still = now == last ? still + 1 : 0;
		last = now;
		if (still >= STALL_SECS) {
			printf("FAIL deadlock: the main thread made no progress for %d s (it was in: %s)\n",
			       STALL_SECS, __atomic_load_n(&where, __ATOMIC_RELAXED));
			fflush(stdout);
			_exit(3);
		}
	}
	return NULL;
}

/* One call of the main thread, checked like the handler's. */
static void main_check(ssize_t r, int e)
{
	if (r >= 0 && e != SENTINEL)
		ADD(&errno_violations);
	if (r < 0 && is_injected(e))
		ADD(&main_injected);
	if (r < 0 && !expected_failure(e) && e != EINPROGRESS && e != ECONNREFUSED)
		ADD(&unexpected);
}

static int open_connection(void)
{
	struct sockaddr_in a = loopback(port);
	for (int tries = 0; tries < 1000; tries++) {
		__atomic_store_n(&where, "socket", __ATOMIC_RELAXED);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		__atomic_store_n(&where, "connect", __ATOMIC_RELAXED);
		errno = SENTINEL;
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		int e = errno;
		main_check(r, e);
		ADD(&connects);
		if (r == 0 || e == EISCONN) {
			__atomic_store_n(&where, "fcntl", __ATOMIC_RELAXED);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			return fd;
		}
		__atomic_store_n(&where, "close after a failed connect", __ATOMIC_RELAXED);
		close(fd); /* EINTR or an injected error: a new socket, a new try */
	}
	die("no connection in 1000 tries");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: helper_signals SECONDS");
	int seconds = atoi(argv[1]);
	char names[128];
	snprintf(names, sizeof(names), "%s", getenv("HELPER_INJECTED") ? getenv("HELPER_INJECTED") : "");
	for (char *save = NULL, *n = strtok_r(names, ",", &save); n && ninjected < 4;
	     n = strtok_r(NULL, ",", &save))
		injected[ninjected++] = errno_from_name(n);
	listener = listen_on(0);
	struct sockaddr_in la;
	socklen_t ll = sizeof(la);
	getsockname(listener, (struct sockaddr *)&la, &ll);
	port = ntohs(la.sin_port);

	/* Threads other than main never take the signals. */
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_t server, kick, dog;
	main_thread = pthread_self();
	if (pthread_create(&server, NULL, serve, NULL) || pthread_create(&dog, NULL, watchdog, NULL) ||
	    pthread_create(&kick, NULL, kicker, NULL))
		die("pthread_create");
	handler_fd = open_connection();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: calls see EINTR, as many programs do */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	struct itimerval it = {{0, 200}, {0, 200}};
	setitimer(ITIMER_REAL, &it, NULL);

	int64_t end = now_ms() + (int64_t)seconds * 1000;
	int fd = open_connection();
	char out[64], in[4096];
	memset(out, 'x', sizeof(out));
	while (now_ms() < end) {
		ssize_t r;
		int e;
		__atomic_store_n(&where, "send", __ATOMIC_RELAXED);
		errno = SENTINEL;
		r = send(fd, out, sizeof(out), MSG_NOSIGNAL);
		e = errno;
		main_check(r, e);
		__atomic_store_n(&where, "recv", __ATOMIC_RELAXED);
		errno = SENTINEL;
		r = recv(fd, in, sizeof(in), 0);
		e = errno;
		main_check(r, e);
		__atomic_store_n(&where, "write", __ATOMIC_RELAXED);
		errno = SENTINEL;
		r = write(fd, out, sizeof(out));
		e = errno;
		main_check(r, e);
		__atomic_store_n(&where, "read", __ATOMIC_RELAXED);
		errno = SENTINEL;
		r = read(fd, in, sizeof(in));
		e = errno;
		main_check(r, e);
		if (ADD(&rounds) % 64 == 63) {
			__atomic_store_n(&where, "close", __ATOMIC_RELAXED);
			errno = SENTINEL;
			int c = close(fd);
			main_check(c, errno);
			fd = open_connection();
		}
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(kick, NULL);
	pthread_join(server, NULL);
	pthread_join(dog, NULL);
	close(fd);
	close(handler_fd);
	printf("rounds=%llu connects=%llu handler_runs=%llu handler_calls=%llu handler_injected=%llu "
	       "main_injected=%llu errno_violations=%llu unexpected=%llu\n",
	       (unsigned long long)rounds, (unsigned long long)connects, (unsigned long long)handler_runs,
	       (unsigned long long)handler_calls, (unsigned long long)handler_injected,
	       (unsigned long long)main_injected, (unsigned long long)errno_violations,
	       (unsigned long long)unexpected);
	fflush(stdout);
	return errno_violations == 0 && unexpected == 0 ? 0 : 1;
}
