// The string-level pieces of the gate's policy, shared by the outbound
// (policy.cc) and inbound (inbound.cc) filters: stripping hidden characters
// from one decoded string, and rewriting chosen string values of a JSON
// document in place, byte for byte elsewhere. Pure functions; thread-safe.
// Internal to the gate component.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/status.h"

namespace glassbox::gate {

// Removes the hidden characters the detector flags and proposes to delete —
// tag characters, invisible characters, bidi controls, variation selectors
// used to hide data — and keeps their legitimate uses (emoji ZWJ sequences,
// keycaps, flags, joiners inside Arabic, Persian and Indic words). ZWNJ,
// word joiner, soft hyphen and combining grapheme joiner inside words of
// other scripts (a one-per-word watermark) are removed too: for those the
// detector's machine-text decision applies (see text_policy.cc). Returns nullopt
// when nothing was removed; otherwise the new text, and appends one finding
// per removal (byte offsets into `text`, json_path = `path`).
std::optional<std::string> StripHiddenText(std::string_view text, const std::string& path,
                                           std::vector<Finding>* findings);

// StripHiddenText for an object key whose path (as the JSON walker writes
// it, ending with the key) is `key_path`: findings name the key as it reads
// once stripped, with " (key)" after it.
std::optional<std::string> StripHiddenKey(std::string_view key, const std::string& key_path,
                                          std::vector<Finding>* findings);

// Cheap test: false means StripHiddenText would find nothing (no non-ASCII
// byte and no \u escape in the raw JSON).
bool MayHoldHiddenText(std::string_view raw_json);

// True when raw JSON text holds a \u escape (an escaped backslash followed
// by u is none). Faster than find() on text full of other escapes.
bool HasUnicodeEscape(std::string_view raw_json);

// Cheap test on decoded text: false when no code point is of a class that
// StripHiddenText removes (tag, variation selector, invisible, bidi control
// or mark, soft hyphen, BOM, Hangul filler), so the detector need not run.
// fuzz_gate_policy checks that StripHiddenText never changes text for which
// this is false.
bool MayHoldStrippable(std::string_view text);

// Called for each string value (keys excluded) with its decoded text, JSON
// path, and whether its literal held a backslash escape (then a scan of the
// raw JSON bytes may have missed what the decoded text shows); returns the
// replacement text, or nullopt to keep the string.
using StringEdit = std::function<std::optional<std::string>(std::string_view decoded,
                                                            const std::string& path, bool escaped)>;

// Sees every value before `edit` does: strings and also true, false, null
// and numbers (is_string = false, decoded = the token).
using ValueObserver =
    std::function<void(const std::string& path, std::string_view decoded, bool is_string)>;

// Copies `json` to *out, replacing the literal of every string value for
// which `edit` returns a value by the JSON encoding of that value; every
// other byte is kept. *changed says whether any string was replaced (when
// false, *out is left empty). Malformed JSON is an error naming the offset.
// One pass; `observe`, when given, is called for every value first.
// `key_edit`, when given, is called the same way for every object key
// (path: the key's own path, "$.tools[0].input_schema.properties.cmd"), so
// hidden characters in tool-schema property names and argument keys can be
// stripped too.
Status EditJsonStrings(std::string_view json, const StringEdit& edit, std::string* out,
                       bool* changed, size_t max_depth = 256,
                       const ValueObserver* observe = nullptr,
                       const StringEdit* key_edit = nullptr);

// True when `text`, trimmed, starts with '{' or '[' (a candidate for JSON
// held inside a string, as OpenAI tool-call arguments are).
bool LooksLikeJson(std::string_view text);

}  // namespace glassbox::gate
