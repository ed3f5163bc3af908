#!/usr/bin/env bash
# virtio-fs benchmark, side by side in one run: the same guest workload
# (bench/fs_init.sh) on each variant, compared like for like (same cache
# policy), so a ratio measures the implementation, not the policy:
#   ours_exclusive    our backend, CachePolicy::kExclusive (a bundle rootfs:
#                     24 h timeouts, cached misses, no writeback cache, xattrs
#                     only if the tree holds any: this empty share holds none)
#   virtiofsd_always  QEMU's virtiofsd with cache=always (no writeback either)
#   ours_exclusive_xattr  ours_exclusive serving xattrs, as for an image with
#                     file capabilities: the guest asks GETXATTR
#                     security.capability before each first write and each
#                     chown
#   virtiofsd_always_xattr  virtiofsd_always with -o xattr: the like-for-like
#                     pair of ours_exclusive_xattr
#   ours_coherent     our backend, CachePolicy::kCoherent (a bind mount: 1 s
#                     timeouts, misses cached 1 s, no xattrs, no writeback)
#   virtiofsd_auto    QEMU's virtiofsd with cache=auto (its default; no xattrs)
#   tmpfs             the guest's own tmpfs (no virtio-fs at all: the ceiling)
# and, on request (FS_BENCH_VARIANTS), the writeback-cache pair:
#   ours_exclusive_wb, virtiofsd_always_wb   the same with writeback cache
# and ours_exclusive_precreate, ours_coherent_precreate: ours with files
# made ahead of time (FsConfig::precreate, off by default), paired with ours.
# Workloads: untar (5,000 small files), statwalk (cold `du` of that tree, then
# statwalk_warm), npm (cp -a of a real node_modules tree), seqwrite (256 MiB,
# dd + sync), seqread (the same file, cold). Times are measured in the guest.
# The variants alternate within each run, so machine noise hits all alike,
# and ratios are the median of per-run ratios (each run's pair side by side).
# Prints METRIC fs_<workload>_<variant>_s (median), per workload the pairs
# fs_<workload>_virtiofsd_always_over_ours_exclusive,
# fs_<workload>_virtiofsd_always_xattr_over_ours_exclusive_xattr (like for like),
# fs_<workload>_virtiofsd_auto_over_ours_coherent (and _wb's if they ran),
# fs_<workload>_ours_*_over_tmpfs,
# and our backend's FUSE requests of the last run per variant
# (fs_fuse_<variant>_<OPCODE>, _requests, _getxattr_capability, LOOKUP errors,
# and what the SETATTRs set: _setattr_mode, _owner, _size, _times) and how
# they crossed the request queue (fs_queue_<variant>_<key>: batches, requests,
# interrupts, busy_ms serving them, gap_ms between a reply and the next
# request, avg_gap_us: the round trip outside the backend), and how many
# files were created from the stock made ahead of time (fs_stock_<variant>_
# taken, _missed).
# Usage: bench/fs.sh [runs] (default 3). BUILD_DIR defaults to ./build.
# FS_BENCH_BASELINE=<another build's runvm-fs-bench> adds base_exclusive and
# base_coherent (our backend as that build serves each policy) and the pairs
# fs_<workload>_base_<policy>_over_ours_<policy>: a change's before and after
# side by side in one run.
# FS_BENCH_VARIANTS a subset of the variants; FS_BENCH_STATS=<file> keeps our
# backend's full per-opcode tables. FS_BENCH_FILES / FS_BENCH_SEQ_MIB scale
# the untar and seqwrite workloads.
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
baseline=${FS_BENCH_BASELINE:-}
default_variants="ours_exclusive virtiofsd_always ours_exclusive_xattr virtiofsd_always_xattr ours_coherent virtiofsd_auto tmpfs"
[ -z "$baseline" ] || default_variants="base_exclusive $default_variants base_coherent"
read -r -a variants <<<"${FS_BENCH_VARIANTS:-$default_variants}"
workloads=(untar statwalk statwalk_warm npm seqwrite seqread)

[ -e "$kernel" ] || { echo "bench: missing $kernel (run ./setup.sh demo first)" >&2; exit 1; }
for f in "$virtiofsd" /bin/busybox; do
  [ -x "$f" ] || { echo "bench: missing $f" >&2; exit 1; }
done
[ -x "$harness" ] || cmake --build "$build" --target runvm-fs-bench >/dev/null
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "bench: missing $baseline" >&2; exit 1; }
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

# --- runs: every variant once per run, in turn ----------------------------------
variant_args() {  # variant: the harness's backend options
  case "$1" in
    ours_exclusive | base_exclusive) echo --backend ours --policy exclusive ;;
    ours_exclusive_xattr) echo --backend ours --policy exclusive --xattrs on ;;
    ours_exclusive_precreate) echo --backend ours --policy exclusive --precreate on ;;
    ours_coherent_precreate) echo --backend ours --policy coherent --precreate on ;;
    ours_exclusive_wb) echo --backend ours --policy exclusive --writeback on ;;
    ours_coherent | base_coherent) echo --backend ours --policy coherent ;;
    virtiofsd_always) echo --backend virtiofsd --virtiofsd-cache always ;;
    virtiofsd_always_xattr) echo --backend virtiofsd --virtiofsd-cache always --virtiofsd-xattr on ;;
    virtiofsd_always_wb) echo --backend virtiofsd --virtiofsd-cache always --virtiofsd-writeback on ;;
    virtiofsd_auto) echo --backend virtiofsd --virtiofsd-cache auto ;;
    tmpfs) echo --backend tmpfs ;;
    *) echo "bench: unknown variant $1" >&2; return 1 ;;
  esac
}
for v in "${variants[@]}"; do variant_args "$v" >/dev/null; done
harness_of() { case "$1" in base_*) echo "${baseline:?FS_BENCH_BASELINE unset}" ;; *) echo "$harness" ;; esac; }
source bench/lib.sh
mkdir -p "$tmp/res"
for run in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    state=$tmp/state-$v-$run share=$tmp/share-$v-$run
    mkdir -p "$state" "$share"
    # shellcheck disable=SC2046 # variant_args is a word list
    if ! "$(harness_of "$v")" $(variant_args "$v") --kernel "$kernel" --initrd "$tmp/initrd.cpio" \
      --state "$state" --share "$share" --virtiofsd "$virtiofsd" --stats "$state/stats" \
      >"$state/out"; then
      echo "bench: $v run $run failed" >&2
      exit 1
    fi
    while read -r w secs; do echo "$run $secs" >>"$tmp/res/${w}_$v"; done <"$state/out"
    echo "bench: run $run $v: $(tr '\n' ' ' <"$state/out")" >&2
    if [ -s "$state/stats" ]; then
      cp "$state/stats" "$tmp/res/stats_$v"
      [ -z "${FS_BENCH_STATS:-}" ] || { echo "run $run $v"; cat "$state/stats"; } >>"$FS_BENCH_STATS"
    fi
    rm -rf "$state" "$share"
  done
done

ran() { [ -s "$tmp/res/${workloads[0]}_$1" ]; }
for w in "${workloads[@]}"; do
  for v in "${variants[@]}"; do
    echo "METRIC fs_${w}_${v}_s $(awk '{print $2}' "$tmp/res/${w}_$v" | median) s"
  done
done
# Median over runs of a/b within each run (both variants ran side by side).
paired() {  # workload a b
  join <(sort "$tmp/res/${1}_$2") <(sort "$tmp/res/${1}_$3") |
    awk '{ if ($3 > 0) printf "%.4f\n", $2 / $3; else print ($2 > 0 ? 1e9 : 1) }' | median |
    awk '{ printf ($1 >= 1e9 ? "inf" : "%.2f"), $1 }'
}
pair() {  # a b: METRIC fs_<w>_<a>_over_<b> if both ran
  ran "$1" && ran "$2" || return 0
  for w in "${workloads[@]}"; do echo "METRIC fs_${w}_${1}_over_${2} $(paired "$w" "$1" "$2") x"; done
}
pair virtiofsd_always ours_exclusive
pair virtiofsd_always_xattr ours_exclusive_xattr
pair virtiofsd_auto ours_coherent
pair virtiofsd_always_wb ours_exclusive_wb
pair virtiofsd_always_wb ours_exclusive  # virtiofsd's fastest against our rootfs policy
pair ours_exclusive_wb ours_exclusive
pair base_exclusive ours_exclusive
pair ours_exclusive ours_exclusive_precreate
pair ours_coherent ours_coherent_precreate
pair base_coherent ours_coherent
pair ours_exclusive tmpfs
pair ours_coherent tmpfs
# Our backend's requests in the last run, per variant, by opcode (most first).
for v in "${variants[@]}"; do
  [ -s "$tmp/res/stats_$v" ] || continue
  awk -v v="$v" '$1 == "fuse" && $2 != "TOTAL" { split($3, c, "="); split($4, e, "=");
         print "METRIC fs_fuse_" v "_" $2 " " c[2]; if (e[2] > 0) print "METRIC fs_fuse_" v "_" $2 "_errors " e[2] }
       $1 == "fuse" && $2 == "TOTAL" { split($3, c, "="); split($5, x, "=");
         print "METRIC fs_fuse_" v "_requests " c[2]; print "METRIC fs_fuse_" v "_getxattr_capability " x[2] }
       $1 == "fuse-setattr" { for (i = 2; i <= NF; i++) { split($i, k, "=");
         print "METRIC fs_fuse_" v "_setattr_" k[1] " " k[2] } }
       $1 == "fuse-queue" { for (i = 2; i <= NF; i++) { split($i, k, "=");
         print "METRIC fs_queue_" v "_" k[1] " " k[2] } }
       $1 == "fuse-stock" { for (i = 2; i <= NF; i++) { split($i, k, "=");
         print "METRIC fs_stock_" v "_" k[1] " " k[2] } }' \
    "$tmp/res/stats_$v"
done
