#include "gate/audit_log.h"

#include "core/locate.h"
#include "gate/body_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace glassbox::gate {
namespace {

constexpr const char* kKey =
    "sk-ant-api03-AM1P09_Z0XSSJMgb2cSMQUOVPPG4gGw2c9idUV-"
    "WwVTVw5zwpz26Pu0TejDL1bm8YMp8sNQYiE1aVwlslaRkAB145S6PzAA";

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("glassbox-audit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "audit.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<AuditLog> OpenLog() {
    auto log = AuditLog::Open(path_, AuditLog::OpenMode::kCreate);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return std::move(log).value();
  }
  static AuditRecord Sample(int n) {
    AuditRecord r;
    r.time = "2026-11-2" + std::to_string(n % 10) + "T10:00:00Z";
    r.user = "alice";
    r.agent = "claude-code";
    r.upstream = "https://api.anthropic.com";
    r.model = "claude-test";
    r.method = "POST";
    r.path = "/v1/messages";
    r.status = 200;
    r.latency_ms = 100 + n;
    r.input_tokens = 10;
    r.output_tokens = 20;
    r.request_body = "{\"n\":" + std::to_string(n) + "}";
    r.response_body = std::nullopt;
    r.request_sha256 = std::string(kZeroHash);
    r.response_sha256 = std::string(kZeroHash);
    return r;
  }
  void RawSql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  int64_t QueryInt(const std::string& sql) {
    sqlite3* db = nullptr;
    int64_t out = -1;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(AuditLogTest, AppendReopenVerify) {
  {
    auto log = OpenLog();
    auto first = log->Append(Sample(1));
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_EQ(first->id, 1);
    EXPECT_EQ(first->prev_hash, kZeroHash);
    EXPECT_EQ(first->record_hash,
              ComputeRecordHash(*first, RecordForm::kV2));  // a new log is version 2
    auto second = log->Append(Sample(2));
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->prev_hash, first->record_hash);
  }
  auto log = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_TRUE((*log)->Append(Sample(3)).ok());
  auto v = (*log)->Verify();
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 3);
  auto got = (*log)->Get(2);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->request_body, "{\"n\":2}");
  EXPECT_FALSE(got->response_body.has_value());
  EXPECT_EQ((*log)->Search("\"n\":3")->size(), 1u);
}

TEST_F(AuditLogTest, AppendBatchChainsInOrderAndIsAllOrNothing) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(Sample(1)).ok());
  auto batch = log->AppendBatch({Sample(2), Sample(3), Sample(4)});
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*batch)[0].id, 2);
  EXPECT_EQ((*batch)[2].id, 4);
  EXPECT_EQ((*batch)[2].prev_hash, (*batch)[1].record_hash);
  AuditRecord bad = Sample(6);
  bad.time = "yesterday";
  EXPECT_FALSE(log->AppendBatch({Sample(5), bad}).ok());
  auto v = log->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 4);  // the failed batch stored nothing
}

TEST_F(AuditLogTest, RejectsTimesThatAreNotRfc3339Utc) {
  EXPECT_TRUE(IsRfc3339Utc("2026-11-23T12:00:00Z"));
  EXPECT_TRUE(IsRfc3339Utc("2026-11-23T12:00:00.123Z"));
  EXPECT_FALSE(IsRfc3339Utc("2026-11-23T12:00:00+01:00"));
  EXPECT_FALSE(IsRfc3339Utc("2026-11-23 12:00:00Z"));
  EXPECT_FALSE(IsRfc3339Utc(""));
  auto log = OpenLog();
  AuditRecord r = Sample(1);
  r.time = "yesterday";
  EXPECT_FALSE(log->Append(r).ok());
  EXPECT_FALSE(log->DeleteBefore("2026").ok());
  EXPECT_EQ(log->List()->size(), 0u);
}

TEST_F(AuditLogTest, CanonicalFormIsLengthPrefixed) {
  AuditRecord a = Sample(1);
  AuditRecord b = a;
  a.user = "ab";
  a.agent = "c";
  b.user = "a";
  b.agent = "bc";
  AuditRecord empty = Sample(1);
  AuditRecord null = Sample(1);
  empty.response_body = "";
  for (RecordForm form : {RecordForm::kV1, RecordForm::kV2}) {
    EXPECT_NE(ComputeRecordHash(a, form), ComputeRecordHash(b, form));
    EXPECT_NE(ComputeRecordHash(empty, form), ComputeRecordHash(null, form));
  }
  EXPECT_NE(ComputeRecordHash(a, RecordForm::kV1), ComputeRecordHash(a, RecordForm::kV2));
}

// ComputeRecordHash streams the fields into SHA-256; it must hash exactly
// the documented canonical bytes of either version.
TEST_F(AuditLogTest, RecordHashIsTheHashOfTheCanonicalForm) {
  AuditRecord r = Sample(3);
  r.id = 42;
  r.status = -5;
  r.request_body = std::string(100000, 'x') + "\xC3\xA9";
  r.response_body = "";
  r.prev_hash = std::string(kZeroHash);
  for (RecordForm form : {RecordForm::kV1, RecordForm::kV2}) {
    EXPECT_EQ(ComputeRecordHash(r, form), Sha256Hex(CanonicalRecord(r, form)));
  }
  EXPECT_EQ(CanonicalRecord(r, RecordForm::kV1).rfind("glassbox-audit-v1\ns2:42s", 0), 0u);
  // Version 2: bodies by their SHA-256.
  const std::string v2 = CanonicalRecord(r, RecordForm::kV2);
  EXPECT_EQ(v2.rfind("glassbox-audit-v2\ns2:42s", 0), 0u) << v2;
  EXPECT_NE(v2.find("h" + Sha256Hex(*r.request_body) + "h" + Sha256Hex("") + "s64:"),
            std::string::npos)
      << v2;
  EXPECT_LT(v2.size(), 1000u);
  r.request_body = std::nullopt;
  r.response_body = "{}";
  for (RecordForm form : {RecordForm::kV1, RecordForm::kV2}) {
    EXPECT_EQ(ComputeRecordHash(r, form), Sha256Hex(CanonicalRecord(r, form)));
  }
}

// A log written before version 2 keeps its version-1 records; the first
// writer that opens it continues with version 2 from the next id, and the
// chain verifies across the switch. Edited bodies are caught in both.
TEST_F(AuditLogTest, OlderLogsSwitchToVersion2AtTheNextRecord) {
  OpenLog();
  RawSql("DELETE FROM meta WHERE key = 'v2_from'");  // as a log from before version 2
  {
    auto old_writer = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
    ASSERT_TRUE(old_writer.ok());
    for (int i = 1; i <= 3; ++i) {
      auto stored = (*old_writer)->Append(Sample(i));
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(stored->record_hash, ComputeRecordHash(*stored, RecordForm::kV1));
    }
  }
  auto log = OpenLog();  // a writer: version 2 from id 4
  for (int i = 4; i <= 6; ++i) {
    AuditRecord r = Sample(i);
    r.response_body = "{\"answer\":" + std::to_string(i) + "}";
    auto stored = log->Append(r);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->record_hash, ComputeRecordHash(*stored, RecordForm::kV2));
  }
  auto v = log->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 6);
  RawSql("UPDATE records SET response_body = '{\"answer\":0}' WHERE id = 5");
  v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 5);
  RawSql("UPDATE records SET response_body = '{\"answer\":5}' WHERE id = 5");
  EXPECT_TRUE(log->Verify()->intact);
  RawSql("UPDATE records SET request_body = '{\"n\":0}' WHERE id = 2");
  v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 2);
}

// The caller's digest of a screened request body is what the version-2 hash
// uses; a digest that does not match the body shows up in Verify().
TEST_F(AuditLogTest, CallersRequestDigestIsUsedOnlyForScreenedBodies) {
  auto log = OpenLog();
  AuditRecord r = Sample(1);
  r.request_body = "{\"content\":\"hello\"}";
  r.request_body_screened = true;
  r.request_body_sha256 = Sha256Hex(*r.request_body);
  ASSERT_TRUE(log->Append(r).ok());
  AuditRecord unscreened = Sample(2);
  unscreened.request_body = std::string("{\"key\":\"") + kKey + "\"}";
  unscreened.request_body_sha256 = Sha256Hex("not this");  // ignored: the body is masked
  ASSERT_TRUE(log->Append(unscreened).ok());
  EXPECT_TRUE(log->Verify()->intact);
  AuditRecord wrong = Sample(3);
  wrong.request_body_screened = true;
  wrong.request_body_sha256 = Sha256Hex("something else");
  ASSERT_TRUE(log->Append(wrong).ok());
  auto v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 3);
}

// Both durability levels store WAL-mode logs that verify; "normal" sets
// synchronous=NORMAL on the writer's connection, "full" synchronous=FULL.
TEST_F(AuditLogTest, DurabilityLevels) {
  for (LogDurability d : {LogDurability::kNormal, LogDurability::kFull}) {
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    AuditLog::Options options;
    options.durability = d;
    auto log = AuditLog::Open(path_, AuditLog::OpenMode::kCreate, options);
    ASSERT_TRUE(log.ok()) << log.status().message();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->Append(Sample(i)).ok());
    EXPECT_TRUE((*log)->Verify()->intact);
    EXPECT_EQ((*log)->List()->size(), 3u);
    EXPECT_TRUE(std::filesystem::exists(path_ + "-wal")) << LogDurabilityName(d);
  }
}

// With auto_checkpoint off the writer never copies the WAL into the
// database; a second connection's Checkpoint() does, while the writer keeps
// appending, and the chain stays whole.
TEST_F(AuditLogTest, CheckpointsFromASecondConnection) {
  AuditLog::Options options;
  options.durability = LogDurability::kNormal;
  options.auto_checkpoint = false;
  auto writer = AuditLog::Open(path_, AuditLog::OpenMode::kCreate, options);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  auto checkpointer = AuditLog::Open(path_, AuditLog::OpenMode::kExisting, options);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status().message();
  const auto db_size = [&] { return std::filesystem::file_size(path_); };
  const uintmax_t before = db_size();
  for (int i = 0; i < 40; ++i) {
    AuditRecord r = Sample(i);
    r.request_body = std::string(20000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE((*writer)->Append(r).ok());
  }
  EXPECT_EQ(db_size(), before) << "nothing is copied without a checkpoint";
  auto frames = (*checkpointer)->Checkpoint();
  ASSERT_TRUE(frames.ok()) << frames.status().message();
  EXPECT_GT(frames->copied_frames, 100);
  EXPECT_EQ(frames->copied_frames, frames->wal_frames);
  EXPECT_GT(db_size(), before + 40 * 20000);
  ASSERT_TRUE((*writer)->Append(Sample(41)).ok());
  EXPECT_EQ((*checkpointer)->List()->size(), 41u);
  EXPECT_TRUE((*checkpointer)->Verify()->intact);
  // The append after a full copy started the WAL over: a few frames, not 300.
  auto again = (*checkpointer)->Checkpoint(AuditLog::CheckpointMode::kRestart);
  ASSERT_TRUE(again.ok());
  EXPECT_LT(again->wal_frames, 20);
}

// A request body the caller marks as screened (the gate's policy scanned it
// with the same rules and found nothing) is stored without a second scan;
// the response body, path and findings are still masked. Unmarked bodies
// are masked as before.
TEST_F(AuditLogTest, ScreenedRequestBodySkipsOnlyTheRequestScan) {
  auto log = OpenLog();
  AuditRecord r = Sample(1);
  r.request_body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
  r.request_body_screened = true;
  r.response_body = std::string("ANTHROPIC_API_KEY=") + kKey;
  r.findings = std::string("[{\"message\":\"") + kKey + "\"}]";
  auto stored = log->Append(r);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(*stored->request_body, *r.request_body);
  EXPECT_EQ(stored->response_body->find(kKey), std::string::npos);
  EXPECT_EQ(stored->findings.find(kKey), std::string::npos);
  AuditRecord unmarked = Sample(2);
  unmarked.request_body = std::string("{\"system\":\"key ") + kKey + "\"}";
  auto masked = log->Append(unmarked);
  ASSERT_TRUE(masked.ok());
  EXPECT_EQ(masked->request_body->find(kKey), std::string::npos) << *masked->request_body;
  EXPECT_EQ(log->Search(kKey)->size(), 0u);
  EXPECT_TRUE(log->Verify()->intact);
}

// Provenance markers share the rule engine but are no secrets: stored as
// they are, while a secret beside them is masked.
TEST_F(AuditLogTest, ProvenanceMarkersAreNotMasked) {
  EXPECT_TRUE(IsMaskedRule("secret/anthropic-api-key"));
  EXPECT_FALSE(IsMaskedRule("provenance/co-authored-by-agent"));
  auto log = OpenLog();
  AuditRecord r = Sample(1);
  const std::string marker = "Fix parser\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n";
  r.response_body = marker + "ANTHROPIC_API_KEY=" + kKey;
  auto stored = log->Append(r);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->response_body->rfind(marker, 0), 0u) << *stored->response_body;
  EXPECT_EQ(stored->response_body->find(kKey), std::string::npos);
}

// Bodies stored ahead of their records read back as the records' request
// bodies, are covered by Verify() (edited or missing bodies name the
// record), and are masked unless screened. They live in the body store
// beside the database, not in it.
TEST_F(AuditLogTest, RequestBodiesStoredAheadOfTheirRecords) {
  auto log = OpenLog();
  const std::string big = "{\"content\":\"" + std::string(50000, 'p') + " needle\"}";
  auto stored = log->StoreRequestBody(big, /*screened=*/true, Sha256Hex(big));
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(stored->sha256, Sha256Hex(big));
  AuditRecord r = Sample(1);
  r.request_body = std::nullopt;
  r.request_body_at = stored->at;
  r.request_body_sha256 = stored->sha256;
  ASSERT_TRUE(log->Append(r).ok());
  // Not screened: masked before it is stored.
  const std::string with_key = std::string("{\"system\":\"") + kKey + "\"}";
  auto masked = log->StoreRequestBody(with_key, /*screened=*/false, "");
  ASSERT_TRUE(masked.ok());
  AuditRecord r2 = Sample(2);
  r2.request_body = std::nullopt;
  r2.request_body_at = masked->at;
  r2.request_body_sha256 = masked->sha256;
  ASSERT_TRUE(log->Append(r2).ok());
  ASSERT_TRUE(log->Append(Sample(3)).ok());  // an inline body beside them

  auto list = log->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].request_body.value_or(""), big);
  EXPECT_EQ((*list)[1].request_body.value_or("").find(kKey), std::string::npos);
  EXPECT_NE((*list)[1].request_body.value_or("").find("sk-ant-"), std::string::npos);
  EXPECT_EQ((*list)[2].request_body.value_or(""), "{\"n\":3}");
  EXPECT_EQ(log->Search("needle")->size(), 1u);
  EXPECT_EQ(log->Search(kKey)->size(), 0u);
  auto v = log->Verify();
  EXPECT_TRUE(v->intact) << v->reason;

  // Not in the database: its file holds no copy of the body.
  std::ifstream db_file(path_, std::ios::binary);
  const std::string db_bytes((std::istreambuf_iterator<char>(db_file)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(db_bytes.find("pppppppp needle"), std::string::npos);
  const std::string segment = path_ + "-bodies/00000001.seg";
  ASSERT_TRUE(std::filesystem::exists(segment));

  // A record naming a stored body must not carry one inline too.
  AuditRecord both = Sample(4);
  both.request_body_at = stored->at;
  both.request_body_sha256 = stored->sha256;
  EXPECT_FALSE(log->Append(both).ok());

  // An edited body breaks its record; put back, the chain is whole again.
  auto patch = [&](uint64_t offset, std::string_view bytes) {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  const uint64_t first =
      static_cast<uint64_t>(stored->at) & ((uint64_t{1} << BodyStore::kOffsetBits) - 1);
  patch(first + BodyStore::kHeaderBytes + 20, "X");
  v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 1);
  patch(first + BodyStore::kHeaderBytes + 20, "p");
  EXPECT_TRUE(log->Verify()->intact);
  // A body cut off the end of its segment is named as missing.
  const uint64_t second =
      static_cast<uint64_t>(masked->at) & ((uint64_t{1} << BodyStore::kOffsetBits) - 1);
  std::filesystem::resize_file(segment, second + 10);
  v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 2);
  EXPECT_NE(v->reason.find("missing from"), std::string::npos) << v->reason;
  list = log->List();
  EXPECT_FALSE((*list)[1].request_body.has_value());
}

// Segments go once no record names a body in them and they are an hour old
// (a body whose record never came goes with its segment); the newest stays.
// A second writer cannot append to a store another holds.
TEST_F(AuditLogTest, StoredBodiesFollowRetentionAndOrphansExpire) {
  AuditLog::Options options;
  options.body_segment_bytes = 64;  // one body per segment
  auto open = [&] {
    auto log = AuditLog::Open(path_, AuditLog::OpenMode::kCreate, options);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return std::move(log).value();
  };
  const std::string dir = path_ + "-bodies";
  auto segments = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() == ".seg") names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  auto age_all = [&] {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      std::filesystem::last_write_time(
          e.path(), std::filesystem::last_write_time(e.path()) - std::chrono::hours(2));
    }
  };
  {
    auto log = open();
    for (int i = 1; i <= 3; ++i) {
      const std::string body =
          "{\"turn\":" + std::to_string(i) + ",\"pad\":\"" + std::string(60, 'x') + "\"}";
      auto stored = log->StoreRequestBody(body, true, Sha256Hex(body));
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(BodyStore::SegmentOf(stored->at), static_cast<uint64_t>(i));
      AuditRecord r = Sample(i);
      r.request_body = std::nullopt;
      r.request_body_at = stored->at;
      r.request_body_sha256 = stored->sha256;
      ASSERT_TRUE(log->Append(r).ok());
    }
    ASSERT_TRUE(
        log->StoreRequestBody(std::string(100, 'o'), true, "").ok());  // its record never came
    EXPECT_EQ(segments().size(), 4u);
    // Another writer on the same log stores nothing ahead (the gate then
    // keeps the body inline).
    auto other = open();
    auto refused = other->StoreRequestBody("{}", true, "");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("another gate"), std::string::npos)
        << refused.status().message();
    ASSERT_TRUE(log->SyncBodies().ok());

    auto deleted = log->DeleteBefore("2026-11-23T00:00:00Z");  // records 1 and 2 (times 21, 22)
    ASSERT_TRUE(deleted.ok());
    EXPECT_EQ(*deleted, 2);
    EXPECT_EQ(segments().size(), 4u) << "young segments stay: a record may still be on its way";
    age_all();
    ASSERT_TRUE(log->DeleteBefore("2026-11-23T00:00:00Z").ok());
    EXPECT_EQ(segments(), (std::vector<std::string>{"00000003.seg", "00000004.seg"}));
    EXPECT_TRUE(log->Verify()->intact);
  }
  // Once record 3 goes too, its segment follows; the newest (the orphan's)
  // stays for the next body.
  {
    auto log = open();
    ASSERT_TRUE(log->DeleteBefore("2026-11-24T00:00:00Z").ok());
    age_all();
  }
  auto log = open();  // a writer opening the log prunes too
  EXPECT_EQ(segments(), (std::vector<std::string>{"00000004.seg"}));
  auto stored = log->StoreRequestBody("{\"after\":1}", true, "");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(BodyStore::SegmentOf(stored->at), 5u) << "the 100-byte orphan filled segment 4";
}

// Logs written before the body store kept stored bodies in a `bodies` table
// named by request_body_ref: they still read and verify.
TEST_F(AuditLogTest, BodiesInTheOlderBodiesTableStillRead) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(Sample(1)).ok());
  }
  // Such a log: the table and the column (new logs have neither), before
  // the schema ladder (user_version 0).
  RawSql(
      "CREATE TABLE bodies(id INTEGER PRIMARY KEY, created INTEGER NOT NULL, data TEXT NOT NULL);"
      "ALTER TABLE records ADD COLUMN request_body_ref INTEGER; PRAGMA user_version = 0");
  const std::string body = "{\"old\":\"stored ahead in the table\"}";
  RawSql("INSERT INTO bodies(id, created, data) VALUES (7, 0, '" + body + "')");
  // Record 1 as such a writer made it: body by reference, hashed as version 2.
  AuditRecord r = Sample(1);
  r.id = 1;
  r.request_body = body;
  r.prev_hash = std::string(kZeroHash);
  RawSql("UPDATE records SET request_body = NULL, request_body_ref = 7, record_hash = '" +
         ComputeRecordHash(r, RecordForm::kV2) + "' WHERE id = 1");
  RawSql("UPDATE meta SET value = '1' WHERE key = 'v2_from'");
  auto log = OpenLog();  // a writer now: the body has its record, so it is no orphan
  auto list = log->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().request_body.value_or(""), body);
  auto v = log->Verify();
  EXPECT_TRUE(v->intact) << v->reason;
}

// Issue 20: new logs still created the dead `bodies` table (bodies live in
// the body store since PATH-bodies/ came).
TEST_F(AuditLogTest, RegressionIssue20_NewLogHasNoBodiesTableAndTheCurrentSchemaVersion) {
  ASSERT_TRUE(OpenLog()->Append(Sample(1)).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'bodies'"), 0);
  EXPECT_EQ(
      QueryInt("SELECT count(*) FROM pragma_table_info('records') WHERE name = 'request_body_ref'"),
      0);
  EXPECT_EQ(
      QueryInt("SELECT count(*) FROM pragma_table_info('records') WHERE name = 'request_body_at'"),
      1);
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 4);
}

// A log from before the schema ladder (user_version 0) with the first
// schema only: a writer's open adds what later steps add and stamps the
// version; its records still verify and new ones chain on.
TEST_F(AuditLogTest, APreLadderLogClimbsTheLadder) {
  RawSql(
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE records(id INTEGER PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, agent "
      "TEXT NOT NULL,"
      " upstream TEXT NOT NULL, model TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
      " status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, input_tokens INTEGER NOT NULL,"
      " output_tokens INTEGER NOT NULL, findings TEXT NOT NULL, request_body TEXT, response_body "
      "TEXT,"
      " request_sha256 TEXT NOT NULL, response_sha256 TEXT NOT NULL, prev_hash TEXT NOT NULL,"
      " record_hash TEXT NOT NULL);"
      "INSERT INTO meta VALUES ('format', 'glassbox-audit-log 1');");
  {
    // Readers open it as it is: they write nothing.
    auto reader = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    EXPECT_EQ(QueryInt("PRAGMA user_version"), 0);
  }
  auto log = OpenLog();
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 4);
  EXPECT_EQ(
      QueryInt(
          "SELECT count(*) FROM pragma_table_info('records') WHERE name = 'upstream_request_body'"),
      1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'bodies'"), 0);
  ASSERT_TRUE(log->Append(Sample(1)).ok());
  ASSERT_TRUE(log->Append(Sample(2)).ok());
  auto v = log->Verify();
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->intact) << v->reason;
  log.reset();
  // At the current version, opening again changes nothing.
  ASSERT_TRUE(OpenLog()->Append(Sample(3)).ok());
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 4);
}

TEST_F(AuditLogTest, ASchemaNewerThanThisBuildIsRefusedNamingBothVersions) {
  ASSERT_TRUE(OpenLog()->Append(Sample(1)).ok());
  RawSql("PRAGMA user_version = 9");
  for (AuditLog::OpenMode mode : {AuditLog::OpenMode::kExisting, AuditLog::OpenMode::kCreate}) {
    auto log = AuditLog::Open(path_, mode);
    ASSERT_FALSE(log.ok());
    EXPECT_NE(
        log.status().message().find("schema version 9 is newer than this glassbox understands (4)"),
        std::string::npos)
        << log.status().message();
  }
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 9) << "left as it was";
}

// `glassbox log show` tells a record the log never had (NotFound) from one
// that fails its own hash or cannot be decoded (Corruption).
TEST_F(AuditLogTest, GetTellsAMissingRecordFromACorruptOne) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(log->Append(Sample(i)).ok());
  }
  RawSql("UPDATE records SET model = 'edited' WHERE id = 2");
  RawSql("UPDATE records SET status = 'not a number' WHERE id = 3");  // undecodable as the integer
                                                                      // it hashes as
  auto log = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
  ASSERT_TRUE(log.ok()) << log.status().message();
  auto missing = (*log)->Get(9);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), path_ + ": no record 9");
  for (int64_t id : {2, 3}) {
    auto bad = (*log)->Get(id);
    ASSERT_FALSE(bad.ok()) << id;
    EXPECT_EQ(bad.status().code(), StatusCode::kCorruption) << bad.status().message();
    EXPECT_NE(bad.status().message().find("record " + std::to_string(id)), std::string::npos);
  }
  EXPECT_TRUE((*log)->Get(1).ok());
  EXPECT_TRUE((*log)->Get(4).ok());
  // A damaged meta value the reader needs is corruption too.
  RawSql("UPDATE meta SET value = 'x' WHERE key = 'v2_from'");
  EXPECT_EQ((*log)->Get(1).status().code(), StatusCode::kCorruption);
}

TEST_F(AuditLogTest, OpenExistingRejectsMissingAndForeignFiles) {
  EXPECT_FALSE(AuditLog::Open(path_, AuditLog::OpenMode::kExisting).ok());
  RawSql("CREATE TABLE other(x)");
  auto log = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("not a glassbox audit log"), std::string::npos);
}

TEST_F(AuditLogTest, EditedFieldNamesTheRecord) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(log->Append(Sample(i)).ok());
  }
  RawSql("UPDATE records SET model = 'other' WHERE id = 3");
  auto v = OpenLog()->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 3);
  EXPECT_NE(v->reason.find("edited field"), std::string::npos) << v->reason;
}

TEST_F(AuditLogTest, DeletedMiddleRowIsFound) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(log->Append(Sample(i)).ok());
  }
  RawSql("DELETE FROM records WHERE id = 3");
  auto v = OpenLog()->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 4);
  EXPECT_NE(v->reason.find("deleted"), std::string::npos) << v->reason;
}

TEST_F(AuditLogTest, RenumberedRowsBreakTheChain) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(log->Append(Sample(i)).ok());
  }
  // Hide a deletion by renumbering: the hash covers the id.
  RawSql("DELETE FROM records WHERE id = 3; UPDATE records SET id = id - 1 WHERE id > 3");
  auto v = OpenLog()->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 3);
}

TEST_F(AuditLogTest, ConcurrentAppendsFromTwoConnectionsKeepTheChain) {
  OpenLog();
  constexpr int kPerThread = 40;
  auto worker = [&] {
    auto log = AuditLog::Open(path_, AuditLog::OpenMode::kExisting);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < kPerThread; ++i) {
      auto r = (*log)->Append(Sample(i));
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  };
  std::thread a(worker);
  std::thread b(worker);
  a.join();
  b.join();
  auto v = OpenLog()->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << "record " << v->bad_id << ": " << v->reason;
  EXPECT_EQ(v->records, 2 * kPerThread);
}

TEST_F(AuditLogTest, RetentionKeepsTheChainVerifiable) {
  auto log = OpenLog();
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(log->Append(Sample(i)).ok());
  auto deleted = log->DeleteBefore("2026-11-24T00:00:00Z");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 3);
  auto v = log->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->anchor_id, 3);
  EXPECT_EQ(v->records, 3);
  // Delete everything, then append: ids and the chain go on from the anchor.
  ASSERT_TRUE(log->DeleteBefore("2027-01-01T00:00:00Z").ok());
  auto next = log->Append(Sample(7));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->id, 7);
  v = log->Verify();
  EXPECT_TRUE(v->intact) << v->reason;
  EXPECT_EQ(v->records, 1);
  // Deleting the oldest remaining row by hand is still caught.
  ASSERT_TRUE(log->Append(Sample(8)).ok());
  RawSql("DELETE FROM records WHERE id = 7");
  v = log->Verify();
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->bad_id, 8);
}

TEST_F(AuditLogTest, SecretsAreMaskedBeforeHashingAndStoring) {
  auto log = OpenLog();
  AuditRecord r = Sample(1);
  r.request_body = std::string("{\"system\":\"key ") + kKey + "\"}";
  r.response_body = std::string("ANTHROPIC_API_KEY=") + kKey;
  r.path = "/v1/messages";
  auto stored = log->Append(r);
  ASSERT_TRUE(stored.ok());
  auto got = log->Get(stored->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->request_body->find(kKey), std::string::npos) << *got->request_body;
  EXPECT_EQ(got->response_body->find(kKey), std::string::npos) << *got->response_body;
  EXPECT_NE(got->request_body->find("sk-ant-"), std::string::npos);
  EXPECT_EQ(log->Search(kKey)->size(), 0u);
  EXPECT_TRUE(log->Verify()->intact);
}

}  // namespace
}  // namespace glassbox::gate

namespace glassbox::gate {
namespace {

// Writes a fresh Ed25519 key pair as PEM files into `dir`.
void MakeKeyPair(const std::filesystem::path& dir, std::string* priv, std::string* pub) {
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_keygen(ctx, &key), 1);
  EVP_PKEY_CTX_free(ctx);
  *priv = (dir / "key.pem").string();
  *pub = (dir / "pub.pem").string();
  std::FILE* f = std::fopen(priv->c_str(), "wb");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(pub->c_str(), "wb");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
}

// Issue 17: deleting the newest records, rewriting the whole chain from
// the documented form, or forging the retention anchor passed Verify().
// Signed checkpoints of the head catch each; the chain alone does not.
TEST_F(AuditLogTest, RegressionIssue17_CheckpointsCatchTruncationRewriteAndForgedAnchor) {
  std::string priv, pub;
  MakeKeyPair(dir_, &priv, &pub);
  auto signer = CheckpointSigner::Load(priv);
  ASSERT_TRUE(signer.ok()) << signer.status().message();
  const std::string file = (dir_ / "audit.checkpoints").string();
  {
    auto log = OpenLog();
    for (int i = 1; i <= 12; ++i) {
      ASSERT_TRUE(log->Append(Sample(i)).ok());
      if (i % 4 == 0) {
        auto head = log->ReadHead();
        ASSERT_TRUE(head.ok());
        Checkpoint c{head->last_id,
                     head->head_hash,
                     "2026-11-25T00:00:00Z",
                     head->anchor_id,
                     head->anchor_hash,
                     "",
                     ""};
        ASSERT_TRUE((*signer)->Sign(c).ok());
        ASSERT_TRUE(AppendCheckpoint(file, c, false).ok());
      }
    }
  }
  auto checkpoints = ReadCheckpoints(file, pub);
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status().message();
  ASSERT_EQ(checkpoints->size(), 3u);
  auto verify = [&]() {
    auto log = OpenLog();
    auto plain = log->Verify();
    auto signed_check = log->Verify(&*checkpoints);
    EXPECT_TRUE(plain.ok() && signed_check.ok());
    return std::pair{*plain, *signed_check};
  };
  {
    auto [plain, checked] = verify();
    EXPECT_TRUE(checked.intact) << checked.reason;
    EXPECT_EQ(checked.checkpoints_matched, 3);
  }
  const std::string copy = (dir_ / "copy.db").string();
  std::filesystem::copy_file(path_, copy);

  RawSql("DELETE FROM records WHERE id > 10");  // the newest two
  {
    auto [plain, checked] = verify();
    EXPECT_TRUE(plain.intact) << "a shorter chain is still a chain";
    EXPECT_FALSE(checked.intact);
    EXPECT_NE(checked.reason.find("removed from the end"), std::string::npos) << checked.reason;
  }

  std::filesystem::copy_file(copy, path_, std::filesystem::copy_options::overwrite_existing);
  {  // Edit record 3, then recompute every hash after it, as audit_log.h documents.
    auto log = OpenLog();
    auto all = log->List();
    ASSERT_TRUE(all.ok());
    std::string prev = (*all)[1].record_hash, sql;
    for (size_t i = 2; i < all->size(); ++i) {
      AuditRecord r = (*all)[i];
      if (r.id == 3) r.model = "rewritten";
      r.prev_hash = prev;
      r.record_hash = ComputeRecordHash(r, RecordForm::kV2);
      prev = r.record_hash;
      sql += "UPDATE records SET model='" + r.model + "', prev_hash='" + r.prev_hash +
             "', record_hash='" + r.record_hash + "' WHERE id=" + std::to_string(r.id) + ";";
    }
    log.reset();
    RawSql(sql);
  }
  {
    auto [plain, checked] = verify();
    EXPECT_TRUE(plain.intact) << "the recomputed chain verifies on its own";
    EXPECT_FALSE(checked.intact);
    EXPECT_EQ(checked.bad_id, 4) << "the first checkpointed record";
    EXPECT_NE(checked.reason.find("rewritten"), std::string::npos) << checked.reason;
  }

  std::filesystem::copy_file(copy, path_, std::filesystem::copy_options::overwrite_existing);
  {  // Delete records 1..6 and write the anchor retention would have written.
    auto log = OpenLog();
    auto r7 = log->Get(7);
    ASSERT_TRUE(r7.ok());
    log.reset();
    RawSql(
        "DELETE FROM records WHERE id <= 6; INSERT OR REPLACE INTO meta(key, value) VALUES "
        "('anchor_id', '6'), "
        "('anchor_hash', '" +
        r7->prev_hash + "');");
  }
  {
    auto [plain, checked] = verify();
    EXPECT_TRUE(plain.intact);
    EXPECT_FALSE(checked.intact);
    EXPECT_NE(checked.reason.find("not attested"), std::string::npos) << checked.reason;
  }

  // A line altered after signing is refused when the file is read.
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text.replace(text.find(" 8 "), 3, " 9 ");
  {
    std::ofstream out(file);
    out << text;
  }
  auto altered = ReadCheckpoints(file, pub);
  ASSERT_FALSE(altered.ok());
  EXPECT_NE(altered.status().message().find("line 2"), std::string::npos)
      << altered.status().message();
}

}  // namespace
}  // namespace glassbox::gate
