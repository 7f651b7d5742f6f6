// EncodeSecretRules / DecodeSecretRules: the binary form of a rule list that
// glassbox_rulegen builds into the binary, so that start-up parses no TOML.
//
// Layout: the magic "GBRULES1", a u32 rule count, then per rule its fields in
// declaration order. A string is a u32 length and its bytes, a list a u32
// count and its strings, an integer a u32, a double its 8 IEEE-754 bytes.
// Integers are little-endian. Decoding accepts exactly what encoding makes, so
// a decoded list encodes back to the same bytes.
#include <fmt/format.h>

#include "core/byte_codec.h"
#include "core/secrets.h"

namespace glassbox {
namespace {

constexpr std::string_view kMagic = "GBRULES1";

}  // namespace

std::string EncodeSecretRules(const std::vector<SecretRule>& rules) {
  ByteWriter out(kMagic);
  out.U32(static_cast<uint32_t>(rules.size()));
  for (const SecretRule& r : rules) {
    out.String(r.id);
    out.String(r.description);
    out.U32(static_cast<uint32_t>(r.severity));
    out.List(r.keywords);
    out.String(r.regex);
    out.U32(static_cast<uint32_t>(r.secret_group));
    out.Double(r.entropy);
    out.U32(r.multiline ? 1 : 0);
    out.String(r.prefilter);
    out.List(r.examples);
    out.List(r.stopwords);
    out.List(r.true_positives);
    out.List(r.false_positives);
    out.String(r.source);
  }
  return out.bytes();
}

Result<std::vector<SecretRule>> DecodeSecretRules(std::string_view bytes) {
  ByteReader in(bytes, kMagic);
  if (!in.ok()) return Status::Error("encoded secret rules: " + in.error());
  const uint32_t count = in.U32("rule count");
  std::vector<SecretRule> rules;
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    SecretRule r;
    r.id = in.String("id");
    r.description = in.String("description");
    const uint32_t severity = in.U32("severity");
    if (in.ok() && severity > static_cast<uint32_t>(Severity::kCritical)) {
      return Status::Error(
          fmt::format("encoded secret rules: rule #{} has severity {}", i + 1, severity));
    }
    r.severity = static_cast<Severity>(severity);
    r.keywords = in.List("keywords");
    r.regex = in.String("regex");
    const uint32_t group = in.U32("secret_group");
    if (in.ok() && group > 64) {
      return Status::Error(
          fmt::format("encoded secret rules: rule #{} has secret_group {}", i + 1, group));
    }
    r.secret_group = static_cast<int>(group);
    r.entropy = in.Double("entropy");
    const uint32_t multiline = in.U32("multiline");
    if (in.ok() && multiline > 1) {
      return Status::Error(
          fmt::format("encoded secret rules: rule #{} has multiline {}", i + 1, multiline));
    }
    r.multiline = multiline == 1;
    r.prefilter = in.String("prefilter");
    r.examples = in.List("examples");
    r.stopwords = in.List("stopwords");
    r.true_positives = in.List("true_positives");
    r.false_positives = in.List("false_positives");
    r.source = in.String("source");
    if (in.ok()) rules.push_back(std::move(r));
  }
  if (!in.ok()) {
    return Status::Error(
        fmt::format("encoded secret rules: rule #{}: {}", rules.size() + 1, in.error()));
  }
  if (in.remaining() != 0) {
    return Status::Error(
        fmt::format("encoded secret rules: {} bytes left after {} rules", in.remaining(), count));
  }
  return rules;
}

}  // namespace glassbox
