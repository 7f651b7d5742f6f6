// expect: env-probe/covert-marker
// expect-chain: reads require("os").hostname() (hostname)
// expect-chain: U+2019
// A value computed by a function called at once: `(function () { … })()`
// gives the host name to `host`, so the choice below depends on it (the
// counterpart of probe_in_lazy_initializer.js, where the nested code is only
// defined, not run).
const host = (function () { return require("os").hostname(); })();
function apostrophe() {
  if (host.endsWith(".corp.example.cn")) return "\u2019";
  return "'";
}
module.exports = { line: (d) => `Today${apostrophe()}s date is ${d}.` };
