#!/usr/bin/env bash
# End-to-end: glassbox clean to stdout, --check and --in-place.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
u 'Hello\u200B world\U000E0041\r\n' > a.md
u 'plain\n' > b.md
printf '\x00\x01binary' > c.bin

expect_exit 0 "clean stdout" -- "$GB" clean a.md
expect_true "stdout is cleaned, CRLF kept" -- cmp -s out <(printf 'Hello world\r\n')
grep -q 'U+200B ZERO WIDTH SPACE' err && ok || bad "clean reports what it removed"
expect_exit 1 "check wants a change" -- "$GB" clean --check a.md b.md
expect_exit 0 "check passes on clean files" -- "$GB" clean --check b.md
cp a.md a.orig
chmod 640 a.md
expect_exit 0 "in place" -- "$GB" clean --in-place a.md b.md
expect_true "in place result" -- cmp -s a.md <(printf 'Hello world\r\n')
[[ $(stat -c %a a.md) == 640 ]] && ok || bad "in place keeps the file mode"
expect_exit 0 "idempotent" -- "$GB" clean --check a.md
expect_exit 0 "scan agrees" -- "$GB" scan a.md
expect_exit 0 "stdin to stdout" -- bash -c "'$GB' clean < a.orig > piped"
expect_true "piped result" -- cmp -s piped <(printf 'Hello world\r\n')
expect_exit 2 "binary refused" -- "$GB" clean c.bin
grep -q 'c.bin' err && ok || bad "binary refusal names the file"
expect_exit 2 "several files need a mode" -- "$GB" clean a.md b.md
expect_exit 2 "missing file" -- "$GB" clean nope.md
ls ./*.glassbox-* 2>/dev/null && bad "temporary files left behind" || ok
finish
