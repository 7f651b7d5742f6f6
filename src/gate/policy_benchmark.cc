// Times the gate's policy on its hot paths, and in the same run a baseline:
// what a DOM-based filter pays just to parse and re-serialise the same body
// with Boost.JSON (a common way to write such a proxy). Prints one line per
// case: p50 and p99 in microseconds, and MB/s at p50.
//   build-policy/src/gate/gate_policy_benchmark [iterations]
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "gate/inbound.h"
#include "gate/policy.h"
#include "gate/translate/translate.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace json = boost::json;

template <typename F>
void Time(const char* name, size_t bytes, int iterations, F&& f) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    const auto a = Clock::now();
    f();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  std::sort(us.begin(), us.end());
  const double p50 = us[us.size() / 2];
  const double p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  std::printf("%-44s %8zu B  p50 %8.1f us  p99 %8.1f us  %7.0f MB/s\n", name, bytes, p50, p99,
              static_cast<double>(bytes) / p50);
}

// An Anthropic Messages request of about `size` bytes: a system prompt and
// turns of tool results holding code and prose (a little non-ASCII in it).
std::string Request(size_t size) {
  json::array messages;
  std::string body;
  for (int i = 0; body.size() < size; ++i) {
    messages.push_back(json::object{
        {"role", "user"},
        {"content",
         json::array{{{"type", "tool_result"},
                      {"tool_use_id", "toolu_" + std::to_string(i)},
                      {"content",
                       "int main(int argc, char** argv) {\n  for (int i = 0; i < argc; ++i) "
                       "printf(\"%s\\n\", argv[i]);\n  return 0;\n}\n// Résumé: the quick "
                       "brown fox — naïve café.\n"}}}}});
    body = json::serialize(json::object{{"model", "claude-sonnet-4-5"},
                                        {"max_tokens", 4096},
                                        {"stream", true},
                                        {"system", "You are Claude Code, an interactive CLI tool."},
                                        {"messages", messages}});
  }
  return body;
}

// The body bench/gate_bench.sh sends: one 100 KB user turn of ASCII prose.
std::string Prose() {
  static const char* kWords[] = {"the",    "quick", "brown", "fox",   "jumps", "over",
                                 "the",    "lazy",  "dog",   "while", "a",     "compiler",
                                 "builds", "the",   "code",  "again"};
  std::string text;
  for (size_t i = 0; text.size() < 100000; ++i) {
    if (i > 0) text += ' ';
    text += kWords[i % std::size(kWords)];
  }
  text.resize(100000);
  return json::serialize(
      json::object{{"model", "claude-sonnet-4-5"},
                   {"max_tokens", 64},
                   {"messages", json::array{json::object{{"role", "user"}, {"content", text}}}}});
}

std::string Stream(int deltas) {
  std::string s =
      "event: message_start\ndata: "
      "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,"
      "\"output_tokens\":1}}}\n\n";
  for (int i = 0; i < deltas; ++i) {
    s += "event: content_block_delta\ndata: "
         "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
         "\"text_delta\",\"text\":\"Here is some code — for (int i = 0; i < n; ++i) sum += "
         "v[i];\"}}\n\n";
  }
  s += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  return s;
}

// An OpenAI Chat Completions stream of `deltas` text chunks, with its usage chunk.
std::string ChatStream(int deltas) {
  std::string s;
  for (int i = 0; i < deltas; ++i) {
    s += "data: "
         "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
         "\"qwen3-coder\","
         "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Here is some code \\u2014 for (int i "
         "= 0; i < n; ++i) "
         "sum += v[i];\"},\"finish_reason\":null}]}\n\n";
  }
  s += "data: "
       "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
       "\"qwen3-coder\","
       "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
  s += "data: "
       "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
       "\"qwen3-coder\","
       "\"choices\":[],\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":500,\"total_tokens\":"
       "525}}\n\n";
  s += "data: [DONE]\n\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(10, std::atoi(argv[1])) : 300;
  auto created = glassbox::gate::Policy::Create(glassbox::gate::DefaultGateConfig());
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().message().c_str());
    return 2;
  }
  const auto& policy = *created.value();
  const auto route = policy.ClassifyRoute("POST", "/v1/messages").route;
  for (size_t size : {1000, 10000, 100000}) {
    const std::string body = Request(size);
    Time(("ApplyOutbound " + std::to_string(size / 1000) + " KB").c_str(), body.size(), iterations,
         [&] {
           auto r = policy.ApplyOutbound(route, body);
           if (r.refusal || r.changed) std::abort();
         });
    Time(("baseline: Boost.JSON parse+serialize " + std::to_string(size / 1000) + " KB").c_str(),
         body.size(), iterations, [&] {
           std::string out = json::serialize(json::parse(body));
           if (out.empty()) std::abort();
         });
  }
  const std::string prose = Prose();
  // As the gateway calls it: the original is hashed while the upstream answers, and an
  // unchanged body is forwarded as it came, not copied.
  Time("ApplyOutbound 100 KB of prose, no hash, no copy (gate)", prose.size(), iterations, [&] {
    auto r = policy.ApplyOutbound(route, prose, {.hash_original = false, .copy_unchanged = false});
    if (r.refusal || r.changed) std::abort();
  });
  const std::string stream = Stream(500);
  Time("InboundStream 500 deltas, 1 KB chunks", stream.size(), iterations / 3 + 1, [&] {
    glassbox::gate::InboundStream s({glassbox::net::Provider::kAnthropic, true});
    size_t out = 0;
    for (size_t i = 0; i < stream.size(); i += 1024)
      out += s.Feed(std::string_view(stream).substr(i, 1024)).size();
    out += s.Finish().size();
    if (out != stream.size() || !s.complete()) std::abort();
  });
  // Protocol translation (gate/translate), as the gateway calls it for a
  // model routed to a Chat Completions upstream.
  namespace tr = glassbox::gate::translate;
  tr::RequestOptions to_qwen;
  to_qwen.upstream_model = "qwen3-coder";
  Time("translate Messages->Chat 100 KB of prose", prose.size(), iterations, [&] {
    auto r = tr::RequestToChat(tr::Api::kAnthropicMessages, prose, to_qwen);
    if (!r.ok() || r->body.size() < 100000) std::abort();
  });
  const std::string tools = Request(100000);
  Time("translate Messages->Chat 100 KB tool results", tools.size(), iterations, [&] {
    auto r = tr::RequestToChat(tr::Api::kAnthropicMessages, tools, to_qwen);
    if (!r.ok() || r->body.size() < 50000) std::abort();
  });
  const std::string chat_stream = ChatStream(500);
  Time("translate Chat->Messages stream, 500 deltas", chat_stream.size(), iterations / 3 + 1, [&] {
    auto t = tr::NewChatStreamTranslator(tr::Api::kAnthropicMessages,
                                         {.client_model = "claude-sonnet-4-5"});
    size_t out = 0;
    for (size_t i = 0; i < chat_stream.size(); i += 1024)
      out += t->Feed(std::string_view(chat_stream).substr(i, 1024)).size();
    out += t->Finish().size();
    if (out == 0 || !t->status().ok()) std::abort();
  });
  return 0;
}
