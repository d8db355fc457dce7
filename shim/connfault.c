/*
 * connfault.c - see connfault.h.
 *
 * The plan lives in thread-local storage (initial-exec, like inject.c's:
 * no allocation, safe in a signal handler) between fl_cx_call and the
 * wrapper's fl_cx_io on the same thread; a signal handler that makes a
 * watched call in between overwrites it, and the interrupted call then
 * carries out the handler's plan: at worst one call cut shorter than its
 * statement says - never memory beyond the caller's buffers, since the
 * plan only shortens lengths.
 *
 * Non-blocking sockets never sleep here (SPEC 12): a shaping wait or a
 * hang becomes a pending deadline of ready.c (EAGAIN, and the socket is
 * not reported ready until then); when it passes, fl_cx_ripe shapes the
 * call again without deciding the faults a second time. Blocking sockets
 * sleep in lib/wait.c, interruptible as SPEC 5 says for delays.
 *
 * Events: each action that fires below (short I/O, eof, hang, reset,
 * corruption, shaping waits, slow closes) is counted per statement and
 * second by shim/evsum.c, which writes one summary a second to the log
 * (SPEC 7), never one event per call. Only calls that act pay for it.
 */
#include "connfault.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "domain.h"
#include "events.h"
#include "evsum.h"
#include "fault.h"
#include "inject.h"
#include "layers.h"
#include "ready.h"
#include "real.h"
#include "shim.h"
#include "wait.h"

#define TLS		__thread __attribute__((tls_model("initial-exec")))
#define IOV_MAX_CX	64 /* iovecs a planned call keeps: a longer vector is a short call */
#define HANG_FOREVER_MS ((uint32_t)INT32_MAX)

TLS struct fl_cx_plan fl_cx_plan;
#define plan fl_cx_plan

static bool is_in(enum fl_op op)
{
	return op == FL_OP_RECV || op == FL_OP_READ;
}

static struct fl_seg_conn_stats *stats_of(struct fl_conn *c, enum fl_op op)
{
	return c->stats ? &c->stats->conn[op] : NULL;
}

/* A statement's kind: a layer slot keeps its own (fault or shape). */
static uint8_t stmt_kind(uint32_t idx)
{
	return idx < FL_LAYER_IDX ? fl_state.rules.rules[idx].kind
				  : fl_layer_locals[idx & (FL_SEG_LAYER_STMTS - 1)].kind;
}

/* The statement whose connection-fault plan this thread's call carries
 * (for the events of what happens after the decision: cuts, corruption). */
static __thread __attribute__((tls_model("initial-exec"))) uint32_t cx_stmt;

void fl_cx_setup(struct fl_conn *c)
{
	uint32_t ops = 0, decide = 0;
	c->shape_rule = -1;
	c->shape_ops = 0;
	c->cx_count = 0;
	c->moved[0] = c->moved[1] = 0;
	for (uint32_t i = 0; i < c->match.nfaults; i++) {
		uint32_t idx = c->match.faults[i];
		struct fl_fault_counters *cnt;
		const struct fl_fault_params *p = fl_fault_at(idx, &cnt);
		if (stmt_kind(idx) == FL_KIND_SHAPE) {
			if (c->shape_rule >= 0)
				continue; /* the first shape statement gives the budget */
			c->shape_rule = (int32_t)idx;
			fl_shape_init(&c->shape, p->rate_kbps, p->burst_kb);
			c->shape_local = 0;
			c->shape_due = &c->shape_local;
			struct fl_seg_entry *e = NULL;
			if (p->shape_scope == FL_SHAPE_DESTINATION)
				e = c->stats;
			else if (p->shape_scope == FL_SHAPE_RULE && idx < FL_LAYER_IDX)
				e = fl_domain_rule_entry(idx); /* a layer statement has no rule entry */
			if (e)
				c->shape_due = &e->shape_due_ns;
			c->shape_ops = p->ops;
			ops |= p->ops;
			continue;
		}
		decide |= p->ops;
		if (p->close_after_bytes)
			c->cx_count = 1;
		if (p->connfault || (p->ops & FL_OPS_CLOSE))
			ops |= p->ops;
	}
	c->cx_decide_ops = decide;
	c->cx_fast_ops = c->shape_ops & ~decide;
	c->match.ops |= ops & FL_OPS_CLOSE;
	__atomic_store_n(&c->cx_ops, ops, __ATOMIC_RELAXED);
}

/* Sleeps until `ns` from now, as a delay does (lib/wait.h): 0 or EINTR. */
static int sleep_ns(uint64_t ns)
{
	struct timespec d;
	clock_gettime(CLOCK_MONOTONIC, &d);
	uint64_t t = (uint64_t)d.tv_nsec + ns % 1000000000u;
	d.tv_sec += (time_t)(ns / 1000000000u + t / 1000000000u);
	d.tv_nsec = (long)(t % 1000000000u);
	return fl_sleep_until(&d);
}

/*
 * hang_ms: a silent peer. Blocking: the call sleeps ms (0: until the
 * socket's own timeout, or for ever), then fails as a timed-out call
 * does. Non-blocking: EAGAIN (EINPROGRESS for connect) at once and the
 * socket shows nothing until the deadline; then the call that notices it
 * fails the same way, and the next call decides again.
 */
static int hang(struct fl_conn *c, enum fl_op op, uint32_t ms, int fd, int flags)
{
	int err = op == FL_OP_CONNECT ? ETIMEDOUT : EAGAIN;
	struct fl_seg_conn_stats *s = stats_of(c, op);
	if (s)
		ADD(&s->hangs, 1);
	fl_evsum_conn(cx_stmt, FL_CONN_HANG, 0);
	if (fl_ready_nonblocking(fd, flags) && fl_ready_defer(c, fd, op, ms ? ms : HANG_FOREVER_MS, err))
		return FL_DEFERRED;
	uint32_t bound = fl_ready_timeout_ms(fd, op);
	uint64_t wait = ms ? ms : bound;
	if (bound && bound < wait)
		wait = bound;
	if (sleep_ns(wait ? wait * 1000000u : (uint64_t)HANG_FOREVER_MS * 1000000u) == EINTR)
		return EINTR;
	return err;
}

/*
 * close_after_bytes reached: the connection ends for both sides. A
 * disconnect (connect to AF_UNSPEC) makes the kernel send a reset to the
 * peer, as a real one seen mid-stream; a socket that cannot be
 * disconnected so (a Unix stream) is shut down. Every later call of the
 * program on it fails with ECONNRESET.
 */
static int reset_now(struct fl_conn *c, enum fl_op op, int fd)
{
	struct fl_seg_conn_stats *s = stats_of(c, op);
	if (!__atomic_exchange_n(&c->cx_reset, 1, __ATOMIC_ACQ_REL)) {
		if (s)
			ADD(&s->resets, 1);
		fl_evsum_conn(cx_stmt, FL_CONN_RESET, 0);
	}
	__atomic_store_n(&c->cx_reset, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&c->cx_fast_ops, 0, __ATOMIC_RELEASE);
	__atomic_fetch_or(&c->cx_ops, FL_OPS_IO, __ATOMIC_RELAXED);
	__atomic_fetch_or(&c->match.ops, FL_OPS_IO, __ATOMIC_RELAXED);
	int saved = errno;
	struct sockaddr sa = {.sa_family = AF_UNSPEC};
	if (syscall(SYS_connect, fd, &sa, sizeof sa) < 0)
		syscall(SYS_shutdown, fd, SHUT_RDWR);
	errno = saved;
	return ECONNRESET;
}

/* A fault statement with connection-fault keys fired on this call. */
static int apply(struct fl_conn *c, enum fl_op op, const struct fl_fault_params *p,
		 const struct fl_fault_decision *f, int fd, int flags, uint32_t idx)
{
	cx_stmt = idx;
	if (f->error || f->delay_ms) {
		struct fl_fault_decision d = *f;
		int r = fl_fault_fire(c, op, &d, fd, flags, idx);
		if (r != 0 || f->error)
			return r; /* an error wins: no real call, nothing else to apply */
	}
	if (p->eof) {
		struct fl_seg_conn_stats *s = stats_of(c, op);
		if (s)
			ADD(&s->eofs, 1);
		fl_evsum_conn(idx, FL_CONN_EOF, 0);
		plan.limit = 0;
		return FL_PLANNED;
	}
	if (p->hang_ms != FL_HANG_UNSET)
		return hang(c, op, p->hang_ms, fd, flags);
	if (p->close_after_bytes) {
		uint64_t moved = __atomic_load_n(&c->moved[is_in(op) ? 0 : 1], __ATOMIC_RELAXED);
		if (moved >= p->close_after_bytes)
			return reset_now(c, op, fd);
		uint64_t left = p->close_after_bytes - moved;
		if (left < plan.limit)
			plan.limit = left;
	}
	if (p->max_bytes && p->max_bytes < plan.limit) {
		plan.limit = p->max_bytes;
		plan.cut = 1;
	}
	if (p->corrupt_threshold)
		plan.corrupt = p->corrupt_threshold;
	return FL_PLANNED;
}

/* The shaping budget for this call: limits it, or waits for it. */
static int shape_call(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	const struct fl_shape *sh = &c->shape;
	uint64_t want = plan.limit < sh->burst ? plan.limit : sh->burst, wait = 0;
	uint64_t start = fl_now_ns(), now = start;
	struct fl_seg_conn_stats *s = stats_of(c, op);
	for (;;) {
		uint64_t n = fl_shape_available(c->shape_due, sh, now, want, &wait);
		if (__builtin_expect(n != 0, 1)) {
			plan.limit = n;
			plan.shaped = 1;
			plan.now = now;
			if (s && now > start)
				ADD(&s->shape_wait_ns, now - start);
			return FL_PLANNED;
		}
		if (s)
			ADD(&s->shape_waits, 1);
		fl_evsum_conn((uint32_t)c->shape_rule, FL_CONN_SHAPED, (wait + 999999u) / 1000000u);
		if (fl_ready_nonblocking(fd, flags)) {
			uint32_t ms = (uint32_t)((wait + 999999u) / 1000000u);
			if (fl_ready_defer(c, fd, op, ms ? ms : 1, 0)) {
				if (s)
					ADD(&s->shape_wait_ns, wait);
				return FL_DEFERRED;
			}
		}
		int r = sleep_ns(wait);
		now = fl_now_ns();
		if (r == EINTR) {
			if (s)
				ADD(&s->shape_wait_ns, now - start);
			return EINTR;
		}
	}
}

/* The plan's tail: counting for close_after_bytes, then shaping. */
static int finish_plan(struct fl_conn *c, enum fl_op op, int fd, int flags, int r)
{
	if (r != FL_PLANNED && r != 0)
		return r;
	if ((c->shape_ops & (1u << op)) && plan.limit != 0)
		return shape_call(c, op, fd, flags);
	return FL_PLANNED;
}

static void plan_reset(enum fl_op op)
{
	plan.limit = UINT64_MAX;
	plan.corrupt = 0;
	plan.flags = 0;
	plan.op = (uint8_t)op;
	plan.slow = 1;
}

/* Everything but a shaped call with its budget at hand. */
static __attribute__((noinline)) int cx_call_slow(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	if (__atomic_load_n(&c->cx_reset, __ATOMIC_ACQUIRE) && op != FL_OP_CONNECT)
		return ECONNRESET;
	plan_reset(op);
	uint32_t bit = 1u << op;
	int r = 0;
	for (uint32_t i = 0; (c->cx_decide_ops & bit) && i < c->match.nfaults; i++) {
		uint32_t idx = c->match.faults[i];
		struct fl_fault_counters *cnt;
		const struct fl_fault_params *p = fl_fault_at(idx, &cnt);
		if (!(p->ops & bit) || stmt_kind(idx) == FL_KIND_SHAPE ||
		    (p->timed && fl_fault_inactive(idx, p)))
			continue;
		struct fl_fault_decision f;
		if (!fl_fault_decide(p, cnt, fl_thread_rng(), &f))
			continue;
		if (!p->connfault) {
			r = fl_fault_fire(c, op, &f, fd, flags, idx); /* the first that fires wins */
			if (r != 0)
				return r;
			break;
		}
		r = apply(c, op, p, &f, fd, flags, idx);
		break;
	}
	if (op == FL_OP_CONNECT)
		return r == FL_PLANNED ? 0 : r;
	return finish_plan(c, op, fd, flags, r);
}

int fl_cx_call(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	/* Shaping alone, and a budget at hand: the common case, kept short
	 * (one clock read, one load of the bucket); the rest is a tail call. */
	if (__builtin_expect(!(__atomic_load_n(&c->cx_fast_ops, __ATOMIC_RELAXED) & (1u << op)), 0))
		return cx_call_slow(c, op, fd, flags);
	plan.fd = fd; /* parked: fewer registers to keep across the clock read */
	plan.msg_flags = flags;
	uint64_t now = fl_now_ns();
	const struct fl_shape *sh = &c->shape;
	uint64_t due = __atomic_load_n(c->shape_due, __ATOMIC_ACQUIRE);
	uint64_t floor = now > sh->burst_ns ? now - sh->burst_ns : 0;
	uint64_t have = sh->burst;
	if (due >= floor)
		have = now > due ? fl_shape_bytes_in(sh, now - due) : 0;
	else /* an idle bucket holds one burst: its ledger starts at the floor (if
	      * another thread moved it meanwhile, that thread's value stands) */
		__atomic_compare_exchange_n(c->shape_due, &due, floor, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED);
	if (__builtin_expect(have < sh->quantum, 0))
		return cx_call_slow(c, op, plan.fd, plan.msg_flags);
	plan.limit = have;
	plan.now = now;
	plan.flags = 2u | (uint32_t)op << 16; /* shaped (one add), not cut, op, not slow */
	return FL_PLANNED;
}

int fl_cx_ripe(struct fl_conn *c, enum fl_op op, int fd, int flags)
{
	if (__atomic_load_n(&c->cx_reset, __ATOMIC_ACQUIRE))
		return fl_call_fail(c, ECONNRESET);
	plan_reset(op);
	int r = finish_plan(c, op, fd, flags, FL_PLANNED);
	if (r == FL_PLANNED)
		return 1;
	if (r == FL_DEFERRED) {
		errno = EAGAIN;
		return -1;
	}
	return r == 0 ? 0 : fl_call_fail(c, r);
}

/* A copy of iov holding at most `limit` bytes; returns its count. */
static size_t cut_iov(const struct iovec *iov, size_t n, uint64_t limit, struct iovec *out, uint64_t *total)
{
	size_t k = 0;
	uint64_t sum = 0;
	for (size_t i = 0; i < n && k < IOV_MAX_CX && sum < limit; i++) {
		out[k] = iov[i];
		if (out[k].iov_len > limit - sum)
			out[k].iov_len = (size_t)(limit - sum);
		sum += out[k].iov_len;
		k++;
	}
	*total = sum;
	return k;
}

static uint64_t iov_bytes(const struct iovec *iov, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

/* Flips bits of received bytes, each byte with the plan's probability. */
static void corrupt(struct fl_conn *c, const struct iovec *iov, size_t n, uint64_t bytes)
{
	struct fl_rng *g = fl_thread_rng();
	uint64_t flipped = 0;
	for (size_t i = 0; i < n && bytes; i++) {
		unsigned char *b = iov[i].iov_base;
		size_t len = iov[i].iov_len < bytes ? iov[i].iov_len : (size_t)bytes;
		for (size_t j = 0; j < len; j++) {
			uint64_t draw = fl_rng_next(g);
			if (plan.corrupt != UINT64_MAX && draw >= plan.corrupt)
				continue;
			b[j] ^= (unsigned char)(1u << (fl_rng_next(g) & 7));
			flipped++;
		}
		bytes -= len;
	}
	struct fl_seg_conn_stats *s = stats_of(c, plan.op);
	if (s && flipped)
		ADD(&s->corrupted_bytes, flipped);
	if (flipped)
		fl_evsum_conn(cx_stmt, FL_CONN_CORRUPT, flipped);
}

/* After the planned call moved r bytes (or failed). */
static void account(struct fl_conn *c, ssize_t r, const struct iovec *iov, size_t n)
{
	if (r <= 0)
		return;
	enum fl_op op = (enum fl_op)plan.op;
	if (c->cx_count)
		__atomic_fetch_add(&c->moved[is_in(op) ? 0 : 1], (uint64_t)r, __ATOMIC_RELAXED);
	if (plan.shaped) {
		fl_shape_debit(c->shape_due, &c->shape, plan.now, (uint64_t)r);
		if (c->stats)
			ADD(&c->stats->conn[op].shaped_bytes, (uint64_t)r);
	}
	if (plan.slow && plan.corrupt && is_in(op))
		corrupt(c, iov, n, (uint64_t)r);
}

ssize_t fl_cx_after_slow(struct fl_conn *c, ssize_t r, void *buf, size_t n)
{
	int saved = errno;
	r = fl_io_after(c, r);
	if (plan.slow && plan.cut && n > plan.limit) {
		if (c->stats)
			ADD(&c->stats->conn[plan.op].short_io, 1);
		fl_evsum_conn(cx_stmt, FL_CONN_SHORT_IO, 0);
	}
	struct iovec v = {buf, (size_t)(r > 0 ? r : 0)};
	account(c, r, &v, 1);
	errno = saved;
	return r;
}

ssize_t fl_cx_after(struct fl_conn *c, ssize_t r, void *buf, size_t n)
{
	/* Anything but a shaped call that moved bytes on a settled connection
	 * is a tail call, so this path saves no register. */
	if (__builtin_expect(plan.slow | (r <= 0) | __atomic_load_n(&c->connecting, __ATOMIC_RELAXED), 0))
		return fl_cx_after_slow(c, r, buf, n);
	if (plan.shaped == 2) /* touches no errno */
		__atomic_fetch_add(c->shape_due, fl_shape_cost_ns(&c->shape, (uint64_t)r), __ATOMIC_RELEASE);
	else
		fl_shape_debit(c->shape_due, &c->shape, plan.now, (uint64_t)r);
	if (c->stats)
		ADD(&c->stats->conn[plan.op].shaped_bytes, (uint64_t)r);
	return r;
}

ssize_t fl_cx_shaped_slow(struct fl_conn *c, ssize_t r, enum fl_op op, uint64_t now)
{
	int saved = errno;
	r = fl_io_after(c, r);
	if (r > 0) { /* as account() for a shaped plan */
		if (c->cx_count)
			__atomic_fetch_add(&c->moved[is_in(op) ? 0 : 1], (uint64_t)r, __ATOMIC_RELAXED);
		fl_shape_debit(c->shape_due, &c->shape, now, (uint64_t)r);
		if (c->stats)
			ADD(&c->stats->conn[op].shaped_bytes, (uint64_t)r);
	}
	errno = saved;
	return r;
}

ssize_t fl_cx_io(struct fl_conn *c, int fd, struct msghdr *msg, int flags, enum fl_cx_how how)
{
	if (plan.limit == 0)
		return 0;
	struct iovec cut[IOV_MAX_CX];
	uint64_t total = 0;
	size_t n = cut_iov(msg->msg_iov, msg->msg_iovlen, plan.limit, cut, &total);
	if (plan.slow && plan.cut && total < iov_bytes(msg->msg_iov, msg->msg_iovlen)) {
		if (c->stats)
			ADD(&c->stats->conn[plan.op].short_io, 1);
		fl_evsum_conn(cx_stmt, FL_CONN_SHORT_IO, 0);
	}
	struct msghdr m = *msg;
	m.msg_iov = cut;
	m.msg_iovlen = n;
	ssize_t r;
	switch (how) {
	case FL_CX_READV:
		r = fl_real.readv(fd, cut, (int)n);
		break;
	case FL_CX_WRITEV:
		r = fl_real.writev(fd, cut, (int)n);
		break;
	case FL_CX_RECVMSG:
		r = fl_real.recvmsg(fd, &m, flags);
		msg->msg_namelen = m.msg_namelen;
		msg->msg_controllen = m.msg_controllen;
		msg->msg_flags = m.msg_flags;
		break;
	default:
		r = fl_real.sendmsg(fd, &m, flags);
		break;
	}
	int saved = errno;
	r = fl_io_after(c, r);
	account(c, r, cut, n);
	errno = saved;
	return r;
}

int fl_cx_mmsg(struct fl_conn *c, int fd, struct mmsghdr *vec, unsigned int n, int flags, enum fl_cx_how how)
{
	if (n == 0)
		return how == FL_CX_SENDMSG ? fl_real.sendmmsg(fd, vec, 0, flags)
					    : fl_real.recvmmsg(fd, vec, 0, flags, NULL);
	ssize_t r = fl_cx_io(c, fd, &vec[0].msg_hdr, flags, how);
	if (r < 0)
		return -1;
	vec[0].msg_len = (unsigned int)r;
	return 1;
}

void fl_cx_close(struct fl_conn *c, int fd)
{
	for (uint32_t i = 0; i < c->match.nfaults; i++) {
		uint32_t idx = c->match.faults[i];
		struct fl_fault_counters *cnt;
		const struct fl_fault_params *p = fl_fault_at(idx, &cnt);
		struct fl_fault_decision f;
		if (!(p->ops & FL_OPS_CLOSE) || (p->timed && fl_fault_inactive(idx, p)) ||
		    !fl_fault_decide(p, cnt, fl_thread_rng(), &f) || !f.delay_ms)
			continue;
		if (c->stats) {
			ADD(&c->stats->close_delays, 1);
			ADD(&c->stats->close_delay_ms_total, f.delay_ms);
		}
		fl_evsum_conn(idx, FL_CONN_CLOSE_DELAY, f.delay_ms);
		/* A non-blocking socket's close is not delayed: the shim
		 * never sleeps in its calls, and the descriptor cannot be
		 * kept past close without the program seeing it. */
		if (!fl_ready_nonblocking(fd, 0)) {
			int saved = errno;
			sleep_ns((uint64_t)f.delay_ms * 1000000u);
			errno = saved;
		}
		return;
	}
}
