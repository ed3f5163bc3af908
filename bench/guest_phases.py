#!/usr/bin/env python3
"""The guest's CPU time per phase of a cold `runvm run`, the agent's included.

The --debug timeline gives the vCPU time only at the shim's phases; the
agent's phases (its console lines, "runvm-agent: phase NAME MS ms", on the
guest's CLOCK_BOOTTIME) carry wall times, which a loaded host inflates. This
samples QEMU's vCPU thread's CPU time (/proc/PID/task/TID/schedstat) every
half millisecond while `runvm --debug run --keep` runs, maps the agent's
phases onto the host's clock through the hello (the agent's hello_sent is the
shim's agent_hello), and prints every phase, the host's and the guest's, in
order, with the vCPU ms it took: where the guest spends a cold start.

usage: bench/guest_phases.py [BUILD_DIR [ROUNDS]]  (default build, 3); per
phase, the median over the rounds. Needs root (as runvm does).
"""
import bisect
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
runvm = os.path.join(build, "runtime", "runvm")
src = os.path.dirname(os.path.abspath(__file__))


def find_vcpu_clock(cid):
    """QEMU's vCPU schedstat fd and the shim's --debug-origin, once both run."""
    fd, origin = None, None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        args = cmd.split(b"\0")
        if b"runvm-shim" in args[0] and cid.encode() in args and b"--debug-origin" in args:
            origin = int(args[args.index(b"--debug-origin") + 1])
        if b"qemu-system" in args[0] and f"/{cid}/console.log".encode() in cmd:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    # -name runvm,debug-threads=on names it "CPU 0/TCG" (or /KVM).
                    if open(f"/proc/{pid}/task/{tid}/comm").read().startswith("CPU 0"):
                        fd = os.open(f"/proc/{pid}/task/{tid}/schedstat", os.O_RDONLY)
                except OSError:
                    pass
    return fd, origin


def one_run(root, bundle, cid):
    log = os.path.join(os.path.dirname(root), "runvm.log")
    p = subprocess.Popen(
        [runvm, "--root", root, "--debug", "--log", log, "run", "--keep", "-b", bundle, cid],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples, fd, origin = [], None, None
    while p.poll() is None:
        if fd is None or origin is None:
            fd, origin = find_vcpu_clock(cid)
            if fd is None or origin is None:
                time.sleep(0.002)
                continue
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            ns = int(os.read(fd, 128).split()[0])
        except OSError:
            break  # QEMU is gone
        samples.append((time.clock_gettime_ns(time.CLOCK_MONOTONIC), ns))
        time.sleep(0.0005)
    if p.wait() != 0:
        sys.exit(f"runvm run failed ({p.returncode}): {p.stderr.read().decode()}")
    host, guest = [], []
    for line in open(os.path.join(root, cid, "shim.log")):
        m = re.search(r"phase (\w+) ([\d.]+) ms", line)
        if m:
            host.append((m.group(1), float(m.group(2))))
    for line in open(os.path.join(root, cid, "console.log"), errors="replace"):
        m = re.search(r"runvm-agent: phase (\w+) ([\d.]+) ms", line)
        if m:
            guest.append((m.group(1), float(m.group(2))))
    subprocess.run([runvm, "--root", root, "delete", cid], check=True)
    os.unlink(log)
    offset = dict(host)["agent_hello"] - dict(guest)["hello_sent"]
    times = [t for t, _ in samples]

    def vcpu_ms(at_ms):
        t = origin + at_ms * 1e6
        if not samples or t < times[0] or t > times[-1]:
            return None
        i = min(max(bisect.bisect_left(times, t), 1), len(times) - 1)
        (t0, v0), (t1, v1) = samples[i - 1], samples[i]
        return (v0 + (v1 - v0) * (t - t0) / max(t1 - t0, 1)) / 1e6

    rows = [("host " + n, ms) for n, ms in host] + [("agent " + n, ms + offset) for n, ms in guest]
    rows.sort(key=lambda r: r[1])
    out, seen = [], {}
    for name, ms in rows:
        v = vcpu_ms(ms)
        if v is None:
            continue
        seen[name] = seen.get(name, 0) + 1  # phases that repeat (step_done) by occurrence
        out.append((f"{name}#{seen[name]}" if seen[name] > 1 else name, v))
    return out


def main():
    tmp = tempfile.mkdtemp()
    try:
        bundle = os.path.join(tmp, "b")
        subprocess.run([os.path.join(src, "..", "tests", "images", "busybox_rootfs.sh"),
                        os.path.join(bundle, "rootfs")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([runvm, "spec"], cwd=bundle, check=True)
        cfg = os.path.join(bundle, "config.json")
        text = open(cfg).read().replace('"terminal": true', '"terminal": false')
        open(cfg, "w").write(re.sub(r'"sh"\n', '"true"\n', text))
        root = os.path.join(tmp, "root")
        runs = [one_run(root, bundle, f"g{i}") for i in range(rounds)]
        names = {name for r in runs for name, _ in r}
        med = {n: statistics.median([v for r in runs for m, v in r if m == n]) for n in names}
        print(f"{'phase':36s} {'vcpu_ms':>8s} {'+ms':>7s}  (median of {rounds})")
        prev = None
        for name in sorted(names, key=med.get):
            v = med[name]
            print(f"{name:36s} {v:8.1f} {'' if prev is None else f'{v - prev:+7.1f}'}")
            prev = v
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
