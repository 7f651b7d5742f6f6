// Dispatch by format, error messages and the token estimate.
#include "gate/translate/translate.h"

#include "gate/translate/json_util.h"

namespace glassbox::gate::translate {

using namespace internal;  // NOLINT: this library's own helpers

std::string_view ApiName(Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
      return "anthropic-messages";
    case Api::kOpenAiChat:
      return "openai-chat";
    case Api::kOpenAiResponses:
      return "openai-responses";
    case Api::kGemini:
      return "gemini";
  }
  return "unknown";
}

Result<Translated> RequestToChat(Api from, std::string_view body, const RequestOptions& options) {
  switch (from) {
    case Api::kAnthropicMessages:
      return MessagesRequestToChat(body, options);
    case Api::kOpenAiResponses:
      return ResponsesRequestToChat(body, options);
    case Api::kGemini:
      return GeminiRequestToChat(body, options);
    case Api::kOpenAiChat:
      break;
  }
  return Status::Error("no translation from " + std::string(ApiName(from)) + " to openai-chat");
}

Result<Translated> ChatResponseTo(Api to, std::string_view body, std::string_view client_model) {
  switch (to) {
    case Api::kAnthropicMessages:
      return ChatResponseToMessages(body, client_model);
    case Api::kOpenAiResponses:
      return ChatResponseToResponses(body, client_model);
    case Api::kGemini:
      return ChatResponseToGemini(body, client_model);
    case Api::kOpenAiChat:
      break;
  }
  return Status::Error("no translation from openai-chat to " + std::string(ApiName(to)));
}

std::string UpstreamErrorMessage(std::string_view body) {
  constexpr size_t kMax = 500;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.as_object();
    if (const json::object* err = GetObject(o, "error")) {
      if (IsString(*err, "message")) return std::string(GetString(*err, "message")).substr(0, kMax);
    }
    if (IsString(o, "error")) return std::string(GetString(o, "error")).substr(0, kMax);
    if (IsString(o, "message")) return std::string(GetString(o, "message")).substr(0, kMax);
    if (const json::value* detail = Get(o, "detail")) {
      return (detail->is_string() ? std::string(detail->as_string()) : Dump(*detail))
          .substr(0, kMax);
    }
  }
  std::string text(body.substr(0, kMax));
  return text.empty() ? std::string("(no message)") : text;
}

Result<std::string> RewriteModel(std::string_view body, std::string_view model) {
  auto parsed = ParseObject(body, "the request body");
  if (!parsed.ok()) return parsed.status();
  (*parsed)["model"] = model;
  return Dump(*parsed);
}

namespace {

void CountStrings(const json::value& v, uint64_t* bytes, uint64_t* objects) {
  if (v.is_string()) {
    *bytes += v.as_string().size();
  } else if (v.is_array()) {
    for (const json::value& e : v.as_array()) CountStrings(e, bytes, objects);
  } else if (v.is_object()) {
    ++*objects;
    for (const auto& kv : v.as_object()) CountStrings(kv.value(), bytes, objects);
  }
}

}  // namespace

Result<uint64_t> EstimateInputTokens(Api api, std::string_view body) {
  auto parsed = ParseObject(body, "the request body");
  if (!parsed.ok()) return parsed.status();
  uint64_t bytes = 0, objects = 0;
  for (const auto& kv : *parsed) {
    if (kv.key() == "model" || kv.key() == "stream" || kv.key() == "max_tokens") continue;
    CountStrings(kv.value(), &bytes, &objects);
  }
  (void)api;
  // About four bytes of English or code per token, plus a few tokens of
  // framing per message, block or tool.
  return (bytes + 3) / 4 + 3 * objects;
}

}  // namespace glassbox::gate::translate
