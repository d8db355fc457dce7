/*
 * test_bulkhead.c - slots, the wait queue, holder records and reclaiming
 * the slots of dead processes.
 *
 * The segment is anonymous MAP_SHARED memory, so forked children share it
 * exactly as processes of one domain share /dev/shm. Waiting is real (the
 * futex queue and its timeout), so tests that wait use short timeouts and
 * never sleep-and-hope: they poll `queued` until the waiter is really in
 * the queue, with a deadline that turns a hang into a failure.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead.h"
#include "procreg.h"
#include "seg_fixture.h"

static uint64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static struct fl_bulkhead_params params(uint32_t limit, uint32_t queue, uint32_t timeout_ms)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	r.u.bulkhead.max_concurrent_requests = limit;
	r.u.bulkhead.max_queue_size = queue;
	r.u.bulkhead.queue_timeout_ms = timeout_ms;
	return r.u.bulkhead;
}

/* The entry of 127.0.0.1:port with a bulkhead of these parameters. */
static struct fl_seg_entry *entry(uint16_t port, struct fl_bulkhead_params p)
{
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = FL_AF_INET4;
	d.port = port;
	d.addr[0] = 127, d.addr[3] = 1;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, init_bulkhead, &p);
	ck_assert_ptr_nonnull(e);
	return e;
}

static uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Takes a slot that must be free; returns its holder. */
static uint32_t take(struct fl_seg_entry *e, uint32_t proc)
{
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, proc, false, &h), FL_BULKHEAD_ACQUIRED);
	return h;
}

/* Polls until *word reaches want; fails after a few seconds instead of hanging. */
static void await_value(const uint32_t *word, uint32_t want, const char *what)
{
	uint64_t deadline = mono_ms() + 5000;
	while (load(word) != want) {
		ck_assert_msg(mono_ms() < deadline, "%s stayed %u, expected %u", what, load(word), want);
		sched_yield();
		struct timespec t = {0, 1000000L};
		nanosleep(&t, NULL);
	}
}

static uint32_t register_self(void)
{
	uint32_t i = fl_proc_register(&seg, getpid(), fl_proc_start_ticks(getpid()), "unit", NOW_MS);
	ck_assert_uint_ne(i, FL_PROC_NONE);
	return i;
}

/* A thread that waits for a slot (may_wait) and records what happened. */
struct waiter {
	pthread_t thread;
	struct fl_seg_entry *e;
	uint32_t proc;
	bool release_at_once;
	enum fl_bulkhead_result result;
	uint32_t holder;
	uint64_t started_ms, ended_ms;
	int admitted_as; /* 0 for the first waiter admitted, 1 for the next, ... */
	pid_t tid;	 /* its thread id (atomic), for await_blocked */
};

static int admissions; /* atomic */

static void *wait_for_slot(void *arg)
{
	struct waiter *w = arg;
	/* Read by the test while this thread waits: atomic. */
	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	__atomic_store_n(&w->started_ms, mono_ms(), __ATOMIC_RELEASE);
	w->result = fl_bulkhead_acquire(&seg, w->e, w->proc, true, &w->holder);
	w->ended_ms = mono_ms();
	if (w->result == FL_BULKHEAD_ACQUIRED)
		w->admitted_as = __atomic_fetch_add(&admissions, 1, __ATOMIC_ACQ_REL);
	if (w->result == FL_BULKHEAD_ACQUIRED && w->release_at_once)
		fl_bulkhead_release(&seg, w->e, w->holder);
	return NULL;
}

/* proc: the process record its queue place names (FL_PROC_NONE: none). */
static void start_waiter_as(struct waiter *w, struct fl_seg_entry *e, bool release_at_once, uint32_t proc)
{
	memset(w, 0, sizeof *w);
	w->e = e;
	w->proc = proc;
	w->release_at_once = release_at_once;
	ck_assert_int_eq(pthread_create(&w->thread, NULL, wait_for_slot, w), 0);
}

static void start_waiter(struct waiter *w, struct fl_seg_entry *e, bool release_at_once)
{
	start_waiter_as(w, e, release_at_once, FL_PROC_NONE);
}

/* ---- slots ----------------------------------------------------------- */

START_TEST(bulkhead_acquires_up_to_max_concurrent_requests)
{
	struct fl_seg_entry *e = entry(1, params(3, 10, 5000));
	for (uint32_t i = 1; i <= 3; i++) {
		take(e, FL_PROC_NONE);
		ck_assert_uint_eq(load(&e->bulkhead.active), i);
	}
	ck_assert_uint_eq(load(&e->bulkhead.peak_active), 3);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 0);
}
END_TEST

START_TEST(bulkhead_rejects_non_waiting_caller_at_once_when_full)
{
	struct fl_seg_entry *e = entry(1, params(2, 10, 5000));
	take(e, FL_PROC_NONE);
	take(e, FL_PROC_NONE);
	uint32_t h = 123;
	uint64_t t0 = mono_ms();
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &h), FL_BULKHEAD_REJECTED);
	ck_assert_uint_lt(mono_ms() - t0, 500); /* no queue_timeout_ms wait */
	ck_assert_uint_eq(h, FL_HOLDER_NONE);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 0);
}
END_TEST

START_TEST(bulkhead_without_queue_rejects_waiting_callers)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	take(e, FL_PROC_NONE);
	uint32_t h;
	uint64_t t0 = mono_ms();
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &h), FL_BULKHEAD_REJECTED);
	ck_assert_uint_lt(mono_ms() - t0, 500);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

START_TEST(bulkhead_limit_zero_rejects_everyone)
{
	struct fl_seg_entry *e = entry(1, params(0, 0, 5000));
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &h), FL_BULKHEAD_REJECTED);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

START_TEST(bulkhead_release_frees_slot_for_next_caller)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	uint32_t h = take(e, FL_PROC_NONE);
	uint32_t h2;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &h2), FL_BULKHEAD_REJECTED);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	take(e, FL_PROC_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.peak_active), 1);
}
END_TEST

START_TEST(bulkhead_peak_active_records_high_water_mark)
{
	struct fl_seg_entry *e = entry(1, params(5, 0, 5000));
	uint32_t h[4];
	for (int i = 0; i < 4; i++)
		h[i] = take(e, FL_PROC_NONE);
	for (int i = 0; i < 3; i++)
		fl_bulkhead_release(&seg, e, h[i]);
	take(e, FL_PROC_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
	ck_assert_uint_eq(load(&e->bulkhead.peak_active), 4);
}
END_TEST

START_TEST(bulkhead_entries_count_their_slots_apart)
{
	struct fl_seg_entry *a = entry(1, params(1, 0, 5000));
	struct fl_seg_entry *b = entry(2, params(1, 0, 5000));
	take(a, FL_PROC_NONE);
	take(b, FL_PROC_NONE);
	ck_assert_uint_eq(load(&a->bulkhead.active), 1);
	ck_assert_uint_eq(load(&b->bulkhead.active), 1);
}
END_TEST

START_TEST(bulkhead_limit_change_applies_live)
{
	struct fl_bulkhead_params p = params(1, 0, 5000);
	struct fl_seg_entry *e = entry(1, p);
	take(e, FL_PROC_NONE);
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &h), FL_BULKHEAD_REJECTED);
	p.max_concurrent_requests = 2; /* faultline set DEST max_concurrent_requests=2 */
	fl_bulkhead_params_set(&e->bulkhead.p, &p);
	take(e, FL_PROC_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
}
END_TEST

START_TEST(bulkhead_disabled_bypasses_and_takes_no_slot)
{
	struct fl_bulkhead_params p = params(1, 0, 5000);
	p.enabled = false;
	struct fl_seg_entry *e = entry(1, p);
	uint32_t me = register_self();
	for (int i = 0; i < 5; i++) {
		uint32_t h = 7;
		ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, me, false, &h), FL_BULKHEAD_BYPASSED);
		ck_assert_uint_eq(h, FL_HOLDER_NONE);
	}
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_uint_eq(load(&e->bulkhead.peak_active), 0);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 0);
	for (uint32_t i = 0; i < seg.holder_capacity; i++)
		ck_assert_uint_eq(seg.holders[i].entry_plus1, 0);
}
END_TEST

START_TEST(bulkhead_params_round_trip_through_segment)
{
	struct fl_bulkhead_params in = params(7, 3, 1234), out;
	in.reject_errno = EBUSY;
	in.scope = FL_SCOPE_RULE;
	in.enabled = false;
	struct fl_seg_bulkhead_params sp;
	memset(&sp, 0, sizeof sp);
	fl_bulkhead_params_set(&sp, &in);
	fl_bulkhead_params_get(&out, &sp);
	ck_assert_uint_eq(out.max_concurrent_requests, 7);
	ck_assert_uint_eq(out.max_queue_size, 3);
	ck_assert_uint_eq(out.queue_timeout_ms, 1234);
	ck_assert_int_eq(out.reject_errno, EBUSY);
	ck_assert_uint_eq(out.scope, FL_SCOPE_RULE);
	ck_assert(!out.enabled);
}
END_TEST

/* ---- holder records -------------------------------------------------- */

START_TEST(bulkhead_release_via_holder_record_frees_slot_and_record)
{
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	uint32_t me = register_self();
	uint32_t h = take(e, me);
	ck_assert_uint_lt(h, seg.holder_capacity);
	struct fl_seg_holder *rec = &seg.holders[h];
	ck_assert_uint_eq(rec->entry_plus1, (uint32_t)(e - seg.entries) + 1);
	ck_assert_uint_eq(rec->proc, me);
	ck_assert_uint_eq(rec->proc_generation, seg.procs[me].generation);
	ck_assert_uint_eq(rec->refs, 1);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(rec->entry_plus1, 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

START_TEST(bulkhead_untracked_slot_is_released_through_its_entry)
{
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	uint32_t h = take(e, FL_PROC_NONE);
	ck_assert_uint_eq(h, FL_HOLDER_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	fl_bulkhead_release(&seg, e, FL_HOLDER_NONE); /* never below zero */
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

/* A second process record, as the child of a fork would register. */
static uint32_t register_child(void)
{
	uint32_t i = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "child", NOW_MS);
	ck_assert_uint_ne(i, FL_PROC_NONE);
	return i;
}

START_TEST(bulkhead_forked_slot_needs_both_shares_released)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	uint32_t parent = register_self(), child = register_child();
	uint32_t h = take(e, parent);
	fl_bulkhead_reserve(&seg, h); /* before the real fork */
	uint32_t c = fl_bulkhead_adopt(&seg, h, child);
	ck_assert_uint_lt(c, seg.holder_capacity);
	ck_assert_uint_ne(c, h);
	ck_assert_uint_eq(seg.holders[h].refs, 2);
	fl_bulkhead_release(&seg, e, h); /* the parent closes its copy */
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	uint32_t h2;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, parent, false, &h2), FL_BULKHEAD_REJECTED);
	fl_bulkhead_release(&seg, e, h); /* a second release of one share changes nothing */
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	fl_bulkhead_release(&seg, e, c); /* the child closes: the slot is free */
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_uint_eq(seg.holders[h].entry_plus1, 0);
	ck_assert_uint_eq(seg.holders[c].entry_plus1, 0);
}
END_TEST

START_TEST(bulkhead_parent_exit_keeps_the_childs_share)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	uint32_t parent = register_self(), child = register_child();
	uint32_t h = take(e, parent);
	fl_bulkhead_reserve(&seg, h);
	uint32_t c = fl_bulkhead_adopt(&seg, h, child);
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, parent, seg.procs[parent].generation), 1);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, child, seg.procs[child].generation), 1);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	(void)c;
}
END_TEST

START_TEST(bulkhead_failed_fork_gives_the_reservation_back)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	uint32_t parent = register_self();
	uint32_t h = take(e, parent);
	fl_bulkhead_reserve(&seg, h);
	fl_bulkhead_unreserve(&seg, h);
	ck_assert_uint_eq(seg.holders[h].refs, 1);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	fl_bulkhead_reserve(&seg, FL_HOLDER_NONE); /* harmless */
}
END_TEST

START_TEST(bulkhead_child_without_record_holds_a_bare_share)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	struct fl_seg_entry *other = entry(2, params(100000, 0, 5000));
	uint32_t parent = register_self(), child = register_child();
	uint32_t h = take(e, parent);
	for (uint32_t i = 0; i < seg.holder_capacity; i++) {
		uint32_t x;
		fl_bulkhead_acquire(&seg, other, parent, false, &x);
	}
	fl_bulkhead_reserve(&seg, h);
	uint32_t c = fl_bulkhead_adopt(&seg, h, child);
	ck_assert_uint_eq(c, h | FL_HOLDER_BARE);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	fl_bulkhead_release(&seg, e, c);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

START_TEST(bulkhead_without_free_holder_record_still_acquires)
{
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	struct fl_seg_entry *other = entry(2, params(100, 0, 5000));
	uint32_t me = register_self();
	/* Every holder record taken (by slots of another entry). */
	for (uint32_t i = 0; i < seg.holder_capacity; i++) {
		seg.holders[i].entry_plus1 = (uint32_t)(other - seg.entries) + 1;
		seg.holders[i].proc = me;
		seg.holders[i].proc_generation = seg.procs[me].generation;
		seg.holders[i].refs = 1;
	}
	uint32_t h = take(e, me);
	ck_assert_uint_eq(h, FL_HOLDER_NONE);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

START_TEST(bulkhead_release_proc_frees_only_that_process)
{
	struct fl_seg_entry *e = entry(1, params(10, 0, 5000));
	uint32_t me = register_self();
	uint32_t parent = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "p", NOW_MS);
	take(e, me);
	take(e, me);
	uint32_t hp = take(e, parent);
	take(e, FL_PROC_NONE);
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, me, seg.procs[me].generation), 2);
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
	ck_assert_uint_ne(seg.holders[hp].entry_plus1, 0);
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, me, seg.procs[me].generation), 0);
}
END_TEST

/* ---- the queue ------------------------------------------------------- */

START_TEST(bulkhead_waiter_times_out_after_queue_timeout)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 300));
	take(e, FL_PROC_NONE);
	uint32_t h;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &h), FL_BULKHEAD_TIMED_OUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(elapsed_ms, 300);
	ck_assert_int_lt(elapsed_ms, 300 + 2000);
	ck_assert_uint_eq(h, FL_HOLDER_NONE);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
}
END_TEST

START_TEST(bulkhead_waiter_timeout_longer_than_reap_tick_is_kept)
{
	/* Waiters wake every second to reap; that must not end the wait. */
	struct fl_seg_entry *e = entry(1, params(1, 1, 1500));
	take(e, FL_PROC_NONE);
	uint32_t h;
	uint64_t t0 = mono_ms();
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &h), FL_BULKHEAD_TIMED_OUT);
	uint64_t elapsed = mono_ms() - t0;
	ck_assert_uint_ge(elapsed, 1499);
	ck_assert_uint_lt(elapsed, 1500 + 2000);
}
END_TEST

START_TEST(bulkhead_waiter_gets_slot_when_holder_releases)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 5000));
	uint32_t h = take(e, FL_PROC_NONE);
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 1, "queued");
	uint64_t released = mono_ms();
	fl_bulkhead_release(&seg, e, h);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_lt(w.ended_ms - released, 900); /* woken, not found by the 1 s tick */
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 0);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 0);
}
END_TEST

START_TEST(bulkhead_queue_admits_n_waiters_and_rejects_the_next)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 5000));
	uint32_t h = take(e, FL_PROC_NONE);
	struct waiter w[2];
	start_waiter(&w[0], e, true);
	start_waiter(&w[1], e, true);
	await_value(&e->bulkhead.queued, 2, "queued");
	uint32_t h3;
	uint64_t t0 = mono_ms();
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &h3), FL_BULKHEAD_REJECTED);
	ck_assert_uint_lt(mono_ms() - t0, 500);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 2);
	fl_bulkhead_release(&seg, e, h);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_int_eq(w[i].result, FL_BULKHEAD_ACQUIRED);
	}
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 0);
}
END_TEST

START_TEST(bulkhead_waiter_in_another_process_is_woken_by_release)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 5000));
	uint32_t h = take(e, FL_PROC_NONE);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		uint32_t mine;
		enum fl_bulkhead_result r = fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &mine);
		_exit(r == FL_BULKHEAD_ACQUIRED ? 0 : 1);
	}
	await_value(&e->bulkhead.queued, 1, "queued");
	uint64_t released = mono_ms();
	fl_bulkhead_release(&seg, e, h);
	int status;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_lt(mono_ms() - released, 900);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

/* ---- order, signals, live changes ------------------------------------------ */

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

START_TEST(bulkhead_waiters_are_admitted_in_arrival_order)
{
	/* W1 waits past its 1 s reap tick before the slot comes free, W2 and
	 * W3 arrived later: the old queue sent W1 to the back at its tick. */
	struct fl_seg_entry *e = entry(1, params(1, 3, 8000));
	uint32_t me = register_self();
	uint32_t h = take(e, me);
	admissions = 0;
	struct waiter w[3];
	for (int i = 0; i < 3; i++) {
		start_waiter_as(&w[i], e, true, me);
		await_value(&e->bulkhead.queued, (uint32_t)i + 1, "queued");
		if (i == 0)
			sleep_ms(300); /* W2 arrives well after W1 */
	}
	while (mono_ms() < __atomic_load_n(&w[0].started_ms, __ATOMIC_ACQUIRE) + 1100)
		sleep_ms(10);
	fl_bulkhead_release(&seg, e, h);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_int_eq(w[i].result, FL_BULKHEAD_ACQUIRED);
		ck_assert_msg(w[i].admitted_as == i, "W%d was admitted as number %d", i + 1,
			      w[i].admitted_as + 1);
	}
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

START_TEST(bulkhead_arrival_leaves_a_freed_slot_to_the_oldest_waiter)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 8000));
	uint32_t h = take(e, FL_PROC_NONE);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		uint32_t mine;
		enum fl_bulkhead_result r = fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, true, &mine);
		_exit(r == FL_BULKHEAD_ACQUIRED ? 0 : 1);
	}
	await_value(&e->bulkhead.queued, 1, "queued");
	ck_assert_int_eq(kill(kid, SIGSTOP), 0); /* the waiter cannot take the slot for now */
	fl_bulkhead_release(&seg, e, h);
	uint32_t late;
	ck_assert_int_eq(fl_bulkhead_try(&seg, e, FL_PROC_NONE, &late), FL_BULKHEAD_REJECTED);
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &late), FL_BULKHEAD_REJECTED);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_int_eq(kill(kid, SIGCONT), 0);
	int status;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
}
END_TEST

START_TEST(bulkhead_dead_waiter_does_not_hold_the_line)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	uint32_t h = take(e, FL_PROC_NONE);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		uint32_t me =
		    fl_proc_register(&seg, getpid(), fl_proc_start_ticks(getpid()), "waiter", NOW_MS);
		uint32_t mine;
		fl_bulkhead_acquire(&seg, e, me, true, &mine);
		_exit(1);
	}
	await_value(&e->bulkhead.queued, 1, "queued");
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 2, "queued");
	ck_assert_int_eq(kill(kid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(kid, NULL, 0), kid);
	uint64_t released = mono_ms();
	fl_bulkhead_release(&seg, e, h);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_lt(w.ended_ms - released, 1000 + 1500); /* reaped at a tick */
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

/*
 * Until the waiter's thread sleeps in the kernel's futex wait (futex 202 or
 * futex_waitv 449, /proc/self/task/TID/syscall): being counted in `queued`
 * comes a few instructions before, and a signal delivered in between runs
 * its handler before the wait - as it would before a real blocking call -
 * so it could not interrupt anything.
 */
static void await_blocked(struct waiter *w)
{
	uint64_t deadline = mono_ms() + 5000;
	for (;;) {
		pid_t tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
		char path[64], text[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
		FILE *f = tid ? fopen(path, "r") : NULL;
		if (f) {
			if (!fgets(text, sizeof text, f))
				text[0] = '\0';
			fclose(f);
		}
		if (strncmp(text, "202 ", 4) == 0 || strncmp(text, "449 ", 4) == 0)
			return;
		ck_assert_msg(mono_ms() < deadline, "the waiter never slept in a futex wait (syscall: %s)",
			      text);
		struct timespec t = {0, 1000000L};
		nanosleep(&t, NULL);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void handle_usr1(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

START_TEST(bulkhead_signal_without_sa_restart_ends_the_wait_and_gives_the_place_back)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 8000));
	uint32_t me = register_self();
	take(e, me);
	handle_usr1(0);
	struct waiter w;
	start_waiter_as(&w, e, false, me);
	await_value(&e->bulkhead.queued, 1, "queued");
	await_blocked(&w);
	uint64_t sent = mono_ms();
	ck_assert_int_eq(pthread_kill(w.thread, SIGUSR1), 0);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_INTERRUPTED);
	ck_assert_uint_lt(w.ended_ms - sent, 500);
	ck_assert_uint_eq(w.holder, FL_HOLDER_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 0);
	uint32_t records = 0;
	for (uint32_t i = 0; i < seg.holder_capacity; i++)
		records += load(&seg.holders[i].entry_plus1) != 0;
	ck_assert_uint_eq(records, 1); /* the holder's; the queue place is free */
}
END_TEST

START_TEST(bulkhead_signal_with_sa_restart_lets_the_wait_go_on)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 8000));
	uint32_t h = take(e, FL_PROC_NONE);
	handle_usr1(SA_RESTART);
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 1, "queued");
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(pthread_kill(w.thread, SIGUSR1), 0);
		sleep_ms(20);
	}
	ck_assert_uint_eq(load(&e->bulkhead.queued), 1); /* still waiting */
	fl_bulkhead_release(&seg, e, h);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
}
END_TEST

START_TEST(bulkhead_set_raising_the_limit_admits_a_waiter_at_once)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 8000));
	take(e, FL_PROC_NONE);
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 1, "queued");
	uint64_t set_at = mono_ms();
	struct fl_bulkhead_params p = params(2, 1, 8000);
	fl_bulkhead_set(&e->bulkhead, &p);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_lt(w.ended_ms - set_at, 300); /* woken, not found by the 1 s tick */
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
}
END_TEST

START_TEST(bulkhead_set_disabling_lets_a_waiter_pass)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 8000));
	take(e, FL_PROC_NONE);
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 1, "queued");
	struct fl_bulkhead_params p = params(1, 1, 8000);
	p.enabled = false;
	fl_bulkhead_set(&e->bulkhead, &p);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_BYPASSED);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

/* ---- dead processes -------------------------------------------------- */

/* A child that registers, takes n slots and then either exits without
 * releasing them or (hang) waits for SIGKILL. Returns its pid once its
 * slots are taken. */
static pid_t child_holding(struct fl_seg_entry *e, int n, bool hang)
{
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		close(ready[0]);
		uint32_t me =
		    fl_proc_register(&seg, getpid(), fl_proc_start_ticks(getpid()), "holder", NOW_MS);
		for (int i = 0; i < n; i++) {
			uint32_t h;
			if (me == FL_PROC_NONE ||
			    fl_bulkhead_acquire(&seg, e, me, false, &h) != FL_BULKHEAD_ACQUIRED ||
			    h == FL_HOLDER_NONE)
				_exit(1);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (hang)
			for (;;)
				pause();
		_exit(0); /* no release: as if the shim never saw the close */
	}
	close(ready[1]);
	char c;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return kid;
}

START_TEST(bulkhead_reclaims_slots_of_exited_process_at_acquisition)
{
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	pid_t kid = child_holding(e, 2, false);
	int status;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 2);
	uint32_t me = register_self();
	take(e, me); /* the reap happens here */
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	take(e, me);
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++)
		ck_assert_uint_ne(seg.procs[i].pid, (uint32_t)kid);
}
END_TEST

START_TEST(bulkhead_reclaims_slots_of_sigkilled_process_at_acquisition)
{
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	pid_t kid = child_holding(e, 1, true);
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, FL_PROC_NONE, false, &h), FL_BULKHEAD_REJECTED);
	ck_assert_int_eq(kill(kid, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFSIGNALED(status));
	take(e, FL_PROC_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
}
END_TEST

START_TEST(bulkhead_reclaims_slots_of_exited_child_not_yet_waited_for)
{
	/* The parent is busy (here: about to connect) and has not reaped its
	 * dead child yet; the child's slots are free all the same. */
	struct fl_seg_entry *e = entry(1, params(1, 0, 5000));
	pid_t kid = child_holding(e, 1, false);
	siginfo_t si;
	ck_assert_int_eq(waitid(P_PID, (id_t)kid, &si, WEXITED | WNOWAIT), 0);
	take(e, FL_PROC_NONE);
	waitpid(kid, NULL, 0);
}
END_TEST

START_TEST(bulkhead_waiter_gets_slot_of_process_killed_while_it_waits)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 5000));
	pid_t kid = child_holding(e, 1, true);
	struct waiter w;
	start_waiter(&w, e, false);
	await_value(&e->bulkhead.queued, 1, "queued");
	uint64_t killed = mono_ms();
	ck_assert_int_eq(kill(kid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(kid, NULL, 0), kid);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_lt(w.ended_ms - killed, 1000 + 1500); /* the reap tick is one second */
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 0);
}
END_TEST

/* A pid that no process has any more (a child that exited and was waited for). */
static pid_t dead_pid(void)
{
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(kid, NULL, 0), kid);
	return kid;
}

START_TEST(bulkhead_late_reaper_leaves_a_reused_process_record_alone)
{
	/* Two reapers find process A dead at once. One retires it; a newly
	 * forked process B claims A's record; only then does the other one act
	 * on what it judged. It must leave B alone: B's record freed under it
	 * would make the slots B takes afterwards records of a registration
	 * nobody can reap, held forever once B dies without closing (the
	 * 100-children integration test saw exactly that: active 1, a HELD
	 * record of (index, generation) with no live process record). */
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	pid_t gone = dead_pid();
	uint32_t a = fl_proc_register(&seg, gone, 12345, "a", NOW_MS);
	ck_assert_uint_ne(a, FL_PROC_NONE);
	uint32_t judged = load(&seg.procs[a].generation);  /* late reaper: reads, ... */
	ck_assert(!fl_proc_alive(&seg, a, &seg.procs[a])); /* ... judges A dead, is preempted */
	fl_bulkhead_reclaim_dead(&seg);			   /* the other reaper retires A */
	uint32_t b = register_self();			   /* B gets A's record */
	ck_assert_uint_eq(b, a);
	ck_assert_uint_ne(load(&seg.procs[b].generation), judged);
	ck_assert_uint_eq(fl_bulkhead_reclaim_judged(&seg, a, judged), 0); /* the late reaper acts */
	ck_assert_uint_eq(load(&seg.procs[b].status), FL_PROC_LIVE);
	ck_assert_uint_eq(load(&seg.procs[b].pid), (uint32_t)getpid());
	uint32_t h = take(e, b);
	ck_assert_uint_ne(h, FL_HOLDER_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	/* B dies without closing (_exit, SIGKILL): its slot must be reapable. */
	__atomic_store_n(&seg.procs[b].pid, (uint32_t)gone, __ATOMIC_RELEASE);
	ck_assert_uint_eq(fl_bulkhead_reclaim_dead(&seg), 1);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_uint_eq(load(&seg.procs[b].status), FL_PROC_FREE);
}
END_TEST

static void *give_record_back_later(void *arg)
{
	struct timespec t = {0, 50 * 1000000L};
	nanosleep(&t, NULL);
	__atomic_store_n((uint32_t *)arg, FL_PROC_LIVE, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(bulkhead_exit_waits_out_a_reaper_holding_the_record_for_a_moment)
{
	/* A late reaper (above) holds a live record CLAIMED for the moment it
	 * takes to see the generation changed and put LIVE back. A process
	 * exiting in that moment still gives its slots back itself. */
	struct fl_seg_entry *e = entry(1, params(2, 0, 5000));
	uint32_t me = register_self();
	take(e, me);
	__atomic_store_n(&seg.procs[me].status, FL_PROC_CLAIMED, __ATOMIC_RELEASE);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, give_record_back_later, &seg.procs[me].status), 0);
	fl_bulkhead_reclaim_proc(&seg, me);
	pthread_join(t, NULL);
	ck_assert_uint_eq(load(&seg.procs[me].status), FL_PROC_FREE);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
}
END_TEST

/* ---- contention ------------------------------------------------------ */

#define HAMMER_THREADS 8
#define HAMMER_LIMIT   3

static int hammer_inside, hammer_violations, hammer_failures;
static int hammer_rejected;
static struct fl_seg_entry *hammer_entry;
static uint32_t hammer_proc;
static int hammer_rounds;

static void *hammer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint32_t proc = id % 2 ? hammer_proc : FL_PROC_NONE;
	bool may_wait = id % 4 != 3; /* a few non-blocking sockets among them */
	for (int i = 0; i < hammer_rounds; i++) {
		uint32_t h;
		enum fl_bulkhead_result r = fl_bulkhead_acquire(&seg, hammer_entry, proc, may_wait, &h);
		if (r == FL_BULKHEAD_REJECTED && !may_wait) {
			__atomic_fetch_add(&hammer_rejected, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (r != FL_BULKHEAD_ACQUIRED) {
			__atomic_fetch_add(&hammer_failures, 1, __ATOMIC_RELAXED);
			continue;
		}
		int inside = __atomic_add_fetch(&hammer_inside, 1, __ATOMIC_ACQ_REL);
		if (inside > HAMMER_LIMIT || load(&hammer_entry->bulkhead.active) > HAMMER_LIMIT)
			__atomic_fetch_add(&hammer_violations, 1, __ATOMIC_RELAXED);
		if (i % 8 == 0)
			sched_yield();
		__atomic_sub_fetch(&hammer_inside, 1, __ATOMIC_ACQ_REL);
		fl_bulkhead_release(&seg, hammer_entry, h);
	}
	return NULL;
}

START_TEST(bulkhead_concurrent_holders_never_exceed_the_limit)
{
	hammer_entry = entry(1, params(HAMMER_LIMIT, HAMMER_THREADS, 5000));
	hammer_proc = register_self();
	hammer_inside = hammer_violations = hammer_failures = hammer_rejected = 0;
	const char *rounds = getenv("FL_UNIT_HAMMER_ROUNDS");
	hammer_rounds = rounds ? atoi(rounds) : 3000;
	pthread_t t[HAMMER_THREADS];
	for (uintptr_t i = 0; i < HAMMER_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(hammer_violations, 0);
	ck_assert_int_eq(hammer_failures, 0);
	ck_assert_uint_eq(load(&hammer_entry->bulkhead.active), 0);
	ck_assert_uint_eq(load(&hammer_entry->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&hammer_entry->bulkhead.peak_active), HAMMER_LIMIT); /* it really filled up */
	ck_assert_uint_eq(load64(&hammer_entry->bulkhead.rejected), (uint64_t)hammer_rejected);
	ck_assert_uint_eq(load64(&hammer_entry->bulkhead.timeouts), 0);
	for (uint32_t i = 0; i < seg.holder_capacity; i++)
		ck_assert_uint_eq(seg.holders[i].entry_plus1, 0);
}
END_TEST

Suite *bulkhead_suite(void); /* run by runner.c */

/* ---- the non-blocking queue (enqueue / turn / leave) ------------------ */

START_TEST(bulkhead_place_is_admitted_when_the_holder_releases)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 5000));
	uint32_t me = register_self();
	uint32_t h = take(e, me), got;
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	ck_assert_uint_ne(pl.rec, FL_HOLDER_NONE);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 1);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	fl_bulkhead_release(&seg, e, h);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(got, pl.rec); /* the place became the slot's record */
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	fl_bulkhead_release(&seg, e, got);
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_uint_eq(seg.holders[got].entry_plus1, 0);
}
END_TEST

START_TEST(bulkhead_enqueue_takes_a_free_slot_at_once)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 5000));
	uint32_t got;
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, FL_PROC_NONE, mono_ms(), &pl, &got),
			 FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(load(&e->bulkhead.active), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

START_TEST(bulkhead_enqueue_rejects_when_the_queue_is_full_or_absent)
{
	struct fl_seg_entry *e = entry(1, params(1, 1, 5000));
	take(e, FL_PROC_NONE);
	uint32_t got;
	struct fl_bulkhead_place pl, pl2;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, FL_PROC_NONE, mono_ms(), &pl, &got),
			 FL_BULKHEAD_QUEUED);
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, FL_PROC_NONE, mono_ms(), &pl2, &got),
			 FL_BULKHEAD_REJECTED);
	ck_assert_uint_eq(load64(&e->bulkhead.rejected), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 1);
	struct fl_seg_entry *none = entry(2, params(1, 0, 5000));
	take(none, FL_PROC_NONE);
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, none, FL_PROC_NONE, mono_ms(), &pl2, &got),
			 FL_BULKHEAD_REJECTED);
	ck_assert_uint_eq(load(&none->bulkhead.queued), 0);
}
END_TEST

START_TEST(bulkhead_place_ahead_of_a_blocking_waiter_is_served_first)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	uint32_t me = register_self();
	uint32_t h = take(e, me), got;
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	struct waiter w;
	start_waiter_as(&w, e, true, me);
	await_value(&e->bulkhead.queued, 2, "queued");
	fl_bulkhead_release(&seg, e, h);
	sleep_ms(50); /* the woken waiter looks: the slot is owed to the place */
	ck_assert_uint_eq(load(&e->bulkhead.active), 0);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_ACQUIRED);
	fl_bulkhead_release(&seg, e, got);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

START_TEST(bulkhead_place_behind_a_blocking_waiter_waits_its_turn)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	uint32_t me = register_self();
	uint32_t h = take(e, me), got;
	struct waiter w;
	start_waiter_as(&w, e, false, me);
	await_value(&e->bulkhead.queued, 1, "queued");
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	fl_bulkhead_release(&seg, e, h);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	fl_bulkhead_release(&seg, e, w.holder);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_ACQUIRED);
}
END_TEST

START_TEST(bulkhead_place_given_up_on_timeout_counts_and_lets_the_line_move)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	uint32_t me = register_self();
	uint32_t h = take(e, me), got;
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, me, mono_ms(), &pl, &got), FL_BULKHEAD_QUEUED);
	struct waiter w;
	start_waiter_as(&w, e, true, me);
	await_value(&e->bulkhead.queued, 2, "queued");
	fl_bulkhead_leave(&seg, e, &pl, true);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 1);
	ck_assert_uint_eq(seg.holders[pl.rec].entry_plus1, 0);
	fl_bulkhead_release(&seg, e, h);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.result, FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	fl_bulkhead_leave(&seg, e, &pl, false); /* twice: nothing more */
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	ck_assert_uint_eq(load64(&e->bulkhead.timeouts), 1);
}
END_TEST

START_TEST(bulkhead_place_of_a_dead_process_is_reclaimed)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	uint32_t h = take(e, FL_PROC_NONE);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		uint32_t me =
		    fl_proc_register(&seg, getpid(), fl_proc_start_ticks(getpid()), "queued", NOW_MS);
		uint32_t got;
		struct fl_bulkhead_place pl;
		_exit(fl_bulkhead_enqueue(&seg, e, me, mono_ms(), &pl, &got) == FL_BULKHEAD_QUEUED ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 1);
	ck_assert_uint_eq(fl_bulkhead_reclaim_dead(&seg), 1);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
	fl_bulkhead_release(&seg, e, h);
	uint32_t h2;
	ck_assert_int_eq(fl_bulkhead_try(&seg, e, FL_PROC_NONE, &h2), FL_BULKHEAD_ACQUIRED);
}
END_TEST

START_TEST(bulkhead_place_is_given_up_when_the_bulkhead_is_switched_off)
{
	struct fl_seg_entry *e = entry(1, params(1, 2, 8000));
	take(e, FL_PROC_NONE);
	uint32_t got;
	struct fl_bulkhead_place pl;
	ck_assert_int_eq(fl_bulkhead_enqueue(&seg, e, FL_PROC_NONE, mono_ms(), &pl, &got),
			 FL_BULKHEAD_QUEUED);
	struct fl_bulkhead_params off = params(1, 2, 8000);
	off.enabled = false;
	fl_bulkhead_set(&e->bulkhead, &off);
	ck_assert_int_eq(fl_bulkhead_turn(&seg, e, FL_PROC_NONE, mono_ms(), &pl, &got), FL_BULKHEAD_BYPASSED);
	ck_assert_uint_eq(load(&e->bulkhead.queued), 0);
}
END_TEST

Suite *bulkhead_suite(void)
{
	Suite *s = suite_create("bulkhead");

	TCase *slots = tcase_create("slots");
	tcase_add_checked_fixture(slots, seg_setup, seg_teardown);
	tcase_add_test(slots, bulkhead_acquires_up_to_max_concurrent_requests);
	tcase_add_test(slots, bulkhead_rejects_non_waiting_caller_at_once_when_full);
	tcase_add_test(slots, bulkhead_without_queue_rejects_waiting_callers);
	tcase_add_test(slots, bulkhead_limit_zero_rejects_everyone);
	tcase_add_test(slots, bulkhead_release_frees_slot_for_next_caller);
	tcase_add_test(slots, bulkhead_peak_active_records_high_water_mark);
	tcase_add_test(slots, bulkhead_entries_count_their_slots_apart);
	tcase_add_test(slots, bulkhead_limit_change_applies_live);
	tcase_add_test(slots, bulkhead_disabled_bypasses_and_takes_no_slot);
	tcase_add_test(slots, bulkhead_params_round_trip_through_segment);
	suite_add_tcase(s, slots);

	TCase *holders = tcase_create("holders");
	tcase_add_checked_fixture(holders, seg_setup, seg_teardown);
	tcase_add_test(holders, bulkhead_release_via_holder_record_frees_slot_and_record);
	tcase_add_test(holders, bulkhead_untracked_slot_is_released_through_its_entry);
	tcase_add_test(holders, bulkhead_forked_slot_needs_both_shares_released);
	tcase_add_test(holders, bulkhead_parent_exit_keeps_the_childs_share);
	tcase_add_test(holders, bulkhead_failed_fork_gives_the_reservation_back);
	tcase_add_test(holders, bulkhead_child_without_record_holds_a_bare_share);
	tcase_add_test(holders, bulkhead_without_free_holder_record_still_acquires);
	tcase_add_test(holders, bulkhead_release_proc_frees_only_that_process);
	suite_add_tcase(s, holders);

	TCase *queue = tcase_create("queue");
	tcase_add_checked_fixture(queue, seg_setup, seg_teardown);
	tcase_set_timeout(queue, 10);
	tcase_add_test(queue, bulkhead_waiter_times_out_after_queue_timeout);
	tcase_add_test(queue, bulkhead_waiter_timeout_longer_than_reap_tick_is_kept);
	tcase_add_test(queue, bulkhead_waiter_gets_slot_when_holder_releases);
	tcase_add_test(queue, bulkhead_queue_admits_n_waiters_and_rejects_the_next);
	tcase_add_test(queue, bulkhead_waiter_in_another_process_is_woken_by_release);
	suite_add_tcase(s, queue);

	TCase *order = tcase_create("order_signals_set");
	tcase_add_checked_fixture(order, seg_setup, seg_teardown);
	tcase_set_timeout(order, 15);
	tcase_add_test(order, bulkhead_waiters_are_admitted_in_arrival_order);
	tcase_add_test(order, bulkhead_arrival_leaves_a_freed_slot_to_the_oldest_waiter);
	tcase_add_test(order, bulkhead_dead_waiter_does_not_hold_the_line);
	tcase_add_test(order, bulkhead_signal_without_sa_restart_ends_the_wait_and_gives_the_place_back);
	tcase_add_test(order, bulkhead_signal_with_sa_restart_lets_the_wait_go_on);
	tcase_add_test(order, bulkhead_set_raising_the_limit_admits_a_waiter_at_once);
	tcase_add_test(order, bulkhead_set_disabling_lets_a_waiter_pass);
	suite_add_tcase(s, order);

	TCase *dead = tcase_create("dead_processes");
	tcase_add_checked_fixture(dead, seg_setup, seg_teardown);
	tcase_set_timeout(dead, 10);
	tcase_add_test(dead, bulkhead_reclaims_slots_of_exited_process_at_acquisition);
	tcase_add_test(dead, bulkhead_reclaims_slots_of_sigkilled_process_at_acquisition);
	tcase_add_test(dead, bulkhead_reclaims_slots_of_exited_child_not_yet_waited_for);
	tcase_add_test(dead, bulkhead_waiter_gets_slot_of_process_killed_while_it_waits);
	tcase_add_test(dead, bulkhead_late_reaper_leaves_a_reused_process_record_alone);
	tcase_add_test(dead, bulkhead_exit_waits_out_a_reaper_holding_the_record_for_a_moment);
	suite_add_tcase(s, dead);

	TCase *race = tcase_create("contention");
	tcase_add_checked_fixture(race, seg_setup, seg_teardown);
	tcase_set_timeout(race, 10);
	tcase_add_test(race, bulkhead_concurrent_holders_never_exceed_the_limit);
	suite_add_tcase(s, race);

	TCase *nb = tcase_create("nonblocking_queue");
	tcase_add_checked_fixture(nb, seg_setup, seg_teardown);
	tcase_set_timeout(nb, 10);
	tcase_add_test(nb, bulkhead_place_is_admitted_when_the_holder_releases);
	tcase_add_test(nb, bulkhead_enqueue_takes_a_free_slot_at_once);
	tcase_add_test(nb, bulkhead_enqueue_rejects_when_the_queue_is_full_or_absent);
	tcase_add_test(nb, bulkhead_place_ahead_of_a_blocking_waiter_is_served_first);
	tcase_add_test(nb, bulkhead_place_behind_a_blocking_waiter_waits_its_turn);
	tcase_add_test(nb, bulkhead_place_given_up_on_timeout_counts_and_lets_the_line_move);
	tcase_add_test(nb, bulkhead_place_of_a_dead_process_is_reclaimed);
	tcase_add_test(nb, bulkhead_place_is_given_up_when_the_bulkhead_is_switched_off);
	suite_add_tcase(s, nb);
	return s;
}
