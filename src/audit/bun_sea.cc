// Bun single-file executables (`bun build --compile`).
//
// Bun serialises its "standalone module graph" as
//   [payload: strings and the module table][Offsets]["\n---- Bun! ----\n"]
// and stores it either in a section (`.bun` in ELF and PE, `__BUN,__bun` in
// Mach-O; the section starts with a u64 length) or, in older releases,
// appended to the end of the executable. Offsets starts with
// { u64 byte_count; u32 modules_off, modules_len; u32 entry_point_id; ... }
// (24 bytes in older releases, 32 since exec-argv and flags were added), and
// every string is a {u32 offset, u32 length} pointer into the payload. A
// module table entry is k such pointers (name, contents, sourcemap, bytecode,
// and more in newer releases) followed by u8 encoding, u8 loader, u8 module
// format, u8 side. Bun 1.0 and 1.1.0 wrote 32-byte entries of three pointers
// and the loader alone, then seven bytes of padding that are not zeroed (they
// hold whatever the writer's memory held). Both sizes vary between releases,
// so the reader finds
// every trailer occurrence (the runtime itself contains the trailer string as
// a constant), and accepts the first whose Offsets and table validate
// completely for some entry size.
#include <fmt/format.h>

#include <cstring>
#include <string>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

constexpr std::string_view kTrailer = "\n---- Bun! ----\n";

struct Pointer {
  std::uint32_t offset = 0, length = 0;
};

struct Graph {
  std::uint64_t payload_start = 0;  // file offset where string pointers start
  std::uint64_t byte_count = 0;
  std::uint32_t modules_off = 0, modules_len = 0, entry_point = 0;
  std::uint32_t entry_size = 0;
  bool loader_only = false;  // Bun 1.0/1.1.0 entries: no encoding byte
};

// Bun 1.0/1.1.0: three pointers, the loader, seven bytes of padding.
constexpr std::uint32_t kLoaderOnlyEntry = 32;

// Bun's options.Loader, by value; the ones whose contents are text.
const char* LoaderName(unsigned v) {
  static constexpr const char* kNames[] = {
      "jsx",  "js",   "ts",     "tsx",     "css",  "file",  "json",   "jsonc",           "toml",
      "wasm", "napi", "base64", "dataurl", "text", "bunsh", "sqlite", "sqlite_embedded", "html",
      "yaml"};
  return v < std::size(kNames) ? kNames[v] : "unknown";
}
bool LoaderIsText(unsigned v) {
  switch (v) {
    case 5:
    case 9:
    case 10:
    case 15:
    case 16:
      return false;  // file, wasm, napi, sqlite*
    default:
      return true;
  }
}

// zstd or gzip magic.
bool IsCompressed(std::string_view b) {
  return (b.size() >= 4 && b.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) ||
         (b.size() >= 3 && b.substr(0, 3) == std::string_view("\x1f\x8b\x08", 3));
}

bool InPayload(const Graph& g, Pointer p) {
  return std::uint64_t{p.offset} + p.length <= g.byte_count;
}

Pointer PointerAt(std::string_view file, std::uint64_t at) {
  return {ReadU32(file, at).value_or(0), ReadU32(file, at + 4).value_or(0)};
}

bool PrintableName(std::string_view name) {
  if (name.empty() || name.size() > 4096) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// An entry of `size` bytes is k {offset, length} pointers, then at least two
// enum bytes (encoding, loader), then padding: 28 and 32 bytes hold 3
// pointers (Bun 1.0/1.1 pad to 8), 36 and 40 hold 4, 52 holds 6.
std::uint32_t PointerCount(std::uint32_t size) { return (size - 2) / 8; }

// Validates a module table of entries of `size` bytes (with
// g.loader_only, of the Bun 1.0/1.1.0 form).
bool TableValid(std::string_view file, const Graph& g, std::uint32_t size, Budget* budget,
                Unpacked* out) {
  if (size < 28 || size % 4 != 0 || g.modules_len % size != 0) return false;
  if (g.loader_only && size != kLoaderOnlyEntry) return false;
  std::uint32_t count = g.modules_len / size;
  if (count == 0 || g.entry_point >= count) return false;
  std::uint32_t k = PointerCount(size);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (budget->OutOfTime("bun-sea", out)) return false;
    std::uint64_t at = g.payload_start + g.modules_off + std::uint64_t{i} * size;
    for (std::uint32_t j = 0; j < k; ++j) {
      if (!InPayload(g, PointerAt(file, at + 8 * j))) return false;
    }
    Pointer name = PointerAt(file, at);
    if (!PrintableName(file.substr(g.payload_start + name.offset, name.length))) return false;
    if (g.loader_only) {
      if (static_cast<unsigned char>(file[at + 8 * k]) > 40) return false;
      continue;
    }
    auto encoding = static_cast<unsigned char>(file[at + 8 * k]);
    auto loader = static_cast<unsigned char>(file[at + 8 * k + 1]);
    if (encoding > 2 || loader > 40) return false;
  }
  return true;
}

// Tries the graph whose trailer starts at `trailer_at`.
std::optional<Graph> GraphAt(std::string_view file, std::uint64_t trailer_at, Budget* budget,
                             Unpacked* out) {
  for (std::uint64_t offsets_size : {32u, 24u}) {
    if (trailer_at < offsets_size) continue;
    std::uint64_t o = trailer_at - offsets_size;
    Graph g;
    g.byte_count = ReadU64(file, o).value_or(~std::uint64_t{0});
    g.modules_off = ReadU32(file, o + 8).value_or(0);
    g.modules_len = ReadU32(file, o + 12).value_or(0);
    g.entry_point = ReadU32(file, o + 16).value_or(0);
    if (g.byte_count > o || g.byte_count > 0xffffffffu || g.modules_len == 0) continue;
    if (std::uint64_t{g.modules_off} + g.modules_len > g.byte_count) continue;
    g.payload_start = o - g.byte_count;
    // 32-byte entries with three pointers are Bun 1.0/1.1.0's (a later
    // release with an encoding byte would need 26 bytes, aligned to 28).
    if (offsets_size == 24) {
      g.loader_only = true;
      if (TableValid(file, g, kLoaderOnlyEntry, budget, out)) {
        g.entry_size = kLoaderOnlyEntry;
        return g;
      }
      g.loader_only = false;
    }
    for (std::uint32_t size : {52u, 44u, 36u, 28u, 32u, 40u, 48u, 60u, 68u}) {
      if (TableValid(file, g, size, budget, out)) {
        g.entry_size = size;
        return g;
      }
    }
  }
  return std::nullopt;
}

void ReadGraph(std::string_view file, const Graph& g, Budget* budget, Unpacked* out) {
  std::uint32_t count = g.modules_len / g.entry_size;
  std::uint32_t k = PointerCount(g.entry_size);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (budget->OutOfTime("bun-sea", out)) return;
    std::uint64_t at = g.payload_start + g.modules_off + std::uint64_t{i} * g.entry_size;
    Pointer name = PointerAt(file, at), contents = PointerAt(file, at + 8);
    Pointer sourcemap = PointerAt(file, at + 16);
    Pointer bytecode = k >= 4 ? PointerAt(file, at + 24) : Pointer{};
    // Bun 1.0/1.1.0 wrote no encoding (the bytes decide) and numbered its
    // loaders like today's only up to json (6); later ones are judged by
    // their bytes.
    const unsigned char kNoEncoding = 0xff;
    auto encoding = g.loader_only ? kNoEncoding : static_cast<unsigned char>(file[at + 8 * k]);
    auto loader = static_cast<unsigned char>(file[at + 8 * k + (g.loader_only ? 0 : 1)]);
    const bool old_loader =
        g.loader_only && loader > 6;  // read like a file asset: text if it looks like text
    const std::string_view loader_name =
        old_loader ? std::string_view("unknown") : LoaderName(loader);
    const bool file_like = old_loader || loader_name == "file";
    std::string path(file.substr(g.payload_start + name.offset, name.length));
    std::string_view stored = file.substr(g.payload_start + contents.offset, contents.length);
    std::uint64_t offset = g.payload_start + contents.offset;
    if (old_loader || !LoaderIsText(loader)) {
      // Assets embedded as files are often text (scripts, prompts, skills),
      // sometimes compressed by the packager: read those, name the rest.
      if (file_like && IsCompressed(stored)) {
        std::string error;
        auto plain = Decompress(stored, budget->limits().max_entry_bytes, &error);
        if (plain && LooksLikeText(*plain)) {
          Module* m = nullptr;
          if (AddModule(path, *plain, GuessEncoding(*plain), offset, "bun-sea", budget, out, &m)) {
            m->stored_bytes = stored.size();  // the compressed bytes in the file
          }
          continue;
        }
        out->notes.push_back(
            fmt::format("bun-sea: module {} '{}' is compressed and could not be read: {}", i, path,
                        plain ? "not text" : error));
        continue;
      }
      if (file_like && LooksLikeText(stored)) {
        AddModule(path, stored, GuessEncoding(stored), offset, "bun-sea", budget, out);
        continue;
      }
      out->notes.push_back(
          fmt::format("bun-sea: module {} '{}' is binary (loader {}, {} bytes at offset {}); "
                      "not read as text",
                      i, path, loader_name, stored.size(), offset));
      continue;
    }
    if (stored.empty() && bytecode.length > 0) {
      out->notes.push_back(
          fmt::format("bun-sea: module {} '{}' ships bytecode only ({} bytes); "
                      "its source is not in the file",
                      i, path, bytecode.length));
      continue;
    }
    std::string enc;
    if (GuessEncoding(stored) == "utf16le") {
      enc = "utf16le";
    } else if (encoding == 2) {
      enc = "utf8";
    } else if (encoding == 1) {
      enc = "latin1";
    } else {
      enc = GuessEncoding(stored);  // "binary" with a text loader: look at the bytes
    }
    Module* m = nullptr;
    if (!AddModule(path, stored, enc, offset, "bun-sea", budget, out, &m)) continue;
    m->has_bytecode = bytecode.length > 0;
    m->has_sourcemap = sourcemap.length > 0;
    m->entry_point = i == g.entry_point;
  }
}

}  // namespace

bool ReadBunSea(std::string_view file, Budget* budget, Unpacked* out) {
  // The section layout first: the section holds the whole serialisation.
  std::optional<FileSpan> section = FindSection(file, "__BUN", "__bun");
  if (!section) section = FindSection(file, "", ".bun");
  if (section && section->size > kTrailer.size()) {
    std::string_view body = file.substr(section->offset, section->size);
    size_t t = body.rfind(kTrailer);
    if (t != std::string_view::npos) {
      if (auto g = GraphAt(file, section->offset + t, budget, out)) {
        out->layout = "section";
        ReadGraph(file, *g, budget, out);
        return true;
      }
    }
  }
  // Trailer layout (or a section the header walk could not find): every
  // trailer occurrence, last first.
  // The real trailer is the last one: keep the last kMaxTrailers occurrences
  // (decoys before it cannot push it out), and validate those within the
  // time budget.
  constexpr size_t kMaxTrailers = 4096;
  std::vector<std::uint64_t> hits;
  std::uint64_t total_hits = 0;
  const char* base = file.data();
  size_t from = 0;
  while (from < file.size()) {
    const void* p = memmem(base + from, file.size() - from, kTrailer.data(), kTrailer.size());
    if (p == nullptr) break;
    std::uint64_t at = static_cast<const char*>(p) - base;
    if (hits.size() == 2 * kMaxTrailers) hits.erase(hits.begin(), hits.begin() + kMaxTrailers);
    hits.push_back(at);
    ++total_hits;
    from = at + 1;
  }
  if (hits.size() > kMaxTrailers) hits.erase(hits.begin(), hits.end() - kMaxTrailers);
  if (total_hits > kMaxTrailers) {
    out->notes.push_back(
        fmt::format("limit: bun-sea: {} Bun trailer strings; only the last {} were tried",
                    total_hits, kMaxTrailers));
  }
  for (auto it = hits.rbegin(); it != hits.rend(); ++it) {
    if (budget->OutOfTime("bun-sea", out)) break;
    if (auto g = GraphAt(file, *it, budget, out)) {
      bool in_section = section && *it >= section->offset && *it < section->offset + section->size;
      out->layout = in_section ? "section" : "trailer";
      ReadGraph(file, *g, budget, out);
      return true;
    }
  }
  if (section) {
    out->notes.push_back(
        fmt::format("bun-sea: a Bun section ({} bytes at offset {}) holds no module graph "
                    "audit can read",
                    section->size, section->offset));
  }
  return false;
}

}  // namespace glassbox::audit::internal
