#pragma once

// The error style after start-up: an operation that can fail returns
// Result<T>, a T or an Error — never throws. Exceptions are for start-up
// configuration only (a bad flag or kubeconfig, a socket that cannot open).
//
//   Result<ExecCredential> credential = co_await run_exec_plugin(...);
//   if (!credential) log(credential.error().message);
//
// Result is boost::system::result (Boost 1.81) with Error as its error type;
// value() on an error throws std::system_error carrying the message, for the
// rare caller that wants to turn it into a start-up failure.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <system_error>

namespace hostgw::common {

// What went wrong: a code to branch on and a message that says what and
// where ("exec plugin of user \"admin\": command \"aws\" exited with status 1").
struct Error {
  std::error_code code;
  std::string message;
};

template <typename T = void>
using Result = boost::system::result<T, Error>;

// Found by boost::system::result::value() through argument-dependent lookup.
[[noreturn]] inline void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::system_error(error.code, error.message);
}

}  // namespace hostgw::common
