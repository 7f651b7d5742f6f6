// HttpClient over Boost.Beast. One Exchange per request, run on one
// io_context; connections are pooled per origin ("https://host:port").
#include "net/http_client.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>

#include "net/internal/asio_loop.h"
#include "net/internal/asio_tls.h"

namespace glassbox::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// An open connection to one origin, idle in the pool or owned by an Exchange.
struct Conn {
  std::optional<beast::tcp_stream> tcp;
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  // The I/O context (thread) the connection's operations run on.
  const asio::execution_context* Context() {
    return &asio::query(Lowest().get_executor(), asio::execution::context);
  }
  bool IsOpen() { return Lowest().socket().is_open(); }
  // An idle keep-alive connection has nothing to read. Anything readable —
  // the peer's FIN or reset, a TLS close_notify, stray bytes — means it
  // must not carry another request. Only for connections with no operation
  // pending (idle in the pool).
  bool StillIdle() {
    if (!IsOpen()) return false;
    char byte;
    const ssize_t n = ::recv(Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  void Close() {
    error_code ignored;
    Lowest().socket().close(ignored);
  }
};

bool IsHopByHop(std::string_view name) {
  for (std::string_view h : {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                             "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

bool IsIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(EventLoop::Impl& l, ClientOptions o) : loop(l), options(std::move(o)) {}

  EventLoop::Impl& loop;
  ClientOptions options;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::atomic<uint64_t> opened{0}, reused{0};

  // An idle connection to `key`, preferring one on `here` (the caller's I/O
  // context, or null): a connection on another thread makes every callback
  // of the exchange hop between threads (tens of microseconds each way).
  std::unique_ptr<Conn> TakeIdle(const std::string& key, const asio::io_context* here) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    std::vector<std::unique_ptr<Conn>>& list = it->second;
    // Newest first; closed connections found on the way are dropped.
    for (size_t i = list.size(); i-- > 0;) {
      if (!list[i]->StillIdle()) {
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      if (here == nullptr || list[i]->Context() == here) {
        std::unique_ptr<Conn> c = std::move(list[i]);
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        return c;
      }
    }
    if (list.empty()) return nullptr;
    std::unique_ptr<Conn> c = std::move(list.back());
    list.pop_back();
    return c;
  }

  void GiveBack(const std::string& key, std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu);
    auto& list = idle[key];
    if (list.size() >= options.max_idle_per_origin) return;  // closed by its destructor
    list.push_back(std::move(conn));
  }
};

namespace {

class Exchange : public RequestHandle, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<HttpClient::Impl> client, Url url, ClientRequest request,
           ClientCallbacks cb, std::unique_ptr<Conn> conn, asio::any_io_executor ex)
      : client_(std::move(client)),
        url_(std::move(url)),
        key_(url_.Origin()),
        cb_(std::move(cb)),
        conn_(std::move(conn)),
        reused_(conn_ != nullptr),
        ex_(ex),
        resolver_(ex) {
    req_.method_string(request.method);
    req_.target(url_.base_path + request.target);
    req_.version(11);
    for (const HeaderField& f : request.headers.fields()) {
      if (IsHopByHop(f.name) || !IsValidHeaderName(f.name) || !IsValidHeaderValue(f.value))
        continue;
      // The body is written whole right after the head, so there is no
      // expectation to announce (RFC 9110 10.1.1); an upstream's interim
      // 100 is skipped anyway (OnHead).
      if (EqualsIgnoreCase(f.name, "expect")) continue;
      req_.insert(f.name, f.value);
    }
    req_.set(bhttp::field::host, url_.HostHeader());
    head_only_ = request.method == "HEAD";
    idempotent_ = request.method == "GET" || request.method == "HEAD" ||
                  request.method == "OPTIONS" || request.method == "PUT" ||
                  request.method == "DELETE" || request.method == "TRACE";
    body_ = request.shared_body ? std::move(request.shared_body)
                                : std::make_shared<const std::string>(std::move(request.body));
    bool has_body = !body_->empty() || request.method == "POST" || request.method == "PUT" ||
                    request.method == "PATCH";
    req_.body() = boost::beast::span<const char>(body_->data(), body_->size());
    if (has_body) req_.content_length(body_->size());
  }

  void Start() {
    auto self = shared_from_this();
    asio::post(ex_, [self] {
      if (self->conn_) {
        self->client_->reused.fetch_add(1);
        self->WriteRequest();
      } else {
        self->Connect();
      }
    });
  }

  void Cancel() override {
    auto self = shared_from_this();
    asio::post(ex_, [self] {
      if (self->done_) return;
      self->cancelled_ = true;
      self->resolver_.cancel();
      if (self->conn_) self->conn_->Close();
    });
  }

 private:
  template <class F>
  void WithStream(F&& f) {
    if (conn_->tls) {
      f(*conn_->tls);
    } else {
      f(*conn_->tcp);
    }
  }

  Status Error(std::string_view what, const error_code& ec) {
    if (cancelled_) return Status::Error("upstream " + key_ + ": cancelled");
    std::string reason = ec == beast::error::timeout ? "timed out" : ec.message();
    return Status::Error("upstream " + key_ + ": " + std::string(what) + ": " + reason);
  }

  void Connect() {
    if (cancelled_) return Complete(Error("connect", asio::error::operation_aborted));
    auto self = shared_from_this();
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port),
        [self](const error_code& ec, tcp::resolver::results_type results) {
          if (ec) return self->Complete(self->Error("resolve " + self->url_.host, ec));
          self->OnResolved(results);
        });
  }

  void OnResolved(const tcp::resolver::results_type& results) {
    conn_ = std::make_unique<Conn>();
    conn_->tcp.emplace(ex_);
    client_->opened.fetch_add(1);
    conn_->tcp->expires_after(client_->options.connect_timeout);
    auto self = shared_from_this();
    conn_->tcp->async_connect(results, [self](const error_code& ec, const tcp::endpoint&) {
      if (ec) return self->Complete(self->Error("connect", ec));
      error_code ignored;
      self->conn_->tcp->socket().set_option(tcp::no_delay(true), ignored);
      if (self->url_.scheme == "https") return self->Handshake();
      self->WriteRequest();
    });
  }

  void Handshake() {
    ssl::context& ctx = client_tls_->impl().ctx;
    conn_->tls.emplace(std::move(*conn_->tcp), ctx);
    conn_->tcp.reset();
    if (!IsIpLiteral(url_.host))
      SSL_set_tlsext_host_name(conn_->tls->native_handle(), url_.host.c_str());
    conn_->tls->set_verify_mode(ssl::verify_peer);
    conn_->tls->set_verify_callback(ssl::host_name_verification(url_.host));
    auto self = shared_from_this();
    conn_->tls->async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
      if (ec) return self->Complete(self->Error("TLS handshake", ec));
      self->WriteRequest();
    });
  }

  // A failure before any response byte on a pooled connection (the server
  // closed it while idle, just as it was taken): try once more on a new
  // connection — but only when the server cannot have acted on the request:
  // nothing of it was written, or the method is idempotent (RFC 9110
  // 9.2.2). A POST that may have reached the server is never sent twice;
  // its failure goes to the caller. (Connections seen closed while idle
  // are dropped before writing: Conn::StillIdle.)
  bool MaybeRetry(bool request_may_have_arrived) {
    if (!reused_ || got_bytes_ || cancelled_) return false;
    if (request_may_have_arrived && !idempotent_) return false;
    reused_ = false;
    conn_.reset();
    Connect();
    return true;
  }

  void WriteRequest() {
    if (cancelled_) return Complete(Error("write", asio::error::operation_aborted));
    conn_->Lowest().expires_after(client_->options.read_timeout);
    auto self = shared_from_this();
    WithStream([&](auto& stream) {
      bhttp::async_write(stream, req_, [self](const error_code& ec, size_t written) {
        if (ec) {
          if (self->MaybeRetry(/*request_may_have_arrived=*/written > 0)) return;
          return self->Complete(self->Error("sending the request", ec));
        }
        self->ReadHead();
      });
    });
  }

  void ReadHead() {
    // Beast reads at most max(512, the buffer's free room) bytes per call;
    // with room for a whole buf_ a large body takes 32 times fewer reads.
    if (conn_->buffer.capacity() - conn_->buffer.size() < buf_.size()) {
      conn_->buffer.reserve(conn_->buffer.size() + buf_.size());
    }
    parser_.emplace();
    parser_->body_limit(boost::none);
    parser_->header_limit(static_cast<uint32_t>(client_->options.max_header_bytes));
    if (head_only_) parser_->skip(true);
    auto self = shared_from_this();
    WithStream([&](auto& stream) {
      bhttp::async_read_header(
          stream, conn_->buffer, *parser_, [self](const error_code& ec, size_t) {
            if (ec) {
              // The whole request was written: only an idempotent one is retried.
              if (self->MaybeRetry(/*request_may_have_arrived=*/true)) return;
              return self->Complete(self->Error("reading the response head", ec));
            }
            self->OnHead();
          });
    });
  }

  void OnHead() {
    got_bytes_ = true;
    ResponseHead head;
    const auto& msg = parser_->get();
    head.status = static_cast<int>(msg.result_int());
    // An interim response (1xx other than 101, RFC 9110 15.2) is never the
    // answer: skip it and read the head that follows.
    if (head.status >= 100 && head.status < 200 && head.status != 101) {
      if (++interim_responses_ > kMaxInterimResponses) {
        return Complete(
            Status::Error("upstream " + key_ + ": more than 16 interim (1xx) responses"));
      }
      return ReadHead();
    }
    head.reason = std::string(msg.reason());
    for (const auto& field : msg)
      head.headers.Add(std::string(field.name_string()), std::string(field.value()));
    if (cb_.on_headers) cb_.on_headers(head);
    if (cancelled_) return Complete(Error("reading", asio::error::operation_aborted));
    if (parser_->is_done()) return Complete(Status::Ok());
    ReadBody();
  }

  void ReadBody() {
    auto& body = parser_->get().body();
    body.data = buf_.data();
    body.size = buf_.size();
    conn_->Lowest().expires_after(client_->options.read_timeout);
    auto self = shared_from_this();
    WithStream([&](auto& stream) {
      bhttp::async_read_some(stream, conn_->buffer, *parser_, [self](error_code ec, size_t) {
        if (ec == bhttp::error::need_buffer) ec = {};
        size_t got = self->buf_.size() - self->parser_->get().body().size;
        if (got > 0 && self->cb_.on_body && !self->cancelled_) {
          self->cb_.on_body(std::string_view(self->buf_.data(), got));
        }
        if (ec) return self->Complete(self->Error("reading the response body", ec));
        if (self->cancelled_)
          return self->Complete(self->Error("reading", asio::error::operation_aborted));
        if (self->parser_->is_done()) return self->Complete(Status::Ok());
        self->ReadBody();
      });
    });
  }

  void Complete(Status status) {
    if (done_) return;
    done_ = true;
    if (status.ok() && conn_ && parser_ && parser_->keep_alive() && !cancelled_) {
      conn_->Lowest().expires_never();
      client_->GiveBack(key_, std::move(conn_));
    } else if (conn_) {
      conn_->Close();
    }
    if (cb_.on_complete) cb_.on_complete(std::move(status));
    cb_ = {};  // drop captured state (writers, buffers) now
  }

 public:
  std::shared_ptr<TlsContext> client_tls_;

 private:
  std::shared_ptr<HttpClient::Impl> client_;
  Url url_;
  std::string key_;
  ClientCallbacks cb_;
  std::unique_ptr<Conn> conn_;
  bool reused_ = false;
  asio::any_io_executor ex_;
  tcp::resolver resolver_;
  // The body's bytes (the caller's, when it shared them), and the request
  // that points at them.
  std::shared_ptr<const std::string> body_;
  bhttp::request<bhttp::span_body<const char>> req_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::array<char, 16384> buf_;
  bool head_only_ = false, idempotent_ = false, got_bytes_ = false, done_ = false,
       cancelled_ = false;
  static constexpr int kMaxInterimResponses = 16;
  int interim_responses_ = 0;
};

}  // namespace

HttpClient::HttpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(EventLoop& loop, ClientOptions options) {
  if (!options.tls) {
    auto tls = TlsContext::Client();
    if (!tls.ok()) return tls.status();
    options.tls = std::move(tls.value());
  }
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::make_shared<Impl>(loop.impl(), std::move(options))));
}

std::shared_ptr<RequestHandle> HttpClient::Send(const Url& origin, ClientRequest request,
                                                ClientCallbacks callbacks) {
  asio::io_context* here = impl_->loop.Current();
  std::unique_ptr<Conn> conn = impl_->TakeIdle(origin.Origin(), here);
  if (conn && here != nullptr && !conn->tls && conn->Context() != here) {
    // A plain connection idle on another thread moves to this one: its socket
    // (no operation pending) is re-registered with this thread's context.
    // A TLS stream cannot move, so it keeps its thread.
    error_code ec;
    const auto protocol = conn->tcp->socket().local_endpoint(ec).protocol();
    const auto fd = ec ? -1 : conn->tcp->release_socket().release(ec);
    conn->tcp.reset();
    if (!ec && fd >= 0) {
      asio::ip::tcp::socket moved(*here);
      moved.assign(protocol, fd, ec);
      if (!ec) conn->tcp.emplace(std::move(moved));
    }
    if (!conn->tcp) conn.reset();  // could not move: a new connection instead
  }
  asio::any_io_executor ex =
      conn ? conn->Lowest().get_executor() : impl_->loop.Pick().get_executor();
  auto exchange = std::make_shared<Exchange>(impl_, origin, std::move(request),
                                             std::move(callbacks), std::move(conn), ex);
  exchange->client_tls_ = impl_->options.tls;
  exchange->Start();
  return exchange;
}

ClientStats HttpClient::stats() const {
  ClientStats s;
  s.connections_opened = impl_->opened.load();
  s.connections_reused = impl_->reused.load();
  return s;
}

}  // namespace glassbox::net
