#include "common/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hostgw::common {
namespace {

TEST(Base64Test, DecodesStrictly) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(base64_decode("aGVsbA=="), "hell");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("aGVsbG8"));   // length
  EXPECT_FALSE(base64_decode("aGVs*G8="));  // alphabet
  EXPECT_FALSE(base64_decode("aG=sbG8="));  // padding inside
  EXPECT_FALSE(base64_decode("a==="));      // too much padding
  EXPECT_FALSE(base64_decode("a$b"));
}

TEST(Base64Test, EncodesWithPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("h"), "aA==");
  EXPECT_EQ(base64_encode("he"), "aGU=");
  EXPECT_EQ(base64_encode("hel"), "aGVs");
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
}

TEST(Base64Test, RoundTripsEveryByteValueAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t length = 0; length <= bytes.size(); length += 7) {
    const std::string data = bytes.substr(0, length);
    EXPECT_EQ(base64_decode(base64_encode(data)), data) << length;
  }
}

}  // namespace
}  // namespace hostgw::common
