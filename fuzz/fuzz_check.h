// Shared helpers for the libFuzzer targets: a CHECK that reports and aborts
// (so libFuzzer records the input as a crash), and a valid-UTF-8 test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/utf.h"

#define FUZZ_CHECK(cond, ...)                                                            \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                 \
      std::fprintf(stderr, "\n");                                                        \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace glassbox::fuzz {

inline bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    if (utf::DecodeOne(p + i, s.size() - i, &len) == utf::kInvalidCodePoint) return false;
    i += len;
  }
  return true;
}

}  // namespace glassbox::fuzz
