#include "gate/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace glassbox::gate {
namespace {

constexpr char kFullExample[] = R"toml(
[gate]
listen = "127.0.0.1:9000"
unknown_paths = "pass"
max_body_bytes = 1048576
unlogged_routes = ["openai.embeddings", "/v1/messages/count_tokens"]

[policy]
redact_secrets = true
strip_hidden_outbound = false
refuse_private_keys = true
strip_hidden_inbound = true

[retention]
days = 30
records = 100000

[upstreams.anthropic]
allowed_models = ["claude-sonnet-4*", "claude-haiku-*"]
api_key_env = "REAL_ANTHROPIC_KEY"

[[upstreams.anthropic.headers]]
name = "x-stainless-*"
action = "remove"

[[upstreams.anthropic.headers]]
name = "User-Agent"
action = "replace"
value = "glassbox-gate"

[upstreams.local]
url = "http://127.0.0.1:8000/"
protocol = "openai"
route_models = ["qwen*", "llama*"]

[users.alice]
key = "alice-key-0123456789abcdef"
daily_tokens = 100000
monthly_usd = 25.5
log_payloads = false

[users.bob]
key_sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
daily_usd = 2

[prices]
"qwen*" = { input = 0.0, output = 0.0 }
"claude-sonnet-4*" = { input = 2.0, output = 10.0, cache_read = 0.2 }
)toml";

EnvLookup Env() {
  return [](std::string_view name) -> std::optional<std::string> {
    if (name == "REAL_ANTHROPIC_KEY") return "sk-ant-real";
    return std::nullopt;
  };
}

TEST(GateConfig, DefaultsAreSafe) {
  const GateConfig c = DefaultGateConfig();
  EXPECT_EQ(c.listen, "127.0.0.1:8787");
  ASSERT_EQ(c.upstreams.size(), 3u);
  EXPECT_EQ(c.upstreams[0].url.text, "https://api.anthropic.com");
  EXPECT_EQ(c.upstreams[1].url.text, "https://api.openai.com");
  EXPECT_EQ(c.upstreams[2].url.text, "https://generativelanguage.googleapis.com");
  EXPECT_EQ(c.upstreams[2].protocol, net::Provider::kGemini);
  EXPECT_TRUE(c.upstreams[0].header_rules.empty());
  EXPECT_EQ(c.unknown_paths, UnknownPaths::kRefuse);
  EXPECT_EQ(c.max_body_bytes, size_t{32} << 20);
  EXPECT_TRUE(c.policy.redact_secrets && c.policy.strip_hidden_outbound &&
              c.policy.refuse_private_keys && c.policy.strip_hidden_inbound);
  EXPECT_TRUE(c.users.empty());
  EXPECT_GT(c.prices.size(), 10u)
      << "the built-in price table (rules/gate/prices.toml) did not load";
}

TEST(GateConfig, FullExampleParses) {
  Result<GateConfig> r = ParseGateConfig(kFullExample, "gate.toml", Env());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GateConfig& c = *r;
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.unknown_paths, UnknownPaths::kPass);
  EXPECT_EQ(c.max_body_bytes, 1048576u);
  EXPECT_EQ(c.unlogged_routes.size(), 2u);
  EXPECT_FALSE(c.policy.strip_hidden_outbound);
  EXPECT_EQ(c.retention.days, 30u);
  EXPECT_EQ(c.retention.records, 100000u);
  const UpstreamConfig* a = FindUpstream(c, "anthropic");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->api_key, "sk-ant-real");
  EXPECT_EQ(a->allowed_models.size(), 2u);
  ASSERT_EQ(a->header_rules.size(), 2u);
  EXPECT_EQ(a->header_rules[0].name, "x-stainless-*");
  EXPECT_EQ(a->header_rules[1].name, "user-agent");
  EXPECT_EQ(a->header_rules[1].action, HeaderRule::Action::kReplace);
  const UpstreamConfig* local = FindUpstream(c, "local");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->url.text, "http://127.0.0.1:8000");
  EXPECT_EQ(local->url.port, 8000);
  EXPECT_EQ(local->protocol, net::Provider::kOpenAi);
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].name, "alice");
  EXPECT_EQ(c.users[0].key_sha256, Sha256Hex("alice-key-0123456789abcdef"));
  EXPECT_EQ(c.users[0].daily_tokens, 100000u);
  EXPECT_DOUBLE_EQ(*c.users[0].monthly_usd, 25.5);
  EXPECT_FALSE(c.users[0].log_payloads);
  EXPECT_EQ(c.users[1].key_sha256, std::string(64, 'a'));
  EXPECT_DOUBLE_EQ(*c.users[1].daily_usd, 2.0);
  // File prices come first, then the built-in table.
  ASSERT_GT(c.prices.size(), 2u);
  EXPECT_EQ(c.prices[0].model, "qwen*");
  EXPECT_EQ(c.prices[1].model, "claude-sonnet-4*");
  EXPECT_DOUBLE_EQ(c.prices[1].price.input, 2.0);
}

TEST(GateConfig, LoadsFromFile) {
  const std::string path = ::testing::TempDir() + "/gate_config_test.toml";
  std::ofstream(path) << kFullExample;
  Result<GateConfig> r = LoadGateConfig(path, Env());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->source, path);
  std::remove(path.c_str());
  Result<GateConfig> missing = LoadGateConfig(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path + ".missing"), std::string::npos);
}

// Each bad input names the file, the line and the key.
TEST(GateConfig, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* toml;
    const char* expect;
  };
  const Case cases[] = {
      {"[users.alice]\nkey = \"alice-key-0123456789abcdef\"\ndaily_usd = \"ten\"\n",
       "gate.toml:3: users.alice.daily_usd: expected a number"},
      {"[gate]\nunknown_paths = \"maybe\"\n",
       "gate.toml:2: gate.unknown_paths: expected \"refuse\" or \"pass\""},
      {"[gate]\nlisten_on = \"x\"\n", "gate.toml:2: gate.listen_on: unknown key"},
      {"[upstreams.local]\nprotocol = \"openai\"\n",
       "gate.toml:1: upstreams.local.url: a custom upstream needs a url"},
      {"[upstreams.openai]\nurl = \"ftp://x\"\n",
       "gate.toml:2: upstreams.openai.url: upstream URL \"ftp://x\""},
      {"[upstreams.anthropic]\napi_key_env = \"NOPE\"\n",
       "gate.toml:2: upstreams.anthropic.api_key_env: environment variable NOPE is not set"},
      {"[[upstreams.openai.headers]]\nname = \"user agent\"\n", "upstreams.openai.headers[0].name"},
      {"[[upstreams.openai.headers]]\nname = \"user-agent\"\naction = \"replace\"\n",
       "action \"replace\" needs a value"},
      {"[users.bob]\ndaily_tokens = 5\n", "users.bob: give exactly one of key or key_sha256"},
      {"[users.bob]\nkey = \"short\"\n", "users.bob.key: a gate key needs at least 16 characters"},
      {"[users.a]\nkey = \"same-key-0123456789\"\n[users.b]\nkey = \"same-key-0123456789\"\n",
       "users.b: another user has the same key"},
      {"[prices]\n\"gpt*\" = { input = 1 }\n", "prices.\"gpt*\": needs both input and output"},
      {"[retention]\ndays = -1\n", "gate.toml:2: retention.days: expected a non-negative integer"},
      {"[gate\n", "gate.toml:1:"},
      {"[policy]\nredact_secrets = \"yes\"\n",
       "gate.toml:2: policy.redact_secrets: expected true or false"},
      {"[upstreams.anthropic]\nprotocol = \"openai\"\n",
       "a built-in upstream speaks its own protocol"},
      {"[log]\ndurability = \"sometimes\"\n",
       "gate.toml:2: log.durability: expected \"normal\" or \"full\""},
      {"[log]\nsync = \"full\"\n", "gate.toml:2: log.sync: unknown key"},
      {"[log]\non_store_down = \"ignore\"\n",
       "gate.toml:2: log.on_store_down: expected \"refuse\" or \"serve-unlogged\""},
  };
  for (const Case& c : cases) {
    Result<GateConfig> r = ParseGateConfig(c.toml, "gate.toml", Env());
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << "got: " << r.status().message() << "\nwanted: " << c.expect;
  }
}

// [log] durability: "normal" by default (survives a process crash), "full"
// fsyncs every group commit.
TEST(GateConfig, LogDurability) {
  EXPECT_EQ(DefaultGateConfig().log.durability, LogDurability::kNormal);
  Result<GateConfig> full = ParseGateConfig("[log]\ndurability = \"full\"\n", "gate.toml", Env());
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(full->log.durability, LogDurability::kFull);
  Result<GateConfig> normal =
      ParseGateConfig("[log]\ndurability = \"normal\"\n", "gate.toml", Env());
  ASSERT_TRUE(normal.ok()) << normal.status().message();
  EXPECT_EQ(normal->log.durability, LogDurability::kNormal);
  EXPECT_EQ(ParseLogDurability("full").value(), LogDurability::kFull);
  Result<LogDurability> bad = ParseLogDurability("fsync");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'fsync'"), std::string::npos) << bad.status().message();
  EXPECT_STREQ(LogDurabilityName(LogDurability::kFull), "full");
}

// [log] for a fleet (issue 19): where the log lives, this replica's name and
// what to do while the store is down (refuse unless told).
TEST(GateConfig, LogLocationReplicaAndStoreDownPolicy) {
  EXPECT_FALSE(DefaultGateConfig().log.serve_unlogged);
  Result<GateConfig> c = ParseGateConfig(
      "[log]\nlocation = \"postgresql://gate@db/audit\"\nreplica = \"gate-1\"\non_store_down = "
      "\"serve-unlogged\"\nbodies_ahead = true\n",
      "gate.toml", Env());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->log.bodies_ahead);
  EXPECT_FALSE(DefaultGateConfig().log.bodies_ahead);
  EXPECT_EQ(c->log.location, "postgresql://gate@db/audit");
  EXPECT_EQ(c->log.replica, "gate-1");
  EXPECT_TRUE(c->log.serve_unlogged);
  Result<GateConfig> refuse =
      ParseGateConfig("[log]\non_store_down = \"refuse\"\n", "gate.toml", Env());
  ASSERT_TRUE(refuse.ok());
  EXPECT_FALSE(refuse->log.serve_unlogged);
}

TEST(GateConfig, UpstreamUrls) {
  Result<UpstreamUrl> u = ParseUpstreamUrl("https://Example.COM:8443/openai/v1/");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/openai/v1");
  EXPECT_EQ(u->text, "https://example.com:8443/openai/v1");
  Result<UpstreamUrl> v6 = ParseUpstreamUrl("http://[::1]:11434");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->text, "http://[::1]:11434");
  for (const char* bad :
       {"api.openai.com", "https://", "https://h:0", "https://h:99999", "https://h:x",
        "https://u@h", "https://h/a?b", "https://h /", "http://[::1"}) {
    EXPECT_FALSE(ParseUpstreamUrl(bad).ok()) << bad;
  }
}

TEST(GateConfig, UpstreamFlag) {
  GateConfig c = DefaultGateConfig();
  ASSERT_TRUE(ApplyUpstreamFlag(&c, "anthropic=http://127.0.0.1:9999").ok());
  EXPECT_EQ(FindUpstream(c, "anthropic")->url.text, "http://127.0.0.1:9999");
  ASSERT_TRUE(ApplyUpstreamFlag(&c, "vllm=http://10.0.0.5:8000").ok());
  ASSERT_NE(FindUpstream(c, "vllm"), nullptr);
  EXPECT_EQ(FindUpstream(c, "vllm")->protocol, net::Provider::kOpenAi);
  EXPECT_FALSE(ApplyUpstreamFlag(&c, "anthropic").ok());
  EXPECT_FALSE(ApplyUpstreamFlag(&c, "v1=http://x").ok());
  EXPECT_FALSE(ApplyUpstreamFlag(&c, "x=nope").ok());
}

TEST(GateConfig, Globs) {
  EXPECT_TRUE(GlobMatch("claude-*", "claude-sonnet-4-5"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("gpt-?o", "gpt-4o"));
  EXPECT_FALSE(GlobMatch("gpt-?o", "gpt-4o-mini"));
  EXPECT_TRUE(GlobMatch("*mini*", "gpt-4o-mini-2024"));
  EXPECT_FALSE(GlobMatch("claude-*", "gpt-4o"));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace glassbox::gate
