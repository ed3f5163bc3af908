#!/usr/bin/env bash
# A busybox-static root filesystem in DIR: /bin/busybox with a link per
# applet, and a passwd/group with root. Used where no registry is reachable
# (setup.sh's demo image, the compat suites' images).
# usage: busybox_rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root}
cp /bin/busybox "$dir/bin/busybox"
for a in $("$dir/bin/busybox" --list); do
  [[ $a == busybox ]] || ln -sf busybox "$dir/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"
