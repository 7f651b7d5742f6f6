#!/usr/bin/env bash
# End-to-end regression tests for issue 16: scan, clean and filter on hostile
# input. Every input is generated here and small enough to run in seconds;
# memory bounds are checked with GNU time's peak RSS (no timing assertions).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
# A regression must fail here, not take the shared machine's memory.
# (Not under ASan: its shadow memory needs terabytes of address space.)
sanitized || ulimit -v 8000000
KEY='sk-ant-api03-O8OTw7a4fMZJZGL7xPVtL1wdt4V5jFauBaCzSXiMcQwINV2_PfMw2dNTmeBg1lPEe9hXaYITChKpMSJ3ojPvRY4pxOPoTAA'
TAGS=$'\U000E0049\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065'
# peak_kb COMMAND...: runs it (stdout to /dev/null) and prints its peak RSS in KB.
peak_kb() {
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/err"
  tail -n 1 "$WORK/rss"
}

# --- evasion by one NUL byte ---------------------------------------------------
mkdir nul && printf '<!-- \0 -->\nBe helpful.%s\n' "$TAGS" > nul/AGENTS.md
printf '# \0\nANTHROPIC_API_KEY=%s\n' "$KEY" > nul/.env
expect_exit 1 "a NUL byte does not hide AGENTS.md and .env" -- "$GB" scan --format json nul
grep -q '"unicode/tag-characters"' out && ok || bad "tag characters behind a NUL are found"
grep -q '"secret/anthropic-api-key"' out && ok || bad "a key behind a NUL is found"
grep -q 'binary files skipped' out && bad "nothing is skipped as binary" || ok

# --- terminal injection through file names --------------------------------------
mkdir names && printf 'x\xe2\x80\xae\n' > "names/evil$(printf '\033')[2J$(printf '\a')
name.txt"
expect_exit 1 "scan of an odd file name" -- "$GB" scan --color never names
grep -q $'\033' out && bad "ESC reaches the terminal" || ok
grep -q $'\a' out && bad "BEL reaches the terminal" || ok
grep -q 'evil\\e\[2J\\x07\\nname.txt' out && ok || bad "the name is shown escaped: $(head -3 out)"
# Snippets too: an OSC title sequence, BEL, CR and a bidi control in the text itself.
mkdir snippets && printf 'hello \033]0;pwned\007 world \xe2\x80\xae x\r\nsecond\n' > snippets/a.md
expect_exit 1 "scan of a file with escapes in its text" -- "$GB" scan --color never snippets
grep -q $'\033\|\a\|\r' out && bad "a control character in a snippet reaches the terminal" || ok
grep -q $'\xe2\x80\xae' out && bad "a bidi control in a snippet reaches the terminal" || ok
grep -q 'unicode/control-characters' out && grep -q ']0;pwned' out && ok || bad "the snippet is shown, escaped: $(head -5 out)"

# --- bounded memory on stdin and on one huge line ---------------------------------
rss=$(peak_kb bash -c "yes | head -c 64M | '$GB' scan -")
within_kb "$rss" 150000 && ok || bad "yes | scan - in bounded memory (peak ${rss} KB)"
rss=$(peak_kb bash -c "yes | head -c 64M | '$GB' clean")
within_kb "$rss" 150000 && ok || bad "yes | clean in bounded memory (peak ${rss} KB)"
python3 -c "
import sys
sys.stdout.buffer.write(b'a\xff' * (16 << 20) + '\u200b'.encode() + b'z')" > oneline.txt
rss=$(peak_kb "$GB" scan --format json oneline.txt)
within_kb "$rss" 150000 && ok || bad "a 32 MB line in bounded memory (peak ${rss} KB)"
"$GB" scan --format json oneline.txt > one.json
python3 - one.json <<'EOF' && ok || bad "the ZWSP at the end of a 32 MB line is located"
import json, sys
d = json.load(open(sys.argv[1]))
zw = [f for f in d["findings"] if f["rule"] == "unicode/invisible-characters"]
assert len(zw) == 1 and zw[0]["byte_offset"] == 32 << 20 and zw[0]["line"] == 1, zw
assert zw[0]["column"] == (32 << 20) + 1 - (16 << 20) * 0, zw[0]["column"]  # invalid bytes count as one column each
EOF
# Stdin in windows keeps offsets and line numbers.
{ head -c 20000000 /dev/zero | tr '\0' 'a'; printf '\nline two \xe2\x80\xae\n'; } > two.txt
"$GB" scan --format json - < two.txt > stdin.json
python3 - stdin.json <<'EOF' && ok || bad "stdin read in windows keeps line and offset"
import json, sys
d = json.load(open(sys.argv[1]))
b = [f for f in d["findings"] if f["rule"] == "unicode/bidi-control"]
assert len(b) == 1 and b[0]["line"] == 2 and b[0]["byte_offset"] == 20000000 + 10 and b[0]["path"] == "-", b
EOF

# Clean in windows: hidden characters on both sides of every window end of a 20 MB line (and
# in a file of short lines) are removed, nothing else changes.
python3 - <<'EOF2'
W = 8 << 20
for name, sep in (("wide", b"a"), ("lines", b"\n")):
    clean = bytearray(sep * (20 << 20))
    dirty = bytearray()
    last = 0
    for at in sorted({5, W - 3, W - 1, W, W + 2, 2 * W - 2, 2 * W + 1, (20 << 20) - 1}):
        dirty += clean[last:at] + "\u200b".encode()
        last = at
    dirty += clean[last:]
    open(f"{name}.dirty", "wb").write(dirty)
    open(f"{name}.clean", "wb").write(clean)
EOF2
for n in wide lines; do
  "$GB" clean --kind code < $n.dirty > $n.out 2> $n.err
  cmp -s $n.out $n.clean && ok || bad "clean in windows ($n): output differs: $(cat $n.err)"
done

# --- filter on invalid rows --------------------------------------------------------
python3 -c "
import sys
row = b'{\"t\": \"' + b'\xff\x01' * 2000 + b'\n'
sys.stdout.buffer.write(row * 2000)" > invalid.jsonl
rss=$(peak_kb "$GB" filter --rejects rejects.jsonl < invalid.jsonl)
within_kb "$rss" 300000 && ok || bad "filter on 8 MB of invalid rows in bounded memory (peak ${rss} KB)"
[[ $(wc -l < rejects.jsonl) == 2000 ]] && ok || bad "every invalid row is rejected"

# --- clean --in-place like a careful editor ------------------------------------------
u 'a\u200Bb\n' > target.md
ln -s target.md link.md
expect_exit 2 "a symlink is refused by default" -- "$GB" clean --in-place link.md
grep -q 'symbolic link' err && grep -q -- '--follow-symlinks' err && ok || bad "the refusal says why: $(cat err)"
[[ -L link.md ]] && ok || bad "the link is still a link"
expect_exit 0 "--follow-symlinks cleans the target" -- "$GB" clean --in-place --follow-symlinks link.md
[[ -L link.md ]] && cmp -s target.md <(printf 'ab\n') && ok || bad "the target is cleaned, the link kept"

u 'a\u200Bb\n' > hard1.md
ln hard1.md hard2.md
expect_exit 2 "hard links are refused" -- "$GB" clean --in-place hard1.md
grep -q 'hard links' err && ok || bad "the refusal names hard links: $(cat err)"
[[ $(stat -c %h hard1.md) == 2 ]] && ok || bad "the hard links are kept"

mkfifo fifo.md
expect_exit 2 "a FIFO is refused, not waited on" -- timeout 10 "$GB" clean --in-place fifo.md
grep -q FIFO err && ok || bad "the refusal names the FIFO: $(cat err)"
expect_exit 2 "a FIFO is refused by clean to stdout too" -- timeout 10 "$GB" clean fifo.md
expect_exit 2 "a FIFO is refused by scan" -- timeout 10 "$GB" scan fifo.md
mkdir special && mkfifo special/pipe && u 'ok\n' > special/a.md
expect_exit 0 "a FIFO inside a folder is passed over, not waited on" -- timeout 10 "$GB" scan special
grep -q 'note: .*special/pipe: a FIFO, not read' out && ok || bad "the FIFO is named in a note: $(cat out)"

u 'a\u200Bb\n' > ro.md
chmod 0444 ro.md
expect_exit 2 "a read-only file is refused" -- "$GB" clean --in-place ro.md
grep -q 'read-only' err && ok || bad "the refusal says read-only: $(cat err)"
cmp -s ro.md <(printf 'a\xe2\x80\x8bb\n') && [[ $(stat -c %a ro.md) == 444 ]] && ok || bad "the read-only file is untouched"

u 'a\u200Bb\n' > owned.md
chmod 0640 owned.md
if [[ $(id -u) == 0 ]]; then chown 65534:65534 owned.md; fi
python3 - owned.md <<'EOF' || echo "note: no user xattrs here"
import os, struct, sys
os.setxattr(sys.argv[1], "user.origin", b"kept")
# An access ACL: user::rw- user:65533:r-- group::r-- mask::r-- other::---
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
                                       [(1, 6, 0xFFFFFFFF), (2, 4, 65533), (4, 4, 0xFFFFFFFF),
                                        (0x10, 4, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)])
os.setxattr(sys.argv[1], "system.posix_acl_access", acl)
EOF
before=$(stat -c '%u:%g %a' owned.md)
acl_before=$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'system.posix_acl_access').hex())" owned.md 2>/dev/null)
expect_exit 0 "clean in place" -- "$GB" clean --in-place owned.md
cmp -s owned.md <(printf 'ab\n') && ok || bad "the file is cleaned"
[[ $(stat -c '%u:%g %a' owned.md) == "$before" ]] && ok || bad "owner, group and mode kept: $(stat -c '%u:%g %a' owned.md), was $before"
python3 -c "import os,sys; assert os.getxattr(sys.argv[1], 'user.origin') == b'kept'" owned.md 2>/dev/null && ok \
  || bad "extended attributes are kept"
acl_after=$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'system.posix_acl_access').hex())" owned.md 2>/dev/null)
[[ "$acl_after" == "$acl_before" ]] && ok || bad "the ACL is kept"
grep -q 'changed 1' err && ok || bad "changed N is reported: $(cat err)"

# A concurrent writer: the file grows while clean reads it; clean leaves it be.
python3 -c "
import sys
sys.stdout.buffer.write(('x' * 79 + '\n').encode() * 400000 + '\u200b\n'.encode())" > busy.md
( for i in $(seq 1 400); do echo "appended $i" >> busy.md; sleep 0.005; done ) &
appender=$!
sleep 0.05
"$GB" clean --in-place busy.md > /dev/null 2> busy.err
rc=$?
wait $appender
lines=$(grep -c '^appended' busy.md)
[[ $lines == 400 ]] && ok || bad "no appended line is lost ($lines of 400 kept; clean exit $rc: $(cat busy.err))"
if [[ $rc == 2 ]]; then
  grep -q 'changed while it was being cleaned' busy.err && ok || bad "the refusal says why: $(cat busy.err)"
  grep -q 'changed [0-9]' busy.err && bad "no 'changed N' when nothing was changed" || ok
fi

ls ./*.glassbox-* 2>/dev/null && bad "temporary files left behind" || ok
finish
