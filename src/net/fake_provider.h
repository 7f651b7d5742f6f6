// FakeProvider: answers as the LLM providers do, for tests, benchmarks and
// `glassbox probe`'s sandbox. Pure planning, no sockets: Plan() turns one
// request into a ResponsePlan (status, headers, body chunks with delays, an
// optional fault) that the caller's HTTP server plays back.
//
// Answers (minimal valid replies that let agent CLIs finish a one-shot
// prompt, usage included):
//   Anthropic  POST /v1/messages (JSON, or SSE when "stream": true),
//              POST /v1/messages/count_tokens, GET /v1/models
//   OpenAI     POST /v1/chat/completions (JSON or SSE; stream_options
//              include_usage honoured), POST /v1/responses (JSON or SSE),
//              POST /v1/embeddings, GET /v1/models
//   Gemini     POST /v1beta/models/M:generateContent,
//              :streamGenerateContent (SSE with alt=sse, else a JSON array),
//              :countTokens, :embedContent, :batchEmbedContents,
//              GET /v1beta/models
//   a WebSocket handshake (Upgrade: websocket) → 426 in the provider's error
//   shape (no WebSocket transport: the client falls back to HTTP);
//   anything else: HEAD/GET/POST → 200 "{}", OPTIONS → 204.
// When the request asks for structured output (OpenAI response_format
// json_schema, Responses text.format json_schema, Gemini
// generationConfig.responseSchema, Anthropic a tool forced by tool_choice)
// the reply is the smallest value that satisfies the schema (required
// properties, types, enums, const, minItems, minLength).
//
// Controls, per request, by header:
//   x-fake-fault: 500 | 429 | reset-mid-stream | truncated | slow
//   x-fake-reply: reply text, percent-decoded ("caf%C3%A9", "%F3%A0%81%81")
//   x-fake-echo: 1   the reply text is the request body
// The plan also records what was received (received_body).
//
// Immutable after construction; Plan() is thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glassbox::net {

struct FakeChunk {
  std::string bytes;
  int delay_ms = 0;  // wait this long before sending these bytes
};

enum class FakeFault {
  kNone,
  // Send chunks [0, reset_after_chunk), then reset the connection (RST, no
  // terminating chunk).
  kResetAfterChunk,
  // The chunks end partway through the body or an event; end the response
  // there by closing the connection without a terminating chunk.
  kTruncate,
  // Chunks carry delays (already in delay_ms); informational.
  kSlow,
};

struct ResponsePlan {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type etc.; no Content-Length
  std::vector<FakeChunk> chunks;                             // the body, in order
  bool streaming = false;  // SSE: send chunks as they come (chunked encoding)
  FakeFault fault = FakeFault::kNone;
  size_t reset_after_chunk = 0;  // for kResetAfterChunk
  std::string route;             // what it answered as: "anthropic.messages", ..., "other"
  std::string received_body;     // the request body as received
  // The whole body concatenated (convenience for tests and non-streaming servers).
  std::string Body() const;
};

struct FakeProviderOptions {
  std::string reply_text = "Hello from the glassbox fake provider.";
  // Number of text deltas a streamed reply is split into (at least 1).
  size_t stream_pieces = 3;
  int slow_delay_ms = 200;  // per chunk under x-fake-fault: slow
};

// The API a request calls, found from the end of its path whatever base
// path precedes it: "anthropic.messages", "openai.chat_completions",
// "openai.responses", "gemini.generate_content", ... or "other".
std::string ApiRoute(std::string_view method, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& headers);
// Whether the request carries an API client's credentials or version header
// (a telemetry POST to some ".../messages" does not).
bool IsApiClient(const std::vector<std::pair<std::string, std::string>>& headers);

class FakeProvider {
 public:
  explicit FakeProvider(FakeProviderOptions options = {});

  // `target` is the origin-form request target (path and query); header
  // names are compared case-insensitively.
  ResponsePlan Plan(std::string_view method, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::string_view body) const;

 private:
  FakeProviderOptions options_;
};

}  // namespace glassbox::net
