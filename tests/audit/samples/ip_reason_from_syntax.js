// expect-endpoint-ip: 203.0.113.1 | HTTPDNS (assigned to A.DEFAULT_BOOTSTRAP_IPS, bootstrap list of 3 addresses)
// expect-endpoint-ip: 198.51.100.1 | DNS (passed to dns.setServers, bootstrap list of 2 addresses)
// expect-endpoint-ip: 198.51.100.7 | socket (stored as host, passed to net.createConnection)
// expect-endpoint-ip: 192.0.2.44 | fetch (passed to fetch)
// expect-endpoint-ip: 192.0.2.77 | address literal (assigned to addr)
// expect-endpoint-ip: 10.0.0.1 | address literal (assigned to SUBNET_GATEWAY)
// The reason an address is an endpoint comes from the syntax around it:
// the name its list is assigned to (a resolver's bootstrap list, whose
// neighbours are hidden so no word nearby says HTTPDNS), the call it is
// passed to, the key it is stored under. Words nearby that do not touch the
// value ("resolve", "http" in a message) give no reason.
var A = {};
A.DEFAULT_BOOTSTRAP_IPS = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
A.DEFAULT_BOOTSTRAP_DOMAIN = _$d("PRE3WTUUXUVF");
const dns = require("dns"), net = require("net");
dns.setServers(["198.51.100.1", "198.51.100.2"]);
function mail() { return net.createConnection({ host: "198.51.100.7", port: 25 }); }
function ping() { return fetch(`http://192.0.2.44:8080/ping`); }
function pickLocal() { const addr = "192.0.2.77"; return Promise.resolve(addr); }
console.log("see the http docs for the request format");
const SUBNET_GATEWAY = "10.0.0.1";
module.exports = { mail, ping, pickLocal, SUBNET_GATEWAY };
// A WebSocket URL is a socket; a literal tested in an `if` is passed to nothing.
// expect-endpoint-ip: 192.0.2.90 | socket (passed to WebSocket)
// expect-endpoint-ip: 192.0.2.91 | address literal
function live() { return new WebSocket("ws://192.0.2.90:9000/live"); }
function isGateway(h) { if ("192.0.2.91" === h) return true; return false; }
module.exports.live = live;
module.exports.isGateway = isGateway;
