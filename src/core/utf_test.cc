#include "core/utf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace glassbox::utf {
namespace {

int32_t Decode(std::string_view s, size_t* len) {
  return DecodeOne(reinterpret_cast<const unsigned char*>(s.data()), s.size(), len);
}

TEST(Utf8, DecodesEveryLength) {
  size_t len = 0;
  EXPECT_EQ(Decode("A", &len), 'A');
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(Decode("\xC3\xA9", &len), 0xE9);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(Decode("\xE2\x80\x8B", &len), 0x200B);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(Decode("\xF3\xA0\x81\x89", &len), 0xE0049);
  EXPECT_EQ(len, 4u);
}

TEST(Utf8, RejectsOverlongsSurrogatesAndTruncation) {
  size_t len = 0;
  EXPECT_EQ(Decode("\xC0\xAF", &len), kInvalidCodePoint);  // overlong '/'
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(Decode("\xE0\x80\xAF", &len), kInvalidCodePoint);
  EXPECT_EQ(Decode("\xED\xA0\x80", &len), kInvalidCodePoint);      // surrogate
  EXPECT_EQ(Decode("\xF4\x90\x80\x80", &len), kInvalidCodePoint);  // > U+10FFFF
  EXPECT_EQ(Decode("\xE2\x80", &len), kInvalidCodePoint);          // truncated
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(Decode("\xF3\xA0\x81", &len), kInvalidCodePoint);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(Decode("\x80", &len), kInvalidCodePoint);
}

TEST(Utf8, DecodeBeforeFindsTheStart) {
  const std::string s =
      "a\xE2\x80\x8B"
      "b";
  size_t start = 0;
  EXPECT_EQ(DecodeBefore(s, 4, &start), 0x200B);
  EXPECT_EQ(start, 1u);
  EXPECT_EQ(DecodeBefore(s, 1, &start), 'a');
}

TEST(Utf8, AppendRoundTrips) {
  for (char32_t cp : {U'A', U'\u00E9', U'\u200B', U'\U000E0049', U'\U0010FFFF'}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t len = 0;
    EXPECT_EQ(Decode(s, &len), static_cast<int32_t>(cp));
    EXPECT_EQ(len, s.size());
  }
}

// The SIMD skip must agree with a byte-at-a-time reference on any input.
size_t ReferenceNext(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) return i;
    if (b == '\n') {
      if (i == 0) continue;
      unsigned char prev = static_cast<unsigned char>(s[i - 1]);
      if (prev == '\r' && i >= 2) prev = static_cast<unsigned char>(s[i - 2]);
      if (prev == ' ' || prev == '\t') return i;
      continue;
    }
    if (b < 0x20 && b != '\t' && b != '\r' && b != '\f') return i;
    if (b == 0x7F) return i;
  }
  return s.size();
}

TEST(Utf8, NextInterestingMatchesReference) {
  std::mt19937 rng(42);
  const std::string alphabet = "abc \t\r\n\f\x1b\x7f\x80\xE2xyz";
  for (int round = 0; round < 2000; ++round) {
    std::string s(rng() % 200, 'a');
    const int density = 1 + static_cast<int>(rng() % 30);
    for (char& c : s) {
      if (static_cast<int>(rng() % 100) < density) c = alphabet[rng() % alphabet.size()];
    }
    size_t from = s.empty() ? 0 : rng() % (s.size() + 1);
    EXPECT_EQ(NextInteresting(s, from), ReferenceNext(s, from)) << "round " << round;
  }
}

// Up to 700 bytes: mostly 'q', then blanks (CR, LF, TAB, ...) and bytes of
// every value at a random density, so hits fall on both sides of the 16-,
// 32- and 64-byte block edges of the SIMD loops.
std::string RandomLongText(std::mt19937& rng) {
  const std::string blanks = " \t\r\n\v\f";
  std::string s(rng() % 700, 'q');
  const int density = 1 + static_cast<int>(rng() % 20);
  for (char& c : s) {
    const int roll = static_cast<int>(rng() % 1000);
    if (roll < density) {
      c = static_cast<char>(rng() % 256);
    } else if (roll < density * 8) {
      c = blanks[rng() % blanks.size()];
    }
  }
  return s;
}

// Every block loop this CPU can run (SSE2, AVX2, AVX-512), not only the one
// NextInteresting() picks, gives the reference answer.
TEST(Utf8, EveryBlockLoopMatchesReference) {
  std::mt19937 rng(11);
  for (auto level :
       {internal::ScanLevel::kSse2, internal::ScanLevel::kAvx2, internal::ScanLevel::kAvx512}) {
    if (!internal::CpuSupports(level)) continue;
    for (int round = 0; round < 3000; ++round) {
      const std::string s = RandomLongText(rng);
      const size_t from = s.empty() ? 0 : rng() % (s.size() + 1);
      EXPECT_EQ(internal::NextInterestingAt(level, s, from), ReferenceNext(s, from))
          << "level " << static_cast<int>(level) << " round " << round;
    }
  }
}

// Long texts, every byte value, through the loop NextInteresting() picks.
TEST(Utf8, NextInterestingMatchesReferenceOnLongTexts) {
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    const std::string s = RandomLongText(rng);
    const size_t from = s.empty() ? 0 : rng() % (s.size() + 1);
    EXPECT_EQ(NextInteresting(s, from), ReferenceNext(s, from)) << "round " << round;
  }
}

TEST(Utf8, NextInterestingSkipsCleanAscii) {
  const std::string s(1000, 'x');
  EXPECT_EQ(NextInteresting(s, 0), s.size());
  EXPECT_EQ(NextInteresting("code  \r\nmore", 0), 7u);  // LF after trailing spaces, through CR
}

// IsAscii reads 64-byte rounds, then words, then bytes: one byte >= 0x80 at
// any offset of any length is seen, whichever of the three loops reads it.
TEST(Utf8, IsAsciiMatchesReferenceAtEveryOffset) {
  for (size_t n = 0; n <= 200; ++n) {
    std::string text(n, 'a');
    for (size_t k = 0; k < n; ++k) text[k] = static_cast<char>(0x20 + (k * 7) % 95);
    EXPECT_TRUE(IsAscii(text)) << n;
    for (size_t at = 0; at < n; ++at) {
      for (unsigned char high : {0x80, 0xC3, 0xFF}) {
        std::string t = text;
        t[at] = static_cast<char>(high);
        EXPECT_FALSE(IsAscii(t)) << "length " << n << ", byte " << int{high} << " at " << at;
      }
    }
  }
  EXPECT_TRUE(IsAscii(""));
}

TEST(Utf16, TranscodesPairsAndReportsUnpaired) {
  // BOM FF FE, 'A', U+E0049 as D8 40 DC 49 (LE), then a lone high surrogate.
  const std::string le(
      "\xFF\xFE"
      "A\x00"
      "\x40\xDB\x49\xDC"
      "\x00\xD8",
      10);
  EXPECT_EQ(DetectEncoding(le), Encoding::kUtf16Le);
  Transcoded t = Utf16ToUtf8(le, false, 2);
  EXPECT_EQ(t.utf8, "A\xF3\xA0\x81\x89\xEF\xBF\xBD");
  EXPECT_EQ(t.invalid_units, 1u);
  EXPECT_EQ(t.first_invalid_offset, 8u);
  EXPECT_EQ(t.source_offset[1], 4u);  // the tag character came from byte 4
  const std::string be(
      "\xFE\xFF\x00"
      "B"
      "\x00",
      5);
  Transcoded t2 = Utf16ToUtf8(be, true, 2);
  EXPECT_EQ(t2.utf8, "B");
  EXPECT_EQ(t2.invalid_units, 1u);  // the odd trailing byte
}

}  // namespace
// CountNewlines counts 16-byte blocks in byte lanes summed every 255 blocks:
// it must agree with std::count at every length and offset around the block
// and the 255-block edges, with LF runs, no LF and every byte value.
TEST(Utf, CountNewlinesMatchesStdCount) {
  std::mt19937 rng(10);
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4079},
                     size_t{4080}, size_t{4081}, size_t{8200}, size_t{70000}}) {
    for (int round = 0; round < 6; ++round) {
      std::string s(len, 'a');
      const int density = round;  // 0: no LF .. 5: mostly LF
      for (char& c : s) {
        c = density > 0 && static_cast<int>(rng() % 6) < density ? '\n'
                                                                 : static_cast<char>(rng() % 256);
      }
      for (size_t from : {size_t{0}, size_t{1}, size_t{7}}) {
        if (from > s.size()) continue;
        const std::string_view v = std::string_view(s).substr(from);
        EXPECT_EQ(utf::CountNewlines(v), static_cast<size_t>(std::count(v.begin(), v.end(), '\n')))
            << "length " << v.size() << ", density " << density;
      }
    }
  }
  EXPECT_EQ(utf::CountNewlines(std::string(5000, '\n')), 5000u);
}

}  // namespace glassbox::utf
