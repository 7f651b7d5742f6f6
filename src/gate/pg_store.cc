// The PostgreSQL back-end of LogStore: a fleet of gate replicas on one
// database. libpq's C API is used directly (Debian's libpq-dev): the store
// needs a handful of parameterized statements, single-row streaming for the
// readers and binary parameters for bodies, all plain in libpq; libpqxx
// would add a C++ dependency and exceptions to catch at every call.
//
// Schema (versioned in gb_schema, created and upgraded by a writer at open
// under an advisory lock, checked by every opener):
//   1: gb_records (one row per record, primary key (replica, id): each
//      replica appends to its own chain, so appends never contend on one
//      head) and gb_anchors (each chain's retention anchor);
//   2: gb_budget (spend per user and day/month), gb_reserved (what each
//      replica's exchanges in flight hold) and the functions gb_reserve and
//      gb_settle that take and release reservations in one statement;
//   3: gb_bodies (large request bodies stored ahead of their records, while
//      the upstream answers: PgStore::TakeRequestBody);
//   4: gb_lease (budget leases: PgBudgets::Reserve).
//
// A writer holds a session advisory lock on its replica's name, so two gates
// started with the same name cannot fork one chain; the lock goes with the
// session (a killed gate's lock is released by the server). A writer's chain
// head lives in memory. Records go out on two "lanes" (connections), each
// with at most one group of records in flight (behind any bodies stored
// ahead on it), sent in pipeline mode and answered to the lane's thread:
// with durability normal a record counts as appended once its group is sent
// (PgStore::Lane, docs/gate.md).
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <cstdio>
#include <cstring>
#include <map>

#include "core/locate.h"
#include "gate/libpq.h"
#include "gate/store.h"

namespace glassbox::gate {
namespace {

constexpr int kSchemaVersion = 4;
// Records per INSERT statement (19 parameters each, under libpq's 65535).
constexpr size_t kRowsPerInsert = 1000;
// Connections a writer sends records on, each with at most one group of
// records in flight (PgStore::Lane).
constexpr int kLanes = 2;

const char* const kMigrations[] = {
    // 1: the log.
    R"sql(
CREATE TABLE gb_records (
  replica text NOT NULL, id bigint NOT NULL, time text NOT NULL,
  user_name text NOT NULL, agent text NOT NULL, upstream text NOT NULL, model text NOT NULL,
  method text NOT NULL, path text NOT NULL, status bigint NOT NULL, latency_ms bigint NOT NULL,
  input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, findings text NOT NULL,
  request_body bytea, response_body bytea,
  request_sha256 text NOT NULL, response_sha256 text NOT NULL,
  prev_hash text NOT NULL, record_hash text NOT NULL,
  PRIMARY KEY (replica, id));
CREATE INDEX gb_records_time ON gb_records (time);
-- lz4 compresses a 100 KB body in a fraction of pglz's time; a server built
-- without lz4 keeps its default.
DO $$ BEGIN
  ALTER TABLE gb_records ALTER COLUMN request_body SET COMPRESSION lz4,
    ALTER COLUMN response_body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
CREATE TABLE gb_anchors (replica text PRIMARY KEY, anchor_id bigint NOT NULL, anchor_hash text NOT NULL);
)sql",
    // 2: shared budgets.
    R"sql(
CREATE TABLE gb_budget (
  user_name text NOT NULL, kind "char" NOT NULL, period bigint NOT NULL,
  spent_tokens bigint NOT NULL DEFAULT 0, spent_usd double precision NOT NULL DEFAULT 0,
  unpriced bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_name, kind, period));
CREATE TABLE gb_reserved (
  user_name text NOT NULL, kind "char" NOT NULL, period bigint NOT NULL, replica text NOT NULL,
  tokens bigint NOT NULL DEFAULT 0, usd double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (user_name, kind, period, replica));
-- Refused when spend plus what every replica holds reaches a cap; else the
-- estimate is held for p_replica. The user's two budget rows are locked in a
-- fixed order (day, then month) for this statement only.
CREATE FUNCTION gb_reserve(p_user text, p_replica text, p_day bigint, p_month bigint,
    p_tokens bigint, p_usd double precision,
    cap_dt bigint, cap_du double precision, cap_mt bigint, cap_mu double precision,
    OUT allowed boolean, OUT budget text, OUT used double precision, OUT held boolean)
LANGUAGE plpgsql AS $$
DECLARE
  dt bigint; du double precision; mt bigint; mu double precision;
  rdt bigint; rdu double precision; rmt bigint; rmu double precision;
BEGIN
  INSERT INTO gb_budget (user_name, kind, period) VALUES (p_user, 'd', p_day), (p_user, 'm', p_month)
    ON CONFLICT DO NOTHING;
  SELECT spent_tokens, spent_usd INTO dt, du FROM gb_budget
    WHERE user_name = p_user AND kind = 'd' AND period = p_day FOR UPDATE;
  SELECT spent_tokens, spent_usd INTO mt, mu FROM gb_budget
    WHERE user_name = p_user AND kind = 'm' AND period = p_month FOR UPDATE;
  SELECT coalesce(sum(tokens), 0), coalesce(sum(usd), 0) INTO rdt, rdu FROM gb_reserved
    WHERE user_name = p_user AND kind = 'd' AND period = p_day;
  SELECT coalesce(sum(tokens), 0), coalesce(sum(usd), 0) INTO rmt, rmu FROM gb_reserved
    WHERE user_name = p_user AND kind = 'm' AND period = p_month;
  held := rmt > 0 OR rmu > 0;
  allowed := false;
  IF cap_dt IS NOT NULL AND dt + rdt >= cap_dt THEN budget := 'daily_tokens'; used := dt + rdt; RETURN; END IF;
  IF cap_du IS NOT NULL AND du + rdu >= cap_du THEN budget := 'daily_usd'; used := du + rdu; RETURN; END IF;
  IF cap_mt IS NOT NULL AND mt + rmt >= cap_mt THEN budget := 'monthly_tokens'; used := mt + rmt; RETURN; END IF;
  IF cap_mu IS NOT NULL AND mu + rmu >= cap_mu THEN budget := 'monthly_usd'; used := mu + rmu; RETURN; END IF;
  allowed := true; budget := ''; used := 0;
  INSERT INTO gb_reserved (user_name, kind, period, replica, tokens, usd)
    VALUES (p_user, 'd', p_day, p_replica, p_tokens, p_usd), (p_user, 'm', p_month, p_replica, p_tokens, p_usd)
    ON CONFLICT (user_name, kind, period, replica) DO UPDATE
    SET tokens = gb_reserved.tokens + EXCLUDED.tokens, usd = gb_reserved.usd + EXCLUDED.usd;
END $$;
-- Adds the spend (budget rows first, the order gb_reserve locks in), then
-- releases the reservation.
CREATE FUNCTION gb_settle(p_user text, p_replica text, r_day bigint, r_month bigint,
    r_tokens bigint, r_usd double precision,
    p_day bigint, p_month bigint, p_tokens bigint, p_usd double precision) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_tokens > 0 OR p_usd IS NULL OR p_usd > 0 THEN
    INSERT INTO gb_budget (user_name, kind, period, spent_tokens, spent_usd, unpriced)
      VALUES (p_user, 'd', p_day, p_tokens, coalesce(p_usd, 0), CASE WHEN p_usd IS NULL THEN 1 ELSE 0 END),
             (p_user, 'm', p_month, p_tokens, coalesce(p_usd, 0), CASE WHEN p_usd IS NULL THEN 1 ELSE 0 END)
      ON CONFLICT (user_name, kind, period) DO UPDATE
      SET spent_tokens = gb_budget.spent_tokens + EXCLUDED.spent_tokens,
          spent_usd = gb_budget.spent_usd + EXCLUDED.spent_usd,
          unpriced = gb_budget.unpriced + EXCLUDED.unpriced;
  END IF;
  IF r_tokens > 0 OR r_usd > 0 THEN
    UPDATE gb_reserved SET tokens = greatest(0, tokens - r_tokens), usd = greatest(0, usd - r_usd)
      WHERE user_name = p_user AND replica = p_replica
        AND ((kind = 'd' AND period = r_day) OR (kind = 'm' AND period = r_month));
  END IF;
END $$;
)sql",
    // 3: request bodies stored ahead of their records, while the upstream
    // answers (PgStore::StoreRequestBody).
    R"sql(
CREATE TABLE gb_bodies (replica text NOT NULL, id bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (replica, id));
DO $$ BEGIN
  ALTER TABLE gb_bodies ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
ALTER TABLE gb_records ADD COLUMN request_body_at bigint;
)sql",
    // 4: budget leases (PgBudgets::Reserve): a replica holds a slice of a
    // user's remaining budget and admits exchanges from it without a round
    // trip. Releases what the replica's last lease has left, then, as
    // gb_reserve, refuses when spend plus every replica's holdings reach a
    // cap; else grants up to want_* but never past a cap's remainder -- only
    // the asking exchange's own estimate (min_*) may pass it, so the fleet
    // overshoots a cap by at most one exchange, as with gb_reserve.
    R"sql(
CREATE FUNCTION gb_lease(p_user text, p_replica text, p_day bigint, p_month bigint,
    rel_tokens bigint, rel_usd double precision,
    want_tokens bigint, want_usd double precision, min_tokens bigint, min_usd double precision,
    cap_dt bigint, cap_du double precision, cap_mt bigint, cap_mu double precision,
    OUT allowed boolean, OUT budget text, OUT used double precision, OUT held boolean,
    OUT granted_tokens bigint, OUT granted_usd double precision)
LANGUAGE plpgsql AS $$
DECLARE
  dt bigint; du double precision; mt bigint; mu double precision;
  rdt bigint; rdu double precision; rmt bigint; rmu double precision;
  rem_t bigint; rem_u double precision;
BEGIN
  INSERT INTO gb_budget (user_name, kind, period) VALUES (p_user, 'd', p_day), (p_user, 'm', p_month)
    ON CONFLICT DO NOTHING;
  SELECT spent_tokens, spent_usd INTO dt, du FROM gb_budget
    WHERE user_name = p_user AND kind = 'd' AND period = p_day FOR UPDATE;
  SELECT spent_tokens, spent_usd INTO mt, mu FROM gb_budget
    WHERE user_name = p_user AND kind = 'm' AND period = p_month FOR UPDATE;
  IF rel_tokens > 0 OR rel_usd > 0 THEN
    UPDATE gb_reserved SET tokens = greatest(0, tokens - rel_tokens), usd = greatest(0, usd - rel_usd)
      WHERE user_name = p_user AND replica = p_replica
        AND ((kind = 'd' AND period = p_day) OR (kind = 'm' AND period = p_month));
  END IF;
  SELECT coalesce(sum(tokens), 0), coalesce(sum(usd), 0) INTO rdt, rdu FROM gb_reserved
    WHERE user_name = p_user AND kind = 'd' AND period = p_day;
  SELECT coalesce(sum(tokens), 0), coalesce(sum(usd), 0) INTO rmt, rmu FROM gb_reserved
    WHERE user_name = p_user AND kind = 'm' AND period = p_month;
  held := rmt > 0 OR rmu > 0;
  allowed := false; granted_tokens := 0; granted_usd := 0;
  IF cap_dt IS NOT NULL AND dt + rdt >= cap_dt THEN budget := 'daily_tokens'; used := dt + rdt; RETURN; END IF;
  IF cap_du IS NOT NULL AND du + rdu >= cap_du THEN budget := 'daily_usd'; used := du + rdu; RETURN; END IF;
  IF cap_mt IS NOT NULL AND mt + rmt >= cap_mt THEN budget := 'monthly_tokens'; used := mt + rmt; RETURN; END IF;
  IF cap_mu IS NOT NULL AND mu + rmu >= cap_mu THEN budget := 'monthly_usd'; used := mu + rmu; RETURN; END IF;
  rem_t := least(cap_dt - (dt + rdt), cap_mt - (mt + rmt));  -- NULL without a token cap
  rem_u := least(cap_du - (du + rdu), cap_mu - (mu + rmu));
  granted_tokens := CASE WHEN rem_t IS NULL THEN min_tokens ELSE greatest(least(want_tokens, rem_t), min_tokens) END;
  granted_usd := CASE WHEN rem_u IS NULL THEN min_usd ELSE greatest(least(want_usd, rem_u), min_usd) END;
  allowed := true; budget := ''; used := 0;
  INSERT INTO gb_reserved (user_name, kind, period, replica, tokens, usd)
    VALUES (p_user, 'd', p_day, p_replica, granted_tokens, granted_usd),
           (p_user, 'm', p_month, p_replica, granted_tokens, granted_usd)
    ON CONFLICT (user_name, kind, period, replica) DO UPDATE
    SET tokens = gb_reserved.tokens + EXCLUDED.tokens, usd = gb_reserved.usd + EXCLUDED.usd;
END $$;
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

constexpr const char* kRecordColumns =
    "replica, id, time, user_name, agent, upstream, model, method, path, status, latency_ms, "
    "input_tokens, "
    "output_tokens, findings, request_body, response_body, request_sha256, response_sha256, "
    "prev_hash, record_hash, "
    "request_body_at";
constexpr int kRecordParams = 21;
// For readers: a body stored ahead is read through its reference.
constexpr const char* kSelectColumns =
    "r.replica, r.id, r.time, r.user_name, r.agent, r.upstream, r.model, r.method, r.path, "
    "r.status, r.latency_ms, "
    "r.input_tokens, r.output_tokens, r.findings, coalesce(r.request_body, b.body), "
    "r.response_body, "
    "r.request_sha256, r.response_sha256, r.prev_hash, r.record_hash, r.request_body_at";
constexpr const char* kSelectFrom =
    " FROM gb_records r LEFT JOIN gb_bodies b ON b.replica = r.replica AND b.id = "
    "r.request_body_at";

struct PgResultFree {
  void operator()(PGresult* r) const { Pq().clear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

// Statement parameters without copies: each value points at bytes that
// outlive the call (integers are kept in `owned`).
class Params {
 public:
  Params() = default;
  Params(const Params&) = delete;  // values point into owned_
  Params& operator=(const Params&) = delete;
  Params(Params&&) = default;  // a deque's elements keep their addresses
  Params& operator=(Params&&) = default;
  void Text(std::string_view v) { Add(v.data(), v.size(), 0); }
  void Bytes(const std::optional<std::string>& v) {
    if (!v) return Null();
    Add(v->data(), v->size(), 1);
  }
  // (Not an overload of Bytes: a std::string would convert to a temporary
  // optional, and the parameter would point into it.)
  void BytesOf(const std::string& v) { Add(v.data(), v.size(), 1); }
  void Int(int64_t v) {
    owned_.push_back(std::to_string(v));
    Add(owned_.back().data(), owned_.back().size(), 0);
  }
  void Double(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    owned_.emplace_back(buf, end);
    Add(owned_.back().data(), owned_.back().size(), 0);
  }
  template <class T>
  void Opt(const std::optional<T>& v) {
    if (!v) return Null();
    if constexpr (std::is_floating_point_v<T>) {
      Double(*v);
    } else {
      Int(static_cast<int64_t>(*v));
    }
  }
  void Null() { Add(nullptr, 0, 0); }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Add(const char* p, size_t n, int format) {
    // A text parameter needs a terminated string; string_views given here
    // come from std::string (terminated), integers from `owned_`.
    values_.push_back(p == nullptr ? nullptr : (n == 0 ? "" : p));
    lengths_.push_back(static_cast<int>(n));
    formats_.push_back(format);
  }
  std::deque<std::string> owned_;  // stable addresses
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

int64_t ToInt(const char* s) {
  int64_t v = 0;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

// A bytea column in text form ("\x" and hex) as its bytes.
std::optional<std::string> ToBytes(PGresult* r, int row, int col) {
  if (Pq().getisnull(r, row, col)) return std::nullopt;
  const char* s = Pq().getvalue(r, row, col);
  const int n = Pq().getlength(r, row, col);
  if (n < 2 || s[0] != '\\' || s[1] != 'x') return std::string(s, static_cast<size_t>(n));
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out(static_cast<size_t>(n - 2) / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nibble(s[2 + 2 * i]) << 4 | nibble(s[3 + 2 * i]));
  }
  return out;
}

AuditRecord ReadRecord(PGresult* r, int row) {
  AuditRecord a;
  auto text = [&](int col) {
    return std::string(Pq().getvalue(r, row, col),
                       static_cast<size_t>(Pq().getlength(r, row, col)));
  };
  a.replica = text(0);
  a.id = ToInt(Pq().getvalue(r, row, 1));
  a.time = text(2);
  a.user = text(3);
  a.agent = text(4);
  a.upstream = text(5);
  a.model = text(6);
  a.method = text(7);
  a.path = text(8);
  a.status = ToInt(Pq().getvalue(r, row, 9));
  a.latency_ms = ToInt(Pq().getvalue(r, row, 10));
  a.input_tokens = ToInt(Pq().getvalue(r, row, 11));
  a.output_tokens = ToInt(Pq().getvalue(r, row, 12));
  a.findings = text(13);
  a.request_body = ToBytes(r, row, 14);
  a.response_body = ToBytes(r, row, 15);
  a.request_sha256 = text(16);
  a.response_sha256 = text(17);
  a.prev_hash = text(18);
  a.record_hash = text(19);
  if (!Pq().getisnull(r, row, 20)) a.request_body_at = ToInt(Pq().getvalue(r, row, 20));
  return a;
}

// Whether the store answered lately; shared by the log's connection and the
// budget pool, watched by the gateway (Available) and a probe thread.
struct Health {
  std::atomic<bool> up{true};
  // When a lane last read a commit (steady_clock ticks): the server is
  // known to answer, so the probe need not connect to ask (PgStore::Probe).
  std::atomic<int64_t> last_commit{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
};

// One connection that reconnects: after a failure the next Exec connects
// again (at most every kRetry), and runs `on_connect` (session set-up).
class PgConn {
 public:
  PgConn(std::string conninfo, std::string shown, std::shared_ptr<Health> health,
         std::function<Status(PgConn&)> on_connect)
      : conninfo_(std::move(conninfo)),
        shown_(std::move(shown)),
        health_(std::move(health)),
        on_connect_(std::move(on_connect)) {}
  ~PgConn() {
    if (conn_ != nullptr) Pq().finish(conn_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  Status Connect() {
    if (conn_ != nullptr) Pq().finish(conn_);
    conn_ = nullptr;
    generation_.fetch_add(1);
    syncs_sent_ = syncs_read_ = 0;
    answer_ = Status::Ok();
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {conninfo_.c_str(), "3", "glassbox-gate", nullptr};
    conn_ = Pq().connectdbParams(keys, values, /*expand_dbname=*/1);
    if (conn_ != nullptr)
      Pq().setNoticeProcessor(
          conn_, [](void*, const char*) {}, nullptr);  // not for stderr
    if (conn_ == nullptr || Pq().status(conn_) != CONNECTION_OK) {
      Status failed = Status::Unavailable(shown_ + ": cannot connect: " + Message());
      MarkDown();
      last_connect_failure_ = std::chrono::steady_clock::now();
      return failed;
    }
    if (on_connect_) {
      if (Status s = on_connect_(*this); !s.ok()) {
        Pq().finish(conn_);
        conn_ = nullptr;
        return s;
      }
    }
    health_->up.store(true);
    return Status::Ok();
  }

  // Runs `sql` (one statement) and returns its result; an error names the
  // store and PostgreSQL's reason. Reconnects first when the last call lost
  // the connection.
  Result<PgResult> Exec(const char* sql, const Params& params = Params()) {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    PgResult r(Pq().execParams(conn_, sql, params.size(), nullptr, params.values(),
                               params.lengths(), params.formats(), 0));
    return Check(std::move(r));
  }
  // Runs several statements (the schema's migrations): the simple-query
  // protocol, no parameters.
  Status Script(const char* sql) {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    auto r = Check(PgResult(Pq().exec(conn_, sql)));
    return r.ok() ? Status::Ok() : r.status();
  }
  Status Run(const char* sql, const Params& params = Params()) {
    auto r = Exec(sql, params);
    return r.ok() ? Status::Ok() : r.status();
  }

  // Streams the rows of `sql` one at a time (libpq's single-row mode) until
  // `row` returns false (the query is then cancelled).
  Status Stream(const std::string& sql, const Params& params,
                const std::function<bool(PGresult*)>& row) {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    if (Pq().sendQueryParams(conn_, sql.c_str(), params.size(), nullptr, params.values(),
                             params.lengths(), params.formats(), 0) != 1 ||
        Pq().setSingleRowMode(conn_) != 1) {
      Status failed = Status::WithCode(LostCode(), shown_ + ": " + Message());
      Drain();
      LostConnection();
      return failed;
    }
    Status result = Status::Ok();
    bool stop = false;
    for (;;) {
      PgResult r(Pq().getResult(conn_));
      if (!r) break;
      const ExecStatusType st = Pq().resultStatus(r.get());
      if (st == PGRES_SINGLE_TUPLE) {
        if (!stop && !row(r.get())) {
          stop = true;
          if (PGcancel* cancel = Pq().getCancel(conn_)) {
            char err[256];
            Pq().cancel(cancel, err, sizeof(err));
            Pq().freeCancel(cancel);
          }
        }
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !stop && result.ok()) {
        result = Status::Error(shown_ + ": " + Pq().resultErrorMessage(r.get()));
      }
    }
    LostConnection();
    if (!result.ok() && result.code() == StatusCode::kUnknown)
      return Status::WithCode(LostCode(), result.message());
    return result;
  }

  // One statement of a pipeline (SendPipeline).
  struct Statement {
    std::string sql;       // or, when `prepared` is set, that statement's
    std::string prepared;  // name (prepared on this connection)
    Params params;
  };
  // Prepares `sql` as `name` for this session.
  Status Prepare(const char* name, const std::string& sql) {
    return Check(PgResult(Pq().prepare(conn_, name, sql.c_str(), 0, nullptr))).status();
  }
  // Sends `statements` in pipeline mode (libpq 14+) as one implicit
  // transaction (one Sync), without waiting for the answer: ReadPipeline
  // reads it. Groups sent before whose answers are not read yet stay
  // ahead of it (the server runs them in order). On a failure to send the
  // connection is dropped, so a part of the group can never be committed
  // (no Sync reached the server). `may_reconnect`: no group is in flight on
  // this connection, so a lost one may be replaced first.
  Status SendPipeline(const std::vector<Statement>& statements, bool may_reconnect = true) {
    if (may_reconnect) {
      if (Status s = EnsureConnected(); !s.ok()) return s;
    } else if (!Connected()) {
      return Status::Unavailable(shown_ + ": the connection was lost");
    }
    bool sent = Pq().enterPipelineMode(conn_) == 1;
    for (const Statement& st : statements) {
      sent = sent && (st.prepared.empty()
                          ? Pq().sendQueryParams(conn_, st.sql.c_str(), st.params.size(), nullptr,
                                                 st.params.values(), st.params.lengths(),
                                                 st.params.formats(), 0)
                          : Pq().sendQueryPrepared(conn_, st.prepared.c_str(), st.params.size(),
                                                   st.params.values(), st.params.lengths(),
                                                   st.params.formats(), 0)) == 1;
    }
    sent = sent && Pq().pipelineSync(conn_) == 1 && Pq().flush(conn_) == 0;
    // Sending may have read a reader's answer into libpq's buffer (libpq
    // reads while its send would block), or dropped the connection.
    WakeReader();
    if (sent) {
      ++syncs_sent_;
      return Status::Ok();
    }
    Status failed = Status::Unavailable(shown_ + ": " + Message());
    MarkDown();
    Drop();
    return failed;
  }
  // Reads the answer to the oldest group SendPipeline sent: Ok once it
  // committed; an error of code kUnavailable when the connection went (the
  // group may or may not have committed) or is no longer the one of
  // `generation` (the group was sent on a connection since replaced), else
  // the server's refusal (nothing of the group committed). `mu` guards the
  // connection: it is held only while libpq is called, never while waiting
  // for the server, so another thread may send groups meanwhile.
  Status ReadPipeline(std::mutex& mu, uint64_t generation) {
    std::unique_lock lock(mu);
    for (;;) {
      bool done = false;
      Status st = ReadAvailable(generation, &done);
      if (done) return st;
      // Wait for the server without the lock, or for a sender: one that
      // read our answer into libpq's buffer while it flushed leaves the
      // socket quiet, so it wakes us (WakeReader); the timeout is a backstop.
      pollfd p[2] = {{Pq().socket(conn_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      reader_waiting_.store(true);
      lock.unlock();
      (void)::poll(p, wake_fd_ >= 0 ? 2 : 1, 20);
      reader_waiting_.store(false);
      if (wake_fd_ >= 0 && (p[1].revents & POLLIN) != 0) {
        uint64_t count = 0;
        (void)!::read(wake_fd_, &count, sizeof count);
      }
      lock.lock();
    }
  }
  // Reads what has arrived of the oldest group's answer, without waiting
  // (the caller holds the connection's lock). Sets *done once the group is
  // answered whole, and then returns what ReadPipeline would; else more is
  // to come, and what was read so far is kept for the next call (of either).
  Status ReadAvailable(uint64_t generation, bool* done) {
    *done = true;
    if (conn_ == nullptr || generation_.load() != generation)
      return Status::Unavailable(shown_ + ": the connection was lost");
    if (Pq().consumeInput(conn_) == 1) {
      int empty = 0;
      while (Pq().isBusy(conn_) == 0) {
        PgResult r(Pq().getResult(conn_));
        if (!r) {
          // Between two statements' results; a lost connection ends here.
          if (Pq().status(conn_) != CONNECTION_OK || ++empty > 1000) break;
          continue;
        }
        empty = 0;
        const ExecStatusType st = Pq().resultStatus(r.get());
        if (st == PGRES_PIPELINE_SYNC) {
          // The last group answered: out of pipeline mode, for plain
          // statements (a resend's check).
          if (++syncs_read_ == syncs_sent_) Pq().exitPipelineMode(conn_);
          return std::exchange(answer_, Status::Ok());
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && answer_.ok()) {
          std::string why = Pq().resultErrorMessage(r.get());
          while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
          answer_ = Status::Error(shown_ + ": " + (why.empty() ? "the pipeline was aborted" : why));
        }
      }
      if (Pq().status(conn_) == CONNECTION_OK && empty <= 1000) {
        *done = false;
        return Status::Ok();
      }
    }
    Status lost = Status::Unavailable(shown_ + ": the connection was lost: " + Message());
    MarkDown();
    Drop();
    return lost;
  }
  // Closes the connection; the next call connects again.
  void Drop() {
    if (conn_ != nullptr) Pq().finish(conn_);
    conn_ = nullptr;
    generation_.fetch_add(1);
    answer_ = Status::Ok();
    WakeReader();
  }
  // Wakes a thread waiting in ReadPipeline (called with the connection's
  // lock held, so a reader sets reader_waiting_ before a sender can look).
  void WakeReader() {
    if (wake_fd_ < 0 || !reader_waiting_.load()) return;
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  // Counts the connections made and lost: a group remembers the one it was
  // sent on.
  uint64_t generation() const { return generation_.load(); }

  bool Connected() const { return conn_ != nullptr && Pq().status(conn_) == CONNECTION_OK; }
  PGconn* raw() { return conn_; }
  const std::string& shown() const { return shown_; }

 private:
  std::string Message() const {
    std::string m = conn_ != nullptr ? Pq().errorMessage(conn_) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
  void MarkDown() {
    if (health_->up.exchange(false)) {
      std::lock_guard lock(health_->mu);
      health_->cv.notify_all();
    }
  }
  Status EnsureConnected() {
    // A connection the server closed while it was idle (a restart sends a
    // FATAL and closes) is noticed here, by a non-blocking read, and
    // replaced, instead of failing the next statement.
    // (Twice: the first read may return the server's farewell message,
    // the second its end of stream.)
    if (Connected() && Pq().consumeInput(conn_) == 1 && Pq().consumeInput(conn_) == 1 &&
        Pq().status(conn_) == CONNECTION_OK) {
      return Status::Ok();
    }
    if (conn_ != nullptr && Pq().status(conn_) != CONNECTION_OK && health_->up.load()) {
      last_connect_failure_ = {};  // the server answers again: reconnect at once
    }
    // A lost connection is replaced at once; only a failed attempt to
    // connect waits kRetry before the next.
    constexpr auto kRetry = std::chrono::milliseconds(100);
    if (conn_ != nullptr && std::chrono::steady_clock::now() - last_connect_failure_ < kRetry) {
      return Status::Unavailable(shown_ + ": the database is unreachable: " + Message());
    }
    return Connect();
  }
  void Drain() {
    while (PGresult* r = Pq().getResult(conn_)) Pq().clear(r);
  }
  void LostConnection() {
    if (conn_ != nullptr && Pq().status(conn_) != CONNECTION_OK) MarkDown();
  }
  // The code of a failed call: kUnavailable when the connection went with
  // it (the server is down or unreachable), else kUnknown.
  StatusCode LostCode() const {
    return conn_ == nullptr || Pq().status(conn_) != CONNECTION_OK ? StatusCode::kUnavailable
                                                                   : StatusCode::kUnknown;
  }
  Result<PgResult> Check(PgResult r) {
    const ExecStatusType st = r ? Pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    std::string why = r ? Pq().resultErrorMessage(r.get()) : Message();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    LostConnection();
    return Status::WithCode(LostCode(), shown_ + ": " + why);
  }

  std::string conninfo_;
  std::string shown_;
  std::shared_ptr<Health> health_;
  std::function<Status(PgConn&)> on_connect_;
  PGconn* conn_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  int wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // ReadPipeline's wake-up
  std::atomic<bool> reader_waiting_{false};
  uint64_t syncs_sent_ = 0, syncs_read_ = 0;  // groups on this connection
  Status answer_;                             // the oldest group's answer so far (ReadAvailable)
  std::chrono::steady_clock::time_point last_connect_failure_{};
};

// Splits our own `replica=NAME` out of a URL's query (libpq rejects
// parameters it does not know).
std::string SplitReplica(const std::string& url, std::string* replica) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::string kept;
  size_t start = q + 1;
  while (start <= url.size()) {
    size_t end = url.find('&', start);
    if (end == std::string::npos) end = url.size();
    std::string_view part(url.data() + start, end - start);
    if (part.starts_with("replica=")) {
      *replica = std::string(part.substr(8));
    } else if (!part.empty()) {
      kept += kept.empty() ? "" : "&";
      kept += part;
    }
    start = end + 1;
  }
  return url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
}

// A settlement waiting to be applied (SharedBudgets::Settle's arguments).
struct PendingSettle {
  std::string user;
  int64_t reserved_day, reserved_month;
  uint64_t reserved_tokens;
  double reserved_usd;
  int64_t day, month;
  uint64_t tokens;
  std::optional<double> usd;
  std::chrono::steady_clock::time_point queued_at = std::chrono::steady_clock::now();
};

// The SQL of a statement applying n settlements in order (one call of
// gb_settle each, 10 parameters each).
std::string SettleSql(size_t n) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < n; ++i) {
    sql += i ? ", gb_settle(" : "gb_settle(";
    for (size_t k = 0; k < 10; ++k) {
      sql +=
          (k ? ", $" : "$") + std::to_string(i * 10 + k + 1) + (k == 5 || k == 9 ? "::float8" : "");
    }
    sql += ")";
  }
  return sql;
}

// The SQL inserting n records (kRecordParams parameters each).
std::string InsertSql(size_t n) {
  std::string sql = std::string("INSERT INTO gb_records (") + kRecordColumns + ") VALUES ";
  for (size_t i = 0; i < n; ++i) {
    sql += i ? ",(" : "(";
    for (int k = 0; k < kRecordParams; ++k)
      sql += (k ? ",$" : "$") + std::to_string(i * kRecordParams + k + 1);
    sql += ")";
  }
  return sql;
}

// The statements a lane prepares when it connects (the common groups: one
// record, one settlement).
constexpr const char* kInsertOne = "gb_insert1";
constexpr const char* kBodyOne = "gb_body1";  // a body stored ahead
constexpr const char* kInsertBody = "INSERT INTO gb_bodies (replica, id, body) VALUES ($1, $2, $3)";
constexpr const char* kSettleOne = "gb_settle1";

// One statement applying `settles` in order; `prepared`: on a connection
// that prepared kSettleOne.
PgConn::Statement SettleStatement(const std::deque<PendingSettle>& settles,
                                  const std::string& replica, bool prepared) {
  PgConn::Statement st;
  if (prepared && settles.size() == 1) {
    st.prepared = kSettleOne;
  } else {
    st.sql = SettleSql(settles.size());
  }
  for (const PendingSettle& s : settles) {
    st.params.Text(s.user);
    st.params.Text(replica);
    st.params.Int(s.reserved_day);
    st.params.Int(s.reserved_month);
    st.params.Int(static_cast<int64_t>(s.reserved_tokens));
    st.params.Double(s.reserved_usd);
    st.params.Int(s.day);
    st.params.Int(s.month);
    st.params.Int(static_cast<int64_t>(s.tokens));
    st.params.Opt(s.usd);
  }
  return st;
}

class PgBudgets final : public SharedBudgets {
 public:
  PgBudgets(std::string conninfo, std::string shown, std::string replica,
            std::shared_ptr<Health> health, std::chrono::milliseconds lease_idle)
      : lease_idle_(lease_idle),
        conninfo_(std::move(conninfo)),
        shown_(std::move(shown)),
        replica_(std::move(replica)),
        health_(std::move(health)) {}

  // Admission from this replica's lease on the user's budget: without a
  // round trip while the lease covers the exchange's estimate in every
  // capped unit; else one call of gb_lease gives back what is left of the
  // lease and takes a new one (up to kLeaseExchanges estimates, never past
  // a cap but for the asking exchange itself) or refuses. The estimate
  // stays held in gb_reserved until Settle releases it, as a reservation
  // does; a lease unused for lease_idle_ is given back by the settle thread.
  Result<SharedReserveResult> Reserve(std::string_view user, int64_t day, int64_t month,
                                      uint64_t tokens, double usd,
                                      const BudgetCaps& caps) override {
    const bool capped_tokens = caps.daily_tokens || caps.monthly_tokens;
    const bool capped_usd = caps.daily_usd || caps.monthly_usd;
    LeaseCall call{std::string(user), day, month, caps};
    call.want_tokens = tokens * kLeaseExchanges;
    call.want_usd = usd * kLeaseExchanges;
    call.min_tokens = tokens;
    call.min_usd = usd;
    {
      std::lock_guard lock(lease_mu_);
      Lease& lease = leases_[call.user];
      if (lease.Covers(day, month, caps)) {
        if ((!capped_tokens || lease.tokens >= tokens) && (!capped_usd || lease.usd >= usd)) {
          lease.tokens -= std::min(lease.tokens, tokens);
          lease.usd = std::max(0.0, lease.usd - usd);
          lease.last_use = std::chrono::steady_clock::now();
          // Half spent: a larger lease is asked for in the background, so
          // the next exchanges find it without waiting.
          if (!lease.topping_up && ((capped_tokens && lease.tokens < call.want_tokens / 2) ||
                                    (capped_usd && lease.usd < call.want_usd / 2))) {
            lease.topping_up = true;
            LeaseCall top_up = call;
            top_up.min_tokens = 0;
            top_up.min_usd = 0;
            QueueTopUp(std::move(top_up));
          }
          return SharedReserveResult{};
        }
        call.give_back_tokens = lease.tokens;  // released by gb_lease below
        call.give_back_usd = lease.usd;
      } else {
        GiveBack(call.user, lease);  // another day, month or caps
      }
      lease = Lease{};
    }
    auto conn = Take();
    auto r = CallLease(*conn, call);
    Give(std::move(conn));
    // On an error the lease given back may or may not be released: it is
    // not used again (at worst held until this replica restarts).
    if (!r.ok()) return r.status();
    if (r->allowed)
      AddToLease(call, r->granted_tokens - std::min(r->granted_tokens, tokens),
                 std::max(0.0, r->granted_usd - usd));
    return r->answer;
  }

  ~PgBudgets() override {
    {
      // No top-up may grant a lease after the leases are given back.
      std::unique_lock lock(settle_mu_);
      top_ups_closed_ = true;
      top_ups_.clear();
      settle_cv_.wait(lock, [&] { return !top_ups_running_; });
    }
    GiveBackIdle(std::chrono::steady_clock::time_point::max());  // every lease
    {
      std::lock_guard lock(settle_mu_);
      settle_stopping_ = true;
    }
    settle_cv_.notify_all();
    if (settle_thread_.joinable()) settle_thread_.join();
  }

  // Queued: the exchange's record takes it into its own transaction
  // (TakeQueued, called by PgStore::AppendBatch), so the spend is committed
  // with the record that shows it, atomically, in the same round trip. A
  // settlement no record takes within kSettleDelay (an exchange that ends
  // without a record) is applied by the settle thread on its own connection.
  Status Settle(std::string_view user, int64_t reserved_day, int64_t reserved_month,
                uint64_t reserved_tokens, double reserved_usd, int64_t day, int64_t month,
                uint64_t tokens, std::optional<double> usd) override {
    bool wake = false;
    {
      std::lock_guard lock(settle_mu_);
      settle_queue_.push_back(PendingSettle{std::string(user), reserved_day, reserved_month,
                                            reserved_tokens, reserved_usd, day, month, tokens,
                                            usd});
      ++settles_queued_;
      if (!settle_thread_.joinable()) settle_thread_ = std::thread([this] { RunSettles(); });
      last_settle_queued_ = std::chrono::steady_clock::now();
      // Only a sleeping settle thread needs waking (RunSettles).
      wake = settle_thread_asleep_;
    }
    if (wake) settle_cv_.notify_all();
    return Status::Ok();
  }

  void Flush() override {
    std::unique_lock lock(settle_mu_);
    const uint64_t want = settles_queued_;
    ++flushing_;  // the settle thread applies what is queued without waiting for it to be due
    settle_cv_.notify_all();
    settle_cv_.wait(lock, [&] { return settles_done_ >= want; });
    --flushing_;
  }

  // Takes every queued settlement for a record's transaction, after the
  // ones the settle thread is applying have been applied.
  std::deque<PendingSettle> TakeQueued() {
    std::unique_lock lock(settle_mu_);
    std::deque<PendingSettle> taken;
    taken.swap(settle_queue_);
    settles_done_ += taken.size();
    const uint64_t want = settles_queued_;
    settle_cv_.wait(lock, [&] { return settles_done_ >= want; });
    return taken;
  }
  // Gives back settlements whose record was not sent (they wait for the
  // next record or the settle thread).
  void Requeue(std::deque<PendingSettle> settles) {
    if (settles.empty()) return;
    {
      std::lock_guard lock(settle_mu_);
      settles_queued_ += settles.size();
      settle_queue_.insert(settle_queue_.begin(), std::make_move_iterator(settles.begin()),
                           std::make_move_iterator(settles.end()));
      if (!settle_thread_.joinable()) settle_thread_ = std::thread([this] { RunSettles(); });
    }
    settle_cv_.notify_all();
  }
  // Settlements lost with a group the server refused.
  void CountFailures(uint64_t n) { failures_.fetch_add(n); }
  uint64_t failures() const override { return failures_.load(); }

  // Wakes the settle thread for the top-ups queued since it last looked
  // (cheap when there are none): off the exchanges' path, after their
  // responses.
  void WakeForTopUps() {
    if (!top_up_wake_.load(std::memory_order_relaxed)) return;
    {
      std::lock_guard lock(settle_mu_);
      if (!top_up_wake_.exchange(false) || top_ups_closed_) return;
      if (!settle_thread_.joinable()) settle_thread_ = std::thread([this] { RunSettles(); });
    }
    settle_cv_.notify_all();
  }

 private:
  // What is left of this replica's lease on one user's budget (held in
  // gb_reserved beside the estimates of exchanges in flight).
  struct Lease {
    int64_t day = -1, month = -1;
    BudgetCaps caps;
    uint64_t tokens = 0;
    double usd = 0;
    std::chrono::steady_clock::time_point last_use{};
    bool topping_up = false;  // a top-up is queued for the settle thread
    bool Covers(int64_t d, int64_t m, const BudgetCaps& c) const {
      return day == d && month == m && caps.daily_tokens == c.daily_tokens &&
             caps.monthly_tokens == c.monthly_tokens && caps.daily_usd == c.daily_usd &&
             caps.monthly_usd == c.monthly_usd;
    }
  };
  static constexpr uint64_t kLeaseExchanges = 8;

  // One call of gb_lease.
  struct LeaseCall {
    std::string user;
    int64_t day, month;
    BudgetCaps caps;
    uint64_t give_back_tokens = 0, want_tokens = 0, min_tokens = 0;
    double give_back_usd = 0, want_usd = 0, min_usd = 0;
  };
  struct LeaseAnswer {
    SharedReserveResult answer;
    bool allowed = false;
    uint64_t granted_tokens = 0;
    double granted_usd = 0;
  };
  Result<LeaseAnswer> CallLease(PgConn& conn, const LeaseCall& c) {
    Params p;
    p.Text(c.user);
    p.Text(replica_);
    p.Int(c.day);
    p.Int(c.month);
    p.Int(static_cast<int64_t>(c.give_back_tokens));
    p.Double(c.give_back_usd);
    p.Int(static_cast<int64_t>(c.want_tokens));
    p.Double(c.want_usd);
    p.Int(static_cast<int64_t>(c.min_tokens));
    p.Double(c.min_usd);
    p.Opt(c.caps.daily_tokens);
    p.Opt(c.caps.daily_usd);
    p.Opt(c.caps.monthly_tokens);
    p.Opt(c.caps.monthly_usd);
    auto r = conn.Exec(
        "SELECT allowed, budget, used, held, granted_tokens, granted_usd FROM gb_lease($1, $2, $3, "
        "$4, $5, "
        "$6::float8, $7, $8::float8, $9, $10::float8, $11, $12::float8, $13, $14::float8)",
        p);
    if (!r.ok()) return r.status();
    LeaseAnswer out;
    PGresult* res = r->get();
    out.allowed = out.answer.allowed = Pq().getvalue(res, 0, 0)[0] == 't';
    out.answer.budget = Pq().getvalue(res, 0, 1);
    out.answer.used = std::strtod(Pq().getvalue(res, 0, 2), nullptr);
    out.answer.held = Pq().getvalue(res, 0, 3)[0] == 't';
    out.granted_tokens = static_cast<uint64_t>(ToInt(Pq().getvalue(res, 0, 4)));
    out.granted_usd = std::strtod(Pq().getvalue(res, 0, 5), nullptr);
    return out;
  }
  // Adds what a lease call granted (beyond the asking exchange's estimate)
  // to the user's lease; a lease of another period or caps by now is given
  // back first.
  void AddToLease(const LeaseCall& c, uint64_t tokens, double usd) {
    std::lock_guard lock(lease_mu_);
    Lease& lease = leases_[c.user];
    if (!lease.Covers(c.day, c.month, c.caps)) {
      GiveBack(c.user, lease);
      lease = Lease{c.day, c.month, c.caps};
    }
    lease.tokens += tokens;
    lease.usd += usd;
    lease.last_use = std::chrono::steady_clock::now();
  }
  // Queues a top-up for the settle thread (lease_mu_ held). The thread is
  // not woken here, inside the exchange's admission: WakeForTopUps does,
  // once the exchange's response is written (PgStore::AfterAcknowledged),
  // or it finds the queue when it next looks on its own. Half the lease
  // is left for the exchanges meanwhile.
  void QueueTopUp(LeaseCall call) {
    std::lock_guard lock(settle_mu_);
    if (top_ups_closed_) return;
    top_ups_.push_back(std::move(call));
    top_up_wake_.store(true);
  }
  // Runs the queued top-ups (settle thread, settle_mu_ not held).
  void RunTopUps(std::deque<LeaseCall> calls) {
    if (!settle_conn_) settle_conn_ = Take();
    for (const LeaseCall& c : calls) {
      auto r = CallLease(*settle_conn_, c);
      if (r.ok() && r->allowed) {
        AddToLease(c, r->granted_tokens, r->granted_usd);
      } else if (!r.ok()) {
        failures_.fetch_add(1);  // (a grant it may have made is held until restart)
      }
      std::lock_guard lock(lease_mu_);
      auto it = leases_.find(c.user);
      if (it != leases_.end()) it->second.topping_up = false;
    }
  }
  static constexpr auto kSettleDelay = std::chrono::milliseconds(20);

  // Queues the release of what `lease` has left (lease_mu_ held).
  void GiveBack(const std::string& user, Lease& lease) {
    if (lease.day < 0 || (lease.tokens == 0 && lease.usd <= 0)) return;
    (void)Settle(user, lease.day, lease.month, lease.tokens, lease.usd, lease.day, lease.month, 0,
                 0.0);
    lease.tokens = 0;
    lease.usd = 0;
  }
  // Gives back every lease last used before `unused_since`.
  void GiveBackIdle(std::chrono::steady_clock::time_point unused_since) {
    std::lock_guard lock(lease_mu_);
    for (auto it = leases_.begin(); it != leases_.end();) {
      if (it->second.last_use < unused_since) {
        GiveBack(it->first, it->second);
        it = leases_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // A pool: one connection per concurrent caller (I/O threads), kept.
  std::unique_ptr<PgConn> Take() {
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        auto c = std::move(free_.back());
        free_.pop_back();
        return c;
      }
    }
    return std::make_unique<PgConn>(conninfo_, shown_, health_, [](PgConn& c) {
      // Budget changes are small and must survive a crash of the server
      // like the records that charge them... but they are re-derivable;
      // asynchronous commit keeps the round trip at network speed.
      return c.Run("SET synchronous_commit = off");
    });
  }
  void Give(std::unique_ptr<PgConn> c) {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(c));
  }

  // Applies the settlements no record took (all that are due, in one
  // statement): each once it has waited kSettleDelay, so a settlement whose
  // record is on its way is left to that record. Gives back leases idle for
  // lease_idle_, checked every lease_idle_.
  //
  // Settle() does not wake this thread: a settlement is queued just before
  // the record that takes it, so a wake-up per exchange (two context
  // switches, measured at 2.5 per exchange) would find nothing to do. While
  // settlements come the thread looks every kSettleDelay instead; after
  // lease_idle_ without one it sleeps until Settle() wakes it
  // (settle_thread_asleep_).
  void RunSettles() {
    using std::chrono::steady_clock;
    std::unique_lock lock(settle_mu_);
    auto next_give_back = steady_clock::now() + lease_idle_;
    for (;;) {
      if (!top_ups_.empty()) {
        std::deque<LeaseCall> calls;
        calls.swap(top_ups_);
        top_up_wake_.store(false);
        top_ups_running_ = true;
        lock.unlock();
        RunTopUps(std::move(calls));
        lock.lock();
        top_ups_running_ = false;
        settle_cv_.notify_all();
        continue;
      }
      if (const auto now = steady_clock::now(); now >= next_give_back && !settle_stopping_) {
        next_give_back = now + lease_idle_;
        lock.unlock();  // lease_mu_ comes first
        GiveBackIdle(now - lease_idle_);
        lock.lock();
        continue;
      }
      if (settle_queue_.empty()) {
        if (settle_stopping_) return;  // nothing left
        const auto now = steady_clock::now();
        settle_thread_asleep_ = now - last_settle_queued_ >= lease_idle_;
        const auto until =
            settle_thread_asleep_ ? next_give_back : std::min(next_give_back, now + kSettleDelay);
        settle_cv_.wait_until(lock, until, [&] {
          return settle_stopping_ || !top_ups_.empty() ||
                 ((settle_thread_asleep_ || flushing_ > 0) && !settle_queue_.empty());
        });
        settle_thread_asleep_ = false;
        continue;
      }
      const auto now = steady_clock::now();
      const auto due = settle_queue_.front().queued_at + kSettleDelay;
      const bool all = settle_stopping_ || flushing_ > 0;
      if (!all && now < due) {
        settle_cv_.wait_until(lock, std::min(due, next_give_back), [&] {
          return settle_stopping_ || flushing_ > 0 || !top_ups_.empty();
        });
        continue;
      }
      std::deque<PendingSettle> batch;
      while (!settle_queue_.empty() &&
             (all || settle_queue_.front().queued_at + kSettleDelay <= now)) {
        batch.push_back(std::move(settle_queue_.front()));
        settle_queue_.pop_front();
      }
      lock.unlock();
      if (!settle_conn_) settle_conn_ = Take();
      PgConn::Statement st = SettleStatement(batch, replica_, /*prepared=*/false);
      Status applied = settle_conn_->Run(st.sql.c_str(), st.params);
      if (!applied.ok()) failures_.fetch_add(batch.size());
      lock.lock();
      settles_done_ += batch.size();
      settle_cv_.notify_all();
    }
  }

  const std::chrono::milliseconds lease_idle_;  // a lease unused this long is given back
  std::atomic<bool> top_up_wake_{false};  // top-ups queued, the settle thread not woken for them
  std::mutex lease_mu_;                   // before settle_mu_ when both are held
  std::map<std::string, Lease, std::less<>> leases_;  // guarded by lease_mu_
  std::string conninfo_, shown_, replica_;
  std::shared_ptr<Health> health_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PgConn>> free_;
  std::unique_ptr<PgConn> settle_conn_;  // the settle thread's
  std::mutex settle_mu_;
  std::condition_variable settle_cv_;
  std::deque<PendingSettle> settle_queue_;                      // guarded by settle_mu_
  uint64_t settles_queued_ = 0, settles_done_ = 0;              // guarded
  bool settle_stopping_ = false;                                // guarded
  bool settle_thread_asleep_ = false;                           // guarded: Settle() must wake it
  int flushing_ = 0;                                            // guarded: Flush() calls waiting
  std::chrono::steady_clock::time_point last_settle_queued_{};  // guarded
  std::deque<LeaseCall> top_ups_;                               // guarded
  bool top_ups_running_ = false, top_ups_closed_ = false;       // guarded
  std::atomic<uint64_t> failures_{0};
  std::thread settle_thread_;
};

// Records (with the settlements of their exchanges) sent as one
// transaction whose answer has not been read yet.
struct ShipGroup {
  std::vector<AuditRecord> records;
  std::deque<PendingSettle> settles;
};

class PgStore final : public LogStore {
 public:
  PgStore(std::string conninfo, std::string shown, std::string replica, LogStore::OpenMode mode,
          LogStore::Options options)
      : conninfo_(std::move(conninfo)),
        shown_(std::move(shown)),
        replica_(std::move(replica)),
        writer_(mode == OpenMode::kCreate),
        options_(options),
        health_(std::make_shared<Health>()) {}

  ~PgStore() override {
    {
      std::lock_guard lock(ship_mu_);
      ship_stopping_ = true;
      ship_cv_.notify_all();
      for (auto& l : lanes_) l->wake.notify_one();
    }
    for (auto& l : lanes_) {
      if (l->reader.joinable()) l->reader.join();
    }
    {
      std::lock_guard lock(health_->mu);
      health_->stopping = true;
      health_->cv.notify_all();
    }
    if (probe_.joinable()) probe_.join();
  }

  Status Open() {
    auto masker = SecretMasker::Create();
    if (!masker.ok()) return masker.status();
    masker_ = std::move(masker.value());
    conn_ = std::make_unique<PgConn>(conninfo_, shown_, health_,
                                     [this](PgConn& c) { return OnConnect(c); });
    if (Status s = conn_->Connect(); !s.ok()) return s;
    if (writer_) {
      for (int i = 0; i < kLanes; ++i) {
        auto lane = std::make_unique<Lane>();
        lane->conn = std::make_unique<PgConn>(conninfo_, shown_, health_, [this](PgConn& c) {
          if (options_.durability == LogDurability::kNormal) {
            if (Status st = c.Run("SET synchronous_commit = off"); !st.ok()) return st;
          }
          Params name;
          const std::string lane_name = LaneName();
          name.Text(lane_name);
          if (Status st = c.Run("SELECT set_config('application_name', $1, false)", name); !st.ok())
            return st;
          if (Status st = c.Prepare(kInsertOne, InsertSql(1)); !st.ok()) return st;
          if (Status st = c.Prepare(kBodyOne, kInsertBody); !st.ok()) return st;
          return c.Prepare(kSettleOne, SettleSql(1));
        });
        lanes_.push_back(std::move(lane));
      }
      budgets_ =
          std::make_shared<PgBudgets>(conninfo_, shown_, replica_, health_, options_.lease_idle);
      probe_ = std::thread([this] { Probe(); });
    }
    return Status::Ok();
  }

  std::string_view Kind() const override { return "postgresql"; }
  std::string Describe() const override { return shown_; }
  bool Available() const override { return health_->up.load(std::memory_order_relaxed); }
  uint64_t RecordsLost() const override { return records_lost_.load(std::memory_order_relaxed); }
  Answers AnswersRead() const override {
    return {answers_by_appends_.load(std::memory_order_relaxed),
            answers_by_threads_.load(std::memory_order_relaxed)};
  }
  std::shared_ptr<SharedBudgets> Budgets() override { return budgets_; }

  // When asked (Options::bodies_ahead, with durability normal), a large
  // request body is stored ahead of its record, while the upstream
  // answers: sent as a group of its own (INSERT INTO gb_bodies) on a lane,
  // without waiting for its answer, and kept here until that answer is
  // read (for a resend after a lost connection). The record that names it
  // is then sent on the same lane, behind it, unless the body's commit has
  // been read already: the server runs a connection's groups in order, so
  // the record never commits before its body. So the client waits for the
  // send of a small record instead of its 100 KB body (docs/gate.md).
  bool StoresBodiesAhead() const override {
    return writer_ && options_.bodies_ahead && options_.durability == LogDurability::kNormal;
  }
  Result<StoredBody> StoreRequestBody(std::string_view body, bool screened,
                                      std::string sha256) override {
    std::string copy(body);
    return TakeRequestBody(&copy, screened, std::move(sha256));
  }
  Result<StoredBody> TakeRequestBody(std::string* body, bool screened,
                                     std::string sha256) override {
    if (!StoresBodiesAhead()) return LogStore::StoreRequestBody(*body, screened, sha256);
    if (!health_->up.load()) return Status::Unavailable(shown_ + ": the database is unreachable");
    if (body_last_ < 0) {
      if (Status s = LoadLastBody(); !s.ok()) return s;
    }
    std::string masked;
    const std::string* stored = body;
    if (!screened || sha256.size() != 64) {
      masked = *body;
      if (!screened) {
        if (Status s = masker_->Mask(&masked); !s.ok()) return s;
      }
      sha256 = Sha256Hex(masked);
      stored = &masked;
    }
    const int64_t id = body_last_ + 1;
    std::unique_lock lock(ship_mu_);
    Lane* lane = LaneForBody();
    if (lane == nullptr) {
      TakeAnswersLocked();
      lane = LaneForBody();
    }
    if (lane == nullptr) {
      return Status::Unavailable(shown_ +
                                 ": every lane is busy or reconnecting; the body goes into its "
                                 "record");
    }
    std::vector<PgConn::Statement> statements(1);
    statements[0].prepared = kBodyOne;
    statements[0].params.Text(replica_);
    statements[0].params.Int(id);
    statements[0].params.BytesOf(*stored);
    std::unique_lock conn_lock(lane->conn_mu);
    const bool idle = lane->flights.empty();
    Status st = lane->conn->SendPipeline(statements, idle);
    if (!st.ok()) return st;
    body_last_ = id;
    Flight f;
    f.generation = lane->conn->generation();
    f.body = BodyAhead{id, stored == body ? std::move(*body) : std::move(masked)};
    if (stored == body) body->clear();
    lane->flights.push_back(std::move(f));
    ahead_[id] = lane;
    // Its answer is read by an append that needs the lane, or by the lane's
    // thread, not now: the upstream may be about to answer, and on two
    // cores a woken thread takes one (LaneSent).
    LaneSent(*lane);
    return StoredBody{id, std::move(sha256)};
  }

  Result<std::vector<AuditRecord>> AppendBatch(std::vector<AuditRecord> records) override {
    if (!writer_) return Status::Error(shown_ + ": opened for reading");
    for (AuditRecord& r : records) {
      if (!IsRfc3339Utc(r.time)) {
        return Status::Error(shown_ + ": record time '" + r.time +
                             "' is not RFC 3339 UTC (2026-11-23T12:00:00Z)");
      }
      if (r.request_body_at != 0 &&
          (r.request_body || r.request_body_at < 0 || r.request_body_at > body_last_ ||
           r.request_body_sha256.size() != 64)) {
        return Status::Error(shown_ + ": record names body " + std::to_string(r.request_body_at) +
                             ", which this store did not store ahead");
      }
      for (std::string* field : {&r.path, &r.findings}) {
        if (Status s = masker_->Mask(field); !s.ok()) return s;
      }
      if (r.request_body && !r.request_body_screened) {
        if (Status s = masker_->Mask(&*r.request_body); !s.ok()) return s;
      }
      if (r.response_body) {
        if (Status s = masker_->Mask(&*r.response_body); !s.ok()) return s;
      }
    }
    InlineRefusedBodies(records);
    if (head_stale_) {
      if (Status s = Quiesce(); !s.ok()) return s;
      if (Status s = LoadHead(); !s.ok()) return s;
    }
    // The settlements of these exchanges (queued before their records) go
    // into the records' transaction.
    ShipGroup group;
    if (budgets_) group.settles = budgets_->TakeQueued();
    std::unique_lock lock(ship_mu_);
    auto lane = LaneForRecords(records, lock);
    if (!lane.ok()) {
      if (budgets_) budgets_->Requeue(std::move(group.settles));
      return lane.status();
    }
    Chain(records);
    Status st;
    {
      std::lock_guard conn_lock((*lane)->conn_mu);
      // A send that fails reached no Sync: nothing of it can commit. On a
      // lane with nothing in flight it is sent once more on a new
      // connection (a server restart closes idle ones); with groups in
      // flight the lane's thread resends those first, so it is not.
      const bool idle = (*lane)->flights.empty();
      const auto statements = GroupStatements(records, group.settles);
      st = (*lane)->conn->SendPipeline(statements, idle);
      if (!st.ok() && idle) st = (*lane)->conn->SendPipeline(statements, idle);
    }
    if (!st.ok()) {
      lock.unlock();
      if (budgets_) budgets_->Requeue(std::move(group.settles));
      return st;
    }
    head_id_ = records.back().id;
    head_hash_ = records.back().record_hash;
    std::vector<AuditRecord> acknowledged;
    acknowledged.reserve(records.size());
    for (AuditRecord& r : records) acknowledged.push_back(WithoutBodies(r));
    group.records = std::move(records);  // kept to send the group again
    return Sent(**lane, std::move(group), std::move(acknowledged), lock);
  }

  void AfterAcknowledged() override {
    {
      std::lock_guard lock(ship_mu_);
      WakePendingLocked();
    }
    if (budgets_) budgets_->WakeForTopUps();
  }

  // A copy of `r` without its bodies (AppendBatch's answer: the group keeps
  // the bodies, which are not copied again).
  static AuditRecord WithoutBodies(AuditRecord& r) {
    std::optional<std::string> request = std::move(r.request_body);
    std::optional<std::string> response = std::move(r.response_body);
    std::optional<std::string> upstream = std::move(r.upstream_request_body);
    r.request_body.reset();
    r.response_body.reset();
    r.upstream_request_body.reset();
    AuditRecord copy = r;
    r.request_body = std::move(request);
    r.response_body = std::move(response);
    r.upstream_request_body = std::move(upstream);
    return copy;
  }

  // Ids and hashes for `records`, chained onto the head. A body stored
  // ahead is hashed by the digest StoreRequestBody gave (version 3 hashes
  // bodies by digest, so the record's hash is the same as with the body
  // inline).
  void Chain(std::vector<AuditRecord>& records) const {
    int64_t id = head_id_;
    std::string prev = head_hash_;
    for (AuditRecord& r : records) {
      r.replica = replica_;
      r.id = ++id;
      r.prev_hash = prev;
      const bool by_ref = r.request_body_at != 0 && !r.request_body;
      const std::string_view digest = (r.request_body && r.request_body_screened) || by_ref
                                          ? std::string_view(r.request_body_sha256)
                                          : std::string_view();
      r.record_hash = ComputeRecordHash(r, RecordForm::kV3,
                                        digest.size() == 64 ? digest : std::string_view(), by_ref);
      prev = r.record_hash;
    }
  }

  // A group's statements: its records (multi-row INSERTs), then its
  // settlements, one transaction. In this order the settlements' locks on
  // the shared gb_budget rows are held from the settlement to the commit
  // only, not while the server receives and stores the records' bodies:
  // the other replicas' groups that settle for the same user wait that
  // much less.
  std::vector<PgConn::Statement> GroupStatements(const std::vector<AuditRecord>& records,
                                                 const std::deque<PendingSettle>& settles) const {
    std::vector<PgConn::Statement> out;
    for (size_t start = 0; start < records.size(); start += kRowsPerInsert) {
      const size_t n = std::min(kRowsPerInsert, records.size() - start);
      PgConn::Statement st;
      if (n == 1) {
        st.prepared = kInsertOne;
      } else {
        st.sql = InsertSql(n);
      }
      for (size_t i = 0; i < n; ++i) AddRecordParams(records[start + i], st.params);
      out.push_back(std::move(st));
    }
    if (!settles.empty()) out.push_back(SettleStatement(settles, replica_, /*prepared=*/true));
    return out;
  }

  static void AddRecordParams(const AuditRecord& r, Params& p) {
    p.Text(r.replica);
    p.Int(r.id);
    p.Text(r.time);
    p.Text(r.user);
    p.Text(r.agent);
    p.Text(r.upstream);
    p.Text(r.model);
    p.Text(r.method);
    p.Text(r.path);
    p.Int(r.status);
    p.Int(r.latency_ms);
    p.Int(r.input_tokens);
    p.Int(r.output_tokens);
    p.Text(r.findings);
    p.Bytes(r.request_body);
    p.Bytes(r.response_body);
    p.Text(r.request_sha256);
    p.Text(r.response_sha256);
    p.Text(r.prev_hash);
    p.Text(r.record_hash);
    if (r.request_body_at != 0) {
      p.Int(r.request_body_at);  // stored ahead in gb_bodies
    } else {
      p.Null();
    }
  }

  // A request body sent ahead of its record (its own group), kept until
  // its commit is read.
  struct BodyAhead {
    int64_t id = 0;
    std::string body;  // as stored (masked)
  };
  // A group sent on a lane whose answer has not been read yet: a body, or
  // records with their settlements.
  struct Flight {
    uint64_t generation = 0;  // the lane's connection it was sent on
    std::optional<BodyAhead> body;
    ShipGroup group;  // when !body
  };

  // A lane: a connection and the thread that reads its answers. It carries
  // at most one group of records at a time, and ahead of it any number of
  // bodies stored ahead (up to kBodiesPerLane). Groups on different lanes
  // commit in any order (each record's id and hash are fixed before it is
  // sent); one group of records per connection keeps "sent" as good as
  // committed when the gate is killed: the server reads a connection's
  // groups in order and commits each before it answers it, and it can
  // notice the gate is gone only when it answers (docs/gate.md).
  struct Lane {
    std::unique_ptr<PgConn> conn;
    // Held while conn is used: by a sender (with ship_mu_, taken first),
    // by the lane's thread while it calls libpq (never while it waits).
    std::mutex conn_mu;
    std::deque<Flight> flights;      // guarded by ship_mu_: sent, oldest first
    bool records_in_flight = false;  // guarded: a group of records among flights
    bool broken = false;  // guarded: its connection was lost; the flights are being resent
    uint64_t sent = 0, confirmed = 0, lost = 0;  // guarded: groups of records
    uint64_t answered = 0;                       // guarded: flights answered (by either reader)
    // Guarded: the lane's thread reads the oldest flight's answer (without
    // ship_mu_), so nobody else may.
    bool reading = false;
    bool idle = false;             // guarded: its thread sleeps until a flight is sent
    bool read_now = false;         // guarded: somebody waits for the flights' answers
    bool wake_pending = false;     // guarded: a flight sent while idle, the thread not woken yet
    std::condition_variable wake;  // the lane's thread waits here
    std::thread reader;
  };

  static constexpr size_t kBodiesPerLane = 16;

  // The lane for a body (ship_mu_ held): one not being resent, preferring
  // one without a group of records (where the record is likely to follow
  // at once), then the one with fewer groups. nullptr when none.
  Lane* LaneForBody() {
    Lane* best = nullptr;
    for (auto& l : lanes_) {
      if (l->broken || l->flights.size() >= kBodiesPerLane) continue;
      if (best == nullptr || (best->records_in_flight && !l->records_in_flight) ||
          (best->records_in_flight == l->records_in_flight &&
           l->flights.size() < best->flights.size())) {
        best = l.get();
      }
    }
    return best;
  }

  // The lane for a group of records (ship_mu_ held by `lock`): one without
  // a group of records in flight and not being resent, and the one that
  // carries their bodies whose commit is not read yet, if any (a body on
  // another lane must be read first). Waits up to a second; fails at once
  // while the store is known down and no lane is free. A connection found
  // lost here (reading the answers that arrived) gets one attempt to
  // reconnect first: a server that ended it may well be back.
  Result<Lane*> LaneForRecords(const std::vector<AuditRecord>& records,
                               std::unique_lock<std::mutex>& lock) {
    const bool known_down = !health_->up.load();
    const uint64_t resend_failures = resend_failures_;
    Lane* free = nullptr;
    auto given_up = [&] {
      return !health_->up.load() && (known_down || resend_failures_ != resend_failures);
    };
    auto found = [&] {
      free = nullptr;
      Lane* needed = nullptr;
      bool several = false;
      for (const AuditRecord& r : records) {
        if (r.request_body_at == 0) continue;
        auto it = ahead_.find(r.request_body_at);
        if (it == ahead_.end()) continue;  // committed, or refused (then inline)
        several = several || (needed != nullptr && needed != it->second);
        needed = it->second;
      }
      if (!several) {
        for (auto& l : lanes_) {
          if (l->records_in_flight || l->broken || (needed != nullptr && needed != l.get()))
            continue;
          if (free == nullptr || l->flights.size() < free->flights.size()) free = l.get();
        }
      }
      return free != nullptr || given_up();
    };
    if (!found()) {
      // The answers that have arrived free a lane, usually (the groups of
      // the exchanges before this one); else the lanes' threads must read
      // on, for one to become free.
      TakeAnswersLocked();
      if (!found()) {
        ReadNowLocked();
        ship_cv_.wait_for(lock, std::chrono::seconds(1), found);
      }
    }
    if (free == nullptr) {
      return Status::Unavailable(
          shown_ +
          ": the database is unreachable or too slow (records sent before are kept "
          "and sent again once it is back)");
    }
    return free;
  }

  // A record naming a body whose own group the server refused carries the
  // body itself (the same hash: version 3 hashes a body by its digest).
  void InlineRefusedBodies(std::vector<AuditRecord>& records) {
    std::lock_guard lock(ship_mu_);
    if (refused_bodies_.empty()) return;
    for (AuditRecord& r : records) {
      auto it = refused_bodies_.find(r.request_body_at);
      if (r.request_body_at == 0 || it == refused_bodies_.end()) continue;
      r.request_body = std::move(it->second);
      r.request_body_screened = true;  // masked when it was stored ahead
      r.request_body_at = 0;
      refused_bodies_.erase(it);
    }
  }

  // A flight was sent on `lane` (ship_mu_ held). Its answer is read by the
  // next append that needs the lane and finds it there (TakeAnswersLocked),
  // or else by the lane's thread after Options::lazy_read. That thread is
  // woken only when it sleeps with nothing in flight, and then after the
  // exchange's response is written (AfterAcknowledged), not now: waking a
  // thread cost the exchange 13-17 us on two cores (a futex wake and the
  // woken thread taking a core).
  void LaneSent(Lane& lane) {
    if (!lane.reader.joinable()) lane.reader = std::thread([this, &lane] { ReadAnswers(lane); });
    if (lane.idle) {
      lane.wake_pending = true;
      wake_pending_ = true;
    }
  }

  // Wakes the lane threads that slept while flights were sent (ship_mu_
  // held).
  void WakePendingLocked() {
    if (!std::exchange(wake_pending_, false)) return;
    for (auto& l : lanes_) {
      if (std::exchange(l->wake_pending, false)) l->wake.notify_one();
    }
  }

  // Somebody waits for the answers of the flights (a reader, a caller that
  // needs a lane, durability full): the lanes' threads read them at once
  // (ship_mu_ held).
  void ReadNowLocked() {
    wake_pending_ = false;
    for (auto& l : lanes_) {
      l->wake_pending = false;
      if (l->flights.empty()) continue;
      l->read_now = true;
      l->wake.notify_one();
    }
  }

  // Takes the answers that have arrived on every lane, without waiting
  // (ship_mu_ held): an append that needs a lane does this, so under load
  // the lanes' threads are not woken for each group. A lost connection is
  // left to the lane's thread, which sends the flights again (Resend).
  void TakeAnswersLocked() {
    for (auto& l : lanes_) {
      Lane& lane = *l;
      while (!lane.reading && !lane.broken && !lane.flights.empty()) {
        Flight& f = lane.flights.front();
        bool done = false;
        Status st;
        {
          std::lock_guard conn_lock(lane.conn_mu);
          st = lane.conn->ReadAvailable(f.generation, &done);
        }
        if (!done) break;
        if (st.code() == StatusCode::kUnavailable) {
          lane.read_now = true;
          lane.wake.notify_one();
          break;
        }
        answers_by_appends_.fetch_add(1, std::memory_order_relaxed);
        Answered(lane, st, /*lost=*/!st.ok());
      }
    }
  }

  // The oldest flight of `lane` is answered (ship_mu_ held): `st` is its
  // commit or why it is not stored.
  void Answered(Lane& lane, const Status& st, bool lost) {
    if (st.ok()) {
      health_->last_commit.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                                 std::memory_order_relaxed);
    }
    Flight& f = lane.flights.front();
    if (f.body) {
      BodyAnswered(std::move(*f.body), st);
    } else {
      RecordsAnswered(lane, f.group, st, lost);
    }
    lane.flights.pop_front();
    ++lane.answered;
    // Nothing is sent on a lane being resent: its flights were all sent
    // on the lost connection.
    if (lane.flights.empty()) lane.broken = false;
    ship_cv_.notify_all();
  }

  // A group of records is sent: the lane's thread reads its answer. With
  // durability normal the records count as appended now (acknowledged once
  // the server has them: docs/gate.md); with full, once the lane saw them
  // committed.
  Result<std::vector<AuditRecord>> Sent(Lane& lane, ShipGroup group,
                                        std::vector<AuditRecord> records,
                                        std::unique_lock<std::mutex>& lock) {
    Flight f;
    f.generation = lane.conn->generation();
    f.group = std::move(group);
    lane.flights.push_back(std::move(f));
    lane.records_in_flight = true;
    const uint64_t mine = ++lane.sent;
    LaneSent(lane);
    if (options_.durability != LogDurability::kFull) return records;
    lane.read_now = true;
    lane.wake.notify_one();
    ship_cv_.wait(lock, [&] { return lane.confirmed >= mine; });
    if (lane.lost >= mine) {
      return Status::Unavailable(shown_ +
                                 ": the records were sent but their commit was not confirmed");
    }
    return records;
  }

  // Waits until no group is in flight, so a reader sees every record
  // appended. Fails after a second, or at once while the store is down.
  Status Quiesce() {
    if (!writer_) return Status::Ok();
    std::unique_lock lock(ship_mu_);
    ReadNowLocked();
    auto idle = [&] {
      return !health_->up.load() || std::none_of(lanes_.begin(), lanes_.end(),
                                                 [](auto& l) { return !l->flights.empty(); });
    };
    ship_cv_.wait_for(lock, std::chrono::seconds(1), idle);
    for (auto& l : lanes_) {
      if (!l->flights.empty()) {
        return Status::Unavailable(
            shown_ +
            ": records sent to the database are not confirmed yet (it is unreachable "
            "or slow)");
      }
    }
    return Status::Ok();
  }

  // A lane's thread: reads each group's answer in the order they were
  // sent, when nobody else has for Options::lazy_read or somebody waits for
  // them (read_now); a group whose connection was lost is sent again once
  // the server is back, unless it committed. Runs until the store closes,
  // finishing the groups in flight (for at most kGiveUp once stopping).
  void ReadAnswers(Lane& lane) {
    std::unique_lock lock(ship_mu_);
    for (;;) {
      if (lane.flights.empty()) {
        if (ship_stopping_) return;
        lane.idle = true;
        lane.wake.wait(lock, [&] { return ship_stopping_ || !lane.flights.empty(); });
        lane.idle = false;
        continue;
      }
      if (!lane.read_now && !ship_stopping_) {
        const uint64_t seen = lane.answered;
        lane.wake.wait_for(lock, options_.lazy_read,
                           [&] { return ship_stopping_ || lane.read_now || lane.flights.empty(); });
        // Appends are taking the answers: look again later.
        if (!lane.read_now && !ship_stopping_ && lane.answered != seen) continue;
        if (lane.flights.empty()) continue;
      }
      lane.read_now = false;
      Flight& f = lane.flights.front();  // only a reader removes it, and we are it
      lane.reading = true;
      lock.unlock();
      Status st = lane.conn->ReadPipeline(lane.conn_mu, f.generation);
      bool lost = false;
      if (!st.ok() && st.code() == StatusCode::kUnavailable) st = Resend(lane, f, &lost);
      if (!st.ok() && !lost) lost = true;
      lock.lock();
      lane.reading = false;
      answers_by_threads_.fetch_add(1, std::memory_order_relaxed);
      Answered(lane, st, lost);
    }
  }

  // The answer to a body's group (ship_mu_ held). A body the server
  // refused goes into its record if that is not sent yet (InlineRefusedBodies);
  // one lost because the gate stops has no record to come.
  void BodyAnswered(BodyAhead body, const Status& st) {
    ahead_.erase(body.id);
    if (st.ok() || ship_stopping_) return;
    std::fprintf(stderr,
                 "glassbox gate: request body %s:%lld could not be stored ahead in %s: %s (a "
                 "record not sent yet carries it itself)\n",
                 replica_.c_str(), static_cast<long long>(body.id), shown_.c_str(),
                 st.message().c_str());
    refused_bodies_.emplace(body.id, std::move(body.body));
  }

  // The answer to a group of records (ship_mu_ held).
  void RecordsAnswered(Lane& lane, const ShipGroup& group, const Status& st, bool lost) {
    const uint64_t want = lane.confirmed + 1;
    if (lost) {
      // Acknowledged records that will not be in the log (the server
      // refused them, or was gone until the gate stopped): said where an
      // operator looks. The chain goes on from the stored head (a group
      // sent after these on the other lane leaves a gap verify reports).
      std::fprintf(stderr, "glassbox gate: records %s:%lld..%lld could not be stored in %s: %s\n",
                   replica_.c_str(), static_cast<long long>(group.records.front().id),
                   static_cast<long long>(group.records.back().id), shown_.c_str(),
                   st.message().c_str());
      if (budgets_) budgets_->CountFailures(group.settles.size());
      records_lost_.fetch_add(group.records.size(), std::memory_order_relaxed);
      lane.lost = want;
      head_stale_ = true;
    }
    lane.records_in_flight = false;
    lane.confirmed = want;
  }

  // A group's connection was lost: reconnect (every kRetry), and send the
  // group again unless it is stored (a body's row exists; a group of
  // records commits as a whole, so its last record tells). Sets *lost when
  // it gives up (stopping for kGiveUp) or another record holds the group's
  // place. Nothing else is sent on the lane meanwhile (Lane::broken).
  Status Resend(Lane& lane, const Flight& f, bool* lost) {
    constexpr auto kRetry = std::chrono::milliseconds(100);
    constexpr auto kGiveUp = std::chrono::seconds(5);
    {
      std::lock_guard lock(ship_mu_);
      lane.broken = true;
      ship_cv_.notify_all();
    }
    std::optional<std::chrono::steady_clock::time_point> stop_since;
    for (;;) {
      {
        std::unique_lock conn_lock(lane.conn_mu);
        // Groups sent behind this one on the lost connection are still in
        // pipeline mode's queue there: a new connection drops them (they
        // are resent in their turn).
        if (lane.conn->generation() == f.generation) lane.conn->Drop();
        Params p;
        p.Text(replica_);
        p.Int(f.body ? f.body->id : f.group.records.back().id);
        auto stored = lane.conn->Exec(
            f.body ? "SELECT NULL FROM gb_bodies WHERE replica = $1 AND id = $2"
                   : "SELECT record_hash FROM gb_records WHERE replica = $1 AND id = $2",
            p);
        if (stored.ok()) {
          if (Pq().ntuples(stored->get()) == 1) {
            if (f.body || f.group.records.back().record_hash == Pq().getvalue(stored->get(), 0, 0))
              return Status::Ok();
            *lost = true;
            return Status::Error(shown_ + ": record " + replica_ + ":" +
                                 std::to_string(f.group.records.back().id) +
                                 " was stored by another writer");
          }
          std::vector<PgConn::Statement> statements;
          if (f.body) {
            statements.resize(1);
            statements[0].prepared = kBodyOne;
            statements[0].params.Text(replica_);
            statements[0].params.Int(f.body->id);
            statements[0].params.BytesOf(f.body->body);
          } else {
            statements = GroupStatements(f.group.records, f.group.settles);
          }
          Status st = lane.conn->SendPipeline(statements);
          const uint64_t generation = lane.conn->generation();
          conn_lock.unlock();
          if (st.ok()) st = lane.conn->ReadPipeline(lane.conn_mu, generation);
          if (st.ok() || st.code() != StatusCode::kUnavailable) return st;
        }
      }
      std::unique_lock lock(ship_mu_);
      // An append that waits for a lane stops waiting once an attempt failed
      // (LaneForRecords).
      ++resend_failures_;
      ship_cv_.notify_all();
      if (ship_stopping_) {
        const auto now = std::chrono::steady_clock::now();
        if (!stop_since) stop_since = now;
        if (now - *stop_since > kGiveUp) {
          *lost = true;
          return Status::Unavailable(shown_ +
                                     ": the database did not come back before the gate stopped");
        }
      }
      ship_cv_.wait_for(lock, kRetry);
    }
  }

  Result<std::vector<AuditRecord>> List() override {
    std::vector<AuditRecord> out;
    Status st = ForEach(RecordFilter{}, [&](AuditRecord& r) {
      out.push_back(std::move(r));
      return true;
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<AuditRecord> Get(int64_t id, std::string_view replica) override {
    if (Status s = Quiesce(); !s.ok()) return s;
    Params p;
    p.Int(id);
    std::string rep(replica);
    std::string sql = std::string("SELECT ") + kSelectColumns + kSelectFrom + " WHERE r.id = $1";
    if (!rep.empty()) {
      p.Text(rep);
      sql += " AND r.replica = $2";
    }
    sql += " ORDER BY r.replica LIMIT 3";
    auto r = conn_->Exec(sql.c_str(), p);
    if (!r.ok()) return r.status();
    const int rows = Pq().ntuples(r->get());
    const std::string named = (rep.empty() ? "" : rep + ":") + std::to_string(id);
    if (rows == 0) return Status::NotFound(shown_ + ": no record " + named);
    if (rows > 1) {
      std::string which;
      for (int i = 0; i < rows; ++i)
        which += (i ? ", " : "") + std::string(Pq().getvalue(r->get(), i, 0));
      return Status::InvalidArgument(shown_ + ": record " + named +
                                     " exists in several replica chains (" + which +
                                     "): name one as REPLICA:" + std::to_string(id));
    }
    AuditRecord record = ReadRecord(r->get(), 0);
    // Its own hash only; Verify() checks its place in the chain.
    if (ComputeRecordHash(record, RecordForm::kV3) != record.record_hash) {
      const std::string which_record =
          shown_ + ": record " + record.replica + ":" + std::to_string(id);
      if (record.request_body_at != 0 && !record.request_body) {
        return Status::Corruption(which_record + ": its request body (stored ahead as body " +
                                  std::to_string(record.request_body_at) + ") is missing");
      }
      return Status::Corruption(
          which_record +
          ": record_hash does not match the record's fields (an edited field or a damaged row)");
    }
    return record;
  }

  Result<std::vector<AuditRecord>> Search(std::string_view text) override {
    std::vector<AuditRecord> out;
    RecordFilter f;
    f.text = std::string(text);
    Status st = ForEach(f, [&](AuditRecord& r) {
      out.push_back(std::move(r));
      return true;
    });
    if (!st.ok()) return st;
    return out;
  }

  Status ForEach(const RecordFilter& filter,
                 const std::function<bool(AuditRecord&)>& visit) override {
    if (Status s = Quiesce(); !s.ok()) return s;
    std::string where;
    Params p;
    std::vector<std::string> args;
    args.reserve(5);  // stable: Params points into them
    auto add = [&](const std::string& clause, const std::string& value) {
      args.push_back(value);
      p.Text(args.back());
      where += where.empty() ? " WHERE " : " AND ";
      where += clause + "$" + std::to_string(args.size());
    };
    if (!filter.since.empty()) add("r.time >= ", filter.since);
    if (!filter.until.empty()) add("r.time < ", filter.until);
    if (!filter.user.empty()) add("r.user_name = ", filter.user);
    if (!filter.model.empty()) add("r.model = ", filter.model);
    if (!filter.text.empty()) {
      args.push_back(filter.text);
      p.Text(args.back());
      const std::string n = "$" + std::to_string(args.size());
      where += where.empty() ? " WHERE (" : " AND (";
      for (const char* col :
           {"user_name", "agent", "upstream", "model", "method", "path", "findings"}) {
        where += std::string("strpos(r.") + col + ", " + n + ") > 0 OR ";
      }
      where += "position(convert_to(" + n +
               ", 'UTF8') in coalesce(r.request_body, b.body, ''::bytea)) > 0 OR " +
               "position(convert_to(" + n +
               ", 'UTF8') in coalesce(r.response_body, ''::bytea)) > 0)";
    }
    std::string sql = std::string("SELECT ") + kSelectColumns + kSelectFrom + where +
                      " ORDER BY r.time, r.replica, r.id";
    if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);
    return conn_->Stream(sql, p, [&](PGresult* r) {
      AuditRecord rec = ReadRecord(r, 0);
      return visit(rec);
    });
  }

  Result<std::vector<UsageRow>> UsageSince(std::string_view since) override {
    if (Status s = Quiesce(); !s.ok()) return s;
    Params p;
    std::string s(since);
    p.Text(s);
    auto r = conn_->Exec(
        "SELECT time, user_name, model, input_tokens, output_tokens FROM gb_records WHERE time >= "
        "$1 "
        "ORDER BY time, replica, id",
        p);
    if (!r.ok()) return r.status();
    std::vector<UsageRow> rows;
    for (int i = 0; i < Pq().ntuples(r->get()); ++i) {
      UsageRow u;
      u.time = Pq().getvalue(r->get(), i, 0);
      u.user = Pq().getvalue(r->get(), i, 1);
      u.model = Pq().getvalue(r->get(), i, 2);
      u.input_tokens = ToInt(Pq().getvalue(r->get(), i, 3));
      u.output_tokens = ToInt(Pq().getvalue(r->get(), i, 4));
      rows.push_back(std::move(u));
    }
    return rows;
  }

  Result<VerifyResult> Verify(const std::vector<gate::Checkpoint>* checkpoints) override {
    if (Status s = Quiesce(); !s.ok()) return s;
    // One snapshot for every chain, even while replicas append.
    if (Status s = conn_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
    auto result = VerifyInSnapshot(checkpoints);
    (void)conn_->Run("ROLLBACK");
    return result;
  }

  Result<std::optional<std::string>> TimeOfNewest(int64_t n) override {
    if (Status s = Quiesce(); !s.ok()) return s;
    Params p;
    p.Text(replica_);
    p.Int(std::max<int64_t>(0, n - 1));
    auto r = conn_->Exec(
        "SELECT time FROM gb_records WHERE replica = $1 ORDER BY id DESC OFFSET $2 LIMIT 1", p);
    if (!r.ok()) return r.status();
    if (Pq().ntuples(r->get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(Pq().getvalue(r->get(), 0, 0));
  }

  Result<Head> ReadHead() override {
    if (Status s = Quiesce(); !s.ok()) return s;
    return ReadHeadOf(replica_);
  }

  Result<int64_t> DeleteOrphanBodies() override {
    if (!writer_) return Status::Error(shown_ + ": opened for reading");
    if (Status s = Quiesce(); !s.ok()) return s;
    // Bodies of this run take ids above every id stored before it; read
    // that mark now if no body was stored yet, so it also counts the
    // orphans about to go and new ids stay above them.
    if (body_last_ < 0) {
      if (Status s = LoadLastBody(); !s.ok()) return s;
    }
    // Another process of this replica cannot be writing (the replica's
    // advisory lock), and the one that stored these is gone: whatever it
    // sent has committed or never will.
    Params p;
    p.Text(replica_);
    p.Int(body_first_run_last_);
    auto del = conn_->Exec(
        "DELETE FROM gb_bodies b WHERE b.replica = $1 AND b.id <= $2 AND NOT EXISTS (SELECT 1 "
        "FROM gb_records r WHERE r.replica = b.replica AND r.request_body_at = b.id)",
        p);
    if (!del.ok()) return del.status();
    return ToInt(Pq().cmdTuples(del->get()));
  }

  Result<int64_t> DeleteBefore(std::string_view cutoff) override {
    if (!IsRfc3339Utc(cutoff)) {
      return Status::Error("retention cutoff '" + std::string(cutoff) +
                           "' is not RFC 3339 UTC (2026-11-23T12:00:00Z)");
    }
    std::string c(cutoff);
    if (Status s = Quiesce(); !s.ok()) return s;
    if (Status s = conn_->Run("BEGIN"); !s.ok()) return s;
    Params p;
    p.Text(replica_);
    p.Text(c);
    // The leading run of this chain: every record before its first one at
    // or after the cutoff.
    auto last = conn_->Exec(
        "SELECT id, record_hash FROM gb_records WHERE replica = $1 AND id < coalesce("
        "(SELECT min(id) FROM gb_records WHERE replica = $1 AND time >= $2), 9223372036854775807) "
        "ORDER BY id DESC LIMIT 1",
        p);
    int64_t deleted = 0;
    Status st = last.ok() ? Status::Ok() : last.status();
    if (st.ok() && Pq().ntuples(last->get()) == 1) {
      Params d;
      d.Text(replica_);
      std::string anchor_id = Pq().getvalue(last->get(), 0, 0);
      std::string anchor_hash = Pq().getvalue(last->get(), 0, 1);
      d.Text(anchor_id);
      st = conn_->Run(
          "DELETE FROM gb_bodies b USING gb_records r WHERE r.replica = $1 AND r.id <= $2 AND "
          "b.replica = r.replica "
          "AND b.id = r.request_body_at",
          d);
      auto del = st.ok() ? conn_->Exec("DELETE FROM gb_records WHERE replica = $1 AND id <= $2", d)
                         : Result<PgResult>(st);
      st = del.ok() ? Status::Ok() : del.status();
      if (st.ok()) {
        deleted = ToInt(Pq().cmdTuples(del->get()));
        Params a;
        a.Text(replica_);
        a.Text(anchor_id);
        a.Text(anchor_hash);
        st = conn_->Run(
            "INSERT INTO gb_anchors (replica, anchor_id, anchor_hash) VALUES ($1, $2, $3) ON "
            "CONFLICT (replica) "
            "DO UPDATE SET anchor_id = EXCLUDED.anchor_id, anchor_hash = EXCLUDED.anchor_hash",
            a);
      }
    }
    if (st.ok()) st = conn_->Run("COMMIT");
    if (!st.ok()) {
      (void)conn_->Run("ROLLBACK");
      return st;
    }
    return deleted;
  }

 private:
  // Session set-up at every (re)connection: the schema, then for a writer
  // its replica's lock, asynchronous commit with durability normal, and
  // the release of reservations a previous run of this replica left.
  Status OnConnect(PgConn& c) {
    if (Status s = EnsureSchema(c); !s.ok()) return s;
    if (!writer_) return Status::Ok();
    Params p;
    p.Text(replica_);
    auto locked =
        c.Exec("SELECT pg_try_advisory_lock(hashtext('glassbox-replica'), hashtext($1))", p);
    if (!locked.ok()) return locked.status();
    if (Pq().getvalue(locked->get(), 0, 0)[0] != 't') {
      return Status::Error(
          shown_ + ": replica '" + replica_ +
          "' is already writing to this database (a gate with the same replica name is running); "
          "give each replica its own name (replica=NAME in the URL)");
    }
    if (options_.durability == LogDurability::kNormal) {
      if (Status s = c.Run("SET synchronous_commit = off"); !s.ok()) return s;
    }
    if (!cleared_reservations_) {
      // A previous run of this replica killed a moment ago may still have a
      // group of records on its lanes' connections, which the server is
      // committing: the chain's head is read once they are gone.
      if (Status s = WaitForLanesOfAPreviousRun(c); !s.ok()) return s;
      if (Status s = c.Run("DELETE FROM gb_reserved WHERE replica = $1", p); !s.ok()) return s;
      cleared_reservations_ = true;
    }
    head_stale_ = true;
    return Status::Ok();
  }

  // The application_name of this replica's lane connections.
  std::string LaneName() const { return "glassbox-lane:" + replica_; }

  Status WaitForLanesOfAPreviousRun(PgConn& c) {
    constexpr auto kPatience = std::chrono::seconds(10);
    const auto until = std::chrono::steady_clock::now() + kPatience;
    Params p;
    const std::string name = LaneName();
    p.Text(name);
    for (;;) {
      auto r = c.Exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", p);
      if (!r.ok()) return r.status();
      if (ToInt(Pq().getvalue(r->get(), 0, 0)) == 0) return Status::Ok();
      if (std::chrono::steady_clock::now() > until) {
        return Status::Error(shown_ + ": connections of an earlier run of replica '" + replica_ +
                             "' are still open after 10 s; try again once they are gone");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Status EnsureSchema(PgConn& c) {
    if (!writer_) {
      auto r = c.Exec("SELECT to_regclass('gb_schema') IS NOT NULL");
      if (!r.ok()) return r.status();
      if (Pq().getvalue(r->get(), 0, 0)[0] != 't') {
        return Status::InvalidArgument(
            shown_ + ": not a glassbox audit log (no gb_schema table); a gate creates it");
      }
      return CheckVersion(c, /*upgrade=*/false);
    }
    if (Status s = c.Run("BEGIN"); !s.ok()) return s;
    Status st = c.Run("SELECT pg_advisory_xact_lock(hashtext('glassbox-schema'))");
    if (st.ok()) st = c.Run("CREATE TABLE IF NOT EXISTS gb_schema (version integer NOT NULL)");
    if (st.ok()) st = CheckVersion(c, /*upgrade=*/true);
    if (st.ok()) st = c.Run("COMMIT");
    if (!st.ok()) (void)c.Run("ROLLBACK");
    return st;
  }

  Status CheckVersion(PgConn& c, bool upgrade) {
    auto r = c.Exec("SELECT version FROM gb_schema");
    if (!r.ok()) return r.status();
    int version =
        Pq().ntuples(r->get()) == 0 ? 0 : static_cast<int>(ToInt(Pq().getvalue(r->get(), 0, 0)));
    if (version > kSchemaVersion) {
      return Status::Error(shown_ + ": schema version " + std::to_string(version) +
                           " is newer than this glassbox understands (" +
                           std::to_string(kSchemaVersion) + "); upgrade glassbox");
    }
    if (!upgrade) {
      if (version < 1)
        return Status::Error(shown_ + ": not a glassbox audit log (empty gb_schema)");
      return Status::Ok();
    }
    if (Pq().ntuples(r->get()) == 0) {
      if (Status s = c.Run("INSERT INTO gb_schema (version) VALUES (0)"); !s.ok()) return s;
    }
    for (int v = version + 1; v <= kSchemaVersion; ++v) {
      if (Status s = c.Script(kMigrations[v - 1]); !s.ok()) {
        return Status::Error(s.message() + " (upgrading the schema to version " +
                             std::to_string(v) + ")");
      }
      Params p;
      p.Int(v);
      if (Status s = c.Run("UPDATE gb_schema SET version = $1", p); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // The newest body id of this replica's (bodies of earlier runs included:
  // ids are never reused).
  Status LoadLastBody() {
    Params p;
    p.Text(replica_);
    auto r = conn_->Exec("SELECT coalesce(max(id), 0) FROM gb_bodies WHERE replica = $1", p);
    if (!r.ok()) return r.status();
    body_last_ = ToInt(Pq().getvalue(r->get(), 0, 0));
    body_first_run_last_ = body_last_;
    return Status::Ok();
  }

  Status LoadHead() {
    auto head = ReadHeadOf(replica_);
    if (!head.ok()) return head.status();
    head_id_ = head->last_id;
    head_hash_ = head->head_hash;
    head_stale_ = false;
    return Status::Ok();
  }

  Result<Head> ReadHeadOf(const std::string& replica) {
    Params p;
    p.Text(replica);
    auto r = conn_->Exec(
        "SELECT (SELECT anchor_id FROM gb_anchors WHERE replica = $1), (SELECT anchor_hash FROM "
        "gb_anchors WHERE "
        "replica = $1), id, record_hash FROM (SELECT id, record_hash FROM gb_records WHERE replica "
        "= $1 ORDER BY id "
        "DESC LIMIT 1) last RIGHT JOIN (SELECT 1) one ON true",
        p);
    if (!r.ok()) return r.status();
    Head h;
    PGresult* res = r->get();
    if (!Pq().getisnull(res, 0, 0)) {
      h.anchor_id = ToInt(Pq().getvalue(res, 0, 0));
      h.anchor_hash = Pq().getvalue(res, 0, 1);
    }
    h.last_id = h.anchor_id;
    h.head_hash = h.anchor_hash;
    if (!Pq().getisnull(res, 0, 2)) {
      h.last_id = ToInt(Pq().getvalue(res, 0, 2));
      h.head_hash = Pq().getvalue(res, 0, 3);
    }
    return h;
  }

  Result<VerifyResult> VerifyInSnapshot(const std::vector<gate::Checkpoint>* checkpoints) {
    auto chains = conn_->Exec(
        "SELECT replica FROM gb_records GROUP BY replica UNION SELECT replica FROM gb_anchors "
        "ORDER BY 1");
    if (!chains.ok()) return chains.status();
    std::vector<std::string> replicas;
    for (int i = 0; i < Pq().ntuples(chains->get()); ++i)
      replicas.emplace_back(Pq().getvalue(chains->get(), i, 0));
    // Checkpoints are one replica's: the URL's replica=, or the only chain.
    std::string signed_chain = replica_explicit_ ? replica_ : "";
    if (checkpoints != nullptr && signed_chain.empty()) {
      if (replicas.size() != 1) {
        return Status::Error(
            shown_ + ": the log holds " + std::to_string(replicas.size()) +
            " replica chains; name the one whose checkpoints these are (replica=NAME in the URL)");
      }
      signed_chain = replicas.front();
    }
    VerifyResult total;
    total.chains = static_cast<int64_t>(replicas.size());
    auto orphans = conn_->Exec(
        "SELECT count(*) FROM gb_bodies b WHERE NOT EXISTS (SELECT 1 FROM gb_records r WHERE "
        "r.replica = b.replica AND r.request_body_at = b.id)");
    if (!orphans.ok()) return orphans.status();
    total.orphan_bodies = ToInt(Pq().getvalue(orphans->get(), 0, 0));
    for (const std::string& replica : replicas) {
      auto v = VerifyChain(replica, replica == signed_chain ? checkpoints : nullptr);
      if (!v.ok()) return v.status();
      total.records += v->records;
      if (replica == signed_chain || replicas.size() == 1) {
        total.anchor_id = v->anchor_id;
        total.last_id = v->last_id;
        total.checkpoints = v->checkpoints;
        total.checkpoints_matched = v->checkpoints_matched;
      }
      if (!v->intact) {
        total.intact = false;
        total.bad_id = v->bad_id;
        total.bad_replica = replica;
        total.reason = v->reason;
        break;
      }
    }
    return total;
  }

  // One chain, as AuditLog::Verify checks a SQLite log.
  Result<VerifyResult> VerifyChain(const std::string& replica,
                                   const std::vector<gate::Checkpoint>* checkpoints) {
    VerifyResult v;
    Params p;
    p.Text(replica);
    auto anchor =
        conn_->Exec("SELECT anchor_id, anchor_hash FROM gb_anchors WHERE replica = $1", p);
    if (!anchor.ok()) return anchor.status();
    int64_t anchor_id = 0;
    std::string anchor_hash(kZeroHash);
    if (Pq().ntuples(anchor->get()) == 1) {
      anchor_id = ToInt(Pq().getvalue(anchor->get(), 0, 0));
      anchor_hash = Pq().getvalue(anchor->get(), 0, 1);
    }
    v.anchor_id = anchor_id;
    int64_t want_id = anchor_id + 1;
    std::string want_prev = anchor_hash;
    size_t next = 0;
    auto broken_at = [&](int64_t id, std::string reason) {
      v.intact = false;
      v.bad_id = id;
      v.reason = std::move(reason);
    };
    if (checkpoints != nullptr && !checkpoints->empty()) {
      v.checkpoints = static_cast<int64_t>(checkpoints->size());
      if (anchor_id > 0) {
        bool attested = false;
        for (const gate::Checkpoint& c : *checkpoints) {
          if (c.anchor_id == anchor_id) attested = attested || c.anchor_hash == anchor_hash;
          if (c.last_id == anchor_id) attested = attested || c.head_hash == anchor_hash;
        }
        if (!attested) {
          broken_at(anchor_id,
                    "the retention anchor (record " + std::to_string(anchor_id) +
                        ") is not attested by any signed checkpoint: records were removed from the "
                        "start and the anchor forged");
        }
      }
      while (next < checkpoints->size() && (*checkpoints)[next].last_id <= anchor_id) ++next;
    }
    if (!v.intact) return v;
    Status st = conn_->Stream(
        std::string("SELECT ") + kSelectColumns + kSelectFrom +
            " WHERE r.replica = $1 ORDER BY r.id",
        p, [&](PGresult* res) {
          AuditRecord r = ReadRecord(res, 0);
          if (r.id != want_id) {
            if (r.id > want_id) {
              broken_at(r.id,
                        want_id + 1 == r.id
                            ? "record " + std::to_string(want_id) + " is missing (deleted row)"
                            : "records " + std::to_string(want_id) + ".." +
                                  std::to_string(r.id - 1) + " are missing (deleted rows)");
            } else {
              broken_at(r.id, "id " + std::to_string(r.id) + " out of sequence, expected " +
                                  std::to_string(want_id));
            }
            return false;
          }
          if (ComputeRecordHash(r, RecordForm::kV3) != r.record_hash) {
            broken_at(r.id, r.request_body_at != 0 && !r.request_body
                                ? "its request body (stored ahead as body " +
                                      std::to_string(r.request_body_at) + ") is missing"
                                : std::string("record_hash does not match the record's "
                                              "fields (edited field)"));
            return false;
          }
          if (r.prev_hash != want_prev) {
            broken_at(r.id,
                      "prev_hash does not match the previous record's hash (deleted or "
                      "reordered rows)");
            return false;
          }
          if (checkpoints != nullptr) {
            while (next < checkpoints->size() && (*checkpoints)[next].last_id == r.id) {
              if ((*checkpoints)[next].head_hash != r.record_hash) {
                broken_at(r.id, "its hash differs from the one signed in the checkpoint of " +
                                    (*checkpoints)[next].time + ": the chain was rewritten");
                return false;
              }
              ++next;
              ++v.checkpoints_matched;
            }
          }
          want_prev = r.record_hash;
          v.last_id = r.id;
          ++want_id;
          ++v.records;
          return true;
        });
    if (!st.ok()) return st;
    if (v.intact && checkpoints != nullptr && next < checkpoints->size()) {
      const gate::Checkpoint& c = checkpoints->back();
      broken_at(want_id, "records " + std::to_string(want_id) + ".." + std::to_string(c.last_id) +
                             " were removed from the end: the checkpoint of " + c.time +
                             " attests " + std::to_string(c.last_id) + " records");
    }
    return v;
  }

  // Asks the server whether it accepts connections: every second while it
  // is up (so health and metrics notice an outage before an exchange does),
  // every 200 ms while it is down (so Available() recovers without traffic:
  // a gate that refuses while down sends none).
  void Probe() {
    std::unique_lock lock(health_->mu);
    for (;;) {
      const auto pause =
          health_->up.load() ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(200);
      health_->cv.wait_for(lock, pause, [&] { return health_->stopping; });
      if (health_->stopping) return;
      // A commit read within the pause answers the question without a
      // connection of its own (each ping is a new server process: about
      // 1 % of a core per replica, measured, while records flow).
      const auto since_commit =
          std::chrono::steady_clock::now() -
          std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(
              health_->last_commit.load(std::memory_order_relaxed)));
      if (health_->up.load() && since_commit < pause) continue;
      lock.unlock();
      const char* keys[] = {"dbname", "connect_timeout", nullptr};
      const char* values[] = {conninfo_.c_str(), "2", nullptr};
      const bool answers = Pq().pingParams(keys, values, 1) == PQPING_OK;
      lock.lock();
      health_->up.store(answers);
    }
  }

 public:
  bool replica_explicit_ = false;

 private:
  std::string conninfo_, shown_, replica_;
  bool writer_;
  LogStore::Options options_;
  std::shared_ptr<Health> health_;
  std::unique_ptr<SecretMasker> masker_;
  std::unique_ptr<PgConn> conn_;
  std::shared_ptr<PgBudgets> budgets_;
  std::thread probe_;
  bool cleared_reservations_ = false;
  // The group in flight (ack on send): while it is set, the shipper thread
  // owns conn_; the other users of conn_ wait for it (Quiesce).
  std::mutex ship_mu_;
  std::condition_variable ship_cv_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // made at Open
  bool ship_stopping_ = false;                // guarded
  bool wake_pending_ = false;                 // guarded: a group sent, its lane's thread not woken
  std::atomic<bool> head_stale_{true};        // set by a lane thread too
  std::atomic<uint64_t> records_lost_{0};     // RecordsLost()
  std::atomic<uint64_t> answers_by_appends_{0}, answers_by_threads_{0};  // AnswersRead()
  uint64_t resend_failures_ = 0;  // guarded by ship_mu_: failed attempts to send a group again
  int64_t head_id_ = 0;
  std::string head_hash_ = std::string(kZeroHash);
  int64_t body_last_ = -1;  // the newest body id stored ahead (-1: not read yet); writer's thread
  int64_t body_first_run_last_ = 0;  // the newest body id of earlier runs (read with body_last_)
  std::map<int64_t, Lane*> ahead_;   // guarded by ship_mu_: bodies whose commit is not read yet
  std::map<int64_t, std::string> refused_bodies_;  // guarded: bodies the server refused
};

}  // namespace

Result<std::unique_ptr<LogStore>> OpenPgStore(const std::string& url, LogStore::OpenMode mode,
                                              LogStore::Options options, std::string replica) {
  if (Status s = LoadLibPq(); !s.ok()) return s;
  std::string from_url;
  std::string conninfo = SplitReplica(url, &from_url);
  if (replica.empty()) replica = from_url;
  const bool explicit_replica = !replica.empty();
  if (replica.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
      return Status::Error("cannot read the host name");
    replica = host;
  }
  const std::string shown = RedactStoreLocation(url);
  if (replica.size() > 200 || replica.find_first_of(" \t\r\n:") != std::string::npos) {
    return Status::Error(shown + ": replica name '" + replica +
                         "': use at most 200 characters, without spaces or ':'");
  }
  auto store = std::make_unique<PgStore>(conninfo, shown, replica, mode, options);
  store->replica_explicit_ = explicit_replica;
  if (Status s = store->Open(); !s.ok()) return s;
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace glassbox::gate
