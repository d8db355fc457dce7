/*
 * test_procreg.c - the registry of processes attached to a domain.
 *
 * A process is its pid *and* its start time, so every "is it alive?" case
 * is built from real processes: this one, a child that exited and was
 * reaped, a child that exited and was not (a zombie), and this pid with a
 * start time that is not its own (what a reused pid looks like). The
 * segment is anonymous MAP_SHARED memory, as a child would see it.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulkhead.h"
#include "procreg.h"
#include "seg_fixture.h"

static uint64_t my_start(void)
{
	return fl_proc_start_ticks(getpid());
}

static uint32_t register_self(const char *cmd)
{
	uint32_t i = fl_proc_register(&seg, getpid(), my_start(), cmd, NOW_MS);
	ck_assert_uint_ne(i, FL_PROC_NONE);
	return i;
}

/* A child that has exited; reaped (waited for) or left a zombie. */
struct gone {
	pid_t pid;
	uint64_t start_ticks;
};

static struct gone exited_child(bool reap)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	struct gone g = {pid, fl_proc_start_ticks(pid)};
	siginfo_t si;
	/* WNOWAIT: wait until it is dead, but leave it a zombie. */
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	if (reap)
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return g;
}

static struct fl_seg_proc record_of(pid_t pid, uint64_t start_ticks)
{
	struct fl_seg_proc p;
	memset(&p, 0, sizeof p);
	p.status = FL_PROC_LIVE;
	p.pid = (uint32_t)pid;
	p.start_ticks = start_ticks;
	return p;
}

static struct fl_seg_entry *bulkhead_entry(uint32_t limit)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	r.u.bulkhead.max_concurrent_requests = limit;
	r.u.bulkhead.max_queue_size = 0;
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = FL_AF_INET4;
	d.port = 6379;
	d.addr[0] = 127, d.addr[3] = 1;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, init_bulkhead, &r.u.bulkhead);
	ck_assert_ptr_nonnull(e);
	return e;
}

static uint32_t holders_in_use(void)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < seg.holder_capacity; i++)
		n += __atomic_load_n(&seg.holders[i].entry_plus1, __ATOMIC_ACQUIRE) != 0;
	return n;
}

/* ---- identity -------------------------------------------------------- */

START_TEST(proc_start_ticks_of_self_is_positive_and_stable)
{
	uint64_t a = my_start();
	ck_assert_uint_gt(a, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(my_start(), a);
	ck_assert_uint_gt(fl_proc_start_ticks(1), 0);
	ck_assert_uint_le(fl_proc_start_ticks(1), a); /* init started first */
}
END_TEST

START_TEST(proc_start_ticks_of_missing_process_is_zero)
{
	struct gone g = exited_child(true);
	ck_assert_uint_gt(g.start_ticks, 0);
	ck_assert_uint_eq(fl_proc_start_ticks(g.pid), 0);
	ck_assert_uint_eq(fl_proc_start_ticks(0), 0);
	ck_assert_uint_eq(fl_proc_start_ticks(-1), 0);
}
END_TEST

START_TEST(proc_start_ticks_survive_command_names_with_spaces_and_parentheses)
{
	int go[2], ack[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ack), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		prctl(PR_SET_NAME, ") 1 2 (x) 3", 0, 0, 0);
		if (write(ack[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	uint64_t before = fl_proc_start_ticks(pid);
	char c;
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read(ack[0], &c, 1), 1);
	uint64_t after = fl_proc_start_ticks(pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_uint_gt(before, 0);
	ck_assert_uint_eq(after, before);
}
END_TEST

START_TEST(proc_record_of_self_is_alive)
{
	struct fl_seg_proc p = record_of(getpid(), my_start());
	ck_assert(fl_proc_alive(&seg, 0, &p));
}
END_TEST

START_TEST(proc_record_of_reaped_child_is_not_alive)
{
	struct gone g = exited_child(true);
	struct fl_seg_proc p = record_of(g.pid, g.start_ticks);
	ck_assert(!fl_proc_alive(&seg, 0, &p));
}
END_TEST

START_TEST(proc_record_of_exited_unreaped_child_is_not_alive)
{
	/* A zombie holds no descriptors, so it holds no connections. */
	struct gone g = exited_child(false);
	struct fl_seg_proc p = record_of(g.pid, g.start_ticks);
	ck_assert(!fl_proc_alive(&seg, 0, &p));
	waitpid(g.pid, NULL, 0);
}
END_TEST

static void *sleep_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* State letter of pid from /proc/PID/stat, read independently of procreg.c. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

START_TEST(proc_record_of_process_whose_main_thread_exited_is_alive)
{
	/* Its leader shows as a zombie, but another thread still runs and
	 * still holds the process's descriptors. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, sleep_forever, NULL) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	uint64_t start = fl_proc_start_ticks(pid);
	for (int i = 0; i < 5000 && proc_state(pid) != 'Z'; i++)
		usleep(1000);
	char st = proc_state(pid);
	struct fl_seg_proc p = record_of(pid, start);
	bool alive = fl_proc_alive(&seg, 0, &p);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(st, 'Z');
	ck_assert(alive);
}
END_TEST

START_TEST(proc_record_with_reused_pid_is_not_alive)
{
	struct fl_seg_proc p = record_of(getpid(), my_start() + 1);
	ck_assert(!fl_proc_alive(&seg, 0, &p));
	p.start_ticks = my_start() - 1;
	ck_assert(!fl_proc_alive(&seg, 0, &p));
}
END_TEST

START_TEST(proc_record_without_pid_is_not_alive)
{
	struct fl_seg_proc p = record_of(0, 0);
	ck_assert(!fl_proc_alive(&seg, 0, &p));
}
END_TEST

START_TEST(proc_alive_keeps_errno)
{
	struct gone g = exited_child(true);
	struct fl_seg_proc p = record_of(g.pid, g.start_ticks);
	errno = EINTR;
	ck_assert(!fl_proc_alive(&seg, 0, &p));
	ck_assert_int_eq(errno, EINTR);
}
END_TEST

/* ---- registration ---------------------------------------------------- */

START_TEST(register_records_pid_start_command_and_time)
{
	uint32_t i = register_self("redis-cli");
	struct fl_seg_proc *p = &seg.procs[i];
	ck_assert_uint_eq(p->status, FL_PROC_LIVE);
	ck_assert_uint_eq(p->pid, (uint32_t)getpid());
	ck_assert_uint_eq(p->start_ticks, my_start());
	ck_assert_uint_eq(p->attach_ms, NOW_MS);
	ck_assert_str_eq(p->cmd, "redis-cli");
	ck_assert_uint_eq(p->generation, 1);
	ck_assert(fl_proc_alive(&seg, i, p));
}
END_TEST

START_TEST(register_truncates_long_command)
{
	char cmd[200];
	memset(cmd, 'c', sizeof cmd - 1);
	cmd[sizeof cmd - 1] = '\0';
	uint32_t i = register_self(cmd);
	ck_assert_uint_eq(strlen(seg.procs[i].cmd), FL_SEG_CMD_MAX - 1);
	uint32_t j = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), NULL, NOW_MS);
	ck_assert_str_eq(seg.procs[j].cmd, "");
}
END_TEST

START_TEST(register_twice_with_same_identity_returns_same_index)
{
	/* exec: the same process registers again from its new image. */
	uint32_t i = register_self("sh");
	uint32_t gen = seg.procs[i].generation;
	uint32_t j = register_self("curl");
	ck_assert_uint_eq(j, i);
	ck_assert_uint_eq(seg.procs[i].generation, gen);
	ck_assert_str_eq(seg.procs[i].cmd, "curl");
	for (uint32_t k = 0; k < FL_SEG_PROCS; k++)
		if (k != i)
			ck_assert_uint_eq(seg.procs[k].status, FL_PROC_FREE);
}
END_TEST

START_TEST(register_keeps_slots_held_before_exec)
{
	struct fl_seg_entry *e = bulkhead_entry(4);
	uint32_t i = register_self("sh");
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, i, false, &h), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(register_self("curl"), i);
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, i, seg.procs[i].generation), 1);
	ck_assert_uint_eq(e->bulkhead.active, 0);
}
END_TEST

START_TEST(register_distinct_processes_get_distinct_records)
{
	uint32_t a = register_self("a");
	uint32_t b = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "parent", NOW_MS);
	ck_assert_uint_ne(b, FL_PROC_NONE);
	ck_assert_uint_ne(a, b);
	/* The same pid with another start time is another process (pid reuse). */
	uint32_t c = fl_proc_register(&seg, getpid(), my_start() + 1, "impostor", NOW_MS);
	ck_assert_uint_ne(c, FL_PROC_NONE);
	ck_assert_uint_ne(c, a);
	ck_assert_str_eq(seg.procs[a].cmd, "a");
}
END_TEST

START_TEST(unregister_frees_record_and_its_holders)
{
	struct fl_seg_entry *e = bulkhead_entry(4);
	uint32_t i = register_self("client");
	uint32_t h1, h2;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, i, false, &h1), FL_BULKHEAD_ACQUIRED);
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, i, false, &h2), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_ne(h1, FL_HOLDER_NONE);
	ck_assert_uint_ne(h2, FL_HOLDER_NONE);
	/* Someone else's slot must survive. */
	uint32_t other = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "other", NOW_MS);
	uint32_t h3;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, other, false, &h3), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(e->bulkhead.active, 3);
	ck_assert_uint_eq(holders_in_use(), 3);

	fl_bulkhead_reclaim_proc(&seg, i);
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_FREE);
	ck_assert_uint_eq(seg.procs[i].pid, 0);
	ck_assert_uint_eq(seg.holders[h1].entry_plus1, 0);
	ck_assert_uint_eq(seg.holders[h2].entry_plus1, 0);
	ck_assert_uint_eq(seg.holders[h3].entry_plus1, (uint32_t)(e - seg.entries) + 1);
	ck_assert_uint_eq(e->bulkhead.active, 1);
	ck_assert_uint_eq(holders_in_use(), 1);
	/* Twice, or out of range: nothing happens. */
	fl_bulkhead_reclaim_proc(&seg, i);
	fl_bulkhead_reclaim_proc(&seg, FL_PROC_NONE);
	fl_bulkhead_reclaim_proc(&seg, FL_SEG_PROCS);
	ck_assert_uint_eq(e->bulkhead.active, 1);
}
END_TEST

START_TEST(reused_record_gets_new_generation_and_no_old_holders)
{
	struct fl_seg_entry *e = bulkhead_entry(4);
	uint32_t i = register_self("first");
	uint32_t gen = seg.procs[i].generation;
	fl_bulkhead_reclaim_proc(&seg, i);
	uint32_t j = register_self("second");
	ck_assert_uint_eq(j, i); /* the free record is taken again */
	ck_assert_uint_eq(seg.procs[j].generation, gen + 1);
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, j, false, &h), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(seg.holders[h].proc_generation, gen + 1);
	/* Releasing the old generation's slots leaves the new one's alone. */
	ck_assert_uint_eq(fl_bulkhead_release_proc(&seg, j, gen), 0);
	ck_assert_uint_eq(e->bulkhead.active, 1);
}
END_TEST

/* ---- reclaim (lib/bulkhead.c) over the registry's dead records ------- */

START_TEST(reap_retires_dead_records_and_frees_their_slots)
{
	struct fl_seg_entry *e = bulkhead_entry(8);
	uint32_t me = register_self("me");
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, me, false, &h), FL_BULKHEAD_ACQUIRED);
	struct gone g = exited_child(true);
	uint32_t dead = fl_proc_register(&seg, g.pid, g.start_ticks, "dead", NOW_MS);
	ck_assert_uint_ne(dead, FL_PROC_NONE);
	for (int n = 0; n < 3; n++)
		ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, dead, false, &h), FL_BULKHEAD_ACQUIRED);
	ck_assert_uint_eq(e->bulkhead.active, 4);

	ck_assert_uint_eq(fl_bulkhead_reclaim_dead(&seg), 3);
	ck_assert_uint_eq(seg.procs[dead].status, FL_PROC_FREE);
	ck_assert_uint_eq(seg.procs[me].status, FL_PROC_LIVE);
	ck_assert_uint_eq(e->bulkhead.active, 1);
	ck_assert_uint_eq(holders_in_use(), 1);
	ck_assert_uint_eq(fl_bulkhead_reclaim_dead(&seg), 0);
}
END_TEST

START_TEST(reap_retires_record_whose_pid_was_reused)
{
	uint32_t i = fl_proc_register(&seg, getpid(), my_start() + 7, "old owner of this pid", NOW_MS);
	fl_bulkhead_reclaim_dead(&seg);
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_FREE);
}
END_TEST

START_TEST(registry_full_returns_none_when_nobody_is_dead)
{
	uint32_t me = register_self("me");
	/* Every other record: a live process (this one, as far as checks go). */
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++)
		if (i != me)
			seg.procs[i] = seg.procs[me];
	fl_bulkhead_reclaim_dead(&seg);
	uint32_t r = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "late", NOW_MS);
	ck_assert_uint_eq(r, FL_PROC_NONE);
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++)
		ck_assert_uint_eq(seg.procs[i].status, FL_PROC_LIVE);
}
END_TEST

START_TEST(registry_full_reuses_the_record_of_a_dead_process)
{
	uint32_t me = register_self("me");
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++)
		if (i != me)
			seg.procs[i] = seg.procs[me];
	struct gone g = exited_child(true);
	uint32_t victim = (me + 500) % FL_SEG_PROCS;
	seg.procs[victim].pid = (uint32_t)g.pid;
	seg.procs[victim].start_ticks = g.start_ticks;
	uint32_t gen = seg.procs[victim].generation;
	/* Registration alone (a leaf) frees nothing; the shim reclaims and
	 * tries again (fl_domain_register). */
	uint32_t r = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "late", NOW_MS);
	ck_assert_uint_eq(r, FL_PROC_NONE);
	fl_bulkhead_reclaim_dead(&seg);
	r = fl_proc_register(&seg, getppid(), fl_proc_start_ticks(getppid()), "late", NOW_MS);
	ck_assert_uint_eq(r, victim);
	ck_assert_uint_eq(seg.procs[r].pid, (uint32_t)getppid());
	ck_assert_uint_eq(seg.procs[r].generation, gen + 1);
	ck_assert_str_eq(seg.procs[r].cmd, "late");
}
END_TEST

START_TEST(next_dead_names_only_dead_live_records)
{
	uint32_t me = register_self("me");
	struct gone g = exited_child(true);
	uint32_t dead = fl_proc_register(&seg, g.pid, g.start_ticks, "dead", NOW_MS);
	uint32_t generation = 0;
	ck_assert_uint_eq(fl_proc_next_dead(&seg, 0, &generation), dead);
	ck_assert_uint_eq(generation, seg.procs[dead].generation);
	ck_assert_uint_eq(fl_proc_next_dead(&seg, dead + 1, &generation), FL_PROC_NONE);
	ck_assert_uint_eq(fl_proc_next_dead(&seg, FL_SEG_PROCS, &generation), FL_PROC_NONE);
	ck_assert_uint_eq(seg.procs[me].status, FL_PROC_LIVE);
}
END_TEST

START_TEST(retire_is_taken_by_one_caller_and_keeps_the_generation)
{
	uint32_t i = register_self("me");
	uint32_t gen = seg.procs[i].generation;
	ck_assert(!fl_proc_retire_begin(&seg, i, gen - 1)); /* an older registration: not ours to take */
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_LIVE);
	ck_assert(fl_proc_retire_begin(&seg, i, gen));
	ck_assert(!fl_proc_retire_begin(&seg, i, gen)); /* a second reclaimer backs off */
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_CLAIMED);
	ck_assert_uint_eq(fl_bulkhead_reclaim_judged(&seg, i, gen), 0);
	fl_proc_retire_end(&seg, i);
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_FREE);
	ck_assert_uint_eq(seg.procs[i].pid, 0);
	ck_assert_uint_eq(seg.procs[i].generation, gen);
	ck_assert(!fl_proc_retire_begin(&seg, FL_SEG_PROCS, 0));
}
END_TEST

/* ---- liveness token -------------------------------------------------- */

/*
 * A process in another PID namespace is one whose recorded pid this
 * process cannot see, or sees as someone else: here, the pid of a child
 * that has exited. Its token must keep it alive; the kernel must give the
 * token back when it ends. Each process attaches with fl_seg_open, as the
 * shim does, so each has its own open file description.
 */
static char token_domain[64];

static void open_real(struct fl_seg *s)
{
	shm_seg_open(s, token_domain);
	ck_assert_int_gt(s->fd, 2);
}

static void token_setup(void)
{
	snprintf(token_domain, sizeof token_domain, "unit-procreg-%d", (int)getpid());
	open_real(&seg);
}

static void token_teardown(void)
{
	shm_seg_unlink(token_domain);
	fl_seg_close(&seg);
}

/* Registers as `invisible` (a pid nobody can see) through its own
 * description, reports the index on fd `to`, then waits for EOF on `from`. */
static void holder(struct fl_seg *s, struct gone invisible, int to, int from)
{
	uint32_t i = fl_proc_register(s, invisible.pid, invisible.start_ticks, "holder", NOW_MS);
	if (write(to, &i, sizeof i) != sizeof i)
		_exit(1);
	char c;
	while (read(from, &c, 1) > 0)
		;
	_exit(0);
}

/* Starts a holder in a child; returns its pid and record index. */
static pid_t start_holder(struct gone invisible, uint32_t *index, int *release)
{
	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		struct fl_seg own;
		open_real(&own);
		holder(&own, invisible, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(read(up[0], index, sizeof *index), sizeof *index);
	close(up[0]);
	*release = down[1];
	return pid;
}

START_TEST(token_keeps_a_process_whose_pid_is_invisible_alive)
{
	struct gone g = exited_child(true);
	uint32_t i;
	int release;
	pid_t pid = start_holder(g, &i, &release);
	ck_assert_uint_eq(seg.procs[i].token, FL_PROC_TOKEN_OFD);
	ck_assert(fl_proc_token_held(&seg, i));
	ck_assert(fl_proc_alive(&seg, i, &seg.procs[i]));
	ck_assert_uint_eq(fl_bulkhead_reclaim_dead(&seg), 0);
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_LIVE);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	close(release);
	/* The kernel gave the token back: now only the pid speaks, and it says dead. */
	ck_assert(!fl_proc_token_held(&seg, i));
	ck_assert(!fl_proc_alive(&seg, i, &seg.procs[i]));
	fl_bulkhead_reclaim_dead(&seg);
	ck_assert_uint_eq(seg.procs[i].status, FL_PROC_FREE);
}
END_TEST

START_TEST(token_is_not_taken_through_a_copy_of_the_record)
{
	/* The CLI judges snapshot copies: the index says which token. */
	struct gone g = exited_child(true);
	uint32_t i;
	int release;
	pid_t pid = start_holder(g, &i, &release);
	struct fl_seg_proc copy = seg.procs[i];
	ck_assert(fl_proc_alive(&seg, i, &copy));
	ck_assert(!fl_proc_alive(&seg, i + 1, &copy)); /* nobody holds that one */
	close(release);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}
END_TEST

/*
 * fork: the child inherits the parent's open file description, and with
 * it the parent's lock. Once it reopened the segment, its token is its own:
 * it goes when the child dies, while the parent's stays.
 */
START_TEST(token_of_a_forked_child_is_its_own)
{
	struct gone g = exited_child(true);
	int up[2];
	ck_assert_int_eq(pipe(up), 0);
	pid_t parent = fork();
	ck_assert_int_ge(parent, 0);
	if (parent == 0) {
		struct fl_seg own;
		open_real(&own);
		uint32_t pi = fl_proc_register(&own, g.pid, g.start_ticks, "parent", NOW_MS);
		pid_t child = fork();
		if (child == 0) {
			fl_seg_reopen(&own);
			uint32_t ci = fl_proc_register(&own, g.pid, g.start_ticks + 1, "child", NOW_MS);
			uint32_t both[2] = {pi, ci};
			if (write(up[1], both, sizeof both) != sizeof both)
				_exit(1);
			pause();
			_exit(0);
		}
		pause(); /* killed by the test */
		_exit(0);
	}
	close(up[1]);
	uint32_t both[2];
	ck_assert_int_eq(read(up[0], both, sizeof both), sizeof both);
	ck_assert_uint_ne(both[0], both[1]);
	ck_assert(fl_proc_token_held(&seg, both[0]));
	ck_assert(fl_proc_token_held(&seg, both[1]));
	/* The child ends: its token goes; the parent's stays with the parent. */
	char path[64];
	pid_t child = 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &child), 1);
	fclose(f);
	kill(child, SIGKILL);
	bool child_token = true;
	for (int n = 0; n < 5000 && child_token; n++) {
		child_token = fl_proc_token_held(&seg, both[1]);
		if (child_token)
			usleep(1000);
	}
	bool parent_token = fl_proc_token_held(&seg, both[0]);
	kill(parent, SIGKILL);
	waitpid(parent, NULL, 0);
	ck_assert(!child_token);
	ck_assert(parent_token);
}
END_TEST

START_TEST(unregister_gives_the_token_back_for_the_next_process)
{
	struct gone g = exited_child(true);
	int up[2];
	ck_assert_int_eq(pipe(up), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fl_seg own;
		open_real(&own);
		uint32_t i = fl_proc_register(&own, g.pid, g.start_ticks, "first", NOW_MS);
		fl_bulkhead_reclaim_proc(&own, i);
		uint32_t j =
		    fl_proc_register(&own, getpid(), fl_proc_start_ticks(getpid()), "second", NOW_MS);
		uint32_t both[2] = {i, j};
		if (write(up[1], both, sizeof both) != sizeof both)
			_exit(1);
		pause();
		_exit(0);
	}
	close(up[1]);
	uint32_t both[2];
	ck_assert_int_eq(read(up[0], both, sizeof both), sizeof both);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_uint_eq(both[0], both[1]); /* the freed record was the first free one */
	ck_assert(!fl_proc_token_held(&seg, both[0]));
	(void)g;
}
END_TEST

START_TEST(record_without_a_descriptor_has_no_token)
{
	struct fl_seg anon = shared_seg(16);
	uint32_t i = fl_proc_register(&anon, getpid(), my_start(), "anon", NOW_MS);
	ck_assert_uint_eq(anon.procs[i].token, FL_PROC_TOKEN_NONE);
	ck_assert(fl_proc_alive(&anon, i, &anon.procs[i])); /* the pid says so */
	fl_seg_close(&anon);
}
END_TEST

Suite *procreg_suite(void); /* run by runner.c */

Suite *procreg_suite(void)
{
	Suite *s = suite_create("procreg");

	TCase *id = tcase_create("identity");
	tcase_add_checked_fixture(id, seg_setup, seg_teardown);
	tcase_set_timeout(id, 10);
	tcase_add_test(id, proc_start_ticks_of_self_is_positive_and_stable);
	tcase_add_test(id, proc_start_ticks_of_missing_process_is_zero);
	tcase_add_test(id, proc_start_ticks_survive_command_names_with_spaces_and_parentheses);
	tcase_add_test(id, proc_record_of_self_is_alive);
	tcase_add_test(id, proc_record_of_reaped_child_is_not_alive);
	tcase_add_test(id, proc_record_of_exited_unreaped_child_is_not_alive);
	tcase_add_test(id, proc_record_of_process_whose_main_thread_exited_is_alive);
	tcase_add_test(id, proc_record_with_reused_pid_is_not_alive);
	tcase_add_test(id, proc_record_without_pid_is_not_alive);
	tcase_add_test(id, proc_alive_keeps_errno);
	suite_add_tcase(s, id);

	TCase *reg = tcase_create("register");
	tcase_add_checked_fixture(reg, seg_setup, seg_teardown);
	tcase_set_timeout(reg, 10);
	tcase_add_test(reg, register_records_pid_start_command_and_time);
	tcase_add_test(reg, register_truncates_long_command);
	tcase_add_test(reg, register_twice_with_same_identity_returns_same_index);
	tcase_add_test(reg, register_keeps_slots_held_before_exec);
	tcase_add_test(reg, register_distinct_processes_get_distinct_records);
	tcase_add_test(reg, unregister_frees_record_and_its_holders);
	tcase_add_test(reg, reused_record_gets_new_generation_and_no_old_holders);
	suite_add_tcase(s, reg);

	TCase *reap = tcase_create("reap");
	tcase_add_checked_fixture(reap, seg_setup, seg_teardown);
	tcase_set_timeout(reap, 10);
	tcase_add_test(reap, reap_retires_dead_records_and_frees_their_slots);
	tcase_add_test(reap, reap_retires_record_whose_pid_was_reused);
	tcase_add_test(reap, registry_full_returns_none_when_nobody_is_dead);
	tcase_add_test(reap, registry_full_reuses_the_record_of_a_dead_process);
	tcase_add_test(reap, next_dead_names_only_dead_live_records);
	tcase_add_test(reap, retire_is_taken_by_one_caller_and_keeps_the_generation);
	suite_add_tcase(s, reap);

	TCase *tok = tcase_create("token");
	tcase_add_checked_fixture(tok, token_setup, token_teardown);
	tcase_set_timeout(tok, 10);
	tcase_add_test(tok, token_keeps_a_process_whose_pid_is_invisible_alive);
	tcase_add_test(tok, token_is_not_taken_through_a_copy_of_the_record);
	tcase_add_test(tok, token_of_a_forked_child_is_its_own);
	tcase_add_test(tok, unregister_gives_the_token_back_for_the_next_process);
	tcase_add_test(tok, record_without_a_descriptor_has_no_token);
	suite_add_tcase(s, tok);
	return s;
}
