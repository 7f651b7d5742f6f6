// Fuzzes core/utf: DecodeOne and DecodeBefore against a table-driven
// reference (Unicode Table 3-7, maximal subparts), the SSE2 NextInteresting
// skip against a byte-at-a-time reference, and the UTF-16 transcoder.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf.h"
#include "fuzz_check.h"

namespace {

using glassbox::utf::kInvalidCodePoint;

// Reference decoder written from the well-formed byte sequence table.
int32_t RefDecode(const unsigned char* p, size_t n, size_t* len) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  size_t count = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    count = 2;
  } else if (b0 == 0xE0) {
    count = 3, lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    count = 3;
  } else if (b0 == 0xED) {
    count = 3, hi = 0x9F;
  } else if (b0 == 0xF0) {
    count = 4, lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    count = 4;
  } else if (b0 == 0xF4) {
    count = 4, hi = 0x8F;
  } else {
    *len = 1;
    return kInvalidCodePoint;
  }
  uint32_t cp = b0 & (count == 2 ? 0x1F : count == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < count; ++k) {
    const unsigned char l = k == 1 ? lo : 0x80;
    const unsigned char h = k == 1 ? hi : 0xBF;
    if (k >= n || p[k] < l || p[k] > h) {
      *len = k;
      return kInvalidCodePoint;
    }
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  *len = count;
  return static_cast<int32_t>(cp);
}

// The documented contract of NextInteresting, one byte at a time.
bool RefInteresting(const unsigned char* p, size_t i) {
  const unsigned char b = p[i];
  if (b >= 0x80) return true;
  if (b == '\n') {
    if (i == 0) return false;
    size_t k = i - 1;
    if (p[k] == '\r') {
      if (k == 0) return false;
      --k;
    }
    return p[k] == ' ' || p[k] == '\t';
  }
  return (b < 0x20 && b != '\t' && b != '\r' && b != '\f') || b == 0x7F;
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

void CheckDecode(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  std::string reencoded;
  for (size_t i = 0; i < n;) {
    size_t len = 0, ref_len = 0;
    const int32_t cp = glassbox::utf::DecodeOne(p + i, n - i, &len);
    const int32_t ref = RefDecode(p + i, n - i, &ref_len);
    FUZZ_CHECK(cp == ref && len == ref_len, "DecodeOne at %zu: got %d/%zu, reference %d/%zu", i, cp,
               len, ref, ref_len);
    FUZZ_CHECK(len >= 1 && len <= 4 && len <= n - i, "DecodeOne length %zu at %zu", len, i);
    if (cp != kInvalidCodePoint) {
      FUZZ_CHECK(cp >= 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF),
                 "not a scalar value: %d", cp);
      reencoded.clear();
      glassbox::utf::AppendUtf8(static_cast<char32_t>(cp), &reencoded);
      FUZZ_CHECK(std::string_view(reencoded) == text.substr(i, len), "AppendUtf8 round trip at %zu",
                 i);
      // Decoding backwards from the end of a valid sequence finds the same one.
      size_t start = 0;
      const int32_t back = glassbox::utf::DecodeBefore(text, i + len, &start);
      FUZZ_CHECK(back == cp && start == i, "DecodeBefore(%zu): %d from %zu, expected %d from %zu",
                 i + len, back, start, cp, i);
    }
    i += len;
  }
  // DecodeBefore from every end: the result, when valid, decodes forwards to
  // exactly the same range.
  for (size_t end = 1; end <= n; ++end) {
    size_t start = 0;
    const int32_t cp = glassbox::utf::DecodeBefore(text, end, &start);
    FUZZ_CHECK(start < end && end - start <= 4, "DecodeBefore(%zu) start %zu", end, start);
    if (cp == kInvalidCodePoint) {
      FUZZ_CHECK(start == end - 1, "invalid DecodeBefore(%zu) must step one byte, stepped to %zu",
                 end, start);
      continue;
    }
    size_t len = 0;
    FUZZ_CHECK(glassbox::utf::DecodeOne(p + start, n - start, &len) == cp && start + len == end,
               "DecodeBefore(%zu) = %d at %zu disagrees with DecodeOne", end, cp, start);
  }
}

void CheckNextInteresting(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // ref_next[i]: the first interesting offset >= i (n when none).
  std::vector<size_t> ref_next(n + 1, n);
  for (size_t i = n; i-- > 0;) ref_next[i] = RefInteresting(p, i) ? i : ref_next[i + 1];
  // The hot-path walk: from 0, then just past each hit.
  for (size_t from = 0; from <= n;) {
    const size_t got = glassbox::utf::NextInteresting(text, from);
    FUZZ_CHECK(got == ref_next[from], "NextInteresting(from=%zu) = %zu, reference %zu (size %zu)",
               from, got, ref_next[from], n);
    if (got >= n) break;
    from = got + 1;
  }
  // Pseudo-random starting offsets, derived from the input.
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  for (size_t k = 0; k < n && k < 64; ++k) h = Mix(h ^ p[k] ^ (uint64_t{k} << 8));
  for (int round = 0; round < 32; ++round) {
    h = Mix(h + static_cast<uint64_t>(round));
    const size_t from = static_cast<size_t>(h % (n + 1));
    const size_t got = glassbox::utf::NextInteresting(text, from);
    FUZZ_CHECK(got == ref_next[from], "NextInteresting(from=%zu) = %zu, reference %zu (size %zu)",
               from, got, ref_next[from], n);
  }
  FUZZ_CHECK(glassbox::utf::NextInteresting(text, n) == n, "NextInteresting(from=size) != size");
  bool ascii = true;
  for (size_t i = 0; i < n; ++i) ascii = ascii && p[i] < 0x80;
  FUZZ_CHECK(glassbox::utf::IsAscii(text) == ascii, "IsAscii = %d, reference %d", !ascii, ascii);
}

void CheckUtf16(std::string_view bytes, bool big_endian, size_t skip) {
  const glassbox::utf::Transcoded t = glassbox::utf::Utf16ToUtf8(bytes, big_endian, skip);
  FUZZ_CHECK(t.source_offset.size() == t.utf8.size() + 1,
             "source_offset has %zu entries for %zu bytes", t.source_offset.size(), t.utf8.size());
  FUZZ_CHECK(t.source_offset.back() == bytes.size(), "last source_offset %llu, size %zu",
             static_cast<unsigned long long>(t.source_offset.back()), bytes.size());
  for (size_t k = 0; k < t.utf8.size(); ++k) {
    FUZZ_CHECK(t.source_offset[k] >= skip && t.source_offset[k] < bytes.size(),
               "source_offset[%zu] = %llu", k, static_cast<unsigned long long>(t.source_offset[k]));
    FUZZ_CHECK(k == 0 || t.source_offset[k] >= t.source_offset[k - 1],
               "source_offset not monotonic at %zu", k);
  }
  FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(t.utf8), "Utf16ToUtf8 produced invalid UTF-8");
  const bool odd = ((bytes.size() > skip ? bytes.size() - skip : 0) % 2) != 0;
  FUZZ_CHECK(t.invalid_units >= (odd ? 1u : 0u), "dangling odd byte not counted");
  if (t.invalid_units > 0) {
    FUZZ_CHECK(t.first_invalid_offset >= skip && t.first_invalid_offset < bytes.size(),
               "first_invalid_offset %llu",
               static_cast<unsigned long long>(t.first_invalid_offset));
  }
  // Without invalid units the transcoding is lossless: encode back and compare.
  if (t.invalid_units == 0) {
    std::string back;
    const auto* u = reinterpret_cast<const unsigned char*>(t.utf8.data());
    for (size_t i = 0; i < t.utf8.size();) {
      size_t len = 0;
      const int32_t cp = glassbox::utf::DecodeOne(u + i, t.utf8.size() - i, &len);
      i += len;
      auto put = [&](uint32_t unit) {
        const char hi = static_cast<char>(unit >> 8), lo = static_cast<char>(unit & 0xFF);
        back.push_back(big_endian ? hi : lo);
        back.push_back(big_endian ? lo : hi);
      };
      if (cp >= 0x10000) {
        put(0xD800 + ((static_cast<uint32_t>(cp) - 0x10000) >> 10));
        put(0xDC00 + ((static_cast<uint32_t>(cp) - 0x10000) & 0x3FF));
      } else {
        put(static_cast<uint32_t>(cp));
      }
    }
    FUZZ_CHECK(back == bytes.substr(std::min(skip, bytes.size())), "UTF-16 round trip differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (size_t{1} << 16)) return -1;  // keeps the DecodeBefore and reference passes cheap
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (size > 0) CheckDecode(text);
  CheckNextInteresting(text);
  for (bool be : {false, true}) {
    CheckUtf16(text, be, 0);
    if (size >= 2) CheckUtf16(text, be, 2);
  }
  return 0;
}
