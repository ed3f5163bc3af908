#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   ./setup.sh demo   install deps, build runvm (guest kernel included), install it, register it
#                     with Podman and run a real container in its own microVM
#   ./setup.sh test   same deps and build, then the whole test suite (unit, integration, compat,
#                     fuzz smoke); this is what CI runs
# Environment: RUNVM_CACHE (kernel cache, default /var/cache/runvm), BUILD_DIR (default ./build),
# RUNVM_PREFIX (demo's install prefix, default /usr/local),
# RUNVM_PODMAN_DROPIN (default /etc/containers/containers.conf.d/50-runvm.conf).
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
build=${BUILD_DIR:-$top/build}
mode=${1:-demo}

apt_packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libyajl-dev libseccomp-dev libcap-dev libarchive-dev libsystemd-dev libgtest-dev libtomlplusplus-dev
  libnl-3-dev libnl-route-3-dev
  qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils
  busybox-static golang-go
  podman conmon netavark aardvark-dns iptables containerd containernetworking-plugins umoci tmux catatonit
  runc debootstrap curl iperf3 dbus-daemon iproute2 python3
  python3-grpcio python3-grpc-tools python3-protobuf
)

step() { printf '== %s\n' "$*" >&2; }

install_deps() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# $@: the targets to build (none: everything, tests included).
build_all() {
  step "guest kernel (cached under ${RUNVM_CACHE:-/var/cache/runvm})"
  kernel=$(guest/kernel/build.sh)
  step "build ($build)"
  # Test-only hooks (runvm-shim's RUNVM_TEST_DEVICE_SYSCALL_FIFO) only in test builds.
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNVM_KERNEL="$kernel" \
    -DRUNVM_TEST_HOOKS="${test_hooks:-ON}" >/dev/null
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$build" -j"$(nproc)" "${targets[@]}"
}

build_fuzzers() {
  step "fuzz targets (clang, libFuzzer)"
  CC=clang CXX=clang++ cmake -S . -B "$build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNVM_FUZZ=ON \
    -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build-fuzz" -j"$(nproc)" --target fuzzers
}

# --- demo: install, register with Podman, run a container in a microVM ----------------------

# Podman reads every file in containers.conf.d after its defaults: runvm becomes a runtime by
# name, and what this kind of host needs comes with it.
register_with_podman() {
  local dropin=$1 runvm=$2 hard
  hard=$(ulimit -Hn)
  mkdir -p "$(dirname "$dropin")"
  {
    echo "# Written by runvm's setup.sh: runvm as a Podman runtime (podman --runtime runvm)."
    if [[ $hard != unlimited ]] && ((hard < 1048576)); then
      echo "[containers]"
      echo "# Podman's default nofile limit (1048576) is above this host's hard limit: every"
      echo "# runtime's setrlimit would fail."
      echo "default_ulimits = [\"nofile=$hard:$hard\"]"
    fi
    echo "[engine]"
    if [[ ! -d /run/systemd/system ]]; then
      echo "# No systemd on this host: cgroups through the filesystem, events to a file."
      echo 'cgroup_manager = "cgroupfs"'
      echo 'events_logger = "file"'
    fi
    if [[ ! -e /usr/lib/cni/bridge && -x /usr/lib/podman/netavark ]]; then
      echo "[network]"
      echo "# No CNI plugins here (setup.sh installs netavark): Podman would warn on every run."
      echo 'network_backend = "netavark"'
    fi
    echo "[engine.runtimes]"
    echo "runvm = [\"$runvm\"]"
  } >"$dropin.tmp"
  mv "$dropin.tmp" "$dropin"
}

# A busybox-static image, built here: no registry is needed.
import_demo_image() {
  local dir
  dir=$(mktemp -d)
  tests/images/busybox_rootfs.sh "$dir"
  tar -C "$dir" -c . | podman import -q --change 'CMD ["/bin/sh"]' - "$1" >/dev/null
  rm -rf "$dir"
}

# The warm pool (runvm-pool(8)) on in runvm.toml: one booted VM kept ready,
# claimed by the next create instead of a boot. An admin's own size stays.
enable_pool() {
  local conf=$1
  if grep -q '^\[pool\]' "$conf"; then
    sed -i 's/^# size = 0$/size = 1/' "$conf"
  else
    printf '\n[pool]\nsize = 1\n' >>"$conf"
  fi
}

demo() {
  local prefix=${RUNVM_PREFIX:-/usr/local}
  local dropin=${RUNVM_PODMAN_DROPIN:-/etc/containers/containers.conf.d/50-runvm.conf}
  local image=localhost/runvm-demo:latest
  step "install runvm under $prefix (binaries, guest kernel and initramfs, man pages)"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  step "register runvm with Podman ($dropin)"
  register_with_podman "$dropin" "$prefix/bin/runvm"
  step "turn the warm pool on (/etc/runvm/runvm.toml [pool] size = 1) and fill it"
  enable_pool /etc/runvm/runvm.toml
  "$prefix/bin/runvm" pool fill
  "$prefix/bin/runvm" pool status
  step "import $image (busybox, built locally)"
  import_demo_image "$image"
  step "podman --runtime runvm run --rm --network none $image"
  echo "host kernel:   $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
  local t0 t1
  t0=$(date +%s%N)
  # The kernel and uptime are printed from inside the container.
  local out uptime run_ms
  out=$(podman --runtime runvm run --rm --network none "$image" sh -c '
    echo "guest kernel:  $(uname -r), $(nproc) CPUs, $(awk "/MemTotal/ {print int(\$2/1024)}" /proc/meminfo) MiB: its own VM"
    echo "uptime $(cut -d" " -f1 /proc/uptime)"')
  t1=$(date +%s%N)
  run_ms=$(((t1 - t0) / 1000000))
  grep -v '^uptime ' <<<"$out"
  uptime=$(awk '/^uptime / {print $2}' <<<"$out")
  # A guest up for longer than the whole `podman run` booted before it: a
  # unit of the warm pool, claimed by create.
  if awk -v u="$uptime" -v r="$run_ms" 'BEGIN {exit !(u * 1000 > r)}'; then
    echo "guest booted:  $uptime s ago, before this podman run: a VM of the warm pool"
    echo "podman run took $run_ms ms on the host, no VM boot on its path (VM shutdown included)"
  else
    echo "guest booted:  $uptime s ago (its kernel started with this container)"
    echo "podman run took $run_ms ms on the host, VM boot and shutdown included"
  fi
  cat <<EOF

runvm is installed ($prefix/bin/runvm) and Podman knows it as "runvm". Try:
  podman --runtime runvm run --rm -it --network none $image sh     # a shell in a microVM
  podman --runtime runvm run -d --name web --network none $image sleep 1000; podman exec web uname -r
  $prefix/bin/runvm check                                             # boot time and agent round-trips
  $prefix/bin/runvm pool status                                       # the warm pool (man runvm-pool)
  man runvm
  ./setup.sh test                                                     # the whole test suite
EOF
}

install_deps

case "$mode" in
  demo)
    # Only what the demo runs: the tests are built by `./setup.sh test`.
    test_hooks=OFF build_all runvm runvm-shim runvm_guest_initramfs
    demo
    ;;
  test)
    build_all
    build_fuzzers
    step "fuzz smoke: each target ${FUZZ_SECONDS:-20}s"
    tests/fuzz/run_all.sh "$build-fuzz" "${FUZZ_SECONDS:-20}"
    # Last, so ctest's summary closes the output.
    step "unit and integration tests (integration tests boot real VMs)"
    # No retries: a flaky test is a bug to fix. The stress label (hundreds of
    # VM starts) is run on its own: ctest --test-dir build -L stress.
    RUNVM_REQUIRE_VM=1 ctest --test-dir "$build" --output-on-failure -j1 --timeout 600 \
      --no-tests=error -LE stress
    ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
