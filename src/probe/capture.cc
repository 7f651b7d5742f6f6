#include "probe/capture.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/base64.h"
#include "core/utf.h"

namespace glassbox::probe {

namespace json = boost::json;

namespace {

// Puts `bytes` under `key`, or base64 under `key`_base64 when not UTF-8.
void PutBytes(json::object& obj, std::string_view key, std::string_view bytes) {
  if (utf::IsValidUtf8(bytes)) {
    obj[key] = json::string(bytes);
  } else {
    obj[std::string(key) + "_base64"] = Base64Encode(bytes);
  }
}

std::string Line(const json::object& obj) { return json::serialize(obj); }

// Field readers: set *error (once) and return a default when the field is
// missing or has the wrong type.
class Reader {
 public:
  Reader(const json::object& obj, std::string* error) : obj_(obj), error_(error) {}

  std::string Str(std::string_view key, bool required = true) {
    const json::value* v = obj_.if_contains(key);
    if (v == nullptr) {
      if (required) Fail(fmt::format("missing \"{}\"", key));
      return {};
    }
    if (!v->is_string()) {
      Fail(fmt::format("\"{}\" is not a string", key));
      return {};
    }
    return std::string(v->get_string());
  }
  // A string that may instead be stored base64 under key_base64.
  std::string Bytes(std::string_view key) {
    std::string b64_key = std::string(key) + "_base64";
    if (obj_.if_contains(b64_key) != nullptr) {
      std::optional<std::string> out = Base64Decode(Str(b64_key));
      if (!out) Fail(fmt::format("\"{}\" is not base64", b64_key));
      return out.value_or(std::string());
    }
    return Str(key);
  }
  double Num(std::string_view key, bool required = true) {
    const json::value* v = obj_.if_contains(key);
    if (v == nullptr) {
      if (required) Fail(fmt::format("missing \"{}\"", key));
      return 0;
    }
    if (v->is_int64()) return static_cast<double>(v->get_int64());
    if (v->is_uint64()) return static_cast<double>(v->get_uint64());
    if (v->is_double()) return v->get_double();
    Fail(fmt::format("\"{}\" is not a number", key));
    return 0;
  }
  int Int(std::string_view key, bool required = true) {
    double d = Num(key, required);
    if (d < -2147483648.0 || d > 2147483647.0 || d != static_cast<double>(static_cast<int>(d))) {
      Fail(fmt::format("\"{}\" is not a 32-bit integer", key));
      return 0;
    }
    return static_cast<int>(d);
  }
  bool Bool(std::string_view key) {
    const json::value* v = obj_.if_contains(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) {
      Fail(fmt::format("\"{}\" is not true or false", key));
      return false;
    }
    return v->get_bool();
  }
  const json::value* Get(std::string_view key) { return obj_.if_contains(key); }
  void Fail(std::string message) {
    if (error_->empty()) *error_ = std::move(message);
  }

 private:
  const json::object& obj_;
  std::string* error_;
};

}  // namespace

std::string RequestToJsonLine(const CapturedRequest& r) {
  json::object obj;
  obj["kind"] = "request";
  obj["seq"] = r.seq;
  obj["t_ms"] = r.t_ms;
  obj["scheme"] = r.scheme;
  PutBytes(obj, "host", r.host);
  PutBytes(obj, "sni", r.sni);
  obj["dest_ip"] = r.dest_ip;
  obj["dest_port"] = r.dest_port;
  obj["client_port"] = r.client_port;
  obj["via_proxy"] = r.via_proxy;
  PutBytes(obj, "method", r.method);
  PutBytes(obj, "target", r.target);
  json::array headers;
  for (const auto& [name, value] : r.headers) {
    json::array pair;
    if (utf::IsValidUtf8(name) && utf::IsValidUtf8(value)) {
      pair.emplace_back(json::string(name));
      pair.emplace_back(json::string(value));
    } else {
      pair.emplace_back(json::string(Base64Encode(name)));
      pair.emplace_back(json::string(Base64Encode(value)));
      pair.emplace_back("base64");
    }
    headers.emplace_back(std::move(pair));
  }
  obj["headers"] = std::move(headers);
  PutBytes(obj, "body", r.body);
  obj["response_status"] = r.response_status;
  return Line(obj);
}

std::string DnsQueryToJsonLine(const DnsQuery& q) {
  json::object obj;
  obj["kind"] = "dns";
  obj["t_ms"] = q.t_ms;
  PutBytes(obj, "name", q.name);
  obj["type"] = q.type;
  obj["transport"] = q.transport;
  obj["server"] = q.server;
  return Line(obj);
}

std::string TlsFailureToJsonLine(const TlsFailure& f) {
  json::object obj;
  obj["kind"] = "tls_failure";
  obj["t_ms"] = f.t_ms;
  PutBytes(obj, "sni", f.sni);
  obj["dest_ip"] = f.dest_ip;
  obj["dest_port"] = f.dest_port;
  PutBytes(obj, "reason", f.reason);
  return Line(obj);
}

std::string ConnectionToJsonLine(const ConnectionAttempt& c) {
  json::object obj;
  obj["kind"] = "connection";
  obj["t_ms"] = c.t_ms;
  obj["protocol"] = c.protocol;
  obj["dest_ip"] = c.dest_ip;
  obj["dest_port"] = c.dest_port;
  obj["src_port"] = c.src_port;
  obj["served"] = c.served;
  return Line(obj);
}

std::string CaptureToJsonl(const RunCapture& capture) {
  std::string out;
  for (const std::string& note : capture.notes) {
    json::object obj;
    obj["kind"] = "note";
    PutBytes(obj, "text", note);
    out += Line(obj) + "\n";
  }
  for (const std::string& limit : capture.limits_reached) {
    json::object obj;
    obj["kind"] = "limit";
    PutBytes(obj, "text", limit);
    out += Line(obj) + "\n";
  }
  for (const DnsQuery& q : capture.dns) out += DnsQueryToJsonLine(q) + "\n";
  for (const TlsFailure& f : capture.tls_failures) out += TlsFailureToJsonLine(f) + "\n";
  for (const ConnectionAttempt& c : capture.connections) out += ConnectionToJsonLine(c) + "\n";
  for (const CapturedRequest& r : capture.requests) out += RequestToJsonLine(r) + "\n";
  json::object exit;
  exit["kind"] = "exit";
  exit["exit_code"] = capture.exit_code;
  exit["timed_out"] = capture.timed_out;
  exit["wall_ms"] = capture.wall_ms;
  PutBytes(exit, "stdout_tail", capture.stdout_tail);
  PutBytes(exit, "stderr_tail", capture.stderr_tail);
  out += Line(exit) + "\n";
  return out;
}

Result<RunCapture> CaptureFromJsonl(std::string_view text, std::string_view source_name) {
  RunCapture capture;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;

    auto fail = [&](std::string_view why) {
      return Status::Error(fmt::format("{} line {}: {}", source_name, line_no, why));
    };
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec) return fail(fmt::format("not JSON ({})", ec.message()));
    if (!value.is_object()) return fail("not a JSON object");
    const json::object& obj = value.get_object();
    std::string error;
    Reader in(obj, &error);
    std::string kind = in.Str("kind");
    if (kind == "request") {
      CapturedRequest r;
      r.seq = in.Int("seq");
      r.t_ms = in.Num("t_ms", false);
      r.scheme = in.Str("scheme");
      r.host = in.Bytes("host");
      r.sni = in.Bytes("sni");
      r.dest_ip = in.Str("dest_ip");
      r.dest_port = in.Int("dest_port");
      r.client_port = in.Int("client_port", false);
      r.via_proxy = in.Bool("via_proxy");
      r.method = in.Bytes("method");
      r.target = in.Bytes("target");
      const json::value* headers = in.Get("headers");
      if (headers == nullptr || !headers->is_array()) {
        in.Fail("\"headers\" is not an array");
      } else {
        for (const json::value& h : headers->get_array()) {
          const json::array* pair = h.if_array();
          if (pair == nullptr || pair->size() < 2 || !(*pair)[0].is_string() ||
              !(*pair)[1].is_string()) {
            in.Fail("a header is not a [name, value] pair of strings");
            break;
          }
          std::string name((*pair)[0].get_string());
          std::string header_value((*pair)[1].get_string());
          if (pair->size() >= 3 && (*pair)[2].is_string() && (*pair)[2].get_string() == "base64") {
            std::optional<std::string> raw_name = Base64Decode(name);
            std::optional<std::string> raw_value = Base64Decode(header_value);
            if (!raw_name || !raw_value) {
              in.Fail("a base64 header is not base64");
              break;
            }
            name = std::move(*raw_name);
            header_value = std::move(*raw_value);
          }
          r.headers.emplace_back(std::move(name), std::move(header_value));
        }
      }
      r.body = in.Bytes("body");
      r.response_status = in.Int("response_status", false);
      capture.requests.push_back(std::move(r));
    } else if (kind == "dns") {
      DnsQuery q;
      q.t_ms = in.Num("t_ms", false);
      q.name = in.Bytes("name");
      q.type = in.Str("type");
      q.transport = in.Str("transport", false);
      q.server = in.Str("server", false);
      capture.dns.push_back(std::move(q));
    } else if (kind == "tls_failure") {
      TlsFailure f;
      f.t_ms = in.Num("t_ms", false);
      f.sni = in.Bytes("sni");
      f.dest_ip = in.Str("dest_ip", false);
      f.dest_port = in.Int("dest_port", false);
      f.reason = in.Bytes("reason");
      capture.tls_failures.push_back(std::move(f));
    } else if (kind == "connection") {
      ConnectionAttempt c;
      c.t_ms = in.Num("t_ms", false);
      c.protocol = in.Str("protocol");
      c.dest_ip = in.Str("dest_ip");
      c.dest_port = in.Int("dest_port");
      c.src_port = in.Int("src_port", false);
      c.served = in.Bool("served");
      capture.connections.push_back(std::move(c));
    } else if (kind == "note") {
      capture.notes.push_back(in.Bytes("text"));
    } else if (kind == "limit") {
      capture.limits_reached.push_back(in.Bytes("text"));
    } else if (kind == "exit") {
      capture.exit_code = in.Int("exit_code");
      capture.timed_out = in.Bool("timed_out");
      capture.wall_ms = in.Num("wall_ms", false);
      if (obj.contains("stdout_tail") || obj.contains("stdout_tail_base64")) {
        capture.stdout_tail = in.Bytes("stdout_tail");
      }
      if (obj.contains("stderr_tail") || obj.contains("stderr_tail_base64")) {
        capture.stderr_tail = in.Bytes("stderr_tail");
      }
    }
    if (!error.empty()) return fail(error);
  }
  std::stable_sort(
      capture.requests.begin(), capture.requests.end(),
      [](const CapturedRequest& a, const CapturedRequest& b) { return a.seq < b.seq; });
  return capture;
}

}  // namespace glassbox::probe
