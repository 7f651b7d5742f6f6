#include "scan/scanner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/hidden_text.h"
#include "core/json_strings.h"
#include "core/locate.h"
#include "core/secret_views.h"
#include "core/utf.h"
#include "scan/agent_config.h"
#include "scan/file_source.h"
#include "scan/suppress.h"
#include "scan/walker.h"

namespace glassbox::scan {

struct Scanner::ThreadState {
  std::unique_ptr<SecretScratch> scratch;
  HiddenTextDetector detector;
  std::vector<Finding> buffer;
  ReadBuffer read_buffer;
};

bool LooksBinary(std::string_view bytes) {
  const utf::Encoding enc = utf::DetectEncoding(bytes);
  if (enc == utf::Encoding::kUtf16Le || enc == utf::Encoding::kUtf16Be) return false;
  const size_t n = std::min<size_t>(bytes.size(), 8192);
  return std::memchr(bytes.data(), 0, n) != nullptr;
}

Result<std::unique_ptr<Scanner>> Scanner::Create(ScanOptions options, std::vector<SecretRule> extra_rules) {
  std::unique_ptr<Scanner> s(new Scanner(std::move(options)));
  if (s->options_.secrets || s->options_.provenance) {
    auto rules = BuiltinSecretRules();
    if (!rules.ok()) return rules.status();
    std::vector<SecretRule> all = std::move(rules.value());
    if (!extra_rules.empty()) {
      // Users' rules are checked now, so a bad regex is reported before the scan.
      auto checked = SecretScanner::Compile(extra_rules, SecretScanner::CompileMode::kEager);
      if (!checked.ok()) return checked.status();
    }
    for (SecretRule& r : extra_rules) all.push_back(std::move(r));
    // Disabled rules and families never reach the engine.
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const SecretRule& r) {
                               const bool family_on = r.id.rfind("provenance/", 0) == 0 ? s->options_.provenance
                                                                                        : s->options_.secrets;
                               return !family_on || !s->RuleEnabled(r.id);
                             }),
              all.end());
    auto compiled = SecretScanner::Compile(std::move(all), SecretScanner::CompileMode::kLazy);
    if (!compiled.ok()) return compiled.status();
    s->secrets_ = std::move(compiled.value());
  }
  if (s->options_.agent_config) {
    auto rules = BuiltinAgentConfigRules();
    if (!rules.ok()) return rules.status();
    std::vector<AgentConfigRule> enabled;
    for (AgentConfigRule& r : rules.value()) {
      if (s->RuleEnabled(r.id)) enabled.push_back(std::move(r));
    }
    // The built-in rules' regexes are checked by their tests, not at every start.
    auto created = AgentConfigScanner::Create(std::move(enabled), /*check_regexes=*/false);
    if (!created.ok()) return created.status();
    s->agent_config_ = std::move(created.value());
  }
  return s;
}

bool Scanner::RuleEnabled(const std::string& rule) const {
  for (const std::string& d : options_.disabled_rules) {
    if (RuleMatches(d, rule)) return false;
  }
  return true;
}

std::vector<RuleInfo> Scanner::RuleCatalog() const {
  std::vector<RuleInfo> rules;
  if (options_.unicode) {
    for (const RuleInfo& r : UnicodeRuleInfos()) rules.push_back(r);
  }
  if (agent_config_) {
    for (const AgentConfigRule& r : agent_config_->rules()) {
      rules.push_back({r.id, r.description,
                       r.description + ". Opening this repository with an agent would let the repository decide "
                                       "this. Review the file before you open the repository with an agent.",
                       r.severity});
    }
    rules.push_back({"agent-config/unparsable", "Agent settings file that is not valid JSON, TOML or YAML",
                     "glassbox could not check this settings file; the agent may still read it.", Severity::kMedium});
    rules.push_back({"agent-config/symlink-escape", "Symbolic link that points outside the repository",
                     "An agent that reads the link reads the file it points to (for example ~/.ssh or ~/.aws).",
                     Severity::kHigh});
  }
  if (secrets_) {
    for (const SecretRule& r : secrets_->rules()) {
      const bool secret = r.id.rfind("secret/", 0) == 0;
      rules.push_back({r.id, r.description,
                       secret ? r.description + " found in text. Rotate the credential, then remove it from the "
                                                "file and its history."
                              : r.description + ": text marked as written by a coding agent. Keep it out of "
                                                "training and evaluation data, or route it to review.",
                       r.severity});
    }
  }
  return rules;
}

void Scanner::ScanText(std::string_view text, const std::string& path, TextKind kind, bool at_file_start,
                       ThreadState& ts, std::vector<Finding>* out) const {
  const size_t first = out->size();
  if (options_.unicode || agent_config_) {
    ts.detector.Scan(text, TextContext{kind, at_file_start}, out);
    // A JSON document's \u escapes, decoded (JSON Lines rows are decoded whole by ScanData).
    if (kind != TextKind::kData && JsonSyntaxForPath(path) == JsonSyntax::kDocument) {
      ts.detector.ScanJsonEscapes(text, JsonSyntax::kDocument, out);
    }
  }
  if (agent_config_ && kind != TextKind::kData && agent_config_->Applies(path)) {
    const std::vector<Finding> unicode(out->begin() + static_cast<ptrdiff_t>(first), out->end());
    agent_config_->Scan(path, text, unicode, out);
  }
  if (!options_.unicode) {
    // The detector ran for the agent-config rules only.
    out->erase(std::remove_if(out->begin() + static_cast<ptrdiff_t>(first), out->end(),
                              [](const Finding& f) { return f.rule.rfind("unicode/", 0) == 0; }),
               out->end());
  }
  if (secrets_) {
    const size_t plain_begin = out->size();
    Status st = secrets_->Scan(text, *ts.scratch, out);
    // What hides a secret from the plain match: invisible characters, JSON
    // escapes, base64 (core/secret_views.h).
    const std::vector<Finding> plain(out->begin() + static_cast<ptrdiff_t>(plain_begin), out->end());
    SecretViewOptions views;
    views.json = kind == TextKind::kData ? JsonSyntax::kNone : JsonSyntaxForPath(path);
    if (st.ok()) st = ScanSecretViews(*secrets_, text, views, *ts.scratch, plain, out);
    (void)st;  // only fails on an engine bug; the unicode results still stand
  }
  // Drop disabled rules and those below the floor before locating them.
  auto keep_end = std::remove_if(out->begin() + static_cast<ptrdiff_t>(first), out->end(), [&](const Finding& f) {
    return f.severity < options_.min_severity || !RuleEnabled(f.rule);
  });
  out->erase(keep_end, out->end());
  if (out->size() == first) return;
  std::vector<Finding> mine(std::make_move_iterator(out->begin() + static_cast<ptrdiff_t>(first)),
                            std::make_move_iterator(out->end()));
  out->resize(first);
  LocateFindings(text, path, &mine);
  for (Finding& f : mine) {
    if (options_.inline_suppression && InlineSuppressed(text, f)) continue;
    out->push_back(std::move(f));
  }
}

void Scanner::ScanData(std::string_view text, const std::string& path, ThreadState& ts, std::vector<Finding>* out,
                       ReportStats* stats) const {
  // JSONL: one document per line; a .json file is one document.
  size_t row_start = 0;
  uint64_t row = 0;
  std::vector<Finding> local;
  while (row_start < text.size()) {
    size_t row_end = text.find('\n', row_start);
    if (row_end == std::string_view::npos) row_end = text.size();
    std::string_view line = text.substr(row_start, row_end - row_start);
    ++row;
    const size_t offset = row_start;
    row_start = row_end + 1;
    size_t ws = 0;
    while (ws < line.size() && (line[ws] == ' ' || line[ws] == '\t' || line[ws] == '\r')) ++ws;
    if (ws == line.size()) continue;
    ++stats->rows;
    Status st = ForEachJsonString(line, [&](const JsonStringVisit& v) {
      if (v.decoded.empty()) return;
      local.clear();
      ScanText(v.decoded, path, TextKind::kData, false, ts, &local);
      for (Finding& f : local) {
        f.row = row;
        f.json_path = v.is_key ? v.path + " (key)" : v.path;
        f.line = row;
        f.byte_offset += offset + v.raw_offset;  // approximate: the decoded offset past the string's start
        f.fingerprint = Sha256Hex(f.fingerprint + f.json_path, 32);
        out->push_back(std::move(f));
      }
    });
    if (!st.ok()) {
      // Report the malformed row, then still scan its raw text: a broken row
      // must not hide what is in it.
      Finding& f = RuleEnabled("unicode/invalid-encoding") ? out->emplace_back() : local.emplace_back();
      f.rule = "unicode/invalid-encoding";
      f.severity = Severity::kLow;
      f.path = path;
      f.row = row;
      f.line = row;
      f.json_path = "$";
      f.byte_offset = offset;
      f.message = fmt::format("row is not valid JSON ({}); scanned as plain text", st.message());
      local.clear();
      ScanText(line, path, TextKind::kData, false, ts, &local);
      for (Finding& g : local) {
        g.row = row;
        g.line = row;
        g.json_path = "$";
        g.byte_offset += offset;
        out->push_back(std::move(g));
      }
    }
  }
}

void Scanner::ScanBytes(std::string_view bytes, const std::string& path, ThreadState& ts, std::vector<Finding>* out,
                        ReportStats* stats) const {
  stats->files += 1;
  stats->bytes += bytes.size();
  const TextKind kind = TextKindFor(path, bytes);  // the name, or the content when the name says nothing
  const utf::Encoding enc = utf::DetectEncoding(bytes);
  if (enc == utf::Encoding::kUtf16Le || enc == utf::Encoding::kUtf16Be) {
    const utf::Transcoded t = utf::Utf16ToUtf8(bytes, enc == utf::Encoding::kUtf16Be, 2);
    const size_t first = out->size();
    ScanText(t.utf8, path, kind, false, ts, out);
    for (size_t k = first; k < out->size(); ++k) {
      Finding& f = (*out)[k];
      const size_t b = std::min<size_t>(f.byte_offset, t.utf8.size());
      const size_t e = std::min<size_t>(f.byte_offset + f.byte_length, t.utf8.size());
      f.byte_offset = t.source_offset[b];
      f.byte_length = t.source_offset[e] - t.source_offset[b];
      f.fixes.clear();  // fixes are in UTF-8 units; clean refuses UTF-16 anyway
    }
    if (t.invalid_units > 0) {
      Finding& f = out->emplace_back();
      f.rule = "unicode/invalid-encoding";
      f.severity = Severity::kLow;
      f.path = path;
      f.byte_offset = t.first_invalid_offset;
      f.message = fmt::format("{} invalid UTF-16 code units (first at byte {})", t.invalid_units,
                              t.first_invalid_offset);
    }
    return;
  }
  if (LooksBinary(bytes)) {
    stats->files -= 1;
    stats->bytes -= bytes.size();
    stats->binary_skipped += 1;
    return;
  }
  if (options_.data_mode || kind == TextKind::kData) {
    ScanData(bytes, path, ts, out, stats);
    return;
  }
  ScanText(bytes, path, kind, true, ts, out);
}

void Scanner::ScanBuffer(std::string_view bytes, const std::string& path, std::vector<Finding>* out,
                         ReportStats* stats) const {
  ThreadState ts;
  if (secrets_) ts.scratch = secrets_->NewScratch();
  ScanBytes(bytes, path, ts, out, stats);
}

Report Scanner::ScanPaths(const std::vector<std::string>& inputs) const {
  const auto started = std::chrono::steady_clock::now();
  Report report;
  std::vector<std::string> paths;
  bool read_stdin = false;
  for (const std::string& in : inputs) {
    if (in == "-") {
      read_stdin = true;
    } else {
      paths.push_back(in);
    }
  }
  if (read_stdin) {
    auto src = FileSource::ReadAll(STDIN_FILENO, "<stdin>");
    if (!src.ok()) {
      report.errors.push_back(src.status().message());
    } else {
      ScanBuffer(src->bytes(), options_.data_mode ? "-.jsonl" : "-", &report.findings, &report.stats);
      for (Finding& f : report.findings) f.path = "-";
    }
  }
  // The walk feeds a queue that the workers drain while it goes on. Files go
  // in batches of kBatch: handed over one by one, each file cost a futex
  // wake-up and wait (5,400 of them for 2,446 files, a sixth of a short
  // scan's time).
  constexpr size_t kBatch = 8;
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<std::vector<std::string>> queue;
  bool walk_done = false;
  size_t waiting = 0;  // workers blocked on queue_cv: only they need a wake-up call
  auto next_batch = [&](std::vector<std::string>* out) -> bool {
    std::unique_lock<std::mutex> lock(queue_mu);
    ++waiting;
    queue_cv.wait(lock, [&] { return !queue.empty() || walk_done; });
    --waiting;
    if (queue.empty()) return false;
    *out = std::move(queue.front());
    queue.pop_front();
    return true;
  };
  const unsigned jobs = options_.jobs != 0 ? options_.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> done_files{0}, done_bytes{0};
  std::mutex mu;
  auto worker = [&]() {
    ThreadState ts;
    if (secrets_) ts.scratch = secrets_->NewScratch();
    std::vector<Finding> found;
    ReportStats stats;
    std::vector<std::string> errors;
    std::vector<std::string> batch;
    while (next_batch(&batch)) {
      for (const std::string& path : batch) {
        auto src = FileSource::Open(path, options_.max_file_bytes, &ts.read_buffer);
        if (!src.ok()) {
          if (src.status().message().find("size limit") != std::string::npos) {
            ++stats.too_large_skipped;
          }
          errors.push_back(src.status().message());
          continue;
        }
        ScanBytes(src->bytes(), path, ts, &found, &stats);
        const uint64_t f = done_files.fetch_add(1, std::memory_order_relaxed) + 1;
        const uint64_t b = done_bytes.fetch_add(src->bytes().size(), std::memory_order_relaxed) + src->bytes().size();
        if (options_.progress && (f % 256) == 0) options_.progress(f, b);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (Finding& f : found) report.findings.push_back(std::move(f));
    for (std::string& e : errors) report.errors.push_back(std::move(e));
    report.stats.files += stats.files;
    report.stats.bytes += stats.bytes;
    report.stats.binary_skipped += stats.binary_skipped;
    report.stats.too_large_skipped += stats.too_large_skipped;
    report.stats.rows += stats.rows;
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);
  WalkOptions walk_options{options_.excludes, options_.respect_gitignore, nullptr};
  std::vector<Finding> link_findings;
  if (agent_config_ && RuleEnabled("agent-config/symlink-escape")) {
    walk_options.on_escaping_symlink = [&](const std::string& link, const std::string& target) {
      Finding f;
      f.rule = "agent-config/symlink-escape";
      f.severity = Severity::kHigh;
      f.path = link;
      f.message = fmt::format("symbolic link points outside the repository, to {}: an agent that reads it reads "
                              "that file",
                              target);
      f.fingerprint = Sha256Hex(f.rule + '\0' + link + '\0' + target, 32);
      link_findings.push_back(std::move(f));
    };
  }
  std::vector<std::string> pending;
  auto hand_over = [&] {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(queue_mu);
      queue.push_back(std::move(pending));
      wake = waiting > 0;
    }
    pending = {};
    if (wake) queue_cv.notify_one();
  };
  std::vector<std::string> walk_errors = WalkEach(paths, walk_options, [&](std::string file) {
    pending.push_back(std::move(file));
    if (pending.size() >= kBatch) hand_over();
  });
  if (!pending.empty()) hand_over();
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    walk_done = true;
  }
  queue_cv.notify_all();
  for (std::thread& t : threads) t.join();
  for (std::string& e : walk_errors) report.errors.push_back(std::move(e));
  for (Finding& f : link_findings) report.findings.push_back(std::move(f));
  std::stable_sort(report.findings.begin(), report.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.byte_offset) < std::tie(b.path, b.byte_offset);
  });
  std::sort(report.errors.begin(), report.errors.end());
  report.stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace glassbox::scan
