// Fuzzes the HTTP server's request parser (net::ParseRequestBytes: the same
// Beast parser, limits and conversion the server uses). The first byte
// picks small header/body limits so the 413/431 paths are reached. Checks:
// no crash; a parsed request used at most the input; every header name is
// a token and every value is free of CR/LF/NUL (nothing that could be
// injected into a forwarded request); a refusal carries 400, 413 or 431.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "net/http.h"
#include "net/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  glassbox::net::ServerOptions options;
  options.max_header_bytes = 64 + (data[0] & 0x0f) * 256;
  options.max_body_bytes = (data[0] >> 4) * 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t consumed = 0;
  int status = 0;
  auto request = glassbox::net::ParseRequestBytes(bytes, options, &consumed, &status);
  if (request.ok()) {
    FUZZ_CHECK(consumed <= bytes.size(), "consumed %zu of %zu", consumed, bytes.size());
    FUZZ_CHECK(status == 0, "status %d on success", status);
    FUZZ_CHECK(request->body.size() <= options.max_body_bytes, "body %zu over the limit",
               request->body.size());
    for (const auto& f : request->headers.fields()) {
      FUZZ_CHECK(glassbox::net::IsValidHeaderName(f.name), "bad header name");
      FUZZ_CHECK(glassbox::net::IsValidHeaderValue(f.value), "CR/LF/NUL in a header value");
    }
    FUZZ_CHECK(request->method != "CONNECT" || request->path.empty(), "CONNECT with a path");
  } else {
    FUZZ_CHECK(status == 400 || status == 413 || status == 431, "status %d", status);
  }
  return 0;
}
