#!/usr/bin/env bash
# Per-container overhead of a running runvm container (what a Kubernetes
# RuntimeClass `overhead` should cover), beside runc running the same idle
# container in the same run:
#   *_pss_kib   proportional set size of the runtime's resident processes
#               (runvm: the shim and QEMU; runc: the container's own process)
#   qemu_guest_ram_touched_kib  guest RAM QEMU has actually touched (shmem)
#   *_idle_cpu_pct  CPU used by those processes while the container idles
# Usage: bench/overhead.sh [idle seconds] (default 10). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
idle=${1:-10}
runvm=$(readlink -f "$build/runtime/runvm")
[ -x "$runvm" ] || { echo "bench: missing $runvm (run ./setup.sh demo first)" >&2; exit 1; }
tmp=$(mktemp -d)
cleanup() {
  "$runvm" --root "$tmp/root" delete -f ov >/dev/null 2>&1 || true
  command -v runc >/dev/null && runc --root "$tmp/runc" delete -f ov >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/b/rootfs/bin"
cp /bin/busybox "$tmp/b/rootfs/bin/"
ln -s busybox "$tmp/b/rootfs/bin/sh"
ln -s busybox "$tmp/b/rootfs/bin/sleep"
(cd "$tmp/b" && "$runvm" spec)
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "100000"/' "$tmp/b/config.json"

ticks() { local p t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
cpu_pct() {  # pids...: CPU % over $idle seconds
  local t0 t1
  t0=$(ticks "$@"); sleep "$idle"; t1=$(ticks "$@")
  awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$idle" 'BEGIN {printf "%.1f", 100 * d / hz / s}'
}

# --- runvm --------------------------------------------------------------------
"$runvm" --root "$tmp/root" run -d -b "$tmp/b" ov </dev/null >/dev/null 2>&1
shim=$("$runvm" --root "$tmp/root" state ov | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}')
qemu=$(pgrep -P "$shim" qemu-system)
sleep 2  # let boot settle
echo "METRIC runvm_shim_pss_kib $(awk '/^Pss:/ {print $2}' "/proc/$shim/smaps_rollup") KiB"
echo "METRIC runvm_qemu_pss_kib $(awk '/^Pss:/ {print $2}' "/proc/$qemu/smaps_rollup") KiB"
echo "METRIC qemu_guest_ram_touched_kib $(awk '/^RssShmem:/ {print $2}' "/proc/$qemu/status") KiB"
echo "METRIC runvm_idle_cpu_pct $(cpu_pct "$shim" "$qemu") %"

# --- runc, same bundle ------------------------------------------------------------
if command -v runc >/dev/null; then
  runc --root "$tmp/runc" run -d -b "$tmp/b" ov </dev/null >/dev/null 2>&1
  ctr=$(runc --root "$tmp/runc" state ov | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}')
  echo "METRIC runc_container_pss_kib $(awk '/^Pss:/ {print $2}' "/proc/$ctr/smaps_rollup") KiB"
  echo "METRIC runc_idle_cpu_pct $(cpu_pct "$ctr") %"
fi
