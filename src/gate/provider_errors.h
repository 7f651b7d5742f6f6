// Error responses in each provider's own format, so an agent shows the
// gate's reason the way it shows the provider's own errors:
//   Anthropic {"type":"error","error":{"type":"invalid_request_error","message":"..."}}
//   OpenAI    {"error":{"message":"...","type":"invalid_request_error","param":null,"code":"..."}}
//   Gemini    {"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/provider_events.h"

namespace glassbox::gate {

enum class ErrorKind {
  kInvalidRequest,  // 400: malformed JSON, invalid UTF-8, bad header
  kAuthentication,  // 401: missing or unknown gate key
  kPermission,      // 403: refused by policy (private key, model or upstream not allowed)
  kNotFound,        // 404: unknown path
  kTooLarge,        // 413: body over max_body_bytes
  kRateLimit,       // 429: budget spent
  kUpstream,        // 502: upstream unreachable or broken
  kInternal,        // 500
};

int HttpStatusFor(ErrorKind kind);

// A complete error answer: status, JSON body, and a short code for the log
// and metrics ("private-key", "model-not-allowed", "budget", ...).
struct Refusal {
  int status = 400;
  std::string body;  // application/json
  std::string code;
  std::string message;              // the human reason, also inside body
  int64_t retry_after_seconds = 0;  // > 0: sent as retry-after (429 of a spent budget)
};

// Builds the error body for `provider` (kUnknown uses the OpenAI shape).
// `code` is a glassbox code such as "private-key"; it appears as OpenAI's
// "code" and in Refusal::code.
Refusal MakeRefusal(net::Provider provider, ErrorKind kind, std::string_view code,
                    std::string_view message);

}  // namespace glassbox::gate
