// Content-Encoding decoding with zlib, libzstd and libbrotlidec; see
// content_encoding.h.
#include "probe/content_encoding.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <vector>

namespace glassbox::probe {
namespace {

// gzip (window bits 15 + 16), zlib (15), raw deflate (-15).
std::optional<std::string> Inflate(std::string_view in, size_t max_bytes, int window_bits) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK && out.size() <= max_bytes) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || out.size() > max_bytes) return std::nullopt;
  return out;
}

std::optional<std::string> Unzstd(std::string_view in, size_t max_bytes) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return std::nullopt;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::vector<char> buf(ZSTD_DStreamOutSize());
  std::string out;
  size_t rc = 1;
  while (rc != 0) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(rc)) return std::nullopt;
    out.append(buf.data(), output.pos);
    if (out.size() > max_bytes) return std::nullopt;
    if (rc != 0 && input.pos == input.size && output.pos == 0) return std::nullopt;  // cut short
  }
  return out;
}

std::optional<std::string> Unbrotli(std::string_view in, size_t max_bytes) {
  std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) return std::nullopt;
  const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
  size_t avail_in = in.size();
  std::string out;
  uint8_t buf[65536];
  while (true) {
    uint8_t* next_out = buf;
    size_t avail_out = sizeof buf;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(state.get(), &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (r == BROTLI_DECODER_RESULT_SUCCESS) return out;
    if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> DecodeContentEncoding(std::string_view content_encoding, std::string_view body,
                                                 size_t max_bytes) {
  std::vector<std::string> codings;
  for (std::string_view rest = content_encoding; !rest.empty();) {
    const size_t comma = rest.find(',');
    std::string coding(rest.substr(0, comma));
    coding.erase(std::remove_if(coding.begin(), coding.end(), [](unsigned char c) { return std::isspace(c); }),
                 coding.end());
    std::transform(coding.begin(), coding.end(), coding.begin(), [](unsigned char c) { return std::tolower(c); });
    codings.push_back(std::move(coding));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  std::string out(body);
  // Undone from the last applied.
  for (auto it = codings.rbegin(); it != codings.rend(); ++it) {
    std::optional<std::string> step;
    if (it->empty() || *it == "identity") {
      continue;
    } else if (*it == "gzip" || *it == "x-gzip") {
      step = Inflate(out, max_bytes, 15 + 16);
    } else if (*it == "deflate") {
      step = Inflate(out, max_bytes, 15);
      if (!step) step = Inflate(out, max_bytes, -15);
    } else if (*it == "zstd") {
      step = Unzstd(out, max_bytes);
    } else if (*it == "br") {
      step = Unbrotli(out, max_bytes);
    }
    if (!step) return std::nullopt;
    out = std::move(*step);
  }
  return out;
}

}  // namespace glassbox::probe
