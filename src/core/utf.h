// UTF-8 and UTF-16 decoding for the scan hot path.
//
// Everything here is pure and allocation-free except the UTF-16 transcoder.
// Decoding never fails hard: malformed or truncated sequences are reported
// as kInvalidCodePoint with the length of the maximal invalid subpart, so a
// caller can count them and go on (Unicode's "substitution of maximal
// subparts" practice).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox::utf {

inline constexpr int32_t kInvalidCodePoint = -1;

// Decodes one sequence at p, with n >= 1 bytes available. Returns the code
// point and stores the bytes consumed in *len (1..4). On malformed input
// returns kInvalidCodePoint and stores the invalid subpart's length (>= 1).
inline int32_t DecodeOne(const unsigned char* p, size_t n, size_t* len) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xC2 || b0 > 0xF4) {
    *len = 1;
    return kInvalidCodePoint;
  }
  if (b0 < 0xE0) {
    if (n < 2 || (p[1] & 0xC0) != 0x80) {
      *len = 1;
      return kInvalidCodePoint;
    }
    *len = 2;
    return ((b0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    // Second byte ranges exclude overlongs (E0) and surrogates (ED).
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;
    if (n < 2 || p[1] < lo || p[1] > hi) {
      *len = 1;
      return kInvalidCodePoint;
    }
    if (n < 3 || (p[2] & 0xC0) != 0x80) {
      *len = 2;
      return kInvalidCodePoint;
    }
    *len = 3;
    return ((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
  const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;
  if (n < 2 || p[1] < lo || p[1] > hi) {
    *len = 1;
    return kInvalidCodePoint;
  }
  if (n < 3 || (p[2] & 0xC0) != 0x80) {
    *len = 2;
    return kInvalidCodePoint;
  }
  if (n < 4 || (p[3] & 0xC0) != 0x80) {
    *len = 3;
    return kInvalidCodePoint;
  }
  *len = 4;
  return ((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

// Decodes the code point that ends just before `end` (end > 0). Returns its
// start offset in *start; invalid bytes decode as kInvalidCodePoint of length 1.
int32_t DecodeBefore(std::string_view text, size_t end, size_t* start);

// Appends the UTF-8 encoding of cp (a scalar value) to *out.
void AppendUtf8(char32_t cp, std::string* out);

// The hot-path skip: returns the offset of the first byte at or after `from`
// that needs a closer look, or text.size() when there is none. A byte needs a
// look when it is >= 0x80, DEL, a control byte other than TAB, LF, FF and CR, or a
// LF that ends a line with trailing space or tab (before an optional CR).
// Uses 64-byte AVX-512 blocks where the CPU has them, else 32-byte AVX2 or
// 16-byte SSE2 blocks: clean ASCII goes by at memory speed.
size_t NextInteresting(std::string_view text, size_t from);

namespace internal {
// The block loops NextInteresting() can use; tests run each the CPU has.
enum class ScanLevel { kSse2, kAvx2, kAvx512 };
bool CpuSupports(ScanLevel level);
size_t NextInterestingAt(ScanLevel level, std::string_view text, size_t from);
}  // namespace internal

// True when no byte is >= 0x80.
bool IsAscii(std::string_view text);

// The number of LF bytes in `text` (16 bytes at a time with SSE2): for line
// numbers, which a finding deep in a large file needs counted up to it.
size_t CountNewlines(std::string_view text);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF). ASCII runs are checked a block at a time.
bool IsValidUtf8(std::string_view text);

enum class Encoding { kUtf8, kUtf8Bom, kUtf16Le, kUtf16Be };

// Looks at a leading byte order mark only; no BOM means UTF-8.
Encoding DetectEncoding(std::string_view bytes);

struct Transcoded {
  std::string utf8;
  // source_offset[i] is the byte offset in the original input of the code
  // unit that produced utf8[i]; one extra entry maps utf8.size().
  std::vector<uint64_t> source_offset;
  uint64_t invalid_units = 0;  // unpaired surrogates or a dangling odd byte
  uint64_t first_invalid_offset = 0;
};

// Transcodes UTF-16 (after its BOM) to UTF-8. Unpaired surrogates become
// U+FFFD and are counted; a trailing odd byte is counted.
Transcoded Utf16ToUtf8(std::string_view bytes, bool big_endian, size_t skip_bom);

}  // namespace glassbox::utf
