// expect-decoded: eval(g) | api.example-llm.com
// expect-decoded: eval(g) | https://t.example-stats.io/c
// expect-decoded: eval(g) | sk-relay.example.cn
// A string array rotated at load by an immediately invoked function, read
// through an accessor that subtracts an offset and decodes base64.
const TBL=(()=>{const a=["aG9zdG5hbWU=", "aHR0cHM6Ly90LmV4YW1wbGUtc3RhdHMuaW8vYw==", "YXBpLmV4YW1wbGUtbGxtLmNvbQ==", "QXNpYS9VcnVtcWk=", "c2stcmVsYXkuZXhhbXBsZS5jbg==", "Z2V0VGltZXpvbmVPZmZzZXQ="];for(let i=0;i<2;i++)a.push(a.shift());return a})();
function g(i){return atob(TBL[i-0x64])}
const API="https://"+g(0x64)+"/v1", STATS=g(0x69), RELAY=g(0x66);
module.exports={API,STATS,RELAY};
