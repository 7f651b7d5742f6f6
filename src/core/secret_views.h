// Secrets behind what hides them. A plain match misses a key that an
// invisible character splits ("sk-ant-api03\u2060…"), that a JSON file writes
// with \u escapes, or that a Kubernetes Secret or a config stores base64-
// encoded. ScanSecretViews() scans three views of a text with the same
// rules: the text with invisible characters removed, the decoded JSON
// strings that hold escapes, and decoded base64 runs (recursively, up to
// `max_decode_depth` like gitleaks' --max-decode-depth). It reports only
// what a view was needed for, with offsets in the original text and the
// message saying how the secret was hidden; the hiding itself is reported by
// the hidden-text detector. Cheap on text with nothing to decode: one pass
// for base64 runs (none when the caller hands over the text's TextIndex),
// the invisible view only when such characters occur.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "core/finding.h"
#include "core/json_strings.h"
#include "core/secrets.h"
#include "core/status.h"
#include "core/text_index.h"
#include "core/text_kind.h"
#include "core/utf.h"

namespace glassbox {

struct SecretViewOptions {
  JsonSyntax json = JsonSyntax::kNone;  // a JSON document: decode its escaped strings
  int max_decode_depth = 2;             // base64 inside base64 ... ; 0 turns decoding off
  // EscapedJsonStrings(text) of a JSON document when the caller has them
  // already (the scanner shares them with the hidden-text detector).
  const std::vector<EscapedJsonString>* json_strings = nullptr;
  // TextIndex of the text when the caller built one (the scanner shares it
  // with the hidden-text detector): its base64 runs and interesting bytes
  // are not searched again.
  const TextIndex* index = nullptr;
};

// Appends findings of `scanner` that only the views reveal. `already` holds
// the plain scan's findings of `text` (to skip what they cover).
Status ScanSecretViews(const SecretScanner& scanner, std::string_view text,
                       const SecretViewOptions& options, SecretScratch& scratch,
                       const std::vector<Finding>& already, std::vector<Finding>* out);

namespace internal {
// The base64 runs the views decode, found with the candidate search of one
// SIMD level: each maximal run [begin, end) of alphabet bytes ([A-Za-z0-9+/_-])
// at least 27 long, in order; *non_ascii as the search reports it. For the
// tests, which compare every level the CPU has with a byte-at-a-time walk.
std::vector<std::pair<size_t, size_t>> Base64RunsAt(utf::internal::ScanLevel level,
                                                    std::string_view text, bool* non_ascii);
}  // namespace internal

}  // namespace glassbox
