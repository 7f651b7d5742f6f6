// `glassbox log`: reads the audit log that `glassbox gate` writes.
//   list | show ID | search TEXT | verify | export, with --log PATH and
//   --format text|json|jsonl; list/search/export filter with --since,
//   --until, --user, --model, --limit and stream (constant memory); verify
//   checks signed checkpoints with --checkpoints FILE --public-key PEM.
//   verify exits 0 intact, 1 broken, 2 on errors. show exits 2 when the
//   record does not exist (or the log cannot be read) and 1 when the record
//   fails its own hash (a corrupt log), naming which.
#include <algorithm>
#include <charconv>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  std::cout << r.id << "  " << r.time << "  " << r.user << "  " << r.agent << "  " << r.method
            << " " << r.upstream << r.path << "  " << r.model << "  " << r.status << "  "
            << r.latency_ms << "ms  in=" << r.input_tokens << " out=" << r.output_tokens << "\n";
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
            << "  response_body:   " << (r.response_body ? *r.response_body : "(not logged)")
            << "\n";
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
    "usage: glassbox log list|show [REPLICA:]ID|search TEXT|verify|export --log "
    "PATH|postgresql://... [--format text|json|jsonl] "
    "[--since T] [--until T] [--user U] [--model M] [--limit N] [--checkpoints FILE --public-key "
    "PEM]";

// The command line as typed (flag values unchecked).
struct LogFlags {
  std::vector<std::string> positional;  // ACTION [ARG]
  std::string log_path;
  std::string format_name = "text";
  bool format_given = false;
  std::optional<std::string> since, until, limit;  // checked when given, even empty
  std::string user, model;
  std::string checkpoints_path, public_key_path;
};

enum class Action { kList, kShow, kSearch, kVerify, kExport };

// What to do, every value checked.
struct LogPlan {
  Action action = Action::kList;
  std::string log_path;
  Format format = Format::kText;
  gate::RecordFilter filter;  // list, search, export
  int64_t show_id = 0;        // show: the record, and its replica chain ("" for any)
  std::string show_replica;
  std::string show_name;                          // show: the id as typed
  std::string checkpoints_path, public_key_path;  // verify
};

// Where the value of a flag that takes one (in the next argument) goes;
// empty for any other argument.
std::function<void(std::string)> ValueSink(LogFlags& fl, std::string_view arg) {
  if (arg == "--log") return [&fl](std::string v) { fl.log_path = std::move(v); };
  if (arg == "--format") {
    return [&fl](std::string v) {
      fl.format_name = std::move(v);
      fl.format_given = true;
    };
  }
  if (arg == "--since") return [&fl](std::string v) { fl.since = std::move(v); };
  if (arg == "--until") return [&fl](std::string v) { fl.until = std::move(v); };
  if (arg == "--limit") return [&fl](std::string v) { fl.limit = std::move(v); };
  if (arg == "--user") return [&fl](std::string v) { fl.user = std::move(v); };
  if (arg == "--model") return [&fl](std::string v) { fl.model = std::move(v); };
  if (arg == "--checkpoints") return [&fl](std::string v) { fl.checkpoints_path = std::move(v); };
  if (arg == "--public-key") return [&fl](std::string v) { fl.public_key_path = std::move(v); };
  return nullptr;
}

std::string MissingValue(const std::string& flag) {
  if (flag == "--log") return "--log needs a PATH; see 'glassbox help log'";
  if (flag == "--format") return "--format needs text, json or jsonl";
  return flag + " needs a value; see 'glassbox help log'";
}

// Parses argv into *flags. Returns the exit code when the command ends here
// (help shown, a flag without its value, an unknown flag), nullopt to go on.
std::optional<int> ParseLogFlags(int argc, char** argv, LogFlags* flags) {
  LogFlags& fl = *flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (auto sink = ValueSink(fl, arg)) {
      if (i + 1 >= argc) return Fail(MissingValue(arg));
      sink(argv[++i]);
    } else if (arg.starts_with("--log=")) {
      fl.log_path = arg.substr(6);
    } else if (arg.starts_with("--format=")) {
      fl.format_name = arg.substr(9);
      fl.format_given = true;
    } else if (arg == "-h" || arg == "--help") {
      return RunHelp("log");
    } else if (arg.starts_with("-") && arg != "-") {
      return Fail("unknown flag '" + arg + "'; see 'glassbox help log'");
    } else {
      fl.positional.push_back(arg);
    }
  }
  return std::nullopt;
}

// --since, --until, --user, --model, --limit.
Result<gate::RecordFilter> BuildFilter(const LogFlags& fl) {
  gate::RecordFilter filter;
  if (fl.limit) {
    const std::string& v = *fl.limit;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), filter.limit);
    if (ec != std::errc() || end != v.data() + v.size() || filter.limit <= 0) {
      return Status::InvalidArgument("--limit '" + v + "': expected a positive number of records");
    }
  }
  for (const auto& [flag, v] : {std::pair{"--since", &fl.since}, std::pair{"--until", &fl.until}}) {
    if (*v && !gate::IsRfc3339Utc(**v)) {
      return Status::InvalidArgument(
          std::string(flag) + " '" + **v +
          "': expected an RFC 3339 UTC time such as 2026-11-23T00:00:00Z");
    }
  }
  filter.since = fl.since.value_or("");
  filter.until = fl.until.value_or("");
  filter.user = fl.user;
  filter.model = fl.model;
  return filter;
}

Result<Format> ParseFormat(const std::string& name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  if (name == "jsonl") return Format::kJsonl;
  return Status::InvalidArgument("'" + name + "' is not a format: use text, json or jsonl");
}

// ACTION and its argument.
Status ParseAction(const std::vector<std::string>& positional, LogPlan* plan) {
  if (positional.empty()) return Status::InvalidArgument(kUsage);
  const std::string& action = positional[0];
  const std::pair<const char*, Action> kActions[] = {{"list", Action::kList},
                                                     {"show", Action::kShow},
                                                     {"search", Action::kSearch},
                                                     {"verify", Action::kVerify},
                                                     {"export", Action::kExport}};
  const auto* known = std::find_if(std::begin(kActions), std::end(kActions),
                                   [&](const auto& a) { return action == a.first; });
  if (known == std::end(kActions))
    return Status::InvalidArgument("unknown log action '" + action + "'; " + kUsage);
  plan->action = known->second;
  const bool takes_arg = plan->action == Action::kShow || plan->action == Action::kSearch;
  if (positional.size() != (takes_arg ? 2u : 1u)) return Status::InvalidArgument(kUsage);
  if (plan->action == Action::kSearch) plan->filter.text = positional[1];
  if (plan->action == Action::kShow) plan->show_name = positional[1];
  return Status::Ok();
}

// show's [REPLICA:]ID: a record id, or REPLICA:ID in a PostgreSQL log of
// several replicas.
Status ParseRecordName(const std::string& name, LogPlan* plan) {
  std::string s = name;
  if (size_t colon = s.rfind(':'); colon != std::string::npos) {
    plan->show_replica = s.substr(0, colon);
    s = s.substr(colon + 1);
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), plan->show_id);
  if (ec != std::errc() || end != s.data() + s.size() || plan->show_id <= 0) {
    return Status::InvalidArgument("'" + s + "' is not a record id");
  }
  return Status::Ok();
}

// Checks every flag and builds the plan; errors are one-line reasons
// naming the flag or argument (exit 2).
Result<LogPlan> BuildLogPlan(const LogFlags& fl) {
  LogPlan plan;
  auto filter = BuildFilter(fl);
  if (!filter.ok()) return filter.status();
  plan.filter = std::move(filter).value();
  auto format = ParseFormat(fl.format_name);
  if (!format.ok()) return format.status();
  plan.format = *format;
  if (Status s = ParseAction(fl.positional, &plan); !s.ok()) return s;
  if (fl.log_path.empty())
    return Status::InvalidArgument("--log PATH is required; see 'glassbox help log'");
  plan.log_path = fl.log_path;
  if (fl.checkpoints_path.empty() != fl.public_key_path.empty()) {
    return Status::InvalidArgument(
        "--checkpoints and --public-key go together (the key checks the checkpoints' signatures)");
  }
  if (!fl.checkpoints_path.empty() && plan.action != Action::kVerify) {
    return Status::InvalidArgument("--checkpoints is for 'log verify'");
  }
  plan.checkpoints_path = fl.checkpoints_path;
  plan.public_key_path = fl.public_key_path;
  // export defaults to JSON Lines: one record per line, for jq and archives.
  if (plan.action == Action::kExport && !fl.format_given) plan.format = Format::kJsonl;
  return plan;
}

void PrintVerifyJson(const gate::VerifyResult& v,
                     const std::vector<gate::Checkpoint>& checkpoints) {
  JsonWriter w(std::cout);
  w.BeginObject()
      .Key("intact")
      .Bool(v.intact)
      .Key("records")
      .Int(v.records)
      .Key("anchor_id")
      .Int(v.anchor_id);
  if (!checkpoints.empty()) {
    w.Key("checkpoints").Int(v.checkpoints).Key("checkpoints_matched").Int(v.checkpoints_matched);
    w.Field("newest_checkpoint", checkpoints.back().time);
  }
  if (v.chains != 1) w.Key("chains").Int(v.chains);
  if (v.orphan_bodies != 0) w.Key("orphan_bodies").Int(v.orphan_bodies);
  if (!v.intact) {
    w.Key("bad_record").Int(v.bad_id).Field("reason", v.reason);
    if (!v.bad_replica.empty()) w.Field("bad_replica", v.bad_replica);
  }
  w.EndObject();
  std::cout << "\n";
}

void PrintIntact(const gate::VerifyResult& v, const std::vector<gate::Checkpoint>& checkpoints) {
  std::cout << "intact: " << v.records << " records"
            << (v.chains != 1 ? " in " + std::to_string(v.chains) + " replica chains" : "")
            << (v.anchor_id ? " after retention anchor at record " + std::to_string(v.anchor_id)
                            : "");
  if (!checkpoints.empty()) {
    std::cout << "; " << v.checkpoints_matched << " of " << v.checkpoints
              << " signed checkpoints matched, the newest (" << checkpoints.back().time
              << ") at record " << checkpoints.back().last_id;
    if (v.last_id > checkpoints.back().last_id) {
      std::cout << " (records " << checkpoints.back().last_id + 1 << ".." << v.last_id
                << " are newer than any checkpoint: not yet provable)";
    }
  }
  std::cout << "\n";
  if (v.orphan_bodies != 0) {
    // Not a break: no record's hash covers them.
    std::cout << v.orphan_bodies
              << " request bodies stored ahead are named by no record (their exchanges were cut "
                 "off by a stop or crash of their replica, or are still in flight)\n";
  }
}

// verify: 0 intact, 1 broken (or forged checkpoints), 2 on errors.
int RunVerify(gate::LogStore& log, const LogPlan& plan) {
  std::vector<gate::Checkpoint> checkpoints;
  if (!plan.checkpoints_path.empty()) {
    auto read = gate::ReadCheckpoints(plan.checkpoints_path, plan.public_key_path);
    if (!read.ok()) {
      // A forged or altered checkpoint file is a broken log, not a usage error.
      std::cerr << read.status().message() << "\n";
      return kExitFindings;
    }
    if (read->empty())
      return Fail("checkpoint file '" + plan.checkpoints_path + "' holds no checkpoint");
    checkpoints = std::move(read.value());
  }
  auto v = log.Verify(plan.checkpoints_path.empty() ? nullptr : &checkpoints);
  if (!v.ok()) return Fail(v.status().message());
  if (plan.format != Format::kText) {
    PrintVerifyJson(*v, checkpoints);
  } else if (v->intact) {
    PrintIntact(*v, checkpoints);
  }
  if (!v->intact) {
    std::cerr << (v->bad_replica.empty() ? "" : "replica " + v->bad_replica + ", ") << "record "
              << v->bad_id << ": " << v->reason << "\n";
    return kExitFindings;
  }
  return kExitClean;
}

// show: 0 shown, 2 no such record (or the log cannot be read), 1 the
// record fails its own hash (the log is broken, as verify would say).
int RunShow(gate::LogStore& log, LogPlan plan) {
  if (Status s = ParseRecordName(plan.show_name, &plan); !s.ok()) return Fail(s.message());
  auto r = log.Get(plan.show_id, plan.show_replica);
  if (r.status().IsNotFound()) return Fail("no record " + plan.show_name + " in " + log.Describe());
  if (r.status().IsCorruption()) {
    std::cerr << "glassbox: corrupt log: " << r.status().message()
              << "; 'glassbox log verify' finds the first break\n";
    return kExitFindings;
  }
  if (!r.ok()) return Fail(r.status().message());
  PrintRecords({*r}, plan.format, /*full=*/true);
  return kExitClean;
}

// list, search, export: streamed, one record at a time.
int RunStream(gate::LogStore& log, const LogPlan& plan) {
  bool first = true;
  if (plan.format == Format::kJson) std::cout << "[";
  Status st = log.ForEach(plan.filter, [&](AuditRecord& r) {
    PrintStreamed(r, plan.format, plan.action == Action::kExport, first);
    first = false;
    return static_cast<bool>(std::cout);
  });
  if (plan.format == Format::kJson) std::cout << "]\n";
  if (!st.ok()) return Fail(st.message());
  return kExitClean;
}

}  // namespace

int RunLog(int argc, char** argv) {
  LogFlags flags;
  if (std::optional<int> done = ParseLogFlags(argc, argv, &flags)) return *done;
  auto plan = BuildLogPlan(flags);
  if (!plan.ok()) return Fail(plan.status().message());
  auto log = gate::OpenLogStore(plan->log_path, gate::LogStore::OpenMode::kExisting, {});
  if (!log.ok()) return Fail(log.status().message());
  switch (plan->action) {
    case Action::kVerify:
      return RunVerify(**log, *plan);
    case Action::kShow:
      return RunShow(**log, *plan);
    default:
      return RunStream(**log, *plan);
  }
}

}  // namespace glassbox::cli
