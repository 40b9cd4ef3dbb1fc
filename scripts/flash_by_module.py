#!/usr/bin/env python3
"""Where the flash of a firmware's code goes: every byte of `.text` attributed to a
source file, for BENCHMARKS.md ("What each byte of flash pays for").

Usage: scripts/flash_by_module.py ELF CRATE [DEPTH]
  ELF    a firmware built with `debug = true` (both firmware examples are)
  CRATE  the stack whose sources are counted: `tidytcp` or `smoltcp`
  DEPTH  folders kept in the module name (default 1: `tcp/input.rs` -> `tcp`; 2 keeps the file)

Each instruction goes to the innermost frame of its inline chain (addr2line -i) that lies
in CRATE's `src/`, so library code inlined into the stack (slice copies, integer helpers)
counts where it was inlined. Instructions with no frame in CRATE go to "outside", split by
the innermost file's crate (core, compiler_builtins, the firmware's main, ...).
`.rodata` is reported as one line: its tables and strings carry no line information.
Needs arm-none-eabi-objdump and arm-none-eabi-addr2line (binutils-arm-none-eabi).
"""
import collections
import os
import re
import subprocess
import sys


def section(elf, name):
    """(size, address) of an ELF section, from objdump's header table."""
    hdr = subprocess.run(["arm-none-eabi-objdump", "-h", elf], capture_output=True, text=True, check=True).stdout
    m = re.search(r"\s%s\s+([0-9a-f]+)\s+([0-9a-f]+)" % re.escape(name), hdr)
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else (0, 0)


def instruction_addresses(elf, lo, size):
    dis = subprocess.run(
        ["arm-none-eabi-objdump", "-d", "--start-address=%#x" % lo, "--stop-address=%#x" % (lo + size), elf],
        capture_output=True, text=True, check=True).stdout
    addrs = sorted({int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s", dis, re.M)})
    return addrs + [lo + size]


def inline_chains(elf, addrs):
    """address -> [source file of each inline frame, innermost first]"""
    out = subprocess.run(["arm-none-eabi-addr2line", "-a", "-i", "-e", elf],
                         input="\n".join("%#x" % a for a in addrs), capture_output=True, text=True,
                         check=True).stdout
    chains, cur = {}, None
    for line in out.splitlines():
        if line.startswith("0x"):
            cur = int(line, 16)
            chains[cur] = []
        elif cur is not None:
            chains[cur].append(line.split(":")[0])
    return chains


# This repository's own sources, wherever it is checked out.
OWN_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src") + "/"


def module(path, crate, depth):
    """`.../src/tcp/input.rs` -> `tcp` (depth 1) or `tcp/input.rs` (depth 2)."""
    if crate == "tidytcp" and path.startswith(OWN_SRC):
        rel = path[len(OWN_SRC):]
    else:
        m = re.search(r"/%s-[0-9][^/]*/src/(.*)$" % crate, path)
        if not m:
            return None
        rel = m.group(1)
    parts = rel.split("/")
    return "/".join(parts[:depth]) if len(parts) > depth else rel


def outside(path):
    if "compiler_builtins" in path or "compiler-builtins" in path:
        return "outside: compiler-builtins (64-bit arithmetic, memcpy)"
    if "/examples/" in path or "-cgu." in path:
        return "outside: the firmware's own code"
    m = re.search(r"/(library|\.cargo/registry/src/[^/]+)/([^/]+)/", path)
    if m:
        return "outside: " + re.sub(r"-[0-9][0-9.]*$", "", m.group(2))
    return "outside: " + (path.rsplit("/", 2)[-2] if "/" in path else path or "?")


def attribute(elf, crate, depth):
    size, lo = section(elf, ".text")
    addrs = instruction_addresses(elf, lo, size)
    chains = inline_chains(elf, addrs[:-1])
    bytes_by = collections.Counter()
    for a, b in zip(addrs, addrs[1:]):
        files = chains.get(a, [])
        name = next((n for n in (module(f, crate, depth) for f in files) if n), None)
        bytes_by[name or outside(files[0] if files else "?")] += b - a
    return size, bytes_by


def main():
    elf, crate = sys.argv[1], sys.argv[2]
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    text, bytes_by = attribute(elf, crate, depth)
    rodata, _ = section(elf, ".rodata")
    print("| %s: where `.text` goes | bytes | share |" % crate)
    print("|---|---|---|")
    for name, n in sorted(bytes_by.items(), key=lambda kv: (kv[0].startswith("outside"), -kv[1])):
        print("| %s | %d | %.1f %% |" % (name, n, 100.0 * n / text))
    print("| **`.text` total** | **%d** | |" % text)
    print("| `.rodata` (tables, strings) | %d | |" % rodata)


if __name__ == "__main__":
    main()
