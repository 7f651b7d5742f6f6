#include "probe/diff.h"

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

CapturedRequest Post(std::string host, std::string target, std::string body) {
  CapturedRequest r;
  r.scheme = "https";
  r.host = std::move(host);
  r.method = "POST";
  r.target = std::move(target);
  r.headers = {{"Content-Type", "application/json"}, {"Content-Length", "99"}, {"User-Agent", "agent/1.0"}};
  r.body = std::move(body);
  return r;
}

Cell CellWith(std::map<std::string, std::string> env) {
  Cell c;
  c.label = "c";
  c.env = std::move(env);
  return c;
}

TEST(FlattenRun, JsonLeavesWithSortedKeysAndBaseUrlKeys) {
  RunCapture run;
  run.requests.push_back(Post("openrouter.ai:443", "/api/v1/messages?beta=true",
                              R"({"system":[{"type":"text","text":"a"},{"text":"b c"}],"model":"m","n":1,"e":{}})"));
  run.requests.push_back(Post("t.example.com", "/e", "not json"));
  run.requests.push_back(Post("t.example.com", "/e", "again"));
  Cell cell = CellWith({{"ANTHROPIC_BASE_URL", "https://openrouter.ai/api"}});
  auto flat = FlattenRun(run, cell);
  ASSERT_EQ(flat.size(), 4u);  // three requests and the process
  EXPECT_EQ(flat[0].key, "POST /v1/messages");
  EXPECT_EQ(flat[0].host, "openrouter.ai");
  EXPECT_EQ(flat[0].fields.at("body .system[1].text"), "b c");
  EXPECT_EQ(flat[0].fields.at("body .n"), "1");
  EXPECT_EQ(flat[0].fields.at("body .e"), "{}");
  EXPECT_EQ(flat[0].fields.at("query beta"), "true");
  EXPECT_EQ(flat[0].fields.at("header user-agent"), "agent/1.0");
  EXPECT_EQ(flat[0].fields.count("header content-length"), 0u);
  EXPECT_EQ(flat[1].key, "POST t.example.com/e");
  EXPECT_EQ(flat[1].fields.at("body"), "not json");
  EXPECT_EQ(flat[2].key, "POST t.example.com/e #2");
  EXPECT_EQ(flat[3].fields.at("exit status"), "-1");
}

TEST(FlattenRun, AbsoluteFormTargetsAndHardCodedIps) {
  RunCapture run;
  CapturedRequest r;
  r.method = "GET";
  r.host = "";
  r.dest_ip = "203.0.113.7";
  r.target = "http://203.0.113.7:80/x?id=%41%2F";
  r.via_proxy = true;
  run.requests.push_back(r);
  auto flat = FlattenRun(run, CellWith({}));
  EXPECT_EQ(flat[0].key, "GET 203.0.113.7/x");
  EXPECT_EQ(flat[0].fields.at("query id"), "A/");
}

TEST(FlattenRun, ProxyConnectIsATunnelNotARequest) {
  RunCapture run;
  CapturedRequest c;
  c.method = "CONNECT";
  c.host = "api.anthropic.com:443";
  c.target = "api.anthropic.com:443";
  run.requests.push_back(c);
  auto flat = FlattenRun(run, CellWith({}));
  EXPECT_TRUE(flat[0].is_tunnel);
  EXPECT_EQ(flat[0].host, "api.anthropic.com");
  Matrix m;
  m.cells.push_back(CellWith({}));
  for (const auto& f : AlignRuns(m, {{run}})) EXPECT_EQ(f.key, "process");
}

TEST(AlignRuns, AlignsAcrossCellsWhoseBaseUrlDiffers) {
  Matrix m;
  m.cells.push_back(CellWith({{"ANTHROPIC_BASE_URL", "https://api.anthropic.com"}}));
  m.cells.push_back(CellWith({{"ANTHROPIC_BASE_URL", "https://llm-gw.example-corp.com"}}));
  RunCapture a, b;
  a.requests.push_back(Post("api.anthropic.com", "/v1/messages", R"({"x":"1"})"));
  b.requests.push_back(Post("llm-gw.example-corp.com", "/v1/messages", R"({"x":"2","y":true})"));
  auto fields = AlignRuns(m, {{a}, {b}});
  const AlignedField* x = nullptr;
  const AlignedField* y = nullptr;
  for (const auto& f : fields) {
    if (f.field == "body .x") x = &f;
    if (f.field == "body .y") y = &f;
  }
  ASSERT_TRUE(x && y);
  EXPECT_EQ(x->values[0][0], "1");
  EXPECT_EQ(x->values[1][0], "2");
  EXPECT_FALSE(y->values[0][0].has_value());
  EXPECT_TRUE(y->request_present[0][0]);
  EXPECT_EQ(FieldLocation(*x), "POST /v1/messages body .x");
}

TEST(AlignRuns, ProviderPathsAlignWhenEveryBaseUrlSharesARelayHost) {
  Matrix m;
  m.cells.push_back(CellWith({{"ANTHROPIC_BASE_URL", "https://api.anthropic.com"},
                              {"OPENAI_BASE_URL", "https://api.openai.com/v1"}}));
  m.cells.push_back(CellWith({{"ANTHROPIC_BASE_URL", "https://openrouter.ai/api"},
                              {"OPENAI_BASE_URL", "https://openrouter.ai/api/v1"}}));
  m.cells.push_back(CellWith({}));  // variables unset: the agent's defaults
  RunCapture a, b, c;
  a.requests.push_back(Post("api.anthropic.com", "/v1/messages", "{}"));
  a.requests.push_back(Post("api.openai.com", "/v1/chat/completions", "{}"));
  b.requests.push_back(Post("openrouter.ai", "/api/v1/messages", "{}"));
  b.requests.push_back(Post("openrouter.ai", "/api/v1/chat/completions", "{}"));
  c.requests.push_back(Post("api.anthropic.com", "/v1/messages", "{}"));
  c.requests.push_back(Post("api.openai.com", "/v1/chat/completions", "{}"));
  for (const auto& f : AlignRuns(m, {{a}, {b}, {c}})) {
    if (f.field != "request" || f.key == "process") continue;
    EXPECT_TRUE(f.values[0][0] && f.values[1][0] && f.values[2][0]) << f.key;
    EXPECT_TRUE(f.key == "POST /v1/messages" || f.key == "POST /v1/chat/completions") << f.key;
  }
}

TEST(DiffCodePoints, FindsEachChangedSpan) {
  std::u32string a = DecodeForDiff("Don't stop, it's fine");
  std::u32string b = DecodeForDiff("Don\u02BCt stop, it\u2019s fine");
  auto spans = DiffCodePoints(a, b);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].a_begin, 3u);
  EXPECT_EQ(spans[0].a_end, 4u);
  EXPECT_EQ(b[spans[0].b_begin], U'\u02BC');
  EXPECT_EQ(b[spans[1].b_begin], U'\u2019');
}

TEST(DiffCodePoints, InsertionsDeletionsAndEqual) {
  EXPECT_TRUE(DiffCodePoints(U"same", U"same").empty());
  auto ins = DiffCodePoints(U"ab", U"a\u200Bb");
  ASSERT_EQ(ins.size(), 1u);
  EXPECT_EQ(ins[0].a_begin, ins[0].a_end);
  EXPECT_EQ(ins[0].b_end - ins[0].b_begin, 1u);
  auto del = DiffCodePoints(U"abc", U"");
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].a_end, 3u);
  // Beyond the edit budget: one span from the first to the last difference.
  auto capped = DiffCodePoints(U"xaaaaaaaay", U"zbbbbbbbbw", 4);
  ASSERT_EQ(capped.size(), 1u);
  EXPECT_EQ(capped[0].a_begin, 0u);
  EXPECT_EQ(capped[0].a_end, 10u);
}

TEST(DiffCodePoints, InvalidBytesStayDistinct) {
  std::u32string a = DecodeForDiff(std::string("a\xff", 2));
  std::u32string b = DecodeForDiff(std::string("a\xfe", 2));
  EXPECT_NE(a, b);
  EXPECT_EQ(EncodeFromDiff(a), std::string("a\xff", 2));
}

TEST(WidenToWords, GrowsToWholeWords) {
  std::u32string a = U"at 10:15 today";
  std::u32string b = U"at 18:15 today";
  auto spans = WidenToWords(a, b, DiffCodePoints(a, b));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(a.substr(spans[0].a_begin, spans[0].a_end - spans[0].a_begin), U"10");
}

}  // namespace
}  // namespace glassbox::probe
