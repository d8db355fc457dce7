/*
 * config_loc.c - recovering the column of a libconfig setting.
 *
 * A name is searched for on the setting's line as a whole word, so
 * `timeout_ms` is not found inside `queue_timeout_ms`; an unnamed list
 * element (a fault group, one of several match strings) is found after its
 * list's name, past the elements before it on that line. Names repeated on
 * one line in different groups still resolve to the first: the price of
 * libconfig not keeping columns, and it only blurs a message, never a rule.
 */
#include "config_loc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters libconfig allows in a setting name. */
static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '*';
}

void fl_text_lines_init(struct fl_text_lines *l, const char *text)
{
	l->text = text;
	l->start = NULL;
	l->count = 0;
	if (text == NULL)
		return;
	unsigned n = 1;
	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	l->start = malloc(n * sizeof(*l->start));
	if (l->start == NULL)
		return;
	l->start[0] = text;
	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		l->start[++l->count] = p + 1;
	l->count++;
}

void fl_text_lines_free(struct fl_text_lines *l)
{
	free(l->start);
	l->start = NULL;
	l->count = 0;
}

static const char *line_start(const struct fl_text_lines *l, unsigned line)
{
	if (l->text == NULL || line == 0)
		return NULL;
	if (l->start != NULL)
		return line <= l->count ? l->start[line - 1] : NULL;
	const char *text = l->text; /* no index (out of memory): walk */
	for (unsigned n = 1; n < line; n++) {
		text = strchr(text, '\n');
		if (text == NULL)
			return NULL;
		text++;
	}
	return text;
}

static size_t line_length(const char *p)
{
	const char *nl = strchr(p, '\n');
	return nl ? (size_t)(nl - p) : strlen(p);
}

unsigned fl_config_first_column(const struct fl_text_lines *lines, unsigned line)
{
	const char *p = line_start(lines, line);
	if (p == NULL)
		return 1;
	size_t n = line_length(p);
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return (unsigned)i + 1;
	return 1;
}

/* Offset of the first occurrence of needle in p[from..n), or n if absent. */
static size_t find_on_line(const char *p, size_t n, size_t from, const char *needle, bool whole_word)
{
	size_t k = strlen(needle);
	for (size_t i = from; k > 0 && i + k <= n; i++) {
		if (memcmp(p + i, needle, k) != 0)
			continue;
		if (whole_word &&
		    ((i > 0 && is_name_char(p[i - 1])) || (i + k < n && is_name_char(p[i + k]))))
			continue;
		return i;
	}
	return n;
}

/* Offset of the (skip+1)-th '{' not nested in an earlier one, skipping strings. */
static size_t find_group_open(const char *p, size_t n, size_t from, unsigned skip)
{
	unsigned depth = 0;
	for (size_t i = from; i < n; i++) {
		if (p[i] == '"') {
			while (++i < n && p[i] != '"')
				i += p[i] == '\\';
		} else if (p[i] == '{') {
			if (depth == 0 && skip-- == 0)
				return i;
			depth++;
		} else if (p[i] == '}' && depth > 0) {
			depth--;
		}
	}
	return n;
}

/* A string value: quoted as in the source, so "tmp/a" is not found inside
 * "unix:/tmp/a"; unquoted if escapes made the source spelling differ. */
static size_t find_string(const char *p, size_t n, size_t from, const char *value, unsigned skip)
{
	char quoted[256];
	int len = snprintf(quoted, sizeof quoted, "\"%s\"", value);
	bool exact = len > 0 && (size_t)len < sizeof quoted;
	const char *needle = exact ? quoted : value;
	size_t at = find_on_line(p, n, from, needle, false);
	while (skip-- > 0 && at < n)
		at = find_on_line(p, n, at + 1, needle, false);
	if (at == n && exact)
		return find_on_line(p, n, from, value, false);
	return at < n && exact ? at + 1 : at;
}

/* Earlier elements of the same list, on the same line, that look alike. */
static unsigned same_line_siblings(const config_setting_t *s, unsigned line)
{
	const config_setting_t *parent = config_setting_parent(s);
	unsigned n = 0;
	for (int i = 0; parent != NULL && i < config_setting_index(s); i++) {
		const config_setting_t *e = config_setting_get_elem(parent, (unsigned)i);
		if (config_setting_source_line(e) != line || config_setting_type(e) != config_setting_type(s))
			continue;
		n += config_setting_type(s) != CONFIG_TYPE_STRING ||
		     strcmp(config_setting_get_string(e), config_setting_get_string(s)) == 0;
	}
	return n;
}

/* An unnamed list element: searched for after its list's name when that
 * stands on the same line, past the siblings that precede it there. */
static size_t element_offset(const char *p, size_t n, const config_setting_t *s, unsigned line)
{
	const config_setting_t *parent = config_setting_parent(s);
	size_t from = 0;
	if (parent != NULL && config_setting_name(parent) != NULL &&
	    config_setting_source_line(parent) == line)
		from = find_on_line(p, n, 0, config_setting_name(parent), true);
	from = from < n ? from : 0;
	unsigned skip = same_line_siblings(s, line);
	if (config_setting_type(s) == CONFIG_TYPE_GROUP)
		return find_group_open(p, n, from, skip);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return n;
	return find_string(p, n, from, config_setting_get_string(s), skip);
}

static unsigned column_of(const struct fl_text_lines *lines, unsigned line, const config_setting_t *s)
{
	const char *p = line_start(lines, line);
	if (p == NULL)
		return 1;
	size_t n = line_length(p);
	size_t at = config_setting_name(s) != NULL ? find_on_line(p, n, 0, config_setting_name(s), true)
						   : element_offset(p, n, s, line);
	return at < n ? (unsigned)at + 1 : fl_config_first_column(lines, line);
}

static bool is_number_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == 'x' ||
	       c == 'X' || c == 'L' || c == '+' || c == '-';
}

const char *fl_config_value_literal(const struct fl_text_lines *lines, const config_setting_t *s, size_t *len)
{
	const char *name = config_setting_name(s);
	unsigned line = config_setting_source_line(s);
	if (name == NULL || config_setting_source_file(s) != NULL)
		return NULL;
	const char *p = line_start(lines, line);
	if (p == NULL)
		return NULL;
	size_t n = line_length(p), k = strlen(name);
	/* The first occurrence of the name followed by '=' or ':' (not one
	 * inside a string before it, nor a longer name). */
	for (size_t at = find_on_line(p, n, 0, name, true); at < n;
	     at = find_on_line(p, n, at + 1, name, true)) {
		size_t i = at + k;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i >= n || (p[i] != '=' && p[i] != ':'))
			continue;
		i++;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		size_t start = i;
		while (i < n && is_number_char(p[i]))
			i++;
		if (i == start)
			return NULL;
		*len = i - start;
		return p + start;
	}
	return NULL;
}

struct fl_loc fl_config_loc(const char *source, const struct fl_text_lines *lines, const config_setting_t *s)
{
	unsigned line = config_setting_source_line(s);
	const char *file = config_setting_source_file(s);
	if (file != NULL)
		return (struct fl_loc){.source = file, .line = line, .col = 0};
	return (struct fl_loc){.source = source, .line = line, .col = column_of(lines, line, s)};
}
