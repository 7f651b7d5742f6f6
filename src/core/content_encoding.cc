// Content-Encoding decoding with zlib, libzstd and libbrotlidec; see
// content_encoding.h.
#include "core/content_encoding.h"

#include <brotli/decode.h>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace glassbox {
namespace {

using Outcome = DecodedContent::Outcome;

std::string TrimLower(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  std::string out(s.substr(b, e - b + 1));
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

DecodedContent TooLarge(std::string_view coding, size_t max_bytes) {
  return {Outcome::kTooLarge, "",
          fmt::format("the {} body decodes to more than the limit of {} bytes", coding, max_bytes)};
}

DecodedContent Corrupt(std::string_view coding, std::string_view detail) {
  return {Outcome::kCorrupt, "",
          fmt::format("the request body is not valid {} data ({})", coding, detail)};
}

// gzip (window bits 15 + 16) or zlib deflate (15; raw deflate as a fallback,
// which some clients send for "deflate").
DecodedContent Inflate(std::string_view in, size_t max_bytes, bool gzip) {
  const std::string_view coding = gzip ? "gzip" : "deflate";
  DecodedContent d;
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
        return TooLarge(coding, max_bytes);
      }
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    }
    const bool complete = rc == Z_STREAM_END;
    inflateEnd(&z);
    if (complete) return d;
    if (gzip || attempt == 1)
      return Corrupt(coding, rc == Z_BUF_ERROR ? "it ends early" : "corrupt");
  }
  return d;
}

DecodedContent Unzstd(std::string_view in, size_t max_bytes) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return {Outcome::kCorrupt, "", "zstd could not start"};
  DecodedContent d;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::vector<char> buf(ZSTD_DStreamOutSize());
  size_t rc = 1;
  // Until every frame is read: a zstd body may hold several.
  while (input.pos < input.size || rc != 0) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(rc)) return Corrupt("zstd", ZSTD_getErrorName(rc));
    d.body.append(buf.data(), output.pos);
    if (d.body.size() > max_bytes) return TooLarge("zstd", max_bytes);
    if (input.pos == input.size && output.pos == 0 && rc != 0)
      return Corrupt("zstd", "it ends early");
  }
  return d;
}

DecodedContent Unbrotli(std::string_view in, size_t max_bytes) {
  std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) return {Outcome::kCorrupt, "", "brotli could not start"};
  DecodedContent d;
  const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
  size_t avail_in = in.size();
  uint8_t buf[65536];
  while (true) {
    uint8_t* next_out = buf;
    size_t avail_out = sizeof buf;
    const BrotliDecoderResult r = BrotliDecoderDecompressStream(state.get(), &avail_in, &next_in,
                                                                &avail_out, &next_out, nullptr);
    d.body.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    if (d.body.size() > max_bytes) return TooLarge("br", max_bytes);
    if (r == BROTLI_DECODER_RESULT_SUCCESS) return d;
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return Corrupt("br", "it ends early");
    if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
      return Corrupt("br", BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state.get())));
    }
  }
}

std::string CodingList(unsigned codings) {
  std::string out;
  for (const auto& [bit, name] :
       {std::pair{kCodingGzip, "gzip"}, std::pair{kCodingDeflate, "deflate"},
        std::pair{kCodingZstd, "zstd"}, std::pair{kCodingBrotli, "br"}}) {
    if ((codings & bit) == 0) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

DecodedContent DecodeContentEncoding(std::string_view content_encoding, std::string_view body,
                                     size_t max_bytes, unsigned codings) {
  std::vector<std::string> applied;
  for (std::string_view rest = content_encoding; !rest.empty();) {
    const size_t comma = rest.find(',');
    applied.push_back(TrimLower(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  DecodedContent d;
  d.body = std::string(body);
  // Undone from the last applied.
  for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
    const std::string& coding = *it;
    if (coding.empty() || coding == "identity") continue;
    DecodedContent step;
    if ((coding == "gzip" || coding == "x-gzip") && (codings & kCodingGzip) != 0) {
      step = Inflate(d.body, max_bytes, true);
    } else if (coding == "deflate" && (codings & kCodingDeflate) != 0) {
      step = Inflate(d.body, max_bytes, false);
    } else if (coding == "zstd" && (codings & kCodingZstd) != 0) {
      step = Unzstd(d.body, max_bytes);
    } else if (coding == "br" && (codings & kCodingBrotli) != 0) {
      step = Unbrotli(d.body, max_bytes);
    } else {
      return {Outcome::kUnsupported, "",
              fmt::format(
                  "the request body's Content-Encoding \"{}\" is not one that can be decoded ({})",
                  coding, CodingList(codings))};
    }
    if (step.outcome != Outcome::kDecoded) return step;
    d.body = std::move(step.body);
  }
  return d;
}

}  // namespace glassbox
