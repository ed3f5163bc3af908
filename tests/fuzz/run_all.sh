#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each with its corpus
# dir (tests/fuzz/corpus/<name>, if any). Fails on the first crash.
set -euo pipefail
build=$1
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
ran=0
for f in "$build"/fuzz/*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=$(mktemp -d)
  [ -d "$here/corpus/$name" ] && cp -r "$here/corpus/$name/." "$corpus/"
  echo "fuzz: $name (${seconds}s)" >&2
  if ! "$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "$corpus" >"$corpus.log" 2>&1; then
    tail -n 40 "$corpus.log" >&2
    echo "fuzz: $name FAILED" >&2
    exit 1
  fi
  rm -rf "$corpus" "$corpus.log"
  ran=$((ran + 1))
done
echo "fuzz: $ran targets ran clean" >&2
[ "$ran" -gt 0 ]
