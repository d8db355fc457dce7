#!/usr/bin/python3
"""conc_server.py - a loopback peer that counts concurrent connections.

The witness for the bulkhead tests: it accepts on 127.0.0.1, greets every
connection with "hi\\n" (so a client knows it was really accepted, not just
queued in the listen backlog), and keeps the connection open until the
client half-closes it. Then it updates its counts *before* closing its own
side, so a client that waits for the server's EOF before close() (see
bh_client.py) can never make a later client look concurrent with it.

  --ready FILE   written (atomically) with the port once listening
  --stats FILE   rewritten (atomically) after every change:
                     current=C max=M accepted=A
  --port N       0 (default): pick a free one
"""
import argparse
import os
import socket
import sys
import threading

lock = threading.Lock()
state = {"current": 0, "max": 0, "accepted": 0}


def write_stats(path):
    tmp = path + ".tmp.%d" % threading.get_ident()
    with open(tmp, "w") as f:
        f.write("current=%(current)d max=%(max)d accepted=%(accepted)d\n" % state)
    os.rename(tmp, path)


def serve_one(conn, args):
    try:
        conn.sendall(b"hi\n")
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        with lock:
            state["current"] -= 1
            write_stats(args.stats)
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ready", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(128)
    with lock:
        write_stats(args.stats)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, args.ready)

    while True:
        conn, _ = srv.accept()
        with lock:
            state["accepted"] += 1
            state["current"] += 1
            state["max"] = max(state["max"], state["current"])
            write_stats(args.stats)
        threading.Thread(target=serve_one, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
