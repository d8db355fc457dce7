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
 *   | events (64-byte aligned: a region header, then FL_SEG_EVENTS records; lib/events.h)
 *   | layers
 *
 * The layers region (SPEC 7) holds the domain's live rule sets: written
 * only by the CLI (lib/layers.h), read by every process under a
 * seqlock-style generation counter.
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
#define FL_SEG_RULE_TEXT	68u  /* with the key text, keeps an entry at 13 cache lines: 4 MiB for 4096 */
#define FL_SEG_KEY_TEXT		104u /* v4: 120 -> 104 and rule text 76 -> 68 paid for op resolve */
#define FL_WINDOW_BUCKETS	10u
#define FL_SEG_CMD_MAX		56u
#define FL_SEG_EVENTS		1024u /* a power of two: the ring's slots (lib/events.h) */
#define FL_SEG_EVENT_DEST	48u   /* "[1111:2222:3333:4444:5555:6666:7777:8888]:65535" fits */
#define FL_SEG_EVENT_TEXT	32u

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
	FL_KEY_DEST = 1, /* one destination: family, port, addr or path; FL_AF_NAME: NAME:PORT in text */
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
}; /* 128 bytes */

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
	uint32_t next_ticket;  /* arrival numbers of queue places: waiters are served in this order */
	uint32_t event_second; /* Unix second of the last rejection/timeout event (lib/events.h) */
};			       /* 32 + 24 + 8 = 64 bytes */

struct fl_seg_op_stats {
	uint64_t calls;
	uint64_t errors_injected;
	uint64_t delays_injected;
	uint64_t delay_ms_total;
}; /* 32 bytes */

/* Connection faults and shaping of one op (SPEC 10): what they did. */
struct fl_seg_conn_stats {
	uint64_t shape_waits;	  /* calls that had to wait for their shape budget */
	uint64_t shaped_bytes;	  /* bytes those calls moved */
	uint64_t shape_wait_ns;	  /* time they waited for the budget */
	uint64_t short_io;	  /* calls cut short by max_bytes */
	uint64_t eofs;		  /* eof=true answers */
	uint64_t hangs;		  /* hang_ms blackholes */
	uint64_t resets;	  /* connections ended by close_after_bytes */
	uint64_t corrupted_bytes; /* bytes flipped by corrupt= */
};				  /* 64 bytes */

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
	/* Version 4: connection faults and shaping (SPEC 10). */
	struct fl_seg_conn_stats conn[FL_OP_COUNT];
	uint64_t shape_due_ns;	       /* the shared token bucket of scope=destination|rule (lib/shape.h) */
	uint64_t close_delays;	       /* on=close delays */
	uint64_t close_delay_ms_total; /* their length */
	/* Unix seconds of the last rate_limit rejected / delayed and fallback
	 * events (lib/events.c: one a second per destination; atomic). */
	uint32_t ev_rl_rejected_s, ev_rl_delayed_s, ev_fallback_s, ev_reserved;
	uint64_t reserved_v4[3];
	/* version 4 (SPEC 11) */
	struct fl_seg_breaker_x breaker_x; /* read only while has_breaker is READY */
	uint8_t has_ratelimit;		   /* enum fl_part_state */
	uint8_t reserved_x[7];
	struct fl_seg_ratelimit ratelimit;
} __attribute__((aligned(64)));

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
 * The event ring (lib/events.h). head counts the events ever begun; event
 * n lives in record n % FL_SEG_EVENTS, whose seq word is 2n+1 while it is
 * written and 2n+2 once published. capacity and record_size are written at
 * creation and only checked afterwards: nobody indexes with them.
 */
struct fl_seg_events_hdr {
	uint64_t head;
	uint32_t capacity;    /* FL_SEG_EVENTS */
	uint32_t record_size; /* sizeof(struct fl_seg_event) */
	uint64_t lost;	      /* writers that found their record taken by a later lap */
	uint8_t reserved[40];
}; /* 64 bytes */

struct fl_seg_event {
	uint64_t seq;	  /* 2n+1 writing, 2n+2 published */
	uint32_t sum;	  /* checksum of the record with sum = 0, mixed with seq */
	uint32_t pid;	  /* the process it is about (or that wrote it) */
	uint64_t time_ms; /* Unix ms */
	uint8_t kind;	  /* enum fl_event_kind */
	uint8_t what;	  /* the kind's own code */
	uint8_t a, b;	  /* small details: breaker from/to, fault op */
	uint32_t v1, v2, v3;
	uint64_t count;
	char dest[FL_SEG_EVENT_DEST];
	char text[FL_SEG_EVENT_TEXT];
}; /* 48 + 48 + 32 = 128 bytes */

/*
 * Exact sizes: a field added, removed or re-padded changes one of them, and
 * whoever changes it must bump FL_SEG_VERSION (older processes would read
 * the new layout wrongly) and look at the forgers (seg_forge.py,
 * helper_seglayout.c), which follow these sizes.
 */
_Static_assert(sizeof(struct fl_seg_key) == 128, "segment key layout");
_Static_assert(sizeof(struct fl_seg_breaker_params) == 40, "breaker parameters layout");
_Static_assert(sizeof(struct fl_seg_bulkhead_params) == 24, "bulkhead parameters layout");
_Static_assert(sizeof(struct fl_seg_breaker) == 280, "breaker layout");
_Static_assert(sizeof(struct fl_seg_bulkhead) == 64, "bulkhead layout");
_Static_assert(sizeof(struct fl_seg_op_stats) == 32, "per-call counters layout");
_Static_assert(sizeof(struct fl_seg_conn_stats) == 64, "connection-fault counters layout");
_Static_assert(sizeof(struct fl_seg_entry) == 1536, "entry layout");
_Static_assert(sizeof(struct fl_seg_breaker_x) == 144, "breaker additions layout");
_Static_assert(sizeof(struct fl_seg_ratelimit_params) == 24, "rate limit parameters layout");
_Static_assert(sizeof(struct fl_seg_ratelimit) == 56, "rate limit layout");
_Static_assert(sizeof(struct fl_seg_entry) % 64 == 0, "entries fill whole cache lines");
_Static_assert(FL_SEG_HEADER_SIZE + FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_entry) +
		       FL_SEG_PROCS * sizeof(struct fl_seg_proc) +
		       4 * FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_holder) <=
		   8u << 20,
	       "a segment of 4096 destinations (holders: 4 a destination) fits in 8 MiB");
_Static_assert(sizeof(struct fl_seg_proc) == 88, "process record layout");
_Static_assert(sizeof(struct fl_seg_holder) == 28, "holder layout");
_Static_assert(sizeof(struct fl_seg_header) == 144, "header layout");
_Static_assert(sizeof(struct fl_seg_header) <= FL_SEG_HEADER_SIZE, "header fits its page");
_Static_assert(sizeof(struct fl_seg_events_hdr) == 64, "event region header layout");
_Static_assert(sizeof(struct fl_seg_event) == 128, "event record layout");
_Static_assert((FL_SEG_EVENTS & (FL_SEG_EVENTS - 1)) == 0, "the event ring is a power of two");
_Static_assert(FL_SEG_HEADER_SIZE + FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_entry) +
		       FL_SEG_PROCS * sizeof(struct fl_seg_proc) +
		       4 * FL_SEG_CAPACITY_DEFAULT * sizeof(struct fl_seg_holder) + 64 +
		       sizeof(struct fl_seg_events_hdr) + FL_SEG_EVENTS * sizeof(struct fl_seg_event) <=
		   8u << 20,
	       "with its event ring, a segment of 4096 destinations fits in 8 MiB");

/*
 * Layers (SPEC 7): named rule sets every process of the domain applies.
 * A fixed table of layers and a fixed pool of compiled statements, plain
 * data (no pointers). gen is a seqlock: odd while a CLI writes, even when
 * stable; writers serialise with an OFD lock (lib/layers.h). A layer's
 * word is its apply order << 8 | state, so the shim can mark exactly that
 * layer expired with a compare-and-swap, never a layer that replaced it.
 */
#define FL_SEG_LAYERS	   32u
#define FL_SEG_LAYER_STMTS 256u
#define FL_SEG_LAYER_NAME  64u
#define FL_SEG_STMT_TEXT   224u

enum fl_layer_state {
	FL_LAYER_FREE = 0,
	FL_LAYER_ACTIVE = 1,
	FL_LAYER_EXPIRED = 2, /* its --for ran out: treated as absent, freed by the next writer */
};

struct fl_seg_layer {
	uint64_t word; /* order << 8 | enum fl_layer_state (atomic) */
	uint64_t applied_ms;
	uint64_t expires_ms; /* Unix ms, 0 = never */
	uint32_t nstmts;
	uint32_t reserved;
	char name[FL_SEG_LAYER_NAME];
}; /* 96 bytes */

union fl_seg_stmt_params {
	struct fl_breaker_params breaker;
	struct fl_bulkhead_params bulkhead;
	struct fl_fault_params fault;
};

struct fl_seg_stmt {
	uint32_t layer_plus1; /* 0 = free slot */
	uint32_t index;	      /* its place in its layer */
	uint64_t uid;	      /* new for every statement written: per-process counters restart */
	struct fl_target target;
	uint8_t kind; /* enum fl_kind */
	uint8_t reserved[3];
	union fl_seg_stmt_params u;
	char text[FL_SEG_STMT_TEXT]; /* canonical statement, NUL-terminated */
};				     /* 760 bytes */

struct fl_seg_layers {
	uint32_t gen; /* seqlock: odd while written (atomic) */
	uint32_t reserved0;
	uint64_t next_order; /* apply order of the next layer */
	uint64_t next_uid;   /* uid of the next statement */
	uint8_t reserved[40];
	struct fl_seg_layer layers[FL_SEG_LAYERS];
	struct fl_seg_stmt stmts[FL_SEG_LAYER_STMTS];
};

_Static_assert(sizeof(struct fl_target) == 390, "target layout (kept in layer statements)");
_Static_assert(sizeof(struct fl_fault_params) == 120, "fault parameters layout");
_Static_assert(sizeof(union fl_seg_stmt_params) == 120, "statement parameters layout");
_Static_assert(sizeof(struct fl_seg_layer) == 96, "layer layout");
_Static_assert(sizeof(struct fl_seg_stmt) == 760, "layer statement layout");
_Static_assert(sizeof(struct fl_seg_layers) == 64 + 32 * 96 + 256 * 760, "layers region layout");

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
	struct fl_seg_layers *layers;
	size_t size;
	uint32_t capacity;
	uint32_t holder_capacity;
	struct fl_seg_events_hdr *ev_hdr; /* the event ring (lib/events.h) */
	struct fl_seg_event *events;
};

/* Where the event region starts: the end of the holders, rounded up to 64. */
size_t fl_seg_events_offset(uint32_t capacity);

/* The holder table is sized from the capacity: 4 held slots per entry. */
uint32_t fl_seg_holder_capacity(uint32_t capacity);
size_t fl_seg_size(uint32_t capacity);
/* Where the layers region starts: after the event ring, on a cache line. */
size_t fl_seg_layers_offset(uint32_t capacity);

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
