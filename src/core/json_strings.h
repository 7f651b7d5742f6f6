// Walks one JSON document and hands every string value, decoded, to a
// visitor with its JSON path ("$.messages[0].content"). Used to scan data
// sets, where a hidden character is often written as an escape
// ("\udb40\udc69") that only decoding reveals.
//
// Hand-written rather than Boost.JSON: the scan needs each string's decoded
// text together with its path and source offset, in one pass, without
// building a DOM (rows can be large and the filter runs at hundreds of MB/s).
// Hostile input is bounded: nesting depth is limited, errors are values.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox {

struct JsonStringVisit {
  const std::string& path;   // "$.a[2].b"
  std::string_view decoded;  // the string's value, UTF-8 (lone surrogates become U+FFFD)
  size_t raw_offset;         // offset of the opening quote in the document
  bool is_key;               // an object key rather than a value
  bool is_string = true;     // false for true/false/null/numbers (with visit_scalars)
  bool escaped =
      false;  // the literal held a backslash escape: `decoded` differs from its raw bytes
};

struct JsonWalkOptions {
  size_t max_depth = 512;
  bool visit_keys = true;
  bool visit_scalars = false;  // also visit true, false, null and numbers (decoded = the token)
};

// Visits every string in `json`, which must be exactly one JSON value
// (surrounding white space allowed). On malformed input returns an error
// naming the byte offset and what was expected; strings visited before the
// error stay visited.
Status ForEachJsonString(std::string_view json,
                         const std::function<void(const JsonStringVisit&)>& visit,
                         const JsonWalkOptions& options = {});

// JSONC (VS Code, devcontainer.json, Claude and Gemini settings): returns
// `text` with // and /* */ comments and trailing commas replaced by spaces,
// so offsets and line numbers stay those of the original.
std::string StripJsonComments(std::string_view text);

// The string literals of a JSON document that hold a backslash escape, each
// with the offset of its opening quote and its decoded value; comments are
// stripped first when the document has any ("//" or "/*"). A document that
// does not parse gives those of its valid prefix. What the hidden-text
// detector and the secret views both look at in a document with \u
// escapes, found in one walk for both.
struct EscapedJsonString {
  size_t raw_offset;
  std::string decoded;
};
std::vector<EscapedJsonString> EscapedJsonStrings(std::string_view document);

// Decodes the body of a JSON string literal (between the quotes). Returns
// false on a malformed escape or a raw control character.
bool DecodeJsonString(std::string_view body, std::string* out);

}  // namespace glassbox
