#include "scan/scanner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace glassbox::scan {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "glassbox-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& rel, std::string_view content) const {
    const fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Scanner> Make(ScanOptions options = {}) {
  auto s = Scanner::Create(std::move(options));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s.value());
}

// Issue 15 item 3: the same bytes got HIGH in .cs and a lower severity under a name the
// extension table does not know; an unknown name has its content sniffed, so code-like
// content is judged as code whatever the file is called.
TEST(Scanner, SeverityOfUnknownExtensionFollowsTheContent) {
  TempDir dir;
  const std::string code =
      "import os\n"
      "var name = \"a\xE2\x80\x8B" "b\";\n"
      "class Foo {\n"
      "  return name;\n"
      "}\n";
  dir.Write("a.cs", code);
  dir.Write("b.unknownext", code);
  dir.Write("c.txt", "Plain prose that says hello.\nThe wo\xE2\x81\xA0rd joiner sits between letters.\nMore prose.\n");
  Report r = Make()->ScanPaths({dir.path()});
  std::map<std::string, Severity> by_file;
  for (const Finding& f : r.findings) {
    if (f.rule.rfind("unicode/", 0) == 0) by_file[fs::path(f.path).filename().string()] = f.severity;
  }
  ASSERT_EQ(by_file.count("a.cs"), 1u);
  ASSERT_EQ(by_file.count("b.unknownext"), 1u);
  EXPECT_EQ(by_file["b.unknownext"], by_file["a.cs"]);
  // a format character between ASCII letters in prose is at least low
  ASSERT_EQ(by_file.count("c.txt"), 1u);
  EXPECT_GE(by_file["c.txt"], Severity::kLow);
}

TEST(Scanner, WalksHiddenFoldersSkipsGitAndCountsBinaries) {
  TempDir dir;
  dir.Write(".claude/settings.json", "{\"x\": \"a\xE2\x80\x8B\"}");  // hidden folder: scanned
  dir.Write(".git/config", "\xF3\xA0\x81\x89");                      // .git: skipped
  dir.Write("bin.dat", std::string("\x00\x01\x02\xF3\xA0\x81\x89", 7));
  dir.Write("ok.txt", "fine\n");
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.files, 2u);
  EXPECT_EQ(r.stats.binary_skipped, 1u);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_NE(r.findings[0].path.find(".claude/settings.json"), std::string::npos);
  EXPECT_EQ(r.findings[0].line, 1u);
}

TEST(Scanner, HonoursGitignoreAndExcludes) {
  TempDir dir;
  ASSERT_EQ(std::system(("git init -q " + dir.path()).c_str()), 0);
  dir.Write(".gitignore", "ignored/\n*.log\n");
  dir.Write("ignored/a.txt", "\xE2\x80\xAE");
  dir.Write("x.log", "\xE2\x80\xAE");
  dir.Write("vendor/b.txt", "\xE2\x80\xAE");
  dir.Write("src/c.js", "\xE2\x80\xAE");
  ScanOptions o;
  o.excludes = {"vendor/**"};
  Report r = Make(o)->ScanPaths({dir.path()});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_NE(r.findings[0].path.find("src/c.js"), std::string::npos);
  o.respect_gitignore = false;
  o.excludes.clear();
  EXPECT_EQ(Make(o)->ScanPaths({dir.path()}).findings.size(), 4u);
}

TEST(Scanner, JsonlStringsAreDecodedAndNamedByRowAndPath) {
  TempDir dir;
  const std::string path = dir.Write("train.jsonl",
                                     "{\"text\":\"clean\"}\n"
                                     "{\"messages\":[{\"content\":\"hi \\udb40\\udc49\\udb40\\udc67\"}]}\n"
                                     "not json \xE2\x80\xAE\n");
  Report r = Make()->ScanPaths({path});
  EXPECT_EQ(r.stats.rows, 3u);
  ASSERT_GE(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].rule, "unicode/tag-characters");
  EXPECT_EQ(r.findings[0].row, 2u);
  EXPECT_EQ(r.findings[0].json_path, "$.messages[0].content");
  EXPECT_EQ(r.findings[0].decoded, "Ig");
  bool bad_row = false, bidi = false;
  for (const Finding& f : r.findings) {
    bad_row |= f.row == 3 && f.message.find("not valid JSON") != std::string::npos;
    bidi |= f.row == 3 && f.rule == "unicode/bidi-control";
  }
  EXPECT_TRUE(bad_row);
  EXPECT_TRUE(bidi) << "a malformed row must still be scanned as text";
}

TEST(Scanner, InlineIgnoreComments) {
  TempDir dir;
  const std::string path = dir.Write("a.js",
                                     "x = '\xE2\x80\x8B'; // glassbox:ignore unicode/invisible-characters\n"
                                     "// glassbox:ignore\n"
                                     "y = '\xE2\x80\xAE';\n"
                                     "z = '\xE2\x80\xAE'; // glassbox:ignore secret\n");
  Report r = Make()->ScanPaths({path});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].line, 4u);
}

TEST(Scanner, Utf16FilesAreDecoded) {
  TempDir dir;
  const std::string path = dir.Write("w.txt", std::string("\xFF\xFE" "a\x00\x0B\x20" "b\x00", 8));  // a ZWSP b
  Report r = Make()->ScanPaths({path});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].rule, "unicode/invisible-characters");
  EXPECT_EQ(r.findings[0].byte_offset, 4u);
}

TEST(Scanner, SecretsAreMaskedInSnippetsOfOtherFindings) {
  TempDir dir;
  const std::string key = "ghp_Zq3vR8tYw2LmN4pXk7sB1dF6hJ9cV0aE5uGi";
  const std::string path = dir.Write("c.sh", "export TOKEN=" + key + "\xE2\x80\x8B\n");
  Report r = Make()->ScanPaths({path});
  ASSERT_EQ(r.findings.size(), 2u);
  for (const Finding& f : r.findings) {
    EXPECT_EQ(f.snippet.find(key), std::string::npos) << f.rule << ": " << f.snippet;
    EXPECT_EQ(f.message.find(key), std::string::npos);
  }
}

TEST(Scanner, MissingInputIsAnErrorNamingIt) {
  Report r = Make()->ScanPaths({"/nonexistent/glassbox"});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("/nonexistent/glassbox"), std::string::npos);
}

}  // namespace
}  // namespace glassbox::scan
