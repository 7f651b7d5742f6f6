#!/usr/bin/env bash
# End-to-end: the real binary on generated files; output formats, exit codes,
# suppression, staged mode and errors.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
mkdir -p repo/.cursor repo/src repo/docs clean
u 'Summarise.\U000E0049\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065\n' > repo/.cursor/rules.md
u 'if (role != "user\u202E \u2066// admin\u2069 \u2066") {\n' > repo/src/check.js
u 'It\u2019s \u201Cfine\u201D \u2014 caf\u00E9\n' > repo/docs/prose.md
printf 'int main(void) { return 0; }\n' > clean/main.c

expect_exit 0 "version" -- "$GB" --version
grep -q '^glassbox [0-9]' out && ok || bad "version text"
expect_exit 0 "help scan" -- "$GB" help scan
grep -q -- '--fail-on' out && ok || bad "help scan lists --fail-on"
expect_exit 2 "no command" -- "$GB"
expect_exit 2 "unknown command" -- "$GB" frobnicate
expect_exit 2 "unknown flag" -- "$GB" scan --frobnicate
grep -q 'glassbox help scan' err && ok || bad "unknown flag points to help"

expect_exit 0 "clean tree exits 0" -- "$GB" scan clean
expect_exit 1 "findings exit 1" -- "$GB" scan repo
grep -q 'CRITICAL unicode/tag-characters' out && ok || bad "text output names rule and severity"
grep -q 'decoded: "Ignore"' out && ok || bad "text output shows decoded text"
grep -q 'U+202E RIGHT-TO-LEFT OVERRIDE' out && ok || bad "text output names code points"
grep -q 'prose.md' out && bad "prose with typographic quotes must stay quiet" || ok

expect_exit 1 "json" -- "$GB" scan --format json repo
expect_true "json contract" -- jq -e '.tool == "glassbox" and (.version|type=="string") and (.stats.files == 3)
  and ([.findings[] | select(.rule=="unicode/tag-characters" and .severity=="critical" and .decoded=="Ignore"
       and .codepoints[0]=="U+E0049" and .line==1 and .column>1 and (.byte_offset|type=="number"))] | length == 1)' out
expect_exit 1 "sarif" -- "$GB" scan --format sarif repo
expect_true "sarif shape" -- jq -e '.version=="2.1.0" and (.runs[0].tool.driver.rules|length>10)
  and (.runs[0].results|length==2) and (.runs[0].results[0].partialFingerprints["glassbox/v1"]|length==32)
  and (.runs[0].results[] | .locations[0].physicalLocation.region.startLine >= 1)' out

expect_exit 0 "fail-on none" -- "$GB" scan --fail-on none repo
expect_exit 1 "fail-on critical" -- "$GB" scan --fail-on critical repo
expect_exit 2 "bad severity" -- "$GB" scan --fail-on severe repo
grep -q "not a severity" err && ok || bad "bad severity message"
expect_exit 0 "rules=secret only" -- "$GB" scan --rules secret repo
expect_exit 2 "bad family" -- "$GB" scan --rules nope repo
expect_exit 0 "exclude" -- "$GB" scan --exclude '.cursor/**' --exclude 'src/*' repo

# stdin
expect_exit 1 "stdin" -- bash -c "u() { printf \"\$@\"; }; u 'x\U000E0041\n' | '$GB' scan -"
grep -q '^-:1:2' out && ok || bad "stdin findings are named -"

# missing input: error, exit 2, message names it
expect_exit 2 "missing path" -- "$GB" scan does-not-exist
grep -q 'does-not-exist' err && ok || bad "missing path is named"

# baseline survives an edit elsewhere in the file
expect_exit 0 "write baseline" -- "$GB" scan --write-baseline base.json repo
printf '// new first line\n' | cat - repo/src/check.js > t && mv t repo/src/check.js
expect_exit 0 "baseline hides known findings after an edit" -- "$GB" scan --baseline base.json repo
u 'x = "\u202E";\n' >> repo/src/check.js
expect_exit 1 "baseline lets new findings through" -- "$GB" scan --baseline base.json repo
expect_exit 2 "bad baseline" -- "$GB" scan --baseline repo/src/check.js repo

# .glassbox.toml
cat > repo/.glassbox.toml <<'TOML'
[scan]
disable = ["unicode/bidi-control"]
[[ignore]]
paths = [".cursor/**"]
TOML
expect_exit 0 "config disables and ignores" -- bash -c "cd repo && '$GB' scan"
printf '[scan]\nfail_on = 3\nbogus = 1\n' > repo/.glassbox.toml
expect_exit 2 "bad config" -- bash -c "cd repo && '$GB' scan"
grep -q '.glassbox.toml' err && ok || bad "bad config is named"
rm repo/.glassbox.toml

# data sets
printf '{"text":"fine"}\n{"text":"bad \\udb40\\udc41\\udb40\\udc42"}\n' > data.jsonl
expect_exit 1 "jsonl" -- "$GB" scan --format json data.jsonl
expect_true "jsonl row and path" -- jq -e '.findings[0].row==2 and .findings[0].json_path=="$.text" and .findings[0].decoded=="AB"' out

# secrets are masked in every format
key="ghp_Zq3vR8tYw2LmN4pXk7sB1dF6hJ9cV0aE5uGi"
printf 'GITHUB_TOKEN=%s\n' "$key" > env.sh
for fmt in text json sarif; do
  "$GB" scan --format $fmt env.sh > out 2>&1
  grep -q "$key" out && bad "secret shown in clear in $fmt" || ok
  grep -q "secret/github" out && ok || bad "secret found in $fmt"
done

# --staged scans the index, not the work tree
mkdir st && cd st && git init -q && git config user.email t@e && git config user.name t
printf 'clean\n' > a.txt && git add a.txt && git commit -qm init
u 'staged \u202E\n' > a.txt && git add a.txt
printf 'clean again\n' > a.txt
expect_exit 1 "staged sees the staged blob" -- "$GB" scan --staged
mkdir -p sub && u 'x = "\u202E"\n' > sub/a.py && git add sub/a.py
expect_exit 0 "staged honours --exclude on names like a directory scan" -- "$GB" scan --staged --exclude a.txt --exclude '*.py'
expect_exit 0 "staged honours folder excludes" -- "$GB" scan --staged --exclude a.txt --exclude 'sub/'
git reset -q a.txt sub/a.py
u 'unstaged \u202E\n' > a.txt
expect_exit 0 "staged ignores unstaged changes" -- "$GB" scan --staged
cd ..
expect_exit 2 "staged outside git" -- bash -c "cd / && '$GB' scan --staged"

finish
