// Policy: what the gate lets out and how it rewrites it. Built once from a
// GateConfig (Policy::Create), immutable afterwards and safe to use from any
// number of threads at once (per-thread scratch is internal). No sockets,
// no Beast: the gateway (gate/gateway.cc) calls it around its transport.
//
// One exchange, in the order the gateway calls it:
//   1. ClassifyRoute(method, target)      which API, upstream, model, stream?
//   2. CheckAndRewriteHeaders(route, h)   header injection check, user
//                                         authentication, credential swap,
//                                         per-upstream header rewrite rules
//   3. ApplyOutbound(route, body)         JSON-aware secret redaction, hidden
//                                         character stripping, refusals
//   4. InboundJson(...) or NewInboundStream(...)   the response on its way back
//
// Every refusal comes back as a Refusal in the provider's own error format
// (provider_errors.h); the gateway sends it and logs the exchange.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/finding.h"
#include "core/status.h"
#include "gate/config.h"
#include "gate/inbound.h"
#include "gate/provider_errors.h"
#include "net/provider_events.h"

namespace glassbox::gate {

// HTTP header fields in wire order; names compared case-insensitively.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What a request is, from its method and target alone.
struct Route {
  net::Provider protocol =
      net::Provider::kUnknown;  // wire format (for unknown paths: a guess, for errors)
  // "anthropic.messages", "anthropic.count_tokens", "anthropic.models",
  // "openai.chat_completions", "openai.responses", "openai.responses_compact",
  // "openai.models", "openai.embeddings", "gemini.generate_content",
  // "gemini.stream_generate_content", "gemini.count_tokens",
  // "gemini.embed_content" (embedContent and batchEmbedContents),
  // "gemini.models"; "unknown" for anything else.
  std::string name;
  std::string upstream;  // configured upstream name; "" when refused
  // Request target to send upstream: the upstream URL's path prefix, then the
  // path (without a "/NAME/" custom-upstream prefix) and the query.
  std::string upstream_target;
  std::string model;  // from the path (Gemini); ApplyOutbound fills it from the body for others
  bool streaming =
      false;  // a stream is expected (Gemini streamGenerateContent; "stream": true bodies)
  bool has_body_policy = false;  // a JSON body the outbound policy understands
  bool log_payloads = true;      // false when the route is in unlogged_routes
  std::string query_key;         // Gemini's ?key= value (a credential: never log it)
};

struct RouteDecision {
  Route route;
  std::optional<Refusal> refusal;  // set: answer this instead of forwarding
};

// Result of the header step.
struct HeaderDecision {
  HeaderList headers;        // to send upstream (hop-by-hop, Host, Content-Length removed)
  std::string user;          // authenticated user, "anonymous" without [users]
  bool log_payloads = true;  // the user's log_payloads setting
  std::string agent;         // IdentifyAgent(headers) of the client's headers
  std::vector<std::string> rewritten;  // names of headers removed or replaced by rules, for the log
  // Secrets found in forwarded header values other than the provider
  // credential (x-api-key, authorization, x-goog-api-key, api-key): each is
  // replaced by "[REDACTED rule]" in `headers`; json_path "header NAME".
  std::vector<Finding> findings;
  std::optional<Refusal> refusal;
};

// Result of the outbound body step.
struct OutboundResult {
  std::optional<Refusal> refusal;  // set: do not forward
  // The body to forward: the policy's edit when `changed`; else the
  // original (a copy of it), or empty with OutboundOptions::copy_unchanged
  // false, when the caller forwards its own original.
  std::string body;
  bool changed = false;
  // True when the policy ran its secret rules (all of core's built-in rules)
  // over the whole of `body` and they found nothing, not even a documented
  // example value; then `body` is the original. The gateway passes this on
  // as AuditRecord::request_body_screened so the log does not scan it again.
  bool secret_free = false;
  std::string original_sha256;  // of the body as received (hex); see OutboundOptions::hash_original
  // Secrets (rule "secret/...", message and decoded masked, json_path set)
  // and hidden characters ("unicode/...", json_path set) found in the body.
  std::vector<Finding> findings;
  std::string model;            // the model asked for ("" when the body names none)
  bool streaming = false;       // the client asked for a stream
  std::string upstream;         // final upstream (route_models of a custom upstream may move it)
  std::string upstream_target;  // may change with upstream
  // The largest output the request allows (max_tokens, max_completion_tokens,
  // max_output_tokens, generationConfig.maxOutputTokens); for budget
  // reservations.
  std::optional<uint64_t> max_output_tokens;
  bool client_included_usage = false;  // stream_options.include_usage: true was sent
  // The gate added stream_options.include_usage (OpenAI Chat streams): the
  // usage chunk it brings is not for the client (InboundOptions::drop_usage_chunk).
  bool gate_requested_usage = false;
};

// A test seam for the secret engine (LevelDB's ErrorEnv habit): called with
// the text before every secret scan the outbound policy runs; a non-OK
// Status stands for the engine's error on that scan.
using SecretScanFault = std::function<Status(std::string_view text)>;

class Policy {
 public:
  // Compiles the secret rules and checks the config once. Fails only on a
  // broken built-in rule set or an inconsistent config. `scan_fault` is for
  // tests (nullptr in production).
  static Result<std::shared_ptr<const Policy>> Create(GateConfig config,
                                                      SecretScanFault scan_fault = nullptr);
  ~Policy();

  const GateConfig& config() const;

  // Classifies `method` and `target` (origin-form: path plus optional
  // "?query"). Known API paths route to their upstream; "/NAME/..." routes to
  // custom upstream NAME; unknown paths are refused (404 in a best-guess
  // provider format) unless unknown_paths = "pass", in which case they go to
  // the upstream guessed from the path and headers (OpenAI when nothing
  // fits). A disabled upstream is refused with 403. `headers` settle the one
  // shared path, GET /v1/models (Anthropic when anthropic-version or
  // x-api-key is present, else OpenAI). When [users] is configured and no
  // x-glassbox-key header is sent, a Gemini "key" query parameter is the
  // gate key and is removed from upstream_target (see CheckAndRewriteHeaders).
  RouteDecision ClassifyRoute(std::string_view method, std::string_view target,
                              const HeaderList& headers = {}) const;

  // Rejects CR, LF or NUL in any header name or value (400). When [users]
  // is configured, authenticates the user (key from x-glassbox-key, else the
  // provider credential: x-api-key, Authorization: Bearer, x-goog-api-key,
  // or Gemini's ?key= — route.query_key, or `query_key` when given) and
  // answers 401 on a missing or unknown key. The client's credential is
  // replaced by the upstream's api_key when one is configured, dropped when
  // it was the gate key itself, and forwarded when the gate key came in
  // x-glassbox-key. Removes hop-by-hop headers, Host, Content-Length and
  // x-glassbox-key; sets Accept-Encoding: identity (the gate must read the
  // response); applies the upstream's header rules.
  HeaderDecision CheckAndRewriteHeaders(const Route& route, const HeaderList& headers,
                                        std::string_view query_key = {}) const;

  // Applies the outbound policy to a request body. Bodies of routes without
  // a body policy (GET /v1/models, unknown paths) pass unchanged (only the
  // size limit and the hash apply). Refuses: body over max_body_bytes (413),
  // an empty body, malformed JSON or invalid UTF-8 (400), a private key when
  // refuse_private_keys (403), a model not allowed by the upstream (403),
  // and -- failing closed -- a body whose secret scan failed where it
  // mattered (500, code "scan-failed": a string that had to be checked
  // string by string could not be).
  // Otherwise replaces each secret in any string value (tool arguments that
  // hold JSON included) by "[REDACTED secret/rule-id]" and strips hidden
  // characters (legitimate uses kept), re-serialising only when something
  // changed.
  struct OutboundOptions {
    // False: original_sha256 is left empty unless the request is refused
    // (the gateway hashes forwarded bodies while the upstream answers).
    bool hash_original = true;
    // False: a body the policy does not change is not copied into
    // OutboundResult::body (left empty; the caller forwards its original).
    bool copy_unchanged = true;
  };
  OutboundResult ApplyOutbound(const Route& route, std::string_view body) const {
    return ApplyOutbound(route, body, OutboundOptions{});
  }
  OutboundResult ApplyOutbound(const Route& route, std::string_view body,
                               const OutboundOptions& options) const;

  // The response to a request, chosen by the response's Content-Type:
  // text/event-stream goes through NewInboundStream, anything else (JSON,
  // Gemini's JSON-array stream without alt=sse, error bodies) through
  // InboundJson once complete. See inbound.h.
  InboundResult InboundJson(const Route& route, std::string_view body) const;
  // A filter for one streamed (SSE) response (see inbound.h).
  // `drop_usage_chunk`: OutboundResult::gate_requested_usage of the request.
  std::unique_ptr<InboundStream> NewInboundStream(const Route& route,
                                                  bool drop_usage_chunk = false) const;

  struct Impl;

 private:
  explicit Policy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A short agent name from request headers, for the log: "claude-code/2.0.1",
// "codex/0.30.0", "gemini-cli/0.9.0", "openai-python/1.50.0", or the first
// product token of User-Agent; "unknown" when nothing identifies it.
std::string IdentifyAgent(const HeaderList& headers);

// True when `s` contains CR, LF or NUL.
bool HasHeaderInjection(std::string_view s);

// Case-insensitive lookup; nullptr when absent.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

}  // namespace glassbox::gate
