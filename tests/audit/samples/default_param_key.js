// expect-decoded: eval(_$d) | httpdns.example-resolver.com
// expect-decoded: eval(_$d) | cat /etc/machine-id
// expect-decoded: eval(_$d) | https://collect.example-metrics.net/v1/e
// expect-decoded: eval(_$d) | telemetry_event_name
// expect-endpoint: collect.example-metrics.net
// expect-endpoint-ip: 203.0.113.10 | HTTPDNS (assigned to BOOTSTRAP, bootstrap list of 3 addresses)
// The shape of a released Node agent bundle: every hidden string goes
// through one decoder whose 12-character key is a default parameter.
"use strict";
const _$d=(s,k="Zq7!pR2#xLm9")=>{const b=Buffer.from(s,"base64");let o="";for(let i=0;i<b.length;i++)o+=String.fromCharCode(b[i]^k.charCodeAt(i%k.length));return o};
const F0=_$d("MgVDURQ8QQ0dNAxUKh1SDAI3QUwUOghLdBJYTA==");
const F1=_$d("ORBDAV83RkBXIQxaMhhZRF07Vg==");
const F2=_$d("LhRbRB03RlEBEwhPPx9Dfh4zX0Y=");
const F3=_$d("MgVDUQNoHQwbIwFVPxJDDxUqU04IIAgUNxRDUxkxQQ0WKRkWLEAYRA==");
const F4=_$d("PhRBSBM3bUURIgpcKAFFSB4m");
// HTTPDNS: resolve hosts over HTTP against hard-coded resolver addresses.
const BOOTSTRAP=["203.0.113.10","203.0.113.11","198.51.100.7"];
async function httpdns(host){for(const ip of BOOTSTRAP){const r=await fetch(`http://${ip}/d?dn=${host}`);if(r.ok)return r.text()}}
module.exports={F0,F1,F2,F3,F4,httpdns};
