#!/usr/bin/env bash
# Crash test: two client loops send a bounded load (JSON and streamed
# requests, each with a unique marker) through `glassbox gate` while the gate
# is killed with SIGKILL at random moments four times and restarted. Then the
# log's hash chain must verify, and every exchange a client saw complete must
# be in the log. The gate runs with the default [log] durability ("normal":
# no fsync per commit), the setting whose promise is exactly this: a crash
# of the gate process loses no completed exchange.
FAKE=${2:?usage: $0 path/to/glassbox path/to/gate_fake_upstream}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
source "$(dirname "$0")/lib.sh"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

wait_line() {
  for _ in $(seq 100); do
    grep -m1 "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

"$FAKE" > fake.out 2>fake.err &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }
U=http://127.0.0.1:$UP

# start_gate LISTEN: starts the gate, sets GATE_PID and PORT.
start_gate() {
  : > gate.out
  "$GB" gate --listen "$1" --upstream anthropic=$U --upstream openai=$U --log audit.db > gate.out 2>>gate.err &
  GATE_PID=$!
  PIDS+=($GATE_PID)
  local line
  line=$(wait_line gate.out 'listening on') || { echo "gate did not start: $(tail -3 gate.err)"; exit 1; }
  PORT=$(sed -E 's/.*:([0-9]+) \(log.*/\1/' <<< "$line")
}
start_gate 127.0.0.1:0
echo "$PORT" > port

# JSON requests carry 20 KB of padding: bodies of 16 KB and more are stored
# ahead of their records (docs/gate.md), and that path must survive kill -9 too.
PAD=$(head -c 20000 /dev/zero | tr '\0' 'p')
# client NAME COUNT: sends COUNT requests; records the marker of each one it saw complete.
client() {
  local name=$1 count=$2 i marker port
  for ((i = 0; i < count; i++)); do
    marker="m-$name-$i"
    port=$(cat port)
    if ((i % 2)); then
      out=$(curl -s -N --max-time 5 -H 'content-type: application/json' \
        --data-binary "{\"model\":\"gpt-5\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$marker\"}]}" \
        "http://127.0.0.1:$port/v1/chat/completions") && [[ $out == *'data: [DONE]'* ]] && echo "$marker" >> "done-$name"
    else
      out=$(curl -s --max-time 5 -w '\n%{http_code}' -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        --data-binary "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"$marker $PAD\"}]}" \
        "http://127.0.0.1:$port/v1/messages") && [[ $out == *$'\n200' && $out == *'"type":"message"'* ]] &&
        echo "$marker" >> "done-$name"
    fi
  done
}

client a 150 &
CA=$!
client b 150 &
CB=$!

for k in 1 2 3 4; do
  sleep "0.$((RANDOM % 5 + 2))"
  kill -9 "$GATE_PID"
  wait "$GATE_PID" 2>/dev/null
  start_gate "127.0.0.1:$PORT"
done
wait $CA $CB

completed=$(cat done-a done-b 2>/dev/null | wc -l)
(( completed >= 100 )) && ok || bad "too few exchanges completed under load: $completed"

expect_exit 0 "log verify after four kill -9" -- "$GB" log verify --log audit.db
"$GB" log list --log audit.db --format json > records.json || bad "log list"
jq -r '.[].request_body // empty' records.json | grep -o 'm-[ab]-[0-9]*' | sort -u > logged
sort -u done-a done-b > completed.txt
missing=$(comm -23 completed.txt logged | wc -l)
[[ $missing == 0 ]] && ok || bad "$missing completed exchanges missing from the log: $(comm -23 completed.txt logged | head -5 | tr '\n' ' ')"
echo "completed $completed exchanges, $(wc -l < logged) logged, 4 kills"
finish
