#!/usr/bin/env bash
# Runs every libFuzzer target briefly on a copy of its seed corpus.
# Usage: fuzz/smoke.sh BUILD_DIR      (e.g. build-fuzz, configured with -DGLASSBOX_FUZZ=ON)
#   FUZZ_SECONDS=N   time per target (default 20)
#   FUZZ_TARGETS="fuzz_utf fuzz_json_strings"   a subset (default: all)
# First replays fuzz/regressions/<target>/* (inputs that once failed), then
# fuzzes. Exits non-zero if a target is missing, a regression input fails, or
# fuzzing finds a crash, leak, timeout or sanitizer error; the failing input
# is kept and its path printed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: fuzz/smoke.sh BUILD_DIR}
seconds=${FUZZ_SECONDS:-20}
# Every target listed in fuzz/targets.txt (one per line), unless FUZZ_TARGETS names some.
targets=${FUZZ_TARGETS:-$(grep -v '^#' "$here/targets.txt" | tr '\n' ' ')}

# UBSan in the fuzz build is recoverable by default: make it fatal here so a
# report counts as a crash.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

work=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-fuzz.XXXXXX")
failed=0
summary=()
for t in $targets; do
  bin=$build/fuzz/$t
  if [[ ! -x $bin ]]; then
    summary+=("$(printf '%-20s MISSING (%s)' "$t" "$bin")")
    failed=1
    continue
  fi
  # Known reproducers: each must now run clean.
  if [[ -d $here/regressions/$t ]]; then
    for r in "$here/regressions/$t"/*; do
      [[ -f $r ]] || continue
      if ! "$bin" -rss_limit_mb=2048 -timeout=10 "$r" >"$work/regression.log" 2>&1; then
        failed=1
        summary+=("$(printf '%-20s FAIL  regression %s' "$t" "${r#"$here"/}")")
        echo "---- $t: regression ${r#"$here"/}" >&2
        grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|deadly signal' "$work/regression.log" | head -5 >&2
      fi
    done
  fi
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  [[ -d $here/corpus/$t ]] && cp -R "$here/corpus/$t/." "$work/$t/corpus/"
  log=$work/$t/log
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  if ((rc == 0)); then
    summary+=("$(printf '%-20s ok    execs=%s %s %s rss=%sMB' "$t" "${execs:-?}" "${cov:-cov: ?}" "${corp:-}" "${rss:-?}")")
  else
    failed=1
    artifact=$(ls -1 "$work/$t/artifacts" 2>/dev/null | head -1)
    summary+=("$(printf '%-20s FAIL  rc=%d execs=%s %s artifact=%s log=%s' "$t" "$rc" "${execs:-?}" "${cov:-}" \
      "${artifact:+$work/$t/artifacts/$artifact}" "$log")")
    echo "---- $t: last lines of $log" >&2
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|deadly signal|Test unit written' "$log" | head -20 >&2
  fi
done

echo "fuzz smoke (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
  echo "fuzz smoke: FAILED; inputs and logs kept in $work" >&2
  exit 1
fi
rm -rf "$work"
echo "fuzz smoke: all targets passed"
