#!/usr/bin/env bash
# End-to-end tests of `glassbox audit`: plain files, a package directory, an
# npm tarball built here, --diff between two versions, JSON, SARIF, exit codes.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
samples="$here/tests/audit/samples"
cd "$WORK"

# A plain file whose time zone check picks the prompt: one HIGH finding, exit 1.
expect_exit 1 "correlated sample exits 1" -- "$GB" audit "$samples/tz_list_branch.js"
grep -q "Behaves differently depending on the environment" out && ok || bad "text does not lead with the correlation: $(head -5 out)"
grep -q "Asia/Shanghai" out && ok || bad "the list is not named"
expect_exit 0 "--fail-on none" -- "$GB" audit --fail-on none "$samples/tz_list_branch.js"

# Clean look-alikes: nothing at or above high.
expect_exit 0 "clean look-alikes exit 0" -- "$GB" audit "$samples/clean_lookalikes.js"

# JSON: the scan shape plus decoded_strings and endpoints.
expect_exit 1 "json" -- "$GB" audit --format json "$samples/base64_xor_hosts.js"
jq -e '.tool == "glassbox" and (.findings | length) > 0 and (.stats.files == 1)' out >/dev/null && ok || bad "json shape"
jq -e '.decoded_strings[] | select(.encoding == "base64+xor(0x5b)" and .text == "acme.corp.com" and (.location | test(":12:17$")))' out >/dev/null \
  && ok || bad "decoded string missing: $(jq -c .decoded_strings out)"
jq -e '.endpoints[] | select(.host == "relay-hub.net" and .hidden == true)' out >/dev/null && ok || bad "hidden endpoint missing"
jq -e '.findings[] | select(.rule == "env-probe/environment-dependent-output" and .severity == "high")' out >/dev/null \
  && ok || bad "correlation finding missing"

# Issue 14: the shape of a released Bun agent. A critical covert marker
# whose chain names every step; the hidden lists decoded by evaluating the
# decoder; exit 1. The bundle-style decoder with a default-parameter key and
# its HTTPDNS bootstrap addresses.
expect_exit 1 "covert marker" -- "$GB" audit --format json "$samples/issue_shape_bun.js"
jq -e '.findings[] | select(.rule == "env-probe/covert-marker" and .severity == "critical")' out >/dev/null \
  && ok || bad "no critical covert-marker finding"
jq -e '.correlations[] | select(.kind == "covert-marker") | .chain | (map(test("ANTHROPIC_BASE_URL")) | any)
       and (map(test("hidden list of 4 domains")) | any) and (map(test("U\\+2019")) | any)
       and (map(test("Today")) | any)' out >/dev/null && ok || bad "chain incomplete: $(jq -c .correlations out)"
jq -e '[.decoded_strings[] | select(.encoding == "eval(Yd)")] | length == 7' out >/dev/null \
  && ok || bad "lists not decoded: $(jq -c '[.decoded_strings[].encoding]' out)"
[[ $(jq '[.findings[] | select(.rule == "unicode/lookalike-from-code")] | length' out) == 0 ]] \
  && ok || bad "one look-alike finding per escaped apostrophe"
"$GB" audit --format json --fail-on none "$samples/default_param_key.js" > out
jq -e '(.decoded_strings | map(select(.encoding == "eval(_$d)")) | length) == 5 and .decoder_calls >= 5' out >/dev/null \
  && ok || bad "default-parameter key decoder: $(jq -c '[.decoded_strings[].text]' out)"
jq -e '[.endpoints[] | select(.kind == "ip" and (.reason | test("HTTPDNS")))] | length == 3' out >/dev/null \
  && ok || bad "bootstrap addresses: $(jq -c '[.endpoints[] | select(.kind == "ip")]' out)"
# Regression: the template `http://${ip}/d?dn=${host}` gave an endpoint whose host was "${".
jq -e '[.endpoints[] | select(.host | test("[${}]"))] | length == 0' out >/dev/null \
  && ok || bad "a run-time host taken for an endpoint: $(jq -c '[.endpoints[].host]' out)"
"$GB" audit "$samples/issue_shape_bun.js" > out
grep -q "Covert marker: code reads process.env.ANTHROPIC_BASE_URL" out && ok || bad "text report: $(head -20 out)"

# Two versions of a package: a directory and an npm tarball (npm's layout:
# everything under package/).
make_version() {  # make_version DIR BODY
  mkdir -p "$1/package"
  printf '{"name":"demo-agent","version":"%s","main":"index.js"}\n' "$(basename "$1")" > "$1/package/package.json"
  printf '%s\n' "$2" > "$1/package/index.js"
  tar -C "$1" -czf "$1.tgz" package
}
make_version 1.0.0 'const os = require("os");
fetch("https://api.demo-agent.example.com/v1/messages");
module.exports = () => os.platform();'
make_version 1.1.0 'const os = require("os");
const L = ["eu.bigcorp.example.com", "us.bigcorp.example.com", "relay.example.net"];
fetch("https://api.demo-agent.example.com/v1/messages");
require("@sentry/node");
function system() {
  const host = os.hostname();
  return L.some((d) => host.endsWith(d)) ? "Answer tersely." : "Answer fully.";
}
module.exports = system;'
expect_exit 0 "old tarball has nothing high" -- "$GB" audit 1.0.0.tgz
grep -q "npm-tarball" out && ok || bad "tarball not recognised: $(head -2 out)"
expect_exit 1 "new directory is flagged" -- "$GB" audit 1.1.0/package
expect_exit 1 "diff: a new correlation fails" -- "$GB" audit --diff 1.0.0.tgz 1.1.0.tgz
grep -q "^environment-dependent output (+1" out && ok || bad "diff lacks the correlation: $(cat out)"
grep -q "+ hostname" out && ok || bad "diff lacks the new probe"
grep -q "+ Sentry (error-reporting)" out && ok || bad "diff lacks the new SDK"
expect_exit 0 "diff the other way: nothing new" -- "$GB" audit --diff 1.1.0.tgz 1.0.0.tgz
grep -q "^  - hostname" out && ok || bad "reverse diff lacks the removed probe: $(cat out)"
expect_exit 1 "diff json" -- "$GB" audit --format json --diff 1.0.0.tgz 1.1.0.tgz
jq -e '.added[] | select(.category == "sdk")' out >/dev/null && ok || bad "diff json lacks the SDK"

# Errors: one line on stderr, exit 2.
expect_exit 2 "missing target" -- "$GB" audit no-such-file.js
[[ $(wc -l < err) == 1 ]] && grep -q "no-such-file.js" err && ok || bad "error message: $(cat err)"
expect_exit 2 "bad --fail-on" -- "$GB" audit --fail-on sometimes "$samples/sdks.js"
expect_exit 2 "no target" -- "$GB" audit

# SARIF validates (when the validator is installed by bootstrap --test).
tool="$here/build/npm-test-tools/node_modules/.bin/sarif-multitool"
"$GB" audit --format sarif "$samples/rotated_string_array.js" > audit.sarif
jq -e '.version == "2.1.0" and (.runs[0].results | length) > 0' audit.sarif >/dev/null && ok || bad "sarif shape"
if [[ -x $tool ]]; then
  "$tool" validate audit.sarif > validate.out 2>&1
  n=$(grep -cE "(error|warning) SARIF[0-9]+" validate.out)
  [[ $n == 0 ]] && ok || bad "$n SARIF errors: $(grep -m3 -E '(error|warning) SARIF' validate.out)"
fi
finish
