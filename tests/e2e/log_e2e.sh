#!/usr/bin/env bash
# End-to-end: `glassbox log` on audit logs written by the test-only
# gate_log_fixture (second argument); formats, tampering and exit codes.
FIXTURE=${2:?usage: $0 path/to/glassbox path/to/gate_log_fixture}
FIXTURE=$(cd "$(dirname "$FIXTURE")" && pwd)/$(basename "$FIXTURE")
source "$(dirname "$0")/lib.sh"
cd "$WORK"

"$FIXTURE" audit.db write 5 || bad "fixture write"

expect_exit 0 "help log" -- "$GB" help log
grep -q -- '--log PATH' out && ok || bad "help log lists --log"
expect_exit 2 "no action" -- "$GB" log --log audit.db
expect_exit 2 "no --log" -- "$GB" log list
expect_exit 2 "bad format" -- "$GB" log list --log audit.db --format xml
expect_exit 2 "missing file" -- "$GB" log verify --log nope.db
grep -q 'nope.db' err && ok || bad "missing file named"
printf 'just text\n' > notalog.db
expect_exit 2 "not a log" -- "$GB" log verify --log notalog.db
grep -q 'not a glassbox audit log' err && ok || bad "not a log reason: $(cat err)"

expect_exit 0 "verify intact" -- "$GB" log verify --log audit.db
grep -q 'intact: 5 records' out && ok || bad "verify text"
expect_exit 0 "verify json" -- "$GB" log verify --log audit.db --format json
expect_true "verify json shape" -- jq -e '.intact == true and .records == 5' out

expect_exit 0 "list" -- "$GB" log list --log audit.db
[[ $(wc -l < out) == 5 ]] && ok || bad "list prints 5 lines"
grep -q 'claude-test-3' out && ok || bad "list shows models"
expect_exit 0 "list json" -- "$GB" log list --log audit.db --format json
expect_true "list json shape" -- jq -e 'length == 5 and .[0].id == 1 and .[0].prev_hash == ("0"*64)
  and (.[1].prev_hash == .[0].record_hash) and (.[4].record_hash|length == 64)' out

expect_exit 0 "show" -- "$GB" log show 2 --log audit.db
grep -q 'record 2' out && grep -q 'request 2' out && ok || bad "show text"
grep -q 'AM1P09_Z0XSSJMgb2cSMQUOVPPG4gGw2c9idUV' out && bad "secret in clear in show" || ok
expect_exit 2 "show missing id" -- "$GB" log show 99 --log audit.db
expect_exit 2 "show bad id" -- "$GB" log show abc --log audit.db

expect_exit 0 "search" -- "$GB" log search 'answer 4' --log audit.db --format jsonl
[[ $(wc -l < out) == 1 ]] && jq -e '.id == 4' out >/dev/null && ok || bad "search finds record 4"

expect_exit 0 "export" -- "$GB" log export --log audit.db
[[ $(wc -l < out) == 5 ]] && ok || bad "export prints 5 lines"
expect_true "export jsonl" -- jq -se 'length == 5 and all(.[]; .request_body|type=="string")' out
grep -q 'AM1P09_Z0XSSJMgb2cSMQUOVPPG4gGw2c9idUV' out && bad "secret in clear in export" || ok

# Retention keeps the chain verifiable.
cp audit.db kept.db
"$FIXTURE" kept.db retain 2026-11-13T00:00:00Z || bad "fixture retain"
expect_exit 0 "verify after retention" -- "$GB" log verify --log kept.db
grep -q 'intact: 3 records' out && ok || bad "retention left 3 records: $(cat out)"

# Tampering: an edited field, then a deleted row.
cp audit.db edited.db
"$FIXTURE" edited.db tamper 3 || bad "fixture tamper"
expect_exit 1 "verify edited" -- "$GB" log verify --log edited.db
grep -q '^record 3: .*edited field' err && ok || bad "edited record named: $(cat err)"
cp audit.db deleted.db
"$FIXTURE" deleted.db delete 2 || bad "fixture delete"
expect_exit 1 "verify deleted" -- "$GB" log verify --log deleted.db
grep -q '^record 3: .*deleted' err && ok || bad "deleted row found: $(cat err)"

finish
