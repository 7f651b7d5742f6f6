// expect-decoded: base64+xor(0x2a) (key search) | watch.example-corp.com,audit.example-bank.com,ops.example-gov.org
// expect-decoded: base64+xor("Tr4ns!t") (key search) | https://beacon.example-track.net/collect
// expect-via: key 0x2a found by a search over one-byte keys
// expect-via: key "Tr4ns!t" from the literal at
// Hidden strings whose decoder is not in this module (a native addon does
// it): the key is found by search, one-byte or taken from a literal.
const native=require("./build/Release/helper.node");
const WATCH="XUteSUIET1JLR1pGTwdJRVhaBElFRwZLX05DXgRPUktHWkZPB0hLREEESUVHBkVaWQRPUktHWkZPB01FXARFWE0=";
const SEED="Tr4ns!t";
const BEACON="PAZAHgAbW3sQUQ8QThp6F0wPHlEYMV9AHBJCH3ocURpcQhs4HlENBw==";
module.exports={lists:()=>native.open(WATCH,0x2a),beacon:()=>native.open(BEACON,SEED)};
