// Runs the labelled corpus (tests/corpus/*.toml): every case's findings at
// low severity or above must be exactly its `expect` list, and `decoded`,
// when given, must appear in a finding's decoded text.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "core/report.h"
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
      for (const toml::node& e : *t["expect"].as_array()) c.expect.push_back(e.value_or(std::string()));
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
      if (!c.decoded.empty() && f.decoded.find(c.decoded) != std::string::npos) decoded_found = true;
    }
    std::sort(got.begin(), got.end());
    if (got != c.expect || !decoded_found) {
      ++failures;
      std::string g, e;
      for (const auto& s : got) g += s + " ";
      for (const auto& s : c.expect) e += s + " ";
      ADD_FAILURE() << c.file << ": \"" << c.name << "\"\n  expected: [" << e << "]\n  got:      [" << g << "]"
                    << (decoded_found ? "" : "\n  decoded text \"" + c.decoded + "\" not found");
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << cases.size() << " corpus cases";
}

}  // namespace
}  // namespace glassbox
