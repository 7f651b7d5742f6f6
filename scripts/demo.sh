#!/usr/bin/env bash
# make demo: scan a generated repository with planted problems, then clean one file.
set -euo pipefail
gb=${1:-build/glassbox}
here=$(cd "$(dirname "$0")/.." && pwd)
demo="$here/build/demo-repo"
bash "$here/examples/make-poisoned-repo.sh" "$demo"

echo "== glassbox scan $demo"
echo
set +e
(cd "$demo" && "$here/$gb" scan --color always .)
code=$?
set -e
echo
echo "exit code $code (1: findings at or above --fail-on high)"
echo
echo "== the same scan as JSON, counted by rule"
(cd "$demo" && "$here/$gb" scan --format json . || true) |
  jq -r '.findings | group_by(.rule) | .[] | "\(length)  \(.[0].rule)"'
echo
echo "== glassbox clean --check AGENTS.md src/auth.js"
(cd "$demo" && "$here/$gb" clean --check AGENTS.md src/auth.js || true)

echo
echo "== glassbox audit tests/audit/samples/base64_xor_hosts.js"
echo "   (a sample that hides a domain list with base64+xor and changes its output on a match)"
echo
"$here/$gb" audit "$here/tests/audit/samples/base64_xor_hosts.js" || true
echo
