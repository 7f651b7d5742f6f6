#include "core/secret_views.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/base64.h"
#include "core/json_strings.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox {
namespace {

constexpr size_t kMinBase64Run = 27;       // 20 decoded bytes (an AWS key id): no key is shorter
constexpr size_t kMaxBase64Run = 1 << 16;  // a larger run is data, not a credential
constexpr size_t kMaxDecodedPerText = 4 << 20;
constexpr size_t kMaxLinePrefix = 160;  // context kept before a decoded value ("password: ")

bool Overlaps(const Finding& a, uint64_t begin, uint64_t end) {
  return a.byte_offset < end && begin < a.byte_offset + std::max<uint64_t>(a.byte_length, 1);
}

bool AlreadyFound(const std::vector<Finding>& already, const std::string& rule, uint64_t begin,
                  uint64_t end) {
  for (const Finding& f : already) {
    if (f.rule == rule && Overlaps(f, begin, end)) return true;
  }
  return false;
}

// Where the bytes of a view with characters removed came from: the view is
// the text's pieces between the removed characters, one after the other, and
// each piece is kept as (its offset in the view, its offset in the text). A
// map of every byte cost a quarter of the invisible view's instructions; the
// few findings are mapped by a binary search.
class ViewSource {
 public:
  void AddPiece(size_t view_offset, size_t text_offset) {
    pieces_.emplace_back(view_offset, text_offset);
  }
  // The offset in the text of view byte k.
  uint64_t At(size_t k) const {
    auto it =
        std::upper_bound(pieces_.begin(), pieces_.end(), std::pair<size_t, size_t>(k, ~size_t{0}));
    --it;  // the first piece starts at view offset 0
    return it->second + (k - it->first);
  }

 private:
  std::vector<std::pair<size_t, size_t>> pieces_;
};

// The text with every hiding character removed; source->At(k) is the offset
// in `text` of view byte k. False (and nothing filled) when nothing was
// removed.
bool WithoutHidden(std::string_view text, bool known_ascii, std::string* view, ViewSource* source) {
  if (known_ascii || utf::IsAscii(text)) return false;  // every hiding character is outside ASCII
  const UnicodeData& data = UnicodeData::Get();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t copied = 0;  // text[0, copied) is in the view
  bool removed = false;
  for (size_t i = utf::NextInteresting(text, 0); i < text.size();
       i = utf::NextInteresting(text, i)) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, text.size() - i, &len);
    if (cp >= 0 && IsHiddenClass(data.Classify(static_cast<char32_t>(cp)))) {
      if (!removed) view->reserve(text.size());
      removed = true;
      source->AddPiece(view->size(), copied);
      view->append(text.substr(copied, i - copied));
      copied = i + len;
    }
    i += std::max<size_t>(len, 1);
  }
  if (!removed) return false;
  source->AddPiece(view->size(), copied);
  view->append(text.substr(copied));
  return true;
}

// The value of a base64 digit (standard or URL-safe alphabet), or -1.
// Finding runs of kMinBase64Run or more alphabet bytes, 64 bytes at a time.
// A 64-bit mask marks the alphabet bytes of a chunk; `r` keeps the bits that
// start kMinBase64Run alphabet bytes in a row. Returns the start of the first such run
// at or after k (a run that began before k, in a chunk already passed, is
// found through *tail: the alphabet bytes that ended that chunk), or the
// offset where fewer than 64 bytes are left.
inline size_t FirstCandidate(uint64_t m, size_t k, size_t* tail) {
  if (*tail > 0) {
    const size_t lead = m == ~uint64_t{0} ? 64 : static_cast<size_t>(__builtin_ctzll(~m));
    if (*tail + lead >= kMinBase64Run) return k - *tail;
  }
  // Most chunks first: kMinBase64Run bytes in a row cover two whole aligned
  // bytes of m, one after the other. The high bit of byte j of `whole` is set
  // when byte j of m is all ones (and sometimes when it is not: the borrow
  // of the zero-byte test, which only sends a chunk to the full test below).
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t gaps = ~m;
  const uint64_t whole = (gaps - kOnes) & ~gaps & kHighs;
  if ((whole & (whole >> 8)) == 0) {
    *tail = static_cast<size_t>(__builtin_clzll(gaps));  // gaps != 0: whole would be all set
    return std::string::npos;
  }
  uint64_t r = m & (m >> 1);
  r &= r >> 2;
  r &= r >> 4;
  r &= r >> 8;  // bit i: bytes i..i+15 are all in the alphabet
  r &= r >> 8;  // bytes i..i+23
  r &= r >> 3;  // bytes i..i+26 (kMinBase64Run)
  if (r != 0) return k + static_cast<size_t>(__builtin_ctzll(r));
  *tail = static_cast<size_t>(__builtin_clzll(~m));  // (an all-alphabet chunk has r != 0)
  return std::string::npos;
}

// Bit i of a mask: p[i] is in the alphabet. AVX2 by nibble tables (one
// shuffle per nibble): bytes with a low-nibble flag and a high-nibble flag in
// common are in [0-9A-Za-z+/_-]. Bit 0: '+' '-' '/'; 1: digits; 2: 0x41-0x4F
// and 0x61-0x6F; 3: 0x50-0x5A and 0x70-0x7A; 4: '_'.
#if defined(__x86_64__)
// *high gets the top bits of the 64 bytes (non-zero: a byte past ASCII).
__attribute__((target("avx2"))) inline uint64_t MaskAvx2(const unsigned char* p, uint32_t* high) {
  const __m256i lo_tbl = _mm256_setr_epi8(0xA, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xC,
                                          0x5, 0x4, 0x5, 0x4, 0x15, 0xA, 0xE, 0xE, 0xE, 0xE, 0xE,
                                          0xE, 0xE, 0xE, 0xE, 0xC, 0x5, 0x4, 0x5, 0x4, 0x15);
  const __m256i hi_tbl =
      _mm256_setr_epi8(0, 0, 0x1, 0x2, 0x4, 0x18, 0x4, 0x8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1, 0x2,
                       0x4, 0x18, 0x4, 0x8, 0, 0, 0, 0, 0, 0, 0, 0);
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
__attribute__((target("avx2"))) uint64_t AlphabetMaskAvx2(const unsigned char* p) {
  uint32_t high = 0;
  return MaskAvx2(p, &high);
}
__attribute__((target("avx2"))) size_t NextCandidateAvx2(const unsigned char* p, size_t n,
                                                         size_t* pos, size_t* tail,
                                                         uint32_t* high) {
  // The state lives in registers while the loop runs, written back once
  // (through the pointers, each chunk cost three loads and stores).
  size_t k = *pos;
  size_t t = *tail;
  uint32_t h = *high;
  size_t found = std::string::npos;
  for (; k + 64 <= n; k += 64) {
    found = FirstCandidate(MaskAvx2(p + k, &h), k, &t);
    if (found != std::string::npos) break;  // *pos stays at the chunk it is in
  }
  *pos = k;
  *tail = t;
  *high = h;
  return found;
}
// A 16-byte lookup table repeated for the four lanes of a 64-byte register.
constexpr std::array<unsigned char, 64> EveryLane(std::array<unsigned char, 16> table) {
  std::array<unsigned char, 64> out{};
  for (size_t k = 0; k < out.size(); ++k) out[k] = table[k % 16];
  return out;
}
// The same mask from one 64-byte register: the two nibble lookups and their
// test give the mask bits directly (vptestmb), and the top bits come from
// one vpmovb2m; a third of the AVX2 loop's instructions per chunk.
__attribute__((target("avx512f,avx512bw,bmi,bmi2"))) inline uint64_t MaskAvx512(
    const unsigned char* p, uint32_t* high) {
  // The AVX2 tables, once per 128-bit lane (vpshufb looks up within lanes).
  static constexpr auto kLo =
      EveryLane({0xA, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xE, 0xC, 0x5, 0x4, 0x5, 0x4, 0x15});
  static constexpr auto kHi =
      EveryLane({0, 0, 0x1, 0x2, 0x4, 0x18, 0x4, 0x8, 0, 0, 0, 0, 0, 0, 0, 0});
  const __m512i lo_tbl = _mm512_loadu_si512(kLo.data());
  const __m512i hi_tbl = _mm512_loadu_si512(kHi.data());
  const __m512i v = _mm512_loadu_si512(p);
  *high |= static_cast<uint32_t>(_mm512_movepi8_mask(v) != 0);
  const __m512i lo = _mm512_shuffle_epi8(lo_tbl, v);  // 0 for bytes >= 0x80
  const __m512i hi = _mm512_shuffle_epi8(
      hi_tbl, _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)));
  return _mm512_test_epi8_mask(lo, hi);
}
__attribute__((target("avx512f,avx512bw,bmi,bmi2"))) uint64_t AlphabetMaskAvx512(
    const unsigned char* p) {
  uint32_t high = 0;
  return MaskAvx512(p, &high);
}
__attribute__((target("avx512f,avx512bw,bmi,bmi2"))) size_t NextCandidateAvx512(
    const unsigned char* p, size_t n, size_t* pos, size_t* tail, uint32_t* high) {
  size_t k = *pos;
  size_t t = *tail;
  uint32_t h = *high;
  size_t found = std::string::npos;
  for (; k + 64 <= n; k += 64) {
    found = FirstCandidate(MaskAvx512(p + k, &h), k, &t);
    if (found != std::string::npos) break;
  }
  *pos = k;
  *tail = t;
  *high = h;
  return found;
}
#endif

uint64_t AlphabetMaskPortable(const unsigned char* p, uint32_t* high) {
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
uint64_t AlphabetMaskPortable(const unsigned char* p) {
  uint32_t high = 0;
  return AlphabetMaskPortable(p, &high);
}

size_t NextCandidatePortable(const unsigned char* p, size_t n, size_t* pos, size_t* tail,
                             uint32_t* high) {
  for (size_t k = *pos; k + 64 <= n; k += 64) {
    const size_t c = FirstCandidate(AlphabetMaskPortable(p + k, high), k, tail);
    if (c != std::string::npos) return c;
    *pos = k + 64;
  }
  return std::string::npos;
}

// The start of the next run worth decoding from *pos on, or npos with *pos
// where fewer than 64 bytes are left. Every chunk read ORs its top bits into
// *high: non-zero once one held a byte past ASCII.
using NextCandidateFn = size_t (*)(const unsigned char*, size_t, size_t* pos, size_t* tail,
                                   uint32_t* high);
using AlphabetMaskFn = uint64_t (*)(const unsigned char*);
struct CandidateSearch {
  NextCandidateFn next_candidate;
  AlphabetMaskFn alphabet_mask;
};
// The loops for a SIMD level (the levels of core/utf.h, so that the tests
// run each level the CPU has).
CandidateSearch CandidateSearchAt(utf::internal::ScanLevel level) {
#if defined(__x86_64__)
  if (level == utf::internal::ScanLevel::kAvx512) return {NextCandidateAvx512, AlphabetMaskAvx512};
  if (level == utf::internal::ScanLevel::kAvx2) return {NextCandidateAvx2, AlphabetMaskAvx2};
#endif
  (void)level;
  return {NextCandidatePortable, AlphabetMaskPortable};
}
// The best level this CPU has (the AVX-512 loop also uses BMI2 for its bit
// arithmetic).
CandidateSearch PickCandidateSearch() {
  using utf::internal::ScanLevel;
#if defined(__x86_64__)
  if (utf::internal::CpuSupports(ScanLevel::kAvx512) && __builtin_cpu_supports("bmi2"))
    return CandidateSearchAt(ScanLevel::kAvx512);
#endif
  if (utf::internal::CpuSupports(ScanLevel::kAvx2)) return CandidateSearchAt(ScanLevel::kAvx2);
  return CandidateSearchAt(ScanLevel::kSse2);
}

// Calls on_run(s, e, pad) for every run of base64 alphabet bytes text[s, e)
// that may be kMinBase64Run long (every longer one, and the shorter ones the
// last 63 bytes hold), with its '=' padding up to `pad`; on_run returns a
// Status, and the first error stops the walk. *non_ascii, when given: the
// text holds a byte past ASCII (every byte is looked at on the way). 64
// bytes at a time: a chunk is skipped unless a run of kMinBase64Run alphabet
// bytes starts in it or continues into it (most text: identifiers are
// shorter); then only that run is looked at.
template <typename OnRun>
Status ForEachBase64Run(std::string_view text, const CandidateSearch& search, bool* non_ascii,
                        OnRun on_run) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto run_at = [&](size_t s, size_t* next) {
    size_t e = s;
    while (e + 64 <= n) {  // whole chunks of the run at a time
      const uint64_t m = search.alphabet_mask(p + e);
      if (m != ~uint64_t{0}) {
        e += static_cast<size_t>(__builtin_ctzll(~m));
        break;
      }
      e += 64;
    }
    while (e < n && Base64Digit(p[e]) >= 0) ++e;
    size_t pad = e;
    while (pad < n && p[pad] == '=' && pad - e < 2) ++pad;
    *next = pad;
    return on_run(s, e, pad);
  };
  size_t k = 0;
  size_t tail = 0;  // alphabet bytes just before k
  // Top bits of the chunks read; a run consumed is alphabet bytes, ASCII.
  uint32_t high = 0;
  while (k + 64 <= n) {
    const size_t s = search.next_candidate(p, n, &k, &tail, &high);
    if (s == std::string::npos) break;
    Status st = run_at(s, &k);
    if (!st.ok()) return st;
    tail = 0;  // the run was consumed whole; k is past it
  }
  while (k < n) {
    if (Base64Digit(p[k]) < 0) {
      high |= p[k] >> 7;
      ++k;
      continue;
    }
    const size_t s = k - std::min(tail, k);
    tail = 0;
    Status st = run_at(s, &k);
    if (!st.ok()) return st;
  }
  if (non_ascii != nullptr) *non_ascii = high != 0;
  return Status::Ok();
}

// Decodes standard or URL-safe base64 (padding optional). False when the
// result is not text: a decoded secret is printable ASCII.
bool DecodeBase64Text(std::string_view run, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t printable = 0;
  for (unsigned char c : run) {
    if (c == '=') break;
    // Most runs are identifiers, hashes or images: give up on the first
    // bytes that are not text, before decoding the rest.
    if (out->size() == 24 && printable < 23) return false;
    const int v = Base64Digit(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const auto b = static_cast<unsigned char>((acc >> bits) & 0xFF);
      out->push_back(static_cast<char>(b));
      if ((b >= 0x20 && b < 0x7F) || b == '\n' || b == '\r' || b == '\t') ++printable;
    }
  }
  return out->size() >= 16 && printable * 100 >= out->size() * 97;
}

class Views {
 public:
  Views(const SecretScanner& scanner, SecretScratch& scratch, const std::vector<Finding>& already,
        std::vector<Finding>* out)
      : scanner_(scanner), scratch_(scratch), already_(already), out_(out) {}

  // known_ascii: the text is known to be all ASCII (nothing to look for).
  Status Invisible(std::string_view text, bool known_ascii) {
    std::string view;
    ViewSource source;
    if (!WithoutHidden(text, known_ascii, &view, &source)) return Status::Ok();
    found_.clear();
    Status st = scanner_.Scan(view, scratch_, &found_);
    if (!st.ok()) return st;
    for (Finding& f : found_) {
      const size_t vb = std::min<size_t>(f.byte_offset, view.size());
      const size_t ve = std::min<size_t>(vb + std::max<uint64_t>(f.byte_length, 1), view.size());
      if (ve <= vb) continue;
      const uint64_t ob = source.At(vb);
      const uint64_t oe = source.At(ve - 1) + 1;
      if (oe - ob == ve - vb) continue;  // nothing hidden inside: the plain scan sees it
      f.byte_offset = ob;
      f.byte_length = oe - ob;
      f.message += " (split by invisible characters)";
      out_->push_back(std::move(f));
    }
    return Status::Ok();
  }

  // known: EscapedJsonStrings(text) when the caller has them, else null.
  Status JsonEscapes(std::string_view text, const std::vector<EscapedJsonString>* known) {
    if (text.find("\\u") == std::string_view::npos) return Status::Ok();
    std::vector<EscapedJsonString> walked;
    if (known == nullptr) walked = EscapedJsonStrings(text);
    for (const auto& [open, decoded] : known != nullptr ? *known : walked) {
      size_t close = open + 1;
      while (close < text.size() && text[close] != '"') close += text[close] == '\\' ? 2 : 1;
      const std::string_view raw = text.substr(open, std::min(close + 1, text.size()) - open);
      found_.clear();
      Status st = scanner_.Scan(decoded, scratch_, &found_);
      if (!st.ok()) return st;
      for (Finding& f : found_) {
        const std::string_view secret = std::string_view(decoded).substr(
            std::min<size_t>(f.byte_offset, decoded.size()), f.byte_length);
        if (raw.find(secret) != std::string_view::npos) continue;  // not hidden by the escapes
        f.byte_offset = open;
        f.byte_length = raw.size();
        f.message += " (written with JSON \\u escapes)";
        out_->push_back(std::move(f));
      }
    }
    return Status::Ok();
  }

  // Base64 runs of `text`, decoded and scanned (with the line's start for
  // context: "AWS_SECRET_ACCESS_KEY: " + the decoded value). Findings are
  // reported on [report_begin, report_end) when set (a run inside a decoded
  // run), else on the run itself. *non_ascii, when given: the text holds a
  // byte past ASCII (every byte is looked at on the way).
  Status Base64(std::string_view text, int depth, uint64_t report_begin, uint64_t report_end,
                bool* non_ascii = nullptr) {
    static const CandidateSearch search = PickCandidateSearch();
    return ForEachBase64Run(text, search, non_ascii, [&](size_t s, size_t e, size_t pad) {
      return Base64Run(text, s, e, pad, depth, report_begin, report_end);
    });
  }

  // The run text[s, e) with its padding up to `k`.
  Status Base64Run(std::string_view text, size_t s, size_t e, size_t k, int depth,
                   uint64_t report_begin, uint64_t report_end) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    if (e - s < kMinBase64Run || e - s > kMaxBase64Run) return Status::Ok();
    // Text encodes to quads whose first digit holds the top six bits of a
    // byte below 0x80 (2..31 for tab, newline and printable ASCII): most
    // identifiers, hashes and binary data fail this within a few quads.
    for (size_t q = s; q + 4 <= e && q < s + 4 * 8; q += 4) {
      const int v = Base64Digit(p[q]);
      if (v < 2 || v > 31) return Status::Ok();
    }
    bool upper = false, lower = false;
    for (size_t q = s; q < e && !(upper && lower); ++q) {
      upper |= p[q] >= 'A' && p[q] <= 'Z';
      lower |= p[q] >= 'a' && p[q] <= 'z';
    }
    if (!upper || !lower) return Status::Ok();
    if (s > 0 && (p[s - 1] == '\\' || p[s - 1] == '%'))
      return Status::Ok();  // an escape, not a value
    std::string decoded;
    if (decoded_total_ > kMaxDecodedPerText || !DecodeBase64Text(text.substr(s, e - s), &decoded)) {
      return Status::Ok();
    }
    decoded_total_ += decoded.size();
    size_t line = s;
    while (line > 0 && s - line < kMaxLinePrefix && p[line - 1] != '\n') --line;
    std::string view(text.substr(line, s - line));
    const size_t prefix = view.size();
    view += decoded;
    view += '\n';
    const uint64_t rb = report_end > report_begin ? report_begin : s;
    const uint64_t re = report_end > report_begin ? report_end : k;
    std::vector<Finding> found;
    Status st = scanner_.Scan(view, scratch_, &found);
    if (!st.ok()) return st;
    for (Finding& f : found) {
      if (f.byte_offset + f.byte_length <= prefix) continue;  // found in the context alone
      if (AlreadyFound(already_, f.rule, rb, re)) continue;
      f.byte_offset = rb;
      f.byte_length = re - rb;
      f.message += " (base64-encoded)";
      out_->push_back(std::move(f));
    }
    if (depth > 1) return Base64(decoded, depth - 1, rb, re);
    return Status::Ok();
  }

 private:
  const SecretScanner& scanner_;
  SecretScratch& scratch_;
  const std::vector<Finding>& already_;
  std::vector<Finding>* out_;
  std::vector<Finding> found_;
  size_t decoded_total_ = 0;
};

}  // namespace

Status ScanSecretViews(const SecretScanner& scanner, std::string_view text,
                       const SecretViewOptions& options, SecretScratch& scratch,
                       const std::vector<Finding>& already, std::vector<Finding>* out) {
  // The base64 view is looked at first: its pass reads every byte and says
  // on the way whether the text is all ASCII, which spares the invisible
  // view a pass of its own (a third of a byte's instructions). Its findings
  // still come last, as when it ran last.
  std::vector<Finding> from_base64;
  bool non_ascii = true;
  Status base64 = Status::Ok();
  if (options.max_decode_depth > 0) {
    Views views(scanner, scratch, already, &from_base64);
    base64 = views.Base64(text, options.max_decode_depth, 0, 0, &non_ascii);
  }
  const bool known_ascii = options.max_decode_depth > 0 && base64.ok() && !non_ascii;
  Views views(scanner, scratch, already, out);
  Status st = views.Invisible(text, known_ascii);
  if (st.ok() && options.json == JsonSyntax::kDocument)
    st = views.JsonEscapes(text, options.json_strings);
  if (!st.ok()) return st;
  out->insert(out->end(), std::make_move_iterator(from_base64.begin()),
              std::make_move_iterator(from_base64.end()));
  return base64;
}

namespace internal {

std::vector<std::pair<size_t, size_t>> Base64RunsAt(utf::internal::ScanLevel level,
                                                    std::string_view text, bool* non_ascii) {
  std::vector<std::pair<size_t, size_t>> runs;
  (void)ForEachBase64Run(text, CandidateSearchAt(level), non_ascii,
                         [&](size_t s, size_t e, size_t /*pad*/) {
                           if (e - s >= kMinBase64Run) runs.emplace_back(s, e);
                           return Status::Ok();
                         });
  return runs;
}

}  // namespace internal

}  // namespace glassbox
