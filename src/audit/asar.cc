// Electron .asar archives: a Chromium pickle header and a JSON index.
//
//   u32 4, u32 header_size            (a pickle holding one u32)
//   header pickle: u32 payload_size, u32 json_length, json, padding
//   file data, from offset 8 + header_size
// The JSON is {"files": {name: entry}}, where an entry is a directory
// ({"files": {...}}), a file ({"offset": "decimal string", "size": n,
// "unpacked": bool, ...}) or a link ({"link": "target"}). Unpacked files live
// beside the archive in NAME.asar.unpacked/ and are named in a note; links
// are named and never followed.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <string>

#include "audit/internal/unpack_internal.h"
#include "audit/object_file.h"

namespace glassbox::audit::internal {
namespace {

namespace json = boost::json;

constexpr int kMaxDepth = 200;

bool IsModuleName(std::string_view name) {
  for (std::string_view ext : {".js", ".mjs", ".cjs", ".jsx", ".json"}) {
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) return true;
  }
  return false;
}

struct Walker {
  std::string_view file;
  std::uint64_t data_start = 0;
  Budget* budget;
  Unpacked* out;
  std::size_t visited = 0;
  std::size_t skipped = 0;
  std::vector<std::string> unpacked;

  void Walk(const json::object& files, const std::string& dir, int depth) {
    if (depth > kMaxDepth) {
      out->notes.push_back(fmt::format(
          "asar: directory '{}' nested deeper than {} levels; not read", dir, kMaxDepth));
      return;
    }
    for (const auto& [key, value] : files) {
      if (budget->OutOfTime("asar", out)) return;
      if (++visited > budget->limits().max_entries) {
        if (visited == budget->limits().max_entries + 1) {
          out->notes.push_back(
              fmt::format("limit: asar index has more than {} entries; rest not read",
                          budget->limits().max_entries));
        }
        return;
      }
      std::string name(key);
      std::string path = dir.empty() ? name : dir + "/" + name;
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
          name.find('\\') != std::string::npos) {
        out->notes.push_back(
            fmt::format("asar: entry with an unsafe name '{}' in '{}'; not read", name, dir));
        continue;
      }
      const json::object* entry = value.if_object();
      if (entry == nullptr) {
        out->notes.push_back(fmt::format("asar: entry '{}' is not an object; not read", path));
        continue;
      }
      if (const json::value* sub = entry->if_contains("files")) {
        if (const json::object* o = sub->if_object()) {
          Walk(*o, path, depth + 1);
        } else {
          out->notes.push_back(
              fmt::format("asar: directory '{}' has no file table; not read", path));
        }
        continue;
      }
      if (const json::value* link = entry->if_contains("link")) {
        const json::string* target = link->if_string();
        out->notes.push_back(fmt::format("asar: link not followed: {} -> {}", path,
                                         target ? std::string(*target) : std::string("(invalid)")));
        continue;
      }
      ReadFile(*entry, path);
    }
  }

  void ReadFile(const json::object& entry, const std::string& path) {
    if (const json::value* u = entry.if_contains("unpacked"); u && u->is_bool() && u->get_bool()) {
      unpacked.push_back(path);
      return;
    }
    std::uint64_t offset = 0, size = 0;
    const json::value* off = entry.if_contains("offset");
    const json::value* sz = entry.if_contains("size");
    bool ok = off != nullptr && sz != nullptr;
    if (ok && off->is_string()) {
      const json::string& s = off->get_string();
      auto r = std::from_chars(s.data(), s.data() + s.size(), offset);
      ok = r.ec == std::errc() && r.ptr == s.data() + s.size();
    } else if (ok && off->is_uint64()) {
      offset = off->get_uint64();
    } else if (ok && off->is_int64() && off->get_int64() >= 0) {
      offset = static_cast<std::uint64_t>(off->get_int64());
    } else {
      ok = false;
    }
    if (ok && sz->is_uint64()) {
      size = sz->get_uint64();
    } else if (ok && sz->is_int64() && sz->get_int64() >= 0) {
      size = static_cast<std::uint64_t>(sz->get_int64());
    } else {
      ok = false;
    }
    std::uint64_t available = file.size() - data_start;
    if (!ok || offset > available || size > available - offset) {
      out->notes.push_back(
          fmt::format("asar: file '{}' has an offset or size outside the archive; not read", path));
      return;
    }
    std::string_view bytes = file.substr(data_start + offset, size);
    if (!IsModuleName(path)) {
      ++skipped;
      if (DetectObjectFormat(bytes) != ObjectFormat::kNone) {
        out->notes.push_back(
            fmt::format("asar: native executable or library not analysed as JavaScript: {}", path));
      }
      return;
    }
    if (!LooksLikeText(bytes)) {
      // Named like a module (checked above): Electron loads it, so it is read.
      out->notes.push_back(fmt::format(
          "asar: '{}' holds NUL or control bytes; read as JavaScript all the same", path));
    }
    AddModule(path, bytes, GuessEncoding(bytes), data_start + offset, "asar", budget, out);
  }
};

}  // namespace

bool ReadAsar(std::string_view file, const std::string& name, Budget* budget, Unpacked* out) {
  auto four = ReadU32(file, 0);
  auto header_size = ReadU32(file, 4);
  auto payload_size = ReadU32(file, 8);
  auto json_length = ReadU32(file, 12);
  if (four != 4u || !header_size || !payload_size || !json_length) return false;
  if (*header_size > file.size() - 8 ||
      *payload_size > *header_size - std::min<std::uint32_t>(*header_size, 4) ||
      *json_length > *payload_size - std::min<std::uint32_t>(*payload_size, 4) ||
      *json_length < 2 || file[16] != '{') {
    return false;
  }
  std::string_view text = file.substr(16, *json_length);
  json::parse_options opts;
  opts.max_depth = 2 * kMaxDepth + 8;
  boost::system::error_code ec;
  json::monotonic_resource mr;
  json::value index = json::parse(text, ec, &mr, opts);
  if (ec || !index.is_object()) {
    out->notes.push_back(fmt::format("asar: {}: the header's JSON index cannot be parsed: {}", name,
                                     ec ? ec.message() : std::string("not an object")));
    return true;
  }
  const json::value* files = index.as_object().if_contains("files");
  if (files == nullptr || !files->is_object()) {
    out->notes.push_back(fmt::format("asar: {}: the JSON index has no \"files\" table", name));
    return true;
  }
  Walker w{file, 8 + std::uint64_t{*header_size}, budget, out};
  w.Walk(files->as_object(), "", 0);
  if (w.skipped > 0) {
    out->notes.push_back(
        fmt::format("asar: {} files that are not JavaScript or JSON were not read", w.skipped));
  }
  if (!w.unpacked.empty()) {
    std::string list;
    for (size_t i = 0; i < w.unpacked.size() && i < 20; ++i)
      list += (i ? ", " : "") + w.unpacked[i];
    if (w.unpacked.size() > 20) list += fmt::format(", and {} more", w.unpacked.size() - 20);
    out->notes.push_back(fmt::format(
        "asar: {} files are stored outside the archive, in {}.unpacked/ (read when that folder is "
        "beside the archive): {}",
        w.unpacked.size(), name, list));
  }
  return true;
}

}  // namespace glassbox::audit::internal
