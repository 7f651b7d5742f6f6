// expect-decoded: base64+xor("k3y") | gateway.internal.example.com
// expect-endpoint: gateway.internal.example.com
// A multi-byte XOR key taken from the decoder's own code.
function reveal(data) {
  const key = "k3y";
  const bytes = Buffer.from(data, "base64");
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i] ^ key.charCodeAt(i % key.length));
  return out;
}
const GATEWAY = reveal("DFINDkQYEh0QBUccGV0YBx0cE1IUG18cRVAWBg==");
module.exports = { GATEWAY };
