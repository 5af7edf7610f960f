#pragma once

// TempDir: a fresh directory under the system's temp dir, removed with
// everything in it when the TempDir goes. Throws if it cannot be made.

#include <stdlib.h>

#include <cerrno>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace hostgw::test_support {

class TempDir {
 public:
  // `prefix` names the directory: /tmp/<prefix>-XXXXXX.
  explicit TempDir(std::string_view prefix = "khg-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;  // a test that failed half-way must not throw from here
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // A path inside the directory.
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace hostgw::test_support
