/*
 * bench_threads.c - send/recv throughput per thread, as threads are added.
 *
 *   bench_threads T one|distinct MS
 *
 * Each of T threads owns one loopback TCP connection: the client end C
 * (connected here, so a rule can match it) and the accepted end A. A
 * thread loops for MS milliseconds doing send(C) recv(A) send(A) recv(C),
 * one byte each: two calls on the watched socket and two on an unwatched
 * one, no waiting on other threads. `one`: every connection goes to the
 * same listener (one destination, so one shared-memory entry whose
 * counters every thread updates); `distinct`: one listener per thread
 * (T destinations).
 *
 * Prints the iterations per second of each thread, their median and sum.
 */
#include <pthread.h>

#include "bench.h"

#define MAX_THREADS 64

struct worker {
	pthread_t tid;
	int client, accepted;
	uint64_t iterations;
	uint64_t ns;
};

static pthread_barrier_t start_line;
static int stop; /* atomic */

static void *work(void *arg)
{
	struct worker *w = arg;
	char byte = 't';
	pthread_barrier_wait(&start_line);
	uint64_t t0 = now_ns(), n = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (send(w->client, &byte, 1, 0) != 1 || recv(w->accepted, &byte, 1, 0) != 1 ||
		    send(w->accepted, &byte, 1, 0) != 1 || recv(w->client, &byte, 1, 0) != 1)
			die("thread i/o");
		n++;
	}
	w->ns = now_ns() - t0;
	w->iterations = n;
	return NULL;
}

static int by_rate(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bench_threads THREADS one|distinct MILLISECONDS\n");
		return 2;
	}
	long t = arg_long(argv[1], "THREADS");
	bool distinct = strcmp(argv[2], "distinct") == 0;
	if (!distinct && strcmp(argv[2], "one") != 0)
		die("mode must be one or distinct, not '%s'", argv[2]);
	long ms = arg_long(argv[3], "MILLISECONDS");
	if (t > MAX_THREADS)
		die("at most %d threads", MAX_THREADS);

	static struct worker workers[MAX_THREADS];
	int listeners[MAX_THREADS];
	struct sockaddr_in addrs[MAX_THREADS];
	for (long i = 0; i < t; i++) {
		long l = distinct ? i : 0;
		if (i == l)
			listeners[l] = bound_socket(true, &addrs[l]);
		workers[i].client = connect_to(&addrs[l]);
		workers[i].accepted = accept_one(listeners[l]);
	}
	pthread_barrier_init(&start_line, NULL, (unsigned)t + 1);
	for (long i = 0; i < t; i++)
		if (pthread_create(&workers[i].tid, NULL, work, &workers[i]) != 0)
			die("pthread_create");
	pthread_barrier_wait(&start_line);
	struct timespec run = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&run, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	double rates[MAX_THREADS], sum = 0;
	for (long i = 0; i < t; i++) {
		pthread_join(workers[i].tid, NULL);
		rates[i] = (double)workers[i].iterations * 1e9 / (double)workers[i].ns;
		sum += rates[i];
	}
	printf("threads=%ld\nmode=%s\n", t, distinct ? "distinct" : "one");
	for (long i = 0; i < t; i++)
		printf("thread%ld_per_s=%.0f\n", i, rates[i]);
	qsort(rates, (size_t)t, sizeof(rates[0]), by_rate);
	printf("per_thread_median_per_s=%.0f\n", rates[t / 2]);
	printf("total_per_s=%.0f\n", sum);
	return 0;
}
