/*
 * diag.h - errors and warnings as values.
 *
 * lib/ never prints. A function that can fail fills a struct fl_diag with
 * one message that already names where and what ("FAULTLINE_RULES:2:31:
 * unknown key ..."), and returns -1. Warnings (rules that are valid but
 * probably not what the user meant) are collected alongside; the edge (the
 * shim's start-up, the CLI) decides where they go.
 */
#ifndef FL_DIAG_H
#define FL_DIAG_H

#include <stddef.h>

#define FL_DIAG_MSG_MAX	 512
#define FL_DIAG_WARN_MAX 16

struct fl_diag {
	char error[FL_DIAG_MSG_MAX]; /* empty when there is no error */
	unsigned nwarnings;	     /* may exceed FL_DIAG_WARN_MAX; extra are dropped */
	char warnings[FL_DIAG_WARN_MAX][FL_DIAG_MSG_MAX];
};

/* Where in a source a token stands: 1-based line and column. */
struct fl_loc {
	const char *source; /* "FAULTLINE_RULES", a file path, "--rules" */
	unsigned line;
	unsigned col;
};

void fl_diag_clear(struct fl_diag *d);

/*
 * Copies src (n bytes, or up to its NUL) to dst with every control byte
 * written visibly: \n, \r, \t as themselves, other bytes below 0x20 and
 * 0x7f as \xNN. A path or value a user chose (FAULTLINE_CONFIG, a rule
 * token, a domain) then cannot start a new line in a log file or send
 * escape sequences to a terminal. Every message that may quote such a
 * string passes through here: fl_diag_error/fl_diag_warn, the shim's log
 * lines, the CLI's "faultline: ..." lines. Backslashes are kept, so
 * escaping twice changes nothing. Truncates to fit, never splitting an
 * escape; dst is always NUL-terminated (size > 0). Async-signal-safe: no
 * libc call, no allocation. Returns the length written.
 */
size_t fl_escape_controls(char *dst, size_t size, const char *src, size_t n);

/* "SOURCE:LINE:COL: " + formatted text. Always returns -1, for tail calls. */
int fl_diag_error(struct fl_diag *d, const struct fl_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void fl_diag_warn(struct fl_diag *d, const struct fl_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
