// `deno compile` executables. Two layouts are recognised by structure:
//  - trailer (Deno 1.x): the file ends with "d3n0l4nd", u64 big-endian
//    eszip position, u64 big-endian metadata position; the eszip archive
//    sits between the two positions and JSON metadata after it;
//  - section (Deno 2, via libsui): a section named "d3n0l4nd" (ELF, PE) or
//    __SUI,d3n0l4nd... (Mach-O), holding the payload.
// Module names are not parsed from the eszip (its layout changes between
// releases); instead every run of text at least kMinRun bytes long in the
// payload is returned as a module named "deno:<offset>", and a note says so.
// The runtime binary itself contains the marker string, so a bare marker
// without a valid trailer or section is not taken for a payload.
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

constexpr std::string_view kMarker = "d3n0l4nd";
constexpr std::size_t kMinRun = 64;

std::uint64_t ReadBe64(std::string_view b, std::uint64_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

// A byte that may appear in source text: printable ASCII, whitespace, or
// any byte of a multi-byte UTF-8 sequence (checked when converting).
bool TextByte(unsigned char c) { return c >= 0x20 || c == '\n' || c == '\r' || c == '\t'; }

void ReadTextRuns(std::string_view file, std::uint64_t begin, std::uint64_t end, Budget* budget, Unpacked* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(file.data());
  std::size_t runs = 0;
  for (std::uint64_t i = begin; i < end;) {
    if (!TextByte(p[i]) || p[i] == 0x7f) {
      ++i;
      continue;
    }
    std::uint64_t start = i;
    while (i < end && TextByte(p[i]) && p[i] != 0x7f) ++i;
    if (i - start < kMinRun) continue;
    std::string_view run = file.substr(start, i - start);
    if (!AddModule(fmt::format("deno:{}", start), run, GuessEncoding(run), start, "deno", budget, out)) break;
    ++runs;
  }
  out->notes.push_back(fmt::format("deno: module names are not parsed from the eszip payload; {} text runs of "
                                   "at least {} bytes between offsets {} and {} are returned as modules",
                                   runs, kMinRun, begin, end));
}

}  // namespace

bool ReadDenoPayload(std::string_view file, Budget* budget, Unpacked* out) {
  if (file.size() >= 24 && file.substr(file.size() - 24, 8) == kMarker) {
    std::uint64_t eszip = ReadBe64(file, file.size() - 16);
    std::uint64_t metadata = ReadBe64(file, file.size() - 8);
    if (eszip <= metadata && metadata <= file.size() - 24) {
      out->layout = "trailer";
      ReadTextRuns(file, eszip, metadata, budget, out);
      return true;
    }
  }
  std::optional<FileSpan> section = FindSection(file, "__SUI", "__d3n0l4nd");
  if (!section) section = FindSection(file, "", kMarker);
  if (section && section->size > 0) {
    out->layout = "section";
    ReadTextRuns(file, section->offset, section->offset + section->size, budget, out);
    return true;
  }
  return false;
}

}  // namespace glassbox::audit::internal
