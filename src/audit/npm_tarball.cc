// npm tarballs (`npm pack` output: gzip-compressed tar with a package/
// prefix), read entry by entry into memory with libarchive: nothing is
// extracted, so path traversal and link escapes cannot write anywhere; odd
// paths and links are named in notes. Decompressed bytes are bounded (a gzip
// bomb stops at UnpackLimits::max_total_bytes).
#include <archive.h>
#include <sys/mman.h>
#include <unistd.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

// Largest up-front allocation made from a header's declared size.
constexpr std::uint64_t kMaxReserve = std::uint64_t{64} << 20;

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

bool IsModuleName(std::string_view name) {
  for (std::string_view ext : {".js", ".mjs", ".cjs", ".jsx", ".json"}) {
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) return true;
  }
  return false;
}

// "#!" and a first line that names node, bun or deno.
bool IsNodeShebang(std::string_view head) {
  if (head.size() < 2 || head[0] != '#' || head[1] != '!') return false;
  std::string_view line = head.substr(0, head.find('\n'));
  return line.find("node") != std::string_view::npos || line.find("bun") != std::string_view::npos ||
         line.find("deno") != std::string_view::npos;
}

bool UnsafePath(std::string_view p) {
  if (p.empty() || p.front() == '/') return true;
  size_t at = 0;
  while (at <= p.size()) {
    size_t end = p.find('/', at);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(at, end - at) == "..") return true;
    at = end + 1;
  }
  return false;
}

// Gives back the pages of a mapped tarball that libarchive has consumed, so
// that a large tarball does not stay resident while it is decompressed. Only
// for a read-only file mapping (dropped pages are read from the file again
// if touched); inactive (a no-op) for bytes the caller owns.
class ConsumedPages {
 public:
  ConsumedPages(archive* a, std::string_view bytes, bool file_mapping)
      : a_(a), base_(file_mapping ? bytes.data() : nullptr), size_(bytes.size()) {}

  void Release() {
    if (base_ == nullptr || ++calls_ % 64 != 0) return;
    const la_int64_t consumed = archive_filter_bytes(a_, -1);
    if (consumed <= 0) return;
    // Keep the last read blocks: the decompressor may still be reading them.
    const std::uint64_t keep = kReadSize * 2;
    const std::uint64_t upto = std::min<std::uint64_t>(static_cast<std::uint64_t>(consumed), size_);
    if (upto <= keep) return;
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<std::uintptr_t>(base_);
    const std::uintptr_t begin = (base + released_ + page - 1) & ~(page - 1);
    const std::uintptr_t end = (base + upto - keep) & ~(page - 1);
    if (end <= begin || end - begin < (std::uintptr_t{8} << 20)) return;
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    released_ = end - base;
  }

  static constexpr size_t kReadSize = size_t{1} << 20;  // bytes libarchive is handed per read

 private:
  archive* a_;
  const char* base_;
  std::uint64_t size_;
  std::uint64_t released_ = 0;
  std::uint64_t calls_ = 0;
};

// Reads up to `max` bytes of the current entry's data; false on a read error.
// `declared`: the size the entry's header gives; once the data read fills
// the buffer, the buffer grows to it in one step instead of doubling (which
// would hold the old and the new buffer, up to three times the entry, at
// once). A header that lies costs untouched address space only, and only
// after real data filled what was reserved before.
bool ReadData(archive* a, std::uint64_t max, std::string* out, std::string* error, ConsumedPages* pages = nullptr,
              std::uint64_t declared = 0) {
  char buf[65536];
  for (;;) {
    if (pages != nullptr) pages->Release();
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) {
      *error = archive_error_string(a) ? archive_error_string(a) : "read error";
      return false;
    }
    if (out->size() + static_cast<std::uint64_t>(n) > max) {
      *error = fmt::format("more than {} bytes", max);
      return false;
    }
    if (out->size() + static_cast<size_t>(n) > out->capacity() && declared > out->capacity()) {
      out->reserve(static_cast<size_t>(std::min(declared, max)));
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

std::optional<std::string> Decompress(std::string_view bytes, std::uint64_t max_bytes, std::string* error) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_raw(a.get());
  archive_entry* e = nullptr;
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &e) != ARCHIVE_OK) {
    *error = archive_error_string(a.get()) ? archive_error_string(a.get()) : "not gzip or zstd";
    return std::nullopt;
  }
  if (archive_filter_code(a.get(), 0) == ARCHIVE_FILTER_NONE) {
    *error = "not gzip or zstd";
    return std::nullopt;
  }
  std::string out;
  if (!ReadData(a.get(), max_bytes, &out, error)) return std::nullopt;
  return out;
}

bool ReadNpmTarball(std::string_view file, const std::string& name, Budget* budget, Unpacked* out,
                    bool file_mapping) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory2(a.get(), const_cast<char*>(file.data()), file.size(), ConsumedPages::kReadSize) !=
      ARCHIVE_OK) {
    return false;
  }
  ConsumedPages pages(a.get(), file, file_mapping);
  const UnpackLimits& limits = budget->limits();
  std::map<std::string, std::size_t> skipped_by_ext;
  std::size_t entries = 0;
  bool any_header = false;
  for (;;) {
    pages.Release();
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!any_header) return false;
      out->notes.push_back(fmt::format("npm-tarball: {}: damaged after {} entries: {}", name, entries,
                                       archive_error_string(a.get()) ? archive_error_string(a.get()) : "error"));
      break;
    }
    any_header = true;  // a tarball, so the budget is checked after the first header only
    if (budget->OutOfTime("npm-tarball", out)) break;
    if (++entries > limits.max_entries) {
      out->notes.push_back(fmt::format("limit: more than {} tarball entries; rest not read", limits.max_entries));
      break;
    }
    std::int64_t unpacked_so_far = archive_filter_bytes(a.get(), 0);
    if (unpacked_so_far > 0 && static_cast<std::uint64_t>(unpacked_so_far) > limits.max_total_bytes) {
      out->notes.push_back(fmt::format("limit: more than {} bytes after decompression; rest of {} not read",
                                       limits.max_total_bytes, name));
      break;
    }
    const char* raw_path = archive_entry_pathname(e);
    std::string path = raw_path ? raw_path : "";
    if (UnsafePath(path)) {
      out->notes.push_back(fmt::format("npm-tarball: entry with an unsafe path '{}'; not read", path));
      continue;
    }
    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) continue;
    if (type == AE_IFLNK || archive_entry_hardlink(e) != nullptr) {
      const char* target = archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_hardlink(e);
      out->notes.push_back(fmt::format("npm-tarball: link not followed: {} -> {}", path, target ? target : ""));
      continue;
    }
    if (type != AE_IFREG) {
      out->notes.push_back(fmt::format("npm-tarball: '{}' is not a regular file; not read", path));
      continue;
    }
    std::uint64_t declared = archive_entry_size_is_set(e) ? static_cast<std::uint64_t>(archive_entry_size(e)) : 0;
    if (!IsModuleName(path)) {
      size_t slash = path.rfind('/');
      std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
      size_t dot = base.rfind('.');
      char head[64];
      la_ssize_t n = archive_read_data(a.get(), head, sizeof head);
      if (dot == std::string::npos && n > 2 && IsNodeShebang(std::string_view(head, static_cast<size_t>(n)))) {
        // bin/agent with "#!/usr/bin/env node": JavaScript without an extension.
        std::string data(head, static_cast<size_t>(n)), error;
        if (declared > limits.max_entry_bytes) {
          budget->Admit(declared, fmt::format("npm-tarball '{}'", path), out);
        } else if (!ReadData(a.get(), limits.max_entry_bytes, &data, &error, &pages, declared)) {
          out->notes.push_back(fmt::format("npm-tarball: '{}' could not be read: {}", path, error));
        } else {
          AddModule(path, data, GuessEncoding(data), 0, "npm-tarball", budget, out);
        }
        continue;
      }
      ++skipped_by_ext[dot == std::string::npos || dot == 0 ? "(none)" : base.substr(dot)];
      if (n > 0 && MayBeObjectFile(std::string_view(head, static_cast<size_t>(n)))) {
        // A native executable (the agent's own Bun or SEA build, an addon, a
        // vendored tool): read it whole, within the entry limit, and look
        // for an embedded payload.
        // Bounded by both the file and the decompressed-total limits (an
        // agent's own build is often larger than any module); the header's
        // size is only a hint (it may lie), so memory grows with the bytes
        // actually read.
        const std::uint64_t max_exe = std::min(limits.max_file_bytes, limits.max_total_bytes);
        std::string exe(head, static_cast<size_t>(n)), error;
        exe.reserve(std::min({declared, max_exe, kMaxReserve}));
        if (declared > max_exe) {
          out->notes.push_back(
              fmt::format("limit: npm-tarball '{}' is {} bytes, more than the {} bytes audit reads; "
                          "not read",
                          path, declared, max_exe));
        } else if (!ReadData(a.get(), max_exe, &exe, &error, &pages, declared)) {
          out->notes.push_back(fmt::format("npm-tarball: '{}' could not be read: {}", path, error));
        } else {
          ReadNestedExecutable(exe, path, "npm-tarball", budget, out);
        }
      }
      continue;
    }
    if (declared > limits.max_entry_bytes) {
      // Admit notes the refusal with the entry's size.
      budget->Admit(declared, fmt::format("npm-tarball '{}'", path), out);
      continue;
    }
    std::string data, error;
    data.reserve(std::min(declared, kMaxReserve));
    if (!ReadData(a.get(), limits.max_entry_bytes, &data, &error, &pages, declared)) {
      out->notes.push_back(fmt::format("npm-tarball: '{}' could not be read: {}", path, error));
      continue;
    }
    if (!LooksLikeText(data)) {
      if (!RuntimeLoads(path)) {
        out->notes.push_back(fmt::format("npm-tarball: '{}' is binary, not JavaScript; not read", path));
        continue;
      }
      out->notes.push_back(
          fmt::format("npm-tarball: '{}' holds NUL or control bytes; read as JavaScript all the same", path));
    }
    AddOwnedModule(path, std::move(data), 0, "npm-tarball", budget, out);
  }
  if (!any_header) return false;
  if (!skipped_by_ext.empty()) {
    std::string list;
    std::size_t total = 0;
    for (const auto& [ext, n] : skipped_by_ext) {
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", ext, n);
      total += n;
    }
    out->notes.push_back(
        fmt::format("npm-tarball: {} files that are not JavaScript or JSON were not read ({})", total, list));
  }
  return true;
}

}  // namespace glassbox::audit::internal
