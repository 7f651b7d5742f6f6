# Shared helpers for the end-to-end tests: each test script sources this,
# makes its fixtures in a temporary folder, and ends with `finish`.
set -u
GB=${1:?usage: $0 path/to/glassbox}
GB=$(cd "$(dirname "$GB")" && pwd)/$(basename "$GB")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect_exit CODE DESCRIPTION -- COMMAND...
expect_exit() {
  local want=$1 desc=$2; shift 3
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [[ $got == "$want" ]]; then ok; else bad "$desc: exit $got, wanted $want; stderr: $(head -c 400 "$WORK/err")"; fi
}
# expect_true DESCRIPTION -- COMMAND...  (the command's own exit status)
expect_true() {
  local desc=$1; shift 2
  if "$@" >/dev/null; then ok; else bad "$desc"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
}
u() { printf "$@"; }  # printf understands \uXXXX and \UXXXXXXXX in bash
