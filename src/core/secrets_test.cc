#include "core/secrets.h"

#include <gtest/gtest.h>

#include <set>

namespace glassbox {
namespace {

std::shared_ptr<const SecretScanner> Builtin() {
  auto rules = BuiltinSecretRules();
  EXPECT_TRUE(rules.ok()) << rules.status().message();
  auto scanner = SecretScanner::Compile(std::move(rules.value()));
  EXPECT_TRUE(scanner.ok()) << scanner.status().message();
  return scanner.value();
}

std::vector<Finding> Scan(const SecretScanner& s, std::string_view text) {
  auto scratch = s.NewScratch();
  std::vector<Finding> out;
  EXPECT_TRUE(s.Scan(text, *scratch, &out).ok());
  return out;
}

// gitleaks-style: every rule's own samples are checked.
TEST(SecretRules, EveryRuleFindsItsTruePositivesAndNotItsFalsePositives) {
  auto scanner = Builtin();
  ASSERT_GE(scanner->rules().size(), 15u);
  for (const SecretRule& rule : scanner->rules()) {
    EXPECT_GE(rule.true_positives.size(), 1u) << rule.id << " has no true-positive samples";
    EXPECT_GE(rule.false_positives.size(), 1u) << rule.id << " has no false-positive samples";
    for (const std::string& tp : rule.true_positives) {
      bool found = false;
      for (const Finding& f : Scan(*scanner, tp)) found |= f.rule == rule.id;
      EXPECT_TRUE(found) << rule.id << " missed its true positive: " << tp;
    }
    for (const std::string& fp : rule.false_positives) {
      for (const Finding& f : Scan(*scanner, fp)) {
        EXPECT_NE(f.rule, rule.id) << rule.id << " fired on its false positive: " << fp;
      }
    }
  }
}

TEST(SecretRules, CoversTheProvidersTheIssueNames) {
  auto scanner = Builtin();
  std::set<std::string> ids;
  for (const SecretRule& r : scanner->rules()) ids.insert(r.id);
  for (const char* part : {"anthropic", "openai", "google", "aws", "github", "gitlab", "slack", "stripe",
                           "hugging", "npm", "private-key", "openssh", "jwt", "database", "generic"}) {
    bool any = false;
    for (const std::string& id : ids) any |= id.find(part) != std::string::npos;
    EXPECT_TRUE(any) << "no rule id contains '" << part << "'";
  }
}

TEST(SecretRules, DocumentedExampleKeyIsLow) {
  auto scanner = Builtin();
  auto found = Scan(*scanner, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n");
  ASSERT_FALSE(found.empty());
  for (const Finding& f : found) EXPECT_EQ(f.severity, Severity::kLow) << f.rule;
}

TEST(SecretRules, MessagesNeverHoldTheSecret) {
  auto scanner = Builtin();
  const std::string key = "ghp_Zq3vR8tYw2LmN4pXk7sB1dF6hJ9cV0aE5uGi";
  auto found = Scan(*scanner, "token: " + key + "\n");
  ASSERT_FALSE(found.empty());
  for (const Finding& f : found) {
    EXPECT_EQ(f.message.find(key), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find(key.substr(8, 20)), std::string::npos) << f.message;
  }
}

TEST(SecretRules, BadRuleFilesGetClearErrors) {
  auto r = ParseSecretRules("[[rule]]\nid = \"secret/x\"\ndescription = \"x\"\nregex = \"(\"\nkeywords=[\"x\"]\n",
                            "bad.toml");
  ASSERT_TRUE(r.ok());
  auto compiled = SecretScanner::Compile(std::move(r.value()));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("bad.toml"), std::string::npos);
  EXPECT_NE(compiled.status().message().find("secret/x"), std::string::npos);
  auto r2 = ParseSecretRules("[[rule]\n", "broken.toml");
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("broken.toml"), std::string::npos);
  auto r3 = ParseSecretRules("[[rule]]\nid = \"x\"\n", "noid.toml");
  ASSERT_FALSE(r3.ok());
}

TEST(Mask, ShowsOnlyTheEnds) {
  const std::string m = MaskSecret("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789");
  EXPECT_EQ(m.find("mnopqrstuv"), std::string::npos) << m;
  EXPECT_NE(m.find("chars"), std::string::npos);
  EXPECT_EQ(MaskSecret("-----BEGIN RSA PRIVATE KEY-----\nMIIE...").rfind("-----BEGIN RSA PRIVATE KEY-----", 0), 0u);
}

TEST(Entropy, Basics) {
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2.0);
}

}  // namespace
}  // namespace glassbox
