/*
 * textbuf.h - snprintf-like appending into a caller's buffer, without stdio.
 *
 * Destination names are formatted on the shim's hot path, which may run in a
 * signal handler: no snprintf, no locale, no allocation. These helpers copy
 * bytes and digits by hand. Like snprintf they count every byte the whole
 * text needs (so a caller can size a buffer) while writing only what fits,
 * always leaving the buffer NUL-terminated when it has any room at all.
 * The shim's log lines are built with them too.
 */
#ifndef FL_TEXTBUF_H
#define FL_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

struct fl_textbuf {
	char *buf;
	size_t size;
	size_t len; /* bytes the full text needs, excluding the NUL */
};

static inline void fl_tb_init(struct fl_textbuf *b, char *buf, size_t size)
{
	b->buf = buf;
	b->size = size;
	b->len = 0;
	if (size > 0)
		buf[0] = '\0';
}

static inline void fl_tb_putc(struct fl_textbuf *b, char c)
{
	if (b->len + 1 < b->size) {
		b->buf[b->len] = c;
		b->buf[b->len + 1] = '\0';
	}
	b->len++;
}

static inline void fl_tb_putn(struct fl_textbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fl_tb_putc(b, s[i]);
}

static inline void fl_tb_puts(struct fl_textbuf *b, const char *s)
{
	while (*s)
		fl_tb_putc(b, *s++);
}

static inline void fl_tb_putu(struct fl_textbuf *b, uint64_t v)
{
	char digits[20];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		fl_tb_putc(b, digits[--n]);
}

static inline void fl_tb_puti(struct fl_textbuf *b, int64_t v)
{
	if (v < 0) {
		fl_tb_putc(b, '-');
		fl_tb_putu(b, (uint64_t)0 - (uint64_t)v);
	} else {
		fl_tb_putu(b, (uint64_t)v);
	}
}

/* Bytes actually in the buffer (len may count more: what did not fit). */
static inline size_t fl_tb_used(const struct fl_textbuf *b)
{
	if (b->size == 0)
		return 0;
	return b->len < b->size ? b->len : b->size - 1;
}

/* Lowercase hex without leading zeros, as RFC 5952 writes IPv6 groups. */
static inline void fl_tb_puthex(struct fl_textbuf *b, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char digits[2 * sizeof v];
	size_t n = 0;
	do {
		digits[n++] = hex[v & 0xf];
		v >>= 4;
	} while (v != 0);
	while (n > 0)
		fl_tb_putc(b, digits[--n]);
}

#endif
