#include "net/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/testdata_streams.h"

namespace glassbox::net {
namespace {

struct Parsed {
  std::vector<SseBlock> blocks;
  bool ok = true;
  std::string error;
};

// Feeds `stream` cut at `cuts` (ascending offsets), then finishes.
Parsed ParseWithCuts(std::string_view stream, const std::vector<size_t>& cuts,
                     SseOptions options = {}) {
  SseParser parser(options);
  Parsed p;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (const size_t to : ends) {
    const Status st = parser.Feed(stream.substr(from, to - from), &p.blocks);
    from = to;
    if (!st.ok()) {
      p.ok = false;
      p.error = st.message();
      return p;
    }
  }
  const Status st = parser.Finish(&p.blocks);
  if (!st.ok()) {
    p.ok = false;
    p.error = st.message();
  }
  return p;
}

Parsed ParseWhole(std::string_view stream, SseOptions options = {}) {
  return ParseWithCuts(stream, {}, options);
}

// Blocks tile the stream: consecutive ranges from 0 to the end.
void ExpectTiles(const Parsed& p, size_t size) {
  uint64_t at = 0;
  for (const SseBlock& b : p.blocks) {
    EXPECT_EQ(b.begin, at);
    EXPECT_LT(b.begin, b.end);
    at = b.end;
  }
  if (p.ok) {
    EXPECT_EQ(at, size);
  }
}

// Every single cut, every byte on its own, and (for short streams) every
// pair of cuts give the same blocks as feeding at once.
void ExpectSplitInvariant(std::string_view stream, SseOptions options = {}) {
  const Parsed whole = ParseWhole(stream, options);
  ExpectTiles(whole, stream.size());
  for (size_t k = 0; k <= stream.size(); ++k) {
    const Parsed split = ParseWithCuts(stream, {k}, options);
    ASSERT_EQ(split.ok, whole.ok) << "cut at " << k;
    ASSERT_EQ(split.blocks, whole.blocks) << "cut at " << k;
  }
  std::vector<size_t> every;
  for (size_t k = 1; k < stream.size(); ++k) every.push_back(k);
  const Parsed bytes = ParseWithCuts(stream, every, options);
  ASSERT_EQ(bytes.ok, whole.ok);
  ASSERT_EQ(bytes.blocks, whole.blocks);
  if (stream.size() <= 80) {
    for (size_t a = 0; a <= stream.size(); ++a) {
      for (size_t b = a; b <= stream.size(); ++b) {
        const Parsed split = ParseWithCuts(stream, {a, b}, options);
        ASSERT_EQ(split.blocks, whole.blocks) << "cuts at " << a << ", " << b;
      }
    }
  }
}

std::vector<SseBlock> Dispatched(const Parsed& p) {
  std::vector<SseBlock> out;
  for (const SseBlock& b : p.blocks) {
    if (b.dispatch) out.push_back(b);
  }
  return out;
}

TEST(Sse, BasicEventFields) {
  const std::string s = "event: add\ndata: 73857293\nid: 7\nretry: 1500\n\n";
  const Parsed p = ParseWhole(s);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_TRUE(p.blocks[0].dispatch);
  EXPECT_TRUE(p.blocks[0].complete);
  EXPECT_EQ(p.blocks[0].type, "add");
  EXPECT_EQ(p.blocks[0].data, "73857293");
  EXPECT_EQ(p.blocks[0].last_event_id, "7");
  EXPECT_EQ(p.blocks[0].retry, 1500u);
  EXPECT_EQ(p.blocks[0].begin, 0u);
  EXPECT_EQ(p.blocks[0].end, s.size());
  ExpectSplitInvariant(s);
}

TEST(Sse, MultiLineDataJoinedWithLf) {
  // The WHATWG example: three data lines, one leading space stripped only.
  const std::string s = "data: YHOO\ndata: +2\ndata:  10\ndata\n\n";
  const Parsed p = ParseWhole(s);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.blocks[0].data, "YHOO\n+2\n 10\n");
  EXPECT_EQ(p.blocks[0].type, "message");
  ExpectSplitInvariant(s);
}

TEST(Sse, LineEndsLfCrCrlfMixed) {
  const std::string lf = "data: a\n\ndata: b\n\n";
  const std::string cr = "data: a\r\rdata: b\r\r";
  const std::string crlf = "data: a\r\n\r\ndata: b\r\n\r\n";
  const std::string mixed = "data: a\r\n\rdata: b\n\r\n";
  for (const std::string& s : {lf, cr, crlf, mixed}) {
    const Parsed p = ParseWhole(s);
    const auto ev = Dispatched(p);
    ASSERT_EQ(ev.size(), 2u) << s;
    EXPECT_EQ(ev[0].data, "a");
    EXPECT_EQ(ev[1].data, "b");
    EXPECT_TRUE(ev[1].complete);
    ExpectSplitInvariant(s);
  }
  // CR LF is one line end, LF CR is two.
  EXPECT_EQ(Dispatched(ParseWhole("data: a\n\rdata: b\n\n")).size(), 2u);
  EXPECT_EQ(Dispatched(ParseWhole("data: a\r\ndata: b\r\n\r\n")).size(), 1u);
}

TEST(Sse, CrAtChunkEndWaitsForPossibleLf) {
  SseParser parser;
  std::vector<SseBlock> out;
  ASSERT_TRUE(parser.Feed("data: x\r\r", &out).ok());
  EXPECT_TRUE(out.empty());  // the second CR may be followed by LF
  ASSERT_TRUE(parser.Feed("\n", &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].end, 10u);
  ASSERT_TRUE(parser.Finish(&out).ok());
  EXPECT_EQ(out.size(), 1u);
}

TEST(Sse, CommentsAndPingsAreBlocksWithoutDispatch) {
  const std::string s = ": ping\n\n:\n: another\ndata: real\n\n";
  const Parsed p = ParseWhole(s);
  ASSERT_EQ(p.blocks.size(), 2u);
  EXPECT_FALSE(p.blocks[0].dispatch);
  EXPECT_EQ(p.blocks[0].comment_lines, 1u);
  EXPECT_TRUE(p.blocks[1].dispatch);
  EXPECT_EQ(p.blocks[1].comment_lines, 2u);
  EXPECT_EQ(p.blocks[1].data, "real");
  ExpectTiles(p, s.size());
  ExpectSplitInvariant(s);
}

TEST(Sse, FieldParsingRules) {
  // No space after the colon; unknown fields ignored; a field name without a
  // colon is a field with an empty value; "data" alone dispatches "".
  const Parsed p = ParseWhole("data:x\nfoo: bar\nevent:\n\ndata\n\n");
  const auto ev = Dispatched(p);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "x");
  EXPECT_EQ(ev[0].type, "message");
  EXPECT_EQ(ev[1].data, "");
  // The event type resets after each block, the last event id does not; an
  // id containing NUL is ignored; an invalid retry is ignored.
  static constexpr char kNulId[] = "event: a\nid: 1\nretry: 1x\ndata: 1\n\ndata: 2\nid: 2\0z\n\n";
  const std::string s(kNulId, sizeof(kNulId) - 1);
  const auto ev2 = Dispatched(ParseWhole(s));
  ASSERT_EQ(ev2.size(), 2u);
  EXPECT_EQ(ev2[0].type, "a");
  EXPECT_FALSE(ev2[0].retry.has_value());
  EXPECT_EQ(ev2[1].type, "message");
  EXPECT_EQ(ev2[1].last_event_id, "1");
  // Id and event without data: no dispatch, but the id sticks.
  const auto ev3 = Dispatched(ParseWhole("id: 9\nevent: e\n\ndata: d\n\n"));
  ASSERT_EQ(ev3.size(), 1u);
  EXPECT_EQ(ev3[0].last_event_id, "9");
  EXPECT_EQ(ev3[0].type, "message");
}

TEST(Sse, BomAtStartOnly) {
  const std::string s =
      "\xEF\xBB\xBF"
      "data: a\n\n\xEF\xBB\xBF"
      "data: b\n\n";
  const Parsed p = ParseWhole(s);
  ASSERT_EQ(p.blocks.size(), 2u);
  EXPECT_EQ(p.blocks[0].begin, 0u);  // the BOM is inside the first block
  EXPECT_EQ(p.blocks[0].data, "a");
  // A second BOM is part of the field name, which no longer matches "data".
  EXPECT_FALSE(p.blocks[1].dispatch);
  ExpectSplitInvariant(s);
  // A partial BOM is ordinary (invalid) bytes.
  const Parsed partial = ParseWhole(
      "\xEF\xBB"
      "data: a\n\n");
  EXPECT_FALSE(partial.blocks[0].dispatch);
  ExpectSplitInvariant("\xEF\xBB");
  ExpectSplitInvariant("\xEF");
}

TEST(Sse, Utf8SplitAcrossChunksAndInvalidBytes) {
  const std::string s = "data: caf\xC3\xA9 \xF0\x9F\x91\x8B \xE2\x80\x8B\n\n";
  ASSERT_EQ(Dispatched(ParseWhole(s))[0].data, "caf\xC3\xA9 \xF0\x9F\x91\x8B \xE2\x80\x8B");
  ExpectSplitInvariant(s);
  // Invalid bytes decode to U+FFFD, as the spec's UTF-8 decode does.
  const auto ev =
      Dispatched(ParseWhole("data: a\xFF"
                            "b\xE2\x80\n\n"));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(Sse, OversizeEventIsAnErrorState) {
  SseOptions options;
  options.max_event_bytes = 32;
  const std::string s = "data: small\n\ndata: " + std::string(100, 'x') + "\n\ndata: after\n\n";
  const Parsed whole = ParseWhole(s, options);
  EXPECT_FALSE(whole.ok);
  EXPECT_NE(whole.error.find("maximum event size of 32"), std::string::npos) << whole.error;
  ASSERT_EQ(whole.blocks.size(), 1u);
  EXPECT_EQ(whole.blocks[0].data, "small");
  ExpectSplitInvariant(s, options);
  // Growth stops: a line that never ends is refused once it passes the limit.
  SseParser parser(options);
  std::vector<SseBlock> out;
  Status st = Status::Ok();
  size_t fed = 0;
  while (st.ok() && fed < 1000) {
    st = parser.Feed("xxxx", &out);
    fed += 4;
  }
  EXPECT_FALSE(st.ok());
  EXPECT_LE(fed, 36u);
  EXPECT_FALSE(parser.Feed("\n\n", &out).ok());  // the error sticks
  EXPECT_FALSE(parser.Finish(&out).ok());
  // Exactly at the limit is fine.
  const std::string exact = "data: " + std::string(24, 'y') + "\n\n";  // 32 bytes
  ASSERT_EQ(exact.size(), 32u);
  EXPECT_TRUE(ParseWhole(exact, options).ok);
  EXPECT_TRUE(ParseWhole(exact + "\n", options).ok);  // a lone blank line is its own block
}

TEST(Sse, FinishReportsUnterminatedTail) {
  const std::string s = "data: a\n\ndata: b\ndata: c";
  const Parsed p = ParseWhole(s);
  ASSERT_EQ(p.blocks.size(), 2u);
  EXPECT_TRUE(p.blocks[0].complete);
  EXPECT_FALSE(p.blocks[1].complete);
  EXPECT_TRUE(p.blocks[1].dispatch);
  EXPECT_EQ(p.blocks[1].data, "b\nc");
  ExpectTiles(p, s.size());
  ExpectSplitInvariant(s);
  // Nothing after the last blank line: nothing more.
  EXPECT_EQ(ParseWhole("data: a\n\n").blocks.size(), 1u);
  EXPECT_TRUE(ParseWhole("").blocks.empty());
  SseParser parser;
  std::vector<SseBlock> out;
  ASSERT_TRUE(parser.Finish(&out).ok());
  EXPECT_FALSE(parser.Feed("data: late\n\n", &out).ok());
}

TEST(Sse, ProviderStreamsSplitAnywhere) {
  for (const std::string_view s :
       {std::string_view(testdata::kAnthropicStream),
        std::string_view(testdata::kAnthropicErrorStream),
        std::string_view(testdata::kOpenAiStream), std::string_view(testdata::kGeminiStream)}) {
    const Parsed p = ParseWhole(s);
    ASSERT_TRUE(p.ok);
    for (const SseBlock& b : p.blocks) {
      EXPECT_TRUE(b.complete);
      EXPECT_TRUE(b.dispatch);
      // Each block's bytes end with the blank line.
      EXPECT_TRUE(s.substr(0, b.end).ends_with("\n\n") || s.substr(0, b.end).ends_with("\r\n\r\n"));
    }
    ExpectSplitInvariant(s);
  }
  EXPECT_EQ(ParseWhole(testdata::kAnthropicStream).blocks.size(), 12u);
  EXPECT_EQ(ParseWhole(testdata::kOpenAiStream).blocks.size(), 8u);
  EXPECT_EQ(ParseWhole(testdata::kGeminiStream).blocks.size(), 3u);
}

}  // namespace
}  // namespace glassbox::net
