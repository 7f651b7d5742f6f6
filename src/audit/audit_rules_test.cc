// Every rule in rules/audit/ ships its own true and false samples (STYLE.md,
// habit 10): each true sample, analysed as a module, must give the rule's
// finding and each false sample must not. Probes and SDKs carry theirs in
// their own entries; the list data's findings in [[sample]] tables.
#include "audit/audit_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "audit/analysis.h"
#include "audit/test_analyzer.h"

namespace glassbox::audit {
namespace {

bool HasFinding(const ModuleAnalysis& a, const std::string& rule,
                Severity at_least = Severity::kInfo) {
  return std::any_of(a.findings.begin(), a.findings.end(), [&](const Finding& f) {
    return f.rule == rule && static_cast<int>(f.severity) >= static_cast<int>(at_least);
  });
}

bool HasSdk(const ModuleAnalysis& a, const std::string& name) {
  return std::any_of(a.sdks.begin(), a.sdks.end(), [&](const SdkHit& h) { return h.name == name; });
}

TEST(AuditRules, EveryProbeFindsItsTruePositivesAndNotItsFalsePositives) {
  const Analyzer& analyzer = TheAnalyzer();
  ASSERT_GE(analyzer.rules().probes.size(), 10u);
  size_t index = 0;
  for (const ProbeRule& rule : analyzer.rules().probes) {
    ++index;
    const std::string id = "env-probe/" + rule.name;
    const std::string entry = id + " (probe #" + std::to_string(index) + ": " + rule.what + ")";
    EXPECT_GE(rule.true_positives.size(), 1u) << entry << " has no true-positive samples";
    EXPECT_GE(rule.false_positives.size(), 1u) << entry << " has no false-positive samples";
    for (const std::string& tp : rule.true_positives) {
      EXPECT_TRUE(HasFinding(analyzer.Analyze(tp), id))
          << entry << " missed its true positive: " << tp;
    }
    for (const std::string& fp : rule.false_positives) {
      EXPECT_FALSE(HasFinding(analyzer.Analyze(fp), id))
          << entry << " fired on its false positive: " << fp;
    }
  }
}

TEST(AuditRules, EverySdkFindsItsTruePositivesAndNotItsFalsePositives) {
  const Analyzer& analyzer = TheAnalyzer();
  ASSERT_GE(analyzer.rules().sdks.size(), 10u);
  for (const SdkRule& sdk : analyzer.rules().sdks) {
    const bool remote =
        sdk.category == SdkCategory::kFeatureFlags || sdk.category == SdkCategory::kRemoteConfig;
    const std::string id =
        (remote ? "remote-config/" : "endpoint/") + std::string(SdkCategoryName(sdk.category));
    EXPECT_GE(sdk.true_positives.size(), 1u) << sdk.name << " has no true-positive samples";
    EXPECT_GE(sdk.false_positives.size(), 1u) << sdk.name << " has no false-positive samples";
    for (const std::string& tp : sdk.true_positives) {
      const ModuleAnalysis a = analyzer.Analyze(tp);
      EXPECT_TRUE(HasSdk(a, sdk.name) && HasFinding(a, id))
          << sdk.name << " missed its true positive: " << tp;
    }
    for (const std::string& fp : sdk.false_positives) {
      EXPECT_FALSE(HasSdk(analyzer.Analyze(fp), sdk.name))
          << sdk.name << " fired on its false positive: " << fp;
    }
  }
}

TEST(AuditRules, EveryListSampleMeetsItsRule) {
  const Analyzer& analyzer = TheAnalyzer();
  std::set<std::string> rules;
  for (const RuleSamples& s : analyzer.rules().samples) {
    rules.insert(s.rule);
    const std::string entry =
        s.rule + " (at least " + std::string(SeverityName(s.min_severity)) + ")";
    EXPECT_GE(s.true_positives.size(), 1u) << entry << " has no true-positive samples";
    EXPECT_GE(s.false_positives.size(), 1u) << entry << " has no false-positive samples";
    for (const std::string& tp : s.true_positives) {
      EXPECT_TRUE(HasFinding(analyzer.Analyze(tp), s.rule, s.min_severity))
          << entry << " missed its true positive: " << tp;
    }
    for (const std::string& fp : s.false_positives) {
      EXPECT_FALSE(HasFinding(analyzer.Analyze(fp), s.rule, s.min_severity))
          << entry << " fired on its false positive: " << fp;
    }
  }
  // What lists.toml decides: list findings (min_list_items, timezone_areas,
  // tlds), bare host names (tlds) and look-alikes near prompt text
  // (prompt_markers).
  for (const char* rule :
       {"env-probe/hardcoded-list", "endpoint/host", "unicode/lookalike-from-code"}) {
    EXPECT_EQ(rules.count(rule), 1u) << "no [[sample]] table for " << rule;
  }
}

// Found by the rules' own false samples: the timezone probe's string_regex
// took any string that starts with "timedatectl " (a message naming the
// tool) for a run of it.
TEST(AuditRules, RegressionTimedatectlNamedInAMessageIsNotATimezoneProbe) {
  const Analyzer& analyzer = TheAnalyzer();
  EXPECT_FALSE(HasFinding(analyzer.Analyze("throw new Error(\"timedatectl is not installed\");"),
                          "env-probe/timezone"));
  EXPECT_TRUE(
      HasFinding(analyzer.Analyze("execSync(\"timedatectl status\");"), "env-probe/timezone"));
}

// Found the same way: the Datadog marker "dd-trace" matched inside any
// "add-trace"; it now needs the module name quoted or in a path.
TEST(AuditRules, RegressionAddTraceIsNotDatadog) {
  const Analyzer& analyzer = TheAnalyzer();
  EXPECT_FALSE(
      HasSdk(analyzer.Analyze("const h = { \"x-add-trace\": 1 }; // add-trace"), "Datadog"));
  EXPECT_TRUE(HasSdk(analyzer.Analyze("import tracer from 'dd-trace';"), "Datadog"));
  EXPECT_TRUE(
      HasSdk(analyzer.Analyze("require(\"/app/node_modules/dd-trace/index.js\");"), "Datadog"));
}

TEST(AuditRules, SampleTablesAreCheckedWhenParsed) {
  AuditRules rules;
  EXPECT_TRUE(ParseAuditRuleFile(
                  "[[sample]]\nrule = \"endpoint/host\"\ntrue_positives = ['\"a.example.com\"']\n"
                  "false_positives = ['\"a.txt\"']\n",
                  "ok.toml", &rules)
                  .ok());
  ASSERT_EQ(rules.samples.size(), 1u);
  EXPECT_EQ(rules.samples[0].true_positives.size(), 1u);
  const Status no_rule =
      ParseAuditRuleFile("[[sample]]\ntrue_positives = ['x']\n", "bad.toml", &rules);
  EXPECT_FALSE(no_rule.ok());
  EXPECT_NE(no_rule.message().find("bad.toml: sample #1"), std::string::npos) << no_rule.message();
  const Status bad_severity = ParseAuditRuleFile(
      "[[sample]]\nrule = \"endpoint/host\"\nmin_severity = \"loud\"\n", "bad.toml", &rules);
  EXPECT_FALSE(bad_severity.ok());
  EXPECT_NE(bad_severity.message().find("loud"), std::string::npos) << bad_severity.message();
  const Status not_strings = ParseAuditRuleFile(
      "[[probe]]\nname = \"x\"\nwhat = \"y\"\ncall = \"z\"\n"
      "true_positives = [1]\n",
      "bad.toml", &rules);
  EXPECT_FALSE(not_strings.ok());
  EXPECT_NE(not_strings.message().find("true_positives"), std::string::npos)
      << not_strings.message();
}

}  // namespace
}  // namespace glassbox::audit
