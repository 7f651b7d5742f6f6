// Secret detection: rules as data (rules/secrets/*.toml), compiled once.
//
// Every rule's keywords go into one Vectorscan literal database (caseless);
// a rule's RE2 regex runs only in a window around a line where one of its own
// keywords occurred (gitleaks-style keyword gating). A SecretScanner is
// immutable after Compile() and may be shared; each thread needs its own
// SecretScratch. Vectorscan and RE2 types stay inside secrets.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/status.h"

namespace re2 {
class StringPiece;
}

namespace glassbox {

struct SecretRule {
  std::string id;           // "secret/anthropic-api-key"
  std::string description;  // "Anthropic API key"
  Severity severity = Severity::kHigh;
  // Literals gating the regex: one must occur near a match. All-lower-case
  // keywords match in any case; one with an upper-case letter matches as written.
  std::vector<std::string> keywords;
  std::string regex;       // RE2 syntax
  int secret_group = 0;    // capture group with the secret; 0 = whole match
  double entropy = 0;      // minimum Shannon entropy (bits/char) of the secret
  bool multiline = false;  // the secret may span lines (PEM blocks)
  // Optional cheap regex that must match somewhere in a window before the
  // rule runs there (for rules whose keywords are common words).
  std::string prefilter;
  std::vector<std::string> examples;  // documented example values, reported as low
  // Case-insensitive words that mark a match as no secret when they occur in
  // the secret or in the name it is assigned to ("NextToken", "example").
  std::vector<std::string> stopwords;
  std::vector<std::string> true_positives;
  std::vector<std::string> false_positives;
  std::string source;  // the file the rule came from
};

// Parses one TOML rule file. Errors name `source_name`, the rule and the field.
Result<std::vector<SecretRule>> ParseSecretRules(std::string_view toml_text,
                                                 std::string_view source_name);

// The rule files built into the binary (the repository's rules/secrets/).
struct EmbeddedFile {
  std::string_view name;
  std::string_view text;
};
const std::vector<EmbeddedFile>& EmbeddedSecretRuleFiles();

// All built-in rules, parsed. Fails only if a shipped file is broken.
// Decoded from the build-time form (BuiltinPrecompiledRules) when there is one.
Result<std::vector<SecretRule>> BuiltinSecretRules();

// The built-in rules and their Vectorscan database, prepared at build time by
// glassbox_rulegen (core/rulegen.cc), so that start-up parses no TOML and
// compiles no database. All three are empty inside glassbox_rulegen itself.
struct PrecompiledRules {
  std::string_view rules;     // EncodeSecretRules() of the built-in rules
  std::string_view db_key;    // SecretScanner::database_key() of the database
  std::string_view database;  // SecretScanner::SerializeDatabase() output
};
const PrecompiledRules& BuiltinPrecompiledRules();

// A compact binary form of a rule list, for the build-time cache above.
// Decoding checks every length and fails with a reason on damaged input.
std::string EncodeSecretRules(const std::vector<SecretRule>& rules);
Result<std::vector<SecretRule>> DecodeSecretRules(std::string_view bytes);

// Shows the start and the end of a secret, never the middle:
// "sk-ant-api0…(108 chars)…Q2". Short secrets show almost nothing.
std::string MaskSecret(std::string_view secret);

// The RE2 pattern with every counted repeat "{n,m}" opened to "{n,}" (outside
// escapes, \Q...\E and character classes). It matches wherever the pattern
// does, and compiles to far fewer instructions when the caps are large.
std::string WithoutRepeatCaps(std::string_view pattern);

// Shannon entropy in bits per byte.
double ShannonEntropy(std::string_view s);

class SecretScratch {
 public:
  ~SecretScratch();
  struct Impl;
  explicit SecretScratch(std::unique_ptr<Impl> impl);
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class SecretScanner {
 public:
  // kEager compiles and checks every regex now (rules from users: errors are
  // reported here). kLazy compiles each regex the first time its keywords
  // occur (the built-in rules, which the tests check).
  enum class CompileMode { kEager, kLazy };
  static Result<std::shared_ptr<const SecretScanner>> Compile(
      std::vector<SecretRule> rules, CompileMode mode = CompileMode::kEager);
  // As Compile(kLazy), but the gates' prefilters also go into the Vectorscan
  // database, which makes scanning faster and compiling far slower (~0.3 s for
  // the built-in rules). glassbox_rulegen does this once, at build time, and
  // Compile() loads its result for the built-in rule set.
  static Result<std::shared_ptr<const SecretScanner>> CompileForPrecompiling(
      std::vector<SecretRule> rules);
  ~SecretScanner();

  // Per-thread scratch space; not shareable between threads.
  std::unique_ptr<SecretScratch> NewScratch() const;

  // Appends secret findings in `text` (byte offsets of the secret itself,
  // message with the masked value). Fails only on an engine error.
  Status Scan(std::string_view text, SecretScratch& scratch, std::vector<Finding>* out) const;

  const std::vector<SecretRule>& rules() const;

  // What the keyword database is built from (keywords, their case modes and
  // the prefilters Vectorscan checks), as one string: a database serialized
  // for an equal key can stand in for compiling one.
  const std::string& database_key() const;
  // The compiled keyword database in Vectorscan's serialized form.
  Result<std::string> SerializeDatabase() const;
  // True when Compile() loaded BuiltinPrecompiledRules().database instead of
  // compiling (the rule set matched and the database suits this CPU).
  bool used_precompiled_database() const;

  struct Impl;

 private:
  explicit SecretScanner(std::unique_ptr<Impl> impl);
  static Result<std::shared_ptr<const SecretScanner>> CompileImpl(std::vector<SecretRule> rules,
                                                                  CompileMode mode,
                                                                  bool hs_prefilters);
  // Runs rule r's regex over `piece` (a window of `text`), appending findings.
  void MatchRule(size_t r, std::string_view text, re2::StringPiece piece,
                 std::vector<re2::StringPiece>* groups, SecretScratch::Impl* scratch,
                 std::vector<Finding>* out) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox
