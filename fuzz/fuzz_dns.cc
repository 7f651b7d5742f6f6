// Fuzzes the probe's fake DNS wire format: ParseDnsQuery on arbitrary bytes,
// then, for every query it accepts, BuildDnsResponse must produce a response
// whose header echoes the id, whose question parses back (after clearing QR)
// to the same name, type and class, and which stays within 512 bytes plus the
// question. BuildDnsFormatError must answer any packet with a full header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "probe/fake_dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view packet(reinterpret_cast<const char*>(data), size);
  std::string formerr = glassbox::probe::BuildDnsFormatError(packet);
  FUZZ_CHECK(size < 12 ? formerr.empty() : formerr.size() == 12, "dns invariant");
  auto question = glassbox::probe::ParseDnsQuery(packet);
  if (!question.ok()) return 0;
  FUZZ_CHECK(question->name.size() <= 253, "dns invariant");
  FUZZ_CHECK(question->question_end <= size, "dns invariant");
  const uint8_t addr[4] = {198, 18, 0, 1};
  std::string reply = glassbox::probe::BuildDnsResponse(*question, addr);
  FUZZ_CHECK(reply.size() >= 12, "dns invariant");
  FUZZ_CHECK(reply[0] == packet[0] && reply[1] == packet[1], "dns invariant");
  FUZZ_CHECK((static_cast<uint8_t>(reply[2]) & 0x80) != 0, "dns invariant");
  if (((question->flags >> 11) & 0x0f) == 0) {
    std::string as_query = reply;
    as_query[2] = static_cast<char>(as_query[2] & 0x7f);
    as_query[6] = as_query[7] = 0;  // drop the answer count: only the question matters
    auto again = glassbox::probe::ParseDnsQuery(as_query);
    FUZZ_CHECK(again.ok(), "dns invariant");
    FUZZ_CHECK(again->name == question->name, "dns invariant");
    FUZZ_CHECK(again->qtype == question->qtype && again->qclass == question->qclass,
               "dns invariant");
    const bool answered = question->qtype == 1 && question->qclass == 1;
    FUZZ_CHECK(reply.size() == 12 + question->wire_name.size() + 4 + (answered ? 16u : 0u),
               "reply of %zu bytes", reply.size());
  }
  return 0;
}
