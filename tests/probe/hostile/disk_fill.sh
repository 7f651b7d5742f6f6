#!/bin/sh
# Hostile sample: fill the disk through HOME and /tmp, 32 MiB per file, up
# to 4 GiB each; a sandbox that writes HOME to the host's disk would fill it.
for d in "$HOME" /tmp; do
  i=0
  while [ $i -lt 128 ]; do
    head -c 33554432 /dev/zero > "$d/fill-$i" 2>/dev/null || break
    i=$((i + 1))
  done
  echo "$d: $i files"
done
