#include "scan/walker.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace glassbox::scan {
namespace {

TEST(Glob, Basics) {
  EXPECT_TRUE(GlobMatch("*.js", "a.js"));
  EXPECT_FALSE(GlobMatch("*.js", "src/a.js"));
  EXPECT_TRUE(GlobMatch("src/*.js", "src/a.js"));
  EXPECT_TRUE(GlobMatch("**/*.js", "a.js"));
  EXPECT_TRUE(GlobMatch("**/*.js", "x/y/a.js"));
  EXPECT_TRUE(GlobMatch("vendor/**", "vendor/a/b.c"));
  EXPECT_TRUE(GlobMatch("docs/**/*.md", "docs/a/b/c.md"));
  EXPECT_TRUE(GlobMatch("docs/**/*.md", "docs/c.md"));
  EXPECT_FALSE(GlobMatch("docs/**/*.md", "src/c.md"));
}

namespace fs = std::filesystem;

// A random tree: nested folders, files at every level, some folders empty.
std::string MakeTree(const fs::path& root, std::mt19937* rng) {
  std::vector<fs::path> dirs = {root};
  for (int k = 0; k < 40; ++k) {
    const fs::path d = dirs[(*rng)() % dirs.size()] / ("d" + std::to_string(k));
    fs::create_directory(d);
    dirs.push_back(d);
  }
  for (int k = 0; k < 120; ++k) {
    std::ofstream(dirs[(*rng)() % dirs.size()] / ("f" + std::to_string(k) + ".txt"))
        << "file " << k << "\n";
  }
  return root.string();
}

// Reads a walked file the way the scanner opens it: by name in its open
// directory when it has one, else by path.
std::string ReadWalked(const WalkedFile& f) {
  const int fd = f.dir != nullptr ? openat(f.dir->fd(), f.path.c_str() + f.name_offset, O_RDONLY)
                                  : open(f.path.c_str(), O_RDONLY);
  if (fd < 0) return "<cannot open>";
  std::string out(4096, '\0');
  const ssize_t n = read(fd, out.data(), out.size());
  close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// WalkEachFile hands out the files WalkEach lists, in the same order, and
// each opened relative to its directory is the file its path names; no more
// than max_open_dirs directories are held by the files at once (each file
// here is held until the walk ends), and with 0 none are.
TEST(WalkEachFile, OpenDirectoriesNameTheSameFilesAsThePaths) {
  char tmpl[] = "/tmp/glassbox-walk-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::mt19937 rng(7);
  const std::string root = MakeTree(tmpl, &rng);
  std::vector<std::string> by_path;
  WalkEach({root}, {}, [&](std::string p) { by_path.push_back(std::move(p)); });
  ASSERT_EQ(by_path.size(), 120u);
  for (size_t max_open : {size_t{0}, size_t{1}, size_t{5}, size_t{1000}}) {
    WalkOptions options;
    options.max_open_dirs = max_open;
    std::vector<WalkedFile> held;
    WalkEachFile({root}, options, [&](WalkedFile f) { held.push_back(std::move(f)); });
    ASSERT_EQ(held.size(), by_path.size()) << max_open;
    std::vector<const OpenDir*> dirs;
    for (size_t k = 0; k < held.size(); ++k) {
      const WalkedFile& f = held[k];
      EXPECT_EQ(f.path, by_path[k]);
      if (f.dir != nullptr) {
        EXPECT_EQ(f.path[f.name_offset - 1], '/') << f.path;
        dirs.push_back(f.dir.get());
      }
      std::ifstream in(f.path);
      const std::string want((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      EXPECT_EQ(ReadWalked(f), want) << f.path;
    }
    std::sort(dirs.begin(), dirs.end());
    dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
    EXPECT_LE(dirs.size(), max_open) << max_open;
    if (max_open >= 1000) {
      EXPECT_GE(dirs.size(), 20u);  // the files are spread over the folders
    }
  }
  // A file named as an input is handed out by path.
  std::vector<WalkedFile> one;
  WalkEachFile({by_path[0]}, {}, [&](WalkedFile f) { one.push_back(std::move(f)); });
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].dir, nullptr);
  fs::remove_all(root);
}

// A tree deeper than the walk holds directories open for (a hostile one
// could be thousands deep): every file is still handed out, the deep ones by
// path, and each opens as the file its path names.
TEST(WalkEachFile, DeepTreesAreWalkedWithoutHoldingEveryLevelOpen) {
  char tmpl[] = "/tmp/glassbox-deep-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  for (int level = 0; level < 150; ++level) {
    dir /= "d";
    fs::create_directory(dir);
    std::ofstream(dir / "f.txt") << "level " << level << "\n";
  }
  std::vector<std::string> by_path;
  WalkEach({tmpl}, {}, [&](std::string p) { by_path.push_back(std::move(p)); });
  ASSERT_EQ(by_path.size(), 150u);
  WalkOptions options;
  options.max_open_dirs = 1000;
  std::vector<WalkedFile> held;
  WalkEachFile({tmpl}, options, [&](WalkedFile f) { held.push_back(std::move(f)); });
  ASSERT_EQ(held.size(), by_path.size());
  size_t with_dir = 0;
  for (size_t k = 0; k < held.size(); ++k) {
    EXPECT_EQ(held[k].path, by_path[k]);
    std::ifstream in(held[k].path);
    const std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(ReadWalked(held[k]), want) << held[k].path;
    with_dir += held[k].dir != nullptr ? 1 : 0;
  }
  EXPECT_GE(with_dir, 50u);   // the upper levels go by their open directory
  EXPECT_LT(with_dir, 150u);  // the deepest by path
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace glassbox::scan
