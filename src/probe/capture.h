// What one run of an agent inside the probe sandbox sent, as plain values, and
// their JSONL form (the file the sandboxed cell runner writes and the parent
// reads back, and what `probe --out DIR` keeps for later inspection).
//
// Thread-compatible value types; no I/O here. Used by cell_runner (producer)
// and by the probe analysis (matrix, diff, classify, report) as consumer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace glassbox::probe {

// One HTTP request the agent sent, as the capture server received it.
struct CapturedRequest {
  int seq = 0;             // order of arrival within the run, from 0
  double t_ms = 0;         // milliseconds since the agent was started
  std::string scheme;      // "http" or "https" (https = we terminated TLS)
  std::string host;        // Host header as sent (may carry ":port"); else the SNI
  std::string sni;         // TLS server name; "" for plain HTTP or a ClientHello without SNI
  std::string dest_ip;     // address the agent connected to (the fake DNS answer or a
                           // hard-coded IP); for proxied requests, the proxy's address
  int dest_port = 0;       // port the agent connected to
  int client_port = 0;     // the agent's source port: ties the request to its ConnectionAttempt
  bool via_proxy = false;  // sent through the HTTP proxy (absolute-form or CONNECT tunnel)
  std::string method;      // "GET", "POST", ...
  std::string target;      // request target as sent: "/v1/messages?x=1" or, through the
                           // proxy in absolute form, "http://host/path"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;         // the body bytes after transfer decoding (chunked removed),
                            // content encoding (gzip, br) left as sent
  int response_status = 0;  // what the capture server answered
};

// One name the agent looked up through the fake DNS.
struct DnsQuery {
  double t_ms = 0;
  std::string name;       // lower case, no trailing dot
  std::string type;       // "A", "AAAA", "HTTPS", "TYPE65", ...
  std::string transport;  // "udp" or "tcp"
  std::string server;     // the resolver address it was sent to: "127.0.0.1" from
                          // /etc/resolv.conf, anything else was hard-coded by the agent
};

// A TLS connection we could not intercept (the client refused our certificate,
// pinned its own, spoke something that is not TLS 1.2/1.3, ...). The server
// name is still known from the ClientHello.
struct TlsFailure {
  double t_ms = 0;
  std::string sni;  // "" when the ClientHello carried none
  std::string dest_ip;
  int dest_port = 0;
  std::string reason;  // OpenSSL's reason, e.g. "tlsv1 alert unknown ca"
};

// Where the agent tried to go, seen on the sandbox's loopback whatever listened
// there: every TCP connection it opened (its SYN) and the first datagram of
// every UDP flow, except DNS (port 53, answered by the fake DNS at any address:
// those are DnsQuery).
// This is the complete list, including what the capture server cannot read:
// ports it does not serve, QUIC and other UDP, HTTPS to an IP address that
// refused our certificate after the handshake.
struct ConnectionAttempt {
  double t_ms = 0;
  std::string protocol;  // "tcp" or "udp"
  std::string dest_ip;   // exact, IPv4 or IPv6
  int dest_port = 0;
  int src_port = 0;     // the agent's source port
  bool served = false;  // a capture listener was on that TCP port
};

// Everything one run produced.
struct RunCapture {
  int exit_code = -1;                     // the agent's exit status; 128+N when killed by signal N
  bool timed_out = false;                 // the run hit RunOptions::timeout_s and was killed
  double wall_ms = 0;                     // from spawning the agent to its exit
  std::string stdout_tail;                // last 64 KiB of the agent's stdout
  std::string stderr_tail;                // last 64 KiB of the agent's stderr
  std::vector<CapturedRequest> requests;  // in seq order
  std::vector<DnsQuery> dns;              // in arrival order
  std::vector<TlsFailure> tls_failures;
  std::vector<ConnectionAttempt> connections;  // in time order
  std::vector<std::string> notes;              // sandbox remarks, e.g. "IPv6 is unavailable in
                                               // the sandbox; ..."
  // Each limit of the sandbox the run reached (docs/probe-sandbox.md,
  // "Limits"), e.g. "processes: the agent ran 512 processes and threads at
  // once (the limit)". Not empty = what was captured may be incomplete: the
  // probe's verdict is then at least inconclusive.
  std::vector<std::string> limits_reached;
};

// JSONL form: one JSON object per line, each with "kind":
//   {"kind":"request","seq":0,"t_ms":12.5,"scheme":"https","host":"api.anthropic.com",
//    "sni":"api.anthropic.com","dest_ip":"198.18.0.1","dest_port":443,"client_port":41230,
//    "via_proxy":false,
//    "method":"POST","target":"/v1/messages","headers":[["content-type","application/json"]],
//    "body":"{...}","response_status":200}
//   {"kind":"dns","t_ms":1.0,"name":"api.anthropic.com","type":"A","transport":"udp",
//    "server":"127.0.0.1"}
//   {"kind":"tls_failure","t_ms":3.1,"sni":"x.example","dest_ip":"198.18.0.2",
//    "dest_port":443,"reason":"..."}
//   {"kind":"connection","t_ms":2.0,"protocol":"tcp","dest_ip":"203.0.113.7",
//    "dest_port":9000,"src_port":41234,"served":false}
//   {"kind":"note","text":"..."}
//   {"kind":"limit","text":"..."}
//   {"kind":"exit","exit_code":0,"timed_out":false,"wall_ms":830.2,
//    "stdout_tail":"...","stderr_tail":"..."}
// Bytes that are not valid UTF-8 (a binary body, an odd header value) are
// written base64-encoded under "body_base64" / as a third element "base64" in
// the header pair, so the round trip is byte-exact.
std::string RequestToJsonLine(const CapturedRequest& request);  // no trailing newline
std::string DnsQueryToJsonLine(const DnsQuery& query);
std::string TlsFailureToJsonLine(const TlsFailure& failure);
std::string ConnectionToJsonLine(const ConnectionAttempt& connection);
std::string CaptureToJsonl(const RunCapture& capture);  // every line, each ending in '\n'

// Parses JSONL written by the functions above. `source_name` names the input in
// errors ("capture.jsonl line 3: ..."). Unknown "kind"s and unknown fields are
// ignored (forward compatibility); a line that is not JSON or lacks a required
// field is an error. Requests are returned sorted by seq.
Result<RunCapture> CaptureFromJsonl(std::string_view text, std::string_view source_name);

}  // namespace glassbox::probe
