#!/usr/bin/env python3
"""Totals of a callgrind dump: instructions executed and heap allocations.

    callgrind_totals.py FILE [REQUESTS]

Prints the instructions (Ir) and the calls to the C allocator's entry points
(malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) counted in
the dump; with REQUESTS, also both per request. Callgrind counts every
instruction of every thread, whatever else runs on the machine, so these
figures do not depend on load.
"""
import re
import sys

ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}


def totals(path):
    names = {}  # compressed id -> function name (fn and cfn share the table)
    instructions = None
    allocations = 0
    target = None
    define = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = define.match(line.rstrip("\n"))
            if m:
                ident, name = m.group(1), m.group(2)
                if name is not None:
                    names[ident] = name
                if line.startswith("cfn="):
                    target = names.get(ident)
                continue
            if line.startswith("calls=") and target is not None:
                if target in ALLOCATORS:
                    allocations += int(line[6:].split()[0])
                target = None
                continue
            if line.startswith(("summary:", "totals:")) and instructions is None:
                instructions = int(line.split()[1])
    return instructions or 0, allocations


def main():
    path = sys.argv[1]
    ir, allocs = totals(path)
    if len(sys.argv) > 2:
        n = int(sys.argv[2])
        print(f"{ir / n:.0f} instructions/request, {allocs / n:.1f} allocations/request "
              f"({ir} instructions, {allocs} allocations, {n} requests)")
    else:
        print(f"{ir} instructions, {allocs} allocations")


if __name__ == "__main__":
    main()
