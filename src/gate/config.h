// GateConfig: everything `glassbox gate` is told, as validated values. Built
// from built-in defaults (DefaultGateConfig) or from a gate.toml file
// (LoadGateConfig); flags are applied on top by the CLI. Plain value types,
// immutable once built; share them freely between threads after that.
//
// gate.toml is documented in docs/gate-policy.md. toml++ types stay inside
// config.cc; every error names the file, the line and the key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gate/audit_log.h"
#include "net/provider_events.h"

namespace glassbox::gate {

// One header rewrite applied to requests before they go to an upstream.
struct HeaderRule {
  enum class Action { kRemove, kReplace };
  // Case-insensitive header name; a trailing '*' matches any suffix
  // ("x-stainless-*").
  std::string name;
  Action action = Action::kRemove;
  std::string value;  // the new value for kReplace (no CR, LF or NUL)
};

// An absolute http(s) URL split into the parts a client needs.
struct UpstreamUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // name or IP literal, without brackets
  uint16_t port = 0;   // explicit or the scheme's default
  std::string path;    // prefix put before every request target; "" or "/x" (no trailing '/')
  std::string text;    // the URL as normalised: "https://api.openai.com"
};

// Parses "http[s]://host[:port][/prefix]". Errors name the URL and the reason.
Result<UpstreamUrl> ParseUpstreamUrl(std::string_view url);

struct UpstreamConfig {
  std::string name;  // "anthropic", "openai", "gemini" or a custom name ("local")
  // Wire format the upstream speaks. Custom upstreams default to OpenAI
  // (vLLM, Ollama and llama.cpp servers are OpenAI-compatible).
  net::Provider protocol = net::Provider::kOpenAi;
  // protocol "openai-chat": the upstream speaks only OpenAI Chat Completions
  // (vLLM, SGLang, llama.cpp's server, Ollama). Anthropic Messages, OpenAI
  // Responses and Gemini requests routed here are translated (gate/translate).
  bool chat_only = false;
  // gate.toml max_tokens: requests translated for this upstream ask for at
  // most this many output tokens (0: as the client asked).
  uint64_t max_tokens = 0;
  UpstreamUrl url;
  // False refuses every request routed here (upstream not allowed).
  bool enabled = true;
  // Model globs ('*' and '?'); a request for any other model is refused.
  // Empty: every model is allowed.
  std::vector<std::string> allowed_models;
  // For custom upstreams: requests of this upstream's protocol whose model
  // matches one of these globs go here instead of to the built-in upstream.
  // A custom upstream is also reachable by the path prefix "/NAME/".
  std::vector<std::string> route_models;
  // Applied in order to every request sent here. Empty by default: rewriting
  // identifying headers can break provider features.
  std::vector<HeaderRule> header_rules;
  // When set, replaces the client's credential on requests sent here (needed
  // when clients authenticate to the gate with their own [users] keys).
  // Never logged.
  std::string api_key;
};

struct UserConfig {
  std::string name;
  std::string key_sha256;  // lower-case hex SHA-256 of the user's gate key
  std::optional<uint64_t> daily_tokens;
  std::optional<uint64_t> monthly_tokens;
  std::optional<double> daily_usd;
  std::optional<double> monthly_usd;
  bool log_payloads = true;  // false: request and response bodies are not logged
};

// USD per million tokens.
struct Price {
  double input = 0;
  double output = 0;
  std::optional<double> cache_read;   // defaults to `input` when unset
  std::optional<double> cache_write;  // defaults to `input` when unset
};

struct PriceEntry {
  std::string model;  // glob; the first matching entry wins (file entries come before built-ins)
  Price price;
};

struct RetentionConfig {
  std::optional<uint32_t> days;     // delete records older than this many days
  std::optional<uint64_t> records;  // keep at most this many records
};

// [log]
struct LogConfig {  // LogDurability: see audit_log.h
  LogDurability durability = LogDurability::kNormal;
  // Where the log lives: a SQLite path or "postgresql://..." (store.h);
  // "" = the command line's --log or the default path.
  std::string location;
  // PostgreSQL: this gate's chain in a fleet ("" = the URL's replica= or
  // the host name).
  std::string replica;
  // What a gate does while its store (PostgreSQL) is unreachable: refuse
  // every exchange with 503 (the default; nothing unlogged goes through), or
  // serve them unlogged, budgets decided by this replica alone.
  bool serve_unlogged = false;
  // PostgreSQL with durability normal: send a large request body to the
  // server while the upstream answers, ahead of its record (docs/gate.md,
  // "Bodies sent ahead"). Off by default: on a 2-core machine shared with
  // the server it measured slower (a second transaction per exchange).
  bool bodies_ahead = false;
};

// Policy switches; all on by default.
struct PolicySwitches {
  bool redact_secrets = true;         // replace secrets in request bodies by a placeholder
  bool strip_hidden_outbound = true;  // strip hidden characters from request string values
  bool refuse_private_keys = true;    // refuse requests that carry a private key
  bool strip_hidden_inbound = true;   // strip hidden characters from response text and tool calls
};

enum class UnknownPaths { kRefuse, kPass };

// A model route: requests (of any client protocol) for a model matching
// `pattern` go to `upstream`, asking it for `model` (empty: the client's own
// model name). Requests the upstream's protocol cannot take are translated.
struct ModelRoute {
  std::string pattern;   // glob ('*', '?'); "*" for the default route
  std::string upstream;  // a configured upstream's name
  std::string model;     // the upstream's model; "" keeps the client's
};

// Parses "UPSTREAM[:MODEL]" (the model may itself hold ':', like Ollama's
// "qwen3:8b"). Errors name `spec`.
Result<ModelRoute> ParseRouteTarget(std::string_view pattern, std::string_view spec);

struct GateConfig {
  std::string listen = "127.0.0.1:8787";
  // Always contains "anthropic", "openai" and "gemini" (in that order), then
  // custom upstreams in file order.
  std::vector<UpstreamConfig> upstreams;
  UnknownPaths unknown_paths = UnknownPaths::kRefuse;
  size_t max_body_bytes = size_t{32} << 20;
  // Empty: no authentication, every exchange is logged as user "anonymous"
  // and the client's own credential is forwarded unchanged.
  std::vector<UserConfig> users;
  // Routes ("anthropic.messages", see policy.h) or path globs ("/v1/embeddings")
  // whose request and response bodies are not logged.
  std::vector<std::string> unlogged_routes;
  // Price table: the file's [prices] first, then the built-in table
  // (rules/gate/prices.toml).
  std::vector<PriceEntry> prices;
  // Model routes in the order they are tried (--route flags, then the
  // file's [routes] in file order); then default_route, if any.
  std::vector<ModelRoute> routes;
  std::optional<ModelRoute> default_route;
  size_t routes_from_flags = 0;  // the first this many routes came from --route
  // Answer Anthropic count_tokens (and Gemini countTokens) for routes whose
  // upstream cannot count them with a local estimate (labelled as one);
  // false refuses them with the reason.
  bool count_tokens_estimate = false;
  RetentionConfig retention;
  LogConfig log;
  PolicySwitches policy;
  std::string source;  // the file it was loaded from; "" for the defaults
};

// Looks up an environment variable; the CLI passes one backed by getenv.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Built-in defaults: loopback listener, the public provider URLs, refuse
// unknown paths, 32 MiB bodies, no users, built-in prices, every policy on.
GateConfig DefaultGateConfig();

// Reads gate.toml at `path` over the defaults. `api_key_env = "NAME"` in an
// upstream is resolved with `env` (an error when `env` is empty or the
// variable is unset). Errors name the file, line and key:
// "gate.toml:12: users.alice.daily_usd: expected a number".
Result<GateConfig> LoadGateConfig(const std::string& path, const EnvLookup& env = {});

// The same from text; `source_name` stands for the file in messages.
Result<GateConfig> ParseGateConfig(std::string_view toml_text, std::string_view source_name,
                                   const EnvLookup& env = {});

// Applies a `--upstream NAME=URL` flag: sets the URL of a built-in or
// existing upstream, or adds a custom OpenAI-compatible one. The URL may
// name the upstream's protocol: "openai-chat+http://127.0.0.1:8000/v1"
// (anthropic, openai, openai-chat, gemini).
Status ApplyUpstreamFlag(GateConfig* config, std::string_view spec);

// Applies `--route GLOB=UPSTREAM[:MODEL]` (tried before the file's routes,
// in flag order) or, with `is_default`, `--default-route UPSTREAM[:MODEL]`.
Status ApplyRouteFlag(GateConfig* config, std::string_view spec, bool is_default);

// Checks that every route names a configured upstream (call once the flags
// are applied). Errors name the route.
Status CheckRoutes(const GateConfig& config);

// The route for `model`: the first matching route, else the default route,
// else nullptr (the request goes where it would without routes).
const ModelRoute* FindModelRoute(const GateConfig& config, std::string_view model);

// The upstream called `name`, or nullptr.
const UpstreamConfig* FindUpstream(const GateConfig& config, std::string_view name);

// Lower-case hex SHA-256 of `data` (OpenSSL).
std::string Sha256Hex(std::string_view data);

// Glob match with '*' (any run) and '?' (one byte); case-sensitive.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace glassbox::gate
