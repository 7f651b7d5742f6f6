#!/usr/bin/env bash
# End-to-end: the official SDKs (@anthropic-ai/sdk, openai, @google/genai,
# pinned in scripts/npm-test-tools.package.json) as clients of the real
# `glassbox gate`, which routes every model to a strict fake Chat
# Completions server (gate_fake_upstream --strict-chat: unknown members are
# 400s, as at api.openai.com). All on 127.0.0.1. Skips (77) without node or
# the SDKs.
# usage: gate_translate_e2e.sh glassbox gate_fake_upstream NPM_TOOLS_DIR
FAKE=${2:?usage: $0 glassbox gate_fake_upstream npm-tools-dir}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
TOOLS=${3:?usage: $0 glassbox gate_fake_upstream npm-tools-dir}
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
for p in @anthropic-ai/sdk openai @google/genai; do
  if [[ ! -d $TOOLS/node_modules/$p ]]; then
    echo "SKIP: $p is not in $TOOLS (run scripts/bootstrap.sh --test)"; exit 77
  fi
done
TOOLS=$(cd "$TOOLS" && pwd)
source "$HERE/lib.sh"
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

"$FAKE" --strict-chat --record up.jsonl > fake.out 2>fake.err &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }

# Anything that is not routed would go to the public APIs: point those at a
# closed loopback port so nothing can leave the machine.
"$GB" gate --listen 127.0.0.1:0 --upstream local=openai-chat+http://127.0.0.1:$UP/v1 \
  --upstream anthropic=http://127.0.0.1:9 --upstream openai=http://127.0.0.1:9 --upstream gemini=http://127.0.0.1:9 \
  --route 'gpt-4o=local:qwen3-8b' --default-route local:qwen3-coder --count-tokens --log audit.db > gate.out 2>gate.err &
PIDS+=($!)
G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
  echo "gate did not start: $(cat gate.err)"; exit 1; }

# The SDKs' own modules: the script is copied beside node_modules.
mkdir -p sdk && cp "$HERE/gate_translate_sdk_clients.mjs" sdk/ && ln -s "$TOOLS/node_modules" sdk/node_modules
if node sdk/gate_translate_sdk_clients.mjs "$G" > sdk.out 2>&1; then ok; else bad "SDK clients: $(grep -v '^ok' sdk.out | head -c 3000)"; fi
cat sdk.out
n=$(grep -c '^ok ' sdk.out)
[[ $n -ge 11 ]] && ok || bad "expected at least 11 SDK checks to pass, got $n"

# The strict server accepted every translated request.
if grep -q '"event":"rejected"' up.jsonl; then bad "the strict Chat server rejected: $(grep rejected up.jsonl | head -3)"; else ok; fi
targets=$(grep -o '"target":"[^"]*"' up.jsonl | sort | uniq -c)
[[ $(grep -o '"target":"[^"]*"' up.jsonl | grep -vc '"target":"/v1/chat/completions"') == 0 ]] && ok || bad "non-chat targets: $targets"
# No client credential reached the Chat server.
if grep -q 'sk-ant-e2e-client-key\|gemini-e2e-client-key' up.jsonl; then bad "a client key reached the upstream"; else ok; fi
grep -q '"model\\":\\"qwen3-8b\\"' up.jsonl && ok || bad "the gpt-4o route did not rename the model"

# The log shows the client's request and what went upstream, and verifies.
expect_exit 0 "log verify" -- "$GB" log verify --log audit.db
id=$("$GB" log list --log audit.db | awk '/\/v1\/messages /{print $1; exit}')
expect_exit 0 "log show" -- "$GB" log show "$id" --log audit.db
grep -q 'request_body: .*claude-sonnet-4-5' out && grep -q 'sent upstream: .*"model":"qwen3-coder"' out && ok ||
  bad "log show lacks the client's or the upstream's request: $(head -c 600 out)"
"$GB" log search gate/token-estimate --log audit.db | grep -q count_tokens && ok || bad "count_tokens estimate not logged"
finish
