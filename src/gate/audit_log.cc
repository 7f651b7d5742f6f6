// SQLite implementation of the hash-chained audit log (see audit_log.h).
#include "gate/audit_log.h"

#include <functional>

#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <utility>

#include "core/finding.h"
#include "core/locate.h"
#include "core/secrets.h"
#include "gate/body_store.h"

namespace glassbox::gate {
namespace {

constexpr std::string_view kFormat = "glassbox-audit-log 1";
constexpr const char* kColumns =
    "id, time, user, agent, upstream, model, method, path, status, latency_ms, input_tokens, "
    "output_tokens, findings, request_body, response_body, request_sha256, response_sha256, "
    "prev_hash, "
    "record_hash";

// The request body as read: stored in the row, or stored ahead and named by
// request_body_at (in the body store, read by the SQL function
// glassbox_body) or, in logs written before the body store, by
// request_body_ref (a row of the `bodies` table).
constexpr const char* kRequestBodyByRef =
    "coalesce(request_body, (SELECT data FROM bodies WHERE bodies.id = records.request_body_ref))";
constexpr const char* kRequestBodyByRefOrAt =
    "coalesce(request_body, glassbox_body(request_body_at),"
    " (SELECT data FROM bodies WHERE bodies.id = records.request_body_ref))";
constexpr const char* kRequestBodyByAt = "coalesce(request_body, glassbox_body(request_body_at))";
// The translated request as read: in the row, or in the body store.
constexpr const char* kUpstreamBodyByAt =
    "coalesce(upstream_request_body, glassbox_body(upstream_request_body_at)) AS "
    "upstream_request_body,"
    " upstream_request_body_at";
// A segment of the body store is deleted once no record names a body in it
// and it is this old: a body stored ahead waits for its record no longer.
constexpr int64_t kOrphanBodySeconds = 3600;

// The schema ladder (audit_log.h): kSchemaSteps[n] takes a log from version
// n to n + 1 (SQLite's user_version). A log from before the ladder has
// version 0 and may already have what a step adds: `applied`, when given,
// is a statement that compiles only once the step's change is there, and
// the step is then skipped. The `bodies` table and records.request_body_ref
// of older logs are in no step: new logs never had a use for them.
struct SchemaStep {
  const char* what;
  const char* applied;  // nullptr: `sql` is idempotent itself
  const char* sql;
};
constexpr SchemaStep kSchemaSteps[] = {
    // 0 -> 1: the log.
    {"meta and records", nullptr,
     "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
     "CREATE TABLE IF NOT EXISTS records("
     " id INTEGER PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, agent TEXT NOT NULL,"
     " upstream TEXT NOT NULL, model TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
     " status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, input_tokens INTEGER NOT NULL,"
     " output_tokens INTEGER NOT NULL, findings TEXT NOT NULL, request_body TEXT, response_body "
     "TEXT,"
     " request_sha256 TEXT NOT NULL, response_sha256 TEXT NOT NULL, prev_hash TEXT NOT NULL,"
     " record_hash TEXT NOT NULL);"},
    // 1 -> 2: request bodies stored ahead in the body store (StoreRequestBody).
    {"bodies in the body store", "SELECT request_body_at FROM records LIMIT 0",
     "ALTER TABLE records ADD COLUMN request_body_at INTEGER"},
    // 2 -> 3: requests as translated for their upstream (AuditRecord).
    {"translated requests", "SELECT upstream_request_body FROM records LIMIT 0",
     "ALTER TABLE records ADD COLUMN upstream_request_body TEXT"},
    // 3 -> 4: translated requests stored ahead in the body store too.
    {"translated requests in the body store",
     "SELECT upstream_request_body_at FROM records LIMIT 0",
     "ALTER TABLE records ADD COLUMN upstream_request_body_at INTEGER"},
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kSchemaSteps));

// The kind of a failed SQLite call, for callers that branch on it.
StatusCode CodeOf(int sqlite_code) {
  switch (sqlite_code & 0xff) {  // the primary code of an extended one
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kCorruption;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kUnknown;
  }
}

// Owns a prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql, unsigned prepare_flags = 0) {
    rc_ = sqlite3_prepare_v3(db, sql.c_str(), -1, prepare_flags, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Binds without copying: `v` must stay unchanged until the statement is
  // reset (or stepped to completion and reset).
  void StaticText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void OptStaticText(int i, const std::optional<std::string>& v) {
    if (v) {
      StaticText(i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  // Ready for the next use; drops the bindings.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void OptText(int i, const std::optional<std::string>& v) {
    if (v) {
      Text(i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  std::string ColText(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
  }
  std::optional<std::string> ColOptText(int i) {
    if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
    return ColText(i);
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

AuditRecord ReadRecord(Stmt& s) {
  AuditRecord r;
  r.id = s.ColInt(0);
  r.time = s.ColText(1);
  r.user = s.ColText(2);
  r.agent = s.ColText(3);
  r.upstream = s.ColText(4);
  r.model = s.ColText(5);
  r.method = s.ColText(6);
  r.path = s.ColText(7);
  r.status = s.ColInt(8);
  r.latency_ms = s.ColInt(9);
  r.input_tokens = s.ColInt(10);
  r.output_tokens = s.ColInt(11);
  r.findings = s.ColText(12);
  r.request_body = s.ColOptText(13);
  r.response_body = s.ColOptText(14);
  r.request_sha256 = s.ColText(15);
  r.response_sha256 = s.ColText(16);
  r.prev_hash = s.ColText(17);
  r.record_hash = s.ColText(18);
  for (int i = 19; i < sqlite3_column_count(s.get()); ++i) {
    const std::string_view name = sqlite3_column_name(s.get(), i);
    if (name == "request_body_at") r.request_body_at = s.ColInt(i);
    if (name == "upstream_request_body") r.upstream_request_body = s.ColOptText(i);
    if (name == "upstream_request_body_at") r.upstream_request_body_at = s.ColInt(i);
  }
  return r;
}

}  // namespace

bool IsRfc3339Utc(std::string_view t) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (t.size() < kShape.size() + 1 || t.back() != 'Z') return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    bool digit = t[i] >= '0' && t[i] <= '9';
    if (kShape[i] == 'd' ? !digit : t[i] != kShape[i]) return false;
  }
  std::string_view frac = t.substr(kShape.size(), t.size() - kShape.size() - 1);
  if (frac.empty()) return true;
  if (frac.size() < 2 || frac[0] != '.') return false;
  for (char c : frac.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

namespace {

// Lower-case hex of a digest.
std::string HexOf(const unsigned char* digest, unsigned int len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

// Writes the canonical form (either version) to a sink: a string for
// CanonicalRecord(), SHA-256 for the record hash. `request_digest`, when not
// empty, is the version-2 digest of the request body, already known.
template <class Sink>
void WriteCanonical(const AuditRecord& r, RecordForm form, std::string_view request_digest,
                    bool request_by_ref, Sink& sink) {
  auto field = [&](std::string_view value) {
    char head[32];
    head[0] = 's';
    auto [end, ec] = std::to_chars(head + 1, head + sizeof(head) - 1, value.size());
    *end++ = ':';
    sink(std::string_view(head, static_cast<size_t>(end - head)));
    sink(value);
  };
  auto integer = [&](int64_t v) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), v);
    field(std::string_view(digits, static_cast<size_t>(end - digits)));
  };
  auto body = [&](const std::optional<std::string>& value, std::string_view known_digest,
                  bool by_ref) {
    if (by_ref) {  // stored ahead (version 2 only): known by its digest
      sink("h");
      sink(known_digest);
    } else if (!value) {
      sink("n");
    } else if (form == RecordForm::kV1) {
      field(*value);
    } else {
      sink("h");
      sink(known_digest.empty() ? std::string_view(Sha256Hex(*value)) : known_digest);
    }
  };
  sink(form == RecordForm::kV1   ? std::string_view("glassbox-audit-v1\n")
       : form == RecordForm::kV2 ? std::string_view("glassbox-audit-v2\n")
                                 : std::string_view("glassbox-audit-v3\n"));
  integer(r.id);
  if (form == RecordForm::kV3) field(r.replica);
  field(r.time);
  field(r.user);
  field(r.agent);
  field(r.upstream);
  field(r.model);
  field(r.method);
  field(r.path);
  integer(r.status);
  integer(r.latency_ms);
  integer(r.input_tokens);
  integer(r.output_tokens);
  field(r.findings);
  body(r.request_body, request_digest, request_by_ref);
  body(r.response_body, {}, false);
  field(r.request_sha256);
  field(r.response_sha256);
  field(r.prev_hash);
  // Added with protocol translation; absent, the form is as before. Known
  // by its digest (version 2), so the commit need not hash 100 KB again;
  // stored ahead (upstream_request_body_at), by its digest only.
  const bool upstream_by_ref = r.upstream_request_body_at != 0 && !r.upstream_request_body;
  if (r.upstream_request_body || upstream_by_ref) {
    sink("u");
    const bool known = upstream_by_ref || (r.upstream_request_body_screened &&
                                           r.upstream_request_body_sha256.size() == 64);
    body(r.upstream_request_body,
         known ? std::string_view(r.upstream_request_body_sha256) : std::string_view(),
         upstream_by_ref);
  }
}

// The record hash, fed to SHA-256 piece by piece (a 100 KB body is hashed
// where it lies, never copied into one string first).
std::string RecordHash(const AuditRecord& r, RecordForm form, std::string_view request_digest,
                       bool request_by_ref = false) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  auto sink = [&](std::string_view bytes) {
    if (ok && !bytes.empty()) ok = EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1;
  };
  WriteCanonical(r, form, request_digest, request_by_ref, sink);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  // OpenSSL's streaming SHA-256 does not fail; if it ever did, hash the
  // built string instead.
  return ok ? HexOf(digest, len) : Sha256Hex(CanonicalRecord(r, form));
}

}  // namespace

std::string CanonicalRecord(const AuditRecord& r, RecordForm form) {
  std::string out;
  auto sink = [&](std::string_view bytes) { out.append(bytes); };
  WriteCanonical(r, form, {}, false, sink);
  return out;
}

std::string ComputeRecordHash(const AuditRecord& r, RecordForm form) {
  return RecordHash(r, form, {});
}
std::string ComputeRecordHash(const AuditRecord& r, RecordForm form,
                              std::string_view request_digest, bool request_by_ref) {
  return RecordHash(r, form, request_digest, request_by_ref);
}

struct SecretMasker::State {
  std::shared_ptr<const SecretScanner> scanner;
  std::unique_ptr<SecretScratch> scratch;
};

Result<std::unique_ptr<SecretMasker>> SecretMasker::Create() {
  auto rules = BuiltinSecretRules();
  if (!rules.ok()) return rules.status();
  auto scanner =
      SecretScanner::Compile(std::move(rules).value(), SecretScanner::CompileMode::kLazy);
  if (!scanner.ok()) return scanner.status();
  auto masker = std::unique_ptr<SecretMasker>(new SecretMasker());
  masker->state_ = std::make_unique<State>();
  masker->state_->scanner = std::move(scanner).value();
  masker->state_->scratch = masker->state_->scanner->NewScratch();
  return masker;
}

SecretMasker::~SecretMasker() = default;

Status SecretMasker::Mask(std::string* text) {
  if (text->empty()) return Status::Ok();
  std::vector<Finding> found;
  if (Status s = state_->scanner->Scan(*text, *state_->scratch, &found); !s.ok()) return s;
  std::sort(found.begin(), found.end(),
            [](const Finding& a, const Finding& b) { return a.byte_offset > b.byte_offset; });
  uint64_t limit = text->size();  // findings at or past it overlap one already masked
  for (const Finding& f : found) {
    if (!IsMaskedRule(f.rule) || f.byte_length == 0 || f.byte_offset + f.byte_length > limit)
      continue;
    std::string masked = MaskSecret(std::string_view(*text).substr(f.byte_offset, f.byte_length));
    text->replace(f.byte_offset, f.byte_length, masked);
    limit = f.byte_offset;
  }
  return Status::Ok();
}

bool IsMaskedRule(std::string_view rule_id) { return rule_id.starts_with("secret/"); }

const char* LogDurabilityName(LogDurability d) {
  return d == LogDurability::kFull ? "full" : "normal";
}

Result<LogDurability> ParseLogDurability(std::string_view text) {
  if (text == "normal") return LogDurability::kNormal;
  if (text == "full") return LogDurability::kFull;
  return Status::Error("log durability '" + std::string(text) +
                       "': expected \"normal\" or \"full\"");
}

struct AuditLog::Impl {
  sqlite3* db = nullptr;
  std::string path;
  std::shared_ptr<const SecretScanner> scanner;
  std::unique_ptr<SecretScratch> scratch;
  // Prepared once (first append) and reused: preparing costs more than the
  // statement itself does.
  std::unique_ptr<Stmt> last_record, insert_record;
  std::unique_ptr<Stmt> begin_immediate, commit;  // AppendBatch's, likewise
  // Records from this id on use canonical form version 2; 0: none do.
  int64_t v2_from = 0;
  // The log has the bodies table and records.request_body_ref (logs made
  // before the body store; new logs have neither).
  bool has_body_refs = false;
  // The log has records.request_body_at: bodies in the body store.
  bool has_body_files = false;
  // The log has records.upstream_request_body (translated requests).
  bool has_upstream_bodies = false;
  // The log has records.upstream_request_body_at (translated requests in
  // the body store).
  bool has_upstream_body_files = false;
  LogDurability durability = LogDurability::kFull;
  std::unique_ptr<BodyStore> body_store;

  std::string RequestBodyExpr() const {
    if (has_body_files) return has_body_refs ? kRequestBodyByRefOrAt : kRequestBodyByAt;
    return has_body_refs ? kRequestBodyByRef : "request_body";
  }
  // kColumns for SELECT, with the request body read through its reference,
  // and request_body_at last when the log has it.
  std::string SelectColumns() const {
    std::string cols = kColumns;
    if (has_body_refs || has_body_files)
      cols.replace(cols.find("request_body,"), 12, RequestBodyExpr());
    if (has_body_files) cols += ", request_body_at";
    if (has_upstream_body_files) {
      cols += std::string(", ") + kUpstreamBodyByAt;
    } else if (has_upstream_bodies) {
      cols += ", upstream_request_body";
    }
    return cols;
  }
  // Deletes the body store's segments that no record needs any more.
  Status PruneBodies() {
    if (!has_body_files) return Status::Ok();
    Stmt s(db, has_upstream_body_files
                   ? "SELECT min(at) FROM (SELECT min(request_body_at) AS at FROM records UNION ALL"
                     " SELECT min(upstream_request_body_at) FROM records)"
                   : "SELECT min(request_body_at) FROM records WHERE request_body_at IS NOT NULL");
    if (!s.ok() || s.Step() != SQLITE_ROW) return Error("reading body locations");
    const uint64_t first_needed = sqlite3_column_type(s.get(), 0) == SQLITE_NULL
                                      ? UINT64_MAX
                                      : BodyStore::SegmentOf(s.ColInt(0));
    auto deleted = body_store->DeleteSegmentsBefore(first_needed, kOrphanBodySeconds);
    return deleted.ok() ? Status::Ok() : deleted.status();
  }

  // Which of the columns later schema versions added this log has (a
  // reader may open a log no writer has brought up to date).
  void ProbeColumns() {
    Stmt probe(db, "SELECT request_body_ref FROM records LIMIT 0");
    Stmt bodies(db, "SELECT id FROM bodies LIMIT 0");
    has_body_refs = probe.ok() && bodies.ok();
    Stmt at(db, "SELECT request_body_at FROM records LIMIT 0");
    has_body_files = at.ok();
    Stmt upstream_bodies(db, "SELECT upstream_request_body FROM records LIMIT 0");
    has_upstream_bodies = upstream_bodies.ok();
    Stmt upstream_at(db, "SELECT upstream_request_body_at FROM records LIMIT 0");
    has_upstream_body_files = upstream_at.ok() && has_upstream_bodies;
  }

  RecordForm FormOf(int64_t id) const {
    return v2_from > 0 && id >= v2_from ? RecordForm::kV2 : RecordForm::kV1;
  }
  // Reads "v2_from" from the meta table (0 when absent).
  Result<int64_t> ReadV2From() {
    auto text = Meta("v2_from");
    if (!text.ok()) return text.status();
    if (!text->has_value()) return int64_t{0};
    int64_t id = 0;
    const std::string& t = **text;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), id);
    if (ec != std::errc() || end != t.data() + t.size() || id < 1) {
      return Status::Corruption(path + ": damaged v2_from '" + t + "' in the meta table");
    }
    return id;
  }

  ~Impl() {
    last_record.reset();
    insert_record.reset();
    begin_immediate.reset();
    commit.reset();
    sqlite3_close(db);
  }

  Status Error(std::string_view what) const {
    return Status::WithCode(CodeOf(sqlite3_extended_errcode(db)),
                            path + ": " + std::string(what) + ": " + sqlite3_errmsg(db));
  }
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
      std::string msg = path + ": " + (err ? err : "sqlite error");
      sqlite3_free(err);
      return Status::WithCode(CodeOf(rc), msg);
    }
    return Status::Ok();
  }

  // The schema version (user_version); 0 for a log from before the ladder.
  Result<int> SchemaVersion() {
    Stmt s(db, "PRAGMA user_version");
    if (!s.ok() || s.Step() != SQLITE_ROW) return Error("reading the schema version");
    return static_cast<int>(s.ColInt(0));
  }
  Status RefuseNewer(int version) const {
    return Status::InvalidArgument(path + ": schema version " + std::to_string(version) +
                                   " is newer than this glassbox understands (" +
                                   std::to_string(kSchemaVersion) + "); upgrade glassbox");
  }
  // Takes the schema from `version` to kSchemaVersion, step by step; the
  // caller holds a write transaction. Steps the log's version already
  // covers are checked too (their `applied` statement) and re-applied when
  // missing: a log whose stamp claims more than it holds (a column dropped
  // by hand) is brought up to date instead of failing at its next append.
  Status Upgrade(int version) {
    if (version > kSchemaVersion) return RefuseNewer(version);
    for (int v = 0; v < kSchemaVersion; ++v) {
      const SchemaStep& step = kSchemaSteps[v];
      if (step.applied != nullptr ? Stmt(db, step.applied).ok() : v < version) continue;
      if (Status s = Exec(step.sql); !s.ok()) {
        return s.WithMessage(s.message() + " (upgrading the schema to version " +
                             std::to_string(v + 1) + ": " + step.what + ")");
      }
    }
    if (version == kSchemaVersion) return Status::Ok();
    return Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  }
  // The meta table's format, or nullopt when it has none (or no meta table).
  std::optional<std::string> Format() {
    Stmt s(db, "SELECT value FROM meta WHERE key = 'format'");
    if (!s.ok() || s.Step() != SQLITE_ROW) return std::nullopt;
    return s.ColText(0);
  }
  void Rollback() { (void)Exec("ROLLBACK"); }
  // Runs `sql` (no result rows) through a statement prepared once into
  // `stmt`: sqlite3_exec would parse it again at every call.
  Status Run(std::unique_ptr<Stmt>& stmt, const char* sql) {
    if (!stmt) stmt = std::make_unique<Stmt>(db, sql, SQLITE_PREPARE_PERSISTENT);
    if (!stmt->ok()) {
      Status failed = Error(sql);
      stmt.reset();
      return failed;
    }
    const int rc = stmt->Step();
    Status result = rc == SQLITE_DONE ? Status::Ok() : Error(sql);
    sqlite3_reset(stmt->get());
    return result;
  }

  // Replaces every secret the core rules find in `text` by its masked form.
  Status Mask(std::string* text) {
    if (!scanner || text->empty()) return Status::Ok();
    std::vector<Finding> found;
    if (Status s = scanner->Scan(*text, *scratch, &found); !s.ok()) return s;
    std::sort(found.begin(), found.end(),
              [](const Finding& a, const Finding& b) { return a.byte_offset > b.byte_offset; });
    uint64_t limit = text->size();  // findings at or past it overlap one already masked
    for (const Finding& f : found) {
      if (!IsMaskedRule(f.rule) || f.byte_length == 0 || f.byte_offset + f.byte_length > limit)
        continue;
      std::string masked = MaskSecret(std::string_view(*text).substr(f.byte_offset, f.byte_length));
      text->replace(f.byte_offset, f.byte_length, masked);
      limit = f.byte_offset;
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> Meta(const char* key) {
    Stmt s(db, "SELECT value FROM meta WHERE key = ?1");
    if (!s.ok()) return Error("reading meta");
    s.Text(1, key);
    int rc = s.Step();
    if (rc == SQLITE_ROW) return std::optional<std::string>(s.ColText(0));
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    return Error("reading meta");
  }
  Status SetMeta(const char* key, std::string_view value) {
    Stmt s(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
    if (!s.ok()) return Error("writing meta");
    s.Text(1, key);
    s.Text(2, value);
    return s.Step() == SQLITE_DONE ? Status::Ok() : Error("writing meta");
  }
  // The chain's starting point: (anchor id, anchor hash), or (0, zeros).
  Result<std::pair<int64_t, std::string>> Anchor() {
    auto id = Meta("anchor_id");
    if (!id.ok()) return id.status();
    auto hash = Meta("anchor_hash");
    if (!hash.ok()) return hash.status();
    if (!id->has_value() || !hash->has_value())
      return std::pair<int64_t, std::string>(0, std::string(kZeroHash));
    int64_t anchor_id = 0;
    const std::string& text = **id;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), anchor_id);
    if (ec != std::errc() || end != text.data() + text.size() || anchor_id < 0) {
      return Status::Corruption(path + ": damaged retention anchor '" + text +
                                "' in the meta table");
    }
    return std::pair<int64_t, std::string>(anchor_id, **hash);
  }
  // Streams the rows of "SELECT ... FROM records <where> ORDER BY id
  // <limit>" to `visit` (which returns false to stop); `args` bind ?1.. in order.
  Status Stream(const std::string& where, const std::vector<std::string>& args, int64_t limit,
                const std::function<bool(AuditRecord&)>& visit) {
    Stmt s(db, "SELECT " + SelectColumns() + " FROM records " + where + " ORDER BY id" +
                   (limit > 0 ? " LIMIT " + std::to_string(limit) : ""));
    if (!s.ok()) return Error("reading records");
    for (size_t i = 0; i < args.size(); ++i) s.Text(static_cast<int>(i + 1), args[i]);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      AuditRecord r = ReadRecord(s);
      if (!visit(r)) return Status::Ok();
    }
    if (rc != SQLITE_DONE) return Error("reading records");
    return Status::Ok();
  }

  Result<std::vector<AuditRecord>> Query(const std::string& where, std::string_view arg) {
    Stmt s(db, "SELECT " + SelectColumns() + " FROM records " + where + " ORDER BY id");
    if (!s.ok()) return Error("reading records");
    if (!arg.empty()) s.Text(1, arg);
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadRecord(s));
    if (rc != SQLITE_DONE) return Error("reading records");
    return out;
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, OpenMode mode) {
  return Open(path, mode, Options{});
}

namespace {

// glassbox_body(at): the body the store holds at `at`, or NULL.
void SqlBody(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(ctx);
  auto* store = static_cast<BodyStore*>(sqlite3_user_data(ctx));
  auto body = store->Read(sqlite3_value_int64(argv[0]));
  if (!body.ok()) return sqlite3_result_error(ctx, body.status().message().c_str(), -1);
  if (!body->has_value()) return sqlite3_result_null(ctx);
  const std::string& text = **body;
  sqlite3_result_text64(ctx, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, OpenMode mode,
                                                 Options options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->durability = options.durability;
  impl->body_store = std::make_unique<BodyStore>(path + "-bodies", options.body_segment_bytes);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
  if (mode == OpenMode::kCreate) flags |= SQLITE_OPEN_CREATE;
  if (const int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr); rc != SQLITE_OK) {
    return Status::WithCode(CodeOf(rc),
                            path + ": cannot open audit log: " +
                                (impl->db ? sqlite3_errmsg(impl->db) : "out of memory"));
  }
  sqlite3_busy_timeout(impl->db, 30000);
  // Direct use only (not from triggers or views a log file could carry).
  if (sqlite3_create_function_v2(impl->db, "glassbox_body", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                 impl->body_store.get(), SqlBody, nullptr, nullptr,
                                 nullptr) != SQLITE_OK) {
    return impl->Error("registering glassbox_body");
  }
  if (mode == OpenMode::kExisting) {
    if (impl->Format() != kFormat)
      return Status::InvalidArgument(path + ": not a glassbox audit log");
    auto version = impl->SchemaVersion();
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) return impl->RefuseNewer(*version);
  }
  if (Status s = impl->Exec(options.durability == LogDurability::kFull
                                ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      !s.ok()) {
    return s;
  }
  if (!options.auto_checkpoint) {
    if (Status s = impl->Exec("PRAGMA wal_autocheckpoint=0;"); !s.ok()) return s;
  }
  if (mode == OpenMode::kCreate) {
    if (Status s = impl->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    // Another program's database is left alone, whatever its user_version.
    const std::optional<std::string> format = impl->Format();
    Status s = format && *format != kFormat
                   ? Status::InvalidArgument(path + ": not a glassbox audit log")
                   : Status::Ok();
    if (s.ok()) {
      auto version = impl->SchemaVersion();
      s = version.ok() ? impl->Upgrade(*version) : version.status();
    }
    if (s.ok() && !format) s = impl->SetMeta("format", kFormat);
    if (s.ok()) {
      // Canonical form version 2 from the next record on (see audit_log.h).
      auto v2 = impl->Meta("v2_from");
      if (!v2.ok()) {
        s = v2.status();
      } else if (!v2->has_value()) {
        Stmt last(impl->db, "SELECT max(id) FROM records");
        auto anchor = impl->Anchor();
        if (!last.ok() || last.Step() != SQLITE_ROW || !anchor.ok()) {
          s = anchor.ok() ? impl->Error("reading records") : anchor.status();
        } else {
          const int64_t last_id = std::max(last.ColInt(0), anchor->first);
          s = impl->SetMeta("v2_from", std::to_string(last_id + 1));
        }
      }
    }
    if (!s.ok()) {
      impl->Rollback();
      return s;
    }
    if (Status c = impl->Exec("COMMIT"); !c.ok()) return c;
  }
  // All built-in rules: the set the build-time database was made for, so
  // opening compiles nothing; Mask() keeps only IsMaskedRule() findings.
  impl->ProbeColumns();
  if (mode == OpenMode::kCreate && impl->has_body_refs) {
    // Bodies whose record never came (the gate stopped in between), once
    // they are an hour old. A failure leaves them for the next writer.
    (void)impl->Exec(
        "DELETE FROM bodies WHERE created < CAST(strftime('%s','now') AS INTEGER) - 3600"
        " AND id NOT IN (SELECT request_body_ref FROM records WHERE request_body_ref IS NOT NULL)");
  }
  if (mode == OpenMode::kCreate)
    (void)impl->PruneBodies();  // a failure leaves them for the next writer
  if (auto v2 = impl->ReadV2From(); v2.ok()) {
    impl->v2_from = *v2;
  } else {
    return v2.status();
  }
  auto rules = BuiltinSecretRules();
  if (!rules.ok()) return rules.status();
  auto scanner =
      SecretScanner::Compile(std::move(rules).value(), SecretScanner::CompileMode::kLazy);
  if (!scanner.ok()) return scanner.status();
  impl->scanner = std::move(scanner).value();
  impl->scratch = impl->scanner->NewScratch();
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

// Masks and validates `r` for storage (no database access).
static Status PrepareRecord(AuditLog::Impl& m, AuditRecord& r);
// Links `r` to the last record and inserts it; the caller holds a transaction.
static Status InsertInTransaction(AuditLog::Impl& m, AuditRecord& r);

static Status PrepareRecord(AuditLog::Impl& m, AuditRecord& r) {
  if (!IsRfc3339Utc(r.time)) {
    return Status::Error(m.path + ": record time '" + r.time +
                         "' is not RFC 3339 UTC (2026-11-23T12:00:00Z)");
  }
  for (std::string* field : {&r.path, &r.findings}) {
    if (Status s = m.Mask(field); !s.ok()) return s;
  }
  if (r.request_body && !r.request_body_screened) {
    if (Status s = m.Mask(&*r.request_body); !s.ok()) return s;
  }
  if (r.response_body) {
    if (Status s = m.Mask(&*r.response_body); !s.ok()) return s;
  }
  if (r.upstream_request_body) {
    if (!m.has_upstream_bodies)
      return Status::Error(m.path + ": this log has no upstream_request_body column");
    if (!r.upstream_request_body_screened) {
      if (Status s = m.Mask(&*r.upstream_request_body); !s.ok()) return s;
    }
  }
  if (r.upstream_request_body_at != 0 && (!m.has_upstream_body_files || r.upstream_request_body ||
                                          r.upstream_request_body_sha256.size() != 64)) {
    return Status::Error(
        m.path +
        ": a record naming a stored translated request needs the column for it, no inline "
        "body and the body's SHA-256");
  }
  return Status::Ok();
}

static Status InsertInTransaction(AuditLog::Impl& m, AuditRecord& r) {
  if (!m.last_record) {
    m.last_record =
        std::make_unique<Stmt>(m.db, "SELECT id, record_hash FROM records ORDER BY id DESC LIMIT 1",
                               SQLITE_PREPARE_PERSISTENT);
    std::string columns = kColumns,
                values = "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19";
    if (m.has_body_files) columns += ", request_body_at", values += ",?20";
    if (m.has_upstream_bodies) columns += ", upstream_request_body", values += ",?21";
    if (m.has_upstream_body_files) columns += ", upstream_request_body_at", values += ",?22";
    m.insert_record =
        std::make_unique<Stmt>(m.db, "INSERT INTO records(" + columns + ") VALUES (" + values + ")",
                               SQLITE_PREPARE_PERSISTENT);
  }
  if (!m.last_record->ok() || !m.insert_record->ok()) {
    Status failed = m.Error("preparing insert");
    m.last_record.reset();
    m.insert_record.reset();
    return failed;
  }
  Status failed = Status::Ok();
  {
    Stmt& last = *m.last_record;
    int rc = last.Step();
    if (rc == SQLITE_ROW) {
      r.id = last.ColInt(0) + 1;
      r.prev_hash = last.ColText(1);
    } else if (rc == SQLITE_DONE) {
      auto anchor = m.Anchor();
      if (anchor.ok()) {
        r.id = anchor->first + 1;
        r.prev_hash = anchor->second;
      } else {
        failed = anchor.status();
      }
    } else {
      failed = m.Error("reading the last record");
    }
    last.Reset();
  }
  if (!failed.ok()) return failed;
  const RecordForm form = m.FormOf(r.id);
  if (r.request_body_at != 0 && (form != RecordForm::kV2 || !m.has_body_files || r.request_body ||
                                 r.request_body_sha256.size() != 64)) {
    return Status::Error(
        m.path +
        ": a record naming a stored body needs canonical form 2, no inline body and the "
        "body's SHA-256");
  }
  if (r.upstream_request_body_at != 0 && form != RecordForm::kV2) {
    return Status::Error(m.path +
                         ": a record naming a stored translated request needs canonical form 2");
  }
  // The caller's digest of the request body is used only when the body is
  // stored exactly as given (screened: not masked), or stored ahead.
  const std::string_view request_digest =
      (r.request_body && r.request_body_screened) || r.request_body_at != 0
          ? std::string_view(r.request_body_sha256)
          : std::string_view();
  r.record_hash = RecordHash(r, form, request_digest, r.request_body_at != 0);
  // Bound without copies: `r` outlives the step, and Reset() unbinds.
  Stmt& ins = *m.insert_record;
  ins.Int(1, r.id);
  ins.StaticText(2, r.time);
  ins.StaticText(3, r.user);
  ins.StaticText(4, r.agent);
  ins.StaticText(5, r.upstream);
  ins.StaticText(6, r.model);
  ins.StaticText(7, r.method);
  ins.StaticText(8, r.path);
  ins.Int(9, r.status);
  ins.Int(10, r.latency_ms);
  ins.Int(11, r.input_tokens);
  ins.Int(12, r.output_tokens);
  ins.StaticText(13, r.findings);
  ins.OptStaticText(14, r.request_body);
  ins.OptStaticText(15, r.response_body);
  ins.StaticText(16, r.request_sha256);
  ins.StaticText(17, r.response_sha256);
  ins.StaticText(18, r.prev_hash);
  ins.StaticText(19, r.record_hash);
  if (m.has_body_files) {
    if (r.request_body_at != 0) {
      ins.Int(20, r.request_body_at);
    } else {
      sqlite3_bind_null(ins.get(), 20);
    }
  }
  if (m.has_upstream_bodies) ins.OptStaticText(21, r.upstream_request_body);
  if (m.has_upstream_body_files) {
    if (r.upstream_request_body_at != 0) {
      ins.Int(22, r.upstream_request_body_at);
    } else {
      sqlite3_bind_null(ins.get(), 22);
    }
  }
  const int rc = ins.Step();
  if (rc != SQLITE_DONE) failed = m.Error("inserting record");
  ins.Reset();
  return failed;
}

Result<AuditLog::StoredBody> AuditLog::StoreRequestBody(std::string_view body, bool screened,
                                                        std::string sha256) {
  Impl& m = *impl_;
  if (!m.has_body_files)
    return Status::Error(m.path + ": this log has no column for bodies stored ahead");
  std::string masked;
  if (!screened) {
    masked = std::string(body);
    if (Status s = m.Mask(&masked); !s.ok()) return s;
    body = masked;
  }
  StoredBody stored;
  stored.sha256 = screened && sha256.size() == 64 ? std::move(sha256) : Sha256Hex(body);
  auto at = m.body_store->Append(body, /*sync=*/m.durability == LogDurability::kFull);
  if (!at.ok()) return at.status();
  stored.at = *at;
  return stored;
}

Status AuditLog::SyncBodies() { return impl_->body_store->Sync(); }

Result<AuditRecord> AuditLog::Append(AuditRecord r) {
  auto stored = AppendBatch({std::move(r)});
  if (!stored.ok()) return stored.status();
  return std::move(stored->front());
}

Result<std::vector<AuditRecord>> AuditLog::AppendBatch(std::vector<AuditRecord> records) {
  Impl& m = *impl_;
  for (AuditRecord& r : records) {
    if (Status s = PrepareRecord(m, r); !s.ok()) return s;
  }
  if (Status s = m.Run(m.begin_immediate, "BEGIN IMMEDIATE"); !s.ok()) return s;
  for (AuditRecord& r : records) {
    if (Status s = InsertInTransaction(m, r); !s.ok()) {
      m.Rollback();
      return s;
    }
  }
  if (Status s = m.Run(m.commit, "COMMIT"); !s.ok()) {
    m.Rollback();
    return s;
  }
  return records;
}

Result<AuditLog::CheckpointResult> AuditLog::Checkpoint(CheckpointMode mode) {
  int log_frames = 0;
  int done = 0;
  const int rc = sqlite3_wal_checkpoint_v2(
      impl_->db, nullptr,
      mode == CheckpointMode::kRestart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
      &log_frames, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) return impl_->Error("checkpoint");
  return CheckpointResult{log_frames, done};
}

Result<std::vector<AuditRecord>> AuditLog::List() { return impl_->Query("", ""); }

Result<AuditRecord> AuditLog::Get(int64_t id) {
  Impl& m = *impl_;
  // Read now, not at open: a writer may have started version 2 since.
  auto v2_from = m.ReadV2From();
  if (!v2_from.ok()) return v2_from.status();
  auto rows = m.Query("WHERE id = " + std::to_string(id), "");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound(m.path + ": no record " + std::to_string(id));
  AuditRecord& r = rows->front();
  const RecordForm form = *v2_from > 0 && r.id >= *v2_from ? RecordForm::kV2 : RecordForm::kV1;
  if (ComputeRecordHash(r, form) != r.record_hash) {
    if (r.request_body_at != 0 && !r.request_body) {
      return Status::Corruption(m.path + ": record " + std::to_string(id) +
                                ": its request body is missing from " +
                                m.body_store->SegmentPath(BodyStore::SegmentOf(r.request_body_at)));
    }
    if (r.upstream_request_body_at != 0 && !r.upstream_request_body) {
      return Status::Corruption(
          m.path + ": record " + std::to_string(id) +
          ": its translated request body is missing from " +
          m.body_store->SegmentPath(BodyStore::SegmentOf(r.upstream_request_body_at)));
    }
    return Status::Corruption(
        m.path + ": record " + std::to_string(id) +
        ": record_hash does not match the record's fields (an edited field or a damaged row)");
  }
  return std::move(r);
}

Result<std::vector<AuditRecord>> AuditLog::Search(std::string_view text) {
  if (text.empty()) return List();
  return impl_->Query(
      "WHERE instr(user, ?1) OR instr(agent, ?1) OR instr(upstream, ?1) OR instr(model, ?1) OR "
      "instr(method, ?1)"
      " OR instr(path, ?1) OR instr(findings, ?1) OR instr(coalesce(" +
          impl_->RequestBodyExpr() +
          ", ''), ?1)"
          " OR instr(coalesce(response_body, ''), ?1)",
      text);
}

Result<std::vector<AuditLog::UsageRow>> AuditLog::UsageSince(std::string_view since) {
  Stmt s(impl_->db,
         "SELECT time, user, model, input_tokens, output_tokens FROM records WHERE time >= ?1 "
         "ORDER BY id");
  if (!s.ok()) return impl_->Error("reading usage");
  s.Text(1, since);
  std::vector<UsageRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(UsageRow{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3), s.ColInt(4)});
  }
  if (rc != SQLITE_DONE) return impl_->Error("reading usage");
  return out;
}

Result<std::optional<std::string>> AuditLog::TimeOfNewest(int64_t n) {
  if (n < 1) return Status::Error("TimeOfNewest: n must be at least 1");
  Stmt s(impl_->db, "SELECT time FROM records ORDER BY id DESC LIMIT 1 OFFSET ?1");
  if (!s.ok()) return impl_->Error("reading records");
  s.Int(1, n - 1);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return impl_->Error("reading records");
  return std::optional<std::string>(s.ColText(0));
}

Result<VerifyResult> AuditLog::Verify() { return Verify(nullptr); }

namespace {

// What Verify checks of one chain, record by record, from its anchor.
class ChainCheck {
 public:
  ChainCheck(VerifyResult* v, std::pair<int64_t, std::string> anchor, int64_t v2_start,
             const std::vector<gate::Checkpoint>* checkpoints, const BodyStore& bodies)
      : v_(*v),
        want_id_(anchor.first + 1),
        want_prev_(std::move(anchor.second)),
        v2_start_(v2_start),
        checkpoints_(checkpoints),
        bodies_(bodies) {
    v_.anchor_id = anchor.first;
  }

  // Checkpoints given: the anchor must be one the gate signed (a checkpoint
  // taken with this anchor; the gate signs one right after every retention
  // run), and checkpoints of records retention removed cannot be checked.
  void CheckAnchor(std::string_view anchor_hash) {
    if (checkpoints_ == nullptr || checkpoints_->empty()) return;
    const int64_t anchor_id = v_.anchor_id;
    v_.checkpoints = static_cast<int64_t>(checkpoints_->size());
    if (anchor_id > 0) {
      bool attested = false;
      for (const gate::Checkpoint& c : *checkpoints_) {
        if (c.anchor_id == anchor_id) attested = attested || c.anchor_hash == anchor_hash;
        if (c.last_id == anchor_id) attested = attested || c.head_hash == anchor_hash;
      }
      if (!attested) {
        BrokenAt(anchor_id,
                 "the retention anchor (record " + std::to_string(anchor_id) +
                     ") is not attested by any signed checkpoint: records were removed from the "
                     "start and the anchor forged");
      }
    }
    while (next_ < checkpoints_->size() && (*checkpoints_)[next_].last_id <= anchor_id) ++next_;
  }

  // One record in id order; false once the chain is broken.
  bool Visit(const AuditRecord& r) {
    if (!InSequence(r.id) || !HashMatches(r)) return false;
    if (r.prev_hash != want_prev_) {
      BrokenAt(r.id,
               "prev_hash does not match the previous record's hash (deleted or reordered rows)");
      return false;
    }
    if (!MatchesCheckpoints(r)) return false;
    want_prev_ = r.record_hash;
    v_.last_id = r.id;
    ++want_id_;
    ++v_.records;
    return true;
  }

  // After the last record: checkpointed records past it were removed.
  void CheckTail() {
    if (!v_.intact || checkpoints_ == nullptr || next_ >= checkpoints_->size()) return;
    const gate::Checkpoint& c = checkpoints_->back();
    BrokenAt(want_id_, "records " + std::to_string(want_id_) + ".." + std::to_string(c.last_id) +
                           " were removed from the end: the checkpoint of " + c.time + " attests " +
                           std::to_string(c.last_id) + " records");
  }

 private:
  void BrokenAt(int64_t id, std::string reason) {
    v_.intact = false;
    v_.bad_id = id;
    v_.reason = std::move(reason);
  }
  bool InSequence(int64_t id) {
    if (id == want_id_) return true;
    if (id < want_id_) {
      BrokenAt(id, "id " + std::to_string(id) + " out of sequence, expected " +
                       std::to_string(want_id_));
    } else if (want_id_ + 1 == id) {
      BrokenAt(id, "record " + std::to_string(want_id_) + " is missing (deleted row)");
    } else {
      BrokenAt(id, "records " + std::to_string(want_id_) + ".." + std::to_string(id - 1) +
                       " are missing (deleted rows)");
    }
    return false;
  }
  bool HashMatches(const AuditRecord& r) {
    const RecordForm form = v2_start_ > 0 && r.id >= v2_start_ ? RecordForm::kV2 : RecordForm::kV1;
    if (ComputeRecordHash(r, form) == r.record_hash) return true;
    if (r.request_body_at != 0 && !r.request_body) {
      BrokenAt(r.id, "its request body is missing from " +
                         bodies_.SegmentPath(BodyStore::SegmentOf(r.request_body_at)) +
                         " (deleted, or lost in a power failure before it reached the disk)");
    } else if (r.upstream_request_body_at != 0 && !r.upstream_request_body) {
      BrokenAt(r.id, "its translated request body is missing from " +
                         bodies_.SegmentPath(BodyStore::SegmentOf(r.upstream_request_body_at)) +
                         " (deleted, or lost in a power failure before it reached the disk)");
    } else {
      BrokenAt(r.id, "record_hash does not match the record's fields (edited field)");
    }
    return false;
  }
  bool MatchesCheckpoints(const AuditRecord& r) {
    if (checkpoints_ == nullptr) return true;
    while (next_ < checkpoints_->size() && (*checkpoints_)[next_].last_id == r.id) {
      if ((*checkpoints_)[next_].head_hash != r.record_hash) {
        BrokenAt(r.id, "its hash differs from the one signed in the checkpoint of " +
                           (*checkpoints_)[next_].time + ": the chain was rewritten");
        return false;
      }
      ++next_;
      ++v_.checkpoints_matched;
    }
    return true;
  }

  VerifyResult& v_;
  int64_t want_id_;
  std::string want_prev_;
  const int64_t v2_start_;
  const std::vector<gate::Checkpoint>* checkpoints_;
  size_t next_ = 0;  // the first checkpoint whose record is still to come
  const BodyStore& bodies_;
};

}  // namespace

Result<VerifyResult> AuditLog::Verify(const std::vector<gate::Checkpoint>* checkpoints) {
  Impl& m = *impl_;
  // One read transaction: a consistent snapshot even while others append.
  // Records are streamed one at a time: memory stays constant however long
  // the log.
  if (Status s = m.Exec("BEGIN"); !s.ok()) return s;
  auto anchor = m.Anchor();
  auto v2_from = anchor.ok() ? m.ReadV2From() : Result<int64_t>(anchor.status());
  if (!v2_from.ok()) {
    m.Rollback();
    return v2_from.status();
  }
  VerifyResult v;
  const std::string anchor_hash = anchor->second;
  ChainCheck check(&v, std::move(anchor.value()), *v2_from, checkpoints, *m.body_store);
  check.CheckAnchor(anchor_hash);
  Status st = Status::Ok();
  if (v.intact) st = m.Stream("", {}, 0, [&](AuditRecord& r) { return check.Visit(r); });
  m.Rollback();
  if (!st.ok()) return st;
  check.CheckTail();
  return v;
}

Result<AuditLog::Head> AuditLog::ReadHead() {
  Impl& m = *impl_;
  if (Status s = m.Exec("BEGIN"); !s.ok()) return s;
  Head h;
  auto anchor = m.Anchor();
  Status failed = anchor.ok() ? Status::Ok() : anchor.status();
  if (failed.ok()) {
    h.anchor_id = anchor->first;
    h.anchor_hash = anchor->second;
    h.last_id = anchor->first;
    h.head_hash = anchor->second;
    Stmt s(m.db, "SELECT id, record_hash FROM records ORDER BY id DESC LIMIT 1");
    const int rc = s.ok() ? s.Step() : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
      h.last_id = s.ColInt(0);
      h.head_hash = s.ColText(1);
    } else if (rc != SQLITE_DONE) {
      failed = m.Error("reading the head");
    }
  }
  m.Rollback();
  if (!failed.ok()) return failed;
  return h;
}

Status AuditLog::ForEach(const RecordFilter& filter,
                         const std::function<bool(AuditRecord&)>& visit) {
  std::string where;
  std::vector<std::string> args;
  auto add = [&](const std::string& clause, const std::string& value) {
    where += where.empty() ? "WHERE " : " AND ";
    args.push_back(value);
    where += clause + std::to_string(args.size());
  };
  if (!filter.since.empty()) add("time >= ?", filter.since);
  if (!filter.until.empty()) add("time < ?", filter.until);
  if (!filter.user.empty()) add("user = ?", filter.user);
  if (!filter.model.empty()) add("model = ?", filter.model);
  if (!filter.text.empty()) {
    where += where.empty() ? "WHERE (" : " AND (";
    args.push_back(filter.text);
    const std::string n = std::to_string(args.size());
    where += "instr(user, ?" + n + ") OR instr(agent, ?" + n + ") OR instr(upstream, ?" + n +
             ") OR instr(model, ?" + n + ") OR instr(method, ?" + n + ") OR instr(path, ?" + n +
             ") OR instr(findings, ?" + n + ") OR instr(coalesce(" + impl_->RequestBodyExpr() +
             ", ''), ?" + n + ") OR instr(coalesce(response_body, ''), ?" + n + "))";
  }
  return impl_->Stream(where, args, filter.limit, visit);
}

Result<int64_t> AuditLog::DeleteBefore(std::string_view cutoff) {
  Impl& m = *impl_;
  if (!IsRfc3339Utc(cutoff)) {
    return Status::Error("retention cutoff '" + std::string(cutoff) +
                         "' is not RFC 3339 UTC (2026-11-23T12:00:00Z)");
  }
  if (Status s = m.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status failed = Status::Ok();
  int64_t deleted = 0;
  {
    // The leading run: every record before the first one at or after cutoff.
    Stmt first(m.db, "SELECT min(id) FROM records WHERE time >= ?1");
    Stmt last(m.db, "SELECT max(id) FROM records");
    if (!first.ok() || !last.ok()) {
      failed = m.Error("reading records");
    } else {
      first.Text(1, cutoff);
      int rc1 = first.Step();
      int rc2 = last.Step();
      if (rc1 != SQLITE_ROW || rc2 != SQLITE_ROW) {
        failed = m.Error("reading records");
      } else if (sqlite3_column_type(last.get(), 0) != SQLITE_NULL) {
        int64_t end = sqlite3_column_type(first.get(), 0) == SQLITE_NULL ? last.ColInt(0) + 1
                                                                         : first.ColInt(0);
        Stmt anchor(m.db,
                    "SELECT id, record_hash FROM records WHERE id < ?1 ORDER BY id DESC LIMIT 1");
        anchor.Int(1, end);
        if (anchor.ok() && anchor.Step() == SQLITE_ROW) {
          int64_t anchor_id = anchor.ColInt(0);
          std::string anchor_hash = anchor.ColText(1);
          if (m.has_body_refs) {
            Stmt del_bodies(m.db,
                            "DELETE FROM bodies WHERE id IN (SELECT request_body_ref FROM records "
                            "WHERE id <= ?1"
                            " AND request_body_ref IS NOT NULL)");
            del_bodies.Int(1, anchor_id);
            if (!del_bodies.ok() || del_bodies.Step() != SQLITE_DONE)
              failed = m.Error("deleting bodies");
          }
          Stmt del(m.db, "DELETE FROM records WHERE id <= ?1");
          del.Int(1, anchor_id);
          if (!failed.ok()) {
            // reported below
          } else if (!del.ok() || del.Step() != SQLITE_DONE) {
            failed = m.Error("deleting records");
          } else {
            deleted = sqlite3_changes(m.db);
            failed = m.SetMeta("anchor_id", std::to_string(anchor_id));
            if (failed.ok()) failed = m.SetMeta("anchor_hash", anchor_hash);
          }
        }
      }
    }
  }
  if (!failed.ok()) {
    m.Rollback();
    return failed;
  }
  if (Status s = m.Exec("COMMIT"); !s.ok()) {
    m.Rollback();
    return s;
  }
  if (Status s = m.PruneBodies(); !s.ok()) return s;
  return deleted;
}

}  // namespace glassbox::gate
