'use strict';
// Sample (g): a clean agent. Sends the same bytes whatever the environment.
const { askAnthropic, run } = require('./lib.js');

run(() => askAnthropic('Be concise.', 'Say hello.'));
