// LogStore: where the gate keeps its audit log and, in a fleet, its usage
// budgets. Two back-ends implement it, chosen by the log's location:
//   * a file path: SQLite (sqlite_store.cc, over AuditLog), one machine, one
//     hash chain, budgets kept in memory by UsageLedger and seeded from the
//     log at start;
//   * "postgresql://..." or "postgres://...": PostgreSQL (pg_store.cc), a
//     fleet of gate replicas on one database, one hash chain per replica
//     (AuditRecord::replica), budgets shared through SharedBudgets.
// The gate (LogWriter, gateway.cc, retention) and `glassbox log` use only
// this interface; back-end types (sqlite3*, PGconn*) stay in their .cc files.
//
// Threading: one LogStore object belongs to one thread at a time, as
// AuditLog. SharedBudgets (below) is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gate/audit_log.h"
#include "gate/checkpoint.h"

namespace glassbox::gate {

// Budgets kept in the store, shared by every replica that uses it. Amounts
// are per user and per UTC day (days since the epoch) and month
// (year*12 + month - 1), as UsageLedger counts them.
struct BudgetCaps {
  std::optional<uint64_t> daily_tokens, monthly_tokens;
  std::optional<double> daily_usd, monthly_usd;
};
struct SharedReserveResult {
  bool allowed = true;
  std::string
      budget;       // when refused: "daily_tokens", "daily_usd", "monthly_tokens" or "monthly_usd"
  double used = 0;  // spend plus what is held, in the refused budget's unit
  bool held = false;  // some of `used` is held by exchanges in flight
};
class SharedBudgets {
 public:
  virtual ~SharedBudgets() = default;
  // Refused when spend plus what every replica holds reaches a cap;
  // otherwise `tokens` and `usd` are held for this replica until Settle.
  // PostgreSQL answers from this replica's lease on the user's budget when
  // it covers the estimate (no round trip), else takes a new lease in one
  // atomic statement (gb_lease, pg_store.cc); a lease never passes a cap but
  // for the asking exchange, so the fleet overshoots a cap by at most one
  // exchange's estimate. No lock is held once it returns. An error means the
  // store could not be asked.
  virtual Result<SharedReserveResult> Reserve(std::string_view user, int64_t day, int64_t month,
                                              uint64_t tokens, double usd,
                                              const BudgetCaps& caps) = 0;
  // Releases a reservation (of reserved_day/month; tokens 0 = none) and adds
  // the exchange's spend to day/month; `usd` nullopt: an unpriced model.
  // May be applied after it returns (PostgreSQL queues it: the next record
  // the store appends carries it in its own transaction; one no record
  // takes within 20 ms is applied on a connection of its own, within about
  // 40 ms, or at once during Flush).
  virtual Status Settle(std::string_view user, int64_t reserved_day, int64_t reserved_month,
                        uint64_t reserved_tokens, double reserved_usd, int64_t day, int64_t month,
                        uint64_t tokens, std::optional<double> usd) = 0;
  // Returns once every Settle called so far is applied (or has failed), or
  // taken into a record's transaction.
  virtual void Flush() {}
  // Settlements applied later that failed.
  virtual uint64_t failures() const { return 0; }
};

class LogStore {
 public:
  using OpenMode = AuditLog::OpenMode;
  using Options = AuditLog::Options;
  using StoredBody = AuditLog::StoredBody;
  using CheckpointMode = AuditLog::CheckpointMode;
  using CheckpointResult = AuditLog::CheckpointResult;
  using UsageRow = AuditLog::UsageRow;
  using Head = AuditLog::Head;

  virtual ~LogStore() = default;

  // "sqlite" or "postgresql".
  virtual std::string_view Kind() const = 0;
  // The location for messages (a PostgreSQL URL with its password masked).
  virtual std::string Describe() const = 0;

  // As AuditLog::AppendBatch: masks, chains, stores all or none. PostgreSQL
  // with durability normal returns once the batch is sent whole to the
  // server (its commit is confirmed, or the batch sent again after a lost
  // connection, by a thread of the store: docs/gate.md, "acknowledged"),
  // and the records it returns carry no bodies (the store keeps them for a
  // resend; List/Get read them back). A record whose body was stored ahead
  // (request_body_at) is sent behind that body on the same connection, or
  // once the body's commit has been read, so it never commits without it.
  virtual Result<std::vector<AuditRecord>> AppendBatch(std::vector<AuditRecord> records) = 0;
  Result<AuditRecord> Append(AuditRecord record);
  // Called after the callers waiting for an AppendBatch were answered (the
  // gate's responses written): work the store kept off their path may start
  // now. PostgreSQL wakes a lane thread that slept while groups were sent
  // (to read their answers if no append does) and the settle thread for the
  // lease top-ups the exchanges' admissions queued (without it, both look on
  // their own later). Callable from any thread.
  virtual void AfterAcknowledged() {}

  // Bodies stored ahead of their records, while the upstream answers
  // (SQLite's body store; PostgreSQL's gb_bodies, sent on a lane ahead of
  // the record that names it); a back-end without one returns false and the
  // writer keeps bodies inline. A record names a stored body by
  // request_body_at and the returned digest (request_body_sha256).
  virtual bool StoresBodiesAhead() const { return false; }
  virtual Result<StoredBody> StoreRequestBody(std::string_view body, bool screened,
                                              std::string sha256);
  // As StoreRequestBody, but a store that keeps the body's bytes until they
  // are stored (PostgreSQL: for a resend after a lost connection) may move
  // them out of `*body` when it succeeds, instead of copying them. On an
  // error `*body` is left as it was (the record then carries it).
  virtual Result<StoredBody> TakeRequestBody(std::string* body, bool screened, std::string sha256) {
    return StoreRequestBody(*body, screened, std::move(sha256));
  }
  virtual Status SyncBodies() { return Status::Ok(); }
  // How this store keeps a record's translated request
  // (AuditRecord::upstream_request_body): not at all (LogWriter then leaves
  // it out of the record, so the record's hash covers only what is
  // stored), in the record, or also stored ahead (upstream_request_body_at).
  enum class TranslatedBodies { kNotKept, kInline, kInlineOrAhead };
  virtual TranslatedBodies KeepsTranslatedBodies() const { return TranslatedBodies::kNotKept; }
  // SQLite's WAL copy, run by LogWriter on a connection of its own; others
  // have nothing to copy.
  virtual bool NeedsWalCheckpoints() const { return false; }
  virtual Result<CheckpointResult> Checkpoint(CheckpointMode mode);

  // Readers: every chain. Get(id) with a replica names one chain's record;
  // without, the id must be unambiguous. Get checks the record's own hash;
  // its errors say which kind they are (Status::code()): NotFound (no such
  // record), Corruption (a row that fails its hash or cannot be decoded),
  // Unavailable (the store cannot be reached), InvalidArgument (an
  // ambiguous id, a replica a SQLite log cannot have).
  virtual Result<std::vector<AuditRecord>> List() = 0;
  virtual Result<AuditRecord> Get(int64_t id, std::string_view replica) = 0;
  virtual Result<std::vector<AuditRecord>> Search(std::string_view text) = 0;
  virtual Status ForEach(const RecordFilter& filter,
                         const std::function<bool(AuditRecord&)>& visit) = 0;
  virtual Result<std::vector<UsageRow>> UsageSince(std::string_view since) = 0;
  // Verifies every chain; checkpoints (if given) are this store's replica's.
  virtual Result<VerifyResult> Verify(const std::vector<gate::Checkpoint>* checkpoints) = 0;

  // This writer's chain: its head, the retention cutoff that keeps its
  // newest n records, and retention itself.
  virtual Result<std::optional<std::string>> TimeOfNewest(int64_t n) = 0;
  virtual Result<Head> ReadHead() = 0;
  virtual Result<int64_t> DeleteBefore(std::string_view cutoff) = 0;
  // Deletes the request bodies this writer's chain stored ahead in an
  // earlier run that no record names (the run ended between a body and its
  // record: verify's orphan_bodies); returns how many. Bodies of this run
  // are left alone (their records may be on the way). Retention calls it.
  virtual Result<int64_t> DeleteOrphanBodies() { return int64_t{0}; }

  // False while the store is known to be unreachable (a PostgreSQL server
  // down); cheap, callable from any thread. SQLite is always available.
  virtual bool Available() const { return true; }
  // Records AppendBatch acknowledged that the store could not keep after
  // all (PostgreSQL with durability normal: a group the server refused, or
  // could not be sent again before the gate stopped; each is also named on
  // stderr). Cheap, callable from any thread; SQLite acknowledges only what
  // it committed, so always 0 there.
  virtual uint64_t RecordsLost() const { return 0; }
  // Who read the answers to what was sent without waiting for them
  // (PostgreSQL with durability normal): appends that needed a lane and
  // found them there, or the store's threads (woken when nobody had read
  // them for a while, or somebody waited for them). Cheap, any thread.
  struct Answers {
    uint64_t by_appends = 0;
    uint64_t by_threads = 0;
  };
  virtual Answers AnswersRead() const { return {}; }
  // The store's shared budgets, or nullptr (SQLite: the ledger is local).
  virtual std::shared_ptr<SharedBudgets> Budgets() { return nullptr; }
};

// True for "postgresql://..." and "postgres://..." locations.
bool IsPostgresUrl(std::string_view location);

// Opens the store at `location` (a SQLite file path or a PostgreSQL URL).
// A PostgreSQL URL may carry `replica=NAME` among its query parameters (the
// chain this writer appends to; default: the host name); `replica` given
// here overrides it.
Result<std::unique_ptr<LogStore>> OpenLogStore(const std::string& location, LogStore::OpenMode mode,
                                               LogStore::Options options, std::string replica = "");

// The back-ends' factories (used by OpenLogStore).
Result<std::unique_ptr<LogStore>> OpenSqliteStore(const std::string& path, LogStore::OpenMode mode,
                                                  LogStore::Options options);
Result<std::unique_ptr<LogStore>> OpenPgStore(const std::string& url, LogStore::OpenMode mode,
                                              LogStore::Options options, std::string replica);

// Masks the password of a PostgreSQL URL ("postgresql://u:***@host/db").
std::string RedactStoreLocation(std::string_view location);

}  // namespace glassbox::gate
