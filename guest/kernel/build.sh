#!/usr/bin/env bash
# Builds the runvm guest kernel (PVH-bootable vmlinux) from Debian's
# linux-source-6.1 plus microvm.config, cached by hash of fragment + source
# version. Prints the path of the cached vmlinux on stdout.
#   RUNVM_CACHE   cache root (default /var/cache/runvm)
#   RUNVM_JOBS    make -j (default: nproc)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment="$here/microvm.config"
cache_root=${RUNVM_CACHE:-/var/cache/runvm}
src_pkg=linux-source-6.1
src_tar=/usr/src/$src_pkg.tar.xz
# Bump when the recipe below changes in a way that changes the output.
recipe=1

log() { echo "kernel: $*" >&2; }

[ -r "$src_tar" ] || { log "missing $src_tar (apt-get install $src_pkg)"; exit 1; }
src_ver=$(dpkg-query -W -f='${Version}' "$src_pkg")
key=$( { echo "recipe=$recipe"; echo "source=$src_pkg $src_ver"; cat "$fragment"; } | sha256sum | cut -c1-16)
out="$cache_root/kernel/$key"

if [ -s "$out/vmlinux" ]; then
  echo "$out/vmlinux"
  exit 0
fi

mkdir -p "$cache_root/kernel"
exec 9>"$cache_root/kernel/.lock"
flock 9
if [ -s "$out/vmlinux" ]; then echo "$out/vmlinux"; exit 0; fi

work=$(mktemp -d "$cache_root/kernel/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building $src_pkg $src_ver with $(basename "$fragment") (key $key); takes ~7 min on 2 cores"
tar -C "$work" -xJf "$src_tar"
cd "$work/$src_pkg"
make -s ARCH=x86_64 tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make -s ARCH=x86_64 olddefconfig >/dev/null

# Every option the fragment asks for must have survived dependency resolution.
missing=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*)
      grep -qxF "$line" .config || { log "option not applied: $line"; missing=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# }; opt=${opt%% *}
      if grep -q "^$opt=" .config; then log "option still set: $opt"; missing=1; fi ;;
  esac
done <"$fragment"
[ "$missing" = 0 ] || { log "fragment does not apply cleanly"; exit 1; }

make -s ARCH=x86_64 -j"${RUNVM_JOBS:-$(nproc)}" vmlinux >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2; exit 1; }
strip --strip-debug -o vmlinux.stripped vmlinux 2>/dev/null || cp vmlinux vmlinux.stripped
mkdir -p "$out.tmp"
cp vmlinux.stripped "$out.tmp/vmlinux"
cp .config "$out.tmp/config"
echo "$src_pkg $src_ver" >"$out.tmp/source"
rm -rf "$out"
mv "$out.tmp" "$out"
log "done: $out/vmlinux"
echo "$out/vmlinux"
