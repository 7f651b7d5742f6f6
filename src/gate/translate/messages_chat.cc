// Anthropic Messages <-> OpenAI Chat Completions: requests and complete
// responses. Streams are in stream.cc.
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
    url = "data:" + std::string(GetString(*source, "media_type")) + ";base64," + std::string(GetString(*source, "data"));
  } else if (type == "url") {
    url = std::string(GetString(*source, "url"));
  } else {
    return Untranslatable(where + ".source.type",
                          "image source '" + std::string(type) + "' has no OpenAI Chat Completions equivalent");
  }
  return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
}

// The text of a tool_result's content (string, or text blocks); images go
// to `images`.
Result<json::value> ToolResultContent(const json::value* content, const std::string& where, json::array* images) {
  if (content == nullptr) return json::value("", images->storage());
  if (content->is_string()) return *content;
  if (!content->is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array parts(images->storage());
  for (size_t i = 0; i < content->as_array().size(); ++i) {
    const json::value& b = content->as_array()[i];
    std::string at = Path(where, i);
    if (!b.is_object()) return Untranslatable(at, "expected a block object");
    std::string_view type = GetString(b.as_object(), "type");
    if (type == "text") {
      parts.push_back(json::object({{"type", "text"}, {"text", GetString(b.as_object(), "text")}}, parts.storage()));
    } else if (type == "image") {
      auto part = ImagePart(b.as_object(), at);
      if (!part.ok()) return part.status();
      images->push_back(std::move(*part));
    } else {
      return Untranslatable(at + ".type", "a '" + std::string(type) +
                                              "' block in a tool result has no OpenAI Chat Completions equivalent");
    }
  }
  if (parts.size() == 1) return parts[0].as_object().at("text");
  if (parts.empty()) return json::value("", images->storage());
  return json::value(std::move(parts));
}

Status ConvertUserMessage(const json::value& content, const std::string& where, json::array* out,
                          std::vector<std::string>* notes) {
  if (content.is_string()) {
    out->push_back(json::object({{"role", "user"}, {"content", content}}, out->storage()));
    return Status::Ok();
  }
  if (!content.is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array parts(out->storage()), images(out->storage());
  for (size_t j = 0; j < content.as_array().size(); ++j) {
    const json::value& bv = content.as_array()[j];
    std::string at = Path(where, j);
    if (!bv.is_object()) return Untranslatable(at, "expected a block object");
    const json::object& b = bv.as_object();
    std::string_view type = GetString(b, "type");
    if (b.contains("cache_control")) notes->push_back(at + ".cache_control dropped: Chat Completions has no cache markers");
    if (type == "text") {
      parts.push_back(json::object({{"type", "text"}, {"text", GetString(b, "text")}}, out->storage()));
    } else if (type == "image") {
      auto part = ImagePart(b, at);
      if (!part.ok()) return part.status();
      parts.push_back(std::move(*part));
    } else if (type == "tool_result") {
      json::array result_images(out->storage());
      auto text = ToolResultContent(Get(b, "content"), at + ".content", &result_images);
      if (!text.ok()) return text.status();
      json::value body = std::move(*text);
      const json::value* is_error = Get(b, "is_error");
      if (is_error != nullptr && is_error->is_bool() && is_error->as_bool()) {
        notes->push_back(at + ".is_error carried as an \"Error: \" prefix: Chat tool messages have no error flag");
        if (body.is_string()) {
          body = json::value(std::string("Error: ") + std::string(body.as_string()));
        } else {
          body.as_array().insert(body.as_array().begin(), json::object{{"type", "text"}, {"text", "Error:"}});
        }
      }
      // Tool messages must follow the assistant's tool calls directly, so
      // they go before anything else this user turn says.
      out->push_back(json::object({{"role", "tool"}, {"tool_call_id", GetString(b, "tool_use_id")}, {"content", std::move(body)}},
                                  out->storage()));
      if (!result_images.empty()) {
        notes->push_back(at + ": images of a tool result sent in a user message after it (Chat tool messages carry text only)");
        images.push_back(json::object{{"type", "text"}, {"text", "Images returned by tool call " +
                                                                     std::string(GetString(b, "tool_use_id")) + ":"}});
        for (auto& im : result_images) images.push_back(std::move(im));
      }
    } else {
      return Untranslatable(at + ".type", "a '" + std::string(type) +
                                              "' block has no OpenAI Chat Completions equivalent");
    }
  }
  for (auto& im : images) parts.push_back(std::move(im));
  if (!parts.empty()) out->push_back(json::object({{"role", "user"}, {"content", std::move(parts)}}, out->storage()));
  return Status::Ok();
}

Status ConvertAssistantMessage(const json::value& content, const std::string& where, json::array* out,
                               std::vector<std::string>* notes) {
  if (content.is_string()) {
    out->push_back(json::object({{"role", "assistant"}, {"content", content}}, out->storage()));
    return Status::Ok();
  }
  if (!content.is_array()) return Untranslatable(where, "expected a string or an array of blocks");
  json::array texts(out->storage()), calls(out->storage());
  for (size_t j = 0; j < content.as_array().size(); ++j) {
    const json::value& bv = content.as_array()[j];
    std::string at = Path(where, j);
    if (!bv.is_object()) return Untranslatable(at, "expected a block object");
    const json::object& b = bv.as_object();
    std::string_view type = GetString(b, "type");
    if (type == "text") {
      texts.push_back(json::object({{"type", "text"}, {"text", GetString(b, "text")}}, out->storage()));
    } else if (type == "tool_use") {
      const json::value* input = Get(b, "input");
      calls.push_back(json::object{
          {"id", GetString(b, "id")},
          {"type", "function"},
          {"function", json::object{{"name", GetString(b, "name")},
                                    {"arguments", input != nullptr ? Dump(*input) : std::string("{}")}}}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      notes->push_back(at + ": " + std::string(type) +
                       " of an earlier turn dropped: Chat Completions requests carry no reasoning");
    } else {
      return Untranslatable(at + ".type", "a '" + std::string(type) +
                                              "' block has no OpenAI Chat Completions equivalent");
    }
  }
  json::object m({{"role", "assistant"}}, out->storage());
  if (texts.size() == 1) {
    m["content"] = texts[0].as_object().at("text");
  } else if (texts.empty()) {
    m["content"] = nullptr;
  } else {
    m["content"] = std::move(texts);
  }
  if (!calls.empty()) m["tool_calls"] = std::move(calls);
  out->push_back(std::move(m));
  return Status::Ok();
}

Result<json::value> ConvertSystem(const json::value& system, std::vector<std::string>* notes,
                                  const std::string& where = "system") {
  if (system.is_string()) return system;
  if (!system.is_array()) return Untranslatable(where, "expected a string or an array of text blocks");
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
  json::array messages(arena.storage());

  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (k == "model" || k == "messages" || k == "system" || k == "max_tokens" || k == "stream" ||
        k == "temperature" || k == "top_p" || k == "stop_sequences" || k == "tools" || k == "tool_choice" ||
        k == "metadata" || k == "thinking" || k == "output_config") {
      continue;
    }
    if (IsDroppableMessagesHint(k)) {
      t.notes.push_back(std::string(k) + " dropped: no Chat Completions equivalent");
      continue;
    }
    if (k == "top_k") {
      // A sampling knob, not a feature: the answer is still an answer.
      t.notes.push_back("top_k dropped: the Chat Completions API has no top_k (the upstream samples with its own)");
      continue;
    }
    return Untranslatable(k, "has no OpenAI Chat Completions equivalent (the upstream cannot do it)");
  }

  if (const json::value* system = Get(req, "system")) {
    auto s = ConvertSystem(*system, &t.notes);
    if (!s.ok()) return s.status();
    messages.push_back(json::object{{"role", "system"}, {"content", std::move(*s)}});
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
      auto sys = ConvertSystem(*content, &t.notes, at + ".content");
      if (!sys.ok()) return sys.status();
      messages.push_back(json::object{{"role", "system"}, {"content", std::move(*sys)}});
      continue;
    }
    Status st = role == "user"        ? ConvertUserMessage(*content, at + ".content", &messages, &t.notes)
                : role == "assistant" ? ConvertAssistantMessage(*content, at + ".content", &messages, &t.notes)
                                      : Untranslatable(at + ".role", "expected \"user\", \"assistant\" or \"system\"");
    if (!st.ok()) return st;
  }
  chat["messages"] = std::move(messages);
  if (const json::value* v = Get(req, "max_tokens")) chat["max_tokens"] = *v;
  if (const json::value* v = Get(req, "temperature")) chat["temperature"] = *v;
  if (const json::value* v = Get(req, "top_p")) chat["top_p"] = *v;
  if (const json::array* stops = GetArray(req, "stop_sequences"); stops != nullptr && !stops->empty()) {
    chat["stop"] = *stops;
  }
  if (const json::object* md = GetObject(req, "metadata")) {
    if (IsString(*md, "user_id")) chat["user"] = GetString(*md, "user_id");
  }
  if (const json::object* thinking = GetObject(req, "thinking")) {
    std::string_view type = GetString(*thinking, "type");
    if (type == "enabled") {
      const json::value* budget = Get(*thinking, "budget_tokens");
      int64_t n = budget != nullptr && budget->is_int64() ? budget->as_int64() : 0;
      chat["reasoning_effort"] = n <= 4096 ? "low" : n <= 16384 ? "medium" : "high";
      t.notes.push_back("thinking.budget_tokens " + std::to_string(n) + " sent as reasoning_effort " +
                        std::string(chat["reasoning_effort"].as_string()));
    } else if (type != "disabled" && type != "adaptive") {
      return Untranslatable("thinking.type", "expected \"enabled\" or \"disabled\"");
    }
  }
  if (const json::object* oc = GetObject(req, "output_config")) {
    for (const auto& [key, value] : *oc) {
      std::string_view k(key.data(), key.size());
      if (k == "effort" && value.is_string()) {
        // Effort says how hard to think; Chat's reasoning_effort says the same.
        chat["reasoning_effort"] = value;
      } else if (k == "format" && value.is_object() && GetString(value.as_object(), "type") == "json_schema") {
        json::object schema{{"name", "output"}};
        if (const json::value* s = Get(value.as_object(), "schema")) schema["schema"] = *s;
        chat["response_format"] = json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
      } else {
        return Untranslatable("output_config." + std::string(k), "has no OpenAI Chat Completions equivalent");
      }
    }
  }
  if (const json::array* tools = GetArray(req, "tools"); tools != nullptr && !tools->empty()) {
    json::array out;
    for (size_t i = 0; i < tools->size(); ++i) {
      std::string at = Path("tools", i);
      if (!(*tools)[i].is_object()) return Untranslatable(at, "expected an object");
      const json::object& tool = (*tools)[i].as_object();
      std::string_view type = GetString(tool, "type");
      if (!type.empty() && type != "custom") {
        // A server tool runs at Anthropic. Offered, it is left out (the
        // model cannot call what the upstream cannot run); forced, refused.
        const json::object* choice = GetObject(req, "tool_choice");
        if (choice != nullptr && GetString(*choice, "type") == "tool" && GetString(*choice, "name") == GetString(tool, "name")) {
          return Untranslatable(at, "the server tool '" + std::string(GetString(tool, "name")) + "' (" + std::string(type) +
                                        ") runs at Anthropic; a Chat Completions upstream has no such tool");
        }
        t.notes.push_back(at + " (" + std::string(type) + ") not offered to the model: a server tool that runs at "
                               "Anthropic, which a Chat Completions upstream cannot run");
        continue;
      }
      if (tool.contains("cache_control")) t.notes.push_back(at + ".cache_control dropped: Chat Completions has no cache markers");
      json::object fn{{"name", GetString(tool, "name")}};
      if (IsString(tool, "description")) fn["description"] = GetString(tool, "description");
      const json::value* schema = Get(tool, "input_schema");
      fn["parameters"] = schema != nullptr ? *schema : json::value(json::object{{"type", "object"}});
      out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    if (!out.empty()) chat["tools"] = std::move(out);
  }
  if (const json::object* choice = GetObject(req, "tool_choice")) {
    std::string_view type = GetString(*choice, "type");
    if (type == "auto") {
      chat["tool_choice"] = "auto";
    } else if (type == "any") {
      chat["tool_choice"] = "required";
    } else if (type == "none") {
      chat["tool_choice"] = "none";
    } else if (type == "tool") {
      chat["tool_choice"] =
          json::object{{"type", "function"}, {"function", json::object{{"name", GetString(*choice, "name")}}}};
    } else {
      return Untranslatable("tool_choice.type", "expected auto, any, tool or none");
    }
    const json::value* dp = Get(*choice, "disable_parallel_tool_use");
    if (dp != nullptr && dp->is_bool() && chat.contains("tools")) chat["parallel_tool_calls"] = !dp->as_bool();
    if (!chat.contains("tools")) {  // every tool offered was a server tool
      if (type == "any") return Untranslatable("tool_choice", "\"any\" with only server tools, which a Chat Completions upstream cannot run");
      chat.erase("tool_choice");
    }
  }
  const json::value* stream = Get(req, "stream");
  t.stream = stream != nullptr && stream->is_bool() && stream->as_bool();
  CapMaxTokens(&chat, options.max_tokens_cap, &t.notes);
  if (t.stream) {
    chat["stream"] = true;
    chat["stream_options"] = json::object{{"include_usage", true}};
  }
  t.body = Dump(chat);
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
  if (const json::object* d = GetObject(*usage, "prompt_tokens_details")) u.cached = num(*d, "cached_tokens");
  if (const json::object* d = GetObject(*usage, "completion_tokens_details")) u.reasoning = num(*d, "reasoning_tokens");
  return u;
}

namespace {

// Anthropic usage from Chat usage: Anthropic's input_tokens excludes cache reads.
json::object AnthropicUsage(const ChatUsage& u) {
  json::object usage{{"input_tokens", u.prompt - std::min(u.cached, u.prompt)}, {"output_tokens", u.completion}};
  if (u.cached > 0) {
    usage["cache_read_input_tokens"] = u.cached;
    usage["cache_creation_input_tokens"] = 0;
  }
  return usage;
}

// Reasoning text of a Chat message or delta (vLLM/DeepSeek reasoning_content,
// Ollama/OpenRouter reasoning).
std::string_view ReasoningOf(const json::object& m) {
  std::string_view r = GetString(m, "reasoning_content");
  return r.empty() ? GetString(m, "reasoning") : r;
}

}  // namespace

Result<Translated> ChatResponseToMessages(std::string_view body, std::string_view client_model) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  const json::array* choices = GetArray(resp, "choices");
  if (choices == nullptr || choices->empty() || !(*choices)[0].is_object()) {
    return Status::Error("the upstream's response has no choices");
  }
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
        auto input = ParseArguments(GetString(*fn, "arguments"), Path("choices[0].message.tool_calls", i));
        if (!input.ok()) return input.status();
        content.push_back(json::object{{"type", "tool_use"},
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
                   {"usage", AnthropicUsage(ReadChatUsage(resp))}};
  t.body = Dump(out);
  return t;
}

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
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (k == "model" || k == "messages" || k == "max_tokens" || k == "max_completion_tokens" || k == "stream" ||
        k == "stream_options" || k == "temperature" || k == "top_p" || k == "stop" || k == "tools" ||
        k == "tool_choice" || k == "parallel_tool_calls" || k == "user" || k == "reasoning_effort") {
      continue;
    }
    if ((k == "n" && value.is_int64() && value.as_int64() == 1) || value.is_null()) continue;
    if ((k == "frequency_penalty" || k == "presence_penalty") && value.is_number() && value.to_number<double>() == 0) {
      continue;
    }
    if (k == "response_format" && value.is_object() && GetString(value.as_object(), "type") == "text") continue;
    return Untranslatable(k, "has no Anthropic Messages equivalent (the upstream cannot do it)");
  }
  json::array system, messages;
  const json::array* in = GetArray(req, "messages");
  if (in == nullptr) return Untranslatable("messages", "missing or not an array");
  auto text_blocks = [](const json::value& content, const std::string& at) -> Result<json::array> {
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
        const json::object* iu = GetObject(p.as_object(), "image_url");
        std::string_view url = iu != nullptr ? GetString(*iu, "url") : std::string_view();
        if (url.starts_with("data:")) {
          size_t semi = url.find(";base64,");
          if (semi == std::string_view::npos) return Untranslatable(Path(at, j), "a data: URL that is not base64");
          blocks.push_back(json::object{
              {"type", "image"},
              {"source", json::object{{"type", "base64"},
                                      {"media_type", url.substr(5, semi - 5)},
                                      {"data", url.substr(semi + 8)}}}});
        } else {
          blocks.push_back(json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}});
        }
      } else {
        return Untranslatable(Path(at, j) + ".type",
                              "a '" + std::string(type) + "' part has no Anthropic Messages equivalent");
      }
    }
    return blocks;
  };
  for (size_t i = 0; i < in->size(); ++i) {
    std::string at = Path("messages", i);
    if (!(*in)[i].is_object()) return Untranslatable(at, "expected an object");
    const json::object& m = (*in)[i].as_object();
    std::string_view role = GetString(m, "role");
    const json::value* content = Get(m, "content");
    static const json::value kNull;
    if (content == nullptr) content = &kNull;
    if (role == "system" || role == "developer") {
      if (!messages.empty()) {
        return Untranslatable(at, "a system message after the conversation started has no Anthropic Messages place");
      }
      auto blocks = text_blocks(*content, at + ".content");
      if (!blocks.ok()) return blocks.status();
      for (auto& b : *blocks) system.push_back(std::move(b));
    } else if (role == "user") {
      if (content->is_string()) {
        messages.push_back(json::object{{"role", "user"}, {"content", *content}});
        continue;
      }
      auto blocks = text_blocks(*content, at + ".content");
      if (!blocks.ok()) return blocks.status();
      // After tool results: the same user turn.
      if (!messages.empty() && GetString(messages.back().as_object(), "role") == "user" &&
          messages.back().as_object().at("content").is_array()) {
        for (auto& b : *blocks) messages.back().as_object()["content"].as_array().push_back(std::move(b));
      } else {
        messages.push_back(json::object{{"role", "user"}, {"content", std::move(*blocks)}});
      }
    } else if (role == "assistant") {
      auto blocks = text_blocks(*content, at + ".content");
      if (!blocks.ok()) return blocks.status();
      if (const json::array* calls = GetArray(m, "tool_calls")) {
        for (size_t j = 0; j < calls->size(); ++j) {
          if (!(*calls)[j].is_object()) return Untranslatable(Path(at + ".tool_calls", j), "expected an object");
          const json::object& call = (*calls)[j].as_object();
          const json::object* fn = GetObject(call, "function");
          if (fn == nullptr) return Untranslatable(Path(at + ".tool_calls", j), "only function calls translate");
          auto input = ParseArguments(GetString(*fn, "arguments"), Path(at + ".tool_calls", j));
          if (!input.ok()) return input.status();
          blocks->push_back(json::object{{"type", "tool_use"},
                                         {"id", GetString(call, "id")},
                                         {"name", GetString(*fn, "name")},
                                         {"input", std::move(*input)}});
        }
      }
      if (!ReasoningOf(m).empty()) t.notes.push_back(at + ".reasoning_content dropped: Messages requests carry thinking only with a signature");
      messages.push_back(json::object{{"role", "assistant"}, {"content", std::move(*blocks)}});
    } else if (role == "tool") {
      json::value result_content = content->is_string() ? *content : json::value();
      if (!content->is_string()) {
        auto blocks = text_blocks(*content, at + ".content");
        if (!blocks.ok()) return blocks.status();
        result_content = std::move(*blocks);
      }
      json::object block{{"type", "tool_result"}, {"tool_use_id", GetString(m, "tool_call_id")}, {"content", result_content}};
      if (!messages.empty() && GetString(messages.back().as_object(), "role") == "user" &&
          messages.back().as_object().at("content").is_array()) {
        messages.back().as_object()["content"].as_array().push_back(std::move(block));
      } else {
        messages.push_back(json::object{{"role", "user"}, {"content", json::array{std::move(block)}}});
      }
    } else {
      return Untranslatable(at + ".role", "'" + std::string(role) + "' has no Anthropic Messages equivalent");
    }
  }
  if (!system.empty()) {
    if (system.size() == 1) {
      out["system"] = system[0].as_object().at("text");
    } else {
      out["system"] = std::move(system);
    }
  }
  out["messages"] = std::move(messages);
  const json::value* max = Get(req, "max_completion_tokens");
  if (max == nullptr || max->is_null()) max = Get(req, "max_tokens");
  if (max != nullptr && !max->is_null()) {
    out["max_tokens"] = *max;
  } else {
    out["max_tokens"] = 4096;
    t.notes.push_back("max_tokens set to 4096: Anthropic Messages requires a limit and the request named none");
  }
  if (const json::value* v = Get(req, "temperature"); v != nullptr && !v->is_null()) out["temperature"] = *v;
  if (const json::value* v = Get(req, "top_p"); v != nullptr && !v->is_null()) out["top_p"] = *v;
  if (const json::value* stop = Get(req, "stop"); stop != nullptr && !stop->is_null()) {
    out["stop_sequences"] = stop->is_string() ? json::value(json::array{*stop}) : *stop;
  }
  if (const json::array* tools = GetArray(req, "tools"); tools != nullptr && !tools->empty()) {
    json::array list;
    for (size_t i = 0; i < tools->size(); ++i) {
      const json::object* tool = (*tools)[i].is_object() ? &(*tools)[i].as_object() : nullptr;
      const json::object* fn = tool != nullptr ? GetObject(*tool, "function") : nullptr;
      if (fn == nullptr || GetString(*tool, "type") != "function") {
        return Untranslatable(Path("tools", i), "only function tools translate to Anthropic Messages");
      }
      json::object t2{{"name", GetString(*fn, "name")}};
      if (IsString(*fn, "description")) t2["description"] = GetString(*fn, "description");
      const json::value* params = Get(*fn, "parameters");
      t2["input_schema"] = params != nullptr ? *params : json::value(json::object{{"type", "object"}});
      list.push_back(std::move(t2));
    }
    out["tools"] = std::move(list);
  }
  const json::value* choice = Get(req, "tool_choice");
  const json::value* parallel = Get(req, "parallel_tool_calls");
  if (choice != nullptr || (parallel != nullptr && parallel->is_bool() && out.contains("tools"))) {
    json::object tc{{"type", "auto"}};
    if (choice != nullptr && choice->is_string()) {
      std::string_view c(choice->as_string().data(), choice->as_string().size());
      tc["type"] = c == "required" ? "any" : c == "none" ? "none" : "auto";
    } else if (choice != nullptr && choice->is_object()) {
      const json::object* fn = GetObject(choice->as_object(), "function");
      tc = json::object{{"type", "tool"}, {"name", fn != nullptr ? GetString(*fn, "name") : ""}};
    }
    if (parallel != nullptr && parallel->is_bool() && out.contains("tools")) {
      tc["disable_parallel_tool_use"] = !parallel->as_bool();
    }
    out["tool_choice"] = std::move(tc);
  }
  if (IsString(req, "user")) out["metadata"] = json::object{{"user_id", GetString(req, "user")}};
  if (std::string_view effort = GetString(req, "reasoning_effort"); !effort.empty()) {
    int budget = effort == "low" || effort == "minimal" ? 2048 : effort == "medium" ? 8192 : 24576;
    out["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", budget}};
    t.notes.push_back("reasoning_effort " + std::string(effort) + " sent as thinking.budget_tokens " +
                      std::to_string(budget));
  }
  const json::value* stream = Get(req, "stream");
  t.stream = stream != nullptr && stream->is_bool() && stream->as_bool();
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
        const json::value* input = Get(b, "input");
        calls.push_back(json::object{
            {"id", GetString(b, "id")},
            {"type", "function"},
            {"function", json::object{{"name", GetString(b, "name")},
                                      {"arguments", input != nullptr ? Dump(*input) : std::string("{}")}}}});
      }
    }
  }
  std::string_view stop = GetString(resp, "stop_reason");
  std::string_view finish = stop == "max_tokens"  ? "length"
                            : stop == "tool_use"  ? "tool_calls"
                            : stop == "refusal"   ? "content_filter"
                                                  : "stop";
  json::object message{{"role", "assistant"}, {"content", text.empty() && !calls.empty() ? json::value() : json::value(text)}};
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
  json::object out{{"id", WithPrefix(GetString(resp, "id"), "chatcmpl-")},
                   {"object", "chat.completion"},
                   {"created", 0},
                   {"model", GetString(resp, "model")},
                   {"choices", json::array{json::object{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish}}}}};
  if (!usage.empty()) out["usage"] = std::move(usage);
  Translated t;
  t.body = Dump(out);
  return t;
}

}  // namespace glassbox::gate::translate
