#pragma once

// A directory of its own for one test: created under the system's temp folder,
// removed with everything in it when the TempDir goes. Throws if it cannot be made.

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
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

  const std::string& path() const { return path_; }
  // A path inside the directory.
  std::filesystem::path operator/(std::string_view name) const { return std::filesystem::path(path_) / name; }

  // Writes `text` to `name` (parent folders created) as a new file renamed over
  // the old one, like a kubelet token rotation; returns its path.
  std::string write(const std::string& name, const std::string& text, bool executable = false) const {
    std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    std::string temp = file.string() + ".tmp";
    std::ofstream(temp, std::ios::binary | std::ios::trunc) << text;
    if (executable) std::filesystem::permissions(temp, std::filesystem::perms::owner_all);
    std::filesystem::rename(temp, file);
    return file.string();
  }

 private:
  std::string path_;
};

}  // namespace hostgw::test_support
