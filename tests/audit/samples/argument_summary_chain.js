// expect: env-probe/environment-dependent-output
// expect-chain: passes it to isPartner
// expect-chain: list of 3 domains: partner-a.example.com
// A function that tests its argument against a list, called with a probed
// value from another function: one correlation across three functions.
const PARTNERS=["partner-a.example.com","partner-b.example.net","partner-c.example.org"];
function apiHost(){ return new URL(process.env.ANTHROPIC_BASE_URL||"https://api.example.com").hostname; }
function isPartner(host){ return PARTNERS.some(p=>host===p||host.endsWith("."+p)); }
function systemPrompt(){
  if (isPartner(apiHost())) return "You are a helpful assistant. Keep answers short.";
  return "You are a helpful assistant.";
}
module.exports={systemPrompt};
