#!/usr/bin/env bash
# Wall time of `glassbox probe`, optionally for two binaries side by side
# (--before OLD: e.g. a build of the commit before a sandbox change):
#   1. per-cell overhead: `true` as the agent, 10 runs x 2 cells, --jobs 1;
#   2. the DEFAULT matrix (20 cells x 2 runs = 40 sandboxed runs) against
#      each sample agent in tests/probe/agents, with --jobs 1 and --jobs 2;
#   3. with REAL_AGENT set (a command line, e.g.
#      REAL_AGENT='/work/agents/inst/claude-2.1.332/node_modules/.bin/claude -p "say hi"'),
#      the default matrix on that agent with --jobs 2, once per binary: wall and
#      CPU time, the load, and each cell's run times (slowest first).
#
# Usage: bench/probe_bench.sh GLASSBOX [--before OLD_GLASSBOX] [AGENT...]
#   AGENT: file names in tests/probe/agents (default: all of them; "none" skips 2)
# Environment: BENCH_JOBS="1 2" (the --jobs values of 2), REAL_AGENT (see 3).
set -uo pipefail
export LC_ALL=C
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX [--before OLD_GLASSBOX] [AGENT...]" >&2
  exit 2
fi
binaries=("$(realpath "$1")")
names=(now)
shift
if [[ ${1:-} == --before ]]; then
  binaries=("$(realpath "$2")" "${binaries[0]}")
  names=(before now)
  shift 2
fi
for b in "${binaries[@]}"; do
  [[ -x $b ]] || { echo "probe_bench: $b is not an executable" >&2; exit 2; }
done
glassbox=${binaries[-1]}
agents_dir=$(cd "$(dirname "$0")/../tests/probe/agents" && pwd)
command -v node >/dev/null || { echo "probe_bench: node not found" >&2; exit 2; }
"$glassbox" probe --check-sandbox >/dev/null || { echo "probe_bench: the sandbox cannot run here" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seconds() { echo "$2 - $1" | bc -l; }

echo "== per-cell overhead: 'true' as the agent, 20 cells run one at a time; $(nproc) cores"
for i in "${!binaries[@]}"; do
  start=$(date +%s.%N)
  "${binaries[$i]}" probe --runs 10 --jobs 1 --vary TZ=UTC -- true >/dev/null 2>&1
  end=$(date +%s.%N)
  printf '%-8s %6.1f ms per cell\n' "${names[$i]}" "$(echo "($end - $start) * 1000 / 20" | bc -l)"
done

agents=("$@")
if [[ ${#agents[@]} == 0 ]]; then
  agents=(clean.js tz_marker.js host_lookalike.js lang_localised.js identity_telemetry.sh hardcoded_ip.js noisy.js
          two_var_marker.js relay_block.js otel_shuffled.js fails_some.js prefixed_base.js)
fi
[[ ${agents[0]} == none ]] && agents=()
jobs_list=(${BENCH_JOBS:-1 2})
if [[ ${#agents[@]} -gt 0 ]]; then
  cells=$("$glassbox" probe --list-cells -- node x.js | wc -l)
  echo "== default matrix: $cells cells x 2 runs"
  printf '%-24s %-7s' agent binary
  for j in "${jobs_list[@]}"; do printf ' %12s' "--jobs $j"; done
  printf ' %s\n' verdict
fi
for agent in "${agents[@]}"; do
  case $agent in
    *.js) cmd=(node "$agents_dir/$agent") ;;
    *) cmd=("$agents_dir/$agent") ;;
  esac
  for i in "${!binaries[@]}"; do
    printf '%-24s %-7s' "$agent" "${names[$i]}"
    verdict=""
    for j in "${jobs_list[@]}"; do
      start=$(date +%s.%N)
      "${binaries[$i]}" probe --jobs "$j" --format json -- "${cmd[@]}" >"$tmp/out.json" 2>"$tmp/err"
      status=$?
      end=$(date +%s.%N)
      if [[ $status -gt 1 ]]; then
        printf ' %12s' "error"
        verdict="error: $(head -c 200 "$tmp/err")"
        continue
      fi
      printf ' %11.1fs' "$(seconds "$start" "$end")"
      verdict=$(jq -r '.verdict + " (" + .summary + ")"' "$tmp/out.json")
    done
    printf ' %s\n' "$verdict"
  done
done

if [[ -n ${REAL_AGENT:-} ]]; then
  eval "real=($REAL_AGENT)"
  echo "== default matrix on a real agent, --jobs 2 (goal: under 90 s): ${REAL_AGENT}"
  echo "   the machine may be shared: wall time with the probe's CPU time (user+sys of glassbox and"
  echo "   every agent run) and the 1-minute load before and after"
  for i in "${!binaries[@]}"; do
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    TIMEFORMAT='%R %U %S'
    { time ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY:-x} "${binaries[$i]}" probe --jobs 2 --format json \
        -- "${real[@]}" >"$tmp/real.json" 2>"$tmp/err"; } 2>"$tmp/time"
    read -r wall user sys <"$tmp/time"
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    printf '%-8s %7.1f s wall  %5.1f s user + %4.1f s sys CPU  load %s -> %s  %s\n' "${names[$i]}" "$wall" "$user" \
      "$sys" "$load_before" "$load_after" \
      "$(jq -r '.verdict + " (" + .summary + ")"' "$tmp/real.json" 2>/dev/null || head -c 200 "$tmp/err")"
    jq -e .cells "$tmp/real.json" >/dev/null 2>&1 || continue
    # Per cell: each run's wall time (agent start to exit), slowest first.
    jq -r '.cells[] | [(((.wall_ms | add) // 0) / ((.wall_ms | length) | if . == 0 then 1 else . end)), .label,
                       (.wall_ms | map(. / 1000 | tostring | .[0:5]) | join(" "))] | @tsv' "$tmp/real.json" |
      sort -rn | awk -F'\t' '{ printf "         %6.2f s mean  runs %-14s %s\n", $1 / 1000, $3, substr($2, 1, 70);
                              sum += $1 } END { if (NR) printf "         %6.2f s mean per cell over %d cells\n", sum / NR / 1000, NR }'
  done
fi
