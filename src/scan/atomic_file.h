// Replacing a file so that readers see the old content or the new, never a
// torn one: write a temporary file in the same folder, fsync, rename.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace glassbox::scan {

// Writes `data` to `path` atomically. The file gets `mode`, or keeps the mode
// of the file it replaces when keep_mode is true and it exists. Errors name
// `path` and the reason; no temporary file is left behind.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode = 0644,
                           bool keep_mode = false);

}  // namespace glassbox::scan
