// HttpServer and HttpClient over 127.0.0.1:0: full and streamed responses,
// keep-alive reuse, limits, client-gone, cancel, TLS, CONNECT tunnels,
// sniffing, absolute-form targets; the Beast-free value types.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "net/http.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/tls.h"

namespace glassbox::net {
namespace {

using namespace std::chrono_literals;

// A blocking raw TCP client, to send exact bytes.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `needle` appears or EOF/timeout.
  std::string ReadUntil(std::string_view needle) {
    std::string out;
    char buf[4096];
    while (out.find(needle) == std::string::npos) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  std::string ReadAll() { return ReadUntil(std::string_view("\x01\x02\x03never", 8)); }
  // Waits for the peer's first reply bytes (or its hang-up, or the 5 s timeout).
  std::string ReadSome() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A blocking scripted HTTP/1.1 server on 127.0.0.1:0 for the client's
// connection handling: the n-th request it reads (over all connections, one
// connection at a time) gets plan[n]: an answer with keep-alive, an answer
// and then a close, or a close without an answer.
class ScriptedServer {
 public:
  // kInterimThenAnswer sends "100 Continue" and "103 Early Hints" before the answer.
  enum class Action { kAnswer, kAnswerThenClose, kCloseSilently, kInterimThenAnswer };
  explicit ScriptedServer(std::vector<Action> plan) : plan_(std::move(plan)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  bool saw_expect() const { return saw_expect_.load(); }
  // Waits up to `timeout` until the server has closed `n` connections;
  // false when it has not.
  bool WaitForClosed(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return closed_cv_.wait_for(lock, timeout, [&] { return closed_ >= n; });
  }

 private:
  void Run() {
    for (;;) {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Serve(fd);
      close(fd);
      {
        std::lock_guard lock(mu_);
        ++closed_;
      }
      closed_cv_.notify_all();
    }
  }
  // Sends FIN and waits (up to 5 s) until the client's kernel has
  // acknowledged it: from then on the client reads end of stream on this
  // connection, so a test knows the hang-up has arrived.
  static void HangUp(int fd) {
    shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      tcp_info info{};
      socklen_t len = sizeof info;
      if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
          info.tcpi_state != TCP_FIN_WAIT1)
        return;
      std::this_thread::sleep_for(1ms);
    }
  }
  // Serves requests on one connection until the plan says close (or EOF).
  void Serve(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<size_t>(n));
      }
      size_t length = 0;
      const size_t cl = in.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
      while (in.size() < head_end + 4 + length) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<size_t>(n));
      }
      if (in.substr(0, head_end).find("\r\nExpect:") != std::string::npos) saw_expect_ = true;
      in.erase(0, head_end + 4 + length);
      const int n = requests_++;
      const Action action =
          n < static_cast<int>(plan_.size()) ? plan_[static_cast<size_t>(n)] : Action::kAnswer;
      if (action == Action::kCloseSilently) return;
      const std::string body = "answer " + std::to_string(n);
      if (action == Action::kInterimThenAnswer) {
        const std::string interim =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";
        ::send(fd, interim.data(), interim.size(), MSG_NOSIGNAL);
      }
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
      if (action == Action::kAnswerThenClose) return HangUp(fd);
    }
  }

  std::vector<Action> plan_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> requests_{0}, connections_{0};
  std::atomic<bool> saw_expect_{false};
  std::mutex mu_;
  std::condition_variable closed_cv_;
  int closed_ = 0;  // guarded by mu_
  std::thread thread_;
};

struct Collected {
  std::promise<void> done;
  ResponseHead head;
  std::string body;
  Status status;
  std::vector<std::string> pieces;
};

ClientCallbacks Collect(std::shared_ptr<Collected> c) {
  ClientCallbacks cb;
  cb.on_headers = [c](const ResponseHead& h) { c->head = h; };
  cb.on_body = [c](std::string_view b) {
    c->body.append(b);
    c->pieces.emplace_back(b);
  };
  cb.on_complete = [c](Status s) {
    c->status = std::move(s);
    c->done.set_value();
  };
  return cb;
}

// The first flight of a real TLS client asking for `sni` (a ClientHello),
// made with memory BIOs so the test can send it over a raw socket.
std::string ClientHello(const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, sni);
  SSL_do_handshake(ssl);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

Url Local(uint16_t port, const char* scheme = "http") {
  Url url;
  std::string error;
  EXPECT_TRUE(ParseUrl(std::string(scheme) + "://127.0.0.1:" + std::to_string(port), &url, &error))
      << error;
  return url;
}

TEST(HttpValues, HeadersAreOrderedAndCaseInsensitive) {
  Headers h;
  h.Add("X-One", "1");
  h.Add("content-type", "a");
  h.Add("X-ONE", "2");
  EXPECT_EQ(h.Get("x-one"), "1");
  EXPECT_EQ(h.Get("Content-Type"), "a");
  h.Set("x-one", "3");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.fields()[0].value, "3");
  EXPECT_EQ(h.Remove("CONTENT-TYPE"), 1u);
  EXPECT_FALSE(h.Has("content-type"));
  EXPECT_FALSE(IsValidHeaderValue("a\r\nX-Injected: 1"));
  EXPECT_FALSE(IsValidHeaderName("Bad Name"));
}

TEST(HttpValues, ParsesTargetsAndUrls) {
  ParsedTarget t;
  ASSERT_TRUE(ParseRequestTarget("GET", "/v1/models?x=1", &t));
  EXPECT_EQ(t.path, "/v1/models");
  EXPECT_EQ(t.query, "x=1");
  ASSERT_TRUE(ParseRequestTarget("GET", "http://api.example.com:8080/a/b?c", &t));
  EXPECT_TRUE(t.absolute_form);
  EXPECT_EQ(t.authority, "api.example.com:8080");
  EXPECT_EQ(t.path, "/a/b");
  ASSERT_TRUE(ParseRequestTarget("CONNECT", "api.example.com:443", &t));
  EXPECT_EQ(t.authority, "api.example.com:443");
  EXPECT_FALSE(ParseRequestTarget("GET", "ftp://x/y", &t));

  Url u;
  std::string error;
  ASSERT_TRUE(ParseUrl("https://api.anthropic.com", &u, &error));
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.Origin(), "https://api.anthropic.com");
  ASSERT_TRUE(ParseUrl("http://[::1]:8080/base/", &u, &error));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.base_path, "/base");
  EXPECT_EQ(u.HostHeader(), "[::1]:8080");
  EXPECT_FALSE(ParseUrl("api.anthropic.com", &u, &error));
  EXPECT_NE(error.find("api.anthropic.com"), std::string::npos);
  EXPECT_FALSE(ParseUrl("http://h:99999", &u, &error));
}

TEST(HttpParse, ParseRequestBytesAppliesLimits) {
  ServerOptions opt;
  size_t used = 0;
  int status = 0;
  auto ok = ParseRequestBytes(
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", opt, &used, &status);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->body, "{}");
  EXPECT_EQ(ok->host, "x");
  opt.max_body_bytes = 1;
  auto big = ParseRequestBytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", opt,
                               &used, &status);
  EXPECT_FALSE(big.ok());
  EXPECT_EQ(status, 413);
  auto bad = ParseRequestBytes("GARBAGE\r\n\r\n", opt, &used, &status);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(status, 400);
  auto nohost = ParseRequestBytes("GET / HTTP/1.1\r\n\r\n", opt, &used, &status);
  EXPECT_FALSE(nohost.ok());
}

// fuzz_http found it: a body shorter than Content-Length made the parse loop
// spin forever instead of saying that more bytes are needed.
TEST(HttpParse, PartialBodyIsIncompleteNotAHang) {
  ServerOptions opt;
  opt.max_body_bytes = 192;
  size_t used = 0;
  int status = 0;
  auto partial = ParseRequestBytes(
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{}", opt, &used, &status);
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("more bytes"), std::string::npos)
      << partial.status().message();
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Handler handler, ServerOptions options = {}) {
    auto server = HttpServer::Start(loop_, std::move(options), std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server.value());
    auto client = HttpClient::Create(loop_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client.value());
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    loop_.Stop();
  }
  std::shared_ptr<Collected> Fetch(const Url& url, ClientRequest req) {
    auto c = std::make_shared<Collected>();
    client_->Send(url, std::move(req), Collect(c));
    EXPECT_EQ(c->done.get_future().wait_for(10s), std::future_status::ready);
    return c;
  }

  EventLoop loop_{2};
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ServerTest, FullResponseAndKeepAliveReuse) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    HttpResponse r;
    r.headers.Add("Content-Type", "text/plain");
    r.headers.Add("X-Evil", "a\r\nInjected: 1");  // dropped: would split the header
    r.body =
        req.method + " " + req.path + " " + req.query + " " + req.body + " " + req.connection.peer;
    w->Respond(std::move(r));
  });
  ClientRequest req;
  req.method = "POST";
  req.target = "/v1/messages?beta=true";
  req.body = "hello";
  auto a = Fetch(Local(server_->port()), req);
  ASSERT_TRUE(a->status.ok()) << a->status.message();
  EXPECT_EQ(a->head.status, 200);
  EXPECT_EQ(a->body.substr(0, 35), "POST /v1/messages beta=true hello 1");
  EXPECT_FALSE(a->head.headers.Has("Injected"));
  EXPECT_FALSE(a->head.headers.Has("X-Evil"));
  auto b = Fetch(Local(server_->port()), req);
  ASSERT_TRUE(b->status.ok());
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(client_->stats().connections_reused, 1u);
  EXPECT_EQ(server_->stats().requests, 2u);
}

// A large body arrives whole, whatever the reads' sizes (the server makes
// room for up to 64 KB per read; the client for its 16 KB body buffer).
TEST_F(ServerTest, LargeBodiesArriveWholeBothWays) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    HttpResponse r;
    r.body = req.body + req.body;
    w->Respond(std::move(r));
  });
  std::string big;
  for (size_t i = 0; big.size() < 300000; ++i) big += std::to_string(i) + ',';
  for (int round = 0; round < 3; ++round) {  // keep-alive: the buffers shrink and grow again
    ClientRequest req;
    req.method = "POST";
    req.target = "/echo";
    req.body = round == 1 ? std::string("small") : big;
    auto a = Fetch(Local(server_->port()), req);
    ASSERT_TRUE(a->status.ok()) << a->status.message();
    EXPECT_TRUE(a->body == req.body + req.body)
        << "round " << round << ": " << a->body.size() << " bytes";
  }
  EXPECT_EQ(client_->stats().connections_opened, 1u);
}

// A shared body is sent as it is, and the caller's bytes stay as they were
// while the client holds them (the gateway forwards and logs one copy).
TEST_F(ServerTest, ASharedBodyIsSentWithoutTakingItFromTheCaller) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    HttpResponse r;
    r.body = std::to_string(req.body.size()) + ":" + req.body.substr(0, 8) + ":" +
             req.body.substr(req.body.size() - 8);
    w->Respond(std::move(r));
  });
  std::string big;
  for (size_t i = 0; big.size() < 200000; ++i) big += std::to_string(i) + ',';
  auto shared = std::make_shared<const std::string>(big);
  ClientRequest req;
  req.method = "POST";
  req.target = "/echo";
  req.body = "ignored: the shared body is sent";
  req.shared_body = shared;
  auto a = Fetch(Local(server_->port()), req);
  ASSERT_TRUE(a->status.ok()) << a->status.message();
  EXPECT_EQ(a->body,
            std::to_string(big.size()) + ":" + big.substr(0, 8) + ":" + big.substr(big.size() - 8));
  EXPECT_EQ(*shared, big);
}

// A pooled connection serves its next request on the thread that sends it
// (moved there when it was idle on the other), so the exchange's callbacks
// run on the caller's thread instead of hopping between threads.
TEST_F(ServerTest, PooledConnectionFollowsTheSendingThread) {
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> w) {
    HttpResponse r;
    r.body = "ok";
    w->Respond(std::move(r));
  });
  const Url url = Local(server_->port());
  auto send_from_loop = [&](std::thread::id* sender, std::thread::id* completer) {
    std::promise<void> done;
    loop_.Post([&] {
      *sender = std::this_thread::get_id();
      ClientCallbacks cb;
      cb.on_complete = [&, completer](Status s) {
        EXPECT_TRUE(s.ok()) << s.message();
        *completer = std::this_thread::get_id();
        done.set_value();
      };
      client_->Send(url, ClientRequest{}, std::move(cb));
    });
    ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  };
  std::thread::id first_sender, first_completer;
  send_from_loop(&first_sender, &first_completer);
  EXPECT_EQ(first_sender, first_completer);
  // Post() takes the loop's threads in turn: the next send comes from the other.
  std::thread::id sender, completer;
  for (int i = 0; i < 4 && sender == std::thread::id(); ++i) {
    std::thread::id s, c;
    send_from_loop(&s, &c);
    if (s != first_sender) {
      sender = s;
      completer = c;
    }
  }
  ASSERT_NE(sender, std::thread::id()) << "no send came from the loop's second thread";
  EXPECT_EQ(completer, sender);
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(server_->stats().requests, client_->stats().connections_reused + 1);
}

TEST_F(ServerTest, StreamsPiecesAsTheyAreWritten) {
  StartServer([this](HttpRequest, std::shared_ptr<ResponseWriter> w) {
    Headers h{{"Content-Type", "text/event-stream"}};
    w->StartStream(200, h);
    w->Write("data: one\n\n");
    loop_.PostAfter(50ms, [w] { w->Write("data: two\n\n"); });
    loop_.PostAfter(100ms, [w] {
      w->Write("data: three\n\n");
      w->Finish();
    });
  });
  auto c = Fetch(Local(server_->port()), ClientRequest{});
  ASSERT_TRUE(c->status.ok()) << c->status.message();
  EXPECT_EQ(c->body, "data: one\n\ndata: two\n\ndata: three\n\n");
  EXPECT_GE(c->pieces.size(), 3u);  // arrived separately, not buffered to the end
}

TEST_F(ServerTest, OversizedAndMalformedRequestsGetClearAnswers) {
  ServerOptions opt;
  opt.max_body_bytes = 10;
  opt.max_header_bytes = 1024;
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Respond(HttpResponse{}); },
              opt);
  {
    RawClient raw(server_->port());
    raw.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    std::string out = raw.ReadAll();
    EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 413") << out;
    EXPECT_NE(out.find("larger than"), std::string::npos);
  }
  {
    RawClient raw(server_->port());
    raw.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(raw.ReadAll().substr(0, 12), "HTTP/1.1 431");
  }
  {
    RawClient raw(server_->port());
    raw.Send("GET / HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n");
    EXPECT_EQ(raw.ReadAll().substr(0, 12), "HTTP/1.1 400");
  }
  // The server keeps serving.
  auto c = Fetch(Local(server_->port()), ClientRequest{});
  EXPECT_TRUE(c->status.ok());
  EXPECT_EQ(server_->stats().rejected_requests, 3u);
}

TEST_F(ServerTest, RejectHandlerMayAnswerLater) {
  ServerOptions opt;
  opt.max_body_bytes = 4;
  opt.on_reject = [this](const RejectedRequest& rejected, std::shared_ptr<ResponseWriter> w) {
    std::string body =
        std::to_string(rejected.status) + " " + rejected.method + " " + rejected.target;
    loop_.PostAfter(50ms, [w, body] {
      HttpResponse r;
      r.status = 413;
      r.body = body;
      w->Respond(std::move(r));
    });
  };
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Respond(HttpResponse{}); },
              opt);
  RawClient raw(server_->port());
  raw.Send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
  std::string out = raw.ReadAll();
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 413") << out;
  EXPECT_NE(out.find("413 POST /v1/messages"), std::string::npos) << out;
}

TEST_F(ServerTest, PipelinedRequestsAndExpectContinue) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    HttpResponse r;
    r.body = req.path + ":" + req.body;
    w->Respond(std::move(r));
  });
  RawClient raw(server_->port());
  raw.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = raw.ReadUntil("/b:");
  EXPECT_NE(out.find("/a:"), std::string::npos);
  EXPECT_NE(out.find("/b:"), std::string::npos);
  raw.Send("POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_NE(raw.ReadUntil("100 Continue\r\n\r\n").find("100 Continue"), std::string::npos);
  raw.Send("xyz");
  EXPECT_NE(raw.ReadUntil("/c:xyz").find("/c:xyz"), std::string::npos);
}

TEST_F(ServerTest, ClientGoneIsReportedAndCancelClosesUpstream) {
  std::promise<void> gone;
  std::atomic<bool> gone_set{false};
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> w) {
    w->StartStream(200, Headers{});
    w->Write("first");
    w->OnClientGone([&] {
      if (!gone_set.exchange(true)) gone.set_value();
    });
    // Never finishes: only the client going away ends this exchange.
  });
  auto c = std::make_shared<Collected>();
  auto got_first = std::make_shared<std::promise<void>>();
  ClientCallbacks cb = Collect(c);
  cb.on_body = [got_first, c](std::string_view) {
    if (c->pieces.empty()) got_first->set_value();
    c->pieces.emplace_back("x");
  };
  auto handle = client_->Send(Local(server_->port()), ClientRequest{}, cb);
  ASSERT_EQ(got_first->get_future().wait_for(5s), std::future_status::ready);
  handle->Cancel();
  ASSERT_EQ(c->done.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(c->status.ok());
  EXPECT_NE(c->status.message().find("cancelled"), std::string::npos);
  EXPECT_EQ(gone.get_future().wait_for(5s), std::future_status::ready);
}

// Regression (issue 4, last note): a POST on a pooled connection that the
// server read and then closed without answering may have been acted on; it
// must fail, not be sent a second time on a new connection.
// Issue 17: an upstream's interim 100 Continue was taken for the final
// answer (a record with status 100, and a client waiting for ever). Interim
// responses are skipped, and Expect is not forwarded.
TEST(ClientPool, RegressionIssue17_InterimResponsesAreSkippedAndExpectIsNotSent) {
  using Action = ScriptedServer::Action;
  ScriptedServer server({Action::kInterimThenAnswer, Action::kAnswer});
  EventLoop loop(1);
  auto client = HttpClient::Create(loop);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 2; ++i) {
    ClientRequest req;
    req.method = "POST";
    req.target = "/v1/messages";
    req.headers.Add("Expect", "100-continue");
    req.body = std::string(4096, 'x');
    auto c = std::make_shared<Collected>();
    (*client)->Send(Local(server.port()), std::move(req), Collect(c));
    ASSERT_EQ(c->done.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(c->status.ok()) << c->status.message();
    EXPECT_EQ(c->head.status, 200);
    EXPECT_EQ(c->body, "answer " + std::to_string(i))
        << "the final answer, on the same pooled connection";
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_FALSE(server.saw_expect());
  loop.Stop();
}

TEST(ClientPool, PostThatMayHaveArrivedIsNotSentTwice) {
  using Action = ScriptedServer::Action;
  ScriptedServer server({Action::kAnswer, Action::kCloseSilently});
  EventLoop loop(1);
  auto client = HttpClient::Create(loop);
  ASSERT_TRUE(client.ok());
  auto post = [&] {
    ClientRequest req;
    req.method = "POST";
    req.target = "/v1/messages";
    req.body = "{\"messages\":[]}";
    auto c = std::make_shared<Collected>();
    (*client)->Send(Local(server.port()), std::move(req), Collect(c));
    EXPECT_EQ(c->done.get_future().wait_for(10s), std::future_status::ready);
    return c;
  };
  auto first = post();
  ASSERT_TRUE(first->status.ok()) << first->status.message();
  auto second = post();  // on the pooled connection; the server reads it and hangs up
  EXPECT_FALSE(second->status.ok());
  EXPECT_EQ(server.requests(), 2) << "the POST was sent twice";
  EXPECT_EQ(server.connections(), 1);
  loop.Stop();
}

// A pooled connection the server closed while it was idle is noticed before
// writing: the next POST goes out once, on a new connection, and succeeds.
TEST(ClientPool, IdleClosedConnectionIsReplacedBeforeWriting) {
  using Action = ScriptedServer::Action;
  ScriptedServer server({Action::kAnswerThenClose, Action::kAnswer});
  EventLoop loop(1);
  auto client = HttpClient::Create(loop);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 2; ++i) {
    ClientRequest req;
    req.method = "POST";
    req.target = "/v1/messages";
    req.body = "{}";
    auto c = std::make_shared<Collected>();
    (*client)->Send(Local(server.port()), std::move(req), Collect(c));
    ASSERT_EQ(c->done.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(c->status.ok()) << i << ": " << c->status.message();
    EXPECT_EQ(c->body, "answer " + std::to_string(i));
    // The server's FIN has arrived before the next request takes the connection.
    if (i == 0) {
      ASSERT_TRUE(server.WaitForClosed(1, 10s)) << "the server did not hang up";
    }
  }
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ((*client)->stats().connections_reused, 0u);
  loop.Stop();
}

// An idempotent GET that failed the same way is retried once on a new
// connection (RFC 9110 9.2.2).
TEST(ClientPool, IdempotentRequestIsRetriedOnce) {
  using Action = ScriptedServer::Action;
  ScriptedServer server({Action::kAnswer, Action::kCloseSilently, Action::kAnswer});
  EventLoop loop(1);
  auto client = HttpClient::Create(loop);
  ASSERT_TRUE(client.ok());
  std::shared_ptr<Collected> last;
  for (int i = 0; i < 2; ++i) {
    ClientRequest req;
    req.method = "GET";
    req.target = "/v1/models";
    last = std::make_shared<Collected>();
    (*client)->Send(Local(server.port()), std::move(req), Collect(last));
    ASSERT_EQ(last->done.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(last->status.ok()) << i << ": " << last->status.message();
  }
  EXPECT_EQ(last->body, "answer 2");
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 2);
  loop.Stop();
}

TEST_F(ServerTest, ConnectErrorsNameTheOrigin) {
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Respond(HttpResponse{}); });
  uint16_t port = server_->port();
  server_.reset();  // stop listening: the acceptor is closed on the loop's thread
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (RawClient(port).connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  auto c = Fetch(Local(port), ClientRequest{});
  EXPECT_FALSE(c->status.ok());
  EXPECT_NE(c->status.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << c->status.message();
}

TEST_F(ServerTest, TlsListenerWithVerifiedClient) {
  auto pair = MakeSelfSignedCertificate({"localhost", "127.0.0.1"});
  ASSERT_TRUE(pair.ok()) << pair.status().message();
  auto server_tls = TlsContext::ServerFromPem(pair->cert_pem, pair->key_pem);
  ASSERT_TRUE(server_tls.ok()) << server_tls.status().message();
  ServerOptions opt;
  opt.tls = server_tls.value();
  StartServer(
      [](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
        HttpResponse r;
        r.body = req.connection.tls ? "tls" : "plain";
        w->Respond(std::move(r));
      },
      opt);
  auto trusting = TlsContext::Client(pair->cert_pem);
  ASSERT_TRUE(trusting.ok());
  ClientOptions copt;
  copt.tls = trusting.value();
  auto client = HttpClient::Create(loop_, copt);
  ASSERT_TRUE(client.ok());
  auto c = std::make_shared<Collected>();
  (*client)->Send(Local(server_->port(), "https"), ClientRequest{}, Collect(c));
  ASSERT_EQ(c->done.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(c->status.ok()) << c->status.message();
  EXPECT_EQ(c->body, "tls");
  // The default client (system trust store) refuses the self-signed certificate.
  auto refused = Fetch(Local(server_->port(), "https"), ClientRequest{});
  EXPECT_FALSE(refused->status.ok());
  EXPECT_NE(refused->status.message().find("TLS handshake"), std::string::npos);
}

TEST_F(ServerTest, ConnectTunnelSniffsTlsAndReportsSni) {
  auto pair = MakeSelfSignedCertificate({"api.example.test"});
  ASSERT_TRUE(pair.ok());
  auto cert = TlsContext::ServerFromPem(pair->cert_pem, pair->key_pem);
  ASSERT_TRUE(cert.ok());
  std::shared_ptr<TlsContext> minted = cert.value();
  std::promise<TlsFailure> failed;
  std::atomic<bool> failed_set{false};
  ServerOptions opt;
  opt.select_certificate = [minted](std::string_view sni) -> void* {
    return sni == "api.example.test" ? minted->native_handle() : nullptr;
  };
  opt.on_tls_failure = [&](const TlsFailure& f) {
    if (!failed_set.exchange(true)) failed.set_value(f);
  };
  StartServer(
      [](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
        if (req.method == "CONNECT") return w->AcceptTunnel();
        HttpResponse r;
        r.body = std::string(req.connection.tls ? "tls " : "plain ") + req.connection.sni + " " +
                 req.connection.tunnel_authority + " " + req.host + " " + req.path;
        w->Respond(std::move(r));
      },
      opt);
  // Plain HTTP inside the tunnel.
  {
    RawClient raw(server_->port());
    raw.Send("CONNECT api.example.test:80 HTTP/1.1\r\nHost: api.example.test:80\r\n\r\n");
    EXPECT_NE(raw.ReadUntil("\r\n\r\n").find("200"), std::string::npos);
    raw.Send("GET /inside HTTP/1.1\r\nHost: api.example.test\r\n\r\n");
    std::string out = raw.ReadUntil("/inside");
    EXPECT_NE(out.find("plain  api.example.test:80 api.example.test /inside"), std::string::npos)
        << out;
  }
  // Absolute-form target on the listener itself.
  {
    RawClient raw(server_->port());
    raw.Send("GET http://other.test/x?y HTTP/1.1\r\nHost: other.test\r\n\r\n");
    EXPECT_NE(raw.ReadUntil("/x").find("plain   other.test /x"), std::string::npos);
  }
  // A client that does not trust the minted certificate: the failure is reported with its SNI.
  {
    RawClient raw(server_->port());
    raw.Send("CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n");
    raw.ReadUntil("\r\n\r\n");
    // The client gives up after its ClientHello, as one refusing our certificate does.
    raw.Send(ClientHello("api.example.test"));
    raw.ReadSome();  // the server has read the hello once it answers (ServerHello or alert)
    raw.Close();
    auto f = failed.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    TlsFailure failure = f.get();
    EXPECT_EQ(failure.tunnel_authority, "api.example.test:443");
    EXPECT_EQ(failure.sni, "api.example.test");
    EXPECT_FALSE(failure.reason.empty());
  }
}

}  // namespace
}  // namespace glassbox::net
