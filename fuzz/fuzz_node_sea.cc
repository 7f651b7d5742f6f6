// Fuzzes the audit node_sea reader (Node.js SEA blobs in ELF notes, Mach-O
// sections or found by magic) on arbitrary bytes: it must not crash, read out
// of range or exceed its limits; see fuzz_unpack_check.h.
#include <cstddef>
#include <cstdint>

#include "fuzz_unpack_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const glassbox::audit::UnpackLimits limits = glassbox::fuzz::FuzzLimits();
  glassbox::audit::internal::Budget budget(limits);
  glassbox::audit::Unpacked out;
  (void)glassbox::audit::internal::ReadNodeSea(input, &budget, &out);
  glassbox::fuzz::CheckUnpacked(input, out, /*in_place=*/true, limits);
  return 0;
}
