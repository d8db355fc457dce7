/*
 * helper_readiness.c - the mechanism of SPEC 12 pinned with small event
 * loops (test_readiness.sh): delays on non-blocking sockets are seen
 * through readiness, never by stalling the loop.
 *
 *   helper_readiness MODE PORT DELAY_MS [OTHER_PORT | WANT]
 *
 * PORT is matched by the rules of the test (a delay on connect or recv);
 * OTHER_PORT is not. Each mode listens on PORT itself (and OTHER_PORT),
 * so it plays both ends. Timing checks are bounds measured from the event
 * they follow: at least the delay minus a little (clock granularity), at
 * most the delay plus a generous margin (the machine is loaded).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "helper.h"

#define SLACK_MS  30   /* early wake-ups tolerated: timer rounding */
#define MARGIN_MS 3000 /* late wake-ups tolerated: a loaded machine */
#define MAGIC	  0x5eed0fdeadbeefULL

static int delay_ms;

static void nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
}

/* A connected pair through the listener, without faults on connect. */
static int pair(int listener, int port, int *peer)
{
	int c = connect_to(port);
	*peer = accept_one(listener);
	return c;
}

static void within(const char *name, int64_t took, int64_t lo, int64_t hi)
{
	if (took < lo || took > hi)
		bad(name, "took %lld ms, expected %lld..%lld", (long long)took, (long long)lo, (long long)hi);
	else
		ok(name);
}

static void expect_eagain(const char *name, int fd)
{
	char b[16];
	errno = 0;
	ssize_t r = recv(fd, b, sizeof(b), 0);
	if (r == -1 && errno == EAGAIN)
		ok(name);
	else
		bad(name, "recv returned %zd (%s), expected -1/EAGAIN", r, ename(errno));
}

static void expect_data(const char *name, int fd, const char *want)
{
	char b[64] = {0};
	ssize_t r = recv(fd, b, sizeof(b) - 1, 0);
	if (r == (ssize_t)strlen(want) && strcmp(b, want) == 0)
		ok(name);
	else
		bad(name, "recv returned %zd '%s' (%s), expected '%s'", r, r > 0 ? b : "", ename(errno),
		    want);
}

/* A non-blocking connect under a connect delay: EINPROGRESS at once, not
 * writable (and no connection at the listener) before the delay, writable
 * after it, SO_ERROR 0, then a working connection. */
static void mode_connect(int port)
{
	int l = listen_on(port);
	nonblock(l);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = loopback(port);
	int64_t t0 = now_ms();
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	int64_t took = now_ms() - t0;
	if (r == -1 && e == EINPROGRESS && took < delay_ms / 2)
		ok("connect returns EINPROGRESS at once");
	else
		bad("connect returns EINPROGRESS at once", "r=%d %s after %lld ms", r, ename(e),
		    (long long)took);
	struct pollfd p = {s, POLLOUT, 0};
	int n = poll(&p, 1, delay_ms / 4);
	if (n == 0)
		ok("not writable before the delay");
	else
		bad("not writable before the delay", "poll %d revents %#x", n, p.revents);
	if (accept(l, NULL, NULL) < 0 && errno == EAGAIN)
		ok("no connection reaches the listener before the delay");
	else
		bad("no connection reaches the listener before the delay", "accept succeeded");
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	if (r == -1 && errno == EALREADY)
		ok("connect again before the delay: EALREADY");
	else
		bad("connect again before the delay: EALREADY", "r=%d %s", r, ename(errno));
	n = poll(&p, 1, -1);
	took = now_ms() - t0;
	if (n == 1 && (p.revents & POLLOUT))
		ok("writable after the delay");
	else
		bad("writable after the delay", "poll %d revents %#x", n, p.revents);
	within("poll(-1) wakes at the connect deadline", took, delay_ms - SLACK_MS, delay_ms + MARGIN_MS);
	int err = -1;
	socklen_t len = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
		ok("SO_ERROR 0");
	else
		bad("SO_ERROR 0", "SO_ERROR %s", ename(err));
	struct pollfd lp = {l, POLLIN, 0};
	poll(&lp, 1, 2000);
	int peer = accept(l, NULL, NULL);
	if (peer < 0)
		die("accept after the delay");
	if (send(s, "hi", 2, 0) == 2)
		ok("the connection works");
	else
		bad("the connection works", "send %s", ename(errno));
	close(peer);
	close(s);
	close(l);
}

/* A recv delay on a non-blocking socket, seen by poll (or select): EAGAIN,
 * hidden, readable at the deadline; another socket of the same loop is
 * served at once meanwhile. */
static void mode_recv(int port, int other, bool use_select)
{
	int l = listen_on(port), lo = listen_on(other), peer, opeer;
	int s = pair(l, port, &peer), o = pair(lo, other, &opeer);
	nonblock(s);
	nonblock(o);
	if (send(peer, "data", 4, 0) != 4)
		die("send");
	struct pollfd p = {s, POLLIN, 0};
	if (poll(&p, 1, 2000) != 1)
		die("data never arrived");
	int64_t t0 = now_ms();
	expect_eagain("recv under a delay: EAGAIN at once", s);
	if (now_ms() - t0 < delay_ms / 2)
		ok("EAGAIN without sleeping");
	else
		bad("EAGAIN without sleeping", "took %lld ms", (long long)(now_ms() - t0));
	if (send(opeer, "other", 5, 0) != 5)
		die("send other");
	int64_t t1 = now_ms();
	if (use_select) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(s, &r);
		FD_SET(o, &r);
		int n = select((s > o ? s : o) + 1, &r, NULL, NULL, NULL);
		if (n == 1 && FD_ISSET(o, &r) && !FD_ISSET(s, &r))
			ok("select reports the other socket only");
		else
			bad("select reports the other socket only", "n=%d s=%d o=%d", n, FD_ISSET(s, &r),
			    FD_ISSET(o, &r));
	} else {
		struct pollfd two[2] = {{s, POLLIN, 0}, {o, POLLIN, 0}};
		int n = poll(two, 2, -1);
		if (n == 1 && two[1].revents == POLLIN && two[0].revents == 0)
			ok("poll reports the other socket only");
		else
			bad("poll reports the other socket only", "n=%d revents %#x %#x", n, two[0].revents,
			    two[1].revents);
	}
	within("the other socket is served at once", now_ms() - t1, 0, delay_ms / 2);
	expect_data("the other socket's data", o, "other");
	if (use_select) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(s, &r);
		int n = select(s + 1, &r, NULL, NULL, NULL);
		if (n == 1 && FD_ISSET(s, &r))
			ok("select(NULL timeout) reports the delayed socket at its deadline");
		else
			bad("select(NULL timeout) reports the delayed socket at its deadline", "n=%d", n);
	} else {
		int n = poll(&p, 1, -1);
		if (n == 1 && (p.revents & POLLIN))
			ok("poll(-1) reports the delayed socket at its deadline");
		else
			bad("poll(-1) reports the delayed socket at its deadline", "n=%d revents %#x", n,
			    p.revents);
	}
	within("woken at the deadline", now_ms() - t0, delay_ms - SLACK_MS, delay_ms + MARGIN_MS);
	expect_data("the delayed data, after the deadline", s, "data");
	close(s), close(o), close(peer), close(opeer), close(l), close(lo);
}

/* Waits on ep up to ms; returns the number of events, checks their data. */
static int ep_wait(int ep, int ms, const char *name)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, ms);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 != MAGIC)
			bad(name, "event %d carries data %#llx, not the program's", i,
			    (unsigned long long)ev[i].data.u64);
	return n;
}

static void expect_events(const char *name, int got, int want)
{
	if (got == want)
		ok(name);
	else
		bad(name, "%d events, expected %d", got, want);
}

/* Edge-triggered or one-shot epoll under a recv delay: exactly one
 * wake-up per readiness change, with the program's data. */
static void mode_epoll(int port, uint32_t flag)
{
	int l = listen_on(port), peer;
	int s = pair(l, port, &peer);
	nonblock(s);
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN | flag, .data.u64 = MAGIC};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0)
		die("epoll_ctl ADD");
	if (send(peer, "data", 4, 0) != 4)
		die("send");
	expect_events("the data arrives: one event", ep_wait(ep, 2000, "arrival"), 1);
	int64_t t0 = now_ms();
	expect_eagain("recv under a delay: EAGAIN", s);
	if (flag == EPOLLONESHOT && epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) < 0) /* re-armed, as such loops do */
		die("epoll_ctl MOD");
	expect_events("nothing before the deadline", ep_wait(ep, delay_ms / 4, "early"), 0);
	int n = ep_wait(ep, -1, "deadline");
	expect_events("one event at the deadline", n, 1);
	within("epoll_wait(-1) wakes at the deadline", now_ms() - t0, delay_ms - SLACK_MS,
	       delay_ms + MARGIN_MS);
	expect_events("no second event for the same readiness", ep_wait(ep, 200, "repeat"), 0);
	expect_data("the delayed data", s, "data");
	if (send(peer, "more", 4, 0) != 4)
		die("send more");
	if (flag == EPOLLONESHOT) {
		expect_events("one-shot: nothing until re-armed", ep_wait(ep, 200, "disarmed"), 0);
		if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) < 0)
			die("epoll_ctl MOD");
	}
	expect_events("new data: one event", ep_wait(ep, 2000, "new data"), 1);
	expect_events("and only one", ep_wait(ep, 200, "new data repeat"), 0);
	close(ep), close(s), close(peer), close(l);
}

/* Registered before connect (nginx's order), edge-triggered: the socket
 * shows nothing while the connect is deferred, then EPOLLOUT once. */
static void mode_epoll_connect(int port)
{
	int l = listen_on(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = MAGIC};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0)
		die("epoll_ctl ADD");
	struct sockaddr_in a = loopback(port);
	int64_t t0 = now_ms();
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	if (r == -1 && errno == EINPROGRESS)
		ok("connect returns EINPROGRESS");
	else
		bad("connect returns EINPROGRESS", "r=%d %s", r, ename(errno));
	expect_events("nothing before the deadline", ep_wait(ep, delay_ms / 4, "early"), 0);
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, -1);
	if (n == 1 && (ev.events & EPOLLOUT) && !(ev.events & (EPOLLERR | EPOLLHUP)) && ev.data.u64 == MAGIC)
		ok("EPOLLOUT with the program's data after the delay");
	else
		bad("EPOLLOUT with the program's data after the delay", "n=%d events %#x", n,
		    n == 1 ? ev.events : 0);
	within("woken at the connect deadline", now_ms() - t0, delay_ms - SLACK_MS, delay_ms + MARGIN_MS);
	int err = -1;
	socklen_t len = sizeof(err);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err == 0)
		ok("SO_ERROR 0");
	else
		bad("SO_ERROR 0", "%s", ename(err));
	expect_events("edge-triggered: no repeat", ep_wait(ep, 200, "repeat"), 0);
	close(ep), close(s), close(l);
}

/* A delayed non-blocking connect that fails: writable at the deadline,
 * SO_ERROR gives the injected error (and the breaker counts it). */
static void mode_connect_fails(int port, const char *want)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = loopback(port);
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	if (r == 0 || e != EINPROGRESS) {
		printf("connect %s\n", r == 0 ? "connected" : ename(e));
		close(s);
		return;
	}
	struct pollfd p = {s, POLLOUT, 0};
	int64_t t0 = now_ms();
	poll(&p, 1, -1);
	int64_t took = now_ms() - t0;
	int err = -1;
	socklen_t len = sizeof(err);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("so_error %s after %lld ms\n", err ? ename(err) : "0", (long long)took);
	if (strcmp(want, err ? ename(err) : "0") != 0)
		bad("SO_ERROR of the delayed connect", "%s, expected %s", err ? ename(err) : "0", want);
	close(s);
}

/* A non-blocking connect queued in a full bulkhead of 1 (the helper's own
 * blocking connect holds the slot), registered edge-triggered: nothing
 * while queued (SO_ERROR 0, connect again EALREADY), then exactly one
 * EPOLLOUT once the holder closes - or, when the holder never closes
 * (want != NULL), one event at the queue timeout with SO_ERROR = want,
 * once. */
static void mode_bulkhead_queued(int port, const char *want)
{
	int l = listen_on(port), peer;
	int holder = pair(l, port, &peer);
	nonblock(l);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = MAGIC};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0)
		die("epoll_ctl ADD");
	struct sockaddr_in a = loopback(port);
	int64_t t0 = now_ms();
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int en = errno;
	if (r == -1 && en == EINPROGRESS && now_ms() - t0 < 500)
		ok("connect to the full bulkhead: EINPROGRESS at once");
	else
		bad("connect to the full bulkhead: EINPROGRESS at once", "r=%d %s after %lld ms", r,
		    ename(en), (long long)(now_ms() - t0));
	expect_events("queued: no event", ep_wait(ep, 300, "queued"), 0);
	int err = -1;
	socklen_t len = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
		ok("queued: SO_ERROR 0");
	else
		bad("queued: SO_ERROR 0", "SO_ERROR %s", ename(err));
	r = connect(s, (struct sockaddr *)&a, sizeof(a));
	if (r == -1 && errno == EALREADY)
		ok("queued: connect again answers EALREADY");
	else
		bad("queued: connect again answers EALREADY", "r=%d %s", r, ename(errno));
	if (accept(l, NULL, NULL) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		ok("queued: no connection reaches the listener");
	else
		bad("queued: no connection reaches the listener", "accept succeeded");
	int64_t t1 = now_ms();
	if (!want) {
		close(holder);
		close(peer);
	}
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, -1);
	int64_t took = now_ms() - t1;
	if (!want) {
		if (n == 1 && (ev.events & EPOLLOUT) && !(ev.events & (EPOLLERR | EPOLLHUP)) &&
		    ev.data.u64 == MAGIC)
			ok("admitted: EPOLLOUT with the program's data");
		else
			bad("admitted: EPOLLOUT with the program's data", "n=%d events %#x", n,
			    n == 1 ? ev.events : 0);
		within("admitted promptly after the holder closed", took, 0, MARGIN_MS);
	} else {
		if (n == 1 && (ev.events & EPOLLOUT) && ev.data.u64 == MAGIC)
			ok("timed out: one event (writable) with the program's data");
		else
			bad("timed out: one event (writable) with the program's data", "n=%d events %#x", n,
			    n == 1 ? ev.events : 0);
		within("refused at the queue timeout", now_ms() - t0, delay_ms - SLACK_MS,
		       delay_ms + MARGIN_MS);
	}
	expect_events("edge-triggered: exactly one event", ep_wait(ep, 200, "repeat"), 0);
	err = -1;
	len = sizeof(err);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	const char *got = err ? ename(err) : "0";
	if (strcmp(got, want ? want : "0") == 0)
		ok("SO_ERROR after the wait");
	else
		bad("SO_ERROR after the wait", "%s, expected %s", got, want ? want : "0");
	if (want) {
		err = -1;
		len = sizeof(err);
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err == 0)
			ok("SO_ERROR reports the refusal once");
		else
			bad("SO_ERROR reports the refusal once", "second SO_ERROR %s", ename(err));
	} else {
		struct pollfd lp = {l, POLLIN, 0};
		poll(&lp, 1, 2000);
		int p2 = accept(l, NULL, NULL);
		if (p2 >= 0 && send(s, "hi", 2, 0) == 2)
			ok("the admitted connection works");
		else
			bad("the admitted connection works", "accept %d send %s", p2, ename(errno));
		if (p2 >= 0)
			close(p2);
	}
	if (want)
		close(holder), close(peer);
	close(ep), close(s), close(l);
}

/* fork while a non-blocking connect is deferred: parent and child both
 * wait for writability; the socket is shared, the parent's connect is the
 * one made (test_readiness.sh counts the connect system calls). */
static void mode_fork_connect(int port)
{
	int l = listen_on(port);
	nonblock(l);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = loopback(port);
	int64_t t0 = now_ms();
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != -1 || errno != EINPROGRESS)
		die("connect: expected EINPROGRESS, got %s", ename(errno));
	pid_t kid = fork();
	if (kid < 0)
		die("fork");
	struct pollfd p = {s, POLLOUT, 0};
	int n = poll(&p, 1, -1);
	int64_t took = now_ms() - t0;
	const char *who = kid == 0 ? "child" : "parent";
	char name[96];
	snprintf(name, sizeof name, "%s: writable, not before the deadline", who);
	if (n == 1 && (p.revents & POLLOUT) && took >= delay_ms - SLACK_MS)
		ok(name);
	else
		bad(name, "poll %d revents %#x after %lld ms", n, p.revents, (long long)took);
	if (kid == 0)
		_exit(helper_failures ? 1 : 0);
	int status;
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad("child", "failed (status %#x)", status);
	struct pollfd lp = {l, POLLIN, 0};
	poll(&lp, 1, 2000);
	int peer = accept(l, NULL, NULL);
	if (peer >= 0 && send(s, "hi", 2, 0) == 2)
		ok("parent: one connection, it works");
	else
		bad("parent: one connection, it works", "accept %d %s", peer, ename(errno));
	if (peer >= 0)
		close(peer);
	close(s), close(l);
}

/* Blocking sockets: the delay is bounded by SO_RCVTIMEO / SO_SNDTIMEO. */
static void mode_blocking_recv(int port)
{
	int l = listen_on(port), peer;
	int s = pair(l, port, &peer);
	struct timeval tv = {0, 300000};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	send(peer, "data", 4, 0);
	int64_t t0 = now_ms();
	expect_eagain("blocking recv: EAGAIN when SO_RCVTIMEO elapses during the delay", s);
	within("after SO_RCVTIMEO (300 ms), not the delay", now_ms() - t0, 300 - SLACK_MS, delay_ms - 200);
	close(s), close(peer), close(l);
}

static void mode_blocking_connect(int port)
{
	int l = listen_on(port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {0, 300000};
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = loopback(port);
	int64_t t0 = now_ms();
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	if (r == -1 && e == EINPROGRESS)
		ok("blocking connect: EINPROGRESS when SO_SNDTIMEO elapses during the delay");
	else
		bad("blocking connect: EINPROGRESS when SO_SNDTIMEO elapses during the delay", "r=%d %s", r,
		    ename(e));
	within("after SO_SNDTIMEO (300 ms), not the delay", now_ms() - t0, 300 - SLACK_MS, delay_ms - 200);
	struct pollfd p = {s, POLLOUT, 0};
	int n = poll(&p, 1, -1);
	if (n == 1 && (p.revents & POLLOUT))
		ok("the connect goes on: writable at the deadline");
	else
		bad("the connect goes on: writable at the deadline", "poll %d %#x", n, p.revents);
	within("writable at the deadline", now_ms() - t0, delay_ms - SLACK_MS, delay_ms + MARGIN_MS);
	close(s), close(l);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		die("usage: helper_readiness MODE PORT DELAY_MS [OTHER_PORT|WANT]");
	const char *mode = argv[1];
	int port = port_arg(argv[2]);
	delay_ms = atoi(argv[3]);
	if (!strcmp(mode, "connect"))
		mode_connect(port);
	else if (!strcmp(mode, "recv-poll") && argc > 4)
		mode_recv(port, port_arg(argv[4]), false);
	else if (!strcmp(mode, "recv-select") && argc > 4)
		mode_recv(port, port_arg(argv[4]), true);
	else if (!strcmp(mode, "epoll-et"))
		mode_epoll(port, EPOLLET);
	else if (!strcmp(mode, "epoll-oneshot"))
		mode_epoll(port, EPOLLONESHOT);
	else if (!strcmp(mode, "epoll-connect"))
		mode_epoll_connect(port);
	else if (!strcmp(mode, "connect-fails") && argc > 4)
		mode_connect_fails(port, argv[4]);
	else if (!strcmp(mode, "bulkhead-queued"))
		mode_bulkhead_queued(port, argc > 4 ? argv[4] : NULL);
	else if (!strcmp(mode, "fork-connect"))
		mode_fork_connect(port);
	else if (!strcmp(mode, "blocking-recv"))
		mode_blocking_recv(port);
	else if (!strcmp(mode, "blocking-connect"))
		mode_blocking_connect(port);
	else
		die("unknown mode '%s'", mode);
	return helper_failures ? 1 : 0;
}
