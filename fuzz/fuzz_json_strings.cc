// Fuzzes core/json_strings: ForEachJsonString (default options, and keys off
// with a shallow depth limit) and DecodeJsonString on the whole input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_strings.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (size_t{1} << 16)) return -1;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  const bool valid_utf8 = glassbox::fuzz::IsValidUtf8(json);

  size_t values = 0, keys = 0;
  size_t last_offset = 0;
  bool first = true;
  const glassbox::Status st =
      glassbox::ForEachJsonString(json, [&](const glassbox::JsonStringVisit& v) {
        FUZZ_CHECK(v.raw_offset < json.size() && json[v.raw_offset] == '"',
                   "raw_offset %zu is not a quote", v.raw_offset);
        FUZZ_CHECK(first || v.raw_offset > last_offset, "raw_offset %zu not after %zu",
                   v.raw_offset, last_offset);
        first = false;
        last_offset = v.raw_offset;
        FUZZ_CHECK(!v.path.empty() && v.path[0] == '$', "path '%s'", v.path.c_str());
        // The decoded value is never longer than the literal's body.
        FUZZ_CHECK(v.decoded.size() + 2 <= json.size() - v.raw_offset,
                   "decoded string longer than its literal");
        // Escapes decode to UTF-8 (lone surrogates to U+FFFD), so valid input
        // gives valid strings.
        if (valid_utf8)
          FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(v.decoded), "invalid UTF-8 decoded at %zu",
                     v.raw_offset);
        ++(v.is_key ? keys : values);
      });
  if (!st.ok()) FUZZ_CHECK(!st.message().empty(), "error without a message");

  size_t values2 = 0;
  glassbox::JsonWalkOptions opts;
  opts.visit_keys = false;
  opts.max_depth = 3;
  const glassbox::Status st2 = glassbox::ForEachJsonString(
      json,
      [&](const glassbox::JsonStringVisit& v) {
        FUZZ_CHECK(!v.is_key, "key visited with visit_keys=false");
        ++values2;
      },
      opts);
  // A shallower walk accepts a subset of documents and, on the same document,
  // sees the same values.
  if (st2.ok()) {
    FUZZ_CHECK(st.ok(), "depth-limited walk accepted what the default walk rejected: %s",
               st.message().c_str());
    FUZZ_CHECK(values2 == values, "visit_keys=false saw %zu values, default %zu", values2, values);
  }

  std::string out;
  if (glassbox::DecodeJsonString(json, &out)) {
    FUZZ_CHECK(out.size() <= json.size(), "decoded %zu bytes from %zu", out.size(), json.size());
    if (valid_utf8)
      FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(out), "DecodeJsonString produced invalid UTF-8");
    if (json.find('\\') == std::string_view::npos)
      FUZZ_CHECK(out == json, "no escapes but output differs");
  }
  return 0;
}
