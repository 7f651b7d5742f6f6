// EncodeSecretRules / DecodeSecretRules: the binary form of a rule list that
// glassbox_rulegen builds into the binary, so that start-up parses no TOML.
//
// Layout: the magic "GBRULES1", a u32 rule count, then per rule its fields in
// declaration order. A string is a u32 length and its bytes, a list a u32
// count and its strings, an integer a u32, a double its 8 IEEE-754 bytes.
// Integers are little-endian. Decoding accepts exactly what encoding makes, so
// a decoded list encodes back to the same bytes.
#include <fmt/format.h>

#include <cstring>

#include "core/secrets.h"

namespace glassbox {
namespace {

constexpr std::string_view kMagic = "GBRULES1";

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}
void PutList(std::string* out, const std::vector<std::string>& list) {
  PutU32(out, static_cast<uint32_t>(list.size()));
  for (const std::string& s : list) PutString(out, s);
}

// Reads fields from the front of `rest`; the first failure sticks in `error`.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return rest_.size(); }

  bool Take(size_t n, std::string_view what, std::string_view* out) {
    if (!ok()) return false;
    if (rest_.size() < n) {
      error_ = fmt::format("{} needs {} bytes but {} are left", what, n, rest_.size());
      return false;
    }
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  uint32_t U32(std::string_view what) {
    std::string_view b;
    if (!Take(4, what, &b)) return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
    return v;
  }
  std::string String(std::string_view what) {
    const uint32_t n = U32(what);
    std::string_view b;
    if (!Take(n, what, &b)) return {};
    return std::string(b);
  }
  std::vector<std::string> List(std::string_view what) {
    const uint32_t n = U32(what);
    std::vector<std::string> out;
    // Every entry takes at least 4 bytes: a damaged count cannot make us reserve much.
    if (!ok() || n > rest_.size() / 4) {
      if (ok()) error_ = fmt::format("{} claims {} entries in {} bytes", what, n, rest_.size());
      return out;
    }
    out.reserve(n);
    for (uint32_t i = 0; i < n && ok(); ++i) out.push_back(String(what));
    return out;
  }
  double Double(std::string_view what) {
    std::string_view b;
    if (!Take(8, what, &b)) return 0;
    double d;
    std::memcpy(&d, b.data(), 8);
    return d;
  }

 private:
  std::string_view rest_;
  std::string error_;
};

}  // namespace

std::string EncodeSecretRules(const std::vector<SecretRule>& rules) {
  std::string out(kMagic);
  PutU32(&out, static_cast<uint32_t>(rules.size()));
  for (const SecretRule& r : rules) {
    PutString(&out, r.id);
    PutString(&out, r.description);
    PutU32(&out, static_cast<uint32_t>(r.severity));
    PutList(&out, r.keywords);
    PutString(&out, r.regex);
    PutU32(&out, static_cast<uint32_t>(r.secret_group));
    char d[8];
    std::memcpy(d, &r.entropy, 8);
    out.append(d, 8);
    PutU32(&out, r.multiline ? 1 : 0);
    PutString(&out, r.prefilter);
    PutList(&out, r.examples);
    PutList(&out, r.stopwords);
    PutList(&out, r.true_positives);
    PutList(&out, r.false_positives);
    PutString(&out, r.source);
  }
  return out;
}

Result<std::vector<SecretRule>> DecodeSecretRules(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return Status::Error("encoded secret rules: the data does not start with \"GBRULES1\"");
  }
  Reader in(bytes.substr(kMagic.size()));
  const uint32_t count = in.U32("rule count");
  std::vector<SecretRule> rules;
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    SecretRule r;
    r.id = in.String("id");
    r.description = in.String("description");
    const uint32_t severity = in.U32("severity");
    if (in.ok() && severity > static_cast<uint32_t>(Severity::kCritical)) {
      return Status::Error(fmt::format("encoded secret rules: rule #{} has severity {}", i + 1, severity));
    }
    r.severity = static_cast<Severity>(severity);
    r.keywords = in.List("keywords");
    r.regex = in.String("regex");
    const uint32_t group = in.U32("secret_group");
    if (in.ok() && group > 64) {
      return Status::Error(fmt::format("encoded secret rules: rule #{} has secret_group {}", i + 1, group));
    }
    r.secret_group = static_cast<int>(group);
    r.entropy = in.Double("entropy");
    const uint32_t multiline = in.U32("multiline");
    if (in.ok() && multiline > 1) {
      return Status::Error(fmt::format("encoded secret rules: rule #{} has multiline {}", i + 1, multiline));
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
    return Status::Error(fmt::format("encoded secret rules: rule #{}: {}", rules.size() + 1, in.error()));
  }
  if (in.remaining() != 0) {
    return Status::Error(fmt::format("encoded secret rules: {} bytes left after {} rules", in.remaining(), count));
  }
  return rules;
}

}  // namespace glassbox
