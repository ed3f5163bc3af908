#!/usr/bin/env bash
# Kubernetes through containerd's CRI: containerd starts with the CRI plugin
# enabled and the runtime configuration of docs/kubernetes (the file users
# copy, so the docs cannot rot), and the `runvm` handler must be registered
# with runvm as the runc v2 shim's binary. The RuntimeClass manifest must
# name that handler and carry an overhead. Then a pod runs through the CRI
# as the kubelet drives it: our own CRI v1 client (tests/compat/cri/,
# Python gRPC) against containerd's socket.
# usage: kubernetes.sh /path/to/runvm
source "$(dirname "$0")/lib.sh"
require_tools containerd ctr containerd-shim-runc-v2 umoci ip
# Debian's python3 with python3-grpcio and python3-grpc-tools (setup.sh), not
# whatever python3 comes first in PATH.
PY=/usr/bin/python3
if ! "$PY" -c 'import grpc, grpc_tools.protoc' 2>/dev/null; then
  [[ ${RUNVM_REQUIRE_VM:-0} == 1 ]] && { log "missing python3-grpcio/python3-grpc-tools"; exit 1; }
  log "SKIP: python3-grpcio or python3-grpc-tools is not installed"
  exit 77
fi
# The configuration cases run no container.
PROVE_VM=0

DOCS=$(cd "$(dirname "$0")/../../docs/kubernetes" && pwd)
CRI_DIR=$(cd "$(dirname "$0")/cri" && pwd)
make_wrapper
# runvm's state: the documented Root, moved into our private dir (the runc
# v2 shim passes --root <Root>/<namespace>, which wins over the wrapper's).
ROOT=$T/rr/k8s.io

# Pods get their network from CNI, as on a node: containerd's CRI makes the
# pod's network namespace, runs the plugins on it and creates the sandbox in
# it; the sandbox's VM takes that namespace over (tc mirred), so the pod
# has an address and its containers share the VM's loopback. A bridge of our
# own (name and subnet per run, IPAM state in $T), the distribution's
# plugins (containernetworking-plugins; the CRI adds `loopback` itself).
CNI_BIN=/usr/lib/cni
for p in bridge host-local loopback; do
  [[ -x $CNI_BIN/$p ]] && continue
  log "missing $CNI_BIN/$p (containernetworking-plugins)"
  [[ ${RUNVM_REQUIRE_VM:-0} == 1 ]] && exit 1
  exit 77
done
BRIDGE=rvk$$
SUBNET=10.$((100 + $$ % 100)).78
mkdir -p "$T/cni-conf"
cat >"$T/cni-conf/10-rvc.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "rvc", "plugins": [
 {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
  "ipam": {"type": "host-local", "subnet": "$SUBNET.0/24", "routes": [{"dst": "0.0.0.0/0"}],
           "dataDir": "$T/cni-ipam"}}]}
JSON
on_cleanup 'ip link del $BRIDGE 2>/dev/null'

# No registry: the sandbox ("pause") image is catatonit in pause mode and
# the containers' image busybox, both imported into the CRI's namespace.
make_busybox_rootfs "$T/rootfs" || exit 1
mkdir -p "$T/pause"
cp /usr/bin/catatonit "$T/pause/pause" || exit 1
add_oci_image busybox "$T/rootfs" --config.cmd sh || exit 1
add_oci_image pause "$T/pause" --config.entrypoint /pause --config.cmd -P || exit 1
tar -C "$T/oci" -cf "$T/images-oci.tar" . || exit 1
IMG=localhost/rvc:busybox
PAUSE=localhost/rvc:pause

# The documented runtime table, with BinaryName pointed at this build and
# Root at our dir, plus what a private instance needs (no fixed streaming
# port, our CNI configuration and pause image).
start_containerd < <(
  cat <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_port = "0"
  sandbox_image = "$PAUSE"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$T/cni-conf"
TOML
  grep -v '^version' "$DOCS/containerd-runvm.toml" |
    sed -e "s|^    BinaryName = .*|    BinaryName = \"$WRAPPER\"|" \
      -e "s|^    Root = .*|    Root = \"$T/rr\"|"
)
EXTRA_DIAGNOSTICS='echo "---- containerd log (last 30)"; tail -n 30 "$CD/containerd.log"
  for f in "$CD"/state/io.containerd.runtime.v2.task/k8s.io/*/log.json; do
    [[ -f $f ]] && { echo "---- runvm log.json $f"; tail -n 10 "$f"; }; done'
# What the CRI's runc v2 shims leave if a case fails (their sockets are in
# /run/containerd/s, shared with the machine's containerd).
on_cleanup 'pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -address $CD/sock" 2>/dev/null'
"${C[@]}" -n k8s.io image import --base-name localhost/rvc "$T/images-oci.tar" >/dev/null || exit 1

case_cri_plugin_is_up() {
  local line
  line=$("${C[@]}" plugins ls | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" {print $4}')
  expect_eq "$line" ok "CRI plugin status"
}

case_runvm_handler_is_registered() {
  # The CRI plugin logs the configuration it runs with once it starts.
  wait_for "Start cri plugin with config" cat "$CD/containerd.log"
  local cfg
  cfg=$(grep -o 'Start cri plugin with config .*' "$CD/containerd.log")
  expect_contains "$cfg" "runvm:{Type:io.containerd.runc.v2" "runvm handler in the CRI config"
  expect_contains "$cfg" "BinaryName:$WRAPPER" "BinaryName"
  expect_contains "$cfg" "PodAnnotations:[runvm.io/*]" "pod annotations pass through"
}

case_runtimeclass_manifest_matches() {
  local y=$DOCS/runtimeclass.yaml
  expect_contains "$(cat "$y")" "handler: runvm" "RuntimeClass handler"
  expect_contains "$(cat "$y")" "podFixed:" "RuntimeClass overhead"
  expect_contains "$(cat "$DOCS/containerd-runvm.toml")" "runtimes.runvm]" "same handler name in the CRI config"
}

# A pod of two containers in one VM through the CRI, as the kubelet drives
# it (what is checked: tests/compat/cri/cri_pod.py).
case_cri_pod_one_vm() {
  PROVE_VM=1
  mkdir -p "$T/pod-logs" "$T/gen"
  "$PY" "$CRI_DIR/cri_pod.py" --gen "$T/gen" --socket "$CD/sock" --handler runvm \
    --image "$IMG" --log-dir "$T/pod-logs" --match "$T" --runvm "$RUNVM" --state-root "$ROOT"
}

run_cases
