// `deno compile` executables. The payload sits between two "d3n0l4nd"
// magics and is found by structure in three layouts:
//  - note (Deno 2 on Linux, via libsui): an ELF note named "SUI" whose
//    descriptor is u16 name length, the name "d3n0l4nd", then the payload;
//  - section (Deno 2 on macOS and Windows): a section named d3n0l4nd
//    (Mach-O __SUI,__d3n0l4nd, PE d3n0l4nd);
//  - trailer (Deno 1.x): the file ends with "d3n0l4nd", u64 big-endian eszip
//    position, u64 big-endian metadata position.
// Inside a Deno 2 payload, the metadata JSON comes first (u64 length + JSON)
// and the virtual file system later: u64 length + a JSON array of
// {"Dir":{"n":name,"e":[...]}} and {"File":{"n":name,"o":[offset,length],
// "m":[...] (transpiled JavaScript), "s":[...] (source map)}} entries, then
// u64 length + the files' bytes. The reader finds the VFS table by its shape
// (a length-prefixed JSON array of Dir/File entries whose ranges fit the data
// that follows) and returns each file by its path; the transpiled JavaScript
// is returned when present, since it is what runs. When no table is found
// (Deno 1.x eszip, or a format change), every run of text of at least
// kMinRun bytes becomes a module named "deno:<offset>", and a note says so.
// The runtime itself contains the magic string, so a bare magic without one
// of the layouts above is not taken for a payload.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstring>
#include <string>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

namespace json = boost::json;

constexpr std::string_view kMarker = "d3n0l4nd";
constexpr std::size_t kMinRun = 64;
constexpr int kMaxDepth = 100;

std::uint64_t ReadBe64(std::string_view b, std::uint64_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

// A byte that may appear in source text: printable ASCII, whitespace, or
// any byte of a multi-byte UTF-8 sequence (checked when converting).
bool TextByte(unsigned char c) {
  return (c >= 0x20 && c != 0x7f) || c == '\n' || c == '\r' || c == '\t';
}

void ReadTextRuns(std::string_view file, std::uint64_t begin, std::uint64_t end, Budget* budget,
                  Unpacked* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(file.data());
  std::size_t runs = 0;
  for (std::uint64_t i = begin; i < end;) {
    if (!TextByte(p[i])) {
      ++i;
      continue;
    }
    std::uint64_t start = i;
    while (i < end && TextByte(p[i])) ++i;
    if (i - start < kMinRun) continue;
    std::string_view run = file.substr(start, i - start);
    if (!AddModule(fmt::format("deno:{}", start), run, GuessEncoding(run), start, "deno", budget,
                   out))
      break;
    ++runs;
  }
  out->notes.push_back(
      fmt::format("deno: no file table found; {} text runs of at least {} bytes between offsets "
                  "{} and {} are returned as modules without names",
                  runs, kMinRun, begin, end));
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Range(const json::object& o,
                                                             const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array() || v->as_array().size() != 2) return std::nullopt;
  const json::array& a = v->as_array();
  auto num = [](const json::value& x) -> std::optional<std::uint64_t> {
    if (x.is_uint64()) return x.get_uint64();
    if (x.is_int64() && x.get_int64() >= 0) return static_cast<std::uint64_t>(x.get_int64());
    return std::nullopt;
  };
  auto off = num(a[0]), len = num(a[1]);
  if (!off || !len) return std::nullopt;
  return std::make_pair(*off, *len);
}

struct Vfs {
  std::string_view file;
  std::uint64_t data_start = 0, data_size = 0;
  Budget* budget;
  Unpacked* out;
  std::size_t files = 0;

  void Walk(const json::array& entries, const std::string& dir, int depth) {
    if (depth > kMaxDepth) {
      out->notes.push_back(fmt::format(
          "deno: directory '{}' nested deeper than {} levels; not read", dir, kMaxDepth));
      return;
    }
    for (const json::value& e : entries) {
      if (budget->OutOfTime("deno", out)) return;
      if (!e.is_object()) continue;
      const json::object& o = e.as_object();
      if (const json::value* d = o.if_contains("Dir"); d && d->is_object()) {
        const json::value* name = d->as_object().if_contains("n");
        const json::value* sub = d->as_object().if_contains("e");
        if (name && name->is_string() && sub && sub->is_array()) {
          Walk(sub->as_array(), dir + "/" + std::string(name->as_string()), depth + 1);
        }
      } else if (const json::value* f = o.if_contains("File"); f && f->is_object()) {
        ReadFile(f->as_object(), dir);
      } else if (const json::value* l = o.if_contains("Symlink"); l && l->is_object()) {
        const json::value* name = l->as_object().if_contains("n");
        out->notes.push_back(
            fmt::format("deno: symlink in the embedded file system not followed: {}/{}", dir,
                        name && name->is_string() ? std::string(name->as_string()) : "?"));
      }
    }
  }

  void ReadFile(const json::object& f, const std::string& dir) {
    const json::value* name = f.if_contains("n");
    if (name == nullptr || !name->is_string()) return;
    std::string path = "deno:" + dir + "/" + std::string(name->as_string());
    if (++files > budget->limits().max_entries) return;
    // The transpiled module ("m") is what runs; the original ("o") otherwise.
    auto range = Range(f, "m");
    bool transpiled = range.has_value();
    if (!range) range = Range(f, "o");
    if (!range || range->first > data_size || range->second > data_size - range->first) {
      out->notes.push_back(
          fmt::format("deno: '{}' has a range outside the embedded data; not read", path));
      return;
    }
    std::string_view bytes = file.substr(data_start + range->first, range->second);
    if (!LooksLikeText(bytes)) {
      if (!RuntimeLoads(path)) {
        out->notes.push_back(
            fmt::format("deno: '{}' is binary ({} bytes); not read", path, bytes.size()));
        return;
      }
      out->notes.push_back(fmt::format(
          "deno: '{}' holds NUL or control bytes; read as JavaScript all the same", path));
    }
    Module* m = nullptr;
    if (AddModule(path, bytes, GuessEncoding(bytes), data_start + range->first, "deno", budget, out,
                  &m)) {
      m->has_sourcemap = f.contains("s");
      if (transpiled) m->path += " (transpiled)";
    }
  }
};

// Looks for the VFS table in [begin, end): a u64 length, then a JSON array
// of Dir/File entries, then u64 length + data. Reads it and returns true.
bool ReadVfs(std::string_view file, std::uint64_t begin, std::uint64_t end, Budget* budget,
             Unpacked* out) {
  for (std::string_view start : {std::string_view("[{\"Dir\""), std::string_view("[{\"File\"")}) {
    std::uint64_t from = begin + 8;
    for (int tries = 0; tries < 1000 && from < end; ++tries) {
      if (budget->OutOfTime("deno", out)) return false;
      const void* hit = memmem(file.data() + from, end - from, start.data(), start.size());
      if (hit == nullptr) break;
      std::uint64_t at = static_cast<const char*>(hit) - file.data();
      from = at + 1;
      std::uint64_t len = ReadU64(file, at - 8).value_or(~std::uint64_t{0});
      if (len > end - at || end - at - len < 8) continue;
      std::uint64_t data_len = ReadU64(file, at + len).value_or(~std::uint64_t{0});
      std::uint64_t data_start = at + len + 8;
      if (data_len > end - data_start) continue;
      boost::system::error_code ec;
      json::parse_options opts;
      opts.max_depth = 2 * kMaxDepth + 8;
      json::value table = json::parse(file.substr(at, len), ec, {}, opts);
      if (ec || !table.is_array()) continue;
      // The metadata (u64 length + JSON object right after the first magic)
      // says how the program runs: keep it as a module too.
      std::uint64_t meta_len = ReadU64(file, begin).value_or(0);
      if (meta_len > 0 && meta_len <= at - begin - 8 && file[begin + 8] == '{') {
        AddModule("deno:metadata.json", file.substr(begin + 8, meta_len), "utf8", begin + 8, "deno",
                  budget, out);
      }
      Vfs vfs{file, data_start, data_len, budget, out};
      vfs.Walk(table.as_array(), "", 0);
      return true;
    }
  }
  return false;
}

// The payload [begin, end) of a Deno 2 binary: after the first magic.
bool ReadPayload(std::string_view file, std::uint64_t begin, std::uint64_t end, Budget* budget,
                 Unpacked* out) {
  if (end - begin < kMarker.size() || file.substr(begin, kMarker.size()) != kMarker) return false;
  begin += kMarker.size();
  if (!ReadVfs(file, begin, end, budget, out)) ReadTextRuns(file, begin, end, budget, out);
  return true;
}

}  // namespace

bool ReadDenoPayload(std::string_view file, Budget* budget, Unpacked* out) {
  // Deno 2 on Linux: the "SUI" note; its descriptor names the section.
  for (const FileSpan& note : FindElfNotes(file, "SUI")) {
    auto name_len = ReadU32(file, note.offset).value_or(0) & 0xffff;
    std::uint64_t payload = note.offset + 2 + name_len;
    if (name_len != kMarker.size() || note.size < 2 + name_len ||
        file.substr(note.offset + 2, name_len) != kMarker) {
      continue;
    }
    if (ReadPayload(file, payload, note.offset + note.size, budget, out)) {
      out->layout = "note";
      return true;
    }
  }
  std::optional<FileSpan> section = FindSection(file, "__SUI", "__d3n0l4nd");
  if (!section) section = FindSection(file, "", kMarker);
  if (section && ReadPayload(file, section->offset, section->offset + section->size, budget, out)) {
    out->layout = "section";
    return true;
  }
  if (file.size() >= 24 && file.substr(file.size() - 24, 8) == kMarker) {
    std::uint64_t eszip = ReadBe64(file, file.size() - 16);
    std::uint64_t metadata = ReadBe64(file, file.size() - 8);
    if (eszip <= metadata && metadata <= file.size() - 24) {
      out->layout = "trailer";
      ReadTextRuns(file, eszip, metadata, budget, out);
      return true;
    }
  }
  return false;
}

}  // namespace glassbox::audit::internal
