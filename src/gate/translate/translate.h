// Protocol translation for `glassbox gate`: lets an agent that speaks one
// provider's wire format (Anthropic Messages, OpenAI Responses, Gemini
// generateContent) run on an upstream that speaks only OpenAI Chat
// Completions (vLLM, SGLang, llama.cpp's server, Ollama), and back.
//
// Pure functions over request and response bodies and stream events: no
// sockets, no files, no clocks, no randomness (ids are derived from the
// upstream's). The gateway (gate/gateway.cc) calls them around its
// transport; every function is thread-safe, StreamTranslator objects are
// per stream and thread-compatible.
//
// What cannot be translated (a feature the target format lacks: a server
// tool, a PDF document, top_k, ...) makes the request function fail with a
// Status naming the field and the reason; the gateway answers that in the
// client's own error format (400, code "untranslatable"). Nothing is
// dropped silently: hints the target has no room for (prompt-cache markers,
// thinking blocks of earlier turns) are dropped and named in
// Translated::notes, which the gateway logs as a finding.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox::gate::translate {

// A wire format of a generation API.
enum class Api {
  kAnthropicMessages,  // POST /v1/messages
  kOpenAiChat,         // POST /v1/chat/completions
  kOpenAiResponses,    // POST /v1/responses
  kGemini,             // POST /v1beta/models/M:generateContent / :streamGenerateContent
};

std::string_view ApiName(Api api);  // "anthropic-messages", "openai-chat", ...

// A translated body and what the translation could not carry over.
struct Translated {
  std::string body;
  std::vector<std::string>
      notes;            // "system[0].cache_control dropped: ..."; empty when nothing was lost
  bool stream = false;  // requests: the client asked for a stream
  std::string model;    // requests: the model the client asked for
};

struct RequestOptions {
  // The model to ask the upstream for; empty keeps the client's model.
  std::string upstream_model;
  // Gemini carries model and streaming in the path, not the body.
  std::string path_model;
  bool path_stream = false;
  // Lowers max_tokens above this (0: no cap) with a note. Agents ask for
  // what their hosted model allows (Claude Code: up to 128000); a
  // self-hosted server with a smaller context answers that with a 400.
  uint64_t max_tokens_cap = 0;
};

// Client request (in `from`) -> an OpenAI Chat Completions request.
// Streams ask for usage (stream_options.include_usage). Errors name the
// untranslatable field.
Result<Translated> RequestToChat(Api from, std::string_view body,
                                 const RequestOptions& options = {});

// An OpenAI Chat Completions request -> an Anthropic Messages request (the
// reverse mapping; used for Chat clients on Anthropic upstreams and by the
// round-trip property test).
Result<Translated> ChatRequestToMessages(std::string_view body, const RequestOptions& options = {});

// A complete (non-streamed) Chat Completions response -> the client's format.
// `client_model` is echoed where the format names the model asked for.
Result<Translated> ChatResponseTo(Api to, std::string_view body,
                                  std::string_view client_model = {});

// An Anthropic Messages response -> a Chat Completions response (reverse).
Result<Translated> MessagesResponseToChat(std::string_view body);

// The human message inside an upstream's error body, whatever its shape
// (OpenAI/Gemini {"error":{"message"}}, Anthropic, FastAPI {"detail"}, or
// plain text, cut to 500 bytes). The gateway wraps it in the client's
// error format.
std::string UpstreamErrorMessage(std::string_view body);

// Translates one streamed Chat Completions response (SSE, chunked however
// the transport delivers it) into the client's stream format, event by
// event. Output for a given input is the same however the input is split.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  // Bytes of the upstream's stream -> bytes for the client (possibly empty).
  virtual std::string Feed(std::string_view bytes) = 0;
  // The upstream stream ended. Returns the closing events when the upstream
  // finished its answer (a finish_reason or [DONE] was seen); otherwise the
  // client's stream is left without its final event, so the gateway and the
  // client see it as broken.
  virtual std::string Finish() = 0;
  // An error in the upstream's stream (not SSE, an event that is not JSON):
  // once set, Feed passes nothing more.
  virtual const Status& status() const = 0;
  // What the translation could not carry over (as Translated::notes).
  virtual const std::vector<std::string>& notes() const = 0;
};

struct StreamOptions {
  std::string client_model;
  // Gemini streamGenerateContent without ?alt=sse answers one JSON array.
  bool gemini_json_array = false;
};

std::unique_ptr<StreamTranslator> NewChatStreamTranslator(Api to, StreamOptions options = {});

// `body` (a JSON object) with its "model" set to `model`; the other members
// keep their order. For native routes that only rename the model.
Result<std::string> RewriteModel(std::string_view body, std::string_view model);

// A local estimate of a request's input tokens (about 4 bytes of text per
// token, plus a few per message), for count_tokens on routes whose upstream
// cannot count: the gateway labels the answer as an estimate.
Result<uint64_t> EstimateInputTokens(Api api, std::string_view body);

}  // namespace glassbox::gate::translate
