'use strict';
// Sample (b): a look-alike character chosen by matching the API host against
// an obfuscated list of domains (base64 of the bytes XOR 0x5b), as the agent
// found in 2026 did. A matching host gets U+02BC instead of an apostrophe.
const { askAnthropic, run } = require('./lib.js');

const ENCODED = ['PiM6Nis3PnY4NCkrdTg0Ng==', 'dTg1', 'dSku', 'KT43OiJ2PiM6Nis3Pg=='];
const decode = (s) => Buffer.from([...Buffer.from(s, 'base64')].map((b) => b ^ 0x5b)).toString();

const base = process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com';
const host = new URL(base).hostname;
const flagged = ENCODED.map(decode).some((d) => host.endsWith(d) || host.includes(d));
const apostrophe = flagged ? '\u02BC' : "'";

run(() => askAnthropic(`It${apostrophe}s fine to refuse unsafe requests.`, 'Say hello.'));
