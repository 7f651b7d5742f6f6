// Fuzzes scan::Scanner::ScanBuffer end to end (encoding detection, UTF-16
// transcoding, JSON/JSONL data mode, hidden text, built-in secret rules,
// locating, inline suppression). Byte 0 picks the file name, and with it the
// text kind and data mode; the rest is the file's content.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf.h"
#include "fuzz_check.h"
#include "scan/content.h"
#include "scan/scanner.h"

namespace {

const glassbox::scan::Scanner& TheScanner() {
  static const std::unique_ptr<glassbox::scan::Scanner> scanner = [] {
    glassbox::scan::ScanOptions options;
    options.jobs = 1;
    auto created = glassbox::scan::Scanner::Create(std::move(options));
    FUZZ_CHECK(created.ok(), "Scanner::Create failed: %s", created.status().message().c_str());
    return std::move(created.value());
  }();
  return *scanner;
}

const char* const kNames[] = {"a.js", "README.md", "x.sh", "c.json", "d.jsonl"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheScanner();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 16)) return -1;
  const std::string path = kNames[data[0] % 5];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<glassbox::Finding> findings;
  glassbox::ReportStats stats;
  TheScanner().ScanBuffer(bytes, path, &findings, &stats);

  // UTF-16 by byte order mark or by its NUL lane (scan/content.h).
  const glassbox::scan::ContentKind kind = glassbox::scan::ClassifyContent(path, bytes);
  const bool utf16 = kind == glassbox::scan::ContentKind::kUtf16Le ||
                     kind == glassbox::scan::ContentKind::kUtf16Be;
  const bool data_mode = path == "d.jsonl";
  for (const glassbox::Finding& f : findings) {
    FUZZ_CHECK(!f.rule.empty(), "finding without a rule");
    FUZZ_CHECK(f.byte_offset <= bytes.size(), "%s: byte_offset %llu past %zu bytes", f.rule.c_str(),
               static_cast<unsigned long long>(f.byte_offset), bytes.size());
    if (!utf16 && !data_mode) {
      // Plain text: offsets, lengths and fixes are in the buffer's own bytes.
      FUZZ_CHECK(f.byte_length <= bytes.size() - f.byte_offset,
                 "%s: [%llu, +%llu) outside %zu bytes", f.rule.c_str(),
                 static_cast<unsigned long long>(f.byte_offset),
                 static_cast<unsigned long long>(f.byte_length), bytes.size());
      for (const glassbox::Fix& x : f.fixes) {
        FUZZ_CHECK(x.begin <= x.end && x.end <= bytes.size(), "%s: fix outside the buffer",
                   f.rule.c_str());
      }
      FUZZ_CHECK(f.line >= 1 && f.column >= 1, "%s: unlocated finding", f.rule.c_str());
    }
    FUZZ_CHECK(f.path == path, "finding path '%s', expected '%s'", f.path.c_str(), path.c_str());
  }
  return 0;
}
