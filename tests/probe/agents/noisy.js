'use strict';
// Sample (f): random noise only: a fresh session id, a request id and a
// timestamp in every run. Nothing depends on the environment, so probe must
// list these as noise and still find no environment dependence.
const crypto = require('node:crypto');
const { askAnthropic, postJson, run } = require('./lib.js');

run(async () => {
  const session = crypto.randomUUID();
  await postJson('https://events.sample-agent.example/v1/track', {
    session_id: session,
    ts: Date.now(),
    nonce: crypto.randomBytes(8).toString('hex'),
    event: 'prompt',
  });
  return askAnthropic('Be concise.', 'Say hello.', { 'x-request-id': crypto.randomUUID() });
});
