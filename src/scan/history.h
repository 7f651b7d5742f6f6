// History scanning (`glassbox scan --git`): every commit in a range, read
// with libgit2 — its message, its author and committer, and each blob it adds
// or changes — so that a secret deleted long ago, or hidden text in a commit
// message, is still found.
//
// What is scanned, per commit, oldest first (topological, then commit time;
// parents before children):
//   * the message, as the pseudo-file "COMMIT_MSG" (no extension, so prose
//     context: typographic quotes stay quiet, a bidi override does not);
//   * "Author: NAME <EMAIL>\nCommitter: NAME <EMAIL>\n" as "COMMIT_AUTHOR",
//     for the provenance/bot-author rule and hidden text in names;
//   * every regular-file blob that the commit adds or changes relative to its
//     first parent (all blobs for a root commit), under its path in that
//     commit. Symbolic links and submodules are skipped.
// In a shallow clone, a commit whose parent was not fetched is treated as a
// root commit. Each distinct blob is scanned once per run, attributed to the
// first commit of the walk that brings it in, so a file that is renamed,
// reverted or merged is not reported again. A delete-only commit adds nothing
// to scan.
//
// Findings carry `commit` (the full id). Findings in COMMIT_MSG and
// COMMIT_AUTHOR mix the commit id into their fingerprint, so a baseline entry
// names one commit's message; blob findings keep the content fingerprint, so
// a baseline written from the working tree also hides the same finding in
// history. --exclude globs apply to blob paths (on the full path, the file
// name, or a folder prefix, as in the walker); .gitignore does not apply to
// committed content. Blobs over ScanOptions::max_file_bytes are counted in
// too_large_skipped and reported as errors, as in a file scan; binary blobs
// are counted in binary_files and searched by a strings pass.
//
// Threads: the calling thread walks and diffs; ScanOptions::jobs workers (0:
// one per core), each with its own libgit2 handle, read and scan the blobs.
// Findings come out in walk order — per commit: message, identity, then blobs
// in path order — whatever the number of threads.
//
// Memory: at most a bounded queue of pending blobs (ids and paths) and one
// blob per worker are held; the run keeps the set of blob ids seen (about 60
// bytes per distinct blob) and libgit2's commit graph for the walk.
//
// While a scan runs, libgit2's process-wide strict hash verification is
// turned off (reading is most of the cost; git does not verify on read
// either) and set back to its default on return.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/report.h"
#include "core/status.h"
#include "scan/scanner.h"

namespace glassbox::scan {

struct HistoryOptions {
  // Any folder inside the repository (or a bare repository).
  std::string repo_dir = ".";
  // Which commits: "" for everything reachable from HEAD; "A..B" for commits
  // reachable from B and not from A (an empty side means HEAD); "A...B" for
  // commits reachable from either but not both; anything else is one
  // revision (a commit id, branch, tag, "HEAD~3", …) and all its ancestors.
  std::string range;
  // Incremental mode when not empty: see the state file below.
  std::string state_file;
  // Called on the calling thread now and then with the commits done so far.
  std::function<void(uint64_t commits)> progress;
};

// What a history run did, beyond the Report's own stats (where every commit
// message and every blob scanned counts as one file).
struct HistoryResult {
  uint64_t commits = 0;  // commits walked
  uint64_t blobs = 0;    // distinct blobs read (scanned, or skipped as binary or too large)
  uint64_t blobs_seen_before =
      0;                  // added or changed blobs not read again: already scanned this run
  uint64_t excluded = 0;  // blob paths skipped by --exclude
  // A shallow clone: the oldest commits present were scanned like root
  // commits (all their blobs), and older history was not there to scan.
  bool shallow = false;
  // Commit ids from the state file that this repository does not have (after
  // a force-push, or in a shallow clone); they hide nothing. The CLI warns.
  std::vector<std::string> unknown_state_commits;
  // The commits the state file now records (also computed without one).
  std::vector<std::string> state_tips;
};

// Scans the commits that `options` selects and appends findings, errors
// (blobs that could not be read or are too large, as "COMMIT:PATH: reason")
// and stats to `report`. Returns an error, and leaves the state file alone,
// when the repository cannot be opened, the range names no commit, the state
// file cannot be read or parsed, or the walk fails. The state file is written
// only when the scan added no error to `report`, so what could not be read is
// tried again next time; failing to write it adds an error to `report`.
// `scanner` is shared by the worker threads (it is immutable);
// `options.progress` is called on the calling thread.
Result<HistoryResult> ScanHistory(const Scanner& scanner, const HistoryOptions& options,
                                  Report* report);

// The state file of incremental mode (--since-state FILE).
//
// Format: UTF-8 text, one full hexadecimal commit id per line (40 digits).
// Blank lines and lines starting with '#' are ignored; surrounding spaces and
// a trailing CR are allowed. Example:
//
//   # glassbox scan --git state: these commits and their ancestors have been scanned
//   8f8dfbf0c1e2d3a4b5c6d7e8f9a0b1c2d3e4f5a6
//
// Meaning: every commit reachable from a listed id has been scanned; a run
// hides them from its walk. After a run the file lists the tips of what has
// now been scanned: the commits the range named plus the previous ids, less
// any that is an ancestor of another listed id or unknown to the repository.
// (For "A..B" that records B: what A reaches is taken as done, as the range
// asked.)
// The file is replaced atomically (a temporary file in the same folder,
// renamed over it). A missing file means nothing has been scanned yet.

// Reads a state file. A missing file gives an empty list and sets *exists to
// false; an unreadable file, or a line that is not a commit id, is an error
// naming the file (and line).
Result<std::vector<std::string>> ReadHistoryState(const std::string& path, bool* exists);

// Writes `commit_ids` in the format above, atomically.
Status WriteHistoryState(const std::string& path, const std::vector<std::string>& commit_ids);

}  // namespace glassbox::scan
