#include "scan/walker.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace glassbox::scan
