/*
 * helper_io.c - every watched I/O call, one at a time, with the peer as
 * the witness of what really crossed the socket.
 *
 * It listens on 127.0.0.1:PORT itself, connects to it and accepts the
 * other end, so each check sees both sides: an injected send must leave
 * the peer with nothing, an injected recv must leave the byte readable.
 * The accepted end is never watched (only connect() makes a socket
 * watched), so it is an honest witness.
 *
 *   helper_io io PORT ERRNO FAMILIES
 *       Rule under test: 127.0.0.1:PORT fault on=FAMILIES error=ERRNO.
 *       Calls send, sendto, sendmsg, sendmmsg, write, writev, recv,
 *       recvfrom, recvmsg, recvmmsg, __recv_chk, __recvfrom_chk, read,
 *       readv and __read_chk once each. Calls of the FAMILIES listed
 *       (send,recv,write,read, or none) must fail with ERRNO and move no
 *       byte; the others must work.
 *   helper_io errno PORT DELAY_MS
 *       Rule: 127.0.0.1:PORT fault on=all delay_ms=DELAY_MS. Successful
 *       calls leave errno alone, failing ones leave the real errno.
 *   helper_io connect PORT ERRNO OTHER_PORT
 *       Rule: 127.0.0.1:PORT fault on=connect error=ERRNO. Blocking and
 *       non-blocking connects fail at once, and no connection reaches the
 *       listener; OTHER_PORT (not matched) still connects.
 *   helper_io connect-delay PORT MS
 *       Rule: 127.0.0.1:PORT fault on=connect delay_ms=MS. A non-blocking
 *       connect takes at least MS, then completes normally.
 */
#undef _FORTIFY_SOURCE /* call the fortified entry points by name instead */
#include "helper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *sa,
			      socklen_t *len);

enum family { FAM_SEND, FAM_RECV, FAM_WRITE, FAM_READ };
static const char *const family_names[] = {"send", "recv", "write", "read"};

/* Each call moves one byte: out of *b for the sending ones, into *b for the others. */
static ssize_t call_send(int fd, char *b)
{
	return send(fd, b, 1, MSG_NOSIGNAL);
}
static ssize_t call_sendto(int fd, char *b)
{
	return sendto(fd, b, 1, MSG_NOSIGNAL, NULL, 0);
}
static ssize_t call_sendmsg(int fd, char *b)
{
	struct iovec v = {b, 1};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}
static ssize_t call_sendmmsg(int fd, char *b)
{
	struct iovec v = {b, 1};
	struct mmsghdr m = {.msg_hdr = {.msg_iov = &v, .msg_iovlen = 1}};
	int r = sendmmsg(fd, &m, 1, MSG_NOSIGNAL);
	return r == 1 ? (ssize_t)m.msg_len : r;
}
static ssize_t call_write(int fd, char *b)
{
	return write(fd, b, 1);
}
static ssize_t call_writev(int fd, char *b)
{
	struct iovec v = {b, 1};
	return writev(fd, &v, 1);
}
static ssize_t call_recv(int fd, char *b)
{
	return recv(fd, b, 1, 0);
}
static ssize_t call_recvfrom(int fd, char *b)
{
	return recvfrom(fd, b, 1, 0, NULL, NULL);
}
static ssize_t call_recvmsg(int fd, char *b)
{
	struct iovec v = {b, 1};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return recvmsg(fd, &m, 0);
}
static ssize_t call_recvmmsg(int fd, char *b)
{
	struct iovec v = {b, 1};
	struct mmsghdr m = {.msg_hdr = {.msg_iov = &v, .msg_iovlen = 1}};
	int r = recvmmsg(fd, &m, 1, 0, NULL);
	return r == 1 ? (ssize_t)m.msg_len : r;
}
static ssize_t call_recv_chk(int fd, char *b)
{
	return __recv_chk(fd, b, 1, 1, 0);
}
static ssize_t call_recvfrom_chk(int fd, char *b)
{
	return __recvfrom_chk(fd, b, 1, 1, 0, NULL, NULL);
}
static ssize_t call_read(int fd, char *b)
{
	return read(fd, b, 1);
}
static ssize_t call_readv(int fd, char *b)
{
	struct iovec v = {b, 1};
	return readv(fd, &v, 1);
}
static ssize_t call_read_chk(int fd, char *b)
{
	return __read_chk(fd, b, 1, 1);
}

static const struct {
	const char *name;
	enum family family;
	bool outgoing;
	ssize_t (*fn)(int fd, char *b);
} calls[] = {
    {"send", FAM_SEND, true, call_send},
    {"sendto", FAM_SEND, true, call_sendto},
    {"sendmsg", FAM_SEND, true, call_sendmsg},
    {"sendmmsg", FAM_SEND, true, call_sendmmsg},
    {"write", FAM_WRITE, true, call_write},
    {"writev", FAM_WRITE, true, call_writev},
    {"recv", FAM_RECV, false, call_recv},
    {"recvfrom", FAM_RECV, false, call_recvfrom},
    {"recvmsg", FAM_RECV, false, call_recvmsg},
    {"recvmmsg", FAM_RECV, false, call_recvmmsg},
    {"__recv_chk", FAM_RECV, false, call_recv_chk},
    {"__recvfrom_chk", FAM_RECV, false, call_recvfrom_chk},
    {"read", FAM_READ, false, call_read},
    {"readv", FAM_READ, false, call_readv},
    {"__read_chk", FAM_READ, false, call_read_chk},
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static unsigned parse_families(const char *list)
{
	unsigned mask = 0;
	if (strcmp(list, "none") == 0)
		return 0;
	char *copy = strdup(list), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		unsigned i;
		for (i = 0; i < 4 && strcmp(w, family_names[i]) != 0; i++)
			;
		if (i == 4)
			die("unknown call family '%s'", w);
		mask |= 1u << i;
	}
	free(copy);
	return mask;
}

static void wait_readable(int fd, const char *what)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		die("no data arrived for %s within 5 s", what);
}

static int pending_bytes(int fd)
{
	int n = -1;
	if (ioctl(fd, FIONREAD, &n) < 0)
		die("FIONREAD");
	return n;
}

/* Everything the peer receives until EOF (bounded by poll timeouts). */
static size_t drain(int fd, char *buf, size_t size)
{
	size_t got = 0;
	for (;;) {
		wait_readable(fd, "the peer's final read");
		ssize_t r = recv(fd, buf + got, size - got, 0);
		if (r <= 0)
			return got;
		got += (size_t)r;
		if (got == size)
			return got;
	}
}

static void check_io(int port, int err, unsigned families)
{
	int listener = listen_on(port);
	int c = connect_to(port);
	int peer = accept_one(listener);
	char expected[NCALLS + 1];
	size_t nexpected = 0;
	bool pending = false; /* a byte the peer sent is still unread */
	char in_letter = 'a';

	for (size_t i = 0; i < NCALLS; i++) {
		bool inject = families & (1u << calls[i].family);
		char name[64];
		snprintf(name, sizeof(name), "%s-%s", calls[i].name, inject ? "injected" : "passes");
		if (calls[i].outgoing) {
			char letter = (char)('A' + i);
			errno = 0;
			ssize_t r = calls[i].fn(c, &letter);
			int e = errno;
			if (inject && (r != -1 || e != err))
				bad(name, "expected -1 with %s, got %zd (errno %s)", ename(err), r, ename(e));
			else if (!inject && r != 1)
				bad(name, "expected 1 byte sent, got %zd (errno %s)", r, ename(e));
			else
				ok(name);
			if (r == 1)
				expected[nexpected++] = letter;
			continue;
		}
		if (!pending) {
			if (send(peer, &in_letter, 1, 0) != 1)
				die("peer send");
			pending = true;
		}
		wait_readable(c, calls[i].name);
		char got = 0;
		errno = 0;
		ssize_t r = calls[i].fn(c, &got);
		int e = errno;
		if (inject) {
			int left = pending_bytes(c);
			if (r != -1 || e != err)
				bad(name, "expected -1 with %s, got %zd (errno %s)", ename(err), r, ename(e));
			else if (left != 1)
				bad(name, "injected error consumed data: %d bytes left, expected 1", left);
			else
				ok(name);
		} else if (r != 1 || got != in_letter) {
			bad(name, "expected to read '%c', got %zd bytes '%c' (errno %s)", in_letter, r,
			    got ? got : '?', ename(e));
		} else {
			ok(name);
		}
		if (r == 1) {
			pending = false;
			in_letter++;
		}
	}

	/* What the peer really received: only the bytes of the calls that passed. */
	shutdown(c, SHUT_WR);
	char received[256];
	size_t n = drain(peer, received, sizeof(received));
	if (n != nexpected || memcmp(received, expected, n) != 0)
		bad("peer-received-only-passed-calls", "peer got '%.*s', expected '%.*s'", (int)n, received,
		    (int)nexpected, expected);
	else
		ok("peer-received-only-passed-calls");
	if (pending && pending_bytes(c) != 1)
		bad("unconsumed-byte-still-readable", "%d bytes pending, expected 1", pending_bytes(c));
	close(c);
	close(peer);
	close(listener);
}

static void expect_errno(const char *name, ssize_t r, ssize_t want_r, int e, int want_e)
{
	if (r != want_r || e != want_e)
		bad(name, "expected %zd with errno %s, got %zd with errno %s", want_r, ename(want_e), r,
		    ename(e));
	else
		ok(name);
}

static void check_errno(int port, int delay_ms)
{
	int listener = listen_on(port);
	char buf[16];
	signal(SIGPIPE, SIG_IGN);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(port);
	errno = EDOM;
	int64_t t0 = now_ms();
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	int64_t took = now_ms() - t0;
	expect_errno("connect-success-keeps-errno", r, 0, e, EDOM);
	if (took < delay_ms)
		bad("connect-was-delayed", "took %lld ms, rule says %d", (long long)took, delay_ms);
	else
		ok("connect-was-delayed");
	int peer = accept_one(listener);

	errno = EDOM;
	t0 = now_ms();
	ssize_t n = send(c, "x", 1, MSG_NOSIGNAL);
	e = errno;
	took = now_ms() - t0;
	expect_errno("send-success-keeps-errno", n, 1, e, EDOM);
	if (took < delay_ms)
		bad("send-was-delayed", "took %lld ms, rule says %d", (long long)took, delay_ms);
	else
		ok("send-was-delayed");

	errno = EDOM;
	n = write(c, "y", 1);
	expect_errno("write-success-keeps-errno", n, 1, errno, EDOM);

	errno = EDOM;
	n = recv(c, buf, 1, MSG_DONTWAIT);
	expect_errno("recv-real-EAGAIN", n, -1, errno, EAGAIN);

	fcntl(c, F_SETFL, O_NONBLOCK);
	errno = EDOM;
	n = read(c, buf, 1);
	expect_errno("read-real-EAGAIN", n, -1, errno, EAGAIN);

	int so = -1;
	socklen_t len = sizeof(so);
	errno = EDOM;
	r = getsockopt(c, SOL_SOCKET, SO_ERROR, &so, &len);
	expect_errno("getsockopt-SO_ERROR-keeps-errno", r, 0, errno, EDOM);

	/* The peer reads what it was sent (so its close is a FIN, not a
	 * reset), goes away: EOF, then the real EPIPE. */
	char sent[2];
	wait_readable(peer, "the peer's read");
	if (recv(peer, sent, 2, MSG_WAITALL) != 2 || memcmp(sent, "xy", 2) != 0)
		bad("delayed-calls-delivered", "peer did not get 'xy'");
	else
		ok("delayed-calls-delivered");
	close(peer);
	wait_readable(c, "EOF");
	errno = EDOM;
	n = recv(c, buf, 1, 0);
	expect_errno("recv-EOF-keeps-errno", n, 0, errno, EDOM);
	/* The socket is non-blocking now: a delayed send answers EAGAIN until
	 * its deadline and shows through writability (SPEC 12). */
	n = 0;
	for (int i = 0; i < 50 && (n >= 0 || errno == EAGAIN); i++) {
		if (n < 0)
			poll(&(struct pollfd){c, POLLOUT, 0}, 1, 1000);
		errno = EDOM;
		n = send(c, "z", 1, MSG_NOSIGNAL);
	}
	e = errno;
	if (n != -1 || (e != EPIPE && e != ECONNRESET))
		bad("send-real-EPIPE", "expected -1 with EPIPE or ECONNRESET, got %zd (%s)", n, ename(e));
	else
		ok("send-real-EPIPE");
	for (int i = 0; i < 50; i++) {
		errno = EDOM;
		n = write(c, "z", 1);
		if (n >= 0 || errno != EAGAIN)
			break;
		poll(&(struct pollfd){c, POLLOUT, 0}, 1, 1000);
	}
	expect_errno("write-real-EPIPE", n, -1, errno, EPIPE);

	errno = EDOM;
	r = close(c);
	expect_errno("close-watched-keeps-errno", r, 0, errno, EDOM);
	errno = EDOM;
	r = close(c);
	expect_errno("close-again-real-EBADF", r, -1, errno, EBADF);
	errno = EDOM;
	r = dup(-1);
	expect_errno("dup-real-EBADF", r, -1, errno, EBADF);

	/* Nobody listens any more: the delayed connect still fails for real. */
	close(listener);
	c = socket(AF_INET, SOCK_STREAM, 0);
	errno = EDOM;
	r = connect(c, (struct sockaddr *)&a, sizeof(a));
	expect_errno("connect-real-ECONNREFUSED", r, -1, errno, ECONNREFUSED);
	close(c);
}

static void check_connect(int port, int err, int other_port)
{
	int listener = listen_on(port);
	fcntl(listener, F_SETFL, O_NONBLOCK);
	struct sockaddr_in a = loopback(port);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	int64_t t0 = now_ms();
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	int64_t took = now_ms() - t0;
	expect_errno("blocking-connect-injected", r, -1, e, err);
	if (took > 1000)
		bad("blocking-connect-fails-at-once", "took %lld ms", (long long)took);
	else
		ok("blocking-connect-fails-at-once");
	close(c);

	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	errno = 0;
	t0 = now_ms();
	r = connect(c, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	took = now_ms() - t0;
	expect_errno("nonblocking-connect-injected-not-EINPROGRESS", r, -1, e, err);
	if (took > 1000)
		bad("nonblocking-connect-fails-at-once", "took %lld ms", (long long)took);
	else
		ok("nonblocking-connect-fails-at-once");
	close(c);

	struct pollfd p = {.fd = listener, .events = POLLIN};
	int ready = poll(&p, 1, 300);
	errno = 0;
	int s = accept(listener, NULL, NULL);
	if (ready != 0 || s >= 0)
		bad("listener-saw-no-connection", "a connection reached the listener");
	else
		ok("listener-saw-no-connection");

	int other = listen_on(other_port);
	c = connect_to(other_port);
	ok("unmatched-port-connects");
	close(c);
	close(other);
	close(listener);
}

/* A non-blocking connect under a delay returns EINPROGRESS at once and
 * becomes writable after the delay (SPEC 12: never a sleep in the call). */
static void check_connect_delay(int port, int delay_ms)
{
	int listener = listen_on(port);
	struct sockaddr_in a = loopback(port);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int64_t t0 = now_ms();
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	if (r != 0 && e != EINPROGRESS)
		bad("delayed-nonblocking-connect-proceeds", "got %d (%s)", r, ename(e));
	else
		ok("delayed-nonblocking-connect-proceeds");
	struct pollfd p = {.fd = c, .events = POLLOUT};
	int n = poll(&p, 1, delay_ms + 5000);
	int64_t took = now_ms() - t0;
	if (took < delay_ms || took > delay_ms + 5000)
		bad("connect-delay-bounds", "writable after %lld ms, expected %d..%d", (long long)took,
		    delay_ms, delay_ms + 5000);
	else
		ok("connect-delay-bounds");
	int so = -1;
	socklen_t len = sizeof(so);
	if (n != 1 || getsockopt(c, SOL_SOCKET, SO_ERROR, &so, &len) < 0 || so != 0)
		bad("delayed-connect-completes", "SO_ERROR %s", ename(so));
	else
		ok("delayed-connect-completes");
	close(accept_one(listener));
	close(c);
	close(listener);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "io") == 0)
		check_io(port_arg(argv[2]), errno_from_name(argv[3]), parse_families(argv[4]));
	else if (argc == 4 && strcmp(argv[1], "errno") == 0)
		check_errno(port_arg(argv[2]), atoi(argv[3]));
	else if (argc == 5 && strcmp(argv[1], "connect") == 0)
		check_connect(port_arg(argv[2]), errno_from_name(argv[3]), port_arg(argv[4]));
	else if (argc == 4 && strcmp(argv[1], "connect-delay") == 0)
		check_connect_delay(port_arg(argv[2]), atoi(argv[3]));
	else
		die("usage: helper_io io|errno|connect|connect-delay PORT ...");
	return helper_failures ? 1 : 0;
}
