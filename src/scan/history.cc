#include "scan/history.h"

#include "scan/atomic_file.h"
#include "scan/internal/git.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "core/locate.h"
#include "scan/walker.h"

namespace glassbox::scan {

namespace {

using internal::GitError;
using internal::GitPtr;
using internal::LibGit;

// Reading blobs is most of a history scan's cost, and libgit2 by default
// re-hashes every object it reads (about 40% of that cost); git itself does
// not on read, and a scanner gains nothing from it. The switch is
// process-wide, so it is held only while the scan runs (set back to libgit2's
// default after).
struct NoHashVerification {
  NoHashVerification() { git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0); }
  ~NoHashVerification() { git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1); }
  NoHashVerification(const NoHashVerification&) = delete;
  NoHashVerification& operator=(const NoHashVerification&) = delete;
};

std::string Hex(const git_oid& id) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &id);
  return buf;
}

struct OidHash {
  size_t operator()(const git_oid& id) const {
    size_t h;
    static_assert(sizeof id.id >= sizeof h);
    std::memcpy(&h, id.id, sizeof h);  // object ids are uniformly distributed already
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b) != 0; }
};

constexpr size_t kMaxStateBytes = size_t{16} << 20;
constexpr size_t kMaxBlobErrors = 100;   // listed; the rest are counted
constexpr uint64_t kProgressEvery = 16;  // commits

bool IsRegularFile(uint32_t mode) { return (mode & 0170000) == 0100000; }

Result<git_oid> PeelToCommit(git_object* obj, std::string_view rev) {
  GitPtr<git_object, git_object_free> commit;
  if (git_object_peel(&commit.p, obj, GIT_OBJECT_COMMIT) != 0) {
    return Status::Error(fmt::format("'{}' does not name a commit ({})", rev, GitError()));
  }
  return *git_object_id(commit.p);
}

// The commits a range starts from and the commits it excludes (with their
// ancestors).
struct RangeCommits {
  std::vector<git_oid> push;  // also the new tips for the state file
  std::vector<git_oid> hide;
};

Result<RangeCommits> SelectRange(git_repository* repo, const std::string& range) {
  const std::string spec_text = range.empty() ? "HEAD" : range;
  git_revspec spec{};
  if (git_revparse(&spec, repo, spec_text.c_str()) != 0) {
    if (range.empty()) {
      return Status::Error(
          fmt::format("HEAD does not name a commit (no commits yet?): {}", GitError()));
    }
    return Status::Error(fmt::format(
        "'{}' is not a revision or range (A..B, A...B) in this repository: {}", range, GitError()));
  }
  GitPtr<git_object, git_object_free> from, to;
  from.p = spec.from;
  to.p = spec.to;
  RangeCommits out;
  if ((spec.flags & GIT_REVSPEC_SINGLE) != 0) {
    auto id = PeelToCommit(from.p, spec_text);
    if (!id.ok()) return id.status();
    out.push.push_back(*id);
    return out;
  }
  const size_t dots = spec_text.find("..");
  const std::string left = spec_text.substr(0, dots);
  const size_t right_start = spec_text.find_first_not_of('.', dots);
  const std::string right = right_start == std::string::npos ? "" : spec_text.substr(right_start);
  auto a = PeelToCommit(from.p, left.empty() ? "HEAD" : left);
  if (!a.ok()) return a.status();
  auto b = PeelToCommit(to.p, right.empty() ? "HEAD" : right);
  if (!b.ok()) return b.status();
  if ((spec.flags & GIT_REVSPEC_MERGE_BASE) == 0) {
    out.push = {*b};
    out.hide = {*a};
    return out;
  }
  out.push = {*a, *b};
  git_oidarray bases{};
  const int rc = git_merge_bases(&bases, repo, &*a, &*b);
  if (rc == GIT_ENOTFOUND) return out;  // no common history: nothing to hide
  if (rc != 0)
    return Status::Error(fmt::format("cannot find the merge base of '{}': {}", range, GitError()));
  out.hide.assign(bases.ids, bases.ids + bases.count);
  git_oidarray_dispose(&bases);
  return out;
}

using OidSet = std::unordered_set<git_oid, OidHash, OidEq>;

// The parents of `id` that the repository has (in a shallow clone, the
// boundary commits' parents are missing), first parent first.
Status PresentParents(git_repository* repo, git_odb* odb, const git_oid& id,
                      std::vector<git_oid>* out) {
  out->clear();
  GitPtr<git_commit, git_commit_free> commit;
  if (git_commit_lookup(&commit.p, repo, &id) != 0) {
    return Status::Error(fmt::format("cannot read commit {}: {}", Hex(id), GitError()));
  }
  const unsigned n = git_commit_parentcount(commit.p);
  for (unsigned i = 0; i < n; ++i) {
    const git_oid* parent = git_commit_parent_id(commit.p, i);
    if (parent != nullptr && git_odb_exists(odb, parent) != 0) out->push_back(*parent);
  }
  return Status::Ok();
}

// The walk for shallow clones, which libgit2 1.5's revwalk cannot do (it
// fails on the first missing parent). Commits reachable from `range.push`
// and not from `range.hide`, parents before children (first parent first);
// a missing parent is treated as absent, so the oldest commits present are
// scanned like root commits. Holds every selected commit id, which is fine at
// the depths shallow clones have.
Result<std::vector<git_oid>> ShallowWalk(git_repository* repo, git_odb* odb,
                                         const RangeCommits& range) {
  OidSet hidden;
  std::vector<git_oid> parents;
  std::vector<git_oid> stack = range.hide;
  while (!stack.empty()) {
    const git_oid id = stack.back();
    stack.pop_back();
    if (!hidden.insert(id).second) continue;
    if (Status st = PresentParents(repo, odb, id, &parents); !st.ok()) return st;
    stack.insert(stack.end(), parents.begin(), parents.end());
  }
  struct Frame {
    git_oid id;
    std::vector<git_oid> parents;
    size_t next = 0;
  };
  OidSet visited;
  std::vector<git_oid> order;
  std::vector<Frame> frames;
  auto enter = [&](const git_oid& id) -> Status {
    if (hidden.count(id) != 0 || !visited.insert(id).second) return Status::Ok();
    Frame f{id, {}, 0};
    if (Status st = PresentParents(repo, odb, id, &f.parents); !st.ok()) return st;
    frames.push_back(std::move(f));
    return Status::Ok();
  };
  for (const git_oid& tip : range.push) {
    if (Status st = enter(tip); !st.ok()) return st;
    while (!frames.empty()) {
      Frame& top = frames.back();
      if (top.next < top.parents.size()) {
        const git_oid parent = top.parents[top.next++];
        if (Status st = enter(parent); !st.ok()) return st;
      } else {
        order.push_back(top.id);
        frames.pop_back();
      }
    }
  }
  return order;
}

// Drops duplicates and every id that is an ancestor of another; sorted by id.
// In a shallow clone the ancestry is walked here, over the parents present:
// libgit2 1.5's git_graph_descendant_of fails there (and leaks on the way).
std::vector<std::string> PruneTips(git_repository* repo, git_odb* odb, bool shallow,
                                   std::vector<git_oid> ids) {
  std::sort(ids.begin(), ids.end(),
            [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; });
  ids.erase(std::unique(ids.begin(), ids.end(), OidEq()), ids.end());
  auto descends = [&](const git_oid& from, const git_oid& ancestor) {
    if (!shallow) return git_graph_descendant_of(repo, &from, &ancestor) == 1;
    OidSet seen;
    std::vector<git_oid> stack = {from}, parents;
    while (!stack.empty()) {
      const git_oid id = stack.back();
      stack.pop_back();
      if (!seen.insert(id).second || !PresentParents(repo, odb, id, &parents).ok()) continue;
      for (const git_oid& p : parents) {
        if (git_oid_equal(&p, &ancestor) != 0) return true;
        stack.push_back(p);
      }
    }
    return false;
  };
  std::vector<std::string> out;
  for (const git_oid& c : ids) {
    const bool covered = std::any_of(ids.begin(), ids.end(), [&](const git_oid& d) {
      return !git_oid_equal(&c, &d) && descends(d, c);
    });
    if (!covered) out.push_back(Hex(c));
  }
  return out;
}

std::string Identity(const git_commit* commit) {
  std::string out;
  const git_signature* author = git_commit_author(commit);
  const git_signature* committer = git_commit_committer(commit);
  if (author != nullptr) out += fmt::format("Author: {} <{}>\n", author->name, author->email);
  if (committer != nullptr)
    out += fmt::format("Committer: {} <{}>\n", committer->name, committer->email);
  return out;
}

// One unit of scanning, made by the walk and done by a worker.
struct Task {
  enum class Kind : uint8_t { kMessage, kIdentity, kBlob };
  uint64_t seq = 0;  // walk order, to put the results back in order
  Kind kind = Kind::kBlob;
  std::string commit;  // full id
  std::string path;    // the blob's path in the commit
  std::string text;    // message or identity
  git_oid blob{};
};

// What a task produced (kept only when it produced something).
struct TaskOutput {
  uint64_t seq = 0;
  std::vector<Finding> findings;
  std::vector<std::string> notes;  // limits reached while scanning it
  std::string error;
};

// Threads that scan tasks from a bounded queue. Each worker has its own
// repository handle: a libgit2 object must not be used by two threads at
// once. Results are merged in walk order, so the output does not depend on
// the number of threads. A libgit2 built without thread support gets no
// threads: Push() then scans on the calling thread.
class ScanPool {
 public:
  ScanPool(const Scanner& scanner, unsigned jobs)
      : scanner_(scanner),
        threaded_((git_libgit2_features() & GIT_FEATURE_THREADS) != 0),
        workers_(threaded_ ? std::max(jobs, 1u) : 1u) {}
  ScanPool(const ScanPool&) = delete;
  ScanPool& operator=(const ScanPool&) = delete;
  ~ScanPool() { Join(); }

  // Opens a handle on `git_dir` per worker and starts them.
  Status Start(const std::string& git_dir) {
    for (Worker& w : workers_) {
      if (git_repository_open(&w.repo.p, git_dir.c_str()) != 0 ||
          git_repository_odb(&w.odb.p, w.repo.p) != 0) {
        return Status::Error(
            fmt::format("{}: cannot open the repository: {}", git_dir, GitError()));
      }
    }
    if (threaded_) {
      for (Worker& w : workers_) w.thread = std::thread([this, &w] { Work(w); });
    }
    return Status::Ok();
  }

  // Queues a task; blocks while the queue is full, so memory stays bounded.
  void Push(Task task) {
    if (!threaded_) {
      Process(workers_[0], task);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return queue_.size() < kQueueTasks; });
    queue_.push_back(std::move(task));
    lock.unlock();
    not_empty_.notify_one();
  }

  // Waits for the queued tasks, then adds findings and stats to `report` and
  // returns the errors, both in walk order.
  std::vector<std::string> Finish(Report* report) {
    Join();
    std::vector<TaskOutput> outputs;
    for (Worker& w : workers_) {
      for (TaskOutput& o : w.outputs) outputs.push_back(std::move(o));
      report->stats.files += w.stats.files;
      report->stats.bytes += w.stats.bytes;
      report->stats.binary_files += w.stats.binary_files;
      report->stats.too_large_skipped += w.stats.too_large_skipped;
      report->stats.rows += w.stats.rows;
    }
    std::sort(outputs.begin(), outputs.end(),
              [](const TaskOutput& a, const TaskOutput& b) { return a.seq < b.seq; });
    std::vector<std::string> errors;
    for (TaskOutput& o : outputs) {
      for (Finding& f : o.findings) report->findings.push_back(std::move(f));
      for (std::string& n : o.notes) report->notes.push_back(std::move(n));
      if (!o.error.empty()) errors.push_back(std::move(o.error));
    }
    return errors;
  }

 private:
  static constexpr size_t kQueueTasks = 256;

  struct Worker {
    GitPtr<git_repository, git_repository_free> repo;
    GitPtr<git_odb, git_odb_free> odb;
    ReportStats stats;
    std::vector<TaskOutput> outputs;
    std::thread thread;
  };

  void Join() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
    for (Worker& w : workers_) {
      if (w.thread.joinable()) w.thread.join();
    }
  }

  bool Pop(Task* task) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return false;
    *task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return true;
  }

  void Work(Worker& w) {
    Task t;
    while (Pop(&t)) Process(w, t);
  }

  void Process(Worker& w, const Task& t) const {
    TaskOutput out;
    out.seq = t.seq;
    switch (t.kind) {
      case Task::Kind::kMessage:
      case Task::Kind::kIdentity: {
        // The message counts as a file scanned; the identity line does not.
        ReportStats uncounted;
        const bool message = t.kind == Task::Kind::kMessage;
        scanner_.ScanBuffer(t.text, message ? "COMMIT_MSG" : "COMMIT_AUTHOR", &out.findings,
                            message ? &w.stats : &uncounted, &out.notes);
        for (Finding& f : out.findings) f.fingerprint = Sha256Hex(f.fingerprint + t.commit, 32);
        break;
      }
      case Task::Kind::kBlob:
        ScanBlob(w, t, &out);
        break;
    }
    for (Finding& f : out.findings) f.commit = t.commit;
    for (std::string& n : out.notes) n = t.commit.substr(0, 12) + ":" + n;
    if (!out.findings.empty() || !out.notes.empty() || !out.error.empty())
      w.outputs.push_back(std::move(out));
  }

  void ScanBlob(Worker& w, const Task& t, TaskOutput* out) const {
    const std::string where = fmt::format("{}:{}", t.commit.substr(0, 12), t.path);
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_read_header(&size, &type, w.odb.p, &t.blob) != 0) {
      out->error = fmt::format("{}: cannot read blob {}: {}", where, Hex(t.blob), GitError());
      return;
    }
    if (size > scanner_.options().max_file_bytes) {
      ++w.stats.too_large_skipped;
      out->error = fmt::format("{}: {} bytes is over the size limit of {} bytes (--max-size)",
                               where, size, scanner_.options().max_file_bytes);
      return;
    }
    GitPtr<git_blob, git_blob_free> blob;
    if (git_blob_lookup(&blob.p, w.repo.p, &t.blob) != 0) {
      out->error = fmt::format("{}: cannot read blob {}: {}", where, Hex(t.blob), GitError());
      return;
    }
    const std::string_view bytes(static_cast<const char*>(git_blob_rawcontent(blob.p)),
                                 static_cast<size_t>(git_blob_rawsize(blob.p)));
    scanner_.ScanBuffer(bytes, t.path, &out->findings, &w.stats, &out->notes);
  }

  const Scanner& scanner_;
  const bool threaded_;
  std::vector<Worker> workers_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Task> queue_;
  bool closed_ = false;
};

// The walk's side: turns each commit into tasks, skipping excluded paths and
// blobs already queued this run.
class CommitSplitter {
 public:
  CommitSplitter(const Scanner& scanner, git_repository* repo, git_odb* odb, bool shallow,
                 ScanPool* pool)
      : scanner_(scanner), repo_(repo), odb_(odb), shallow_(shallow), pool_(pool) {}

  Status Split(const git_oid& id, HistoryResult* result) {
    GitPtr<git_commit, git_commit_free> commit;
    const std::string hex = Hex(id);
    if (git_commit_lookup(&commit.p, repo_, &id) != 0) {
      return Status::Error(fmt::format("cannot read commit {}: {}", hex, GitError()));
    }
    const char* message = git_commit_message(commit.p);
    Push(Task::Kind::kMessage, hex, "", message != nullptr ? message : "", nullptr);
    Push(Task::Kind::kIdentity, hex, "", Identity(commit.p), nullptr);

    GitPtr<git_tree, git_tree_free> tree, parent_tree;
    if (git_commit_tree(&tree.p, commit.p) != 0) {
      return Status::Error(fmt::format("cannot read the tree of commit {}: {}", hex, GitError()));
    }
    // A first parent missing from a shallow clone: diffed like a root commit.
    const git_oid* first_parent = git_commit_parent_id(commit.p, 0);
    if (first_parent != nullptr && (!shallow_ || git_odb_exists(odb_, first_parent) != 0)) {
      GitPtr<git_commit, git_commit_free> parent;
      if (git_commit_parent(&parent.p, commit.p, 0) != 0 ||
          git_commit_tree(&parent_tree.p, parent.p) != 0) {
        return Status::Error(
            fmt::format("cannot read the first parent of commit {}: {}", hex, GitError()));
      }
    }
    git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
    opts.flags = GIT_DIFF_SKIP_BINARY_CHECK;  // deltas only; ScanBuffer decides what is binary
    GitPtr<git_diff, git_diff_free> diff;
    if (git_diff_tree_to_tree(&diff.p, repo_, parent_tree.p, tree.p, &opts) != 0) {
      return Status::Error(
          fmt::format("cannot diff commit {} against its parent: {}", hex, GitError()));
    }
    const size_t n = git_diff_num_deltas(diff.p);
    for (size_t i = 0; i < n; ++i) {
      const git_diff_delta* d = git_diff_get_delta(diff.p, i);
      if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
          d->status != GIT_DELTA_TYPECHANGE) {
        continue;
      }
      if (!IsRegularFile(d->new_file.mode)) continue;
      if (PathExcluded(scanner_.options().excludes, d->new_file.path)) {
        ++result->excluded;
        continue;
      }
      if (!seen_.insert(d->new_file.id).second) {
        ++result->blobs_seen_before;
        continue;
      }
      ++result->blobs;
      Push(Task::Kind::kBlob, hex, d->new_file.path, "", &d->new_file.id);
    }
    return Status::Ok();
  }

 private:
  void Push(Task::Kind kind, const std::string& commit, std::string path, std::string text,
            const git_oid* blob) {
    Task t;
    t.seq = next_seq_++;
    t.kind = kind;
    t.commit = commit;
    t.path = std::move(path);
    t.text = std::move(text);
    if (blob != nullptr) git_oid_cpy(&t.blob, blob);
    pool_->Push(std::move(t));
  }

  const Scanner& scanner_;
  git_repository* repo_;
  git_odb* odb_;
  bool shallow_;
  ScanPool* pool_;
  OidSet seen_;
  uint64_t next_seq_ = 0;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool IsCommitId(std::string_view s) {
  return s.size() == GIT_OID_HEXSZ && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

}  // namespace

Result<std::vector<std::string>> ReadHistoryState(const std::string& path, bool* exists) {
  *exists = false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return Status::Error(
        fmt::format("{}: cannot read the history state file: {}", path, std::strerror(errno)));
  }
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return Status::Error(
          fmt::format("{}: cannot read the history state file: {}", path, std::strerror(err)));
    }
    if (got == 0) break;
    text.append(buf, static_cast<size_t>(got));
    if (text.size() > kMaxStateBytes) {
      close(fd);
      return Status::Error(fmt::format("{}: too large to be a history state file", path));
    }
  }
  close(fd);
  *exists = true;
  std::vector<std::string> ids;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = Trim(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    if (!IsCommitId(line)) {
      return Status::Error(
          fmt::format("{}:{}: not a history state file: expected a {}-digit commit id per line "
                      "(see 'glassbox help scan')",
                      path, line_no, GIT_OID_HEXSZ));
    }
    std::string id(line);
    std::transform(id.begin(), id.end(), id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    ids.push_back(std::move(id));
  }
  return ids;
}

Status WriteHistoryState(const std::string& path, const std::vector<std::string>& commit_ids) {
  std::string text =
      "# glassbox scan --git state: these commits and their ancestors have been scanned\n";
  for (const std::string& id : commit_ids) text += id + "\n";
  Status st = WriteFileAtomically(path, text);
  if (!st.ok()) return Status::Error("cannot write the history state file: " + st.message());
  return Status::Ok();
}

Result<HistoryResult> ScanHistory(const Scanner& scanner, const HistoryOptions& options,
                                  Report* report) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> previous;
  if (!options.state_file.empty()) {
    bool exists = false;
    auto state = ReadHistoryState(options.state_file, &exists);
    if (!state.ok()) return state.status();
    previous = std::move(state.value());
  }

  LibGit lib;
  GitPtr<git_repository, git_repository_free> repo;
  if (git_repository_open_ext(&repo.p, options.repo_dir.c_str(), 0, nullptr) != 0) {
    return Status::Error(
        fmt::format("{}: not inside a git repository ({})", options.repo_dir, GitError()));
  }
  GitPtr<git_odb, git_odb_free> odb;
  if (git_repository_odb(&odb.p, repo.p) != 0) {
    return Status::Error(
        fmt::format("{}: cannot read the object database: {}", options.repo_dir, GitError()));
  }
  auto range = SelectRange(repo.p, options.range);
  if (!range.ok())
    return Status::Error(fmt::format("{}: {}", options.repo_dir, range.status().message()));

  HistoryResult result;
  std::vector<git_oid> state = range->push;
  for (const std::string& hex : previous) {
    git_oid id;
    GitPtr<git_object, git_object_free> obj;
    if (git_oid_fromstr(&id, hex.c_str()) != 0) {
      return Status::Error(fmt::format("{}: bad commit id {}", options.state_file, hex));
    }
    const int rc = git_object_lookup(&obj.p, repo.p, &id, GIT_OBJECT_ANY);
    if (rc == GIT_ENOTFOUND) {
      result.unknown_state_commits.push_back(hex);
      continue;
    }
    if (rc != 0)
      return Status::Error(
          fmt::format("{}: cannot look up {}: {}", options.state_file, hex, GitError()));
    if (git_object_type(obj.p) != GIT_OBJECT_COMMIT) {
      return Status::Error(fmt::format("{}: {} is a {}, not a commit", options.state_file, hex,
                                       git_object_type2string(git_object_type(obj.p))));
    }
    range->hide.push_back(id);
    state.push_back(id);
  }

  // The commits, oldest first: libgit2's revwalk, or our own in a shallow clone.
  const bool shallow = git_repository_is_shallow(repo.p) == 1;
  result.shallow = shallow;
  GitPtr<git_revwalk, git_revwalk_free> walk;
  std::vector<git_oid> shallow_order;
  size_t shallow_next = 0;
  if (shallow) {
    auto order = ShallowWalk(repo.p, odb.p, *range);
    if (!order.ok())
      return Status::Error(fmt::format("{}: {}", options.repo_dir, order.status().message()));
    shallow_order = std::move(order.value());
  } else {
    bool ok =
        git_revwalk_new(&walk.p, repo.p) == 0 &&
        git_revwalk_sorting(walk.p, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME | GIT_SORT_REVERSE) == 0;
    for (const git_oid& id : range->hide) ok = ok && git_revwalk_hide(walk.p, &id) == 0;
    for (const git_oid& id : range->push) ok = ok && git_revwalk_push(walk.p, &id) == 0;
    if (!ok)
      return Status::Error(
          fmt::format("{}: cannot walk the history: {}", options.repo_dir, GitError()));
  }
  auto next_commit = [&](git_oid* id) -> int {
    if (!shallow) return git_revwalk_next(id, walk.p);
    if (shallow_next == shallow_order.size()) return GIT_ITEROVER;
    *id = shallow_order[shallow_next++];
    return 0;
  };

  const unsigned jobs = scanner.options().jobs != 0
                            ? scanner.options().jobs
                            : std::max(1u, std::thread::hardware_concurrency());
  NoHashVerification no_hash_verification;  // outlives the pool's threads
  ScanPool pool(scanner, jobs);
  if (Status st = pool.Start(git_repository_path(repo.p)); !st.ok()) return st;
  CommitSplitter splitter(scanner, repo.p, odb.p, shallow, &pool);
  git_oid id;
  int rc;
  while ((rc = next_commit(&id)) == 0) {
    Status st = splitter.Split(id, &result);
    if (!st.ok()) return Status::Error(fmt::format("{}: {}", options.repo_dir, st.message()));
    ++result.commits;
    if (options.progress && result.commits % kProgressEvery == 0) options.progress(result.commits);
  }
  if (rc != GIT_ITEROVER) {
    return Status::Error(
        fmt::format("{}: walking the history failed: {}", options.repo_dir, GitError()));
  }
  std::vector<std::string> errors = pool.Finish(report);
  if (options.progress) options.progress(result.commits);
  for (size_t i = 0; i < errors.size() && i < kMaxBlobErrors; ++i)
    report->errors.push_back(std::move(errors[i]));
  if (errors.size() > kMaxBlobErrors) {
    report->errors.push_back(
        fmt::format("… and {} more blobs that could not be read", errors.size() - kMaxBlobErrors));
  }

  result.state_tips = PruneTips(repo.p, odb.p, shallow, std::move(state));
  if (!options.state_file.empty() && errors.empty()) {
    // The findings stand; the CLI still prints them, then fails on the error.
    Status st = WriteHistoryState(options.state_file, result.state_tips);
    if (!st.ok()) report->errors.push_back(st.message());
  }
  report->stats.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace glassbox::scan
