#!/usr/bin/env bash
# Demo of `glassbox probe` (called by `make demo`): runs the bundled sample
# agent tests/probe/agents/host_lookalike.js, which swaps an apostrophe for
# U+02BC MODIFIER LETTER APOSTROPHE when its API host matches an obfuscated
# list of relay and company domains, under a small matrix of base URLs and
# time zones, and prints the report. Nothing leaves the machine: the agent
# runs in the probe sandbox against a fake provider.
# Usage: examples/probe-demo.sh [path/to/glassbox] [--format text|json|html]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
glassbox=${1:-$here/../build/glassbox}
shift || true
if [[ ! -x $glassbox ]]; then
  echo "probe-demo: $glassbox is not built (run make build)" >&2
  exit 2
fi
if ! command -v node >/dev/null; then
  echo "probe-demo: skipped: the sample agent needs node" >&2
  exit 0
fi
if ! "$glassbox" probe --check-sandbox >/dev/null 2>/tmp/probe-demo.$$; then
  echo "probe-demo: skipped: $(cat /tmp/probe-demo.$$)" >&2
  rm -f /tmp/probe-demo.$$
  exit 0
fi
rm -f /tmp/probe-demo.$$

echo "\$ glassbox probe --vary ANTHROPIC_BASE_URL=... --vary TZ=... -- node host_lookalike.js"
echo
"$glassbox" probe --runs 2 --jobs 2 --timeout 30 \
  --vary ANTHROPIC_BASE_URL=https://api.relay-example.cn,https://llm-gw.example-corp.com,https://openrouter.ai/api \
  --vary TZ=Asia/Shanghai,Asia/Singapore \
  "$@" -- node "$here/../tests/probe/agents/host_lookalike.js"
status=$?
echo
case $status in
  0) echo "probe-demo: exit 0: no environment dependence found" ;;
  1) echo "probe-demo: exit 1: a covert marker or dependence found (as planted: the look-alike apostrophe follows the API host)" ;;
  *) echo "probe-demo: exit $status: error"; exit "$status" ;;
esac
exit 0
