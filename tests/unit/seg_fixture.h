/*
 * seg_fixture.h - a segment for a unit test, the one copy the bulkhead and
 * process-registry suites share.
 *
 * Two kinds, as the shim sees them:
 *   - shared_seg(): formatted and validated in anonymous MAP_SHARED memory,
 *     so forked children share it exactly as the processes of one domain
 *     share /dev/shm, and nothing is left behind in the file system. The
 *     checked fixture seg_setup/seg_teardown gives every test of a case a
 *     fresh one of 16 entries in `seg`.
 *   - shm_seg_open(): a real /dev/shm segment opened with fl_seg_open, for
 *     tests that need what only a file gives (its own open file description,
 *     the liveness lock); shm_seg_unlink() removes it. The caller picks a
 *     domain name unique to the run (the pid in it).
 *
 * Included by one test file each; everything is static.
 */
#ifndef FL_TEST_SEG_FIXTURE_H
#define FL_TEST_SEG_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulkhead.h"
#include "segment.h"

/* The fake "now" every fixture segment is formatted at. */
#define NOW_MS 1764222000123ull

/* The running test's segment (seg_setup). */
static struct fl_seg seg;

/* A formatted, validated segment of `capacity` entries in anonymous shared
 * memory; its creator pid is this process. */
static inline struct fl_seg shared_seg(uint32_t capacity)
{
	size_t size = fl_seg_size(capacity);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(mem != MAP_FAILED);
	fl_seg_format(mem, capacity, "unit", NOW_MS, (uint32_t)getpid());
	struct fl_seg s;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_msg(fl_seg_validate(mem, size, &s, "anon", &d) == 0, "%s", d.error);
	return s;
}

static inline void seg_setup(void)
{
	seg = shared_seg(16);
}

static inline void seg_teardown(void)
{
	fl_seg_close(&seg);
}

/* Opens (creating it) the /dev/shm segment of `domain`, 16 entries. */
static inline void shm_seg_open(struct fl_seg *s, const char *domain)
{
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_msg(fl_seg_open(s, domain, 16, true, NOW_MS, &d) == 0, "%s", d.error);
}

/* Removes the /dev/shm segment of `domain`, if there is one. */
static inline void shm_seg_unlink(const char *domain)
{
	char path[FL_SEG_PATH_MAX];
	if (fl_seg_path(path, sizeof path, (unsigned)getuid(), domain) == 0)
		unlink(path);
}

/* fl_seg_lookup's initialiser of an entry with a bulkhead of parameters
 * `arg` (a struct fl_bulkhead_params *). */
static inline void init_bulkhead(struct fl_seg_entry *e, void *arg)
{
	e->has_bulkhead = 1;
	fl_bulkhead_init(&e->bulkhead, arg);
}

#endif
