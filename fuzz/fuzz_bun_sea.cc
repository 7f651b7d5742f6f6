// Fuzzes the audit bun_sea reader (Bun single-file executables, section and
// trailer layouts) on arbitrary bytes: it must not crash, read out of range or
// exceed its limits; see fuzz_unpack_check.h.
#include <cstddef>
#include <cstdint>

#include "fuzz_unpack_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const glassbox::audit::UnpackLimits limits = glassbox::fuzz::FuzzLimits();
  glassbox::audit::internal::Budget budget(limits);
  glassbox::audit::Unpacked out;
  (void)glassbox::audit::internal::ReadBunSea(input, &budget, &out);
  glassbox::fuzz::CheckUnpacked(input, out, /*in_place=*/true, limits);
  return 0;
}
