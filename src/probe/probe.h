// Runs a matrix: every cell `runs` times, cells in parallel on `jobs`
// threads, through a CellRunner (the sandbox in production, a fake in
// tests), then keeps the captures on disk when asked.
//
// Thread safety: RunMatrix calls the runner concurrently from up to `jobs`
// threads, each call with its own work directory; the runner must allow that
// (RunCell does).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "probe/capture.h"
#include "probe/cell_runner.h"
#include "probe/matrix.h"

namespace glassbox::probe {

struct ProbeOptions {
  std::vector<std::string> argv;  // the agent command
  int runs = 2;                   // per cell
  int jobs = 1;                   // cells (and runs) in parallel
  double timeout_s = 60;          // per run
  // Scratch root: each run gets ROOT/cell-NN/run-K. Required.
  std::string work_root;
  std::string glassbox_exe;                    // "" = this executable
  std::vector<std::string> copy_into_workdir;  // files the agent needs in its cwd
};

// Runs one cell once. `work_dir` is fresh and empty.
using CellRunner = std::function<Result<RunCapture>(const Cell& cell, const std::string& work_dir)>;

struct MatrixRun {
  std::vector<std::vector<RunCapture>> runs;  // [cell][run]
  double seconds = 0;                         // wall time of the whole matrix
};

// Runs every (cell, run) pair; the first runner error stops the remaining
// work and is returned, naming the cell.
Result<MatrixRun> RunMatrix(const Matrix& matrix, const ProbeOptions& options,
                            const CellRunner& runner);

// The CellSpec the sandbox gets for a cell.
CellSpec ToCellSpec(const Cell& cell);

// Writes DIR/captures/NN-LABEL/run-K.jsonl for every run and DIR/matrix.txt
// (cell number, label, varied values). DIR is created if missing.
Status WriteCaptures(const std::string& dir, const Matrix& matrix, const MatrixRun& run);

}  // namespace glassbox::probe
