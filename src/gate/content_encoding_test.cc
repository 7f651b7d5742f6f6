#include "gate/content_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

namespace glassbox::gate {
namespace {

std::string Gzip(std::string_view in, int bits = 15 + 16) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

const std::string kBody = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello hello hello"}]})";

// Issue 17: gzip and zstd request bodies were refused as "not valid UTF-8".
TEST(ContentEncoding, RegressionIssue17_GzipDeflateAndZstdBodiesAreDecoded) {
  for (const auto& [encoding, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"gzip", Gzip(kBody)}, {"x-gzip", Gzip(kBody)}, {"deflate", Gzip(kBody, 15)},
           {"deflate", Gzip(kBody, -15)}, {"zstd", Zstd(kBody)}, {"ZSTD", Zstd(kBody)},
           {"gzip, zstd", Zstd(Gzip(kBody))}, {"identity", kBody}}) {
    DecodedBody d = DecodeContentEncoding(encoding, bytes, 1 << 20);
    EXPECT_EQ(d.outcome, DecodedBody::Outcome::kDecoded) << encoding << ": " << d.reason;
    EXPECT_EQ(d.body, kBody) << encoding;
  }
}

TEST(ContentEncoding, UnknownCorruptAndOversizedBodiesAreRefusedWithTheReason) {
  DecodedBody br = DecodeContentEncoding("br", "xx", 1 << 20);
  EXPECT_EQ(br.outcome, DecodedBody::Outcome::kUnsupported);
  EXPECT_NE(br.reason.find("\"br\""), std::string::npos) << br.reason;
  DecodedBody corrupt = DecodeContentEncoding("gzip", "not gzip at all", 1 << 20);
  EXPECT_EQ(corrupt.outcome, DecodedBody::Outcome::kCorrupt);
  EXPECT_NE(corrupt.reason.find("gzip"), std::string::npos);
  const std::string gz = Gzip(kBody);
  DecodedBody cut = DecodeContentEncoding("gzip", std::string_view(gz).substr(0, gz.size() / 2), 1 << 20);
  EXPECT_EQ(cut.outcome, DecodedBody::Outcome::kCorrupt) << "a body that ends early is not decoded in part";
  DecodedBody zcut = DecodeContentEncoding("zstd", Zstd(kBody).substr(0, 10), 1 << 20);
  EXPECT_EQ(zcut.outcome, DecodedBody::Outcome::kCorrupt);
  // A decompression bomb stops at the limit.
  const std::string zeros(8 << 20, '0');
  for (const auto& [encoding, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"gzip", Gzip(zeros)}, {"zstd", Zstd(zeros)}}) {
    DecodedBody bomb = DecodeContentEncoding(encoding, bytes, 1 << 20);
    EXPECT_EQ(bomb.outcome, DecodedBody::Outcome::kTooLarge) << encoding;
    EXPECT_LT(bytes.size(), 100000u) << "the test compresses well";
  }
}

}  // namespace
}  // namespace glassbox::gate
