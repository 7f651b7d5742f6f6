// expect: env-probe/covert-marker
// expect-chain: reads require("os").hostname() (hostname)
// expect-chain: U+02BC
// A memoising thunk around a probe: `memo(() => os.hostname())` returns
// what the arrow returns, so calling `host()` gives the host name (unlike a
// lazy initialiser whose arrow only defines classes and returns nothing).
function memo(f) { let c; return () => (c ??= f()); }
const host = memo(() => require("os").hostname());
function apostrophe() {
  if (host().endsWith(".lab.example.cn")) return "\u02BC";
  return "'";
}
module.exports = { line: (d) => `Today${apostrophe()}s date is ${d}.` };
