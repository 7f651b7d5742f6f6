// vercel/pkg (and yao-pkg) executables: a patched Node.js whose bootstrap
// carries four placeholders that pkg overwrites, in place and padded with
// spaces, with decimal numbers:
//   var PAYLOAD_POSITION = '1234      ' | 0;  (likewise PAYLOAD_SIZE,
//   PRELUDE_POSITION, PRELUDE_SIZE)
// The prelude is JavaScript ending in the virtual file system's arguments:
//   ...\n},\n<VFS JSON>\n,\n<entrypoint JSON>\n,\n<symlinks>\n,\n<dict>\n,\n<compress>\n);
// The VFS maps each snapshot path to stores: "0" compiled V8 script
// (bytecode), "1" source content, "2" directory links, "3" stat, each
// [offset, length] relative to PAYLOAD_POSITION. The reader finds the
// placeholders by their assignment text, checks every range against the
// file, and reads the sources; bytecode-only files are named in a note.
// With `pkg --compress`, every stored file is its own stream: mode 1 gzip,
// mode 2 brotli, each decompressed in memory up to the entry limit.
#include <brotli/decode.h>
#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "audit/internal/unpack_internal.h"

namespace glassbox::audit::internal {
namespace {

namespace json = boost::json;

// One brotli stream, decompressed up to max_bytes; nullopt with *error when it
// is damaged, truncated, followed by other bytes, or larger.
std::optional<std::string> BrotliDecompress(std::string_view in, std::uint64_t max_bytes,
                                            std::string* error) {
  std::unique_ptr<BrotliDecoderState, decltype(&BrotliDecoderDestroyInstance)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) {
    *error = "brotli: out of memory";
    return std::nullopt;
  }
  std::string out;
  size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::uint8_t buf[1 << 16];
  while (true) {
    size_t avail_out = sizeof buf;
    std::uint8_t* next_out = buf;
    const BrotliDecoderResult r = BrotliDecoderDecompressStream(state.get(), &avail_in, &next_in,
                                                                &avail_out, &next_out, nullptr);
    const size_t produced = sizeof buf - avail_out;
    if (out.size() + produced > max_bytes) {
      *error = fmt::format("decompresses to more than {} bytes", max_bytes);
      return std::nullopt;
    }
    out.append(reinterpret_cast<const char*>(buf), produced);
    switch (r) {
      case BROTLI_DECODER_RESULT_SUCCESS:
        if (avail_in != 0) {
          *error = fmt::format("{} bytes follow the brotli stream", avail_in);
          return std::nullopt;
        }
        return out;
      case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        continue;
      case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        *error = "the brotli stream is truncated";
        return std::nullopt;
      case BROTLI_DECODER_RESULT_ERROR:
      default:
        *error = std::string("brotli: ") +
                 BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state.get()));
        return std::nullopt;
    }
  }
}

// Finds `NAME = '<digits><spaces>'` and returns the number.
std::optional<std::uint64_t> Placeholder(std::string_view file, std::string_view name) {
  std::string needle = fmt::format("{} = '", name);
  size_t from = 0;
  for (int tries = 0; tries < 64 && from < file.size(); ++tries) {
    const void* p = memmem(file.data() + from, file.size() - from, needle.data(), needle.size());
    if (p == nullptr) return std::nullopt;
    size_t at = static_cast<const char*>(p) - file.data() + needle.size();
    std::uint64_t value = 0;
    auto r = std::from_chars(file.data() + at, file.data() + std::min(file.size(), at + 24), value);
    if (r.ec == std::errc() && r.ptr != file.data() + at) {
      size_t end = r.ptr - file.data();
      while (end < file.size() && file[end] == ' ') ++end;
      if (end < file.size() && file[end] == '\'') return value;
    }
    from = at;
  }
  return std::nullopt;
}

// Splits the prelude's tail into the VFS, entrypoint, dict and compression.
struct PreludeTail {
  std::string_view vfs, entrypoint, dict, compress;
};

std::optional<PreludeTail> SplitPrelude(std::string_view prelude) {
  while (!prelude.empty() &&
         (prelude.back() == '\n' || prelude.back() == ' ' || prelude.back() == ';')) {
    prelude.remove_suffix(1);
  }
  if (prelude.empty() || prelude.back() != ')') return std::nullopt;
  prelude.remove_suffix(1);
  std::string_view parts[4];
  for (int i = 3; i >= 0; --i) {
    size_t sep = prelude.rfind("\n,\n");
    if (sep == std::string_view::npos) return std::nullopt;
    parts[i] = prelude.substr(sep + 3);
    prelude = prelude.substr(0, sep);
  }
  size_t vfs = prelude.rfind("\n},\n");
  if (vfs == std::string_view::npos) return std::nullopt;
  PreludeTail t;
  t.vfs = prelude.substr(vfs + 4);
  t.entrypoint = parts[0];
  t.dict = parts[2];
  t.compress = parts[3];
  while (!t.compress.empty() && (t.compress.back() == '\n' || t.compress.back() == ' '))
    t.compress.remove_suffix(1);
  return t;
}

// [offset, length] of a store, checked against the payload.
std::optional<std::pair<std::uint64_t, std::uint64_t>> Store(const json::object& stores,
                                                             const char* key,
                                                             std::uint64_t payload_size) {
  const json::value* v = stores.if_contains(key);
  if (v == nullptr || !v->is_array() || v->as_array().size() != 2) return std::nullopt;
  const json::array& a = v->as_array();
  auto num = [](const json::value& x) -> std::optional<std::uint64_t> {
    if (x.is_uint64()) return x.get_uint64();
    if (x.is_int64() && x.get_int64() >= 0) return static_cast<std::uint64_t>(x.get_int64());
    return std::nullopt;
  };
  auto off = num(a[0]), len = num(a[1]);
  if (!off || !len || *off > payload_size || *len > payload_size - *off) return std::nullopt;
  return std::make_pair(*off, *len);
}

// The four placeholders of pkg's bootstrap.
struct Placeholders {
  std::uint64_t payload_pos = 0, payload_size = 0, prelude_pos = 0, prelude_size = 0;

  bool FitIn(std::uint64_t file_size) const {
    return payload_pos <= file_size && payload_size <= file_size - payload_pos &&
           prelude_pos <= file_size && prelude_size <= file_size - prelude_pos && prelude_size != 0;
  }
};

std::optional<Placeholders> FindPlaceholders(std::string_view file) {
  auto payload_pos = Placeholder(file, "PAYLOAD_POSITION");
  if (!payload_pos) return std::nullopt;  // one scan of a file that is not pkg's
  auto payload_size = Placeholder(file, "PAYLOAD_SIZE");
  auto prelude_pos = Placeholder(file, "PRELUDE_POSITION");
  auto prelude_size = Placeholder(file, "PRELUDE_SIZE");
  if (!payload_size || !prelude_pos || !prelude_size) return std::nullopt;
  return Placeholders{*payload_pos, *payload_size, *prelude_pos, *prelude_size};
}

// pkg's compression: 0 (or absent) none, 1 gzip, 2 brotli; nullopt for another mode.
enum class Compression : std::uint8_t { kNone, kGzip, kBrotli };
std::optional<Compression> CompressionOf(const std::string& mode) {
  if (mode.empty() || mode == "0") return Compression::kNone;
  if (mode == "1") return Compression::kGzip;
  if (mode == "2") return Compression::kBrotli;
  return std::nullopt;
}

// The entry point's snapshot path; empty when the prelude does not give one.
std::string EntryPoint(std::string_view text) {
  boost::system::error_code ec;
  json::value e = json::parse(text, ec);
  return !ec && e.is_string() ? std::string(e.as_string()) : std::string();
}

// The dictionary maps path segments to short keys when paths are compressed;
// reversed (key -> segment) to show real paths. Empty when paths are not compressed.
std::map<std::string, std::string> SegmentsByKey(std::string_view text) {
  std::map<std::string, std::string> segment_of;
  boost::system::error_code ec;
  json::value d = json::parse(text, ec);
  if (ec || !d.is_object()) return segment_of;
  for (const json::key_value_pair& kv : d.as_object()) {
    if (kv.value().is_string())
      segment_of[std::string(kv.value().as_string())] = std::string(kv.key());
  }
  return segment_of;
}

// Reads the files of the virtual file system table, one entry at a time.
class VfsReader {
 public:
  VfsReader(std::string_view file, const Placeholders& at, Compression compression,
            std::string entry, std::map<std::string, std::string> segment_of, Budget* budget,
            Unpacked* out)
      : file_(file),
        at_(at),
        compression_(compression),
        entry_(std::move(entry)),
        segment_of_(std::move(segment_of)),
        budget_(*budget),
        out_(*out) {}

  void Read(const json::object& vfs) {
    for (const json::key_value_pair& kv : vfs) {
      if (budget_.OutOfTime("pkg", &out_)) break;
      ReadEntry(kv.key(), kv.value());
    }
    if (bytecode_only_ > 0) {
      out_.notes.push_back(fmt::format(
          "pkg: {} files are stored as V8 bytecode only (no source); not read", bytecode_only_));
    }
  }

 private:
  // The real path of a VFS key whose segments may be dictionary keys.
  std::string RealPath(std::string_view key) const {
    if (segment_of_.empty()) return std::string(key);
    std::string path;
    size_t at = 0;
    while (at <= key.size()) {
      size_t end = std::min(key.find_first_of("/\\", at), key.size());
      std::string seg(key.substr(at, end - at));
      auto it = segment_of_.find(seg);
      path += it == segment_of_.end() ? seg : it->second;
      if (end < key.size()) path += key[end];
      at = end + 1;
    }
    return path;
  }

  void ReadEntry(json::string_view key, const json::value& value) {
    const std::string path = RealPath(std::string_view(key.data(), key.size()));
    if (!value.is_object()) {
      out_.notes.push_back(fmt::format("pkg: entry '{}' is not a store table; not read", path));
      return;
    }
    const json::object& stores = value.as_object();
    auto content = Store(stores, "1", at_.payload_size);
    auto blob = Store(stores, "0", at_.payload_size);
    if (stores.contains("1") && !content) {
      out_.notes.push_back(
          fmt::format("pkg: '{}' has a content range outside the payload; not read", path));
      return;
    }
    if (!content) {
      if (blob) ++bytecode_only_;
      return;  // directories and stat-only entries hold no source
    }
    std::string plain;  // the decompressed file, when the payload is compressed
    std::optional<std::string_view> bytes = Source(path, *content, &plain);
    if (!bytes) return;
    Module* m = nullptr;
    if (AddModule(path, *bytes, GuessEncoding(*bytes), at_.payload_pos + content->first, "pkg",
                  &budget_, &out_, &m)) {
      if (compression_ != Compression::kNone)
        m->stored_bytes = content->second;  // the compressed bytes in the file
      m->has_bytecode = blob.has_value();
      m->entry_point = !entry_.empty() && (path == entry_ || key == entry_);
    }
  }

  // The source text of a content store, decompressed into *plain if need be; nullopt (noted) when
  // it cannot be decompressed or is binary that the runtime does not load as JavaScript.
  std::optional<std::string_view> Source(const std::string& path,
                                         std::pair<std::uint64_t, std::uint64_t> content,
                                         std::string* plain) {
    std::string_view bytes = file_.substr(at_.payload_pos + content.first, content.second);
    if (compression_ != Compression::kNone) {
      std::string error;
      const std::uint64_t max = budget_.limits().max_entry_bytes;
      auto decompressed = compression_ == Compression::kGzip ? Decompress(bytes, max, &error)
                                                             : BrotliDecompress(bytes, max, &error);
      if (!decompressed) {
        out_.notes.push_back(
            fmt::format("pkg: '{}' ({} compressed bytes) could not be decompressed: {}", path,
                        bytes.size(), error));
        return std::nullopt;
      }
      *plain = std::move(*decompressed);
      bytes = *plain;
    }
    if (!LooksLikeText(bytes)) {
      if (!RuntimeLoads(path)) {
        out_.notes.push_back(
            fmt::format("pkg: '{}' is binary ({} bytes); not read", path, bytes.size()));
        return std::nullopt;
      }
      out_.notes.push_back(fmt::format(
          "pkg: '{}' holds NUL or control bytes; read as JavaScript all the same", path));
    }
    return bytes;
  }

  std::string_view file_;
  const Placeholders& at_;
  Compression compression_;
  std::string entry_;
  std::map<std::string, std::string> segment_of_;
  Budget& budget_;
  Unpacked& out_;
  std::size_t bytecode_only_ = 0;
};

}  // namespace

bool ReadPkgPayload(std::string_view file, Budget* budget, Unpacked* out) {
  const std::optional<Placeholders> at = FindPlaceholders(file);
  if (!at) return false;
  if (!at->FitIn(file.size())) {
    out->notes.push_back(
        "pkg: payload placeholders found but they point outside the file; not read");
    return true;
  }
  out->layout = "payload";
  auto tail = SplitPrelude(file.substr(at->prelude_pos, at->prelude_size));
  if (!tail) {
    out->notes.push_back("pkg: the prelude does not end in a virtual file system table; not read");
    return true;
  }
  boost::system::error_code ec;
  json::value vfs = json::parse(tail->vfs, ec);
  if (ec || !vfs.is_object()) {
    out->notes.push_back(fmt::format("pkg: the virtual file system table cannot be parsed: {}",
                                     ec ? ec.message() : "not an object"));
    return true;
  }
  const std::string mode(tail->compress);
  const std::optional<Compression> compression = CompressionOf(mode);
  if (!compression) {
    out->notes.push_back(fmt::format(
        "pkg: the payload uses compression mode '{}' (known: 0 none, 1 gzip, 2 brotli); its files "
        "were not read",
        mode.substr(0, 40)));
    return true;
  }
  VfsReader(file, *at, *compression, EntryPoint(tail->entrypoint), SegmentsByKey(tail->dict),
            budget, out)
      .Read(vfs.as_object());
  return true;
}

}  // namespace glassbox::audit::internal
