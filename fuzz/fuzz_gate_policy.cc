// Fuzzes the gate's policy (gate/policy.h, gate/inbound.h). The first input
// byte picks the mode and the protocol; the rest is a request body or a
// response stream.
//   outbound: ApplyOutbound either refuses with a JSON error body or returns
//             valid UTF-8 JSON; an unchanged body is the input; findings
//             carry JSON paths.
//   stream:   InboundStream fed in the chunk sizes the next bytes give
//             (cycled) must forward exactly what it forwards when fed whole;
//             with stripping off it must forward the input byte for byte;
//             usage and completeness must not depend on the split.
//   json:     InboundJson returns valid UTF-8 when the input was, and the
//             input itself when unchanged; and the strip prefilter
//             (MayHoldStrippable) skips no text the detector would change.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/hidden_text.h"
#include "core/json_strings.h"
#include "fuzz_check.h"
#include "gate/inbound.h"
#include "gate/policy.h"
#include "gate/text_policy.h"

namespace {

using glassbox::gate::InboundOptions;
using glassbox::gate::InboundStream;
using glassbox::net::Provider;

const glassbox::gate::Policy& ThePolicy() {
  static const std::shared_ptr<const glassbox::gate::Policy> policy = [] {
    glassbox::gate::GateConfig config = glassbox::gate::DefaultGateConfig();
    config.max_body_bytes = 1 << 16;
    return glassbox::gate::Policy::Create(config).value();
  }();
  return *policy;
}

bool IsJson(std::string_view text) {
  return glassbox::ForEachJsonString(text, [](const glassbox::JsonStringVisit&) {}).ok();
}

struct Streamed {
  std::string out;
  bool complete = false;
  uint64_t unchecked = 0;
  glassbox::net::Usage usage;
};

Streamed Stream(std::string_view input, const std::vector<size_t>& sizes,
                const InboundOptions& options) {
  InboundStream s(options);
  Streamed r;
  size_t at = 0, k = 0;
  while (at < input.size()) {
    const size_t n = sizes.empty() ? input.size() : sizes[k++ % sizes.size()];
    const size_t take = n < input.size() - at ? n : input.size() - at;
    r.out += s.Feed(input.substr(at, take));
    at += take;
  }
  r.out += s.Finish();
  r.complete = s.complete();
  r.unchecked = s.unchecked_bytes();
  r.usage = s.usage();
  FUZZ_CHECK(s.bytes_in() == input.size(), "bytes_in %llu of %zu",
             static_cast<unsigned long long>(s.bytes_in()), input.size());
  FUZZ_CHECK(s.bytes_out() == r.out.size(), "bytes_out %llu, forwarded %zu",
             static_cast<unsigned long long>(s.bytes_out()), r.out.size());
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 16)) return -1;
  const unsigned mode = data[0] & 3;
  const Provider provider = static_cast<Provider>((data[0] >> 2) & 3);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (mode == 0) {
    static const char* const kTargets[] = {"/v1/messages", "/v1/chat/completions", "/v1/responses",
                                           "/v1beta/models/gemini-2.5-pro:generateContent"};
    const glassbox::gate::Policy& policy = ThePolicy();
    auto decision = policy.ClassifyRoute("POST", kTargets[static_cast<int>(provider)]);
    FUZZ_CHECK(!decision.refusal, "known route refused");
    auto out = policy.ApplyOutbound(decision.route, rest);
    FUZZ_CHECK(out.original_sha256.size() == 64, "no hash");
    if (out.refusal) {
      FUZZ_CHECK(IsJson(out.refusal->body), "refusal body is not JSON: %s",
                 out.refusal->body.c_str());
      FUZZ_CHECK(out.refusal->status >= 400, "refusal status %d", out.refusal->status);
      return 0;
    }
    FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(out.body), "forwarded body is not UTF-8");
    FUZZ_CHECK(IsJson(out.body), "forwarded body is not JSON");
    if (!out.changed) FUZZ_CHECK(out.body == rest, "unchanged body differs from the input");
    for (const auto& f : out.findings)
      FUZZ_CHECK(f.json_path.starts_with("$"), "path '%s'", f.json_path.c_str());
    return 0;
  }

  if (mode == 1 || mode == 2) {
    if (rest.empty()) return 0;
    const size_t count = static_cast<unsigned char>(rest[0]) & 0x0F;
    const bool small_limit = (static_cast<unsigned char>(rest[0]) & 0x10) != 0;
    if (rest.size() < 1 + count) return -1;
    std::vector<size_t> sizes;
    for (size_t i = 0; i < count; ++i)
      sizes.push_back(1 + static_cast<unsigned char>(rest[1 + i]) % 64);
    const std::string_view stream = rest.substr(1 + count);
    InboundOptions options{provider, mode == 1, small_limit ? size_t{64} : size_t{16} << 20};
    const Streamed whole = Stream(stream, {}, options);
    const Streamed split = Stream(stream, sizes, options);
    FUZZ_CHECK(whole.out == split.out, "output depends on the split (%zu vs %zu bytes)",
               whole.out.size(), split.out.size());
    FUZZ_CHECK(whole.complete == split.complete, "completeness depends on the split");
    FUZZ_CHECK(whole.usage.input_tokens == split.usage.input_tokens &&
                   whole.usage.output_tokens == split.usage.output_tokens,
               "usage depends on the split");
    if (mode == 2)
      FUZZ_CHECK(whole.out == stream, "with stripping off the stream must pass unchanged");
    if (whole.out == stream) return 0;
    FUZZ_CHECK(whole.unchecked <= stream.size(), "more unchecked bytes than input");
    return 0;
  }

  // The strip prefilter may only skip texts in which the detector proposes
  // no removal of the kinds the gate strips.
  if (glassbox::fuzz::IsValidUtf8(rest) && !glassbox::gate::MayHoldStrippable(rest)) {
    std::vector<glassbox::Finding> found;
    glassbox::HiddenTextDetector().Scan(
        rest, glassbox::TextContext{glassbox::TextKind::kProse, false}, &found);
    for (const auto& f : found) {
      const bool stripped =
          f.rule == "unicode/tag-characters" || f.rule == "unicode/invisible-characters" ||
          f.rule == "unicode/bidi-control" || f.rule == "unicode/variation-selectors";
      FUZZ_CHECK(!stripped || f.fixes.empty(), "prefilter skipped a text with a %s fix",
                 f.rule.c_str());
    }
  }
  auto r = glassbox::gate::InboundJson(rest, InboundOptions{provider, true});
  if (!r.changed) FUZZ_CHECK(r.body == rest, "unchanged body differs");
  if (glassbox::fuzz::IsValidUtf8(rest) && r.checked) {
    FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(r.body), "cleaned body is not UTF-8");
    FUZZ_CHECK(IsJson(r.body), "cleaned body is not JSON");
  }
  return 0;
}
