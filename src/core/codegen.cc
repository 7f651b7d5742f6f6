#include "core/codegen.h"

#include <fmt/format.h>

#include <cstdio>

namespace glassbox {

std::string CppByteArray(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 5);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out += fmt::format("{}{}", static_cast<unsigned>(static_cast<unsigned char>(bytes[i])),
                       i + 1 == bytes.size() ? "" : (i % 24 == 23 ? ",\n" : ","));
  }
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Status::Error(fmt::format("{}: cannot write", tmp));
  const bool written = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  if (std::fclose(f) != 0 || !written) return Status::Error(fmt::format("{}: write failed", tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error(fmt::format("{}: cannot rename to {}", tmp, path));
  }
  return Status::Ok();
}

}  // namespace glassbox
