#!/usr/bin/env bash
# Network benchmark, side by side in one run: a container on a Podman bridge
# network under runvm against the same under runc (the reference), the host
# being the other end:
#   net_h2c_<rt>_mbit_s   iperf3 TCP, host sends, the container receives (SECS s)
#   net_c2h_<rt>_mbit_s   iperf3 TCP -R, the container sends, the host receives
#   net_rr_<rt>_us        TCP request/response, 1 byte each way, TCP_NODELAY:
#                         median round trip over RR_COUNT exchanges
#   net_*_runvm_vs_runc   ratios (throughput: runvm/runc, higher is better;
#                         latency: runvm/runc, lower is better)
# For runvm it also prints where the CPU time went during each transfer:
# QEMU's threads (TCG vCPU = the guest; the main loop = virtio-net and the
# tap) in user and system time, and iperf3's own CPU figures (the guest's
# iperf3 as "remote").
# Usage: bench/net.sh [SECS] [RR_COUNT] (default 5, 2000). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${BUILD_DIR:-build}
secs=${1:-5}
rr_count=${2:-2000}
runvm=$(readlink -f "$build/runtime/runvm")
[ -x "$runvm" ] || { echo "bench: missing $runvm (run ./setup.sh demo first)" >&2; exit 1; }
for t in podman runc iperf3 python3; do
  command -v $t >/dev/null || { echo "bench: needs $t (setup.sh installs it)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/rvb-net.XXXX)
net=rvbnet$$

# Podman with a private configuration (storage, networks, runtimes), as
# tests/compat/podman.sh: the machine's own Podman is neither used nor touched.
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/events.log"
tmp_dir = "$tmp/tmp"
conmon_env_vars = ["PATH=$PATH", "CONTAINERS_CONF=$tmp/containers.conf", "CONTAINERS_STORAGE_CONF=$tmp/storage.conf"]
[engine.runtimes]
runvm = ["$runvm"]
[network]
network_backend = "netavark"
network_config_dir = "$tmp/net"
EOF
cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$tmp/graph"
runroot = "$tmp/run"
EOF
mkdir -p "$tmp/tmp" "$tmp/net"
export CONTAINERS_CONF=$tmp/containers.conf CONTAINERS_STORAGE_CONF=$tmp/storage.conf
cleanup() {
  podman rm -af -t 0 >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  awk -v t="$tmp/" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Debian with iperf3 and python3 (debootstrap once, cached).
image_tar=$("$src/tests/images/debian_image.sh" iperf3 python3)
img=localhost/debian-iperf3:bench
podman import -q --change 'CMD ["/bin/bash"]' "$image_tar" "$img" >/dev/null
podman network create "$net" >/dev/null

# The request/response server: echoes each read back at once.
rr_server='
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 5202))
s.listen(4)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d:
            break
        c.sendall(d)
    c.close()
'
# The client: median round trip in microseconds after a warm-up.
rr_client='
import socket, sys, time
host, n = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((host, 5202), timeout=10)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
times = []
for i in range(n + 100):
    t0 = time.perf_counter_ns()
    c.sendall(b"x")
    if c.recv(1) != b"x":
        sys.exit("bad reply")
    if i >= 100:
        times.append(time.perf_counter_ns() - t0)
times.sort()
print("%.1f" % (times[len(times) // 2] / 1000))
'

# QEMU's threads' CPU ticks (user, system): its main loop (the thread whose
# id is the pid: virtio-net's queues and the tap's reads and writes) and the
# others by id (under TCG the busiest is the vCPU, i.e. the guest).
thread_ticks() {
  local t name
  for t in /proc/"$1"/task/*; do
    name="thread ${t##*/}"
    [ "${t##*/}" = "$1" ] && name="main loop"
    printf '%s\t%s\n' "$name" "$(awk '{sub(/.*\) /, ""); print $12, $13}' "$t/stat")"
  done 2>/dev/null | sort
}
# Seconds of user/system time per thread name between two thread_ticks outputs.
ticks_diff() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -F'\t' -v hz="$hz" -v what="$3" '
    FNR == NR { split($2, a, " "); u0[$1] += a[1]; s0[$1] += a[2]; next }
    { split($2, a, " "); u[$1] += a[1]; s[$1] += a[2] }
    END { for (k in u) if (u[k] - u0[k] + s[k] - s0[k] > 0)
            printf "CPU %s qemu %s: user %.2f s, system %.2f s\n", what, k,
                   (u[k] - u0[k]) / hz, (s[k] - s0[k]) / hz }' "$1" "$2" | sort
}

iperf() {  # rt ip direction(h2c|c2h) qemu_pid
  local flags=() json before after
  [ "$3" = c2h ] && flags=(-R)
  [ -n "$4" ] && thread_ticks "$4" >"$tmp/before"
  json=$(iperf3 -c "$2" -t "$secs" -J "${flags[@]}")
  if [ -n "$4" ]; then
    thread_ticks "$4" >"$tmp/after"
    ticks_diff "$tmp/before" "$tmp/after" "$3" >&2
  fi
  python3 -c '
import json, sys
j = json.loads(sys.argv[1])
if "error" in j:
    sys.exit("iperf3: " + j["error"])
c = j["end"]["cpu_utilization_percent"]
print("%.1f" % (j["end"]["sum_received"]["bits_per_second"] / 1e6))
print("CPU %s iperf3: host %.0f%%, container %.0f%%" % (sys.argv[2], c["host_total"], c["remote_total"]),
      file=sys.stderr)' "$json" "$3"
}

for rt in runvm runc; do
  podman run -d --name "srv-$rt" --runtime "$rt" --network "$net" "$img" \
    sh -c "iperf3 -s -D && exec python3 -c '$rr_server'" >/dev/null
  ip=$(podman inspect "srv-$rt" --format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}")
  for i in $(seq 200); do
    timeout 1 bash -c "</dev/tcp/$ip/5201 && </dev/tcp/$ip/5202" 2>/dev/null && break
    [ "$i" = 200 ] && { echo "bench: $rt: servers at $ip did not come up" >&2; exit 1; }
    sleep 0.1
  done
  qemu=
  # QEMU itself (argv[0]), not the shim whose arguments name it too.
  [ "$rt" = runvm ] &&
    qemu=$(pgrep -f "^[^ ]*/qemu-system-[^ ]* .*$(podman inspect "srv-$rt" --format '{{.Id}}')" | head -n 1)
  for dir in h2c c2h; do
    v=$(iperf "$rt" "$ip" "$dir" "$qemu" 2> >(sed "s/^CPU /CPU $rt /" >&2))
    echo "$v" >"$tmp/$rt.$dir"
    echo "METRIC net_${dir}_${rt}_mbit_s $v Mbit/s"
  done
  v=$(python3 -c "$rr_client" "$ip" "$rr_count")
  echo "$v" >"$tmp/$rt.rr"
  echo "METRIC net_rr_${rt}_us $v us"
  podman rm -f -t 0 "srv-$rt" >/dev/null
done
ratio() { awk -v a="$(cat "$tmp/runvm.$1")" -v b="$(cat "$tmp/runc.$1")" 'BEGIN {printf "%.3f", a / b}'; }
echo "METRIC net_h2c_runvm_vs_runc $(ratio h2c) ratio"
echo "METRIC net_c2h_runvm_vs_runc $(ratio c2h) ratio"
echo "METRIC net_rr_runvm_vs_runc $(ratio rr) ratio"
