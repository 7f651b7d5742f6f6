#!/usr/bin/env bash
# make lint: clang-tidy over every source file in src/ with the project's .clang-tidy (Google-style
# names, bug-prone patterns, a cognitive-complexity ceiling per function), using the build's
# compile_commands.json, and clang-format (.clang-format: Google style, 100 columns) over every C++
# file in the tree. Prints each finding and a count per check; exits 1 when there is any.
# Usage: scripts/lint.sh [BUILD_DIR]   (default build; needs a configured build)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
[[ -n $tidy ]] || { echo "lint: clang-tidy-14 is not installed (scripts/bootstrap.sh installs it)" >&2; exit 2; }
format=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n $format ]] || { echo "lint: clang-format-14 is not installed (scripts/bootstrap.sh installs it)" >&2; exit 2; }
[[ -f $build/compile_commands.json ]] || { echo "lint: $build/compile_commands.json missing; run make build first" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out" "$out.findings"' EXIT
cd "$here"
# Generated sources and third-party code are not ours to lint; only files the build compiles.
git ls-files 'src/*.cc' | grep -v '_fuzz\.cc$' |
  xargs -P "$(nproc)" -n 4 "$tidy" -p "$build" --config-file="$here/.clang-tidy" --quiet \
    --extra-arg=-Wno-unknown-warning-option 2>/dev/null >"$out"
grep -E '(warning|error): .*\[[a-z-]+' "$out" | sed "s|$here/||" | sort -u >"$out.findings"
# Layout: one finding per file whose text differs from what clang-format would write.
git ls-files '*.cc' '*.h' | xargs -P "$(nproc)" -n 16 "$format" --dry-run -Werror 2>&1 |
  grep -oE '^[^:]+\.(cc|h):' | sort -u |
  sed 's/:$/: error: layout differs from .clang-format (run clang-format-14 -i on it) [clang-format]/' >>"$out.findings"
n=$(wc -l <"$out.findings")
if (( n == 0 )); then
  echo "lint: clean ($(git ls-files 'src/*.cc' | wc -l) files)"
  exit 0
fi
cat "$out.findings"
echo "lint: $n findings:"
grep -oE '\[[a-z-]+(,-warnings-as-errors)?\]$' "$out.findings" | sed 's/,-warnings-as-errors//' | sort | uniq -c | sort -rn
exit 1
