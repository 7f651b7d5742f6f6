// Fuzzes net/sse and net/provider_events. The input's first byte picks how
// many chunk sizes follow (0..15) and whether a small event limit applies;
// the rest is the stream. Feeding it in those chunks (cycled) must give the
// same blocks and the same outcome as feeding it whole; block ranges must
// lie within the input and tile it in order; decoded text must be valid
// UTF-8. Every dispatched block also goes through ParseProviderEvent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "net/provider_events.h"
#include "net/sse.h"

namespace {

struct Run {
  std::vector<glassbox::net::SseBlock> blocks;
  bool ok = true;
};

Run Parse(std::string_view stream, const std::vector<size_t>& sizes,
          glassbox::net::SseOptions options) {
  glassbox::net::SseParser parser(options);
  Run run;
  size_t at = 0, k = 0;
  while (at < stream.size()) {
    const size_t n = sizes.empty() ? stream.size() : sizes[k++ % sizes.size()];
    const size_t take = n < stream.size() - at ? n : stream.size() - at;
    if (!parser.Feed(stream.substr(at, take), &run.blocks).ok()) {
      run.ok = false;
      return run;
    }
    at += take;
  }
  run.ok = parser.Finish(&run.blocks).ok();
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 16)) return -1;
  const size_t count = data[0] & 0x0F;
  const bool small_limit = (data[0] & 0x10) != 0;
  if (size < 1 + count) return -1;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < count; ++i) sizes.push_back(data[1 + i] % 64);  // 0: an empty Feed
  bool all_zero = !sizes.empty();
  for (const size_t s : sizes) all_zero = all_zero && s == 0;
  if (all_zero) sizes.push_back(1);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1 + count, size - 1 - count);

  glassbox::net::SseOptions options;
  if (small_limit) options.max_event_bytes = 64;

  const Run whole = Parse(stream, {}, options);
  const Run split = Parse(stream, sizes, options);
  FUZZ_CHECK(whole.ok == split.ok, "whole ok=%d, split ok=%d", whole.ok, split.ok);
  FUZZ_CHECK(whole.blocks.size() == split.blocks.size(), "whole gave %zu blocks, split %zu",
             whole.blocks.size(), split.blocks.size());
  for (size_t i = 0; i < whole.blocks.size(); ++i) {
    FUZZ_CHECK(whole.blocks[i] == split.blocks[i],
               "block %zu differs (whole [%llu,%llu), split [%llu,%llu))", i,
               static_cast<unsigned long long>(whole.blocks[i].begin),
               static_cast<unsigned long long>(whole.blocks[i].end),
               static_cast<unsigned long long>(split.blocks[i].begin),
               static_cast<unsigned long long>(split.blocks[i].end));
  }

  uint64_t at = 0;
  for (const glassbox::net::SseBlock& b : whole.blocks) {
    FUZZ_CHECK(b.begin == at, "block begins at %llu, previous ended at %llu",
               static_cast<unsigned long long>(b.begin), static_cast<unsigned long long>(at));
    FUZZ_CHECK(b.begin < b.end && b.end <= stream.size(), "bad range [%llu,%llu) of %zu",
               static_cast<unsigned long long>(b.begin), static_cast<unsigned long long>(b.end),
               stream.size());
    at = b.end;
    if (small_limit)
      FUZZ_CHECK(b.end - b.begin <= 64, "block of %llu bytes over the limit",
                 static_cast<unsigned long long>(b.end - b.begin));
    FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(b.data), "data is not UTF-8");
    FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(b.type), "type is not UTF-8");
    FUZZ_CHECK(b.dispatch || b.data.empty(), "undispatched block with data");
    for (const auto provider :
         {glassbox::net::Provider::kUnknown, glassbox::net::Provider::kAnthropic,
          glassbox::net::Provider::kOpenAi, glassbox::net::Provider::kGemini}) {
      auto ev = glassbox::net::ParseProviderEvent(provider, b);
      if (!ev.ok()) {
        FUZZ_CHECK(!ev.status().message().empty(), "error without a message");
        continue;
      }
      for (const auto& piece : ev->pieces) {
        FUZZ_CHECK(!piece.path.empty() && piece.path[0] == '$', "piece path '%s'",
                   piece.path.c_str());
      }
    }
  }
  if (whole.ok)
    FUZZ_CHECK(at == stream.size(), "blocks cover %llu of %zu bytes",
               static_cast<unsigned long long>(at), stream.size());
  return 0;
}
