#!/usr/bin/env bash
# Throughput benchmark for `glassbox filter`: a ~200 MB chat-style JSONL data set, filtered
# with --drop (one scanning thread, and one per core), against `jq -c .` as a trivial pass
# that parses and re-prints every row.
#
# Usage: bench/filter_bench.sh GLASSBOX_BINARY
#
# Environment (all optional):
#   BENCH_FILTER_MB=200   data set size in decimal MB
#   BENCH_RUNS=3          interleaved rounds (every command once per round); best wall time kept
#
# The data set is generated (python3, fixed seed, so the same bytes every time) into
# build/bench-filter/chat.jsonl and reused while its stamp matches. Rows look like chat
# fine-tuning data: a system prompt and 2–6 turns of prose with code blocks, accents, CJK,
# Cyrillic, emoji and typographic quotes; a third of the rows are written with \u escapes
# (ensure_ascii), the rest as raw UTF-8. About 0.5% of rows carry something to reject: tag
# characters, a zero-width space, bidi controls, an invisible operator or an agent trailer.
# glassbox exits 1 because rows are rejected; that is not treated as a failure here.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX_BINARY" >&2
  exit 2
fi
glassbox=$(realpath "$1")
[[ -x $glassbox ]] || { echo "filter_bench: $1 is not an executable" >&2; exit 2; }
for tool in jq python3; do
  command -v "$tool" >/dev/null || { echo "filter_bench: $tool not found" >&2; exit 2; }
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work="$here/build/bench-filter"
mb=${BENCH_FILTER_MB:-200}
runs=${BENCH_RUNS:-3}
data="$work/chat.jsonl"
mkdir -p "$work"

# ---------------------------------------------------------------- data set
generator=$(cat <<'PY'
import json, random, sys
out_path, target_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(20240611)
words = ("the a of to and in is it that for on with as this be are was by at from or an not have "
         "function value data model training example return error file system user request response "
         "python code test build server client query result string list number object array config "
         "because however therefore instance update create delete please could would should explain "
         "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe \u4f60\u597d \u4e16\u754c "
         "\u043f\u0440\u0438\u0432\u0435\u0442 \U0001F600 \u2014 \u201cquoted\u201d").split()
code_lines = ['def f(x):', '    return x * 2', 'for i in range(10):', '    print(f"{i}\\t{i*i}")',
              'if (a && b) { return "ok"; }', "const s = 'single';", 'SELECT id, name FROM users WHERE id = 1;',
              '# comment with "quotes" and \\backslash', '\tindented with tab']
hidden = [
    "\U000E0049\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065",  # tag characters spelling "Ignore"
    "pass\u200bword", "admin\u202e\u2066 // \u2069", "x\u2062y",
    "\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
]
def sentence(n):
    return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."
def content():
    parts = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.25:
            parts.append("```python\n" + "\n".join(rng.choice(code_lines) for _ in range(rng.randint(2, 8))) + "\n```")
        else:
            parts.append(" ".join(sentence(rng.randint(5, 20)) for _ in range(rng.randint(1, 5))))
    return "\n\n".join(parts)
target = target_mb * 1000 * 1000
written = n = 0
with open(out_path, "w", encoding="utf-8", newline="\n") as f:
    while written < target:
        n += 1
        msgs = [{"role": "system", "content": "You are a helpful assistant."}]
        for t in range(rng.randint(2, 6)):
            msgs.append({"role": ("user", "assistant")[t % 2], "content": content()})
        if rng.random() < 0.005:
            m = rng.choice(msgs[1:])
            k = rng.randint(0, len(m["content"]))
            m["content"] = m["content"][:k] + rng.choice(hidden) + m["content"][k:]
        row = {"id": f"conv-{n:08d}", "messages": msgs,
               "meta": {"source": "synthetic", "lang": "en", "turns": len(msgs) - 1, "score": round(rng.random(), 4)}}
        line = json.dumps(row, ensure_ascii=(n % 3 == 0)) + "\n"
        f.write(line)
        written += len(line.encode("utf-8"))
PY
)
key="filter-bench v1 mb=$mb $(printf '%s' "$generator" | sha256sum | cut -c1-16)"
if [[ ! -f $data.stamp || $(cat "$data.stamp") != "$key" || ! -f $data ]]; then
  echo "generating $mb MB of JSONL in $data ..." >&2
  rm -f "$data.stamp"
  python3 -c "$generator" "$data.tmp" "$mb"
  mv "$data.tmp" "$data"
  echo "$key" > "$data.stamp"
fi
bytes=$(stat -c %s "$data")
rows=$(wc -l < "$data")

# ---------------------------------------------------------------- timing
now() { date +%s.%N; }
declare -A best
run() {  # run NAME COMMAND...   (stdout and stderr to /dev/null; exit status ignored)
  local name=$1; shift
  local t0 t1 dt
  t0=$(now)
  "$@" >/dev/null 2>&1 || true
  t1=$(now)
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  if [[ -z ${best[$name]:-} ]] || awk -v x="$dt" -v y="${best[$name]}" 'BEGIN { exit !(x < y) }'; then
    best[$name]=$dt
  fi
}
cores=$(nproc)
cat "$data" > /dev/null  # warm the page cache
for ((r = 1; r <= runs; r++)); do
  run "glassbox filter --drop --jobs 1" "$glassbox" filter --drop -q --jobs 1 "$data"
  run "glassbox filter --drop --jobs $cores" "$glassbox" filter --drop -q --jobs "$cores" "$data"
  run "glassbox filter --drop < stdin pipe" bash -c "cat '$data' | '$glassbox' filter --drop -q"
  run "jq -c ." jq -c . "$data"
done

# What the filter decided, once (not timed).
summary=$("$glassbox" filter --drop "$data" 2>&1 >/dev/null || true)

echo
echo "filter benchmark: $data"
printf '  %.1f MB, %d rows; best of %d rounds; %d cores; load average now %s\n' \
  "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$rows" "$runs" "$cores" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "  ${summary#glassbox filter: }"
echo
printf '  %-40s %9s %9s %9s\n' command seconds MB/s "vs jq"
jq_s=${best["jq -c ."]}
for name in "glassbox filter --drop --jobs 1" "glassbox filter --drop --jobs $cores" \
            "glassbox filter --drop < stdin pipe" "jq -c ."; do
  s=${best[$name]}
  awk -v n="$name" -v s="$s" -v b="$bytes" -v j="$jq_s" \
    'BEGIN { printf "  %-40s %9.2f %9.0f %8.1fx\n", n, s, b / 1e6 / s, j / s }'
done
