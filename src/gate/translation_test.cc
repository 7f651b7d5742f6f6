// Model routes and protocol translation in the gateway: PlanRoute and
// BuildRoutedRequest as functions, then the gateway in process with a
// FakeProvider that plays an OpenAI Chat Completions server (the only API
// the routed upstream is asked for), clients speaking Anthropic Messages,
// OpenAI Responses and Gemini.
#include "gate/translation.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "gate/audit_log.h"
#include "gate/gateway.h"
#include "gate/strict_chat.h"
#include "net/event_loop.h"
#include "net/fake_provider.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace glassbox::gate {
namespace {

using namespace std::chrono_literals;

GateConfig RoutedConfig() {
  GateConfig config = DefaultGateConfig();
  EXPECT_TRUE(ApplyUpstreamFlag(&config, "local=openai-chat+http://127.0.0.1:8000/v1").ok());
  EXPECT_TRUE(ApplyRouteFlag(&config, "claude-haiku-*=local:qwen3-8b", false).ok());
  EXPECT_TRUE(ApplyRouteFlag(&config, "local", true).ok());
  return config;
}

Route MessagesRoute() {
  Route r;
  r.protocol = net::Provider::kAnthropic;
  r.name = "anthropic.messages";
  r.upstream = "anthropic";
  r.upstream_target = "/v1/messages";
  return r;
}

TEST(RouteConfig, UpstreamFlagNamesTheProtocolAndDropsTheApiVersion) {
  GateConfig config = RoutedConfig();
  const UpstreamConfig* local = FindUpstream(config, "local");
  ASSERT_NE(local, nullptr);
  EXPECT_TRUE(local->chat_only);
  EXPECT_EQ(local->url.path, "");
  EXPECT_EQ(local->url.text, "http://127.0.0.1:8000");
  EXPECT_FALSE(ApplyUpstreamFlag(&config, "x=klingon+http://h:1").ok());
  EXPECT_FALSE(ApplyUpstreamFlag(&config, "anthropic=openai-chat+http://h:1").ok());
}

TEST(RouteConfig, RoutesAreTriedInOrderThenTheDefault) {
  GateConfig config = RoutedConfig();
  ASSERT_TRUE(CheckRoutes(config).ok());
  const ModelRoute* haiku = FindModelRoute(config, "claude-haiku-4-5");
  ASSERT_NE(haiku, nullptr);
  EXPECT_EQ(haiku->model, "qwen3-8b");
  const ModelRoute* other = FindModelRoute(config, "claude-sonnet-4-5");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->upstream, "local");
  EXPECT_EQ(other->model, "");
  // Ollama model names hold ':'.
  ASSERT_TRUE(ApplyRouteFlag(&config, "gpt-*=local:qwen3:8b", false).ok());
  EXPECT_EQ(FindModelRoute(config, "gpt-4o")->model, "qwen3:8b");
  EXPECT_EQ(config.routes.front().pattern, "claude-haiku-*");  // flags keep their order
  EXPECT_FALSE(ApplyRouteFlag(&config, "=local", false).ok());
  EXPECT_FALSE(ApplyRouteFlag(&config, "x=local:", false).ok());
  ASSERT_TRUE(ApplyRouteFlag(&config, "y=nowhere", false).ok());
  EXPECT_NE(CheckRoutes(config).message().find("nowhere"), std::string::npos);
}

TEST(RouteConfig, GateTomlRoutesKeepFileOrder) {
  auto config = ParseGateConfig(R"(
[gate]
default_route = "local:qwen3-coder"
count_tokens = "estimate"
[upstreams.local]
url = "http://127.0.0.1:8000/v1"
protocol = "openai-chat"
max_tokens = 16384
[routes]
"claude-sonnet-*" = "local:qwen3-coder-480b"
"claude-*" = "local:qwen3-8b"
)",
                                "gate.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->routes.size(), 2u);
  EXPECT_EQ(config->routes[0].pattern, "claude-sonnet-*");
  EXPECT_EQ(FindModelRoute(*config, "claude-sonnet-4")->model, "qwen3-coder-480b");
  EXPECT_EQ(FindModelRoute(*config, "claude-opus-4")->model, "qwen3-8b");
  EXPECT_EQ(FindModelRoute(*config, "gpt-5")->model, "qwen3-coder");
  EXPECT_TRUE(config->count_tokens_estimate);
  EXPECT_EQ(FindUpstream(*config, "local")->max_tokens, 16384u);
  EXPECT_EQ(FindUpstream(*config, "local")->url.path, "");
  auto bad = ParseGateConfig("[routes]\n\"x\" = 3\n", "gate.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("gate.toml:2"), std::string::npos)
      << bad.status().message();
  auto bad_protocol =
      ParseGateConfig("[upstreams.l]\nurl = \"http://h\"\nprotocol = \"chat\"\n", "gate.toml");
  EXPECT_NE(bad_protocol.status().message().find("openai-chat"), std::string::npos);
}

TEST(PlanRoute, TranslatesWhatTheUpstreamDoesNotSpeak) {
  GateConfig config = RoutedConfig();
  RoutePlan plan = PlanRoute(config, MessagesRoute(), "claude-sonnet-4-5");
  ASSERT_NE(plan.upstream, nullptr);
  EXPECT_EQ(plan.upstream->name, "local");
  EXPECT_TRUE(plan.translate);
  // Chat on a Chat upstream: native, renamed.
  Route chat;
  chat.protocol = net::Provider::kOpenAi;
  chat.name = "openai.chat_completions";
  chat.upstream = "openai";
  chat.upstream_target = "/v1/chat/completions";
  plan = PlanRoute(config, chat, "claude-haiku-4");
  EXPECT_FALSE(plan.translate);
  EXPECT_EQ(plan.upstream_model, "qwen3-8b");
  // Not a generation route: no routing.
  Route models;
  models.name = "openai.models";
  EXPECT_EQ(PlanRoute(config, models, "x").upstream, nullptr);
}

TEST(PlanRoute, AChatOnlyUpstreamReachedByItsPathPrefixTranslatesWithoutARoute) {
  GateConfig config = DefaultGateConfig();
  ASSERT_TRUE(ApplyUpstreamFlag(&config, "local=openai-chat+http://127.0.0.1:8000/v1").ok());
  auto policy = Policy::Create(config);
  ASSERT_TRUE(policy.ok());
  RouteDecision d = (*policy)->ClassifyRoute("POST", "/local/v1/messages");
  ASSERT_FALSE(d.refusal.has_value()) << d.refusal->message;
  EXPECT_EQ(d.route.upstream, "local");
  RoutePlan plan = PlanRoute(config, d.route, "claude-sonnet-4-5");
  ASSERT_NE(plan.upstream, nullptr);
  EXPECT_TRUE(plan.translate);
  // Without a model route, other upstreams are left alone.
  EXPECT_EQ(PlanRoute(config, MessagesRoute(), "claude-sonnet-4-5").upstream, nullptr);
  // A plain OpenAI upstream still answers Messages with wrong-protocol.
  ASSERT_TRUE(ApplyUpstreamFlag(&config, "plain=http://127.0.0.1:8001").ok());
  auto policy2 = Policy::Create(config);
  ASSERT_TRUE(policy2.ok());
  RouteDecision wrong = (*policy2)->ClassifyRoute("POST", "/plain/v1/messages");
  ASSERT_TRUE(wrong.refusal.has_value());
  EXPECT_EQ(wrong.refusal->code, "wrong-protocol");
}

TEST(PlanRoute, CountTokensIsEstimatedOnlyWhenAskedFor) {
  GateConfig config = RoutedConfig();
  Route count = MessagesRoute();
  count.name = "anthropic.count_tokens";
  RoutePlan plan = PlanRoute(config, count, "claude-sonnet-4-5");
  ASSERT_TRUE(plan.refusal.has_value());
  EXPECT_NE(plan.refusal->message.find("--count-tokens"), std::string::npos);
  config.count_tokens_estimate = true;
  plan = PlanRoute(config, count, "claude-sonnet-4-5");
  EXPECT_TRUE(plan.count_locally);
  auto answer = LocalTokenCount(
      count, R"({"model":"m","messages":[{"role":"user","content":"hello there"}]})");
  ASSERT_TRUE(answer.ok());
  EXPECT_NE(answer->find("\"glassbox_estimate\":true"), std::string::npos);
}

TEST(PlanRoute, RefusesAPairItDoesNotTranslate) {
  GateConfig config = DefaultGateConfig();
  ASSERT_TRUE(ApplyRouteFlag(&config, "gemini-*=anthropic", false).ok());
  Route gemini;
  gemini.protocol = net::Provider::kGemini;
  gemini.name = "gemini.generate_content";
  gemini.upstream = "gemini";
  RoutePlan plan = PlanRoute(config, gemini, "gemini-2.5-pro");
  ASSERT_TRUE(plan.refusal.has_value());
  EXPECT_EQ(plan.refusal->code, "untranslatable");
  EXPECT_NE(plan.refusal->body.find("\"status\":\"INVALID_ARGUMENT\""), std::string::npos)
      << plan.refusal->body;
}

// The client's credentials never reach another provider; the upstream's own
// key does, in its own header.
TEST(BuildRoutedRequest, DropsTheClientsCredentialsAndProviderHeaders) {
  GateConfig config = RoutedConfig();
  for (UpstreamConfig& u : config.upstreams) {
    if (u.name == "local") u.api_key = "local-key";
  }
  RoutePlan plan = PlanRoute(config, MessagesRoute(), "claude-sonnet-4-5");
  HeaderList headers = {{"x-api-key", "sk-ant-client"},
                        {"anthropic-version", "2023-06-01"},
                        {"anthropic-beta", "x"},
                        {"User-Agent", "claude-cli/2.1.332"},
                        {"Content-Type", "application/json"}};
  auto routed = BuildRoutedRequest(
      config, plan, MessagesRoute(),
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
      headers);
  ASSERT_TRUE(routed.ok()) << routed.status().message();
  EXPECT_EQ(routed->target, "/v1/chat/completions");
  HeaderList want = {{"User-Agent", "claude-cli/2.1.332"},
                     {"Content-Type", "application/json"},
                     {"Accept", "text/event-stream"},
                     {"Authorization", "Bearer local-key"}};
  EXPECT_EQ(routed->headers, want);
  EXPECT_NE(routed->body.find("\"stream_options\""), std::string::npos);
}

// The strict fake Chat server (gate_fake_upstream --strict-chat) rejects
// what api.openai.com rejects, so the end-to-end test's "accepted" means
// something; and every golden translation to Chat passes it.
TEST(StrictChat, RejectsWhatOpenAiRejects) {
  using testing::ValidateChatRequest;
  EXPECT_FALSE(ValidateChatRequest(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})")
                   .has_value());
  const std::pair<const char*, const char*> bad[] = {
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":3})",
       "Unrecognized request argument supplied: top_k"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi","cache_control":{}}]})",
       "'cache_control' was unexpected"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})",
       "messages.0.content.0.type"},
      {R"({"model":"m","messages":[{"role":"tool","tool_call_id":"x","content":"r"}]})",
       "must be a response to a preceeding"},
      {R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"x"}]})",
       "did not have response messages: a"},
      {R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":{}}}]}]})",
       "arguments': expected a string"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})",
       "only allowed when 'tools'"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","input_schema":{}}}]})",
       "'input_schema' was unexpected"},
  };
  for (const auto& [body, reason] : bad) {
    auto error = ValidateChatRequest(body);
    ASSERT_TRUE(error.has_value()) << body;
    EXPECT_NE(error->find(reason), std::string::npos) << *error;
  }
}

TEST(StrictChat, EveryGoldenTranslationToChatIsAccepted) {
  const std::filesystem::path data =
      std::filesystem::path(GLASSBOX_SOURCE_DIR) / "src/gate/translate/testdata";
  size_t checked = 0;
  for (const char* dir : {"req_messages_to_chat", "req_responses_to_chat", "req_gemini_to_chat"}) {
    for (const auto& e : std::filesystem::directory_iterator(data / dir)) {
      if (!e.path().string().ends_with(".out.json")) continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // The golden files carry the translation's notes beside the body.
      if (size_t at = text.find(",\"(notes)\""); at != std::string::npos)
        text = text.substr(0, at) + "}";
      auto error = testing::ValidateChatRequest(text);
      EXPECT_FALSE(error.has_value()) << e.path() << ": " << error.value_or("");
      ++checked;
    }
  }
  EXPECT_GE(checked, 9u);
}

// The column is added to a log written before it; records without it keep
// their hashes, records with it are covered by the chain.
TEST(AuditLogUpstreamBody, OlderLogsGainTheColumnAndTheChainCoversIt) {
  const std::string path =
      ::testing::TempDir() + "/upstream_body_" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  auto record = [](std::optional<std::string> upstream_body) {
    AuditRecord r;
    r.time = "2026-12-07T06:00:00Z";
    r.user = "anonymous";
    r.agent = "claude-code/2.1.332";
    r.upstream = "local";
    r.model = "claude-sonnet-4-5";
    r.method = "POST";
    r.path = "/v1/messages";
    r.status = 200;
    r.request_body = R"({"model":"claude-sonnet-4-5"})";
    r.upstream_request_body = std::move(upstream_body);
    return r;
  };
  {
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(record(std::nullopt)).ok());
  }
  {  // As a log from before the column.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE records DROP COLUMN upstream_request_body", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto reader = AuditLog::Open(path, AuditLog::OpenMode::kExisting);
    ASSERT_TRUE(reader.ok());
    EXPECT_TRUE((*reader)->Verify()->intact);
  }
  {
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(record(R"({"model":"qwen3-coder","messages":[]})")).ok());
    auto records = (*log)->List();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 2u);
    EXPECT_FALSE((*records)[0].upstream_request_body.has_value());
    EXPECT_EQ((*records)[1].upstream_request_body.value_or(""),
              R"({"model":"qwen3-coder","messages":[]})");
    EXPECT_TRUE((*log)->Verify()->intact);
  }
  {  // An edit of the translated request breaks the chain.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE records SET upstream_request_body = '{}' WHERE id = 2",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto reader = AuditLog::Open(path, AuditLog::OpenMode::kExisting);
    ASSERT_TRUE(reader.ok());
    EXPECT_FALSE((*reader)->Verify()->intact);
  }
  std::remove(path.c_str());
  std::filesystem::remove_all(path + "-bodies");
}

// --- The gateway in process -------------------------------------------------

class TranslatingGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = ::testing::TempDir() + "/translation_test_" + std::to_string(getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db";
    std::remove(log_path_.c_str());
    auto upstream = net::HttpServer::Start(
        loop_, {}, [this](net::HttpRequest req, std::shared_ptr<net::ResponseWriter> w) {
          std::vector<std::pair<std::string, std::string>> headers;
          for (const auto& f : req.headers.fields()) headers.emplace_back(f.name, f.value);
          {
            std::lock_guard lock(mu_);
            received_.push_back({req.path, req.body, headers});
          }
          net::ResponsePlan plan = provider_.Plan(req.method, req.path, headers, req.body);
          net::Headers out;
          for (const auto& [n, v] : plan.headers) out.Add(n, v);
          if (plan.streaming) {
            w->StartStream(plan.status, out);
            for (const auto& c : plan.chunks) w->Write(c.bytes);
            return w->Finish();
          }
          net::HttpResponse r;
          r.status = plan.status;
          r.headers = out;
          r.body = plan.Body();
          w->Respond(std::move(r));
        });
    ASSERT_TRUE(upstream.ok());
    upstream_ = std::move(upstream.value());
    GatewayOptions options;
    options.config = DefaultGateConfig();
    options.config.listen = "127.0.0.1:0";
    ASSERT_TRUE(ApplyUpstreamFlag(&options.config, "local=openai-chat+http://127.0.0.1:" +
                                                       std::to_string(upstream_->port()) + "/v1")
                    .ok());
    ASSERT_TRUE(ApplyRouteFlag(&options.config, "local:qwen3-coder", true).ok());
    options.config.count_tokens_estimate = true;
    options.log_path = log_path_;
    options.io_threads = 1;
    auto gw = Gateway::Start(std::move(options));
    ASSERT_TRUE(gw.ok()) << gw.status().message();
    gateway_ = std::move(gw.value());
    auto client = net::HttpClient::Create(loop_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client.value());
  }
  void TearDown() override {
    gateway_.reset();
    client_.reset();
    upstream_.reset();
    loop_.Stop();
    std::remove(log_path_.c_str());
    std::filesystem::remove_all(log_path_ + "-bodies");
  }
  struct Reply {
    int status = 0;
    std::string body;
    std::string content_type;
  };
  Reply Send(std::string target, std::string body, net::Headers headers = {}) {
    net::Url url;
    std::string error;
    EXPECT_TRUE(
        net::ParseUrl("http://127.0.0.1:" + std::to_string(gateway_->port()), &url, &error));
    auto reply = std::make_shared<Reply>();
    auto done = std::make_shared<std::promise<void>>();
    net::ClientRequest req;
    req.method = "POST";
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.headers.Add("Content-Type", "application/json");
    net::ClientCallbacks cb;
    cb.on_headers = [reply](const net::ResponseHead& h) {
      reply->status = h.status;
      reply->content_type = std::string(h.headers.Get("Content-Type").value_or(""));
    };
    cb.on_body = [reply](std::string_view b) { reply->body.append(b); };
    cb.on_complete = [done](Status) { done->set_value(); };
    client_->Send(url, std::move(req), std::move(cb));
    EXPECT_EQ(done->get_future().wait_for(10s), std::future_status::ready);
    return *reply;
  }
  struct Received {
    std::string path, body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::vector<AuditRecord> Records() {
    auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
    EXPECT_TRUE(log.ok());
    auto records = (*log)->List();
    EXPECT_TRUE(records.ok());
    EXPECT_TRUE((*log)->Verify()->intact);
    return *records;
  }

  net::EventLoop loop_{1};
  net::FakeProvider provider_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::unique_ptr<net::HttpServer> upstream_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<net::HttpClient> client_;
  std::string log_path_;
};

TEST_F(TranslatingGatewayTest, MessagesRunOnAChatUpstreamAndTheLogHoldsBothRequests) {
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":50,"system":"be brief","messages":[{"role":"user","content":"hi"}]})";
  Reply r = Send("/v1/messages", body,
                 {{"x-api-key", "sk-ant-api03-client-key"}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"type\":\"message\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"stop_reason\":\"end_turn\""), std::string::npos) << r.body;
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/v1/chat/completions");
  EXPECT_NE(got[0].body.find("\"model\":\"qwen3-coder\""), std::string::npos) << got[0].body;
  for (const auto& [name, value] : got[0].headers) {
    EXPECT_NE(name, "x-api-key") << "the client's Anthropic key reached the Chat server";
    EXPECT_NE(name, "anthropic-version");
  }
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].upstream, "local");
  EXPECT_EQ(records[0].model, "claude-sonnet-4-5");
  EXPECT_EQ(records[0].request_body.value_or(""), body);
  EXPECT_EQ(records[0].upstream_request_body.value_or(""), got[0].body);
  EXPECT_GT(records[0].output_tokens, 0);
}

// A large translated request goes to the body store ahead of its record,
// like the client's body: the row the client's answer waits for stays
// small, readers see the body as before, and a lost body is named.
TEST_F(TranslatingGatewayTest, ALargeTranslatedRequestIsStoredAheadAndItsLossIsNamed) {
  const std::string prompt(40'000, 'x');
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":")" +
      prompt + R"("}]})";
  Reply r = Send("/v1/messages", body, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 200) << r.body;
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].request_body.value_or(""), body);
  EXPECT_EQ(records[0].upstream_request_body.value_or(""), got[0].body);
  EXPECT_NE(records[0].request_body_at, 0);
  ASSERT_NE(records[0].upstream_request_body_at, 0);
  EXPECT_NE(records[0].upstream_request_body_at, records[0].request_body_at);
  gateway_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(log_path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "SELECT upstream_request_body IS NULL FROM records", -1, &st, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1) << "the translated body went into the row";
  sqlite3_finalize(st);
  sqlite3_close(db);
  // Damage the stored translated body's entry header: the store no longer
  // holds it, and verification says which body is gone.
  const int64_t at = records[0].upstream_request_body_at;
  char name[16];
  std::snprintf(name, sizeof(name), "%08llu.seg", static_cast<unsigned long long>(at >> 40));
  {
    std::fstream seg(log_path_ + "-bodies/" + name,
                     std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(seg.is_open());
    seg.seekp(at & ((int64_t{1} << 40) - 1));
    seg.write("XXXX", 4);
  }
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto v = (*log)->Verify();
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_FALSE(v->intact);
  EXPECT_NE(v->reason.find("translated request body is missing"), std::string::npos) << v->reason;
}

TEST_F(TranslatingGatewayTest, StreamedToolCallsArriveAsAnthropicEvents) {
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"tools":[{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"run ls"}]})";
  Reply r = Send("/v1/messages", body);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.content_type.find("text/event-stream"), std::string::npos);
  EXPECT_TRUE(r.body.starts_with("event: message_start\n")) << r.body;
  EXPECT_NE(r.body.find("\"content_block\":{\"type\":\"tool_use\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"stop_reason\":\"tool_use\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("event: message_stop\n"), std::string::npos) << r.body;
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].findings.find("stream-incomplete"), std::string::npos)
      << records[0].findings;
}

TEST_F(TranslatingGatewayTest, ResponsesAndGeminiRunOnAChatUpstream) {
  Reply r = Send("/v1/responses", R"({"model":"gpt-5-codex","input":"hi","stream":true})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("event: response.completed\n"), std::string::npos) << r.body;
  Reply g = Send("/v1beta/models/gemini-2.5-pro:generateContent",
                 R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})");
  EXPECT_EQ(g.status, 200) << g.body;
  EXPECT_NE(g.body.find("\"finishReason\":\"STOP\""), std::string::npos) << g.body;
  Reply gs = Send("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                  R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})");
  EXPECT_EQ(gs.status, 200) << gs.body;
  EXPECT_NE(gs.body.find("\"finishReason\":\"STOP\""), std::string::npos) << gs.body;
  for (const auto& rec : received()) EXPECT_EQ(rec.path, "/v1/chat/completions");
}

TEST_F(TranslatingGatewayTest, UntranslatableRequestsAreRefusedInTheClientsFormatAndLogged) {
  Reply r = Send(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("'document' block"), std::string::npos) << r.body;
  EXPECT_TRUE(received().empty());
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].findings.find("gate/refused-untranslatable"), std::string::npos);
}

// A server tool merely offered is left out of the offer, and the log says so.
TEST_F(TranslatingGatewayTest, OfferedServerToolsAreLeftOutAndLogged) {
  Reply r = Send(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].findings.find("gate/translation-dropped"), std::string::npos)
      << records[0].findings;
  EXPECT_NE(records[0].findings.find("web_search_20250305"), std::string::npos)
      << records[0].findings;
}

TEST_F(TranslatingGatewayTest, UpstreamErrorsComeBackInTheClientsFormat) {
  Reply r = Send(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
      {{"x-fake-fault", "429"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("\"type\":\"rate_limit_error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("upstream local: "), std::string::npos) << r.body;
}

// "/local/v1/messages": an agent pointed at the Chat-only upstream's path
// prefix is translated too (no route needed).
TEST_F(TranslatingGatewayTest, APathPrefixToAChatOnlyUpstreamIsTranslated) {
  Reply r = Send(
      "/local/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"type\":\"message\""), std::string::npos) << r.body;
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/v1/chat/completions");
}

TEST_F(TranslatingGatewayTest, CountTokensIsAnsweredLocallyAsAnEstimate) {
  Reply r = Send(
      "/v1/messages/count_tokens",
      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hello, how are you today?"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"input_tokens\":"), std::string::npos);
  EXPECT_TRUE(received().empty());
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].findings.find("gate/token-estimate"), std::string::npos);
}

// Merge with the gate's budgets (Reserve/Settle): a translated stream is
// charged what the Chat upstream reported (its include_usage chunk, carried
// into message_delta), not an estimate.
TEST_F(TranslatingGatewayTest, ATranslatedStreamIsChargedTheUsageTheUpstreamReported) {
  Reply r = Send(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_GT(records[0].input_tokens, 0);
  EXPECT_GT(records[0].output_tokens, 0);
  EXPECT_EQ(records[0].findings.find("gate/usage-estimated"), std::string::npos)
      << records[0].findings;
}

// A count_tokens answered by the gate forwards nothing, so charges nothing.
TEST_F(TranslatingGatewayTest, ALocalTokenCountChargesNothing) {
  Reply r = Send(
      "/v1/messages/count_tokens",
      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"a long question"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  auto records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].input_tokens, 0);
  EXPECT_EQ(records[0].output_tokens, 0);
  EXPECT_EQ(records[0].findings.find("gate/usage-estimated"), std::string::npos)
      << records[0].findings;
}

// Merge with the gate's reload: a configuration whose route names an
// upstream it does not define is refused like at start, and the running
// routes stay.
TEST_F(TranslatingGatewayTest, AReloadWithARouteToAnUnknownUpstreamIsRefused) {
  GateConfig config = DefaultGateConfig();
  config.listen = "127.0.0.1:0";
  ASSERT_TRUE(ApplyRouteFlag(&config, "claude-*=nowhere:some-model", false).ok());
  Status st = gateway_->Reload(std::move(config));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nowhere"), std::string::npos) << st.message();
  Reply r = Send(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(received().size(), 1u);
  EXPECT_EQ(received()[0].path, "/v1/chat/completions");
}

}  // namespace
}  // namespace glassbox::gate
