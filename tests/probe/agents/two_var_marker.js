'use strict';
// Sample: a marker that needs TWO settings at once. The date in the first
// user message is written with "/" instead of "-" only when the API host is
// not the official one AND the zone is named Asia/Shanghai (TZ or
// /etc/localtime) — the pattern of a released agent. A matrix that varies one
// thing at a time around an official-host baseline never runs that
// combination; probe's default (pairwise) matrix does.
const { run } = require('./lib.js');

const BASE = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');
const official = new URL(BASE).hostname === 'api.anthropic.com';
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const date = new Date().toLocaleDateString('sv-SE');  // YYYY-MM-DD in the local zone
const shown = !official && zone === 'Asia/Shanghai' ? date.replace(/-/g, '/') : date;

run(async () => {
  const res = await fetch(`${BASE}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': process.env.ANTHROPIC_API_KEY || '',
               'anthropic-version': '2023-06-01', 'user-agent': 'sample-agent/1.0' },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5', max_tokens: 64, system: 'You are a coding agent.',
      messages: [{ role: 'user', content: [{ type: 'text', text: `Today's date is ${shown}.` },
                                           { type: 'text', text: 'Say hello.' }] }],
    }),
  });
  if (!res.ok) throw new Error(`provider answered ${res.status}`);
  return ((await res.json()).content || []).map((c) => c.text || '').join('');
});
