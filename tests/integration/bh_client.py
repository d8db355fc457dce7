#!/usr/bin/python3
"""bh_client.py - a client for the breaker and bulkhead tests.

Connects to 127.0.0.1:PORT (normally under the shim), waits for the
server's greeting (conc_server.py sends "hi\\n"; --no-greet for servers
that send nothing), holds the connection, then ends it. One result line per
connection attempt, times in Unix milliseconds (comparable with `date
+%s%N` in the shell):

    ok start=T connected=T closing=T
    err errno=ECONNREFUSED start=T end=T via=connect|so_error|recv|greet

`via` says where the error surfaced: connect itself (for a non-blocking
socket that means the shim or the kernel refused at once), SO_ERROR after
select (how a non-blocking connect's outcome is normally learned), the
first recv, or the greeting read.

How a connection is opened:
  (default)         a blocking socket: connect() may wait in the bulkhead queue
  --nonblock MODE   setblocking(False), connect_ex, select for writability,
                    then MODE=so_error: getsockopt(SO_ERROR); MODE=recv: recv()
  --timeout SECS    settimeout(SECS): Python then makes the socket O_NONBLOCK

How long it is held:
  --hold-ms N          after the greeting
  --hold-until FILE    until FILE exists (bounded by --max-hold-ms)

How it ends (--end):
  close    shutdown(SHUT_WR), wait for the server's EOF, close(): the server
           has counted the connection gone before close() frees the slot
  plain    close() at once
  exit     leave the descriptor open, sys.exit(0) (a normal exit: atexit,
           destructors)
  _exit    leave the descriptor open, os._exit(0) (no destructors)

Several at once: --threads K runs K threads, each --iterations times.

Fork (--fork DIR --parent STEPS --child STEPS): after connecting, fork;
each side runs its comma-separated steps in order:
  close          close() this process's copy of the descriptor
  shutclose      the `close` ending above (for the last holder)
  mark:NAME      create DIR/NAME
  wait:NAME      wait until DIR/NAME exists (at most --max-hold-ms)
  exit, _exit    end this process that way (descriptor left open)
  reap           (parent) wait for the child
A side that runs out of steps exits normally.

Exit status: 0 if every attempt connected, 1 otherwise, 2 on misuse.
"""
import argparse
import errno
import os
import select
import socket
import sys
import threading
import time

out_lock = threading.Lock()


def now_ms():
    return time.time_ns() // 1000000


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def wait_file(path, max_ms):
    deadline = time.monotonic() + max_ms / 1000.0
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def touch(path):
    with open(path, "a"):
        pass


def errname(e):
    return errno.errorcode.get(e, str(e))


class Failed(Exception):
    def __init__(self, err, via):
        Exception.__init__(self, err, via)
        self.err, self.via = err, via


def open_connection(args):
    """A connected, greeted socket, or Failed."""
    addr = ("127.0.0.1", args.port)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if args.nonblock:
            s.setblocking(False)
            r = s.connect_ex(addr)
            if r not in (0, errno.EINPROGRESS):
                raise Failed(r, "connect")
            if r == errno.EINPROGRESS:
                _, w, _ = select.select([], [s], [], 10)
                if not w:
                    raise Failed(errno.ETIMEDOUT, "select")
                if args.nonblock == "so_error":
                    r = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if r:
                        raise Failed(r, "so_error")
                else:
                    try:
                        s.recv(1)
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        raise Failed(e.errno, "recv")
            s.setblocking(True)
        else:
            if args.timeout is not None:
                s.settimeout(args.timeout)
            try:
                s.connect(addr)
            except OSError as e:
                raise Failed(e.errno if e.errno is not None else errno.ETIMEDOUT, "connect")
            s.settimeout(None)
        if args.greet:
            s.settimeout(10)
            data = b""
            try:
                while not data.endswith(b"\n"):
                    chunk = s.recv(16)
                    if not chunk:
                        raise Failed(errno.ECONNRESET, "greet")
                    data += chunk
            except OSError as e:
                raise Failed(e.errno if e.errno is not None else errno.ETIMEDOUT, "greet")
            s.settimeout(None)
        return s
    except Failed:
        s.close()
        raise


def close_after_server(s):
    """shutdown, wait for the server's EOF (bounded), then close."""
    try:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def hold(args):
    if args.hold_until:
        wait_file(args.hold_until, args.max_hold_ms)
    elif args.hold_ms:
        time.sleep(args.hold_ms / 1000.0)


def one_attempt(args):
    """One connection, held and ended as asked; True if it connected."""
    start = now_ms()
    try:
        s = open_connection(args)
    except Failed as f:
        say("err errno=%s start=%d end=%d via=%s" % (errname(f.err), start, now_ms(), f.via))
        return False
    connected = now_ms()
    if args.ready:
        touch(args.ready)
    hold(args)
    closing = now_ms()
    say("ok start=%d connected=%d closing=%d" % (start, connected, closing))
    if args.end == "close":
        close_after_server(s)
    elif args.end == "plain":
        s.close()
    elif args.end == "exit":
        s.detach()  # the descriptor stays open: only process exit ends it
        sys.stdout.flush()
        sys.exit(0)
    elif args.end == "_exit":
        sys.stdout.flush()
        os._exit(0)
    return True


def run_steps(steps, s, args, child_pid):
    """The fork steps of one side; returns the exit status."""
    fd_open = True
    for step in [x for x in steps.split(",") if x]:
        name, _, arg = step.partition(":")
        if name == "close":
            s.close()
            fd_open = False
        elif name == "shutclose":
            close_after_server(s)
            fd_open = False
        elif name == "mark":
            touch(os.path.join(args.fork, arg))
        elif name == "wait":
            if not wait_file(os.path.join(args.fork, arg), args.max_hold_ms):
                say("timed out waiting for %s" % arg)
                return 1
        elif name == "exit":
            if fd_open:
                s.detach()
            sys.stdout.flush()
            sys.exit(0)
        elif name == "_exit":
            sys.stdout.flush()
            os._exit(0)
        elif name == "reap":
            if child_pid:
                os.waitpid(child_pid, 0)
        else:
            say("unknown step %s" % step)
            return 2
    return 0


def fork_mode(args):
    start = now_ms()
    try:
        s = open_connection(args)
    except Failed as f:
        say("err errno=%s start=%d end=%d via=%s" % (errname(f.err), start, now_ms(), f.via))
        return 1
    say("ok start=%d connected=%d closing=0" % (start, now_ms()))
    if args.ready:
        touch(args.ready)
    pid = os.fork()
    if pid == 0:
        rc = run_steps(args.child, s, args, 0)
        sys.stdout.flush()
        if rc:
            os._exit(rc)
        sys.exit(0)
    rc = run_steps(args.parent, s, args, pid)
    return rc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--nonblock", choices=["so_error", "recv"])
    p.add_argument("--timeout", type=float)
    p.add_argument("--no-greet", dest="greet", action="store_false")
    p.add_argument("--hold-ms", type=int, default=0)
    p.add_argument("--hold-until")
    p.add_argument("--max-hold-ms", type=int, default=30000)
    p.add_argument("--ready")
    p.add_argument("--end", choices=["close", "plain", "exit", "_exit"], default="close")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--fork")
    p.add_argument("--parent", default="")
    p.add_argument("--child", default="")
    args = p.parse_args()

    if args.fork:
        return fork_mode(args)
    if args.threads == 1 and args.iterations == 1:
        return 0 if one_attempt(args) else 1

    failures = [0]

    def worker():
        for _ in range(args.iterations):
            if not one_attempt(args):
                with out_lock:
                    failures[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 1 if failures[0] else 0


if __name__ == "__main__":
    sys.exit(main())
