#include "controller/version_info.hpp"

#include <gtest/gtest.h>

#include "kube-hostgw/version.hpp"

namespace hostgw::controller {
namespace {

TEST(VersionInfoTest, NamesProgramVersionAndPlatform) {
  std::string line = version_line();
  EXPECT_EQ(line.rfind(std::string("kube-hostgw ") + kVersion + " (linux/", 0), 0u) << line;
  EXPECT_NE(line.find("Boost 1.81"), std::string::npos) << line;
}

}  // namespace
}  // namespace hostgw::controller
