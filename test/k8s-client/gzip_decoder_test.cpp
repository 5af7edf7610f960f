// The internal streaming gzip decoder (k8s-client/src/gzip_decoder.hpp).

#include "gzip_decoder.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace hostgw::k8s::detail {
namespace {

std::string gzip(const std::string& data) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string sample() {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += R"({"type":"MODIFIED","object":{"metadata":{"name":"node-)" + std::to_string(i) + "\"}}}\n";
  return text;
}

TEST(GzipDecoderTest, DecodesAcrossEveryChunkSize) {
  const std::string text = sample();
  const std::string compressed = gzip(text);
  for (std::size_t chunk : {1ul, 7ul, 100ul, 4096ul, compressed.size()}) {
    GzipDecoder decoder;
    std::string out;
    for (std::size_t i = 0; i < compressed.size(); i += chunk)
      ASSERT_TRUE(decoder.decode(std::string_view(compressed).substr(i, chunk), out, 1 << 30)) << decoder.error();
    EXPECT_EQ(out, text) << "chunk " << chunk;
    EXPECT_TRUE(decoder.finished());
  }
}

TEST(GzipDecoderTest, RefusesCorruptData) {
  std::string compressed = gzip(sample());
  compressed[compressed.size() / 2] ^= 0x55;
  compressed[compressed.size() / 2 + 1] ^= 0x55;
  GzipDecoder decoder;
  std::string out;
  EXPECT_FALSE(decoder.decode(compressed, out, 1 << 30));
  EXPECT_NE(decoder.error().find("gzip body is corrupt"), std::string::npos) << decoder.error();
  GzipDecoder not_gzip;
  EXPECT_FALSE(not_gzip.decode("plain text, not gzip", out, 1 << 30));
  EXPECT_FALSE(not_gzip.too_large());
}

TEST(GzipDecoderTest, StopsAtTheSizeLimit) {
  // A "gzip bomb": 16 MiB of zeros compress to a few KiB.
  const std::string compressed = gzip(std::string(16 << 20, '\0'));
  ASSERT_LT(compressed.size(), 64u * 1024);
  GzipDecoder decoder;
  std::string out;
  EXPECT_FALSE(decoder.decode(compressed, out, 1 << 20));
  EXPECT_EQ(decoder.error(), "gzip body decodes to more than 1048576 bytes");
  EXPECT_TRUE(decoder.too_large());
  EXPECT_LE(out.size(), (1u << 20) + 16384u);
}

}  // namespace
}  // namespace hostgw::k8s::detail
