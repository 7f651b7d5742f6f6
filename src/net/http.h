// HTTP/1.1 value types shared by the server, the client, the gateway and the
// probe. Beast-free: these are plain values, copyable and thread-compatible.
//
// Headers keep their order and their original spelling (a gateway forwards
// what it received, and the probe reports exactly what an agent sent); names
// compare case-insensitively (RFC 9110 §5.1).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glassbox::net {

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True when `name` is an RFC 9110 token and `value` has no CR, LF or NUL:
// what may be written on the wire without splitting or injecting a header.
bool IsValidHeaderName(std::string_view name);
bool IsValidHeaderValue(std::string_view value);

struct HeaderField {
  std::string name;
  std::string value;
  bool operator==(const HeaderField&) const = default;
};

// An ordered list of header fields; duplicates allowed (Set replaces all).
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<HeaderField> fields) : fields_(fields) {}

  // The first value of `name`, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Appends a field (keeps existing fields with the same name).
  void Add(std::string name, std::string value);
  // Replaces every field called `name` by one (at the first one's position).
  void Set(std::string_view name, std::string value);
  // Removes every field called `name`; returns how many were removed.
  size_t Remove(std::string_view name);

  const std::vector<HeaderField>& fields() const { return fields_; }
  std::vector<HeaderField>& mutable_fields() { return fields_; }
  bool empty() const { return fields_.empty(); }
  size_t size() const { return fields_.size(); }
  bool operator==(const Headers&) const = default;

 private:
  std::vector<HeaderField> fields_;
};

// Where a request came from, filled by the server for every request.
struct ConnectionInfo {
  std::string peer;              // "127.0.0.1:53422"
  std::string local;             // "203.0.113.7:443": the address the client connected to
  uint16_t local_port = 0;       // the listener's port (the tunnel's for CONNECT)
  bool tls = false;              // the request arrived over TLS (possibly inside CONNECT)
  std::string sni;               // the TLS server name the client asked for, "" if none
  std::string tunnel_authority;  // "host:port" of the CONNECT this arrived through, "" if none
  uint64_t connection_id = 0;    // unique per accepted connection (tunnels get a new one)
};

struct HttpRequest {
  std::string method;          // "GET", "POST", "CONNECT", ...
  std::string target;          // as received: "/v1/messages?x=1", "http://h/p", "host:443"
  std::string path;            // target without query, origin-form ("/v1/messages"); "" for CONNECT
  std::string query;           // after '?', without it; "" if none
  std::string host;            // Host header, or the authority of an absolute-form target
  bool absolute_form = false;  // the target was "scheme://authority/..."
  std::string scheme;          // "http"/"https" of an absolute-form target, else ""
  int version_minor = 1;       // HTTP/1.x
  Headers headers;
  std::string body;
  ConnectionInfo connection;
  // When the server had read the request's head (its first bytes, for a
  // head that arrives in one piece); the epoch for a request that was not
  // read from a connection. For the time spent reading the body.
  std::chrono::steady_clock::time_point head_read_at{};
};

struct HttpResponse {
  int status = 200;
  std::string reason;  // "" = the standard phrase for `status`
  Headers headers;
  std::string body;
};

// The standard reason phrase for `status` ("OK", "Not Found", ...), or "Unknown".
std::string_view ReasonPhrase(int status);

// Splits a request target into path and query; handles origin-form,
// absolute-form ("http://host:port/p?q") and authority-form ("host:443").
// Returns false when the target is none of these.
struct ParsedTarget {
  std::string path;
  std::string query;
  std::string authority;  // absolute-form and authority-form only
  std::string scheme;     // absolute-form only
  bool absolute_form = false;
};
bool ParseRequestTarget(std::string_view method, std::string_view target, ParsedTarget* out);

// A parsed "http://host[:port][/base]" or "https://..." origin.
struct Url {
  std::string scheme;              // "http" or "https"
  std::string host;                // without brackets for IPv6
  uint16_t port = 0;               // explicit or the scheme's default
  std::string base_path;           // "" or "/prefix" (no trailing slash)
  std::string Origin() const;      // "https://host[:port]" (port omitted when default)
  std::string HostHeader() const;  // "host[:port]" (port omitted when default)
};
// Parses `text` as an http(s) URL; the error names the text and the reason.
bool ParseUrl(std::string_view text, Url* out, std::string* error);

}  // namespace glassbox::net
