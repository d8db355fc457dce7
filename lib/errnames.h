/*
 * errnames.h - errno names, and which errnos each watched call can return.
 *
 * The per-call lists follow the Linux man pages (connect(2), send(2),
 * recv(2), write(2), read(2)) plus what the kernel returns on sockets in
 * practice (ECONNRESET on read, ETIMEDOUT after keepalive failure). A rule
 * that injects an errno outside its call's list is legal but suspicious: the
 * parser warns and names the valid ones.
 */
#ifndef FL_ERRNAMES_H
#define FL_ERRNAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

/* "ECONNRESET" -> ECONNRESET; -1 if unknown. */
int fl_errno_from_name(const char *name, size_t len);

/* ECONNRESET -> "ECONNRESET"; NULL if unknown. Async-signal-safe. */
const char *fl_errno_name(int err);

/* All known names, NULL-terminated (for suggestions). */
const char *const *fl_errno_names(void);

bool fl_errno_valid_for(enum fl_op op, int err);

/* "EACCES, EADDRINUSE, ..." for op into buf; returns length written. */
size_t fl_errno_valid_list(enum fl_op op, char *buf, size_t size);

#endif
