// Latency driver for bench/gate_bench.sh: sends N requests one after another
// over a keep-alive connection (net::HttpClient) and prints the latency
// percentiles of the whole response and of its first body byte (time to
// first token on streams), in milliseconds.
//
// usage: gate_latency URL PATH BODY_FILE N [HEADER:VALUE]...
// prints: p50_ms=.. p99_ms=.. mean_ms=.. ttfb_p50_ms=.. ttfb_p99_ms=.. errors=..
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <vector>

#include "net/event_loop.h"
#include "net/http_client.h"

using namespace glassbox;
using Clock = std::chrono::steady_clock;

namespace {
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: gate_latency URL PATH BODY_FILE N [HEADER:VALUE]...\n";
    return 2;
  }
  net::Url url;
  std::string error;
  if (!net::ParseUrl(argv[1], &url, &error)) {
    std::cerr << error << "\n";
    return 2;
  }
  std::ifstream in(argv[3], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  int n = std::atoi(argv[4]);
  net::Headers headers;
  headers.Add("Content-Type", "application/json");
  for (int i = 5; i < argc; ++i) {
    std::string h = argv[i];
    size_t c = h.find(':');
    if (c != std::string::npos) headers.Add(h.substr(0, c), h.substr(c + 1));
  }
  net::EventLoop loop(1);
  auto client = net::HttpClient::Create(loop);
  if (!client.ok()) return 2;
  std::vector<double> total, first;
  int errors = 0;
  for (int i = 0; i < n + n / 10; ++i) {  // the first tenth warms up
    net::ClientRequest req;
    req.method = "POST";
    req.target = argv[2];
    req.headers = headers;
    req.body = body;
    auto done = std::make_shared<std::promise<bool>>();
    auto t_first = std::make_shared<Clock::time_point>();
    auto got = std::make_shared<bool>(false);
    auto status = std::make_shared<int>(0);
    net::ClientCallbacks cb;
    cb.on_headers = [status](const net::ResponseHead& h) { *status = h.status; };
    cb.on_body = [t_first, got](std::string_view) {
      if (!*got) {
        *got = true;
        *t_first = Clock::now();
      }
    };
    cb.on_complete = [done, status](Status st) { done->set_value(st.ok() && *status == 200); };
    auto start = Clock::now();
    (*client)->Send(url, std::move(req), std::move(cb));
    bool ok = done->get_future().get();
    auto end = Clock::now();
    if (!ok) {
      ++errors;
      continue;
    }
    if (i < n / 10) continue;
    total.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (*got) first.push_back(std::chrono::duration<double, std::milli>(*t_first - start).count());
  }
  double mean = 0;
  for (double t : total) mean += t;
  mean /= total.empty() ? 1 : static_cast<double>(total.size());
  std::printf("p50_ms=%.4f p99_ms=%.4f mean_ms=%.4f ttfb_p50_ms=%.4f ttfb_p99_ms=%.4f errors=%d\n",
              Percentile(total, 0.5), Percentile(total, 0.99), mean, Percentile(first, 0.5),
              Percentile(first, 0.99), errors);
  loop.Stop();
  return errors == 0 ? 0 : 1;
}
