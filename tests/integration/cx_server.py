#!/usr/bin/env python3
"""cx_server.py - servers for the connection-fault tests (test_connfaults.sh).

  --mode frames  on each connection: --count length-prefixed messages
                 (4-byte big-endian length, then that many bytes: message i
                 is "msg-<i>-" repeated to --size bytes), then close
  --mode file    HTTP/1.0: answers any request with --file (Content-Length
                 set), then close; logs per connection "sent N" when all went
                 out, "reset N" when the peer reset the connection after N bytes

Writes its port to --ready once it listens; events go to --events, one line
each, flushed at once. Threads, so a hung client does not stop the others.
"""
import argparse
import os
import socket
import struct
import threading


def event(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def frames(conn, args):
    for i in range(args.count):
        unit = ("msg-%d-" % i).encode()
        body = (unit * (args.size // len(unit) + 1))[: args.size]
        conn.sendall(struct.pack(">I", len(body)) + body)


def serve_file(conn, args):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    body = open(args.file, "rb").read()
    head = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n" % len(body)
    conn.sendall(head)
    sent = 0
    try:
        while sent < len(body):
            n = conn.send(body[sent : sent + 16384])
            sent += n
        # end of the body for clients that read to EOF; a client may
        # still reset after the last byte: wait for its close
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(30)
        while conn.recv(4096):
            pass
        event(args.events, "sent %d" % sent)
    except (ConnectionResetError, BrokenPipeError):
        event(args.events, "reset %d" % sent)


def handle(conn, args):
    try:
        if args.mode == "frames":
            frames(conn, args)
        else:
            serve_file(conn, args)
    except OSError as e:
        event(args.events, "error %s" % e)
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["frames", "file"], required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--size", type=int, default=300)
    p.add_argument("--file")
    args = p.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, args.ready)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    main()
