#!/usr/bin/env bash
# End-to-end with real agents (not part of the repository; each is skipped
# when not installed, the test with 77 when none is): Claude Code
# (`claude -p`, Anthropic Messages), Codex (`codex exec`, OpenAI Responses)
# and Gemini CLI (`gemini -p`, Gemini streamGenerateContent) through the gate to a strict fake OpenAI Chat Completions server
# that plays a model: it asks for the agent's shell tool once, then answers
# with what the tool printed. Each turn runs a tool for real (a marker file
# appears) and ends with the model's answer. Everything stays on 127.0.0.1:
# the public upstreams point at a closed port and a dead proxy catches
# anything else an agent might try.
# usage: gate_translate_agents_e2e.sh glassbox gate_fake_upstream
#   $GLASSBOX_CLAUDE, $GLASSBOX_CODEX, $GLASSBOX_GEMINI: the agents (default: the copies in /work/agents/inst)
FAKE=${2:?usage: $0 glassbox gate_fake_upstream}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
CLAUDE=${GLASSBOX_CLAUDE:-/work/agents/inst/claude-2.1.332/node_modules/.bin/claude}
CODEX=${GLASSBOX_CODEX:-/work/agents/inst/codex/node_modules/.bin/codex}
GEMINI=${GLASSBOX_GEMINI:-/work/agents/inst/gemini/node_modules/.bin/gemini}
if [[ ! -x $CLAUDE && ! -x $CODEX && ! -x $GEMINI ]]; then
  echo "SKIP: none of Claude Code ($CLAUDE), Codex ($CODEX), Gemini CLI ($GEMINI) is installed"; exit 77
fi
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

# start_pair TOOL_NAME ARGUMENTS: a scripted strict Chat server and a gate routing everything to it.
start_pair() {
  rm -rf up.jsonl fake.out gate.out audit.db*
  "$FAKE" --strict-chat --record up.jsonl --script-tool "$1=$2" > fake.out 2>fake.err &
  PIDS+=($!)
  UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }
  "$GB" gate --listen 127.0.0.1:0 --upstream local=openai-chat+http://127.0.0.1:$UP/v1 \
    --upstream anthropic=http://127.0.0.1:9 --upstream openai=http://127.0.0.1:9 --upstream gemini=http://127.0.0.1:9 \
    --default-route local:qwen3-coder --count-tokens --log audit.db > gate.out 2>gate.err &
  PIDS+=($!)
  G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
    echo "gate did not start: $(cat gate.err)"; exit 1; }
}
# check_turn AGENT: the tool ran, the answer carries its output, the strict server took every request.
check_turn() {
  [[ $(cat proj/ran.txt 2>/dev/null) == translated-tool-ran ]] && ok || bad "$1: the shell tool did not run (no marker file)"
  tr '\n' ' ' < "$1.out" | grep -q 'The tool ran and said: .*marker-written' && ok || bad "$1: the final answer lacks the tool's output: $(head -c 400 "$1.out")"
  if grep -q '"event":"rejected"' up.jsonl; then bad "$1: the strict Chat server rejected: $(grep -m3 rejected up.jsonl)"; else ok; fi
  grep -q '"role\\":\\"tool\\"' up.jsonl && ok || bad "$1: no tool message reached the upstream"
  grep -q 'e2e-not-a-key' up.jsonl && bad "$1: the client's key reached the upstream" || ok
  expect_exit 0 "$1: log verify" -- "$GB" log verify --log audit.db
  "$GB" log list --log audit.db
}
AGENT_ENV=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/home" HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
           NO_PROXY=127.0.0.1,localhost)

if [[ -x $CLAUDE ]]; then
  start_pair Bash '{"command":"echo translated-tool-ran > ran.txt && echo marker-written","description":"Write a marker file"}'
  rm -rf home proj && mkdir -p home proj
  (cd proj && timeout 180 env -i "${AGENT_ENV[@]}" ANTHROPIC_BASE_URL="$G" ANTHROPIC_API_KEY=sk-ant-api03-e2e-not-a-key \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
    "$CLAUDE" -p "Write the marker file using Bash" --allowedTools Bash > ../claude.out 2> ../claude.err)
  code=$?
  [[ $code == 0 ]] && ok || bad "claude exited $code: $(head -c 800 claude.out claude.err)"
  check_turn claude
else
  echo "note: Claude Code not installed at $CLAUDE; its turn is skipped"
fi

if [[ -x $CODEX ]]; then
  start_pair exec_command '{"cmd":"echo translated-tool-ran > ran.txt && echo marker-written"}'
  rm -rf home proj && mkdir -p home/.codex proj
  printf 'model = "gpt-5-codex"\nmodel_provider = "glassbox"\n[model_providers.glassbox]\nname = "glassbox"\nbase_url = "%s/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n' "$G" > home/.codex/config.toml
  (cd proj && timeout 180 env -i "${AGENT_ENV[@]}" CODEX_HOME="$WORK/home/.codex" OPENAI_API_KEY=sk-e2e-not-a-key \
    "$CODEX" exec --skip-git-repo-check -s workspace-write "Write the marker file" < /dev/null > ../codex.out 2> ../codex.err)
  code=$?
  [[ $code == 0 ]] && ok || bad "codex exited $code: $(head -c 800 codex.out; grep -v WARNING codex.err | head -c 800)"
  check_turn codex
else
  echo "note: Codex not installed at $CODEX; its turn is skipped"
fi

if [[ -x $GEMINI ]]; then
  start_pair run_shell_command '{"command":"echo translated-tool-ran > ran.txt && echo marker-written","description":"Write a marker file"}'
  rm -rf home proj && mkdir -p home/.gemini proj
  echo '{"security":{"auth":{"selectedType":"gemini-api-key"},"folderTrust":{"enabled":false}},"telemetry":{"enabled":false},"privacy":{"usageStatisticsEnabled":false}}' \
    > home/.gemini/settings.json
  (cd proj && timeout 180 env -i "${AGENT_ENV[@]}" GEMINI_API_KEY=gemini-e2e-not-a-key GOOGLE_GEMINI_BASE_URL="$G" \
    "$GEMINI" -p "Write the marker file" --yolo < /dev/null > ../gemini.out 2> ../gemini.err)
  code=$?
  [[ $code == 0 ]] && ok || bad "gemini exited $code: $(head -c 800 gemini.out; grep -v '^ *at ' gemini.err | head -c 800)"
  check_turn gemini
else
  echo "note: Gemini CLI not installed at $GEMINI; its turn is skipped"
fi
finish
