// The gateway's transport glue: HttpServer in, Policy around, HttpClient out,
// audit log last. See gateway.h for the contract.
#include "gate/gateway.h"

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <fmt/format.h>

#include "core/content_encoding.h"
#include "core/json_writer.h"
#include "gate/audit_log.h"
#include "gate/log_writer.h"
#include "gate/metrics.h"
#include "gate/policy.h"
#include "gate/provider_errors.h"
#include "gate/retention.h"
#include "gate/translation.h"
#include "gate/usage.h"
#include "net/event_loop.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace glassbox::gate {
namespace {

using Clock = std::chrono::steady_clock;

// A request that names no output limit is reserved this many output tokens
// of its user's budget until it ends (docs/gate.md).
constexpr uint64_t kDefaultMaxOutputTokens = 4096;

std::string FindingsJson(const std::vector<Finding>& findings) {
  std::ostringstream out;
  JsonWriter w(out);
  w.BeginArray();
  for (const Finding& f : findings) {
    w.BeginObject();
    w.Field("rule", f.rule);
    w.Field("severity", SeverityName(f.severity));
    if (!f.json_path.empty()) w.Field("json_path", f.json_path);
    if (!f.message.empty()) w.Field("message", f.message);
    if (!f.codepoints.empty()) {
      w.Key("codepoints").BeginArray();
      for (char32_t c : f.codepoints) w.String(fmt::format("U+{:04X}", static_cast<uint32_t>(c)));
      w.EndArray();
    }
    if (!f.decoded.empty()) w.Field("decoded", f.decoded);
    w.EndObject();
  }
  w.EndArray();
  return out.str();
}

Finding GateFinding(std::string rule, std::string message, Severity severity = Severity::kMedium) {
  Finding f;
  f.rule = std::move(rule);
  f.message = std::move(message);
  f.severity = severity;
  return f;
}

// Something a protocol translation could not carry over (translate.h notes).
Finding TranslationFinding(std::string note) {
  return GateFinding("gate/translation-dropped", std::move(note), Severity::kInfo);
}

net::HttpResponse JsonResponse(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.headers.Add("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

bool IsHopByHopResponseHeader(std::string_view name) {
  for (std::string_view h :
       {"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "TE", "Trailer",
        "Upgrade", "Proxy-Connection", "Proxy-Authenticate"}) {
    if (net::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

}  // namespace

namespace {
struct Exchange;
struct Outgoing;
}  // namespace

struct Gateway::Impl {
  GatewayOptions options;
  // Declared before the loop: exchanges that the loop's teardown frees use
  // them in their destructors.
  // Exchanges alive (Handle/HandleRejected to the end of their record), and
  // the upstream requests of those forwarded, for Drain() to cancel.
  std::atomic<uint64_t> exchanges_alive{0};
  std::atomic<bool> drain_deadline_passed{false};
  std::mutex live_mu;
  uint64_t next_live_id = 1;                                            // guarded by live_mu
  std::map<uint64_t, std::weak_ptr<net::RequestHandle>> live_upstream;  // guarded by live_mu
  std::mutex reload_mu;                                                 // one reload at a time
  // Replaced whole by a reload; each exchange keeps the one it started with.
  mutable std::mutex policy_mu;
  std::shared_ptr<const Policy> current_policy;  // guarded by policy_mu
  std::unique_ptr<UsageLedger> ledger;
  std::unique_ptr<LogWriter> log;
  std::unique_ptr<net::EventLoop> loop;
  std::unique_ptr<net::HttpServer> server;
  std::unique_ptr<net::HttpClient> client;
  Metrics metrics;
  std::atomic<bool> stopped{false};

  std::chrono::system_clock::time_point Now() const {
    return options.clock ? options.clock() : std::chrono::system_clock::now();
  }
  // Tells the operator (the CLI prints it); the library itself never prints.
  void Notice(const std::string& message) const {
    if (options.on_notice) options.on_notice(message);
  }
  std::shared_ptr<const Policy> CurrentPolicy() const {
    std::lock_guard lock(policy_mu);
    return current_policy;
  }
  std::string MetricsText() {
    metrics.store_up.store(log->log().Available() ? 1 : 0);
    metrics.shared_budget_errors.store(ledger->shared_errors());
    metrics.records_lost.store(log->log().RecordsLost());
    const LogStore::Answers answers = log->log().AnswersRead();
    metrics.answers_by_appends.store(answers.by_appends);
    metrics.answers_by_threads.store(answers.by_threads);
    return metrics.Text(server->stats());
  }
  void Handle(net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer);
  // HEAD /, the gate's own endpoints and the store-down refusal: true when
  // `request` was answered here.
  bool AnswerHere(const net::HttpRequest& request,
                  const std::shared_ptr<net::ResponseWriter>& writer);
  // Sends the exchange's request upstream and hands `digest` to the log.
  void Forward(const std::shared_ptr<Exchange>& ex, const UpstreamConfig& upstream,
               const std::string& method, Outgoing outgoing, std::shared_ptr<RequestDigest> digest);
  void HandleReload(const net::HttpRequest& request,
                    const std::shared_ptr<net::ResponseWriter>& writer);
  Status ReloadNow(std::optional<GateConfig> given);
  void HandleRejected(const net::RejectedRequest& rejected,
                      std::shared_ptr<net::ResponseWriter> writer);
};

namespace {

// One exchange between a client and an upstream. Created by Handle(); the
// client callbacks, the client-gone callback and the log completion keep it
// alive. Upstream callbacks run on one I/O thread, in order; the log
// completion runs on the log thread after them.
struct Exchange : std::enable_shared_from_this<Exchange> {
  Gateway::Impl* gw;
  std::shared_ptr<const Policy> policy;  // the policy this exchange started with
  std::shared_ptr<net::ResponseWriter> writer;
  Clock::time_point start;
  std::chrono::system_clock::time_point wall_start;
  std::string method, path;
  Route route;
  std::string user = "anonymous", agent = "unknown", upstream, model;
  bool log_payloads = true;
  std::optional<std::string> logged_request;
  bool logged_request_screened = false;  // see AuditRecord::request_body_screened
  std::string request_sha256;
  // Set once the request is forwarded: request_sha256 is then computed on
  // the log thread (RequestDigest).
  std::shared_ptr<RequestDigest> request_digest;
  std::vector<Finding> findings;
  // Model routes and protocol translation (gate/translation.h).
  RoutePlan plan;
  std::unique_ptr<translate::StreamTranslator> stream_translator;
  // Budget: held from admission until the exchange ends (SettleUsage).
  Reservation reservation;
  bool forwarded = false;             // the request went to the upstream
  uint64_t input_estimate = 0;        // tokens, from the forwarded body
  bool gate_requested_usage = false;  // see OutboundResult
  bool usage_settled = false;

  uint64_t live_id = 0;  // in gw->live_upstream while forwarded
  // Ends of the phases so far (Metrics::Observe; the epoch: not reached).
  Clock::time_point forwarded_at{}, upstream_head_at{}, upstream_done_at{};

  explicit Exchange(Gateway::Impl* gateway) : gw(gateway) { gw->exchanges_alive.fetch_add(1); }
  ~Exchange() {
    // Every path settles; this only guards against a reservation left held.
    if (!usage_settled) gw->ledger->Settle(user, reservation, model, {}, route.protocol, gw->Now());
    if (live_id != 0) {
      std::lock_guard lock(gw->live_mu);
      gw->live_upstream.erase(live_id);
    }
    gw->exchanges_alive.fetch_sub(1);
  }

  // Response side.
  bool head_seen = false, streaming = false;
  int status = 0;
  double upstream_latency_ms = 0;
  net::Headers response_headers;
  std::unique_ptr<InboundStream> inbound;
  std::string response_buffer;  // non-streamed body, or the forwarded stream for the log
  std::shared_ptr<net::RequestHandle> upstream_request;
  std::atomic<bool> client_gone{false};
  bool client_too_slow = false;  // ended because the client stopped reading (OnBody)

  // Called once per exchange, by the path that ends it: it moves the logged
  // request body into the record.
  AuditRecord BaseRecord() {
    AuditRecord r;
    r.time = FormatRfc3339(wall_start);
    r.user = user;
    r.agent = agent;
    r.upstream = upstream;
    r.model = model;
    r.method = method;
    r.path = path;
    r.latency_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    r.request_body = std::move(logged_request);
    logged_request.reset();
    r.request_body_screened = logged_request_screened;
    r.request_sha256 = request_sha256;
    return r;
  }

  // Answers a count_tokens request here with an estimate (the routed
  // upstream cannot count), logged like any exchange.
  void AnswerCountLocally(std::string_view request_body) {
    Result<std::string> count = LocalTokenCount(route, request_body);
    if (!count.ok()) {
      return Refuse(MakeRefusal(route.protocol, ErrorKind::kInvalidRequest, "malformed-json",
                                count.status().message()));
    }
    findings.push_back(GateFinding(
        "gate/token-estimate",
        "answered by the gate with an estimate (about 4 bytes of text per token): upstream " +
            upstream + " cannot count tokens",
        Severity::kInfo));
    AuditRecord r = BaseRecord();
    r.status = 200;
    SettleUsage(net::Usage{}, &r);  // nothing was forwarded: nothing charged
    r.findings = FindingsJson(findings);
    r.response_body = *count;
    r.response_sha256 = Sha256Hex(*count);
    net::HttpResponse response = JsonResponse(200, std::move(count).value());
    response.headers.Add("x-glassbox-token-count", "estimate");
    Commit(std::move(r),
           [self = shared_from_this(), response = std::move(response)](Status st) mutable {
             if (!st.ok()) response.status = 500;
             self->gw->metrics.Request(self->route.name, response.status);
             self->writer->Respond(std::move(response));
           });
  }

  // Logs and then answers with `refusal` in the provider's format.
  void Refuse(const Refusal& refusal) {
    gw->metrics.Refusal(refusal.code);
    findings.push_back(
        GateFinding("gate/refused-" + refusal.code, refusal.message, Severity::kInfo));
    AuditRecord r = BaseRecord();
    r.status = refusal.status;
    r.findings = FindingsJson(findings);
    r.response_body = refusal.body;
    r.response_sha256 = Sha256Hex(refusal.body);
    SettleUsage(net::Usage{}, &r);
    net::HttpResponse response;
    response.status = refusal.status;
    response.headers.Add("Content-Type", "application/json");
    if (refusal.retry_after_seconds > 0)
      response.headers.Add("retry-after", std::to_string(refusal.retry_after_seconds));
    response.body = refusal.body;
    Commit(std::move(r),
           [self = shared_from_this(), response = std::move(response)](Status st) mutable {
             if (!st.ok()) {
               response.status = 500;
             }
             self->gw->metrics.Request(self->route.name, response.status);
             self->gw->metrics.bytes_to_clients.fetch_add(response.body.size());
             self->writer->Respond(std::move(response));
           });
  }

  // Appends `record`; `then` runs after the commit (or the failure).
  void Commit(AuditRecord record, std::function<void(Status)> then) {
    const Clock::time_point handed = Clock::now();
    if (upstream_done_at != Clock::time_point{})
      gw->metrics.Observe(Phase::kInbound, handed - upstream_done_at);
    gw->log->Append(
        std::move(record),
        [gw = gw, handed, answers = !client_gone.load(), then = std::move(then)](Status st) {
          const Clock::time_point acknowledged = Clock::now();
          gw->metrics.Observe(Phase::kLog, acknowledged - handed);
          if (!st.ok()) {
            gw->metrics.log_errors.fetch_add(1);
            // on_store_down = serve-unlogged: the exchange goes on without
            // its record (counted); refuse (the default) fails it.
            if (gw->CurrentPolicy()->config().log.serve_unlogged) {
              gw->metrics.unlogged.fetch_add(1);
              st = Status::Ok();
            }
          }
          then(std::move(st));
          if (answers) gw->metrics.Observe(Phase::kRespond, Clock::now() - acknowledged);
        },
        request_digest);
  }

  void OnHead(const net::ResponseHead& head) {
    head_seen = true;
    status = head.status;
    upstream_head_at = Clock::now();
    gw->metrics.Observe(Phase::kUpstream, upstream_head_at - forwarded_at);
    upstream_latency_ms =
        std::chrono::duration<double, std::milli>(upstream_head_at - forwarded_at).count();
    gw->metrics.UpstreamLatency(upstream_latency_ms / 1000.0);
    for (const net::HeaderField& f : head.headers.fields()) {
      if (!IsHopByHopResponseHeader(f.name)) response_headers.Add(f.name, f.value);
    }
    auto type = head.headers.Get("Content-Type");
    streaming = type && type->find("text/event-stream") != std::string_view::npos;
    if (streaming) {
      if (plan.translate && status < 300)
        stream_translator = NewResponseStreamTranslator(plan, model);
      inbound = policy->NewInboundStream(route, gate_requested_usage);
      writer->StartStream(status, response_headers);
    }
  }

  void OnBody(std::string_view bytes) {
    gw->metrics.bytes_from_upstreams.fetch_add(bytes.size());
    if (!streaming) {
      response_buffer.append(bytes);
      return;
    }
    std::string translated;
    if (stream_translator) bytes = translated = stream_translator->Feed(bytes);
    std::string out = inbound->Feed(bytes);
    if (out.empty()) return;
    if (log_payloads) response_buffer.append(out);
    gw->metrics.bytes_to_clients.fetch_add(out.size());
    writer->Write(std::move(out));
    const size_t backlog = writer->pending_bytes();
    if (backlog > gw->options.max_client_backlog_bytes && !client_too_slow) {
      // The client stopped reading: end the exchange rather than hold the
      // rest of the stream in memory (recorded in OnComplete).
      client_too_slow = true;
      findings.push_back(
          GateFinding("gate/client-too-slow",
                      fmt::format("the client stopped reading: {} bytes of the stream were waiting "
                                  "for it (limit {}); the "
                                  "connection was closed and the upstream request cancelled",
                                  backlog, gw->options.max_client_backlog_bytes),
                      Severity::kLow));
      client_gone.store(true);
      writer->Abort();
      if (upstream_request) upstream_request->Cancel();
    }
  }

  void OnComplete(Status upstream_status) {
    upstream_done_at = Clock::now();
    if (head_seen) gw->metrics.Observe(Phase::kUpstreamBody, upstream_done_at - upstream_head_at);
    auto self = shared_from_this();
    if (client_gone.load()) {
      // Nobody to answer: record what happened and stop.
      gw->metrics.cancelled.fetch_add(1);
      if (streaming) {
        std::string rest = inbound->Finish();
        if (log_payloads) response_buffer.append(rest);
        findings.insert(findings.end(), inbound->findings().begin(), inbound->findings().end());
      }
      if (!client_too_slow) {
        findings.push_back(GateFinding("gate/client-gone",
                                       "the client disconnected before the response ended; the "
                                       "upstream request was cancelled",
                                       Severity::kInfo));
      }
      AuditRecord r = BaseRecord();
      r.status = 499;
      SettleUsage(inbound ? inbound->usage() : net::Usage{}, &r);
      r.findings = FindingsJson(findings);
      if (log_payloads) r.response_body = response_buffer;
      if (inbound) r.response_sha256 = inbound->original_sha256();
      gw->metrics.Request(route.name, 499);
      Commit(std::move(r), [self](Status) {});
      return;
    }
    if (!upstream_status.ok() && gw->drain_deadline_passed.load()) {
      findings.push_back(GateFinding(
          "gate/drain-deadline",
          "the gate was stopping and its drain deadline passed: the upstream request was "
          "cancelled",
          Severity::kLow));
    }
    if (!upstream_status.ok()) gw->metrics.upstream_errors.fetch_add(1);
    if (!upstream_status.ok() && !streaming) {
      // Nothing sent yet: answer 502 in the provider's format.
      Refusal refusal = MakeRefusal(route.protocol, ErrorKind::kUpstream, "upstream-error",
                                    upstream_status.message());
      if (head_seen)
        findings.push_back(GateFinding("gate/upstream-truncated", upstream_status.message()));
      return Refuse(refusal);
    }
    if (streaming) return FinishStream(std::move(upstream_status));
    FinishJson();
  }

  void FinishStream(Status upstream_status) {
    std::string rest;
    if (stream_translator) {
      rest = inbound->Feed(stream_translator->Finish());
      for (const std::string& note : stream_translator->notes())
        findings.push_back(TranslationFinding(note));
      if (!stream_translator->status().ok()) {
        findings.push_back(
            GateFinding("gate/untranslatable-stream", stream_translator->status().message()));
      }
    }
    rest += inbound->Finish();
    if (!rest.empty()) {
      if (log_payloads) response_buffer.append(rest);
      gw->metrics.bytes_to_clients.fetch_add(rest.size());
      writer->Write(std::move(rest));
    }
    findings.insert(findings.end(), inbound->findings().begin(), inbound->findings().end());
    if (!upstream_status.ok()) {
      findings.push_back(GateFinding("gate/upstream-truncated", "the upstream stream broke off: " +
                                                                    upstream_status.message()));
    } else if (!inbound->complete()) {
      findings.push_back(GateFinding("gate/stream-incomplete",
                                     "the stream ended without its final event", Severity::kLow));
    }
    gw->metrics.Findings(findings);
    AuditRecord r = BaseRecord();
    r.status = status;
    SettleUsage(inbound->usage(), &r);
    r.findings = FindingsJson(findings);
    if (log_payloads) r.response_body = std::move(response_buffer);
    r.response_sha256 = inbound->original_sha256();
    bool ok = upstream_status.ok();
    gw->metrics.Request(route.name, status);
    auto self = shared_from_this();
    Commit(std::move(r), [self, ok](Status st) {
      // The final chunk terminator goes out only once the record is stored;
      // a broken upstream stream (or a failed commit) is passed on as a
      // broken stream, never as a complete one.
      if (ok && st.ok()) {
        self->writer->Finish();
      } else {
        self->writer->Abort();
      }
    });
  }

  void FinishJson() {
    if (plan.translate) {
      TranslatedResponse t = TranslateResponse(plan, route, model, status, response_buffer);
      status = t.status;
      response_buffer = std::move(t.body);
      for (const std::string& note : t.notes) findings.push_back(TranslationFinding(note));
    }
    InboundResult in = policy->InboundJson(route, response_buffer);
    findings.insert(findings.end(), in.findings.begin(), in.findings.end());
    gw->metrics.Findings(findings);
    AuditRecord r = BaseRecord();
    r.status = status;
    SettleUsage(in.usage, &r);
    r.findings = FindingsJson(findings);
    if (log_payloads) r.response_body = in.body;
    r.response_sha256 = in.original_sha256;
    net::HttpResponse response;
    response.status = status;
    response.headers = std::move(response_headers);
    response.body = std::move(in.body);
    auto self = shared_from_this();
    Commit(std::move(r), [self, response = std::move(response)](Status st) mutable {
      if (!st.ok()) {
        Refusal failed =
            MakeRefusal(self->route.protocol, ErrorKind::kInternal, "log-failed",
                        "the audit log could not record this exchange: " + st.message());
        response.status = failed.status;
        response.headers = net::Headers{{"Content-Type", "application/json"}};
        response.body = failed.body;
      }
      self->gw->metrics.Request(self->route.name, response.status);
      self->gw->metrics.bytes_to_clients.fetch_add(response.body.size());
      self->writer->Respond(std::move(response));
    });
  }

  // Ends the budget reservation and charges the exchange: what the
  // upstream reported, else estimates -- input from the forwarded body
  // (counted once the request is sent), output from the model text streamed
  // so far (a client that hangs up before the final event is charged for
  // what it got). Fills the record's token counts and, when estimated, adds
  // a gate/usage-estimated finding. Call before FindingsJson.
  void SettleUsage(const net::Usage& reported, AuditRecord* r) {
    if (usage_settled) return;
    usage_settled = true;
    net::Usage charged = reported;
    std::string estimated;
    if (forwarded && head_seen) {
      if (!charged.input_tokens && !charged.total_tokens) {
        charged.input_tokens = input_estimate;
        estimated = fmt::format("input {} tokens (from {} request bytes)", input_estimate,
                                input_estimate * 4);
      }
      if (inbound) {
        // A stream cut before its final event reports at most a placeholder
        // (Anthropic's message_start says output_tokens: 1): the text that
        // went out counts, whichever is more.
        const uint64_t text = inbound->output_text_bytes();
        const uint64_t from_text = (text + 3) / 4;
        const bool none = !charged.output_tokens && !charged.total_tokens;
        const bool cut = !inbound->complete() && from_text > charged.output_tokens.value_or(0);
        if (none || cut) {
          charged.output_tokens = from_text;
          estimated += fmt::format("{}output {} tokens (from {} bytes of model output{})",
                                   estimated.empty() ? "" : ", ", from_text, text,
                                   cut ? ", the stream was cut" : "");
        }
      }
    } else if (forwarded && !charged.any()) {
      // Sent, but no answer came: the upstream may still have read it.
      charged.input_tokens = input_estimate;
      estimated = fmt::format("input {} tokens (from the request's size)", input_estimate);
    }
    if (!estimated.empty()) {
      findings.push_back(
          GateFinding("gate/usage-estimated",
                      "the upstream reported no usage for this exchange; charged " + estimated,
                      Severity::kInfo));
    }
    gw->ledger->Settle(user, reservation, model, charged, route.protocol, gw->Now());
    r->input_tokens = static_cast<int64_t>(charged.input_tokens.value_or(0));
    r->output_tokens = static_cast<int64_t>(charged.output_tokens.value_or(0));
  }
};

// /_glassbox/health: {"status":"ok"}; while the store is down 503 when the
// gate refuses (take it out of the load balancer), 200 when it serves
// unlogged, with "status":"degraded". "records_lost": N (N > 0) counts
// records acknowledged but then not stored (LogStore::RecordsLost).
net::HttpResponse Health(bool store_up, bool serve_unlogged, uint64_t records_lost) {
  std::string body = store_up ? "{\"status\":\"ok\""
                              : std::string(
                                    "{\"status\":\"degraded\",\"store\":\"down\","
                                    "\"on_store_down\":\"") +
                                    (serve_unlogged ? "serve-unlogged" : "refuse") + "\"";
  if (records_lost > 0) body += ",\"records_lost\":" + std::to_string(records_lost);
  body += "}";
  return JsonResponse(store_up || serve_unlogged ? 200 : 503, std::move(body));
}

// A refusal for a spent budget (429) or a store that cannot keep budgets
// (503), in the client's format.
Refusal BudgetRefusal(net::Provider protocol, const BudgetDecision& budget) {
  if (budget.budget == "store_down") {
    Refusal refusal = MakeRefusal(protocol, ErrorKind::kInternal, "store-down", budget.message);
    refusal.status = 503;
    refusal.retry_after_seconds = 1;
    return refusal;
  }
  Refusal refusal = MakeRefusal(protocol, ErrorKind::kRateLimit, "budget", budget.message);
  refusal.retry_after_seconds = budget.retry_after_seconds;
  return refusal;
}

// A compressed body is decoded here, so the policy reads what the model
// will read; it is forwarded decoded (Content-Encoding is not passed on).
// br is refused (415), as docs/gate.md says.
std::optional<Refusal> DecodeRequestBody(const Policy& policy, net::Provider protocol,
                                         net::HttpRequest& request) {
  auto encoding = request.headers.Get("Content-Encoding");
  if (!encoding || encoding->empty()) return std::nullopt;
  DecodedContent decoded =
      DecodeContentEncoding(*encoding, request.body, policy.config().max_body_bytes,
                            kCodingGzip | kCodingDeflate | kCodingZstd);
  if (decoded.outcome == DecodedContent::Outcome::kDecoded) {
    request.body = std::move(decoded.body);
    return std::nullopt;
  }
  const bool too_large = decoded.outcome == DecodedContent::Outcome::kTooLarge;
  const bool unsupported = decoded.outcome == DecodedContent::Outcome::kUnsupported;
  const std::string reason = decoded.reason + (too_large     ? " (max_body_bytes)"
                                               : unsupported ? "; send it uncompressed"
                                                             : "");
  Refusal refusal =
      MakeRefusal(protocol, too_large ? ErrorKind::kTooLarge : ErrorKind::kInvalidRequest,
                  too_large ? "body-too-large" : "content-encoding", reason);
  if (unsupported) refusal.status = 415;
  return refusal;
}

// The checks before the policy reads the body: the route, the headers (and
// who is asking), the body's encoding and the budget. Fills `ex` and `hd`;
// a refusal, when one applies.
std::optional<Refusal> Admit(Exchange& ex, const Policy& policy, net::HttpRequest& request,
                             HeaderDecision* hd) {
  HeaderList headers;
  headers.reserve(request.headers.size());
  for (const net::HeaderField& f : request.headers.fields()) headers.emplace_back(f.name, f.value);
  // Absolute-form targets (a client using the gate as a forward proxy) are
  // routed by their path like any other.
  std::string target = request.path + (request.query.empty() ? "" : "?" + request.query);
  RouteDecision decision = policy.ClassifyRoute(request.method, target, headers);
  ex.route = decision.route;
  ex.upstream = decision.route.upstream;
  ex.model = decision.route.model;
  ex.log_payloads = decision.route.log_payloads;
  if (decision.refusal) return decision.refusal;

  *hd = policy.CheckAndRewriteHeaders(ex.route, headers);
  ex.agent = hd->agent.empty() ? "unknown" : hd->agent;
  if (!hd->user.empty()) ex.user = hd->user;
  ex.log_payloads = ex.log_payloads && hd->log_payloads;
  ex.findings = std::move(hd->findings);
  if (hd->refusal) return hd->refusal;
  if (auto refusal = DecodeRequestBody(policy, ex.route.protocol, request)) return refusal;
  // A spent budget is refused before the body is read; the reservation
  // (below) needs the body's size and output limit.
  if (BudgetDecision budget = ex.gw->ledger->Check(ex.user, ex.gw->Now()); !budget.allowed) {
    return BudgetRefusal(ex.route.protocol, budget);
  }
  return std::nullopt;
}

// Plans the route (gate/translation.h) and reserves the budget. False when
// the exchange was answered here: a refusal, or a token count answered
// locally.
bool PlanAndReserve(Exchange& ex, const Policy& policy, const net::HttpRequest& request,
                    OutboundResult& out) {
  ex.plan = PlanRoute(policy.config(), ex.route, ex.model);
  if (ex.plan.upstream != nullptr) ex.upstream = ex.plan.upstream->name;
  if (ex.plan.refusal || ex.plan.count_locally) {
    ex.gw->metrics.Findings(ex.findings);
    ex.request_sha256 = Sha256Hex(request.body);
    if (ex.log_payloads) ex.logged_request = out.changed ? std::move(out.body) : request.body;
    if (ex.plan.count_locally) {
      ex.AnswerCountLocally(request.body);
    } else {
      ex.Refuse(*ex.plan.refusal);
    }
    return false;
  }
  // Input is counted from what is sent (about 4 bytes a token), output at
  // the most the request allows.
  const size_t forwarded_bytes = out.changed ? out.body.size() : request.body.size();
  ex.input_estimate = (forwarded_bytes + 3) / 4;
  net::Usage estimate;
  estimate.input_tokens = ex.input_estimate;
  estimate.output_tokens = out.max_output_tokens.value_or(kDefaultMaxOutputTokens);
  if (BudgetDecision budget = ex.gw->ledger->Reserve(ex.user, ex.model, estimate, ex.route.protocol,
                                                     ex.gw->Now(), &ex.reservation);
      !budget.allowed) {
    ex.request_sha256 = Sha256Hex(request.body);
    ex.Refuse(BudgetRefusal(ex.route.protocol, budget));
    return false;
  }
  ex.gate_requested_usage = out.gate_requested_usage;
  ex.gw->metrics.Findings(ex.findings);
  return true;
}

// What goes upstream: the body (or the original's bytes, shared with the
// log), its target and headers.
struct Outgoing {
  std::string body;
  std::shared_ptr<const std::string> shared_body;  // instead of `body`
  std::string target;
  HeaderList headers;
};

// The bytes to forward: the client's own when policy changed nothing (so
// the original goes out untouched), else the policy's edit. Fills `digest`
// for the log: an unchanged original is shared with the upstream request,
// not copied (the log hashes, stores or copies it while the upstream
// answers); a routed request is rebuilt from a copy (RouteOutgoing).
Outgoing ChooseForwardBody(Exchange& ex, net::HttpRequest& request, OutboundResult& out,
                           HeaderList headers, RequestDigest* digest) {
  Outgoing o;
  if (!out.changed) {
    auto original = std::make_shared<const std::string>(std::move(request.body));
    digest->logged_is_original = ex.log_payloads;
    digest->screened = out.secret_free;
    if (ex.plan.upstream != nullptr) {
      o.body = *original;
    } else {
      o.shared_body = original;
    }
    digest->shared_original = std::move(original);
  } else {
    digest->original = std::move(request.body);
    o.body = std::move(out.body);
    if (ex.log_payloads) ex.logged_request = o.body;
  }
  if (ex.log_payloads) ex.logged_request_screened = out.secret_free;
  o.target = out.upstream_target.empty() ? ex.route.upstream_target : out.upstream_target;
  o.headers = std::move(headers);
  return o;
}

// A model route may send the request to another upstream, translated to
// its protocol (gate/translation.h). A refusal when it cannot be.
std::optional<Refusal> RouteOutgoing(Exchange& ex, const Policy& policy, bool secret_free,
                                     Outgoing* o, RequestDigest* digest) {
  if (ex.plan.upstream == nullptr) return std::nullopt;
  Result<RoutedRequest> routed =
      BuildRoutedRequest(policy.config(), ex.plan, ex.route, std::move(o->body), o->headers);
  if (!routed.ok()) {
    return MakeRefusal(
        ex.route.protocol, ErrorKind::kInvalidRequest, "untranslatable",
        "cannot be sent to upstream " + ex.upstream + ": " + routed.status().message());
  }
  o->body = std::move(routed->body);
  o->target = std::move(routed->target);
  o->headers = std::move(routed->headers);
  for (std::string& note : routed->notes)
    ex.findings.push_back(TranslationFinding(std::move(note)));
  if (ex.log_payloads && (ex.plan.translate || !ex.plan.upstream_model.empty())) {
    // Translation moves the policy's strings (decoded and re-escaped);
    // it makes no new text, so a secret-free body stays secret-free.
    // Hashed and stored ahead with the original (RequestDigest).
    digest->translated = o->body;
    digest->translated_screened = secret_free;
  }
  return std::nullopt;
}

}  // namespace

void Gateway::Impl::Handle(net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer) {
  metrics.bytes_from_clients.fetch_add(request.body.size());
  if (AnswerHere(request, writer)) return;

  std::shared_ptr<const Policy> policy = CurrentPolicy();
  auto ex = std::make_shared<Exchange>(this);
  ex->policy = policy;
  ex->writer = writer;
  ex->start = Clock::now();
  ex->wall_start = Now();
  if (request.head_read_at != Clock::time_point{})
    metrics.Observe(Phase::kRequestRead, ex->start - request.head_read_at);
  ex->method = request.method;
  ex->path = request.path;
  HeaderDecision hd;
  if (std::optional<Refusal> refusal = Admit(*ex, *policy, request, &hd)) {
    // The original body's SHA-256 comes from ApplyOutbound, which hashes it
    // anyway; refusals before it hash it here (one hash per request either way).
    ex->request_sha256 = Sha256Hex(request.body);
    return ex->Refuse(*refusal);
  }

  // The original's hash is left to the log (below) unless refused; an
  // unchanged body is not copied (ChooseForwardBody).
  OutboundResult out = policy->ApplyOutbound(ex->route, request.body,
                                             {.hash_original = false, .copy_unchanged = false});
  ex->request_sha256 = std::move(out.original_sha256);
  ex->findings.insert(ex->findings.end(), out.findings.begin(), out.findings.end());
  if (!out.model.empty()) ex->model = out.model;
  if (!out.upstream.empty()) ex->upstream = out.upstream;
  if (out.refusal) return ex->Refuse(*out.refusal);
  if (!PlanAndReserve(*ex, *policy, request, out)) return;
  const UpstreamConfig* upstream = FindUpstream(policy->config(), ex->upstream);
  if (upstream == nullptr) {
    ex->request_sha256 = Sha256Hex(request.body);
    if (ex->log_payloads) ex->logged_request = out.changed ? std::move(out.body) : request.body;
    return ex->Refuse(MakeRefusal(ex->route.protocol, ErrorKind::kInternal, "no-upstream",
                                  "no upstream called '" + ex->upstream + "' is configured"));
  }
  auto digest = std::make_shared<RequestDigest>();
  Outgoing outgoing = ChooseForwardBody(*ex, request, out, std::move(hd.headers), digest.get());
  ex->request_digest = digest;
  if (std::optional<Refusal> refusal =
          RouteOutgoing(*ex, *policy, out.secret_free, &outgoing, digest.get())) {
    return ex->Refuse(*refusal);
  }
  Forward(ex, *upstream, request.method, std::move(outgoing), std::move(digest));
}

bool Gateway::Impl::AnswerHere(const net::HttpRequest& request,
                               const std::shared_ptr<net::ResponseWriter>& writer) {
  // Some agents (Claude Code) send HEAD / at start-up to see that the base URL
  // answers: a liveness check, not an exchange with a provider, so not logged.
  if (request.method == "HEAD" && request.path == "/") {
    net::HttpResponse r;
    r.headers.Add("Content-Type", "application/json");
    writer->Respond(std::move(r));
    return true;
  }
  const bool store_up = log->log().Available();
  if (request.path == "/_glassbox/health") {
    writer->Respond(
        Health(store_up, CurrentPolicy()->config().log.serve_unlogged, log->log().RecordsLost()));
    return true;
  }
  if (request.path == "/_glassbox/reload") {
    HandleReload(request, writer);
    return true;
  }
  if (request.path == "/_glassbox/metrics") {
    net::HttpResponse r;
    r.headers.Add("Content-Type", "text/plain; version=0.0.4");
    r.body = MetricsText();
    writer->Respond(std::move(r));
    return true;
  }
  if (!store_up && !CurrentPolicy()->config().log.serve_unlogged) {
    // on_store_down = refuse: nothing goes through that the log cannot record.
    metrics.store_down_refusals.fetch_add(1);
    net::HttpResponse r = JsonResponse(503,
                                       "{\"error\":{\"type\":\"store_unavailable\",\"message\":"
                                       "\"the gate's audit log store is unreachable "
                                       "(on_store_down = refuse)\"}}");
    r.headers.Add("retry-after", "1");
    writer->Respond(std::move(r));
    return true;
  }
  return false;
}

void Gateway::Impl::Forward(const std::shared_ptr<Exchange>& ex, const UpstreamConfig& upstream,
                            const std::string& method, Outgoing outgoing,
                            std::shared_ptr<RequestDigest> digest) {
  net::Url url;
  url.scheme = upstream.url.scheme;
  url.host = upstream.url.host;
  url.port = upstream.url.port;  // the path prefix is already in the target

  net::ClientRequest upstream_request;
  upstream_request.method = method;
  upstream_request.target = std::move(outgoing.target);
  for (auto& [name, value] : outgoing.headers)
    upstream_request.headers.Add(std::move(name), std::move(value));
  upstream_request.body = std::move(outgoing.body);
  upstream_request.shared_body = std::move(outgoing.shared_body);

  net::ClientCallbacks callbacks;
  callbacks.on_headers = [ex](const net::ResponseHead& head) { ex->OnHead(head); };
  callbacks.on_body = [ex](std::string_view bytes) { ex->OnBody(bytes); };
  callbacks.on_complete = [ex](Status st) { ex->OnComplete(std::move(st)); };
  ex->forwarded = true;
  ex->forwarded_at = Clock::now();
  metrics.Observe(Phase::kOutbound, ex->forwarded_at - ex->start);
  ex->upstream_request = client->Send(url, std::move(upstream_request), std::move(callbacks));
  {
    std::lock_guard lock(live_mu);
    ex->live_id = next_live_id++;
    live_upstream.emplace(ex->live_id, ex->upstream_request);
  }
  // Hashed (and a large body stored) while the upstream works, by this
  // thread once the request is written (queued after the write), or by the
  // log thread when the log is busy. On two cores, handing it to the log
  // thread cost a wake-up and slowed the upstream exchange about as much
  // as the hash took (p50 added 0.19-0.29 ms against 0.17-0.21). A record
  // that comes first (a very fast upstream) hashes the body itself.
  loop->PostHere([log = log.get(), digest = std::move(digest)]() mutable {
    log->PrepareHere(std::move(digest));
  });
  ex->writer->OnClientGone([weak = std::weak_ptr<Exchange>(ex)] {
    if (auto e = weak.lock()) {
      e->client_gone.store(true);
      if (e->upstream_request) e->upstream_request->Cancel();
    }
  });
}

// POST /_glassbox/reload: Reload(), for a peer on this machine only.
void Gateway::Impl::HandleReload(const net::HttpRequest& request,
                                 const std::shared_ptr<net::ResponseWriter>& writer) {
  const std::string& peer = request.connection.peer;
  const bool loopback = peer.starts_with("127.") || peer.starts_with("[::1]");
  if (!loopback)
    return writer->Respond(
        JsonResponse(403, "{\"error\":\"reload is allowed from loopback only\"}"));
  if (request.method != "POST")
    return writer->Respond(JsonResponse(405, "{\"error\":\"use POST\"}"));
  // On the I/O thread: building a policy takes a few milliseconds (the
  // secret rules' database is precompiled), and reloads are rare.
  {
    const Status st = ReloadNow(std::nullopt);
    std::ostringstream body;
    JsonWriter w(body);
    w.BeginObject();
    w.Field("status", st.ok() ? "reloaded" : "refused");
    if (!st.ok()) w.Field("reason", st.message());
    w.EndObject();
    writer->Respond(JsonResponse(st.ok() ? 200 : 400, body.str()));
  }
}

Status Gateway::Impl::ReloadNow(std::optional<GateConfig> given) {
  std::lock_guard reload_lock(reload_mu);
  Result<GateConfig> loaded = given ? Result<GateConfig>(std::move(*given))
                              : options.reload_config
                                  ? options.reload_config()
                                  : Result<GateConfig>(Status::Error("this gate was started "
                                                                     "without a way to reload"));
  Status st = loaded.ok() ? Status::Ok() : loaded.status();
  std::shared_ptr<const Policy> old = CurrentPolicy();
  if (st.ok()) {
    const GateConfig& now = old->config();
    if (loaded->listen != now.listen) {
      st = Status::Error(fmt::format("the listen address changed ({} -> {}); that needs a restart",
                                     now.listen, loaded->listen));
    } else if (loaded->log.durability != now.log.durability) {
      st = Status::Error("the log's durability changed; that needs a restart");
    } else if (loaded->log.location != now.log.location || loaded->log.replica != now.log.replica ||
               loaded->log.bodies_ahead != now.log.bodies_ahead) {
      st = Status::Error(
          "the log's location, replica name or bodies_ahead changed; that needs a restart");
    } else {
      st = CheckRoutes(*loaded);
    }
  }
  std::shared_ptr<const Policy> built;
  if (st.ok()) {
    auto policy = Policy::Create(std::move(loaded.value()), options.secret_scan_fault);
    if (policy.ok()) {
      built = std::move(policy.value());
    } else {
      st = policy.status();
    }
  }
  if (!st.ok()) {
    metrics.Reload(false);
    Notice("reload refused, the running configuration is kept: " + st.message());
    return st;
  }
  ledger->Reconfigure(built->config());
  {
    std::lock_guard lock(policy_mu);
    current_policy = std::move(built);
  }
  metrics.Reload(true);
  Notice("configuration reloaded");
  return Status::Ok();
}

// Requests the HTTP layer refused (unparsable, head or body too large):
// answered in the provider's format guessed from the path, and logged.
void Gateway::Impl::HandleRejected(const net::RejectedRequest& rejected,
                                   std::shared_ptr<net::ResponseWriter> writer) {
  auto ex = std::make_shared<Exchange>(this);
  ex->policy = CurrentPolicy();
  ex->writer = std::move(writer);
  ex->start = Clock::now();
  ex->wall_start = Now();
  ex->method = rejected.method.empty() ? "-" : rejected.method.substr(0, 32);
  std::string path = rejected.target.substr(0, rejected.target.find('?')).substr(0, 256);
  ex->path = path.empty() ? "-" : path;
  ex->logged_request = std::nullopt;
  HeaderList headers;
  for (const net::HeaderField& f : rejected.headers.fields()) headers.emplace_back(f.name, f.value);
  RouteDecision decision =
      ex->policy->ClassifyRoute(rejected.method, path.empty() ? "/" : path, headers);
  ex->route = decision.route;
  ex->upstream = decision.route.upstream;
  ex->agent = IdentifyAgent(headers);
  metrics.Findings({GateFinding("gate/bad-http", rejected.reason)});
  ErrorKind kind = rejected.status == 413 ? ErrorKind::kTooLarge : ErrorKind::kInvalidRequest;
  Refusal refusal =
      MakeRefusal(ex->route.protocol, kind, rejected.status == 413 ? "body-too-large" : "bad-http",
                  rejected.reason);
  refusal.status = rejected.status;
  ex->Refuse(refusal);
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

namespace {

// Keeps the memory of finished exchanges in the heap. By default glibc
// returns the top of the heap to the kernel once 128 KB of it is free,
// which a 100 KB request does on every exchange, so the next one's body
// buffers fault fresh pages in: a translated 100 KB request (two more
// body-sized buffers) spent ~45 us more in page faults before it was
// forwarded (policy copy 65 -> 41 us, translation and its log copy
// 55 -> 20 us, medians). Up to 16 MB of free heap is kept (plus 2 MB of
// padding when it grows), and blocks up to 4 MB come from the heap, not
// from mmap. Process-wide: the gate is the process's one job.
void KeepHeapForBodies() {
#if defined(__GLIBC__)
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  mallopt(M_TOP_PAD, 2 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  KeepHeapForBodies();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const GateConfig& config = impl->options.config;

  std::string host = config.listen;
  uint16_t port = 0;
  size_t colon = host.rfind(':');
  if (colon == std::string::npos)
    return Status::Error("listen address '" + config.listen + "': expected HOST:PORT");
  {
    const std::string_view digits = std::string_view(host).substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return Status::Error("listen address '" + config.listen +
                           "': the port must be a number from 0 to 65535");
    }
  }
  host = host.substr(0, colon);

  if (Status st = CheckRoutes(config); !st.ok()) return st;
  auto policy = Policy::Create(config, impl->options.secret_scan_fault);
  if (!policy.ok()) return policy.status();
  impl->current_policy = std::move(policy.value());
  impl->ledger = std::make_unique<UsageLedger>(impl->current_policy->config());

  auto log = LogWriter::Open(impl->options.log_path, config.log.durability, config.log.replica,
                             config.log.bodies_ahead);
  if (!log.ok()) {
    // PostgreSQL's messages name the (password-masked) URL themselves.
    if (IsPostgresUrl(impl->options.log_path))
      return Status::Error("audit log: " + log.status().message());
    return Status::Error("audit log '" + impl->options.log_path + "': " + log.status().message());
  }
  impl->log = std::move(log.value());
  {
    Impl* self = impl.get();
    impl->log->OnStoreFailure([self, warned = false](const Status& st) mutable {
      self->metrics.bodies_kept_inline.fetch_add(1);
      if (warned) return;
      warned = true;  // once: the cause (another gate on this log) usually lasts
      self->Notice(st.message() + "; large request bodies go into their records instead (slower)");
    });
  }
  if (!impl->options.checkpoint_key_path.empty()) {
    auto signer = CheckpointSigner::Load(impl->options.checkpoint_key_path);
    if (!signer.ok()) return signer.status();
    CheckpointOptions checkpoints;
    checkpoints.signer = std::move(signer.value());
    if (impl->options.checkpoint_path.empty() && IsPostgresUrl(impl->options.log_path)) {
      return Status::Error(
          "with a PostgreSQL log, name each replica's checkpoint file (--checkpoints FILE)");
    }
    checkpoints.path = impl->options.checkpoint_path.empty()
                           ? impl->options.log_path + ".checkpoints"
                           : impl->options.checkpoint_path;
    checkpoints.every_records = std::max<int64_t>(1, impl->options.checkpoint_every_records);
    checkpoints.every = impl->options.checkpoint_every;
    checkpoints.sync = config.log.durability == LogDurability::kFull;
    Impl* self = impl.get();
    checkpoints.now = [self] { return FormatRfc3339(self->Now()); };
    checkpoints.on_failure = [self](const Status& st) {
      self->Notice("checkpoint not written: " + st.message());
    };
    impl->log->SetCheckpoints(std::move(checkpoints));
  }
  if (std::shared_ptr<SharedBudgets> shared = impl->log->log().Budgets()) {
    // A fleet: the store keeps every replica's spend (store.h).
    impl->ledger->ShareBudgets(std::move(shared), !config.log.serve_unlogged);
  } else {
    // Budgets survive restarts: this month's usage is read back from the log.
    Status seeded = impl->ledger->SeedFromLog(impl->log->log(), impl->Now());
    (void)seeded;  // a record with an unreadable time is skipped; the rest still count
  }
  // [retention]: applied now, then hourly on the log thread.
  Result<int64_t> trimmed =
      ApplyRetention(impl->current_policy->config().retention, impl->log->log(), impl->Now());
  if (!trimmed.ok()) {
    return Status::Error("audit log '" + impl->options.log_path +
                         "': retention: " + trimmed.status().message());
  }
  {
    Impl* self = impl.get();
    impl->log->SetMaintenance(std::chrono::hours(1), [self](LogStore& audit_log) {
      // A failure here leaves the records in place; the next hour retries.
      (void)ApplyRetention(self->CurrentPolicy()->config().retention, audit_log, self->Now());
    });
  }

  impl->loop = std::make_unique<net::EventLoop>(std::max(1, impl->options.io_threads));
  net::ClientOptions client_options;
  client_options.connect_timeout = impl->options.upstream_connect_timeout;
  client_options.read_timeout = impl->options.upstream_read_timeout;
  client_options.tls = impl->options.upstream_tls;
  auto client = net::HttpClient::Create(*impl->loop, client_options);
  if (!client.ok()) return client.status();
  impl->client = std::move(client.value());

  net::ServerOptions server_options;
  server_options.listen_host = host;
  server_options.port = port;
  // Bodies up to twice the policy's limit reach the policy, which refuses
  // them in the provider's format and logs them; beyond that the server
  // answers 413 itself without reading them.
  server_options.max_body_bytes = config.max_body_bytes * 2 + (64u << 10);
  server_options.tls = impl->options.listener_tls;
  server_options.read_timeout = impl->options.client_read_timeout;
  server_options.idle_timeout = impl->options.client_idle_timeout;
  Impl* raw = impl.get();
  server_options.on_reject = [raw](const net::RejectedRequest& rejected,
                                   std::shared_ptr<net::ResponseWriter> writer) {
    raw->HandleRejected(rejected, std::move(writer));
  };
  auto server = net::HttpServer::Start(
      *impl->loop, server_options,
      [raw](net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer) {
        raw->Handle(std::move(request), std::move(writer));
      });
  if (!server.ok()) return server.status();
  impl->server = std::move(server.value());
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const { return impl_->server->port(); }

std::string Gateway::MetricsText() const { return impl_->MetricsText(); }

Status Gateway::Reload() { return impl_->ReloadNow(std::nullopt); }
Status Gateway::Reload(GateConfig config) { return impl_->ReloadNow(std::move(config)); }

Gateway::DrainReport Gateway::Drain(std::chrono::milliseconds deadline) {
  DrainReport report;
  if (!impl_ || impl_->stopped.load()) return report;
  Impl& gw = *impl_;
  const uint64_t alive_at_start = gw.exchanges_alive.load();
  gw.server->BeginDrain();
  auto settled = [&] {
    return gw.exchanges_alive.load() == 0 && gw.server->stats().requests_in_progress == 0;
  };
  auto wait_until = [&](Clock::time_point until) {
    while (!settled() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return settled();
  };
  if (!wait_until(Clock::now() + deadline)) {
    gw.drain_deadline_passed.store(true);
    std::vector<std::shared_ptr<net::RequestHandle>> cut;
    {
      std::lock_guard lock(gw.live_mu);
      for (auto& [id, weak] : gw.live_upstream) {
        if (auto handle = weak.lock()) cut.push_back(std::move(handle));
      }
    }
    report.cut = cut.size();
    for (auto& handle : cut) handle->Cancel();
    // The cancelled exchanges log themselves and answer (a broken stream).
    wait_until(Clock::now() + std::chrono::seconds(5));
  }
  report.finished = alive_at_start >= report.cut ? alive_at_start - report.cut : 0;
  Stop();
  return report;
}

void Gateway::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  if (impl_->server) impl_->server->StopAccepting();
  if (impl_->loop) impl_->loop->Stop();
  if (impl_->log) impl_->log->Stop();
  impl_->server.reset();
  impl_->client.reset();
}

}  // namespace glassbox::gate
