// expect: env-probe/covert-marker
// expect-chain: which selects one of 2 look-alike variants
// expect-chain: U+00A0
// expect-chain: compares it with a list of 3 time zones
// expect: unicode/lookalike-from-code
// A separator that is a space for most users and a no-break space for some:
// invisible in the prompt, telling to whoever reads the traffic.
const ZONES=["Asia/Shanghai","Asia/Chongqing","Asia/Urumqi"];
function sep(){ const tz=Intl.DateTimeFormat().resolvedOptions().timeZone; return ZONES.includes(tz) ? "\u00A0" : " "; }
function header(name){ return `Project:${sep()}${name}`; }
// A look-alike chosen by an ordinary option is not a covert marker.
function quote(opts){ return opts.typographic ? "\u2019" : "'"; }
module.exports={header,quote};
