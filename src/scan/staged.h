// The content staged for the next commit (the index), read with libgit2, so
// a pre-commit hook scans what will be committed, not what is on disk.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace glassbox::scan {

struct StagedFile {
  std::string path;     // relative to the work tree
  std::string content;  // the staged blob
};

// Files added, modified, renamed or copied in the index relative to HEAD
// (every staged file before the first commit). `dir` is any folder inside
// the repository.
Result<std::vector<StagedFile>> ReadStagedFiles(const std::string& dir);

}  // namespace glassbox::scan
