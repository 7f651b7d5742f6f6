// Native decoders for strings that JavaScript hides from a reader: base64,
// hex, char-code arrays and XOR with a key found in the surrounding code, and
// the judgement of whether a decoded result reads as text (a domain, a time
// zone, a URL, words). Pure functions over bytes; no code is ever run.
// Thread-safe; allocation only for results.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox::audit {

// What a decoded string looks like; decides which lists it can form.
enum class TextShape : uint8_t { kNone, kWords, kDomain, kUrl, kTimezone, kEmail, kPath };
std::string_view TextShapeName(TextShape shape);

// Recognisers for the shapes above. `tlds` and `timezone_areas` come from
// rules/audit/lists.toml.
struct ShapeData {
  std::vector<std::string> tlds;
  std::vector<std::string> timezone_areas;
};
bool IsHostName(std::string_view s, const ShapeData& data);      // "api.example.com"
bool IsTimezoneName(std::string_view s, const ShapeData& data);  // "Asia/Shanghai"

// Decides whether `bytes` reads as text a human would recognise, and as what.
// Rejects control bytes, invalid UTF-8, and letter soup without words.
TextShape ClassifyText(std::string_view bytes, const ShapeData& data);

// Base64Decode (core/base64.h: standard or URL-safe alphabet, not mixed,
// padding optional) with two rules for string literals: at least
// `min_chars` characters before any '=' padding, and both upper- and
// lower-case letters (identifiers and words are base64 too; base64 of text
// mixes cases). nullopt otherwise.
std::optional<std::string> DecodeBase64(std::string_view s, size_t min_chars = 8);
// Hex digit pairs ("616e74"), optionally "\x"-free and even length.
std::optional<std::string> DecodeHex(std::string_view s, size_t min_chars = 8);
// Code points to UTF-8; nullopt when one is not a Unicode scalar value.
std::optional<std::string> CodePointsToUtf8(const std::vector<uint32_t>& code_points);

// A key taken from the surrounding code: one byte or a string of bytes.
struct XorKey {
  std::string bytes;
  std::string Label() const;  // "0x5b" or "\"k3y\""
};
std::string XorBytes(std::string_view data, std::string_view key);
// XOR applied to each code point (char-code arrays): keeps values ≤ 0x10FFFF.
std::optional<std::string> XorCodePoints(const std::vector<uint32_t>& code_points,
                                         std::string_view key);

// One successful decoding: the chain of encodings ("base64+xor(0x5b)") and the text.
struct Decoding {
  std::string encoding;
  std::string text;
  TextShape shape = TextShape::kNone;
};

// Tries base64 and hex on a string literal, then XOR with each key on a
// result that is not text, then one more layer (base64 of hex, …). Returns
// nothing unless the final result reads as text. Inputs longer than
// `max_input` are not tried (images, fonts and wasm blobs).
std::optional<Decoding> DecodeStringLiteral(std::string_view literal,
                                            const std::vector<XorKey>& keys, const ShapeData& data,
                                            size_t max_input = 4096);
// The same for an array of numbers (char codes), encoding "charcodes".
std::optional<Decoding> DecodeCharCodes(const std::vector<uint32_t>& code_points,
                                        const std::vector<XorKey>& keys, const ShapeData& data);

// Whether bytes read as text a person would recognise, scored strictly
// enough for a brute-force key search: at least 97 % printable, and a list
// of domains / URLs / time zones between separators, or one such item, or
// words from a small dictionary. kNone when not.
TextShape ScoreAsText(std::string_view bytes, const ShapeData& data);

// Key search for a long base64 or hex literal that nothing decoded: every
// one-byte XOR key, then each of `repeating_keys` (taken from the module's
// own literals). The first key whose result scores as text wins.
struct KeySearchHit {
  Decoding decoding;
  std::string key;
};
std::optional<KeySearchHit> SearchXorKey(std::string_view literal,
                                         const std::vector<std::string>& repeating_keys,
                                         const ShapeData& data);

}  // namespace glassbox::audit
