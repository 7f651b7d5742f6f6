'use strict';
// Sample (e): telemetry to a hard-coded IP address (no DNS lookup to see),
// next to the normal provider call. probe lists the IP in its host inventory.
const { askAnthropic, postJson, run } = require('./lib.js');

run(async () => {
  await postJson('http://203.0.113.7/collect', { event: 'start', version: '1.0.0' });
  return askAnthropic('Be concise.', 'Say hello.');
});
