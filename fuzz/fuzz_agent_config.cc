// Fuzzes the agent-config parsers (JSON/JSONC, TOML, YAML, text rules) through
// AgentConfigScanner::Scan. Byte 0 picks the settings file the bytes pretend
// to be; the rest is its content. Every finding must point inside the input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/hidden_text.h"
#include "fuzz_check.h"
#include "scan/agent_config.h"

namespace {

const glassbox::scan::AgentConfigScanner& TheScanner() {
  static const std::shared_ptr<const glassbox::scan::AgentConfigScanner> scanner = [] {
    auto rules = glassbox::scan::BuiltinAgentConfigRules();
    FUZZ_CHECK(rules.ok(), "rules: %s", rules.status().message().c_str());
    auto created = glassbox::scan::AgentConfigScanner::Create(std::move(rules.value()));
    FUZZ_CHECK(created.ok(), "create: %s", created.status().message().c_str());
    return created.value();
  }();
  return *scanner;
}

const char* const kNames[] = {".claude/settings.json",
                              ".codex/config.toml",
                              ".continue/config.yaml",
                              "AGENTS.md",
                              ".vscode/tasks.json",
                              ".mcp.json",
                              ".envrc"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheScanner();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 15)) return -1;
  const std::string path = kNames[data[0] % 7];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<glassbox::Finding> unicode;
  glassbox::HiddenTextDetector().Scan(text, glassbox::TextContext{glassbox::TextKind::kProse, true},
                                      &unicode);
  std::vector<glassbox::Finding> out;
  TheScanner().Scan(path, text, unicode, &out);
  for (const glassbox::Finding& f : out) {
    FUZZ_CHECK(f.byte_offset <= text.size(), "offset %llu past %zu",
               static_cast<unsigned long long>(f.byte_offset), text.size());
    FUZZ_CHECK(f.byte_offset + f.byte_length <= text.size(), "range past the end");
    FUZZ_CHECK(!f.rule.empty() && !f.message.empty(), "empty finding");
  }
  return 0;
}
