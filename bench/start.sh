#!/usr/bin/env bash
# Cold start benchmark (issue 14), side by side in one run. Each round runs
# every variant once, in turn, so load on the host falls on all alike:
#   bare:   QEMU booting runvm's kernel and machine to an /init that powers
#           off at once (bench/bare_boot.sh): the floor
#   cold:   `runvm run` of `true` (create, start, exit, delete), a cold boot
#   warm:   the same, claiming a unit of the warm pool (runvm-pool(8)) that
#           `runvm pool fill` refilled before the round, outside the timing
#           (NO_WARM=1 skips it); start_cold_over_warm is the median of each
#           round's cold over its warm start
#   runc:   `runc run` of the same bundle
#   podman: `podman --runtime runvm|runc run --rm --network none busybox true`
#           (private storage and configuration; NO_PODMAN=1 skips it); with
#           the warm pool too: runvm through a wrapper that adds the pool's
#           --root and --config (Podman passes neither), refilled likewise
# and `runvm --debug run` of `true`, whose phase timeline (shim.log and
# runvm's log: "phase NAME MS ms (+MS ms)", ms since runvm began) gives
# per-phase medians: where the cold path's time goes (and, for the phases
# while QEMU runs, the guest's vCPU time by then: phase_NAME_vcpu_ms).
# start_cold_over_bare is the median of each round's cold start over that
# round's bare boot: paired in time, so load that drifts between rounds (other
# work on the host) cancels out better than in a ratio of the two medians.
# start_boot_vcpu_over_bare_cpu and start_agent_vcpu_over_bare_cpu split the
# debug run's guest CPU the same way, per round: up to the agent's connect
# (the kernel boot) and after it (the agent's work), over the bare boot's.
# With COMPARE_BUILD=DIR (another build, or a copy of its runtime/runvm,
# shim/runvm-shim and guest/{vmlinux,initramfs.cpio}), that build's
# `runvm run` is timed in the same rounds too (start_compare_*): a change's
# before and after, side by side; start_cold_over_compare is the median of
# each round's ratio of the two, with every round's ratio (the noise); its
# warm start too, from a pool of its own (start_warm_over_compare).
# Usage: bench/start.sh [rounds] (default 7). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
rounds=${1:-7}
runvm=$(readlink -f "$build/runtime/runvm")
for f in "$runvm" "$build/shim/runvm-shim" "$build/guest/vmlinux"; do
  [ -e "$f" ] || { echo "bench: missing $f (run ./setup.sh demo first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
podman_on=0
if [ "${NO_PODMAN:-0}" != 1 ] && command -v podman >/dev/null; then podman_on=1; fi
pool_cfg=$tmp/pool.toml
printf '[pool]\nsize = 1\n' >"$pool_cfg"
warm_on=1
[ "${NO_WARM:-0}" = 1 ] && warm_on=0
cleanup() {
  if [ "$warm_on" = 1 ] && [ -d "$tmp/root/@pool" ]; then
    # The background fill a claim started goes first (it holds the lock).
    flock "$tmp/root/@pool/fill.lock" true 2>/dev/null || true
    "$runvm" --root "$tmp/root" --config "$pool_cfg" pool drain >/dev/null 2>&1 || true
  fi
  if [ -n "${COMPARE_BUILD:-}" ] && [ -d "$tmp/croot/@pool" ]; then
    flock "$tmp/croot/@pool/fill.lock" true 2>/dev/null || true
    "$COMPARE_BUILD/runtime/runvm" --root "$tmp/croot" --config "$pool_cfg" pool drain >/dev/null 2>&1 || true
  fi
  if [ -d "$tmp/proot/@pool" ]; then
    "$runvm" --root "$tmp/proot" --config "$pool_cfg" pool drain >/dev/null 2>&1 || true
  fi
  if [ "$podman_on" = 1 ]; then
    podman rm -af -t 0 >/dev/null 2>&1 || true
    podman system reset -f >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

source bench/lib.sh
now_ms() { date +%s%3N; }
# Milliseconds the command took; its output is dropped, a failure ends the bench.
# Its CPU time (user + system ms, every process it waited for: runvm, the
# shim, QEMU) goes to $tmp/last.cpu.
timed() {
  local t0 t1 TIMEFORMAT='%3U %3S'
  t0=$(now_ms)
  { time "$@" </dev/null >/dev/null 2>"$tmp/last.err"; } 2>"$tmp/last.time" ||
    { echo "bench: $* failed:" >&2; cat "$tmp/last.err" >&2; exit 1; }
  t1=$(now_ms)
  awk '{printf "%d\n", ($1 + $2) * 1000}' "$tmp/last.time" >"$tmp/last.cpu"
  echo $((t1 - t0))
}

source bench/bare_boot.sh
bare_boot_prepare "$build" "$tmp"

tests/images/busybox_rootfs.sh "$tmp/b/rootfs"
(cd "$tmp/b" && "$runvm" spec)
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' "$tmp/b/config.json"

if [ "$podman_on" = 1 ]; then
  mkdir -p "$tmp/podman/tmp"
  # No default ulimits: runc here may not set any (EPERM), even the host's own.
  cat >"$tmp/podman/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$tmp/podman/tmp"
CONF
  cat >"$tmp/podman/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$tmp/podman/graph"
runroot = "$tmp/podman/run"
CONF
  export CONTAINERS_CONF=$tmp/podman/containers.conf CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf
  tar -C "$tmp/b/rootfs" -cf "$tmp/busybox.tar" .
  podman import -q "$tmp/busybox.tar" localhost/busybox:bench >/dev/null
fi
podman_run() { podman --runtime "$1" run --rm --network none localhost/busybox:bench true; }
# runvm as Podman runs it, on the warm pool's root and configuration.
cat >"$tmp/runvm-pool" <<WRAP
#!/bin/sh
exec "$runvm" --root "$tmp/proot" --config "$pool_cfg" "\$@"
WRAP
chmod +x "$tmp/runvm-pool"
podman_pool_fill() { "$tmp/runvm-pool" pool fill >/dev/null; }
runvm_run() { "$runvm" --root "$tmp/root" run -b "$tmp/b" "$1"; }
warm_run() { "$runvm" --root "$tmp/root" --config "$pool_cfg" run -b "$tmp/b" "$1"; }
pool_fill() { "$runvm" --root "$tmp/root" --config "$pool_cfg" pool fill >/dev/null; }
compare_run() { "$COMPARE_BUILD/runtime/runvm" --root "$tmp/root" run -b "$tmp/b" "$1"; }
# The other build's warm pool, on a root of its own (a class names its binaries).
compare_warm_run() { "$COMPARE_BUILD/runtime/runvm" --root "$tmp/croot" --config "$pool_cfg" run -b "$tmp/b" "$1"; }
compare_pool_fill() { "$COMPARE_BUILD/runtime/runvm" --root "$tmp/croot" --config "$pool_cfg" pool fill >/dev/null; }
runc_run() { runc --root "$tmp/runc-root" run -b "$tmp/b" "$1"; }
# The timeline: runvm's log and the kept container's shim.log.
runvm_debug_run() {
  "$runvm" --root "$tmp/root" --debug --log "$tmp/runvm-debug.log" run --keep -b "$tmp/b" "$1"
  cat "$tmp/runvm-debug.log" "$tmp/root/$1/shim.log" >>"$tmp/phases.log"
  # The guest's vCPU ms when its agent first connected (the kernel booted,
  # with our devices) and when the container's process had exited.
  awk '/phase agent_connected / && match($0, /vcpu_ms=[0-9]+/) {c = substr($0, RSTART + 8, RLENGTH - 8)}
       /phase process_exited / && match($0, /vcpu_ms=[0-9]+/) {e = substr($0, RSTART + 8, RLENGTH - 8)}
       END {if (c != "" && e != "") print c, e}' "$tmp/root/$1/shim.log" >"$tmp/last.vcpu"
  rm -f "$tmp/runvm-debug.log"
  "$runvm" --root "$tmp/root" delete "$1"
}

# One untimed round first: page cache, podman's first-run set-up.
bare_boot_once >/dev/null
runvm_run warm >/dev/null </dev/null
if [ -n "${COMPARE_BUILD:-}" ]; then compare_run warm >/dev/null </dev/null; fi
if command -v runc >/dev/null; then runc_run warm </dev/null >/dev/null; fi
if [ "$podman_on" = 1 ]; then
  podman_run "$runvm" >/dev/null </dev/null
  podman_run runc >/dev/null </dev/null
fi

: >"$tmp/phases.log"
for i in $(seq "$rounds"); do
  b=$(BARE_CPU_FILE=$tmp/last.cpu bare_boot_once)
  echo "$b" >>"$tmp/bare"
  bc=$(cat "$tmp/last.cpu")
  echo "$bc" >>"$tmp/bare_cpu"
  # The two builds take turns going first.
  for which in $( ((i % 2)) && echo cold compare || echo compare cold); do
    [ "$which" = compare ] && [ -z "${COMPARE_BUILD:-}" ] && continue
    if [ "$which" = cold ]; then c=$(timed runvm_run "c$i"); cold_ms=$c; else c=$(timed compare_run "o$i"); fi
    echo "$c" >>"$tmp/$which"
    awk -v c="$c" -v b="$b" 'BEGIN {print c / b}' >>"$tmp/${which}_ratio"
    cat "$tmp/last.cpu" >>"$tmp/${which}_cpu"
    awk -v c="$(cat "$tmp/last.cpu")" -v b="$bc" 'BEGIN {if (b > 0) print c / b}' >>"$tmp/${which}_cpu_ratio"
  done
  if [ -n "${COMPARE_BUILD:-}" ]; then
    awk -v c="$(tail -1 "$tmp/cold")" -v o="$(tail -1 "$tmp/compare")" 'BEGIN {print c / o}' \
      >>"$tmp/cold_over_compare"
  fi
  if [ "$warm_on" = 1 ]; then
    pool_fill
    w=$(timed warm_run "w$i")
    echo "$w" >>"$tmp/warm"
    awk -v c="$cold_ms" -v w="$w" 'BEGIN {print c / w}' >>"$tmp/cold_over_warm"
    # Refilled before anything else is timed: this waits for the claim's
    # background fill (the fill lock), or does its work first.
    pool_fill
    if [ -n "${COMPARE_BUILD:-}" ]; then
      compare_pool_fill
      cw=$(timed compare_warm_run "cw$i")
      echo "$cw" >>"$tmp/compare_warm"
      awk -v w="$w" -v o="$cw" 'BEGIN {print w / o}' >>"$tmp/warm_over_compare"
      compare_pool_fill
    fi
  fi
  timed runvm_debug_run "d$i" >/dev/null
  # Against this round's bare boot (QEMU's whole CPU time): the guest's
  # boot to its agent, and the agent's part (create, start, exit) after it.
  if [ -s "$tmp/last.vcpu" ]; then
    read -r conn_vcpu exit_vcpu <"$tmp/last.vcpu"
    awk -v c="$conn_vcpu" -v b="$bc" 'BEGIN {if (b > 0) print c / b}' >>"$tmp/boot_vcpu_ratio"
    awk -v c="$conn_vcpu" -v e="$exit_vcpu" -v b="$bc" 'BEGIN {if (b > 0) print (e - c) / b}' \
      >>"$tmp/agent_vcpu_ratio"
  fi
  if command -v runc >/dev/null; then timed runc_run "r$i" >>"$tmp/runc"; fi
  if [ "$podman_on" = 1 ]; then
    timed podman_run "$runvm" >>"$tmp/podman_runvm"
    timed podman_run runc >>"$tmp/podman_runc"
    if [ "$warm_on" = 1 ]; then
      podman_pool_fill
      timed podman_run "$tmp/runvm-pool" >>"$tmp/podman_runvm_warm"
      podman_pool_fill
    fi
  fi
done

bare=$(median <"$tmp/bare")
cold=$(median <"$tmp/cold")
echo "METRIC bare_qemu_boot_ms $bare ms"
echo "METRIC start_cold_ms $cold ms"
ratio() { median | awk '{printf "%.2f", $1}'; }
echo "METRIC start_cold_over_bare $(ratio <"$tmp/cold_ratio")"
# CPU time (user + system): what a loaded host inflates least; on an idle
# one the boot's CPU time is most of its wall time.
echo "METRIC bare_qemu_boot_cpu_ms $(median <"$tmp/bare_cpu") ms"
echo "METRIC start_cold_cpu_ms $(median <"$tmp/cold_cpu") ms"
echo "METRIC start_cold_over_bare_cpu $(ratio <"$tmp/cold_cpu_ratio")"
# Where the CPU ratio's excess is, per round against that round's bare
# boot: the guest's vCPU time to its agent's first connect (the kernel boot
# with our devices; bare's figure also holds QEMU's own start and exit), and
# from there to the container's exit (the agent's and the container's guest
# work, under TCG mostly first-run code translation).
if [ -s "$tmp/agent_vcpu_ratio" ]; then
  echo "METRIC start_boot_vcpu_over_bare_cpu $(ratio <"$tmp/boot_vcpu_ratio")"
  echo "METRIC start_agent_vcpu_over_bare_cpu $(ratio <"$tmp/agent_vcpu_ratio")"
fi
if [ -n "${COMPARE_BUILD:-}" ]; then
  compare=$(median <"$tmp/compare")
  echo "METRIC start_compare_ms $compare ms"
  echo "METRIC start_compare_over_bare $(ratio <"$tmp/compare_ratio")"
  echo "METRIC start_compare_cpu_ms $(median <"$tmp/compare_cpu") ms"
  echo "METRIC start_compare_over_bare_cpu $(ratio <"$tmp/compare_cpu_ratio")"
  # This build over the other, paired per round; its spread says how noisy the rounds were.
  echo "METRIC start_cold_over_compare $(ratio <"$tmp/cold_over_compare")" \
    "(rounds: $(sort -n "$tmp/cold_over_compare" | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}'))"
fi
if [ "$warm_on" = 1 ]; then
  echo "METRIC start_warm_ms $(median <"$tmp/warm") ms"
  echo "METRIC start_cold_over_warm $(ratio <"$tmp/cold_over_warm")"
  if [ -s "$tmp/compare_warm" ]; then
    echo "METRIC start_compare_warm_ms $(median <"$tmp/compare_warm") ms"
    echo "METRIC start_warm_over_compare $(ratio <"$tmp/warm_over_compare")" \
      "(rounds: $(sort -n "$tmp/warm_over_compare" | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}'))"
  fi
fi
[ -s "$tmp/runc" ] && echo "METRIC start_runc_ms $(median <"$tmp/runc") ms"
if [ "$podman_on" = 1 ]; then
  echo "METRIC podman_runvm_run_ms $(median <"$tmp/podman_runvm") ms"
  echo "METRIC podman_runc_run_ms $(median <"$tmp/podman_runc") ms"
  [ -s "$tmp/podman_runvm_warm" ] && echo "METRIC podman_runvm_warm_run_ms $(median <"$tmp/podman_runvm_warm") ms"
fi
# Per phase: the median of its time since runvm began; guest_boot is the
# guest's own clock when its agent started (the kernel's boot).
# phase_NAME_vcpu_ms: the guest's CPU time (its vCPU threads') by then, which
# load on the host does not inflate: what the guest itself spends per phase.
# phase_qemu_cpu_ms: QEMU's whole CPU time (every thread, from its reaping),
# beside bare_qemu_boot_cpu_ms; phase_shim_cpu_ms: the shim's own. The rest
# of start_cold_cpu_ms is runvm's.
awk '{
  for (i = 1; i < NF; i++) if ($i == "phase") { name = $(i + 1); print name, $(i + 2); break }
  if (match($0, /guest_boot_ms=[0-9]+/)) print "guest_boot", substr($0, RSTART + 14, RLENGTH - 14)
  if (match($0, /vcpu_ms=[0-9]+/)) print name "_vcpu", substr($0, RSTART + 8, RLENGTH - 8)
  if (match($0, /qemu_cpu_ms=[0-9]+/)) print "qemu_cpu", substr($0, RSTART + 12, RLENGTH - 12)
  if (match($0, /shim_cpu_ms=[0-9]+/)) print "shim_cpu", substr($0, RSTART + 12, RLENGTH - 12)
}' "$tmp/phases.log" >"$tmp/phases"
awk '!seen[$1]++ {print $1}' "$tmp/phases" | while read -r phase; do
  echo "$(awk -v p="$phase" '$1 == p {print $2}' "$tmp/phases" | median) $phase"
done | sort -n | while read -r ms phase; do echo "METRIC phase_${phase}_ms $ms ms"; done
