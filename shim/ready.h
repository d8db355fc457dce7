/*
 * ready.h - injected delays on sockets that must not sleep: the pending
 * state of a connection, seen through readiness (SPEC 12).
 *
 * A delay on a non-blocking socket (O_NONBLOCK, or MSG_DONTWAIT on the
 * call) does not sleep. It becomes a deadline in a pending record of the
 * connection, one per direction: a connect whose real call is not made
 * yet (EINPROGRESS now; the real non-blocking connect is made when the
 * deadline is first noticed), a recv/read or a send/write that answers
 * EAGAIN until its deadline (the fault was decided once, at the first
 * call; the first call after the deadline makes the real call without
 * deciding again). While a direction is pending, the readiness calls
 * (poll.c, epoll.c) do not report it, and their waits are cut at the
 * earliest deadline, so the program wakes when the delay has passed.
 *
 * Nothing runs in the background: a deadline is acted on by whichever
 * call of the program notices it first - a readiness call, getsockopt,
 * connect, or an I/O call on the socket.
 *
 * fl_ready_count, the number of connections with a direction waiting for
 * its deadline, is the one test every readiness wrapper makes first: at 0
 * they tail-call the real function.
 */
#ifndef FL_READY_H
#define FL_READY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "domain.h"
#include "rules.h"

struct fl_conn;

/* Connections with a direction waiting for its deadline (atomic). */
extern uint32_t fl_ready_count;

/* The returns of fl_call_fault and fl_ready_before beyond an errno. */
#define FL_DEFERRED (-1) /* the delay became a pending deadline: EAGAIN / EINPROGRESS */

/* Whether a call on fd with these MSG_ flags may not block. */
bool fl_ready_nonblocking(int fd, int msg_flags);

/* The socket's SO_RCVTIMEO (recv/read) or SO_SNDTIMEO (send/write/connect)
 * in ms, rounded up; 0 = none. */
uint32_t fl_ready_timeout_ms(int fd, enum fl_op op);

/* connect.c hands the address of the connect being decided to a deferral
 * (thread-local: set before fl_call_fault, read only when a delay fires). */
void fl_ready_connect_addr(const struct sockaddr *sa, socklen_t len);

/*
 * Makes a delay of ms on op a pending deadline of c (reached through fd);
 * err is the error to fail with at the deadline (0: make the real call).
 * Returns false when it cannot (fd not in the table, no record free): the
 * caller sleeps instead.
 */
bool fl_ready_defer(struct fl_conn *c, int fd, enum fl_op op, uint32_t ms, int err);

/*
 * A connect on a non-blocking socket that found its bulkhead full and got
 * a place in its queue (fl_bulkhead_enqueue): EINPROGRESS, and the socket
 * shows nothing until the bulkhead admits it (then its connect faults are
 * decided and the real connect is made, non-blocking) or timeout_ms passes
 * (then it fails with reject_errno through SO_ERROR, counted in the
 * bulkhead's timeouts, its breaker permit given back uncounted). The turn
 * is looked at by the same calls that act on deadlines, and readiness
 * waits are cut at a 10 ms tick meanwhile: a futex cannot be waited on
 * together with descriptors without a helper thread. Closing the socket
 * gives the place up. Returns false when it cannot (fd not in the table,
 * no record free): the caller refuses the connect at once.
 */
struct fl_bulkhead_place;
bool fl_ready_queue(struct fl_conn *c, int fd, const struct fl_bulkhead_place *place, uint32_t timeout_ms);

/*
 * In a forked child: the deferred and queued connects it inherited are
 * the parent's (the socket is shared; the parent makes the real connect or
 * holds the queue place). The child's copies keep hiding the socket until
 * their deadline, then show it as the kernel has it, and never connect.
 */
void fl_ready_fork_child(void);

/*
 * Before an I/O call on a connection with pending state (c->pending set):
 * acts on passed deadlines. Returns 0 to make the real call without
 * deciding faults again (its deadline passed), -1 with errno EAGAIN (a
 * deadline is ahead or a connect is still deferred), -2 with errno set to
 * the error the delayed fault carried (an injected error: the breaker
 * hears of it), or 1 when nothing pending concerns op (decide as usual).
 */
int fl_ready_before(struct fl_conn *c, int fd, enum fl_op op);

/*
 * connect() again, or getsockopt(SO_ERROR), on a connection with pending
 * state: makes the deferred connect if due. Returns 1 while the connect is
 * still deferred, or 0; *err receives (once) the failure of a deferred
 * connect that ended (its injected error, or what the real call answered
 * at once), else 0.
 */
int fl_ready_connect_state(struct fl_conn *c, int fd, int *err);

/*
 * Acts on every passed deadline (deferred connects made, directions shown
 * again) and returns the ms until the earliest deadline still ahead, or -1
 * when none. O(pending connections). For the readiness wrappers.
 */
int64_t fl_ready_sweep(void);

/* The readiness a readiness call must not report for fd now: POLLIN /
 * POLLOUT bits (every bit, ~0u, while its connect is deferred), or 0. */
uint32_t fl_ready_hidden(int fd);

/* epoll.c's side: the registration table. A pending direction is removed
 * from fd's registration in the kernel (EPOLL_CTL_MOD; the whole
 * registration with EPOLL_CTL_DEL while the connect is deferred, since an
 * unconnected socket reports EPOLLHUP whatever it asks for) and put back
 * when it is due, which also re-arms edge-triggered and one-shot
 * registrations exactly once. */
void fl_ready_epoll_sync(int fd, uint32_t hidden);
void fl_ready_epoll_forget(int fd);

/* A readiness wait with pending deadlines is a loop of real waits, each
 * cut at the earliest deadline, until something is ready or the
 * program's own timeout passes. */
/* The program's end time in ns (0: waits for ever). */
static inline uint64_t fl_ready_end(int64_t timeout_ms)
{
	return timeout_ms < 0 ? 0 : fl_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* ms left until end (-1: for ever), rounded up. */
static inline int64_t fl_ready_left_ms(uint64_t end)
{
	if (end == 0)
		return -1;
	uint64_t now = fl_now_ns();
	return now >= end ? 0 : (int64_t)((end - now + 999999u) / 1000000u);
}

/* The wait this round: the program's, cut at the earliest deadline. */
static inline int64_t fl_ready_this_wait(int64_t left, int64_t next)
{
	int64_t t = (next >= 0 && (left < 0 || next < left)) ? next : left;
	return t > INT_MAX ? INT_MAX : t;
}

/* A connection's last reference is gone: its pending record is freed. */
void fl_ready_release(struct fl_conn *c);

#endif
