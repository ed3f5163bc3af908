#!/usr/bin/env bash
# A real Debian 12 root filesystem with some packages (nodejs, python3, ...), made by debootstrap
# from the machine's own apt mirror and cached as a tarball, so tests and benchmarks run real
# programs instead of busybox alone. Prints the tarball's path.
# usage: debian_image.sh PACKAGE...      (e.g. debian_image.sh nodejs python3)
# Env: RUNVM_CACHE (default /var/cache/runvm): images live in $RUNVM_CACHE/images/<key>.tar.
set -euo pipefail
(($#)) || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
cache=${RUNVM_CACHE:-/var/cache/runvm}/images
# Bump when the recipe changes.
recipe=1
packages=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
key=$(printf 'recipe=%s packages=%s\n' "$recipe" "$packages" | sha256sum | cut -c1-16)
out=$cache/debian-$key.tar
if [[ -s $out ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
[[ -s $out ]] && { echo "$out"; exit 0; }
# The first deb URI the machine's apt uses: the one mirror this machine reaches.
mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
dir=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "image: debootstrap bookworm + $packages from $mirror (once; cached as $out)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$dir/root" "$mirror" >"$dir/log" 2>&1 ||
  { tail -n 20 "$dir/log" >&2; exit 1; }
rm -rf "$dir/root/var/cache/apt/archives"/*.deb "$dir/root/var/lib/apt/lists"/*
tar --numeric-owner -C "$dir/root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
