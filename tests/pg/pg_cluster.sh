#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl on
# a temporary folder, listening on 127.0.0.1 only, trust authentication, no
# system service. Run as root, the server runs as `nobody` (initdb refuses
# root) in a folder it owns.
#   pg_cluster.sh start DIR     -> prints the URL (postgresql://glassbox@127.0.0.1:PORT/postgres)
#   pg_cluster.sh stop DIR [MODE]      (MODE: fast, the default, or immediate: a crash)
#   pg_cluster.sh restart DIR [MODE]   (same port)
# Exits 77 with "SKIP: ..." on stderr when the server binaries are missing
# (scripts/bootstrap.sh --test installs postgresql-15).
# GLASSBOX_PG_CPUS=LIST (as taskset -c takes it) pins the server to those
# CPUs, for benchmarks that keep the database off the gate's cores.
# The server runs with the glibc malloc settings docs/gate.md recommends for
# a gate fleet's PostgreSQL (a record's 100 KB body arrives in one protocol
# message, whose buffer glibc would otherwise map and unmap, page by page,
# for every record: 40 % of the server's CPU per log-only record, measured);
# GLASSBOX_PG_MALLOC=default leaves glibc's defaults.
set -u
BIN=${GLASSBOX_PG_BIN:-/usr/lib/postgresql/15/bin}
action=${1:?usage: pg_cluster.sh start|stop|restart DIR [MODE]}
DIR=${2:?usage: pg_cluster.sh start|stop|restart DIR [MODE]}
MODE=${3:-fast}
mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd)  # absolute: the server's socket folder

if [[ ! -x $BIN/initdb || ! -x $BIN/pg_ctl ]]; then
  echo "SKIP: PostgreSQL server binaries not found in $BIN (install postgresql-15: scripts/bootstrap.sh --test)" >&2
  exit 77
fi
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}
ctl_start() {
  local port=$1 pin=()
  [[ -n ${GLASSBOX_PG_CPUS:-} ]] && pin=(taskset -c "$GLASSBOX_PG_CPUS")
  local tunables=${GLIBC_TUNABLES:-}
  [[ ${GLASSBOX_PG_MALLOC:-} != default ]] &&
    tunables=${tunables:+$tunables:}glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=16777216
  GLIBC_TUNABLES=$tunables as_owner "${pin[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB" start >/dev/null ||
    { echo "pg_cluster: the server did not start: $(tail -5 "$DIR/server.log")" >&2; return 1; }
}

case $action in
  start)
    mkdir -p "$DIR"
    if [[ $(id -u) == 0 ]]; then
      chown nobody "$DIR"
      chmod o+x "$(dirname "$DIR")"  # nobody must reach DIR (a mktemp -d folder is 0700)
    fi
    as_owner "$BIN/initdb" -D "$DIR/data" -U glassbox --auth=trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 ||
      { echo "pg_cluster: initdb failed: $(tail -5 "$DIR/initdb.log")" >&2; exit 1; }
    # A free loopback port: bind port 0 and read what the kernel gave.
    for _ in 1 2 3; do
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      if ctl_start "$port"; then
        echo "$port" > "$DIR/port"
        echo "postgresql://glassbox@127.0.0.1:$port/postgres"
        exit 0
      fi
    done
    exit 1
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m "$MODE" -w -t 60 stop >/dev/null 2>&1
    ;;
  restart)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m "$MODE" -w -t 60 stop >/dev/null 2>&1
    ctl_start "$(cat "$DIR/port")"
    ;;
  *)
    echo "pg_cluster: unknown action '$action'" >&2
    exit 2
    ;;
esac
