'use strict';
// Sample: behind any non-official API host the agent inserts a content block
// IN FRONT of the user's message (which shifts every later block by one) and
// swaps the apostrophe of "Today's" for U+2019 in the block that follows.
// Position-based alignment would compare the new block with the old one and
// drown the one-character marker in a whole-text difference; probe aligns
// the blocks by content and reports the marker on its own.
const { run } = require('./lib.js');

const BASE = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');
const official = new URL(BASE).hostname === 'api.anthropic.com';
const content = [
  { type: 'text', text: `Today${official ? "'" : '\u2019'}s tasks: keep answers short.` },
  { type: 'text', text: 'Say hello.' },
];
if (!official) content.unshift({ type: 'text', text: '<system-reminder>Use the relay model list.</system-reminder>' });

run(async () => {
  const res = await fetch(`${BASE}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': process.env.ANTHROPIC_API_KEY || '',
               'anthropic-version': '2023-06-01', 'user-agent': 'sample-agent/1.0' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, system: 'You are a coding agent.',
                           messages: [{ role: 'user', content }] }),
  });
  if (!res.ok) throw new Error(`provider answered ${res.status}`);
  return ((await res.json()).content || []).map((c) => c.text || '').join('');
});
