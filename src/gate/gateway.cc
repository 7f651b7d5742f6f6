// The gateway's transport glue: HttpServer in, Policy around, HttpClient out,
// audit log last. See gateway.h for the contract.
#include "gate/gateway.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/json_writer.h"
#include "gate/audit_log.h"
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

// The SHA-256 of a request body as the client sent it, computed while the
// upstream answers (LogWriter::PrepareHere), instead of before forwarding.
// The I/O thread fills `original` and the flags; from then on the object is
// touched only under the log's lock (LogWriter::log_mu_).
struct RequestDigest {
  std::string original;
  // The request body to log is `original` itself (policy changed nothing
  // and payloads are logged): it is stored ahead or moved into the record, and
  // the digest is also the log's digest of the stored body. The exchange's
  // own logged_request then stays empty.
  bool logged_is_original = false;
  bool screened = false;  // AuditRecord::request_body_screened for `original`
  std::string hex;
  // Set on the log thread when `original` was stored ahead of the record
  // (AuditLog::StoreRequestBody): the record then only names it.
  int64_t body_at = 0;
  std::string body_sha256;
  bool consumed = false;  // its record has been built
};

// Appends records on its own thread, in arrival order, so no I/O thread ever
// waits for SQLite's fsync. `done` runs after the commit, on the log thread
// (or on the caller's, below). Maintenance (retention) runs on the log
// thread, between batches.
//
// With durability normal (no fsync per commit) a record that finds the log
// idle -- nothing queued, no batch in progress -- is committed by the
// calling thread itself and `done` runs there: the ~50 us of waking the log
// thread and the hand-off back are saved, and the commit is still complete
// before `done` runs. The log's connection is used by one thread at a time
// (log_mu_).
class LogWriter {
 public:
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& path, LogDurability durability) {
    AuditLog::Options options;
    options.durability = durability;
    // Checkpoints run on their own thread and connection (below), so no
    // commit ever waits for the WAL to be copied into the database.
    options.auto_checkpoint = false;
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate, options);
    if (!log.ok()) return log.status();
    auto checkpointer = AuditLog::Open(path, AuditLog::OpenMode::kExisting, options);
    if (!checkpointer.ok()) return checkpointer.status();
    auto writer = std::unique_ptr<LogWriter>(new LogWriter(std::move(log.value())));
    // With an fsync per commit, storing a body ahead would cost a second
    // fsync per request; the body then goes inline with its record.
    writer->store_ahead_ = durability == LogDurability::kNormal;
    writer->commit_inline_ = durability == LogDurability::kNormal;
    writer->checkpointer_ = std::move(checkpointer.value());
    writer->thread_ = std::thread([w = writer.get()] { w->Run(); });
    writer->checkpoint_thread_ = std::thread([w = writer.get()] { w->RunCheckpoints(); });
    return writer;
  }
  ~LogWriter() { Stop(); }

  // `digest`, when given, normally went through PrepareHere() first (if not,
  // the commit hashes it); its hash becomes the record's request_sha256.
  void Append(AuditRecord record, std::function<void(Status)> done, std::shared_ptr<RequestDigest> digest = nullptr) {
    {
      std::unique_lock lock(mu_);
      if (!stopping_ && commit_inline_ && done != nullptr && queue_.empty() && !batch_in_progress_) {
        std::unique_lock log_lock(log_mu_, std::try_to_lock);
        if (log_lock.owns_lock()) {
          lock.unlock();
          std::deque<Item> one;
          one.push_back(Item{std::move(record), std::move(done), std::move(digest), false});
          CommitBatch(one, log_lock);
          return;
        }
      }
      if (!stopping_) {
        queue_.push_back(Item{std::move(record), std::move(done), std::move(digest), false});
        done = nullptr;
      }
    }
    // Notified after unlocking, so the log thread does not wake into a held mutex.
    if (done == nullptr) return cv_.notify_one();
    done(Status::Error("the audit log is closed"));
  }

  // Hashes digest->original on the log thread, ahead of the record that
  // will use it (the queue is processed in order).
  // As Prepare(), but done by the calling thread when the log is free
  // (else queued for the log thread).
  void PrepareHere(std::shared_ptr<RequestDigest> digest) {
    {
      std::unique_lock log_lock(log_mu_, std::try_to_lock);
      if (log_lock.owns_lock()) {
        PrepareDigest(*digest);
        return;
      }
    }
    Prepare(std::move(digest));
  }
  void Prepare(std::shared_ptr<RequestDigest> digest) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Item{AuditRecord{}, nullptr, std::move(digest), true});
    }
    cv_.notify_one();
  }

  // Drains the queue and joins the threads (a last checkpoint included).
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
      checkpoint_cv_.notify_one();
    }
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  }

  AuditLog& log() { return *log_; }

  // Called on the log thread when a body could not be stored ahead (it then
  // goes into its record). Call before the gateway serves.
  void OnStoreFailure(std::function<void(const Status&)> callback) { on_store_failure_ = std::move(callback); }

  // Runs `task` on the log thread every `interval` (first after one interval).
  // Call before the gateway serves.
  void SetMaintenance(std::chrono::milliseconds interval, std::function<void(AuditLog&)> task) {
    std::lock_guard lock(mu_);
    maintenance_interval_ = interval;
    maintenance_ = std::move(task);
    next_maintenance_ = Clock::now() + interval;
    cv_.notify_one();
  }

 private:
  explicit LogWriter(std::unique_ptr<AuditLog> log) : log_(std::move(log)) {}

  // Group commit: everything queued while the last transaction was syncing
  // goes into the next one, so a busy gateway pays one fsync per batch.
  struct Item {
    AuditRecord record;
    std::function<void(Status)> done;
    std::shared_ptr<RequestDigest> digest;
    bool prepare_only = false;  // a Prepare(): hash, no record
  };

  static void Hash(RequestDigest& d) {
    if (!d.hex.empty()) return;
    d.hex = Sha256Hex(d.original);
    if (!d.logged_is_original) std::string().swap(d.original);  // no longer needed
  }

  // Request bodies at least this large are stored ahead of their records
  // while the upstream answers, so the commit the client waits for writes a
  // small row; smaller ones go inline (one transaction fewer).
  static constexpr size_t kStoreAheadBytes = 16 << 10;

  // A Prepare(): the digest, and a large logged body stored ahead. On a
  // failure to store, the body stays for the record to carry inline.
  void PrepareDigest(RequestDigest& d) {
    if (d.consumed) return;  // the record came first (a very fast upstream)
    Hash(d);
    if (!store_ahead_ || !d.logged_is_original || d.body_at != 0 || d.original.size() < kStoreAheadBytes) return;
    auto stored = log_->StoreRequestBody(d.original, d.screened, d.hex);
    if (!stored.ok()) {
      if (on_store_failure_) on_store_failure_(stored.status());
      return;
    }
    d.body_at = stored->at;
    d.body_sha256 = std::move(stored->sha256);
    std::string().swap(d.original);
  }

  void Run() {
    for (;;) {
      std::deque<Item> batch;
      std::function<void(AuditLog&)> maintenance;
      {
        std::unique_lock lock(mu_);
        auto ready = [&] { return stopping_ || !queue_.empty() || (maintenance_ && Clock::now() >= next_maintenance_); };
        if (maintenance_) {
          cv_.wait_until(lock, next_maintenance_, ready);
        } else {
          cv_.wait(lock, ready);
        }
        if (maintenance_ && !stopping_ && Clock::now() >= next_maintenance_) {
          maintenance = maintenance_;
          next_maintenance_ = Clock::now() + maintenance_interval_;
        }
        if (queue_.empty() && stopping_) return;
        batch.swap(queue_);
        batch_in_progress_ = true;
      }
      {
        std::unique_lock log_lock(log_mu_);
        if (maintenance) maintenance(*log_);
        CommitBatch(batch, log_lock);
      }
      std::lock_guard lock(mu_);
      batch_in_progress_ = false;
    }
  }

  // Hashes the batch's digests (a queued Prepare() precedes its record),
  // commits its records in one transaction, then -- with log_lock released --
  // runs their `done` callbacks.
  void CommitBatch(std::deque<Item>& batch, std::unique_lock<std::mutex>& log_lock) {
    {
      for (Item& item : batch) {
        if (item.prepare_only) PrepareDigest(*item.digest);
      }
      std::vector<AuditRecord> records;
      records.reserve(batch.size());
      for (Item& item : batch) {
        if (item.prepare_only) continue;
        if (item.digest) {
          RequestDigest& d = *item.digest;
          Hash(d);
          item.record.request_sha256 = d.hex;
          if (d.logged_is_original && d.body_at != 0) {
            item.record.request_body = std::nullopt;
            item.record.request_body_at = d.body_at;
            item.record.request_body_sha256 = d.body_sha256;
          } else if (d.logged_is_original) {
            item.record.request_body = std::move(d.original);
            item.record.request_body_sha256 = d.hex;
          }
          d.consumed = true;
        }
        records.push_back(std::move(item.record));
      }
      if (records.empty()) return;
      auto stored = log_->AppendBatch(std::move(records));
      Status st = stored.ok() ? Status::Ok() : stored.status();
      log_lock.unlock();
      bool wake;
      {
        std::lock_guard lock(checkpoint_mu_);
        // Only a checkpoint thread waiting for records needs waking: during
        // its pause between checkpoints a wake-up would only put it back to
        // sleep (one futex call and context switch per request).
        wake = !wal_dirty_ && checkpoint_waiting_;
        wal_dirty_ = true;
      }
      if (wake) checkpoint_cv_.notify_one();
      for (Item& item : batch) {
        if (!item.prepare_only) item.done(st);
      }
    }
  }

  // Copies the WAL into the database when records arrived, at most every
  // kCheckpointPause (a PASSIVE checkpoint never blocks the writer), so the
  // copy keeps up and the writer can start the WAL over; once more at the
  // end. Only if the WAL still grows
  // past kRestartFrames (a writer that never pauses) does a RESTART
  // checkpoint make appends wait for it, to bound the file.
  void RunCheckpoints() {
    constexpr int64_t kRestartFrames = 16384;  // 64 MB of 4 KB pages
    constexpr auto kCheckpointPause = std::chrono::milliseconds(20);
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_waiting_ = true;
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stopping_ || wal_dirty_; });
      checkpoint_waiting_ = false;
      const bool last = checkpoint_stopping_;
      wal_dirty_ = false;
      lock.unlock();
      // A failed checkpoint leaves the records in the WAL, where they are
      // as durable; the next one retries.
      // Bodies stored ahead reach the disk before the records naming them
      // are made durable by the checkpoint (the WAL is synced in it).
      (void)log_->SyncBodies();
      auto done = checkpointer_->Checkpoint();
      if (done.ok() && done->wal_frames > kRestartFrames) {
        (void)checkpointer_->Checkpoint(AuditLog::CheckpointMode::kRestart);
      }
      lock.lock();
      if (last) return;
      // Batches a few records per checkpoint (each ends with an fsync of
      // the database) while staying short enough to finish between appends.
      checkpoint_cv_.wait_for(lock, kCheckpointPause, [&] { return checkpoint_stopping_; });
    }
  }

  std::unique_ptr<AuditLog> log_;
  std::mutex log_mu_;  // held while log_ is used (after mu_ when both are taken)
  bool store_ahead_ = true;  // see PrepareDigest
  std::function<void(const Status&)> on_store_failure_;
  bool commit_inline_ = false;  // see the class comment
  std::unique_ptr<AuditLog> checkpointer_;
  std::thread thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool wal_dirty_ = false;
  bool checkpoint_waiting_ = false;  // RunCheckpoints waits for wal_dirty_
  bool checkpoint_stopping_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool batch_in_progress_ = false;  // the log thread took a batch and has not finished it
  bool stopping_ = false;
  std::function<void(AuditLog&)> maintenance_;
  std::chrono::milliseconds maintenance_interval_{0};
  Clock::time_point next_maintenance_{};
};

// Counters behind /_glassbox/metrics.
class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

  void Request(const std::string& route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{route, status}];
  }
  void Refusal(const std::string& code) {
    std::lock_guard lock(mu_);
    ++refusals_[code];
  }
  void Findings(const std::vector<Finding>& findings) {
    if (findings.empty()) return;
    std::lock_guard lock(mu_);
    for (const Finding& f : findings) ++findings_[f.rule];
  }
  void UpstreamLatency(double seconds) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++latency_buckets_[i];
    }
    latency_sum_ += seconds;
    ++latency_count_;
  }
  std::atomic<uint64_t> bytes_from_clients{0}, bytes_to_clients{0}, bytes_from_upstreams{0};
  std::atomic<uint64_t> upstream_errors{0}, log_errors{0}, cancelled{0}, bodies_kept_inline{0};

  std::string Text(const net::ServerStats& server) const {
    std::string out;
    std::lock_guard lock(mu_);
    out += "# HELP glassbox_gate_requests_total Requests answered, by route and HTTP status.\n";
    out += "# TYPE glassbox_gate_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += fmt::format("glassbox_gate_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    }
    out += "# HELP glassbox_gate_refusals_total Requests refused by policy, by reason.\n";
    out += "# TYPE glassbox_gate_refusals_total counter\n";
    for (const auto& [code, n] : refusals_) {
      out += fmt::format("glassbox_gate_refusals_total{{code=\"{}\"}} {}\n", code, n);
    }
    out += "# HELP glassbox_gate_findings_total Findings in requests and responses, by rule.\n";
    out += "# TYPE glassbox_gate_findings_total counter\n";
    for (const auto& [rule, n] : findings_) {
      out += fmt::format("glassbox_gate_findings_total{{rule=\"{}\"}} {}\n", rule, n);
    }
    out += "# HELP glassbox_gate_upstream_latency_seconds Time from forwarding a request to the upstream's response head.\n";
    out += "# TYPE glassbox_gate_upstream_latency_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("glassbox_gate_upstream_latency_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i],
                         latency_buckets_[i]);
    }
    out += fmt::format("glassbox_gate_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count_);
    out += fmt::format("glassbox_gate_upstream_latency_seconds_sum {}\n", latency_sum_);
    out += fmt::format("glassbox_gate_upstream_latency_seconds_count {}\n", latency_count_);
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
    };
    counter("glassbox_gate_client_bytes_received_total", "Request bytes received from clients.",
            bytes_from_clients.load());
    counter("glassbox_gate_client_bytes_sent_total", "Response body bytes sent to clients.", bytes_to_clients.load());
    counter("glassbox_gate_upstream_bytes_received_total", "Response body bytes received from upstreams.",
            bytes_from_upstreams.load());
    counter("glassbox_gate_upstream_errors_total", "Upstream connections or responses that failed.",
            upstream_errors.load());
    counter("glassbox_gate_cancelled_total", "Exchanges cancelled because the client went away.", cancelled.load());
    counter("glassbox_gate_log_errors_total", "Audit log appends that failed.", log_errors.load());
    counter("glassbox_gate_log_bodies_kept_inline_total",
            "Large request bodies kept in their records because the body store refused them.",
            bodies_kept_inline.load());
    out += fmt::format(
        "# HELP glassbox_gate_active_connections Open client connections.\n"
        "# TYPE glassbox_gate_active_connections gauge\nglassbox_gate_active_connections {}\n",
        server.connections_active);
    counter("glassbox_gate_connections_total", "Client connections accepted.", server.connections_accepted);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> refusals_;
  std::map<std::string, uint64_t> findings_;
  std::array<uint64_t, kBuckets.size()> latency_buckets_{};
  double latency_sum_ = 0;
  uint64_t latency_count_ = 0;
};

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
  for (std::string_view h : {"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "TE", "Trailer",
                             "Upgrade", "Proxy-Connection", "Proxy-Authenticate"}) {
    if (net::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

}  // namespace

struct Gateway::Impl {
  GatewayOptions options;
  std::shared_ptr<const Policy> policy;
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
  void Handle(net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer);
  void HandleRejected(const net::RejectedRequest& rejected, std::shared_ptr<net::ResponseWriter> writer);
};

namespace {

// One exchange between a client and an upstream. Created by Handle(); the
// client callbacks, the client-gone callback and the log completion keep it
// alive. Upstream callbacks run on one I/O thread, in order; the log
// completion runs on the log thread after them.
struct Exchange : std::enable_shared_from_this<Exchange> {
  Gateway::Impl* gw = nullptr;
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
  std::optional<std::string> upstream_request_log;  // AuditRecord::upstream_request_body
  bool upstream_request_screened = false;           // ... made from strings the policy found secret-free
  std::string upstream_request_sha256;              // its digest, taken while the upstream answers
  std::unique_ptr<translate::StreamTranslator> stream_translator;

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
    r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    r.request_body = std::move(logged_request);
    logged_request.reset();
    r.request_body_screened = logged_request_screened;
    r.request_sha256 = request_sha256;
    r.upstream_request_body = std::move(upstream_request_log);
    r.upstream_request_body_screened = upstream_request_screened;
    r.upstream_request_body_sha256 = std::move(upstream_request_sha256);
    upstream_request_log.reset();
    return r;
  }

  // Answers a count_tokens request here with an estimate (the routed
  // upstream cannot count), logged like any exchange.
  void AnswerCountLocally(std::string_view request_body) {
    Result<std::string> count = LocalTokenCount(route, request_body);
    if (!count.ok()) {
      return Refuse(MakeRefusal(route.protocol, ErrorKind::kInvalidRequest, "malformed-json", count.status().message()));
    }
    findings.push_back(GateFinding("gate/token-estimate",
                                   "answered by the gate with an estimate (about 4 bytes of text per token): upstream " +
                                       upstream + " cannot count tokens",
                                   Severity::kInfo));
    AuditRecord r = BaseRecord();
    r.status = 200;
    r.findings = FindingsJson(findings);
    r.response_body = *count;
    r.response_sha256 = Sha256Hex(*count);
    net::HttpResponse response = JsonResponse(200, std::move(count).value());
    response.headers.Add("x-glassbox-token-count", "estimate");
    Commit(std::move(r), [self = shared_from_this(), response = std::move(response)](Status st) mutable {
      if (!st.ok()) response.status = 500;
      self->gw->metrics.Request(self->route.name, response.status);
      self->writer->Respond(std::move(response));
    });
  }

  // Logs and then answers with `refusal` in the provider's format.
  void Refuse(const Refusal& refusal) {
    gw->metrics.Refusal(refusal.code);
    findings.push_back(GateFinding("gate/refused-" + refusal.code, refusal.message, Severity::kInfo));
    AuditRecord r = BaseRecord();
    r.status = refusal.status;
    r.findings = FindingsJson(findings);
    r.response_body = refusal.body;
    r.response_sha256 = Sha256Hex(refusal.body);
    net::HttpResponse response;
    response.status = refusal.status;
    response.headers.Add("Content-Type", "application/json");
    response.body = refusal.body;
    Commit(std::move(r), [self = shared_from_this(), response = std::move(response)](Status st) mutable {
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
    gw->log->Append(
        std::move(record),
        [gw = gw, then = std::move(then)](Status st) {
          if (!st.ok()) gw->metrics.log_errors.fetch_add(1);
          then(std::move(st));
        },
        request_digest);
  }

  void OnHead(const net::ResponseHead& head) {
    head_seen = true;
    status = head.status;
    upstream_latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    gw->metrics.UpstreamLatency(upstream_latency_ms / 1000.0);
    for (const net::HeaderField& f : head.headers.fields()) {
      if (!IsHopByHopResponseHeader(f.name)) response_headers.Add(f.name, f.value);
    }
    auto type = head.headers.Get("Content-Type");
    streaming = type && type->find("text/event-stream") != std::string_view::npos;
    if (streaming) {
      if (plan.translate && status < 300) stream_translator = NewResponseStreamTranslator(plan, model);
      inbound = gw->policy->NewInboundStream(route);
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
      findings.push_back(GateFinding(
          "gate/client-too-slow",
          fmt::format("the client stopped reading: {} bytes of the stream were waiting for it (limit {}); the "
                      "connection was closed and the upstream request cancelled",
                      backlog, gw->options.max_client_backlog_bytes),
          Severity::kLow));
      client_gone.store(true);
      writer->Abort();
      if (upstream_request) upstream_request->Cancel();
    }
  }

  void OnComplete(Status upstream_status) {
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
        findings.push_back(GateFinding("gate/client-gone", "the client disconnected before the response ended; the "
                                                           "upstream request was cancelled", Severity::kInfo));
      }
      AuditRecord r = BaseRecord();
      r.status = 499;
      r.findings = FindingsJson(findings);
      if (log_payloads) r.response_body = response_buffer;
      if (inbound) r.response_sha256 = inbound->original_sha256();
      gw->metrics.Request(route.name, 499);
      Commit(std::move(r), [self](Status) {});
      return;
    }
    if (!upstream_status.ok()) gw->metrics.upstream_errors.fetch_add(1);
    if (!upstream_status.ok() && !streaming) {
      // Nothing sent yet: answer 502 in the provider's format.
      Refusal refusal = MakeRefusal(route.protocol, ErrorKind::kUpstream, "upstream-error",
                                    upstream_status.message());
      if (head_seen) findings.push_back(GateFinding("gate/upstream-truncated", upstream_status.message()));
      return Refuse(refusal);
    }
    if (streaming) return FinishStream(std::move(upstream_status));
    FinishJson();
  }

  void FinishStream(Status upstream_status) {
    std::string rest;
    if (stream_translator) {
      rest = inbound->Feed(stream_translator->Finish());
      for (const std::string& note : stream_translator->notes()) findings.push_back(TranslationFinding(note));
      if (!stream_translator->status().ok()) {
        findings.push_back(GateFinding("gate/untranslatable-stream", stream_translator->status().message()));
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
      findings.push_back(GateFinding("gate/upstream-truncated",
                                     "the upstream stream broke off: " + upstream_status.message()));
    } else if (!inbound->complete()) {
      findings.push_back(GateFinding("gate/stream-incomplete", "the stream ended without its final event",
                                     Severity::kLow));
    }
    gw->metrics.Findings(findings);
    const net::Usage& usage = inbound->usage();
    RecordUsage(usage);
    AuditRecord r = BaseRecord();
    r.status = status;
    r.input_tokens = static_cast<int64_t>(usage.input_tokens.value_or(0));
    r.output_tokens = static_cast<int64_t>(usage.output_tokens.value_or(0));
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
    InboundResult in = gw->policy->InboundJson(route, response_buffer);
    findings.insert(findings.end(), in.findings.begin(), in.findings.end());
    gw->metrics.Findings(findings);
    RecordUsage(in.usage);
    AuditRecord r = BaseRecord();
    r.status = status;
    r.input_tokens = static_cast<int64_t>(in.usage.input_tokens.value_or(0));
    r.output_tokens = static_cast<int64_t>(in.usage.output_tokens.value_or(0));
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
        Refusal failed = MakeRefusal(self->route.protocol, ErrorKind::kInternal, "log-failed",
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

  void RecordUsage(const net::Usage& usage) {
    if (!usage.any()) return;
    gw->ledger->Record(user, model, usage, route.protocol, gw->Now());
  }
};

}  // namespace

void Gateway::Impl::Handle(net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer) {
  metrics.bytes_from_clients.fetch_add(request.body.size());
  // Some agents (Claude Code) send HEAD / at start-up to see that the base URL
  // answers: a liveness check, not an exchange with a provider, so not logged.
  if (request.method == "HEAD" && request.path == "/") {
    net::HttpResponse r;
    r.headers.Add("Content-Type", "application/json");
    return writer->Respond(std::move(r));
  }
  if (request.path == "/_glassbox/health") {
    return writer->Respond(JsonResponse(200, "{\"status\":\"ok\"}"));
  }
  if (request.path == "/_glassbox/metrics") {
    net::HttpResponse r;
    r.headers.Add("Content-Type", "text/plain; version=0.0.4");
    r.body = metrics.Text(server->stats());
    return writer->Respond(std::move(r));
  }

  auto ex = std::make_shared<Exchange>();
  ex->gw = this;
  ex->writer = writer;
  ex->start = Clock::now();
  ex->wall_start = Now();
  ex->method = request.method;
  ex->path = request.path;
  // The original body's SHA-256 comes from ApplyOutbound, which hashes it
  // anyway; refusals before it hash it here (one hash per request either way).
  auto refuse_early = [&](const Refusal& refusal) {
    ex->request_sha256 = Sha256Hex(request.body);
    ex->Refuse(refusal);
  };

  HeaderList headers;
  headers.reserve(request.headers.size());
  for (const net::HeaderField& f : request.headers.fields()) headers.emplace_back(f.name, f.value);

  // Absolute-form targets (a client using the gate as a forward proxy) are
  // routed by their path like any other.
  std::string target = request.path + (request.query.empty() ? "" : "?" + request.query);
  RouteDecision decision = policy->ClassifyRoute(request.method, target, headers);
  ex->route = decision.route;
  ex->upstream = decision.route.upstream;
  ex->model = decision.route.model;
  ex->log_payloads = decision.route.log_payloads;
  if (decision.refusal) return refuse_early(*decision.refusal);

  HeaderDecision hd = policy->CheckAndRewriteHeaders(ex->route, headers);
  ex->agent = hd.agent.empty() ? "unknown" : hd.agent;
  if (!hd.user.empty()) ex->user = hd.user;
  ex->log_payloads = ex->log_payloads && hd.log_payloads;
  if (hd.refusal) return refuse_early(*hd.refusal);

  BudgetDecision budget = ledger->Check(ex->user, Now());
  if (!budget.allowed) {
    return refuse_early(MakeRefusal(ex->route.protocol, ErrorKind::kRateLimit, "budget", budget.message));
  }

  // The original's hash is left to the log thread (below) unless refused.
  OutboundResult out = policy->ApplyOutbound(ex->route, request.body, /*hash_original=*/false);
  ex->request_sha256 = std::move(out.original_sha256);
  ex->findings = out.findings;
  if (!out.model.empty()) ex->model = out.model;
  if (!out.upstream.empty()) ex->upstream = out.upstream;
  if (out.refusal) return ex->Refuse(*out.refusal);
  metrics.Findings(out.findings);
  // A model route may send the request to another upstream, translated to
  // its protocol (gate/translation.h).
  ex->plan = PlanRoute(policy->config(), ex->route, ex->model);
  if (ex->plan.upstream != nullptr) ex->upstream = ex->plan.upstream->name;
  if (ex->plan.refusal || ex->plan.count_locally) {
    ex->request_sha256 = Sha256Hex(request.body);
    if (ex->log_payloads) ex->logged_request = std::move(out.body);
    if (ex->plan.count_locally) return ex->AnswerCountLocally(request.body);
    return ex->Refuse(*ex->plan.refusal);
  }
  // The bytes to forward: the client's own when policy changed nothing (so
  // the original goes out untouched), else the policy's edit. The log keeps
  // the same bytes; one copy between them at most.
  const UpstreamConfig* upstream = FindUpstream(policy->config(), ex->upstream);
  if (upstream == nullptr) {
    ex->request_sha256 = Sha256Hex(request.body);
    if (ex->log_payloads) ex->logged_request = std::move(out.body);
    return ex->Refuse(MakeRefusal(ex->route.protocol, ErrorKind::kInternal, "no-upstream",
                                  "no upstream called '" + ex->upstream + "' is configured"));
  }
  auto digest = std::make_shared<RequestDigest>();
  std::string forward_body;
  if (!out.changed) {
    // out.body is the policy's copy of the same bytes: hashed, then logged,
    // by the log thread (RequestDigest::logged_is_original).
    digest->original = std::move(out.body);
    digest->logged_is_original = ex->log_payloads;
    digest->screened = out.secret_free;
    forward_body = std::move(request.body);
  } else {
    digest->original = std::move(request.body);
    forward_body = std::move(out.body);
    if (ex->log_payloads) ex->logged_request = forward_body;
  }
  if (ex->log_payloads) ex->logged_request_screened = out.secret_free;
  ex->request_digest = digest;
  std::string upstream_target = out.upstream_target.empty() ? ex->route.upstream_target : out.upstream_target;
  HeaderList upstream_headers = std::move(hd.headers);
  if (ex->plan.upstream != nullptr) {
    Result<RoutedRequest> routed =
        BuildRoutedRequest(policy->config(), ex->plan, ex->route, std::move(forward_body), upstream_headers);
    if (!routed.ok()) {
      return ex->Refuse(MakeRefusal(ex->route.protocol, ErrorKind::kInvalidRequest, "untranslatable",
                                    "cannot be sent to upstream " + ex->upstream + ": " + routed.status().message()));
    }
    forward_body = std::move(routed->body);
    upstream_target = std::move(routed->target);
    upstream_headers = std::move(routed->headers);
    for (std::string& note : routed->notes) ex->findings.push_back(TranslationFinding(std::move(note)));
    if (ex->log_payloads && (ex->plan.translate || !ex->plan.upstream_model.empty())) {
      // Translation moves the policy's strings (decoded and re-escaped);
      // it makes no new text, so a secret-free body stays secret-free.
      ex->upstream_request_log = forward_body;
      ex->upstream_request_screened = out.secret_free;
    }
  }
  net::Url url;
  url.scheme = upstream->url.scheme;
  url.host = upstream->url.host;
  url.port = upstream->url.port;  // the path prefix is already in upstream_target

  net::ClientRequest upstream_request;
  upstream_request.method = request.method;
  upstream_request.target = std::move(upstream_target);
  for (auto& [name, value] : upstream_headers) upstream_request.headers.Add(std::move(name), std::move(value));
  upstream_request.body = std::move(forward_body);

  net::ClientCallbacks callbacks;
  callbacks.on_headers = [ex](const net::ResponseHead& head) { ex->OnHead(head); };
  callbacks.on_body = [ex](std::string_view bytes) { ex->OnBody(bytes); };
  callbacks.on_complete = [ex](Status st) { ex->OnComplete(std::move(st)); };
  ex->upstream_request = client->Send(url, std::move(upstream_request), std::move(callbacks));
  // Hashed (and a large body stored) while the upstream works, by this
  // thread once the request is written (queued after the write), or by the
  // log thread when the log is busy. On two cores, handing it to the log
  // thread cost a wake-up and slowed the upstream exchange about as much
  // as the hash took (p50 added 0.19-0.29 ms against 0.17-0.21). A record
  // that comes first (a very fast upstream) hashes the body itself.
  loop->PostHere([log = log.get(), digest = std::move(digest)]() mutable { log->PrepareHere(std::move(digest)); });
  if (ex->upstream_request_log && ex->upstream_request_screened) {
    // The translated request's digest for its record, likewise off the
    // critical path (the upstream's callbacks run later on this thread).
    loop->PostHere([ex] {
      if (ex->upstream_request_log) ex->upstream_request_sha256 = Sha256Hex(*ex->upstream_request_log);
    });
  }
  writer->OnClientGone([weak = std::weak_ptr<Exchange>(ex)] {
    if (auto e = weak.lock()) {
      e->client_gone.store(true);
      if (e->upstream_request) e->upstream_request->Cancel();
    }
  });
}

// Requests the HTTP layer refused (unparsable, head or body too large):
// answered in the provider's format guessed from the path, and logged.
void Gateway::Impl::HandleRejected(const net::RejectedRequest& rejected,
                                   std::shared_ptr<net::ResponseWriter> writer) {
  auto ex = std::make_shared<Exchange>();
  ex->gw = this;
  ex->writer = std::move(writer);
  ex->start = Clock::now();
  ex->wall_start = Now();
  ex->method = rejected.method.empty() ? "-" : rejected.method.substr(0, 32);
  std::string path = rejected.target.substr(0, rejected.target.find('?')).substr(0, 256);
  ex->path = path.empty() ? "-" : path;
  ex->logged_request = std::nullopt;
  HeaderList headers;
  for (const net::HeaderField& f : rejected.headers.fields()) headers.emplace_back(f.name, f.value);
  RouteDecision decision = policy->ClassifyRoute(rejected.method, path.empty() ? "/" : path, headers);
  ex->route = decision.route;
  ex->upstream = decision.route.upstream;
  ex->agent = IdentifyAgent(headers);
  metrics.Findings({GateFinding("gate/bad-http", rejected.reason)});
  ErrorKind kind = rejected.status == 413 ? ErrorKind::kTooLarge : ErrorKind::kInvalidRequest;
  Refusal refusal = MakeRefusal(ex->route.protocol, kind, rejected.status == 413 ? "body-too-large" : "bad-http",
                                rejected.reason);
  refusal.status = rejected.status;
  ex->Refuse(refusal);
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

Result<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const GateConfig& config = impl->options.config;

  std::string host = config.listen;
  uint16_t port = 0;
  size_t colon = host.rfind(':');
  if (colon == std::string::npos) return Status::Error("listen address '" + config.listen + "': expected HOST:PORT");
  try {
    int p = std::stoi(host.substr(colon + 1));
    if (p < 0 || p > 65535) throw std::out_of_range("port");
    port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return Status::Error("listen address '" + config.listen + "': the port must be a number from 0 to 65535");
  }
  host = host.substr(0, colon);

  if (Status st = CheckRoutes(config); !st.ok()) return st;
  auto policy = Policy::Create(config);
  if (!policy.ok()) return policy.status();
  impl->policy = std::move(policy.value());
  impl->ledger = std::make_unique<UsageLedger>(impl->policy->config());

  auto log = LogWriter::Open(impl->options.log_path, config.log.durability);
  if (!log.ok()) return Status::Error("audit log '" + impl->options.log_path + "': " + log.status().message());
  impl->log = std::move(log.value());
  {
    Impl* self = impl.get();
    impl->log->OnStoreFailure([self, warned = false](const Status& st) mutable {
      self->metrics.bodies_kept_inline.fetch_add(1);
      if (warned) return;
      warned = true;  // once: the cause (another gate on this log) usually lasts
      std::fprintf(stderr, "glassbox gate: warning: %s; large request bodies go into their records instead (slower)\n",
                   st.message().c_str());
    });
  }
  // Budgets survive restarts: this month's usage is read back from the log.
  Status seeded = impl->ledger->SeedFromLog(impl->log->log(), impl->Now());
  (void)seeded;  // a record with an unreadable time is skipped; the rest still count
  // [retention]: applied now, then hourly on the log thread.
  Result<int64_t> trimmed = ApplyRetention(impl->policy->config().retention, impl->log->log(), impl->Now());
  if (!trimmed.ok()) {
    return Status::Error("audit log '" + impl->options.log_path + "': retention: " + trimmed.status().message());
  }
  {
    Impl* self = impl.get();
    impl->log->SetMaintenance(std::chrono::hours(1), [self](AuditLog& audit_log) {
      // A failure here leaves the records in place; the next hour retries.
      (void)ApplyRetention(self->policy->config().retention, audit_log, self->Now());
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
  Impl* raw = impl.get();
  server_options.on_reject = [raw](const net::RejectedRequest& rejected,
                                   std::shared_ptr<net::ResponseWriter> writer) {
    raw->HandleRejected(rejected, std::move(writer));
  };
  auto server = net::HttpServer::Start(*impl->loop, server_options,
                                       [raw](net::HttpRequest request, std::shared_ptr<net::ResponseWriter> writer) {
                                         raw->Handle(std::move(request), std::move(writer));
                                       });
  if (!server.ok()) return server.status();
  impl->server = std::move(server.value());
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const { return impl_->server->port(); }

std::string Gateway::MetricsText() const { return impl_->metrics.Text(impl_->server->stats()); }

void Gateway::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  if (impl_->server) impl_->server->StopAccepting();
  if (impl_->loop) impl_->loop->Stop();
  if (impl_->log) impl_->log->Stop();
  impl_->server.reset();
  impl_->client.reset();
}

}  // namespace glassbox::gate
