// expect-endpoint-ip: 1.1.1.1 | DNS (assigned to RESOLVERS
// expect-endpoint: 203.0.113.7
// expect-endpoint-ip: 2.5.29.9 | fetch
// expect-not-ip: 2.5.29.1
// expect-not-ip: 2.5.29.14
// expect-not-ip: 1.3.101.112
// expect-not-ip: 1.3.6.1
// Four-part object identifiers are valid IPv4 literals: an X.509 table of
// extension OIDs, an algorithm OID with nothing around it, and a lone OID
// next to other OIDs are not addresses. A resolver list, octets no OID has,
// and an OID-shaped address in a URL are.
var extNames = { "2.5.29.1": "authorityKeyIdentifierOld", "2.5.29.14": "subjectKeyIdentifier",
  "2.5.29.15": "keyUsage", "2.5.4.3": "commonName" };
function edAlg(k) { return k === "1.3.101.112" ? "Ed25519" : "unknown"; }
const FALLBACK = "203.0.113.7";
const ids = ["1.2.840.10045.2.1", "1.3.6.1", "1.2.840.113549.1.1.11"];
// Unrelated code in between: a resolver list lives elsewhere in a bundle.
function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
function pad(s, n) { let out = String(s); while (out.length < n) out = " " + out; return out; }
function words(s) { return s.split(/\s+/).filter(Boolean).length; }
const RESOLVERS = ["1.1.1.1", "1.0.0.1"]; // dns
function probe() { return fetch("http://2.5.29.9:8080/health"); }
module.exports = { extNames, edAlg, ids, RESOLVERS, FALLBACK, probe };
