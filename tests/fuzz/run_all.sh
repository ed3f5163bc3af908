#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz with its seed corpus
# (tests/fuzz/corpus/<name>, if any). Fails on the first crash.
#
#   run_all.sh BUILD [SECONDS]   each target for SECONDS (default 20): CI's short run
#   FUZZ_RUNS=N run_all.sh BUILD each target for N executions (the long run:
#                                issue 15 asks for 10000000), without a time limit
#   FUZZ_ONLY=REGEX              only the targets whose name matches
#   FUZZ_CORPUS_OUT=DIR          keep each target's grown corpus in DIR/<name>
#                                (and resume from it), instead of a temporary copy
#   FUZZ_JOBS=N                  targets run N at a time (default 1)
#   FUZZ_WORKERS=N               N processes fuzz each target on its one corpus
#                                (default 1); with FUZZ_RUNS they share the N
#                                executions out, and the line reports their sum
#   FUZZ_ARGS="FLAGS"            more libFuzzer flags for every process (e.g.
#                                -max_len=1024); the line repeats them
#   FUZZ_LOGS=DIR                the workers' logs in DIR, kept (default: a
#                                temporary directory, removed after a clean run)
#
# One line per target: `fuzz: NAME execs=N cov=EDGES ft=FEATURES secs=S
# rss_mb=M`, where cov is the edges libFuzzer's instrumentation saw covered
# and ft the finer features (edge counters, value profiles) it steers by.
# To end a long run early and keep its figures, send SIGINT to the fuzzers
# alone (pkill -INT -f 'fuzz/NAME '): the line is printed, marked interrupted.
# A crash's input is kept in the target's log directory and its path printed:
# add it to tests/fuzz/corpus/<name> once fixed, as a regression seed.
set -euo pipefail
build=$(cd "$1" && pwd)  # absolute: each target runs from its log directory
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
logs=${FUZZ_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
read -r -a extra <<<"${FUZZ_ARGS:-}"

run_one() {
  local f=$1 name corpus limit
  name=$(basename "$f")
  if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
    corpus=$FUZZ_CORPUS_OUT/$name
    mkdir -p "$corpus"
  else
    corpus=$logs/$name.corpus
    mkdir -p "$corpus"
  fi
  [ -d "$here/corpus/$name" ] && cp -rn "$here/corpus/$name/." "$corpus/"
  local workers=${FUZZ_WORKERS:-1} t0=$SECONDS i p rc interrupted=
  local -A wpids=()
  for ((i = 0; i < workers; i++)); do
    # FUZZ_RUNS is shared out: the workers' executions add up to it.
    if [ -n "${FUZZ_RUNS:-}" ]; then
      limit=(-runs="$((FUZZ_RUNS / workers + (i < FUZZ_RUNS % workers ? 1 : 0)))")
    else
      limit=(-max_total_time="$seconds")
    fi
    (cd "$logs" && exec "$f" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$logs/$name-" "${extra[@]}" "$corpus" >"$logs/$name.$i.log" 2>&1) &
    wpids[$!]=$i
  done
  # The first worker to fail ends the others: its input is the finding.
  while [ "${#wpids[@]}" -gt 0 ]; do
    wait -n -p p "${!wpids[@]}" && { unset "wpids[$p]"; continue; }
    rc=$?
    i=${wpids[$p]}
    unset "wpids[$p]"
    # A SIGINT ends libFuzzer with its -interrupted_exitcode (72): a long
    # run cut short by hand, not a finding; what it ran still counts.
    if [ "$rc" = 72 ] && grep -q 'libFuzzer: run interrupted' "$logs/$name.$i.log"; then
      interrupted=" interrupted"
      continue
    fi
    [ "${#wpids[@]}" -gt 0 ] && kill "${!wpids[@]}" 2>/dev/null
    wait 2>/dev/null
    tail -n 40 "$logs/$name.$i.log" >&2
    local kept=("$logs/$name"-*)  # nullglob: none if the worker died without one
    echo "fuzz: $name FAILED; input kept: ${kept[0]:-none}" >&2
    return 1
  done
  # Executions add up over the workers; coverage is the best any reached
  # (each reloads the shared corpus, so they converge).
  local execs=0 cov=0 ft=0 rss=0 v
  for ((i = 0; i < workers; i++)); do
    v=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$name.$i.log" | tail -n 1)
    execs=$((execs + ${v:-0}))
    v=$(grep -o 'cov: [0-9]*' "$logs/$name.$i.log" | tail -n 1 | cut -d' ' -f2)
    [ "${v:-0}" -gt "$cov" ] && cov=$v
    v=$(grep -o 'ft: [0-9]*' "$logs/$name.$i.log" | tail -n 1 | cut -d' ' -f2)
    [ "${v:-0}" -gt "$ft" ] && ft=$v
    v=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$name.$i.log" | tail -n 1)
    [ "${v:-0}" -gt "$rss" ] && rss=$v
  done
  echo "fuzz: $name execs=$execs cov=$cov ft=$ft secs=$((SECONDS - t0)) rss_mb=$rss workers=$workers${FUZZ_ARGS:+ args=\"$FUZZ_ARGS\"}$interrupted"
}

targets=()
for f in "$build"/fuzz/*; do
  [ -x "$f" ] && [ -f "$f" ] || continue
  [[ -n "${FUZZ_ONLY:-}" && ! $(basename "$f") =~ ${FUZZ_ONLY} ]] && continue
  targets+=("$f")
done
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets in $build/fuzz" >&2; exit 1; }

jobs=${FUZZ_JOBS:-1}
pids=()
failed=0
for f in "${targets[@]}"; do
  run_one "$f" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
  [ "$failed" = 0 ] || break
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" != 0 ]; then
  echo "fuzz: logs in $logs" >&2
  exit 1
fi
[ -n "${FUZZ_LOGS:-}" ] || rm -rf "$logs"
echo "fuzz: ${#targets[@]} targets ran clean" >&2
