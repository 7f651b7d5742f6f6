// Anthropic Messages <-> OpenAI Chat Completions: requests and complete
// responses. Streams are in stream.cc.
#include <algorithm>
#include <string>
#include <string_view>

#include "gate/translate/json_util.h"
#include "gate/translate/translate.h"

namespace glassbox::gate::translate {
namespace internal {
namespace {

// Top-level Messages fields that are hints with no Chat equivalent: dropped,
// with a note.
bool IsDroppableMessagesHint(std::string_view key) {
  return key == "service_tier" || key == "context_management";
}

// A Messages image block -> a Chat image_url part.
Result<json::object> ImagePart(const json::object& block, const std::string& where) {
  const json::object* source = GetObject(block, "source");
  if (source == nullptr) return Untranslatable(where + ".source", "missing");
  std::string_view type = GetString(*source, "type");
  std::string url;
  if (type == "base64") {
    url = "data:" + std::string(GetString(*source, "media_type")) + ";base64," +
          std::string(GetString(*source, "data"));
  } else if (type == "url") {
    url = std::string(GetString(*source, "url"));
  } else {
    return Untranslatable(
        where + ".source.type",
        "image source '" + std::string(type) + "' has no OpenAI Chat Completions equivalent");
  }
  return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
}

// Calls `visit(block, at, type)` for each block of `blocks` (each must be
// an object), stopping at the first error.
template <class Visit>
Status ForEachBlock(const json::array& blocks, const std::string& where, Visit visit) {
  for (size_t j = 0; j < blocks.size(); ++j) {
    std::string at = Path(where, j);
    if (!blocks[j].is_object()) return Untranslatable(at, "expected a block object");
    const json::object& b = blocks[j].as_object();
    if (Status st = visit(b, at, GetString(b, "type")); !st.ok()) return st;
  }
  return Status::Ok();
}

// Text parts as Chat content: one part as its string, none as `if_none`.
// A Messages `tool_use` block as a Chat `tool_calls` entry (arguments as a JSON string).
json::object ToolUseAsChatCall(const json::object& b) {
  const json::value* input = Get(b, "input");
  return json::object{
      {"id", GetString(b, "id")},
      {"type", "function"},
      {"function",
       json::object{{"name", GetString(b, "name")},
                    {"arguments", input != nullptr ? Dump(*input) : std::string("{}")}}}};
}

json::value CollapseTexts(json::array parts, json::value if_none) {
  if (parts.size() == 1) return parts[0].as_object().at("text");
  if (parts.empty()) return if_none;
  return json::value(std::move(parts));
}

// The text of a tool_result's content (string, or text blocks); images go
// to `images`.
Result<json::value> ToolResultContent(const json::value* content, const std::string& where,
                                      json::array* images) {
  if (content == nullptr) return json::value("", images->storage());
  if (content->is_string()) return *content;
  if (!content->is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array parts(images->storage());
  Status st = ForEachBlock(
      content->as_array(), where,
      [&](const json::object& b, const std::string& at, std::string_view type) {
        if (type == "text") {
          parts.push_back(
              json::object({{"type", "text"}, {"text", GetString(b, "text")}}, parts.storage()));
          return Status::Ok();
        }
        if (type != "image") {
          return Untranslatable(
              at + ".type",
              "a '" + std::string(type) +
                  "' block in a tool result has no OpenAI Chat Completions equivalent");
        }
        auto part = ImagePart(b, at);
        if (!part.ok()) return part.status();
        images->push_back(std::move(*part));
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return CollapseTexts(std::move(parts), json::value("", images->storage()));
}

// A tool_result block -> a tool message (its images, which a tool message
// cannot carry, go to `images` for the user message after it).
Status AddToolResult(const json::object& b, const std::string& at, json::array* out,
                     json::array* images, std::vector<std::string>* notes) {
  json::array result_images(out->storage());
  auto text = ToolResultContent(Get(b, "content"), at + ".content", &result_images);
  if (!text.ok()) return text.status();
  json::value body = std::move(*text);
  const json::value* is_error = Get(b, "is_error");
  if (is_error != nullptr && is_error->is_bool() && is_error->as_bool()) {
    notes->push_back(
        at + ".is_error carried as an \"Error: \" prefix: Chat tool messages have no error flag");
    if (body.is_string()) {
      body = json::value(std::string("Error: ") + std::string(body.as_string()));
    } else {
      body.as_array().insert(body.as_array().begin(),
                             json::object{{"type", "text"}, {"text", "Error:"}});
    }
  }
  // Tool messages must follow the assistant's tool calls directly, so
  // they go before anything else this user turn says.
  out->push_back(json::object({{"role", "tool"},
                               {"tool_call_id", GetString(b, "tool_use_id")},
                               {"content", std::move(body)}},
                              out->storage()));
  if (!result_images.empty()) {
    notes->push_back(at +
                     ": images of a tool result sent in a user message after it (Chat tool "
                     "messages carry text only)");
    images->push_back(json::object{{"type", "text"},
                                   {"text", "Images returned by tool call " +
                                                std::string(GetString(b, "tool_use_id")) + ":"}});
    for (auto& im : result_images) images->push_back(std::move(im));
  }
  return Status::Ok();
}

Status ConvertUserMessage(const json::value& content, const std::string& where, json::array* out,
                          std::vector<std::string>* notes) {
  if (content.is_string()) {
    out->push_back(json::object({{"role", "user"}, {"content", content}}, out->storage()));
    return Status::Ok();
  }
  if (!content.is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array parts(out->storage()), images(out->storage());
  Status st = ForEachBlock(
      content.as_array(), where,
      [&](const json::object& b, const std::string& at, std::string_view type) {
        if (b.contains("cache_control"))
          notes->push_back(at + ".cache_control dropped: Chat Completions has no cache markers");
        if (type == "text") {
          parts.push_back(
              json::object({{"type", "text"}, {"text", GetString(b, "text")}}, out->storage()));
          return Status::Ok();
        }
        if (type == "image") {
          auto part = ImagePart(b, at);
          if (!part.ok()) return part.status();
          parts.push_back(std::move(*part));
          return Status::Ok();
        }
        if (type == "tool_result") return AddToolResult(b, at, out, &images, notes);
        return Untranslatable(
            at + ".type",
            "a '" + std::string(type) + "' block has no OpenAI Chat Completions equivalent");
      });
  if (!st.ok()) return st;
  for (auto& im : images) parts.push_back(std::move(im));
  if (!parts.empty())
    out->push_back(json::object({{"role", "user"}, {"content", std::move(parts)}}, out->storage()));
  return Status::Ok();
}

Status ConvertAssistantMessage(const json::value& content, const std::string& where,
                               json::array* out, std::vector<std::string>* notes) {
  if (content.is_string()) {
    out->push_back(json::object({{"role", "assistant"}, {"content", content}}, out->storage()));
    return Status::Ok();
  }
  if (!content.is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array texts(out->storage()), calls(out->storage());
  Status st = ForEachBlock(
      content.as_array(), where,
      [&](const json::object& b, const std::string& at, std::string_view type) {
        if (type == "text") {
          texts.push_back(
              json::object({{"type", "text"}, {"text", GetString(b, "text")}}, out->storage()));
        } else if (type == "tool_use") {
          calls.push_back(ToolUseAsChatCall(b));
        } else if (type == "thinking" || type == "redacted_thinking") {
          notes->push_back(
              at + ": " + std::string(type) +
              " of an earlier turn dropped: Chat Completions requests carry no reasoning");
        } else {
          return Untranslatable(
              at + ".type",
              "a '" + std::string(type) + "' block has no OpenAI Chat Completions equivalent");
        }
        return Status::Ok();
      });
  if (!st.ok()) return st;
  json::object m({{"role", "assistant"}}, out->storage());
  m["content"] = CollapseTexts(std::move(texts), nullptr);
  if (!calls.empty()) m["tool_calls"] = std::move(calls);
  out->push_back(std::move(m));
  return Status::Ok();
}

Result<json::value> ConvertSystem(const json::value& system, std::vector<std::string>* notes,
                                  const std::string& where = "system") {
  if (system.is_string()) return system;
  if (!system.is_array())
    return Untranslatable(where, "expected a string or an array of text blocks");
  json::array parts;
  for (size_t i = 0; i < system.as_array().size(); ++i) {
    const json::value& b = system.as_array()[i];
    std::string at = Path(where, i);
    if (!b.is_object() || GetString(b.as_object(), "type") != "text") {
      return Untranslatable(at, "only text blocks can be a Chat Completions system message");
    }
    if (b.as_object().contains("cache_control")) {
      notes->push_back(at + ".cache_control dropped: Chat Completions has no cache markers");
    }
    parts.push_back(json::object{{"type", "text"}, {"text", GetString(b.as_object(), "text")}});
  }
  if (parts.size() == 1) return parts[0].as_object().at("text");
  return json::value(std::move(parts));
}

// Top-level request fields: handled below, or dropped with a note, or
// refused.
Status CheckMessagesFields(const json::object& req, std::vector<std::string>* notes) {
  static constexpr std::string_view kHandled[] = {
      "model",       "messages", "system",         "max_tokens", "stream",
      "temperature", "top_p",    "stop_sequences", "tools",      "tool_choice",
      "metadata",    "thinking", "output_config"};
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (IsOneOf(k, kHandled)) continue;
    if (IsDroppableMessagesHint(k)) {
      notes->push_back(std::string(k) + " dropped: no Chat Completions equivalent");
      continue;
    }
    if (k == "top_k") {
      // A sampling knob, not a feature: the answer is still an answer.
      notes->push_back(
          "top_k dropped: the Chat Completions API has no top_k (the upstream samples with its "
          "own)");
      continue;
    }
    return Untranslatable(k,
                          "has no OpenAI Chat Completions equivalent (the upstream cannot do it)");
  }
  return Status::Ok();
}

// The system prompt and the conversation -> Chat messages.
Status ConvertConversation(const json::object& req, json::array* messages,
                           std::vector<std::string>* notes) {
  if (const json::value* system = Get(req, "system")) {
    auto s = ConvertSystem(*system, notes);
    if (!s.ok()) return s.status();
    messages->push_back(json::object{{"role", "system"}, {"content", std::move(*s)}});
  }
  const json::array* in = GetArray(req, "messages");
  if (in == nullptr) return Untranslatable("messages", "missing or not an array");
  for (size_t i = 0; i < in->size(); ++i) {
    std::string at = Path("messages", i);
    if (!(*in)[i].is_object()) return Untranslatable(at, "expected an object");
    const json::object& m = (*in)[i].as_object();
    std::string_view role = GetString(m, "role");
    const json::value* content = Get(m, "content");
    if (content == nullptr) return Untranslatable(at + ".content", "missing");
    if (role == "system") {
      // A system message inside the conversation (Claude Code 2.1 sends
      // them): Chat takes system messages anywhere.
      auto sys = ConvertSystem(*content, notes, at + ".content");
      if (!sys.ok()) return sys.status();
      messages->push_back(json::object{{"role", "system"}, {"content", std::move(*sys)}});
      continue;
    }
    Status st =
        role == "user" ? ConvertUserMessage(*content, at + ".content", messages, notes)
        : role == "assistant"
            ? ConvertAssistantMessage(*content, at + ".content", messages, notes)
            : Untranslatable(at + ".role", "expected \"user\", \"assistant\" or \"system\"");
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// max_tokens, sampling, stop sequences and the end user, as they are.
void CopySamplingFields(const json::object& req, json::object* chat) {
  if (const json::value* v = Get(req, "max_tokens")) (*chat)["max_tokens"] = *v;
  if (const json::value* v = Get(req, "temperature")) (*chat)["temperature"] = *v;
  if (const json::value* v = Get(req, "top_p")) (*chat)["top_p"] = *v;
  if (const json::array* stops = GetArray(req, "stop_sequences");
      stops != nullptr && !stops->empty()) {
    (*chat)["stop"] = *stops;
  }
  if (const json::object* md = GetObject(req, "metadata")) {
    if (IsString(*md, "user_id")) (*chat)["user"] = GetString(*md, "user_id");
  }
}

// thinking's budget -> reasoning_effort.
Status ConvertThinking(const json::object& req, json::object* chat,
                       std::vector<std::string>* notes) {
  const json::object* thinking = GetObject(req, "thinking");
  if (thinking == nullptr) return Status::Ok();
  std::string_view type = GetString(*thinking, "type");
  if (type == "enabled") {
    const json::value* budget = Get(*thinking, "budget_tokens");
    int64_t n = budget != nullptr && budget->is_int64() ? budget->as_int64() : 0;
    (*chat)["reasoning_effort"] = n <= 4096 ? "low" : n <= 16384 ? "medium" : "high";
    notes->push_back("thinking.budget_tokens " + std::to_string(n) + " sent as reasoning_effort " +
                     std::string((*chat)["reasoning_effort"].as_string()));
  } else if (type != "disabled" && type != "adaptive") {
    return Untranslatable("thinking.type", "expected \"enabled\" or \"disabled\"");
  }
  return Status::Ok();
}

// output_config: effort -> reasoning_effort, a JSON schema format ->
// response_format.
Status ConvertOutputConfig(const json::object& req, json::object* chat) {
  const json::object* oc = GetObject(req, "output_config");
  if (oc == nullptr) return Status::Ok();
  for (const auto& [key, value] : *oc) {
    std::string_view k(key.data(), key.size());
    if (k == "effort" && value.is_string()) {
      // Effort says how hard to think; Chat's reasoning_effort says the same.
      (*chat)["reasoning_effort"] = value;
    } else if (k == "format" && value.is_object() &&
               GetString(value.as_object(), "type") == "json_schema") {
      json::object schema{{"name", "output"}};
      if (const json::value* s = Get(value.as_object(), "schema")) schema["schema"] = *s;
      (*chat)["response_format"] =
          json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
    } else {
      return Untranslatable("output_config." + std::string(k),
                            "has no OpenAI Chat Completions equivalent");
    }
  }
  return Status::Ok();
}

// A server tool (web search, code execution, ...) runs at Anthropic.
// Offered, it is left out (the model cannot call what the upstream cannot
// run); forced, refused.
Status LeaveOutServerTool(const json::object& req, const json::object& tool, std::string_view type,
                          const std::string& where, std::vector<std::string>* notes) {
  const json::object* choice = GetObject(req, "tool_choice");
  if (choice != nullptr && GetString(*choice, "type") == "tool" &&
      GetString(*choice, "name") == GetString(tool, "name")) {
    return Untranslatable(where,
                          "the server tool '" + std::string(GetString(tool, "name")) + "' (" +
                              std::string(type) +
                              ") runs at Anthropic; a Chat Completions upstream has no such tool");
  }
  notes->push_back(
      where + " (" + std::string(type) +
      ") not offered to the model: a server tool that runs at Anthropic, which a Chat Completions "
      "upstream cannot run");
  return Status::Ok();
}

// A custom tool -> a Chat function tool.
json::object FunctionToolOf(const json::object& tool) {
  const json::value* schema = Get(tool, "input_schema");
  return ChatFunctionTool(
      tool, schema != nullptr ? *schema : json::value(json::object{{"type", "object"}}));
}

Status ConvertMessagesTools(const json::object& req, json::object* chat,
                            std::vector<std::string>* notes) {
  const json::array* tools = GetArray(req, "tools");
  if (tools == nullptr || tools->empty()) return Status::Ok();
  json::array out;
  for (size_t i = 0; i < tools->size(); ++i) {
    std::string at = Path("tools", i);
    if (!(*tools)[i].is_object()) return Untranslatable(at, "expected an object");
    const json::object& tool = (*tools)[i].as_object();
    std::string_view type = GetString(tool, "type");
    if (!type.empty() && type != "custom") {
      if (Status st = LeaveOutServerTool(req, tool, type, at, notes); !st.ok()) return st;
      continue;
    }
    if (tool.contains("cache_control"))
      notes->push_back(at + ".cache_control dropped: Chat Completions has no cache markers");
    out.push_back(FunctionToolOf(tool));
  }
  if (!out.empty()) (*chat)["tools"] = std::move(out);
  return Status::Ok();
}

// Messages tool_choice types -> Chat's strings; "tool" names a function.
constexpr std::pair<std::string_view, std::string_view> kToolChoiceToChat[] = {
    {"auto", "auto"}, {"any", "required"}, {"none", "none"}};

Status ConvertMessagesToolChoice(const json::object& req, json::object* chat) {
  const json::object* choice = GetObject(req, "tool_choice");
  if (choice == nullptr) return Status::Ok();
  std::string_view type = GetString(*choice, "type");
  const auto* plain = std::find_if(std::begin(kToolChoiceToChat), std::end(kToolChoiceToChat),
                                   [&](const auto& entry) { return entry.first == type; });
  if (plain != std::end(kToolChoiceToChat)) {
    (*chat)["tool_choice"] = plain->second;
  } else if (type == "tool") {
    (*chat)["tool_choice"] = json::object{
        {"type", "function"}, {"function", json::object{{"name", GetString(*choice, "name")}}}};
  } else {
    return Untranslatable("tool_choice.type", "expected auto, any, tool or none");
  }
  const json::value* dp = Get(*choice, "disable_parallel_tool_use");
  if (dp != nullptr && dp->is_bool() && chat->contains("tools"))
    (*chat)["parallel_tool_calls"] = !dp->as_bool();
  if (!chat->contains("tools")) {  // every tool offered was a server tool
    if (type == "any") {
      return Untranslatable(
          "tool_choice",
          "\"any\" with only server tools, which a Chat Completions upstream cannot run");
    }
    chat->erase("tool_choice");
  }
  return Status::Ok();
}

}  // namespace

Result<Translated> MessagesRequestToChat(std::string_view body, const RequestOptions& options) {
  ParseArena arena;
  auto parsed = ParseObject(body, "the request body", arena.storage());
  if (!parsed.ok()) return parsed.status();
  const json::object& req = *parsed;
  Translated t;
  // The Chat request is built in the arena too: a request of many small
  // blocks (an agent's tool results) otherwise spends most of its time in
  // malloc and free.
  json::object chat(arena.storage());
  t.model = std::string(GetString(req, "model"));
  chat["model"] = options.upstream_model.empty() ? t.model : options.upstream_model;
  if (Status st = CheckMessagesFields(req, &t.notes); !st.ok()) return st;
  json::array messages(arena.storage());
  if (Status st = ConvertConversation(req, &messages, &t.notes); !st.ok()) return st;
  chat["messages"] = std::move(messages);
  CopySamplingFields(req, &chat);
  if (Status st = ConvertThinking(req, &chat, &t.notes); !st.ok()) return st;
  if (Status st = ConvertOutputConfig(req, &chat); !st.ok()) return st;
  if (Status st = ConvertMessagesTools(req, &chat, &t.notes); !st.ok()) return st;
  if (Status st = ConvertMessagesToolChoice(req, &chat); !st.ok()) return st;
  t.stream = StreamRequested(req);
  t.body = FinishChatRequest(chat, t.stream, options.max_tokens_cap, &t.notes);
  return t;
}

ChatUsage ReadChatUsage(const json::object& o) {
  ChatUsage u;
  const json::object* usage = GetObject(o, "usage");
  if (usage == nullptr) return u;
  u.present = true;
  auto num = [](const json::object& obj, std::string_view key) -> uint64_t {
    const json::value* v = Get(obj, key);
    if (v == nullptr) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64() && v->as_int64() > 0) return static_cast<uint64_t>(v->as_int64());
    return 0;
  };
  u.prompt = num(*usage, "prompt_tokens");
  u.completion = num(*usage, "completion_tokens");
  if (const json::object* d = GetObject(*usage, "prompt_tokens_details"))
    u.cached = num(*d, "cached_tokens");
  if (const json::object* d = GetObject(*usage, "completion_tokens_details"))
    u.reasoning = num(*d, "reasoning_tokens");
  return u;
}

namespace {

// A complete response's usage also says that nothing was written to the
// cache.
json::object AnthropicResponseUsage(const ChatUsage& u) {
  json::object usage = AnthropicUsage(u);
  if (u.cached > 0) usage["cache_creation_input_tokens"] = 0;
  return usage;
}

}  // namespace

Result<Translated> ChatResponseToMessages(std::string_view body, std::string_view client_model) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  auto listed = ChatChoices(resp);
  if (!listed.ok()) return listed.status();
  const json::array* choices = *listed;
  Translated t;
  const json::object& choice = (*choices)[0].as_object();
  const json::object* message = GetObject(choice, "message");
  json::array content;
  std::string_view finish = GetString(choice, "finish_reason");
  std::string stop_reason(ChatFinishToAnthropic(finish));
  json::value stop_sequence = nullptr;
  if (message != nullptr) {
    if (std::string_view r = ReasoningOf(*message); !r.empty()) {
      content.push_back(json::object{{"type", "thinking"}, {"thinking", r}, {"signature", ""}});
    }
    if (const json::value* c = Get(*message, "content")) {
      std::string text;
      if (c->is_string()) {
        text = std::string(c->as_string());
      } else if (c->is_array()) {
        for (const json::value& p : c->as_array()) {
          if (p.is_object()) text += std::string(GetString(p.as_object(), "text"));
        }
      }
      if (!text.empty()) content.push_back(json::object{{"type", "text"}, {"text", text}});
    }
    if (std::string_view refusal = GetString(*message, "refusal"); !refusal.empty()) {
      content.push_back(json::object{{"type", "text"}, {"text", refusal}});
      stop_reason = "refusal";
    }
    if (const json::array* calls = GetArray(*message, "tool_calls")) {
      for (size_t i = 0; i < calls->size(); ++i) {
        if (!(*calls)[i].is_object()) continue;
        const json::object& call = (*calls)[i].as_object();
        const json::object* fn = GetObject(call, "function");
        if (fn == nullptr) continue;
        auto input =
            ParseArguments(GetString(*fn, "arguments"), Path("choices[0].message.tool_calls", i));
        if (!input.ok()) return input.status();
        content.push_back(
            json::object{{"type", "tool_use"},
                         {"id", ToolCallId(GetString(call, "id"), GetString(resp, "id"), i)},
                         {"name", GetString(*fn, "name")},
                         {"input", std::move(*input)}});
      }
    }
  }
  // vLLM names the stop string that ended the answer.
  if (finish == "stop" && IsString(choice, "stop_reason")) {
    stop_reason = "stop_sequence";
    stop_sequence = *Get(choice, "stop_reason");
  }
  std::string_view model = GetString(resp, "model");
  json::object out{{"id", WithPrefix(GetString(resp, "id"), "msg_")},
                   {"type", "message"},
                   {"role", "assistant"},
                   {"model", model.empty() ? client_model : model},
                   {"content", std::move(content)},
                   {"stop_reason", stop_reason},
                   {"stop_sequence", stop_sequence},
                   {"usage", AnthropicResponseUsage(ReadChatUsage(resp))}};
  t.body = Dump(out);
  return t;
}

namespace {

// A Chat request field with no Messages equivalent, left out when it asks
// for nothing beyond the default (n = 1, a zero penalty, text format, null).
bool IsDefaultChatField(std::string_view k, const json::value& value) {
  if ((k == "n" && value.is_int64() && value.as_int64() == 1) || value.is_null()) return true;
  if ((k == "frequency_penalty" || k == "presence_penalty") && value.is_number() &&
      value.to_number<double>() == 0) {
    return true;
  }
  return k == "response_format" && value.is_object() &&
         GetString(value.as_object(), "type") == "text";
}

Status CheckChatFields(const json::object& req) {
  static constexpr std::string_view kHandled[] = {
      "model",  "messages",        "max_tokens",  "max_completion_tokens",
      "stream", "stream_options",  "temperature", "top_p",
      "stop",   "tools",           "tool_choice", "parallel_tool_calls",
      "user",   "reasoning_effort"};
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (IsOneOf(k, kHandled) || IsDefaultChatField(k, value)) continue;
    return Untranslatable(k, "has no Anthropic Messages equivalent (the upstream cannot do it)");
  }
  return Status::Ok();
}

// A Chat image_url part -> a Messages image block (a data: URL inline).
Result<json::object> ImageBlock(const json::object& part, const std::string& where) {
  const json::object* iu = GetObject(part, "image_url");
  std::string_view url = iu != nullptr ? GetString(*iu, "url") : std::string_view();
  if (!url.starts_with("data:")) {
    return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
  }
  size_t semi = url.find(";base64,");
  if (semi == std::string_view::npos)
    return Untranslatable(where, "a data: URL that is not base64");
  return json::object{{"type", "image"},
                      {"source", json::object{{"type", "base64"},
                                              {"media_type", url.substr(5, semi - 5)},
                                              {"data", url.substr(semi + 8)}}}};
}

// A Chat message's content (a string, null, or text/image parts) ->
// Messages blocks.
Result<json::array> TextBlocks(const json::value& content, const std::string& at) {
  json::array blocks;
  if (content.is_string()) {
    blocks.push_back(json::object{{"type", "text"}, {"text", content}});
    return blocks;
  }
  if (content.is_null()) return blocks;
  if (!content.is_array()) return Untranslatable(at, "expected a string or an array of parts");
  for (size_t j = 0; j < content.as_array().size(); ++j) {
    const json::value& p = content.as_array()[j];
    if (!p.is_object()) return Untranslatable(Path(at, j), "expected a part object");
    std::string_view type = GetString(p.as_object(), "type");
    if (type == "text" || type == "refusal") {
      blocks.push_back(json::object{{"type", "text"}, {"text", GetString(p.as_object(), type)}});
    } else if (type == "image_url") {
      auto image = ImageBlock(p.as_object(), Path(at, j));
      if (!image.ok()) return image.status();
      blocks.push_back(std::move(*image));
    } else {
      return Untranslatable(
          Path(at, j) + ".type",
          "a '" + std::string(type) + "' part has no Anthropic Messages equivalent");
    }
  }
  return blocks;
}

// The conversation so far ends with a user turn of blocks (tool results
// and what followed them): the next user blocks join it.
json::array* OpenUserTurn(json::array& messages) {
  if (messages.empty()) return nullptr;
  json::object& last = messages.back().as_object();
  if (GetString(last, "role") != "user" || !last.at("content").is_array()) return nullptr;
  return &last["content"].as_array();
}

// Builds the Messages conversation from Chat messages, one at a time.
class ChatConversation {
 public:
  explicit ChatConversation(std::vector<std::string>* notes) : notes_(notes) {}

  Status Add(const json::object& m, const std::string& at) {
    std::string_view role = GetString(m, "role");
    static const json::value kNull;
    const json::value* content = Get(m, "content");
    if (content == nullptr) content = &kNull;
    if (role == "system" || role == "developer") return AddSystem(*content, at);
    if (role == "user") return AddUser(*content, at);
    if (role == "assistant") return AddAssistant(m, *content, at);
    if (role == "tool") return AddToolResult(m, *content, at);
    return Untranslatable(at + ".role",
                          "'" + std::string(role) + "' has no Anthropic Messages equivalent");
  }

  // Moves the system prompt (one text block as a string) and the messages
  // into `out`.
  void Finish(json::object* out) {
    if (system_.size() == 1) {
      (*out)["system"] = system_[0].as_object().at("text");
    } else if (!system_.empty()) {
      (*out)["system"] = std::move(system_);
    }
    (*out)["messages"] = std::move(messages_);
  }

 private:
  Status AddSystem(const json::value& content, const std::string& at) {
    if (!messages_.empty()) {
      return Untranslatable(
          at, "a system message after the conversation started has no Anthropic Messages place");
    }
    auto blocks = TextBlocks(content, at + ".content");
    if (!blocks.ok()) return blocks.status();
    for (auto& b : *blocks) system_.push_back(std::move(b));
    return Status::Ok();
  }

  Status AddUser(const json::value& content, const std::string& at) {
    if (content.is_string()) {
      messages_.push_back(json::object{{"role", "user"}, {"content", content}});
      return Status::Ok();
    }
    auto blocks = TextBlocks(content, at + ".content");
    if (!blocks.ok()) return blocks.status();
    // After tool results: the same user turn.
    if (json::array* turn = OpenUserTurn(messages_)) {
      for (auto& b : *blocks) turn->push_back(std::move(b));
    } else {
      messages_.push_back(json::object{{"role", "user"}, {"content", std::move(*blocks)}});
    }
    return Status::Ok();
  }

  Status AddAssistant(const json::object& m, const json::value& content, const std::string& at) {
    auto blocks = TextBlocks(content, at + ".content");
    if (!blocks.ok()) return blocks.status();
    if (const json::array* calls = GetArray(m, "tool_calls")) {
      for (size_t j = 0; j < calls->size(); ++j) {
        auto use = ToolUseBlock((*calls)[j], Path(at + ".tool_calls", j));
        if (!use.ok()) return use.status();
        blocks->push_back(std::move(*use));
      }
    }
    if (!ReasoningOf(m).empty()) {
      notes_->push_back(
          at +
          ".reasoning_content dropped: Messages requests carry thinking only with a signature");
    }
    messages_.push_back(json::object{{"role", "assistant"}, {"content", std::move(*blocks)}});
    return Status::Ok();
  }

  static Result<json::object> ToolUseBlock(const json::value& call_value,
                                           const std::string& where) {
    if (!call_value.is_object()) return Untranslatable(where, "expected an object");
    const json::object& call = call_value.as_object();
    const json::object* fn = GetObject(call, "function");
    if (fn == nullptr) return Untranslatable(where, "only function calls translate");
    auto input = ParseArguments(GetString(*fn, "arguments"), where);
    if (!input.ok()) return input.status();
    return json::object{{"type", "tool_use"},
                        {"id", GetString(call, "id")},
                        {"name", GetString(*fn, "name")},
                        {"input", std::move(*input)}};
  }

  Status AddToolResult(const json::object& m, const json::value& content, const std::string& at) {
    json::value result_content = content.is_string() ? content : json::value();
    if (!content.is_string()) {
      auto blocks = TextBlocks(content, at + ".content");
      if (!blocks.ok()) return blocks.status();
      result_content = std::move(*blocks);
    }
    json::object block{{"type", "tool_result"},
                       {"tool_use_id", GetString(m, "tool_call_id")},
                       {"content", result_content}};
    if (json::array* turn = OpenUserTurn(messages_)) {
      turn->push_back(std::move(block));
    } else {
      messages_.push_back(
          json::object{{"role", "user"}, {"content", json::array{std::move(block)}}});
    }
    return Status::Ok();
  }

  std::vector<std::string>* notes_;
  json::array system_, messages_;
};

// max_tokens (Messages requires one), sampling and stop sequences.
void CopyChatSampling(const json::object& req, json::object* out, std::vector<std::string>* notes) {
  const json::value* max = Get(req, "max_completion_tokens");
  if (max == nullptr || max->is_null()) max = Get(req, "max_tokens");
  if (max != nullptr && !max->is_null()) {
    (*out)["max_tokens"] = *max;
  } else {
    (*out)["max_tokens"] = 4096;
    notes->push_back(
        "max_tokens set to 4096: Anthropic Messages requires a limit and the request named none");
  }
  if (const json::value* v = Get(req, "temperature"); v != nullptr && !v->is_null())
    (*out)["temperature"] = *v;
  if (const json::value* v = Get(req, "top_p"); v != nullptr && !v->is_null()) (*out)["top_p"] = *v;
  if (const json::value* stop = Get(req, "stop"); stop != nullptr && !stop->is_null()) {
    (*out)["stop_sequences"] = stop->is_string() ? json::value(json::array{*stop}) : *stop;
  }
}

Status ConvertChatTools(const json::object& req, json::object* out) {
  const json::array* tools = GetArray(req, "tools");
  if (tools == nullptr || tools->empty()) return Status::Ok();
  json::array list;
  for (size_t i = 0; i < tools->size(); ++i) {
    const json::object* tool = (*tools)[i].is_object() ? &(*tools)[i].as_object() : nullptr;
    const json::object* fn = tool != nullptr ? GetObject(*tool, "function") : nullptr;
    if (fn == nullptr || GetString(*tool, "type") != "function") {
      return Untranslatable(Path("tools", i),
                            "only function tools translate to Anthropic Messages");
    }
    json::object t2{{"name", GetString(*fn, "name")}};
    if (IsString(*fn, "description")) t2["description"] = GetString(*fn, "description");
    const json::value* params = Get(*fn, "parameters");
    t2["input_schema"] =
        params != nullptr ? *params : json::value(json::object{{"type", "object"}});
    list.push_back(std::move(t2));
  }
  (*out)["tools"] = std::move(list);
  return Status::Ok();
}

// tool_choice and parallel_tool_calls -> Messages' tool_choice.
void ConvertChatToolChoice(const json::object& req, json::object* out) {
  const json::value* choice = Get(req, "tool_choice");
  const json::value* parallel = Get(req, "parallel_tool_calls");
  const bool parallel_applies =
      parallel != nullptr && parallel->is_bool() && out->contains("tools");
  if (choice == nullptr && !parallel_applies) return;
  json::object tc{{"type", "auto"}};
  if (choice != nullptr && choice->is_string()) {
    std::string_view c(choice->as_string().data(), choice->as_string().size());
    tc["type"] = c == "required" ? "any" : c == "none" ? "none" : "auto";
  } else if (choice != nullptr && choice->is_object()) {
    const json::object* fn = GetObject(choice->as_object(), "function");
    tc = json::object{{"type", "tool"}, {"name", fn != nullptr ? GetString(*fn, "name") : ""}};
  }
  if (parallel_applies) tc["disable_parallel_tool_use"] = !parallel->as_bool();
  (*out)["tool_choice"] = std::move(tc);
}

// The end user and reasoning_effort (as a thinking budget).
void ConvertChatUserAndEffort(const json::object& req, json::object* out,
                              std::vector<std::string>* notes) {
  if (IsString(req, "user")) (*out)["metadata"] = json::object{{"user_id", GetString(req, "user")}};
  if (std::string_view effort = GetString(req, "reasoning_effort"); !effort.empty()) {
    int budget = effort == "low" || effort == "minimal" ? 2048 : effort == "medium" ? 8192 : 24576;
    (*out)["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", budget}};
    notes->push_back("reasoning_effort " + std::string(effort) +
                     " sent as thinking.budget_tokens " + std::to_string(budget));
  }
}

}  // namespace
}  // namespace internal

using namespace internal;  // NOLINT: this file's own helpers

Result<Translated> ChatRequestToMessages(std::string_view body, const RequestOptions& options) {
  auto parsed = ParseObject(body, "the request body");
  if (!parsed.ok()) return parsed.status();
  const json::object& req = *parsed;
  Translated t;
  t.model = std::string(GetString(req, "model"));
  json::object out;
  out["model"] = options.upstream_model.empty() ? t.model : options.upstream_model;
  if (Status st = CheckChatFields(req); !st.ok()) return st;
  const json::array* in = GetArray(req, "messages");
  if (in == nullptr) return Untranslatable("messages", "missing or not an array");
  ChatConversation conversation(&t.notes);
  for (size_t i = 0; i < in->size(); ++i) {
    std::string at = Path("messages", i);
    if (!(*in)[i].is_object()) return Untranslatable(at, "expected an object");
    if (Status st = conversation.Add((*in)[i].as_object(), at); !st.ok()) return st;
  }
  conversation.Finish(&out);
  CopyChatSampling(req, &out, &t.notes);
  if (Status st = ConvertChatTools(req, &out); !st.ok()) return st;
  ConvertChatToolChoice(req, &out);
  ConvertChatUserAndEffort(req, &out, &t.notes);
  t.stream = StreamRequested(req);
  if (t.stream) out["stream"] = true;
  t.body = Dump(out);
  return t;
}

Result<Translated> MessagesResponseToChat(std::string_view body) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  std::string text, reasoning;
  json::array calls;
  if (const json::array* content = GetArray(resp, "content")) {
    for (const json::value& bv : *content) {
      if (!bv.is_object()) continue;
      const json::object& b = bv.as_object();
      std::string_view type = GetString(b, "type");
      if (type == "text") text += std::string(GetString(b, "text"));
      if (type == "thinking") reasoning += std::string(GetString(b, "thinking"));
      if (type == "tool_use") {
        calls.push_back(ToolUseAsChatCall(b));
      }
    }
  }
  std::string_view stop = GetString(resp, "stop_reason");
  std::string_view finish = stop == "max_tokens" ? "length"
                            : stop == "tool_use" ? "tool_calls"
                            : stop == "refusal"  ? "content_filter"
                                                 : "stop";
  json::object message{
      {"role", "assistant"},
      {"content", text.empty() && !calls.empty() ? json::value() : json::value(text)}};
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  json::object usage;
  if (const json::object* u = GetObject(resp, "usage")) {
    auto num = [&](std::string_view k) -> uint64_t {
      const json::value* v = Get(*u, k);
      std::optional<int64_t> n = v != nullptr && v->is_number() ? ExactInt(*v) : std::nullopt;
      return n && *n > 0 ? static_cast<uint64_t>(*n) : 0;  // not a count: none
    };
    const uint64_t cached = num("cache_read_input_tokens");
    const uint64_t prompt = num("input_tokens") + cached + num("cache_creation_input_tokens");
    usage = json::object{{"prompt_tokens", prompt},
                         {"completion_tokens", num("output_tokens")},
                         {"total_tokens", prompt + num("output_tokens")}};
    if (cached > 0) usage["prompt_tokens_details"] = json::object{{"cached_tokens", cached}};
  }
  json::object out{
      {"id", WithPrefix(GetString(resp, "id"), "chatcmpl-")},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", GetString(resp, "model")},
      {"choices", json::array{json::object{
                      {"index", 0}, {"message", std::move(message)}, {"finish_reason", finish}}}}};
  if (!usage.empty()) out["usage"] = std::move(usage);
  Translated t;
  t.body = Dump(out);
  return t;
}

}  // namespace glassbox::gate::translate
