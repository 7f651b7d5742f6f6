#include "gate/libpq.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace glassbox::gate {
namespace {

LibPq g_libpq;

Status Load() {
  // The soname Debian's libpq5 installs; RTLD_LOCAL keeps its symbols (and the
  // OpenSSL it brings) from interposing on anything else in the process.
  void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::Error(
        std::string("PostgreSQL log: cannot load libpq.so.5 (Debian package libpq5): ") +
        (why != nullptr ? why : "unknown error"));
  }
  LibPq api;
  std::string missing;
#define GLASSBOX_LIBPQ_RESOLVE(name)                                          \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, "PQ" #name)); \
  if (api.name == nullptr) missing += std::string(missing.empty() ? "" : ", ") + "PQ" #name;
  GLASSBOX_LIBPQ_FUNCTIONS(GLASSBOX_LIBPQ_RESOLVE)
#undef GLASSBOX_LIBPQ_RESOLVE
  if (!missing.empty()) {
    dlclose(handle);
    return Status::Error("PostgreSQL log: libpq.so.5 lacks " + missing +
                         " (libpq 14 or newer is needed)");
  }
  g_libpq = api;  // the handle stays open for the life of the process
  return Status::Ok();
}

}  // namespace

Status LoadLibPq() {
  static std::once_flag once;
  static Status result = Status::Ok();
  std::call_once(once, [] { result = Load(); });
  return result;
}

const LibPq& Pq() { return g_libpq; }

}  // namespace glassbox::gate
