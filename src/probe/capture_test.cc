#include "probe/capture.h"

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

RunCapture Sample() {
  RunCapture c;
  c.exit_code = 3;
  c.timed_out = true;
  c.wall_ms = 812.5;
  c.stdout_tail = "done\n";
  c.stderr_tail = std::string("bad \xff byte", 10);
  c.notes = {"overlay unavailable"};
  c.limits_reached = {"processes: 512"};
  c.dns = {{1.5, "api.anthropic.com", "A", "udp"}, {1.6, "api.anthropic.com", "AAAA", "udp"}};
  c.tls_failures = {{4.0, "pinned.example", "198.18.0.2", 443, "tlsv1 alert unknown ca"}};
  c.connections = {{3.5, "tcp", "203.0.113.7", 9000, 40001, false},
                   {3.7, "udp", "2001:db8::5", 443, 40002, false},
                   {3.9, "tcp", "198.18.0.1", 443, 40003, true}};
  CapturedRequest second;
  second.seq = 1;
  second.scheme = "http";
  second.host = "203.0.113.7";
  second.dest_ip = "203.0.113.7";
  second.dest_port = 80;
  second.method = "GET";
  second.target = "/x";
  second.response_status = 200;
  CapturedRequest first;
  first.seq = 0;
  first.t_ms = 20.25;
  first.scheme = "https";
  first.host = "api.anthropic.com";
  first.sni = "api.anthropic.com";
  first.dest_ip = "198.18.0.1";
  first.dest_port = 443;
  first.client_port = 40003;
  first.via_proxy = true;
  first.method = "POST";
  first.target = "/v1/messages";
  first.headers = {{"Content-Type", "application/json"},
                   {"X-Odd", std::string("\x80\x81", 2)},
                   {"X-Zone", "\xe2\x80\x8b"}};
  first.body = "{\"system\":\"caf\xc3\xa9\\u2019\"}";
  first.response_status = 200;
  // Out of order on purpose: parsing sorts by seq.
  c.requests = {second, first};
  return c;
}

TEST(CaptureJsonl, RoundTripIsByteExact) {
  RunCapture in = Sample();
  std::string text = CaptureToJsonl(in);
  Result<RunCapture> out = CaptureFromJsonl(text, "capture.jsonl");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_TRUE(out->timed_out);
  EXPECT_DOUBLE_EQ(out->wall_ms, 812.5);
  EXPECT_EQ(out->stdout_tail, "done\n");
  EXPECT_EQ(out->stderr_tail, in.stderr_tail);
  ASSERT_EQ(out->notes.size(), 1u);
  EXPECT_EQ(out->notes[0], "overlay unavailable");
  ASSERT_EQ(out->limits_reached.size(), 1u);
  EXPECT_EQ(out->limits_reached[0], "processes: 512");
  ASSERT_EQ(out->dns.size(), 2u);
  EXPECT_EQ(out->dns[1].type, "AAAA");
  EXPECT_EQ(out->dns[0].transport, "udp");
  ASSERT_EQ(out->tls_failures.size(), 1u);
  EXPECT_EQ(out->tls_failures[0].sni, "pinned.example");
  EXPECT_EQ(out->tls_failures[0].dest_port, 443);
  ASSERT_EQ(out->connections.size(), 3u);
  EXPECT_EQ(out->connections[0].dest_port, 9000);
  EXPECT_EQ(out->connections[1].protocol, "udp");
  EXPECT_EQ(out->connections[1].dest_ip, "2001:db8::5");
  EXPECT_TRUE(out->connections[2].served);
  EXPECT_EQ(out->connections[2].src_port, 40003);
  EXPECT_EQ(out->requests[0].client_port, 40003);
  EXPECT_FALSE(out->connections[0].served);
  ASSERT_EQ(out->requests.size(), 2u);
  const CapturedRequest& r = out->requests[0];
  EXPECT_EQ(r.seq, 0);
  EXPECT_DOUBLE_EQ(r.t_ms, 20.25);
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.host, "api.anthropic.com");
  EXPECT_EQ(r.sni, "api.anthropic.com");
  EXPECT_EQ(r.dest_ip, "198.18.0.1");
  EXPECT_EQ(r.dest_port, 443);
  EXPECT_TRUE(r.via_proxy);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/messages");
  EXPECT_EQ(r.headers, in.requests[1].headers);
  EXPECT_EQ(r.body, in.requests[1].body);
  EXPECT_EQ(out->requests[1].host, "203.0.113.7");
  // And the text is stable: writing the parsed value again gives the same lines
  // (modulo the request order, which the writer keeps as given).
  EXPECT_EQ(CaptureToJsonl(*out), CaptureToJsonl(*CaptureFromJsonl(CaptureToJsonl(*out), "x")));
}

TEST(CaptureJsonl, NonUtf8IsBase64) {
  CapturedRequest r;
  r.body = std::string("\x00\xff\x10", 3);
  std::string line = RequestToJsonLine(r);
  EXPECT_NE(line.find("\"body_base64\":\"AP8Q\""), std::string::npos) << line;
  Result<RunCapture> back = CaptureFromJsonl(line + "\n{\"kind\":\"exit\",\"exit_code\":0}", "x");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->requests[0].body, r.body);
}

TEST(CaptureJsonl, ErrorsNameTheLineAndReason) {
  Result<RunCapture> bad =
      CaptureFromJsonl("{\"kind\":\"note\",\"text\":\"a\"}\nnot json\n", "c.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("c.jsonl line 2: not JSON"), std::string::npos)
      << bad.status().message();
  bad = CaptureFromJsonl("{\"kind\":\"request\",\"seq\":0}\n", "c.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 1: missing \"scheme\""), std::string::npos)
      << bad.status().message();
  bad = CaptureFromJsonl("[1,2]\n", "c.jsonl");
  ASSERT_FALSE(bad.ok());
  bad = CaptureFromJsonl("{\"kind\":\"dns\",\"name\":\"a\",\"type\":\"A\",\"t_ms\":\"x\"}", "c");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"t_ms\" is not a number"), std::string::npos);
}

TEST(CaptureJsonl, UnknownKindsAndBlankLinesAreSkipped) {
  Result<RunCapture> ok = CaptureFromJsonl(
      "\n{\"kind\":\"future\",\"x\":1}\n  \n{\"kind\":\"note\",\"text\":\"n\"}\r\n", "c");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->notes.size(), 1u);
  EXPECT_EQ(ok->exit_code, -1);
}

}  // namespace
}  // namespace glassbox::probe
