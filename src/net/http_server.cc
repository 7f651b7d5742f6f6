// HttpServer over Boost.Beast. One Session<Stream> per connection, living on
// one io_context thread; Stream is beast::tcp_stream or
// ssl::stream<beast::tcp_stream>. A Detector decides plain or TLS
// (configured, or sniffed from the first byte) before a Session starts.
#include "net/http_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

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

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// The status the server answers for a parse error, or 0 for errors that
// just end the connection (EOF, reset, timeout).
int StatusForReadError(const error_code& ec) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::body_limit) return 413;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return 0;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return 400;
  return 0;
}

std::string ReasonForStatus(int status, const error_code& ec) {
  if (status == 431) return "the request head is larger than the server accepts";
  if (status == 413) return "the request body is larger than the server accepts";
  return "malformed HTTP request: " + ec.message();
}

// Converts Beast's parsed message into the Beast-free request. Fails (400)
// when the target is not origin-, absolute- or authority-form or an
// HTTP/1.1 request has no Host.
Status ToHttpRequest(bhttp::request<bhttp::string_body>&& msg, HttpRequest* out) {
  out->method = std::string(msg.method_string());
  out->target = std::string(msg.target());
  out->version_minor = static_cast<int>(msg.version() % 10);
  for (const auto& field : msg) {
    out->headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  ParsedTarget target;
  if (!ParseRequestTarget(out->method, out->target, &target)) {
    return Status::Error("request target '" + out->target.substr(0, 200) +
                         "' is not a path, an absolute URL or host:port");
  }
  out->path = std::move(target.path);
  out->query = std::move(target.query);
  out->scheme = std::move(target.scheme);
  out->absolute_form = target.absolute_form;
  if (!target.authority.empty()) {
    out->host = std::move(target.authority);
  } else if (auto host = out->headers.Get("Host")) {
    out->host = std::string(*host);
  } else if (out->version_minor >= 1) {
    return Status::Error("HTTP/1.1 request without a Host header");
  }
  out->body = std::move(msg.body());
  return Status::Ok();
}

void AppendHead(std::string* out, int status, std::string_view reason, const Headers& headers) {
  out->append("HTTP/1.1 ");
  out->append(std::to_string(status));
  out->push_back(' ');
  out->append(reason.empty() ? ReasonPhrase(status) : reason);
  out->append("\r\n");
  for (const HeaderField& f : headers.fields()) {
    if (!IsValidHeaderName(f.name) || !IsValidHeaderValue(f.value)) continue;
    if (EqualsIgnoreCase(f.name, "Content-Length") ||
        EqualsIgnoreCase(f.name, "Transfer-Encoding") || EqualsIgnoreCase(f.name, "Connection")) {
      continue;
    }
    out->append(f.name);
    out->append(": ");
    out->append(f.value);
    out->append("\r\n");
  }
}

std::string Endpoint(const tcp::socket& s, bool remote) {
  error_code ec;
  tcp::endpoint ep = remote ? s.remote_endpoint(ec) : s.local_endpoint(ec);
  if (ec) return "?";
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

}  // namespace

namespace {
class WriterImpl;
}  // namespace

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  Core(EventLoop::Impl& l, ServerOptions o, Handler h)
      : loop(l), options(std::move(o)), handler(std::move(h)), acceptor(*l.contexts[0]) {}

  EventLoop::Impl& loop;
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  uint16_t port = 0;
  std::unique_ptr<ssl::context> bare_tls;  // when only select_certificate is given
  std::atomic<uint64_t> accepted{0}, active{0}, requests{0}, rejected{0}, refused{0}, next_id{1};
  // Requests handed to the handler whose answer is not yet written out.
  std::atomic<uint64_t> in_progress{0};
  // BeginDrain(): answers close their connections instead of keeping them.
  std::atomic<bool> draining{false};

  ssl::context* Tls() {
    if (options.tls) return &options.tls->impl().ctx;
    return bare_tls.get();
  }
  void Accept();

  // Every exchange's writer, so that a loop torn down mid-exchange can break
  // the writer <-> session cycle that an answer would have broken (LSan
  // reported those sessions as leaks).
  void Track(const std::shared_ptr<WriterImpl>& writer);
  void ReleaseWriters();
  std::mutex writers_mu;
  std::vector<std::weak_ptr<WriterImpl>> writers;  // guarded by writers_mu
  size_t prune_at = 64;                            // guarded by writers_mu
};

namespace {

// SNI callback installed on the listener's SSL_CTX when select_certificate
// is set: switches the connection to the SSL_CTX the caller picks.
int ServerNameCallback(SSL* ssl, int* /*alert*/, void* arg) {
  auto* core = static_cast<HttpServer::Core*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || !core->options.select_certificate) return SSL_TLSEXT_ERR_OK;
  try {
    void* ctx = core->options.select_certificate(name);
    if (ctx != nullptr) SSL_set_SSL_CTX(ssl, static_cast<SSL_CTX*>(ctx));
  } catch (...) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

class SessionBase;

// One operation a handler asked of its writer, applied on the session thread.
struct WriterOp {
  enum Kind { kRespond, kStart, kWrite, kFinish, kAbort, kTunnel } kind;
  HttpResponse response;  // kRespond; kStart uses status + headers
  StreamFraming framing = StreamFraming::kChunked;
  std::string bytes;  // kWrite
};

class WriterImpl : public ResponseWriter, public std::enable_shared_from_this<WriterImpl> {
 public:
  // Holds the session alive until the answer is done or the client is gone,
  // so a handler may answer later even when no socket operation is pending.
  WriterImpl(std::shared_ptr<SessionBase> session, asio::any_io_executor ex)
      : session_(std::move(session)), ex_(std::move(ex)) {}

  void Respond(HttpResponse response) override {
    WriterOp op{WriterOp::kRespond, std::move(response)};
    Post(std::move(op));
  }
  void StartStream(int status, Headers headers, StreamFraming framing) override {
    WriterOp op{WriterOp::kStart};
    op.response.status = status;
    op.response.headers = std::move(headers);
    op.framing = framing;
    Post(std::move(op));
  }
  void Write(std::string bytes) override {
    if (bytes.empty()) return;
    pending_.fetch_add(bytes.size());
    WriterOp op{WriterOp::kWrite};
    op.bytes = std::move(bytes);
    Post(std::move(op));
  }
  void Finish() override { Post(WriterOp{WriterOp::kFinish}); }
  void Abort() override { Post(WriterOp{WriterOp::kAbort}); }
  void AcceptTunnel() override { Post(WriterOp{WriterOp::kTunnel}); }

  void OnClientGone(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!gone_) {
        if (!done_) gone_callbacks_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }
  bool client_gone() const override {
    std::lock_guard lock(mu_);
    return gone_;
  }
  size_t pending_bytes() const override { return pending_.load(); }

  // Session side.
  void MarkGone() {
    std::vector<std::function<void()>> callbacks;
    std::shared_ptr<SessionBase> released;  // dropped after the lock
    {
      std::lock_guard lock(mu_);
      if (gone_ || done_) return;
      gone_ = true;
      callbacks.swap(gone_callbacks_);
      released = std::move(session_);
    }
    for (auto& cb : callbacks) {
      try {
        cb();
      } catch (...) {
      }
    }
  }
  void MarkDone() {
    std::shared_ptr<SessionBase> released;  // dropped after the lock
    std::lock_guard lock(mu_);
    done_ = true;
    gone_callbacks_.clear();
    released = std::move(session_);
  }
  void Written(size_t n) { pending_.fetch_sub(std::min(n, pending_.load())); }
  // Loop teardown: lets go of the session (see Core::Track).
  void DropSession() {
    std::shared_ptr<SessionBase> released;  // dropped after the lock
    std::lock_guard lock(mu_);
    released = std::move(session_);
  }

 private:
  void Post(WriterOp op);

  std::shared_ptr<SessionBase> session_;  // guarded by mu_; null once done or gone
  asio::any_io_executor ex_;
  mutable std::mutex mu_;
  bool gone_ = false;
  bool done_ = false;
  std::vector<std::function<void()>> gone_callbacks_;
  std::atomic<size_t> pending_{0};
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Apply(WriterImpl* writer, WriterOp op) = 0;
};

}  // namespace

void HttpServer::Core::Track(const std::shared_ptr<WriterImpl>& writer) {
  std::lock_guard lock(writers_mu);
  if (writers.size() >= prune_at) {
    std::erase_if(writers, [](const std::weak_ptr<WriterImpl>& w) { return w.expired(); });
    prune_at = std::max<size_t>(64, writers.size() * 2);
  }
  writers.push_back(writer);
}

void HttpServer::Core::ReleaseWriters() {
  std::vector<std::weak_ptr<WriterImpl>> all;
  {
    std::lock_guard lock(writers_mu);
    all.swap(writers);
  }
  for (auto& w : all) {
    if (auto writer = w.lock()) writer->DropSession();
  }
}

namespace {

void WriterImpl::Post(WriterOp op) {
  std::shared_ptr<SessionBase> session;
  {
    std::lock_guard lock(mu_);
    session = session_;
  }
  if (!session) return;
  asio::dispatch(ex_, [session, self = shared_from_this(), op = std::move(op)]() mutable {
    session->Apply(self.get(), std::move(op));
  });
}

void StartConnection(std::shared_ptr<HttpServer::Core> core, beast::tcp_stream stream,
                     beast::flat_buffer buffer, ConnectionInfo info, bool sniff);

template <class Stream>
class Session : public SessionBase {
 public:
  Session(std::shared_ptr<HttpServer::Core> core, Stream stream, beast::flat_buffer buffer,
          ConnectionInfo info)
      : core_(std::move(core)),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        info_(std::move(info)) {
    core_->active.fetch_add(1);
  }
  ~Session() override { core_->active.fetch_sub(1); }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Handshake() {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      Lowest().expires_after(core_->options.read_timeout);
      if (core_->options.select_certificate_without_sni) {
        void* ctx = nullptr;
        try {
          ctx = core_->options.select_certificate_without_sni(info_);
        } catch (...) {
          ctx = nullptr;  // keep the listener's certificate
        }
        if (ctx != nullptr) SSL_set_SSL_CTX(stream_.native_handle(), static_cast<SSL_CTX*>(ctx));
      }
      auto self = Self();
      stream_.async_handshake(
          ssl::stream_base::server, buffer_.data(),
          [self](const error_code& ec, size_t used) { self->OnHandshake(ec, used); });
    }
  }

  // Beast reads at most max(512, the buffer's free room) bytes per call, and
  // the parser empties the buffer after each: left at its first 512 bytes, a
  // buffer takes 200 reads (each with its timer re-armed) for a 100 KB body.
  // Room is made before each read: kHeadRoom for a head, up to kBodyRoom for
  // a body, given back between requests so an idle connection holds little.
  static constexpr size_t kHeadRoom = 4096;
  static constexpr size_t kBodyRoom = 65536;

  void MakeRoom(size_t room) {
    if (buffer_.capacity() - buffer_.size() < room) buffer_.reserve(buffer_.size() + room);
  }

  void ReadRequest() {
    state_ = State::kReadingHead;
    if (buffer_.size() == 0 && buffer_.capacity() > kHeadRoom) buffer_.shrink_to_fit();
    MakeRoom(kHeadRoom);
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(core_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(core_->options.max_body_bytes);
    Lowest().expires_after(core_->options.idle_timeout);
    auto self = Self();
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self](const error_code& ec, size_t) { self->OnHead(ec); });
  }

  void Apply(WriterImpl* writer, WriterOp op) override {
    if (writer != writer_.get() || closed_) return;
    if (!started_ && core_->draining.load(std::memory_order_relaxed)) keep_alive_ = false;
    switch (op.kind) {
      case WriterOp::kRespond: {
        if (started_) return;
        started_ = true;
        finished_ = true;
        std::string out;
        out.reserve(256 + op.response.body.size());
        AppendHead(&out, op.response.status, op.response.reason, op.response.headers);
        out.append("Content-Length: ");
        out.append(std::to_string(op.response.body.size()));
        out.append(keep_alive_ ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
        if (!head_request_) out.append(op.response.body);
        Queue(std::move(out));
        break;
      }
      case WriterOp::kStart: {
        if (started_) return;
        started_ = true;
        streaming_ = true;
        std::string out;
        AppendHead(&out, op.response.status, op.response.reason, op.response.headers);
        if (op.framing == StreamFraming::kCloseDelimited) {
          keep_alive_ = false;
          chunked_ = false;
          out.append("Connection: close\r\n\r\n");
        } else {
          chunked_ = true;
          out.append(keep_alive_ ? "Transfer-Encoding: chunked\r\n\r\n"
                                 : "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        }
        Queue(std::move(out));
        break;
      }
      case WriterOp::kWrite: {
        size_t n = op.bytes.size();
        if (!streaming_ || finished_) {
          writer_->Written(n);
          return;
        }
        if (chunked_) {
          char size[24];
          int len = snprintf(size, sizeof size, "%zx\r\n", n);
          std::string out;
          out.reserve(n + 32);
          out.append(size, static_cast<size_t>(len));
          out.append(op.bytes);
          out.append("\r\n");
          Queue(std::move(out), n);
        } else {
          Queue(std::move(op.bytes), n);
        }
        break;
      }
      case WriterOp::kFinish:
        if (!streaming_ || finished_) return;
        finished_ = true;
        if (chunked_) Queue("0\r\n\r\n");
        break;
      case WriterOp::kAbort:
        Close();
        return;
      case WriterOp::kTunnel:
        if (started_ || !is_connect_) return;
        started_ = true;
        finished_ = true;
        tunnel_ = true;
        Queue("HTTP/1.1 200 Connection Established\r\n\r\n");
        break;
    }
    Flush();
  }

 private:
  enum class State { kReadingHead, kReadingBody, kHandling, kAwaitNext, kDraining, kClosed };

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void OnHandshake(const error_code& ec, size_t used) {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      const char* sni = SSL_get_servername(stream_.native_handle(), TLSEXT_NAMETYPE_host_name);
      info_.sni = sni ? sni : "";
      if (ec) {
        if (core_->options.on_tls_failure) {
          TlsFailure failure{info_.peer, info_.sni, info_.local_port, info_.tunnel_authority,
                             ec.message()};
          try {
            core_->options.on_tls_failure(failure);
          } catch (...) {
          }
        }
        Close();
        return;
      }
      buffer_.consume(used);
      ReadRequest();
    }
  }

  void OnHead(const error_code& ec) {
    if (ec) return OnReadError(ec);
    head_read_at_ = std::chrono::steady_clock::now();
    if (auto expect = parser_->get().find(bhttp::field::expect);
        expect != parser_->get().end() && EqualsIgnoreCase(expect->value(), "100-continue") &&
        !parser_->is_done()) {
      auto self = Self();
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue), [self](const error_code& wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    state_ = State::kReadingBody;
    const boost::optional<uint64_t> length = parser_->content_length_remaining();
    MakeRoom(length ? static_cast<size_t>(std::min<uint64_t>(*length, kBodyRoom)) : kBodyRoom);
    Lowest().expires_after(core_->options.read_timeout);
    auto self = Self();
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self](const error_code& ec, size_t) { self->OnBody(ec); });
  }

  void OnReadError(const error_code& ec) {
    int status = StatusForReadError(ec);
    if (status == 0) return Close();
    Reject(status, ReasonForStatus(status, ec));
  }

  // Answers a request the server itself refuses, then closes.
  void Reject(int status, const std::string& reason, const HttpRequest* partial = nullptr) {
    core_->rejected.fetch_add(1);
    BeginInProgress();
    state_ = State::kHandling;
    keep_alive_ = false;
    started_ = streaming_ = finished_ = chunked_ = tunnel_ = false;
    Lowest().expires_never();
    writer_ = std::make_shared<WriterImpl>(shared_from_this(), stream_.get_executor());
    core_->Track(writer_);
    if (core_->options.on_reject) {
      RejectedRequest rejected;
      rejected.status = status;
      rejected.reason = reason;
      rejected.connection = info_;
      if (partial != nullptr) {
        rejected.method = partial->method;
        rejected.target = partial->target;
        rejected.headers = partial->headers;
      } else if (parser_) {
        const auto& msg = parser_->get();
        rejected.method = std::string(msg.method_string());
        rejected.target = std::string(msg.target());
        for (const auto& field : msg) {
          rejected.headers.Add(std::string(field.name_string()), std::string(field.value()));
        }
      }
      std::shared_ptr<WriterImpl> writer = writer_;
      try {
        core_->options.on_reject(rejected, writer);
        return;
      } catch (...) {
      }
    }
    HttpResponse response;
    response.status = status;
    response.headers.Add("Content-Type", "application/json");
    response.body =
        "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"glassbox: " + reason + "\"}}";
    // Messages come from our own text and Beast's error strings: no quotes to escape.
    Apply(writer_.get(), WriterOp{WriterOp::kRespond, std::move(response)});
  }

  void OnBody(const error_code& ec) {
    if (ec) return OnReadError(ec);
    HttpRequest request;
    request.connection = info_;
    request.head_read_at = head_read_at_;
    bool keep_alive = parser_->get().keep_alive();
    Status st = ToHttpRequest(parser_->release(), &request);
    parser_.reset();
    if (!st.ok()) return Reject(400, st.message(), &request);
    keep_alive_ = keep_alive;
    head_request_ = request.method == "HEAD";
    is_connect_ = request.method == "CONNECT";
    if (is_connect_) tunnel_authority_ = request.host;
    started_ = streaming_ = finished_ = chunked_ = tunnel_ = false;
    state_ = State::kHandling;
    BeginInProgress();
    Lowest().expires_never();
    writer_ = std::make_shared<WriterImpl>(shared_from_this(), stream_.get_executor());
    core_->Track(writer_);
    core_->requests.fetch_add(1);
    // With pipelined bytes already buffered the next request is read right
    // after this answer; the watch read is only for an otherwise idle socket.
    if (!is_connect_ && buffer_.size() == 0) Watch();
    std::shared_ptr<WriterImpl> writer = writer_;
    try {
      core_->handler(std::move(request), writer);
    } catch (...) {
      HttpResponse response;
      response.status = 500;
      response.body = "internal error in the request handler\n";
      writer->Respond(std::move(response));
    }
  }

  // Reads while the handler works, to notice a client that goes away.
  // Pipelined bytes are kept in buffer_ for the next request.
  void Watch() {
    if (watching_ || closed_) return;
    watching_ = true;
    auto self = Self();
    stream_.async_read_some(buffer_.prepare(4096),
                            [self](const error_code& ec, size_t n) { self->OnWatch(ec, n); });
  }

  void OnWatch(const error_code& ec, size_t n) {
    watching_ = false;
    if (closed_) return;
    if (ec) {
      if (state_ == State::kHandling && writer_) writer_->MarkGone();
      return Close();
    }
    buffer_.commit(n);
    if (state_ == State::kAwaitNext) return ReadRequest();
    if (state_ == State::kDraining) return Drain();
  }

  void Queue(std::string bytes, size_t payload = 0) {
    out_.push_back(std::move(bytes));
    queued_payload_.push_back(payload);
  }

  void Flush() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (finished_) ResponseDone();
      return;
    }
    writing_ = true;
    if (out_.size() == 1) {
      wbuf_ = std::move(out_.front());
    } else {
      wbuf_.clear();
      for (auto& s : out_) wbuf_.append(s);
    }
    wpayload_ = 0;
    for (size_t p : queued_payload_) wpayload_ += p;
    out_.clear();
    queued_payload_.clear();
    auto self = Self();
    asio::async_write(stream_, asio::buffer(wbuf_), [self](const error_code& ec, size_t) {
      self->writing_ = false;
      if (self->writer_) self->writer_->Written(self->wpayload_);
      if (ec) {
        if (self->writer_) self->writer_->MarkGone();
        return self->Close();
      }
      self->Flush();
    });
  }

  void ResponseDone() {
    if (writer_) writer_->MarkDone();
    writer_.reset();
    EndInProgress();
    if (tunnel_) return StartTunnel();
    if (!keep_alive_) return Shutdown();
    if (watching_) {
      state_ = State::kAwaitNext;
      return;
    }
    ReadRequest();
  }

  void StartTunnel() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      closed_ = true;  // this session hands its socket on
      ConnectionInfo info = info_;
      info.connection_id = core_->next_id.fetch_add(1);
      info.tunnel_authority = tunnel_authority_;
      StartConnection(core_, std::move(stream_), std::move(buffer_), std::move(info), true);
    } else {
      Close();  // CONNECT inside TLS is not served
    }
  }

  void Shutdown() {
    if (closed_) return;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      // Lingering close: closing with unread request bytes in the socket
      // sends a RST that can destroy the response before the client reads
      // it, so stop sending, drain what the client still sends, then close.
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      state_ = State::kDraining;
      Lowest().expires_after(std::chrono::seconds(2));
      if (watching_)
        return;  // OnWatch continues the drain  // the pending watch read ends in Close()
      Drain();
    } else {
      Lowest().expires_after(std::chrono::seconds(2));
      auto self = Self();
      stream_.async_shutdown([self](const error_code&) { self->Close(); });
    }
  }

  void Drain() {
    buffer_.clear();
    auto self = Self();
    stream_.async_read_some(buffer_.prepare(4096), [self](const error_code& ec, size_t) {
      if (ec || self->closed_) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    state_ = State::kClosed;
    EndInProgress();
    if (writer_) writer_->MarkGone();
    error_code ignored;
    Lowest().socket().close(ignored);
  }

  void BeginInProgress() {
    if (in_progress_) return;
    in_progress_ = true;
    core_->in_progress.fetch_add(1);
  }
  void EndInProgress() {
    if (!in_progress_) return;
    in_progress_ = false;
    core_->in_progress.fetch_sub(1);
  }

  std::shared_ptr<HttpServer::Core> core_;
  bool in_progress_ = false;      // counted in core_->in_progress
  std::string tunnel_authority_;  // host:port of the CONNECT being answered
  Stream stream_;
  beast::flat_buffer buffer_;
  ConnectionInfo info_;
  std::optional<RequestParser> parser_;
  std::chrono::steady_clock::time_point head_read_at_{};  // of the request being read
  State state_ = State::kReadingHead;
  std::shared_ptr<WriterImpl> writer_;
  std::deque<std::string> out_;
  std::vector<size_t> queued_payload_;
  std::string wbuf_;
  size_t wpayload_ = 0;
  bool writing_ = false, watching_ = false, closed_ = false;
  bool keep_alive_ = true, head_request_ = false, is_connect_ = false;
  bool started_ = false, streaming_ = false, finished_ = false, chunked_ = false, tunnel_ = false;
};

void StartTls(std::shared_ptr<HttpServer::Core> core, beast::tcp_stream stream,
              beast::flat_buffer buffer, ConnectionInfo info) {
  using TlsStream = ssl::stream<beast::tcp_stream>;
  info.tls = true;
  auto session = std::make_shared<Session<TlsStream>>(
      core, TlsStream(std::move(stream), *core->Tls()), std::move(buffer), std::move(info));
  session->Handshake();
}

void StartPlain(std::shared_ptr<HttpServer::Core> core, beast::tcp_stream stream,
                beast::flat_buffer buffer, ConnectionInfo info) {
  auto session = std::make_shared<Session<beast::tcp_stream>>(core, std::move(stream),
                                                              std::move(buffer), std::move(info));
  session->ReadRequest();
}

// Decides plain or TLS for a new connection (or a tunnel's stream).
void StartConnection(std::shared_ptr<HttpServer::Core> core, beast::tcp_stream stream,
                     beast::flat_buffer buffer, ConnectionInfo info, bool sniff) {
  if (!sniff || core->Tls() == nullptr) {
    if (!sniff && core->options.tls) {
      return StartTls(std::move(core), std::move(stream), std::move(buffer), std::move(info));
    }
    return StartPlain(std::move(core), std::move(stream), std::move(buffer), std::move(info));
  }
  // Sniff: read until the first byte(s) tell a ClientHello from plain text.
  // A connection that has not sent its first byte yet counts as open too
  // (max_connections), so silent connections cannot pile up uncounted.
  struct Sniffer {
    std::shared_ptr<HttpServer::Core> core;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    ConnectionInfo info;
    std::shared_ptr<void> counted;  // last: released while `core` still lives
  };
  core->active.fetch_add(1);
  std::shared_ptr<void> counted(nullptr, [c = core.get()](void*) { c->active.fetch_sub(1); });
  auto s = std::make_shared<Sniffer>(Sniffer{std::move(core), std::move(stream), std::move(buffer),
                                             std::move(info), std::move(counted)});
  s->stream.expires_after(s->core->options.idle_timeout);
  beast::async_detect_ssl(s->stream, s->buffer, [s](const error_code& ec, bool is_tls) {
    if (ec) {
      error_code ignored;
      s->stream.socket().close(ignored);
      return;
    }
    if (is_tls) {
      StartTls(s->core, std::move(s->stream), std::move(s->buffer), std::move(s->info));
    } else {
      StartPlain(s->core, std::move(s->stream), std::move(s->buffer), std::move(s->info));
    }
  });
}

}  // namespace

void HttpServer::Core::Accept() {
  auto self = shared_from_this();
  acceptor.async_accept(loop.Next(), [self](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec && self->options.max_connections > 0 &&
        self->active.load() >= self->options.max_connections) {
      error_code ignored;
      socket.close(ignored);
      self->refused.fetch_add(1);
    } else if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      self->accepted.fetch_add(1);
      ConnectionInfo info;
      info.peer = Endpoint(socket, true);
      info.local = Endpoint(socket, false);
      info.local_port = self->port;
      info.connection_id = self->next_id.fetch_add(1);
      // Continue on the socket's own thread.
      auto ex = socket.get_executor();
      asio::post(ex, [self, s = std::make_shared<tcp::socket>(std::move(socket)), info]() mutable {
        StartConnection(self, beast::tcp_stream(std::move(*s)), beast::flat_buffer(),
                        std::move(info), self->options.sniff_tls);
      });
    }
    self->Accept();
  });
}

HttpServer::HttpServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() {
  // A destructor must not throw; closing the acceptor can (asio reports
  // errors as exceptions), and there is nothing left to tell the caller.
  try {
    StopAccepting();
  } catch (...) {
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(EventLoop& loop, ServerOptions options,
                                                      Handler handler) {
  std::string where = options.listen_host + ":" + std::to_string(options.port);
  std::string host = options.listen_host == "localhost" ? "127.0.0.1" : options.listen_host;
  if (!host.empty() && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return Status::Error("listen address '" + where + "': not an IP address");
  if (options.sniff_tls && !options.tls && !options.select_certificate) {
    return Status::Error("listen address '" + where + "': TLS sniffing needs a certificate");
  }
  auto core = std::make_shared<Core>(loop.impl(), std::move(options), std::move(handler));
  if (!core->options.tls && core->options.select_certificate) {
    core->bare_tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  }
  if (core->options.select_certificate) {
    SSL_CTX_set_tlsext_servername_callback(core->Tls()->native_handle(), ServerNameCallback);
    SSL_CTX_set_tlsext_servername_arg(core->Tls()->native_handle(), core.get());
  }
  tcp::endpoint endpoint(address, core->options.port);
  core->acceptor.open(endpoint.protocol(), ec);
  if (!ec) core->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) core->acceptor.bind(endpoint, ec);
  if (!ec) core->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error("cannot listen on " + where + ": " + ec.message());
  core->port = core->acceptor.local_endpoint(ec).port();
  asio::post(core->acceptor.get_executor(), [core] { core->Accept(); });
  loop.impl().AddTeardown([weak = std::weak_ptr<Core>(core)] {
    if (auto c = weak.lock()) c->ReleaseWriters();
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

uint16_t HttpServer::port() const { return core_->port; }

ServerStats HttpServer::stats() const {
  ServerStats s;
  s.connections_accepted = core_->accepted.load();
  s.connections_active = core_->active.load();
  s.connections_refused = core_->refused.load();
  s.requests = core_->requests.load();
  s.rejected_requests = core_->rejected.load();
  s.requests_in_progress = core_->in_progress.load();
  return s;
}

void HttpServer::BeginDrain() {
  core_->draining.store(true);
  StopAccepting();
}

void HttpServer::StopAccepting() {
  auto core = core_;
  if (core->loop.stopped.load()) {
    error_code ignored;
    core->acceptor.close(ignored);
    return;
  }
  asio::post(core->acceptor.get_executor(), [core] {
    error_code ignored;
    core->acceptor.close(ignored);
  });
}

Result<HttpRequest> ParseRequestBytes(std::string_view bytes, const ServerOptions& options,
                                      size_t* consumed, int* status) {
  *consumed = 0;
  *status = 400;
  RequestParser parser;
  parser.eager(true);
  parser.header_limit(
      static_cast<uint32_t>(std::min<size_t>(options.max_header_bytes, UINT32_MAX)));
  parser.body_limit(options.max_body_bytes);
  error_code ec;
  while (!parser.is_done()) {
    size_t n = parser.put(asio::buffer(bytes.data() + *consumed, bytes.size() - *consumed), ec);
    *consumed += n;
    if (ec == bhttp::error::need_more) {
      if (*consumed >= bytes.size()) return Status::Error("incomplete request: more bytes needed");
      if (n == 0) return Status::Error("incomplete request: more bytes needed");
      ec = {};
      continue;
    }
    if (ec) {
      int s = StatusForReadError(ec);
      *status = s == 0 ? 400 : s;
      return Status::Error(ReasonForStatus(*status, ec));
    }
    // Beast can take nothing without asking for more (a partial body in
    // eager mode): without this the loop never ends (fuzz_http regression).
    if (!parser.is_done() && (n == 0 || *consumed >= bytes.size())) {
      return Status::Error("incomplete request: more bytes needed");
    }
  }
  HttpRequest request;
  Status st = ToHttpRequest(parser.release(), &request);
  if (!st.ok()) return st;
  *status = 0;
  return request;
}

}  // namespace glassbox::net
