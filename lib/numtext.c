/*
 * numtext.c - strict number parsing and shortest round-trip printing.
 *
 * The grammar is checked by hand first; only text already known to be a
 * plain decimal reaches strtod, which then does the correctly rounded
 * conversion we should not rewrite. strtod and snprintf consult LC_NUMERIC,
 * so both run under a private "C" locale (uselocale is per thread).
 */
#include "numtext.h"

#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL_TEXT_MAX 64

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

enum fl_num_status fl_parse_uint(const char *s, size_t n, uint64_t *out)
{
	bool negative = n > 1 && s[0] == '-';
	size_t i = negative ? 1 : 0;
	uint64_t v = 0;
	bool overflow = false;
	if (n == 0)
		return FL_NUM_SYNTAX;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return FL_NUM_SYNTAX;
		unsigned digit = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			overflow = true;
		v = v * 10 + digit;
	}
	if (overflow || (negative && v != 0))
		return FL_NUM_RANGE;
	*out = v;
	return FL_NUM_OK;
}

static size_t skip_digits(const char *s, size_t n, size_t i)
{
	while (i < n && is_digit(s[i]))
		i++;
	return i;
}

/* True when s[0..n) is [-]mantissa[exponent] with at least one digit. */
static bool real_syntax_ok(const char *s, size_t n)
{
	size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
	size_t int_start = i;
	i = skip_digits(s, n, i);
	size_t digits = i - int_start;
	if (i < n && s[i] == '.') {
		size_t frac_start = ++i;
		i = skip_digits(s, n, i);
		digits += i - frac_start;
	}
	if (digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t exp_start = i;
		i = skip_digits(s, n, i);
		if (i == exp_start)
			return false;
	}
	return i == n;
}

/* Runs with the "C" numeric locale on this thread; restores the old one. */
static locale_t enter_c_numeric(locale_t *c_locale)
{
	*c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return *c_locale == (locale_t)0 ? (locale_t)0 : uselocale(*c_locale);
}

static void leave_c_numeric(locale_t c_locale, locale_t previous)
{
	if (c_locale == (locale_t)0)
		return;
	uselocale(previous);
	freelocale(c_locale);
}

enum fl_num_status fl_parse_real(const char *s, size_t n, double *out)
{
	char text[REAL_TEXT_MAX];
	if (n == 0 || n >= sizeof text || !real_syntax_ok(s, n))
		return FL_NUM_SYNTAX;
	memcpy(text, s, n);
	text[n] = '\0';
	locale_t c_locale;
	locale_t previous = enter_c_numeric(&c_locale);
	char *end;
	double v = strtod(text, &end);
	leave_c_numeric(c_locale, previous);
	if (end != text + n)
		return FL_NUM_SYNTAX;
	if (!isfinite(v))
		return FL_NUM_RANGE;
	*out = v;
	return FL_NUM_OK;
}

size_t fl_format_real(double v, char *buf, size_t size)
{
	char text[REAL_TEXT_MAX];
	int len = 0;
	locale_t c_locale;
	locale_t previous = enter_c_numeric(&c_locale);
	for (int precision = 1; precision <= 17; precision++) {
		len = snprintf(text, sizeof text, "%.*g", precision, v);
		if (strtod(text, NULL) == v)
			break;
	}
	/* %.1g writes 50 as "5e+01": whole numbers people type stay plain. */
	const char *e = strchr(text, 'e');
	int exponent = e ? atoi(e + 1) : -1;
	if (exponent >= 0 && exponent < 17)
		len = snprintf(text, sizeof text, "%.*g", exponent + 1, v);
	leave_c_numeric(c_locale, previous);
	if (len < 0)
		len = 0;
	if (size > 0) {
		size_t copy = (size_t)len < size ? (size_t)len : size - 1;
		memcpy(buf, text, copy);
		buf[copy] = '\0';
	}
	return (size_t)len;
}
