#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   ./setup.sh demo   install deps, build everything (guest kernel included), run `runvm check`
#   ./setup.sh test   same set-up, then the whole test suite (unit, integration, fuzz smoke)
# Environment: RUNVM_CACHE (kernel cache, default /var/cache/runvm), BUILD_DIR (default ./build).
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
build=${BUILD_DIR:-$top/build}
mode=${1:-demo}

apt_packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libyajl-dev libseccomp-dev libcap-dev libarchive-dev libsystemd-dev libgtest-dev
  qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils
  busybox-static golang-go
  podman conmon netavark aardvark-dns containerd umoci tmux
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

build_all() {
  step "guest kernel (cached under ${RUNVM_CACHE:-/var/cache/runvm})"
  kernel=$(guest/kernel/build.sh)
  step "build ($build)"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNVM_KERNEL="$kernel" >/dev/null
  cmake --build "$build" -j"$(nproc)"
}

build_fuzzers() {
  step "fuzz targets (clang, libFuzzer)"
  CC=clang CXX=clang++ cmake -S . -B "$build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNVM_FUZZ=ON \
    -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build-fuzz" -j"$(nproc)" --target fuzzers
}

install_deps
build_all

case "$mode" in
  demo)
    step "runvm check: boot a microVM and talk to its agent"
    "$build/runtime/runvm" check
    ;;
  test)
    build_fuzzers
    step "fuzz smoke: each target ${FUZZ_SECONDS:-20}s"
    tests/fuzz/run_all.sh "$build-fuzz" "${FUZZ_SECONDS:-20}"
    # Last, so ctest's summary closes the output.
    step "unit and integration tests (integration tests boot real VMs)"
    # A test that fails is run once more and reported either way: real VMs
    # under TCG on a shared 2-core machine have shown rare timing flakes.
    RUNVM_REQUIRE_VM=1 ctest --test-dir "$build" --output-on-failure -j1 --timeout 600 \
      --repeat until-pass:2
    ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
