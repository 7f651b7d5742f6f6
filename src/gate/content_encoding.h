// Request bodies sent with a Content-Encoding: the gate must read a body to
// apply its policy, so it decodes gzip, deflate (zlib) and zstd bodies and
// forwards the decoded bytes (without Content-Encoding); anything else it
// refuses with the reason. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace glassbox::gate {

struct DecodedBody {
  enum class Outcome {
    kDecoded,      // `body` holds the decoded bytes
    kUnsupported,  // an encoding the gate does not decode (415)
    kTooLarge,     // decoded, it would exceed max_bytes (413): a decompression bomb stops here
    kCorrupt,      // the bytes are not valid in their encoding (400)
  };
  Outcome outcome = Outcome::kDecoded;
  std::string body;
  std::string reason;  // for all but kDecoded: names the encoding and what is wrong
};

// Decodes `body` per `content_encoding` (the header's value: "gzip",
// "x-gzip", "deflate", "zstd", "identity", or a comma-separated list in the
// order the codings were applied, RFC 9110 8.4), stopping at `max_bytes` of
// output.
DecodedBody DecodeContentEncoding(std::string_view content_encoding, std::string_view body, size_t max_bytes);

}  // namespace glassbox::gate
