/*
 * supervise_loop.c - answering a supervised program's connect calls.
 *
 * One thread, one epoll set: the seccomp listener, the program's pidfd, a
 * signalfd for SIGCHLD, and our duplicates of sockets whose connect is
 * under way. Nothing ever sleeps: a delay is a deadline in the connection
 * record and the epoll timeout is the nearest one, so one slow connect
 * never holds up another notification. Every answer is preceded by
 * SECCOMP_IOCTL_NOTIF_ID_VALID where the call may have gone away.
 *
 * A connect to a destination no statement matches - of the rules, or of
 * the domain's layers (SPEC 7; read again whenever their generation
 * changes or one expires) - is let through at once
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE). A matched one is decided by decide()
 * (breaker, bulkhead, rate limit, then connect faults: the process's own
 * statements, then the layers'; a layer's breaker or bulkhead serves
 * connects its own rules give none, as in the shim). Breaker moves,
 * bulkhead and rate-limit rejections, injected faults (per statement and
 * second) and the supervisor's attach and exit go to the domain's event
 * log (lib/events.h). When a breaker or a bulkhead slot waits for the outcome,
 * the connect is then made by us on a pidfd_getfd duplicate of the
 * program's socket - the same open file description, so the program's
 * socket is the one that connects - which is how we learn the outcome
 * (otherwise the kernel makes it: CONTINUE):
 * at once, or, for a connect under way, when the duplicate becomes
 * writable (getpeername: connected or not, without consuming the
 * program's SO_ERROR). A blocking connect is answered when it completes.
 * The duplicate is closed as soon as the outcome is known, so the
 * program's own close really closes the socket.
 *
 * Slots are tied to the socket (its inode), not to a descriptor number:
 * dup, fork, SCM_RIGHTS within the tree and exec all keep it. A sweep
 * reads the descriptor tables (/proc/PID/fd) of every process of the tree
 * (we are a child subreaper, so the tree is our descendants); a socket no
 * longer in any of them is gone: its slot goes back, and a connect still
 * owed an outcome counts as given up (ETIMEDOUT, SPEC 5). The sweep runs
 * every SWEEP_MS while anything is tracked, before a bulkhead refuses
 * (so a slot whose socket is already closed never causes a rejection),
 * when a connect completes with a breaker waiting for it, and at the end.
 * close(2) itself is not trapped: every close of every file would pay a
 * round trip to learn about a handful of sockets.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "breaker.h"
#include "bulkhead.h"
#include "clock.h"
#include "events.h"
#include "fault.h"
#include "match.h"
#include "layers.h"
#include "procreg.h"
#include "ratelimit.h"
#include "segment.h"
#include "supervise.h"

#define SWEEP_MS      100u
#define QUEUE_POLL_MS 5u /* how often a queued connect looks for its turn */

#define TAG_LISTENER UINT64_MAX
#define TAG_PIDFD    (UINT64_MAX - 1)
#define TAG_SIGCHLD  (UINT64_MAX - 2)

enum sv_state {
	SV_FREE = 0,
	SV_QUEUED,     /* a blocking connect waits in a full bulkhead's queue: place, deadline */
	SV_DELAYED,    /* a fault's delay runs: deadline_ns */
	SV_CONNECTING, /* our duplicate's connect is under way: dup in the epoll set */
	SV_OPEN,       /* connected: only the slot (if any) is left to give back */
};

struct sv_conn {
	enum sv_state state;
	uint64_t ino;			/* the socket */
	int dup;			/* our duplicate while one is needed, else -1 */
	bool held;			/* the program waits for our answer to notif */
	bool blocking;			/* the program's socket is blocking */
	uint64_t notif;			/* its notification id while held */
	int error_after;		/* a fault's error, due when its delay ends */
	uint64_t deadline;		/* SV_DELAYED, SV_QUEUED: monotonic ns */
	struct fl_bulkhead_place place; /* SV_QUEUED */
	struct fl_match match;		/* for the faults, decided once a queued connect has its slot */
	uint8_t family;			/* FL_AF_* of the destination */
	bool relative;			/* a unix path relative to the program's directory */
	struct sockaddr_storage sa;
	socklen_t salen;
	struct fl_seg_entry *stats, *breaker, *bulkhead, *ratelimit;
	struct fl_dest dest; /* for the layers' faults, matched when decided */
	struct fl_permit permit;
	uint32_t holder;
	bool has_slot;
};

struct sv {
	const struct fl_sv_config *cfg;
	struct fl_match_index index;
	struct fl_fault_counters *counters; /* one per statement */
	struct fl_rng rng;
	struct fl_seg seg;
	bool attached;
	uint32_t proc;
	int listener, epfd;
	struct sv_conn *conns;
	size_t nconns;
	uint64_t next_sweep;
	struct seccomp_notif *req;
	size_t req_size;
	/* The domain's layers (SPEC 7): a copy, read again when the generation
	 * changes or the next expiry passes; counters per statement (uid). */
	struct fl_layers_view *lv;
	bool lv_have;
	uint32_t lv_gen;
	uint64_t lv_next_ms;
	struct fl_fault_counters lcnt[FL_SEG_LAYER_STMTS];
	uint64_t luid[FL_SEG_LAYER_STMTS];
	/* Fault summaries for the event log: own statements, then layer
	 * statements by their place in the view. */
	struct sv_sum *sums;
	size_t nsums;
};

/* Injections of one statement in one second (lib/events.h "fault"). */
struct sv_sum {
	uint64_t second, count;
	uint32_t statement, ops, delay_ms;
	int error;
	char dest[FL_SEG_EVENT_DEST];
};

/* The layers' statements that match one destination: view positions. */
struct sv_lmatch {
	int32_t breaker, bulkhead;
	uint32_t nfaults;
	uint32_t faults[FL_MATCH_MAX_FAULTS];
};

static uint64_t now_ns(void)
{
	return fl_clock_mono_ns();
}

/* --- answers ----------------------------------------------------------- */

static bool id_valid(struct sv *s, uint64_t id)
{
	return ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* err < 0: let the call run (CONTINUE); 0: it returned 0; else -1/err. */
static void answer(struct sv *s, uint64_t id, int err)
{
	struct seccomp_notif_resp r;
	memset(&r, 0, sizeof(r));
	r.id = id;
	if (err < 0)
		r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else if (err > 0) {
		r.error = -err;
		r.val = -1;
	}
	/* ENOENT: the call is gone (a signal, or the thread died). */
	(void)ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* --- entries (as the shim's shim/domain.c, without its process globals) - */

static void init_entry(struct fl_seg_entry *e, void *arg)
{
	(void)arg;
	e->created_ms = fl_clock_unix_ms();
}

static bool claim_part(uint8_t *flag)
{
	uint8_t v = __atomic_load_n(flag, __ATOMIC_ACQUIRE);
	if (v == FL_PART_READY)
		return false;
	if (v == FL_PART_NONE &&
	    __atomic_compare_exchange_n(flag, &v, FL_PART_BUSY, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return true;
	for (int spin = 0; spin < 200000; spin++)
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == FL_PART_READY)
			return false;
	return true;
}

static void ensure_parts(struct sv *s, struct fl_seg_entry *e, uint32_t rule)
{
	const struct fl_rule *r = &s->cfg->rules->rules[rule];
	uint8_t *flag = r->kind == FL_KIND_BREAKER ? &e->has_breaker : &e->has_bulkhead;
	if (!claim_part(flag))
		return;
	if (r->kind == FL_KIND_BREAKER) {
		fl_rule_format_brief(r, e->breaker_rule, sizeof(e->breaker_rule));
		fl_breaker_init(&e->breaker, &r->u.breaker, fl_clock_unix_ms());
	} else {
		fl_rule_format_brief(r, e->bulkhead_rule, sizeof(e->bulkhead_rule));
		fl_bulkhead_init(&e->bulkhead, &r->u.bulkhead);
	}
	__atomic_store_n(flag, FL_PART_READY, __ATOMIC_RELEASE);
}

static struct fl_seg_entry *rule_entry(struct sv *s, uint32_t rule)
{
	struct fl_seg_key key;
	fl_seg_key_rule(&key, &s->cfg->rules->rules[rule].target);
	return fl_seg_lookup(&s->seg, &key, init_entry, NULL);
}

/* A layer's breaker or bulkhead statement for entry e (SPEC 7). */
static void ensure_layer_part(struct fl_seg_entry *e, const struct fl_seg_stmt *st)
{
	uint8_t *flag = st->kind == FL_KIND_BREAKER ? &e->has_breaker : &e->has_bulkhead;
	if (!claim_part(flag))
		return;
	char *text = st->kind == FL_KIND_BREAKER ? e->breaker_rule : e->bulkhead_rule;
	fl_event_text(text, FL_SEG_RULE_TEXT, st->text);
	if (st->kind == FL_KIND_BREAKER)
		fl_breaker_init(&e->breaker, &st->u.breaker, fl_clock_unix_ms());
	else
		fl_bulkhead_init(&e->bulkhead, &st->u.bulkhead);
	__atomic_store_n(flag, FL_PART_READY, __ATOMIC_RELEASE);
}

static void ensure_ratelimit(struct fl_seg_entry *e, const struct fl_ratelimit_params *p)
{
	if (!claim_part(&e->has_ratelimit))
		return;
	fl_ratelimit_init(&e->ratelimit, p);
	__atomic_store_n(&e->has_ratelimit, FL_PART_READY, __ATOMIC_RELEASE);
}

static void plan(struct sv *s, struct sv_conn *c, const struct fl_dest *d, const struct fl_match *m,
		 const struct sv_lmatch *lm)
{
	bool own = m->breaker >= 0 || m->bulkhead >= 0 || m->rate_limit >= 0 || m->nfaults > 0;
	uint32_t cap = s->seg.capacity, keep = cap / 4 ? cap / 4 : 1;
	if (s->cfg->rules->count < keep)
		keep = (uint32_t)s->cfg->rules->count;
	struct fl_seg_key key;
	fl_seg_key_dest(&key, d);
	struct fl_seg_entry *dest = fl_seg_lookup_limited(&s->seg, &key, init_entry, NULL, cap - keep);
	if (!dest && own) {
		uint32_t first = m->breaker >= 0    ? (uint32_t)m->breaker
				 : m->bulkhead >= 0 ? (uint32_t)m->bulkhead
						    : m->faults[0];
		dest = rule_entry(s, first);
		__atomic_fetch_add(&s->seg.hdr->overflow, 1, __ATOMIC_RELAXED);
		if (dest)
			__atomic_fetch_add(&dest->overflow_count, 1, __ATOMIC_RELAXED);
	}
	c->stats = dest;
	const struct fl_rule *rules = s->cfg->rules->rules;
	if (m->breaker >= 0) {
		uint32_t r = (uint32_t)m->breaker;
		c->breaker = rules[r].u.breaker.scope == FL_SCOPE_RULE ? rule_entry(s, r) : dest;
		if (c->breaker)
			ensure_parts(s, c->breaker, r);
	}
	if (m->bulkhead >= 0) {
		uint32_t r = (uint32_t)m->bulkhead;
		c->bulkhead = rules[r].u.bulkhead.scope == FL_SCOPE_RULE ? rule_entry(s, r) : dest;
		if (c->bulkhead)
			ensure_parts(s, c->bulkhead, r);
	}
	if (m->rate_limit >= 0) {
		uint32_t r = (uint32_t)m->rate_limit;
		c->ratelimit = rules[r].u.ratelimit.scope == FL_SCOPE_RULE ? rule_entry(s, r) : dest;
		if (c->ratelimit)
			ensure_ratelimit(c->ratelimit, &rules[r].u.ratelimit);
	}
	/* A layer's breaker / bulkhead, where the own rules give none (its
	 * entry: the destination's; a layer statement has no rule entry). */
	if (m->breaker < 0 && lm->breaker >= 0 && dest) {
		c->breaker = dest;
		ensure_layer_part(dest, &s->lv->stmt[lm->breaker]);
	}
	if (m->bulkhead < 0 && lm->bulkhead >= 0 && dest) {
		c->bulkhead = dest;
		ensure_layer_part(dest, &s->lv->stmt[lm->bulkhead]);
	}
}

/* --- layers and fault summaries ----------------------------------------- */

/* The layers as they are now (NULL: none, or never read stably). */
static const struct fl_layers_view *layers_now(struct sv *s)
{
	if (!s->attached || !s->seg.layers || !s->lv)
		return NULL;
	uint32_t g = __atomic_load_n(&s->seg.layers->gen, __ATOMIC_ACQUIRE);
	uint64_t now = fl_clock_unix_ms();
	if (s->lv_have && g == s->lv_gen && now < s->lv_next_ms)
		return s->lv;
	if ((g & 1u) || fl_layers_read(&s->seg, s->lv, now, 4) != 0)
		return s->lv_have ? s->lv : NULL; /* being written: the last view */
	s->lv_have = true;
	s->lv_gen = g;
	s->lv_next_ms = UINT64_MAX;
	for (uint32_t k = 0; k < s->lv->nlayers; k++)
		if (s->lv->layers[k].expires_ms && s->lv->layers[k].expires_ms < s->lv_next_ms)
			s->lv_next_ms = s->lv->layers[k].expires_ms;
	return s->lv;
}

static bool layers_match(struct sv *s, const struct fl_dest *d, struct sv_lmatch *lm)
{
	lm->breaker = lm->bulkhead = -1;
	lm->nfaults = 0;
	const struct fl_layers_view *v = layers_now(s);
	for (uint32_t j = 0; v && j < v->nstmts; j++) {
		const struct fl_seg_stmt *st = &v->stmt[j];
		if (!fl_target_match(&st->target, d))
			continue;
		if (st->kind == FL_KIND_BREAKER && lm->breaker < 0)
			lm->breaker = (int32_t)j;
		else if (st->kind == FL_KIND_BULKHEAD && lm->bulkhead < 0)
			lm->bulkhead = (int32_t)j;
		else if (st->kind == FL_KIND_FAULT && (st->u.fault.ops & (1u << FL_OP_CONNECT)) &&
			 lm->nfaults < FL_MATCH_MAX_FAULTS)
			lm->faults[lm->nfaults++] = j;
	}
	return lm->breaker >= 0 || lm->bulkhead >= 0 || lm->nfaults > 0;
}

/* The layer (applied_ms) of view position j. */
static uint64_t layer_applied(const struct fl_layers_view *v, uint32_t j)
{
	for (uint32_t k = 0; k < v->nlayers; k++)
		if (j >= v->layers[k].first && j < v->layers[k].first + v->layers[k].nstmts)
			return v->layers[k].applied_ms;
	return 0;
}

static void sum_emit(struct sv *s, struct sv_sum *u)
{
	if (u->count)
		fl_event_fault(&s->seg, (uint32_t)getpid(), u->dest, u->statement, u->ops, u->error,
			       u->delay_ms, u->second, u->count, fl_clock_unix_ms());
	u->count = 0;
}

/* Statement `slot` (own index, or rules + view position) injected once. */
static void sum_count(struct sv *s, size_t slot, uint32_t statement, const char *dest,
		      const struct fl_fault_params *p)
{
	if (!s->attached || slot >= s->nsums)
		return;
	struct sv_sum *u = &s->sums[slot];
	uint64_t second = fl_clock_unix_ms() / 1000;
	if (u->count && (u->second != second || u->statement != statement))
		sum_emit(s, u);
	u->second = second;
	u->statement = statement;
	u->ops = p->ops;
	u->error = p->error;
	u->delay_ms = p->delay_ms;
	fl_event_text(u->dest, sizeof(u->dest), dest);
	u->count++;
}

/* --- connection records ------------------------------------------------ */

static struct sv_conn *conn_find(struct sv *s, uint64_t ino)
{
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].state != SV_FREE && s->conns[i].ino == ino)
			return &s->conns[i];
	return NULL;
}

static struct sv_conn *conn_new(struct sv *s)
{
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].state == SV_FREE)
			return &s->conns[i];
	size_t n = s->nconns ? s->nconns * 2 : 64;
	struct sv_conn *grown = realloc(s->conns, n * sizeof(*grown));
	if (!grown)
		return NULL;
	memset(grown + s->nconns, 0, (n - s->nconns) * sizeof(*grown));
	s->conns = grown;
	struct sv_conn *c = &s->conns[s->nconns];
	s->nconns = n;
	return c;
}

static bool tracking(const struct sv *s)
{
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].state != SV_FREE)
			return true;
	return false;
}

static void drop_dup(struct sv *s, struct sv_conn *c)
{
	if (c->dup < 0)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->dup, NULL);
	close(c->dup);
	c->dup = -1;
}

/* The attempt's outcome, for the breaker (err 0: connected). */
static void settle(struct sv_conn *c, int err)
{
	if (!c->breaker || !c->permit.active)
		return;
	if (err == 0 || fl_breaker_is_connect_failure(err))
		fl_breaker_record(&c->breaker->breaker, &c->permit, err != 0, fl_clock_mono_ns(),
				  fl_clock_unix_ms());
	else
		fl_breaker_cancel(&c->breaker->breaker, &c->permit);
}

/* Done with the socket: slot back, record free. */
static void conn_end(struct sv *s, struct sv_conn *c)
{
	if (c->state == SV_QUEUED)
		fl_bulkhead_leave(&s->seg, c->bulkhead, &c->place, false);
	if (c->breaker && c->permit.active)
		fl_breaker_cancel(&c->breaker->breaker, &c->permit);
	if (c->has_slot)
		fl_bulkhead_release(&s->seg, c->bulkhead, c->holder);
	drop_dup(s, c);
	memset(c, 0, sizeof(*c));
	c->dup = -1;
}

/* --- the process tree and its sockets ---------------------------------- */

struct u64set {
	uint64_t *v;
	size_t n, cap;
};

static void set_add(struct u64set *set, uint64_t x)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 256;
		uint64_t *v = realloc(set->v, cap * sizeof(*v));
		if (!v)
			return;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = x;
}

static bool set_has(const struct u64set *set, uint64_t x)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i] == x)
			return true;
	return false;
}

/* Appends the children of every thread of pid (from /proc/PID/task/T/children). */
static void add_children(pid_t pid, struct u64set *pids)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char file[320];
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		FILE *f = fopen(file, "re");
		if (!f)
			continue;
		long child;
		while (fscanf(f, "%ld", &child) == 1)
			if (!set_has(pids, (uint64_t)child))
				set_add(pids, (uint64_t)child);
		fclose(f);
	}
	closedir(d);
}

/* The socket inodes open in any process of our tree. */
static void tree_sockets(struct u64set *socks)
{
	struct u64set pids = {0};
	add_children(getpid(), &pids);
	for (size_t i = 0; i < pids.n; i++) /* grows as it goes: breadth first */
		add_children((pid_t)pids.v[i], &pids);
	for (size_t i = 0; i < pids.n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids.v[i]);
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			char link[64];
			ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
			if (n < 9 || memcmp(link, "socket:[", 8) != 0)
				continue;
			link[n] = '\0';
			set_add(socks, strtoull(link + 8, NULL, 10));
		}
		closedir(d);
	}
	free(pids.v);
}

/* Is our duplicate of c's socket connected? Leaves SO_ERROR alone. */
static bool dup_connected(const struct sv_conn *c)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	return c->dup >= 0 && getpeername(c->dup, (struct sockaddr *)&peer, &len) == 0;
}

/* Is the connect of c still wanted? Gone: the program gave up (SPEC 5). */
static void sweep(struct sv *s)
{
	s->next_sweep = now_ns() + SWEEP_MS * 1000000ull;
	if (!tracking(s))
		return;
	struct u64set socks = {0};
	tree_sockets(&socks);
	for (size_t i = 0; i < s->nconns; i++) {
		struct sv_conn *c = &s->conns[i];
		/* A held call is the program inside connect on that socket: it ends
		 * through its answer (ID_VALID tells if the caller went away), and
		 * must not end under decide(), which may call us. */
		if (c->state == SV_FREE || c->held || set_has(&socks, c->ino))
			continue;
		/* Gone. Connected all the same (the program was quicker than our
		 * epoll: connected, talked, closed): a success. Else given up. */
		if (c->state == SV_CONNECTING || c->state == SV_DELAYED)
			settle(c, c->state == SV_CONNECTING && dup_connected(c) ? 0 : ETIMEDOUT);
		conn_end(s, c);
	}
	free(socks.v);
}

/* --- deciding ---------------------------------------------------------- */

struct sv_verdict {
	bool queued;	   /* waits in the bulkhead's queue (c->place): faults come after */
	int reject;	   /* breaker or bulkhead refused: no attempt at all */
	int error;	   /* a fault's errno */
	uint32_t delay_ms; /* a fault's delay */
};

/*
 * The one decision for one connect attempt: breaker, then bulkhead, then
 * the connect faults in statement order (the first that fires wins), as
 * the shim decides (shim/connect.c). Rate limits and layers go here.
 */
static void decide_faults(struct sv *s, struct sv_conn *c, const struct fl_match *m, struct sv_verdict *v);

static void decide(struct sv *s, struct sv_conn *c, const struct fl_match *m, struct sv_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (c->breaker &&
	    !fl_breaker_admit(&c->breaker->breaker, fl_clock_mono_ns(), fl_clock_unix_ms(), &c->permit)) {
		v->reject = (int)__atomic_load_n(&c->breaker->breaker.p.reject_errno, __ATOMIC_RELAXED);
		return;
	}
	if (c->bulkhead) {
		enum fl_bulkhead_result got = fl_bulkhead_try(&s->seg, c->bulkhead, s->proc, &c->holder);
		if (got == FL_BULKHEAD_REJECTED) {
			sweep(s); /* a slot whose socket is closed already comes back first */
			fl_bulkhead_reclaim_dead(&s->seg);
			/* A blocking socket may wait in the queue (non-blocking ones,
			 * Go's among them, never do: SPEC 5). */
			if (c->blocking)
				got = fl_bulkhead_enqueue(&s->seg, c->bulkhead, s->proc, fl_clock_mono_ms(),
							  &c->place, &c->holder);
			else
				got = fl_bulkhead_acquire(&s->seg, c->bulkhead, s->proc, false, &c->holder);
		}
		if (got == FL_BULKHEAD_QUEUED) {
			v->queued = true;
			return;
		}
		if (got == FL_BULKHEAD_ACQUIRED) {
			c->has_slot = true;
		} else if (got != FL_BULKHEAD_BYPASSED) {
			if (c->breaker)
				fl_breaker_cancel(&c->breaker->breaker, &c->permit);
			v->reject =
			    (int)__atomic_load_n(&c->bulkhead->bulkhead.p.reject_errno, __ATOMIC_RELAXED);
			return;
		}
	}
	if (c->ratelimit) { /* SPEC 11: after breaker and bulkhead, before faults */
		uint64_t delay_ns = 0;
		enum fl_rate_result r =
		    fl_ratelimit_take(&c->ratelimit->ratelimit, fl_clock_mono_ns(), &delay_ns);
		if (r != FL_RATE_ADMITTED)
			fl_event_rate_limit(&s->seg, c->ratelimit,
					    r == FL_RATE_REJECTED ? FL_RATE_EV_REJECTED : FL_RATE_EV_DELAYED,
					    fl_clock_unix_ms());
		if (r == FL_RATE_REJECTED) {
			if (c->breaker)
				fl_breaker_cancel(&c->breaker->breaker, &c->permit);
			v->reject =
			    (int)__atomic_load_n(&c->ratelimit->ratelimit.p.reject_errno, __ATOMIC_RELAXED);
			return;
		}
		if (r == FL_RATE_DELAYED) { /* the delay replaces connect faults, as in the shim */
			v->delay_ms = (uint32_t)((delay_ns + 999999u) / 1000000u);
			return;
		}
	}
	decide_faults(s, c, m, v);
}

/* The connect faults, in statement order: the first that fires wins. */
static void decide_faults(struct sv *s, struct sv_conn *c, const struct fl_match *m, struct sv_verdict *v)
{
	const struct fl_rule *rules = s->cfg->rules->rules;
	struct sv_lmatch lm;
	uint32_t nown = (m->ops & (1u << FL_OP_CONNECT)) ? m->nfaults : 0;
	uint32_t nlayer = layers_match(s, &c->dest, &lm) ? lm.nfaults : 0;
	uint64_t now_ms = nlayer ? fl_clock_unix_ms() : 0;
	for (uint32_t i = 0; i < nown + nlayer; i++) {
		const struct fl_fault_params *p;
		struct fl_fault_counters *cnt;
		char dest[FL_SEG_KEY_TEXT + 16];
		size_t slot;
		uint32_t statement;
		if (i < nown) {
			p = &rules[m->faults[i]].u.fault;
			cnt = &s->counters[m->faults[i]];
			slot = statement = m->faults[i];
		} else {
			uint32_t j = lm.faults[i - nown];
			const struct fl_seg_stmt *st = &s->lv->stmt[j];
			p = &st->u.fault;
			/* Its window (start_ms, duration_ms after its layer was applied). */
			uint64_t from = layer_applied(s->lv, j) + p->start_ms;
			if (now_ms < from || (p->duration_ms && now_ms >= from + p->duration_ms))
				continue;
			if (s->luid[j] != st->uid) { /* another statement there now: counters anew */
				s->luid[j] = st->uid;
				memset(&s->lcnt[j], 0, sizeof(s->lcnt[j]));
			}
			cnt = &s->lcnt[j];
			slot = s->cfg->rules->count + j;
			statement = 0x40000000u + j; /* a layer statement (docs/events.md) */
		}
		struct fl_fault_decision f;
		struct fl_fault_params q = *p;
		q.threshold = fl_probability_threshold(q.probability);
		if (!(p->ops & (1u << FL_OP_CONNECT)) || !fl_fault_decide(&q, cnt, &s->rng, &f))
			continue;
		if (i < nown) {
			struct fl_seg_key key;
			fl_seg_key_rule(&key, &rules[m->faults[i]].target);
			fl_seg_key_format(&key, dest, sizeof(dest));
		} else {
			fl_event_text(dest, sizeof(dest), s->lv->text[lm.faults[i - nown]]);
		}
		sum_count(s, slot, statement, dest, p);
		v->error = f.error;
		v->delay_ms = f.delay_ms;

		if (c->stats) {
			struct fl_seg_op_stats *st = &c->stats->ops[FL_OP_CONNECT];
			if (f.error)
				__atomic_fetch_add(&st->errors_injected, 1, __ATOMIC_RELAXED);
			if (f.delay_ms) {
				__atomic_fetch_add(&st->delays_injected, 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&st->delay_ms_total, f.delay_ms, __ATOMIC_RELAXED);
			}
		}
		return;
	}
}

/* --- connecting -------------------------------------------------------- */

/* An attempt that ended in err: told to the breaker, answered if owed. */
static void fail(struct sv *s, struct sv_conn *c, int err)
{
	settle(c, err);
	if (c->held && id_valid(s, c->notif))
		answer(s, c->notif, err);
	conn_end(s, c);
}

/* Connected: only a slot keeps the record (until the socket is gone). */
static void connected(struct sv *s, struct sv_conn *c)
{
	if (!c->has_slot) {
		conn_end(s, c);
		return;
	}
	c->state = SV_OPEN;
	drop_dup(s, c);
}

/*
 * The real connect, made on our duplicate. A blocking socket is switched
 * to non-blocking for the call (and back at once: the calling thread is
 * inside connect meanwhile, and nothing else uses a socket that is not
 * connected yet) and its caller is answered when the connect completes.
 */
static void start_connect(struct sv *s, struct sv_conn *c)
{
	if (c->held && !c->has_slot && !(c->breaker && c->permit.active)) {
		/* Nobody waits for the outcome (faults and stats only, or a
		 * disabled breaker): the kernel makes the call. */
		answer(s, c->notif, -1);
		c->held = false;
		conn_end(s, c);
		return;
	}
	if (c->held && c->relative) {
		/* We would resolve the path in our own directory, not the
		 * program's: the kernel makes the call, its outcome unknown to
		 * the breaker (the permit goes back); a slot stays with the socket. */
		if (c->breaker && c->permit.active)
			fl_breaker_cancel(&c->breaker->breaker, &c->permit);
		answer(s, c->notif, -1);
		c->held = false;
		connected(s, c);
		return;
	}
	int fl = fcntl(c->dup, F_GETFL);
	if (c->blocking && fl >= 0)
		fcntl(c->dup, F_SETFL, fl | O_NONBLOCK);
	int r = connect(c->dup, (struct sockaddr *)&c->sa, c->salen);
	int err = r == 0 ? 0 : errno;
	if (c->blocking && fl >= 0)
		fcntl(c->dup, F_SETFL, fl);
	if (err == EINPROGRESS || err == EAGAIN) {
		c->state = SV_CONNECTING;
		/* The record's index and the descriptor: an event still queued for
		 * a record that ended (and was reused) in the same batch is ignored. */
		struct epoll_event ev = {.events = EPOLLOUT | EPOLLONESHOT,
					 .data.u64 = (uint64_t)(c - s->conns) | (uint64_t)c->dup << 32};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->dup, &ev) != 0) {
			/* Cannot follow it: no outcome, and a blocking caller waits
			 * for the rest of the connect in the kernel. */
			if (c->breaker && c->permit.active)
				fl_breaker_cancel(&c->breaker->breaker, &c->permit);
			answer(s, c->notif, c->held && c->blocking ? -1 : EINPROGRESS);
			c->held = false;
			connected(s, c);
			return;
		}
		c->deadline = 0;
		if (c->held && !c->blocking) {
			answer(s, c->notif, EINPROGRESS);
			c->held = false;
		} else if (c->held) {
			/* A blocking connect ends with EINPROGRESS after SO_SNDTIMEO,
			 * as the kernel's would (timers()). */
			struct timeval tv;
			socklen_t tl = sizeof(tv);
			if (getsockopt(c->dup, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) == 0 &&
			    (tv.tv_sec || tv.tv_usec))
				c->deadline = now_ns() + (uint64_t)tv.tv_sec * 1000000000ull +
					      (uint64_t)tv.tv_usec * 1000ull;
		}
		return;
	}
	if (err) {
		fail(s, c, err);
		return;
	}
	settle(c, 0);
	if (c->held)
		answer(s, c->notif, 0);
	c->held = false;
	connected(s, c);
}

/* Our duplicate became writable: the connect is over. */
static void connect_done(struct sv *s, struct sv_conn *c)
{
	int err = 0;
	if (c->held && id_valid(s, c->notif)) {
		/* The program waits in a blocking connect: it gets the error, as
		 * the kernel would have given it (and cleared it). */
		socklen_t len = sizeof(err);
		if (getsockopt(c->dup, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		answer(s, c->notif, err);
	} else {
		/* Non-blocking: leave SO_ERROR to the program, ask the peer. A
		 * program that was quicker than us (connected, talked and closed
		 * before we looked) still finds the socket connected here: our
		 * duplicate keeps it. */
		if (!dup_connected(c))
			err = ECONNREFUSED;
	}
	c->held = false;
	if (err) {
		fail(s, c, err);
		return;
	}
	settle(c, 0);
	connected(s, c);
}

/* A delay is over. */
static void delay_done(struct sv *s, struct sv_conn *c)
{
	if (c->held && !id_valid(s, c->notif)) {
		/* Interrupted and not restarted (a handler without SA_RESTART):
		 * no connect was made. */
		settle(c, EINTR);
		conn_end(s, c);
		return;
	}
	if (c->error_after) {
		fail(s, c, c->error_after);
		return;
	}
	start_connect(s, c);
}

/* A pidfd for a calling thread: of the thread itself (PIDFD_THREAD, Linux
 * 6.9), else of its process (the thread group's leader, from /proc). */
static int open_pidfd(pid_t tid, bool *thread)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, 0x80 /* PIDFD_THREAD */);
	*thread = pidfd >= 0;
	if (pidfd >= 0)
		return pidfd;
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	FILE *f = fopen(path, "re");
	pid_t tgid = tid;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	if (f)
		fclose(f);
	return (int)syscall(SYS_pidfd_open, tgid, 0);
}

/*
 * Threads that connect again and again (a Go program's few Ms) keep their
 * pidfd here: two system calls fewer per connect. A thread's pidfd names
 * that task, never a later one with the same number: a stale entry fails
 * (ESRCH) and is opened again. A process's pidfd (older kernels) would
 * still work for another thread that got the number later, in another
 * process: those are used once and closed.
 */
#define PIDFD_CACHE 32
static struct {
	pid_t tid;
	int fd;
} pidfds[PIDFD_CACHE];

static int cached_getfd(pid_t tid, int fd)
{
	unsigned slot = (unsigned)tid % PIDFD_CACHE;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (pidfds[slot].tid != tid || pidfds[slot].fd <= 0) {
			if (pidfds[slot].fd > 0)
				close(pidfds[slot].fd);
			bool thread;
			int pidfd = open_pidfd(tid, &thread);
			pidfds[slot].fd = 0;
			if (pidfd < 0)
				return -1;
			if (!thread) {
				int dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
				close(pidfd);
				return dup;
			}
			pidfds[slot].tid = tid;
			pidfds[slot].fd = pidfd;
		}
		int dup = (int)syscall(SYS_pidfd_getfd, pidfds[slot].fd, fd, 0);
		if (dup >= 0 || errno != ESRCH)
			return dup;
		close(pidfds[slot].fd); /* that task is gone: the number is someone else's */
		pidfds[slot].fd = 0;
	}
	return -1;
}

/* The socket of a notification: our duplicate of it (close-on-exec, as
 * pidfd_getfd makes it), or -1; and its inode. */
static int grab_socket(pid_t tid, int fd, uint64_t *ino)
{
	int dup = cached_getfd(tid, fd);
	struct stat st;
	if (dup >= 0 && (fstat(dup, &st) != 0 || !S_ISSOCK(st.st_mode))) {
		close(dup);
		return -1;
	}
	if (dup >= 0)
		*ino = st.st_ino;
	return dup;
}

/* Carries out a verdict on a held connect. */
static void act(struct sv *s, struct sv_conn *c, const struct sv_verdict *v)
{
	if (v->queued) {
		c->state = SV_QUEUED;
		c->deadline = now_ns() + (uint64_t)__atomic_load_n(&c->bulkhead->bulkhead.p.queue_timeout_ms,
								   __ATOMIC_RELAXED) *
					     1000000ull;
		return;
	}
	if (v->reject) {
		answer(s, c->notif, v->reject);
		c->held = false;
		conn_end(s, c);
		return;
	}
	if (v->delay_ms) {
		c->state = SV_DELAYED;
		c->deadline = now_ns() + (uint64_t)v->delay_ms * 1000000ull;
		c->error_after = v->error;
		/* Go: answer EINPROGRESS now and connect at the deadline, as the
		 * shim defers it, so the program's own dial timeout can fire.
		 * TCP only: its outcome arrives later through SO_ERROR anyway. */
		if (!c->blocking && !v->error && s->cfg->defer_delays &&
		    (c->family == FL_AF_INET4 || c->family == FL_AF_INET6)) {
			answer(s, c->notif, EINPROGRESS);
			c->held = false;
		}
		return;
	}
	if (v->error) {
		fail(s, c, v->error);
		return;
	}
	start_connect(s, c);
}

/* A blocking connect in the bulkhead's queue: its turn, or its timeout. */
static void queue_check(struct sv *s, struct sv_conn *c)
{
	if (!id_valid(s, c->notif)) {
		/* Ended by a signal (no restart) or by the thread's death. */
		c->held = false;
		conn_end(s, c);
		return;
	}
	enum fl_bulkhead_result got =
	    fl_bulkhead_turn(&s->seg, c->bulkhead, s->proc, fl_clock_mono_ms(), &c->place, &c->holder);
	struct sv_verdict v;
	memset(&v, 0, sizeof(v));
	if (got == FL_BULKHEAD_ACQUIRED || got == FL_BULKHEAD_BYPASSED) {
		c->has_slot = got == FL_BULKHEAD_ACQUIRED;
		c->state = SV_CONNECTING;
		decide_faults(s, c, &c->match, &v);
		act(s, c, &v);
		return;
	}
	if (now_ns() < c->deadline)
		return;
	fl_bulkhead_leave(&s->seg, c->bulkhead, &c->place, true);
	c->state = SV_CONNECTING;
	v.reject = (int)__atomic_load_n(&c->bulkhead->bulkhead.p.reject_errno, __ATOMIC_RELAXED);
	act(s, c, &v);
}

static void on_connect(struct sv *s, const struct seccomp_notif *req)
{
	uint64_t id = req->id;
	int fd = (int)req->data.args[0];
	struct sockaddr_storage ss;
	socklen_t len = (socklen_t)req->data.args[2];
	if (len > sizeof(ss) || len == 0) {
		answer(s, id, -1);
		return;
	}
	struct iovec local = {.iov_base = &ss, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)req->data.args[1], .iov_len = len};
	struct fl_dest d;
	struct fl_match m;
	struct sv_lmatch lm;
	if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) != (ssize_t)len || !id_valid(s, id) ||
	    !fl_dest_from_sockaddr((struct sockaddr *)&ss, len, &d)) {
		answer(s, id, -1);
		return;
	}
	bool own = fl_match_indexed(&s->index, s->cfg->rules, &d, &m);
	bool layered = layers_match(s, &d, &lm);
	if (!own && !layered) {
		answer(s, id, -1);
		return;
	}
	if (!own) {
		memset(&m, 0, sizeof(m));
		m.breaker = m.bulkhead = m.rate_limit = -1;
	}
	uint64_t ino = 0;
	int dup = grab_socket((pid_t)req->pid, fd, &ino);
	if (dup < 0) {
		answer(s, id, -1);
		return;
	}
	struct sv_conn *c = conn_find(s, ino);
	if (c) {
		close(dup);
		if (c->held) /* the same call, restarted after a signal */
			c->notif = id;
		else if (c->state == SV_DELAYED) /* deferred: still "connecting" */
			answer(s, id, EALREADY);
		else
			answer(s, id, -1); /* the kernel answers EALREADY / EISCONN */
		return;
	}
	c = conn_new(s);
	if (!c) {
		close(dup);
		answer(s, id, -1);
		return;
	}
	c->ino = ino;
	c->dup = dup;
	c->holder = FL_HOLDER_NONE;
	memcpy(&c->sa, &ss, len);
	c->salen = len;
	int fl = fcntl(dup, F_GETFL);
	c->blocking = fl >= 0 && !(fl & O_NONBLOCK);
	c->dest = d;
	c->dest.name = NULL;
	if (s->attached)
		plan(s, c, &d, &m, &lm);
	if (c->stats)
		__atomic_fetch_add(&c->stats->ops[FL_OP_CONNECT].calls, 1, __ATOMIC_RELAXED);
	c->match = m;
	c->family = d.family;
	c->relative = d.family == FL_AF_UNIX && d.path_len > 0 && d.path[0] != '/' && d.path[0] != '\0';
	c->state = SV_CONNECTING; /* not free from here on */
	c->held = true;
	c->notif = id;
	struct sv_verdict v;
	decide(s, c, &m, &v);
	act(s, c, &v);
}

/* --- the loop ---------------------------------------------------------- */

static int next_timeout(struct sv *s)
{
	if (!tracking(s))
		return -1;
	uint64_t t = now_ns(), next = s->next_sweep;
	for (size_t i = 0; i < s->nconns; i++) {
		const struct sv_conn *c = &s->conns[i];
		uint64_t at = c->state == SV_QUEUED ? t + QUEUE_POLL_MS * 1000000ull : c->deadline;
		bool timed = c->state == SV_DELAYED || c->state == SV_QUEUED ||
			     (c->state == SV_CONNECTING && c->held && c->deadline);
		if (timed && at < next)
			next = at;
	}
	return next <= t ? 0 : (int)((next - t + 999999) / 1000000);
}

static void timers(struct sv *s)
{
	uint64_t t = now_ns();
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].state == SV_DELAYED && s->conns[i].deadline <= t)
			delay_done(s, &s->conns[i]);
		else if (s->conns[i].state == SV_QUEUED)
			queue_check(s, &s->conns[i]);
		else if (s->conns[i].state == SV_CONNECTING && s->conns[i].held && s->conns[i].deadline &&
			 s->conns[i].deadline <= t) {
			/* SO_SNDTIMEO passed: the caller gets EINPROGRESS, the connect
			 * goes on, and its outcome still reaches the breaker. */
			if (id_valid(s, s->conns[i].notif))
				answer(s, s->conns[i].notif, EINPROGRESS);
			s->conns[i].held = false;
			s->conns[i].deadline = 0;
		}
	if (t >= s->next_sweep)
		sweep(s);
}

static void on_notification(struct sv *s)
{
	memset(s->req, 0, s->req_size);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, s->req) != 0)
		return; /* ENOENT: the caller went away before we looked */
	if (s->req->data.nr == __NR_connect)
		on_connect(s, s->req);
	else
		answer(s, s->req->id, -1);
}

/* The program is gone: what it still held goes back. */
static void finish(struct sv *s)
{
	for (size_t i = 0; i < s->nconns; i++) {
		struct sv_conn *c = &s->conns[i];
		if (c->state == SV_CONNECTING && c->dup >= 0) {
			settle(c, dup_connected(c) ? 0 : ETIMEDOUT);
		} else if (c->state == SV_DELAYED) {
			settle(c, ETIMEDOUT);
		}
		if (c->state != SV_FREE)
			conn_end(s, c);
	}
}

static int setup(struct sv *s, const struct fl_sv_config *cfg, int listener)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->listener = listener;
	s->proc = FL_PROC_NONE;
	struct fl_diag d;
	memset(&d, 0, sizeof(d));
	fl_match_index_build(&s->index, cfg->rules, &d); /* on failure: linear, still right */
	s->counters = calloc(cfg->rules->count + 1, sizeof(*s->counters));
	fl_rng_seed(&s->rng, cfg->seed, 0);
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
		sizes.seccomp_notif = sizeof(struct seccomp_notif);
	s->req_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif
									 : sizeof(struct seccomp_notif);
	s->req = calloc(1, s->req_size);
	if (!s->counters || !s->req)
		return -1;
	s->nsums = cfg->rules->count + FL_SEG_LAYER_STMTS;
	s->sums = calloc(s->nsums, sizeof(*s->sums));
	s->lv = malloc(sizeof(*s->lv));
	/* With no rules too: the domain's layers apply (SPEC 7), as
	 * `faultline run -- CMD` joins the domain for the shim. */
	if (s->sums && s->lv &&
	    fl_seg_open(&s->seg, cfg->domain, cfg->capacity, true, fl_clock_unix_ms(), &d) == 0) {
		s->attached = true;
		fl_events_bind(&s->seg); /* the breakers' moves go to its log */
		pid_t self = getpid();
		s->proc = fl_proc_register(&s->seg, self, fl_proc_start_ticks(self), cfg->command,
					   fl_clock_unix_ms());
		fl_event_process(&s->seg, (uint32_t)self, FL_PROCESS_ATTACHED, cfg->command,
				 fl_clock_unix_ms());
	} else if (cfg->rules->count) {
		fprintf(stderr, "faultline: warning: %s: breakers, bulkheads and stats are off\n", d.error);
	}
	return 0;
}

int fl_sv_serve(const struct fl_sv_config *cfg, int listener, pid_t pid, int pidfd)
{
	struct sv s;
	int status = 0;
	bool done = false;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	s.epfd = -1;
	if (setup(&s, cfg, listener) != 0 || (s.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "faultline: supervisor: out of memory\n");
		close(listener); /* the program's connects now fail with ENOSYS */
	} else {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTENER};
		epoll_ctl(s.epfd, EPOLL_CTL_ADD, listener, &ev);
		ev.data.u64 = TAG_PIDFD;
		epoll_ctl(s.epfd, EPOLL_CTL_ADD, pidfd, &ev);
		ev.data.u64 = TAG_SIGCHLD;
		if (sfd >= 0)
			epoll_ctl(s.epfd, EPOLL_CTL_ADD, sfd, &ev);
	}
	s.next_sweep = now_ns();
	while (!done) {
		struct epoll_event evs[32];
		int n = s.epfd >= 0 ? epoll_wait(s.epfd, evs, 32, next_timeout(&s)) : 0;
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == TAG_LISTENER) {
				if (evs[i].events & EPOLLHUP) /* no filter user left */
					epoll_ctl(s.epfd, EPOLL_CTL_DEL, listener, NULL);
				else
					on_notification(&s);
			} else if (tag == TAG_SIGCHLD) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) > 0)
					;
			} else if (tag != TAG_PIDFD) {
				uint32_t at = (uint32_t)tag;
				int fd = (int)(tag >> 32);
				if (at < s.nconns && s.conns[at].state == SV_CONNECTING &&
				    s.conns[at].dup == fd)
					connect_done(&s, &s.conns[at]);
			}
		}
		timers(&s);
		/* Reap the program and any orphan of it that came to us. */
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, s.epfd >= 0 ? WNOHANG : 0)) > 0 || (p < 0 && errno == EINTR))
			if (p == pid) {
				status = st;
				done = true;
			}
		if (p < 0 && errno == ECHILD)
			done = true;
	}
	if (s.epfd >= 0) {
		finish(&s);
		close(s.epfd);
	}
	if (s.attached) {
		for (size_t i = 0; i < s.nsums; i++)
			sum_emit(&s, &s.sums[i]);
		fl_event_process(&s.seg, (uint32_t)getpid(), FL_PROCESS_EXITED, cfg->command,
				 fl_clock_unix_ms());
		if (s.proc != FL_PROC_NONE)
			fl_bulkhead_reclaim_proc(&s.seg, s.proc);
		fl_events_bind(NULL);
		fl_seg_close(&s.seg);
	}
	free(s.sums);
	free(s.lv);
	fl_match_index_free(&s.index);
	free(s.conns);
	free(s.counters);
	free(s.req);
	close(listener);
	close(pidfd);
	if (sfd >= 0)
		close(sfd);
	return status;
}
