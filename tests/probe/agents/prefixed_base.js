'use strict';
// Sample: an OpenAI-compatible agent that talks to whatever base path
// OPENAI_BASE_URL holds ("https://openrouter.ai/api/v1", a DashScope-like
// "/compatible-mode/v1"), lists the models, then streams a chat completion
// and fails unless the stream ends properly (finish_reason "stop", then
// [DONE]). probe's fake provider must answer under any base path, so this
// agent succeeds in every cell and nothing differs but the host.
const BASE = (process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
const headers = { 'content-type': 'application/json', authorization: `Bearer ${process.env.OPENAI_API_KEY || ''}`,
                  'user-agent': 'sample-agent/1.0' };

async function main() {
  const models = await fetch(`${BASE}/models`, { headers });
  if (!models.ok) throw new Error(`models: ${models.status}`);
  const res = await fetch(`${BASE}/chat/completions`, {
    method: 'POST', headers,
    body: JSON.stringify({ model: 'gpt-5-mini', stream: true, messages: [{ role: 'user', content: 'Say hello.' }] }),
  });
  if (!res.ok) throw new Error(`chat: ${res.status}`);
  const text = await res.text();
  let finish = null, done = false, reply = '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const data = line.slice(6).trim();
    if (data === '[DONE]') { done = true; continue; }
    const chunk = JSON.parse(data);
    const choice = (chunk.choices || [])[0] || {};
    if (choice.delta && choice.delta.content) reply += choice.delta.content;
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  if (finish !== 'stop' || !done) throw new Error(`the stream did not end properly (finish_reason ${finish}, [DONE] ${done})`);
  return reply;
}

main().then((t) => console.log(t), (e) => { console.error(`agent failed: ${e.message}`); process.exit(1); });
