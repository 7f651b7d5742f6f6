#!/usr/bin/env bash
# Detection quality, beside the peer where there is one (issue 15):
#   1. legitimate real text (tests/corpus/make_real_corpus.sh from scripts/fetch_real_text.sh):
#      findings at medium or above per MB, and files `clean` would change;
#   2. the labelled hidden-Unicode cases (tests/corpus/unicode.toml): positives found,
#      legitimate cases left silent;
#   3. secret recall and false flags on samples written from each provider's documented key
#      format (the true/false samples of rules/secrets/*.toml), per rule file, for glassbox
#      and secretlint (build/npm-tools, from scripts/bootstrap.sh --bench).
# gitleaks' and trufflehog's own test samples live in their Go sources, which neither npm
# nor Debian ships and the Go module proxy is not reachable from here; secretlint's npm
# packages ship no fixtures. So the secret suites are our own samples of the documented
# formats, and the peer is run on exactly the same files.
#
# Usage: bench/detection_bench.sh GLASSBOX_BINARY
set -uo pipefail
export LC_ALL=C.UTF-8
glassbox=$(realpath "${1:?usage: $0 GLASSBOX_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$here/build
work=$build/bench-work/detection
secretlint=$build/npm-tools/node_modules/.bin/secretlint
rm -rf "$work"
mkdir -p "$work"

echo
echo "== detection quality"

# ---------------------------------------------------------------- 1. real text
if bash "$here/scripts/fetch_real_text.sh" "$build/real-text" && \
   bash "$here/tests/corpus/make_real_corpus.sh" "$build/real-text" "$build/real-corpus"; then
  corpus=$build/real-corpus
  "$glassbox" scan --format json --no-ignore "$corpus" >"$work/real.json" 2>/dev/null
  (cd "$corpus" && cut -f1 MANIFEST.tsv | tr '\n' '\0' | xargs -0 -n 1000 "$glassbox" clean --check >/dev/null 2>"$work/real-clean.err")
  jq -r --arg changed "$(grep -c ': would change ' "$work/real-clean.err")" '
    ([.findings[] | select(.severity == "medium" or .severity == "high" or .severity == "critical")] | length) as $m
    | "real text (Debian man pages, dictionaries, locales, Compose, UCD; CLDR, moment, date-fns): \(.stats.files) files, \(.stats.bytes / 1e6 * 10 | round / 10) MB\n  medium+ findings: \($m) = \($m / (.stats.bytes / 1e6) * 1000 | round / 1000) per MB (goal < 0.1); files clean would change: \($changed) (labelled exceptions: tests/corpus/real_text_labels.tsv)"' "$work/real.json"
  jq -r '[.findings[] | select(.severity == "medium" or .severity == "high" or .severity == "critical")] | group_by(.rule) | .[] | "    \(length) \(.[0].rule)"' "$work/real.json"
else
  echo "real text: skipped (scripts/fetch_real_text.sh could not fetch the packages)"
fi

# ---------------------------------------------------------------- 2. labelled unicode cases
python3 - "$here/tests/corpus/unicode.toml" "$work/unicode" <<'EOF'
import os, sys, tomllib
cases = tomllib.load(open(sys.argv[1], 'rb'))['case']
out = sys.argv[2]
for i, c in enumerate(cases):
    d = os.path.join(out, 'pos' if c['expect'] else 'neg', '%03d' % i)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, os.path.basename(c.get('path', 'input.txt'))), 'w', encoding='utf-8', newline='') as f:
        f.write(c['text'])
EOF
"$glassbox" scan --format json --no-ignore --min-severity low --rules unicode "$work/unicode" >"$work/unicode.json" 2>/dev/null
pos=$(find "$work/unicode/pos" -type f | wc -l)
neg=$(find "$work/unicode/neg" -type f | wc -l)
pos_hit=$(jq -r '[.findings[] | select(.rule | startswith("unicode/")) | .path | select(test("/pos/"))] | map(split("/")[-2]) | unique | length' "$work/unicode.json")
neg_hit=$(jq -r '[.findings[] | select(.rule | startswith("unicode/")) | .path | select(test("/neg/"))] | map(split("/")[-2]) | unique | length' "$work/unicode.json")
echo "hidden-Unicode cases (tests/corpus/unicode.toml): positives found $pos_hit of $pos; legitimate cases with a finding: $neg_hit of $neg"

# ---------------------------------------------------------------- 3. secret suites
python3 - "$here/rules/secrets" "$work/secrets" <<'EOF'
import glob, os, sys, tomllib
out = sys.argv[2]
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.toml'))):
    suite = os.path.basename(path)[:-5]
    rules = tomllib.load(open(path, 'rb')).get('rule', [])
    for r in rules:
        name = r['id'].split('/')[-1]
        for kind in ('true_positives', 'false_positives'):
            for i, s in enumerate(r.get(kind, [])):
                d = os.path.join(out, suite, 'tp' if kind == 'true_positives' else 'fp')
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, '%s-%d.txt' % (name, i)), 'w', encoding='utf-8') as f:
                    f.write(s + '\n')
EOF
"$glassbox" scan --format json --no-ignore --min-severity low --rules secret "$work/secrets" >"$work/secrets-gb.json" 2>/dev/null
jq -r '.findings[] | select(.rule | startswith("secret/")) | .path' "$work/secrets-gb.json" | sort -u >"$work/gb-hits"
have_sl=0
if [[ -x $secretlint ]]; then
  have_sl=1
  printf '{\n  "rules": [{ "id": "@secretlint/secretlint-rule-preset-recommend" }]\n}\n' >"$work/.secretlintrc.json"
  (cd "$work" && "$secretlint" --secretlintrc "$work/.secretlintrc.json" --no-gitignore --format json \
     --output "$work/secrets-sl.json" "secrets/**/*" >/dev/null 2>&1)
  jq -r '.[] | select(.messages | length > 0) | .filePath' "$work/secrets-sl.json" 2>/dev/null | sort -u >"$work/sl-hits"
fi
printf '%-22s %6s %6s   %-24s %-24s\n' "secret suite" "TPs" "FPs" "glassbox recall / flags" "secretlint recall / flags"
tot_tp=0; tot_fp=0; gb_tp=0; gb_fp=0; sl_tp=0; sl_fp=0
for suite in $(ls "$work/secrets"); do
  d=$work/secrets/$suite
  ntp=$(find "$d/tp" -type f 2>/dev/null | wc -l)
  nfp=$(find "$d/fp" -type f 2>/dev/null | wc -l)
  g_tp=$(grep -c "/secrets/$suite/tp/" "$work/gb-hits")
  g_fp=$(grep -c "/secrets/$suite/fp/" "$work/gb-hits")
  if ((have_sl)); then
    s_tp=$(grep -c "/secrets/$suite/tp/" "$work/sl-hits")
    s_fp=$(grep -c "/secrets/$suite/fp/" "$work/sl-hits")
    sl_col="$s_tp/$ntp, $s_fp/$nfp"
    sl_tp=$((sl_tp + s_tp)); sl_fp=$((sl_fp + s_fp))
  else
    sl_col="(not installed)"
  fi
  printf '%-22s %6d %6d   %-24s %-24s\n' "$suite" "$ntp" "$nfp" "$g_tp/$ntp, $g_fp/$nfp" "$sl_col"
  tot_tp=$((tot_tp + ntp)); tot_fp=$((tot_fp + nfp)); gb_tp=$((gb_tp + g_tp)); gb_fp=$((gb_fp + g_fp))
done
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }'; }
printf '%-22s %6d %6d   %-24s %-24s\n' "total" "$tot_tp" "$tot_fp" "$(pct $gb_tp $tot_tp), $gb_fp flags" \
  "$( ((have_sl)) && echo "$(pct $sl_tp $tot_tp), $sl_fp flags" || echo "-")"
echo "(samples written from the providers' documented formats, in rules/secrets/*.toml; gitleaks' and trufflehog's own"
echo " test data are not obtainable here, secretlint's packages ship none; raw outputs: $work)"
