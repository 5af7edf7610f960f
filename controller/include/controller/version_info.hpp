#pragma once

#include <string>

namespace hostgw::controller {

// "kube-hostgw 0.1.0 (linux/amd64, Boost 1.81, OpenSSL 3.0.x)" for --version.
std::string version_line();

}  // namespace hostgw::controller
