#!/usr/bin/env bash
# Boot benchmark, side by side in one run:
#   runvm: `runvm check` boots a microVM through the shim's vhost-user vsock and
#          waits for the agent's hello (boot_to_agent_ms, as measured by runvm)
#   bare:  QEMU with the same kernel and machine, an initrd whose /init powers
#          off at once, launch to exit (bare_qemu_boot_ms)
#   shim:  resident memory of a runvm-shim serving a booted VM (shim_rss_kib)
# Usage: bench/boot.sh [runs] (default 5). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
runs=${1:-5}
kernel=$build/guest/vmlinux
initrd=$build/guest/initramfs.cpio
for f in "$kernel" "$initrd" "$build/runtime/runvm" "$build/shim/runvm-shim"; do
  [ -e "$f" ] || { echo "bench: missing $f (run ./setup.sh demo first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source bench/lib.sh
now_ms() { date +%s%3N; }

# --- runvm: boot to agent hello -------------------------------------------
: >"$tmp/agent"
: >"$tmp/check_wall"
for _ in $(seq "$runs"); do
  t0=$(now_ms)
  out=$("$build/runtime/runvm" --root "$tmp/root" check --accel tcg --pings 1)
  t1=$(now_ms)
  echo "$out" | awk '/^boot_to_agent_ms:/ {print $2}' >>"$tmp/agent"
  echo $((t1 - t0)) >>"$tmp/check_wall"
done

# --- bare QEMU: same kernel and machine, /init powers off ---------------------
source bench/bare_boot.sh
bare_boot_prepare "$build" "$tmp"
: >"$tmp/bare"
for _ in $(seq "$runs"); do bare_boot_once >>"$tmp/bare"; done

# --- shim RSS with a booted VM ------------------------------------------------
mkdir -p "$tmp/shim"
mkfifo "$tmp/ready"
"$build/shim/runvm-shim" --state-dir "$tmp/shim" --kernel "$kernel" --initrd "$initrd" \
  --accel tcg --ready-fd 3 3>"$tmp/ready" &
shim=$!
read -r _ <"$tmp/ready"
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$shim/status")
kill -TERM "$shim"
wait "$shim" || true

echo "METRIC boot_to_agent_ms $(median <"$tmp/agent") ms"
echo "METRIC runvm_check_wall_ms $(median <"$tmp/check_wall") ms"
echo "METRIC bare_qemu_boot_ms $(median <"$tmp/bare") ms"
echo "METRIC shim_rss_kib $rss KiB"
