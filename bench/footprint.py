#!/usr/bin/env python3
"""Memory footprint of a set of processes: the distinct physical pages resident in any of them.

PSS splits a shared page between every process on the machine that maps it, so a camvisor's
PSS goes down when some unrelated ffmpeg maps the same libraries, and up again when it exits.
This counts each resident page once across the given processes (from /proc/<pid>/pagemap, which
gives page frame numbers to root only), which is what the processes together would cost alone
on the machine: a stable figure to compare against go2rtc's RSS.

    bench/footprint.py PID...   ->  "total=KiB ring=KiB file=KiB anon=KiB"

ring: pages of memfd mappings (the rings); file: page-cache pages of the program and its
libraries (code, read-only data: clean, shared by every process that maps them); anon: anonymous
pages (heap, stack, .bss, and the library pages a process wrote: relocations, .data). Needs root;
prints "unavailable" otherwise.
"""
import os
import struct
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def pages(pid):
    """Yields (pfn, kind) for every present page of pid."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
        for line in maps:
            parts = line.split(maxsplit=5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5].strip() if len(parts) > 5 else ""
            if name == "[vsyscall]":
                continue
            ring = "memfd:" in name
            n = (hi - lo) // PAGE
            pm.seek(lo // PAGE * 8)
            data = pm.read(n * 8)
            for (entry,) in struct.iter_unpack("<Q", data):
                if not entry >> 63 & 1:  # not present (swapped pages ignored: there is no swap)
                    continue
                # bit 61: file page or shared anonymous (shmem); clear: private anonymous page
                kind = "ring" if ring else "file" if entry >> 61 & 1 else "anon"
                yield entry & ((1 << 55) - 1), kind


def main():
    seen = {}
    try:
        for pid in sys.argv[1:]:
            for pfn, kind in pages(int(pid)):
                if pfn == 0:
                    raise PermissionError  # PFNs hidden: not root
                # An anonymous page shared after fork is still one page; first kind seen wins.
                seen.setdefault(pfn, kind)
    except PermissionError:
        print("unavailable")
        return
    kib = PAGE // 1024
    tot = {"ring": 0, "file": 0, "anon": 0}
    for kind in seen.values():
        tot[kind] += kib
    print(f"total={sum(tot.values())} ring={tot['ring']} file={tot['file']} anon={tot['anon']}")


main()
