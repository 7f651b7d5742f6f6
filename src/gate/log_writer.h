// LogWriter: the gateway's single writer of the audit log. Appends records
// on its own thread in arrival order (group commit), hashes request bodies
// while the upstream answers (RequestDigest), stores large bodies ahead of
// their records, runs WAL checkpoints on a thread of their own and
// maintenance (retention) between batches. Internal to the gate component
// (used by gateway.cc only).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "gate/audit_log.h"
#include "gate/checkpoint.h"
#include "gate/config.h"
#include "gate/store.h"

namespace glassbox::gate {

// The SHA-256 of a request body as the client sent it, computed while the
// upstream answers (LogWriter::PrepareHere), instead of before forwarding.
// The I/O thread fills `original` (or `shared_original`) and the flags;
// from then on the object is touched only under the log's lock
// (LogWriter::log_mu_).
struct RequestDigest {
  std::string original;
  // Instead of `original`: the same bytes the upstream request is sent from
  // (read-only on both sides), so forwarding needs no copy. The log stores
  // them ahead from here, or copies them into `original` for the record
  // while the upstream answers, and lets go of them.
  std::shared_ptr<const std::string> shared_original;
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
  // The request as translated for its upstream, when it is logged
  // (AuditRecord::upstream_request_body): hashed and, when large, stored
  // ahead like `original`, so the commit the client waits for writes
  // neither 100 KB body.
  std::optional<std::string> translated;
  bool translated_screened = false;  // AuditRecord::upstream_request_body_screened
  std::string translated_hex;        // its SHA-256 (as given)
  int64_t translated_at = 0;         // AuditRecord::upstream_request_body_at
  std::string translated_sha256;     // the digest of the body stored at translated_at
  bool consumed = false;             // its record has been built
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
// Signed checkpoints of the log's head (checkpoint.h): written every
// `every_records` records or `every` (when records came since the last),
// right after each maintenance (retention) run, and at Stop().
struct CheckpointOptions {
  std::shared_ptr<const CheckpointSigner> signer;  // nullptr: no checkpoints
  std::string path;                                // the checkpoint file
  int64_t every_records = 1000;
  std::chrono::milliseconds every{60'000};
  bool sync = false;                              // fdatasync each line (durability full)
  std::function<std::string()> now;               // RFC 3339 UTC time for the line
  std::function<void(const Status&)> on_failure;  // told on the log thread
};

class LogWriterImpl;
class LogWriter {
 public:
  // `location`: a SQLite path or a PostgreSQL URL (store.h); `replica`
  // names this gate's chain in PostgreSQL ("" = the URL's or the host name).
  // `bodies_ahead`: PostgreSQL sends large request bodies ahead of their
  // records (LogConfig::bodies_ahead).
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& location,
                                                 LogDurability durability, std::string replica = "",
                                                 bool bodies_ahead = false);
  ~LogWriter();  // Stop()

  // Appends `record`; `done` runs after the commit (on the log thread or,
  // when the log was idle, on the caller's). `digest`, when given, normally
  // went through PrepareHere() first (if not, the commit hashes it); its
  // hash becomes the record's request_sha256.
  void Append(AuditRecord record, std::function<void(Status)> done,
              std::shared_ptr<RequestDigest> digest = nullptr);
  // Hashes digest->original (and stores a large body ahead) on the calling
  // thread when the log is free, else queues it for the log thread.
  void PrepareHere(std::shared_ptr<RequestDigest> digest);
  // Drains the queue and joins the threads (a last checkpoint included).
  void Stop();
  LogStore& log();
  // Called on the log thread when a body could not be stored ahead (it then
  // goes into its record). Call before the gateway serves.
  void OnStoreFailure(std::function<void(const Status&)> callback);
  // Turns on signed checkpoints. Call before the gateway serves.
  void SetCheckpoints(CheckpointOptions options);
  // Runs `task` on the log thread every `interval` (first after one
  // interval). Call before the gateway serves.
  void SetMaintenance(std::chrono::milliseconds interval, std::function<void(LogStore&)> task);

 private:
  explicit LogWriter(std::unique_ptr<LogWriterImpl> impl);
  std::unique_ptr<LogWriterImpl> impl_;
};

}  // namespace glassbox::gate
