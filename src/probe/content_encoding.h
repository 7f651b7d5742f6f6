// Request bodies an agent sent with a Content-Encoding (Codex's OTLP metrics
// in zstd, gzip telemetry batches): probe compares what they say, so they
// are decoded before they are diffed. Pure functions; thread-safe.
// (The gate decodes request bodies for its policy too; both belong in core/.)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace glassbox::probe {

// `body` decoded per `content_encoding` ("gzip", "x-gzip", "deflate", "br",
// "zstd", "identity", or a comma-separated list in the order the codings were
// applied, RFC 9110 8.4); nullopt when a coding is unknown, the bytes are
// not valid in it, or the output would pass `max_bytes`.
std::optional<std::string> DecodeContentEncoding(std::string_view content_encoding, std::string_view body,
                                                 size_t max_bytes);

}  // namespace glassbox::probe
