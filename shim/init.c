/*
 * init.c - start-up: environment, rules, and the descriptors a process
 * inherits across exec.
 *
 * Everything that may allocate or fail happens here, once, before main.
 * A configuration error is reported here and nowhere else; what happens
 * next is FAULTLINE_ON_ERROR's choice: exit 2 before main (the default, so
 * a typo never silently tests nothing), or run with no rules. In a setuid
 * program nothing of this runs (secure_passthrough).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "domain.h"
#include "handoff.h"
#include "layers.h"
#include "fdtab.h"
#include "log.h"
#include "real.h"
#include "resolve.h"
#include "shim.h"

struct fl_state fl_state;

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Checks the variables that take a fixed form; fills msg on the first bad one. */
static int check_environment(char *msg, size_t size)
{
	const char *bad = NULL;
	if (fl_log_configure(&bad) < 0) {
		snprintf(msg, size, "FAULTLINE_LOG: unknown level '%s' (use off, error, info or debug)", bad);
		return -1;
	}
	const char *v = getenv("FAULTLINE_ON_ERROR");
	if (v && *v && strcmp(v, "exit") != 0 && strcmp(v, "passthrough") != 0) {
		snprintf(msg, size, "FAULTLINE_ON_ERROR: unknown value '%s' (use exit or passthrough)", v);
		return -1;
	}
	v = getenv("FAULTLINE_DOMAIN");
	if (v && !fl_domain_name_valid(v)) {
		snprintf(msg, size, "FAULTLINE_DOMAIN: " FL_DOMAIN_NAME_INVALID, v);
		return -1;
	}
	uint64_t n;
	v = getenv("FAULTLINE_SEED");
	if (v && *v && !parse_u64(v, &n)) {
		snprintf(msg, size,
			 "FAULTLINE_SEED: '%s' is not a whole number from 0 to 18446744073709551615", v);
		return -1;
	}
	v = getenv("FAULTLINE_CAPACITY");
	if (v && *v && (!parse_u64(v, &n) || n < 1 || n > 1048576)) {
		snprintf(msg, size, "FAULTLINE_CAPACITY: '%s' is not a whole number from 1 to 1048576", v);
		return -1;
	}
	return 0;
}

static bool on_error_exits(void)
{
	const char *v = getenv("FAULTLINE_ON_ERROR");
	if (!v || !*v || strcmp(v, "exit") == 0)
		return true;
	if (strcmp(v, "passthrough") == 0)
		return false;
	return true; /* an unknown value: check_environment reports it */
}

static int load_rules(struct fl_diag *d)
{
	const char *inline_rules = getenv("FAULTLINE_RULES");
	const char *config = getenv("FAULTLINE_CONFIG");
	if (inline_rules && *inline_rules &&
	    fl_parse_inline("FAULTLINE_RULES", inline_rules, &fl_state.rules, d) < 0)
		return -1;
	if (config && *config && fl_parse_config_file(config, &fl_state.rules, d) < 0)
		return -1;
	return 0;
}

/*
 * Warnings about the rules are printed by the first process that loads
 * them, not again by each of its children (a shell loop of 100 curls
 * would print 100 copies): the environment remembers which rules were
 * warned about, and children inherit it. `faultline run` sets it too,
 * having warned itself.
 */
static void warn_once(const struct fl_diag *d)
{
	if (d->nwarnings == 0)
		return;
	char key[32];
	fl_rules_fingerprint(getenv("FAULTLINE_RULES"), getenv("FAULTLINE_CONFIG"), key, sizeof(key));
	const char *seen = getenv("FAULTLINE_WARNED");
	if (seen && strcmp(seen, key) == 0)
		return;
	char msg[FL_DIAG_MSG_MAX + 16];
	for (unsigned i = 0; i < d->nwarnings && i < FL_DIAG_WARN_MAX; i++) {
		snprintf(msg, sizeof(msg), "warning: %s", d->warnings[i]);
		fl_log_config_problem(msg);
	}
	setenv("FAULTLINE_WARNED", key, 1);
}

/* Matching then costs about the same for 10,000 rules as for one. If the
 * index cannot be built, matching stays correct, only linear. */
static void build_match_index(void)
{
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (d && fl_match_index_build(&fl_state.match_index, &fl_state.rules, d) < 0)
		fl_log_config_problem(d->error);
	free(d);
}

static uint64_t choose_seed(void)
{
	uint64_t seed;
	if (parse_u64(getenv("FAULTLINE_SEED"), &seed))
		return seed;
	if (fl_state.rules.has_seed)
		return fl_state.rules.seed;
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return fl_rng_mix(((uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec) ^
			  ((uint64_t)getpid() << 32));
}

/*
 * A process started by exec may already hold connected sockets (a server
 * that re-execs itself, a wrapper script's child). Those this process tree
 * connected under the shim are named by the exec that started us
 * (FL_EXEC_SOCKETS_VAR, exec.c): only they are adopted, so rules apply to
 * them as if they had been connected here; an accepted socket, or one
 * inherited from outside the shim, is left alone. Descriptors of one
 * socket (the same inode) become one connection, as after dup: closing one
 * of them must not end it while the other is open.
 */
struct inherited {
	uint64_t dev, ino;
	struct fl_conn *conn; /* adopted on an earlier descriptor */
};

static uint32_t parse_inherited(const char *s, struct inherited *out, uint32_t max)
{
	uint32_t n = 0;
	while (s && *s && n < max) {
		char *end;
		errno = 0;
		unsigned long long dev = strtoull(s, &end, 16);
		if (errno || end == s || *end != ':')
			break;
		s = end + 1;
		unsigned long long ino = strtoull(s, &end, 16);
		if (errno || end == s || (*end != ',' && *end != '\0'))
			break;
		out[n].dev = dev;
		out[n].ino = ino;
		out[n].conn = NULL;
		n++;
		s = *end ? end + 1 : end;
	}
	return n;
}

static struct inherited *find_inherited(struct inherited *list, uint32_t n, int fd)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (list[i].dev == sb.st_dev && list[i].ino == sb.st_ino)
			return &list[i];
	return NULL;
}

static void adopt_inherited_sockets(void)
{
	struct inherited list[FL_EXEC_SOCKETS_MAX];
	uint32_t n = parse_inherited(getenv(FL_EXEC_SOCKETS_VAR), list, FL_EXEC_SOCKETS_MAX);
	unsetenv(FL_EXEC_SOCKETS_VAR); /* ours, not the program's */
	DIR *dir = n ? opendir("/proc/self/fd") : NULL;
	if (!dir) {
		fl_handoff_exec_release_rest();
		return;
	}
	int self = dirfd(dir);
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		uint64_t fd;
		if (!parse_u64(e->d_name, &fd) || (int)fd == self || fd > INT32_MAX)
			continue;
		struct inherited *in = find_inherited(list, n, (int)fd);
		if (!in)
			continue;
		if (in->conn) {
			fl_conn_ref(in->conn);
			if (fl_fdtab_exchange((int)fd, in->conn) == FL_FDTAB_FAILED)
				fl_conn_unref(in->conn);
			continue;
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct fl_dest dest;
		struct fl_match m;
		if (getpeername((int)fd, (struct sockaddr *)&ss, &len) < 0 ||
		    !fl_dest_from_sockaddr((struct sockaddr *)&ss, len, &dest) ||
		    !fl_match_indexed(&fl_state.match_index, &fl_state.rules, &dest, &m))
			continue;
		struct fl_conn *c = fl_conn_new(&dest, &m);
		if (!c)
			continue;
		struct fl_plan plan;
		fl_domain_plan(&dest, &m, &plan);
		c->stats = plan.stats;
		c->breaker = plan.breaker; /* no permit: its attempt was before exec */
		c->bulkhead = plan.bulkhead;
		fl_handoff_exec_take_share(c);
		if (fl_fdtab_exchange((int)fd, c) == FL_FDTAB_FAILED) {
			fl_conn_unref(c);
			continue;
		}
		in->conn = c;
	}
	closedir(dir);
	fl_handoff_exec_release_rest();
}

static void log_start(void)
{
	if (!fl_log_on(FL_LOG_INFO))
		return;
	char msg[160];
	snprintf(msg, sizeof(msg), "%zu rules loaded, seed %llu", fl_state.rules.count,
		 (unsigned long long)fl_state.seed);
	fl_log_msg(FL_LOG_INFO, msg);
}

static void fail(const char *problem)
{
	char msg[FL_DIAG_MSG_MAX + 64];
	if (on_error_exits()) {
		fl_log_fatal(problem);
		_exit(2);
	}
	snprintf(msg, sizeof(msg), "%s (FAULTLINE_ON_ERROR=passthrough: running without rules)", problem);
	fl_log_config_problem(msg);
	fl_ruleset_free(&fl_state.rules);
	fl_ruleset_init(&fl_state.rules);
}

static int attach_domain(void)
{
	const char *domain = getenv("FAULTLINE_DOMAIN");
	uint64_t capacity = FL_SEG_CAPACITY_DEFAULT;
	parse_u64(getenv("FAULTLINE_CAPACITY"), &capacity); /* validated by check_environment */
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d) {
		fail("out of memory attaching to the domain");
		return -1;
	}
	int r = fl_domain_attach(domain && *domain ? domain : "default", (uint32_t)capacity, d);
	if (r < 0)
		fail(d->error);
	free(d);
	return r;
}

/*
 * Secure-execution mode (AT_SECURE: setuid, setgid, file capabilities;
 * the shim got here through /etc/ld.so.preload, since the loader ignores
 * LD_PRELOAD paths then). The environment belongs to a less privileged
 * user: FAULTLINE_LOG_FILE would make us append to any file as root,
 * FAULTLINE_DOMAIN would create segments owned by the program's owner.
 * So nothing of it is read (no getenv of any FAULTLINE_* variable), no
 * file is opened, no segment joined: every call passes through. One line
 * says so on standard error, with a raw write, and only when the
 * environment has a FAULTLINE_ name at all (only names are compared,
 * never a value is used), so that programs run without faultline in mind
 * stay silent.
 */
static void secure_passthrough(void)
{
	static const char line[] = "faultline: secure-execution mode (setuid, setgid or capabilities): "
				   "FAULTLINE_* variables ignored, no rules apply\n";
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "FAULTLINE_", 10) == 0) {
			long r;
			do
				r = syscall(SYS_write, 2, line, sizeof(line) - 1);
			while (r < 0 && errno == EINTR);
			return;
		}
	}
}

static void fl_init(void)
{
	static int done; /* atomic */
	if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		return;
	int saved = errno;
	fl_state.pid = getpid();
	fl_real_resolve();
	fl_fork_watch();
	if (getauxval(AT_SECURE)) {
		secure_passthrough();
		goto out;
	}
	const char *disable = getenv("FAULTLINE_DISABLE");
	if (disable && strcmp(disable, "1") == 0)
		goto out;
	fl_ruleset_init(&fl_state.rules);
	char msg[FL_DIAG_MSG_MAX];
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d) {
		fail("out of memory reading the configuration");
		goto out;
	}
	if (check_environment(msg, sizeof(msg)) < 0) {
		fail(msg);
	} else if (load_rules(d) < 0) {
		fail(d->error);
	} else {
		warn_once(d);
	}
	free(d);
	fl_layers_start_ms = fl_now_ms();
	if (fl_state.rules.count == 0) {
		/* No rules of its own: still the domain's layers apply (SPEC 7). */
		fl_layers_join_existing();
		goto out;
	}
	fl_state.counters = calloc(fl_state.rules.count, sizeof(*fl_state.counters));
	if (!fl_state.counters) {
		fail("out of memory for rule counters");
		goto out;
	}
	build_match_index();
	fl_resolve_setup();
	fl_state.seed = choose_seed();
	if (attach_domain() < 0)
		goto out;
	fl_layers_join();
	adopt_inherited_sockets();
	__atomic_store_n(&fl_state.active, true, __ATOMIC_RELEASE);
	log_start();
out:
	errno = saved;
}

__attribute__((constructor(101))) static void fl_constructor(void)
{
	fl_init();
}

/* Normal exit gives back this process's bulkhead slots at once; after
 * _exit or a signal the next acquirer or a waiter reaps them. */
__attribute__((destructor)) static void fl_destructor(void)
{
	int saved = errno;
	fl_domain_detach();
	errno = saved;
}
