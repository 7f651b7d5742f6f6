'use strict';
// Sample: the baseline is the odd one out. In any environment but the
// agent's default one (a zone other than UTC, another locale, a base URL
// that is not the official host, a proxy) the agent writes a long block of
// notes INTO its system prompt, one string, in front of the sentence that
// follows; and when the zone is named Asia/Shanghai (TZ or /etc/localtime)
// the apostrophe of "Today's" is U+2019 instead of U+0027. Against the
// baseline every cell's prompt is a rewrite and the one-code-point marker is
// lost in it; against the nearest cell that has the block too, the marker is
// all that changes. probe compares each cell with its nearest reference as
// well, and reports the marker with the reference it was found against.
const { run } = require('./lib.js');

const BASE = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');
const official = new URL(BASE).hostname === 'api.anthropic.com';
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const lang = process.env.LC_ALL || process.env.LANG || '';
const proxied = Boolean(process.env.HTTPS_PROXY || process.env.HTTP_PROXY);
const unusual = !official || (zone !== 'UTC' && zone !== 'Etc/UTC') || (lang !== '' && !lang.startsWith('en_US')) || proxied;

const notes = [
  '<environment-notes>',
  'This session runs outside the default environment. Keep tool output short,',
  'prefer the shell tools over the editor tools, never open a browser, ask',
  'before installing packages, cache nothing in the home directory, and report',
  'every file you change with its full path at the end of the answer. Answers',
  'longer than twenty lines are summarised first. Network calls go through',
  'the configured gateway only; do not retry a failed call more than twice.',
  '</environment-notes>',
].join('\n');
const apostrophe = zone === 'Asia/Shanghai' ? '\u2019' : "'";
const system = `You are a coding agent.\n${unusual ? notes + '\n' : ''}Today${apostrophe}s tasks: keep answers short.`;

run(async () => {
  const res = await fetch(`${BASE}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': process.env.ANTHROPIC_API_KEY || '',
               'anthropic-version': '2023-06-01', 'user-agent': 'sample-agent/1.0' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, system,
                           messages: [{ role: 'user', content: 'Say hello.' }] }),
  });
  if (!res.ok) throw new Error(`provider answered ${res.status}`);
  return ((await res.json()).content || []).map((c) => c.text || '').join('');
});
