// HttpClient: asynchronous HTTP/1.1 requests to upstream origins, with a
// keep-alive connection pool per origin and TLS (OpenSSL; SNI and hostname
// verification against the system trust store or a given CA).
//
// Callbacks run on an I/O thread of the EventLoop (the caller's own, when
// Send is called from one), in this order: on_headers once, on_body zero or
// more times with the body bytes as they arrive (de-chunked), on_complete
// exactly once (Ok, or an error naming the origin and the reason). A pooled
// connection that the server closed while it sat idle is dropped before any
// request is written to it. A failure before any response byte on a reused
// pooled connection is retried once on a fresh connection only if the
// server cannot have acted on the request: no byte of it was written, or
// the method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE). A POST
// that may have reached the server is never sent twice. Callbacks must not
// throw. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/tls.h"

namespace glassbox::net {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // Longest wait for the next byte of a response (streams may pause long).
  std::chrono::milliseconds read_timeout{300'000};
  // Idle connections kept per origin.
  size_t max_idle_per_origin = 32;
  // Trust for https origins; nullptr = the system trust store.
  std::shared_ptr<TlsContext> tls;
  // Largest response head accepted.
  size_t max_header_bytes = size_t{64} << 10;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, appended to the origin's base path
  Headers headers;           // Host and Content-Length are set by the client
  std::string body;
  // When set, sent instead of `body`, without a copy: the caller may read
  // the same bytes meanwhile (the client only reads them too) and the client
  // holds them until the exchange ends.
  std::shared_ptr<const std::string> shared_body;
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  Headers headers;
};

struct ClientCallbacks {
  std::function<void(const ResponseHead&)> on_headers;
  std::function<void(std::string_view bytes)> on_body;
  std::function<void(Status)> on_complete;
};

// Cancels one request: closes its upstream connection; on_complete then
// reports "cancelled" unless the request had already completed.
class RequestHandle {
 public:
  virtual ~RequestHandle() = default;
  virtual void Cancel() = 0;
};

struct ClientStats {
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;
};

class HttpClient {
 public:
  // Fails only when the default TLS context cannot be built.
  static Result<std::unique_ptr<HttpClient>> Create(EventLoop& loop, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  std::shared_ptr<RequestHandle> Send(const Url& origin, ClientRequest request,
                                      ClientCallbacks callbacks);
  ClientStats stats() const;

  struct Impl;

 private:
  explicit HttpClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace glassbox::net
