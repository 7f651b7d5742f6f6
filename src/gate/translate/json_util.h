// Small Boost.JSON helpers shared by the translators (internal to
// gate/translate; Boost types never leave this library).
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gate/translate/translate.h"

namespace glassbox::gate::translate::internal {

namespace json = boost::json;

// Parses `body` as one JSON object; errors name `what` and the reason.
// `storage` (default: the heap) holds the parsed values.
Result<json::object> ParseObject(std::string_view body, std::string_view what,
                                 json::storage_ptr storage = {});

// Memory for a request's parsed JSON, reused by the next request on the same
// thread: a 100 KB body then costs no fresh pages (page faults were most of
// a translation's time). Values parsed into it must not outlive it. A second
// arena alive on the same thread falls back to the heap.
class ParseArena {
 public:
  ParseArena();
  ~ParseArena();
  ParseArena(const ParseArena&) = delete;
  ParseArena& operator=(const ParseArena&) = delete;
  json::storage_ptr storage() const { return storage_; }

 private:
  bool owns_buffer_ = false;
  json::storage_ptr storage_;
};

const json::value* Get(const json::object& o, std::string_view key);
const json::object* GetObject(const json::object& o, std::string_view key);
const json::array* GetArray(const json::object& o, std::string_view key);
// The string at `key`, or "" when absent or not a string.
std::string_view GetString(const json::object& o, std::string_view key);
bool IsString(const json::object& o, std::string_view key);
// A number that is exactly an integer in int64 range, else nothing (2.5,
// 1e300, a string). Boost's to_number throws for those.
std::optional<int64_t> ExactInt(const json::value& v);

// "a.b" + "[3]" style path pieces for error messages.
std::string Path(std::string_view base, size_t index);

// An error Status "FIELD: REASON".
Status Untranslatable(std::string_view field, std::string_view reason);

// Serialises `v` compactly.
std::string Dump(const json::value& v);

// Arguments text of a tool call -> object; an error when not a JSON object.
Result<json::object> ParseArguments(std::string_view text, std::string_view what);

// Rewrites "call_x" style ids: keeps them, but guarantees a prefix.
std::string WithPrefix(std::string_view id, std::string_view prefix);

// A tool call's id as the upstream gave it; one made from the response id
// and the call's index when the upstream gave none (some servers do not).
std::string ToolCallId(std::string_view id, std::string_view response_id, size_t index);

// Appends one SSE event ("event: TYPE\ndata: JSON\n\n"; no event line when
// `type` is empty).
void AppendSse(std::string* out, std::string_view type, const json::value& data);

// Maps an OpenAI Chat finish_reason to Anthropic's stop_reason.
std::string_view ChatFinishToAnthropic(std::string_view finish);
// ... and to Gemini's finishReason.
std::string_view ChatFinishToGemini(std::string_view finish);

// Applies RequestOptions::max_tokens_cap to a Chat request.
void CapMaxTokens(json::object* chat, uint64_t cap, std::vector<std::string>* notes);

// The last step of every translation to Chat: max_tokens capped, usage
// asked for when streaming (include_usage), and the request serialised.
std::string FinishChatRequest(json::object& chat, bool stream, uint64_t max_tokens_cap,
                              std::vector<std::string>* notes);

// True when `key` is one of `keys` (a request's known fields).
bool IsOneOf(std::string_view key, std::span<const std::string_view> keys);
// True when the request asks for a stream ("stream": true).
bool StreamRequested(const json::object& request);
// Reasoning text of a Chat message or delta (vLLM/DeepSeek
// reasoning_content, Ollama/OpenRouter reasoning).
std::string_view ReasoningOf(const json::object& message_or_delta);
// A Chat response's choices; an error when it has none (or the first is
// not an object).
Result<const json::array*> ChatChoices(const json::object& response);

// Per-format translators behind translate.h's dispatchers.
Result<Translated> MessagesRequestToChat(std::string_view body, const RequestOptions& options);
Result<Translated> ResponsesRequestToChat(std::string_view body, const RequestOptions& options);
Result<Translated> GeminiRequestToChat(std::string_view body, const RequestOptions& options);
Result<Translated> ChatResponseToMessages(std::string_view body, std::string_view client_model);
Result<Translated> ChatResponseToResponses(std::string_view body, std::string_view client_model);
Result<Translated> ChatResponseToGemini(std::string_view body, std::string_view client_model);

// A Chat function tool with `tool`'s name and description (the same keys
// in every client format) and `parameters`.
json::object ChatFunctionTool(const json::object& tool, json::value parameters);

// The Chat usage object -> numbers (absent fields are 0).
struct ChatUsage {
  uint64_t prompt = 0, completion = 0, cached = 0, reasoning = 0;
  bool present = false;
};
ChatUsage ReadChatUsage(const json::object& chunk_or_response);
// Chat usage in each client's format, for complete responses and the
// final events of streams alike. Anthropic's input_tokens excludes cache
// reads.
json::object AnthropicUsage(const ChatUsage& u);
json::object ResponsesUsage(const ChatUsage& u);
json::object GeminiUsageMetadata(const ChatUsage& u);

}  // namespace glassbox::gate::translate::internal
