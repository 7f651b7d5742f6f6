// The classification of every code point (UnicodeData's entries), computed
// once at build time by glassbox_unicodegen from the same ICU the binary
// links, and kept as runs: a run starts at starts[k] and holds entries[k]
// up to the next start. UnicodeData reads it instead of asking ICU (a UTS #39
// skeleton per code point cost ~1,600 instructions; a scan of real text meets
// tens of thousands of distinct code points). Only unicode.cc and the
// generator use it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace glassbox::internal {

struct UnicodeRuns {
  const uint32_t* starts = nullptr;  // ascending; starts[0] == 0 when count > 0
  const uint16_t* entries = nullptr;
  size_t count = 0;  // 0: no table (the generator's own build): ICU decides
};

// Defined by the generated precomputed_unicode.cc, or by
// unicodegen_bootstrap.cc (empty) for the generator itself.
const UnicodeRuns& PrecomputedUnicodeRuns();

}  // namespace glassbox::internal
