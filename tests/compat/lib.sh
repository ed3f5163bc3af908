# Shared by the compatibility suites (podman.sh, containerd.sh,
# kubernetes.sh): a private work dir, a runvm wrapper with its own --root,
# a busybox image, named cases with diagnostics on failure, and cleanup that
# runs even when a case or the suite fails.
#
# A suite sources this, defines case_* functions, and ends with run_cases.
# Exit status: 0 all passed, 1 some failed, 77 (ctest: skipped) when a tool
# is missing and RUNVM_REQUIRE_VM is not set.

set -uo pipefail

RUNVM=${1:?usage: $0 /path/to/runvm}
RUNVM=$(readlink -f "$RUNVM")
SUITE=$(basename "$0" .sh)
# Short on purpose: sockets live under it (sun_path is 108 bytes).
T=$(mktemp -d "/tmp/rvc-$SUITE.XXXX")
ROOT=$T/root
FAILED=()
CLEANUP_HOOKS=()

log() { printf '%s: %s\n' "$SUITE" "$*" >&2; }

# Skip (77) when a required tool is missing, unless CI demands everything.
require_tools() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null; then
      if [[ ${RUNVM_REQUIRE_VM:-0} == 1 ]]; then
        log "missing $t (setup.sh installs it)"
        exit 1
      fi
      log "SKIP: $t is not installed"
      exit 77
    fi
  done
}

on_cleanup() { CLEANUP_HOOKS+=("$*"); }

cleanup() {
  local i
  for ((i = ${#CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do eval "${CLEANUP_HOOKS[i]}" || true; done
  # Whatever the engines left: every container they made went through the
  # wrapper, so its --root names them all.
  local id
  for id in $("$RUNVM" --root "$ROOT" list -q 2>/dev/null); do
    "$RUNVM" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  rmdir "$ROOT" 2>/dev/null  # a suite's root outside $T (containerd's)
  pkill -KILL -f "runvm-shim .*$T" 2>/dev/null || true
  pkill -KILL -f "qemu-system.*$T" 2>/dev/null || true
  if [[ ${KEEP_COMPAT_DIR:-0} != 1 ]]; then
    # Deepest first: container rootfs mounts inside the engines' state dirs.
    awk -v t="$T/" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$T" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The engines call this instead of runvm: it pins --root to our private
# dir (an engine's own --root, as containerd's runc shim passes, comes later
# and wins), records every container it creates, and keeps each container's
# shim log and guest console before `delete` removes its state dir: the logs
# for diagnostics, the shim log as proof that the container ran in our VM.
make_wrapper() {
  mkdir -p "$T/bin" "$T/logs" "$T/proof" "$ROOT"
  cat >"$T/bin/runvm" <<EOF
#!/bin/sh
root="$ROOT" prev= verb=
for a in "\$@"; do
  [ "\$prev" = --root ] && root=\$a
  case "\$a" in create|run|delete) [ -z "\$verb" ] && verb=\$a ;; esac
  prev=\$a last=\$a
done
case "\$verb" in
  create|run) echo "\$last" >>"$T/proof/created" ;;
  delete)
    for f in shim.log console.log; do
      [ -f "\$root/\$last/\$f" ] && cp "\$root/\$last/\$f" "$T/logs/\$last.\$f"
    done
    [ -f "\$root/\$last/shim.log" ] && cp "\$root/\$last/shim.log" "$T/proof/\$last.shim.log" ;;
esac
exec "$RUNVM" --root "$ROOT" --log "$T/logs/runvm.log" "\$@"
EOF
  chmod +x "$T/bin/runvm"
  WRAPPER=$T/bin/runvm
}

# Proof that runvm, not another runtime, ran this case's containers: at
# least one was created through the wrapper, and the shim of each logged
# the hello of an agent on runvm's guest kernel (CONFIG_LOCALVERSION -runvm).
# A suite whose cases create no container sets PROVE_VM=0.
prove_ran_in_vm() {
  [[ ${PROVE_VM:-1} == 1 ]] || return 0
  if [[ ! -s $T/proof/created ]]; then
    echo "FAIL proof: no container was created through runvm in this case"
    return 1
  fi
  local id log
  for id in $(sort -u "$T/proof/created"); do
    log=$T/proof/$id.shim.log
    [[ -f $log ]] || log=$(ls "$ROOT/$id/shim.log" 2>/dev/null) || true
    # A pod member has no VM (nor shim log) of its own: its sandbox's shim
    # logged creating it in the sandbox's VM.
    [[ -n $log ]] || log=$(grep -lF "pod member $id: creating" "$T"/proof/*.shim.log \
      "$ROOT"/*/shim.log 2>/dev/null | head -1) || true
    if [[ -z $log ]] || ! grep -q 'guest kernel [^ ]*-runvm' "$log"; then
      echo "FAIL proof: container $id has no shim log showing runvm's guest kernel"
      return 1
    fi
  done
}

# A busybox-static root filesystem in $1.
make_busybox_rootfs() {
  "$(dirname "${BASH_SOURCE[0]}")/../images/busybox_rootfs.sh" "$1"
}

# Adds image NAME to the OCI layout $T/oci (made on first use) with the
# root filesystem in ROOTFS, then `umoci config` ARGS (its --config.* flags).
# The suites import the layout's tar with `ctr image import`: no registry.
# usage: add_oci_image NAME ROOTFS [umoci config flags...]
add_oci_image() {
  local name=$1 rootfs=$2
  shift 2
  (
    set -e
    cd "$T"
    [[ -d oci ]] || umoci init --layout oci
    umoci new --image "oci:$name"
    rm -rf "unpack-$name"
    umoci unpack --rootless --image "oci:$name" "unpack-$name" >/dev/null
    cp -a "$rootfs/." "unpack-$name/rootfs/"
    umoci repack --image "oci:$name" "unpack-$name"
    rm -rf "unpack-$name"
    umoci config --image "oci:$name" "$@"
  ) >>"$T/umoci.log" 2>&1 || { cat "$T/umoci.log" >&2; return 1; }
}

# Starts a private containerd in $CD: root, state and sockets under $T
# (only shim sockets and fifos still go to /run/containerd/{s,fifo}).
# $1: extra top-level TOML lines; stdin: extra tables. Sets C=(ctr ...).
start_containerd() {
  CD=$T/cd
  mkdir -p "$CD"
  {
    printf 'version = 2\nroot = "%s"\nstate = "%s"\n%s\n' "$CD/root" "$CD/state" "${1:-}"
    printf '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s"\n[debug]\n  address = "%s"\n' \
      "$CD/sock" "$CD/sock.ttrpc" "$CD/debug.sock"
    cat
  } >"$CD/config.toml"
  containerd --config "$CD/config.toml" >"$CD/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  on_cleanup 'kill $CONTAINERD_PID; wait $CONTAINERD_PID'
  C=(ctr --address "$CD/sock")
  local i
  for ((i = 0; i < 100; i++)); do "${C[@]}" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "containerd did not start:"
  tail -n 20 "$CD/containerd.log" >&2
  exit 1
}

# Prints what a failing case needs to be understood: the runtime's --log,
# each container's shim log and the tail of its guest console.
diagnostics() {
  local f
  echo "---- runvm --log (last 30 lines)"
  tail -n 30 "$T/logs/runvm.log" 2>/dev/null
  for f in "$ROOT"/*/shim.log "$T"/logs/*.shim.log; do
    [[ -f $f ]] || continue
    echo "---- shim log $f (last 30 lines)"
    tail -n 30 "$f"
  done
  for f in "$ROOT"/*/console.log "$T"/logs/*.console.log; do
    [[ -f $f ]] || continue
    echo "---- guest console $f (last 15 lines)"
    tail -n 15 "$f"
  done
  [[ -n ${EXTRA_DIAGNOSTICS:-} ]] && eval "$EXTRA_DIAGNOSTICS"
  echo "----"
}

# Assertions: each prints what differed and fails the case.
expect_eq() {  # actual expected what
  if [[ $1 != "$2" ]]; then
    printf 'FAIL %s: got [%s], want [%s]\n' "$3" "$1" "$2"
    return 1
  fi
}
expect_ge() {  # actual minimum what (integers)
  if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < $2)); then
    printf 'FAIL %s: got [%s], want at least %s\n' "$3" "$1" "$2"
    return 1
  fi
}
expect_contains() {  # haystack needle what
  if [[ $1 != *"$2"* ]]; then
    printf 'FAIL %s: [%s] does not contain [%s]\n' "$3" "$1" "$2"
    return 1
  fi
}

# Polls `$2...` until its output contains $1, for up to 20 s.
wait_for() {
  local want=$1 i out
  shift
  for ((i = 0; i < 100; i++)); do
    out=$("$@" 2>&1) && [[ $out == *"$want"* ]] && return 0
    sleep 0.2
  done
  printf 'FAIL waiting for [%s] from %s; last output: %s\n' "$want" "$*" "$out"
  return 1
}

# A process and all its descendants (a timed-out case's podman, ctr, ...).
kill_tree() {
  local p
  for p in $(pgrep -P "$1"); do kill_tree "$p"; done
  kill -TERM "$1" 2>/dev/null
}

# Runs every case_* function in definition order, each in a subshell with
# errexit and a time limit, then checks nothing was left running.
run_cases() {
  local c start rc
  for c in $(declare -F | awk '{print $3}' | grep '^case_'); do
    [[ -n ${COMPAT_CASES:-} && ! $c =~ $COMPAT_CASES ]] && continue
    start=$SECONDS
    rm -f "$T"/logs/* "$T"/proof/*  # diagnostics and proof: this case's only
    (set -e; "$c"; prove_ran_in_vm) >"$T/case.out" 2>&1 &
    local pid=$!
    # The watchdog's sleep must not hold our stdout open once killed.
    (exec >/dev/null 2>&1; sleep "${CASE_TIMEOUT:-180}"; kill_tree $pid) &
    local watchdog=$!
    wait $pid
    rc=$?
    pkill -P $watchdog 2>/dev/null; kill $watchdog 2>/dev/null; wait $watchdog 2>/dev/null
    if ((rc == 0)); then
      printf 'PASS %s (%ds)\n' "${c#case_}" $((SECONDS - start))
    else
      printf 'FAIL %s (exit %d, %ds)\n' "${c#case_}" "$rc" $((SECONDS - start))
      sed 's/^/    /' "$T/case.out"
      diagnostics | sed 's/^/    /'
      FAILED+=("${c#case_}")
    fi
  done
  if [[ -n ${AFTER_CASES:-} ]]; then eval "$AFTER_CASES"; fi
  local left
  left=$("$RUNVM" --root "$ROOT" list -q 2>&1)
  if [[ -n $left ]]; then
    printf 'FAIL leftovers: containers still in %s: %s\n' "$ROOT" "$left"
    FAILED+=(leftovers)
  fi
  if pgrep -f "qemu-system.*$T" >/dev/null; then
    printf 'FAIL leftovers: QEMU processes still running for %s\n' "$T"
    FAILED+=(leftovers)
  fi
  if ((${#FAILED[@]})); then
    printf '%s: %d failed: %s\n' "$SUITE" "${#FAILED[@]}" "${FAILED[*]}"
    exit 1
  fi
  printf '%s: all passed\n' "$SUITE"
}
