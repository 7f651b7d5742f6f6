// `glassbox gate`: flag parsing and output only; the work is in src/gate/.
// Flags → GateConfig (gate.toml first, flags over it) → Gateway::Start, then
// wait for SIGINT/SIGTERM.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "gate/config.h"
#include "gate/gateway.h"
#include "net/tls.h"

namespace glassbox::cli {
namespace {

std::optional<std::string> GetEnv(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// $XDG_DATA_HOME/glassbox/audit.db, else ~/.local/share/glassbox/audit.db.
std::string DefaultLogPath() {
  std::string base;
  if (auto xdg = GetEnv("XDG_DATA_HOME"); xdg && !xdg->empty()) {
    base = *xdg;
  } else if (auto home = GetEnv("HOME"); home && !home->empty()) {
    base = *home + "/.local/share";
  } else {
    base = ".";
  }
  return base + "/glassbox/audit.db";
}

std::string ReadFileOr(const std::string& path, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = fmt::format("cannot read '{}': {}", path, std::strerror(errno));
    return "";
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace

const char* GateHelpText() {
  return R"(glassbox gate — a gateway between coding agents and LLM APIs

Agents send their API requests to the gate; the gate redacts secrets and
strips hidden characters before anything leaves, refuses what policy forbids
(private keys, models not on the allow-list, spent budgets) in the provider's
own error format, forwards the rest (streams pass through as they arrive),
cleans what comes back, and records every exchange in a hash-chained audit
log before the agent sees the end of the response.

usage: glassbox gate [--listen HOST:PORT] [--upstream NAME=URL]... [--log PATH] [--log-durability D]
                     [--route GLOB=UPSTREAM[:MODEL]]... [--default-route UPSTREAM[:MODEL]]
                     [--count-tokens] [--config gate.toml] [--tls-cert FILE --tls-key FILE]

  --listen HOST:PORT     where agents connect (default 127.0.0.1:8787; port 0 picks one)
  --upstream NAME=URL    where NAME's requests go: anthropic, openai, gemini, or a new
                         name for an OpenAI-compatible server (vLLM, Ollama, llama.cpp);
                         PROTOCOL+URL names its protocol: openai-chat+http://127.0.0.1:8000/v1
                         is a server that speaks only Chat Completions (other APIs are
                         translated to it)
  --route GLOB=UPSTREAM[:MODEL]  requests for models matching GLOB go to UPSTREAM, asking
                         it for MODEL (claude-sonnet-*=local:qwen3-coder-480b); tried in order
  --default-route UPSTREAM[:MODEL]  where requests no route matches go
  --count-tokens         answer count_tokens for routes whose upstream cannot count them
                         with a local estimate (labelled as one)
  --log PATH             the audit log (default $XDG_DATA_HOME/glassbox/audit.db,
                         else ~/.local/share/glassbox/audit.db)
  --log-durability D     normal (default: a crash of the gate loses no finished exchange)
                         or full (also an OS crash or power loss; one fsync per commit)
  --config FILE          gate.toml: users and budgets, allowed models, header rules,
                         prices, retention, policy switches (docs/gate.md)
  --tls-cert/--tls-key   serve HTTPS on the listener with this PEM certificate and key
  --upstream-ca FILE     trust these PEM CA certificates for https upstreams instead
                         of the system trust store (self-hosted servers)
  --threads N            I/O threads (default 2)

Examples:
  glassbox gate
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 claude
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 codex
  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8787 gemini
  glassbox gate --upstream local=http://10.0.0.5:8000 --config gate.toml
  glassbox gate --upstream local=openai-chat+http://127.0.0.1:8000/v1 --default-route local:qwen3-coder --count-tokens
  glassbox log verify --log ~/.local/share/glassbox/audit.db

Health: GET /_glassbox/health   Metrics (Prometheus): GET /_glassbox/metrics
Stops on Ctrl-C or SIGTERM. Exit codes: 0 after a clean stop, 2 on errors.
)";
}

int RunGate(int argc, char** argv) {
  std::string listen, log_path, log_durability, config_path, tls_cert, tls_key, upstream_ca;
  std::vector<std::string> upstreams, routes;
  std::string default_route;
  bool count_tokens = false;
  int threads = 2;
  CLI::App app{"gateway between agents and LLM APIs", "glassbox gate"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("--listen", listen);
  app.add_option("--upstream", upstreams)->allow_extra_args(false);
  app.add_option("--route", routes)->allow_extra_args(false);
  app.add_option("--default-route", default_route);
  app.add_flag("--count-tokens", count_tokens);
  app.add_option("--log", log_path);
  app.add_option("--log-durability", log_durability);
  app.add_option("--config", config_path);
  app.add_option("--tls-cert", tls_cert);
  app.add_option("--tls-key", tls_key);
  app.add_option("--upstream-ca", upstream_ca);
  app.add_option("--threads", threads)->check(CLI::Range(1, 64));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return RunHelp("gate");
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("gate: {}; see 'glassbox help gate'", e.what()));
  }
  if (tls_cert.empty() != tls_key.empty()) return Fail("gate: --tls-cert and --tls-key go together");

  gate::GateConfig config;
  if (!config_path.empty()) {
    auto loaded = gate::LoadGateConfig(config_path, GetEnv);
    if (!loaded.ok()) return Fail("gate: " + loaded.status().message());
    config = std::move(loaded.value());
  } else {
    config = gate::DefaultGateConfig();
  }
  if (!listen.empty()) config.listen = listen;
  for (const std::string& spec : upstreams) {
    Status st = gate::ApplyUpstreamFlag(&config, spec);
    if (!st.ok()) return Fail("gate: --upstream " + spec + ": " + st.message());
  }
  for (const std::string& spec : routes) {
    Status st = gate::ApplyRouteFlag(&config, spec, /*is_default=*/false);
    if (!st.ok()) return Fail("gate: " + st.message());
  }
  if (!default_route.empty()) {
    Status st = gate::ApplyRouteFlag(&config, default_route, /*is_default=*/true);
    if (!st.ok()) return Fail("gate: " + st.message());
  }
  if (count_tokens) config.count_tokens_estimate = true;
  if (Status st = gate::CheckRoutes(config); !st.ok()) return Fail("gate: " + st.message());
  if (!log_durability.empty()) {
    auto durability = gate::ParseLogDurability(log_durability);
    if (!durability.ok()) return Fail("gate: --log-durability: " + durability.status().message());
    config.log.durability = *durability;
  }

  gate::GatewayOptions options;
  options.config = std::move(config);
  options.io_threads = threads;
  options.log_path = log_path.empty() ? DefaultLogPath() : log_path;
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(options.log_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Fail(fmt::format("gate: cannot create the folder of the log '{}': {}", options.log_path, ec.message()));
  if (!tls_cert.empty()) {
    auto tls = net::TlsContext::ServerFromFiles(tls_cert, tls_key);
    if (!tls.ok()) return Fail("gate: " + tls.status().message());
    options.listener_tls = std::move(tls.value());
  }
  if (!upstream_ca.empty()) {
    std::string error;
    std::string pem = ReadFileOr(upstream_ca, &error);
    if (!error.empty()) return Fail("gate: --upstream-ca: " + error);
    auto tls = net::TlsContext::Client(pem);
    if (!tls.ok()) return Fail("gate: --upstream-ca '" + upstream_ca + "': " + tls.status().message());
    options.upstream_tls = std::move(tls.value());
  }

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string scheme = options.listener_tls ? "https" : "http";
  std::string listen_host = options.config.listen.substr(0, options.config.listen.rfind(':'));
  std::string log_shown = options.log_path;
  auto gateway = gate::Gateway::Start(std::move(options));
  if (!gateway.ok()) return Fail("gate: " + gateway.status().message());
  std::cout << fmt::format("glassbox gate listening on {}://{}:{} (log: {})\n", scheme, listen_host,
                           (*gateway)->port(), log_shown)
            << std::flush;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*gateway)->Stop();
  std::cerr << "glassbox gate: stopped\n";
  return kExitClean;
}

}  // namespace glassbox::cli
