# Sourced by the boot benchmarks: bare QEMU with runvm's kernel and machine
# (microvm, the same memory backend), booting an initrd whose /init powers
# off at once. The floor a cold container start is measured against: the
# same machine as runvm's default VM (BARE_MEMORY_MIB, default runvm.toml's
# 2048) and the same kernel command line under TCG (shim/engine/qemu_command.cc),
# so that what the kernel flags save counts for the floor too.
# usage: bare_boot_prepare BUILD TMPDIR; then bare_boot_once prints its ms
# (and with BARE_CPU_FILE set, writes QEMU's CPU ms there).

bare_boot_prepare() {
  local build=$1 tmp=$2
  BARE_KERNEL=$build/guest/vmlinux
  BARE_TMP=$tmp
  local src
  src=$(dirname "${BASH_SOURCE[0]}")
  cc -static -O2 -o "$tmp/poweroff" "$src/poweroff_init.c"
  "$build/guest/runvm-mkinitramfs" --agent "$tmp/poweroff" --out "$tmp/poweroff.cpio"
  # The host's TSC frequency, measured as the engine does for a TCG guest
  # (shim/engine/host_tsc.h), and the same flags on the command line.
  c++ -std=c++20 -O2 -I"$src/.." -o "$tmp/host_tsc_khz" "$src/host_tsc_khz.cc" \
    "$src/../shim/engine/host_tsc.cc"
  local khz
  khz=$("$tmp/host_tsc_khz")
  BARE_TSC=${khz:+ tsc=reliable tsc_early_khz=$khz}
}

bare_boot_once() {
  local t0 t1 TIMEFORMAT='%3U %3S'
  t0=$(date +%s%3N)
  # With BARE_CPU_FILE, QEMU's CPU time (user + system ms) goes there.
  { time qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=on \
    -nodefaults -no-user-config -nographic -no-reboot -accel tcg -cpu max -smp 1 -m "${BARE_MEMORY_MIB:-2048}" \
    -object memory-backend-memfd,id=mem,size="${BARE_MEMORY_MIB:-2048}M",share=on -machine memory-backend=mem \
    -kernel "$BARE_KERNEL" -initrd "$BARE_TMP/poweroff.cpio" \
    -append "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0 rcupdate.rcu_expedited=1 noapictimer${BARE_TSC:-}" \
    -serial "file:$BARE_TMP/bare-console.log"; } 2>"$BARE_TMP/bare.time"
  t1=$(date +%s%3N)
  if [ -n "${BARE_CPU_FILE:-}" ]; then
    awk '{printf "%d\n", ($1 + $2) * 1000}' "$BARE_TMP/bare.time" >"$BARE_CPU_FILE"
  fi
  echo $((t1 - t0))
}
