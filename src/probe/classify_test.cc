#include "probe/classify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <set>

namespace glassbox::probe {
namespace {

// 2026-11-23T12:00:00Z: Berlin is UTC+1, New York UTC-5, Shanghai and Singapore UTC+8.
constexpr int64_t kNow = 1795435200000;

Matrix MakeMatrix(const std::vector<std::string>& vary) {
  std::vector<Dimension> dims;
  for (const auto& v : vary) {
    auto d = ParseVary(v);
    EXPECT_TRUE(d.ok()) << d.status().message();
    dims.push_back(*d);
  }
  auto m = BuildMatrix(DefaultBaseline(), dims, Design::kOneAtATime);
  EXPECT_TRUE(m.ok());
  return *m;
}

CapturedRequest Provider(const Cell& cell, const std::string& system) {
  CapturedRequest r;
  r.scheme = "https";
  std::string base = cell.Get("ANTHROPIC_BASE_URL");
  r.host = base.substr(base.find("://") + 3);
  r.method = "POST";
  r.target = "/v1/messages";
  r.headers = {{"Host", r.host}, {"content-type", "application/json"}};
  r.body = R"({"model":"m","system":[{"type":"text","text":")" + system + R"("}]})";
  return r;
}

// Runs `make_body(cell, run)` for every cell and `runs` runs.
std::vector<std::vector<RunCapture>> Capture(
    const Matrix& m, int runs,
    const std::function<std::vector<CapturedRequest>(const Cell&, int)>& f) {
  std::vector<std::vector<RunCapture>> out(m.cells.size());
  for (size_t c = 0; c < m.cells.size(); ++c) {
    for (int r = 0; r < runs; ++r) {
      RunCapture run;
      run.exit_code = 0;
      run.requests = f(m.cells[c], r);
      out[c].push_back(run);
    }
  }
  return out;
}

const Difference* Find(const Analysis& a, const std::string& location_part) {
  for (const auto& d : a.differences) {
    if (d.location.find(location_part) != std::string::npos) return &d;
  }
  return nullptr;
}

[[maybe_unused]] void Dump(const Analysis& a) {
  for (const auto& d : a.differences) {
    std::cerr << DiffClassName(d.cls) << " " << d.location << " | " << d.reason << " | "
              << d.explanation << " |";
    for (size_t c : d.differing_cells) std::cerr << " " << c;
    std::cerr << "\n";
  }
  for (const auto& i : a.identifying) std::cerr << "identity " << i.location << "\n";
  for (const auto& n : a.noise) std::cerr << "noise " << n.location << "\n";
}

HostFacts Facts() {
  HostFacts f;
  f.now_ms = kNow;
  f.kernel_release = "6.1.0-42-amd64";
  return f;
}

TEST(Classify, MarkerChosenByZoneNameIsCovert) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai,Asia/Singapore"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::string apostrophe = c.Get("TZ") == "Asia/Shanghai" ? "\u02BC" : "'";
    return std::vector<CapturedRequest>{Provider(c, "You" + apostrophe + "re a helpful agent.")};
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_TRUE(a.environment_dependent);
  const Difference* d = Find(a, "body .system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kCovertMarker);
  EXPECT_EQ(d->variables, std::vector<std::string>{"TZ"});
  ASSERT_EQ(d->differing_cells.size(), 1u);
  EXPECT_EQ(m.cells[d->differing_cells[0]].label, "TZ=Asia/Shanghai");
  ASSERT_FALSE(d->changes.empty());
  EXPECT_EQ(d->changes[0].baseline_text, "'");
  EXPECT_EQ(d->changes[0].cell_text, "\u02BC");
  EXPECT_NE(std::find(d->codepoints.begin(), d->codepoints.end(), U'\u02BC'), d->codepoints.end());
  EXPECT_TRUE(a.noise.empty());
}

TEST(Classify, InvisibleAndWhitespaceMarkersAreCovert) {
  Matrix m = MakeMatrix({"@user=li.wei", "@hostname=wks-9"});
  auto runs = Capture(m, 1, [](const Cell& c, int) {
    std::string text = "Be brief.";
    if (c.username == "li.wei") text = "Be\u200B brief.";
    if (c.hostname == "wks-9") text = "Be  brief;";
    return std::vector<CapturedRequest>{Provider(c, text)};
  });
  Analysis a = Analyze(m, runs, Facts());
  // Each change is its own difference, classified on its own; with one run
  // per cell and one cell each, no cause is named, but each is still covert.
  std::set<std::string> seen;
  for (const auto& d : a.differences) {
    if (d.location.find("body .system[0].text") == std::string::npos) continue;
    EXPECT_EQ(d.cls, DiffClass::kCovertMarker) << d.reason;
    for (const auto& ch : d.changes) seen.insert(ch.cell);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"@user=li.wei", "@hostname=wks-9"}));
  EXPECT_EQ(a.verdict, Verdict::kCovertMarker);
}

TEST(Classify, HostHeaderFollowingTheBaseUrlIsEcho) {
  Matrix m = MakeMatrix({"ANTHROPIC_BASE_URL=https://llm-gw.example-corp.com"});
  auto runs = Capture(
      m, 2, [](const Cell& c, int) { return std::vector<CapturedRequest>{Provider(c, "hi")}; });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_FALSE(a.environment_dependent);
  const Difference* d = Find(a, "header host");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kEcho);
  EXPECT_EQ(Find(a, "body"), nullptr);  // the bodies align and match
}

TEST(Classify, EchoNextToAMarkerStillShowsTheMarker) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai"});
  auto runs = Capture(m, 1, [](const Cell& c, int) {
    std::string tz = c.Get("TZ");
    std::string mark = tz.empty() ? "'" : "\u2019";
    return std::vector<CapturedRequest>{Provider(c, "Zone " + tz + ". It" + mark + "s fine")};
  });
  const Analysis a = Analyze(m, runs, Facts());  // kept: d points into it
  const Difference* d = Find(a, "system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kCovertMarker);
  // The cell's context is what the agent sent, zone name included.
  ASSERT_FALSE(d->changes.empty());
  EXPECT_EQ(d->changes[0].cell_before, "Zone Asia/Shanghai. It");
  EXPECT_EQ(d->changes[0].cell_after, "s fine");
}

TEST(Classify, LocalDateIsClockButNotBetweenZonesOfOneOffset) {
  Matrix m = MakeMatrix({"TZ=America/New_York,Asia/Shanghai,Asia/Singapore"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::string tz = c.Get("TZ");
    std::string date = tz == "America/New_York" ? "Sun Nov 22 2026 07:00"
                       : tz.empty()             ? "Mon Nov 23 2026 12:00"
                                                : "Mon Nov 23 2026 20:00";
    return std::vector<CapturedRequest>{Provider(c, "Today is " + date + ".")};
  });
  Analysis a = Analyze(m, runs, Facts());
  const Difference* d = Find(a, "system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kClock) << d->reason;
  EXPECT_FALSE(a.environment_dependent);

  // The same change between Shanghai and Singapore (both UTC+8) follows the name.
  auto runs2 = Capture(m, 1, [](const Cell& c, int) {
    std::string date = c.Get("TZ") == "Asia/Singapore" ? "20:01" : "20:00";
    return std::vector<CapturedRequest>{Provider(c, "Time " + date)};
  });
  Matrix m2 = MakeMatrix({"TZ=Asia/Shanghai,Asia/Singapore"});
  m2.cells[0].env["TZ"] = "Asia/Shanghai";  // baseline in UTC+8 too
  m2.cells.erase(m2.cells.begin() + 1);
  auto runs3 = Capture(m2, 2, [](const Cell& c, int) {
    std::string date = c.Get("TZ") == "Asia/Singapore" ? "20:01" : "20:00";
    return std::vector<CapturedRequest>{Provider(c, "Time " + date)};
  });
  Analysis a3 = Analyze(m2, runs3, Facts());
  const Difference* d3 = Find(a3, "system[0].text");
  ASSERT_NE(d3, nullptr);
  EXPECT_EQ(d3->cls, DiffClass::kOtherDependence) << d3->reason;
}

TEST(Classify, LanguageChangeIsLocalisationAndOtherWordsAreDependence) {
  Matrix m = MakeMatrix({"LANG+LC_ALL=de_DE.UTF-8", "@user=li.wei"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::string text = c.Get("LANG").starts_with("de") ? "Antworte kurz." : "Answer briefly.";
    if (c.username == "li.wei") text = "Answer briefly. Tier: B";
    return std::vector<CapturedRequest>{Provider(c, text)};
  });
  Analysis a = Analyze(m, runs, Facts());
  const Difference* d = Find(a, "system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(a.environment_dependent);
  // The words are a localisation where the locale changed them, a dependence where the user did.
  std::set<DiffClass> classes;
  for (const auto& diff : a.differences) {
    if (diff.location.find("system[0].text") != std::string::npos) classes.insert(diff.cls);
  }
  EXPECT_EQ(classes, (std::set<DiffClass>{DiffClass::kOtherDependence, DiffClass::kLocalisation}));

  Matrix lang_only = MakeMatrix({"LANG+LC_ALL=de_DE.UTF-8"});
  auto runs2 = Capture(lang_only, 2, [](const Cell& c, int) {
    return std::vector<CapturedRequest>{
        Provider(c, c.Get("LANG").starts_with("de") ? "Antworte kurz." : "Answer briefly.")};
  });
  Analysis a2 = Analyze(lang_only, runs2, Facts());
  const Difference* d2 = Find(a2, "system[0].text");
  ASSERT_NE(d2, nullptr);
  EXPECT_EQ(d2->cls, DiffClass::kLocalisation);
  EXPECT_FALSE(a2.environment_dependent);
}

TEST(Classify, NoiseIsSeparatedAndMaskedFieldsStillCompared) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai"});
  auto runs = Capture(m, 2, [](const Cell& c, int r) {
    CapturedRequest t;
    t.method = "POST";
    t.host = "telemetry.example.net";
    t.target = "/v1/events";
    std::string id =
        r == 0 ? "3f2a9c1e-77b0-4b1e-9a55-1c2d3e4f5a6b" : "8c1d2e3f-1111-4222-8333-944455566677";
    std::string mark = c.Get("TZ").empty() ? "," : "\u201A";  // SINGLE LOW-9 QUOTATION MARK
    t.body = R"({"event_id":")" + id + R"(","note":"run )" + std::to_string(1000 + r) + mark +
             R"( ok"})";
    return std::vector<CapturedRequest>{t};
  });
  Analysis a = Analyze(m, runs, Facts());
  ASSERT_EQ(a.noise.size(), 2u);
  const Difference* note = Find(a, "body .note");
  ASSERT_NE(note, nullptr);
  EXPECT_TRUE(note->noise_masked);
  EXPECT_EQ(note->cls, DiffClass::kCovertMarker);
  EXPECT_EQ(Find(a, "event_id"), nullptr);
}

TEST(Classify, RequestSentOnlyUnderOneZoneIsDependence) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::vector<CapturedRequest> reqs{Provider(c, "x")};
    if (c.Get("TZ") == "Asia/Shanghai") {
      CapturedRequest extra;
      extra.method = "GET";
      extra.host = "cfg.example.cn";
      extra.target = "/flags";
      reqs.push_back(extra);
    }
    return reqs;
  });
  Analysis a = Analyze(m, runs, Facts());
  const Difference* d = Find(a, "GET cfg.example.cn/flags");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->field, "request");
  EXPECT_EQ(d->cls, DiffClass::kOtherDependence);
  EXPECT_TRUE(a.environment_dependent);
}

TEST(Classify, IdentityHostsDnsAndTls) {
  Matrix m = MakeMatrix({"@hostname=wks-berlin-042", "TZ=Asia/Shanghai"});
  auto runs = Capture(m, 1, [](const Cell& c, int) {
    CapturedRequest t;
    t.method = "POST";
    t.host = "";
    t.dest_ip = "203.0.113.7";
    t.dest_port = 80;
    t.target = "/t";
    t.body = R"({"h":")" + c.hostname + R"(","u":")" + c.username + R"(","tz":")" + c.Get("TZ") +
             R"(","k":"6.1.0-42-amd64","key":")" + c.Get("ANTHROPIC_API_KEY") + R"("})";
    return std::vector<CapturedRequest>{Provider(c, "hi"), t};
  });
  runs[0][0].dns.push_back({0, "api.anthropic.com", "A", "udp", "127.0.0.1"});
  runs[1][0].dns.push_back({0, "x.example", "A", "udp", "8.8.8.8"});
  runs[1][0].connections.push_back({0, "udp", "203.0.113.9", 443, 50000, false});
  runs[1][0].connections.push_back({0, "tcp", "203.0.113.7", 80, 50001, true});
  runs[0][0].tls_failures.push_back({0, "pinned.example.com", "198.18.0.1", 443, "unknown ca"});
  Analysis a = Analyze(m, runs, Facts());
  std::map<std::string, std::vector<std::string>> carries;
  for (const auto& idf : a.identifying) carries[idf.location] = idf.carries;
  EXPECT_EQ(carries["POST 203.0.113.7/t body .h"], std::vector<std::string>{"hostname"});
  EXPECT_EQ(carries["POST 203.0.113.7/t body .u"], std::vector<std::string>{"user"});
  EXPECT_EQ(carries["POST 203.0.113.7/t body .tz"], std::vector<std::string>{"timezone"});
  EXPECT_EQ(carries["POST 203.0.113.7/t body .k"], std::vector<std::string>{"kernel"});
  EXPECT_EQ(carries["POST 203.0.113.7/t body .key"], std::vector<std::string>{"api-key"});
  // The provider request carries the key too, but that is where it belongs.
  for (const auto& idf : a.identifying) EXPECT_NE(idf.location.rfind("POST /v1/messages", 0), 0u);
  bool ip_host = false;
  for (const auto& h : a.hosts) {
    if (h.host == "203.0.113.7") {
      ip_host = true;
      EXPECT_TRUE(h.ip_literal);
      EXPECT_EQ(h.requests, 3);
    }
    if (h.host == "api.anthropic.com") {
      EXPECT_TRUE(h.looked_up);
    }
  }
  EXPECT_TRUE(ip_host);
  ASSERT_EQ(a.dns.size(), 2u);
  EXPECT_EQ(a.foreign_resolvers, std::vector<std::string>{"8.8.8.8"});
  ASSERT_EQ(a.unserved.size(), 1u);
  EXPECT_EQ(a.unserved[0].dest, "203.0.113.9:443");
  EXPECT_EQ(a.unserved[0].protocol, "udp");
  ASSERT_EQ(a.tls_failures.size(), 1u);
  EXPECT_EQ(a.tls_failures[0].sni, "pinned.example.com");
  // Host name and zone in telemetry are echoes of what varied.
  const Difference* h = Find(a, "body .h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->cls, DiffClass::kEcho);
  EXPECT_FALSE(a.environment_dependent);
}

TEST(Classify, CleanAgentHasNoDifference) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai", "LANG=zh_CN.UTF-8"});
  auto runs = Capture(
      m, 2, [](const Cell& c, int) { return std::vector<CapturedRequest>{Provider(c, "same")}; });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_FALSE(a.environment_dependent);
  EXPECT_TRUE(a.differences.empty());
}

TEST(Classify, TelemetryBatchesOfVaryingLengthAreNoise) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai"});
  auto runs = Capture(m, 2, [](const Cell& c, int r) {
    CapturedRequest t;
    t.method = "POST";
    t.host = "events.example.net";
    t.target = "/batch";
    // The batch holds 2 or 3 events in an order set by timers, in every cell.
    std::string a = R"({"name":"start","kernel":"6.1.0-42-amd64"})", b = R"({"name":"api_ok"})";
    bool three = (r == 1) != c.Get("TZ").empty();
    t.body = three ? "{\"events\":[" + b + "," + a + "," + b + "]}"
                   : "{\"events\":[" + a + "," + b + "]}";
    return std::vector<CapturedRequest>{t};
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_TRUE(a.differences.empty()) << a.differences[0].location;
  bool array_noise = false;
  for (const auto& n : a.noise)
    array_noise = array_noise || n.location == "POST events.example.net/batch body .events[*]";
  EXPECT_TRUE(array_noise);
  ASSERT_EQ(a.identifying.size(), 1u);
  EXPECT_EQ(a.identifying[0].location, "POST events.example.net/batch body .events[*].kernel");
}

TEST(Classify, OneRunPerCellIsNoted) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai"});
  auto runs = Capture(
      m, 1, [](const Cell& c, int) { return std::vector<CapturedRequest>{Provider(c, "x")}; });
  Analysis a = Analyze(m, runs, Facts());
  ASSERT_FALSE(a.notes.empty());
  EXPECT_NE(a.notes[0].find("--runs 2"), std::string::npos);
}

// The default matrix's design: a marker that needs two settings at once is
// run and attributed to both ("follows TZ=Asia/Shanghai when base URL is
// not the baseline's").
TEST(Classify, TwoSettingMarkerIsAttributedToBoth) {
  auto tz = ParseVary("TZ=Asia/Shanghai,America/New_York");
  auto base = ParseVary("ANTHROPIC_BASE_URL=https://relay-a.example,https://relay-b.example");
  auto user = ParseVary("@user=li.wei");
  ASSERT_TRUE(tz.ok() && base.ok() && user.ok());
  auto built = BuildMatrix(DefaultBaseline(), {*base, *tz, *user}, Design::kPairwise);
  ASSERT_TRUE(built.ok());
  const Matrix& m = *built;
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    bool official = c.Get("ANTHROPIC_BASE_URL") == "https://api.anthropic.com";
    std::string date = !official && c.Get("TZ") == "Asia/Shanghai" ? "2026/11/23" : "2026-11-23";
    return std::vector<CapturedRequest>{Provider(c, "Today is " + date + ".")};
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kCovertMarker);
  ASSERT_FALSE(a.groups.empty());
  const DifferenceGroup& g = a.groups[0];
  EXPECT_EQ(g.cls, DiffClass::kCovertMarker);
  ASSERT_EQ(g.members.size(), 1u);  // one field, with both separators as its changes
  const Difference& d = a.differences[g.members[0]];
  EXPECT_EQ(std::count_if(d.changes.begin(), d.changes.end(),
                          [&](const CodepointChange& ch) { return ch.cell == d.changes[0].cell; }),
            2);
  EXPECT_EQ(g.explanation, "TZ=Asia/Shanghai when ANTHROPIC_BASE_URL is not the baseline's");
  EXPECT_EQ(g.variables, (std::vector<std::string>{"ANTHROPIC_BASE_URL", "TZ"}));
  for (size_t c : g.cells) {
    EXPECT_EQ(m.cells[c].Get("TZ"), "Asia/Shanghai");
    EXPECT_NE(m.cells[c].Get("ANTHROPIC_BASE_URL"), "https://api.anthropic.com");
  }
}

// Regression (e2e_probe_default failed between 00:00 and 05:00 UTC): the
// same two-setting marker while New York is still on the previous day. The
// New York cells' date is a clock difference; compared with their nearest
// cell (one with the marker) they showed the marker again from its other
// side, unexplained, as a second covert-marker group. One group, explained.
TEST(Classify, TwoSettingMarkerStaysOneGroupWhenAZoneIsOnAnotherDay) {
  const std::vector<std::string> argv = {"node", "agent.js"};
  std::vector<Dimension> dims = DefaultDimensions(argv);
  auto built = BuildMatrix(BaselineFor(dims, argv), dims, Design::kPairwise);
  ASSERT_TRUE(built.ok()) << built.status().message();
  const Matrix& m = *built;
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::string base = c.Get("ANTHROPIC_BASE_URL");
    if (base.empty()) base = "https://api.anthropic.com";
    const bool official = base == "https://api.anthropic.com";
    const std::string zone = !c.Get("TZ").empty() ? c.Get("TZ") : c.Get("@localtime");
    std::string date = zone == "America/New_York" ? "2026-11-22" : "2026-11-23";
    if (!official && zone == "Asia/Shanghai") date = "2026/11/23";
    Cell with_base = c;
    with_base.env["ANTHROPIC_BASE_URL"] = base;
    return std::vector<CapturedRequest>{Provider(with_base, "Today is " + date + ".")};
  });
  HostFacts facts = Facts();
  facts.now_ms = kNow - 10 * 3600 * 1000;  // 02:00 UTC: New York on the day before
  Analysis a = Analyze(m, runs, facts);
  EXPECT_EQ(a.verdict, Verdict::kCovertMarker);
  std::vector<const DifferenceGroup*> markers;
  for (const DifferenceGroup& g : a.groups) {
    if (g.cls == DiffClass::kCovertMarker) markers.push_back(&g);
  }
  ASSERT_EQ(markers.size(), 1u) << (Dump(a), "two covert-marker groups");
  EXPECT_NE(markers[0]->explanation.find("Asia/Shanghai"), std::string::npos);
}

// Every cell but the baseline writes a long block into its prompt, and a
// one-code-point marker follows the zone's name: against the baseline the
// marker is inside a rewrite; against each cell's nearest reference (a cell
// with the block) it is all that changes, and is reported as such.
TEST(Classify, MarkerBetweenNonBaselineCellsIsFoundAgainstTheNearestReference) {
  auto tz = ParseVary("TZ=Asia/Shanghai,America/New_York");
  auto base = ParseVary("ANTHROPIC_BASE_URL=https://relay-a.example,https://relay-b.example");
  auto user = ParseVary("@user=li.wei");
  ASSERT_TRUE(tz.ok() && base.ok() && user.ok());
  auto built = BuildMatrix(DefaultBaseline(), {*base, *tz, *user}, Design::kPairwise);
  ASSERT_TRUE(built.ok());
  const Matrix& m = *built;
  const Cell& baseline = m.cells[0];
  auto runs = Capture(m, 2, [&](const Cell& c, int) {
    bool unusual = c.Get("ANTHROPIC_BASE_URL") != baseline.Get("ANTHROPIC_BASE_URL") ||
                   !c.Get("TZ").empty() || c.username != baseline.username;
    std::string block =
        unusual ? "<notes>This session runs outside the default environment: keep tool output "
                  "short, prefer the shell tools, ask before installing packages, report every "
                  "file you change with its full path, and never open a browser.</notes> "
                : "";
    std::string apostrophe = c.Get("TZ") == "Asia/Shanghai" ? "\u2019" : "'";
    return std::vector<CapturedRequest>{
        Provider(c, "You are a coding agent. " + block + "Today" + apostrophe + "s tasks.")};
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kCovertMarker);
  std::vector<const Difference*> covert;
  for (const auto& d : a.differences) {
    if (d.cls == DiffClass::kCovertMarker) covert.push_back(&d);
  }
  ASSERT_EQ(covert.size(), 1u);  // once, not again from the other side
  const Difference& d = *covert[0];
  EXPECT_NE(d.reference_cell, 0u);
  EXPECT_NE(d.reason.find("nearest cell"), std::string::npos);
  EXPECT_EQ(d.explanation, "TZ=Asia/Shanghai");
  EXPECT_EQ(d.variables, (std::vector<std::string>{"TZ"}));
  EXPECT_EQ(d.codepoints, (std::vector<char32_t>{U'\'', U'\u2019'}));
  std::set<size_t> shanghai;
  for (size_t c = 0; c < m.cells.size(); ++c) {
    if (m.cells[c].Get("TZ") == "Asia/Shanghai") shanghai.insert(c);
  }
  EXPECT_EQ(std::set<size_t>(d.differing_cells.begin(), d.differing_cells.end()), shanghai);
  ASSERT_FALSE(d.changes.empty());
  for (const auto& ch : d.changes) {
    EXPECT_NE(ch.reference, "baseline");
    EXPECT_EQ(ch.baseline_text, "'");
    EXPECT_EQ(ch.cell_text, "\u2019");
  }
  // The rewrite against the baseline is still reported, against the baseline.
  bool rewrite = std::any_of(a.differences.begin(), a.differences.end(), [](const Difference& x) {
    return x.cls != DiffClass::kCovertMarker && x.reference_cell == 0 &&
           x.location.find(".system") != std::string::npos;
  });
  EXPECT_TRUE(rewrite);
}

// A cell nearer in content to the baseline than to any other cell is
// compared with the baseline only: no difference names another reference.
TEST(Classify, CellsNearTheBaselineKeepTheBaselineAsReference) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai,Asia/Singapore", "@user=li.wei"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    std::string apostrophe = c.Get("TZ") == "Asia/Shanghai" ? "\u2019" : "'";
    return std::vector<CapturedRequest>{Provider(c, "Today" + apostrophe + "s tasks.")};
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kCovertMarker);
  for (const auto& d : a.differences) {
    EXPECT_EQ(d.reference_cell, 0u) << d.location;
    for (const auto& ch : d.changes) EXPECT_EQ(ch.reference, "baseline");
  }
}

// Regression (found on Claude Code 2.1.197): against a nearest reference
// with another user name, mapping the cell's user name to the reference's
// made "-home-alex" "-home-li.wei", and next to the reference's own
// "-home-li-wei" that read as a covert "-" -> ".". Both sides are mapped to
// the primary reference's values instead.
TEST(Classify, RegressionNearestReferenceMapsBothSidesToThePrimarysValues) {
  auto base = ParseVary("ANTHROPIC_BASE_URL=https://relay-a.example");
  auto user = ParseVary("@user=li.wei");
  auto tz = ParseVary("TZ=America/New_York");
  ASSERT_TRUE(base.ok() && user.ok() && tz.ok());
  auto built = BuildMatrix(DefaultBaseline(), {*base, *user, *tz}, Design::kPairwise);
  ASSERT_TRUE(built.ok());
  const Matrix& m = *built;
  const Cell& baseline = m.cells[0];
  auto runs = Capture(m, 2, [&](const Cell& c, int) {
    std::string dashed = c.username;
    std::replace(dashed.begin(), dashed.end(), '.', '-');
    std::string block =
        c.Get("ANTHROPIC_BASE_URL") != baseline.Get("ANTHROPIC_BASE_URL")
            ? "<notes>Use the relay model list and keep every answer short.</notes> "
            : "";
    return std::vector<CapturedRequest>{Provider(
        c, block + "Project dir: -home-" + dashed + "-proj. Home: /home/" + c.username + ".")};
  });
  Analysis a = Analyze(m, runs, Facts());
  for (const auto& d : a.differences)
    EXPECT_NE(d.cls, DiffClass::kCovertMarker) << d.location << ": " << d.reason;
  EXPECT_EQ(a.verdict, Verdict::kEnvironmentDependent);
}

TEST(Attribute, FewestDimensionsThatExplainExactly) {
  auto tz = ParseVary("TZ=Asia/Shanghai,Asia/Singapore");
  auto lang = ParseVary("LANG=de_DE.UTF-8");
  ASSERT_TRUE(tz.ok() && lang.ok());
  auto m = BuildMatrix(DefaultBaseline(), {*tz, *lang}, Design::kCross);
  ASSERT_TRUE(m.ok());
  std::vector<bool> observed(m->cells.size(), true), deviant(m->cells.size(), false);
  for (size_t c = 0; c < m->cells.size(); ++c)
    deviant[c] = m->cells[c].Get("TZ") == "Asia/Shanghai";
  Attribution one = Attribute(*m, observed, deviant, false);
  ASSERT_TRUE(one.explained);
  EXPECT_EQ(one.condition, "TZ=Asia/Shanghai");
  EXPECT_EQ(one.variables, std::vector<std::string>{"TZ"});
  // A pattern no one or two dimensions tell: unexplained.
  for (size_t c = 0; c < m->cells.size(); ++c) deviant[c] = c % 2 == 1;
  EXPECT_FALSE(Attribute(*m, observed, deviant, false).explained);
  // One cell in one run is not enough to name a cause.
  std::fill(deviant.begin(), deviant.end(), false);
  deviant[1] = true;
  EXPECT_FALSE(Attribute(*m, observed, deviant, true).explained);
  EXPECT_TRUE(Attribute(*m, observed, deviant, false).explained);
}

// A cell where the agent failed is a failure, not a dependence, and makes
// the verdict inconclusive; its exit status and output are kept.
TEST(Classify, FailedCellIsAFailureNotADependence) {
  Matrix m = MakeMatrix({"LANG=ja_JP.UTF-8,de_DE.UTF-8"});
  std::vector<std::vector<RunCapture>> runs(m.cells.size());
  for (size_t c = 0; c < m.cells.size(); ++c) {
    for (int r = 0; r < 2; ++r) {
      RunCapture run;
      if (m.cells[c].Get("LANG").starts_with("ja")) {
        run.exit_code = 3;
        run.stderr_tail = "starting\nError: not logged in\n";
      } else {
        run.exit_code = 0;
        run.requests = {Provider(m.cells[c], "hi")};
      }
      runs[c].push_back(run);
    }
  }
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kInconclusive);
  EXPECT_FALSE(a.environment_dependent);
  EXPECT_TRUE(a.differences.empty()) << a.differences[0].location;
  ASSERT_EQ(a.failures.size(), 1u);
  EXPECT_EQ(a.failures[0].label, "LANG=ja_JP.UTF-8");
  EXPECT_EQ(a.failures[0].status, "exit status 3");
  EXPECT_NE(a.failures[0].output.find("not logged in"), std::string::npos);
  EXPECT_TRUE(a.failures[0].whole_cell);
  ASSERT_EQ(a.inconclusive_reasons.size(), 1u);

  // An agent that fails everywhere is inconclusive too, never clean.
  for (auto& cell : runs) {
    for (auto& run : cell) run.exit_code = 1;
  }
  EXPECT_EQ(Analyze(m, runs, Facts()).verdict, Verdict::kInconclusive);
}

// Channels outside the requests: names looked up and addresses dialled that
// follow the zone are dependences, judged like request fields.
TEST(Classify, DnsNamesAndDestinationsAreJudged) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai,Asia/Singapore"});
  auto runs = Capture(
      m, 2, [](const Cell& c, int) { return std::vector<CapturedRequest>{Provider(c, "hi")}; });
  for (size_t c = 0; c < m.cells.size(); ++c) {
    std::string tz = m.cells[c].Get("TZ").empty()              ? "utc"
                     : m.cells[c].Get("TZ") == "Asia/Shanghai" ? "sh"
                                                               : "sg";
    for (auto& run : runs[c]) {
      run.dns.push_back({1, tz + ".tz.exfil.example", "A", "udp", "127.0.0.1"});
      run.connections.push_back(
          {2, "tcp", tz == "sh" ? "203.0.113.8" : "203.0.113.1", 9000, 40000, false});
    }
  }
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kEnvironmentDependent);
  const Difference* name = Find(a, "network lookup sh.tz.exfil.example");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->cls, DiffClass::kOtherDependence);
  EXPECT_EQ(name->explanation, "TZ=Asia/Shanghai");
  const Difference* dest = Find(a, "network connect tcp 203.0.113.8:9000");
  ASSERT_NE(dest, nullptr);
  EXPECT_EQ(dest->cls, DiffClass::kOtherDependence);
  EXPECT_EQ(std::count(a.unused_lookups.begin(), a.unused_lookups.end(), "sh.tz.exfil.example"), 1);
}

// Issue 12: with --runs 1 a name looked up only in the varied cell cannot be
// attributed (one cell, one run), and it cannot be called noise either: the
// verdict is inconclusive, never a clean exit.
TEST(Classify, RegressionIssue12_OneRunDifferenceThatNothingExplainsIsNotClean) {
  Matrix m = MakeMatrix({"TZ=Asia/Tokyo"});
  auto runs = Capture(
      m, 1, [](const Cell& c, int) { return std::vector<CapturedRequest>{Provider(c, "hi")}; });
  for (size_t c = 0; c < m.cells.size(); ++c) {
    const std::string tz = m.cells[c].Get("TZ").empty() ? "utc" : "asia-tokyo";
    runs[c][0].dns.push_back({1, tz + ".tz.exfil.example", "A", "udp", "127.0.0.1"});
  }
  Analysis a = Analyze(m, runs, Facts());
  ASSERT_NE(Find(a, "network lookup asia-tokyo.tz.exfil.example"), nullptr);
  EXPECT_EQ(a.verdict, Verdict::kInconclusive);
  ASSERT_FALSE(a.inconclusive_reasons.empty());
  EXPECT_NE(a.inconclusive_reasons.back().find("cannot be told from noise"), std::string::npos);
  // The same agent with nothing varying stays clean.
  for (auto& cell_runs : runs) cell_runs[0].dns.clear();
  EXPECT_EQ(Analyze(m, runs, Facts()).verdict, Verdict::kNoEnvironmentDependence);
}

// HTTPDNS / DNS over HTTPS to a hard-coded address is a foreign resolver; a
// short prompt is recognised as a whole value; a varied base URL the agent
// never contacts is warned about.
TEST(Classify, HttpDnsShortPromptAndIgnoredBaseUrl) {
  Matrix m = MakeMatrix({"OPENAI_BASE_URL=https://relay.example/v1"});
  auto runs = Capture(m, 2, [](const Cell& c, int) {
    CapturedRequest
        doh;  // through a proxy: the target in absolute form (a regression: the host was doubled)
    doh.method = "GET";
    doh.host = "203.0.113.53";
    doh.target = "http://203.0.113.53/d?dn=api.anthropic.com";
    doh.via_proxy = true;
    CapturedRequest p = Provider(c, "say hi");
    return std::vector<CapturedRequest>{doh, p};
  });
  HostFacts facts = Facts();
  facts.prompt_texts = {"say hi"};
  Analysis a = Analyze(m, runs, facts);
  ASSERT_FALSE(a.foreign_resolvers.empty());
  EXPECT_NE(a.foreign_resolvers[0].find("203.0.113.53"), std::string::npos);
  EXPECT_EQ(a.foreign_resolvers[0], "http://203.0.113.53/d (DNS over HTTP)");
  bool prompt = false;
  for (const auto& idf : a.identifying) {
    prompt =
        prompt || std::find(idf.carries.begin(), idf.carries.end(), "prompt") != idf.carries.end();
  }
  EXPECT_TRUE(prompt);
  ASSERT_EQ(a.warnings.size(), 1u);
  EXPECT_NE(a.warnings[0].find("ignored OPENAI_BASE_URL"), std::string::npos) << a.warnings[0];
}

// With one run per cell noise cannot be told apart: nothing is labelled
// localisation or clock.
TEST(Classify, OneRunLabelsNothingLocalisationOrClock) {
  Matrix m = MakeMatrix({"LANG+LC_ALL=de_DE.UTF-8,zh_CN.UTF-8"});
  auto runs = Capture(m, 1, [](const Cell& c, int) {
    return std::vector<CapturedRequest>{
        Provider(c, c.Get("LANG").starts_with("de") ? "Antworte kurz." : "Answer briefly.")};
  });
  Analysis a = Analyze(m, runs, Facts());
  for (const auto& d : a.differences) {
    EXPECT_NE(d.cls, DiffClass::kLocalisation);
    EXPECT_NE(d.cls, DiffClass::kClock);
  }
  EXPECT_TRUE(a.single_run);
}

// A site with one text per language is a function of LANG, even when only a
// few cells ran and another dimension happens to separate the changed cells
// from the rest (a regression seen on Gemini CLI, whose base-URL cells failed).
TEST(Classify, SeveralValuesAreExplainedByTheDimensionTheyAreAFunctionOf) {
  auto lang = ParseVary("LANG=zh_CN.UTF-8,de_DE.UTF-8,ja_JP.UTF-8");
  auto proxy = ParseVary("HTTPS_PROXY=http://proxy.example:8080");
  ASSERT_TRUE(lang.ok() && proxy.ok());
  auto built = BuildMatrix(DefaultBaseline(), {*lang, *proxy}, Design::kCross);
  ASSERT_TRUE(built.ok());
  // Only the baseline, the three languages with the proxy and one
  // language without it take part; the rest failed.
  std::vector<std::vector<RunCapture>> runs(built->cells.size());
  for (size_t c = 0; c < built->cells.size(); ++c) {
    const Cell& cell = built->cells[c];
    std::string l = cell.Get("LANG");
    bool proxied = !cell.Get("HTTPS_PROXY").empty();
    bool takes_part = c == 0 || proxied || l == "de_DE.UTF-8";
    for (int r = 0; r < 2; ++r) {
      RunCapture run;
      run.exit_code = takes_part ? 0 : 1;
      std::string date = l.starts_with("zh")   ? "2026年12月7日"
                         : l.starts_with("ja") ? "2026年12月7日月曜日"
                         : l.starts_with("de") ? "Montag, 7. Dezember 2026"
                                               : "Monday, December 7, 2026";
      if (takes_part) run.requests = {Provider(cell, "Today is " + date)};
      runs[c].push_back(run);
    }
  }
  Analysis a = Analyze(*built, runs, Facts());
  const Difference* d = Find(a, "system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kLocalisation) << d->reason << " / " << d->explanation;
  EXPECT_EQ(d->variables, std::vector<std::string>{"LANG"});
}

// When the baseline failed, the reference is a cell with its own varied
// values: a cell that sends the baseline's user name where the reference
// sends its own is an echo, not a dependence on @user (a regression seen on
// Qwen Code, whose baseline did not reach a provider: the home path
// /home/alex/... against /home/li.wei/... was "follows @user").
TEST(Classify, EchoOfTheReferencesOwnVariedValueWhenTheBaselineFailed) {
  auto user = ParseVary("@user=li.wei");
  auto zone = ParseVary("TZ=Asia/Shanghai,Asia/Singapore");
  ASSERT_TRUE(user.ok() && zone.ok());
  auto built = BuildMatrix(DefaultBaseline(), {*user, *zone}, Design::kCross);
  ASSERT_TRUE(built.ok());
  auto runs = Capture(*built, 2, [](const Cell& c, int) {
    return std::vector<CapturedRequest>{
        Provider(c, "Memory lives in /home/" + c.username + "/.agent/memories")};
  });
  for (auto& run : runs[0]) run.exit_code = 1;  // the baseline fails
  Analysis a = Analyze(*built, runs, Facts());
  const Difference* d = Find(a, "system[0].text");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cls, DiffClass::kEcho) << d->reason << " / " << d->explanation;
  EXPECT_EQ(d->variables, std::vector<std::string>{"@user"});
  for (const auto& other : a.differences)
    EXPECT_NE(other.cls, DiffClass::kOtherDependence) << other.location;
}

// A request that comes and goes between runs of one cell (a metrics flush on
// a timer) is noise with all its fields: where it happened to be sent says
// nothing (a regression seen on Codex: its second OTLP batch, decoded, gave
// 219 fields that "followed @hostname").
TEST(Classify, ARequestThatComesAndGoesBetweenRunsIsNoiseWithItsFields) {
  Matrix m = MakeMatrix({"TZ=Asia/Shanghai,Asia/Singapore,America/New_York"});
  auto runs = Capture(m, 2, [](const Cell& c, int r) {
    std::vector<CapturedRequest> out{Provider(c, "hi")};
    // Sent in the first run of each cell, and in both runs of one, with
    // whichever metrics its timer caught (here: by the label's length).
    if (r == 0 || c.Get("TZ") == "America/New_York") {
      CapturedRequest flush;
      flush.scheme = "https";
      flush.host = "metrics.example";
      flush.method = "POST";
      flush.target = "/otlp/v1/metrics";
      flush.body = std::string(R"({"metrics":[{"name":")") +
                   (c.label.size() % 2 ? "startup" : "turn") + R"("}]})";
      out.push_back(flush);
    }
    return out;
  });
  Analysis a = Analyze(m, runs, Facts());
  EXPECT_EQ(a.verdict, Verdict::kNoEnvironmentDependence);
  for (const auto& d : a.differences) EXPECT_NE(d.cls, DiffClass::kOtherDependence) << d.location;
  EXPECT_TRUE(std::any_of(a.noise.begin(), a.noise.end(), [](const NoiseField& n) {
    return n.location == "POST metrics.example/otlp/v1/metrics (its fields)";
  }));
}

TEST(MaskGenerated, MasksIdsAndNumbersKeepsWords) {
  EXPECT_EQ(MaskGenerated("eyJ1cHRpbWUiOjEuMzE2MD+/Q== x"),
            MaskGenerated("eyJ1cHRpbWUiOjEuMzUxMTQ5OTQ0LCJy= x"));
  EXPECT_EQ(MaskGenerated("req 1732 at 2026-11-23 id ab12cd34ef word"),
            "req 0 at 0-0-0 id \u27E6id\u27E7 word");
  EXPECT_EQ(MaskGenerated("v2 ok"), "v2 ok");
}

TEST(ZoneOffset, KnownAndUnknownZones) {
  EXPECT_EQ(ZoneOffsetMinutes("Asia/Shanghai", kNow), 480);
  EXPECT_EQ(ZoneOffsetMinutes("Asia/Singapore", kNow), 480);
  EXPECT_EQ(ZoneOffsetMinutes("America/New_York", kNow), -300);
  EXPECT_FALSE(ZoneOffsetMinutes("Mars/Olympus", kNow).has_value());
}

}  // namespace
}  // namespace glassbox::probe
