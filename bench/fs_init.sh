#!/bin/busybox sh
# /init of the runvm-fs-bench guest (bench/fs.sh packs it with busybox and the
# inputs under /inputs). Mounts the backend named by fsbench= on the kernel
# command line at /mnt, runs the workloads in order and prints
# "FSBENCH <workload> <seconds>" for each, then reboots (QEMU exits).
# Inputs come from the initramfs (guest RAM) for every backend, so only the
# writes (and the reads of what was written) touch the backend under test.
# Every timed write ends with sync: the work is done when the data left the
# guest's page cache, which tmpfs gets for free.
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
exec >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc

fail() { echo "FSBENCH-FAIL $*"; reboot -f; }
backend=$(sed -n 's/.*fsbench=\([a-z]*\).*/\1/p' /proc/cmdline)
case "$backend" in
  tmpfs) mount -t tmpfs -o size=90% bench /mnt || fail mount ;;
  ours | virtiofsd) mount -t virtiofs share /mnt || fail mount ;;
  *) fail "unknown backend '$backend'" ;;
esac
. /inputs/expect # untar_entries npm_entries seq_mib

# Cold start for each workload: nothing dirty, no cached pages or dentries.
drop() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}
# /proc/uptime: 10 ms resolution, plenty for workloads of seconds.
timed() {
  name=$1
  shift
  read -r t0 _ </proc/uptime
  "$@" || fail "$name"
  read -r t1 _ </proc/uptime
  echo "FSBENCH $name $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
}
# Checked outside the timings: the work really happened.
count() { [ "$(find "$1" | wc -l)" = "$2" ] || fail "$1 does not hold $2 entries"; }

untar() { mkdir /mnt/untar && tar -xf /inputs/small.tar -C /mnt/untar && sync; }
statwalk() { du -s /mnt/untar >/dev/null; }
npm() { mkdir /mnt/npm && cp -a /inputs/node_modules /mnt/npm/ && sync; }
seqwrite() { dd if=/dev/zero of=/mnt/big bs=1M count="$seq_mib" 2>/dev/null && sync; }
seqread() { dd if=/mnt/big of=/dev/null bs=1M 2>/dev/null; }

echo FSBENCH-START "$backend"
drop && timed untar untar
count /mnt/untar "$untar_entries"
drop && timed statwalk statwalk
timed statwalk_warm statwalk
drop && timed npm npm
count /mnt/npm/node_modules "$npm_entries"
drop && timed seqwrite seqwrite
drop && timed seqread seqread
[ "$(stat -c %s /mnt/big)" = $((seq_mib * 1048576)) ] || fail "big file has the wrong size"
echo FSBENCH-DONE
reboot -f
