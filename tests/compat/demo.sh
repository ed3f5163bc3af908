#!/usr/bin/env bash
# The README's first command, as a new user runs it: `./setup.sh demo` installs runvm, registers it
# with Podman through a containers.conf.d drop-in and runs a real container in a microVM. Here it
# runs in a private mount namespace whose /etc/containers is a copy (with private storage), and
# installs under a temp prefix, so the machine's own Podman set-up is neither used nor touched.
# usage: demo.sh /path/to/runvm (in the build tree whose source tree has setup.sh)
source "$(dirname "$0")/lib.sh"
require_tools podman conmon unshare

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$(dirname "$RUNVM")/.." && pwd)
PROVE_VM=0  # the demo uses the installed runvm, not the wrapper: its output is checked instead

make_private_podman() {
  local etc=$T/etc-containers
  cp -a /etc/containers "$etc"
  rm -rf "$etc/containers.conf.d"
  mkdir -p "$T/tmp" "$T/net"
  cat >"$etc/storage.conf" <<EOT
[storage]
driver = "overlay"
graphroot = "$T/graph"
runroot = "$T/run"
EOT
  cat >"$etc/containers.conf" <<EOT
[engine]
tmp_dir = "$T/tmp"
volume_path = "$T/volumes"
events_logfile_path = "$T/events.log"
[network]
network_config_dir = "$T/net"
EOT
}

case_setup_sh_demo() {
  make_private_podman
  local out rc=0
  # The demo turns the warm pool on in /etc/runvm/runvm.toml: a private copy
  # here, so that this machine's other runs keep their own configuration.
  mkdir -p /etc/runvm "$T/etc-runvm"
  cp -a /etc/runvm/. "$T/etc-runvm/"
  # Everything, conmon, podman's cleanup and the pool's refill included, sees
  # the private /etc/containers and /etc/runvm. The pool unit the demo leaves
  # idle (refilled after its run claimed one) is drained in there too.
  out=$(unshare -m --propagation private bash -c '
      mount --bind "$1/etc-containers" /etc/containers &&
      mount --bind "$1/etc-runvm" /etc/runvm &&
      BUILD_DIR="$2" RUNVM_PREFIX="$1/prefix" "$3/setup.sh" demo &&
      echo "---- after the demo" &&
      "$1/prefix/bin/runvm" pool fill &&
      "$1/prefix/bin/runvm" pool status &&
      "$1/prefix/bin/runvm" pool drain' demo "$T" "$BUILD" "$SRC" \
    2>"$T/demo.err") || rc=$?
  echo "$out"
  expect_eq "$rc" 0 "setup.sh demo exit status (stderr: $(tail -n 5 "$T/demo.err"))"
  # Installed: binaries, guest kernel and initramfs, man pages.
  local f
  for f in bin/runvm bin/runvm-shim lib/runvm/vmlinux lib/runvm/initramfs.cpio share/man/man8/runvm.8; do
    [[ -e $T/prefix/$f ]] || { echo "FAIL not installed: $f"; return 1; }
  done
  # Registered with Podman, with the limit this host needs.
  local dropin=$T/etc-containers/containers.conf.d/50-runvm.conf
  expect_contains "$(cat "$dropin")" "runvm = [\"$T/prefix/bin/runvm\"]" "drop-in names runvm"
  if (($(ulimit -Hn) < 1048576)); then
    expect_contains "$(cat "$dropin")" "nofile=$(ulimit -Hn):$(ulimit -Hn)" "drop-in lowers nofile"
  fi
  # The container ran in its own VM: the guest's kernel, not the host's.
  expect_contains "$out" "guest kernel:  " "guest kernel line"
  local guest
  guest=$(awk '/^guest kernel:/ {print $3}' <<<"$out")
  [[ $guest == *-runvm, ]] || { echo "FAIL guest kernel [$guest] is not runvm's"; return 1; }
  [[ ${guest%,} != "$(uname -r)" ]] || { echo "FAIL guest kernel is the host's"; return 1; }
  expect_contains "$out" "guest booted:" "boot time line"
  expect_contains "$out" "podman --runtime runvm run" "next commands"
  # The demo filled the pool before its run, which claimed that unit.
  expect_contains "$out" "a VM of the warm pool" "the run claimed the pool's VM"
  # After it, a refill stands ready (status lists it), until drained.
  expect_contains "$(sed -n '/^---- after the demo/,$p' <<<"$out")" " idle " "a refilled unit"
  # Nothing left running: the container was --rm, the pool drained.
  ! pgrep -f "qemu-system.*$T" >/dev/null || { echo "FAIL a VM is still running"; return 1; }
}

run_cases
