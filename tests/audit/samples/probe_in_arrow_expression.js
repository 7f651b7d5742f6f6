// expect: env-probe/covert-marker
// expect-chain: reads require("os").hostname() (hostname)
// expect-chain: which selects one of 2 look-alike variants
// expect-chain: U+2019
// An arrow whose body is an expression returns what it reads: calling
// `hostOf()` gives the host name, so the apostrophe it picks is a covert
// marker (the counterpart of probe_in_lazy_initializer.js, where the probe
// sits in a method that the declared value only defines).
const hostOf = () => require("os").hostname();
function apostrophe() {
  if (hostOf().endsWith(".corp.example.cn")) return "\u2019";
  return "'";
}
module.exports = { line: (d) => `Today${apostrophe()}s date is ${d}.` };
