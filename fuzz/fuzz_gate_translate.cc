// Fuzzes gate/translate. The first byte picks the format and a split point;
// the rest is a request, a response and a stream at once. Every translation
// either fails with a reason or gives one JSON value in valid UTF-8; a
// stream's translation is the same whole and split at the chosen byte.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "gate/translate/translate.h"

namespace {

using glassbox::gate::translate::Api;

void CheckJson(const glassbox::Result<glassbox::gate::translate::Translated>& t, const char* what) {
  if (!t.ok()) {
    FUZZ_CHECK(!t.status().message().empty(), "%s failed without a reason", what);
    return;
  }
  FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(t->body), "%s gave invalid UTF-8", what);
  boost::system::error_code ec;
  boost::json::parse(t->body, ec);
  FUZZ_CHECK(!ec, "%s gave invalid JSON: %s", what, t->body.c_str());
}

std::string Stream(Api to, std::string_view in, size_t split) {
  auto t = glassbox::gate::translate::NewChatStreamTranslator(to, {.client_model = "m"});
  std::string out = t->Feed(in.substr(0, split));
  out += t->Feed(in.substr(split));
  out += t->Finish();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Api apis[] = {Api::kAnthropicMessages, Api::kOpenAiResponses, Api::kGemini};
  const Api api = apis[data[0] % 3];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  CheckJson(
      glassbox::gate::translate::RequestToChat(api, in, {.upstream_model = "u", .path_model = "g"}),
      "request");
  CheckJson(glassbox::gate::translate::ChatRequestToMessages(in), "chat request");
  CheckJson(glassbox::gate::translate::ChatResponseTo(api, in, "m"), "response");
  CheckJson(glassbox::gate::translate::MessagesResponseToChat(in), "messages response");
  const size_t split = in.empty() ? 0 : (data[0] / 3) % (in.size() + 1);
  const std::string whole = Stream(api, in, in.size());
  FUZZ_CHECK(Stream(api, in, split) == whole, "the stream split at %zu translates differently",
             split);
  FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(whole), "the stream gave invalid UTF-8");
  return 0;
}
