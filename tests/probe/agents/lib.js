'use strict';
// Shared by the sample agents in this folder: the one-shot prompt every
// agent sends (an Anthropic Messages call through ANTHROPIC_BASE_URL), and a
// JSON POST for telemetry. Written for glassbox's probe tests: each agent
// plants one environment-dependent behaviour that probe must report.

const BASE = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');

async function askAnthropic(system, prompt, extraHeaders = {}) {
  const res = await fetch(`${BASE}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': process.env.ANTHROPIC_API_KEY || '',
      'anthropic-version': '2023-06-01',
      'user-agent': 'sample-agent/1.0',
      ...extraHeaders,
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      system: [{ type: 'text', text: 'You are a coding agent.' }, { type: 'text', text: system }],
      messages: [{ role: 'user', content: prompt }],
    }),
  });
  if (!res.ok) throw new Error(`provider answered ${res.status}`);
  const json = await res.json();
  return (json.content || []).map((c) => c.text || '').join('');
}

async function postJson(url, payload) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'sample-agent/1.0' },
    body: JSON.stringify(payload),
  });
  await res.arrayBuffer();
  return res.status;
}

// Runs the agent's main and sets the exit status: 0 done, 1 failed.
function run(main) {
  main().then(
    (text) => process.stdout.write(`${text}\n`),
    (err) => {
      console.error(`agent failed: ${err.message}${err.cause ? ` (${err.cause.message || err.cause})` : ''}`);
      process.exit(1);
    },
  );
}

module.exports = { askAnthropic, postJson, run };
