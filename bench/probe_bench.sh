#!/usr/bin/env bash
# Wall time of `glassbox probe` with the DEFAULT matrix (a pairwise design of
# 20 cells x 2 runs = 40 sandboxed runs) against each sample agent in
# tests/probe/agents, with --jobs 1 and --jobs 2, in one run, so the speed-up
# from running cells in parallel is measured on this machine. Prints one
# table row per agent, then (with BENCH_REAL) the default matrix on a real
# agent CLI against the 90 s goal.
#
# Usage: bench/probe_bench.sh GLASSBOX_BINARY [AGENT...]
#   AGENT: file names in tests/probe/agents (default: all of them)
# Environment: BENCH_JOBS="1 2" (the --jobs values to compare)
#   BENCH_REAL="/path/to/claude -p hi" a real agent command, run once with
#   --jobs 2 (e.g. /work/agents/inst/claude-2.1.332/node_modules/.bin/claude)
set -uo pipefail
export LC_ALL=C
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX_BINARY [AGENT...]" >&2
  exit 2
fi
glassbox=$(realpath "$1")
shift
[[ -x $glassbox ]] || { echo "probe_bench: $glassbox is not an executable" >&2; exit 2; }
agents_dir=$(cd "$(dirname "$0")/../tests/probe/agents" && pwd)
command -v node >/dev/null || { echo "probe_bench: node not found" >&2; exit 2; }
"$glassbox" probe --check-sandbox >/dev/null || { echo "probe_bench: the sandbox cannot run here" >&2; exit 2; }

agents=("$@")
if [[ ${#agents[@]} == 0 ]]; then
  agents=(clean.js tz_marker.js host_lookalike.js lang_localised.js identity_telemetry.sh hardcoded_ip.js noisy.js
          two_var_marker.js relay_block.js otel_shuffled.js fails_some.js prefixed_base.js)
fi
jobs_list=(${BENCH_JOBS:-1 2})
cells=$("$glassbox" probe --list-cells -- node x.js | wc -l)
echo "glassbox probe, default matrix: $cells cells x 2 runs; $(nproc) cores"
printf '%-24s' agent
for j in "${jobs_list[@]}"; do printf ' %12s' "--jobs $j"; done
printf ' %s\n' verdict
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for agent in "${agents[@]}"; do
  case $agent in
    *.js) cmd=(node "$agents_dir/$agent") ;;
    *) cmd=("$agents_dir/$agent") ;;
  esac
  printf '%-24s' "$agent"
  verdict=""
  for j in "${jobs_list[@]}"; do
    start=$(date +%s.%N)
    "$glassbox" probe --jobs "$j" --format json -- "${cmd[@]}" >"$tmp/out.json" 2>"$tmp/err"
    status=$?
    end=$(date +%s.%N)
    if [[ $status -gt 1 ]]; then
      printf ' %12s' "error"
      verdict="error: $(head -c 200 "$tmp/err")"
      continue
    fi
    printf ' %11.1fs' "$(echo "$end - $start" | bc -l)"
    verdict=$(jq -r '.verdict + " (" + .summary + ")"' "$tmp/out.json")
  done
  printf ' %s\n' "$verdict"
done
if [[ -n ${BENCH_REAL:-} ]]; then
  read -r -a real <<<"$BENCH_REAL"
  start=$(date +%s.%N)
  ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY:-x} "$glassbox" probe --jobs 2 --format json -- "${real[@]}" >"$tmp/real.json" 2>"$tmp/err"
  status=$?
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  printf 'real agent %s: %.1f s with --jobs 2 (goal: < 90 s), exit %d, %s\n' "${real[0]##*/}" "$secs" "$status" \
    "$(jq -r '.verdict + " (" + .summary + ")"' "$tmp/real.json" 2>/dev/null || head -c 200 "$tmp/err")"
fi
