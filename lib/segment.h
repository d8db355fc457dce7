/*
 * segment.h - the shared-memory layout of a domain, defined once.
 *
 * Every process of a user's domain maps /dev/shm/faultline.<uid>.<domain>
 * (fl_seg_path):
 * the shim to keep breakers, bulkheads and counters, the CLI to read and
 * steer them. All fields are fixed-width and naturally aligned, and every
 * field that changes after creation is accessed with __atomic builtins, so
 * a 64-bit value is never torn. Nothing in it is trusted. fl_seg_open
 * checks the file (owner, mode, no symbolic link) and fl_seg_validate the
 * header (magic, version, sizes consistent with the capacity and the
 * mapping); an index read from the segment is checked where it is used
 * (the shim bounds each holder link before following it), and the CLI's
 * snapshot (fl_snapshot_take, lib/reader.c) checks every index, status,
 * enum and string before anything is formatted.
 *
 *   header (4 KiB) | entries[capacity] | procs[FL_SEG_PROCS] | holders[holder_capacity]
 *
 * Entries are claimed lock-free in an open-addressing table keyed by the
 * destination (or, for scope=rule, by the statement's target text). Each is
 * a whole number of cache lines, so hot counters of different destinations
 * never share one.
 */
#ifndef FL_SEGMENT_H
#define FL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "rules.h"
#include "target.h"

#define FL_SEG_MAGIC		UINT64_C(0x31454e494c544c46) /* "FLTLINE1" little-endian */
#define FL_SEG_VERSION		4u
#define FL_SEG_HEADER_SIZE	4096u
#define FL_SEG_PROCS		1024u
#define FL_SEG_CAPACITY_DEFAULT 4096u
#define FL_SEG_CAPACITY_MAX	1048576u
#define FL_SEG_RULE_TEXT	76u /* 2 of them keep an entry at 13 cache lines: 4 MiB for 4096 */
#define FL_SEG_KEY_TEXT		120u
#define FL_WINDOW_BUCKETS	10u
#define FL_SEG_CMD_MAX		56u

/* Breaker states, as stats and Prometheus number them. */
enum fl_breaker_state {
	FL_BREAKER_CLOSED = 0,
	FL_BREAKER_OPEN = 1,
	FL_BREAKER_HALF_OPEN = 2,
	FL_BREAKER_FORCED_OPEN = 3,
	FL_BREAKER_DISABLED = 4,
};

enum fl_entry_status {
	FL_ENTRY_EMPTY = 0,
	FL_ENTRY_CLAIMED = 1, /* being filled by its creator */
	FL_ENTRY_READY = 2,
};

/*
 * has_breaker / has_bulkhead: whether an entry's part is filled in. The
 * first process that needs the part claims it (BUSY), writes its rule text
 * and parameters, then publishes READY with release order; every reader
 * uses the part only once it sees READY (acquire).
 */
enum fl_part_state {
	FL_PART_NONE = 0,
	FL_PART_BUSY = 1,
	FL_PART_READY = 2,
};

enum fl_key_kind {
	FL_KEY_DEST = 1, /* one destination: family, port, addr or path */
	FL_KEY_RULE = 2, /* scope=rule or overflow: the statement's target text */
};

struct fl_seg_key {
	uint8_t kind; /* enum fl_key_kind */
	uint8_t family;
	uint16_t port;
	uint16_t len; /* bytes used in text: unix path, or target text */
	uint16_t reserved;
	uint8_t addr[16];
	char text[FL_SEG_KEY_TEXT];
}; /* 144 bytes */

/* Live-settable parameters: written at creation and by `faultline set`,
 * read by every process on every decision. */
struct fl_seg_breaker_params {
	uint32_t failure_threshold;
	uint32_t success_threshold;
	uint32_t timeout_ms;
	uint32_t half_open_max_requests;
	uint32_t failure_rate_centi; /* failure_rate_threshold * 100 */
	uint32_t min_requests_for_rate;
	uint32_t rolling_window_ms;
	int32_t reject_errno;
	uint8_t scope;
	uint8_t enabled;
	uint8_t reserved[6];
}; /* 40 bytes */

struct fl_seg_bulkhead_params {
	uint32_t max_concurrent_requests;
	uint32_t max_queue_size;
	uint32_t queue_timeout_ms;
	int32_t reject_errno;
	uint8_t scope;
	uint8_t enabled;
	uint8_t reserved[6];
}; /* 24 bytes */

struct fl_seg_breaker {
	/* state (8 bits) | permits in use (24 bits) | generation (32 bits) */
	uint64_t word;
	uint64_t opened_ns;	 /* CLOCK_MONOTONIC of the last move to OPEN */
	uint64_t last_permit_ns; /* when the newest half-open permit was given */
	uint64_t since_ms;	 /* Unix ms of the last transition */
	uint32_t consecutive_failures;
	uint32_t consecutive_successes;
	uint32_t reclaimed_generation; /* last half-open generation whose trials were counted as failed */
	uint32_t reserved;
	uint64_t calls, failures, rejected, transitions;
	/* Rolling window, per bucket: epoch (22 bits) | calls (42), and
	 * epoch (22 bits) | failures (42): 42 bits hold 10 M calls/s for a
	 * bucket of the longest window (2^31 ms / 10 buckets). */
	uint64_t window_calls[FL_WINDOW_BUCKETS];
	uint64_t window_failures[FL_WINDOW_BUCKETS];
	struct fl_seg_breaker_params p;
}; /* 40 + 8 + 32 + 160 + 40 = 280 bytes */

struct fl_seg_bulkhead {
	uint32_t active;
	uint32_t queued;
	uint32_t wake_seq; /* futex word: bumped whenever a waiter may now be admitted */
	uint32_t peak_active;
	uint64_t rejected;
	uint64_t timeouts;
	struct fl_seg_bulkhead_params p;
	uint32_t next_ticket; /* arrival numbers of queue places: waiters are served in this order */
	uint32_t reserved;
}; /* 32 + 24 + 8 = 64 bytes */

struct fl_seg_op_stats {
	uint64_t calls;
	uint64_t errors_injected;
	uint64_t delays_injected;
	uint64_t delay_ms_total;
}; /* 32 bytes */

/*
 * SPEC 11's breaker keys and counters, kept beside the breaker (at the end
 * of the entry, so the older fields keep their places). Parameters are
 * live-settable like fl_seg_breaker_params.
 */
struct fl_seg_breaker_x {
	uint32_t slow_call_duration_ms; /* 0 = no call is slow */
	uint32_t slow_rate_centi;	/* slow_call_rate_threshold * 100 */
	uint32_t timeout_max_ms;	/* 0 = timeout_ms */
	uint32_t multiplier_centi;	/* timeout_multiplier * 100 */
	uint8_t mode;			/* enum fl_breaker_mode */
	uint8_t fallback_family;	/* 0 = no fallback */
	uint16_t fallback_port;
	uint32_t open_ms; /* the open time now: grows on each re-opening, timeout_ms after a close; 0 =
			     timeout_ms */
	uint8_t fallback_addr[16];
	uint64_t slow_calls;   /* attempts slower than slow_call_duration_ms (failed or not) */
	uint64_t would_reject; /* mode=observe: rejections an enforcing breaker would have made */
	uint64_t fallbacks;    /* connects sent to the fallback instead */
	/* epoch (22 bits) | slow calls (42), as window_calls */
	uint64_t window_slow[FL_WINDOW_BUCKETS];
}; /* 40 + 24 + 80 = 144 bytes */

struct fl_seg_ratelimit_params {
	uint32_t rate; /* connections per second */
	uint32_t burst;
	uint32_t max_delay_ms;
	int32_t reject_errno;
	uint8_t action; /* enum fl_rate_action */
	uint8_t scope;
	uint8_t reserved[6];
}; /* 24 bytes */

/* A token bucket as one word (lib/ratelimit.h). */
struct fl_seg_ratelimit {
	uint64_t tat_ns; /* theoretical arrival time, CLOCK_MONOTONIC ns (atomic) */
	uint64_t admitted, rejected, delayed;
	struct fl_seg_ratelimit_params p;
}; /* 32 + 24 = 56 bytes */

struct fl_seg_entry {
	uint32_t status; /* enum fl_entry_status */
	uint32_t hash;
	uint8_t has_breaker;	/* enum fl_part_state */
	uint8_t has_bulkhead;	/* enum fl_part_state */
	uint8_t overflow_entry; /* a rule entry that also carries overflow */
	uint8_t reserved[5];
	uint64_t created_ms;
	struct fl_seg_key key;
	char breaker_rule[FL_SEG_RULE_TEXT]; /* statement text, truncated */
	char bulkhead_rule[FL_SEG_RULE_TEXT];
	struct fl_seg_breaker breaker;
	struct fl_seg_bulkhead bulkhead;
	struct fl_seg_op_stats ops[FL_OP_COUNT];
	uint64_t overflow_count; /* destinations folded into this entry */
	/* version 4 (SPEC 11) */
	struct fl_seg_breaker_x breaker_x; /* read only while has_breaker is READY */
	uint8_t has_ratelimit;		   /* enum fl_part_state */
	uint8_t reserved_x[7];
	struct fl_seg_ratelimit ratelimit;
} __attribute__((aligned(64))); /* 24 + 144 + 192 + 280 + 64 + 160 + 8 = 872, padded to 896 */

enum fl_proc_status {
	FL_PROC_FREE = 0,
	FL_PROC_CLAIMED = 1,
	FL_PROC_LIVE = 2,
};

/*
 * A liveness token the kernel gives back when the process ends, so that a
 * process whose pid cannot be seen (another PID namespace) is not taken
 * for dead: see procreg.h.
 */
enum fl_proc_token {
	FL_PROC_TOKEN_NONE = 0, /* only the pid and start time tell */
	FL_PROC_TOKEN_OFD = 1,	/* holds an OFD lock on its byte of the segment file */
};

struct fl_seg_proc {
	uint32_t status; /* enum fl_proc_status */
	uint32_t pid;
	uint32_t generation;  /* bumped each time the slot is reused */
	uint32_t token;	      /* enum fl_proc_token: how else to tell it is alive */
	uint64_t start_ticks; /* /proc/PID/stat field 22: tells a reused pid apart */
	uint64_t attach_ms;
	char cmd[FL_SEG_CMD_MAX];
}; /* 88 bytes */

/*
 * One process's share of a bulkhead slot. A slot is taken by one process
 * (its record is the slot's primary, counting the shares in refs); after
 * fork the child gets a record of its own pointing at the primary. The slot
 * is given back when the last share goes: closed, exited, or reaped after a
 * crash - each process dropping only its own share.
 */
struct fl_seg_holder {
	uint32_t entry_plus1; /* 0 = free, FL_HOLDER_CLAIMING while being filled */
	uint32_t proc;
	uint32_t proc_generation;
	uint32_t refs;	  /* on a primary: shares of the slot still held */
	uint32_t primary; /* the slot's primary record (itself for the first share) */
	uint32_t live;	  /* enum fl_share_state */
	uint32_t ticket;  /* a queue place's arrival number (bulkhead next_ticket) */
};

enum fl_share_state {
	FL_SHARE_GONE = 0,
	FL_SHARE_HELD = 1,    /* this record's own share of the slot is held */
	FL_SHARE_WAITING = 2, /* a place in the bulkhead's queue, not yet a slot */
};

struct fl_seg_header {
	uint64_t magic; /* written last by the creator: the segment is ready */
	uint32_t version;
	uint32_t header_size;
	uint64_t total_size;
	uint32_t capacity;
	uint32_t proc_capacity;
	uint32_t holder_capacity;
	uint32_t entry_size;
	uint32_t proc_size;
	uint32_t holder_size;
	uint64_t created_ms;
	uint32_t entries_used; /* claimed entries (atomic) */
	uint32_t creator_pid;
	uint64_t overflow; /* destinations that found the table full (atomic) */
	char domain[72];
}; /* 144 bytes, in a page of its own (FL_SEG_HEADER_SIZE) */

/*
 * Exact sizes: a field added, removed or re-padded changes one of them, and
 * whoever changes it must bump FL_SEG_VERSION (older processes would read
 * the new layout wrongly) and look at the forgers (seg_forge.py,
 * helper_seglayout.c), which follow these sizes.
 */
_Static_assert(sizeof(struct fl_seg_key) == 144, "segment key layout");
_Static_assert(sizeof(struct fl_seg_breaker_params) == 40, "breaker parameters layout");
_Static_assert(sizeof(struct fl_seg_bulkhead_params) == 24, "bulkhead parameters layout");
_Static_assert(sizeof(struct fl_seg_breaker) == 280, "breaker layout");
_Static_assert(sizeof(struct fl_seg_bulkhead) == 64, "bulkhead layout");
_Static_assert(sizeof(struct fl_seg_op_stats) == 32, "per-call counters layout");
_Static_assert(sizeof(struct fl_seg_breaker_x) == 144, "breaker additions layout");
_Static_assert(sizeof(struct fl_seg_ratelimit_params) == 24, "rate limit parameters layout");
_Static_assert(sizeof(struct fl_seg_ratelimit) == 56, "rate limit layout");
_Static_assert(sizeof(struct fl_seg_entry) == 1088, "entry layout");
_Static_assert(sizeof(struct fl_seg_entry) % 64 == 0, "entries fill whole cache lines");
_Static_assert(FL_SEG_HEADER_SIZE + FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_entry) +
		       FL_SEG_PROCS * sizeof(struct fl_seg_proc) +
		       4 * FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_holder) <=
		   6u << 20,
	       "a segment of 4096 destinations (holders: 4 a destination) fits in 6 MiB (4 until version 4)");
_Static_assert(sizeof(struct fl_seg_proc) == 88, "process record layout");
_Static_assert(sizeof(struct fl_seg_holder) == 28, "holder layout");
_Static_assert(sizeof(struct fl_seg_header) == 144, "header layout");
_Static_assert(sizeof(struct fl_seg_header) <= FL_SEG_HEADER_SIZE, "header fits its page");

/* A mapped, validated segment. */
struct fl_seg {
	/* The segment file, kept open (close-on-exec, at a high number) for the
	 * liveness locks of procreg.h; -1 (or 0, in a zeroed struct) when there
	 * is none: fl_seg_open always moves it to 3 or above. dev and ino
	 * identify the file, to find it again after fork. */
	int fd;
	uint64_t dev, ino;
	struct fl_seg_header *hdr;
	struct fl_seg_entry *entries;
	struct fl_seg_proc *procs;
	struct fl_seg_holder *holders;
	size_t size;
	uint32_t capacity;
	uint32_t holder_capacity;
};

/* The holder table is sized from the capacity: 4 held slots per entry. */
uint32_t fl_seg_holder_capacity(uint32_t capacity);
size_t fl_seg_size(uint32_t capacity);

/*
 * Where segments live: FL_SEG_DIR/FL_SEG_FILE_PREFIX<uid>.<domain>, e.g.
 * "/dev/shm/faultline.1000.web". fl_seg_path builds that path; it returns
 * -1 if the domain name is invalid (or the path would not fit). A buffer of
 * FL_SEG_PATH_MAX bytes always fits.
 */
#define FL_SEG_DIR	   "/dev/shm"
#define FL_SEG_FILE_PREFIX "faultline."
#define FL_SEG_PATH_MAX	   128u
int fl_seg_path(char *buf, size_t size, unsigned uid, const char *domain);
bool fl_domain_name_valid(const char *domain);
/* What to say of a name fl_domain_name_valid refuses: a format taking the name. */
#define FL_DOMAIN_NAME_INVALID "'%s' is not a domain name ([A-Za-z0-9_.-], 1 to 64 characters)"

/*
 * Lays out a fresh segment in memory of fl_seg_size(capacity) zeroed bytes;
 * writes the magic last. The caller publishes the mapping.
 */
void fl_seg_format(void *mem, uint32_t capacity, const char *domain, uint64_t now_ms, uint32_t pid);

/*
 * Checks a mapped segment of `size` bytes before anything in it is used:
 * magic, version, sizes consistent with capacity and with `size`. Fills
 * *seg on success.
 */
int fl_seg_validate(void *mem, size_t size, struct fl_seg *seg, const char *what, struct fl_diag *d);

/*
 * Opens (creating it if absent) or only attaches to the named domain.
 * `create` false: a missing segment is an error. Checks owner, mode and
 * size with fstat on the descriptor (O_NOFOLLOW: a symlink is refused).
 */
int fl_seg_open(struct fl_seg *seg, const char *domain, uint32_t capacity, bool create, uint64_t now_ms,
		struct fl_diag *d);
void fl_seg_close(struct fl_seg *seg);

/* Is seg->fd a descriptor of the segment file? */
bool fl_seg_has_fd(const struct fl_seg *seg);

/*
 * After fork: gives this process an open file description of its own for
 * the segment file (the inherited one is shared with the parent, and with
 * it the parent's liveness lock). Closes this process's copy of the old
 * one. Without /dev/shm access (or if the file was replaced) seg->fd
 * becomes -1: liveness falls back to the pid. Async-signal-safe.
 */
void fl_seg_reopen(struct fl_seg *seg);

/* Key of a destination / of a statement's target, with its hash. */
void fl_seg_key_dest(struct fl_seg_key *k, const struct fl_dest *d);
void fl_seg_key_rule(struct fl_seg_key *k, const struct fl_target *t);
uint32_t fl_seg_key_hash(const struct fl_seg_key *k);

/* "127.0.0.1:6379" or the rule's target text. */
size_t fl_seg_key_format(const struct fl_seg_key *k, char *buf, size_t size);

/*
 * Finds the entry for key, or creates it and runs init(entry, arg) before
 * publishing it. Returns NULL when the table is full (the caller falls back
 * to the rule entry and counts overflow). Lock-free; async-signal-safe.
 */
struct fl_seg_entry *fl_seg_lookup(struct fl_seg *seg, const struct fl_seg_key *key,
				   void (*init)(struct fl_seg_entry *, void *), void *arg);

/* The same, but creates an entry only while fewer than limit are in use:
 * destinations stop short of the places kept for the rules' own entries
 * (overflow and scope=rule), so those can always be created. */
struct fl_seg_entry *fl_seg_lookup_limited(struct fl_seg *seg, const struct fl_seg_key *key,
					   void (*init)(struct fl_seg_entry *, void *), void *arg,
					   uint32_t limit);

/* The ready entry at index i, or NULL (bounds- and status-checked). */
struct fl_seg_entry *fl_seg_entry_at(const struct fl_seg *seg, uint32_t i);

#endif
