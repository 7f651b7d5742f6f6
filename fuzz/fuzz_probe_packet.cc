// Fuzzes the probe sandbox's packet reader (probe::ParseIpPacket), which
// reads the IPv4/IPv6 and TCP/UDP headers of everything the agent sends on
// the sandbox's loopback. On any bytes it must not read out of bounds; when
// it accepts a packet the result must be consistent: exactly one of a TCP
// SYN or UDP can be flagged, ports fit 16 bits, the address is printable.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "probe/sandbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view packet(reinterpret_cast<const char*>(data), size);
  glassbox::probe::PacketDestination d;
  if (!glassbox::probe::ParseIpPacket(packet, &d)) return 0;
  FUZZ_CHECK(!(d.tcp_syn && d.udp), "both TCP SYN and UDP");
  FUZZ_CHECK(d.dest_port >= 0 && d.dest_port <= 65535 && d.src_port >= 0 && d.src_port <= 65535,
             "port out of range");
  FUZZ_CHECK(!d.dest_ip.empty() && d.dest_ip.size() <= 45, "address '%s'", d.dest_ip.c_str());
  FUZZ_CHECK(size >= 20, "accepted a %zu-byte packet", size);
  return 0;
}
