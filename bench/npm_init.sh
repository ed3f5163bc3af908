#!/busybox sh
# /init of the bench/npm.sh guest: a minimal root (busybox, the host's node and
# npm, the test project and its offline npm cache, all in the initramfs, i.e.
# guest RAM). Mounts the backend named by fsbench= at /mnt, runs `npm ci` of the
# project there and prints "FSBENCH npm_ci <seconds>", then reboots (QEMU exits).
# Only the install target is on the backend under test: node, npm and the cache
# are read from RAM in every variant.
/busybox mount -t devtmpfs dev /dev 2>/dev/null
exec >/dev/console 2>&1
/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/busybox --install -s
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp

fail() { echo "FSBENCH-FAIL $*"; reboot -f; }
backend=$(sed -n 's/.*fsbench=\([a-z]*\).*/\1/p' /proc/cmdline)
case "$backend" in
  tmpfs) mount -t tmpfs -o size=90% bench /mnt || fail mount ;;
  ours | virtiofsd) mount -t virtiofs share /mnt || fail mount ;;
  *) fail "unknown backend '$backend'" ;;
esac
. /project/expect # entries
mkdir /mnt/app && cp /project/package.json /project/package-lock.json /mnt/app/ || fail copy
cd /mnt/app || fail cd
sync
echo 3 >/proc/sys/vm/drop_caches
echo FSBENCH-START "$backend"
read -r t0 _ </proc/uptime
read -r _ u0 n0 s0 i0 w0 q0 sq0 _ </proc/stat
# Ends with sync: the work is done when the data left the guest's page cache.
npm ci --offline --cache /cache --no-audit --no-fund --loglevel=error --no-progress && sync || fail npm ci
echo
read -r t1 _ </proc/uptime
read -r _ u1 n1 s1 i1 w1 q1 sq1 _ </proc/stat
echo "FSBENCH npm_ci $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
# Where the vCPU's time went (ticks of 10 ms): busy (the workload and the
# guest kernel's FUSE path) or idle (waiting for the backend's replies); busy
# split into user (node) and sys (the kernel, interrupts included).
user=$((u1 + n1 - u0 - n0)) sys=$((s1 + q1 + sq1 - s0 - q0 - sq0))
echo "FSBENCH guest_cpu busy=$((user + sys)) user=$user sys=$sys idle=$((i1 + w1 - i0 - w0))"
# The result is counted on the host for a share (bench/npm.sh), so that the
# backend's request counts are the install's alone.
if [ "$backend" = tmpfs ]; then
  n=$(find node_modules | wc -l)
  [ "$n" = "$entries" ] || fail "node_modules holds $n entries, not $entries"
fi
echo FSBENCH-DONE
reboot -f
