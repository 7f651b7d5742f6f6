#!/usr/bin/env bash
# End-to-end: `glassbox probe --format html` renders in headless Chromium.
# The page must be self-contained (no external assets), show the verdict,
# the covert marker with its code point, and the host inventory; the
# screenshot must not be empty. Exits 77 (skipped) without the sandbox,
# node or chromium.
source "$(dirname "$0")/lib.sh"
AGENTS=$(cd "$(dirname "$0")/../probe/agents" && pwd)
cd "$WORK"

if ! "$GB" probe --check-sandbox >/dev/null 2>"$WORK/sandbox.err"; then
  echo "SKIP: the probe sandbox cannot run here (unprivileged user namespaces needed): $(cat "$WORK/sandbox.err")"
  exit 77
fi
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM ]] || ! command -v node >/dev/null; then
  echo "SKIP: needs chromium and node"
  exit 77
fi

expect_exit 1 "html report" -- "$GB" probe --runs 2 --jobs 2 --timeout 30 --format html \
  --vary TZ=Asia/Shanghai,Asia/Singapore -- node "$AGENTS/tz_marker.js"
cp out report.html
grep -qE '(src|href)=|@import|url\(|<script' report.html && bad "external asset or script in the page" || ok

chrome() {
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$WORK/profile.XXXXXX")" "$@" 2>>"$WORK/chromium.log"
}
chrome --dump-dom "file://$WORK/report.html" > dom.html
for text in 'COVERT MARKER' 'covert-marker' 'U+2019' 'RIGHT SINGLE QUOTATION MARK' 'TZ=Asia/Shanghai' \
            'Hosts contacted' 'api.anthropic.com' 'Matrix'; do
  grep -q "$text" dom.html && ok || bad "rendered DOM lacks '$text'"
done
chrome --screenshot="$WORK/shot.png" --window-size=1280,2000 "file://$WORK/report.html" >/dev/null
[[ -s shot.png ]] && ok || bad "screenshot empty: $(tail -3 "$WORK/chromium.log")"
# A PNG of a real page is far larger than a blank one's few kilobytes.
[[ $(stat -c %s shot.png) -gt 20000 ]] && ok || bad "screenshot looks blank ($(stat -c %s shot.png) bytes)"
[[ -n ${PROBE_HTML_KEEP:-} ]] && cp shot.png report.html "$PROBE_HTML_KEEP/"

finish
