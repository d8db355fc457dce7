/*
 * report.c - the growable buffer every report writes into, what they all
 * share (the breaker's failure rate and its format, text made safe for a
 * terminal, display widths), and the aligned tables of `stats` (also drawn
 * by `top`), `ps` and `domains`. Every --json (`stats`, `ps`, `domains`)
 * lives in report_json.c, `stats --prometheus` in report_prom.c.
 *
 * A table is built as cells first and printed second, because a column is
 * as wide as its widest cell. Widths count code points, not bytes, so a
 * UTF-8 unix path does not push the columns after it out of line; colour
 * escapes are written around a cell and never counted.
 */
#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "breaker.h"

/* ---- the buffer ---- */

void fl_out_init(struct fl_out *o)
{
	memset(o, 0, sizeof(*o));
}

void fl_out_free(struct fl_out *o)
{
	free(o->p);
	fl_out_init(o);
}

void fl_out_reset(struct fl_out *o)
{
	o->len = 0;
	o->failed = false;
	if (o->p)
		o->p[0] = '\0';
}

static bool reserve(struct fl_out *o, size_t more)
{
	if (o->failed)
		return false;
	if (!fl_array_reserve(&o->p, &o->cap, o->len + more + 1, 1, 256))
		o->failed = true;
	return !o->failed;
}

void fl_out_putn(struct fl_out *o, const char *s, size_t n)
{
	if (!reserve(o, n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

void fl_out_puts(struct fl_out *o, const char *s)
{
	fl_out_putn(o, s, strlen(s));
}

void fl_out_printf(struct fl_out *o, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		fl_out_putn(o, small, (size_t)n);
		return;
	}
	if (!reserve(o, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(o->p + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* ---- numbers and text ---- */

double fl_report_failure_rate(const struct fl_snap_breaker *b)
{
	if (b->window_calls == 0)
		return 0.0;
	return (double)b->window_failures * 100.0 / (double)b->window_calls;
}

void fl_report_format_rate(double v, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%.2f", v);
	if (n < 0 || (size_t)n >= size)
		return;
	while (n > 0 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
}

size_t fl_report_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range: no overlongs, no surrogates */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void fl_report_sanitize(const char *in, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), used = 0;
	if (size == 0)
		return;
	for (size_t i = 0; i < n;) {
		size_t len = fl_report_utf8_len(s + i, n - i);
		bool control =
		    len == 1 ? s[i] < 0x20 || s[i] == 0x7f : len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
		if (len == 0 || control) {
			if (used + 1 >= size)
				break;
			out[used++] = '?';
			i += len ? len : 1;
			continue;
		}
		if (used + len >= size)
			break;
		memcpy(out + used, s + i, len);
		used += len;
		i += len;
	}
	out[used] = '\0';
}

size_t fl_report_text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		w += (*p & 0xc0) != 0x80;
	return w;
}

/* ---- tables ---- */

#define COLOUR_RESET "\033[0m"
#define COLOUR_BOLD  "\033[1m"

struct table {
	unsigned ncols;
	const char *const *headers;
	const char *align; /* 'l' or 'r' per column */
	int colour_col;	   /* the column a row's colour applies to, or -1 */
	size_t nrows, cap;
	size_t *offs;	      /* nrows * ncols offsets into cells */
	const char **colours; /* per row: an escape sequence or NULL */
	struct fl_out cells;
	bool failed;
};

static void table_init(struct table *t, unsigned ncols, const char *const *headers, const char *align,
		       int colour_col)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = headers;
	t->align = align;
	t->colour_col = colour_col;
	fl_out_init(&t->cells);
}

static void table_free(struct table *t)
{
	free(t->offs);
	free(t->colours);
	fl_out_free(&t->cells);
}

static void table_row(struct table *t, const char *colour)
{
	if (t->nrows == t->cap) {
		/* two arrays of one capacity: offsets (a row of ncols each), colours */
		size_t offs_cap = t->cap, colours_cap = t->cap;
		if (!fl_array_reserve(&t->offs, &offs_cap, t->nrows + 1, t->ncols * sizeof(*t->offs), 16) ||
		    !fl_array_reserve(&t->colours, &colours_cap, t->nrows + 1, sizeof(*t->colours), 16)) {
			t->failed = true;
			return;
		}
		t->cap = offs_cap;
	}
	size_t base = t->nrows * t->ncols;
	for (unsigned c = 0; c < t->ncols; c++)
		t->offs[base + c] = SIZE_MAX;
	t->colours[t->nrows++] = colour;
}

/* The next empty cell of the last row gets text, made safe for a terminal. */
static void table_cell(struct table *t, const char *text)
{
	if (t->failed || t->nrows == 0)
		return;
	size_t *row = &t->offs[(t->nrows - 1) * t->ncols];
	unsigned c = 0;
	while (c < t->ncols && row[c] != SIZE_MAX)
		c++;
	if (c == t->ncols)
		return;
	char safe[512];
	fl_report_sanitize(text, safe, sizeof(safe));
	row[c] = t->cells.len;
	fl_out_putn(&t->cells, safe, strlen(safe) + 1);
}

static void table_cellf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void table_cellf(struct table *t, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	table_cell(t, text);
}

static const char *cell_at(const struct table *t, size_t r, unsigned c)
{
	size_t off = t->offs[r * t->ncols + c];
	return off == SIZE_MAX || !t->cells.p ? "" : t->cells.p + off;
}

/* A line being written, cut at `limit` visible columns (0: none). */
struct line {
	struct fl_out *o;
	size_t visible, limit;
};

static bool line_full(const struct line *l)
{
	return l->limit && l->visible >= l->limit;
}

static void line_text(struct line *l, const char *s)
{
	for (const char *p = s; *p; p++) {
		bool lead = (*p & 0xc0) != 0x80;
		if (lead && line_full(l))
			return;
		fl_out_putn(l->o, p, 1);
		l->visible += lead;
	}
}

static void line_spaces(struct line *l, size_t n)
{
	while (n-- > 0 && !line_full(l)) {
		fl_out_putn(l->o, " ", 1);
		l->visible++;
	}
}

static void render_line(const struct table *t, struct fl_out *o, const size_t *widths, size_t r, bool header,
			const struct fl_table_style *st)
{
	struct line l = {.o = o, .visible = 0, .limit = st->width};
	bool colour = st->colour && header;
	if (colour)
		fl_out_puts(o, COLOUR_BOLD);
	for (unsigned c = 0; c < t->ncols && !line_full(&l); c++) {
		const char *text = header ? t->headers[c] : cell_at(t, r, c);
		size_t pad = widths[c] - fl_report_text_width(text);
		bool last = c + 1 == t->ncols;
		if (c > 0)
			line_spaces(&l, 2);
		if (t->align[c] == 'r')
			line_spaces(&l, pad);
		const char *esc = !header && st->colour && (int)c == t->colour_col ? t->colours[r] : NULL;
		if (esc && !line_full(&l))
			fl_out_puts(o, esc);
		line_text(&l, text);
		if (esc)
			fl_out_puts(o, COLOUR_RESET);
		if (t->align[c] != 'r' && !last)
			line_spaces(&l, pad);
	}
	if (colour)
		fl_out_puts(o, COLOUR_RESET);
	fl_out_puts(o, "\n");
}

static void table_render(const struct table *t, struct fl_out *o, const struct fl_table_style *st)
{
	size_t widths[16] = {0};
	if (t->failed) {
		o->failed = true;
		return;
	}
	for (unsigned c = 0; c < t->ncols && c < 16; c++) {
		widths[c] = fl_report_text_width(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = fl_report_text_width(cell_at(t, r, c));
			widths[c] = w > widths[c] ? w : widths[c];
		}
	}
	size_t shown = t->nrows;
	if (st->max_rows && t->nrows > st->max_rows)
		shown = st->max_rows - 1;
	render_line(t, o, widths, 0, true, st);
	for (size_t r = 0; r < shown; r++)
		render_line(t, o, widths, r, false, st);
	if (shown < t->nrows) {
		struct line l = {.o = o, .visible = 0, .limit = st->width};
		char more[64];
		snprintf(more, sizeof(more), "... %zu more", t->nrows - shown);
		line_text(&l, more);
		fl_out_puts(o, "\n");
	}
}

/* ---- stats ---- */

static const char *state_colour(const struct fl_snap_entry *e)
{
	if (!e->has_breaker)
		return NULL;
	switch (e->breaker.state) {
	case FL_BREAKER_CLOSED:
		return "\033[32m";
	case FL_BREAKER_OPEN:
	case FL_BREAKER_FORCED_OPEN:
		return "\033[31m";
	case FL_BREAKER_HALF_OPEN:
		return "\033[33m";
	default:
		return "\033[2m";
	}
}

/*
 * Connection faults and shaping of an entry, for the FAULTS cell:
 * "recv:3short+1eof+2hang+1reset+7flip read:4.1MB/9.8s" (shaped bytes and
 * the time spent waiting for the budget). Returns the length written.
 */
static size_t fl_report_conn_cell(const struct fl_snap_entry *e, char *buf, size_t size, bool after)
{
	static const char *const marks[] = {"short", "eof", "hang", "reset", "flip"};
	size_t used = 0;
	for (unsigned op = FL_OP_SEND; op < FL_OP_COUNT && used + 1 < size; op++) {
		const struct fl_seg_conn_stats *s = &e->conn[op];
		uint64_t v[] = {s->short_io, s->eofs, s->hangs, s->resets, s->corrupted_bytes};
		bool any = s->shaped_bytes != 0;
		for (size_t k = 0; k < 5; k++)
			any = any || v[k];
		if (!any)
			continue;
		int n = snprintf(buf + used, size - used, "%s%s:", used || after ? " " : "", fl_op_names[op]);
		bool first = true;
		for (size_t k = 0; k < 5 && n > 0 && (size_t)n < size - used; k++) {
			if (!v[k])
				continue;
			n += snprintf(buf + used + n, size - used - (size_t)n, "%s%" PRIu64 "%s",
				      first ? "" : "+", v[k], marks[k]);
			first = false;
		}
		if (s->shaped_bytes && n > 0 && (size_t)n < size - used)
			n += snprintf(buf + used + n, size - used - (size_t)n, "%s%.1fMB/%.1fs",
				      first ? "" : "+", (double)s->shaped_bytes / 1e6,
				      (double)s->shape_wait_ns / 1e9);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	if (e->close_delays && used + 1 < size) {
		int n = snprintf(buf + used, size - used, "%sclose:%" PRIu64 "d", used || after ? " " : "",
				 e->close_delays);
		if (n > 0 && (size_t)n < size - used)
			used += (size_t)n;
	}
	return used;
}

/* "connect:3e recv:2d send:1e+4d", or "-". */
static void faults_cell(const struct fl_snap_entry *e, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		const struct fl_seg_op_stats *s = &e->ops[op];
		if (!s->errors_injected && !s->delays_injected)
			continue;
		char errors[32] = "", delays[32] = "";
		if (s->errors_injected)
			snprintf(errors, sizeof(errors), "%" PRIu64 "e", s->errors_injected);
		if (s->delays_injected)
			snprintf(delays, sizeof(delays), "%" PRIu64 "d", s->delays_injected);
		int n = snprintf(buf + used, size - used, "%s%s:%s%s%s", used ? " " : "", fl_op_names[op],
				 errors, errors[0] && delays[0] ? "+" : "", delays);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	used += fl_report_conn_cell(e, buf + used, size - used, used != 0);
	if (used == 0)
		snprintf(buf, size, "-");
}

static void stats_row(struct table *t, const struct fl_snap_entry *e, bool resil)
{
	char text[256];
	table_row(t, state_colour(e));
	table_cell(t, e->name);
	if (e->key.kind == FL_KEY_DEST)
		table_cell(t, "dest");
	else if (e->overflow_count)
		table_cellf(t, "rule+%" PRIu64, e->overflow_count);
	else
		table_cell(t, "rule");
	if (e->has_breaker) {
		const struct fl_snap_breaker *b = &e->breaker;
		fl_report_format_rate(fl_report_failure_rate(b), text, sizeof(text));
		table_cell(t, fl_breaker_state_name(b->state));
		table_cellf(t, "%" PRIu64, b->calls);
		table_cellf(t, "%" PRIu64, b->failures);
		table_cell(t, text);
		table_cellf(t, "%" PRIu64, b->rejected);
	} else {
		table_cell(t, "-");
		table_cellf(t, "%" PRIu64, e->ops[FL_OP_CONNECT].calls);
		table_cell(t, "-");
		table_cell(t, "-");
		table_cell(t, "-");
	}
	if (e->has_bulkhead) {
		const struct fl_snap_bulkhead *h = &e->bulkhead;
		table_cellf(t, "%u/%u/%u", h->active, h->queued, h->p.max_concurrent_requests);
		table_cellf(t, "%" PRIu64, h->rejected + h->timeouts);
	} else {
		table_cell(t, "-");
		table_cell(t, "-");
	}
	faults_cell(e, text, sizeof(text));
	table_cell(t, text);
	if (resil) {
		fl_report_resil_cell(text, sizeof(text), e);
		table_cell(t, text);
	}
}

/* Does any entry use SPEC 11 (observe, slow calls, backoff, fallback, rate
 * limit)? Only then has the table a RESIL column. */
static bool any_resil(const struct fl_snapshot *s)
{
	char text[256];
	for (size_t i = 0; i < s->nentries; i++) {
		fl_report_resil_cell(text, sizeof(text), &s->entries[i]);
		if (strcmp(text, "-") != 0)
			return true;
	}
	return false;
}

void fl_report_table(struct fl_out *o, const struct fl_snapshot *s, const struct fl_table_style *style)
{
	static const char *const headers[] = {"DESTINATION", "KIND",	 "STATE",  "CALLS",  "FAILS", "FAIL%",
					      "REJECTED",    "BULKHEAD", "BH.REJ", "FAULTS", "RESIL"};
	struct fl_table_style plain = {0};
	struct table t;
	bool resil = any_resil(s);
	table_init(&t, resil ? 11 : 10, headers, "lllrrrrrrll", 2);
	for (size_t i = 0; i < s->nentries; i++)
		stats_row(&t, &s->entries[i], resil);
	table_render(&t, o, style ? style : &plain);
	table_free(&t);
}

/* ---- ps and domains ---- */

static void local_time(uint64_t ms, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (!localtime_r(&secs, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%" PRIu64, ms);
}

void fl_report_ps(struct fl_out *o, const struct fl_snapshot *s, const bool *alive, bool json)
{
	static const char *const headers[] = {"PID", "SINCE", "ALIVE", "COMMAND"};
	if (json) {
		fl_report_ps_json(o, s, alive);
		return;
	}
	struct fl_table_style plain = {0};
	struct table t;
	table_init(&t, 4, headers, "rlll", -1);
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct fl_seg_proc *p = &s->procs[i].rec;
		char since[64];
		local_time(p->attach_ms, since, sizeof(since));
		table_row(&t, NULL);
		table_cellf(&t, "%u", p->pid);
		table_cell(&t, since);
		table_cell(&t, alive[i] ? "yes" : "dead");
		table_cell(&t, p->cmd[0] ? p->cmd : "?");
	}
	table_render(&t, o, &plain);
	table_free(&t);
}

static void human_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return;
	}
	double v = (double)bytes / 1024.0;
	unsigned u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

void fl_report_domains(struct fl_out *o, const struct fl_domain_info *rows, size_t n, bool json)
{
	static const char *const headers[] = {"DOMAIN",	   "SIZE",    "DESTINATIONS",
					      "PROCESSES", "CREATED", "STATUS"};
	if (json) {
		fl_report_domains_json(o, rows, n);
		return;
	}
	struct fl_table_style plain = {0};
	struct table t;
	table_init(&t, 6, headers, "lrrrll", -1);
	for (size_t i = 0; i < n; i++) {
		const struct fl_domain_info *r = &rows[i];
		char size[32], created[64];
		human_size(r->size, size, sizeof(size));
		table_row(&t, NULL);
		table_cell(&t, r->name);
		table_cell(&t, size);
		if (r->error) {
			table_cell(&t, "-");
			table_cell(&t, "-");
			table_cell(&t, "-");
			table_cellf(&t, "unreadable: %s", r->error);
			continue;
		}
		local_time(r->created_ms, created, sizeof(created));
		table_cellf(&t, "%u/%u", r->used, r->capacity);
		table_cellf(&t, "%u", r->live);
		table_cell(&t, created);
		table_cell(&t, "ok");
	}
	table_render(&t, o, &plain);
	table_free(&t);
}
