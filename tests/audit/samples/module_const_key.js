// expect-decoded: eval(unmask) | relay.example-partner.net
// expect-via: KEY
// A decoder whose one-byte key is a module constant defined after it, and
// an add-with-key variant (Caesar shift over char codes) with its key in an
// object property.
function unmask(s){return atob(s).split("").map(c=>String.fromCharCode(c.charCodeAt(0)^KEY)).join("")}
var KEY=0x2c;
const CFG={shift:3,env:process.env.HOME};
function unshift(s){let o="";for(const ch of s)o+=String.fromCharCode(ch.charCodeAt(0)-CFG.shift);return o}
exports.relay=unmask("XklATVUCSVRNQVxASQFcTV5YQkleAkJJWA==");
exports.region=unshift("Dvld2Vkdqjkdl");
// expect-decoded: eval(unshift) | Asia/Shanghai
