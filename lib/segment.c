/*
 * segment.c - creating, attaching to and validating a domain's segment,
 * and the lock-free destination table inside it.
 *
 * Creation is O_CREAT|O_EXCL, so exactly one process formats a segment;
 * the magic is written last with release order, and attachers wait (a
 * bounded time) until they see it. Attaching checks owner, mode, type
 * and size on the descriptor itself (fstat after an O_NOFOLLOW open), so
 * nobody can swap the file between check and use.
 */
#include "segment.h"
#include "clock.h"
#include "events.h"
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_READY_MS 2000 /* how long an attacher waits for a creator */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

uint32_t fl_seg_holder_capacity(uint32_t capacity)
{
	return capacity < 1024 ? 4096 : capacity * 4;
}

size_t fl_seg_events_offset(uint32_t capacity)
{
	size_t end = FL_SEG_HEADER_SIZE + (size_t)capacity * sizeof(struct fl_seg_entry) +
		     (size_t)FL_SEG_PROCS * sizeof(struct fl_seg_proc) +
		     (size_t)fl_seg_holder_capacity(capacity) * sizeof(struct fl_seg_holder);
	return (end + 63) & ~(size_t)63;
}

size_t fl_seg_layers_offset(uint32_t capacity)
{
	return fl_seg_events_offset(capacity) + sizeof(struct fl_seg_events_hdr) +
	       (size_t)FL_SEG_EVENTS * sizeof(struct fl_seg_event);
}

size_t fl_seg_size(uint32_t capacity)
{
	return fl_seg_layers_offset(capacity) + sizeof(struct fl_seg_layers);
}

bool fl_domain_name_valid(const char *domain)
{
	size_t n = strlen(domain);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = domain[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int fl_seg_path(char *buf, size_t size, unsigned uid, const char *domain)
{
	if (!fl_domain_name_valid(domain))
		return -1;
	int n = snprintf(buf, size, FL_SEG_DIR "/" FL_SEG_FILE_PREFIX "%u.%s", uid, domain);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void carve(struct fl_seg *seg, void *mem, size_t size, uint32_t capacity)
{
	char *base = mem;
	seg->fd = -1;
	seg->hdr = mem;
	seg->size = size;
	seg->capacity = capacity;
	seg->holder_capacity = fl_seg_holder_capacity(capacity);
	seg->entries = (struct fl_seg_entry *)(base + FL_SEG_HEADER_SIZE);
	seg->procs = (struct fl_seg_proc *)(seg->entries + capacity);
	seg->holders = (struct fl_seg_holder *)(seg->procs + FL_SEG_PROCS);
	seg->ev_hdr = (struct fl_seg_events_hdr *)(base + fl_seg_events_offset(capacity));
	seg->events = (struct fl_seg_event *)(seg->ev_hdr + 1);
	seg->layers = (struct fl_seg_layers *)(base + fl_seg_layers_offset(capacity));
}

void fl_seg_format(void *mem, uint32_t capacity, const char *domain, uint64_t now_ms, uint32_t pid)
{
	struct fl_seg_header *h = mem;
	h->version = FL_SEG_VERSION;
	h->header_size = FL_SEG_HEADER_SIZE;
	h->total_size = fl_seg_size(capacity);
	h->capacity = capacity;
	h->proc_capacity = FL_SEG_PROCS;
	h->holder_capacity = fl_seg_holder_capacity(capacity);
	h->entry_size = sizeof(struct fl_seg_entry);
	h->proc_size = sizeof(struct fl_seg_proc);
	h->holder_size = sizeof(struct fl_seg_holder);
	h->created_ms = now_ms;
	h->creator_pid = pid;
	snprintf(h->domain, sizeof(h->domain), "%s", domain);
	struct fl_seg_events_hdr *ev =
	    (struct fl_seg_events_hdr *)((char *)mem + fl_seg_events_offset(capacity));
	ev->capacity = FL_SEG_EVENTS;
	ev->record_size = sizeof(struct fl_seg_event);
	__atomic_store_n(&h->magic, FL_SEG_MAGIC, __ATOMIC_RELEASE);
}

int fl_seg_validate(void *mem, size_t size, struct fl_seg *seg, const char *what, struct fl_diag *d)
{
	const struct fl_seg_header *h = mem;
	if (size < FL_SEG_HEADER_SIZE)
		return fl_diag_error(d, NULL, "%s: refused: %zu bytes is too small for a faultline segment",
				     what, size);
	uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	if (magic != FL_SEG_MAGIC)
		return fl_diag_error(d, NULL, "%s: refused: not a faultline segment (bad magic)", what);
	if (h->version != FL_SEG_VERSION)
		return fl_diag_error(d, NULL,
				     "%s: refused: layout version %u, this faultline reads version %u "
				     "(run: faultline clear)",
				     what, h->version, FL_SEG_VERSION);
	uint32_t cap = h->capacity;
	if (cap < 1 || cap > FL_SEG_CAPACITY_MAX || h->header_size != FL_SEG_HEADER_SIZE ||
	    h->proc_capacity != FL_SEG_PROCS || h->holder_capacity != fl_seg_holder_capacity(cap) ||
	    h->entry_size != sizeof(struct fl_seg_entry) || h->proc_size != sizeof(struct fl_seg_proc) ||
	    h->holder_size != sizeof(struct fl_seg_holder))
		return fl_diag_error(d, NULL,
				     "%s: refused: inconsistent header (capacity %u); "
				     "faultline clear --force removes it",
				     what, cap);
	if (h->total_size != fl_seg_size(cap) || size != h->total_size)
		return fl_diag_error(d, NULL,
				     "%s: refused: size %zu does not match its capacity %u (expected %zu); "
				     "faultline clear --force removes it",
				     what, size, cap, fl_seg_size(cap));
	carve(seg, mem, size, cap);
	if (__atomic_load_n(&seg->ev_hdr->capacity, __ATOMIC_RELAXED) != FL_SEG_EVENTS ||
	    __atomic_load_n(&seg->ev_hdr->record_size, __ATOMIC_RELAXED) != sizeof(struct fl_seg_event))
		return fl_diag_error(d, NULL,
				     "%s: refused: inconsistent event ring header; "
				     "faultline clear --force removes it",
				     what);
	return 0;
}

static void pause_ms(unsigned ms)
{
	struct timespec t = {0, (long)ms * 1000000L};
	nanosleep(&t, NULL);
}

/* Owner, mode and type of an open segment file. */
static int check_file(int fd, const char *path, struct stat *st, struct fl_diag *d)
{
	if (fl_sys_fstat(fd, st) < 0)
		return fl_diag_error(d, NULL, "%s: %s", path, strerror(errno));
	/* Someone else's file in our name (squatting, SPEC): refused, and the
	 * message says which file, whose it is and how to get rid of it. Uid
	 * numbers only: the shim does no user-name (NSS) lookup. */
	if (!S_ISREG(st->st_mode))
		return fl_diag_error(d, NULL,
				     "%s: refused: not a regular file (owned by uid %u); remove it with: "
				     "rm %s (as uid %u or root), or use another domain",
				     path, (unsigned)st->st_uid, path, (unsigned)st->st_uid);
	if (st->st_uid != getuid())
		return fl_diag_error(d, NULL,
				     "%s: refused: owned by uid %u, not by you (uid %u); remove it with: "
				     "rm %s (as uid %u or root), or use another domain",
				     path, (unsigned)st->st_uid, (unsigned)getuid(), path,
				     (unsigned)st->st_uid);
	if ((st->st_mode & 07777) != 0600)
		return fl_diag_error(d, NULL,
				     "%s: refused: mode %04o, expected 0600 (others could change it); "
				     "remove it with: rm %s, or use another domain",
				     path, (unsigned)(st->st_mode & 07777), path);
	return 0;
}

static int create_segment(int fd, const char *path, const char *domain, uint32_t capacity, uint64_t now_ms,
			  struct fl_seg *seg, struct fl_diag *d)
{
	size_t size = fl_seg_size(capacity);
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0)
		return fl_diag_error(d, NULL, "%s: cannot create: %s", path, strerror(errno));
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return fl_diag_error(d, NULL, "%s: cannot map: %s", path, strerror(errno));
	fl_seg_format(mem, capacity, domain, now_ms, (uint32_t)getpid());
	carve(seg, mem, size, capacity);
	return 0;
}

/* Waits (bounded) until a creator has sized and formatted the segment. */
static int attach_segment(int fd, const char *path, struct fl_seg *seg, struct fl_diag *d)
{
	struct stat st;
	uint64_t deadline = fl_clock_mono_ms() + WAIT_READY_MS;
	for (;;) {
		if (check_file(fd, path, &st, d) < 0)
			return -1;
		if (st.st_size > 0)
			break;
		if (fl_clock_mono_ms() > deadline)
			return fl_diag_error(d, NULL,
					     "%s: refused: still empty after %d ms (its creator died? "
					     "run: faultline clear)",
					     path, WAIT_READY_MS);
		pause_ms(1);
	}
	size_t size = (size_t)st.st_size;
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return fl_diag_error(d, NULL, "%s: cannot map: %s", path, strerror(errno));
	const struct fl_seg_header *h = mem;
	while (size >= sizeof(*h) && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0 &&
	       fl_clock_mono_ms() <= deadline)
		pause_ms(1);
	if (fl_seg_validate(mem, size, seg, path, d) < 0) {
		munmap(mem, size);
		return -1;
	}
	return 0;
}

/*
 * The descriptor is kept (procreg.h: liveness locks), out of the way: a
 * program that expects open() to return the lowest free number, or that
 * dup2()s onto 3..9 as shells do, must not find it there.
 */
#define SEG_FD_AT 768

static void keep_fd(struct fl_seg *seg, int fd)
{
	struct stat st;
	if (fl_sys_fstat(fd, &st) < 0) {
		fl_sys_close(fd);
		return;
	}
	seg->fd = fl_sys_move_high(fd, SEG_FD_AT);
	seg->dev = (uint64_t)st.st_dev;
	seg->ino = (uint64_t)st.st_ino;
}

static int seg_path(char *path, size_t size, const char *domain)
{
	return fl_seg_path(path, size, (unsigned)getuid(), domain);
}

int fl_seg_open(struct fl_seg *seg, const char *domain, uint32_t capacity, bool create, uint64_t now_ms,
		struct fl_diag *d)
{
	char path[FL_SEG_PATH_MAX];
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	if (seg_path(path, sizeof(path), domain) < 0)
		return fl_diag_error(d, NULL, FL_DOMAIN_NAME_INVALID, domain);
	int fd = -1;
	if (create) {
		fd = fl_sys_open_nofollow(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			int r = create_segment(fd, path, domain, capacity, now_ms, seg, d);
			if (r < 0) {
				fl_sys_close(fd);
				unlink(path);
			} else {
				keep_fd(seg, fd);
			}
			return r;
		}
		if (errno != EEXIST)
			return fl_diag_error(d, NULL, "%s: cannot create: %s", path, strerror(errno));
	}
	fd = fl_sys_open_nofollow(path, O_RDWR, 0);
	if (fd < 0) {
		if (errno == ELOOP)
			return fl_diag_error(d, NULL,
					     "%s: refused: it is a symbolic link; remove it with: rm %s "
					     "(as its owner or root), or use another domain",
					     path, path);
		if (errno == ENOENT)
			return fl_diag_error(d, NULL, "domain '%s' does not exist (%s)", domain, path);
		return fl_diag_error(d, NULL, "%s: %s", path, strerror(errno));
	}
	int r = attach_segment(fd, path, seg, d);
	if (r < 0)
		fl_sys_close(fd);
	else
		keep_fd(seg, fd);
	return r;
}

bool fl_seg_has_fd(const struct fl_seg *seg)
{
	struct stat st;
	return seg->fd > 2 && fl_sys_fstat(seg->fd, &st) == 0 && (uint64_t)st.st_dev == seg->dev &&
	       (uint64_t)st.st_ino == seg->ino;
}

void fl_seg_reopen(struct fl_seg *seg)
{
	if (seg->fd <= 2 || !seg->hdr)
		return;
	char domain[sizeof(seg->hdr->domain)], path[FL_SEG_PATH_MAX];
	memcpy(domain, seg->hdr->domain, sizeof(domain));
	domain[sizeof(domain) - 1] = '\0';
	int fd = seg_path(path, sizeof(path), domain) < 0 ? -1 : fl_sys_open_nofollow(path, O_RDWR, 0);
	struct stat st;
	if (fd >= 0 && (fl_sys_fstat(fd, &st) < 0 || (uint64_t)st.st_dev != seg->dev ||
			(uint64_t)st.st_ino != seg->ino)) {
		fl_sys_close(fd); /* removed and created again: not our segment */
		fd = -1;
	}
	if (fl_seg_has_fd(seg))
		fl_sys_close(seg->fd); /* our copy only; the parent keeps its own */
	seg->fd = fd < 0 ? -1 : fl_sys_move_high(fd, SEG_FD_AT);
}

void fl_seg_close(struct fl_seg *seg)
{
	fl_events_unbind(seg); /* lib code must not write to it any more */
	if (seg->hdr)
		munmap(seg->hdr, seg->size);
	if (seg->fd > 2)
		fl_sys_close(seg->fd);
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
}

void fl_seg_key_dest(struct fl_seg_key *k, const struct fl_dest *d)
{
	memset(k, 0, sizeof(*k));
	k->kind = FL_KEY_DEST;
	k->family = d->family;
	if (d->name != NULL) { /* SPEC 9: every address of a name is one destination */
		size_t n = d->name_len < FL_SEG_KEY_TEXT - 1 ? d->name_len : FL_SEG_KEY_TEXT - 1;
		k->family = FL_AF_NAME;
		k->port = d->port;
		memcpy(k->text, d->name, n);
		k->len = (uint16_t)n;
	} else if (d->family == FL_AF_UNIX) {
		size_t n = d->path_len < FL_SEG_KEY_TEXT ? d->path_len : FL_SEG_KEY_TEXT;
		memcpy(k->text, d->path, n);
		k->len = (uint16_t)n;
	} else {
		k->port = d->port;
		memcpy(k->addr, d->addr, 16);
	}
}

void fl_seg_key_rule(struct fl_seg_key *k, const struct fl_target *t)
{
	memset(k, 0, sizeof(*k));
	k->kind = FL_KEY_RULE;
	k->family = t->family;
	size_t n = fl_target_format(t, k->text, sizeof(k->text));
	k->len = (uint16_t)(n < sizeof(k->text) ? n : sizeof(k->text) - 1);
}

uint32_t fl_seg_key_hash(const struct fl_seg_key *k)
{
	/* Word at a time (a key is zeroed past len, so whole words are stable):
	 * multiply-xorshift mixing, a few instructions per 8 bytes. */
	size_t n = offsetof(struct fl_seg_key, text) + (k->len < FL_SEG_KEY_TEXT ? k->len : FL_SEG_KEY_TEXT);
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static bool key_equal(const struct fl_seg_key *a, const struct fl_seg_key *b)
{
	size_t n = offsetof(struct fl_seg_key, text) + (a->len < FL_SEG_KEY_TEXT ? a->len : FL_SEG_KEY_TEXT);
	return memcmp(a, b, n) == 0;
}

size_t fl_seg_key_format(const struct fl_seg_key *k, char *buf, size_t size)
{
	if (k->kind == FL_KEY_RULE) {
		size_t n = k->len < FL_SEG_KEY_TEXT ? k->len : FL_SEG_KEY_TEXT - 1;
		return (size_t)snprintf(buf, size, "%.*s", (int)n, k->text);
	}
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = k->family;
	d.port = k->port;
	memcpy(d.addr, k->addr, 16);
	d.path_len = k->len < FL_UNIX_PATH_MAX ? k->len : FL_UNIX_PATH_MAX;
	memcpy(d.path, k->text, d.path_len);
	if (k->family == FL_AF_NAME) {
		d.name = k->text;
		d.name_len = k->len < FL_SEG_KEY_TEXT ? k->len : FL_SEG_KEY_TEXT;
	}
	return fl_dest_format(&d, buf, size);
}

/* An entry being filled by another process: wait a little, never forever
 * (its creator may have died half-way; then it is skipped). The budget is
 * per lookup, so a table full of abandoned claims costs one wait, not one
 * per entry. */
#define CLAIM_WAIT_SPINS 100000

static uint32_t wait_ready(struct fl_seg_entry *e, uint32_t *budget)
{
	uint32_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
	while (st == FL_ENTRY_CLAIMED && *budget > 0) {
		cpu_relax();
		--*budget;
		st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
	}
	return st;
}

/* Counts one more claimed entry if fewer than limit are: an entry is
 * counted before it is claimed, so no moment sees more than limit. */
static bool take_count(struct fl_seg *seg, uint32_t limit)
{
	uint32_t used = __atomic_load_n(&seg->hdr->entries_used, __ATOMIC_RELAXED);
	do {
		if (used >= limit)
			return false;
	} while (!__atomic_compare_exchange_n(&seg->hdr->entries_used, &used, used + 1, true,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	return true;
}

struct fl_seg_entry *fl_seg_lookup_limited(struct fl_seg *seg, const struct fl_seg_key *key,
					   void (*init)(struct fl_seg_entry *, void *), void *arg,
					   uint32_t limit)
{
	uint32_t h = fl_seg_key_hash(key);
	uint32_t cap = seg->capacity;
	uint32_t budget = CLAIM_WAIT_SPINS;
	for (uint32_t probe = 0; probe < cap; probe++) {
		struct fl_seg_entry *e = &seg->entries[(h + probe) % cap];
		uint32_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
		if (st == FL_ENTRY_EMPTY) {
			/* The key is not in the table: create it, if the limit allows. */
			if (!take_count(seg, limit))
				return NULL;
			if (__atomic_compare_exchange_n(&e->status, &st, FL_ENTRY_CLAIMED, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				e->hash = h;
				e->key = *key;
				if (init)
					init(e, arg);
				__atomic_store_n(&e->status, FL_ENTRY_READY, __ATOMIC_RELEASE);
				return e;
			}
			__atomic_fetch_sub(&seg->hdr->entries_used, 1, __ATOMIC_RELAXED); /* lost the race */
		}
		if (st == FL_ENTRY_CLAIMED)
			st = wait_ready(e, &budget);
		if (st == FL_ENTRY_READY && e->hash == h && key_equal(&e->key, key))
			return e;
	}
	return NULL;
}

struct fl_seg_entry *fl_seg_lookup(struct fl_seg *seg, const struct fl_seg_key *key,
				   void (*init)(struct fl_seg_entry *, void *), void *arg)
{
	return fl_seg_lookup_limited(seg, key, init, arg, seg->capacity);
}

struct fl_seg_entry *fl_seg_entry_at(const struct fl_seg *seg, uint32_t i)
{
	if (i >= seg->capacity)
		return NULL;
	struct fl_seg_entry *e = &seg->entries[i];
	return __atomic_load_n(&e->status, __ATOMIC_ACQUIRE) == FL_ENTRY_READY ? e : NULL;
}
