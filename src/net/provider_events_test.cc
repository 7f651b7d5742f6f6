#include "net/provider_events.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/testdata_streams.h"

namespace glassbox::net {
namespace {

// What a gateway sees of a whole stream: the pieces, usage, error and done.
struct Summary {
  std::vector<std::string> text;   // kText pieces
  std::vector<std::string> tools;  // kToolArguments pieces
  std::vector<std::string> errors;
  std::vector<std::string> paths;
  Usage usage;
  bool error = false;
  bool done = false;
  size_t events = 0;
  bool ok = true;
};

void Merge(const Usage& from, Usage* to) {
  if (from.input_tokens) to->input_tokens = from.input_tokens;
  if (from.output_tokens) to->output_tokens = from.output_tokens;
  if (from.total_tokens) to->total_tokens = from.total_tokens;
  if (from.cache_read_tokens) to->cache_read_tokens = from.cache_read_tokens;
  if (from.cache_creation_tokens) to->cache_creation_tokens = from.cache_creation_tokens;
}

Summary Summarize(Provider provider, std::string_view stream, size_t chunk_size) {
  SseParser parser;
  std::vector<SseBlock> blocks;
  Summary s;
  for (size_t at = 0; at < stream.size(); at += chunk_size) {
    if (!parser.Feed(stream.substr(at, chunk_size), &blocks).ok()) s.ok = false;
  }
  if (!parser.Finish(&blocks).ok()) s.ok = false;
  for (const SseBlock& b : blocks) {
    Result<ProviderEvent> ev = ParseProviderEvent(provider, b);
    if (!ev.ok()) {
      s.ok = false;
      continue;
    }
    ++s.events;
    for (const TextPiece& p : ev->pieces) {
      if (p.kind == PieceKind::kText) s.text.push_back(p.text);
      if (p.kind == PieceKind::kToolArguments) s.tools.push_back(p.text);
      if (p.kind == PieceKind::kError) s.errors.push_back(p.text);
      s.paths.push_back(p.path);
    }
    Merge(ev->usage, &s.usage);
    s.error = s.error || ev->is_error;
    s.done = s.done || ev->is_done;
  }
  return s;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s;
  return out;
}

TEST(ProviderEvents, Anthropic) {
  const Summary s = Summarize(Provider::kAnthropic, testdata::kAnthropicStream, 1 << 20);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.events, 12u);
  EXPECT_EQ(Join(s.text), "Hello \xe2\x80\x94 caf\xc3\xa9 \xf0\x9f\x91\x8b\n");
  EXPECT_EQ(Join(s.tools), "{\"location\": \"San Francisco\"}");
  EXPECT_EQ(s.paths[0], "$.delta.text");
  EXPECT_EQ(s.usage.input_tokens, 25u);
  EXPECT_EQ(s.usage.output_tokens, 89u);
  EXPECT_EQ(s.usage.cache_read_tokens, 12u);
  EXPECT_EQ(s.usage.cache_creation_tokens, 0u);
  EXPECT_FALSE(s.error);
  EXPECT_TRUE(s.done);
}

TEST(ProviderEvents, AnthropicErrorMidStream) {
  const Summary s = Summarize(Provider::kAnthropic, testdata::kAnthropicErrorStream, 1 << 20);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(Join(s.text), "Par");
  EXPECT_TRUE(s.error);
  EXPECT_FALSE(s.done);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], "Overloaded");
}

TEST(ProviderEvents, OpenAiChatCompletions) {
  const Summary s = Summarize(Provider::kOpenAi, testdata::kOpenAiStream, 1 << 20);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(Join(s.text), "Gr\xc3\xbc\xc3\x9f Gott \xe6\x97\xa5\xe6\x9c\xac");
  EXPECT_EQ(Join(s.tools), "{\"city\":\"Paris\"}");
  EXPECT_EQ(s.usage.input_tokens, 82u);
  EXPECT_EQ(s.usage.output_tokens, 17u);
  EXPECT_EQ(s.usage.total_tokens, 99u);
  EXPECT_TRUE(s.done);
  EXPECT_FALSE(s.error);
  Result<ProviderEvent> done = ParseProviderEventData(Provider::kOpenAi, "message", "[DONE]");
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->is_done);
  EXPECT_TRUE(done->pieces.empty());
}

TEST(ProviderEvents, OpenAiErrorEvent) {
  Result<ProviderEvent> ev = ParseProviderEventData(
      Provider::kOpenAi, "message",
      R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev->is_error);
  ASSERT_EQ(ev->pieces.size(), 1u);
  EXPECT_EQ(ev->pieces[0].kind, PieceKind::kError);
  EXPECT_EQ(ev->pieces[0].text, "Rate limit reached");
}

TEST(ProviderEvents, Gemini) {
  const Summary s = Summarize(Provider::kGemini, testdata::kGeminiStream, 1 << 20);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(Join(s.text), "The quick brown fox \xe2\x80\x8b jumps");
  EXPECT_EQ(Join(s.tools), "fox facts");
  EXPECT_EQ(s.paths[0], "$.candidates[0].content.parts[0].text");
  EXPECT_EQ(s.usage.input_tokens, 9u);
  EXPECT_EQ(s.usage.output_tokens, 12u);
  EXPECT_EQ(s.usage.total_tokens, 21u);
  EXPECT_TRUE(s.done);
}

TEST(ProviderEvents, EverySplitGivesTheSameContent) {
  struct Case {
    Provider provider;
    std::string_view stream;
  };
  for (const Case& c : {Case{Provider::kAnthropic, testdata::kAnthropicStream},
                        Case{Provider::kAnthropic, testdata::kAnthropicErrorStream},
                        Case{Provider::kOpenAi, testdata::kOpenAiStream},
                        Case{Provider::kGemini, testdata::kGeminiStream}}) {
    const Summary whole = Summarize(c.provider, c.stream, c.stream.size());
    for (size_t chunk = 1; chunk <= 64; ++chunk) {
      const Summary split = Summarize(c.provider, c.stream, chunk);
      ASSERT_EQ(split.text, whole.text) << "chunk " << chunk;
      ASSERT_EQ(split.tools, whole.tools) << "chunk " << chunk;
      ASSERT_EQ(split.errors, whole.errors);
      ASSERT_EQ(split.done, whole.done);
      ASSERT_EQ(split.error, whole.error);
      ASSERT_EQ(split.usage.output_tokens, whole.usage.output_tokens);
    }
  }
}

TEST(ProviderEvents, GuessesTheProvider) {
  EXPECT_EQ(ParseProviderEventData(Provider::kUnknown, "message",
                                   R"({"choices":[{"delta":{"content":"x"}}]})")
                ->provider,
            Provider::kOpenAi);
  EXPECT_EQ(ParseProviderEventData(Provider::kUnknown, "message", R"({"candidates":[{"index":0}]})")
                ->provider,
            Provider::kGemini);
  EXPECT_EQ(ParseProviderEventData(Provider::kUnknown, "ping", R"({"type":"ping"})")->provider,
            Provider::kAnthropic);
  EXPECT_EQ(ParseProviderEventData(Provider::kUnknown, "message", "[DONE]")->provider,
            Provider::kOpenAi);
}

TEST(ProviderEvents, MalformedDataIsAnErrorValue) {
  Result<ProviderEvent> ev =
      ParseProviderEventData(Provider::kAnthropic, "content_block_delta", "{\"type\":");
  ASSERT_FALSE(ev.ok());
  EXPECT_NE(ev.status().message().find("anthropic"), std::string::npos);
  EXPECT_NE(ev.status().message().find("content_block_delta"), std::string::npos);
  // A block that would not be dispatched is empty, not an error.
  SseBlock comment;
  comment.comment_lines = 1;
  Result<ProviderEvent> empty = ParseProviderEvent(Provider::kGemini, comment);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->pieces.empty());
  // Text values that only look like the paths are not taken.
  Result<ProviderEvent> other = ParseProviderEventData(
      Provider::kOpenAi, "message",
      R"({"choices":[{"message":{"content":"no"}}],"x":{"delta":{"content":"no"}}})");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->pieces.empty());
  // Negative or fractional counts are not usage.
  Result<ProviderEvent> bad = ParseProviderEventData(
      Provider::kOpenAi, "message",
      R"({"usage":{"prompt_tokens":-1,"completion_tokens":1.5,"total_tokens":"3"}})");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->usage.any());
}

TEST(ProviderEvents, JsonPathMatches) {
  EXPECT_TRUE(JsonPathMatches("$.choices[12].delta.content", "$.choices[*].delta.content"));
  EXPECT_FALSE(JsonPathMatches("$.choices[].delta.content", "$.choices[*].delta.content"));
  EXPECT_FALSE(JsonPathMatches("$.choices[0].delta.contents", "$.choices[*].delta.content"));
  EXPECT_FALSE(JsonPathMatches("$.choices[0]", "$.choices[*].delta"));
}

}  // namespace
}  // namespace glassbox::net
