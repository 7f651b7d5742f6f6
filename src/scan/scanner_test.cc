#include "scan/scanner.h"

#include "scan/content.h"
#include "scan/file_source.h"

#include "core/utf.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <random>

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
      "var name = \"a\xE2\x80\x8B"
      "b\";\n"
      "class Foo {\n"
      "  return name;\n"
      "}\n";
  dir.Write("a.cs", code);
  dir.Write("b.unknownext", code);
  dir.Write("c.txt",
            "Plain prose that says hello.\nThe wo\xE2\x81\xA0rd joiner sits between letters.\nMore "
            "prose.\n");
  Report r = Make()->ScanPaths({dir.path()});
  std::map<std::string, Severity> by_file;
  for (const Finding& f : r.findings) {
    if (f.rule.rfind("unicode/", 0) == 0)
      by_file[fs::path(f.path).filename().string()] = f.severity;
  }
  ASSERT_EQ(by_file.count("a.cs"), 1u);
  ASSERT_EQ(by_file.count("b.unknownext"), 1u);
  EXPECT_EQ(by_file["b.unknownext"], by_file["a.cs"]);
  // a format character between ASCII letters in prose is at least low
  ASSERT_EQ(by_file.count("c.txt"), 1u);
  EXPECT_GE(by_file["c.txt"], Severity::kLow);
}

// The walking thread scans a batch itself whenever 32 batches are queued,
// and drains the queue with the workers at the end: with 600 files in 30
// folders the queue fills, so every way the files reach a scanning thread is
// taken. Any number of jobs must give the same report as one.
TEST(Scanner, EveryJobCountScansEveryFileOnce) {
  TempDir dir;
  for (int d = 0; d < 30; ++d) {
    for (int f = 0; f < 20; ++f) {
      const std::string body = f % 5 == 0 ? "id = \"a\xE2\x80\x8B"
                                            "b\";\n"
                                          : "plain text\n";
      dir.Write("d" + std::to_string(d) + "/f" + std::to_string(f) + ".py", body);
    }
  }
  auto scan = [&](unsigned jobs) {
    ScanOptions o;
    o.jobs = jobs;
    Report r = Make(o)->ScanPaths({dir.path()});
    std::vector<std::string> found;
    for (const Finding& f : r.findings) found.push_back(f.path + " " + f.rule);
    return std::make_pair(r.stats.files, found);
  };
  const auto one = scan(1);
  EXPECT_EQ(one.first, 600u);
  EXPECT_EQ(one.second.size(), 120u);
  for (unsigned jobs : {2u, 3u, 8u}) EXPECT_EQ(scan(jobs), one) << jobs << " jobs";
}

TEST(Scanner, WalksHiddenFoldersSkipsGitAndCountsBinaries) {
  TempDir dir;
  dir.Write(".claude/settings.json", "{\"x\": \"a\xE2\x80\x8B\"}");  // hidden folder: scanned
  dir.Write(".git/config", "\xF3\xA0\x81\x89");                      // .git: skipped
  dir.Write("bin.dat", std::string("\x00\x01\x02\xF3\xA0\x81\x89", 7));
  dir.Write("ok.txt", "fine\n");
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.files, 3u);  // the binary is searched by a strings pass, and counted
  EXPECT_EQ(r.stats.binary_files, 1u);
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
  const std::string path =
      dir.Write("train.jsonl",
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
  const std::string path =
      dir.Write("a.js",
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
  const std::string path = dir.Write("w.txt", std::string("\xFF\xFE"
                                                          "a\x00\x0B\x20"
                                                          "b\x00",
                                                          8));  // a ZWSP b
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

// Issue 16: one NUL byte in a leading comment made a text file "binary", and
// the scan skipped it with exit 0.
const std::string kAnthropicKey =
    "sk-ant-api03-O8OTw7a4fMZJZGL7xPVtL1wdt4V5jFauBaCzSXiMcQwINV2_"
    "PfMw2dNTmeBg1lPEe9hXaYITChKpMSJ3ojPvRY4pxOPoTAA";
const std::string kTags =
    "\xF3\xA0\x81\x89\xF3\xA0\x81\xA7\xF3\xA0\x81\xAE\xF3\xA0\x81\xAF";  // "Igno" in tags

bool Has(const Report& r, std::string_view rule) {
  for (const Finding& f : r.findings) {
    if (f.rule == rule) return true;
  }
  return false;
}

TEST(Scanner, NulInLeadingCommentDoesNotHideTextFiles) {
  TempDir dir;
  dir.Write("AGENTS.md", std::string("<!-- \0 -->\nBe helpful.", 22) + kTags + "\n");
  dir.Write(".env", std::string("# \0\nANTHROPIC_API_KEY=", 22) + kAnthropicKey + "\n");
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.binary_files, 0u);
  EXPECT_TRUE(Has(r, "unicode/tag-characters"));
  EXPECT_TRUE(Has(r, "secret/anthropic-api-key"));
}

TEST(Scanner, FewStrayBytesInAnUnnamedFileAreStillText) {
  TempDir dir;
  std::string text(4000, 'a');
  text[10] = '\0';
  text[20] = '\x01';
  text[30] = '\xFF';
  text += "\xE2\x80\xAE tail\n";
  dir.Write("notes", text);
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.binary_files, 0u);
  EXPECT_TRUE(Has(r, "unicode/bidi-control"));
  // The stray bytes themselves are reported.
  EXPECT_TRUE(Has(r, "unicode/invalid-encoding"));
  EXPECT_TRUE(Has(r, "unicode/control-characters"));
}

TEST(Scanner, RealBinariesGetAStringsPass) {
  TempDir dir;
  std::string blob;
  for (int i = 0; i < 4096; ++i) blob += static_cast<char>(i * 7 % 256 == 10 ? 0 : (i * 7) % 32);
  blob += "key=" + kAnthropicKey + std::string(1, '\0');
  blob += "note: " + kTags + " end" + std::string(3, '\0');
  blob += std::string(4096, '\0');
  dir.Write("blob.bin", blob);
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.binary_files, 1u);
  ASSERT_TRUE(Has(r, "secret/anthropic-api-key"));
  ASSERT_TRUE(Has(r, "unicode/tag-characters"));
  for (const Finding& f : r.findings) {
    EXPECT_EQ(f.line, 0u) << f.rule;
    EXPECT_NE(f.message.find("binary"), std::string::npos) << f.message;
    EXPECT_EQ(f.snippet.find(kAnthropicKey), std::string::npos) << "masked";
    if (f.rule == "secret/anthropic-api-key") {
      EXPECT_EQ(f.byte_offset, 4096u + 4u);
    }
  }
}

TEST(Scanner, Utf16WithoutByteOrderMarkIsDecoded) {
  TempDir dir;
  std::string le;
  for (char c : std::string("hello world, this is text")) le += std::string{c, '\0'};
  le += std::string("\x0B\x20", 2);  // U+200B
  for (char c : std::string(" and more")) le += std::string{c, '\0'};
  dir.Write("w.dat", le);
  Report r = Make()->ScanPaths({dir.path()});
  EXPECT_EQ(r.stats.binary_files, 0u);
  ASSERT_TRUE(Has(r, "unicode/invisible-characters"));
}

TEST(Content, ClassifiesByNameAndStrayBytes) {
  EXPECT_EQ(ClassifyContent("a.js", std::string(100, '\0')), ContentKind::kUtf8Text);
  EXPECT_EQ(ClassifyContent("x", std::string(100, '\0')), ContentKind::kBinary);
  EXPECT_EQ(ClassifyContent("x", std::string(1000, 'a') + std::string(10, '\0')),
            ContentKind::kUtf8Text);
  EXPECT_EQ(ClassifyContent("x", std::string(1000, 'a') + std::string(100, '\0')),
            ContentKind::kBinary);
  EXPECT_EQ(ClassifyContent("x",
                            "\x7F"
                            "ELF" +
                                std::string(200, '\0')),
            ContentKind::kBinary);
}

// The stray-byte count reads eight printable bytes at a time: a stray byte
// counts wherever it falls in a word, and the bytes next to the printable
// range (0x1F, 0x7F) are stray while 0x20, 0x7E, white space and UTF-8 are not.
TEST(Content, StrayBytesCountAtEveryOffset) {
  for (unsigned char stray : {0x01, 0x1F, 0x7F, 0xFF, 0x80}) {
    for (size_t phase = 0; phase < 8; ++phase) {
      std::string text(3200, 'a');
      for (size_t k = 0; k < text.size(); ++k) {
        static const char kFill[] = {'a', ' ', '~', 'Z', '\n', '\t', '\r', '0'};
        text[k] = kFill[(k * 5) % 8];
      }
      text.replace(40, 2, "\xC3\xA9");  // UTF-8: not stray
      // 100 stray bytes in 3,200 is the limit (1 in 32); one more is binary.
      for (size_t n = 0; n < 100; ++n) text[64 + phase + n * 31] = static_cast<char>(stray);
      EXPECT_EQ(ClassifyContent("x", text), ContentKind::kUtf8Text)
          << int{stray} << " phase " << phase;
      text[3190] = static_cast<char>(stray);
      EXPECT_EQ(ClassifyContent("x", text), ContentKind::kBinary)
          << int{stray} << " phase " << phase;
    }
  }
}

// internal::StrayBytes skips 16 text bytes at a time: it must count what
// a byte-at-a-time walk counts, on random samples of printable ASCII, white
// space, every control byte, DEL, valid and invalid UTF-8 (overlong, cut,
// lone continuation bytes), at every length around the block, and with a
// sequence cut by the end of a full kClassifyBytes sample.
TEST(Content, StrayBytesBlockSkipMatchesAPlainWalk) {
  auto reference = [](std::string_view sample) {
    const auto* p = reinterpret_cast<const unsigned char*>(sample.data());
    size_t stray = 0;
    for (size_t i = 0; i < sample.size();) {
      if ((p[i] >= 0x20 && p[i] < 0x7F) || p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
        ++i;
        continue;
      }
      size_t len = 0;
      const int32_t cp = utf::DecodeOne(p + i, sample.size() - i, &len);
      const bool cut =
          cp == utf::kInvalidCodePoint && i + 4 > sample.size() && sample.size() == kClassifyBytes;
      // As ClassifyContent's StrayControl: an invalid code point (-1) counts
      // here too, so a cut sequence is stray after all (kept as it is).
      const bool control =
          cp == 0x7F || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\v' && cp != '\f' &&
                         cp != '\r' && cp != 0x1B && cp != 0x07 && cp != 0x08);
      if ((cp == utf::kInvalidCodePoint && !cut) || control) stray += len;
      i += len;
    }
    return stray;
  };
  std::mt19937 rng(32);
  const std::vector<std::string> pieces = {"a",
                                           "Z ~",
                                           "\n",
                                           "\t",
                                           "\r",
                                           "\x7F",
                                           "\x1B[0m",
                                           "\x01",
                                           "\x0B",
                                           "\xC3\xA9",
                                           "\xE2\x80\x8B",
                                           "\xF0\x9F\x98\x80",
                                           "\xC0\xAF",
                                           "\x80",
                                           "\xE2\x80",
                                           "\xFF",
                                           "0123456789abcdef"};
  for (int round = 0; round < 4000; ++round) {
    std::string sample;
    for (size_t k = rng() % 60; k > 0; --k) sample += pieces[rng() % pieces.size()];
    ASSERT_EQ(internal::StrayBytes(sample), reference(sample)) << sample;
  }
  for (const std::string& tail : {std::string("\xE2\x80"), std::string("\xF0\x9F\x98"),
                                  std::string("\xC3"), std::string("\x01")}) {
    std::string full(kClassifyBytes - tail.size(), 'a');
    full += tail;
    EXPECT_EQ(internal::StrayBytes(full), reference(full));
  }
}

TEST(Content, StringsPassKeepsOffsets) {
  std::string out;
  const std::string in = std::string("ab\0abcd\0\xFF", 9) + "xyz\xE2\x80\x8Bw";
  StringsPass(in, false, &out);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out.substr(0, 3), "\n\n\n");
  EXPECT_EQ(out.substr(3, 4), "abcd");
  EXPECT_EQ(out.substr(9), "xyz\xE2\x80\x8Bw");
}

// Issue 16: findings on one long line cost the line's length each (47.6 s
// for 4 MB of invalid UTF-8 on one line). Checks the numbers the linear
// locator gives on a line long enough to span several windows.
TEST(Scanner, LongLineSpanningWindowsIsLocatedExactly) {
  const size_t n = kWindowBytes * 2 + kOverlapBytes * 3;
  std::string text(n, 'a');
  text[5] = '\n';  // line 2 starts at 6
  const std::string zwsp = "\xE2\x80\x8B";
  const std::vector<size_t> at = {100, kWindowBytes - 1, kWindowBytes + 5, 2 * kWindowBytes - 2,
                                  n - 10};
  for (size_t a : at) text.replace(a, 3, zwsp);
  std::vector<Finding> found;
  ReportStats stats;
  std::vector<std::string> notes;
  Make()->ScanBuffer(text, "long.txt", &found, &stats, &notes);
  EXPECT_EQ(stats.bytes, n);
  std::vector<Finding> zw;
  for (Finding& f : found) {
    if (f.rule == "unicode/invisible-characters") zw.push_back(f);
  }
  ASSERT_EQ(zw.size(), at.size());
  for (size_t k = 0; k < at.size(); ++k) {
    EXPECT_EQ(zw[k].byte_offset, at[k]);
    EXPECT_EQ(zw[k].line, 2u);
    // Column in code points from offset 6: each earlier ZWSP is one code point for three bytes.
    EXPECT_EQ(zw[k].column, at[k] - 6 - 2 * k + 1) << k;
  }
}

// The per-rule cap keeps the most severe findings and says what it left out.
TEST(Scanner, PerRuleCapKeepsTheMostSevereAndNotesTheRest) {
  std::string rows;
  for (int i = 0; i < 12000; ++i) rows += "{\"t\":\"a\\u0001b\"}\n";
  rows += "{\"t\":\"a\\u001b[31mred\"}\n";
  std::vector<Finding> found;
  ReportStats stats;
  std::vector<std::string> notes;
  Make()->ScanBuffer(rows, "d.jsonl", &found, &stats, &notes);
  size_t controls = 0;
  bool escape_kept = false;
  for (const Finding& f : found) {
    if (f.rule != "unicode/control-characters") continue;
    ++controls;
    escape_kept |= f.row == 12001 && f.severity == Severity::kMedium;
  }
  EXPECT_EQ(controls, 10000u);
  EXPECT_TRUE(escape_kept);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("2001 more unicode/control-characters findings"), std::string::npos)
      << notes[0];
}

TEST(Scanner, FifoIsRefusedNotWaitedOn) {
  TempDir dir;
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Report r = Make()->ScanPaths({fifo});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("FIFO"), std::string::npos) << r.errors[0];
}

// One open per file: Load reads (or maps, from 1 MiB) the descriptor that
// OpenRegular checked, which keeps O_NONBLOCK; the bytes are the file's.
TEST(FileSource, LoadReadsTheOpenedFileSmallAndMapped) {
  TempDir dir;
  for (const size_t size : {size_t{0}, size_t{5}, size_t{70000}, (size_t{1} << 20) + 3}) {
    std::string content(size, 'x');
    for (size_t k = 0; k < size; ++k) content[k] = static_cast<char>('a' + (k * 7) % 26);
    const std::string path = dir.Write("f" + std::to_string(size), content);
    uint64_t got_size = 0;
    auto fd = FileSource::OpenRegular(path, uint64_t{1} << 30, &got_size);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    EXPECT_EQ(got_size, size);
    ReadBuffer buffer;
    auto src = FileSource::Load(fd.value(), got_size, path, size % 2 == 0 ? &buffer : nullptr);
    close(fd.value());  // a mapping outlives the descriptor
    ASSERT_TRUE(src.ok()) << src.status().message();
    EXPECT_EQ(src->bytes(), content) << size;
  }
}

// A walked file is read by one read() when it is shorter than the buffer
// (256 KiB), without fstat; one that fills it is checked and read on (or
// left open at offset 0 for windows and mapping). Each size gives the bytes
// OpenRegular + Load give, and the same errors: over --max-size by one byte
// or more, a FIFO or a symbolic link in the file's place.
TEST(FileSource, ReadWalkedAtGivesWhatOpenRegularAndLoadGive) {
  TempDir dir;
  const int dir_fd = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir_fd, 0);
  constexpr size_t kBuffer = size_t{256} << 10;
  const uint64_t kWhole = uint64_t{4} << 20;  // read whole up to this; larger is left open
  ReadBuffer buffer;
  for (const size_t size :
       {size_t{0}, size_t{1}, size_t{5}, kBuffer - 1, kBuffer, kBuffer + 1, (size_t{1} << 20) - 1,
        size_t{1} << 20, (size_t{5} << 20) + 7, size_t{70000}}) {
    std::string content(size, 'x');
    for (size_t k = 0; k < size; ++k) content[k] = static_cast<char>('a' + (k * 7) % 26);
    const std::string name = "f" + std::to_string(size);
    const std::string path = dir.Write(name, content);
    for (const uint64_t max_bytes : {uint64_t{1} << 30, uint64_t{size}, uint64_t{size} - 1}) {
      if (size == 0 && max_bytes != 1u << 30) continue;
      uint64_t plain_size = 0;
      auto plain_fd = FileSource::OpenRegular(path, max_bytes, &plain_size);
      int rest_fd = -1;
      uint64_t got_size = 0;
      auto got = FileSource::ReadWalkedAt(dir_fd, name.c_str(), path, max_bytes, kWhole, &buffer,
                                          &rest_fd, &got_size);
      ASSERT_EQ(got.ok(), plain_fd.ok()) << size << " " << max_bytes;
      if (!got.ok()) {
        EXPECT_EQ(got.status().message(), plain_fd.status().message());
        continue;
      }
      close(plain_fd.value());
      EXPECT_EQ(got_size, size);
      if (rest_fd >= 0) {  // left to the caller: the plain path from offset 0
        EXPECT_TRUE(size >= (size_t{1} << 20) || size > kWhole) << size;
        EXPECT_TRUE(got->bytes().empty());
        auto src = FileSource::Load(rest_fd, got_size, path, nullptr);
        close(rest_fd);
        ASSERT_TRUE(src.ok()) << src.status().message();
        EXPECT_EQ(src->bytes(), content) << size;
      } else {
        EXPECT_LT(size, size_t{1} << 20);
        EXPECT_EQ(got->bytes(), content) << size;
      }
    }
  }
  // Put in a walked file's place after the walk: refused, not read or followed.
  ASSERT_EQ(mkfifo((dir.path() + "/pipe").c_str(), 0600), 0);
  ASSERT_EQ(symlink((dir.path() + "/f5").c_str(), (dir.path() + "/link").c_str()), 0);
  for (const char* name : {"pipe", "link"}) {
    int rest_fd = -1;
    uint64_t got_size = 0;
    auto got = FileSource::ReadWalkedAt(dir_fd, name, name, uint64_t{1} << 30, kWhole, &buffer,
                                        &rest_fd, &got_size);
    EXPECT_FALSE(got.ok()) << name;
    EXPECT_EQ(rest_fd, -1);
  }
  close(dir_fd);
}

}  // namespace
}  // namespace glassbox::scan
