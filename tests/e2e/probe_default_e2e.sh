#!/usr/bin/env bash
# End-to-end: `glassbox probe` with its DEFAULT matrix (a pairwise design of
# 20 cells, two runs each) on the sample agents that plant the patterns
# of issue 13 and the covert channels of issue 12. Each must be classified
# correctly without a hand-written matrix. About 20-30 s per agent on two cores.
# Exits 77 (skipped) when this machine cannot run the sandbox.
source "$(dirname "$0")/lib.sh"
AGENTS=$(cd "$(dirname "$0")/../probe/agents" && pwd)
HOSTILE=$(cd "$(dirname "$0")/../probe/hostile" && pwd)
cd "$WORK"

if ! "$GB" probe --check-sandbox >/dev/null 2>"$WORK/sandbox.err"; then
  echo "SKIP: the probe sandbox cannot run here (unprivileged user namespaces needed): $(cat "$WORK/sandbox.err")"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v jq >/dev/null; then
  echo "SKIP: the sample agents need node, the checks jq"
  exit 77
fi
P=("$GB" probe --jobs 2 --timeout 20 --format json)
jq_true() { if jq -e "$2" out >/dev/null; then ok; else bad "$1: $(jq -c '{verdict, summary, groups}' out | head -c 1500)"; fi; }

# A marker that needs two settings at once: "/" in the date only when the
# host is not the official one AND the zone is named Asia/Shanghai.
expect_exit 1 "two-setting marker" -- "${P[@]}" -- node "$AGENTS/two_var_marker.js"
jq_true "two-setting marker verdict" '.verdict == "covert-marker"'
jq_true "two-setting marker attribution" '[.groups[] | select(.class == "covert-marker")] | length == 1 and
  (.[0] | (.explanation | test("Asia/Shanghai")) and (.explanation | test(" when base URL is not the baseline")) and
   (.variables | index("TZ")) and (.variables | index("ANTHROPIC_BASE_URL")))'
jq_true "two-setting marker code points" '[.differences[] | select(.class == "covert-marker") | .codepoints[]] | index("U+002F")'

# A content block inserted in front behind a non-official host, and a
# look-alike apostrophe in the block after it: the marker is found in the
# original block (aligned by content), the new block is a dependence of its own.
expect_exit 1 "inserted block" -- "${P[@]}" -- node "$AGENTS/relay_block.js"
jq_true "inserted block marker" '.verdict == "covert-marker" and
  ([.differences[] | select(.class == "covert-marker")] | length == 1 and
   (.[0] | (.location | endswith("body .messages[0].content[0].text")) and (.codepoints | index("U+2019"))
           and .explanation == "base URL is not the baseline'"'"'s"))'
jq_true "inserted block is a dependence" '[.differences[] | select(.location | endswith(".content[+0].text"))][0].class == "other-dependence"'

# The baseline is the odd one out: every other cell writes a long block into
# its system prompt, and a one-code-point marker (U+2019 for the apostrophe
# under a zone named Asia/Shanghai) appears only between non-baseline cells.
# Against the baseline it drowns in a rewrite; against each cell's nearest
# reference it is found, attributed, and reported with that reference.
expect_exit 1 "nearest reference" -- "${P[@]}" -- node "$AGENTS/baseline_outlier.js"
jq_true "nearest reference marker" '.verdict == "covert-marker" and
  ([.differences[] | select(.class == "covert-marker")] | length == 1 and
   (.[0] | (.location | endswith("body .system")) and (.codepoints == ["U+0027", "U+2019"])
           and .explanation == "TZ=Asia/Shanghai or @localtime=Asia/Shanghai"
           and .reference != "baseline" and (.differing_cells | length) == 8
           and ([.changes[] | .reference != "baseline" and .value == "\u2019"] | all)))'
jq_true "nearest reference cells" '[.differences[] | select(.class == "covert-marker") | .differing_cells[] | test("Asia/Shanghai")] | all'

# OpenTelemetry attributes in a random order in every run: aligned by key,
# nothing but the echoed host name differs.
expect_exit 0 "shuffled OTel attributes" -- "${P[@]}" -- node "$AGENTS/otel_shuffled.js"
jq_true "shuffled OTel verdict" '.verdict == "no-environment-dependence" and ([.differences[].class] | unique) == ["echo"]'
jq_true "shuffled OTel not noise" '[.noise[].location | select(test("attributes"))] | length == 0'
jq_true "host name attribute echoed" '[.differences[] | select(.location | test("attributes\\[key=host.name\\]"))][0].class == "echo"'

# An agent that fails under a Japanese locale: inconclusive (exit 1, never a
# clean 0), the failure with its status and stderr, no dependence made of it.
expect_exit 1 "failing cells" -- "${P[@]}" -- node "$AGENTS/fails_some.js"
jq_true "failing cells verdict" '.verdict == "inconclusive" and ([.differences[] | select(.class != "echo")] | length == 0)'
jq_true "failures listed" '([.failures[] | select(.whole_cell and .status == "exit status 3" and (.output | test("not supported")))] | length >= 1)
  and ([.failures[].cell | test("ja_JP")] | all)'
grep -q "inconclusive" err && ok || bad "inconclusive reason on stderr: $(cat err)"

# An OpenAI-style agent under any base path (openrouter.ai/api/v1, ...):
# the fake provider answers and ends its streams, so no cell fails.
expect_exit 0 "prefixed base path" -- "${P[@]}" -- node "$AGENTS/prefixed_base.js"
jq_true "prefixed base path clean" '.verdict == "no-environment-dependence" and .failures == [] and .warnings == []'
jq_true "prefixed base path reached" '[.hosts[].host] | index("openrouter.ai")'

# An agent with a default host of its own under a base path of its own (when
# no base URL is set): its calls there reach a provider, so the baseline
# counts, and the host is an echo of the base URL.
expect_exit 0 "own default host" -- "${P[@]}" -- node "$AGENTS/own_default_host.js"
jq_true "own default host clean" '.verdict == "no-environment-dependence" and .failures == [] and
  ([.differences[] | select(.location | test("header host$"))][0].class == "echo")'
jq_true "own default host reached" '[.hosts[].host] | index("llm.agent-vendor.example")'

# Covert channels outside the requests: the zone spelled in a DNS name, and
# encoded in the destination address dialled.
expect_exit 1 "DNS-name channel" -- "${P[@]}" -- node "$HOSTILE/dns_channel.js"
jq_true "DNS-name channel" '.verdict == "environment-dependent" and
  ([.differences[] | select(.class == "other-dependence" and (.location | test("^network lookup asia-shanghai")))
    | .variables | index("TZ")] | length == 1)'
jq_true "DNS name listed as unused" '.unused_lookups | index("asia-shanghai.tz.exfil-example.net")'
expect_exit 1 "destination-address channel" -- "${P[@]}" -- node "$HOSTILE/dest_addr_channel.js"
jq_true "destination-address channel" '.verdict == "environment-dependent" and
  ([.differences[] | select(.class == "other-dependence" and (.location | test("^network connect tcp 203[.]0[.]113[.]")))] | length >= 2)'

# The text report reads in ten seconds: the verdict, then the covert marker
# group first with its code points named.
expect_exit 1 "text report" -- "$GB" probe --jobs 2 --timeout 20 -- node "$AGENTS/two_var_marker.js"
head -1 out | grep -q 'COVERT MARKER' && ok || bad "text verdict first: $(head -2 out)"
grep -m1 '^\[' out | grep -q '^\[covert-marker\] 1 field follows TZ=Asia/Shanghai' && ok || bad "covert group first: $(grep -m3 '^\[' out)"
grep -q 'U+002F SOLIDUS' out && ok || bad "code point named"

finish
