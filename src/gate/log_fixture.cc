// Test-only helper for tests/e2e/log_e2e.sh: builds audit logs and damages
// them the way an attacker with file access would, without a sqlite3 CLI.
//   gate_log_fixture PATH write N        append N sample records
//   gate_log_fixture PATH tamper ID      edit record ID's model in place
//   gate_log_fixture PATH delete ID      delete record ID
//   gate_log_fixture PATH retain CUTOFF  DeleteBefore(CUTOFF)
#include <sqlite3.h>

#include <cstdio>
#include <string>

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
