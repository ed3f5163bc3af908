#!/usr/bin/env bash
# Density (issue 13): how many idle containers a host holds, and what each costs.
# Side by side in one run, under TCG, on a private --root:
#   density_parallel_*      N `runvm run -d` started at once: failures, wall time
#                           until the last is running, median/max of each start
#   density_serial_*        the same N one after the other (each new one beside
#                           those already running)
#   idle_*_kib              per idle container (mean over the N started in
#                           parallel): shim and QEMU PSS without guest RAM, the
#                           guest RAM the host actually holds (the memfd's
#                           allocated pages), and their sum. QEMU's overhead is
#                           its PSS minus its share of guest RAM (the memfd is
#                           mapped by QEMU and by the shim's vhost-user backends)
#   balloon_*               a guest writes 200 MiB into a tmpfs and deletes it:
#                           host memory taken, then returned by free page
#                           reporting, and how long that took
#   tb_<size>_*             TCG's translation cache: QEMU's default (1 GiB,
#                           vm.tcg_tb_size = 0) vs runvm's default (64 MiB) vs
#                           16 MiB: QEMU's overhead and resident translated code
#                           when idle and after a node + python3 run (the Debian
#                           test image; DENSITY_WORKLOAD=0 skips it), that run's
#                           time (wall, and QEMU's CPU time: steadier on a busy
#                           host), and boot to the agent (`runvm check`, median of 3)
# Usage: bench/density.sh [N] (default 20). BUILD_DIR defaults to ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
n=${1:-20}
runvm=$(readlink -f "$build/runtime/runvm")
[ -x "$runvm" ] || { echo "bench: missing $runvm (run ./setup.sh demo first)" >&2; exit 1; }
tmp=$(mktemp -d)
root=$tmp/root
shims=()  # every shim started, so that none outlives the bench
cleanup() {
  local id p
  # Starts still running finish first (each is bounded by runvm's own
  # timeouts), so that what they create is listed and deleted below.
  wait 2>/dev/null || true
  for id in $("$runvm" --root "$root" list -q 2>/dev/null); do
    "$runvm" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
  done
  # A shim whose state went missing: its QEMU dies with it (PR_SET_PDEATHSIG).
  for p in "${shims[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source bench/lib.sh
mean() { awk '{s+=$1} END {if (NR==0) exit 1; printf "%d\n", s/NR}'; }
max() { sort -n | tail -n 1; }
now_ms() { date +%s%3N; }
pid_of() { "$runvm" --root "$root" state "$1" | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}'; }
qemu_of() { pgrep -P "$1" qemu-system; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
# PSS of a process's mappings of guest RAM (QEMU's memory-backend-memfd).
ram_pss() { awk '/^[0-9a-f]+-/ {m = /memfd:memory-backend/} m && /^Pss:/ {s+=$2} END {print s+0}' "/proc/$1/smaps"; }
# Guest RAM the host holds: the memfd's allocated pages (KiB), whoever touched
# them; free page reporting punches holes in it.
ram_held() {
  local fd
  fd=$(find "/proc/$1/fd" -lname '/memfd:memory-backend*' -print -quit)
  echo $(($(stat -L -c %b "$fd") / 2))
}
# Resident translated code: QEMU's code_gen_buffer, its one anonymous rwx mapping.
code_rss() { awk '/^[0-9a-f]+-/ {m = ($2 == "rwxp" && NF == 5)} m && /^Rss:/ {s+=$2} END {print s+0}' "/proc/$1/smaps"; }

# Configurations, so the host's /etc/runvm/runvm.toml plays no part: runvm's
# defaults, and QEMU's own translation cache size.
printf '[vm]\naccel = "tcg"\n' >"$tmp/runvm.toml"
printf '[vm]\naccel = "tcg"\ntcg_tb_size = 0\n' >"$tmp/tb0.toml"
rv() { "$runvm" --config "$tmp/runvm.toml" --root "$root" "$@"; }

# An idle busybox bundle, with a tmpfs the balloon test fills.
b=$tmp/idle
mkdir -p "$b/rootfs/bin"
cp /bin/busybox "$b/rootfs/bin/"
for t in sh sleep dd rm; do ln -s busybox "$b/rootfs/bin/$t"; done
(cd "$b" && "$runvm" spec)
python3 - "$b/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "100000"]
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                    "options": ["size=256m"]})
json.dump(c, open(sys.argv[1], "w"))
EOF
# run -d ID [config]: 0 once the container runs.
run_d() { "$runvm" --config "${2:-$tmp/runvm.toml}" --root "$root" run -d -b "$b" "$1" </dev/null >"$tmp/$1.out" 2>&1; }
started() { local p; p=$(pid_of "$1") && shims+=("$p"); }
delete_all() {
  local id
  for id in $(rv list -q); do rv delete -f "$id" >/dev/null & done
  wait
}

# --- N starts at once ------------------------------------------------------------
t0=$(now_ms)
for i in $(seq "$n"); do
  (s=$(now_ms); if run_d "p$i"; then echo $(($(now_ms) - s)) >"$tmp/p$i.ms"; fi) &
done
wait
t1=$(now_ms)
fail=0
for i in $(seq "$n"); do
  if [ -s "$tmp/p$i.ms" ] && started "p$i"; then
    cat "$tmp/p$i.ms" >>"$tmp/par_ms"
  else
    fail=$((fail + 1))
    echo "bench: p$i failed: $(head -c 300 "$tmp/p$i.out")" >&2
  fi
done
echo "METRIC density_parallel_n $n containers"
echo "METRIC density_parallel_failures $fail containers"
echo "METRIC density_parallel_total_ms $((t1 - t0)) ms"
if [ -s "$tmp/par_ms" ]; then
  echo "METRIC density_parallel_start_median_ms $(median <"$tmp/par_ms") ms"
  echo "METRIC density_parallel_start_max_ms $(max <"$tmp/par_ms") ms"
fi

# --- what each idle container costs ---------------------------------------------
sleep 5  # let the guests settle (boot-time page frees get reported)
: >"$tmp/mem"
for id in $(rv list -q); do
  shim=$(pid_of "$id")
  q=$(qemu_of "$shim")
  qp=$(pss "$q") qr=$(ram_pss "$q") sp=$(pss "$shim") sr=$(ram_pss "$shim") held=$(ram_held "$q")
  echo "$((sp - sr)) $((qp - qr)) $held $((sp - sr + qp - qr + held)) $(code_rss "$q")" >>"$tmp/mem"
done
col() { awk -v c="$1" '{print $c}' "$tmp/mem" | mean; }
echo "METRIC idle_shim_pss_kib $(col 1) KiB"
echo "METRIC idle_qemu_overhead_pss_kib $(col 2) KiB"
echo "METRIC idle_guest_ram_held_kib $(col 3) KiB"
echo "METRIC idle_total_kib $(col 4) KiB"
echo "METRIC idle_qemu_code_cache_kib $(col 5) KiB"

# --- memory back to the host: 200 MiB written to a guest tmpfs, then deleted ------
for id in $(rv list -q); do [ "$id" = p1 ] || rv delete -f "$id" >/dev/null & done
wait
if rv state p1 >/dev/null 2>&1; then
  q=$(qemu_of "$(pid_of p1)")
  before=$(ram_held "$q")
  rv exec p1 dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null
  peak=$(ram_held "$q")
  rv exec p1 rm /tmp/fill
  t0=$(now_ms)
  # Reporting runs ~2 s after a free; done when nothing changed for 3 s (30 s at most).
  last=$peak stable=0 t_last=$t0
  for _ in $(seq 60); do
    sleep 0.5
    cur=$(ram_held "$q")
    if [ "$cur" != "$last" ]; then last=$cur stable=0 t_last=$(now_ms); else stable=$((stable + 1)); fi
    [ $stable -ge 6 ] && break
  done
  echo "METRIC balloon_guest_alloc_kib $((peak - before)) KiB"
  echo "METRIC balloon_returned_kib $((peak - last)) KiB"
  echo "METRIC balloon_return_ms $((t_last - t0)) ms"
fi
delete_all

# --- N starts one after the other ------------------------------------------------
: >"$tmp/ser_ms"
fail=0
t0=$(now_ms)
for i in $(seq "$n"); do
  s=$(now_ms)
  if run_d "s$i" && started "s$i"; then
    echo $(($(now_ms) - s)) >>"$tmp/ser_ms"
  else
    fail=$((fail + 1))
    echo "bench: s$i failed: $(head -c 300 "$tmp/s$i.out")" >&2
  fi
done
t1=$(now_ms)
echo "METRIC density_serial_failures $fail containers"
echo "METRIC density_serial_total_ms $((t1 - t0)) ms"
[ -s "$tmp/ser_ms" ] && echo "METRIC density_serial_start_median_ms $(median <"$tmp/ser_ms") ms"
delete_all

# --- TCG's translation cache: QEMU's default size vs runvm's vs a small one -----
# Side by side: one idle container of each, boot to the agent (interleaved),
# and a code-heavy workload (node, then python3) from start to exit with the
# translated code QEMU holds afterwards.
printf '[vm]\naccel = "tcg"\ntcg_tb_size = 16\n' >"$tmp/tb16.toml"
variants=(qemu_default runvm_default mib16)
cfg_of() {
  case $1 in
    qemu_default) echo "$tmp/tb0.toml" ;;
    runvm_default) echo "$tmp/runvm.toml" ;;
    mib16) echo "$tmp/tb16.toml" ;;
  esac
}
for v in "${variants[@]}"; do
  run_d "tb_$v" "$(cfg_of "$v")" && started "tb_$v" || { echo "bench: tb_$v: $(cat "$tmp/tb_$v.out")" >&2; exit 1; }
done
sleep 5
for v in "${variants[@]}"; do
  q=$(qemu_of "$(pid_of "tb_$v")")
  echo "METRIC tb_${v}_idle_qemu_overhead_pss_kib $(($(pss "$q") - $(ram_pss "$q"))) KiB"
  echo "METRIC tb_${v}_idle_code_cache_kib $(code_rss "$q") KiB"
done
delete_all

for _ in 1 2 3; do
  for v in "${variants[@]}"; do
    "$runvm" --config "$(cfg_of "$v")" --root "$root" check --pings 1 |
      awk '/^boot_to_agent_ms:/ {print $2}' >>"$tmp/boot_$v"
  done
done
for v in "${variants[@]}"; do
  echo "METRIC tb_${v}_boot_to_agent_ms $(median <"$tmp/boot_$v") ms"
done

if [ "${DENSITY_WORKLOAD:-1}" != 0 ]; then
  image=$(tests/images/debian_image.sh nodejs python3)
  w=$tmp/work
  mkdir -p "$w/rootfs"
  tar -C "$w/rootfs" -xf "$image"
  (cd "$w" && "$runvm" spec)
  python3 - "$w/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c",
    "node -e 'let s = 0; for (let i = 0; i < 200000; i++) s += JSON.stringify({a: i, b: [i, 2 * i]}).length; console.log(s)' && "
    "python3 -c 'import json, decimal, re, email, http.client, xml.dom.minidom; print(sum(len(json.dumps({\"a\": i})) for i in range(100000)))' && "
    "touch /done && sleep 100000"]
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"))
EOF
  for v in "${variants[@]}"; do
    rm -f "$w/rootfs/done"
    s=$(now_ms)
    "$runvm" --config "$(cfg_of "$v")" --root "$root" run -d -b "$w" "w_$v" </dev/null >"$tmp/w_$v.out" 2>&1 ||
      { echo "bench: w_$v: $(cat "$tmp/w_$v.out")" >&2; exit 1; }
    started "w_$v"
    for _ in $(seq 1800); do [ -e "$w/rootfs/done" ] && break; sleep 0.1; done
    [ -e "$w/rootfs/done" ] || { echo "bench: workload w_$v did not finish" >&2; exit 1; }
    echo "METRIC tb_${v}_workload_ms $(($(now_ms) - s)) ms"
    q=$(qemu_of "$(pid_of "w_$v")")
    # QEMU's CPU time: what retranslation costs, whatever else loads the host.
    echo "METRIC tb_${v}_workload_qemu_cpu_ms $(awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$q/stat") ms"
    echo "METRIC tb_${v}_workload_qemu_overhead_pss_kib $(($(pss "$q") - $(ram_pss "$q"))) KiB"
    echo "METRIC tb_${v}_workload_code_cache_kib $(code_rss "$q") KiB"
    rv delete -f "w_$v" >/dev/null
  done
fi
