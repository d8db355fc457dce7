/*
 * fuzz_common.h - what the libFuzzer harnesses share.
 *
 * A harness must turn a wrong result into a crash, or libFuzzer never sees
 * it: FUZZ_CHECK aborts with the failed condition and a message. Sanitizers
 * (address, undefined with -fno-sanitize-recover) do the same for memory
 * and undefined-behaviour errors.
 */
#ifndef FL_FUZZ_COMMON_H
#define FL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                                \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz check failed: %s: ", #cond);                                   \
			fprintf(stderr, __VA_ARGS__);                                                        \
			fputc('\n', stderr);                                                                 \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

/* The input as a NUL-terminated string (embedded NULs end it early, as
 * they would in an environment variable or a file read as text). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *t = malloc(size + 1);
	if (!t)
		abort();
	memcpy(t, data, size);
	t[size] = '\0';
	return t;
}

/* A diagnostic is always one terminated message, and non-empty on error. */
static inline void fuzz_check_diag(const char *error, size_t cap, int rc)
{
	FUZZ_CHECK(memchr(error, '\0', cap) != NULL, "error message not terminated");
	if (rc < 0)
		FUZZ_CHECK(error[0] != '\0', "failed without a message");
	else
		FUZZ_CHECK(error[0] == '\0', "succeeded with a message: %s", error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
