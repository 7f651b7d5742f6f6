#!/usr/bin/env bash
# Hostile-input benchmark (issue 16): time and peak RSS of glassbox on inputs built to be slow
# or large, each against the same bytes in an easy shape where that makes sense.
#
# Usage: bench/hostile_bench.sh GLASSBOX_BINARY
#
# Rows:
#   one-line-100MB    a 100 MB file that is one line (ASCII with an invalid byte and a hidden
#                     character every few KB), scanned as a file
#   short-lines-100MB the same bytes in 80-byte lines
#   yes-2G-stdin      `yes | head -c 2G | glassbox scan -` (stdin read in windows)
#   yes-2G-clean      `yes | head -c 2G | glassbox clean` to /dev/null
#   bidi-1M           one million U+202E in 3 MB
#   filter-invalid    `glassbox filter` on rows of invalid UTF-8 and raw control bytes (every row
#                     rejected, reject records to /dev/null), HOSTILE_FILTER_MB of them
#
# Environment (optional): HOSTILE_MB=100 size of the one-line file, HOSTILE_STDIN=2G size given
# to head -c, HOSTILE_FILTER_MB=400 size of the invalid rows. Work files go to build/bench-work
# (removed at the end). Peak RSS comes from GNU time (/usr/bin/time -f %M). glassbox exits 1 on findings; that is not a failure here.
set -euo pipefail
export LC_ALL=C
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX_BINARY" >&2
  exit 2
fi
glassbox=$(realpath "$1")
[[ -x $glassbox ]] || { echo "hostile_bench: $1 is not an executable" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "hostile_bench: needs GNU time in /usr/bin/time" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work="$here/build/bench-work/hostile"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
mb=${HOSTILE_MB:-100}
stdin_size=${HOSTILE_STDIN:-2G}
filter_mb=${HOSTILE_FILTER_MB:-400}

python3 - "$work" "$mb" "$filter_mb" <<'PY'
import sys
work, mb, filter_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = (b"x" * 4000 + b"\xff" + "\u200b".encode() + b"y" * 90)
n = mb * 1000 * 1000 // len(chunk)
with open(f"{work}/one-line.txt", "wb") as f:
    f.write(chunk * n)
with open(f"{work}/short-lines.txt", "wb") as f:
    data = chunk * n
    f.write(b"\n".join(data[i:i + 79] for i in range(0, len(data), 79)))
with open(f"{work}/bidi.txt", "wb") as f:
    f.write("\u202e".encode() * 1000000)
row = b'{"t": "' + b"\xff\x01" * 2000 + b'"}\n'
with open(f"{work}/invalid.jsonl", "wb") as f:
    for _ in range(filter_mb * 1000 * 1000 // len(row)):
        f.write(row)
PY

row() {  # row NAME COMMAND...: prints name, wall seconds, CPU seconds (user + system), peak RSS
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" > /dev/null 2> "$work/err" || true
  read -r secs user sys kb < <(tail -n 1 "$work/t")
  printf '%-22s %8.2f s wall %8.2f s CPU %8.1f MB peak RSS\n' "$name" "$secs" "$(echo "$user + $sys" | bc -l)" \
    "$(echo "$kb / 1024" | bc -l)"
}
echo "glassbox hostile inputs ($(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg))"
row "one-line-${mb}MB" "$glassbox" scan --format json "$work/one-line.txt"
row "short-lines-${mb}MB" "$glassbox" scan --format json "$work/short-lines.txt"
row "yes-${stdin_size}-stdin" bash -c "yes | head -c $stdin_size | '$glassbox' scan --format json -"
row "yes-${stdin_size}-clean" bash -c "yes | head -c $stdin_size | '$glassbox' clean"
row "bidi-1M" "$glassbox" scan --format json "$work/bidi.txt"
row "filter-invalid-${filter_mb}MB" bash -c "'$glassbox' filter --rejects /dev/null < '$work/invalid.jsonl'"
