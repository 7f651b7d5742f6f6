// `glassbox gate`: flag parsing and output only; the work is in src/gate/.
// Flags → GateConfig (gate.toml first, flags over it) → Gateway::Start, then
// wait for SIGINT/SIGTERM.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "gate/config.h"
#include "gate/gateway.h"
#include "gate/store.h"
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
                         else ~/.local/share/glassbox/audit.db), or a fleet's shared
                         postgresql://USER@HOST/DB?replica=NAME (docs/gate.md: A fleet)
  --log-durability D     normal (default: a crash of the gate loses no finished exchange)
                         or full (also an OS crash or power loss; one fsync per commit)
  --config FILE          gate.toml: users and budgets, allowed models, header rules,
                         prices, retention, policy switches (docs/gate.md)
  --tls-cert/--tls-key   serve HTTPS on the listener with this PEM certificate and key
  --upstream-ca FILE     trust these PEM CA certificates for https upstreams instead
                         of the system trust store (self-hosted servers)
  --threads N            I/O threads (default 2)
  --checkpoint-key FILE  sign the log's head with this Ed25519 key (PEM; make one with
                         openssl genpkey -algorithm ed25519 -out key.pem) and append the
                         signed checkpoints to --checkpoints FILE (default LOG.checkpoints)
                         every --checkpoint-every N records (1000) or --checkpoint-seconds S
                         (60); check with: glassbox log verify --checkpoints FILE --public-key PUB
  --drain-seconds S      on SIGTERM/Ctrl-C, let exchanges in flight finish for up to S
                         seconds (default 30); those still running are then cut and logged
  --connect-timeout S    to connect to an upstream (default 10)
  --upstream-timeout S   an upstream may stay silent this long, head or body (default 300)
  --client-timeout S     a client must send a whole request within this (default 60)
  --idle-timeout S       idle keep-alive client connections close after this (default 60)

Examples:
  glassbox gate
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 claude
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 codex
  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8787 gemini
  glassbox gate --upstream local=http://10.0.0.5:8000 --config gate.toml
  glassbox gate --upstream local=openai-chat+http://127.0.0.1:8000/v1 --default-route local:qwen3-coder --count-tokens
  glassbox log verify --log ~/.local/share/glassbox/audit.db

Health: GET /_glassbox/health   Metrics (Prometheus): GET /_glassbox/metrics
SIGHUP (or POST /_glassbox/reload from this machine) reloads gate.toml and the flags:
users and keys, budgets, policy, upstreams; connections stay open, and a configuration
that does not load is refused (the old one kept, the reason printed).
Stops on Ctrl-C or SIGTERM after draining. Exit codes: 0 after a clean stop, 2 on errors.
)";
}

namespace {

// The flags that shape the GateConfig, kept to build it again on a reload.
struct ConfigFlags {
  std::string config_path, listen, log_durability;
  std::vector<std::string> upstreams, routes;
  std::string default_route;
  bool count_tokens = false;
};

// gate.toml first, the flags over it. Errors name the file or flag.
Result<gate::GateConfig> BuildConfig(const ConfigFlags& flags) {
  gate::GateConfig config;
  if (!flags.config_path.empty()) {
    auto loaded = gate::LoadGateConfig(flags.config_path, GetEnv);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded.value());
  } else {
    config = gate::DefaultGateConfig();
  }
  if (!flags.listen.empty()) config.listen = flags.listen;
  for (const std::string& spec : flags.upstreams) {
    Status st = gate::ApplyUpstreamFlag(&config, spec);
    if (!st.ok()) return Status::Error("--upstream " + spec + ": " + st.message());
  }
  for (const std::string& spec : flags.routes) {
    Status st = gate::ApplyRouteFlag(&config, spec, /*is_default=*/false);
    if (!st.ok()) return st;
  }
  if (!flags.default_route.empty()) {
    Status st = gate::ApplyRouteFlag(&config, flags.default_route, /*is_default=*/true);
    if (!st.ok()) return st;
  }
  if (flags.count_tokens) config.count_tokens_estimate = true;
  if (Status st = gate::CheckRoutes(config); !st.ok()) return st;
  if (!flags.log_durability.empty()) {
    auto durability = gate::ParseLogDurability(flags.log_durability);
    if (!durability.ok())
      return Status::Error("--log-durability: " + durability.status().message());
    config.log.durability = *durability;
  }
  return config;
}

}  // namespace

int RunGate(int argc, char** argv) {
  std::string log_path, tls_cert, tls_key, upstream_ca, checkpoint_key, checkpoint_file;
  int64_t checkpoint_every = 1000;
  double checkpoint_seconds = 60;
  ConfigFlags flags;
  int threads = 2;
  double drain_seconds = 30, connect_timeout = 10, upstream_timeout = 300, client_timeout = 60,
         idle_timeout = 60;
  CLI::App app{"gateway between agents and LLM APIs", "glassbox gate"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("--listen", flags.listen);
  app.add_option("--upstream", flags.upstreams)->allow_extra_args(false);
  app.add_option("--route", flags.routes)->allow_extra_args(false);
  app.add_option("--default-route", flags.default_route);
  app.add_flag("--count-tokens", flags.count_tokens);
  app.add_option("--log", log_path);
  app.add_option("--log-durability", flags.log_durability);
  app.add_option("--config", flags.config_path);
  app.add_option("--checkpoint-key", checkpoint_key);
  app.add_option("--checkpoints", checkpoint_file);
  app.add_option("--checkpoint-every", checkpoint_every)
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--checkpoint-seconds", checkpoint_seconds)->check(CLI::Range(0.1, 86400.0));
  app.add_option("--drain-seconds", drain_seconds)->check(CLI::Range(0.0, 86400.0));
  app.add_option("--connect-timeout", connect_timeout)->check(CLI::Range(0.1, 3600.0));
  app.add_option("--upstream-timeout", upstream_timeout)->check(CLI::Range(0.1, 86400.0));
  app.add_option("--client-timeout", client_timeout)->check(CLI::Range(0.1, 86400.0));
  app.add_option("--idle-timeout", idle_timeout)->check(CLI::Range(0.1, 86400.0));
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
  if (tls_cert.empty() != tls_key.empty())
    return Fail("gate: --tls-cert and --tls-key go together");

  auto config = BuildConfig(flags);
  if (!config.ok()) return Fail("gate: " + config.status().message());
  auto seconds = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
  gate::GatewayOptions options;
  options.config = std::move(config.value());
  options.upstream_connect_timeout = seconds(connect_timeout);
  options.upstream_read_timeout = seconds(upstream_timeout);
  options.client_read_timeout = seconds(client_timeout);
  options.client_idle_timeout = seconds(idle_timeout);
  options.reload_config = [flags] { return BuildConfig(flags); };
  options.checkpoint_key_path = checkpoint_key;
  options.checkpoint_path = checkpoint_file;
  options.checkpoint_every_records = checkpoint_every;
  options.checkpoint_every = seconds(checkpoint_seconds);
  auto notice_mu = std::make_shared<std::mutex>();
  options.on_notice = [notice_mu](const std::string& message) {
    std::lock_guard lock(*notice_mu);
    std::cerr << "glassbox gate: " << message << "\n" << std::flush;
  };
  options.io_threads = threads;
  // --log, else gate.toml's [log] location, else the default file.
  options.log_path = !log_path.empty()                      ? log_path
                     : !options.config.log.location.empty() ? options.config.log.location
                                                            : DefaultLogPath();
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(options.log_path).parent_path();
  if (!parent.empty() && !gate::IsPostgresUrl(options.log_path))
    std::filesystem::create_directories(parent, ec);
  if (ec)
    return Fail(fmt::format("gate: cannot create the folder of the log '{}': {}", options.log_path,
                            ec.message()));
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
    if (!tls.ok())
      return Fail("gate: --upstream-ca '" + upstream_ca + "': " + tls.status().message());
    options.upstream_tls = std::move(tls.value());
  }

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string scheme = options.listener_tls ? "https" : "http";
  std::string listen_host = options.config.listen.substr(0, options.config.listen.rfind(':'));
  std::string log_shown = gate::RedactStoreLocation(options.log_path);
  auto gateway = gate::Gateway::Start(std::move(options));
  if (!gateway.ok()) return Fail("gate: " + gateway.status().message());
  std::cout << fmt::format("glassbox gate listening on {}://{}:{} (log: {})\n", scheme, listen_host,
                           (*gateway)->port(), log_shown)
            << std::flush;
  for (;;) {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGHUP) {
      // Reload() reports through on_notice: reloaded, or refused and why.
      (void)(*gateway)->Reload();
      continue;
    }
    break;
  }
  std::cerr << fmt::format(
                   "glassbox gate: stopping: no new connections; waiting up to {} s for exchanges "
                   "in flight\n",
                   drain_seconds)
            << std::flush;
  const gate::Gateway::DrainReport drained = (*gateway)->Drain(seconds(drain_seconds));
  std::cerr << fmt::format(
      "glassbox gate: stopped ({} exchanges finished while draining, {} cut at the deadline; all "
      "logged)\n",
      drained.finished, drained.cut);
  return kExitClean;
}

}  // namespace glassbox::cli
