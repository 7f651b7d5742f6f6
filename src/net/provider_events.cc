#include "net/provider_events.h"

#include "core/json_strings.h"

namespace glassbox::net {
namespace {

struct Value {
  std::string path;
  std::string text;
  bool is_string;
};

std::optional<uint64_t> ParseCount(const Value& v) {
  if (v.is_string || v.text.empty()) return std::nullopt;
  uint64_t n = 0;
  for (const char c : v.text) {
    if (c < '0' || c > '9') return std::nullopt;  // negative, fractional or null
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

const Value* Find(const std::vector<Value>& values, std::string_view path) {
  for (const Value& v : values) {
    if (v.path == path) return &v;
  }
  return nullptr;
}

bool HasPrefix(const std::vector<Value>& values, std::string_view prefix) {
  for (const Value& v : values) {
    if (v.path.starts_with(prefix)) return true;
  }
  return false;
}

void SetCount(const std::vector<Value>& values, std::string_view path,
              std::optional<uint64_t>* field) {
  if (const Value* v = Find(values, path)) {
    if (auto n = ParseCount(*v)) *field = n;
  }
}

Provider Guess(const std::vector<Value>& values) {
  if (HasPrefix(values, "$.candidates") || HasPrefix(values, "$.usageMetadata"))
    return Provider::kGemini;
  if (HasPrefix(values, "$.choices") || HasPrefix(values, "$.object")) return Provider::kOpenAi;
  if (Find(values, "$.type") != nullptr) return Provider::kAnthropic;
  return Provider::kUnknown;
}

void AddErrorMessage(const std::vector<Value>& values, ProviderEvent* ev) {
  for (const Value& v : values) {
    if (v.is_string && v.path.starts_with("$.error") && v.path.ends_with(".message")) {
      ev->pieces.push_back({PieceKind::kError, v.path, v.text});
    }
  }
}

void InterpretAnthropic(const std::vector<Value>& values, ProviderEvent* ev) {
  if (const Value* type = Find(values, "$.type"); type != nullptr && type->is_string)
    ev->type = type->text;
  if (ev->type == "error" || Find(values, "$.error.type") != nullptr) {
    ev->is_error = true;
    AddErrorMessage(values, ev);
    return;
  }
  if (ev->type == "message_stop") ev->is_done = true;
  for (const Value& v : values) {
    if (!v.is_string) continue;
    // content_block_start may carry initial text.
    const bool text =
        v.path == "$.delta.text" || (v.path == "$.content_block.text" && !v.text.empty());
    if (text) {
      ev->pieces.push_back({PieceKind::kText, v.path, v.text});
    } else if (v.path == "$.delta.partial_json") {
      ev->pieces.push_back({PieceKind::kToolArguments, v.path, v.text});
    } else if (v.path == "$.delta.thinking") {
      ev->pieces.push_back({PieceKind::kThinking, v.path, v.text});
    }
  }
  for (const std::string_view prefix : {"$.usage.", "$.message.usage."}) {
    const std::string p(prefix);
    SetCount(values, p + "input_tokens", &ev->usage.input_tokens);
    SetCount(values, p + "output_tokens", &ev->usage.output_tokens);
    SetCount(values, p + "cache_read_input_tokens", &ev->usage.cache_read_tokens);
    SetCount(values, p + "cache_creation_input_tokens", &ev->usage.cache_creation_tokens);
  }
}

void InterpretOpenAi(const std::vector<Value>& values, ProviderEvent* ev) {
  if (HasPrefix(values, "$.error")) {
    ev->is_error = true;
    AddErrorMessage(values, ev);
    return;
  }
  for (const Value& v : values) {
    if (!v.is_string) continue;
    if (JsonPathMatches(v.path, "$.choices[*].delta.content")) {
      ev->pieces.push_back({PieceKind::kText, v.path, v.text});
    } else if (JsonPathMatches(v.path, "$.choices[*].delta.tool_calls[*].function.arguments")) {
      ev->pieces.push_back({PieceKind::kToolArguments, v.path, v.text});
    } else if (JsonPathMatches(v.path, "$.choices[*].delta.refusal")) {
      ev->pieces.push_back({PieceKind::kRefusal, v.path, v.text});
    }
  }
  SetCount(values, "$.usage.prompt_tokens", &ev->usage.input_tokens);
  SetCount(values, "$.usage.completion_tokens", &ev->usage.output_tokens);
  SetCount(values, "$.usage.total_tokens", &ev->usage.total_tokens);
  SetCount(values, "$.usage.prompt_tokens_details.cached_tokens", &ev->usage.cache_read_tokens);
}

void InterpretGemini(const std::vector<Value>& values, ProviderEvent* ev) {
  if (HasPrefix(values, "$.error")) {
    ev->is_error = true;
    AddErrorMessage(values, ev);
    return;
  }
  for (const Value& v : values) {
    if (JsonPathMatches(v.path, "$.candidates[*].finishReason") && v.is_string) ev->is_done = true;
    if (!v.is_string) continue;
    if (JsonPathMatches(v.path, "$.candidates[*].content.parts[*].text")) {
      ev->pieces.push_back({PieceKind::kText, v.path, v.text});
    } else if (v.path.find(".functionCall.args") != std::string::npos &&
               JsonPathMatches(v.path.substr(0, v.path.find(".functionCall.args")),
                               "$.candidates[*].content.parts[*]")) {
      // Gemini sends arguments as a JSON object: each string inside is a piece.
      ev->pieces.push_back({PieceKind::kToolArguments, v.path, v.text});
    }
  }
  SetCount(values, "$.usageMetadata.promptTokenCount", &ev->usage.input_tokens);
  SetCount(values, "$.usageMetadata.candidatesTokenCount", &ev->usage.output_tokens);
  SetCount(values, "$.usageMetadata.totalTokenCount", &ev->usage.total_tokens);
  SetCount(values, "$.usageMetadata.cachedContentTokenCount", &ev->usage.cache_read_tokens);
}

}  // namespace

std::string_view ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kAnthropic:
      return "anthropic";
    case Provider::kOpenAi:
      return "openai";
    case Provider::kGemini:
      return "gemini";
    case Provider::kUnknown:
      break;
  }
  return "unknown";
}

bool JsonPathMatches(std::string_view path, std::string_view pattern) {
  size_t i = 0, j = 0;
  while (j < pattern.size()) {
    if (pattern.substr(j).starts_with("[*]")) {
      if (i >= path.size() || path[i] != '[') return false;
      ++i;
      const size_t digits = i;
      while (i < path.size() && path[i] >= '0' && path[i] <= '9') ++i;
      if (i == digits || i >= path.size() || path[i] != ']') return false;
      ++i;
      j += 3;
      continue;
    }
    if (i >= path.size() || path[i] != pattern[j]) return false;
    ++i;
    ++j;
  }
  return i == path.size();
}

Result<ProviderEvent> ParseProviderEventData(Provider provider, std::string_view event_type,
                                             std::string_view data) {
  ProviderEvent ev;
  ev.provider = provider;
  ev.type = std::string(event_type);
  if (data == "[DONE]" && (provider == Provider::kOpenAi || provider == Provider::kUnknown)) {
    ev.provider = Provider::kOpenAi;
    ev.is_done = true;
    return ev;
  }
  std::vector<Value> values;
  JsonWalkOptions options;
  options.visit_keys = false;
  options.visit_scalars = true;
  options.max_depth = 64;
  const Status st = ForEachJsonString(
      data,
      [&](const JsonStringVisit& v) {
        values.push_back({v.path, std::string(v.decoded), v.is_string});
      },
      options);
  if (!st.ok()) {
    return Status::Error(std::string(ProviderName(provider)) + " stream event '" +
                         std::string(event_type) + "': data is not JSON: " + st.message());
  }
  if (ev.provider == Provider::kUnknown) ev.provider = Guess(values);
  switch (ev.provider) {
    case Provider::kAnthropic:
      InterpretAnthropic(values, &ev);
      break;
    case Provider::kOpenAi:
      InterpretOpenAi(values, &ev);
      break;
    case Provider::kGemini:
      InterpretGemini(values, &ev);
      break;
    case Provider::kUnknown:
      if (HasPrefix(values, "$.error")) {
        ev.is_error = true;
        AddErrorMessage(values, &ev);
      }
      break;
  }
  // An SSE "event: error" is an error whatever the body says.
  if (event_type == "error") ev.is_error = true;
  return ev;
}

Result<ProviderEvent> ParseProviderEvent(Provider provider, const SseBlock& block) {
  if (!block.dispatch) {
    ProviderEvent ev;
    ev.provider = provider;
    return ev;
  }
  return ParseProviderEventData(provider, block.type, block.data);
}

}  // namespace glassbox::net
