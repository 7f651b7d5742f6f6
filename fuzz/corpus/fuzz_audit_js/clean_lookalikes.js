// expect-not: env-probe/environment-dependent-output
// expect-not: unicode/lookalike-from-code
// expect-not: unicode/invisible-from-code
// expect-not: obfuscation/decoded-string
// expect-not: env-probe/hostname
// Code that looks like the patterns above and is not: type checks on a time
// zone, URL host names, an ASCII-only bundler's prose, a whitespace table,
// hashes, base64 image data and identifiers.
function zoneLabel() {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (typeof tz === "string" && tz !== "") return tz;
  if (tz === undefined) return "UTC";
  return "UTC";
}
function isLocal(url) {
  const host = new URL(url).hostname;
  return host === "localhost" ? "local" : "remote";
}
const MESSAGE = "Don\u2019t worry \u2014 we\u2019ll retry the request in a moment.";
const WHITESPACE = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";
const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const NAMES = ["constructor", "toString", "prototype", "hasOwnProperty"];
module.exports = { zoneLabel, isLocal, MESSAGE, WHITESPACE, SHA, PIXEL, NAMES };
