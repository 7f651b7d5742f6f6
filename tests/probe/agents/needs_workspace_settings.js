'use strict';
// Sample: an agent that refuses a custom base URL unless the project's
// settings choose how it authenticates (as Gemini CLI 0.61 does: with
// GOOGLE_GEMINI_BASE_URL set and no security.auth.selectedType in a settings
// file, `gemini -p` exits 41 "Invalid auth method selected."). The user
// supplies the project file with `glassbox probe --copy DIR/.agent`, and the
// agent then works in every cell.
const fs = require('fs');
const path = require('path');
const { askAnthropic, run } = require('./lib.js');

function selectedAuth() {
  try {
    return JSON.parse(fs.readFileSync(path.join(process.cwd(), '.agent', 'settings.json'), 'utf8')).auth;
  } catch {
    return undefined;
  }
}

if (process.env.ANTHROPIC_BASE_URL && selectedAuth() !== 'api-key') {
  console.error('Invalid auth method selected.');
  process.exit(41);
}
run(() => askAnthropic('Be concise.', 'Say hello.'));
