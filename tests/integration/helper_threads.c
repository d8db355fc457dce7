/*
 * helper_threads.c - many threads of one process through the shim's
 * per-destination counters and fault decisions at once.
 *
 *   helper_threads PORT THREADS ITERATIONS
 *
 * Every thread (they start together, at a barrier) connects to
 * 127.0.0.1:PORT (a server that reads everything, e.g. server.py --mode
 * sink), then ITERATIONS times: send() 64 bytes and write() 64 bytes on
 * its blocking socket; every 500 rounds it closes and connects again.
 * The socket is blocking and the server drains it, so a -1 with EAGAIN can
 * only be an injected fault: each thread counts its calls and the errors
 * it saw, by itself, and the sums are printed:
 *
 *   threads=T connects=N send_calls=N send_injected=N write_calls=N
 *   write_injected=N other_errors=N
 *
 * The test compares them with `faultline stats --json` for the
 * destination: any lost or doubled update of a shared counter shows.
 * Exit status 0 unless a call failed with anything but EAGAIN.
 */
#include <pthread.h>

#include "helper.h"

#define MAX_THREADS 64
#define RECONNECT   500

struct counts {
	uint64_t connects, send_calls, send_injected, write_calls, write_injected, other_errors;
	int first_other;
};

static int port, iterations;
static pthread_barrier_t start_line;
static struct counts per_thread[MAX_THREADS];

static int open_connection(struct counts *c)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	c->connects++;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to 127.0.0.1:%d", port);
	return fd;
}

static void count(ssize_t r, uint64_t *calls, uint64_t *injected, struct counts *c)
{
	int e = errno;
	(*calls)++;
	if (r >= 0)
		return;
	if (e == EAGAIN) {
		(*injected)++;
	} else {
		if (!c->other_errors)
			c->first_other = e;
		c->other_errors++;
	}
}

static void *worker(void *arg)
{
	struct counts *c = arg;
	static const char msg[64] = "helper_threads: 64 bytes of payload to a sink server, again.\n";
	pthread_barrier_wait(&start_line);
	int fd = open_connection(c);
	for (int i = 0; i < iterations; i++) {
		count(send(fd, msg, sizeof(msg), MSG_NOSIGNAL), &c->send_calls, &c->send_injected, c);
		count(write(fd, msg, sizeof(msg)), &c->write_calls, &c->write_injected, c);
		if (i % RECONNECT == RECONNECT - 1) {
			close(fd);
			fd = open_connection(c);
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		die("usage: helper_threads PORT THREADS ITERATIONS");
	port = port_arg(argv[1]);
	int threads = atoi(argv[2]);
	iterations = atoi(argv[3]);
	if (threads < 1 || threads > MAX_THREADS || iterations < 1)
		die("bad THREADS or ITERATIONS");
	pthread_t tid[MAX_THREADS];
	pthread_barrier_init(&start_line, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, &per_thread[t]))
			die("pthread_create");
	struct counts sum;
	memset(&sum, 0, sizeof(sum));
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		struct counts *c = &per_thread[t];
		sum.connects += c->connects;
		sum.send_calls += c->send_calls;
		sum.send_injected += c->send_injected;
		sum.write_calls += c->write_calls;
		sum.write_injected += c->write_injected;
		sum.other_errors += c->other_errors;
		if (c->other_errors && !sum.first_other)
			sum.first_other = c->first_other;
	}
	printf("threads=%d connects=%llu send_calls=%llu send_injected=%llu write_calls=%llu "
	       "write_injected=%llu "
	       "other_errors=%llu\n",
	       threads, (unsigned long long)sum.connects, (unsigned long long)sum.send_calls,
	       (unsigned long long)sum.send_injected, (unsigned long long)sum.write_calls,
	       (unsigned long long)sum.write_injected, (unsigned long long)sum.other_errors);
	if (sum.other_errors)
		printf("FAIL other errors, the first: %s\n", ename(sum.first_other));
	fflush(stdout);
	return sum.other_errors ? 1 : 0;
}
