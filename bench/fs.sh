#!/usr/bin/env bash
# virtio-fs benchmark, side by side in one run: the same guest workload
# (bench/fs_init.sh) on
#   ours       our in-process virtio-fs backend (CachePolicy::kExclusive)
#   virtiofsd  QEMU's /usr/lib/qemu/virtiofsd (cache=auto) on the same kind of directory
#   tmpfs      the guest's own tmpfs (no virtio-fs at all: the ceiling)
# Workloads: untar (5,000 small files), statwalk (cold `du` of that tree, then
# statwalk_warm), npm (cp -a of a real node_modules tree), seqwrite (256 MiB,
# dd + sync), seqread (the same file, cold). Times are measured in the guest.
# The backends alternate within each run, so machine noise hits all alike.
# Prints METRIC fs_<workload>_<backend>_s (median) and, per workload,
# fs_<workload>_virtiofsd_over_ours and fs_<workload>_ours_over_tmpfs.
# Usage: bench/fs.sh [runs] (default 3). BUILD_DIR defaults to ./build.
# FS_BENCH_FILES / FS_BENCH_SEQ_MIB scale the untar and seqwrite workloads.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
runs=${1:-3}
files=${FS_BENCH_FILES:-5000}
seq_mib=${FS_BENCH_SEQ_MIB:-256}
kernel=$build/guest/vmlinux
harness=$build/bench/runvm-fs-bench
virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
cache=${RUNVM_CACHE:-/var/cache/runvm}/bench
backends=(ours virtiofsd tmpfs)
workloads=(untar statwalk statwalk_warm npm seqwrite seqread)

[ -e "$kernel" ] || { echo "bench: missing $kernel (run ./setup.sh demo first)" >&2; exit 1; }
for f in "$virtiofsd" /bin/busybox; do
  [ -x "$f" ] || { echo "bench: missing $f" >&2; exit 1; }
done
[ -x "$harness" ] || cmake --build "$build" --target runvm-fs-bench >/dev/null
# Shares live on the host's disk (like bundles), not in /tmp if that is tmpfs.
tmp=$(mktemp -d "${FS_BENCH_DIR:-/var/tmp}/runvm-fs-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- inputs: the same for every backend, packed into the guest's initramfs ---
# A real node_modules tree (~9,400 files, 75 MiB), installed once and reused.
npm_dir=$cache/npm
if [ ! -d "$npm_dir/node_modules" ]; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts \
    eslint@10.15.0 webpack@5.112.2 jest@30.5.2 @babel/core@7.29.13 >&2
fi
root=$tmp/initramfs
mkdir -p "$root"/{bin,dev,proc,mnt,inputs} "$tmp/small"
cp /bin/busybox "$root/bin/busybox"
install -m 0755 bench/fs_init.sh "$root/init"
mknod "$root/dev/console" c 5 1
cp -a "$npm_dir/node_modules" "$root/inputs/"
# $files files of 100 B-4 KiB (deterministic) in 100 directories, 2 levels deep.
(cd "$tmp/small" && mkdir -p d{0..9}/s{0..9})
awk -v n="$files" -v dir="$tmp/small" 'BEGIN {
  srand(42)
  line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-+=/.,;"
  for (i = 0; i < n; i++) {
    f = sprintf("%s/d%d/s%d/file%05d.txt", dir, i % 10, int(i / 10) % 10, i)
    size = 100 + int(rand() * 3997)
    s = ""
    while (length(s) < size) s = s substr(line, 1 + int(rand() * 60), 12) "\n"
    printf "%s", substr(s, 1, size) > f
    close(f)
  }
}'
tar -cf "$root/inputs/small.tar" -C "$tmp/small" --sort=name --owner=0 --group=0 --format=ustar .
cat >"$root/inputs/expect" <<EOF
untar_entries=$(find "$tmp/small" | wc -l)
npm_entries=$(find "$npm_dir/node_modules" | wc -l)
seq_mib=$seq_mib
EOF
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet >"$tmp/initrd.cpio")
rm -rf "$root" "$tmp/small"

# --- runs: every backend once per run, in turn ---------------------------------
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) exit 1; print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mkdir -p "$tmp/res"
for run in $(seq "$runs"); do
  for b in "${backends[@]}"; do
    state=$tmp/state-$b-$run share=$tmp/share-$b-$run
    mkdir -p "$state" "$share"
    if ! "$harness" --backend "$b" --kernel "$kernel" --initrd "$tmp/initrd.cpio" \
      --state "$state" --share "$share" --virtiofsd "$virtiofsd" >"$state/out"; then
      echo "bench: $b run $run failed" >&2
      exit 1
    fi
    while read -r w secs; do echo "$secs" >>"$tmp/res/${w}_$b"; done <"$state/out"
    echo "bench: run $run $b: $(tr '\n' ' ' <"$state/out")" >&2
    rm -rf "$state" "$share"
  done
done

for w in "${workloads[@]}"; do
  for b in "${backends[@]}"; do
    echo "METRIC fs_${w}_${b}_s $(median <"$tmp/res/${w}_$b") s"
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "inf"), (b > 0 ? a / b : 0) }'; }
for w in "${workloads[@]}"; do
  ours=$(median <"$tmp/res/${w}_ours")
  echo "METRIC fs_${w}_virtiofsd_over_ours $(ratio "$(median <"$tmp/res/${w}_virtiofsd")" "$ours") x"
  echo "METRIC fs_${w}_ours_over_tmpfs $(ratio "$ours" "$(median <"$tmp/res/${w}_tmpfs")") x"
done
