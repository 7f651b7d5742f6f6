// Analyzer: the static analysis of one JavaScript module (see docs/audit.md).
// It parses the module once with tree-sitter and reports, as Findings in the
// families env-probe, obfuscation, endpoint, remote-config and unicode:
//   - environment probes (time zone, locale, host and user names, network
//     interfaces, machine ids, proxy and base-URL variables), each info;
//   - strings decoded natively (base64, hex, char codes, XOR with keys found
//     in the code, rotated string arrays) that read as text, and the lists
//     they and plain literals form (domains, time zones);
//   - endpoints (URLs and host names) and telemetry / error-reporting /
//     feature-flag / remote-config SDKs;
//   - look-alike and invisible characters hidden behind escapes or built by
//     code, high when near prompt text, plus the core hidden-text detector
//     on the raw text;
//   - correlations: a probed value compared with a list or constant that
//     picks an output string or branch, one high finding naming all three.
// An Analyzer is immutable after Create() and may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_rules.h"
#include "core/finding.h"
#include "core/report.h"
#include "core/status.h"

namespace glassbox::audit {

struct Position {
  uint64_t byte_offset = 0;
  uint64_t line = 0;    // 1-based
  uint64_t column = 0;  // 1-based, in code points
};

struct DecodedString {
  std::string encoding;  // "base64+xor(0x5b)", "charcodes", "string-array(rotate 3)"
  std::string text;
  std::string shape;  // "domain", "timezone", "url", "email", "path", "text"
  Position position;
  std::string list;  // "line:column" of the list it belongs to, or ""
  // How it was found: for an evaluated decoder call, the decoder and the
  // constants it used ("dec 3:10, k 1:5"); for a key search, the key and
  // where it came from. "" for a plain decoding.
  std::string via;
};

struct EndpointRef {
  std::string url;  // a URL, or a bare host name
  std::string host;
  Position position;
  bool hidden = false;       // found only in a decoded string
  std::string kind = "url";  // "url", "host" (a bare host name) or "ip" (an address literal)
  std::string
      reason;  // for kind "ip": why it looks like an endpoint ("HTTPDNS", "DoH", "socket", …)
};

struct SdkHit {
  std::string name;      // "Sentry"
  std::string category;  // "error-reporting"
  std::string marker;    // what matched
  Position position;
};

// A probe compared with a list or constant that picks an output: the
// summary that `--diff` compares between versions.
struct Correlation {
  std::string probe;    // "timezone"
  std::string against;  // "list of 4 time zones: Asia/Shanghai, …" or "\"corp.example\""
  std::string output;   // "\"Use ʼ apostrophes\"" or "branch"
  Position position;
  // "environment-dependent-output", or "covert-marker" when the output is a
  // choice between look-alike variants of one string.
  std::string kind = "environment-dependent-output";
  // Every step of the chain in order, each naming its location
  // ("reads process.env.ANTHROPIC_BASE_URL (host) in baseHost at 12:3", …).
  std::vector<std::string> chain;
};

struct ModuleAnalysis {
  // Line, column and snippet are set; path is left to the caller.
  std::vector<Finding> findings;
  std::vector<DecodedString> decoded;
  std::vector<EndpointRef> endpoints;
  std::vector<SdkHit> sdks;
  std::vector<Correlation> correlations;
  std::vector<std::string> probes;  // distinct probe kinds read ("timezone", …)
  bool has_syntax_errors = false;
  std::string not_parsed;  // why the module could not be parsed, or ""
  // Limits reached and what was kept ("endpoints: 12,000 found, 5,000 kept,
  // hidden and one per host first"): every cap leaves a note.
  std::vector<std::string> notes;
  uint64_t decoder_calls = 0;  // decoder call sites evaluated
};

// Bounds per module, so hostile input gives bounded output.
struct AnalysisLimits {
  size_t max_decoded = 5000;
  size_t max_endpoints = 5000;
  size_t max_findings_per_rule = 1000;
  // Decoder evaluation: steps per call site, and for the whole module.
  uint64_t max_eval_steps_per_call = 200'000;
  uint64_t max_eval_steps_per_module = 60'000'000;
};

// How the audit reads a module, decided by its file name (the part after the
// last '/' or '!'): JavaScript (.js, .mjs, .cjs, .jsx, .ts, .tsx, .mts, .cts,
// or no extension: scripts and entry points) is parsed; JSON and every other
// text asset (.txt, .md, .html, .css, .svg, .sh, …) gets the asset checks of
// Analyzer::AnalyzeAsset and is never parsed as code; source maps are
// skipped, since they repeat the sources they map.
enum class ModuleLanguage : uint8_t { kJavaScript, kJson, kText, kSourceMap };
ModuleLanguage LanguageOfPath(std::string_view path);
inline bool IsJsonAsset(std::string_view path) {
  return LanguageOfPath(path) == ModuleLanguage::kJson;
}

class Analyzer {
 public:
  static Result<std::unique_ptr<Analyzer>> Create();  // the built-in rules
  static Result<std::unique_ptr<Analyzer>> Create(AuditRules rules);
  ~Analyzer();

  // Analyses one module of UTF-8 JavaScript. Never fails: what does not
  // parse is skipped (has_syntax_errors says so).
  ModuleAnalysis Analyze(std::string_view js, const AnalysisLimits& limits = {}) const;

  // An asset that is not JavaScript (see LanguageOfPath; `path` picks JSON
  // and the text kind): endpoints (for JSON, in every string value, bare
  // host names included; otherwise URLs in the raw text), SDK markers and
  // the core hidden-text detector on the raw text. Linear time; never
  // parses code.
  ModuleAnalysis AnalyzeAsset(std::string_view text, std::string_view path,
                              const AnalysisLimits& limits = {}) const;

  // For native binaries with no JavaScript: endpoints, SDK markers and string
  // probes among printable strings. `offsets` are the strings' file offsets.
  ModuleAnalysis AnalyzeStrings(const std::vector<std::string_view>& strings,
                                const std::vector<uint64_t>& offsets,
                                const AnalysisLimits& limits = {}) const;

  const AuditRules& rules() const { return rules_; }

  // Every rule id the analysis can report, for SARIF and `glassbox help`.
  static const std::vector<RuleInfo>& RuleInfos();

 private:
  explicit Analyzer(AuditRules rules);
  AuditRules rules_;
  struct SdkDatabase;
  std::unique_ptr<SdkDatabase> sdk_db_;
};

}  // namespace glassbox::audit
