// Gemini generateContent -> Chat Completions: requests and complete
// responses. Streams are in stream.cc. Gemini names calls by function name
// (ids are optional): calls without an id get "call_<turn>_<part>", and a
// functionResponse without an id answers the oldest open call of its name.
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

const json::value* GetEither(const json::object& o, std::string_view camel, std::string_view snake) {
  const json::value* v = Get(o, camel);
  return v != nullptr ? v : Get(o, snake);
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
  for (const auto& [key, value] : req) {
    std::string_view k(key.data(), key.size());
    if (k == "contents" || k == "systemInstruction" || k == "system_instruction" || k == "tools" ||
        k == "toolConfig" || k == "tool_config" || k == "generationConfig" || k == "generation_config" ||
        k == "model") {
      continue;
    }
    if (k == "safetySettings" || k == "safety_settings" || k == "labels") {
      t.notes.push_back(std::string(k) + " dropped: no Chat Completions equivalent");
      continue;
    }
    return Untranslatable(k, "has no OpenAI Chat Completions equivalent (the upstream cannot do it)");
  }
  json::array messages;
  if (const json::value* si = GetEither(req, "systemInstruction", "system_instruction"); si != nullptr && si->is_object()) {
    std::string text;
    if (const json::array* parts = GetArray(si->as_object(), "parts")) {
      for (const json::value& p : *parts) {
        if (!p.is_object()) continue;
        if (!text.empty()) text += "\n";
        text += std::string(GetString(p.as_object(), "text"));
      }
    }
    messages.push_back(json::object{{"role", "system"}, {"content", text}});
  }
  const json::array* contents = GetArray(req, "contents");
  if (contents == nullptr) return Untranslatable("contents", "missing or not an array");
  std::map<std::string, std::deque<std::string>> open_calls;  // name -> ids, oldest first
  for (size_t i = 0; i < contents->size(); ++i) {
    std::string at = Path("contents", i);
    if (!(*contents)[i].is_object()) return Untranslatable(at, "expected an object");
    const json::object& c = (*contents)[i].as_object();
    std::string_view role = GetString(c, "role");
    const json::array* parts = GetArray(c, "parts");
    if (parts == nullptr) return Untranslatable(at + ".parts", "missing");
    json::array chat_parts, calls;
    std::string assistant_text;
    for (size_t j = 0; j < parts->size(); ++j) {
      std::string pat = Path(at + ".parts", j);
      if (!(*parts)[j].is_object()) return Untranslatable(pat, "expected an object");
      const json::object& p = (*parts)[j].as_object();
      const json::value* thought = Get(p, "thought");
      if (thought != nullptr && thought->is_bool() && thought->as_bool()) {
        t.notes.push_back(pat + ": a thought of an earlier turn dropped: Chat Completions requests carry no reasoning");
        continue;
      }
      if (IsString(p, "text")) {
        if (role == "model") {
          assistant_text += std::string(GetString(p, "text"));
        } else {
          chat_parts.push_back(json::object{{"type", "text"}, {"text", GetString(p, "text")}});
        }
      } else if (const json::value* inline_data = GetEither(p, "inlineData", "inline_data")) {
        const json::object& d = inline_data->as_object();
        std::string_view mime = GetString(d, "mimeType");
        if (mime.empty()) mime = GetString(d, "mime_type");
        if (!mime.starts_with("image/")) return Untranslatable(pat, "inline " + std::string(mime) + " data has no Chat Completions equivalent (images only)");
        chat_parts.push_back(json::object{{"type", "image_url"},
                                          {"image_url", json::object{{"url", "data:" + std::string(mime) + ";base64," + std::string(GetString(d, "data"))}}}});
      } else if (const json::value* file = GetEither(p, "fileData", "file_data")) {
        std::string_view uri = GetString(file->as_object(), "fileUri");
        if (uri.empty()) uri = GetString(file->as_object(), "file_uri");
        chat_parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", uri}}}});
      } else if (const json::value* fc = GetEither(p, "functionCall", "function_call"); fc != nullptr && fc->is_object()) {
        std::string name(GetString(fc->as_object(), "name"));
        std::string id(GetString(fc->as_object(), "id"));
        if (id.empty()) id = "call_" + std::to_string(i) + "_" + std::to_string(j);
        open_calls[name].push_back(id);
        const json::value* args = Get(fc->as_object(), "args");
        calls.push_back(json::object{{"id", id}, {"type", "function"},
                                     {"function", json::object{{"name", name}, {"arguments", args != nullptr ? Dump(*args) : std::string("{}")}}}});
      } else if (const json::value* fr = GetEither(p, "functionResponse", "function_response"); fr != nullptr && fr->is_object()) {
        std::string name(GetString(fr->as_object(), "name"));
        std::string id(GetString(fr->as_object(), "id"));
        auto& queue = open_calls[name];
        if (id.empty()) {
          if (queue.empty()) return Untranslatable(pat, "a functionResponse for '" + name + "' answers no earlier functionCall");
          id = queue.front();
        }
        for (auto it = queue.begin(); it != queue.end(); ++it) {
          if (*it == id) {
            queue.erase(it);
            break;
          }
        }
        const json::value* response = Get(fr->as_object(), "response");
        messages.push_back(json::object{{"role", "tool"}, {"tool_call_id", id},
                                        {"content", response != nullptr ? Dump(*response) : std::string("{}")}});
      } else {
        return Untranslatable(pat, "this part has no Chat Completions equivalent");
      }
    }
    if (role == "model") {
      if (assistant_text.empty() && calls.empty()) continue;
      json::object m{{"role", "assistant"}, {"content", assistant_text.empty() ? json::value() : json::value(assistant_text)}};
      if (!calls.empty()) m["tool_calls"] = std::move(calls);
      messages.push_back(std::move(m));
    } else if (role == "user" || role.empty()) {
      if (chat_parts.empty()) continue;
      if (chat_parts.size() == 1 && chat_parts[0].as_object().at("type") == "text") {
        messages.push_back(json::object{{"role", "user"}, {"content", chat_parts[0].as_object().at("text")}});
      } else {
        messages.push_back(json::object{{"role", "user"}, {"content", std::move(chat_parts)}});
      }
    } else {
      return Untranslatable(at + ".role", "expected \"user\" or \"model\"");
    }
  }
  chat["messages"] = std::move(messages);
  if (const json::array* tools = GetArray(req, "tools")) {
    json::array out;
    for (size_t i = 0; i < tools->size(); ++i) {
      if (!(*tools)[i].is_object()) return Untranslatable(Path("tools", i), "expected an object");
      for (const auto& kv : (*tools)[i].as_object()) {
        if (kv.key() != "functionDeclarations" && kv.key() != "function_declarations") {
          // Built-in tools (googleSearch, codeExecution, ...) run at Google;
          // Gemini never forces one, so they are left out of the offer.
          t.notes.push_back(Path("tools", i) + "." + std::string(kv.key()) +
                            " not offered to the model: a Gemini built-in tool, which a Chat Completions upstream cannot run");
          continue;
        }
        if (!kv.value().is_array()) continue;
        for (const json::value& d : kv.value().as_array()) {
          if (!d.is_object()) continue;
          json::object fn{{"name", GetString(d.as_object(), "name")}};
          if (IsString(d.as_object(), "description")) fn["description"] = GetString(d.as_object(), "description");
          if (const json::value* s = Get(d.as_object(), "parametersJsonSchema")) {
            fn["parameters"] = *s;
          } else if (const json::value* s2 = Get(d.as_object(), "parameters")) {
            fn["parameters"] = SchemaToJson(*s2);
          } else {
            fn["parameters"] = json::object{{"type", "object"}, {"properties", json::object()}};
          }
          out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
        }
      }
    }
    if (!out.empty()) chat["tools"] = std::move(out);
  }
  if (const json::value* tc = GetEither(req, "toolConfig", "tool_config"); tc != nullptr && tc->is_object()) {
    if (const json::value* fcc = GetEither(tc->as_object(), "functionCallingConfig", "function_calling_config");
        fcc != nullptr && fcc->is_object()) {
      std::string_view mode = GetString(fcc->as_object(), "mode");
      const json::array* allowed = GetArray(fcc->as_object(), "allowedFunctionNames");
      if (mode == "NONE") {
        chat["tool_choice"] = "none";
      } else if (mode == "ANY" && allowed != nullptr && allowed->size() == 1 && (*allowed)[0].is_string()) {
        chat["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", (*allowed)[0]}}}};
      } else if (mode == "ANY" && (allowed == nullptr || allowed->empty())) {
        chat["tool_choice"] = "required";
      } else if (mode == "AUTO" || mode.empty() || mode == "MODE_UNSPECIFIED") {
        if (chat.contains("tools")) chat["tool_choice"] = "auto";
      } else {
        return Untranslatable("toolConfig.functionCallingConfig", "mode " + std::string(mode) +
                                                                      " with several allowedFunctionNames has no Chat Completions equivalent");
      }
    }
  }
  if (const json::value* gv = GetEither(req, "generationConfig", "generation_config"); gv != nullptr && gv->is_object()) {
    const json::object& g = gv->as_object();
    for (const auto& kv : g) {
      std::string_view k(kv.key().data(), kv.key().size());
      const json::value& v = kv.value();
      if (k == "temperature") chat["temperature"] = v;
      else if (k == "topP" || k == "top_p") chat["top_p"] = v;
      else if (k == "maxOutputTokens" || k == "max_output_tokens") chat["max_tokens"] = v;
      else if (k == "stopSequences" || k == "stop_sequences") chat["stop"] = v;
      else if (k == "candidateCount" || k == "candidate_count") chat["n"] = v;
      else if (k == "seed") chat["seed"] = v;
      else if (k == "presencePenalty") chat["presence_penalty"] = v;
      else if (k == "frequencyPenalty") chat["frequency_penalty"] = v;
      else if (k == "responseMimeType" || k == "response_mime_type") {
        if (v.is_string() && v.as_string() == "application/json" && !chat.contains("response_format")) {
          chat["response_format"] = json::object{{"type", "json_object"}};
        } else if (!(v.is_string() && v.as_string() == "text/plain")) {
          return Untranslatable("generationConfig.responseMimeType", "only text/plain and application/json translate");
        }
      } else if (k == "responseSchema" || k == "responseJsonSchema" || k == "response_schema") {
        chat["response_format"] = json::object{
            {"type", "json_schema"},
            {"json_schema", json::object{{"name", "response"}, {"schema", k == "responseJsonSchema" ? v : SchemaToJson(v)}}}};
      } else if (k == "topK" || k == "top_k") {
        // Gemini CLI always sends it; a sampling knob, not a feature.
        t.notes.push_back("generationConfig." + std::string(k) +
                          " dropped: the Chat Completions API has no top_k (the upstream samples with its own)");
      } else if (k == "thinkingConfig" || k == "thinking_config") {
        t.notes.push_back("generationConfig.thinkingConfig dropped: Chat Completions has no thinking budget");
      } else if (k == "responseModalities") {
        if (!(v.is_array() && v.as_array().size() == 1 && v.as_array()[0] == "TEXT")) {
          return Untranslatable("generationConfig.responseModalities", "only TEXT translates");
        }
      } else {
        return Untranslatable("generationConfig." + std::string(k), "has no OpenAI Chat Completions equivalent");
      }
    }
  }
  CapMaxTokens(&chat, options.max_tokens_cap, &t.notes);
  if (t.stream) {
    chat["stream"] = true;
    chat["stream_options"] = json::object{{"include_usage", true}};
  }
  t.body = Dump(chat);
  return t;
}

Result<Translated> ChatResponseToGemini(std::string_view body, std::string_view client_model) {
  auto parsed = ParseObject(body, "the upstream's response");
  if (!parsed.ok()) return parsed.status();
  const json::object& resp = *parsed;
  const json::array* choices = GetArray(resp, "choices");
  if (choices == nullptr || choices->empty() || !(*choices)[0].is_object()) {
    return Status::Error("the upstream's response has no choices");
  }
  json::array candidates;
  for (size_t i = 0; i < choices->size(); ++i) {
    if (!(*choices)[i].is_object()) continue;
    const json::object& choice = (*choices)[i].as_object();
    const json::object* message = GetObject(choice, "message");
    json::array parts;
    if (message != nullptr) {
      std::string_view reasoning = GetString(*message, "reasoning_content");
      if (reasoning.empty()) reasoning = GetString(*message, "reasoning");
      if (!reasoning.empty()) parts.push_back(json::object{{"text", reasoning}, {"thought", true}});
      if (std::string_view text = GetString(*message, "content"); !text.empty()) parts.push_back(json::object{{"text", text}});
      if (const json::array* calls = GetArray(*message, "tool_calls")) {
        for (size_t j = 0; j < calls->size(); ++j) {
          if (!(*calls)[j].is_object()) continue;
          const json::object* fn = GetObject((*calls)[j].as_object(), "function");
          if (fn == nullptr) continue;
          auto args = ParseArguments(GetString(*fn, "arguments"), Path("choices[0].message.tool_calls", j));
          if (!args.ok()) return args.status();
          parts.push_back(json::object{{"functionCall", json::object{{"name", GetString(*fn, "name")}, {"args", std::move(*args)}}}});
        }
      }
    }
    std::string_view finish = GetString(choice, "finish_reason");
    std::string_view reason = finish == "length" ? "MAX_TOKENS" : finish == "content_filter" ? "SAFETY" : "STOP";
    candidates.push_back(json::object{{"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}},
                                      {"finishReason", reason},
                                      {"index", static_cast<int64_t>(i)}});
  }
  ChatUsage u = ReadChatUsage(resp);
  json::object meta{{"promptTokenCount", u.prompt}, {"candidatesTokenCount", u.completion}, {"totalTokenCount", u.prompt + u.completion}};
  if (u.cached > 0) meta["cachedContentTokenCount"] = u.cached;
  if (u.reasoning > 0) meta["thoughtsTokenCount"] = u.reasoning;
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
