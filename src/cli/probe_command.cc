// `glassbox probe`: flags → Matrix and ProbeOptions → RunMatrix over the
// sandbox → Analyze → report. Exit codes: 0 no environment dependence,
// 1 dependence found, 2 usage or runtime error.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "probe/cell_runner.h"
#include "probe/classify.h"
#include "probe/matrix.h"
#include "probe/mitm_ca.h"
#include "probe/probe.h"
#include "probe/report.h"

namespace glassbox::cli {

namespace {

namespace fs = std::filesystem;

struct ProbeFlags {
  std::vector<std::string> vary;
  std::vector<std::string> set;
  std::vector<std::string> copy;  // files and folders copied into the agent's working directory
  std::string matrix_file;
  bool cross = false;
  bool pairwise = false;
  int runs = 2;
  int jobs = 0;
  double timeout_s = 60;
  std::string format = "text";
  std::string out_dir;
  std::string replay_dir;
  bool check_sandbox = false;
  bool list_cells = false;
};

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Facts the agent could send about this machine, to recognise them.
probe::HostFacts GatherHostFacts(const std::vector<std::string>& command) {
  probe::HostFacts facts;
  struct utsname u;
  if (uname(&u) == 0) facts.kernel_release = u.release;
  facts.machine_id = ReadSmallFile("/etc/machine-id");
  // The prompt: the argument after -p/--prompt (or a "exec"/"run"-like
  // subcommand's free text), and any argument with a space that names no file.
  for (size_t i = 1; i < command.size(); ++i) {
    const std::string& arg = command[i];
    std::error_code ec;
    const std::string& prev = command[i - 1];
    bool after_flag = prev == "-p" || prev == "--prompt" || prev == "--print" || prev == "-i" ||
                      prev == "exec" || prev == "run" || prev == "-q" || prev == "--query";
    if (arg.empty() || arg[0] == '-' || fs::exists(arg, ec)) continue;
    if (after_flag || arg.find(' ') != std::string::npos) facts.prompt_texts.push_back(arg);
  }
  facts.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  return facts;
}

// The agent starts in a fresh working directory: arguments naming files
// that exist here are made absolute so that `node agent.js` still works.
std::vector<std::string> AbsoluteFileArguments(std::vector<std::string> command) {
  for (size_t i = 0; i < command.size(); ++i) {
    std::error_code ec;
    // The program itself only when it is a path ("./agent.sh"); "node" stays a PATH lookup.
    if (i == 0 && command[i].find('/') == std::string::npos) continue;
    if (!command[i].empty() && command[i][0] != '-' && command[i][0] != '/' &&
        fs::is_regular_file(command[i], ec)) {
      command[i] = fs::absolute(command[i], ec).lexically_normal().string();
    }
  }
  return command;
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return Status::Error(fmt::format("{}: cannot write", path.string()));
  return Status::Ok();
}

// The captures an earlier `--out DIR` kept, for the same matrix: DIR/captures/NN-*/run-K.jsonl.
Result<probe::MatrixRun> ReadCaptures(const std::string& dir, const probe::Matrix& matrix) {
  probe::MatrixRun run;
  std::error_code ec;
  std::vector<fs::path> cell_dirs;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "captures", ec))
    cell_dirs.push_back(entry.path());
  if (ec) return Status::Error(fmt::format("{}/captures: {}", dir, ec.message()));
  std::sort(cell_dirs.begin(), cell_dirs.end());
  if (cell_dirs.size() != matrix.cells.size()) {
    return Status::Error(fmt::format(
        "{} holds {} cells, the matrix {}: replay with the flags of the probe that wrote it", dir,
        cell_dirs.size(), matrix.cells.size()));
  }
  for (const auto& cell_dir : cell_dirs) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(cell_dir, ec)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<probe::RunCapture> runs;
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      auto capture = probe::CaptureFromJsonl(text.str(), file.string());
      if (!capture.ok()) return capture.status();
      runs.push_back(std::move(capture).value());
    }
    if (runs.empty()) return Status::Error(fmt::format("{}: no run-K.jsonl", cell_dir.string()));
    run.runs.push_back(std::move(runs));
  }
  return run;
}

std::string RenderReport(const std::string& format, const probe::ReportInput& input) {
  std::ostringstream out;
  if (format == "json") {
    probe::WriteJsonReport(input, out);
  } else if (format == "html") {
    probe::WriteHtmlReport(input, out);
  } else {
    probe::WriteTextReport(input, out);
  }
  return out.str();
}

// Ctrl-C, SIGTERM, SIGHUP: the cells are killed and the work directory
// removed before the process ends with 128+signal. The signals are blocked
// here, before the cell threads start (they inherit the mask), and taken by
// one thread; the agents never see the mask (SpawnAgent clears it).
std::atomic<bool> interrupted{false};

void RemoveOnSignal(const std::string& root) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, root] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    interrupted = true;
    probe::KillRunningCells();
    std::error_code ec;
    for (int attempt = 0; attempt < 50; ++attempt) {  // runners may still be writing
      fs::remove_all(root, ec);
      if (!fs::exists(root, ec)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::fprintf(stderr, "glassbox: probe: interrupted; work directory removed\n");
    _exit(128 + sig);
  }).detach();
}

}  // namespace

const char* ProbeHelpText() {
  return R"(glassbox probe: does this agent behave differently depending on where or who I am?

  glassbox probe [--vary VAR=v1,v2,...]... [--matrix FILE] [--pairwise|--cross]
                 [--set VAR=VALUE]... [--copy PATH]... [--runs N] [--jobs N] [--timeout S]
                 [--format text|json|html] [--out DIR] -- CMD ARGS...

Runs CMD many times, each time in an isolated sandbox (its own network with
nothing outside the machine, a fake DNS, TLS interception with a CA made for
this probe, a fake Anthropic/OpenAI/Gemini provider, a fresh HOME and a clean
environment), in cells that differ in their environment. Then it compares
what the agent sent, request by request and field by field (aligned by
content), and reports every byte that depends on the environment, with the
fewest settings that explain it.

Examples:
  # The default matrix: a pairwise design (every pair of values of every two
  # dimensions in some cell, 20 cells) over the zone (Asia/Shanghai vs
  # Asia/Singapore: same offset, different name; /etc/localtime), LANG/LC_ALL,
  # the base URL (official, relay, company and foreign hosts), a proxy, host
  # and user name.
  glassbox probe -- claude -p "say hi"

  # Only what you care about, small and fast:
  glassbox probe --vary TZ=Asia/Shanghai,Asia/Singapore --runs 2 -- node agent.js

  # Several settings moving together, an unset value, the system zone:
  glassbox probe --vary LANG+LC_ALL=zh_CN.UTF-8,de_DE.UTF-8 \
                 --vary HTTPS_PROXY=,http://proxy.example-corp.com:8080 \
                 --vary @localtime=Asia/Shanghai -- ./agent.sh

  # A URL with any host works: the sandbox's DNS sends it to the capture server.
  glassbox probe --vary ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com -- node agent.js

  # Keep every captured request and an HTML page for a ticket:
  glassbox probe --format html --out probe-out -- node agent.js > report.html

Options:
  --vary VAR=v1,v2     vary VAR over these values, ONE dimension at a time around
                       the baseline (unless --pairwise or --cross). VAR1+VAR2=...
                       sets both to each value. An empty value unsets the
                       variable. Pseudo-variables: @localtime (zone behind
                       /etc/localtime), @hostname, @user. Repeatable. Without
                       --vary or --matrix, the default matrix above is used.
  --matrix FILE        a TOML matrix: [baseline] overrides, [[vary]] tables with
                       variable = "TZ" (or variables = [..]) and values = [..];
                       design = "pairwise" | "cross" | "one-at-a-time".
  --pairwise           a 2-way covering design over the dimensions (the default
                       matrix's design; catches what needs two settings at once).
  --cross              the full cross product.
  --set VAR=VALUE      fix VAR to VALUE in every cell (an empty value unsets it).
                       Only the variables the matrix varies are set otherwise,
                       plus a placeholder API key for the agent's provider.
  --copy PATH          copy this file or folder into the agent's working
                       directory in every cell (HOME and the working directory
                       start empty), e.g. a project's agent settings:
                       --copy conf/.gemini gives Gemini CLI the settings file
                       it needs to accept GOOGLE_GEMINI_BASE_URL.
  --runs N             runs per cell, to tell noise (ids, timestamps) from
                       dependence (default 2).
  --jobs N             cells run in parallel (default: number of cores).
  --timeout S          seconds per run before the agent is killed (default 60).
  --format F           text (default), json, html.
  --out DIR            write DIR/captures/NN-CELL/run-K.jsonl (every request, DNS
                       query and TLS failure), DIR/matrix.txt and DIR/report.FORMAT.
  --list-cells         print the matrix and exit.
  --replay DIR         analyse the captures an earlier --out DIR kept (same flags
                       and command), without running the agent again.
  --check-sandbox      say whether this machine can run the sandbox and exit.

Baseline: TZ unset and /etc/localtime UTC, LANG=en_US.UTF-8 (when LANG is
varied), base URLs unset (the official hosts), a placeholder API key, host
devbox-7f3a, user alex, PATH as yours.
Arguments naming existing files are made absolute (the agent runs in a fresh
directory).

Reading the report: the verdict comes first: covert-marker,
environment-dependent, inconclusive (the agent failed or never reached a
provider in some cells: their exit status and output are shown) or
no-environment-dependence. Differences that follow the same settings in the
same cells come as one group, covert markers first with their exact code
points. Each names the request and field ("POST /v1/messages body
.system[1].text"), the settings that explain it ("TZ=Asia/Shanghai when base
URL is not the baseline's") and the text in each cell. Classes, worst first:
covert-marker (same text to a reader, different code points or separators:
look-alikes, invisible characters, white space), other-dependence,
unexplained (no one or two settings explain it; not a dependence),
localisation (visible text follows LANG), clock (local date or time in
another zone), echo (the varied value itself, e.g. the Host header).
Noise (differs between runs of one cell) is listed apart. Also: every host and
hard-coded IP contacted, and the fields that carry your host name, user, zone,
locale, kernel, machine id, proxy or prompt.

What it cannot prove: an agent that detects the sandbox (no real network,
fresh HOME, fake certificates) may behave well only here; behaviour keyed to
your real network location (egress IP, real DNS, latency) is not varied.

Needs unprivileged user namespaces (no root). Exit codes: 0 no environment
dependence, 1 environment-dependent (covert marker or other dependence) or
inconclusive (the agent failed or never reached a provider in some cells, or
it reached a limit of the sandbox: processes, memory, disk, output, time,
connections or captured bytes, see docs/probe-sandbox.md; the reason on
stderr), 2 usage or runtime error.
)";
}

namespace {

int Report(const ProbeFlags& fl, const std::vector<std::string>& command,
           const probe::Matrix& matrix, const probe::MatrixRun& run);

// Everything after the first "--" is the agent command; `flag_argc` is set to
// the number of arguments before it.
std::vector<std::string> SplitCommand(int argc, char** argv, int* flag_argc) {
  std::vector<std::string> command;
  *flag_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      *flag_argc = i;
      for (int j = i + 1; j < argc; ++j) command.emplace_back(argv[j]);
      break;
    }
  }
  return command;
}

// Parses the flags into `fl`; returns an exit code when the command is
// done (help, a parse error), nothing when it goes on.
std::optional<int> ParseProbeFlags(int flag_argc, char** argv, ProbeFlags* fl) {
  CLI::App app{"does this agent behave differently depending on where or who I am?",
               "glassbox probe"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("--vary", fl->vary);
  app.add_option("--set", fl->set);
  app.add_option("--copy", fl->copy);
  app.add_option("--matrix", fl->matrix_file);
  app.add_flag("--cross", fl->cross);
  app.add_flag("--pairwise", fl->pairwise);
  app.add_option("--runs", fl->runs)->check(CLI::Range(1, 50));
  app.add_option("--jobs", fl->jobs)->check(CLI::Range(1, 256));
  app.add_option("--timeout", fl->timeout_s)->check(CLI::Range(0.1, 3600.0));
  app.add_option("--format", fl->format)->check(CLI::IsMember({"text", "json", "html"}));
  app.add_option("--out", fl->out_dir);
  app.add_option("--replay", fl->replay_dir);
  app.add_flag("--check-sandbox", fl->check_sandbox);
  app.add_flag("--list-cells", fl->list_cells);
  try {
    app.parse(flag_argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << ProbeHelpText();
    return kExitClean;
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("probe: {}; see 'glassbox help probe'", e.what()));
  }
  return std::nullopt;
}

// A --copy argument as an absolute path without a trailing '/': the cell
// copies it under its last component ("conf/.gemini/" -> ".gemini").
fs::path CopySource(const std::string& item) {
  std::error_code ec;
  fs::path p = fs::absolute(item, ec).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

// The flags that cannot go together, a missing command, a --copy of nothing.
Status CheckFlagCombinations(const ProbeFlags& fl, const std::vector<std::string>& command) {
  if (command.empty() && !fl.list_cells) {
    return Status::Error(
        "no command to run; put it after '--', e.g. glassbox probe -- node agent.js");
  }
  if (!fl.matrix_file.empty() && !fl.vary.empty())
    return Status::Error("use --vary or --matrix, not both");
  if (fl.cross && fl.pairwise) return Status::Error("use --pairwise or --cross, not both");
  for (const std::string& item : fl.copy) {
    std::error_code ec;
    if (!fs::exists(item, ec))
      return Status::Error(fmt::format("--copy {}: no such file or folder", item));
    const std::string name = CopySource(item).filename().string();
    if (name.empty() || name == "." || name == "..") {
      return Status::Error(fmt::format("--copy {}: name a file or folder, not '.' or '..'", item));
    }
  }
  return Status::Ok();
}

// Flags → matrix: --matrix FILE, else the --vary dimensions in the chosen
// design, else the default dimensions in a pairwise design (unless --cross).
Result<probe::Matrix> MatrixFromFlags(const ProbeFlags& fl,
                                      const std::vector<std::string>& command) {
  std::map<std::string, std::string> set;
  for (const auto& s : fl.set) {
    if (Status st = probe::ParseSet(s, &set); !st.ok()) return st;
  }
  if (!fl.matrix_file.empty()) return probe::LoadMatrixFile(fl.matrix_file, command, set);
  std::vector<probe::Dimension> dims;
  for (const auto& v : fl.vary) {
    auto dim = probe::ParseVary(v);
    if (!dim.ok()) return dim.status();
    dims.push_back(std::move(dim).value());
  }
  probe::Design design = fl.cross      ? probe::Design::kCross
                         : fl.pairwise ? probe::Design::kPairwise
                                       : probe::Design::kOneAtATime;
  if (dims.empty()) {
    dims = probe::DefaultDimensions(command);
    if (!fl.cross) design = probe::Design::kPairwise;
  }
  probe::Baseline baseline = probe::BaselineFor(dims, command, set);
  return probe::BuildMatrix(baseline, std::move(dims), design);
}

void PrintCells(const probe::Matrix& matrix) {
  for (const auto& cell : matrix.cells) {
    std::string varied;
    for (const auto& [k, v] : cell.varied)
      varied += fmt::format(" {}={}", k, v.empty() ? "(unset)" : v);
    std::cout << fmt::format("{}{}\n", cell.label, cell.varied.size() > 1 ? "   ->" + varied : "");
  }
}

// Runs every cell of `matrix` in the sandbox, from a fresh work directory
// that is removed afterwards (also on Ctrl-C).
Result<probe::MatrixRun> RunInSandbox(const ProbeFlags& fl, const std::vector<std::string>& command,
                                      const probe::Matrix& matrix) {
  if (Status s = probe::CheckSandboxSupport(); !s.ok()) {
    return Status::Error(fmt::format("the sandbox cannot run here: {}", s.message()));
  }
  // Held before any agent runs: cell runners start from this descriptor,
  // never from a path an agent could replace.
  if (Result<int> held = probe::HeldExecutable(); !held.ok()) return held.status();
  auto ca = probe::MitmCa::Generate("glassbox probe CA");
  if (!ca.ok())
    return Status::Error(fmt::format("cannot make the interception CA: {}", ca.status().message()));

  probe::ProbeOptions options;
  options.argv = AbsoluteFileArguments(command);
  options.runs = fl.runs;
  unsigned cores = std::thread::hardware_concurrency();
  options.jobs = fl.jobs > 0 ? fl.jobs : static_cast<int>(cores == 0 ? 1 : cores);
  options.timeout_s = fl.timeout_s;
  for (const std::string& item : fl.copy)
    options.copy_into_workdir.push_back(CopySource(item).string());
  // Work directories a probe killed with -9 left behind go first.
  probe::SweepStaleWorkRoots(fs::temp_directory_path().string(), "glassbox-probe-");
  std::string root = (fs::temp_directory_path() / "glassbox-probe-XXXXXX").string();
  if (mkdtemp(root.data()) == nullptr)
    return Status::Error(fmt::format("cannot create a work directory in {}", root));
  options.work_root = root;
  if (Status marked = probe::MarkWorkRoot(root); !marked.ok()) return marked;
  RemoveOnSignal(root);

  const probe::MitmCa* ca_ptr = ca->get();
  probe::CellRunner runner = [&options, ca_ptr](const probe::Cell& cell,
                                                const std::string& work_dir) {
    probe::RunOptions run;
    run.argv = options.argv;
    run.timeout_s = options.timeout_s;
    run.work_dir = work_dir;
    run.ca = ca_ptr;
    run.glassbox_exe = options.glassbox_exe;
    run.copy_into_workdir = options.copy_into_workdir;
    return probe::RunCell(probe::ToCellSpec(cell), run);
  };
  Result<probe::MatrixRun> result = probe::RunMatrix(matrix, options, runner);
  // Interrupted: the signal thread is removing the work directory and ends
  // the process; the cells it killed are not an error to report.
  while (interrupted) pause();
  std::error_code ec;
  fs::remove_all(root, ec);
  return result;
}

}  // namespace

int RunProbe(int argc, char** argv) {
  int flag_argc = argc;
  const std::vector<std::string> command = SplitCommand(argc, argv, &flag_argc);
  ProbeFlags fl;
  if (std::optional<int> done = ParseProbeFlags(flag_argc, argv, &fl)) return *done;
  if (fl.check_sandbox) {
    Status s = probe::CheckSandboxSupport();
    if (!s.ok()) return Fail(fmt::format("probe: the sandbox cannot run here: {}", s.message()));
    std::cout << "probe: sandbox supported (unprivileged user, network, mount, UTS, IPC and cgroup "
                 "namespaces)\n";
    return kExitClean;
  }
  if (Status s = CheckFlagCombinations(fl, command); !s.ok())
    return Fail(fmt::format("probe: {}", s.message()));
  Result<probe::Matrix> matrix = MatrixFromFlags(fl, command);
  if (!matrix.ok()) return Fail(fmt::format("probe: {}", matrix.status().message()));
  if (fl.list_cells) {
    PrintCells(*matrix);
    return kExitClean;
  }
  if (!fl.replay_dir.empty()) {
    Result<probe::MatrixRun> replayed = ReadCaptures(fl.replay_dir, *matrix);
    if (!replayed.ok())
      return Fail(fmt::format("probe: --replay: {}", replayed.status().message()));
    return Report(fl, command, *matrix, *replayed);
  }
  Result<probe::MatrixRun> result = RunInSandbox(fl, command, *matrix);
  if (!result.ok()) return Fail(fmt::format("probe: {}", result.status().message()));
  return Report(fl, command, *matrix, *result);
}

namespace {
int Report(const ProbeFlags& fl, const std::vector<std::string>& command,
           const probe::Matrix& matrix_value, const probe::MatrixRun& run) {
  const probe::Matrix* matrix = &matrix_value;
  const probe::MatrixRun* result = &run;
  probe::Analysis analysis = probe::Analyze(*matrix, result->runs, GatherHostFacts(command));
  std::vector<int> runs_per_cell;
  std::vector<std::vector<double>> wall_ms;
  for (const auto& r : result->runs) {
    runs_per_cell.push_back(static_cast<int>(r.size()));
    wall_ms.emplace_back();
    for (const probe::RunCapture& capture : r) wall_ms.back().push_back(capture.wall_ms);
  }
  probe::ReportInput input{*matrix,   analysis,        runs_per_cell, command,
                           Version(), result->seconds, wall_ms};
  std::string report = RenderReport(fl.format, input);

  if (!fl.out_dir.empty()) {
    if (Status s = fl.replay_dir == fl.out_dir ? Status::Ok()
                                               : probe::WriteCaptures(fl.out_dir, *matrix, *result);
        !s.ok()) {
      return Fail(fmt::format("probe: {}", s.message()));
    }
    std::string ext = fl.format == "text" ? "txt" : fl.format;
    if (Status s = WriteFile(fs::path(fl.out_dir) / ("report." + ext), report); !s.ok()) {
      return Fail(fmt::format("probe: {}", s.message()));
    }
    if (fl.format != "json") {
      std::ostringstream json;
      probe::WriteJsonReport(input, json);
      if (Status s = WriteFile(fs::path(fl.out_dir) / "report.json", json.str()); !s.ok()) {
        return Fail(fmt::format("probe: {}", s.message()));
      }
    }
  }
  std::cout << report;
  std::cout.flush();
  // Inconclusive is never a clean exit: 1, as for a finding, with the reason on stderr.
  if (analysis.verdict == probe::Verdict::kInconclusive) {
    std::cerr << fmt::format("glassbox: probe: inconclusive: {}\n",
                             analysis.inconclusive_reasons.empty()
                                 ? std::string("see the report")
                                 : analysis.inconclusive_reasons.front());
    return kExitFindings;
  }
  return analysis.environment_dependent ? kExitFindings : kExitClean;
}

}  // namespace

}  // namespace glassbox::cli
