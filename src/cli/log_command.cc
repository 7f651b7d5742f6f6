// `glassbox log`: reads the audit log that `glassbox gate` writes.
//   list | show ID | search TEXT | verify | export, with --log PATH and
//   --format text|json|jsonl. verify exits 0 intact, 1 broken, 2 on errors.
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/json_writer.h"
#include "gate/audit_log.h"

namespace glassbox::cli {
namespace {

using gate::AuditLog;
using gate::AuditRecord;

enum class Format { kText, kJson, kJsonl };

void WriteRecord(JsonWriter& w, const AuditRecord& r) {
  w.BeginObject();
  w.Key("id").Int(r.id);
  w.Field("time", r.time);
  w.Field("user", r.user);
  w.Field("agent", r.agent);
  w.Field("upstream", r.upstream);
  w.Field("model", r.model);
  w.Field("method", r.method);
  w.Field("path", r.path);
  w.Key("status").Int(r.status);
  w.Key("latency_ms").Int(r.latency_ms);
  w.Key("input_tokens").Int(r.input_tokens);
  w.Key("output_tokens").Int(r.output_tokens);
  // findings is JSON text; kept as a string so a damaged log still exports.
  w.Field("findings", r.findings);
  w.Key("request_body");
  r.request_body ? w.String(*r.request_body) : w.Null();
  w.Key("response_body");
  r.response_body ? w.String(*r.response_body) : w.Null();
  if (r.upstream_request_body) w.Field("upstream_request_body", *r.upstream_request_body);
  w.Field("request_sha256", r.request_sha256);
  w.Field("response_sha256", r.response_sha256);
  w.Field("prev_hash", r.prev_hash);
  w.Field("record_hash", r.record_hash);
  w.EndObject();
}

void PrintSummary(const AuditRecord& r) {
  std::cout << r.id << "  " << r.time << "  " << r.user << "  " << r.agent << "  " << r.method << " " << r.upstream
            << r.path << "  " << r.model << "  " << r.status << "  " << r.latency_ms << "ms  in=" << r.input_tokens
            << " out=" << r.output_tokens << "\n";
}

void PrintFull(const AuditRecord& r) {
  std::cout << "record " << r.id << "\n"
            << "  time:            " << r.time << "\n"
            << "  user:            " << r.user << "\n"
            << "  agent:           " << r.agent << "\n"
            << "  upstream:        " << r.upstream << "\n"
            << "  model:           " << r.model << "\n"
            << "  request:         " << r.method << " " << r.path << "\n"
            << "  status:          " << r.status << "\n"
            << "  latency_ms:      " << r.latency_ms << "\n"
            << "  tokens:          in=" << r.input_tokens << " out=" << r.output_tokens << "\n"
            << "  findings:        " << r.findings << "\n"
            << "  request_sha256:  " << r.request_sha256 << "\n"
            << "  response_sha256: " << r.response_sha256 << "\n"
            << "  prev_hash:       " << r.prev_hash << "\n"
            << "  record_hash:     " << r.record_hash << "\n"
            << "  request_body:    " << (r.request_body ? *r.request_body : "(not logged)") << "\n"
            << "  response_body:   " << (r.response_body ? *r.response_body : "(not logged)") << "\n";
  if (r.upstream_request_body) {
    std::cout << "  sent upstream:   " << *r.upstream_request_body << "\n";
  }
}

// Prints records: text summaries (or full records for `full`), one JSON
// array, or one JSON object per line.
void PrintRecords(const std::vector<AuditRecord>& records, Format format, bool full) {
  if (format == Format::kJson) {
    JsonWriter w(std::cout);
    w.BeginArray();
    for (const AuditRecord& r : records) WriteRecord(w, r);
    w.EndArray();
    std::cout << "\n";
    return;
  }
  for (const AuditRecord& r : records) {
    if (format == Format::kJsonl) {
      JsonWriter w(std::cout);
      WriteRecord(w, r);
      std::cout << "\n";
    } else if (full) {
      PrintFull(r);
    } else {
      PrintSummary(r);
    }
  }
}

constexpr const char* kUsage = "usage: glassbox log list|show ID|search TEXT|verify|export --log PATH [--format text|json|jsonl]";

}  // namespace

int RunLog(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string log_path;
  std::string format_name = "text";
  bool format_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (arg == "--log") {
      if (!value(&log_path)) return Fail("--log needs a PATH; see 'glassbox help log'");
    } else if (arg.starts_with("--log=")) {
      log_path = arg.substr(6);
    } else if (arg == "--format") {
      if (!value(&format_name)) return Fail("--format needs text, json or jsonl");
      format_given = true;
    } else if (arg.starts_with("--format=")) {
      format_name = arg.substr(9);
      format_given = true;
    } else if (arg == "-h" || arg == "--help") {
      return RunHelp("log");
    } else if (arg.starts_with("-") && arg != "-") {
      return Fail("unknown flag '" + arg + "'; see 'glassbox help log'");
    } else {
      positional.push_back(arg);
    }
  }
  Format format;
  if (format_name == "text") {
    format = Format::kText;
  } else if (format_name == "json") {
    format = Format::kJson;
  } else if (format_name == "jsonl") {
    format = Format::kJsonl;
  } else {
    return Fail("'" + format_name + "' is not a format: use text, json or jsonl");
  }
  if (positional.empty()) return Fail(std::string(kUsage));
  const std::string& action = positional[0];
  size_t want_args = (action == "show" || action == "search") ? 2 : 1;
  if (action != "list" && action != "show" && action != "search" && action != "verify" && action != "export") {
    return Fail("unknown log action '" + action + "'; " + kUsage);
  }
  if (positional.size() != want_args) return Fail(std::string(kUsage));
  if (log_path.empty()) return Fail("--log PATH is required; see 'glassbox help log'");

  auto log = AuditLog::Open(log_path, AuditLog::OpenMode::kExisting);
  if (!log.ok()) return Fail(log.status().message());

  if (action == "verify") {
    auto v = (*log)->Verify();
    if (!v.ok()) return Fail(v.status().message());
    if (format != Format::kText) {
      JsonWriter w(std::cout);
      w.BeginObject().Key("intact").Bool(v->intact).Key("records").Int(v->records).Key("anchor_id").Int(v->anchor_id);
      if (!v->intact) w.Key("bad_record").Int(v->bad_id).Field("reason", v->reason);
      w.EndObject();
      std::cout << "\n";
    } else if (v->intact) {
      std::cout << "intact: " << v->records << " records"
                << (v->anchor_id ? " after retention anchor at record " + std::to_string(v->anchor_id) : "") << "\n";
    }
    if (!v->intact) {
      std::cerr << "record " << v->bad_id << ": " << v->reason << "\n";
      return kExitFindings;
    }
    return kExitClean;
  }
  if (action == "show") {
    int64_t id = 0;
    const std::string& s = positional[1];
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc() || end != s.data() + s.size() || id <= 0) {
      return Fail("'" + s + "' is not a record id");
    }
    auto r = (*log)->Get(id);
    if (!r.ok()) return Fail(r.status().message());
    PrintRecords({*r}, format, /*full=*/true);
    return kExitClean;
  }
  auto records = action == "search" ? (*log)->Search(positional[1]) : (*log)->List();
  if (!records.ok()) return Fail(records.status().message());
  // export defaults to JSON Lines: one record per line, for jq and archives.
  if (action == "export" && !format_given) format = Format::kJsonl;
  PrintRecords(*records, format, action == "export");
  return kExitClean;
}

}  // namespace glassbox::cli
