// The inbound policy: what the gate does to a provider's response on its way
// back to the agent. Hidden characters (tag characters, invisible and bidi
// controls, ...) are stripped from model text, thinking and tool-call
// arguments, keeping legitimate uses (emoji ZWJ sequences, flags, joiners in
// Arabic and Indic scripts); usage numbers are read for metering; findings
// are recorded. Everything else is forwarded byte for byte.
//
// InboundJson handles a complete JSON body. InboundStream handles one SSE
// stream fed in chunks split anywhere: it parses events with net/sse.h and
// net/provider_events.h, holds back only an incomplete event, re-emits an
// event only when something was stripped from it, and never reports content
// as checked that it did not check (an incomplete trailing event, a stream
// whose framing broke). One InboundStream per response; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "net/provider_events.h"
#include "net/sse.h"

namespace glassbox::gate {

struct InboundOptions {
  net::Provider provider = net::Provider::kUnknown;  // kUnknown: guessed per body/event
  bool strip_hidden = true;  // false: only findings and usage, bytes unchanged
  size_t max_event_bytes = size_t{16} << 20;
  // OpenAI Chat streams only: the gate asked for the usage chunk
  // (stream_options.include_usage) the client did not ask for. That chunk
  // (empty "choices" with a "usage") is read for metering and not forwarded.
  bool drop_usage_chunk = false;
};

struct InboundResult {
  std::string body;  // to send to the client (== the original when !changed)
  bool changed = false;
  std::string original_sha256;  // of the body as received (hex)
  // unicode/* findings with json_path; "gate/unchecked-response" when the
  // body was not JSON the gate could read (it is forwarded unchanged).
  std::vector<Finding> findings;
  net::Usage usage;
  bool checked = true;  // false when the body could not be parsed
};

// Non-streamed responses (also error bodies). Text is stripped in
// Anthropic content[].text/thinking and tool_use input strings, OpenAI
// choices[].message.content/refusal/tool_calls[].function.arguments and
// Responses output[] text and arguments, Gemini candidates[].content.parts[]
// text and functionCall args. Usage: Anthropic usage.* (cache fields
// included), OpenAI usage.prompt_tokens/completion_tokens or input_tokens/
// output_tokens, Gemini usageMetadata.
InboundResult InboundJson(std::string_view body, const InboundOptions& options);

class InboundStream {
 public:
  explicit InboundStream(InboundOptions options);
  ~InboundStream();
  InboundStream(const InboundStream&) = delete;
  InboundStream& operator=(const InboundStream&) = delete;

  // Takes the next raw bytes from upstream and returns the bytes to send to
  // the client now: every complete event (rewritten when hidden characters
  // were stripped, else byte for byte); an incomplete event is held back.
  // After a framing error (an event over max_event_bytes) the rest of the
  // stream is forwarded unchanged and flagged "gate/unchecked-stream".
  std::string Feed(std::string_view bytes);

  // The upstream ended: returns what was held back (an incomplete trailing
  // event, forwarded unchanged and flagged "gate/unchecked-stream").
  std::string Finish();

  // True after Finish() when the stream ended with its protocol's final
  // event (message_stop, [DONE], a Gemini finishReason / usage chunk) and
  // nothing was left incomplete; false when truncated.
  bool complete() const;
  // True when an error event arrived in the stream.
  bool saw_error() const;
  // Bytes forwarded without being checked (see Feed and Finish).
  uint64_t unchecked_bytes() const;
  uint64_t bytes_in() const;
  uint64_t bytes_out() const;
  // Hex SHA-256 of every byte received so far (final after Finish()).
  std::string original_sha256() const;
  const std::vector<Finding>& findings() const;
  // Bytes of decoded model output seen so far (text, thinking, tool-call
  // arguments): the basis of the output estimate when a stream is cut
  // before it reports its usage.
  uint64_t output_text_bytes() const;
  // Usage as reported by the stream (the last value of each field wins:
  // Anthropic message_start gives input, message_delta the final output).
  const net::Usage& usage() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox::gate
