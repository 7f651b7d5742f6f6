#include "gate/translate/json_util.h"

#include <algorithm>
#include <charconv>
#include <memory>

#include "core/json_writer.h"

namespace glassbox::gate::translate::internal {

Result<json::object> ParseObject(std::string_view body, std::string_view what,
                                 json::storage_ptr storage) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, std::move(storage));
  if (ec) return Status::Error(std::string(what) + " is not JSON: " + ec.message());
  if (!v.is_object()) return Status::Error(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
}

namespace {
constexpr size_t kArenaBytes = size_t{1} << 20;
struct ThreadArena {
  std::unique_ptr<unsigned char[]> buffer;
  bool in_use = false;
};
thread_local ThreadArena thread_arena;
}  // namespace

ParseArena::ParseArena() {
  ThreadArena& a = thread_arena;
  if (!a.in_use) {
    if (!a.buffer) a.buffer = std::make_unique<unsigned char[]>(kArenaBytes);
    a.in_use = owns_buffer_ = true;
    storage_ = json::make_shared_resource<json::monotonic_resource>(a.buffer.get(), kArenaBytes);
  } else {
    storage_ = json::make_shared_resource<json::monotonic_resource>();
  }
}

ParseArena::~ParseArena() {
  storage_ = {};
  if (owns_buffer_) thread_arena.in_use = false;
}

std::optional<int64_t> ExactInt(const json::value& v) {
  boost::system::error_code ec;
  const int64_t n = v.to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

const json::value* Get(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

const json::object* GetObject(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* GetArray(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

std::string_view GetString(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->as_string().data(), v->as_string().size());
}

bool IsString(const json::object& o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_string();
}

std::string Path(std::string_view base, size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

Status Untranslatable(std::string_view field, std::string_view reason) {
  return Status::Error(std::string(field) + ": " + std::string(reason));
}

namespace {

// Appends `s` as a JSON string literal: core's escaper, which appends runs
// without escapes (nearly all of a prompt) whole, found 16 bytes at a time.
// Boost 1.81's serialize() escapes byte by byte (about 4 ms per MB here).
// Boost.JSON's parser has checked the UTF-8, so the literal is exact.
void AppendString(std::string_view s, std::string* out) { JsonWriter::Escape(s, out); }

void AppendValue(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null:
      out->append("null");
      return;
    case json::kind::bool_:
      out->append(v.get_bool() ? "true" : "false");
      return;
    case json::kind::int64:
    case json::kind::uint64: {
      char digits[24];
      auto [end, ec] = v.is_int64()
                           ? std::to_chars(digits, digits + sizeof(digits), v.get_int64())
                           : std::to_chars(digits, digits + sizeof(digits), v.get_uint64());
      out->append(digits, static_cast<size_t>(end - digits));
      return;
    }
    case json::kind::double_:
      out->append(json::serialize(v));  // Boost's shortest round-trip form
      return;
    case json::kind::string:
      AppendString(std::string_view(v.get_string().data(), v.get_string().size()), out);
      return;
    case json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendValue(e, out);
      }
      out->push_back(']');
      return;
    }
    case json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendString(std::string_view(kv.key().data(), kv.key().size()), out);
        out->push_back(':');
        AppendValue(kv.value(), out);
      }
      out->push_back('}');
      return;
    }
  }
}

// An upper bound hint for the output size (strings dominate).
size_t SizeHint(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().size() + 8;
    case json::kind::array: {
      size_t n = 2;
      for (const json::value& e : v.get_array()) n += SizeHint(e) + 1;
      return n;
    }
    case json::kind::object: {
      size_t n = 2;
      for (const auto& kv : v.get_object()) n += kv.key().size() + 4 + SizeHint(kv.value());
      return n;
    }
    default:
      return 24;
  }
}

}  // namespace

std::string Dump(const json::value& v) {
  std::string out;
  out.reserve(SizeHint(v));
  AppendValue(v, &out);
  return out;
}

Result<json::object> ParseArguments(std::string_view text, std::string_view what) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::Error(std::string(what) + ": the tool call's arguments are not a JSON object");
  }
  return std::move(v.as_object());
}

std::string WithPrefix(std::string_view id, std::string_view prefix) {
  if (id.starts_with(prefix)) return std::string(id);
  return std::string(prefix) + std::string(id);
}

void CapMaxTokens(json::object* chat, uint64_t cap, std::vector<std::string>* notes) {
  if (cap == 0) return;
  auto it = chat->find("max_tokens");
  if (it == chat->end() || !it->value().is_number()) return;
  const double asked = it->value().to_number<double>();
  if (asked <= static_cast<double>(cap)) return;
  notes->push_back("max_tokens " + Dump(it->value()) + " lowered to the upstream's max_tokens " +
                   std::to_string(cap));
  it->value() = cap;
}

std::string ToolCallId(std::string_view id, std::string_view response_id, size_t index) {
  if (!id.empty()) return std::string(id);
  return "call_" + std::string(response_id) + "_" + std::to_string(index);
}

void AppendSse(std::string* out, std::string_view type, const json::value& data) {
  if (!type.empty()) {
    out->append("event: ");
    out->append(type);
    out->push_back('\n');
  }
  out->append("data: ");
  AppendValue(data, out);
  out->append("\n\n");
}

std::string_view ChatFinishToAnthropic(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

std::string_view ChatFinishToGemini(std::string_view finish) {
  if (finish == "length") return "MAX_TOKENS";
  if (finish == "content_filter") return "SAFETY";
  return "STOP";
}

std::string FinishChatRequest(json::object& chat, bool stream, uint64_t max_tokens_cap,
                              std::vector<std::string>* notes) {
  CapMaxTokens(&chat, max_tokens_cap, notes);
  if (stream) {
    chat["stream"] = true;
    chat["stream_options"] = json::object{{"include_usage", true}};
  }
  return Dump(chat);
}

json::object ChatFunctionTool(const json::object& tool, json::value parameters) {
  json::object fn{{"name", GetString(tool, "name")}};
  if (IsString(tool, "description")) fn["description"] = GetString(tool, "description");
  fn["parameters"] = std::move(parameters);
  return json::object{{"type", "function"}, {"function", std::move(fn)}};
}

bool IsOneOf(std::string_view key, std::span<const std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool StreamRequested(const json::object& request) {
  const json::value* stream = Get(request, "stream");
  return stream != nullptr && stream->is_bool() && stream->as_bool();
}

std::string_view ReasoningOf(const json::object& message_or_delta) {
  std::string_view r = GetString(message_or_delta, "reasoning_content");
  return r.empty() ? GetString(message_or_delta, "reasoning") : r;
}

Result<const json::array*> ChatChoices(const json::object& response) {
  const json::array* choices = GetArray(response, "choices");
  if (choices == nullptr || choices->empty() || !(*choices)[0].is_object()) {
    return Status::Error("the upstream's response has no choices");
  }
  return choices;
}

json::object AnthropicUsage(const ChatUsage& u) {
  json::object usage{{"input_tokens", u.prompt - std::min(u.cached, u.prompt)},
                     {"output_tokens", u.completion}};
  if (u.cached > 0) usage["cache_read_input_tokens"] = u.cached;
  return usage;
}

json::object ResponsesUsage(const ChatUsage& u) {
  return json::object{{"input_tokens", u.prompt},
                      {"input_tokens_details", json::object{{"cached_tokens", u.cached}}},
                      {"output_tokens", u.completion},
                      {"output_tokens_details", json::object{{"reasoning_tokens", u.reasoning}}},
                      {"total_tokens", u.prompt + u.completion}};
}

json::object GeminiUsageMetadata(const ChatUsage& u) {
  json::object meta{{"promptTokenCount", u.prompt},
                    {"candidatesTokenCount", u.completion},
                    {"totalTokenCount", u.prompt + u.completion}};
  if (u.cached > 0) meta["cachedContentTokenCount"] = u.cached;
  if (u.reasoning > 0) meta["thoughtsTokenCount"] = u.reasoning;
  return meta;
}

}  // namespace glassbox::gate::translate::internal
