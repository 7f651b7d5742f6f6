#include "gate/translate/json_util.h"

namespace glassbox::gate::translate::internal {

Result<json::object> ParseObject(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::Error(std::string(what) + " is not JSON: " + ec.message());
  if (!v.is_object()) return Status::Error(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
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

std::string Dump(const json::value& v) { return json::serialize(v); }

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
  out->append(json::serialize(data));
  out->append("\n\n");
}

std::string_view ChatFinishToAnthropic(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

}  // namespace glassbox::gate::translate::internal
