#include "core/content_encoding.h"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <utility>
#include <vector>

namespace glassbox {
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

std::string Brotli(std::string_view in) {
  size_t n = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(n, '\0');
  EXPECT_EQ(
      BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                            in.size(), reinterpret_cast<const uint8_t*>(in.data()), &n,
                            reinterpret_cast<uint8_t*>(out.data())),
      BROTLI_TRUE);
  out.resize(n);
  return out;
}

// The codings the gate reads (docs/gate.md: br is refused with 415).
constexpr unsigned kGateCodings = kCodingGzip | kCodingDeflate | kCodingZstd;

const std::string kBody =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello hello hello"}]})";

// Issue 17: gzip and zstd request bodies were refused as "not valid UTF-8".
TEST(ContentEncoding, RegressionIssue17_GzipDeflateAndZstdBodiesAreDecoded) {
  for (const auto& [encoding, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"gzip", Gzip(kBody)},
                                                        {"x-gzip", Gzip(kBody)},
                                                        {"deflate", Gzip(kBody, 15)},
                                                        {"deflate", Gzip(kBody, -15)},
                                                        {"zstd", Zstd(kBody)},
                                                        {"ZSTD", Zstd(kBody)},
                                                        {"gzip, zstd", Zstd(Gzip(kBody))},
                                                        {"identity", kBody}}) {
    DecodedContent d = DecodeContentEncoding(encoding, bytes, 1 << 20);
    EXPECT_EQ(d.outcome, DecodedContent::Outcome::kDecoded) << encoding << ": " << d.reason;
    EXPECT_EQ(d.body, kBody) << encoding;
  }
}

TEST(ContentEncoding, UnknownCorruptAndOversizedBodiesAreRefusedWithTheReason) {
  DecodedContent br = DecodeContentEncoding("br", "xx", 1 << 20, kGateCodings);
  EXPECT_EQ(br.outcome, DecodedContent::Outcome::kUnsupported);
  EXPECT_NE(br.reason.find("\"br\""), std::string::npos) << br.reason;
  DecodedContent corrupt = DecodeContentEncoding("gzip", "not gzip at all", 1 << 20);
  EXPECT_EQ(corrupt.outcome, DecodedContent::Outcome::kCorrupt);
  EXPECT_NE(corrupt.reason.find("gzip"), std::string::npos);
  const std::string gz = Gzip(kBody);
  DecodedContent cut =
      DecodeContentEncoding("gzip", std::string_view(gz).substr(0, gz.size() / 2), 1 << 20);
  EXPECT_EQ(cut.outcome, DecodedContent::Outcome::kCorrupt)
      << "a body that ends early is not decoded in part";
  DecodedContent zcut = DecodeContentEncoding("zstd", Zstd(kBody).substr(0, 10), 1 << 20);
  EXPECT_EQ(zcut.outcome, DecodedContent::Outcome::kCorrupt);
  // A decompression bomb stops at the limit.
  const std::string zeros(8 << 20, '0');
  for (const auto& [encoding, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"gzip", Gzip(zeros)}, {"zstd", Zstd(zeros)}}) {
    DecodedContent bomb = DecodeContentEncoding(encoding, bytes, 1 << 20);
    EXPECT_EQ(bomb.outcome, DecodedContent::Outcome::kTooLarge) << encoding;
    EXPECT_LT(bytes.size(), 100000u) << "the test compresses well";
  }
}

// Probe reads what an agent sent in any coding, br too (it came from
// probe/content_encoding.cc, a second decoder beside the gate's).
TEST(ContentEncoding, BrotliAndStackedCodingsDecodeWhenTheCallerReadsThem) {
  for (const auto& [encoding, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"br", Brotli(kBody)},
                                                        {"BR ", Brotli(kBody)},
                                                        {"br, gzip", Gzip(Brotli(kBody))},
                                                        {"gzip,br", Brotli(Gzip(kBody))},
                                                        {"identity, zstd", Zstd(kBody)}}) {
    DecodedContent d = DecodeContentEncoding(encoding, bytes, 1 << 20);
    EXPECT_EQ(d.outcome, DecodedContent::Outcome::kDecoded) << encoding << ": " << d.reason;
    EXPECT_EQ(d.body, kBody) << encoding;
  }
  const std::string br = Brotli(kBody);
  DecodedContent cut =
      DecodeContentEncoding("br", std::string_view(br).substr(0, br.size() / 2), 1 << 20);
  EXPECT_EQ(cut.outcome, DecodedContent::Outcome::kCorrupt);
  EXPECT_NE(cut.reason.find("br"), std::string::npos) << cut.reason;
  EXPECT_EQ(DecodeContentEncoding("br", "not brotli at all", 1 << 20).outcome,
            DecodedContent::Outcome::kCorrupt);
  const std::string zeros(8 << 20, '0');
  EXPECT_EQ(DecodeContentEncoding("br", Brotli(zeros), 1 << 20).outcome,
            DecodedContent::Outcome::kTooLarge);
}

TEST(ContentEncoding, ACodingOutsideTheCallersSetOrUnknownIsUnsupported) {
  DecodedContent gzip = DecodeContentEncoding("gzip", Gzip(kBody), 1 << 20, kCodingZstd);
  EXPECT_EQ(gzip.outcome, DecodedContent::Outcome::kUnsupported);
  EXPECT_NE(gzip.reason.find("(zstd)"), std::string::npos)
      << "names what the caller reads: " << gzip.reason;
  DecodedContent compress = DecodeContentEncoding("compress", "xx", 1 << 20);
  EXPECT_EQ(compress.outcome, DecodedContent::Outcome::kUnsupported);
  EXPECT_NE(compress.reason.find("\"compress\""), std::string::npos) << compress.reason;
  EXPECT_TRUE(compress.body.empty()) << "nothing decoded in part";
}

// Several zstd frames in one body are one stream (RFC 8878 3.1); the probe's
// copy stopped after the first frame.
TEST(ContentEncoding, ConcatenatedZstdFramesDecodeWhole) {
  DecodedContent d =
      DecodeContentEncoding("zstd", Zstd("first half, ") + Zstd("second half"), 1 << 20);
  ASSERT_EQ(d.outcome, DecodedContent::Outcome::kDecoded) << d.reason;
  EXPECT_EQ(d.body, "first half, second half");
  EXPECT_EQ(DecodeContentEncoding("zstd", Zstd("whole") + "junk", 1 << 20).outcome,
            DecodedContent::Outcome::kCorrupt);
}

}  // namespace
}  // namespace glassbox
