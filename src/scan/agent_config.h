// Agent-config rules: repository files that make a coding agent run
// commands, send its key elsewhere or obey hidden instructions when the
// repository is opened (Claude Code, Codex, Gemini CLI, Qwen Code, Cursor,
// VS Code, Continue, Windsurf, Cline, Copilot, dev containers, .envrc).
//
// Rules are data (rules/agent-config/*.toml, built into the binary). Files
// are parsed (JSON and JSONC with the core walker, TOML with toml++, YAML with
// libyaml's event parser) into key paths and values; nothing a
// file names is run or contacted. An AgentConfigScanner is immutable after
// Create() and may be shared between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/status.h"

namespace glassbox::scan {

struct AgentConfigSample {
  std::string file;  // a path such as ".claude/settings.json"
  std::string text;
};

struct AgentConfigRule {
  std::string id;           // "agent-config/claude-hook"
  std::string description;  // one line for the rule list
  std::string message;      // per finding; "{key}" and "{value}" are filled in
  Severity severity = Severity::kHigh;
  std::vector<std::string> files;  // globs on the path inside the repository
  // What to match; exactly one kind per rule:
  std::string key;  // structured files: '/'-separated globs over the key path, "**" any depth
  std::string
      value;  // with key: RE2 that the value must match (absent: any value, or the key itself)
  std::string line;          // text files: RE2 matched against each line
  bool hidden_text = false;  // the file carries hidden characters (from the unicode rules)
  std::vector<AgentConfigSample> true_positives;
  std::vector<AgentConfigSample> false_positives;
  std::string source;
};

Result<std::vector<AgentConfigRule>> ParseAgentConfigRules(std::string_view toml_text,
                                                           std::string_view source);
// The built-in rules (rules/agent-config/*.toml), decoded from the form that
// glassbox_agent_rulegen built into the binary.
Result<std::vector<AgentConfigRule>> BuiltinAgentConfigRules();
// The same rules parsed from the embedded TOML files (what the generator does).
Result<std::vector<AgentConfigRule>> ParseEmbeddedAgentConfigRules();
// The binary form of a rule list; decoding accepts exactly what encoding makes.
std::string EncodeAgentConfigRules(const std::vector<AgentConfigRule>& rules);
Result<std::vector<AgentConfigRule>> DecodeAgentConfigRules(std::string_view bytes);

class AgentConfigScanner {
 public:
  // check_regexes compiles every regex once now to report errors; the regexes
  // used for scanning are compiled on the first agent file a scan meets.
  static Result<std::shared_ptr<const AgentConfigScanner>> Create(
      std::vector<AgentConfigRule> rules, bool check_regexes = true);
  ~AgentConfigScanner();

  // True when some rule looks at this path (a cheap test on the name).
  bool Applies(std::string_view path) const;

  // Appends findings for `text`, the content of `path`. `unicode_findings`
  // are what the hidden-text detector found in the same text (for the
  // hidden-instructions rules). A file that fails to parse is reported as
  // agent-config/unparsable (it may be what the agent reads anyway).
  void Scan(std::string_view path, std::string_view text,
            const std::vector<Finding>& unicode_findings, std::vector<Finding>* out) const;

  const std::vector<AgentConfigRule>& rules() const;

  struct Impl;

 private:
  explicit AgentConfigScanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Matches a key path (segments) against a '/'-separated pattern of globs.
bool KeyPathMatches(std::string_view pattern, const std::vector<std::string>& segments);

}  // namespace glassbox::scan
