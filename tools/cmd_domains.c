/*
 * cmd_domains.c - `faultline domains` (every domain of this user) and
 * `faultline clear` (remove one).
 *
 * Domains are found by name in /dev/shm: faultline.<uid>.<domain>. Only
 * regular files of this user are listed or removed; a segment that cannot
 * be read (another layout version, corrupt) is still listed, with the
 * reason, and may still be cleared: that is the way out the refusal
 * message points to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "cli.h"
#include "procreg.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

static uint32_t count_alive(const struct fl_seg *seg, const struct fl_snapshot *snap, char *pids, size_t size)
{
	uint32_t live = 0;
	size_t used = 0;
	if (size)
		pids[0] = '\0';
	for (size_t i = 0; i < snap->nprocs; i++) {
		if (!fl_proc_alive(seg, snap->procs[i].index, &snap->procs[i].rec))
			continue;
		if (live < 8 && used < size) {
			int n = snprintf(pids + used, size - used, "%s%u", live ? ", " : "",
					 snap->procs[i].rec.pid);
			used += n > 0 ? (size_t)n : 0;
		}
		live++;
	}
	if (live > 8 && used < size)
		snprintf(pids + used, size - used, ", ...");
	return live;
}

/* ---- domains ---- */

/* One domain found, with room for why it cannot be read. */
struct item {
	struct fl_domain_info row;
	char error[FL_DIAG_MSG_MAX];
};

static int compare_items(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->row.name, ((const struct item *)b)->row.name);
}

static void describe(const char *domain, const struct stat *st, struct item *it)
{
	struct fl_domain_info *row = &it->row;
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", domain);
	row->size = (uint64_t)st->st_size;
	struct fl_seg seg;
	struct fl_snapshot snap;
	if (fl_cli_snapshot(domain, &seg, &snap, it->error, sizeof(it->error), false) != FL_EXIT_OK) {
		row->error = it->error; /* re-pointed after the array stops moving */
		return;
	}
	row->used = snap.entries_used;
	row->capacity = snap.capacity;
	row->created_ms = snap.created_ms;
	row->live = count_alive(&seg, &snap, NULL, 0);
	fl_snapshot_free(&snap);
	fl_seg_close(&seg);
}

/* Every faultline.<uid>.<domain> that is a regular file of this user. */
static int find_domains(struct item **items, size_t *n)
{
	char prefix[64];
	size_t cap = 0;
	snprintf(prefix, sizeof(prefix), FL_SEG_FILE_PREFIX "%u.", (unsigned)getuid());
	DIR *dir = opendir(FL_SEG_DIR);
	if (!dir)
		return fl_cli_fail(FL_EXIT_RUNTIME, "%s: %s", FL_SEG_DIR, strerror(errno));
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		const char *domain = de->d_name + strlen(prefix);
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || !fl_domain_name_valid(domain))
			continue;
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != getuid())
			continue;
		if (!fl_array_reserve(items, &cap, *n + 1, sizeof(**items), 8)) {
			closedir(dir);
			return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
		}
		describe(domain, &st, &(*items)[(*n)++]);
	}
	closedir(dir);
	return FL_EXIT_OK;
}

int fl_cmd_domains(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "domains takes no operands ('%s')", cli->operands[0]);
	struct item *items = NULL;
	size_t n = 0;
	int code = find_domains(&items, &n);
	struct fl_domain_info *rows = calloc(n + 1, sizeof(*rows));
	if (code == FL_EXIT_OK && !rows)
		code = fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	if (code == FL_EXIT_OK) {
		if (n > 1)
			qsort(items, n, sizeof(*items), compare_items);
		for (size_t i = 0; i < n; i++) {
			rows[i] = items[i].row;
			rows[i].error = items[i].row.error ? items[i].error : NULL;
		}
		struct fl_out o;
		fl_out_init(&o);
		fl_report_domains(&o, rows, n, cli->json);
		code = fl_cli_print(&o);
		fl_out_free(&o);
	}
	free(rows);
	free(items);
	return code;
}

/* ---- clear ---- */

int fl_cmd_clear(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "clear takes no operands ('%s'; a domain is given with --domain)",
				   cli->operands[0]);
	const char *domain = fl_cli_domain(cli);
	char path[FL_SEG_PATH_MAX];
	if (fl_seg_path(path, sizeof(path), (unsigned)getuid(), domain) < 0)
		return fl_cli_fail(FL_EXIT_USAGE, FL_DOMAIN_NAME_INVALID, domain);
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return fl_cli_fail(FL_EXIT_RUNTIME, "domain '%s' does not exist", domain);
		return fl_cli_fail(FL_EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != getuid())
		return fl_cli_fail(FL_EXIT_RUNTIME,
				   "%s: refused: not a regular file of yours, not removing it", path);
	struct fl_seg seg;
	struct fl_snapshot snap;
	char msg[FL_DIAG_MSG_MAX], pids[128];
	if (fl_cli_snapshot(domain, &seg, &snap, msg, sizeof(msg), false) != FL_EXIT_OK) {
		fprintf(stderr, "faultline: warning: removing a segment that cannot be read: %s\n", msg);
	} else {
		uint32_t live = count_alive(&seg, &snap, pids, sizeof(pids));
		fl_snapshot_free(&snap);
		fl_seg_close(&seg);
		if (live && !cli->force)
			return fl_cli_fail(
			    FL_EXIT_RUNTIME,
			    "domain '%s' has %u live process%s attached (pid %s): stop %s or use --force",
			    domain, live, live == 1 ? "" : "es", pids, live == 1 ? "it" : "them");
		if (live)
			fprintf(
			    stderr,
			    "faultline: warning: %u live process%s (pid %s) keep%s using the removed state\n",
			    live, live == 1 ? "" : "es", pids, live == 1 ? "s" : "");
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot remove %s: %s", path, strerror(errno));
	return FL_EXIT_OK;
}
