// Printable strings of native binaries (Rust, Go, C++ agents, or a container
// whose payload could not be read), like strings(1) -a -n 6 plus -el: runs of
// printable ASCII (and TAB), and runs of UTF-16LE code units in the same
// range. One table-driven pass per encoding; bounded count, and a run longer
// than kMaxRun is cut into pieces.
#include <algorithm>
#include <array>
#include <string>

#include <fmt/format.h>

#include "audit/internal/unpack_internal.h"

namespace glassbox::audit::internal {
namespace {

constexpr std::size_t kMaxRun = 4096;

constexpr std::array<bool, 256> MakePrintable() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  t['\t'] = true;
  return t;
}
constexpr std::array<bool, 256> kPrintable = MakePrintable();

}  // namespace

void ReadNativeStrings(std::string_view file, const UnpackLimits& limits, Unpacked* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(file.data());
  const size_t n = file.size();
  const size_t min_len = std::max<size_t>(limits.min_string_length, 1);
  std::vector<NativeString> found;
  bool cut = false;
  auto full = [&] {
    if (found.size() < limits.max_strings) return false;
    cut = true;
    return true;
  };
  // ASCII.
  for (size_t i = 0; i < n && !full();) {
    if (!kPrintable[p[i]]) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < n && kPrintable[p[i]] && i - start < kMaxRun) ++i;
    if (i - start >= min_len) found.push_back({start, std::string(file.substr(start, i - start)), "ascii"});
  }
  // UTF-16LE, both alignments.
  for (size_t align = 0; align < 2 && !cut; ++align) {
    for (size_t i = align; i + 1 < n && !full();) {
      if (!(p[i + 1] == 0 && kPrintable[p[i]])) {
        i += 2;
        continue;
      }
      size_t start = i;
      std::string text;
      while (i + 1 < n && p[i + 1] == 0 && kPrintable[p[i]] && text.size() < kMaxRun) {
        text.push_back(static_cast<char>(p[i]));
        i += 2;
      }
      if (text.size() >= min_len) found.push_back({start, std::move(text), "utf16le"});
    }
  }
  std::sort(found.begin(), found.end(),
            [](const NativeString& a, const NativeString& b) { return a.offset < b.offset; });
  if (cut) {
    out->notes.push_back(fmt::format("limit: more than {} printable strings; the rest of the file was not listed",
                                     limits.max_strings));
  }
  out->strings.insert(out->strings.end(), std::make_move_iterator(found.begin()),
                      std::make_move_iterator(found.end()));
}

}  // namespace glassbox::audit::internal
