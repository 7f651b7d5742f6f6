// Golden tests for gate/translate (data files in testdata/, one directory
// per mapping: NAME.in.* is the input, NAME.out.* the expected output, or
// NAME.error.txt a substring of the expected refusal), the byte-split test
// for every stream, and the Messages -> Chat -> Messages property test.
//
// GLASSBOX_UPDATE_GOLDENS=1 writes missing .out files from the current
// output (review them before committing).
#include "gate/translate/translate.h"
#include "gate/translate/json_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

namespace glassbox::gate::translate {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kData = fs::path(GLASSBOX_SOURCE_DIR) / "src/gate/translate/testdata";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Updating() { return std::getenv("GLASSBOX_UPDATE_GOLDENS") != nullptr; }

// Runs `fn` over every NAME.in.EXT of `dir`, comparing with NAME.out.EXT
// (as JSON when ext is json, byte for byte otherwise) or NAME.error.txt.
void RunGoldens(const std::string& dir, const std::string& ext,
                const std::function<Result<std::string>(const std::string& name,
                                                        const std::string& input)>& fn) {
  size_t cases = 0;
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(kData / dir)) {
    if (e.path().filename().string().ends_with(".in." + ext)) inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& in : inputs) {
    std::string file = in.filename().string();
    std::string name = file.substr(0, file.size() - std::string(".in." + ext).size());
    SCOPED_TRACE(dir + "/" + name);
    ++cases;
    Result<std::string> got = fn(name, ReadFile(in));
    fs::path error_file = kData / dir / (name + ".error.txt");
    fs::path out_file = kData / dir / (name + ".out." + ext);
    if (fs::exists(error_file)) {
      ASSERT_FALSE(got.ok()) << "expected a refusal, got " << *got;
      EXPECT_NE(got.status().message().find(Trim(ReadFile(error_file))), std::string::npos)
          << got.status().message();
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status().message();
    if (!fs::exists(out_file)) {
      if (Updating()) {
        std::string text = *got;
        if (ext == "json") text = json::serialize(json::parse(text)) + "\n";
        std::ofstream(out_file, std::ios::binary) << text;
        continue;
      }
      ADD_FAILURE() << "no golden " << out_file;
      continue;
    }
    std::string want = ReadFile(out_file);
    if (ext == "json") {
      EXPECT_EQ(json::parse(*got), json::parse(want)) << "got:  " << *got << "\nwant: " << want;
    } else {
      EXPECT_EQ(*got, want);
    }
  }
  EXPECT_GT(cases, 0u) << "no cases in " << dir;
}

std::string WithNotes(const Translated& t) {
  json::value v = json::parse(t.body);
  if (!t.notes.empty()) {
    json::array notes;
    for (const auto& n : t.notes) notes.push_back(json::string(n));
    v.as_object()["(notes)"] = std::move(notes);
  }
  return json::serialize(v);
}

Result<std::string> Wrap(Result<Translated> t) {
  if (!t.ok()) return t.status();
  return WithNotes(*t);
}

TEST(TranslateGolden, MessagesRequestToChat) {
  RunGoldens("req_messages_to_chat", "json", [](const std::string& name, const std::string& in) {
    // "max_tokens_cap" cases: the upstream allows 32768 output tokens.
    const uint64_t cap = name.find("max_tokens_cap") != std::string::npos ? 32768 : 0;
    return Wrap(RequestToChat(Api::kAnthropicMessages, in,
                              {.upstream_model = "qwen3-coder-480b", .max_tokens_cap = cap}));
  });
}

TEST(TranslateGolden, ChatRequestToMessages) {
  RunGoldens("req_chat_to_messages", "json", [](const std::string&, const std::string& in) {
    return Wrap(ChatRequestToMessages(in, {.upstream_model = "claude-sonnet-4-5"}));
  });
}

TEST(TranslateGolden, ResponsesRequestToChat) {
  RunGoldens("req_responses_to_chat", "json", [](const std::string&, const std::string& in) {
    return Wrap(RequestToChat(Api::kOpenAiResponses, in, {.upstream_model = "qwen3-coder-480b"}));
  });
}

TEST(TranslateGolden, GeminiRequestToChat) {
  RunGoldens("req_gemini_to_chat", "json", [](const std::string&, const std::string& in) {
    return Wrap(RequestToChat(Api::kGemini, in,
                              {.upstream_model = "qwen3", .path_model = "gemini-2.5-pro"}));
  });
}

TEST(TranslateGolden, ChatResponseToMessages) {
  RunGoldens("resp_chat_to_messages", "json", [](const std::string&, const std::string& in) {
    return Wrap(ChatResponseTo(Api::kAnthropicMessages, in, "claude-sonnet-4-5"));
  });
}

TEST(TranslateGolden, ChatResponseToResponses) {
  RunGoldens("resp_chat_to_responses", "json", [](const std::string&, const std::string& in) {
    return Wrap(ChatResponseTo(Api::kOpenAiResponses, in, "gpt-5-codex"));
  });
}

TEST(TranslateGolden, ChatResponseToGemini) {
  RunGoldens("resp_chat_to_gemini", "json", [](const std::string&, const std::string& in) {
    return Wrap(ChatResponseTo(Api::kGemini, in, "gemini-2.5-pro"));
  });
}

TEST(TranslateGolden, MessagesResponseToChat) {
  RunGoldens("resp_messages_to_chat", "json", [](const std::string&, const std::string& in) {
    return Wrap(MessagesResponseToChat(in));
  });
}

// The whole translated stream, with a final line naming the stream's status
// and notes, so a golden shows whether the stream ended whole.
std::string TranslateStream(Api to, const std::vector<std::string_view>& pieces) {
  auto t = NewChatStreamTranslator(to, {.client_model = "client-model"});
  std::string out;
  for (std::string_view p : pieces) out += t->Feed(p);
  out += t->Finish();
  out += "#status: " + (t->status().ok() ? std::string("ok") : t->status().message()) + "\n";
  return out;
}

void StreamGoldens(const std::string& dir, Api to) {
  RunGoldens(dir, "sse", [to](const std::string&, const std::string& in) -> Result<std::string> {
    const std::string whole = TranslateStream(to, {in});
    // Split at every byte boundary: the same events, byte for byte.
    for (size_t k = 0; k <= in.size(); ++k) {
      std::string_view v(in);
      std::string split = TranslateStream(to, {v.substr(0, k), v.substr(k)});
      if (split != whole)
        return Status::Error("split at byte " + std::to_string(k) + " differs:\n" + split);
    }
    // And one byte at a time.
    std::vector<std::string_view> bytes;
    for (size_t k = 0; k < in.size(); ++k) bytes.push_back(std::string_view(in).substr(k, 1));
    if (TranslateStream(to, bytes) != whole) return Status::Error("byte-at-a-time feed differs");
    return whole;
  });
}

TEST(TranslateGolden, ChatStreamToMessages) {
  StreamGoldens("stream_chat_to_messages", Api::kAnthropicMessages);
}
TEST(TranslateGolden, ChatStreamToResponses) {
  StreamGoldens("stream_chat_to_responses", Api::kOpenAiResponses);
}
TEST(TranslateGolden, ChatStreamToGemini) { StreamGoldens("stream_chat_to_gemini", Api::kGemini); }

TEST(Translate, GeminiJsonArrayStream) {
  auto t = NewChatStreamTranslator(Api::kGemini, {.client_model = "g", .gemini_json_array = true});
  std::string out = t->Feed(
      "data: "
      "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
      "\"finish_reason\":null}]}\n\n"
      "data: "
      "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
      "\"stop\"}]}\n\n"
      "data: [DONE]\n\n");
  out += t->Finish();
  json::value v = json::parse(out);
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.as_array()[1].at("candidates").at(0).at("finishReason"), "STOP");
}

TEST(Translate, StreamOfMessagesStartsWithMessageStartAndEndsWithMessageStop) {
  std::string out = TranslateStream(
      Api::kAnthropicMessages,
      {ReadFile(kData / "stream_chat_to_messages/parallel_tools_reasoning.in.sse")});
  EXPECT_TRUE(out.starts_with("event: message_start\n"));
  EXPECT_NE(out.find("event: message_stop\n"), std::string::npos);
  // Two tool_use blocks, in the upstream's order, at consecutive indices
  // after the thinking and text blocks.
  EXPECT_NE(out.find("\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_a\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_b\""),
            std::string::npos)
      << out;
}

TEST(Translate, UpstreamErrorMessageReadsEveryShape) {
  EXPECT_EQ(
      UpstreamErrorMessage(R"({"error":{"message":"bad model","type":"invalid_request_error"}})"),
      "bad model");
  EXPECT_EQ(UpstreamErrorMessage(R"({"object":"error","message":"vllm says no","code":400})"),
            "vllm says no");
  EXPECT_EQ(UpstreamErrorMessage(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":"ollama: model not found"})"),
            "ollama: model not found");
  EXPECT_EQ(UpstreamErrorMessage("Bad Gateway"), "Bad Gateway");
}

TEST(Translate, EstimateCountsText) {
  auto small = EstimateInputTokens(Api::kAnthropicMessages,
                                   R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(small.ok());
  std::string big_text(4000, 'a');
  auto big = EstimateInputTokens(
      Api::kAnthropicMessages,
      R"({"model":"m","messages":[{"role":"user","content":")" + big_text + "\"}]}");
  ASSERT_TRUE(big.ok());
  EXPECT_GE(*big, 1000u);
  EXPECT_LT(*small, 20u);
  EXPECT_FALSE(EstimateInputTokens(Api::kAnthropicMessages, "not json").ok());
}

// ---------------------------------------------------------------------------
// Property: Messages -> Chat -> Messages keeps what both can express (text,
// images, tool calls and results, tools, tool_choice, sampling, stops,
// max_tokens, the user id, streaming). Compared after normalising the
// spellings both sides accept for the same thing (a string content and one
// text block; a system string and one text block).

json::value NormaliseContent(const json::value& content) {
  if (content.is_string()) return json::array{json::object{{"type", "text"}, {"text", content}}};
  return content;
}

json::value Normalise(json::value v) {
  json::object& o = v.as_object();
  for (json::value& m : o["messages"].as_array()) {
    json::value& content = m.as_object()["content"];
    content = NormaliseContent(content);
    for (json::value& block : content.as_array()) {
      if (block.at("type") == "tool_result")
        block.as_object()["content"] = NormaliseContent(block.at("content"));
    }
  }
  if (o.contains("system")) o["system"] = NormaliseContent(o["system"]);
  return v;
}

class RandomMessages {
 public:
  explicit RandomMessages(uint32_t seed) : rng_(seed) {}

  json::object Make() {
    json::object req{{"model", "claude-sonnet-4-5"}, {"max_tokens", Int(1, 64000)}};
    if (Coin()) req["system"] = System();
    std::vector<std::string> tool_names;
    if (Coin()) AddTools(req, &tool_names);
    req["messages"] = Conversation(tool_names);
    if (Coin()) req["temperature"] = Int(0, 10) / 4.0;
    if (Coin()) req["top_p"] = 0.5;
    if (Coin()) req["stop_sequences"] = json::array{json::string(Text()), json::string("END")};
    if (Coin()) req["metadata"] = json::object{{"user_id", Text()}};
    if (Coin()) req["stream"] = true;
    return req;
  }

 private:
  // A system prompt: a string or text blocks.
  json::value System() {
    if (Coin()) return json::value(Text());
    json::array blocks;
    for (int i = 0, n = Int(1, 3); i < n; ++i)
      blocks.push_back(json::object{{"type", "text"}, {"text", Text()}});
    return blocks;
  }

  // Tools, and perhaps a tool_choice among them.
  void AddTools(json::object& req, std::vector<std::string>* tool_names) {
    json::array tools;
    for (int i = 0, n = Int(1, 4); i < n; ++i) {
      std::string name = "tool_" + std::to_string(i);
      tool_names->push_back(name);
      json::object t{
          {"name", name},
          {"input_schema",
           json::object{{"type", "object"},
                        {"properties", json::object{{"x", json::object{{"type", "string"}}}}}}}};
      if (Coin()) t["description"] = Text();
      tools.push_back(std::move(t));
    }
    req["tools"] = std::move(tools);
    if (!Coin()) return;
    const int kind = Int(0, 3);
    json::object choice{{"type", kind == 0   ? "auto"
                                 : kind == 1 ? "any"
                                 : kind == 2 ? "none"
                                             : "tool"}};
    if (kind == 3) choice["name"] = (*tool_names)[0];
    if (Coin() && kind != 2) choice["disable_parallel_tool_use"] = Coin();
    req["tool_choice"] = std::move(choice);
  }

  json::array Conversation(const std::vector<std::string>& tool_names) {
    json::array messages;
    std::vector<std::string> open_calls;
    const int turns = Int(1, 6);
    for (int turn = 0; turn < turns; ++turn) {
      messages.push_back(UserTurn(&open_calls));
      if (turn + 1 == turns && Coin()) break;
      messages.push_back(AssistantTurn(turn, tool_names, &open_calls));
    }
    return messages;
  }

  // Results for the previous calls first, then text/images.
  json::object UserTurn(std::vector<std::string>* open_calls) {
    json::array user;
    for (const std::string& id : *open_calls) {
      json::object r{{"type", "tool_result"}, {"tool_use_id", id}};
      r["content"] =
          Coin() ? json::value(Text())
                 : json::value(json::array{json::object{{"type", "text"}, {"text", Text()}}});
      user.push_back(std::move(r));
    }
    open_calls->clear();
    if (user.empty() && Coin()) return json::object{{"role", "user"}, {"content", Text()}};
    for (int i = 0, n = Int(user.empty() ? 1 : 0, 2); i < n; ++i) {
      user.push_back(Int(0, 3) == 0 ? Image() : json::object{{"type", "text"}, {"text", Text()}});
    }
    return json::object{{"role", "user"}, {"content", std::move(user)}};
  }

  json::object Image() {
    if (Coin()) {
      return json::object{{"type", "image"},
                          {"source", json::object{{"type", "base64"},
                                                  {"media_type", "image/png"},
                                                  {"data", "iVBORw0KGgo="}}}};
    }
    return json::object{
        {"type", "image"},
        {"source", json::object{{"type", "url"}, {"url", "https://example.com/" + Text()}}}};
  }

  json::object AssistantTurn(int turn, const std::vector<std::string>& tool_names,
                             std::vector<std::string>* open_calls) {
    json::array assistant;
    if (Coin() || tool_names.empty())
      assistant.push_back(json::object{{"type", "text"}, {"text", Text()}});
    if (!tool_names.empty() && Coin()) {
      for (int i = 0, n = Int(1, 3); i < n; ++i) {
        std::string id = "toolu_" + std::to_string(turn) + "_" + std::to_string(i);
        open_calls->push_back(id);
        assistant.push_back(
            json::object{{"type", "tool_use"},
                         {"id", id},
                         {"name", tool_names[Int(0, static_cast<int>(tool_names.size()) - 1)]},
                         {"input", json::object{{"x", Text()}, {"n", Int(0, 1000)}}}});
      }
    }
    return json::object{{"role", "assistant"}, {"content", std::move(assistant)}};
  }

  bool Coin() { return std::uniform_int_distribution<int>(0, 1)(rng_) == 1; }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::string Text() {
    static const std::vector<std::string> kWords = {
        "ls", "héllo", "日本語", "\"quoted\"", "a\nb", "{json}", "tab\t", "😀", "x"};
    std::string s;
    for (int i = 0, n = Int(1, 4); i < n; ++i)
      s += (i ? " " : "") + kWords[Int(0, static_cast<int>(kWords.size()) - 1)];
    return s;
  }
  std::mt19937 rng_;
};

TEST(TranslateProperty, MessagesToChatToMessagesKeepsWhatBothExpress) {
  for (uint32_t seed = 1; seed <= 500; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomMessages gen(seed);
    json::object original = gen.Make();
    std::string body = json::serialize(original);
    auto chat = RequestToChat(Api::kAnthropicMessages, body);
    ASSERT_TRUE(chat.ok()) << chat.status().message() << "\n" << body;
    EXPECT_TRUE(chat->notes.empty()) << chat->notes[0];
    auto back = ChatRequestToMessages(chat->body);
    ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << chat->body;
    EXPECT_TRUE(back->notes.empty()) << back->notes[0];
    EXPECT_EQ(Normalise(json::parse(back->body)), Normalise(original))
        << "original: " << body << "\nchat: " << chat->body << "\nback: " << back->body;
  }
}

// The parse arena is reused by the next request on the thread: a request
// after a larger one translates as it would alone.
TEST(ParseArena, ATranslationAfterALargerOneIsTheSameAsAlone) {
  const std::string small =
      R"({"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"short"}]})";
  const std::string large = R"({"model":"claude-y","max_tokens":5,"system":")" +
                            std::string(300000, 'z') +
                            R"(","messages":[{"role":"user","content":"long"}]})";
  auto alone = RequestToChat(Api::kAnthropicMessages, small);
  ASSERT_TRUE(alone.ok());
  auto big = RequestToChat(Api::kAnthropicMessages, large);
  ASSERT_TRUE(big.ok());
  EXPECT_NE(big->body.find(std::string(300000, 'z')), std::string::npos);
  auto after = RequestToChat(Api::kAnthropicMessages, small);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->body, alone->body);
  // Larger than the arena's buffer: the rest comes from the heap.
  const std::string huge =
      R"({"model":"claude-y","max_tokens":5,"messages":[{"role":"user","content":")" +
      std::string(3 << 20, 'h') + R"("}]})";
  auto h = RequestToChat(Api::kAnthropicMessages, huge);
  ASSERT_TRUE(h.ok());
  EXPECT_NE(h->body.find(std::string(3 << 20, 'h')), std::string::npos);
}

// Two arenas alive on one thread do not share memory.
TEST(ParseArena, ASecondArenaOnTheSameThreadHasItsOwnMemory) {
  internal::ParseArena first;
  auto a = internal::ParseObject(R"({"k":"first value"})", "a", first.storage());
  ASSERT_TRUE(a.ok());
  {
    internal::ParseArena second;
    auto b = internal::ParseObject(R"({"k":"second value"})", "b", second.storage());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(internal::GetString(*b, "k"), "second value");
  }
  internal::ParseArena third;  // the first still holds the thread's buffer
  auto c = internal::ParseObject(R"({"k":"third value"})", "c", third.storage());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(internal::GetString(*a, "k"), "first value");
  EXPECT_EQ(internal::GetString(*c, "k"), "third value");
}

// Regression (found by fuzz_gate_translate): a tool call index that is not
// an exact integer (1.5, 1e300) made Boost's to_number throw out of the
// translator; the stream now fails with the reason.
TEST(StreamRegression, AToolCallIndexThatIsNotAnIntegerFailsTheStream) {
  for (const char* index : {"1.5", "1e300", "-0.25"}) {
    const std::string chunk =
        std::string(
            R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",)") +
        R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":)" + index +
        R"(,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},)" +
        R"("finish_reason":null}]})" + "\n\n";
    for (Api to : {Api::kAnthropicMessages, Api::kOpenAiResponses, Api::kGemini}) {
      auto t = NewChatStreamTranslator(to);
      t->Feed(chunk);
      t->Finish();
      EXPECT_FALSE(t->status().ok()) << ApiName(to) << " index " << index;
      EXPECT_NE(t->status().message().find("index is not an integer"), std::string::npos)
          << t->status().message();
    }
  }
}

}  // namespace
}  // namespace glassbox::gate::translate
