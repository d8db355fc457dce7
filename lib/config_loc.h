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

/*
 * The location of setting `s` parsed from `text`: its line, and the column
 * of its name on that line (of its value for a string list element, of '{'
 * for an unnamed group), else the line's first non-blank column. A setting
 * from an @include'd file is named by that file, without a column.
 */
struct fl_loc fl_config_loc(const char *source, const char *text, const config_setting_t *s);

/* 1-based column of the first non-blank byte of `line`, 1 if there is none. */
unsigned fl_config_first_column(const char *text, unsigned line);

#endif
