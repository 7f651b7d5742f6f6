// Agent-config rule files: parsing their TOML, and the binary form in which
// glassbox_agent_rulegen builds the built-in rules into the binary (so that
// start-up parses no TOML: toml++ spends about 5 million instructions on them).
#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/byte_codec.h"
#include "core/secrets.h"
#include "core/toml_strings.h"
#include "scan/agent_config.h"

namespace glassbox {
// Generated from rules/agent-config/*.toml (cmake/embed_files.cmake).
const std::vector<EmbeddedFile>& EmbeddedAgentConfigRuleFiles();
}  // namespace glassbox

namespace glassbox::scan {

namespace {

Status ReadSamples(const toml::table& t, std::string_view key, std::vector<AgentConfigSample>* out,
                   const std::string& where) {
  const toml::array* arr = t[key].as_array();
  if (arr == nullptr) return Status::Ok();
  for (const toml::node& n : *arr) {
    const toml::table* s = n.as_table();
    if (s == nullptr)
      return Status::Error(fmt::format("{}: {} entries must be tables {{file, text}}", where, key));
    AgentConfigSample sample{(*s)["file"].value_or(std::string()),
                             (*s)["text"].value_or(std::string())};
    if (sample.file.empty())
      return Status::Error(fmt::format("{}: a {} sample has no file", where, key));
    out->push_back(std::move(sample));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<AgentConfigRule>> ParseAgentConfigRules(std::string_view toml_text,
                                                           std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return Status::Error(fmt::format("{}:{}:{}: invalid TOML: {}", source, e.source().begin.line,
                                     e.source().begin.column, e.description()));
  }
  std::vector<AgentConfigRule> rules;
  const toml::array* list = root["rule"].as_array();
  if (list == nullptr) return Status::Error(fmt::format("{}: no [[rule]] tables", source));
  for (const toml::node& node : *list) {
    const toml::table* t = node.as_table();
    if (t == nullptr) return Status::Error(fmt::format("{}: a rule is not a table", source));
    AgentConfigRule rule;
    rule.source = std::string(source);
    rule.id = (*t)["id"].value_or(std::string());
    const std::string where = fmt::format("{}: rule {}", source, rule.id);
    if (rule.id.rfind("agent-config/", 0) != 0)
      return Status::Error(where + ": id must start with agent-config/");
    rule.description = (*t)["description"].value_or(std::string());
    rule.message = (*t)["message"].value_or(rule.description);
    const std::string sev = (*t)["severity"].value_or(std::string("high"));
    if (!ParseSeverity(sev, &rule.severity))
      return Status::Error(fmt::format("{}: unknown severity '{}'", where, sev));
    if (Status st = ReadTomlStrings(t->get("files"), "files", where, &rule.files); !st.ok())
      return st;
    if (rule.files.empty()) return Status::Error(where + ": 'files' must list at least one glob");
    rule.key = (*t)["key"].value_or(std::string());
    rule.value = (*t)["value"].value_or(std::string());
    rule.line = (*t)["line"].value_or(std::string());
    rule.hidden_text = (*t)["hidden_text"].value_or(false);
    const int kinds =
        (rule.key.empty() ? 0 : 1) + (rule.line.empty() ? 0 : 1) + (rule.hidden_text ? 1 : 0);
    if (kinds != 1)
      return Status::Error(where + ": give exactly one of 'key', 'line' or 'hidden_text'");
    if (!rule.value.empty() && rule.key.empty())
      return Status::Error(where + ": 'value' needs 'key'");
    Status st = ReadSamples(*t, "true_positives", &rule.true_positives, where);
    if (!st.ok()) return st;
    st = ReadSamples(*t, "false_positives", &rule.false_positives, where);
    if (!st.ok()) return st;
    rules.push_back(std::move(rule));
  }
  return rules;
}

Result<std::vector<AgentConfigRule>> ParseEmbeddedAgentConfigRules() {
  std::vector<AgentConfigRule> all;
  for (const EmbeddedFile& file : EmbeddedAgentConfigRuleFiles()) {
    auto parsed = ParseAgentConfigRules(file.text, file.name);
    if (!parsed.ok()) return parsed.status();
    for (AgentConfigRule& r : parsed.value()) all.push_back(std::move(r));
  }
  return all;
}

// ---------------------------------------------------------------- binary form
//
// The magic "GBAGENT1", a u32 rule count, then per rule its fields in
// declaration order (samples as a u32 count of file/text string pairs).

namespace {

constexpr std::string_view kAgentRulesMagic = "GBAGENT1";

void PutSamples(ByteWriter* out, const std::vector<AgentConfigSample>& samples) {
  out->U32(static_cast<uint32_t>(samples.size()));
  for (const AgentConfigSample& s : samples) {
    out->String(s.file);
    out->String(s.text);
  }
}

std::vector<AgentConfigSample> TakeSamples(ByteReader* in, std::string_view what) {
  const uint32_t n = in->U32(what);
  std::vector<AgentConfigSample> out;  // not reserved: a damaged count must not allocate
  for (uint32_t i = 0; i < n && in->ok(); ++i) {
    AgentConfigSample s;
    s.file = in->String(what);
    s.text = in->String(what);
    if (in->ok()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::string EncodeAgentConfigRules(const std::vector<AgentConfigRule>& rules) {
  ByteWriter out(kAgentRulesMagic);
  out.U32(static_cast<uint32_t>(rules.size()));
  for (const AgentConfigRule& r : rules) {
    out.String(r.id);
    out.String(r.description);
    out.String(r.message);
    out.U32(static_cast<uint32_t>(r.severity));
    out.List(r.files);
    out.String(r.key);
    out.String(r.value);
    out.String(r.line);
    out.U32(r.hidden_text ? 1 : 0);
    PutSamples(&out, r.true_positives);
    PutSamples(&out, r.false_positives);
    out.String(r.source);
  }
  return out.bytes();
}

Result<std::vector<AgentConfigRule>> DecodeAgentConfigRules(std::string_view bytes) {
  ByteReader in(bytes, kAgentRulesMagic);
  const uint32_t count = in.U32("rule count");
  std::vector<AgentConfigRule> rules;
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    AgentConfigRule r;
    r.id = in.String("id");
    r.description = in.String("description");
    r.message = in.String("message");
    const uint32_t severity = in.U32("severity");
    if (in.ok() && severity > static_cast<uint32_t>(Severity::kCritical)) {
      return Status::Error(
          fmt::format("encoded agent-config rules: rule #{} has severity {}", i + 1, severity));
    }
    r.severity = static_cast<Severity>(severity);
    r.files = in.List("files");
    r.key = in.String("key");
    r.value = in.String("value");
    r.line = in.String("line");
    const uint32_t hidden_text = in.U32("hidden_text");
    if (in.ok() && hidden_text > 1) {
      return Status::Error(fmt::format("encoded agent-config rules: rule #{} has hidden_text {}",
                                       i + 1, hidden_text));
    }
    r.hidden_text = hidden_text == 1;
    r.true_positives = TakeSamples(&in, "true_positives");
    r.false_positives = TakeSamples(&in, "false_positives");
    r.source = in.String("source");
    if (in.ok()) rules.push_back(std::move(r));
  }
  if (!in.ok()) {
    return Status::Error(
        fmt::format("encoded agent-config rules: rule #{}: {}", rules.size() + 1, in.error()));
  }
  if (in.remaining() != 0) {
    return Status::Error(fmt::format("encoded agent-config rules: {} bytes left after {} rules",
                                     in.remaining(), count));
  }
  return rules;
}

}  // namespace glassbox::scan
