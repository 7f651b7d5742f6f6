// Streamed Chat Completions responses -> Anthropic Messages, OpenAI
// Responses and Gemini streams. One translator per stream: the upstream's
// SSE is framed by net::SseParser (so the result does not depend on how
// the bytes were split), each chunk is parsed once and turned into the
// client's events.
//
// Chat streams tool calls by index; a call's arguments arrive after its id
// and name. Servers send calls one after another; arguments for a call
// whose block was already closed (interleaved calls) cannot be placed in a
// block-ordered format, so the stream is failed with an error event naming
// the reason, never reordered silently.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gate/translate/json_util.h"
#include "gate/translate/translate.h"
#include "net/sse.h"

namespace glassbox::gate::translate {
namespace {

using namespace internal;  // NOLINT: this library's own helpers

// Frames the upstream's SSE and hands each chunk to the format's handler.
class ChatStreamBase : public StreamTranslator {
 public:
  std::string Feed(std::string_view bytes) override {
    std::string out;
    if (!status_.ok() || ended_) return out;
    blocks_.clear();
    Status st = parser_.Feed(bytes, &blocks_);
    for (const net::SseBlock& b : blocks_) Handle(b, &out);
    if (!st.ok() && status_.ok()) status_ = Status::Error("the upstream's stream: " + st.message());
    return out;
  }

  std::string Finish() override {
    std::string out;
    if (status_.ok() && !ended_) {
      blocks_.clear();
      (void)parser_.Finish(&blocks_);
      for (const net::SseBlock& b : blocks_) {
        if (b.complete) Handle(b, &out);
      }
      // A stream that ended after its finish_reason (some servers send no
      // [DONE]) is complete; one that broke off before it is not.
      if (!ended_ && finish_seen_) End(&out);
    }
    return out;
  }

  const Status& status() const override { return status_; }
  const std::vector<std::string>& notes() const override { return notes_; }

 protected:
  // One parsed chunk of the upstream's stream.
  virtual void OnChunk(const json::object& chunk, std::string* out) = 0;
  // The upstream's answer is over: emit the closing events.
  virtual void OnEnd(std::string* out) = 0;
  // An error object inside the stream.
  virtual void OnError(std::string_view message, std::string* out) = 0;

  void End(std::string* out) {
    if (ended_) return;
    ended_ = true;
    OnEnd(out);
  }
  void Fail(std::string_view message, std::string* out) {
    if (ended_) return;
    ended_ = true;
    OnError(message, out);
  }

  bool finish_seen_ = false;
  std::string finish_;         // the first non-null finish_reason
  json::value stop_sequence_;  // vLLM's choices[].stop_reason string
  ChatUsage usage_;
  std::string id_, model_;
  std::vector<std::string> notes_;
  Status status_;

 private:
  void Handle(const net::SseBlock& b, std::string* out) {
    if (!b.dispatch || ended_) return;
    std::string_view data = b.data;
    while (!data.empty() && (data.back() == ' ' || data.back() == '\n')) data.remove_suffix(1);
    if (data == "[DONE]") return End(out);
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec || !v.is_object()) {
      status_ = Status::Error("the upstream sent a stream event that is not a JSON object");
      return Fail("the upstream sent a stream event that is not a JSON object", out);
    }
    const json::object& chunk = v.as_object();
    if (const json::value* err = Get(chunk, "error")) {
      std::string message =
          err->is_object() ? std::string(GetString(err->as_object(), "message")) : Dump(*err);
      return Fail(message.empty() ? Dump(*err) : message, out);
    }
    if (id_.empty() && IsString(chunk, "id")) id_ = std::string(GetString(chunk, "id"));
    if (model_.empty() && IsString(chunk, "model")) model_ = std::string(GetString(chunk, "model"));
    ChatUsage u = ReadChatUsage(chunk);
    if (u.present) usage_ = u;
    if (const json::array* choices = GetArray(chunk, "choices");
        choices != nullptr && !choices->empty()) {
      if ((*choices)[0].is_object()) {
        const json::object& c = (*choices)[0].as_object();
        if (IsString(c, "finish_reason") && !finish_seen_) {
          finish_seen_ = true;
          finish_ = std::string(GetString(c, "finish_reason"));
          if (IsString(c, "stop_reason")) stop_sequence_ = *Get(c, "stop_reason");
        }
      }
    }
    OnChunk(chunk, out);
  }

  net::SseParser parser_;
  std::vector<net::SseBlock> blocks_;
  bool ended_ = false;
};

// The delta of the first choice, or nullptr.
const json::object* DeltaOf(const json::object& chunk) {
  const json::array* choices = GetArray(chunk, "choices");
  if (choices == nullptr || choices->empty() || !(*choices)[0].is_object()) return nullptr;
  return GetObject((*choices)[0].as_object(), "delta");
}

std::string_view ReasoningDelta(const json::object& delta) { return ReasoningOf(delta); }

// A streamed tool call's index (0 when absent): the key that joins its
// pieces. An error when it is a number but not an integer.
Result<int64_t> ToolCallIndex(const json::object& call) {
  const json::value* iv = Get(call, "index");
  if (iv == nullptr || !iv->is_number()) return int64_t{0};
  std::optional<int64_t> n = ExactInt(*iv);
  if (!n) return Status::Error("the upstream sent a tool call whose index is not an integer");
  return *n;
}

// ---------------------------------------------------------------------------
// Chat -> Anthropic Messages.
class ToMessages : public ChatStreamBase {
 public:
  explicit ToMessages(StreamOptions options) : options_(std::move(options)) {}

 private:
  enum class Kind { kNone, kText, kThinking, kTool };

  void Start(std::string* out) {
    if (started_) return;
    started_ = true;
    json::object message{{"id", WithPrefix(id_, "msg_")},
                         {"type", "message"},
                         {"role", "assistant"},
                         {"model", model_.empty() ? options_.client_model : model_},
                         {"content", json::array()},
                         {"stop_reason", nullptr},
                         {"stop_sequence", nullptr},
                         {"usage", json::object{{"input_tokens", 0}, {"output_tokens", 0}}}};
    AppendSse(out, "message_start",
              json::object{{"type", "message_start"}, {"message", std::move(message)}});
  }
  void CloseBlock(std::string* out) {
    if (kind_ == Kind::kNone) return;
    AppendSse(out, "content_block_stop",
              json::object{{"type", "content_block_stop"}, {"index", index_}});
    kind_ = Kind::kNone;
    ++index_;
  }
  void OpenBlock(Kind kind, json::object block, std::string* out) {
    CloseBlock(out);
    kind_ = kind;
    AppendSse(out, "content_block_start",
              json::object{{"type", "content_block_start"},
                           {"index", index_},
                           {"content_block", std::move(block)}});
  }
  void Delta(json::object delta, std::string* out) {
    AppendSse(out, "content_block_delta",
              json::object{
                  {"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(delta)}});
  }

  void OnChunk(const json::object& chunk, std::string* out) override {
    Start(out);
    const json::object* delta = DeltaOf(chunk);
    if (delta == nullptr) return;
    if (std::string_view r = ReasoningDelta(*delta); !r.empty()) {
      if (kind_ != Kind::kThinking) {
        OpenBlock(Kind::kThinking,
                  json::object{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}, out);
      }
      Delta(json::object{{"type", "thinking_delta"}, {"thinking", r}}, out);
    }
    std::string_view text = GetString(*delta, "content");
    if (text.empty()) text = GetString(*delta, "refusal");
    if (!text.empty()) {
      if (kind_ != Kind::kText)
        OpenBlock(Kind::kText, json::object{{"type", "text"}, {"text", ""}}, out);
      Delta(json::object{{"type", "text_delta"}, {"text", text}}, out);
    }
    const json::array* calls = GetArray(*delta, "tool_calls");
    if (calls == nullptr) return;
    for (const json::value& cv : *calls) {
      if (!cv.is_object()) continue;
      const json::object& call = cv.as_object();
      Result<int64_t> index = ToolCallIndex(call);
      if (!index.ok()) {
        status_ = index.status();
        return Fail(status_.message(), out);
      }
      const int64_t chat_index = *index;
      const json::object* fn = GetObject(call, "function");
      auto known = tools_.find(chat_index);
      if (known == tools_.end()) {
        tools_[chat_index] = index_ + (kind_ == Kind::kNone ? 0 : 1);
        json::object block{
            {"type", "tool_use"},
            {"id", ToolCallId(GetString(call, "id"), id_, static_cast<size_t>(chat_index))},
            {"name", fn != nullptr ? GetString(*fn, "name") : ""},
            {"input", json::object()}};
        OpenBlock(Kind::kTool, std::move(block), out);
        open_tool_ = chat_index;
      } else if (kind_ != Kind::kTool || open_tool_ != chat_index) {
        std::string_view args = fn != nullptr ? GetString(*fn, "arguments") : std::string_view();
        if (args.empty()) continue;
        status_ = Status::Error("the upstream interleaved the arguments of parallel tool calls");
        return Fail(
            "the upstream interleaved the arguments of parallel tool calls; the gate cannot place "
            "them in "
            "Anthropic's block order",
            out);
      }
      if (fn != nullptr) {
        if (std::string_view args = GetString(*fn, "arguments"); !args.empty()) {
          Delta(json::object{{"type", "input_json_delta"}, {"partial_json", args}}, out);
        }
      }
    }
  }

  void OnEnd(std::string* out) override {
    Start(out);
    CloseBlock(out);
    std::string stop_reason(ChatFinishToAnthropic(finish_));
    json::value stop_sequence = nullptr;
    if (finish_ == "stop" && stop_sequence_.is_string()) {
      stop_reason = "stop_sequence";
      stop_sequence = stop_sequence_;
    }
    AppendSse(out, "message_delta",
              json::object{{"type", "message_delta"},
                           {"delta", json::object{{"stop_reason", stop_reason},
                                                  {"stop_sequence", stop_sequence}}},
                           {"usage", AnthropicUsage(usage_)}});
    AppendSse(out, "message_stop", json::object{{"type", "message_stop"}});
  }

  void OnError(std::string_view message, std::string* out) override {
    AppendSse(out, "error",
              json::object{{"type", "error"},
                           {"error", json::object{{"type", "api_error"}, {"message", message}}}});
  }

  StreamOptions options_;
  bool started_ = false;
  Kind kind_ = Kind::kNone;
  int64_t index_ = 0;                 // the open block's index, or the next one's
  int64_t open_tool_ = -1;            // chat index of the open tool block
  std::map<int64_t, int64_t> tools_;  // chat tool index -> block index
};

// ---------------------------------------------------------------------------
// Chat -> OpenAI Responses.
class ToResponses : public ChatStreamBase {
 public:
  explicit ToResponses(StreamOptions options) : options_(std::move(options)) {}

 private:
  struct Item {
    std::string type;  // "message", "reasoning", "function_call"
    std::string id, call_id, name, text;
    bool done = false;
  };

  void Emit(std::string_view type, json::object data, std::string* out) {
    json::object ev{{"type", type}, {"sequence_number", seq_++}};
    for (auto& kv : data) ev[kv.key()] = std::move(kv.value());
    AppendSse(out, type, ev);
  }
  std::string ResponseId() const { return WithPrefix(id_, "resp_"); }
  json::object ItemJson(const Item& item, bool done) const {
    const char* status = done ? "completed" : "in_progress";
    if (item.type == "message") {
      json::array content;
      if (done)
        content.push_back(json::object{
            {"type", "output_text"}, {"text", item.text}, {"annotations", json::array()}});
      return json::object{{"id", item.id},
                          {"type", "message"},
                          {"status", status},
                          {"role", "assistant"},
                          {"content", std::move(content)}};
    }
    if (item.type == "reasoning") {
      json::array content;
      if (done) content.push_back(json::object{{"type", "reasoning_text"}, {"text", item.text}});
      return json::object{{"id", item.id},
                          {"type", "reasoning"},
                          {"summary", json::array()},
                          {"content", std::move(content)}};
    }
    return json::object{{"id", item.id},     {"type", "function_call"},
                        {"status", status},  {"call_id", item.call_id},
                        {"name", item.name}, {"arguments", done ? item.text : std::string()}};
  }
  json::object ResponseJson(std::string_view status) const {
    json::object r{{"id", ResponseId()},
                   {"object", "response"},
                   {"created_at", 0},
                   {"status", status},
                   {"model", model_.empty() ? options_.client_model : model_}};
    json::array output;
    for (const Item& item : items_) output.push_back(ItemJson(item, true));
    r["output"] = status == "in_progress" ? json::array() : std::move(output);
    return r;
  }
  void Start(std::string* out) {
    if (started_) return;
    started_ = true;
    Emit("response.created", json::object{{"response", ResponseJson("in_progress")}}, out);
    Emit("response.in_progress", json::object{{"response", ResponseJson("in_progress")}}, out);
  }
  void CloseItem(std::string* out) {
    if (items_.empty() || items_.back().done) return;
    Item& item = items_.back();
    const int64_t oi = static_cast<int64_t>(items_.size()) - 1;
    if (item.type == "message") {
      Emit("response.output_text.done",
           json::object{{"item_id", item.id},
                        {"output_index", oi},
                        {"content_index", 0},
                        {"text", item.text}},
           out);
      Emit("response.content_part.done",
           json::object{{"item_id", item.id},
                        {"output_index", oi},
                        {"content_index", 0},
                        {"part", json::object{{"type", "output_text"},
                                              {"text", item.text},
                                              {"annotations", json::array()}}}},
           out);
    } else if (item.type == "reasoning") {
      Emit("response.reasoning_text.done",
           json::object{{"item_id", item.id},
                        {"output_index", oi},
                        {"content_index", 0},
                        {"text", item.text}},
           out);
    } else {
      Emit("response.function_call_arguments.done",
           json::object{{"item_id", item.id}, {"output_index", oi}, {"arguments", item.text}}, out);
    }
    item.done = true;
    Emit("response.output_item.done",
         json::object{{"output_index", oi}, {"item", ItemJson(item, true)}}, out);
  }
  Item& OpenItem(Item item, std::string* out) {
    CloseItem(out);
    items_.push_back(std::move(item));
    const int64_t oi = static_cast<int64_t>(items_.size()) - 1;
    Emit("response.output_item.added",
         json::object{{"output_index", oi}, {"item", ItemJson(items_.back(), false)}}, out);
    if (items_.back().type == "message") {
      Emit("response.content_part.added",
           json::object{{"item_id", items_.back().id},
                        {"output_index", oi},
                        {"content_index", 0},
                        {"part", json::object{{"type", "output_text"},
                                              {"text", ""},
                                              {"annotations", json::array()}}}},
           out);
    }
    return items_.back();
  }
  bool Open(std::string_view type) const {
    return !items_.empty() && !items_.back().done && items_.back().type == type;
  }
  std::string NewId(std::string_view prefix) const {
    return std::string(prefix) + (id_.empty() ? std::string("gate") : id_) + "_" +
           std::to_string(items_.size());
  }

  void OnChunk(const json::object& chunk, std::string* out) override {
    Start(out);
    const json::object* delta = DeltaOf(chunk);
    if (delta == nullptr) return;
    const int64_t oi_next = static_cast<int64_t>(items_.size());
    if (std::string_view r = ReasoningDelta(*delta); !r.empty()) {
      if (!Open("reasoning")) OpenItem(Item{"reasoning", NewId("rs_"), "", "", "", false}, out);
      items_.back().text += std::string(r);
      Emit("response.reasoning_text.delta",
           json::object{{"item_id", items_.back().id},
                        {"output_index", static_cast<int64_t>(items_.size()) - 1},
                        {"content_index", 0},
                        {"delta", r}},
           out);
    }
    (void)oi_next;
    std::string_view text = GetString(*delta, "content");
    if (text.empty()) text = GetString(*delta, "refusal");
    if (!text.empty()) {
      if (!Open("message")) OpenItem(Item{"message", NewId("msg_"), "", "", "", false}, out);
      items_.back().text += std::string(text);
      Emit("response.output_text.delta",
           json::object{{"item_id", items_.back().id},
                        {"output_index", static_cast<int64_t>(items_.size()) - 1},
                        {"content_index", 0},
                        {"delta", text}},
           out);
    }
    const json::array* calls = GetArray(*delta, "tool_calls");
    if (calls == nullptr) return;
    for (const json::value& cv : *calls) {
      if (!cv.is_object()) continue;
      const json::object& call = cv.as_object();
      Result<int64_t> index = ToolCallIndex(call);
      if (!index.ok()) {
        status_ = index.status();
        return Fail(status_.message(), out);
      }
      const int64_t chat_index = *index;
      const json::object* fn = GetObject(call, "function");
      std::string_view args = fn != nullptr ? GetString(*fn, "arguments") : std::string_view();
      if (!tools_.contains(chat_index)) {
        tools_[chat_index] = static_cast<int64_t>(items_.size());
        OpenItem(Item{"function_call", NewId("fc_"), std::string(GetString(call, "id")),
                      std::string(fn != nullptr ? GetString(*fn, "name") : ""), "", false},
                 out);
      } else if (tools_[chat_index] != static_cast<int64_t>(items_.size()) - 1 ||
                 items_.back().done) {
        if (args.empty()) continue;
        status_ = Status::Error("the upstream interleaved the arguments of parallel tool calls");
        return Fail("the upstream interleaved the arguments of parallel tool calls", out);
      }
      if (!args.empty()) {
        items_.back().text += std::string(args);
        Emit("response.function_call_arguments.delta",
             json::object{{"item_id", items_.back().id},
                          {"output_index", static_cast<int64_t>(items_.size()) - 1},
                          {"delta", args}},
             out);
      }
    }
  }

  void OnEnd(std::string* out) override {
    Start(out);
    CloseItem(out);
    const bool incomplete = finish_ == "length";
    json::object r = ResponseJson(incomplete ? "incomplete" : "completed");
    if (incomplete) r["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
    r["usage"] = ResponsesUsage(usage_);
    Emit(incomplete ? "response.incomplete" : "response.completed",
         json::object{{"response", std::move(r)}}, out);
  }

  void OnError(std::string_view message, std::string* out) override {
    Start(out);
    json::object r = ResponseJson("failed");
    r["error"] = json::object{{"code", "server_error"}, {"message", message}};
    Emit("response.failed", json::object{{"response", std::move(r)}}, out);
  }

  StreamOptions options_;
  bool started_ = false;
  int64_t seq_ = 0;
  std::vector<Item> items_;
  std::map<int64_t, int64_t> tools_;  // chat tool index -> item index
};

// ---------------------------------------------------------------------------
// Chat -> Gemini streamGenerateContent. Gemini sends each function call
// whole, so tool calls are collected and sent with the last chunk.
class ToGemini : public ChatStreamBase {
 public:
  explicit ToGemini(StreamOptions options) : options_(std::move(options)) {}

 private:
  struct Call {
    std::string name, args;
  };

  void EmitChunk(json::object chunk, std::string* out, bool error = false) {
    if (!error) {
      chunk["modelVersion"] = model_.empty() ? options_.client_model : model_;
      if (!id_.empty()) chunk["responseId"] = id_;
    }
    if (options_.gemini_json_array) {
      out->append(first_ ? "[" : ",\r\n");
      out->append(Dump(chunk));
    } else {
      AppendSse(out, {}, chunk);
    }
    first_ = false;
  }
  static json::object Candidate(json::array parts) {
    return json::object{
        {"candidates",
         json::array{
             json::object{{"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}},
                          {"index", 0}}}}};
  }

  void OnChunk(const json::object& chunk, std::string* out) override {
    const json::object* delta = DeltaOf(chunk);
    if (delta == nullptr) return;
    json::array parts;
    if (std::string_view r = ReasoningDelta(*delta); !r.empty()) {
      parts.push_back(json::object{{"text", r}, {"thought", true}});
    }
    if (std::string_view text = GetString(*delta, "content"); !text.empty())
      parts.push_back(json::object{{"text", text}});
    if (const json::array* calls = GetArray(*delta, "tool_calls")) {
      for (const json::value& cv : *calls) {
        if (!cv.is_object()) continue;
        const json::value* iv = Get(cv.as_object(), "index");
        int64_t idx = 0;
        if (iv != nullptr && iv->is_number()) {
          std::optional<int64_t> n = ExactInt(*iv);
          if (!n) {
            status_ = Status::Error("the upstream sent a tool call whose index is not an integer");
            return Fail(status_.message(), out);
          }
          idx = *n;
        }
        Call& call = calls_[idx];
        if (const json::object* fn = GetObject(cv.as_object(), "function")) {
          if (IsString(*fn, "name")) call.name += std::string(GetString(*fn, "name"));
          call.args += std::string(GetString(*fn, "arguments"));
        }
      }
    }
    if (!parts.empty()) EmitChunk(Candidate(std::move(parts)), out);
  }

  void OnEnd(std::string* out) override {
    json::array parts;
    for (const auto& [idx, call] : calls_) {
      auto args = ParseArguments(call.args, "tool call " + std::to_string(idx));
      if (!args.ok()) {
        status_ = args.status();
        return OnError(args.status().message(), out);
      }
      parts.push_back(json::object{
          {"functionCall", json::object{{"name", call.name}, {"args", std::move(*args)}}}});
    }
    if (parts.empty()) parts.push_back(json::object{{"text", ""}});
    json::object last = Candidate(std::move(parts));
    last["candidates"].as_array()[0].as_object()["finishReason"] = ChatFinishToGemini(finish_);
    last["usageMetadata"] = GeminiUsageMetadata(usage_);
    EmitChunk(std::move(last), out);
    if (options_.gemini_json_array) out->append("]");
  }

  void OnError(std::string_view message, std::string* out) override {
    EmitChunk(
        json::object{
            {"error", json::object{{"code", 500}, {"message", message}, {"status", "INTERNAL"}}}},
        out, true);
    if (options_.gemini_json_array) out->append("]");
  }

  StreamOptions options_;
  bool first_ = true;
  std::map<int64_t, Call> calls_;
};

}  // namespace

std::unique_ptr<StreamTranslator> NewChatStreamTranslator(Api to, StreamOptions options) {
  switch (to) {
    case Api::kAnthropicMessages:
      return std::make_unique<ToMessages>(std::move(options));
    case Api::kOpenAiResponses:
      return std::make_unique<ToResponses>(std::move(options));
    case Api::kGemini:
      return std::make_unique<ToGemini>(std::move(options));
    case Api::kOpenAiChat:
      break;
  }
  return nullptr;
}

}  // namespace glassbox::gate::translate
