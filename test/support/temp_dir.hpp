#pragma once

// TempDir: a fresh directory under the system's temp dir, removed with
// everything in it when the object goes.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace hostgw::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "khg-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;  // nothing useful to do about a failure here
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to `name` (parent folders created) as a new file renamed
  // over the old one, like a kubelet token rotation; returns its path.
  std::string write(const std::string& name, const std::string& text, bool executable = false) const {
    std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    std::string temp = file.string() + ".tmp";
    std::ofstream(temp, std::ios::binary | std::ios::trunc) << text;
    if (executable) std::filesystem::permissions(temp, std::filesystem::perms::owner_all);
    std::filesystem::rename(temp, file);
    return file.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hostgw::testing
