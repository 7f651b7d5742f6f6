// npm tarballs (`npm pack` output: gzip-compressed tar with a package/
// prefix), read entry by entry into memory with libarchive: nothing is
// extracted, so path traversal and link escapes cannot write anywhere; odd
// paths and links are named in notes. Decompressed bytes are bounded (a gzip
// bomb stops at UnpackLimits::max_total_bytes).
#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

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
  return line.find("node") != std::string_view::npos ||
         line.find("bun") != std::string_view::npos || line.find("deno") != std::string_view::npos;
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
bool ReadData(archive* a, std::uint64_t max, std::string* out, std::string* error,
              ConsumedPages* pages = nullptr, std::uint64_t declared = 0) {
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

std::optional<std::string> Decompress(std::string_view bytes, std::uint64_t max_bytes,
                                      std::string* error) {
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

namespace {

// Reads one npm tarball entry by entry (ReadNpmTarball). Each step notes what
// it refuses in out->notes.
class NpmTarballReader {
 public:
  NpmTarballReader(archive* a, std::string_view file, bool file_mapping, const std::string& name,
                   Budget* budget, Unpacked* out)
      : a_(a),
        pages_(a, file, file_mapping),
        name_(name),
        budget_(*budget),
        limits_(budget->limits()),
        out_(*out) {}

  // False when the bytes are not a tarball at all (no entry header).
  bool Read() {
    for (;;) {
      pages_.Release();
      archive_entry* e = nullptr;
      const int r = archive_read_next_header(a_, &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        if (!any_header_) return false;
        Note("npm-tarball: {}: damaged after {} entries: {}", name_, entries_,
             archive_error_string(a_) ? archive_error_string(a_) : "error");
        break;
      }
      any_header_ = true;  // a tarball, so the budget is checked after the first header only
      if (!WithinLimits()) break;
      ReadEntry(e);
    }
    if (!any_header_) return false;
    NoteSkipped();
    return true;
  }

 private:
  template <typename... Args>
  void Note(fmt::format_string<Args...> format, Args&&... args) {
    out_.notes.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  // The budget's time, the entry count and the decompressed total; false (noted) past one.
  bool WithinLimits() {
    if (budget_.OutOfTime("npm-tarball", &out_)) return false;
    if (++entries_ > limits_.max_entries) {
      Note("limit: more than {} tarball entries; rest not read", limits_.max_entries);
      return false;
    }
    const std::int64_t unpacked_so_far = archive_filter_bytes(a_, 0);
    if (unpacked_so_far > 0 &&
        static_cast<std::uint64_t>(unpacked_so_far) > limits_.max_total_bytes) {
      Note("limit: more than {} bytes after decompression; rest of {} not read",
           limits_.max_total_bytes, name_);
      return false;
    }
    return true;
  }

  void ReadEntry(archive_entry* e) {
    const char* raw_path = archive_entry_pathname(e);
    const std::string path = raw_path ? raw_path : "";
    if (!IsRegularFile(e, path)) return;
    const std::uint64_t declared =
        archive_entry_size_is_set(e) ? static_cast<std::uint64_t>(archive_entry_size(e)) : 0;
    if (IsModuleName(path)) {
      ReadModule(path, declared);
    } else {
      ReadOtherFile(path, declared);
    }
  }

  // Unsafe paths, directories, links and special files are not read (noted, but directories).
  bool IsRegularFile(archive_entry* e, const std::string& path) {
    if (UnsafePath(path)) {
      Note("npm-tarball: entry with an unsafe path '{}'; not read", path);
      return false;
    }
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) return false;
    if (type == AE_IFLNK || archive_entry_hardlink(e) != nullptr) {
      const char* target =
          archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_hardlink(e);
      Note("npm-tarball: link not followed: {} -> {}", path, target ? target : "");
      return false;
    }
    if (type != AE_IFREG) {
      Note("npm-tarball: '{}' is not a regular file; not read", path);
      return false;
    }
    return true;
  }

  // A .js / .mjs / .cjs / .jsx / .json file.
  void ReadModule(const std::string& path, std::uint64_t declared) {
    if (declared > limits_.max_entry_bytes) {
      // Admit notes the refusal with the entry's size.
      budget_.Admit(declared, fmt::format("npm-tarball '{}'", path), &out_);
      return;
    }
    std::string data, error;
    data.reserve(std::min(declared, kMaxReserve));
    if (!ReadData(a_, limits_.max_entry_bytes, &data, &error, &pages_, declared)) {
      Note("npm-tarball: '{}' could not be read: {}", path, error);
      return;
    }
    if (!LooksLikeText(data)) {
      if (!RuntimeLoads(path)) {
        Note("npm-tarball: '{}' is binary, not JavaScript; not read", path);
        return;
      }
      Note("npm-tarball: '{}' holds NUL or control bytes; read as JavaScript all the same", path);
    }
    AddOwnedModule(path, std::move(data), 0, "npm-tarball", &budget_, &out_);
  }

  // Any other file: by its first bytes, a script without an extension, a native executable, or
  // (counted by extension) something not read.
  void ReadOtherFile(const std::string& path, std::uint64_t declared) {
    const size_t slash = path.rfind('/');
    const std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
    const size_t dot = base.rfind('.');
    char head[64];
    const la_ssize_t n = archive_read_data(a_, head, sizeof head);
    const std::string_view first =
        n > 0 ? std::string_view(head, static_cast<size_t>(n)) : std::string_view();
    if (dot == std::string::npos && n > 2 && IsNodeShebang(first)) {
      ReadScript(path, first, declared);
      return;
    }
    ++skipped_by_ext_[dot == std::string::npos || dot == 0 ? "(none)" : base.substr(dot)];
    if (n > 0 && MayBeObjectFile(first)) ReadExecutable(path, first, declared);
  }

  // bin/agent with "#!/usr/bin/env node": JavaScript without an extension.
  void ReadScript(const std::string& path, std::string_view head, std::uint64_t declared) {
    std::string data(head), error;
    if (declared > limits_.max_entry_bytes) {
      budget_.Admit(declared, fmt::format("npm-tarball '{}'", path), &out_);
    } else if (!ReadData(a_, limits_.max_entry_bytes, &data, &error, &pages_, declared)) {
      Note("npm-tarball: '{}' could not be read: {}", path, error);
    } else {
      AddModule(path, data, GuessEncoding(data), 0, "npm-tarball", &budget_, &out_);
    }
  }

  // A native executable (the agent's own Bun or SEA build, an addon, a vendored tool): read whole,
  // within the entry limit, and searched for an embedded payload. Bounded by both the file and the
  // decompressed-total limits (an agent's own build is often larger than any module); the header's
  // size is only a hint (it may lie), so memory grows with the bytes actually read.
  void ReadExecutable(const std::string& path, std::string_view head, std::uint64_t declared) {
    const std::uint64_t max_exe = std::min(limits_.max_file_bytes, limits_.max_total_bytes);
    std::string exe(head), error;
    exe.reserve(std::min({declared, max_exe, kMaxReserve}));
    if (declared > max_exe) {
      Note("limit: npm-tarball '{}' is {} bytes, more than the {} bytes audit reads; not read",
           path, declared, max_exe);
    } else if (!ReadData(a_, max_exe, &exe, &error, &pages_, declared)) {
      Note("npm-tarball: '{}' could not be read: {}", path, error);
    } else {
      ReadNestedExecutable(exe, path, "npm-tarball", &budget_, &out_);
    }
  }

  // One note for all files not read, counted by extension.
  void NoteSkipped() {
    if (skipped_by_ext_.empty()) return;
    std::string list;
    std::size_t total = 0;
    for (const auto& [ext, n] : skipped_by_ext_) {
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", ext, n);
      total += n;
    }
    Note("npm-tarball: {} files that are not JavaScript or JSON were not read ({})", total, list);
  }

  archive* a_;
  ConsumedPages pages_;
  const std::string& name_;
  Budget& budget_;
  const UnpackLimits& limits_;
  Unpacked& out_;
  std::map<std::string, std::size_t> skipped_by_ext_;
  std::size_t entries_ = 0;
  bool any_header_ = false;
};

}  // namespace

bool ReadNpmTarball(std::string_view file, const std::string& name, Budget* budget, Unpacked* out,
                    bool file_mapping) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory2(a.get(), const_cast<char*>(file.data()), file.size(),
                                ConsumedPages::kReadSize) != ARCHIVE_OK) {
    return false;
  }
  return NpmTarballReader(a.get(), file, file_mapping, name, budget, out).Read();
}

}  // namespace glassbox::audit::internal
