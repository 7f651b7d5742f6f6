#!/usr/bin/env bash
# End-to-end: hostile sample agents (tests/probe/hostile) attack the probe
# sandbox, one attack class each. Every attack must fail, or be reported:
# then the verdict is "inconclusive" with the limit named, never a clean
# exit 0. Also checked from the host: nothing written, nothing sent out.
#
# Usage: probe_hostile_e2e.sh GLASSBOX [nobody]
#   nobody: run glassbox as uid/gid 65534 (setpriv; needs root), else as the
#   caller. Exits 77 (skipped) when the sandbox cannot run here.
source "$(dirname "$0")/lib.sh"
AS=${2:-self}
H=$(cd "$(dirname "$0")/../probe/hostile" && pwd)
if [[ $AS == nobody && $(id -u) != 0 ]]; then echo "SKIP: running as 65534 needs root"; exit 77; fi
if ! "$GB" probe --check-sandbox >/dev/null 2>"$WORK/sandbox.err"; then
  echo "SKIP: the probe sandbox cannot run here: $(cat "$WORK/sandbox.err")"
  exit 77
fi
for tool in node curl jq python3 sha256sum; do
  command -v $tool >/dev/null || { echo "SKIP: the hostile samples need $tool"; exit 77; }
done
# A glassbox of its own in a folder of the caller's (root's, normally) that
# the attacks may try to replace; an area both users can write.
chmod 755 "$WORK"
BIN=$WORK/bin
A=$WORK/area
mkdir -p "$BIN" "$A/tmp"
chmod 1777 "$A" "$A/tmp"
cp "$GB" "$BIN/glassbox"
SUM=$(sha256sum < "$BIN/glassbox")
if [[ $AS == nobody ]]; then
  PREFIX=(setpriv --reuid=65534 --regid=65534 --clear-groups env TMPDIR="$A/tmp")
else
  PREFIX=(env TMPDIR="$A/tmp")
fi
WRAPCMD=()
n=0
# probe_run DESCRIPTION TIMEOUT -- AGENT...: one run per cell, two cells, one
# after the other; report in $A/out-N.json, captures in $A/out-N/; the agent's
# stdout of every run in $A/stdout-N.
probe_run() {
  local desc=$1 timeout=$2; shift 3
  n=$((n + 1))
  OUT=$A/out-$n
  local start=$SECONDS
  "${WRAPCMD[@]}" "${PREFIX[@]}" "$BIN/glassbox" probe --runs 1 --jobs 1 --timeout "$timeout" --vary TZ=Asia/Tokyo \
    --format json --out "$OUT" -- "$@" >"$OUT.json" 2>"$OUT.err"
  STATUS=$?
  (( SECONDS - start <= 3 * timeout + 20 )) && ok || bad "$desc: took $((SECONDS - start)) s"
  cat "$OUT"/captures/*/run-1.jsonl 2>/dev/null | jq -r 'select(.kind=="exit") | .stdout_tail' > "$A/stdout-$n"
  VERDICT=$(jq -r .verdict "$OUT.json" 2>/dev/null)
  [[ $STATUS == 0 || $STATUS == 1 ]] && ok || bad "$desc: exit $STATUS: $(head -c 300 "$OUT.err")"
}
# attack_failed DESCRIPTION: the agent printed no WON:/WROTE: line.
attack_failed() {
  if grep -E '^(WON|WROTE|SEEN|READABLE-EXE)' "$A/stdout-$n" >/dev/null; then
    bad "$1: $(grep -E '^(WON|WROTE|SEEN|READABLE-EXE)' "$A/stdout-$n" | head -5 | tr '\n' ';')"
  else
    ok
  fi
}
# reported DESCRIPTION PATTERN: verdict inconclusive, exit 1, a limit matching PATTERN.
reported() {
  if [[ $STATUS == 1 && $VERDICT == inconclusive ]] &&
     jq -e --arg p "$2" '[.limits_reached[] | select(test($p))] | length > 0' "$OUT.json" >/dev/null; then
    ok
  else
    bad "$1: exit $STATUS, verdict $VERDICT, limits $(jq -c .limits_reached "$OUT.json" 2>/dev/null | head -c 300)"
  fi
}
# never_clean DESCRIPTION: the attack left its mark: no clean exit 0.
captured() { # DESCRIPTION JQ-FILTER-ON-A-REQUEST
  if cat "$OUT"/captures/*/run-1.jsonl | jq -s -e "[.[] | select(.kind==\"request\") | select($2)] | length >= 2" >/dev/null; then
    ok; else bad "$1: the request was not captured in both cells"; fi
}

# 1. Binary replacement: the next cell runner must not run the planted program.
probe_run "binary replacement" 10 -- sh "$H/binary_replace.sh" "$BIN/glassbox" "$A/PWNED"
attack_failed "binary replacement"
[[ ! -e $A/PWNED ]] && ok || bad "binary replacement: the planted program ran"
[[ $(sha256sum < "$BIN/glassbox") == "$SUM" && $(ls -A "$BIN") == glassbox ]] && ok ||
  bad "binary replacement: $BIN changed: $(ls -A "$BIN" | tr '\n' ' ')"
captured "binary replacement" '.host == "api.anthropic.com"'

# 2. Inherited descriptors: a host file and a UDP socket to a host listener,
# open when glassbox starts, and the runner's own sockets.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1]))); s.settimeout(60)
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "ab", buffering=0) as log:
    while True:
        try: data = s.recv(65536)
        except socket.timeout: break
        log.write(data)
' "$PORT" "$A/udp.log" &
LISTENER=$!
: > "$A/hostfile"
chmod 666 "$A/hostfile"
for _ in $(seq 100); do [[ -e $A/udp.log.ready ]] && break; sleep 0.05; done
exec 6>>"$A/hostfile"
# fd 5: a UDP socket connected to the listener (one datagram proves it works).
WRAPCMD=(python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.1", int(sys.argv[1])))
os.dup2(s.fileno(), 5); s.close(); os.write(5, b"reachable")
os.execvp(sys.argv[2], sys.argv[2:])' "$PORT")
probe_run "inherited descriptors" 10 -- sh "$H/inherited_fds.sh"
WRAPCMD=()
exec 6>&-
sleep 0.2
kill "$LISTENER" 2>/dev/null
attack_failed "inherited descriptors"
[[ $(cat "$A/udp.log") == reachable ]] && ok || bad "inherited descriptors: the UDP listener got: $(head -c 200 "$A/udp.log")"
[[ ! -s $A/hostfile ]] && ok || bad "inherited descriptors: the host file was written"
grep -E '^FD .*(socket|hostfile|anon_inode)' "$A/stdout-$n" >/dev/null &&
  bad "inherited descriptors: $(grep '^FD' "$A/stdout-$n" | head -5 | tr '\n' ';')" || ok
captured "inherited descriptors (the :443 listener still serves)" '.body | test("inherited")'

# 3. Writes to the host: a root-owned folder and file, system folders, setuid.
mkdir -p "$A/rootdir"
chmod 755 "$A/rootdir"
: > "$A/rootdir/rootfile"
chmod 644 "$A/rootdir/rootfile"
probe_run "host writes" 10 -- sh "$H/host_writes.sh" "$A/rootdir" "$A/rootdir/rootfile"
attack_failed "host writes"
[[ $(ls -A "$A/rootdir") == rootfile && ! -s $A/rootdir/rootfile &&
   $(stat -c '%a %u' "$A/rootdir/rootfile") == "644 $(id -u)" ]] && ok ||
  bad "host writes: $(ls -la "$A/rootdir" | tr '\n' ';')"
for p in /usr/local/bin /usr/lib /etc /opt /var /var/tmp /root /home /run /srv /mnt /; do
  [[ ! -e $p/hostile-was-here ]] && ok || { bad "host writes: $p/hostile-was-here exists"; rm -f "$p/hostile-was-here"; }
done

# 4. Reading the host: shadow, other processes, machine id, NICs, homes.
SHM=$(ipcmk -M 4096 2>/dev/null | grep -o '[0-9]*$')
MSQ=$(ipcmk -Q 2>/dev/null | grep -o '[0-9]*$')
probe_run "host reads" 10 -- sh "$H/read_host.sh"
[[ -n $SHM ]] && ipcrm -m "$SHM"
[[ -n $MSQ ]] && ipcrm -q "$MSQ"
S=$A/stdout-$n
grep -q '^IPC: 0 0$' "$S" && ok || bad "host reads: the host's System V IPC: $(grep '^IPC' "$S")"
grep -q '^CGROUP: $' "$S" && ok || bad "host reads: the host's cgroup: $(grep '^CGROUP' "$S")"
grep -q '^SHADOW: $' "$S" && grep -q '^GSHADOW: $' "$S" && ok || bad "host reads: $(grep SHADOW "$S" | head -c 200)"
HOST_ID=$(cat /etc/machine-id 2>/dev/null)
[[ -z $HOST_ID ]] || ! grep -q "$HOST_ID" "$S" && ok || bad "host reads: the host's machine id"
grep -q '__probe-cell' "$S" && bad "host reads: the runner's command line" || ok
[[ $(grep -c '^PROC:' "$S") -le 8 ]] && ok || bad "host reads: $(grep -c '^PROC:' "$S") processes visible"
grep -q '^NET: .*No such file' "$S" && ok || bad "host reads: $(grep '^NET' "$S")"
grep -q '^SSH: $' "$S" && ok || bad "host reads: ssh host keys"

# 5-9. Resources: each limit holds and is reported; never a clean verdict.
# 30 s: on a loaded machine 512 forks of sleep can take longer than 8 s, and a run that
# times out first never reaches the limit this checks.
probe_run "fork bomb" 30 -- sh "$H/fork_bomb.sh"
reported "fork bomb" '^processes'
probe_run "memory fill" 20 -- node "$H/memory_fill.js"
reported "memory fill" '^memory'
grep -q 'held 6144 MiB' "$A/stdout-$n" && bad "memory fill: 6 GiB held" || ok
probe_run "disk fill" 20 -- sh "$H/disk_fill.sh"
reported "disk fill" '^disk: the agent filled /home'
reported "disk fill" '^disk: the agent filled /tmp'
probe_run "stdout flood" 20 -- sh "$H/stdout_flood.sh"
reported "stdout flood" '^output: the agent.s stdout'
[[ $(du -sm "$A/tmp" | cut -f1) -lt 100 ]] && ok || bad "stdout flood: $(du -sh "$A/tmp")"
probe_run "capture flood" 15 -- node "$H/capture_flood.js"
reported "capture flood" 'connection\(s\) closed unread'
reported "capture flood" 'refused with 413'

# 10. Covert channels outside the requests: the zone in a DNS name and in the
# address dialled. The sandbox must record both, per cell, in the report.
probe_run "covert channels" 10 -- sh "$H/covert_channels.sh"
jq -e '[.dns[] | select(.name | test("\\.tz\\.exfil-example\\.net$")) | select((.by_cell | length) == 1)]
       | (length == 2) and (.[0].by_cell | keys) != (.[1].by_cell | keys)' "$OUT.json" >/dev/null && ok ||
  bad "covert channels: the DNS names per cell: $(jq -c '.dns' "$OUT.json" | head -c 300)"
jq -e '[.unserved_connections[] | select(.dest | test("^203\\.0\\.113\\.[0-9]+:9000$")) | select((.by_cell | length) == 1)]
       | length == 2' "$OUT.json" >/dev/null && ok ||
  bad "covert channels: the addresses dialled per cell: $(jq -c '.unserved_connections' "$OUT.json" | head -c 300)"
# Judging these names and addresses across cells is the analysis's part
# (branch probe-analysis, which brings tests/probe/hostile/dns_channel.js):
# once it is here, the verdict must not be clean.
if [[ -e $H/dns_channel.js ]]; then
  [[ $STATUS == 1 && $VERDICT != no-environment-dependence ]] && ok || bad "covert channels: exit $STATUS, verdict $VERDICT"
else
  echo "NOTE: covert channels recorded; verdict $VERDICT (judging them needs the analysis of probe-analysis)"
fi

# An interrupted probe removes its work directory (SIGTERM, SIGINT); one
# killed with -9 leaves it, and the next probe sweeps it away.
for sig in TERM INT KILL; do
  "${PREFIX[@]}" "$BIN/glassbox" probe --runs 1 --jobs 2 --timeout 30 --vary TZ=Asia/Tokyo -- sleep "19.$$" \
    >/dev/null 2>"$A/sig.err" &
  pid=$!
  for _ in $(seq 100); do
    [[ -n $(ls "$A"/tmp/glassbox-probe-*/cell-0*/run-1/agent.stdout 2>/dev/null) ]] && break
    sleep 0.05
  done
  sleep 0.2
  kill -$sig $pid
  wait $pid
  status=$?
  if [[ $sig == KILL ]]; then
    [[ -n $(ls -A "$A/tmp") ]] && ok || bad "kill -9: nothing left to sweep (test broken)"
    "${PREFIX[@]}" "$BIN/glassbox" probe --runs 1 --vary TZ=Asia/Tokyo -- true >/dev/null 2>&1
    [[ -z $(ls -A "$A/tmp") ]] && ok || bad "stale work directory not swept: $(ls -A "$A/tmp")"
  else
    [[ $status -gt 128 && -z $(ls -A "$A/tmp") ]] && ok ||
      bad "SIG$sig: exit $status, left $(ls -A "$A/tmp"); $(head -c 200 "$A/sig.err")"
  fi
done
# The agents die by PR_SET_PDEATHSIG down the chain probe -> cell runner ->
# waiter -> agent: at once, but on a loaded machine (ctest -j2 with both cores
# busy) not within a fixed 0.2 s, which failed once. Gone within 10 s.
for _ in $(seq 100); do
  pgrep -f "^sleep 19.$$\$" >/dev/null || break
  sleep 0.1
done
pgrep -f "^sleep 19.$$\$" >/dev/null && bad "an agent outlived its probe: $(pgrep -af "^sleep 19.$$")" || ok

# Nothing left behind in the temporary folder.
[[ -z $(ls -A "$A/tmp") ]] && ok || bad "work directories left: $(ls -A "$A/tmp" | head -3)"
finish
