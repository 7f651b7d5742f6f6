#include "gate/translation.h"

#include <fmt/format.h>

#include "net/http.h"

namespace glassbox::gate {
namespace {

using translate::Api;

// The generation API of a route, if it is one routes apply to.
std::optional<Api> ClientApi(const Route& route) {
  if (route.name == "anthropic.messages") return Api::kAnthropicMessages;
  if (route.name == "openai.chat_completions") return Api::kOpenAiChat;
  if (route.name == "openai.responses") return Api::kOpenAiResponses;
  if (route.name == "gemini.generate_content" || route.name == "gemini.stream_generate_content")
    return Api::kGemini;
  return std::nullopt;
}

// True when `upstream` answers `api` itself.
bool Speaks(const UpstreamConfig& upstream, Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
      return upstream.protocol == net::Provider::kAnthropic;
    case Api::kOpenAiChat:
      return upstream.protocol == net::Provider::kOpenAi;
    case Api::kOpenAiResponses:
      return upstream.protocol == net::Provider::kOpenAi && !upstream.chat_only;
    case Api::kGemini:
      return upstream.protocol == net::Provider::kGemini;
  }
  return false;
}

std::string_view UpstreamProtocolName(const UpstreamConfig& u) {
  return u.chat_only ? std::string_view("openai-chat") : net::ProviderName(u.protocol);
}

ErrorKind KindForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorKind::kInvalidRequest;
    case 401:
      return ErrorKind::kAuthentication;
    case 403:
      return ErrorKind::kPermission;
    case 404:
      return ErrorKind::kNotFound;
    case 413:
      return ErrorKind::kTooLarge;
    case 429:
      return ErrorKind::kRateLimit;
    default:
      return status >= 500 ? ErrorKind::kUpstream : ErrorKind::kInvalidRequest;
  }
}

bool IsCredentialHeader(std::string_view name) {
  for (std::string_view h : {"x-api-key", "authorization", "x-goog-api-key", "api-key"}) {
    if (net::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

// Headers that belong to the client's provider protocol (or to the body's
// encoding) and mean nothing, or something else, to a translated upstream.
bool IsProtocolHeader(std::string_view name) {
  for (std::string_view h :
       {"anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
        "openai-beta", "x-goog-api-client", "x-goog-user-project", "content-type", "accept"}) {
    if (net::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

}  // namespace

RoutePlan PlanRoute(const GateConfig& config, const Route& route, std::string_view model) {
  RoutePlan plan;
  const bool count = route.name == "anthropic.count_tokens" || route.name == "gemini.count_tokens";
  std::optional<Api> api = ClientApi(route);
  if ((!api && !count) || model.empty()) return plan;
  const ModelRoute* r = FindModelRoute(config, model);
  if (r != nullptr) {
    plan.upstream = FindUpstream(config, r->upstream);
    if (plan.upstream == nullptr) return plan;  // CheckRoutes refused this at start
    plan.upstream_model = r->model;
  } else {
    // No model route: only a Chat-only upstream addressed by its path
    // prefix ("/local/v1/messages") needs translating.
    const UpstreamConfig* own = FindUpstream(config, route.upstream);
    if (own == nullptr || !own->chat_only) return plan;
    plan.upstream = own;
  }
  if (count) {
    const bool native = route.protocol == plan.upstream->protocol && !plan.upstream->chat_only;
    if (native) return plan;
    if (config.count_tokens_estimate) {
      plan.count_locally = true;
    } else {
      plan.refusal = MakeRefusal(
          route.protocol, ErrorKind::kNotFound, "untranslatable",
          fmt::format("model {} is routed to upstream {} ({}), which cannot count tokens; start "
                      "the gate with "
                      "--count-tokens (or count_tokens = \"estimate\" in gate.toml) to answer with "
                      "an estimate",
                      model, plan.upstream->name, UpstreamProtocolName(*plan.upstream)));
    }
    return plan;
  }
  plan.client_api = *api;
  if (Speaks(*plan.upstream, *api)) return plan;
  if (plan.upstream->protocol == net::Provider::kOpenAi && *api != Api::kOpenAiChat) {
    if (route.name == "gemini.stream_generate_content" && !route.streaming) {
      plan.refusal = MakeRefusal(
          route.protocol, ErrorKind::kInvalidRequest, "untranslatable",
          "streamGenerateContent without ?alt=sse (a JSON array) is not translated; use alt=sse");
      return plan;
    }
    plan.translate = true;
    return plan;
  }
  plan.refusal = MakeRefusal(
      route.protocol, ErrorKind::kInvalidRequest, "untranslatable",
      fmt::format("model {} is routed to upstream {}, which speaks {}; the gate translates "
                  "Anthropic Messages, OpenAI Responses and Gemini to OpenAI Chat Completions, "
                  "not {} to {}",
                  model, plan.upstream->name, UpstreamProtocolName(*plan.upstream),
                  translate::ApiName(*api), UpstreamProtocolName(*plan.upstream)));
  return plan;
}

Result<RoutedRequest> BuildRoutedRequest(const GateConfig& config, const RoutePlan& plan,
                                         const Route& route, std::string body,
                                         const HeaderList& headers) {
  RoutedRequest out;
  const UpstreamConfig& up = *plan.upstream;
  bool stream = route.streaming;
  if (plan.translate) {
    translate::RequestOptions options;
    options.upstream_model = plan.upstream_model;
    options.path_model = route.model;
    options.path_stream = route.streaming;
    options.max_tokens_cap = up.max_tokens;
    Result<translate::Translated> t = translate::RequestToChat(plan.client_api, body, options);
    if (!t.ok()) return t.status();
    out.body = std::move(t->body);
    out.notes = std::move(t->notes);
    stream = t->stream;
    out.target = up.url.path + "/v1/chat/completions";
  } else {
    // Native: the same API on another upstream, or under another model name.
    const UpstreamConfig* before = FindUpstream(config, route.upstream);
    std::string rest = route.upstream_target;
    if (before != nullptr && rest.starts_with(before->url.path))
      rest = rest.substr(before->url.path.size());
    if (!plan.upstream_model.empty() && plan.client_api == translate::Api::kGemini) {
      const std::string from = "/models/" + route.model + ":";
      if (size_t at = rest.find(from); at != std::string::npos) {
        rest.replace(at, from.size(), "/models/" + plan.upstream_model + ":");
      }
      out.body = std::move(body);
    } else if (!plan.upstream_model.empty()) {
      Result<std::string> renamed = translate::RewriteModel(body, plan.upstream_model);
      if (!renamed.ok()) return renamed.status();
      out.body = std::move(renamed).value();
    } else {
      out.body = std::move(body);
    }
    out.target = up.url.path + rest;
  }
  const bool other_upstream = up.name != route.upstream;
  for (const auto& [name, value] : headers) {
    if (other_upstream && IsCredentialHeader(name)) continue;
    if (plan.translate && IsProtocolHeader(name)) continue;
    out.headers.emplace_back(name, value);
  }
  if (plan.translate) {
    out.headers.emplace_back("Content-Type", "application/json");
    out.headers.emplace_back("Accept", stream ? "text/event-stream" : "application/json");
  }
  if (other_upstream && !up.api_key.empty()) {
    switch (up.protocol) {
      case net::Provider::kAnthropic:
        out.headers.emplace_back("x-api-key", up.api_key);
        break;
      case net::Provider::kGemini:
        out.headers.emplace_back("x-goog-api-key", up.api_key);
        break;
      default:
        out.headers.emplace_back("Authorization", "Bearer " + up.api_key);
    }
  }
  return out;
}

Result<std::string> LocalTokenCount(const Route& route, std::string_view body) {
  const Api api = route.protocol == net::Provider::kGemini ? Api::kGemini : Api::kAnthropicMessages;
  Result<uint64_t> n = translate::EstimateInputTokens(api, body);
  if (!n.ok()) return n.status();
  // The extra member says what the number is; SDKs ignore members they do
  // not know.
  if (api == Api::kGemini)
    return fmt::format("{{\"totalTokens\":{},\"glassbox_estimate\":true}}", *n);
  return fmt::format("{{\"input_tokens\":{},\"glassbox_estimate\":true}}", *n);
}

TranslatedResponse TranslateResponse(const RoutePlan& plan, const Route& route,
                                     std::string_view client_model, int status,
                                     std::string_view body) {
  TranslatedResponse out;
  out.status = status;
  if (status < 200 || status > 299) {
    Refusal r = MakeRefusal(
        route.protocol, KindForStatus(status), "upstream-error",
        fmt::format("upstream {}: {}", plan.upstream->name, translate::UpstreamErrorMessage(body)));
    out.body = std::move(r.body);
    return out;
  }
  Result<translate::Translated> t = translate::ChatResponseTo(plan.client_api, body, client_model);
  if (!t.ok()) {
    Refusal r =
        MakeRefusal(route.protocol, ErrorKind::kUpstream, "untranslatable-response",
                    fmt::format("upstream {}: {}", plan.upstream->name, t.status().message()));
    out.status = r.status;
    out.body = std::move(r.body);
    return out;
  }
  out.body = std::move(t->body);
  out.notes = std::move(t->notes);
  return out;
}

std::unique_ptr<translate::StreamTranslator> NewResponseStreamTranslator(
    const RoutePlan& plan, std::string_view client_model) {
  translate::StreamOptions options;
  options.client_model = std::string(client_model);
  return translate::NewChatStreamTranslator(plan.client_api, std::move(options));
}

}  // namespace glassbox::gate
