// The analysis on the samples in tests/audit/samples: each sample states what
// must and must not be found in `// expect…` lines (behaviour as data, one
// runner), plus targeted tests of correlation, bounds and hostile input.
#include "audit/analysis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "audit/audit.h"
#include "audit/audit_diff.h"
#include "audit/audit_report.h"
#include "audit/test_analyzer.h"

namespace glassbox::audit {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasRule(const ModuleAnalysis& a, const std::string& rule) {
  return std::any_of(a.findings.begin(), a.findings.end(),
                     [&](const Finding& f) { return f.rule == rule; });
}

TEST(AuditSamples, EverySampleMeetsItsExpectations) {
  const std::filesystem::path dir =
      std::filesystem::path(GLASSBOX_SOURCE_DIR) / "tests/audit/samples";
  size_t samples = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".js") continue;
    ++samples;
    const std::string name = entry.path().filename().string();
    const std::string text = ReadFile(entry.path());
    const ModuleAnalysis a = TheAnalyzer().Analyze(text);
    size_t expectations = 0;
    std::istringstream lines(text);
    std::string line;
    static const std::regex kExpect(
        R"(^// (expect|expect-not|expect-decoded|expect-endpoint|expect-endpoint-ip|expect-not-ip|expect-chain|expect-no-chain|expect-via): (.+)$)");
    while (std::getline(lines, line)) {
      std::smatch m;
      if (!std::regex_match(line, m, kExpect)) continue;
      ++expectations;
      const std::string kind = m[1], arg = m[2];
      if (kind == "expect") {
        EXPECT_TRUE(HasRule(a, arg)) << name << ": no " << arg;
      } else if (kind == "expect-not") {
        for (const Finding& f : a.findings)
          EXPECT_NE(f.rule, arg) << name << ": unwanted " << f.message;
      } else if (kind == "expect-decoded") {
        const size_t bar = arg.find(" | ");
        ASSERT_NE(bar, std::string::npos) << name << ": " << line;
        const std::string encoding = arg.substr(0, bar), want = arg.substr(bar + 3);
        EXPECT_TRUE(std::any_of(
            a.decoded.begin(), a.decoded.end(),
            [&](const DecodedString& d) { return d.encoding == encoding && d.text == want; }))
            << name << ": " << want << " not decoded as " << encoding;
      } else if (kind == "expect-endpoint-ip") {
        // "address | reason": an endpoint of kind ip whose reason contains the text.
        const size_t bar = arg.find(" | ");
        ASSERT_NE(bar, std::string::npos) << name << ": " << line;
        const std::string ip = arg.substr(0, bar), reason = arg.substr(bar + 3);
        EXPECT_TRUE(std::any_of(a.endpoints.begin(), a.endpoints.end(),
                                [&](const EndpointRef& e) {
                                  return e.host == ip && e.kind == "ip" &&
                                         e.reason.find(reason) != std::string::npos;
                                }))
            << name << ": no ip endpoint " << ip << " for " << reason;
      } else if (kind == "expect-not-ip") {
        for (const EndpointRef& e : a.endpoints) {
          EXPECT_FALSE(e.kind == "ip" && e.host == arg)
              << name << ": " << arg << " is not an address (" << e.reason << ")";
        }
      } else if (kind == "expect-chain") {
        // One correlation whose chain names this step.
        EXPECT_TRUE(std::any_of(a.correlations.begin(), a.correlations.end(),
                                [&](const Correlation& c) {
                                  return std::any_of(c.chain.begin(), c.chain.end(),
                                                     [&](const std::string& step) {
                                                       return step.find(arg) != std::string::npos;
                                                     });
                                }))
            << name << ": no chain step with " << arg;
      } else if (kind == "expect-no-chain") {
        // No correlation names this text in any step.
        for (const Correlation& c : a.correlations) {
          for (const std::string& step : c.chain)
            EXPECT_EQ(step.find(arg), std::string::npos) << name << ": " << step;
        }
      } else if (kind == "expect-via") {
        EXPECT_TRUE(std::any_of(
            a.decoded.begin(), a.decoded.end(),
            [&](const DecodedString& d) { return d.via.find(arg) != std::string::npos; }))
            << name << ": no decoded string found via " << arg;
      } else {
        EXPECT_TRUE(std::any_of(a.endpoints.begin(), a.endpoints.end(),
                                [&](const EndpointRef& e) { return e.host == arg; }))
            << name << ": no endpoint " << arg;
      }
    }
    EXPECT_GT(expectations, 0u) << name << " states no expectations";
  }
  EXPECT_GE(samples, 10u);
}

TEST(AuditCorrelation, OneHighFindingNamesProbeListAndOutput) {
  const std::string js = R"(const os = require("os");
const RELAYS = ["relay-one.example.com", "relay-two.example.net", "relay-three.example.org"];
function pick() {
  const h = os.hostname();
  if (RELAYS.some((r) => h.endsWith(r))) {
    return "mode: relay";
  }
  return "mode: direct";
}
)";
  const ModuleAnalysis a = TheAnalyzer().Analyze(js);
  std::vector<const Finding*> high;
  for (const Finding& f : a.findings) {
    if (f.rule == "env-probe/environment-dependent-output") high.push_back(&f);
  }
  ASSERT_EQ(high.size(), 1u);
  EXPECT_EQ(high[0]->severity, Severity::kHigh);
  EXPECT_EQ(high[0]->line, 5u);
  EXPECT_NE(high[0]->message.find("at 4:13"), std::string::npos) << high[0]->message;  // the probe
  EXPECT_NE(high[0]->message.find("list of 3 domains"), std::string::npos) << high[0]->message;
  EXPECT_NE(high[0]->message.find("\"mode: relay\" at 6:12"), std::string::npos)
      << high[0]->message;
  ASSERT_EQ(a.correlations.size(), 1u);
  EXPECT_EQ(a.correlations[0].probe, "hostname");
  // The probe alone stays informational.
  for (const Finding& f : a.findings) {
    if (f.rule == "env-probe/hostname") {
      EXPECT_EQ(f.severity, Severity::kInfo);
    }
  }
}

TEST(AuditCorrelation, ProbeWithoutListOrOutputIsQuiet) {
  const ModuleAnalysis a = TheAnalyzer().Analyze(
      "function log(){ const tz = Intl.DateTimeFormat().resolvedOptions().timeZone; "
      "console.log(tz); }\n");
  EXPECT_TRUE(HasRule(a, "env-probe/timezone"));
  EXPECT_FALSE(HasRule(a, "env-probe/environment-dependent-output"));
  EXPECT_TRUE(a.correlations.empty());
}

TEST(AuditHostileInput, SyntaxErrorsAndDeepNestingDoNotCrash) {
  ModuleAnalysis a = TheAnalyzer().Analyze("function ( { [ \"unterminated");
  EXPECT_TRUE(a.has_syntax_errors);
  // Regression: libtree-sitter corrupted its heap freeing a tree nested
  // 65,536 deep.
  std::string deep(200000, '[');
  a = TheAnalyzer().Analyze(deep);
  EXPECT_FALSE(a.not_parsed.empty());
  a = TheAnalyzer().Analyze(std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_TRUE(a.not_parsed.empty());
  // Balanced but too deep: refused before the parser, with the reason.
  std::string parens = std::string(100000, '(') + "1" + std::string(100000, ')');
  a = TheAnalyzer().Analyze(parens);
  EXPECT_NE(a.not_parsed.find("nest deeper than"), std::string::npos) << a.not_parsed;
  EXPECT_TRUE(a.findings.empty());
  a = TheAnalyzer().Analyze("");
  EXPECT_TRUE(a.findings.empty());
  EXPECT_TRUE(a.not_parsed.empty());
  // Invalid UTF-8 in a literal, an escape past U+10FFFF and a lone
  // surrogate: parsed, the bad bytes reported where they stand, and the
  // escapes decode to nothing.
  a = TheAnalyzer().Analyze(std::string("\"\xff\xfe\x80\" + 'a\\u{110000}\\uD800'"));
  EXPECT_TRUE(a.not_parsed.empty()) << a.not_parsed;
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].rule, "unicode/invalid-encoding");
  EXPECT_EQ(a.findings[0].line, 1u);
  EXPECT_EQ(a.findings[0].column, 2u);
  EXPECT_NE(a.findings[0].message.find("3 invalid UTF-8 sequences"), std::string::npos)
      << a.findings[0].message;
  EXPECT_TRUE(a.decoded.empty());
}

TEST(AuditHostileInput, OutputIsBounded) {
  std::string js;
  for (int i = 0; i < 3000; ++i) js += "process.env.TZ_" + std::to_string(i) + "_BASE_URL;\n";
  AnalysisLimits limits;
  limits.max_findings_per_rule = 50;
  const ModuleAnalysis a = TheAnalyzer().Analyze(js, limits);
  size_t n = 0;
  for (const Finding& f : a.findings) n += f.rule == "env-probe/base-url-env";
  EXPECT_EQ(n, 50u);
}

Unpacked OneModuleForCaps(const std::string& path, const std::string& text) {
  Unpacked u;
  u.kind = "javascript";
  Module m;
  m.path = path;
  m.text = text;
  m.encoding = "utf8";
  m.container = "file";
  u.modules.push_back(m);
  return u;
}

// Issue 16: 5,000 decoy URLs or base64 strings hid the real one without a
// word. Past a cap the rest is counted and noted, a hidden endpoint takes the
// place of a plain one, and a more severe finding that of a less severe one.
TEST(AuditHostileInput, DecoysPastTheCapsAreNotedAndTheHiddenKept) {
  std::string js;
  for (int i = 0; i < 80; ++i)
    js += "const u" + std::to_string(i) + " = 'https://decoy" + std::to_string(i) + ".example/';\n";
  for (int i = 0; i < 80; ++i)
    js += "const b" + std::to_string(i) + " = atob('" +
          (i % 2 ? "ZGVjb3kuZXhhbXBsZQ==" : "ZGVjb3kub3Jn") + "');\n";
  js += "fetch(atob('aHR0cHM6Ly9leGZpbC5leGFtcGxlL3g='));\n";  // https://exfil.example/x
  AuditOptions options;
  options.analysis.max_endpoints = 50;
  options.analysis.max_decoded = 20;
  const AuditResult r = AuditUnpacked("m.js", OneModuleForCaps("m.js", js), TheAnalyzer(), options);
  EXPECT_EQ(r.endpoints.size(), 50u);
  EXPECT_TRUE(std::any_of(r.endpoints.begin(), r.endpoints.end(), [](const LocatedEndpoint& e) {
    return e.endpoint.url.find("exfil.example") != std::string::npos;
  })) << "the hidden endpoint is kept";
  EXPECT_EQ(r.decoded.size(), 20u);
  auto noted = [&](const std::string& needle) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(noted("m.js: endpoints: ")) << ::testing::PrintToString(r.notes);
  EXPECT_TRUE(noted(", 50 kept (hidden")) << ::testing::PrintToString(r.notes);
  EXPECT_TRUE(noted("m.js: decoded strings: ")) << ::testing::PrintToString(r.notes);
  EXPECT_TRUE(noted(", 20 kept")) << ::testing::PrintToString(r.notes);
}

TEST(AuditHostileInput, MostSevereFindingsOfARuleAreKept) {
  // 60 lone control bytes (low), then one terminal escape sequence (medium), same rule.
  std::string js;
  for (int i = 0; i < 60; ++i) js += "// a\x01b\n";
  js += "// \x1b[2Jc\n";
  AnalysisLimits limits;
  limits.max_findings_per_rule = 10;
  const ModuleAnalysis a = TheAnalyzer().Analyze(js, limits);
  size_t low = 0, medium = 0;
  for (const Finding& f : a.findings) {
    if (f.rule != "unicode/control-characters") continue;
    low += f.severity == Severity::kLow;
    medium += f.severity == Severity::kMedium;
  }
  EXPECT_EQ(low + medium, 10u);
  EXPECT_EQ(medium, 1u) << "the escape sequence past the cap is kept";
  EXPECT_TRUE(std::any_of(a.notes.begin(), a.notes.end(), [](const std::string& n) {
    return n.find("unicode/control-characters: 61 findings, 10 kept") != std::string::npos;
  })) << ::testing::PrintToString(a.notes);
  EXPECT_TRUE(std::is_sorted(
      a.findings.begin(), a.findings.end(),
      [](const Finding& x, const Finding& y) { return x.byte_offset < y.byte_offset; }));
}

Unpacked OneModule(const std::string& path, const std::string& text) {
  Unpacked u;
  u.kind = "javascript";
  Module m;
  m.path = path;
  m.text = text;
  m.encoding = "utf8";
  m.container = "file";
  u.modules.push_back(m);
  return u;
}

TEST(AuditDiffTest, ReportsWhatAppearedAndDisappeared) {
  const std::string v1 = "fetch('https://api.example.com/v1');\n";
  const std::string v2 =
      std::string("fetch('https://api.example.com/v1');\nconst os=require('os');\n") +
      "const L=['a.corp.example.com','b.corp.example.com','c.corp.example.com'];\n" +
      "function f(){ const h=os.hostname(); return L.includes(h) ? 'x-mode: b' : 'x-mode: a'; }\n" +
      "require('@sentry/node');\n";
  const AuditResult old_result = AuditUnpacked("v1.js", OneModule("v1.js", v1), TheAnalyzer());
  const AuditResult new_result = AuditUnpacked("v2.js", OneModule("v2.js", v2), TheAnalyzer());
  const AuditDiff diff = DiffAudits(old_result, new_result);
  auto added = [&](const std::string& category, const std::string& needle) {
    return std::any_of(diff.added.begin(), diff.added.end(), [&](const DiffItem& i) {
      return i.category == category && i.text.find(needle) != std::string::npos;
    });
  };
  EXPECT_TRUE(added("probe", "hostname"));
  EXPECT_TRUE(added("correlation", "hostname compared with a list of 3 domains"));
  EXPECT_TRUE(added("sdk", "Sentry"));
  EXPECT_TRUE(added("host", "a.corp.example.com"));
  EXPECT_TRUE(diff.removed.empty());
  EXPECT_TRUE(std::any_of(diff.new_findings.begin(), diff.new_findings.end(), [](const Finding& f) {
    return f.rule == "env-probe/environment-dependent-output";
  }));
  // Reversed, the same items disappear and nothing is new.
  const AuditDiff back = DiffAudits(new_result, old_result);
  EXPECT_EQ(back.removed.size(), diff.added.size());
  EXPECT_TRUE(back.new_findings.empty());
  std::ostringstream text;
  WriteDiffText(diff, false, text);
  EXPECT_NE(text.str().find("+ a.corp.example.com"), std::string::npos) << text.str();
}

// Regression for issue 14: a covert-marker chain that appears between two
// versions is one diff line, and the chain it names carries no positions.
TEST(AuditDiffTest, CovertMarkerChainAppearsAsOneLine) {
  const std::filesystem::path sample =
      std::filesystem::path(GLASSBOX_SOURCE_DIR) / "tests/audit/samples/issue_shape_bun.js";
  const std::string v2 = ReadFile(sample);
  // The earlier version: the same code, always the ASCII apostrophe.
  std::string v1 = v2;
  const size_t pick = v1.find("return d&&w?");
  ASSERT_NE(pick, std::string::npos);
  v1.replace(pick, v1.find('}', pick) - pick, "return\"'\"");
  const AuditResult old_result = AuditUnpacked("v1", OneModule("cli.js", v1), TheAnalyzer());
  const AuditResult new_result = AuditUnpacked("v2", OneModule("cli.js", v2), TheAnalyzer());
  const AuditDiff diff = DiffAudits(old_result, new_result);
  std::vector<const DiffItem*> chains;
  for (const DiffItem& i : diff.added) {
    if (i.category == "correlation") chains.push_back(&i);
  }
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_NE(
      chains[0]->text.find("covert marker: base-url-env compared with a hidden list of 4 domains"),
      std::string::npos)
      << chains[0]->text;
  EXPECT_EQ(chains[0]->text.find(":2"), std::string::npos) << "positions in " << chains[0]->text;
  EXPECT_TRUE(diff.removed.empty() ||
              std::none_of(diff.removed.begin(), diff.removed.end(),
                           [](const DiffItem& i) { return i.category == "correlation"; }));
  // The same module moved down by a line: no change.
  const AuditResult moved = AuditUnpacked("v2b", OneModule("cli.js", "\n" + v2), TheAnalyzer());
  const AuditDiff same = DiffAudits(new_result, moved);
  for (const DiffItem& i : same.added) EXPECT_NE(i.category, "correlation") << i.text;
  std::ostringstream text;
  WriteDiffText(diff, false, text);
  EXPECT_NE(text.str().find("+ covert marker: base-url-env"), std::string::npos) << text.str();
}

TEST(AuditReportTest, JsonCarriesDecodedStringsAndEndpoints) {
  const std::string js =
      "const h = atob('YW50aHJvcGljLmNvbQ=='); fetch('https://api.example.com/v1');\n";
  const AuditResult r = AuditUnpacked("m.js", OneModule("m.js", js), TheAnalyzer());
  std::ostringstream out;
  WriteAuditJson(r, "test", out);
  const std::string json = out.str();
  EXPECT_NE(
      json.find(
          R"("decoded_strings":[{"encoding":"base64","text":"anthropic.com","shape":"domain","location":"m.js:1:16")"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("endpoints":[)"), std::string::npos);
  EXPECT_NE(json.find(R"("url":"https://api.example.com/v1")"), std::string::npos) << json;
  std::ostringstream sarif;
  WriteAuditSarif(r, "test", sarif);
  EXPECT_NE(sarif.str().find(R"("ruleId":"obfuscation/decoded-string")"), std::string::npos);
}

}  // namespace
}  // namespace glassbox::audit
