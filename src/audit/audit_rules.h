// The audit's rule data: environment probes, telemetry and remote-config SDK
// signatures, and the list heuristics, read from rules/audit/*.toml (built
// into the binary). Parsed and compiled once; immutable and shareable between
// threads afterwards.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/deobfuscate.h"
#include "core/finding.h"
#include "core/status.h"

namespace re2 {
class RE2;
}

namespace glassbox::audit {

struct ProbeRule {
  std::string name;  // rule id env-probe/<name>
  std::string what;  // "reads the time zone (…)"
  // Exactly one matcher is set (see rules/audit/probes.toml).
  std::string call;
  std::string property;
  std::shared_ptr<const re2::RE2> object_regex;
  std::shared_ptr<const re2::RE2> env_regex;
  std::shared_ptr<const re2::RE2> string_regex;
  // JavaScript that this entry must report as env-probe/<name>, and look-alike
  // code that must not be reported as env-probe/<name> at all. The rules
  // test (audit_rules_test.cc) analyses each; the analysis ignores them.
  std::vector<std::string> true_positives;
  std::vector<std::string> false_positives;
};

enum class SdkCategory { kTelemetry, kErrorReporting, kFeatureFlags, kRemoteConfig };
std::string_view SdkCategoryName(SdkCategory category);

struct SdkRule {
  std::string name;
  SdkCategory category = SdkCategory::kTelemetry;
  std::vector<std::string> markers;
  // Module text in which this SDK must be found, and text in which it must
  // not (checked by audit_rules_test.cc, like the probes' samples).
  std::vector<std::string> true_positives;
  std::vector<std::string> false_positives;
};

// Samples for a finding that the list data (`tlds`, `timezone_areas`,
// `min_list_items`, `prompt_markers`) decides, from a [[sample]] table:
// each true positive must give a `rule` finding of at least `min_severity`,
// no false positive may.
struct RuleSamples {
  std::string rule;  // "env-probe/hardcoded-list"
  Severity min_severity = Severity::kInfo;
  std::vector<std::string> true_positives;
  std::vector<std::string> false_positives;
};

struct AuditRules {
  std::vector<ProbeRule> probes;
  std::vector<SdkRule> sdks;
  ShapeData shapes;
  size_t min_list_items = 3;
  std::vector<std::string> prompt_markers;
  std::vector<RuleSamples> samples;
};

// Parses one rule file into *rules (appending). Errors name `source_name`
// and the entry.
Status ParseAuditRuleFile(std::string_view toml_text, std::string_view source_name,
                          AuditRules* rules);

// The rules shipped in the binary (rules/audit/*.toml). Fails only when a
// shipped file is broken.
Result<AuditRules> BuiltinAuditRules();

}  // namespace glassbox::audit
