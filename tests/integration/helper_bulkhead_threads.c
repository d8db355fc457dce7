/*
 * helper_bulkhead_threads.c - many threads of one process through one
 * bulkhead, as fast as they can.
 *
 *   helper_bulkhead_threads PORT THREADS ITERATIONS HOLD_MS
 *
 * Every thread, ITERATIONS times: a blocking connect to 127.0.0.1:PORT
 * (conc_server.py), read the greeting "hi\n", hold HOLD_MS, then
 * shutdown(SHUT_WR), read until the server's EOF, close. Waiting for the
 * server's EOF before close() matters: the server has counted the
 * connection gone before the shim frees its slot, so the server's maximum
 * of concurrent connections is an honest measure of the bulkhead.
 *
 * Threads start together (a barrier), so they really contend. Prints one
 * summary line, "connected=N failed=M first_errno=NAME", and exits 0 only
 * when every attempt connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server;
static int iterations, hold_ms;
static pthread_barrier_t start_line;
static int connected_total, failed_total, first_errno; /* atomic */

static void sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Reads until "\n" (greeting) or EOF; false on error. */
static int read_until(int fd, int want_newline)
{
	char buf[256];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0;
		if (n == 0)
			return !want_newline;
		if (want_newline && memchr(buf, '\n', (size_t)n))
			return 1;
	}
}

static void note_failure(int err)
{
	int none = 0;
	__atomic_compare_exchange_n(&first_errno, &none, err, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(&failed_total, 1, __ATOMIC_RELAXED);
}

static void one_connection(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_failure(errno);
		return;
	}
	/* A stuck peer must not hang the test: bound every read. */
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
		note_failure(errno);
		close(fd);
		return;
	}
	if (!read_until(fd, 1)) {
		note_failure(errno ? errno : ECONNRESET);
		close(fd);
		return;
	}
	__atomic_fetch_add(&connected_total, 1, __ATOMIC_RELAXED);
	sleep_ms(hold_ms);
	shutdown(fd, SHUT_WR);
	read_until(fd, 0);
	close(fd);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < iterations; i++)
		one_connection();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PORT THREADS ITERATIONS HOLD_MS\n", argv[0]);
		return 2;
	}
	int port = atoi(argv[1]), threads = atoi(argv[2]);
	iterations = atoi(argv[3]);
	hold_ms = atoi(argv[4]);
	if (port <= 0 || port > 65535 || threads <= 0 || threads > 256 || iterations <= 0 || hold_ms < 0) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)port);
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	pthread_t tids[256];
	pthread_barrier_init(&start_line, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "%s: pthread_create failed\n", argv[0]);
			return 2;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	const char *name = first_errno ? strerrorname_np(first_errno) : "none";
	printf("connected=%d failed=%d first_errno=%s\n", connected_total, failed_total, name ? name : "?");
	return failed_total == 0 ? 0 : 1;
}
