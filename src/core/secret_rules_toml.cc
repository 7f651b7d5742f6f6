// Parsing of rules/secrets/*.toml with toml++. Kept in its own file: toml++
// is slow to compile. Debian's build of it reports parse errors as
// exceptions; they are caught here and become Status values.
#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/secrets.h"
#include "core/toml_strings.h"

namespace glassbox {

Result<std::vector<SecretRule>> ParseSecretRules(std::string_view toml_text,
                                                 std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& err) {
    return Status::Error(fmt::format("{}:{}:{}: invalid TOML: {}", source_name,
                                     err.source().begin.line, err.source().begin.column,
                                     err.description()));
  }
  std::vector<SecretRule> rules;
  const toml::array* list = root["rule"].as_array();
  if (list == nullptr) return Status::Error(fmt::format("{}: no [[rule]] tables", source_name));
  size_t index = 0;
  for (const toml::node& node : *list) {
    ++index;
    const toml::table* t = node.as_table();
    std::string where = fmt::format("{}: rule #{}", source_name, index);
    if (t == nullptr) return Status::Error(where + ": not a table");
    SecretRule rule;
    rule.source = std::string(source_name);
    rule.id = (*t)["id"].value_or(std::string());
    const bool known_family = (rule.id.rfind("secret/", 0) == 0 && rule.id.size() > 7) ||
                              (rule.id.rfind("provenance/", 0) == 0 && rule.id.size() > 11);
    if (!known_family) {
      return Status::Error(where + ": 'id' must look like \"secret/name\" or \"provenance/name\"");
    }
    where = fmt::format("{}: rule {}", source_name, rule.id);
    rule.description = (*t)["description"].value_or(std::string());
    if (rule.description.empty()) return Status::Error(where + ": 'description' is missing");
    rule.regex = (*t)["regex"].value_or(std::string());
    if (rule.regex.empty()) return Status::Error(where + ": 'regex' is missing");
    const std::string sev = (*t)["severity"].value_or(std::string("high"));
    if (!ParseSeverity(sev, &rule.severity)) {
      return Status::Error(fmt::format("{}: unknown severity '{}'", where, sev));
    }
    const int64_t group = (*t)["secret_group"].value_or(int64_t{0});
    if (group < 0 || group > 64)
      return Status::Error(fmt::format("{}: secret_group {} is out of range", where, group));
    rule.secret_group = static_cast<int>(group);
    rule.entropy = (*t)["entropy"].value_or(0.0);
    if (const auto* e = (*t)["entropy"].as_integer()) rule.entropy = static_cast<double>(e->get());
    rule.multiline = (*t)["multiline"].value_or(false);
    rule.prefilter = (*t)["prefilter"].value_or(std::string());
    for (auto [key, field] :
         {std::pair{"keywords", &rule.keywords}, std::pair{"examples", &rule.examples},
          std::pair{"stopwords", &rule.stopwords},
          std::pair{"true_positives", &rule.true_positives},
          std::pair{"false_positives", &rule.false_positives}}) {
      Status s = ReadTomlStrings(t->get(key), key, where, field);
      if (!s.ok()) return s;
    }
    if (rule.keywords.empty())
      return Status::Error(where + ": 'keywords' must list at least one literal");
    rules.push_back(std::move(rule));
  }
  return rules;
}

Result<std::vector<SecretRule>> BuiltinSecretRules() {
  // The build-time form, when this binary has one (glassbox_rulegen does not).
  const PrecompiledRules& pre = BuiltinPrecompiledRules();
  if (!pre.rules.empty()) return DecodeSecretRules(pre.rules);
  std::vector<SecretRule> all;
  for (const EmbeddedFile& file : EmbeddedSecretRuleFiles()) {
    auto parsed = ParseSecretRules(file.text, file.name);
    if (!parsed.ok()) return parsed.status();
    for (SecretRule& r : parsed.value()) all.push_back(std::move(r));
  }
  return all;
}

}  // namespace glassbox
