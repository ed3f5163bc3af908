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
#
# One line per target: `fuzz: NAME execs=N cov=EDGES ft=FEATURES secs=S
# rss_mb=M`, where cov is the edges libFuzzer's instrumentation saw covered
# and ft the finer features (edge counters, value profiles) it steers by.
# A crash's input is kept in the target's log directory and its path printed:
# add it to tests/fuzz/corpus/<name> once fixed, as a regression seed.
set -euo pipefail
build=$(cd "$1" && pwd)  # absolute: each target runs from its log directory
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
logs=$(mktemp -d)

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
  if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); else limit=(-max_total_time="$seconds"); fi
  local t0=$SECONDS
  if ! (cd "$logs" && "$f" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$logs/$name-" "$corpus" >"$logs/$name.log" 2>&1); then
    tail -n 40 "$logs/$name.log" >&2
    echo "fuzz: $name FAILED; input kept: $(ls "$logs/$name"-* 2>/dev/null | head -n 1)" >&2
    return 1
  fi
  local execs cov ft rss
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$name.log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$logs/$name.log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$logs/$name.log" | tail -n 1 | cut -d' ' -f2)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$name.log" | tail -n 1)
  echo "fuzz: $name execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} secs=$((SECONDS - t0)) rss_mb=${rss:-?}"
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
rm -rf "$logs"
echo "fuzz: ${#targets[@]} targets ran clean" >&2
