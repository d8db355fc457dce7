#!/usr/bin/python3
"""server.py - the loopback peer the integration tests talk to.

It is the "other side" that proves what really crossed the wire: every
connection it accepts and every byte it receives is written to an event
log, one line per event, so a test can say "the server accepted nothing"
or "the server received exactly 20971520 bytes with this SHA-256".

  --listen tcp4 | tcp6 | tcp46 | unix:PATH | unix:@NAME
      tcp4 binds 127.0.0.1, tcp6 binds ::1, tcp46 binds :: with IPv4-mapped
      addresses allowed (so a client may connect to ::ffff:127.0.0.1);
      unix:@NAME is an abstract Unix socket.
  --port N          0 (default) picks a free one.
  --ready FILE      written (atomically) with the port or path once listening.
  --events FILE     the event log:
                        accept N            connection N accepted
                        request N PATH      (http) request line received
                        closed N BYTES SHA  connection N ended after BYTES received
                        control N TOKEN     connection N was a control connection
                                            (it sent "CONTROL TOKEN\\r\\n\\r\\n" first)
  --mode sink       read until EOF
         greet      send --greet first (default "hello\\n"), then read until EOF
         echo       send back what arrives
         sendfile   send --file, then close
         http       answer every GET with a small body, then close
"""
import argparse
import hashlib
import os
import socket
import sys
import threading

lock = threading.Lock()
counter = [0]


def event(path, line):
    with lock:
        with open(path, "a") as f:
            f.write(line + "\n")


def serve_one(conn, n, args):
    digest = hashlib.sha256()
    total = 0
    head = b""  # the first bytes received, to recognise a control connection
    try:
        if args.mode == "greet":
            conn.sendall(args.greet.encode())
        if args.mode == "sendfile":
            with open(args.file, "rb") as f:
                while True:
                    chunk = f.read(1 << 16)
                    if not chunk:
                        break
                    conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
        if args.mode == "http":
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            total = len(data)
            digest.update(data)
            head = data[:128]
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            event(args.events, "request %d %s" % (n, line))
            body = b"hello from the faultline test server\n"
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
            conn.shutdown(socket.SHUT_WR)
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            digest.update(chunk)
            if len(head) < 128:
                head += chunk[:128 - len(head)]
            if args.mode == "echo":
                conn.sendall(chunk)
    except OSError as e:
        event(args.events, "error %d %s" % (n, e.__class__.__name__))
    finally:
        conn.close()
        if head.startswith(b"CONTROL "):
            token = head[8:].split(b"\r\n", 1)[0].decode(errors="replace")
            event(args.events, "control %d %s" % (n, token))
        event(args.events, "closed %d %d %s" % (n, total, digest.hexdigest()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--mode", default="sink",
                   choices=["sink", "greet", "echo", "sendfile", "http"])
    p.add_argument("--greet", default="hello\n")
    p.add_argument("--file")
    args = p.parse_args()

    if args.listen.startswith("unix:"):
        path = args.listen[5:]
        if path.startswith("@"):  # abstract namespace: no file
            path = "\0" + path[1:]
        elif os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        where = args.listen[5:]
    else:
        family = socket.AF_INET if args.listen == "tcp4" else socket.AF_INET6
        host = {"tcp4": "127.0.0.1", "tcp6": "::1", "tcp46": "::"}[args.listen]
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.listen == "tcp46":
            srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        srv.bind((host, args.port))
        where = str(srv.getsockname()[1])
    srv.listen(128)
    open(args.events, "a").close()
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(where + "\n")
    os.rename(tmp, args.ready)

    while True:
        conn, _ = srv.accept()
        counter[0] += 1
        n = counter[0]
        event(args.events, "accept %d" % n)
        threading.Thread(target=serve_one, args=(conn, n, args), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
