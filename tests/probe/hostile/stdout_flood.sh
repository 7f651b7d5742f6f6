#!/bin/sh
# Hostile sample: flood stdout (a host file the cell runner keeps) with up to
# 4 GiB; a sandbox without an output cap fills the host's disk.
head -c 4294967296 /dev/zero | tr '\0' 'x'
echo "flood ended $?" >&2
