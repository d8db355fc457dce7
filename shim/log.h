/*
 * log.h - the shim's log: FAULTLINE_LOG and FAULTLINE_LOG_FILE.
 *
 * Lines are built with lib/textbuf.h (no stdio) and written with the raw
 * write system call, so logging never re-enters the shim, takes no lock and
 * is safe in a signal handler. A log file is opened (non-blocking: a FIFO
 * nobody reads does not stall the program), appended to and closed for each
 * line: the shim holds no descriptor that the program could close or
 * reuse under it, and lines from many processes interleave whole.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdbool.h>

#include "textbuf.h"

enum fl_log_level {
	FL_LOG_OFF = 0,
	FL_LOG_ERROR = 1, /* also warnings */
	FL_LOG_INFO = 2,
	FL_LOG_DEBUG = 3,
};

extern int fl_log_level;

/* Longest line written, newline included; longer lines are truncated. */
#define FL_LOG_LINE_MAX 1024

/* Reads FAULTLINE_LOG and FAULTLINE_LOG_FILE; returns -1 and sets *bad to
 * the offending value when FAULTLINE_LOG is not one of its words. */
int fl_log_configure(const char **bad);

static inline bool fl_log_on(enum fl_log_level level)
{
	return fl_log_level >= (int)level;
}

/* Starts a line: "faultline[PID]: ". */
void fl_log_begin(struct fl_textbuf *b, char *storage, unsigned long size);

/* Ends the line with '\n' and writes it. */
void fl_log_end(struct fl_textbuf *b);

/* A configuration error or warning, "faultline: MSG", as the CLI prints
 * them (no pid: the message names its source and line). */
void fl_log_config_problem(const char *msg);

/* A configuration error that stops the program (FAULTLINE_ON_ERROR=exit):
 * always on standard error, whatever FAULTLINE_LOG says, and in the log
 * file as well when there is one. */
void fl_log_fatal(const char *msg);

/* One whole message. */
void fl_log_msg(enum fl_log_level level, const char *msg);

#endif
