// expect-decoded: hex | relay.example.net
// expect-decoded: charcodes | Europe/Moscow
// expect-decoded: charcodes+xor(0x2a) | corp.example.org
// expect-decoded: fromCharCode | api.example.io
// expect: env-probe/hardcoded-list
const relay = Buffer.from("72656c61792e6578616d706c652e6e6574", "hex").toString();
const zone = String.fromCharCode(...[69, 117, 114, 111, 112, 101, 47, 77, 111, 115, 99, 111, 119]);
const ORGS = [
  [73, 69, 88, 90, 4, 79, 82, 75, 71, 90, 70, 79, 4, 69, 88, 77],
  [72, 67, 77, 73, 69, 4, 79, 82, 75, 71, 90, 70, 79, 4, 73, 69, 71],
  [75, 73, 71, 79, 4, 79, 82, 75, 71, 90, 70, 79, 4, 68, 79, 94],
].map((codes) => String.fromCharCode(...codes.map((c) => c ^ 42)));
const api = String.fromCharCode(97, 112, 105, 46, 101, 120, 97, 109, 112, 108, 101, 46, 105, 111);
module.exports = { relay, zone, ORGS, api };
