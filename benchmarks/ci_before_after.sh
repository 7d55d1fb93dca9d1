#!/usr/bin/env bash
# The project's CI for two commits, alternating: BASE, HEAD, BASE, HEAD... Each run is
# `bash .ci/run` in a fresh clone beside this checkout (so that ../shared is beside it too),
# as CI runs it. Prints one line per run: commit, exit code, load before and after, the
# pytest line, the CI total.
#
#     bash benchmarks/ci_before_after.sh 3970bad [PAIRS]   # PAIRS: 2 by default
set -uo pipefail
base=${1:?usage: ci_before_after.sh BASE_COMMIT [PAIRS]}
pairs=${2:-2}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse --short HEAD)
clone="$(dirname "$repo")/ci-before-after"
for order in $(seq 1 $((2 * pairs))); do
  if [ $((order % 2)) = 1 ]; then commit=$base; else commit=$head; fi
  rm -rf "$clone" && git clone -q "$repo" "$clone" && git -C "$clone" checkout -q "$commit"
  before=$(cut -d' ' -f1 /proc/loadavg)
  log=$(mktemp)
  (cd "$clone" && bash .ci/run >"$log" 2>&1)
  code=$?
  after=$(cut -d' ' -f1 /proc/loadavg)
  echo "$order $commit exit=$code load $before,$after | $(grep -E 'passed|failed' "$log" | tail -1) | $(grep 'ci: total' "$log")"
done
rm -rf "$clone"
