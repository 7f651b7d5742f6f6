#include "probe/probe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace glassbox::probe {
namespace {

namespace fs = std::filesystem;

Matrix TwoZones() {
  auto dim = ParseVary("TZ=Asia/Shanghai,Europe/Berlin");
  EXPECT_TRUE(dim.ok());
  return *BuildMatrix(DefaultBaseline(), {*dim}, Design::kOneAtATime);
}

std::string TempDir() {
  std::string dir = (fs::temp_directory_path() / fs::path("glassbox-probe-test-XXXXXX")).string();
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

TEST(RunMatrix, RunsEveryCellRunsTimesInParallel) {
  Matrix m = TwoZones();
  ProbeOptions options;
  options.runs = 2;
  options.jobs = 2;
  options.work_root = TempDir();
  std::atomic<int> active{0}, peak{0}, calls{0};
  auto result =
      RunMatrix(m, options, [&](const Cell& cell, const std::string& dir) -> Result<RunCapture> {
        int now = ++active;
        peak = std::max(peak.load(), now);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        ++calls;
        --active;
        EXPECT_TRUE(fs::is_directory(fs::path(dir).parent_path()));
        RunCapture run;
        run.exit_code = 0;
        CapturedRequest r;
        r.method = "GET";
        r.host = "x.example";
        r.target = "/" + cell.Get("TZ");
        run.requests.push_back(r);
        return run;
      });
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(calls.load(), 6);
  EXPECT_EQ(peak.load(), 2);
  ASSERT_EQ(result->runs.size(), 3u);
  EXPECT_EQ(result->runs[1][1].requests[0].target, "/Asia/Shanghai");
  EXPECT_GT(result->seconds, 0.0);

  std::string out = options.work_root + "/out";
  ASSERT_TRUE(WriteCaptures(out, m, *result).ok());
  std::ifstream in(out + "/captures/01-TZ=Asia_Shanghai/run-2.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  auto back = CaptureFromJsonl(text.str(), "run-2.jsonl");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->requests.at(0).target, "/Asia/Shanghai");
  EXPECT_TRUE(fs::exists(out + "/matrix.txt"));
  fs::remove_all(options.work_root);
}

TEST(RunMatrix, FirstErrorStopsAndNamesTheCell) {
  Matrix m = TwoZones();
  ProbeOptions options;
  options.runs = 1;
  options.jobs = 1;
  options.work_root = TempDir();
  auto result =
      RunMatrix(m, options, [](const Cell& cell, const std::string&) -> Result<RunCapture> {
        if (cell.Get("TZ") == "Asia/Shanghai") return Status::Error("user namespaces are disabled");
        return RunCapture{};
      });
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("TZ=Asia/Shanghai"), std::string::npos);
  EXPECT_NE(result.status().message().find("user namespaces"), std::string::npos);
  options.runs = 0;
  EXPECT_FALSE(RunMatrix(m, options, [](const Cell&, const std::string&) {
                 return Result<RunCapture>(RunCapture{});
               }).ok());
  fs::remove_all(options.work_root);
}

TEST(ToCellSpec, CarriesEnvZoneHostAndUser) {
  Matrix m = TwoZones();
  CellSpec spec = ToCellSpec(m.cells[1]);
  EXPECT_EQ(spec.timezone, "UTC");
  EXPECT_EQ(spec.hostname, "devbox-7f3a");
  EXPECT_EQ(spec.username, "alex");
  bool tz = false;
  for (const auto& [k, v] : spec.env) tz = tz || (k == "TZ" && v == "Asia/Shanghai");
  EXPECT_TRUE(tz);
}

}  // namespace
}  // namespace glassbox::probe
