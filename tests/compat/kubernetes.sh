#!/usr/bin/env bash
# Kubernetes through containerd's CRI: containerd starts with the CRI plugin
# enabled and the runtime configuration of docs/kubernetes (the file users
# copy, so the docs cannot rot), and the `runvm` handler must be registered
# with runvm as the runc v2 shim's binary. The RuntimeClass manifest must
# name that handler and carry an overhead.
# usage: kubernetes.sh /path/to/runvm
source "$(dirname "$0")/lib.sh"
require_tools containerd ctr containerd-shim-runc-v2
# These cases check configuration; no container runs (pods are future work).
PROVE_VM=0

DOCS=$(cd "$(dirname "$0")/../../docs/kubernetes" && pwd)
make_wrapper
mkdir -p "$T/cni-conf" "$T/cni-bin"
# The documented runtime table, with BinaryName pointed at this build, plus
# what a private instance needs (no fixed streaming port, empty CNI dirs).
start_containerd < <(
  cat <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$T/cni-bin"
    conf_dir = "$T/cni-conf"
EOF
  grep -v '^version' "$DOCS/containerd-runvm.toml" |
    sed "s|^    BinaryName = .*|    BinaryName = \"$WRAPPER\"|"
)
EXTRA_DIAGNOSTICS='echo "---- containerd log (last 20)"; tail -n 20 "$CD/containerd.log"'

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

run_cases
