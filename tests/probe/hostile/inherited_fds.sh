#!/bin/sh
# Hostile sample: use every descriptor it did not open itself. The test
# starts glassbox with a file in a host folder and a UDP socket connected to
# a host listener open; the capture server's listening sockets, the packet
# socket and the DNS sockets are open in the cell runner. Anything above 2
# that is written to, or shut down, is a way out.
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -le 2 ] && continue
  link=$(readlink /proc/$$/fd/$fd 2>/dev/null)
  echo "FD $fd -> $link"
  # A socket or a file: write to it (a UDP datagram, a line in the host file).
  ( echo "hostile-write-through-fd-$fd" >&"$fd" ) 2>/dev/null && echo "WON: wrote fd $fd ($link)"
done
# No descriptor: the HTTPS request is still captured.
curl -sS -m 5 https://api.anthropic.com/v1/messages -d '{"inherited":"probe"}' > /dev/null
echo done
