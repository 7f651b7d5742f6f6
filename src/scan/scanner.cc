#include "scan/scanner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/hidden_text.h"
#include "core/json_strings.h"
#include "core/locate.h"
#include "core/secret_views.h"
#include "core/text_index.h"
#include "core/utf.h"
#include "scan/agent_config.h"
#include "scan/content.h"
#include "scan/file_source.h"
#include "scan/suppress.h"
#include "scan/walker.h"

namespace glassbox::scan {

struct Scanner::ThreadState {
  std::unique_ptr<SecretScratch> scratch;
  HiddenTextDetector detector;
  std::vector<Finding> buffer;
  ReadBuffer read_buffer;
  TextIndex index;      // of the text ScanText is on
  std::string strings;  // a binary window after the strings pass
};

Result<std::unique_ptr<Scanner>> Scanner::Create(ScanOptions options,
                                                 std::vector<SecretRule> extra_rules) {
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
                               const bool family_on = r.id.rfind("provenance/", 0) == 0
                                                          ? s->options_.provenance
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
      rules.push_back(
          {r.id, r.description,
           r.description +
               ". Opening this repository with an agent would let the repository decide "
               "this. Review the file before you open the repository with an agent.",
           r.severity});
    }
    rules.push_back({"agent-config/unparsable",
                     "Agent settings file that is not valid JSON, TOML or YAML",
                     "glassbox could not check this settings file; the agent may still read it.",
                     Severity::kMedium});
    rules.push_back(
        {"agent-config/symlink-escape", "Symbolic link that points outside the repository",
         "An agent that reads the link reads the file it points to (for example ~/.ssh or ~/.aws).",
         Severity::kHigh});
  }
  if (secrets_) {
    for (const SecretRule& r : secrets_->rules()) {
      const bool secret = r.id.rfind("secret/", 0) == 0;
      rules.push_back(
          {r.id, r.description,
           secret
               ? r.description + " found in text. Rotate the credential, then remove it from the "
                                 "file and its history."
               : r.description + ": text marked as written by a coding agent. Keep it out of "
                                 "training and evaluation data, or route it to review.",
           r.severity});
    }
  }
  return rules;
}

void Scanner::ScanText(std::string_view text, const std::string& path, TextKind kind,
                       bool at_file_start, ThreadState& ts, std::vector<Finding>* out) const {
  const size_t first = out->size();
  // A JSON document's \u escapes, decoded (JSON Lines rows are decoded whole
  // by ScanData): its escaped strings are found once, for the hidden-text
  // detector and the secret views both.
  const JsonSyntax json = kind == TextKind::kData ? JsonSyntax::kNone : JsonSyntaxForPath(path);
  const bool json_escapes = json == JsonSyntax::kDocument &&
                            (options_.unicode || agent_config_ || secrets_) &&
                            text.find("\\u") != std::string_view::npos;
  std::vector<EscapedJsonString> escaped;
  if (json_escapes) escaped = EscapedJsonStrings(text);
  // The hidden-text detector and the secret views each read every byte; with
  // both on, one pass finds what both look for (core/text_index.h).
  const bool hidden = options_.unicode || agent_config_;
  const TextIndex* index = nullptr;
  if (hidden && secrets_) {
    ts.index.Build(text);
    index = &ts.index;
  }
  if (hidden) {
    ts.detector.Scan(text, TextContext{kind, at_file_start}, out, index);
    if (json == JsonSyntax::kDocument)
      ts.detector.ScanJsonEscapes(text, JsonSyntax::kDocument, out, &escaped);
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
    const std::vector<Finding> plain(out->begin() + static_cast<ptrdiff_t>(plain_begin),
                                     out->end());
    SecretViewOptions views;
    views.json = json;
    views.json_strings = &escaped;
    views.index = index;
    if (st.ok()) st = ScanSecretViews(*secrets_, text, views, *ts.scratch, plain, out);
    (void)st;  // only fails on an engine bug; the unicode results still stand
  }
  // Drop disabled rules and those below the floor before locating them.
  auto keep_end = std::remove_if(
      out->begin() + static_cast<ptrdiff_t>(first), out->end(),
      [&](const Finding& f) { return f.severity < options_.min_severity || !RuleEnabled(f.rule); });
  out->erase(keep_end, out->end());
  if (out->size() == first) return;
  if (!options_.locate) {
    for (size_t k = first; k < out->size(); ++k) {
      if ((*out)[k].path.empty()) (*out)[k].path = path;
    }
    return;
  }
  std::vector<Finding> mine(std::make_move_iterator(out->begin() + static_cast<ptrdiff_t>(first)),
                            std::make_move_iterator(out->end()));
  out->resize(first);
  LocateFindings(text, path, &mine);  // sorts them by offset
  InlineSuppressor suppressor(text);
  for (Finding& f : mine) {
    if (options_.inline_suppression && suppressor.Suppressed(f)) continue;
    out->push_back(std::move(f));
  }
}

namespace {

// A row with thousands of findings keeps its most severe row_cap (those from
// row_first on in *out): the filter needs a row's reasons, not all of them.
// Keeps, in their order, every finding above the severity where the cap
// falls and the first of that severity: one pass, no sort.
void TrimRow(size_t row_first, size_t row_cap, std::vector<Finding>* out) {
  size_t by_severity[5] = {};
  for (size_t k = row_first; k < out->size(); ++k)
    ++by_severity[static_cast<size_t>((*out)[k].severity)];
  int cut = 4;
  size_t above = 0;
  while (cut > 0 && above + by_severity[cut] < row_cap) above += by_severity[cut--];
  size_t room_at_cut = row_cap - above;
  size_t w = row_first;
  for (size_t k = row_first; k < out->size(); ++k) {
    const int sev = static_cast<int>((*out)[k].severity);
    if (sev < cut || (sev == cut && room_at_cut == 0)) continue;
    if (sev == cut) --room_at_cut;
    if (w != k) (*out)[w] = std::move((*out)[k]);
    ++w;
  }
  out->resize(w);
}

}  // namespace

void Scanner::ScanMalformedRow(std::string_view line, uint64_t row, size_t offset,
                               const std::string& reason, const std::string& path, ThreadState& ts,
                               std::vector<Finding>* out) const {
  // Report the malformed row, then still scan its raw text: a broken row
  // must not hide what is in it.
  if (RuleEnabled("unicode/invalid-encoding")) {
    Finding& f = out->emplace_back();
    f.rule = "unicode/invalid-encoding";
    f.severity = Severity::kLow;
    f.path = path;
    f.row = row;
    f.line = row;
    f.json_path = "$";
    f.byte_offset = offset;
    f.message = fmt::format("row is not valid JSON ({}); scanned as plain text", reason);
  }
  std::vector<Finding> local;
  ScanText(line, path, TextKind::kData, false, ts, &local);
  for (Finding& g : local) {
    g.row = row;
    g.line = row;
    g.json_path = "$";
    g.byte_offset += offset;
    out->push_back(std::move(g));
  }
}

void Scanner::ScanData(std::string_view text, const std::string& path, ThreadState& ts,
                       std::vector<Finding>* out, ReportStats* stats) const {
  // JSONL: one document per line; a .json file is one document.
  size_t row_start = 0;
  uint64_t row = 0;
  std::vector<Finding> local;
  const size_t row_cap = options_.max_findings_per_row;
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
    const size_t row_first = out->size();
    Status st = ForEachJsonString(line, [&](const JsonStringVisit& v) {
      if (v.decoded.empty()) return;
      local.clear();
      ScanText(v.decoded, path, TextKind::kData, false, ts, &local);
      for (Finding& f : local) {
        f.row = row;
        f.json_path = v.is_key ? v.path + " (key)" : v.path;
        f.line = row;
        f.byte_offset +=
            offset + v.raw_offset;  // approximate: the decoded offset past the string's start
        if (options_.locate) f.fingerprint = Sha256Hex(f.fingerprint + f.json_path, 32);
        out->push_back(std::move(f));
      }
      if (row_cap > 0 && out->size() - row_first > 2 * row_cap) TrimRow(row_first, row_cap, out);
    });
    if (!st.ok()) ScanMalformedRow(line, row, offset, st.message(), path, ts, out);
    if (row_cap > 0 && out->size() - row_first > row_cap) TrimRow(row_first, row_cap, out);
  }
}

namespace {

// Keeps at most kMaxFindingsPerRule findings of each rule for one input: the
// most severe, the earliest among equals. What is left out is counted and
// said in a note, never dropped silently.
class FindingCap {
 public:
  explicit FindingCap(size_t per_rule) : per_rule_(per_rule) {}
  void Add(Finding f) {
    PerRule& r = rules_[f.rule];
    const auto sev = static_cast<size_t>(f.severity);
    if (per_rule_ == 0 || r.kept < per_rule_) {
      r.by_severity[sev].push_back(std::move(f));
      ++r.kept;
      return;
    }
    ++r.dropped;
    size_t lowest = 0;
    while (lowest < kSeverities && r.by_severity[lowest].empty()) ++lowest;
    if (lowest >= sev) return;         // no less severe finding to give way
    r.by_severity[lowest].pop_back();  // the latest of the least severe
    r.by_severity[sev].push_back(std::move(f));
  }
  // Moves the kept findings to *out (by offset) and notes what was left out.
  void Flush(const std::string& path, std::vector<Finding>* out, std::vector<std::string>* notes) {
    const size_t first = out->size();
    for (auto& [rule, r] : rules_) {
      for (auto& bucket : r.by_severity) {
        for (Finding& f : bucket) out->push_back(std::move(f));
      }
      if (r.dropped > 0 && notes != nullptr) {
        notes->push_back(
            fmt::format("{}: {} more {} findings not listed (limit {} per rule and input; the most "
                        "severe are kept)",
                        path, r.dropped, rule, per_rule_));
      }
    }
    std::stable_sort(
        out->begin() + static_cast<ptrdiff_t>(first), out->end(),
        [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
    rules_.clear();
  }

 private:
  static constexpr size_t kSeverities = 5;
  size_t per_rule_;
  struct PerRule {
    std::vector<Finding> by_severity[kSeverities];
    size_t kept = 0;
    uint64_t dropped = 0;
  };
  std::map<std::string, PerRule> rules_;
};

// Counts what a window's first `cut` bytes add to the line and column of the
// next window's start.
struct LinePosition {
  uint64_t lines_before = 0;  // newlines before the window
  uint64_t column_base = 0;   // code points between the last newline and the window
  void Advance(std::string_view consumed) {
    const void* nl = memrchr(consumed.data(), '\n', consumed.size());
    std::string_view tail = consumed;
    if (nl != nullptr) {
      lines_before += utf::CountNewlines(consumed);
      tail =
          consumed.substr(static_cast<size_t>(static_cast<const char*>(nl) - consumed.data()) + 1);
      column_base = 0;
    }
    for (char c : tail) column_base += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
};

// Moves a finding in the UTF-8 transcoding `t` of a UTF-16 window (at `base`
// in the file) to the file's offsets, lines and columns. False when the next
// window reports it: it starts past the cut (text_cut, in the transcoding).
bool ToUtf16Source(const utf::Transcoded& t, size_t text_cut, bool last, uint64_t base,
                   const LinePosition& pos, Finding* f) {
  const size_t b = std::min<size_t>(f->byte_offset, t.utf8.size());
  const size_t e = std::min<size_t>(f->byte_offset + f->byte_length, t.utf8.size());
  if (!last && b >= text_cut) return false;
  f->byte_offset = base + t.source_offset[b];
  f->byte_length = t.source_offset[e] - t.source_offset[b];
  f->fixes.clear();  // fixes are in UTF-8 units; clean refuses UTF-16 anyway
  if (f->line == 1) f->column += pos.column_base;
  f->line += pos.lines_before;
  return true;
}

// Moves a finding of a window at `base` to the file's offsets and lines (a
// binary file's strings have none: the offset says where).
void ToFileSource(uint64_t base, bool binary, const LinePosition& pos, Finding* f) {
  f->byte_offset += base;
  if (binary) {
    f->line = 0;
    f->column = 0;
    f->message += fmt::format(" (in a string of a binary file, at byte {})", f->byte_offset);
    f->fixes.clear();
  } else {
    if (f->line == 1) f->column += pos.column_base;
    f->line += pos.lines_before;
  }
}

}  // namespace

void Scanner::ScanWindows(WindowReader& reader, const std::string& path, TextKind path_kind,
                          ThreadState& ts, std::vector<Finding>* out, ReportStats* stats,
                          std::vector<std::string>* notes) const {
  stats->files += 1;
  // The name, or the first window when the name says nothing (TextKindFor).
  const TextKind kind =
      path_kind != TextKind::kUnknown ? path_kind : SniffTextKind(reader.Window());
  const ContentKind content = ClassifyContent(path_kind, reader.Window());
  if (content == ContentKind::kBinary) stats->binary_files += 1;
  const bool utf16 = content == ContentKind::kUtf16Le || content == ContentKind::kUtf16Be;
  FindingCap cap(options_.max_findings_per_rule);
  LinePosition pos;
  uint64_t invalid_utf16 = 0, first_invalid_utf16 = 0;
  std::vector<Finding> local;
  for (bool first = true;; first = false) {
    const std::string_view window = reader.Window();
    const bool last = reader.AtEnd();
    const size_t cut = last ? window.size() : WindowCut(window, content);
    const uint64_t base = reader.base();
    stats->bytes += cut;
    local.clear();
    if (utf16) {
      const bool bom = first && utf::DetectEncoding(window) != utf::Encoding::kUtf8;
      const utf::Transcoded t =
          utf::Utf16ToUtf8(window.substr(0, last ? window.size() : window.size() & ~size_t{1}),
                           content == ContentKind::kUtf16Be, bom ? 2 : 0);
      ScanText(t.utf8, path, kind, false, ts, &local);
      // The UTF-8 offset of the cut: where the next window's text starts.
      const size_t text_cut =
          static_cast<size_t>(std::lower_bound(t.source_offset.begin(), t.source_offset.end(),
                                               static_cast<uint64_t>(cut)) -
                              t.source_offset.begin());
      for (Finding& f : local) {
        if (ToUtf16Source(t, text_cut, last, base, pos, &f)) cap.Add(std::move(f));
      }
      if (t.invalid_units > 0 && (last || t.first_invalid_offset < cut)) {
        if (invalid_utf16 == 0) first_invalid_utf16 = base + t.first_invalid_offset;
        invalid_utf16 += t.invalid_units;
      }
      // Only a next window needs the position: the last one (a whole file, for
      // most) is not counted over again.
      if (!last) pos.Advance(std::string_view(t.utf8).substr(0, std::min(text_cut, t.utf8.size())));
    } else {
      std::string_view text = window;
      if (content == ContentKind::kBinary) {
        StringsPass(window, !last, &ts.strings);
        text = ts.strings;
      }
      ScanText(text, path, kind, first, ts, &local);
      for (Finding& f : local) {
        if (!last && f.byte_offset >= cut) continue;  // the next window sees it whole
        ToFileSource(base, content == ContentKind::kBinary, pos, &f);
        cap.Add(std::move(f));
      }
      if (content != ContentKind::kBinary && !last) pos.Advance(window.substr(0, cut));
    }
    if (last) break;
    Status st = reader.Advance(cut);
    if (!st.ok()) {
      if (notes != nullptr) notes->push_back(st.message());
      break;
    }
  }
  if (invalid_utf16 > 0) {
    Finding f;
    f.rule = "unicode/invalid-encoding";
    f.severity = Severity::kLow;
    f.path = path;
    f.byte_offset = first_invalid_utf16;
    f.message = fmt::format("{} invalid UTF-16 code units (first at byte {})", invalid_utf16,
                            first_invalid_utf16);
    cap.Add(std::move(f));
  }
  cap.Flush(path, out, notes);
}

void Scanner::ScanBytes(std::string_view bytes, const std::string& path, ThreadState& ts,
                        std::vector<Finding>* out, ReportStats* stats,
                        std::vector<std::string>* notes) const {
  // The name's kind, looked up once per file.
  const TextKind path_kind = TextKindForPath(path);
  if (options_.data_mode || path_kind == TextKind::kData) {
    const ContentKind content = ClassifyContent(path_kind, bytes);
    if (content == ContentKind::kUtf8Text) {
      stats->files += 1;
      stats->bytes += bytes.size();
      if (options_.max_findings_per_rule == 0) {
        ScanData(bytes, path, ts, out, stats);
        return;
      }
      FindingCap cap(options_.max_findings_per_rule);
      std::vector<Finding> found;
      ScanData(bytes, path, ts, &found, stats);
      for (Finding& f : found) cap.Add(std::move(f));
      cap.Flush(path, out, notes);
      return;
    }
    // A UTF-16 or binary "data set" is scanned as such, not row by row.
  }
  MemoryWindowReader reader(bytes);
  ScanWindows(reader, path, path_kind, ts, out, stats, notes);
}

void Scanner::ScanBuffer(std::string_view bytes, const std::string& path, std::vector<Finding>* out,
                         ReportStats* stats, std::vector<std::string>* notes) const {
  ThreadState ts;
  if (secrets_) ts.scratch = secrets_->NewScratch();
  ScanBytes(bytes, path, ts, out, stats, notes);
}

void Scanner::ScanStdin(Report* report) const {
  if (options_.data_mode) {
    // A data set on stdin is read whole (see docs/limits.md).
    auto src = FileSource::ReadAll(STDIN_FILENO, "<stdin>");
    if (!src.ok()) {
      report->errors.push_back(src.status().message());
    } else {
      ScanBuffer(src->bytes(), "-.jsonl", &report->findings, &report->stats, &report->notes);
    }
  } else {
    // Anything else is read in fixed windows: `yes | glassbox scan -` runs
    // in bounded memory.
    auto reader = FdWindows(STDIN_FILENO, "<stdin>");
    if (!reader.ok()) {
      report->errors.push_back(reader.status().message());
    } else {
      ThreadState ts;
      if (secrets_) ts.scratch = secrets_->NewScratch();
      ScanWindows(*reader.value(), "-", TextKindForPath("-"), ts, &report->findings, &report->stats,
                  &report->notes);
    }
  }
  for (Finding& f : report->findings) f.path = "-";
}

bool Scanner::ScanFile(const WalkedFile& file, ThreadState& ts, std::vector<Finding>* found,
                       ReportStats* stats, std::vector<std::string>* errors,
                       std::vector<std::string>* notes, uint64_t* size) const {
  const std::string& path = file.path;
  // (A data set is read whole; other files larger than a window are read in windows.)
  const uint64_t read_whole_up_to =
      options_.data_mode ? ~uint64_t{0} : kWindowBytes + kOverlapBytes;
  Result<int> fd = -1;
  if (file.dir != nullptr) {
    // Most walked files are read by one read(), without an fstat.
    int rest_fd = -1;
    auto whole = FileSource::ReadWalkedAt(file.dir->fd(), path.c_str() + file.name_offset, path,
                                          options_.max_file_bytes, read_whole_up_to,
                                          &ts.read_buffer, &rest_fd, size);
    if (whole.ok() && rest_fd < 0) {
      ScanBytes(whole->bytes(), path, ts, found, stats, notes);
      return true;
    }
    if (whole.ok()) {
      fd = rest_fd;
    } else {
      fd = whole.status();
    }
  } else {
    fd = FileSource::OpenRegular(path, options_.max_file_bytes, size);
  }
  if (!fd.ok()) {
    if (fd.status().message().find("size limit") != std::string::npos) ++stats->too_large_skipped;
    errors->push_back(fd.status().message());
    return false;
  }
  // (Only a large file needs the name's kind here.)
  const bool large = *size > read_whole_up_to;
  const TextKind path_kind = large ? TextKindForPath(path) : TextKind::kUnknown;
  if (large && path_kind != TextKind::kData) {
    // Large files are read in windows, not mapped whole: memory stays
    // bounded and a 2 GB line costs no more than 2 GB of short ones.
    auto reader = FdWindows(fd.value(), path);
    if (!reader.ok()) {
      errors->push_back(reader.status().message());
    } else {
      ScanWindows(*reader.value(), path, path_kind, ts, found, stats, notes);
    }
    close(fd.value());
    return true;
  }
  auto src = FileSource::Load(fd.value(), *size, path, &ts.read_buffer);
  close(fd.value());
  if (!src.ok()) {
    errors->push_back(src.status().message());
    return false;
  }
  ScanBytes(src->bytes(), path, ts, found, stats, notes);
  return true;
}

namespace {

Finding SymlinkEscapeFinding(const std::string& link, const std::string& target) {
  Finding f;
  f.rule = "agent-config/symlink-escape";
  f.severity = Severity::kHigh;
  f.path = link;
  f.message = fmt::format(
      "symbolic link points outside the repository, to {}: an agent that reads it reads "
      "that file",
      target);
  f.fingerprint = Sha256Hex(f.rule + '\0' + link + '\0' + target, 32);
  return f;
}

// The walk's files in batches, from the walking thread to the workers that
// drain them while the walk goes on. Files go in batches: handed over one by
// one, each file cost a futex wake-up and wait (5,400 of them for 2,446
// files, a sixth of a short scan's time). At most `max_queued` batches wait:
// TryPush refuses more, and the walking thread scans that batch itself
// instead of waiting for room, so `jobs` threads scan (jobs - 1 workers and
// the walk) and none sleeps while there is work (a walk that waited, beside a
// worker per core, was one thread more than the cores and a context switch
// per wait). The bound matters because each file holds its directory open
// (WalkedFile: opened relative to it, a file costs the kernel one name lookup,
// not one per directory above it), and a walk far ahead would leave the rest
// of the files to be opened by their whole path.
class BatchQueue {
 public:
  explicit BatchQueue(size_t max_queued) : max_queued_(max_queued) {}

  // Queues *batch (moved from), or leaves it and returns false when full.
  bool TryPush(std::vector<WalkedFile>* batch) {
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(*batch));
    const bool wake = waiting_ > 0;  // only blocked workers need a wake-up call
    lock.unlock();
    if (wake) cv_.notify_one();
    return true;
  }

  // The next batch into *out (releasing the directories the last one held);
  // false once the walk is over and nothing is left.
  bool Next(std::vector<WalkedFile>* out) {
    out->clear();
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !queue_.empty() || walk_done_; });
    --waiting_;
    if (queue_.empty()) return false;
    *out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }

  // The walk is over: workers drain what is left and stop.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      walk_done_ = true;
    }
    cv_.notify_all();
  }

 private:
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<WalkedFile>> queue_;
  bool walk_done_ = false;
  size_t waiting_ = 0;
};

// What one scanning thread keeps until it is done, then merges.
struct ScanningThread {
  Scanner::ThreadState ts;
  std::vector<Finding> found;
  ReportStats stats;
  std::vector<std::string> errors;
  std::vector<std::string> notes;

  void MergeInto(Report* report) {
    for (Finding& f : found) report->findings.push_back(std::move(f));
    for (std::string& e : errors) report->errors.push_back(std::move(e));
    for (std::string& n : notes) report->notes.push_back(std::move(n));
    report->stats.files += stats.files;
    report->stats.bytes += stats.bytes;
    report->stats.binary_files += stats.binary_files;
    report->stats.too_large_skipped += stats.too_large_skipped;
    report->stats.rows += stats.rows;
  }
};

// Findings by path and offset, errors and notes sorted: the same report
// whatever the threads' order.
void SortReport(Report* report) {
  std::stable_sort(report->findings.begin(), report->findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return std::tie(a.path, a.byte_offset) < std::tie(b.path, b.byte_offset);
                   });
  std::sort(report->errors.begin(), report->errors.end());
  std::sort(report->notes.begin(), report->notes.end());
}

}  // namespace

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
  if (read_stdin) ScanStdin(&report);
  constexpr size_t kBatch = 8;
  constexpr size_t kMaxQueued = 32;
  constexpr size_t kMaxOpenDirs = 256;  // directories the queued files hold open, at most
  BatchQueue queue(kMaxQueued);
  const unsigned jobs =
      options_.jobs != 0 ? options_.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> done_files{0}, done_bytes{0};
  std::mutex report_mu;
  auto new_scanning = [&] {
    auto sc = std::make_unique<ScanningThread>();
    if (secrets_) sc->ts.scratch = secrets_->NewScratch();
    return sc;
  };
  auto scan_batch = [&](ScanningThread& sc, const std::vector<WalkedFile>& batch) {
    for (const WalkedFile& file : batch) {
      uint64_t size = 0;
      if (!ScanFile(file, sc.ts, &sc.found, &sc.stats, &sc.errors, &sc.notes, &size)) continue;
      const uint64_t f = done_files.fetch_add(1, std::memory_order_relaxed) + 1;
      const uint64_t b = done_bytes.fetch_add(size, std::memory_order_relaxed) + size;
      if (options_.progress && (f % 256) == 0) options_.progress(f, b);
    }
  };
  auto drain_and_merge = [&](ScanningThread& sc) {
    std::vector<WalkedFile> batch;
    while (queue.Next(&batch)) scan_batch(sc, batch);
    std::lock_guard<std::mutex> lock(report_mu);
    sc.MergeInto(&report);
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < jobs; ++t)
    threads.emplace_back([&] { drain_and_merge(*new_scanning()); });

  const auto walk_scanning = new_scanning();
  WalkOptions walk_options{options_.excludes, options_.respect_gitignore, nullptr};
  walk_options.max_open_dirs = kMaxOpenDirs;
  std::vector<Finding> link_findings;
  if (agent_config_ && RuleEnabled("agent-config/symlink-escape")) {
    walk_options.on_escaping_symlink = [&](const std::string& link, const std::string& target) {
      link_findings.push_back(SymlinkEscapeFinding(link, target));
    };
  }
  std::vector<std::string> special_notes;
  walk_options.on_special_file = [&](const std::string& path, const char* what) {
    special_notes.push_back(fmt::format("{}: {}, not read (only regular files are)", path, what));
  };
  std::vector<WalkedFile> pending;
  pending.reserve(kBatch);
  auto hand_over = [&] {
    if (queue.TryPush(&pending)) {
      pending = {};
      pending.reserve(kBatch);  // one allocation a batch, not four as it grows
      return;
    }
    scan_batch(*walk_scanning, pending);  // the queue is full: scan, do not wait
    pending.clear();                      // releases the directories the batch held
  };
  std::vector<std::string> walk_errors = WalkEachFile(paths, walk_options, [&](WalkedFile file) {
    pending.push_back(std::move(file));
    if (pending.size() >= kBatch) hand_over();
  });
  if (!pending.empty()) hand_over();
  queue.Close();
  drain_and_merge(*walk_scanning);  // what the workers have not taken yet
  for (std::thread& t : threads) t.join();

  for (std::string& e : walk_errors) report.errors.push_back(std::move(e));
  for (std::string& n : special_notes) report.notes.push_back(std::move(n));
  for (Finding& f : link_findings) report.findings.push_back(std::move(f));
  SortReport(&report);
  report.stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace glassbox::scan
