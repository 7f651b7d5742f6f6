// TextIndex: one pass over a text for what two later passes look for.
//
// The hidden-text detector stops at every byte utf::NextInteresting() names
// (bytes past ASCII, odd control bytes, a LF after trailing blanks), and the
// secret views decode every run of base64 alphabet bytes long enough to hold a
// key. Each of them used to read every byte of every text on its own. Build()
// reads the text once, 64 bytes at a time: with AVX-512 one load of a block
// gives both its interesting-byte mask (kept, one bit per byte of the text)
// and its base64 alphabet mask (whose long runs are kept). The scanner builds
// one index per text and hands it to both passes; each gets exactly what its
// own pass found (the tests compare the two on random and adversarial texts).
//
// Not thread-safe; one per scanning thread, rebuilt for each text (its memory
// is reused). The text must outlive the index's use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/utf.h"

namespace glassbox {

// No credential is shorter in base64: 27 digits are 20 bytes (an AWS key id).
inline constexpr size_t kMinBase64Run = 27;

// A maximal run text[begin, end) of base64 alphabet bytes ([A-Za-z0-9+/_-]),
// with its '=' padding (at most two) up to padded_end.
struct Base64Span {
  size_t begin = 0;
  size_t end = 0;
  size_t padded_end = 0;
  bool operator==(const Base64Span&) const = default;
};

class TextIndex {
 public:
  // Indexes `text` with the best SIMD level this CPU has.
  void Build(std::string_view text);

  std::string_view text() const { return text_; }

  // utf::NextInteresting(text(), from), from the kept bits.
  size_t NextInteresting(size_t from) const {
    const size_t n = text_.size();
    if (from >= n || none_) return n;
    size_t w = from / 64;
    uint64_t word = interesting_[w] & (~uint64_t{0} << (from % 64));
    while (word == 0) {
      if (++w >= words_) return n;
      word = interesting_[w];
    }
    return w * 64 + static_cast<size_t>(__builtin_ctzll(word));
  }

  // Every maximal run of base64 alphabet bytes at least kMinBase64Run long,
  // in order.
  const std::vector<Base64Span>& base64_runs() const { return runs_; }

  // True when a byte of text() is >= 0x80.
  bool non_ascii() const { return non_ascii_; }

 private:
  friend void BuildTextIndexAt(utf::internal::ScanLevel level, std::string_view text,
                               TextIndex* index);

  std::string_view text_;
  std::vector<uint64_t> interesting_;  // bit i % 64 of word i / 64: byte i is interesting
  size_t words_ = 0;                   // the words of interesting_ that belong to text_
  std::vector<Base64Span> runs_;
  bool non_ascii_ = false;
  bool none_ = true;  // no byte is interesting
};

// The index of `text` built with the loops of one SIMD level (the tests run
// every level the CPU has; AVX-512 is the fused one-pass loop).
void BuildTextIndexAt(utf::internal::ScanLevel level, std::string_view text, TextIndex* index);

// The base64 runs TextIndex keeps, for a text that has no index (a decoded
// value scanned for base64 inside base64); *non_ascii as TextIndex says it.
void FindBase64Runs(std::string_view text, std::vector<Base64Span>* runs, bool* non_ascii);

namespace internal {
// FindBase64Runs with the alphabet masks of one SIMD level.
void FindBase64RunsAt(utf::internal::ScanLevel level, std::string_view text,
                      std::vector<Base64Span>* runs, bool* non_ascii);
}  // namespace internal

}  // namespace glassbox
