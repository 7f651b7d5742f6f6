#!/usr/bin/env bash
# Interleaved A/B of two builds of the gate in the fleet case, where one
# run of bench/gate_bench.sh per build cannot separate a few tens of
# microseconds from what the shared machine moves between runs: one
# throwaway PostgreSQL cluster, one upstream that thinks THINK_MS before it
# answers (as a model does), two replicas of each build on the cluster,
# and alternating rounds of N 100 KB requests: two clients straight to the
# upstream at once, then the two replicas of A at once, then those of B
# (the order of A and B swaps every round). Prints per round and build the
# p50/p99 added against the direct pair, and the gates' CPU per exchange;
# then the median of the rounds' p50s per build.
# usage: bench/gate_ab.sh BUILD_A BUILD_B
#   N=1000 ROUNDS=4 THINK_MS=2 USER_KIND=plain|budget (a user without or with a budget)
#   BODIES_AHEAD=1 (both builds send large bodies ahead of their records)
# Needs glassbox in both builds, gate_fake_upstream and gate_latency in A's,
# the PostgreSQL server binaries (scripts/bootstrap.sh --bench).
set -euo pipefail
A=$(cd "${1:?usage: gate_ab.sh BUILD_A BUILD_B}" && pwd)
B=$(cd "${2:?usage: gate_ab.sh BUILD_A BUILD_B}" && pwd)
N=${N:-1000}
ROUNDS=${ROUNDS:-4}
THINK_MS=${THINK_MS:-2}
USER_KIND=${USER_KIND:-plain}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-gate-ab.XXXXXX")
PGC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/pg" && pwd)/pg_cluster.sh
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -d $WORK/pg ]] && bash "$PGC" stop "$WORK/pg" fast; rm -rf "$WORK"' EXIT
cd "$WORK"
wait_line() { for _ in $(seq 200); do grep -m1 "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
listening() { wait_line "$1" 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/'; }
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<< "$2"; }

PGURL=$(bash "$PGC" start "$WORK/pg")
"$A/src/gate/gate_fake_upstream" --threads 1 --think-ms "$THINK_MS" > up.out &
PIDS+=($!)
U=http://127.0.0.1:$(wait_line up.out '^port ' | cut -d' ' -f2)
python3 - <<'PY'
import json
words = "the quick brown fox jumps over the lazy dog while a compiler builds the code again".split()
text = " ".join(words[i % len(words)] for i in range(20000))[:100_000]
json.dump({"model": "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}, open("big.json", "w"))
PY
printf '[log]\ndurability = "normal"\n%s\n[users.budget]\nkey = "budget-key-0123456789abcdef"\ndaily_tokens = 1000000000000\n\n[users.plain]\nkey = "plain-key-0123456789abcdef"\n' \
  "$([[ ${BODIES_AHEAD:-0} == 1 ]] && echo 'bodies_ahead = true')" > fleet.toml
declare -A URL PID
for b in A B; do
  build=$A
  [[ $b == B ]] && build=$B
  for r in 1 2; do
    "$build/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$U \
      --log "$PGURL?replica=$b$r" --config fleet.toml > "gate-$b$r.out" 2> "gate-$b$r.err" &
    PID[$b$r]=$!
    PIDS+=($!)
  done
  for r in 1 2; do URL[$b$r]=$(listening "gate-$b$r.out"); done
done
KEY=x-api-key:$USER_KIND-key-0123456789abcdef
AV=anthropic-version:2023-06-01
lat() { "$A/src/gate/gate_latency" "$1" /v1/messages big.json "$N" "$AV" ${2:+"$2"}; }
pair() {  # OUT URL_1 URL_2 [HEADER]: two clients at once
  lat "$2" ${4:-} > "$1-1" &
  local p1=$!
  lat "$3" ${4:-} > "$1-2" &
  local p2=$!
  wait $p1 $p2
}
ticks() { sed -E 's/.*\) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
added() { awk -v d="$(field "$3" "$(cat "$2")")" -v g="$(field "$3" "$(cat "$1")")" 'BEGIN { printf "%.3f", g - d }'; }
echo "A: $A"
echo "B: $B"
echo "$ROUNDS rounds of $N requests of 100 KB per client, upstream thinking $THINK_MS ms, user $USER_KIND, bodies ahead: ${BODIES_AHEAD:-0}"
pair warm "${URL[A1]}" "${URL[A2]}" "$KEY"
pair warm "${URL[B1]}" "${URL[B2]}" "$KEY"
for round in $(seq "$ROUNDS"); do
  order="A B"
  ((round % 2 == 0)) && order="B A"
  pair direct "$U" "$U"
  for b in $order; do
    t0=$(($(ticks "${PID[${b}1]}") + $(ticks "${PID[${b}2]}")))
    pair "gated-$b" "${URL[${b}1]}" "${URL[${b}2]}" "$KEY"
    t1=$(($(ticks "${PID[${b}1]}") + $(ticks "${PID[${b}2]}")))
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n=$((2 * N)) 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
    p50="$(added "gated-$b-1" direct-1 p50_ms)/$(added "gated-$b-2" direct-2 p50_ms)"
    p99="$(added "gated-$b-1" direct-1 p99_ms)/$(added "gated-$b-2" direct-2 p99_ms)"
    echo "round $round $b: added p50 $p50 ms, p99 $p99 ms, gate CPU per exchange $cpu ms (load $(cut -d' ' -f1 /proc/loadavg))"
    echo "$b $(added "gated-$b-1" direct-1 p50_ms) $(added "gated-$b-2" direct-2 p50_ms)" >> p50s
  done
done
for b in A B; do
  awk -v b=$b '$1 == b { v[n++] = $2; v[n++] = $3 } END {
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    printf "%s: median of the replicas'"'"' added p50 over the rounds %.3f ms (min %.3f, max %.3f)\n", b,
      n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1] }' p50s
done
echo "records: A $("$A/glassbox" log verify --log "$PGURL" | head -1)"
