#!/usr/bin/env bash
# The real-text corpus test (issue 15): on legitimate multilingual text that Debian and npm
# ship (scripts/fetch_real_text.sh, assembled by tests/corpus/make_real_corpus.sh), `clean`
# changes no file but those labelled in tests/corpus/real_text_labels.tsv, and those only by
# removing their labelled code points; `scan` reports fewer than MAX_PER_MB findings at medium
# or above per MB.
# Usage: real_text_test.sh GLASSBOX BUILD_DIR   (exit 77: the corpus was not fetched)
set -uo pipefail
gb=${1:?usage: $0 GLASSBOX BUILD_DIR}
build=${2:?usage: $0 GLASSBOX BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
max_per_mb=${MAX_PER_MB:-0.1}
src=$build/real-text
[[ -f $src/.stamp ]] || src=$here/build/real-text
if [[ ! -f $src/.stamp ]]; then
  echo "real_text_test: no real-text corpus in $build/real-text (scripts/bootstrap.sh --test fetches it); skipped" >&2
  exit 77
fi
corpus=$build/real-corpus
bash "$here/tests/corpus/make_real_corpus.sh" "$src" "$corpus" || exit $?
labels=$here/tests/corpus/real_text_labels.tsv
work=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-real.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0

# 1. clean --check on every file: which would change, and by what
(cd "$corpus" && cut -f1 MANIFEST.tsv | tr '\n' '\0' | xargs -0 -n 1000 "$gb" clean --check >/dev/null 2>"$work/clean.err")
# Files in a legacy 8-bit encoding (Greek hunspell dictionaries are ISO-8859-7) are refused
# with their reason: counted, not a failure. Any other message is.
legacy=$(grep -c ': not UTF-8 text (' "$work/clean.err")
grep -v ': would change ' "$work/clean.err" | grep -v ': not UTF-8 text (' | grep . &&
  { echo "FAIL: clean reported errors" >&2; failed=1; }
files=$(wc -l <"$corpus/MANIFEST.tsv")
changed=$(grep -c ': would change ' "$work/clean.err")
while IFS= read -r line; do
  path=${line%%: would change *}
  allowed=$(awk -F'\t' -v p="$path" '$1 == p { print $2 }' "$labels")
  if [[ -z $allowed ]]; then
    echo "FAIL: clean would change a legitimate file: $line" >&2
    failed=1
    continue
  fi
  for cp in $(grep -o 'U+[0-9A-F]*' <<<"${line#*: would change }"); do
    [[ ,$allowed, == *,$cp,* ]] || { echo "FAIL: clean would remove $cp, not labelled for $path: $line" >&2; failed=1; }
  done
done < <(grep ': would change ' "$work/clean.err")

# 2. findings at medium or above per MB
"$gb" scan --format json --no-ignore "$corpus" >"$work/scan.json" 2>"$work/scan.err"
rc=$?
((rc <= 1)) || { echo "FAIL: scan exited $rc: $(head -c 300 "$work/scan.err")" >&2; failed=1; }
read -r medium bytes < <(jq -r '"\([.findings[] | select(.severity == "medium" or .severity == "high" or .severity == "critical")] | length) \(.stats.bytes)"' "$work/scan.json")
per_mb=$(awk -v m="$medium" -v b="$bytes" 'BEGIN { printf "%.3f", m / (b / 1e6) }')
echo "real-text corpus: $files files, $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB; clean would change $changed (labelled: $(grep -vc '^#' "$labels")), refused $legacy not in UTF-8; medium+ findings: $medium = $per_mb per MB (limit $max_per_mb)"
if awk -v v="$per_mb" -v m="$max_per_mb" 'BEGIN { exit !(v >= m) }'; then
  echo "FAIL: $per_mb medium+ findings per MB on legitimate text (limit $max_per_mb); by rule:" >&2
  jq -r '[.findings[] | select(.severity == "medium" or .severity == "high" or .severity == "critical")] | group_by(.rule) | .[] | "  \(length) \(.[0].rule)"' "$work/scan.json" >&2
  failed=1
fi
exit $failed
