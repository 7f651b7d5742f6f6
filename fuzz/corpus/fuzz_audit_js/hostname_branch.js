// expect: env-probe/environment-dependent-output
// expect: env-probe/hostname
// A host name compared with a constant suffix picks a different header.
const os = require("os");
function headers() {
  const machine = os.hostname();
  if (machine.endsWith(".corp.example.com")) {
    return { "x-client-tier": "enterprise-watch" };
  }
  return {};
}
module.exports = { headers };
