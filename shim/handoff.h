/*
 * handoff.h - bulkhead slot shares handed over at fork and at exec
 * (handoff.c says how). fork.c and exec.c call these around the real
 * calls; init.c's adoption of inherited sockets takes the exec shares.
 */
#ifndef FL_HANDOFF_H
#define FL_HANDOFF_H

#include <stdint.h>

/* exec hands the new program the socket inodes (hex dev:ino, comma
 * separated) this process tree connected; only those are adopted. */
#define FL_EXEC_SOCKETS_VAR "FAULTLINE_EXEC_SOCKETS"
#define FL_EXEC_SOCKETS_MAX 64u

/* After exec: attach finds the shares the record held before exec; an
 * adopted connection takes back its share of a bulkhead slot; then the
 * shares nobody took are released. */
struct fl_conn;
void fl_handoff_exec_find_shares(void);
void fl_handoff_exec_take_share(struct fl_conn *c);
void fl_handoff_exec_release_rest(void);

/*
 * fork: prepare (in the parent, before the real fork) reserves a share of
 * every held bulkhead slot for the child, recording each reservation in
 * res (at most max; returns how many); the child registers itself, takes
 * the shares of the connections it still has and gives back the rest
 * (fork_child); if fork failed the parent gives them all back (fork_failed).
 */
struct fl_fork_share {
	struct fl_conn *conn;
	uint32_t holder;
	uint32_t adopted;
};
#define FL_FORK_SHARES_MAX 128u

uint32_t fl_handoff_fork_prepare(struct fl_fork_share *res, uint32_t max);

/* A child whose fork our wrapper never saw: registers itself, and takes no
 * share of inherited slots (none was reserved for it): the parent keeps
 * them, and the child's close of an inherited socket gives nothing back. */
void fl_handoff_fork_unseen(void);
void fl_handoff_fork_child(struct fl_fork_share *res, uint32_t n);
void fl_handoff_fork_failed(struct fl_fork_share *res, uint32_t n);

#endif
