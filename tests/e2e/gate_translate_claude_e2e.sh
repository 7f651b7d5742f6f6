#!/usr/bin/env bash
# End-to-end with a real agent: Claude Code (`claude -p`, not part of the
# repository; skipped with 77 when it is not installed) through the gate to a
# strict fake OpenAI Chat Completions server that plays a model: it asks for
# the Bash tool once, then answers with what the tool printed. The turn runs
# a tool for real (a marker file appears) and ends with the model's answer.
# Everything stays on 127.0.0.1: the public upstreams point at a closed port
# and a dead proxy catches anything else the agent might try.
# usage: gate_translate_claude_e2e.sh glassbox gate_fake_upstream [CLAUDE]
#   CLAUDE defaults to $GLASSBOX_CLAUDE, else the copy in /work/agents/inst.
FAKE=${2:?usage: $0 glassbox gate_fake_upstream [claude]}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
CLAUDE=${3:-${GLASSBOX_CLAUDE:-/work/agents/inst/claude-2.1.332/node_modules/.bin/claude}}
if [[ ! -x $CLAUDE ]]; then echo "SKIP: Claude Code is not installed at $CLAUDE (set GLASSBOX_CLAUDE)"; exit 77; fi
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
source "$(dirname "$0")/lib.sh"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
wait_line() {
  for _ in $(seq 100); do
    grep -m1 "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

"$FAKE" --strict-chat --record up.jsonl \
  --script-tool 'Bash={"command":"echo translated-tool-ran > ran.txt && echo marker-written","description":"Write a marker file"}' \
  > fake.out 2>fake.err &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }
"$GB" gate --listen 127.0.0.1:0 --upstream local=openai-chat+http://127.0.0.1:$UP/v1 \
  --upstream anthropic=http://127.0.0.1:9 --upstream openai=http://127.0.0.1:9 --upstream gemini=http://127.0.0.1:9 \
  --default-route local:qwen3-coder --count-tokens --log audit.db > gate.out 2>gate.err &
PIDS+=($!)
G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
  echo "gate did not start: $(cat gate.err)"; exit 1; }

mkdir -p home proj
(cd proj && timeout 180 env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/home" ANTHROPIC_BASE_URL="$G" \
  ANTHROPIC_API_KEY=sk-ant-api03-glassbox-e2e-not-a-key CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
  DISABLE_AUTOUPDATER=1 HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost \
  "$CLAUDE" -p "Write the marker file using Bash" --allowedTools Bash > ../claude.out 2> ../claude.err)
code=$?
[[ $code == 0 ]] && ok || bad "claude exited $code: $(head -c 800 claude.out claude.err)"
[[ $(cat proj/ran.txt 2>/dev/null) == translated-tool-ran ]] && ok || bad "the Bash tool did not run (no marker file)"
grep -q 'The tool ran and said: .*marker-written' claude.out && ok || bad "the final answer lacks the tool's output: $(head -c 400 claude.out)"
if grep -q '"event":"rejected"' up.jsonl; then bad "the strict Chat server rejected: $(grep -m3 rejected up.jsonl)"; else ok; fi
grep -q '"role\\":\\"tool\\"' up.jsonl && ok || bad "no tool message reached the upstream"
grep -q 'sk-ant-api03-glassbox-e2e' up.jsonl && bad "the client's key reached the upstream" || ok
expect_exit 0 "log verify" -- "$GB" log verify --log audit.db
"$GB" log list --log audit.db
finish
