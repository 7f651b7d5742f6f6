// Prints, as JSON, every regular expression that each rule of secretlint's recommended preset
// applies when it lints a text: [{rule, source, flags}, ...]. secretlint's npm packages ship
// its rules but not its test fixtures; bench/secretlint_samples.py generates samples from these
// patterns (issue 15: the peers' own rules, generated at test time, nothing key-shaped
// committed). RegExp.prototype.exec is wrapped while a rule runs: String.prototype.matchAll,
// match, replace and RegExp.prototype.test all reach it, so a pattern a rule applies is seen
// whether it is a literal or built with new RegExp.
// Usage: node bench/secretlint_regexes.mjs NPM_TOOLS_DIR   (build/npm-tools, scripts/bootstrap.sh --bench)
import { createRequire } from "node:module";
import path from "node:path";
const tools = process.argv[2];
if (!tools) {
  console.error("usage: node secretlint_regexes.mjs NPM_TOOLS_DIR");
  process.exit(2);
}
const req = createRequire(path.join(tools, "package.json"));
const seen = new Map();
const origExec = RegExp.prototype.exec;
let recording = false;
RegExp.prototype.exec = function (s) {
  if (recording) {
    const key = this.source + "/" + this.flags;
    if (!seen.has(key)) seen.set(key, { source: this.source, flags: this.flags, rule: currentRule });
  }
  return origExec.call(this, s);
};
let currentRule = "";
let core, preset;
try {
  core = await import(req.resolve("@secretlint/core"));
  preset = await import(req.resolve("@secretlint/secretlint-rule-preset-recommend"));
} catch (e) {
  console.error(`secretlint_regexes: ${tools}: secretlint is not installed there (${e.message})`);
  process.exit(2);
}
// What the rules lint: a few lines naming the providers; the patterns do not depend on it
// (each rule applies its patterns to whatever text it is given).
const text = "AWS_ACCESS_KEY_ID=\naws_secret_access_key=\nGITHUB_TOKEN=\nDATABASE_URL=postgres://\n";
for (const rule of preset.creator.rules) {
  currentRule = rule.meta.id;
  recording = true;
  await core.lintSource({
    source: { filePath: "/x/.env", content: text, ext: ".env", contentType: "text" },
    options: { config: { rules: [{ id: rule.meta.id, rule }] } },
  });
  recording = false;
}
console.log(JSON.stringify([...seen.values()], null, 1));
