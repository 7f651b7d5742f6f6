// Content-Encoding decoding (RFC 9110 8.4): gzip, deflate, zstd and br, with
// zlib, libzstd and libbrotlidec. The gate decodes a request body so its
// policy reads what the model will read; probe decodes captured bodies so it
// compares what they say (two zstd streams of one text differ in bytes).
// Decoding stops at a byte limit, so a decompression bomb costs no more than
// the limit. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace glassbox {

// The codings a caller reads, as a bit set; any other is kUnsupported.
enum ContentCoding : unsigned {
  kCodingGzip = 1u << 0,     // "gzip", "x-gzip"
  kCodingDeflate = 1u << 1,  // "deflate": zlib, or raw deflate (some clients send that)
  kCodingZstd = 1u << 2,     // "zstd", one or more frames
  kCodingBrotli = 1u << 3,   // "br"
};
inline constexpr unsigned kAllContentCodings =
    kCodingGzip | kCodingDeflate | kCodingZstd | kCodingBrotli;

struct DecodedContent {
  enum class Outcome {
    kDecoded,      // `body` holds the decoded bytes
    kUnsupported,  // a coding not in the caller's set, or unknown
    kTooLarge,     // decoded, it would exceed max_bytes
    kCorrupt,      // the bytes are not valid in their coding (or end early)
  };
  Outcome outcome = Outcome::kDecoded;
  std::string body;
  std::string reason;  // for all but kDecoded: names the coding and what is wrong
};

// Decodes `body` per `content_encoding` (the header's value: "gzip",
// "x-gzip", "deflate", "zstd", "br", "identity", or a comma-separated list in
// the order the codings were applied, undone from the last; names are
// case-insensitive), stopping at `max_bytes` of output. `codings` is the set
// of codings the caller reads. A body is decoded whole or not at all.
DecodedContent DecodeContentEncoding(std::string_view content_encoding, std::string_view body,
                                     size_t max_bytes, unsigned codings = kAllContentCodings);

}  // namespace glassbox
