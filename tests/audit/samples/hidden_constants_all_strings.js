// expect: env-probe/environment-dependent-output
// expect-chain: compares it with a hidden constant "build.corp-watch.example.net"
// expect-not: env-probe/covert-marker
// expect-no-chain: Failed to parse certificate
// expect-decoded: eval(_d) | Failed to parse certificate at index
// A bundle that passes every string through one decoder hides its error
// messages too: comparing a probed value with a hidden error message or MIME
// type is ordinary code; a hidden host name is what tells users apart.
const _d=(s,k="Kq9#Lm")=>{const b=Buffer.from(s,"base64");for(let i=0;i<b.length;i++)b[i]^=k.charCodeAt(i%k.length);return b.toString()};
const os=require("os");
function lock(){ const h=os.hostname(); if (h===_d("DRBQTykJawVWAzwMOQJcAy8IOQVQRSUOKgVcAy0ZaxhXRykV")) return "retry"; return "ok"; }
function kind(){ const h=os.hostname(); if (h.endsWith(_d("KQRQTyhDKB5LU2EaKgVaS2IIMxBUUyAIZR9cVw=="))) return "x-watch: 1"; return ""; }
module.exports={lock,kind};
