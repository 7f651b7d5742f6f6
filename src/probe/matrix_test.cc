#include "probe/matrix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace glassbox::probe {
namespace {

TEST(ParseVary, SingleVariable) {
  auto dim = ParseVary("TZ=Asia/Shanghai,Asia/Singapore");
  ASSERT_TRUE(dim.ok()) << dim.status().message();
  EXPECT_EQ(dim->variables, std::vector<std::string>{"TZ"});
  ASSERT_EQ(dim->values.size(), 2u);
  EXPECT_EQ(dim->values[1].label, "Asia/Singapore");
  EXPECT_EQ(dim->values[1].assign[0],
            (std::pair<std::string, std::string>{"TZ", "Asia/Singapore"}));
}

TEST(ParseVary, LinkedVariablesAndUnset) {
  auto dim = ParseVary("LANG+LC_ALL=zh_CN.UTF-8,");
  ASSERT_TRUE(dim.ok()) << dim.status().message();
  ASSERT_EQ(dim->values.size(), 2u);
  EXPECT_EQ(dim->values[0].assign.size(), 2u);
  EXPECT_EQ(dim->values[1].label, "(unset)");
}

TEST(ParseVary, RejectsBadInput) {
  for (const char* bad :
       {"TZ", "=x", "1TZ=a", "A B=c", "@hostname=a/b", "@localtime=../../etc/passwd", "@bogus=1"}) {
    auto dim = ParseVary(bad);
    EXPECT_FALSE(dim.ok()) << bad;
    if (!dim.ok()) {
      EXPECT_NE(dim.status().message().find("--vary"), std::string::npos) << bad;
    }
  }
}

TEST(BuildMatrix, OneAtATimeAroundBaseline) {
  auto tz = ParseVary("TZ=Asia/Shanghai,Europe/Berlin");
  auto host = ParseVary("@hostname=ci-7,devbox-7f3a");
  ASSERT_TRUE(tz.ok() && host.ok());
  auto m = BuildMatrix(DefaultBaseline(), {*tz, *host}, Design::kOneAtATime);
  ASSERT_TRUE(m.ok()) << m.status().message();
  // devbox-7f3a is the baseline's own host name: no cell for it.
  ASSERT_EQ(m->cells.size(), 4u);
  EXPECT_EQ(m->cells[0].label, "baseline");
  EXPECT_TRUE(m->cells[0].varied.empty());
  EXPECT_EQ(m->cells[1].label, "TZ=Asia/Shanghai");
  EXPECT_EQ(m->cells[1].varied.at("TZ"), "Asia/Shanghai");
  EXPECT_EQ(m->cells[1].hostname, "devbox-7f3a");
  EXPECT_EQ(m->cells[3].hostname, "ci-7");
  EXPECT_EQ(m->cells[3].varied.at("@hostname"), "ci-7");
  EXPECT_EQ(m->cells[3].Get("TZ"), "");
  EXPECT_EQ(m->cells[3].timezone, "UTC");
}

TEST(BuildMatrix, CrossProduct) {
  auto tz = ParseVary("TZ=Asia/Shanghai,Europe/Berlin");
  auto lang = ParseVary("LANG=de_DE.UTF-8");
  ASSERT_TRUE(tz.ok() && lang.ok());
  auto m = BuildMatrix(DefaultBaseline(), {*tz, *lang}, Design::kCross);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cells.size(), 6u);  // (1 + 2) * (1 + 1)
  bool found = false;
  for (const auto& c : m->cells) {
    if (c.varied.size() == 2 && c.Get("TZ") == "Europe/Berlin" && c.Get("LANG") == "de_DE.UTF-8")
      found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(BuildMatrix(DefaultBaseline(), {*tz, *lang}, Design::kCross, 5).ok());
}

TEST(BuildMatrix, UnsetRemovesTheVariable) {
  auto dim = ParseVary("ANTHROPIC_BASE_URL=");
  ASSERT_TRUE(dim.ok());
  auto m = BuildMatrix(DefaultBaseline(), {*dim}, Design::kOneAtATime);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->cells.size(), 2u);
  EXPECT_EQ(m->cells[1].env.count("ANTHROPIC_BASE_URL"), 0u);
  EXPECT_EQ(m->cells[1].varied.at("ANTHROPIC_BASE_URL"), "");
}

TEST(DefaultDimensions, CoversTheIssueList) {
  const std::vector<std::string> argv = {"node", "agent.js"};
  auto dims = DefaultDimensions(argv);
  auto m = BuildMatrix(BaselineFor(dims, argv), dims, Design::kPairwise);
  ASSERT_TRUE(m.ok());
  std::set<std::string> varied;
  for (const auto& c : m->cells) {
    for (const auto& [k, v] : c.varied) varied.insert(k + "=" + v);
  }
  for (const char* want :
       {"TZ=Asia/Shanghai", "TZ=Asia/Singapore", "TZ=America/New_York", "@localtime=Asia/Shanghai",
        "LANG=zh_CN.UTF-8", "LC_ALL=ja_JP.UTF-8", "ANTHROPIC_BASE_URL=https://openrouter.ai/api",
        "OPENAI_BASE_URL=https://llm-gw.example-corp.com/v1", "@hostname=wks-berlin-042",
        "@user=li.wei", "HTTPS_PROXY=http://proxy.example-corp.com:8080"}) {
    EXPECT_TRUE(varied.count(want)) << want;
  }
  // Small enough for a real agent, and the baseline sets only what the matrix uses.
  EXPECT_LE(m->cells.size(), 30u);
  EXPECT_EQ(m->cells[0].Get("ANTHROPIC_BASE_URL"), "");
  EXPECT_EQ(m->cells[0].Get("LANG"), "en_US.UTF-8");
  EXPECT_EQ(m->cells[0].Get("ANTHROPIC_API_KEY").empty(), false);
}

// Every pair of levels of every two dimensions is in some row: the default
// matrix's promise that a behaviour needing two settings at once is run.
TEST(CoveringArray, CoversEveryPair) {
  for (const std::vector<int>& levels : std::vector<std::vector<int>>{
           {5, 5, 4, 2, 2, 2}, {2, 2}, {3}, {4, 3, 3, 3, 3}, {6, 2, 2, 2, 2, 2, 2, 2}}) {
    auto rows = CoveringArray(levels);
    ASSERT_FALSE(rows.empty());
    for (int v : rows[0]) EXPECT_EQ(v, 0);
    for (size_t d1 = 0; d1 < levels.size(); ++d1) {
      for (size_t d2 = d1 + 1; d2 < levels.size(); ++d2) {
        for (int a = 0; a < levels[d1]; ++a) {
          for (int b = 0; b < levels[d2]; ++b) {
            bool found = std::any_of(rows.begin(), rows.end(),
                                     [&](const auto& r) { return r[d1] == a && r[d2] == b; });
            EXPECT_TRUE(found) << d1 << "=" << a << " " << d2 << "=" << b;
          }
        }
      }
    }
    if (levels == std::vector<int>{5, 5, 4, 2, 2, 2}) {
      EXPECT_LE(rows.size(), 30u);
    }
  }
}

TEST(BuildMatrix, PairwiseCellsRecordTheirLevels) {
  auto tz = ParseVary("TZ=Asia/Shanghai,Asia/Singapore");
  auto base = ParseVary("ANTHROPIC_BASE_URL=https://a.example,https://b.example");
  ASSERT_TRUE(tz.ok() && base.ok());
  auto m = BuildMatrix(DefaultBaseline(), {*tz, *base}, Design::kPairwise);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cells.size(), 9u);  // 3 x 3: two dimensions, every pair
  for (const auto& c : m->cells) {
    ASSERT_EQ(c.levels.size(), 2u);
    EXPECT_EQ(c.levels[0] == 0, c.Get("TZ").empty()) << c.label;
  }
}

TEST(BaselineFor, OnlyWhatTheMatrixUsesAndSetWins) {
  auto tz = ParseVary("TZ=Asia/Shanghai");
  ASSERT_TRUE(tz.ok());
  std::map<std::string, std::string> set;
  ASSERT_TRUE(ParseSet("FOO=bar", &set).ok());
  ASSERT_TRUE(ParseSet("@hostname=ci-1", &set).ok());
  EXPECT_FALSE(ParseSet("=x", &set).ok());
  EXPECT_FALSE(ParseSet("1A=x", &set).ok());
  Baseline b = BaselineFor({*tz}, {"/usr/bin/gemini"}, set);
  EXPECT_EQ(b.env.count("LANG"), 0u);
  EXPECT_EQ(b.env.count("GOOGLE_GEMINI_BASE_URL"), 0u);  // unset: the agent picks its own default
  EXPECT_EQ(b.env.count("GEMINI_API_KEY"), 1u);
  EXPECT_EQ(b.env.count("ANTHROPIC_API_KEY"), 0u);
  EXPECT_EQ(b.env.at("FOO"), "bar");
  EXPECT_EQ(b.hostname, "ci-1");
}

TEST(BaseUrlVariables, DetectsFromTheCommand) {
  EXPECT_EQ(BaseUrlVariables({"/usr/bin/claude", "-p", "hi"}),
            std::vector<std::string>{"ANTHROPIC_BASE_URL"});
  EXPECT_EQ(BaseUrlVariables({"npx", "@google/gemini-cli"}),
            std::vector<std::string>{"GOOGLE_GEMINI_BASE_URL"});
  EXPECT_EQ(BaseUrlVariables({"node", "x.js"}).size(), 3u);
}

TEST(MatrixToml, ParsesBaselineVaryAndCross) {
  auto m = ParseMatrixToml(R"(
cross = false
[baseline]
"@hostname" = "ci-runner-1"
TZ = "Europe/Berlin"
[[vary]]
variable = "TZ"
values = ["Asia/Shanghai"]
[[vary]]
variables = ["LANG", "LC_ALL"]
values = ["ja_JP.UTF-8"]
)",
                           "m.toml", {"node", "x.js"});
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->cells.size(), 3u);
  EXPECT_EQ(m->cells[0].hostname, "ci-runner-1");
  EXPECT_EQ(m->cells[0].Get("TZ"), "Europe/Berlin");
  EXPECT_EQ(m->cells[2].Get("LC_ALL"), "ja_JP.UTF-8");
}

TEST(MatrixToml, BaselineOnlyAndDesign) {
  auto only = ParseMatrixToml("[baseline]\nANTHROPIC_BASE_URL = \"https://relay.example\"\n",
                              "m.toml", {"claude"});
  ASSERT_TRUE(only.ok()) << only.status().message();
  ASSERT_EQ(only->cells.size(), 1u);
  EXPECT_EQ(only->cells[0].Get("ANTHROPIC_BASE_URL"), "https://relay.example");
  auto pairwise = ParseMatrixToml(
      "design = \"pairwise\"\n[[vary]]\nvariable = \"TZ\"\nvalues = [\"Asia/Shanghai\"]\n"
      "[[vary]]\nvariable = \"@user\"\nvalues = [\"li.wei\"]\n",
      "m.toml", {"claude"});
  ASSERT_TRUE(pairwise.ok()) << pairwise.status().message();
  EXPECT_EQ(pairwise->design, Design::kPairwise);
  EXPECT_EQ(pairwise->cells.size(), 4u);
  EXPECT_FALSE(ParseMatrixToml("design = \"random\"\n", "m.toml", {}).ok());
}

TEST(MatrixToml, ErrorsNameTheFileAndReason) {
  auto bad_syntax = ParseMatrixToml("[[vary]\nvariable=", "m.toml", {});
  ASSERT_FALSE(bad_syntax.ok());
  EXPECT_NE(bad_syntax.status().message().find("m.toml:"), std::string::npos);
  auto no_values = ParseMatrixToml("[[vary]]\nvariable = \"TZ\"\n", "m.toml", {});
  ASSERT_FALSE(no_values.ok());
  EXPECT_NE(no_values.status().message().find("values"), std::string::npos);
  auto unknown = ParseMatrixToml("colour = 1\n", "m.toml", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("colour"), std::string::npos);
  EXPECT_FALSE(LoadMatrixFile("/nonexistent/m.toml", {}).ok());
}

}  // namespace
}  // namespace glassbox::probe
