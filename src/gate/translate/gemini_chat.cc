// Gemini generateContent -> Chat Completions: requests and complete
// responses. Streams are in stream.cc. Gemini names calls by function name
// (ids are optional): calls without an id get "call_<turn>_<part>", and a
// functionResponse without an id answers the oldest open call of its name.
#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "gate/translate/json_util.h"

namespace glassbox::gate::translate::internal {
namespace {

// Gemini's OpenAPI schema (types "OBJECT", "STRING", ...) -> JSON Schema.
json::value SchemaToJson(const json::value& schema) {
  if (schema.is_array()) {
    json::array out;
    for (const json::value& v : schema.as_array()) out.push_back(SchemaToJson(v));
    return out;
  }
  if (!schema.is_object()) return schema;
  json::object out;
  for (const auto& kv : schema.as_object()) {
    if (kv.key() == "type" && kv.value().is_string()) {
      std::string type(kv.value().as_string());
      for (char& c : type) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      out["type"] = type;
    } else {
      out[kv.key()] = SchemaToJson(kv.value());
    }
  }
  return out;
}

const json::value* GetEither(const json::object& o, std::string_view camel,
                             std::string_view snake) {
  const json::value* v = Get(o, camel);
  return v != nullptr ? v : Get(o, snake);
}

// Top-level request fields: handled below, or dropped with a note, or
// refused.
Status CheckGeminiFields(const json::object& req, std::vector<std::string>* notes) {
  static constexpr std::string_view kHandled[] = {
      "contents",    "systemInstruction", "system_instruction", "tools", "toolConfig",
      "tool_config", "generationConfig",  "generation_config",  "model"};
  static constexpr std::string_view kDropped[] = {"safetySettings", "safety_settings", "labels"};
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (IsOneOf(k, kHandled)) continue;
    if (IsOneOf(k, kDropped)) {
      notes->push_back(std::string(k) + " dropped: no Chat Completions equivalent");
      continue;
    }
    return Untranslatable(k,
                          "has no OpenAI Chat Completions equivalent (the upstream cannot do it)");
  }
  return Status::Ok();
}

// systemInstruction's text parts, joined by newlines, as a system message.
void AddSystemInstruction(const json::object& req, json::array* messages) {
  const json::value* si = GetEither(req, "systemInstruction", "system_instruction");
  if (si == nullptr || !si->is_object()) return;
  std::string text;
  if (const json::array* parts = GetArray(si->as_object(), "parts")) {
    for (const json::value& p : *parts) {
      if (!p.is_object()) continue;
      if (!text.empty()) text += "\n";
      text += std::string(GetString(p.as_object(), "text"));
    }
  }
  messages->push_back(json::object{{"role", "system"}, {"content", text}});
}

// One turn of `contents` as it is converted: a user turn's parts, a model
// turn's text and calls; tool messages go straight to the conversation.
struct GeminiTurn {
  std::string_view role;
  size_t index = 0;  // in contents, for made-up call ids
  json::array chat_parts, calls;
  std::string assistant_text;
};

// Calls not yet answered: name -> ids, oldest first.
using OpenCalls = std::map<std::string, std::deque<std::string>>;

Status AddInlineData(const json::value& inline_data, const std::string& where, GeminiTurn* turn) {
  if (!inline_data.is_object()) return Untranslatable(where, "expected an object");
  const json::object& d = inline_data.as_object();
  std::string_view mime = GetString(d, "mimeType");
  if (mime.empty()) mime = GetString(d, "mime_type");
  if (!mime.starts_with("image/")) {
    return Untranslatable(where, "inline " + std::string(mime) +
                                     " data has no Chat Completions equivalent (images only)");
  }
  const std::string url =
      "data:" + std::string(mime) + ";base64," + std::string(GetString(d, "data"));
  turn->chat_parts.push_back(
      json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}});
  return Status::Ok();
}

Status AddFileData(const json::value& file, const std::string& where, GeminiTurn* turn) {
  if (!file.is_object()) return Untranslatable(where, "expected an object");
  std::string_view uri = GetString(file.as_object(), "fileUri");
  if (uri.empty()) uri = GetString(file.as_object(), "file_uri");
  turn->chat_parts.push_back(
      json::object{{"type", "image_url"}, {"image_url", json::object{{"url", uri}}}});
  return Status::Ok();
}

void AddFunctionCall(const json::object& fc, size_t part, OpenCalls* open_calls, GeminiTurn* turn) {
  std::string name(GetString(fc, "name"));
  std::string id(GetString(fc, "id"));
  if (id.empty()) id = "call_" + std::to_string(turn->index) + "_" + std::to_string(part);
  (*open_calls)[name].push_back(id);
  const json::value* args = Get(fc, "args");
  turn->calls.push_back(json::object{
      {"id", id},
      {"type", "function"},
      {"function",
       json::object{{"name", name},
                    {"arguments", args != nullptr ? Dump(*args) : std::string("{}")}}}});
}

// A functionResponse becomes a tool message answering its call (by id, or
// the oldest open call of its name).
Status AddFunctionResponse(const json::object& fr, const std::string& where, OpenCalls* open_calls,
                           json::array* messages) {
  std::string name(GetString(fr, "name"));
  std::string id(GetString(fr, "id"));
  auto& queue = (*open_calls)[name];
  if (id.empty()) {
    if (queue.empty())
      return Untranslatable(
          where, "a functionResponse for '" + name + "' answers no earlier functionCall");
    id = queue.front();
  }
  if (auto it = std::find(queue.begin(), queue.end(), id); it != queue.end()) queue.erase(it);
  const json::value* response = Get(fr, "response");
  messages->push_back(
      json::object{{"role", "tool"},
                   {"tool_call_id", id},
                   {"content", response != nullptr ? Dump(*response) : std::string("{}")}});
  return Status::Ok();
}

bool IsThought(const json::object& p) {
  const json::value* thought = Get(p, "thought");
  return thought != nullptr && thought->is_bool() && thought->as_bool();
}

// One part of a turn.
Status ConvertGeminiPart(const json::object& p, size_t j, const std::string& where,
                         OpenCalls* open_calls, GeminiTurn* turn, json::array* messages,
                         std::vector<std::string>* notes) {
  if (IsThought(p)) {
    notes->push_back(
        where +
        ": a thought of an earlier turn dropped: Chat Completions requests carry no reasoning");
    return Status::Ok();
  }
  if (IsString(p, "text")) {
    if (turn->role == "model") {
      turn->assistant_text += std::string(GetString(p, "text"));
    } else {
      turn->chat_parts.push_back(json::object{{"type", "text"}, {"text", GetString(p, "text")}});
    }
    return Status::Ok();
  }
  if (const json::value* inline_data = GetEither(p, "inlineData", "inline_data")) {
    return AddInlineData(*inline_data, where, turn);
  }
  if (const json::value* file = GetEither(p, "fileData", "file_data"))
    return AddFileData(*file, where, turn);
  if (const json::value* fc = GetEither(p, "functionCall", "function_call");
      fc != nullptr && fc->is_object()) {
    AddFunctionCall(fc->as_object(), j, open_calls, turn);
    return Status::Ok();
  }
  if (const json::value* fr = GetEither(p, "functionResponse", "function_response");
      fr != nullptr && fr->is_object()) {
    return AddFunctionResponse(fr->as_object(), where, open_calls, messages);
  }
  return Untranslatable(where, "this part has no Chat Completions equivalent");
}

// The turn's message, after its parts (none when it said nothing).
Status FinishGeminiTurn(GeminiTurn& turn, const std::string& where, json::array* messages) {
  if (turn.role == "model") {
    if (turn.assistant_text.empty() && turn.calls.empty()) return Status::Ok();
    json::object m{{"role", "assistant"},
                   {"content", turn.assistant_text.empty() ? json::value()
                                                           : json::value(turn.assistant_text)}};
    if (!turn.calls.empty()) m["tool_calls"] = std::move(turn.calls);
    messages->push_back(std::move(m));
    return Status::Ok();
  }
  if (turn.role != "user" && !turn.role.empty())
    return Untranslatable(where + ".role", "expected \"user\" or \"model\"");
  if (turn.chat_parts.empty()) return Status::Ok();
  json::array& parts = turn.chat_parts;
  if (parts.size() == 1 && parts[0].as_object().at("type") == "text") {
    messages->push_back(
        json::object{{"role", "user"}, {"content", parts[0].as_object().at("text")}});
  } else {
    messages->push_back(json::object{{"role", "user"}, {"content", std::move(parts)}});
  }
  return Status::Ok();
}

Status ConvertContents(const json::object& req, json::array* messages,
                       std::vector<std::string>* notes) {
  const json::array* contents = GetArray(req, "contents");
  if (contents == nullptr) return Untranslatable("contents", "missing or not an array");
  OpenCalls open_calls;
  for (size_t i = 0; i < contents->size(); ++i) {
    std::string at = Path("contents", i);
    if (!(*contents)[i].is_object()) return Untranslatable(at, "expected an object");
    const json::object& c = (*contents)[i].as_object();
    const json::array* parts = GetArray(c, "parts");
    if (parts == nullptr) return Untranslatable(at + ".parts", "missing");
    GeminiTurn turn;
    turn.role = GetString(c, "role");
    turn.index = i;
    for (size_t j = 0; j < parts->size(); ++j) {
      std::string pat = Path(at + ".parts", j);
      if (!(*parts)[j].is_object()) return Untranslatable(pat, "expected an object");
      if (Status st = ConvertGeminiPart((*parts)[j].as_object(), j, pat, &open_calls, &turn,
                                        messages, notes);
          !st.ok()) {
        return st;
      }
    }
    if (Status st = FinishGeminiTurn(turn, at, messages); !st.ok()) return st;
  }
  return Status::Ok();
}

// A functionDeclarations entry -> a Chat function tool.
json::object FunctionTool(const json::object& d) {
  if (const json::value* s = Get(d, "parametersJsonSchema")) return ChatFunctionTool(d, *s);
  if (const json::value* s = Get(d, "parameters")) return ChatFunctionTool(d, SchemaToJson(*s));
  return ChatFunctionTool(d, json::object{{"type", "object"}, {"properties", json::object()}});
}

Status ConvertGeminiTools(const json::object& req, json::object* chat,
                          std::vector<std::string>* notes) {
  const json::array* tools = GetArray(req, "tools");
  if (tools == nullptr) return Status::Ok();
  json::array out;
  for (size_t i = 0; i < tools->size(); ++i) {
    if (!(*tools)[i].is_object()) return Untranslatable(Path("tools", i), "expected an object");
    for (const auto& kv : (*tools)[i].as_object()) {
      if (kv.key() != "functionDeclarations" && kv.key() != "function_declarations") {
        // Built-in tools (googleSearch, codeExecution, ...) run at Google;
        // Gemini never forces one, so they are left out of the offer.
        notes->push_back(Path("tools", i) + "." + std::string(kv.key()) +
                         " not offered to the model: a Gemini built-in tool, which a Chat "
                         "Completions upstream cannot "
                         "run");
        continue;
      }
      if (!kv.value().is_array()) continue;
      for (const json::value& d : kv.value().as_array()) {
        if (d.is_object()) out.push_back(FunctionTool(d.as_object()));
      }
    }
  }
  if (!out.empty()) (*chat)["tools"] = std::move(out);
  return Status::Ok();
}

Status ConvertToolConfig(const json::object& req, json::object* chat) {
  const json::value* tc = GetEither(req, "toolConfig", "tool_config");
  if (tc == nullptr || !tc->is_object()) return Status::Ok();
  const json::value* fcc =
      GetEither(tc->as_object(), "functionCallingConfig", "function_calling_config");
  if (fcc == nullptr || !fcc->is_object()) return Status::Ok();
  std::string_view mode = GetString(fcc->as_object(), "mode");
  const json::array* allowed = GetArray(fcc->as_object(), "allowedFunctionNames");
  if (mode == "NONE") {
    (*chat)["tool_choice"] = "none";
  } else if (mode == "ANY" && allowed != nullptr && allowed->size() == 1 &&
             (*allowed)[0].is_string()) {
    (*chat)["tool_choice"] =
        json::object{{"type", "function"}, {"function", json::object{{"name", (*allowed)[0]}}}};
  } else if (mode == "ANY" && (allowed == nullptr || allowed->empty())) {
    (*chat)["tool_choice"] = "required";
  } else if (mode == "AUTO" || mode.empty() || mode == "MODE_UNSPECIFIED") {
    if (chat->contains("tools")) (*chat)["tool_choice"] = "auto";
  } else {
    return Untranslatable(
        "toolConfig.functionCallingConfig",
        "mode " + std::string(mode) +
            " with several allowedFunctionNames has no Chat Completions equivalent");
  }
  return Status::Ok();
}

// generationConfig fields that are copied as they are, under Chat's name.
struct RenamedField {
  std::string_view gemini, gemini_snake, chat;
};
constexpr RenamedField kRenamedGenerationFields[] = {
    {"temperature", "temperature", "temperature"},
    {"topP", "top_p", "top_p"},
    {"maxOutputTokens", "max_output_tokens", "max_tokens"},
    {"stopSequences", "stop_sequences", "stop"},
    {"candidateCount", "candidate_count", "n"},
    {"seed", "seed", "seed"},
    {"presencePenalty", "presencePenalty", "presence_penalty"},
    {"frequencyPenalty", "frequencyPenalty", "frequency_penalty"},
};

// A generationConfig field without a plain Chat name.
Status ConvertGenerationField(std::string_view k, const json::value& v, json::object* chat,
                              std::vector<std::string>* notes) {
  if (k == "responseMimeType" || k == "response_mime_type") {
    if (v.is_string() && v.as_string() == "application/json" &&
        !chat->contains("response_format")) {
      (*chat)["response_format"] = json::object{{"type", "json_object"}};
    } else if (!(v.is_string() && v.as_string() == "text/plain")) {
      return Untranslatable("generationConfig.responseMimeType",
                            "only text/plain and application/json translate");
    }
  } else if (k == "responseSchema" || k == "responseJsonSchema" || k == "response_schema") {
    (*chat)["response_format"] = json::object{
        {"type", "json_schema"},
        {"json_schema", json::object{{"name", "response"},
                                     {"schema", k == "responseJsonSchema" ? v : SchemaToJson(v)}}}};
  } else if (k == "topK" || k == "top_k") {
    // Gemini CLI always sends it; a sampling knob, not a feature.
    notes->push_back(
        "generationConfig." + std::string(k) +
        " dropped: the Chat Completions API has no top_k (the upstream samples with its own)");
  } else if (k == "thinkingConfig" || k == "thinking_config") {
    notes->push_back(
        "generationConfig.thinkingConfig dropped: Chat Completions has no thinking budget");
  } else if (k == "responseModalities") {
    if (!(v.is_array() && v.as_array().size() == 1 && v.as_array()[0] == "TEXT")) {
      return Untranslatable("generationConfig.responseModalities", "only TEXT translates");
    }
  } else {
    return Untranslatable("generationConfig." + std::string(k),
                          "has no OpenAI Chat Completions equivalent");
  }
  return Status::Ok();
}

Status ConvertGenerationConfig(const json::object& req, json::object* chat,
                               std::vector<std::string>* notes) {
  const json::value* gv = GetEither(req, "generationConfig", "generation_config");
  if (gv == nullptr || !gv->is_object()) return Status::Ok();
  for (const auto& kv : gv->as_object()) {
    std::string_view k(kv.key().data(), kv.key().size());
    const auto* renamed =
        std::find_if(std::begin(kRenamedGenerationFields), std::end(kRenamedGenerationFields),
                     [&](const RenamedField& f) { return k == f.gemini || k == f.gemini_snake; });
    if (renamed != std::end(kRenamedGenerationFields)) {
      (*chat)[renamed->chat] = kv.value();
      continue;
    }
    if (Status st = ConvertGenerationField(k, kv.value(), chat, notes); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

Result<Translated> GeminiRequestToChat(std::string_view body, const RequestOptions& options) {
  ParseArena arena;
  auto parsed = ParseObject(body, "the request body", arena.storage());
  if (!parsed.ok()) return parsed.status();
  const json::object& req = *parsed;
  Translated t;
  t.model = options.path_model;
  t.stream = options.path_stream;
  json::object chat{{"model", options.upstream_model.empty() ? t.model : options.upstream_model}};
  if (Status st = CheckGeminiFields(req, &t.notes); !st.ok()) return st;
  json::array messages;
  AddSystemInstruction(req, &messages);
  if (Status st = ConvertContents(req, &messages, &t.notes); !st.ok()) return st;
  chat["messages"] = std::move(messages);
  if (Status st = ConvertGeminiTools(req, &chat, &t.notes); !st.ok()) return st;
  if (Status st = ConvertToolConfig(req, &chat); !st.ok()) return st;
  if (Status st = ConvertGenerationConfig(req, &chat, &t.notes); !st.ok()) return st;
  t.body = FinishChatRequest(chat, t.stream, options.max_tokens_cap, &t.notes);
  return t;
}

Result<Translated> ChatResponseToGemini(std::string_view body, std::string_view client_model) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  auto listed = ChatChoices(resp);
  if (!listed.ok()) return listed.status();
  const json::array* choices = *listed;
  json::array candidates;
  for (size_t i = 0; i < choices->size(); ++i) {
    if (!(*choices)[i].is_object()) continue;
    const json::object& choice = (*choices)[i].as_object();
    const json::object* message = GetObject(choice, "message");
    json::array parts;
    if (message != nullptr) {
      std::string_view reasoning = ReasoningOf(*message);
      if (!reasoning.empty()) parts.push_back(json::object{{"text", reasoning}, {"thought", true}});
      if (std::string_view text = GetString(*message, "content"); !text.empty())
        parts.push_back(json::object{{"text", text}});
      if (const json::array* calls = GetArray(*message, "tool_calls")) {
        for (size_t j = 0; j < calls->size(); ++j) {
          if (!(*calls)[j].is_object()) continue;
          const json::object* fn = GetObject((*calls)[j].as_object(), "function");
          if (fn == nullptr) continue;
          auto args =
              ParseArguments(GetString(*fn, "arguments"), Path("choices[0].message.tool_calls", j));
          if (!args.ok()) return args.status();
          parts.push_back(
              json::object{{"functionCall", json::object{{"name", GetString(*fn, "name")},
                                                         {"args", std::move(*args)}}}});
        }
      }
    }
    std::string_view finish = GetString(choice, "finish_reason");
    std::string_view reason = ChatFinishToGemini(finish);
    candidates.push_back(
        json::object{{"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}},
                     {"finishReason", reason},
                     {"index", static_cast<int64_t>(i)}});
  }
  ChatUsage u = ReadChatUsage(resp);
  json::object meta = GeminiUsageMetadata(u);
  std::string_view model = GetString(resp, "model");
  json::object out{{"candidates", std::move(candidates)},
                   {"usageMetadata", std::move(meta)},
                   {"modelVersion", model.empty() ? client_model : model}};
  if (IsString(resp, "id")) out["responseId"] = GetString(resp, "id");
  Translated t;
  t.body = Dump(out);
  return t;
}

}  // namespace glassbox::gate::translate::internal
