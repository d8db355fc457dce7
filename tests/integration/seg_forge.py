#!/usr/bin/python3
"""seg_forge.py - forges and reads faultline segments for the hardening tests.

The layout comes from lib/segment.h through helper_seglayout (sizes,
offsets and constants, one "name value" per line), never from numbers
copied here, so a change of the layout cannot leave the tests forging
yesterday's segment.

  seg_forge.py LAYOUT header PATH CAPACITY [FIELD=VALUE ...]
      writes a fresh, valid, empty segment of CAPACITY entries (what
      fl_seg_format lays out), then overrides header fields
      (magic, version, header_size, total_size, capacity, proc_capacity,
      holder_capacity, entries_used); mode 0600
  seg_forge.py LAYOUT random PATH CAPACITY
      random bytes, exactly the size of a segment of CAPACITY
  seg_forge.py LAYOUT poke PATH WHAT INDEX FIELD VALUE [WIDTH]
      overwrites one field of an existing segment in place: WHAT is entry,
      proc or holder; INDEX a record number or "ready" (the first READY
      entry) or "all"; FIELD a name from the layout (e.g. status,
      key.len, breaker.word, holder.entry_plus1) or a byte offset in the
      record; WIDTH in bytes (default: 4, or 2 for key.len and key.port, 1
      for has_breaker/has_bulkhead/key.kind/key.family)
  seg_forge.py LAYOUT fill PATH WHAT FIELD VALUE [WIDTH]
      the same field in every record of the table
  seg_forge.py LAYOUT unterminate PATH WHAT INDEX FIELD LENGTH
      fills LENGTH bytes of a text field with 'A' (no terminating NUL)
  seg_forge.py LAYOUT event PATH KIND WHAT [DEST]
      appends one event record to the ring, whole and published with a
      valid checksum (lib/events.c), whatever KIND and WHAT say: a record
      no writer writes, for the reader to refuse
  seg_forge.py LAYOUT evhdr PATH FIELD VALUE
      overwrites a field of the event ring's header (capacity, record_size)
  seg_forge.py LAYOUT stats PATH
      prints, for each READY destination entry, "DEST op.calls=N
      op.errors_injected=N ... bulkhead.active=N", read straight from the
      file (a reader independent of the CLI)
"""
import os
import random
import struct
import sys

OPS = ["connect", "send", "recv", "write", "read"]


def load_layout(path):
    lay = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            lay[name] = int(value)
    return lay


def holder_capacity(cap):
    # fl_seg_holder_capacity (lib/segment.c): 4 held slots per entry, at least 4096.
    return 4096 if cap < 1024 else cap * 4


def events_offset(lay, cap):
    # fl_seg_events_offset (lib/segment.c): the end of the holders, rounded up to 64.
    end = (lay["FL_SEG_HEADER_SIZE"] + cap * lay["sizeof.fl_seg_entry"] +
           lay["FL_SEG_PROCS"] * lay["sizeof.fl_seg_proc"] +
           holder_capacity(cap) * lay["sizeof.fl_seg_holder"])
    return (end + 63) & ~63


def seg_size(lay, cap):
    return layers_offset(lay, cap) + lay["sizeof.fl_seg_layers"]


def layers_offset(lay, cap):
    # fl_seg_layers_offset (lib/segment.c): after the event ring.
    return (events_offset(lay, cap) + lay["sizeof.fl_seg_events_hdr"] +
            lay["FL_SEG_EVENTS"] * lay["sizeof.fl_seg_event"])


def tables(lay, cap):
    entries = lay["FL_SEG_HEADER_SIZE"]
    procs = entries + cap * lay["sizeof.fl_seg_entry"]
    holders = procs + lay["FL_SEG_PROCS"] * lay["sizeof.fl_seg_proc"]
    return {
        "entry": (entries, lay["sizeof.fl_seg_entry"], cap),
        "proc": (procs, lay["sizeof.fl_seg_proc"], lay["FL_SEG_PROCS"]),
        "holder": (holders, lay["sizeof.fl_seg_holder"], holder_capacity(cap)),
    }


HEADER_FIELDS = {  # name: struct format
    "magic": "<Q", "version": "<I", "header_size": "<I", "total_size": "<Q",
    "capacity": "<I", "proc_capacity": "<I", "holder_capacity": "<I", "entries_used": "<I",
}


def put(buf, off, fmt, value):
    struct.pack_into(fmt, buf, off, value & ((1 << (8 * struct.calcsize(fmt))) - 1))


def header(lay, path, cap, overrides):
    cap = int(cap)
    size = seg_size(lay, cap)
    buf = bytearray(size)
    h = "fl_seg_header."
    put(buf, lay[h + "version"], "<I", lay["FL_SEG_VERSION"])
    put(buf, lay[h + "header_size"], "<I", lay["FL_SEG_HEADER_SIZE"])
    put(buf, lay[h + "total_size"], "<Q", size)
    put(buf, lay[h + "capacity"], "<I", cap)
    put(buf, lay[h + "proc_capacity"], "<I", lay["FL_SEG_PROCS"])
    put(buf, lay[h + "holder_capacity"], "<I", holder_capacity(cap))
    # entry_size, proc_size, holder_size follow holder_capacity, in this order
    base = lay[h + "holder_capacity"] + 4
    put(buf, base, "<I", lay["sizeof.fl_seg_entry"])
    put(buf, base + 4, "<I", lay["sizeof.fl_seg_proc"])
    put(buf, base + 8, "<I", lay["sizeof.fl_seg_holder"])
    ev = events_offset(lay, cap)
    put(buf, ev + lay["fl_seg_events_hdr.capacity"], "<I", lay["FL_SEG_EVENTS"])
    put(buf, ev + lay["fl_seg_events_hdr.record_size"], "<I", lay["sizeof.fl_seg_event"])
    dom = lay[h + "domain"]
    buf[dom:dom + 6] = b"forged"
    put(buf, lay[h + "magic"], "<Q", lay["FL_SEG_MAGIC"])
    for o in overrides:
        name, value = o.split("=", 1)
        put(buf, lay[h + name], HEADER_FIELDS[name], int(value, 0))
    write(path, buf)


def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    os.write(fd, bytes(data))
    os.close(fd)


def read_seg(lay, path):
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    cap = struct.unpack_from("<I", buf, lay["fl_seg_header.capacity"])[0]
    return buf, cap


WIDTHS = {"key.len": 2, "key.port": 2, "key.kind": 1, "key.family": 1,
          "has_breaker": 1, "has_bulkhead": 1}


def field_offset(lay, what, field):
    if field.isdigit():
        return int(field), 4
    width = WIDTHS.get(field, 4)
    if what == "entry" and field.startswith("key."):
        return lay["fl_seg_entry.key"] + lay["fl_seg_key." + field[4:]], width
    if what == "entry" and field.startswith("breaker."):
        return lay["fl_seg_entry.breaker"] + lay["fl_seg_breaker." + field[8:]], 8
    if what == "entry" and field.startswith("bulkhead."):
        return lay["fl_seg_entry.bulkhead"] + lay["fl_seg_bulkhead." + field[9:]], width
    return lay["fl_seg_%s.%s" % (what, field.split(".")[-1])], width


def record_indices(lay, buf, cap, what, index):
    start, size, count = tables(lay, cap)[what]
    if index == "all":
        return range(count)
    if index == "ready":
        status = lay["fl_seg_entry.status"]
        for i in range(count):
            if struct.unpack_from("<I", buf, start + i * size + status)[0] == lay["FL_ENTRY_READY"]:
                return [i]
        sys.exit("no READY entry in the segment")
    return [int(index)]


def poke(lay, path, what, index, field, value, width=None):
    buf, cap = read_seg(lay, path)
    start, size, _ = tables(lay, cap)[what]
    off, w = field_offset(lay, what, field)
    w = int(width) if width else w
    fmt = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}[w]
    for i in record_indices(lay, buf, cap, what, index):
        put(buf, start + i * size + off, fmt, int(value, 0))
    # in place: same inode, mode and owner
    with open(path, "r+b") as f:
        f.write(buf)


def unterminate(lay, path, what, index, field, length):
    buf, cap = read_seg(lay, path)
    start, size, _ = tables(lay, cap)[what]
    off, _ = field_offset(lay, what, field)
    for i in record_indices(lay, buf, cap, what, index):
        o = start + i * size + off
        buf[o:o + int(length)] = b"A" * int(length)
    with open(path, "r+b") as f:
        f.write(buf)


def checksum(rec, seq):
    # lib/events.c checksum(): FNV-1a over the record's words 1.. (the sum as 0), seeded with seq
    h = 0xcbf29ce484222325 ^ seq
    for i in range(8, len(rec)):
        b = 0 if 8 <= i < 12 else rec[i]
        h ^= b
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return (h ^ (h >> 32)) & 0xffffffff


def event(lay, path, kind, what, dest=""):
    buf, cap = read_seg(lay, path)
    ev = events_offset(lay, cap)
    head_off = ev + lay["fl_seg_events_hdr.head"]
    n = struct.unpack_from("<Q", buf, head_off)[0]
    size = lay["sizeof.fl_seg_event"]
    rec = bytearray(size)
    seq = 2 * n + 2
    e = "fl_seg_event."
    put(rec, lay[e + "seq"], "<Q", seq)
    put(rec, lay[e + "pid"], "<I", 4242)
    put(rec, lay[e + "time_ms"], "<Q", 1764222000456)
    rec[lay[e + "kind"]] = int(kind, 0)
    rec[lay[e + "what"]] = int(what, 0)
    d = dest.encode()[:47]
    rec[lay[e + "dest"]:lay[e + "dest"] + len(d)] = d
    put(rec, lay[e + "sum"], "<I", checksum(rec, seq))
    at = ev + lay["sizeof.fl_seg_events_hdr"] + (n % lay["FL_SEG_EVENTS"]) * size
    buf[at:at + size] = rec
    put(buf, head_off, "<Q", n + 1)
    with open(path, "r+b") as f:
        f.write(buf)


def evhdr(lay, path, field, value):
    buf, cap = read_seg(lay, path)
    put(buf, events_offset(lay, cap) + lay["fl_seg_events_hdr." + field], "<I", int(value, 0))
    with open(path, "r+b") as f:
        f.write(buf)


def stats(lay, path):
    buf, cap = read_seg(lay, path)
    start, size, count = tables(lay, cap)["entry"]
    k = lay["fl_seg_entry.key"]
    for i in range(count):
        e = start + i * size
        if struct.unpack_from("<I", buf, e + lay["fl_seg_entry.status"])[0] != lay["FL_ENTRY_READY"]:
            continue
        kind, family = buf[e + k], buf[e + k + 1]
        if kind != 1 or family != 4:
            continue
        port = struct.unpack_from("<H", buf, e + k + lay["fl_seg_key.port"])[0]
        a = e + k + lay["fl_seg_key.addr"]
        dest = "%d.%d.%d.%d:%d" % (buf[a], buf[a + 1], buf[a + 2], buf[a + 3], port)
        out = [dest]
        for n, op in enumerate(OPS):
            o = e + lay["fl_seg_entry.ops"] + n * lay["sizeof.fl_seg_op_stats"]
            calls = struct.unpack_from("<Q", buf, o + lay["fl_seg_op_stats.calls"])[0]
            errs = struct.unpack_from("<Q", buf, o + lay["fl_seg_op_stats.errors_injected"])[0]
            out.append("%s.calls=%d %s.errors_injected=%d" % (op, calls, op, errs))
        active = struct.unpack_from("<I", buf, e + lay["fl_seg_entry.bulkhead"] +
                                    lay["fl_seg_bulkhead.active"])[0]
        out.append("bulkhead.active=%d" % active)
        print(" ".join(out))


def main():
    lay = load_layout(sys.argv[1])
    cmd, args = sys.argv[2], sys.argv[3:]
    if cmd == "header":
        header(lay, args[0], args[1], args[2:])
    elif cmd == "random":
        rnd = random.Random(int(os.environ.get("FORGE_SEED", "1")))
        write(args[0], bytes(rnd.getrandbits(8) for _ in range(seg_size(lay, int(args[1])))))
    elif cmd == "poke":
        poke(lay, *args)
    elif cmd == "fill":
        poke(lay, args[0], args[1], "all", *args[2:])
    elif cmd == "unterminate":
        unterminate(lay, *args)
    elif cmd == "event":
        event(lay, *args)
    elif cmd == "evhdr":
        evhdr(lay, *args)
    elif cmd == "stats":
        stats(lay, args[0])
    elif cmd == "size":
        print(seg_size(lay, int(args[0])))
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
