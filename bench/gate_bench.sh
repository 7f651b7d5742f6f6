#!/usr/bin/env bash
# Benchmark of `glassbox gate` against talking to the same fake upstream
# directly, in one run, on 127.0.0.1:
#   - latency of 100 KB Anthropic requests (p50/p99, keep-alive, one at a time),
#     also through a bare byte relay (gate_relay: no HTTP, no policy, no log),
#     the floor any proxy pays for the second loopback hop
#   - time to first byte of OpenAI streams
#   - the same through protocol translation: 100 KB Anthropic Messages
#     requests and streams routed to an OpenAI Chat Completions upstream
#     (openai-chat), against sending the equivalent Chat request directly,
#     beside the untranslated path in the same run, and the translator's own
#     time in process (gate_policy_benchmark); the gate's CPU per request
#     (perf stat task-clock, when perf can attach); and the same 100 KB
#     requests against an upstream that thinks THINK_MS before answering
#     (as a model does), so what the gate does while the upstream works is
#     off the path as it is in use
#   - small requests per second with wrk (16 connections)
#   - the gate's peak resident memory (VmHWM)
# usage: bench/gate_bench.sh [BUILD_DIR]   (needs glassbox, gate_fake_upstream, gate_latency, gate_relay,
#   gate_policy_benchmark, wrk)
#   N=1000             requests per latency run
#   DURABILITY=normal  the log's [log] durability: normal (default) or full
#   LOG_DIR=DIR        where the audit log goes (default: a fresh folder under
#                      $TMPDIR, i.e. the disk; LOG_DIR=/dev/shm puts it on tmpfs)
#   PG=0               skip the PostgreSQL section (default: run it when the
#                      server binaries are there): two gate replicas on one
#                      throwaway cluster (tests/pg/pg_cluster.sh), 100 KB
#                      requests through one replica, then through both at
#                      once, as a user without a budget (log only) and with one
#                      (log + the shared reservation and its settlement);
#                      two replicas at once are set against two clients at
#                      once straight to the upstream (the same concurrency),
#                      and also shown against the one-client baseline
#   BODIES_AHEAD=1     the replicas send large request bodies ahead of their
#                      records ([log] bodies_ahead = true, docs/gate.md)
#   GLASSBOX_PG_CPUS=1 pin the PostgreSQL server to those CPUs (taskset -c)
#   GLASSBOX_PG_MALLOC=default  run the PostgreSQL server with glibc's malloc
#                      defaults, not the settings docs/gate.md recommends
#                      for a fleet (tests/pg/pg_cluster.sh)
#   THINK_MS=2         the thinking upstream's delay (0 skips that part)
#   CALLGRIND=200      also count the gate's instructions per 100 KB request
#                      (valgrind; steady on a busy machine where times are not):
#                      (run with 200+20 requests - run with none) / 220
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${N:-1000}
DURABILITY=${DURABILITY:-normal}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-gate-bench.XXXXXX")
LOGDIR=$WORK
if [[ -n "${LOG_DIR:-}" ]]; then LOGDIR=$(mktemp -d "$LOG_DIR/glassbox-gate-bench-log.XXXXXX"); fi
PIDS=()
PGC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/pg" && pwd)/pg_cluster.sh
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -d $WORK/pg ]] && bash "$PGC" stop "$WORK/pg" fast; rm -rf "$WORK" "$LOGDIR"' EXIT
cd "$WORK"
wait_line() { for _ in $(seq 200); do grep -m1 "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

"$BUILD/src/gate/gate_fake_upstream" --threads 1 > fake.out &
PIDS+=($!)
UP=$(wait_line fake.out '^port ' | cut -d' ' -f2)
U=http://127.0.0.1:$UP
"$BUILD/src/gate/gate_relay" "$UP" > relay.out &
PIDS+=($!)
R=http://127.0.0.1:$(wait_line relay.out '^port ' | cut -d' ' -f2)
printf '[log]\ndurability = "%s"\n' "$DURABILITY" > gate.toml
echo "log: $LOGDIR/audit.db ($(df --output=fstype "$LOGDIR" | tail -1)), durability $DURABILITY"
"$BUILD/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$U --upstream openai=$U \
  --upstream gemini=$U --upstream local=openai-chat+$U/v1 --route 'claude-translated-*=local:qwen3-coder' \
  --log "$LOGDIR/audit.db" --config gate.toml > gate.out &
GATE_PID=$!
PIDS+=($GATE_PID)
G=$(wait_line gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')

# A 100 KB prompt of ordinary prose.
python3 - <<'PY'
import json
words = "the quick brown fox jumps over the lazy dog while a compiler builds the code again".split()
text = " ".join(words[i % len(words)] for i in range(20000))[:100_000]
json.dump({"model": "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}, open("big.json", "w"))
json.dump({"model": "gpt-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}, open("stream.json", "w"))
json.dump({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
          open("small.json", "w"))
# Translated: the same prompt for a model routed to the Chat upstream, and
# the Chat request a client would send that upstream directly.
json.dump({"model": "claude-translated-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}, open("big_tr.json", "w"))
json.dump({"model": "qwen3-coder", "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}, open("big_chat.json", "w"))
json.dump({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
           "messages": [{"role": "user", "content": "hi"}]}, open("stream_msg.json", "w"))
json.dump({"model": "claude-translated-4-5", "max_tokens": 64, "stream": True,
           "messages": [{"role": "user", "content": "hi"}]}, open("stream_tr.json", "w"))
json.dump({"model": "qwen3-coder", "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True},
           "messages": [{"role": "user", "content": "hi"}]}, open("stream_chat.json", "w"))
PY
AV=anthropic-version:2023-06-01
lat() { "$BUILD/src/gate/gate_latency" "$@"; }
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<< "$2"; }

echo "== 100 KB requests, $N sequential, keep-alive"
direct=$(lat "$U" /v1/messages big.json "$N" "$AV")
gated=$(lat "$G" /v1/messages big.json "$N" "$AV")
relayed=$(lat "$R" /v1/messages big.json "$N" "$AV")
echo "direct: $direct"
echo "gate:   $gated"
echo "relay:  $relayed"
awk -v d50="$(field p50_ms "$direct")" -v g50="$(field p50_ms "$gated")" \
    -v d99="$(field p99_ms "$direct")" -v g99="$(field p99_ms "$gated")" \
    -v r50="$(field p50_ms "$relayed")" -v r99="$(field p99_ms "$relayed")" \
    'BEGIN { printf "added by the gate: p50 %.3f ms, p99 %.3f ms\n", g50 - d50, g99 - d99;
             printf "added by a bare relay (the second hop alone): p50 %.3f ms, p99 %.3f ms\n", r50 - d50, r99 - d99;
             printf "the gate beyond the relay: p50 %.3f ms\n", g50 - r50 }'

SQLITE_ADDED=$(awk -v d50="$(field p50_ms "$direct")" -v g50="$(field p50_ms "$gated")" \
    -v d99="$(field p99_ms "$direct")" -v g99="$(field p99_ms "$gated")" 'BEGIN { printf "p50 %.3f ms, p99 %.3f ms", g50 - d50, g99 - d99 }')

if [[ ${PG:-1} != 0 ]]; then
  echo "== PostgreSQL: two gate replicas on one cluster, 100 KB requests, $N sequential per client"
  echo "server: glibc malloc ${GLASSBOX_PG_MALLOC:-as docs/gate.md recommends}, CPUs ${GLASSBOX_PG_CPUS:-any}; bodies ahead: $([[ ${BODIES_AHEAD:-0} == 1 ]] && echo yes || echo no)"
  if PGURL=$(bash "$PGC" start "$WORK/pg" 2>pg.err); then
    # (the line only when asked: builds before the option refuse the key)
    printf '[log]\ndurability = "%s"\n%s\n[users.bench]\nkey = "bench-key-0123456789abcdef"\ndaily_tokens = 1000000000000\n\n[users.plain]\nkey = "plain-key-0123456789abcdef"\n' \
      "$DURABILITY" "$([[ ${BODIES_AHEAD:-0} == 1 ]] && echo 'bodies_ahead = true')" > fleet.toml
    "$BUILD/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$U --log "$PGURL?replica=a" \
      --config fleet.toml > fleet-a.out 2> fleet-a.err &
    GA_PID=$!
    "$BUILD/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$U --log "$PGURL?replica=b" \
      --config fleet.toml > fleet-b.out 2> fleet-b.err &
    GB_PID=$!
    PIDS+=("$GA_PID" "$GB_PID")
    GA=$(wait_line fleet-a.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
    GB=$(wait_line fleet-b.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
    KEY=x-api-key:bench-key-0123456789abcdef
    direct=$(lat "$U" /v1/messages big.json "$N" "$AV")
    one=$(lat "$GA" /v1/messages big.json "$N" "$AV" x-api-key:plain-key-0123456789abcdef)
    budget=$(lat "$GA" /v1/messages big.json "$N" "$AV" "$KEY")
    # The baseline for two replicas at once is two clients at once straight
    # to the upstream: what the gate adds under the same concurrency.
    lat "$U" /v1/messages big.json "$N" "$AV" > direct-a &
    pa=$!
    lat "$U" /v1/messages big.json "$N" "$AV" > direct-b &
    pb=$!
    wait $pa $pb
    # CPU time (utime + stime, clock ticks) of the two gates and of the
    # PostgreSQL server's processes alive at the end, over a run.
    ticks() { cat "/proc/$1/stat" 2>/dev/null | sed -E 's/.*\) //' | awk '{ print $12 + $13 }' || echo 0; }
    pg_pids() { local pm; pm=$(head -1 "$WORK/pg/data/postmaster.pid"); echo "$pm" $(pgrep -P "$pm"); }
    cpu_snap() { local g=0 p=0 x; for x in $GA_PID $GB_PID; do g=$((g + $(ticks "$x"))); done
      for x in $(pg_pids); do p=$((p + $(ticks "$x"))); done; echo "$g $p"; }
    cpu_per_exchange() {  # before after: "gate X ms, PostgreSQL Y ms" per exchange (both gates summed)
      awk -v b="$1" -v a="$2" -v n=$((2 * N)) -v hz="$(getconf CLK_TCK)" 'BEGIN { split(b, x, " "); split(a, y, " ");
        printf "gate %.3f ms, PostgreSQL %.3f ms", (y[1] - x[1]) * 1000 / hz / n, (y[2] - x[2]) * 1000 / hz / n }'
    }
    before=$(cpu_snap)
    lat "$GA" /v1/messages big.json "$N" "$AV" x-api-key:plain-key-0123456789abcdef > plain-a &
    pa=$!
    lat "$GB" /v1/messages big.json "$N" "$AV" x-api-key:plain-key-0123456789abcdef > plain-b &
    pb=$!
    wait $pa $pb
    middle=$(cpu_snap)
    lat "$GA" /v1/messages big.json "$N" "$AV" "$KEY" > both-a &
    pa=$!
    lat "$GB" /v1/messages big.json "$N" "$AV" "$KEY" > both-b &
    pb=$!
    wait $pa $pb
    after=$(cpu_snap)
    echo "direct:                          $direct"
    echo "replica a, user without budget:  $one"
    echo "replica a, budgeted user:        $budget"
    echo "direct, two clients at once (a): $(cat direct-a)"
    echo "direct, two clients at once (b): $(cat direct-b)"
    echo "replicas a and b at once, log only (a): $(cat plain-a)"
    echo "replicas a and b at once, log only (b): $(cat plain-b)"
    echo "replicas a and b at once (a):    $(cat both-a)"
    echo "replicas a and b at once (b):    $(cat both-b)"
    added() {
      awk -v d50="$(field p50_ms "$direct")" -v g50="$(field p50_ms "$1")" -v d99="$(field p99_ms "$direct")" \
        -v g99="$(field p99_ms "$1")" 'BEGIN { printf "p50 %.3f ms, p99 %.3f ms", g50 - d50, g99 - d99 }'
    }
    echo "added, SQLite gate (above):                 $SQLITE_ADDED"
    echo "added, PostgreSQL, one replica, log only:   $(added "$one")"
    echo "added, PostgreSQL, one replica, budgeted:   $(added "$budget")"
    echo "added, PostgreSQL, two replicas at once, against one direct client:  a $(added "$(cat both-a)"); b $(added "$(cat both-b)")"
    added2() {
      awk -v d50="$(field p50_ms "$(cat "$2")")" -v g50="$(field p50_ms "$(cat "$1")")" -v d99="$(field p99_ms "$(cat "$2")")" \
        -v g99="$(field p99_ms "$(cat "$1")")" 'BEGIN { printf "p50 %.3f ms, p99 %.3f ms", g50 - d50, g99 - d99 }'
    }
    echo "added, PostgreSQL, two replicas at once, against two direct clients at once:"
    echo "  log only: a $(added2 plain-a direct-a); b $(added2 plain-b direct-b)"
    echo "  budgeted: a $(added2 both-a direct-a); b $(added2 both-b direct-b)"
    echo "CPU per exchange, two replicas at once: log only: $(cpu_per_exchange "$before" "$middle"); budgeted: $(cpu_per_exchange "$middle" "$after")"
    if [[ ${THINK_MS:-2} != 0 ]]; then
      # Two more replicas on the same cluster in front of an upstream that thinks THINK_MS
      # before answering, as a model does: what a gate does after forwarding (hashing the
      # body, handing the record to the database) then overlaps the upstream's work, as in use.
      "$BUILD/src/gate/gate_fake_upstream" --threads 1 --think-ms "${THINK_MS:-2}" > pgthink.out &
      PIDS+=($!)
      PTU=http://127.0.0.1:$(wait_line pgthink.out '^port ' | cut -d' ' -f2)
      for r in c d; do
        "$BUILD/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$PTU --log "$PGURL?replica=$r" \
          --config fleet.toml > "fleet-$r.out" 2> "fleet-$r.err" &
        PIDS+=($!)
      done
      GC=$(wait_line fleet-c.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
      GD=$(wait_line fleet-d.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
      at_once() {  # OUT_PREFIX URL_1 URL_2 [HEADER]: two clients at once
        lat "$2" /v1/messages big.json "$N" "$AV" ${4:+"$4"} > "$1-1" &
        local p1=$!
        lat "$3" /v1/messages big.json "$N" "$AV" ${4:+"$4"} > "$1-2" &
        local p2=$!
        wait $p1 $p2
      }
      at_once think-direct "$PTU" "$PTU"
      at_once think-plain "$GC" "$GD" x-api-key:plain-key-0123456789abcdef
      at_once think-budget "$GC" "$GD" "$KEY"
      echo "upstream thinking ${THINK_MS:-2} ms, direct, two clients at once: $(cat think-direct-1)"
      echo "upstream thinking ${THINK_MS:-2} ms, replicas c and d at once, budgeted (c): $(cat think-budget-1)"
      echo "added, PostgreSQL, two replicas at once, upstream thinking ${THINK_MS:-2} ms, against two direct clients at once:"
      echo "  log only: c $(added2 think-plain-1 think-direct-1); d $(added2 think-plain-2 think-direct-2)"
      echo "  budgeted: c $(added2 think-budget-1 think-direct-1); d $(added2 think-budget-2 think-direct-2)"
    fi
    echo "records in PostgreSQL: $("$BUILD/glassbox" log verify --log "$PGURL")"
  else
    echo "skipped: $(cat pg.err)"
  fi
fi

echo "== time to first byte of streams, $N sequential"
direct=$(lat "$U" /v1/chat/completions stream.json "$N")
gated=$(lat "$G" /v1/chat/completions stream.json "$N")
echo "direct: $direct"
echo "gate:   $gated"
awk -v d="$(field ttfb_p50_ms "$direct")" -v g="$(field ttfb_p50_ms "$gated")" \
    -v d99="$(field ttfb_p99_ms "$direct")" -v g99="$(field ttfb_p99_ms "$gated")" \
    'BEGIN { printf "added to time to first byte: p50 %.3f ms, p99 %.3f ms\n", g - d, g99 - d99 }'

echo "== translated: Anthropic Messages -> OpenAI Chat upstream, $N sequential each"
# Untranslated: Messages through the gate against Messages directly.
# Translated: Messages through the gate (to Chat and back) against the
# equivalent Chat request sent to the upstream directly.
d_msg=$(lat "$U" /v1/messages big.json "$N" "$AV")
g_msg=$(lat "$G" /v1/messages big.json "$N" "$AV")
d_chat=$(lat "$U" /v1/chat/completions big_chat.json "$N")
g_tr=$(lat "$G" /v1/messages big_tr.json "$N" "$AV")
echo "100 KB direct Messages: $d_msg"
echo "100 KB gate, untranslated: $g_msg"
echo "100 KB direct Chat: $d_chat"
echo "100 KB gate, translated: $g_tr"
awk -v a="$(field p50_ms "$d_msg")" -v b="$(field p50_ms "$g_msg")" -v c="$(field p50_ms "$d_chat")" -v d="$(field p50_ms "$g_tr")" \
    -v a9="$(field p99_ms "$d_msg")" -v b9="$(field p99_ms "$g_msg")" -v c9="$(field p99_ms "$d_chat")" -v d9="$(field p99_ms "$g_tr")" \
    'BEGIN { printf "added, untranslated: p50 %.3f ms, p99 %.3f ms\n", b - a, b9 - a9;
             printf "added, translated:   p50 %.3f ms, p99 %.3f ms\n", d - c, d9 - c9;
             printf "translation itself (translated added - untranslated added): p50 %.3f ms\n", (d - c) - (b - a) }'
d_msg=$(lat "$U" /v1/messages stream_msg.json "$N" "$AV")
g_msg=$(lat "$G" /v1/messages stream_msg.json "$N" "$AV")
d_chat=$(lat "$U" /v1/chat/completions stream_chat.json "$N")
g_tr=$(lat "$G" /v1/messages stream_tr.json "$N" "$AV")
echo "stream direct Messages: $d_msg"
echo "stream gate, untranslated: $g_msg"
echo "stream direct Chat: $d_chat"
echo "stream gate, translated: $g_tr"
awk -v a="$(field ttfb_p50_ms "$d_msg")" -v b="$(field ttfb_p50_ms "$g_msg")" -v c="$(field ttfb_p50_ms "$d_chat")" -v d="$(field ttfb_p50_ms "$g_tr")" \
    -v a9="$(field ttfb_p99_ms "$d_msg")" -v b9="$(field ttfb_p99_ms "$g_msg")" -v c9="$(field ttfb_p99_ms "$d_chat")" -v d9="$(field ttfb_p99_ms "$g_tr")" \
    -v e="$(field p50_ms "$d_chat")" -v f="$(field p50_ms "$g_tr")" -v x="$(field p50_ms "$d_msg")" -v y="$(field p50_ms "$g_msg")" \
    'BEGIN { printf "added to time to first byte, untranslated: p50 %.3f ms, p99 %.3f ms\n", b - a, b9 - a9;
             printf "added to time to first byte, translated:   p50 %.3f ms, p99 %.3f ms\n", d - c, d9 - c9;
             printf "added to the whole stream: untranslated p50 %.3f ms, translated p50 %.3f ms\n", y - x, f - e }'

cpu_per_request() {  # gate pid, then gate_latency's arguments: the gate's CPU ms per request
  local ms
  ms=$(perf stat -x, -e task-clock -p "$1" -- "$BUILD/src/gate/gate_latency" "${@:2}" 2>&1 >/dev/null |
    awk -F, '/task-clock/ { print $1 }') || true
  if [[ -z $ms ]]; then echo "n/a (perf cannot attach)"; else awk -v t="$ms" -v n="$5" 'BEGIN { printf "%.3f ms", t / n }'; fi
}
if command -v perf > /dev/null; then
  echo "gate CPU per 100 KB request (perf task-clock, all threads): untranslated $(cpu_per_request "$GATE_PID" "$G" \
    /v1/messages big.json "$N" "$AV"), translated $(cpu_per_request "$GATE_PID" "$G" /v1/messages big_tr.json "$N" "$AV")"
fi

if [[ ${THINK_MS:-2} != 0 ]]; then
  echo "== translated, upstream thinking ${THINK_MS:-2} ms before it answers, 100 KB, $N sequential each"
  "$BUILD/src/gate/gate_fake_upstream" --threads 1 --think-ms "${THINK_MS:-2}" > think.out &
  PIDS+=($!)
  TU=http://127.0.0.1:$(wait_line think.out '^port ' | cut -d' ' -f2)
  "$BUILD/glassbox" gate --listen 127.0.0.1:0 --threads 2 --upstream anthropic=$TU --upstream local=openai-chat+$TU/v1 \
    --route 'claude-translated-*=local:qwen3-coder' --log "$LOGDIR/think.db" --config gate.toml > think-gate.out &
  PIDS+=($!)
  TG=$(wait_line think-gate.out 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
  d_msg=$(lat "$TU" /v1/messages big.json "$N" "$AV")
  g_msg=$(lat "$TG" /v1/messages big.json "$N" "$AV")
  d_chat=$(lat "$TU" /v1/chat/completions big_chat.json "$N")
  g_tr=$(lat "$TG" /v1/messages big_tr.json "$N" "$AV")
  awk -v a="$(field p50_ms "$d_msg")" -v b="$(field p50_ms "$g_msg")" -v c="$(field p50_ms "$d_chat")" -v d="$(field p50_ms "$g_tr")" \
      -v a9="$(field p99_ms "$d_msg")" -v b9="$(field p99_ms "$g_msg")" -v c9="$(field p99_ms "$d_chat")" -v d9="$(field p99_ms "$g_tr")" \
      'BEGIN { printf "added, untranslated: p50 %.3f ms, p99 %.3f ms\n", b - a, b9 - a9;
               printf "added, translated:   p50 %.3f ms, p99 %.3f ms\n", d - c, d9 - c9;
               printf "translation itself (translated added - untranslated added): p50 %.3f ms\n", (d - c) - (b - a) }'
fi

echo "== translation in process (no network, no log: gate_policy_benchmark)"
"$BUILD/src/gate/gate_policy_benchmark" 200 | grep '^translate' || echo "(gate_policy_benchmark not built)"

echo "== small requests per second (wrk, 2 threads, 16 connections, 5 s)"
cat > post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = [[$(cat small.json)]]
LUA
for target in "direct $U" "gate $G"; do
  set -- $target
  rps=$(wrk -t2 -c16 -d5s -s post.lua "$2/v1/messages" | awk '/Requests\/sec/ {print $2}')
  echo "$1: $rps requests/s"
done
echo "== gate resident memory"
grep -E 'VmHWM|VmRSS' /proc/$GATE_PID/status
echo "records in the log: $("$BUILD/glassbox" log list --log "$LOGDIR/audit.db" --format jsonl | wc -l)"

if [[ -n "${CALLGRIND:-}" ]]; then
  echo "== instructions per 100 KB request (callgrind, $CALLGRIND + warm-up)"
  count() {  # count N: total instructions of a gate that served N (+N/10) requests
    rm -f "$LOGDIR"/cg.db*
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" "$BUILD/glassbox" gate --listen 127.0.0.1:0 \
      --upstream anthropic=$U --log "$LOGDIR/cg.db" --config gate.toml > "cg.$1.out" 2>/dev/null &
    local pid=$!
    local g
    g=$(wait_line "cg.$1.out" 'listening on' | sed -E 's/.*listening on (http:\/\/[^ ]+).*/\1/')
    lat "$g" /v1/messages big.json "$1" "$AV" > /dev/null
    kill -INT "$pid"
    wait "$pid" || true
    grep -m1 '^summary' "$WORK/cg.$1" | cut -d' ' -f2
  }
  with=$(count "$CALLGRIND")
  without=$(count 0)
  echo "instructions per request: $(( (with - without) / (CALLGRIND + CALLGRIND / 10) )) (start-up and shut-down: $without)"
fi
