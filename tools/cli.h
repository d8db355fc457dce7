/*
 * cli.h - what every subcommand of `faultline` shares: the parsed command
 * line, and reporting errors the one way SPEC fixes ("faultline: ...",
 * exit 0 success, 1 runtime failure, 2 usage or configuration error).
 */
#ifndef FL_CLI_H
#define FL_CLI_H

#include <stdbool.h>

#include "rules.h"

enum { FL_EXIT_OK = 0, FL_EXIT_RUNTIME = 1, FL_EXIT_USAGE = 2 };

struct fl_cli {
	const char *command; /* "run", "check", ... */
	const char *rules, *config, *domain, *seed, *watch;
	const char *listen, *token_file; /* serve */
	bool json, prometheus, all, force, help;
	const char *since;	      /* events */
	bool follow;		      /* events */
	const char *name, *for_time;  /* apply --name, --for */
	bool supervise, no_supervise; /* run: SPEC 13 */
	char **operands;	      /* non-option words after the command */
	int noperands;
	char **exec_argv; /* run: the command to execute (NULL-terminated) */
	char **argv;	  /* the whole command line, for error columns (`set`) */
	int argc;
	const char *rules_src; /* the name --rules text has in errors (serve: "rules"); NULL: "--rules" */
};

/* Prints "faultline: MSG" to standard error; returns code. */
int fl_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * While set (per thread), fl_cli_fail stores its message and code here
 * instead of printing: `faultline serve` runs trip, reset and set through
 * the very functions of the CLI and answers their errors over HTTP.
 */
struct fl_cli_capture {
	int code;
	char msg[2048];
};
extern __thread struct fl_cli_capture *fl_cli_capture_to;

/* "faultline: warning: ..." on stderr, one line per warning d collected. */
void fl_cli_warnings(const struct fl_diag *d);

/*
 * Loads the rules named by --rules / --config, or, when neither is given,
 * by FAULTLINE_RULES / FAULTLINE_CONFIG. Prints warnings; on error prints
 * it and returns -1.
 */
int fl_cli_load_rules(const struct fl_cli *cli, struct fl_ruleset *rs);

/* What kind of program a command is, as far as preloading goes. */
enum fl_elf_kind {
	FL_ELF_UNKNOWN = 0,
	FL_ELF_DYNAMIC, /* the shim will see its libc calls */
	FL_ELF_STATIC,	/* no dynamic loader: LD_PRELOAD never applies */
	FL_ELF_GO,	/* Go: system calls made without libc */
	FL_ELF_SCRIPT,	/* #!: its interpreter decides */
};

/* Classifies the file execvp would run for cmd; its path goes to path. */
enum fl_elf_kind fl_elf_classify(const char *cmd, char *path, size_t size);

/* Warns on standard error when the shim cannot see cmd's calls. */
void fl_elf_warn(const char *cmd);

int fl_cmd_run(const struct fl_cli *cli);
int fl_cmd_check(const struct fl_cli *cli);
int fl_cmd_stats(const struct fl_cli *cli);
int fl_cmd_top(const struct fl_cli *cli);
int fl_cmd_trip(const struct fl_cli *cli);
/* trip of a destination not in the domain yet (cmd_trip_new.c). */
int fl_cli_trip_new(const struct fl_cli *cli, const char *dest);
int fl_cmd_reset(const struct fl_cli *cli);
int fl_cmd_set(const struct fl_cli *cli);
int fl_cmd_ps(const struct fl_cli *cli);
int fl_cmd_domains(const struct fl_cli *cli);
int fl_cmd_clear(const struct fl_cli *cli);
int fl_cmd_events(const struct fl_cli *cli);

/* One event of the log (lib/events.h) as `faultline events` prints it:
 * a JSON object on a line, or a human line (time with or without date). */
struct fl_out;
struct fl_event;
void fl_cli_event_json(struct fl_out *o, const struct fl_event *ev);
void fl_cli_event_line(struct fl_out *o, const struct fl_event *ev, bool with_date);

int fl_cmd_apply(const struct fl_cli *cli);
int fl_cmd_remove(const struct fl_cli *cli);
int fl_cmd_heal(const struct fl_cli *cli);
int fl_cmd_layers(const struct fl_cli *cli);
int fl_cmd_play(const struct fl_cli *cli);

/* ---- layers (tools/cmd_layers.c), shared with play ---- */

struct fl_layers_view;
struct fl_seg;
/* Adds (or replaces) a layer of rs, creating the domain if needed; for_ms
 * 0 = for ever. The name used (generated when name is NULL) goes to
 * applied. Prints errors; returns the exit code. */
int fl_layers_cli_apply(const char *domain, const char *name, const struct fl_ruleset *rs, uint64_t for_ms,
			char *applied, size_t size);
/* Removes the named layers (or all); *removed counts them. A missing name
 * is an error (exit 1) unless quiet_missing. */
int fl_layers_cli_remove(const char *domain, char *const *names, int n, bool all, unsigned *removed,
			 bool quiet_missing);
/* One line naming the active layers for `top` ("layers: a, b (expires
 * in 12s)"), or "" when there are none or the table is being written. */
void fl_layers_summary(const struct fl_seg *seg, char *out, size_t size);
/* The `layers` listing, as text or the JSON array. */
void fl_layers_format(struct fl_out *o, const struct fl_layers_view *v, uint64_t now, bool json);
/* `faultline apply` without its line on stdout (shared with serve's PUT):
 * checks cli's --rules/--config, --for, --name, applies; the layer's name
 * goes to name, its statement count to *count. Prints errors; exit code. */
int fl_layers_apply_cli(const struct fl_cli *cli, char *name, size_t size, size_t *count, uint64_t *for_ms);
/* `faultline layers [--json]` of domain appended to o (shared with serve's
 * GET /api/v1/layers). Prints errors; exit code. */
int fl_layers_list(const char *domain, struct fl_out *o, bool json);
/* `events --since` (shared with serve's ?since=): a bare number is Unix ms,
 * a DURATION (250ms, 30s, 5m, 2h) that long before now_ms. -1 if neither. */
int fl_events_since_parse(const char *text, uint64_t now_ms, uint64_t *since);

int fl_cmd_serve(const struct fl_cli *cli);

/* ---- commands that read a domain (tools/domain_open.c) ---- */

struct fl_seg;
struct fl_snapshot;
struct fl_out;

/* --domain, else $FAULTLINE_DOMAIN, else "default". */
const char *fl_cli_domain(const struct fl_cli *cli);

/* Unix time in milliseconds, as the segment records it. */
uint64_t fl_cli_now_ms(void);

/*
 * Maps an existing domain (owner, mode and header checked by fl_seg_open)
 * and takes a validated snapshot of it (reader.h). With reap (stats, top),
 * once that snapshot has shown the segment sound, gives back what dead
 * processes held and, if that changed anything, snapshots again: the
 * figures shown are the ones the next connect will meet. On failure writes
 * the message ("domain 'x' does not exist", "...: corrupt segment: ...") to
 * msg and returns the exit code (1, or 2 for a bad domain name); nothing
 * is left mapped. On success the caller owns both: fl_snapshot_free,
 * fl_seg_close.
 */
int fl_cli_snapshot(const char *domain, struct fl_seg *seg, struct fl_snapshot *snap, char *msg, size_t size,
		    bool reap);

/* The same, printing the message as "faultline: ...". */
int fl_cli_open_domain(const struct fl_cli *cli, struct fl_seg *seg, struct fl_snapshot *snap);

/* --watch SECS: seconds, decimals allowed; prints the error and returns 2 if invalid. */
int fl_cli_parse_interval(const char *text, double *secs);

/* Writes o to standard output; FL_EXIT_RUNTIME if it could not (out of memory, write error). */
int fl_cli_print(const struct fl_out *o);

#endif
