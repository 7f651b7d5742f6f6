// Helpers for the build-time generators (glassbox_rulegen,
// glassbox_agent_rulegen) that turn rule files into C++ sources.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace glassbox {

// The bytes as the body of a C++ `unsigned char` array initializer, 24 a line.
std::string CppByteArray(std::string_view bytes);

// Writes `content` to `path` through a temporary file and a rename, so that a
// failed or interrupted build never leaves a half-written source behind.
Status WriteFileAtomically(const std::string& path, std::string_view content);

}  // namespace glassbox
