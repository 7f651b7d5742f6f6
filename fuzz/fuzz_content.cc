// Fuzzes the hostile-input paths of issue 16: binary/text classification,
// the strings pass over binaries, terminal escaping of names and snippets,
// and a whole scan of a file whose name says nothing (so the content decides
// between text, UTF-16 and a binary's strings pass).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.h"
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

bool Forbidden(int32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x061C || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheScanner();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (size_t{1} << 16)) return -1;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // The strings pass keeps offsets: every byte is itself or a line end.
  for (bool open_end : {false, true}) {
    std::string strings;
    glassbox::scan::StringsPass(bytes, open_end, &strings);
    FUZZ_CHECK(strings.size() == bytes.size(), "strings pass changed the size");
    for (size_t i = 0; i < size; ++i) {
      FUZZ_CHECK(strings[i] == bytes[i] || strings[i] == '\n', "strings pass changed byte %zu", i);
    }
  }

  // What reaches a terminal is valid UTF-8 without controls or bidi.
  const std::string safe = glassbox::TerminalSafe(bytes);
  FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(safe), "TerminalSafe output is not UTF-8");
  const auto* p = reinterpret_cast<const unsigned char*>(safe.data());
  for (size_t i = 0; i < safe.size();) {
    size_t len = 0;
    const int32_t cp = glassbox::utf::DecodeOne(p + i, safe.size() - i, &len);
    FUZZ_CHECK(!Forbidden(cp), "TerminalSafe let U+%04X through", static_cast<unsigned>(cp));
    i += len;
  }

  // A scan where the content alone decides the kind.
  const glassbox::scan::ContentKind kind = glassbox::scan::ClassifyContent("blob", bytes);
  std::vector<glassbox::Finding> findings;
  glassbox::ReportStats stats;
  std::vector<std::string> notes;
  TheScanner().ScanBuffer(bytes, "blob", &findings, &stats, &notes);
  FUZZ_CHECK(stats.binary_files == (kind == glassbox::scan::ContentKind::kBinary ? 1u : 0u),
             "binary count");
  for (const glassbox::Finding& f : findings) {
    FUZZ_CHECK(f.byte_offset <= size, "%s: byte_offset past the input", f.rule.c_str());
    if (kind == glassbox::scan::ContentKind::kBinary) {
      FUZZ_CHECK(f.fixes.empty(), "%s: a fix in a binary", f.rule.c_str());
      FUZZ_CHECK(f.line == 0, "%s: a line number in a binary", f.rule.c_str());
    }
  }
  return 0;
}
