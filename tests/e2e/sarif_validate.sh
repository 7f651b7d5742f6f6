#!/usr/bin/env bash
# Validates glassbox's SARIF with Microsoft's SARIF multitool (the validator
# behind GitHub code scanning's format), installed by `scripts/bootstrap.sh
# --test` (make test does it). Exits 77 (skipped, with the reason) when the
# tool is not installed.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
tool="$here/build/npm-test-tools/node_modules/.bin/sarif-multitool"
if [[ ! -x $tool ]]; then
  echo "SKIPPED: $tool is missing; run scripts/bootstrap.sh --test" >&2
  exit 77
fi
cd "$WORK"
bash "$here/examples/make-poisoned-repo.sh" repo >/dev/null
(cd repo && "$GB" scan --format sarif . > ../scan.sarif)
[[ -s scan.sarif ]] && ok || bad "no SARIF written"
"$tool" validate scan.sarif > validate.out 2>&1
grep -q "Analysis completed successfully" validate.out && ok || bad "validator did not complete: $(tail -3 validate.out)"
n=$(grep -cE "(error|warning) SARIF[0-9]+" validate.out)
[[ $n == 0 ]] && ok || bad "$n SARIF errors or warnings: $(grep -m3 -E '(error|warning) SARIF' validate.out)"
finish
