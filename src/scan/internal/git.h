// Small RAII helpers for libgit2, shared by the scan component's git readers
// (staged.cc, history.cc). Internal: libgit2 types stay inside src/scan.
#pragma once

#include <git2.h>

#include <string>

namespace glassbox::scan::internal {

// Owns one libgit2 object and frees it with Free.
template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  GitPtr() = default;
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  ~GitPtr() {
    if (p != nullptr) Free(p);
  }
};

// The last libgit2 error message of this thread.
inline std::string GitError() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

// Keeps libgit2 initialised for its lifetime (reference-counted by libgit2).
struct LibGit {
  LibGit() { git_libgit2_init(); }
  ~LibGit() { git_libgit2_shutdown(); }
  LibGit(const LibGit&) = delete;
  LibGit& operator=(const LibGit&) = delete;
};

}  // namespace glassbox::scan::internal
