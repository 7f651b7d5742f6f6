#include "net/fake_provider.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/provider_events.h"
#include "net/sse.h"

namespace glassbox::net {
namespace {

namespace json = boost::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Replayed {
  std::string text;  // text pieces joined
  std::string tool_arguments;
  Usage usage;
  bool done = false;
  size_t events = 0;
};

// Plays a plan's SSE chunks through the real parsers, as a client would.
Replayed Replay(Provider provider, const ResponsePlan& plan) {
  Replayed r;
  SseParser parser;
  std::vector<SseBlock> blocks;
  for (const FakeChunk& c : plan.chunks) EXPECT_TRUE(parser.Feed(c.bytes, &blocks).ok());
  EXPECT_TRUE(parser.Finish(&blocks).ok());
  for (const SseBlock& b : blocks) {
    if (!b.dispatch) continue;
    ++r.events;
    Result<ProviderEvent> ev = ParseProviderEvent(provider, b);
    EXPECT_TRUE(ev.ok()) << ev.status().message();
    if (!ev.ok()) continue;
    for (const TextPiece& p : ev->pieces) {
      if (p.kind == PieceKind::kText) r.text += p.text;
      if (p.kind == PieceKind::kToolArguments) r.tool_arguments += p.text;
    }
    if (ev->usage.input_tokens) r.usage.input_tokens = ev->usage.input_tokens;
    if (ev->usage.output_tokens) r.usage.output_tokens = ev->usage.output_tokens;
    r.done = r.done || ev->is_done;
  }
  return r;
}

std::string Header(const ResponsePlan& plan, std::string_view name) {
  for (const auto& [n, v] : plan.headers) {
    if (n == name) return v;
  }
  return "";
}

const FakeProvider kFake;
constexpr char kReply[] = "Hello from the glassbox fake provider.";

TEST(FakeProvider, AnthropicJsonAndStream) {
  const Headers h = {{"anthropic-version", "2023-06-01"}};
  ResponsePlan plan = kFake.Plan(
      "POST", "/v1/messages", h,
      R"({"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(plan.status, 200);
  EXPECT_EQ(plan.route, "anthropic.messages");
  EXPECT_FALSE(plan.streaming);
  EXPECT_EQ(Header(plan, "content-type"), "application/json");
  json::value v = json::parse(plan.Body());
  EXPECT_EQ(v.at("type"), "message");
  EXPECT_EQ(v.at("model"), "claude-sonnet-4-5");
  EXPECT_EQ(v.at("content").at(0).at("text"), kReply);
  EXPECT_EQ(v.at("stop_reason"), "end_turn");
  EXPECT_GT(v.at("usage").at("input_tokens").as_int64(), 0);
  EXPECT_GT(v.at("usage").at("output_tokens").as_int64(), 0);

  plan = kFake.Plan("POST", "/v1/messages", h,
                    R"({"model":"claude-sonnet-4-5","stream":true,"messages":[]})");
  EXPECT_TRUE(plan.streaming);
  EXPECT_EQ(Header(plan, "content-type"), "text/event-stream");
  Replayed r = Replay(Provider::kAnthropic, plan);
  EXPECT_EQ(r.text, kReply);
  EXPECT_TRUE(r.done);
  EXPECT_GT(*r.usage.input_tokens, 0u);
  EXPECT_GT(*r.usage.output_tokens, 1u);
}

TEST(FakeProvider, AnthropicForcedToolFollowsTheSchema) {
  const std::string req = R"({"model":"claude-haiku-4-5","max_tokens":64,"messages":[],
    "tools":[{"name":"other","input_schema":{"type":"object"}},
             {"name":"classify","input_schema":{"type":"object","required":["label","score","tags"],
               "properties":{"label":{"type":"string","enum":["bug","feature"]},"score":{"type":"integer","minimum":3},
                             "tags":{"type":"array","minItems":2,"items":{"type":"string","minLength":1}},
                             "note":{"type":"string"}}}}],
    "tool_choice":{"type":"tool","name":"classify"}})";
  ResponsePlan plan = kFake.Plan("POST", "/v1/messages", {}, req);
  json::value v = json::parse(plan.Body());
  EXPECT_EQ(v.at("stop_reason"), "tool_use");
  const json::value& block = v.at("content").at(0);
  EXPECT_EQ(block.at("type"), "tool_use");
  EXPECT_EQ(block.at("name"), "classify");
  EXPECT_EQ(json::serialize(block.at("input")), R"({"label":"bug","score":3,"tags":["a","a"]})");
  // Streamed, the arguments arrive as input_json_delta pieces.
  std::string streamed = req;
  streamed.insert(1, "\"stream\":true,");
  Replayed r = Replay(Provider::kAnthropic, kFake.Plan("POST", "/v1/messages", {}, streamed));
  EXPECT_EQ(r.tool_arguments, R"({"label":"bug","score":3,"tags":["a","a"]})");
}

TEST(FakeProvider, OpenAiChatJsonStreamAndSchema) {
  ResponsePlan plan =
      kFake.Plan("POST", "/v1/chat/completions", {}, R"({"model":"gpt-5","messages":[]})");
  json::value v = json::parse(plan.Body());
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), kReply);
  EXPECT_GT(v.at("usage").at("total_tokens").as_int64(), 0);

  plan = kFake.Plan(
      "POST", "/v1/chat/completions", {},
      R"({"model":"gpt-5","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
  const std::string body = plan.Body();
  EXPECT_TRUE(body.ends_with("data: [DONE]\n\n"));
  Replayed r = Replay(Provider::kOpenAi, plan);
  EXPECT_EQ(r.text, kReply);
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(r.usage.input_tokens.has_value()) << "include_usage sends a usage chunk";

  plan = kFake.Plan("POST", "/v1/chat/completions", {}, R"({"model":"gpt-5","messages":[],
    "response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{
      "type":"object","required":["when","who","n","ok","kind"],"additionalProperties":false,
      "properties":{"when":{"type":"string","format":"date-time"},"who":{"$ref":"#/$defs/person"},
                    "n":{"type":["number","null"],"exclusiveMinimum":0},"ok":{"type":"boolean"},
                    "kind":{"anyOf":[{"type":"null"},{"const":"fixed"}]}},
      "$defs":{"person":{"type":"object","required":["name"],"properties":{"name":{"type":"string"}}}}}}}})");
  v = json::parse(plan.Body());
  json::value content = json::parse(v.at("choices").at(0).at("message").at("content").as_string());
  EXPECT_EQ(
      json::serialize(content),
      R"({"when":"1970-01-01T00:00:00Z","who":{"name":""},"n":1E0,"ok":false,"kind":"fixed"})");
}

TEST(FakeProvider, OpenAiForcedFunctionAndResponses) {
  ResponsePlan plan =
      kFake.Plan("POST", "/v1/chat/completions", {}, R"({"model":"gpt-5","messages":[],
    "tools":[{"type":"function","function":{"name":"run","parameters":{"type":"object","required":["cmd"],
      "properties":{"cmd":{"type":"string"}}}}}],"tool_choice":"required"})");
  json::value v = json::parse(plan.Body());
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "tool_calls");
  EXPECT_EQ(
      v.at("choices").at(0).at("message").at("tool_calls").at(0).at("function").at("arguments"),
      R"({"cmd":""})");

  plan = kFake.Plan("POST", "/v1/responses", {}, R"({"model":"gpt-5-codex","input":"hi"})");
  v = json::parse(plan.Body());
  EXPECT_EQ(v.at("object"), "response");
  EXPECT_EQ(v.at("status"), "completed");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), kReply);
  EXPECT_GT(v.at("usage").at("input_tokens").as_int64(), 0);

  plan =
      kFake.Plan("POST", "/v1/responses", {}, R"({"model":"gpt-5-codex","input":"hi","stream":true,
    "text":{"format":{"type":"json_schema","name":"o","schema":{"type":"object","required":["a"],
      "properties":{"a":{"type":"integer"}}}}}})");
  EXPECT_TRUE(plan.streaming);
  SseParser parser;
  std::vector<SseBlock> blocks;
  ASSERT_TRUE(parser.Feed(plan.Body(), &blocks).ok());
  std::string text;
  for (const SseBlock& b : blocks) {
    json::value data = json::parse(b.data);
    EXPECT_EQ(data.at("type").as_string(), b.type) << "event name and type agree";
    if (b.type == "response.output_text.delta") text += std::string(data.at("delta").as_string());
  }
  EXPECT_EQ(text, R"({"a":0})");
  ASSERT_FALSE(blocks.empty());
  EXPECT_EQ(blocks.back().type, "response.completed");
}

TEST(FakeProvider, GeminiJsonSseAndArrayStreams) {
  ResponsePlan plan = kFake.Plan("POST", "/v1beta/models/gemini-2.5-flash:generateContent", {},
                                 R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})");
  json::value v = json::parse(plan.Body());
  EXPECT_EQ(v.at("candidates").at(0).at("content").at("parts").at(0).at("text"), kReply);
  EXPECT_EQ(v.at("candidates").at(0).at("finishReason"), "STOP");
  EXPECT_EQ(v.at("modelVersion"), "gemini-2.5-flash");

  plan = kFake.Plan("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {},
                    R"({"contents":[]})");
  EXPECT_NE(plan.Body().find("\r\n\r\n"), std::string::npos);
  Replayed r = Replay(Provider::kGemini, plan);
  EXPECT_EQ(r.text, kReply);
  EXPECT_TRUE(r.done);
  EXPECT_GT(*r.usage.output_tokens, 0u);

  plan = kFake.Plan("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", {},
                    R"({"contents":[]})");
  v = json::parse(plan.Body());
  ASSERT_TRUE(v.is_array());
  EXPECT_EQ(v.as_array().size(), 3u);

  plan = kFake.Plan("POST", "/v1beta/models/gemini-2.5-pro:generateContent", {}, R"({"contents":[],
    "generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT",
      "properties":{"items":{"type":"ARRAY","minItems":1,"items":{"type":"STRING","enum":["x","y"]}}},
      "required":["items"]}}})");
  v = json::parse(plan.Body());
  EXPECT_EQ(v.at("candidates").at(0).at("content").at("parts").at(0).at("text"),
            R"({"items":["x"]})");
}

TEST(FakeProvider, ListsCountsAndEmbeddings) {
  json::value v = json::parse(
      kFake.Plan("GET", "/v1/models", {{"anthropic-version", "2023-06-01"}}, "").Body());
  EXPECT_EQ(v.at("data").at(0).at("type"), "model");
  v = json::parse(kFake.Plan("GET", "/v1/models", {}, "").Body());
  EXPECT_EQ(v.at("object"), "list");
  v = json::parse(kFake.Plan("GET", "/v1beta/models", {}, "").Body());
  EXPECT_EQ(v.at("models").at(0).at("name"), "models/gemini-2.5-pro");
  v = json::parse(kFake.Plan("POST", "/v1/messages/count_tokens", {}, R"({"messages":[]})").Body());
  EXPECT_GT(v.at("input_tokens").as_int64(), 0);
  v = json::parse(
      kFake.Plan("POST", "/v1beta/models/gemini-2.5-pro:countTokens", {}, R"({"contents":[]})")
          .Body());
  EXPECT_GT(v.at("totalTokens").as_int64(), 0);
  v = json::parse(kFake
                      .Plan("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", {},
                            R"({"requests":[{},{},{}]})")
                      .Body());
  EXPECT_EQ(v.at("embeddings").as_array().size(), 3u);
  v = json::parse(
      kFake.Plan("POST", "/v1beta/models/gemini-embedding-001:embedContent", {}, "{}").Body());
  EXPECT_EQ(v.at("embedding").at("values").as_array().size(), 8u);
  v = json::parse(kFake
                      .Plan("POST", "/v1/embeddings", {},
                            R"({"model":"text-embedding-3-small","input":["a","b"]})")
                      .Body());
  EXPECT_EQ(v.at("data").as_array().size(), 2u);
}

TEST(FakeProvider, FaultsEchoAndReplyText) {
  const std::string req = R"({"model":"claude-sonnet-4-5","stream":true,"messages":[]})";
  const std::string full = kFake.Plan("POST", "/v1/messages", {}, req).Body();
  ResponsePlan plan = kFake.Plan("POST", "/v1/messages", {{"X-Fake-Fault", "500"}}, req);
  EXPECT_EQ(plan.status, 500);
  EXPECT_EQ(json::parse(plan.Body()).at("error").at("type"), "api_error");
  plan = kFake.Plan("POST", "/v1beta/models/g:generateContent", {{"x-fake-fault", "429"}}, "{}");
  EXPECT_EQ(json::parse(plan.Body()).at("error").at("status"), "RESOURCE_EXHAUSTED");

  plan = kFake.Plan("POST", "/v1/messages", {{"x-fake-fault", "reset-mid-stream"}}, req);
  EXPECT_EQ(plan.fault, FakeFault::kResetAfterChunk);
  EXPECT_GT(plan.reset_after_chunk, 0u);
  EXPECT_LT(plan.reset_after_chunk, plan.chunks.size());

  plan = kFake.Plan("POST", "/v1/messages", {{"x-fake-fault", "truncated"}}, req);
  EXPECT_EQ(plan.fault, FakeFault::kTruncate);
  const std::string cut = plan.Body();
  EXPECT_LT(cut.size(), full.size());
  EXPECT_TRUE(full.starts_with(cut));
  EXPECT_FALSE(cut.ends_with("\n\n")) << "ends inside an event";

  const std::string whole =
      kFake.Plan("POST", "/v1/chat/completions", {}, R"({"messages":[]})").Body();
  plan = kFake.Plan("POST", "/v1/chat/completions", {{"x-fake-fault", "truncated"}},
                    R"({"messages":[]})");
  EXPECT_TRUE(whole.starts_with(plan.Body()));
  EXPECT_LT(plan.Body().size(), whole.size()) << "a JSON body cut short";

  plan = kFake.Plan("POST", "/v1/messages", {{"x-fake-fault", "slow"}}, req);
  EXPECT_EQ(plan.fault, FakeFault::kSlow);
  for (const FakeChunk& c : plan.chunks) EXPECT_EQ(c.delay_ms, 200);

  plan = kFake.Plan("POST", "/v1/chat/completions", {{"x-fake-reply", "caf%C3%A9 %F3%A0%81%81!"}},
                    R"({"messages":[]})");
  EXPECT_EQ(json::parse(plan.Body()).at("choices").at(0).at("message").at("content"),
            "caf\xC3\xA9 \xF3\xA0\x81\x81!");
  plan = kFake.Plan("POST", "/v1/chat/completions", {{"x-fake-echo", "1"}}, R"({"messages":[1]})");
  EXPECT_EQ(json::parse(plan.Body()).at("choices").at(0).at("message").at("content"),
            R"({"messages":[1]})");
  EXPECT_EQ(plan.received_body, R"({"messages":[1]})");
}

// Real clients put a base path in front of the API path; the route is
// found from the end, and a stream always ends as the protocol says.
TEST(FakeProvider, AnyBasePathBeforeTheApiPath) {
  const std::string chat =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  for (const char* path : {"/api/v1/chat/completions", "/compatible-mode/v1/chat/completions",
                           "/openai/v1/chat/completions",
                           "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"}) {
    ResponsePlan plan = kFake.Plan("POST", path, {}, chat);
    EXPECT_EQ(plan.route, "openai.chat_completions") << path;
    EXPECT_NE(plan.Body().find("\"finish_reason\":\"stop\""), std::string::npos) << path;
    EXPECT_NE(plan.Body().find("data: [DONE]"), std::string::npos) << path;
  }
  ResponsePlan messages =
      kFake.Plan("POST", "/api/v1/messages", {{"anthropic-version", "2023-06-01"}},
                 R"({"model":"m","stream":true,"messages":[]})");
  EXPECT_EQ(messages.route, "anthropic.messages");
  EXPECT_NE(messages.Body().find("message_stop"), std::string::npos);
  ResponsePlan responses =
      kFake.Plan("POST", "/api/v1/responses", {}, R"({"model":"m","stream":true,"input":"hi"})");
  EXPECT_EQ(responses.route, "openai.responses");
  EXPECT_NE(responses.Body().find("response.completed"), std::string::npos);
  EXPECT_EQ(kFake.Plan("GET", "/api/v1/models", {}, "").route, "openai.models");
}

TEST(FakeProvider, UnknownApiPathGetsTheProvidersError) {
  ResponsePlan plan = kFake.Plan("POST", "/api/v1/auth/key", {{"Authorization", "Bearer x"}}, "{}");
  EXPECT_EQ(plan.status, 404);
  EXPECT_EQ(plan.route, "unknown.openai");
  EXPECT_TRUE(json::parse(plan.Body()).at("error").is_object());
  plan = kFake.Plan("POST", "/v1/nothing", {{"anthropic-version", "2023-06-01"}}, "{}");
  EXPECT_EQ(plan.status, 404);
  EXPECT_EQ(json::parse(plan.Body()).at("type"), "error");
  // Telemetry under /v1/ without credentials is not an API call.
  EXPECT_EQ(kFake.Plan("POST", "/v1/events", {}, "{}").status, 200);
}

// An API client's GET of a document the fake provider does not have (Claude
// Code's organisation policy) is answered 404 in the provider's error shape,
// which clients take as final; a 200 "{}" is a document the client could not
// parse, and Claude Code asked again five times over 5 s in every run.
TEST(FakeProvider, UnknownDocumentGetIsNotFoundSoTheClientStopsAsking) {
  ResponsePlan plan =
      kFake.Plan("GET", "/api/claude_code/policy_limits", {{"x-api-key", "sk-ant-x"}}, "");
  EXPECT_EQ(plan.status, 404);
  EXPECT_EQ(plan.route, "unknown.anthropic");
  json::value body = json::parse(plan.Body());
  EXPECT_EQ(body.at("type"), "error");
  EXPECT_EQ(body.at("error").at("type"), "not_found_error");
  plan = kFake.Plan("GET", "/settings/feature-flags", {{"Authorization", "Bearer x"}}, "");
  EXPECT_EQ(plan.status, 404);
  EXPECT_EQ(json::parse(plan.Body()).at("error").at("type"), "invalid_request_error");
  plan = kFake.Plan("GET", "/config", {{"x-goog-api-key", "k"}}, "");
  EXPECT_EQ(plan.status, 404);
  EXPECT_EQ(json::parse(plan.Body()).at("error").at("status"), "NOT_FOUND");
  // A telemetry POST with credentials outside an API path is accepted, and a
  // GET without credentials (a connectivity or update check) is answered.
  EXPECT_EQ(kFake.Plan("POST", "/api/event_logging/v2/batch", {{"x-api-key", "k"}}, "{}").status,
            200);
  EXPECT_EQ(kFake.Plan("GET", "/api/directory/server-urls", {}, "").status, 200);
  EXPECT_EQ(kFake.Plan("HEAD", "/api/hello", {{"x-api-key", "k"}}, "").status, 200);
}

// A WebSocket handshake (Codex's Responses API over WebSocket, under any
// base path) is refused with 426 in the provider's error shape, so the client
// falls back to HTTP at once; a 200 made Codex retry six times with back-off.
TEST(FakeProvider, WebSocketUpgradeIsRefusedSoTheClientFallsBackToHttp) {
  Headers ws = {
      {"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}};
  ResponsePlan plan = kFake.Plan("GET", "/api/v1/responses", ws, "");
  EXPECT_EQ(plan.status, 426);
  EXPECT_EQ(plan.route, "websocket.refused");
  EXPECT_TRUE(json::parse(plan.Body()).at("error").is_object());
  ws.emplace_back("anthropic-version", "2023-06-01");
  EXPECT_EQ(json::parse(kFake.Plan("GET", "/v1/messages", ws, "").Body()).at("type"), "error");
  // The same path over HTTP is answered as before.
  EXPECT_EQ(kFake.Plan("POST", "/api/v1/responses", {}, R"({"model":"m","input":"hi"})").status,
            200);
}

TEST(FakeProvider, OtherPathsAndBadBodies) {
  ResponsePlan plan = kFake.Plan("GET", "/telemetry/v2", {}, "");
  EXPECT_EQ(plan.status, 200);
  EXPECT_EQ(plan.Body(), "{}");
  EXPECT_EQ(plan.route, "other");
  plan = kFake.Plan("OPTIONS", "/v1/messages", {}, "");
  EXPECT_EQ(plan.status, 204);
  EXPECT_TRUE(plan.chunks.empty());
  plan = kFake.Plan("POST", "/v1/messages", {}, "{not json");
  EXPECT_EQ(plan.status, 400);
  EXPECT_EQ(json::parse(plan.Body()).at("type"), "error");
}

}  // namespace
}  // namespace glassbox::net
