// Walker: lists the files under the scan inputs. Includes hidden files and
// folders (agent settings live there), skips .git/, honours .gitignore
// through libgit2 when the input is inside a git work tree, applies
// --exclude globs, and does not follow symbolic links.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace glassbox::scan {

struct WalkOptions {
  std::vector<std::string> excludes;
  bool respect_gitignore = true;
  // Called for each symbolic link under a walked directory whose target lies
  // outside that directory (or cannot be resolved): (link path, target).
  std::function<void(const std::string&, const std::string&)> on_escaping_symlink;
  // Called for each FIFO, socket or device under a walked directory, which
  // is not read (reading could block): (path, "a FIFO" / "a socket" / "a device").
  std::function<void(const std::string&, const char*)> on_special_file;
};

struct WalkResult {
  std::vector<std::string> files;
  std::vector<std::string> errors;  // "path: reason"
};

// Expands each input: a file is listed as given; a directory is walked.
WalkResult Walk(const std::vector<std::string>& inputs, const WalkOptions& options);

// The same walk, handing each file to `on_file` as soon as it is found (so
// scanning can start before the walk ends). Returns the errors.
std::vector<std::string> WalkEach(const std::vector<std::string>& inputs,
                                  const WalkOptions& options,
                                  const std::function<void(std::string)>& on_file);

// True when an --exclude glob covers `path` (relative to the scan root): the
// glob matches the path or the file name, or names a folder above it. The
// walker, staged mode and history scans all decide with this.
bool PathExcluded(const std::vector<std::string>& globs, std::string_view path);

// True when an --exclude glob covers `path` (relative to the scan root): the
// glob matches the path or the file name, or names a folder above it. The
// walker, staged mode and history scans all decide with this.
bool PathExcluded(const std::vector<std::string>& globs, std::string_view path);

// fnmatch-style glob with "**" for any number of directories.
bool GlobMatch(std::string_view pattern, std::string_view path);

}  // namespace glassbox::scan
