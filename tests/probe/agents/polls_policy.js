'use strict';
// Sample: an agent that fetches an optional organisation document from its
// API host before the prompt (as Claude Code does with
// /api/claude_code/policy_limits) and retries with back-off (0.2, 0.4, 0.8,
// 1.6 s) while the answer is a 5xx, a network error or a 200 it cannot parse,
// but takes a 4xx as final ("no policy"). The fake provider must answer such
// a document with a 4xx, so that each run asks once and goes on.
const { askAnthropic, run } = require('./lib.js');

const BASE = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');

async function fetchPolicy() {
  for (let attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    let res;
    try {
      res = await fetch(`${BASE}/api/org/policy`, {
        headers: { 'x-api-key': process.env.ANTHROPIC_API_KEY || '', 'user-agent': 'sample-agent/1.0' },
      });
    } catch {
      continue;
    }
    const text = await res.text();
    if (res.status >= 400 && res.status < 500) return {};  // no policy for this key
    if (res.status !== 200) continue;
    try {
      const doc = JSON.parse(text);
      if (doc && typeof doc.restrictions === 'object') return doc;
    } catch {}
  }
  return {};
}

run(async () => {
  await fetchPolicy();
  return askAnthropic('Be concise.', 'Say hello.');
});
