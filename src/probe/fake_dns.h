// The probe sandbox's DNS: answers every A query with a capture address and
// records every query, so an agent's lookups are both logged and harmless.
//
// Three layers, each usable alone:
//  - ParseDnsQuery / BuildDnsResponse: pure functions over one DNS message
//    (RFC 1035 wire format; fuzzed by fuzz/fuzz_dns.cc). Never trust the input.
//  - FakeDnsZone: the name → address book. Each distinct name gets its own
//    address in 198.18.0.0/15 (RFC 2544 benchmarking range, never routed on
//    the Internet) so a connection can be traced back to the name even when
//    the client sends no SNI or Host. Thread-safe.
//  - FakeDnsServer: UDP and TCP on one address/port (0.0.0.0:53 inside the
//    sandbox), served by one thread; every query goes to a callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"

namespace glassbox::probe {

struct DnsQuestion {
  uint16_t id = 0;
  uint16_t flags = 0;     // the query's flags word (opcode, RD, ...)
  std::string name;       // lower case, no trailing dot; "" for the root
  std::string wire_name;  // the name exactly as encoded in the query (echoed back)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;  // offset just past the question in the packet
};

// Parses a query message with exactly one question. Rejects responses,
// truncated or oversized (> 65535) messages, compression pointers in the
// question (clients never send them), labels over 63 bytes, names over 255.
Result<DnsQuestion> ParseDnsQuery(std::string_view packet);

// "A", "AAAA", "HTTPS", ... or "TYPE<n>" for types without a mnemonic here.
std::string DnsTypeName(uint16_t qtype);

// A response to `question` (parsed from `query`): NOERROR with one A record
// (TTL 60) when the question is IN A and `ipv4` is given; NOERROR with no
// answer for every other type (so clients fall back to IPv4); NOTIMP for an
// opcode other than QUERY; the question echoed. `ipv4` is in network order.
std::string BuildDnsResponse(const DnsQuestion& question, const uint8_t* ipv4);

// A FORMERR response for a packet with at least a 12-byte header whose
// question could not be parsed; "" when the packet is too short to answer.
std::string BuildDnsFormatError(std::string_view packet);

class FakeDnsZone {
 public:
  // The address (dotted quad) handed out for `name`: stable for the zone's
  // life, distinct per name, from 198.18.0.1 upward.
  std::string AddressFor(const std::string& name);
  // The name an address was handed out for; "" if none.
  std::string NameFor(const std::string& address) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> by_name_;
  std::map<std::string, std::string> by_address_;
  uint32_t next_ = 1;
};

class FakeDnsServer {
 public:
  // Called on the server thread for every parsed query, before answering.
  // `server` is the address the client sent it to ("127.0.0.1", or "8.8.8.8"
  // for a resolver hard-coded in the agent when bound to 0.0.0.0).
  using QueryCallback = std::function<void(const DnsQuestion&, std::string_view transport,
                                           const std::string& server)>;

  // Binds UDP and TCP on address:port (port 0 picks one; the same number is
  // used for both) and starts serving on a thread. Bound to 0.0.0.0 inside
  // the sandbox, it answers queries sent to any address, replying from the
  // address each query went to (IP_PKTINFO). Error names the address.
  static Result<std::unique_ptr<FakeDnsServer>> Start(const std::string& address, int port,
                                                      FakeDnsZone* zone, QueryCallback on_query);
  ~FakeDnsServer();  // stops and joins the thread
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  // A TCP client: what it sent that is not answered yet.
  struct TcpClient {
    int fd;
    std::string buffer;
    std::string server;  // the address the client connected to
  };

  FakeDnsServer() = default;
  void Serve();  // the server thread: poll, then each step below
  // Answers every datagram waiting on the UDP socket.
  void ServeUdp(std::vector<char>* datagram);
  // Accepts every waiting TCP connection (up to kMaxTcpConnections).
  void AcceptTcp(std::vector<TcpClient>* clients);
  // Reads what a client sent and answers each complete length-prefixed
  // message; false when the connection is to be closed.
  bool ServeTcpClient(TcpClient* client);
  std::string Answer(std::string_view packet, std::string_view transport,
                     const std::string& server);

  int udp_fd_ = -1;
  int tcp_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  int port_ = 0;
  FakeDnsZone* zone_ = nullptr;
  QueryCallback on_query_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace glassbox::probe
