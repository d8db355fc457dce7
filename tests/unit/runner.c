/*
 * runner.c - the one main() of the unit suites (build/tests/unit_tests).
 *
 *   unit_tests [--list] [SUITE|PATTERN ...]
 *
 * Each tests/unit/test_NAME.c defines `Suite *NAME_suite(void)`; the
 * Makefile writes the list of them (suites.h in the build directory, one
 * FL_SUITE(NAME) a line) from the file names, so a new suite file is run
 * without being registered by hand, and a file without its NAME_suite()
 * fails the link instead of being skipped in silence (libuv's runner has
 * one list of tests; here the list is the directory).
 *
 * With no argument every suite runs in one SRunner; with arguments only the
 * suites whose name is one of them, or matches one taken as a shell pattern
 * ('breaker*' is every breaker suite); an argument that selects nothing is
 * an error, so a typo cannot pass as "0 checks". --list prints the names,
 * one a line: tests/run.sh runs each suite as its own process with them, so
 * `make check` still counts (and times) suites. Everything else is check's
 * own: CK_FORK (a crashing test is a failure, not the end of the run),
 * CK_DEFAULT_TIMEOUT and the timeouts each suite sets, CK_RUN_SUITE,
 * CK_RUN_CASE, CK_VERBOSITY, and the closing line
 * "100%: Checks: N, Failures: 0, Errors: 0".
 */
#include <check.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL_SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef FL_SUITE

static const struct unit_suite {
	const char *name;
	Suite *(*make)(void);
} suites[] = {
#define FL_SUITE(name) {#name, name##_suite},
#include "suites.h"
#undef FL_SUITE
};

#define NSUITES (sizeof suites / sizeof suites[0])

static void usage(FILE *to)
{
	fprintf(to,
		"usage: unit_tests [--list] [SUITE|PATTERN ...]\n"
		"  runs every unit suite, or those named (a shell pattern selects every suite it matches);\n"
		"  --list prints the suite names\n");
}

/* Whether suite i is selected by one of the n arguments; counts, for each
 * argument, the suites it selected. */
static bool selected(size_t i, char **args, int n, unsigned *hits)
{
	bool any = false;
	for (int a = 0; a < n; a++) {
		if (strcmp(args[a], suites[i].name) == 0 || fnmatch(args[a], suites[i].name, 0) == 0) {
			hits[a]++;
			any = true;
		}
	}
	return any;
}

/* The runner of the selected suites; NULL (having said why) when an
 * argument selects none. */
static SRunner *build_runner(char **args, int n)
{
	unsigned *hits = calloc((size_t)n + 1, sizeof *hits);
	SRunner *sr = NULL;
	if (!hits) {
		perror("unit_tests: calloc");
		return NULL;
	}
	for (size_t i = 0; i < NSUITES; i++) {
		if (n > 0 && !selected(i, args, n, hits))
			continue;
		if (!sr)
			sr = srunner_create(suites[i].make());
		else
			srunner_add_suite(sr, suites[i].make());
	}
	for (int a = 0; a < n; a++) {
		if (hits[a] == 0) {
			fprintf(stderr, "unit_tests: no suite is named '%s' (unit_tests --list names them)\n",
				args[a]);
			if (sr)
				srunner_free(sr);
			sr = NULL;
			break;
		}
	}
	free(hits);
	return sr;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < NSUITES; i++)
			printf("%s\n", suites[i].name);
		return EXIT_SUCCESS;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	for (int a = 1; a < argc; a++) {
		if (argv[a][0] == '-') {
			fprintf(stderr, "unit_tests: unknown option '%s'\n", argv[a]);
			usage(stderr);
			return 2;
		}
	}
	SRunner *sr = build_runner(argv + 1, argc - 1);
	if (!sr)
		return 2;
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
