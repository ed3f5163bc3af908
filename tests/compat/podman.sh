#!/usr/bin/env bash
# Podman (Debian's 4.3, rootful) drives runvm as `--runtime`: every case
# here is a podman command a user types, checked against what runc gives.
# Podman runs with a private configuration (its own storage, the cgroupfs
# manager, netavark, nofile lowered to the machine's hard limit), so the
# machine's own Podman setup is neither used nor touched.
# usage: podman.sh /path/to/runvm
source "$(dirname "$0")/lib.sh"
require_tools podman conmon tmux script

make_wrapper
mkdir -p "$T/tmp" "$T/net" "$T/vol"
# conmon_env_vars: conmon runs `podman container cleanup` when a container
# exits, and that podman must read this same configuration.
cat >"$T/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
runtime = "runvm"
tmp_dir = "$T/tmp"
volume_path = "$T/volumes"
conmon_env_vars = ["PATH=$PATH", "CONTAINERS_CONF=$T/containers.conf", "CONTAINERS_STORAGE_CONF=$T/storage.conf"]
[engine.runtimes]
runvm = ["$WRAPPER"]
[network]
network_backend = "netavark"
network_config_dir = "$T/net"
EOF
cat >"$T/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$T/graph"
runroot = "$T/run"
EOF
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
# Podman leaves overlay mounts and netavark state; remove them first.
on_cleanup 'podman rm -af -t 0 >/dev/null 2>&1; podman system reset -f >/dev/null 2>&1'
EXTRA_DIAGNOSTICS='echo "---- podman ps -a"; podman ps -a 2>&1'

# The image: busybox-static, imported (no registry is reachable here).
make_busybox_rootfs "$T/rootfs"
tar -C "$T/rootfs" -cf "$T/busybox.tar" .
IMG=localhost/busybox:compat
podman import -q --change 'CMD ["/bin/sh"]' "$T/busybox.tar" "$IMG" >/dev/null || {
  log "podman import failed"
  exit 1
}

# A real Debian image with Node.js and Python (debootstrap, cached under RUNVM_CACHE).
DEB_TAR=$("$(dirname "$0")/../images/debian_image.sh" nodejs python3) || {
  log "building the Debian test image failed"
  exit 1
}
DEB=localhost/debian-node-python:compat
podman import -q --change 'CMD ["/bin/bash"]' "$DEB_TAR" "$DEB" >/dev/null || {
  log "podman import $DEB_TAR failed"
  exit 1
}

prun() { podman run --network none "$@"; }

case_run_rm_exit_code() {
  local out rc=0
  out=$(prun --rm "$IMG" sh -c 'echo out; uname -r; echo err >&2; exit 7' 2>"$T/err") || rc=$?
  expect_eq "$rc" 7 "exit code"
  expect_eq "${out%%$'\n'*}" out "stdout"
  # The guest's own kernel, not the host's.
  expect_contains "${out#*$'\n'}" "-runvm" "uname -r in the container"
  expect_eq "$(cat "$T/err")" err "stderr"
  expect_eq "$(podman ps -aq)" "" "--rm removed the container"
}

# Real programs print as under runc: Node's libuv only writes to stdout when
# it is a pipe, file or tty it knows (it once got an AF_VSOCK socket and
# dropped every byte); to a pipe, to a file, and from Python too.
case_real_programs_print() {
  local out rc=0
  out=$(prun --rm "$DEB" node -e 'console.log("hello from node " + process.version)') || rc=$?
  expect_eq "$rc" 0 "node exit status"
  expect_contains "$out" "hello from node v" "node's stdout (pipe)"
  # (Not followed by process.exit(): Node then cuts a pipe's output short under runc too.)
  out=$(prun --rm "$DEB" node -e 'process.stdout.write("x".repeat(1 << 20))' | wc -c)
  expect_eq "$out" 1048576 "node: 1 MiB written asynchronously, all of it arrives"
  out=$(prun --rm "$DEB" node -e 'console.error("to stderr"); process.exitCode = 3' 2>&1) || rc=$?
  expect_eq "$rc" 3 "node exitCode"
  expect_eq "$out" "to stderr" "node's stderr"
  rc=0
  out=$(prun --rm "$DEB" python3 -c 'import sys, platform; print("python", platform.release()); sys.exit(5)') || rc=$?
  expect_eq "$rc" 5 "python exit status"
  expect_contains "$out" "python " "python's stdout"
  expect_contains "$out" "-runvm" "python sees the guest kernel"
  prun --rm -v "$T/vol:/out" "$DEB" sh -c 'node -e "console.log(1)" > /out/node.txt'
  expect_eq "$(cat "$T/vol/node.txt")" 1 "node to a file in a volume"
}

case_detached_ps_logs_stop_rm() {
  prun -d --name d1 "$IMG" sh -c 'echo started; trap "echo got TERM; exit 143" TERM; while :; do sleep 0.1; done' >/dev/null
  wait_for started podman logs d1
  expect_contains "$(podman ps --format '{{.Names}} {{.Status}}')" "d1 Up" "podman ps"
  podman stop -t 10 d1 >/dev/null
  expect_eq "$(podman inspect d1 --format '{{.State.Status}} {{.State.ExitCode}}')" "exited 143" "SIGTERM honoured"
  expect_contains "$(podman logs d1)" "got TERM" "the trap ran"
  podman rm d1 >/dev/null
  expect_eq "$(podman ps -aq)" "" "rm"
}

case_stop_escalates_to_sigkill() {
  prun -d --name d2 "$IMG" sh -c 'trap "" TERM; echo ready; sleep 1000' >/dev/null
  wait_for ready podman logs d2
  local t0=$SECONDS
  podman stop -t 2 d2 >/dev/null 2>&1
  expect_eq "$(podman inspect d2 --format '{{.State.ExitCode}}')" 137 "SIGKILL after the timeout"
  ((SECONDS - t0 < 15)) || { echo "FAIL stop took $((SECONDS - t0)) s"; return 1; }
  podman rm d2 >/dev/null
}

case_exec() {
  prun -d --name e1 "$IMG" sleep 1000 >/dev/null
  local out rc=0
  out=$(podman exec e1 sh -c 'echo in exec; cat /proc/1/cmdline | tr "\0" " "; exit 4') || rc=$?
  expect_eq "$rc" 4 "exec exit code"
  expect_contains "$out" "in exec" "exec stdout"
  out=$(echo piped | podman exec -i e1 cat)
  expect_eq "$out" piped "exec -i stdin"
  podman rm -f -t 0 e1 >/dev/null
}

case_exec_it() {
  prun -d --name e2 "$IMG" sleep 1000 >/dev/null
  local out rc=0
  # script(1) gives podman a terminal, as a user's shell would.
  out=$(script -qec "stty rows 31 cols 97; podman exec -it e2 sh -c 'tty; stty size; exit 6'" \
    /dev/null </dev/null) || rc=$?
  expect_eq "$rc" 6 "exec -it exit code"
  expect_contains "$out" "/dev/pts/" "exec -it has a tty"
  expect_contains "$out" "31 97" "exec -it has the caller's terminal size"
  podman rm -f -t 0 e2 >/dev/null
}

# A real terminal (tmux): type, read the screen, resize, exit code.
case_run_it_under_tmux() {
  local tm="tmux -L rvc-$$"
  $tm new-session -d -s it -x 80 -y 24 \
    "podman run -it --rm --network none --name it1 $IMG sh; echo EXIT=\$?; sleep 60"
  on_exit_tmux() { $tm kill-server 2>/dev/null; }
  trap on_exit_tmux RETURN
  wait_for '/ #' $tm capture-pane -p -t it
  $tm send-keys -t it 'echo he""llo; stty size' Enter
  wait_for '24 80' $tm capture-pane -p -t it
  expect_contains "$($tm capture-pane -p -t it)" $'hello\n24 80' "typed command ran"
  $tm resize-window -t it -x 100 -y 30
  sleep 0.5
  $tm send-keys -t it 'stty size; exit 3' Enter
  wait_for 'EXIT=3' $tm capture-pane -p -t it
  expect_contains "$($tm capture-pane -p -t it)" "30 100" "resize reached the guest"
}

case_stdin_piped() {
  local out
  out=$(printf 'one\ntwo\n' | prun -i --rm "$IMG" sh -c 'cat; echo done')
  expect_eq "$out" $'one\ntwo\ndone' "stdin and EOF"
}

case_rootfs_dir() {
  local out
  out=$(prun --rm --rootfs "$T/rootfs" sh -c 'echo from rootfs; ls /bin/busybox')
  expect_eq "$out" $'from rootfs\n/bin/busybox' "--rootfs"
}

case_volumes_rw_and_ro() {
  echo host >"$T/vol/in"
  local out rc=0
  out=$(prun --rm -v "$T/vol:/data" "$IMG" sh -c 'cat /data/in; echo guest > /data/out')
  expect_eq "$out" host "host file visible"
  expect_eq "$(cat "$T/vol/out")" guest "guest write reaches the host"
  out=$(prun --rm -v "$T/vol:/data:ro" "$IMG" sh -c 'echo x > /data/ro' 2>&1) || rc=$?
  expect_eq "$rc" 1 ":ro write fails"
  expect_contains "$out" "Read-only file system" ":ro error"
  [[ ! -e $T/vol/ro ]] || { echo "FAIL :ro file appeared on the host"; return 1; }
}

case_network_none() {
  local out
  # Only loopback has an address, and it is up (the kernel's sit0 stays down).
  out=$(prun --rm "$IMG" sh -c 'ip -o -4 addr | awk "{print \$2, \$4}"; cat /sys/class/net/lo/operstate
    ls /sys/class/net | grep -vx -e lo -e sit0; true')
  expect_eq "$out" $'lo 127.0.0.1/8\nunknown' "only loopback, up, no other interface"
}

# --- Networking (issue 10): the VM takes over the namespace netavark made ---

# The host's own address (the default route's source), for -p from outside loopback.
host_address() {
  local a
  a=$(ip -4 -o route get 1.1.1.1 2>/dev/null | grep -o 'src [0-9.]*' | cut -d' ' -f2)
  [[ -n $a ]] || a=$(hostname -I | awk '{print $1}')
  echo "$a"
}
# Per run, so a second suite on the machine does not take the same port.
PORT=$((20000 + $$ % 20000))

# The default bridge: eth0 has the address Podman reports and reaches the
# gateway; `-p` publishes busybox httpd on 127.0.0.1 and the host's address.
case_bridge_address_gateway_and_published_port() {
  trap 'podman rm -f -t 0 web >/dev/null 2>&1' EXIT  # also when an expectation fails
  podman run -d --name web -p "$PORT:80" "$IMG" sh -c \
    'mkdir /www && echo hello-from-runvm > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
  local ip gw
  ip=$(podman inspect web --format '{{.NetworkSettings.IPAddress}}')
  gw=$(podman inspect web --format '{{.NetworkSettings.Gateway}}')
  [[ -n $ip && -n $gw ]] || { echo "FAIL podman inspect: address [$ip] gateway [$gw]"; return 1; }
  expect_contains "$(podman exec web ip -o -4 addr show dev eth0)" "inet $ip/" "eth0 has podman's address"
  expect_contains "$(podman exec web ip route)" "default via $gw dev eth0" "default route"
  expect_contains "$(podman exec web ping -c 1 -W 10 "$gw")" "1 packets received" "ping the gateway"
  wait_for hello-from-runvm curl -sS --max-time 5 "http://127.0.0.1:$PORT/"
  local host
  host=$(host_address)
  expect_eq "$(curl -sS --max-time 10 "http://$host:$PORT/")" hello-from-runvm "-p from $host"
}

# What Debian's /usr/share/containers/containers.conf gives every container
# (no NET_RAW, net.ipv4.ping_group_range "0 0"): ICMP datagram sockets, as
# iputils' ping uses. The sysctl reaches the guest kernel, so as under runc
# the ping works with it and is refused without it. (Debian's busybox 1.35
# ping knows raw sockets only, under runc too.)
ICMP_PY='
import socket, struct, sys
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
except OSError as e:
    print("socket:", e.strerror); sys.exit(1)
s.settimeout(10)
s.sendto(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"runvm", (sys.argv[1], 0))
data, peer = s.recvfrom(64)
print("echo reply" if data[0] == 0 else "type %d" % data[0], "from", peer[0])
'
case_ping_without_net_raw() {
  local gw out rc=0
  gw=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')
  out=$(podman run --rm --cap-drop NET_RAW --sysctl 'net.ipv4.ping_group_range=0 0' "$DEB" \
    python3 -c "$ICMP_PY" "$gw")
  expect_eq "$out" "echo reply from $gw" "ICMP echo with ping_group_range 0 0"
  out=$(podman run --rm --cap-drop NET_RAW "$DEB" python3 -c "$ICMP_PY" "$gw") || rc=$?
  expect_eq "$rc/$out" "1/socket: Permission denied" "without the sysctl (the kernel's default 1 0)"
}

# A user-defined dual-stack network: two containers reach each other by
# address and by name (aardvark-dns), over IPv4 and IPv6.
case_user_network_dual_stack_and_names() {
  local net=rvc$$
  trap "podman rm -f -t 0 peer >/dev/null 2>&1; podman network rm $net >/dev/null 2>&1" EXIT
  podman network create --ipv6 "$net" >/dev/null
  podman run -d --name peer --network "$net" "$IMG" sleep 1000 >/dev/null
  local f="{{(index .NetworkSettings.Networks \"$net\")"
  local ip4 ip6 gw6
  ip4=$(podman inspect peer --format "$f.IPAddress}}")
  ip6=$(podman inspect peer --format "$f.GlobalIPv6Address}}")
  gw6=$(podman inspect peer --format "$f.IPv6Gateway}}")
  [[ -n $ip4 && -n $ip6 && -n $gw6 ]] || { echo "FAIL inspect: [$ip4] [$ip6] [$gw6]"; return 1; }
  expect_contains "$(podman exec peer ip -o -6 addr show dev eth0 scope global)" "inet6 $ip6/" \
    "eth0 has podman's IPv6 address"
  expect_contains "$(podman exec peer ip -6 route)" "default via $gw6 dev eth0" "IPv6 default route"
  local out
  out=$(podman run --rm --network "$net" "$IMG" sh -c "
    ping -c 1 -W 10 $ip4 >/dev/null && echo ipv4
    ping -c 1 -W 10 $ip6 >/dev/null && echo ipv6
    ping -4 -c 1 -W 10 peer >/dev/null && echo name-ipv4
    ping -6 -c 1 -W 10 peer >/dev/null && echo name-ipv6
    ping -c 1 -W 10 $gw6 >/dev/null && echo gateway-ipv6")
  expect_eq "$out" $'ipv4\nipv6\nname-ipv4\nname-ipv6\ngateway-ipv6' "reached peer"
}

case_inspect_exit_code() {
  prun -d --name x1 "$IMG" sh -c 'exit 42' >/dev/null
  expect_eq "$(podman wait x1)" 42 "podman wait"
  expect_eq "$(podman inspect x1 --format '{{.State.ExitCode}}')" 42 "inspect ExitCode"
  podman rm x1 >/dev/null
}

# A command that is not in the image: exit 127 as under runc, and the
# error printed once, after Podman's "runvm: " (not "runvm: runvm: ").
case_missing_command_one_clear_line() {
  local rc=0
  # A failed create leaves nothing behind, its shim log included, so there
  # is no proof file; the other cases prove the VM.
  PROVE_VM=0
  prun --rm "$IMG" /nonexistent >/dev/null 2>"$T/err" || rc=$?
  expect_eq "$rc" 127 "exit code"
  expect_contains "$(cat "$T/err")" 'Error: runvm: create ' "one runvm prefix"
  expect_contains "$(cat "$T/err")" '"/nonexistent"' "names the command"
  if grep -q "runvm: runvm:" "$T/err"; then
    echo "doubled prefix: $(cat "$T/err")" >&2
    return 1
  fi
}

case_memory_and_cpus_accepted() {
  local out
  out=$(prun --rm --memory 256m --cpus 1 "$IMG" echo sized)
  expect_eq "$out" sized "--memory/--cpus"
}

# podman stats reads the container's host cgroup (the cgroupsPath runvm's
# shim and QEMU join), never the runtime: the VM's host memory, which grows
# with what the guest touches (a 56 MiB file in its /dev/shm here).
stats_mem_bytes() {  # "89.93MiB / 512MiB" -> 94297620
  podman stats --no-stream --format '{{.MemUsageBytes}}' "$1" | python3 -c '
import re, sys
v, u = re.match(r"([0-9.]+)\s*([A-Za-z]*)", sys.stdin.read().split("/")[0].strip()).groups()
print(int(float(v) * {"B": 1, "kB": 1e3, "KiB": 1024, "MB": 1e6, "MiB": 1 << 20,
                      "GB": 1e9, "GiB": 1 << 30}[u]))'
}
case_stats_show_the_vms_memory() {
  prun -d --name st --memory 512m "$IMG" sh -c 'while [ ! -e /tmp/go ]; do sleep 0.2; done
    dd if=/dev/zero of=/dev/shm/fill bs=1M count=56 2>/dev/null; echo filled >/tmp/done; sleep 600' >/dev/null
  local before after
  before=$(stats_mem_bytes st)
  expect_ge "$before" $((16 << 20)) "podman stats memory of the idle VM"
  podman exec st touch /tmp/go
  wait_for filled podman exec st cat /tmp/done
  after=$(stats_mem_bytes st)
  expect_ge "$after" $((before + (40 << 20))) "podman stats memory after the guest wrote 56 MiB"
  podman rm -f -t 0 st >/dev/null
}

# podman update (4.3: no --pids-limit) changes the running VM: the guest
# cgroup's cpu.max and the balloon's MemTotal; what cannot
# change live is one line naming the field, podman's exit status 125.
case_update_live() {
  prun -d --name up1 --memory 512m "$IMG" sleep 1000 >/dev/null
  podman update --cpus 1 --memory 300m up1 >/dev/null
  expect_eq "$(podman exec up1 sh -c 'cat /sys/fs/cgroup/cpu.max')" "100000 100000" "guest cpu.max"
  local total=999999
  for _ in $(seq 50); do
    total=$(podman exec up1 sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
    ((total <= 300 * 1024)) && break
    sleep 0.3
  done
  ((total <= 300 * 1024)) || { echo "FAIL MemTotal ${total} kB after update --memory 300m"; return 1; }
  local rc=0
  podman update --cpuset-mems 0 up1 2>"$T/err" || rc=$?
  expect_eq "$rc" 125 "podman update --cpuset-mems exit status"
  expect_contains "$(cat "$T/err")" "cpu.mems: cannot be changed on a running microVM" "the field named"
  podman rm -f -t 0 up1 >/dev/null
}

case_kill_signal_and_wait() {
  prun -d --name k1 "$IMG" sh -c 'trap "echo got USR1; exit 9" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
  wait_for ready podman logs k1
  podman kill -s USR1 k1 >/dev/null
  expect_eq "$(podman wait k1)" 9 "exit after USR1"
  expect_contains "$(podman logs k1)" "got USR1" "the USR1 trap ran"
  podman rm k1 >/dev/null
}

# --- Pods (issue 12): a Podman pod is one VM ---

# The infra container is the sandbox (libpod + catatonit -P); both members
# join its VM through /proc/<infra shim>/ns/{ipc,uts,net}: they share
# localhost and the hostname, run in ONE QEMU (same guest boot_id), and
# `podman pod rm -f` leaves no QEMU, shim, relay, mount or socket behind.
# QEMU processes of this suite (by name: a shim's cmdline names QEMU too).
qemu_count() {
  local p n=0
  for p in $(pgrep qemu-system); do grep -qF "$T/" "/proc/$p/cmdline" 2>/dev/null && n=$((n + 1)); done
  echo $n
}
case_pod_members_share_one_vm() {
  local pod=rvcpod$$
  trap "podman pod rm -f -t 0 $pod >/dev/null 2>&1" EXIT
  podman pod create --name "$pod" >/dev/null
  podman run -d --pod "$pod" --name "$pod-web" "$IMG" sh -c \
    "mkdir /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 127.0.0.1:$PORT -h /www" >/dev/null
  podman run -d --pod "$pod" --name "$pod-cli" "$IMG" sleep 1000 >/dev/null
  local infra
  infra=$(podman pod inspect "$pod" --format '{{.InfraContainerID}}')
  [[ -n $infra ]] || { echo "FAIL no infra container"; return 1; }
  expect_eq "$(grep -c . "$T/proof/created")" 3 "infra and two members created through runvm"
  [[ -d $ROOT/$infra/pod ]] || { echo "FAIL the infra container is no pod sandbox (no $ROOT/$infra/pod)"; return 1; }
  wait_for hello-from-pod podman exec "$pod-cli" wget -qO- "http://127.0.0.1:$PORT/"
  local h1 h2 b1 b2
  h1=$(podman exec "$pod-web" hostname)
  h2=$(podman exec "$pod-cli" hostname)
  expect_eq "$h2" "$h1" "one hostname"
  b1=$(podman exec "$pod-web" cat /proc/sys/kernel/random/boot_id)
  b2=$(podman exec "$pod-cli" cat /proc/sys/kernel/random/boot_id)
  expect_eq "$b2" "$b1" "one guest kernel (boot_id)"
  [[ $b1 != "$(cat /proc/sys/kernel/random/boot_id)" ]] || { echo "FAIL boot_id is the host's"; return 1; }
  expect_eq "$(qemu_count)" 1 "one QEMU for the pod"
  local pids p
  pids="$(podman inspect "$pod-web" "$pod-cli" --format '{{.State.Pid}}')"
  podman pod rm -f -t 0 "$pod" >/dev/null
  for p in $pids; do
    [[ ! -e /proc/$p ]] || { echo "FAIL member relay $p still runs: $(tr '\0' ' ' </proc/$p/cmdline)"; return 1; }
  done
  expect_eq "$(pgrep -f "qemu-system.*$T|runvm-shim .*$T|$ROOT" | grep -vx $$)" "" "no QEMU, shim or relay left"
  expect_eq "$("$RUNVM" --root "$ROOT" list -q)" "" "no runvm container left"
  expect_eq "$(awk -v r="$ROOT/" 'index($2, r) == 1' /proc/self/mounts)" "" "no mount left under --root"
  expect_eq "$(find "$ROOT" -type s 2>/dev/null)" "" "no socket left under --root"
}

# `podman pod stop` then `podman pod start`: the infra container gets a new
# VM and the members join it again (still one QEMU, one boot_id).
case_pod_stop_start() {
  local pod=rvcpss$$
  trap "podman pod rm -f -t 0 $pod >/dev/null 2>&1" EXIT
  podman pod create --name "$pod" >/dev/null
  podman run -d --pod "$pod" --name "$pod-a" "$IMG" sleep 1000 >/dev/null
  podman run -d --pod "$pod" --name "$pod-b" "$IMG" sleep 1000 >/dev/null
  local before
  before=$(podman exec "$pod-a" cat /proc/sys/kernel/random/boot_id)
  podman pod stop -t 0 "$pod" >/dev/null
  expect_eq "$(qemu_count)" 0 "no QEMU once the pod stopped"
  podman pod start "$pod" >/dev/null
  local a b
  a=$(podman exec "$pod-a" cat /proc/sys/kernel/random/boot_id)
  b=$(podman exec "$pod-b" cat /proc/sys/kernel/random/boot_id)
  expect_eq "$b" "$a" "one guest kernel after the restart"
  [[ $a != "$before" ]] || { echo "FAIL the same VM after pod stop/start"; return 1; }
  expect_eq "$(qemu_count)" 1 "one QEMU for the restarted pod"
  podman pod rm -f -t 0 "$pod" >/dev/null
  expect_eq "$(qemu_count)" 0 "no QEMU after pod rm"
}

# A pod whose infra runs another image (and command) is one VM too; a member
# is PID 1 of its own namespace (Podman shares no pid namespace by default)
# or shares the infra's with --share pid; `podman pause` of a member freezes
# it alone, `pod pause`/`unpause` all of them.
case_pod_custom_infra_pause() {
  local pod=rvcpci$$
  trap "podman pod rm -f -t 0 $pod >/dev/null 2>&1" EXIT
  # --infra-command takes one word (no arguments): an image whose command sleeps.
  podman import -q --change 'CMD ["sleep","100000"]' "$T/busybox.tar" localhost/infra:compat >/dev/null
  podman pod create --name "$pod" --infra-image localhost/infra:compat >/dev/null
  podman run -d --pod "$pod" --name "$pod-a" "$IMG" sh -c 'while :; do date +%s%N >/tmp/tick; sleep 0.2; done' >/dev/null
  podman run -d --pod "$pod" --name "$pod-b" "$IMG" sleep 1000 >/dev/null
  local infra
  infra=$(podman pod inspect "$pod" --format '{{.InfraContainerID}}')
  [[ -d $ROOT/$infra/pod ]] || { echo "FAIL the custom infra container is no pod sandbox"; return 1; }
  expect_eq "$(qemu_count)" 1 "one QEMU for the pod"
  expect_eq "$(podman exec "$pod-b" cat /proc/1/comm)" sleep "a member's PID 1 is its own process"
  expect_eq "$(podman exec "$pod-b" sh -c 'cat /proc/[0-9]*/comm' | grep -c sleep)" 1 "a member sees only its processes"
  podman pause "$pod-a" >/dev/null
  expect_eq "$(podman inspect "$pod-a" --format '{{.State.Status}}')" paused "member paused"
  expect_eq "$(podman inspect "$pod-b" --format '{{.State.Status}}')" running "other member running"
  local t1 t2
  t1=$(tr -d '\n' <"$(podman inspect "$pod-a" --format '{{.GraphDriver.Data.MergedDir}}')/tmp/tick")
  sleep 2
  t2=$(tr -d '\n' <"$(podman inspect "$pod-a" --format '{{.GraphDriver.Data.MergedDir}}')/tmp/tick")
  expect_eq "$t2" "$t1" "a paused member does not run"
  podman unpause "$pod-a" >/dev/null
  wait_for running podman inspect "$pod-a" --format '{{.State.Status}}'
  podman pod pause "$pod" >/dev/null
  expect_eq "$(podman pod inspect "$pod" --format '{{.State}}')" Paused "pod paused"
  podman pod unpause "$pod" >/dev/null
  expect_eq "$(podman pod inspect "$pod" --format '{{.State}}')" Running "pod running again"
  t1=$(podman exec "$pod-a" cat /tmp/tick)
  sleep 2
  t2=$(podman exec "$pod-a" cat /tmp/tick)
  [[ $t2 != "$t1" ]] || { echo "FAIL the member does not run after pod unpause"; return 1; }
  podman pod rm -f -t 0 "$pod" >/dev/null
  expect_eq "$(qemu_count)" 0 "no QEMU after pod rm"
  # --share pid: the members join the infra's (/proc/<infra pid>/ns/pid).
  podman pod create --name "$pod" --share pid,net,ipc,uts >/dev/null
  podman run -d --pod "$pod" --name "$pod-c" "$IMG" sleep 1000 >/dev/null
  [[ $(podman exec "$pod-c" cat /proc/1/comm) != sleep ]] || { echo "FAIL a member sharing the infra's pid namespace is PID 1"; return 1; }
  expect_contains "$(podman exec "$pod-c" sh -c 'cat /proc/[0-9]*/comm')" catatonit "the infra's process in view"
  podman pod rm -f -t 0 "$pod" >/dev/null
}

run_cases
