// Shared invariants for the audit container fuzzers: whatever a reader makes
// of hostile bytes, every module's text is valid UTF-8, stored ranges lie in
// the input (for readers that read the input in place), limits hold, and
// native strings lie in the input at their offsets.
#pragma once

#include <string_view>

#include "audit/internal/unpack_internal.h"
#include "fuzz_check.h"

namespace glassbox::fuzz {

inline audit::UnpackLimits FuzzLimits() {
  audit::UnpackLimits limits;
  limits.max_entries = 2000;
  limits.max_entry_bytes = 1 << 20;
  limits.max_total_bytes = 4 << 20;
  limits.max_strings = 2000;
  return limits;
}

inline void CheckUnpacked(std::string_view input, const audit::Unpacked& out, bool in_place,
                          const audit::UnpackLimits& limits) {
  FUZZ_CHECK(out.modules.size() <= limits.max_entries, "%zu modules", out.modules.size());
  FUZZ_CHECK(out.strings.size() <= limits.max_strings, "%zu strings", out.strings.size());
  for (const audit::Module& m : out.modules) {
    FUZZ_CHECK(IsValidUtf8(m.text), "module %s text is not UTF-8", m.path.c_str());
    FUZZ_CHECK(m.stored_bytes <= limits.max_entry_bytes, "module %s too big", m.path.c_str());
    if (in_place) {
      FUZZ_CHECK(m.offset <= input.size() && m.stored_bytes <= input.size() - m.offset,
                 "module %s range outside the input", m.path.c_str());
    }
  }
  for (const audit::NativeString& s : out.strings) {
    if (!s.path.empty()) continue;  // offsets inside an embedded executable
    FUZZ_CHECK(s.offset < input.size(), "string offset outside the input");
    if (s.encoding == "ascii") {
      FUZZ_CHECK(input.substr(s.offset, s.text.size()) == s.text, "string not at its offset");
    }
  }
}

}  // namespace glassbox::fuzz
