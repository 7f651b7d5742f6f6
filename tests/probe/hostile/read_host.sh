#!/bin/sh
# Hostile sample: read what belongs to the host: password hashes, other
# processes' command lines, the machine id, network interfaces and their MAC
# addresses, other users' homes, the host's System V IPC objects and cgroup
# path. Prints what it found; the test compares with the host's values.
echo "SHADOW: $(cat /etc/shadow 2>/dev/null | head -c 200 | tr '\n' ' ')"
echo "GSHADOW: $(cat /etc/gshadow 2>/dev/null | head -c 200 | tr '\n' ' ')"
echo "MACHINE-ID: $(cat /etc/machine-id 2>/dev/null) $(cat /var/lib/dbus/machine-id 2>/dev/null)"
for p in /proc/[0-9]*; do echo "PROC: $p $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | head -c 200)"; done
echo "NET: $(ls /sys/class/net 2>&1 | tr '\n' ' ') $(cat /sys/class/net/*/address 2>/dev/null | tr '\n' ' ')"
echo "HOMES: $(ls /home /root 2>&1 | tr '\n' ' ')"
echo "SSH: $(cat /etc/ssh/ssh_host_*key 2>/dev/null | head -c 100)"
echo "IPC: $(ipcs -m 2>/dev/null | grep -c '^0x') $(ipcs -q 2>/dev/null | grep -c '^0x')"
echo "CGROUP: $(grep -v ':/$' /proc/self/cgroup | tr '\n' ' ')"
echo "MOUNTINFO-ROOT: $(grep -c . /proc/self/mountinfo)"
curl -sS -m 5 https://api.anthropic.com/v1/messages -d '{}' > /dev/null 2>&1
echo done
