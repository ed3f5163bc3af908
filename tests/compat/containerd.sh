#!/usr/bin/env bash
# containerd (Debian's 1.6) drives runvm through its runc v2 shim
# (containerd-shim-runc-v2) with runvm as the runc binary, as
# `ctr run --runc-binary` and a runtime's options.BinaryName do.
# A private containerd (root, state and sockets under a temp dir) runs for
# the suite; what it still puts in /run/containerd/{s,fifo} is removed.
# usage: containerd.sh /path/to/runvm
source "$(dirname "$0")/lib.sh"
require_tools containerd ctr containerd-shim-runc-v2 umoci script

make_wrapper
NS=rvc$$
# The runc shim passes --root /run/containerd/runc/<namespace> (overriding
# the wrapper's): that is where runvm keeps these containers.
ROOT=/run/containerd/runc/$NS
touch "$T/stamp"
start_containerd 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' </dev/null
C+=(-n "$NS")
on_cleanup 'for t in $("${C[@]}" task ls -q 2>/dev/null); do "${C[@]}" task kill -s KILL $t; "${C[@]}" task delete -f $t; done >/dev/null 2>&1
  for c in $("${C[@]}" c ls -q 2>/dev/null); do "${C[@]}" c delete $c; done >/dev/null 2>&1
  pkill -KILL -f "containerd-shim-runc-v2 -namespace $NS " 2>/dev/null
  find /run/containerd/s /run/containerd/fifo -mindepth 1 -newer "$T/stamp" -delete 2>/dev/null'
EXTRA_DIAGNOSTICS='echo "---- containerd log (last 20)"; tail -n 20 "$CD/containerd.log"
  for f in "$CD"/state/io.containerd.runtime.v2.task/"$NS"/*/log.json; do
    [[ -f $f ]] && { echo "---- runvm log.json $f"; tail -n 10 "$f"; }; done'

# The image: busybox-static in an OCI archive made with umoci.
make_busybox_rootfs "$T/rootfs"
add_oci_image busybox "$T/rootfs" --config.cmd sh || exit 1
tar -C "$T/oci" -cf "$T/busybox-oci.tar" . || exit 1
"${C[@]}" image import --base-name localhost/busybox "$T/busybox-oci.tar" >/dev/null || exit 1
IMG=localhost/busybox:busybox

crun() { "${C[@]}" run --runc-binary "$WRAPPER" "$@"; }
task_status() { "${C[@]}" task ls | awk -v id="$1" '$1 == id {print $3}'; }

case_run_exit_status() {
  local out rc=0
  out=$(crun --rm "$IMG" r1 sh -c 'echo out; uname -r; echo err >&2; exit 3' 2>"$T/err") || rc=$?
  expect_eq "$rc" 3 "exit status"
  expect_eq "${out%%$'\n'*}" out "stdout"
  # The guest's own kernel, not the host's.
  expect_contains "${out#*$'\n'}" "-runvm" "uname -r in the container"
  expect_eq "$(cat "$T/err")" err "stderr"
}

case_run_tty() {
  local out rc=0
  # ctr resizes the console right after the start, racing the exit: the
  # shim once blocked there for good. (Whether the size lands before
  # `stty` runs is that race, so it is not checked.)
  out=$(script -qec "stty rows 29 cols 91; ${C[*]} run -t --rm --runc-binary $WRAPPER $IMG r2 sh -c 'tty; exit 4'" \
    /dev/null </dev/null) || rc=$?
  expect_eq "$rc" 4 "-t exit status"
  expect_contains "$out" "/dev/pts/" "-t has a tty"
}

case_detached_exec_ps_pause_kill_delete() {
  crun -d "$IMG" d1 sh -c 'trap "exit 143" TERM; echo ready > /tmp/r; while :; do sleep 0.1; done' >/dev/null
  wait_for RUNNING task_status d1
  local out rc=0
  out=$("${C[@]}" task exec --exec-id e1 d1 sh -c 'cat /tmp/r; exit 5') || rc=$?
  expect_eq "$rc" 5 "exec exit status"
  expect_eq "$out" ready "exec sees the container's files"
  rc=0
  # (ctr sends the terminal's size only after the start: not checked here.)
  out=$(script -qec "${C[*]} task exec -t --exec-id e2 d1 sh -c 'tty; exit 6'" /dev/null </dev/null) || rc=$?
  expect_eq "$rc" 6 "exec -t exit status"
  expect_contains "$out" "/dev/pts/" "exec -t has a tty"
  local pid
  pid=$("${C[@]}" task ls | awk '$1 == "d1" {print $2}')
  expect_contains "$("${C[@]}" task ps d1)" "$pid" "task ps lists the container pid"
  "${C[@]}" task pause d1
  expect_eq "$(task_status d1)" PAUSED "pause"
  "${C[@]}" task resume d1
  expect_eq "$(task_status d1)" RUNNING "resume"
  expect_contains "$("${C[@]}" task metrics d1)" "memory.usage_in_bytes" "task metrics"
  "${C[@]}" task kill d1
  wait_for STOPPED task_status d1
  "${C[@]}" task delete d1 >/dev/null 2>&1 || true  # prints the exit status
  "${C[@]}" container delete d1
  expect_eq "$("${C[@]}" c ls -q)" "" "container deleted"
}

# containerd's runc shim reads the host cgroup of the task's pid (the
# runvm-shim, which QEMU shares: the cgroupsPath ctr sets), never the
# runtime: its metrics are the VM's host memory, which grows with what the
# guest touches. A 56 MiB file in the container's /dev/shm (64 MiB) must
# show there.
metrics_usage() {
  "${C[@]}" task metrics "$1" | awk '$1 == "memory.usage_in_bytes" {print $2}'
}
case_task_metrics_follow_the_guest() {
  crun -d "$IMG" m1 sh -c 'while [ ! -e /tmp/go ]; do sleep 0.2; done
    dd if=/dev/zero of=/dev/shm/fill bs=1M count=56 2>/dev/null; echo filled > /tmp/done; sleep 600' >/dev/null
  wait_for RUNNING task_status m1
  local before after
  before=$(metrics_usage m1)
  expect_ge "$before" $((16 << 20)) "task metrics memory.usage_in_bytes of the idle VM"
  "${C[@]}" task exec --exec-id go m1 touch /tmp/go
  wait_for filled "${C[@]}" task exec --exec-id done m1 cat /tmp/done
  after=$(metrics_usage m1)
  expect_ge "$after" $((before + (40 << 20))) "memory.usage_in_bytes after the guest wrote 56 MiB"
  "${C[@]}" task kill -s SIGKILL m1
  wait_for STOPPED task_status m1
  "${C[@]}" task delete m1 >/dev/null 2>&1 || true
  "${C[@]}" container delete m1
}

case_kill_sigkill() {
  crun -d "$IMG" k1 sh -c 'trap "" TERM; sleep 1000' >/dev/null
  wait_for RUNNING task_status k1
  "${C[@]}" task kill -s SIGKILL k1
  wait_for STOPPED task_status k1
  "${C[@]}" task delete k1 >/dev/null 2>&1 || true
  "${C[@]}" container delete k1
}

# The CNI bridge plugin (containernetworking-plugins) gives the container
# its network, as containerd's CRI does for a pod: a named namespace, the
# plugin run on it with a configuration of our own (bridge and IPAM state
# private to this run), and the container started in that namespace.
# (`ctr run --cni` is not this: it runs CNI on the task's pid after create,
# when the VM's network is already fixed; see runvm(8) NETWORK.)
CNI_BIN=/usr/lib/cni
cni() {  # command netns: runs the bridge plugin as libcni would
  CNI_COMMAND=$1 CNI_CONTAINERID=$NS CNI_NETNS=$2 CNI_IFNAME=eth0 CNI_PATH=$CNI_BIN \
    "$CNI_BIN/bridge" <"$T/cni.json"
}
case_cni_bridge_address_and_gateway() {
  [[ -x $CNI_BIN/bridge ]] || { echo "FAIL $CNI_BIN/bridge missing (containernetworking-plugins)"; return 1; }
  local br=rvc$$ netns=rvc$$ subnet=10.$((100 + $$ % 100)).77
  cat >"$T/cni.json" <<EOF
{"cniVersion": "0.4.0", "name": "$br", "type": "bridge", "bridge": "$br", "isGateway": true,
 "ipMasq": false, "ipam": {"type": "host-local", "subnet": "$subnet.0/24",
 "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$T/cni-ipam"}}
EOF
  ip netns add "$netns"
  trap "cni DEL /run/netns/$netns >/dev/null 2>&1; ip netns del $netns; ip link del $br 2>/dev/null" EXIT
  local result ip
  result=$(cni ADD "/run/netns/$netns")
  ip=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["ips"][0]["address"])' <<<"$result")
  expect_contains "$ip" "$subnet." "the plugin's address"
  local out
  out=$(crun --rm --with-ns "network:/run/netns/$netns" "$IMG" n1 sh -c \
    "ip -o -4 addr show dev eth0; ip route; ping -c 1 -W 10 $subnet.1 >/dev/null && echo gateway-ok")
  expect_contains "$out" "inet $ip" "eth0 has the plugin's address"
  expect_contains "$out" "default via $subnet.1 dev eth0" "default route"
  expect_contains "$out" gateway-ok "ping the bridge"
}

run_cases
