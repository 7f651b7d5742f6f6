#!/bin/sh
# Hostile sample: write to the host. $1: a root-owned folder of the host,
# $2: a root-owned file of the host (made by the test). Tries files in the
# system folders, a setuid-root program, chmod 666 and chown of a host file.
dir=$1
file=$2
# (/tmp, /var/tmp, HOME are the sandbox's own tmpfs.)
for d in "$dir" /usr/local/bin /usr/lib /etc /opt /var /root /home /run /srv /mnt /; do
  touch "$d/hostile-was-here" 2>/dev/null && echo "WROTE: $d"
done
cp /bin/sh "$dir/suid-sh" 2>/dev/null && chmod 4755 "$dir/suid-sh" 2>/dev/null && echo "WON: setuid file in $dir"
chmod 666 "$file" 2>/dev/null && echo "WON: chmod 666 $file"
chown "$(id -u)" "$file" 2>/dev/null && echo "WON: chown $file"
echo appended >> "$file" 2>/dev/null && echo "WON: appended to $file"
# A setuid program of its own in its writable folders does not raise it.
for d in "$HOME" /tmp /dev/shm; do
  if cp /usr/bin/id "$d/id" 2>/dev/null && chmod 4755 "$d/id" 2>/dev/null; then
    euid=$("$d/id" -u 2>/dev/null)
    [ "$euid" != "$(id -u)" ] && echo "WON: setuid raised euid to $euid in $d"
  fi
done
mount -t tmpfs none /mnt 2>/dev/null && echo "WON: mount"
echo done
