#include "probe/capture_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "net/event_loop.h"
#include "probe/mitm_ca.h"

namespace glassbox::probe {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads one HTTP response with Content-Length (the capture server's replies
// to non-streaming requests) through `read`.
template <typename ReadFn>
std::string ReadResponse(ReadFn read) {
  std::string got;
  char buf[4096];
  while (true) {
    size_t head_end = got.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t cl = got.find("Content-Length: ");
      if (cl == std::string::npos) cl = got.find("content-length: ");
      size_t length = cl == std::string::npos ? 0 : std::stoul(got.substr(cl + 16));
      if (got.size() >= head_end + 4 + length) return got.substr(0, head_end + 4 + length);
    }
    int n = read(buf, sizeof buf);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

std::string PlainExchange(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply =
      ReadResponse([fd](char* buf, size_t n) { return static_cast<int>(recv(fd, buf, n, 0)); });
  close(fd);
  return reply;
}

// TLS over `fd` with SNI `sni`, trusting only `ca_pem` ("" = trust nothing).
// Returns the response, or "" when the handshake failed.
std::string TlsExchange(int fd, const std::string& sni, const std::string& ca_pem,
                        const std::string& request) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(bio);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_set1_host(ssl, sni.c_str());
  std::string reply;
  if (SSL_connect(ssl) == 1) {
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    reply = ReadResponse(
        [ssl](char* buf, size_t n) { return SSL_read(ssl, buf, static_cast<int>(n)); });
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return reply;
}

class CaptureServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = MitmCa::Generate("capture server test CA");
    ASSERT_TRUE(ca.ok()) << ca.status().message();
    ca_ = std::move(*ca);
    loop_ = std::make_unique<net::EventLoop>(1);
    CaptureServerOptions options;
    options.ca = ca_.get();
    options.ports = {0};
    options.listen_host = "127.0.0.1";
    auto server = CaptureServer::Start(*loop_, options);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    port_ = server_->ports()[0];
  }
  void TearDown() override {
    server_.reset();
    loop_.reset();
  }
  std::unique_ptr<MitmCa> ca_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<CaptureServer> server_;
  int port_ = 0;
};

TEST_F(CaptureServerTest, PlainRequestIsRecordedAndAnsweredAsTheProvider) {
  std::string body =
      R"({"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
  std::string reply =
      PlainExchange(port_,
                    "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: "
                    "application/json\r\nX-Trace: 42\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"type\":\"message\""), std::string::npos) << reply;
  std::vector<CapturedRequest> got = server_->TakeRequests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].scheme, "http");
  EXPECT_EQ(got[0].host, "api.anthropic.com");
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/v1/messages");
  EXPECT_EQ(got[0].body, body);
  EXPECT_EQ(got[0].dest_ip, "127.0.0.1");
  EXPECT_EQ(got[0].dest_port, port_);
  EXPECT_FALSE(got[0].via_proxy);
  EXPECT_EQ(got[0].response_status, 200);
  bool saw_trace = false;
  for (const auto& [name, value] : got[0].headers) saw_trace |= name == "X-Trace" && value == "42";
  EXPECT_TRUE(saw_trace);
}

TEST_F(CaptureServerTest, TlsIsInterceptedWithALeafForTheSni) {
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  std::string reply = TlsExchange(fd, "api.openai.com", ca_->cert_pem(),
                                  "GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n");
  close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  std::vector<CapturedRequest> got = server_->TakeRequests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].scheme, "https");
  EXPECT_EQ(got[0].sni, "api.openai.com");
  EXPECT_EQ(got[0].host, "api.openai.com");
  EXPECT_EQ(got[0].target, "/v1/models");
}

TEST_F(CaptureServerTest, RefusedCertificateIsRecordedWithItsSni) {
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  std::string reply = TlsExchange(fd, "pinned.example", "", "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  close(fd);
  EXPECT_EQ(reply, "");
  std::vector<TlsFailure> failures;
  for (int i = 0; i < 100 && failures.empty(); ++i) {
    failures = server_->TakeTlsFailures();
    if (failures.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].sni, "pinned.example");
  EXPECT_EQ(failures[0].dest_ip, "127.0.0.1");
  EXPECT_FALSE(failures[0].reason.empty());
  EXPECT_TRUE(server_->TakeRequests().empty());
}

// The capture is taken once the agent's connections have ended: a client
// that sends its alert and exits at once is still recorded (the cell runner
// waits for this before it takes the failures).
TEST_F(CaptureServerTest, WaitForConnectionsToEndSeesTheLastFailure) {
  // A keep-alive connection that has had its answer: accepted and open.
  int held = Connect(port_);
  ASSERT_GE(held, 0);
  const std::string request = "GET /held HTTP/1.1\r\nHost: held.example\r\n\r\n";
  send(held, request.data(), request.size(), MSG_NOSIGNAL);
  EXPECT_NE(
      ReadResponse([held](char* buf, size_t n) { return static_cast<int>(recv(held, buf, n, 0)); }),
      "");
  EXPECT_FALSE(server_->WaitForConnectionsToEnd(std::chrono::milliseconds(20))) << "one is open";
  close(held);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(TlsExchange(fd, "pinned.example", "", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  close(fd);
  ASSERT_TRUE(server_->WaitForConnectionsToEnd(std::chrono::seconds(20)));
  std::vector<TlsFailure> failures = server_->TakeTlsFailures();
  ASSERT_EQ(failures.size(), 1u) << "recorded before the connection ended";
  EXPECT_EQ(failures[0].sni, "pinned.example");
}

TEST_F(CaptureServerTest, ProxyAbsoluteFormAndConnectTunnel) {
  std::string reply = PlainExchange(
      port_, "GET http://telemetry.example/t?id=1 HTTP/1.1\r\nHost: telemetry.example\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;

  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  std::string connect =
      "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n";
  send(fd, connect.data(), connect.size(), MSG_NOSIGNAL);
  char buf[512];
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    head.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  std::string inner = TlsExchange(fd, "api.anthropic.com", ca_->cert_pem(),
                                  "GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n");
  close(fd);
  EXPECT_EQ(inner.rfind("HTTP/1.1 200", 0), 0u) << inner;

  std::vector<CapturedRequest> got = server_->TakeRequests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].target, "http://telemetry.example/t?id=1");
  EXPECT_EQ(got[0].host, "telemetry.example");
  EXPECT_TRUE(got[0].via_proxy);
  EXPECT_EQ(got[1].method, "CONNECT");
  EXPECT_TRUE(got[1].via_proxy);
  EXPECT_EQ(got[2].scheme, "https");
  EXPECT_EQ(got[2].sni, "api.anthropic.com");
  EXPECT_TRUE(got[2].via_proxy);
  EXPECT_EQ(got[2].target, "/v1/models");
  EXPECT_LT(got[0].seq, got[1].seq);
  EXPECT_LT(got[1].seq, got[2].seq);
}

// An agent must not take the cell runner's memory or descriptors: each limit
// holds and is listed by LimitsReached().
TEST(CaptureServerLimits, ConnectionsBodiesAndKeptBytesAreCapped) {
  auto ca = MitmCa::Generate("capture limits test CA");
  ASSERT_TRUE(ca.ok());
  net::EventLoop loop(1);
  CaptureServerOptions options;
  options.ca = ca->get();
  options.ports = {0};
  options.listen_host = "127.0.0.1";
  options.max_connections = 2;
  options.max_body_bytes = 1024;
  options.max_kept_bytes = 100;
  auto server = CaptureServer::Start(loop, options);
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = (*server)->ports()[0];
  EXPECT_TRUE((*server)->LimitsReached().empty());
  // Two silent connections are held; a third is closed unread.
  int held[2] = {Connect(port), Connect(port)};
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int third = Connect(port);
  ASSERT_GE(third, 0);
  char byte;
  EXPECT_EQ(recv(third, &byte, 1, 0), 0) << "closed by the server";
  close(third);
  for (int fd : held) close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto post = [port](size_t size) {
    return PlainExchange(port, "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: " +
                                   std::to_string(size) + "\r\n\r\n" + std::string(size, 'b'));
  };
  EXPECT_EQ(post(2048).rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(post(60).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(post(60).rfind("HTTP/1.1 200", 0), 0u);  // answered, its body not kept
  std::vector<CapturedRequest> got = (*server)->TakeRequests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body.size(), 60u);
  EXPECT_TRUE(got[1].body.empty());
  std::vector<std::string> limits = (*server)->LimitsReached();
  ASSERT_EQ(limits.size(), 3u);
  EXPECT_NE(limits[0].find("1 request(s) refused with 413"), std::string::npos) << limits[0];
  EXPECT_NE(limits[1].find("1 request body(ies) not kept"), std::string::npos) << limits[1];
  EXPECT_NE(limits[2].find("1 connection(s) closed unread"), std::string::npos) << limits[2];
  server->reset();
}

TEST(SplitPeerAddress, HandlesV4V6AndMapped) {
  int port = 0;
  EXPECT_EQ(SplitPeerAddress("203.0.113.7:5123", &port), "203.0.113.7");
  EXPECT_EQ(port, 5123);
  EXPECT_EQ(SplitPeerAddress("[::ffff:203.0.113.7]:80", &port), "203.0.113.7");
  EXPECT_EQ(port, 80);
  EXPECT_EQ(SplitPeerAddress("[2001:db8::1]:443", &port), "2001:db8::1");
  EXPECT_EQ(port, 443);
  EXPECT_EQ(SplitPeerAddress("?", &port), "?");
  EXPECT_EQ(port, 0);
}

}  // namespace
}  // namespace glassbox::probe
