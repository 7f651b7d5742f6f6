#!/usr/bin/env bash
# Issue 14, item 1: glassbox's decoder evaluator against Duktape (an embedded
# JavaScript engine Debian ships) on the same decoder call sites: a generated
# ES5 bundle (15,000 hex+XOR calls, which both can run) and, when given, real
# agents (qodercli's ~15k `_$d("…")` calls, Claude Code 2.1.197's `Wla` lists).
# Prints one table row per decoder: calls, results, CPU seconds, agreement.
#
# Usage: bench/audit_jsengine_bench.sh BUILD_DIR [TARGET NAME]...
#   e.g. bench/audit_jsengine_bench.sh build qodercli-1.1.52.tgz '_$d' \
#          claude-code-linux-x64-2.1.197/package/claude Wla
# Needs duktape-dev (scripts/bootstrap.sh); without it the bench says it was
# skipped.
set -euo pipefail
if [[ $# -lt 1 || $(( ($# - 1) % 2 )) -ne 0 ]]; then
  echo "usage: $0 BUILD_DIR [TARGET NAME]..." >&2
  exit 2
fi
bench="$1/src/audit/audit_jsengine_bench"
[[ -x $bench ]] || { echo "audit_jsengine_bench: $bench missing: cmake --build $1 --target audit_jsengine_bench" >&2; exit 2; }
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/es5_decoders.js" <<'PY'
import random, sys
random.seed(3)
words = "alpha beta gamma delta render prompt config session token model stream retry cache user".split()
out = ['var K = 7;\nfunction dec(h){var o="";for(var i=0;i<h.length;i+=2)o+=String.fromCharCode(parseInt(h.substr(i,2),16)^K);return o}\n']
for n in range(15000):
    s = "%s_%s_%d.example.com" % (random.choice(words), random.choice(words), n)
    out.append('var v%d = dec("%s");\n' % (n, "".join("%02x" % (ord(c) ^ 7) for c in s)))
open(sys.argv[1], "w").write("".join(out))
PY
"$bench" "$work/es5_decoders.js" dec 2>&1 | sed -e "s|^| |" -e "s|^ ||"
while [[ $# -ge 2 ]]; do
  if [[ -e $1 ]]; then
    echo "$1:"
    "$bench" "$1" "$2" 2>&1 | tail -1
  else
    echo "audit_jsengine_bench: $1 missing; skipped" >&2
  fi
  shift 2
done
