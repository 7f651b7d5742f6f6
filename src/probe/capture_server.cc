#include "probe/capture_server.h"

#include <algorithm>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "net/event_loop.h"
#include "net/fake_provider.h"
#include "net/http.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "probe/mitm_ca.h"

namespace glassbox::probe {

struct CaptureServer::State {
  const MitmCa* ca = nullptr;
  net::FakeProvider provider;
  std::shared_ptr<net::TlsContext> default_tls;
  std::atomic<int> next_seq{0};
  std::mutex mutex;  // guards the members below
  std::chrono::steady_clock::time_point epoch;
  std::vector<CapturedRequest> requests;
  std::vector<TlsFailure> failures;
  size_t max_kept_bytes = 0;
  size_t max_body_bytes = 0;
  size_t kept_bytes = 0;   // bodies kept so far
  int dropped_bodies = 0;  // bodies not kept: max_kept_bytes reached
  int refused_bodies = 0;  // requests answered 413: larger than max_body_bytes

  double NowMs() {
    std::lock_guard<std::mutex> lock(mutex);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch)
        .count();
  }
};

namespace {

void Handle(const std::shared_ptr<CaptureServer::State>& state, net::HttpRequest request,
            std::shared_ptr<net::ResponseWriter> writer) {
  CapturedRequest r;
  r.seq = state->next_seq.fetch_add(1);
  r.t_ms = state->NowMs();
  r.scheme = request.connection.tls ? "https" : "http";
  r.sni = request.connection.sni;
  r.host = !request.host.empty() ? request.host : request.connection.sni;
  r.dest_ip = SplitPeerAddress(request.connection.peer, &r.client_port);
  r.dest_port = request.connection.local_port;
  r.via_proxy = request.absolute_form || !request.connection.tunnel_authority.empty() ||
                request.method == "CONNECT";
  r.method = request.method;
  r.target = request.target;
  for (const net::HeaderField& field : request.headers.fields()) {
    r.headers.emplace_back(field.name, field.value);
  }
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->kept_bytes + request.body.size() > state->max_kept_bytes) {
      ++state->dropped_bodies;  // recorded without its body; LimitsReached() says so
    } else {
      state->kept_bytes += request.body.size();
      r.body = request.body;
    }
  }

  if (request.method == "CONNECT") {
    // The tunnel's requests are recorded one by one as they come.
    r.response_status = 200;
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->requests.push_back(std::move(r));
    }
    writer->AcceptTunnel();
    return;
  }
  std::string origin_target = request.target;
  if (request.absolute_form) {
    origin_target = request.path.empty() ? "/" : request.path;
    if (!request.query.empty()) origin_target += "?" + request.query;
  }
  net::ResponsePlan plan = state->provider.Plan(request.method, origin_target, r.headers, r.body);
  r.response_status = plan.status;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->requests.push_back(std::move(r));
  }
  net::Headers headers;
  for (auto& [name, value] : plan.headers) headers.Add(name, value);
  if (plan.streaming) {
    // Delays and faults are for gateway tests; an agent under probe gets the
    // whole stream at once.
    writer->StartStream(plan.status, std::move(headers));
    for (net::FakeChunk& chunk : plan.chunks) writer->Write(std::move(chunk.bytes));
    writer->Finish();
    return;
  }
  net::HttpResponse response;
  response.status = plan.status;
  response.headers = std::move(headers);
  response.body = plan.Body();
  writer->Respond(std::move(response));
}

}  // namespace

std::string SplitPeerAddress(const std::string& peer, int* port) {
  std::string address = peer;
  std::string port_text;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close != std::string::npos) {
      if (close + 1 < address.size() && address[close + 1] == ':') {
        port_text = address.substr(close + 2);
      }
      address = address.substr(1, close - 1);
    }
  } else {
    size_t colon = address.rfind(':');
    if (colon != std::string::npos && address.find(':') == colon) {
      port_text = address.substr(colon + 1);
      address = address.substr(0, colon);
    }
  }
  constexpr std::string_view kMapped = "::ffff:";
  if (address.size() > kMapped.size() && address.compare(0, kMapped.size(), kMapped) == 0 &&
      address.find('.') != std::string::npos) {
    address = address.substr(kMapped.size());
  }
  if (port != nullptr) {
    *port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || *port > 65535) {
        *port = 0;
        break;
      }
      *port = *port * 10 + (c - '0');
    }
  }
  return address;
}

Result<std::unique_ptr<CaptureServer>> CaptureServer::Start(net::EventLoop& loop,
                                                            CaptureServerOptions options) {
  if (options.ca == nullptr) return Status::Error("capture server: no interception CA given");
  auto state = std::make_shared<State>();
  state->ca = options.ca;
  state->epoch = options.epoch;
  state->max_kept_bytes = options.max_kept_bytes;
  state->max_body_bytes = options.max_body_bytes;
  // SNI-less clients (an https URL with an IP address) get this certificate;
  // they will refuse it, which is then recorded as a TLS failure.
  Result<std::shared_ptr<const LeafCert>> fallback = options.ca->Leaf("localhost");
  if (!fallback.ok()) return fallback.status();
  Result<std::shared_ptr<net::TlsContext>> tls =
      net::TlsContext::ServerFromPem((*fallback)->chain_pem, (*fallback)->key_pem);
  if (!tls.ok()) return tls.status();
  state->default_tls = *tls;

  std::unique_ptr<CaptureServer> server(new CaptureServer());
  server->state_ = state;
  std::vector<std::string> hosts;
  if (options.listen_host.empty()) {
    hosts = {"::", "0.0.0.0"};
  } else {
    hosts = {options.listen_host};
  }
  for (int port : options.ports) {
    if (port < 0 || port > 65535) {
      return Status::Error(fmt::format("capture server: port {} out of range", port));
    }
    Status last = Status::Ok();
    bool started = false;
    for (const std::string& host : hosts) {
      net::ServerOptions server_options;
      server_options.listen_host = host;
      server_options.port = static_cast<uint16_t>(port);
      server_options.tls = state->default_tls;
      server_options.sniff_tls = true;
      server_options.idle_timeout = std::chrono::milliseconds(30'000);
      server_options.max_body_bytes = options.max_body_bytes;
      server_options.max_connections = options.max_connections;
      std::weak_ptr<State> rejecting = state;
      server_options.on_reject = [rejecting](const net::RejectedRequest& rejected,
                                             std::shared_ptr<net::ResponseWriter> writer) {
        if (std::shared_ptr<State> s = rejecting.lock(); s && rejected.status == 413) {
          std::lock_guard<std::mutex> lock(s->mutex);
          ++s->refused_bodies;
        }
        net::HttpResponse response;
        response.status = rejected.status;
        response.headers.Add("content-type", "application/json");
        response.body = "{}";
        writer->Respond(std::move(response));
      };
      const MitmCa* ca = options.ca;
      server_options.select_certificate = [ca](std::string_view sni) -> void* {
        Result<ssl_ctx_st*> ctx = ca->ServerContext(sni);
        return ctx.ok() ? static_cast<void*>(*ctx) : nullptr;
      };
      // Clients with no SNI (https://203.0.113.7/) get a leaf for the address
      // they dialled (or the CONNECT authority's host), with an IP SAN.
      server_options.select_certificate_without_sni =
          [ca](const net::ConnectionInfo& info) -> void* {
        const std::string address = SplitPeerAddress(
            info.tunnel_authority.empty() ? info.local : info.tunnel_authority, nullptr);
        if (address.empty()) return nullptr;
        Result<ssl_ctx_st*> ctx = ca->ServerContext(address);
        return ctx.ok() ? static_cast<void*>(*ctx) : nullptr;
      };
      std::weak_ptr<State> weak = state;
      server_options.on_tls_failure = [weak](const net::TlsFailure& f) {
        std::shared_ptr<State> s = weak.lock();
        if (!s) return;
        TlsFailure failure;
        failure.t_ms = s->NowMs();
        failure.sni = f.sni;
        failure.dest_ip = SplitPeerAddress(f.peer, nullptr);
        failure.dest_port = f.local_port;
        failure.reason = f.reason;
        if (!f.tunnel_authority.empty()) {
          failure.reason += fmt::format(" (inside a CONNECT tunnel to {})", f.tunnel_authority);
        }
        std::lock_guard<std::mutex> lock(s->mutex);
        s->failures.push_back(std::move(failure));
      };
      Result<std::unique_ptr<net::HttpServer>> http = net::HttpServer::Start(
          loop, std::move(server_options),
          [state](net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer) {
            Handle(state, std::move(request), std::move(writer));
          });
      if (http.ok()) {
        server->ports_.push_back((*http)->port());
        server->servers_.push_back(std::move(*http));
        started = true;
        break;
      }
      last = http.status();
    }
    if (!started) return Status::Error(fmt::format("capture server: {}", last.message()));
  }
  return server;
}

CaptureServer::~CaptureServer() { StopAccepting(); }

void CaptureServer::StopAccepting() {
  for (auto& s : servers_) s->StopAccepting();
}

bool CaptureServer::WaitForConnectionsToEnd(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    uint64_t active = 0;
    for (const auto& server : servers_) active += server->stats().connections_active;
    if (active == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void CaptureServer::set_epoch(std::chrono::steady_clock::time_point epoch) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->epoch = epoch;
}

std::vector<CapturedRequest> CaptureServer::TakeRequests() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<CapturedRequest> out = std::move(state_->requests);
  state_->requests.clear();
  std::sort(out.begin(), out.end(),
            [](const CapturedRequest& a, const CapturedRequest& b) { return a.seq < b.seq; });
  return out;
}

std::vector<std::string> CaptureServer::LimitsReached() const {
  std::vector<std::string> out;
  uint64_t refused = 0;
  for (const auto& server : servers_) refused += server->stats().connections_refused;
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->refused_bodies > 0) {
    out.push_back(
        fmt::format("capture: {} request(s) refused with 413: body larger than the {} MiB "
                    "a request may have",
                    state_->refused_bodies, state_->max_body_bytes >> 20));
  }
  if (state_->dropped_bodies > 0) {
    out.push_back(
        fmt::format("capture: {} request body(ies) not kept: the run's bodies reached {} MiB",
                    state_->dropped_bodies, state_->max_kept_bytes >> 20));
  }
  if (refused > 0) {
    out.push_back(
        fmt::format("capture: {} connection(s) closed unread: the agent held the most "
                    "connections a capture port accepts at once",
                    refused));
  }
  return out;
}

std::vector<TlsFailure> CaptureServer::TakeTlsFailures() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<TlsFailure> out = std::move(state_->failures);
  state_->failures.clear();
  return out;
}

}  // namespace glassbox::probe
