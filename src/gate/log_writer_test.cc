// LogWriter with a SQLite log: its checkpoint thread copies the WAL into the
// database after records are committed (woken once the exchanges' callbacks
// have run, off the client's path).
#include "gate/log_writer.h"

#include <unistd.h>

#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace glassbox::gate {
namespace {

using namespace std::chrono_literals;

AuditRecord Sample(int n) {
  AuditRecord r;
  r.time = "2026-11-23T10:00:00Z";
  r.user = "alice";
  r.agent = "claude-code";
  r.upstream = "anthropic";
  r.model = "claude-test";
  r.method = "POST";
  r.path = "/v1/messages";
  r.status = 200;
  r.request_body = "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + std::string(2000, 'p') + "\"}";
  r.response_body = std::string(1000, 'r');
  r.request_sha256 = std::string(64, '0');
  r.response_sha256 = std::string(64, '0');
  return r;
}

TEST(LogWriterTest, CommittedRecordsReachTheDatabaseFileThroughTheCheckpointThread) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("log_writer_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "audit.db").string();
  {
    auto writer = LogWriter::Open(path, LogDurability::kNormal);
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    const auto before = std::filesystem::file_size(path);
    for (int i = 0; i < 100; ++i) {
      std::promise<Status> done;
      (*writer)->Append(Sample(i), [&done](Status st) { done.set_value(std::move(st)); });
      const Status st = done.get_future().get();
      ASSERT_TRUE(st.ok()) << st.message();
    }
    // The records are in the WAL; the checkpoint thread copies them into
    // the database file (which grows) without any further append.
    auto grown = [&] { return std::filesystem::file_size(path) > before + 100 * 3000 / 2; };
    for (int i = 0; i < 400 && !grown(); ++i) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(grown()) << before << " -> " << std::filesystem::file_size(path);
    (*writer)->Stop();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glassbox::gate
