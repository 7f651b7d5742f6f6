// Base64 (RFC 4648), the one codec every component uses: the gate's document
// blocks, the probe's captured bodies, audit's hidden strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace glassbox {

// Standard alphabet, with padding.
std::string Base64Encode(std::string_view bytes);

// Decodes the standard or the URL-safe alphabet (not mixed), padding optional.
// nullopt when any character is outside the alphabet, padding stands
// anywhere but the end, or the length cannot be base64 (4n+1 characters).
// Callers strip white space or data-URL prefixes themselves.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace glassbox
