#!/usr/bin/env bash
# End-to-end: the real `glassbox gate` between curl and the test-only fake
# upstream (gate_fake_upstream, second argument), all on 127.0.0.1. Checks
# what reached the upstream, what came back, and the audit log.
FAKE=${2:?usage: $0 path/to/glassbox path/to/gate_fake_upstream}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
source "$(dirname "$0")/lib.sh"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# wait_line FILE PATTERN: the first line of FILE matching PATTERN (5 s at most).
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

cat > gate.toml <<'EOF'
[gate]
max_body_bytes = 65536

[upstreams.anthropic]
allowed_models = ["claude-sonnet-4*", "claude-haiku-*"]

[users.alice]
key = "alice-key-0123456789abcdef"

[users.bob]
key = "bob-key-0123456789abcdef"
daily_tokens = 5
EOF

"$GB" gate --listen 127.0.0.1:0 --upstream anthropic=$U --upstream openai=$U --upstream gemini=$U \
  --log audit.db --config gate.toml > gate.out 2>gate.err &
GATE_PID=$!
PIDS+=($GATE_PID)
G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
  echo "gate did not start: $(cat gate.err)"; exit 1; }

A=(-H "x-api-key: alice-key-0123456789abcdef" -H "anthropic-version: 2023-06-01" -H "content-type: application/json")
# post PATH BODY [curl args...]: status in $status, body in resp
post() {
  local path=$1 body=$2; shift 2
  status=$(curl -s -o resp -w '%{http_code}' "$@" --data-binary "$body" "$G$path")
}

# health and help
expect_exit 0 "help gate" -- "$GB" help gate
grep -q 'ANTHROPIC_BASE_URL' out && ok || bad "help gate teaches the variables"
[[ $(curl -s "$G/_glassbox/health") == *'"ok"'* ]] && ok || bad "health"

# 1. Secrets are redacted before they leave; the agent still gets its answer.
post /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":20,"messages":[{"role":"user","content":"deploy with ghp_0123456789abcdefghijklmnopqrstuvwxyzAB now"}]}' "${A[@]}"
[[ $status == 200 ]] && ok || bad "secret request: status $status $(cat resp)"
grep -q '"type":"message"' resp && ok || bad "answer in Anthropic format: $(cat resp)"
grep -q 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB' up.jsonl && bad "secret reached the upstream" || ok
grep -q 'REDACTED' up.jsonl && ok || bad "placeholder sent upstream"
grep -q 'alice-key-0123456789abcdef' up.jsonl && bad "gate key forwarded upstream" || ok

# 2. Hidden characters: stripped from what leaves, and from what comes back.
TAGS=$(printf '\xf3\xa0\x81\x89\xf3\xa0\x81\x87\xf3\xa0\x81\x8e')  # U+E0049 U+E0047 U+E004E
post /v1/messages "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi${TAGS} there\"}]}" "${A[@]}" -H "x-fake-reply: ok%F3%A0%81%81%F3%A0%81%82done"
[[ $status == 200 ]] && ok || bad "hidden request: $status $(cat resp)"
tail -n1 up.jsonl | grep -q $'\xf3\xa0\x81' && bad "tag characters reached the upstream" || ok
grep -q $'\xf3\xa0\x81' resp && bad "tag characters reached the agent" || ok
grep -q 'okdone' resp && ok || bad "visible reply text kept: $(cat resp)"

# 3. Private keys are refused in the provider's own format, and never leave.
before=$(wc -l < up.jsonl)
post /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"}]}' "${A[@]}"
[[ $status == 403 ]] && ok || bad "private key: status $status"
jq -e '.type == "error" and (.error.message|length > 0)' resp >/dev/null && ok || bad "Anthropic error shape: $(cat resp)"
[[ $(wc -l < up.jsonl) == "$before" ]] && ok || bad "refused request reached the upstream"

# 4. Model allow-list.
post /v1/messages '{"model":"claude-opus-4-1","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "${A[@]}"
[[ $status == 403 ]] && ok || bad "model not allowed: status $status"

# 5. Authentication and budgets.
post /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' -H "anthropic-version: 2023-06-01"
[[ $status == 401 ]] && ok || bad "no key: status $status"
B=(-H "x-api-key: bob-key-0123456789abcdef" -H "anthropic-version: 2023-06-01")
post /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "${B[@]}"
[[ $status == 200 ]] && ok || bad "bob first request: $status"
post /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "${B[@]}"
[[ $status == 429 ]] && ok || bad "bob over budget: $status $(cat resp)"
grep -q 'bob' resp && ok || bad "budget message names the user: $(cat resp)"

# 6. Unknown paths and bad input.
post /v2/unknown '{}' "${A[@]}"
[[ $status == 404 ]] && ok || bad "unknown path: $status"
post /v1/messages '{"model": "claude-sonnet-4-5", "messages": [' "${A[@]}"
[[ $status == 400 ]] && ok || bad "malformed JSON: $status"
post /v1/messages "$(printf '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"bad \xff\xfe utf8"}]}')" "${A[@]}"
[[ $status == 400 ]] && ok || bad "invalid UTF-8: $status"
head -c 100000 /dev/zero | tr '\0' 'a' > big.txt
printf '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"%s"}]}' "$(cat big.txt)" > big.json
status=$(curl -s -o resp -w '%{http_code}' "${A[@]}" --data-binary @big.json "$G/v1/messages")
[[ $status == 413 ]] && ok || bad "oversized body: $status"
# A header carrying a bare CR (header injection) gets 400; the gate keeps serving.
exec 3<>/dev/tcp/127.0.0.1/"${G##*:}"
printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Evil: a\rInjected: 1\r\nContent-Length: 2\r\n\r\n{}' >&3
timeout 5 head -c 12 <&3 > raw.out
exec 3>&-
[[ $(cat raw.out) == "HTTP/1.1 400" ]] && ok || bad "header injection: $(cat raw.out)"
[[ $(curl -s "$G/_glassbox/health") == *'"ok"'* ]] && ok || bad "gate still serving after bad input"

# 7. Streams are forwarded as they arrive (slow upstream: 200 ms per chunk).
SB='{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}'
H=(-H "authorization: Bearer alice-key-0123456789abcdef" -H "content-type: application/json")
curl -s -N "${H[@]}" -H "x-fake-fault: slow" --data-binary "$SB" "$G/v1/chat/completions" |
  while IFS= read -r line; do [[ -n $line ]] && echo "$(date +%s%N) $line"; done > stream.out
first=$(head -n1 stream.out | cut -d' ' -f1)
last=$(tail -n1 stream.out | cut -d' ' -f1)
grep -q 'data: \[DONE\]' stream.out && ok || bad "stream completes: $(cat stream.out)"
(( (last - first) / 1000000 >= 300 )) && ok || bad "stream pieces arrived together (spread $(( (last - first) / 1000000 )) ms)"

# 8. A client that goes away cancels the upstream request.
curl -s -N --max-time 0.5 "${H[@]}" -H "x-fake-fault: slow" --data-binary "$SB" "$G/v1/chat/completions" > /dev/null
wait_line up.jsonl client_gone > /dev/null && ok || bad "upstream not cancelled when the client left"

# 9. Upstream faults: a 500 is passed on; a reset mid-stream reaches the agent as a broken stream.
post /v1/chat/completions '{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}' "${H[@]}" -H "x-fake-fault: 500"
[[ $status == 500 ]] && ok || bad "upstream 500: $status"
curl -s -N "${H[@]}" -H "x-fake-fault: reset-mid-stream" --data-binary "$SB" "$G/v1/chat/completions" > reset.out
[[ $? != 0 ]] && ok || bad "a reset stream must not look complete to the agent"
curl -s -N "${H[@]}" -H "x-fake-fault: truncated" --data-binary "$SB" "$G/v1/chat/completions" > trunc.out
[[ $? != 0 ]] && ok || bad "a truncated stream must not look complete to the agent"

# 10. Gemini and metrics.
post '/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse' '{"contents":[{"parts":[{"text":"hi"}]}]}' -H "x-goog-api-key: alice-key-0123456789abcdef" -H "content-type: application/json"
[[ $status == 200 ]] && grep -q '^data: ' resp && ok || bad "gemini stream: $status $(head -c 300 resp)"
curl -s "$G/_glassbox/metrics" > metrics.txt
grep -q 'glassbox_gate_requests_total{route="anthropic.messages",status="200"}' metrics.txt && ok || bad "metrics by route"
grep -q 'glassbox_gate_upstream_latency_seconds_bucket' metrics.txt && ok || bad "latency histogram"
grep -q 'glassbox_gate_refusals_total{code=' metrics.txt && ok || bad "refusals counted"

# 11. The audit log: every exchange, chained, secrets masked.
sleep 0.3
expect_exit 0 "log verify" -- "$GB" log verify --log audit.db
"$GB" log list --log audit.db --format json > records.json
jq -e 'length >= 16 and ([.[] | select(.status == 413)] | length == 1)' records.json >/dev/null && ok || bad "records logged: $(jq length records.json)"
jq -e '[.[] | select(.status == 403)] | length >= 2' records.json >/dev/null && ok || bad "refusals logged"
jq -e '[.[] | select(.status == 400)] | length >= 3' records.json >/dev/null && ok || bad "bad input logged (JSON, UTF-8, header injection)"
jq -e '[.[] | select(.status == 499)] | length >= 1' records.json >/dev/null && ok || bad "cancelled exchange logged"
jq -e '[.[] | select(.user == "alice")] | length >= 5' records.json >/dev/null && ok || bad "user recorded"
grep -q 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB' audit.db* && bad "secret in the log in clear" || ok
grep -q 'alice-key-0123456789abcdef' audit.db* && bad "gate key in the log" || ok

# 12. TLS on the listener.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem -days 1 \
     -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null; then
  "$GB" gate --listen 127.0.0.1:0 --upstream anthropic=$U --log tls.db --tls-cert cert.pem --tls-key key.pem \
    > tls.out 2>tls.err &
  PIDS+=($!)
  T=$(wait_line tls.out 'listening on' | sed -E 's/.*listening on (https:\/\/[^ ]+).*/\1/')
  status=$(curl -s -o resp -w '%{http_code}' --cacert cert.pem -H "anthropic-version: 2023-06-01" \
    --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$T/v1/messages")
  [[ $status == 200 ]] && ok || bad "TLS listener: $status $(cat tls.err)"
  expect_exit 2 "TLS key that does not exist" -- "$GB" gate --listen 127.0.0.1:0 --log x.db --tls-cert cert.pem --tls-key nope.pem
  grep -q 'nope.pem' err && ok || bad "missing key file named: $(cat err)"
fi
expect_exit 2 "bad upstream URL" -- "$GB" gate --upstream anthropic=ftp://x --log x.db
expect_exit 2 "bad listen address" -- "$GB" gate --listen nowhere --log x.db
expect_exit 2 "bad log durability" -- "$GB" gate --log-durability sometimes --log x.db
grep -q 'expected "normal" or "full"' err && ok || bad "bad durability not explained: $(cat err)"
# --log-durability full: one fsync per commit; the log verifies the same way
"$GB" gate --listen 127.0.0.1:0 --upstream anthropic=$U --log full.db --log-durability full > full.out 2>full.err &
PIDS+=($!)
F=$(wait_line full.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || bad "gate with durability full did not start: $(cat full.err)"
status=$(curl -s -o resp -w '%{http_code}' -H "anthropic-version: 2023-06-01" \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' "$F/v1/messages")
[[ $status == 200 ]] && ok || bad "durability full: $status $(cat full.err)"
expect_exit 0 "log verify, durability full" -- "$GB" log verify --log full.db

kill -TERM $GATE_PID
wait $GATE_PID 2>/dev/null
expect_exit 0 "log verify after stop" -- "$GB" log verify --log audit.db
finish
