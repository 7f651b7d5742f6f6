#!/usr/bin/env bash
# End-to-end: `glassbox probe` on the sample agents in tests/probe/agents.
# Each agent plants one behaviour; probe must report it in the right class,
# with the right verdict and exit code, and report the clean agent as clean.
# Small matrices (--vary), two runs per cell, two jobs: a few seconds each.
# Exits 77 (skipped) when this machine cannot run the sandbox.
source "$(dirname "$0")/lib.sh"
AGENTS=$(cd "$(dirname "$0")/../probe/agents" && pwd)
cd "$WORK"

if ! "$GB" probe --check-sandbox >/dev/null 2>"$WORK/sandbox.err"; then
  echo "SKIP: the probe sandbox cannot run here (unprivileged user namespaces needed): $(cat "$WORK/sandbox.err")"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
  echo "SKIP: the sample agents need node and curl, the checks jq"
  exit 77
fi
P=("$GB" probe --runs 2 --jobs 2 --timeout 30 --format json)
# jq_true DESCRIPTION FILTER: the filter must hold on the last report (out).
jq_true() { if jq -e "$2" out >/dev/null; then ok; else bad "$1: $(head -c 600 out)"; fi; }

# (a) Marker chosen by the zone's name: Shanghai and Singapore share UTC+8.
expect_exit 1 "zone-name marker" -- "${P[@]}" --vary TZ=Asia/Shanghai,Asia/Singapore -- node "$AGENTS/tz_marker.js"
jq_true "zone-name marker verdict" '.verdict == "covert-marker"'
jq_true "zone-name marker class and cell" '.differences[0] | .class == "covert-marker" and .variables == ["TZ"]
  and .differing_cells == ["TZ=Asia/Shanghai"] and (.codepoints | index("U+2019"))
  and (.location | endswith("body .system[1].text"))'
# ... also through /etc/localtime alone (TZ unset).
expect_exit 1 "localtime marker" -- "${P[@]}" --vary @localtime=Asia/Shanghai,Asia/Singapore -- node "$AGENTS/tz_marker.js"
jq_true "localtime marker" '.differences[0] | .class == "covert-marker" and .variables == ["@localtime"]'

# (b) Look-alike apostrophe when the API host matches an obfuscated list.
expect_exit 1 "host look-alike" -- "${P[@]}" \
  --vary ANTHROPIC_BASE_URL=https://api.relay-example.cn,https://llm-gw.example-corp.com,https://openrouter.ai/api \
  -- node "$AGENTS/host_lookalike.js"
jq_true "host look-alike marker" '[.differences[] | select(.class == "covert-marker")] | length == 1 and
  (.[0] | .variables == ["ANTHROPIC_BASE_URL"] and (.codepoints | index("U+02BC"))
   and (.differing_cells | sort) == ["ANTHROPIC_BASE_URL=https://api.relay-example.cn", "ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com"])'
jq_true "host header is an echo" '[.differences[] | select(.location | endswith("header host"))][0].class == "echo"'

# (c) Localisation by LANG: reported, but not a dependence.
expect_exit 0 "localisation" -- "${P[@]}" --vary LANG+LC_ALL=de_DE.UTF-8,zh_CN.UTF-8 -- node "$AGENTS/lang_localised.js"
jq_true "localisation class" '.verdict == "no-environment-dependence" and
  ([.differences[].class] == ["localisation"]) and .differences[0].by_cell["LANG+LC_ALL=de_DE.UTF-8"] == "Antworte auf Deutsch."'

# (d) Identity in telemetry, from a shell/curl agent.
expect_exit 0 "identity telemetry" -- "${P[@]}" --vary @hostname=wks-berlin-042 --vary @user=li.wei -- "$AGENTS/identity_telemetry.sh"
jq_true "identity fields" '[.identifying_headers[] | select(.host == "telemetry.agent-metrics.example") | .carries[]] as $c
  | ($c | index("hostname")) and ($c | index("user")) and ($c | index("kernel"))'
jq_true "identity changes are echoes" '[.differences[].class] | unique == ["echo"]'
jq_true "telemetry host listed" '[.hosts[].host] | index("telemetry.agent-metrics.example")'

# (e) Telemetry to a hard-coded IP.
expect_exit 0 "hard-coded IP" -- "${P[@]}" --vary TZ=Asia/Shanghai -- node "$AGENTS/hardcoded_ip.js"
jq_true "IP in host inventory" '[.hosts[] | select(.host == "203.0.113.7" and .ip_literal and .requests == 4)] | length == 1'

# (f) Random ids and timestamps are noise, not dependence.
expect_exit 0 "noise" -- "${P[@]}" --vary TZ=Asia/Shanghai -- node "$AGENTS/noisy.js"
jq_true "noise fields" '.differences == [] and ([.noise[].location] | any(endswith("body .session_id")))
  and ([.noise[].location] | any(endswith("header x-request-id")))'

# (h) An optional document the agent GETs from its API host (an organisation
# policy) is answered 404, final for a client: one request per run, no retries.
expect_exit 0 "optional document" -- "${P[@]}" --out policy-out --vary ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com \
  -- node "$AGENTS/polls_policy.js"
jq_true "optional document verdict" '.verdict == "no-environment-dependence"'
n=$(grep -c '"target":"/api/org/policy"' policy-out/captures/00-baseline/run-1.jsonl)
[[ $n == 1 ]] && ok || bad "the policy document was asked for $n times in one run (retried)"

# (i) An agent that needs a project settings file to accept a base URL: without
# it every varied cell fails (inconclusive); --copy puts the file in every cell.
mkdir -p proj/.agent && echo '{"auth":"api-key"}' > proj/.agent/settings.json
expect_exit 1 "settings file missing" -- "${P[@]}" --vary ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com \
  -- node "$AGENTS/needs_workspace_settings.js"
jq_true "settings file missing is inconclusive" '.verdict == "inconclusive" and .failures[0].status == "exit status 41"'
expect_exit 0 "--copy settings" -- "${P[@]}" --copy proj/.agent --vary ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com \
  -- node "$AGENTS/needs_workspace_settings.js"
jq_true "--copy settings works" '.verdict == "no-environment-dependence" and .failures == []'
expect_exit 2 "--copy of nothing" -- "$GB" probe --copy proj/missing --vary TZ=UTC -- true
grep -q -- "--copy proj/missing: no such file" err && ok || bad "--copy reason: $(cat err)"

# (g) The clean agent is clean, with text output and --out.
expect_exit 0 "clean" -- "$GB" probe --runs 2 --jobs 2 --timeout 30 --out outdir \
  --vary TZ=Asia/Shanghai,Asia/Singapore --vary LANG=zh_CN.UTF-8 --vary @hostname=wks-9 -- node "$AGENTS/clean.js"
grep -q '^glassbox probe: no environment dependence found' out && ok || bad "clean verdict line: $(head -3 out)"
[[ -s outdir/report.txt && -s outdir/report.json ]] && ok || bad "--out reports"
[[ $(ls outdir/captures | wc -l) == 5 && -s "outdir/captures/01-TZ=Asia_Shanghai/run-2.jsonl" ]] && ok || bad "--out captures: $(ls -R outdir | head)"
grep -q '"kind":"request"' "outdir/captures/00-baseline/run-1.jsonl" && ok || bad "captured request in JSONL"

# Text report of a marker: verdict first, the changed character named.
expect_exit 1 "text report" -- "$GB" probe --runs 1 --jobs 2 --timeout 30 --vary TZ=Asia/Shanghai -- node "$AGENTS/tz_marker.js"
head -1 out | grep -q 'COVERT MARKER' && ok || bad "text verdict first"
grep -q 'Don\\u2019t' out && ok || bad "text shows \\u2019"
grep -q 'U+2019 RIGHT SINGLE QUOTATION MARK' out && ok || bad "text names the code point"

# Usage errors: exit 2 and one line naming the problem.
expect_exit 2 "no command" -- "$GB" probe --vary TZ=UTC
grep -q "no command" err && ok || bad "no command reason"
expect_exit 2 "bad vary" -- "$GB" probe --vary 'TZ' -- true
grep -q -- "--vary 'TZ'" err && ok || bad "bad vary reason: $(cat err)"
printf '[[vary]]\nvariable = "TZ"\n' > bad.toml
expect_exit 2 "bad matrix" -- "$GB" probe --matrix bad.toml -- true
grep -q "bad.toml" err && ok || bad "matrix file named"
expect_exit 2 "missing program" -- "$GB" probe --runs 1 --vary TZ=UTC -- /nonexistent/agent
expect_exit 0 "list cells" -- "$GB" probe --list-cells -- node x.js
[[ $(wc -l < out) -ge 19 ]] && grep -q 'TZ=Asia/Singapore' out && ok || bad "default matrix cells: $(cat out)"
expect_exit 0 "help" -- "$GB" help probe
grep -q -- '--vary' out && ok || bad "help mentions --vary"

finish
