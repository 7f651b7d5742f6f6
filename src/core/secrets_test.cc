#include "core/secrets.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
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
  for (const char* part :
       {"anthropic", "openai", "google", "aws", "github", "gitlab", "slack", "stripe", "hugging",
        "npm", "private-key", "openssh", "jwt", "database", "generic"}) {
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
  auto r = ParseSecretRules(
      "[[rule]]\nid = \"secret/x\"\ndescription = \"x\"\nregex = \"(\"\nkeywords=[\"x\"]\n",
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
  // An empty keyword (found by fuzz_secret_rules: the keyword database read
  // the byte before it) is refused by name.
  auto r4 = ParseSecretRules(
      "[[rule]]\nid = \"secret/e\"\ndescription = \"e\"\nregex = \"k-[0-9]+\"\nkeywords = [\"k-\", "
      "\"\"]\n",
      "empty.toml");
  ASSERT_TRUE(r4.ok()) << r4.status().message();
  auto empty_keyword = SecretScanner::Compile(std::move(r4.value()));
  ASSERT_FALSE(empty_keyword.ok());
  EXPECT_NE(empty_keyword.status().message().find("empty.toml: rule secret/e: keyword 2 is empty"),
            std::string::npos)
      << empty_keyword.status().message();
}

// The build-time form of the rules is the rule files, field for field.
TEST(PrecompiledRules, DecodeToTheRuleFiles) {
  std::vector<SecretRule> parsed;
  for (const EmbeddedFile& file : EmbeddedSecretRuleFiles()) {
    auto rules = ParseSecretRules(file.text, file.name);
    ASSERT_TRUE(rules.ok()) << rules.status().message();
    for (SecretRule& r : rules.value()) parsed.push_back(std::move(r));
  }
  auto builtin = BuiltinSecretRules();
  ASSERT_TRUE(builtin.ok()) << builtin.status().message();
  ASSERT_EQ(builtin->size(), parsed.size());
  EXPECT_EQ(EncodeSecretRules(builtin.value()), EncodeSecretRules(parsed));
  EXPECT_FALSE(BuiltinPrecompiledRules().rules.empty());
}

TEST(PrecompiledRules, DatabaseLoadsForTheBuiltinRulesOnly) {
  auto scanner = Builtin();
  EXPECT_TRUE(scanner->used_precompiled_database());
  EXPECT_EQ(scanner->database_key(), BuiltinPrecompiledRules().db_key);
  // Any other rule set compiles its own database.
  auto rules = BuiltinSecretRules();
  ASSERT_TRUE(rules.ok());
  rules->pop_back();
  auto fewer = SecretScanner::Compile(std::move(rules.value()), SecretScanner::CompileMode::kLazy);
  ASSERT_TRUE(fewer.ok()) << fewer.status().message();
  EXPECT_FALSE(fewer.value()->used_precompiled_database());
  EXPECT_NE(fewer.value()->database_key(), scanner->database_key());
}

TEST(PrecompiledRules, DamagedEncodingIsAnErrorAtEveryLength) {
  auto rules = BuiltinSecretRules();
  ASSERT_TRUE(rules.ok());
  rules->resize(3);
  const std::string bytes = EncodeSecretRules(rules.value());
  auto back = DecodeSecretRules(bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(EncodeSecretRules(back.value()), bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto cut = DecodeSecretRules(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(cut.ok()) << "decoded a prefix of " << n << " bytes";
  }
  EXPECT_FALSE(DecodeSecretRules(bytes + "x").ok());
  std::string huge_count = bytes;
  huge_count[8] = '\xff';  // the rule count's low byte
  huge_count[11] = '\x7f';
  EXPECT_FALSE(DecodeSecretRules(huge_count).ok());
}

// Prefilters that Vectorscan also checks only skip windows where RE2 could
// not match: findings equal those of the same rules with every prefilter
// left to RE2 alone (an optional "(?:^)?" keeps the meaning and rules Vectorscan
// out), on generated lines full of near misses, non-ASCII look-alikes included.
TEST(PrecompiledRules, VectorscanPrefiltersChangeNoFinding) {
  auto scanner = Builtin();
  auto rules = BuiltinSecretRules();
  ASSERT_TRUE(rules.ok());
  size_t with_prefilter = 0;
  for (SecretRule& r : rules.value()) {
    if (r.prefilter.empty()) continue;
    r.prefilter = "(?:^)?" + r.prefilter;
    ++with_prefilter;
  }
  ASSERT_GT(with_prefilter, 0u);
  auto plain = SecretScanner::Compile(std::move(rules.value()), SecretScanner::CompileMode::kLazy);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  const std::vector<std::string> pieces = {"secret",
                                           "Token",
                                           "PASSWORD",
                                           "api_key",
                                           "auth",
                                           "pwd",
                                           "_",
                                           "-",
                                           ".",
                                           "=",
                                           ":",
                                           ":=",
                                           " ",
                                           "\t",
                                           "\"",
                                           "'",
                                           "`",
                                           "]",
                                           "x",
                                           "Q",
                                           "7",
                                           "42",
                                           "a1B2c3D4e5F6g7H8",
                                           "9f3a61c07be2d458e1c94a7f0b36d2e5",
                                           "\xc5\xbf",
                                           "\xe2\x80\x8b",
                                           "\n",
                                           "\r\n",
                                           "/",
                                           "+",
                                           "~",
                                           "!@#*^",
                                           "=>"};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t nonempty = 0;
  for (int doc = 0; doc < 3000; ++doc) {
    std::string text;
    const size_t n = 4 + next() % 40;
    for (size_t k = 0; k < n; ++k) text += pieces[next() % pieces.size()];
    auto a = Scan(*scanner, text);
    auto b = Scan(*plain.value(), text);
    ASSERT_EQ(a.size(), b.size()) << text;
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].rule, b[k].rule) << text;
      EXPECT_EQ(a[k].byte_offset, b[k].byte_offset) << text;
      EXPECT_EQ(a[k].byte_length, b[k].byte_length) << text;
    }
    nonempty += a.empty() ? 0 : 1;
  }
  EXPECT_GT(nonempty, 100u);  // the generator does reach the rules
}

// The generic rules' shared prefilter gained '^' in a character class
// ("[...!@#*^]") and the textual check took it for an anchor: the build-time
// database silently lost every prefilter, and each generic window went to RE2.
TEST(PrecompiledRules, RegressionScanspeed_CaretInAClassKeepsThePrefilterInVectorscan) {
  EXPECT_NE(BuiltinPrecompiledRules().db_key.find("\nP"), std::string_view::npos)
      << "the built-in database holds no Vectorscan prefilter";
  auto with = [](std::string prefilter) {
    SecretRule r;
    r.id = "secret/test";
    r.keywords = {"token"};
    r.regex = "token=[a-z0-9]{8,}";
    r.prefilter = std::move(prefilter);
    auto s = SecretScanner::CompileForPrecompiling({r});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() && s.value()->database_key().find("\nP") != std::string::npos;
  };
  // Characters, not anchors: in a class, escaped, a negated class, POSIX names.
  EXPECT_TRUE(with("token=[a-z^$]*[0-9]"));
  EXPECT_TRUE(with("token=\\^?\\$?[0-9]"));
  EXPECT_TRUE(with("token=[^ ]*[0-9]"));
  EXPECT_TRUE(with("token=[]^x]*[0-9]"));
  EXPECT_TRUE(with("token=[[:alpha:]^]*[0-9]"));
  // Anchors and word boundaries mean the window's edges: RE2 alone checks them.
  EXPECT_FALSE(with("^token=[0-9]"));
  EXPECT_FALSE(with("token=[0-9]$"));
  EXPECT_FALSE(with("(?:^)?token=[0-9]"));
  EXPECT_FALSE(with("[a-z]^token=[0-9]"));
  EXPECT_FALSE(with("\\btoken=[0-9]"));
  EXPECT_FALSE(with("token=[0-9]\\z"));
  EXPECT_FALSE(with("token=[0-9"));  // unreadable
}

TEST(WithoutRepeatCaps, OpensCountedRepeatsOnly) {
  EXPECT_EQ(WithoutRepeatCaps("a{8,200}b"), "a{8,}b");
  EXPECT_EQ(WithoutRepeatCaps("x{2,5}?y{3}z{4,}"),
            "x{2,}?y{3}z{4,}");  // exact and open repeats stay
  EXPECT_EQ(WithoutRepeatCaps("(?:ab){1,9}[0-9]{10,20}"), "(?:ab){1,}[0-9]{10,}");
  // Escapes, character classes and \Q...\E quotes hold no repeats.
  EXPECT_EQ(WithoutRepeatCaps(R"(\{1,2}[{1,2}]\Q{1,2}\E{1,2})"), R"(\{1,2}[{1,2}]\Q{1,2}\E{1,})");
  EXPECT_EQ(WithoutRepeatCaps("[]{1,2}]{3,4}"), "[]{1,2}]{3,}");  // a leading ']' is in the class
  EXPECT_EQ(WithoutRepeatCaps("[^]{1,2}]{3,4}"), "[^]{1,2}]{3,}");
  EXPECT_EQ(WithoutRepeatCaps("[[:alpha:]{1,2}]{3,4}"), "[[:alpha:]{1,2}]{3,}");
  EXPECT_EQ(WithoutRepeatCaps(R"([\]{1,2}]{3,4})"),
            R"([\]{1,2}]{3,})");  // an escaped ']' does not close it
  // Not repeats: RE2 reads these braces as characters.
  EXPECT_EQ(WithoutRepeatCaps("a{,5}b{x,3}c{1,d}e{"), "a{,5}b{x,3}c{1,d}e{");
  EXPECT_EQ(WithoutRepeatCaps(R"(trailing\)"), R"(trailing\)");
}

// The capless check is a fast path in front of the rule's regex: a window it
// rejects is never given to the regex. That is only sound if the capless
// regex matches wherever the regex does: checked for every built-in rule on
// its own samples, cut and grown around the caps, and on random text.
TEST(WithoutRepeatCaps, MatchesWhereverTheRuleMatches) {
  auto rules = BuiltinSecretRules();
  ASSERT_TRUE(rules.ok());
  std::mt19937 rng(20261207);
  const std::string alphabet = "aZ09+/=_-.~!@#$%^&*<>\"'` :\n\t{}()[]é\xe2\x80\x8bkK";
  auto random_text = [&](size_t n) {
    std::string t;
    for (size_t k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
    return t;
  };
  size_t rules_checked = 0;
  for (const SecretRule& rule : rules.value()) {
    const std::string capless = WithoutRepeatCaps(rule.regex);
    if (capless == rule.regex) continue;
    ++rules_checked;
    RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(rule.multiline);
    const RE2 re(rule.regex, options);
    const RE2 open(capless, options);
    ASSERT_TRUE(re.ok() && open.ok()) << rule.id;
    std::vector<std::string> inputs;
    for (const std::string& sample : rule.true_positives) {
      inputs.push_back(sample);
      for (size_t cut = 1; cut < sample.size(); cut += 1 + sample.size() / 16) {
        inputs.push_back(sample.substr(0, cut));  // cut short
        inputs.push_back(sample.substr(0, cut) +
                         std::string(300, sample[cut]));  // grown past the caps
        inputs.push_back(sample.substr(0, cut) + random_text(rng() % 260) + sample.substr(cut));
      }
    }
    for (const std::string& sample : rule.false_positives) inputs.push_back(sample);
    for (int k = 0; k < 200; ++k) inputs.push_back(random_text(rng() % 400));
    for (const std::string& input : inputs) {
      if (RE2::PartialMatch(input, re)) {
        EXPECT_TRUE(RE2::PartialMatch(input, open)) << rule.id << " on " << input;
      }
    }
  }
  EXPECT_GE(rules_checked, 20u);
}

TEST(Mask, ShowsOnlyTheEnds) {
  const std::string m = MaskSecret("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789");
  EXPECT_EQ(m.find("mnopqrstuv"), std::string::npos) << m;
  EXPECT_NE(m.find("chars"), std::string::npos);
  EXPECT_EQ(MaskSecret("-----BEGIN RSA PRIVATE KEY-----\nMIIE...")
                .rfind("-----BEGIN RSA PRIVATE KEY-----", 0),
            0u);
}

TEST(Entropy, Basics) {
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2.0);
}

}  // namespace
}  // namespace glassbox
