// Test-only helper for tests/e2e/log_e2e.sh: builds audit logs and damages
// them the way an attacker with file access would, without a sqlite3 CLI.
//   gate_log_fixture PATH write N        append N sample records
//   gate_log_fixture PATH tamper ID      edit record ID's model in place
//   gate_log_fixture PATH delete ID      delete record ID
//   gate_log_fixture PATH retain CUTOFF  DeleteBefore(CUTOFF)
//   gate_log_fixture PATH bulk N         append N small records fast (batches of 10,000,
//                                        durability normal): for size and memory tests
//   gate_log_fixture PATH truncate N     delete the newest N records (an attacker hiding them)
//   gate_log_fixture PATH rewrite ID     edit record ID's model, then recompute every hash from
//                                        it on with the documented canonical form
//   gate_log_fixture PATH forge-anchor N delete the oldest N records and write the anchor that
//                                        makes the rest verify (as retention would)
#include <sqlite3.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gate/audit_log.h"

namespace {

using glassbox::gate::AuditLog;
using glassbox::gate::AuditRecord;
using glassbox::gate::kZeroHash;
using glassbox::gate::RecordFilter;

int RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    sqlite3_close(db);
    return 2;
  }
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : 2;
}

// A whole decimal number argument, or nullopt (the caller says why).
std::optional<int64_t> ParseCount(const std::string& text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

using Log = std::unique_ptr<AuditLog>;

AuditRecord SampleRecord(int64_t i) {
  AuditRecord r;
  r.time = "2026-11-" + std::to_string(10 + i) + "T12:00:00Z";
  r.user = "alice";
  r.agent = "claude-code";
  r.upstream = "https://api.anthropic.com";
  r.model = "claude-test-" + std::to_string(i);
  r.method = "POST";
  r.path = "/v1/messages";
  r.status = 200;
  r.latency_ms = 40 + i;
  r.input_tokens = 100 * i;
  r.output_tokens = 10 * i;
  r.request_body = "{\"messages\":[{\"role\":\"user\",\"content\":\"request " + std::to_string(i) +
                   " key=sk-ant-api03-AM1P09_Z0XSSJMgb2cSMQUOVPPG4gGw2c9idUV-"
                   "WwVTVw5zwpz26Pu0TejDL1bm8YMp8sNQYiE1aVwlslaRkAB145S6PzAA\"}]}";
  r.response_body =
      "{\"content\":[{\"type\":\"text\",\"text\":\"answer " + std::to_string(i) + "\"}]}";
  r.request_sha256 = std::string(kZeroHash);
  r.response_sha256 = std::string(kZeroHash);
  return r;
}

AuditRecord BulkRecord(int64_t i) {
  AuditRecord r;
  r.time = "2026-11-20T12:00:00Z";
  r.user = i % 2 ? "alice" : "bob";
  r.agent = "claude-code";
  r.upstream = "anthropic";
  r.model = i % 3 ? "claude-sonnet-4-5" : "claude-haiku-4-5";
  r.method = "POST";
  r.path = "/v1/messages";
  r.status = 200;
  r.input_tokens = i % 1000;
  r.request_body =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"request " + std::to_string(i) + "\"}]}";
  r.request_body_screened = true;
  r.response_body = "{\"content\":[{\"type\":\"text\",\"text\":\"answer\"}]}";
  r.request_sha256 = std::string(kZeroHash);
  r.response_sha256 = std::string(kZeroHash);
  return r;
}

int Write(const std::string& /*path*/, Log& log, int64_t n) {
  for (int64_t i = 1; i <= n; ++i) {
    auto stored = log->Append(SampleRecord(i));
    if (!stored.ok()) {
      std::fprintf(stderr, "%s\n", stored.status().message().c_str());
      return 2;
    }
  }
  return 0;
}

int Bulk(const std::string& path, Log& log, int64_t n) {
  AuditLog::Options options;
  options.durability = glassbox::gate::LogDurability::kNormal;
  log.reset();
  auto bulk = AuditLog::Open(path, AuditLog::OpenMode::kCreate, options);
  if (!bulk.ok()) return 2;
  std::vector<AuditRecord> batch;
  for (int64_t i = 1; i <= n; ++i) {
    batch.push_back(BulkRecord(i));
    if (batch.size() == 10000 || i == n) {
      auto stored = (*bulk)->AppendBatch(std::move(batch));
      if (!stored.ok()) {
        std::fprintf(stderr, "%s\n", stored.status().message().c_str());
        return 2;
      }
      batch.clear();
    }
  }
  return 0;
}

int Truncate(const std::string& path, Log& log, int64_t n) {
  auto head = log->ReadHead();
  if (!head.ok()) return 2;
  return RawSql(path, "DELETE FROM records WHERE id > " + std::to_string(head->last_id - n));
}

int ForgeAnchor(const std::string& path, Log& log, int64_t n) {
  std::string next_prev;
  RecordFilter first;
  first.limit = n + 1;
  int64_t seen = 0;
  (void)log->ForEach(first, [&](AuditRecord& r) {
    if (++seen == n + 1) next_prev = r.prev_hash;
    return true;
  });
  if (next_prev.empty()) return 2;
  return RawSql(path, "DELETE FROM records WHERE id <= " + std::to_string(n) +
                          "; INSERT OR REPLACE INTO meta(key, value) VALUES ('anchor_id', '" +
                          std::to_string(n) + "'), ('anchor_hash', '" + next_prev + "')");
}

// What anyone who read audit_log.h can do: edit, then recompute the chain.
int Rewrite(const std::string& path, Log& log, int64_t from) {
  auto all = log->List();
  if (!all.ok()) return 2;
  std::string sql = "BEGIN;";
  std::string prev;
  for (AuditRecord& r : *all) {
    if (r.id < from) {
      prev = r.record_hash;
      continue;
    }
    if (r.id == from) r.model = "rewritten";
    r.prev_hash = prev.empty() ? std::string(kZeroHash) : prev;
    r.record_hash = ComputeRecordHash(r, glassbox::gate::RecordForm::kV2);
    prev = r.record_hash;
    sql += "UPDATE records SET model = '" + r.model + "', prev_hash = '" + r.prev_hash +
           "', record_hash = '" + r.record_hash + "' WHERE id = " + std::to_string(r.id) + ";";
  }
  sql += "COMMIT;";
  log.reset();
  return RawSql(path, sql);
}

// The operations on an opened log that take a count or an id.
struct Operation {
  const char* name;
  int (*run)(const std::string& path, Log& log, int64_t n);
};
constexpr Operation kOperations[] = {
    {"write", Write},     {"bulk", Bulk}, {"truncate", Truncate}, {"forge-anchor", ForgeAnchor},
    {"rewrite", Rewrite},
};

int Run(const std::string& path, const std::string& op, const std::string& arg) {
  if (op == "retain") {
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
    if (!log.ok()) std::fprintf(stderr, "%s\n", log.status().message().c_str());
    return log.ok() && (*log)->DeleteBefore(arg).ok() ? 0 : 2;
  }
  const std::optional<int64_t> n = ParseCount(arg);
  if (!n) {
    std::fprintf(stderr, "gate_log_fixture: '%s' is not a whole number\n", arg.c_str());
    return 2;
  }
  if (op == "tamper")
    return RawSql(path, "UPDATE records SET model = 'tampered' WHERE id = " + std::to_string(*n));
  if (op == "delete") return RawSql(path, "DELETE FROM records WHERE id = " + std::to_string(*n));
  for (const Operation& o : kOperations) {
    if (op != o.name) continue;
    auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
    if (!log.ok()) {
      std::fprintf(stderr, "%s\n", log.status().message().c_str());
      return 2;
    }
    return o.run(path, *log, *n);
  }
  std::fprintf(stderr, "gate_log_fixture: unknown operation '%s'\n", op.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr,
                 "usage: gate_log_fixture PATH write N|tamper ID|delete ID|retain CUTOFF\n");
    return 2;
  }
  return Run(argv[1], argv[2], argv[3]);
}
