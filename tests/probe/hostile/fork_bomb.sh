#!/bin/sh
# Hostile sample: a fork bomb, bounded so that a sandbox without a process
# limit would still end: 4000 sleeping processes, then exit.
i=0
while [ $i -lt 4000 ]; do
  sleep 20 &
  i=$((i + 1))
done 2>/dev/null
sleep 1
echo "started $(ls /proc | grep -c '^[0-9]')"
