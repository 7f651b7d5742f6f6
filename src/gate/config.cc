#include "gate/config.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "core/secrets.h"

namespace glassbox {
// rules/gate/*.toml, embedded at build time (src/gate/CMakeLists.txt).
const std::vector<EmbeddedFile>& EmbeddedGateRuleFiles();
}  // namespace glassbox

namespace glassbox::gate {

namespace {

using NodeView = toml::node_view<const toml::node>;

// Error context: the source name and how to name a node's line.
struct Ctx {
  std::string_view source;
  const EnvLookup* env;

  Status Error(const toml::node& node, std::string_view key, std::string_view reason) const {
    const auto line = node.source().begin.line;
    if (line > 0) return Status::Error(fmt::format("{}:{}: {}: {}", source, line, key, reason));
    return Status::Error(fmt::format("{}: {}: {}", source, key, reason));
  }
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

Status CheckKeys(const Ctx& ctx, const toml::table& table, std::string_view where,
                 std::initializer_list<std::string_view> known) {
  for (auto&& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      const std::string name =
          where.empty() ? std::string(key.str()) : fmt::format("{}.{}", where, key.str());
      return ctx.Error(value, name, fmt::format("unknown key (known: {})", list));
    }
  }
  return Status::Ok();
}

Status GetString(const Ctx& ctx, const toml::table& t, std::string_view where, std::string_view key,
                 std::string* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const auto* s = n->as_string();
  if (s == nullptr) return ctx.Error(*n, fmt::format("{}.{}", where, key), "expected a string");
  *out = s->get();
  return Status::Ok();
}

Status GetBool(const Ctx& ctx, const toml::table& t, std::string_view where, std::string_view key,
               bool* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const auto* b = n->as_boolean();
  if (b == nullptr)
    return ctx.Error(*n, fmt::format("{}.{}", where, key), "expected true or false");
  *out = b->get();
  return Status::Ok();
}

Status GetCount(const Ctx& ctx, const toml::table& t, std::string_view where, std::string_view key,
                std::optional<uint64_t>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const auto* i = n->as_integer();
  if (i == nullptr || i->get() < 0) {
    return ctx.Error(*n, fmt::format("{}.{}", where, key), "expected a non-negative integer");
  }
  *out = static_cast<uint64_t>(i->get());
  return Status::Ok();
}

Status GetNumber(const Ctx& ctx, const toml::node* n, std::string_view name,
                 std::optional<double>* out) {
  if (n == nullptr) return Status::Ok();
  double v = 0;
  if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else {
    return ctx.Error(*n, name, "expected a number");
  }
  if (!(v >= 0) || v > 1e12) return ctx.Error(*n, name, "expected a non-negative number");
  *out = v;
  return Status::Ok();
}

Status GetStrings(const Ctx& ctx, const toml::table& t, std::string_view where,
                  std::string_view key, std::vector<std::string>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const toml::array* arr = n->as_array();
  const std::string name = fmt::format("{}.{}", where, key);
  if (arr == nullptr) return ctx.Error(*n, name, "expected an array of strings");
  out->clear();
  for (const toml::node& e : *arr) {
    const auto* s = e.as_string();
    if (s == nullptr) return ctx.Error(e, name, "expected an array of strings");
    out->push_back(s->get());
  }
  return Status::Ok();
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = name[i];
    if (c == '*' && i + 1 == name.size()) continue;
    // RFC 9110 tchar.
    if (!(std::isalnum(c) || std::string_view("!#$%&'+-.^_`|~").find(static_cast<char>(c)) !=
                                 std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

bool ParseProtocol(std::string_view s, net::Provider* out, bool* chat_only) {
  *chat_only = s == "openai-chat";
  if (s == "anthropic")
    *out = net::Provider::kAnthropic;
  else if (s == "openai" || s == "openai-chat")
    *out = net::Provider::kOpenAi;
  else if (s == "gemini")
    *out = net::Provider::kGemini;
  else
    return false;
  return true;
}

// An OpenAI base URL conventionally ends in "/v1" ("http://host:8000/v1"),
// which every OpenAI API path the gate sends already starts with: for an
// openai-chat upstream it is dropped rather than doubled.
void DropApiVersionSuffix(UpstreamConfig* u) {
  if (!u->chat_only || !u->url.path.ends_with("/v1")) return;
  u->url.path.resize(u->url.path.size() - 3);
  u->url.text.resize(u->url.text.size() - 3);
}

// [routes]: "GLOB" = "UPSTREAM[:MODEL]", tried in file order.
Status ParseRoutes(const Ctx& ctx, const toml::node& node, std::vector<ModelRoute>* out) {
  const toml::table* t = node.as_table();
  if (t == nullptr)
    return ctx.Error(node, "routes", "expected a table of \"model-glob\" = \"upstream[:model]\"");
  std::vector<std::pair<uint32_t, ModelRoute>> entries;
  for (auto&& [key, value] : *t) {
    const std::string name = fmt::format("routes.\"{}\"", key.str());
    const auto* s = value.as_string();
    if (s == nullptr) return ctx.Error(value, name, "expected \"upstream\" or \"upstream:model\"");
    Result<ModelRoute> route = ParseRouteTarget(key.str(), s->get());
    if (!route.ok()) return ctx.Error(value, name, route.status().message());
    entries.emplace_back(value.source().begin.line, std::move(route).value());
  }
  // toml++ iterates keys in sorted order; routes are tried in file order.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [line, r] : entries) out->push_back(std::move(r));
  return Status::Ok();
}

UpstreamConfig* FindMutable(GateConfig* config, std::string_view name) {
  for (UpstreamConfig& u : config->upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

Status ParseHeaderRules(const Ctx& ctx, const toml::node& node, const std::string& where,
                        std::vector<HeaderRule>* out) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr)
    return ctx.Error(node, where, "expected an array of tables ([[" + where + "]])");
  out->clear();
  size_t i = 0;
  for (const toml::node& e : *arr) {
    const std::string name = fmt::format("{}[{}]", where, i++);
    const toml::table* t = e.as_table();
    if (t == nullptr) return ctx.Error(e, name, "expected a table with name, action and value");
    if (Status st = CheckKeys(ctx, *t, name, {"name", "action", "value"}); !st.ok()) return st;
    HeaderRule rule;
    std::string action = "remove";
    if (Status st = GetString(ctx, *t, name, "name", &rule.name); !st.ok()) return st;
    if (Status st = GetString(ctx, *t, name, "action", &action); !st.ok()) return st;
    if (!ValidHeaderName(rule.name)) {
      return ctx.Error(
          e, name + ".name",
          fmt::format("\"{}\" is not a header name (a trailing * is allowed)", rule.name));
    }
    rule.name = Lower(rule.name);
    if (action == "remove") {
      rule.action = HeaderRule::Action::kRemove;
    } else if (action == "replace") {
      rule.action = HeaderRule::Action::kReplace;
      if (t->get("value") == nullptr)
        return ctx.Error(e, name + ".value", "action \"replace\" needs a value");
      if (Status st = GetString(ctx, *t, name, "value", &rule.value); !st.ok()) return st;
      if (rule.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        return ctx.Error(e, name + ".value", "contains CR, LF or NUL");
      }
    } else {
      return ctx.Error(e, name + ".action",
                       fmt::format("\"{}\" is not \"remove\" or \"replace\"", action));
    }
    out->push_back(std::move(rule));
  }
  return Status::Ok();
}

Status ParseUpstream(const Ctx& ctx, std::string_view name, const toml::node& node,
                     GateConfig* config) {
  const std::string where = fmt::format("upstreams.{}", name);
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.Error(node, where, "expected a table");
  if (!ValidName(name) || name == "v1" || name == "v1beta" || name == "_glassbox") {
    return ctx.Error(
        node, where,
        "an upstream name is letters, digits, '-', '_' or '.' and not v1, v1beta or _glassbox");
  }
  if (Status st = CheckKeys(ctx, *t, where,
                            {"url", "protocol", "enabled", "allowed_models", "route_models",
                             "headers", "api_key", "api_key_env", "max_tokens"});
      !st.ok()) {
    return st;
  }
  UpstreamConfig* u = FindMutable(config, name);
  if (u == nullptr) {
    if (t->get("url") == nullptr)
      return ctx.Error(node, where + ".url", "a custom upstream needs a url");
    config->upstreams.push_back(UpstreamConfig{});
    u = &config->upstreams.back();
    u->name = std::string(name);
    u->protocol = net::Provider::kOpenAi;
  }
  const bool builtin = name == "anthropic" || name == "openai" || name == "gemini";
  if (const toml::node* p = t->get("protocol")) {
    const auto* s = p->as_string();
    net::Provider protocol;
    bool chat_only = false;
    if (s == nullptr || !ParseProtocol(s->get(), &protocol, &chat_only)) {
      return ctx.Error(*p, where + ".protocol",
                       "expected \"anthropic\", \"openai\", \"openai-chat\" or \"gemini\"");
    }
    if (builtin && protocol != u->protocol) {
      return ctx.Error(*p, where + ".protocol", "a built-in upstream speaks its own protocol");
    }
    u->protocol = protocol;
    u->chat_only = chat_only;
  }
  if (const toml::node* url = t->get("url")) {
    const auto* s = url->as_string();
    if (s == nullptr) return ctx.Error(*url, where + ".url", "expected a string");
    Result<UpstreamUrl> parsed = ParseUpstreamUrl(s->get());
    if (!parsed.ok()) return ctx.Error(*url, where + ".url", parsed.status().message());
    u->url = std::move(parsed).value();
  }
  DropApiVersionSuffix(u);
  if (Status st = GetBool(ctx, *t, where, "enabled", &u->enabled); !st.ok()) return st;
  std::optional<uint64_t> max_tokens;
  if (Status st = GetCount(ctx, *t, where, "max_tokens", &max_tokens); !st.ok()) return st;
  if (max_tokens) {
    if (*max_tokens == 0)
      return ctx.Error(*t->get("max_tokens"), where + ".max_tokens", "expected at least 1");
    u->max_tokens = *max_tokens;
  }
  if (Status st = GetStrings(ctx, *t, where, "allowed_models", &u->allowed_models); !st.ok())
    return st;
  if (Status st = GetStrings(ctx, *t, where, "route_models", &u->route_models); !st.ok()) return st;
  if (builtin && !u->route_models.empty()) {
    return ctx.Error(*t->get("route_models"), where + ".route_models",
                     "only custom upstreams take route_models");
  }
  if (const toml::node* h = t->get("headers")) {
    if (Status st = ParseHeaderRules(ctx, *h, where + ".headers", &u->header_rules); !st.ok())
      return st;
  }
  if (Status st = GetString(ctx, *t, where, "api_key", &u->api_key); !st.ok()) return st;
  if (const toml::node* e = t->get("api_key_env")) {
    const auto* s = e->as_string();
    if (s == nullptr || s->get().empty())
      return ctx.Error(*e, where + ".api_key_env", "expected a variable name");
    if (t->get("api_key") != nullptr)
      return ctx.Error(*e, where + ".api_key_env", "give api_key or api_key_env, not both");
    std::optional<std::string> value;
    if (ctx.env != nullptr && *ctx.env) value = (*ctx.env)(s->get());
    if (!value || value->empty()) {
      return ctx.Error(*e, where + ".api_key_env",
                       fmt::format("environment variable {} is not set", s->get()));
    }
    u->api_key = std::move(*value);
  }
  if (u->api_key.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return ctx.Error(node, where + ".api_key", "contains CR, LF or NUL");
  }
  return Status::Ok();
}

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status ParseUser(const Ctx& ctx, std::string_view name, const toml::node& node, GateConfig* config,
                 std::set<std::string>* key_hashes) {
  const std::string where = fmt::format("users.{}", name);
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.Error(node, where, "expected a table");
  if (!ValidName(name) || name == "anonymous") {
    return ctx.Error(node, where,
                     "a user name is letters, digits, '-', '_' or '.' and not \"anonymous\"");
  }
  if (Status st = CheckKeys(ctx, *t, where,
                            {"key", "key_sha256", "daily_tokens", "monthly_tokens", "daily_usd",
                             "monthly_usd", "log_payloads"});
      !st.ok()) {
    return st;
  }
  UserConfig u;
  u.name = std::string(name);
  std::string key;
  if (Status st = GetString(ctx, *t, where, "key", &key); !st.ok()) return st;
  if (Status st = GetString(ctx, *t, where, "key_sha256", &u.key_sha256); !st.ok()) return st;
  if (key.empty() == u.key_sha256.empty()) {
    return ctx.Error(node, where, "give exactly one of key or key_sha256");
  }
  if (!key.empty()) {
    if (key.size() < 16)
      return ctx.Error(*t->get("key"), where + ".key", "a gate key needs at least 16 characters");
    u.key_sha256 = Sha256Hex(key);
  } else {
    u.key_sha256 = Lower(u.key_sha256);
    if (!IsLowerHex64(u.key_sha256)) {
      return ctx.Error(*t->get("key_sha256"), where + ".key_sha256",
                       "expected 64 hexadecimal digits");
    }
  }
  if (!key_hashes->insert(u.key_sha256).second) {
    return ctx.Error(node, where, "another user has the same key");
  }
  if (Status st = GetCount(ctx, *t, where, "daily_tokens", &u.daily_tokens); !st.ok()) return st;
  if (Status st = GetCount(ctx, *t, where, "monthly_tokens", &u.monthly_tokens); !st.ok())
    return st;
  if (Status st = GetNumber(ctx, t->get("daily_usd"), where + ".daily_usd", &u.daily_usd); !st.ok())
    return st;
  if (Status st = GetNumber(ctx, t->get("monthly_usd"), where + ".monthly_usd", &u.monthly_usd);
      !st.ok())
    return st;
  if (Status st = GetBool(ctx, *t, where, "log_payloads", &u.log_payloads); !st.ok()) return st;
  config->users.push_back(std::move(u));
  return Status::Ok();
}

Status ParsePrices(const Ctx& ctx, const toml::node& node, std::vector<PriceEntry>* out) {
  const toml::table* t = node.as_table();
  if (t == nullptr)
    return ctx.Error(node, "prices", "expected a table of model = { input, output }");
  // toml++ iterates keys in sorted order; the table is tried in file order.
  std::vector<std::pair<uint32_t, PriceEntry>> entries;
  for (auto&& [key, value] : *t) {
    const std::string where = fmt::format("prices.\"{}\"", key.str());
    const toml::table* p = value.as_table();
    if (p == nullptr) return ctx.Error(value, where, "expected { input = N, output = N }");
    if (Status st = CheckKeys(ctx, *p, where, {"input", "output", "cache_read", "cache_write"});
        !st.ok())
      return st;
    std::optional<double> input, output;
    PriceEntry e;
    e.model = std::string(key.str());
    if (Status st = GetNumber(ctx, p->get("input"), where + ".input", &input); !st.ok()) return st;
    if (Status st = GetNumber(ctx, p->get("output"), where + ".output", &output); !st.ok())
      return st;
    if (!input || !output)
      return ctx.Error(value, where, "needs both input and output (USD per million tokens)");
    e.price.input = *input;
    e.price.output = *output;
    if (Status st =
            GetNumber(ctx, p->get("cache_read"), where + ".cache_read", &e.price.cache_read);
        !st.ok())
      return st;
    if (Status st =
            GetNumber(ctx, p->get("cache_write"), where + ".cache_write", &e.price.cache_write);
        !st.ok()) {
      return st;
    }
    entries.emplace_back(value.source().begin.line, std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [line, e] : entries) out->push_back(std::move(e));
  return Status::Ok();
}

Result<toml::table> ParseToml(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    // toml++ reports errors as exceptions; they stop here.
    return Status::Error(fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                     e.source().begin.column, e.description()));
  }
}

std::vector<PriceEntry> BuiltinPrices() {
  std::vector<PriceEntry> prices;
  for (const EmbeddedFile& f : EmbeddedGateRuleFiles()) {
    if (!f.name.ends_with("prices.toml")) continue;
    Result<toml::table> t = ParseToml(f.text, f.name);
    if (!t.ok()) continue;  // a shipped file is checked by config_test
    const Ctx ctx{f.name, nullptr};
    if (const toml::node* p = t->get("prices")) {
      std::vector<PriceEntry> parsed;
      if (ParsePrices(ctx, *p, &parsed).ok()) prices = std::move(parsed);
    }
  }
  return prices;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point: linear in practice.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<UpstreamUrl> ParseUpstreamUrl(std::string_view url) {
  auto fail = [&](std::string_view why) {
    return Status::Error(fmt::format("upstream URL \"{}\": {}", url, why));
  };
  UpstreamUrl out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.scheme = "https";
    out.port = 443;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    out.scheme = "http";
    out.port = 80;
    rest = url.substr(7);
  } else {
    return fail("must start with http:// or https://");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return fail("contains a space, a control or a non-ASCII character");
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    return fail("must not have a query or fragment");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return fail("must not carry user information");
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed IPv6 bracket");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("unexpected text after the IPv6 address");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail("has no host");
  if (!port.empty() || authority.ends_with(":")) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return fail("has an invalid port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  out.host = Lower(host);
  while (path.ends_with("/")) path.remove_suffix(1);
  out.path = std::string(path);
  const bool default_port =
      (out.scheme == "https" && out.port == 443) || (out.scheme == "http" && out.port == 80);
  const std::string host_text =
      out.host.find(':') != std::string::npos ? "[" + out.host + "]" : out.host;
  out.text = default_port ? fmt::format("{}://{}{}", out.scheme, host_text, out.path)
                          : fmt::format("{}://{}:{}{}", out.scheme, host_text, out.port, out.path);
  return out;
}

GateConfig DefaultGateConfig() {
  GateConfig config;
  const std::pair<const char*, net::Provider> builtins[] = {
      {"anthropic", net::Provider::kAnthropic},
      {"openai", net::Provider::kOpenAi},
      {"gemini", net::Provider::kGemini}};
  const char* urls[] = {"https://api.anthropic.com", "https://api.openai.com",
                        "https://generativelanguage.googleapis.com"};
  for (size_t i = 0; i < 3; ++i) {
    UpstreamConfig u;
    u.name = builtins[i].first;
    u.protocol = builtins[i].second;
    u.url = ParseUpstreamUrl(urls[i]).value();
    config.upstreams.push_back(std::move(u));
  }
  config.prices = BuiltinPrices();
  return config;
}

namespace {

// [gate]
Status ParseGateSection(const Ctx& ctx, const toml::node& g, GateConfig* config) {
  const toml::table* t = g.as_table();
  if (t == nullptr) return ctx.Error(g, "gate", "expected a table");
  if (Status st = CheckKeys(ctx, *t, "gate",
                            {"listen", "unknown_paths", "max_body_bytes", "unlogged_routes",
                             "default_route", "count_tokens"});
      !st.ok()) {
    return st;
  }
  if (Status st = GetString(ctx, *t, "gate", "listen", &config->listen); !st.ok()) return st;
  if (config->listen.empty() || config->listen.find(':') == std::string::npos) {
    return ctx.Error(*t, "gate.listen", "expected HOST:PORT, like \"127.0.0.1:8787\"");
  }
  std::string unknown = "refuse";
  if (Status st = GetString(ctx, *t, "gate", "unknown_paths", &unknown); !st.ok()) return st;
  if (unknown != "refuse" && unknown != "pass") {
    return ctx.Error(*t->get("unknown_paths"), "gate.unknown_paths",
                     "expected \"refuse\" or \"pass\"");
  }
  config->unknown_paths = unknown == "refuse" ? UnknownPaths::kRefuse : UnknownPaths::kPass;
  std::optional<uint64_t> max_body;
  if (Status st = GetCount(ctx, *t, "gate", "max_body_bytes", &max_body); !st.ok()) return st;
  if (max_body) {
    if (*max_body < 1024 || *max_body > (uint64_t{1} << 32)) {
      return ctx.Error(*t->get("max_body_bytes"), "gate.max_body_bytes",
                       "expected 1024 to 4294967296 bytes");
    }
    config->max_body_bytes = static_cast<size_t>(*max_body);
  }
  if (Status st = GetStrings(ctx, *t, "gate", "unlogged_routes", &config->unlogged_routes);
      !st.ok())
    return st;
  std::string default_route;
  if (Status st = GetString(ctx, *t, "gate", "default_route", &default_route); !st.ok()) return st;
  if (t->get("default_route") != nullptr) {
    Result<ModelRoute> route = ParseRouteTarget("*", default_route);
    if (!route.ok())
      return ctx.Error(*t->get("default_route"), "gate.default_route", route.status().message());
    config->default_route = std::move(route).value();
  }
  std::string count_tokens = "refuse";
  if (Status st = GetString(ctx, *t, "gate", "count_tokens", &count_tokens); !st.ok()) return st;
  if (count_tokens != "refuse" && count_tokens != "estimate") {
    return ctx.Error(*t->get("count_tokens"), "gate.count_tokens",
                     "expected \"estimate\" or \"refuse\"");
  }
  config->count_tokens_estimate = count_tokens == "estimate";
  return Status::Ok();
}

// [routes]
Status ParseRoutesSection(const Ctx& ctx, const toml::node& r, GateConfig* config) {
  return ParseRoutes(ctx, r, &config->routes);
}

// [policy]
Status ParsePolicySection(const Ctx& ctx, const toml::node& p, GateConfig* config) {
  const toml::table* t = p.as_table();
  if (t == nullptr) return ctx.Error(p, "policy", "expected a table");
  if (Status st = CheckKeys(ctx, *t, "policy",
                            {"redact_secrets", "strip_hidden_outbound", "refuse_private_keys",
                             "strip_hidden_inbound"});
      !st.ok()) {
    return st;
  }
  PolicySwitches& s = config->policy;
  for (auto [key, field] : {std::pair{"redact_secrets", &s.redact_secrets},
                            std::pair{"strip_hidden_outbound", &s.strip_hidden_outbound},
                            std::pair{"refuse_private_keys", &s.refuse_private_keys},
                            std::pair{"strip_hidden_inbound", &s.strip_hidden_inbound}}) {
    if (Status st = GetBool(ctx, *t, "policy", key, field); !st.ok()) return st;
  }
  return Status::Ok();
}

// [retention]
Status ParseRetentionSection(const Ctx& ctx, const toml::node& r, GateConfig* config) {
  const toml::table* t = r.as_table();
  if (t == nullptr) return ctx.Error(r, "retention", "expected a table");
  if (Status st = CheckKeys(ctx, *t, "retention", {"days", "records"}); !st.ok()) return st;
  std::optional<uint64_t> days;
  if (Status st = GetCount(ctx, *t, "retention", "days", &days); !st.ok()) return st;
  if (days) {
    if (*days == 0 || *days > 36500)
      return ctx.Error(*t->get("days"), "retention.days", "expected 1 to 36500");
    config->retention.days = static_cast<uint32_t>(*days);
  }
  if (Status st = GetCount(ctx, *t, "retention", "records", &config->retention.records); !st.ok())
    return st;
  if (config->retention.records && *config->retention.records == 0) {
    return ctx.Error(*t->get("records"), "retention.records", "expected at least 1");
  }
  return Status::Ok();
}

// [log]
Status ParseLogSection(const Ctx& ctx, const toml::node& l, GateConfig* config) {
  const toml::table* t = l.as_table();
  if (t == nullptr) return ctx.Error(l, "log", "expected a table");
  if (Status st = CheckKeys(ctx, *t, "log",
                            {"durability", "location", "replica", "on_store_down", "bodies_ahead"});
      !st.ok()) {
    return st;
  }
  if (Status st = GetString(ctx, *t, "log", "location", &config->log.location); !st.ok()) return st;
  if (Status st = GetString(ctx, *t, "log", "replica", &config->log.replica); !st.ok()) return st;
  if (Status st = GetBool(ctx, *t, "log", "bodies_ahead", &config->log.bodies_ahead); !st.ok())
    return st;
  std::string on_down = config->log.serve_unlogged ? "serve-unlogged" : "refuse";
  if (Status st = GetString(ctx, *t, "log", "on_store_down", &on_down); !st.ok()) return st;
  if (on_down != "refuse" && on_down != "serve-unlogged") {
    return ctx.Error(*t->get("on_store_down"), "log.on_store_down",
                     "expected \"refuse\" or \"serve-unlogged\"");
  }
  config->log.serve_unlogged = on_down == "serve-unlogged";
  std::string durability = LogDurabilityName(config->log.durability);
  if (Status st = GetString(ctx, *t, "log", "durability", &durability); !st.ok()) return st;
  Result<LogDurability> parsed_durability = ParseLogDurability(durability);
  if (!parsed_durability.ok())
    return ctx.Error(*t->get("durability"), "log.durability", "expected \"normal\" or \"full\"");
  config->log.durability = *parsed_durability;
  return Status::Ok();
}

// [upstreams.NAME]
Status ParseUpstreamsSection(const Ctx& ctx, const toml::node& u, GateConfig* config) {
  const toml::table* t = u.as_table();
  if (t == nullptr) return ctx.Error(u, "upstreams", "expected a table of [upstreams.NAME]");
  for (auto&& [key, value] : *t) {
    if (Status st = ParseUpstream(ctx, key.str(), value, config); !st.ok()) return st;
  }
  return Status::Ok();
}

// [users.NAME]
Status ParseUsersSection(const Ctx& ctx, const toml::node& u, GateConfig* config) {
  const toml::table* t = u.as_table();
  if (t == nullptr) return ctx.Error(u, "users", "expected a table of [users.NAME]");
  std::set<std::string> hashes;
  for (auto&& [key, value] : *t) {
    if (Status st = ParseUser(ctx, key.str(), value, config, &hashes); !st.ok()) return st;
  }
  return Status::Ok();
}

// [prices]: the file's prices come before the built-in ones.
Status ParsePricesSection(const Ctx& ctx, const toml::node& p, GateConfig* config) {
  std::vector<PriceEntry> file_prices;
  if (Status st = ParsePrices(ctx, p, &file_prices); !st.ok()) return st;
  file_prices.insert(file_prices.end(), config->prices.begin(), config->prices.end());
  config->prices = std::move(file_prices);
  return Status::Ok();
}

// The sections of gate.toml, parsed in this order.
struct Section {
  const char* name;
  Status (*parse)(const Ctx& ctx, const toml::node& node, GateConfig* config);
};
constexpr Section kSections[] = {
    {"gate", ParseGateSection},     {"routes", ParseRoutesSection},
    {"policy", ParsePolicySection}, {"retention", ParseRetentionSection},
    {"log", ParseLogSection},       {"upstreams", ParseUpstreamsSection},
    {"users", ParseUsersSection},   {"prices", ParsePricesSection},
};

}  // namespace

Result<GateConfig> ParseGateConfig(std::string_view toml_text, std::string_view source_name,
                                   const EnvLookup& env) {
  Result<toml::table> parsed = ParseToml(toml_text, source_name);
  if (!parsed.ok()) return parsed.status();
  const toml::table& root = *parsed;
  const Ctx ctx{source_name, &env};
  GateConfig config = DefaultGateConfig();
  config.source = std::string(source_name);
  if (Status st = CheckKeys(
          ctx, root, "",
          {"gate", "policy", "retention", "log", "upstreams", "users", "prices", "routes"});
      !st.ok()) {
    return st;
  }
  for (const Section& section : kSections) {
    if (const toml::node* node = root.get(section.name)) {
      if (Status st = section.parse(ctx, *node, &config); !st.ok()) return st;
    }
  }
  return config;
}

Result<GateConfig> LoadGateConfig(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("{}: cannot read the gate config file", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Error(fmt::format("{}: read error", path));
  return ParseGateConfig(text.str(), path, env);
}

Status ApplyUpstreamFlag(GateConfig* config, std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::Error(fmt::format(
        "--upstream \"{}\": expected NAME=URL, like anthropic=https://api.anthropic.com", spec));
  }
  const std::string_view name = spec.substr(0, eq);
  if (!ValidName(name) || name == "v1" || name == "v1beta" || name == "_glassbox") {
    return Status::Error(
        fmt::format("--upstream \"{}\": \"{}\" is not a valid upstream name", spec, name));
  }
  std::string_view url_text = spec.substr(eq + 1);
  // "PROTOCOL+URL" names the upstream's protocol.
  std::optional<std::pair<net::Provider, bool>> protocol;
  if (const size_t plus = url_text.find('+');
      plus != std::string_view::npos && plus < url_text.find(':')) {
    net::Provider p;
    bool chat_only = false;
    if (!ParseProtocol(url_text.substr(0, plus), &p, &chat_only)) {
      return Status::Error(fmt::format(
          "--upstream {}: \"{}\" is not a protocol (anthropic, openai, openai-chat, gemini)", name,
          url_text.substr(0, plus)));
    }
    protocol = std::pair{p, chat_only};
    url_text = url_text.substr(plus + 1);
  }
  Result<UpstreamUrl> url = ParseUpstreamUrl(url_text);
  if (!url.ok())
    return Status::Error(fmt::format("--upstream {}: {}", name, url.status().message()));
  UpstreamConfig* u = FindMutable(config, name);
  const bool builtin = name == "anthropic" || name == "openai" || name == "gemini";
  if (u == nullptr) {
    config->upstreams.push_back(UpstreamConfig{});
    u = &config->upstreams.back();
    u->name = std::string(name);
    u->protocol = net::Provider::kOpenAi;
  }
  if (protocol) {
    if (builtin && protocol->first != u->protocol) {
      return Status::Error(
          fmt::format("--upstream {}: a built-in upstream speaks its own protocol", name));
    }
    u->protocol = protocol->first;
    u->chat_only = protocol->second;
  }
  u->url = std::move(url).value();
  DropApiVersionSuffix(u);
  return Status::Ok();
}

Result<ModelRoute> ParseRouteTarget(std::string_view pattern, std::string_view spec) {
  ModelRoute r;
  r.pattern = std::string(pattern);
  const size_t colon = spec.find(':');
  r.upstream = std::string(spec.substr(0, colon));
  if (colon != std::string_view::npos) r.model = std::string(spec.substr(colon + 1));
  if (pattern.empty()) return Status::Error("a route needs a model glob");
  if (r.upstream.empty() || !ValidName(r.upstream)) {
    return Status::Error(fmt::format("\"{}\": expected UPSTREAM or UPSTREAM:MODEL", spec));
  }
  if (colon != std::string_view::npos && r.model.empty()) {
    return Status::Error(fmt::format("\"{}\": the model after ':' is empty", spec));
  }
  return r;
}

Status ApplyRouteFlag(GateConfig* config, std::string_view spec, bool is_default) {
  if (is_default) {
    Result<ModelRoute> r = ParseRouteTarget("*", spec);
    if (!r.ok()) return Status::Error("--default-route " + r.status().message());
    config->default_route = std::move(r).value();
    return Status::Ok();
  }
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::Error(fmt::format(
        "--route \"{}\": expected GLOB=UPSTREAM[:MODEL], like claude-sonnet-*=local:qwen3-coder",
        spec));
  }
  Result<ModelRoute> r = ParseRouteTarget(spec.substr(0, eq), spec.substr(eq + 1));
  if (!r.ok()) return Status::Error("--route " + r.status().message());
  // Flags come before the file's routes, in flag order.
  config->routes.insert(
      config->routes.begin() + static_cast<std::ptrdiff_t>(config->routes_from_flags++),
      std::move(r).value());
  return Status::Ok();
}

Status CheckRoutes(const GateConfig& config) {
  auto check = [&](const ModelRoute& r, std::string_view what) -> Status {
    const UpstreamConfig* u = FindUpstream(config, r.upstream);
    if (u == nullptr)
      return Status::Error(
          fmt::format("{} {}: no upstream called '{}' is configured", what, r.pattern, r.upstream));
    return Status::Ok();
  };
  for (const ModelRoute& r : config.routes) {
    if (Status st = check(r, "route"); !st.ok()) return st;
  }
  if (config.default_route) return check(*config.default_route, "default route");
  return Status::Ok();
}

const ModelRoute* FindModelRoute(const GateConfig& config, std::string_view model) {
  for (const ModelRoute& r : config.routes) {
    if (GlobMatch(r.pattern, model)) return &r;
  }
  return config.default_route ? &*config.default_route : nullptr;
}

const UpstreamConfig* FindUpstream(const GateConfig& config, std::string_view name) {
  for (const UpstreamConfig& u : config.upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace glassbox::gate
