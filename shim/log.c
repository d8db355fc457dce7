/*
 * log.c - see log.h.
 */
#include "log.h"

#include "diag.h"
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int fl_log_level = FL_LOG_ERROR;
static const char *log_path; /* NULL: standard error */

int fl_log_configure(const char **bad)
{
	const char *v = getenv("FAULTLINE_LOG");
	if (v && *v) {
		static const char *const words[] = {"off", "error", "info", "debug"};
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strcmp(v, words[i]) == 0)
				found = i;
		if (found < 0) {
			*bad = v;
			return -1;
		}
		fl_log_level = found;
	}
	const char *f = getenv("FAULTLINE_LOG_FILE");
	log_path = (f && *f) ? f : NULL;
	return 0;
}

void fl_log_begin(struct fl_textbuf *b, char *storage, unsigned long size)
{
	fl_tb_init(b, storage, size);
	fl_tb_puts(b, "faultline[");
	fl_tb_puti(b, (long)syscall(SYS_getpid));
	fl_tb_puts(b, "]: ");
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		long w = syscall(SYS_write, fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void fl_log_end(struct fl_textbuf *b)
{
	/* A line is one line: whatever user text it quotes (a path, a value)
	 * has its control bytes escaped, so nothing can forge a second line
	 * in a log file or reach a terminal raw. Room is kept for the newline
	 * even when the text was truncated. */
	char line[FL_LOG_LINE_MAX];
	size_t n = fl_escape_controls(line, sizeof(line) - 1, b->buf, fl_tb_used(b));
	line[n++] = '\n';
	int saved = errno;
	if (log_path) {
		int fd = fl_sys_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK, 0644);
		if (fd >= 0) {
			write_all(fd, line, n);
			fl_sys_close(fd);
		}
	} else {
		write_all(2, line, n);
	}
	errno = saved;
}

void fl_log_msg(enum fl_log_level level, const char *msg)
{
	if (!fl_log_on(level))
		return;
	char storage[1024];
	struct fl_textbuf b;
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, msg);
	fl_log_end(&b);
}

static void config_line(struct fl_textbuf *b, char *storage, size_t size, const char *msg)
{
	fl_tb_init(b, storage, size);
	fl_tb_puts(b, "faultline: ");
	fl_tb_puts(b, msg);
}

void fl_log_config_problem(const char *msg)
{
	if (!fl_log_on(FL_LOG_ERROR))
		return;
	char storage[1024];
	struct fl_textbuf b;
	config_line(&b, storage, sizeof(storage), msg);
	fl_log_end(&b);
}

void fl_log_fatal(const char *msg)
{
	char storage[1024];
	struct fl_textbuf b;
	config_line(&b, storage, sizeof(storage), msg);
	if (log_path && fl_log_on(FL_LOG_ERROR))
		fl_log_end(&b); /* the log file gets it too */
	const char *saved = log_path;
	log_path = NULL;
	config_line(&b, storage, sizeof(storage), msg);
	fl_log_end(&b);
	log_path = saved;
}
