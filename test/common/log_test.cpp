#include "common/log.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace hostgw::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_sink([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    set_sink(nullptr);
    set_verbosity(0);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, WritesKlogHeaderMessageAndPairs) {
  KHG_LOG(warning) << "Node skipped" << kv("node", "node-b") << kv("count", 3);
  ASSERT_EQ(lines_.size(), 1u);
  std::regex klog(R"(^W\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ log_test\.cpp:\d+\] "Node skipped" node="node-b" count="3"$)");
  EXPECT_TRUE(std::regex_match(lines_[0], klog)) << lines_[0];
}

TEST_F(LogTest, EscapesQuotesAndControlCharacters) {
  KHG_LOG(error) << "bad \"value\"" << kv("raw", std::string("a\nb\x01"));
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find(R"("bad \"value\"" raw="a\nb\x01")"), std::string::npos) << lines_[0];
}

TEST_F(LogTest, VerboseLinesNeedVerbosity) {
  KHG_VLOG(2) << "hidden";
  EXPECT_TRUE(lines_.empty());
  set_verbosity(2);
  KHG_VLOG(2) << "shown";
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0][0], 'I');
}

}  // namespace
}  // namespace hostgw::log
