// Printable strings of native binaries (Rust, Go, C++ agents, or a container
// whose payload could not be read), like strings(1) -a -n 6 plus -el: runs of
// printable ASCII (and TAB), and runs of UTF-16LE code units in the same
// range. One table-driven pass per encoding; bounded count, and a run longer
// than kMaxRun is cut into pieces.
#include <emmintrin.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

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

// Bit k set when byte k of the 32 at p is printable (0x20..0x7e or TAB).
// Signed compare: bytes >= 0x80 are negative, so "> 0x1f" also rules them out.
inline std::uint32_t PrintableMask32(const unsigned char* p) {
  const __m128i low = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f), tab = _mm_set1_epi8('\t');
  std::uint32_t m = 0;
  for (int half = 0; half < 2; ++half) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * half));
    __m128i ok = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, del), _mm_cmpgt_epi8(v, low)),
                              _mm_cmpeq_epi8(v, tab));
    m |= static_cast<std::uint32_t>(_mm_movemask_epi8(ok)) << (16 * half);
  }
  return m;
}

inline std::uint32_t ZeroMask32(const unsigned char* p) {
  const __m128i zero = _mm_setzero_si128();
  std::uint32_t m = 0;
  for (int half = 0; half < 2; ++half) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * half));
    m |= static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))) << (16 * half);
  }
  return m;
}

// Bits where `count` consecutive set bits of m (step `stride`) begin.
inline std::uint32_t RunStarts(std::uint32_t m, size_t count, int stride) {
  std::uint32_t r = m;
  for (size_t k = 1; k < count; ++k) r &= m >> (stride * k);
  return r;
}

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
  // The fast skips jump over 32-byte blocks in which no run of min_len can
  // start (SSE2 masks); the byte loops then find the exact runs.
  const bool fast_ascii = min_len <= 16, fast_wide = min_len <= 8;
  for (size_t i = 0; i < n && !full();) {
    if (fast_ascii) {
      while (i + 32 <= n && RunStarts(PrintableMask32(p + i), min_len, 1) == 0) i += 33 - min_len;
    }
    while (i < n && !kPrintable[p[i]]) ++i;
    if (i >= n) break;
    size_t start = i;
    while (i < n && kPrintable[p[i]] && i - start < kMaxRun) ++i;
    if (i - start >= min_len)
      found.push_back({start, std::string(file.substr(start, i - start)), "ascii"});
  }
  // UTF-16LE, both alignments; each pass yields runs in file order, so the
  // three sorted lists are merged at the end (ASCII first on equal offsets).
  const size_t first_wide = found.size();
  size_t ends[2] = {found.size(), found.size()};
  for (size_t align = 0; align < 2 && !cut; ++align) {
    for (size_t i = align; i + 1 < n && !full();) {
      if (fast_wide) {
        // Unit k (bytes 2k, 2k+1) is a printable UTF-16LE code unit when bit
        // 2k of the printable mask and bit 2k+1 of the zero mask are set.
        while (i + 32 <= n) {
          std::uint32_t units = PrintableMask32(p + i) & (ZeroMask32(p + i) >> 1) & 0x55555555u;
          if (RunStarts(units, min_len, 2) != 0) break;
          i += 2 * (17 - min_len);
        }
      }
      while (i + 1 < n && !(p[i + 1] == 0 && kPrintable[p[i]])) i += 2;
      if (i + 1 >= n) break;
      size_t start = i;
      std::string text;
      while (i + 1 < n && p[i + 1] == 0 && kPrintable[p[i]] && text.size() < kMaxRun) {
        text.push_back(static_cast<char>(p[i]));
        i += 2;
      }
      if (text.size() >= min_len) found.push_back({start, std::move(text), "utf16le"});
    }
    ends[align] = found.size();
  }
  if (ends[1] < ends[0]) ends[1] = ends[0];
  auto by_offset = [](const NativeString& a, const NativeString& b) { return a.offset < b.offset; };
  std::inplace_merge(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(first_wide),
                     found.begin() + static_cast<std::ptrdiff_t>(ends[0]), by_offset);
  std::inplace_merge(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(ends[0]),
                     found.begin() + static_cast<std::ptrdiff_t>(ends[1]), by_offset);
  if (cut) {
    out->notes.push_back(
        fmt::format("limit: more than {} printable strings; the rest of the file was not listed",
                    limits.max_strings));
  }
  out->strings.insert(out->strings.end(), std::make_move_iterator(found.begin()),
                      std::make_move_iterator(found.end()));
}

}  // namespace glassbox::audit::internal
