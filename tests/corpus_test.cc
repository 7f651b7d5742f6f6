// Runs the labelled corpus (tests/corpus/*.toml): every case's findings at
// low severity or above must be exactly its `expect` list, and `decoded`,
// when given, must appear in a finding's decoded text. `clean` and `scan`
// must agree on every case: what clean leaves scans clean, a legitimate case
// (expect = []) comes out of clean unchanged, and `clean`, when given, is
// the exact text clean must produce.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/hidden_text.h"
#include "core/report.h"
#include "scan/clean.h"
#include "scan/scanner.h"

namespace glassbox {
namespace {

struct Case {
  std::string file;
  std::string name;
  std::string path;
  std::string text;
  std::vector<std::string> expect;
  std::string decoded;
  std::optional<std::string> clean;
};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  const std::filesystem::path dir = std::filesystem::path(GLASSBOX_SOURCE_DIR) / "tests" / "corpus";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    toml::table root = toml::parse_file(entry.path().string());
    for (const toml::node& n : *root["case"].as_array()) {
      const toml::table& t = *n.as_table();
      Case c;
      c.file = entry.path().filename().string();
      c.name = t["name"].value_or(std::string());
      c.path = t["path"].value_or(std::string("input.txt"));
      c.text = t["text"].value_or(std::string());
      c.decoded = t["decoded"].value_or(std::string());
      if (auto v = t["clean"].value<std::string>()) c.clean = *v;
      for (const toml::node& e : *t["expect"].as_array())
        c.expect.push_back(e.value_or(std::string()));
      std::sort(c.expect.begin(), c.expect.end());
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

TEST(Corpus, EveryCaseReportsExactlyItsExpectation) {
  scan::ScanOptions options;
  options.min_severity = Severity::kLow;
  options.inline_suppression = false;
  auto scanner = scan::Scanner::Create(options);
  ASSERT_TRUE(scanner.ok()) << scanner.status().message();
  const std::vector<Case> cases = LoadCases();
  ASSERT_GE(cases.size(), 40u);
  size_t failures = 0;
  for (const Case& c : cases) {
    std::vector<Finding> findings;
    ReportStats stats;
    scanner.value()->ScanBuffer(c.text, c.path, &findings, &stats);
    std::vector<std::string> got;
    bool decoded_found = c.decoded.empty();
    for (const Finding& f : findings) {
      got.push_back(f.rule + "@" + std::string(SeverityName(f.severity)));
      if (!c.decoded.empty() && f.decoded.find(c.decoded) != std::string::npos)
        decoded_found = true;
    }
    std::sort(got.begin(), got.end());
    if (got != c.expect || !decoded_found) {
      ++failures;
      std::string g, e;
      for (const auto& s : got) g += s + " ";
      for (const auto& s : c.expect) e += s + " ";
      ADD_FAILURE() << c.file << ": \"" << c.name << "\"\n  expected: [" << e << "]\n  got:      ["
                    << g << "]"
                    << (decoded_found ? "" : "\n  decoded text \"" + c.decoded + "\" not found");
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << cases.size() << " corpus cases";
}

TEST(Corpus, CleanAndScanAgreeOnEveryCase) {
  for (const Case& c : LoadCases()) {
    const TextKind kind = TextKindFor(c.path, c.text);
    scan::CleanOptions options;
    options.json = JsonSyntaxForPath(c.path);
    const scan::CleanResult r = scan::CleanText(c.text, kind, options);
    if (c.expect.empty()) {
      EXPECT_EQ(r.text, c.text) << c.file << ": \"" << c.name
                                << "\": clean changed a legitimate text";
    }
    if (c.clean) {
      EXPECT_EQ(r.text, *c.clean) << c.file << ": \"" << c.name << "\"";
    }
    // What clean leaves, scan does not ask to clean.
    std::vector<Finding> left;
    const HiddenTextDetector detector;
    detector.Scan(r.text, TextContext{kind, true}, &left);
    detector.ScanJsonEscapes(r.text, options.json, &left);
    for (const Finding& f : left) {
      for (const Fix& x : f.fixes) {
        EXPECT_FALSE(CleanApplies(x, options.policy))
            << c.file << ": \"" << c.name << "\": " << f.rule << " still has a fix after clean";
      }
    }
  }
}

}  // namespace
}  // namespace glassbox
