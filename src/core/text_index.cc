#include "core/text_index.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/base64.h"
#include "core/interesting_avx2.h"

namespace glassbox {
namespace {

using utf::internal::ScanLevel;

// Collects the long base64 runs of a text from its alphabet masks, 64 bytes
// at a time, and then from its last bytes one at a time. What is carried
// from one chunk to the next is `tail`: how many alphabet bytes in a row end
// the last chunk (their run may go on).
class RunTracker {
 public:
  RunTracker(const unsigned char* p, size_t n, std::vector<Base64Span>* runs)
      : p_(p), n_(n), runs_(runs) {}

  // Most chunks, without a call: true when the chunk at c with alphabet
  // mask m (bit i: p[c + i] is a digit) ends no run long enough and holds
  // none, with *tail carried on; false (and *tail untouched) when Chunk()
  // must record one.
  static bool Quick(uint64_t m, size_t* tail) {
    if (*tail != 0) {
      if (m == ~uint64_t{0}) {  // the run goes on
        *tail += 64;
        return true;
      }
      const auto lead = static_cast<unsigned>(__builtin_ctzll(~m));
      if (*tail + lead >= kMinBase64Run) return false;
      m &= ~uint64_t{0} << lead;  // the short run's end
    }
    // A run of kMinBase64Run bytes inside the chunk covers two whole
    // aligned bytes of m, one after the other. The high bit of byte j of
    // `whole` is set when byte j of m is all ones (and sometimes when it is
    // not: the borrow of the zero-byte test, which only sends a chunk to
    // the full test).
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHighs = 0x8080808080808080ULL;
    const uint64_t gaps = ~m;
    const uint64_t whole = (gaps - kOnes) & ~gaps & kHighs;
    if ((whole & (whole >> 8)) != 0 && Starts(m) != 0) return false;
    *tail = static_cast<size_t>(__builtin_clzll(gaps));  // gaps != 0: Starts(m) would be set
    return true;
  }

  // Bit i: bytes i..i+26 of the chunk (kMinBase64Run) are all in the alphabet.
  static uint64_t Starts(uint64_t m) {
    uint64_t r = m & (m >> 1);
    r &= r >> 2;
    r &= r >> 4;
    r &= r >> 8;  // bit i: bytes i..i+15 are all in the alphabet
    r &= r >> 8;  // bytes i..i+23
    r &= r >> 3;  // bytes i..i+26
    return r;
  }

  // Any chunk: records the runs it ends and carries *tail on.
  void Chunk(uint64_t m, size_t c, size_t* tail) {
    if (*tail != 0) {
      if (m == ~uint64_t{0}) {
        *tail += 64;
        return;
      }
      const auto lead = static_cast<unsigned>(__builtin_ctzll(~m));
      Record(c - *tail, c + lead);
      m &= ~uint64_t{0} << lead;  // lead < 64
      *tail = 0;
    }
    uint64_t r = Starts(m);
    while (r != 0) {
      const auto s = static_cast<unsigned>(__builtin_ctzll(r));
      const uint64_t from_s = m >> s;
      if (from_s == ~uint64_t{0} >> s) {  // it reaches the chunk's end
        *tail = 64 - s;
        return;
      }
      const unsigned e = s + static_cast<unsigned>(__builtin_ctzll(~from_s));  // < 64
      Record(c + s, c + e);
      m &= ~uint64_t{0} << e;
      r &= ~uint64_t{0} << e;
    }
    // A shorter run that reaches the chunk's end may go on in the next one.
    *tail = static_cast<size_t>(__builtin_clzll(~m));
  }

  // The bytes from c on, one at a time, after the whole chunks.
  void Rest(size_t c, size_t tail) {
    size_t open = c - tail;
    for (; c < n_; ++c) {
      if (Base64Digit(p_[c]) >= 0) continue;
      Record(open, c);
      open = c + 1;
    }
    Record(open, n_);
  }

 private:
  // text[s, e) is a maximal run (or empty).
  void Record(size_t s, size_t e) {
    if (e - s < kMinBase64Run) return;
    size_t pad = e;
    while (pad < n_ && p_[pad] == '=' && pad - e < 2) ++pad;
    runs_->push_back(Base64Span{s, e, pad});
  }

  const unsigned char* p_;
  size_t n_;
  std::vector<Base64Span>* runs_;
};

// Bit i of a mask: p[i] is in the alphabet; *high gets non-zero top bits when
// a byte is past ASCII. AVX2 by nibble tables (one shuffle per nibble): bytes
// with a low-nibble flag and a high-nibble flag in common are in
// [0-9A-Za-z+/_-]. Bit 0: '+' '-' '/'; 1: digits; 2: 0x41-0x4F and 0x61-0x6F;
// 3: 0x50-0x5A and 0x70-0x7A; 4: '_'.
constexpr std::array<unsigned char, 16> kLoNibble = {0xA, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE,
                                                     0xE, 0xE, 0xC, 0x5, 0x4, 0x5, 0x4, 0x15};
constexpr std::array<unsigned char, 16> kHiNibble = {0,   0,   0x1, 0x2, 0x4, 0x18, 0x4, 0x8,
                                                     0x0, 0x0, 0,   0,   0,   0,    0,   0};
// A 16-byte lookup table repeated for every 128-bit lane of a wider register.
template <size_t kBytes>
constexpr std::array<unsigned char, kBytes> EveryLane(std::array<unsigned char, 16> table) {
  std::array<unsigned char, kBytes> out{};
  for (size_t k = 0; k < out.size(); ++k) out[k] = table[k % 16];
  return out;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t MaskAvx2(const unsigned char* p, uint32_t* high) {
  static constexpr auto kLo = EveryLane<32>(kLoNibble);
  static constexpr auto kHi = EveryLane<32>(kHiNibble);
  const __m256i lo_tbl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLo.data()));
  const __m256i hi_tbl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kHi.data()));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  uint64_t m = 0;
  for (int b = 0; b < 2; ++b) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * b));
    *high |= static_cast<uint32_t>(_mm256_movemask_epi8(v));
    const __m256i lo = _mm256_shuffle_epi8(lo_tbl, v);  // 0 for bytes >= 0x80
    const __m256i hi =
        _mm256_shuffle_epi8(hi_tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
    const __m256i none = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256());
    m |= static_cast<uint64_t>(~static_cast<uint32_t>(_mm256_movemask_epi8(none))) << (32 * b);
  }
  return m;
}

// The same mask from one 64-byte register: the two nibble lookups and their
// test give the mask bits directly (vptestmb).
__attribute__((target("avx512f,avx512bw"))) inline uint64_t AlphabetAvx512(__m512i v) {
  static constexpr auto kLo = EveryLane<64>(kLoNibble);
  static constexpr auto kHi = EveryLane<64>(kHiNibble);
  const __m512i lo_tbl = _mm512_loadu_si512(kLo.data());
  const __m512i hi_tbl = _mm512_loadu_si512(kHi.data());
  const __m512i lo = _mm512_shuffle_epi8(lo_tbl, v);  // 0 for bytes >= 0x80
  const __m512i hi = _mm512_shuffle_epi8(
      hi_tbl, _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)));
  return _mm512_test_epi8_mask(lo, hi);
}
__attribute__((target("avx512f,avx512bw"))) uint64_t MaskAvx512(const unsigned char* p,
                                                                uint32_t* high) {
  const __m512i v = _mm512_loadu_si512(p);
  *high |= static_cast<uint32_t>(_mm512_movepi8_mask(v) != 0);
  return AlphabetAvx512(v);
}
#endif

uint64_t MaskPortable(const unsigned char* p, uint32_t* high) {
#if defined(__SSE2__)
  uint64_t m = 0;
  for (int b = 0; b < 4; ++b) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * b));
    *high |= static_cast<uint32_t>(_mm_movemask_epi8(v));
    auto in_range = [&](char lo, char hi) {
      const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(lo));
      return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(static_cast<char>(hi - lo))), t);
    };
    __m128i hit =
        _mm_or_si128(_mm_or_si128(in_range('A', 'Z'), in_range('a', 'z')), in_range('+', '9'));
    hit =
        _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')), hit);  // '+'..'9' holds ',' and '.'
    hit = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), hit);
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    m |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(hit))) << (16 * b);
  }
  return m;
#else
  uint64_t m = 0;
  for (int i = 0; i < 64; ++i) {
    m |= static_cast<uint64_t>(Base64Digit(p[i]) >= 0) << i;
    *high |= p[i] >> 7;
  }
  return m;
#endif
}

using MaskFn = uint64_t (*)(const unsigned char*, uint32_t*);
MaskFn MaskAt(ScanLevel level) {
#if defined(__x86_64__)
  if (level == ScanLevel::kAvx512) return MaskAvx512;
  if (level == ScanLevel::kAvx2) return MaskAvx2;
#endif
  (void)level;
  return MaskPortable;
}

// The best level this CPU has.
ScanLevel BestLevel() {
  for (ScanLevel level : {ScanLevel::kAvx512, ScanLevel::kAvx2}) {
    if (utf::internal::CpuSupports(level)) return level;
  }
  return ScanLevel::kSse2;
}

// Base64 runs from the masks of one level; the bytes after the last whole
// chunk one at a time.
void FindRuns(MaskFn mask, std::string_view text, std::vector<Base64Span>* runs, bool* non_ascii) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  RunTracker tracker(p, n, runs);
  uint32_t high = 0;
  size_t tail = 0;
  size_t c = 0;
  for (; c + 64 <= n; c += 64) {
    const uint64_t m = mask(p + c, &high);
    if (!RunTracker::Quick(m, &tail)) tracker.Chunk(m, c, &tail);
  }
  tracker.Rest(c, tail);
  for (; c < n; ++c) high |= p[c] >> 7;
  *non_ascii = high != 0;
}

// The interesting bits of text[from, n) from utf::NextInteresting of a level
// (the words covering them must be zero).
void MarkInteresting(ScanLevel level, std::string_view text, size_t from, uint64_t* bits) {
  for (size_t i = utf::internal::NextInterestingAt(level, text, from); i < text.size();
       i = utf::internal::NextInterestingAt(level, text, i + 1)) {
    bits[i / 64] |= uint64_t{1} << (i % 64);
  }
}

#if defined(__x86_64__)
// The fused loop: per 64-byte block one load, the interesting-byte mask (the
// tests of utf's ScanBlocks loops, the LF's predecessors from the masks of
// this block and the last one, not from two more loads) and the alphabet
// mask. The last block is loaded masked (the bytes past the end read as
// zeros and their bits are cleared). From block state->c on, it stops at a
// block whose base64 runs need RunTracker::Chunk (returning true and its
// alphabet mask, with state->c at it and its interesting bits kept) or at
// the end (false): the loop itself calls nothing, so its constants stay in
// registers.
struct BlockState {
  size_t c = 0;
  size_t tail = 0;          // RunTracker's
  uint64_t last_blank = 0;  // the space-or-tab and CR masks of the block before c
  uint64_t last_cr = 0;
  uint64_t high = 0;  // the top bits of the blocks read
  uint64_t any = 0;   // the interesting bits of the blocks read
};
__attribute__((target("avx512f,avx512bw"))) bool IndexBlocksAvx512(const unsigned char* p, size_t n,
                                                                   uint64_t* bits,
                                                                   BlockState* state,
                                                                   uint64_t* stopped_mask) {
  const __m512i k20 = _mm512_set1_epi8(0x20);
  const __m512i k_del = _mm512_set1_epi8(0x7F);
  const __m512i k_lf = _mm512_set1_epi8('\n');
  const __m512i k_cr = _mm512_set1_epi8('\r');
  const __m512i k_tab = _mm512_set1_epi8('\t');
  const __m512i k_ff = _mm512_set1_epi8('\f');
  const __m512i k_sp = _mm512_set1_epi8(' ');
  BlockState s = *state;
  bool stopped = false;
  for (; s.c < n; s.c += 64) {
    uint64_t valid = ~uint64_t{0};
    __m512i v;
    if (n - s.c >= 64) {
      v = _mm512_loadu_si512(p + s.c);
    } else {
      valid = (uint64_t{1} << (n - s.c)) - 1;
      v = _mm512_maskz_loadu_epi8(valid, p + s.c);
    }
    const __mmask64 top = _mm512_movepi8_mask(v);
    const __mmask64 ctrl = _mm512_cmplt_epu8_mask(v, k20);
    const __mmask64 lf = _mm512_cmpeq_epi8_mask(v, k_lf);
    const __mmask64 cr = _mm512_cmpeq_epi8_mask(v, k_cr);
    const __mmask64 tab = _mm512_cmpeq_epi8_mask(v, k_tab);
    const uint64_t blank = _mm512_cmpeq_epi8_mask(v, k_sp) | tab;
    // Bytes >= 0x80, DEL, control bytes other than TAB LF FF CR, and a LF
    // after a space or tab, or after CR after one.
    const uint64_t blank1 = (blank << 1) | (s.last_blank >> 63);
    const uint64_t blank2 = (blank << 2) | (s.last_blank >> 62);
    const uint64_t cr1 = (uint64_t{cr} << 1) | (s.last_cr >> 63);
    const uint64_t hit = (top | _mm512_cmpeq_epi8_mask(v, k_del) |
                          (ctrl & ~(lf | cr | tab | _mm512_cmpeq_epi8_mask(v, k_ff))) |
                          (lf & (blank1 | (cr1 & blank2)))) &
                         valid;
    bits[s.c / 64] = hit;
    s.any |= hit;
    s.last_blank = blank;
    s.last_cr = cr;
    s.high |= top;
    const uint64_t m = AlphabetAvx512(v);  // 0 for the zeros past the end
    if (!RunTracker::Quick(m, &s.tail)) {
      *stopped_mask = m;
      stopped = true;
      break;
    }
  }
  *state = s;
  return stopped;
}

// The same with two 32-byte halves per block (for CPUs without AVX-512, and
// valgrind): InterestingAvx2, the test ScanBlocksAvx2 makes (a LF's
// predecessors by loads one and two bytes back), one movemask for the
// interesting bytes and one for the alphabet. The first block (nothing
// before it to load) and the last partial one are copied into a zeroed
// buffer first.
__attribute__((target("avx2"))) bool IndexBlocksAvx2(const unsigned char* p, size_t n,
                                                     uint64_t* bits, BlockState* state,
                                                     uint64_t* stopped_mask) {
  static constexpr auto kLo = EveryLane<32>(kLoNibble);
  static constexpr auto kHi = EveryLane<32>(kHiNibble);
  const __m256i lo_tbl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLo.data()));
  const __m256i hi_tbl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kHi.data()));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  // [0, 2): the two bytes before the copied block; [2, 66): the block.
  alignas(32) std::array<unsigned char, 96> copy{};
  __m256i high = _mm256_setzero_si256();
  BlockState s = *state;
  bool stopped = false;
  for (; s.c < n; s.c += 64) {
    const unsigned char* block = p + s.c;
    uint64_t valid = ~uint64_t{0};
    if (s.c < 2 || n - s.c < 64) {
      copy.fill(0);
      for (size_t k = 1; k <= 2 && k <= s.c; ++k) copy[2 - k] = p[s.c - k];
      std::memcpy(copy.data() + 2, p + s.c, std::min<size_t>(n - s.c, 64));
      block = copy.data() + 2;
      if (n - s.c < 64) valid = (uint64_t{1} << (n - s.c)) - 1;
    }
    uint64_t hit = 0;
    uint64_t m = 0;
    for (int half = 0; half < 2; ++half) {
      const unsigned char* b = block + 32 * half;
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i odd = utf::internal::InterestingAvx2(v, b);
      hit |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(odd))) << (32 * half);
      high = _mm256_or_si256(high, v);
      const __m256i lo = _mm256_shuffle_epi8(lo_tbl, v);  // 0 for bytes >= 0x80
      const __m256i hi =
          _mm256_shuffle_epi8(hi_tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
      const __m256i none = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256());
      m |= static_cast<uint64_t>(~static_cast<uint32_t>(_mm256_movemask_epi8(none))) << (32 * half);
    }
    hit &= valid;
    m &= valid;
    bits[s.c / 64] = hit;
    s.any |= hit;
    if (!RunTracker::Quick(m, &s.tail)) {
      *stopped_mask = m;
      stopped = true;
      break;
    }
  }
  s.high |= static_cast<uint32_t>(_mm256_movemask_epi8(high));
  *state = s;
  return stopped;
}

using IndexBlocksFn = bool (*)(const unsigned char*, size_t, uint64_t*, BlockState*, uint64_t*);
#endif

}  // namespace

void BuildTextIndexAt(ScanLevel level, std::string_view text, TextIndex* index) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  index->text_ = text;
  index->words_ = (n + 63) / 64;
  if (index->interesting_.size() < index->words_) index->interesting_.resize(index->words_);
  uint64_t* bits = index->interesting_.data();
  index->runs_.clear();
#if defined(__x86_64__)
  if (level == ScanLevel::kAvx512 || level == ScanLevel::kAvx2) {
    const IndexBlocksFn blocks = level == ScanLevel::kAvx512 ? IndexBlocksAvx512 : IndexBlocksAvx2;
    RunTracker tracker(p, n, &index->runs_);
    BlockState state;
    uint64_t m = 0;
    while (blocks(p, n, bits, &state, &m)) {
      tracker.Chunk(m, state.c, &state.tail);
      state.c += 64;
    }
    tracker.Rest(n, state.tail);  // a run up to the end
    index->non_ascii_ = state.high != 0;
    index->none_ = state.any == 0;
    return;
  }
#endif
  std::fill(bits, bits + index->words_, uint64_t{0});
  MarkInteresting(level, text, 0, bits);
  index->none_ = std::all_of(bits, bits + index->words_, [](uint64_t w) { return w == 0; });
  FindRuns(MaskAt(level), text, &index->runs_, &index->non_ascii_);
}

void TextIndex::Build(std::string_view text) {
  static const ScanLevel level = BestLevel();  // chosen once for this CPU
  BuildTextIndexAt(level, text, this);
}

void FindBase64Runs(std::string_view text, std::vector<Base64Span>* runs, bool* non_ascii) {
  static const MaskFn mask = MaskAt(BestLevel());
  runs->clear();
  FindRuns(mask, text, runs, non_ascii);
}

namespace internal {

void FindBase64RunsAt(ScanLevel level, std::string_view text, std::vector<Base64Span>* runs,
                      bool* non_ascii) {
  runs->clear();
  FindRuns(MaskAt(level), text, runs, non_ascii);
}

}  // namespace internal

}  // namespace glassbox
