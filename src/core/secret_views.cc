#include "core/secret_views.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/base64.h"
#include "core/json_strings.h"
#include "core/text_index.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox {
namespace {

constexpr size_t kMaxBase64Run = 1 << 16;  // a larger run is data, not a credential
constexpr size_t kMaxDecodedPerText = 4 << 20;
constexpr size_t kMaxLinePrefix = 160;  // context kept before a decoded value ("password: ")

bool Overlaps(const Finding& a, uint64_t begin, uint64_t end) {
  return a.byte_offset < end && begin < a.byte_offset + std::max<uint64_t>(a.byte_length, 1);
}

bool AlreadyFound(const std::vector<Finding>& already, const std::string& rule, uint64_t begin,
                  uint64_t end) {
  for (const Finding& f : already) {
    if (f.rule == rule && Overlaps(f, begin, end)) return true;
  }
  return false;
}

// Where the bytes of a view with characters removed came from: the view is
// the text's pieces between the removed characters, one after the other, and
// each piece is kept as (its offset in the view, its offset in the text). A
// map of every byte cost a quarter of the invisible view's instructions; the
// few findings are mapped by a binary search.
class ViewSource {
 public:
  void AddPiece(size_t view_offset, size_t text_offset) {
    pieces_.emplace_back(view_offset, text_offset);
  }
  // The offset in the text of view byte k.
  uint64_t At(size_t k) const {
    auto it =
        std::upper_bound(pieces_.begin(), pieces_.end(), std::pair<size_t, size_t>(k, ~size_t{0}));
    --it;  // the first piece starts at view offset 0
    return it->second + (k - it->first);
  }

 private:
  std::vector<std::pair<size_t, size_t>> pieces_;
};

// The text with every hiding character removed; source->At(k) is the offset
// in `text` of view byte k. False (and nothing filled) when nothing was
// removed.
// `index`, when given, is the TextIndex of `text`.
bool WithoutHidden(std::string_view text, bool known_ascii, const TextIndex* index,
                   std::string* view, ViewSource* source) {
  if (known_ascii || utf::IsAscii(text)) return false;  // every hiding character is outside ASCII
  const UnicodeData& data = UnicodeData::Get();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  auto next = [&](size_t from) {
    return index != nullptr ? index->NextInteresting(from) : utf::NextInteresting(text, from);
  };
  size_t copied = 0;  // text[0, copied) is in the view
  bool removed = false;
  for (size_t i = next(0); i < text.size(); i = next(i)) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, text.size() - i, &len);
    if (cp >= 0 && IsHiddenClass(data.Classify(static_cast<char32_t>(cp)))) {
      if (!removed) view->reserve(text.size());
      removed = true;
      source->AddPiece(view->size(), copied);
      view->append(text.substr(copied, i - copied));
      copied = i + len;
    }
    i += std::max<size_t>(len, 1);
  }
  if (!removed) return false;
  source->AddPiece(view->size(), copied);
  view->append(text.substr(copied));
  return true;
}

// Decodes standard or URL-safe base64 (padding optional). False when the
// result is not text: a decoded secret is printable ASCII.
bool DecodeBase64Text(std::string_view run, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t printable = 0;
  for (unsigned char c : run) {
    if (c == '=') break;
    // Most runs are identifiers, hashes or images: give up on the first
    // bytes that are not text, before decoding the rest.
    if (out->size() == 24 && printable < 23) return false;
    const int v = Base64Digit(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const auto b = static_cast<unsigned char>((acc >> bits) & 0xFF);
      out->push_back(static_cast<char>(b));
      if ((b >= 0x20 && b < 0x7F) || b == '\n' || b == '\r' || b == '\t') ++printable;
    }
  }
  return out->size() >= 16 && printable * 100 >= out->size() * 97;
}

class Views {
 public:
  Views(const SecretScanner& scanner, SecretScratch& scratch, const std::vector<Finding>& already,
        std::vector<Finding>* out)
      : scanner_(scanner), scratch_(scratch), already_(already), out_(out) {}

  // known_ascii: the text is known to be all ASCII (nothing to look for);
  // index: the text's TextIndex, or null.
  Status Invisible(std::string_view text, bool known_ascii, const TextIndex* index) {
    std::string view;
    ViewSource source;
    if (!WithoutHidden(text, known_ascii, index, &view, &source)) return Status::Ok();
    found_.clear();
    Status st = scanner_.Scan(view, scratch_, &found_);
    if (!st.ok()) return st;
    for (Finding& f : found_) {
      const size_t vb = std::min<size_t>(f.byte_offset, view.size());
      const size_t ve = std::min<size_t>(vb + std::max<uint64_t>(f.byte_length, 1), view.size());
      if (ve <= vb) continue;
      const uint64_t ob = source.At(vb);
      const uint64_t oe = source.At(ve - 1) + 1;
      if (oe - ob == ve - vb) continue;  // nothing hidden inside: the plain scan sees it
      f.byte_offset = ob;
      f.byte_length = oe - ob;
      f.message += " (split by invisible characters)";
      out_->push_back(std::move(f));
    }
    return Status::Ok();
  }

  // known: EscapedJsonStrings(text) when the caller has them, else null.
  Status JsonEscapes(std::string_view text, const std::vector<EscapedJsonString>* known) {
    if (text.find("\\u") == std::string_view::npos) return Status::Ok();
    std::vector<EscapedJsonString> walked;
    if (known == nullptr) walked = EscapedJsonStrings(text);
    for (const auto& [open, decoded] : known != nullptr ? *known : walked) {
      size_t close = open + 1;
      while (close < text.size() && text[close] != '"') close += text[close] == '\\' ? 2 : 1;
      const std::string_view raw = text.substr(open, std::min(close + 1, text.size()) - open);
      found_.clear();
      Status st = scanner_.Scan(decoded, scratch_, &found_);
      if (!st.ok()) return st;
      for (Finding& f : found_) {
        const std::string_view secret = std::string_view(decoded).substr(
            std::min<size_t>(f.byte_offset, decoded.size()), f.byte_length);
        if (raw.find(secret) != std::string_view::npos) continue;  // not hidden by the escapes
        f.byte_offset = open;
        f.byte_length = raw.size();
        f.message += " (written with JSON \\u escapes)";
        out_->push_back(std::move(f));
      }
    }
    return Status::Ok();
  }

  // Base64 runs of `text`, decoded and scanned (with the line's start for
  // context: "AWS_SECRET_ACCESS_KEY: " + the decoded value). Findings are
  // reported on [report_begin, report_end) when set (a run inside a decoded
  // run), else on the run itself. `runs`: the base64 runs of `text`
  // (TextIndex or FindBase64Runs); the first error stops the walk.
  Status Base64(std::string_view text, const std::vector<Base64Span>& runs, int depth,
                uint64_t report_begin, uint64_t report_end) {
    for (const Base64Span& run : runs) {
      Status st =
          Base64Run(text, run.begin, run.end, run.padded_end, depth, report_begin, report_end);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // The run text[s, e) with its padding up to `k`.
  Status Base64Run(std::string_view text, size_t s, size_t e, size_t k, int depth,
                   uint64_t report_begin, uint64_t report_end) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    if (e - s < kMinBase64Run || e - s > kMaxBase64Run) return Status::Ok();
    // Text encodes to quads whose first digit holds the top six bits of a
    // byte below 0x80 (2..31 for tab, newline and printable ASCII): most
    // identifiers, hashes and binary data fail this within a few quads.
    for (size_t q = s; q + 4 <= e && q < s + 4 * 8; q += 4) {
      const int v = Base64Digit(p[q]);
      if (v < 2 || v > 31) return Status::Ok();
    }
    bool upper = false, lower = false;
    for (size_t q = s; q < e && !(upper && lower); ++q) {
      upper |= p[q] >= 'A' && p[q] <= 'Z';
      lower |= p[q] >= 'a' && p[q] <= 'z';
    }
    if (!upper || !lower) return Status::Ok();
    if (s > 0 && (p[s - 1] == '\\' || p[s - 1] == '%'))
      return Status::Ok();  // an escape, not a value
    std::string decoded;
    if (decoded_total_ > kMaxDecodedPerText || !DecodeBase64Text(text.substr(s, e - s), &decoded)) {
      return Status::Ok();
    }
    decoded_total_ += decoded.size();
    size_t line = s;
    while (line > 0 && s - line < kMaxLinePrefix && p[line - 1] != '\n') --line;
    std::string view(text.substr(line, s - line));
    const size_t prefix = view.size();
    view += decoded;
    view += '\n';
    const uint64_t rb = report_end > report_begin ? report_begin : s;
    const uint64_t re = report_end > report_begin ? report_end : k;
    std::vector<Finding> found;
    Status st = scanner_.Scan(view, scratch_, &found);
    if (!st.ok()) return st;
    for (Finding& f : found) {
      if (f.byte_offset + f.byte_length <= prefix) continue;  // found in the context alone
      if (AlreadyFound(already_, f.rule, rb, re)) continue;
      f.byte_offset = rb;
      f.byte_length = re - rb;
      f.message += " (base64-encoded)";
      out_->push_back(std::move(f));
    }
    if (depth > 1) {
      std::vector<Base64Span> runs;
      bool non_ascii = false;
      FindBase64Runs(decoded, &runs, &non_ascii);
      return Base64(decoded, runs, depth - 1, rb, re);
    }
    return Status::Ok();
  }

 private:
  const SecretScanner& scanner_;
  SecretScratch& scratch_;
  const std::vector<Finding>& already_;
  std::vector<Finding>* out_;
  std::vector<Finding> found_;
  size_t decoded_total_ = 0;
};

}  // namespace

Status ScanSecretViews(const SecretScanner& scanner, std::string_view text,
                       const SecretViewOptions& options, SecretScratch& scratch,
                       const std::vector<Finding>& already, std::vector<Finding>* out) {
  // The base64 view is looked at first: its pass reads every byte and says
  // on the way whether the text is all ASCII, which spares the invisible
  // view a pass of its own (a third of a byte's instructions). Its findings
  // still come last, as when it ran last. With the text's index, that pass
  // was made by TextIndex::Build.
  const TextIndex* index = options.index;
  std::vector<Finding> from_base64;
  bool non_ascii = true;
  Status base64 = Status::Ok();
  if (options.max_decode_depth > 0) {
    std::vector<Base64Span> found_runs;
    if (index == nullptr) FindBase64Runs(text, &found_runs, &non_ascii);
    Views views(scanner, scratch, already, &from_base64);
    base64 = views.Base64(text, index != nullptr ? index->base64_runs() : found_runs,
                          options.max_decode_depth, 0, 0);
    if (index != nullptr) non_ascii = index->non_ascii();
  }
  const bool known_ascii = options.max_decode_depth > 0 && base64.ok() && !non_ascii;
  Views views(scanner, scratch, already, out);
  Status st = views.Invisible(text, known_ascii, index);
  if (st.ok() && options.json == JsonSyntax::kDocument)
    st = views.JsonEscapes(text, options.json_strings);
  if (!st.ok()) return st;
  out->insert(out->end(), std::make_move_iterator(from_base64.begin()),
              std::make_move_iterator(from_base64.end()));
  return base64;
}

namespace internal {

std::vector<std::pair<size_t, size_t>> Base64RunsAt(utf::internal::ScanLevel level,
                                                    std::string_view text, bool* non_ascii) {
  std::vector<Base64Span> spans;
  internal::FindBase64RunsAt(level, text, &spans, non_ascii);
  std::vector<std::pair<size_t, size_t>> runs;
  for (const Base64Span& s : spans) runs.emplace_back(s.begin, s.end);
  return runs;
}

}  // namespace internal

}  // namespace glassbox
