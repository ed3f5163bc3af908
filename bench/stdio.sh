#!/usr/bin/env bash
# stdio benchmark, side by side in one run: the container's stdout through
# the runtime to a pipe on the host, runvm against runc (the reference).
#   run_true_<rt>_ms  `run` of `true`, start to exit (for runvm: boot, run, shutdown)
#   stdio_<rt>_mib_s  `dd` writes MIB MiB to its stdout, the host reads them from `run`'s stdout:
#                     MIB / (median wall time of that run - run_true_<rt>_ms)
#   stdio_runvm_vs_runc  throughput ratio
# Usage: bench/stdio.sh [runs] [MIB] (default 3, 64). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
runs=${1:-3}
mib=${2:-64}
runvm=$(readlink -f "$build/runtime/runvm")
[ -x "$runvm" ] || { echo "bench: missing $runvm (run ./setup.sh demo first)" >&2; exit 1; }
command -v runc >/dev/null || { echo "bench: needs runc (apt-get install runc)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rvb.XXXX)
trap 'for r in runvm runc; do for id in $($r --root "$tmp/$r" list -q 2>/dev/null); do $r --root "$tmp/$r" delete -f "$id"; done; done; rm -rf "$tmp"' EXIT

source bench/lib.sh
now_ns() { date +%s%N; }

# A busybox bundle whose process is set per run (config.json rewritten).
mkdir -p "$tmp/bundle/rootfs/bin"
cp /bin/busybox "$tmp/bundle/rootfs/bin/"
for a in sh dd true; do ln -s busybox "$tmp/bundle/rootfs/bin/$a"; done
(cd "$tmp/bundle" && "$runvm" spec)
set_args() {
  python3 - "$tmp/bundle/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = sys.argv[2:]
json.dump(c, open(p, "w"))
PY
}

run() {  # runtime id: runs the bundle in the foreground
  "$1" --root "$tmp/$1" run -b "$tmp/bundle" "$2"
}

for rt in runvm runc; do
  set_args true
  : >"$tmp/$rt.true"
  for i in $(seq "$runs"); do
    t0=$(now_ns)
    run "$rt" "t$i"
    t1=$(now_ns)
    echo $(((t1 - t0) / 1000000)) >>"$tmp/$rt.true"
  done
  set_args dd if=/dev/zero bs=1M count="$mib"
  : >"$tmp/$rt.dd"
  for i in $(seq "$runs"); do
    t0=$(now_ns)
    got=$(run "$rt" "s$i" 2>/dev/null | wc -c)
    t1=$(now_ns)
    [ "$got" -eq $((mib << 20)) ] || { echo "bench: $rt delivered $got bytes, not $((mib << 20))" >&2; exit 1; }
    echo $(((t1 - t0) / 1000000)) >>"$tmp/$rt.dd"
  done
  true_ms=$(median <"$tmp/$rt.true")
  dd_ms=$(median <"$tmp/$rt.dd")
  echo "METRIC run_true_${rt}_ms $true_ms ms"
  awk -v m="$mib" -v d="$dd_ms" -v t="$true_ms" 'BEGIN {printf "%.1f\n", m / ((d - t > 1 ? d - t : 1) / 1000)}' >"$tmp/$rt.tput"
  echo "METRIC stdio_${rt}_mib_s $(cat "$tmp/$rt.tput") MiB/s"
done
echo "METRIC stdio_runvm_vs_runc $(awk -v a="$(cat "$tmp/runvm.tput")" -v b="$(cat "$tmp/runc.tput")" 'BEGIN {printf "%.3f", a / b}') ratio"
