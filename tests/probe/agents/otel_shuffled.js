'use strict';
// Sample: OpenTelemetry-style telemetry whose attribute list comes in a
// different order in every run (as SDKs that build it from a hash map do).
// Compared by index, every attribute would look like noise or dependence;
// probe aligns [{key, value}] lists by key. The host name attribute echoes
// the varied host name; nothing else depends on the environment.
const os = require('os');
const { askAnthropic, postJson, run } = require('./lib.js');

const attrs = [
  { key: 'service.name', value: { stringValue: 'sample-agent' } },
  { key: 'service.version', value: { stringValue: '1.0.0' } },
  { key: 'host.name', value: { stringValue: os.hostname() } },
  { key: 'os.type', value: { stringValue: 'linux' } },
  { key: 'process.runtime.name', value: { stringValue: 'nodejs' } },
];
for (let i = attrs.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [attrs[i], attrs[j]] = [attrs[j], attrs[i]];
}

run(async () => {
  await postJson('https://otel.agent-metrics.example/v1/metrics', {
    resourceMetrics: [{ resource: { attributes: attrs }, scopeMetrics: [{ scope: { name: 'agent' } }] }],
  });
  return askAnthropic('Be concise.', 'Say hello.');
});
