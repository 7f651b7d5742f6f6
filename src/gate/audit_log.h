// The audit log of `glassbox gate`: an append-only, hash-chained record of
// every exchange between an agent and an LLM API, stored in SQLite.
//
// Durability (Options::durability): WAL journal. With LogDurability::kFull
// (synchronous=FULL) a record whose Append() returned survives kill -9 and
// power loss. With kNormal (synchronous=NORMAL) it survives kill -9 and any
// other crash of the process (the commit is in the WAL file, in the OS's
// page cache), but an OS crash or power loss may drop the last commits —
// whole transactions only, so the chain never breaks. Append() runs in one
// IMMEDIATE transaction that reads the last record's hash and inserts the
// new row, so
// two processes (or two AuditLog objects) appending at once still build one
// unbroken chain. One AuditLog object belongs to one thread at a time; open
// one per thread or process. SQLite types stay inside audit_log.cc.
//
// Hash chain: record_hash = SHA-256 (lower-case hex) of the canonical form
// below; prev_hash is the record_hash of the record before it, and 64 zeros
// for the very first record of a log.
//
// Canonical form, the input of SHA-256. Version 1:
//   "glassbox-audit-v1\n", then each field in this fixed order:
//   id, time, user, agent, upstream, model, method, path, status, latency_ms,
//   input_tokens, output_tokens, findings, request_body, response_body,
//   request_sha256, response_sha256, prev_hash;
//   each encoded as 's' <decimal byte length> ':' <bytes>, or as 'n' when the
//   field is NULL (only request_body/response_body may be). Integers are
//   written in decimal without leading zeros ("-5", "0", "200") and then
//   encoded like strings. The length prefix makes the form unambiguous.
// Version 2 is the same with "glassbox-audit-v2\n" first and each non-NULL
//   body encoded as 'h' followed by the 64 lower-case hex digits of the
//   SHA-256 of the body's bytes (fixed length, so still unambiguous). An
//   edited body changes its digest and so the record hash, as in version 1;
//   but the digest of a body can be computed before the record is complete
//   (the gate hashes the request while the upstream answers), so the commit
//   hashes about a kilobyte instead of the bodies again.
// Version 3 (the PostgreSQL back-end, pg_store.h) is version 2 with
//   "glassbox-audit-v3\n" first and the record's replica id encoded as a
//   field right after id: each replica of a gate fleet keeps its own chain,
//   and the id names the record within that chain.
// Which version a record uses follows from its id: records from the id in
// the meta table's "v2_from" on use version 2, older ones version 1. A log
// created by this code has v2_from = 1; an older log gets v2_from = the next
// id when a writer (OpenMode::kCreate) first opens it, so its chain
// continues unbroken. Without v2_from every record is version 1.
//
// Secrets: callers pass bodies already redacted by policy. As a last line of
// defence Append() also runs core's built-in secret rules (IsMaskedRule)
// over path, request_body (unless the caller vouches for it:
// request_body_screened), response_body and findings and replaces every
// match with MaskSecret() of it before hashing and storing, so no secret the
// core rules know reaches the log in clear. request_sha256/response_sha256
// are the caller's hashes of the original (unredacted) payloads.
//
// Storage: one row per record in `records`; a large request body may be
// stored ahead in the body store beside the file (StoreRequestBody) and
// named by the record's request_body_at; readers see it as the record's
// request_body (a large translated request likewise, by
// upstream_request_body_at, as upstream_request_body). Logs written before the body store may also
// hold a `bodies` table named by request_body_ref: still read, never created any more.
//
// Schema: versioned in SQLite's user_version and brought up to date by a
// writer (OpenMode::kCreate) at open, one step per version, in one
// transaction (audit_log.cc, kSchemaSteps), as the PostgreSQL back-end does
// with gb_schema:
//   1: meta (format, v2_from, retention anchor) and records;
//   2: records.request_body_at (bodies in the body store);
//   3: records.upstream_request_body (translated requests);
//   4: records.upstream_request_body_at (translated requests in the body
//      store).
// A log made before the ladder (user_version 0) already has some of these;
// each step adds only what is missing, so for it the steps are no-ops (a
// writer checks every step at open, and re-applies one a log lacks). A log
// whose version is newer than this binary knows is refused, naming both.
//
// Retention: DeleteBefore(cutoff) deletes the oldest records (the leading run
// of records whose time is earlier than cutoff) and stores an anchor in the
// meta table: the id and record_hash of the last deleted record. Verify()
// starts from the anchor instead of 64 zeros, so the remaining chain still
// verifies; deleting rows by any other means breaks it.
//
// Not detected by the chain alone: removing the newest records (the tail)
// leaves a valid shorter chain, and anyone can recompute a whole chain from
// the canonical form above (it is public) after editing records, or delete
// the oldest records and write a matching anchor. Signed checkpoints
// (checkpoint.h) catch all three: Verify(&checkpoints).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gate/checkpoint.h"

namespace glassbox::gate {

// How hard the audit log pushes each group commit to the disk.
enum class LogDurability {
  // SQLite WAL with synchronous=NORMAL (the default): a committed record
  // survives a crash of the gate process (kill -9, OOM kill); an OS crash or
  // power loss can drop the last commits, never a part of one, so the hash
  // chain stays whole.
  kNormal,
  // synchronous=FULL: every group commit is fsynced before the client's
  // response finishes, so records also survive an OS crash or power loss.
  kFull,
};

// "normal" / "full", for messages.
const char* LogDurabilityName(LogDurability d);
// Parses "normal" or "full"; an error names the accepted values.
Result<LogDurability> ParseLogDurability(std::string_view text);

// Which findings of core's built-in rules (BuiltinSecretRules()) Append()
// masks: those of "secret/..." rules. The provenance rules that share the
// engine are not secrets and are left as they are. The gate's policy scans
// outbound bodies with the same rules and this same test, which is what lets
// it vouch for a body (AuditRecord::request_body_screened).
bool IsMaskedRule(std::string_view rule_id);

struct AuditRecord {
  int64_t id = 0;       // assigned by Append(); within its replica's chain
  std::string replica;  // the chain (gate replica) of the record; "" in a SQLite log
  std::string time;     // RFC 3339 UTC, given by the caller
  std::string user;
  std::string agent;
  std::string upstream;
  std::string model;
  std::string method;
  std::string path;
  int64_t status = 0;  // HTTP status sent to the client
  int64_t latency_ms = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  std::string findings = "[]";               // JSON text
  std::optional<std::string> request_body;   // as it left, after policy; nullopt when not logged
  std::optional<std::string> response_body;  // as it arrived, after policy
  // Stored (column upstream_request_body, added to older logs when a writer
  // opens them). The request as sent upstream when it differs from
  // request_body beyond the policy's edits: translated to another
  // provider's protocol (gate/translation.h). nullopt otherwise; a record
  // without it hashes exactly as before the column existed. Masked like
  // request_body.
  std::optional<std::string> upstream_request_body;
  // Not stored. As request_body_screened, for upstream_request_body: the
  // caller's secret rules found nothing in the strings it was made from.
  bool upstream_request_body_screened = false;
  // Not stored. With upstream_request_body_screened: its SHA-256 (hex),
  // computed by the caller while the upstream answered; empty: hashed here.
  // Required with upstream_request_body_at.
  std::string upstream_request_body_sha256;
  // Stored (column upstream_request_body_at). As request_body_at, for
  // upstream_request_body: stored ahead with StoreRequestBody(), which gave
  // this location and the digest for upstream_request_body_sha256;
  // upstream_request_body must then be nullopt. Reading the record shows
  // the body as upstream_request_body. Version-2 records only.
  int64_t upstream_request_body_at = 0;
  std::string request_sha256;  // of the original payloads
  std::string response_sha256;
  std::string prev_hash;    // set by Append()
  std::string record_hash;  // set by Append()

  // Not stored. True when the caller has already run BuiltinSecretRules() over
  // *request_body exactly as given and they found nothing: Append() then
  // skips masking it, since that scan would find nothing either. The gate's
  // policy scans every request body it forwards, so the log need not scan a
  // 100 KB prompt twice. Leave false whenever in doubt.
  bool request_body_screened = false;
  // Stored (column request_body_at). Nonzero: the request body was stored
  // ahead with AuditLog::StoreRequestBody(), which returned this location
  // and the digest to put in request_body_sha256; request_body must then be
  // nullopt. Reading the record shows that body as request_body (nullopt
  // when the body store no longer holds it; Verify() names that). Version-2
  // records only.
  int64_t request_body_at = 0;
  // Not stored. With request_body_screened: the SHA-256 (hex) of
  // *request_body as given, when the caller already has it; a version-2
  // record then uses it instead of hashing the body again. Ignored when
  // empty or when the body is not screened (masking may change it).
  std::string request_body_sha256;
};

// True for "YYYY-MM-DDTHH:MM:SS[.fraction]Z", the only time form the log
// stores (such strings sort as the times they name). Append() and
// DeleteBefore() reject any other.
bool IsRfc3339Utc(std::string_view t);

enum class RecordForm { kV1 = 1, kV2 = 2, kV3 = 3 };

// The canonical serialization (see above) of `r`, record_hash excluded.
std::string CanonicalRecord(const AuditRecord& r, RecordForm form);
// SHA-256 hex of CanonicalRecord(r, form) (computed without building the string).
std::string ComputeRecordHash(const AuditRecord& r, RecordForm form);

inline constexpr std::string_view kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct VerifyResult {
  bool intact = true;
  int64_t bad_id = 0;       // the first bad record when !intact
  std::string reason;       // "record_hash does not match the record's fields (edited field)", ...
  int64_t records = 0;      // records checked
  int64_t anchor_id = 0;    // id of the last record removed by retention, 0 if none
  int64_t last_id = 0;      // the newest record checked
  int64_t checkpoints = 0;  // signed checkpoints given
  int64_t checkpoints_matched = 0;  // of them, whose record was found with the signed hash
  std::string bad_replica;          // the chain of bad_id (PostgreSQL logs; "" in SQLite)
  int64_t chains = 1;               // hash chains checked (one per replica in PostgreSQL)
  // PostgreSQL: request bodies stored ahead (gb_bodies) that no record
  // names -- their exchanges were cut off by a crash or kill of their
  // replica, or are still in flight. Not a break: no record's hash covers
  // them.
  int64_t orphan_bodies = 0;
};

// Replaces every secret core's built-in rules find (IsMaskedRule) by
// MaskSecret() of it: the log's last line of defence, shared by both
// back-ends. One object per thread.
class SecretMasker {
 public:
  static Result<std::unique_ptr<SecretMasker>> Create();
  ~SecretMasker();
  Status Mask(std::string* text);

 private:
  SecretMasker() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// The hash a record of `form` must carry. `request_digest`, when not empty,
// is the known SHA-256 of the request body (versions 2 and 3).
// `request_by_ref`: the request body was stored ahead (request_body is
// nullopt and `request_digest` is its SHA-256).
std::string ComputeRecordHash(const AuditRecord& r, RecordForm form,
                              std::string_view request_digest, bool request_by_ref = false);

// Which records ForEach visits; empty fields do not filter.
struct RecordFilter {
  std::string since;  // RFC 3339 UTC: time >= since
  std::string until;  // time < until
  std::string user;   // exact
  std::string model;  // exact
  std::string text;   // as Search()
  int64_t limit = 0;  // > 0: at most this many (the oldest that match)
};

class AuditLog {
 public:
  enum class OpenMode {
    kCreate,    // create the file and schema if missing
    kExisting,  // fail if the file is missing or is not a glassbox audit log
  };
  struct Options {
    // kFull unless the caller chooses: `glassbox gate` passes its [log]
    // durability (default kNormal), everything else keeps the strictest.
    LogDurability durability = LogDurability::kFull;
    // True: SQLite checkpoints the WAL into the database itself, inside a
    // commit every ~1000 pages (4 MB), and that commit waits for the copy
    // (and its fsync). False: this connection never checkpoints; the owner
    // calls Checkpoint() from another connection (another AuditLog on
    // another thread), so appends never wait for one.
    bool auto_checkpoint = true;
    // Size at which the body store starts a new segment file (tests make it
    // small to see segments come and go).
    uint64_t body_segment_bytes = uint64_t{64} << 20;
    // PostgreSQL only: large request bodies are sent ahead of their
    // records (LogConfig::bodies_ahead); SQLite's body store ignores it.
    bool bodies_ahead = false;
    // PostgreSQL only, durability normal: how long the answers to records
    // sent without waiting may wait for an append that needs their lane
    // before the lane's own thread is woken to read them (tests make it
    // long, to see who reads what).
    std::chrono::milliseconds lazy_read{20};
    // PostgreSQL only: a replica's lease on a user's budget unused this long
    // is given back (tests make it long, so the settle thread never looks
    // on its own).
    std::chrono::milliseconds lease_idle{1000};
  };
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, OpenMode mode);
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, OpenMode mode,
                                                Options options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Masks secrets, links to the last record, hashes and inserts `record` in
  // one IMMEDIATE transaction. Returns the record as stored (id, masked
  // fields, prev_hash, record_hash). Nothing is stored on failure.
  Result<AuditRecord> Append(AuditRecord record);
  // Appends `records` in order in one transaction (one fsync: group commit
  // for a busy gateway). All are stored or none; returns them as stored.
  Result<std::vector<AuditRecord>> AppendBatch(std::vector<AuditRecord> records);

  // Copies the WAL into the database. kPassive copies what it can without
  // blocking appends on other connections (and without waiting for them).
  // The WAL file is reused from its start by the next append that finds it
  // fully copied; a writer that never pauses may keep it from that, and
  // kRestart then waits for the current append and readers to finish, copies
  // everything and makes the next append start the WAL over (appends on
  // other connections wait meanwhile): the bound on the WAL's size.
  enum class CheckpointMode { kPassive, kRestart };
  struct CheckpointResult {
    int64_t wal_frames = 0;     // frames in the WAL
    int64_t copied_frames = 0;  // of them, in the database now
  };
  Result<CheckpointResult> Checkpoint(CheckpointMode mode = CheckpointMode::kPassive);

  // Stores a request body ahead of its record: the gate does this while the
  // upstream answers, so the record's commit writes a small row. Masks the
  // body first unless `screened` (see AuditRecord::request_body_screened);
  // `sha256` is the caller's digest of `body` as given, used when screened
  // (else computed after masking). Returns the location to put in
  // AuditRecord::request_body_at and the body's digest.
  //
  // The body goes to the body store beside the database, PATH-bodies/: one
  // append to a segment file (NNNNNNNN.seg, a new one every
  // Options::body_segment_bytes), never into the database, so SQLite's WAL
  // checkpoints do not copy it a second time (that copy was the gate's p99
  // latency). One writer at a time holds the store (a lock file); another
  // gets an error here and stores its bodies inline. With durability kFull
  // each body is synced before this returns; with kNormal, SyncBodies()
  // syncs them (the gate does, before each checkpoint makes records
  // durable). Retention deletes a segment once no record names a body in it
  // and it is an hour old (a body whose record never came goes with it);
  // the newest segment is kept. Verify() covers stored bodies through their
  // records' hashes.
  struct StoredBody {
    int64_t at = 0;
    std::string sha256;
  };
  Result<StoredBody> StoreRequestBody(std::string_view body, bool screened, std::string sha256);
  // Syncs the body store's unsynced appends to disk. Safe to call from
  // another thread while this log appends (it touches only the store).
  Status SyncBodies();

  // All records in id order.
  Result<std::vector<AuditRecord>> List();
  // The record with `id`, its own record_hash checked (not its place in the
  // chain: Verify() does that). Errors: NotFound when the log has no record
  // `id` ("PATH: no record ID"); Corruption when the row cannot be read or
  // its fields do not match its hash (edited, or a stored body missing).
  Result<AuditRecord> Get(int64_t id);
  // Records where any text field contains `text` (case-sensitive bytes).
  Result<std::vector<AuditRecord>> Search(std::string_view text);

  // The usage columns of every record whose time sorts at or after `since`
  // (RFC 3339 UTC), in id order, without reading bodies: what the gate's
  // usage ledger is seeded from at start-up.
  struct UsageRow {
    std::string time;
    std::string user;
    std::string model;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
  };
  Result<std::vector<UsageRow>> UsageSince(std::string_view since);

  // The time of the n-th newest record (n >= 1), or nullopt when the log
  // holds fewer than n records: the cutoff that keeps the newest n.
  Result<std::optional<std::string>> TimeOfNewest(int64_t n);

  // Walks the chain from the anchor (or 64 zeros) and reports the first break:
  // an edited field, a deleted row (id gap or broken prev link), reordered rows.
  // Streams the records: memory stays constant however long the log.
  Result<VerifyResult> Verify();
  // As Verify(), and checks the log against signed checkpoints (read and
  // signature-checked by ReadCheckpoints, in file order): every
  // checkpointed record still present must have the signed hash (else the
  // chain was rewritten), the newest checkpointed record must still exist
  // (else records were removed from the end), and a retention anchor must be
  // one a checkpoint signed (else it was forged).
  Result<VerifyResult> Verify(const std::vector<gate::Checkpoint>* checkpoints);

  // Visits the records that match `filter` in id order, one at a time
  // (memory stays constant), until `visit` returns false.
  Status ForEach(const RecordFilter& filter, const std::function<bool(AuditRecord&)>& visit);

  // The chain's head (newest record; the anchor when none is left) and the
  // retention anchor, from one snapshot: what a checkpoint signs.
  struct Head {
    int64_t last_id = 0;
    std::string head_hash = std::string(kZeroHash);
    int64_t anchor_id = 0;
    std::string anchor_hash = std::string(kZeroHash);
  };
  Result<Head> ReadHead();

  // Deletes the leading records whose time sorts before `cutoff` (RFC 3339
  // strings in UTC compare as times) and moves the anchor. Returns the number
  // deleted.
  Result<int64_t> DeleteBefore(std::string_view cutoff);

  struct Impl;

 private:
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox::gate
