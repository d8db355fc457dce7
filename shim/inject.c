/*
 * inject.c - delays, errors and outcomes for watched sockets.
 *
 * Thread-local state uses the initial-exec TLS model: the shim is loaded at
 * start-up, so its TLS is static and reading it never calls
 * __tls_get_addr, which may allocate - not allowed in a signal handler.
 */
#include "inject.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "breaker.h"
#include "connfault.h"
#include "domain.h"
#include "errnames.h"
#include "evsum.h"
#include "log.h"
#include "ready.h"
#include "shim.h"
#include "wait.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

static TLS struct fl_rng thread_rng;
static TLS int thread_seeded;
static uint64_t thread_ordinals; /* atomic */

/*
 * Streams of forked processes. Every fork gets an ordinal in its parent
 * (counted by an atfork prepare handler, in the forking thread, so two
 * threads forking at once get two ordinals); the child mixes it into its
 * stream and into process_salt, from which its later threads seed theirs.
 * Siblings therefore draw different faults, and the same program under
 * the same FAULTLINE_SEED draws the same ones run after run. Without a
 * seed the child's pid is mixed in too (a raw clone runs no handler).
 */
static uint64_t process_salt;  /* 0 in the process that loaded the rules */
static uint64_t fork_ordinals; /* atomic */
static TLS uint64_t this_fork;

static void count_fork(void)
{
	this_fork = __atomic_add_fetch(&fork_ordinals, 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void watch_forks(void)
{
	pthread_atfork(count_fork, NULL, NULL);
}

struct fl_rng *fl_thread_rng(void)
{
	if (FL_UNLIKELY(!thread_seeded)) {
		uint64_t ordinal = __atomic_fetch_add(&thread_ordinals, 1, __ATOMIC_RELAXED);
		fl_rng_seed(&thread_rng, fl_state.seed ^ process_salt, ordinal);
		thread_seeded = 1;
	}
	return &thread_rng;
}

static bool seeded_by_user(void)
{
	const char *env = getenv("FAULTLINE_SEED");
	return fl_state.rules.has_seed || (env && *env);
}

void fl_thread_rng_fork(void)
{
	struct fl_rng *g = fl_thread_rng();
	uint64_t salt = fl_rng_mix(process_salt ^ fl_rng_mix(this_fork + 0x666f726bULL)); /* "fork" */
	if (!seeded_by_user())
		salt = fl_rng_mix(salt ^ (uint64_t)syscall(SYS_getpid));
	process_salt = salt;
	fork_ordinals = 0;
	g->state = fl_rng_mix(g->state ^ salt);
}

/* Sleeps ms on the monotonic clock to an absolute deadline, as the call it
 * delays would block (lib/wait.h): a handler with SA_RESTART lets the rest
 * be slept (repeated signals neither shorten nor lengthen it), one without
 * ends it. Returns 0, or EINTR when a signal ended it. */
static int sleep_ms(uint32_t ms)
{
	struct timespec deadline;
	fl_deadline_after_ms(&deadline, ms);
	return fl_sleep_until(&deadline);
}

static void log_fault(const struct fl_dest *d, enum fl_op op, const struct fl_fault_decision *f)
{
	char storage[512], dest[FL_DEST_STR_MAX];
	struct fl_textbuf b;
	fl_dest_format(d, dest, sizeof(dest));
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, fl_op_names[op]);
	fl_tb_puts(&b, " ");
	fl_tb_puts(&b, dest);
	if (f->delay_ms) {
		fl_tb_puts(&b, ": delay ");
		fl_tb_putu(&b, f->delay_ms);
		fl_tb_puts(&b, " ms");
	}
	if (f->error) {
		const char *name = fl_errno_name(f->error);
		fl_tb_puts(&b, ": error ");
		fl_tb_puts(&b, name ? name : "?");
	}
	fl_log_end(&b);
}

static void count_fault(struct fl_conn *c, enum fl_op op, const struct fl_fault_decision *f)
{
	if (!c->stats)
		return;
	struct fl_seg_op_stats *s = &c->stats->ops[op];
	if (f->error)
		ADD(&s->errors_injected, 1);
	if (f->delay_ms) {
		ADD(&s->delays_injected, 1);
		ADD(&s->delay_ms_total, f->delay_ms);
	}
}

/*
 * The delay of a fault that fired, on the call's socket. Non-blocking (or
 * MSG_DONTWAIT): no sleep - it becomes a pending deadline, seen through
 * readiness (ready.h): FL_DEFERRED. Blocking: the thread sleeps, bounded
 * by the socket's SO_RCVTIMEO/SO_SNDTIMEO as the real call would be: a
 * recv/send whose timeout elapses first fails with EAGAIN; a connect
 * fails with EINPROGRESS and goes on in the background, as Linux's does
 * (the rest of its delay becomes a pending deadline).
 */
static int delay_call(struct fl_conn *c, enum fl_op op, const struct fl_fault_decision *f, int fd, int flags)
{
	if (fl_ready_nonblocking(fd, flags) && fl_ready_defer(c, fd, op, f->delay_ms, f->error))
		return FL_DEFERRED;
	uint32_t bound = fl_ready_timeout_ms(fd, op);
	if (!bound || bound >= f->delay_ms) {
		/* An interrupted delay is the call's result: -1/EINTR, and the
		 * real call is not made (EINTR is never a breaker outcome). */
		return sleep_ms(f->delay_ms) == EINTR ? EINTR : f->error;
	}
	if (sleep_ms(bound) == EINTR)
		return EINTR;
	if (op == FL_OP_CONNECT)
		return fl_ready_defer(c, fd, op, f->delay_ms - bound, f->error) ? FL_DEFERRED : ETIMEDOUT;
	return EAGAIN;
}

/* A fault fired: count it, log it, apply its delay. Out of line, so the
 * loop that rarely gets here stays small. */
static __attribute__((noinline, cold)) int
fire(struct fl_conn *c, enum fl_op op, const struct fl_fault_decision *f, int fd, int flags, uint32_t rule)
{
	count_fault(c, op, f);
	fl_evsum_count(rule, fl_now_ms());
	if (fl_log_on(FL_LOG_DEBUG))
		log_fault(&c->dest, op, f);
	if (f->delay_ms)
		return delay_call(c, op, f, fd, flags);
	return f->error;
}

/* count_past_after's answer for a timed statement (start_ms, duration_ms,
 * a layer's --for): whether it is active now is asked in inject_from, so
 * the loop of fl_call_fault still makes no call. */
#define TIMED (UINT64_MAX - 1)

/* A timed statement: counted only inside its window. */
static uint64_t count_timed(uint32_t idx)
{
	const struct fl_fault_params *p = fl_fault_of(idx);
	if (fl_fault_inactive(idx, p))
		return UINT64_MAX;
	uint64_t n = __atomic_fetch_add(&fl_counters_of(idx)->seen, 1, __ATOMIC_RELAXED);
	return n < p->after ? UINT64_MAX : n;
}

/* Statement i of the connection, if it applies to op and is past its
 * `after` (counting this call): the call's number, else UINT64_MAX. */
static inline uint64_t count_past_after(const struct fl_conn *c, uint32_t bit, uint32_t i)
{
	uint32_t idx = __atomic_load_n(&c->match.faults[i], __ATOMIC_RELAXED);
	struct fl_fault_counters *cnt;
	const struct fl_fault_params *p = fl_fault_at(idx, &cnt);
	if (!(p->ops & bit))
		return UINT64_MAX;
	if (__builtin_expect(p->timed, 0))
		return TIMED; /* decided out of line (inject_from): the clock is read there */
	uint64_t n = __atomic_fetch_add(&cnt->seen, 1, __ATOMIC_RELAXED);
	return n < p->after ? UINT64_MAX : n;
}

/*
 * From statement i on, whose call number n is past `after`: the rest of
 * the decision (every, probability, times), then the statements after it.
 * Out of line and reached by a tail call, so the loop in fl_call_fault -
 * which a statement still counting towards `after` never leaves - makes
 * no call, saves no register and reads no thread-local state.
 */
static __attribute__((noinline)) int inject_from(struct fl_conn *c, enum fl_op op, uint32_t i, uint64_t n,
						 int fd, int flags)
{
	uint32_t bit = 1u << op;
	uint32_t nfaults = __atomic_load_n(&c->match.nfaults, __ATOMIC_RELAXED);
	if (nfaults > FL_MATCH_MAX_FAULTS)
		nfaults = FL_MATCH_MAX_FAULTS;
	for (;;) {
		uint32_t idx = __atomic_load_n(&c->match.faults[i], __ATOMIC_RELAXED);
		struct fl_fault_decision f;
		if (n == TIMED)
			n = count_timed(idx);
		struct fl_fault_counters *cnt;
		const struct fl_fault_params *p = fl_fault_at(idx, &cnt);
		if (n != UINT64_MAX && fl_fault_decide_from(p, cnt, n, fl_thread_rng(), &f))
			return fire(c, op, &f, fd, flags, idx);
		do {
			if (++i >= nfaults)
				return 0;
			n = count_past_after(c, bit, i);
		} while (n == UINT64_MAX);
	}
}

int fl_fault_fire(struct fl_conn *c, enum fl_op op, const struct fl_fault_decision *f, int fd, int flags,
		  uint32_t rule)
{
	return fire(c, op, f, fd, flags, rule);
}

int fl_call_fault(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	if (__builtin_expect(c->cx_ops & (1u << op), 0))
		return fl_cx_call(c, op, fd, flags);
	return fl_call_fault_plain(c, op, fd, flags);
}

int fl_call_fault_plain(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	uint32_t bit = 1u << op;
	uint32_t nfaults = __atomic_load_n(&c->match.nfaults, __ATOMIC_RELAXED);
	if (nfaults > FL_MATCH_MAX_FAULTS)
		nfaults = FL_MATCH_MAX_FAULTS;
	for (uint32_t i = 0; i < nfaults; i++) {
		uint64_t n = count_past_after(c, bit, i);
		if (n != UINT64_MAX)
			return inject_from(c, op, i, n, fd, flags);
	}
	return 0;
}

int fl_call_fail(struct fl_conn *c, int err)
{
	errno = err;
	fl_io_outcome(c, -1);
	return -1;
}

/*
 * A reset, a broken pipe, an abort or a timeout ends a real connection for
 * every later call, and for the peer. Shutting the socket down both ways
 * makes the kernel give exactly those answers from now on: sends fail
 * with EPIPE (SIGPIPE unless MSG_NOSIGNAL, as the kernel decides), reads
 * return 0, and the peer reads end of file.
 */
__attribute__((cold)) int fl_io_refused(int fd)
{
	int err = errno;
	if (err == ECONNRESET || err == EPIPE || err == ECONNABORTED || err == ETIMEDOUT) {
		syscall(SYS_shutdown, fd, SHUT_RDWR);
		errno = err;
	}
	return -1;
}

/* A rate_limit's delay of a connect (connect.c): the same as a connect
 * fault's delay, counted as the limit's, not as a fault. */
int fl_delay_connect(struct fl_conn *c, int fd, uint32_t ms)
{
	struct fl_fault_decision f = {.error = 0, .delay_ms = ms};
	return delay_call(c, FL_OP_CONNECT, &f, fd, 0);
}
