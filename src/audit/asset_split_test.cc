// What the speed work must not lose: text assets are not parsed as code but
// still get their URLs, SDK markers and hidden characters; a module that
// cannot be parsed still gets its URLs; a large module parsed in pieces
// finds what lies in every piece, including after syntax the grammar does not
// know, and gives the same answers as the same code parsed whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "audit/analysis.h"
#include "audit/audit.h"
#include "audit/js_facts.h"
#include "audit/test_analyzer.h"

namespace glassbox::audit {
namespace {

bool HasRule(const std::vector<Finding>& findings, const std::string& rule) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return f.rule == rule; });
}
bool HasRulePrefix(const std::vector<Finding>& findings, const std::string& prefix) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return f.rule.rfind(prefix, 0) == 0; });
}
template <typename T>
bool HasHost(const std::vector<T>& endpoints, const std::string& host) {
  return std::any_of(endpoints.begin(), endpoints.end(), [&](const auto& e) {
    if constexpr (std::is_same_v<T, EndpointRef>) {
      return e.host == host;
    } else {
      return e.endpoint.host == host;
    }
  });
}

TEST(ModuleLanguage, ByFileName) {
  EXPECT_EQ(LanguageOfPath("/$bunfs/root/cli.js"), ModuleLanguage::kJavaScript);
  EXPECT_EQ(LanguageOfPath("package/dist/index.MJS"), ModuleLanguage::kJavaScript);
  EXPECT_EQ(LanguageOfPath("package/bin/claude"), ModuleLanguage::kJavaScript);  // scripts
  EXPECT_EQ(LanguageOfPath("package/dir.v2/run"), ModuleLanguage::kJavaScript);
  EXPECT_EQ(LanguageOfPath("pkg/claude!/$bunfs/root/types.ts"), ModuleLanguage::kJavaScript);
  EXPECT_EQ(LanguageOfPath("/$bunfs/root/pad-r0745wb9.txt"), ModuleLanguage::kText);
  EXPECT_EQ(LanguageOfPath("pkg/claude!/$bunfs/root/README-18458fac.md.zst"),
            ModuleLanguage::kText);
  EXPECT_EQ(LanguageOfPath("app.asar/index.html"), ModuleLanguage::kText);
  EXPECT_EQ(LanguageOfPath("package/package.json"), ModuleLanguage::kJson);
  EXPECT_EQ(LanguageOfPath("package/dist/cli.js.map"), ModuleLanguage::kSourceMap);
}

Module MakeModule(std::string path, std::string text) {
  Module m;
  m.path = std::move(path);
  m.text = std::move(text);
  m.encoding = "utf8";
  m.container = "bun-sea";
  return m;
}

TEST(TextAsset, GetsUrlsSdkMarkersAndHiddenCharactersButIsNotParsedAsCode) {
  Unpacked u;
  u.kind = "bun-sea";
  // Code-like text in a .txt asset: read as text, so no probe, no decoding,
  // and no "does not parse" note; its URL, SDK marker and zero-width space
  // still show.
  u.modules.push_back(MakeModule(
      "/$bunfs/root/prompt.txt",
      "Use the tool.\nconst z = Intl.DateTimeFormat().resolvedOptions().timeZone;\n"
      "Report to https://collect.hidden-example.com/v1 and browser-intake-datadoghq.com\n"
      "Be brief.\xE2\x80\x8B\n"));
  const AuditResult r = AuditUnpacked("t", u, TheAnalyzer());
  EXPECT_TRUE(HasHost(r.endpoints, "collect.hidden-example.com"));
  EXPECT_FALSE(HasRulePrefix(r.findings, "env-probe/")) << "a text asset is not code";
  EXPECT_TRUE(HasRulePrefix(r.findings, "unicode/")) << "the core detector runs on text assets";
  EXPECT_TRUE(std::any_of(r.sdks.begin(), r.sdks.end(),
                          [](const LocatedSdk& s) { return s.sdk.name == "Datadog"; }));
  for (const std::string& note : r.notes)
    EXPECT_EQ(note.find("do not parse"), std::string::npos) << note;
  ASSERT_FALSE(r.endpoints.empty());
  EXPECT_EQ(r.endpoints.front().location, "/$bunfs/root/prompt.txt:3:11");
}

TEST(DuplicateModules, AnalysedOnceReportedUnderEveryPath) {
  Unpacked u;
  u.kind = "directory";
  const std::string js = "fetch(\"https://dup.hidden-example.com/v1\");\n";
  u.modules.push_back(MakeModule("a/node_modules/x/index.js", js));
  u.modules.push_back(MakeModule("b/node_modules/x/index.js", js));
  u.modules.push_back(MakeModule("c/notes.txt", js));  // same text, read as an asset
  const AuditResult r = AuditUnpacked("t", u, TheAnalyzer());
  for (const char* path :
       {"a/node_modules/x/index.js", "b/node_modules/x/index.js", "c/notes.txt"}) {
    EXPECT_TRUE(std::any_of(r.endpoints.begin(), r.endpoints.end(), [&](const LocatedEndpoint& e) {
      return e.location.rfind(std::string(path) + ":1:", 0) == 0;
    })) << path;
    EXPECT_TRUE(std::any_of(r.findings.begin(), r.findings.end(), [&](const Finding& f) {
      return f.path == path && f.rule == "endpoint/host";
    })) << path;
  }
}

TEST(TextAsset, JsonStringsGiveBareHostsAndBrokenJsonStillGivesUrls) {
  const ModuleAnalysis json = TheAnalyzer().AnalyzeAsset(
      R"({"telemetry": {"host": "events.hidden-example.com", "url": "https://api.hidden-example.com/v1"}})",
      "config/settings.json");
  EXPECT_TRUE(HasHost(json.endpoints, "events.hidden-example.com"));
  EXPECT_TRUE(HasHost(json.endpoints, "api.hidden-example.com"));
  EXPECT_TRUE(HasRule(json.findings, "endpoint/host"));
  const ModuleAnalysis broken = TheAnalyzer().AnalyzeAsset(
      R"({"url": "https://api.hidden-example.com/v1", )", "config/broken.json");
  EXPECT_TRUE(HasHost(broken.endpoints, "api.hidden-example.com"));
}

TEST(UnparsedModule, StillGetsItsUrls) {
  // Nesting beyond the parser's bound: the module is not parsed at all.
  std::string js =
      "var u = \"https://deep.hidden-example.com/x\";\nvar a = " + std::string(20000, '[') +
      std::string(20000, ']') + ";\n";
  const ModuleAnalysis a = TheAnalyzer().Analyze(js);
  EXPECT_FALSE(a.not_parsed.empty());
  EXPECT_TRUE(HasHost(a.endpoints, "deep.hidden-example.com"));
}

// About 3 MB of top-level statements: parsed in pieces. What lies at the
// start, after a `using` declaration (unknown to the grammar, an error inside
// a function) and after a template literal that holds statement-like text
// must all be found, with the same positions as in a small module.
std::string Filler(size_t bytes) {
  std::string out;
  for (size_t n = 0; out.size() < bytes; ++n) {
    out += "function filler_" + std::to_string(n) +
           "(a, b) { const s = `tmpl ${a}\n;var not_a_statement = 1;\n`; " +
           "return [a, b, s, \"word" + std::to_string(n % 97) + "\"].join(\",\"); }\n";
  }
  return out;
}

// Input built to stall tree-sitter's error recovery (random punctuation took
// 25 s for 3 MB): past its budget the parse gives up, the module says why,
// and nothing else is lost; real code of the same size parses well inside it.
TEST(ParseBudget, HostileInputGivesUpWithAReasonCodeDoesNot) {
  std::string noise;
  uint32_t x = 12345;
  const std::string_view punct = "{}[]()<>;:,.?!=+-*/%&|^~'\"`\\#@$ab1 \n";
  while (noise.size() < 300000) {
    x = x * 1103515245u + 12345u;
    noise += punct[(x >> 16) % punct.size()];
  }
  const internal::JsFacts stalled =
      internal::GatherFacts(noise, TheAnalyzer().rules(), /*parse_budget_micros=*/1000);
  EXPECT_NE(stalled.not_parsed.find("gave up"), std::string::npos) << stalled.not_parsed;
  EXPECT_TRUE(stalled.strings.empty());
  const internal::JsFacts code = internal::GatherFacts(Filler(300000), TheAnalyzer().rules());
  EXPECT_TRUE(code.not_parsed.empty()) << code.not_parsed;
  EXPECT_FALSE(code.strings.empty());
  EXPECT_EQ(internal::DefaultParseBudgetMicros(3'000'000), 5'000'000u);
}

const char kProbe[] =
    "function pickTone() { const zone = Intl.DateTimeFormat().resolvedOptions().timeZone; "
    "return [\"Asia/Shanghai\", \"Asia/Urumqi\", \"Asia/Harbin\"].includes(zone) ? \"Use formal "
    "tone\" : \"ok\"; }\n";
const char kUsing[] = "async function useIt(h) { await using r = await h(); return r; }\n";
const char kHidden[] =
    "var hiddenHost = Buffer.from(\"dGVsZW1ldHJ5LmhpZGRlbi1leGFtcGxlLmNvbQ==\", "
    "\"base64\").toString();\n";

TEST(SplitParse, FindsWhatEveryPieceHoldsAsAWholeParseWould) {
  const std::string head =
      std::string(kHidden) + "var first = \"https://first.hidden-example.com/a\";\n";
  const std::string big = head + Filler(1200000) + kUsing + Filler(900000) + kProbe +
                          Filler(900000) + "var last = \"https://last.hidden-example.com/z\";\n";
  ASSERT_GT(big.size(), size_t{2} << 20);
  const ModuleAnalysis a = TheAnalyzer().Analyze(big);
  EXPECT_TRUE(a.not_parsed.empty());
  EXPECT_TRUE(a.has_syntax_errors) << "the using declaration is outside the grammar";
  EXPECT_TRUE(HasHost(a.endpoints, "first.hidden-example.com"));
  EXPECT_TRUE(HasHost(a.endpoints, "last.hidden-example.com"));
  EXPECT_TRUE(HasRule(a.findings, "env-probe/environment-dependent-output"));
  EXPECT_TRUE(std::any_of(a.decoded.begin(), a.decoded.end(), [](const DecodedString& d) {
    return d.text == "telemetry.hidden-example.com";
  }));

  // The correlation alone in a small module (parsed whole) reads the same,
  // shifted by where it sits in the big one.
  const ModuleAnalysis small = TheAnalyzer().Analyze(kProbe);
  ASSERT_EQ(small.correlations.size(), 1u);
  ASSERT_EQ(a.correlations.size(), 1u);
  EXPECT_EQ(a.correlations[0].against, small.correlations[0].against);
  EXPECT_EQ(a.correlations[0].output, small.correlations[0].output);
  EXPECT_EQ(a.correlations[0].position.byte_offset - big.find(kProbe),
            small.correlations[0].position.byte_offset);
  EXPECT_EQ(a.correlations[0].position.column, small.correlations[0].position.column);
}

TEST(SplitParse, SplitInsideUnbalancedCodeFallsBackToAWholeParse) {
  // A template literal spanning the would-be split points: the light lexer
  // keeps track of it, and whatever it decides, the probe after it is found.
  std::string big = "var t = `" + std::string(1500000, 'x') + "\n;var inside = 1;\n" +
                    std::string(1500000, 'y') + "`;\n" + kProbe;
  const ModuleAnalysis a = TheAnalyzer().Analyze(big);
  EXPECT_FALSE(a.has_syntax_errors);
  EXPECT_TRUE(HasRule(a.findings, "env-probe/environment-dependent-output"));
}

}  // namespace
}  // namespace glassbox::audit
