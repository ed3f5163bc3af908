#!/usr/bin/env bash
# `npm ci` benchmark, side by side in one run, of a real React/webpack/babel/
# eslint project (bench/npm/package.json, ~500 packages) from an offline npm
# cache:
#   ours       onto a virtio-fs share served by our backend with a bind mount's
#              cache policy (coherent), as runvm serves `-v host:guest`
#   virtiofsd  the same share served by QEMU's virtiofsd (cache=auto, its
#              coherent mode), behind the same guest
#   tmpfs      into the guest's own tmpfs (no virtio-fs: the ceiling)
#   ours_precreate  ours with files made ahead of time (FsConfig::precreate,
#              off by default), on request (NPM_BENCH_VARIANTS): that lever's figure
#   ours_handles  ours with open-file handles (FsConfig::handles), as bind
#              mounts were served before: an OPEN and a synchronous RELEASE per
#              file, on request: the figure of serving without them
#   runc       onto a host directory bind-mounted into a runc container
# The three VM variants boot the same kernel with the same initramfs (busybox,
# the host's node and npm, the project and its cache: bench/npm_init.sh) in a
# 2 GiB guest; only the install target differs. Times are measured inside.
# The project's package-lock.json and npm cache are made once from the npm
# registry with the host's npm and kept in $RUNVM_CACHE/npm/<key>/ (like the
# kernel); later runs are offline.
# Prints METRIC npm_ci_<variant>_s (median), npm_bind_over_tmpfs,
# npm_virtiofsd_over_ours, npm_bind_over_runc and our backend's FUSE request
# counts (npm_fuse_requests, npm_fuse_<OPCODE>, npm_fuse_<OPCODE>_errors,
# npm_fuse_lookup_<kind>; npm_handles_fuse_* for ours_handles).
# NPM_BENCH_STATS=<file> keeps our backend's full per-opcode table (count,
# errors, service time) of every run.
# NPM_BENCH_PROFILE=<dir> samples where each VM variant's vCPU is (~50 Hz,
# runvm-fs-bench --profile) into <dir>/<variant>-<run> and prints the last
# run's profiles side by side by guest kernel function (bench/guest_profile.py).
# Usage: bench/npm.sh [runs] (default 1). BUILD_DIR defaults to ./build;
# NPM_BENCH_VARIANTS a subset of the variants; NPM_BENCH_KERNEL another guest
# kernel (default $BUILD_DIR/guest/vmlinux), for a kernel change's pair;
# NPM_BENCH_PACKAGE another package.json (a small one while developing).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
runs=${1:-1}
package=${NPM_BENCH_PACKAGE:-bench/npm/package.json}
kernel=${NPM_BENCH_KERNEL:-$build/guest/vmlinux}  # another guest kernel, for a pair
harness=$build/bench/runvm-fs-bench
virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
# NPM_BENCH_VARIANTS: a subset (e.g. "ours tmpfs" for one backend change's figure).
read -r -a variants <<<"${NPM_BENCH_VARIANTS:-ours virtiofsd tmpfs runc}"

[ -e "$kernel" ] || { echo "bench: missing $kernel (run ./setup.sh demo first)" >&2; exit 1; }
for f in "$virtiofsd" /bin/busybox; do
  [ -x "$f" ] || { echo "bench: missing $f" >&2; exit 1; }
done
for c in node npm runc python3 cpio; do
  command -v "$c" >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done
[ -x "$harness" ] || cmake --build "$build" --target runvm-fs-bench >/dev/null
node=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")  # .../node_modules/npm

# --- the project and its offline cache, made once -----------------------------
key=$( (cat "$package"; node --version; npm --version) | sha256sum | cut -c1-16)
proj=${RUNVM_CACHE:-/var/cache/runvm}/npm/$key
if [ ! -s "$proj/expect" ]; then
  echo "bench: making the npm project and its cache in $proj (once, from the registry)" >&2
  mkdir -p "$proj"
  work=$(mktemp -d "$proj.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cp "$package" "$work/"
  (cd "$work" && npm install --package-lock-only --no-audit --no-fund --cache "$work/cache" >&2 &&
    npm ci --no-audit --no-fund --cache "$work/cache" >&2 &&
    rm -rf node_modules && npm ci --offline --no-audit --no-fund --cache "$work/cache" >&2 &&
    echo "entries=$(find node_modules | wc -l)" >expect)
  rm -rf "$proj" && mkdir -p "$proj"
  mv "$work/package.json" "$work/package-lock.json" "$work/expect" "$work/cache" "$proj/"
  rm -rf "$work"
  trap - EXIT
fi

# Shares live on the host's disk (like bundles), not in /tmp if that is tmpfs.
tmp=$(mktemp -d "${FS_BENCH_DIR:-/var/tmp}/runvm-npm-bench.XXXXXX")
[ -n "${NPM_BENCH_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT

# --- the guest's root: busybox, node + its libraries, npm, project, cache -------
root=$tmp/root
mkdir -p "$root"/{dev,proc,sys,tmp,mnt,root,etc,usr/bin,usr/lib/node_modules}
cp /bin/busybox "$root/busybox"
for applet in $(/bin/busybox --list-full); do
  mkdir -p "$root/$(dirname "$applet")"
  [ -e "$root/$applet" ] || ln -s /busybox "$root/$applet"
done
cp "$node" "$root/usr/bin/node"
for lib in $(ldd "$node" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$root/"; done
cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
mkdir -p "$root/project"
cp "$proj/package.json" "$proj/package-lock.json" "$proj/expect" "$root/project/"
cp -a "$proj/cache" "$root/cache"
install -m 0755 bench/npm_init.sh "$root/init"
mknod "$root/dev/console" c 5 1
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet >"$tmp/initrd.cpio")
rm -f "$root/init" "$root/dev/console"

# --- runc: the same root as a bundle, the target bind-mounted at /mnt ------------
runc_once() {  # share
  local b=$tmp/bundle id=runvm-npm-bench-$$
  mkdir -p "$b"
  (cd "$b" && rm -f config.json && runc spec)
  python3 - "$b/config.json" "$1" "$root" <<'PY'
import json, sys
path, share, root = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["env"] = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"]
c["process"]["args"] = ["/bin/sh", "-c", """set -e
. /project/expect
cp -a /cache /tmp/cache
mkdir /mnt/app && cp /project/package.json /project/package-lock.json /mnt/app/ && cd /mnt/app
read -r t0 _ </proc/uptime
npm ci --offline --cache /tmp/cache --no-audit --no-fund --loglevel=error --no-progress >&2 && sync
read -r t1 _ </proc/uptime
n=$(find node_modules | wc -l)
[ "$n" = "$entries" ] || { echo "node_modules holds $n entries, not $entries" >&2; exit 1; }
awk "BEGIN { printf \\"%.2f\\\\n\\", $t1 - $t0 }" """]
c["root"] = {"path": root, "readonly": False}
c["mounts"].append({"destination": "/mnt", "type": "bind", "source": share, "options": ["rbind", "rw"]})
# npm writes into its cache: a private copy per run, as the guests have.
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1g"]})
json.dump(c, open(path, "w"))
PY
  runc run --bundle "$b" "$id" </dev/null
}

# --- runs: every variant once per run, in turn ----------------------------------
source bench/lib.sh
mkdir -p "$tmp/res"
for run in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    state=$tmp/state-$v-$run share=$tmp/share-$v-$run
    mkdir -p "$state" "$share"
    w0=$(date +%s.%N) cpu=
    if [ "$v" = runc ]; then
      secs=$(runc_once "$share") || { echo "bench: runc run $run failed" >&2; exit 1; }
    else
      backend=$v extra=()
      [ "$v" != ours_precreate ] || { backend=ours extra=(--precreate on); }
      [ "$v" != ours_handles ] || { backend=ours extra=(--handles on); }
      [ -z "${NPM_BENCH_PROFILE:-}" ] || extra+=(--profile "$NPM_BENCH_PROFILE/$v-$run")
      if ! "$harness" --backend "$backend" "${extra[@]}" --kernel "$kernel" \
        --initrd "$tmp/initrd.cpio" --state "$state" --share "$share" --virtiofsd "$virtiofsd" \
        --memory 2048 --policy coherent --virtiofsd-cache auto --stats "$state/stats" \
        >"$state/out"; then
        echo "bench: $v run $run failed" >&2
        exit 1
      fi
      secs=$(awk '$1 == "npm_ci" {print $2}' "$state/out")
      cpu=$(awk '$1 == "guest_cpu" {$1 = ""; print}' "$state/out")
      if [ "$v" != tmpfs ]; then  # npm_init.sh counts tmpfs's in the guest
        n=$(find "$share/app/node_modules" | wc -l)
        [ "$n" = "$(sed -n 's/^entries=//p' "$proj/expect")" ] ||
          { echo "bench: $v run $run: node_modules holds $n entries" >&2; exit 1; }
      fi
      if [ -s "$state/stats" ]; then
        [ "$v" != ours ] || cp "$state/stats" "$tmp/stats"
        [ "$v" != ours_handles ] || cp "$state/stats" "$tmp/stats-handles"
        [ -z "${NPM_BENCH_STATS:-}" ] || { echo "run $run"; cat "$state/stats"; } >>"$NPM_BENCH_STATS"
      fi
    fi
    w1=$(date +%s.%N)
    echo "$secs" >>"$tmp/res/$v"
    # The host's wall time of the whole variant (boot and copy-in too): a
    # check on the guest's clock, which on a host without a usable TSC
    # (host_tsc.h) runs on jiffies and can lose ticks.
    echo "bench: run $run $v: npm ci ${secs}s (host wall $(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }')s)${cpu:+; guest vCPU ticks:$cpu}" >&2
    [ -n "${NPM_BENCH_KEEP:-}" ] || rm -rf "$state" "$share"
  done
done

for v in "${variants[@]}"; do echo "METRIC npm_ci_${v}_s $(median <"$tmp/res/$v") s"; done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "inf"), (b > 0 ? a / b : 0) }'; }
metric_ratio() {  # name a b: a's median over b's, if both ran
  [ -s "$tmp/res/$2" ] && [ -s "$tmp/res/$3" ] || return 0
  echo "METRIC $1 $(ratio "$(median <"$tmp/res/$2")" "$(median <"$tmp/res/$3")")"
}
metric_ratio npm_bind_over_tmpfs ours tmpfs
metric_ratio npm_virtiofsd_over_ours virtiofsd ours
metric_ratio npm_bind_over_runc ours runc
metric_ratio npm_ours_over_precreate ours ours_precreate
metric_ratio npm_handles_over_ours ours_handles ours
# Our backend's requests in the last run, by opcode (most first), and its
# LOOKUPs by what the guest already knew (fuse_stats.h: Stats::Lookup).
fuse_metrics() {  # prefix stats-file
  awk -v p="$1" '$1 == "fuse" && $2 != "TOTAL" { split($3, c, "="); split($4, e, "=");
         print "METRIC " p "_" $2 " " c[2]; if (e[2] > 0) print "METRIC " p "_" $2 "_errors " e[2] }
       $1 == "fuse" && $2 == "TOTAL" { split($3, c, "="); split($5, x, "=");
         print "METRIC " p "_requests " c[2]; print "METRIC " p "_getxattr_capability " x[2] }
       $1 == "fuse-lookup" { for (i = 2; i <= NF; i++) { split($i, k, "=");
         print "METRIC " p "_lookup_" k[1] " " k[2] } }' "$2"
  sed "s/^/bench: $1: /" "$2" >&2
}
[ ! -s "$tmp/stats" ] || fuse_metrics npm_fuse "$tmp/stats"
[ ! -s "$tmp/stats-handles" ] || fuse_metrics npm_handles_fuse "$tmp/stats-handles"
if [ -n "${NPM_BENCH_PROFILE:-}" ]; then
  profiles=()
  for v in "${variants[@]}"; do
    [ ! -s "$NPM_BENCH_PROFILE/$v-$runs" ] || profiles+=("$v=$NPM_BENCH_PROFILE/$v-$runs")
  done
  ((${#profiles[@]} == 0)) || python3 bench/guest_profile.py "$kernel" "${profiles[@]}" >&2
fi
