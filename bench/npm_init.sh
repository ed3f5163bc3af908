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
# The guest kernel's FUSE caching (guest/kernel/patches): which behaviour ran.
echo FSBENCH guest_fuse "revalidate_excl=$(cat /sys/module/fuse/parameters/revalidate_excl 2>/dev/null)" \
  "dir_change_invalidates_all=$(cat /sys/module/fuse/parameters/dir_change_invalidates_all 2>/dev/null)"
echo FSBENCH-START "$backend"
read -r t0 _ </proc/uptime
# Ends with sync: the work is done when the data left the guest's page cache.
npm ci --offline --cache /cache --no-audit --no-fund --loglevel=error --no-progress && sync || fail npm ci
echo
read -r t1 _ </proc/uptime
echo "FSBENCH npm_ci $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
n=$(find node_modules | wc -l)
[ "$n" = "$entries" ] || fail "node_modules holds $n entries, not $entries"
echo FSBENCH-DONE
reboot -f
