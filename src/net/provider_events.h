// Reads the incremental content out of one SSE event of a provider's
// streaming response: the text and tool-call argument pieces a gateway must
// check, the usage numbers it meters, and whether the event is an error or
// the end of the stream. Three wire formats:
//   Anthropic Messages      content_block_delta (text_delta, input_json_delta,
//                           thinking_delta), message_start / message_delta
//                           usage, message_stop, error
//   OpenAI Chat Completions choices[].delta.content / .refusal,
//                           choices[].delta.tool_calls[].function.arguments,
//                           usage, error, the "[DONE]" sentinel
//   Gemini generateContent  candidates[].content.parts[].text,
//                           parts[].functionCall.args strings, usageMetadata,
//                           error; finishReason marks the last chunk
// Built on core's JSON walker (ForEachJsonString): no DOM, no new parser.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "net/sse.h"

namespace glassbox::net {

enum class Provider { kUnknown, kAnthropic, kOpenAi, kGemini };

std::string_view ProviderName(Provider provider);

enum class PieceKind {
  kText,           // model output text
  kToolArguments,  // tool-call arguments (a JSON fragment for Anthropic and OpenAI)
  kThinking,       // Anthropic extended-thinking text
  kRefusal,        // OpenAI refusal text
  kError,          // an error message sent in the stream
};

struct TextPiece {
  PieceKind kind = PieceKind::kText;
  std::string path;  // JSON path inside the event's data, "$.delta.text"
  std::string text;  // decoded
};

struct Usage {
  std::optional<uint64_t>
      input_tokens;  // Anthropic input_tokens, OpenAI prompt_tokens, Gemini promptTokenCount
  std::optional<uint64_t> output_tokens;  // output_tokens, completion_tokens, candidatesTokenCount
  std::optional<uint64_t> total_tokens;   // OpenAI total_tokens, Gemini totalTokenCount
  std::optional<uint64_t> cache_read_tokens;  // cache_read_input_tokens, cachedContentTokenCount
  std::optional<uint64_t> cache_creation_tokens;  // Anthropic cache_creation_input_tokens
  bool any() const {
    return input_tokens || output_tokens || total_tokens || cache_read_tokens ||
           cache_creation_tokens;
  }
};

struct ProviderEvent {
  Provider provider = Provider::kUnknown;
  std::string type;  // Anthropic "type" ("content_block_delta"), else the SSE event type
  std::vector<TextPiece> pieces;
  Usage usage;
  bool is_error = false;
  bool is_done = false;  // message_stop, [DONE], or a Gemini finishReason
};

// Interprets one block from SseParser. Blocks that WHATWG would not dispatch
// give an empty ProviderEvent. With Provider::kUnknown the format is guessed
// from the content (Anthropic "type", OpenAI "choices"/"object", Gemini
// "candidates"/"usageMetadata"). Data that is not one JSON value (other than
// OpenAI's "[DONE]") is an error naming the provider and the JSON error.
Result<ProviderEvent> ParseProviderEvent(Provider provider, const SseBlock& block);

// The same on raw data, for callers with their own framing.
Result<ProviderEvent> ParseProviderEventData(Provider provider, std::string_view event_type,
                                             std::string_view data);

// True when `path` matches `pattern`, where "[*]" in the pattern stands for
// any array index ("$.choices[*].delta.content" matches "$.choices[3].delta.content").
bool JsonPathMatches(std::string_view path, std::string_view pattern);

}  // namespace glassbox::net
