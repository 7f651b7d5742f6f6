// expect: env-probe/environment-dependent-output
// A UTC offset in a switch picks the output.
function style() {
  switch (new Date().getTimezoneOffset()) {
    case -480:
      return "style-b: use \u2019 quotes";
    default:
      return "style-a";
  }
}
module.exports = { style };
