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
u() { printf "$@"; }
# sanitized: true in an ASan/UBSan build (tests/CMakeLists.txt), where memory use is the sanitizer's.
sanitized() { [[ ${GLASSBOX_SANITIZED:-0} == 1 ]]; }
# within_kb PEAK LIMIT: true when PEAK < LIMIT; always true under sanitizers, with a note, since
# there the peak is the sanitizer's shadow and quarantine (the normal build checks the bound).
within_kb() {
  if sanitized; then
    echo "note: memory bound ($2 KB) not checked under sanitizers (peak $1 KB)" >&2
    return 0
  fi
  (($1 < $2))
}  # printf understands \uXXXX and \UXXXXXXXX in bash
