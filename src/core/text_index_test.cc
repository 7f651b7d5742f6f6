#include "core/text_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/base64.h"
#include "core/utf.h"

namespace glassbox {
namespace {

using utf::internal::ScanLevel;

// The plain passes the index stands in for: NextInteresting from every
// offset, and the maximal base64 runs by a byte-at-a-time walk.
std::vector<Base64Span> PlainRuns(std::string_view text, bool* non_ascii) {
  std::vector<Base64Span> runs;
  *non_ascii = false;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    *non_ascii = *non_ascii || p[i] >= 0x80;
    if (Base64Digit(p[i]) < 0) {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < text.size() && Base64Digit(p[e]) >= 0) ++e;
    size_t pad = e;
    while (pad < text.size() && p[pad] == '=' && pad - e < 2) ++pad;
    if (e - i >= kMinBase64Run) runs.push_back({i, e, pad});
    i = e;
  }
  return runs;
}

// Checks the index of every level this CPU has against the plain passes;
// `index` is reused, as a scanning thread reuses its own.
void ExpectSameAsPlain(std::string_view text, TextIndex* index, size_t* compared) {
  bool want_non_ascii = false;
  const std::vector<Base64Span> want_runs = PlainRuns(text, &want_non_ascii);
  for (ScanLevel level : {ScanLevel::kSse2, ScanLevel::kAvx2, ScanLevel::kAvx512}) {
    if (!utf::internal::CpuSupports(level)) continue;
    BuildTextIndexAt(level, text, index);
    const std::string where = "level " + std::to_string(static_cast<int>(level)) + ", " +
                              std::to_string(text.size()) + " bytes";
    ASSERT_EQ(index->text().data(), text.data()) << where;
    for (size_t from = 0; from <= text.size(); ++from) {
      ASSERT_EQ(index->NextInteresting(from), utf::NextInteresting(text, from))
          << where << ", from " << from;
    }
    EXPECT_EQ(index->base64_runs(), want_runs) << where;
    EXPECT_EQ(index->non_ascii(), want_non_ascii) << where;
    std::vector<Base64Span> runs;
    bool non_ascii = !want_non_ascii;
    internal::FindBase64RunsAt(level, text, &runs, &non_ascii);
    EXPECT_EQ(runs, want_runs) << where;
    EXPECT_EQ(non_ascii, want_non_ascii) << where;
    ++*compared;
  }
  index->Build(text);  // the best level, as the scanner builds it
  for (size_t from = 0; from <= text.size(); ++from)
    ASSERT_EQ(index->NextInteresting(from), utf::NextInteresting(text, from));
  EXPECT_EQ(index->base64_runs(), want_runs);
}

// Random texts made of what the two passes stop at, placed anywhere against
// the 64-byte blocks: base64 runs near the length that counts and across
// block edges, '=' padding, LF after blanks (and CR), control bytes, NULs,
// DEL, valid and invalid UTF-8, hidden characters.
TEST(TextIndex, EveryLevelMatchesThePlainPassesOnRandomText) {
  std::mt19937 rng(64);
  const std::string alphabet = "ABCxyz0189+/_-";
  const std::vector<std::string> pieces = {" ",
                                           "\t",
                                           "\n",
                                           " \n",
                                           "\t\n",
                                           " \r\n",
                                           "\r\n",
                                           "\r",
                                           "\f",
                                           "\v",
                                           "\x01",
                                           std::string(1, '\0'),
                                           "\x7f",
                                           "=",
                                           "==",
                                           "===",
                                           ".",
                                           ",",
                                           "\"",
                                           "\\",
                                           "%",
                                           "\u00e9",
                                           "\u200b",
                                           "\u2060",
                                           "\xff",
                                           "\x80",
                                           "\xe2\x80",
                                           "\xf0\x9f\x98\x80",
                                           "\xed\xa0\x80",
                                           "word",
                                           "key: ",
                                           "\xc3"};
  TextIndex index;
  size_t compared = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string text;
    const size_t target = rng() % 700;
    while (text.size() < target) {
      switch (rng() % 5) {
        case 0:  // a run near the length that counts
          for (size_t k = 24 + rng() % 6; k > 0; --k) text += alphabet[rng() % alphabet.size()];
          break;
        case 1:  // a long run, across block edges
          for (size_t k = 40 + rng() % 200; k > 0; --k) text += alphabet[rng() % alphabet.size()];
          break;
        case 2:  // blank up to a block edge, then a LF on the other side
          text += std::string(63 - text.size() % 64, rng() % 2 == 0 ? ' ' : 'a');
          text += rng() % 2 == 0 ? "\n" : "\r\n";
          break;
        default:
          for (size_t k = 1 + rng() % 8; k > 0; --k) text += pieces[rng() % pieces.size()];
      }
    }
    ExpectSameAsPlain(text, &index, &compared);
  }
  EXPECT_GE(compared, 1500u);
}

// The edges one at a time: empty and short texts, a run of exactly
// kMinBase64Run bytes or one less ending on a block edge, runs filling whole
// blocks, a text that is one run, padding after the last block, and a LF
// whose blank is the last byte of the block before (or two before, past CR).
TEST(TextIndex, EveryLevelMatchesThePlainPassesOnBlockEdges) {
  std::vector<std::string> texts = {
      "",
      "\n",
      " \n",
      "\r\n",
      " \r\n",
      std::string(64, 'A'),
      std::string(128, 'A'),
      std::string(130, 'A') + "==",
      std::string(200, ' '),
      std::string(37, ' ') + std::string(27, 'b'),
      std::string(38, ' ') + std::string(26, 'b') + " ",
      std::string(63, 'c') + "\u00e9",
      std::string(63, ' ') + "\n" + std::string(64, 'x'),
      std::string(62, ' ') + "\r\n" + std::string(64, 'x'),
      std::string(63, '\t') + "\r\n",
      std::string(64, 'a') + "\n",
      std::string(127, 'a') + std::string(1, '\0') + std::string(10, 'a'),
      std::string(60, 'Q') + "=\xff" + std::string(70, 'Q') + "==",
  };
  // A run of every length around kMinBase64Run ending at every offset of a block.
  for (size_t len = kMinBase64Run - 2; len <= kMinBase64Run + 1; ++len) {
    for (size_t end = 60; end <= 140; ++end) {
      std::string t(end - len, '.');
      t += std::string(len, 'K');
      t += "=.";
      texts.push_back(t + std::string(70, '.'));
      texts.push_back(t);
    }
  }
  TextIndex index;
  size_t compared = 0;
  for (const std::string& t : texts) ExpectSameAsPlain(t, &index, &compared);
  // A short text after a long one: nothing of the long one's index is left.
  ExpectSameAsPlain(std::string(1000, '\x01'), &index, &compared);
  ExpectSameAsPlain("ab", &index, &compared);
  EXPECT_GE(compared, texts.size());
}

}  // namespace
}  // namespace glassbox
