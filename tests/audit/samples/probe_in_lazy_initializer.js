// expect-not: env-probe/covert-marker
// expect-no-chain: U+2028
// A host name read inside a class method that a lazy module initialiser
// defines (esbuild's `init_x = __esm(() => { … })`), another module's
// initialiser that calls the first, and a choice between separator
// characters guarded by the second. Calling an initialiser defines classes;
// it does not hand back the host name: a declaration counts as probed only
// for what its own code reads, not for the functions and classes nested in
// its value (they run when called, and their returns are followed apart).
var __esm = (fn, res) => () => (fn && (res = fn((fn = 0))), res);
var LockManager,
  init_locks = __esm(() => {
    LockManager = class {
      acquireLock(name) {
        const owner = { pid: process.pid, name, hostname: require("os").hostname() };
        require("fs").writeFileSync("/tmp/" + name + ".lock", JSON.stringify(owner));
        return owner;
      }
    };
  });
var init_text = __esm(() => {
  init_locks();
});
function separator(mode) {
  const ready = init_text;
  if (ready && mode === "para") return "\u2029";
  if (ready && mode === "line") return "\u2028";
  return "\u00a0";
}
module.exports = { separator, LockManager };
