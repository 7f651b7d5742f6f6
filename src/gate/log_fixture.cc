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

#include <cstdio>
#include <string>
#include <vector>

#include "gate/audit_log.h"

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  using glassbox::gate::AuditLog;
  if (argc != 4) {
    std::fprintf(stderr, "usage: gate_log_fixture PATH write N|tamper ID|delete ID|retain CUTOFF\n");
    return 2;
  }
  std::string path = argv[1], op = argv[2], arg = argv[3];
  if (op == "tamper") return RawSql(path, "UPDATE records SET model = 'tampered' WHERE id = " + std::to_string(std::stoll(arg)));
  if (op == "delete") return RawSql(path, "DELETE FROM records WHERE id = " + std::to_string(std::stoll(arg)));
  auto log = AuditLog::Open(path, AuditLog::OpenMode::kCreate);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().message().c_str());
    return 2;
  }
  if (op == "retain") return (*log)->DeleteBefore(arg).ok() ? 0 : 2;
  if (op == "truncate") {
    auto head = (*log)->ReadHead();
    if (!head.ok()) return 2;
    return RawSql(path, "DELETE FROM records WHERE id > " + std::to_string(head->last_id - std::stoll(arg)));
  }
  if (op == "forge-anchor") {
    const int64_t n = std::stoll(arg);
    std::string next_prev;
    glassbox::gate::RecordFilter first;
    first.limit = n + 1;
    int64_t seen = 0;
    (void)(*log)->ForEach(first, [&](glassbox::gate::AuditRecord& r) {
      if (++seen == n + 1) next_prev = r.prev_hash;
      return true;
    });
    if (next_prev.empty()) return 2;
    return RawSql(path, "DELETE FROM records WHERE id <= " + std::to_string(n) +
                            "; INSERT OR REPLACE INTO meta(key, value) VALUES ('anchor_id', '" + std::to_string(n) +
                            "'), ('anchor_hash', '" + next_prev + "')");
  }
  if (op == "rewrite") {
    // What anyone who read audit_log.h can do: edit, then recompute the chain.
    const int64_t from = std::stoll(arg);
    std::vector<glassbox::gate::AuditRecord> records;
    auto all = (*log)->List();
    if (!all.ok()) return 2;
    std::string sql = "BEGIN;";
    std::string prev;
    for (glassbox::gate::AuditRecord& r : *all) {
      if (r.id < from) {
        prev = r.record_hash;
        continue;
      }
      if (r.id == from) r.model = "rewritten";
      r.prev_hash = prev.empty() ? std::string(glassbox::gate::kZeroHash) : prev;
      r.record_hash = glassbox::gate::ComputeRecordHash(r, glassbox::gate::RecordForm::kV2);
      prev = r.record_hash;
      sql += "UPDATE records SET model = '" + r.model + "', prev_hash = '" + r.prev_hash + "', record_hash = '" +
             r.record_hash + "' WHERE id = " + std::to_string(r.id) + ";";
    }
    sql += "COMMIT;";
    log->reset();
    return RawSql(path, sql);
  }
  if (op == "bulk") {
    const int64_t n = std::stoll(arg);
    AuditLog::Options options;
    options.durability = glassbox::gate::LogDurability::kNormal;
    log->reset();
    auto bulk = AuditLog::Open(path, AuditLog::OpenMode::kCreate, options);
    if (!bulk.ok()) return 2;
    std::vector<glassbox::gate::AuditRecord> batch;
    for (int64_t i = 1; i <= n; ++i) {
      glassbox::gate::AuditRecord r;
      r.time = "2026-11-20T12:00:00Z";
      r.user = i % 2 ? "alice" : "bob";
      r.agent = "claude-code";
      r.upstream = "anthropic";
      r.model = i % 3 ? "claude-sonnet-4-5" : "claude-haiku-4-5";
      r.method = "POST";
      r.path = "/v1/messages";
      r.status = 200;
      r.input_tokens = i % 1000;
      r.request_body = "{\"messages\":[{\"role\":\"user\",\"content\":\"request " + std::to_string(i) + "\"}]}";
      r.request_body_screened = true;
      r.response_body = "{\"content\":[{\"type\":\"text\",\"text\":\"answer\"}]}";
      r.request_sha256 = std::string(glassbox::gate::kZeroHash);
      r.response_sha256 = std::string(glassbox::gate::kZeroHash);
      batch.push_back(std::move(r));
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
  if (op != "write") return 2;
  int n = std::stoi(arg);
  for (int i = 1; i <= n; ++i) {
    glassbox::gate::AuditRecord r;
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
                     " key=sk-ant-api03-AM1P09_Z0XSSJMgb2cSMQUOVPPG4gGw2c9idUV-WwVTVw5zwpz26Pu0TejDL1bm8YMp8sNQYiE1aVwlslaRkAB145S6PzAA\"}]}";
    r.response_body = "{\"content\":[{\"type\":\"text\",\"text\":\"answer " + std::to_string(i) + "\"}]}";
    r.request_sha256 = std::string(glassbox::gate::kZeroHash);
    r.response_sha256 = std::string(glassbox::gate::kZeroHash);
    auto stored = (*log)->Append(r);
    if (!stored.ok()) {
      std::fprintf(stderr, "%s\n", stored.status().message().c_str());
      return 2;
    }
  }
  return 0;
}
