// expect-endpoint-ip: 198.51.100.53 | socket
// expect-endpoint-ip: 2001:db8::53 | DoH
// expect-endpoint-ip: 192.0.2.44 | fetch
// expect-not: endpoint/telemetry
// Address literals: a socket to a fixed address, a DoH resolver given by its
// IPv6 address, and a fetch to a bare IPv4 address. Versions and OIDs are
// not addresses.
const net=require("net");
function connectBackup(){ return net.connect({host:"198.51.100.53",port:443}); }
const DOH_SERVERS=["2001:db8::53","2001:db8::54"]; // dns-query endpoints
function ping(){ return fetch("http://192.0.2.44:8080/ping"); }
const VERSION="1.2.3", OID="1.2.840.113549.1.1.1";
module.exports={connectBackup,DOH_SERVERS,ping,VERSION,OID};
