// The bytes utf::NextInteresting stops at, 32 at a time with AVX2: shared by
// utf.cc's block scan and TextIndex's one-pass loop, so the two cannot
// disagree on what is interesting.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

namespace glassbox::utf::internal {

// The mask (0xFF per byte) of the interesting bytes among the 32 at `p`,
// already loaded in `v`: control bytes other than TAB LF FF CR, DEL, bytes
// >= 0x80, and a LF after a space or tab (or after CR after one). Reads
// p[-2] and p[-1] when the block holds a LF, so p must have two bytes before it.
__attribute__((target("avx2"))) inline __m256i InterestingAvx2(__m256i v, const unsigned char* p) {
  const __m256i k_sp = _mm256_set1_epi8(' ');
  const __m256i k_tab = _mm256_set1_epi8('\t');
  // Signed compare: bytes >= 0x80 are negative and count as "< 0x20" too.
  const __m256i low = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);
  // TAB LF FF CR (9..13 without VT) are allowed by themselves.
  const __m256i t = _mm256_sub_epi8(v, _mm256_set1_epi8(9));
  const __m256i allowed =
      _mm256_andnot_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(11)),
                          _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(4)), t));
  __m256i hit = _mm256_or_si256(_mm256_andnot_si256(allowed, low),
                                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7F)));
  const __m256i lf = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n'));
  if (_mm256_movemask_epi8(lf) != 0) {
    const __m256i p1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p - 1));
    const __m256i p2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p - 2));
    const __m256i ws1 = _mm256_or_si256(_mm256_cmpeq_epi8(p1, k_sp), _mm256_cmpeq_epi8(p1, k_tab));
    const __m256i ws2 = _mm256_or_si256(_mm256_cmpeq_epi8(p2, k_sp), _mm256_cmpeq_epi8(p2, k_tab));
    const __m256i cr1 = _mm256_cmpeq_epi8(p1, _mm256_set1_epi8('\r'));
    hit = _mm256_or_si256(hit,
                          _mm256_and_si256(lf, _mm256_or_si256(ws1, _mm256_and_si256(cr1, ws2))));
  }
  return hit;
}

}  // namespace glassbox::utf::internal
#endif
