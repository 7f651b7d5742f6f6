#include "probe/fake_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

// A query as a stub resolver sends it: id, RD set, one question, optionally
// an EDNS OPT record in the additional section.
std::string Query(uint16_t id, const std::string& name, uint16_t qtype, bool edns = false) {
  std::string p;
  auto put16 = [&p](uint16_t v) {
    p.push_back(static_cast<char>(v >> 8));
    p.push_back(static_cast<char>(v & 0xff));
  };
  put16(id);
  put16(0x0100);
  put16(1);
  put16(0);
  put16(0);
  put16(edns ? 1 : 0);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    p.push_back(static_cast<char>(dot - start));
    p += name.substr(start, dot - start);
    start = dot + 1;
  }
  p.push_back('\0');
  put16(qtype);
  put16(1);
  if (edns) {
    p.push_back('\0');
    put16(41);
    put16(1232);
    put16(0);
    put16(0);
    put16(0);
  }
  return p;
}

uint16_t At16(const std::string& p, size_t i) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[i]) << 8) | static_cast<uint8_t>(p[i + 1]));
}

TEST(DnsPacket, ParsesAQueryLowerCased) {
  Result<DnsQuestion> q = ParseDnsQuery(Query(0x1234, "API.Anthropic.com", 1, true));
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_EQ(q->name, "api.anthropic.com");
  EXPECT_EQ(q->qtype, 1);
  EXPECT_EQ(q->qclass, 1);
  EXPECT_EQ(DnsTypeName(28), "AAAA");
  EXPECT_EQ(DnsTypeName(65), "HTTPS");
  EXPECT_EQ(DnsTypeName(999), "TYPE999");
}

TEST(DnsPacket, RejectsMalformedQueries) {
  std::string good = Query(1, "a.example", 1);
  EXPECT_FALSE(ParseDnsQuery(good.substr(0, 11)).ok());               // short header
  EXPECT_FALSE(ParseDnsQuery(good.substr(0, good.size() - 2)).ok());  // no class
  EXPECT_FALSE(ParseDnsQuery(good.substr(0, 15)).ok());               // label cut
  std::string response = good;
  response[2] = static_cast<char>(0x81);
  EXPECT_FALSE(ParseDnsQuery(response).ok());
  std::string two = good;
  two[5] = 2;
  EXPECT_FALSE(ParseDnsQuery(two).ok());
  std::string pointer = good.substr(0, 12) + std::string("\xc0\x0c\x00\x01\x00\x01", 6);
  Result<DnsQuestion> q = ParseDnsQuery(pointer);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("compression"), std::string::npos);
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "abcd.";
  long_name += "x";
  EXPECT_FALSE(ParseDnsQuery(Query(1, long_name, 1)).ok());
}

TEST(DnsPacket, AnswersAWithTheAddressAndAaaaEmpty) {
  Result<DnsQuestion> q = ParseDnsQuery(Query(0xbeef, "x.example", 1));
  ASSERT_TRUE(q.ok());
  const uint8_t addr[4] = {198, 18, 0, 7};
  std::string r = BuildDnsResponse(*q, addr);
  EXPECT_EQ(At16(r, 0), 0xbeef);
  EXPECT_EQ(At16(r, 2) & 0x8000, 0x8000);  // QR
  EXPECT_EQ(At16(r, 2) & 0x0100, 0x0100);  // RD echoed
  EXPECT_EQ(At16(r, 2) & 0x000f, 0);       // NOERROR
  EXPECT_EQ(At16(r, 4), 1);
  EXPECT_EQ(At16(r, 6), 1);
  // The answer's RDATA is the last four bytes.
  EXPECT_EQ(r.substr(r.size() - 4), std::string("\xc6\x12\x00\x07", 4));
  // It parses back as a response to the same name (question echoed).
  EXPECT_EQ(r.substr(12, 11), std::string("\x01x\x07"
                                          "example\x00",
                                          11));

  Result<DnsQuestion> aaaa = ParseDnsQuery(Query(2, "x.example", 28));
  ASSERT_TRUE(aaaa.ok());
  std::string empty = BuildDnsResponse(*aaaa, addr);
  EXPECT_EQ(At16(empty, 6), 0);
  EXPECT_EQ(At16(empty, 2) & 0x000f, 0);

  std::string formerr =
      BuildDnsFormatError(std::string("\x00\x05\x01\x00\x00\x02", 6) + std::string(6, '\0'));
  EXPECT_EQ(At16(formerr, 0), 5);
  EXPECT_EQ(At16(formerr, 2) & 0x000f, 1);
  EXPECT_EQ(BuildDnsFormatError("abc"), "");
}

TEST(FakeDnsZone, DistinctStableAddressesPerName) {
  FakeDnsZone zone;
  std::string a = zone.AddressFor("a.example");
  std::string b = zone.AddressFor("b.example");
  EXPECT_EQ(a, "198.18.0.1");
  EXPECT_EQ(b, "198.18.0.2");
  EXPECT_EQ(zone.AddressFor("a.example"), a);
  EXPECT_EQ(zone.NameFor(b), "b.example");
  EXPECT_EQ(zone.NameFor("10.0.0.1"), "");
}

struct Seen {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> queries;  // name, transport
  std::vector<std::string> servers;
};

TEST(FakeDnsServer, AnswersOverUdpAndTcpAndRecords) {
  FakeDnsZone zone;
  Seen seen;
  auto server = FakeDnsServer::Start(
      "127.0.0.1", 0, &zone,
      [&seen](const DnsQuestion& q, std::string_view transport, const std::string& address) {
        std::lock_guard<std::mutex> lock(seen.mutex);
        seen.queries.emplace_back(q.name, std::string(transport));
        seen.servers.push_back(address);
      });
  ASSERT_TRUE(server.ok()) << server.status().message();
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  timeval tv{2, 0};

  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string q = Query(7, "telemetry.example", 1, true);
  ASSERT_EQ(sendto(udp, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
            static_cast<ssize_t>(q.size()));
  char buf[512];
  ssize_t n = recv(udp, buf, sizeof buf, 0);
  ASSERT_GT(n, 16);
  std::string reply(buf, static_cast<size_t>(n));
  EXPECT_EQ(At16(reply, 0), 7);
  EXPECT_EQ(reply.substr(reply.size() - 4), std::string("\xc6\x12\x00\x01", 4));
  // Garbage gets FORMERR, not silence and not a crash.
  std::string junk(20, '\x01');
  sendto(udp, junk.data(), junk.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  n = recv(udp, buf, sizeof buf, 0);
  ASSERT_EQ(n, 12);
  EXPECT_EQ(buf[3] & 0x0f, 1);
  close(udp);

  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(connect(tcp, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::string tq = Query(9, "other.example", 1);
  std::string framed;
  framed.push_back(static_cast<char>(tq.size() >> 8));
  framed.push_back(static_cast<char>(tq.size() & 0xff));
  framed += tq;
  // Send in two pieces: the server must reassemble.
  ASSERT_EQ(send(tcp, framed.data(), 5, 0), 5);
  usleep(20000);
  ASSERT_EQ(send(tcp, framed.data() + 5, framed.size() - 5, 0),
            static_cast<ssize_t>(framed.size() - 5));
  std::string got;
  while (got.size() < 2 || got.size() < 2u + At16(got, 0)) {
    n = recv(tcp, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(At16(got, 2), 9);
  EXPECT_EQ(got.substr(got.size() - 4), std::string("\xc6\x12\x00\x02", 4));
  close(tcp);

  (*server)->Stop();
  std::lock_guard<std::mutex> lock(seen.mutex);
  ASSERT_EQ(seen.queries.size(), 2u);
  EXPECT_EQ(seen.queries[0], (std::pair<std::string, std::string>{"telemetry.example", "udp"}));
  EXPECT_EQ(seen.queries[1], (std::pair<std::string, std::string>{"other.example", "tcp"}));
  EXPECT_EQ(seen.servers, (std::vector<std::string>{"127.0.0.1", "127.0.0.1"}));
}

}  // namespace
}  // namespace glassbox::probe
