#include "probe/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace glassbox::probe {
namespace {

namespace fs = std::filesystem;

// A label made safe for a file name: "TZ=Asia/Shanghai" -> "TZ=Asia_Shanghai".
std::string FileSafe(std::string_view label) {
  std::string out;
  for (char c : label) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(
        std::isalnum(u) || c == '=' || c == '-' || c == '.' || c == '_' || c == '@' ? c : '_');
    if (out.size() >= 80) break;
  }
  return out;
}

}  // namespace

CellSpec ToCellSpec(const Cell& cell) {
  CellSpec spec;
  for (const auto& [k, v] : cell.env) spec.env.emplace_back(k, v);
  spec.timezone = cell.timezone;
  spec.hostname = cell.hostname;
  spec.username = cell.username;
  // Proxy cells name their own proxy URL; the sandbox resolves its host to
  // the capture server, so use_proxy (its own proxy variables) stays off.
  spec.use_proxy = false;
  return spec;
}

Result<MatrixRun> RunMatrix(const Matrix& matrix, const ProbeOptions& options,
                            const CellRunner& runner) {
  if (options.runs < 1) return Status::Error("--runs must be at least 1");
  if (options.work_root.empty()) return Status::Error("no work directory for the runs");
  const size_t cells = matrix.cells.size();
  const size_t runs = static_cast<size_t>(options.runs);
  MatrixRun result;
  result.runs.assign(cells, std::vector<RunCapture>(runs));
  // Tasks ordered run-major so early runs of every cell finish first.
  const size_t total = cells * runs;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status error;
  auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    while (!failed.load()) {
      size_t task = next.fetch_add(1);
      if (task >= total) return;
      size_t r = task / cells;
      size_t c = task % cells;
      std::string dir = (fs::path(options.work_root) / fmt::format("cell-{:02}", c) /
                         fmt::format("run-{}", r + 1))
                            .string();
      std::error_code ec;
      fs::create_directories(fs::path(dir).parent_path(), ec);
      if (ec) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!failed.exchange(true)) error = Status::Error(fmt::format("{}: {}", dir, ec.message()));
        return;
      }
      auto capture = runner(matrix.cells[c], dir);
      if (!capture.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!failed.exchange(true)) {
          error = Status::Error(fmt::format("cell '{}' run {}: {}", matrix.cells[c].label, r + 1,
                                            capture.status().message()));
        }
        return;
      }
      result.runs[c][r] = std::move(capture).value();
    }
  };
  const size_t jobs = std::clamp<size_t>(static_cast<size_t>(std::max(options.jobs, 1)), 1, total);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < jobs; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (failed.load()) return error;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Status WriteCaptures(const std::string& dir, const Matrix& matrix, const MatrixRun& run) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "captures", ec);
  if (ec) return Status::Error(fmt::format("{}: cannot create: {}", dir, ec.message()));
  std::ofstream index(fs::path(dir) / "matrix.txt");
  for (size_t c = 0; c < matrix.cells.size() && c < run.runs.size(); ++c) {
    const Cell& cell = matrix.cells[c];
    std::string name = fmt::format("{:02}-{}", c, FileSafe(cell.label));
    index << name << "\t" << cell.label;
    for (const auto& [k, v] : cell.varied) index << "\t" << k << "=" << v;
    index << "\n";
    fs::path cell_dir = fs::path(dir) / "captures" / name;
    fs::create_directories(cell_dir, ec);
    if (ec)
      return Status::Error(fmt::format("{}: cannot create: {}", cell_dir.string(), ec.message()));
    for (size_t r = 0; r < run.runs[c].size(); ++r) {
      fs::path file = cell_dir / fmt::format("run-{}.jsonl", r + 1);
      std::ofstream out(file, std::ios::binary);
      out << CaptureToJsonl(run.runs[c][r]);
      if (!out) return Status::Error(fmt::format("{}: cannot write", file.string()));
    }
  }
  if (!index) return Status::Error(fmt::format("{}/matrix.txt: cannot write", dir));
  return Status::Ok();
}

}  // namespace glassbox::probe
