#!/usr/bin/env bash
# The OCI runtime-tools validation suite against the built runvm, compared with
# a checked-in list of the assertions known to fail (known_failures.txt).
#
# Usage: run.sh RUNVM SUITE_DIR BASELINE [OUTDIR]
#   SUITE_DIR holds run-runtime-tools.sh (the suite's source and runner, kept
#   outside this repository); without it the test is skipped (exit 77).
#
# A failed assertion is named "<program>: <description>" (its TAP line without
# the number); a program that fails without a failed assertion (it died, timed
# out) is "<program>: (program failed)". Names may repeat (killsig has one line
# per signal): they are compared as counts. Any failure beyond the baseline's
# count of its name fails the test, so a regression anywhere is caught even
# when another known failure got fixed; fixed ones are listed so the baseline
# can shrink.
set -uo pipefail
RUNVM=$(realpath "${1:?usage: $0 RUNVM SUITE_DIR BASELINE [OUTDIR]}")
SUITE=${2:?suite dir}
BASELINE=$(realpath "${3:?baseline}")
OUT=${4:-${TMPDIR:-/tmp}/runvm-conformance}
if [ ! -x "$SUITE/run-runtime-tools.sh" ]; then
  echo "SKIP: $SUITE/run-runtime-tools.sh not found (the OCI runtime-tools suite is not on this machine)"
  exit 77
fi
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (the suite creates real containers)"; exit 77; }
for tool in go busybox; do
  command -v $tool >/dev/null || { echo "SKIP: needs $tool (apt-get install golang-go busybox-static)"; exit 77; }
done

rm -rf "$OUT"; mkdir -p "$OUT"
# The runner deletes every container the runtime lists after each program:
# give runvm a root of its own.
ROOT=$(mktemp -d /run/runvm-conformance.XXXXXX)
trap 'for id in $("$RUNVM" --root "$ROOT" list -q 2>/dev/null); do "$RUNVM" --root "$ROOT" delete -f "$id"; done; rm -rf "$ROOT"' EXIT
printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$RUNVM" "$ROOT" > "$OUT/runvm"
chmod +x "$OUT/runvm"

start=$(date +%s)
WORK=${WORK:-${TMPDIR:-/tmp}/runvm-conformance-build} "$SUITE/run-runtime-tools.sh" "$OUT/runvm" "$OUT/results" |
  tail -n 2
echo "duration: $(($(date +%s) - start))s"

# Every failure, one name a line.
failures() {
  local tap name
  for tap in "$OUT"/results/*.tap; do
    name=$(basename "$tap" .tap)
    sed -nE "s/^not ok [0-9]+ - (.*)$/$name: \1/p; s/^not ok [0-9]+$/$name: (unnamed)/p" "$tap"
  done
  awk '$2 != "PASS" { print $1 }' "$OUT/results/summary.txt" | while read -r name; do
    grep -qE '^not ok [0-9]+' "$OUT/results/$name.tap" || echo "$name: (program failed)"
  done
}
failures | sort > "$OUT/failures.txt"
grep -vE '^(#|$)' "$BASELINE" | sort > "$OUT/baseline.txt"

# Multiset differences: comm on lines numbered by occurrence.
number() { awk '{ n[$0]++; print $0 " #" n[$0] }' "$1" | sort; }
new=$(comm -23 <(number "$OUT/failures.txt") <(number "$OUT/baseline.txt"))
fixed=$(comm -13 <(number "$OUT/failures.txt") <(number "$OUT/baseline.txt"))
echo "$(wc -l < "$OUT/failures.txt") assertions failed, $(wc -l < "$OUT/baseline.txt") in the baseline"
if [ -n "$fixed" ]; then
  echo "known failures that passed (remove them from $(basename "$BASELINE")):"
  echo "$fixed" | sed 's/ #[0-9]*$//; s/^/  /'
fi
if [ -n "$new" ]; then
  echo "FAIL: failures not in the baseline (details in $OUT/results/<program>.tap and .err):"
  echo "$new" | sed 's/ #[0-9]*$//; s/^/  /'
  exit 1
fi
echo "OK: no failure beyond the baseline"
