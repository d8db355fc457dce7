/*
 * diag.c - filling a struct fl_diag.
 *
 * Every message lib/ produces passes through here, so the "SOURCE:LINE:COL: "
 * prefix is written one way everywhere. A location without a line (a file
 * that cannot be read) prints just "SOURCE: ".
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

void fl_diag_clear(struct fl_diag *d)
{
	d->error[0] = '\0';
	d->nwarnings = 0;
}

static size_t format_loc(char *buf, size_t size, const struct fl_loc *loc)
{
	int n = 0;
	if (loc == NULL || loc->source == NULL)
		n = 0;
	else if (loc->line == 0)
		n = snprintf(buf, size, "%s: ", loc->source);
	else if (loc->col == 0)
		n = snprintf(buf, size, "%s:%u: ", loc->source, loc->line);
	else
		n = snprintf(buf, size, "%s:%u:%u: ", loc->source, loc->line, loc->col);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

__attribute__((format(printf, 4, 0))) static void
format_message(char *buf, size_t size, const struct fl_loc *loc, const char *fmt, va_list ap)
{
	buf[0] = '\0';
	size_t used = format_loc(buf, size, loc);
	vsnprintf(buf + used, size - used, fmt, ap);
}

int fl_diag_error(struct fl_diag *d, const struct fl_loc *loc, const char *fmt, ...)
{
	if (d == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	format_message(d->error, sizeof d->error, loc, fmt, ap);
	va_end(ap);
	return -1;
}

void fl_diag_warn(struct fl_diag *d, const struct fl_loc *loc, const char *fmt, ...)
{
	if (d == NULL)
		return;
	if (d->nwarnings < FL_DIAG_WARN_MAX) {
		va_list ap;
		va_start(ap, fmt);
		format_message(d->warnings[d->nwarnings], FL_DIAG_MSG_MAX, loc, fmt, ap);
		va_end(ap);
	}
	d->nwarnings++;
}
