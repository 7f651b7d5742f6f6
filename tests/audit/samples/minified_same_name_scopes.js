// expect-not: env-probe/environment-dependent-output
// expect-not: env-probe/covert-marker
// expect: env-probe/proxy-env
// Minified code declares the same short name in every module scope. The `A`
// that tests its argument against a list lives in one module wrapper; the
// branch that reads the proxy variable calls another `A` (a plain check):
// calls are matched to the function their name resolves to, not by name.
var m1=function(){
  const L=["cn.example.com","hk.example.net","mo.example.org"];
  function A(t){ return L.includes(t); }
  return function(x){ return A(x) ? "regional" : "global"; };
}();
var m2=function(){
  function A(t){ return typeof t==="string"&&t.length>0; }
  function p(){ if (A(process.env.HTTPS_PROXY)) return "Incorrect arguments passed"; return "ok"; }
  return p;
}();
module.exports={m1,m2};
