// Model routes and protocol translation at run time: decides, for one
// request, which upstream a model route sends it to and whether its body
// must be translated (gate/translate), and builds what goes upstream and
// what comes back. The gateway calls these around its transport; pure
// functions over the config, the route and the bodies (no I/O).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gate/config.h"
#include "gate/policy.h"
#include "gate/provider_errors.h"
#include "gate/translate/translate.h"

namespace glassbox::gate {

struct RoutePlan {
  // The upstream a model route chose; nullptr: no route applies and the
  // request goes where the policy sent it.
  const UpstreamConfig* upstream = nullptr;
  std::string upstream_model;  // "" keeps the client's model
  // The request is translated from client_api to OpenAI Chat Completions
  // and the answer back.
  bool translate = false;
  translate::Api client_api = translate::Api::kOpenAiChat;
  // count_tokens for an upstream that cannot count: answered here with an
  // estimate (GateConfig::count_tokens_estimate).
  bool count_locally = false;
  // The route cannot be served (a protocol pair the gate does not
  // translate, count_tokens without the estimate): answer this.
  std::optional<Refusal> refusal;
};

// `route` is the classified request, `model` the model it asks for.
RoutePlan PlanRoute(const GateConfig& config, const Route& route, std::string_view model);

// What to send the routed upstream.
struct RoutedRequest {
  std::string body;
  std::string target;  // origin-form request target on the upstream
  HeaderList headers;
  std::vector<std::string> notes;  // what translation could not carry (logged)
};

// Builds the upstream request from the policy's body and headers: the body
// translated (or its model renamed), the target for the upstream's API, and
// headers without the client's credentials or provider-specific headers
// when they would reach another provider (the upstream's api_key is put in
// its own header). A failure is an untranslatable request: the Status names
// the field and the reason.
Result<RoutedRequest> BuildRoutedRequest(const GateConfig& config, const RoutePlan& plan,
                                         const Route& route, std::string body,
                                         const HeaderList& headers);

// The answer to a count_tokens request counted here: {"input_tokens":N} for
// Anthropic, {"totalTokens":N} for Gemini, marked as an estimate.
Result<std::string> LocalTokenCount(const Route& route, std::string_view body);

// A complete (non-streamed) upstream answer -> the client's format. Error
// statuses become errors in the client's format with the upstream's
// message; a 2xx body that cannot be translated becomes a 502.
struct TranslatedResponse {
  int status = 200;
  std::string body;
  std::vector<std::string> notes;
};
TranslatedResponse TranslateResponse(const RoutePlan& plan, const Route& route,
                                     std::string_view client_model, int status,
                                     std::string_view body);

// The stream translator for a streamed upstream answer.
std::unique_ptr<translate::StreamTranslator> NewResponseStreamTranslator(
    const RoutePlan& plan, std::string_view client_model);

}  // namespace glassbox::gate
