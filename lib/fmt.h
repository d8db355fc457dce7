/*
 * fmt.h - formatting that is safe inside a signal handler.
 *
 * snprintf may take locks or allocate (locale, wide strings, floating
 * point), so the shim's hot path builds its log lines with these instead:
 * append-only into a caller's buffer, always NUL-terminated, never past
 * its end (output is truncated, not overflowed).
 */
#ifndef FL_FMT_H
#define FL_FMT_H

#include <stddef.h>
#include <stdint.h>

struct fl_buf {
	char *p;
	size_t size; /* capacity including the NUL */
	size_t len;
};

static inline void fl_buf_init(struct fl_buf *b, char *p, size_t size)
{
	b->p = p;
	b->size = size;
	b->len = 0;
	if (size)
		p[0] = '\0';
}

void fl_buf_str(struct fl_buf *b, const char *s);
void fl_buf_mem(struct fl_buf *b, const char *s, size_t n);
void fl_buf_u64(struct fl_buf *b, uint64_t v);
void fl_buf_i64(struct fl_buf *b, int64_t v);

#endif
