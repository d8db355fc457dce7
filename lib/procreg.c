/*
 * procreg.c - see procreg.h.
 */
#include "procreg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomics.h"
#include "clock.h"
#include "sysio.h"

static unsigned long long decimal_at(const char *p)
{
	unsigned long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (unsigned)(*p - '0');
	return v;
}

/*
 * Fields 3 (state), 20 (threads) and 22 (start time in ticks) of
 * /proc/PID/stat; returns the start time, 0 if the process does not exist.
 * The command name may hold spaces and parentheses: fields count from the
 * last ')'.
 */
static uint64_t read_stat(pid_t pid, char *state, unsigned long long *threads)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (fl_sys_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	if (state && p[1] == ' ')
		*state = p[2];
	for (int field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' '); /* now before field + 1 */
		if (p && field + 1 == 20 && threads)
			*threads = decimal_at(p + 1);
	}
	if (!p)
		return 0;
	return decimal_at(p + 1);
}

uint64_t fl_proc_start_ticks(pid_t pid)
{
	return read_stat(pid, NULL, NULL);
}

/* One byte of the segment file per record: F_OFD_* on it. */
static int token_lock(const struct fl_seg *seg, uint32_t index, int cmd, short type, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)(FL_PROC_LOCK_BASE + index);
	fl->l_len = 1;
	return fl_sys_fcntl(seg->fd, cmd, fl);
}

bool fl_proc_token_held(const struct fl_seg *seg, uint32_t index)
{
	if (!seg || seg->fd <= 2 || index >= FL_SEG_PROCS)
		return false;
	struct flock fl;
	int saved = errno;
	/* A read lock conflicts with the holder's write lock: GETLK reports it.
	 * Our own description's locks never conflict, so a process cannot see
	 * its own token; it needs none to know it is alive. */
	bool held = token_lock(seg, index, F_OFD_GETLK, F_RDLCK, &fl) == 0 && fl.l_type != F_UNLCK;
	errno = saved;
	return held;
}

/* Takes index's token for this process; its record says whether it has it. */
static void take_token(struct fl_seg *seg, uint32_t index)
{
	struct fl_seg_proc *p = &seg->procs[index];
	struct flock fl;
	int saved = errno;
	bool got = seg->fd > 2 && token_lock(seg, index, F_OFD_SETLK, F_WRLCK, &fl) == 0;
	errno = saved;
	STORE(&p->token, got ? FL_PROC_TOKEN_OFD : FL_PROC_TOKEN_NONE);
}

/* Gives index's token back before its record is freed, so the next process
 * to claim the record can take it. A no-op if another description holds it. */
static void drop_token(struct fl_seg *seg, uint32_t index)
{
	struct flock fl;
	int saved = errno;
	if (seg->fd > 2)
		token_lock(seg, index, F_OFD_SETLK, F_UNLCK, &fl);
	errno = saved;
}

/* The pid runs, and started when the record says. */
static bool pid_alive(const struct fl_seg_proc *p)
{
	pid_t pid = (pid_t)LOAD(&p->pid);
	if (pid <= 0)
		return false;
	int saved = errno;
	bool gone = kill(pid, 0) < 0 && errno == ESRCH;
	char state = '?';
	unsigned long long threads = 0;
	uint64_t start = gone ? 0 : read_stat(pid, &state, &threads); /* it may exit meanwhile */
	errno = saved;
	if (gone)
		return false;
	/* A zombie ('Z') or dead ('X') process has closed every descriptor, so
	 * it holds no connection, whether or not its parent has waited yet.
	 * (A leader that called pthread_exit is a zombie too, but its other
	 * threads still count in field 20 and still hold the descriptors.) */
	if ((state == 'Z' || state == 'X') && threads <= 1)
		return false;
	return start == 0 || start == LOAD(&p->start_ticks);
}

bool fl_proc_alive(const struct fl_seg *seg, uint32_t index, const struct fl_seg_proc *p)
{
	if (LOAD(&p->token) == FL_PROC_TOKEN_OFD && fl_proc_token_held(seg, index))
		return true;
	return pid_alive(p);
}

static void fill(struct fl_seg *seg, uint32_t index, pid_t pid, uint64_t start_ticks, const char *cmd,
		 uint64_t now_ms)
{
	struct fl_seg_proc *p = &seg->procs[index];
	take_token(seg, index); /* before LIVE: no reclaimer ever sees it live without */
	STORE(&p->pid, (uint32_t)pid);
	STORE(&p->start_ticks, start_ticks);
	STORE(&p->attach_ms, now_ms);
	snprintf(p->cmd, sizeof(p->cmd), "%s", cmd ? cmd : "");
	__atomic_fetch_add(&p->generation, 1, __ATOMIC_ACQ_REL);
	STORE(&p->status, FL_PROC_LIVE);
}

static uint32_t claim(struct fl_seg *seg, pid_t pid, uint64_t start_ticks, const char *cmd, uint64_t now_ms)
{
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++) {
		struct fl_seg_proc *p = &seg->procs[i];
		uint32_t expected = FL_PROC_FREE;
		if (LOAD(&p->status) == FL_PROC_FREE && CAS(&p->status, &expected, FL_PROC_CLAIMED)) {
			fill(seg, i, pid, start_ticks, cmd, now_ms);
			return i;
		}
	}
	return FL_PROC_NONE;
}

uint32_t fl_proc_find(const struct fl_seg *seg, pid_t pid, uint64_t start_ticks)
{
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++) {
		const struct fl_seg_proc *p = &seg->procs[i];
		if (LOAD(&p->status) == FL_PROC_LIVE && LOAD(&p->pid) == (uint32_t)pid &&
		    LOAD(&p->start_ticks) == start_ticks)
			return i;
	}
	return FL_PROC_NONE;
}

uint32_t fl_proc_register(struct fl_seg *seg, pid_t pid, uint64_t start_ticks, const char *cmd,
			  uint64_t now_ms)
{
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++) {
		struct fl_seg_proc *p = &seg->procs[i];
		if (LOAD(&p->status) == FL_PROC_LIVE && LOAD(&p->pid) == (uint32_t)pid &&
		    LOAD(&p->start_ticks) == start_ticks) {
			snprintf(p->cmd, sizeof(p->cmd), "%s", cmd ? cmd : ""); /* exec: a new command */
			take_token(seg, i); /* the old image's went with its descriptor */
			return i;
		}
	}
	return claim(seg, pid, start_ticks, cmd, now_ms);
}

/*
 * Takes the record from LIVE to CLAIMED, so only one party works on it -
 * but only while it is still registration `generation`. A reclaimer judges
 * a record dead first and claims it after, and in between the record may
 * be retired by another reclaimer and claimed by a newly forked process:
 * status is LIVE again, and a plain CAS would retire the live newcomer
 * (its slots given back while it holds them, and the records it takes
 * afterwards orphaned: nobody could ever find them by (index, generation)
 * again). A claim that finds another generation puts LIVE back: the owner
 * is alive, and its own retire waits for that (fl_proc_retire_own_begin).
 */
bool fl_proc_retire_begin(struct fl_seg *seg, uint32_t index, uint32_t generation)
{
	if (index >= FL_SEG_PROCS)
		return false;
	struct fl_seg_proc *p = &seg->procs[index];
	uint32_t expected = FL_PROC_LIVE;
	if (!CAS(&p->status, &expected, FL_PROC_CLAIMED))
		return false;
	if (LOAD(&p->generation) == generation)
		return true; /* fill bumps it before LIVE: unchanged means not reused */
	STORE(&p->status, FL_PROC_LIVE);
	return false;
}

#define OWN_CLAIM_WAIT_MS 1000u /* how long we yield to a reclaimer holding our record */

/* The owner retiring its own record: a reclaimer may hold it CLAIMED for
 * the few instructions of fl_proc_retire_begin; wait that out rather than
 * leave the record to be reaped after we are gone. The moment can be a
 * scheduler quantum or more on a loaded machine (the reclaimer preempted
 * in it), so the bound is time, not a count of yields. A reclaimer killed
 * in that window leaves it CLAIMED for good: we give up after the bound. */
bool fl_proc_retire_own_begin(struct fl_seg *seg, uint32_t index)
{
	if (index >= FL_SEG_PROCS)
		return false;
	struct fl_seg_proc *p = &seg->procs[index];
	uint64_t give_up = 0;
	for (;;) {
		if (fl_proc_retire_begin(seg, index, LOAD(&p->generation)))
			return true;
		/* FREE: someone retired it already. CLAIMED: a reclaimer holds
		 * it. LIVE: it gave the record back since our try - try again. */
		if (LOAD(&p->status) == FL_PROC_FREE)
			return false;
		uint64_t now = fl_clock_mono_ms();
		if (give_up == 0)
			give_up = now + OWN_CLAIM_WAIT_MS;
		else if (now >= give_up)
			return false;
		syscall(SYS_sched_yield);
	}
}

void fl_proc_retire_end(struct fl_seg *seg, uint32_t index)
{
	if (index >= FL_SEG_PROCS)
		return;
	struct fl_seg_proc *p = &seg->procs[index];
	drop_token(seg, index);
	STORE(&p->pid, 0);
	STORE(&p->status, FL_PROC_FREE);
}

void fl_proc_forget(struct fl_seg *seg, uint32_t index)
{
	if (fl_proc_retire_own_begin(seg, index))
		fl_proc_retire_end(seg, index);
}

uint32_t fl_proc_next_dead(const struct fl_seg *seg, uint32_t from, uint32_t *generation)
{
	for (uint32_t i = from; i < FL_SEG_PROCS; i++) {
		const struct fl_seg_proc *p = &seg->procs[i];
		/* The generation first: what is judged below belongs to it, or
		 * the record changed hands and fl_proc_retire_begin leaves it be. */
		uint32_t g = LOAD(&p->generation);
		if (LOAD(&p->status) == FL_PROC_LIVE && !fl_proc_alive(seg, i, p)) {
			*generation = g;
			return i;
		}
	}
	return FL_PROC_NONE;
}
