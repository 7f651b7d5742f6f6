#include "scan/history.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace glassbox::scan {
namespace {

namespace fs = std::filesystem;

// A throw-away repository driven by the git command line.
class TempRepo {
 public:
  TempRepo() {
    std::string tmpl = (fs::temp_directory_path() / "glassbox-history-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
    Git("init -q");
  }
  ~TempRepo() { fs::remove_all(path_); }
  TempRepo(const TempRepo&) = delete;
  TempRepo& operator=(const TempRepo&) = delete;

  void Write(const std::string& rel, std::string_view content) const {
    const fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  // Runs git in the repository, with a fixed identity and no user config.
  void Git(const std::string& args) const {
    const std::string cmd =
        "cd '" + path_ +
        "' && GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent git -c user.name=Test "
        "-c user.email=test@example.com -c commit.gpgsign=false -c init.defaultBranch=main " +
        args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  // Commits everything staged with `message` (any bytes); returns the id.
  std::string Commit(const std::string& message) {
    Write(".git/test-message", message);
    Git("add -A .");
    Git("commit -q --allow-empty -F .git/test-message");
    return Head();
  }
  std::string Head() const { return RevParse("HEAD"); }
  std::string RevParse(const std::string& rev) const {
    std::string out;
    FILE* p = popen(("cd '" + path_ + "' && git rev-parse " + rev).c_str(), "r");
    if (p == nullptr) return out;
    char buf[128];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A GitHub token shape made here, so no secret-shaped literal sits in the source.
std::string FakeGithubToken() {
  static const char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlnum - 2);
  std::string token = "ghp_";
  for (int i = 0; i < 36; ++i) token += kAlnum[pick(rng)];
  return token;
}

std::unique_ptr<Scanner> Make(ScanOptions options = {}) {
  auto s = Scanner::Create(std::move(options));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s.value());
}

struct HistoryRun {
  Report report;
  HistoryResult result;
};

HistoryRun Scan(const Scanner& scanner, HistoryOptions options) {
  HistoryRun run;
  auto r = ScanHistory(scanner, options, &run.report);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (r.ok()) run.result = std::move(r.value());
  return run;
}

std::vector<const Finding*> Matching(const Report& report, std::string_view rule_prefix) {
  std::vector<const Finding*> out;
  for (const Finding& f : report.findings) {
    if (f.rule.rfind(rule_prefix, 0) == 0) out.push_back(&f);
  }
  return out;
}

constexpr const char* kRlo = "\xE2\x80\xAE";       // U+202E RIGHT-TO-LEFT OVERRIDE
constexpr const char* kTagA = "\xF3\xA0\x81\x81";  // U+E0041 TAG LATIN CAPITAL LETTER A

// The scenario of the brief: a secret added then deleted, and a commit
// message with a bidi override, scanned in full and incrementally.
class HistoryScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    token_ = FakeGithubToken();
    repo_.Write("deploy/settings.env", "GITHUB_TOKEN=" + token_ + "\n");
    repo_.Write("README.md", "A project.\n");
    c1_ = repo_.Commit("Add deployment settings\n");
    repo_.Git("rm -q deploy/settings.env");
    c2_ = repo_.Commit("Remove the settings again\n");
    repo_.Write("src/main.py", "print('hello')\n");
    c3_ = repo_.Commit(std::string("Add main ") + kRlo + "gnp.exe\n");
  }

  TempRepo repo_;
  std::string token_, c1_, c2_, c3_;
};

TEST_F(HistoryScenario, FindsTheDeletedSecretAndTheMessage) {
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo_.path()});
  EXPECT_TRUE(run.report.errors.empty());
  EXPECT_EQ(run.result.commits, 3u);

  auto secrets = Matching(run.report, "secret/github-pat");
  ASSERT_EQ(secrets.size(), 1u);
  EXPECT_EQ(secrets[0]->commit, c1_);
  EXPECT_EQ(secrets[0]->path, "deploy/settings.env");
  EXPECT_EQ(secrets[0]->line, 1u);
  EXPECT_EQ(secrets[0]->snippet.find(token_), std::string::npos) << "secrets stay masked";

  auto hidden = Matching(run.report, "unicode/");
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden[0]->commit, c3_);
  EXPECT_EQ(hidden[0]->path, "COMMIT_MSG");
  EXPECT_EQ(hidden[0]->line, 1u);
  for (const Finding& f : run.report.findings) EXPECT_EQ(f.commit.size(), 40u) << f.rule;
}

TEST_F(HistoryScenario, IncrementalRunReportsOnlyNewCommits) {
  auto scanner = Make();
  const std::string state = repo_.path() + "/.git/glassbox-state";
  // The state as a run right after commit 2 would have left it.
  HistoryRun first = Scan(*scanner, {.repo_dir = repo_.path(), .range = c2_, .state_file = state});
  EXPECT_EQ(first.result.commits, 2u);
  EXPECT_EQ(Matching(first.report, "secret/github-pat").size(), 1u);
  bool exists = false;
  auto saved = ReadHistoryState(state, &exists);
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_TRUE(exists);
  EXPECT_EQ(saved.value(), std::vector<std::string>{c2_});

  HistoryRun second = Scan(*scanner, {.repo_dir = repo_.path(), .state_file = state});
  EXPECT_EQ(second.result.commits, 1u);
  ASSERT_FALSE(second.report.findings.empty());
  for (const Finding& f : second.report.findings)
    EXPECT_EQ(f.commit, c3_) << f.rule << " " << f.path;
  EXPECT_TRUE(Matching(second.report, "secret/").empty());
  saved = ReadHistoryState(state, &exists);
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved.value(), std::vector<std::string>{c3_});

  HistoryRun third = Scan(*scanner, {.repo_dir = repo_.path(), .state_file = state});
  EXPECT_EQ(third.result.commits, 0u);
  EXPECT_TRUE(third.report.findings.empty());
}

TEST_F(HistoryScenario, RangeSelectsCommits) {
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo_.path(), .range = c1_ + ".." + c3_});
  EXPECT_EQ(run.result.commits, 2u);
  EXPECT_TRUE(Matching(run.report, "secret/").empty());
  EXPECT_EQ(Matching(run.report, "unicode/").size(), 1u);

  HistoryRun single = Scan(*scanner, {.repo_dir = repo_.path(), .range = "HEAD~1"});
  EXPECT_EQ(single.result.commits, 2u);
  EXPECT_EQ(Matching(single.report, "secret/github-pat").size(), 1u);
  EXPECT_TRUE(Matching(single.report, "unicode/").empty());

  HistoryRun open_right = Scan(*scanner, {.repo_dir = repo_.path(), .range = c2_ + ".."});
  EXPECT_EQ(open_right.result.commits, 1u);
}

TEST_F(HistoryScenario, SymmetricRange) {
  repo_.Git("checkout -q -b side " + c1_);
  repo_.Write("side.txt", std::string("side ") + kTagA + "\n");
  const std::string side = repo_.Commit("side\n");
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo_.path(), .range = "main...side"});
  EXPECT_EQ(run.result.commits, 3u);  // c2, c3 and side; not c1, their merge base
  EXPECT_TRUE(Matching(run.report, "secret/").empty());
  EXPECT_EQ(Matching(run.report, "unicode/tag-characters").size(), 1u);
  std::vector<std::string> want = {c3_, side};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(run.result.state_tips, want);
}

TEST_F(HistoryScenario, OutputDoesNotDependOnThreads) {
  ScanOptions one;
  one.jobs = 1;
  ScanOptions many;
  many.jobs = 4;
  HistoryRun a = Scan(*Make(one), {.repo_dir = repo_.path()});
  HistoryRun b = Scan(*Make(many), {.repo_dir = repo_.path()});
  ASSERT_EQ(a.report.findings.size(), b.report.findings.size());
  for (size_t i = 0; i < a.report.findings.size(); ++i) {
    EXPECT_EQ(a.report.findings[i].fingerprint, b.report.findings[i].fingerprint);
    EXPECT_EQ(a.report.findings[i].commit, b.report.findings[i].commit);
  }
  EXPECT_EQ(a.report.stats.files, b.report.stats.files);
  EXPECT_EQ(a.report.stats.files, 3u + 3u);  // three messages, three distinct blobs
}

TEST_F(HistoryScenario, TooLargeBlobsAreErrorsAndKeepTheState) {
  ScanOptions options;
  options.max_file_bytes = 20;  // the settings file is larger; README.md and main.py are not
  auto scanner = Make(options);
  const std::string state = repo_.path() + "/.git/glassbox-state";
  HistoryRun run = Scan(*scanner, {.repo_dir = repo_.path(), .state_file = state});
  ASSERT_EQ(run.report.errors.size(), 1u);
  EXPECT_NE(run.report.errors[0].find(c1_.substr(0, 12) + ":deploy/settings.env"),
            std::string::npos)
      << run.report.errors[0];
  EXPECT_EQ(run.report.stats.too_large_skipped, 1u);
  EXPECT_FALSE(fs::exists(state)) << "the state is not advanced past what could not be scanned";
}

TEST_F(HistoryScenario, ExcludesApplyToBlobPaths) {
  ScanOptions options;
  options.excludes = {"deploy/"};
  auto scanner = Make(options);
  HistoryRun run = Scan(*scanner, {.repo_dir = repo_.path()});
  EXPECT_TRUE(Matching(run.report, "secret/").empty());
  EXPECT_EQ(run.result.excluded, 1u);
  options.excludes = {"*.env"};
  scanner = Make(options);
  EXPECT_TRUE(Matching(Scan(*scanner, {.repo_dir = repo_.path()}).report, "secret/").empty());
}

TEST_F(HistoryScenario, ReportsProgress) {
  auto scanner = Make();
  uint64_t last = 0;
  Scan(*scanner, {.repo_dir = repo_.path(), .progress = [&](uint64_t commits) { last = commits; }});
  EXPECT_EQ(last, 3u);
}

TEST(History, ScansEachBlobOnce) {
  TempRepo repo;
  const std::string hidden = std::string("x = 1  # note") + kTagA + "\n";
  repo.Write("a.py", hidden);
  repo.Write("b.py", hidden);  // the same blob twice in one commit
  const std::string c1 = repo.Commit("two copies\n");
  repo.Git("mv a.py c.py");  // renamed: same blob, new path
  repo.Commit("rename\n");
  repo.Write("b.py", "x = 1\n");
  repo.Commit("clean b\n");
  repo.Write("b.py", hidden);  // reverted: the first blob again
  repo.Commit("revert\n");
  repo.Write("data.bin", std::string("\x00\x01\x02 binary", 10));
  repo.Commit("binary\n");

  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path()});
  EXPECT_EQ(run.result.commits, 5u);
  EXPECT_EQ(run.result.blobs, 3u);              // hidden, clean, binary
  EXPECT_EQ(run.result.blobs_seen_before, 3u);  // b.py in commit 1, c.py, reverted b.py
  EXPECT_EQ(run.report.stats.binary_files, 1u);
  auto tags = Matching(run.report, "unicode/tag-characters");
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0]->commit, c1);
  EXPECT_EQ(tags[0]->path, "a.py");
}

TEST(History, AttributesMergedBlobsToTheCommitThatAddedThem) {
  TempRepo repo;
  repo.Write("a.txt", "base\n");
  repo.Commit("base\n");
  repo.Git("checkout -q -b side");
  repo.Write("side.md", std::string("side ") + kTagA + "\n");
  const std::string side = repo.Commit("side work\n");
  repo.Git("checkout -q main");
  repo.Write("b.txt", "main work\n");
  repo.Commit("main work\n");
  repo.Git("merge -q --no-ff -m merge side");

  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path()});
  EXPECT_EQ(run.result.commits, 4u);
  auto tags = Matching(run.report, "unicode/tag-characters");
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0]->commit, side);
}

TEST(History, WalksShallowClones) {
  TempRepo origin;
  origin.Write("old.env",
               "GITHUB_TOKEN=" + FakeGithubToken() + "\n");  // still in the tree at the boundary
  origin.Commit("one\n");
  origin.Write("a.txt", "two\n");
  origin.Commit("two\n");
  origin.Write("b.txt", "three\n");
  origin.Commit(std::string("three ") + kRlo + "\n");
  TempRepo clone;
  clone.Git("fetch -q --depth 2 file://" + origin.path() + " main");
  clone.Git("reset -q --hard FETCH_HEAD");
  const std::string boundary = clone.RevParse("HEAD~1");

  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = clone.path()});
  EXPECT_TRUE(run.result.shallow);
  EXPECT_EQ(run.result.commits, 2u);
  auto secrets = Matching(run.report, "secret/github-pat");
  ASSERT_EQ(secrets.size(), 1u);
  EXPECT_EQ(secrets[0]->commit, boundary) << "the boundary commit is scanned like a root commit";
  EXPECT_EQ(Matching(run.report, "unicode/").size(), 1u);

  const std::string state = clone.path() + "/.git/state";
  HistoryRun first =
      Scan(*scanner, {.repo_dir = clone.path(), .range = "HEAD~1", .state_file = state});
  EXPECT_EQ(first.result.commits, 1u);
  HistoryRun second = Scan(*scanner, {.repo_dir = clone.path(), .state_file = state});
  EXPECT_EQ(second.result.commits, 1u);
  EXPECT_TRUE(Matching(second.report, "secret/").empty());
  EXPECT_EQ(second.result.state_tips, std::vector<std::string>{clone.Head()});
}

TEST(History, BotAuthorIsReported) {
  TempRepo repo;
  repo.Write("a.txt", "x\n");
  repo.Git("add a.txt");
  repo.Git(
      "commit -q -m 'agent change' --author='copilot-swe-agent[bot] "
      "<198982749+Copilot@users.noreply.github.com>'");
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path()});
  auto bots = Matching(run.report, "provenance/bot-author");
  ASSERT_EQ(bots.size(), 1u);
  EXPECT_EQ(bots[0]->path, "COMMIT_AUTHOR");
  EXPECT_EQ(bots[0]->commit, repo.Head());
}

TEST(History, MessageFingerprintsNameTheCommit) {
  TempRepo repo;
  const std::string message = std::string("same ") + kRlo + "message\n";
  repo.Commit(message);
  repo.Commit(message);
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path()});
  auto hidden = Matching(run.report, "unicode/");
  ASSERT_EQ(hidden.size(), 2u);
  EXPECT_NE(hidden[0]->commit, hidden[1]->commit);
  EXPECT_NE(hidden[0]->fingerprint, hidden[1]->fingerprint);
}

TEST(History, ErrorsNameTheInput) {
  auto scanner = Make();
  Report report;
  const std::string not_repo = fs::temp_directory_path().string() + "/glassbox-no-such-repo";
  auto r = ScanHistory(*scanner, {.repo_dir = not_repo}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(not_repo), std::string::npos) << r.status().message();

  TempRepo empty;
  r = ScanHistory(*scanner, {.repo_dir = empty.path()}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HEAD"), std::string::npos) << r.status().message();

  TempRepo repo;
  repo.Write("a.txt", "x\n");
  repo.Commit("one\n");
  r = ScanHistory(*scanner, {.repo_dir = repo.path(), .range = "no-such-branch..HEAD"}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-branch..HEAD"), std::string::npos)
      << r.status().message();
  r = ScanHistory(*scanner, {.repo_dir = repo.path(), .range = "HEAD:a.txt"}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not name a commit"), std::string::npos)
      << r.status().message();

  const std::string garbled = repo.path() + "/.git/state";
  repo.Write(".git/state", "# ok\nnot a commit id\n");
  r = ScanHistory(*scanner, {.repo_dir = repo.path(), .state_file = garbled}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(garbled + ":2:"), std::string::npos) << r.status().message();

  // A blob id in the state file is not a commit.
  repo.Write(".git/state", repo.RevParse("HEAD:a.txt") + "\n");
  r = ScanHistory(*scanner, {.repo_dir = repo.path(), .state_file = garbled}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a commit"), std::string::npos) << r.status().message();

  const std::string dir_state = repo.path() + "/.git/refs";  // a folder: unreadable as a file
  r = ScanHistory(*scanner, {.repo_dir = repo.path(), .state_file = dir_state}, &report);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir_state), std::string::npos) << r.status().message();
}

TEST(History, UnknownStateCommitsAreReportedAndDropped) {
  TempRepo repo;
  repo.Write("a.txt", "x\n");
  const std::string c1 = repo.Commit("one\n");
  const std::string state = repo.path() + "/.git/state";
  const std::string gone(40, 'a');
  repo.Write(".git/state", gone + "\n");
  auto scanner = Make();
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path(), .state_file = state});
  EXPECT_EQ(run.result.commits, 1u);
  EXPECT_EQ(run.result.unknown_state_commits, std::vector<std::string>{gone});
  EXPECT_EQ(run.result.state_tips, std::vector<std::string>{c1});
}

TEST(History, StateKeepsDivergentTips) {
  TempRepo repo;
  repo.Write("a.txt", "x\n");
  repo.Commit("base\n");
  repo.Git("checkout -q -b other");
  repo.Write("b.txt", "y\n");
  const std::string other = repo.Commit("other\n");
  repo.Git("checkout -q main");
  repo.Write("c.txt", "z\n");
  const std::string main_tip = repo.Commit("main\n");
  const std::string state = repo.path() + "/.git/state";
  auto scanner = Make();
  Scan(*scanner, {.repo_dir = repo.path(), .range = "other", .state_file = state});
  HistoryRun run = Scan(*scanner, {.repo_dir = repo.path(), .state_file = state});
  EXPECT_EQ(run.result.commits, 1u);  // only main's own commit
  std::vector<std::string> want = {other, main_tip};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(run.result.state_tips, want);
}

TEST(HistoryState, ReadsWhatItWrites) {
  TempRepo dir;
  const std::string path = dir.path() + "/state";
  bool exists = true;
  auto missing = ReadHistoryState(path, &exists);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(exists);
  EXPECT_TRUE(missing.value().empty());

  const std::vector<std::string> ids = {std::string(40, '0'), std::string(40, 'f')};
  ASSERT_TRUE(WriteHistoryState(path, ids).ok());
  auto back = ReadHistoryState(path, &exists);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(exists);
  EXPECT_EQ(back.value(), ids);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << "temporary file left behind";
  }

  dir.Write("crlf", "# comment\r\n\r\n  " + std::string(40, 'A') + " \r\n");
  auto crlf = ReadHistoryState(dir.path() + "/crlf", &exists);
  ASSERT_TRUE(crlf.ok()) << crlf.status().message();
  EXPECT_EQ(crlf.value(), std::vector<std::string>{std::string(40, 'a')});

  dir.Write("short", std::string(39, 'a') + "\n");
  EXPECT_FALSE(ReadHistoryState(dir.path() + "/short", &exists).ok());
  EXPECT_FALSE(WriteHistoryState(dir.path() + "/no/such/folder/state", ids).ok());
}

}  // namespace
}  // namespace glassbox::scan
