// json_skipper.hpp is internal to k8s-client (src/): the validating skipper
// that node_json.cpp runs over members it never reads.
#include "json_skipper.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hostgw::k8s::detail {
namespace {

// Bytes the skipper consumed from the start of `json`, or -1 when it refused.
// std::string keeps the NUL after the last byte that the skipper relies on.
long skipped(const std::string& json, std::size_t max_depth = 64) {
  const char* end = skip_json_value(json.data(), json.data() + json.size(), max_depth);
  return end == nullptr ? -1 : end - json.data();
}

TEST(JsonSkipperTest, StopsRightAfterEachKindOfValue) {
  EXPECT_EQ(skipped(R"("abc",)"), 5);
  EXPECT_EQ(skipped("true}"), 4);
  EXPECT_EQ(skipped("false]"), 5);
  EXPECT_EQ(skipped("null "), 4);
  EXPECT_EQ(skipped("-12.50,"), 6);
  EXPECT_EQ(skipped("0}"), 1);
  // A value ends where its grammar ends; what follows is the caller's business.
  EXPECT_EQ(skipped("01"), 1);
  EXPECT_EQ(skipped("{}x"), 2);
  EXPECT_EQ(skipped("[]x"), 2);
  EXPECT_EQ(skipped(R"({ "a" : [ 1 , {"b":null} , "c" ] , "d":{} } , "next")"), 43);
  const std::string managed =
      R"([{"manager":"kubelet","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:x":{}}}},"time":"2024-01-01T00:00:00Z"}])";
  EXPECT_EQ(skipped(managed + "}"), static_cast<long>(managed.size()));
}

TEST(JsonSkipperTest, CrossesStringsWithEscapesAndUnicode) {
  const std::string text = R"("a\"b\\c\/d\b\f\n\r\t \u00e9 \uD83D\uDE00 Grüße 😀 a long run of plain text past eight bytes")";
  EXPECT_EQ(skipped(text + ","), static_cast<long>(text.size()));
  EXPECT_EQ(skipped(R"({"k\"ey":"}]\"[{"}  )"), 18);
}

TEST(JsonSkipperTest, FindsTheSpecialByteAtEveryPositionOfTheWideScans) {
  // The string scan takes 16 (SSE2) or 8 bytes at a time: a quote, an escape,
  // a control byte or the NUL at the end must stop it wherever it lies.
  for (std::size_t before = 0; before < 40; ++before) {
    for (std::size_t after = 0; after < 20; ++after) {
      const std::string plain_before(before, 'a'), plain_after(after, 'b');
      const std::string simple = '"' + plain_before + '"';
      EXPECT_EQ(skipped(simple + plain_after), static_cast<long>(simple.size())) << before << " " << after;
      const std::string escaped = '"' + plain_before + "\\\"" + plain_after + '"';
      EXPECT_EQ(skipped(escaped + ","), static_cast<long>(escaped.size())) << before << " " << after;
      EXPECT_EQ(skipped('"' + plain_before + '\x1f' + plain_after + '"'), -1) << before << " " << after;
      EXPECT_EQ(skipped('"' + plain_before + '\x7f' + plain_after + "\xff\""), static_cast<long>(before + after + 4));
      EXPECT_EQ(skipped('"' + plain_before + plain_after), -1) << before << " " << after;  // unterminated
    }
  }
}

TEST(JsonSkipperTest, RefusesMalformedJson) {
  for (const char* bad : {
           R"("unterminated)", "\"control\x01char\"", "\"tab\tinside\"", R"("bad \x escape")", R"("\u12G4")",
           R"("\uDE00 lone low surrogate")", R"("\uD83D high without low")", R"("\uD83D\u0041")",
           "[1,]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1]", "[1}", "[", "{", "{\"a\":",
           "tru", "nul", "falsy", "-", "1.", ".5", "+1", "1e5", "1E-2", "1234567890123456", "/* c */1",
           "'single'", "", "]"}) {
    EXPECT_EQ(skipped(bad), -1) << bad;
  }
}

TEST(JsonSkipperTest, StopsAtAnEmbeddedNulAsAtTheEnd) {
  std::string with_nul = "[\"a\", 1";
  with_nul += '\0';
  with_nul += "]";
  EXPECT_EQ(skipped(with_nul), -1);
  std::string in_string = "\"ab";
  in_string += '\0';
  in_string += "cd\"";
  EXPECT_EQ(skipped(in_string), -1);
}

TEST(JsonSkipperTest, RefusesNestingDeeperThanAllowed) {
  EXPECT_EQ(skipped("[[[1]]]", 3), 7);
  EXPECT_EQ(skipped("[[[1]]]", 2), -1);
  EXPECT_EQ(skipped(R"({"a":{"b":[]}})", 3), 14);
  EXPECT_EQ(skipped(R"({"a":{"b":[]}})", 2), -1);
  EXPECT_EQ(skipped("\"scalars need no depth\"", 0), 23);
  // Never deeper than kMaxSkipDepth, whatever the caller allows.
  const std::string deep = std::string(kMaxSkipDepth + 1, '[') + std::string(kMaxSkipDepth + 1, ']');
  EXPECT_EQ(skipped(deep, 100000), -1);
  const std::string fits = std::string(kMaxSkipDepth, '[') + std::string(kMaxSkipDepth, ']');
  EXPECT_EQ(skipped(fits, 100000), static_cast<long>(fits.size()));
}

}  // namespace
}  // namespace hostgw::k8s::detail
