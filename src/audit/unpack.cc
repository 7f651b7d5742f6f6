// Unpack(): maps the target, picks the reader by structure, and walks
// directories. The readers live one per format in their own files; the
// shared helpers (budget, text conversion) are here.
#include "audit/unpack.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"
#include "core/utf.h"

namespace glassbox::audit {
namespace internal {

Budget::Budget(const UnpackLimits& limits)
    : limits_(limits),
      deadline_(
          std::chrono::steady_clock::now() +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(std::max(0.0, std::min(limits.max_seconds, 1e9))))) {}

bool Budget::OutOfTime(std::string_view reader, Unpacked* out) {
  if (out_of_time_) return true;
  if ((calls_++ & 255) != 0) return false;
  if (std::chrono::steady_clock::now() < deadline_) return false;
  out_of_time_ = true;
  out->notes.push_back(
      fmt::format("limit: {}: the time budget of {} s for reading containers is used up; the rest "
                  "was not read",
                  reader, limits_.max_seconds));
  return true;
}

namespace {

// "asar: file 'x/y.js' has 12 bytes" -> "asar: file '' has # bytes".
std::string NoteShape(std::string_view note) {
  std::string shape;
  bool quoted = false;
  for (size_t i = 0; i < note.size(); ++i) {
    const char c = note[i];
    if (c == '\'') {
      quoted = !quoted;
      shape += c;
    } else if (quoted) {
      continue;
    } else if (c >= '0' && c <= '9') {
      if (shape.empty() || shape.back() != '#') shape += '#';
    } else {
      shape += c;
    }
  }
  return shape;
}

}  // namespace

void CapNotes(std::size_t per_kind, std::vector<std::string>* notes) {
  if (notes->size() <= per_kind) return;
  std::map<std::string, std::size_t> seen;
  std::vector<std::string> kept;
  std::vector<std::pair<std::string, std::size_t>> dropped;  // shape, count, in first-seen order
  std::map<std::string, std::size_t> dropped_index;
  for (std::string& n : *notes) {
    std::string shape = NoteShape(n);
    if (++seen[shape] <= per_kind) {
      kept.push_back(std::move(n));
      continue;
    }
    auto [it, fresh] = dropped_index.emplace(shape, dropped.size());
    if (fresh) dropped.emplace_back(shape, 0);
    ++dropped[it->second].second;
  }
  for (const auto& [shape, count] : dropped) {
    kept.push_back(fmt::format("limit: {} more notes like \"{}\" not listed (the first {} are)",
                               count, shape, per_kind));
  }
  *notes = std::move(kept);
}

bool Budget::Admit(std::uint64_t bytes, const std::string& what, Unpacked* out) {
  if (entries_ >= limits_.max_entries) {
    if (!noted_entries_) {
      out->notes.push_back(
          fmt::format("limit: more than {} entries; stopped before {}", limits_.max_entries, what));
      noted_entries_ = true;
    }
    return false;
  }
  if (bytes > limits_.max_entry_bytes) {
    out->notes.push_back(
        fmt::format("limit: {} is {} bytes, more than the {} allowed per entry; not read", what,
                    bytes, limits_.max_entry_bytes));
    ++entries_;
    return false;
  }
  if (bytes > limits_.max_total_bytes - std::min(total_bytes_, limits_.max_total_bytes)) {
    if (!noted_total_) {
      out->notes.push_back(
          fmt::format("limit: more than {} bytes of modules in total; stopped before {}",
                      limits_.max_total_bytes, what));
      noted_total_ = true;
    }
    return false;
  }
  ++entries_;
  total_bytes_ += bytes;
  return true;
}

namespace {

// True when `bytes` is valid UTF-8. ASCII goes by eight bytes at a time.
bool IsValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) != 0) break;
      i += 8;
    }
    while (i < n && p[i] < 0x80) {
      ++i;
      if ((i & 7) == 0) break;
    }
    if (i >= n) break;
    if (p[i] < 0x80) continue;
    size_t len = 1;
    if (utf::DecodeOne(p + i, n - i, &len) == utf::kInvalidCodePoint) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::string ToUtf8(std::string_view bytes, std::string_view encoding, std::uint64_t* replaced) {
  std::string out;
  std::uint64_t bad = 0;
  if (encoding == "utf16le") {
    auto t = utf::Utf16ToUtf8(bytes, /*big_endian=*/false, /*skip_bom=*/0);
    bad = t.invalid_units;
    out = std::move(t.utf8);
  } else if (encoding == "latin1") {
    if (utf::IsAscii(bytes)) {
      out.assign(bytes);
    } else {
      out.reserve(bytes.size() + bytes.size() / 8);
      for (unsigned char c : bytes) utf::AppendUtf8(c, &out);
    }
  } else if (IsValidUtf8(bytes)) {
    out.assign(bytes);
  } else {
    out.reserve(bytes.size());
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t n = bytes.size(), i = 0;
    while (i < n) {
      size_t next = utf::NextInteresting(bytes, i);
      // NextInteresting also stops on controls; copy everything up to the
      // next non-ASCII byte in one go.
      while (next < n && p[next] < 0x80) ++next;
      out.append(bytes.data() + i, next - i);
      i = next;
      if (i >= n) break;
      size_t len = 1;
      int32_t cp = utf::DecodeOne(p + i, n - i, &len);
      if (cp == utf::kInvalidCodePoint) {
        utf::AppendUtf8(0xFFFD, &out);
        ++bad;
      } else {
        out.append(bytes.data() + i, len);
      }
      i += len;
    }
  }
  if (replaced) *replaced = bad;
  return out;
}

std::string GuessEncoding(std::string_view bytes) {
  size_t sample = std::min<size_t>(bytes.size(), 4096);
  if (sample >= 4 && bytes.size() % 2 == 0) {
    size_t odd_zero = 0, even_zero = 0;
    for (size_t i = 0; i + 1 < sample; i += 2) {
      even_zero += bytes[i] == '\0';
      odd_zero += bytes[i + 1] == '\0';
    }
    if (odd_zero * 4 >= sample / 2 * 3 && even_zero * 8 < sample / 2) return "utf16le";
  }
  return IsValidUtf8(bytes) ? "utf8" : "latin1";
}

bool RuntimeLoads(std::string_view path) {
  for (std::string_view ext : {".js", ".mjs", ".cjs", ".jsx", ".json"}) {
    if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return true;
  }
  return false;
}

bool LooksLikeText(std::string_view bytes) {
  std::string_view head = bytes.substr(0, 8192);
  if (head.empty()) return true;
  if (head.find('\0') != std::string_view::npos) return GuessEncoding(bytes) == "utf16le";
  size_t control = 0;
  for (unsigned char c : head)
    control += (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') || c == 0x7f;
  return control * 100 < head.size();
}

bool AddModule(std::string path, std::string_view stored, std::string encoding,
               std::uint64_t offset, std::string container, Budget* budget, Unpacked* out,
               Module** added) {
  // Every reader adds its modules here, so every reader keeps to the time budget.
  if (budget->OutOfTime(container, out)) return false;
  if (!budget->Admit(stored.size(), fmt::format("{} '{}'", container, path), out)) return false;
  Module m;
  std::uint64_t replaced = 0;
  m.text = ToUtf8(stored, encoding, &replaced);
  if (replaced > 0) {
    out->notes.push_back(fmt::format("{} '{}': {} invalid {} sequences replaced by U+FFFD",
                                     container, path, replaced, encoding));
  }
  m.path = std::move(path);
  m.encoding = std::move(encoding);
  m.offset = offset;
  m.stored_bytes = stored.size();
  m.container = std::move(container);
  out->modules.push_back(std::move(m));
  if (added) *added = &out->modules.back();
  return true;
}

bool AddOwnedModule(std::string path, std::string&& stored, std::uint64_t offset,
                    std::string container, Budget* budget, Unpacked* out) {
  std::string encoding = GuessEncoding(stored);
  if (encoding != "utf8")
    return AddModule(std::move(path), stored, encoding, offset, std::move(container), budget, out);
  if (budget->OutOfTime(container, out)) return false;
  if (!budget->Admit(stored.size(), fmt::format("{} '{}'", container, path), out)) return false;
  Module m;
  m.stored_bytes = stored.size();
  m.text = std::move(stored);
  m.path = std::move(path);
  m.encoding = std::move(encoding);
  m.offset = offset;
  m.container = std::move(container);
  out->modules.push_back(std::move(m));
  return true;
}

std::optional<std::uint32_t> ReadU32(std::string_view bytes, std::uint64_t at) {
  if (at > bytes.size() || bytes.size() - at < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

std::optional<std::uint64_t> ReadU64(std::string_view bytes, std::uint64_t at) {
  auto lo = ReadU32(bytes, at), hi = ReadU32(bytes, at + 4);
  if (!lo || !hi) return std::nullopt;
  return std::uint64_t{*lo} | std::uint64_t{*hi} << 32;
}

const char* ReadExecutablePayload(std::string_view bytes, Budget* budget, Unpacked* out) {
  // By structure (validated tables, not bare markers, so that a text file or
  // a runtime holding the marker strings is not mistaken for a container);
  // the first reader that recognises its container wins.
  struct Reader {
    const char* kind;
    bool (*read)(std::string_view, Budget*, Unpacked*);
  };
  static constexpr Reader kReaders[] = {
      {"bun-sea", ReadBunSea},
      {"node-sea", ReadNodeSea},
      {"pkg", ReadPkgPayload},
      {"deno", ReadDenoPayload},
  };
  for (const Reader& r : kReaders) {
    if (r.read(bytes, budget, out)) return r.kind;
  }
  return nullptr;
}

void ReadNestedExecutable(std::string_view bytes, const std::string& path,
                          const std::string& container, Budget* budget, Unpacked* out) {
  Unpacked inner;
  if (std::string damage = ObjectDamage(bytes); !damage.empty()) {
    out->notes.push_back(fmt::format("{}: {}: damaged {} file: {}; read as far as it goes",
                                     container, path, ObjectFormatName(DetectObjectFormat(bytes)),
                                     damage));
  }
  const char* kind = ReadExecutablePayload(bytes, budget, &inner);
  for (std::string& n : inner.notes) out->notes.push_back(fmt::format("{}: {}", path, n));
  if (kind == nullptr || inner.modules.empty()) {
    // A vendored tool or addon: its printable strings, within what is left
    // of the target's string limit.
    UnpackLimits limits = budget->limits();
    limits.max_strings -= std::min(limits.max_strings, out->strings.size());
    Unpacked strings;
    ReadNativeStrings(bytes, limits, &strings);
    for (NativeString& s : strings.strings) {
      s.path = path;
      out->strings.push_back(std::move(s));
    }
    out->notes.push_back(
        fmt::format("{}: native executable or library not analysed as JavaScript: {} "
                    "({} printable strings listed)",
                    container, path, strings.strings.size()));
    for (std::string& n : strings.notes) out->notes.push_back(fmt::format("{}: {}", path, n));
    return;
  }
  out->notes.push_back(
      fmt::format("{}: {} is a {} executable ({} layout); its {} modules are listed as "
                  "'{}!MODULE', with offsets inside that file",
                  container, path, kind, inner.layout, inner.modules.size(), path));
  for (Module& m : inner.modules) {
    m.path = path + "!" + m.path;
    out->modules.push_back(std::move(m));
  }
}

}  // namespace internal

namespace {

using internal::Budget;

// Read-only view of a whole file: mapped (address space, not resident memory).
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }

  Status Open(const std::string& path, std::uint64_t max_bytes) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      int e = errno;
      close(fd);
      return Status::Error(fmt::format("{}: cannot stat: {}", path, std::strerror(e)));
    }
    if (!S_ISREG(st.st_mode)) {
      close(fd);
      return Status::Error(fmt::format("{}: not a regular file or directory", path));
    }
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
      close(fd);
      return Status::Error(fmt::format("{}: {} bytes, more than the {} bytes audit reads", path,
                                       st.st_size, max_bytes));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        int e = errno;
        close(fd);
        size_ = 0;
        return Status::Error(fmt::format("{}: cannot map: {}", path, std::strerror(e)));
      }
      data_ = m;
      madvise(data_, size_, MADV_WILLNEED);
    }
    close(fd);
    return Status::Ok();
  }

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsTarball(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return true;
  }
  return bytes.size() >= 263 && bytes.substr(257, 5) == "ustar";
}

bool IsModuleFile(std::string_view name) {
  for (std::string_view ext : {".js", ".mjs", ".cjs", ".jsx", ".json"}) {
    if (EndsWith(name, ext)) return true;
  }
  return false;
}

// Executables: the container readers in turn, then native strings.
// `file_mapping`: `bytes` is a MappedFile's view (see ReadNpmTarball).
Result<Unpacked> UnpackSingle(std::string_view bytes, const std::string& name,
                              const UnpackLimits& limits, bool file_mapping) {
  Unpacked out;
  out.target_bytes = bytes.size();
  Budget budget(limits);
  if (IsTarball(bytes)) {
    if (!internal::ReadNpmTarball(bytes, name, &budget, &out, file_mapping)) {
      return Status::Error(
          fmt::format("{}: looks like a tarball but libarchive cannot read it", name));
    }
    out.kind = "npm-tarball";
    return out;
  }
  if (EndsWith(name, ".tgz") || EndsWith(name, ".tar.gz")) {
    return Status::Error(fmt::format("{}: named like a tarball but is neither gzip nor tar", name));
  }
  if (internal::ReadAsar(bytes, name, &budget, &out)) {
    out.kind = "asar";
    return out;
  }
  ObjectFormat format = DetectObjectFormat(bytes);
  out.object_format = ObjectFormatName(format);
  if (std::string damage = ObjectDamage(bytes); !damage.empty()) {
    out.notes.push_back(fmt::format("{}: damaged {} file: {}; read as far as it goes", name,
                                    out.object_format, damage));
  }
  if (const char* kind = internal::ReadExecutablePayload(bytes, &budget, &out)) {
    out.kind = kind;
    if (out.modules.empty()) {
      out.notes.push_back(fmt::format(
          "{}: container found but no module could be read; printable strings follow", kind));
      internal::ReadNativeStrings(bytes, limits, &out);
    }
    return out;
  }
  // What a runtime would load is code, whatever bytes it holds: a .js file
  // with a NUL byte in a comment runs under node all the same.
  const bool module_name = IsModuleFile(name);
  if (format == ObjectFormat::kNone && (internal::LooksLikeText(bytes) || module_name)) {
    out.kind = "javascript";
    if (!internal::LooksLikeText(bytes)) {
      out.notes.push_back(
          fmt::format("{}: holds NUL or control bytes, read as JavaScript all the same (a runtime "
                      "loads it)",
                      name));
    }
    internal::AddModule(name, bytes, internal::GuessEncoding(bytes), 0, "file", &budget, &out);
    if (!out.modules.empty()) out.modules.back().entry_point = true;
    return out;
  }
  out.kind = "native";
  if (format == ObjectFormat::kNone) {
    out.notes.push_back(
        "not an executable, archive or text file known to audit; printable strings only");
  } else {
    out.notes.push_back(
        fmt::format("{} executable with no Bun, Node SEA, pkg or deno payload found; "
                    "printable strings only",
                    out.object_format));
  }
  internal::ReadNativeStrings(bytes, limits, &out);
  return out;
}

// An extension-less script run by node (bin/agent with "#!/usr/bin/env node").
bool IsNodeScript(const std::string& path) {
  std::string_view name(path);
  size_t slash = name.rfind('/');
  if (name.substr(slash == std::string_view::npos ? 0 : slash + 1).find('.') !=
      std::string_view::npos)
    return false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char head[128];
  ssize_t n = pread(fd, head, sizeof head, 0);
  close(fd);
  if (n < 2 || head[0] != '#' || head[1] != '!') return false;
  std::string_view line(head, static_cast<size_t>(n));
  line = line.substr(0, line.find('\n'));
  return line.find("node") != std::string_view::npos ||
         line.find("bun") != std::string_view::npos || line.find("deno") != std::string_view::npos;
}

// Reads the first bytes only: most files of a package are not executables.
bool HeadIsObjectFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char head[64];
  ssize_t n = pread(fd, head, sizeof head, 0);
  close(fd);
  return n > 0 && MayBeObjectFile(std::string_view(head, static_cast<size_t>(n)));
}

std::string Extension(const std::filesystem::path& p) {
  std::string name = p.filename().string();
  if (EndsWith(name, ".d.ts")) return ".d.ts";
  std::string ext = p.extension().string();
  return ext.empty() ? "(none)" : ext;
}

Result<Unpacked> UnpackDirectory(const std::string& root, const UnpackLimits& limits) {
  namespace fs = std::filesystem;
  Unpacked out;
  out.kind = "directory";
  Budget budget(limits);
  std::map<std::string, std::size_t> skipped_by_ext;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return Status::Error(fmt::format("{}: cannot read directory: {}", root, ec.message()));
  std::size_t seen = 0, links_inside = 0;
  const fs::path root_path = fs::path(root).lexically_normal();
  for (; it != end; it.increment(ec)) {
    if (ec) {
      out.notes.push_back(fmt::format("directory: cannot read below {}: {}", root, ec.message()));
      break;
    }
    const fs::directory_entry& entry = *it;
    std::string path = entry.path().string();
    if (++seen > limits.max_entries) {
      out.notes.push_back(fmt::format("limit: more than {} directory entries; stopped at {}",
                                      limits.max_entries, path));
      break;
    }
    std::error_code sec;
    auto status = entry.symlink_status(sec);
    if (sec) {
      out.notes.push_back(fmt::format("directory: {}: cannot stat: {}", path, sec.message()));
      continue;
    }
    if (fs::is_symlink(status)) {
      // Links within the tree (node_modules/.bin) lead to files read in their
      // own place: counted. Links out of the tree are named.
      fs::path target = fs::read_symlink(entry.path(), sec);
      fs::path resolved = (entry.path().parent_path() / target).lexically_normal();
      auto rel = resolved.lexically_relative(root_path);
      if (!sec && !rel.empty() && *rel.begin() != "..") {
        ++links_inside;
      } else {
        out.notes.push_back(fmt::format("directory: symlink out of the tree not followed: {} -> {}",
                                        path, target.string()));
      }
      continue;
    }
    if (fs::is_directory(status)) {
      if (it.depth() + 1 >= limits.max_depth) {
        out.notes.push_back(fmt::format("limit: directory deeper than {} levels not read: {}",
                                        limits.max_depth, path));
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!fs::is_regular_file(status)) {
      out.notes.push_back(fmt::format("directory: {} is not a regular file; not read", path));
      continue;
    }
    std::uint64_t size = entry.file_size(sec);
    out.target_bytes += size;
    if (!IsModuleFile(path) && !IsNodeScript(path)) {
      ++skipped_by_ext[Extension(entry.path())];
      // Native code shipped inside a package (a Bun or SEA build of the
      // agent, addons, vendored tools): its embedded modules are read; other
      // native files are named, since they escape the JavaScript analysis.
      if (size >= 64 && HeadIsObjectFile(path)) {
        MappedFile f;
        if (f.Open(path, limits.max_file_bytes).ok()) {
          internal::ReadNestedExecutable(f.bytes(), path, "directory", &budget, &out);
        }
      }
      continue;
    }
    MappedFile f;
    if (Status s = f.Open(path, limits.max_file_bytes); !s.ok()) {
      out.notes.push_back(fmt::format("directory: {}", s.message()));
      continue;
    }
    std::string_view bytes = f.bytes();
    std::string enc = internal::GuessEncoding(bytes);
    if (!internal::LooksLikeText(bytes)) {
      // Named like code, so a runtime loads it: analysed all the same.
      out.notes.push_back(fmt::format(
          "directory: {} holds NUL or control bytes, read as JavaScript all the same", path));
    }
    internal::AddModule(path, bytes, enc, 0, "directory", &budget, &out);
  }
  if (!skipped_by_ext.empty()) {
    std::string list;
    std::size_t total = 0;
    for (const auto& [ext, n] : skipped_by_ext) {
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", ext, n);
      total += n;
    }
    out.notes.push_back(fmt::format(
        "directory: {} files that are not JavaScript or JSON were not read ({})", total, list));
  }
  if (links_inside > 0) {
    out.notes.push_back(
        fmt::format("directory: {} symlinks within the tree not followed (their targets are "
                    "read in place)",
                    links_inside));
  }
  return out;
}

}  // namespace

Result<Unpacked> UnpackBytes(std::string_view bytes, const std::string& name,
                             const UnpackLimits& limits) {
  if (bytes.size() > limits.max_file_bytes) {
    return Status::Error(fmt::format("{}: {} bytes, more than the {} bytes audit reads", name,
                                     bytes.size(), limits.max_file_bytes));
  }
  Result<Unpacked> result = UnpackSingle(bytes, name, limits, /*file_mapping=*/false);
  if (result.ok()) internal::CapNotes(limits.max_notes_per_kind, &result->notes);
  return result;
}

Result<Unpacked> Unpack(const std::string& target, const UnpackLimits& limits) {
  std::error_code ec;
  auto status = std::filesystem::status(target, ec);
  if (ec) return Status::Error(fmt::format("{}: {}", target, ec.message()));
  if (std::filesystem::is_directory(status)) {
    Result<Unpacked> dir = UnpackDirectory(target, limits);
    if (dir.ok()) internal::CapNotes(limits.max_notes_per_kind, &dir->notes);
    return dir;
  }
  MappedFile file;
  if (Status s = file.Open(target, limits.max_file_bytes); !s.ok()) return s;
  Result<Unpacked> result = UnpackSingle(file.bytes(), target, limits, /*file_mapping=*/true);
  // Electron keeps some files of an archive (native modules, executables)
  // in NAME.asar.unpacked/ beside it: read that folder too when present.
  std::string unpacked_dir = target + ".unpacked";
  if (result.ok() && result->kind == "asar" && !std::filesystem::is_directory(unpacked_dir, ec)) {
    bool wanted = std::any_of(result->notes.begin(), result->notes.end(), [](const std::string& n) {
      return n.find(".unpacked/ (read when") != std::string::npos;
    });
    if (wanted)
      result->notes.push_back(
          fmt::format("asar: {} is missing; those files were not read", unpacked_dir));
  } else if (result.ok() && result->kind == "asar") {
    Result<Unpacked> extra = UnpackDirectory(unpacked_dir, limits);
    if (!extra.ok()) {
      result->notes.push_back(fmt::format("asar: {}", extra.status().message()));
    } else {
      for (Module& m : extra->modules) result->modules.push_back(std::move(m));
      for (NativeString& s : extra->strings) result->strings.push_back(std::move(s));
      for (std::string& n : extra->notes) result->notes.push_back(std::move(n));
      result->target_bytes += extra->target_bytes;
      result->notes.push_back(fmt::format("asar: {} was read too", unpacked_dir));
    }
  }
  if (result.ok()) internal::CapNotes(limits.max_notes_per_kind, &result->notes);
  return result;
}

}  // namespace glassbox::audit
