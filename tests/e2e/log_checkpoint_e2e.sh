#!/usr/bin/env bash
# End-to-end, issue 17 item 5: signed checkpoints make the audit log
# provable. The real gate signs its chain head with an Ed25519 key; then an
# attacker with write access to the log deletes the newest records, rewrites
# the whole chain from the documented canonical form, or deletes the oldest
# records and forges the retention anchor -- each passes the plain chain
# check and each is caught with --checkpoints. Also: streaming readers with
# filters, and a 100,000-record log verified in bounded memory (peak RSS
# printed; bench/log_bench.sh does 1,000,000).
FAKE=${2:?usage: $0 glassbox gate_fake_upstream gate_log_fixture}
FIXTURE=${3:?usage: $0 glassbox gate_fake_upstream gate_log_fixture}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
FIXTURE=$(cd "$(dirname "$FIXTURE")" && pwd)/$(basename "$FIXTURE")
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

openssl genpkey -algorithm ed25519 -out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem 2>/dev/null ||
  { echo "openssl cannot make an Ed25519 key"; exit 1; }
openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null && openssl pkey -in other.pem -pubout -out other-pub.pem 2>/dev/null

"$FAKE" > fake.out 2>fake.err &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2) || { echo "fake upstream did not start"; exit 1; }

"$GB" gate --listen 127.0.0.1:0 --upstream anthropic=http://127.0.0.1:$UP --log audit.db \
  --checkpoint-key key.pem --checkpoint-every 5 > gate.out 2> gate.err &
GATE_PID=$!
PIDS+=($GATE_PID)
G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/') || {
  echo "gate did not start: $(cat gate.err)"; exit 1; }
for i in $(seq 23); do
  curl -s -o /dev/null -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' -H "x-glassbox-user-agent: u$i" \
    --data-binary "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hello $i\"}]}" \
    "$G/v1/messages"
done
kill -TERM $GATE_PID
wait $GATE_PID
[[ -s audit.db.checkpoints ]] && ok || bad "the gate wrote no checkpoints: $(cat gate.err)"
lines=$(wc -l < audit.db.checkpoints)
last=$(tail -n1 audit.db.checkpoints | cut -d' ' -f2)
(( lines >= 4 )) && ok || bad "a checkpoint every 5 records and one at stop: $lines lines"
[[ $last == 23 ]] && ok || bad "the checkpoint at stop names the last record: $last"

expect_exit 0 "verify with checkpoints" -- "$GB" log verify --log audit.db --checkpoints audit.db.checkpoints --public-key pub.pem
grep -q 'signed checkpoints matched' out && ok || bad "verify reports the checkpoints: $(cat out)"
expect_exit 1 "checkpoints under another key" -- "$GB" log verify --log audit.db --checkpoints audit.db.checkpoints --public-key other-pub.pem
grep -q 'not by the public key given' err && ok || bad "wrong key named: $(cat err)"
expect_exit 2 "--checkpoints without --public-key" -- "$GB" log verify --log audit.db --checkpoints audit.db.checkpoints
# An altered checkpoint line.
sed '2s/ 10 / 11 /' audit.db.checkpoints > forged.checkpoints
expect_exit 1 "altered checkpoint" -- "$GB" log verify --log audit.db --checkpoints forged.checkpoints --public-key pub.pem
grep -q 'signature does not match' err && ok || bad "forged line named: $(cat err)"

# Attack 1: delete the newest records. The chain alone still verifies.
cp audit.db cut.db
"$FIXTURE" cut.db truncate 4 || bad "fixture truncate"
expect_exit 0 "truncated log passes the chain check alone (why checkpoints exist)" -- "$GB" log verify --log cut.db
expect_exit 1 "truncated log caught" -- "$GB" log verify --log cut.db --checkpoints audit.db.checkpoints --public-key pub.pem
grep -q 'removed from the end' err && ok || bad "truncation named: $(cat err)"

# Attack 2: edit a record and recompute the whole chain from the documented form.
cp audit.db rewritten.db
"$FIXTURE" rewritten.db rewrite 7 || bad "fixture rewrite"
expect_exit 0 "rewritten chain passes the chain check alone" -- "$GB" log verify --log rewritten.db
expect_exit 1 "rewritten chain caught" -- "$GB" log verify --log rewritten.db --checkpoints audit.db.checkpoints --public-key pub.pem
grep -q 'chain was rewritten' err && ok || bad "rewrite named: $(cat err)"

# Attack 3: delete the oldest records and forge the retention anchor.
cp audit.db forged.db
"$FIXTURE" forged.db forge-anchor 8 || bad "fixture forge-anchor"
expect_exit 0 "forged anchor passes the chain check alone" -- "$GB" log verify --log forged.db
expect_exit 1 "forged anchor caught" -- "$GB" log verify --log forged.db --checkpoints audit.db.checkpoints --public-key pub.pem
grep -q 'not attested by any signed checkpoint' err && ok || bad "forged anchor named: $(cat err)"

# Real retention in a running gate is signed right away, so it verifies.
"$GB" gate --listen 127.0.0.1:0 --upstream anthropic=http://127.0.0.1:$UP --log audit.db \
  --checkpoint-key key.pem --checkpoint-every 5 > gate2.out 2> gate2.err &
GATE_PID=$!
PIDS+=($GATE_PID)
wait_line gate2.out 'listening on' >/dev/null || bad "gate restarted: $(cat gate2.err)"
kill -TERM $GATE_PID
wait $GATE_PID
expect_exit 0 "still verifies after a restart" -- "$GB" log verify --log audit.db --checkpoints audit.db.checkpoints --public-key pub.pem

# Streaming readers with filters.
"$FIXTURE" filt.db bulk 1000 || bad "fixture bulk"
expect_exit 0 "list --user --limit" -- "$GB" log list --log filt.db --user bob --limit 7
[[ $(wc -l < out) == 7 ]] && ok || bad "--limit 7: $(wc -l < out) lines"
grep -qv '  bob  ' out && bad "--user bob shows others: $(head -2 out)" || ok
expect_exit 0 "export --model" -- "$GB" log export --log filt.db --model claude-haiku-4-5
[[ $(wc -l < out) == 333 ]] && ok || bad "--model: $(wc -l < out) records, wanted 333"
expect_exit 0 "list --since/--until" -- "$GB" log list --log filt.db --since 2026-11-21T00:00:00Z
[[ ! -s out ]] && ok || bad "--since after every record lists nothing"
expect_exit 0 "json array streamed" -- "$GB" log list --log filt.db --format json --limit 3
[[ $(jq length out) == 3 ]] && ok || bad "--format json --limit 3: $(head -c 200 out)"
expect_exit 2 "bad --since" -- "$GB" log list --log filt.db --since yesterday

# Verify in bounded memory: 100,000 records, peak resident memory printed.
"$FIXTURE" big.db bulk 100000 || bad "fixture bulk 100000"
/usr/bin/time -f '%M' -o rss.txt "$GB" log verify --log big.db > out 2> err
rc=$?
[[ $rc == 0 ]] && ok || bad "verify 100k: exit $rc $(cat err)"
peak_kb=$(tail -n1 rss.txt)
size_mb=$(( $(stat -c %s big.db) / 1048576 ))
echo "log verify: 100000 records, ${size_mb} MB log, peak RSS ${peak_kb} kB"
within_kb "$peak_kb" 40000 && ok || bad "verify peak RSS ${peak_kb} kB for a ${size_mb} MB log (bounded memory expected)"

finish
