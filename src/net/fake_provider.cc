#include "net/fake_provider.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "core/query_string.h"

namespace glassbox::net {

namespace json = boost::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kCreated =
    1767225600;  // 2026-01-01T00:00:00Z: fixed, so replies are reproducible

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

const std::string* Header(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (Lower(n) == name) return &v;
  }
  return nullptr;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

uint64_t TokenEstimate(std::string_view text) {
  return std::max<uint64_t>(1, (text.size() + 3) / 4);
}

// Splits `text` into `n` pieces on UTF-8 boundaries (fewer when short).
std::vector<std::string> SplitText(std::string_view text, size_t n) {
  std::vector<std::string> pieces;
  n = std::max<size_t>(1, n);
  const size_t step = std::max<size_t>(1, (text.size() + n - 1) / n);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + step);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    pieces.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  if (pieces.empty()) pieces.emplace_back();
  return pieces;
}

const json::value* Member(const json::value* v, std::string_view key) {
  if (v == nullptr || !v->is_object()) return nullptr;
  return v->as_object().if_contains(key);
}

std::string StringMember(const json::value* v, std::string_view key) {
  const json::value* m = Member(v, key);
  return m != nullptr && m->is_string() ? std::string(m->as_string()) : std::string();
}

json::value MinimalValue(const json::value& schema, const json::value& root, int depth);

// The schema a "$ref" ("#/$defs/Name") points to inside `root`, or null.
const json::value* ResolveRef(std::string_view ref, const json::value& root) {
  if (!ref.starts_with("#/")) return nullptr;
  ref.remove_prefix(2);
  const json::value* target = &root;
  while (target != nullptr && !ref.empty()) {
    const size_t slash = ref.find('/');
    target = Member(target, ref.substr(0, slash));
    ref = slash == std::string_view::npos ? std::string_view() : ref.substr(slash + 1);
  }
  return target;
}

// The first non-null alternative of anyOf/oneOf/allOf, or null.
const json::value* FirstAlternative(const json::object& s) {
  for (const char* key : {"anyOf", "oneOf", "allOf"}) {
    const json::value* list = s.if_contains(key);
    if (list == nullptr || !list->is_array()) continue;
    for (const json::value& option : list->as_array()) {
      if (StringMember(&option, "type") != "null") return &option;
    }
  }
  return nullptr;
}

// The schema's type in lower case: the first non-null one of a type list,
// else guessed from "properties"/"items", else "null".
std::string SchemaType(const json::object& s) {
  const json::value* t = s.if_contains("type");
  if (t != nullptr && t->is_string()) return Lower(t->as_string());
  if (t != nullptr && t->is_array()) {
    for (const json::value& e : t->as_array()) {
      if (e.is_string() && Lower(e.as_string()) != "null") return Lower(e.as_string());
    }
    return "null";
  }
  if (s.contains("properties")) return "object";
  return s.contains("items") ? "array" : "null";
}

int64_t IntMember(const json::object& s, std::string_view key, int64_t fallback) {
  const json::value* v = s.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : fallback;
}

json::value MinimalObject(const json::object& s, const json::value& root, int depth) {
  json::object out;
  const json::value* props = s.if_contains("properties");
  const json::value* required = s.if_contains("required");
  if (required == nullptr || !required->is_array()) return out;
  for (const json::value& name : required->as_array()) {
    if (!name.is_string()) continue;
    const json::value* p = Member(props, name.as_string());
    out[name.as_string()] = p != nullptr ? MinimalValue(*p, root, depth + 1) : json::value(nullptr);
  }
  return out;
}

json::value MinimalArray(const json::object& s, const json::value& root, int depth) {
  json::array out;
  const int64_t n = std::clamp<int64_t>(IntMember(s, "minItems", 0), 0, 100);
  const json::value* items = s.if_contains("items");
  for (int64_t i = 0; i < n; ++i)
    out.push_back(items != nullptr ? MinimalValue(*items, root, depth + 1) : nullptr);
  return out;
}

// A valid example of each string format providers' schemas use.
constexpr std::pair<std::string_view, std::string_view> kFormatExamples[] = {
    {"date-time", "1970-01-01T00:00:00Z"},
    {"date", "1970-01-01"},
    {"time", "00:00:00Z"},
    {"email", "a@example.com"},
    {"uri", "https://example.com"},
    {"url", "https://example.com"},
    {"uuid", "00000000-0000-0000-0000-000000000000"},
};

json::value MinimalString(const json::object& s) {
  const json::value* format = s.if_contains("format");
  if (format != nullptr && format->is_string()) {
    for (const auto& [name, example] : kFormatExamples) {
      if (format->as_string() == name) return json::string(example);
    }
  }
  const int64_t n = std::clamp<int64_t>(IntMember(s, "minLength", 0), 0, 10000);
  return json::string(static_cast<size_t>(n), 'a');
}

// Zero moved into [minimum or exclusiveMinimum + 1, maximum].
json::value MinimalNumber(const json::object& s, bool integer) {
  double v = 0;
  const json::value* min = s.if_contains("minimum");
  const json::value* xmin = s.if_contains("exclusiveMinimum");
  const json::value* max = s.if_contains("maximum");
  if (min != nullptr && min->is_number()) v = std::max(v, min->to_number<double>());
  if (xmin != nullptr && xmin->is_number() && xmin->to_number<double>() >= v)
    v = xmin->to_number<double>() + 1;
  if (max != nullptr && max->is_number()) v = std::min(v, max->to_number<double>());
  if (integer) return static_cast<int64_t>(v);
  return v;
}

// The smallest value that satisfies a JSON Schema (the subset providers use
// for structured output: type, properties, required, items, minItems, enum,
// const, anyOf/oneOf/allOf, $ref to $defs, string formats and minLength,
// numeric minimum/maximum). Gemini writes types in upper case.
json::value MinimalValue(const json::value& schema, const json::value& root, int depth) {
  if (depth > 32 || !schema.is_object()) return nullptr;
  const json::object& s = schema.as_object();
  if (const json::value* c = s.if_contains("const")) return *c;
  if (const json::value* e = s.if_contains("enum");
      e != nullptr && e->is_array() && !e->as_array().empty()) {
    return e->as_array()[0];
  }
  if (const json::value* ref = s.if_contains("$ref"); ref != nullptr && ref->is_string()) {
    const json::value* target = ResolveRef(ref->as_string(), root);
    return target != nullptr ? MinimalValue(*target, root, depth + 1) : json::value(nullptr);
  }
  if (const json::value* option = FirstAlternative(s))
    return MinimalValue(*option, root, depth + 1);
  const std::string type = SchemaType(s);
  if (type == "object") return MinimalObject(s, root, depth);
  if (type == "array") return MinimalArray(s, root, depth);
  if (type == "string") return MinimalString(s);
  if (type == "integer" || type == "number") return MinimalNumber(s, type == "integer");
  if (type == "boolean") return false;
  return nullptr;
}

json::value Minimal(const json::value& schema) { return MinimalValue(schema, schema, 0); }

std::string Sse(std::string_view event, const json::value& data) {
  std::string out;
  if (!event.empty()) out = fmt::format("event: {}\n", event);
  out += "data: " + json::serialize(data) + "\n\n";
  return out;
}

struct Reply {
  std::string text;
  // A forced tool call, when the request asks for one.
  std::string tool_name;
  json::value tool_input;  // an object
  bool has_tool = false;
};

// Structured-output and forced-tool requests, per protocol.
void AnthropicShape(const json::value& req, Reply* reply) {
  const json::value* choice = Member(&req, "tool_choice");
  const std::string type = StringMember(choice, "type");
  if (type != "tool" && type != "any") return;
  const std::string wanted = StringMember(choice, "name");
  const json::value* tools = Member(&req, "tools");
  if (tools == nullptr || !tools->is_array()) return;
  for (const json::value& tool : tools->as_array()) {
    const std::string name = StringMember(&tool, "name");
    if (type == "tool" && name != wanted) continue;
    reply->has_tool = true;
    reply->tool_name = name;
    const json::value* schema = Member(&tool, "input_schema");
    reply->tool_input = schema != nullptr ? Minimal(*schema) : json::object();
    if (!reply->tool_input.is_object()) reply->tool_input = json::object();
    return;
  }
}

void OpenAiChatShape(const json::value& req, Reply* reply) {
  const json::value* format = Member(&req, "response_format");
  const std::string ftype = StringMember(format, "type");
  if (ftype == "json_schema") {
    const json::value* schema = Member(Member(format, "json_schema"), "schema");
    reply->text =
        json::serialize(schema != nullptr ? Minimal(*schema) : json::value(json::object()));
  } else if (ftype == "json_object") {
    reply->text = "{}";
  }
  const json::value* choice = Member(&req, "tool_choice");
  std::string wanted;
  if (choice != nullptr && choice->is_string() && choice->as_string() == "required") {
    wanted = "*";
  } else {
    wanted = StringMember(Member(choice, "function"), "name");
  }
  if (wanted.empty()) return;
  const json::value* tools = Member(&req, "tools");
  if (tools == nullptr || !tools->is_array()) return;
  for (const json::value& tool : tools->as_array()) {
    const json::value* fn = Member(&tool, "function");
    const std::string name = StringMember(fn, "name");
    if (wanted != "*" && name != wanted) continue;
    reply->has_tool = true;
    reply->tool_name = name;
    const json::value* schema = Member(fn, "parameters");
    reply->tool_input = schema != nullptr ? Minimal(*schema) : json::object();
    return;
  }
}

void ResponsesShape(const json::value& req, Reply* reply) {
  const json::value* format = Member(Member(&req, "text"), "format");
  if (StringMember(format, "type") == "json_schema") {
    const json::value* schema = Member(format, "schema");
    reply->text =
        json::serialize(schema != nullptr ? Minimal(*schema) : json::value(json::object()));
  } else if (StringMember(format, "type") == "json_object") {
    reply->text = "{}";
  }
  const json::value* choice = Member(&req, "tool_choice");
  std::string wanted;
  if (choice != nullptr && choice->is_string() && choice->as_string() == "required") {
    wanted = "*";
  } else if (StringMember(choice, "type") == "function") {
    wanted = StringMember(choice, "name");
  }
  if (wanted.empty()) return;
  const json::value* tools = Member(&req, "tools");
  if (tools == nullptr || !tools->is_array()) return;
  for (const json::value& tool : tools->as_array()) {
    const std::string name = StringMember(&tool, "name");
    if (StringMember(&tool, "type") != "function" || (wanted != "*" && name != wanted)) continue;
    reply->has_tool = true;
    reply->tool_name = name;
    const json::value* schema = Member(&tool, "parameters");
    reply->tool_input = schema != nullptr ? Minimal(*schema) : json::object();
    return;
  }
}

void GeminiShape(const json::value& req, Reply* reply) {
  const json::value* config = Member(&req, "generationConfig");
  const json::value* schema = Member(config, "responseSchema");
  if (schema == nullptr) schema = Member(config, "responseJsonSchema");
  if (schema != nullptr) {
    reply->text = json::serialize(Minimal(*schema));
  } else if (StringMember(config, "responseMimeType") == "application/json") {
    reply->text = "{}";
  }
  const json::value* fcc = Member(Member(&req, "toolConfig"), "functionCallingConfig");
  if (StringMember(fcc, "mode") != "ANY") return;
  std::string wanted;
  if (const json::value* allowed = Member(fcc, "allowedFunctionNames");
      allowed != nullptr && allowed->is_array() && !allowed->as_array().empty() &&
      allowed->as_array()[0].is_string()) {
    wanted = allowed->as_array()[0].as_string();
  }
  const json::value* tools = Member(&req, "tools");
  if (tools == nullptr || !tools->is_array()) return;
  for (const json::value& tool : tools->as_array()) {
    const json::value* decls = Member(&tool, "functionDeclarations");
    if (decls == nullptr || !decls->is_array()) continue;
    for (const json::value& d : decls->as_array()) {
      const std::string name = StringMember(&d, "name");
      if (!wanted.empty() && name != wanted) continue;
      reply->has_tool = true;
      reply->tool_name = name;
      const json::value* params = Member(&d, "parameters");
      if (params == nullptr) params = Member(&d, "parametersJsonSchema");
      reply->tool_input = params != nullptr ? Minimal(*params) : json::object();
      return;
    }
  }
}

class Planner {
 public:
  Planner(const FakeProviderOptions& options, ResponsePlan* plan)
      : options_(options), plan_(plan) {}

  void Json(int status, const json::value& body) {
    plan_->status = status;
    plan_->headers.emplace_back("content-type", "application/json");
    plan_->chunks.push_back({json::serialize(body), 0});
  }
  void SseHeaders() {
    plan_->status = 200;
    plan_->streaming = true;
    plan_->headers.emplace_back("content-type", "text/event-stream");
    plan_->headers.emplace_back("cache-control", "no-cache");
  }
  void Event(std::string bytes) { plan_->chunks.push_back({std::move(bytes), 0}); }

  void AnthropicMessages(const json::value& req, const Reply& reply, uint64_t in_tokens,
                         bool stream) {
    const std::string model =
        StringMember(&req, "model").empty() ? "claude-fake" : StringMember(&req, "model");
    const uint64_t out_tokens = reply.has_tool ? TokenEstimate(json::serialize(reply.tool_input))
                                               : TokenEstimate(reply.text);
    json::object block;
    if (reply.has_tool) {
      block = {{"type", "tool_use"},
               {"id", "toolu_fake01"},
               {"name", reply.tool_name},
               {"input", reply.tool_input}};
    } else {
      block = {{"type", "text"}, {"text", reply.text}};
    }
    const char* stop = reply.has_tool ? "tool_use" : "end_turn";
    if (!stream) {
      Json(200, json::object{{"id", "msg_fake01"},
                             {"type", "message"},
                             {"role", "assistant"},
                             {"model", model},
                             {"content", json::array{block}},
                             {"stop_reason", stop},
                             {"stop_sequence", nullptr},
                             {"usage",
                              {{"input_tokens", in_tokens},
                               {"cache_creation_input_tokens", 0},
                               {"cache_read_input_tokens", 0},
                               {"output_tokens", out_tokens}}}});
      return;
    }
    SseHeaders();
    plan_->headers.emplace_back("request-id", "req_fake01");
    Event(Sse("message_start", {{"type", "message_start"},
                                {"message",
                                 {{"id", "msg_fake01"},
                                  {"type", "message"},
                                  {"role", "assistant"},
                                  {"model", model},
                                  {"content", json::array()},
                                  {"stop_reason", nullptr},
                                  {"stop_sequence", nullptr},
                                  {"usage",
                                   {{"input_tokens", in_tokens},
                                    {"cache_creation_input_tokens", 0},
                                    {"cache_read_input_tokens", 0},
                                    {"output_tokens", 1}}}}}}));
    json::object start_block = block;
    if (reply.has_tool) {
      start_block["input"] = json::object();
    } else {
      start_block["text"] = "";
    }
    Event(Sse("content_block_start",
              {{"type", "content_block_start"}, {"index", 0}, {"content_block", start_block}}));
    Event(Sse("ping", {{"type", "ping"}}));
    const std::string content = reply.has_tool ? json::serialize(reply.tool_input) : reply.text;
    for (const std::string& piece : SplitText(content, options_.stream_pieces)) {
      json::object delta = reply.has_tool
                               ? json::object{{"type", "input_json_delta"}, {"partial_json", piece}}
                               : json::object{{"type", "text_delta"}, {"text", piece}};
      Event(Sse("content_block_delta",
                {{"type", "content_block_delta"}, {"index", 0}, {"delta", delta}}));
    }
    Event(Sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}));
    Event(Sse("message_delta", {{"type", "message_delta"},
                                {"delta", {{"stop_reason", stop}, {"stop_sequence", nullptr}}},
                                {"usage", {{"output_tokens", out_tokens}}}}));
    Event(Sse("message_stop", {{"type", "message_stop"}}));
  }

  void OpenAiChat(const json::value& req, const Reply& reply, uint64_t in_tokens, bool stream) {
    const std::string model =
        StringMember(&req, "model").empty() ? "gpt-fake" : StringMember(&req, "model");
    const std::string args = reply.has_tool ? json::serialize(reply.tool_input) : "";
    const uint64_t out_tokens = TokenEstimate(reply.has_tool ? args : reply.text);
    const char* finish = reply.has_tool ? "tool_calls" : "stop";
    json::object usage{{"prompt_tokens", in_tokens},
                       {"completion_tokens", out_tokens},
                       {"total_tokens", in_tokens + out_tokens}};
    if (!stream) {
      json::object message{{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr}};
      if (reply.has_tool) {
        message["tool_calls"] =
            json::array{{{"id", "call_fake01"},
                         {"type", "function"},
                         {"function", {{"name", reply.tool_name}, {"arguments", args}}}}};
      } else {
        message["content"] = reply.text;
      }
      Json(200, json::object{{"id", "chatcmpl-fake01"},
                             {"object", "chat.completion"},
                             {"created", kCreated},
                             {"model", model},
                             {"choices", json::array{{{"index", 0},
                                                      {"message", message},
                                                      {"logprobs", nullptr},
                                                      {"finish_reason", finish}}}},
                             {"usage", usage}});
      return;
    }
    SseHeaders();
    auto chunk = [&](json::value delta, json::value finish_reason) {
      return json::object{{"id", "chatcmpl-fake01"},
                          {"object", "chat.completion.chunk"},
                          {"created", kCreated},
                          {"model", model},
                          {"choices", json::array{{{"index", 0},
                                                   {"delta", std::move(delta)},
                                                   {"logprobs", nullptr},
                                                   {"finish_reason", std::move(finish_reason)}}}}};
    };
    if (reply.has_tool) {
      Event(Sse(
          "", chunk(json::object{{"role", "assistant"},
                                 {"content", nullptr},
                                 {"tool_calls",
                                  json::array{{{"index", 0},
                                               {"id", "call_fake01"},
                                               {"type", "function"},
                                               {"function",
                                                {{"name", reply.tool_name}, {"arguments", ""}}}}}}},
                    nullptr)));
      for (const std::string& piece : SplitText(args, options_.stream_pieces)) {
        Event(Sse(
            "",
            chunk(json::object{{"tool_calls",
                                json::array{{{"index", 0}, {"function", {{"arguments", piece}}}}}}},
                  nullptr)));
      }
    } else {
      Event(
          Sse("", chunk(json::object{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}},
                        nullptr)));
      for (const std::string& piece : SplitText(reply.text, options_.stream_pieces)) {
        Event(Sse("", chunk(json::object{{"content", piece}}, nullptr)));
      }
    }
    Event(Sse("", chunk(json::object(), finish)));
    if (Member(Member(&req, "stream_options"), "include_usage") != nullptr &&
        Member(Member(&req, "stream_options"), "include_usage")->is_bool() &&
        Member(Member(&req, "stream_options"), "include_usage")->as_bool()) {
      Event(Sse("", json::object{{"id", "chatcmpl-fake01"},
                                 {"object", "chat.completion.chunk"},
                                 {"created", kCreated},
                                 {"model", model},
                                 {"choices", json::array()},
                                 {"usage", usage}}));
    }
    Event("data: [DONE]\n\n");
  }

  void OpenAiResponses(const json::value& req, const Reply& reply, uint64_t in_tokens,
                       bool stream) {
    const std::string model =
        StringMember(&req, "model").empty() ? "gpt-fake" : StringMember(&req, "model");
    const std::string args = reply.has_tool ? json::serialize(reply.tool_input) : "";
    const uint64_t out_tokens = TokenEstimate(reply.has_tool ? args : reply.text);
    json::object item;
    if (reply.has_tool) {
      item = {{"type", "function_call"}, {"id", "fc_fake01"}, {"call_id", "call_fake01"},
              {"name", reply.tool_name}, {"arguments", args}, {"status", "completed"}};
    } else {
      item = {{"type", "message"},
              {"id", "msg_fake01"},
              {"status", "completed"},
              {"role", "assistant"},
              {"content", json::array{{{"type", "output_text"},
                                       {"text", reply.text},
                                       {"annotations", json::array()}}}}};
    }
    auto response = [&](std::string_view status, bool done) {
      json::object r{{"id", "resp_fake01"},    {"object", "response"},
                     {"created_at", kCreated}, {"status", status},
                     {"model", model},         {"output", done ? json::array{item} : json::array()},
                     {"usage", nullptr}};
      if (done) {
        r["usage"] = {{"input_tokens", in_tokens},
                      {"input_tokens_details", {{"cached_tokens", 0}}},
                      {"output_tokens", out_tokens},
                      {"output_tokens_details", {{"reasoning_tokens", 0}}},
                      {"total_tokens", in_tokens + out_tokens}};
      }
      return r;
    };
    if (!stream) {
      Json(200, response("completed", true));
      return;
    }
    SseHeaders();
    int seq = 0;
    auto event = [&](std::string_view type, json::object data) {
      data["type"] = type;
      data["sequence_number"] = seq++;
      Event(Sse(type, data));
    };
    event("response.created", {{"response", response("in_progress", false)}});
    event("response.in_progress", {{"response", response("in_progress", false)}});
    json::object added = item;
    if (reply.has_tool) {
      added["arguments"] = "";
      added["status"] = "in_progress";
      event("response.output_item.added", {{"output_index", 0}, {"item", added}});
      for (const std::string& piece : SplitText(args, options_.stream_pieces)) {
        event("response.function_call_arguments.delta",
              {{"item_id", "fc_fake01"}, {"output_index", 0}, {"delta", piece}});
      }
      event("response.function_call_arguments.done",
            {{"item_id", "fc_fake01"}, {"output_index", 0}, {"arguments", args}});
    } else {
      added["content"] = json::array();
      added["status"] = "in_progress";
      event("response.output_item.added", {{"output_index", 0}, {"item", added}});
      json::object part{{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}};
      event("response.content_part.added",
            {{"item_id", "msg_fake01"}, {"output_index", 0}, {"content_index", 0}, {"part", part}});
      for (const std::string& piece : SplitText(reply.text, options_.stream_pieces)) {
        event("response.output_text.delta", {{"item_id", "msg_fake01"},
                                             {"output_index", 0},
                                             {"content_index", 0},
                                             {"delta", piece}});
      }
      event("response.output_text.done", {{"item_id", "msg_fake01"},
                                          {"output_index", 0},
                                          {"content_index", 0},
                                          {"text", reply.text}});
      part["text"] = reply.text;
      event("response.content_part.done",
            {{"item_id", "msg_fake01"}, {"output_index", 0}, {"content_index", 0}, {"part", part}});
    }
    event("response.output_item.done", {{"output_index", 0}, {"item", item}});
    event("response.completed", {{"response", response("completed", true)}});
  }

  json::object GeminiChunk(const std::string& model, const json::value& part, bool last,
                           uint64_t in_tokens, uint64_t out_tokens) {
    json::object candidate{{"content", {{"parts", json::array{part}}, {"role", "model"}}},
                           {"index", 0}};
    if (last) candidate["finishReason"] = "STOP";
    json::object chunk{{"candidates", json::array{candidate}}, {"modelVersion", model}};
    json::object usage{{"promptTokenCount", in_tokens}};
    if (last) {
      usage["candidatesTokenCount"] = out_tokens;
      usage["totalTokenCount"] = in_tokens + out_tokens;
    } else {
      usage["totalTokenCount"] = in_tokens;
    }
    chunk["usageMetadata"] = usage;
    return chunk;
  }

  void Gemini(const std::string& model, const Reply& reply, uint64_t in_tokens, bool stream,
              bool sse) {
    const uint64_t out_tokens =
        TokenEstimate(reply.has_tool ? json::serialize(reply.tool_input) : reply.text);
    std::vector<json::value> parts;
    if (reply.has_tool) {
      parts.push_back(
          json::object{{"functionCall", {{"name", reply.tool_name}, {"args", reply.tool_input}}}});
    } else if (stream) {
      for (const std::string& piece : SplitText(reply.text, options_.stream_pieces)) {
        parts.push_back(json::object{{"text", piece}});
      }
    } else {
      parts.push_back(json::object{{"text", reply.text}});
    }
    if (!stream) {
      Json(200, GeminiChunk(model, parts[0], true, in_tokens, out_tokens));
      return;
    }
    if (sse) {
      SseHeaders();
      for (size_t i = 0; i < parts.size(); ++i) {
        // Gemini ends its events with CRLF CRLF.
        Event("data: " +
              json::serialize(
                  GeminiChunk(model, parts[i], i + 1 == parts.size(), in_tokens, out_tokens)) +
              "\r\n\r\n");
      }
      return;
    }
    // Without alt=sse: one JSON array, sent element by element.
    plan_->status = 200;
    plan_->streaming = true;
    plan_->headers.emplace_back("content-type", "application/json; charset=UTF-8");
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string bytes = i == 0 ? "[" : ",\r\n";
      bytes += json::serialize(
          GeminiChunk(model, parts[i], i + 1 == parts.size(), in_tokens, out_tokens));
      if (i + 1 == parts.size()) bytes += "]";
      Event(std::move(bytes));
    }
  }

 private:
  const FakeProviderOptions& options_;
  ResponsePlan* plan_;
};

// The error "type" (Anthropic, OpenAI) or "status" (Gemini) each provider
// documents for an HTTP status; the last row of a protocol is its default.
struct ErrorKind {
  std::string_view protocol;
  int status;  // 0: any other
  std::string_view type;
};
constexpr ErrorKind kErrorKinds[] = {
    {"anthropic", 404, "not_found_error"},
    {"anthropic", 429, "rate_limit_error"},
    {"anthropic", 500, "api_error"},
    {"anthropic", 0, "invalid_request_error"},
    {"gemini", 404, "NOT_FOUND"},
    {"gemini", 429, "RESOURCE_EXHAUSTED"},
    {"gemini", 500, "INTERNAL"},
    {"gemini", 0, "INVALID_ARGUMENT"},
    {"openai", 429, "rate_limit_exceeded"},
    {"openai", 500, "server_error"},
    {"openai", 0, "invalid_request_error"},
};

std::string_view ErrorType(std::string_view protocol, int status) {
  const int key = status >= 500 ? 500 : status;
  if (protocol != "anthropic" && protocol != "gemini") protocol = "openai";
  for (const ErrorKind& kind : kErrorKinds) {
    if (kind.protocol == protocol && (kind.status == key || kind.status == 0)) return kind.type;
  }
  return "invalid_request_error";
}

json::value ErrorBody(std::string_view protocol, int status, std::string_view message) {
  const json::string type(ErrorType(protocol, status));
  if (protocol == "anthropic") {
    return json::object{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
  }
  if (protocol == "gemini") {
    return json::object{{"error", {{"code", status}, {"message", message}, {"status", type}}}};
  }
  return json::object{
      {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}};
}

void ApplyFault(std::string_view fault, const FakeProviderOptions& options, ResponsePlan* plan) {
  if (fault == "slow") {
    plan->fault = FakeFault::kSlow;
    for (FakeChunk& c : plan->chunks) c.delay_ms = options.slow_delay_ms;
    return;
  }
  if (fault != "reset-mid-stream" && fault != "truncated") return;
  // A single JSON body is split in two so that there is a middle to fail in.
  if (plan->chunks.size() == 1) {
    std::string body = std::move(plan->chunks[0].bytes);
    plan->chunks.clear();
    const size_t half = body.size() / 2;
    plan->chunks.push_back({body.substr(0, half), 0});
    plan->chunks.push_back({body.substr(half), 0});
  }
  const size_t mid = std::max<size_t>(1, plan->chunks.size() / 2);
  if (fault == "reset-mid-stream") {
    plan->fault = FakeFault::kResetAfterChunk;
    plan->reset_after_chunk = mid;
    return;
  }
  plan->fault = FakeFault::kTruncate;
  std::string& cut = plan->chunks[std::min(mid, plan->chunks.size() - 1)].bytes;
  cut.resize(cut.size() / 2);
  plan->chunks.resize(std::min(mid + 1, plan->chunks.size()));
}

// The reply text before any structured-output shaping: the configured text,
// or what the x-fake-reply / x-fake-echo headers ask for.
Reply BaseReply(const FakeProviderOptions& options, const Headers& headers, std::string_view body) {
  Reply reply;
  reply.text = options.reply_text;
  if (const std::string* r = Header(headers, "x-fake-reply")) reply.text = PercentDecode(*r);
  if (const std::string* e = Header(headers, "x-fake-echo"); e != nullptr && *e == "1")
    reply.text = std::string(body);
  return reply;
}

// Which provider's error shape a request expects when its route does not
// say: its version or key header, else its path; OpenAI's by default.
std::string GuessProtocol(std::string_view path, const Headers& headers) {
  if (Header(headers, "anthropic-version") != nullptr || Header(headers, "x-api-key") != nullptr)
    return "anthropic";
  if (path.find("/v1beta/") != std::string_view::npos ||
      Header(headers, "x-goog-api-key") != nullptr) {
    return "gemini";
  }
  return "openai";
}

bool IsWebSocketUpgrade(const Headers& headers) {
  const std::string* upgrade = Header(headers, "upgrade");
  return upgrade != nullptr && Lower(*upgrade).find("websocket") != std::string::npos;
}

// A WebSocket upgrade (the OpenAI Responses API over WebSocket) is refused
// as a server without that transport does, 426 in the provider's error
// shape, so a client with an HTTP fallback takes it at once; a 200 to the
// handshake was taken for a broken connection and retried with back-off
// (Codex: six handshakes, about 6 s per run).
void RefuseWebSocket(std::string_view path, const Headers& headers, Planner* planner,
                     ResponsePlan* plan) {
  const std::string protocol = GuessProtocol(path, headers);
  plan->route = "websocket.refused";
  planner->Json(426,
                ErrorBody(protocol, 426, "fake provider: no WebSocket transport here; use HTTP"));
}

// A path no route knows. What a real server without that resource says is
// what makes a real client stop asking: an API client's GET of a document
// we do not have (an organisation policy, remote settings, a feature flag
// set) and its call of an unknown API under a provider's path get 404 in the
// provider's error shape, which HTTP clients treat as final (a 200 "{}" is a
// document the client cannot parse, and it retried with back-off: Claude
// Code asked for /api/claude_code/policy_limits five times over 5 s per run).
// A POST elsewhere (telemetry, event logs) is accepted with 200 "{}"; a
// request without credentials (a connectivity check, an update check) gets
// 200 "{}"; OPTIONS gets 204.
void AnswerOtherPath(std::string_view method, std::string_view path, const Headers& headers,
                     Planner* planner, ResponsePlan* plan) {
  if (method == "OPTIONS") {
    plan->status = 204;
    return;
  }
  const bool api_path = path.find("/v1/") != std::string_view::npos ||
                        path.find("/v1beta/") != std::string_view::npos ||
                        path.find("/openai/") != std::string_view::npos ||
                        path.find("/compatible-mode/") != std::string_view::npos;
  // Only a client of the API sends its credentials or version header; a
  // telemetry POST to some "/v1/events" is not a provider call.
  const bool not_found =
      IsApiClient(headers) && (method == "GET" || (method == "POST" && api_path));
  if (!not_found) {
    planner->Json(200, json::object());
    return;
  }
  const std::string protocol = GuessProtocol(path, headers);
  plan->route = "unknown." + protocol;
  planner->Json(
      404, ErrorBody(protocol, 404, fmt::format("fake provider: no API at {} {}", method, path)));
}

// What a known route's answer needs from the request.
struct RouteRequest {
  const json::value& req;  // the parsed body (null for a GET)
  Reply* reply;
  uint64_t in_tokens;
  bool stream;
  std::string_view path;
  std::string_view query;
};

// The model and method of a Gemini call ".../models/MODEL:METHOD".
std::pair<std::string, std::string> GeminiModelAndMethod(std::string_view path) {
  std::string_view rest = path.substr(path.rfind("/models/") + 8);
  const size_t colon = rest.rfind(':');
  return {std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

constexpr double kFakeEmbedding[] = {0.0, 0.125, -0.25, 0.5, 0.0, 0.0, 0.0, 0.0};

json::array FakeEmbedding() {
  return json::array(std::begin(kFakeEmbedding), std::end(kFakeEmbedding));
}

// The number of elements of an array member, at least 1.
size_t CountAtLeastOne(const json::value& req, std::string_view key) {
  const json::value* list = Member(&req, key);
  return list != nullptr && list->is_array() ? std::max<size_t>(1, list->as_array().size()) : 1;
}

void AnswerAnthropicMessages(const RouteRequest& r, Planner* planner) {
  AnthropicShape(r.req, r.reply);
  planner->AnthropicMessages(r.req, *r.reply, r.in_tokens, r.stream);
}

void AnswerAnthropicCountTokens(const RouteRequest& r, Planner* planner) {
  planner->Json(200, json::object{{"input_tokens", r.in_tokens}});
}

void AnswerAnthropicModels(const RouteRequest& /*r*/, Planner* planner) {
  json::array data;
  for (const char* id : {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}) {
    data.push_back(json::object{{"type", "model"},
                                {"id", id},
                                {"display_name", id},
                                {"created_at", "2026-01-01T00:00:00Z"}});
  }
  planner->Json(200, json::object{{"data", data},
                                  {"has_more", false},
                                  {"first_id", "claude-sonnet-4-5"},
                                  {"last_id", "claude-opus-4-1"}});
}

void AnswerOpenAiModels(const RouteRequest& /*r*/, Planner* planner) {
  json::array data;
  for (const char* id : {"gpt-5", "gpt-5-mini", "gpt-4o", "text-embedding-3-small"}) {
    data.push_back(json::object{
        {"id", id}, {"object", "model"}, {"created", kCreated}, {"owned_by", "openai"}});
  }
  planner->Json(200, json::object{{"object", "list"}, {"data", data}});
}

void AnswerOpenAiChat(const RouteRequest& r, Planner* planner) {
  OpenAiChatShape(r.req, r.reply);
  planner->OpenAiChat(r.req, *r.reply, r.in_tokens, r.stream);
}

void AnswerOpenAiResponses(const RouteRequest& r, Planner* planner) {
  ResponsesShape(r.req, r.reply);
  planner->OpenAiResponses(r.req, *r.reply, r.in_tokens, r.stream);
}

void AnswerOpenAiEmbeddings(const RouteRequest& r, Planner* planner) {
  const size_t inputs = CountAtLeastOne(r.req, "input");
  json::array data;
  for (size_t i = 0; i < inputs; ++i) {
    data.push_back(
        json::object{{"object", "embedding"}, {"index", i}, {"embedding", FakeEmbedding()}});
  }
  const std::string model =
      StringMember(&r.req, "model").empty() ? "text-embedding-fake" : StringMember(&r.req, "model");
  planner->Json(
      200,
      json::object{{"object", "list"},
                   {"data", data},
                   {"model", model},
                   {"usage", {{"prompt_tokens", r.in_tokens}, {"total_tokens", r.in_tokens}}}});
}

void AnswerGeminiModels(const RouteRequest& /*r*/, Planner* planner) {
  json::array models;
  for (const char* id : {"gemini-2.5-pro", "gemini-2.5-flash"}) {
    models.push_back(
        json::object{{"name", fmt::format("models/{}", id)},
                     {"displayName", id},
                     {"supportedGenerationMethods",
                      json::array{"generateContent", "streamGenerateContent", "countTokens"}}});
  }
  planner->Json(200, json::object{{"models", models}});
}

void AnswerGeminiCountTokens(const RouteRequest& r, Planner* planner) {
  planner->Json(200, json::object{{"totalTokens", r.in_tokens}});
}

void AnswerGeminiEmbed(const RouteRequest& r, Planner* planner) {
  if (GeminiModelAndMethod(r.path).second == "embedContent") {
    planner->Json(200, json::object{{"embedding", {{"values", FakeEmbedding()}}}});
    return;
  }
  json::array embeddings;
  const size_t n = CountAtLeastOne(r.req, "requests");
  for (size_t i = 0; i < n; ++i) embeddings.push_back(json::object{{"values", FakeEmbedding()}});
  planner->Json(200, json::object{{"embeddings", embeddings}});
}

void AnswerGeminiGenerate(const RouteRequest& r, Planner* planner, bool stream) {
  GeminiShape(r.req, r.reply);
  planner->Gemini(GeminiModelAndMethod(r.path).first, *r.reply, r.in_tokens, stream,
                  QueryParam(r.query, "alt") == "sse");
}

void AnswerGeminiGenerateContent(const RouteRequest& r, Planner* planner) {
  AnswerGeminiGenerate(r, planner, false);
}

void AnswerGeminiStreamGenerateContent(const RouteRequest& r, Planner* planner) {
  AnswerGeminiGenerate(r, planner, true);
}

// Every route ApiRoute() names, with its answer.
constexpr std::pair<std::string_view, void (*)(const RouteRequest&, Planner*)> kRouteAnswers[] = {
    {"anthropic.messages", AnswerAnthropicMessages},
    {"anthropic.count_tokens", AnswerAnthropicCountTokens},
    {"anthropic.models", AnswerAnthropicModels},
    {"openai.models", AnswerOpenAiModels},
    {"openai.chat_completions", AnswerOpenAiChat},
    {"openai.responses", AnswerOpenAiResponses},
    {"openai.embeddings", AnswerOpenAiEmbeddings},
    {"gemini.models", AnswerGeminiModels},
    {"gemini.count_tokens", AnswerGeminiCountTokens},
    {"gemini.embed_content", AnswerGeminiEmbed},
    {"gemini.generate_content", AnswerGeminiGenerateContent},
    {"gemini.stream_generate_content", AnswerGeminiStreamGenerateContent},
};

}  // namespace

std::string ResponsePlan::Body() const {
  std::string out;
  for (const FakeChunk& c : chunks) out += c.bytes;
  return out;
}

std::string ApiRoute(std::string_view method, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  // Clients put any base path in front of the API's own path (OpenRouter
  // "/api/v1/...", DashScope "/compatible-mode/v1/...", Groq "/openai/v1/...",
  // Azure "/openai/deployments/NAME/chat/completions"), so the route is found
  // from the end of the path.
  const bool post = method == "POST";
  const bool get = method == "GET";
  if (post && path.ends_with("/messages/count_tokens")) return "anthropic.count_tokens";
  if (post && path.ends_with("/messages")) return "anthropic.messages";
  if (get && path.ends_with("/models") && !path.ends_with("/v1beta/models")) {
    return Header(headers, "anthropic-version") != nullptr ? "anthropic.models" : "openai.models";
  }
  if (post && (path.ends_with("/chat/completions") || path.ends_with("/completions"))) {
    return "openai.chat_completions";
  }
  if (post && path.ends_with("/responses")) return "openai.responses";
  if (post && path.ends_with("/embeddings")) return "openai.embeddings";
  if (get && path.ends_with("/v1beta/models")) return "gemini.models";
  if (post && path.find("/models/") != std::string_view::npos) {
    std::string_view rest = path.substr(path.rfind("/models/") + 8);
    const size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      std::string_view m = rest.substr(colon + 1);
      if (m == "generateContent") return "gemini.generate_content";
      if (m == "streamGenerateContent") return "gemini.stream_generate_content";
      if (m == "countTokens") return "gemini.count_tokens";
      if (m == "embedContent" || m == "batchEmbedContents") return "gemini.embed_content";
    }
  }
  return "other";
}

bool IsApiClient(const std::vector<std::pair<std::string, std::string>>& headers) {
  return Header(headers, "anthropic-version") != nullptr ||
         Header(headers, "x-api-key") != nullptr || Header(headers, "authorization") != nullptr ||
         Header(headers, "x-goog-api-key") != nullptr || Header(headers, "api-key") != nullptr;
}

FakeProvider::FakeProvider(FakeProviderOptions options) : options_(std::move(options)) {}

ResponsePlan FakeProvider::Plan(std::string_view method, std::string_view target,
                                const Headers& headers, std::string_view body) const {
  ResponsePlan plan;
  plan.received_body = std::string(body);
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  Planner planner(options_, &plan);
  plan.route = ApiRoute(method, path, headers);
  if (IsWebSocketUpgrade(headers)) {
    RefuseWebSocket(path, headers, &planner, &plan);
    return plan;
  }
  if (plan.route == "other") {
    AnswerOtherPath(method, path, headers, &planner, &plan);
    return plan;
  }
  const std::string protocol = plan.route.substr(0, plan.route.find('.'));
  const std::string* fault_header = Header(headers, "x-fake-fault");
  const std::string fault = fault_header != nullptr ? Lower(*fault_header) : "";
  if (fault == "500" || fault == "429" || fault == "503") {
    const int status = std::stoi(fault);
    planner.Json(status, ErrorBody(protocol, status,
                                   fmt::format("fake provider: injected fault {}", status)));
    return plan;
  }
  json::value req;
  if (method == "POST") {
    boost::system::error_code ec;
    json::parse_options po;
    po.max_depth = 256;
    req = json::parse(json::string_view(body.data(), body.size()), ec, {}, po);
    if (ec) {
      planner.Json(400,
                   ErrorBody(protocol, 400,
                             fmt::format("fake provider: the body is not JSON: {}", ec.message())));
      return plan;
    }
  }
  Reply reply = BaseReply(options_, headers, body);
  const json::value* stream_flag = Member(&req, "stream");
  const RouteRequest request{
      req,
      &reply,
      TokenEstimate(body),
      stream_flag != nullptr && stream_flag->is_bool() && stream_flag->as_bool(),
      path,
      query};
  for (const auto& [route, answer] : kRouteAnswers) {
    if (route == plan.route) answer(request, &planner);
  }
  ApplyFault(fault, options_, &plan);
  return plan;
}

}  // namespace glassbox::net
