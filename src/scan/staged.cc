#include "scan/staged.h"

#include <fmt/format.h>
#include <git2.h>

#include "scan/internal/git.h"

#include <memory>

namespace glassbox::scan {

namespace {

using internal::GitError;
using internal::GitPtr;
using internal::LibGit;

}  // namespace

Result<std::vector<StagedFile>> ReadStagedFiles(const std::string& dir) {
  LibGit lib;
  GitPtr<git_repository, git_repository_free> repo;
  if (git_repository_open_ext(&repo.p, dir.c_str(), 0, nullptr) != 0) {
    return Status::Error(fmt::format("{}: not inside a git repository ({})", dir, GitError()));
  }
  GitPtr<git_index, git_index_free> index;
  if (git_repository_index(&index.p, repo.p) != 0) {
    return Status::Error(fmt::format("cannot read the git index: {}", GitError()));
  }
  GitPtr<git_tree, git_tree_free> head_tree;
  GitPtr<git_object, git_object_free> head;
  if (git_revparse_single(&head.p, repo.p, "HEAD^{tree}") == 0) {
    head_tree.p = reinterpret_cast<git_tree*>(head.p);
    head.p = nullptr;
  }
  GitPtr<git_diff, git_diff_free> diff;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  if (git_diff_tree_to_index(&diff.p, repo.p, head_tree.p, index.p, &opts) != 0) {
    return Status::Error(fmt::format("cannot diff HEAD against the index: {}", GitError()));
  }
  std::vector<StagedFile> files;
  const size_t n = git_diff_num_deltas(diff.p);
  for (size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.p, i);
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
        d->status != GIT_DELTA_RENAMED && d->status != GIT_DELTA_COPIED &&
        d->status != GIT_DELTA_TYPECHANGE) {
      continue;
    }
    if ((d->new_file.mode & 0170000) != 0100000) continue;  // not a regular file (link, submodule)
    GitPtr<git_blob, git_blob_free> blob;
    if (git_blob_lookup(&blob.p, repo.p, &d->new_file.id) != 0) {
      return Status::Error(
          fmt::format("{}: cannot read the staged blob: {}", d->new_file.path, GitError()));
    }
    const auto* raw = static_cast<const char*>(git_blob_rawcontent(blob.p));
    files.push_back(
        {d->new_file.path, std::string(raw, static_cast<size_t>(git_blob_rawsize(blob.p)))});
  }
  return files;
}

}  // namespace glassbox::scan
