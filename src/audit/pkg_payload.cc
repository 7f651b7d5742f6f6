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
#include <string>

#include "audit/internal/unpack_internal.h"

namespace glassbox::audit::internal {
namespace {

namespace json = boost::json;

// One brotli stream, decompressed up to max_bytes; nullopt with *error when it
// is damaged, truncated, followed by other bytes, or larger.
std::optional<std::string> BrotliDecompress(std::string_view in, std::uint64_t max_bytes, std::string* error) {
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
    const BrotliDecoderResult r =
        BrotliDecoderDecompressStream(state.get(), &avail_in, &next_in, &avail_out, &next_out, nullptr);
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
        *error = std::string("brotli: ") + BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state.get()));
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
  while (!prelude.empty() && (prelude.back() == '\n' || prelude.back() == ' ' || prelude.back() == ';')) {
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
  while (!t.compress.empty() && (t.compress.back() == '\n' || t.compress.back() == ' ')) t.compress.remove_suffix(1);
  return t;
}

// [offset, length] of a store, checked against the payload.
std::optional<std::pair<std::uint64_t, std::uint64_t>> Store(const json::object& stores, const char* key,
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

}  // namespace

bool ReadPkgPayload(std::string_view file, Budget* budget, Unpacked* out) {
  auto payload_pos = Placeholder(file, "PAYLOAD_POSITION");
  if (!payload_pos) return false;  // one scan of a file that is not pkg's
  auto payload_size = Placeholder(file, "PAYLOAD_SIZE");
  auto prelude_pos = Placeholder(file, "PRELUDE_POSITION");
  auto prelude_size = Placeholder(file, "PRELUDE_SIZE");
  if (!payload_pos || !payload_size || !prelude_pos || !prelude_size) return false;
  if (*payload_pos > file.size() || *payload_size > file.size() - *payload_pos || *prelude_pos > file.size() ||
      *prelude_size > file.size() - *prelude_pos || *prelude_size == 0) {
    out->notes.push_back("pkg: payload placeholders found but they point outside the file; not read");
    return true;
  }
  out->layout = "payload";
  std::string_view prelude = file.substr(*prelude_pos, *prelude_size);
  auto tail = SplitPrelude(prelude);
  if (!tail) {
    out->notes.push_back("pkg: the prelude does not end in a virtual file system table; not read");
    return true;
  }
  boost::system::error_code ec;
  json::value vfs = json::parse(tail->vfs, ec);
  if (ec || !vfs.is_object()) {
    out->notes.push_back(
        fmt::format("pkg: the virtual file system table cannot be parsed: {}", ec ? ec.message() : "not an object"));
    return true;
  }
  // pkg's compression: 0 (or absent) none, 1 gzip, 2 brotli.
  const std::string compress(tail->compress);
  if (compress != "0" && compress != "1" && compress != "2" && !compress.empty()) {
    out->notes.push_back(
        fmt::format("pkg: the payload uses compression mode '{}' (known: 0 none, 1 gzip, 2 brotli); its files "
                    "were not read",
                    compress.substr(0, 40)));
    return true;
  }
  const bool gzip = compress == "1", brotli = compress == "2";
  std::string entry;
  if (json::value e = json::parse(tail->entrypoint, ec); !ec && e.is_string()) entry = std::string(e.as_string());
  // The dictionary maps path segments to short keys when paths are
  // compressed; reverse it to show real paths.
  std::map<std::string, std::string> segment_of;
  if (json::value d = json::parse(tail->dict, ec); !ec && d.is_object()) {
    for (const auto& [k, v] : d.as_object()) {
      if (v.is_string()) segment_of[std::string(v.as_string())] = std::string(k);
    }
  }
  auto real_path = [&](std::string_view key) {
    if (segment_of.empty()) return std::string(key);
    std::string path;
    size_t at = 0;
    while (at <= key.size()) {
      size_t end = std::min(key.find_first_of("/\\", at), key.size());
      std::string seg(key.substr(at, end - at));
      auto it = segment_of.find(seg);
      path += it == segment_of.end() ? seg : it->second;
      if (end < key.size()) path += key[end];
      at = end + 1;
    }
    return path;
  };
  std::size_t bytecode_only = 0;
  for (const auto& [key, value] : vfs.as_object()) {
    if (budget->OutOfTime("pkg", out)) break;
    std::string path = real_path(key);
    if (!value.is_object()) {
      out->notes.push_back(fmt::format("pkg: entry '{}' is not a store table; not read", path));
      continue;
    }
    const json::object& stores = value.as_object();
    auto content = Store(stores, "1", *payload_size);
    auto blob = Store(stores, "0", *payload_size);
    if (stores.contains("1") && !content) {
      out->notes.push_back(fmt::format("pkg: '{}' has a content range outside the payload; not read", path));
      continue;
    }
    if (!content) {
      if (blob) ++bytecode_only;
      continue;  // directories and stat-only entries hold no source
    }
    std::string_view bytes = file.substr(*payload_pos + content->first, content->second);
    std::string plain;  // the decompressed file, when the payload is compressed
    if (gzip || brotli) {
      std::string error;
      const std::uint64_t max = budget->limits().max_entry_bytes;
      auto decompressed = gzip ? Decompress(bytes, max, &error) : BrotliDecompress(bytes, max, &error);
      if (!decompressed) {
        out->notes.push_back(fmt::format("pkg: '{}' ({} compressed bytes) could not be decompressed: {}", path,
                                         bytes.size(), error));
        continue;
      }
      plain = std::move(*decompressed);
      bytes = plain;
    }
    if (!LooksLikeText(bytes)) {
      if (!RuntimeLoads(path)) {
        out->notes.push_back(fmt::format("pkg: '{}' is binary ({} bytes); not read", path, bytes.size()));
        continue;
      }
      out->notes.push_back(fmt::format("pkg: '{}' holds NUL or control bytes; read as JavaScript all the same", path));
    }
    Module* m = nullptr;
    if (AddModule(path, bytes, GuessEncoding(bytes), *payload_pos + content->first, "pkg", budget, out, &m)) {
      if (gzip || brotli) m->stored_bytes = content->second;  // the compressed bytes in the file
      m->has_bytecode = blob.has_value();
      m->entry_point = !entry.empty() && (path == entry || key == entry);
    }
  }
  if (bytecode_only > 0) {
    out->notes.push_back(
        fmt::format("pkg: {} files are stored as V8 bytecode only (no source); not read", bytecode_only));
  }
  return true;
}

}  // namespace glassbox::audit::internal
