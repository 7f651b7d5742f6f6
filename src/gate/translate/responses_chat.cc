// OpenAI Responses -> Chat Completions (Codex on a Chat-only server):
// requests and complete responses. Streams are in stream.cc.
#include <algorithm>
#include <string>
#include <string_view>

#include "gate/translate/json_util.h"

namespace glassbox::gate::translate::internal {
namespace {

// Responses request fields that are hints or server-side storage options
// with no Chat equivalent: dropped with a note.
bool IsDroppableResponsesHint(std::string_view key) {
  return key == "store" || key == "include" || key == "prompt_cache_key" || key == "service_tier" ||
         key == "safety_identifier" || key == "truncation" || key == "client_metadata";
}

// Content parts of a Responses message -> Chat content (string for a single
// text part).
Result<json::value> ContentToChat(const json::value& content, const std::string& at) {
  if (content.is_string()) return content;
  if (!content.is_array()) return Untranslatable(at, "expected a string or an array of parts");
  json::array parts;
  for (size_t j = 0; j < content.as_array().size(); ++j) {
    const json::value& pv = content.as_array()[j];
    if (!pv.is_object()) return Untranslatable(Path(at, j), "expected a part object");
    const json::object& p = pv.as_object();
    std::string_view type = GetString(p, "type");
    if (type == "input_text" || type == "output_text" || type == "text") {
      parts.push_back(json::object{{"type", "text"}, {"text", GetString(p, "text")}});
    } else if (type == "refusal") {
      parts.push_back(json::object{{"type", "text"}, {"text", GetString(p, "refusal")}});
    } else if (type == "input_image") {
      if (!IsString(p, "image_url"))
        return Untranslatable(Path(at, j), "an image by file_id has no Chat equivalent");
      json::object iu{{"url", GetString(p, "image_url")}};
      if (IsString(p, "detail")) iu["detail"] = GetString(p, "detail");
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(iu)}});
    } else {
      return Untranslatable(Path(at, j) + ".type", "a '" + std::string(type) +
                                                       "' part has no Chat Completions equivalent");
    }
  }
  if (parts.size() == 1 && parts[0].as_object().at("type") == "text")
    return parts[0].as_object().at("text");
  return json::value(std::move(parts));
}

Status CheckResponsesFields(const json::object& req, std::vector<std::string>* notes) {
  static constexpr std::string_view kHandled[] = {
      "model",       "input",       "instructions",
      "tools",       "tool_choice", "parallel_tool_calls",
      "reasoning",   "stream",      "max_output_tokens",
      "temperature", "top_p",       "text",
      "user",        "metadata"};
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (value.is_null() || IsOneOf(k, kHandled)) continue;
    if (IsDroppableResponsesHint(k)) {
      notes->push_back(std::string(k) + " dropped: no Chat Completions equivalent");
      continue;
    }
    return Untranslatable(k,
                          "has no OpenAI Chat Completions equivalent (the upstream cannot do it)");
  }
  return Status::Ok();
}

// A message item -> a Chat message (developer instructions as system).
Status AddMessageItem(const json::object& item, const std::string& at, json::array* messages) {
  std::string_view role = GetString(item, "role");
  const json::value* content = Get(item, "content");
  if (content == nullptr) return Untranslatable(at + ".content", "missing");
  auto c = ContentToChat(*content, at + ".content");
  if (!c.ok()) return c.status();
  std::string chat_role = role == "developer" || role == "system" ? "system" : std::string(role);
  if (chat_role != "system" && chat_role != "user" && chat_role != "assistant") {
    return Untranslatable(at + ".role",
                          "'" + std::string(role) + "' has no Chat Completions equivalent");
  }
  messages->push_back(json::object{{"role", chat_role}, {"content", std::move(*c)}});
  return Status::Ok();
}

// A function_call item joins the assistant turn right before it (or opens
// one).
void AddFunctionCallItem(const json::object& item, json::array* messages) {
  json::object call{{"id", GetString(item, "call_id")},
                    {"type", "function"},
                    {"function", json::object{{"name", GetString(item, "name")},
                                              {"arguments", GetString(item, "arguments")}}}};
  json::object* last = messages->empty() ? nullptr : &messages->back().as_object();
  if (last != nullptr && GetString(*last, "role") == "assistant") {
    if (!last->contains("tool_calls")) (*last)["tool_calls"] = json::array();
    (*last)["tool_calls"].as_array().push_back(std::move(call));
  } else {
    messages->push_back(json::object{
        {"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array{std::move(call)}}});
  }
}

Status AddFunctionCallOutputItem(const json::object& item, const std::string& at,
                                 json::array* messages) {
  const json::value* output = Get(item, "output");
  json::value content = output != nullptr && output->is_string() ? *output : json::value("");
  if (output != nullptr && output->is_array()) {
    auto c = ContentToChat(*output, at + ".output");
    if (!c.ok()) return c.status();
    content = std::move(*c);
  }
  messages->push_back(json::object{{"role", "tool"},
                                   {"tool_call_id", GetString(item, "call_id")},
                                   {"content", std::move(content)}});
  return Status::Ok();
}

Status AddInputItem(const json::value& iv, const std::string& at, json::array* messages,
                    std::vector<std::string>* notes) {
  if (!iv.is_object()) return Untranslatable(at, "expected an item object");
  const json::object& item = iv.as_object();
  std::string_view type = GetString(item, "type");
  if (type.empty() || type == "message") return AddMessageItem(item, at, messages);
  if (type == "function_call") {
    AddFunctionCallItem(item, messages);
    return Status::Ok();
  }
  if (type == "function_call_output") return AddFunctionCallOutputItem(item, at, messages);
  if (type == "reasoning") {
    notes->push_back(at +
                     ": a reasoning item of an earlier turn dropped: Chat Completions requests "
                     "carry no reasoning");
    return Status::Ok();
  }
  return Untranslatable(at + ".type",
                        "a '" + std::string(type) + "' item has no Chat Completions equivalent");
}

// instructions and input -> Chat messages.
Status ConvertInput(const json::object& req, json::array* messages,
                    std::vector<std::string>* notes) {
  if (IsString(req, "instructions")) {
    messages->push_back(
        json::object{{"role", "system"}, {"content", GetString(req, "instructions")}});
  }
  const json::value* input = Get(req, "input");
  if (input != nullptr && input->is_string()) {
    messages->push_back(json::object{{"role", "user"}, {"content", *input}});
    return Status::Ok();
  }
  if (input == nullptr || !input->is_array()) return Untranslatable("input", "missing");
  for (size_t i = 0; i < input->as_array().size(); ++i) {
    if (Status st = AddInputItem(input->as_array()[i], Path("input", i), messages, notes); !st.ok())
      return st;
  }
  return Status::Ok();
}

// A function tool -> a Chat function tool.
json::object ChatToolOf(const json::object& tool) {
  const json::value* params = Get(tool, "parameters");
  json::object out = ChatFunctionTool(tool, params != nullptr && !params->is_null()
                                                ? *params
                                                : json::value(json::object{{"type", "object"}}));
  if (const json::value* strict = Get(tool, "strict"); strict != nullptr && strict->is_bool()) {
    out["function"].as_object()["strict"] = *strict;
  }
  return out;
}

Status ConvertResponsesTools(const json::object& req, json::object* chat,
                             std::vector<std::string>* notes) {
  const json::array* tools = GetArray(req, "tools");
  if (tools == nullptr || tools->empty()) return Status::Ok();
  json::array out;
  for (size_t i = 0; i < tools->size(); ++i) {
    if (!(*tools)[i].is_object()) return Untranslatable(Path("tools", i), "expected an object");
    const json::object& tool = (*tools)[i].as_object();
    std::string_view type = GetString(tool, "type");
    if (type != "function") {
      // Hosted tools (web_search, file_search, ...) and namespaces run at
      // OpenAI. Offered, they are left out; forced (tool_choice names the
      // type), the request is refused (ConvertResponsesToolChoice).
      notes->push_back(
          Path("tools", i) + " (" + std::string(type) +
          (IsString(tool, "name") ? " " + std::string(GetString(tool, "name")) : std::string()) +
          ") not offered to the model: only function tools run on a Chat Completions upstream");
      continue;
    }
    out.push_back(ChatToolOf(tool));
  }
  if (!out.empty()) (*chat)["tools"] = std::move(out);
  return Status::Ok();
}

Status ConvertResponsesToolChoice(const json::object& req, json::object* chat) {
  if (const json::value* choice = Get(req, "tool_choice")) {
    if (choice->is_string() && !chat->contains("tools")) {
      if (*choice == "required") {
        return Untranslatable(
            "tool_choice",
            "\"required\" with only hosted tools, which a Chat Completions upstream cannot run");
      }
    } else if (choice->is_string()) {
      (*chat)["tool_choice"] = *choice;
    } else if (choice->is_object() && GetString(choice->as_object(), "type") == "function") {
      (*chat)["tool_choice"] = json::object{
          {"type", "function"},
          {"function", json::object{{"name", GetString(choice->as_object(), "name")}}}};
    } else {
      return Untranslatable(
          "tool_choice",
          "only auto, none, required and a function translate (a hosted tool cannot "
          "run on a Chat Completions upstream)");
    }
  }
  if (const json::value* p = Get(req, "parallel_tool_calls");
      p != nullptr && p->is_bool() && chat->contains("tools")) {
    (*chat)["parallel_tool_calls"] = *p;
  }
  return Status::Ok();
}

// reasoning, limits, sampling, the end user and metadata.
void CopyResponsesOptions(const json::object& req, json::object* chat,
                          std::vector<std::string>* notes) {
  if (const json::object* reasoning = GetObject(req, "reasoning")) {
    if (IsString(*reasoning, "effort"))
      (*chat)["reasoning_effort"] = GetString(*reasoning, "effort");
    if (reasoning->contains("summary"))
      notes->push_back("reasoning.summary dropped: Chat Completions has no summaries");
  }
  if (const json::value* v = Get(req, "max_output_tokens"); v != nullptr && !v->is_null())
    (*chat)["max_tokens"] = *v;
  if (const json::value* v = Get(req, "temperature"); v != nullptr && !v->is_null())
    (*chat)["temperature"] = *v;
  if (const json::value* v = Get(req, "top_p"); v != nullptr && !v->is_null())
    (*chat)["top_p"] = *v;
  if (IsString(req, "user")) (*chat)["user"] = GetString(req, "user");
  if (const json::object* md = GetObject(req, "metadata")) (*chat)["metadata"] = *md;
}

// text.format -> response_format.
void ConvertTextFormat(const json::object& req, json::object* chat,
                       std::vector<std::string>* notes) {
  const json::object* text = GetObject(req, "text");
  if (text == nullptr) return;
  if (const json::object* format = GetObject(*text, "format")) {
    std::string_view type = GetString(*format, "type");
    if (type == "json_schema") {
      json::object schema{{"name", GetString(*format, "name")}};
      if (const json::value* s = Get(*format, "schema")) schema["schema"] = *s;
      if (const json::value* s = Get(*format, "strict"); s != nullptr && s->is_bool())
        schema["strict"] = *s;
      (*chat)["response_format"] =
          json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
    } else if (type == "json_object") {
      (*chat)["response_format"] = json::object{{"type", "json_object"}};
    }
  }
  if (text->contains("verbosity"))
    notes->push_back("text.verbosity dropped: no Chat Completions equivalent");
}

}  // namespace

Result<Translated> ResponsesRequestToChat(std::string_view body, const RequestOptions& options) {
  ParseArena arena;
  auto parsed = ParseObject(body, "the request body", arena.storage());
  if (!parsed.ok()) return parsed.status();
  const json::object& req = *parsed;
  Translated t;
  t.model = std::string(GetString(req, "model"));
  json::object chat{{"model", options.upstream_model.empty() ? t.model : options.upstream_model}};
  if (Status st = CheckResponsesFields(req, &t.notes); !st.ok()) return st;
  json::array messages;
  if (Status st = ConvertInput(req, &messages, &t.notes); !st.ok()) return st;
  chat["messages"] = std::move(messages);
  if (Status st = ConvertResponsesTools(req, &chat, &t.notes); !st.ok()) return st;
  if (Status st = ConvertResponsesToolChoice(req, &chat); !st.ok()) return st;
  CopyResponsesOptions(req, &chat, &t.notes);
  ConvertTextFormat(req, &chat, &t.notes);
  t.stream = StreamRequested(req);
  t.body = FinishChatRequest(chat, t.stream, options.max_tokens_cap, &t.notes);
  return t;
}

Result<Translated> ChatResponseToResponses(std::string_view body, std::string_view client_model) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  auto listed = ChatChoices(resp);
  if (!listed.ok()) return listed.status();
  const json::array* choices = *listed;
  const json::object& choice = (*choices)[0].as_object();
  const json::object* message = GetObject(choice, "message");
  const std::string id(GetString(resp, "id"));
  json::array output;
  if (message != nullptr) {
    std::string_view reasoning = ReasoningOf(*message);
    if (!reasoning.empty()) {
      output.push_back(json::object{
          {"id", "rs_" + id + "_0"},
          {"type", "reasoning"},
          {"summary", json::array()},
          {"content", json::array{json::object{{"type", "reasoning_text"}, {"text", reasoning}}}}});
    }
    std::string text;
    if (const json::value* c = Get(*message, "content"); c != nullptr && c->is_string())
      text = std::string(c->as_string());
    if (text.empty()) text = std::string(GetString(*message, "refusal"));
    if (!text.empty()) {
      output.push_back(json::object{
          {"id", "msg_" + id + "_" + std::to_string(output.size())},
          {"type", "message"},
          {"status", "completed"},
          {"role", "assistant"},
          {"content",
           json::array{json::object{
               {"type", "output_text"}, {"text", text}, {"annotations", json::array()}}}}});
    }
    if (const json::array* calls = GetArray(*message, "tool_calls")) {
      for (const json::value& cv : *calls) {
        if (!cv.is_object()) continue;
        const json::object* fn = GetObject(cv.as_object(), "function");
        if (fn == nullptr) continue;
        output.push_back(json::object{{"id", "fc_" + id + "_" + std::to_string(output.size())},
                                      {"type", "function_call"},
                                      {"status", "completed"},
                                      {"call_id", GetString(cv.as_object(), "id")},
                                      {"name", GetString(*fn, "name")},
                                      {"arguments", GetString(*fn, "arguments")}});
      }
    }
  }
  ChatUsage u = ReadChatUsage(resp);
  const bool incomplete = GetString(choice, "finish_reason") == "length";
  std::string_view model = GetString(resp, "model");
  json::object out{{"id", WithPrefix(id, "resp_")},
                   {"object", "response"},
                   {"created_at", 0},
                   {"status", incomplete ? "incomplete" : "completed"},
                   {"model", model.empty() ? client_model : model},
                   {"output", std::move(output)},
                   {"usage", ResponsesUsage(u)}};
  if (incomplete) out["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
  Translated t;
  t.body = Dump(out);
  return t;
}

}  // namespace glassbox::gate::translate::internal
