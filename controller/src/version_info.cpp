#include "controller/version_info.hpp"

#include <boost/version.hpp>

#include "kube-hostgw/version.hpp"

namespace hostgw::controller {

namespace {
constexpr const char* machine_arch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#else
  return "unknown";
#endif
}
}  // namespace

std::string version_line() {
  return std::string("kube-hostgw ") + kVersion + " (linux/" + machine_arch() + ", Boost " +
         std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + ")";
}

}  // namespace hostgw::controller
