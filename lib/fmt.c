/*
 * fmt.c - see fmt.h.
 */
#include "fmt.h"

void fl_buf_mem(struct fl_buf *b, const char *s, size_t n)
{
	if (b->size == 0)
		return;
	size_t room = b->size - 1 - b->len;
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++)
		b->p[b->len + i] = s[i];
	b->len += n;
	b->p[b->len] = '\0';
}

void fl_buf_str(struct fl_buf *b, const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	fl_buf_mem(b, s, n);
}

void fl_buf_u64(struct fl_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fl_buf_mem(b, tmp + i, sizeof(tmp) - i);
}

void fl_buf_i64(struct fl_buf *b, int64_t v)
{
	if (v < 0) {
		fl_buf_mem(b, "-", 1);
		fl_buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		fl_buf_u64(b, (uint64_t)v);
	}
}
