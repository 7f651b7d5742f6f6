// Gateway in process: a FakeProvider upstream on 127.0.0.1:0, the gateway in
// front of it, the net client as the agent. Checks what reached the upstream,
// what came back, and what the audit log holds.
#include "gate/gateway.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "gate/audit_log.h"
#include "gate/body_store.h"
#include "gate/config.h"
#include "net/event_loop.h"
#include "net/fake_provider.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace glassbox::gate {
namespace {

using namespace std::chrono_literals;

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = ::testing::TempDir() + "/gateway_test_" + std::to_string(getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db";
    std::remove(log_path_.c_str());
    auto upstream = net::HttpServer::Start(
        loop_, {}, [this](net::HttpRequest req, std::shared_ptr<net::ResponseWriter> w) {
          if (upstream_override_ && upstream_override_(req, w)) return;
          std::vector<std::pair<std::string, std::string>> headers;
          for (const auto& f : req.headers.fields()) headers.emplace_back(f.name, f.value);
          std::string target = req.path + (req.query.empty() ? "" : "?" + req.query);
          {
            std::lock_guard lock(mu_);
            received_.push_back(req.body);
          }
          net::ResponsePlan plan = provider_.Plan(req.method, target, headers, req.body);
          net::Headers out;
          for (const auto& [n, v] : plan.headers) out.Add(n, v);
          if (plan.streaming) {
            w->StartStream(plan.status, out);
            for (const auto& c : plan.chunks) w->Write(c.bytes);
            w->Finish();
            return;
          }
          net::HttpResponse r;
          r.status = plan.status;
          r.headers = out;
          r.body = plan.Body();
          w->Respond(std::move(r));
        });
    ASSERT_TRUE(upstream.ok());
    upstream_ = std::move(upstream.value());
    std::string base = "http://127.0.0.1:" + std::to_string(upstream_->port());

    GatewayOptions options;
    options.config = DefaultGateConfig();
    options.config.listen = "127.0.0.1:0";
    for (const char* name : {"anthropic", "openai", "gemini"}) {
      ASSERT_TRUE(ApplyUpstreamFlag(&options.config, std::string(name) + "=" + base).ok());
    }
    // Payloads of this route are not logged (CleanBodiesAreForwarded... tests
    // the logged case on anthropic.messages).
    options.config.unlogged_routes.push_back("openai.embeddings");
    options.log_path = log_path_;
    options.io_threads = 1;
    options.max_client_backlog_bytes = size_t{4} << 20;  // AClientThatStopsReading...
    options.secret_scan_fault = [this](std::string_view) {
      return fail_scans_.load() ? Status::Error("injected engine failure") : Status::Ok();
    };
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
    size_t pieces = 0;
    Status status_of_transfer;
  };
  Reply Send(std::string method, std::string target, std::string body, net::Headers headers = {}) {
    net::Url url;
    std::string error;
    EXPECT_TRUE(
        net::ParseUrl("http://127.0.0.1:" + std::to_string(gateway_->port()), &url, &error));
    auto reply = std::make_shared<Reply>();
    auto done = std::make_shared<std::promise<void>>();
    net::ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.headers.Add("Content-Type", "application/json");
    net::ClientCallbacks cb;
    cb.on_headers = [reply](const net::ResponseHead& h) { reply->status = h.status; };
    cb.on_body = [reply](std::string_view b) {
      reply->body.append(b);
      ++reply->pieces;
    };
    cb.on_complete = [reply, done](Status st) {
      reply->status_of_transfer = std::move(st);
      done->set_value();
    };
    client_->Send(url, std::move(req), std::move(cb));
    EXPECT_EQ(done->get_future().wait_for(10s), std::future_status::ready);
    return *reply;
  }
  // When set and returning true, answers in place of the fake provider.
  std::function<bool(const net::HttpRequest&, std::shared_ptr<net::ResponseWriter>)>
      upstream_override_;

  std::vector<std::string> Received() {
    std::lock_guard lock(mu_);
    return received_;
  }

  std::atomic<bool> fail_scans_{false};  // every secret scan fails (issue 20)
  net::EventLoop loop_{1};
  net::FakeProvider provider_;
  std::mutex mu_;
  std::vector<std::string> received_;
  std::unique_ptr<net::HttpServer> upstream_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<net::HttpClient> client_;
  std::string log_path_;
};

constexpr const char* kSecretBody =
    R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"key AKIAIOSFODNN7EXAMPLF and ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}]})";

// A clean request is forwarded byte for byte, logged as it left, with the
// hash of those bytes (computed on the log thread while the upstream
// answered), over several requests on one connection.
TEST_F(GatewayTest, CleanBodiesAreForwardedUnchangedAndHashedOnce) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) {
    bodies.push_back(
        R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"tell me )" +
        std::string(static_cast<size_t>(1000 * (i + 1)), static_cast<char>('a' + i)) + R"("}]})");
    Reply r = Send("POST", "/v1/messages", bodies.back(), {{"anthropic-version", "2023-06-01"}});
    ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
    EXPECT_EQ(r.status, 200) << r.body;
  }
  auto received = Received();
  ASSERT_EQ(received.size(), bodies.size());
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(received[i], bodies[i]);
    EXPECT_EQ((*records)[i].request_body.value_or(""), bodies[i]);
    EXPECT_EQ((*records)[i].request_sha256, Sha256Hex(bodies[i])) << i;
  }
  EXPECT_TRUE((*log)->Verify()->intact);
}

// Issue 20: a secret-scan error on the data path refuses the request in the
// provider's format, and the refusal is logged; nothing reaches the upstream.
TEST_F(GatewayTest, RegressionIssue20_ScanErrorRefusesAndIsLogged) {
  fail_scans_ = true;
  Reply r = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  fail_scans_ = false;
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("\"type\":\"error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("could not check this request"), std::string::npos) << r.body;
  EXPECT_TRUE(Received().empty()) << "nothing was forwarded";
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].status, 500);
  EXPECT_NE((*records)[0].findings.find("gate/refused-scan-failed"), std::string::npos)
      << (*records)[0].findings;
  // The next request, with the engine working again, is redacted and forwarded.
  Reply ok = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(ok.status, 200);
  ASSERT_EQ(Received().size(), 1u);
  EXPECT_EQ(Received()[0].find("ghp_0123456789"), std::string::npos);
}

// An unlogged route: the record keeps the hash of the request, never its
// bytes, and the bytes still reach the upstream unchanged.
// A large request body is stored ahead of its record while the upstream
// answers (the commit then writes a small row); it reads back, hashes and
// verifies exactly like an inline one.
TEST_F(GatewayTest, LargeBodiesAreStoredAheadAndReadBackWhole) {
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"summarise )" +
      std::string(100000, 'w') + R"("}]})";
  Reply r = Send("POST", "/v1/messages", body, {{"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 200) << r.body;
  auto received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], body);
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].request_body.value_or(""), body);
  EXPECT_EQ((*records)[0].request_sha256, Sha256Hex(body));
  EXPECT_TRUE((*log)->Verify()->intact);
  // It went the store-ahead way: the row names a body in the body store,
  // and the database holds no copy of it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(log_path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT request_body IS NULL, request_body_at FROM records", -1,
                               &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  const int64_t at = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(BodyStore::SegmentOf(at), 1u);
  EXPECT_GE(std::filesystem::file_size(log_path_ + "-bodies/00000001.seg"), body.size());
}

// A second writer holding the log's body store (another gate on the same
// log) does not stop the gate: a large body then goes into its record, the
// metrics count it, and the chain stays whole.
TEST_F(GatewayTest, ABodyStoreHeldElsewhereKeepsBodiesInline) {
  auto other = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(other.ok());
  // The gate has stored nothing yet, so this writer takes the store's lock.
  ASSERT_TRUE((*other)->StoreRequestBody("{}", /*screened=*/true, "").ok());
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"held )" +
      std::string(40000, 'h') + R"("}]})";
  Reply r = Send("POST", "/v1/messages", body, {{"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(gateway_->MetricsText().find("glassbox_gate_log_bodies_kept_inline_total 1"),
            std::string::npos);
  auto records = (*other)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].request_body.value_or(""), body);
  EXPECT_EQ((*records)[0].request_body_at, 0);
  EXPECT_TRUE((*other)->Verify()->intact);
}

// Records are committed by the thread that finishes an exchange when the log
// is idle and by the log thread when it is busy: under concurrent requests of
// both sizes, both ways mix, and every exchange is recorded whole, once, in
// an intact chain, before its client saw the response.
TEST_F(GatewayTest, ConcurrentExchangesAreAllRecordedInOneIntactChain) {
  net::Url url;
  std::string error;
  ASSERT_TRUE(net::ParseUrl("http://127.0.0.1:" + std::to_string(gateway_->port()), &url, &error));
  constexpr int kRequests = 40;
  std::vector<std::string> bodies;
  std::vector<std::future<int>> statuses;
  for (int i = 0; i < kRequests; ++i) {
    bodies.push_back(
        R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"n)" +
        std::to_string(i) + " " + std::string(i % 3 == 0 ? 40000 : 10, 'w') + R"("}]})");
  }
  for (int i = 0; i < kRequests; ++i) {
    auto done = std::make_shared<std::promise<int>>();
    statuses.push_back(done->get_future());
    auto status = std::make_shared<int>(0);
    net::ClientRequest req;
    req.method = "POST";
    req.target = "/v1/messages";
    req.body = bodies[static_cast<size_t>(i)];
    req.headers.Add("Content-Type", "application/json");
    req.headers.Add("anthropic-version", "2023-06-01");
    net::ClientCallbacks cb;
    cb.on_headers = [status](const net::ResponseHead& h) { *status = h.status; };
    cb.on_complete = [status, done](Status st) { done->set_value(st.ok() ? *status : -1); };
    client_->Send(url, std::move(req), std::move(cb));
  }
  for (auto& f : statuses) {
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
    EXPECT_EQ(f.get(), 200);
  }
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), static_cast<size_t>(kRequests));
  std::set<std::string> want, got;
  for (const std::string& b : bodies) want.insert(b);
  for (const AuditRecord& r : *records) {
    ASSERT_TRUE(r.request_body.has_value());
    EXPECT_EQ(r.request_sha256, Sha256Hex(*r.request_body));
    got.insert(*r.request_body);
  }
  EXPECT_EQ(got, want);
  EXPECT_TRUE((*log)->Verify()->intact);
}

TEST_F(GatewayTest, UnloggedRouteKeepsTheHashButNotTheBody) {
  const std::string body = R"({"model":"text-embedding-3-small","input":"private notes )" +
                           std::string(3000, 'n') + R"("})";
  Reply r = Send("POST", "/v1/embeddings", body, {{"Authorization", "Bearer sk-test"}});
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 200) << r.body;
  auto received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], body);
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_FALSE((*records)[0].request_body.has_value());
  EXPECT_FALSE((*records)[0].response_body.has_value());
  EXPECT_EQ((*records)[0].request_sha256, Sha256Hex(body));
  EXPECT_TRUE((*log)->Verify()->intact);
}

TEST_F(GatewayTest, RedactsSecretsBeforeTheyLeaveAndLogsTheExchange) {
  Reply r = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"content\""), std::string::npos);
  auto received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].find("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"), std::string::npos)
      << received[0];
  EXPECT_NE(received[0].find("REDACTED"), std::string::npos) << received[0];

  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  const AuditRecord& rec = records->front();
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.upstream, "anthropic");
  EXPECT_EQ(rec.model, "claude-sonnet-4-5");
  EXPECT_GT(rec.output_tokens, 0);
  EXPECT_NE(rec.findings.find("secret/"), std::string::npos);
  // The hash of the body as the agent sent it, before redaction.
  EXPECT_EQ(rec.request_sha256, Sha256Hex(kSecretBody));
  EXPECT_NE(rec.request_body.value_or("").find("REDACTED"), std::string::npos);
  auto verify = (*log)->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->intact);
}

TEST_F(GatewayTest, StreamsAreForwardedAndRecorded) {
  Reply r = Send(
      "POST", "/v1/chat/completions",
      R"({"model":"gpt-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.status_of_transfer.ok()) << r.status_of_transfer.message();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("data: [DONE]"), std::string::npos) << r.body;
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front().path, "/v1/chat/completions");
  ASSERT_TRUE(records->front().response_body.has_value());
  EXPECT_NE(records->front().response_body->find("[DONE]"), std::string::npos);
}

TEST_F(GatewayTest, RefusalsUseTheProviderFormatAndAreLogged) {
  Reply unknown = Send("GET", "/v2/whatever", "");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("\"error\""), std::string::npos);
  Reply key = Send(
      "POST", "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"}]})",
      {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(key.status, 403) << key.body;
  EXPECT_NE(key.body.find("\"type\":\"error\""), std::string::npos) << key.body;
  Reply bad = Send("POST", "/v1/messages", "{not json", {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(Received().empty());  // nothing left the gate
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].request_sha256,
            Sha256Hex(""));  // GET with no body, refused before the policy
  std::string metrics = gateway_->MetricsText();
  EXPECT_NE(metrics.find("glassbox_gate_refusals_total"), std::string::npos);
  EXPECT_NE(metrics.find("glassbox_gate_requests_total{route=\"unknown\",status=\"404\"} 1"),
            std::string::npos)
      << metrics;
  // SQLite acknowledges only what it committed.
  EXPECT_NE(metrics.find("glassbox_gate_log_records_lost_total 0"), std::string::npos) << metrics;
  EXPECT_EQ(Send("GET", "/_glassbox/health", "").body, "{\"status\":\"ok\"}");
}

// The count and the sum of one phase in glassbox_gate_phase_seconds.
std::pair<uint64_t, double> PhaseSeen(const std::string& metrics, const std::string& phase) {
  auto value = [&](const std::string& series) -> std::string {
    const std::string key = "glassbox_gate_phase_seconds_" + series + "{phase=\"" + phase + "\"} ";
    const size_t at = metrics.find(key);
    if (at == std::string::npos) return "";
    return metrics.substr(at + key.size(), metrics.find('\n', at) - at - key.size());
  };
  const std::string count = value("count"), sum = value("sum");
  if (count.empty() || sum.empty()) return {0, -1};
  return {std::stoull(count), std::stod(sum)};
}

// Each phase of an exchange is timed once in the metrics, the upstream's
// own time in `upstream` and not in the gate's phases; a request refused
// before forwarding has no upstream phases.
TEST_F(GatewayTest, ThePhasesOfAnExchangeAreTimedInTheMetrics) {
  upstream_override_ = [this](const net::HttpRequest&, std::shared_ptr<net::ResponseWriter> w) {
    loop_.PostAfter(30ms, [w] {
      net::HttpResponse r;
      r.headers.Add("Content-Type", "application/json");
      r.body =
          R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}})";
      w->Respond(std::move(r));
    });
    return true;
  };
  Reply r = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  // The respond phase ends after the answer is handed over: wait for it.
  std::string metrics;
  for (int i = 0; i < 200; ++i) {
    metrics = gateway_->MetricsText();
    if (PhaseSeen(metrics, "respond").first == 1) break;
    std::this_thread::sleep_for(5ms);
  }
  for (const char* phase :
       {"request_read", "outbound", "upstream", "upstream_body", "inbound", "log", "respond"}) {
    EXPECT_EQ(PhaseSeen(metrics, phase).first, 1u) << phase << "\n" << metrics;
  }
  EXPECT_GE(PhaseSeen(metrics, "upstream").second, 0.030) << metrics;
  for (const char* phase : {"request_read", "outbound", "inbound", "log"})
    EXPECT_LT(PhaseSeen(metrics, phase).second, 0.030) << phase << "\n" << metrics;

  Reply unknown = Send("GET", "/v2/whatever", "");
  EXPECT_EQ(unknown.status, 404);
  for (int i = 0; i < 200; ++i) {
    metrics = gateway_->MetricsText();
    if (PhaseSeen(metrics, "respond").first == 2) break;
    std::this_thread::sleep_for(5ms);
  }
  for (const char* phase : {"request_read", "log", "respond"})
    EXPECT_EQ(PhaseSeen(metrics, phase).first, 2u) << phase << "\n" << metrics;
  for (const char* phase : {"outbound", "upstream", "upstream_body", "inbound"})
    EXPECT_EQ(PhaseSeen(metrics, phase).first, 1u) << phase << "\n" << metrics;
}

// An upstream that reports no usage is charged an input estimate from the
// bytes forwarded (about 4 a token): the original's, which the gateway
// forwards without a copy of its own.
TEST_F(GatewayTest, UnreportedUsageIsEstimatedFromTheBytesForwarded) {
  upstream_override_ = [](const net::HttpRequest&, std::shared_ptr<net::ResponseWriter> w) {
    net::HttpResponse r;
    r.headers.Add("Content-Type", "application/json");
    r.body =
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn"})";
    w->Respond(std::move(r));
    return true;
  };
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":")" +
      std::string(40000, 'x') + R"("}]})";
  Reply r = Send("POST", "/v1/messages", body, {{"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].input_tokens, static_cast<int64_t>((body.size() + 3) / 4));
  EXPECT_NE((*records)[0].findings.find("gate/usage-estimated"), std::string::npos);
  EXPECT_EQ((*records)[0].request_sha256, Sha256Hex(body));
}

TEST_F(GatewayTest, HeadSlashIsALivenessCheckAndNotLogged) {
  Reply head = Send("HEAD", "/", "");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(Received().empty());
  auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST_F(GatewayTest, UnreachableUpstreamIsA502InTheProviderFormatWithOnePrefix) {
  gateway_.reset();
  GatewayOptions options;
  options.config = DefaultGateConfig();
  options.config.listen = "127.0.0.1:0";
  ASSERT_TRUE(ApplyUpstreamFlag(&options.config, "anthropic=http://127.0.0.1:1").ok());
  options.log_path = log_path_;
  options.io_threads = 1;
  auto gw = Gateway::Start(std::move(options));
  ASSERT_TRUE(gw.ok()) << gw.status().message();
  gateway_ = std::move(gw.value());
  Reply r = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.body.find("\"type\":\"error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("glassbox gate: "), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("glassbox gate: glassbox gate"), std::string::npos) << r.body;
}

TEST_F(GatewayTest, RetentionIsAppliedAtStartUpAndTheChainStillVerifies) {
  const std::string path = log_path_ + ".retention.db";
  std::remove(path.c_str());
  {
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
    ASSERT_TRUE(log.ok());
    for (const char* time :
         {"2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"}) {
      AuditRecord r;
      r.time = time;
      r.user = "alice";
      r.method = "POST";
      r.path = "/v1/messages";
      r.status = 200;
      ASSERT_TRUE((*log)->Append(std::move(r)).ok());
    }
  }
  GatewayOptions options;
  options.config = DefaultGateConfig();
  options.config.listen = "127.0.0.1:0";
  options.config.retention.records = 1;
  options.log_path = path;
  options.io_threads = 1;
  auto gw = Gateway::Start(std::move(options));
  ASSERT_TRUE(gw.ok()) << gw.status().message();
  gw.value().reset();

  auto log = AuditLog::Open(path, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok());
  auto records = (*log)->List();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].time, "2020-01-03T00:00:00Z");
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact) << verified->reason;
  EXPECT_GT(verified->anchor_id, 0);
  std::remove(path.c_str());
}

// A client that sends a streaming request and then never reads: the gate
// holds at most max_client_backlog_bytes (4 MB here) of the 48 MB stream,
// then closes the connection, cancels the upstream request and records the
// exchange, and keeps serving others.
TEST_F(GatewayTest, AClientThatStopsReadingIsCutOffNotBufferedWithoutBound) {
  upstream_override_ = [](const net::HttpRequest&, std::shared_ptr<net::ResponseWriter> w) {
    net::Headers h;
    h.Add("Content-Type", "text/event-stream");
    w->StartStream(200, h);
    const std::string event =
        "event: content_block_delta\ndata: "
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\"" +
        std::string(64 * 1024, 'x') + "\"}}\n\n";
    for (int i = 0; i < 768; ++i) w->Write(event);  // about 48 MB
    w->Finish();
    return true;
  };
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(gateway_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]})";
  const std::string request =
      "POST /v1/messages HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
      "anthropic-version: 2023-06-01\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // Never read: wait for the record of the exchange.
  std::vector<AuditRecord> records;
  for (int i = 0; i < 200 && records.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    auto log = AuditLog::Open(log_path_, AuditLog::OpenMode::kExisting);
    if (!log.ok()) continue;
    auto listed = (*log)->List();
    if (listed.ok()) records = std::move(listed.value());
  }
  close(fd);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, 499);
  EXPECT_NE(records[0].findings.find("gate/client-too-slow"), std::string::npos)
      << records[0].findings;
  EXPECT_EQ(records[0].findings.find("gate/client-gone"), std::string::npos) << records[0].findings;
  // The gate keeps serving.
  upstream_override_ = nullptr;
  Reply r = Send(
      "POST", "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})",
      {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace glassbox::gate

namespace glassbox::gate {
namespace {

// Issue 17: a reload that does not build is refused and the running
// configuration kept; one that builds takes effect for new exchanges
// without a restart.
TEST_F(GatewayTest, RegressionIssue17_ReloadRefusesABadConfigAndKeepsTheOld) {
  GateConfig broken = DefaultGateConfig();
  broken.listen = "127.0.0.1:0";
  UserConfig nokey;
  nokey.name = "mallory";
  broken.users.push_back(nokey);  // a user without a key does not build
  Status refused = gateway_->Reload(broken);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("mallory"), std::string::npos) << refused.message();
  Reply before = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(before.status, 200) << "the old configuration still serves";

  GateConfig moved = DefaultGateConfig();
  moved.listen = "127.0.0.1:9";
  EXPECT_FALSE(gateway_->Reload(moved).ok()) << "a new listen address needs a restart";

  // Disabling the anthropic upstream takes effect at once.
  GateConfig now = DefaultGateConfig();
  now.listen = "127.0.0.1:0";
  for (UpstreamConfig& u : now.upstreams) {
    if (u.name == "anthropic") u.enabled = false;
  }
  ASSERT_TRUE(gateway_->Reload(now).ok());
  Reply after = Send("POST", "/v1/messages", kSecretBody, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(after.status, 403) << after.body;
  EXPECT_NE(gateway_->MetricsText().find("glassbox_gate_reloads_total{result=\"ok\"} 1"),
            std::string::npos);
  EXPECT_NE(gateway_->MetricsText().find("glassbox_gate_reloads_total{result=\"refused\"} 2"),
            std::string::npos);
}

}  // namespace
}  // namespace glassbox::gate
