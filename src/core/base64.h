// Base64 (RFC 4648), the one codec every component uses: the gate's document
// blocks, the probe's captured bodies, audit's hidden strings.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glassbox {

namespace base64_detail {
// -1: not base64; 0..63: the digit; 62/63 come from '+' '/' or '-' '_'.
constexpr std::array<int8_t, 256> MakeDigitTable() {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  t['-'] = 62;
  t['_'] = 63;
  return t;
}
inline constexpr std::array<int8_t, 256> kDigit = MakeDigitTable();
}  // namespace base64_detail

// The value of one digit of either alphabet ('+' and '-' are 62, '/' and '_' 63), -1 for any
// other byte: for decoders with their own loop (the scan's hidden-secret view).
inline int Base64Digit(unsigned char c) { return base64_detail::kDigit[c]; }

// Standard alphabet, with padding.
std::string Base64Encode(std::string_view bytes);

// Decodes the standard or the URL-safe alphabet (not mixed), padding optional.
// nullopt when any character is outside the alphabet, padding stands
// anywhere but the end, or the length cannot be base64 (4n+1 characters).
// Callers strip white space or data-URL prefixes themselves.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace glassbox
