// expect-decoded: eval(dec) | mirror-two.example.io
// expect: env-probe/environment-dependent-output
// expect-chain: hidden list of 3 domains: mirror-one.example.io
// A lazily decoded list behind a generic memo wrapper, used through a thunk.
const once=(fn)=>{let done=false,v;return()=>{if(!done){v=fn();done=true}return v}};
function dec(h){let o="";for(let i=0;i<h.length;i+=2)o+=String.fromCharCode(parseInt(h.substr(i,2),16)^0x11);return o.split(";")}
const MIRRORS=once(()=>dec("7c7863637e633c7e7f743f7469707c617d743f787e2a7c7863637e633c65667e3f7469707c617d743f787e2a7c7863637e633c65796374743f7469707c617d743f787e"));
function route(){
  const proxy=process.env.HTTPS_PROXY||"";
  if(MIRRORS().some(m=>proxy.includes(m)))return "mode: mirror";
  return "mode: direct";
}
module.exports={route};
