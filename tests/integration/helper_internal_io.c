/*
 * helper_internal_io.c - the shim's own reads must not meet the program's
 * descriptor table.
 *
 *   helper_internal_io PORT OUT
 *
 * Run under `127.0.0.1:PORT fault on=read error=EIO`. Connects to PORT
 * (the socket gets the lowest free number, N, and is watched), then closes
 * it with the raw system call, which no preload can see: the shim's table
 * keeps a stale entry for N, as after any close it cannot observe. Then
 * forks. The child's registration in the domain opens /proc/self/cmdline
 * (and a reaper opens /proc/PID/stat): the kernel hands out N again. If
 * the shim read it through its exported read(), the stale entry would
 * inject EIO into the shim's own read - the child shows up in `faultline
 * ps` without a command, and the destination counts reads the program
 * never made. The child writes its pid to OUT and waits (at most 60 s)
 * to be killed.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: helper_internal_io PORT OUT");
	struct sockaddr_in a = loopback(atoi(argv[1]));
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to %s", argv[1]);
	syscall(SYS_close, fd); /* unseen by the shim: its entry for fd stays */
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		alarm(60);
		FILE *out = fopen(argv[2], "w");
		if (!out)
			die("open %s", argv[2]);
		fprintf(out, "%d %d\n", (int)getpid(), fd);
		fclose(out);
		pause();
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
