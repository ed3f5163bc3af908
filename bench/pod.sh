#!/usr/bin/env bash
# Pods (issue 12), side by side in one run:
#   pod_member_start_ms     `runvm run -d` of a container joining a running pod
#                           sandbox (no VM to boot: it runs in the sandbox's)
#   cold_container_start_ms `runvm run -d` of a container of its own (boots a VM)
#   pod3_*_pss_kib          host memory of a pod of 3 containers (sandbox + 2
#                           members, as CRI annotations make them): QEMU, and
#                           QEMU + shim + member relays
#   separate3_*_pss_kib     the same for 3 runvm containers of their own
# Usage: bench/pod.sh [runs] (default 3; medians). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
runs=${1:-3}
runvm=$(readlink -f "$build/runtime/runvm")
[ -x "$runvm" ] || { echo "bench: missing $runvm (run ./setup.sh demo first)" >&2; exit 1; }
tmp=$(mktemp -d)
root=$tmp/root
cleanup() {
  local id
  for id in $("$runvm" --root "$root" list -q 2>/dev/null); do
    "$runvm" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

source bench/lib.sh
now_ms() { date +%s%3N; }
pss() { local p t=0; for p in "$@"; do t=$((t + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"))); done; echo $t; }
pid_of() { "$runvm" --root "$root" state "$1" | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}'; }

# A busybox bundle running `sleep`; $2: extra annotations (JSON members).
bundle() {
  mkdir -p "$tmp/$1/rootfs/bin"
  cp /bin/busybox "$tmp/$1/rootfs/bin/"
  ln -sf busybox "$tmp/$1/rootfs/bin/sleep"
  (cd "$tmp/$1" && "$runvm" spec)
  python3 - "$tmp/$1/config.json" "$2" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "100000"]
c["annotations"] = json.loads("{" + sys.argv[2] + "}")
json.dump(c, open(sys.argv[1], "w"))
EOF
}
run_d() { "$runvm" --root "$root" run -d -b "$tmp/$1" "$2" </dev/null >/dev/null 2>&1; }
member() { echo "\"io.kubernetes.cri.container-type\": \"container\", \"io.kubernetes.cri.sandbox-id\": \"$1\""; }

bundle sandbox '"io.kubernetes.cri.container-type": "sandbox"'
bundle solo ''

# --- start time: a member of a running pod vs a container of its own -----------
run_d sandbox pod
: >"$tmp/member_ms"
: >"$tmp/cold_ms"
for i in $(seq "$runs"); do
  bundle "m$i" "$(member pod)"
  t0=$(now_ms); run_d "m$i" "m$i"; t1=$(now_ms)
  echo $((t1 - t0)) >>"$tmp/member_ms"
  "$runvm" --root "$root" delete -f "m$i" >/dev/null
  t0=$(now_ms); run_d solo "s$i"; t1=$(now_ms)
  echo $((t1 - t0)) >>"$tmp/cold_ms"
  "$runvm" --root "$root" delete -f "s$i" >/dev/null
done
echo "METRIC pod_member_start_ms $(median <"$tmp/member_ms") ms"
echo "METRIC cold_container_start_ms $(median <"$tmp/cold_ms") ms"

# --- host memory: a pod of 3 vs 3 containers of their own ----------------------
run_d m1 a
run_d m2 b
sleep 2  # let the guest settle
shim=$(pid_of pod)
qemu=$(pgrep -P "$shim" qemu-system)
echo "METRIC pod3_qemu_pss_kib $(pss "$qemu") KiB"
echo "METRIC pod3_total_pss_kib $(pss "$qemu" "$shim" "$(pid_of a)" "$(pid_of b)") KiB"
for id in a b pod; do "$runvm" --root "$root" delete -f "$id" >/dev/null; done

qemus=() all=()
for id in x y z; do
  run_d solo "$id"
  shim=$(pid_of "$id")
  q=$(pgrep -P "$shim" qemu-system)
  qemus+=("$q")
  all+=("$q" "$shim")
done
sleep 2
echo "METRIC separate3_qemu_pss_kib $(pss "${qemus[@]}") KiB"
echo "METRIC separate3_total_pss_kib $(pss "${all[@]}") KiB"
