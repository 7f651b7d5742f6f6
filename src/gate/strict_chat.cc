#include "gate/strict_chat.h"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace glassbox::gate::testing {
namespace {

namespace json = boost::json;

using Keys = std::set<std::string, std::less<>>;

std::optional<std::string> Unknown(const json::object& o, const Keys& known,
                                   std::string_view where) {
  for (const auto& kv : o) {
    if (!known.contains(std::string_view(kv.key()))) {
      if (where.empty()) return "Unrecognized request argument supplied: " + std::string(kv.key());
      return "Additional properties are not allowed ('" + std::string(kv.key()) +
             "' was unexpected) - '" + std::string(where) + "'";
    }
  }
  return std::nullopt;
}

std::string At(std::string_view base, size_t i) {
  return std::string(base) + "." + std::to_string(i);
}

std::optional<std::string> CheckParts(const json::value& content, const std::string& where,
                                      const Keys& allowed_types, bool nullable) {
  if (content.is_string()) return std::nullopt;
  if (content.is_null() && nullable) return std::nullopt;
  if (!content.is_array()) return "Invalid type for '" + where + "': expected a string or an array";
  const json::array& parts = content.as_array();
  if (parts.empty()) return "Invalid '" + where + "': empty array";
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string at = At(where, i);
    if (!parts[i].is_object()) return "Invalid type for '" + at + "': expected an object";
    const json::object& p = parts[i].as_object();
    const json::value* type = p.if_contains("type");
    if (type == nullptr || !type->is_string() ||
        !allowed_types.contains(std::string_view(type->as_string()))) {
      return "Invalid value for '" + at + ".type'";
    }
    std::string_view t(type->as_string());
    if (t == "text") {
      if (auto e = Unknown(p, {"type", "text"}, at)) return e;
      if (!p.contains("text") || !p.at("text").is_string())
        return "Missing required parameter: '" + at + ".text'";
    } else if (t == "refusal") {
      if (auto e = Unknown(p, {"type", "refusal"}, at)) return e;
    } else if (t == "image_url") {
      if (auto e = Unknown(p, {"type", "image_url"}, at)) return e;
      const json::value* iu = p.if_contains("image_url");
      if (iu == nullptr || !iu->is_object())
        return "Missing required parameter: '" + at + ".image_url'";
      if (auto e = Unknown(iu->as_object(), {"url", "detail"}, at + ".image_url")) return e;
      const json::value* url = iu->as_object().if_contains("url");
      if (url == nullptr || !url->is_string())
        return "Missing required parameter: '" + at + ".image_url.url'";
    }
  }
  return std::nullopt;
}

using Error = std::optional<std::string>;
using OpenCalls = std::set<std::string>;  // tool calls awaiting their tool messages

Error MissingContent(const std::string& at) {
  return "Missing required parameter: '" + at + ".content'";
}

Error UnansweredCalls(const OpenCalls& open_calls) {
  return "An assistant message with 'tool_calls' must be followed by tool messages responding to "
         "each "
         "'tool_call_id'. The following tool_call_ids did not have response messages: " +
         *open_calls.begin();
}

Error CheckSystemMessage(const json::object& m, const std::string& at, OpenCalls* /*open_calls*/) {
  if (auto e = Unknown(m, {"role", "content", "name"}, at)) return e;
  const json::value* content = m.if_contains("content");
  if (content == nullptr) return MissingContent(at);
  return CheckParts(*content, at + ".content", {"text"}, false);
}

Error CheckUserMessage(const json::object& m, const std::string& at, OpenCalls* /*open_calls*/) {
  if (auto e = Unknown(m, {"role", "content", "name"}, at)) return e;
  const json::value* content = m.if_contains("content");
  if (content == nullptr) return MissingContent(at);
  return CheckParts(*content, at + ".content", {"text", "image_url", "input_audio", "file"}, false);
}

// One of an assistant message's tool_calls; its id joins `open_calls`.
Error CheckToolCall(const json::value& c, const std::string& at, OpenCalls* open_calls) {
  if (!c.is_object()) return "Invalid type for '" + at + "'";
  if (auto e = Unknown(c.as_object(), {"id", "type", "function"}, at)) return e;
  const json::value* id = c.as_object().if_contains("id");
  const json::value* fn = c.as_object().if_contains("function");
  if (id == nullptr || !id->is_string()) return "Missing required parameter: '" + at + ".id'";
  if (fn == nullptr || !fn->is_object()) return "Missing required parameter: '" + at + ".function'";
  if (auto e = Unknown(fn->as_object(), {"name", "arguments"}, at + ".function")) return e;
  const json::value* args = fn->as_object().if_contains("arguments");
  if (args == nullptr || !args->is_string())
    return "Invalid type for '" + at + ".function.arguments': expected a string";
  open_calls->insert(std::string(id->as_string()));
  return std::nullopt;
}

Error CheckAssistantMessage(const json::object& m, const std::string& at, OpenCalls* open_calls) {
  if (auto e = Unknown(
          m, {"role", "content", "name", "refusal", "audio", "tool_calls", "function_call"}, at))
    return e;
  const json::value* content = m.if_contains("content");
  if (content != nullptr) {
    if (auto e = CheckParts(*content, at + ".content", {"text", "refusal"}, true)) return e;
  }
  const json::value* calls = m.if_contains("tool_calls");
  if (calls == nullptr) {
    if (content == nullptr || content->is_null()) return MissingContent(at);
    return std::nullopt;
  }
  if (!calls->is_array()) return "Invalid type for '" + at + ".tool_calls': expected an array";
  for (size_t j = 0; j < calls->as_array().size(); ++j) {
    if (auto e = CheckToolCall(calls->as_array()[j], At(at + ".tool_calls", j), open_calls))
      return e;
  }
  return std::nullopt;
}

Error CheckToolMessage(const json::object& m, const std::string& at, OpenCalls* open_calls) {
  if (auto e = Unknown(m, {"role", "content", "tool_call_id"}, at)) return e;
  const json::value* id = m.if_contains("tool_call_id");
  if (id == nullptr || !id->is_string())
    return "Missing required parameter: '" + at + ".tool_call_id'";
  const json::value* content = m.if_contains("content");
  if (content == nullptr) return MissingContent(at);
  if (auto e = CheckParts(*content, at + ".content", {"text"}, false)) return e;
  if (open_calls->erase(std::string(id->as_string())) == 0) {
    return "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
           "message with "
           "'tool_calls'.";
  }
  return std::nullopt;
}

// Each role's checks.
struct RoleCheck {
  std::string_view role;
  Error (*check)(const json::object& m, const std::string& at, OpenCalls* open_calls);
};
constexpr RoleCheck kRoleChecks[] = {
    {"system", CheckSystemMessage}, {"developer", CheckSystemMessage},
    {"user", CheckUserMessage},     {"assistant", CheckAssistantMessage},
    {"tool", CheckToolMessage},
};

Error CheckMessages(const json::array& messages) {
  if (messages.empty())
    return "Invalid 'messages': empty array. Expected an array with minimum length 1";
  OpenCalls open_calls;
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string at = At("messages", i);
    if (!messages[i].is_object()) return "Invalid type for '" + at + "': expected an object";
    const json::object& m = messages[i].as_object();
    const json::value* role = m.if_contains("role");
    if (role == nullptr || !role->is_string())
      return "Missing required parameter: '" + at + ".role'";
    std::string_view r(role->as_string());
    if (r != "tool" && !open_calls.empty()) return UnansweredCalls(open_calls);
    const auto* check = std::find_if(std::begin(kRoleChecks), std::end(kRoleChecks),
                                     [&](const RoleCheck& c) { return c.role == r; });
    if (check == std::end(kRoleChecks)) {
      return "Invalid value: '" + std::string(r) +
             "'. Supported values are: 'system', 'assistant', 'user', "
             "'tool', 'function', and 'developer'.";
    }
    if (auto e = check->check(m, at, &open_calls)) return e;
  }
  if (!open_calls.empty()) return UnansweredCalls(open_calls);
  return std::nullopt;
}

// Integers, numbers and stop sequences of the right types.
Error CheckScalars(const json::object& req) {
  for (const char* k : {"max_tokens", "max_completion_tokens", "n", "seed"}) {
    if (const json::value* x = req.if_contains(k);
        x != nullptr && !x->is_int64() && !x->is_uint64() && !x->is_null()) {
      return "Invalid type for '" + std::string(k) + "': expected an integer";
    }
  }
  for (const char* k : {"temperature", "top_p", "frequency_penalty", "presence_penalty"}) {
    if (const json::value* x = req.if_contains(k);
        x != nullptr && !x->is_number() && !x->is_null()) {
      return "Invalid type for '" + std::string(k) + "': expected a number";
    }
  }
  if (const json::value* stop = req.if_contains("stop"); stop != nullptr && !stop->is_null()) {
    if (!stop->is_string() && !(stop->is_array() && stop->as_array().size() <= 4)) {
      return "Invalid 'stop': expected a string or an array of at most 4 strings";
    }
  }
  if (const json::value* so = req.if_contains("stream_options"); so != nullptr && !so->is_null()) {
    if (!so->is_object()) return "Invalid type for 'stream_options'";
    if (auto e =
            Unknown(so->as_object(), {"include_usage", "include_obfuscation"}, "stream_options"))
      return e;
  }
  return std::nullopt;
}

Error CheckTool(const json::value& t, const std::string& at) {
  if (!t.is_object()) return "Invalid type for '" + at + "'";
  if (auto e = Unknown(t.as_object(), {"type", "function"}, at)) return e;
  const json::value* type = t.as_object().if_contains("type");
  if (type == nullptr || *type != "function") return "Invalid value for '" + at + ".type'";
  const json::value* fn = t.as_object().if_contains("function");
  if (fn == nullptr || !fn->is_object()) return "Missing required parameter: '" + at + ".function'";
  if (auto e = Unknown(fn->as_object(), {"name", "description", "parameters", "strict"},
                       at + ".function"))
    return e;
  const json::value* name = fn->as_object().if_contains("name");
  if (name == nullptr || !name->is_string())
    return "Missing required parameter: '" + at + ".function.name'";
  if (const json::value* p = fn->as_object().if_contains("parameters");
      p != nullptr && !p->is_object()) {
    return "Invalid type for '" + at + ".function.parameters': expected an object";
  }
  return std::nullopt;
}

// tools, and tool_choice and parallel_tool_calls, which need some.
Error CheckTools(const json::object& req) {
  bool has_tools = false;
  if (const json::value* tools = req.if_contains("tools"); tools != nullptr) {
    if (!tools->is_array()) return "Invalid type for 'tools': expected an array";
    has_tools = !tools->as_array().empty();
    for (size_t i = 0; i < tools->as_array().size(); ++i) {
      if (auto e = CheckTool(tools->as_array()[i], At("tools", i))) return e;
    }
  }
  if (const json::value* choice = req.if_contains("tool_choice"); choice != nullptr) {
    if (!has_tools)
      return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
             "specified.";
    if (choice->is_string()) {
      std::string_view c(choice->as_string());
      if (c != "none" && c != "auto" && c != "required") return "Invalid value for 'tool_choice'";
    } else if (!choice->is_object() || choice->as_object().if_contains("type") == nullptr ||
               choice->as_object().at("type") != "function" ||
               !choice->as_object().contains("function")) {
      return "Invalid value for 'tool_choice'";
    }
  }
  if (req.contains("parallel_tool_calls") && !has_tools) {
    return "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
           "'tools' are specified.";
  }
  return std::nullopt;
}

// Where to cut `s` near `at` without splitting a UTF-8 sequence.
size_t CharBoundary(const std::string& s, size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

}  // namespace

std::optional<std::string> ValidateChatRequest(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "We could not parse the JSON body of your request.";
  const json::object& req = v.as_object();
  if (auto e = Unknown(req,
                       {"messages",
                        "model",
                        "store",
                        "reasoning_effort",
                        "metadata",
                        "frequency_penalty",
                        "logit_bias",
                        "logprobs",
                        "top_logprobs",
                        "max_tokens",
                        "max_completion_tokens",
                        "n",
                        "modalities",
                        "prediction",
                        "audio",
                        "presence_penalty",
                        "response_format",
                        "seed",
                        "service_tier",
                        "stop",
                        "stream",
                        "stream_options",
                        "temperature",
                        "top_p",
                        "tools",
                        "tool_choice",
                        "parallel_tool_calls",
                        "user",
                        "function_call",
                        "functions",
                        "web_search_options",
                        "verbosity",
                        "prompt_cache_key",
                        "safety_identifier"},
                       "")) {
    return e;
  }
  const json::value* model = req.if_contains("model");
  if (model == nullptr || !model->is_string()) return "Missing required parameter: 'model'.";
  const json::value* messages = req.if_contains("messages");
  if (messages == nullptr || !messages->is_array())
    return "Missing required parameter: 'messages'.";
  if (auto e = CheckMessages(messages->as_array())) return e;
  if (auto e = CheckScalars(req)) return e;
  return CheckTools(req);
}

std::optional<ScriptedReply> ScriptedToolReply(std::string_view body, const ScriptedTool& tool) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& req = v.as_object();
  const json::array* messages = req.contains("messages") && req.at("messages").is_array()
                                    ? &req.at("messages").as_array()
                                    : nullptr;
  if (messages == nullptr || messages->empty()) return std::nullopt;
  const json::value* stream_v = req.if_contains("stream");
  const bool stream = stream_v != nullptr && stream_v->is_bool() && stream_v->as_bool();
  const std::string model = req.contains("model") && req.at("model").is_string()
                                ? std::string(req.at("model").as_string())
                                : "m";
  // The last message answers our call: report what the tool said.
  std::string text;
  bool call = false;
  const json::object& last = messages->back().as_object();
  if (last.contains("role") && last.at("role") == "tool") {
    std::string result = last.at("content").is_string()
                             ? std::string(last.at("content").as_string())
                             : json::serialize(last.at("content"));
    text = "The tool ran and said: " +
           result.substr(0, CharBoundary(result, std::min<size_t>(400, result.size())));
  } else {
    bool offered = false;
    if (const json::value* tools = req.if_contains("tools");
        tools != nullptr && tools->is_array()) {
      for (const json::value& t : tools->as_array()) {
        if (t.is_object() && t.as_object().contains("function") &&
            t.at("function").at("name") == tool.name.c_str())
          offered = true;
      }
    }
    if (!offered) return std::nullopt;
    call = true;
  }
  ScriptedReply reply;
  reply.stream = stream;
  const json::object usage{
      {"prompt_tokens", 100}, {"completion_tokens", 10}, {"total_tokens", 110}};
  if (!stream) {
    json::object message{{"role", "assistant"}};
    if (call) {
      message["content"] = nullptr;
      message["tool_calls"] = json::array{json::object{
          {"id", "call_script_1"},
          {"type", "function"},
          {"function", json::object{{"name", tool.name}, {"arguments", tool.arguments}}}}};
    } else {
      message["content"] = text;
    }
    json::object resp{
        {"id", "chatcmpl-script"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", model},
        {"choices",
         json::array{json::object{
             {"index", 0}, {"message", message}, {"finish_reason", call ? "tool_calls" : "stop"}}}},
        {"usage", usage}};
    reply.chunks.push_back(json::serialize(resp));
    return reply;
  }
  auto chunk = [&](json::object delta, json::value finish) {
    json::object c{
        {"id", "chatcmpl-script"},
        {"object", "chat.completion.chunk"},
        {"created", 1},
        {"model", model},
        {"choices", json::array{json::object{
                        {"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}}}};
    reply.chunks.push_back("data: " + json::serialize(c) + "\n\n");
  };
  chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
  if (call) {
    chunk(json::object{{"tool_calls",
                        json::array{json::object{
                            {"index", 0},
                            {"id", "call_script_1"},
                            {"type", "function"},
                            {"function", json::object{{"name", tool.name}, {"arguments", ""}}}}}}},
          nullptr);
    // The arguments in three pieces, as servers stream them.
    const std::string& a = tool.arguments;
    const size_t one = CharBoundary(a, a.size() / 3), two = CharBoundary(a, 2 * a.size() / 3);
    for (std::string piece : {a.substr(0, one), a.substr(one, two - one), a.substr(two)}) {
      chunk(json::object{{"tool_calls",
                          json::array{json::object{
                              {"index", 0}, {"function", json::object{{"arguments", piece}}}}}}},
            nullptr);
    }
    chunk(json::object{}, "tool_calls");
  } else {
    const size_t half = CharBoundary(text, text.size() / 2);
    chunk(json::object{{"content", text.substr(0, half)}}, nullptr);
    chunk(json::object{{"content", text.substr(half)}}, nullptr);
    chunk(json::object{}, "stop");
  }
  const json::value* so = req.if_contains("stream_options");
  if (so != nullptr && so->is_object() && so->as_object().contains("include_usage") &&
      so->at("include_usage") == true) {
    json::object u{
        {"id", "chatcmpl-script"}, {"object", "chat.completion.chunk"}, {"created", 1},
        {"model", model},          {"choices", json::array()},          {"usage", usage}};
    reply.chunks.push_back("data: " + json::serialize(u) + "\n\n");
  }
  reply.chunks.push_back("data: [DONE]\n\n");
  return reply;
}

}  // namespace glassbox::gate::testing
