#include "probe/diff.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include "core/content_encoding.h"

namespace glassbox::probe {
namespace {

CapturedRequest Post(std::string host, std::string target, std::string body) {
  CapturedRequest r;
  r.scheme = "https";
  r.host = std::move(host);
  r.method = "POST";
  r.target = std::move(target);
  r.headers = {
      {"Content-Type", "application/json"}, {"Content-Length", "99"}, {"User-Agent", "agent/1.0"}};
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
  run.requests.push_back(
      Post("openrouter.ai:443", "/api/v1/messages?beta=true",
           R"({"system":[{"type":"text","text":"a"},{"text":"b c"}],"model":"m","n":1,"e":{}})"));
  run.requests.push_back(Post("t.example.com", "/e", "not json"));
  run.requests.push_back(Post("t.example.com", "/e", "again"));
  Cell cell = CellWith({{"ANTHROPIC_BASE_URL", "https://openrouter.ai/api"}});
  auto flat = FlattenRun(run, cell);
  ASSERT_EQ(flat.size(), 3u);
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
  for (const auto& f : AlignRuns(m, {{run}})) EXPECT_EQ(f.key, "network");
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
    if (f.field != "request" || f.key == "network") continue;
    EXPECT_TRUE(f.values[0][0] && f.values[1][0] && f.values[2][0]) << f.key;
    EXPECT_TRUE(f.key == "POST /v1/messages" || f.key == "POST /v1/chat/completions") << f.key;
  }
}

const AlignedField* FindField(const std::vector<AlignedField>& fields, const std::string& key,
                              const std::string& field) {
  for (const auto& f : fields) {
    if (f.key == key && f.field == field) return &f;
  }
  return nullptr;
}

// A content block inserted in front in one cell shifts nothing: the
// original block keeps its position, the new one is "[+0]".
TEST(AlignRuns, InsertedArrayElementShiftsNothing) {
  Matrix m;
  m.cells.push_back(CellWith({}));
  m.cells.push_back(CellWith({}));
  RunCapture a, b;
  a.requests.push_back(Post(
      "api.anthropic.com", "/v1/messages",
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"Today's date is 2026-12-07."}]}]})"));
  b.requests.push_back(Post(
      "api.anthropic.com", "/v1/messages",
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"<reminder>relay</reminder>"},)"
      R"({"type":"text","text":"Today’s date is 2026-12-07."}]}]})"));
  auto fields = AlignRuns(m, {{a}, {b}});
  const AlignedField* text =
      FindField(fields, "POST /v1/messages", "body .messages[0].content[0].text");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->values[0][0], "Today's date is 2026-12-07.");
  EXPECT_EQ(text->values[1][0], "Today\u2019s date is 2026-12-07.");
  const AlignedField* inserted =
      FindField(fields, "POST /v1/messages", "body .messages[0].content[+0].text");
  ASSERT_NE(inserted, nullptr);
  EXPECT_FALSE(inserted->values[0][0].has_value());
  EXPECT_EQ(inserted->values[1][0], "<reminder>relay</reminder>");
}

// OpenTelemetry attributes in another order align by key.
TEST(AlignRuns, KeyValueArraysAlignByKey) {
  Matrix m;
  m.cells.push_back(CellWith({}));
  m.cells.push_back(CellWith({}));
  RunCapture a, b;
  a.requests.push_back(
      Post("otel.example", "/v1/traces",
           R"({"attributes":[{"key":"host.name","value":{"stringValue":"devbox"}},)"
           R"({"key":"os.type","value":{"stringValue":"linux"}}]})"));
  b.requests.push_back(Post("otel.example", "/v1/traces",
                            R"({"attributes":[{"key":"os.type","value":{"stringValue":"linux"}},)"
                            R"({"key":"host.name","value":{"stringValue":"devbox"}}]})"));
  auto fields = AlignRuns(m, {{a}, {b}});
  const AlignedField* os = FindField(fields, "POST otel.example/v1/traces",
                                     "body .attributes[key=os.type].value.stringValue");
  ASSERT_NE(os, nullptr);
  EXPECT_EQ(os->values[0][0], os->values[1][0]);
  for (const auto& f : fields) EXPECT_EQ(f.values[0][0], f.values[1][0]) << f.field;
}

// An extra request (a retry, a quota check) pairs by content, not by order.
TEST(AlignRuns, ExtraRequestIsItsOwnKind) {
  Matrix m;
  m.cells.push_back(CellWith({}));
  m.cells.push_back(CellWith({}));
  RunCapture a, b;
  const std::string main =
      R"({"model":"big","stream":true,"system":"You are an agent.","messages":[{"role":"user","content":"hi"}]})";
  const std::string quota =
      R"({"model":"small","max_tokens":1,"messages":[{"role":"user","content":"quota"}]})";
  a.requests.push_back(Post("api.anthropic.com", "/v1/messages", main));
  b.requests.push_back(Post("api.anthropic.com", "/v1/messages", quota));
  b.requests.push_back(Post("api.anthropic.com", "/v1/messages", main));
  auto fields = AlignRuns(m, {{a}, {b}});
  const AlignedField* system = FindField(fields, "POST /v1/messages", "body .system");
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(system->values[1][0], "You are an agent.");
  const AlignedField* extra = FindField(fields, "POST /v1/messages #2", "request");
  ASSERT_NE(extra, nullptr);
  EXPECT_FALSE(extra->values[0][0].has_value());
  EXPECT_TRUE(extra->values[1][0].has_value());
}

// An agent with its own default host (when no base URL is set) under a base
// path of its own: its API calls are provider requests keyed by the official
// path, so they align with a relay's, and its host is the provider host in the
// network fields (a regression seen on Qwen Code, whose calls to DashScope's
// /compatible-mode/v1 made the baseline "reach no provider"). A POST to some
// ".../messages" without an API client's credentials is not one.
TEST(FlattenRun, ApiCallsAtTheAgentsOwnDefaultHostAreProviderRequests) {
  RunCapture run;
  CapturedRequest api =
      Post("llm.vendor.example", "/compatible-mode/v1/chat/completions", R"({"model":"m"})");
  api.headers.emplace_back("Authorization", "Bearer sk-x");
  api.sni = "llm.vendor.example";
  api.dest_ip = "198.18.0.1";
  run.requests.push_back(api);
  CapturedRequest gemini = Post("g.vendor.example", "/api/v1beta/models/gm:generateContent", "{}");
  gemini.headers.emplace_back("x-goog-api-key", "k");
  run.requests.push_back(gemini);
  run.requests.push_back(Post("t.example.com", "/api/messages", "{}"));
  run.dns.push_back({1, "llm.vendor.example", "A", "udp", "127.0.0.1"});
  run.connections.push_back({2, "tcp", "198.18.0.1", 443, 40000, true});
  Cell cell = CellWith({});
  auto flat = FlattenRun(run, cell);
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[0].key, "POST /v1/chat/completions");
  EXPECT_TRUE(flat[0].to_base_url);
  EXPECT_EQ(flat[1].key, "POST /v1beta/models/gm:generateContent");
  EXPECT_TRUE(flat[1].to_base_url);
  EXPECT_EQ(flat[2].key, "POST t.example.com/api/messages");
  EXPECT_FALSE(flat[2].to_base_url);
  RequestFields net = NetworkFields(run, cell);
  EXPECT_EQ(net.fields.count("lookup (provider host)"), 1u);
  EXPECT_EQ(net.fields.count("connect tcp (provider host):443"), 1u);
}

// A body sent with a Content-Encoding is compared on what it says: two zstd
// streams of one JSON text are one set of fields (a regression seen on Codex,
// whose zstd OTLP metrics were compared byte by byte: binary "text" that
// "followed the zone" and "the locale"). A body that does not decode stays
// as sent.
TEST(FlattenRun, CompressedBodiesAreComparedDecoded) {
  const std::string json = R"({"resourceMetrics":[{"scope":"codex","value":7}]})";
  std::string zst(ZSTD_compressBound(json.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), json.data(), json.size(), 3));
  uLongf zlen = compressBound(json.size());
  std::string zlib(zlen, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(zlib.data()), &zlen,
                     reinterpret_cast<const Bytef*>(json.data()), json.size()),
            Z_OK);
  zlib.resize(zlen);
  RunCapture run;
  CapturedRequest a = Post("t.example.com", "/otlp/v1/metrics", zst);
  a.headers.emplace_back("Content-Encoding", "zstd");
  CapturedRequest b = Post("t.example.com", "/otlp/v1/metrics", zlib);
  b.headers.emplace_back("Content-Encoding", "deflate");
  CapturedRequest c = Post("t.example.com", "/otlp/v1/metrics", "not zstd");
  c.headers.emplace_back("Content-Encoding", "zstd");
  run.requests = {a, b, c};
  auto flat = FlattenRun(run, CellWith({}));
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[0].fields.at("body .resourceMetrics[0].scope"), "codex");
  EXPECT_EQ(flat[1].fields.at("body .resourceMetrics[0].value"), "7");
  EXPECT_EQ(flat[2].fields.at("body"), "not zstd");
  EXPECT_EQ(DecodeContentEncoding("gzip", "x", 100).outcome, DecodedContent::Outcome::kCorrupt);
  EXPECT_EQ(DecodeContentEncoding("identity", "x", 100).body, "x");
  EXPECT_EQ(DecodeContentEncoding("zstd", zst, 10).outcome,
            DecodedContent::Outcome::kTooLarge);  // past the limit
}

TEST(AlignSequences, PairsByOrderAndSimilarity) {
  std::vector<std::string> a = {"x", "apple", "banana", "cherry"};
  std::vector<std::string> b = {"apple", "banana", "cherries"};
  auto sim = [&](size_t i, size_t j) {
    return a[i] == b[j] ? 1.0 : (a[i].substr(0, 4) == b[j].substr(0, 4) ? 0.6 : 0.0);
  };
  auto p = AlignSequences(a.size(), b.size(), sim);
  EXPECT_EQ(p, (std::vector<int>{-1, 0, 1, 2}));
}

// Names looked up, destinations dialled, TLS refusals and resolvers are
// fields of the pseudo-request "network"; hosts of the cell's URLs align.
TEST(NetworkFields, NamesDestinationsAndResolvers) {
  RunCapture run;
  run.dns.push_back({1, "openrouter.ai", "A", "udp", "127.0.0.1"});
  run.dns.push_back({2, "asia-shanghai.tz.exfil.example", "A", "udp", "8.8.8.8"});
  run.connections.push_back({3, "tcp", "198.18.0.1", 443, 40000, true});
  run.connections.push_back({4, "tcp", "203.0.113.8", 443, 40001, false});
  run.tls_failures.push_back({5, "pinned.example", "198.18.0.2", 443, "unknown ca"});
  Cell cell = CellWith({{"ANTHROPIC_BASE_URL", "https://openrouter.ai/api"}});
  RequestFields net = NetworkFields(run, cell);
  EXPECT_EQ(net.fields.count("lookup (provider host)"), 1u);
  EXPECT_EQ(net.fields.count("lookup asia-shanghai.tz.exfil.example"), 1u);
  EXPECT_EQ(net.fields.count("resolver 8.8.8.8"), 1u);
  EXPECT_EQ(net.fields.count("connect tcp (provider host):443"), 1u);
  EXPECT_EQ(net.fields.count("connect tcp 203.0.113.8:443"), 1u);
  EXPECT_EQ(net.fields.count("tls refused pinned.example"), 1u);
  EXPECT_EQ(net.fields.at("first connection after"), "< 1 s");
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
