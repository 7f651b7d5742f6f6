// audit_unpack_bench TARGET...: times Unpack() on each target (best of 3
// runs, wall and CPU time: on a shared machine the CPU time is the steadier
// figure) and prints one JSON line per target with what was found, for
// bench/audit_bench.sh. Not a test: it asserts nothing and is not run by
// ctest.
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "audit/unpack.h"

namespace {

// User plus system CPU time of this process so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TARGET...\n", argv[0]);
    return 2;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    double best = 1e30, best_cpu = 1e30;
    glassbox::audit::Unpacked last;
    bool ok = true;
    for (int run = 0; run < 3 && ok; ++run) {
      auto t0 = std::chrono::steady_clock::now();
      double c0 = CpuSeconds();
      auto r = glassbox::audit::Unpack(argv[i]);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = CpuSeconds() - c0;
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().message().c_str());
        ok = false;
        status = 2;
        break;
      }
      best = std::min(best, s);
      best_cpu = std::min(best_cpu, cpu);
      last = std::move(r).value();
    }
    if (!ok) continue;
    std::uint64_t text = 0;
    for (const auto& m : last.modules) text += m.text.size();
    std::printf(
        "%s\n",
        fmt::format("{{\"target\":\"{}\",\"kind\":\"{}\",\"layout\":\"{}\",\"target_bytes\":{},"
                    "\"modules\":{},\"module_text_bytes\":{},\"strings\":{},\"notes\":{},"
                    "\"seconds\":{:.4f},\"cpu_seconds\":{:.4f}}}",
                    argv[i], last.kind, last.layout, last.target_bytes, last.modules.size(), text,
                    last.strings.size(), last.notes.size(), best, best_cpu)
            .c_str());
  }
  return status;
}
