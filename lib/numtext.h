/*
 * numtext.h - numbers in rule text: strict to read, shortest to write.
 *
 * Rules are configuration: "5x", "0x10", " 3" or "1e999" are mistakes, not
 * numbers, and strtoull/strtod would quietly accept or wrap them. These
 * helpers accept exactly the decimal forms a person writes and print
 * doubles in the shortest form that reads back as the same value (0.5, 50,
 * 0.01), so `faultline check` output is both exact and readable. Both ignore
 * the process locale: a host program's setlocale() must not change what a
 * rule means. Internal to lib/.
 */
#ifndef FL_NUMTEXT_H
#define FL_NUMTEXT_H

#include <stddef.h>
#include <stdint.h>

enum fl_num_status {
	FL_NUM_OK = 0,
	FL_NUM_SYNTAX = -1, /* not a number of the expected form */
	FL_NUM_RANGE = -2,  /* a well-formed number that cannot be held ("-1", 2^64) */
};

/* Digits only ("-digits" reads as FL_NUM_RANGE). */
enum fl_num_status fl_parse_uint(const char *s, size_t n, uint64_t *out);

/* [-]digits[.digits][e[+-]digits] or [-].digits..., finite. */
enum fl_num_status fl_parse_real(const char *s, size_t n, double *out);

/* Shortest text that fl_parse_real reads back as v; like snprintf's return. */
size_t fl_format_real(double v, char *buf, size_t size);

#endif
