/*
 * bench_delay.c - how long an injected delay really lasts, and what it
 * costs in CPU while it waits.
 *
 *   bench_delay N [SLEEP_MS]
 *
 * N one-byte send()s over a loopback TCP connection to a forked sink, each
 * timed on its own. run.sh runs it under a rule such as `127.0.0.1 fault
 * on=send delay_ms=10`; and without the shim with SLEEP_MS=10, where the
 * program sleeps before each send itself (clock_nanosleep to an absolute
 * deadline, as the shim does): the floor any sleeping delay can reach on
 * this machine, in time and in CPU.
 *
 * Prints every per-call time (samples_us=, in call order, so run.sh can
 * pool several runs), their median, p99 and maximum, and the
 * process CPU time (CLOCK_PROCESS_CPUTIME_ID, every thread, user + system)
 * spent over the whole loop: a sleeping delay costs a few microseconds of
 * CPU per call, a busy-waiting one would cost the whole delay.
 */
#include "bench.h"

static void serve_sink(int fd)
{
	char buf[4096];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			return;
		if (r < 0 && errno != EINTR)
			die("sink recv");
	}
}

static void sleep_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, long n, double p)
{
	long rank = (long)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: bench_delay N [SLEEP_MS]\n");
		return 2;
	}
	long n = arg_long(argv[1], "N");
	long own_sleep = argc == 3 ? arg_long(argv[2], "SLEEP_MS") : 0;
	uint64_t *samples = calloc((size_t)n, sizeof(*samples));
	if (!samples)
		die("out of memory");
	struct sockaddr_in addr;
	int listener = bound_socket(true, &addr);
	pid_t peer = fork_peer(listener, serve_sink);
	int fd = connect_to(&addr);
	char byte = 'd';
	uint64_t cpu0 = cpu_ns(), wall0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (own_sleep)
			sleep_ms(own_sleep);
		if (send(fd, &byte, 1, 0) != 1)
			die("send");
		samples[i] = now_ns() - t0;
	}
	uint64_t wall = now_ns() - wall0, cpu = cpu_ns() - cpu0;
	close(fd);
	wait_peer(peer);
	close(listener);
	printf("samples_us=");
	for (long i = 0; i < n; i++)
		printf("%s%.1f", i ? "," : "", (double)samples[i] / 1e3);
	printf("\n");
	qsort(samples, (size_t)n, sizeof(*samples), by_value);
	printf("calls=%ld\n", n);
	printf("median_us=%.1f\n", (double)percentile(samples, n, 50) / 1e3);
	printf("p99_us=%.1f\n", (double)percentile(samples, n, 99) / 1e3);
	printf("max_us=%.1f\n", (double)samples[n - 1] / 1e3);
	printf("min_us=%.1f\n", (double)samples[0] / 1e3);
	printf("wall_ms=%.1f\n", (double)wall / 1e6);
	printf("cpu_ms=%.3f\n", (double)cpu / 1e6);
	printf("cpu_us_per_call=%.2f\n", (double)cpu / 1e3 / (double)n);
	printf("cpu_share=%.5f\n", (double)cpu / (double)wall);
	free(samples);
	return 0;
}
