/*
 * config_loc.h - where a libconfig setting stands, as LINE:COL.
 *
 * libconfig records the line of each setting but not its column; messages
 * about a file should point as precisely as those about inline rules, so the
 * column is found again in the source text. Internal to lib/.
 */
#ifndef FL_CONFIG_LOC_H
#define FL_CONFIG_LOC_H

#include <libconfig.h>

#include "diag.h"

/* Where each line of a source text starts, found once: looking a line up
 * is then O(1), so locating every setting of a 10,000-rule file stays
 * linear in its size. */
struct fl_text_lines {
	const char *text;
	const char **start; /* start[i]: line i + 1; NULL when out of memory */
	unsigned count;
};

void fl_text_lines_init(struct fl_text_lines *l, const char *text);
void fl_text_lines_free(struct fl_text_lines *l);

/*
 * The location of setting `s` parsed from `lines`: its line, and the column
 * of its name on that line (of its value for a string list element, of '{'
 * for an unnamed group), else the line's first non-blank column. A setting
 * from an @include'd file is named by that file, without a column.
 */
struct fl_loc fl_config_loc(const char *source, const struct fl_text_lines *lines, const config_setting_t *s);

/*
 * The source text of a named scalar setting's value ("5000000000",
 * "0x10", "-3L"): the bytes after "name =" or "name:" on its line, up to
 * the first byte that cannot belong to a number. NULL when not found (an
 * @include'd file, an unnamed element). libconfig 1.5 keeps an integer
 * that does not fit 32 bits as its low 32 bits, so the value is read again
 * from here; the caller checks that the two agree.
 */
const char *fl_config_value_literal(const struct fl_text_lines *lines, const config_setting_t *s,
				    size_t *len);

/* 1-based column of the first non-blank byte of `line`, 1 if there is none. */
unsigned fl_config_first_column(const struct fl_text_lines *lines, unsigned line);

#endif
