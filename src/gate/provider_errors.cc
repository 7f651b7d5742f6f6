#include "gate/provider_errors.h"

#include <boost/json.hpp>

namespace glassbox::gate {

namespace json = boost::json;

int HttpStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest:
      return 400;
    case ErrorKind::kAuthentication:
      return 401;
    case ErrorKind::kPermission:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kRateLimit:
      return 429;
    case ErrorKind::kUpstream:
      return 502;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

namespace {

// Anthropic's documented error types.
std::string_view AnthropicType(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest:
      return "invalid_request_error";
    case ErrorKind::kAuthentication:
      return "authentication_error";
    case ErrorKind::kPermission:
      return "permission_error";
    case ErrorKind::kNotFound:
      return "not_found_error";
    case ErrorKind::kTooLarge:
      return "request_too_large";
    case ErrorKind::kRateLimit:
      return "rate_limit_error";
    case ErrorKind::kUpstream:
    case ErrorKind::kInternal:
      return "api_error";
  }
  return "api_error";
}

// OpenAI's error "type" values.
std::string_view OpenAiType(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest:
    case ErrorKind::kNotFound:
    case ErrorKind::kTooLarge:
      return "invalid_request_error";
    case ErrorKind::kAuthentication:
      return "authentication_error";
    case ErrorKind::kPermission:
      return "permission_error";
    case ErrorKind::kRateLimit:
      return "rate_limit_exceeded";
    case ErrorKind::kUpstream:
    case ErrorKind::kInternal:
      return "server_error";
  }
  return "server_error";
}

// google.rpc.Code names as Gemini sends them.
std::string_view GeminiStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest:
      return "INVALID_ARGUMENT";
    case ErrorKind::kAuthentication:
      return "UNAUTHENTICATED";
    case ErrorKind::kPermission:
      return "PERMISSION_DENIED";
    case ErrorKind::kNotFound:
      return "NOT_FOUND";
    case ErrorKind::kTooLarge:
      return "INVALID_ARGUMENT";
    case ErrorKind::kRateLimit:
      return "RESOURCE_EXHAUSTED";
    case ErrorKind::kUpstream:
      return "UNAVAILABLE";
    case ErrorKind::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace

Refusal MakeRefusal(net::Provider provider, ErrorKind kind, std::string_view code,
                    std::string_view message) {
  Refusal r;
  r.status = HttpStatusFor(kind);
  r.code = std::string(code);
  r.message = "glassbox gate: " + std::string(message);
  json::object body;
  switch (provider) {
    case net::Provider::kAnthropic:
      body["type"] = "error";
      body["error"] = json::object{{"type", AnthropicType(kind)}, {"message", r.message}};
      break;
    case net::Provider::kGemini:
      body["error"] =
          json::object{{"code", r.status}, {"message", r.message}, {"status", GeminiStatus(kind)}};
      break;
    case net::Provider::kOpenAi:
    case net::Provider::kUnknown:
      body["error"] = json::object{
          {"message", r.message}, {"type", OpenAiType(kind)}, {"param", nullptr}, {"code", code}};
      break;
  }
  r.body = json::serialize(body);
  return r;
}

}  // namespace glassbox::gate
