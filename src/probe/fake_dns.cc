#include "probe/fake_dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace glassbox::probe {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kClassIn = 1;
constexpr size_t kMaxTcpConnections = 64;

uint16_t Read16(std::string_view p, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[at]) << 8) |
                               static_cast<uint8_t>(p[at + 1]));
}

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

void Put32(std::string* out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

// The response header: QR set, opcode and RD copied, AA and RA set.
std::string ResponseHeader(uint16_t id, uint16_t query_flags, uint16_t rcode, uint16_t qdcount,
                           uint16_t ancount) {
  uint16_t flags =
      0x8000 | (query_flags & 0x7800) | (query_flags & 0x0100) | 0x0400 | 0x0080 | (rcode & 0x000f);
  std::string out;
  Put16(&out, id);
  Put16(&out, flags);
  Put16(&out, qdcount);
  Put16(&out, ancount);
  Put16(&out, 0);
  Put16(&out, 0);
  return out;
}

std::string Errno(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

}  // namespace

Result<DnsQuestion> ParseDnsQuery(std::string_view packet) {
  if (packet.size() < kHeaderSize) {
    return Status::Error(
        fmt::format("DNS message of {} bytes is shorter than its header", packet.size()));
  }
  if (packet.size() > 65535) return Status::Error("DNS message longer than 65535 bytes");
  DnsQuestion q;
  q.id = Read16(packet, 0);
  q.flags = Read16(packet, 2);
  if (q.flags & 0x8000) return Status::Error("DNS message is a response, not a query");
  if (Read16(packet, 4) != 1) {
    return Status::Error(fmt::format("DNS query has {} questions, not 1", Read16(packet, 4)));
  }
  size_t at = kHeaderSize;
  while (true) {
    if (at >= packet.size()) return Status::Error("DNS question name runs past the message");
    uint8_t len = static_cast<uint8_t>(packet[at]);
    ++at;
    if (len == 0) break;
    if ((len & 0xc0) != 0) return Status::Error("DNS question uses a compression pointer");
    if (at + len > packet.size()) return Status::Error("DNS label runs past the message");
    if (!q.name.empty()) q.name.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      char c = packet[at + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      q.name.push_back(c);
    }
    at += len;
    if (q.name.size() > 253) return Status::Error("DNS question name longer than 253 bytes");
  }
  if (at + 4 > packet.size()) return Status::Error("DNS question lacks its type and class");
  q.wire_name = std::string(packet.substr(kHeaderSize, at - kHeaderSize));
  q.qtype = Read16(packet, at);
  q.qclass = Read16(packet, at + 2);
  q.question_end = at + 4;
  return q;
}

std::string DnsTypeName(uint16_t qtype) {
  switch (qtype) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return fmt::format("TYPE{}", qtype);
  }
}

std::string BuildDnsResponse(const DnsQuestion& question, const uint8_t* ipv4) {
  uint16_t opcode = (question.flags >> 11) & 0x0f;
  if (opcode != 0) return ResponseHeader(question.id, question.flags, /*NOTIMP*/ 4, 0, 0);
  bool answer = ipv4 != nullptr && question.qtype == kTypeA && question.qclass == kClassIn;
  std::string out = ResponseHeader(question.id, question.flags, 0, 1, answer ? 1 : 0);
  // The question exactly as asked (resolvers using 0x20 case randomisation
  // check the echo).
  out += question.wire_name;
  Put16(&out, question.qtype);
  Put16(&out, question.qclass);
  if (answer) {
    Put16(&out, 0xc000 | kHeaderSize);  // pointer to the question's name
    Put16(&out, kTypeA);
    Put16(&out, kClassIn);
    Put32(&out, 60);
    Put16(&out, 4);
    out.append(reinterpret_cast<const char*>(ipv4), 4);
  }
  return out;
}

std::string BuildDnsFormatError(std::string_view packet) {
  if (packet.size() < kHeaderSize) return "";
  return ResponseHeader(Read16(packet, 0), Read16(packet, 2), /*FORMERR*/ 1, 0, 0);
}

std::string FakeDnsZone::AddressFor(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_name_.find(name);
  if (found != by_name_.end()) return found->second;
  // 198.18.0.0/15 holds 2^17 addresses; past the last, every new name shares it.
  uint32_t n = next_ < (1u << 17) - 1 ? next_++ : (1u << 17) - 2;
  uint32_t addr = (198u << 24) | (18u << 16) | n;
  std::string text =
      fmt::format("{}.{}.{}.{}", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
  by_name_.emplace(name, text);
  by_address_.emplace(text, name);
  return text;
}

std::string FakeDnsZone::NameFor(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_address_.find(address);
  return found == by_address_.end() ? "" : found->second;
}

Result<std::unique_ptr<FakeDnsServer>> FakeDnsServer::Start(const std::string& address, int port,
                                                            FakeDnsZone* zone,
                                                            QueryCallback on_query) {
  std::unique_ptr<FakeDnsServer> server(new FakeDnsServer());
  server->zone_ = zone;
  server->on_query_ = std::move(on_query);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return Status::Error(fmt::format("fake DNS: '{}' is not an IPv4 address", address));
  }
  server->tcp_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (server->tcp_fd_ < 0 ||
      setsockopt(server->tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(server->tcp_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(server->tcp_fd_, 64) != 0) {
    return Status::Error(Errno(fmt::format("fake DNS: cannot listen on TCP {}:{}", address, port)));
  }
  socklen_t len = sizeof sa;
  getsockname(server->tcp_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  server->port_ = ntohs(sa.sin_port);
  server->udp_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (server->udp_fd_ < 0 ||
      setsockopt(server->udp_fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0 ||
      bind(server->udp_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return Status::Error(
        Errno(fmt::format("fake DNS: cannot bind UDP {}:{}", address, server->port_)));
  }
  if (pipe2(server->wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Error(Errno("fake DNS: pipe"));
  }
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

FakeDnsServer::~FakeDnsServer() {
  Stop();
  for (int fd : {udp_fd_, tcp_fd_, wake_fd_[0], wake_fd_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void FakeDnsServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_[1] >= 0) {
    char byte = 0;
    [[maybe_unused]] ssize_t n = write(wake_fd_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
}

std::string FakeDnsServer::Answer(std::string_view packet, std::string_view transport,
                                  const std::string& server) {
  Result<DnsQuestion> question = ParseDnsQuery(packet);
  if (!question.ok()) return BuildDnsFormatError(packet);
  if (on_query_) on_query_(*question, transport, server);
  uint8_t ipv4[4];
  const uint8_t* answer = nullptr;
  if (question->qtype == kTypeA && question->qclass == kClassIn && !question->name.empty()) {
    std::string address = zone_->AddressFor(question->name);
    if (inet_pton(AF_INET, address.c_str(), ipv4) == 1) answer = ipv4;
  }
  return BuildDnsResponse(*question, answer);
}

void FakeDnsServer::ServeUdp(std::vector<char>* datagram) {
  while (true) {
    // recvmsg with IP_PKTINFO: which address the query went to, so the
    // reply leaves from it (a client checks where its answer comes from).
    sockaddr_in peer{};
    iovec iov{datagram->data(), datagram->size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof peer;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(udp_fd_, &msg, 0);
    if (n < 0) return;
    in_pktinfo info{};
    bool have_info = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        have_info = true;
      }
    }
    char server[INET_ADDRSTRLEN] = "";
    if (have_info) inet_ntop(AF_INET, &info.ipi_addr, server, sizeof server);
    std::string reply =
        Answer(std::string_view(datagram->data(), static_cast<size_t>(n)), "udp", server);
    if (reply.empty()) continue;
    iovec out_iov{reply.data(), reply.size()};
    msghdr out{};
    out.msg_name = &peer;
    out.msg_namelen = sizeof peer;
    out.msg_iov = &out_iov;
    out.msg_iovlen = 1;
    alignas(cmsghdr) char out_control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    if (have_info) {
      out.msg_control = out_control;
      out.msg_controllen = sizeof out_control;
      cmsghdr* c = CMSG_FIRSTHDR(&out);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo source{};
      source.ipi_spec_dst = info.ipi_addr;
      std::memcpy(CMSG_DATA(c), &source, sizeof source);
    }
    sendmsg(udp_fd_, &out, 0);
  }
}

void FakeDnsServer::AcceptTcp(std::vector<TcpClient>* clients) {
  while (true) {
    int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (clients->size() >= kMaxTcpConnections) {
      close(fd);
      continue;
    }
    sockaddr_in local{};
    socklen_t local_len = sizeof local;
    char server[INET_ADDRSTRLEN] = "";
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      inet_ntop(AF_INET, &local.sin_addr, server, sizeof server);
    }
    clients->push_back({fd, {}, server});
  }
}

bool FakeDnsServer::ServeTcpClient(TcpClient* client) {
  char buf[4096];
  ssize_t n = read(client->fd, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
  client->buffer.append(buf, static_cast<size_t>(n));
  while (client->buffer.size() >= 2) {
    size_t len = Read16(client->buffer, 0);
    if (client->buffer.size() < 2 + len) break;
    std::string reply =
        Answer(std::string_view(client->buffer).substr(2, len), "tcp", client->server);
    client->buffer.erase(0, 2 + len);
    if (reply.empty()) continue;
    std::string framed;
    Put16(&framed, static_cast<uint16_t>(reply.size()));
    framed += reply;
    // Replies are small; a client that does not read them loses its connection.
    if (send(client->fd, framed.data(), framed.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(framed.size())) {
      return false;
    }
  }
  return true;
}

void FakeDnsServer::Serve() {
  std::vector<TcpClient> clients;
  std::vector<char> datagram(65536);
  while (!stopping_.load()) {
    std::vector<pollfd> fds = {
        {wake_fd_[0], POLLIN, 0}, {udp_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
    for (const TcpClient& c : clients) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) ServeUdp(&datagram);
    if (fds[2].revents & POLLIN) AcceptTcp(&clients);
    std::vector<int> closed;
    for (size_t i = 3; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && !ServeTcpClient(&clients[i - 3]))
        closed.push_back(clients[i - 3].fd);
    }
    for (int fd : closed) {
      close(fd);
      std::erase_if(clients, [fd](const TcpClient& c) { return c.fd == fd; });
    }
  }
  for (const TcpClient& c : clients) close(c.fd);
}

}  // namespace glassbox::probe
