// HttpServer: an HTTP/1.1 server for the gateway and the probe's capturing
// proxy. Beast/Asio stay inside http_server.cc.
//
// Handler contract (callback based, in the manner of Envoy's filters): for
// every request the server calls Handler(request, writer) on the
// connection's I/O thread. The handler must not block; it answers through
// the ResponseWriter, now or later, from any thread. Exactly one of
// Respond / StartStream..Finish / AcceptTunnel answers a request; the
// connection reads its next request only after the answer is finished.
// An exception escaping the handler is caught and answered with 500.
//
// Limits: a request head larger than max_header_bytes gets 431, a body
// larger than max_body_bytes gets 413, an unparsable request 400; each then
// closes the connection. Idle keep-alive connections close after
// idle_timeout; a request must arrive whole within read_timeout.
//
// Probe support: CONNECT requests reach the handler, which may AcceptTunnel():
// the server answers 200 and serves the tunnelled bytes as a new connection
// (TLS when its first byte is a ClientHello and a certificate source is
// configured, plain HTTP otherwise). Absolute-form targets
// ("GET http://host/p") reach the handler with host and scheme filled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/tls.h"

namespace glassbox::net {

// How a streamed response is delimited on the wire.
enum class StreamFraming {
  kChunked,         // Transfer-Encoding: chunked; the connection stays open
  kCloseDelimited,  // no length; the server closes the connection at Finish()
};

// The answer side of one request. Thread-safe: every method may be called
// from any thread; calls are applied in order on the connection's thread.
// Calls after the answer is finished, or after the client is gone, are
// ignored.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // A whole response. Content-Length is set by the server (any
  // Content-Length / Transfer-Encoding in `response` is replaced). Header
  // fields with an invalid name or a CR/LF/NUL in the value are dropped.
  virtual void Respond(HttpResponse response) = 0;

  // A streamed response: head now, then Write() each piece, then Finish().
  // Bytes are sent as they are written (no buffering beyond the socket).
  virtual void StartStream(int status, Headers headers,
                           StreamFraming framing = StreamFraming::kChunked) = 0;
  virtual void Write(std::string bytes) = 0;
  virtual void Finish() = 0;
  // Ends a streamed response abruptly: the connection is closed without the
  // final chunk, so the client sees a truncated (failed) response.
  virtual void Abort() = 0;

  // For CONNECT requests only: answers "200 Connection Established" and
  // serves the tunnelled stream as a new connection with the same handler.
  virtual void AcceptTunnel() = 0;

  // Registers `callback` to run (once, on some I/O thread) when the client
  // disconnects before the answer is finished. Runs at once if it already has.
  virtual void OnClientGone(std::function<void()> callback) = 0;
  virtual bool client_gone() const = 0;

  // Bytes queued but not yet written to the socket (for back-pressure).
  virtual size_t pending_bytes() const = 0;
};

using Handler = std::function<void(HttpRequest request, std::shared_ptr<ResponseWriter> writer)>;

// A TLS handshake that failed: typically a client that refused our certificate.
struct TlsFailure {
  std::string peer;
  std::string sni;
  uint16_t local_port = 0;
  std::string tunnel_authority;
  std::string reason;
};

// A request the server refuses itself (unparsable, head or body too large),
// as far as it was read.
struct RejectedRequest {
  int status = 400;    // 400, 413 or 431
  std::string reason;  // "the request body is larger than the server accepts"
  std::string method;  // "" when the request line was not read
  std::string target;
  Headers headers;  // the fields read before the error
  ConnectionInfo connection;
};

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port; see HttpServer::port()
  size_t max_header_bytes = size_t{64} << 10;
  size_t max_body_bytes = size_t{32} << 20;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds read_timeout{60'000};
  // Connections open at once; a connection beyond it is accepted and closed
  // at once (so it holds no descriptor) and counted in connections_refused.
  // 0 = no limit.
  size_t max_connections = 0;
  // Serve TLS on the listener with this certificate.
  std::shared_ptr<TlsContext> tls;
  // Accept both TLS and plain HTTP on the listener, told apart by the first
  // byte (0x16 = TLS ClientHello). Needs `tls` or `select_certificate`.
  bool sniff_tls = false;
  // Chooses the certificate by the SNI the client sent: returns an SSL_CTX*
  // (as void*) that outlives the handshake, or nullptr to keep `tls`.
  // Called on I/O threads, concurrently; must not throw.
  std::function<void*(std::string_view sni)> select_certificate;
  // Chooses the certificate before the handshake from the connection alone
  // (its local address, the CONNECT authority), for clients that send no SNI,
  // e.g. https://203.0.113.7/. Same contract as select_certificate; an SNI the
  // client does send still goes to select_certificate.
  std::function<void*(const ConnectionInfo&)> select_certificate_without_sni;
  // Told about each failed TLS handshake. Called on I/O threads.
  std::function<void(const TlsFailure&)> on_tls_failure;
  // Answers requests the server refuses itself (e.g. in a provider's error
  // format, after logging them). Must answer through the writer with
  // Respond(); the connection closes afterwards. Unset: a JSON error body.
  std::function<void(const RejectedRequest&, std::shared_ptr<ResponseWriter>)> on_reject;
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_active = 0;
  uint64_t requests = 0;
  uint64_t rejected_requests = 0;  // 400/413/431 answered by the server itself
  // Requests handed to the handler (or refused by the server) whose answer
  // is not yet completely written (or whose connection has not yet closed).
  uint64_t requests_in_progress = 0;
  uint64_t connections_refused = 0;  // closed unread: max_connections were open
};

class HttpServer {
 public:
  // Binds and starts accepting on `loop`. The error names the address.
  static Result<std::unique_ptr<HttpServer>> Start(EventLoop& loop, ServerOptions options,
                                                   Handler handler);
  ~HttpServer();  // stops accepting; open connections end with the loop
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  ServerStats stats() const;
  // Stops accepting new connections. Idempotent, any thread.
  void StopAccepting();
  // For a graceful stop: stops accepting, and every answer started from now
  // on says "Connection: close" and closes its connection once written, so
  // requests in progress finish (stats().requests_in_progress falls to 0)
  // and keep-alive clients reconnect elsewhere. Idle connections stay open
  // until the loop stops. Idempotent, any thread.
  void BeginDrain();

  struct Core;

 private:
  explicit HttpServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

// Parses one request from `bytes` with the server's parser and limits (for
// the fuzzer and tests). On success *consumed is the number of bytes the
// request used. The error says why the bytes are not a request; `status`
// receives the HTTP status the server would answer (400, 413, 431).
Result<HttpRequest> ParseRequestBytes(std::string_view bytes, const ServerOptions& options,
                                      size_t* consumed, int* status);

}  // namespace glassbox::net
