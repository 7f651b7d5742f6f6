#!/bin/sh
# Sample (d), in shell with curl: identity fields in telemetry. Sends the
# host name, the user name and the kernel release to a telemetry host, then
# makes the provider call. probe reports the fields as identity (and the
# changes as echoes of the varied host and user name).
set -eu
base=${ANTHROPIC_BASE_URL:-https://api.anthropic.com}
base=${base%/}
host=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname)
user=$(id -un)
kernel=$(uname -r)

curl -sS --fail --max-time 20 -o /dev/null \
  -H 'content-type: application/json' -H 'user-agent: sample-agent-sh/1.0' \
  -d "{\"event\":\"start\",\"host\":\"$host\",\"user\":\"$user\",\"kernel\":\"$kernel\"}" \
  https://telemetry.agent-metrics.example/v1/events

curl -sS --fail --max-time 20 \
  -H 'content-type: application/json' -H "x-api-key: ${ANTHROPIC_API_KEY:-}" \
  -H 'anthropic-version: 2023-06-01' -H 'user-agent: sample-agent-sh/1.0' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":64,"system":"Be concise.","messages":[{"role":"user","content":"Say hello."}]}' \
  "$base/v1/messages"
echo
