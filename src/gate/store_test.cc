// One test suite for both LogStore back-ends (store.h): SQLite in a temporary
// file, PostgreSQL in a throwaway cluster that tests/pg/pg_cluster.sh starts
// on a loopback port (skipped, with the reason, when the server binaries are
// missing). Then the PostgreSQL-only contracts: one chain per replica,
// verify naming the replica of a break, one writer per replica name, the
// schema version check, and shared budgets that hold across replicas.
#include "gate/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>

#include "core/locate.h"
#include "gate/log_writer.h"
#include "gate/retention.h"

namespace glassbox::gate {
namespace {

// The throwaway cluster, started once for the whole test program.
class PgCluster {
 public:
  static PgCluster& Get() {
    static PgCluster cluster;
    return cluster;
  }
  bool up() const { return !url_.empty(); }
  const std::string& skip_reason() const { return skip_reason_; }
  // A fresh database for one test.
  std::string NewDatabase() {
    const std::string name = "t" + std::to_string(++databases_);
    PGconn* c = PQconnectdb(url_.c_str());
    PQclear(PQexec(c, ("CREATE DATABASE " + name).c_str()));
    PQfinish(c);
    return url_.substr(0, url_.rfind('/') + 1) + name;
  }
  ~PgCluster() {
    if (!dir_.empty()) {
      (void)std::system((Script() + " stop " + dir_ + " fast >/dev/null 2>&1").c_str());
      (void)std::system(("rm -rf " + dir_.substr(0, dir_.rfind('/'))).c_str());
    }
  }

 private:
  static std::string Script() {
    return std::string("bash ") + GLASSBOX_SOURCE_DIR + "/tests/pg/pg_cluster.sh";
  }
  PgCluster() {
    char tmpl[] = "/tmp/glassbox-pg-test.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      skip_reason_ = "cannot make a temporary folder";
      return;
    }
    dir_ = std::string(tmpl) + "/cluster";
    FILE* p = popen((Script() + " start " + dir_ + " 2>" + tmpl + "/start.err").c_str(), "r");
    std::array<char, 512> buf{};
    std::string out;
    while (p != nullptr && fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
    const int rc = p == nullptr ? -1 : pclose(p);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if (rc == 0 && out.starts_with("postgresql://")) {
      url_ = out;
      return;
    }
    std::string err;
    if (FILE* f = fopen((std::string(tmpl) + "/start.err").c_str(), "r")) {
      while (fgets(buf.data(), buf.size(), f) != nullptr) err += buf.data();
      fclose(f);
    }
    skip_reason_ = err.empty() ? "the test cluster did not start" : err;
  }
  std::string dir_, url_, skip_reason_;
  int databases_ = 0;
};

// Runs one statement on a store's database (tampering, as an attacker
// with write access would).
void Tamper(const std::string& location, const std::string& sql) {
  if (IsPostgresUrl(location)) {
    PGconn* c = PQconnectdb(location.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    ASSERT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    return;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

AuditRecord Rec(std::string time, std::string user, std::string body = "{}") {
  AuditRecord r;
  r.time = std::move(time);
  r.user = std::move(user);
  r.agent = "test";
  r.upstream = "anthropic";
  r.model = "claude-sonnet-4-5";
  r.method = "POST";
  r.path = "/v1/messages";
  r.status = 200;
  r.input_tokens = 10;
  r.output_tokens = 5;
  r.request_body = std::move(body);
  r.response_body = "{\"ok\":true}";
  return r;
}

enum class Backend { kSqlite, kPostgres };

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      location_ = ::testing::TempDir() + "/store_test_" + std::to_string(++file_count) + ".db";
      std::remove(location_.c_str());
      (void)std::system(("rm -rf '" + location_ + "-bodies'").c_str());
      return;
    }
    PgCluster& pg = PgCluster::Get();
    if (!pg.up()) GTEST_SKIP() << "PostgreSQL: " << pg.skip_reason();
    location_ = pg.NewDatabase();
  }
  std::unique_ptr<LogStore> Open(LogStore::OpenMode mode = LogStore::OpenMode::kCreate,
                                 std::string replica = "r1") {
    auto s = OpenLogStore(location_, mode, {}, GetParam() == Backend::kPostgres ? replica : "");
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  // The table and id column to tamper with.
  std::string Table() const { return GetParam() == Backend::kPostgres ? "gb_records" : "records"; }
  std::string UserColumn() const { return GetParam() == Backend::kPostgres ? "user_name" : "user"; }

  std::string location_;
  static inline int file_count = 0;  // a fresh SQLite file per test
};

TEST_P(StoreTest, AppendsChainsAndReadsBack) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<AuditRecord> batch = {Rec("2026-11-01T10:00:00Z", "alice"),
                                    Rec("2026-11-01T10:00:01Z", "bob")};
  auto stored = store->AppendBatch(batch);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_TRUE(store->Append(Rec("2026-11-01T10:00:02Z", "alice")).ok());
  auto all = store->List();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, 1);
  EXPECT_EQ((*all)[2].id, 3);
  EXPECT_EQ((*all)[0].prev_hash, kZeroHash);
  EXPECT_EQ((*all)[1].prev_hash, (*all)[0].record_hash);
  EXPECT_EQ((*all)[1].user, "bob");
  EXPECT_EQ((*all)[1].request_body, "{}");
  auto head = store->ReadHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->last_id, 3);
  EXPECT_EQ(head->head_hash, (*all)[2].record_hash);
  auto v = store->Verify(nullptr);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 3);
  auto one = store->Get(2, "");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->user, "bob");
  EXPECT_FALSE(store->Get(9, "").ok());
}

TEST_P(StoreTest, MasksSecretsBeforeStoring) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  // A key shaped like Anthropic's (mixed characters: the rules skip
  // low-entropy runs).
  std::string key = "sk-ant-api03-";
  const std::string_view alphabet = "Q7xk2M_pLw9-Rt4bN8vZc3Hy6Jd1Fg5S";
  for (size_t i = 0; i < 93; ++i) key += alphabet[(i * 7 + i / 5) % alphabet.size()];
  key += "AA";
  AuditRecord r = Rec("2026-11-01T10:00:00Z", "alice", "{\"k\":\"" + key + "\"}");
  r.response_body = "key " + key;
  ASSERT_TRUE(store->Append(r).ok());
  auto back = store->Get(1, "");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->request_body->find(key), std::string::npos);
  EXPECT_EQ(back->response_body->find(key), std::string::npos);
  EXPECT_TRUE(store->Verify(nullptr)->intact);
}

TEST_P(StoreTest, FiltersAndSearchesStreamed) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store
                    ->Append(Rec("2026-11-0" + std::to_string(i + 1) + "T10:00:00Z",
                                 i % 2 ? "bob" : "alice", i == 4 ? "{\"needle\":1}" : "{}"))
                    .ok());
  }
  auto count = [&](RecordFilter f) {
    int n = 0;
    EXPECT_TRUE(store->ForEach(f, [&](AuditRecord&) { return ++n, true; }).ok());
    return n;
  };
  EXPECT_EQ(count({}), 6);
  EXPECT_EQ(count({.user = "bob"}), 3);
  EXPECT_EQ(count({.since = "2026-11-03T00:00:00Z", .until = "2026-11-05T00:00:00Z"}), 2);
  EXPECT_EQ(count({.limit = 4}), 4);
  EXPECT_EQ(count({.text = "needle"}), 1);
  // A visitor that stops early ends the walk.
  int seen = 0;
  EXPECT_TRUE(store->ForEach({}, [&](AuditRecord&) { return ++seen < 2; }).ok());
  EXPECT_EQ(seen, 2);
  // The store still answers after an early stop.
  EXPECT_EQ(store->Search("needle")->size(), 1u);
  auto usage = store->UsageSince("2026-11-05T00:00:00Z");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->size(), 2u);
}

TEST_P(StoreTest, VerifyCatchesAnEditedAndADeletedRecord) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(store->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "u")).ok());
  Tamper(location_, "UPDATE " + Table() + " SET " + UserColumn() + " = 'mallory' WHERE id = 2");
  auto v = store->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 2);
  EXPECT_NE(v->reason.find("edited"), std::string::npos) << v->reason;
  Tamper(location_, "DELETE FROM " + Table() + " WHERE id = 2");
  v = store->Verify(nullptr);
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 3);
  EXPECT_NE(v->reason.find("missing"), std::string::npos) << v->reason;
}

TEST_P(StoreTest, RetentionMovesTheAnchorAndTheChainStillVerifies) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int day = 1; day <= 5; ++day) {
    ASSERT_TRUE(store->Append(Rec("2026-11-0" + std::to_string(day) + "T12:00:00Z", "u")).ok());
  }
  auto cutoff = store->TimeOfNewest(2);
  ASSERT_TRUE(cutoff.ok());
  EXPECT_EQ(**cutoff, "2026-11-04T12:00:00Z");
  auto deleted = store->DeleteBefore("2026-11-03T00:00:00Z");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 2);
  auto v = store->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->anchor_id, 2);
  EXPECT_EQ(v->records, 3);
  // Appends continue the chain after retention.
  ASSERT_TRUE(store->Append(Rec("2026-11-06T12:00:00Z", "u")).ok());
  EXPECT_TRUE(store->Verify(nullptr)->intact);
}

TEST_P(StoreTest, CheckpointsCatchATruncatedTail) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "u")).ok());
  auto head = store->ReadHead();
  ASSERT_TRUE(head.ok());
  // Verify checks checkpoints' ids and hashes (signatures are checked when
  // the file is read: checkpoint.h).
  std::vector<Checkpoint> checkpoints = {{head->last_id, head->head_hash, "2026-11-01T10:00:03Z", 0,
                                          std::string(kZeroHash), "k", "s"}};
  auto v = store->Verify(&checkpoints);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->checkpoints_matched, 1);
  Tamper(location_, "DELETE FROM " + Table() + " WHERE id = 3");
  v = store->Verify(&checkpoints);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_NE(v->reason.find("removed from the end"), std::string::npos) << v->reason;
}

// SQLite stores large request bodies ahead of their records (while the
// upstream answers); a record names its body and reads back with it.
// PostgreSQL stores bodies ahead only when asked (bodies_ahead) and with
// durability normal (the store opened here has full): see PgBodyAheadTest.
TEST_P(StoreTest, BodiesStoredAheadReadBackAndVerify) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  if (GetParam() == Backend::kPostgres) {
    EXPECT_FALSE(store->StoresBodiesAhead());
    GTEST_SKIP() << "PostgreSQL with durability full keeps request bodies in their records";
  }
  ASSERT_TRUE(store->StoresBodiesAhead());
  const std::string body = "{\"prompt\":\"" + std::string(20000, 'x') + "\"}";
  auto stored = store->StoreRequestBody(body, /*screened=*/false, "");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  AuditRecord r = Rec("2026-11-01T10:00:00Z", "alice");
  r.request_body = std::nullopt;
  r.request_body_at = stored->at;
  r.request_body_sha256 = stored->sha256;
  ASSERT_TRUE(store->Append(r).ok());
  ASSERT_TRUE(store->Append(Rec("2026-11-01T10:00:01Z", "bob")).ok());
  auto back = store->Get(1, "");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, body);
  auto v = store->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(store->Search("xxxxxxxx")->size(), 1u);
}

// A translated exchange's record, written as the gate writes it (through
// LogWriter, the translated request in its digest): every back-end's chain
// verifies, and one that keeps translated requests reads it back. (The
// PostgreSQL back-end has no place for it: the record's hash covered a body
// the row did not hold, and `log verify` failed on every translated record.)
TEST_P(StoreTest, RegressionATranslatedRecordVerifiesInEveryBackEnd) {
  const std::string translated =
      "{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\",\"content\":\"" +
      std::string(20000, 'y') + "\"}]}";
  {
    auto writer = LogWriter::Open(location_, LogDurability::kNormal,
                                  GetParam() == Backend::kPostgres ? "r1" : "");
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    for (const std::string& body :
         {translated, std::string("{\"model\":\"qwen3\",\"messages\":[]}")}) {
      auto digest = std::make_shared<RequestDigest>();
      digest->original = "{\"model\":\"claude-sonnet-4-5\"}";
      digest->logged_is_original = true;
      digest->screened = true;
      digest->translated = body;
      digest->translated_screened = true;
      (*writer)->PrepareHere(digest);
      std::promise<Status> done;
      AuditRecord r = Rec("2026-11-01T10:00:00Z", "alice");
      r.request_body = std::nullopt;  // the digest's original is the logged body
      (*writer)->Append(
          std::move(r), [&](Status st) { done.set_value(st); }, digest);
      Status st = done.get_future().get();
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }
  auto store = Open(LogStore::OpenMode::kExisting);
  ASSERT_NE(store, nullptr);
  auto v = store->Verify(nullptr);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 2);
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  if (store->KeepsTranslatedBodies() != LogStore::TranslatedBodies::kNotKept) {
    EXPECT_EQ((*all)[0].upstream_request_body.value_or(""), translated);
    EXPECT_NE((*all)[0].upstream_request_body_at, 0) << "20 KB: stored ahead";
    EXPECT_EQ((*all)[1].upstream_request_body_at, 0) << "small: inline";
  }
}

// `glassbox log show` tells these apart by the status code: a record the
// log never had is NotFound, a row that fails its own hash is Corruption.
TEST_P(StoreTest, GetTellsAMissingRecordFromACorruptLog) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "alice")).ok());
  auto missing = store->Get(9, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().message();
  EXPECT_NE(missing.status().message().find("no record "), std::string::npos)
      << missing.status().message();

  Tamper(location_, "UPDATE " + Table() + " SET model = 'edited' WHERE id = 2");
  auto reader = OpenLogStore(location_, LogStore::OpenMode::kExisting, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto edited = (*reader)->Get(2, "");
  ASSERT_FALSE(edited.ok());
  EXPECT_EQ(edited.status().code(), StatusCode::kCorruption) << edited.status().message();
  EXPECT_NE(edited.status().message().find("record_hash does not match"), std::string::npos)
      << edited.status().message();
  EXPECT_TRUE((*reader)->Get(1, "").ok()) << "the records around it still read";
  EXPECT_TRUE((*reader)->Get(3, "").ok());
  EXPECT_EQ((*reader)->Get(9, "").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, ReadersNeedAnExistingLog) {
  if (GetParam() == Backend::kPostgres) {
    auto reader = OpenLogStore(location_, LogStore::OpenMode::kExisting, {});
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.status().message().find("not a glassbox audit log"), std::string::npos);
  } else {
    EXPECT_FALSE(OpenLogStore(location_, LogStore::OpenMode::kExisting, {}).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) {
                           return p.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// PostgreSQL only.
class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgCluster& pg = PgCluster::Get();
    if (!pg.up()) GTEST_SKIP() << "PostgreSQL: " << pg.skip_reason();
    url_ = pg.NewDatabase();
  }
  std::unique_ptr<LogStore> Open(const std::string& replica) {
    auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, {}, replica);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  // The one value `sql` selects on `c`, or "none" when it selects no row.
  static std::string OneValue(PGconn* c, const char* sql) {
    PGresult* q = PQexec(c, sql);
    std::string v = PQntuples(q) == 1 ? PQgetvalue(q, 0, 0) : "none";
    PQclear(q);
    return v;
  }
  std::string url_;
};

TEST_F(PgStoreTest, EachReplicaKeepsItsOwnChainAndVerifyNamesTheBrokenOne) {
  auto a = Open("a");
  auto b = Open("b");
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "u")).ok());
    ASSERT_TRUE(b->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "u")).ok());
  }
  auto reader = OpenLogStore(url_, LogStore::OpenMode::kExisting, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto v = (*reader)->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact);
  EXPECT_EQ(v->chains, 2);
  EXPECT_EQ(v->records, 6);
  // ids restart in each chain: "2" is ambiguous, "b:2" is not.
  EXPECT_FALSE((*reader)->Get(2, "").ok());
  auto b2 = (*reader)->Get(2, "b");
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->replica, "b");
  // The replica is part of the hash: moving a record to another chain breaks it.
  Tamper(url_, "UPDATE gb_records SET model = 'x' WHERE replica = 'b' AND id = 2");
  v = (*reader)->Verify(nullptr);
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_replica, "b");
  EXPECT_EQ(v->bad_id, 2);
}

TEST_F(PgStoreTest, ALargeBodyGoesIntoItsRecord) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  const std::string body = "{\"prompt\":\"" + std::string(100000, 'x') + "\"}";
  auto acknowledged = a->Append(Rec("2026-11-01T10:00:00Z", "alice", body));
  ASSERT_TRUE(acknowledged.ok()) << acknowledged.status().message();
  EXPECT_EQ(acknowledged->id, 1);
  EXPECT_FALSE(acknowledged->request_body) << "the answer does not copy the body again";
  ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:01Z", "bob")).ok());
  auto back = a->Get(1, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, body);
  EXPECT_EQ(back->request_body_at, 0);
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 2);
  AuditRecord by_ref = Rec("2026-11-01T10:00:02Z", "carol");
  by_ref.request_body = std::nullopt;
  by_ref.request_body_at = 1;
  by_ref.request_body_sha256 = std::string(64, '0');
  EXPECT_FALSE(a->Append(by_ref).ok()) << "a record naming a body stored ahead is refused";
}

// Logs written by glassbox versions that stored large bodies ahead of their
// records (gb_bodies) still read and verify, and verify names a body that
// went missing.
TEST_F(PgStoreTest, VerifyNamesABodyStoredAheadThatWentMissing) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  const std::string body(30000, 'y');
  AuditRecord r = Rec("2026-11-01T10:00:00Z", "alice");
  r.replica = "a";
  r.id = 1;
  r.prev_hash = std::string(kZeroHash);
  r.request_body = std::nullopt;
  r.request_body_at = 1;
  r.request_body_sha256 = Sha256Hex(body);
  r.record_hash =
      ComputeRecordHash(r, RecordForm::kV3, r.request_body_sha256, /*request_by_ref=*/true);
  Tamper(url_, "INSERT INTO gb_bodies (replica, id, body) VALUES ('a', 1, convert_to('" + body +
                   "', 'UTF8'))");
  Tamper(url_,
         "INSERT INTO gb_records (replica, id, time, user_name, agent, upstream, model, method, "
         "path, status, "
         "latency_ms, input_tokens, output_tokens, findings, request_body, response_body, "
         "request_sha256, "
         "response_sha256, prev_hash, record_hash, request_body_at) VALUES ('a', 1, '" +
             r.time + "', '" + r.user + "', '" + r.agent + "', '" + r.upstream + "', '" + r.model +
             "', '" + r.method + "', '" + r.path + "', " + std::to_string(r.status) + ", " +
             std::to_string(r.latency_ms) + ", " + std::to_string(r.input_tokens) + ", " +
             std::to_string(r.output_tokens) + ", '" + r.findings + "', NULL, convert_to('" +
             *r.response_body + "', 'UTF8'), '" + r.request_sha256 + "', '" + r.response_sha256 +
             "', '" + r.prev_hash + "', '" + r.record_hash + "', 1)");
  auto back = a->Get(1, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, body);
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  Tamper(url_, "DELETE FROM gb_bodies");
  v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_NE(v->reason.find("request body (stored ahead as body 1) is missing"), std::string::npos)
      << v->reason;
}

// Bodies stored ahead on a lane (durability normal, as the gate runs): the
// body goes out as a group of its own while the upstream answers, the
// record names it, and both read back and verify as one record.
class PgBodyAheadTest : public PgStoreTest {
 protected:
  // Durability normal, bodies inline, and the lanes' threads never reading
  // on their own (lazy_read an hour): only appends and waiting readers do.
  std::unique_ptr<LogStore> OpenReadByAppends(const std::string& replica) {
    LogStore::Options normal;
    normal.durability = LogDurability::kNormal;
    normal.lazy_read = std::chrono::hours(1);
    auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, normal, replica);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  std::unique_ptr<LogStore> OpenNormal(const std::string& replica) {
    LogStore::Options normal;
    normal.durability = LogDurability::kNormal;
    normal.bodies_ahead = true;
    auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, normal, replica);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  static AuditRecord ByRef(std::string time, const LogStore::StoredBody& stored) {
    AuditRecord r = Rec(std::move(time), "alice");
    r.request_body = std::nullopt;
    r.request_body_at = stored.at;
    r.request_body_sha256 = stored.sha256;
    return r;
  }
  // Waits until every group sent is answered (ReadHead quiesces the lanes;
  // it fails while a lane is still resending).
  static void Settled(LogStore& store) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!store.ReadHead().ok() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Runs `sql` on a connection of its own; returns it open (nullptr on a
  // failure) for statements that must stay in their transaction.
  PGconn* Session(const std::string& sql) {
    PGconn* c = PQconnectdb(url_.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    EXPECT_TRUE(ok) << PQresultErrorMessage(r);
    PQclear(r);
    return c;
  }
  static const std::string& Body() {
    static const std::string body = "{\"prompt\":\"" + std::string(100000, 'x') + "\"}";
    return body;
  }
};

TEST_F(PgBodyAheadTest, ABodyStoredAheadReadsBackWithItsRecordAndVerifies) {
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->StoresBodiesAhead());
  std::string body = Body();
  const std::string sha = Sha256Hex(body);
  auto stored = a->TakeRequestBody(&body, /*screened=*/true, sha);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_TRUE(body.empty()) << "the store keeps the bytes it was given, not a copy";
  EXPECT_EQ(stored->sha256, sha);
  AuditRecord r = ByRef("2026-11-01T10:00:00Z", *stored);
  r.request_sha256 = sha;
  ASSERT_TRUE(a->Append(r).ok());
  a->AfterAcknowledged();
  auto back = a->Get(1, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, Body());
  EXPECT_EQ(back->request_body_at, stored->at);
  // The same hash as with the body inline (version 3 hashes it by digest).
  AuditRecord inline_body = *back;
  inline_body.request_body_at = 0;
  EXPECT_EQ(ComputeRecordHash(inline_body, RecordForm::kV3), back->record_hash);
  EXPECT_EQ(a->Search("xxxxxxxx")->size(), 1u);
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->orphan_bodies, 0);
  EXPECT_EQ(a->RecordsLost(), 0u);
}

TEST_F(PgBodyAheadTest, AnUnscreenedBodyIsMaskedBeforeItIsStoredAhead) {
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  std::string key = "sk-ant-api03-";
  const std::string_view alphabet = "Q7xk2M_pLw9-Rt4bN8vZc3Hy6Jd1Fg5S";
  for (size_t i = 0; i < 93; ++i) key += alphabet[(i * 7 + i / 5) % alphabet.size()];
  key += "AA";
  std::string body = "{\"k\":\"" + key + "\",\"p\":\"" + std::string(30000, 'y') + "\"}";
  const std::string original_sha = Sha256Hex(body);
  auto stored = a->TakeRequestBody(&body, /*screened=*/false, original_sha);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_NE(stored->sha256, original_sha) << "the digest is of the masked body";
  AuditRecord r = ByRef("2026-11-01T10:00:00Z", *stored);
  r.request_sha256 = original_sha;
  ASSERT_TRUE(a->Append(r).ok());
  auto back = a->Get(1, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body->find(key), std::string::npos);
  EXPECT_TRUE(a->Verify(nullptr)->intact);
}

// The replica stops (or dies) between a body and its record: the body is
// an orphan. Verify names it and passes; the replica, started again under
// its name, goes on with new body ids.
TEST_F(PgBodyAheadTest, AnOrphanBodyIsNamedByVerifyAndDoesNotBreakIt) {
  int64_t orphan = 0;
  {
    auto a = OpenNormal("a");
    ASSERT_NE(a, nullptr);
    std::string body = Body();
    auto stored = a->TakeRequestBody(&body, true, Sha256Hex(Body()));
    ASSERT_TRUE(stored.ok()) << stored.status().message();
    orphan = stored->at;
  }  // gone before its record
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  std::string body = Body();
  auto stored = a->TakeRequestBody(&body, true, Sha256Hex(Body()));
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_GT(stored->at, orphan) << "body ids are not reused";
  ASSERT_TRUE(a->Append(ByRef("2026-11-01T10:00:00Z", *stored)).ok());
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 1);
  EXPECT_EQ(v->orphan_bodies, 1);
  auto back = a->Get(1, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, Body());
}

// Retention removes the orphans of earlier runs, and only those: a body of
// this run whose record is still to come stays, and so do bodies named by
// a record (of either run) and another replica's orphan.
TEST_F(PgBodyAheadTest, RetentionDeletesOnlyTheOrphansOfEarlierRuns) {
  LogStore::StoredBody named_earlier;
  {
    auto a = OpenNormal("a");
    ASSERT_NE(a, nullptr);
    std::string body = Body();
    auto stored = a->TakeRequestBody(&body, true, Sha256Hex(Body()));
    ASSERT_TRUE(stored.ok()) << stored.status().message();
    named_earlier = *stored;
    ASSERT_TRUE(a->Append(ByRef("2026-11-01T10:00:00Z", named_earlier)).ok());
    for (int i = 0; i < 2; ++i) {  // two orphans
      std::string orphan = Body();
      ASSERT_TRUE(a->TakeRequestBody(&orphan, true, Sha256Hex(Body())).ok());
    }
    Settled(*a);
  }
  {
    auto b = OpenNormal("b");  // another replica's orphan: its own retention's business
    ASSERT_NE(b, nullptr);
    std::string orphan = Body();
    ASSERT_TRUE(b->TakeRequestBody(&orphan, true, Sha256Hex(Body())).ok());
    Settled(*b);
  }
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  std::string body = Body();
  auto in_flight = a->TakeRequestBody(&body, true, Sha256Hex(Body()));
  ASSERT_TRUE(in_flight.ok()) << in_flight.status().message();
  Settled(*a);
  ASSERT_EQ(a->Verify(nullptr)->orphan_bodies, 4) << "two of a's earlier run, b's, a's in flight";
  // A config without [retention] deletes nothing, orphans included.
  ASSERT_TRUE(ApplyRetention(RetentionConfig{}, *a, std::chrono::system_clock::now()).ok());
  EXPECT_EQ(a->Verify(nullptr)->orphan_bodies, 4);

  RetentionConfig keep_all;  // nothing old enough to go by time
  keep_all.days = 36500;
  auto deleted = ApplyRetention(keep_all, *a, std::chrono::system_clock::now());
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 0) << "no record goes";
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->orphan_bodies, 2) << "b's orphan and a's body in flight stay";

  // The body in flight gets its record; a new body takes an id above every
  // one used before, the deleted orphans' included.
  ASSERT_TRUE(a->Append(ByRef("2026-11-02T10:00:00Z", *in_flight)).ok());
  std::string next = Body();
  auto later = a->TakeRequestBody(&next, true, Sha256Hex(Body()));
  ASSERT_TRUE(later.ok()) << later.status().message();
  EXPECT_GT(later->at, in_flight->at);
  ASSERT_TRUE(a->Append(ByRef("2026-11-03T10:00:00Z", *later)).ok());
  v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 3);  // a's three; b stored none
  EXPECT_EQ(v->orphan_bodies, 1);
  for (int64_t id : {int64_t{1}, int64_t{2}, int64_t{3}}) {
    auto back = a->Get(id, "a");
    ASSERT_TRUE(back.ok()) << id << ": " << back.status().message();
    EXPECT_EQ(back->request_body, Body());
  }
}

// The connection is lost (the server ends it, as a restart does) while the
// body's group and the record behind it on the same lane are not yet
// committed: the lane sends both again, in order, once it reconnects, and
// nothing acknowledged is lost.
TEST_F(PgBodyAheadTest, ABodyAndTheRecordBehindItAreSentAgainAfterALostConnection) {
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:00Z", "bob")).ok());
  Settled(*a);
  // The body's INSERT waits for this lock, so its group is in the server
  // and not committed when the connection goes.
  PGconn* blocker = Session("BEGIN; LOCK TABLE gb_bodies IN EXCLUSIVE MODE");
  std::string body = Body();
  auto stored = a->TakeRequestBody(&body, true, Sha256Hex(Body()));
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_TRUE(a->Append(ByRef("2026-11-01T10:00:01Z", *stored)).ok()) << "acknowledged once sent";
  a->AfterAcknowledged();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  PQfinish(
      Session("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
              "'glassbox-lane:a'"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  PGresult* done = PQexec(blocker, "COMMIT");
  PQclear(done);
  PQfinish(blocker);
  Settled(*a);
  EXPECT_EQ(a->RecordsLost(), 0u);
  auto back = a->Get(2, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, Body());
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 2);
  EXPECT_EQ(v->orphan_bodies, 0);
}

int64_t CountRecords(const std::string& url);

// Under load no lane's thread is woken for each group: an append that
// needs a lane takes the answers that have arrived (those of the exchanges
// before it) on its way. Here each append follows the one before after
// 5 ms, as behind an upstream that thinks, so the server has answered by
// then; the lanes' threads read only when an append finds no lane free
// (lazy_read is long here, so they never read on their own).
TEST_F(PgBodyAheadTest, AppendsTakeTheAnswersThatArrivedSoTheLanesThreadsSleep) {
  auto opened = OpenReadByAppends("a");
  ASSERT_NE(opened, nullptr);
  LogStore& a = *opened;
  constexpr int kAppends = 40;
  for (int i = 0; i < kAppends; ++i) {
    ASSERT_TRUE(a.Append(Rec("2026-11-01T10:00:00Z", "alice", Body())).ok());
    a.AfterAcknowledged();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const LogStore::Answers during = a.AnswersRead();
  // Two lanes: every other append finds both busy and reads both answers.
  EXPECT_GE(during.by_appends, uint64_t{kAppends / 2})
      << "read by the lanes' threads: " << during.by_threads;
  EXPECT_LE(during.by_appends + during.by_threads, uint64_t{kAppends});
  Settled(a);  // a reader waits for the rest: the lanes' threads read them
  const LogStore::Answers after = a.AnswersRead();
  EXPECT_EQ(after.by_appends + after.by_threads, uint64_t{kAppends});
  EXPECT_EQ(CountRecords(url_), kAppends);
  auto v = a.Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(a.RecordsLost(), 0u);
}

// An append finds that the connection of an unanswered group is gone (the
// server ended it, as a restart does, while the groups waited for a lock):
// it leaves the group to its lane's thread, which sends it again, and the
// append goes out once a lane is free. Nothing acknowledged is lost.
TEST_F(PgBodyAheadTest, AnAppendThatFindsALostConnectionLeavesTheResendToTheLane) {
  auto opened = OpenReadByAppends("a");
  ASSERT_NE(opened, nullptr);
  LogStore& a = *opened;
  // Both lanes connect (and prepare their statements) before the lock.
  ASSERT_TRUE(a.Append(Rec("2026-11-01T10:00:00Z", "alice")).ok());
  ASSERT_TRUE(a.Append(Rec("2026-11-01T10:00:00Z", "alice")).ok());
  Settled(a);
  PGconn* blocker = Session("BEGIN; LOCK TABLE gb_records IN EXCLUSIVE MODE");
  ASSERT_TRUE(a.Append(Rec("2026-11-01T10:00:01Z", "alice")).ok()) << "acknowledged once sent";
  ASSERT_TRUE(a.Append(Rec("2026-11-01T10:00:02Z", "alice")).ok()) << "on the other lane";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  PQfinish(
      Session("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
              "'glassbox-lane:a'"));
  PGresult* done = PQexec(blocker, "COMMIT");
  PQclear(done);
  PQfinish(blocker);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t threads_before = a.AnswersRead().by_threads;
  auto third = a.Append(Rec("2026-11-01T10:00:03Z", "alice"));
  ASSERT_TRUE(third.ok()) << third.status().message();
  Settled(a);
  EXPECT_GE(a.AnswersRead().by_threads, threads_before + 2) << "both groups were sent again";
  EXPECT_EQ(a.RecordsLost(), 0u);
  EXPECT_EQ(CountRecords(url_), 5);
  auto v = a.Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 5);
}

// The server refuses a body's group (here: another row holds its id): a
// record sent after the refusal was read carries the body itself, with the
// same hash, and verify passes.
TEST_F(PgBodyAheadTest, ABodyTheServerRefusedGoesIntoItsRecord) {
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  std::string first = Body();
  auto stored = a->TakeRequestBody(&first, true, Sha256Hex(Body()));
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_TRUE(a->Append(ByRef("2026-11-01T10:00:00Z", *stored)).ok());
  Settled(*a);
  PQfinish(Session("INSERT INTO gb_bodies (replica, id, body) VALUES ('a', " +
                   std::to_string(stored->at + 1) + ", '\\x00'::bytea)"));
  const std::string second_body = "{\"second\":\"" + std::string(40000, 'z') + "\"}";
  std::string second = second_body;
  auto refused = a->TakeRequestBody(&second, true, Sha256Hex(second_body));
  ASSERT_TRUE(refused.ok()) << "sent; refused by the server later";
  EXPECT_EQ(refused->at, stored->at + 1);
  Settled(*a);  // the refusal is read
  ASSERT_TRUE(a->Append(ByRef("2026-11-01T10:00:01Z", *refused)).ok());
  auto back = a->Get(2, "a");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_body, second_body);
  EXPECT_EQ(back->request_body_at, 0);
  auto v = a->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->orphan_bodies, 1) << "the row that took its place";
  EXPECT_EQ(a->RecordsLost(), 0u);
}

// As the gate runs it: exchanges from several threads through LogWriter,
// each body hashed and sent ahead while "the upstream answers" (PrepareHere),
// then its record; bodies and records interleave on both lanes. Every
// record lands with its own body, nothing is an orphan, the chain verifies.
TEST_F(PgBodyAheadTest, ConcurrentExchangesThroughTheWriterKeepEachBodyWithItsRecord) {
  constexpr int kThreads = 4, kEach = 40;
  {
    auto writer = LogWriter::Open(url_, LogDurability::kNormal, "a", /*bodies_ahead=*/true);
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          const std::string marker = "m-" + std::to_string(t) + "-" + std::to_string(i);
          auto digest = std::make_shared<RequestDigest>();
          // Every third body is small (inline); the rest go ahead.
          digest->original = "{\"marker\":\"" + marker + "\",\"pad\":\"" +
                             std::string(i % 3 == 0 ? 100 : 20000 + 1000 * t, 'p') + "\"}";
          digest->logged_is_original = true;
          digest->screened = true;
          (*writer)->PrepareHere(digest);
          std::promise<Status> done;
          AuditRecord r = Rec("2026-11-01T10:00:00Z", "u" + std::to_string(t));
          r.request_body = std::nullopt;  // the digest's original is the logged body
          (*writer)->Append(
              std::move(r), [&](Status st) { done.set_value(std::move(st)); }, digest);
          if (!done.get_future().get().ok()) failed.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ((*writer)->log().RecordsLost(), 0u);
  }
  auto reader = OpenLogStore(url_, LogStore::OpenMode::kExisting, {});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto v = (*reader)->Verify(nullptr);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, kThreads * kEach);
  EXPECT_EQ(v->orphan_bodies, 0);
  int ahead = 0, checked = 0;
  Status st = (*reader)->ForEach(RecordFilter{}, [&](AuditRecord& r) {
    ++checked;
    if (r.request_body_at != 0) ++ahead;
    EXPECT_TRUE(r.request_body && r.request_body->find("\"marker\":\"m-") != std::string::npos);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(checked, kThreads * kEach);
  EXPECT_GT(ahead, 0) << "large bodies went ahead";
}

// Off unless asked for: the body goes into its record.
TEST_F(PgBodyAheadTest, BodiesGoIntoTheirRecordsUnlessAskedToGoAhead) {
  LogStore::Options normal;
  normal.durability = LogDurability::kNormal;
  auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, normal, "a");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE((*s)->StoresBodiesAhead());
  auto full = OpenNormal("b");
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->StoresBodiesAhead());
}

// A record may name only a body this store stored ahead.
TEST_F(PgBodyAheadTest, ARecordNamingABodyNeverStoredIsRefused) {
  auto a = OpenNormal("a");
  ASSERT_NE(a, nullptr);
  AuditRecord r = Rec("2026-11-01T10:00:00Z", "carol");
  r.request_body = std::nullopt;
  r.request_body_at = 7;
  r.request_body_sha256 = std::string(64, '0');
  auto refused = a->Append(r);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("did not store ahead"), std::string::npos)
      << refused.status().message();
}

TEST_F(PgStoreTest, ASecondWriterWithTheSameReplicaNameIsRefused) {
  auto a = Open("same");
  ASSERT_NE(a, nullptr);
  auto again = OpenLogStore(url_, LogStore::OpenMode::kCreate, {}, "same");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already writing"), std::string::npos)
      << again.status().message();
  a.reset();  // its session ends: the name is free again
  EXPECT_TRUE(OpenLogStore(url_, LogStore::OpenMode::kCreate, {}, "same").ok());
}

TEST_F(PgStoreTest, ASchemaNewerThanThisBuildIsRefused) {
  ASSERT_NE(Open("a"), nullptr);
  Tamper(url_, "UPDATE gb_schema SET version = 99");
  auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, {}, "a");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("schema version 99 is newer"), std::string::npos)
      << s.status().message();
}

// A server that cannot be reached is Unavailable, not "no such log" (no
// cluster needed: nothing listens on 127.0.0.1 port 1).
TEST(PgStoreUnreachable, AStoreThatCannotBeReachedIsUnavailable) {
  auto s =
      OpenLogStore("postgresql://glassbox@127.0.0.1:1/audit", LogStore::OpenMode::kExisting, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().message();
}

TEST_F(PgStoreTest, PasswordsAreMaskedInMessages) {
  EXPECT_EQ(RedactStoreLocation("postgresql://gate:s3cret@db.internal:5432/audit"),
            "postgresql://gate:***@db.internal:5432/audit");
  EXPECT_EQ(RedactStoreLocation("postgresql://gate@db/audit"), "postgresql://gate@db/audit");
  EXPECT_EQ(RedactStoreLocation("/var/log/audit.db"), "/var/log/audit.db");
}

// Concurrent reservations from two replicas against one cap overshoot it by
// at most one request's estimate.
TEST_F(PgStoreTest, SharedBudgetsHoldAcrossReplicas) {
  auto a = Open("a");
  auto b = Open("b");
  ASSERT_TRUE(a && b);
  std::shared_ptr<SharedBudgets> budgets[] = {a->Budgets(), b->Budgets()};
  ASSERT_TRUE(budgets[0] && budgets[1]);
  BudgetCaps caps;
  caps.daily_tokens = 1000;
  constexpr uint64_t kEstimate = 150, kActual = 100;
  std::atomic<int> admitted{0}, refused{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      SharedBudgets& s = *budgets[t % 2];
      for (int i = 0; i < 10; ++i) {
        auto r = s.Reserve("alice", 20000, 243000, kEstimate, 0, caps);
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if (!r->allowed) {
          ++refused;
          EXPECT_EQ(r->budget, "daily_tokens");
          continue;
        }
        ++admitted;
        EXPECT_TRUE(
            s.Settle("alice", 20000, 243000, kEstimate, 0, 20000, 243000, kActual, 0.0).ok());
        s.Flush();  // as the exchange's record commit does
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(refused.load(), 0);
  // Spend is what the admitted exchanges used; it stays within one estimate
  // of the cap.
  const uint64_t spent = static_cast<uint64_t>(admitted.load()) * kActual;
  EXPECT_GE(spent, 1000u - kEstimate);
  EXPECT_LE(spent, 1000u + kEstimate);
  EXPECT_EQ(budgets[0]->failures() + budgets[1]->failures(), 0u);
  // Nothing stays held once every exchange is settled and the replicas
  // have given back their leases (at the latest when they close).
  budgets[0].reset();
  budgets[1].reset();
  a.reset();
  b.reset();
  PGconn* c = PQconnectdb(url_.c_str());
  PGresult* q = PQexec(c, "SELECT coalesce(sum(tokens), 0), count(*) FROM gb_reserved");
  ASSERT_EQ(PQresultStatus(q), PGRES_TUPLES_OK) << PQresultErrorMessage(q);
  EXPECT_STREQ(PQgetvalue(q, 0, 0), "0");
  EXPECT_STRNE(PQgetvalue(q, 0, 1), "0") << "both replicas held leases";
  PQclear(q);
  PQfinish(c);
}

// A replica admits from its lease without asking the database while the
// lease covers the estimate; what it holds is visible to every replica, so
// another replica is refused once spend plus holdings reach the cap.
TEST_F(PgStoreTest, ALeaseAdmitsLocallyAndCountsForEveryReplica) {
  auto a = Open("a");
  auto b = Open("b");
  ASSERT_TRUE(a && b);
  BudgetCaps caps;
  caps.daily_tokens = 1000;
  // The first admission takes a lease of up to 8 estimates (800 tokens).
  auto first = a->Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
  ASSERT_TRUE(first.ok() && first->allowed);
  PGconn* c = PQconnectdb(url_.c_str());
  auto held_by_a = [&] {
    return OneValue(c, "SELECT tokens FROM gb_reserved WHERE replica = 'a' AND kind = 'd'");
  };
  EXPECT_EQ(held_by_a(), "800");
  // The next three come from the lease: the database is not asked (its
  // holdings do not change; a top-up is asked for only once less than half
  // of the lease is left).
  for (int i = 0; i < 3; ++i) {
    auto r = a->Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
    ASSERT_TRUE(r.ok() && r->allowed);
  }
  EXPECT_EQ(held_by_a(), "800");
  // b sees a's holdings: 200 tokens remain, b's lease is capped there (and
  // b's top-up, once it spent half, is refused like its next admission).
  auto r = b->Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
  ASSERT_TRUE(r.ok() && r->allowed);
  r = b->Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
  ASSERT_TRUE(r.ok() && r->allowed);
  r = b->Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed) << "spend plus holdings reached the cap";
  EXPECT_EQ(r->budget, "daily_tokens");
  EXPECT_TRUE(r->held);
  PQfinish(c);
}

int64_t CountRecords(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* q = PQexec(c, "SELECT count(*) FROM gb_records");
  const int64_t n = PQresultStatus(q) == PGRES_TUPLES_OK ? std::stoll(PQgetvalue(q, 0, 0)) : -1;
  PQclear(q);
  PQfinish(c);
  return n;
}

// With durability full an append returns once its records are committed:
// another connection sees them at once.
// A lease top-up is queued inside the exchange's admission but the settle
// thread is woken for it only once the exchange's response is written
// (AfterAcknowledged): a wake-up there sat on the client's path about every
// fourth budgeted exchange. Here the thread never looks on its own
// (lease_idle an hour, no settlements), so each top-up waits for the call.
TEST_F(PgStoreTest, ALeaseTopUpWaitsUntilTheExchangeIsAnswered) {
  LogStore::Options options;
  options.lease_idle = std::chrono::hours(1);
  auto opened = OpenLogStore(url_, LogStore::OpenMode::kCreate, options, "a");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  LogStore& a = **opened;
  BudgetCaps caps;
  caps.daily_tokens = 1000000;
  PGconn* c = PQconnectdb(url_.c_str());
  auto held_by_a = [&] {
    return OneValue(c, "SELECT tokens FROM gb_reserved WHERE replica = 'a' AND kind = 'd'");
  };
  auto reserve = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto r = a.Budgets()->Reserve("alice", 20000, 243000, 100, 0, caps);
      ASSERT_TRUE(r.ok() && r->allowed);
    }
  };
  auto wait_for_held = [&](const std::string& want) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (held_by_a() != want && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return held_by_a();
  };
  reserve(1);  // a lease of 8 estimates, taken in the admission itself
  EXPECT_EQ(held_by_a(), "800");
  // For two top-ups in a row (the first also starts the thread): the lease
  // is less than half left after the fifth admission since the last.
  for (const char* topped_up : {"1600", "2400"}) {
    reserve(topped_up == std::string("1600") ? 4 : 8);
    const std::string before = held_by_a();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(held_by_a(), before) << "no top-up before the exchange is answered";
    a.AfterAcknowledged();
    EXPECT_EQ(wait_for_held(topped_up), topped_up);
  }
  PQfinish(c);
  EXPECT_EQ(a.Budgets()->failures(), 0u);
}

TEST_F(PgStoreTest, DurabilityFullReturnsOnceCommitted) {
  LogStore::Options full;
  full.durability = LogDurability::kFull;
  auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, full, "a");
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*s)->Append(Rec("2026-11-01T10:00:0" + std::to_string(i) + "Z", "alice")).ok());
    EXPECT_EQ(CountRecords(url_), i + 1);
  }
}

// With durability normal an append returns once its records are sent; the
// lanes' threads confirm them. Many appends in a row (groups on both lanes,
// bodies large and small) all land, in one unbroken chain.
TEST_F(PgStoreTest, DurabilityNormalAppendsOnceSentAndEveryRecordLands) {
  LogStore::Options normal;
  normal.durability = LogDurability::kNormal;
  auto s = OpenLogStore(url_, LogStore::OpenMode::kCreate, normal, "a");
  ASSERT_TRUE(s.ok()) << s.status().message();
  constexpr int kRecords = 60;
  for (int i = 0; i < kRecords; ++i) {
    std::vector<AuditRecord> batch = {
        Rec("2026-11-01T10:00:00Z", "alice", i % 3 ? "{}" : std::string(50000, 'b'))};
    if (i % 4 == 0) batch.push_back(Rec("2026-11-01T10:00:01Z", "bob"));
    ASSERT_TRUE((*s)->AppendBatch(std::move(batch)).ok());
  }
  auto head = (*s)->ReadHead();  // waits until no group is in flight
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->last_id, kRecords + kRecords / 4);
  EXPECT_EQ(CountRecords(url_), kRecords + kRecords / 4);
  auto v = (*s)->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
}

// A settlement queued before its exchange's record commits in the record's
// own transaction: the spend is in the ledger exactly when the record is in
// the log (both rows carry the same xmin, the id of the transaction that
// wrote them).
TEST_F(PgStoreTest, ASettlementCommitsWithItsExchangesRecord) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  std::shared_ptr<SharedBudgets> budgets = a->Budgets();
  ASSERT_NE(budgets, nullptr);
  BudgetCaps caps;
  caps.daily_tokens = 1000;
  auto r = budgets->Reserve("alice", 20000, 243000, 150, 0, caps);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->allowed);
  ASSERT_TRUE(budgets->Settle("alice", 20000, 243000, 150, 0, 20000, 243000, 100, 0.0).ok());
  ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:00Z", "alice")).ok());
  ASSERT_TRUE(a->ReadHead().ok());  // waits until the record's group is confirmed
  PGconn* c = PQconnectdb(url_.c_str());
  PGresult* q = PQexec(
      c,
      "SELECT b.spent_tokens, b.xmin::text = r.xmin::text, "
      "(SELECT tokens FROM gb_reserved WHERE kind = 'd') "
      "FROM gb_budget b, gb_records r WHERE b.user_name = 'alice' AND b.kind = 'd' AND r.id = 1");
  ASSERT_EQ(PQresultStatus(q), PGRES_TUPLES_OK) << PQresultErrorMessage(q);
  ASSERT_EQ(PQntuples(q), 1);
  EXPECT_STREQ(PQgetvalue(q, 0, 0), "100");
  EXPECT_STREQ(PQgetvalue(q, 0, 1), "t") << "the spend and the record commit together";
  // The lease took 1,000 (8 estimates, capped at the cap); the exchange's
  // 150 is released with its record: what stays held is the lease's rest.
  EXPECT_STREQ(PQgetvalue(q, 0, 2), "850") << "the estimate is released with the record";
  PQclear(q);
  PQfinish(c);
  EXPECT_EQ(budgets->failures(), 0u);
}

// Settle() does not wake the settle thread (a record usually takes the
// settlement first); a settlement no record takes is still applied by it,
// both when the thread was asleep (the first) and while it looks every
// kSettleDelay on its own (the second, right after).
TEST_F(PgStoreTest, ASettlementNoRecordTakesIsAppliedWithoutFlush) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  std::shared_ptr<SharedBudgets> budgets = a->Budgets();
  ASSERT_NE(budgets, nullptr);
  BudgetCaps caps;
  caps.daily_tokens = 100000;
  PGconn* c = PQconnectdb(url_.c_str());
  auto spent = [&] { return OneValue(c, "SELECT spent_tokens FROM gb_budget WHERE kind = 'd'"); };
  auto wait_for_spent = [&](const std::string& want) {
    for (int i = 0; i < 1000 && spent() != want; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return spent();
  };
  for (const char* want : {"10", "20"}) {
    auto r = budgets->Reserve("alice", 20000, 243000, 100, 0, caps);
    ASSERT_TRUE(r.ok() && r->allowed);
    ASSERT_TRUE(budgets->Settle("alice", 20000, 243000, 100, 0, 20000, 243000, 10, 0.0).ok());
    EXPECT_EQ(wait_for_spent(want), want);
  }
  PQfinish(c);
  EXPECT_EQ(budgets->failures(), 0u);
}

// A record acknowledged on send (durability normal) that the server then
// refuses is counted (RecordsLost, behind the metric
// glassbox_gate_log_records_lost_total and the health field records_lost),
// not only named on stderr.
TEST_F(PgStoreTest, RegressionARecordAcknowledgedButNotStoredIsCounted) {
  LogStore::Options normal;
  normal.durability = LogDurability::kNormal;
  auto opened = OpenLogStore(url_, LogStore::OpenMode::kCreate, normal, "a");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<LogStore>& a = *opened;
  ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:00Z", "alice")).ok());
  ASSERT_TRUE(a->ReadHead().ok());  // record 1 is stored
  EXPECT_EQ(a->RecordsLost(), 0u);
  // Another writer takes the place of record 2, so the server refuses the
  // group that carries it after the store acknowledged it.
  PGconn* c = PQconnectdb(url_.c_str());
  PGresult* q = PQexec(
      c,
      "INSERT INTO gb_records (replica, id, time, user_name, agent, upstream, model, method, "
      "path, status, latency_ms, input_tokens, output_tokens, findings, request_sha256, "
      "response_sha256, prev_hash, record_hash) SELECT replica, 2, time, user_name, agent, "
      "upstream, model, method, path, status, latency_ms, input_tokens, output_tokens, findings, "
      "request_sha256, response_sha256, prev_hash, record_hash FROM gb_records WHERE id = 1");
  ASSERT_EQ(PQresultStatus(q), PGRES_COMMAND_OK) << PQresultErrorMessage(q);
  PQclear(q);
  PQfinish(c);
  ASSERT_TRUE(a->Append(Rec("2026-11-01T10:00:01Z", "bob")).ok()) << "acknowledged once sent";
  (void)a->ReadHead();  // waits until the group's answer is read
  EXPECT_EQ(a->RecordsLost(), 1u);
}

// Regression: a lane's thread is no longer woken while the exchange that
// sent the group still has its client to answer; the LogWriter wakes it
// once the append's callback ran (LogStore::AfterAcknowledged). Without
// that wake-up nothing would read the group's answer until the next append
// or read: here nothing else touches the store, yet the refused group is
// noticed (counted as lost).
TEST_F(PgStoreTest, RegressionTheLaneReadsItsGroupsAnswerOnceTheAppendIsAnswered) {
  auto writer = LogWriter::Open(url_, LogDurability::kNormal, "a");
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  auto append = [&](AuditRecord r) {
    std::promise<Status> done;
    (*writer)->Append(std::move(r), [&](Status st) { done.set_value(std::move(st)); });
    return done.get_future().get();
  };
  ASSERT_TRUE(append(Rec("2026-11-01T10:00:00Z", "alice")).ok());
  ASSERT_TRUE((*writer)->log().ReadHead().ok());  // record 1 is stored
  // Another writer takes the place of record 2 (as in the test above).
  PGconn* c = PQconnectdb(url_.c_str());
  PGresult* q = PQexec(
      c,
      "INSERT INTO gb_records (replica, id, time, user_name, agent, upstream, model, method, "
      "path, status, latency_ms, input_tokens, output_tokens, findings, request_sha256, "
      "response_sha256, prev_hash, record_hash) SELECT replica, 2, time, user_name, agent, "
      "upstream, model, method, path, status, latency_ms, input_tokens, output_tokens, findings, "
      "request_sha256, response_sha256, prev_hash, record_hash FROM gb_records WHERE id = 1");
  ASSERT_EQ(PQresultStatus(q), PGRES_COMMAND_OK) << PQresultErrorMessage(q);
  PQclear(q);
  PQfinish(c);
  ASSERT_TRUE(append(Rec("2026-11-01T10:00:01Z", "bob")).ok()) << "acknowledged once sent";
  // Only the lane's own thread can notice the refusal now.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*writer)->log().RecordsLost() == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ((*writer)->log().RecordsLost(), 1u);
}

}  // namespace
}  // namespace glassbox::gate
