#include "probe/report.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

namespace glassbox::probe {
namespace {

struct Fixture {
  Matrix matrix;
  Analysis analysis;
};

// A two-cell probe where the Shanghai cell swaps an apostrophe and a
// telemetry request carries the host name and an HTML-looking value.
Fixture Make() {
  Fixture f;
  auto dim = ParseVary("TZ=Asia/Shanghai");
  EXPECT_TRUE(dim.ok());
  f.matrix = *BuildMatrix(DefaultBaseline(), {*dim}, Design::kOneAtATime);
  std::vector<std::vector<RunCapture>> runs(2);
  for (size_t c = 0; c < 2; ++c) {
    for (int r = 0; r < 2; ++r) {
      RunCapture run;
      run.exit_code = 0;
      CapturedRequest p;
      p.method = "POST";
      p.host = "api.anthropic.com";
      p.target = "/v1/messages";
      p.body = std::string(R"({"system":[{"text":"x"},{"text":"You)") + (c == 1 ? "\u02BC" : "'") +
               R"(re <b>kind</b>"}]})";
      CapturedRequest t;
      t.method = "POST";
      t.host = "t.example.net";
      t.target = "/e";
      t.body = R"({"host":")" + f.matrix.cells[c].hostname + R"(","n":)" + std::to_string(r) + "}";
      run.requests = {p, t};
      runs[c].push_back(run);
    }
  }
  HostFacts facts;
  facts.now_ms = 1795435200000;
  f.analysis = Analyze(f.matrix, runs, facts);
  return f;
}

TEST(Report, JsonFollowsTheContract) {
  Fixture f = Make();
  std::ostringstream out;
  WriteJsonReport({f.matrix,
                   f.analysis,
                   {2, 2},
                   {"node", "a.js"},
                   "0.1.0",
                   1.5,
                   {{812.25, 790}, {1203.04, 998}}},
                  out);
  boost::system::error_code ec;
  auto doc = boost::json::parse(out.str(), ec);
  ASSERT_FALSE(ec) << out.str();
  const auto& o = doc.as_object();
  EXPECT_EQ(o.at("verdict").as_string(), "covert-marker");
  ASSERT_FALSE(o.at("groups").as_array().empty());
  EXPECT_EQ(o.at("groups").as_array()[0].at("class").as_string(), "covert-marker");
  EXPECT_EQ(o.at("groups").as_array()[0].at("explanation").as_string(), "TZ=Asia/Shanghai");
  EXPECT_TRUE(o.at("failures").as_array().empty());
  ASSERT_EQ(o.at("cells").as_array().size(), 2u);
  EXPECT_EQ(o.at("cells").as_array()[1].at("env").at("TZ").as_string(), "Asia/Shanghai");
  EXPECT_EQ(o.at("cells").as_array()[1].at("runs").as_int64(), 2);
  // Each run's wall time, so that a slow cell can be named (bench/probe_bench.sh prints them).
  const auto& wall = o.at("cells").as_array()[1].at("wall_ms").as_array();
  ASSERT_EQ(wall.size(), 2u);
  EXPECT_DOUBLE_EQ(wall[0].to_number<double>(), 1203.0);
  const auto& d = o.at("differences").as_array().at(0).as_object();
  EXPECT_EQ(d.at("class").as_string(), "covert-marker");
  EXPECT_EQ(d.at("location").as_string(), "POST /v1/messages body .system[1].text");
  EXPECT_EQ(d.at("variables").as_array().at(0).as_string(), "TZ");
  EXPECT_EQ(d.at("codepoints").as_array().size(), 2u);  // U+0027 and U+02BC
  EXPECT_EQ(d.at("by_cell").at("TZ=Asia/Shanghai").as_string(), "You\u02BCre <b>kind</b>");
  EXPECT_NE(std::string(d.at("excerpt").as_string()).find("\\u02BC"), std::string::npos);
  EXPECT_EQ(o.at("noise").as_array().size(), 1u);
  EXPECT_FALSE(o.at("hosts").as_array().empty());
  const auto& idf = o.at("identifying_headers").as_array().at(0);
  EXPECT_EQ(idf.at("carries").as_array().at(0).as_string(), "hostname");
}

// A sandbox limit reached makes a clean-looking probe inconclusive, in every format.
TEST(Report, LimitReachedIsInconclusive) {
  Matrix matrix =
      *BuildMatrix(DefaultBaseline(), {*ParseVary("TZ=Asia/Tokyo")}, Design::kOneAtATime);
  std::vector<std::vector<RunCapture>> runs(2, std::vector<RunCapture>(1));
  runs[1][0].limits_reached = {
      "processes: the agent ran 512 processes and threads at once (limit 512)"};
  Analysis a = Analyze(matrix, runs, HostFacts{});
  EXPECT_FALSE(a.environment_dependent);
  ASSERT_EQ(a.limits_reached.size(), 1u);
  EXPECT_EQ(a.verdict, Verdict::kInconclusive);
  std::ostringstream json, text, html;
  WriteJsonReport({matrix, a, {1, 1}, {"sh"}, "0.1.0", 1}, json);
  WriteTextReport({matrix, a, {1, 1}, {"sh"}, "0.1.0", 1}, text);
  WriteHtmlReport({matrix, a, {1, 1}, {"sh"}, "0.1.0", 1}, html);
  auto doc = boost::json::parse(json.str());
  EXPECT_EQ(doc.at("verdict").as_string(), "inconclusive");
  EXPECT_NE(std::string(doc.at("limits_reached").as_array().at(0).as_string())
                .find("(cell TZ=Asia/Tokyo, run 1)"),
            std::string::npos);
  EXPECT_EQ(text.str().rfind("glassbox probe: INCONCLUSIVE", 0), 0u) << text.str();
  EXPECT_NE(text.str().find("limit reached: processes"), std::string::npos);
  EXPECT_NE(html.str().find("Limits reached"), std::string::npos);
  runs[1][0].limits_reached.clear();
  // Without the limit these silent runs are still inconclusive (no provider
  // was reached), but no longer because of a limit.
  const Analysis without = Analyze(matrix, runs, HostFacts{});
  EXPECT_TRUE(without.limits_reached.empty());
  for (const auto& r : without.inconclusive_reasons)
    EXPECT_EQ(r.find("limit of the sandbox"), std::string::npos) << r;
}

TEST(Report, TextStartsWithTheVerdictAndNamesCodepoints) {
  Fixture f = Make();
  std::ostringstream out;
  WriteTextReport({f.matrix, f.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, out);
  std::string text = out.str();
  EXPECT_EQ(text.rfind("glassbox probe: COVERT MARKER", 0), 0u) << text;
  EXPECT_NE(text.find("follows TZ=Asia/Shanghai"), std::string::npos) << text;
  EXPECT_NE(text.find("You\\u02BCre"), std::string::npos) << text;
  EXPECT_NE(text.find("\u27E6U+02BC MODIFIER LETTER APOSTROPHE\u27E7"), std::string::npos) << text;
  EXPECT_NE(text.find("[covert-marker]"), std::string::npos);
  EXPECT_NE(text.find("t.example.net"), std::string::npos);
}

TEST(Report, HtmlIsSelfContainedAndEscaped) {
  Fixture f = Make();
  std::ostringstream out;
  WriteHtmlReport({f.matrix, f.analysis, {2, 2}, {"node", "<a.js>"}, "0.1.0", 1.5}, out);
  std::string html = out.str();
  EXPECT_EQ(html.find("<b>kind"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;kind"), std::string::npos);
  EXPECT_NE(html.find("&lt;a.js&gt;"), std::string::npos);
  for (const char* external : {"src=", "href=", "@import", "url(", "<script"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_NE(html.find("U+02BC"), std::string::npos);
  EXPECT_NE(html.find("COVERT MARKER"), std::string::npos);
}

TEST(Report, TextCapsEachClassAndCountsTheRest) {
  Fixture f = Make();
  Difference echo;
  echo.cls = DiffClass::kEcho;
  echo.location = "POST /v1/messages header x-n";
  echo.by_cell = {std::string("a"), std::string("b")};
  echo.differing_cells = {1};
  // 30 echo groups (each in its own cells), then one group of 30 fields.
  for (int i = 0; i < 30; ++i) {
    f.analysis.differences.push_back(echo);
    DifferenceGroup g;
    g.cls = DiffClass::kEcho;
    g.cells = {1};
    g.explanation = "x" + std::to_string(i);
    g.members = {f.analysis.differences.size() - 1};
    f.analysis.groups.push_back(g);
  }
  std::ostringstream out;
  WriteTextReport({f.matrix, f.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, out);
  std::string text = out.str();
  size_t shown = 0;
  for (size_t pos = 0; (pos = text.find("POST /v1/messages header x-n", pos)) != std::string::npos;
       ++pos)
    ++shown;
  EXPECT_EQ(shown, 25u);
  EXPECT_NE(text.find("more echo groups"), std::string::npos) << text;

  // One group of many fields: a count and a few examples, not every field.
  Fixture g = Make();
  DifferenceGroup big;
  big.cls = DiffClass::kOtherDependence;
  big.cells = {1};
  big.explanation = "TZ=Asia/Shanghai";
  for (int i = 0; i < 40; ++i) {
    Difference d = echo;
    d.cls = DiffClass::kOtherDependence;
    d.location = "POST /v1/messages body .tools[" + std::to_string(i) + "]";
    g.analysis.differences.push_back(d);
    big.members.push_back(g.analysis.differences.size() - 1);
  }
  g.analysis.groups.push_back(big);
  std::ostringstream out2;
  WriteTextReport({g.matrix, g.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, out2);
  EXPECT_NE(out2.str().find("40 fields follow TZ=Asia/Shanghai"), std::string::npos) << out2.str();
  EXPECT_NE(out2.str().find("and 38 more"), std::string::npos) << out2.str();
}

// An agent that failed in a cell: its status and output in every format.
TEST(Report, FailuresAreShownInEveryFormat) {
  Fixture f = Make();
  CellFailure failure;
  failure.cell = 1;
  failure.label = "TZ=Asia/Shanghai";
  failure.failed_runs = failure.runs = 2;
  failure.whole_cell = true;
  failure.status = "exit status 3";
  failure.output = "Error: <not logged in>";
  f.analysis.failures.push_back(failure);
  std::ostringstream text, json, html;
  WriteTextReport({f.matrix, f.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, text);
  WriteJsonReport({f.matrix, f.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, json);
  WriteHtmlReport({f.matrix, f.analysis, {2, 2}, {"node", "a.js"}, "0.1.0", 1.5}, html);
  EXPECT_NE(text.str().find("TZ=Asia/Shanghai: exit status 3"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("| Error: <not logged in>"), std::string::npos) << text.str();
  EXPECT_NE(json.str().find("\"status\": \"exit status 3\""), std::string::npos) << json.str();
  EXPECT_NE(html.str().find("Error: &lt;not logged in&gt;"), std::string::npos);
}

TEST(Report, VisibleTextAndNames) {
  EXPECT_EQ(VisibleText("a\u200Bb\\c\n\U0001F600"), "a\\u200Bb\\\\c\\n\\U0001F600");
  EXPECT_EQ(VisibleText(std::string("\xff", 1)), "\\xFF");
  EXPECT_EQ(NamedCodepoints("\u2019"), "\u27E6U+2019 RIGHT SINGLE QUOTATION MARK\u27E7");
  EXPECT_EQ(NamedCodepoints(""), "(nothing)");
}

}  // namespace
}  // namespace glassbox::probe
