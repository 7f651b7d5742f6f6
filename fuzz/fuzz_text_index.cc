// Fuzzes TextIndex, the one-pass index the scanner builds of every text:
// each SIMD level this CPU has (AVX-512 is the fused loop) against the
// separate passes it stands in for.
// Input: the text itself; the index is reused across inputs, as a scanning
// thread reuses its own.
// Checks: NextInteresting(from) equals utf::NextInteresting from every
// offset; the base64 runs and the non-ASCII flag equal those of the SSE2
// level (whose runs come from the byte-at-a-time alphabet walk), both through
// the index and through FindBase64Runs.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/text_index.h"
#include "core/utf.h"
#include "fuzz_check.h"

using glassbox::Base64Span;
using glassbox::TextIndex;
using glassbox::utf::internal::ScanLevel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;  // every offset is checked: quadratic in the size
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  static TextIndex index;
  glassbox::BuildTextIndexAt(ScanLevel::kSse2, text, &index);
  const std::vector<Base64Span> want_runs = index.base64_runs();
  const bool want_non_ascii = index.non_ascii();

  for (ScanLevel level : {ScanLevel::kSse2, ScanLevel::kAvx2, ScanLevel::kAvx512}) {
    if (!glassbox::utf::internal::CpuSupports(level)) continue;
    const int lv = static_cast<int>(level);
    glassbox::BuildTextIndexAt(level, text, &index);
    FUZZ_CHECK(index.text().data() == text.data() && index.text().size() == size,
               "level %d: the index is not of the text", lv);
    for (size_t from = 0; from <= size; ++from) {
      const size_t got = index.NextInteresting(from);
      const size_t want = glassbox::utf::NextInteresting(text, from);
      FUZZ_CHECK(got == want, "level %d: NextInteresting(%zu) = %zu, the plain pass says %zu", lv,
                 from, got, want);
    }
    FUZZ_CHECK(index.base64_runs() == want_runs, "level %d: %zu base64 runs, SSE2 found %zu", lv,
               index.base64_runs().size(), want_runs.size());
    FUZZ_CHECK(index.non_ascii() == want_non_ascii, "level %d: non_ascii differs", lv);

    std::vector<Base64Span> runs;
    bool non_ascii = !want_non_ascii;
    glassbox::internal::FindBase64RunsAt(level, text, &runs, &non_ascii);
    FUZZ_CHECK(runs == want_runs, "level %d: FindBase64Runs found %zu runs, the index %zu", lv,
               runs.size(), want_runs.size());
    FUZZ_CHECK(non_ascii == want_non_ascii, "level %d: FindBase64Runs non_ascii differs", lv);
  }
  for (const Base64Span& r : want_runs) {
    FUZZ_CHECK(r.begin < r.end && r.end <= r.padded_end && r.padded_end <= size &&
                   r.end - r.begin >= glassbox::kMinBase64Run,
               "run [%zu, %zu, %zu) is not a run of this text", r.begin, r.end, r.padded_end);
  }
  return 0;
}
