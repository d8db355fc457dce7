/*
 * layers.c - the layer table: compiling, writing under the seqlock,
 * repairing, checking and reading it (see layers.h).
 *
 * Statement slots are taken starting from a cursor that moves on with
 * every statement written, so a slot just freed is the last to be reused:
 * a process still finishing a call under the old statement of a slot
 * (shim/layers.c keeps per-slot counters) is then long done.
 */
#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errnames.h"

_Static_assert(sizeof(struct fl_seg_stmt) % 8 == 0, "statements copy in words");
_Static_assert(sizeof(struct fl_seg_layer) % 8 == 0, "layers copy in words");

void fl_layers_load(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < n / 8; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void fl_layers_store(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < n / 8; i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

int fl_duration_parse(const char *text, uint64_t *ms)
{
	uint64_t v = 0;
	const char *p = text;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > INT32_MAX)
			return -1;
	}
	uint64_t unit;
	if (*p == '\0' || strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else
		return -1;
	if (v * unit > INT32_MAX)
		return -1;
	*ms = v * unit;
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

bool fl_layer_name_valid(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++)
		if (n >= FL_SEG_LAYER_NAME - 1 || !name_char(name[n]))
			return false;
	return n >= 1;
}

static bool text_terminated(const char *text, size_t size)
{
	return memchr(text, '\0', size) != NULL;
}

static bool target_check(const struct fl_target *t)
{
	switch (t->family) {
	case FL_AF_ANY:
		return t->prefix == 0 && t->path_len == 0;
	case FL_AF_INET4:
		return t->prefix <= 32 && t->port_lo <= t->port_hi && t->path_len == 0;
	case FL_AF_INET6:
		return t->prefix <= 128 && t->port_lo <= t->port_hi && t->path_len == 0;
	case FL_AF_UNIX:
		return t->path_len >= 1 && t->path_len <= FL_UNIX_PATH_MAX;
	case FL_AF_NAME: /* SPEC 9 in a layer: a name of name_len bytes, then its NUL */
		return t->name_len >= 1 && t->name_len <= FL_NAME_MAX && t->name_wild <= 1 &&
		       t->port_lo <= t->port_hi && t->path_len == 0 && t->name[t->name_len] == '\0' &&
		       memchr(t->name, '\0', t->name_len) == NULL;
	default:
		return false;
	}
}

/* A bool field as the bytes hold it: only 0 and 1 are bools. */
static bool bool_at(const void *rec, size_t off)
{
	uint8_t v;
	memcpy(&v, (const char *)rec + off, 1);
	return v <= 1;
}

static bool errno_ok(int e, bool zero_ok)
{
	return (zero_ok && e == 0) || (e > 0 && e < 4096 && fl_errno_name(e) != NULL);
}

#define U31 2147483647u

/* The connection-fault keys of a fault statement (SPEC 10). */
static bool connfault_ok(const struct fl_seg_stmt *s, const struct fl_fault_params *p)
{
	size_t u = offsetof(struct fl_seg_stmt, u);
	double corrupt;
	memcpy(&corrupt, &p->corrupt, sizeof(corrupt));
	return bool_at(s, u + offsetof(struct fl_fault_params, eof)) &&
	       bool_at(s, u + offsetof(struct fl_fault_params, hang_set)) &&
	       bool_at(s, u + offsetof(struct fl_fault_params, connfault)) && p->max_bytes <= U31 &&
	       (p->hang_ms <= U31 || p->hang_ms == FL_HANG_UNSET) && corrupt >= 0.0 && corrupt <= 1.0 &&
	       p->shape_scope <= 2 && p->rate_kbps <= U31 && p->burst_kb <= U31;
}

bool fl_seg_stmt_check(const struct fl_seg_stmt *s)
{
	if (s->layer_plus1 < 1 || s->layer_plus1 > FL_SEG_LAYERS || s->index >= FL_SEG_LAYER_STMTS ||
	    !target_check(&s->target) || !text_terminated(s->text, sizeof(s->text)))
		return false;
	size_t u = offsetof(struct fl_seg_stmt, u);
	switch (s->kind) {
	case FL_KIND_BREAKER: {
		const struct fl_breaker_params *p = &s->u.breaker;
		double rate;
		memcpy(&rate, &p->failure_rate_threshold, sizeof(rate));
		return bool_at(s, u + offsetof(struct fl_breaker_params, enabled)) &&
		       p->failure_threshold >= 1 && p->failure_threshold <= U31 &&
		       p->success_threshold >= 1 && p->success_threshold <= U31 && p->timeout_ms >= 1 &&
		       p->timeout_ms <= U31 && p->half_open_max_requests >= 1 &&
		       p->half_open_max_requests <= U31 && rate >= 0.0 && rate <= 100.0 &&
		       p->min_requests_for_rate <= U31 && p->rolling_window_ms >= 100 &&
		       p->rolling_window_ms <= U31 && errno_ok(p->reject_errno, false) && p->scope <= 1;
	}
	case FL_KIND_BULKHEAD: {
		const struct fl_bulkhead_params *p = &s->u.bulkhead;
		return bool_at(s, u + offsetof(struct fl_bulkhead_params, enabled)) &&
		       p->max_concurrent_requests >= 1 && p->max_concurrent_requests <= U31 &&
		       p->max_queue_size <= U31 && p->queue_timeout_ms <= U31 &&
		       errno_ok(p->reject_errno, false) && p->scope <= 1;
	}
	case FL_KIND_FAULT: {
		const struct fl_fault_params *p = &s->u.fault;
		double prob;
		memcpy(&prob, &p->probability, sizeof(prob));
		/* on=close (a slow close) and connection-fault actions (SPEC 10)
		 * are faults too; resolve is not kept in a layer. */
		return p->ops != 0 && (p->ops & ~(uint32_t)(FL_OPS_ALL | FL_OPS_CLOSE)) == 0 &&
		       errno_ok(p->error, true) && p->delay_ms <= U31 && p->jitter_ms <= p->delay_ms &&
		       (p->error != 0 || p->delay_ms != 0 || p->connfault) && prob >= 0.0 && prob <= 1.0 &&
		       p->every >= 1 && p->start_ms <= U31 && p->duration_ms <= U31 && p->timed <= 1 &&
		       connfault_ok(s, p);
	}
	case FL_KIND_SHAPE: {
		const struct fl_fault_params *p = &s->u.fault;
		double prob;
		memcpy(&prob, &p->probability, sizeof(prob));
		return p->ops != 0 && (p->ops & ~(uint32_t)FL_OPS_IO) == 0 && p->rate_kbps >= 1 &&
		       p->burst_kb >= 1 && prob == 1.0 && p->every >= 1 && connfault_ok(s, p);
	}
	default:
		return false;
	}
}

bool fl_seg_layer_check(const struct fl_seg_layer *l)
{
	uint32_t state = fl_layer_word_state(l->word);
	if (state == FL_LAYER_FREE)
		return true;
	if (state > FL_LAYER_EXPIRED || l->nstmts < 1 || l->nstmts > FL_SEG_LAYER_STMTS ||
	    !text_terminated(l->name, sizeof(l->name)))
		return false;
	return fl_layer_name_valid(l->name);
}

int fl_layer_compile(const struct fl_ruleset *rs, struct fl_seg_stmt *out, size_t max, size_t *n,
		     struct fl_diag *d)
{
	if (rs->count == 0)
		return fl_diag_error(d, NULL, "the layer has no statements");
	if (rs->count > max || rs->count > FL_SEG_LAYER_STMTS)
		return fl_diag_error(d, NULL, "the layer has %zu statements; a layer holds at most %u",
				     rs->count, FL_SEG_LAYER_STMTS);
	for (size_t i = 0; i < rs->count; i++) {
		const struct fl_rule *r = &rs->rules[i];
		struct fl_seg_stmt *s = &out[i];
		if (r->kind == FL_KIND_BREAKER && r->u.breaker.fallback.family == FL_AF_NAME)
			return fl_diag_error(d, &r->loc,
					     "fallback=%s:%u: a layer's fallback must be an address "
					     "(ADDR:PORT); host names are resolved by each program at its "
					     "start, from its own rules",
					     r->fallback_name, (unsigned)r->u.breaker.fallback.port);
		memset(s, 0, sizeof(*s));
		s->target = r->target;
		s->kind = r->kind;
		if (r->kind != FL_KIND_FAULT && r->kind != FL_KIND_SHAPE && r->kind != FL_KIND_BREAKER &&
		    r->kind != FL_KIND_BULKHEAD)
			return fl_diag_error(
			    d, &r->loc,
			    "statement %zu: a %s statement cannot be kept in a layer (a layer "
			    "takes fault, shape, breaker and bulkhead statements)",
			    i + 1, fl_kind_name(r->kind));
		if (r->kind == FL_KIND_FAULT && (r->u.fault.ops & (1u << FL_OP_RESOLVE)))
			return fl_diag_error(
			    d, &r->loc,
			    "statement %zu: faults on=resolve cannot be kept in a layer: DNS faults are "
			    "decided in each program's resolver calls from its own rules (give them "
			    "with run --rules)",
			    i + 1);
		switch (r->kind) {
		case FL_KIND_BREAKER:
			s->u.breaker = r->u.breaker;
			break;
		case FL_KIND_BULKHEAD:
			s->u.bulkhead = r->u.bulkhead;
			break;
		default:
			s->u.fault = r->u.fault;
			break;
		}
		char text[1024];
		size_t len = fl_rule_format_brief(r, text, sizeof(text));
		if (len >= sizeof(s->text))
			memcpy(text + sizeof(s->text) - 4, "...", 4);
		text[sizeof(s->text) - 1] = '\0';
		memcpy(s->text, text, sizeof(s->text));
		s->layer_plus1 = 1; /* so that the record checks out; the writer sets its own */
		if (!fl_seg_stmt_check(s))
			return fl_diag_error(d, &r->loc, "statement %zu cannot be kept in a layer", i + 1);
		s->layer_plus1 = 0;
	}
	*n = rs->count;
	return 0;
}

/* ---- writing ---- */

static int lock_op(struct fl_seg *seg, int cmd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = FL_LAYER_LOCK_BYTE, .l_len = 1};
	int r;
	do
		r = fcntl(seg->fd, cmd, &fl);
	while (r < 0 && errno == EINTR);
	return r;
}

int fl_layers_lock(struct fl_seg *seg, struct fl_diag *d)
{
	if (seg->fd < 3 || lock_op(seg, F_OFD_SETLKW, F_WRLCK) < 0)
		return fl_diag_error(d, NULL, "cannot lock the layer table: %s",
				     seg->fd < 3 ? "segment not open" : strerror(errno));
	return 0;
}

void fl_layers_unlock(struct fl_seg *seg)
{
	if (seg->fd >= 3)
		lock_op(seg, F_OFD_SETLK, F_UNLCK);
}

static void free_layer(struct fl_seg_layers *L, uint32_t li)
{
	for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++)
		if (__atomic_load_n(&L->stmts[s].layer_plus1, __ATOMIC_RELAXED) == li + 1)
			__atomic_store_n(&L->stmts[s].layer_plus1, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&L->layers[li].word, 0, __ATOMIC_RELAXED);
}

void fl_layers_begin(struct fl_seg *seg, uint64_t now_ms, void (*expired)(const char *name, void *arg),
		     void *arg)
{
	struct fl_seg_layers *L = seg->layers;
	uint32_t g = __atomic_load_n(&L->gen, __ATOMIC_RELAXED);
	/* Odd: a writer died mid-write; the table stays odd while we repair it. */
	__atomic_store_n(&L->gen, g | 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t count[FL_SEG_LAYERS] = {0};
	for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++) {
		struct fl_seg_stmt st;
		fl_layers_load(&st, &L->stmts[s], sizeof(st));
		if (st.layer_plus1 == 0)
			continue;
		if (!fl_seg_stmt_check(&st)) {
			__atomic_store_n(&L->stmts[s].layer_plus1, 0, __ATOMIC_RELAXED);
			continue;
		}
		count[st.layer_plus1 - 1]++;
	}
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		struct fl_seg_layer l;
		fl_layers_load(&l, &L->layers[li], sizeof(l));
		uint32_t state = fl_layer_word_state(l.word);
		bool ok = fl_seg_layer_check(&l);
		if (ok && state == FL_LAYER_FREE) {
			if (count[li])
				free_layer(L, li);
			continue;
		}
		if (!ok || count[li] != l.nstmts) {
			free_layer(L, li);
			continue;
		}
		bool over = state == FL_LAYER_EXPIRED || (l.expires_ms && now_ms >= l.expires_ms);
		if (over) {
			if (state == FL_LAYER_ACTIVE && expired)
				expired(l.name, arg);
			free_layer(L, li);
		}
	}
}

void fl_layers_end(struct fl_seg *seg)
{
	struct fl_seg_layers *L = seg->layers;
	uint32_t g = __atomic_load_n(&L->gen, __ATOMIC_RELAXED);
	__atomic_store_n(&L->gen, (g | 1u) + 1u, __ATOMIC_RELEASE);
}

static int find_layer(const struct fl_seg_layers *L, const char *name)
{
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		const struct fl_seg_layer *l = &L->layers[li];
		if (fl_layer_word_state(__atomic_load_n(&l->word, __ATOMIC_RELAXED)) != FL_LAYER_FREE &&
		    strncmp(l->name, name, sizeof(l->name)) == 0)
			return (int)li;
	}
	return -1;
}

int fl_layers_put(struct fl_seg *seg, const char *name, const struct fl_seg_stmt *stmts, size_t n,
		  uint64_t now_ms, uint64_t expires_ms, struct fl_diag *d)
{
	struct fl_seg_layers *L = seg->layers;
	if (!fl_layer_name_valid(name))
		return fl_diag_error(d, NULL, "'%s' is not a layer name ([A-Za-z0-9_.-], 1 to %u characters)",
				     name, FL_SEG_LAYER_NAME - 1);
	int old = find_layer(L, name);
	uint32_t free_layers = 0, free_stmts = 0, used_layers = 0;
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		if (fl_layer_word_state(__atomic_load_n(&L->layers[li].word, __ATOMIC_RELAXED)) ==
		    FL_LAYER_FREE)
			free_layers++;
		else
			used_layers++;
	}
	for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++) {
		uint32_t owner = __atomic_load_n(&L->stmts[s].layer_plus1, __ATOMIC_RELAXED);
		if (owner == 0 || (old >= 0 && owner == (uint32_t)old + 1))
			free_stmts++;
	}
	if (old < 0 && free_layers == 0)
		return fl_diag_error(d, NULL,
				     "layer table full: %u layers exist (a domain holds %u); remove one "
				     "(faultline remove NAME) or all (faultline heal)",
				     used_layers, FL_SEG_LAYERS);
	if (free_stmts < n)
		return fl_diag_error(
		    d, NULL,
		    "layer table full: %u of %u statement places in use by %u layers, layer "
		    "'%s' needs %zu; remove a layer (faultline remove NAME) or all (faultline "
		    "heal)",
		    FL_SEG_LAYER_STMTS - free_stmts, FL_SEG_LAYER_STMTS, used_layers, name, n);
	if (old >= 0)
		free_layer(L, (uint32_t)old);
	uint32_t li = 0;
	while (fl_layer_word_state(__atomic_load_n(&L->layers[li].word, __ATOMIC_RELAXED)) != FL_LAYER_FREE)
		li++;
	uint64_t uid = __atomic_load_n(&L->next_uid, __ATOMIC_RELAXED);
	uint32_t s = (uint32_t)(uid % FL_SEG_LAYER_STMTS);
	for (size_t i = 0; i < n; i++) {
		while (__atomic_load_n(&L->stmts[s].layer_plus1, __ATOMIC_RELAXED) != 0)
			s = (s + 1) % FL_SEG_LAYER_STMTS;
		struct fl_seg_stmt rec = stmts[i];
		rec.layer_plus1 = li + 1;
		rec.index = (uint32_t)i;
		rec.uid = ++uid;
		fl_layers_store(&L->stmts[s], &rec, sizeof(rec));
	}
	__atomic_store_n(&L->next_uid, uid, __ATOMIC_RELAXED);
	struct fl_seg_layer l;
	memset(&l, 0, sizeof(l));
	uint64_t order = __atomic_add_fetch(&L->next_order, 1, __ATOMIC_RELAXED); /* readers copy it too */
	l.word = fl_layer_word(order, FL_LAYER_ACTIVE);
	l.applied_ms = now_ms;
	l.expires_ms = expires_ms;
	l.nstmts = (uint32_t)n;
	memcpy(l.name, name, strlen(name) + 1); /* valid: shorter than the field */
	fl_layers_store(&L->layers[li], &l, sizeof(l));
	return 0;
}

int fl_layers_drop(struct fl_seg *seg, const char *name)
{
	int li = find_layer(seg->layers, name);
	if (li < 0)
		return 0;
	free_layer(seg->layers, (uint32_t)li);
	return 1;
}

unsigned fl_layers_drop_all(struct fl_seg *seg)
{
	unsigned n = 0;
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		if (fl_layer_word_state(__atomic_load_n(&seg->layers->layers[li].word, __ATOMIC_RELAXED)) ==
		    FL_LAYER_FREE)
			continue;
		free_layer(seg->layers, li);
		n++;
	}
	return n;
}

void fl_layers_new_name(struct fl_seg *seg, char *out, size_t size)
{
	for (uint64_t k = __atomic_load_n(&seg->layers->next_order, __ATOMIC_RELAXED) + 1;; k++) {
		snprintf(out, size, "layer-%llu", (unsigned long long)k);
		if (find_layer(seg->layers, out) < 0)
			return;
	}
}

/* ---- reading ---- */

static int cmp_layer(const void *a, const void *b)
{
	const struct fl_layer_info *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* From a copy of the region: the view, every record checked. */
static void build_view(const struct fl_seg_layers *c, struct fl_layers_view *v, uint64_t now_ms)
{
	memset(v, 0, sizeof(*v));
	int32_t rank[FL_SEG_LAYERS];
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++) {
		const struct fl_seg_layer *l = &c->layers[li];
		rank[li] = -1;
		if (fl_layer_word_state(l->word) != FL_LAYER_ACTIVE || !fl_seg_layer_check(l) ||
		    (l->expires_ms && now_ms >= l->expires_ms))
			continue;
		struct fl_layer_info *in = &v->layers[v->nlayers++];
		memcpy(in->name, l->name, sizeof(in->name));
		in->order = l->word >> 8;
		in->applied_ms = l->applied_ms;
		in->expires_ms = l->expires_ms;
		in->nstmts = li; /* which layer, until sorted */
	}
	qsort(v->layers, v->nlayers, sizeof(v->layers[0]), cmp_layer);
	for (uint32_t k = 0; k < v->nlayers; k++) {
		uint32_t li = v->layers[k].nstmts;
		rank[li] = (int32_t)k;
		v->layers[k].nstmts = 0;
	}
	/* Statements in (layer order, index) order: counting sort by layer. */
	for (uint32_t k = 0; k < v->nlayers; k++) {
		struct fl_layer_info *in = &v->layers[k];
		in->first = v->nstmts;
		for (uint32_t idx = 0; idx < FL_SEG_LAYER_STMTS; idx++) {
			for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++) {
				const struct fl_seg_stmt *st = &c->stmts[s];
				if (st->layer_plus1 == 0 || rank[st->layer_plus1 - 1] != (int32_t)k ||
				    st->index != idx || !fl_seg_stmt_check(st))
					continue;
				v->stmt[v->nstmts] = *st;
				memcpy(v->text[v->nstmts], st->text, sizeof(st->text));
				v->nstmts++;
				in->nstmts++;
				break;
			}
			if (in->nstmts <= idx)
				break;
		}
	}
}

int fl_layers_read(const struct fl_seg *seg, struct fl_layers_view *v, uint64_t now_ms, unsigned tries)
{
	struct fl_seg_layers *copy = malloc(sizeof(*copy));
	if (!copy)
		return -1;
	const struct fl_seg_layers *L = seg->layers;
	int r = -1;
	if (tries == 0) {
		fl_layers_load(copy, L, sizeof(*copy));
		r = 0;
	}
	for (unsigned t = 0; t < tries && r < 0; t++) {
		uint32_t g1 = __atomic_load_n(&L->gen, __ATOMIC_ACQUIRE);
		if (g1 & 1u)
			continue;
		fl_layers_load(copy, L, sizeof(*copy));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&L->gen, __ATOMIC_RELAXED) == g1)
			r = 0;
	}
	if (r == 0)
		build_view(copy, v, now_ms);
	free(copy);
	return r;
}
