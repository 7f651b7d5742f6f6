// Test-only: the fake LLM upstream for the gate's end-to-end tests and
// benchmark. Hosts net::FakeProvider on 127.0.0.1 (port 0 by default) with
// net::HttpServer, plays each ResponsePlan (chunk delays, reset mid-stream,
// truncated chunks, 500s), and records what it received as JSON lines so
// tests can check what left the gate.
//
// usage: gate_fake_upstream [--port N] [--record FILE] [--threads N]
//                           [--strict-chat] [--script-tool NAME=ARGUMENTS_JSON] [--think-ms N]
// --strict-chat plays a server that speaks only OpenAI Chat Completions and
// validates requests as api.openai.com does (unknown members are 400s; see
// gate/strict_chat.h); other API paths are 404s.
// --script-tool makes the model call tool NAME once with ARGUMENTS_JSON
// when a request offers it, then answer with what the tool returned.
// --think-ms N answers each request (its head included) N ms after it
// arrived, as a model thinks before its first token: the benchmark then sees
// what a gate does while the upstream works as a real one would.
// Prints "port N" on stdout once listening; stops on SIGTERM/SIGINT.
// Record lines: {"method":..,"target":..,"headers":{..},"body":..}
// and {"event":"client_gone","target":..} when a client disconnects mid-answer.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "core/json_writer.h"
#include "gate/strict_chat.h"
#include "net/event_loop.h"
#include "net/fake_provider.h"
#include "net/http_server.h"

namespace {

using namespace glassbox;

class Recorder {
 public:
  explicit Recorder(const std::string& path) {
    if (!path.empty()) file_ = std::fopen(path.c_str(), "ab");
  }
  ~Recorder() {
    if (file_) std::fclose(file_);
  }
  bool ok(const std::string& path) const { return path.empty() || file_ != nullptr; }
  void Line(const std::string& line) {
    if (!file_) return;
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  std::FILE* file_ = nullptr;
  std::mutex mu_;
};

// Plays `plan` from chunk `i` on, honouring delays and faults.
void PlayStream(net::EventLoop& loop, std::shared_ptr<net::ResponseWriter> w,
                std::shared_ptr<net::ResponsePlan> plan, size_t i) {
  if (w->client_gone()) return;
  if (plan->fault == net::FakeFault::kResetAfterChunk && i >= plan->reset_after_chunk)
    return w->Abort();
  if (i >= plan->chunks.size()) {
    if (plan->fault == net::FakeFault::kTruncate) return w->Abort();
    return w->Finish();
  }
  auto send = [&loop, w, plan, i] {
    w->Write(plan->chunks[i].bytes);
    PlayStream(loop, w, plan, i + 1);
  };
  if (plan->chunks[i].delay_ms > 0) {
    loop.PostAfter(std::chrono::milliseconds(plan->chunks[i].delay_ms), send);
  } else {
    send();
  }
}

// The command line (see the top of the file).
struct Flags {
  int port = 0, threads = 1, think_ms = 0;
  std::string record;
  bool strict_chat = false;
  std::optional<gate::testing::ScriptedTool> script;
};

// Parses the flags; false (after saying why) on a bad one.
bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--strict-chat") {
      f->strict_chat = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "gate_fake_upstream: " << a << " needs a value\n";
      return false;
    }
    std::string value = argv[++i];
    if (a == "--port")
      f->port = std::atoi(value.c_str());
    else if (a == "--record")
      f->record = value;
    else if (a == "--threads")
      f->threads = std::atoi(value.c_str());
    else if (a == "--think-ms")
      f->think_ms = std::atoi(value.c_str());
    else if (a == "--script-tool" && value.find('=') != std::string::npos) {
      f->script = gate::testing::ScriptedTool{value.substr(0, value.find('=')),
                                              value.substr(value.find('=') + 1)};
    } else {
      std::cerr << "gate_fake_upstream: unknown flag " << a << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  const int port = flags.port, threads = flags.threads, think_ms = flags.think_ms;
  const std::string record = flags.record;
  const bool strict_chat = flags.strict_chat;
  const std::optional<gate::testing::ScriptedTool> script = flags.script;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Recorder recorder(record);
  if (!recorder.ok(record)) {
    std::cerr << "gate_fake_upstream: cannot open " << record << "\n";
    return 2;
  }
  net::FakeProvider provider;
  net::EventLoop loop(threads);
  net::ServerOptions options;
  options.port = static_cast<uint16_t>(port);
  auto server = net::HttpServer::Start(
      loop, options, [&](net::HttpRequest req, std::shared_ptr<net::ResponseWriter> w) {
        std::vector<std::pair<std::string, std::string>> headers;
        for (const auto& f : req.headers.fields()) headers.emplace_back(f.name, f.value);
        std::string target = req.path + (req.query.empty() ? "" : "?" + req.query);
        {
          std::ostringstream line;
          JsonWriter j(line);
          j.BeginObject().Field("method", req.method).Field("target", target);
          j.Key("headers").BeginObject();
          for (const auto& [name, value] : headers) j.Field(name, value);
          j.EndObject().Field("body", req.body).EndObject();
          recorder.Line(line.str());
        }
        w->OnClientGone([&recorder, target] {
          std::ostringstream line;
          JsonWriter j(line);
          j.BeginObject().Field("event", "client_gone").Field("target", target).EndObject();
          recorder.Line(line.str());
        });
        if (strict_chat) {
          auto error = [&](int status, const std::string& message) {
            std::ostringstream body;
            JsonWriter j(body);
            j.BeginObject()
                .Key("error")
                .BeginObject()
                .Field("message", message)
                .Field("type", "invalid_request_error");
            j.Key("param").Null().Key("code").Null().EndObject().EndObject();
            net::HttpResponse r;
            r.status = status;
            r.headers.Add("Content-Type", "application/json");
            r.body = body.str();
            recorder.Line("{\"event\":\"rejected\",\"reason\":" + [&] {
              std::ostringstream q;
              JsonWriter(q).String(message);
              return q.str();
            }() + "}");
            w->Respond(std::move(r));
          };
          if (req.method != "POST" || req.path != "/v1/chat/completions") {
            return error(404, "Invalid URL (" + req.method + " " + req.path +
                                  "): this server speaks only Chat Completions");
          }
          if (auto invalid = gate::testing::ValidateChatRequest(req.body))
            return error(400, *invalid);
        }
        if (script && req.path == "/v1/chat/completions") {
          if (auto reply = gate::testing::ScriptedToolReply(req.body, *script)) {
            auto plan = std::make_shared<net::ResponsePlan>();
            plan->streaming = reply->stream;
            plan->headers = {
                {"Content-Type", reply->stream ? "text/event-stream" : "application/json"}};
            for (std::string& c : reply->chunks)
              plan->chunks.push_back(net::FakeChunk{std::move(c), 0});
            net::Headers out;
            for (const auto& [name, value] : plan->headers) out.Add(name, value);
            if (plan->streaming) {
              w->StartStream(200, out);
              return PlayStream(loop, w, plan, 0);
            }
            net::HttpResponse r;
            r.headers = std::move(out);
            r.body = plan->Body();
            return w->Respond(std::move(r));
          }
        }
        auto plan = std::make_shared<net::ResponsePlan>(
            provider.Plan(req.method, target, headers, req.body));
        auto answer = [&loop, w, plan] {
          net::Headers out;
          for (const auto& [name, value] : plan->headers) out.Add(name, value);
          if (plan->streaming || plan->fault != net::FakeFault::kNone) {
            w->StartStream(plan->status, out);
            return PlayStream(loop, w, plan, 0);
          }
          net::HttpResponse r;
          r.status = plan->status;
          r.headers = std::move(out);
          r.body = plan->Body();
          w->Respond(std::move(r));
        };
        if (think_ms > 0) return loop.PostAfter(std::chrono::milliseconds(think_ms), answer);
        answer();
      });
  if (!server.ok()) {
    std::cerr << "gate_fake_upstream: " << server.status().message() << "\n";
    return 2;
  }
  std::cout << "port " << (*server)->port() << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->StopAccepting();
  loop.Stop();
  return 0;
}
