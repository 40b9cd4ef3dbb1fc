#!/usr/bin/env python3
"""Linux-side clients for the interop checks (scripts/interop.sh).

Each subcommand talks to the tidytcp examples through Linux's own TCP, checks what it
gets byte for byte, prints one line and exits 0 on success, 1 on failure.

    interop_client.py echo HOST PORT BYTES          random bytes, sha256 both ways
    interop_client.py discard HOST PORT BYTES       send, half-close, expect orderly EOF
    interop_client.py chargen HOST PORT BYTES       read BYTES checking RFC 864, half-close,
                                                    read the rest to EOF; prints the total
    interop_client.py concurrent HOST PORT N BYTES  N echo connections at once
    interop_client.py linux-closes-first HOST PORT  echo a little, then close first
    interop_client.py tidytcp-closes-first HOST PORT  daytime: EOF first, then close
    interop_client.py reset HOST PORT BYTES         send BYTES, then RST (SO_LINGER 0)
    interop_client.py reset-reading HOST PORT BYTES read BYTES, then RST (SO_LINGER 0)
    interop_client.py half-close HOST PORT BYTES    send, SHUT_WR, keep reading the echo
"""

import hashlib
import os
import selectors
import socket
import struct
import sys
import threading
import time

TIMEOUT = 120


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def read_to_eof(s, sink=None):
    """Reads until EOF; returns the byte count. A reset raises."""
    total = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            return total
        total += len(b)
        if sink:
            sink(b)


def chargen_period():
    out = bytearray()
    for line in range(95):
        out += bytes(32 + (line + col) % 95 for col in range(72)) + b"\r\n"
    return bytes(out)


def cmd_echo(host, port, size):
    size = int(size)
    data = os.urandom(size)
    s = connect(host, port)
    err = []

    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=writer)
    t.start()
    h = hashlib.sha256()
    n = read_to_eof(s, h.update)
    t.join()
    s.close()
    if err:
        fail(f"echo: write failed: {err[0]}")
    want = hashlib.sha256(data).hexdigest()
    if n != size or h.hexdigest() != want:
        fail(f"echo: sent {size} bytes sha256 {want[:16]}, got {n} bytes sha256 {h.hexdigest()[:16]}")
    print(f"ok echo {size} bytes, sha256 {want[:16]} both ways, orderly EOF")


def cmd_discard(host, port, size):
    size = int(size)
    s = connect(host, port)
    chunk = bytes(range(256)) * 4096
    sent = 0
    while sent < size:
        n = min(len(chunk), size - sent)
        s.sendall(chunk[:n])
        sent += n
    s.shutdown(socket.SHUT_WR)
    extra = read_to_eof(s)
    s.close()
    if extra:
        fail(f"discard: got {extra} bytes back")
    print(f"ok discard sent {sent} bytes, orderly EOF")


def cmd_chargen(host, port, size):
    size = int(size)
    period = chargen_period()
    big = period * ((1 << 20) // len(period) + 2)
    s = connect(host, port)
    pos = 0

    def check(b):
        nonlocal pos
        off = pos % len(period)
        mv = memoryview(b)
        i = 0
        while i < len(b):
            n = min(len(b) - i, len(big) - off - len(period))
            if mv[i : i + n] != big[off : off + n]:
                fail(f"chargen: wrong byte near offset {pos + i}")
            i += n
            off = (off + n) % len(period)
        pos += len(b)

    while pos < size:
        b = s.recv(min(1 << 20, size - pos))
        if not b:
            fail(f"chargen: EOF after {pos} bytes")
        check(b)
    s.shutdown(socket.SHUT_WR)
    read_to_eof(s, check)
    s.close()
    print(f"ok chargen read {pos} bytes (pattern checked), half-closed at {size}, orderly EOF")
    print(f"chargen_total={pos}")


def cmd_concurrent(host, port, n, size):
    n, size = int(n), int(size)
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        data = os.urandom(size)
        c = {"s": s, "data": data, "sent": 0, "got": bytearray(), "eof": False, "i": i}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    open_ = n
    deadline = time.time() + TIMEOUT
    while open_ and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            c = key.data
            s = c["s"]
            if ev & selectors.EVENT_WRITE and c["sent"] < size:
                try:
                    c["sent"] += s.send(c["data"][c["sent"] : c["sent"] + 65536])
                except BlockingIOError:
                    pass
                if c["sent"] == size:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                if b:
                    c["got"] += b
                else:
                    sel.unregister(s)
                    s.close()
                    c["eof"] = True
                    open_ -= 1
    bad = [c["i"] for c in conns if not c["eof"] or bytes(c["got"]) != c["data"]]
    if bad:
        fail(f"concurrent: {len(bad)} of {n} connections wrong or unfinished (first: {bad[:5]})")
    print(f"ok concurrent {n} echo connections x {size} bytes, all verified, all orderly EOF")


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def cmd_linux_closes_first(host, port):
    s = connect(host, port)
    s.sendall(b"goodbye\n")
    got = b""
    while len(got) < 8:
        b = s.recv(64)
        if not b:
            break
        got += b
    if got != b"goodbye\n":
        fail(f"linux-closes-first: echo returned {got!r}")
    local = s.getsockname()
    s.close()
    print(f"ok linux-closes-first: echoed, Linux closed first from port {local[1]}")
    print(f"local_port={local[1]}")


def cmd_tidytcp_closes_first(host, port):
    s = connect(host, port)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    # EOF came first (tidytcp's FIN); now our side closes.
    local = s.getsockname()
    s.close()
    if not data.endswith(b"\r\n"):
        fail(f"tidytcp-closes-first: daytime answer {data!r}")
    print(f"ok tidytcp-closes-first: {data.strip().decode()!r} then EOF, then Linux closed")
    print(f"local_port={local[1]}")


def cmd_reset(host, port, size):
    size = int(size)
    s = connect(host, port)
    s.sendall(os.urandom(size))
    linger0(s)
    s.close()
    print(f"ok reset: sent {size} bytes then RST (SO_LINGER 0)")


def cmd_reset_reading(host, port, size):
    size = int(size)
    s = connect(host, port)
    got = 0
    while got < size:
        b = s.recv(min(65536, size - got))
        if not b:
            fail(f"reset-reading: EOF after {got} bytes")
        got += len(b)
    linger0(s)
    s.close()
    print(f"ok reset-reading: read {got} bytes then RST (SO_LINGER 0)")


def cmd_half_close(host, port, size):
    size = int(size)
    data = os.urandom(size)
    s = connect(host, port)
    # Send everything first (tidytcp echoes as it reads; our receive buffer takes it),
    # then half-close and keep reading.
    got = bytearray()
    sel = selectors.DefaultSelector()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, shut, eof = 0, False, False
    deadline = time.time() + TIMEOUT
    while not eof and time.time() < deadline:
        for _, ev in sel.select(timeout=1):
            if ev & selectors.EVENT_WRITE and not shut:
                try:
                    sent += s.send(data[sent : sent + 65536])
                except BlockingIOError:
                    pass
                if sent == size:
                    s.shutdown(socket.SHUT_WR)
                    shut = True
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                b = s.recv(65536)
                if not b:
                    eof = True
                    break
                got += b
    s.close()
    if not shut or not eof or bytes(got) != data:
        fail(f"half-close: sent {sent}, shut {shut}, eof {eof}, echoed {len(got)} bytes, equal {bytes(got) == data}")
    print(f"ok half-close: sent {size} bytes, SHUT_WR, read all {len(got)} back, then orderly EOF")


def main():
    cmds = {
        "echo": cmd_echo,
        "discard": cmd_discard,
        "chargen": cmd_chargen,
        "concurrent": cmd_concurrent,
        "linux-closes-first": cmd_linux_closes_first,
        "tidytcp-closes-first": cmd_tidytcp_closes_first,
        "reset": cmd_reset,
        "reset-reading": cmd_reset_reading,
        "half-close": cmd_half_close,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    try:
        cmds[sys.argv[1]](*sys.argv[2:])
    except OSError as e:
        fail(f"{sys.argv[1]}: {e}")


if __name__ == "__main__":
    main()
