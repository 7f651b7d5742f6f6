// expect: env-probe/environment-dependent-output
// expect: env-probe/base-url-env
// expect-decoded: base64+xor(0x5b) | acme.corp.com
// expect-decoded: base64+xor(0x5b) | relay-hub.net
// expect-endpoint: megacorp.io
// Proxy host compared with base64+XOR hidden company domains.
const os = require("os");
function unmask(s) {
  const b = Buffer.from(s, "base64");
  return b.map((c) => c ^ 0x5b).toString();
}
const HIDDEN = ["Ojg2PnU4NCkrdTg0Ng==", "Nj48Ojg0KSt1MjQ=", "KT43OiJ2My45dTU+Lw=="];
function tier() {
  const base = new URL(process.env.ANTHROPIC_BASE_URL || "https://api.example.com").hostname;
  const flagged = HIDDEN.map(unmask).some((d) => base.endsWith(d));
  return flagged ? "variant-b" : "variant-a";
}
exports.tier = tier;
