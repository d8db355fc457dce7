/*
 * diag.c - filling a struct fl_diag.
 *
 * Every message lib/ produces passes through here, so the "SOURCE:LINE:COL: "
 * prefix is written one way everywhere. A location without a line (a file
 * that cannot be read) prints just "SOURCE: ". The finished message has its
 * control bytes escaped (fl_escape_controls): the source and the quoted
 * tokens are the user's text, and a message is always one line.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fl_diag_clear(struct fl_diag *d)
{
	d->error[0] = '\0';
	d->nwarnings = 0;
}

size_t fl_escape_controls(char *dst, size_t size, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;
	if (size == 0)
		return 0;
	for (size_t i = 0; i < n && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[4];
		size_t k = 0;
		if (c >= 0x20 && c != 0x7f) {
			esc[k++] = (char)c;
		} else {
			esc[k++] = '\\';
			if (c == '\n' || c == '\r' || c == '\t') {
				esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			} else {
				esc[k++] = 'x';
				esc[k++] = hex[c >> 4];
				esc[k++] = hex[c & 15];
			}
		}
		if (used + k >= size)
			break;
		for (size_t j = 0; j < k; j++)
			dst[used++] = esc[j];
	}
	dst[used] = '\0';
	return used;
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
	char raw[FL_DIAG_MSG_MAX];
	raw[0] = '\0';
	size_t used = format_loc(raw, sizeof raw, loc);
	vsnprintf(raw + used, sizeof raw - used, fmt, ap);
	fl_escape_controls(buf, size, raw, sizeof raw);
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
