#!/usr/bin/env bash
# The audit log readers in bounded memory: builds an N-record log (default
# 1,000,000) with gate_log_fixture and times `glassbox log verify` and a
# filtered `log export`, printing each one's peak resident memory. The log
# goes to $LOG_DIR (default: a temporary folder on the build's disk).
# usage: bench/log_bench.sh [BUILD_DIR]   (needs glassbox, gate_log_fixture, /usr/bin/time)
set -eu
BUILD=$(cd "${1:-build}" && pwd)
N=${N:-1000000}
DIR=$(mktemp -d "${LOG_DIR:-${TMPDIR:-/tmp}}/glassbox-log-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
start=$(date +%s.%N)
"$BUILD/src/gate/gate_log_fixture" "$DIR/audit.db" bulk "$N"
echo "built $N records in $(echo "$(date +%s.%N) - $start" | bc) s: $(( $(stat -c %s "$DIR/audit.db") / 1048576 )) MB"
/usr/bin/time -f 'log verify: %e s, peak RSS %M kB' "$BUILD/glassbox" log verify --log "$DIR/audit.db"
/usr/bin/time -f 'log export --user bob --model claude-haiku-4-5: %e s, peak RSS %M kB' \
  "$BUILD/glassbox" log export --log "$DIR/audit.db" --user bob --model claude-haiku-4-5 | wc -l | sed 's/^/  records exported: /'
