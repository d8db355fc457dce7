/*
 * layers.c - matching connections against the domain's layers, and timed
 * statements (see layers.h).
 *
 * Reading: the layer table is copied record by record under the seqlock
 * (lib/layers.h), each copy checked field by field, and the counter read
 * again; a view that changed meanwhile is retried a few times, a table
 * being written (odd counter: a CLI at work, or one that died) keeps the
 * connection's previous view - nothing here waits or spins.
 *
 * The per-process copy of a slot (fl_layer_locals) is written by whichever
 * thread first matches a connection against that statement. A slot is
 * reused only after its layer is gone, and the CLI reuses freed slots
 * last, so a call still evaluating the old statement of a slot while it is
 * refilled is unlikely; if it happens, that one call sees a mix of two
 * valid parameter sets, never an index or pointer out of bounds.
 */
#include "layers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conn.h"
#include "connfault.h"
#include "domain.h"
#include "events.h"
#include "evsum.h"
#include "log.h"
#include "procreg.h"
#include "resolve.h"
#include "../lib/hostname.h"
#include "../lib/layers.h"

static uint32_t gen_none;
uint32_t *fl_layer_gen = &gen_none;
bool fl_layers_joined;
uint64_t fl_layers_start_ms;
struct fl_layer_local fl_layer_locals[FL_SEG_LAYER_STMTS];

/* A layer was applied, removed or expired: an event in the domain's log. */
static void layer_event(struct fl_seg *seg, const char *name, const char *what)
{
	fl_event_layer(seg, (uint32_t)syscall(SYS_getpid), name, what, fl_now_ms());
}

void fl_match_drop_dead(struct fl_match *m)
{
	const struct fl_rule *rules = fl_state.rules.rules;
	uint32_t kept = 0, ops = 0;
	for (uint32_t i = 0; i < m->nfaults; i++) {
		const struct fl_fault_params *p = &rules[m->faults[i]].u.fault;
		if (p->threshold == 0)
			continue;
		m->faults[kept++] = m->faults[i];
		ops |= p->ops;
	}
	m->nfaults = kept;
	m->ops = ops;
}

/* The first to see a layer past its --for marks it expired. */
static void mark_expired(const struct fl_layer_local *l)
{
	struct fl_seg_layers *L = fl_domain.seg.layers;
	if (!L || l->layer >= FL_SEG_LAYERS)
		return;
	uint64_t want = l->layer_word;
	uint64_t to = (want & ~(uint64_t)0xff) | FL_LAYER_EXPIRED;
	if (fl_layer_word_state(want) != FL_LAYER_ACTIVE ||
	    !__atomic_compare_exchange_n(&L->layers[l->layer].word, &want, to, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	char name[FL_SEG_LAYER_NAME];
	fl_layers_load(name, L->layers[l->layer].name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	layer_event(&fl_domain.seg, name, "expired");
}

bool fl_fault_inactive(uint32_t idx, const struct fl_fault_params *p)
{
	uint64_t now = fl_now_ms();
	if (idx < FL_LAYER_IDX) {
		uint64_t from = fl_layers_start_ms + p->start_ms;
		return now < from || (p->duration_ms && now >= from + p->duration_ms);
	}
	const struct fl_layer_local *l = &fl_layer_locals[idx & (FL_SEG_LAYER_STMTS - 1)];
	uint64_t from = __atomic_load_n(&l->from_ms, __ATOMIC_RELAXED);
	uint64_t until = __atomic_load_n(&l->until_ms, __ATOMIC_RELAXED);
	if (now >= until) {
		uint64_t exp = __atomic_load_n(&l->expires_ms, __ATOMIC_RELAXED);
		if (exp && now >= exp)
			mark_expired(l);
		return true;
	}
	return now < from;
}

/* A statement of a layer that matched, kept until the view proves stable. */
struct found {
	uint32_t slot;
	uint32_t layer;
	uint64_t layer_word;
	uint64_t applied_ms, expires_ms;
	uint64_t uid;
	uint32_t index; /* in its layer */
	struct fl_fault_params p;
	uint8_t kind;		      /* FL_KIND_FAULT or FL_KIND_SHAPE */
	char text[FL_SEG_EVENT_DEST]; /* the statement's text, cut: its events' destination */
};

/* The first breaker (or bulkhead) statement of the layers that matches. */
struct found_part {
	bool have;
	uint32_t rank; /* its layer's place in apply order */
	struct found f;
	uint8_t kind;
	struct fl_target target;
	union fl_seg_stmt_params u;
	char text[FL_SEG_RULE_TEXT];
};

/* The slot's process-local copy, (re)filled when it holds another statement. */
static void fill_local(const struct found *f, const struct found_part *part)
{
	struct fl_layer_local *l = &fl_layer_locals[f->slot];
	if (__atomic_load_n(&l->uid, __ATOMIC_ACQUIRE) == f->uid)
		return;
	if (part) {
		l->kind = part->kind;
		l->target = part->target;
		l->u = part->u;
		memcpy(l->text, part->text, sizeof(l->text));
	} else {
		l->kind = f->kind;
		memcpy(l->text, f->text, sizeof(f->text));
	}
	l->p = f->p;
	__atomic_store_n(&l->c.seen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->c.fired, 0, __ATOMIC_RELAXED);
	uint64_t from = f->applied_ms + f->p.start_ms;
	uint64_t until = f->p.duration_ms ? from + f->p.duration_ms : UINT64_MAX;
	if (f->expires_ms && f->expires_ms < until)
		until = f->expires_ms;
	__atomic_store_n(&l->from_ms, from, __ATOMIC_RELAXED);
	__atomic_store_n(&l->until_ms, until, __ATOMIC_RELAXED);
	__atomic_store_n(&l->expires_ms, f->expires_ms, __ATOMIC_RELAXED);
	l->layer_word = f->layer_word;
	l->layer = f->layer;
	l->p.timed = f->p.timed || f->expires_ms != 0;
	__atomic_store_n(&l->uid, f->uid, __ATOMIC_RELEASE);
}

struct layer_ref {
	uint64_t order, word, applied_ms, expires_ms;
	uint32_t index;
};

/* A layer statement on a name (SPEC 9) matches the name d's address was
 * resolved from in this process (d->name, set from the resolver map), and
 * its ports; other targets match the address as always. */
struct name_probe {
	const char *name; /* d->name, else looked up once, at the first name statement */
	uint16_t len;
	bool looked;
	bool *named;
};

static bool stmt_matches(const struct fl_target *t, const struct fl_dest *d, struct name_probe *p)
{
	if (t->family != FL_AF_NAME)
		return fl_target_match(t, d);
	if (!p->looked) {
		p->looked = true;
		p->name = d->name;
		p->len = d->name_len;
		if (p->name == NULL)
			fl_resolve_name_of_addr(d->family, d->addr, &p->name, &p->len);
	}
	if (p->name == NULL || d->port < t->port_lo || d->port > t->port_hi ||
	    !fl_name_match(t, p->name, p->len))
		return false;
	*p->named = true;
	return true;
}

/* One try at a stable view: true with *found filled, false to retry. */
static bool read_view(const struct fl_seg_layers *L, const struct fl_dest *d, uint32_t g, struct found *found,
		      uint32_t *nfound, uint32_t room, bool *truncated, struct found_part *parts, bool *named,
		      bool *none_active)
{
	struct name_probe probe = {NULL, 0, false, named};
	parts[0].have = parts[1].have = false;
	struct layer_ref act[FL_SEG_LAYERS];
	uint32_t nact = 0;
	uint64_t now = 0;
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		struct fl_seg_layer l;
		fl_layers_load(&l, &L->layers[li], sizeof(l));
		if (fl_layer_word_state(l.word) != FL_LAYER_ACTIVE || !fl_seg_layer_check(&l))
			continue;
		if (l.expires_ms) {
			if (!now)
				now = fl_now_ms();
			if (now >= l.expires_ms)
				continue;
		}
		struct layer_ref r = {l.word >> 8, l.word, l.applied_ms, l.expires_ms, li};
		uint32_t k = nact++;
		while (k > 0 && act[k - 1].order > r.order) { /* insertion sort by apply order */
			act[k] = act[k - 1];
			k--;
		}
		act[k] = r;
	}
	*nfound = 0;
	*truncated = false;
	*none_active = nact == 0;
	for (uint32_t k = 0; k < nact; k++) {
		uint32_t first = *nfound;
		for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++) {
			/* Cheap first: whose is it? The whole record only for this layer's. */
			if (__atomic_load_n(&L->stmts[s].layer_plus1, __ATOMIC_RELAXED) != act[k].index + 1)
				continue;
			struct fl_seg_stmt st;
			fl_layers_load(&st, &L->stmts[s], sizeof(st));
			if (st.layer_plus1 != act[k].index + 1 || !fl_seg_stmt_check(&st) ||
			    !stmt_matches(&st.target, d, &probe))
				continue;
			if (st.kind != FL_KIND_FAULT && st.kind != FL_KIND_SHAPE) {
				/* The first breaker / bulkhead in (layer order, index) order. */
				struct found_part *pt = &parts[st.kind == FL_KIND_BULKHEAD];
				if (pt->have && (pt->rank < k || (pt->rank == k && pt->f.index < st.index)))
					continue;
				pt->have = true;
				pt->rank = k;
				memset(&pt->f, 0, sizeof(pt->f));
				pt->f.slot = s;
				pt->f.layer = act[k].index;
				pt->f.layer_word = act[k].word;
				pt->f.applied_ms = act[k].applied_ms;
				pt->f.expires_ms = act[k].expires_ms;
				pt->f.uid = st.uid;
				pt->f.index = st.index;
				pt->kind = st.kind;
				pt->target = st.target;
				pt->u = st.u;
				size_t tl = strnlen(st.text, sizeof(pt->text) - 1);
				memcpy(pt->text, st.text, tl);
				pt->text[tl] = '\0';
				continue;
			}
			if (fl_probability_threshold(st.u.fault.probability) == 0)
				continue;
			if (*nfound >= room) {
				*truncated = true;
				continue;
			}
			struct found f = {
			    s,	    act[k].index, act[k].word, act[k].applied_ms, act[k].expires_ms,
			    st.uid, st.index,	  st.u.fault,  st.kind,		  {0}};
			fl_event_text(f.text, sizeof(f.text), st.text);
			f.p.threshold = fl_probability_threshold(f.p.probability);
			f.p.timed = f.p.start_ms != 0 || f.p.duration_ms != 0;
			/* In statement order within the layer: insert by index. */
			uint32_t j = (*nfound)++;
			while (j > first && found[j - 1].index > f.index) {
				found[j] = found[j - 1];
				j--;
			}
			found[j] = f;
		}
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&L->gen, __ATOMIC_RELAXED) == g;
}

uint32_t fl_layers_match(const struct fl_dest *d, struct fl_match *m)
{
	bool named;
	return fl_layers_match_named(d, m, &named);
}

/* The last generation a stable read found no active layer in. */
static uint32_t no_layers_gen = FL_LAYER_GEN_UNSEEN;

uint32_t fl_layers_match_named(const struct fl_dest *d, struct fl_match *m, bool *named)
{
	const struct fl_seg_layers *L = fl_domain.seg.layers;
	*named = false;
	if (!fl_layers_joined || !L)
		return 0;
	struct found found[FL_MATCH_MAX_FAULTS];
	struct found_part parts[2];
	for (int attempt = 0; attempt < 4; attempt++) {
		uint32_t g = __atomic_load_n(&L->gen, __ATOMIC_ACQUIRE);
		if (g & 1u)
			return FL_LAYER_GEN_UNSEEN;
		/* A generation already read with no active layer: nothing to add
		 * (every apply, remove or expiry publishes a new one). Spares each
		 * connect of a joined process the copy of every layer record. */
		if (g == __atomic_load_n(&no_layers_gen, __ATOMIC_RELAXED))
			return g;
		uint32_t n;
		bool truncated, none_active;
		uint32_t room = FL_MATCH_MAX_FAULTS - m->nfaults;
		*named = false;
		if (!read_view(L, d, g, found, &n, room, &truncated, parts, named, &none_active))
			continue;
		if (none_active)
			__atomic_store_n(&no_layers_gen, g, __ATOMIC_RELAXED);
		/* Breakers and bulkheads of layers: for connections made now,
		 * when the process's own rules give none. */
		if (parts[0].have && m->breaker < 0) {
			fill_local(&parts[0].f, &parts[0]);
			m->breaker = (int32_t)(FL_LAYER_IDX + parts[0].f.slot);
		}
		if (parts[1].have && m->bulkhead < 0) {
			fill_local(&parts[1].f, &parts[1]);
			m->bulkhead = (int32_t)(FL_LAYER_IDX + parts[1].f.slot);
		}
		for (uint32_t i = 0; i < n; i++) {
			fill_local(&found[i], NULL);
			m->faults[m->nfaults++] = FL_LAYER_IDX + found[i].slot;
			m->ops |= found[i].p.ops;
		}
		m->truncated |= truncated;
		return g;
	}
	return FL_LAYER_GEN_UNSEEN;
}

static bool idle_now(const struct fl_conn *c)
{
	return c->match.nfaults == 0 && !__atomic_load_n(&c->stats, __ATOMIC_RELAXED) && !c->breaker &&
	       !c->bulkhead && !__atomic_load_n(&c->pending, __ATOMIC_RELAXED);
}

/* Matches c again; false when no stable view was had (c keeps its view). */
static bool rematch(struct fl_conn *c)
{
	uint8_t free_ = 0;
	if (!__atomic_compare_exchange_n(&c->rematching, &free_, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false; /* another thread is at it: this call uses the previous view */
	struct fl_match m;
	struct fl_dest d = c->dest;
	if (!fl_state.active ||
	    !(fl_match_indexed(&fl_state.match_index, &fl_state.rules, &d, &m) | fl_resolve_match(&d, &m))) {
		memset(&m, 0, sizeof(m));
		m.breaker = m.bulkhead = m.rate_limit = -1;
	}
	fl_match_drop_dead(&m);
	uint32_t g = fl_layers_match(&c->dest, &m);
	bool ok = g != FL_LAYER_GEN_UNSEEN;
	if (ok) {
		for (uint32_t i = 0; i < m.nfaults; i++)
			__atomic_store_n(&c->match.faults[i], m.faults[i], __ATOMIC_RELAXED);
		__atomic_store_n(&c->match.nfaults, m.nfaults, __ATOMIC_RELAXED);
		__atomic_store_n(&c->match.ops, m.ops, __ATOMIC_RELAXED);
		fl_cx_setup(c); /* connection faults of the new statements (connfault.c) */
		if (m.nfaults && !__atomic_load_n(&c->stats, __ATOMIC_ACQUIRE))
			__atomic_store_n(&c->stats, fl_domain_dest_entry(&c->dest), __ATOMIC_RELEASE);
		__atomic_store_n(&c->layer_gen, g, __ATOMIC_RELEASE);
		__atomic_store_n(&c->pass_gen, idle_now(c) ? g : FL_LAYER_GEN_UNSEEN, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&c->rematching, 0, __ATOMIC_RELEASE);
	return ok;
}

void fl_layers_refresh(struct fl_conn *c)
{
	if (!fl_layers_joined) {
		__atomic_store_n(&c->layer_gen, 0, __ATOMIC_RELAXED);
		return;
	}
	if (__atomic_load_n(fl_layer_gen, __ATOMIC_ACQUIRE) & 1u)
		return; /* being written: keep the view we have */
	rematch(c);
}

void fl_layers_connected(struct fl_conn *c, uint32_t gen)
{
	if (fl_layers_joined && !(gen & 1u) && idle_now(c))
		__atomic_store_n(&c->pass_gen, gen, __ATOMIC_RELEASE);
}

void fl_layers_join(void)
{
	if (!fl_domain.attached || !fl_domain.seg.layers)
		return;
	__atomic_store_n(&fl_layer_gen, &fl_domain.seg.layers->gen, __ATOMIC_RELEASE);
	__atomic_store_n(&fl_layers_joined, true, __ATOMIC_RELEASE);
}

void fl_layers_join_existing(void)
{
	const char *domain = getenv("FAULTLINE_DOMAIN");
	if (!domain || !*domain)
		domain = "default";
	if (!fl_domain_name_valid(domain))
		return;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return;
	if (fl_seg_open(&fl_domain.seg, domain, 0, false, fl_now_ms(), d) == 0) {
		pid_t pid = getpid();
		fl_domain.proc = fl_domain_register(pid, fl_proc_start_ticks(pid));
		fl_domain.attached = true;
		fl_events_bind(&fl_domain.seg); /* breaker moves of layer breakers are logged */
		fl_evsum_init(0);		/* layer statements are summarised */
		fl_layers_join();
	} else if (fl_log_on(FL_LOG_INFO) && strstr(d->error, "does not exist") == NULL &&
		   strstr(d->error, "No such file") == NULL) {
		fl_log_msg(FL_LOG_INFO, d->error);
	}
	free(d);
}
