#!/usr/bin/env bash
# End-to-end, issue 17: what an on-call engineer relies on. The real
# `glassbox gate` between curl and the fake upstream, all on 127.0.0.1:
#   1. Expect: 100-continue (curl adds it to bodies over 1 MB) does not hang
#   2. budgets hold: client hang-ups are charged, 40 concurrent requests
#      cannot overshoot, OpenAI Chat streams are metered, 429 has retry-after
#   3. SIGTERM drains streams in flight; SIGHUP and POST /_glassbox/reload
#      reload users and budgets under load, and a bad config is refused
#   4. hidden characters in JSON keys and joiners inside Latin words
FAKE=${2:?usage: $0 path/to/glassbox path/to/gate_fake_upstream}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
source "$(dirname "$0")/lib.sh"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; [[ -n ${KEEP:-} ]] && cp -r "$WORK" /tmp/gate_ops_keep; rm -rf "$WORK"; }
trap cleanup EXIT

wait_line() {
  for _ in $(seq 100); do
    grep -m1 "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

"$FAKE" --record up.jsonl > fake.out 2>fake.err &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }
U=http://127.0.0.1:$UP

write_config() {  # write_config EXTRA_USER_BLOCK
  cat > gate.toml <<EOF
[users.alice]
key = "alice-key-0123456789abcdef"

[users.bob]
key = "bob-key-0123456789abcdef"
daily_tokens = 400

[users.carol]
key = "carol-key-0123456789abcdef"
daily_tokens = 1000
$1
EOF
}
write_config ""

# start_gate NAME [flags...]: the gate's URL in $G, its pid in $GATE_PID
start_gate() {
  local name=$1; shift
  "$GB" gate --listen 127.0.0.1:0 --upstream anthropic=$U --upstream openai=$U --upstream gemini=$U \
    --log audit.db --config gate.toml "$@" > "$name.out" 2> "$name.err" &
  GATE_PID=$!
  PIDS+=($GATE_PID)
  G=$(wait_line "$name.out" 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
    echo "gate did not start: $(cat "$name.err")"; exit 1; }
}
start_gate gate1

A=(-H "anthropic-version: 2023-06-01" -H "content-type: application/json")
key() { echo "x-api-key: $1-key-0123456789abcdef"; }
# records as JSON lines
records() { "$GB" log export --log audit.db; }

# --- 1. Expect: 100-continue ------------------------------------------------
python3 - > big.json <<'EOF'
import json
print(json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 20,
                  "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}))
EOF
# curl sends "Expect: 100-continue" by itself for a body this large.
status=$(curl -s -m 20 -o resp -w '%{http_code}' -H "$(key alice)" "${A[@]}" --data-binary @big.json "$G/v1/messages" \
  --trace-ascii trace.txt)
[[ $status == 200 ]] && ok || bad "2 MB body with Expect: status $status (curl gives 000 on a hang) $(head -c 300 resp)"
grep -q 'Expect: 100-continue' trace.txt && ok || bad "curl did not send Expect (the test tests nothing)"
grep -q '"type":"message"' resp && ok || bad "2 MB body: the final answer"
last_up_headers=$(tail -n1 up.jsonl | jq -r '.headers | keys | join(",")' | tr 'A-Z' 'a-z')
[[ $last_up_headers != *expect* ]] && ok || bad "Expect forwarded upstream: $last_up_headers"
[[ $(records | tail -n1 | jq -r .status) == 200 ]] && ok || bad "2 MB exchange logged with status 200"
# A small body with an explicit expectation.
status=$(curl -s -m 10 -o resp -w '%{http_code}' -H "$(key alice)" "${A[@]}" -H 'Expect: 100-continue' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages")
[[ $status == 200 ]] && ok || bad "small body with Expect: $status"

# --- 2. budgets ---------------------------------------------------------------
# A client that hangs up before the stream's final event is charged: input
# from the request, output from what it got. Bob has 400 tokens a day; each
# request carries about 300 tokens of input.
PAD=$(printf 'word %.0s' $(seq 240))
SLOW_BODY="{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$PAD\"}]}"
hangups=0
for i in 1 2 3 4 5 6 7 8; do
  code=$(curl -s -m 1.3 -o hang.out -w '%{http_code}' -H "$(key bob)" "${A[@]}" -H 'x-fake-fault: slow' \
    --data-binary "$SLOW_BODY" "$G/v1/messages")
  if grep -q 'rate_limit' hang.out; then break; fi
  hangups=$((hangups + 1))
done
(( hangups >= 1 && hangups <= 2 )) && ok || bad "hang-ups before the budget refused: $hangups (was 8 with 0 tokens each)"
sleep 0.3
charged=$(records | jq -s '[.[] | select(.user=="bob" and .status==499)] | map(.input_tokens + .output_tokens) | min // 0')
(( charged > 0 )) && ok || bad "a hang-up is charged (min tokens of bob's 499 records: $charged)"
# The text that reached the client counts (Anthropic's message_start says
# output_tokens: 1 until the final event), and the estimate is marked.
out_max=$(records | jq -s '[.[] | select(.user=="bob" and .status==499)] | map(.output_tokens) | max // 0')
(( out_max >= 2 )) && ok || bad "streamed text of a hang-up is charged as output (max output_tokens $out_max)"
records | jq -s '[.[] | select(.user=="bob" and .status==499)] | map(.findings) | join(" ")' | grep -q 'gate/usage-estimated' && ok ||
  bad "estimated usage is marked in the record"
curl -s -D h429 -o r429 -H "$(key bob)" "${A[@]}" --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages" >/dev/null
grep -q '^HTTP/1.1 429' h429 && ok || bad "bob refused: $(head -1 h429)"
ra=$(grep -i '^retry-after:' h429 | tr -dc '0-9')
[[ -n $ra ]] && (( ra >= 1 && ra <= 86400 )) && ok || bad "429 carries retry-after (got '$ra')"

# 40 concurrent requests against carol's 1000 tokens, each estimated at
# about 100 input + 100 output: at most one request's estimate over.
PAD2=$(printf 'word %.0s' $(seq 75))
C_BODY="{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$PAD2\"}]}"
for i in $(seq 40); do
  curl -s -m 20 -o "c$i.out" -w '%{http_code}\n' -H "$(key carol)" "${A[@]}" -H 'x-fake-fault: slow' \
    --data-binary "$C_BODY" "$G/v1/messages" > "c$i.code" &
done
wait_curls() { for _ in $(seq 400); do [[ $(cat c*.code 2>/dev/null | wc -l) -ge 40 ]] && return; sleep 0.05; done; }
wait_curls
admitted=$(cat c*.code | grep -c '^200$')
refused=$(cat c*.code | grep -c '^429$')
(( admitted >= 1 && admitted <= 6 && admitted + refused == 40 )) && ok ||
  bad "40 concurrent: $admitted admitted, $refused refused (was: all 40 admitted, 4.1x over)"
sleep 0.3
spent=$(records | jq -s '[.[] | select(.user=="carol")] | map(.input_tokens + .output_tokens) | add // 0')
(( spent <= 1000 + 250 )) && ok || bad "carol spent $spent of 1000 tokens (bound: 1000 + one request)"
echo "concurrency: $admitted of 40 admitted, $spent tokens of a 1000-token budget"

# OpenAI Chat streams are metered: the gate asks for include_usage, and a
# client that did not ask does not see the extra chunk.
O=(-H "authorization: Bearer alice-key-0123456789abcdef" -H "content-type: application/json")
curl -s -m 10 -o chat.out "${O[@]}" --data-binary '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello"}]}' \
  "$G/v1/chat/completions"
tail -n1 up.jsonl | jq -r .body | jq -e '.stream_options.include_usage == true' >/dev/null && ok || bad "include_usage asked upstream"
grep -q '"usage"' chat.out && bad "the usage chunk reached a client that did not ask for it" || ok
grep -q 'data: \[DONE\]' chat.out && ok || bad "the chat stream ends with [DONE]"
sleep 0.2
[[ $(records | tail -n1 | jq '.input_tokens + .output_tokens') -gt 0 ]] && ok || bad "chat stream metered"
curl -s -m 10 -o chat2.out "${O[@]}" --data-binary '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}' \
  "$G/v1/chat/completions"
grep -q '"usage"' chat2.out && ok || bad "a client that asked for usage gets it"

# --- 4. hidden characters in keys and inside words ------------------------
TAGS=$(printf '\xf3\xa0\x81\x89\xf3\xa0\x81\x87')
ZWNJ=$(printf '\xe2\x80\x8c')
curl -s -m 10 -o keys.out -H "$(key alice)" "${A[@]}" --data-binary "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"cmd${TAGS}\":{\"type\":\"string\"}}}}],\"messages\":[{\"role\":\"user\",\"content\":\"wa${ZWNJ}ter ma${ZWNJ}rk\"}]}" \
  "$G/v1/messages"
last=$(tail -n1 up.jsonl | jq -r .body)
[[ $last != *$'\xf3\xa0\x81'* ]] && ok || bad "tag characters in a tool-schema key reached the upstream"
[[ $last == *'"cmd"'* ]] && ok || bad "the key arrives cleaned: $last"
[[ $last != *$ZWNJ* ]] && ok || bad "ZWNJ inside Latin words reached the upstream"
sleep 0.2
f=$(records | tail -n1 | jq -r .findings)
[[ $f == *'unicode/tag-characters'* && $f == *'(key)'* ]] && ok || bad "key finding logged: $f"
[[ $f == *'unicode/invisible-characters'* ]] && ok || bad "in-word joiner finding logged: $f"
# Back from the model: a joiner inside a Latin word is stripped; Persian keeps its ZWNJ.
curl -s -m 10 -o back.out -H "$(key alice)" "${A[@]}" -H 'x-fake-reply: wa%E2%80%8Cter%20%D9%85%DB%8C%E2%80%8C%D8%AE%D9%88%D8%A7%D9%87%D9%85' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages"
text=$(jq -r '.content[0].text' back.out)
[[ $text == "water "* ]] && ok || bad "inbound in-word joiner stripped: $(printf %q "$text")"
[[ $text == *$'\xdb\x8c\xe2\x80\x8c\xd8\xae'* ]] && ok || bad "Persian ZWNJ kept: $(printf %q "$text")"

# --- 6. compressed bodies, secrets in headers and base64 documents ----------
SMALL='{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"compressed hello"}]}'
printf '%s' "$SMALL" | python3 -c 'import gzip,sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read()))' > small.gz
status=$(curl -s -m 10 -o resp -w '%{http_code}' -H "$(key alice)" "${A[@]}" -H 'Content-Encoding: gzip' \
  --data-binary @small.gz "$G/v1/messages")
[[ $status == 200 ]] && ok || bad "gzip body: $status $(cat resp) (was: 400 not valid UTF-8)"
[[ $(tail -n1 up.jsonl | jq -r .body) == "$SMALL" ]] && ok || bad "the gzip body leaves decoded"
tail -n1 up.jsonl | jq -r '.headers | keys | join(",")' | grep -qi 'content-encoding' && bad "Content-Encoding forwarded with a decoded body" || ok
status=$(curl -s -m 10 -o resp -w '%{http_code}' -H "$(key alice)" "${A[@]}" -H 'Content-Encoding: br' \
  --data-binary @small.gz "$G/v1/messages")
[[ $status == 415 ]] && grep -q 'Content-Encoding' resp && ok || bad "unknown encoding: $status $(cat resp)"
status=$(curl -s -m 10 -o resp -w '%{http_code}' -H "$(key alice)" "${A[@]}" -H 'Content-Encoding: gzip' \
  --data-binary "not gzip" "$G/v1/messages")
[[ $status == 400 ]] && grep -q 'not valid gzip' resp && ok || bad "corrupt gzip: $status $(cat resp)"
GH=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB
curl -s -m 10 -o resp -H "$(key alice)" "${A[@]}" -H "x-github-token: $GH" --data-binary "$SMALL" "$G/v1/messages"
grep -q "$GH" up.jsonl && bad "a secret in a custom header reached the upstream" || ok
tail -n1 up.jsonl | jq -r '.headers["x-github-token"] // .headers["X-Github-Token"] // ""' | grep -q REDACTED && ok ||
  bad "the header arrives redacted: $(tail -n1 up.jsonl | jq -c .headers)"
DOC=$(printf 'notes\ntoken: %s\n' "$GH" | base64 -w0)
curl -s -m 10 -o resp -H "$(key alice)" "${A[@]}" --data-binary "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"text/plain\",\"data\":\"$DOC\"}},{\"type\":\"text\",\"text\":\"summarise\"}]}]}" "$G/v1/messages"
sent=$(tail -n1 up.jsonl | jq -r '.body' | jq -r '.messages[0].content[0].source.data' | base64 -d)
[[ $sent == *'[REDACTED secret/github-pat]'* && $sent != *$GH* ]] && ok || bad "base64 document redacted: $(printf %q "$sent")"

# --- 3. reload under load, then drain ---------------------------------------
load_loop() {  # sequential requests for about 3 s; prints one status per line
  local end=$((SECONDS + 3))
  while (( SECONDS < end )); do
    curl -s -m 10 -o /dev/null -w '%{http_code}\n' -H "$(key alice)" "${A[@]}" \
      --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages"
  done
}
load_loop > load.codes &
LOAD=$!
sleep 0.3
status=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: dave-key-0123456789abcdef" "${A[@]}" \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages")
[[ $status == 401 ]] && ok || bad "dave unknown before the reload: $status"
write_config $'[users.dave]\nkey = "dave-key-0123456789abcdef"'
kill -HUP $GATE_PID
wait_line gate1.err 'configuration reloaded' >/dev/null && ok || bad "SIGHUP reload: $(cat gate1.err)"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: dave-key-0123456789abcdef" "${A[@]}" \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages")
[[ $status == 200 ]] && ok || bad "dave admitted after SIGHUP: $status"
echo '[users.eve' > gate.toml  # broken TOML
kill -HUP $GATE_PID
wait_line gate1.err 'reload refused' >/dev/null && ok || bad "a bad config is refused with its reason: $(cat gate1.err)"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: dave-key-0123456789abcdef" "${A[@]}" \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$G/v1/messages")
[[ $status == 200 ]] && ok || bad "the old config is kept after a refused reload: $status"
curl -s -X POST -o reload.json "$G/_glassbox/reload"
jq -e '.status == "refused" and (.reason | length > 0)' reload.json >/dev/null && ok || bad "POST reload reports the refusal: $(cat reload.json)"
write_config ""
curl -s -X POST -o reload.json "$G/_glassbox/reload"
jq -e '.status == "reloaded"' reload.json >/dev/null && ok || bad "POST reload: $(cat reload.json)"
wait $LOAD
total=$(wc -l < load.codes)
non200=$(grep -vc '^200$' load.codes)
(( total > 5 && non200 == 0 )) && ok || bad "load during reloads: $non200 of $total requests failed"
echo "reload under load: $total requests, $non200 failed"

# SIGTERM drains: a stream in flight finishes, is logged, and the gate exits 0.
before=$(records | wc -l)
curl -s -m 20 -o drain.out -H "$(key alice)" "${A[@]}" -H 'x-fake-fault: slow' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}' \
  "$G/v1/messages" &
CURL=$!
sleep 0.4
kill -TERM $GATE_PID
sleep 0.2
curl -s -m 2 -o /dev/null "$G/_glassbox/health" && bad "new connections accepted while draining" || ok
wait $CURL
grep -q 'message_stop' drain.out && ok || bad "the stream in flight finished during the drain"
wait $GATE_PID
rc=$?
[[ $rc == 0 ]] && ok || bad "gate exit after drain: $rc"
grep -q 'stopped (1 exchanges finished' gate1.err && ok || bad "drain report: $(tail -2 gate1.err)"
after=$(records | wc -l)
(( after == before + 1 )) && ok || bad "the drained stream is logged ($before -> $after)"
expect_exit 0 "log verify after the drain" -- "$GB" log verify --log audit.db

# Past the deadline, a stream is cut -- and still logged.
start_gate gate2 --drain-seconds 0.3
curl -s -m 20 -o cut.out -H "$(key alice)" "${A[@]}" -H 'x-fake-fault: slow' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}' \
  "$G/v1/messages" &
CURL=$!
sleep 0.3
kill -TERM $GATE_PID
wait $CURL
wait $GATE_PID
grep -q 'message_stop' cut.out && bad "a stream cut at the deadline looks complete" || ok
records | tail -n1 | jq -r .findings | grep -q 'gate/drain-deadline' && ok || bad "the cut stream is logged with gate/drain-deadline"
grep -q '1 cut at the deadline' gate2.err && ok || bad "drain report: $(tail -2 gate2.err)"
expect_exit 0 "log verify after a cut" -- "$GB" log verify --log audit.db

# Configurable timeouts: an upstream silent for longer than --upstream-timeout
# between two pieces of a stream is cut, and the exchange logged as truncated.
start_gate gate3 --upstream-timeout 0.1
curl -s -m 20 -o slow.out -H "$(key alice)" "${A[@]}" -H 'x-fake-fault: slow' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}' \
  "$G/v1/messages"
sleep 0.2
records | tail -n1 | jq -r .findings | grep -q 'timed out' && ok || bad "--upstream-timeout cuts a silent upstream: $(records | tail -n1 | jq -r .findings)"
kill -TERM $GATE_PID
wait $GATE_PID

finish
