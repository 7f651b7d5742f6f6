#!/usr/bin/env bash
# Throughput benchmark: glassbox against ripgrep (walk-and-read floor and a hidden-character
# search) on a ~400 MB corpus of real text files, and against secretlint on a ~20 MB subset.
#
# Usage: bench/scan_bench.sh GLASSBOX_BINARY
#
# Environment (all optional):
#   BENCH_MB=400          corpus size in decimal MB       (bench/make_corpus.sh)
#   BENCH_SUBSET_MB=20    secretlint subset size in MB
#   BENCH_RUNS=3          interleaved rounds (every command once per round); best wall time kept
#   BENCH_THREADS=$(nproc) threads for rg and glassbox (secretlint is single-threaded)
#   BENCH_CALLGRIND=1     also count the instructions of `glassbox scan --jobs 1` on the subset
#                         (valgrind's callgrind; start-up included) and of a start-up alone:
#                         steady on a busy machine, where wall times and their ratios are not
#
# Nothing is downloaded: secretlint comes from build/npm-tools (scripts/bootstrap.sh --bench);
# when it is missing its rows are skipped. Work files go to build/bench-work.
# glassbox exits 1 when it finds high or critical findings, rg exits 1 when nothing matches
# and secretlint exits 1 on findings: none of these is treated as a failure here.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX_BINARY" >&2
  exit 2
fi
glassbox=$(realpath "$1")
[[ -x $glassbox ]] || { echo "scan_bench: $1 is not an executable" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$here/build"
corpus="$build/bench-corpus"
subset="$build/bench-subset"
work="$build/bench-work"
mb=${BENCH_MB:-400}
subset_mb=${BENCH_SUBSET_MB:-20}
runs=${BENCH_RUNS:-3}
threads=${BENCH_THREADS:-$(nproc)}
secretlint="$build/npm-tools/node_modules/.bin/secretlint"

for tool in rg jq awk; do
  command -v "$tool" >/dev/null || { echo "scan_bench: $tool not found (scripts/bootstrap.sh installs it)" >&2; exit 2; }
done

mkdir -p "$work"

# ---------------------------------------------------------------- corpus and subset
bash "$here/bench/make_corpus.sh" "$corpus" "$mb"

# The subset is a deterministic sample of the corpus: every k-th file in sorted order until
# the size is reached. Paths secretlint always skips (node_modules, .git, its own config and
# ignore files) are left out so both tools read exactly the same files.
subset_key="$(cat "$corpus.stamp" | tr '\n' ' ')subset_mb=$subset_mb v2"
if [[ ! -f $subset.stamp || $(cat "$subset.stamp") != "$subset_key" || ! -d $subset ]]; then
  rm -rf "$subset" "$subset.stamp"
  mkdir -p "$subset"
  (cd "$corpus" && find . -type f -printf '%s %P\0' | sort -z -k2) \
    | tr '\0' '\n' | awk -v target=$((subset_mb * 1000000)) '
        { size[NR] = $1; line[NR] = $0; total += $1 }
        $0 ~ /(^[0-9]+ |\/)(node_modules|\.git)(\/|$)/ { skip[NR] = 1 }
        $0 ~ /(^[0-9]+ |\/)\.secretlint(rc|ignore)[^\/]*$/ { skip[NR] = 1 }
        END {
          k = int(total / target); if (k < 1) k = 1
          for (off = 1; off <= k && got < target; off++)
            for (i = off; i <= NR && got < target; i += k)
              if (!skip[i]) { got += size[i]; p = line[i]; sub(/^[0-9]+ /, "", p); print p }
        }' \
    | tr '\n' '\0' | tar -C "$corpus" --null --no-recursion -T - -cf - | tar -C "$subset" -xf -
  printf '%s' "$subset_key" >"$subset.stamp"
fi

# -H: the corpus may be a link to another build's copy (it is large to make twice)
count_files() { find -H "$1" -type f | wc -l; }
count_bytes() { find -H "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
corpus_files=$(count_files "$corpus")
corpus_bytes=$(count_bytes "$corpus")
subset_files=$(count_files "$subset")
subset_bytes=$(count_bytes "$subset")
mbof() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

echo
echo "== glassbox scan benchmark"
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GB RAM", $2 / 1e6 }' /proc/meminfo), $(uname -sr)"
echo "glassbox: $glassbox ($("$glassbox" --version 2>/dev/null | sed -n 1p))"
echo "rg:       $(rg --version | sed -n 1p)"
if [[ -x $secretlint ]]; then
  echo "secretlint: $("$secretlint" --version 2>/dev/null) with @secretlint/secretlint-rule-preset-recommend $(jq -r .version "$build/npm-tools/node_modules/@secretlint/secretlint-rule-preset-recommend/package.json" 2>/dev/null), node $(node --version 2>/dev/null)"
else
  echo "secretlint: not installed ($secretlint missing) — run scripts/bootstrap.sh --bench; its rows are skipped"
fi
echo "corpus:   $corpus  $corpus_files files, $(mbof "$corpus_bytes") MB"
echo "subset:   $subset  $subset_files files, $(mbof "$subset_bytes") MB"
echo "threads:  $threads for rg and glassbox; best of $runs interleaved runs (wall time)"

# ---------------------------------------------------------------- warm the page cache
find -H "$corpus" "$subset" -type f -print0 | xargs -0 cat >/dev/null
rg -c -uu --no-messages -j "$threads" 'glassbox_literal_that_never_matches_zq' "$corpus" >/dev/null || true

# ---------------------------------------------------------------- timing
# Runs are interleaved: each round runs every command once, and the best wall time per
# command over all rounds is kept. On a shared VM the CPU available changes over minutes;
# interleaving keeps the ratios fair even when the absolute numbers drift.
declare -A best rcs outs
names=()
now() { date +%s.%N; }
# bench NAME OUTFILE CMD... : register a command (stdout to OUTFILE, stderr to OUTFILE.err)
bench() {
  local name=$1 outfile=$2
  shift 2
  names+=("$name")
  outs[$name]=$outfile
  eval "cmd_$name() { $(printf '%q ' "$@"); }"
}
run_once() {  # NAME ROUND
  local name=$1 outfile=${outs[$1]} t0 t1 dt rc
  # $EPOCHREALTIME, not $(date): a forked `date` added ~3 ms to every timing,
  # a tenth of a 30 ms scan.
  t0=$EPOCHREALTIME
  set +e
  "cmd_$name" >"$outfile" 2>"$outfile.err"
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  echo "  round $2  $(printf '%-12s' "$name") ${dt}s (exit $rc)" >&2
  if [[ -z ${best[$name]:-} ]] || awk -v a="$dt" -v b="${best[$name]}" 'BEGIN { exit !(a < b) }'; then
    best[$name]=$dt
  fi
  rcs[$name]=$rc
}
check_rc() {  # NAME MAX_OK_RC
  if ((${rcs[$1]} > $2)); then
    echo "scan_bench: warning: $1 exited ${rcs[$1]}; see ${outs[$1]}.err: $(head -c 300 "${outs[$1]}.err" | tr '\n' ' ')" >&2
  fi
}
# effective parallel CPU: time of one busy loop vs $threads of them at once
cpu_check() {
  local t0 t1 t2 i
  t0=$(now)
  awk 'BEGIN { for (i = 0; i < 3e7; i++) x += i }'
  t1=$(now)
  for ((i = 0; i < threads; i++)); do awk 'BEGIN { for (i = 0; i < 3e7; i++) x += i }' & done
  wait
  t2=$(now)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$threads" 'BEGIN { printf "%.2f of %d", n * (b - a) / (c - b), n }'
}

cd "$work"   # neutral directory: no .glassbox.toml or .secretlintrc is picked up by accident

hidden_re='[\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{E0000}-\x{E007F}]'
mkdir -p "$work/empty" "$work/tiny"
echo "hello" >"$work/tiny/one.txt"

bench rg_floor "$work/rg-floor.out" \
  rg -c -uu --no-messages -j "$threads" 'glassbox_literal_that_never_matches_zq' "$corpus"
bench rg_hidden "$work/rg-hidden.out" \
  rg -c -uu --no-messages -j "$threads" "$hidden_re" "$corpus"
# the walk-and-read floor on the subset too: the secretlint goal is measured there
bench rg_floor_sub "$work/rg-floor-subset.out" \
  rg -c -uu --no-messages -j "$threads" 'glassbox_literal_that_never_matches_zq' "$subset"
bench gb "$work/glassbox.json" \
  "$glassbox" scan --format json --no-ignore --jobs "$threads" "$corpus"
bench gb_subset "$work/glassbox-subset.json" \
  "$glassbox" scan --format json --no-ignore --jobs "$threads" "$subset"
bench gb_subset_1 "$work/glassbox-subset-1.json" \
  "$glassbox" scan --format json --no-ignore --jobs 1 "$subset"
# fixed per-invocation cost, for reading the small-subset rows
bench gb_startup "$work/glassbox-empty.json" \
  "$glassbox" scan --format json --no-ignore --jobs "$threads" "$work/empty"

have_secretlint=0
if [[ -x $secretlint ]]; then
  have_secretlint=1
  printf '{\n  "rules": [{ "id": "@secretlint/secretlint-rule-preset-recommend" }]\n}\n' >"$work/.secretlintrc.json"
  sl=("$secretlint" --secretlintrc "$work/.secretlintrc.json" --no-gitignore --no-color --no-terminalLink)
  # untimed warm-up that also checks how many files secretlint really reads
  set +e
  "${sl[@]}" --format json --output "$work/secretlint-subset.json" "$subset/**/*" >/dev/null 2>"$work/secretlint-subset.json.err"
  set -e
  sl_files=$(jq 'length' "$work/secretlint-subset.json" 2>/dev/null || echo "?")
  sl_msgs=$(jq '[.[].messages | length] | add // 0' "$work/secretlint-subset.json" 2>/dev/null || echo "?")
  bench secretlint "$work/secretlint-subset.out" "${sl[@]}" "$subset/**/*"
  bench sl_startup "$work/secretlint-tiny.out" "${sl[@]}" "$work/tiny/one.txt"
fi

cpu_before=$(cpu_check)
echo >&2
echo "running $runs interleaved rounds of ${#names[@]} commands ..." >&2
for ((round = 1; round <= runs; round++)); do
  for name in "${names[@]}"; do run_once "$name" "$round"; done
done
cpu_after=$(cpu_check)
for name in rg_floor rg_hidden rg_floor_sub gb gb_subset gb_subset_1 gb_startup; do check_rc "$name" 1; done
((have_secretlint)) && check_rc secretlint 1

# ---------------------------------------------------------------- results
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "inf" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g ? "PASS" : "MISS") }'; }

gb_files=$(jq '.stats.files' "$work/glassbox.json")
gb_bytes=$(jq '.stats.bytes' "$work/glassbox.json")
gb_errors=$(jq '.errors | length' "$work/glassbox.json")
gb_skipped=$(jq '"\(.stats.binary_skipped) binary, \(.stats.too_large_skipped) too large"' -r "$work/glassbox.json")
gbs_files=$(jq '.stats.files' "$work/glassbox-subset.json")
rg_hidden_files=$(wc -l <"$work/rg-hidden.out")
rg_hidden_lines=$(awk -F: '{ s += $NF } END { printf "%d", s }' "$work/rg-hidden.out")
medium_up='select(.severity == "medium" or .severity == "high" or .severity == "critical")'

row() { printf '%-44s %8s %9s %9s  %s\n' "$@"; }
echo
echo "== results (best of $runs interleaved runs, wall time)"
row "tool" "MB" "seconds" "MB/s" "notes"
row "rg floor (never-matching literal)" "$(mbof "$corpus_bytes")" "${best[rg_floor]}" "$(rate "$corpus_bytes" "${best[rg_floor]}")" "walk-and-read ceiling"
row "rg hidden-char search" "$(mbof "$corpus_bytes")" "${best[rg_hidden]}" "$(rate "$corpus_bytes" "${best[rg_hidden]}")" "$rg_hidden_files files, $rg_hidden_lines lines match"
row "glassbox scan (all rules)" "$(mbof "$corpus_bytes")" "${best[gb]}" "$(rate "$corpus_bytes" "${best[gb]}")" "$(jq '.findings | length' "$work/glassbox.json") findings ($(jq "[.findings[] | $medium_up] | length" "$work/glassbox.json") medium+), $gb_files files read"
row "glassbox scan, subset" "$(mbof "$subset_bytes")" "${best[gb_subset]}" "$(rate "$subset_bytes" "${best[gb_subset]}")" "$(jq '.findings | length' "$work/glassbox-subset.json") findings, $gbs_files files read"
row "rg floor, subset" "$(mbof "$subset_bytes")" "${best[rg_floor_sub]}" "$(rate "$subset_bytes" "${best[rg_floor_sub]}")" "walk-and-read ceiling on the subset"
row "glassbox scan, subset, --jobs 1" "$(mbof "$subset_bytes")" "${best[gb_subset_1]}" "$(rate "$subset_bytes" "${best[gb_subset_1]}")" "single thread, for reference"
if ((have_secretlint)); then
  row "secretlint (preset-recommend), subset" "$(mbof "$subset_bytes")" "${best[secretlint]}" "$(rate "$subset_bytes" "${best[secretlint]}")" "$sl_msgs findings, $sl_files of $subset_files files read, single thread"
else
  row "secretlint (preset-recommend), subset" "-" "-" "-" "skipped: not installed (scripts/bootstrap.sh --bench)"
fi
row "glassbox startup (empty directory)" "0.0" "${best[gb_startup]}" "-" "fixed cost per run"
if ((have_secretlint)); then
  row "secretlint startup (one 6-byte file)" "0.0" "${best[sl_startup]}" "-" "fixed cost per run (node start, rule loading)"
fi

echo
rrow() { printf '%-44s %9s %9s  %s\n' "$@"; }
rrow "ratio (glassbox speed / other)" "value" "goal" ""
r=$(ratio "${best[rg_hidden]}" "${best[gb]}")
rrow "glassbox vs rg hidden-char search" "${r}x" ">= 1.5x" "$(verdict "$r" 1.5)"
r=$(ratio "${best[rg_floor]}" "${best[gb]}")
rrow "glassbox vs rg floor" "${r}x" "-" "(rg floor is the walk-and-read ceiling)"
if ((have_secretlint)); then
  r=$(ratio "${best[secretlint]}" "${best[gb_subset]}")
  rrow "glassbox vs secretlint (subset)" "${r}x" ">= 50x" "$(verdict "$r" 50)"
  r=$(ratio "${best[secretlint]}" "${best[gb_subset_1]}")
  rrow "glassbox --jobs 1 vs secretlint (subset)" "${r}x" "-" "(both single-threaded)"
  r=$(ratio "${best[secretlint]}" "${best[rg_floor_sub]}")
  rrow "rg floor vs secretlint (subset)" "${r}x" "-" "(the most any scanner reading these files could reach)"
else
  rrow "glassbox vs secretlint (subset)" "-" ">= 50x" "skipped: secretlint not installed"
fi

echo
echo "effective CPUs (busy-loop check): $cpu_before before the runs, $cpu_after after"
if [[ ${BENCH_CALLGRIND:-0} == 1 ]]; then
  if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.subset" \
      "$glassbox" scan --format json --no-ignore --jobs 1 "$subset" >/dev/null 2>"$work/callgrind.subset.err" || true
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/callgrind.subset.err" | tail -1)
    echo "instructions, glassbox scan --jobs 1 of the subset: ${ir:-?} = $(awk -v i="${ir:-0}" -v b="$subset_bytes" 'BEGIN { printf "%.1f", i / (b / 1e6) / 1e6 }') million per MB (callgrind; $work/callgrind.subset)"
    # the fixed cost of a run, counted the same way (dynamic linking included)
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.startup" \
      "$glassbox" scan --format json --no-ignore --jobs 1 "$work/empty" >/dev/null 2>"$work/callgrind.startup.err" || true
    ir0=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/callgrind.startup.err" | tail -1)
    echo "instructions, glassbox start-up (empty directory): ${ir0:-?} (callgrind; $work/callgrind.startup)"
  else
    echo "instructions: skipped (valgrind not installed)"
  fi
fi
echo "glassbox coverage: $gb_files files / $(mbof "$gb_bytes") MB read of $corpus_files files / $(mbof "$corpus_bytes") MB; skipped: $gb_skipped; errors: $gb_errors"

echo
echo "== glassbox findings at medium or above, by rule (full corpus)"
jq -r "[.findings[] | $medium_up] | group_by(.rule)
       | map({rule: .[0].rule, n: length,
              sev: (group_by(.severity) | map(\"\(.[0].severity) \(length)\") | join(\", \"))})
       | sort_by(-.n, .rule) | .[] | [(.n | tostring), .rule, .sev] | @tsv" "$work/glassbox.json" \
  | awk -F'\t' 'BEGIN { printf "%8s  %-46s %s\n", "count", "rule", "by severity" }
                { printf "%8s  %-46s %s\n", $1, $2, $3; t += $1 }
                END { printf "%8d  %-46s\n", t, "total" }'

echo
echo "== example medium+ findings (round-robin over rules; paths relative to the corpus)"
jq -r --arg root "$corpus/" "[.findings[] | $medium_up] | group_by(.rule) | sort_by(-length)
       | [to_entries[] as \$g | \$g.value | to_entries[] | {i: .key, g: \$g.key, f: .value}]
       | sort_by(.i, .g) | .[:${BENCH_EXAMPLES:-10}][] | .f
       | \"\(.path | ltrimstr(\$root)):\(.line) \(.rule) [\(.severity)] \(.message)\"" "$work/glassbox.json"

echo
echo "raw outputs: $work"
