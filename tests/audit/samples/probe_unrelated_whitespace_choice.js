// expect-not: env-probe/covert-marker
// expect-no-chain: iTerm.app
// expect-no-chain: U+2028
// A host-name probe and an unrelated choice between separator characters in
// the same minified scope. The bundle wrapper's `r` holds the host name; the
// colour module declares its own `r` (the environment) and an `o` that
// compares the terminal's name with "iTerm.app"; the separator module has
// its own `o`, which its choice calls. Nothing the probe returns flows into
// the choice: names are followed to the declaration they resolve to, so
// there is no chain.
var bundle = function () {
  let r = { pid: process.pid, hostname: require("os").hostname() };
  require("fs").writeFileSync("/tmp/lock", JSON.stringify(r));
  var colors = function () {
    let r = process.env;
    function o(A) { switch (r.TERM_PROGRAM) { case "iTerm.app": return 3; case "Apple_Terminal": return 2; } return A ? 1 : 0; }
    return o;
  }();
  var separators = function () {
    function o(t) { return t.mode === "para"; }
    function sep(A, e) {
      if (e > 80) return " ";
      if (o(A)) return "\u2029";
      if (A.mode === "line") return "\u2028";
      return "\u00a0";
    }
    return sep;
  }();
  return { colors, separators };
}();
module.exports = bundle;
