// `glassbox log`: reads the audit log that `glassbox gate` writes.
//   list | show ID | search TEXT | verify | export, with --log PATH and
//   --format text|json|jsonl; list/search/export filter with --since,
//   --until, --user, --model, --limit and stream (constant memory); verify
//   checks signed checkpoints with --checkpoints FILE --public-key PEM.
//   verify exits 0 intact, 1 broken, 2 on errors.
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/json_writer.h"
#include "gate/audit_log.h"
#include "gate/store.h"

namespace glassbox::cli {
namespace {

using gate::AuditLog;
using gate::AuditRecord;

enum class Format { kText, kJson, kJsonl };

void WriteRecord(JsonWriter& w, const AuditRecord& r) {
  w.BeginObject();
  w.Key("id").Int(r.id);
  if (!r.replica.empty()) w.Field("replica", r.replica);
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
  if (!r.replica.empty()) std::cout << r.replica << ":";
  std::cout << r.id << "  " << r.time << "  " << r.user << "  " << r.agent << "  " << r.method << " " << r.upstream
            << r.path << "  " << r.model << "  " << r.status << "  " << r.latency_ms << "ms  in=" << r.input_tokens
            << " out=" << r.output_tokens << "\n";
}

void PrintFull(const AuditRecord& r) {
  std::cout << "record " << (r.replica.empty() ? "" : r.replica + ":") << r.id << "\n"
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

// Prints one record of a stream: a text summary (or the full record), one
// element of a JSON array (`first` says whether a comma goes before), or
// one JSON object per line.
void PrintStreamed(const AuditRecord& r, Format format, bool full, bool first) {
  if (format == Format::kJson) {
    if (!first) std::cout << ",";
    JsonWriter w(std::cout);
    WriteRecord(w, r);
  } else if (format == Format::kJsonl) {
    JsonWriter w(std::cout);
    WriteRecord(w, r);
    std::cout << "\n";
  } else if (full) {
    PrintFull(r);
  } else {
    PrintSummary(r);
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

constexpr const char* kUsage =
    "usage: glassbox log list|show [REPLICA:]ID|search TEXT|verify|export --log PATH|postgresql://... [--format text|json|jsonl] "
    "[--since T] [--until T] [--user U] [--model M] [--limit N] [--checkpoints FILE --public-key PEM]";

}  // namespace

int RunLog(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string log_path;
  std::string format_name = "text";
  bool format_given = false;
  gate::RecordFilter filter;
  std::string checkpoints_path, public_key_path;
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
    } else if (arg == "--since" || arg == "--until" || arg == "--user" || arg == "--model" || arg == "--limit" ||
               arg == "--checkpoints" || arg == "--public-key") {
      std::string v;
      if (!value(&v)) return Fail(arg + " needs a value; see 'glassbox help log'");
      if (arg == "--since") filter.since = v;
      if (arg == "--until") filter.until = v;
      if (arg == "--user") filter.user = v;
      if (arg == "--model") filter.model = v;
      if (arg == "--checkpoints") checkpoints_path = v;
      if (arg == "--public-key") public_key_path = v;
      if (arg == "--limit") {
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), filter.limit);
        if (ec != std::errc() || end != v.data() + v.size() || filter.limit <= 0) {
          return Fail("--limit '" + v + "': expected a positive number of records");
        }
      }
      if ((arg == "--since" || arg == "--until") && !gate::IsRfc3339Utc(v)) {
        return Fail(arg + " '" + v + "': expected an RFC 3339 UTC time such as 2026-11-23T00:00:00Z");
      }
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

  if (checkpoints_path.empty() != public_key_path.empty()) {
    return Fail("--checkpoints and --public-key go together (the key checks the checkpoints' signatures)");
  }
  if (!checkpoints_path.empty() && action != "verify") return Fail("--checkpoints is for 'log verify'");
  auto log = gate::OpenLogStore(log_path, gate::LogStore::OpenMode::kExisting, {});
  if (!log.ok()) return Fail(log.status().message());

  if (action == "verify") {
    std::vector<gate::Checkpoint> checkpoints;
    if (!checkpoints_path.empty()) {
      auto read = gate::ReadCheckpoints(checkpoints_path, public_key_path);
      if (!read.ok()) {
        // A forged or altered checkpoint file is a broken log, not a usage error.
        std::cerr << read.status().message() << "\n";
        return kExitFindings;
      }
      if (read->empty()) return Fail("checkpoint file '" + checkpoints_path + "' holds no checkpoint");
      checkpoints = std::move(read.value());
    }
    auto v = (*log)->Verify(checkpoints_path.empty() ? nullptr : &checkpoints);
    if (!v.ok()) return Fail(v.status().message());
    if (format != Format::kText) {
      JsonWriter w(std::cout);
      w.BeginObject().Key("intact").Bool(v->intact).Key("records").Int(v->records).Key("anchor_id").Int(v->anchor_id);
      if (!checkpoints.empty()) {
        w.Key("checkpoints").Int(v->checkpoints).Key("checkpoints_matched").Int(v->checkpoints_matched);
        w.Field("newest_checkpoint", checkpoints.back().time);
      }
      if (v->chains != 1) w.Key("chains").Int(v->chains);
      if (!v->intact) {
        w.Key("bad_record").Int(v->bad_id).Field("reason", v->reason);
        if (!v->bad_replica.empty()) w.Field("bad_replica", v->bad_replica);
      }
      w.EndObject();
      std::cout << "\n";
    } else if (v->intact) {
      std::cout << "intact: " << v->records << " records"
                << (v->chains != 1 ? " in " + std::to_string(v->chains) + " replica chains" : "")
                << (v->anchor_id ? " after retention anchor at record " + std::to_string(v->anchor_id) : "");
      if (!checkpoints.empty()) {
        std::cout << "; " << v->checkpoints_matched << " of " << v->checkpoints
                  << " signed checkpoints matched, the newest (" << checkpoints.back().time << ") at record "
                  << checkpoints.back().last_id;
        if (v->last_id > checkpoints.back().last_id) {
          std::cout << " (records " << checkpoints.back().last_id + 1 << ".." << v->last_id
                    << " are newer than any checkpoint: not yet provable)";
        }
      }
      std::cout << "\n";
    }
    if (!v->intact) {
      std::cerr << (v->bad_replica.empty() ? "" : "replica " + v->bad_replica + ", ") << "record " << v->bad_id << ": "
                << v->reason << "\n";
      return kExitFindings;
    }
    return kExitClean;
  }
  if (action == "show") {
    // ID, or REPLICA:ID in a PostgreSQL log of several replicas.
    int64_t id = 0;
    std::string s = positional[1];
    std::string replica;
    if (size_t colon = s.rfind(':'); colon != std::string::npos) {
      replica = s.substr(0, colon);
      s = s.substr(colon + 1);
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc() || end != s.data() + s.size() || id <= 0) {
      return Fail("'" + s + "' is not a record id");
    }
    auto r = (*log)->Get(id, replica);
    if (!r.ok()) return Fail(r.status().message());
    PrintRecords({*r}, format, /*full=*/true);
    return kExitClean;
  }
  // list, search, export: streamed, one record at a time.
  if (action == "search") filter.text = positional[1];
  // export defaults to JSON Lines: one record per line, for jq and archives.
  if (action == "export" && !format_given) format = Format::kJsonl;
  bool first = true;
  if (format == Format::kJson) std::cout << "[";
  Status st = (*log)->ForEach(filter, [&](AuditRecord& r) {
    PrintStreamed(r, format, action == "export", first);
    first = false;
    return static_cast<bool>(std::cout);
  });
  if (format == Format::kJson) std::cout << "]\n";
  if (!st.ok()) return Fail(st.message());
  return kExitClean;
}

}  // namespace glassbox::cli
