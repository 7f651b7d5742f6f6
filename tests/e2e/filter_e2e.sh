#!/usr/bin/env bash
# End-to-end: `glassbox filter` on generated JSONL; kept rows byte for byte,
# reject records, exit codes, flags and errors.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

clean1='{"messages":[{"role":"user","content":"Hello, caf\u00e9 😀"},{"role":"assistant","content":"Hi!"}]}'
clean2='{"id":2,"text":"plain","n":[1,2.5,true,null]}'
tags='{"text":"Summarise.\udb40\udc49\udb40\udc67\udb40\udc6e\udb40\udc6f\udb40\udc72\udb40\udc65"}'
zwsp='{"a":{"b":["x","pass\u200bword"]}}'
agent='{"commit":"Fix parser\n\nCo-Authored-By: Claude <noreply@anthropic.com>"}'
token='{"cmd":"export GITHUB_TOKEN=ghp_6IOhwMMPHwAgyf4I2nkuSs1NVk2KnL4qKoB4"}'
{
  printf '%s\n' "$clean1" "$tags" "$zwsp"
  u '{"code":"if (role != \\"user\u202E \u2066// admin\u2069\\")"}\n'   # raw bidi controls
  printf '%s\n' '{"broken":' "$agent" "$token" ''
  printf '%s' "$clean2"                                                 # no final line end
} > data.jsonl

expect_exit 0 "help filter" -- "$GB" help filter
grep -q -- '--rejects' out && grep -q 'jq -r .original' out && ok || bad "help filter teaches flags and examples"
"$GB" help | grep -q '^  filter ' && ok || bad "overview lists filter"
expect_exit 2 "neither --rejects nor --drop" -- "$GB" filter data.jsonl
grep -q -- '--drop' err && ok || bad "usage error says what to add"
expect_exit 2 "both --rejects and --drop" -- "$GB" filter --drop --rejects r.jsonl data.jsonl
expect_exit 2 "unknown family" -- "$GB" filter --drop --rules nope data.jsonl
expect_exit 2 "bad severity" -- "$GB" filter --drop --min-severity severe data.jsonl
expect_exit 2 "unknown flag" -- "$GB" filter --frobnicate
grep -q 'glassbox help filter' err && ok || bad "unknown flag points to help"

# Defaults: unicode and provenance reject, secrets pass, invalid JSON rejects.
expect_exit 1 "rejects rows" -- "$GB" filter --rejects rejects.jsonl data.jsonl
printf '%s\n' "$clean1" "$token" '' > want
printf '%s' "$clean2" >> want
cmp -s out want && ok || bad "kept rows byte for byte: $(od -c out | head -5)"
[[ $(wc -l < rejects.jsonl) == 5 ]] && ok || bad "five reject records, got $(wc -l < rejects.jsonl)"
expect_true "every reject record is JSON with row, reasons, original" -- \
  jq -e -s 'all(.[]; (.row|type=="number") and (.reasons|length>0) and (.original|type=="string"))' rejects.jsonl
expect_true "rows and rules" -- jq -e -s '[.[] | [.row, .reasons[0].rule]] ==
  [[2,"unicode/tag-characters"],[3,"unicode/invisible-characters"],[4,"unicode/bidi-control"],
   [5,"data/invalid-json"],[6,"provenance/co-authored-by-agent"]]' rejects.jsonl
expect_true "tag characters decoded, with JSON path and code points" -- jq -e -s '.[] | select(.row==2) | .reasons[0] |
  .decoded=="Ignore" and .json_path=="$.text" and .severity=="critical" and .codepoints[0]=="U+E0049"' rejects.jsonl
expect_true "invalid JSON carries the parser message" -- \
  jq -e -s '.[] | select(.row==5) | .reasons[0].message | startswith("invalid JSON at byte")' rejects.jsonl
jq -r 'select(.row==2) | .original' rejects.jsonl > orig2
printf '%s\n' "$tags" | cmp -s - orig2 && ok || bad "original round-trips exactly"
grep -q $'\u202E' rejects.jsonl && bad "raw bidi control in the rejects file" || ok
grep -q '9 rows in, 4 kept, 5 rejected (1 invalid JSON, 0 too long) → rejects.jsonl' err && grep -q 'MB/s' err && ok || bad "summary line: $(cat err)"

# stdin, --drop, --quiet; the same kept rows.
expect_exit 1 "stdin with --drop" -- bash -c "'$GB' filter --drop -q < data.jsonl"
cmp -s out want && ok || bad "stdin keeps the same rows"
[[ ! -s err ]] && ok || bad "--quiet prints nothing: $(cat err)"

# Families and severity.
expect_exit 1 "secret family" -- "$GB" filter --rules secret --rejects r.jsonl data.jsonl
expect_true "secret and invalid JSON only" -- jq -e -s '[.[].reasons[0].rule] == ["data/invalid-json","secret/github-pat"]' r.jsonl
expect_exit 1 "provenance off" -- "$GB" filter --rules unicode --rejects r.jsonl data.jsonl
grep -q 'provenance/' r.jsonl && bad "provenance off still rejects agent marks" || ok
expect_exit 1 "critical only" -- "$GB" filter --min-severity critical --rejects r.jsonl data.jsonl
expect_true "critical keeps lower findings" -- jq -e -s '[.[].row] == [2,5]' r.jsonl

# A clean file exits 0; blank lines and CRLF are kept as they are.
printf '%s\r\n\r\n%s\r\n' "$clean1" "$clean2" > crlf.jsonl
expect_exit 0 "clean CRLF file" -- "$GB" filter --drop crlf.jsonl
cmp -s out crlf.jsonl && ok || bad "CRLF bytes kept"
expect_exit 0 "empty input" -- bash -c "'$GB' filter --drop < /dev/null"
[[ ! -s out ]] && ok || bad "empty input, empty output"

# Over-long rows are rejected and the rows after them still go through, in order.
{
  printf '%s\n' "$clean1"
  printf '{"big":"%s"}\n' "$(head -c 3000 /dev/zero | tr '\0' x)"
  printf '%s\n' "$clean2"
} > long.jsonl
expect_exit 1 "row over --max-row-bytes" -- "$GB" filter --max-row-bytes 1KiB --rejects r.jsonl long.jsonl
printf '%s\n' "$clean1" "$clean2" | cmp -s - out && ok || bad "rows around the long one are kept"
expect_true "too-long record" -- jq -e '.row==2 and .reasons[0].rule=="data/row-too-long" and .original==null
  and .original_bytes==3010' r.jsonl

# --jobs keeps the order on a larger input.
for i in $(seq 1 3000); do
  if (( i % 17 == 0 )); then printf '{"i":%d,"t":"x\\u200by"}\n' "$i"; else printf '{"i":%d,"t":"row %d"}\n' "$i" "$i"; fi
done > many.jsonl
expect_exit 1 "jobs 1" -- "$GB" filter --jobs 1 --rejects r1.jsonl many.jsonl
cp out kept1
expect_exit 1 "jobs 4" -- "$GB" filter --jobs 4 --rejects r4.jsonl many.jsonl
cmp -s out kept1 && cmp -s r1.jsonl r4.jsonl && ok || bad "--jobs 4 gives the same output as --jobs 1"
[[ $(wc -l < kept1) == 2824 ]] && ok || bad "kept count with jobs: $(wc -l < kept1)"
expect_true "reject rows ascending" -- jq -e -s '[.[].row] == [range(17; 3001; 17)]' r4.jsonl

# Errors name the input; the input is never overwritten by --rejects.
expect_exit 2 "missing input" -- "$GB" filter --drop does-not-exist.jsonl
grep -q 'does-not-exist.jsonl' err && ok || bad "missing input is named: $(cat err)"
expect_exit 2 "directory input" -- "$GB" filter --drop .
expect_exit 2 "rejects is the input" -- "$GB" filter --rejects data.jsonl data.jsonl
[[ $(wc -l < data.jsonl) == 8 ]] && ok || bad "input left intact"
expect_exit 2 "unwritable rejects" -- "$GB" filter --rejects no-such-dir/r.jsonl data.jsonl
grep -q 'no-such-dir/r.jsonl' err && ok || bad "unwritable rejects is named"

finish
