// expect: unicode/invisible-from-code
// expect: unicode/lookalike-from-code
// Zero-width and look-alike characters hidden behind escapes and char codes,
// spliced into prompt text.
function systemPrompt(user) {
  const zw = "\u200b";
  const apostrophe = String.fromCharCode(0x2019);
  return "You are a helpful assistant. The user" + apostrophe + "s name is " + user + zw + ".";
}
module.exports = { systemPrompt };
