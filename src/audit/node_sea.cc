// Node.js single executable applications (SEA).
//
// `postject` injects the preparation blob as a resource called NODE_SEA_BLOB:
// an ELF note of that name (in a PT_NOTE segment), the Mach-O section
// NODE_SEA,__NODE_SEA_BLOB, or a PE RCDATA resource. The blob is
//   u32 magic 0x0143da20, u32 flags,
//   [u64 length + code path]        (Node >= 20.12 / 21.x; absent before),
//   u64 length + main script or V8 snapshot (flag 1<<1),
//   [u64 length + V8 code cache]    (flag 1<<2),
//   [u64 count, then count x (u64 length + key, u64 length + value)] (assets, flag 1<<3).
// The reader looks in the note/section first; otherwise (PE resources, or a
// header it cannot walk) it tries every occurrence of the magic and keeps
// the first blob whose lengths all fit.
#include <fmt/format.h>

#include <cstring>
#include <string>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

constexpr std::uint32_t kMagic = 0x0143da20;
constexpr std::uint32_t kSnapshot = 1u << 1, kCodeCache = 1u << 2, kAssets = 1u << 3;
constexpr std::uint64_t kMaxAssets = 100000;

struct View {
  std::uint64_t offset = 0;  // in the file
  std::string_view bytes;
};

struct Blob {
  std::uint32_t flags = 0;
  std::string code_path;
  View main, code_cache;
  std::vector<std::pair<std::string, View>> assets;
};

// Reads u64 length + bytes at *at inside [begin, end).
std::optional<View> ReadStringView(std::string_view file, std::uint64_t* at, std::uint64_t end) {
  auto len = ReadU64(file, *at);
  if (!len || *at + 8 > end || *len > end - (*at + 8)) return std::nullopt;
  View v{*at + 8, file.substr(*at + 8, *len)};
  *at += 8 + *len;
  return v;
}

bool PrintablePath(std::string_view s) {
  if (s.empty() || s.size() > 4096) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::optional<Blob> ParseBlobVariant(std::string_view file, std::uint64_t start, std::uint64_t end,
                                     bool with_code_path) {
  if (ReadU32(file, start) != kMagic) return std::nullopt;
  Blob b;
  b.flags = ReadU32(file, start + 4).value_or(~0u);
  if (b.flags > 0xff) return std::nullopt;
  std::uint64_t at = start + 8;
  if (with_code_path) {
    auto path = ReadStringView(file, &at, end);
    if (!path || !PrintablePath(path->bytes)) return std::nullopt;
    b.code_path.assign(path->bytes);
  }
  auto main = ReadStringView(file, &at, end);
  if (!main || main->bytes.empty()) return std::nullopt;
  b.main = *main;
  if (b.flags & kCodeCache) {
    auto cache = ReadStringView(file, &at, end);
    if (!cache) return std::nullopt;
    b.code_cache = *cache;
  }
  if (b.flags & kAssets) {
    auto count = ReadU64(file, at);
    if (!count || *count > kMaxAssets) return std::nullopt;
    at += 8;
    for (std::uint64_t i = 0; i < *count; ++i) {
      auto key = ReadStringView(file, &at, end);
      if (!key) return std::nullopt;
      auto value = ReadStringView(file, &at, end);
      if (!value) return std::nullopt;
      b.assets.emplace_back(std::string(key->bytes), *value);
    }
  }
  return b;
}

std::optional<Blob> ParseBlob(std::string_view file, std::uint64_t start, std::uint64_t end) {
  if (auto b = ParseBlobVariant(file, start, end, /*with_code_path=*/true)) return b;
  return ParseBlobVariant(file, start, end, /*with_code_path=*/false);
}

void ReadBlob(const Blob& b, Budget* budget, Unpacked* out) {
  std::string main_path = b.code_path.empty() ? "NODE_SEA_BLOB:main" : b.code_path;
  if (b.flags & kSnapshot) {
    out->notes.push_back(
        fmt::format("node-sea: the main script is a V8 startup snapshot ({} bytes at offset "
                    "{}), not source; not read",
                    b.main.bytes.size(), b.main.offset));
  } else {
    Module* m = nullptr;
    if (AddModule(main_path, b.main.bytes, GuessEncoding(b.main.bytes), b.main.offset, "node-sea",
                  budget, out, &m)) {
      m->entry_point = true;
      m->has_bytecode = (b.flags & kCodeCache) != 0;
    }
  }
  for (const auto& [key, value] : b.assets) {
    std::string path = "NODE_SEA_BLOB:asset/" + key;
    if (!LooksLikeText(value.bytes)) {
      out->notes.push_back(
          fmt::format("node-sea: asset '{}' is binary ({} bytes at offset {}); not read", key,
                      value.bytes.size(), value.offset));
      continue;
    }
    AddModule(path, value.bytes, GuessEncoding(value.bytes), value.offset, "node-sea", budget, out);
  }
}

}  // namespace

bool ReadNodeSea(std::string_view file, Budget* budget, Unpacked* out) {
  std::vector<FileSpan> spans = FindElfNotes(file, "NODE_SEA_BLOB");
  if (auto s = FindSection(file, "NODE_SEA", "__NODE_SEA_BLOB")) spans.push_back(*s);
  for (const FileSpan& s : spans) {
    if (auto b = ParseBlob(file, s.offset, s.offset + s.size)) {
      out->layout = "resource";
      ReadBlob(*b, budget, out);
      return true;
    }
  }
  if (!spans.empty()) {
    out->notes.push_back(
        fmt::format("node-sea: a NODE_SEA_BLOB resource ({} bytes at offset {}) is not a "
                    "blob audit can read",
                    spans[0].size, spans[0].offset));
  }
  // PE resources and unknown layouts: every occurrence of the magic. The
  // Node runtime's own code may contain the constant, so validation decides.
  // ELF and Mach-O builds keep the blob where the headers lead (above).
  ObjectFormat format = DetectObjectFormat(file);
  if (format == ObjectFormat::kElf || format == ObjectFormat::kMachO) return false;
  // memmem is fastest with a rare first byte: search the magic's last three
  // bytes (0xda 0x43 0x01) and check the space (0x20) before them.
  const char tail[3] = {'\xda', '\x43', '\x01'};
  size_t from = 1;
  for (int tries = 0; tries < 100000 && from < file.size(); ++tries) {
    if (budget->OutOfTime("node-sea", out)) break;
    const void* p = memmem(file.data() + from, file.size() - from, tail, sizeof tail);
    if (p == nullptr) break;
    std::uint64_t at = static_cast<const char*>(p) - file.data() - 1;
    if (file[at] != '\x20') {
      from = at + 2;
      continue;
    }
    if (auto b = ParseBlob(file, at, file.size())) {
      // A blob found this way has no declared size: require a code path or
      // a main script that reads as text, so that a stray constant is not
      // taken for a blob.
      if (!b->code_path.empty() || ((b->flags & kSnapshot) == 0 && LooksLikeText(b->main.bytes))) {
        out->layout = "magic";
        ReadBlob(*b, budget, out);
        return true;
      }
    }
    from = at + 2;
  }
  return false;
}

}  // namespace glassbox::audit::internal
