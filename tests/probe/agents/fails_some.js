'use strict';
// Sample: an agent that fails in some cells. Under a Japanese locale it
// exits with status 3 before sending anything. The cells where it failed say
// nothing about its behaviour: probe reports them as failures (status and
// stderr), not as dependences, and its verdict is inconclusive.
const { askAnthropic, run } = require('./lib.js');

if ((process.env.LC_ALL || process.env.LANG || '').startsWith('ja')) {
  console.error('Error: locale ja_JP.UTF-8 is not supported by this build');
  process.exit(3);
}
run(() => askAnthropic('Be concise.', 'Say hello.'));
