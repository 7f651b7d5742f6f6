// Content-Encoding decoding with zlib and libzstd; see content_encoding.h.
#include "gate/content_encoding.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace glassbox::gate {
namespace {

using Outcome = DecodedBody::Outcome;

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  std::string out(s.substr(b, e - b + 1));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// gzip (window bits 15 + 16) or zlib deflate (15; raw deflate as a fallback,
// which some clients send for "deflate").
DecodedBody Inflate(std::string_view in, size_t max_bytes, bool gzip) {
  DecodedBody d;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int bits = gzip ? 15 + 16 : (attempt == 0 ? 15 : -15);
    z_stream z{};
    if (inflateInit2(&z, bits) != Z_OK) return {Outcome::kCorrupt, "", "zlib could not start"};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    d.body.clear();
    char buf[65536];
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      d.body.append(buf, sizeof buf - z.avail_out);
      if (d.body.size() > max_bytes) {
        inflateEnd(&z);
        return {Outcome::kTooLarge, "",
                fmt::format("the {} body decodes to more than the gate's limit of {} bytes (max_body_bytes)",
                            gzip ? "gzip" : "deflate", max_bytes)};
      }
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    }
    const bool complete = rc == Z_STREAM_END;
    inflateEnd(&z);
    if (complete) return d;
    if (gzip || attempt == 1) {
      return {Outcome::kCorrupt, "",
              fmt::format("the request body is not valid {} data ({})", gzip ? "gzip" : "deflate",
                          rc == Z_BUF_ERROR ? "it ends early" : "corrupt")};
    }
  }
  return d;
}

DecodedBody Unzstd(std::string_view in, size_t max_bytes) {
  DecodedBody d;
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return {Outcome::kCorrupt, "", "zstd could not start"};
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::vector<char> buf(ZSTD_DStreamOutSize());
  size_t rc = 1;
  while (input.pos < input.size || rc != 0) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDCtx(ctx);
      return {Outcome::kCorrupt, "", fmt::format("the request body is not valid zstd data ({})", ZSTD_getErrorName(rc))};
    }
    d.body.append(buf.data(), output.pos);
    if (d.body.size() > max_bytes) {
      ZSTD_freeDCtx(ctx);
      return {Outcome::kTooLarge, "",
              fmt::format("the zstd body decodes to more than the gate's limit of {} bytes (max_body_bytes)",
                          max_bytes)};
    }
    if (input.pos == input.size && output.pos == 0 && rc != 0) {
      ZSTD_freeDCtx(ctx);
      return {Outcome::kCorrupt, "", "the request body is not valid zstd data (it ends early)"};
    }
  }
  ZSTD_freeDCtx(ctx);
  return d;
}

}  // namespace

DecodedBody DecodeContentEncoding(std::string_view content_encoding, std::string_view body, size_t max_bytes) {
  // Codings are listed in the order they were applied (RFC 9110 8.4):
  // undone from the last.
  std::vector<std::string> codings;
  for (std::string_view rest = content_encoding; !rest.empty();) {
    const size_t comma = rest.find(',');
    codings.push_back(Trim(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  DecodedBody d;
  d.body = std::string(body);
  for (auto it = codings.rbegin(); it != codings.rend(); ++it) {
    const std::string& coding = *it;
    if (coding.empty() || coding == "identity") continue;
    DecodedBody step;
    if (coding == "gzip" || coding == "x-gzip") {
      step = Inflate(d.body, max_bytes, true);
    } else if (coding == "deflate") {
      step = Inflate(d.body, max_bytes, false);
    } else if (coding == "zstd") {
      step = Unzstd(d.body, max_bytes);
    } else {
      return {Outcome::kUnsupported, "",
              fmt::format("the request body's Content-Encoding \"{}\" is not one the gate can read (gzip, deflate, "
                          "zstd); send it uncompressed",
                          coding)};
    }
    if (step.outcome != Outcome::kDecoded) return step;
    d.body = std::move(step.body);
  }
  return d;
}

}  // namespace glassbox::gate
