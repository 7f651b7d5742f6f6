#include "core/utf.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/interesting_avx2.h"

namespace glassbox::utf {

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
#if defined(__SSE2__)
    if (i + 16 <= n &&
        _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))) == 0) {
      i += 16;
      continue;
    }
#endif
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    if (DecodeOne(p + i, n - i, &len) == kInvalidCodePoint) return false;
    i += len;
  }
  return true;
}

int32_t DecodeBefore(std::string_view text, size_t end, size_t* start) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t s = end - 1;
  size_t steps = 0;
  while (s > 0 && (p[s] & 0xC0) == 0x80 && steps < 3) {
    --s;
    ++steps;
  }
  size_t len = 0;
  int32_t cp = DecodeOne(p + s, end - s, &len);
  if (cp == kInvalidCodePoint || s + len != end) {
    *start = end - 1;
    return kInvalidCodePoint;
  }
  *start = s;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

inline bool InterestingByte(const unsigned char* p, size_t i) {
  const unsigned char b = p[i];
  if (b >= 0x80) return true;
  if (b < 0x20) {
    if (b == '\n') {
      if (i == 0) return false;
      unsigned char prev = p[i - 1];
      if (prev == '\r' && i >= 2) prev = p[i - 2];
      return prev == ' ' || prev == '\t';
    }
    return b != '\t' && b != '\r' && b != '\f';
  }
  return b == 0x7F;  // DEL
}

}  // namespace

namespace {

using BlockScan = size_t (*)(const unsigned char* p, size_t i, size_t n);

// Both block loops return the first interesting offset in [i, n - width] or
// the offset where fewer than `width` bytes remain. They read p[i-2], so the
// caller starts them at i >= 2.
#if defined(__x86_64__)
// 64-byte blocks with mask registers: about half the instructions per byte of
// the AVX2 loop, which had to test nearly every block closely (text has a LF
// every few dozen bytes). The same tests as ScanBlocksAvx2.
__attribute__((target("avx512f,avx512bw"))) size_t ScanBlocksAvx512(const unsigned char* p,
                                                                    size_t i, size_t n) {
  const __m512i k20 = _mm512_set1_epi8(0x20);
  const __m512i k_del = _mm512_set1_epi8(0x7F);
  const __m512i k_lf = _mm512_set1_epi8('\n');
  const __m512i k_cr = _mm512_set1_epi8('\r');
  const __m512i k_tab = _mm512_set1_epi8('\t');
  const __m512i k_ff = _mm512_set1_epi8('\f');
  const __m512i k_sp = _mm512_set1_epi8(' ');
  while (i + 64 <= n) {
    const __m512i v = _mm512_loadu_si512(p + i);
    // Control bytes, bytes >= 0x80 (the sign bit) and DEL.
    const __mmask64 ctrl = _mm512_cmplt_epu8_mask(v, k20);
    const __mmask64 odd = _mm512_movepi8_mask(v) | _mm512_cmpeq_epi8_mask(v, k_del);
    if ((ctrl | odd) != 0) {
      // TAB LF FF CR are allowed by themselves.
      const __mmask64 lf = _mm512_cmpeq_epi8_mask(v, k_lf);
      const __mmask64 allowed = lf | _mm512_cmpeq_epi8_mask(v, k_cr) |
                                _mm512_cmpeq_epi8_mask(v, k_tab) | _mm512_cmpeq_epi8_mask(v, k_ff);
      __mmask64 hit = (ctrl & ~allowed) | odd;
      if (lf != 0) {
        // A LF after a space or tab, or after CR after one.
        const __m512i p1 = _mm512_loadu_si512(p + i - 1);
        const __m512i p2 = _mm512_loadu_si512(p + i - 2);
        const __mmask64 ws1 = _mm512_cmpeq_epi8_mask(p1, k_sp) | _mm512_cmpeq_epi8_mask(p1, k_tab);
        const __mmask64 ws2 = _mm512_cmpeq_epi8_mask(p2, k_sp) | _mm512_cmpeq_epi8_mask(p2, k_tab);
        hit |= lf & (ws1 | (_mm512_cmpeq_epi8_mask(p1, k_cr) & ws2));
      }
      if (hit != 0) return i + static_cast<size_t>(__builtin_ctzll(hit));
    }
    i += 64;
  }
  return i;
}

__attribute__((target("avx2"))) size_t ScanBlocksAvx2(const unsigned char* p, size_t i, size_t n) {
  const __m256i k20 = _mm256_set1_epi8(0x20);
  const __m256i k_del = _mm256_set1_epi8(0x7F);
  while (i + 32 <= n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    // Most blocks hold no control byte, DEL or byte >= 0x80 (signed
    // compare: those are negative): only those are looked at closely.
    const __m256i low = _mm256_or_si256(_mm256_cmpgt_epi8(k20, v), _mm256_cmpeq_epi8(v, k_del));
    if (_mm256_movemask_epi8(low) != 0) {
      const auto mask =
          static_cast<unsigned>(_mm256_movemask_epi8(internal::InterestingAvx2(v, p + i)));
      if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
    }
    i += 32;
  }
  return i;
}
#endif

size_t ScanBlocksSse2(const unsigned char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i k_tab = _mm_set1_epi8('\t');
  const __m128i k_lf = _mm_set1_epi8('\n');
  const __m128i k_cr = _mm_set1_epi8('\r');
  const __m128i k_ff = _mm_set1_epi8('\f');
  const __m128i k_sp = _mm_set1_epi8(' ');
  const __m128i k_del = _mm_set1_epi8(0x7F);
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i low = _mm_or_si128(_mm_cmplt_epi8(v, k20), _mm_cmpeq_epi8(v, k_del));
    if (_mm_movemask_epi8(low) != 0) {
      const __m128i lf = _mm_cmpeq_epi8(v, k_lf);
      const __m128i allowed =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, k_tab), lf),
                       _mm_or_si128(_mm_cmpeq_epi8(v, k_cr), _mm_cmpeq_epi8(v, k_ff)));
      const __m128i prev1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i - 1));
      const __m128i prev2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i - 2));
      const __m128i ws1 = _mm_or_si128(_mm_cmpeq_epi8(prev1, k_sp), _mm_cmpeq_epi8(prev1, k_tab));
      const __m128i ws2 = _mm_or_si128(_mm_cmpeq_epi8(prev2, k_sp), _mm_cmpeq_epi8(prev2, k_tab));
      const __m128i trailing =
          _mm_and_si128(lf, _mm_or_si128(ws1, _mm_and_si128(_mm_cmpeq_epi8(prev1, k_cr), ws2)));
      const __m128i hit = _mm_or_si128(_mm_andnot_si128(allowed, low), trailing);
      const int mask = _mm_movemask_epi8(hit);
      if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
    i += 16;
  }
#endif
  (void)p;
  (void)n;
  return i;
}

BlockScan BlockScanOf(internal::ScanLevel level) {
#if defined(__x86_64__)
  if (level == internal::ScanLevel::kAvx512) return ScanBlocksAvx512;
  if (level == internal::ScanLevel::kAvx2) return ScanBlocksAvx2;
#endif
  return ScanBlocksSse2;
}

internal::ScanLevel ChooseScanLevel() {
  for (auto level : {internal::ScanLevel::kAvx512, internal::ScanLevel::kAvx2}) {
    if (internal::CpuSupports(level)) return level;
  }
  return internal::ScanLevel::kSse2;
}

size_t NextInterestingWith(BlockScan block_scan, std::string_view text, size_t from) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = from;
  // The block loops read p[i-2]; do the first bytes one at a time.
  while (i < n && i < from + 2) {
    if (InterestingByte(p, i)) return i;
    ++i;
  }
  if (i < n) {
    i = block_scan(p, i, n);
    if (i + 16 <= n) {
      // The wide loop stopped on a hit, or fewer than its width remain:
      // finish with the 16-byte loop, then byte by byte.
      const size_t j = ScanBlocksSse2(p, i, n);
      if (j < n && InterestingByte(p, j)) return j;
      i = j;
    }
  }
  for (; i < n; ++i) {
    if (InterestingByte(p, i)) return i;
  }
  return n;
}

}  // namespace

namespace internal {

bool CpuSupports(ScanLevel level) {
#if defined(__x86_64__)
  switch (level) {
    case ScanLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    case ScanLevel::kAvx2:
      return __builtin_cpu_supports("avx2");
    case ScanLevel::kSse2:
      return true;
  }
#endif
  return level == ScanLevel::kSse2;
}

size_t NextInterestingAt(ScanLevel level, std::string_view text, size_t from) {
  return NextInterestingWith(BlockScanOf(level), text, from);
}

}  // namespace internal

size_t NextInteresting(std::string_view text, size_t from) {
  static const BlockScan block_scan = BlockScanOf(ChooseScanLevel());  // chosen once for this CPU
  return NextInterestingWith(block_scan, text, from);
}

size_t CountNewlines(std::string_view text) {
  const char* p = text.data();
  const size_t n = text.size();
  size_t i = 0;
  size_t count = 0;
#if defined(__SSE2__)
  // A LF's compare is -1: subtracting it counts per byte lane, for at most
  // 255 blocks before the lanes are summed (psadbw) and could overflow.
  const __m128i lf = _mm_set1_epi8('\n');
  while (i + 16 <= n) {
    __m128i lanes = _mm_setzero_si128();
    const size_t blocks = std::min<size_t>((n - i) / 16, 255);
    for (size_t b = 0; b < blocks; ++b, i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(v, lf));
    }
    const __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; i < n; ++i) count += p[i] == '\n' ? 1 : 0;
  return count;
}

bool IsAscii(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  // 64 bytes a round in four independent lanes, stopping at the first round
  // with a non-ASCII byte: ~0.15 instructions a byte instead of ~0.5, and
  // most non-ASCII text answers within its first lines.
  for (; i + 64 <= n; i += 64) {
    uint64_t w[8];
    std::memcpy(w, p + i, 64);
    if (((w[0] | w[1]) | (w[2] | w[3]) | (w[4] | w[5]) | (w[6] | w[7])) & kHigh) return false;
  }
  uint64_t acc = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= p[i];
  return (acc & kHigh) == 0;
}

Encoding DetectEncoding(std::string_view bytes) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
      static_cast<unsigned char>(bytes[1]) == 0xBB &&
      static_cast<unsigned char>(bytes[2]) == 0xBF) {
    return Encoding::kUtf8Bom;
  }
  if (bytes.size() >= 2) {
    const auto b0 = static_cast<unsigned char>(bytes[0]);
    const auto b1 = static_cast<unsigned char>(bytes[1]);
    if (b0 == 0xFF && b1 == 0xFE) return Encoding::kUtf16Le;
    if (b0 == 0xFE && b1 == 0xFF) return Encoding::kUtf16Be;
  }
  return Encoding::kUtf8;
}

Transcoded Utf16ToUtf8(std::string_view bytes, bool big_endian, size_t skip_bom) {
  Transcoded out;
  out.utf8.reserve(bytes.size());
  out.source_offset.reserve(bytes.size() + 1);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  auto unit = [&](size_t i) -> uint32_t {
    return big_endian ? (uint32_t{p[i]} << 8) | p[i + 1] : (uint32_t{p[i + 1]} << 8) | p[i];
  };
  auto emit = [&](char32_t cp, size_t src) {
    const size_t before = out.utf8.size();
    AppendUtf8(cp, &out.utf8);
    for (size_t k = before; k < out.utf8.size(); ++k) out.source_offset.push_back(src);
  };
  auto invalid = [&](size_t src) {
    if (out.invalid_units == 0) out.first_invalid_offset = src;
    ++out.invalid_units;
  };
  size_t i = skip_bom;
  while (i + 1 < n) {
    const uint32_t u = unit(i);
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 3 < n) {
        const uint32_t u2 = unit(i + 2);
        if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
          emit(0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00), i);
          i += 4;
          continue;
        }
      }
      invalid(i);
      emit(0xFFFD, i);
      i += 2;
      continue;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
      invalid(i);
      emit(0xFFFD, i);
      i += 2;
      continue;
    }
    emit(u, i);
    i += 2;
  }
  if (i < n) invalid(i);
  out.source_offset.push_back(n);
  return out;
}

}  // namespace glassbox::utf
