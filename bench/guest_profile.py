#!/usr/bin/env python3
"""Folds runvm-fs-bench --profile samples into the guest kernel's functions.

Usage: guest_profile.py VMLINUX NAME=SAMPLES [NAME=SAMPLES...] [--top N]

Each samples file holds "<cpl> <hlt> <rip>" lines taken at a fixed rate of
wall time, so a count is proportional to the time the vCPU spent there. With
several profiles, prints one column per profile and sorts by the spread
between the first two: what one backend costs the guest beyond the other.
Rows: kernel functions (CPL 0, from the vmlinux's symbol table), "[user]" for
CPL 3, "[idle]" for a halted vCPU.
"""
import bisect
import collections
import subprocess
import sys


def kernel_symbols(vmlinux):
    out = subprocess.run(["nm", "-n", vmlinux], check=True, capture_output=True, text=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] not in "tTwW":
            continue
        addrs.append(int(parts[0], 16))
        names.append(parts[2])
    return addrs, names


def fold(path, addrs, names):
    counts = collections.Counter()
    for line in open(path):
        parts = line.split()
        if len(parts) != 3:
            continue
        cpl, hlt, rip = parts
        if hlt == "1":
            counts["[idle]"] += 1
        elif cpl == "3":
            counts["[user]"] += 1
        else:
            try:
                i = bisect.bisect_right(addrs, int(rip, 16)) - 1
            except ValueError:
                counts["[unknown]"] += 1
                continue
            counts[names[i] if i >= 0 else "[unknown]"] += 1
    return counts


def main(argv):
    top = 40
    if "--top" in argv:
        i = argv.index("--top")
        top = int(argv[i + 1])
        del argv[i : i + 2]
    if len(argv) < 3:
        sys.exit(__doc__)
    addrs, names = kernel_symbols(argv[1])
    profiles = []
    for arg in argv[2:]:
        name, _, path = arg.partition("=")
        profiles.append((name, fold(path, addrs, names)))
    totals = [sum(c.values()) for _, c in profiles]
    print("samples " + " ".join(f"{n}={t}" for (n, _), t in zip(profiles, totals)))
    summary = ["[user]", "[idle]"]
    keys = set().union(*(c.keys() for _, c in profiles)) - set(summary)
    if len(profiles) > 1:
        order = sorted(keys, key=lambda k: profiles[0][1][k] - profiles[1][1][k], reverse=True)
    else:
        order = sorted(keys, key=lambda k: profiles[0][1][k], reverse=True)
    kernel = [t - c["[user]"] - c["[idle]"] for (_, c), t in zip(profiles, totals)]
    print(f"{'function':40s} " + " ".join(f"{n:>10s}" for n, _ in profiles))
    print(f"{'[kernel, all]':40s} " + " ".join(f"{v:10d}" for v in kernel))
    for k in summary:
        print(f"{k:40s} " + " ".join(f"{c[k]:10d}" for _, c in profiles))
    for k in order[:top]:
        print(f"{k[:40]:40s} " + " ".join(f"{c[k]:10d}" for _, c in profiles))


if __name__ == "__main__":
    main(sys.argv)
