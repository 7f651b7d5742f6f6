#!/usr/bin/env bash
# Fleet test (issue 19): two gate replicas share one PostgreSQL -- a
# throwaway cluster on a loopback port (tests/pg/pg_cluster.sh) -- for their
# audit log and budgets.
#   1. concurrent users on both replicas against one daily budget: the spend
#      ends within one request's estimate of the cap;
#   2. kill -9 of each replica in turn under load (a sends large bodies
#      ahead of their records, b keeps them inside): every exchange a client
#      saw complete is in the log and every chain verifies;
#   3. PostgreSQL restarted under load: the same, and while it is down a
#      refusing replica answers 503 (health 503, store_up 0) and a
#      serve-unlogged replica answers 200 and counts what went unlogged.
# Exits 77 (skipped) when the PostgreSQL server binaries are missing.
FAKE=${2:?usage: $0 path/to/glassbox path/to/gate_fake_upstream}
FAKE=$(cd "$(dirname "$FAKE")" && pwd)/$(basename "$FAKE")
PGC=$(cd "$(dirname "$0")/../pg" && pwd)/pg_cluster.sh
source "$(dirname "$0")/lib.sh"
cd "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  bash "$PGC" stop "$WORK/pg" immediate
  rm -rf "$WORK"
}
trap cleanup EXIT

URL=$(bash "$PGC" start "$WORK/pg" 2>pg.err)
rc=$?
if [[ $rc == 77 ]]; then cat pg.err; exit 77; fi
[[ $rc == 0 ]] || { echo "the test cluster did not start: $(cat pg.err)"; exit 1; }
sql() { psql "$URL" -Atc "$1"; }

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

cat > gate.toml <<'TOML'
[users.alice]
key = "alice-key-0123456789abcdef"
daily_tokens = 3000

[users.carol]
key = "carol-key-0123456789abcdef"

[log]
bodies_ahead = true
TOML
cp gate.toml unlogged.toml
printf 'on_store_down = "serve-unlogged"\n' >> unlogged.toml
# Replica b keeps the default (each body inside its record), so both ways of
# storing a large body go through the kill -9 and the PostgreSQL restart.
grep -v '^bodies_ahead' gate.toml > inline.toml

# start_gate NAME LISTEN [CONFIG]: replica NAME; its pid in pid-NAME, port in port-NAME.
start_gate() {
  local name=$1 listen=$2 config=${3:-gate.toml} line
  : > "gate-$name.out"
  "$GB" gate --listen "$listen" --upstream anthropic=http://127.0.0.1:$UP --config "$config" \
    --log "$URL?replica=$name" > "gate-$name.out" 2>>"gate-$name.err" &
  echo $! > "pid-$name"
  PIDS+=($!)
  line=$(wait_line "gate-$name.out" 'listening on') || { echo "gate $name did not start: $(tail -3 "gate-$name.err")"; exit 1; }
  sed -E 's/.*:([0-9]+) \(log.*/\1/' <<< "$line" > "port-$name"
}
start_gate a 127.0.0.1:0
start_gate b 127.0.0.1:0 inline.toml

# request USER PORT MARKER [PADDING]: prints the status.
request() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "x-api-key: $1-key-0123456789abcdef" \
    -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
    --data-binary "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"$3 ${4:-}\"}]}" \
    "http://127.0.0.1:$2/v1/messages"
}
# Half the load carries 20 KB: large bodies travel in their records' groups,
# which a replica acknowledges once sent (docs/gate.md), and they must
# survive kill -9 and a PostgreSQL restart too.
PAD=$(head -c 20000 /dev/zero | tr '\0' 'p')

# 1. One budget, two replicas, eight concurrent clients.
budget_client() {
  local replica=$1 n=$2 i
  for ((i = 0; i < 25; i++)); do
    echo "$replica $(request alice "$(cat "port-$replica")" "budget-$replica-$n-$i")" >> budget-statuses
  done
}
for n in 1 2 3 4; do budget_client a $n & budget_client b $n & done
wait_clients() { for j in $(jobs -p); do [[ " ${PIDS[*]} " == *" $j "* ]] || wait "$j"; done; }
wait_clients
# Records (and the settlements in their transactions) are acknowledged once
# sent; their commits follow within moments: wait until none is in flight.
settled() { [[ $(sql "SELECT coalesce(sum(tokens), 0) FROM gb_reserved") == 0 ]]; }
for _ in $(seq 50); do settled && break; sleep 0.1; done
admitted_a=$(grep -c '^a 200' budget-statuses)
admitted_b=$(grep -c '^b 200' budget-statuses)
refused=$(grep -c ' 429' budget-statuses)
spent=$(sql "SELECT spent_tokens FROM gb_budget WHERE user_name = 'alice' AND kind = 'd'")
# One request's estimate: its input (~190 bytes / 4) plus max_tokens 100.
(( spent >= 3000 - 200 && spent <= 3000 + 200 )) && ok || bad "alice's spend $spent is not within one request of the 3000-token cap"
(( admitted_a > 0 && admitted_b > 0 && refused > 0 )) && ok ||
  bad "both replicas admit and the budget refuses: a=$admitted_a b=$admitted_b refused=$refused"
logged_tokens=$(sql "SELECT sum(input_tokens + output_tokens) FROM gb_records WHERE user_name = 'alice' AND status = 200")
[[ $logged_tokens == "$spent" ]] && ok || bad "the ledger ($spent) and the log ($logged_tokens) disagree on alice's tokens"
[[ $(sql "SELECT coalesce(sum(tokens), 0) FROM gb_reserved") == 0 ]] && ok || bad "reservations left held"
echo "budget: cap 3000, spent $spent, admitted a=$admitted_a b=$admitted_b, refused $refused"

# Load: clients alternate between the replicas; each records the markers of
# the exchanges it saw complete.
load_client() {
  local name=$1 count=$2 i replica marker
  for ((i = 0; i < count; i++)); do
    replica=$([[ $((i % 2)) == 0 ]] && echo a || echo b)
    marker="m-$name-$i"
    [[ $(request carol "$(cat "port-$replica")" "$marker" "$([[ $((i % 4)) -lt 2 ]] && echo "$PAD")") == 200 ]] &&
      echo "$marker" >> "done-$name"
  done
}
check_log() {
  local what=$1
  expect_exit 0 "log verify after $what" -- "$GB" log verify --log "$URL"
  "$GB" log export --log "$URL" --user carol > export.jsonl || bad "log export"
  jq -r '.request_body // empty' export.jsonl | grep -o 'm-[a-z0-9]*-[0-9]*' | sort -u > logged
  cat done-* 2>/dev/null | sort -u > completed.txt
  local missing
  missing=$(comm -23 completed.txt logged | wc -l)
  [[ $missing == 0 ]] && ok || bad "$what: $missing completed exchanges missing from the log: $(comm -23 completed.txt logged | head -3 | tr '\n' ' ')"
  echo "$what: $(wc -l < completed.txt) exchanges completed, $(wc -l < logged) logged"
}

# 2. kill -9 of replica a under load; it comes back under the same name.
load_client k1 200 & load_client k2 200 &
sleep 0.5
kill -9 "$(cat pid-a)"
sleep 0.3
start_gate a "127.0.0.1:$(cat port-a)"
wait_clients
check_log "kill -9 of replica a"
# The kill fell inside the load: some exchanges with the replica did not complete.
(( $(wc -l < completed.txt) < 400 )) && ok || bad "replica a was killed after the load had ended"
# The same for replica b, which stores bodies inside their records.
rm -f done-*
load_client k3 200 & load_client k4 200 &
sleep 0.5
kill -9 "$(cat pid-b)"
sleep 0.3
start_gate b "127.0.0.1:$(cat port-b)" inline.toml
wait_clients
check_log "kill -9 of replica b"
(( $(wc -l < completed.txt) < 400 )) && ok || bad "replica b was killed after the load had ended"
# Large request bodies are stored ahead of their records (gb_bodies), sent
# while the upstream answers; the exports above read them back through the
# records, and verify checks them by digest.
large=$(sql "SELECT count(*) FROM gb_records r JOIN gb_bodies b ON b.replica = r.replica AND b.id = r.request_body_at WHERE length(b.body) >= 20000")
(( large > 0 )) && ok || bad "no large request body was stored ahead of its record"
grep -q 'intact: .* in 2 replica chains' out && ok || bad "verify reports both chains: $(cat out)"

# 3. PostgreSQL restarted (fast shutdown) under load.
rm -f done-*
load_client r1 80 & load_client r2 80 &
sleep 0.7
bash "$PGC" restart "$WORK/pg" fast || bad "the cluster did not restart"
wait_clients
check_log "a PostgreSQL restart"

# While PostgreSQL is down: refuse (a, b) and serve-unlogged (c).
start_gate c 127.0.0.1:0 unlogged.toml
bash "$PGC" stop "$WORK/pg" fast
[[ $(request carol "$(cat port-a)" down-a) == 5* ]] && ok || bad "a refusing replica answers 5xx while the store is down"
[[ $(request carol "$(cat port-a)" down-a2) == 503 ]] && ok || bad "a refusing replica answers 503 once the store is known down"
# b has had no traffic since: its probe notices the outage within a second or two.
for _ in $(seq 30); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat port-b)/_glassbox/health") == 503 ]] && break
  sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat port-b)/_glassbox/health") == 503 ]] && ok ||
  bad "health is 503 on a refusing replica while the store is down"
curl -s "http://127.0.0.1:$(cat port-b)/_glassbox/metrics" | grep -q '^glassbox_gate_store_up 0' && ok || bad "store_up 0 in metrics"
request carol "$(cat port-c)" down-c1 > /dev/null
[[ $(request carol "$(cat port-c)" down-c2) == 200 ]] && ok || bad "a serve-unlogged replica serves while the store is down"
curl -s "http://127.0.0.1:$(cat port-c)/_glassbox/health" | grep -q '"on_store_down":"serve-unlogged"' && ok ||
  bad "health names the serve-unlogged policy"
curl -s "http://127.0.0.1:$(cat port-c)/_glassbox/metrics" | grep -Eq '^glassbox_gate_unlogged_exchanges_total [1-9]' && ok ||
  bad "unlogged exchanges are counted"
bash "$PGC" restart "$WORK/pg" fast
for _ in $(seq 50); do
  [[ $(curl -s "http://127.0.0.1:$(cat port-a)/_glassbox/health") == *'"ok"'* ]] && break
  sleep 0.1
done
back=$(curl -s --max-time 5 -w ' %{http_code}' -H "x-api-key: carol-key-0123456789abcdef" \
  -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
  --data-binary '{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"back-a"}]}' \
  "http://127.0.0.1:$(cat port-a)/v1/messages")
[[ $back == *' 200' ]] && ok || bad "replica a serves again once PostgreSQL is back: $(tail -c 400 <<< "$back")"
curl -s "http://127.0.0.1:$(cat port-a)/_glassbox/metrics" | grep -q '^glassbox_gate_log_records_lost_total 0$' && ok ||
  bad "no acknowledged record lost across the restart (glassbox_gate_log_records_lost_total 0)"
expect_exit 0 "log verify at the end" -- "$GB" log verify --log "$URL"

# 4. Signed checkpoints per replica: replica d signs its own chain's head.
openssl genpkey -algorithm ed25519 -out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem 2>/dev/null
: > gate-d.out
"$GB" gate --listen 127.0.0.1:0 --upstream anthropic=http://127.0.0.1:$UP --config gate.toml --log "$URL?replica=d" \
  --checkpoint-key key.pem --checkpoints d.checkpoints --checkpoint-every 3 > gate-d.out 2>>gate-d.err &
DPID=$!
PIDS+=($DPID)
line=$(wait_line gate-d.out 'listening on') || { echo "gate d did not start: $(tail -3 gate-d.err)"; exit 1; }
DPORT=$(sed -E 's/.*:([0-9]+) \(log.*/\1/' <<< "$line")
for i in 1 2 3 4 5 6 7; do request carol "$DPORT" "cp-$i" > /dev/null; done
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
expect_exit 0 "replica d's chain verifies against its checkpoints" -- \
  "$GB" log verify --log "$URL?replica=d" --checkpoints d.checkpoints --public-key pub.pem
grep -q 'signed checkpoints matched' out && ok || bad "verify reports the checkpoints: $(cat out)"
sql "DELETE FROM gb_records WHERE replica = 'd' AND id = 7" > /dev/null
expect_exit 1 "a truncated replica chain is caught by its checkpoints" -- \
  "$GB" log verify --log "$URL?replica=d" --checkpoints d.checkpoints --public-key pub.pem
grep -q 'removed from the end' err && ok || bad "verify names the truncation: $(cat err)"
expect_exit 2 "a PostgreSQL log needs --checkpoints FILE with --checkpoint-key" -- \
  "$GB" gate --listen 127.0.0.1:0 --upstream anthropic=http://127.0.0.1:$UP --log "$URL?replica=e" --checkpoint-key key.pem
finish
