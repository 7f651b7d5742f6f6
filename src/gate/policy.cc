#include "gate/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "core/base64.h"
#include "core/json_strings.h"
#include "core/query_string.h"
#include "core/secrets.h"
#include "core/utf.h"
#include "gate/audit_log.h"
#include "gate/text_policy.h"

namespace glassbox::gate {

namespace {

using net::Provider;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Rule ids whose match makes a request refused under refuse_private_keys.
bool IsPrivateKeyRule(std::string_view rule) {
  return rule.find("private-key") != std::string_view::npos;
}

// Hop-by-hop headers (RFC 9110 7.6.1) and those the transport sets itself.
bool DroppedHeader(std::string_view name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
        "accept-encoding", "x-glassbox-key",
        // The gate answers the client's expectation itself (the HTTP server
        // sends 100 Continue) and forwards a complete body.
        "expect",
        // The gateway decodes a compressed request body and forwards it decoded.
        "content-encoding"}) {
    if (IEquals(name, h)) return true;
  }
  return false;
}

bool HeaderRuleMatches(const HeaderRule& rule, std::string_view name) {
  if (rule.name.ends_with("*"))
    return IStartsWith(name, std::string_view(rule.name).substr(0, rule.name.size() - 1));
  return IEquals(rule.name, name);
}

// Splits "name:action" off a Gemini path segment "models/M:generateContent".
struct GeminiPath {
  std::string model;
  std::string method;
};

std::optional<GeminiPath> ParseGeminiPath(std::string_view path) {
  for (std::string_view prefix : {"/v1beta/models/", "/v1/models/", "/v1alpha/models/"}) {
    if (!path.starts_with(prefix)) continue;
    std::string_view rest = path.substr(prefix.size());
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    return GeminiPath{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
  }
  return std::nullopt;
}

Route NamedRoute(Provider protocol, std::string_view name) {
  Route r;
  r.protocol = protocol;
  r.name = std::string(name);
  return r;
}

bool HasAnthropicHeaders(const HeaderList& headers) {
  return FindHeader(headers, "anthropic-version") != nullptr ||
         FindHeader(headers, "x-api-key") != nullptr;
}

// Scratch spaces for the secret engine, one per concurrent caller.
class ScratchPool {
 public:
  void set_scanner(const SecretScanner* scanner) { scanner_ = scanner; }
  std::unique_ptr<SecretScratch> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        auto s = std::move(free_.back());
        free_.pop_back();
        return s;
      }
    }
    return scanner_->NewScratch();
  }
  void Give(std::unique_ptr<SecretScratch> s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < 64) free_.push_back(std::move(s));
  }

 private:
  const SecretScanner* scanner_ = nullptr;
  std::mutex mu_;
  std::vector<std::unique_ptr<SecretScratch>> free_;
};

}  // namespace

struct Policy::Impl {
  GateConfig config;
  std::shared_ptr<const SecretScanner> secrets;
  mutable ScratchPool scratch;
  SecretScanFault scan_fault;  // tests only: see Policy::Create

  // Every secret scan of the outbound policy goes through here.
  Status ScanSecrets(std::string_view text, SecretScratch& s, std::vector<Finding>* out) const {
    if (scan_fault) {
      if (Status injected = scan_fault(text); !injected.ok()) return injected;
    }
    return secrets->Scan(text, s, out);
  }

  explicit Impl(GateConfig c) : config(std::move(c)) {}

  const UpstreamConfig* Upstream(std::string_view name) const { return FindUpstream(config, name); }

  std::string BuiltinUpstream(Provider p) const {
    switch (p) {
      case Provider::kAnthropic:
        return "anthropic";
      case Provider::kGemini:
        return "gemini";
      default:
        return "openai";
    }
  }

  // Custom upstream whose route_models claim `model` for `protocol`.
  const UpstreamConfig* RoutedByModel(Provider protocol, std::string_view model) const {
    if (model.empty()) return nullptr;
    for (const UpstreamConfig& u : config.upstreams) {
      if (u.protocol != protocol) continue;
      for (const std::string& g : u.route_models) {
        if (GlobMatch(g, model)) return &u;
      }
    }
    return nullptr;
  }

  // "/NAME/..." addresses a custom upstream directly: that upstream, with
  // *path cut to what follows; else nullptr and *path unchanged.
  const UpstreamConfig* ForcedUpstream(std::string_view* path) const {
    if (path->size() <= 1) return nullptr;
    const size_t slash = path->find('/', 1);
    if (slash == std::string_view::npos) return nullptr;
    const UpstreamConfig* u = Upstream(path->substr(1, slash - 1));
    if (u == nullptr || u->name == "anthropic" || u->name == "openai" || u->name == "gemini")
      return nullptr;
    *path = path->substr(slash);
    return u;
  }

  // The route's upstream_target (and query_key, streaming for Gemini).
  void SetUpstreamTarget(const UpstreamConfig& upstream, std::string_view path,
                         std::string_view query, const HeaderList& headers, Route* r) const {
    if (r->protocol == Provider::kGemini) {
      r->query_key = QueryParam(query, "key");
      if (QueryParam(query, "alt") == "sse") r->streaming = true;
    }
    std::string out_query(query);
    // A ?key= that is the user's gate key must not reach Google; one sent
    // beside an x-glassbox-key is the user's own and stays.
    if (!config.users.empty() && !r->query_key.empty() &&
        FindHeader(headers, "x-glassbox-key") == nullptr) {
      out_query = WithoutQueryParam(query, "key");
    }
    r->upstream_target = upstream.url.path + std::string(path);
    if (!out_query.empty()) r->upstream_target += "?" + out_query;
  }

  bool Unlogged(std::string_view route, std::string_view path) const {
    for (const std::string& r : config.unlogged_routes) {
      if (r == route || (r.starts_with("/") && GlobMatch(r, path))) return true;
    }
    return false;
  }
};

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

const GateConfig& Policy::config() const { return impl_->config; }

Result<std::shared_ptr<const Policy>> Policy::Create(GateConfig config,
                                                     SecretScanFault scan_fault) {
  for (const char* name : {"anthropic", "openai", "gemini"}) {
    if (FindUpstream(config, name) == nullptr) {
      return Status::Error(
          fmt::format("gate config: the built-in upstream \"{}\" is missing", name));
    }
  }
  for (const UserConfig& u : config.users) {
    if (u.key_sha256.size() != 64)
      return Status::Error(fmt::format("gate config: user {} has no key", u.name));
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  impl->scan_fault = std::move(scan_fault);
  // The audit log's rules, all of them (the build-time database is made for
  // this set, so nothing is compiled here); only IsMaskedRule() findings
  // count, as in the log. What the policy finds none of, the log finds none
  // of either (OutboundResult::secret_free).
  Result<std::vector<SecretRule>> rules = BuiltinSecretRules();
  if (!rules.ok()) return rules.status();
  auto compiled =
      SecretScanner::Compile(std::move(rules).value(), SecretScanner::CompileMode::kLazy);
  if (!compiled.ok()) return compiled.status();
  impl->secrets = std::move(compiled.value());
  impl->scratch.set_scanner(impl->secrets.get());
  return std::shared_ptr<const Policy>(new Policy(std::move(impl)));
}

namespace {

// POST paths with a route of their own; each has a body policy.
struct FixedRoute {
  std::string_view path;
  Provider protocol;
  std::string_view name;
};
constexpr FixedRoute kPostRoutes[] = {
    {"/v1/messages", Provider::kAnthropic, "anthropic.messages"},
    {"/v1/messages/count_tokens", Provider::kAnthropic, "anthropic.count_tokens"},
    {"/v1/chat/completions", Provider::kOpenAi, "openai.chat_completions"},
    {"/v1/responses", Provider::kOpenAi, "openai.responses"},
    // Codex's remote compaction: a Responses-shaped body.
    {"/v1/responses/compact", Provider::kOpenAi, "openai.responses_compact"},
    {"/v1/embeddings", Provider::kOpenAi, "openai.embeddings"},
};

// Gemini's methods ("/v1beta/models/MODEL:METHOD") and their routes.
struct GeminiMethod {
  std::string_view method;
  std::string_view name;
  bool streaming;
};
constexpr GeminiMethod kGeminiMethods[] = {
    {"generateContent", "gemini.generate_content", false},
    {"streamGenerateContent", "gemini.stream_generate_content", true},
    {"countTokens", "gemini.count_tokens", false},
    {"embedContent", "gemini.embed_content", false},
    {"batchEmbedContents", "gemini.embed_content", false},
};

// The generation routes a Chat-only upstream takes, translated
// (gate/translation.h), though it speaks another protocol.
constexpr std::string_view kTranslatedRoutes[] = {
    "anthropic.messages",      "openai.responses",
    "gemini.generate_content", "gemini.stream_generate_content",
    "anthropic.count_tokens",  "gemini.count_tokens",
};

Route UnknownRoute() {
  Route r;
  r.name = "unknown";
  return r;
}

// "PREFIX" or "PREFIX/...", not a method call (no ':').
bool IsModelsPath(std::string_view path, std::string_view prefix) {
  return (path == prefix ||
          (path.starts_with(prefix) && path.substr(prefix.size()).starts_with('/'))) &&
         path.find(':') == std::string_view::npos;
}

Route GeminiRoute(const GeminiPath& g) {
  for (const GeminiMethod& m : kGeminiMethods) {
    if (g.method != m.method) continue;
    Route r = NamedRoute(Provider::kGemini, m.name);
    r.streaming = m.streaming;
    r.model = g.model;
    r.has_body_policy = true;
    return r;
  }
  return UnknownRoute();
}

// The route of `method` `path` ("unknown" when the gate knows none);
// `forced`, a custom upstream named in the path, decides whose models list
// a GET /v1/models is.
Route MatchRoute(std::string_view method, std::string_view path, const UpstreamConfig* forced,
                 const HeaderList& headers) {
  if (method == "POST") {
    for (const FixedRoute& f : kPostRoutes) {
      if (path != f.path) continue;
      Route r = NamedRoute(f.protocol, f.name);
      r.has_body_policy = true;
      return r;
    }
    if (std::optional<GeminiPath> g = ParseGeminiPath(path)) return GeminiRoute(*g);
  } else if (method == "GET") {
    if (IsModelsPath(path, "/v1/models")) {
      const bool anthropic = forced != nullptr ? forced->protocol == Provider::kAnthropic
                                               : HasAnthropicHeaders(headers);
      return anthropic ? NamedRoute(Provider::kAnthropic, "anthropic.models")
                       : NamedRoute(Provider::kOpenAi, "openai.models");
    }
    if (IsModelsPath(path, "/v1beta/models")) return NamedRoute(Provider::kGemini, "gemini.models");
  }
  return UnknownRoute();
}

// Best guess of an unknown path's format, for the error and for
// pass-through.
Provider GuessProtocol(std::string_view path, const UpstreamConfig* forced,
                       const HeaderList& headers) {
  if (forced != nullptr) return forced->protocol;
  if (path.starts_with("/v1beta") || path.find(":generateContent") != std::string_view::npos)
    return Provider::kGemini;
  return HasAnthropicHeaders(headers) ? Provider::kAnthropic : Provider::kOpenAi;
}

}  // namespace

RouteDecision Policy::ClassifyRoute(std::string_view method, std::string_view target,
                                    const HeaderList& headers) const {
  const GateConfig& config = impl_->config;
  RouteDecision d;
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const UpstreamConfig* forced = impl_->ForcedUpstream(&path);
  d.route = MatchRoute(method, path, forced, headers);
  Route& r = d.route;

  if (r.name == "unknown") {
    r.protocol = GuessProtocol(path, forced, headers);
    if (config.unknown_paths == UnknownPaths::kRefuse) {
      d.refusal = MakeRefusal(
          r.protocol, ErrorKind::kNotFound, "unknown-path",
          fmt::format("{} {} is not an API path the gate knows; set unknown_paths = \"pass\" "
                      "in gate.toml to forward such requests",
                      method, path));
      return d;
    }
  } else if (forced != nullptr && forced->protocol != r.protocol &&
             !(forced->chat_only &&
               std::find(std::begin(kTranslatedRoutes), std::end(kTranslatedRoutes), r.name) !=
                   std::end(kTranslatedRoutes))) {
    d.refusal = MakeRefusal(
        r.protocol, ErrorKind::kNotFound, "wrong-protocol",
        fmt::format("upstream {} speaks the {} protocol, not {}", forced->name,
                    net::ProviderName(forced->protocol), net::ProviderName(r.protocol)));
    return d;
  }

  const UpstreamConfig* upstream = forced;
  if (upstream == nullptr && !r.model.empty()) upstream = impl_->RoutedByModel(r.protocol, r.model);
  if (upstream == nullptr) upstream = impl_->Upstream(impl_->BuiltinUpstream(r.protocol));
  r.upstream = upstream->name;
  if (!upstream->enabled) {
    d.refusal = MakeRefusal(
        r.protocol, ErrorKind::kPermission, "upstream-not-allowed",
        fmt::format("upstream {} is disabled in the gate's configuration", upstream->name));
    return d;
  }
  impl_->SetUpstreamTarget(*upstream, path, query, headers, &r);
  r.log_payloads = !impl_->Unlogged(r.name, path);
  if (r.has_body_policy && !r.model.empty() && !upstream->allowed_models.empty() &&
      std::none_of(upstream->allowed_models.begin(), upstream->allowed_models.end(),
                   [&](const std::string& g) { return GlobMatch(g, r.model); })) {
    d.refusal =
        MakeRefusal(r.protocol, ErrorKind::kPermission, "model-not-allowed",
                    fmt::format("model {} is not allowed on upstream {}", r.model, upstream->name));
  }
  return d;
}

namespace {

// Headers that carry the provider credential: forwarded as they are (or
// swapped), never redacted.
bool IsCredentialHeader(std::string_view name) {
  return IEquals(name, "authorization") || IEquals(name, "x-api-key") ||
         IEquals(name, "x-goog-api-key") || IEquals(name, "api-key") ||
         IEquals(name, "proxy-authorization");
}

// Secrets in the other headers (x-github-token: ghp_..., a key in a
// custom header an agent adds) are redacted before they leave. One scan of
// all values together; only when it finds something is each value scanned
// on its own. A failed scan refuses the request (fail closed, as for the body).
void RedactHeaderSecrets(const Policy::Impl& impl, Provider protocol, HeaderDecision* d) {
  std::string joined;
  for (const auto& [name, value] : d->headers) {
    if (IsCredentialHeader(name)) continue;
    joined.append(value);
    joined.push_back('\n');
  }
  if (joined.size() < 8) return;
  std::unique_ptr<SecretScratch> scratch = impl.scratch.Take();
  std::vector<Finding> all;
  Status st = impl.ScanSecrets(joined, *scratch, &all);
  const bool any = std::any_of(all.begin(), all.end(), [](const Finding& f) {
    return IsMaskedRule(f.rule) && f.severity >= Severity::kMedium;
  });
  for (auto& [name, value] : d->headers) {
    if (!st.ok() || !any) break;
    if (IsCredentialHeader(name)) continue;
    std::vector<Finding> found;
    st = impl.ScanSecrets(value, *scratch, &found);
    if (!st.ok()) break;
    std::sort(found.begin(), found.end(),
              [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
    std::string out;
    uint64_t pos = 0;
    for (Finding& f : found) {
      if (!IsMaskedRule(f.rule) || f.severity < Severity::kMedium) continue;
      if (f.byte_offset < pos || f.byte_offset + f.byte_length > value.size()) continue;
      out.append(value, pos, f.byte_offset - pos);
      out.append("[REDACTED " + f.rule + "]");
      pos = f.byte_offset + f.byte_length;
      f.json_path = "header " + Lower(name);
      f.snippet.clear();
      f.fixes.clear();
      d->findings.push_back(std::move(f));
    }
    if (pos == 0) continue;
    out.append(value, pos, std::string::npos);
    value = std::move(out);
  }
  impl.scratch.Give(std::move(scratch));
  if (!st.ok()) {
    d->refusal = MakeRefusal(
        protocol, ErrorKind::kInternal, "scan-failed",
        "the gate could not check this request's headers for secrets, so it was not forwarded: " +
            st.message());
  }
}

}  // namespace

HeaderDecision Policy::CheckAndRewriteHeaders(const Route& route, const HeaderList& headers,
                                              std::string_view query_key) const {
  const GateConfig& config = impl_->config;
  HeaderDecision d;
  d.agent = IdentifyAgent(headers);
  for (const auto& [name, value] : headers) {
    if (HasHeaderInjection(name) || HasHeaderInjection(value)) {
      d.refusal = MakeRefusal(route.protocol, ErrorKind::kInvalidRequest, "header-injection",
                              fmt::format("header {} contains CR, LF or NUL",
                                          HasHeaderInjection(name) ? "name" : name));
      return d;
    }
  }
  const UpstreamConfig* upstream = impl_->Upstream(route.upstream);
  d.user = "anonymous";
  const bool authenticate = !config.users.empty();
  // True when the gate key arrived as the provider credential, which must
  // then not reach the provider.
  bool key_in_credential = false;
  if (authenticate) {
    std::string key;
    key_in_credential = true;
    if (const std::string* k = FindHeader(headers, "x-glassbox-key")) {
      key = *k;
      key_in_credential = false;
    } else if (const std::string* a = FindHeader(headers, "x-api-key")) {
      key = *a;
    } else if (const std::string* b = FindHeader(headers, "authorization");
               b != nullptr && IStartsWith(*b, "bearer ")) {
      key = b->substr(7);
    } else if (const std::string* g = FindHeader(headers, "x-goog-api-key")) {
      key = *g;
    } else if (!query_key.empty()) {
      key = std::string(query_key);
    } else {
      key = route.query_key;
    }
    while (!key.empty() && key.back() == ' ') key.pop_back();
    if (key.empty()) {
      d.refusal =
          MakeRefusal(route.protocol, ErrorKind::kAuthentication, "no-key",
                      "this gate requires a user key: send it in x-glassbox-key or as the API key");
      return d;
    }
    const std::string hash = Sha256Hex(key);
    const UserConfig* user = nullptr;
    for (const UserConfig& u : config.users) {
      if (u.key_sha256 == hash) user = &u;
    }
    if (user == nullptr) {
      d.refusal = MakeRefusal(route.protocol, ErrorKind::kAuthentication, "unknown-key",
                              "the key sent is not a user key of this gate");
      return d;
    }
    d.user = user->name;
    d.log_payloads = user->log_payloads;
  }
  // The client's credential is replaced when the upstream has its own key,
  // and dropped when it was the gate key; a provider key sent beside an
  // x-glassbox-key passes.
  const bool swap_credential =
      upstream != nullptr && (!upstream->api_key.empty() || key_in_credential);
  for (const auto& [name, value] : headers) {
    if (DroppedHeader(name)) continue;
    if (swap_credential && (IEquals(name, "x-api-key") || IEquals(name, "authorization") ||
                            IEquals(name, "x-goog-api-key"))) {
      continue;
    }
    bool removed = false;
    std::string new_value = value;
    if (upstream != nullptr) {
      for (const HeaderRule& rule : upstream->header_rules) {
        if (!HeaderRuleMatches(rule, name)) continue;
        if (rule.action == HeaderRule::Action::kRemove) {
          removed = true;
          break;
        }
        new_value = rule.value;
      }
    }
    if (removed || new_value != value) d.rewritten.push_back(Lower(name));
    if (!removed) d.headers.emplace_back(name, std::move(new_value));
  }
  if (swap_credential && !upstream->api_key.empty()) {
    switch (upstream->protocol) {
      case Provider::kAnthropic:
        d.headers.emplace_back("x-api-key", upstream->api_key);
        break;
      case Provider::kGemini:
        d.headers.emplace_back("x-goog-api-key", upstream->api_key);
        break;
      default:
        d.headers.emplace_back("authorization", "Bearer " + upstream->api_key);
        break;
    }
  }
  if (config.policy.redact_secrets) RedactHeaderSecrets(*impl_, route.protocol, &d);
  // The gate reads every response: ask for it uncompressed.
  d.headers.emplace_back("accept-encoding", "identity");
  return d;
}

namespace {

// Paths of base64 payloads in document and file blocks: Anthropic
// content[].source.data (document, image), OpenAI file_data (a data URL),
// Gemini inlineData.data / inline_data.data.
bool IsBase64DocumentPath(std::string_view path) {
  return path.ends_with(".source.data") || path.ends_with(".file_data") ||
         path.ends_with("inlineData.data") || path.ends_with("inline_data.data");
}

// The text a base64 payload holds (after an optional "data:...;base64,"
// prefix, returned in *prefix), or nullopt when it is not base64 of UTF-8
// text (images, PDFs: their bytes are not scanned).
std::optional<std::string> DecodeBase64Text(std::string_view s, std::string* prefix) {
  prefix->clear();
  if (s.starts_with("data:")) {
    const size_t comma = s.find(',');
    if (comma == std::string_view::npos ||
        s.substr(0, comma).find(";base64") == std::string_view::npos) {
      return std::nullopt;
    }
    *prefix = std::string(s.substr(0, comma + 1));
    s.remove_prefix(comma + 1);
  }
  std::string compact;
  compact.reserve(s.size());
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == ' ') continue;
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
    compact.push_back(c);
  }
  if (compact.size() < 16 || compact.size() % 4 != 0) return std::nullopt;
  std::optional<std::string> out = Base64Decode(compact);
  if (!out || out->find('\0') != std::string::npos || !utf::IsValidUtf8(*out)) return std::nullopt;
  return out;
}

// Edits the string values of one request body on their way out: strips
// hidden characters and redacts secrets, string by string, descending into
// JSON held inside strings (OpenAI tool arguments and results). One per
// ApplyOutbound call, on the caller's thread. Scan() returns the engine's
// error instead of the string's edit: the caller must then refuse the
// request, since a string that could not be checked may carry a secret.
class OutboundEditor {
 public:
  // `scan_documents`: base64 text documents (IsBase64DocumentPath) are
  // decoded and scanned for secrets, whatever `check` says.
  OutboundEditor(const Policy::Impl& policy, SecretScratch& scratch, bool strip,
                 bool scan_documents, std::vector<Finding>* findings)
      : policy_(policy),
        scratch_(scratch),
        strip_(strip),
        scan_documents_(scan_documents),
        findings_(findings) {}

  // Sets *replacement to the new text of the decoded string `text` at JSON
  // path `path`, or leaves it unset when nothing changes. `check` says
  // whether to scan the string for secrets (hidden characters are stripped
  // either way when stripping is on). On an engine error *replacement is
  // left unset and the error returned.
  Status Scan(std::string_view text, const std::string& path, bool check,
              std::optional<std::string>* replacement) {
    return ScanAt(text, path, 0, check, replacement);
  }

  // The first private key found (rule and JSON path), for refuse_private_keys.
  const std::string& private_key_rule() const { return private_key_rule_; }
  const std::string& private_key_path() const { return private_key_path_; }

 private:
  static constexpr int kMaxInnerJsonDepth = 3;

  Status ScanAt(std::string_view text, const std::string& path, int depth, bool check,
                std::optional<std::string>* replacement) {
    replacement->reset();
    if (scan_documents_ && depth == 0 && IsBase64DocumentPath(path)) {
      // The whole-body scan cannot see into base64: a text document's
      // secrets are found on its decoded text and redacted there.
      std::string prefix;
      if (std::optional<std::string> doc = DecodeBase64Text(text, &prefix)) {
        std::string redacted;
        bool any = false;
        if (Status st = Redact(*doc, path + "<base64>", &redacted, &any); !st.ok()) return st;
        if (any) *replacement = prefix + Base64Encode(redacted);
        return Status::Ok();
      }
    }
    if (depth < kMaxInnerJsonDepth && LooksLikeJson(text)) {
      // JSON inside a string: edit the inner strings and keep the rest of
      // the inner document as it was. Not JSON after all: a plain string.
      const StringEdit strip_key = [&](std::string_view key, const std::string& inner_path, bool) {
        return StripHiddenKey(key, path + "<json>" + inner_path.substr(1), findings_);
      };
      std::string inner;
      bool changed = false;
      Status inner_error = Status::Ok();
      const Status st = EditJsonStrings(
          text,
          [&](std::string_view s, const std::string& inner_path,
              bool) -> std::optional<std::string> {
            std::optional<std::string> edited;
            if (!inner_error.ok()) return edited;
            inner_error =
                ScanAt(s, path + "<json>" + inner_path.substr(1), depth + 1, check, &edited);
            return edited;
          },
          &inner, &changed, 64, nullptr, strip_ ? &strip_key : nullptr);
      if (!inner_error.ok()) return inner_error;
      if (st.ok()) {
        if (changed) *replacement = std::move(inner);
        return Status::Ok();
      }
    }
    std::optional<std::string> current;
    if (strip_) current = StripHiddenText(text, path, findings_);
    // A stripped string is checked too: removing a hidden character can
    // join the two halves of a key the whole-body scan saw apart.
    if (!check && !current) return Status::Ok();
    const std::string_view view = current ? std::string_view(*current) : text;
    std::string redacted;
    bool any = false;
    if (Status st = Redact(view, path, &redacted, &any); !st.ok()) return st;
    if (any) {
      *replacement = std::move(redacted);
    } else {
      *replacement = std::move(current);
    }
    return Status::Ok();
  }

  // Scans `view` for secrets; records findings (and the first private key);
  // with redact_secrets, writes `view` with each secret replaced by
  // "[REDACTED rule]" to *out and sets *any.
  Status Redact(std::string_view view, const std::string& path, std::string* out, bool* any) {
    const PolicySwitches& sw = policy_.config.policy;
    std::vector<Finding> found;
    if (Status st = policy_.ScanSecrets(view, scratch_, &found); !st.ok()) {
      return Status::Error(fmt::format("the secret scan of {} failed: {}", path, st.message()));
    }
    std::sort(found.begin(), found.end(),
              [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
    uint64_t pos = 0;
    for (Finding& f : found) {
      if (!IsMaskedRule(f.rule)) continue;           // provenance text, not a secret
      if (f.severity < Severity::kMedium) continue;  // documented example values
      if (sw.refuse_private_keys && IsPrivateKeyRule(f.rule) && private_key_rule_.empty()) {
        private_key_rule_ = f.rule;
        private_key_path_ = path;
      }
      f.json_path = path;
      f.snippet.clear();
      f.fixes.clear();
      if (sw.redact_secrets && f.byte_offset >= pos &&
          f.byte_offset + f.byte_length <= view.size()) {
        out->append(view.substr(pos, f.byte_offset - pos));
        out->append("[REDACTED " + f.rule + "]");
        pos = f.byte_offset + f.byte_length;
        *any = true;
      }
      findings_->push_back(std::move(f));
    }
    if (*any) out->append(view.substr(pos));
    return Status::Ok();
  }

  const Policy::Impl& policy_;
  SecretScratch& scratch_;
  const bool strip_;
  const bool scan_documents_;
  std::vector<Finding>* findings_;
  std::string private_key_rule_;
  std::string private_key_path_;
};

// What the whole-body secret scan found: most requests hold no secret,
// and then the per-string pass is skipped unless escapes could hide one.
struct WholeBodyScan {
  bool check_strings = false;  // a secret (or a failed scan): check string by string
  bool clean = false;          // the scan ran and found nothing at all
};
WholeBodyScan ScanWholeBody(const Policy::Impl& policy, std::string_view body,
                            SecretScratch& scratch) {
  WholeBodyScan out;
  std::vector<Finding> raw;
  const Status scanned = policy.ScanSecrets(body, scratch, &raw);
  out.check_strings = !scanned.ok();
  out.clean = scanned.ok();
  for (const Finding& f : raw) {
    if (!IsMaskedRule(f.rule)) continue;  // provenance text, not a secret
    out.check_strings = out.check_strings || f.severity >= Severity::kMedium;
    out.clean = false;
  }
  return out;
}

// The request's fields the gate reads while the body is parsed: the model,
// the stream flag, the output cap and Chat's include_usage.
struct BodyFields {
  std::string model;
  bool stream = false;

  void Observe(const std::string& path, std::string_view decoded, bool is_string,
               OutboundResult* r) {
    if (path.size() == 7 && path == "$.model" && is_string) model = std::string(decoded);
    if (path.size() == 8 && path == "$.stream" && !is_string && decoded == "true") stream = true;
    if (is_string || path.size() < 12) return;
    if (path == "$.max_tokens" || path == "$.max_completion_tokens" ||
        path == "$.max_output_tokens" || path == "$.generationConfig.maxOutputTokens") {
      uint64_t n = 0;
      const auto [end, ec] = std::from_chars(decoded.data(), decoded.data() + decoded.size(), n);
      if (ec == std::errc() && end == decoded.data() + decoded.size()) r->max_output_tokens = n;
    } else if (path == "$.stream_options.include_usage") {
      r->client_included_usage = decoded == "true";
    }
  }
};

// A refusal ApplyOutbound answers with.
struct OutboundRefusal {
  ErrorKind kind;
  std::string code;
  std::string message;
};

// OpenAI Chat streams report usage only when asked: the gate asks, so a
// budget counts what the stream used (the inbound filter removes the extra
// chunk for a client that did not ask for it). A body that already has
// stream_options is left alone (its usage is estimated if missing).
// NeedsStreamUsage: whether to, for `body`, what is forwarded so far (the
// edit, or the original when unchanged); RequestStreamUsage adds the member
// to r->body, which must then hold those bytes.
bool NeedsStreamUsage(const Route& route, const OutboundResult& r, std::string_view body) {
  return route.name == "openai.chat_completions" && r.streaming && !r.client_included_usage &&
         body.find("\"stream_options\"") == std::string_view::npos;
}
void RequestStreamUsage(OutboundResult* r) {
  const size_t brace = r->body.find('{');
  if (brace == std::string::npos) return;
  const bool empty =
      r->body.find_first_not_of(" \t\r\n", brace + 1) == r->body.find('}', brace + 1);
  r->body.insert(brace + 1, empty ? "\"stream_options\":{\"include_usage\":true}"
                                  : "\"stream_options\":{\"include_usage\":true},");
  r->gate_requested_usage = true;
  // The inserted member holds no secret: the screening still stands.
  r->changed = true;
}

// Model routing and the allow-list, once the body named the model: moves
// *r to the upstream whose route_models claim it (from a built-in one), or
// says why the request is refused.
std::optional<OutboundRefusal> RouteModel(const Policy::Impl& policy, const Route& route,
                                          OutboundResult* r) {
  const UpstreamConfig* upstream = policy.Upstream(route.upstream);
  if (route.protocol != Provider::kGemini && !r->model.empty()) {
    const UpstreamConfig* routed = policy.RoutedByModel(route.protocol, r->model);
    const bool builtin =
        route.upstream == "anthropic" || route.upstream == "openai" || route.upstream == "gemini";
    if (routed != nullptr && builtin && routed->name != route.upstream) {
      const std::string& old_prefix = upstream->url.path;
      std::string rest =
          r->upstream_target.substr(std::min(old_prefix.size(), r->upstream_target.size()));
      upstream = routed;
      r->upstream = routed->name;
      r->upstream_target = routed->url.path + rest;
      if (!routed->enabled) {
        return OutboundRefusal{
            ErrorKind::kPermission, "upstream-not-allowed",
            fmt::format("upstream {} is disabled in the gate's configuration", routed->name)};
      }
    }
  }
  if (upstream == nullptr || upstream->allowed_models.empty()) return std::nullopt;
  for (const std::string& g : upstream->allowed_models) {
    if (GlobMatch(g, r->model)) return std::nullopt;
  }
  return OutboundRefusal{
      ErrorKind::kPermission, "model-not-allowed",
      r->model.empty()
          ? fmt::format("the request names no model; upstream {} allows only listed models",
                        upstream->name)
          : fmt::format("model {} is not allowed on upstream {}", r->model, upstream->name)};
}

}  // namespace

OutboundResult Policy::ApplyOutbound(const Route& route, std::string_view body,
                                     const OutboundOptions& options) const {
  const GateConfig& config = impl_->config;
  const PolicySwitches& sw = config.policy;
  OutboundResult r;
  if (options.hash_original) r.original_sha256 = Sha256Hex(body);
  r.model = route.model;
  r.streaming = route.streaming;
  r.upstream = route.upstream;
  r.upstream_target = route.upstream_target;
  auto refuse = [&](ErrorKind kind, std::string_view code, std::string message) {
    if (r.original_sha256.empty()) r.original_sha256 = Sha256Hex(body);
    r.refusal = MakeRefusal(route.protocol, kind, code, message);
    r.body.clear();
    r.changed = false;
    return r;
  };
  if (body.size() > config.max_body_bytes) {
    return refuse(
        ErrorKind::kTooLarge, "body-too-large",
        fmt::format(
            "the request body has {} bytes, more than the gate's limit of {} (max_body_bytes)",
            body.size(), config.max_body_bytes));
  }
  if (!route.has_body_policy) {
    if (options.copy_unchanged) r.body = std::string(body);
    return r;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return refuse(ErrorKind::kInvalidRequest, "malformed-json",
                  "the request body is empty; this API expects JSON");
  }
  // ASCII is valid UTF-8: the full check only for bodies with other bytes.
  const bool ascii = utf::IsAscii(body);
  if (!ascii && !utf::IsValidUtf8(body)) {
    return refuse(ErrorKind::kInvalidRequest, "invalid-utf8",
                  "the request body is not valid UTF-8");
  }
  const bool scan_secrets = sw.redact_secrets || sw.refuse_private_keys;
  // MayHoldHiddenText(body), with the \u test shared with the secret check.
  const bool unicode_escape = HasUnicodeEscape(body);
  const bool strip = sw.strip_hidden_outbound && (unicode_escape || !ascii);
  std::unique_ptr<SecretScratch> scratch = impl_->scratch.Take();
  const WholeBodyScan whole =
      scan_secrets ? ScanWholeBody(*impl_, body, *scratch) : WholeBodyScan{};
  const bool check_secrets = whole.check_strings;
  const bool raw_clean = whole.clean;
  // A string whose literal holds any escape is checked on its decoded text
  // even when the whole-body scan found nothing: "\/" in a URL, "\"" and
  // "\n" around a key in quoted code, can each hide a match from the raw
  // bytes. Strings without escapes were covered by the whole-body scan.
  const bool check_escaped = scan_secrets;
  OutboundEditor editor(*impl_, *scratch, strip, scan_secrets, &r.findings);
  Status scan_error = Status::Ok();

  // One pass validates the JSON, reads the model and stream flag, and
  // edits the strings that need it.
  BodyFields fields;
  const ValueObserver observe = [&](const std::string& path, std::string_view decoded,
                                    bool is_string) {
    fields.Observe(path, decoded, is_string, &r);
  };
  // Object keys (tool-schema property names, tool-call argument keys) are
  // stripped of hidden characters too; they are not scanned for secrets.
  const StringEdit strip_key = [&](std::string_view key, const std::string& path, bool) {
    return StripHiddenKey(key, path, &r.findings);
  };
  std::string edited;
  bool changed = false;
  const Status st = EditJsonStrings(
      body,
      [&](std::string_view s, const std::string& path, bool escaped) -> std::optional<std::string> {
        const bool check = check_secrets || (check_escaped && escaped);
        std::optional<std::string> replacement;
        const bool document = scan_secrets && s.size() >= 16 && IsBase64DocumentPath(path);
        if ((!strip && !check && !document) || !scan_error.ok()) return replacement;
        scan_error = editor.Scan(s, path, check, &replacement);
        return replacement;
      },
      &edited, &changed, 256, &observe, strip ? &strip_key : nullptr);
  impl_->scratch.Give(std::move(scratch));
  if (!scan_error.ok()) {
    // Fail closed: a string the secret engine could not check may hold a
    // secret, so nothing is forwarded (issue 20).
    std::vector<Finding> findings = std::move(r.findings);
    refuse(ErrorKind::kInternal, "scan-failed",
           fmt::format(
               "the gate could not check this request for secrets, so it was not forwarded: {}",
               scan_error.message()));
    r.findings = std::move(findings);
    return r;
  }
  if (!st.ok()) {
    return refuse(ErrorKind::kInvalidRequest, "malformed-json",
                  fmt::format("the request body is not valid JSON: {}", st.message()));
  }
  if (route.protocol != Provider::kGemini) {
    r.model = fields.model;
    r.streaming = fields.stream;
  }
  if (std::optional<OutboundRefusal> refused = RouteModel(*impl_, route, &r)) {
    return refuse(refused->kind, refused->code, std::move(refused->message));
  }

  if (!editor.private_key_rule().empty()) {
    std::vector<Finding> findings = std::move(r.findings);
    refuse(ErrorKind::kPermission, "private-key",
           fmt::format("the request carries a private key ({} at {}); the gate does not let "
                       "private keys leave",
                       editor.private_key_rule(), editor.private_key_path()));
    r.findings = std::move(findings);
    return r;
  }
  if (changed) {
    r.body = std::move(edited);
    r.changed = true;
    if (NeedsStreamUsage(route, r, r.body)) RequestStreamUsage(&r);
  } else {
    r.secret_free = raw_clean;
    const bool usage = NeedsStreamUsage(route, r, body);
    if (options.copy_unchanged || usage) r.body = std::string(body);
    if (usage) RequestStreamUsage(&r);
  }
  return r;
}

InboundResult Policy::InboundJson(const Route& route, std::string_view body) const {
  InboundOptions options;
  options.provider = route.protocol;
  options.strip_hidden = impl_->config.policy.strip_hidden_inbound;
  return gate::InboundJson(body, options);
}

std::unique_ptr<InboundStream> Policy::NewInboundStream(const Route& route,
                                                        bool drop_usage_chunk) const {
  InboundOptions options;
  options.drop_usage_chunk = drop_usage_chunk && route.protocol == Provider::kOpenAi;
  options.provider = route.protocol;
  options.strip_hidden = impl_->config.policy.strip_hidden_inbound;
  return std::make_unique<InboundStream>(options);
}

bool HasHeaderInjection(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) return &v;
  }
  return nullptr;
}

namespace {

// "name/1.2.3 (rest)" → {"name", "1.2.3"} from the first product token.
std::pair<std::string, std::string> FirstProduct(std::string_view ua) {
  const size_t space = ua.find(' ');
  std::string_view token = ua.substr(0, space);
  const size_t slash = token.find('/');
  if (slash == std::string_view::npos) return {std::string(token), ""};
  // "GeminiCLI-tui/0.61.0/gemini-2.5-flash": the version ends at the next '/'.
  std::string_view version = token.substr(slash + 1);
  return {std::string(token.substr(0, slash)), std::string(version.substr(0, version.find('/')))};
}

std::string Join(std::string_view name, std::string_view version) {
  return version.empty() ? std::string(name) : fmt::format("{}/{}", name, version);
}

// Keeps an agent name printable and short: it goes into the log as is.
std::string Sanitize(std::string s) {
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) c = '_';
  }
  if (s.size() > 64) s.resize(64);
  return s;
}

}  // namespace

std::string IdentifyAgent(const HeaderList& headers) {
  const std::string* ua = FindHeader(headers, "user-agent");
  const auto [product, version] =
      ua != nullptr ? FirstProduct(*ua) : std::pair<std::string, std::string>{};
  const std::string lower = Lower(product);
  if (lower == "claude-cli" || lower == "claude-code")
    return Sanitize(Join("claude-code", version));
  if (lower.starts_with("codex")) return Sanitize(Join("codex", version));
  if (const std::string* o = FindHeader(headers, "originator");
      o != nullptr && Lower(*o).starts_with("codex")) {
    return Sanitize(Join("codex", version));
  }
  if (lower.starts_with("geminicli") || lower == "gemini-cli")
    return Sanitize(Join("gemini-cli", version));
  if (lower.starts_with("qwencode") || lower == "qwen-code")
    return Sanitize(Join("qwen-code", version));
  if (lower == "copilot" || lower == "github-copilot-cli")
    return Sanitize(Join("copilot-cli", version));
  // SDKs: "Anthropic/Python 0.40.0", "OpenAI/JS 4.67.0", with x-stainless-* detail.
  if (ua != nullptr && (lower == "anthropic" || lower == "openai")) {
    const size_t space = ua->find(' ');
    std::string sdk_version = space == std::string::npos ? "" : ua->substr(space + 1);
    sdk_version = sdk_version.substr(0, sdk_version.find(' '));
    return Sanitize(Join(fmt::format("{}-{}", lower, Lower(version)), sdk_version));
  }
  if (const std::string* lang = FindHeader(headers, "x-stainless-lang")) {
    const std::string* pv = FindHeader(headers, "x-stainless-package-version");
    return Sanitize(Join(fmt::format("stainless-{}", Lower(*lang)), pv != nullptr ? *pv : ""));
  }
  if (const std::string* client = FindHeader(headers, "x-goog-api-client")) {
    return Sanitize(FirstProduct(*client).first.empty()
                        ? "google-client"
                        : Join(FirstProduct(*client).first, FirstProduct(*client).second));
  }
  if (!product.empty()) return Sanitize(Join(product, version));
  return "unknown";
}

}  // namespace glassbox::gate
